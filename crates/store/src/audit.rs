//! The per-company hash-chained audit log.
//!
//! Each event stores the hash of the one before it, so editing an event changes its
//! hash, and deleting one leaves a gap in `seq` or a `prev_hash` that no longer matches.
//!
//! The hash of an event covers every column stored beside it. Since migration 8 it is,
//! exactly (`hash_version` 2):
//!
//! ```text
//! hash = hex(SHA-256(f("2") f(id) f(prev_hash) f(company_id) f(seq) f(kind) f(actor) f(subject_id) f(data) f(created_at)))
//! f(x) = <length of x in bytes, decimal ASCII> ":" <x as UTF-8 bytes>
//! ```
//!
//! where `seq` and `created_at` (Unix milliseconds) are written in decimal, `data` is
//! the stored JSON text, and `prev_hash` of the first event (`seq` 1) is
//! [`GENESIS_HASH`], 64 zeros. The length prefixes make the encoding unambiguous: no
//! two different events hash the same bytes.
//!
//! Events written before migration 8 (`hash_version` 1) were hashed without the
//! version and the id:
//!
//! ```text
//! hash = hex(SHA-256(f(prev_hash) f(company_id) f(seq) f(kind) f(actor) f(subject_id) f(data) f(created_at)))
//! ```
//!
//! and are still verified that way: their ids stay outside the chain, which cannot be
//! mended without rewriting the hashes an auditor may already hold. Within a chain the
//! version never goes down, so a version-2 event relabelled as version 1 is reported too.

use std::cell::RefCell;
use std::collections::HashMap;
use std::future::Future;

use sha2::{Digest, Sha256};
use sqlx::AnyConnection;

use crate::db::BoxFut;
use crate::idempotency::{
    answers_sql, bind_answers, mark_stored, write_answers_then, KeptAnswer, Then, ANSWER_ROWS,
};
use crate::model::{AuditEvent, AuditReport, BrokenEvent, NewAudit};
use crate::rows::{int, text};
use crate::{new_id, now_ms, Store, StoreError};

/// The `prev_hash` of every chain's first event.
pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// The version every event is written with now (see the module documentation).
pub const AUDIT_HASH_VERSION: i64 = 2;

/// The hash of one event written before migration 8 (`hash_version` 1, the id outside
/// the hash), as defined in the module documentation.
#[allow(clippy::too_many_arguments)]
pub fn audit_hash(
    prev_hash: &str,
    company_id: &str,
    seq: i64,
    kind: &str,
    actor: &str,
    subject_id: &str,
    data: &str,
    created_at: i64,
) -> String {
    let seq = seq.to_string();
    let created_at = created_at.to_string();
    hash_fields(&[
        prev_hash,
        company_id,
        &seq,
        kind,
        actor,
        subject_id,
        data,
        &created_at,
    ])
}

/// The hash of `event` by the formula its `hash_version` names; `None` for a version
/// this code does not know.
pub fn event_hash(event: &AuditEvent) -> Option<String> {
    match event.hash_version {
        1 => Some(audit_hash(
            &event.prev_hash,
            &event.company_id,
            event.seq,
            &event.kind,
            &event.actor,
            &event.subject_id,
            &event.data,
            event.created_at,
        )),
        2 => {
            let version = event.hash_version.to_string();
            let seq = event.seq.to_string();
            let created_at = event.created_at.to_string();
            Some(hash_fields(&[
                &version,
                &event.id,
                &event.prev_hash,
                &event.company_id,
                &seq,
                &event.kind,
                &event.actor,
                &event.subject_id,
                &event.data,
                &created_at,
            ]))
        }
        _ => None,
    }
}

/// SHA-256 over the length-prefixed fields, in hex.
fn hash_fields(fields: &[&str]) -> String {
    let mut hasher = Sha256::new();
    for field in fields {
        hasher.update(field.len().to_string().as_bytes());
        hasher.update(b":");
        hasher.update(field.as_bytes());
    }
    hex::encode(hasher.finalize())
}

