//! The HTTP API under `/api/v1`: JSON in and out, API-key authentication, one error
//! envelope.

mod body;
mod checkout;
pub mod idempotency;
mod payments;
mod recon;
mod webhooks;

use axum::extract::DefaultBodyLimit;
use axum::routing::{delete, get, post};
use axum::Router;

use crate::AppState;

/// The `/api/v1` routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/payments", post(payments::create).get(payments::list))
        .route("/payments/{id}", get(payments::get))
        .route("/payments/{id}/cancel", post(payments::cancel))
        .route("/payments/{id}/reverse", post(payments::reverse))
        .route("/payments/{id}/refunds", post(payments::refund))
        .route("/reconciliations", post(recon::create).get(recon::list))
        .route(
            "/reconciliations/import",
            post(recon::import).layer(DefaultBodyLimit::max(recon::MAX_STATEMENT)),
        )
        .route("/reconciliations/{id}", get(recon::get))
        .route(
            "/reconciliations/{id}/items/{item_id}/resolve",
            post(recon::resolve),
        )
        .route("/openapi.json", get(crate::openapi::json))
        .route("/docs", get(crate::openapi::docs))
        .route("/checkout-sessions", post(checkout::create))
        .route("/checkout-sessions/{id}", get(checkout::get))
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
}
