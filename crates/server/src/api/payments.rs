//! `/api/v1/payments`: create (idempotent), get, list, cancel, refund, reverse.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{ConnectInfo, Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::Value;

use sanalpos_core::{Currency, Kurus};
use sanalpos_service::{
    Actor, CaptureMode, CardInput, CardVaultUse, Channel, ClaimedPayment, CreatePayment,
    KeyAnswerFn, KeyClaim, PaymentDetail, PaymentFilter, PaymentPage, PaymentStatus, PaymentView,
    RefundAnswer, RefundStatus, ServiceError,
};

use super::body::JsonBody;
use super::fields::{Amount, Capture, CurrencyCode, Digits, Installments, Ip, Switch, Text};
use super::idempotency;
use crate::auth::{Caller, SaleAuth};
use crate::error::{ApiError, ErrorEnvelope};
use crate::AppState;

/// Create a payment
///
/// Non-3D sale or 3D start. Answers 201 for every attempt that was made, whatever
/// its outcome; 4xx only when nothing was attempted.
#[utoipa::path(post, path = "/api/v1/payments", operation_id = "create_payment", tag = "payments",
    params(("Idempotency-Key" = String, Header, description = "Unique per payment; same key and body replays the first answer")),
    request_body = CreatePaymentBody,
    responses(
        (status = 201, description = "Attempted", body = PaymentView),
        (status = 400, description = "Invalid", body = ErrorEnvelope),
        (status = 401, description = "No valid API key", body = ErrorEnvelope),
        (status = 409, description = "Same key still running", body = ErrorEnvelope),
        (status = 422, description = "Key reused with another body, or no active POS", body = ErrorEnvelope)),
    security(("api_key" = [])))]
pub async fn create(
    State(state): State<AppState>,
    auth: SaleAuth,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let caller = &auth.caller;
    let peer_ip = crate::client_ip::client_ip(peer, &headers, &state.trusted_proxies);
    let parsed = idempotency::key(&headers)
        .and_then(|key| parse_create(&body, peer_ip).map(|request| (key, request)));
    let (key, request) = match parsed {
        Ok(parsed) => parsed,
        Err(e) => {
            if let Err(refused) = auth.confirm(&state).await {
                return refused.into_response();
            }
            if let Err(refused) = caller.count_payment(&state).await {
                return refused.into_response();
            }
            return e.into_response();
        }
    };
    let answer = answer_of_create();
    let tally = state.limiter.api_tally(
        &caller.company_id,
        &caller.key_id,
        crate::ratelimit::ApiClass::Payment,
    );
    // The usual case, a key not seen before: claimed, counted and written with the
    // payment in one commit.
    let claim = KeyClaim {
        company_id: caller.company_id.clone(),
        key: key.clone(),
        request_hash: idempotency::request_hash(CREATE_ROUTE, &body),
        hits: tally.hits(),
        limits: tally.limits(),
    };
    let claimed = state
        .service
        .create_payment_claiming(&auth.sale, &claim, request, answer.clone())
        .await;
    match claimed {
        Ok(ClaimedPayment::Done(created)) => {
            let status = if created.existed {
                StatusCode::OK
            } else {
                state
                    .metrics
                    .payment_created(status_name(created.payment.status));
                StatusCode::CREATED
            };
            let body = match serde_json::to_string(&created.payment) {
                Ok(body) => body,
                Err(e) => {
                    return ApiError::internal(&format!("answer not serializable: {e}"))
                        .into_response()
                }
            };
            let body = if created.answer_kept {
                body
            } else {
                idempotency::keep(&state, &caller.company_id, &key, status, body).await
            };
            idempotency::json_response(status, body, false)
        }
        Ok(ClaimedPayment::OverLimit(counts)) => match state.limiter.judge(&tally, &counts) {
            Err(refused) => refused.api_error().into_response(),
            Ok(()) => {
                ApiError::internal("a rate counter was over a limit no scope has").into_response()
            }
        },
        // Answered before, used with another body, or still running: the claim protocol
        // tells which (and waits a little for a running first request).
        Ok(ClaimedPayment::KeyTaken) => match parse_create(&body, peer_ip) {
            Ok(request) => claimed_before(&state, caller, &key, &body, request).await,
            Err(e) => e.into_response(),
        },
        // Nothing was written, or the key stays claimed until its lock runs out (an
        // internal error after the payment was written): a retry then finds the
        // payment, never sends a second one. Refusals are counted like malformed
        // requests.
        Err(error) => {
            if !matches!(error, ServiceError::Storage(_) | ServiceError::Unauthorized) {
                // A refusal made before the sale confirmed its caller is answered only
                // to a caller who still holds the key.
                if let Err(refused) = auth.confirm(&state).await {
                    return refused.into_response();
                }
                if let Err(refused) = caller.count_payment(&state).await {
                    return refused.into_response();
                }
            }
            ApiError::from(error).into_response()
        }
    }
}

