//! The provider's view of one transaction, whatever it came from: the report API
//! ([`ReportRow`]) or a statement file ([`crate::parse_statement`]).

use std::num::NonZeroU32;

use chrono::{NaiveDate, NaiveDateTime};
use compact_str::CompactString;
use serde::{Deserialize, Serialize};

use sanalpos_core::{
    AuthCode, Currency, Kurus, MaskedPan, ProviderRef, ReportRow, RowStatus, TransactionKind,
};

use crate::statement::RowProblem;

/// What a provider row does to money.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum RowKind {
    /// A sale, or the capture of a pre-authorisation (the block itself is no money).
    Sale,
    /// A cancel (void) of a sale on its business day.
    Cancel,
    /// A refund of the whole remaining amount.
    Refund,
    /// A refund of part of a sale.
    PartialRefund,
}

impl RowKind {
    /// Whether the row reverses a sale (cancel or refund) rather than being one.
    pub fn is_reversal(self) -> bool {
        !matches!(self, RowKind::Sale)
    }
}

/// The provider's status of a row.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum RowState {
    /// Done: money moved.
    Success,
    /// Refused: no money moved.
    Error,
    /// Started, never finished (3D abandoned or not completed): no money moved.
    New,
}

/// One transaction as the provider sees it, normalized across report shapes and
/// statement layouts. The matching engine reads nothing else from the provider.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ProviderRow {
    /// The provider's reference of this row.
    #[schema(value_type = Option<String>)]
    pub provider_ref: Option<ProviderRef>,
    /// For a cancel or refund, the sale's reference when the provider gives it apart.
    /// Boxed: most rows are sales without one, and inline it would cost every row of a
    /// million-row statement 16 bytes more.
    #[schema(value_type = Option<String>)]
    pub sale_ref: Option<Box<ProviderRef>>,
    /// The bank's authorization code.
    #[schema(value_type = Option<String>)]
    pub auth_code: Option<AuthCode>,
    /// Our reference (the sale attempt's `clientRefCode`), when the row came from us.
    #[schema(value_type = Option<String>)]
    pub client_ref: Option<CompactString>,
    /// Sale, cancel, refund, partial refund.
    pub kind: RowKind,
    /// Success, error, new.
    pub status: RowState,
    /// The transaction amount (for a cancel or refund: the amount reversed).
    pub amount: Kurus,
    /// What the cardholder was charged (amount plus installment surcharge).
    pub authorized_amount: Option<Kurus>,
    /// Installment count.
    pub installments: Option<u8>,
    /// The masked card number.
    #[schema(value_type = Option<String>)]
    pub masked_pan: Option<MaskedPan>,
    /// When it happened, Europe/Istanbul local time (`2026-11-29T14:05:00`).
    #[schema(value_type = Option<String>)]
    pub time: Option<NaiveDateTime>,
    /// When the money reaches the merchant.
    #[schema(value_type = Option<String>, format = Date)]
    pub value_date: Option<NaiveDate>,
    /// What the provider keeps.
    pub commission: Option<Kurus>,
    /// The currency; `None` when the source does not say (Turkish lira in practice).
    pub currency: Option<Currency>,
    /// The 1-based line of the statement file the row came from; `None` for API rows.
    // `NonZeroU32`: a line number is never zero, so the option costs no tag; the API
    // describes it as the plain integer it is written as.
    #[schema(value_type = Option<u32>)]
    pub line: Option<NonZeroU32>,
}

/// Why a report row cannot be used for reconciliation.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("report row {reference}: {reason}")]
pub struct RowError {
    /// The row's provider reference, or `-` when it has none, so a person can find it.
    pub reference: String,
    /// What is wrong (English, for logs and API clients).
    pub reason: String,
    /// The same as data, for a page to write in its reader's language.
    pub problem: RowProblem,
}

impl TryFrom<&ReportRow> for ProviderRow {
    type Error = RowError;

