//! Decisions on a run's exceptions: enter the missing transaction (a `manual` payment
//! prefilled from the provider's row, so the next run matches it), force-match with a
//! payment, or dismiss with a reason. Each is one transaction with its audit event,
//! which records who, when, why and the item's state before.

use serde_json::{json, Value};

use sanalpos_core::{Currency, Kurus};
use sanalpos_recon::{ProviderRow, RowKind, RowState};
use sanalpos_store::{
    new_id, Channel, NewAudit, PaymentRecord, PaymentStatus, ReconItemRecord, ReconResolution,
    ReconRunRecord,
};

use super::{item_view, name, ReconItemView};
use crate::error::ServiceError;
use crate::types::Actor;
use crate::PaymentService;

/// A decision on an exception.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resolution {
    /// Enter the missing transaction: a `manual` payment prefilled from the provider's
    /// sale row, so the next run matches it, with the customer account it credits.
    EnterMissing {
        /// Optional note.
        reason: Option<String>,
        /// What the person adds to the provider's row.
        details: EntryDetails,
    },
    /// The item belongs with this payment of ours.
    ForceMatch {
        /// The payment.
        payment_id: String,
        /// Optional note.
        reason: Option<String>,
    },
    /// Nothing to do, for this reason.
    Dismiss {
        /// Required.
        reason: String,
    },
}

/// The links of an entered payment: who paid, for what. The provider's row has none of
/// them, and without a customer account nobody's balance is credited.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EntryDetails {
    /// The customer account (cari hesap) reference.
    pub customer_ref: Option<String>,
    /// The order reference; the provider row's order number when absent.
    pub order_ref: Option<String>,
    /// A description; "Entered from reconciliation run …" when empty.
    pub description: Option<String>,
}

impl EntryDetails {
    /// Trimmed, empty as `None`; refused when too long or holding control characters
    /// (the limits of a payment's own fields).
    fn checked(self) -> Result<EntryDetails, ServiceError> {
        use crate::payments::check_text;
        Ok(EntryDetails {
            customer_ref: check_text("customer_ref", &self.customer_ref, 100)?,
            order_ref: check_text("order_ref", &self.order_ref, 100)?,
            description: check_text("description", &self.description, 500)?,
        })
    }
}

/// The provider's successful sale row of an item, to enter it as a payment.
fn sale_row(item: &ReconItemRecord) -> Result<ProviderRow, ServiceError> {
    let rows: Vec<ProviderRow> = (item.item.provider_rows.parse())
        .map_err(|e| ServiceError::Storage(format!("item {}: provider rows: {e}", item.id)))?;
    rows.into_iter()
        .find(|r| r.kind == RowKind::Sale && r.status == RowState::Success)
        .ok_or_else(|| {
            ServiceError::conflict(
                "nothing_to_enter",
                "the item has no successful provider sale to enter",
            )
        })
}

/// The payment a person enters from a provider row of `run` (a sale the provider has
/// and we do not), dated by the row, else by the run's first day.
fn manual_payment(
    actor: &Actor,
    run: &ReconRunRecord,
    row: &ProviderRow,
    details: EntryDetails,
    now: i64,
) -> PaymentRecord {
    let (company_id, pos_id, run_id, fallback_date) =
        (&run.company_id, &run.pos_id, &run.id, &run.period_from);
    let masked = row.masked_pan.as_ref().map(|m| m.as_str().to_owned());
    let brand = masked
        .as_deref()
        .map(|m| name(&sanalpos_core::CardBrand::from_bin(m.get(..6).unwrap_or(m))))
        .unwrap_or_else(|| "unknown".into());
    PaymentRecord {
        id: new_id("pay"),
        company_id: company_id.to_owned(),
        pos_id: pos_id.to_owned(),
        status: PaymentStatus::Approved,
        amount: row.amount,
        currency: row.currency.unwrap_or(Currency::Try),
        installments: row.installments.unwrap_or(1).max(1),
        masked_pan: masked.unwrap_or_default(),
        card_fingerprint: String::new(),
        card_brand: if brand.is_empty() {
            "unknown".into()
        } else {
            brand
        },
        auth_code: row.auth_code.as_ref().map(|a| a.as_str().to_owned()),
        provider_ref: row.provider_ref.as_ref().map(|r| r.as_str().to_owned()),
        bank_code: None,
        message_tr: None,
        message_en: None,
        channel: Channel::Manual,
        // The provider's order number (its `Sipariş No`) unless the person gave one.
        order_ref: details.order_ref.or_else(|| {
            row.client_ref
                .as_deref()
                .filter(|r| r.chars().count() <= 100 && !r.chars().any(char::is_control))
                .map(str::to_owned)
        }),
        customer_ref: details.customer_ref,
        description: Some(
            details
                .description
                .unwrap_or_else(|| format!("Entered from reconciliation run {run_id}")),
        ),
        three_d: false,
        return_url: None,
        three_d_token: None,
        three_d_html: None,
        sale_client_ref: sanalpos_core::ClientRef::generate().to_string(),
        authorized_amount: Some(row.authorized_amount.unwrap_or(row.amount)),
        refunded_amount: Kurus::default(),
        business_date: row
            .time
            .map(|t| t.date().to_string())
            .unwrap_or_else(|| fallback_date.to_owned()),
        review_reason: None,
        created_by: actor.name.clone(),
        created_at: now,
        updated_at: now,
        client_ip: None,
        pre_auth: false,
        held_amount: None,
        hold_until: None,
    }
}

