//! Idempotency keys with Stripe's semantics, kept in the database so they hold across
//! instances and restarts, for every front end that can send a request twice (the API's
//! `Idempotency-Key`, the back office's one-time form token).
//!
//! A request claims its key before it runs. Same key and same request: the first answer
//! is replayed. Same key, another request: a mismatch. Same key while the first request
//! still runs: the second waits a little for the first to finish (so a double click gets
//! the same answer), then is told the first is in progress. Once the request ran, its
//! answer is kept for the key; when it attempted nothing, the key is released so a
//! corrected request may reuse it.
//!
//! Rate-limit counters can be added to in the claim's own transaction: a claimed request
//! costs no extra commit, and a replay adds nothing.

use std::sync::Arc;
use std::time::{Duration, Instant};

use sanalpos_store::{IdempotencyBegin, RateHit};

use crate::{PaymentService, PaymentView, ServiceError};

/// How a front end answers a payment request under its key (status code and body, in
/// its own format), so the service can store the answer in the transaction that records
/// the payment's outcome instead of in a commit of its own.
pub type KeyAnswerFn = Arc<dyn Fn(&PaymentView) -> (u16, String) + Send + Sync>;

/// What [`PaymentService::create_payment_claiming`] ended in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClaimedPayment {
    /// The key was claimed and the payment made (or found: see [`CreatedOnce::existed`]).
    Done(Box<CreatedOnce>),
    /// The key is not free (answered before, used with another request, or still
    /// running): nothing was written. Claim it the usual way
    /// ([`PaymentService::claim_idempotency_key`]) to learn which.
    KeyTaken,
    /// A rate counter went over its limit: the request is counted, nothing was sent,
    /// and the key is free again. Every counter's new count by scope.
    OverLimit(Vec<(String, i64)>),
}

/// What [`PaymentService::create_payment_once`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreatedOnce {
    /// The payment as it stands.
    pub payment: PaymentView,
    /// The key had created this payment before (its first request died after sending
    /// it): nothing new was sent, the payment is answered as it stands now.
    pub existed: bool,
    /// The key's answer was stored with the payment's outcome; the front end must not
    /// store another. `false` when the payment existed, was refused before the
    /// provider, or its outcome was written by someone else first.
    pub answer_kept: bool,
}

/// How long a repeated request waits for the first one before it is told "in progress".
pub const WAIT_FOR_FIRST: Duration = Duration::from_secs(10);
/// How often the waiting request looks again.
const POLL: Duration = Duration::from_millis(15);

/// What claiming a key ended in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claim {
    /// The key is this request's: run it, then keep its answer or release the key.
    /// Carries the rate counters' values after this request's hits (scope, count).
    Started(Vec<(String, i64)>),
    /// The key answered before: replay this answer.
    Replay {
        /// The HTTP status kept with the answer.
        status: u16,
        /// The answer's body as kept.
        body: String,
    },
    /// The key was used with another request.
    Mismatch,
    /// The first request with this key is still running after [`WAIT_FOR_FIRST`].
    InProgress,
}

impl PaymentService {
    /// Claims `key` of a company for a request whose content hashes to `request_hash`,
    /// waiting up to [`WAIT_FOR_FIRST`] for an earlier request with the same key. The
    /// `rate_hits` are counted only when the claim starts the request.
    pub async fn claim_idempotency_key(
        &self,
        company_id: &str,
        key: &str,
        request_hash: &str,
        rate_hits: Vec<RateHit>,
    ) -> Result<Claim, ServiceError> {
        let store = &self.inner.store;
        let started = Instant::now();
        loop {
            let (begin, counts) = store
                .idempotency_begin_counted(
                    company_id,
                    key,
                    request_hash,
                    self.now_ms(),
                    rate_hits.clone(),
                )
                .await?;
            match begin {
                IdempotencyBegin::Started => return Ok(Claim::Started(counts)),
                IdempotencyBegin::Replay { status, body } => {
                    return Ok(Claim::Replay { status, body })
                }
                IdempotencyBegin::Mismatch => return Ok(Claim::Mismatch),
                IdempotencyBegin::InProgress if started.elapsed() < WAIT_FOR_FIRST => {
                    tokio::time::sleep(POLL).await;
                }
                IdempotencyBegin::InProgress => return Ok(Claim::InProgress),
            }
        }
    }

    /// Keeps the answer of a claimed request, to be replayed for its key.
    pub async fn keep_idempotent_answer(
        &self,
        company_id: &str,
        key: &str,
        status: u16,
        body: &str,
    ) -> Result<(), ServiceError> {
        Ok(self
            .inner
            .store
            .idempotency_finish(company_id, key, status, body)
            .await?)
    }

    /// Gives a claimed key back: the request attempted nothing.
    pub async fn release_idempotency_key(
        &self,
        company_id: &str,
        key: &str,
    ) -> Result<(), ServiceError> {
        Ok(self
            .inner
            .store
            .idempotency_release(company_id, key)
            .await?)
    }

    /// Adds one hit to each rate counter, outside any idempotency claim, and gives the
    /// counters' values after it (scope, count).
    pub async fn count_rate_hits(
        &self,
        hits: Vec<RateHit>,
    ) -> Result<Vec<(String, i64)>, ServiceError> {
        Ok(self.inner.store.rate_hit(hits).await?)
    }

    /// Deletes the rate windows that started before `before` (Unix seconds).
    pub async fn purge_rate_windows(&self, before: i64) -> Result<u64, ServiceError> {
        Ok(self.inner.store.purge_rate_counters(before).await?)
    }
}