/// A statement run at the end of a writer transaction, after the chain locks.
pub(crate) type AfterChains =
    Box<dyn for<'c> FnOnce(&'c mut AnyConnection) -> BoxFut<'c, Result<(), StoreError>> + Send>;

/// What the current write transaction has left for its end.
#[derive(Default)]
struct Chains {
    /// The events its writes appended, in that order, without their place in the chain
    /// yet: [`write_appended`] writes them right before the commit.
    pending: Vec<AuditEvent>,
    /// Companies whose chain lock the end must take although no event of theirs is
    /// pending (see [`after_chains`]).
    companies: Vec<String>,
    /// Changes of company rows that others change under the chain lock too, run after
    /// the locks (see [`after_chains`]).
    after: Vec<AfterChains>,
    /// Idempotency keys' answers, stored first at the end (see [`answer_at_end`]).
    answers: Vec<KeptAnswer>,
    /// The chains' heads the writer knows (see [`with_chain_state`]).
    known: Option<Heads>,
}

/// Chains' heads: each company's last event, its `seq` and hash.
pub(crate) type Heads = HashMap<String, (i64, String)>;

tokio::task_local! {
    /// The writer opens a fresh one around each transaction ([`with_chain_state`]), so
    /// no event outlives the transaction that appended it.
    static CHAINS: RefCell<Chains>;
}

/// Runs one write transaction whose audit appends wait for its end: the writer calls
/// [`write_appended`] right before the commit, which takes the chains' locks then, in
/// id order, reads each chain's head once and writes every event. The chain locks are
/// so held only from the end of the transaction to its commit, not through its other
/// writes: two instances on one database interleave their groups' other writes
/// instead of queueing for a company's chain through all of them.
///
/// `known`: the heads of chains as the writer's own committed transactions left them
/// (SQLite only, whose single writer is the only one appending through its process),
/// so that the end reads no head it knows and stores the answers in the same call to
/// the connection's thread as the events. A head known wrongly (another process
/// appended to the chain) is never written over: the event put after it takes a `seq`
/// that chain already has, UNIQUE(company_id, seq) refuses it, and the writer, which
/// forgets every head when a transaction fails, runs the write again reading them.
/// Gives back the heads after the transaction, for the writer to keep if it commits.
pub(crate) async fn with_chain_state<F: Future>(
    known: Option<Heads>,
    transaction: F,
) -> (F::Output, Option<Heads>) {
    let chains = Chains {
        known,
        ..Chains::default()
    };
    CHAINS
        .scope(RefCell::new(chains), async {
            let output = transaction.await;
            let known = CHAINS.with(|chains| chains.borrow_mut().known.take());
            (output, known)
        })
        .await
}

/// Appends an event to its company's chain, inside the caller's transaction: in a
/// writer transaction ([`with_chain_state`]) at its end, otherwise at once.
pub(crate) async fn append(conn: &mut AnyConnection, event: &NewAudit) -> Result<(), StoreError> {
    let data = serde_json::to_string(&event.data)
        .map_err(|e| StoreError::corrupt(format!("audit data: {e}")))?;
    let mut stored = Some(AuditEvent {
        id: new_id("aud"),
        company_id: event.company_id.clone(),
        seq: 0,
        kind: event.kind.clone(),
        actor: event.actor.clone(),
        subject_id: event.subject_id.clone(),
        data,
        prev_hash: String::new(),
        hash: String::new(),
        // Stamped when it takes its place in the chain (see `write_events`).
        created_at: 0,
        hash_version: AUDIT_HASH_VERSION,
    });
    let _ = CHAINS.try_with(|chains| {
        if let Some(event) = stored.take() {
            chains.borrow_mut().pending.push(event);
        }
    });
    match stored {
        Some(event) => write_events(conn, vec![event], Vec::new(), None, &[], false)
            .await
            .map(|_| ()),
        None => Ok(()),
    }
}

