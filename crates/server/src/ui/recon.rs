//! Mutabakat: the company's reconciliation runs, a new run (pulled from the provider's
//! report or uploaded as a statement file), a run's summary with counts and totals per
//! class, its exceptions with their decisions (enter the missing transaction,
//! force-match, dismiss with a reason), and the run's items as CSV or XLSX.

use std::collections::BTreeMap;

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use maud::{html, Markup};
use serde::Deserialize;
use serde_json::Value;

use sanalpos_core::{Currency, Kurus, Lang};
use sanalpos_service::{
    EntryDetails, ExportFormat, MatchCandidate, PaymentStatus, PosView, ReconItemView,
    ReconRunView, Resolution, ServiceError, StatementProfileView, StatementRow,
};
use sha2::{Digest, Sha256};

use super::format::day;
use super::layout::{csrf, notice, page, Nav};
use super::session::{Ctx, Perm, UiError};
use super::upload;
use crate::AppState;

/// The classes in the order the pages show them.
const CLASSES: [&str; 6] = [
    "matched",
    "amount_mismatch",
    "status_mismatch",
    "provider_only",
    "system_only",
    "duplicate",
];

/// Runs shown in the list.
const LIST_RUNS: u32 = 50;

fn count_of(run: &sanalpos_service::ReconCounts, class: &str) -> u64 {
    match class {
        "matched" => run.matched,
        "amount_mismatch" => run.amount_mismatch,
        "status_mismatch" => run.status_mismatch,
        "provider_only" => run.provider_only,
        "system_only" => run.system_only,
        "duplicate" => run.duplicate,
        _ => 0,
    }
}

fn money(lang: Lang, amount: Kurus) -> String {
    lang.money(amount, Currency::Try)
}

/// A signed decimal text of the engine (`"-12.50"`) in the user's notation.
fn signed_money(lang: Lang, text: &str) -> String {
    let (sign, digits) = match text.strip_prefix('-') {
        Some(rest) => ("-", rest),
        None => ("", text),
    };
    match (Kurus::parse(digits), lang) {
        (Ok(k), Lang::Tr) => format!("{sign}{} TL", lang.amount(k)),
        (Ok(k), Lang::En) => format!("TRY {sign}{}", lang.amount(k)),
        (Err(_), _) => text.to_owned(),
    }
}

/// An amount text of the totals (`"150.00"`) in the user's notation.
fn total_money(lang: Lang, value: &Value) -> String {
    value
        .as_str()
        .map(|text| signed_money(lang, text))
        .unwrap_or_default()
}

/// A provider row's local time (`2026-11-29T14:05:00`) in the user's notation.
fn row_time(lang: Lang, value: &Value) -> String {
    let Some(t) = value
        .as_str()
        .and_then(|t| t.parse::<chrono::NaiveDateTime>().ok())
    else {
        return String::new();
    };
    match lang {
        Lang::Tr => t.format("%d.%m.%Y %H:%M").to_string(),
        Lang::En => t.format("%Y-%m-%d %H:%M").to_string(),
    }
}

fn today() -> String {
    sanalpos_service::istanbul_today().to_string()
}

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