/// Records a person's decision on an exception.
pub(crate) async fn resolve(
    service: &PaymentService,
    actor: &Actor,
    company_id: &str,
    run_id: &str,
    item_id: &str,
    resolution: Resolution,
) -> Result<ReconItemView, ServiceError> {
    let store = &service.inner.store;
    let run = store.get_recon_run(company_id, run_id).await?;
    let item = store.get_recon_item(company_id, run_id, item_id).await?;
    if item.item.class == "matched" {
        return Err(ServiceError::conflict(
            "not_an_exception",
            "a matched item needs no decision",
        ));
    }
    if item.resolution.is_some() {
        return Err(ServiceError::conflict(
            "already_resolved",
            "the item was resolved already",
        ));
    }
    let clean = |r: Option<String>| r.map(|r| r.trim().to_owned()).filter(|r| !r.is_empty());
    let (kind, reason, payment_id, new_payment) = match resolution {
        Resolution::EnterMissing { reason, details } => {
            let details = details.checked()?;
            if item.item.class != "provider_only" {
                return Err(ServiceError::conflict(
                    "not_missing",
                    "only a transaction missing here (provider_only) can be entered",
                ));
            }
            let row = sale_row(&item)?;
            let payment = manual_payment(actor, &run, &row, details, service.now_ms());
            (
                "entered",
                clean(reason),
                Some(payment.id.clone()),
                Some(payment),
            )
        }
        Resolution::ForceMatch { payment_id, reason } => {
            let payment = store.get_payment(company_id, &payment_id).await?;
            if payment.pos_id != run.pos_id {
                return Err(ServiceError::validation(
                    "payment_id",
                    "the payment went through another POS",
                ));
            }
            ("force_matched", clean(reason), Some(payment.id), None)
        }
        Resolution::Dismiss { reason } => {
            let reason = clean(Some(reason))
                .ok_or_else(|| ServiceError::validation("reason", "a reason is required"))?;
            ("dismissed", Some(reason), None, None)
        }
    };
    let resolved_at = service.now_ms();
    let audit = NewAudit {
        company_id: company_id.to_owned(),
        kind: "recon.item_resolved".into(),
        actor: actor.name.clone(),
        subject_id: item.id.clone(),
        data: json!({
            "run_id": run_id,
            "resolution": kind,
            "reason": reason,
            "payment_id": payment_id,
            "customer_ref": new_payment.as_ref().and_then(|p| p.customer_ref.clone()),
            "order_ref": new_payment.as_ref().and_then(|p| p.order_ref.clone()),
            "resolved_at": resolved_at,
            "before": {
                "class": item.item.class,
                "reason": item.item.reason,
                "payment_ids": item.item.payment_ids,
                "ours": item.item.ours,
                "theirs": item.item.theirs,
                "resolution": Value::Null,
            },
        }),
    };
    store
        .resolve_recon_item(ReconResolution {
            company_id: company_id.to_owned(),
            run_id: run_id.to_owned(),
            item_id: item_id.to_owned(),
            resolution: kind.to_owned(),
            reason,
            payment_id,
            new_payment,
            resolved_by: actor.name.clone(),
            resolved_at,
            audit,
        })
        .await?;
    let item = store.get_recon_item(company_id, run_id, item_id).await?;
    item_view(item)
}
