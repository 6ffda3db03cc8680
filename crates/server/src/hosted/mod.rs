//! The hosted payment page (`/pay/{session}`): server-rendered, branded with the
//! company's name, in the session's language.
//!
//! - `GET /pay/{id}`: the amount (or an amount field within the limits), the card
//!   form and the installment options.
//! - `GET /pay/{id}/installments?bin=&amount=`: the provider's options with their
//!   totals, as the card number is typed (the page's own small JSON endpoint; no API
//!   key reaches the browser).
//! - `POST /pay/{id}`: pays through 3D Secure (the service's `/3d/{token}` round trip),
//!   whose return lands on `GET /pay/{id}/return`: the result, and the way back to the
//!   shop with the signed parameters.
//!
//! Card data is posted only here, handed to the service for the one call, and never
//! logged or rendered back.

mod text;

use std::collections::HashMap;
use std::net::SocketAddr;

use axum::extract::{ConnectInfo, Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::{Form, Json, Router};
use maud::{html, Markup, DOCTYPE};
use serde_json::json;

use sanalpos_core::Kurus;
use sanalpos_service::{
    CardInput, HostedPayment, HostedSession, PaymentStatus, PaymentView, ServiceError,
};
use sanalpos_store::{SessionPurpose, SessionStatus};

use crate::error::ApiError;
use crate::AppState;
use text::{text, Text};

/// The page's routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/pay/{id}", get(page).post(pay))
        .route("/pay/{id}/installments", get(installments))
        .route("/pay/{id}/return", get(result))
}

const STYLE: &str = "body{font-family:system-ui,sans-serif;background:#f4f5f7;margin:0;color:#1d2330}\
main{max-width:460px;margin:32px auto;background:#fff;border-radius:10px;padding:24px 28px;box-shadow:0 1px 4px #0002}\
header{border-bottom:1px solid #e3e6ea;margin-bottom:16px}header h1{font-size:20px;margin:0 0 4px}\
header p{margin:0 0 12px;color:#5a6372;font-size:13px}.amount{font-size:28px;font-weight:600;margin:8px 0 16px}\
label{display:block;font-size:13px;color:#5a6372;margin:12px 0 4px}input,select{width:100%;box-sizing:border-box;padding:9px;font-size:15px;border:1px solid #c9ced6;border-radius:6px}\
.row{display:flex;gap:10px}.row>div{flex:1}button,.button{display:inline-block;margin-top:18px;width:100%;padding:12px;font-size:16px;background:#1f6feb;color:#fff;border:0;border-radius:6px;text-align:center;text-decoration:none;box-sizing:border-box}\
.note{font-size:12px;color:#7a8291;margin-top:12px}.error{background:#fdecea;color:#8a1c12;padding:10px;border-radius:6px}\
.ok{color:#116329}.bad{color:#8a1c12}dl{display:grid;grid-template-columns:auto 1fr;gap:4px 12px}dt{color:#5a6372}\
fieldset{border:1px solid #e3e6ea;border-radius:6px;margin:12px 0 0;padding:4px 12px 10px}legend{font-size:13px;color:#5a6372}\
label.check{display:flex;align-items:center;gap:8px;color:#1d2330;font-size:14px}label.check input{width:auto;margin:0}";

/// The installment script: asks `/pay/{id}/installments` once the card's first 8
/// digits (and, for an account payment, the amount) are known.
const SCRIPT: &str = r#"(function(){
var f=document.getElementById('pay');if(!f)return;
var card=f.elements['card_number'],amt=f.elements['amount'],sel=f.elements['installments'],last='';
function load(){var d=card.value.replace(/\D/g,'');if(d.length<8)return;var a=amt?amt.value:'';var key=d.slice(0,8)+'|'+a;if(key===last)return;last=key;
fetch(f.dataset.installments+'?bin='+d.slice(0,8)+'&amount='+encodeURIComponent(a)).then(function(r){return r.ok?r.json():null}).then(function(j){
if(!j||!j.options)return;var keep=sel.value;sel.innerHTML='';j.options.forEach(function(o){var e=document.createElement('option');e.value=o.installments;
e.textContent=o.label;sel.appendChild(e)});if([].some.call(sel.options,function(o){return o.value===keep}))sel.value=keep;sel.dataset.loaded='1';});}
card.addEventListener('input',load);if(amt)amt.addEventListener('change',load);})();"#;

fn shell(t: &Text, brand: &str, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang=(t.lang) {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                meta name="robots" content="noindex";
                title { (t.title) " · " (brand) }
                style { (maud::PreEscaped(STYLE)) }
            }
            body {
                main {
                    header {
                        h1 #brand { (brand) }
                        p { (t.secure_payment) }
                    }
                    (body)
                }
            }
        }
    }
}

