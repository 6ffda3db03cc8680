//! Reconciliation runs and their items.
//!
//! A run is stored with all of its items and its `recon.run` audit event in one
//! transaction. Items carry a stable `item_key`: when a period is run again, an
//! exception whose key was resolved before takes that decision over, so a person never
//! decides the same thing twice. Resolving an item (and, for "enter the missing
//! transaction", inserting the payment) is one transaction with its audit event.
//!
//! The store keeps classes, reasons and resolutions as text; the service owns their
//! meaning.

use std::collections::HashMap;
use std::sync::Arc;

use sqlx::any::AnyRow;
use sqlx::AnyConnection;

use sanalpos_core::Kurus;

use crate::audit::append;
use crate::model::{NewAudit, PaymentRecord};
use crate::payments::{insert_payment, payment_from};
use crate::rows::{int, json, money, opt_int, opt_text, text, to_json};
use crate::{Store, StoreError};

/// A reconciliation run as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct ReconRunRecord {
    /// `rcn_…`.
    pub id: String,
    /// Owner.
    pub company_id: String,
    /// The POS reconciled.
    pub pos_id: String,
    /// `pull` (report API) or `import` (statement file).
    pub source: String,
    /// First business day, `YYYY-MM-DD`.
    pub period_from: String,
    /// Last business day, `YYYY-MM-DD`.
    pub period_to: String,
    /// `completed`.
    pub status: String,
    /// Counts, totals per class and rows that could not be used (JSON).
    pub summary: serde_json::Value,
    /// `api:<key>`, `user:<name>`.
    pub created_by: String,
    /// Unix milliseconds.
    pub created_at: i64,
}

/// A JSON document kept as its compact text, as it is stored: a run's items hold their
/// provider rows and flags this way from building to storing, and are read back so. A
/// `serde_json::Value` tree of the same rows (with this workspace's serde features an
/// ordered map, and a string for every number) took about ten times the room: 3.5 KiB a
/// row against about 400 bytes of text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JsonText(String);

impl JsonText {
    /// `value` as JSON text.
    pub fn of<T: serde::Serialize + ?Sized>(value: &T) -> Result<Self, serde_json::Error> {
        serde_json::to_string(value).map(Self)
    }

    /// The document read as a `T`.
    pub fn parse<T: serde::de::DeserializeOwned>(&self) -> Result<T, serde_json::Error> {
        serde_json::from_str(&self.0)
    }

    /// The text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl From<serde_json::Value> for JsonText {
    fn from(value: serde_json::Value) -> Self {
        Self(value.to_string())
    }
}

/// An item to store with its run.
#[derive(Debug, Clone, PartialEq)]
pub struct NewReconItem {
    /// Stable across runs of the same period: decisions carry over by it.
    pub item_key: String,
    /// `matched`, `amount_mismatch`, …
    pub class: String,
    /// Why, for a person.
    pub reason: String,
    /// The key that tied both sides.
    pub match_key: Option<String>,
    /// Our payments in the item.
    pub payment_ids: Vec<String>,
    /// The normalized provider rows (JSON array; masked card numbers only).
    pub provider_rows: JsonText,
    /// Our amount.
    pub ours: Kurus,
    /// Their amount.
    pub theirs: Kurus,
    /// What we reversed.
    pub ours_reversed: Kurus,
    /// What they reversed.
    pub theirs_reversed: Kurus,
    /// A payment proposed for a provider-only row.
    pub proposal: Option<String>,
    /// Commission and value-date flags (JSON array).
    pub flags: JsonText,
}

/// An item as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct ReconItemRecord {
    /// `rci_…`.
    pub id: String,
    /// The run.
    pub run_id: String,
    /// Owner.
    pub company_id: String,
    /// Order within the run.
    pub seq: i64,
    /// The item as built.
    pub item: NewReconItem,
    /// `entered`, `force_matched`, `dismissed`, or `None` while open.
    pub resolution: Option<String>,
    /// The person's reason.
    pub resolution_reason: Option<String>,
    /// The payment entered or force-matched.
    pub resolution_payment_id: Option<String>,
    /// Who decided.
    pub resolved_by: Option<String>,
    /// When, Unix milliseconds.
    pub resolved_at: Option<i64>,
}

/// The condition that run `$1` is company `$2`'s, for the queries of a run's items.
/// Asked of the run (once per query, by its key) rather than of each item's
/// `company_id`: with the latter, PostgreSQL without statistics of the items (right
/// after a large run is written, or with autovacuum off) combined the run's index with
/// the company's and read every item of the run for a page (60-110 ms at 200,000
/// items, against 0.1-0.3 ms by the run's own index).
const OF_THE_COMPANY: &str =
    "EXISTS (SELECT 1 FROM recon_runs WHERE recon_runs.id = $1 AND recon_runs.company_id = $2)";

