//! Reconciliation runs: our payments of a period against the provider's view of it,
//! pulled through the POS's report API or imported from a statement file, classified
//! by the pure engine of `sanalpos-recon`, stored with their items, and resolved one
//! exception at a time (enter the missing transaction, force-match, dismiss: the
//! `resolve` module).

mod candidates;
mod confirm;
mod export;
mod resolve;

pub use export::{recon_class_label, recon_export_headers, recon_reason_label};

pub(crate) use candidates::match_candidates;
pub use candidates::MatchCandidate;
pub(crate) use resolve::resolve;
pub use resolve::{EntryDetails, Resolution};

use std::sync::Arc;

use chrono::{Days, NaiveDate};
use serde::{Deserialize, Serialize};
use serde_json::json;

use sanalpos_core::Kurus;
use sanalpos_gateway::{scrub_card_numbers, ReportQuery};
use sanalpos_recon::{
    read_statement_from, reconcile, Class, ClassTotals, Expected, Flag, Item, Last4, Options,
    OurPayment, PaymentStatus as EngineStatus, Profile, ProviderRow, Reconciliation, RowProblem,
    Summary,
};
use sanalpos_store::{
    new_id, ItemFilter, JsonText, NewAudit, NewReconItem, PaymentRecord, PaymentStatus, PosRecord,
    ReconItemRecord, ReconRunRecord,
};

use crate::error::{ServiceError, StatementRow};
use crate::types::Actor;
use crate::PaymentService;

/// A statement file to import, read a block at a time while it is parsed: a file
/// opened from disk is never held whole beside its rows (see
/// [`sanalpos_recon::read_statement_from`]). Bytes already in memory are read from
/// there; a borrowed slice is copied once, so the parse can run off the runtime.
pub struct StatementFile(Box<dyn std::io::Read + Send>);

impl StatementFile {
    /// A statement read from `reader` as it is parsed (a file, a body).
    pub fn from_reader(reader: impl std::io::Read + Send + 'static) -> StatementFile {
        StatementFile(Box::new(reader))
    }
}

impl From<Vec<u8>> for StatementFile {
    fn from(bytes: Vec<u8>) -> StatementFile {
        StatementFile::from_reader(std::io::Cursor::new(bytes))
    }
}

impl<T: AsRef<[u8]> + ?Sized> From<&T> for StatementFile {
    fn from(bytes: &T) -> StatementFile {
        StatementFile::from(bytes.as_ref().to_vec())
    }
}

/// Rows asked for per report page.
const REPORT_PAGE_SIZE: u32 = 500;

/// Longest period one run may cover.
const MAX_PERIOD_DAYS: i64 = 366;

/// Where a run's provider rows came from: `pull` (the report API) or `import` (a
/// statement file), as a run's `source` writes it.
pub(crate) const SOURCES: &[&str] = &["pull", "import"];

/// What a decided exception became, as an item's `resolution` writes it.
pub(crate) const RESOLUTIONS: &[&str] = &["entered", "force_matched", "dismissed"];

/// Items per class of a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ReconCounts {
    /// Both sides agree.
    pub matched: u64,
    /// Same transaction, different amounts.
    pub amount_mismatch: u64,
    /// Same transaction, different outcome.
    pub status_mismatch: u64,
    /// On the provider's statement but not in our records: to be entered.
    pub provider_only: u64,
    /// Missing at the provider.
    pub system_only: u64,
    /// More than one of our payments, or of their lines, claim the same reference.
    pub duplicate: u64,
}

impl ReconCounts {
    /// The count of one class.
    pub fn of(&self, class: Class) -> u64 {
        match class {
            Class::Matched => self.matched,
            Class::AmountMismatch => self.amount_mismatch,
            Class::StatusMismatch => self.status_mismatch,
            Class::ProviderOnly => self.provider_only,
            Class::SystemOnly => self.system_only,
            Class::Duplicate => self.duplicate,
        }
    }

    /// The items of every class.
    pub fn total(&self) -> u64 {
        Class::ALL.iter().map(|c| self.of(*c)).sum()
    }
}

