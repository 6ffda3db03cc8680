//! `/api/v1/reconciliations`: pull a period from the provider's report, import a
//! statement file, read a run with its items, resolve an exception.

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};
use serde_json::json;

use sanalpos_service::{
    EntryDetails, ItemsQuery, MatchCandidate, ReconItemView, ReconRunEntry, ReconRunView,
    Resolution, ServiceError, StatementFile,
};

use super::fields::Text;
use crate::auth::Caller;
use crate::error::{ApiError, ErrorEnvelope};
use crate::AppState;

/// Largest statement file the import reads (the rest of the API takes 64 KiB).
pub const MAX_STATEMENT: usize = 32 * 1024 * 1024;

/// A service error as an API answer; a refused statement also lists its bad rows.
fn failure(error: ServiceError) -> Response {
    match error {
        ServiceError::BadStatement { message, bad_rows } => {
            let code = "bad_statement";
            (
                StatusCode::BAD_REQUEST,
                Json(json!({
                    "error": {"code": code, "message": message, "field": "body"},
                    "bad_rows": bad_rows,
                })),
            )
                .into_response()
        }
        other => ApiError::from(other).into_response(),
    }
}

/// `POST /api/v1/reconciliations`.
#[derive(Deserialize, utoipa::ToSchema)]
pub struct ReconBody {
    /// The POS.
    #[schema(value_type = String, min_length = 1)]
    pos_id: Text,
    /// First business day, `YYYY-MM-DD`.
    #[schema(value_type = String, pattern = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")]
    from: Text,
    /// Last business day, `YYYY-MM-DD`.
    #[schema(value_type = String, pattern = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")]
    to: Text,
}

/// Reconcile a period
///
/// Pulls the provider's report for the POS and business days, and matches it.
#[utoipa::path(post, path = "/api/v1/reconciliations", operation_id = "create_reconciliation", tag = "reconciliations",
    request_body = ReconBody,
    responses((status = 201, body = ReconRunView), (status = 400, body = ErrorEnvelope), (status = 404, body = ErrorEnvelope)),
    security(("api_key" = [])))]
pub async fn create(State(state): State<AppState>, caller: Caller, body: Bytes) -> Response {
    let ReconBody {
        pos_id: Text(pos_id),
        from: Text(from),
        to: Text(to),
    } = match super::body::parse(&body) {
        Ok(body) => body,
        Err(e) => return e.into_response(),
    };
    match state
        .service
        .run_reconciliation(&caller.actor(), &caller.company_id, &pos_id, &from, &to)
        .await
    {
        Ok(view) => (StatusCode::CREATED, Json(view)).into_response(),
        Err(e) => failure(e),
    }
}

/// The query of an import.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImportQuery {
    pos_id: String,
    from: String,
    to: String,
    /// A statement profile saved for the POS; the simulator's layout without it.
    profile_id: Option<String>,
    /// `true`: reconcile the readable rows and list the bad ones in the run.
    #[serde(default)]
    skip_bad_rows: bool,
}

/// Import a statement file
///
/// The statement as the raw body; 400 with every bad row, nothing imported. After
/// seeing them, `skip_bad_rows=true` reconciles the readable rows and lists the bad
/// ones in the run's `rejected_rows` (a file with no readable row is still refused).
#[utoipa::path(post, path = "/api/v1/reconciliations/import", operation_id = "import_statement", tag = "reconciliations",
    params(
        ("pos_id" = String, Query, description = "The POS"),
        ("from" = String, Query, description = "YYYY-MM-DD"),
        ("to" = String, Query, description = "YYYY-MM-DD"),
        ("profile_id" = Option<String>, Query, description = "A statement profile of the POS (stp_…); the built-in simulator profile when absent"),
        ("skip_bad_rows" = Option<bool>, Query, description = "Reconcile the readable rows and list the bad ones in the run (default false)")),
    request_body(content = String, content_type = "text/csv", description = "The provider's statement"),
    responses((status = 201, body = ReconRunView), (status = 400, body = ErrorEnvelope), (status = 404, description = "No such POS or statement profile", body = ErrorEnvelope)),
    security(("api_key" = [])))]