/// The query of a page of a run's items, after `prefix` (empty, or an `EXPLAIN`). The
/// exceptions' filters name `class <> 'matched'` so that both engines see that the
/// partial index of the exceptions (migration 17) holds every row they want.
fn items_page_sql(prefix: &str, filter: ItemFilter<'_>, limit: u32) -> String {
    let class = match filter {
        ItemFilter::All => "",
        ItemFilter::Exceptions => " AND class <> 'matched'",
        ItemFilter::Class("matched") => " AND class = $4",
        ItemFilter::Class(_) => " AND class <> 'matched' AND class = $4",
    };
    format!(
        "{prefix}SELECT * FROM recon_items WHERE run_id = $1 AND {OF_THE_COMPANY} AND seq > $3{class} \
         ORDER BY seq LIMIT {}",
        limit.max(1)
    )
}

/// [`items_page_sql`]'s query with its parameters.
fn bind_items_page<'q>(
    sql: &'q str,
    company_id: &'q str,
    run_id: &'q str,
    filter: ItemFilter<'q>,
    after: Option<i64>,
) -> sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>> {
    let query = sqlx::query(sql)
        .bind(run_id)
        .bind(company_id)
        .bind(after.unwrap_or(i64::MIN));
    match filter {
        ItemFilter::Class(class) => query.bind(class),
        ItemFilter::All | ItemFilter::Exceptions => query,
    }
}

/// Which of a run's items a page holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ItemFilter<'a> {
    /// Every item.
    All,
    /// Every item that is not matched.
    Exceptions,
    /// The items of one class (`matched`, `amount_mismatch`, …).
    Class(&'a str),
}

/// A decision on an open item.
#[derive(Debug, Clone, PartialEq)]
pub struct ReconResolution {
    /// Owner.
    pub company_id: String,
    /// The run.
    pub run_id: String,
    /// The item.
    pub item_id: String,
    /// `entered`, `force_matched`, `dismissed`.
    pub resolution: String,
    /// The person's reason.
    pub reason: Option<String>,
    /// The payment entered or force-matched.
    pub payment_id: Option<String>,
    /// A payment to insert with the decision (enter the missing transaction).
    pub new_payment: Option<PaymentRecord>,
    /// Who.
    pub resolved_by: String,
    /// When, Unix milliseconds.
    pub resolved_at: i64,
    /// The audit event (with the state before).
    pub audit: NewAudit,
}

fn run_from(row: &AnyRow) -> Result<ReconRunRecord, StoreError> {
    Ok(ReconRunRecord {
        id: text(row, "id")?,
        company_id: text(row, "company_id")?,
        pos_id: text(row, "pos_id")?,
        source: text(row, "source")?,
        period_from: text(row, "period_from")?,
        period_to: text(row, "period_to")?,
        status: text(row, "status")?,
        summary: json(row, "summary")?,
        created_by: text(row, "created_by")?,
        created_at: int(row, "created_at")?,
    })
}

fn item_from(row: &AnyRow) -> Result<ReconItemRecord, StoreError> {
    Ok(ReconItemRecord {
        id: text(row, "id")?,
        run_id: text(row, "run_id")?,
        company_id: text(row, "company_id")?,
        seq: int(row, "seq")?,
        item: NewReconItem {
            item_key: text(row, "item_key")?,
            class: text(row, "class")?,
            reason: text(row, "reason")?,
            match_key: opt_text(row, "match_key")?,
            payment_ids: json(row, "payment_ids")?,
            provider_rows: JsonText(text(row, "provider_rows")?),
            ours: money(row, "ours")?,
            theirs: money(row, "theirs")?,
            ours_reversed: money(row, "ours_reversed")?,
            theirs_reversed: money(row, "theirs_reversed")?,
            proposal: opt_text(row, "proposal")?,
            flags: JsonText(text(row, "flags")?),
        },
        resolution: opt_text(row, "resolution")?,
        resolution_reason: opt_text(row, "resolution_reason")?,
        resolution_payment_id: opt_text(row, "resolution_payment_id")?,
        resolved_by: opt_text(row, "resolved_by")?,
        resolved_at: opt_int(row, "resolved_at")?,
    })
}

/// An earlier decision: resolution, reason, payment, who, when.
type Decision = (String, Option<String>, Option<String>, String, i64);

type RunWithItems = (ReconRunRecord, Vec<NewReconItem>, NewAudit);

