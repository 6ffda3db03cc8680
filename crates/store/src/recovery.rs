//! What the recovery janitor reads and marks: stale payments, payment leases (so on
//! PostgreSQL only one instance works on a payment at a time), and review marks.

use crate::audit::append;
use crate::model::{NewAudit, Operation, PaymentRecord, PaymentStatus};
use crate::outbox::{follow, status_if_observed, PaymentCause, PaymentRules};
use crate::payments::payment_from;
use crate::rows::int;
use crate::{Store, StoreError};

/// A payment the janitor may have to resolve.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StalePayment {
    /// The payment.
    pub payment: PaymentRecord,
    /// When its last provider call (other than inquiries) started, Unix ms.
    pub last_call_at: i64,
    /// How many inquiries were made for it.
    pub inquiries: i64,
}

/// A cancel/refund the janitor may have to resolve.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StaleRefund {
    /// The refund.
    pub refund: crate::model::RefundRecord,
    /// Its payment.
    pub payment: PaymentRecord,
}

/// The statuses of a payment in flight, in the words and the order of the partial index
/// `payments_in_flight` (migration 19): SQLite uses a partial index only for a query that
/// repeats its condition, literally.
const IN_FLIGHT: &str = "('processing', 'unknown', 'capturing', 'releasing', 'pending_3ds')";

/// The statement of [`Store::stale_payments`], after `prefix` (`EXPLAIN …` or nothing).
fn stale_sql(prefix: &str) -> String {
    format!(
        "{prefix}SELECT p.*, \
         (SELECT CAST(COALESCE(MAX(a.started_at), 0) AS BIGINT) FROM attempts a WHERE a.payment_id = p.id AND a.operation <> $1) AS last_call_at, \
         (SELECT COUNT(*) FROM attempts a WHERE a.payment_id = p.id AND a.operation = $2) AS inquiries \
         FROM payments p WHERE status IN {IN_FLIGHT} AND p.review_reason IS NULL \
         AND ((p.status IN ($3, $4, $10, $11) AND p.updated_at < $5) OR (p.status = $6 AND p.created_at < $7)) \
         AND (p.lease_until IS NULL OR p.lease_until < $8) \
         ORDER BY p.updated_at LIMIT $9"
    )
}

/// [`stale_sql`] with its parameters bound.
fn stale_query(
    sql: &str,
    busy_before: i64,
    three_d_before: i64,
    now: i64,
    limit: u32,
) -> sqlx::query::Query<'_, sqlx::Any, sqlx::any::AnyArguments<'_>> {
    sqlx::query(sql)
        .bind(Operation::Inquiry.as_str())
        .bind(Operation::Inquiry.as_str())
        .bind(PaymentStatus::Processing.as_str())
        .bind(PaymentStatus::Unknown.as_str())
        .bind(busy_before)
        .bind(PaymentStatus::Pending3ds.as_str())
        .bind(three_d_before)
        .bind(now)
        .bind(i64::from(limit))
        .bind(PaymentStatus::Capturing.as_str())
        .bind(PaymentStatus::Releasing.as_str())
}

/// The statement of [`Store::expired_holds`], after `prefix`; the literal status is the
/// condition of the partial index `payments_open_holds` (migration 13).
fn holds_sql(prefix: &str) -> String {
    let authorized = PaymentStatus::Authorized.as_str();
    format!(
        "{prefix}SELECT * FROM payments WHERE status = '{authorized}' AND hold_until < $1 \
         AND review_reason IS NULL AND (lease_until IS NULL OR lease_until < $2) \
         ORDER BY hold_until LIMIT $3"
    )
}

impl Store {
    /// Payments the janitor may have to look at: `processing`/`unknown` (and a
    /// pre-authorisation's `capturing`/`releasing`) last touched before `busy_before`, and
    /// `pending_3ds` created before `three_d_before`; not marked for review, not leased.
    /// Oldest first.
    pub async fn stale_payments(
        &self,
        busy_before: i64,
        three_d_before: i64,
        now: i64,
        limit: u32,
    ) -> Result<Vec<StalePayment>, StoreError> {
        let rows = stale_query(&stale_sql(""), busy_before, three_d_before, now, limit)
            .fetch_all(&self.db.read)
            .await?;
        rows.iter()
            .map(|row| {
                Ok(StalePayment {
                    payment: payment_from(row)?,
                    last_call_at: int(row, "last_call_at")?,
                    inquiries: int(row, "inquiries")?,
                })
            })
            .collect()
    }

    /// Pre-authorisations still `authorized` whose hold period ended before `now`, not
    /// marked for review, not leased; the oldest hold first.
    pub async fn expired_holds(
        &self,
        now: i64,
        limit: u32,
    ) -> Result<Vec<PaymentRecord>, StoreError> {
        let rows = sqlx::query(&holds_sql(""))
            .bind(now)
            .bind(now)
            .bind(i64::from(limit))
            .fetch_all(&self.db.read)
            .await?;
        rows.iter().map(payment_from).collect()
    }

