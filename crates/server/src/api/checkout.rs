//! `/api/v1/checkout-sessions`: the hosted payment page and payment links.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;

use sanalpos_core::{Currency, Kurus};
use sanalpos_service::{CheckoutSessionView, NewCheckoutSession};

use super::body::JsonBody;
use crate::auth::Caller;
use crate::error::{ApiError, ErrorEnvelope};
use crate::openapi as doc;
use crate::AppState;

fn amount(text: Option<String>, field: &'static str) -> Result<Option<Kurus>, ApiError> {
    text.map(|t| Kurus::parse(&t).map_err(|e| ApiError::invalid(field, format!("{field}: {e}"))))
        .transpose()
}

fn parse(body: &[u8]) -> Result<NewCheckoutSession, ApiError> {
    let json = JsonBody::parse(body)?;
    let root = json.object()?;
    let currency = match root.optional_string("currency")? {
        None => None,
        Some(code) => Some(
            Currency::from_alpha(&code)
                .ok_or_else(|| ApiError::invalid("currency", "currency must be TRY, USD or EUR"))?,
        ),
    };
    let max_installments = match root.optional_integer("max_installments")? {
        None => None,
        Some(n @ 1..=12) => Some(n as u8),
        Some(_) => {
            return Err(ApiError::invalid(
                "max_installments",
                "max_installments must be 1 to 12",
            ))
        }
    };
    Ok(NewCheckoutSession {
        purpose: root.string("purpose")?,
        amount: amount(root.optional_string("amount")?, "amount")?,
        min_amount: amount(root.optional_string("min_amount")?, "min_amount")?,
        max_amount: amount(root.optional_string("max_amount")?, "max_amount")?,
        currency,
        order_ref: root.optional_string("order_ref")?,
        customer_ref: root.optional_string("customer_ref")?,
        description: root.optional_string("description")?,
        return_url: root.optional_string("return_url")?,
        max_installments,
        language: root.optional_string("language")?,
        expires_in: root.optional_integer("expires_in")?,
    })
}

/// Create a checkout session
///
/// A hosted payment page for an order, or an account payment (payment link). The
/// answer's `return_secret` signs the return; it is shown only here.
#[utoipa::path(post, path = "/api/v1/checkout-sessions", operation_id = "create_checkout_session", tag = "checkout",
    request_body = doc::CheckoutSessionBody,
    responses((status = 201, body = CheckoutSessionView), (status = 400, body = ErrorEnvelope), (status = 422, body = ErrorEnvelope)),
    security(("api_key" = [])))]
pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    body: Bytes,
) -> Result<Response, ApiError> {
    let request = parse(&body)?;
    let view = state
        .service
        .create_checkout_session(&caller.actor(), request)
        .await?;
    Ok((StatusCode::CREATED, Json(view)).into_response())
}

/// Get a checkout session
#[utoipa::path(get, path = "/api/v1/checkout-sessions/{id}", operation_id = "get_checkout_session", tag = "checkout",
    params(("id" = String, Path, description = "cs_…")),
    responses((status = 200, body = CheckoutSessionView), (status = 404, body = ErrorEnvelope)),
    security(("api_key" = [])))]
pub async fn get(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let view = state
        .service
        .get_checkout_session(&caller.company_id, &id)
        .await?;
    Ok(Json(view).into_response())
}

/// Reopen a locked checkout session or payment link
///
/// A session or link locks after too many unsuccessful attempts (card testing). This
/// unlocks it and resets its count of failed attempts; audited as
/// `checkout_session.reopened`.
#[utoipa::path(post, path = "/api/v1/checkout-sessions/{id}/reopen", operation_id = "reopen_checkout_session", tag = "checkout",
    params(("id" = String, Path, description = "cs_…")),
    responses((status = 200, body = CheckoutSessionView),
        (status = 404, body = ErrorEnvelope),
        (status = 409, description = "Completed or expired (`session_not_open`)", body = ErrorEnvelope)),
    security(("api_key" = [])))]
pub async fn reopen(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    state
        .service
        .reopen_checkout_session(&caller.actor(), &id)
        .await?;
    let view = state
        .service
        .get_checkout_session(&caller.company_id, &id)
        .await?;
    Ok(Json(view).into_response())
}