/// The outcome of a refused new run, shown above the list.
enum Refusal {
    /// A message.
    Message(String),
    /// A statement with bad rows: nothing was imported. The user may upload the same
    /// file (its SHA-256 here) again to take its readable rows.
    BadRows {
        rows: Vec<StatementRow>,
        file_sha256: String,
    },
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

/// The hidden fields that carry a refused upload's choices to the decision form.
fn upload_choices(ctx: &Ctx, sent: &RunForm) -> Markup {
    html! {
        (csrf(ctx))
        input type="hidden" name="pos_id" value=(sent.pos_id);
        input type="hidden" name="from" value=(sent.from);
        input type="hidden" name="to" value=(sent.to);
        input type="hidden" name="profile_id" value=(sent.profile_id);
    }
}

fn pos_name(pos: &[PosView], id: &str) -> String {
    pos.iter()
        .find(|p| p.id == id)
        .map(|p| p.name.clone())
        .unwrap_or_else(|| id.to_owned())
}

fn new_run_forms(
    ctx: &Ctx,
    pos: &[PosView],
    profiles: &[(String, StatementProfileView)],
    sent: &RunForm,
) -> Markup {
    let t = ctx.t();
    let from = if sent.from.is_empty() {
        today()
    } else {
        sent.from.clone()
    };
    let to = if sent.to.is_empty() {
        today()
    } else {
        sent.to.clone()
    };
    let pos_select = |id: &str| {
        html! {
            label { (t.pos)
                select id=(id) name="pos_id" required {
                    @for p in pos {
                        option value=(p.id) selected[sent.pos_id == p.id] { (p.name) }
                    }
                }
            }
        }
    };
    html! {
        section.new-run {
            h2 { (t.recon_new_pull) }
            p.hint { (t.recon_pull_hint) }
            form #pull-form.filters method="post" action="/ui/reconciliations" {
                (csrf(ctx))
                (pos_select("pull-pos"))
                label { (t.date_from) input #pull-from type="date" name="from" required value=(from); }
                label { (t.date_to) input #pull-to type="date" name="to" required value=(to); }
                button #pull-submit type="submit" { (t.recon_start) }
            }
            h2 { (t.recon_upload) }
            p.hint { (t.recon_upload_hint) }
            form #upload-form.filters method="post" action="/ui/reconciliations/import" enctype="multipart/form-data" {
                (csrf(ctx))
                (pos_select("upload-pos"))
                label { (t.date_from) input #upload-from type="date" name="from" required value=(from); }
                label { (t.date_to) input #upload-to type="date" name="to" required value=(to); }
                label { (t.recon_profile)
                    select #upload-profile name="profile_id" {
                        option value="" { (t.recon_profile_builtin) }
                        @for (pos_name, p) in profiles {
                            option value=(p.id) data-pos=(p.pos_id) selected[sent.profile_id == p.id] { (pos_name) " · " (p.name) }
                        }
                    }
                }
                label { (t.recon_file) input #upload-file type="file" name="file" required accept=".csv,.txt,.xlsx"; }
                button #upload-submit type="submit" { (t.recon_import) }
            }
        }
    }
}

async fn list_page(
    state: &AppState,
    ctx: &Ctx,
    sent: &RunForm,
    refusal: Option<Refusal>,
) -> Result<Markup, UiError> {
    let t = ctx.t();
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
    let body = html! {
        @match &refusal {
            Some(Refusal::Message(text)) => { (notice("error", text)) }
            Some(Refusal::BadRows { rows, file_sha256 }) => {
                (notice("error", t.recon_bad_file))
                table #bad-rows.dense {
                    thead { tr { th.num { (t.recon_line) } th { (t.reason) } } }
                    tbody {
                        @for row in rows {
                            tr data-line=(row.line) { td.num { (row.line) } td.bad-reason { (super::reject_reason::bad_row_reason(ctx.lang, row)) } }
                        }
                    }
                }
                h2 { (t.recon_skip_title) }
                p.hint { (t.recon_skip_hint) }
                form #skip-form.filters method="post" action="/ui/reconciliations/import" enctype="multipart/form-data" {
                    (upload_choices(ctx, sent))
                    input type="hidden" name="skip_sha256" value=(file_sha256);
                    label { (t.recon_same_file) input #skip-file type="file" name="file" required accept=".csv,.txt,.xlsx"; }
                    label.check { input #skip-confirm type="checkbox" name="confirm" required; (t.recon_skip_confirm) " (" (rows.len()) ")" }
                    button #skip-submit type="submit" { (t.recon_skip_submit) }
                }
            }
            None => {}
        }
        @if ctx.can(Perm::Reconcile) { (new_run_forms(ctx, &pos, &profiles, sent)) }
        h2 { (t.recon_runs) }
        div.table-wrap {
            table #runs.dense {
                thead { tr {
                    th { (t.created_at) } th { (t.pos) } th { (t.recon_period) } th { (t.recon_source) }
                    th { (t.status) }
                    @for class in CLASSES { th.num { (t.recon_class(class)) } }
                    th { (t.recon_started_by) }
                } }
                tbody {
                    @for run in &runs {
                        tr data-id=(run.id) data-source=(run.source) {
                            td { a href=(format!("/ui/reconciliations/{}", run.id)) { (ctx.lang.datetime(run.created_at)) } }
                            td { (pos_name(&pos, &run.pos_id)) }
                            td { (day(ctx.lang, &run.from)) " – " (day(ctx.lang, &run.to)) }
                            td { (t.recon_source(&run.source)) }
                            td { @if run.status == "completed" { (t.recon_completed) } @else { (run.status) } }
                            @for class in CLASSES {
                                td.num data-class=(class) { (count_of(&run.summary, class)) }
                            }
                            td { (run.created_by) }
                        }
                    }
                    @if runs.is_empty() { tr { td colspan="12" { (t.no_data) } } }
                }
            }
        }
    };
    Ok(page(ctx, t.nav_recon, Nav::Recon, body))
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
}

/// Which items the detail shows.
fn selected(class: &str) -> Result<Option<&str>, ()> {
    match class {
        "" => Ok(None),
        "all" => Ok(Some("all")),
        c if CLASSES.contains(&c) => Ok(Some(c)),
        _ => Err(()),
    }
}

fn shows(filter: Option<&str>, item: &ReconItemView) -> bool {
    match filter {
        None => item.class != "matched",
        Some("all") => true,
        Some(class) => item.class == class,
    }
}

fn summary_table(ctx: &Ctx, run: &ReconRunView) -> Markup {
    let t = ctx.t();
    html! {
        table #summary.dense {
            thead { tr {
                th { (t.recon_class) } th.num { (t.count) } th.num { (t.recon_ours) } th.num { (t.recon_theirs) }
                th.num { (t.recon_difference) } th.num { (t.recon_ours_reversed) } th.num { (t.recon_theirs_reversed) }
            } }
            tbody {
                @for class in CLASSES {
                    @let totals = &run.totals[class];
                    tr data-class=(class) {
                        td { a href=(format!("/ui/reconciliations/{}?class={class}", run.id)) { (t.recon_class(class)) } }
                        td.num.count { (count_of(&run.summary, class)) }
                        td.num.ours { (total_money(ctx.lang, &totals["ours"])) }
                        td.num.theirs { (total_money(ctx.lang, &totals["theirs"])) }
                        td.num.difference { (total_money(ctx.lang, &totals["difference"])) }
                        td.num { (total_money(ctx.lang, &totals["ours_reversed"])) }
                        td.num { (total_money(ctx.lang, &totals["theirs_reversed"])) }
                    }
                }
            }
        }
    }
}

fn provider_rows(ctx: &Ctx, rows: &Value) -> Markup {
    let t = ctx.t();
    let rows = rows.as_array().map(Vec::as_slice).unwrap_or_default();
    html! {
        @for row in rows {
            div.provider-row {
                @let kind = match row["kind"].as_str() {
                    Some("sale") => t.op_sale,
                    Some("cancel") => t.op_cancel,
                    Some(_) => t.op_refund,
                    None => "",
                };
                @let status = match row["status"].as_str() {
                    Some("success") => t.st_approved,
                    Some("error") => t.st_declined,
                    Some(_) => t.st_pending,
                    None => "",
                };
                (kind) " · " (status) " · " (total_money(ctx.lang, &row["amount"]))
                @if let Some(r) = row["provider_ref"].as_str() { " · " span.mono { (r) } }
                @if let Some(a) = row["auth_code"].as_str() { " · " (t.auth_code) " " (a) }
                @if let Some(m) = row["masked_pan"].as_str() { " · " (m) }
                @let time = row_time(ctx.lang, &row["time"]);
                @if !time.is_empty() { " · " (time) }
                @if let Some(line) = row["line"].as_u64() { " · " (t.recon_line) " " (line) }
            }
        }
    }
}

/// A commission or value-date check that did not hold, in words.
fn flag_text(lang: Lang, flag: &Value) -> String {
    let t = super::i18n::texts(lang);
    match flag["kind"].as_str() {
        Some("commission") => format!(
            "{}: {} {}, {} {}",
            t.flag_commission,
            t.recon_expected,
            total_money(lang, &flag["expected"]),
            t.recon_actual,
            total_money(lang, &flag["actual"]),
        ),
        Some("value_date") => format!(
            "{}: {} {}, {} {}",
            t.flag_value_date,
            t.recon_expected,
            day(lang, flag["expected"].as_str().unwrap_or_default()),
            t.recon_actual,
            day(lang, flag["actual"].as_str().unwrap_or_default()),
        ),
        _ => format!("{}: {flag}", t.recon_flags),
    }
}

fn confirm_box(ctx: &Ctx) -> Markup {
    html! { label.check { input type="checkbox" name="confirm"; (ctx.t().confirm_box) } }
}

/// What the page needs to offer the decisions: the customer references the company
/// already uses, and each open item's force-match candidates.
#[derive(Default)]
struct Offers {
    customer_refs: Vec<String>,
    candidates: BTreeMap<String, Vec<MatchCandidate>>,
    /// A refused decision's item and what was sent, shown again open and filled in.
    refused: Option<(String, ResolveForm)>,
}

/// The id of the page's one list of customer references.
const CUSTOMER_REFS_LIST: &str = "customer-refs";

/// Customer references offered on a page.
const OFFERED_CUSTOMER_REFS: u32 = 200;

/// One candidate payment as a choice.
fn candidate_choice(ctx: &Ctx, item: &ReconItemView, c: &MatchCandidate, checked: bool) -> Markup {
    let t = ctx.t();
    let status = PaymentStatus::parse(&c.status)
        .map(|s| t.status(s))
        .unwrap_or(c.status.as_str());
    html! {
        label.check.candidate data-payment=(c.payment_id) {
            input type="radio" name="payment_id" value=(c.payment_id) checked[checked];
            span {
                (ctx.lang.datetime(c.created_at)) " · " b { (ctx.lang.money(c.amount, c.currency)) }
                @if !c.masked_pan.is_empty() { " · " span.masked { (c.masked_pan) } }
                " · " (status)
                @if let Some(r) = &c.customer_ref { " · " (t.customer_ref) " " b { (r) } }
                @if let Some(r) = &c.order_ref { " · " (t.order_ref) " " (r) }
                " · " a.mono href=(format!("/ui/payments/{}", c.payment_id)) { (c.payment_id) }
                @if item.proposal.as_ref() == Some(&c.payment_id) {
                    " (" (t.recon_proposal) ")"
                } @else if c.of_item {
                    " (" (t.recon_candidate_of_item) ")"
                }
            }
        }
    }
}

/// The decisions of an open exception, in a disclosure on a row of their own below the
/// item so that the table keeps its width.
fn item_actions(ctx: &Ctx, run: &ReconRunView, item: &ReconItemView, offers: &Offers) -> Markup {
    let t = ctx.t();
    let base = format!("/ui/reconciliations/{}/items/{}", run.id, item.id);
    let candidates = offers
        .candidates
        .get(&item.id)
        .map(Vec::as_slice)
        .unwrap_or_default();
    let sale = item.provider_rows.as_array().and_then(|rows| {
        rows.iter()
            .find(|r| r["kind"] == "sale" && r["status"] == "success")
    });
    let sent = offers
        .refused
        .as_ref()
        .filter(|(id, _)| *id == item.id)
        .map(|(_, form)| form);
    html! {
        details.item-actions open[sent.is_some()] {
            summary { (t.recon_decide) }
            div.decision-forms {
                @if item.class == "provider_only" {
                    @if let Some(row) = sale {
                        @let description = match (sent, row["provider_ref"].as_str()) {
                            (Some(form), _) => form.description.clone(),
                            (None, Some(r)) => format!("{} ({r})", t.recon_entry_description),
                            (None, None) => t.recon_entry_description.to_owned(),
                        };
                        @let order = match sent {
                            Some(form) => Some(form.order_ref.clone()),
                            None => row["client_ref"].as_str().map(str::to_owned),
                        };
                        form.enter-form.decision-form method="post" action=(format!("{base}/enter")) {
                            (csrf(ctx))
                            h3 { (t.recon_enter) }
                            p.hint {
                                (t.recon_enter_hint) ": " (total_money(ctx.lang, &row["amount"]))
                                @if let Some(m) = row["masked_pan"].as_str() { ", " (m) }
                                @if let Some(a) = row["auth_code"].as_str() { ", " (t.auth_code) " " (a) }
                                @if let Some(r) = row["provider_ref"].as_str() { ", " (t.provider_ref) " " (r) }
                                @let time = row_time(ctx.lang, &row["time"]);
                                @if !time.is_empty() { ", " (time) }
                            }
                            label { (t.customer_ref)
                                input name="customer_ref" required maxlength="100" list=(CUSTOMER_REFS_LIST) data-suggest="/ui/api/customer-refs" autocomplete="off" value=[sent.map(|f| f.customer_ref.as_str())];
                            }
                            p.hint { (t.recon_customer_hint) }
                            label { (t.order_ref)
                                input name="order_ref" maxlength="100" value=[order];
                            }
                            label { (t.description)
                                input name="description" maxlength="500" value=(description);
                            }
                            label { (t.reason) input name="reason" maxlength="500" value=[sent.map(|f| f.reason.as_str())]; }
                            (confirm_box(ctx))
                            button type="submit" { (t.recon_enter) }
                        }
                    }
                }
                form.force-form.decision-form method="post" action=(format!("{base}/force-match")) {
                    (csrf(ctx))
                    h3 { (t.recon_force_match) }
                    fieldset.candidates {
                        legend { (t.recon_candidates) }
                        @for (i, c) in candidates.iter().enumerate() {
                            (candidate_choice(ctx, item, c, i == 0 && candidates.len() == 1))
                        }
                        @if candidates.is_empty() { p.hint.no-candidates { (t.recon_no_candidates) } }
                    }
                    label { (t.recon_other_payment) input name="other_payment_id" maxlength="64" autocomplete="off"; }
                    label { (t.reason) input name="reason" maxlength="500"; }
                    (confirm_box(ctx))
                    button type="submit" { (t.recon_force_match) }
                }
                form.dismiss-form.decision-form method="post" action=(format!("{base}/dismiss")) {
                    (csrf(ctx))
                    h3 { (t.recon_dismiss) }
                    label { (t.reason) input name="reason" required maxlength="500"; }
                    (confirm_box(ctx))
                    button type="submit" { (t.recon_dismiss) }
                }
            }
        }
    }
}

fn items_table(ctx: &Ctx, run: &ReconRunView, filter: Option<&str>, offers: &Offers) -> Markup {
    let t = ctx.t();
    let items: Vec<&ReconItemView> = run.items.iter().filter(|i| shows(filter, i)).collect();
    let decide = ctx.can(Perm::Reconcile);
    html! {
        div.table-wrap {
            table #items.dense {
                thead { tr {
                    th { (t.recon_class) } th { (t.reason) } th { (t.recon_payments) } th { (t.recon_provider_row) }
                    th.num { (t.recon_ours) } th.num { (t.recon_theirs) } th { (t.recon_decision) }
                } }
                tbody {
                    @for item in &items {
                        @let open = item.resolution.is_none() && item.class != "matched" && decide;
                        tr data-id=(item.id) data-class=(item.class) data-resolution=(item.resolution.as_deref().unwrap_or("")) {
                            td { span class=(format!("badge {}", item.class)) { (t.recon_class(&item.class)) } }
                            td.reason-cell {
                                span.reason data-reason=(item.reason) { (t.recon_reason(&item.reason)) }
                                @if let Some(k) = &item.match_key { " (" (t.recon_match_key(k)) ")" }
                                @for flag in item.flags.as_array().map(Vec::as_slice).unwrap_or_default() {
                                    br; span.flag { (flag_text(ctx.lang, flag)) }
                                }
                            }
                            td {
                                @for id in &item.payment_ids {
                                    a.mono href=(format!("/ui/payments/{id}")) { (id) } br;
                                }
                                @if let Some(p) = &item.proposal {
                                    (t.recon_proposal) ": " a.mono href=(format!("/ui/payments/{p}")) { (p) }
                                }
                            }
                            td.provider-rows { (provider_rows(ctx, &item.provider_rows)) }
                            td.num { (money(ctx.lang, item.ours)) }
                            td.num { (money(ctx.lang, item.theirs)) }
                            td.decision {
                                @if let Some(resolution) = &item.resolution {
                                    b.resolution { (t.recon_resolution(resolution)) }
                                    @if let Some(p) = &item.resolution_payment_id {
                                        " → " a.mono href=(format!("/ui/payments/{p}")) { (p) }
                                    }
                                    br;
                                    span.resolved-by { (t.recon_decided_by) ": " (item.resolved_by.as_deref().unwrap_or("")) }
                                    @if let Some(at) = item.resolved_at { br; span.resolved-at { (t.recon_decided_at) ": " (ctx.lang.datetime(at)) } }
                                    @if let Some(r) = &item.resolution_reason { br; span.resolution-reason { (t.reason) ": " (r) } }
                                } @else if open {
                                    span.open-item { (t.recon_open_item) " ↓" }
                                }
                            }
                        }
                        @if open {
                            tr.item-actions-row data-actions-for=(item.id) {
                                td colspan="7" { (item_actions(ctx, run, item, offers)) }
                            }
                        }
                    }
                    @if items.is_empty() { tr { td colspan="7" { (t.no_data) } } }
                }
            }
        }
        @if decide {
            datalist id=(CUSTOMER_REFS_LIST) {
                @for r in &offers.customer_refs { option value=(r) {} }
            }
        }
    }
}

