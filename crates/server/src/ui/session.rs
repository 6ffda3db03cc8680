//! Who is asking: the session cookie (only its SHA-256 is in the database), the CSRF
//! token every form carries, the language switch, the role rules and the errors pages
//! answer with.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use maud::html;
use subtle::ConstantTimeEq;

use sanalpos_core::Lang;
use sanalpos_service::{Company, Role, ServiceError};
use sanalpos_store::SessionRecord;

use super::i18n::{texts, Texts};
use crate::AppState;

/// The session cookie.
pub const SESSION_COOKIE: &str = "sp_session";
/// The language cookie (`tr` or `en`).
pub const LANG_COOKIE: &str = "sp_lang";
/// The sign-in form's double-submit CSRF cookie (there is no session yet).
pub const LOGIN_CSRF_COOKIE: &str = "sp_login_csrf";
/// The form field that carries the CSRF token.
pub const CSRF_FIELD: &str = "_csrf";

/// A cookie's value from the request.
pub fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_owned())
}

/// The language the request asks for (cookie), Turkish by default.
pub fn lang_of(headers: &HeaderMap) -> Lang {
    cookie(headers, LANG_COOKIE)
        .and_then(|v| Lang::parse(&v))
        .unwrap_or_default()
}

/// Equal in constant time.
pub fn same_token(a: &str, b: &str) -> bool {
    !a.is_empty() && a.len() == b.len() && bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

/// A `Set-Cookie` value: HttpOnly, SameSite=Lax, Path=/, Secure over https.
pub fn set_cookie(name: &str, value: &str, max_age_secs: i64, secure: bool) -> HeaderValue {
    let secure = if secure { "; Secure" } else { "" };
    let text =
        format!("{name}={value}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age_secs}{secure}");
    HeaderValue::from_str(&text).unwrap_or_else(|_| HeaderValue::from_static("invalid=1"))
}

/// What a role may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Perm {
    /// See the dashboard and the company's payments (list, detail, export).
    ViewPayments,
    /// Take a payment (Online Tahsilat).
    Collect,
    /// Cancel, refund, reverse.
    Reverse,
    /// See the POS definitions.
    ViewPos,
    /// Create, change, deactivate and test POS definitions.
    ManagePos,
    /// Companies, users, API keys, the audit log.
    Admin,
    /// See reconciliation runs, their items, and export them.
    ViewRecon,
    /// Start reconciliation runs (pull or statement upload) and decide exceptions.
    Reconcile,
}

/// The role rules of the back office.
pub fn allows(role: Role, perm: Perm) -> bool {
    match role {
        Role::Admin => true,
        Role::Accountant => matches!(
            perm,
            Perm::ViewPayments
                | Perm::Collect
                | Perm::Reverse
                | Perm::ViewPos
                | Perm::ViewRecon
                | Perm::Reconcile
        ),
        Role::Collector => matches!(perm, Perm::ViewPayments | Perm::Collect),
        Role::Viewer => matches!(perm, Perm::ViewPayments | Perm::ViewPos | Perm::ViewRecon),
    }
}

/// Why a page could not be shown.
#[derive(Debug)]
pub enum UiError {
    /// Not signed in: go to the sign-in page.
    SignIn,
    /// The role does not allow it.
    Forbidden(Lang),
    /// No such record in the current company.
    NotFound(Lang),
    /// A form that could not be verified (CSRF).
    Csrf(Lang),
    /// Bad input that the page cannot show inline.
    BadRequest(Lang, String),
    /// Anything else (logged, not shown).
    Internal(Lang),
}

impl UiError {
    /// Maps a service error: a record of another company is "not found".
    pub fn from_service(lang: Lang, e: ServiceError) -> UiError {
        match e {
            ServiceError::NotFound => UiError::NotFound(lang),
            ServiceError::Validation { field, message } => {
                UiError::BadRequest(lang, format!("{field}: {message}"))
            }
            ServiceError::Conflict { message, .. } | ServiceError::Provider { message, .. } => {
                UiError::BadRequest(lang, message)
            }
            ServiceError::NoActivePos => UiError::BadRequest(lang, e.to_string()),
            other => {
                tracing::error!(error = %other, "back office request failed");
                UiError::Internal(lang)
            }
        }
    }
}

fn error_page(status: StatusCode, t: &Texts, title: &str, text: &str) -> Response {
    let page = html! {
        (maud::DOCTYPE)
        html lang=(if std::ptr::eq(t, &super::i18n::EN) { "en" } else { "tr" }) {
            head {
                meta charset="utf-8";
                title { (title) " · " (t.app_name) }
                link rel="stylesheet" href="/ui/static/app.css";
            }
            body.error-page {
                main {
                    h1 { (title) }
                    p.error-text { (text) }
                    p { a href="/ui/dashboard" { (t.back) } }
                }
            }
        }
    };
    (status, page).into_response()
}

