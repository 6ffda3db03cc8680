//! Mutabakat: the company's reconciliation runs, a new run (pulled from the provider's
//! report or uploaded as a statement file), a run's summary with counts and totals per
//! class, its exceptions with their decisions (enter the missing transaction,
//! force-match, dismiss with a reason), and the run's items as CSV or XLSX.

mod text;
mod views;

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use maud::Markup;
use serde::Deserialize;

use sanalpos_core::Lang;
use sanalpos_service::{
    EntryDetails, ExportFormat, ItemsQuery, PosView, ReconRunView, Resolution, ServiceError,
    StatementProfileView,
};
use sha2::{Digest, Sha256};

use super::session::{Ctx, Perm, UiError};
use super::upload;
use crate::AppState;
use sanalpos_service::ReconClass;
use views::{Offers, Refusal};

/// Runs shown in the list.
const LIST_RUNS: u32 = 50;

/// What a new run form sent, to show it again after a refusal.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct RunForm {
    #[serde(default)]
    pos_id: String,
    #[serde(default)]
    from: String,
    #[serde(default)]
    to: String,
    /// The statement profile of an upload; empty for the built-in one.
    #[serde(default)]
    profile_id: String,
}

/// The statement profiles of the company's POS definitions, with their POS.
async fn profiles_of(
    state: &AppState,
    ctx: &Ctx,
    pos: &[PosView],
) -> Result<Vec<(String, StatementProfileView)>, UiError> {
    let mut out = Vec::new();
    for p in pos {
        for profile in state
            .service
            .list_statement_profiles(ctx.company_id(), &p.id)
            .await
            .map_err(|e| ctx.fail(e))?
        {
            out.push((p.name.clone(), profile));
        }
    }
    Ok(out)
}

/// Loads what the list page shows.
async fn list_page(
    state: &AppState,
    ctx: &Ctx,
    sent: &RunForm,
    refusal: Option<Refusal>,
) -> Result<Markup, UiError> {
    let service = &state.service;
    let pos = service
        .list_pos(ctx.company_id())
        .await
        .map_err(|e| ctx.fail(e))?;
    let runs = service
        .list_reconciliations(ctx.company_id(), LIST_RUNS)
        .await
        .map_err(|e| ctx.fail(e))?;
    let profiles = if ctx.can(Perm::Reconcile) {
        profiles_of(state, ctx, &pos).await?
    } else {
        Vec::new()
    };
    Ok(views::list_page(ctx, &pos, &runs, &profiles, sent, refusal))
}

/// `GET /ui/reconciliations`.
pub async fn list(State(state): State<AppState>, ctx: Ctx) -> Result<Markup, UiError> {
    ctx.require(Perm::ViewRecon)?;
    list_page(&state, &ctx, &RunForm::default(), None).await
}

/// A service refusal of a new run as the list page with its reason.
async fn refused(
    state: &AppState,
    ctx: &Ctx,
    sent: &RunForm,
    file_sha256: Option<String>,
    error: ServiceError,
) -> Result<Response, UiError> {
    let t = ctx.t();
    let (status, refusal) = match (error, file_sha256) {
        (ServiceError::BadStatement { bad_rows, .. }, Some(file_sha256))
            if !bad_rows.is_empty() =>
        {
            (
                StatusCode::UNPROCESSABLE_ENTITY,
                Refusal::BadRows {
                    rows: bad_rows,
                    file_sha256,
                },
            )
        }
        (ServiceError::BadStatement { message, .. }, _) => (
            StatusCode::UNPROCESSABLE_ENTITY,
            Refusal::Message(format!("{}: {message}", t.recon_bad_file)),
        ),
        (ServiceError::Provider { .. }, _) => (
            StatusCode::BAD_GATEWAY,
            Refusal::Message(t.recon_provider_failed.to_owned()),
        ),
        (ServiceError::Validation { field, message }, _) => (
            StatusCode::UNPROCESSABLE_ENTITY,
            Refusal::Message(format!("{} ({field}): {message}", t.err_field)),
        ),
        (ServiceError::NotFound, _) => return Err(UiError::NotFound(ctx.lang)),
        (other, _) => return Err(ctx.fail(other)),
    };
    let page = list_page(state, ctx, sent, Some(refusal)).await?;
    Ok((status, page).into_response())
}