async fn detail_page(
    state: &AppState,
    ctx: &Ctx,
    id: &str,
    class: &str,
    message: Option<(&str, String)>,
    refused: Option<(&str, &ResolveForm)>,
) -> Result<Markup, UiError> {
    let t = ctx.t();
    let service = &state.service;
    let filter = selected(class)
        .map_err(|_| UiError::BadRequest(ctx.lang, format!("{}: class", t.filter_invalid)))?;
    let run = service
        .get_reconciliation(ctx.company_id(), id, None)
        .await
        .map_err(|e| ctx.fail(e))?;
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
            candidates: service
                .match_candidates(ctx.company_id(), &run.id)
                .await
                .map_err(|e| ctx.fail(e))?,
            refused: refused.map(|(item, form)| (item.to_owned(), form.clone())),
        }
    } else {
        Offers::default()
    };
    let export_class = filter.filter(|c| *c != "all").unwrap_or("");
    let export_qs = if export_class.is_empty() {
        String::new()
    } else {
        format!("&class={export_class}")
    };
    let body = html! {
        @if let Some((kind, text)) = &message { (notice(kind, text)) }
        table.kv #run-detail {
            tr { th { "ID" } td #run-id { (run.id) } }
            tr { th { (t.pos) } td { (pos_name) } }
            tr { th { (t.recon_period) } td { (day(ctx.lang, &run.from)) " – " (day(ctx.lang, &run.to)) } }
            tr { th { (t.recon_source) } td { (t.recon_source(&run.source)) } }
            tr { th { (t.status) } td { @if run.status == "completed" { (t.recon_completed) } @else { (run.status) } } }
            tr { th { (t.recon_open) } td #open-exceptions { (run.open_exceptions) } }
            tr { th { (t.created_at) } td { (ctx.lang.datetime(run.created_at)) } }
            tr { th { (t.recon_started_by) } td { (run.created_by) } }
        }
        h2 { (t.recon_summary) }
        (summary_table(ctx, &run))
        @if !run.rejected_rows.is_empty() {
            h2 { (t.recon_rejected_rows) }
            table #rejected.dense {
                thead { tr { th { (t.provider_ref) } th { (t.reason) } } }
                tbody { @for r in &run.rejected_rows { tr { td { (r.reference) } td.reject-reason data-reason=(r.reason) { (super::reject_reason::reject_reason(ctx.lang, r)) } } } }
            }
        }
        h2 { (t.recon_items) }
        form #class-filter.filters method="get" action=(format!("/ui/reconciliations/{}", run.id)) {
            label { (t.recon_class)
                select #f-class name="class" {
                    option value="" selected[filter.is_none()] { (t.recon_exceptions_only) }
                    option value="all" selected[filter == Some("all")] { (t.all) }
                    @for c in CLASSES { option value=(c) selected[filter == Some(c)] { (t.recon_class(c)) } }
                }
            }
            button #f-search type="submit" { (t.search) }
        }
        (items_table(ctx, &run, filter, &offers))
        p.exports {
            a #export-csv.button href=(format!("/ui/reconciliations/{}/export?format=csv{export_qs}", run.id)) { (t.export_csv) } " "
            a #export-xlsx.button href=(format!("/ui/reconciliations/{}/export?format=xlsx{export_qs}", run.id)) { (t.export_xlsx) }
        }
        p { a href="/ui/reconciliations" { (t.back) } }
    };
    Ok(page(ctx, t.recon_run_title, Nav::Recon, body))
}