/// A provider report row that could not be used (kept in the run, never dropped
/// silently).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct RejectedRow {
    /// The row's provider reference, or `-`.
    pub reference: String,
    /// The statement line of a row that could not be read (left out by a person's
    /// decision).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line: Option<u32>,
    /// Why, in English (kept as it always was for API clients).
    pub reason: String,
    /// Why, as data (a kind and its parameters), for a page to write in its reader's
    /// language. Runs stored before it existed have none. `kind` is
    /// `left_out_on_import`, `outside_period` or `unusable`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub cause: Option<RejectCause>,
}

/// Why a provider row was left out of a run, as data.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum RejectCause {
    /// A statement row that could not be read, left out by the person importing.
    LeftOutOnImport {
        /// The statement line.
        line: u32,
        /// What is wrong with it.
        problem: RowProblem,
    },
    /// A row dated outside the run's period.
    OutsidePeriod {
        /// The row's time, `YYYY-MM-DD HH:MM:SS` (Istanbul).
        at: String,
        /// The period's first day, `YYYY-MM-DD`.
        from: String,
        /// The period's last day.
        to: String,
    },
    /// A row of the provider's report the engine cannot reason about.
    Unusable {
        /// What is wrong with it.
        problem: RowProblem,
    },
}

/// A problem with card numbers masked wherever the row's text is quoted.
fn scrub_problem(problem: RowProblem) -> RowProblem {
    match problem {
        RowProblem::Invalid {
            column,
            value,
            expected,
        } => RowProblem::Invalid {
            column,
            value: scrub_card_numbers(&value),
            expected,
        },
        RowProblem::UnknownTransactionType { text } => RowProblem::UnknownTransactionType {
            text: scrub_card_numbers(&text),
        },
        RowProblem::UnknownStatus { text } => RowProblem::UnknownStatus {
            text: scrub_card_numbers(&text),
        },
        other => other,
    }
}

/// One item of a run, as the API shows it.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[schema(as = ReconItem)]
pub struct ReconItemView {
    /// `rci_…`.
    pub id: String,
    /// The item's class (written `matched`, `amount_mismatch`, `status_mismatch`,
    /// `provider_only`, `system_only` or `duplicate`).
    pub class: Class,
    /// Why it is in its class.
    pub reason: String,
    /// The key that tied both sides.
    pub match_key: Option<String>,
    /// The ids of our payments the item is about (`pay_…`); empty for a line missing here.
    pub payment_ids: Vec<String>,
    /// The provider's rows, normalized (masked card numbers only).
    pub provider_rows: Vec<ProviderRow>,
    /// What our records say, in kuruş.
    pub ours: Kurus,
    /// What the provider's statement says, in kuruş.
    pub theirs: Kurus,
    /// What we cancelled or refunded.
    pub ours_reversed: Kurus,
    /// What they cancelled or refunded.
    pub theirs_reversed: Kurus,
    /// A payment of ours proposed for a provider-only sale.
    pub proposal: Option<String>,
    /// Checks against the POS's installment table that did not hold (commission, value
    /// date); empty when all held. They never change the item's class.
    pub flags: Vec<Flag>,
    /// `entered`, `force_matched`, `dismissed`, or `null` while open.
    #[schema(value_type = Option<crate::names::ReconResolutionName>)]
    pub resolution: Option<String>,
    /// The person's reason.
    pub resolution_reason: Option<String>,
    /// The payment entered or force-matched.
    pub resolution_payment_id: Option<String>,
    /// Who resolved it: `user:<username>` or `api:<key id>`.
    pub resolved_by: Option<String>,
    /// When (Unix milliseconds).
    pub resolved_at: Option<i64>,
}

/// A run with its summary, totals and items.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[schema(as = ReconRun)]
pub struct ReconRunView {
    /// `rcn_…`.
    pub id: String,
    /// The POS.
    pub pos_id: String,
    /// `pull` (the provider's report API) or `import` (a statement file).
    #[schema(value_type = crate::names::ReconSource)]
    pub source: String,
    /// The first business day the run covers (inclusive).
    pub from: String,
    /// The last business day the run covers (inclusive).
    pub to: String,
    /// `completed` once classified.
    pub status: String,
    /// How many items fell into each class, for the run's summary.
    pub summary: ReconCounts,
    /// Exceptions (everything not matched) still waiting for a decision.
    pub open_exceptions: u64,
    /// Counts and exact amounts per class.
    pub totals: Summary,
    /// Provider rows that could not be used.
    pub rejected_rows: Vec<RejectedRow>,
    /// A page of the items (all, the exceptions, or one class, as asked), in order.
    pub items: Vec<ReconItemView>,
    /// Where the next page of items starts (`cursor`), when there are more.
    pub next_cursor: Option<String>,
    /// Who started the run: a user, an API key, or `end_of_day`.
    pub created_by: String,
    /// When the run was made, Unix milliseconds.
    pub created_at: i64,
}

