//! The HTTP API under `/api/v1`: JSON in and out, API-key authentication, one error
//! envelope.

mod body;
pub mod idempotency;
mod payments;
mod recon;
mod statement_profiles;

use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
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
            "/reconciliations/{id}/items/{item_id}/resolve",
            post(recon::resolve),
        )
}
