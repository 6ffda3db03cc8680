//! Payment links ("Finans Ödeme"): a checkout session for a customer account, made
//! here and sent by the company by e-mail or SMS. The customer opens the hosted page,
//! types an amount within the limits and pays with 3D Secure.
//!
//! The form posts, then redirects to the link's own page (so a reload does not make a
//! second link), which shows the address to send, sends it by e-mail, and later shows
//! the payment made with it. The list has the payment list's filters and keyset paging.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use maud::{html, Markup};
use serde::Deserialize;

use sanalpos_core::Lang;
use sanalpos_core::{Currency, Kurus};
use sanalpos_service::{
    CheckoutSessionView, LinkFilter, LinkPage, NewCheckoutSession, ServiceError, SessionPurpose,
    LINK_STATUSES,
};

use super::format::{money, parse_amount, when};
use super::i18n::Texts;
use super::layout::{csrf, notice, page, Nav};
use super::listing::{day_range, opt, paging, query_string};
use super::session::{Ctx, Perm, UiError};
use crate::mail::{send_link, SendError, MAX_NOTE};
use crate::AppState;

/// Links on one page of the list.
const PAGE: u32 = 50;
/// Characters of a description the list shows (the link's page shows all of it).
const DESCRIPTION_SHOWN: usize = 60;
/// Default life of a link, in days.
const DEFAULT_DAYS: u64 = 7;
/// Longest life of a link, in days (the service's limit).
const MAX_DAYS: u64 = 90;

/// The form's fields, kept as typed when it is shown again.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct LinkForm {
    #[serde(default)]
    customer_ref: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    min_amount: String,
    #[serde(default)]
    max_amount: String,
    #[serde(default)]
    max_installments: String,
    #[serde(default)]
    language: String,
    #[serde(default)]
    days: String,
}

fn status_label(t: &Texts, status: &str) -> &'static str {
    match status {
        "open" => t.link_open,
        "completed" => t.link_paid,
        "locked" => t.st_link_locked,
        _ => t.st_expired,
    }
}

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
    q: String,
    #[serde(default)]
    min_amount: String,
    #[serde(default)]
    max_amount: String,
    #[serde(default)]
    cursor: String,
}

impl ListQuery {
    /// The service filter; `Err` names the field that is not understood.
    fn filter(&self, lang: Lang) -> Result<LinkFilter, &'static str> {
        let (from, to) = day_range(&self.from, &self.to)?;
        let status = opt(&self.status);
        if status
            .as_deref()
            .is_some_and(|s| !LINK_STATUSES.contains(&s))
        {
            return Err("status");
        }
        let amount = |text: &str, field| match opt(text) {
            Some(t) => parse_amount(lang, &t).map(Some).ok_or(field),
            None => Ok(None),
        };
        Ok(LinkFilter {
            from,
            to,
            status,
            text: opt(&self.q),
            min_amount: amount(&self.min_amount, "min_amount")?,
            max_amount: amount(&self.max_amount, "max_amount")?,
            limit: Some(PAGE),
            cursor: opt(&self.cursor),
        })
    }

    /// The query string of these filters (without the cursor).
    fn query_string(&self) -> String {
        query_string(&[
            ("from", &self.from),
            ("to", &self.to),
            ("status", &self.status),
            ("q", &self.q),
            ("min_amount", &self.min_amount),
            ("max_amount", &self.max_amount),
        ])
    }
}

/// A description cut to what a list cell holds.
fn short(text: &str) -> String {
    if text.chars().count() <= DESCRIPTION_SHOWN {
        return text.to_owned();
    }
    let mut out: String = text.chars().take(DESCRIPTION_SHOWN - 1).collect();
    out.push('…');
    out
}

fn limits(ctx: &Ctx, s: &CheckoutSessionView) -> String {
    let show = |k: Option<Kurus>| {
        k.map(|k| money(ctx.lang, k, s.currency))
            .unwrap_or_default()
    };
    format!("{} – {}", show(s.min_amount), show(s.max_amount))
}

