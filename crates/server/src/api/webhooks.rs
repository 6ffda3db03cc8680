//! `/api/v1/webhook-endpoints`: endpoints, their deliveries, and resending.

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use sanalpos_service::{DeliveryView, EventName, WebhookEndpointView};

use super::fields::Text;
use crate::auth::Caller;
use crate::error::{ApiError, ErrorEnvelope};
use crate::AppState;

/// A new endpoint and its signing secret, shown only this once.
#[derive(Serialize, utoipa::ToSchema)]
pub struct WebhookEndpointCreated {
    /// The endpoint.
    #[serde(flatten)]
    pub endpoint: WebhookEndpointView,
    /// `whsec_…`: the key of the `Sanalpos-Signature` HMAC.
    pub secret: String,
}

/// The company's endpoints.
#[derive(Serialize, utoipa::ToSchema)]
pub struct WebhookEndpointList {
    /// Oldest first.
    pub items: Vec<WebhookEndpointView>,
}

/// An endpoint's deliveries.
#[derive(Serialize, utoipa::ToSchema)]
pub struct DeliveryList {
    /// Newest first.
    pub items: Vec<DeliveryView>,
}

/// Event names, each a text.
pub struct EventNames(Vec<String>);

impl<'de> Deserialize<'de> for EventNames {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        match Value::deserialize(deserializer)? {
            Value::Array(items) => items
                .into_iter()
                .map(|v| match v {
                    Value::String(name) => Ok(name),
                    _ => Err(D::Error::custom(" must be event names")),
                })
                .collect::<Result<_, _>>()
                .map(EventNames),
            _ => Err(D::Error::custom(" must be a list of event names")),
        }
    }
}

/// `POST /api/v1/webhook-endpoints`.
#[derive(Deserialize, utoipa::ToSchema)]
pub struct WebhookEndpointBody {
    /// Absolute http(s) URL.
    #[schema(value_type = String, pattern = r"^https?://[^/?#\s]+", max_length = 2000)]
    url: Text,
    /// Any of `payment.approved`, `payment.declined`, `payment.cancelled`,
    /// `payment.refunded`, `payment.needs_review`, `checkout_session.completed`,
    /// `checkout_session.locked`, `reconciliation.exceptions`.
    #[serde(default)]
    #[schema(value_type = Vec<EventName>, min_items = 1, required = true)]
    events: Option<EventNames>,
}

/// Add a webhook endpoint
///
/// The answer's `secret` is shown only here; it is stored encrypted.
#[utoipa::path(post, path = "/api/v1/webhook-endpoints", operation_id = "create_webhook_endpoint", tag = "webhooks",
    request_body = WebhookEndpointBody,
    responses((status = 201, body = WebhookEndpointCreated), (status = 400, body = ErrorEnvelope)),
    security(("api_key" = [])))]
pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    body: Bytes,
) -> Result<Response, ApiError> {
    let body: WebhookEndpointBody = super::body::parse(&body)?;
    let url = body.url.0;
    let Some(EventNames(events)) = body.events else {
        return Err(ApiError::invalid(
            "events",
            "events must be a list of event names",
        ));
    };
    let (endpoint, secret) = state
        .service
        .create_webhook_endpoint(&caller.company_id, &url, &events, &caller.actor().name)
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(WebhookEndpointCreated { endpoint, secret }),
    )
        .into_response())
}

/// The list takes no query.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NoQuery {}

/// List webhook endpoints
#[utoipa::path(get, path = "/api/v1/webhook-endpoints", operation_id = "list_webhook_endpoints", tag = "webhooks",
    responses((status = 200, body = WebhookEndpointList)),
    security(("api_key" = [])))]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    query: Result<Query<NoQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, ApiError> {
    query.map_err(|e| ApiError::invalid("query", e.body_text()))?;
    let items = state
        .service
        .list_webhook_endpoints(&caller.company_id)
        .await?;
    Ok(Json(WebhookEndpointList { items }).into_response())
}

/// Delete a webhook endpoint
///
/// Its pending deliveries are dropped.
#[utoipa::path(delete, path = "/api/v1/webhook-endpoints/{id}", operation_id = "delete_webhook_endpoint", tag = "webhooks",
    params(("id" = String, Path, description = "whe_…")),
    responses((status = 204, description = "Deleted"), (status = 404, body = ErrorEnvelope)),
    security(("api_key" = [])))]
pub async fn delete(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    state
        .service
        .delete_webhook_endpoint(&caller.company_id, &id, &caller.actor().name)
        .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// Query of the deliveries list.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeliveriesQuery {
    limit: Option<u32>,
}

/// List an endpoint's deliveries
///
/// Newest first, each with every try and the endpoint's answers.
#[utoipa::path(get, path = "/api/v1/webhook-endpoints/{id}/deliveries", operation_id = "list_deliveries", tag = "webhooks",
    params(("id" = String, Path, description = "whe_…"), ("limit" = Option<u32>, Query, description = "1 to 200, default 50")),
    responses((status = 200, body = DeliveryList), (status = 404, body = ErrorEnvelope)),
    security(("api_key" = [])))]
pub async fn deliveries(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    query: Result<Query<DeliveriesQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(query) = query.map_err(|e| ApiError::invalid("query", e.body_text()))?;
    let limit = query.limit.unwrap_or(50);
    if !(1..=200).contains(&limit) {
        return Err(ApiError::invalid("limit", "limit must be 1 to 200"));
    }
    let items = state
        .service
        .list_webhook_deliveries(&caller.company_id, &id, limit)
        .await?;
    Ok(Json(DeliveryList { items }).into_response())
}

/// Send a delivery again
///
/// Now, with a fresh three-day retry window.
#[utoipa::path(post, path = "/api/v1/webhook-endpoints/{id}/deliveries/{delivery_id}/resend", operation_id = "resend_delivery", tag = "webhooks",
    params(("id" = String, Path, description = "whe_…"), ("delivery_id" = String, Path, description = "whd_…")),
    responses((status = 200, body = DeliveryView), (status = 404, body = ErrorEnvelope)),
    security(("api_key" = [])))]
pub async fn resend(
    State(state): State<AppState>,
    caller: Caller,
    Path((id, delivery_id)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let view = state
        .service
        .resend_webhook_delivery(&caller.company_id, &id, &delivery_id, &caller.actor().name)
        .await?;
    Ok(Json(view).into_response())
}
