//! Administration: companies, users and their companies, API keys (shown once), and the
//! audit log with the verification state of the company's hash chain.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use maud::{html, Markup};
use serde::Deserialize;

use sanalpos_core::Currency;
use sanalpos_service::{Role, ServiceError};

use super::layout::{csrf, notice, page, Nav};
use super::session::{Ctx, Perm, UiError};
use crate::AppState;

const ROLES: &[Role] = &[Role::Admin, Role::Accountant, Role::Collector, Role::Viewer];

fn message_of(ctx: &Ctx, e: ServiceError) -> Result<String, UiError> {
    match e {
        ServiceError::Validation { field, message } => {
            Ok(format!("{} ({field}): {message}", ctx.t().err_field))
        }
        ServiceError::Conflict { message, .. } => Ok(message),
        other => Err(ctx.fail(other)),
    }
}

fn companies_page(ctx: &Ctx, message: Option<(&str, String)>) -> Markup {
    let t = ctx.t();
    page(
        ctx,
        t.nav_companies,
        Nav::Companies,
        html! {
            @if let Some((kind, text)) = &message { (notice(kind, text)) }
            table #companies.dense {
                thead { tr { th { "ID" } th { (t.name) } th { (t.created_at) } } }
                tbody { @for c in &ctx.companies { tr { td.mono { (c.id) } td { (c.name) } td { (ctx.lang.datetime(c.created_at)) } } } }
            }
            h2 { (t.new_company) }
            form #company-form.inline method="post" action="/ui/admin/companies" {
                (csrf(ctx))
                label { (t.name) input #company-name name="name" required maxlength="200"; }
                button type="submit" { (t.save) }
            }
        },
    )
}

/// `GET /ui/admin/companies`: the admin's companies.
pub async fn companies(ctx: Ctx) -> Result<Markup, UiError> {
    ctx.require(Perm::Admin)?;
    Ok(companies_page(&ctx, None))
}

/// A name.
#[derive(Deserialize)]
pub struct NameForm {
    #[serde(default)]
    name: String,
}

/// `POST /ui/admin/companies`: a new company; its creator becomes a member.
pub async fn create_company(
    State(state): State<AppState>,
    ctx: Ctx,
    Form(form): Form<NameForm>,
) -> Result<Response, UiError> {
    ctx.require(Perm::Admin)?;
    let service = &state.service;
    let company = match service.create_company(&form.name, &ctx.actor_name()).await {
        Ok(c) => c,
        Err(e) => {
            let text = message_of(&ctx, e)?;
            return Ok((
                StatusCode::UNPROCESSABLE_ENTITY,
                companies_page(&ctx, Some(("error", text))),
            )
                .into_response());
        }
    };
    let mut ids: Vec<String> = ctx.companies.iter().map(|c| c.id.clone()).collect();
    ids.push(company.id);
    service
        .set_user_companies(&ctx.session.user_id, &ids, &ctx.actor_name())
        .await
        .map_err(|e| ctx.fail(e))?;
    Ok(Redirect::to("/ui/admin/companies").into_response())
}