fn filter_form(ctx: &Ctx, q: &ListQuery) -> Markup {
    let t = ctx.t();
    html! {
        form #link-filters.filters method="get" action="/ui/links" {
            label { (t.date_from) input #lf-from type="date" name="from" value=(q.from); }
            label { (t.date_to) input #lf-to type="date" name="to" value=(q.to); }
            label { (t.status)
                select #lf-status name="status" {
                    option value="" { (t.all) }
                    @for s in LINK_STATUSES { option value=(s) selected[q.status == *s] { (status_label(t, s)) } }
                }
            }
            label { (t.link_filter_text) input #lf-text name="q" value=(q.q) size="24" maxlength="100"; }
            label { (t.min_amount) input #lf-min name="min_amount" value=(q.min_amount) size="10" inputmode="decimal"; }
            label { (t.max_amount) input #lf-max name="max_amount" value=(q.max_amount) size="10" inputmode="decimal"; }
            button #lf-search type="submit" { (t.search) }
            a href="/ui/links" { (t.clear) }
        }
    }
}

/// The list of links (filtered, one page) and its paging links; or the filter
/// error.
fn links_table(ctx: &Ctx, q: &ListQuery, found: &Result<LinkPage, String>) -> Markup {
    let t = ctx.t();
    let found = match found {
        Ok(found) => found,
        Err(text) => return notice("error", text),
    };
    html! {
        div.table-wrap {
            table #links.dense {
                thead { tr {
                    th { (t.created_at) } th { (t.customer_ref) } th { (t.description) }
                    th.num { (t.link_limits) } th { (t.status) } th { (t.link_expires) } th { (t.payment) }
                } }
                tbody {
                    @for s in &found.items {
                        tr data-id=(s.id) data-status=(s.status) {
                            td { a href=(format!("/ui/links/{}", s.id)) { (when(ctx.lang, &s.created_at)) } }
                            td { (s.customer_ref.as_deref().unwrap_or("")) }
                            td.link-description title=(s.description.as_deref().unwrap_or("")) { (short(s.description.as_deref().unwrap_or(""))) }
                            td.num { (limits(ctx, s)) }
                            td { span class=(format!("badge {}", s.status)) { (status_label(t, s.status)) } }
                            td { (when(ctx.lang, &s.expires_at)) }
                            td { @if let Some(p) = &s.payment_id {
                                @if ctx.can(Perm::ViewPayments) { a.mono href=(format!("/ui/payments/{p}")) { (p) } } @else { span.mono { (p) } }
                            } }
                        }
                    }
                    @if found.items.is_empty() { tr { td colspan="7" { (t.no_data) } } }
                }
            }
        }
        (paging(t, "/ui/links", &q.query_string(), !q.cursor.is_empty(), found.next_cursor.as_deref()))
    }
}

fn list_page(
    ctx: &Ctx,
    q: &ListQuery,
    found: &Result<LinkPage, String>,
    form: &LinkForm,
    message: Option<&str>,
) -> Markup {
    let t = ctx.t();
    let installments = form.max_installments.parse::<u8>().unwrap_or(12);
    let language = if form.language.is_empty() {
        ctx.lang.as_str()
    } else {
        form.language.as_str()
    };
    let days = if form.days.is_empty() {
        DEFAULT_DAYS.to_string()
    } else {
        form.days.clone()
    };
    page(
        ctx,
        t.nav_links,
        Nav::Links,
        html! {
            p.muted { (t.link_help) }
            @if let Some(text) = message { (notice("error", text)) }
            h2 { (t.link_new) }
            form #link-form.grid method="post" action="/ui/links" autocomplete="off" {
                (csrf(ctx))
                label { (t.customer_ref) input #link-customer name="customer_ref" required maxlength="100" value=(form.customer_ref); }
                label { (t.description) input #link-description name="description" maxlength="500" value=(form.description); }
                label { (t.min_amount) input #link-min name="min_amount" inputmode="decimal" value=(form.min_amount); }
                label { (t.max_amount) input #link-max name="max_amount" inputmode="decimal" required value=(form.max_amount); }
                label { (t.link_max_installments)
                    select #link-installments name="max_installments" {
                        @for n in 1..=12u8 { option value=(n) selected[n == installments] { (n) } }
                    }
                }
                label { (t.link_language)
                    select #link-language name="language" {
                        option value="tr" selected[language == "tr"] { "Türkçe" }
                        option value="en" selected[language == "en"] { "English" }
                    }
                }
                label { (t.link_days) input #link-days name="days" type="number" min="1" max=(MAX_DAYS) required value=(days); }
                button #link-submit type="submit" { (t.link_create) }
            }
            h2 { (t.link_list) }
            (filter_form(ctx, q))
            (links_table(ctx, q, found))
        },
    )
}

/// A page of the company's links for `q`; a filter the user typed wrong is a message
/// for the page, not a failure.
async fn links_of(
    state: &AppState,
    ctx: &Ctx,
    q: &ListQuery,
) -> Result<Result<LinkPage, String>, UiError> {
    let t = ctx.t();
    let filter = match q.filter(ctx.lang) {
        Ok(f) => f,
        Err(field) => return Ok(Err(format!("{}: {field}", t.filter_invalid))),
    };
    match state
        .service
        .list_payment_links(ctx.company_id(), &filter)
        .await
    {
        Ok(page) => Ok(Ok(page)),
        Err(ServiceError::Validation { field, .. }) => {
            Ok(Err(format!("{}: {field}", t.filter_invalid)))
        }
        Err(e) => Err(ctx.fail(e)),
    }
}

/// `GET /ui/links`: the company's payment links (filtered, paged) and the form for a
/// new one.
pub async fn list(
    State(state): State<AppState>,
    ctx: Ctx,
    Query(q): Query<ListQuery>,
) -> Result<Response, UiError> {
    ctx.require(Perm::Collect)?;
    let found = links_of(&state, &ctx, &q).await?;
    let status = if found.is_ok() {
        StatusCode::OK
    } else {
        StatusCode::BAD_REQUEST
    };
    Ok((
        status,
        list_page(&ctx, &q, &found, &LinkForm::default(), None),
    )
        .into_response())
}

/// Reads the form into a session request, or says what is wrong in the user's words.
fn request_of(ctx: &Ctx, form: &LinkForm) -> Result<NewCheckoutSession, &'static str> {
    let t = ctx.t();
    let customer_ref = form.customer_ref.trim();
    if customer_ref.is_empty() {
        return Err(t.link_customer_required);
    }
    let amount = |text: &str| -> Result<Option<Kurus>, &'static str> {
        if text.trim().is_empty() {
            return Ok(None);
        }
        parse_amount(ctx.lang, text)
            .filter(|a| a.minor() > 0)
            .map(Some)
            .ok_or(t.amount_invalid)
    };
    let min_amount = amount(&form.min_amount)?;
    let max_amount = amount(&form.max_amount)?.ok_or(t.amount_invalid)?;
    if min_amount.is_some_and(|min| min > max_amount) {
        return Err(t.link_limits_invalid);
    }
    let days: u64 = form
        .days
        .trim()
        .parse()
        .ok()
        .filter(|d| (1..=MAX_DAYS).contains(d))
        .ok_or(t.link_days_invalid)?;
    let max_installments = form
        .max_installments
        .trim()
        .parse::<u8>()
        .ok()
        .filter(|n| (1..=12).contains(n))
        .ok_or(t.err_field)?;
    let language = match form.language.as_str() {
        "tr" | "en" => form.language.clone(),
        _ => return Err(t.err_field),
    };
    Ok(NewCheckoutSession {
        purpose: SessionPurpose::Account.as_str().to_owned(),
        min_amount,
        max_amount: Some(max_amount),
        currency: Some(Currency::Try),
        customer_ref: Some(customer_ref.to_owned()),
        description: Some(form.description.clone()),
        max_installments: Some(max_installments),
        language: Some(language),
        expires_in: Some(days * 24 * 3600),
        ..NewCheckoutSession::default()
    })
}

/// `POST /ui/links`: makes the link, then shows it on its own page.
pub async fn create(
    State(state): State<AppState>,
    ctx: Ctx,
    Form(form): Form<LinkForm>,
) -> Result<Response, UiError> {
    ctx.require(Perm::Collect)?;
    let q = ListQuery::default();
    let refused = |message: String, found: Result<LinkPage, String>| {
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            list_page(&ctx, &q, &found, &form, Some(&message)),
        )
            .into_response()
    };
    let request = match request_of(&ctx, &form) {
        Ok(r) => r,
        Err(text) => return Ok(refused(text.to_owned(), links_of(&state, &ctx, &q).await?)),
    };
    match state
        .service
        .create_checkout_session(&ctx.actor(), request)
        .await
    {
        Ok(link) => Ok(Redirect::to(&format!("/ui/links/{}", link.id)).into_response()),
        Err(ServiceError::Validation { field, message }) => {
            let text = format!("{} ({field}): {message}", ctx.t().err_field);
            Ok(refused(text, links_of(&state, &ctx, &q).await?))
        }
        Err(e) => Err(ctx.fail(e)),
    }
}

/// The send form's fields, kept as typed when the page is shown again.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct SendForm {
    #[serde(default)]
    email: String,
    #[serde(default)]
    note: String,
}