/// A run in a list: what it covered and its counts, without items.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct ReconRunEntry {
    /// `rcn_…`.
    pub id: String,
    /// The POS.
    pub pos_id: String,
    /// `pull` (the provider's report API) or `import` (a statement file).
    #[schema(value_type = crate::names::ReconSource)]
    pub source: String,
    /// The first business day the run covers (inclusive).
    pub from: String,
    /// The last business day the run covers (inclusive).
    pub to: String,
    /// `completed` once classified.
    pub status: String,
    /// How many items fell into each class, for the run's summary.
    pub summary: ReconCounts,
    /// Who started the run: a user, an API key, or `end_of_day`.
    pub created_by: String,
    /// When the run was made, Unix milliseconds.
    pub created_at: i64,
}

fn parse_day(text: &str, field: &'static str) -> Result<NaiveDate, ServiceError> {
    NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .map_err(|_| ServiceError::validation(field, "expected a date YYYY-MM-DD"))
}

fn check_period(from: NaiveDate, to: NaiveDate) -> Result<(), ServiceError> {
    if to < from {
        return Err(ServiceError::validation(
            "to",
            "the period ends before it starts",
        ));
    }
    if (to - from).num_days() >= MAX_PERIOD_DAYS {
        return Err(ServiceError::validation(
            "to",
            "a run covers at most 366 days",
        ));
    }
    Ok(())
}

/// The snake_case name serde gives an engine enum.
pub(crate) fn name<T: Serialize>(value: &T) -> String {
    serde_json::to_value(value)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

fn engine_status(status: PaymentStatus) -> EngineStatus {
    match status {
        PaymentStatus::Processing => EngineStatus::Processing,
        PaymentStatus::Pending3ds => EngineStatus::Pending3ds,
        PaymentStatus::Approved => EngineStatus::Approved,
        PaymentStatus::Declined => EngineStatus::Declined,
        PaymentStatus::Failed => EngineStatus::Failed,
        PaymentStatus::Unknown => EngineStatus::Unknown,
        PaymentStatus::Cancelled => EngineStatus::Cancelled,
        PaymentStatus::PartiallyRefunded => EngineStatus::PartiallyRefunded,
        PaymentStatus::Refunded => EngineStatus::Refunded,
        PaymentStatus::Expired => EngineStatus::Expired,
        // Refused before the provider: nothing sent, nothing charged.
        PaymentStatus::Blocked => EngineStatus::Failed,
        // An amount blocked on the card, or freed again, is no money received.
        PaymentStatus::Authorized | PaymentStatus::Released => EngineStatus::Failed,
        // A capture or release on its way: the provider's answer is not in yet.
        PaymentStatus::Capturing | PaymentStatus::Releasing => EngineStatus::Processing,
    }
}

fn our_payment(p: &PaymentRecord, pos: &PosRecord) -> Result<OurPayment, ServiceError> {
    let business_date = NaiveDate::parse_from_str(&p.business_date, "%Y-%m-%d")
        .map_err(|_| ServiceError::Storage(format!("payment {}: bad business date", p.id)))?;
    let expected = pos
        .installments
        .iter()
        .find(|row| row.count == p.installments)
        .map(|row| Expected {
            commission_bp: row.commission_bp,
            value_days: u16::try_from(row.value_days).unwrap_or(u16::MAX),
        });
    Ok(OurPayment {
        id: p.id.as_str().into(),
        provider_ref: p
            .provider_ref
            .as_deref()
            .and_then(|r| sanalpos_core::ProviderRef::parse(r).ok()),
        auth_code: p
            .auth_code
            .as_deref()
            .and_then(|a| sanalpos_core::AuthCode::parse(a).ok()),
        client_ref: Some(p.sale_client_ref.as_str().into()),
        status: engine_status(p.status),
        amount: p.amount,
        authorized_amount: p.authorized_amount,
        refunded_amount: p.refunded_amount,
        last4: Last4::of(&p.masked_pan),
        business_date,
        expected,
    })
}

/// Unix milliseconds of 00:00 Istanbul time on `day` (UTC+3 all year since 2016).
fn istanbul_midnight_ms(day: NaiveDate) -> i64 {
    sanalpos_core::time::istanbul_midnight(day).map_or(0, |t| t.timestamp_millis())
}

/// A key that names the same item in every run of the same period, so decisions carry
/// over: the POS, the class, our payments and the provider's rows.
fn item_key(pos_id: &str, class: &str, payment_ids: &[String], rows: &[&ProviderRow]) -> String {
    let rows: Vec<String> = rows
        .iter()
        .map(|r| match &r.provider_ref {
            Some(reference) => format!("{}:{}", name(&r.kind), reference.as_str()),
            None => format!(
                "{}:{}:{}:{}",
                name(&r.kind),
                r.amount,
                r.time.map(|t| t.to_string()).unwrap_or_default(),
                r.masked_pan.as_ref().map(|m| m.as_str()).unwrap_or("")
            ),
        })
        .collect();
    format!(
        "{pos_id}|{class}|{}|{}",
        payment_ids.join(","),
        rows.join(",")
    )
}

/// The ids of our payments and the provider's rows in `item`.
fn members<'a>(
    item: &Item,
    ours: &[OurPayment],
    theirs: &'a [ProviderRow],
) -> (Vec<String>, Vec<&'a ProviderRow>) {
    let payment_ids = item
        .payments()
        .iter()
        .filter_map(|i| ours.get(*i as usize).map(|p| p.id.to_string()))
        .collect();
    let rows = item
        .rows()
        .iter()
        .filter_map(|i| theirs.get(*i as usize))
        .collect();
    (payment_ids, rows)
}

