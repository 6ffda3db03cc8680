//! The API's `Idempotency-Key` header: the key's syntax, and the answers the service's
//! idempotency claim turns into (a replay, 422 for another body, 409 while the first
//! request still runs). The protocol itself is the service's
//! ([`PaymentService::claim_idempotency_key`](sanalpos_service::PaymentService::claim_idempotency_key)).

use std::future::Future;

use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};

use sanalpos_service::{Claim, ServiceError};

use crate::auth::Caller;
use crate::error::ApiError;
use crate::ratelimit::ApiClass;
use crate::AppState;

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
    /// An answer the work already stored for the key (with the payment's outcome).
    Kept(StatusCode, String),
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

/// A JSON answer; `replayed` marks one given again for its key.
pub fn json_response(status: StatusCode, body: String, replayed: bool) -> Response {
    let mut response = (status, [("content-type", "application/json")], body).into_response();
    if replayed {
        response
            .headers_mut()
            .insert("idempotent-replayed", HeaderValue::from_static("true"));
    }
    response
}

/// What identifies a request under its key: the route and the exact body.
pub fn request_hash(route: &str, body: &[u8]) -> String {
    let mut hasher = Sha256::new();
    hasher.update(route.as_bytes());
    hasher.update([0]);
    hasher.update(body);
    hex::encode(hasher.finalize())
}

/// Stores the answer of a request that holds its key; gives the body back.
pub async fn keep(
    state: &AppState,
    company_id: &str,
    key: &str,
    status: StatusCode,
    body: String,
) -> String {
    if let Err(e) = state
        .service
        .keep_idempotent_answer(company_id, key, status.as_u16(), &body)
        .await
    {
        tracing::error!(error = %e, "idempotency answer not stored");
    }
    body
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
    let service = &state.service;
    let hash = request_hash(route, body);
    let tally = state
        .limiter
        .api_tally(company_id, &caller.key_id, ApiClass::Payment);
    let claim = service
        .claim_idempotency_key(company_id, key, &hash, tally.hits())
        .await;
    match claim {
        Ok(Claim::Started(counts)) => {
            if let Err(refused) = state.limiter.judge(&tally, &counts) {
                if let Err(e) = service.release_idempotency_key(company_id, key).await {
                    tracing::error!(error = %e, "idempotency key not released");
                }
                return refused.api_error().into_response();
            }
        }
        Ok(Claim::Replay { status, body }) => {
            state.metrics.idempotent_replay();
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::OK);
            return json_response(status, body, true);
        }
        Ok(Claim::Mismatch) => {
            return ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "idempotency_key_reused",
                "this Idempotency-Key was used with another request body",
            )
            .into_response()
        }
        Ok(Claim::InProgress) => {
            return ApiError::new(
                StatusCode::CONFLICT,
                "idempotency_in_progress",
                "a request with this Idempotency-Key is still being processed",
            )
            .into_response()
        }
        Err(e) => return ApiError::from(e).into_response(),
    }
    let keep = |status: StatusCode, body: String| keep(state, company_id, key, status, body);
    match work.await {
        Outcome::Kept(status, body) => json_response(status, body, false),
        Outcome::Done(status, Ok(body)) => {
            let body = keep(status, body).await;
            json_response(status, body, false)
        }
        Outcome::Done(_, Err(e)) => {
            let error = ApiError::internal(&format!("answer not serializable: {e}"));
            keep(error.status, error.body()).await;
            error.into_response()
        }
        Outcome::Release(error) => {
            if let Err(e) = service.release_idempotency_key(company_id, key).await {
                tracing::error!(error = %e, "idempotency key not released");
            }
            error.into_response()
        }
        Outcome::Keep(error) => {
            keep(error.status, error.body()).await;
            error.into_response()
        }
    }
}
