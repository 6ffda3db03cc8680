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

use sanalpos_service::Profile;

use crate::auth::Caller;
use crate::error::ApiError;
use crate::AppState;

fn profile_of(body: &Bytes) -> Result<Profile, ApiError> {
    serde_json::from_slice(body)
        .map_err(|e| ApiError::invalid("body", format!("not a statement profile: {e}")))
}

/// The list takes no query parameters; an unknown one is a mistake worth saying.
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {}

/// `GET /api/v1/pos/{pos_id}/statement-profiles`.
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
    Ok(Json(serde_json::json!({ "items": profiles })).into_response())
}

/// `POST /api/v1/pos/{pos_id}/statement-profiles`: 201 with the saved profile.
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

/// `GET /api/v1/pos/{pos_id}/statement-profiles/{id}`.
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

/// `PUT /api/v1/pos/{pos_id}/statement-profiles/{id}`: replaces the mapping.
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

/// `DELETE /api/v1/pos/{pos_id}/statement-profiles/{id}`: 204.
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