    /// Takes what the N Kolay client normalized; refuses a row without an amount and a
    /// kind or status the engine cannot reason about, rather than guessing.
    fn try_from(row: &ReportRow) -> Result<ProviderRow, RowError> {
        let fail = |reason: String, problem: RowProblem| RowError {
            reference: row
                .provider_ref
                .as_ref()
                .map_or_else(|| "-".to_owned(), |r| r.as_str().to_owned()),
            reason,
            problem,
        };
        let kind = match &row.kind {
            // A capture is the money of a pre-authorisation, received as a sale's is.
            TransactionKind::Sale | TransactionKind::Capture => RowKind::Sale,
            TransactionKind::PreAuth | TransactionKind::Release => {
                return Err(fail(
                    "a pre-authorisation or its release blocks or frees an amount; it is no money to reconcile".into(),
                    RowProblem::UnknownTransactionType {
                        text: format!("{:?}", row.kind),
                    },
                ))
            }
            TransactionKind::Cancel => RowKind::Cancel,
            TransactionKind::Refund => RowKind::Refund,
            TransactionKind::PartialRefund => RowKind::PartialRefund,
            TransactionKind::Other(text) => {
                return Err(fail(
                    format!("unknown transaction type {text:?}"),
                    RowProblem::UnknownTransactionType { text: text.clone() },
                ))
            }
        };
        let status = match &row.status {
            RowStatus::Success => RowState::Success,
            RowStatus::Error => RowState::Error,
            RowStatus::New => RowState::New,
            RowStatus::Other(text) => {
                return Err(fail(
                    format!("unknown status {text:?}"),
                    RowProblem::UnknownStatus { text: text.clone() },
                ))
            }
        };
        let amount = row
            .amount
            .or(row.authorized_amount)
            .ok_or_else(|| fail("the row has no amount".to_owned(), RowProblem::NoAmount))?;
        Ok(ProviderRow {
            provider_ref: row.provider_ref.clone(),
            sale_ref: row.sale_ref.clone().map(Box::new),
            auth_code: row.auth_code.clone(),
            client_ref: row
                .client_ref
                .as_deref()
                .map(str::trim)
                .filter(|c| !c.is_empty())
                .map(CompactString::from),
            kind,
            status,
            amount,
            authorized_amount: row.authorized_amount,
            installments: row.installments,
            masked_pan: row.masked_pan.clone(),
            time: row.time,
            value_date: row.value_date,
            commission: row.commission,
            currency: row.currency,
            line: None,
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn report() -> ReportRow {
        ReportRow {
            provider_ref: ProviderRef::parse("IKSIRPF1").ok(),
            sale_ref: None,
            auth_code: AuthCode::parse("123456").ok(),
            client_ref: Some(" c1 ".into()),
            kind: TransactionKind::Sale,
            status: RowStatus::Success,
            amount: Kurus::parse("150.00").ok(),
            authorized_amount: Kurus::parse("151.50").ok(),
            installments: Some(3),
            masked_pan: MaskedPan::parse("454671******7894"),
            time: None,
            value_date: None,
            commission: None,
            currency: Some(Currency::Try),
            is_3d: Some(false),
        }
    }

    /// A statement holds a million rows at once: growing a row costs a megabyte per
    /// 65,000 rows, so a field added here should be a deliberate choice.
    #[test]
    fn a_row_stays_small() {
        let size = std::mem::size_of::<ProviderRow>();
        assert!(size <= 152, "{size}");
    }

    #[test]
    fn converts_a_report_row() {
        let row = ProviderRow::try_from(&report()).unwrap();
        assert_eq!(row.kind, RowKind::Sale);
        assert_eq!(row.amount.to_string(), "150.00");
        assert_eq!(row.client_ref.as_deref(), Some("c1"));
        assert_eq!(row.line, None);
    }

    #[test]
    fn refuses_a_row_without_amount_or_with_an_unknown_kind() {
        let mut r = report();
        r.amount = None;
        r.authorized_amount = None;
        let err = ProviderRow::try_from(&r).unwrap_err();
        assert_eq!(err.reference, "IKSIRPF1");
        assert!(err.reason.contains("no amount"));
        let mut r = report();
        r.kind = TransactionKind::Other("BONUS".into());
        assert!(ProviderRow::try_from(&r)
            .unwrap_err()
            .reason
            .contains("BONUS"));
        let mut r = report();
        r.kind = TransactionKind::PartialRefund;
        assert_eq!(
            ProviderRow::try_from(&r).unwrap().kind,
            RowKind::PartialRefund
        );
    }
}