/// `?sent=1` after a sending.
#[derive(Debug, Default, Deserialize)]
pub struct SentQuery {
    sent: Option<String>,
    #[serde(default)]
    reopened: Option<String>,
}

async fn detail_page(
    state: &AppState,
    ctx: &Ctx,
    id: &str,
    form: &SendForm,
    message: Option<(&str, String)>,
) -> Result<Markup, UiError> {
    let t = ctx.t();
    let link = state
        .service
        .get_payment_link(ctx.company_id(), id)
        .await
        .map_err(|e| ctx.fail(e))?;
    let sends: Vec<_> = state
        .service
        .payment_link_audit(ctx.company_id(), id)
        .await
        .map_err(|e| ctx.fail(e))?
        .into_iter()
        .filter(|e| {
            e.action.starts_with("payment_link.")
                || e.action == "checkout_session.locked"
                || e.action == "checkout_session.reopened"
        })
        .collect();
    let language = match link.language.as_str() {
        "en" => "English",
        _ => "Türkçe",
    };
    Ok(page(
        ctx,
        t.link_title,
        Nav::Links,
        html! {
            @if let Some((kind, text)) = &message { (notice(kind, text)) }
            @if link.status == "open" {
                div.notice.ok #link-box {
                    p { (t.link_send_hint) }
                    input #link-url.wide type="text" readonly value=(link.url);
                }
            } @else if link.status == "locked" {
                div.notice.error #link-box {
                    p #link-locked { (t.link_locked) }
                    @if ctx.can(Perm::Reverse) {
                        form #link-reopen.inline method="post" action=(format!("/ui/links/{}/reopen", link.id)) {
                            (csrf(ctx))
                            p { (t.link_reopen_confirm) }
                            label.check { input #reopen-confirm type="checkbox" name="confirm"; (t.confirm_box) }
                            button #reopen-submit type="submit" { (t.link_reopen) }
                        }
                    }
                }
            } @else {
                div.notice #link-box { (status_label(t, link.status)) }
            }
            table.kv #link-facts data-status=(link.status) {
                tr { th { (t.customer_ref) } td { (link.customer_ref.as_deref().unwrap_or("")) } }
                tr { th { (t.description) } td #link-desc { (link.description.as_deref().unwrap_or(t.none)) } }
                tr { th { (t.link_limits) } td { (limits(ctx, &link)) } }
                tr { th { (t.link_language) } td { (language) } }
                tr { th { (t.status) } td #link-status { (status_label(t, link.status)) } }
                tr { th { (t.created_at) } td { (when(ctx.lang, &link.created_at)) } }
                tr { th { (t.link_expires) } td { (when(ctx.lang, &link.expires_at)) } }
                tr { th { (t.payment) } td {
                    @match &link.payment_id {
                        Some(p) if ctx.can(Perm::ViewPayments) => a #link-payment.mono href=(format!("/ui/payments/{p}")) { (p) },
                        Some(p) => span.mono { (p) },
                        None => (t.none),
                    }
                } }
            }
            @if link.status == "open" {
                h2 { (t.link_send_title) }
                form #link-send.grid method="post" action=(format!("/ui/links/{}/send", link.id)) autocomplete="off" {
                    (csrf(ctx))
                    label { (t.link_send_email) input #send-email name="email" type="email" required maxlength="254" value=(form.email); }
                    label { (t.link_send_note) textarea #send-note name="note" rows="3" maxlength=(MAX_NOTE) { (form.note) } }
                    button #send-submit type="submit" { (t.link_send_submit) }
                }
            }
            @if !sends.is_empty() {
                h2 { (t.link_sends) }
                table #link-sends.dense {
                    thead { tr { th { (t.date_time) } th { (t.event_kind) } th { (t.actor) } th { (t.details) } } }
                    tbody {
                        @for e in &sends {
                            tr data-kind=(e.action) {
                                td { (when(ctx.lang, &e.at)) } td { (e.action) } td { (e.actor) }
                                td.event-data-cell { (super::event_details::details(ctx.lang, &e.details, link.currency)) }
                            }
                        }
                    }
                }
            }
            p { a href="/ui/links" { (t.back) } }
        },
    ))
}