/// The status of a run whose items are still being written: such a run is shown
/// nowhere (the queries that read runs name it as the literal `'writing'`).
pub(crate) const RUN_WRITING: &str = "writing";
/// Items one write of the database writer takes: a run of more is written in parts,
/// each a background write (`Db::write_background`). A payment waits for at most one
/// part: with 500 items a part, payments at 500/s beside a 200,000-row import waited
/// 63-64 ms at the median, with 200 items 26-31 ms, for an import 0-3 s longer.
const ITEMS_PER_WRITE: usize = 200;

/// Deletes a run still `writing` and its items; whether there was one.
async fn delete_run_if_writing(conn: &mut AnyConnection, run_id: &str) -> Result<bool, StoreError> {
    // The items first: they point at the run.
    sqlx::query(
        "DELETE FROM recon_items WHERE run_id = $1 \
         AND EXISTS (SELECT 1 FROM recon_runs WHERE id = $1 AND status = $2)",
    )
    .bind(run_id)
    .bind(RUN_WRITING)
    .execute(&mut *conn)
    .await?;
    let gone = sqlx::query("DELETE FROM recon_runs WHERE id = $1 AND status = $2")
        .bind(run_id)
        .bind(RUN_WRITING)
        .execute(&mut *conn)
        .await?;
    Ok(gone.rows_affected() == 1)
}

/// Columns of one `recon_items` row as the run insert writes it.
const ITEM_COLUMNS: usize = 21;
/// Items one `INSERT` writes: 400 × 21 parameters, under SQLite's 32,766.
const ITEMS_PER_INSERT: usize = 400;
/// Item keys one look-up of earlier decisions asks for.
const KEYS_PER_LOOKUP: usize = 500;

/// The latest decision on each of `keys` in the company's earlier runs, by item key.
async fn earlier_decisions(
    conn: &mut AnyConnection,
    company_id: &str,
    keys: &[&str],
    postgres: bool,
) -> Result<HashMap<String, Decision>, StoreError> {
    let mut found: HashMap<String, Decision> = HashMap::new();
    for chunk in keys.chunks(KEYS_PER_LOOKUP) {
        let list = if postgres {
            (2..chunk.len() + 2)
                .map(|n| format!("${n}"))
                .collect::<Vec<_>>()
                .join(", ")
        } else {
            vec!["?"; chunk.len()].join(", ")
        };
        let sql = format!(
            "SELECT item_key, resolution, resolution_reason, resolution_payment_id, resolved_by, \
             resolved_at FROM recon_items WHERE company_id = {} AND item_key IN ({list}) \
             AND resolution IS NOT NULL",
            if postgres { "$1" } else { "?" }
        );
        let mut query = sqlx::query_as::<
            _,
            (String, String, Option<String>, Option<String>, String, i64),
        >(&sql)
        .bind(company_id);
        for key in chunk {
            query = query.bind(*key);
        }
        for (key, resolution, reason, payment, by, at) in query.fetch_all(&mut *conn).await? {
            match found.get(&key) {
                Some(held) if held.4 >= at => {}
                _ => {
                    found.insert(key, (resolution, reason, payment, by, at));
                }
            }
        }
    }
    Ok(found)
}

/// Writes a whole run in one transaction: the run, its items, its webhook event and its
/// audit event.
async fn insert_run(conn: &mut AnyConnection, data: &RunWithItems) -> Result<(), StoreError> {
    let (run, items, audit) = data;
    insert_run_row(conn, run, &run.status).await?;
    let postgres = crate::db::is_postgres(conn);
    let earlier =
        earlier_decisions(conn, &run.company_id, &exception_keys(items), postgres).await?;
    let open_exceptions = insert_items(conn, run, 0, items, &earlier).await?;
    announce_run(conn, run, open_exceptions, audit).await
}

