//! The payments a person may force-match an exception with: the item's own payments
//! first, then the company's payments through the run's POS with the provider row's
//! amount, its card (when both sides know the last four digits) and its day give or
//! take one, that no other item of the run has matched already.

use std::collections::{BTreeMap, HashSet};

use chrono::{Days, NaiveDate};
use serde::Serialize;

use sanalpos_core::{Currency, Kurus};
use sanalpos_recon::{ProviderRow, RowKind};
use sanalpos_store::PaymentRecord;

use crate::error::ServiceError;
use crate::PaymentService;

/// Most candidates offered for one item.
const MAX_CANDIDATES: usize = 10;

/// A payment offered for a force-match.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct MatchCandidate {
    /// Our payment that might be the statement line (`pay_…`).
    pub payment_id: String,
    /// When it was created, Unix milliseconds.
    pub created_at: i64,
    /// Its business day, `YYYY-MM-DD`.
    #[schema(pattern = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")]
    pub business_date: String,
    /// Its amount in kuruş.
    pub amount: Kurus,
    /// The currency of the amount.
    pub currency: Currency,
    /// Its status (`approved`, `declined`, …).
    #[schema(value_type = sanalpos_store::PaymentStatus)]
    pub status: String,
    /// Its masked card number.
    pub masked_pan: String,
    /// Its customer account reference.
    pub customer_ref: Option<String>,
    /// Its order reference, when the caller gave one.
    pub order_ref: Option<String>,
    /// Whether it is one of the item's own payments (or the engine's proposal) rather
    /// than one found by amount, card and day.
    pub of_item: bool,
}

fn candidate(p: &PaymentRecord, of_item: bool) -> MatchCandidate {
    MatchCandidate {
        payment_id: p.id.clone(),
        created_at: p.created_at,
        business_date: p.business_date.clone(),
        amount: p.amount,
        currency: p.currency,
        status: p.status.as_str().to_owned(),
        masked_pan: p.masked_pan.clone(),
        customer_ref: p.customer_ref.clone(),
        order_ref: p.order_ref.clone(),
        of_item,
    }
}

fn last4(masked: &str) -> Option<&str> {
    let digits = masked.get(masked.len().saturating_sub(4)..)?;
    digits.chars().all(|c| c.is_ascii_digit()).then_some(digits)
}

/// Whether payment `p` looks like the provider's sale `row`: same amount, same last
/// four digits when both are known, business day within a day of the row's.
fn fits(row: &ProviderRow, p: &PaymentRecord) -> bool {
    if p.amount != row.amount {
        return false;
    }
    let theirs = row.masked_pan.as_ref().map(|m| m.last4().to_owned());
    if let (Some(theirs), Some(ours)) = (theirs, last4(&p.masked_pan)) {
        if theirs != ours {
            return false;
        }
    }
    match (
        row.time.map(|t| t.date()),
        p.business_date.parse::<NaiveDate>(),
    ) {
        (Some(day), Ok(ours)) => (ours - day).num_days().abs() <= 1,
        _ => true,
    }
}

/// The candidates of every open exception of a run, by item id.
pub(crate) async fn match_candidates(
    service: &PaymentService,
    company_id: &str,
    run_id: &str,
) -> Result<BTreeMap<String, Vec<MatchCandidate>>, ServiceError> {
    let store = &service.inner.store;
    let run = store.get_recon_run(company_id, run_id).await?;
    let items = store.list_recon_items(company_id, run_id, None).await?;
    let day = |text: &str, field: &'static str| {
        text.parse::<NaiveDate>()
            .map_err(|_| ServiceError::Storage(format!("run {run_id}: bad {field} {text:?}")))
    };
    let from = day(&run.period_from, "from")?;
    let to = day(&run.period_to, "to")?;
    let from = from.checked_sub_days(Days::new(1)).unwrap_or(from);
    let to = to.checked_add_days(Days::new(1)).unwrap_or(to);
    let payments = store
        .payments_for_recon(
            company_id,
            &run.pos_id,
            (&from.to_string(), &to.to_string()),
            (0, 0),
        )
        .await?;
    // A payment matched by the engine, or chosen in a decision, is spoken for.
    let taken: HashSet<&str> = items
        .iter()
        .filter(|i| i.item.class == "matched")
        .flat_map(|i| i.item.payment_ids.iter().map(String::as_str))
        .chain(
            items
                .iter()
                .filter_map(|i| i.resolution_payment_id.as_deref()),
        )
        .collect();
    let mut out = BTreeMap::new();
    for item in &items {
        if item.item.class == "matched" || item.resolution.is_some() {
            continue;
        }
        let mut list: Vec<MatchCandidate> = Vec::new();
        let own = item.item.proposal.iter().chain(&item.item.payment_ids);
        for id in own {
            if list.iter().any(|c| &c.payment_id == id) {
                continue;
            }
            // The item's own payments may lie outside the period (an old sale refunded).
            match payments.iter().find(|p| &p.id == id) {
                Some(p) => list.push(candidate(p, true)),
                None => {
                    if let Ok(p) = store.get_payment(company_id, id).await {
                        list.push(candidate(&p, true));
                    }
                }
            }
        }
        let rows: Vec<ProviderRow> =
            serde_json::from_value(item.item.provider_rows.clone()).unwrap_or_default();
        if let Some(sale) = rows.iter().find(|r| r.kind == RowKind::Sale) {
            let mut found: Vec<&PaymentRecord> = payments
                .iter()
                .filter(|p| !taken.contains(p.id.as_str()) && fits(sale, p))
                .filter(|p| !list.iter().any(|c| c.payment_id == p.id))
                .collect();
            found.sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
            list.extend(found.into_iter().map(|p| candidate(p, false)));
        }
        list.truncate(MAX_CANDIDATES);
        out.insert(item.id.clone(), list);
    }
    Ok(out)
}
