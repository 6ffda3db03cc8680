//! `/api/v1/pos/{pos_id}/statement-profiles`: the column-mapping profiles saved for a
//! POS's statements (list, create, read, replace, delete). The body of a create or
//! replace is the profile itself:
//! `{"name", "columns": [{"header", "field"}], "numbers": "turkish"|"dot",
//! "time_formats": [..], "date_formats": [..], "kinds": [["Satış", "sale"], ..],
//! "statuses": [["Başarılı", "success"], ..]}`.

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;

use serde::Serialize;

use sanalpos_service::{Profile, StatementProfileView};

use crate::auth::Caller;
use crate::error::{ApiError, ErrorEnvelope};
use crate::AppState;

fn profile_of(body: &Bytes) -> Result<Profile, ApiError> {
    serde_json::from_slice(body)
        .map_err(|e| ApiError::invalid("body", format!("not a statement profile: {e}")))
}

/// The statement profiles of a POS.
#[derive(Serialize, utoipa::ToSchema)]
pub struct StatementProfileList {
    /// Newest first.
    pub items: Vec<StatementProfileView>,
}

/// The list takes no query parameters; an unknown one is a mistake worth saying.
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {}

/// List a POS's statement profiles
#[utoipa::path(get, path = "/api/v1/pos/{pos_id}/statement-profiles", operation_id = "list_statement_profiles", tag = "reconciliations",
    params(("pos_id" = String, Path, description = "pos_…")),
    responses((status = 200, body = StatementProfileList), (status = 404, body = ErrorEnvelope)),
    security(("api_key" = [])))]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Path(pos_id): Path<String>,
    query: Result<Query<ListQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, ApiError> {
    query.map_err(|e| ApiError::invalid("query", e.body_text()))?;
    let profiles = state
        .service
        .list_statement_profiles(&caller.company_id, &pos_id)
        .await?;
    Ok(Json(StatementProfileList { items: profiles }).into_response())
}

/// Save a statement profile
///
/// A column mapping for the POS's statement files; use it with
/// `POST /api/v1/reconciliations/import?profile_id=`.
#[utoipa::path(post, path = "/api/v1/pos/{pos_id}/statement-profiles", operation_id = "create_statement_profile", tag = "reconciliations",
    params(("pos_id" = String, Path, description = "pos_…")),
    request_body = Profile,
    responses((status = 201, body = StatementProfileView), (status = 404, body = ErrorEnvelope), (status = 409, body = ErrorEnvelope)),
    security(("api_key" = [])))]
pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    Path(pos_id): Path<String>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let profile = profile_of(&body)?;
    let saved = state
        .service
        .create_statement_profile(&caller.actor(), &caller.company_id, &pos_id, profile)
        .await?;
    Ok((StatusCode::CREATED, Json(saved)).into_response())
}

/// Get a statement profile
#[utoipa::path(get, path = "/api/v1/pos/{pos_id}/statement-profiles/{id}", operation_id = "get_statement_profile", tag = "reconciliations",
    params(("pos_id" = String, Path, description = "pos_…"), ("id" = String, Path, description = "stp_…")),
    responses((status = 200, body = StatementProfileView), (status = 404, body = ErrorEnvelope)),
    security(("api_key" = [])))]
pub async fn get(
    State(state): State<AppState>,
    caller: Caller,
    Path((pos_id, id)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let saved = state
        .service
        .get_statement_profile(&caller.company_id, &id)
        .await?;
    if saved.pos_id != pos_id {
        return Err(sanalpos_service::ServiceError::NotFound.into());
    }
    Ok(Json(saved).into_response())
}

/// Replace a statement profile
#[utoipa::path(put, path = "/api/v1/pos/{pos_id}/statement-profiles/{id}", operation_id = "replace_statement_profile", tag = "reconciliations",
    params(("pos_id" = String, Path, description = "pos_…"), ("id" = String, Path, description = "stp_…")),
    request_body = Profile,
    responses((status = 200, body = StatementProfileView), (status = 404, body = ErrorEnvelope)),
    security(("api_key" = [])))]
pub async fn replace(
    State(state): State<AppState>,
    caller: Caller,
    Path((pos_id, id)): Path<(String, String)>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let profile = profile_of(&body)?;
    let current = state
        .service
        .get_statement_profile(&caller.company_id, &id)
        .await?;
    if current.pos_id != pos_id {
        return Err(sanalpos_service::ServiceError::NotFound.into());
    }
    let saved = state
        .service
        .update_statement_profile(&caller.actor(), &caller.company_id, &id, profile)
        .await?;
    Ok(Json(saved).into_response())
}

/// Delete a statement profile
#[utoipa::path(delete, path = "/api/v1/pos/{pos_id}/statement-profiles/{id}", operation_id = "delete_statement_profile", tag = "reconciliations",
    params(("pos_id" = String, Path, description = "pos_…"), ("id" = String, Path, description = "stp_…")),
    responses((status = 204, description = "Deleted"), (status = 404, body = ErrorEnvelope)),
    security(("api_key" = [])))]
pub async fn delete(
    State(state): State<AppState>,
    caller: Caller,
    Path((pos_id, id)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let current = state
        .service
        .get_statement_profile(&caller.company_id, &id)
        .await?;
    if current.pos_id != pos_id {
        return Err(sanalpos_service::ServiceError::NotFound.into());
    }
    state
        .service
        .delete_statement_profile(&caller.actor(), &caller.company_id, &id)
        .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
