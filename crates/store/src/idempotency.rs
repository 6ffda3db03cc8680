//! Idempotency keys (Stripe's semantics) and job leases.
//!
//! A key is per company. The first request with a key inserts an `in_progress` row
//! (atomically: `INSERT … ON CONFLICT DO NOTHING`); a later request with the same key
//! replays the stored answer, is refused when its body differs, or is told the first
//! is still running. A row stuck `in_progress` past `locked_until` (its instance died)
//! may be taken over. Rows are kept at least 24 hours.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use crate::model::IdempotencyBegin;
use crate::ratelimit::RateHit;
use crate::rows::{int, opt_int, opt_text, text};
use crate::{Store, StoreError};

/// How long a request holds its key before another may take it over: longer than any
/// provider call, so a take-over only happens after the first instance is gone.
pub const IDEMPOTENCY_LOCK: Duration = Duration::from_secs(300);

/// How long keys are kept: at least 24 hours (a little more, to be safe).
pub const IDEMPOTENCY_KEEP: Duration = Duration::from_secs(25 * 3600);

struct Begin {
    company_id: String,
    key: String,
    request_hash: String,
    now: i64,
}

/// The key's row as a claim writes it (see [`INSERT_KEY`]).
macro_rules! claim_key {
    () => {
        "INSERT INTO idempotency_keys (company_id, idem_key, request_hash, \
         state, response_status, response_body, created_at, locked_until) \
         VALUES ($1, $2, $3, 'in_progress', NULL, NULL, $4, $5)"
    };
}

/// Claims a free key: `$1` company, `$2` key, `$3` request hash, `$4` now, `$5` the
/// end of the lock ([`locked_until`]); nothing when the key is there already.
pub(crate) const INSERT_KEY: &str = concat!(
    claim_key!(),
    " ON CONFLICT (company_id, idem_key) DO NOTHING"
);

/// [`INSERT_KEY`] without its `ON CONFLICT`: fails when the key is there.
pub(crate) const CLAIM_KEY: &str = claim_key!();

/// Until when a key claimed at `now` (Unix ms) is held.
pub(crate) fn locked_until(now: i64) -> i64 {
    now + IDEMPOTENCY_LOCK.as_millis() as i64
}

async fn begin(conn: &mut sqlx::AnyConnection, b: &Begin) -> Result<IdempotencyBegin, StoreError> {
    let inserted = sqlx::query(INSERT_KEY)
        .bind(&b.company_id)
        .bind(&b.key)
        .bind(&b.request_hash)
        .bind(b.now)
        .bind(locked_until(b.now))
        .execute(&mut *conn)
        .await?;
    if inserted.rows_affected() > 0 {
        return Ok(IdempotencyBegin::Started);
    }
    let row = sqlx::query("SELECT * FROM idempotency_keys WHERE company_id = $1 AND idem_key = $2")
        .bind(&b.company_id)
        .bind(&b.key)
        .fetch_one(&mut *conn)
        .await?;
    if text(&row, "request_hash")? != b.request_hash {
        return Ok(IdempotencyBegin::Mismatch);
    }
    if text(&row, "state")? == "done" {
        let status = opt_int(&row, "response_status")?.unwrap_or(500);
        return Ok(IdempotencyBegin::Replay {
            status: u16::try_from(status).unwrap_or(500),
            body: opt_text(&row, "response_body")?.unwrap_or_default(),
        });
    }
    if int(&row, "locked_until")? < b.now {
        let taken = sqlx::query(
            "UPDATE idempotency_keys SET locked_until = $1 WHERE company_id = $2 AND idem_key = $3 \
             AND state = 'in_progress' AND locked_until < $4",
        )
        .bind(locked_until(b.now))
        .bind(&b.company_id)
        .bind(&b.key)
        .bind(b.now)
        .execute(&mut *conn)
        .await?;
        if taken.rows_affected() > 0 {
            return Ok(IdempotencyBegin::Started);
        }
    }
    Ok(IdempotencyBegin::InProgress)
}