pub async fn import(
    State(state): State<AppState>,
    caller: Caller,
    query: Result<Query<ImportQuery>, axum::extract::rejection::QueryRejection>,
    body: Bytes,
) -> Response {
    let query = match query {
        Ok(Query(query)) => query,
        Err(e) => return ApiError::invalid("query", e.body_text()).into_response(),
    };
    match state
        .service
        .import_statement_with_profile(
            &caller.actor(),
            &caller.company_id,
            &query.pos_id,
            &query.from,
            &query.to,
            StatementFile::from_reader(std::io::Cursor::new(body)),
            query.profile_id.as_deref().filter(|id| !id.is_empty()),
            query.skip_bad_rows,
        )
        .await
    {
        Ok(view) => (StatusCode::CREATED, Json(view)).into_response(),
        Err(e) => failure(e),
    }
}

/// The latest runs, without their items.
#[derive(Serialize, utoipa::ToSchema)]
pub struct ReconRunList {
    /// Newest first.
    pub runs: Vec<ReconRunEntry>,
}

/// The payments offered for a force-match of one item.
#[derive(Serialize, utoipa::ToSchema)]
pub struct MatchCandidates {
    /// The item's own payments first, then the POS's payments of the provider row's
    /// amount, card (last four digits) and day give or take one that nothing in the run
    /// has matched; at most 10. Empty for a matched or decided item.
    pub candidates: Vec<MatchCandidate>,
}

/// The query of a run list.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    limit: Option<u32>,
}

/// List reconciliation runs
#[utoipa::path(get, path = "/api/v1/reconciliations", operation_id = "list_reconciliations", tag = "reconciliations",
    params(("limit" = Option<u32>, Query, description = "1 to 200, default 50")),
    responses((status = 200, body = ReconRunList)),
    security(("api_key" = [])))]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    query: Result<Query<ListQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(query) = query.map_err(|e| ApiError::invalid("query", e.body_text()))?;
    let limit = query.limit.unwrap_or(50);
    if !(1..=200).contains(&limit) {
        return Err(ApiError::invalid("limit", "limit must be 1 to 200"));
    }
    let runs = state
        .service
        .list_reconciliations(&caller.company_id, limit)
        .await?;
    Ok(Json(ReconRunList { runs }).into_response())
}

/// The query of a run read.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GetQuery {
    class: Option<String>,
    limit: Option<u32>,
    cursor: Option<String>,
}

/// Get a reconciliation run
#[utoipa::path(get, path = "/api/v1/reconciliations/{id}", operation_id = "get_reconciliation", tag = "reconciliations",
    params(("id" = String, Path, description = "The run"),
           ("class" = Option<String>, Query, description = "Only items of this class, or `exceptions` for every item not matched"),
           ("limit" = Option<u32>, Query, description = "Items on the page, 1 to 1000, default 200"),
           ("cursor" = Option<String>, Query, description = "next_cursor of the previous page")),
    responses((status = 200, body = ReconRunView), (status = 404, body = ErrorEnvelope)),
    security(("api_key" = [])))]
pub async fn get(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    query: Result<Query<GetQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(query) = query.map_err(|e| ApiError::invalid("query", e.body_text()))?;
    let view = state
        .service
        .get_reconciliation(
            &caller.company_id,
            &id,
            &ItemsQuery {
                class: query.class,
                cursor: query.cursor,
                limit: query.limit,
            },
        )
        .await?;
    Ok(Json(view).into_response())
}

/// The payments an exception may be force-matched with
#[utoipa::path(get, path = "/api/v1/reconciliations/{id}/items/{item_id}/candidates", operation_id = "match_candidates", tag = "reconciliations",
    params(("id" = String, Path, description = "The run"), ("item_id" = String, Path, description = "The item")),
    responses((status = 200, body = MatchCandidates), (status = 404, body = ErrorEnvelope)),
    security(("api_key" = [])))]