/// `POST /ui/reconciliations`: pulls the provider's report for the period.
pub async fn pull(
    State(state): State<AppState>,
    ctx: Ctx,
    Form(form): Form<RunForm>,
) -> Result<Response, UiError> {
    ctx.require(Perm::Reconcile)?;
    match state
        .service
        .run_reconciliation(
            &ctx.actor(),
            ctx.company_id(),
            form.pos_id.trim(),
            form.from.trim(),
            form.to.trim(),
        )
        .await
    {
        Ok(run) => Ok(Redirect::to(&format!("/ui/reconciliations/{}", run.id)).into_response()),
        Err(e) => refused(&state, &ctx, &form, None, e).await,
    }
}

/// `POST /ui/reconciliations/import` (multipart: `pos_id`, `from`, `to`, `file`).
pub async fn import(
    State(state): State<AppState>,
    ctx: Ctx,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, UiError> {
    ctx.require(Perm::Reconcile)?;
    let t = ctx.t();
    let parts = headers
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(upload::boundary)
        .and_then(|b| upload::parse(&body, &b))
        .ok_or_else(|| UiError::BadRequest(ctx.lang, t.recon_file_missing.to_owned()))?;
    let form = RunForm {
        pos_id: upload::text(&parts, "pos_id").trim().to_owned(),
        from: upload::text(&parts, "from").trim().to_owned(),
        to: upload::text(&parts, "to").trim().to_owned(),
        profile_id: upload::text(&parts, "profile_id").trim().to_owned(),
    };
    let file = parts
        .iter()
        .find(|p| p.name == "file" && p.filename.is_some() && !p.data.is_empty());
    let Some(file) = file else {
        let page = list_page(
            &state,
            &ctx,
            &form,
            Some(Refusal::Message(t.recon_file_missing.to_owned())),
        )
        .await?;
        return Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response());
    };
    let file_sha256 = hex::encode(Sha256::digest(file.data));
    // Leaving bad rows out is a decision about one file: the one whose bad rows the
    // user was shown (the same bytes), taken with the confirmation ticked.
    let skip_for = upload::text(&parts, "skip_sha256").trim();
    let skip_bad_rows = !skip_for.is_empty();
    if skip_bad_rows {
        let refusal = if upload::text(&parts, "confirm").is_empty() {
            Some(t.confirm_required)
        } else if skip_for != file_sha256 {
            Some(t.recon_not_same_file)
        } else {
            None
        };
        if let Some(text) = refusal {
            let page =
                list_page(&state, &ctx, &form, Some(Refusal::Message(text.to_owned()))).await?;
            return Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response());
        }
    }
    match state
        .service
        .import_statement_with_profile(
            &ctx.actor(),
            ctx.company_id(),
            &form.pos_id,
            &form.from,
            &form.to,
            file.data,
            Some(form.profile_id.as_str()).filter(|id| !id.is_empty()),
            skip_bad_rows,
        )
        .await
    {
        Ok(run) => Ok(Redirect::to(&format!("/ui/reconciliations/{}", run.id)).into_response()),
        Err(e) => refused(&state, &ctx, &form, Some(file_sha256), e).await,
    }
}

/// The detail's filter: empty for the exceptions, `all`, or one class.
#[derive(Debug, Default, Deserialize)]
pub struct DetailQuery {
    #[serde(default)]
    class: String,
    done: Option<String>,
    /// Where the page of items starts (`next_cursor` of the one before).
    cursor: Option<String>,
}