fn new_item(
    pos_id: &str,
    item: &Item,
    ours: &[OurPayment],
    theirs: &[ProviderRow],
) -> Result<NewReconItem, serde_json::Error> {
    let (payment_ids, rows) = members(item, ours, theirs);
    let class = name(&item.class);
    let amounts = item.totals(ours, theirs);
    Ok(NewReconItem {
        item_key: item_key(pos_id, &class, &payment_ids, &rows),
        class,
        reason: name(&item.reason),
        match_key: item.key.as_ref().map(name),
        payment_ids,
        provider_rows: JsonText::of(&rows)?,
        ours: amounts.ours,
        theirs: amounts.theirs,
        ours_reversed: amounts.ours_reversed,
        theirs_reversed: amounts.theirs_reversed,
        proposal: item
            .proposal
            .and_then(|p| ours.get(p as usize))
            .map(|p| p.id.to_string()),
        flags: JsonText::of(&item.flags)?,
    })
}

fn counts(result: &Reconciliation) -> ReconCounts {
    let c = |class: Class| -> u64 {
        let t: &ClassTotals = result.summary.get(class);
        t.count
    };
    ReconCounts {
        matched: c(Class::Matched),
        amount_mismatch: c(Class::AmountMismatch),
        status_mismatch: c(Class::StatusMismatch),
        provider_only: c(Class::ProviderOnly),
        system_only: c(Class::SystemOnly),
        duplicate: c(Class::Duplicate),
    }
}

/// Runs `work` on the runtime's blocking threads: reading a statement, matching it and
/// building a run's items take hundreds of milliseconds for a large file, which on one
/// of the runtime's few workers would hold up every request queued behind it. A panic
/// in `work` goes on in the caller, as if it had run there.
async fn off_the_runtime<T: Send + 'static>(
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<T, ServiceError> {
    match tokio::task::spawn_blocking(work).await {
        Ok(value) => Ok(value),
        Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
        Err(_) => Err(ServiceError::Storage(
            "the service is shutting down".to_owned(),
        )),
    }
}

