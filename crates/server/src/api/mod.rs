//! The HTTP API under `/api/v1`: JSON in and out, API-key authentication, one error
//! envelope.

mod body;
pub(crate) mod checkout;
mod fields;
pub mod idempotency;
pub(crate) mod links;
pub(crate) mod payments;
pub(crate) mod recon;
pub(crate) mod statement_profiles;
pub(crate) mod stored_cards;
pub(crate) mod webhooks;

use axum::extract::{DefaultBodyLimit, Request};
use axum::http::{header, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::Router;

use crate::error::ApiError;
use crate::AppState;

/// The `/api/v1` routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/payments", post(payments::create).get(payments::list))
        .route("/payments/{id}", get(payments::get))
        .route("/payments/{id}/cancel", post(payments::cancel))
        .route("/payments/{id}/capture", post(payments::capture))
        .route("/payments/{id}/release", post(payments::release))
        .route("/payments/{id}/reverse", post(payments::reverse))
        .route("/payments/{id}/refunds", post(payments::refund))
        .route(
            "/payments/{id}/refunds/{refund_id}/withdraw",
            post(payments::withdraw_refund),
        )
        .route(
            "/customers/{customer_ref}/cards",
            get(stored_cards::list).post(stored_cards::create),
        )
        .route(
            "/customers/{customer_ref}/cards/{id}",
            delete(stored_cards::delete),
        )
        .route("/reconciliations", post(recon::create).get(recon::list))
        .route(
            "/reconciliations/import",
            post(recon::import).layer(DefaultBodyLimit::max(recon::MAX_STATEMENT)),
        )
        .route("/reconciliations/{id}", get(recon::get))
        .route(
            "/pos/{pos_id}/statement-profiles",
            get(statement_profiles::list).post(statement_profiles::create),
        )
        .route(
            "/pos/{pos_id}/statement-profiles/{id}",
            get(statement_profiles::get)
                .put(statement_profiles::replace)
                .delete(statement_profiles::delete),
        )
        .route(
            "/reconciliations/{id}/items/{item_id}/candidates",
            get(recon::candidates),
        )
        .route(
            "/reconciliations/{id}/items/{item_id}/resolve",
            post(recon::resolve),
        )
        .route("/openapi.json", get(crate::openapi::json))
        .route("/docs", get(crate::openapi::docs))
        .route("/checkout-sessions", post(checkout::create))
        .route("/checkout-sessions/{id}", get(checkout::get))
        .route("/checkout-sessions/{id}/reopen", post(checkout::reopen))
        .route("/payment-links", get(links::list))
        .route("/payment-links/{id}", get(links::get))
        .route("/payment-links/{id}/send", post(links::send))
        .route(
            "/webhook-endpoints",
            post(webhooks::create).get(webhooks::list),
        )
        .route("/webhook-endpoints/{id}", delete(webhooks::delete))
        .route(
            "/webhook-endpoints/{id}/deliveries",
            get(webhooks::deliveries),
        )
        .route(
            "/webhook-endpoints/{id}/deliveries/{delivery_id}/resend",
            post(webhooks::resend),
        )
        .fallback(|| async { ApiError::not_found("route") })
        .method_not_allowed_fallback(|| async {
            ApiError::new(
                StatusCode::METHOD_NOT_ALLOWED,
                "method_not_allowed",
                "this route does not accept that method",
            )
        })
        .layer(axum::middleware::from_fn(json_bodies_only))
}

/// Refuses a request body that says it is not JSON (415), except on the statement
/// import, whose body is the file itself. A body without a `Content-Type` is read as
/// JSON, so plain clients keep working.
async fn json_bodies_only(request: Request, next: Next) -> Response {
    let has_body = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim() != "0")
        || request.headers().contains_key(header::TRANSFER_ENCODING);
    let writes = matches!(
        *request.method(),
        Method::POST | Method::PUT | Method::PATCH | Method::DELETE
    );
    let raw_upload = request.uri().path().ends_with("/import");
    if has_body && writes && !raw_upload {
        if let Some(kind) = request.headers().get(header::CONTENT_TYPE) {
            let is_json = kind
                .to_str()
                .ok()
                .and_then(|v| v.split(';').next())
                .is_some_and(|v| v.trim().eq_ignore_ascii_case("application/json"));
            if !is_json {
                return ApiError::new(
                    StatusCode::UNSUPPORTED_MEDIA_TYPE,
                    "unsupported_media_type",
                    "the body must be JSON (Content-Type: application/json)",
                )
                .into_response();
            }
        }
    }
    next.run(request).await
}
