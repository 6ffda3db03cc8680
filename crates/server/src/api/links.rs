//! `/api/v1/payment-links`: the company's payment links (account checkout sessions,
//! made with `POST /api/v1/checkout-sessions`), listed with filters and cursor paging,
//! and sent to a customer by e-mail.

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};

use sanalpos_service::{CheckoutSessionView, LinkFilter, LinkPage};

use super::fields::Text;
use super::payments::{parse_amount, parse_time};
use crate::auth::Caller;
use crate::error::{ApiError, ErrorEnvelope};
use crate::mail::{send_link, SendError};
use crate::AppState;

/// Query of `GET /api/v1/payment-links`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    from: Option<String>,
    to: Option<String>,
    status: Option<String>,
    q: Option<String>,
    min_amount: Option<String>,
    max_amount: Option<String>,
    limit: Option<u32>,
    cursor: Option<String>,
}

/// List payment links
///
/// The company's payment links (account checkout sessions), newest first, with
/// filters and cursor paging.
#[utoipa::path(get, path = "/api/v1/payment-links", operation_id = "list_payment_links", tag = "checkout",
    params(
        ("from" = Option<String>, Query, description = "Created from: YYYY-MM-DD (Istanbul) or RFC 3339"),
        ("to" = Option<String>, Query, description = "Created before: YYYY-MM-DD (Istanbul) or RFC 3339, exclusive"),
        ("status" = Option<String>, Query, description = "open, locked, completed or expired"),
        ("q" = Option<String>, Query, description = "A piece of the customer reference, order reference, description or id (ASCII letters in any case)"),
        ("min_amount" = Option<String>, Query, description = "The link's largest amount at least this (decimal string)"),
        ("max_amount" = Option<String>, Query, description = "The link's largest amount at most this (decimal string)"),
        ("limit" = Option<u32>, Query, description = "1 to 200, default 50"),
        ("cursor" = Option<String>, Query, description = "next_cursor of the previous page")),
    responses((status = 200, body = LinkPage), (status = 400, body = ErrorEnvelope)),
    security(("api_key" = [])))]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    query: Result<Query<ListQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(query) = query.map_err(|e| ApiError::invalid("query", e.body_text()))?;
    let filter = LinkFilter {
        from: parse_time(query.from.as_deref(), "from")?,
        to: parse_time(query.to.as_deref(), "to")?,
        status: query.status,
        text: query.q,
        min_amount: parse_amount(query.min_amount.as_deref(), "min_amount")?,
        max_amount: parse_amount(query.max_amount.as_deref(), "max_amount")?,
        limit: query.limit,
        cursor: query.cursor,
    };
    let page = state
        .service
        .list_payment_links(&caller.company_id, &filter)
        .await?;
    Ok(Json(page).into_response())
}

/// Get a payment link
#[utoipa::path(get, path = "/api/v1/payment-links/{id}", operation_id = "get_payment_link", tag = "checkout",
    params(("id" = String, Path, description = "cs_…")),
    responses((status = 200, body = CheckoutSessionView), (status = 404, body = ErrorEnvelope)),
    security(("api_key" = [])))]
pub async fn get(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let link = state
        .service
        .get_payment_link(&caller.company_id, &id)
        .await?;
    Ok(Json(link).into_response())
}

/// A payment link the mail server took.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct LinkSent {
    /// `cs_…`.
    id: String,
    /// The address it went to.
    recipient: String,
    /// Always `sent`.
    status: SentStatus,
}

/// The outcome of a sending that succeeded.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SentStatus {
    /// The mail server took the message.
    Sent,
}

/// `POST /api/v1/payment-links/{id}/send`.
#[derive(Deserialize, utoipa::ToSchema)]
pub struct SendLinkBody {
    /// One plain address.
    #[schema(value_type = String, max_length = 254, example = "musteri@firma.com.tr")]
    email: Text,
    /// A personal note put above the link's details.
    #[serde(default)]
    #[schema(value_type = Option<String>, max_length = 1000)]
    note: Option<Text>,
}

/// Send a payment link by e-mail
///
/// Through the configured mail server, in the link's language: the company's name,
/// the amount or range, the description, the expiry and the address. Answers once
/// the mail server took the message; every try is in the audit log with its
/// recipient.
#[utoipa::path(post, path = "/api/v1/payment-links/{id}/send", operation_id = "send_payment_link", tag = "checkout",
    params(("id" = String, Path, description = "cs_…")),
    request_body = SendLinkBody,
    responses(
        (status = 200, body = LinkSent),
        (status = 400, description = "Not an e-mail address, or a bad note", body = ErrorEnvelope),
        (status = 404, body = ErrorEnvelope),
        (status = 409, description = "The link is paid or expired (`link_not_open`)", body = ErrorEnvelope),
        (status = 502, description = "The mail server refused (`mail_refused`)", body = ErrorEnvelope),
        (status = 503, description = "No mail server configured (`mail_not_configured`)", body = ErrorEnvelope)),
    security(("api_key" = [])))]
pub async fn send(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let body: SendLinkBody = super::body::parse(&body)?;
    let email = body.email.0;
    let note = body.note.map(|Text(note)| note).unwrap_or_default();
    match send_link(&state, &caller.actor(), &id, &email, &note).await {
        Ok(recipient) => Ok((
            StatusCode::OK,
            Json(LinkSent {
                id,
                recipient,
                status: SentStatus::Sent,
            }),
        )
            .into_response()),
        Err(SendError::NotConfigured) => Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "mail_not_configured",
            "no mail server is configured (smtp_host, smtp_from); nothing was sent",
        )),
        Err(SendError::BadRecipient) => Err(ApiError::invalid(
            "email",
            "email must be one plain e-mail address such as customer@example.com",
        )),
        Err(SendError::BadNote) => Err(ApiError::invalid(
            "note",
            "note must be at most 1000 characters, without control characters",
        )),
        Err(SendError::Refused(reason)) => Err(ApiError::new(
            StatusCode::BAD_GATEWAY,
            "mail_refused",
            format!("the mail server did not take the message; nothing was sent: {reason}"),
        )),
        // Not found, or `link_not_open` (409).
        Err(SendError::Service(e)) => Err(e.into()),
    }
}