fn respond(status: StatusCode, markup: Markup) -> Response {
    (
        status,
        [
            (header::CACHE_CONTROL, "no-store"),
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
        ],
        markup.into_string(),
    )
        .into_response()
}

fn message_page(status: StatusCode, t: &Text, brand: &str, title: &str, line: &str) -> Response {
    respond(
        status,
        shell(t, brand, html! { h2 #message { (title) } p { (line) } }),
    )
}

fn not_found() -> Response {
    message_page(
        StatusCode::NOT_FOUND,
        &text::TR,
        "sanalpos",
        text::TR.not_found,
        text::EN.not_found_text,
    )
}

fn money(amount: Kurus, currency: &str) -> String {
    let unit = if currency == "TRY" { "TL" } else { currency };
    format!("{} {unit}", amount.format_tr())
}

fn form_page(h: &HostedSession, error: Option<&str>) -> Markup {
    let s = &h.session;
    let t = text(&s.language);
    let currency = s.currency.alpha();
    shell(
        t,
        &h.company_name,
        html! {
            @if let Some(error) = error {
                p .error #error { (error) }
            }
            @if let Some(order) = &s.order_ref { p { (t.order) ": " span #order-ref { (order) } } }
            @if let Some(customer) = &s.customer_ref { p { (t.customer) ": " span #customer-ref { (customer) } } }
            @if let Some(d) = &s.description { p { (d) } }
            form #pay method="post" action={ "/pay/" (s.id) } data-installments={ "/pay/" (s.id) "/installments" } autocomplete="on" {
                @match s.purpose {
                    SessionPurpose::Order => {
                        @let amount = s.amount.unwrap_or(Kurus::ZERO);
                        div .amount #amount-shown { (money(amount, currency)) }
                        input type="hidden" name="amount" value=(amount.to_string());
                    }
                    SessionPurpose::Account => {
                        label for="amount" {
                            (t.amount_between) " ("
                            (money(s.min_amount.unwrap_or(Kurus::ZERO), currency)) " – "
                            (money(s.max_amount.unwrap_or(Kurus::ZERO), currency)) ")"
                        }
                        input #amount name="amount" inputmode="decimal" required placeholder="0,00";
                    }
                }
                @let typed_required = h.cards.is_empty();
                @if !h.cards.is_empty() {
                    fieldset #saved-cards {
                        legend { (t.saved_cards) }
                        label .check { input #stored_card_none type="radio" name="stored_card" value="" checked; (t.new_card) }
                        @for c in &h.cards {
                            label .check {
                                input .stored-card type="radio" name="stored_card" value=(c.id);
                                (c.masked_pan) @if !c.alias.is_empty() { " · " (c.alias) }
                            }
                        }
                    }
                }
                label for="card_number" { (t.card_number) }
                input #card_number name="card_number" inputmode="numeric" autocomplete="cc-number" required[typed_required] maxlength="23";
                label for="holder" { (t.holder) }
                input #holder name="holder" autocomplete="cc-name" required[typed_required] maxlength="100";
                div .row {
                    div {
                        label for="exp_month" { (t.expiry) " (" (t.month) ")" }
                        input #exp_month name="exp_month" inputmode="numeric" autocomplete="cc-exp-month" placeholder="MM" required[typed_required] maxlength="2";
                    }
                    div {
                        label for="exp_year" { (t.year) }
                        input #exp_year name="exp_year" inputmode="numeric" autocomplete="cc-exp-year" placeholder="YYYY" required[typed_required] maxlength="4";
                    }
                    div {
                        label for="cvv" { (t.cvv) }
                        input #cvv name="cvv" inputmode="numeric" autocomplete="cc-csc" required[typed_required] maxlength="4" type="password";
                    }
                }
                label for="installments" { (t.installments) }
                select #installments name="installments" {
                    option value="1" { "1 · " (t.single) }
                }
                @if s.stored_cards && s.customer_ref.is_some() {
                    label .check { input #save_card type="checkbox" name="save_card"; (t.save_card) }
                    label for="card_alias" { (t.card_alias) }
                    input #card_alias name="card_alias" maxlength="50";
                }
                button #submit type="submit" { (t.pay) }
                p .note { (if s.stored_cards && s.customer_ref.is_some() { t.card_note_vault } else { t.card_note }) }
            }
            script { (maud::PreEscaped(SCRIPT)) }
        },
    )
}

fn session_error(h: &HostedSession) -> Option<Response> {
    let t = text(&h.session.language);
    if h.session.status == SessionStatus::Completed {
        return Some(message_page(
            StatusCode::CONFLICT,
            t,
            &h.company_name,
            t.completed,
            t.completed_text,
        ));
    }
    if h.expired {
        return Some(message_page(
            StatusCode::GONE,
            t,
            &h.company_name,
            t.expired,
            t.expired_text,
        ));
    }
    None
}

/// The page of a session locked after too many unsuccessful attempts.
fn locked_page(h: &HostedSession) -> Response {
    let t = text(&h.session.language);
    message_page(
        StatusCode::FORBIDDEN,
        t,
        &h.company_name,
        t.locked,
        t.locked_text,
    )
}

async fn page(State(state): State<AppState>, Path(id): Path<String>) -> Response {
    let h = match state.service.hosted_session(&id).await {
        Ok(h) => h,
        Err(ServiceError::NotFound) => return not_found(),
        Err(e) => return internal(e),
    };
    if let Some(r) = session_error(&h) {
        return r;
    }
    if h.locked {
        return locked_page(&h);
    }
    if let Some(p) = &h.payment {
        if matches!(
            p.status,
            PaymentStatus::Pending3ds | PaymentStatus::Processing | PaymentStatus::Unknown
        ) {
            let t = text(&h.session.language);
            return message_page(
                StatusCode::CONFLICT,
                t,
                &h.company_name,
                t.in_progress,
                t.in_progress_text,
            );
        }
    }
    respond(StatusCode::OK, form_page(&h, None))
}

fn internal(e: ServiceError) -> Response {
    tracing::error!(error = %e, code = e.code(), "hosted page failed");
    message_page(
        StatusCode::INTERNAL_SERVER_ERROR,
        &text::TR,
        "sanalpos",
        "Hata / Error",
        "Beklenmeyen bir hata oluştu. / An unexpected error occurred.",
    )
}

async fn pay(
    State(state): State<AppState>,
    Path(id): Path<String>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: axum::http::HeaderMap,
    form: Result<Form<HashMap<String, String>>, axum::extract::rejection::FormRejection>,
) -> Response {
    let h = match state.service.hosted_session(&id).await {
        Ok(h) => h,
        Err(ServiceError::NotFound) => return not_found(),
        Err(e) => return internal(e),
    };
    if let Some(r) = session_error(&h) {
        return r;
    }
    let t = text(&h.session.language);
    // A malformed body is refused without repeating anything from it.
    let Ok(Form(mut fields)) = form else {
        return respond(StatusCode::BAD_REQUEST, form_page(&h, Some(t.error)));
    };
    let mut take = |name: &str| fields.remove(name).unwrap_or_default();
    let installments = take("installments").trim().parse::<u8>().unwrap_or(0);
    let payment = HostedPayment {
        amount: Some(take("amount")),
        installments,
        card: CardInput {
            number: take("card_number"),
            expiry_month: take("exp_month").trim().to_owned(),
            expiry_year: take("exp_year").trim().to_owned(),
            cvv: take("cvv"),
            holder: take("holder"),
        },
        cardholder_ip: Some(crate::client_ip::client_ip(
            peer,
            &headers,
            &state.trusted_proxies,
        )),
        stored_card: Some(take("stored_card")).filter(|c| !c.trim().is_empty()),
        save_card: fields
            .contains_key("save_card")
            .then(|| fields.get("card_alias").cloned().unwrap_or_default()),
    };
    drop(fields);
    // A submit to a locked session still goes to the service: it is written as a
    // blocked attempt (never sent), then the customer reads why.
    let locked = h.locked;
    match state.service.hosted_pay(&id, payment).await {
        Ok(view) if locked && view.status == PaymentStatus::Blocked => locked_page(&h),
        Ok(view) => match &view.next_action {
            Some(next) => Redirect::to(&next.redirect_url).into_response(),
            None => Redirect::to(&format!("/pay/{id}/return")).into_response(),
        },
        Err(e) => {
            let (status, line) = match &e {
                ServiceError::Conflict {
                    code: "amount_mismatch",
                    ..
                } => (StatusCode::CONFLICT, t.amount_mismatch.to_owned()),
                ServiceError::Conflict {
                    code: "session_expired",
                    ..
                } => {
                    return message_page(
                        StatusCode::GONE,
                        t,
                        &h.company_name,
                        t.expired,
                        t.expired_text,
                    )
                }
                ServiceError::Conflict {
                    code: "session_completed" | "session_not_payable",
                    ..
                } => {
                    return message_page(
                        StatusCode::CONFLICT,
                        t,
                        &h.company_name,
                        t.completed,
                        t.completed_text,
                    )
                }
                ServiceError::Validation { .. } => (
                    StatusCode::BAD_REQUEST,
                    if t.lang == "en" {
                        e.message()
                    } else {
                        format!("{}: {}", t.error, e.message())
                    },
                ),
                ServiceError::Storage(_) => return internal(e),
                other => (
                    StatusCode::CONFLICT,
                    format!("{}: {}", t.error, other.message()),
                ),
            };
            respond(status, form_page(&h, Some(&line)))
        }
    }
}

/// Query of the installments endpoint.
#[derive(Debug, serde::Deserialize)]
struct InstallmentQuery {
    bin: String,
    amount: Option<String>,
}

async fn installments(
    State(state): State<AppState>,
    Path(id): Path<String>,
    query: Result<Query<InstallmentQuery>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let Ok(Query(q)) = query else {
        return ApiError::invalid("bin", "bin is required").into_response();
    };
    let lang = match state.service.hosted_session(&id).await {
        Ok(h) => h.session.language,
        Err(e) => return ApiError::from(e).into_response(),
    };
    let t = text(&lang);
    match state
        .service
        .hosted_installments(&id, &q.bin, q.amount.as_deref())
        .await
    {
        Ok(options) => {
            let items: Vec<_> = options
                .iter()
                .map(|o| {
                    let label = if o.installments == 1 {
                        format!("1 · {} · {} TL", t.single, o.total.format_tr())
                    } else {
                        format!(
                            "{} × {} TL · {} {} TL",
                            o.installments,
                            o.monthly.format_tr(),
                            t.total,
                            o.total.format_tr()
                        )
                    };
                    json!({
                        "installments": o.installments,
                        "monthly": o.monthly,
                        "total": o.total,
                        "surcharge": o.surcharge,
                        "label": label,
                    })
                })
                .collect();
            (
                [(header::CACHE_CONTROL, "no-store")],
                Json(json!({ "options": items })),
            )
                .into_response()
        }
        Err(e) => ApiError::from(e).into_response(),
    }
}

fn status_line(t: &Text, p: &PaymentView) -> (&'static str, String, &'static str) {
    match p.status {
        PaymentStatus::Approved => (t.approved, t.approved_text.to_owned(), "ok"),
        PaymentStatus::Pending3ds | PaymentStatus::Processing | PaymentStatus::Unknown => {
            (t.in_progress, t.in_progress_text.to_owned(), "")
        }
        _ => {
            let why = p
                .message
                .as_ref()
                .map(|m| {
                    if t.lang == "en" {
                        m.en.clone()
                    } else {
                        m.tr.clone()
                    }
                })
                .unwrap_or_default();
            (t.not_approved, why, "bad")
        }
    }
}

async fn result(State(state): State<AppState>, Path(id): Path<String>) -> Response {
    // The outcome is read from the database; the query string the 3D return added is
    // not trusted.
    let h = match state.service.hosted_session(&id).await {
        Ok(h) => h,
        Err(ServiceError::NotFound) => return not_found(),
        Err(e) => return internal(e),
    };
    let t = text(&h.session.language);
    let Some(p) = &h.payment else {
        return Redirect::to(&format!("/pay/{id}")).into_response();
    };
    let back = match state.service.hosted_return_url(&h.session, p) {
        Ok(url) => url,
        Err(e) => return internal(e),
    };
    let (title, line, class) = status_line(t, p);
    let line = if h.locked {
        format!("{line} {}", t.locked_text).trim().to_owned()
    } else {
        line
    };
    let retry = h.session.status == SessionStatus::Open
        && !h.expired
        && !h.locked
        && matches!(
            p.status,
            PaymentStatus::Declined
                | PaymentStatus::Failed
                | PaymentStatus::Expired
                | PaymentStatus::Blocked
        );
    let body = html! {
        h2 #result .(class) data-status=(p.status.as_str()) { (title) }
        @if !line.is_empty() { p #result-message { (line) } }
        dl {
            dt { (t.amount) } dd #result-amount { (money(p.amount, p.currency.alpha())) }
            dt { (t.card) } dd { (p.masked_pan) }
            dt { (t.payment_ref) } dd #payment-id { (p.id) }
            dt { (t.status) } dd #payment-status { (p.status.as_str()) }
        }
        @if retry { a .button #retry href={ "/pay/" (h.session.id) } { (t.try_again) } }
        @if let Some(url) = &back { a .button #back href=(url) { (t.back_to_shop) } }
    };
    respond(StatusCode::OK, shell(t, &h.company_name, body))
}