    /// The database's plans of [`Store::stale_payments`] and [`Store::expired_holds`]
    /// (SQLite `EXPLAIN QUERY PLAN`, PostgreSQL `EXPLAIN` with sequential scans priced
    /// out, as over a large table), one line per step: to check that each reads its
    /// partial index.
    pub async fn explain_janitor(&self) -> Result<Vec<String>, StoreError> {
        let (prefix, column) = match self.db.engine {
            crate::Engine::Sqlite => ("EXPLAIN QUERY PLAN ", "detail"),
            crate::Engine::Postgres => ("EXPLAIN ", "QUERY PLAN"),
        };
        let mut tx = self.db.read.begin().await?;
        if self.db.engine == crate::Engine::Postgres {
            sqlx::query("SET LOCAL enable_seqscan = off")
                .execute(&mut *tx)
                .await?;
        }
        let mut rows = stale_query(&stale_sql(prefix), 0, 0, 0, 1)
            .fetch_all(&mut *tx)
            .await?;
        rows.extend(
            sqlx::query(&holds_sql(prefix))
                .bind(0_i64)
                .bind(0_i64)
                .bind(1_i64)
                .fetch_all(&mut *tx)
                .await?,
        );
        tx.rollback().await?;
        rows.iter()
            .map(|row| crate::rows::text(row, column))
            .collect()
    }

    /// Takes a payment for `ttl_ms` if no one else holds it; `true` when taken.
    pub async fn lease_payment(
        &self,
        id: &str,
        owner: &str,
        ttl_ms: i64,
    ) -> Result<bool, StoreError> {
        let args = (id.to_owned(), owner.to_owned(), ttl_ms);
        self.db
            .write(args, |c, (id, owner, ttl)| {
                Box::pin(async move {
                    let now = crate::now_ms();
                    let done = sqlx::query(
                        "UPDATE payments SET lease_owner = $1, lease_until = $2 \
                         WHERE id = $3 AND (lease_until IS NULL OR lease_until < $4 OR lease_owner = $5)",
                    )
                    .bind(owner)
                    .bind(now + ttl)
                    .bind(id)
                    .bind(now)
                    .bind(owner)
                    .execute(&mut *c)
                    .await?;
                    Ok(done.rows_affected() > 0)
                })
            })
            .await
    }

    /// Leases a payment only if it has not changed since `updated_at` was read: an
    /// instance working from an older list must not pick up a payment another instance
    /// has resolved and released in the meantime.
    pub async fn lease_payment_unchanged(
        &self,
        id: &str,
        owner: &str,
        ttl_ms: i64,
        updated_at: i64,
    ) -> Result<bool, StoreError> {
        let args = (id.to_owned(), owner.to_owned(), ttl_ms, updated_at);
        self.db
            .write(args, |c, (id, owner, ttl, updated_at)| {
                Box::pin(async move {
                    let now = crate::now_ms();
                    let done = sqlx::query(
                        "UPDATE payments SET lease_owner = $1, lease_until = $2 \
                         WHERE id = $3 AND updated_at = $4 \
                         AND (lease_until IS NULL OR lease_until < $5 OR lease_owner = $6)",
                    )
                    .bind(owner)
                    .bind(now + ttl)
                    .bind(id)
                    .bind(updated_at)
                    .bind(now)
                    .bind(owner)
                    .execute(&mut *c)
                    .await?;
                    Ok(done.rows_affected() > 0)
                })
            })
            .await
    }

    /// Gives a payment lease back.
    pub async fn release_payment(&self, id: &str, owner: &str) -> Result<(), StoreError> {
        let args = (id.to_owned(), owner.to_owned());
        self.db
            .write(args, |c, (id, owner)| {
                Box::pin(async move {
                    sqlx::query(
                        "UPDATE payments SET lease_owner = NULL, lease_until = NULL WHERE id = $1 AND lease_owner = $2",
                    )
                    .bind(id)
                    .bind(owner)
                    .execute(&mut *c)
                    .await?;
                    Ok(())
                })
            })
            .await
    }

    /// Marks a payment for a person to review (the janitor gave up), with an audit event
    /// and what the service's `events` rules say the mark causes, in one transaction.
    pub async fn set_review_reason(
        &self,
        payment_id: &str,
        reason: &str,
        audit: NewAudit,
        events: Option<PaymentRules>,
    ) -> Result<(), StoreError> {
        let chains = vec![audit.company_id.clone()];
        let args = (payment_id.to_owned(), reason.to_owned(), audit, events);
        self.db
            .write_for(chains, args, |c, (id, reason, audit, events)| {
                Box::pin(async move {
                    let row = sqlx::query(
                        "UPDATE payments SET review_reason = $1, lease_owner = NULL, lease_until = NULL \
                         WHERE id = $2 RETURNING *",
                    )
                    .bind(reason)
                    .bind(id)
                    .fetch_optional(&mut *c)
                    .await?;
                    if let (Some(row), Some(rules)) = (row, *events) {
                        if status_if_observed(c, id).await?.is_some() {
                            let payment = payment_from(&row)?;
                            follow(c, rules, PaymentCause::Review, &payment, crate::now_ms())
                                .await?;
                        }
                    }
                    append(c, audit).await
                })
            })
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::IN_FLIGHT;
    use crate::model::PaymentStatus;

    #[test]
    fn the_in_flight_statuses_are_the_payment_kinds_words() {
        let words = [
            PaymentStatus::Processing,
            PaymentStatus::Unknown,
            PaymentStatus::Capturing,
            PaymentStatus::Releasing,
            PaymentStatus::Pending3ds,
        ]
        .map(|s| format!("'{}'", s.as_str()))
        .join(", ");
        assert_eq!(IN_FLIGHT, format!("({words})"));
        for migration in [
            include_str!("../migrations/sqlite/0019_in_flight_index.sql"),
            include_str!("../migrations/postgres/0019_in_flight_index.sql"),
        ] {
            assert!(migration.contains(&format!("WHERE status IN {IN_FLIGHT};")));
        }
    }
}