async fn users_page(
    state: &AppState,
    ctx: &Ctx,
    message: Option<(&str, String)>,
) -> Result<Markup, UiError> {
    let t = ctx.t();
    let users = state
        .service
        .list_company_users(ctx.company_id())
        .await
        .map_err(|e| ctx.fail(e))?;
    let name_of = |id: &str| {
        ctx.companies
            .iter()
            .find(|c| c.id == id)
            .map(|c| c.name.clone())
            .unwrap_or_else(|| id.to_owned())
    };
    Ok(page(
        ctx,
        t.nav_users,
        Nav::Users,
        html! {
            @if let Some((kind, text)) = &message { (notice(kind, text)) }
            table #users.dense {
                thead { tr { th { (t.username) } th { (t.role) } th { (t.user_companies) } } }
                tbody {
                    @for (u, disabled) in &users {
                        tr data-username=(u.username) data-disabled=(disabled) {
                            td { (u.username) }
                            td {
                                @if u.id == ctx.session.user_id {
                                    (t.role(u.role))
                                } @else {
                                    form.inline method="post" action=(format!("/ui/admin/users/{}/role", u.id)) {
                                        (csrf(ctx))
                                        select name="role" { @for r in ROLES { option value=(r.as_str()) selected[*r == u.role] { (t.role(*r)) } } }
                                        label.check { input type="checkbox" name="disabled" checked[*disabled]; (t.user_disabled) }
                                        button type="submit" { (t.save) }
                                    }
                                }
                            }
                            td {
                                form.inline method="post" action=(format!("/ui/admin/users/{}/companies", u.id)) {
                                    (csrf(ctx))
                                    @for c in &ctx.companies {
                                        label.check { input type="checkbox" name="company_id" value=(c.id) checked[u.company_ids.contains(&c.id)]; (c.name) }
                                    }
                                    @for other in u.company_ids.iter().filter(|id| !ctx.companies.iter().any(|c| &c.id == *id)) {
                                        span.muted { (name_of(other)) }
                                    }
                                    button type="submit" { (t.save) }
                                }
                            }
                        }
                    }
                }
            }
            h2 { (t.new_user) }
            form #user-form.grid method="post" action="/ui/admin/users" autocomplete="off" {
                (csrf(ctx))
                label { (t.username) input #new-username name="username" required maxlength="64"; }
                label { (t.password) input #new-password name="password" type="password" required minlength="10" autocomplete="new-password"; }
                label { (t.role) select #new-role name="role" { @for r in ROLES { option value=(r.as_str()) { (t.role(*r)) } } } }
                fieldset {
                    legend { (t.user_companies) }
                    @for c in &ctx.companies {
                        label.check { input type="checkbox" name="company_id" value=(c.id) checked[c.id == ctx.session.company_id]; (c.name) }
                    }
                }
                button #new-user-submit type="submit" { (t.save) }
            }
        },
    ))
}

/// `GET /ui/admin/users`: the current company's users.
pub async fn users(State(state): State<AppState>, ctx: Ctx) -> Result<Markup, UiError> {
    ctx.require(Perm::Admin)?;
    users_page(&state, &ctx, None).await
}

fn chosen_companies(ctx: &Ctx, fields: &[(String, String)]) -> Result<Vec<String>, UiError> {
    let mut ids = Vec::new();
    for (k, v) in fields {
        if k == "company_id" {
            // An admin grants only companies they belong to.
            if !ctx.companies.iter().any(|c| &c.id == v) {
                return Err(UiError::NotFound(ctx.lang));
            }
            ids.push(v.clone());
        }
    }
    ids.sort();
    ids.dedup();
    Ok(ids)
}

/// `POST /ui/admin/users`.
pub async fn create_user(
    State(state): State<AppState>,
    ctx: Ctx,
    Form(fields): Form<Vec<(String, String)>>,
) -> Result<Response, UiError> {
    ctx.require(Perm::Admin)?;
    let get = |name: &str| {
        fields
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    let companies = chosen_companies(&ctx, &fields)?;
    let Some(role) = Role::parse(&get("role")) else {
        return Err(UiError::BadRequest(ctx.lang, ctx.t().err_field.to_owned()));
    };
    match state
        .service
        .create_user(
            &get("username"),
            &get("password"),
            role,
            &companies,
            &ctx.actor_name(),
        )
        .await
    {
        Ok(_) => Ok(Redirect::to("/ui/admin/users").into_response()),
        Err(e) => {
            let text = message_of(&ctx, e)?;
            Ok((
                StatusCode::UNPROCESSABLE_ENTITY,
                users_page(&state, &ctx, Some(("error", text))).await?,
            )
                .into_response())
        }
    }
}

/// A role change.
#[derive(Deserialize)]
pub struct RoleForm {
    #[serde(default)]
    role: String,
    #[serde(default)]
    disabled: Option<String>,
}

/// `POST /ui/admin/users/{id}/role`: another user of the current company gets a role,
/// or is disabled (signed out everywhere). One's own account is not changed here, so an
/// admin cannot lock themselves out.
pub async fn set_role(
    State(state): State<AppState>,
    ctx: Ctx,
    Path(id): Path<String>,
    Form(form): Form<RoleForm>,
) -> Result<Response, UiError> {
    ctx.require(Perm::Admin)?;
    let service = &state.service;
    let user = service
        .get_user(&id)
        .await
        .map_err(|e| ctx.fail(e))?
        .ok_or(UiError::NotFound(ctx.lang))?;
    if !user.company_ids.iter().any(|c| c == ctx.company_id()) {
        return Err(UiError::NotFound(ctx.lang));
    }
    if user.id == ctx.session.user_id {
        return Err(UiError::BadRequest(
            ctx.lang,
            ctx.t().err_own_account.to_owned(),
        ));
    }
    let role = Role::parse(&form.role)
        .ok_or_else(|| UiError::BadRequest(ctx.lang, ctx.t().err_field.to_owned()))?;
    service
        .set_user_role(&id, role, form.disabled.is_some(), &ctx.actor_name())
        .await
        .map_err(|e| ctx.fail(e))?;
    Ok(Redirect::to("/ui/admin/users").into_response())
}

/// `POST /ui/admin/users/{id}/companies`: the admin's companies are set as ticked; the
/// user's other companies (not the admin's) stay.
pub async fn set_companies(
    State(state): State<AppState>,
    ctx: Ctx,
    Path(id): Path<String>,
    Form(fields): Form<Vec<(String, String)>>,
) -> Result<Response, UiError> {
    ctx.require(Perm::Admin)?;
    let service = &state.service;
    let user = service
        .get_user(&id)
        .await
        .map_err(|e| ctx.fail(e))?
        .ok_or(UiError::NotFound(ctx.lang))?;
    // Only users of the current company are managed from here.
    if !user.company_ids.iter().any(|c| c == ctx.company_id()) {
        return Err(UiError::NotFound(ctx.lang));
    }
    let mut ids = chosen_companies(&ctx, &fields)?;
    ids.extend(
        user.company_ids
            .iter()
            .filter(|id| !ctx.companies.iter().any(|c| &c.id == *id))
            .cloned(),
    );
    match service
        .set_user_companies(&id, &ids, &ctx.actor_name())
        .await
    {
        Ok(_) => Ok(Redirect::to("/ui/admin/users").into_response()),
        Err(e) => {
            let text = message_of(&ctx, e)?;
            Ok((
                StatusCode::UNPROCESSABLE_ENTITY,
                users_page(&state, &ctx, Some(("error", text))).await?,
            )
                .into_response())
        }
    }
}

async fn keys_page(
    state: &AppState,
    ctx: &Ctx,
    new_key: Option<&str>,
    message: Option<(&str, String)>,
) -> Result<Markup, UiError> {
    let t = ctx.t();
    let keys = state
        .service
        .list_api_keys(ctx.company_id())
        .await
        .map_err(|e| ctx.fail(e))?;
    Ok(page(
        ctx,
        t.nav_keys,
        Nav::Keys,
        html! {
            @if let Some((kind, text)) = &message { (notice(kind, text)) }
            @if let Some(key) = new_key {
                div.notice.ok #new-key-box {
                    p { (t.key_shown_once) }
                    code #new-key { (key) }
                }
            }
            table #keys.dense {
                thead { tr { th { (t.name) } th { (t.key_prefix) } th { (t.created_at) } th { (t.status) } th { (t.actions) } } }
                tbody {
                    @for k in &keys {
                        tr {
                            td { (k.name) } td.mono { (k.prefix) "…" } td { (super::format::when(ctx.lang, &k.created_at)) }
                            td { @if k.revoked_at.is_some() { (t.revoked) } @else { (t.active) } }
                            td { @if k.revoked_at.is_none() {
                                form.inline method="post" action=(format!("/ui/admin/keys/{}/revoke", k.id)) { (csrf(ctx)) button type="submit" { (t.revoke) } }
                            } }
                        }
                    }
                }
            }
            h2 { (t.new_key) }
            form #key-form.inline method="post" action="/ui/admin/keys" {
                (csrf(ctx))
                label { (t.key_name) input #key-name name="name" required maxlength="100"; }
                button #key-submit type="submit" { (t.save) }
            }
        },
    ))
}

