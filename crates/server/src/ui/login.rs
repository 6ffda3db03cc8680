//! Sign-in (with a per-username throttle kept in the database), sign-out, company and
//! language switches.

use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{AppendHeaders, IntoResponse, Redirect, Response};
use axum::Form;
use maud::{html, Markup, DOCTYPE};
use serde::Deserialize;
use serde_json::json;

use sanalpos_core::Lang;
use sanalpos_service::ServiceError;
use sanalpos_store::{new_token, now_ms, NewAudit, NewSession, SessionRecord, ThrottleRule};

use super::i18n::texts;
use super::session::{
    is_secure, lang_of, set_cookie, token_hash, Ctx, UiError, CSRF_FIELD, LANG_COOKIE,
    LOGIN_CSRF_COOKIE, SESSION_COOKIE,
};
use crate::AppState;

/// How long a session lasts (a working day).
const SESSION_SECS: i64 = 10 * 3600;

/// Five wrong passwords within 15 minutes lock the username for 15 minutes.
pub const THROTTLE: ThrottleRule = ThrottleRule {
    max_failures: 5,
    window_ms: 15 * 60 * 1000,
    lock_ms: 15 * 60 * 1000,
};

fn login_page(
    status: StatusCode,
    lang: Lang,
    message: Option<&str>,
    username: &str,
    secure: bool,
) -> Response {
    let t = texts(lang);
    let token = new_token();
    let page: Markup = html! {
        (DOCTYPE)
        html lang=(lang.as_str()) {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (t.sign_in) " · " (t.app_name) }
                link rel="stylesheet" href="/ui/static/app.css";
            }
            body.login {
                main.login-box {
                    h1 { (t.login_title) }
                    @if let Some(message) = message {
                        div.notice.error #login-error role="alert" { (message) }
                    }
                    form method="post" action="/ui/login" {
                        input type="hidden" name=(CSRF_FIELD) value=(token);
                        label { (t.username) input #username name="username" value=(username) autocomplete="username" required autofocus; }
                        label { (t.password) input #password type="password" name="password" autocomplete="current-password" required; }
                        button #sign-in type="submit" { (t.sign_in) }
                    }
                    p.langs { a href="/ui/lang?l=tr&back=/ui/login" { "Türkçe" } " | " a href="/ui/lang?l=en&back=/ui/login" { "English" } }
                }
            }
        }
    };
    (
        status,
        [(
            header::SET_COOKIE,
            set_cookie(LOGIN_CSRF_COOKIE, &token, 3600, secure),
        )],
        page,
    )
        .into_response()
}

/// What the guard answers when the sign-in form's token does not match.
pub fn expired_form(lang: Lang) -> Response {
    login_page(
        StatusCode::FORBIDDEN,
        lang,
        Some(texts(lang).login_expired_form),
        "",
        false,
    )
}

/// `GET /ui/login`.
pub async fn page(
    State(state): State<AppState>,
    headers: HeaderMap,
    session: Option<axum::Extension<SessionRecord>>,
) -> Response {
    if session.is_some() {
        return Redirect::to("/ui/dashboard").into_response();
    }
    login_page(
        StatusCode::OK,
        lang_of(&headers),
        None,
        "",
        is_secure(&state),
    )
}

/// The sign-in form.
#[derive(Deserialize)]
pub struct LoginForm {
    username: String,
    password: String,
}

