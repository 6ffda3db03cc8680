//! `sanalpos audit verify` on a real database that someone edited behind the service's
//! back: an altered row (its content or its id) and a deleted row each make it fail and
//! name the event, on SQLite and on PostgreSQL.

#![allow(clippy::unwrap_used)]

use std::process::Command;

use sanalpos_service::{PaymentService, ServiceConfig};
use sanalpos_simulator::MerchantConfig;
use sanalpos_store::testing::{postgres_store, sqlite_store};
use sanalpos_store::{Crypto, Store};

const BIN: &str = env!("CARGO_BIN_EXE_sanalpos");

/// Runs `sanalpos audit verify` against `url`; exit status and output.
fn verify(url: &str) -> (bool, String) {
    let output = Command::new(BIN)
        .args(["audit", "verify", "--database-url", url])
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.success(), text)
}

async fn execute(url: &str, sql: &str) {
    sanalpos_store::install_drivers();
    let pool = sqlx::any::AnyPoolOptions::new()
        .max_connections(1)
        .connect(url)
        .await
        .unwrap();
    let done = sqlx::query(sql).execute(&pool).await.unwrap();
    assert_eq!(done.rows_affected(), 1, "{sql}");
    pool.close().await;
}

/// A company with a few audited changes (company, POS, API keys).
async fn seed(store: Store) -> String {
    let service = PaymentService::new(store.clone(), Crypto::random(), ServiceConfig::default());
    let company = service
        .create_company("Denetim A.Ş.", "test")
        .await
        .unwrap();
    let merchant = MerchantConfig::generate();
    service
        .create_pos(
            &company.id,
            sanalpos::demo::simulator_pos("http://127.0.0.1:9", &merchant),
            "test",
        )
        .await
        .unwrap();
    for name in ["one", "two", "three"] {
        service
            .create_api_key(&company.id, name, "test")
            .await
            .unwrap();
    }
    store.close().await;
    company.id
}

async fn tampering_is_named(url: &str, company_id: &str) {
    let (ok, text) = verify(url);
    assert!(ok, "an untouched chain must verify: {text}");
    assert!(text.contains("chain intact"), "{text}");

    execute(
        url,
        &format!("UPDATE audit_events SET actor = 'mallory' WHERE company_id = '{company_id}' AND seq = 3"),
    )
    .await;
    let (ok, text) = verify(url);
    assert!(!ok, "an edited event must fail verification: {text}");
    assert!(text.contains("BROKEN") && text.contains("seq 3"), "{text}");

    execute(
        url,
        &format!(
            "UPDATE audit_events SET actor = 'test' WHERE company_id = '{company_id}' AND seq = 3"
        ),
    )
    .await;
    let (ok, text) = verify(url);
    assert!(ok, "restored, the chain verifies again: {text}");

    // The id is inside the hash too: an edited id is named by its seq and new id.
    execute(
        url,
        &format!(
            "UPDATE audit_events SET id = id || 'x' WHERE company_id = '{company_id}' AND seq = 4"
        ),
    )
    .await;
    let (ok, text) = verify(url);
    assert!(
        !ok,
        "an event with an edited id must fail verification: {text}"
    );
    assert!(
        text.contains("BROKEN")
            && text.contains("seq 4")
            && text.contains("x: hash does not match"),
        "{text}"
    );
    execute(
        url,
        &format!(
            "UPDATE audit_events SET id = substr(id, 1, length(id) - 1) WHERE company_id = '{company_id}' AND seq = 4"
        ),
    )
    .await;
    let (ok, text) = verify(url);
    assert!(ok, "restored, the chain verifies again: {text}");

    execute(
        url,
        &format!("DELETE FROM audit_events WHERE company_id = '{company_id}' AND seq = 2"),
    )
    .await;
    let (ok, text) = verify(url);
    assert!(!ok, "a deleted event must fail verification: {text}");
    assert!(text.contains("BROKEN"), "{text}");
}

#[tokio::test]
async fn audit_verify_names_an_edited_or_deleted_event_on_sqlite() {
    let (store, guard) = sqlite_store().await;
    let company_id = seed(store).await;
    tampering_is_named(guard.url(), &company_id).await;
}

#[tokio::test]
async fn audit_verify_names_an_edited_or_deleted_event_on_postgres() {
    let Some((store, guard)) = postgres_store("audit_verify_cli").await else {
        return;
    };
    let company_id = seed(store).await;
    tampering_is_named(guard.url(), &company_id).await;
}