/// `GET /ui/admin/keys`.
pub async fn keys(State(state): State<AppState>, ctx: Ctx) -> Result<Markup, UiError> {
    ctx.require(Perm::Admin)?;
    keys_page(&state, &ctx, None, None).await
}

/// `POST /ui/admin/keys`: the key is in this answer only (no redirect, not cached).
pub async fn create_key(
    State(state): State<AppState>,
    ctx: Ctx,
    Form(form): Form<NameForm>,
) -> Result<Response, UiError> {
    ctx.require(Perm::Admin)?;
    match state
        .service
        .create_api_key(ctx.company_id(), &form.name, &ctx.actor_name())
        .await
    {
        Ok((_, key)) => Ok(keys_page(&state, &ctx, Some(&key), None)
            .await?
            .into_response()),
        Err(e) => {
            let text = message_of(&ctx, e)?;
            Ok((
                StatusCode::UNPROCESSABLE_ENTITY,
                keys_page(&state, &ctx, None, Some(("error", text))).await?,
            )
                .into_response())
        }
    }
}

/// `POST /ui/admin/keys/{id}/revoke`.
pub async fn revoke_key(
    State(state): State<AppState>,
    ctx: Ctx,
    Path(id): Path<String>,
) -> Result<Response, UiError> {
    ctx.require(Perm::Admin)?;
    state
        .service
        .revoke_api_key(ctx.company_id(), &id, &ctx.actor_name())
        .await
        .map_err(|e| ctx.fail(e))?;
    Ok(Redirect::to("/ui/admin/keys").into_response())
}

