//! Pre-authorisation (provizyon) over the API on SQLite and PostgreSQL, against the
//! N Kolay and NestPay simulators: the block, a partial capture (the rest freed), a
//! release, a capture above the block refused before the provider hears of it, an
//! authorisation whose hold period ended released by the janitor, a captured payment
//! refunded; idempotent steps, audit and webhook events. The simulators' ledgers judge.

#![allow(clippy::unwrap_used)]

use crate::helpers::*;
use reqwest::StatusCode;
use sanalpos_store::testing::TestParam;
use serde_json::{json, Value};

/// POST with an `Idempotency-Key`; the answer's status, body and whether it was a
/// replay.
async fn post_keyed(
    app: &TestApp,
    who: &Seeded,
    path: &str,
    key: &str,
    body: Option<Value>,
) -> (StatusCode, Value, bool) {
    let mut request = app
        .http
        .post(app.url(path))
        .bearer_auth(&who.api_key)
        .header("Idempotency-Key", key);
    if let Some(body) = body {
        request = request
            .header("Content-Type", "application/json")
            .body(body.to_string());
    }
    let response = request.send().await.unwrap();
    let status = response.status();
    let replayed = response.headers().contains_key("idempotent-replayed");
    let text = response.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap(), replayed)
}

fn manual(mut body: Value) -> Value {
    body["capture"] = json!("manual");
    body
}

fn id_of(payment: &Value) -> String {
    payment["id"].as_str().unwrap().to_owned()
}

/// The kinds of the webhook events written about a payment, oldest first.
async fn events(app: &TestApp, id: &str) -> Vec<String> {
    app.store
        .list_events_of(id)
        .await
        .unwrap()
        .into_iter()
        .map(|(kind, _)| kind)
        .collect()
}

/// The kinds of the audit events about a payment.
async fn audited(app: &TestApp, id: &str) -> Vec<String> {
    app.store
        .list_audit(&app.a.id, 500)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.subject_id == id)
        .map(|e| e.kind)
        .collect()
}