/// An idempotency key claimed in the transaction that writes the payment it guards,
/// with the rate counters the request adds to: one commit instead of two.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyClaim {
    /// The company the key belongs to.
    pub company_id: String,
    /// The `Idempotency-Key`.
    pub key: String,
    /// What identifies the request's content (the caller hashes it).
    pub request_hash: String,
    /// The counters to add a hit to once the key is claimed.
    pub hits: Vec<RateHit>,
    /// The most hits each counter may reach, by scope; a scope not listed has no limit.
    pub limits: Vec<(String, i64)>,
}

/// What claiming a key together with writing its payment did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClaimedBegin {
    /// The key is claimed, counted, and the payment and its attempt are written.
    Started,
    /// The key was not free (answered before, used with another request, or still
    /// running): nothing was written.
    KeyTaken,
    /// A counter went over its limit: the hits are counted, the key is free again, no
    /// payment was written. Every counter's new count by scope.
    OverLimit(Vec<(String, i64)>),
}

/// Claims the key and counts the request inside the caller's transaction; `Some` with
/// what to answer instead when the payment must not be written.
pub(crate) async fn claim_in(
    conn: &mut sqlx::AnyConnection,
    claim: &KeyClaim,
    now: i64,
) -> Result<Option<ClaimedBegin>, StoreError> {
    let b = Begin {
        company_id: claim.company_id.clone(),
        key: claim.key.clone(),
        request_hash: claim.request_hash.clone(),
        now,
    };
    if begin(conn, &b).await? != IdempotencyBegin::Started {
        return Ok(Some(ClaimedBegin::KeyTaken));
    }
    let counts = crate::ratelimit::hit(conn, &claim.hits).await?;
    if is_over(claim, &counts) {
        free_key(conn, claim).await?;
        return Ok(Some(ClaimedBegin::OverLimit(counts)));
    }
    Ok(None)
}

/// Whether a counter of `counts` went over its limit in `claim`.
pub(crate) fn is_over(claim: &KeyClaim, counts: &[(String, i64)]) -> bool {
    counts.iter().any(|(scope, count)| {
        claim
            .limits
            .iter()
            .any(|(limited, most)| limited == scope && count > most)
    })
}

/// Frees a key claimed in this transaction by a request that writes nothing.
pub(crate) async fn free_key(
    conn: &mut sqlx::AnyConnection,
    claim: &KeyClaim,
) -> Result<(), StoreError> {
    sqlx::query("DELETE FROM idempotency_keys WHERE company_id = $1 AND idem_key = $2")
        .bind(&claim.company_id)
        .bind(&claim.key)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// A key's answer rendered in a writer transaction and stored at its end
/// ([`crate::audit::answer_at_end`]), so a group's answers take one statement instead of
/// one each.
pub(crate) struct KeptAnswer {
    pub(crate) company_id: String,
    pub(crate) key: String,
    pub(crate) status: i64,
    pub(crate) body: String,
    /// Set when the answer is stored: the key was still waiting for it (claimed, not
    /// answered, not given back).
    pub(crate) stored: Arc<AtomicBool>,
}

/// Most answers one statement stores.
pub(crate) const ANSWER_ROWS: usize = 64;

/// Stores `answers` for the keys still waiting for theirs and says which were stored
/// (their `stored` flags). A part of `n` answers is written as the next power of two,
/// its last answer repeated (a key matched twice is changed once, to the same answer),
/// so the engines see seven statement texts, not sixty-four.
pub(crate) async fn write_answers(
    conn: &mut sqlx::AnyConnection,
    answers: &[KeptAnswer],
) -> Result<(), StoreError> {
    write_answers_then(conn, answers, None).await.map(|_| ())
}

/// Statements run after the answers in the same call on SQLite ([`write_answers_then`]):
/// one for each of `params`, written by `each` with the number of its parameter.
pub(crate) struct Then<'a> {
    pub(crate) each: fn(usize) -> String,
    pub(crate) params: &'a [String],
}

