//! Shared request counters for the rate limits, in fixed windows.
//!
//! One row per (scope, subject, window start) and writer: on PostgreSQL each instance's
//! writer counts in rows of its own (`shard`, its connection's backend process id), on
//! SQLite there is one writer and one row. A request adds one to each of its counters
//! with a single multi-row upsert that returns the new counts: its own row's, plus on
//! PostgreSQL the other instances' rows as last committed, read in the same statement.
//! Two instances so never wait for each other's counter rows (they did, for the whole
//! of each group commit, when they shared one row), at the price of a little slack: a
//! count does not see the other instance's hits of a group not committed yet. Ended
//! windows are deleted with [`Store::purge_rate_counters`].

use crate::rows::{int, text};
use crate::{Store, StoreError};

/// One counter to add a hit to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RateHit {
    /// What is limited: `api_payment_key`, `ui_collect_user`, …
    pub scope: String,
    /// Whose counter: an API key id, a company id, a user id.
    pub subject: String,
    /// Start of the fixed window, Unix seconds.
    pub window_start: i64,
}

/// The shard of PostgreSQL's writer connection: its backend's process id.
pub(crate) const PG_SHARD: &str = "CAST(pg_backend_pid() AS TEXT)";

/// What a counter row written in this statement adds up to on PostgreSQL, with `c` its
/// row as the upsert returned it: its own hits and the other shards' as last committed.
pub(crate) const PG_TOTAL_OF_C: &str =
    "c.hits + CAST(COALESCE((SELECT SUM(o.hits) FROM rate_counters o \
     WHERE o.scope = c.scope AND o.subject = c.subject \
     AND o.window_start = c.window_start AND o.shard <> c.shard), 0) AS BIGINT)";

/// Adds one hit to a counter row whose key is already there.
pub(crate) const UPSERT_HIT: &str = "ON CONFLICT (scope, subject, window_start, shard) \
     DO UPDATE SET hits = rate_counters.hits + 1";

pub(crate) async fn hit(
    conn: &mut sqlx::AnyConnection,
    hits: &[RateHit],
) -> Result<Vec<(String, i64)>, StoreError> {
    if hits.is_empty() {
        return Ok(Vec::new());
    }
    let postgres = crate::db::is_postgres(conn);
    // PostgreSQL: the writer's connection counts in rows of its own (its backend's
    // process id), so two instances never wait for each other's counter rows; the
    // count is its own row and the others' as last committed. SQLite has one writer.
    let shard = if postgres { PG_SHARD } else { "''" };
    let mut sql = String::from(
        "INSERT INTO rate_counters (scope, subject, window_start, shard, hits) VALUES ",
    );
    for i in 0..hits.len() {
        if i > 0 {
            sql.push_str(", ");
        }
        let n = i * 3;
        sql.push_str(&format!("(${}, ${}, ${}, {shard}, 1)", n + 1, n + 2, n + 3));
    }
    sql.push(' ');
    sql.push_str(UPSERT_HIT);
    let sql = if postgres {
        format!(
            "WITH counted AS ({sql} RETURNING scope, subject, window_start, shard, hits) \
             SELECT c.scope, {PG_TOTAL_OF_C} AS hits FROM counted c"
        )
    } else {
        sql + " RETURNING scope, hits"
    };
    let mut query = sqlx::query(&sql);
    for h in hits {
        query = query.bind(&h.scope).bind(&h.subject).bind(h.window_start);
    }
    let rows = query.fetch_all(&mut *conn).await?;
    rows.iter()
        .map(|row| Ok((text(row, "scope")?, int(row, "hits")?)))
        .collect()
}

impl Store {
    /// Adds one hit to each counter and returns every counter's new count by scope.
    /// Scopes must differ within one call.
    pub async fn rate_hit(&self, hits: Vec<RateHit>) -> Result<Vec<(String, i64)>, StoreError> {
        if hits.is_empty() {
            return Ok(Vec::new());
        }
        self.db.write(hits, |c, h| Box::pin(hit(c, h))).await
    }

    /// The count of one counter (0 when it has no row), for tests and the back office.
    pub async fn rate_count(
        &self,
        scope: &str,
        subject: &str,
        window_start: i64,
    ) -> Result<i64, StoreError> {
        let count: i64 = sqlx::query_scalar(
            "SELECT CAST(COALESCE(SUM(hits), 0) AS BIGINT) FROM rate_counters \
             WHERE scope = $1 AND subject = $2 AND window_start = $3",
        )
        .bind(scope)
        .bind(subject)
        .bind(window_start)
        .fetch_one(&self.db.read)
        .await?;
        Ok(count)
    }

    /// Deletes the counters of windows that started before `before` (Unix seconds);
    /// returns how many.
    pub async fn purge_rate_counters(&self, before: i64) -> Result<u64, StoreError> {
        self.db
            .write(before, |c, before| {
                Box::pin(async move {
                    let done = sqlx::query("DELETE FROM rate_counters WHERE window_start < $1")
                        .bind(*before)
                        .execute(&mut *c)
                        .await?;
                    Ok(done.rows_affected())
                })
            })
            .await
    }
}