/// `GET /ui/links/{id}`: one link, its address to send, the e-mail form, and its
/// payment.
pub async fn detail(
    State(state): State<AppState>,
    ctx: Ctx,
    Path(id): Path<String>,
    Query(q): Query<SentQuery>,
) -> Result<Markup, UiError> {
    ctx.require(Perm::Collect)?;
    let message = if q.reopened.is_some() {
        Some(("ok", ctx.t().link_reopened.to_owned()))
    } else {
        q.sent
            .is_some()
            .then(|| ("ok", ctx.t().link_sent.to_owned()))
    };
    detail_page(&state, &ctx, &id, &SendForm::default(), message).await
}

/// The reopen form: its confirmation box.
#[derive(Debug, Default, Deserialize)]
pub struct ReopenForm {
    confirm: Option<String>,
}

/// `POST /ui/links/{id}/reopen`: reopens a link locked after too many unsuccessful
/// attempts (resets its count), behind the confirmation box; audited.
pub async fn reopen(
    State(state): State<AppState>,
    ctx: Ctx,
    Path(id): Path<String>,
    Form(form): Form<ReopenForm>,
) -> Result<Response, UiError> {
    ctx.require(Perm::Reverse)?;
    let t = ctx.t();
    if form.confirm.is_none() {
        let page = detail_page(
            &state,
            &ctx,
            &id,
            &SendForm::default(),
            Some(("error", t.confirm_required.to_owned())),
        )
        .await?;
        return Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response());
    }
    // Only a link of this company (the service checks the owner).
    state
        .service
        .get_payment_link(ctx.company_id(), &id)
        .await
        .map_err(|e| ctx.fail(e))?;
    state
        .service
        .reopen_checkout_session(&ctx.actor(), &id)
        .await
        .map_err(|e| ctx.fail(e))?;
    Ok(Redirect::to(&format!("/ui/links/{id}?reopened=1")).into_response())
}