async fn insert_run_row(
    conn: &mut AnyConnection,
    run: &ReconRunRecord,
    status: &str,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO recon_runs (id, company_id, pos_id, source, period_from, period_to, status, \
         summary, created_by, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
    )
    .bind(&run.id)
    .bind(&run.company_id)
    .bind(&run.pos_id)
    .bind(&run.source)
    .bind(&run.period_from)
    .bind(&run.period_to)
    .bind(status)
    .bind(to_json(&run.summary)?)
    .bind(&run.created_by)
    .bind(run.created_at)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// The keys of the exceptions among `items`: an exception decided in an earlier run of
/// the same period keeps its decision.
fn exception_keys(items: &[NewReconItem]) -> Vec<&str> {
    items
        .iter()
        .filter(|item| item.class != "matched")
        .map(|item| item.item_key.as_str())
        .collect()
}

/// Writes `items` as the run's items from `first_seq` on, each exception with its
/// decision in `earlier` if it has one; the exceptions among them left open.
async fn insert_items(
    conn: &mut AnyConnection,
    run: &ReconRunRecord,
    first_seq: usize,
    items: &[NewReconItem],
    earlier: &HashMap<String, Decision>,
) -> Result<u64, StoreError> {
    let postgres = crate::db::is_postgres(conn);
    let mut open_exceptions = 0u64;
    // Many rows a statement: a run of a large statement holds the single writer (and so
    // every payment's commit) while it is written, one statement per item took seconds
    // per 100,000 items.
    for (chunk_no, chunk) in items.chunks(ITEMS_PER_INSERT).enumerate() {
        let sql = format!(
            "INSERT INTO recon_items (id, run_id, company_id, seq, item_key, class, reason, match_key, \
             payment_ids, provider_rows, ours, theirs, ours_reversed, theirs_reversed, proposal, flags, \
             resolution, resolution_reason, resolution_payment_id, resolved_by, resolved_at) VALUES {}",
            crate::db::values(postgres, chunk.len(), ITEM_COLUMNS)
        );
        let mut query = sqlx::query(&sql);
        for (i, item) in chunk.iter().enumerate() {
            let seq = first_seq + chunk_no * ITEMS_PER_INSERT + i;
            let decision = (item.class != "matched")
                .then(|| earlier.get(item.item_key.as_str()))
                .flatten();
            if item.class != "matched" && decision.is_none() {
                open_exceptions += 1;
            }
            let (resolution, reason, payment_id, by, at) = match decision {
                Some((r, reason, p, by, at)) => (
                    Some(r.as_str()),
                    reason.as_deref(),
                    p.as_deref(),
                    Some(by.as_str()),
                    Some(*at),
                ),
                None => (None, None, None, None, None),
            };
            query = query
                .bind(crate::new_id("rci"))
                .bind(&run.id)
                .bind(&run.company_id)
                .bind(i64::try_from(seq).map_err(|_| StoreError::corrupt("too many items"))?)
                .bind(&item.item_key)
                .bind(&item.class)
                .bind(&item.reason)
                .bind(&item.match_key)
                .bind(to_json(&item.payment_ids)?)
                .bind(item.provider_rows.as_str())
                .bind(item.ours.minor())
                .bind(item.theirs.minor())
                .bind(item.ours_reversed.minor())
                .bind(item.theirs_reversed.minor())
                .bind(&item.proposal)
                .bind(item.flags.as_str())
                .bind(resolution)
                .bind(reason)
                .bind(payment_id)
                .bind(by)
                .bind(at);
        }
        query.execute(&mut *conn).await?;
    }
    Ok(open_exceptions)
}

/// The run's webhook event (when exceptions are open) and audit event.
async fn announce_run(
    conn: &mut AnyConnection,
    run: &ReconRunRecord,
    open_exceptions: u64,
    audit: &NewAudit,
) -> Result<(), StoreError> {
    if open_exceptions > 0 {
        // The webhook outbox, in the run's transaction.
        let data = serde_json::json!({ "reconciliation": {
            "id": run.id, "pos_id": run.pos_id, "source": run.source,
            "from": run.period_from, "to": run.period_to, "summary": run.summary,
            "open_exceptions": open_exceptions,
        }});
        let event = crate::outbox::NewEvent {
            company_id: run.company_id.clone(),
            kind: "reconciliation.exceptions".into(),
            subject_id: run.id.clone(),
            data,
        };
        crate::outbox::write(conn, &event, run.created_at).await?;
    }
    append(conn, audit).await
}

async fn resolve(conn: &mut AnyConnection, r: &ReconResolution) -> Result<(), StoreError> {
    if let Some(payment) = &r.new_payment {
        insert_payment(conn, payment).await?;
    }
    let changed = sqlx::query(
        "UPDATE recon_items SET resolution = $1, resolution_reason = $2, resolution_payment_id = $3, \
         resolved_by = $4, resolved_at = $5 \
         WHERE id = $6 AND run_id = $7 AND company_id = $8 AND resolution IS NULL",
    )
    .bind(&r.resolution)
    .bind(&r.reason)
    .bind(&r.payment_id)
    .bind(&r.resolved_by)
    .bind(r.resolved_at)
    .bind(&r.item_id)
    .bind(&r.run_id)
    .bind(&r.company_id)
    .execute(&mut *conn)
    .await?
    .rows_affected();
    if changed == 0 {
        return Err(StoreError::Conflict {
            code: "already_resolved",
            message: "the item was resolved already".into(),
        });
    }
    append(conn, &r.audit).await
}

/// A large run being written a part at a time: [`Store::begin_recon_run`], then
/// [`Store::write_recon_items`] for each part, then [`Store::finish_recon_run`] (or
/// [`Store::abandon_recon_run`]). Until it is finished the run is hidden (`writing`);
/// an instance that stops before that leaves it to
/// [`Store::purge_unfinished_recon_runs`].
#[derive(Debug)]
#[must_use = "the run stays hidden until finish_recon_run shows it"]
pub struct RunWriting {
    run: Arc<ReconRunRecord>,
    /// The decisions of earlier runs on this run's exceptions, by item key.
    earlier: Arc<HashMap<String, Decision>>,
    /// The next item's `seq`.
    next_seq: usize,
    /// Exceptions written so far without an earlier decision.
    open_exceptions: u64,
}

impl Store {
    /// Stores a run, its items (taking over decisions made on the same items before)
    /// and its audit event, in one transaction; a run of more than a write's items goes
    /// in parts as [`RunWriting`] describes, shown once all of it is written.
    pub async fn insert_recon_run(
        &self,
        run: ReconRunRecord,
        items: Vec<NewReconItem>,
        audit: NewAudit,
    ) -> Result<(), StoreError> {
        if items.len() <= ITEMS_PER_WRITE {
            return self
                .db
                .write_for(
                    vec![audit.company_id.clone()],
                    (run, items, audit),
                    |c, d| Box::pin(insert_run(c, d)),
                )
                .await;
        }
        let mut writing = self.begin_recon_run(run, &exception_keys(&items)).await?;
        let written = self.write_recon_items(&mut writing, items).await;
        match written {
            Ok(()) => self.finish_recon_run(writing, audit).await,
            Err(e) => {
                self.abandon_recon_run(writing).await;
                Err(e)
            }
        }
    }

    /// Starts a run written in parts: its row, hidden while `writing`, and the
    /// decisions taken in earlier runs on the items whose keys are `exception_keys` (the
    /// keys of every item of the run that is not `matched`).
    pub async fn begin_recon_run(
        &self,
        run: ReconRunRecord,
        exception_keys: &[&str],
    ) -> Result<RunWriting, StoreError> {
        // The earlier decisions are read once, before the first part, outside the writer:
        // read part by part in the writer, each look-up searched a table growing by the
        // run's own items (on PostgreSQL, with statistics from before the run, 10 ms per
        // look-up at the start of a 200,000-item run and growing, a writer held for minutes).
        // Only earlier runs hold decisions, so they are read before the run is written.
        let earlier = {
            let mut conn = self.db.read.acquire().await?;
            let postgres = self.db.engine == crate::db::Engine::Postgres;
            earlier_decisions(&mut conn, &run.company_id, exception_keys, postgres).await?
        };
        let run = Arc::new(run);
        self.db
            .write(run.clone(), |c, run| {
                Box::pin(insert_run_row(c, run, RUN_WRITING))
            })
            .await?;
        Ok(RunWriting {
            run,
            earlier: Arc::new(earlier),
            next_seq: 0,
            open_exceptions: 0,
        })
    }

    /// Writes the next items of a run started with [`Store::begin_recon_run`], in
    /// writes of a few hundred items each, so that payments commit between them instead
    /// of waiting for all of it. An error leaves the run for
    /// [`Store::abandon_recon_run`].
    pub async fn write_recon_items(
        &self,
        writing: &mut RunWriting,
        items: Vec<NewReconItem>,
    ) -> Result<(), StoreError> {
        let mut items = items.into_iter();
        loop {
            let part: Vec<NewReconItem> = items.by_ref().take(ITEMS_PER_WRITE).collect();
            if part.is_empty() {
                return Ok(());
            }
            let count = part.len();
            writing.open_exceptions += self
                .db
                .write_background(
                    Vec::new(),
                    (
                        writing.run.clone(),
                        writing.next_seq,
                        part,
                        writing.earlier.clone(),
                    ),
                    |c, (run, first, part, earlier)| {
                        Box::pin(insert_items(c, run, *first, part, earlier))
                    },
                )
                .await?;
            writing.next_seq += count;
        }
    }

    /// Shows a run written in parts: its status, webhook event (when exceptions are
    /// open) and audit event, in one transaction. On failure nothing of the run stays.
    pub async fn finish_recon_run(
        &self,
        writing: RunWriting,
        audit: NewAudit,
    ) -> Result<(), StoreError> {
        if self.db.engine == crate::Engine::Postgres {
            // What autovacuum would do after so many rows, at once: the run's pages
            // and counts are read right after, and a server without fresh statistics
            // (autovacuum off or not yet round) plans them as if the table were empty.
            // Worth 0.1-0.2 s after a run of thousands of items; a failure only leaves
            // the statistics as they were.
            if let Err(e) = sqlx::query("ANALYZE recon_items")
                .execute(&self.db.read)
                .await
            {
                tracing::warn!(error = %e, "ANALYZE recon_items after a large run failed");
            }
        }
        let chains = vec![audit.company_id.clone()];
        let shown = self
            .db
            .write_for(
                chains,
                (writing.run.clone(), writing.open_exceptions, audit),
                |c, (run, open, audit)| {
                    Box::pin(async move {
                        let shown = sqlx::query(
                            "UPDATE recon_runs SET status = $1 WHERE id = $2 AND status = $3",
                        )
                        .bind(&run.status)
                        .bind(&run.id)
                        .bind(RUN_WRITING)
                        .execute(&mut *c)
                        .await?;
                        if shown.rows_affected() != 1 {
                            return Err(StoreError::Conflict {
                                code: "run_gone",
                                message: "the run was taken away while it was written".into(),
                            });
                        }
                        announce_run(c, run, *open, audit).await
                    })
                },
            )
            .await;
        if shown.is_err() {
            self.abandon_recon_run(writing).await;
        }
        shown
    }

    /// Takes away a run written in parts that will not be finished, with the items
    /// written so far. Should that fail too, the hidden run is left to
    /// [`Store::purge_unfinished_recon_runs`].
    pub async fn abandon_recon_run(&self, writing: RunWriting) {
        let id = writing.run.id.clone();
        if let Err(e) = self
            .db
            .write(id, |c, id| Box::pin(delete_run_if_writing(c, id)))
            .await
        {
            tracing::warn!(run = %writing.run.id, error = %e, "a run left unfinished could not be taken away");
        }
    }

    /// Takes away runs still `writing` that were started before `before` (ms): what an
    /// instance that stopped in the middle of writing a large run left behind. Never
    /// shown, they are only space. Returns how many went.
    pub async fn purge_unfinished_recon_runs(&self, before: i64) -> Result<u64, StoreError> {
        let stale: Vec<String> =
            sqlx::query_scalar("SELECT id FROM recon_runs WHERE status = $1 AND created_at < $2")
                .bind(RUN_WRITING)
                .bind(before)
                .fetch_all(&self.db.read)
                .await?;
        let mut purged = 0;
        for id in stale {
            purged += u64::from(
                self.db
                    .write(id, |c, id| Box::pin(delete_run_if_writing(c, id)))
                    .await?,
            );
        }
        Ok(purged)
    }

    /// One run of a company.
    pub async fn get_recon_run(
        &self,
        company_id: &str,
        id: &str,
    ) -> Result<ReconRunRecord, StoreError> {
        let row = sqlx::query(
            "SELECT * FROM recon_runs WHERE id = $1 AND company_id = $2 AND status <> 'writing'",
        )
        .bind(id)
        .bind(company_id)
        .fetch_optional(&self.db.read)
        .await?
        .ok_or(StoreError::NotFound)?;
        run_from(&row)
    }

    /// A company's runs, newest first.
    pub async fn list_recon_runs(
        &self,
        company_id: &str,
        limit: u32,
    ) -> Result<Vec<ReconRunRecord>, StoreError> {
        let rows = sqlx::query(
            "SELECT * FROM recon_runs WHERE company_id = $1 AND status <> 'writing' \
             ORDER BY created_at DESC, id DESC LIMIT $2",
        )
        .bind(company_id)
        .bind(i64::from(limit.max(1)))
        .fetch_all(&self.db.read)
        .await?;
        rows.iter().map(run_from).collect()
    }

    /// The newest run of a POS for exactly this period, source and creator, if any: how
    /// the end-of-day job knows a day is already done.
    pub async fn find_recon_run(
        &self,
        pos_id: &str,
        source: &str,
        period_from: &str,
        period_to: &str,
        created_by: &str,
    ) -> Result<Option<ReconRunRecord>, StoreError> {
        let row = sqlx::query(
            "SELECT * FROM recon_runs WHERE pos_id = $1 AND source = $2 AND period_from = $3 \
             AND period_to = $4 AND created_by = $5 AND status <> 'writing' ORDER BY created_at DESC, id DESC LIMIT 1",
        )
        .bind(pos_id)
        .bind(source)
        .bind(period_from)
        .bind(period_to)
        .bind(created_by)
        .fetch_optional(&self.db.read)
        .await?;
        row.as_ref().map(run_from).transpose()
    }

    /// A run's items in order, optionally of one class.
    pub async fn list_recon_items(
        &self,
        company_id: &str,
        run_id: &str,
        class: Option<&str>,
    ) -> Result<Vec<ReconItemRecord>, StoreError> {
        let rows = match class {
            Some(class) => {
                sqlx::query(
                    "SELECT * FROM recon_items WHERE run_id = $1 AND company_id = $2 AND class = $3 ORDER BY seq",
                )
                .bind(run_id)
                .bind(company_id)
                .bind(class)
                .fetch_all(&self.db.read)
                .await?
            }
            None => {
                sqlx::query(
                    "SELECT * FROM recon_items WHERE run_id = $1 AND company_id = $2 ORDER BY seq",
                )
                .bind(run_id)
                .bind(company_id)
                .fetch_all(&self.db.read)
                .await?
            }
        };
        rows.iter().map(item_from).collect()
    }

    /// A page of a run's items in order: those `filter` lets through after `after`
    /// (an item's `seq`; `None` from the start), at most `limit`. The exceptions are
    /// read through their own index, so a page of a large run's exceptions does not
    /// walk its matched items.
    pub async fn recon_items_page(
        &self,
        company_id: &str,
        run_id: &str,
        filter: ItemFilter<'_>,
        after: Option<i64>,
        limit: u32,
    ) -> Result<Vec<ReconItemRecord>, StoreError> {
        let sql = items_page_sql("", filter, limit);
        let rows = bind_items_page(&sql, company_id, run_id, filter, after)
            .fetch_all(&self.db.read)
            .await?;
        rows.iter().map(item_from).collect()
    }

    /// The database's plan of [`Store::recon_items_page`] (SQLite `EXPLAIN QUERY PLAN`,
    /// PostgreSQL `EXPLAIN`), one line per step: to check which index a filter reads.
    pub async fn explain_recon_items_page(
        &self,
        company_id: &str,
        run_id: &str,
        filter: ItemFilter<'_>,
    ) -> Result<Vec<String>, StoreError> {
        let (prefix, column) = match self.db.engine {
            crate::Engine::Sqlite => ("EXPLAIN QUERY PLAN ", "detail"),
            crate::Engine::Postgres => ("EXPLAIN ", "QUERY PLAN"),
        };
        let sql = items_page_sql(prefix, filter, 200);
        let rows = bind_items_page(&sql, company_id, run_id, filter, None)
            .fetch_all(&self.db.read)
            .await?;
        rows.iter().map(|row| text(row, column)).collect()
    }

    /// How many of a run's exceptions wait for a decision.
    pub async fn count_open_recon_exceptions(
        &self,
        company_id: &str,
        run_id: &str,
    ) -> Result<u64, StoreError> {
        let sql = format!(
            "SELECT COUNT(*) AS n FROM recon_items WHERE run_id = $1 AND {OF_THE_COMPANY} \
             AND class <> 'matched' AND resolution IS NULL"
        );
        let row = sqlx::query(&sql)
            .bind(run_id)
            .bind(company_id)
            .fetch_one(&self.db.read)
            .await?;
        Ok(u64::try_from(int(&row, "n")?).unwrap_or(0))
    }

    /// The payments a run has spoken for: those of its matched items and those a
    /// decision entered or force-matched. Reads no item's provider rows.
    pub async fn recon_taken_payments(
        &self,
        company_id: &str,
        run_id: &str,
    ) -> Result<Vec<String>, StoreError> {
        let sql = format!(
            "SELECT class, payment_ids, resolution_payment_id FROM recon_items \
             WHERE run_id = $1 AND {OF_THE_COMPANY} \
             AND (class = 'matched' OR resolution_payment_id IS NOT NULL)"
        );
        let rows = sqlx::query(&sql)
            .bind(run_id)
            .bind(company_id)
            .fetch_all(&self.db.read)
            .await?;
        let mut taken = Vec::with_capacity(rows.len());
        for row in &rows {
            if text(row, "class")? == "matched" {
                let ids: Vec<String> = json(row, "payment_ids")?;
                taken.extend(ids);
            }
            taken.extend(opt_text(row, "resolution_payment_id")?);
        }
        Ok(taken)
    }

    /// One item of a run of a company.
    pub async fn get_recon_item(
        &self,
        company_id: &str,
        run_id: &str,
        item_id: &str,
    ) -> Result<ReconItemRecord, StoreError> {
        let row = sqlx::query(
            "SELECT * FROM recon_items WHERE id = $1 AND run_id = $2 AND company_id = $3",
        )
        .bind(item_id)
        .bind(run_id)
        .bind(company_id)
        .fetch_optional(&self.db.read)
        .await?
        .ok_or(StoreError::NotFound)?;
        item_from(&row)
    }

    /// The items of a run of a company among `item_ids`, in the run's order, in one
    /// query (an id not of the run is left out).
    pub async fn get_recon_items(
        &self,
        company_id: &str,
        run_id: &str,
        item_ids: &[&str],
    ) -> Result<Vec<ReconItemRecord>, StoreError> {
        if item_ids.is_empty() {
            return Ok(Vec::new());
        }
        let ids: Vec<String> = (3..item_ids.len() + 3).map(|n| format!("${n}")).collect();
        let sql = format!(
            "SELECT * FROM recon_items WHERE run_id = $1 AND company_id = $2 AND id IN ({}) \
             ORDER BY seq",
            ids.join(", ")
        );
        let mut query = sqlx::query(&sql).bind(run_id).bind(company_id);
        for id in item_ids {
            query = query.bind(*id);
        }
        query
            .fetch_all(&self.db.read)
            .await?
            .iter()
            .map(item_from)
            .collect()
    }

    /// Records a decision on an open item (inserting the entered payment, if any) with
    /// its audit event; `Conflict already_resolved` when it was decided meanwhile.
    pub async fn resolve_recon_item(&self, resolution: ReconResolution) -> Result<(), StoreError> {
        let chains = vec![resolution.audit.company_id.clone()];
        self.db
            .write_for(chains, resolution, |c, r| Box::pin(resolve(c, r)))
            .await
    }

    /// A company's payments of one POS and one amount whose business day is in
    /// `[from, to]` (`YYYY-MM-DD`), oldest first: what a force-match may offer for a
    /// statement line of that amount.
    pub async fn payments_of_amount(
        &self,
        company_id: &str,
        pos_id: &str,
        amount: Kurus,
        (from, to): (&str, &str),
    ) -> Result<Vec<PaymentRecord>, StoreError> {
        let rows = sqlx::query(
            "SELECT * FROM payments WHERE company_id = $1 AND amount = $2 AND pos_id = $3 \
             AND business_date >= $4 AND business_date <= $5 ORDER BY created_at, id",
        )
        .bind(company_id)
        .bind(amount.minor())
        .bind(pos_id)
        .bind(from)
        .bind(to)
        .fetch_all(&self.db.read)
        .await?;
        rows.iter().map(payment_from).collect()
    }

    /// A company's payments of one POS whose business day is in `[from, to]`
    /// (`YYYY-MM-DD`), plus older ones with a cancel or refund created in
    /// `[refunds_from, refunds_to)` (Unix ms), for reconciliation.
    pub async fn payments_for_recon(
        &self,
        company_id: &str,
        pos_id: &str,
        (from, to): (&str, &str),
        (refunds_from, refunds_to): (i64, i64),
    ) -> Result<Vec<PaymentRecord>, StoreError> {
        let rows = sqlx::query(
            "SELECT * FROM payments WHERE company_id = $1 AND pos_id = $2 \
             AND ((business_date >= $3 AND business_date <= $4) \
             OR id IN (SELECT payment_id FROM refunds WHERE company_id = $5 \
             AND created_at >= $6 AND created_at < $7)) ORDER BY id",
        )
        .bind(company_id)
        .bind(pos_id)
        .bind(from)
        .bind(to)
        .bind(company_id)
        .bind(refunds_from)
        .bind(refunds_to)
        .fetch_all(&self.db.read)
        .await?;
        rows.iter().map(payment_from).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::JsonText;

    #[test]
    fn json_text_keeps_the_compact_text_and_reads_it_back() {
        let rows = vec![("IKSIRPF0000000001", 12_345_i64), ("IKSIRPF0000000002", 7)];
        let text = JsonText::of(&rows).expect("serializes");
        assert_eq!(
            text.as_str(),
            r#"[["IKSIRPF0000000001",12345],["IKSIRPF0000000002",7]]"#
        );
        let back: Vec<(String, i64)> = text.parse().expect("parses");
        assert_eq!(back[1], ("IKSIRPF0000000002".to_owned(), 7));
        assert_eq!(
            JsonText::from(serde_json::json!({"a": [1, "b"]})).as_str(),
            r#"{"a":[1,"b"]}"#
        );
        let broken = JsonText("[1,".to_owned());
        assert!(broken.parse::<Vec<i64>>().is_err());
    }
}
