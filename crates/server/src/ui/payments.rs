//! Kredi Kartı Tahsilatları: the company's payments with filters and keyset paging, a
//! payment's detail (attempt timeline, refunds, audit events), and cancel / refund /
//! reverse behind a confirmation.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use maud::{html, Markup};
use serde::Deserialize;

use sanalpos_core::Lang;
use sanalpos_service::{
    Channel, ExportFormat, PaymentFilter, PaymentStatus, PosView, RefundStatus, ServiceError,
};
use sanalpos_store::Operation;

use super::format::{day, money, parse_amount, when};
use super::layout::{csrf, notice, page, Nav};
use super::listing::{day_range, opt, paging, query_string};
use super::session::{Ctx, Perm, UiError};
use crate::AppState;

/// The list's filters as the query string carries them (all optional, as typed).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct ListQuery {
    #[serde(default)]
    from: String,
    #[serde(default)]
    to: String,
    #[serde(default)]
    status: String,
    #[serde(default)]
    pos_id: String,
    #[serde(default)]
    customer_ref: String,
    #[serde(default)]
    order_ref: String,
    #[serde(default)]
    channel: String,
    #[serde(default)]
    last_four: String,
    #[serde(default)]
    min_amount: String,
    #[serde(default)]
    max_amount: String,
    #[serde(default)]
    auth_code: String,
    #[serde(default)]
    provider_ref: String,
    #[serde(default)]
    cursor: String,
}

impl ListQuery {
    /// The service filter; `Err` names the field that is not understood.
    fn filter(&self, lang: Lang, limit: u32) -> Result<PaymentFilter, &'static str> {
        let (from, to) = day_range(&self.from, &self.to)?;
        let status = match opt(&self.status) {
            Some(s) => Some(PaymentStatus::parse(&s).ok_or("status")?),
            None => None,
        };
        let channel = match opt(&self.channel) {
            Some(c) => Some(Channel::parse(&c).ok_or("channel")?),
            None => None,
        };
        let last_four = opt(&self.last_four);
        if last_four
            .as_deref()
            .is_some_and(|l| l.len() != 4 || !l.bytes().all(|b| b.is_ascii_digit()))
        {
            return Err("last_four");
        }
        let amount = |text: &str, field| match opt(text) {
            Some(t) => parse_amount(lang, &t).map(Some).ok_or(field),
            None => Ok(None),
        };
        Ok(PaymentFilter {
            channel,
            last_four,
            min_amount: amount(&self.min_amount, "min_amount")?,
            max_amount: amount(&self.max_amount, "max_amount")?,
            auth_code: opt(&self.auth_code),
            provider_ref: opt(&self.provider_ref),
            from,
            to,
            status,
            pos_id: opt(&self.pos_id),
            order_ref: opt(&self.order_ref),
            customer_ref: opt(&self.customer_ref),
            limit: Some(limit),
            cursor: opt(&self.cursor),
        })
    }

    /// The query string of these filters (without the cursor).
    fn query_string(&self) -> String {
        let pairs = [
            ("from", &self.from),
            ("to", &self.to),
            ("status", &self.status),
            ("pos_id", &self.pos_id),
            ("customer_ref", &self.customer_ref),
            ("order_ref", &self.order_ref),
            ("channel", &self.channel),
            ("last_four", &self.last_four),
            ("min_amount", &self.min_amount),
            ("max_amount", &self.max_amount),
            ("auth_code", &self.auth_code),
            ("provider_ref", &self.provider_ref),
        ];
        query_string(&pairs)
    }
}

const CHANNELS: &[Channel] = &[
    Channel::Api,
    Channel::Hosted,
    Channel::Moto,
    Channel::Manual,
    Channel::Reconciliation,
];

const STATUSES: &[PaymentStatus] = &[
    PaymentStatus::Approved,
    PaymentStatus::Authorized,
    PaymentStatus::Declined,
    PaymentStatus::Failed,
    PaymentStatus::Pending3ds,
    PaymentStatus::Processing,
    PaymentStatus::Unknown,
    PaymentStatus::Cancelled,
    PaymentStatus::PartiallyRefunded,
    PaymentStatus::Refunded,
    PaymentStatus::Expired,
    PaymentStatus::Blocked,
    PaymentStatus::Released,
    PaymentStatus::Capturing,
    PaymentStatus::Releasing,
];