/// `POST /ui/links/{id}/send`: e-mails the link; on success back to its page, which
/// lists the sendings; otherwise the page again with the reason and the form as typed.
pub async fn send(
    State(state): State<AppState>,
    ctx: Ctx,
    Path(id): Path<String>,
    Form(form): Form<SendForm>,
) -> Result<Response, UiError> {
    ctx.require(Perm::Collect)?;
    let t = ctx.t();
    let (status, text) = match send_link(&state, &ctx.actor(), &id, &form.email, &form.note).await {
        Ok(_) => return Ok(Redirect::to(&format!("/ui/links/{id}?sent=1")).into_response()),
        Err(SendError::NotConfigured) => (
            StatusCode::SERVICE_UNAVAILABLE,
            t.link_send_not_configured.to_owned(),
        ),
        Err(SendError::BadRecipient) => (
            StatusCode::UNPROCESSABLE_ENTITY,
            t.link_send_bad_email.to_owned(),
        ),
        Err(SendError::BadNote) => (
            StatusCode::UNPROCESSABLE_ENTITY,
            t.link_send_bad_note.to_owned(),
        ),
        Err(SendError::Refused(reason)) => (
            StatusCode::BAD_GATEWAY,
            format!("{} {reason}", t.link_send_refused),
        ),
        Err(SendError::Service(ServiceError::Conflict { .. })) => {
            (StatusCode::CONFLICT, t.link_send_not_open.to_owned())
        }
        Err(SendError::Service(e)) => return Err(ctx.fail(e)),
    };
    let page = detail_page(&state, &ctx, &id, &form, Some(("error", text))).await?;
    Ok((status, page).into_response())
}