/// [`write_answers`], and on SQLite `then` in the same call to the connection's thread
/// as the last part's statement (one round trip instead of two): what each of `then`'s
/// statements did. `None` on PostgreSQL or without `then` (nothing run for it).
pub(crate) async fn write_answers_then(
    conn: &mut sqlx::AnyConnection,
    answers: &[KeptAnswer],
    then: Option<Then<'_>>,
) -> Result<Option<Vec<crate::db::Ran>>, StoreError> {
    let postgres = crate::db::is_postgres(conn);
    let then = then.filter(|_| !postgres);
    let parts = answers.len().div_ceil(ANSWER_ROWS);
    let mut after = None;
    for (n, part) in answers.chunks(ANSWER_ROWS).enumerate() {
        let (mut sql, rows) = answers_sql(postgres, part);
        let then_here = then.as_ref().filter(|_| n + 1 == parts);
        if let Some(then) = then_here {
            // The answers' positional parameters come first; `then`'s are numbered after
            // them.
            let first = rows * 4 + 1;
            for n in first..first + then.params.len() {
                sql.push_str("; ");
                sql.push_str(&(then.each)(n));
            }
        }
        let query = bind_answers(sqlx::query(&sql), part, rows);
        let stored = match then_here {
            None => query.fetch_all(&mut *conn).await?,
            Some(then) => {
                let mut query = query;
                for param in then.params {
                    query = query.bind(param);
                }
                let mut done = crate::db::batch(conn, query).await;
                if let Some(e) = done.failed {
                    return Err(e.into());
                }
                if done.ran.is_empty() {
                    return Err(StoreError::corrupt(
                        "the answers' statement answered nothing",
                    ));
                }
                after = Some(done.ran.split_off(1));
                done.ran.pop().map(|ran| ran.rows).unwrap_or_default()
            }
        };
        mark_stored(part, &stored)?;
    }
    Ok(after)
}

/// The statement that stores `part` (at most [`ANSWER_ROWS`] answers), and how many
/// answers it binds ([`bind_answers`]): the next power of two (see [`write_answers`]).
/// Its parameters are positional on SQLite, so a statement after it in the same call
/// may take positional ones too (bound after these).
pub(crate) fn answers_sql(postgres: bool, part: &[KeptAnswer]) -> (String, usize) {
    let rows = part.len().next_power_of_two();
    // The columns of a `VALUES` list are named column1, column2, … on both engines.
    let sql = format!(
        "UPDATE idempotency_keys SET state = 'done', response_status = v.column3, \
         response_body = v.column4 FROM (VALUES {}) AS v \
         WHERE idempotency_keys.company_id = v.column1 AND idempotency_keys.idem_key = v.column2 \
         AND idempotency_keys.state = 'in_progress' \
         RETURNING idempotency_keys.company_id, idempotency_keys.idem_key",
        crate::db::values(postgres, rows, 4)
    );
    (sql, rows)
}

/// Binds `part`'s answers to [`answers_sql`]'s statement, `rows` of them: its last
/// answer repeated up to `rows`.
pub(crate) fn bind_answers<'q>(
    mut query: sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>>,
    part: &'q [KeptAnswer],
    rows: usize,
) -> sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>> {
    for n in 0..rows {
        let a = &part[n.min(part.len() - 1)];
        query = query
            .bind(&a.company_id)
            .bind(&a.key)
            .bind(a.status)
            .bind(&a.body);
    }
    query
}

/// Sets the `stored` flag of each answer of `part` whose key [`answers_sql`]'s
/// statement returned.
pub(crate) fn mark_stored(
    part: &[KeptAnswer],
    stored: &[sqlx::any::AnyRow],
) -> Result<(), StoreError> {
    for row in stored {
        let (company_id, key) = (text(row, "company_id")?, text(row, "idem_key")?);
        for a in part {
            if a.company_id == company_id && a.key == key {
                a.stored.store(true, Ordering::Release);
            }
        }
    }
    Ok(())
}

impl Store {
    /// Claims an idempotency key for a request, or says what to answer instead.
    /// `request_hash` identifies the request body (the caller hashes it); `now` is Unix ms.
    pub async fn idempotency_begin(
        &self,
        company_id: &str,
        key: &str,
        request_hash: &str,
        now: i64,
    ) -> Result<IdempotencyBegin, StoreError> {
        let b = Begin {
            company_id: company_id.to_owned(),
            key: key.to_owned(),
            request_hash: request_hash.to_owned(),
            now,
        };
        self.db.write(b, |c, b| Box::pin(begin(c, b))).await
    }