/// Loads our side, classifies and stores a run.
#[allow(clippy::too_many_arguments)]
async fn classify_and_store(
    service: &PaymentService,
    actor: &Actor,
    pos: &PosRecord,
    source: &str,
    from: NaiveDate,
    to: NaiveDate,
    theirs: Vec<ProviderRow>,
    rejected: Vec<RejectedRow>,
) -> Result<ReconRunView, ServiceError> {
    let store = &service.inner.store;
    let payments = store
        .payments_for_recon(
            &pos.company_id,
            &pos.id,
            (&from.to_string(), &to.to_string()),
            (
                istanbul_midnight_ms(from),
                istanbul_midnight_ms(to.checked_add_days(Days::new(1)).unwrap_or(to)),
            ),
        )
        .await?;
    let options = Options {
        period: Some((from, to)),
        ..Options::default()
    };
    let (payments, ours, theirs, mut result) = off_the_runtime({
        let (pos, options) = (pos.clone(), options.clone());
        move || {
            let ours = payments
                .iter()
                .map(|p| our_payment(p, &pos))
                .collect::<Result<Vec<_>, _>>()?;
            let result = reconcile(&ours, &theirs, &options);
            Ok::<_, ServiceError>((payments, ours, theirs, result))
        }
    })
    .await??;
    // A provider with no transaction list gives us only its statement: what is only in
    // our books is asked of the provider one by one before it is called system-only.
    let mut inquiries = confirm::Inquiries::default();
    let statement_only = crate::gateways::protocol_of(&pos.protocol)
        .is_ok_and(|p| !p.info().capabilities.report_pull);
    let mut found = Vec::new();
    if statement_only {
        found = confirm::ask_provider(service, pos, &payments, &result, &mut inquiries).await;
    }
    drop(payments);
    let (ours, theirs, result) = off_the_runtime(move || {
        let mut theirs = theirs;
        if !found.is_empty() {
            theirs.extend(found);
            result = reconcile(&ours, &theirs, &options);
        }
        (ours, theirs, result)
    })
    .await?;
    let summary_counts = counts(&result);
    let run = ReconRunRecord {
        id: new_id("rcn"),
        company_id: pos.company_id.clone(),
        pos_id: pos.id.clone(),
        source: source.to_owned(),
        period_from: from.to_string(),
        period_to: to.to_string(),
        status: "completed".into(),
        summary: json!({
            "counts": summary_counts,
            "totals": result.summary,
            "rejected_rows": rejected,
            "inquiries": inquiries,
        }),
        created_by: actor.name.clone(),
        created_at: service.now_ms(),
    };
    let audit = NewAudit {
        company_id: pos.company_id.clone(),
        kind: "recon.run".into(),
        actor: actor.name.clone(),
        subject_id: run.id.clone(),
        data: json!({
            "pos_id": pos.id,
            "source": source,
            "from": run.period_from,
            "to": run.period_to,
            "summary": summary_counts,
            "rejected_rows": rejected.len(),
            "inquiries": inquiries,
        }),
    };
    let run_id = run.id.clone();
    let matched = Matched {
        pos_id: pos.id.clone(),
        ours,
        theirs,
        result,
    };
    store_run(service, run, audit, matched).await?;
    get_run(service, &pos.company_id, &run_id, &ItemsQuery::default()).await
}

/// Items a run builds at once: a larger run is built and stored a part at a time, so
/// that only one part of its items is ever in memory (a run of a million rows built
/// whole before its first part was stored took 1.3 GiB with its rows as JSON text, and
/// 3.5 GiB with them as `serde_json::Value` trees).
const ITEMS_BUILT_AT_ONCE: usize = 10_000;

/// Both sides of a run and what matching made of them, to build the run's items from.
struct Matched {
    pos_id: String,
    ours: Vec<OurPayment>,
    theirs: Vec<ProviderRow>,
    result: Reconciliation,
}

impl Matched {
    /// The items `range` of the run, as stored.
    fn items(&self, range: std::ops::Range<usize>) -> Result<Vec<NewReconItem>, ServiceError> {
        self.result.items[range]
            .iter()
            .map(|item| new_item(&self.pos_id, item, &self.ours, &self.theirs))
            .collect::<Result<_, _>>()
            .map_err(|e| ServiceError::Storage(format!("a run's item could not be written: {e}")))
    }

    /// The keys of the run's exceptions (its items that are not matched), whose
    /// decisions in earlier runs of the period carry over.
    fn exception_keys(&self) -> Vec<String> {
        self.result
            .items
            .iter()
            .filter(|item| item.class != Class::Matched)
            .map(|item| {
                let (payment_ids, rows) = members(item, &self.ours, &self.theirs);
                item_key(&self.pos_id, &name(&item.class), &payment_ids, &rows)
            })
            .collect()
    }
}

