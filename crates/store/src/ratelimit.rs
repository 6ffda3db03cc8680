//! Shared request counters for the rate limits, in fixed windows.
//!
//! One row per (scope, subject, window start). A request adds one to each of its
//! counters with a single multi-row upsert that returns the new counts, so every
//! instance on the database sees the same numbers and the hot path is one statement on
//! the primary key. Ended windows are deleted with [`Store::purge_rate_counters`].

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

pub(crate) async fn hit(
    conn: &mut sqlx::AnyConnection,
    hits: &[RateHit],
) -> Result<Vec<(String, i64)>, StoreError> {
    if hits.is_empty() {
        return Ok(Vec::new());
    }
    let mut sql =
        String::from("INSERT INTO rate_counters (scope, subject, window_start, hits) VALUES ");
    for i in 0..hits.len() {
        if i > 0 {
            sql.push_str(", ");
        }
        let n = i * 3;
        sql.push_str(&format!("(${}, ${}, ${}, 1)", n + 1, n + 2, n + 3));
    }
    sql.push_str(
        " ON CONFLICT (scope, subject, window_start) DO UPDATE SET hits = rate_counters.hits + 1 \
         RETURNING scope, hits",
    );
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
    /// Scopes must differ within one call. Counters of a company (`company_id`) are
    /// counted under the company's lock, taken first with the other companies' locks of
    /// the group commit, so that two instances never wait for each other's counters in
    /// a circle.
    pub async fn rate_hit(
        &self,
        company_id: Option<&str>,
        hits: Vec<RateHit>,
    ) -> Result<Vec<(String, i64)>, StoreError> {
        if hits.is_empty() {
            return Ok(Vec::new());
        }
        self.db
            .write_for(
                company_id.map(str::to_owned).into_iter().collect(),
                hits,
                |c, h| Box::pin(hit(c, h)),
            )
            .await
    }

    /// The count of one counter (0 when it has no row), for tests and the back office.
    pub async fn rate_count(
        &self,
        scope: &str,
        subject: &str,
        window_start: i64,
    ) -> Result<i64, StoreError> {
        let count: Option<i64> = sqlx::query_scalar(
            "SELECT hits FROM rate_counters WHERE scope = $1 AND subject = $2 AND window_start = $3",
        )
        .bind(scope)
        .bind(subject)
        .bind(window_start)
        .fetch_optional(&self.db.read)
        .await?;
        Ok(count.unwrap_or(0))
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