/// `GET /ui/admin/audit`: the latest events of the company and whether its chain checks.
pub async fn audit(State(state): State<AppState>, ctx: Ctx) -> Result<Markup, UiError> {
    ctx.require(Perm::Admin)?;
    let t = ctx.t();
    let (events, report) = state
        .service
        .company_audit(ctx.company_id(), 200)
        .await
        .map_err(|e| ctx.fail(e))?;
    Ok(page(
        &ctx,
        t.nav_audit,
        Nav::Audit,
        html! {
            @match &report {
                Some(r) if r.broken.is_none() => div.notice.ok #audit-state data-state="ok" { (t.audit_chain_ok) " (" (r.events) " " (t.events) ")" },
                Some(r) => div.notice.error #audit-state data-state="broken" {
                    (t.audit_chain_broken) ": seq " (r.broken.as_ref().map(|b| b.seq).unwrap_or_default()) " — " (r.broken.as_ref().map(|b| b.reason.as_str()).unwrap_or(""))
                },
                None => div.notice #audit-state data-state="empty" { (t.no_data) },
            }
            table #audit-log.dense {
                thead { tr { th { "#" } th { (t.date_time) } th { (t.event_kind) } th { (t.actor) } th { (t.subject) } th { (t.details) } } }
                tbody {
                    @for e in &events {
                        tr { td.num { (e.seq) } td { (ctx.lang.datetime(e.created_at)) } td { (e.kind) } td { (e.actor) } td.mono { (e.subject_id) } td.event-data-cell { (super::event_details::details(ctx.lang, &event_data(&e.data), Currency::Try)) } }
                    }
                }
            }
        },
    ))
}

/// An audit event's stored data as JSON for display; text that is not JSON is shown
/// as it is.
fn event_data(data: &str) -> serde_json::Value {
    serde_json::from_str(data).unwrap_or_else(|_| serde_json::Value::String(data.to_owned()))
}