const CREATE_ROUTE: &str = "POST /api/v1/payments";

/// The answer a payment request keeps for its key: 201 with the payment.
fn answer_of_create() -> KeyAnswerFn {
    Arc::new(|view| match serde_json::to_string(view) {
        Ok(body) => (StatusCode::CREATED.as_u16(), body),
        Err(e) => {
            let error = ApiError::internal(&format!("answer not serializable: {e}"));
            (error.status.as_u16(), error.body())
        }
    })
}

/// A payment request whose key was taken when it came: claimed the usual way, so an
/// answered key replays, another body is refused and a running first request is waited
/// for; when the key has come free meanwhile, the payment is made under it.
async fn claimed_before(
    state: &AppState,
    caller: &Caller,
    key: &str,
    body: &[u8],
    request: CreatePayment,
) -> Response {
    let actor = caller.actor();
    let service = state.service.clone();
    let metrics = state.metrics.clone();
    let payment_key = key.to_owned();
    idempotency::run(state, caller, key, CREATE_ROUTE, body, async move {
        let answer = answer_of_create();
        match service
            .create_payment_once(&actor, &payment_key, request, answer.clone())
            .await
        {
            // The key's first request died after creating its payment: answer with
            // that payment as it stands, never a second sale.
            Ok(created) if created.existed => {
                idempotency::Outcome::Done(StatusCode::OK, serde_json::to_string(&created.payment))
            }
            Ok(created) => {
                metrics.payment_created(status_name(created.payment.status));
                let (status, body) = answer(&created.payment);
                let status =
                    StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
                if created.answer_kept {
                    idempotency::Outcome::Kept(status, body)
                } else {
                    idempotency::Outcome::Done(status, Ok(body))
                }
            }
            Err(error) => idempotency::Outcome::from_error(error),
        }
    })
    .await
}

fn status_name(status: PaymentStatus) -> &'static str {
    match status {
        PaymentStatus::Approved => "approved",
        PaymentStatus::Declined => "declined",
        PaymentStatus::Failed => "failed",
        PaymentStatus::Unknown => "unknown",
        PaymentStatus::Pending3ds => "pending_3ds",
        PaymentStatus::Blocked => "blocked",
        _ => "other",
    }
}

/// A card: its own fields (number, expiry, CVV, holder), or, to pay, a card the
/// customer stored before (`stored_card_id` alone). The card's fields are sent to the
/// provider for the one call and never stored or echoed.
#[derive(Deserialize, utoipa::ToSchema)]
#[schema(as = Card)]
pub struct CardBody {
    /// The card number (spaces allowed); required unless `stored_card_id`.
    #[serde(default)]
    #[schema(value_type = Option<String>, pattern = r"^[0-9 ]{12,23}$")]
    number: Option<Text>,
    /// `MM`; required unless `stored_card_id`.
    #[serde(default)]
    #[schema(value_type = Option<String>, pattern = r"^(0?[1-9]|1[0-2])$")]
    expiry_month: Option<Digits>,
    /// `YYYY` or `YY`; required unless `stored_card_id`.
    #[serde(default)]
    #[schema(value_type = Option<String>, pattern = r"^([0-9]{2}|[0-9]{4})$")]
    expiry_year: Option<Digits>,
    /// 3 or 4 digits; required unless `stored_card_id`.
    #[serde(default)]
    #[schema(value_type = Option<String>, pattern = r"^[0-9]{3,4}$")]
    cvv: Option<Text>,
    /// Name on the card.
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    holder: Option<Text>,
    /// Payments only: a stored card of the payment's `customer_ref` (`card_…`, from
    /// `/api/v1/customers/{customer_ref}/cards`), instead of the card's own fields.
    #[serde(default)]
    #[schema(value_type = Option<String>, example = "card_4Yw1bq2Rk9mZtXo3aLpC7e")]
    stored_card_id: Option<Text>,
}

