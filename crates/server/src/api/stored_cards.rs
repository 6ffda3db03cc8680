//! `/api/v1/customers/{customer_ref}/cards`: a customer's cards kept in the provider's
//! vault (list, store, delete). A payment names one with
//! `"card": {"stored_card_id": "card_…"}` and the same `customer_ref`.

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};

use sanalpos_service::{RegisterCard, StoredCardState, StoredCardView};

use super::fields::Text;
use super::payments::CardBody;
use crate::auth::{Caller, UncountedCaller};
use crate::error::{ApiError, ErrorEnvelope};
use crate::AppState;

/// A customer's stored cards.
#[derive(Serialize, utoipa::ToSchema)]
pub struct StoredCardList {
    /// Oldest first; deleted cards are left out, cards whose delete the provider has not
    /// confirmed yet are in, as `deleting`.
    pub items: Vec<StoredCardView>,
}

/// The list takes no query parameters; an unknown one is a mistake worth saying.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {}

/// `POST /api/v1/customers/{customer_ref}/cards`.
#[derive(Deserialize, utoipa::ToSchema)]
pub struct StoreCardBody {
    /// The card (number, expiry, CVV, holder); sent to the provider once, never kept
    /// here: we keep the provider's token and the mask.
    card: CardBody,
    /// The customer's name for the card ("İş kartım"), at most 50 characters.
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    alias: Option<Text>,
    /// The POS whose provider keeps the card; otherwise the default POS when it keeps
    /// cards, else the first active POS that does.
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pos_id: Option<Text>,
}

/// List a customer's stored cards
#[utoipa::path(get, path = "/api/v1/customers/{customer_ref}/cards", operation_id = "list_stored_cards", tag = "stored cards",
    params(("customer_ref" = String, Path, description = "The customer (cari) reference")),
    responses((status = 200, body = StoredCardList), (status = 400, body = ErrorEnvelope)),
    security(("api_key" = [])))]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Path(customer_ref): Path<String>,
    query: Result<Query<ListQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, ApiError> {
    query.map_err(|e| ApiError::invalid("query", e.body_text()))?;
    let items = state
        .service
        .list_stored_cards(&caller.company_id, &customer_ref)
        .await?;
    Ok(Json(StoredCardList { items }).into_response())
}

/// Store a customer's card
///
/// Keeps the card in the provider's vault (only a POS whose provider offers card
/// storage can; otherwise 409 `card_storage_not_supported`) and answers the stored card.
/// Counted like a payment request by the rate limits.
#[utoipa::path(post, path = "/api/v1/customers/{customer_ref}/cards", operation_id = "create_stored_card", tag = "stored cards",
    params(("customer_ref" = String, Path, description = "The customer (cari) reference")),
    request_body = StoreCardBody,
    responses(
        (status = 201, description = "Stored", body = StoredCardView),
        (status = 409, description = "The POS keeps no cards, or the provider refused the card", body = ErrorEnvelope),
        (status = 422, description = "No active POS", body = ErrorEnvelope),
        (status = 503, description = "The provider could not be used; nothing was kept", body = ErrorEnvelope)),
    security(("api_key" = [])))]
pub async fn create(
    State(state): State<AppState>,
    UncountedCaller(caller): UncountedCaller,
    Path(customer_ref): Path<String>,
    body: Bytes,
) -> Result<Response, ApiError> {
    // A card sent to the provider can be a card test: counted like a payment.
    caller.count_payment(&state).await?;
    let body: StoreCardBody = super::body::parse(&body)?;
    if body.card.stored()?.is_some() {
        return Err(ApiError::invalid(
            "card.stored_card_id",
            "card.stored_card_id names a card already stored; send the card's number, expiry and cvv",
        ));
    }
    let request = RegisterCard {
        card: body.card.entered()?,
        alias: body.alias.map(|Text(t)| t),
        pos_id: body.pos_id.map(|Text(t)| t),
    };
    let stored = state
        .service
        .register_stored_card(&caller.actor(), &customer_ref, request)
        .await?;
    Ok((StatusCode::CREATED, Json(stored)).into_response())
}

/// Delete a stored card
///
/// Deletes it at the provider, then here (200, `deleted`). When the provider does not
/// confirm, the card can no longer pay, stays listed as `deleting` with the reason, and
/// is deleted again in the background (202).
#[utoipa::path(delete, path = "/api/v1/customers/{customer_ref}/cards/{id}", operation_id = "delete_stored_card", tag = "stored cards",
    params(("customer_ref" = String, Path, description = "The customer (cari) reference"),
        ("id" = String, Path, description = "card_…")),
    responses(
        (status = 200, description = "Deleted at the provider", body = StoredCardView),
        (status = 202, description = "The provider did not confirm; tried again in the background", body = StoredCardView),
        (status = 404, body = ErrorEnvelope)),
    security(("api_key" = [])))]
pub async fn delete(
    State(state): State<AppState>,
    caller: Caller,
    Path((customer_ref, id)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let card = state
        .service
        .delete_stored_card(&caller.actor(), &customer_ref, &id)
        .await?;
    let status = if card.state == StoredCardState::Deleted {
        StatusCode::OK
    } else {
        StatusCode::ACCEPTED
    };
    Ok((status, Json(card)).into_response())
}