/// `GET /ui/reconciliations/{id}?class=`.
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
    detail_page(&state, &ctx, &id, &q.class, message, None).await
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
    // The run must be the company's before anything else (another's is a 404).
    service
        .get_reconciliation(ctx.company_id(), &id, Some("matched"))
        .await
        .map_err(|e| ctx.fail(e))?;
    let failed = |text: String| async {
        let sent = Some((item_id.as_str(), &form));
        let page = detail_page(&state, &ctx, &id, "", Some(("error", text)), sent).await?;
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
            Ok(Redirect::to(&format!("/ui/reconciliations/{id}?done=1&class=all")).into_response())
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
    fn signed_amounts_in_each_language() {
        assert_eq!(signed_money(Lang::Tr, "-1234.50"), "-1.234,50 TL");
        assert_eq!(signed_money(Lang::Tr, "12.00"), "12,00 TL");
        assert_eq!(signed_money(Lang::En, "-0.05"), "TRY -0.05");
        assert_eq!(
            signed_money(Lang::En, "1234.00"),
            money(Lang::En, Kurus::from_minor(123_400).unwrap())
        );
        assert_eq!(signed_money(Lang::En, "x"), "x");
    }

    #[test]
    fn reasons_and_flags_in_words() {
        let t = super::super::i18n::texts(Lang::Tr);
        assert_eq!(t.recon_reason("missing_here"), "Sağlayıcıda var, bizde yok");
        assert_eq!(t.recon_reason("something_new"), "something_new");
        let flag = serde_json::json!({"kind": "commission", "expected": "2.99", "actual": "3.50"});
        assert_eq!(
            flag_text(Lang::Tr, &flag),
            "Komisyon beklenenden farklı: beklenen 2,99 TL, gelen 3,50 TL"
        );
        let flag = serde_json::json!({"kind": "value_date", "expected": "2026-12-01", "actual": "2026-12-03"});
        assert_eq!(
            flag_text(Lang::En, &flag),
            "Value date differs from the table: expected 2026-12-01, reported 2026-12-03"
        );
    }

    #[test]
    fn class_filter() {
        assert_eq!(selected(""), Ok(None));
        assert_eq!(selected("all"), Ok(Some("all")));
        assert_eq!(selected("provider_only"), Ok(Some("provider_only")));
        assert!(selected("x").is_err());
    }
}
