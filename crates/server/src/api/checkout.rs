//! `/api/v1/checkout-sessions`: the hosted payment page and payment links.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;

use sanalpos_core::{Currency, Lang};
use sanalpos_service::{CheckoutSessionView, NewCheckoutSession, SessionPurpose};
use serde::Deserialize;

use super::fields::{Amount, CurrencyCode, Installments, Switch, Text, Whole};
use crate::auth::Caller;
use crate::error::{ApiError, ErrorEnvelope};
use crate::AppState;

/// `POST /api/v1/checkout-sessions`.
#[derive(Deserialize, utoipa::ToSchema)]
pub struct CheckoutSessionBody {
    /// `order` (fixed amount, "Siparişi Sonlandır") or `account` (the cardholder picks
    /// an amount within the limits, "Finans Ödeme"; payment links).
    #[schema(value_type = SessionPurpose)]
    purpose: Text,
    /// The order's amount (order).
    #[serde(default)]
    #[schema(value_type = Option<String>, pattern = r"^\d+\.\d{2}$", example = "249.90")]
    amount: Option<Amount>,
    /// The least (account; default 0.01).
    #[serde(default)]
    #[schema(value_type = Option<String>, pattern = r"^\d+\.\d{2}$", example = "10.00")]
    min_amount: Option<Amount>,
    /// The most (account).
    #[serde(default)]
    #[schema(value_type = Option<String>, pattern = r"^\d+\.\d{2}$", example = "500.00")]
    max_amount: Option<Amount>,
    /// `TRY` (default).
    #[serde(default)]
    #[schema(value_type = Option<Currency>)]
    currency: Option<CurrencyCode>,
    /// Order reference.
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    order_ref: Option<Text>,
    /// Customer account reference.
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    customer_ref: Option<Text>,
    /// Shown on the page.
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    description: Option<Text>,
    /// The shop's page the browser returns to (required for orders).
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    return_url: Option<Text>,
    /// 1 to 12 (default 12).
    #[serde(default)]
    #[schema(value_type = Option<u8>, minimum = 1, maximum = 12)]
    max_installments: Option<Installments>,
    /// `tr` (default) or `en`.
    #[serde(default)]
    #[schema(value_type = Option<Lang>)]
    language: Option<Text>,
    /// Seconds (default 1800 for orders, 7 days for accounts; at most 90 days).
    #[serde(default)]
    #[schema(value_type = Option<u64>, minimum = 1, maximum = 7776000)]
    expires_in: Option<Whole>,
    /// `true`: the page shows the customer's cards stored at the provider to pay with,
    /// and offers "Kartımı kaydet" (keep the card typed, with a name). Needs
    /// `customer_ref`; the card vault is N Kolay's.
    #[serde(default)]
    #[schema(value_type = Option<bool>)]
    stored_cards: Option<Switch>,
}

fn parse(body: &[u8]) -> Result<NewCheckoutSession, ApiError> {
    let body: CheckoutSessionBody = super::body::parse(body)?;
    let text = |field: Option<Text>| field.map(|Text(text)| text);
    let amount = |field: Option<Amount>| field.map(|Amount(amount)| amount);
    Ok(NewCheckoutSession {
        purpose: body.purpose.0,
        amount: amount(body.amount),
        min_amount: amount(body.min_amount),
        max_amount: amount(body.max_amount),
        currency: body.currency.map(|c| c.0),
        order_ref: text(body.order_ref),
        customer_ref: text(body.customer_ref),
        description: text(body.description),
        return_url: text(body.return_url),
        max_installments: body.max_installments.map(|n| n.0),
        language: text(body.language),
        expires_in: body.expires_in.map(|n| n.0),
        stored_cards: body.stored_cards.is_some_and(|on| on.0),
    })
}

/// Create a checkout session
///
/// A hosted payment page for an order, or an account payment (payment link). The
/// answer's `return_secret` signs the return; it is shown only here.
#[utoipa::path(post, path = "/api/v1/checkout-sessions", operation_id = "create_checkout_session", tag = "checkout",
    request_body = CheckoutSessionBody,
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