/// Runs `step`, a change of a row of `company_id` that other writes change while they
/// hold the company's lock (a POS's health, which a POS check also writes), at the end
/// of the current writer transaction, after the chain locks and the company's own; at
/// once outside a writer transaction. A write that takes no lock up front (a payment's
/// outcome) so never holds such a row while it waits for a company's lock, which a
/// write that took it up front may hold while it waits for the row.
pub(crate) async fn after_chains(
    conn: &mut AnyConnection,
    company_id: &str,
    step: AfterChains,
) -> Result<(), StoreError> {
    let mut step = Some(step);
    let _ = CHAINS.try_with(|chains| {
        let mut chains = chains.borrow_mut();
        chains.companies.push(company_id.to_owned());
        if let Some(step) = step.take() {
            chains.after.push(step);
        }
    });
    match step {
        Some(step) => step(conn).await,
        None => Ok(()),
    }
}

/// Stores a key's answer at the end of the current writer transaction, with the other
/// answers of its group in one statement, before the chain locks (where a write made
/// one at a time stored it: a key's row is never changed while holding a company's
/// lock). SQLite, which has no such locks, stores them in the same call as the events
/// when its writer knows the chains' heads (see [`with_chain_state`]). A second answer
/// for the same key in one transaction is dropped unstored, as it would have found the
/// key answered. Outside a writer transaction the answer is given back, to be stored at
/// once.
pub(crate) fn answer_at_end(answer: KeptAnswer) -> Option<KeptAnswer> {
    let mut answer = Some(answer);
    let _ = CHAINS.try_with(|chains| {
        let mut chains = chains.borrow_mut();
        if let Some(kept) = answer.take() {
            let twice = chains
                .answers
                .iter()
                .any(|a| a.company_id == kept.company_id && a.key == kept.key);
            if !twice {
                chains.answers.push(kept);
            }
        }
    });
    answer
}

/// Stores the answers the current writer transaction kept for its end
/// ([`answer_at_end`]), writes the events it appended (see [`with_chain_state`]), then
/// runs what it left for after the locks; nothing when it left nothing. With `commit`,
/// SQLite's transaction may be committed in the same call as its last events (when
/// nothing is left for after them): whether it was.
pub(crate) async fn write_appended(
    conn: &mut AnyConnection,
    commit: bool,
) -> Result<bool, StoreError> {
    let (pending, companies, after, answers, mut known) = CHAINS
        .try_with(|chains| {
            let mut chains = chains.borrow_mut();
            (
                std::mem::take(&mut chains.pending),
                std::mem::take(&mut chains.companies),
                std::mem::take(&mut chains.after),
                std::mem::take(&mut chains.answers),
                chains.known.take(),
            )
        })
        .unwrap_or_default();
    let chains = chains_of(&pending);
    // Every chain's head known (SQLite): none is read, and the answers go in the same
    // call as the events when both fit one statement.
    let mut heads = known.as_ref().and_then(|known| {
        chains
            .iter()
            .map(|c| known.get(c).map(|head| (c.clone(), head.clone())))
            .collect::<Option<Heads>>()
    });
    let fold = heads.is_some() && !pending.is_empty() && answers.len() <= ANSWER_ROWS;
    if !answers.is_empty() && !fold {
        // SQLite reads the chains' heads it does not know in the answers' call (one
        // round trip fewer); its writer holds the database's write lock already, so
        // there is no lock to take first.
        let then = (heads.is_none() && !chains.is_empty()).then_some(Then {
            each: head_sql,
            params: &chains,
        });
        if let Some(read) = write_answers_then(conn, &answers, then).await? {
            if read.len() != chains.len() {
                return Err(StoreError::corrupt(format!(
                    "{} chains' heads answered {} statements",
                    chains.len(),
                    read.len()
                )));
            }
            let mut found = HashMap::with_capacity(chains.len());
            for (company, ran) in chains.iter().zip(read) {
                found.insert(company.clone(), head_from(ran.rows.first())?);
            }
            heads = Some(found);
        }
    }
    let committed = if pending.is_empty() && companies.is_empty() {
        false
    } else {
        let commit = commit && after.is_empty();
        let folded = if fold { &answers[..] } else { &[] };
        let (committed, written) =
            write_events(conn, pending, companies, heads, folded, commit).await?;
        if let Some(known) = known.as_mut() {
            known.extend(written);
        }
        for step in after {
            step(conn).await?;
        }
        committed
    };
    let _ = CHAINS.try_with(|chains| chains.borrow_mut().known = known);
    Ok(committed)
}