impl CardBody {
    /// The stored card it names, if any; `Err` when it also carries card fields.
    pub(super) fn stored(&self) -> Result<Option<String>, ApiError> {
        let Some(Text(id)) = &self.stored_card_id else {
            return Ok(None);
        };
        if self.number.is_some()
            || self.expiry_month.is_some()
            || self.expiry_year.is_some()
            || self.cvv.is_some()
        {
            return Err(ApiError::invalid(
                "card.stored_card_id",
                "card.stored_card_id comes alone: leave out the card's number, expiry and cvv",
            ));
        }
        Ok(Some(id.clone()))
    }

    /// The card's own fields, each required.
    pub(super) fn entered(self) -> Result<CardInput, ApiError> {
        fn required<T>(value: Option<T>, field: &'static str) -> Result<T, ApiError> {
            value.ok_or_else(|| ApiError::invalid(field, format!("{field} is required")))
        }
        Ok(CardInput {
            number: required(self.number, "card.number")?.0,
            expiry_month: required(self.expiry_month, "card.expiry_month")?.0,
            expiry_year: required(self.expiry_year, "card.expiry_year")?.0,
            cvv: required(self.cvv, "card.cvv")?.0,
            holder: self.holder.map(|Text(t)| t).unwrap_or_default(),
        })
    }
}

/// `POST /api/v1/payments`.
#[derive(Deserialize, utoipa::ToSchema)]
pub struct CreatePaymentBody {
    /// Decimal string with two places, `"150.00"`.
    #[schema(value_type = String, pattern = r"^\d+\.\d{2}$", example = "150.00")]
    amount: Amount,
    /// `TRY` (default), `USD`, `EUR`.
    #[serde(default)]
    #[schema(value_type = Option<Currency>)]
    currency: Option<CurrencyCode>,
    /// 1 (default) to 12.
    #[serde(default)]
    #[schema(value_type = Option<u8>, minimum = 1, maximum = 12)]
    installments: Option<Installments>,
    /// The card, or a stored card of `customer_ref` (`{"stored_card_id": "card_…"}`:
    /// non-3D, the card's POS).
    card: CardBody,
    /// Go through 3D Secure (then `return_url` is required).
    #[serde(default)]
    #[schema(value_type = Option<bool>)]
    three_d: Option<Switch>,
    /// `automatic` (default): a sale. `manual`: a pre-authorisation (provizyon): the
    /// amount is blocked and the payment is `authorized` until it is captured
    /// (`/capture`) or released (`/release`); the POS's hold period (7 days unless set)
    /// ends it by itself. Refused (`validation_failed`, field `capture`) when the
    /// POS's provider has no pre-authorisation.
    #[serde(default)]
    #[schema(value_type = Option<CaptureMode>)]
    capture: Option<Capture>,
    /// Where the cardholder's browser goes after 3D.
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    return_url: Option<Text>,
    /// Order (sipariş) reference.
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    order_ref: Option<Text>,
    /// Customer account (cari) reference.
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    customer_ref: Option<Text>,
    /// Free text.
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    description: Option<Text>,
    /// A specific POS; otherwise the default.
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pos_id: Option<Text>,
    /// The cardholder's own IP address, as the shop saw it (IPv4 or IPv6). Counted by
    /// the per-IP velocity limit; without it only the per-card limit applies.
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    cardholder_ip: Option<Ip>,
    /// 3D only, with `customer_ref`: keep the card in the provider's vault for that
    /// customer once the sale is approved (it then shows in
    /// `/api/v1/customers/{customer_ref}/cards`).
    #[serde(default)]
    save_card: Option<SaveCardBody>,
}

/// Keep the card of a 3D payment for its customer.
#[derive(Deserialize, utoipa::ToSchema)]
pub struct SaveCardBody {
    /// The customer's name for the card ("İş kartım"), at most 50 characters.
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    alias: Option<Text>,
}

