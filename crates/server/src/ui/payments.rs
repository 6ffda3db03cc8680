//! Kredi Kartı Tahsilatları: the company's payments with filters and keyset paging, a
//! payment's detail (attempt timeline, refunds, audit events), and cancel / refund /
//! reverse behind a confirmation.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use maud::{html, Markup};
use serde::Deserialize;

use sanalpos_core::Lang;
use sanalpos_service::{PaymentFilter, PaymentStatus, PosView};

use super::format::{day, money, parse_amount, when};
use super::layout::{csrf, notice, page, Nav};
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
    cursor: String,
}

fn opt(text: &str) -> Option<String> {
    let text = text.trim();
    (!text.is_empty()).then(|| text.to_owned())
}

/// The start of an Istanbul day, in UTC.
fn istanbul_midnight(d: NaiveDate) -> Option<DateTime<Utc>> {
    sanalpos_core::lang::istanbul()
        .from_local_datetime(&d.and_hms_opt(0, 0, 0)?)
        .single()
        .map(|t| t.with_timezone(&Utc))
}

fn parse_day(text: &str) -> Result<Option<NaiveDate>, ()> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(None);
    }
    NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .or_else(|_| NaiveDate::parse_from_str(text, "%d.%m.%Y"))
        .map(Some)
        .map_err(|_| ())
}

impl ListQuery {
    /// The service filter; `Err` names the field that is not understood.
    fn filter(&self, limit: u32) -> Result<PaymentFilter, &'static str> {
        let from = parse_day(&self.from).map_err(|_| "from")?;
        let to = parse_day(&self.to).map_err(|_| "to")?;
        let status = match opt(&self.status) {
            Some(s) => Some(PaymentStatus::parse(&s).ok_or("status")?),
            None => None,
        };
        Ok(PaymentFilter {
            from: from.and_then(istanbul_midnight),
            to: to.and_then(|d| d.succ_opt()).and_then(istanbul_midnight),
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
        ];
        serde_urlencoded::to_string(
            pairs
                .iter()
                .filter(|(_, v)| !v.trim().is_empty())
                .collect::<Vec<_>>(),
        )
        .unwrap_or_default()
    }
}

const STATUSES: &[PaymentStatus] = &[
    PaymentStatus::Approved,
    PaymentStatus::Declined,
    PaymentStatus::Failed,
    PaymentStatus::Pending3ds,
    PaymentStatus::Processing,
    PaymentStatus::Unknown,
    PaymentStatus::Cancelled,
    PaymentStatus::PartiallyRefunded,
    PaymentStatus::Refunded,
    PaymentStatus::Expired,
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
    let filter = match q.filter(PAGE) {
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
            }
        }
        p.paging {
            @if !q.cursor.is_empty() { a #first-page href=(format!("/ui/payments?{qs}")) { (t.first_page) } " " }
            @if let Some(next) = &found.next_cursor {
                a #next-page href=(format!("/ui/payments?{qs}&{}", serde_urlencoded::to_string([("cursor", next)]).unwrap_or_default())) { (t.next_page) }
            }
        }
    };
    Ok(page(&ctx, t.nav_payments, Nav::Payments, body).into_response())
}