pub async fn candidates(
    State(state): State<AppState>,
    caller: Caller,
    Path((id, item_id)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let mut offered = state
        .service
        .match_candidates_of(&caller.company_id, &id, &[item_id.as_str()])
        .await?;
    let candidates = match offered.remove(&item_id) {
        Some(list) => list,
        None => {
            // Known but matched or decided: nothing to offer. Unknown: 404.
            state
                .service
                .get_reconciliation_item(&caller.company_id, &id, &item_id)
                .await?;
            Vec::new()
        }
    };
    Ok(Json(MatchCandidates { candidates }).into_response())
}

/// A decision on a reconciliation exception.
#[derive(Clone, Copy, PartialEq, Eq, utoipa::ToSchema)]
#[schema(rename_all = "snake_case")]
pub enum ResolveAction {
    /// Enter the missing transaction (a provider-only sale).
    Enter,
    /// Match with a payment (`payment_id`).
    ForceMatch,
    /// Nothing to do (`reason` required).
    Dismiss,
}

impl<'de> Deserialize<'de> for ResolveAction {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        match Text::deserialize(deserializer)?.0.as_str() {
            "enter" => Ok(ResolveAction::Enter),
            "force_match" => Ok(ResolveAction::ForceMatch),
            "dismiss" => Ok(ResolveAction::Dismiss),
            _ => Err(D::Error::custom(" must be enter, force_match or dismiss")),
        }
    }
}

/// `POST /api/v1/reconciliations/{id}/items/{item_id}/resolve`.
#[derive(Deserialize, utoipa::ToSchema)]
pub struct ResolveBody {
    /// `enter`, `force_match` or `dismiss`.
    action: ResolveAction,
    /// The payment to match (`force_match`).
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    payment_id: Option<Text>,
    /// Why (required for `dismiss`, a note otherwise).
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    reason: Option<Text>,
    /// `enter`: the customer account (cari hesap) the entered payment credits.
    #[serde(default)]
    #[schema(value_type = Option<String>, max_length = 100)]
    customer_ref: Option<Text>,
    /// `enter`: the entered payment's order reference; the provider row's order number
    /// when absent.
    #[serde(default)]
    #[schema(value_type = Option<String>, max_length = 100)]
    order_ref: Option<Text>,
    /// `enter`: the entered payment's description; "Entered from reconciliation run …"
    /// when absent.
    #[serde(default)]
    #[schema(value_type = Option<String>, max_length = 500)]
    description: Option<Text>,
}

/// Resolve a reconciliation exception
#[utoipa::path(post, path = "/api/v1/reconciliations/{id}/items/{item_id}/resolve", operation_id = "resolve_item", tag = "reconciliations",
    params(("id" = String, Path, description = "The run"), ("item_id" = String, Path, description = "The item")),
    request_body = ResolveBody,
    responses((status = 200, body = ReconItemView), (status = 404, body = ErrorEnvelope), (status = 409, body = ErrorEnvelope)),
    security(("api_key" = [])))]
pub async fn resolve(
    State(state): State<AppState>,
    caller: Caller,
    Path((id, item_id)): Path<(String, String)>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let body: ResolveBody = super::body::parse(&body)?;
    let text = |field: Option<Text>| field.map(|Text(text)| text);
    let reason = text(body.reason);
    let resolution = match body.action {
        ResolveAction::Enter => Resolution::EnterMissing {
            reason,
            details: EntryDetails {
                customer_ref: text(body.customer_ref),
                order_ref: text(body.order_ref),
                description: text(body.description),
            },
        },
        ResolveAction::ForceMatch => Resolution::ForceMatch {
            payment_id: text(body.payment_id)
                .ok_or_else(|| ApiError::invalid("payment_id", "payment_id is required"))?,
            reason,
        },
        ResolveAction::Dismiss => Resolution::Dismiss {
            reason: reason.ok_or_else(|| ApiError::invalid("reason", "reason is required"))?,
        },
    };
    let item = state
        .service
        .resolve_item(
            &caller.actor(),
            &caller.company_id,
            &id,
            &item_id,
            resolution,
        )
        .await?;
    Ok(Json(item).into_response())
}