impl IntoResponse for UiError {
    fn into_response(self) -> Response {
        match self {
            UiError::SignIn => Redirect::to("/ui/login").into_response(),
            UiError::Forbidden(lang) => {
                let t = texts(lang);
                error_page(
                    StatusCode::FORBIDDEN,
                    t,
                    t.forbidden_title,
                    t.forbidden_text,
                )
            }
            UiError::NotFound(lang) => {
                let t = texts(lang);
                error_page(
                    StatusCode::NOT_FOUND,
                    t,
                    t.not_found_title,
                    t.not_found_text,
                )
            }
            UiError::Csrf(lang) => {
                let t = texts(lang);
                error_page(StatusCode::FORBIDDEN, t, t.bad_request_title, t.csrf_failed)
            }
            UiError::BadRequest(lang, message) => {
                let t = texts(lang);
                error_page(StatusCode::BAD_REQUEST, t, t.bad_request_title, &message)
            }
            UiError::Internal(lang) => {
                let t = texts(lang);
                error_page(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    t,
                    t.error_title,
                    t.error_text,
                )
            }
        }
    }
}

/// A signed-in request: the session, its user's companies, the language.
#[derive(Debug, Clone)]
pub struct Ctx {
    /// The session (user, role, current company, CSRF token).
    pub session: SessionRecord,
    /// The user's companies, by name.
    pub companies: Vec<Company>,
    /// The language of the pages.
    pub lang: Lang,
    /// Whether cookies get `Secure`.
    pub secure: bool,
}

impl Ctx {
    /// The texts of the user's language.
    pub fn t(&self) -> &'static Texts {
        texts(self.lang)
    }

    /// The current company's id.
    pub fn company_id(&self) -> &str {
        &self.session.company_id
    }

    /// The current company's name.
    pub fn company_name(&self) -> &str {
        self.companies
            .iter()
            .find(|c| c.id == self.session.company_id)
            .map(|c| c.name.as_str())
            .unwrap_or_default()
    }

    /// The actor name for attempts and the audit log.
    pub fn actor_name(&self) -> String {
        format!("user:{}", self.session.username)
    }

    /// The service actor.
    pub fn actor(&self) -> sanalpos_service::Actor {
        sanalpos_service::Actor {
            company_id: self.session.company_id.clone(),
            name: self.actor_name(),
        }
    }

    /// Refuses what the role does not allow.
    pub fn require(&self, perm: Perm) -> Result<(), UiError> {
        if allows(self.session.role, perm) {
            Ok(())
        } else {
            Err(UiError::Forbidden(self.lang))
        }
    }

    /// Whether the role allows it.
    pub fn can(&self, perm: Perm) -> bool {
        allows(self.session.role, perm)
    }

    /// A service error as a page.
    pub fn fail(&self, e: ServiceError) -> UiError {
        UiError::from_service(self.lang, e)
    }
}

/// Whether the service is served over https (cookies get `Secure`).
pub fn is_secure(state: &AppState) -> bool {
    state
        .service
        .config()
        .public_base_url
        .starts_with("https://")
}

impl FromRequestParts<AppState> for Ctx {
    type Rejection = UiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Ctx, UiError> {
        let lang = lang_of(&parts.headers);
        let Some(session) = parts.extensions.get::<SessionRecord>().cloned() else {
            return Err(UiError::SignIn);
        };
        let user = state
            .service
            .get_user(&session.user_id)
            .await
            .map_err(|e| UiError::from_service(lang, e))?
            .ok_or(UiError::SignIn)?;
        let all = state
            .service
            .list_companies()
            .await
            .map_err(|e| UiError::from_service(lang, e))?;
        let companies = all
            .into_iter()
            .filter(|c| user.company_ids.contains(&c.id))
            .collect();
        Ok(Ctx {
            session,
            companies,
            lang,
            secure: is_secure(state),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn role_rules() {
        for perm in [
            Perm::ViewPayments,
            Perm::Collect,
            Perm::Reverse,
            Perm::ViewPos,
            Perm::ManagePos,
            Perm::Admin,
        ] {
            assert!(allows(Role::Admin, perm));
        }
        assert!(allows(Role::Accountant, Perm::Reverse) && !allows(Role::Accountant, Perm::Admin));
        assert!(!allows(Role::Accountant, Perm::ManagePos));
        assert!(allows(Role::Collector, Perm::Collect) && !allows(Role::Collector, Perm::Reverse));
        assert!(!allows(Role::Collector, Perm::ViewPos));
        assert!(allows(Role::Viewer, Perm::ViewPayments) && !allows(Role::Viewer, Perm::Collect));
        assert!(allows(Role::Accountant, Perm::Reconcile) && allows(Role::Admin, Perm::Reconcile));
        assert!(allows(Role::Viewer, Perm::ViewRecon) && !allows(Role::Viewer, Perm::Reconcile));
        assert!(!allows(Role::Collector, Perm::ViewRecon));
    }

    #[test]
    fn cookies_are_http_only_and_secure_over_https() {
        let plain = set_cookie("sp_session", "abc", 60, false);
        let plain = plain.to_str().unwrap();
        assert!(
            plain.contains("HttpOnly")
                && plain.contains("SameSite=Lax")
                && plain.contains("Path=/")
        );
        assert!(!plain.contains("Secure"));
        let secure = set_cookie("sp_session", "abc", 60, true);
        assert!(secure.to_str().unwrap().ends_with("; Secure"));
    }

    #[test]
    fn tokens_compare_whole() {
        assert!(same_token("abc", "abc"));
        assert!(!same_token("abc", "abd") && !same_token("abc", "ab") && !same_token("", ""));
    }
}
