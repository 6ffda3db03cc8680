//! Sign-in (with a per-username throttle kept in the database), sign-out, company and
//! language switches.

use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{AppendHeaders, IntoResponse, Redirect, Response};
use axum::Form;
use maud::{html, Markup, DOCTYPE};
use serde::Deserialize;

use sanalpos_core::Lang;
use sanalpos_service::{SignIn, SESSION_SECS};
use sanalpos_store::{new_token, SessionRecord};

use super::i18n::texts;
use super::session::{
    is_secure, lang_of, set_cookie, Ctx, UiError, CSRF_FIELD, LANG_COOKIE, LOGIN_CSRF_COOKIE,
    SESSION_COOKIE,
};
use crate::AppState;

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
    let username = form.username.trim().to_owned();
    let refused = |status, message| login_page(status, lang, Some(message), &username, secure);
    let signed_in = match state.service.sign_in(&username, &form.password).await {
        Ok(SignIn::Started(signed_in)) => signed_in,
        Ok(SignIn::Refused) => return refused(StatusCode::UNAUTHORIZED, t.login_failed),
        Ok(SignIn::Locked) => return refused(StatusCode::TOO_MANY_REQUESTS, t.login_locked),
        Err(e) => return UiError::from_service(lang, e).into_response(),
    };
    let token = signed_in.token;
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
    if let Err(e) = state.service.sign_out(&ctx.session).await {
        return UiError::from_service(ctx.lang, e).into_response();
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
    state
        .service
        .switch_company(&ctx.session, &form.company_id)
        .await
        .map_err(|e| UiError::from_service(ctx.lang, e))?;
    Ok(Redirect::to("/ui/dashboard").into_response())
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