/// Reads the create body; an error names the field and never echoes a value (a card
/// number must not come back in an error text).
fn parse_create(body: &[u8], peer: std::net::IpAddr) -> Result<CreatePayment, ApiError> {
    let body: CreatePaymentBody = super::body::parse(body)?;
    let text = |field: Option<Text>| field.map(|Text(text)| text);
    let (card, vault) = match (body.card.stored()?, body.save_card) {
        (Some(_), Some(_)) => {
            return Err(ApiError::invalid(
                "save_card",
                "save_card keeps a new card; a stored card is kept already",
            ))
        }
        (Some(id), None) => (CardInput::default(), CardVaultUse::StoredCard(id)),
        (None, Some(save)) => (
            body.card.entered()?,
            CardVaultUse::SaveCard {
                alias: text(save.alias).unwrap_or_default(),
            },
        ),
        (None, None) => (body.card.entered()?, CardVaultUse::None),
    };
    // The cardholder's own address, as the shop saw it: counted by the per-IP
    // velocity limit. Without it only the per-card limit applies (the caller's own
    // address is the shop's server, shared by all its customers).
    let client_ip = body.cardholder_ip.map(|Ip(ip)| ip);
    Ok(CreatePayment {
        amount: body.amount.0,
        currency: body.currency.map_or(Currency::Try, |c| c.0),
        installments: body.installments.map_or(1, |n| n.0),
        card,
        vault,
        three_d: body.three_d.is_some_and(|on| on.0),
        capture: body.capture.map_or(CaptureMode::Automatic, |c| c.0),
        return_url: text(body.return_url),
        order_ref: text(body.order_ref),
        customer_ref: text(body.customer_ref),
        description: text(body.description),
        pos_id: text(body.pos_id),
        channel: Channel::Api,
        cardholder_ip: Some(client_ip.unwrap_or(peer)),
        client_ip,
    })
}

/// Get a payment
///
/// With its attempts and refunds.
#[utoipa::path(get, path = "/api/v1/payments/{id}", operation_id = "get_payment", tag = "payments",
    params(("id" = String, Path, description = "pay_…")),
    responses((status = 200, body = PaymentDetail), (status = 404, body = ErrorEnvelope)),
    security(("api_key" = [])))]
pub async fn get(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let detail = state.service.get_payment(&caller.company_id, &id).await?;
    Ok(Json(detail).into_response())
}

/// Query of `GET /api/v1/payments`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    from: Option<String>,
    to: Option<String>,
    status: Option<String>,
    pos_id: Option<String>,
    order_ref: Option<String>,
    customer_ref: Option<String>,
    channel: Option<String>,
    last_four: Option<String>,
    min_amount: Option<String>,
    max_amount: Option<String>,
    auth_code: Option<String>,
    provider_ref: Option<String>,
    limit: Option<u32>,
    cursor: Option<String>,
}

/// List payments
///
/// Newest first, with filters and cursor paging.
#[utoipa::path(get, path = "/api/v1/payments", operation_id = "list_payments", tag = "payments",
    params(
        ("from" = Option<String>, Query, description = "YYYY-MM-DD (Istanbul) or RFC 3339"),
        ("to" = Option<String>, Query, description = "YYYY-MM-DD (Istanbul) or RFC 3339, exclusive"),
        ("status" = Option<String>, Query, description = "A payment status"),
        ("pos_id" = Option<String>, Query, description = "A POS"),
        ("order_ref" = Option<String>, Query, description = "Order reference"),
        ("customer_ref" = Option<String>, Query, description = "Customer account reference"),
        ("channel" = Option<String>, Query, description = "api, hosted, moto, manual or reconciliation"),
        ("last_four" = Option<String>, Query, description = "The card's last four digits"),
        ("min_amount" = Option<String>, Query, description = "Decimal string, inclusive"),
        ("max_amount" = Option<String>, Query, description = "Decimal string, inclusive"),
        ("auth_code" = Option<String>, Query, description = "The bank's authorization code"),
        ("provider_ref" = Option<String>, Query, description = "The provider's reference"),
        ("limit" = Option<u32>, Query, description = "1 to 200, default 50"),
        ("cursor" = Option<String>, Query, description = "next_cursor of the previous page")),
    responses((status = 200, body = PaymentPage), (status = 400, body = ErrorEnvelope), (status = 401, body = ErrorEnvelope)),
    security(("api_key" = [])))]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    query: Result<Query<ListQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(query) = query.map_err(|e| ApiError::invalid("query", e.body_text()))?;
    let status = match &query.status {
        None => None,
        Some(text) => Some(
            serde_json::from_value::<PaymentStatus>(Value::String(text.clone()))
                .map_err(|_| ApiError::invalid("status", "unknown payment status"))?,
        ),
    };
    let channel = match query.channel.as_deref() {
        None | Some("") => None,
        Some(text) => Some(Channel::parse(text).ok_or_else(|| {
            ApiError::invalid(
                "channel",
                "one of api, hosted, moto, manual, reconciliation",
            )
        })?),
    };
    let filter = PaymentFilter {
        from: parse_time(query.from.as_deref(), "from")?,
        to: parse_time(query.to.as_deref(), "to")?,
        status,
        pos_id: query.pos_id,
        order_ref: query.order_ref,
        customer_ref: query.customer_ref,
        channel,
        last_four: query.last_four,
        min_amount: parse_amount(query.min_amount.as_deref(), "min_amount")?,
        max_amount: parse_amount(query.max_amount.as_deref(), "max_amount")?,
        auth_code: query.auth_code,
        provider_ref: query.provider_ref,
        limit: query.limit,
        cursor: query.cursor,
    };
    let page = state
        .service
        .list_payments(&caller.company_id, filter)
        .await?;
    Ok(Json(page).into_response())
}

