//! The back office: server-rendered pages (maud) for finance staff, under `/ui`.
//!
//! Every request passes [`guard`]: it finds the session from its cookie (only a hash of
//! the token is stored), checks the CSRF token of every POST before any handler runs,
//! and adds a strict content security policy (scripts only from `/ui/static`). Every
//! handler then takes a [`session::Ctx`] and checks the role; every lookup is scoped to
//! the session's current company, so another company's record is simply not found.

mod admin;
mod collect;
mod dashboard;
mod event_details;
mod format;
pub mod i18n;
mod layout;
mod links;
mod listing;
mod login;
mod payments;
mod pos;
mod recon;
mod reject_reason;
pub mod session;
mod upload;
mod webhooks;

use axum::body::{to_bytes, Body};
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;

use session::{
    cookie, lang_of, same_token, UiError, CSRF_FIELD, LOGIN_CSRF_COOKIE, SESSION_COOKIE,
};

use crate::AppState;

/// Largest form the back office reads.
const MAX_FORM: usize = 64 * 1024;

/// The policy of every back-office page: nothing inline, nothing from elsewhere.
const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
                   form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'";

/// The routes under `/ui`.
pub fn router(state: AppState) -> Router<AppState> {
    Router::new()
        .route("/", get(|| async { Redirect::to("/ui/dashboard") }))
        .route("/login", get(login::page).post(login::submit))
        .route("/logout", post(login::logout))
        .route("/company", post(login::switch_company))
        .route("/lang", get(login::switch_lang))
        .route("/static/app.js", get(app_js))
        .route("/static/app.css", get(app_css))
        .route("/dashboard", get(dashboard::page))
        .route("/collect", get(collect::form).post(collect::submit))
        .route("/collect/return", get(collect::three_d_return))
        .route("/collect/cards/{id}/delete", post(collect::delete_card))
        .route("/api/installments", get(collect::installments))
        .route("/api/customer-refs", get(recon::customer_refs))
        .route("/payments", get(payments::list))
        .route("/payments/export", get(payments::export))
        .route("/payments/{id}", get(payments::detail))
        .route("/payments/{id}/result", get(collect::result))
        .route("/payments/{id}/cancel", post(payments::cancel))
        .route("/payments/{id}/capture", post(payments::capture))
        .route("/payments/{id}/release", post(payments::release))
        .route("/payments/{id}/refund", post(payments::refund))
        .route("/payments/{id}/reverse", post(payments::reverse))
        .route(
            "/payments/{id}/refunds/{refund_id}/withdraw",
            post(payments::withdraw),
        )
        .route("/reconciliations", get(recon::list).post(recon::pull))
        .route(
            "/reconciliations/import",
            post(recon::import).layer(DefaultBodyLimit::max(upload::MAX_UPLOAD)),
        )
        .route("/reconciliations/{id}", get(recon::detail))
        .route("/reconciliations/{id}/export", get(recon::export))
        .route(
            "/reconciliations/{id}/items/{item_id}/{action}",
            post(recon::resolve),
        )
        .route("/links", get(links::list).post(links::create))
        .route("/links/{id}", get(links::detail))
        .route("/links/{id}/send", post(links::send))
        .route("/links/{id}/reopen", post(links::reopen))
        .route("/webhooks", get(webhooks::list).post(webhooks::create))
        .route("/webhooks/{id}", get(webhooks::deliveries))
        .route("/webhooks/{id}/delete", post(webhooks::delete))
        .route(
            "/webhooks/{id}/deliveries/{delivery_id}/resend",
            post(webhooks::resend),
        )
        .route("/pos", get(pos::list).post(pos::create))
        .route("/pos/new", get(pos::new_form))
        .route("/pos/{id}", get(pos::edit_form).post(pos::update))
        .route("/pos/{id}/deactivate", post(pos::deactivate))
        .route("/pos/{id}/test", post(pos::test_connection))
        .route(
            "/admin/companies",
            get(admin::companies).post(admin::create_company),
        )
        .route("/admin/users", get(admin::users).post(admin::create_user))
        .route("/admin/users/{id}/companies", post(admin::set_companies))
        .route("/admin/users/{id}/role", post(admin::set_role))
        .route("/admin/keys", get(admin::keys).post(admin::create_key))
        .route("/admin/keys/{id}/revoke", post(admin::revoke_key))
        .route("/admin/audit", get(admin::audit))
        .layer(middleware::from_fn_with_state(state, guard))
}

/// Finds the session, checks the CSRF token of every POST, secures the answer.
async fn guard(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let lang = lang_of(request.headers());
    let session = match cookie(request.headers(), SESSION_COOKIE) {
        Some(token) if !token.is_empty() => match state.service.find_session(&token).await {
            Ok(found) => found,
            Err(e) => {
                tracing::error!(error = %e, "session lookup failed");
                return UiError::Internal(lang).into_response();
            }
        },
        _ => None,
    };
    let mut request = request;
    if request.method() == Method::POST {
        let (parts, body) = request.into_parts();
        // A file form (a statement upload) comes as multipart and may be larger.
        let multipart = parts
            .headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(upload::boundary);
        let limit = if multipart.is_some() {
            upload::MAX_UPLOAD
        } else {
            MAX_FORM
        };
        let Ok(bytes) = to_bytes(body, limit).await else {
            return StatusCode::PAYLOAD_TOO_LARGE.into_response();
        };
        let sent = match &multipart {
            Some(boundary) => upload::parse(&bytes, boundary)
                .map(|fields| upload::text(&fields, CSRF_FIELD).to_owned())
                .unwrap_or_default(),
            None => {
                let fields: Vec<(String, String)> =
                    serde_urlencoded::from_bytes(&bytes).unwrap_or_default();
                fields
                    .into_iter()
                    .find(|(k, _)| k == CSRF_FIELD)
                    .map(|(_, v)| v)
                    .unwrap_or_default()
            }
        };
        let sent = sent.as_str();
        // Inside the nest the path has lost its `/ui` prefix.
        if matches!(parts.uri.path(), "/login" | "/ui/login") {
            let expected = cookie(&parts.headers, LOGIN_CSRF_COOKIE).unwrap_or_default();
            if !same_token(&expected, sent) {
                return login::expired_form(lang).into_response();
            }
        } else {
            let Some(session) = &session else {
                return UiError::SignIn.into_response();
            };
            if !same_token(&session.csrf_token, sent) {
                tracing::warn!(user = %session.username, path = %parts.uri.path(), "CSRF token mismatch");
                return UiError::Csrf(lang).into_response();
            }
        }
        request = Request::from_parts(parts, Body::from(bytes));
    }
    if let Some(session) = session {
        request.extensions_mut().insert(session);
    }
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    headers.insert("content-security-policy", HeaderValue::from_static(CSP));
    headers
        .entry(header::CACHE_CONTROL)
        .or_insert(HeaderValue::from_static("no-store"));
    response
}

async fn app_js() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        include_str!("static/app.js"),
    )
        .into_response()
}

async fn app_css() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        include_str!("static/app.css"),
    )
        .into_response()
}