/// `POST /ui/login`.
pub async fn submit(
    State(state): State<AppState>,
    headers: HeaderMap,
    Form(form): Form<LoginForm>,
) -> Response {
    let lang = lang_of(&headers);
    let t = texts(lang);
    let secure = is_secure(&state);
    let store = state.service.store();
    let username = form.username.trim().to_owned();
    let now = now_ms();
    match store.login_locked_until(&username, now).await {
        Ok(Some(_)) => {
            return login_page(
                StatusCode::TOO_MANY_REQUESTS,
                lang,
                Some(t.login_locked),
                &username,
                secure,
            )
        }
        Ok(None) => {}
        Err(e) => {
            tracing::error!(error = %e, "login throttle lookup failed");
            return UiError::Internal(lang).into_response();
        }
    }
    let user = match state.service.login(&username, &form.password).await {
        Ok(user) => user,
        Err(ServiceError::Unauthorized) => {
            let locked = store.record_login_failure(&username, now, THROTTLE).await;
            tracing::info!(user = %username, "back office sign-in refused");
            return match locked {
                Ok(Some(_)) => login_page(
                    StatusCode::TOO_MANY_REQUESTS,
                    lang,
                    Some(t.login_locked),
                    &username,
                    secure,
                ),
                Ok(None) => login_page(
                    StatusCode::UNAUTHORIZED,
                    lang,
                    Some(t.login_failed),
                    &username,
                    secure,
                ),
                Err(e) => {
                    tracing::error!(error = %e, "login throttle update failed");
                    UiError::Internal(lang).into_response()
                }
            };
        }
        Err(e) => return UiError::from_service(lang, e).into_response(),
    };
    let company_id = match store.sign_in_company(&user.id).await {
        Ok(company_id) => company_id,
        Err(e) => {
            tracing::error!(error = %e, "sign-in company lookup failed");
            return UiError::Internal(lang).into_response();
        }
    };
    let Some(company_id) = company_id else {
        return login_page(
            StatusCode::UNAUTHORIZED,
            lang,
            Some(t.login_failed),
            &username,
            secure,
        );
    };
    let token = new_token();
    let session = NewSession {
        token_hash: token_hash(&token),
        user_id: user.id.clone(),
        company_id: company_id.clone(),
        csrf_token: new_token(),
        created_at: now,
        expires_at: now + SESSION_SECS * 1000,
    };
    let saved = async {
        store.clear_login_failures(&username).await?;
        store.insert_session(session).await?;
        store
            .append_audit(NewAudit {
                company_id,
                kind: "user.signed_in".into(),
                actor: format!("user:{}", user.username),
                subject_id: user.id.clone(),
                data: json!({}),
            })
            .await
    };
    if let Err(e) = saved.await {
        tracing::error!(error = %e, "session not stored");
        return UiError::Internal(lang).into_response();
    }
    (
        AppendHeaders([
            (
                header::SET_COOKIE,
                set_cookie(SESSION_COOKIE, &token, SESSION_SECS, secure),
            ),
            (
                header::SET_COOKIE,
                set_cookie(LOGIN_CSRF_COOKIE, "", 0, secure),
            ),
        ]),
        Redirect::to("/ui/dashboard"),
    )
        .into_response()
}

/// `POST /ui/logout`.
pub async fn logout(State(state): State<AppState>, ctx: Ctx) -> Response {
    if let Err(e) = state
        .service
        .store()
        .delete_session(&ctx.session.token_hash)
        .await
    {
        tracing::error!(error = %e, "session not deleted");
        return UiError::Internal(ctx.lang).into_response();
    }
    (
        [(
            header::SET_COOKIE,
            set_cookie(SESSION_COOKIE, "", 0, ctx.secure),
        )],
        Redirect::to("/ui/login"),
    )
        .into_response()
}

/// The company switch form.
#[derive(Deserialize)]
pub struct CompanyForm {
    company_id: String,
}

/// `POST /ui/company`: only to one of the user's companies.
pub async fn switch_company(
    State(state): State<AppState>,
    ctx: Ctx,
    Form(form): Form<CompanyForm>,
) -> Result<Response, UiError> {
    match state
        .service
        .store()
        .set_session_company(&ctx.session.token_hash, &form.company_id)
        .await
    {
        Ok(()) => Ok(Redirect::to("/ui/dashboard").into_response()),
        Err(sanalpos_store::StoreError::NotFound) => Err(UiError::NotFound(ctx.lang)),
        Err(e) => {
            tracing::error!(error = %e, "company switch failed");
            Err(UiError::Internal(ctx.lang))
        }
    }
}

/// The language switch.
#[derive(Deserialize)]
pub struct LangQuery {
    l: String,
    back: Option<String>,
}

/// `GET /ui/lang?l=en&back=/ui/...`: a preference cookie, then back to a page of ours.
pub async fn switch_lang(State(state): State<AppState>, Query(q): Query<LangQuery>) -> Response {
    let lang = Lang::parse(&q.l).unwrap_or_default();
    let back = q
        .back
        .filter(|b| b.starts_with("/ui/") && !b.contains("//") && !b.contains('\\'))
        .unwrap_or_else(|| "/ui/dashboard".into());
    (
        [(
            header::SET_COOKIE,
            set_cookie(
                LANG_COOKIE,
                lang.as_str(),
                365 * 24 * 3600,
                is_secure(&state),
            ),
        )],
        Redirect::to(&back),
    )
        .into_response()
}