/// Which items the detail shows.
fn selected(class: &str) -> Result<Option<&str>, ()> {
    match class {
        "" => Ok(None),
        "all" => Ok(Some("all")),
        c if ReconClass::parse(c).is_some() => Ok(Some(c)),
        _ => Err(()),
    }
}

/// Customer references offered on a page.
const OFFERED_CUSTOMER_REFS: u32 = 200;

/// Loads what a run's page shows.
async fn detail_page(
    state: &AppState,
    ctx: &Ctx,
    id: &str,
    class: &str,
    cursor: Option<&str>,
    message: Option<(&str, String)>,
    refused: Option<(&str, &ResolveForm)>,
) -> Result<Markup, UiError> {
    let t = ctx.t();
    let service = &state.service;
    let filter = selected(class)
        .map_err(|_| UiError::BadRequest(ctx.lang, format!("{}: class", t.filter_invalid)))?;
    let items = ItemsQuery {
        class: match filter {
            None => Some("exceptions".to_owned()),
            Some("all") => None,
            Some(class) => Some(class.to_owned()),
        },
        cursor: cursor.map(str::to_owned),
        limit: None,
    };
    let run = service
        .get_reconciliation(ctx.company_id(), id, &items)
        .await
        .map_err(|e| match e {
            ServiceError::Validation { ref field, .. } if field == "cursor" => {
                UiError::BadRequest(ctx.lang, format!("{}: cursor", t.filter_invalid))
            }
            e => ctx.fail(e),
        })?;
    let pos_name = service
        .get_pos(ctx.company_id(), &run.pos_id)
        .await
        .map(|p| p.name)
        .unwrap_or_else(|_| run.pos_id.clone());
    let offers = if ctx.can(Perm::Reconcile) && run.open_exceptions > 0 {
        Offers {
            customer_refs: service
                .customer_refs(ctx.company_id(), "", OFFERED_CUSTOMER_REFS)
                .await
                .map_err(|e| ctx.fail(e))?,
            // Offers for the exceptions on this page only.
            candidates: service
                .match_candidates_of(ctx.company_id(), &run.id, &open_on_page(&run))
                .await
                .map_err(|e| ctx.fail(e))?,
            refused: refused.map(|(item, form)| (item.to_owned(), form.clone())),
        }
    } else {
        Offers::default()
    };
    Ok(views::detail_page(
        ctx,
        &run,
        &pos_name,
        filter,
        cursor.is_some(),
        &offers,
        message,
    ))
}

/// The ids of the open exceptions among a run's page of items.
fn open_on_page(run: &ReconRunView) -> Vec<&str> {
    run.items
        .iter()
        .filter(|i| i.class != ReconClass::Matched && i.resolution.is_none())
        .map(|i| i.id.as_str())
        .collect()
}

/// `GET /ui/reconciliations/{id}?class=&cursor=`.
pub async fn detail(
    State(state): State<AppState>,
    ctx: Ctx,
    Path(id): Path<String>,
    Query(q): Query<DetailQuery>,
) -> Result<Markup, UiError> {
    ctx.require(Perm::ViewRecon)?;
    let message = q
        .done
        .is_some()
        .then(|| ("ok", ctx.t().operation_done.to_owned()));
    detail_page(
        &state,
        &ctx,
        &id,
        &q.class,
        q.cursor.as_deref(),
        message,
        None,
    )
    .await
}

/// A decision form.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct ResolveForm {
    #[serde(default)]
    confirm: Option<String>,
    #[serde(default)]
    reason: String,
    #[serde(default)]
    payment_id: String,
    /// A payment id typed in rather than picked from the candidates.
    #[serde(default)]
    other_payment_id: String,
    #[serde(default)]
    customer_ref: String,
    #[serde(default)]
    order_ref: String,
    #[serde(default)]
    description: String,
}