/// The companies whose chains `events` go to, in id order, each once.
fn chains_of(events: &[AuditEvent]) -> Vec<String> {
    let mut chains: Vec<String> = events.iter().map(|e| e.company_id.clone()).collect();
    chains.sort_unstable();
    chains.dedup();
    chains
}

/// Reads a chain's head, its company as `$n`.
fn head_sql(n: usize) -> String {
    format!("SELECT seq, hash FROM audit_events WHERE company_id = ${n} ORDER BY seq DESC LIMIT 1")
}

/// A chain's head from what [`head_sql`] read: its last event's place and hash, or
/// the start of an empty chain.
fn head_from(row: Option<&sqlx::any::AnyRow>) -> Result<(i64, String), StoreError> {
    match row {
        Some(row) => Ok((int(row, "seq")?, text(row, "hash")?)),
        None => Ok((0, GENESIS_HASH.to_owned())),
    }
}

/// Events written in one `INSERT` (eleven parameters each).
const INSERT_ROWS: usize = 64;

/// Puts `events` at the end of their chains, in their order. On PostgreSQL the
/// companies' rows are locked first (`FOR NO KEY UPDATE`, in id order, one statement),
/// so concurrent appenders of one company queue instead of colliding, and two
/// transactions appending to the same chains never wait for each other in a circle;
/// the UNIQUE(company_id, seq) constraint is the backstop (a collision is an
/// `audit_race`, and the writer runs the write again). SQLite's writer holds the
/// database's write lock already.
///
/// `answers` (SQLite, at most [`ANSWER_ROWS`]; with at least one event) are stored by a
/// statement in the same call as the last events. With `commit`, SQLite's
/// transaction is committed in that call too ([`crate::db::batch`]). Whether it was, and
/// the chains' heads after the events.
async fn write_events(
    conn: &mut AnyConnection,
    mut events: Vec<AuditEvent>,
    mut companies: Vec<String>,
    heads: Option<Heads>,
    answers: &[KeptAnswer],
    commit: bool,
) -> Result<(bool, Heads), StoreError> {
    companies.extend(events.iter().map(|e| e.company_id.clone()));
    crate::db::lock_companies(conn, companies.iter().map(String::as_str)).await?;
    let mut heads = match heads {
        Some(heads) => heads,
        None => {
            let mut heads = HashMap::with_capacity(companies.len());
            for company in chains_of(&events) {
                let head = sqlx::query(&head_sql(1))
                    .bind(&company)
                    .fetch_optional(&mut *conn)
                    .await?;
                heads.insert(company, head_from(head.as_ref())?);
            }
            heads
        }
    };
    // Stamped under the chains' locks, as the events take their places: within a chain
    // a later `seq` is never stamped earlier by the same clock.
    let now = now_ms();
    for event in &mut events {
        event.created_at = now;
        let (seq, hash) = heads
            .get_mut(&event.company_id)
            .expect("every event's company has its head read above");
        event.seq = *seq + 1;
        event.prev_hash = std::mem::take(hash);
        event.hash = event_hash(event)
            .ok_or_else(|| StoreError::corrupt("the current audit hash version has no formula"))?;
        *seq = event.seq;
        hash.clone_from(&event.hash);
    }
    let postgres = crate::db::is_postgres(conn);
    let commit = commit && !postgres;
    let parts = events.len().div_ceil(INSERT_ROWS);
    for (n, part) in events.chunks(INSERT_ROWS).enumerate() {
        let last = n + 1 == parts;
        let commit_here = commit && last;
        let (mut sql, rows) = if last && !answers.is_empty() {
            let (mut sql, rows) = answers_sql(postgres, answers);
            sql.push_str("; ");
            (sql, rows)
        } else {
            (String::new(), 0)
        };
        sql.push_str(
            "INSERT INTO audit_events (id, company_id, seq, kind, actor, subject_id, data, prev_hash, hash, created_at, hash_version) VALUES ",
        );
        sql.push_str(&crate::db::values(postgres, part.len(), 11));
        if commit_here {
            sql.push_str("; COMMIT");
        }
        // The answers' positional parameters first, then the events'.
        let mut query = sqlx::query(&sql);
        if rows > 0 {
            query = bind_answers(query, answers, rows);
        }
        for e in part {
            query = query
                .bind(&e.id)
                .bind(&e.company_id)
                .bind(e.seq)
                .bind(&e.kind)
                .bind(&e.actor)
                .bind(&e.subject_id)
                .bind(&e.data)
                .bind(&e.prev_hash)
                .bind(&e.hash)
                .bind(e.created_at)
                .bind(e.hash_version);
        }
        if commit_here || rows > 0 {
            let done = crate::db::batch(conn, query).await;
            // Without a failure every statement ran: with `commit_here` the transaction
            // is committed, and nothing here may report otherwise (the writer would run
            // its writes again).
            if let Some(e) = done.failed {
                return Err(crate::db::map_audit_race(e.into()));
            }
            if rows > 0 {
                let stored = done.ran.first().map(|ran| &ran.rows[..]).unwrap_or(&[]);
                if let Err(e) = mark_stored(answers, stored) {
                    tracing::error!(
                        error = %e,
                        "the answers' statement returned a row it could not read"
                    );
                }
            }
            if commit_here {
                return Ok((true, heads));
            }
            continue;
        }
        query
            .execute(&mut *conn)
            .await
            .map_err(|e| crate::db::map_audit_race(e.into()))?;
    }
    Ok((false, heads))
}

