//! The 3D Secure round trip as the browser sees it: `GET /3d/{token}` renders the
//! provider's form (which takes the cardholder to the bank), and the provider's result
//! comes back as a cross-site POST to `/3d/{token}/return`, found by the unguessable
//! token in the URL (no cookies reach a cross-site POST).

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};

use sanalpos_service::ServiceError;

use crate::AppState;

fn page(status: StatusCode, title: &str, text: &str) -> Response {
    let html = format!(
        "<!doctype html><html lang=\"tr\"><head><meta charset=\"utf-8\"><title>{title}</title></head>\
         <body><h1>{title}</h1><p>{text}</p></body></html>"
    );
    (status, Html(html)).into_response()
}

fn error_page(error: ServiceError) -> Response {
    match error {
        ServiceError::NotFound => page(
            StatusCode::NOT_FOUND,
            "Ödeme bulunamadı",
            "Bu 3D Secure bağlantısı geçersiz ya da süresi dolmuş. / This 3D Secure link is invalid or expired.",
        ),
        ServiceError::Conflict { .. } => page(
            StatusCode::CONFLICT,
            "Ödeme tamamlanmış",
            "Bu ödemenin 3D Secure adımı zaten bitti. / This payment's 3D Secure step is already over.",
        ),
        other => {
            tracing::error!(error = %other, "3D page failed");
            page(
                StatusCode::INTERNAL_SERVER_ERROR,
                "Hata",
                "Beklenmeyen bir hata oluştu. / An unexpected error occurred.",
            )
        }
    }
}

/// `GET /3d/{token}`: the provider's auto-submitting form.
pub async fn start(State(state): State<AppState>, Path(token): Path<String>) -> Response {
    match state.service.three_d_page(&token).await {
        Ok(html) => (
            [
                (header::CACHE_CONTROL, "no-store"),
                (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            ],
            html,
        )
            .into_response(),
        Err(e) => error_page(e),
    }
}

/// `POST /3d/{token}/return`: the provider's signed result; the browser is sent on to
/// the payment's return URL.
pub async fn finish(
    State(state): State<AppState>,
    Path(token): Path<String>,
    body: Bytes,
) -> Response {
    match state.service.three_d_return(&token, &body).await {
        Ok(result) => Redirect::to(&result.redirect_to).into_response(),
        Err(e) => error_page(e),
    }
}