/// Subscribes company A to the pre-authorisation events, so they are written.
async fn subscribe(app: &TestApp) -> Listener {
    let hook = listener(vec![200; 20]).await;
    let (status, body) = app
        .post(
            &app.a,
            "/api/v1/webhook-endpoints",
            Some(json!({
                "url": hook.url,
                "events": ["payment.authorized", "payment.captured", "payment.released"],
            })),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    hook
}

/// Authorises `amount` with manual capture and checks the answer: `authorized`, the
/// block and its hold period shown.
async fn authorise(app: &TestApp, body: Value) -> Value {
    let (status, held) = app.pay(&app.a, &key(), &manual(body)).await;
    assert_eq!(status, StatusCode::CREATED, "{held}");
    assert_eq!(held["status"], "authorized", "{held}");
    assert_eq!(held["capture"], "manual");
    assert_eq!(held["held_amount"], held["amount"]);
    assert!(held["hold_until"].as_str().is_some(), "{held}");
    assert_eq!(held["hold_ends_soon"], false);
    assert!(
        held["message"]["tr"]
            .as_str()
            .unwrap()
            .starts_with("Provizyon alındı"),
        "{held}"
    );
    held
}

both_engines!(pre_auth_on_nkolay, |app: TestApp| async move {
    use sanalpos_simulator::{TxKind, TxStatus};
    let at_provider = |kind: TxKind| {
        app.sim
            .transactions(&app.a.merchant.merchant_no)
            .unwrap()
            .into_iter()
            .filter(|t| t.kind == kind && t.status == TxStatus::Success)
            .map(|t| t.amount.to_string())
            .collect::<Vec<_>>()
    };
    let _hook = subscribe(&app).await;

    // Authorise 100, capture 60: the rest is freed, the payment shows what was taken.
    let held = authorise(&app, payment("4546711234567894", "100.00")).await;
    let id = id_of(&held);
    assert_eq!(at_provider(TxKind::PreSales), ["100.00"]);
    assert!(app.charged(&app.a).is_empty(), "a block is no sale");

    // More than the block: refused here, the provider never hears of it.
    let (status, above) = app
        .post(
            &app.a,
            &format!("/api/v1/payments/{id}/capture"),
            Some(json!({"amount": "100.01"})),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{above}");
    assert_eq!(above["error"]["field"], "amount", "{above}");
    assert!(at_provider(TxKind::PreSalesCapture).is_empty());

    let capture_key = key();
    let path = format!("/api/v1/payments/{id}/capture");
    let (status, captured, replayed) = post_keyed(
        &app,
        &app.a,
        &path,
        &capture_key,
        Some(json!({"amount": "60.00"})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{captured}");
    assert!(!replayed);
    assert_eq!(captured["status"], "approved", "{captured}");
    assert_eq!(captured["amount"], "60.00");
    assert_eq!(captured["held_amount"], "100.00");
    assert_eq!(captured["capture"], "manual");
    assert_eq!(at_provider(TxKind::PreSalesCapture), ["60.00"]);

    // The same key again: the first answer, nothing sent again.
    let (status, again, replayed) = post_keyed(
        &app,
        &app.a,
        &path,
        &capture_key,
        Some(json!({"amount": "60.00"})),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert!(replayed);
    assert_eq!(again, captured);
    // A new key: the block is closed.
    let (status, twice) = app
        .post(&app.a, &path, Some(json!({"amount": "10.00"})))
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{twice}");
    assert_eq!(twice["error"]["code"], "not_authorized");
    assert_eq!(at_provider(TxKind::PreSalesCapture), ["60.00"]);
    assert_eq!(
        events(&app, &id).await,
        ["payment.authorized", "payment.captured"]
    );
    let audit = audited(&app, &id).await;
    assert!(
        audit.contains(&"payment.authorized".to_owned()),
        "{audit:?}"
    );
    assert!(audit.contains(&"payment.captured".to_owned()), "{audit:?}");

    // The captured payment is refunded as a sale is, up to what was captured.
    app.end_of_day().await;
    let (status, refunded) = app
        .post(
            &app.a,
            &format!("/api/v1/payments/{id}/refunds"),
            Some(json!({"amount": "60.00"})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{refunded}");
    assert_eq!(refunded["status"], "refunded", "{refunded}");

    // Authorise, release: nothing charged; no capture after it.
    let other = authorise(&app, payment("4546711234567894", "40.00")).await;
    let other_id = id_of(&other);
    let (status, released) = app
        .post(
            &app.a,
            &format!("/api/v1/payments/{other_id}/release"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{released}");
    assert_eq!(released["status"], "released", "{released}");
    assert_eq!(at_provider(TxKind::PreSalesRelease), ["40.00"]);
    let (status, late) = app
        .post(
            &app.a,
            &format!("/api/v1/payments/{other_id}/capture"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{late}");
    assert_eq!(at_provider(TxKind::PreSalesCapture), ["60.00"]);
    assert_eq!(
        events(&app, &other_id).await,
        ["payment.authorized", "payment.released"]
    );

    // Another company's payment is not found; a sale cannot be captured.
    let (status, _) = app
        .post(
            &app.b,
            &format!("/api/v1/payments/{other_id}/release"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (_, sale) = app
        .pay(&app.a, &key(), &payment("4546711234567894", "5.00"))
        .await;
    let (status, not_held) = app
        .post(
            &app.a,
            &format!("/api/v1/payments/{}/capture", id_of(&sale)),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{not_held}");
    assert_eq!(not_held["error"]["code"], "not_authorized");

    // An authorisation whose hold period ended: released by the janitor, which says so.
    let expiring = authorise(&app, payment("4546711234567894", "25.00")).await;
    let expiring_id = id_of(&expiring);
    app.store
        .execute_for_test(
            "UPDATE payments SET hold_until = $1 WHERE id = $2",
            &[
                TestParam::Int(now_secs() * 1000 + 3_600_000),
                TestParam::Text(&expiring_id),
            ],
        )
        .await;
    let (_, soon) = app
        .get(&app.a, &format!("/api/v1/payments/{expiring_id}"))
        .await;
    assert_eq!(soon["hold_ends_soon"], true, "{soon}");
    app.store
        .execute_for_test(
            "UPDATE payments SET hold_until = $1 WHERE id = $2",
            &[
                TestParam::Int(now_secs() * 1000 - 1_000),
                TestParam::Text(&expiring_id),
            ],
        )
        .await;
    let report = app.service.run_janitor_once().await.unwrap();
    assert_eq!(report.holds_released, 1, "{report:?}");
    let (_, expired) = app
        .get(&app.a, &format!("/api/v1/payments/{expiring_id}"))
        .await;
    assert_eq!(expired["status"], "released", "{expired}");
    assert!(
        expired["message"]["en"]
            .as_str()
            .unwrap()
            .contains("hold period"),
        "{expired}"
    );
    assert_eq!(at_provider(TxKind::PreSalesRelease).len(), 2);
    let audit = audited(&app, &expiring_id).await;
    assert!(audit.contains(&"payment.released".to_owned()), "{audit:?}");
    // The list filters authorisations still held.
    let (_, held_now) = app.get(&app.a, "/api/v1/payments?status=authorized").await;
    assert_eq!(held_now["items"].as_array().unwrap().len(), 0, "{held_now}");

    // An expired hold whose release the bank refuses (our record of the block no longer
    // matches the bank's): tried on the next passes, then left for a person, not sent
    // again on every pass.
    let refused = authorise(&app, payment("4546711234567894", "35.00")).await;
    let refused_id = id_of(&refused);
    app.store
        .execute_for_test(
            "UPDATE payments SET hold_until = $1, held_amount = held_amount + 1 WHERE id = $2",
            &[
                TestParam::Int(now_secs() * 1000 - 1_000),
                TestParam::Text(&refused_id),
            ],
        )
        .await;
    let releases_sent = |attempts: &Value| {
        attempts
            .as_array()
            .unwrap()
            .iter()
            .filter(|a| a["operation"] == "release")
            .count()
    };
    for pass in 1..=sanalpos_service::MAX_RELEASE_REFUSALS + 2 {
        let report = app.service.run_janitor_once().await.unwrap();
        assert_eq!(report.holds_released, 0, "pass {pass}: {report:?}");
        let (_, now) = app
            .get(&app.a, &format!("/api/v1/payments/{refused_id}"))
            .await;
        assert_eq!(now["status"], "authorized", "pass {pass}: {now}");
        let sent = releases_sent(&now["attempts"]);
        assert_eq!(
            sent,
            pass.min(sanalpos_service::MAX_RELEASE_REFUSALS),
            "pass {pass}: {now}"
        );
        let review = now["review_reason"].as_str();
        if pass < sanalpos_service::MAX_RELEASE_REFUSALS {
            assert_eq!(review, None, "pass {pass}: {now}");
        } else {
            let review = review.unwrap_or_else(|| panic!("pass {pass}: {now}"));
            assert!(
                review.contains("refused to release") && review.contains("3 times"),
                "{review}"
            );
        }
    }
    let audit = audited(&app, &refused_id).await;
    assert_eq!(
        audit
            .iter()
            .filter(|k| *k == "payment.needs_review")
            .count(),
        1,
        "{audit:?}"
    );

    // A pre-authorisation through 3D Secure: the bank's page, then held.
    let mut three_d = manual(payment("4546711234567894", "75.00"));
    three_d["three_d"] = json!(true);
    three_d["return_url"] = json!("https://shop.example/return");
    let (status, started) = app.pay(&app.a, &key(), &three_d).await;
    assert_eq!(status, StatusCode::CREATED, "{started}");
    assert_eq!(started["status"], "pending_3ds", "{started}");
    let redirect = started["next_action"]["redirect_url"].as_str().unwrap();
    app.walk_3d(redirect, sanalpos_simulator::cards::UNIVERSAL_3D_CODE)
        .await;
    let three_d_id = id_of(&started);
    let (_, after) = app
        .get(&app.a, &format!("/api/v1/payments/{three_d_id}"))
        .await;
    assert_eq!(after["status"], "authorized", "{after}");
    assert_eq!(at_provider(TxKind::PreSales).len(), 5);

    // Reconciliation: blocks and releases are no money; the capture and its refund
    // agree with the provider, nothing is an exception.
    let day = sanalpos_service::istanbul_today().to_string();
    let (status, run) = app
        .post(
            &app.a,
            "/api/v1/reconciliations",
            Some(json!({"pos_id": app.a.pos_id, "from": day, "to": day})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{run}");
    for class in [
        "amount_mismatch",
        "status_mismatch",
        "provider_only",
        "system_only",
        "duplicate",
    ] {
        assert_eq!(run["summary"][class], 0, "{class}: {run}");
    }
    assert_eq!(run["open_exceptions"], 0, "{run}");
});

both_engines!(pre_auth_on_nestpay, |app: TestApp| async move {
    use sanalpos_simulator::nestpay::{self, NestpayConfig, NestpayMerchant, TxStatus, TxType};
    let merchant = NestpayMerchant::generate();
    let bank = nestpay::spawn(
        NestpayConfig {
            merchants: vec![merchant.clone()],
            test_mode: true,
            ..NestpayConfig::default()
        },
        tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap(),
    )
    .await
    .unwrap();
    let pos = app
        .service
        .create_pos(
            &app.a.id,
            crate::helpers::pos::nestpay_pos(&bank.base_url(), &merchant),
            "test",
        )
        .await
        .unwrap();
    let on_bank = |amount: &str| {
        let mut body = payment("4546711234567894", amount);
        body["pos_id"] = json!(pos.id);
        body
    };
    let at_bank = |kind: TxType| {
        bank.transactions(&merchant.client_id)
            .unwrap()
            .into_iter()
            .filter(|t| t.kind == kind && t.status == TxStatus::Approved)
            .map(|t| t.amount.to_string())
            .collect::<Vec<_>>()
    };

    let _hook = subscribe(&app).await;
    let held = authorise(&app, on_bank("80.00")).await;
    let id = id_of(&held);
    assert_eq!(at_bank(TxType::PreAuth), ["80.00"]);
    let (status, above) = app
        .post(
            &app.a,
            &format!("/api/v1/payments/{id}/capture"),
            Some(json!({"amount": "90.00"})),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{above}");
    assert!(at_bank(TxType::PostAuth).is_empty());
    let (status, captured) = app
        .post(
            &app.a,
            &format!("/api/v1/payments/{id}/capture"),
            Some(json!({"amount": "50.00"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{captured}");
    assert_eq!(captured["status"], "approved", "{captured}");
    assert_eq!(captured["amount"], "50.00");
    assert_eq!(at_bank(TxType::PostAuth), ["50.00"]);

    let other = authorise(&app, on_bank("30.00")).await;
    let other_id = id_of(&other);
    let (status, released) = app
        .post(
            &app.a,
            &format!("/api/v1/payments/{other_id}/release"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{released}");
    assert_eq!(released["status"], "released", "{released}");
    assert_eq!(at_bank(TxType::Void).len(), 1);
    assert_eq!(
        events(&app, &other_id).await,
        ["payment.authorized", "payment.released"]
    );

    // The captured payment is refunded after the bank's day closes.
    bank.end_of_day(None);
    let (status, refunded) = app
        .post(
            &app.a,
            &format!("/api/v1/payments/{id}/refunds"),
            Some(json!({"amount": "20.00"})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{refunded}");
    assert_eq!(refunded["status"], "partially_refunded", "{refunded}");
    assert_eq!(at_bank(TxType::Credit), ["20.00"]);
});
