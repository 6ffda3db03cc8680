//! The payments a person may force-match an exception with: the item's own payments
//! first, then the company's payments through the run's POS with the provider row's
//! amount, its card (when both sides know the last four digits) and its day give or
//! take one, that no other item of the run has matched already.

use std::collections::hash_map::Entry;
use std::collections::{BTreeMap, HashMap, HashSet};

use chrono::{Days, NaiveDate};
use serde::Serialize;

use sanalpos_core::{Currency, Kurus};
use sanalpos_recon::{ProviderRow, RowKind};
use sanalpos_store::{ItemFilter, PaymentRecord, ReconItemRecord};

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

/// The candidates of the open exceptions of a run, by item id: every open exception's,
/// or only those of the items named in `only`.
///
/// Reads the items asked about (`only`) or the run's open exceptions, and the payments
/// the run has spoken for (the ids of every matched item: the one read that still
/// grows with the run, 0.2-0.5 s at 200,000 items), then for each exception its own
/// payments and the POS's payments of its amount in the period, one query per amount
/// (not every payment of the period).
pub(crate) async fn match_candidates(
    service: &PaymentService,
    company_id: &str,
    run_id: &str,
    only: Option<&[&str]>,
) -> Result<BTreeMap<String, Vec<MatchCandidate>>, ServiceError> {
    let store = &service.inner.store;
    let run = store.get_recon_run(company_id, run_id).await?;
    let asked = match only {
        None => {
            store
                .recon_items_page(company_id, run_id, ItemFilter::Exceptions, None, u32::MAX)
                .await?
        }
        Some(ids) => store.get_recon_items(company_id, run_id, ids).await?,
    };
    let items: Vec<ReconItemRecord> = asked
        .into_iter()
        .filter(|i| i.item.class != "matched" && i.resolution.is_none())
        .collect();
    let mut out = BTreeMap::new();
    if items.is_empty() {
        return Ok(out);
    }
    let day = |text: &str, field: &'static str| {
        text.parse::<NaiveDate>()
            .map_err(|_| ServiceError::Storage(format!("run {run_id}: bad {field} {text:?}")))
    };
    let from = day(&run.period_from, "from")?;
    let to = day(&run.period_to, "to")?;
    let first = from
        .checked_sub_days(Days::new(1))
        .unwrap_or(from)
        .to_string();
    let last = to.checked_add_days(Days::new(1)).unwrap_or(to).to_string();
    // The POS's payments of each amount asked about, in the period give or take a day.
    let mut of_amount: HashMap<Kurus, Vec<PaymentRecord>> = HashMap::new();
    // A payment matched by the engine, or chosen in a decision, is spoken for.
    let taken: HashSet<String> = store
        .recon_taken_payments(company_id, run_id)
        .await?
        .into_iter()
        .collect();
    for item in &items {
        let mut list: Vec<MatchCandidate> = Vec::new();
        let own = item.item.proposal.iter().chain(&item.item.payment_ids);
        for id in own {
            if list.iter().any(|c| &c.payment_id == id) {
                continue;
            }
            // The item's own payments may lie outside the period (an old sale refunded).
            if let Ok(p) = store.get_payment(company_id, id).await {
                list.push(candidate(&p, true));
            }
        }
        let rows: Vec<ProviderRow> = item.item.provider_rows.parse().unwrap_or_default();
        if let Some(sale) = rows.iter().find(|r| r.kind == RowKind::Sale) {
            let of_this = match of_amount.entry(sale.amount) {
                Entry::Occupied(known) => known.into_mut(),
                Entry::Vacant(new) => new.insert(
                    store
                        .payments_of_amount(company_id, &run.pos_id, sale.amount, (&first, &last))
                        .await?,
                ),
            };
            let found = of_this
                .iter()
                .filter(|p| !taken.contains(&p.id) && fits(sale, p))
                .filter(|p| !list.iter().any(|c| c.payment_id == p.id))
                .map(|p| candidate(p, false))
                .collect::<Vec<_>>();
            list.extend(found);
        }
        list.truncate(MAX_CANDIDATES);
        out.insert(item.id.clone(), list);
    }
    Ok(out)
}
