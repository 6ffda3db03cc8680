//! The per-company hash-chained audit log.
//!
//! Each event stores the hash of the one before it, so editing an event changes its
//! hash, and deleting one leaves a gap in `seq` or a `prev_hash` that no longer matches.
//!
//! The hash of an event is, exactly:
//!
//! ```text
//! hash = hex(SHA-256(f(prev_hash) f(company_id) f(seq) f(kind) f(actor) f(subject_id) f(data) f(created_at)))
//! f(x) = <length of x in bytes, decimal ASCII> ":" <x as UTF-8 bytes>
//! ```
//!
//! where `seq` and `created_at` (Unix milliseconds) are written in decimal, `data` is
//! the stored JSON text, and `prev_hash` of the first event (`seq` 1) is
//! [`GENESIS_HASH`], 64 zeros. The length prefixes make the encoding unambiguous: no
//! two different events hash the same bytes.

use sha2::{Digest, Sha256};
use sqlx::AnyConnection;

use crate::model::{AuditEvent, AuditReport, BrokenEvent, NewAudit};
use crate::rows::{int, text};
use crate::{new_id, now_ms, Store, StoreError};

/// The `prev_hash` of every chain's first event.
pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// The hash of one event, as defined in the module documentation.
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
    let mut hasher = Sha256::new();
    let seq = seq.to_string();
    let created_at = created_at.to_string();
    for field in [
        prev_hash,
        company_id,
        &seq,
        kind,
        actor,
        subject_id,
        data,
        &created_at,
    ] {
        hasher.update(field.len().to_string().as_bytes());
        hasher.update(b":");
        hasher.update(field.as_bytes());
    }
    hex::encode(hasher.finalize())
}

/// Appends an event inside the caller's transaction. On PostgreSQL the company row is
/// locked first, so concurrent appenders of one company queue instead of colliding; the
/// UNIQUE(company_id, seq) constraint is the backstop (a collision retries the whole
/// transaction, see `Db::write`).
pub(crate) async fn append(conn: &mut AnyConnection, event: &NewAudit) -> Result<(), StoreError> {
    if crate::db::is_postgres(conn) {
        sqlx::query("SELECT id FROM companies WHERE id = $1 FOR NO KEY UPDATE")
            .bind(&event.company_id)
            .fetch_optional(&mut *conn)
            .await?;
    }
    let head: Option<(i64, String)> = sqlx::query_as(
        "SELECT seq, hash FROM audit_events WHERE company_id = $1 ORDER BY seq DESC LIMIT 1",
    )
    .bind(&event.company_id)
    .fetch_optional(&mut *conn)
    .await?;
    let (seq, prev_hash) = match head {
        Some((seq, hash)) => (seq + 1, hash),
        None => (1, GENESIS_HASH.to_owned()),
    };
    let data = serde_json::to_string(&event.data)
        .map_err(|e| StoreError::corrupt(format!("audit data: {e}")))?;
    let created_at = now_ms();
    let hash = audit_hash(
        &prev_hash,
        &event.company_id,
        seq,
        &event.kind,
        &event.actor,
        &event.subject_id,
        &data,
        created_at,
    );
    sqlx::query(
        "INSERT INTO audit_events (id, company_id, seq, kind, actor, subject_id, data, prev_hash, hash, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
    )
    .bind(new_id("aud"))
    .bind(&event.company_id)
    .bind(seq)
    .bind(&event.kind)
    .bind(&event.actor)
    .bind(&event.subject_id)
    .bind(data)
    .bind(prev_hash)
    .bind(hash)
    .bind(created_at)
    .execute(&mut *conn)
    .await
    .map_err(|e| crate::db::map_audit_race(e.into()))?;
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
                } else {
                    let recomputed = audit_hash(
                        &event.prev_hash,
                        &event.company_id,
                        event.seq,
                        &event.kind,
                        &event.actor,
                        &event.subject_id,
                        &event.data,
                        event.created_at,
                    );
                    (recomputed != event.hash)
                        .then(|| "hash does not match the event's content (edited)".to_owned())
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