/// A decimal amount with up to two places (`150.00`).
pub(super) fn parse_amount(
    text: Option<&str>,
    field: &'static str,
) -> Result<Option<Kurus>, ApiError> {
    match text {
        None | Some("") => Ok(None),
        Some(text) => Kurus::parse(text).map(Some).map_err(|_| {
            ApiError::invalid(field, format!("{field} must be an amount such as 150.00"))
        }),
    }
}

/// `2026-11-29` (start of that day, Istanbul) or an RFC 3339 time.
pub(super) fn parse_time(
    text: Option<&str>,
    field: &'static str,
) -> Result<Option<chrono::DateTime<chrono::Utc>>, ApiError> {
    let Some(text) = text else { return Ok(None) };
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(text) {
        return Ok(Some(t.with_timezone(&chrono::Utc)));
    }
    let date = chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .map_err(|_| ApiError::invalid(field, format!("{field} must be YYYY-MM-DD or RFC 3339")))?;
    let start = sanalpos_core::time::istanbul_midnight(date)
        .ok_or_else(|| ApiError::invalid(field, "no such time"))?;
    Ok(Some(start))
}

/// Cancel a payment
///
/// Void on the sale's business day, only without refunds.
#[utoipa::path(post, path = "/api/v1/payments/{id}/cancel", operation_id = "cancel_payment", tag = "payments",
    params(("id" = String, Path, description = "pay_…")),
    responses((status = 200, body = PaymentView), (status = 404, body = ErrorEnvelope), (status = 409, body = ErrorEnvelope)),
    security(("api_key" = [])))]
pub async fn cancel(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Response, ApiError> {
    no_fields(&body)?;
    let view = state
        .service
        .cancel_payment(&caller.actor(), &caller.company_id, &id)
        .await?;
    Ok(Json(view).into_response())
}

/// `POST /api/v1/payments/{id}/capture`.
#[derive(Deserialize, utoipa::ToSchema)]
pub struct CaptureBody {
    /// Decimal string; all of the held amount when absent. At most the held amount;
    /// less captures part and the provider frees the rest.
    #[serde(default)]
    #[schema(value_type = Option<String>, pattern = r"^\d+\.\d{2}$", example = "60.00")]
    amount: Option<Amount>,
}

/// The route an idempotent pre-authorisation step is claimed under: the step and the
/// payment, so one key cannot be replayed onto another payment.
fn step_route(step: &str, id: &str) -> String {
    format!("POST /api/v1/payments/{id}/{step}")
}

/// Capture a pre-authorisation
///
/// Takes all of an `authorized` payment's held amount, or part of it (`amount`; the
/// provider frees the rest): the payment becomes `approved` with `amount` = what was
/// captured (`held_amount` keeps the block), `payment.captured` is sent, and it can be
/// refunded as any sale. More than the held amount is refused before the provider
/// hears of it. When the provider's answer does not come, the payment stays
/// `capturing` (202) and the janitor settles it by inquiry. With an
/// `Idempotency-Key`, a retry replays the first answer.
#[utoipa::path(post, path = "/api/v1/payments/{id}/capture", operation_id = "capture_payment", tag = "payments",
    params(("id" = String, Path, description = "pay_…"),
        ("Idempotency-Key" = Option<String>, Header, description = "Same key, same answer")),
    request_body(content = Option<CaptureBody>, description = "Empty for all of the held amount"),
    responses(
        (status = 200, description = "Captured", body = PaymentView),
        (status = 202, description = "Sent, answer not in: `capturing`; settled by inquiry", body = PaymentView),
        (status = 400, body = ErrorEnvelope), (status = 404, body = ErrorEnvelope),
        (status = 409, description = "`not_authorized`, `capture_declined`", body = ErrorEnvelope),
        (status = 503, description = "`provider_failed`: nothing was done, still held", body = ErrorEnvelope)),
    security(("api_key" = [])))]