/// Stores a run with its items and audit event: in one transaction when its items are
/// few, otherwise built and written a part at a time, the run hidden until all of it is
/// written (nothing of it stays when a part fails).
async fn store_run(
    service: &PaymentService,
    run: ReconRunRecord,
    audit: NewAudit,
    matched: Matched,
) -> Result<(), ServiceError> {
    let store = &service.inner.store;
    let matched = Arc::new(matched);
    let count = matched.result.items.len();
    if count <= ITEMS_BUILT_AT_ONCE {
        let items = off_the_runtime(move || matched.items(0..count)).await??;
        return Ok(store.insert_recon_run(run, items, audit).await?);
    }
    let keys = off_the_runtime({
        let matched = matched.clone();
        move || matched.exception_keys()
    })
    .await?;
    let mut writing = store
        .begin_recon_run(run, &keys.iter().map(String::as_str).collect::<Vec<_>>())
        .await?;
    drop(keys);
    let mut from = 0;
    while from < count {
        let to = (from + ITEMS_BUILT_AT_ONCE).min(count);
        let written = async {
            let matched = matched.clone();
            let items = off_the_runtime(move || matched.items(from..to)).await??;
            Ok::<_, ServiceError>(store.write_recon_items(&mut writing, items).await?)
        }
        .await;
        if let Err(e) = written {
            store.abandon_recon_run(writing).await;
            return Err(e);
        }
        from = to;
    }
    Ok(store.finish_recon_run(writing, audit).await?)
}

/// `POST /reconciliations`: pulls the provider's report for the period and reconciles.
pub(crate) async fn run_pull(
    service: &PaymentService,
    actor: &Actor,
    company_id: &str,
    pos_id: &str,
    from: &str,
    to: &str,
) -> Result<ReconRunView, ServiceError> {
    let from = parse_day(from, "from")?;
    let to = parse_day(to, "to")?;
    check_period(from, to)?;
    let pos = service.inner.store.get_pos(company_id, pos_id).await?;
    let report_pull = crate::gateways::protocol_of(&pos.protocol)?
        .info()
        .capabilities
        .report_pull;
    if !report_pull {
        return Err(ServiceError::conflict(
            "report_not_supported",
            "this POS's bank offers no transaction list to pull: import its statement file",
        ));
    }
    let gateway = crate::payments::gateway_for(service, &pos)?;
    let mut theirs = Vec::new();
    let mut rejected = Vec::new();
    let mut query = ReportQuery {
        from,
        to,
        page_size: REPORT_PAGE_SIZE,
        cursor: None,
    };
    loop {
        let page = gateway
            .report(&query)
            .await
            .map_err(|e| ServiceError::Provider {
                code: "provider_unavailable",
                message: format!("the provider's report could not be read: {e}"),
            })?;
        // Blocked amounts (pre-authorisations and their releases) are not money
        // received: only their captures are reconciled.
        for row in page.rows.iter().filter(|r| r.kind.moves_money()) {
            match ProviderRow::try_from(row) {
                Ok(row) => theirs.push(row),
                Err(e) => rejected.push(RejectedRow {
                    line: None,
                    reference: e.reference,
                    reason: scrub_card_numbers(&e.reason),
                    cause: Some(RejectCause::Unusable {
                        problem: scrub_problem(e.problem),
                    }),
                }),
            }
        }
        match page.next {
            Some(next) => query.cursor = Some(next),
            None => break,
        }
    }
    classify_and_store(service, actor, &pos, "pull", from, to, theirs, rejected).await
}