    /// [`Store::idempotency_begin`], and when the key is claimed, one hit added to each
    /// rate counter of `hits` in the same transaction (no commit of its own); the new
    /// counts come back beside the answer (empty unless claimed).
    pub async fn idempotency_begin_counted(
        &self,
        company_id: &str,
        key: &str,
        request_hash: &str,
        now: i64,
        hits: Vec<RateHit>,
    ) -> Result<(IdempotencyBegin, Vec<(String, i64)>), StoreError> {
        let b = Begin {
            company_id: company_id.to_owned(),
            key: key.to_owned(),
            request_hash: request_hash.to_owned(),
            now,
        };
        self.db
            .write((b, hits), |c, (b, hits)| {
                Box::pin(async move {
                    let answer = begin(c, b).await?;
                    let counts = if matches!(answer, IdempotencyBegin::Started) {
                        crate::ratelimit::hit(c, hits).await?
                    } else {
                        Vec::new()
                    };
                    Ok((answer, counts))
                })
            })
            .await
    }

    /// Stores the answer of a request that claimed the key; later requests replay it.
    pub async fn idempotency_finish(
        &self,
        company_id: &str,
        key: &str,
        status: u16,
        body: &str,
    ) -> Result<(), StoreError> {
        let args = (
            company_id.to_owned(),
            key.to_owned(),
            i64::from(status),
            body.to_owned(),
        );
        self.db
            .write(args, |c, (company_id, key, status, body)| {
                Box::pin(async move {
                    sqlx::query(
                        "UPDATE idempotency_keys SET state = 'done', response_status = $1, response_body = $2 \
                         WHERE company_id = $3 AND idem_key = $4",
                    )
                    .bind(*status)
                    .bind(body)
                    .bind(company_id)
                    .bind(key)
                    .execute(&mut *c)
                    .await?;
                    Ok(())
                })
            })
            .await
    }

    /// Forgets a claimed key (nothing was attempted, so a retry may run afresh).
    pub async fn idempotency_release(&self, company_id: &str, key: &str) -> Result<(), StoreError> {
        let args = (company_id.to_owned(), key.to_owned());
        self.db
            .write(args, |c, (company_id, key)| {
                Box::pin(async move {
                    sqlx::query(
                        "DELETE FROM idempotency_keys WHERE company_id = $1 AND idem_key = $2 AND state = 'in_progress'",
                    )
                    .bind(company_id)
                    .bind(key)
                    .execute(&mut *c)
                    .await?;
                    Ok(())
                })
            })
            .await
    }

    /// Deletes keys created before `now - IDEMPOTENCY_KEEP`; returns how many.
    pub async fn purge_idempotency(&self, now: i64) -> Result<u64, StoreError> {
        let cutoff = now - IDEMPOTENCY_KEEP.as_millis() as i64;
        self.db
            .write(cutoff, |c, cutoff| {
                Box::pin(async move {
                    let done = sqlx::query("DELETE FROM idempotency_keys WHERE created_at < $1")
                        .bind(*cutoff)
                        .execute(&mut *c)
                        .await?;
                    Ok(done.rows_affected())
                })
            })
            .await
    }

    /// Takes (or renews) the named job lease for `ttl` if it is free, expired or already
    /// ours; `true` when we hold it.
    pub async fn try_lease(
        &self,
        name: &str,
        owner: &str,
        ttl: Duration,
    ) -> Result<bool, StoreError> {
        let now = crate::now_ms();
        let args = (
            name.to_owned(),
            owner.to_owned(),
            now + ttl.as_millis() as i64,
            now,
        );
        self.db
            .write(args, |c, (name, owner, until, now)| {
                Box::pin(async move {
                    let done = sqlx::query(
                        "INSERT INTO job_leases (name, owner, lease_until) VALUES ($1, $2, $3) \
                         ON CONFLICT (name) DO UPDATE SET owner = excluded.owner, lease_until = excluded.lease_until \
                         WHERE job_leases.lease_until < $4 OR job_leases.owner = $5",
                    )
                    .bind(name)
                    .bind(owner)
                    .bind(*until)
                    .bind(*now)
                    .bind(owner)
                    .execute(&mut *c)
                    .await?;
                    Ok(done.rows_affected() > 0)
                })
            })
            .await
    }
}
