//! `Idempotency-Key` with Stripe's semantics, stored in the database so it holds across
//! instances and restarts.
//!
//! Same key and same body: the first answer is replayed. Same key, another body: 422.
//! Same key while the first request still runs: the second waits a little for the
//! first to finish (so a double click gets the same answer), then gives 409. Answers to
//! requests that attempted nothing (validation errors) are not kept, so a corrected
//! request may reuse the key.

use std::future::Future;
use std::time::{Duration, Instant};

use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};

use sanalpos_service::ServiceError;
use sanalpos_store::IdempotencyBegin;

use crate::auth::Caller;
use crate::error::ApiError;
use crate::ratelimit::ApiClass;
use crate::AppState;

/// How long a repeated request waits for the first one before answering 409.
const WAIT_FOR_FIRST: Duration = Duration::from_secs(10);
/// How often it looks.
const POLL: Duration = Duration::from_millis(15);

/// The key from the header: 1 to 255 printable ASCII characters.
pub fn key(headers: &HeaderMap) -> Result<String, ApiError> {
    let value = headers
        .get("idempotency-key")
        .ok_or_else(|| {
            ApiError::invalid(
                "Idempotency-Key",
                "the Idempotency-Key header is required to create a payment",
            )
        })?
        .to_str()
        .map_err(|_| ApiError::invalid("Idempotency-Key", "the key must be printable ASCII"))?;
    let ok = !value.is_empty() && value.len() <= 255 && value.bytes().all(|b| b.is_ascii_graphic());
    if ok {
        Ok(value.to_owned())
    } else {
        Err(ApiError::invalid(
            "Idempotency-Key",
            "the key must be 1 to 255 printable ASCII characters",
        ))
    }
}

/// What the guarded work ended in.
pub enum Outcome {
    /// An answer to keep and replay.
    Done(StatusCode, Result<String, serde_json::Error>),
    /// Nothing was attempted: answer, and forget the key.
    Release(ApiError),
    /// Something may have been attempted: keep this answer for the key.
    Keep(ApiError),
}

impl Outcome {
    /// Errors raised before any provider call release the key; internal errors keep it,
    /// so a retry cannot send a second sale while the first one's fate is unknown.
    pub fn from_error(error: ServiceError) -> Outcome {
        let keep = matches!(error, ServiceError::Storage(_));
        let api = ApiError::from(error);
        if keep {
            Outcome::Keep(api)
        } else {
            Outcome::Release(api)
        }
    }
}

fn json_response(status: StatusCode, body: String, replayed: bool) -> Response {
    let mut response = (status, [("content-type", "application/json")], body).into_response();
    if replayed {
        response
            .headers_mut()
            .insert("idempotent-replayed", HeaderValue::from_static("true"));
    }
    response
}

fn request_hash(route: &str, body: &[u8]) -> String {
    let mut hasher = Sha256::new();
    hasher.update(route.as_bytes());
    hasher.update([0]);
    hasher.update(body);
    hex::encode(hasher.finalize())
}

/// Runs `work` at most once per (company, key). The request is counted against the
/// caller's rate limits only when it is about to run: a replayed answer is not counted,
/// and a request over a limit gives its key back and is refused (429) before `work`.
pub async fn run(
    state: &AppState,
    caller: &Caller,
    key: &str,
    route: &str,
    body: &[u8],
    work: impl Future<Output = Outcome>,
) -> Response {
    let company_id = caller.company_id.as_str();
    let store = state.service.store();
    let hash = request_hash(route, body);
    let started = Instant::now();
    // The rate counters are added to in the claim's own transaction: a claimed request
    // costs no extra commit, and a replay adds nothing.
    let tally = state
        .limiter
        .api_tally(company_id, &caller.key_id, ApiClass::Payment);
    loop {
        let begin = store
            .idempotency_begin_counted(
                company_id,
                key,
                &hash,
                chrono::Utc::now().timestamp_millis(),
                tally.hits(),
            )
            .await;
        match begin {
            Ok((IdempotencyBegin::Started, counts)) => {
                if let Err(refused) = state.limiter.judge(&tally, &counts) {
                    if let Err(e) = store.idempotency_release(company_id, key).await {
                        tracing::error!(error = %e, "idempotency key not released");
                    }
                    return refused.api_error().into_response();
                }
                break;
            }
            Ok((IdempotencyBegin::Replay { status, body }, _)) => {
                state.metrics.idempotent_replay();
                let status = StatusCode::from_u16(status).unwrap_or(StatusCode::OK);
                return json_response(status, body, true);
            }
            Ok((IdempotencyBegin::Mismatch, _)) => {
                return ApiError::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "idempotency_key_reused",
                    "this Idempotency-Key was used with another request body",
                )
                .into_response()
            }
            Ok((IdempotencyBegin::InProgress, _)) if started.elapsed() < WAIT_FOR_FIRST => {
                tokio::time::sleep(POLL).await;
            }
            Ok((IdempotencyBegin::InProgress, _)) => {
                return ApiError::new(
                    StatusCode::CONFLICT,
                    "idempotency_in_progress",
                    "a request with this Idempotency-Key is still being processed",
                )
                .into_response()
            }
            Err(e) => return ApiError::internal(&e.to_string()).into_response(),
        }
    }
    match work.await {
        Outcome::Done(status, Ok(body)) => {
            if let Err(e) = store
                .idempotency_finish(company_id, key, status.as_u16(), &body)
                .await
            {
                tracing::error!(error = %e, "idempotency answer not stored");
            }
            json_response(status, body, false)
        }
        Outcome::Done(_, Err(e)) => {
            let error = ApiError::internal(&format!("answer not serializable: {e}"));
            let _ = store
                .idempotency_finish(company_id, key, error.status.as_u16(), &error.body())
                .await;
            error.into_response()
        }
        Outcome::Release(error) => {
            if let Err(e) = store.idempotency_release(company_id, key).await {
                tracing::error!(error = %e, "idempotency key not released");
            }
            error.into_response()
        }
        Outcome::Keep(error) => {
            let _ = store
                .idempotency_finish(company_id, key, error.status.as_u16(), &error.body())
                .await;
            error.into_response()
        }
    }
}
