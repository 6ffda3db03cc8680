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
use std::collections::{HashMap, HashSet};
use std::future::Future;

use sha2::{Digest, Sha256};
use sqlx::AnyConnection;

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

/// What the current write transaction holds of the companies' audit chains.
#[derive(Default)]
struct Chains {
    /// Companies whose chain lock (the company row, `FOR NO KEY UPDATE`) this
    /// transaction took before its first statement (PostgreSQL).
    locked: HashSet<String>,
    /// The head (`seq`, `hash`) of every chain this transaction has appended to.
    heads: HashMap<String, (i64, String)>,
}

tokio::task_local! {
    /// The writer opens a fresh one around each transaction ([`with_chain_state`]), so
    /// it never outlives the locks that make it true.
    static CHAINS: RefCell<Chains>;
}

/// Runs one write transaction with an empty memory of chain locks and heads: an append
/// to a chain the transaction locked up front skips the lock statement, and the second
/// and later events a transaction appends to one chain also skip the head read (on
/// PostgreSQL two of the append's three round trips), because the transaction holds that
/// chain's lock (the company row on PostgreSQL, the database's write lock on SQLite) and
/// wrote its head itself. A group commit of a burst of one company's payment outcomes
/// appends many events to one chain.
pub(crate) async fn with_chain_state<F: Future>(transaction: F) -> F::Output {
    CHAINS
        .scope(RefCell::new(Chains::default()), transaction)
        .await
}

/// Notes that the current transaction holds these companies' chain locks.
pub(crate) fn note_locked<'a>(company_ids: impl IntoIterator<Item = &'a str>) {
    let _ = CHAINS.try_with(|chains| {
        let mut chains = chains.borrow_mut();
        for id in company_ids {
            chains.locked.insert(id.to_owned());
        }
    });
}

fn holds_lock(company_id: &str) -> bool {
    CHAINS
        .try_with(|chains| chains.borrow().locked.contains(company_id))
        .unwrap_or(false)
}

/// The head this transaction left on `company_id`'s chain, when it appended to it.
fn remembered_head(company_id: &str) -> Option<(i64, String)> {
    CHAINS
        .try_with(|chains| chains.borrow().heads.get(company_id).cloned())
        .ok()
        .flatten()
}

fn remember_head(company_id: &str, seq: i64, hash: &str) {
    // Outside a writer transaction (no memory in scope) there is nothing to remember.
    let _ = CHAINS.try_with(|chains| {
        let mut chains = chains.borrow_mut();
        chains.locked.insert(company_id.to_owned());
        chains
            .heads
            .insert(company_id.to_owned(), (seq, hash.to_owned()));
    });
}

/// Appends an event inside the caller's transaction. On PostgreSQL the company row is
/// locked first, so concurrent appenders of one company queue instead of colliding; the
/// UNIQUE(company_id, seq) constraint is the backstop (a collision retries the whole
/// transaction, see `Db::write`); a transaction that declared its company took the lock
/// before anything else ([`Db::write_for`](crate::db::Db::write_for)). A later append of the same transaction to the same
/// chain starts from the head the earlier one wrote ([`with_chain_heads`]).
pub(crate) async fn append(conn: &mut AnyConnection, event: &NewAudit) -> Result<(), StoreError> {
    let head = match remembered_head(&event.company_id) {
        Some(head) => Some(head),
        None => {
            if crate::db::is_postgres(conn) && !holds_lock(&event.company_id) {
                sqlx::query("SELECT id FROM companies WHERE id = $1 FOR NO KEY UPDATE")
                    .bind(&event.company_id)
                    .fetch_optional(&mut *conn)
                    .await?;
            }
            sqlx::query_as(
                "SELECT seq, hash FROM audit_events WHERE company_id = $1 ORDER BY seq DESC LIMIT 1",
            )
            .bind(&event.company_id)
            .fetch_optional(&mut *conn)
            .await?
        }
    };
    let (seq, prev_hash) = match head {
        Some((seq, hash)) => (seq + 1, hash),
        None => (1, GENESIS_HASH.to_owned()),
    };
    let data = serde_json::to_string(&event.data)
        .map_err(|e| StoreError::corrupt(format!("audit data: {e}")))?;
    let mut stored = AuditEvent {
        id: new_id("aud"),
        company_id: event.company_id.clone(),
        seq,
        kind: event.kind.clone(),
        actor: event.actor.clone(),
        subject_id: event.subject_id.clone(),
        data,
        prev_hash,
        hash: String::new(),
        created_at: now_ms(),
        hash_version: AUDIT_HASH_VERSION,
    };
    stored.hash = event_hash(&stored)
        .ok_or_else(|| StoreError::corrupt("the current audit hash version has no formula"))?;
    let hash = stored.hash.clone();
    sqlx::query(
        "INSERT INTO audit_events (id, company_id, seq, kind, actor, subject_id, data, prev_hash, hash, created_at, hash_version) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
    )
    .bind(stored.id)
    .bind(stored.company_id)
    .bind(stored.seq)
    .bind(stored.kind)
    .bind(stored.actor)
    .bind(stored.subject_id)
    .bind(stored.data)
    .bind(stored.prev_hash)
    .bind(stored.hash)
    .bind(stored.created_at)
    .bind(stored.hash_version)
    .execute(&mut *conn)
    .await
    .map_err(|e| crate::db::map_audit_race(e.into()))?;
    remember_head(&event.company_id, seq, &hash);
    Ok(())
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
        let company = event.company_id.clone();
        self.db
            .write_for(vec![company], event, |c, e| Box::pin(append(c, e)))
            .await
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