pub(crate) fn event_from(row: &sqlx::any::AnyRow) -> Result<AuditEvent, StoreError> {
    Ok(AuditEvent {
        id: text(row, "id")?,
        company_id: text(row, "company_id")?,
        seq: int(row, "seq")?,
        kind: text(row, "kind")?,
        actor: text(row, "actor")?,
        subject_id: text(row, "subject_id")?,
        data: text(row, "data")?,
        prev_hash: text(row, "prev_hash")?,
        hash: text(row, "hash")?,
        created_at: int(row, "created_at")?,
        hash_version: int(row, "hash_version")?,
    })
}

const PAGE: i64 = 2000;

impl Store {
    /// Appends one audit event in a transaction of its own (for events that record no
    /// other change, such as a login).
    pub async fn append_audit(&self, event: NewAudit) -> Result<(), StoreError> {
        self.db.write(event, |c, e| Box::pin(append(c, e))).await
    }

    /// A company's events, newest first.
    pub async fn list_audit(
        &self,
        company_id: &str,
        limit: u32,
    ) -> Result<Vec<AuditEvent>, StoreError> {
        let rows = sqlx::query(
            "SELECT * FROM audit_events WHERE company_id = $1 ORDER BY seq DESC LIMIT $2",
        )
        .bind(company_id)
        .bind(i64::from(limit))
        .fetch_all(&self.db.read)
        .await?;
        rows.iter().map(event_from).collect()
    }

