//! Sanal POS Tanımları: the company's POS definitions. A new POS starts with the bank
//! (every bank of every protocol the registry knows), then that protocol's own fields,
//! drawn from its description: this page knows no protocol's field names. Credentials
//! are shown masked and can be replaced, never read back. "Test connection" makes the
//! protocol's harmless authenticated call and says in plain words what is wrong.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use maud::{html, Markup};

use sanalpos_core::Currency;
use sanalpos_service::protocols::{self, FieldKind, FieldSpec, ProtocolInfo, BANK_FIELD};
use sanalpos_service::{
    ConnectionCheck, DocumentItem, Environment, InstallmentRow, NewPos, OnboardingState, PosChange,
    PosView, ServiceError, Settings, PRE_AUTH_DEFAULT_DAYS, PRE_AUTH_HOLD_DAYS,
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
                            td { (provider_name(p)) }
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

/// "İş Bankası · NestPay (EST)", or the protocol's name alone when its bank is itself.
fn provider_name(p: &PosView) -> String {
    let Some(info) = protocols::protocol(&p.protocol).map(|p| p.info()) else {
        return p.protocol.clone();
    };
    match &p.bank_name {
        Some(bank) if info.banks.len() > 1 => format!("{bank} · {}", info.name.en),
        _ => info.name.en.to_owned(),
    }
}

/// The form's name of a setting (apart from the POS's own fields).
fn setting_input(name: &str) -> String {
    format!("s_{name}")
}

/// The bank picker: every bank of every protocol, one choice each (`nestpay:isbank`).
fn bank_picker(ctx: &Ctx) -> Markup {
    let t = ctx.t();
    page(
        ctx,
        t.pos_new,
        Nav::Pos,
        html! {
            form #pos-bank-form method="get" action="/ui/pos/new" {
                label { (t.pos_bank)
                    select #pos-bank name="bank" required {
                        @for protocol in protocols::PROTOCOLS {
                            @let info = protocol.info();
                            optgroup label=(info.name.get(ctx.lang)) {
                                @for bank in info.banks {
                                    option value=(format!("{}:{}", info.id, bank.id)) { (bank.name) }
                                }
                            }
                        }
                    }
                }
                button #pos-bank-next type="submit" { (t.next) }
            }
        },
    )
}

/// One setting's input, drawn from its description.
fn setting_field(ctx: &Ctx, field: &FieldSpec, value: Option<&str>, editing: bool) -> Markup {
    let name = setting_input(field.name);
    let id = format!("pos-{}", field.name);
    let label = field.label.get(ctx.lang);
    let help = field.help.map(|h| h.get(ctx.lang));
    let t = ctx.t();
    html! {
        @match field.kind {
            FieldKind::Flag => {
                @let on = value.or(field.default).is_some_and(|v| v == "true");
                label.check { input id=(id) type="checkbox" name=(name) value="true" checked[on]; (label) }
            }
            FieldKind::Choice(options) => {
                @let current = value.or(field.default).unwrap_or("");
                label { (label)
                    select id=(id) name=(name) {
                        @for (v, l) in options { option value=(v) selected[*v == current] { (l.get(ctx.lang)) } }
                    }
                }
            }
            FieldKind::Secret => {
                label { (label)
                    input id=(id) name=(name) type="password" autocomplete="new-password" required[field.required && !editing] value="";
                    @if let Some(masked) = value { span.masked { (t.secret_stored) " " (masked) } }
                }
            }
            _ => {
                label { (label)
                    input id=(id) name=(name) type=(if field.kind == FieldKind::Url { "url" } else { "text" }) required[field.required] value=(value.unwrap_or(""));
                }
            }
        }
        @if let Some(help) = help { p.hint { (help) } }
    }
}

