//! What the abuse limits read and write: recent declines of one card fingerprint or one
//! client IP (the velocity limits, shared by every instance because they are read from
//! the database), the lock of a checkout session after too many unsuccessful attempts,
//! and its reopening by the owner.
//!
//! The store counts and writes; the limits and windows are the service's.

use sqlx::AnyConnection;

use crate::checkout::SessionStatus;
use crate::model::{NewAudit, PaymentStatus};
use crate::outbox::SessionRules;
use crate::rows::int;
use crate::{Store, StoreError};

/// Declines counted for a velocity check: of one card and of one client IP, since an
/// instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct DeclineCounts {
    /// Declined payments with the card's fingerprint.
    pub card: i64,
    /// Declined payments from the client IP (0 when no IP was given).
    pub ip: i64,
    /// The settings epoch read in the same statement ([`Store::settings_epoch`]).
    pub settings_epoch: i64,
}

async fn lock_session(
    conn: &mut AnyConnection,
    (session_id, now, audit, events): &(String, i64, NewAudit, SessionRules),
) -> Result<bool, StoreError> {
    let done = sqlx::query(
        "UPDATE checkout_sessions SET locked_at = $1 \
         WHERE id = $2 AND company_id = $3 AND status = $4 AND locked_at IS NULL",
    )
    .bind(*now)
    .bind(session_id)
    .bind(&audit.company_id)
    .bind(SessionStatus::Open.as_str())
    .execute(&mut *conn)
    .await?;
    if done.rows_affected() == 0 {
        return Ok(false);
    }
    let row = sqlx::query("SELECT * FROM checkout_sessions WHERE id = $1")
        .bind(session_id)
        .fetch_one(&mut *conn)
        .await?;
    let session = crate::checkout::session_from(&row)?;
    crate::outbox::write_all(conn, &events(&session), *now).await?;
    crate::audit::append(conn, audit).await?;
    Ok(true)
}

async fn reopen_session(
    conn: &mut AnyConnection,
    (session_id, audit): &(String, NewAudit),
) -> Result<bool, StoreError> {
    let done = sqlx::query(
        "UPDATE checkout_sessions SET locked_at = NULL, tries = 0 \
         WHERE id = $1 AND company_id = $2 AND status = $3",
    )
    .bind(session_id)
    .bind(&audit.company_id)
    .bind(SessionStatus::Open.as_str())
    .execute(&mut *conn)
    .await?;
    if done.rows_affected() == 0 {
        return Ok(false);
    }
    crate::audit::append(conn, audit).await?;
    Ok(true)
}

/// The statement of [`Store::recent_declines`], after `prefix` (`EXPLAIN …` or nothing).
fn declines_sql(prefix: &str) -> String {
    // The literal status matches the partial indexes' condition (a bound parameter
    // would keep SQLite from using them).
    let declined = PaymentStatus::Declined.as_str();
    format!(
        "{prefix}SELECT \
         (SELECT COUNT(*) FROM (SELECT 1 FROM payments WHERE card_fingerprint = $1 \
           AND status = '{declined}' AND created_at >= $2 LIMIT $3) c) AS card, \
         (SELECT COUNT(*) FROM (SELECT 1 FROM payments WHERE client_ip = $4 \
           AND status = '{declined}' AND client_ip IS NOT NULL AND created_at >= $5 LIMIT $6) i) AS ip, \
         {epoch} AS settings_epoch",
        epoch = crate::settings::EPOCH_COLUMN,
    )
}

impl Store {
    /// The database's plan of [`Store::recent_declines`] (SQLite `EXPLAIN QUERY PLAN`,
    /// PostgreSQL `EXPLAIN`), one line per step: to check that it reads the indexes.
    pub async fn explain_recent_declines(&self) -> Result<Vec<String>, StoreError> {
        let (prefix, column) = match self.db.engine {
            crate::Engine::Sqlite => ("EXPLAIN QUERY PLAN ", "detail"),
            crate::Engine::Postgres => ("EXPLAIN ", "QUERY PLAN"),
        };
        let rows = sqlx::query(&declines_sql(prefix))
            .bind("fp")
            .bind(0_i64)
            .bind(3_i64)
            .bind("192.0.2.1")
            .bind(0_i64)
            .bind(3_i64)
            .fetch_all(&self.db.read)
            .await?;
        rows.iter()
            .map(|row| crate::rows::text(row, column))
            .collect()
    }

    /// Declined payments since `since` (Unix ms) with the card fingerprint, and from the
    /// client IP when one is given: one statement over two partial indexes of migration
    /// 11, each read stopping at `cap` rows (the check only needs to know whether the
    /// limit is reached). The settings epoch comes with them, for a sale to check the
    /// key and POS it took from memory without a round trip more.
    pub async fn recent_declines(
        &self,
        card_fingerprint: &str,
        client_ip: Option<&str>,
        since: i64,
        cap: i64,
    ) -> Result<DeclineCounts, StoreError> {
        let row = sqlx::query(&declines_sql(""))
            .bind(card_fingerprint)
            .bind(since)
            .bind(cap)
            .bind(client_ip.unwrap_or(""))
            .bind(since)
            .bind(if client_ip.is_some() { cap } else { 0 })
            .fetch_one(&self.db.read)
            .await?;
        Ok(DeclineCounts {
            card: int(&row, "card")?,
            ip: int(&row, "ip")?,
            settings_epoch: int(&row, "settings_epoch")?,
        })
    }

    /// Locks an open session (sets `locked_at`), with its audit event and the events
    /// the service's `events` rules give for the locked session, in one transaction;
    /// `false` (and nothing written) when it was already locked, or is not open.
    pub async fn lock_checkout_session(
        &self,
        session_id: &str,
        now: i64,
        audit: NewAudit,
        events: SessionRules,
    ) -> Result<bool, StoreError> {
        let chains = vec![audit.company_id.clone()];
        self.db
            .write_for(
                chains,
                (session_id.to_owned(), now, audit, events),
                |c, d| Box::pin(lock_session(c, d)),
            )
            .await
    }

    /// Reopens a company's open session: unlocks it and resets its count of attempts,
    /// with the audit event; `false` (nothing written) when no open session of the
    /// company has the id.
    pub async fn reopen_checkout_session(
        &self,
        session_id: &str,
        audit: NewAudit,
    ) -> Result<bool, StoreError> {
        let chains = vec![audit.company_id.clone()];
        self.db
            .write_for(chains, (session_id.to_owned(), audit), |c, d| {
                Box::pin(reopen_session(c, d))
            })
            .await
    }

    /// A company's payments refused by an abuse limit since `since` (Unix ms).
    pub async fn count_blocked_since(
        &self,
        company_id: &str,
        since: i64,
    ) -> Result<i64, StoreError> {
        let row = sqlx::query(
            "SELECT COUNT(*) AS n FROM payments WHERE company_id = $1 AND status = $2 AND created_at >= $3",
        )
        .bind(company_id)
        .bind(PaymentStatus::Blocked.as_str())
        .bind(since)
        .fetch_one(&self.db.read)
        .await?;
        int(&row, "n")
    }
}