pub async fn capture(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let amount = if body.iter().all(u8::is_ascii_whitespace) {
        None
    } else {
        super::body::parse::<CaptureBody>(&body)?
            .amount
            .map(|Amount(amount)| amount)
    };
    let work = {
        let (state, caller, id) = (state.clone(), caller.clone(), id.clone());
        async move {
            state
                .service
                .capture_payment(&caller.actor(), &caller.company_id, &id, amount)
                .await
        }
    };
    step_answer(
        &state,
        &caller,
        &headers,
        &step_route("capture", &id),
        &body,
        work,
    )
    .await
}

/// Release a pre-authorisation
///
/// Frees all of an `authorized` payment's held amount: nothing is charged, the payment
/// becomes `released` and `payment.released` is sent. When the provider's answer does
/// not come, it stays `releasing` (202) and the janitor settles it by inquiry. No body
/// (or `{}`). With an `Idempotency-Key`, a retry replays the first answer.
#[utoipa::path(post, path = "/api/v1/payments/{id}/release", operation_id = "release_payment", tag = "payments",
    params(("id" = String, Path, description = "pay_…"),
        ("Idempotency-Key" = Option<String>, Header, description = "Same key, same answer")),
    responses(
        (status = 200, description = "Released", body = PaymentView),
        (status = 202, description = "Sent, answer not in: `releasing`; settled by inquiry", body = PaymentView),
        (status = 404, body = ErrorEnvelope),
        (status = 409, description = "`not_authorized`, `release_declined`", body = ErrorEnvelope),
        (status = 503, description = "`provider_failed`: nothing was done, still held", body = ErrorEnvelope)),
    security(("api_key" = [])))]
pub async fn release(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Response, ApiError> {
    no_fields(&body)?;
    let work = {
        let (state, caller, id) = (state.clone(), caller.clone(), id.clone());
        async move {
            state
                .service
                .release_payment(&caller.actor(), &caller.company_id, &id)
                .await
        }
    };
    step_answer(
        &state,
        &caller,
        &headers,
        &step_route("release", &id),
        &body,
        work,
    )
    .await
}

/// The answer of a capture or release: 200 once settled, 202 while the provider's
/// answer is out; kept for the `Idempotency-Key` when the request has one.
async fn step_answer(
    state: &AppState,
    caller: &Caller,
    headers: &HeaderMap,
    route: &str,
    body: &[u8],
    work: impl std::future::Future<Output = Result<PaymentView, ServiceError>>,
) -> Result<Response, ApiError> {
    let status_of = |view: &PaymentView| {
        if matches!(
            view.status,
            PaymentStatus::Capturing | PaymentStatus::Releasing
        ) {
            StatusCode::ACCEPTED
        } else {
            StatusCode::OK
        }
    };
    if headers.get("idempotency-key").is_none() {
        let view = work.await?;
        return Ok((status_of(&view), Json(view)).into_response());
    }
    let key = idempotency::key(headers)?;
    Ok(
        idempotency::run(state, caller, &key, route, body, async move {
            match work.await {
                Ok(view) => {
                    idempotency::Outcome::Done(status_of(&view), serde_json::to_string(&view))
                }
                Err(error) => idempotency::Outcome::from_error(error),
            }
        })
        .await,
    )
}

/// A route that takes no parameters accepts no body or `{}`; anything else is a
/// mistake of the caller's, refused before money moves.
fn no_fields(body: &[u8]) -> Result<(), ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(());
    }
    let json = JsonBody::parse(body)?;
    if json.object()?.is_empty() {
        Ok(())
    } else {
        Err(ApiError::invalid(
            "body",
            "this action takes no parameters: send no body or {}",
        ))
    }
}