/// `GET /ui/payments/export`: the filtered list as CSV or XLSX.
pub async fn export(ctx: Ctx) -> Result<Response, UiError> {
    ctx.require(Perm::ViewPayments)?;
    Err(UiError::NotFound(ctx.lang))
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
    let events = state
        .service
        .store()
        .list_audit(ctx.company_id(), 1000)
        .await
        .map_err(|e| {
            tracing::error!(error = %e, "audit list failed");
            UiError::Internal(ctx.lang)
        })?
        .into_iter()
        .filter(|e| e.subject_id == p.id)
        .collect::<Vec<_>>();
    let reason = p.message.as_ref().map(|m| match ctx.lang {
        Lang::Tr => m.tr.clone(),
        Lang::En => m.en.clone(),
    });
    let reversible = matches!(
        p.status,
        PaymentStatus::Approved | PaymentStatus::PartiallyRefunded
    );
    let remaining = p
        .authorized_amount
        .unwrap_or(p.amount)
        .checked_sub(p.refunded_amount)
        .unwrap_or_default();
    Ok(page(
        ctx,
        t.detail_title,
        Nav::Payments,
        html! {
            @if let Some((kind, text)) = &message { (notice(kind, text)) }
            table.kv #payment-detail {
                tr { th { "ID" } td #payment-id { (p.id) } }
                tr { th { (t.status) } td #detail-status data-status=(p.status.as_str()) { (t.status(p.status)) } }
                tr { th { (t.amount) } td { (money(ctx.lang, p.amount, p.currency)) } }
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
            @if reversible && ctx.can(Perm::Reverse) {
                section.actions {
                    h2 { (t.actions) }
                    form #refund-form.inline method="post" action=(format!("/ui/payments/{}/refund", p.id)) {
                        (csrf(ctx))
                        label { (t.refund_amount) input #refund-amount name="amount" inputmode="decimal" required value=(ctx.lang.amount(remaining)); }
                        label.check { input #refund-confirm type="checkbox" name="confirm"; (t.confirm_box) }
                        button #refund-submit type="submit" { (t.refund_payment) }
                    }
                    form #cancel-form.inline method="post" action=(format!("/ui/payments/{}/cancel", p.id)) {
                        (csrf(ctx))
                        label.check { input #cancel-confirm type="checkbox" name="confirm"; (t.confirm_box) }
                        button #cancel-submit type="submit" { (t.cancel_payment) }
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
                            td { (a.operation.as_str()) }
                            td { (a.outcome.map(|o| o.as_str()).unwrap_or(a.state.as_str())) }
                            td { (a.bank_code.as_deref().unwrap_or("")) }
                            td { (a.message.as_deref().unwrap_or("")) }
                            td.num { (money(ctx.lang, a.amount, p.currency)) }
                            td.num { (a.latency_ms.map(|l| l.to_string()).unwrap_or_default()) }
                        }
                    }
                }
            }
            h2 { (t.refunds) }
            table #refunds.dense {
                thead { tr { th { (t.date_time) } th { (t.kind) } th.num { (t.amount) } th { (t.status) } th { (t.provider_ref) } th { (t.reason) } } }
                tbody {
                    @for r in &detail.refunds {
                        tr data-status=(r.status.as_str()) {
                            td { (when(ctx.lang, &r.created_at)) }
                            td { (t.refund_kind(r.kind)) }
                            td.num { (money(ctx.lang, r.amount, p.currency)) }
                            td { (t.refund_status(r.status)) }
                            td { (r.provider_ref.as_deref().unwrap_or("")) }
                            td { (r.message.as_ref().map(|m| if ctx.lang == Lang::Tr { m.tr.clone() } else { m.en.clone() }).unwrap_or_default()) }
                        }
                    }
                    @if detail.refunds.is_empty() { tr { td colspan="6" { (t.no_data) } } }
                }
            }
            h2 { (t.audit_events) }
            table #audit.dense {
                thead { tr { th { (t.date_time) } th { (t.event_kind) } th { (t.actor) } th { (t.details) } } }
                tbody {
                    @for e in &events {
                        tr { td { (ctx.lang.datetime(e.created_at)) } td { (e.kind) } td { (e.actor) } td.mono { (e.data) } }
                    }
                }
            }
        },
    ))
}

/// `GET /ui/payments/{id}`.
pub async fn detail(
    State(state): State<AppState>,
    ctx: Ctx,
    Path(id): Path<String>,
    Query(q): Query<DoneQuery>,
) -> Result<Markup, UiError> {
    ctx.require(Perm::ViewPayments)?;
    let message = q
        .done
        .is_some()
        .then(|| ("ok", ctx.t().operation_done.to_owned()));
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
    Cancel,
    Refund,
    Reverse,
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
        Action::Cancel => {
            service
                .cancel_payment(&ctx.actor(), ctx.company_id(), &id)
                .await
        }
        Action::Reverse => {
            service
                .reverse_payment(&ctx.actor(), ctx.company_id(), &id)
                .await
        }
        Action::Refund => {
            let Some(amount) = parse_amount(ctx.lang, &form.amount).filter(|a| a.minor() > 0)
            else {
                return failed(t.amount_invalid.to_owned()).await;
            };
            service
                .refund_payment(&ctx.actor(), ctx.company_id(), &id, amount)
                .await
        }
    };
    match done {
        Ok(_) => Ok(Redirect::to(&format!("/ui/payments/{id}?done=1")).into_response()),
        Err(sanalpos_service::ServiceError::Storage(e)) => {
            tracing::error!(error = %e, "back office reversal failed");
            Err(UiError::Internal(ctx.lang))
        }
        Err(e) => failed(e.to_string()).await,
    }
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

/// `POST /ui/payments/{id}/reverse`.
pub async fn reverse(
    State(state): State<AppState>,
    ctx: Ctx,
    Path(id): Path<String>,
    Form(form): Form<ActionForm>,
) -> Result<Response, UiError> {
    act(state, ctx, id, form, Action::Reverse).await
}
