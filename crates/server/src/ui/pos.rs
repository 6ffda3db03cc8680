//! Sanal POS Tanımları: the company's POS definitions. Credentials are shown masked and
//! can be replaced, never read back. "Test connection" makes a harmless authenticated
//! call and says in plain words what is wrong.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use maud::{html, Markup};

use sanalpos_core::{Currency, Secret};
use sanalpos_service::{
    ConnectionCheck, DocumentItem, Environment, InstallmentRow, NewPos, OnboardingState, PosChange,
    PosCredentials, PosView, ServiceError,
};
use sanalpos_store::DOCUMENT_NAMES;

use super::format::{parse_percent_bp, percent_bp, when};
use super::layout::{csrf, notice, page, Nav};
use super::session::{Ctx, Perm, UiError};
use crate::AppState;

const ENVIRONMENTS: &[Environment] = &[
    Environment::Simulator,
    Environment::Test,
    Environment::Production,
];
const STATES: &[OnboardingState] = &[
    OnboardingState::Applied,
    OnboardingState::Offer,
    OnboardingState::Documents,
    OnboardingState::Evaluation,
    OnboardingState::Approved,
    OnboardingState::Rejected,
    OnboardingState::Active,
    OnboardingState::Inactive,
];
const CURRENCIES: &[Currency] = &[Currency::Try, Currency::Usd, Currency::Eur];

/// `GET /ui/pos`.
pub async fn list(State(state): State<AppState>, ctx: Ctx) -> Result<Markup, UiError> {
    ctx.require(Perm::ViewPos)?;
    let t = ctx.t();
    let all = state
        .service
        .list_pos(ctx.company_id())
        .await
        .map_err(|e| ctx.fail(e))?;
    Ok(page(
        &ctx,
        t.pos_title,
        Nav::Pos,
        html! {
            @if ctx.can(Perm::ManagePos) { p { a #new-pos.button href="/ui/pos/new" { (t.pos_new) } } }
            table #pos-list.dense {
                thead { tr {
                    th { (t.name) } th { (t.company) } th { (t.provider) } th { (t.environment) } th { (t.onboarding) }
                    th { (t.is_default) } th { (t.last_success) } th { (t.last_error) }
                } }
                tbody {
                    @for p in &all {
                        tr data-id=(p.id) {
                            td { @if ctx.can(Perm::ManagePos) { a href=(format!("/ui/pos/{}", p.id)) { (p.name) } } @else { (p.name) } }
                            td { (ctx.company_name()) }
                            td { "N Kolay" }
                            td { (t.environment(p.environment)) }
                            td { (t.onboarding(p.onboarding_state)) }
                            td { @if p.is_default { (t.yes) } }
                            td { (p.last_success_at.as_deref().map(|s| when(ctx.lang, s)).unwrap_or_default()) }
                            td { (p.last_error.as_deref().unwrap_or("")) }
                        }
                    }
                    @if all.is_empty() { tr { td colspan="8" { (t.no_data) } } }
                }
            }
        },
    ))
}

/// The POS form as sent.
#[derive(Debug, Default)]
pub struct PosForm {
    fields: Vec<(String, String)>,
}

impl PosForm {
    fn get(&self, name: &str) -> &str {
        self.fields
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.trim())
            .unwrap_or_default()
    }

    fn has(&self, name: &str) -> bool {
        self.fields.iter().any(|(k, _)| k == name)
    }
}