/// Reverse a payment
///
/// A cancel on the sale's business day, a refund of what remains after it.
#[utoipa::path(post, path = "/api/v1/payments/{id}/reverse", operation_id = "reverse_payment", tag = "payments",
    params(("id" = String, Path, description = "pay_…")),
    responses((status = 200, body = PaymentView), (status = 404, body = ErrorEnvelope), (status = 409, body = ErrorEnvelope)),
    security(("api_key" = [])))]
pub async fn reverse(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Response, ApiError> {
    no_fields(&body)?;
    let view = state
        .service
        .reverse_payment(&caller.actor(), &caller.company_id, &id)
        .await?;
    Ok(Json(view).into_response())
}

/// `POST /api/v1/payments/{id}/refunds`.
#[derive(Deserialize, utoipa::ToSchema)]
pub struct RefundBody {
    /// Decimal string; the whole remaining amount when absent.
    #[serde(default)]
    #[schema(value_type = Option<String>, pattern = r"^\d+\.\d{2}$", example = "25.00")]
    amount: Option<Amount>,
}

/// Refund a payment
///
/// Part or all of what was captured; never more (approved, scheduled and still
/// open refunds all count). The whole sale on its business day is cancelled
/// instead. When the provider's business day is not closed yet, a partial refund is
/// accepted as `scheduled` (202): it counts against the refundable amount at once,
/// is carried out automatically after the provider's close (the payment then becomes
/// `partially_refunded` / `refunded`, with the usual webhook), and can be withdrawn
/// until then.
#[utoipa::path(post, path = "/api/v1/payments/{id}/refunds", operation_id = "refund_payment", tag = "payments",
    params(("id" = String, Path, description = "pay_…")),
    request_body(content = Option<RefundBody>, description = "Empty for the whole remaining amount"),
    responses(
        (status = 201, description = "Carried out (or cancelled)", body = RefundAnswer),
        (status = 202, description = "Scheduled for after the provider's day close; `refund.status` is `scheduled`, `refund.message` says why", body = RefundAnswer),
        (status = 404, body = ErrorEnvelope), (status = 409, body = ErrorEnvelope)),
    security(("api_key" = [])))]
pub async fn refund(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let amount = if body.iter().all(u8::is_ascii_whitespace) {
        None
    } else {
        super::body::parse::<RefundBody>(&body)?
            .amount
            .map(|Amount(amount)| amount)
    };
    let actor = caller.actor();
    let amount = match amount {
        Some(amount) => amount,
        None => state
            .service
            .get_payment(&caller.company_id, &id)
            .await?
            .refundable(),
    };
    let answer = state
        .service
        .request_refund(&actor, &caller.company_id, &id, amount)
        .await?;
    let status = if answer.refund.status == RefundStatus::Scheduled {
        StatusCode::ACCEPTED
    } else {
        StatusCode::CREATED
    };
    Ok((status, Json(answer)).into_response())
}

/// Withdraw a scheduled refund
///
/// Takes back a refund that is still `scheduled`: it will not be carried out, and its
/// amount is refundable again. Audited. No body (or `{}`).
#[utoipa::path(post, path = "/api/v1/payments/{id}/refunds/{refund_id}/withdraw", operation_id = "withdraw_refund", tag = "payments",
    params(("id" = String, Path, description = "pay_…"), ("refund_id" = String, Path, description = "ref_…")),
    responses(
        (status = 200, description = "Withdrawn; the payment with its refunds", body = PaymentDetail),
        (status = 404, body = ErrorEnvelope),
        (status = 409, description = "Not scheduled (`not_withdrawable`)", body = ErrorEnvelope)),
    security(("api_key" = [])))]
pub async fn withdraw_refund(
    State(state): State<AppState>,
    caller: Caller,
    Path((id, refund_id)): Path<(String, String)>,
    body: Bytes,
) -> Result<Response, ApiError> {
    no_fields(&body)?;
    let detail = state
        .service
        .withdraw_refund(&caller.actor(), &caller.company_id, &id, &refund_id)
        .await?;
    Ok(Json(detail).into_response())
}