/// Page size of the list.
const PAGE: u32 = 50;

fn filter_form(ctx: &Ctx, q: &ListQuery, pos: &[PosView]) -> Markup {
    let t = ctx.t();
    html! {
        form #filters.filters method="get" action="/ui/payments" {
            label { (t.date_from) input #f-from type="date" name="from" value=(q.from); }
            label { (t.date_to) input #f-to type="date" name="to" value=(q.to); }
            label { (t.status)
                select #f-status name="status" {
                    option value="" { (t.all) }
                    @for s in STATUSES { option value=(s.as_str()) selected[q.status == s.as_str()] { (t.status(*s)) } }
                }
            }
            label { (t.pos)
                select #f-pos name="pos_id" {
                    option value="" { (t.all) }
                    @for p in pos { option value=(p.id) selected[q.pos_id == p.id] { (p.name) } }
                }
            }
            label { (t.customer_ref) input #f-customer name="customer_ref" value=(q.customer_ref); }
            label { (t.order_ref) input #f-order name="order_ref" value=(q.order_ref); }
            label { (t.channel)
                select #f-channel name="channel" {
                    option value="" { (t.all) }
                    @for c in CHANNELS { option value=(c.as_str()) selected[q.channel == c.as_str()] { (t.channel(*c)) } }
                }
            }
            label { (t.last_four) input #f-last-four name="last_four" value=(q.last_four) maxlength="4" size="4" inputmode="numeric"; }
            label { (t.min_amount) input #f-min name="min_amount" value=(q.min_amount) size="10" inputmode="decimal"; }
            label { (t.max_amount) input #f-max name="max_amount" value=(q.max_amount) size="10" inputmode="decimal"; }
            label { (t.auth_code) input #f-auth name="auth_code" value=(q.auth_code) size="8"; }
            label { (t.provider_ref) input #f-provider-ref name="provider_ref" value=(q.provider_ref); }
            button #f-search type="submit" { (t.search) }
            a href="/ui/payments" { (t.clear) }
        }
    }
}

/// `GET /ui/payments`.
pub async fn list(
    State(state): State<AppState>,
    ctx: Ctx,
    Query(q): Query<ListQuery>,
) -> Result<Response, UiError> {
    ctx.require(Perm::ViewPayments)?;
    let t = ctx.t();
    let service = &state.service;
    let pos = service
        .list_pos(ctx.company_id())
        .await
        .map_err(|e| ctx.fail(e))?;
    let filter = match q.filter(ctx.lang, PAGE) {
        Ok(f) => f,
        Err(field) => {
            let body = html! {
                (notice("error", &format!("{}: {field}", t.filter_invalid)))
                (filter_form(&ctx, &q, &pos))
            };
            return Ok((
                StatusCode::BAD_REQUEST,
                page(&ctx, t.nav_payments, Nav::Payments, body),
            )
                .into_response());
        }
    };
    let totals = service
        .payment_totals(ctx.company_id(), &filter)
        .await
        .map_err(|e| ctx.fail(e))?;
    let found = service
        .list_payments(ctx.company_id(), filter)
        .await
        .map_err(|e| ctx.fail(e))?;
    let pos_name = |id: &str| {
        pos.iter()
            .find(|p| p.id == id)
            .map(|p| p.name.clone())
            .unwrap_or_else(|| id.to_owned())
    };
    let qs = q.query_string();
    let body = html! {
        (filter_form(&ctx, &q, &pos))
        div.table-wrap {
            table #payments.dense {
                thead { tr {
                    th { (t.date_time) } th { (t.business_day) } th { (t.customer_ref) } th { (t.order_ref) }
                    th { (t.pos) } th.num { (t.installments) } th.num { (t.amount) } th.num { (t.refunded) }
                    th { (t.status) } th { (t.auth_code) } th { (t.provider_ref) } th { (t.card) }
                    th { (t.channel) } th { (t.taken_by) }
                } }
                tbody {
                    @for p in &found.items {
                        tr data-id=(p.id) data-status=(p.status.as_str()) {
                            td { a href=(format!("/ui/payments/{}", p.id)) { (when(ctx.lang, &p.created_at)) } }
                            td { (day(ctx.lang, &p.business_date)) }
                            td { (p.customer_ref.as_deref().unwrap_or("")) }
                            td { (p.order_ref.as_deref().unwrap_or("")) }
                            td { (pos_name(&p.pos_id)) }
                            td.num { (p.installments) }
                            td.num { (money(ctx.lang, p.amount, p.currency)) }
                            td.num { @if p.refunded_amount.minor() > 0 { (money(ctx.lang, p.refunded_amount, p.currency)) } }
                            td { span class=(format!("badge {}", p.status.as_str())) { (t.status(p.status)) } }
                            td { (p.auth_code.as_deref().unwrap_or("")) }
                            td { (p.provider_ref.as_deref().unwrap_or("")) }
                            td { (p.masked_pan) }
                            td { (t.channel(p.channel)) }
                            td { (p.created_by) }
                        }
                    }
                    @if found.items.is_empty() { tr { td colspan="14" { (t.no_data) } } }
                }
                tfoot #totals {
                    @for c in &totals.by_currency {
                        tr data-currency=(c.currency.alpha()) {
                            td colspan="5" { (t.total) " (" (c.currency.alpha()) "): " span.total-count { (c.count) } " " (t.count) }
                            td.num { }
                            td.num.total-amount { (money(ctx.lang, c.amount, c.currency)) }
                            td.num { (money(ctx.lang, c.refunded_amount, c.currency)) }
                            td colspan="6" { (t.st_approved) ": " (c.approved_count) " / " (money(ctx.lang, c.approved_amount, c.currency)) }
                        }
                    }
                }
            }
        }
        p.exports {
            a #export-csv.button href=(format!("/ui/payments/export?format=csv&{qs}")) { (t.export_csv) } " "
            a #export-xlsx.button href=(format!("/ui/payments/export?format=xlsx&{qs}")) { (t.export_xlsx) }
        }
        (paging(t, "/ui/payments", &qs, !q.cursor.is_empty(), found.next_cursor.as_deref()))
    };
    Ok(page(&ctx, t.nav_payments, Nav::Payments, body).into_response())
}

/// The export's format and the list's filters.
#[derive(Deserialize)]
pub struct ExportQuery {
    #[serde(default)]
    format: String,
    #[serde(flatten)]
    filters: ListQuery,
}

/// Most rows one back-office export carries (a narrower filter gets the rest).
const EXPORT_ROWS: u32 = 200_000;

/// `GET /ui/payments/export?format=csv|xlsx&…`: the filtered list as a file, in the
/// user's language and formats.
pub async fn export(
    State(state): State<AppState>,
    ctx: Ctx,
    Query(q): Query<ExportQuery>,
) -> Result<Response, UiError> {
    ctx.require(Perm::ViewPayments)?;
    let t = ctx.t();
    let format = match q.format.as_str() {
        "csv" => ExportFormat::Csv,
        "xlsx" => ExportFormat::Xlsx,
        _ => return Err(UiError::BadRequest(ctx.lang, t.filter_invalid.to_owned())),
    };
    let filter = q
        .filters
        .filter(ctx.lang, PAGE)
        .map_err(|field| UiError::BadRequest(ctx.lang, format!("{}: {field}", t.filter_invalid)))?;
    let bytes = state
        .service
        .export_payments(ctx.company_id(), &filter, format, ctx.lang, EXPORT_ROWS)
        .await
        .map_err(|e| ctx.fail(e))?;
    let stem = match ctx.lang {
        Lang::Tr => "tahsilatlar",
        Lang::En => "payments",
    };
    let name = format!(
        "{stem}-{}.{}",
        sanalpos_service::istanbul_today().format("%Y%m%d"),
        format.extension()
    );
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

async fn detail_page(
    state: &AppState,
    ctx: &Ctx,
    id: &str,
    message: Option<(&str, String)>,
) -> Result<Markup, UiError> {
    let t = ctx.t();
    let service = &state.service;
    let detail = service
        .get_payment(ctx.company_id(), id)
        .await
        .map_err(|e| ctx.fail(e))?;
    let p = &detail.payment;
    let pos_name = service
        .get_pos(ctx.company_id(), &p.pos_id)
        .await
        .map(|pos| pos.name)
        .unwrap_or_else(|_| p.pos_id.clone());
    let events = service
        .payment_audit(ctx.company_id(), &p.id)
        .await
        .map_err(|e| ctx.fail(e))?;
    let reason = p.message.as_ref().map(|m| match ctx.lang {
        Lang::Tr => m.tr.clone(),
        Lang::En => m.en.clone(),
    });
    let reversible = matches!(
        p.status,
        PaymentStatus::Approved | PaymentStatus::PartiallyRefunded
    );
    let remaining = detail.refundable();
    // A cancel takes the whole sale back, so not once a refund holds part of it.
    let cancellable = p.status == PaymentStatus::Approved && remaining == p.amount;
    Ok(page(
        ctx,
        t.detail_title,
        Nav::Payments,
        html! {
            @if let Some((kind, text)) = &message { (notice(kind, text)) }
            @if p.hold_ends_soon {
                div.notice.warn #hold-warning role="alert" {
                    (t.hold_ends_soon.replace("{when}", &p.hold_until.as_deref().map(|w| when(ctx.lang, w)).unwrap_or_default()))
                }
            }
            table.kv #payment-detail {
                tr { th { "ID" } td #payment-id { (p.id) } }
                tr { th { (t.status) } td #detail-status data-status=(p.status.as_str()) { (t.status(p.status)) } }
                tr { th { (t.amount) } td #detail-amount { (money(ctx.lang, p.amount, p.currency)) } }
                @if let Some(held) = p.held_amount {
                    tr { th { (t.held_amount) } td #detail-held { (money(ctx.lang, held, p.currency)) } }
                    @if let Some(until) = &p.hold_until {
                        @if p.status == PaymentStatus::Authorized {
                            tr { th { (t.hold_until) } td #detail-hold-until { (when(ctx.lang, until)) } }
                        }
                    }
                }
                @if let Some(a) = p.authorized_amount { tr { th { (t.total) } td { (money(ctx.lang, a, p.currency)) } } }
                tr { th { (t.refunded) } td #detail-refunded { (money(ctx.lang, p.refunded_amount, p.currency)) } }
                tr { th { (t.installments) } td { (p.installments) } }
                tr { th { (t.card) } td { (p.masked_pan) } }
                tr { th { (t.auth_code) } td { (p.auth_code.as_deref().unwrap_or(t.none)) } }
                tr { th { (t.provider_ref) } td { (p.provider_ref.as_deref().unwrap_or(t.none)) } }
                @if let Some(reason) = &reason { tr { th { (t.reason) } td { (reason) @if let Some(c) = &p.bank_code { " (" (c) ")" } } } }
                tr { th { (t.pos) } td { (pos_name) } }
                tr { th { (t.channel) } td { (t.channel(p.channel)) } }
                tr { th { (t.customer_ref) } td { (p.customer_ref.as_deref().unwrap_or(t.none)) } }
                tr { th { (t.order_ref) } td { (p.order_ref.as_deref().unwrap_or(t.none)) } }
                tr { th { (t.description) } td { (p.description.as_deref().unwrap_or(t.none)) } }
                tr { th { (t.date_time) } td { (when(ctx.lang, &p.created_at)) } }
                tr { th { (t.business_day) } td { (day(ctx.lang, &p.business_date)) } }
                tr { th { (t.taken_by) } td { (p.created_by) } }
                @if let Some(r) = &p.review_reason { tr { th { (t.review_reason) } td { (r) } } }
            }
            @if p.status == PaymentStatus::Authorized && ctx.can(Perm::Reverse) {
                section.actions {
                    h2 { (t.actions) }
                    form #capture-form.inline method="post" action=(format!("/ui/payments/{}/capture", p.id)) {
                        (csrf(ctx))
                        label { (t.capture_amount) input #capture-amount name="amount" inputmode="decimal" required value=(ctx.lang.amount(p.held_amount.unwrap_or(p.amount))); }
                        label.check { input #capture-confirm type="checkbox" name="confirm"; (t.confirm_box) }
                        button #capture-submit type="submit" { (t.capture_payment) }
                    }
                    form #release-form.inline method="post" action=(format!("/ui/payments/{}/release", p.id)) {
                        (csrf(ctx))
                        label.check { input #release-confirm type="checkbox" name="confirm"; (t.confirm_box) }
                        button #release-submit type="submit" { (t.release_payment) }
                    }
                    p.hint { (t.capture_hint) }
                }
            }
            @if reversible && ctx.can(Perm::Reverse) {
                section.actions {
                    h2 { (t.actions) }
                    form #refund-form.inline method="post" action=(format!("/ui/payments/{}/refund", p.id)) {
                        (csrf(ctx))
                        label { (t.refund_amount) input #refund-amount name="amount" inputmode="decimal" required value=(ctx.lang.amount(remaining)); }
                        label.check { input #refund-confirm type="checkbox" name="confirm"; (t.confirm_box) }
                        button #refund-submit type="submit" { (t.refund_payment) }
                    }
                    @if cancellable {
                        form #cancel-form.inline method="post" action=(format!("/ui/payments/{}/cancel", p.id)) {
                            (csrf(ctx))
                            label.check { input #cancel-confirm type="checkbox" name="confirm"; (t.confirm_box) }
                            button #cancel-submit type="submit" { (t.cancel_payment) }
                        }
                    }
                    form #reverse-form.inline method="post" action=(format!("/ui/payments/{}/reverse", p.id)) {
                        (csrf(ctx))
                        label.check { input #reverse-confirm type="checkbox" name="confirm"; (t.confirm_box) }
                        button #reverse-submit type="submit" { (t.reverse_payment) }
                    }
                }
            }
            h2 { (t.attempts) }
            table #attempts.dense {
                thead { tr { th { (t.date_time) } th { (t.operation) } th { (t.outcome) } th { (t.bank_code) } th { (t.reason) } th.num { (t.amount) } th.num { (t.latency) } } }
                tbody {
                    @for a in &detail.attempts {
                        tr {
                            td { (when(ctx.lang, &a.started_at)) }
                            td { (t.operation(a.operation)) }
                            td { (t.attempt_outcome(a.outcome)) }
                            td { (a.bank_code.as_deref().unwrap_or("")) }
                            td.attempt-reason { (attempt_reason(ctx.lang, a.bank_code.as_deref(), a.message.as_deref())) }
                            td.num { (money(ctx.lang, a.amount, p.currency)) }
                            td.num { (a.latency_ms.map(|l| l.to_string()).unwrap_or_default()) }
                        }
                    }
                }
            }
            h2 { (t.refunds) }
            table #refunds.dense {
                thead { tr { th { (t.date_time) } th { (t.kind) } th.num { (t.amount) } th { (t.status) } th { (t.provider_ref) } th { (t.reason) } th { (t.actions) } } }
                tbody {
                    @for r in &detail.refunds {
                        tr data-status=(r.status.as_str()) data-refund=(r.id) {
                            td { (when(ctx.lang, &r.created_at)) }
                            td { (t.refund_kind(r.kind)) }
                            td.num { (money(ctx.lang, r.amount, p.currency)) }
                            td.refund-status { (t.refund_status(r.status)) }
                            td { (r.provider_ref.as_deref().unwrap_or("")) }
                            td.refund-reason { (r.message.as_ref().map(|m| if ctx.lang == Lang::Tr { m.tr.clone() } else { m.en.clone() }).unwrap_or_default()) }
                            td {
                                @if r.status == RefundStatus::Scheduled && ctx.can(Perm::Reverse) {
                                    form.withdraw-form.inline method="post" action=(format!("/ui/payments/{}/refunds/{}/withdraw", p.id, r.id)) {
                                        (csrf(ctx))
                                        label.check { input.withdraw-confirm type="checkbox" name="confirm"; (t.confirm_box) }
                                        button.withdraw-submit type="submit" { (t.withdraw_refund) }
                                    }
                                }
                            }
                        }
                    }
                    @if detail.refunds.is_empty() { tr { td colspan="7" { (t.no_data) } } }
                }
            }
            h2 { (t.audit_events) }
            table #audit.dense {
                thead { tr { th { (t.date_time) } th { (t.event_kind) } th { (t.actor) } th { (t.details) } } }
                tbody {
                    @for e in &events {
                        tr { td { (when(ctx.lang, &e.at)) } td { (e.action) } td { (e.actor) } td.event-data-cell { (super::event_details::details(ctx.lang, &with_pos_name(&e.details, &p.pos_id, &pos_name), p.currency)) } }
                    }
                }
            }
        },
    ))
}

/// An attempt's reason in the page's language: the catalogue's text of a bank code it
/// knows, else the provider's own words.
fn attempt_reason(lang: Lang, bank_code: Option<&str>, message: Option<&str>) -> String {
    match bank_code.and_then(sanalpos_core::BankCode::parse) {
        Some(code) if code.is_known() => {
            let text = code.message();
            match lang {
                Lang::Tr => text.tr,
                Lang::En => text.en,
            }
        }
        _ => message.unwrap_or_default().to_owned(),
    }
}

/// An event's data with the payment's POS by name rather than by id, as the page's
/// own POS line shows it.
fn with_pos_name(data: &serde_json::Value, pos_id: &str, pos_name: &str) -> serde_json::Value {
    let mut data = data.clone();
    if let Some(field) = data.get_mut("pos_id") {
        if field.as_str() == Some(pos_id) {
            *field = serde_json::Value::String(pos_name.to_owned());
        }
    }
    data
}

/// `GET /ui/payments/{id}`.
pub async fn detail(
    State(state): State<AppState>,
    ctx: Ctx,
    Path(id): Path<String>,
    Query(q): Query<DoneQuery>,
) -> Result<Markup, UiError> {
    ctx.require(Perm::ViewPayments)?;
    let t = ctx.t();
    let message = q.done.as_deref().map(|done| {
        let text = match done {
            "scheduled" => t.refund_scheduled,
            "withdrawn" => t.refund_withdrawn,
            _ => t.operation_done,
        };
        ("ok", text.to_owned())
    });
    detail_page(&state, &ctx, &id, message).await
}

/// `?done=1` after an action.
#[derive(Deserialize)]
pub struct DoneQuery {
    done: Option<String>,
}

/// A cancel, refund or reverse form.
#[derive(Deserialize)]
pub struct ActionForm {
    #[serde(default)]
    confirm: Option<String>,
    #[serde(default)]
    amount: String,
}

enum Action {
    Capture,
    Release,
    Cancel,
    Refund,
    Reverse,
    /// Withdraw the scheduled refund with this id.
    Withdraw(String),
}

async fn act(
    state: AppState,
    ctx: Ctx,
    id: String,
    form: ActionForm,
    action: Action,
) -> Result<Response, UiError> {
    ctx.require(Perm::Reverse)?;
    let t = ctx.t();
    let service = &state.service;
    // The payment must be the company's before anything else (another's is a 404).
    service
        .get_payment(ctx.company_id(), &id)
        .await
        .map_err(|e| ctx.fail(e))?;
    let failed = |text: String| async {
        let page = detail_page(&state, &ctx, &id, Some(("error", text))).await?;
        Ok::<Response, UiError>((StatusCode::UNPROCESSABLE_ENTITY, page).into_response())
    };
    if form.confirm.is_none() {
        return failed(t.confirm_required.to_owned()).await;
    }
    let done = match action {
        Action::Capture => {
            let Some(amount) = parse_amount(ctx.lang, &form.amount).filter(|a| a.minor() > 0)
            else {
                return failed(t.amount_invalid.to_owned()).await;
            };
            service
                .capture_payment(&ctx.actor(), ctx.company_id(), &id, Some(amount))
                .await
                .map(|_| "1")
        }
        Action::Release => service
            .release_payment(&ctx.actor(), ctx.company_id(), &id)
            .await
            .map(|_| "1"),
        Action::Cancel => service
            .cancel_payment(&ctx.actor(), ctx.company_id(), &id)
            .await
            .map(|_| "1"),
        Action::Reverse => service
            .reverse_payment(&ctx.actor(), ctx.company_id(), &id)
            .await
            .map(|_| "1"),
        Action::Refund => {
            let Some(amount) = parse_amount(ctx.lang, &form.amount).filter(|a| a.minor() > 0)
            else {
                return failed(t.amount_invalid.to_owned()).await;
            };
            service
                .request_refund(&ctx.actor(), ctx.company_id(), &id, amount)
                .await
                .map(|a| {
                    if a.refund.status == RefundStatus::Scheduled {
                        "scheduled"
                    } else {
                        "1"
                    }
                })
        }
        Action::Withdraw(refund_id) => service
            .withdraw_refund(&ctx.actor(), ctx.company_id(), &id, &refund_id)
            .await
            .map(|_| "withdrawn"),
    };
    match done {
        Ok(done) => Ok(Redirect::to(&format!("/ui/payments/{id}?done={done}")).into_response()),
        Err(ServiceError::Storage(e)) => {
            tracing::error!(error = %e, "back office reversal failed");
            Err(UiError::Internal(ctx.lang))
        }
        Err(e) => {
            let text = reversal_error(&state, &ctx, &id, &e).await;
            failed(text).await
        }
    }
}

/// Why a cancel or refund did not happen, in the user's language (the bank's own
/// reason when it refused).
async fn reversal_error(state: &AppState, ctx: &Ctx, id: &str, e: &ServiceError) -> String {
    let t = ctx.t();
    match e {
        ServiceError::Conflict { code, .. } => match *code {
            "capture_declined" | "release_declined" => {
                let reason = state
                    .service
                    .get_payment(ctx.company_id(), id)
                    .await
                    .ok()
                    .and_then(|d| {
                        d.attempts
                            .iter()
                            .rev()
                            .find(|a| {
                                matches!(a.operation, Operation::Capture | Operation::Release)
                            })
                            .and_then(|a| a.message.clone())
                    })
                    .unwrap_or_default();
                format!("{}: {reason}", t.rev_declined)
            }
            "not_authorized" => t.rev_not_authorized.into(),
            "cancel_declined" | "refund_declined" => {
                let reason = state
                    .service
                    .get_payment(ctx.company_id(), id)
                    .await
                    .ok()
                    .and_then(|d| d.refunds.last().and_then(|r| r.message.clone()))
                    .map(|m| if ctx.lang == Lang::Tr { m.tr } else { m.en })
                    .unwrap_or_default();
                format!("{}: {reason}", t.rev_declined)
            }
            "cancel_not_possible" => t.rev_cancel_not_possible.into(),
            "not_cancellable" => t.rev_not_cancellable.into(),
            "not_refundable" => t.rev_not_refundable.into(),
            "refund_exceeds_captured" => t.rev_exceeds.into(),
            "payment_in_progress" => t.rev_in_progress.into(),
            "not_withdrawable" => t.rev_not_withdrawable.into(),
            _ => e.to_string(),
        },
        ServiceError::Provider { .. } => t.rev_provider_failed.into(),
        ServiceError::Validation { field, message } if field == "amount" => {
            format!("{} ({message})", t.amount_invalid)
        }
        other => other.to_string(),
    }
}

/// `POST /ui/payments/{id}/capture`: captures all or part of a pre-authorisation.
pub async fn capture(
    State(state): State<AppState>,
    ctx: Ctx,
    Path(id): Path<String>,
    Form(form): Form<ActionForm>,
) -> Result<Response, UiError> {
    act(state, ctx, id, form, Action::Capture).await
}

/// `POST /ui/payments/{id}/release`: releases a pre-authorisation.
pub async fn release(
    State(state): State<AppState>,
    ctx: Ctx,
    Path(id): Path<String>,
    Form(form): Form<ActionForm>,
) -> Result<Response, UiError> {
    act(state, ctx, id, form, Action::Release).await
}

/// `POST /ui/payments/{id}/cancel`.
pub async fn cancel(
    State(state): State<AppState>,
    ctx: Ctx,
    Path(id): Path<String>,
    Form(form): Form<ActionForm>,
) -> Result<Response, UiError> {
    act(state, ctx, id, form, Action::Cancel).await
}

/// `POST /ui/payments/{id}/refund`.
pub async fn refund(
    State(state): State<AppState>,
    ctx: Ctx,
    Path(id): Path<String>,
    Form(form): Form<ActionForm>,
) -> Result<Response, UiError> {
    act(state, ctx, id, form, Action::Refund).await
}

/// `POST /ui/payments/{id}/refunds/{refund_id}/withdraw`: withdraws a scheduled refund.
pub async fn withdraw(
    State(state): State<AppState>,
    ctx: Ctx,
    Path((id, refund_id)): Path<(String, String)>,
    Form(form): Form<ActionForm>,
) -> Result<Response, UiError> {
    act(state, ctx, id, form, Action::Withdraw(refund_id)).await
}

/// `POST /ui/payments/{id}/reverse`.
pub async fn reverse(
    State(state): State<AppState>,
    ctx: Ctx,
    Path(id): Path<String>,
    Form(form): Form<ActionForm>,
) -> Result<Response, UiError> {
    act(state, ctx, id, form, Action::Reverse).await
}
