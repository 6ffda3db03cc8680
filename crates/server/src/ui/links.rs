//! Payment links ("Finans Ödeme"): a checkout session for a customer account, made
//! here and sent by the company by e-mail or SMS. The customer opens the hosted page,
//! types an amount within the limits and pays with 3D Secure.
//!
//! The form posts, then redirects to the link's own page (so a reload does not make a
//! second link), which shows the address to send and, later, the payment made with it.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use maud::{html, Markup};
use serde::Deserialize;

use sanalpos_core::{Currency, Kurus};
use sanalpos_service::{CheckoutSessionView, NewCheckoutSession, ServiceError, SessionPurpose};

use super::format::{money, parse_amount, when};
use super::i18n::Texts;
use super::layout::{csrf, notice, page, Nav};
use super::session::{Ctx, Perm, UiError};
use crate::AppState;

/// Links listed on the page.
const LIST_LIMIT: u32 = 100;
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
        _ => t.st_expired,
    }
}

fn limits(ctx: &Ctx, s: &CheckoutSessionView) -> String {
    let show = |k: Option<Kurus>| {
        k.map(|k| money(ctx.lang, k, s.currency))
            .unwrap_or_default()
    };
    format!("{} – {}", show(s.min_amount), show(s.max_amount))
}

fn list_page(
    ctx: &Ctx,
    links: &[CheckoutSessionView],
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
            @if links.is_empty() {
                p.muted { (t.no_data) }
            } @else {
                table #links.dense {
                    thead { tr {
                        th { (t.created_at) } th { (t.customer_ref) } th { (t.link_limits) }
                        th { (t.status) } th { (t.link_expires) } th { (t.payment) }
                    } }
                    tbody {
                        @for s in links {
                            tr data-id=(s.id) data-status=(s.status) {
                                td { a href=(format!("/ui/links/{}", s.id)) { (when(ctx.lang, &s.created_at)) } }
                                td { (s.customer_ref.as_deref().unwrap_or("")) }
                                td.num { (limits(ctx, s)) }
                                td { (status_label(t, s.status)) }
                                td { (when(ctx.lang, &s.expires_at)) }
                                td { @if let Some(p) = &s.payment_id {
                                    @if ctx.can(Perm::ViewPayments) { a.mono href=(format!("/ui/payments/{p}")) { (p) } } @else { span.mono { (p) } }
                                } }
                            }
                        }
                    }
                }
            }
        },
    )
}

async fn links_of(state: &AppState, ctx: &Ctx) -> Result<Vec<CheckoutSessionView>, UiError> {
    state
        .service
        .list_checkout_sessions(ctx.company_id(), SessionPurpose::Account, LIST_LIMIT)
        .await
        .map_err(|e| ctx.fail(e))
}

/// `GET /ui/links`: the company's payment links and the form for a new one.
pub async fn list(State(state): State<AppState>, ctx: Ctx) -> Result<Markup, UiError> {
    ctx.require(Perm::Collect)?;
    let links = links_of(&state, &ctx).await?;
    Ok(list_page(&ctx, &links, &LinkForm::default(), None))
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
    let refused = |message: String, links: Vec<CheckoutSessionView>| {
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            list_page(&ctx, &links, &form, Some(&message)),
        )
            .into_response()
    };
    let request = match request_of(&ctx, &form) {
        Ok(r) => r,
        Err(text) => return Ok(refused(text.to_owned(), links_of(&state, &ctx).await?)),
    };
    match state
        .service
        .create_checkout_session(&ctx.actor(), request)
        .await
    {
        Ok(link) => Ok(Redirect::to(&format!("/ui/links/{}", link.id)).into_response()),
        Err(ServiceError::Validation { field, message }) => {
            let text = format!("{} ({field}): {message}", ctx.t().err_field);
            Ok(refused(text, links_of(&state, &ctx).await?))
        }
        Err(e) => Err(ctx.fail(e)),
    }
}

/// `GET /ui/links/{id}`: one link, its address to send, and its payment.
pub async fn detail(
    State(state): State<AppState>,
    ctx: Ctx,
    Path(id): Path<String>,
) -> Result<Markup, UiError> {
    ctx.require(Perm::Collect)?;
    let t = ctx.t();
    let link = state
        .service
        .get_checkout_session(ctx.company_id(), &id)
        .await
        .map_err(|e| ctx.fail(e))?;
    if link.purpose != SessionPurpose::Account.as_str() {
        return Err(UiError::NotFound(ctx.lang));
    }
    Ok(page(
        &ctx,
        t.link_title,
        Nav::Links,
        html! {
            @if link.status == "open" {
                div.notice.ok #link-box {
                    p { (t.link_send_hint) }
                    input #link-url.wide type="text" readonly value=(link.url);
                }
            } @else {
                div.notice #link-box { (status_label(t, link.status)) }
            }
            table.kv #link-facts data-status=(link.status) {
                tr { th { (t.customer_ref) } td { (link.customer_ref.as_deref().unwrap_or("")) } }
                tr { th { (t.link_limits) } td { (limits(&ctx, &link)) } }
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
            p { a href="/ui/links" { (t.back) } }
        },
    ))
}
