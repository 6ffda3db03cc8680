//! Request rate limits: per API key and per company on the API, per user on the back
//! office's "Online Tahsilat" form.
//!
//! Fixed windows counted in the database (`rate_counters`), so every instance on one
//! database shares the counts; a request costs one upsert on the primary key that adds
//! a hit to each of its counters and returns the new counts. A request over any of its
//! limits is refused before its handler runs, with the seconds left in the window.
//! Idempotent replays are answered before they are counted (see `api::idempotency`).
//! If the counters cannot be reached the request is let through and the error logged:
//! the limits protect the service, they must not take it down.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

use axum::http::StatusCode;

use sanalpos_service::PaymentService;
use sanalpos_store::RateHit;

use crate::error::ApiError;
use crate::metrics::Metrics;

/// The limits, from the configuration. A limit of 0 is off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimits {
    /// Length of one API window, seconds.
    pub api_window_secs: u64,
    /// Payments created (`POST /api/v1/payments`: a call to the bank) per API key per
    /// window.
    pub payments_per_key: u32,
    /// Payments created per company (all its keys together) per window.
    pub payments_per_company: u32,
    /// Every other API request (reads, refunds, sessions, links…) per API key per window.
    pub requests_per_key: u32,
    /// Every other API request per company per window.
    pub requests_per_company: u32,
    /// Charges from the back office's "Online Tahsilat" form per user per window.
    pub collect_per_user: u32,
    /// Length of one "Online Tahsilat" window, seconds.
    pub collect_window_secs: u64,
}

impl Default for RateLimits {
    fn default() -> RateLimits {
        RateLimits {
            api_window_secs: 60,
            payments_per_key: 60,
            payments_per_company: 120,
            requests_per_key: 1200,
            requests_per_company: 2400,
            collect_per_user: 20,
            collect_window_secs: 600,
        }
    }
}

impl RateLimits {
    /// Every limit off (load tools and tests that are not about the limits).
    pub fn off() -> RateLimits {
        RateLimits {
            payments_per_key: 0,
            payments_per_company: 0,
            requests_per_key: 0,
            requests_per_company: 0,
            collect_per_user: 0,
            ..RateLimits::default()
        }
    }
}

/// What an API request is counted as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ApiClass {
    /// `POST /api/v1/payments`: a new charge, sent to the bank (what a card tester needs).
    Payment,
    /// Any other request.
    Other,
}

/// A refused request: which limit, and when to come back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Refusal {
    /// The scope whose limit was reached (`api_payment_key`, …).
    pub scope: &'static str,
    /// The limit of that scope.
    pub limit: u32,
    /// The window's length, seconds.
    pub window_secs: u64,
    /// Seconds until the window ends (at least 1).
    pub retry_after: u64,
}

impl Refusal {
    /// The API's 429 answer.
    pub fn api_error(&self) -> ApiError {
        let whose = if self.scope.ends_with("_company") {
            "this company"
        } else {
            "this API key"
        };
        let mut error = ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limited",
            format!(
                "too many requests: {whose} may send {} of these in {} seconds; retry after {} seconds",
                self.limit, self.window_secs, self.retry_after
            ),
        );
        error.retry_after = Some(self.retry_after);
        error
    }
}

/// The counters one request adds to (those whose limit is on), in its window.
#[derive(Debug, Clone)]
pub struct Tally {
    counters: Vec<(&'static str, String, u32)>,
    window_secs: u64,
    window_start: i64,
    now: i64,
}

impl Tally {
    /// The upsert's rows: empty when every limit of the request is off.
    pub fn hits(&self) -> Vec<RateHit> {
        self.counters
            .iter()
            .map(|(scope, subject, _)| RateHit {
                scope: (*scope).to_owned(),
                subject: subject.clone(),
                window_start: self.window_start,
            })
            .collect()
    }

    /// The most hits each counter may reach, by scope (for a store that judges inside
    /// its own transaction; [`Limiter::judge`] says which limit refused).
    pub fn limits(&self) -> Vec<(String, i64)> {
        self.counters
            .iter()
            .map(|(scope, _, limit)| ((*scope).to_owned(), i64::from(*limit)))
            .collect()
    }
}

/// Counts requests against the limits.
pub struct Limiter {
    limits: RateLimits,
    service: PaymentService,
    metrics: Arc<Metrics>,
    /// When this instance last deleted ended windows, Unix seconds.
    last_purge: AtomicI64,
}

/// How often an instance deletes ended windows, at most.
const PURGE_EVERY_SECS: i64 = 60;

fn now_secs() -> i64 {
    chrono::Utc::now().timestamp()
}

impl Limiter {
    /// A limiter over the service's shared counters.
    pub fn new(limits: RateLimits, service: PaymentService, metrics: Arc<Metrics>) -> Limiter {
        Limiter {
            limits,
            service,
            metrics,
            last_purge: AtomicI64::new(0),
        }
    }

