//! A second opinion for a statement-only provider: a payment in our books that the
//! statement lacks is asked of the provider (its status query, the same inquiry the
//! janitor uses) before it is called system-only. A provider that knows the sale gives
//! rows for it, and the run is classified again with them.

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;

use sanalpos_core::{ClientRef, MaskedPan};
use sanalpos_gateway::{Inquiry, InquiryRequest, ReportRow, RowStatus, TransactionKind};
use sanalpos_recon::{istanbul_local, Class, ProviderRow, Reconciliation};
use sanalpos_store::{PaymentRecord, PosRecord};

use crate::PaymentService;

/// Most status queries one run makes; past that, payments stay system-only and the
/// count says so.
const MAX_QUERIES: usize = 200;

/// What the status queries of a run found.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub(crate) struct Inquiries {
    /// Payments asked about.
    pub asked: u32,
    /// The provider knows the sale: it is matched against the provider's own answer.
    pub confirmed: u32,
    /// The provider has no record: system-only stands.
    pub not_found: u32,
    /// The query gave no answer, or more were needed than a run makes.
    pub unanswered: u32,
}

/// Rows for the system-only payments the provider confirms.
pub(crate) async fn ask_provider(
    service: &PaymentService,
    pos: &PosRecord,
    payments: &[PaymentRecord],
    result: &Reconciliation,
    tally: &mut Inquiries,
) -> Vec<ProviderRow> {
    let lonely: Vec<&PaymentRecord> = result
        .items
        .iter()
        .filter(|item| item.class == Class::SystemOnly)
        .flat_map(|item| item.payments().iter())
        .filter_map(|&i| payments.get(i as usize))
        .collect();
    if lonely.is_empty() {
        return Vec::new();
    }
    let Ok(gateway) = crate::payments::gateway_for(service, pos) else {
        tally.unanswered = lonely.len() as u32;
        return Vec::new();
    };
    let mut rows = Vec::new();
    for (n, p) in lonely.into_iter().enumerate() {
        let (Ok(client_ref), Ok(date)) = (
            ClientRef::parse(&p.sale_client_ref),
            p.business_date.parse::<NaiveDate>(),
        ) else {
            tally.unanswered += 1;
            continue;
        };
        if n >= MAX_QUERIES {
            tally.unanswered += 1;
            continue;
        }
        tally.asked += 1;
        let request = InquiryRequest {
            client_ref,
            date,
            amount: p.amount,
        };
        match gateway.inquiry(&request).await {
            Ok(Inquiry::Approved {
                approval,
                reversed,
                cancelled,
                ..
            }) => {
                tally.confirmed += 1;
                rows.extend(
                    rows_of(p, &approval, reversed, cancelled)
                        .iter()
                        .filter_map(|row| ProviderRow::try_from(row).ok()),
                );
            }
            Ok(Inquiry::NotFound | Inquiry::Declined(_)) => tally.not_found += 1,
            Ok(Inquiry::Pending) | Err(_) => tally.unanswered += 1,
        }
    }
    rows
}

/// The provider's view of one sale as report rows: the sale, and its cancel or refunds.
fn rows_of(
    p: &PaymentRecord,
    approval: &sanalpos_gateway::Approval,
    reversed: sanalpos_core::Kurus,
    cancelled: bool,
) -> Vec<ReportRow> {
    let time = DateTime::<Utc>::from_timestamp_millis(p.created_at).map(istanbul_local);
    let sale = ReportRow {
        provider_ref: Some(approval.provider_ref.clone()),
        sale_ref: None,
        auth_code: approval.auth_code.clone(),
        client_ref: Some(p.sale_client_ref.clone()),
        kind: TransactionKind::Sale,
        status: RowStatus::Success,
        amount: Some(p.amount),
        authorized_amount: approval.authorized_amount,
        installments: approval.installments.or(Some(p.installments)),
        masked_pan: MaskedPan::parse(&p.masked_pan),
        time,
        value_date: None,
        commission: None,
        currency: Some(p.currency),
        is_3d: None,
    };
    let reversal = (cancelled || reversed > sanalpos_core::Kurus::ZERO).then(|| {
        let kind = if cancelled {
            TransactionKind::Cancel
        } else if reversed < p.amount {
            TransactionKind::PartialRefund
        } else {
            TransactionKind::Refund
        };
        ReportRow {
            provider_ref: None,
            sale_ref: Some(approval.provider_ref.clone()),
            auth_code: None,
            kind,
            amount: Some(if cancelled { p.amount } else { reversed }),
            authorized_amount: None,
            installments: None,
            ..sale.clone()
        }
    });
    std::iter::once(sale).chain(reversal).collect()
}