    /// Recomputes one company's chain; `None` when the company is unknown and has no
    /// events either (what [`Store::verify_audit`] reports for that company).
    pub async fn verify_company_audit(
        &self,
        company_id: &str,
    ) -> Result<Option<AuditReport>, StoreError> {
        let name: Option<String> = sqlx::query_scalar("SELECT name FROM companies WHERE id = $1")
            .bind(company_id)
            .fetch_optional(&self.db.read)
            .await?;
        let name = match name {
            Some(name) => name,
            None => {
                let events: i64 =
                    sqlx::query_scalar("SELECT COUNT(*) FROM audit_events WHERE company_id = $1")
                        .bind(company_id)
                        .fetch_one(&self.db.read)
                        .await?;
                if events == 0 {
                    return Ok(None);
                }
                String::new()
            }
        };
        Ok(Some(self.verify_chain(company_id.to_owned(), name).await?))
    }

    /// Recomputes every company's chain and names the first broken event of each.
    pub async fn verify_audit(&self) -> Result<Vec<AuditReport>, StoreError> {
        let companies: Vec<(String, String)> = sqlx::query_as(
            "SELECT id, name FROM companies \
             UNION SELECT DISTINCT company_id, '' FROM audit_events \
             WHERE company_id NOT IN (SELECT id FROM companies) ORDER BY 1",
        )
        .fetch_all(&self.db.read)
        .await?;
        let mut reports = Vec::with_capacity(companies.len());
        for (company_id, company_name) in companies {
            reports.push(self.verify_chain(company_id, company_name).await?);
        }
        Ok(reports)
    }

    async fn verify_chain(
        &self,
        company_id: String,
        company_name: String,
    ) -> Result<AuditReport, StoreError> {
        let mut expected_seq = 1i64;
        let mut prev_hash = GENESIS_HASH.to_owned();
        let mut events = 0u64;
        let mut broken = None;
        // The hash version of the event before: a chain never goes back to an older one.
        let mut version_floor = 1i64;
        'pages: loop {
            let rows = sqlx::query(
                "SELECT * FROM audit_events WHERE company_id = $1 AND seq >= $2 ORDER BY seq LIMIT $3",
            )
            .bind(&company_id)
            .bind(expected_seq)
            .bind(PAGE)
            .fetch_all(&self.db.read)
            .await?;
            let count = rows.len() as i64;
            for row in &rows {
                let event = event_from(row)?;
                events += 1;
                let reason = if event.seq != expected_seq {
                    Some(format!(
                        "seq {} follows seq {}: event {} is missing (deleted)",
                        event.seq,
                        expected_seq - 1,
                        expected_seq
                    ))
                } else if event.prev_hash != prev_hash {
                    Some("prev_hash does not match the previous event's hash".to_owned())
                } else if event.hash_version < version_floor {
                    Some(format!(
                        "hash version {} follows version {version_floor} (relabelled)",
                        event.hash_version
                    ))
                } else {
                    match event_hash(&event) {
                        None => Some(format!("unknown hash version {}", event.hash_version)),
                        Some(recomputed) => (recomputed != event.hash)
                            .then(|| "hash does not match the event's content (edited)".to_owned()),
                    }
                };
                if let Some(reason) = reason {
                    broken = Some(BrokenEvent {
                        seq: event.seq,
                        id: event.id,
                        reason,
                    });
                    break 'pages;
                }
                prev_hash = event.hash;
                version_floor = event.hash_version;
                expected_seq += 1;
            }
            if count < PAGE {
                break;
            }
        }
        Ok(AuditReport {
            company_id,
            company_name,
            events,
            broken,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_is_length_prefixed() {
        let a = audit_hash(GENESIS_HASH, "c", 1, "k", "ab", "c", "{}", 5);
        let b = audit_hash(GENESIS_HASH, "c", 1, "k", "a", "bc", "{}", 5);
        assert_ne!(a, b);
        assert_eq!(a.len(), 64);
    }
}