    /// The limits in force.
    pub fn limits(&self) -> &RateLimits {
        &self.limits
    }

    /// Counts one API request of a key; `Err` when it is over a limit.
    pub async fn api(
        &self,
        company_id: &str,
        key_id: &str,
        class: ApiClass,
    ) -> Result<(), Refusal> {
        let tally = self.api_tally(company_id, key_id, class);
        self.count(tally).await
    }

    /// The counters one API request adds to, for a caller that runs the upsert inside
    /// its own transaction ([`Tally::hits`]) and judges the counts after
    /// ([`Limiter::judge`]).
    pub fn api_tally(&self, company_id: &str, key_id: &str, class: ApiClass) -> Tally {
        let l = &self.limits;
        let (key_scope, key_limit, company_scope, company_limit) = match class {
            ApiClass::Payment => (
                "api_payment_key",
                l.payments_per_key,
                "api_payment_company",
                l.payments_per_company,
            ),
            ApiClass::Other => (
                "api_request_key",
                l.requests_per_key,
                "api_request_company",
                l.requests_per_company,
            ),
        };
        self.tally(
            l.api_window_secs,
            &[
                (key_scope, key_id, key_limit),
                (company_scope, company_id, company_limit),
            ],
        )
    }

    /// Counts one charge from the "Online Tahsilat" form; `Err` when it is over the limit.
    pub async fn collect(&self, user_id: &str) -> Result<(), Refusal> {
        let l = &self.limits;
        let tally = self.tally(
            l.collect_window_secs,
            &[("ui_collect_user", user_id, l.collect_per_user)],
        );
        self.count(tally).await
    }

    fn tally(&self, window_secs: u64, counters: &[(&'static str, &str, u32)]) -> Tally {
        let window = i64::try_from(window_secs.max(1)).unwrap_or(i64::MAX);
        let now = now_secs();
        let window_start = now - now.rem_euclid(window);
        let counters: Vec<(&'static str, String, u32)> = counters
            .iter()
            .filter(|(_, _, limit)| *limit > 0)
            .map(|(scope, subject, limit)| (*scope, (*subject).to_owned(), *limit))
            .collect();
        if !counters.is_empty() {
            self.purge_now_and_then(now);
        }
        Tally {
            counters,
            window_secs,
            window_start,
            now,
        }
    }

    /// Adds a hit to each counter whose limit is on, in one statement, and judges.
    async fn count(&self, tally: Tally) -> Result<(), Refusal> {
        if tally.counters.is_empty() {
            return Ok(());
        }
        match self.service.count_rate_hits(tally.hits()).await {
            Ok(counts) => self.judge(&tally, &counts),
            Err(e) => {
                tracing::warn!(error = %e, "rate counters unavailable; request let through");
                Ok(())
            }
        }
    }

    /// The first counter over its limit refuses (and is counted in the metrics).
    pub fn judge(&self, tally: &Tally, counts: &[(String, i64)]) -> Result<(), Refusal> {
        for (scope, _, limit) in &tally.counters {
            let over = counts
                .iter()
                .any(|(s, count)| s == scope && *count > i64::from(*limit));
            if over {
                self.metrics.rate_limited(scope);
                let window = i64::try_from(tally.window_secs.max(1)).unwrap_or(i64::MAX);
                let left = tally.window_start.saturating_add(window) - tally.now;
                return Err(Refusal {
                    scope,
                    limit: *limit,
                    window_secs: tally.window_secs,
                    retry_after: u64::try_from(left.max(1)).unwrap_or(1),
                });
            }
        }
        Ok(())
    }

    /// Deletes the ended windows of every scope, at most once a minute per instance,
    /// beside the request rather than in its way.
    fn purge_now_and_then(&self, now: i64) {
        let last = self.last_purge.load(Ordering::Relaxed);
        if now - last < PURGE_EVERY_SECS {
            return;
        }
        if self
            .last_purge
            .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
            .is_err()
        {
            return;
        }
        let longest = self
            .limits
            .api_window_secs
            .max(self.limits.collect_window_secs)
            .max(1);
        let before = now.saturating_sub(i64::try_from(longest).unwrap_or(i64::MAX));
        let service = self.service.clone();
        tokio::spawn(async move {
            if let Err(e) = service.purge_rate_windows(before).await {
                tracing::warn!(error = %e, "ended rate windows not deleted");
            }
        });
    }
}