/// Imports a statement file for the period and reconciles; a file with bad rows
/// stores nothing.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn run_import(
    service: &PaymentService,
    actor: &Actor,
    company_id: &str,
    pos_id: &str,
    from: &str,
    to: &str,
    file: StatementFile,
    profile: Option<Profile>,
    skip_bad_rows: bool,
) -> Result<ReconRunView, ServiceError> {
    let from = parse_day(from, "from")?;
    let to = parse_day(to, "to")?;
    check_period(from, to)?;
    let pos = service.inner.store.get_pos(company_id, pos_id).await?;
    let profile = profile.unwrap_or_else(Profile::simulator);
    let statement = off_the_runtime(move || read_statement_from(file.0, &profile))
        .await?
        .map_err(|e| ServiceError::BadStatement {
            message: scrub_card_numbers(&e.to_string()),
            bad_rows: Vec::new(),
        })?;
    let bad_rows = || {
        statement
            .bad
            .iter()
            .map(|b| StatementRow {
                line: b.line,
                reason: scrub_card_numbers(&b.reason),
                problem: Some(scrub_problem(b.problem.clone())),
            })
            .collect()
    };
    if !statement.bad.is_empty() && (!skip_bad_rows || statement.rows.is_empty()) {
        let message = if skip_bad_rows {
            format!(
                "none of the {} rows could be read; nothing was imported",
                statement.bad.len()
            )
        } else {
            format!(
                "{} rows could not be read; nothing was imported",
                statement.bad.len()
            )
        };
        return Err(ServiceError::BadStatement {
            message,
            bad_rows: bad_rows(),
        });
    }
    // Left out by the user's decision: listed in the run with their line and reason.
    let mut rejected: Vec<RejectedRow> = bad_rows()
        .into_iter()
        .zip(&statement.bad)
        .map(|(b, bad): (StatementRow, _)| RejectedRow {
            reference: "-".to_owned(),
            line: Some(b.line),
            reason: format!("line {}: {} (left out on import)", b.line, b.reason),
            cause: Some(RejectCause::LeftOutOnImport {
                line: b.line,
                problem: scrub_problem(bad.problem.clone()),
            }),
        })
        .collect();
    let rows = statement.rows;
    // A statement may hold more days than the period: rows dated outside it belong to
    // another run, and are listed as left out rather than reported as exceptions.
    let rows = rows
        .into_iter()
        .filter(|row| match row.time {
            Some(t) if t.date() < from || t.date() > to => {
                rejected.push(RejectedRow {
                    line: None,
                    reference: row
                        .provider_ref
                        .as_ref()
                        .map_or_else(|| "-".to_owned(), |r| r.as_str().to_owned()),
                    reason: format!(
                        "dated {}, outside the period {from} to {to}",
                        t.format("%Y-%m-%d %H:%M:%S")
                    ),
                    cause: Some(RejectCause::OutsidePeriod {
                        at: t.format("%Y-%m-%d %H:%M:%S").to_string(),
                        from: from.to_string(),
                        to: to.to_string(),
                    }),
                });
                false
            }
            _ => true,
        })
        .collect();
    classify_and_store(service, actor, &pos, "import", from, to, rows, rejected).await
}

/// An item as pages and the API show it; a class name the engine never writes is a
/// damaged record, not something to guess at.
pub(crate) fn item_view(record: ReconItemRecord) -> Result<ReconItemView, ServiceError> {
    let item = record.item;
    let class = Class::parse(&item.class).ok_or_else(|| {
        ServiceError::Storage(format!(
            "reconciliation item {} has an unknown class",
            record.id
        ))
    })?;
    let stored = |what: &str, e: serde_json::Error| {
        ServiceError::Storage(format!(
            "reconciliation item {}: unreadable {what}: {e}",
            record.id
        ))
    };
    let provider_rows = item
        .provider_rows
        .parse()
        .map_err(|e| stored("provider rows", e))?;
    let flags = item
        .flags
        .parse::<Option<Vec<Flag>>>()
        .map_err(|e| stored("flags", e))?
        .unwrap_or_default();
    Ok(ReconItemView {
        id: record.id,
        class,
        reason: item.reason,
        match_key: item.match_key,
        payment_ids: item.payment_ids,
        provider_rows,
        ours: item.ours,
        theirs: item.theirs,
        ours_reversed: item.ours_reversed,
        theirs_reversed: item.theirs_reversed,
        proposal: item.proposal,
        flags,
        resolution: record.resolution,
        resolution_reason: record.resolution_reason,
        resolution_payment_id: record.resolution_payment_id,
        resolved_by: record.resolved_by,
        resolved_at: record.resolved_at,
    })
}

/// Items on a page of a run when the caller names no number.
pub const RUN_ITEMS_DEFAULT: u32 = 200;
/// Most items on a page of a run.
pub const RUN_ITEMS_MAX: u32 = 1000;

