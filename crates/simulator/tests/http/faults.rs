//! Fault cards: slow answers, 500s, truncated bodies, bad signatures, dropped
//! connections and a one-off 503. "Charged" means a SUCCESS sale row in the ledger.

use std::time::{Duration, Instant};

use serde_json::Value;

use crate::*;

async fn charges(sim: &TestSim) -> usize {
    sim.transactions()
        .await
        .iter()
        .filter(|r| r["status"] == "SUCCESS" && r["kind"] == "SALES")
        .count()
}

#[tokio::test]
async fn slow_answer_charges_then_answers_late() {
    let sim = start().await; // slow_answer_delay = 300 ms
    let started = Instant::now();
    let v = sim.pay("4000000000009011", "10.00").await;
    assert!(started.elapsed() >= Duration::from_millis(300));
    assert_eq!(v["RESPONSE_CODE"], "2");
    assert!(sim.answer_verifies(&v));
    assert_eq!(charges(&sim).await, 1);

    // A client that gives up early still leaves a charge behind.
    let fields = sim.payment_fields("4000000000009011", "11.00");
    let quick = reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_millis(100))
        .build()
        .unwrap();
    let err = quick
        .post(sim.url("/Vpos/v1/Payment"))
        .form(&fields)
        .send()
        .await
        .unwrap_err();
    assert!(err.is_timeout());
    let client_ref = get(&fields, "clientRefCode");
    let day = list_date(today());
    let list = sim.payment_list(&day, &day, client_ref).await;
    assert_eq!(list["LIST"][0]["STATUS"], "SUCCESS");
}

#[tokio::test]
async fn server_errors_with_and_without_charge() {
    let sim = start().await;
    let (status, body) = sim
        .post_raw(
            "/Vpos/v1/Payment",
            &sim.payment_fields("4000000000009029", "10.00"),
        )
        .await;
    assert_eq!(status, 500);
    assert_eq!(body, "Internal Server Error");
    assert_eq!(charges(&sim).await, 1);

    let (status, _) = sim
        .post_raw(
            "/Vpos/v1/Payment",
            &sim.payment_fields("4000000000009037", "10.00"),
        )
        .await;
    assert_eq!(status, 500);
    assert_eq!(charges(&sim).await, 1);
    assert_eq!(sim.transactions().await.len(), 1);
}

#[tokio::test]
async fn truncated_body_and_wrong_hash_still_charge() {
    let sim = start().await;
    let (status, body) = sim
        .post_raw(
            "/Vpos/v1/Payment",
            &sim.payment_fields("4000000000009045", "10.00"),
        )
        .await;
    assert_eq!(status, 200);
    assert!(body.starts_with('{'));
    assert!(serde_json::from_str::<Value>(&body).is_err());
    assert_eq!(charges(&sim).await, 1);

    let v = sim.pay("4000000000009052", "10.00").await;
    assert_eq!(v["RESPONSE_CODE"], "2");
    assert!(!sim.answer_verifies(&v));
    assert_eq!(v["hashDataV2"].as_str().unwrap().len(), 88);
    assert_eq!(charges(&sim).await, 2);
}

#[tokio::test]
async fn dropped_connection_gets_no_http_answer() {
    let sim = start().await;
    let fields = sim.payment_fields("4000000000009060", "10.00");
    let result = sim
        .client
        .post(sim.url("/Vpos/v1/Payment"))
        .form(&fields)
        .send()
        .await;
    let err = result.expect_err("no HTTP answer at all");
    assert!(err.status().is_none());
    assert!(!err.is_timeout());
    assert!(err.is_request() || err.is_connect(), "{err:?}");
    assert_eq!(charges(&sim).await, 0);
    assert!(sim.transactions().await.is_empty());
    // The server itself is fine.
    assert_eq!(sim.pay(APPROVED_CARD, "1.00").await["RESPONSE_CODE"], "2");
}

#[tokio::test]
async fn first_call_503_then_approval() {
    let sim = start().await;
    let (status, _) = sim
        .post_raw(
            "/Vpos/v1/Payment",
            &sim.payment_fields("4000000000009078", "10.00"),
        )
        .await;
    assert_eq!(status, 503);
    assert_eq!(charges(&sim).await, 0);
    let v = sim.pay("4000000000009078", "10.00").await;
    assert_eq!(v["RESPONSE_CODE"], "2");
    assert!(sim.answer_verifies(&v));
    assert_eq!(charges(&sim).await, 1);
}