/// Why a decision was refused, in the user's language.
fn resolve_error(ctx: &Ctx, e: &ServiceError) -> String {
    let t = ctx.t();
    match e {
        ServiceError::Conflict { code, .. } => match *code {
            "already_resolved" => t.recon_already_resolved.into(),
            "not_missing" => t.recon_not_missing.into(),
            "nothing_to_enter" => t.recon_nothing_to_enter.into(),
            "not_an_exception" => t.recon_not_exception.into(),
            _ => match ctx.lang {
                Lang::Tr => e.message_tr(),
                Lang::En => e.message(),
            },
        },
        ServiceError::Validation { field, .. } if field == "payment_id" => t.recon_other_pos.into(),
        ServiceError::Validation { field, .. } if field == "customer_ref" => {
            format!("{}: {}", t.customer_ref, t.recon_text_limit_100)
        }
        ServiceError::Validation { field, .. } if field == "order_ref" => {
            format!("{}: {}", t.order_ref, t.recon_text_limit_100)
        }
        ServiceError::Validation { field, .. } if field == "description" => {
            format!("{}: {}", t.description, t.recon_text_limit_500)
        }
        ServiceError::Validation { field, .. } if field == "reason" => {
            t.recon_reason_required.into()
        }
        ServiceError::NotFound => t.not_found_text.into(),
        other => match ctx.lang {
            Lang::Tr => other.message_tr(),
            Lang::En => other.message(),
        },
    }
}

/// `POST /ui/reconciliations/{id}/items/{item_id}/{enter|force-match|dismiss}`.
pub async fn resolve(
    State(state): State<AppState>,
    ctx: Ctx,
    Path((id, item_id, action)): Path<(String, String, String)>,
    Form(form): Form<ResolveForm>,
) -> Result<Response, UiError> {
    ctx.require(Perm::Reconcile)?;
    let t = ctx.t();
    let service = &state.service;
    // The item must be the company's before anything else (another's is a 404). Its
    // page is where the person is shown the outcome: a run may hold more items than a
    // page.
    let at_item = service
        .reconciliation_cursor_at(ctx.company_id(), &id, &item_id)
        .await
        .map_err(|e| ctx.fail(e))?;
    let failed = |text: String| async {
        let sent = Some((item_id.as_str(), &form));
        let page = detail_page(
            &state,
            &ctx,
            &id,
            "all",
            at_item.as_deref(),
            Some(("error", text)),
            sent,
        )
        .await?;
        Ok::<Response, UiError>((StatusCode::UNPROCESSABLE_ENTITY, page).into_response())
    };
    let reason = Some(form.reason.trim().to_owned()).filter(|r| !r.is_empty());
    let resolution = match action.as_str() {
        "enter" => {
            let text = |v: &str| Some(v.trim().to_owned()).filter(|v| !v.is_empty());
            let Some(customer_ref) = text(&form.customer_ref) else {
                return failed(t.recon_customer_required.to_owned()).await;
            };
            Resolution::EnterMissing {
                reason,
                details: EntryDetails {
                    customer_ref: Some(customer_ref),
                    order_ref: text(&form.order_ref),
                    description: text(&form.description),
                },
            }
        }
        "force-match" => {
            // A typed id wins over a picked one: typing is the deliberate act.
            let typed = form.other_payment_id.trim();
            let payment_id = if typed.is_empty() {
                form.payment_id.trim()
            } else {
                typed
            };
            if payment_id.is_empty() {
                return failed(t.recon_payment_required.to_owned()).await;
            }
            Resolution::ForceMatch {
                payment_id: payment_id.to_owned(),
                reason,
            }
        }
        "dismiss" => {
            let Some(reason) = reason else {
                return failed(t.recon_reason_required.to_owned()).await;
            };
            Resolution::Dismiss { reason }
        }
        _ => return Err(UiError::NotFound(ctx.lang)),
    };
    if form.confirm.is_none() {
        return failed(t.confirm_required.to_owned()).await;
    }
    match service
        .resolve_item(&ctx.actor(), ctx.company_id(), &id, &item_id, resolution)
        .await
    {
        Ok(_) => {
            let cursor = at_item
                .map(|c| {
                    format!(
                        "&{}",
                        serde_urlencoded::to_string([("cursor", c)]).unwrap_or_default()
                    )
                })
                .unwrap_or_default();
            Ok(Redirect::to(&format!(
                "/ui/reconciliations/{id}?done=1&class=all{cursor}"
            ))
            .into_response())
        }
        Err(ServiceError::Storage(e)) => {
            tracing::error!(error = %e, "back office reconciliation decision failed");
            Err(UiError::Internal(ctx.lang))
        }
        // A payment id of another company is not found: say so on the page.
        Err(e) => failed(resolve_error(&ctx, &e)).await,
    }
}

