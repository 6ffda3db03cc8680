//! API key authentication: `Authorization: Bearer <key>`; a key belongs to one company.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;

use crate::error::ApiError;
use crate::ratelimit::ApiClass;
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

    /// Authenticates, then counts the request against the key's and the company's rate
    /// limits: a request over a limit is refused (429) before its handler runs.
    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Caller, ApiError> {
        let caller = authenticate(parts, state).await?;
        state
            .limiter
            .api(&caller.company_id, &caller.key_id, ApiClass::Other)
            .await
            .map_err(|refusal| refusal.api_error())?;
        Ok(caller)
    }
}

/// An authenticated caller not counted yet: for the idempotent routes, which count a
/// request only once it runs (a replayed answer is not counted).
#[derive(Debug, Clone)]
pub struct UncountedCaller(pub Caller);

impl FromRequestParts<AppState> for UncountedCaller {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<UncountedCaller, ApiError> {
        authenticate(parts, state).await.map(UncountedCaller)
    }
}

/// The caller of the API's sale route, not counted yet: authenticated from the keys the
/// service keeps (no read when the key is among them). The sale confirms it before it
/// writes; an answer given without the sale running must confirm it first
/// ([`SaleAuth::confirm`]).
#[derive(Debug, Clone)]
pub struct SaleAuth {
    /// The key's company and id.
    pub caller: Caller,
    /// The same, as the service checks it.
    pub sale: sanalpos_service::SaleCaller,
}

impl FromRequestParts<AppState> for SaleAuth {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<SaleAuth, ApiError> {
        let key = bearer_key(parts)?;
        match state.service.authenticate_sale(key).await {
            Ok(Some(sale)) => Ok(SaleAuth {
                caller: Caller {
                    company_id: sale.caller.company_id.clone(),
                    key_id: sale.caller.key_id.clone(),
                },
                sale,
            }),
            Ok(None) => Err(ApiError::unauthorized()),
            Err(e) => Err(ApiError::from(e)),
        }
    }
}

impl SaleAuth {
    /// Confirms the caller where the sale did not run: the 401 answer for a key revoked
    /// since it was kept.
    pub async fn confirm(&self, state: &AppState) -> Result<(), ApiError> {
        state
            .service
            .confirm_sale_caller(&self.sale)
            .await
            .map_err(ApiError::from)
    }
}

impl Caller {
    /// Counts one payment creation of this caller; the 429 answer when it is over a
    /// limit.
    pub async fn count_payment(&self, state: &AppState) -> Result<(), ApiError> {
        state
            .limiter
            .api(&self.company_id, &self.key_id, ApiClass::Payment)
            .await
            .map_err(|refusal| refusal.api_error())
    }
}

/// The key of the `Authorization: Bearer` header.
fn bearer_key(parts: &Parts) -> Result<&str, ApiError> {
    let header = parts
        .headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .ok_or_else(ApiError::unauthorized)?;
    header
        .strip_prefix("Bearer ")
        .or_else(|| header.strip_prefix("bearer "))
        .map(str::trim)
        .filter(|k| !k.is_empty())
        .ok_or_else(ApiError::unauthorized)
}

async fn authenticate(parts: &Parts, state: &AppState) -> Result<Caller, ApiError> {
    let key = bearer_key(parts)?;
    match state.service.authenticate(key).await {
        Ok(Some(caller)) => Ok(Caller {
            company_id: caller.company_id,
            key_id: caller.key_id,
        }),
        Ok(None) => Err(ApiError::unauthorized()),
        Err(e) => Err(ApiError::from(e)),
    }
}
