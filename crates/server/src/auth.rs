//! API key authentication: `Authorization: Bearer <key>`; a key belongs to one company.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;

use crate::error::ApiError;
use crate::AppState;

/// The authenticated caller of an API route.
#[derive(Debug, Clone)]
pub struct Caller {
    /// The key's company: every query is scoped to it.
    pub company_id: String,
    /// The key's id (never the key itself), for the audit log.
    pub key_id: String,
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Caller, ApiError> {
        let header = parts
            .headers
            .get(axum::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .ok_or_else(ApiError::unauthorized)?;
        let key = header
            .strip_prefix("Bearer ")
            .or_else(|| header.strip_prefix("bearer "))
            .map(str::trim)
            .filter(|k| !k.is_empty())
            .ok_or_else(ApiError::unauthorized)?;
        match state.service.authenticate(key).await {
            Ok(Some(caller)) => Ok(Caller {
                company_id: caller.company_id,
                key_id: caller.key_id,
            }),
            Ok(None) => Err(ApiError::unauthorized()),
            Err(e) => Err(ApiError::from(e)),
        }
    }
}