/// Which of a run's items a read returns.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ItemsQuery {
    /// A class, `exceptions` (every class but `matched`), or `None` for every item.
    pub class: Option<String>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
    /// Items on the page, 1 to [`RUN_ITEMS_MAX`]; [`RUN_ITEMS_DEFAULT`] when `None`.
    pub limit: Option<u32>,
}

impl ItemsQuery {
    /// The first page of the items of one class (or `exceptions`).
    pub fn class(class: &str) -> Self {
        Self {
            class: Some(class.to_owned()),
            ..Self::default()
        }
    }
}

/// The cursor of the page that starts after the item at `seq`.
fn cursor_after(seq: i64) -> String {
    seq.to_string()
}

/// The cursor of the page of a run's items that starts with the item `item_id` (`None`
/// when that is the first page): where to show a person the item they just decided.
pub(crate) async fn cursor_at(
    service: &PaymentService,
    company_id: &str,
    run_id: &str,
    item_id: &str,
) -> Result<Option<String>, ServiceError> {
    let item = service
        .inner
        .store
        .get_recon_item(company_id, run_id, item_id)
        .await?;
    Ok((item.seq > 0).then(|| cursor_after(item.seq - 1)))
}

/// A run of the company with a page of its items.
pub(crate) async fn get_run(
    service: &PaymentService,
    company_id: &str,
    run_id: &str,
    query: &ItemsQuery,
) -> Result<ReconRunView, ServiceError> {
    let filter = match query.class.as_deref() {
        None => ItemFilter::All,
        Some("exceptions") => ItemFilter::Exceptions,
        Some(class) => match Class::parse(class) {
            Some(c) => ItemFilter::Class(c.as_str()),
            None => return Err(ServiceError::validation("class", "unknown class")),
        },
    };
    let limit = query.limit.unwrap_or(RUN_ITEMS_DEFAULT);
    if !(1..=RUN_ITEMS_MAX).contains(&limit) {
        return Err(ServiceError::validation("limit", "1 to 1000"));
    }
    let after = match query.cursor.as_deref() {
        None => None,
        Some(cursor) => Some(
            cursor
                .parse::<i64>()
                .ok()
                .filter(|seq| *seq >= 0)
                .ok_or_else(|| ServiceError::validation("cursor", "not a cursor from this API"))?,
        ),
    };
    let store = &service.inner.store;
    let run = store.get_recon_run(company_id, run_id).await?;
    // One more than the page shows says whether another page follows.
    let (mut page, open_exceptions) = tokio::try_join!(
        store.recon_items_page(company_id, run_id, filter, after, limit + 1),
        store.count_open_recon_exceptions(company_id, run_id),
    )?;
    let next_cursor = if page.len() > limit as usize {
        page.truncate(limit as usize);
        page.last().map(|item| cursor_after(item.seq))
    } else {
        None
    };
    let items = page.into_iter().map(item_view).collect::<Result<_, _>>()?;
    let summary = serde_json::from_value(run.summary["counts"].clone()).unwrap_or_default();
    let rejected_rows =
        serde_json::from_value(run.summary["rejected_rows"].clone()).unwrap_or_default();
    let totals = serde_json::from_value(run.summary["totals"].clone()).unwrap_or_default();
    Ok(ReconRunView {
        id: run.id,
        pos_id: run.pos_id,
        source: run.source,
        from: run.period_from,
        to: run.period_to,
        status: run.status,
        summary,
        open_exceptions,
        totals,
        rejected_rows,
        items,
        next_cursor,
        created_by: run.created_by,
        created_at: run.created_at,
    })
}

/// The company's latest runs, newest first.
pub(crate) async fn list_runs(
    service: &PaymentService,
    company_id: &str,
    limit: u32,
) -> Result<Vec<ReconRunEntry>, ServiceError> {
    let runs = service
        .inner
        .store
        .list_recon_runs(company_id, limit.clamp(1, 200))
        .await?;
    Ok(runs
        .into_iter()
        .map(|run| ReconRunEntry {
            summary: serde_json::from_value(run.summary["counts"].clone()).unwrap_or_default(),
            id: run.id,
            pos_id: run.pos_id,
            source: run.source,
            from: run.period_from,
            to: run.period_to,
            status: run.status,
            created_by: run.created_by,
            created_at: run.created_at,
        })
        .collect())
}