fn installments_text(ctx: &Ctx, rows: &[InstallmentRow]) -> String {
    rows.iter()
        .map(|r| {
            format!(
                "{};{};{};{}",
                r.count,
                percent_bp(ctx.lang, r.commission_bp),
                percent_bp(ctx.lang, r.surcharge_bp),
                r.value_days
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn parse_installments(text: &str) -> Result<Vec<InstallmentRow>, String> {
    let mut rows = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let parts: Vec<&str> = line.split(';').map(str::trim).collect();
        let row = match parts.as_slice() {
            [count, commission, surcharge, days] => (|| {
                Some(InstallmentRow {
                    count: count.parse().ok()?,
                    commission_bp: parse_percent_bp(commission)?,
                    surcharge_bp: parse_percent_bp(surcharge)?,
                    value_days: days.parse().ok()?,
                })
            })(),
            _ => None,
        };
        rows.push(row.ok_or_else(|| format!("{}: {line}", i + 1))?);
    }
    Ok(rows)
}

fn pos_form(ctx: &Ctx, pos: Option<&PosView>, message: Option<(&str, String)>) -> Markup {
    let t = ctx.t();
    let action = pos
        .map(|p| format!("/ui/pos/{}", p.id))
        .unwrap_or_else(|| "/ui/pos".into());
    let title = if pos.is_some() { t.pos_edit } else { t.pos_new };
    let env = pos.map(|p| p.environment).unwrap_or(Environment::Test);
    let state = pos
        .map(|p| p.onboarding_state)
        .unwrap_or(OnboardingState::Applied);
    let currencies = pos
        .map(|p| p.currencies.clone())
        .unwrap_or_else(|| vec![Currency::Try]);
    let docs: Vec<DocumentItem> = pos
        .map(|p| p.documents.clone())
        .unwrap_or_else(sanalpos_store::empty_checklist);
    let table = pos
        .map(|p| installments_text(ctx, &p.installments))
        .unwrap_or_else(|| "1;1,79;0;1".into());
    page(
        ctx,
        title,
        Nav::Pos,
        html! {
            @if let Some((kind, text)) = &message { (notice(kind, text)) }
            form #pos-form.grid method="post" action=(action) autocomplete="off" {
                (csrf(ctx))
                fieldset {
                    legend { (t.pos) }
                    label { (t.name) input #pos-name name="name" required value=(pos.map(|p| p.name.as_str()).unwrap_or("")); }
                    label { (t.provider) select name="provider" { option value="nkolay" selected { "N Kolay (PayNKolay)" } } }
                    label { (t.environment)
                        select #pos-environment name="environment" {
                            @for e in ENVIRONMENTS { option value=(e.as_str()) selected[*e == env] { (t.environment(*e)) } }
                        }
                    }
                    label { (t.base_url) input #pos-base-url name="base_url" type="url" required value=(pos.map(|p| p.base_url.as_str()).unwrap_or("")); }
                    label.check { input #pos-auto-complete type="checkbox" name="auto_complete" checked[pos.is_none_or(|p| p.auto_complete)]; (t.auto_complete) }
                    label.check { input #pos-default type="checkbox" name="is_default" checked[pos.is_some_and(|p| p.is_default)]; (t.is_default) }
                }
                fieldset {
                    legend { (t.credentials) }
                    p.hint { (t.credentials_hint) }
                    @for (field, masked) in [
                        ("sx", pos.map(|p| p.credentials.sx.clone())),
                        ("sx_list", pos.map(|p| p.credentials.sx_list.clone())),
                        ("sx_cancel", pos.map(|p| p.credentials.sx_cancel.clone())),
                        ("secret_key", pos.map(|p| p.credentials.secret_key.clone())),
                    ] {
                        label { (field)
                            input id=(format!("pos-{field}")) name=(field) type="password" autocomplete="new-password" required[pos.is_none()] value="";
                            @if let Some(m) = masked { span.masked { (m) } }
                        }
                    }
                }
                fieldset {
                    legend { (t.currencies) }
                    @for c in CURRENCIES {
                        label.check { input type="checkbox" name=(format!("cur_{}", c.alpha())) checked[currencies.contains(c)]; (c.alpha()) }
                    }
                }
                fieldset {
                    legend { (t.installment_table) }
                    p.hint { (t.installment_table_hint) }
                    textarea #pos-installments name="installments" rows="7" cols="30" { (table) }
                }
                fieldset {
                    legend { (t.onboarding) }
                    select #pos-state name="onboarding_state" {
                        @for s in STATES { option value=(s.as_str()) selected[*s == state] { (t.onboarding(*s)) } }
                    }
                    h3 { (t.documents) }
                    @for d in &docs {
                        label.check { input type="checkbox" name=(format!("doc_{}", d.name)) checked[d.received]; (t.document(&d.name)) }
                    }
                }
                button #pos-save type="submit" { (t.save) }
            }
            @if let Some(p) = pos {
                div.actions {
                    form.inline method="post" action=(format!("/ui/pos/{}/test", p.id)) {
                        (csrf(ctx))
                        button #pos-test type="submit" { (t.test_connection) }
                    }
                    @if p.onboarding_state != OnboardingState::Inactive {
                        form.inline method="post" action=(format!("/ui/pos/{}/deactivate", p.id)) {
                            (csrf(ctx))
                            button #pos-deactivate type="submit" { (t.deactivate) }
                        }
                    }
                }
            }
        },
    )
}

/// `GET /ui/pos/new`.
pub async fn new_form(ctx: Ctx) -> Result<Markup, UiError> {
    ctx.require(Perm::ManagePos)?;
    Ok(pos_form(&ctx, None, None))
}

/// `GET /ui/pos/{id}`.
pub async fn edit_form(
    State(state): State<AppState>,
    ctx: Ctx,
    Path(id): Path<String>,
) -> Result<Markup, UiError> {
    ctx.require(Perm::ManagePos)?;
    let pos = state
        .service
        .get_pos(ctx.company_id(), &id)
        .await
        .map_err(|e| ctx.fail(e))?;
    let saved = None;
    Ok(pos_form(&ctx, Some(&pos), saved))
}

struct Parsed {
    name: String,
    environment: Environment,
    base_url: String,
    credentials: Option<PosCredentials>,
    auto_complete: bool,
    is_default: bool,
    currencies: Vec<Currency>,
    installments: Vec<InstallmentRow>,
    onboarding_state: OnboardingState,
    documents: Vec<DocumentItem>,
}

fn parse_form(ctx: &Ctx, form: &PosForm) -> Result<Parsed, String> {
    let t = ctx.t();
    let secrets: Vec<&str> = ["sx", "sx_list", "sx_cancel", "secret_key"]
        .iter()
        .map(|f| form.get(f))
        .collect();
    let credentials = if secrets.iter().all(|s| s.is_empty()) {
        None
    } else if secrets.iter().any(|s| s.is_empty()) {
        return Err(t.credentials_hint.to_owned());
    } else {
        Some(PosCredentials {
            sx: Secret::new(secrets[0].to_owned()),
            sx_list: Secret::new(secrets[1].to_owned()),
            sx_cancel: Secret::new(secrets[2].to_owned()),
            secret_key: Secret::new(secrets[3].to_owned()),
        })
    };
    Ok(Parsed {
        name: form.get("name").to_owned(),
        environment: Environment::parse(form.get("environment"))
            .ok_or_else(|| format!("{}: {}", t.err_field, t.environment))?,
        base_url: form.get("base_url").to_owned(),
        credentials,
        auto_complete: form.has("auto_complete"),
        is_default: form.has("is_default"),
        currencies: CURRENCIES
            .iter()
            .copied()
            .filter(|c| form.has(&format!("cur_{}", c.alpha())))
            .collect(),
        installments: parse_installments(form.get("installments"))
            .map_err(|line| format!("{} ({}): {line}", t.err_field, t.installment_table))?,
        onboarding_state: OnboardingState::parse(form.get("onboarding_state"))
            .ok_or_else(|| format!("{}: {}", t.err_field, t.onboarding))?,
        documents: DOCUMENT_NAMES
            .iter()
            .map(|name| DocumentItem {
                name: (*name).to_owned(),
                received: form.has(&format!("doc_{name}")),
            })
            .collect(),
    })
}

fn service_message(ctx: &Ctx, e: &ServiceError) -> Result<String, UiError> {
    match e {
        ServiceError::Validation { field, message } => {
            Ok(format!("{} ({field}): {message}", ctx.t().err_field))
        }
        ServiceError::Conflict { message, .. } | ServiceError::Provider { message, .. } => {
            Ok(message.clone())
        }
        ServiceError::NotFound => Err(UiError::NotFound(ctx.lang)),
        other => {
            tracing::error!(error = %other, "POS definition change failed");
            Err(UiError::Internal(ctx.lang))
        }
    }
}

/// `POST /ui/pos`.
pub async fn create(
    State(state): State<AppState>,
    ctx: Ctx,
    Form(fields): Form<Vec<(String, String)>>,
) -> Result<Response, UiError> {
    ctx.require(Perm::ManagePos)?;
    let form = PosForm { fields };
    let invalid = |text: String| {
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            pos_form(&ctx, None, Some(("error", text))),
        )
            .into_response()
    };
    let parsed = match parse_form(&ctx, &form) {
        Ok(p) => p,
        Err(text) => return Ok(invalid(text)),
    };
    let Some(credentials) = parsed.credentials else {
        return Ok(invalid(ctx.t().credentials_hint.to_owned()));
    };
    let new = NewPos {
        name: parsed.name,
        provider: "nkolay".into(),
        environment: parsed.environment,
        base_url: parsed.base_url,
        credentials,
        auto_complete: parsed.auto_complete,
        currencies: parsed.currencies,
        installments: parsed.installments,
        onboarding_state: parsed.onboarding_state,
        documents: parsed.documents,
        is_default: parsed.is_default,
    };
    match state
        .service
        .create_pos(ctx.company_id(), new, &ctx.actor_name())
        .await
    {
        Ok(pos) => Ok(Redirect::to(&format!("/ui/pos/{}", pos.id)).into_response()),
        Err(e) => Ok(invalid(service_message(&ctx, &e)?)),
    }
}

/// `POST /ui/pos/{id}`.
pub async fn update(
    State(state): State<AppState>,
    ctx: Ctx,
    Path(id): Path<String>,
    Form(fields): Form<Vec<(String, String)>>,
) -> Result<Response, UiError> {
    ctx.require(Perm::ManagePos)?;
    let service = &state.service;
    let current = service
        .get_pos(ctx.company_id(), &id)
        .await
        .map_err(|e| ctx.fail(e))?;
    let form = PosForm { fields };
    let invalid = |text: String| {
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            pos_form(&ctx, Some(&current), Some(("error", text))),
        )
            .into_response()
    };
    let parsed = match parse_form(&ctx, &form) {
        Ok(p) => p,
        Err(text) => return Ok(invalid(text)),
    };
    let change = PosChange {
        name: Some(parsed.name),
        environment: Some(parsed.environment),
        base_url: Some(parsed.base_url),
        credentials: parsed.credentials,
        auto_complete: Some(parsed.auto_complete),
        currencies: Some(parsed.currencies),
        installments: Some(parsed.installments),
        onboarding_state: Some(parsed.onboarding_state),
        documents: Some(parsed.documents),
        is_default: Some(parsed.is_default),
    };
    match service
        .update_pos(ctx.company_id(), &id, change, &ctx.actor_name())
        .await
    {
        Ok(pos) => Ok(
            pos_form(&ctx, Some(&pos), Some(("ok", ctx.t().pos_saved.to_owned()))).into_response(),
        ),
        Err(e) => Ok(invalid(service_message(&ctx, &e)?)),
    }
}

/// `POST /ui/pos/{id}/deactivate`: it takes no more payments.
pub async fn deactivate(
    State(state): State<AppState>,
    ctx: Ctx,
    Path(id): Path<String>,
) -> Result<Response, UiError> {
    ctx.require(Perm::ManagePos)?;
    let change = PosChange {
        onboarding_state: Some(OnboardingState::Inactive),
        is_default: Some(false),
        ..PosChange::default()
    };
    state
        .service
        .update_pos(ctx.company_id(), &id, change, &ctx.actor_name())
        .await
        .map_err(|e| ctx.fail(e))?;
    Ok(Redirect::to("/ui/pos").into_response())
}

/// `POST /ui/pos/{id}/test`.
pub async fn test_connection(
    State(state): State<AppState>,
    ctx: Ctx,
    Path(id): Path<String>,
) -> Result<Response, UiError> {
    ctx.require(Perm::ManagePos)?;
    let t = ctx.t();
    let service = &state.service;
    let pos = service
        .get_pos(ctx.company_id(), &id)
        .await
        .map_err(|e| ctx.fail(e))?;
    let check = service
        .check_pos_connection(ctx.company_id(), &id, &ctx.actor_name())
        .await;
    let (kind, text) = match check {
        Ok(ConnectionCheck::Ok) => ("ok", t.conn_ok.to_owned()),
        Ok(ConnectionCheck::BadCredentials) => ("error", t.conn_bad_credentials.to_owned()),
        Ok(ConnectionCheck::IpNotAllowed) => ("error", t.conn_ip.to_owned()),
        Ok(ConnectionCheck::Unreachable) => ("error", t.conn_unreachable.to_owned()),
        Ok(ConnectionCheck::Other { detail }) => ("error", format!("{}: {detail}", t.conn_other)),
        Err(e) => ("error", service_message(&ctx, &e)?),
    };
    Ok(pos_form(&ctx, Some(&pos), Some((kind, text))).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn installment_table_lines() {
        let rows = parse_installments("1;1,79;0;1\n\n 3 ; 2.99 ; 2,50 ; 30 ").unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!(
            (
                rows[1].count,
                rows[1].commission_bp,
                rows[1].surcharge_bp,
                rows[1].value_days
            ),
            (3, 299, 250, 30)
        );
        assert_eq!(parse_installments("1;1,79;0").unwrap_err(), "1: 1;1,79;0");
        assert!(parse_installments("1;x;0;1").is_err());
        assert!(
            parse_installments("300;1;0;1").is_err(),
            "a count above 255 is not a count"
        );
    }
}