/// An actor for the audit log.
impl Caller {
    /// `api:<key id>` acting for the key's company.
    pub fn actor(&self) -> Actor {
        Actor {
            company_id: self.company_id.clone(),
            name: format!("api:{}", self.key_id),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn body(change: impl FnOnce(&mut Value)) -> Vec<u8> {
        let mut body = json!({
            "amount": "10.00",
            "card": {"number": "4546711234567894", "expiry_month": "12", "expiry_year": "2030", "cvv": "000"}
        });
        change(&mut body);
        body.to_string().into_bytes()
    }

    fn refused(change: impl FnOnce(&mut Value)) -> (String, String) {
        let peer = std::net::IpAddr::from([127, 0, 0, 1]);
        let err = parse_create(&body(change), peer).err().unwrap();
        assert!(!err.body().contains("4546711234567894"), "{}", err.body());
        (err.field.unwrap_or_default().into_owned(), err.message)
    }

    #[test]
    fn a_payment_body_is_read_with_its_defaults() {
        let peer = std::net::IpAddr::from([127, 0, 0, 1]);
        let request = parse_create(
            &body(|b| {
                b["card"]["expiry_month"] = json!(1);
                b["card"]["holder"] = Value::Null;
                b["installments"] = Value::Null;
                b["unknown"] = json!("ignored");
            }),
            peer,
        )
        .unwrap();
        assert_eq!(request.amount, Kurus::parse("10.00").unwrap());
        assert_eq!(request.currency, Currency::Try);
        assert_eq!(request.installments, 1);
        assert_eq!(request.card.expiry_month, "1");
        assert_eq!(request.card.holder, "");
        assert!(!request.three_d);
        assert_eq!(request.cardholder_ip, Some(peer));
        assert_eq!(request.client_ip, None);
        let request = parse_create(
            &body(|b| {
                b["currency"] = json!("USD");
                b["installments"] = json!(3);
                b["three_d"] = json!(true);
                b["return_url"] = json!("https://shop.example/r");
                b["cardholder_ip"] = json!(" 10.0.0.7 ");
            }),
            peer,
        )
        .unwrap();
        assert_eq!(
            (request.currency, request.installments, request.three_d),
            (Currency::Usd, 3, true)
        );
        assert_eq!(
            request.return_url.as_deref(),
            Some("https://shop.example/r")
        );
        assert_eq!(request.client_ip, "10.0.0.7".parse().ok());
    }

    type Change = Box<dyn FnOnce(&mut Value)>;

    #[test]
    fn every_refusal_names_its_field() {
        let cases: Vec<(Change, &str, &str)> = vec![
            (
                Box::new(|b| b["amount"] = Value::Null),
                "amount",
                "amount is required",
            ),
            (
                Box::new(|b| {
                    b.as_object_mut().unwrap().remove("amount");
                }),
                "amount",
                "amount is required",
            ),
            (
                Box::new(|b| b["amount"] = json!(5)),
                "amount",
                "amount must be a string",
            ),
            (
                Box::new(|b| b["amount"] = json!("1.005")),
                "amount",
                "amount: amount has more than two decimal places",
            ),
            (
                Box::new(|b| b["currency"] = json!("GBP")),
                "currency",
                "currency must be TRY, USD or EUR",
            ),
            (
                Box::new(|b| b["installments"] = json!(13)),
                "installments",
                "installments must be 1 to 12",
            ),
            (
                Box::new(|b| b["installments"] = json!("3")),
                "installments",
                "installments must be a whole number",
            ),
            (
                Box::new(|b| {
                    b.as_object_mut().unwrap().remove("card");
                }),
                "card",
                "card is required",
            ),
            (
                Box::new(|b| b["card"] = json!("4546711234567894")),
                "card",
                "card must be an object",
            ),
            (
                Box::new(|b| b["card"]["number"] = json!(4546711234567894u64)),
                "card.number",
                "card.number must be a string",
            ),
            (
                Box::new(|b| {
                    b["card"].as_object_mut().unwrap().remove("cvv");
                }),
                "card.cvv",
                "card.cvv is required",
            ),
            (
                Box::new(|b| b["card"]["expiry_month"] = json!(true)),
                "card.expiry_month",
                "card.expiry_month must be a string or a whole number",
            ),
            (
                Box::new(|b| b["three_d"] = json!("yes")),
                "three_d",
                "three_d must be true or false",
            ),
            (
                Box::new(|b| b["return_url"] = json!(5)),
                "return_url",
                "return_url must be a string",
            ),
            (
                Box::new(|b| b["cardholder_ip"] = json!("nope")),
                "cardholder_ip",
                "cardholder_ip must be an IPv4 or IPv6 address",
            ),
        ];
        for (change, field, message) in cases {
            assert_eq!(refused(change), (field.to_owned(), message.to_owned()));
        }
    }
}
