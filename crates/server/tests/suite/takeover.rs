//! A payment request whose server died after the payment was created, retried after the
//! key's lock expired: the retry takes the key over and must answer with the payment that
//! exists, as it stands, and never send a second sale.

#![allow(clippy::unwrap_used)]

use crate::helpers::*;
use reqwest::StatusCode;

/// Puts a finished key back to how a dead instance leaves it: in progress, no answer,
/// lock expired.
async fn as_if_the_first_request_died(url: &str, company_id: &str, key: &str) {
    sanalpos_store::install_drivers();
    let pool = sqlx::any::AnyPoolOptions::new()
        .max_connections(1)
        .connect(url)
        .await
        .unwrap();
    let done = sqlx::query(
        "UPDATE idempotency_keys SET state = 'in_progress', response_status = NULL, \
         response_body = NULL, locked_until = 1 WHERE company_id = $1 AND idem_key = $2",
    )
    .bind(company_id)
    .bind(key)
    .execute(&pool)
    .await
    .unwrap();
    assert_eq!(done.rows_affected(), 1);
    pool.close().await;
}

both_engines!(
    a_late_retry_finds_the_payment_and_charges_nothing,
    |app: TestApp| async move {
        let body = payment("4546711234567894", "321.00");
        let (status, first) = app.pay(&app.a, "late-retry", &body).await;
        assert_eq!(status, StatusCode::CREATED, "{first}");
        assert_eq!(first["status"], "approved", "{first}");

        as_if_the_first_request_died(app.guard.url(), &app.a.id, "late-retry").await;
        let (status, again) = app.pay(&app.a, "late-retry", &body).await;
        assert_eq!(status, StatusCode::OK, "{again}");
        assert_eq!(again["id"], first["id"], "{again}");
        assert_eq!(again["status"], "approved");

        // Now the key is done again: plain replays answer the same.
        let (status, replay) = app.pay(&app.a, "late-retry", &body).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(replay["id"], first["id"]);

        // One sale at the provider, one payment here.
        assert_eq!(app.charged(&app.a).len(), 1);
        let (_, list) = app.get(&app.a, "/api/v1/payments").await;
        assert_eq!(list["items"].as_array().unwrap().len(), 1, "{list}");

        // The same key under the other company is a different key.
        let (status, other) = app.pay(&app.b, "late-retry", &body).await;
        assert_eq!(status, StatusCode::CREATED, "{other}");
        assert_ne!(other["id"], first["id"]);
    }
);