/// What a person has typed of a customer reference.
#[derive(Debug, Deserialize)]
pub struct CustomerRefQuery {
    #[serde(default)]
    q: String,
}

/// Customer references offered per keystroke.
const TYPED_CUSTOMER_REFS: u32 = 50;

/// `GET /ui/api/customer-refs?q=CARI`: the company's customer references starting with
/// what was typed, for the entry form's list as a person types.
pub async fn customer_refs(
    State(state): State<AppState>,
    ctx: Ctx,
    Query(q): Query<CustomerRefQuery>,
) -> Result<Response, UiError> {
    ctx.require(Perm::Reconcile)?;
    let prefix: String = q.q.trim().chars().take(100).collect();
    let refs = state
        .service
        .customer_refs(ctx.company_id(), &prefix, TYPED_CUSTOMER_REFS)
        .await
        .map_err(|e| ctx.fail(e))?;
    Ok(axum::Json(serde_json::json!({ "refs": refs })).into_response())
}

/// The export's format and class.
#[derive(Debug, Deserialize)]
pub struct ExportQuery {
    #[serde(default)]
    format: String,
    #[serde(default)]
    class: String,
}

/// `GET /ui/reconciliations/{id}/export?format=csv|xlsx&class=`: the run's items (all,
/// or one class) as a file in the user's language and formats.
pub async fn export(
    State(state): State<AppState>,
    ctx: Ctx,
    Path(id): Path<String>,
    Query(q): Query<ExportQuery>,
) -> Result<Response, UiError> {
    ctx.require(Perm::ViewRecon)?;
    let t = ctx.t();
    let format = match q.format.as_str() {
        "csv" => ExportFormat::Csv,
        "xlsx" => ExportFormat::Xlsx,
        _ => return Err(UiError::BadRequest(ctx.lang, t.filter_invalid.to_owned())),
    };
    let class = match selected(&q.class) {
        Ok(Some("all")) | Ok(None) => None,
        Ok(Some(c)) => Some(c),
        Err(()) => {
            return Err(UiError::BadRequest(
                ctx.lang,
                format!("{}: class", t.filter_invalid),
            ))
        }
    };
    let bytes = state
        .service
        .export_reconciliation(ctx.company_id(), &id, class, format, ctx.lang)
        .await
        .map_err(|e| ctx.fail(e))?;
    let stem = match ctx.lang {
        Lang::Tr => "mutabakat",
        Lang::En => "reconciliation",
    };
    let name = format!("{stem}-{id}.{}", format.extension());
    Ok((
        [
            (
                axum::http::header::CONTENT_TYPE,
                format.content_type().to_owned(),
            ),
            (
                axum::http::header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{name}\""),
            ),
        ],
        bytes,
    )
        .into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn class_filter() {
        assert_eq!(selected(""), Ok(None));
        assert_eq!(selected("all"), Ok(Some("all")));
        assert_eq!(selected("provider_only"), Ok(Some("provider_only")));
        assert!(selected("x").is_err());
    }
}