fn pos_form(
    ctx: &Ctx,
    info: &'static ProtocolInfo,
    bank: &str,
    pos: Option<&PosView>,
    message: Option<(&str, String)>,
) -> Markup {
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
    let shown = |name: &str| {
        pos.and_then(|p| p.settings.iter().find(|s| s.name == name))
            .map(|s| s.value.as_str())
    };
    let bank_name = info.bank(bank).map(|b| b.name).unwrap_or(bank);
    page(
        ctx,
        title,
        Nav::Pos,
        html! {
            @if let Some((kind, text)) = &message { (notice(kind, text)) }
            form #pos-form.grid method="post" action=(action) autocomplete="off" {
                (csrf(ctx))
                input type="hidden" name="protocol" value=(info.id);
                fieldset {
                    legend { (t.pos) }
                    p #pos-provider { strong { (bank_name) } " · " (info.name.get(ctx.lang))
                        @if pos.is_none() { " " a href="/ui/pos/new" { (t.pos_change_bank) } }
                    }
                    p.hint #pos-capabilities {
                        @let caps = &info.capabilities;
                        @for (i, (name, has)) in [
                            (t.cap_pre_auth, caps.pre_auth),
                            (t.cap_card_storage, caps.card_storage),
                            (t.cap_partial_refund, caps.partial_refund),
                            (t.cap_report_pull, caps.report_pull),
                            (t.cap_statement_import, caps.statement_import),
                        ].into_iter().enumerate() {
                            @if i > 0 { " · " }
                            (name) ": " (if has { t.yes } else { t.no })
                        }
                    }
                    @if pos.is_none() || info.banks.len() == 1 {
                        input type="hidden" name=(setting_input(BANK_FIELD)) value=(bank);
                    }
                    label { (t.name) input #pos-name name="name" required value=(pos.map(|p| p.name.as_str()).unwrap_or(bank_name)); }
                    label { (t.environment)
                        select #pos-environment name="environment" {
                            @for e in ENVIRONMENTS { option value=(e.as_str()) selected[*e == env] { (t.environment(*e)) } }
                        }
                    }
                    label.check { input #pos-default type="checkbox" name="is_default" checked[pos.is_some_and(|p| p.is_default)]; (t.is_default) }
                    @if info.capabilities.pre_auth {
                        label { (t.pos_hold_days)
                            input #pos-hold-days name="pre_auth_hold_days" type="number" required
                                min=(PRE_AUTH_HOLD_DAYS.start()) max=(PRE_AUTH_HOLD_DAYS.end())
                                value=(pos.map_or(PRE_AUTH_DEFAULT_DAYS, |p| p.pre_auth_hold_days));
                        }
                        p.hint { (t.pos_hold_days_hint) }
                    }
                }
                fieldset #pos-settings {
                    legend { (t.credentials) }
                    p.hint { (t.credentials_hint) }
                    @if pos.is_some_and(|p| !p.settings_readable) { (notice("error", t.pos_settings_unreadable)) }
                    @for field in info.fields {
                        @if field.name != BANK_FIELD {
                            (setting_field(ctx, field, shown(field.name), pos.is_some()))
                        } @else if pos.is_some() && info.banks.len() > 1 {
                            (setting_field(ctx, field, Some(bank), true))
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

/// The form of an existing POS.
fn edit_page(ctx: &Ctx, pos: &PosView, message: Option<(&str, String)>) -> Result<Markup, UiError> {
    let info = protocols::protocol(&pos.protocol)
        .map(|p| p.info())
        .ok_or(UiError::Internal(ctx.lang))?;
    let bank = pos.bank.clone().unwrap_or_default();
    Ok(pos_form(ctx, info, &bank, Some(pos), message))
}

/// `?bank=protocol:bank` of the new-POS page.
#[derive(Debug, serde::Deserialize)]
pub struct BankQuery {
    bank: Option<String>,
}

/// The protocol and bank a `protocol:bank` choice names, when both are known.
fn chosen_bank(choice: &str) -> Option<(&'static ProtocolInfo, &'static str)> {
    let (protocol, bank) = choice.split_once(':')?;
    let info = protocols::protocol(protocol)?.info();
    Some((info, info.bank(bank)?.id))
}

/// `GET /ui/pos/new`: the bank first, then that bank's form.
pub async fn new_form(ctx: Ctx, Query(q): Query<BankQuery>) -> Result<Markup, UiError> {
    ctx.require(Perm::ManagePos)?;
    match q.bank.as_deref().and_then(chosen_bank) {
        Some((info, bank)) => Ok(pos_form(&ctx, info, bank, None, None)),
        None => Ok(bank_picker(&ctx)),
    }
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
    edit_page(&ctx, &pos, None)
}

struct Parsed {
    name: String,
    environment: Environment,
    settings: Settings,
    is_default: bool,
    pre_auth_hold_days: Option<u16>,
    currencies: Vec<Currency>,
    installments: Vec<InstallmentRow>,
    onboarding_state: OnboardingState,
    documents: Vec<DocumentItem>,
}

/// The protocol's settings as the form sent them: an unchecked flag is `false`, an
/// empty input is "not set" (for a secret on an edit: keep the stored one).
fn form_settings(info: &ProtocolInfo, form: &PosForm) -> Settings {
    let mut settings = Settings::new();
    for field in info.fields {
        let value = form.get(&setting_input(field.name));
        match field.kind {
            FieldKind::Flag => settings.set(field.name, (value == "true").to_string()),
            _ => settings.set(field.name, value),
        }
    }
    settings
}

fn parse_form(ctx: &Ctx, info: &ProtocolInfo, form: &PosForm) -> Result<Parsed, String> {
    let t = ctx.t();
    Ok(Parsed {
        name: form.get("name").to_owned(),
        environment: Environment::parse(form.get("environment"))
            .ok_or_else(|| format!("{}: {}", t.err_field, t.environment))?,
        settings: form_settings(info, form),
        is_default: form.has("is_default"),
        pre_auth_hold_days: match form.get("pre_auth_hold_days").trim() {
            "" => None,
            days => Some(
                days.parse::<u16>()
                    .ok()
                    .filter(|d| PRE_AUTH_HOLD_DAYS.contains(d))
                    .ok_or_else(|| format!("{}: {}", t.err_field, t.pos_hold_days))?,
            ),
        },
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

/// A validation error's field in the reader's words: a setting by its label.
fn field_label(ctx: &Ctx, info: Option<&ProtocolInfo>, field: &str) -> String {
    field
        .strip_prefix("settings.")
        .and_then(|name| info?.field(name))
        .map(|f| f.label.get(ctx.lang).to_owned())
        .unwrap_or_else(|| field.to_owned())
}

fn service_message(
    ctx: &Ctx,
    info: Option<&ProtocolInfo>,
    e: &ServiceError,
) -> Result<String, UiError> {
    match e {
        ServiceError::Validation { field, message } => Ok(format!(
            "{} ({}): {message}",
            ctx.t().err_field,
            field_label(ctx, info, field)
        )),
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
    let Some(info) = protocols::protocol(form.get("protocol")).map(|p| p.info()) else {
        return Ok((StatusCode::UNPROCESSABLE_ENTITY, bank_picker(&ctx)).into_response());
    };
    let bank = form.get(&setting_input(BANK_FIELD)).to_owned();
    let invalid = |text: String| {
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            pos_form(&ctx, info, &bank, None, Some(("error", text))),
        )
            .into_response()
    };
    let parsed = match parse_form(&ctx, info, &form) {
        Ok(p) => p,
        Err(text) => return Ok(invalid(text)),
    };
    let new = NewPos {
        name: parsed.name,
        protocol: info.id.to_owned(),
        environment: parsed.environment,
        settings: parsed.settings,
        currencies: parsed.currencies,
        installments: parsed.installments,
        onboarding_state: parsed.onboarding_state,
        documents: parsed.documents,
        is_default: parsed.is_default,
        pre_auth_hold_days: parsed.pre_auth_hold_days,
    };
    match state
        .service
        .create_pos(ctx.company_id(), new, &ctx.actor_name())
        .await
    {
        Ok(pos) => Ok(Redirect::to(&format!("/ui/pos/{}", pos.id)).into_response()),
        Err(e) => Ok(invalid(service_message(&ctx, Some(info), &e)?)),
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
    let info = protocols::protocol(&current.protocol)
        .map(|p| p.info())
        .ok_or(UiError::Internal(ctx.lang))?;
    let form = PosForm { fields };
    let invalid = |text: String| -> Result<Response, UiError> {
        Ok((
            StatusCode::UNPROCESSABLE_ENTITY,
            edit_page(&ctx, &current, Some(("error", text)))?,
        )
            .into_response())
    };
    let parsed = match parse_form(&ctx, info, &form) {
        Ok(p) => p,
        Err(text) => return invalid(text),
    };
    let change = PosChange {
        name: Some(parsed.name),
        environment: Some(parsed.environment),
        settings: Some(parsed.settings),
        currencies: Some(parsed.currencies),
        installments: Some(parsed.installments),
        onboarding_state: Some(parsed.onboarding_state),
        documents: Some(parsed.documents),
        is_default: Some(parsed.is_default),
        pre_auth_hold_days: parsed.pre_auth_hold_days,
    };
    match service
        .update_pos(ctx.company_id(), &id, change, &ctx.actor_name())
        .await
    {
        Ok(pos) => {
            Ok(edit_page(&ctx, &pos, Some(("ok", ctx.t().pos_saved.to_owned())))?.into_response())
        }
        Err(e) => invalid(service_message(&ctx, Some(info), &e)?),
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
        Err(e) => ("error", service_message(&ctx, None, &e)?),
    };
    Ok(edit_page(&ctx, &pos, Some((kind, text)))?.into_response())
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
