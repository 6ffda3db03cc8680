//! The payments API end to end, on SQLite and PostgreSQL: a real service, a real
//! simulator, real HTTP.

#![allow(clippy::unwrap_used)]

use crate::helpers::*;
use reqwest::StatusCode;
use serde_json::{json, Value};

both_engines!(approved_and_declined, |app: TestApp| async move {
    let (status, body) = app
        .pay(&app.a, &key(), &payment("4546711234567894", "150.00"))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["status"], "approved");
    assert_eq!(body["amount"], "150.00");
    assert_eq!(body["masked_pan"], "454671******7894");
    assert!(body["auth_code"].as_str().is_some_and(|c| !c.is_empty()));
    assert!(body["provider_ref"]
        .as_str()
        .unwrap()
        .starts_with("IKSIRPF"));
    assert!(!body.to_string().contains("4546711234567894"));
    assert_eq!(body["message"]["tr"], "Onaylandı");

    let mut declined_id = String::new();
    for (pan, code, tr) in [
        (
            "4000000000000515",
            "51",
            "Yetersiz bakiye / yetersiz kart limiti",
        ),
        ("4000000000000416", "41", "Kayıp kart! Karta el koyunuz"),
        ("4000000000000051", "05", "İşlem onaylanmadı"),
    ] {
        let (status, body) = app.pay(&app.a, &key(), &payment(pan, "10.00")).await;
        assert_eq!(
            status,
            StatusCode::CREATED,
            "every attempt made is a 201: {body}"
        );
        assert_eq!(body["status"], "declined", "{pan}: {body}");
        assert_eq!(body["bank_code"], code);
        assert_eq!(body["message"]["tr"], tr);
        assert!(body["message"]["en"]
            .as_str()
            .is_some_and(|m| !m.is_empty()));
        declined_id = body["id"].as_str().unwrap().to_owned();
    }

    // The detail carries the attempt log.
    let (status, detail) = app
        .get(&app.a, &format!("/api/v1/payments/{declined_id}"))
        .await;
    assert_eq!(status, StatusCode::OK);
    let attempts = detail["attempts"].as_array().unwrap();
    assert_eq!(attempts.len(), 1);
    assert_eq!(attempts[0]["state"], "completed");
    assert_eq!(attempts[0]["outcome"], "declined");
});

both_engines!(bad_requests_change_nothing, |app: TestApp| async move {
    let card = "4546711234567894";
    let mut three_decimals = payment(card, "1.005");
    three_decimals["amount"] = json!("1.005");
    let (status, body) = app.pay(&app.a, &key(), &three_decimals).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"]["field"], "amount");

    let (status, body) = app
        .pay(&app.a, &key(), &payment("4546711234567895", "10.00"))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"]["field"], "card.number");
    assert!(!body.to_string().contains("4546711234567895"), "{body}");

    let mut number_as_int = payment(card, "10.00");
    number_as_int["card"]["number"] = json!(4546711234567894u64);
    let (status, body) = app.pay(&app.a, &key(), &number_as_int).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(!body.to_string().contains(card), "{body}");

    let mut three_d = payment(card, "10.00");
    three_d["three_d"] = json!(true);
    let (status, body) = app.pay(&app.a, &key(), &three_d).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["error"]["field"], "return_url");

    let response = app
        .http
        .post(app.url("/api/v1/payments"))
        .bearer_auth(&app.a.api_key)
        .header("Idempotency-Key", key())
        .body("{\"amount\": ")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let body: Value = serde_json::from_str(&response.text().await.unwrap()).unwrap();
    assert_eq!(body["error"]["code"], "invalid_request");

    let response = app
        .http
        .post(app.url("/api/v1/payments"))
        .bearer_auth(&app.a.api_key)
        .body(payment(card, "10.00").to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(
        response.status(),
        StatusCode::BAD_REQUEST,
        "Idempotency-Key is required"
    );

    let huge = "x".repeat(200_000);
    // The server answers 413 and closes the connection: a client of its own, so no later
    // request picks that connection up from the pool.
    let response = reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .build()
        .unwrap()
        .post(app.url("/api/v1/payments"))
        .bearer_auth(&app.a.api_key)
        .header("Idempotency-Key", key())
        .body(huge)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);

    let response = app
        .http
        .post(app.url("/api/v1/payments"))
        .header("Idempotency-Key", key())
        .body(payment(card, "10.00").to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);

    let (status, list) = app.get(&app.a, "/api/v1/payments").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        list["items"].as_array().unwrap().len(),
        0,
        "nothing was written"
    );
    assert!(app.charged(&app.a).is_empty(), "nothing was charged");
});

both_engines!(
    idempotency_one_sale_for_fifty_requests,
    |app: TestApp| async move {
        let app = std::sync::Arc::new(app);
        let body = payment("5200190006338608", "99.90");
        let shared = key();
        let mut tasks = Vec::new();
        for _ in 0..50 {
            let app = app.clone();
            let body = body.clone();
            let shared = shared.clone();
            tasks.push(tokio::spawn(async move {
                app.pay(&app.a, &shared, &body).await
            }));
        }
        let mut answers = Vec::new();
        for task in tasks {
            answers.push(task.await.unwrap());
        }
        for (status, answer) in &answers {
            assert_eq!(*status, StatusCode::CREATED, "{answer}");
            assert_eq!(answer, &answers[0].1, "every answer is the first one");
        }
        assert_eq!(
            app.charged(&app.a).len(),
            1,
            "exactly one sale at the provider"
        );

        let (status, answer) = app
            .pay(&app.a, &shared, &payment("5200190006338608", "99.91"))
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{answer}");
        assert_eq!(answer["error"]["code"], "idempotency_key_reused");
        // Keys are per company: B may use the same key for its own payment.
        let (status, answer) = app.pay(&app.b, &shared, &body).await;
        assert_eq!(status, StatusCode::CREATED);
        assert_ne!(answer["id"], answers[0].1["id"]);
    }
);

both_engines!(companies_are_isolated, |app: TestApp| async move {
    let (_, paid) = app
        .pay(&app.a, &key(), &payment("4546711234567894", "40.00"))
        .await;
    let id = paid["id"].as_str().unwrap();
    let (status, _) = app.get(&app.b, &format!("/api/v1/payments/{id}")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    for action in ["cancel", "reverse"] {
        let (status, _) = app
            .post(&app.b, &format!("/api/v1/payments/{id}/{action}"), None)
            .await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{action}");
    }
    let (status, _) = app
        .post(
            &app.b,
            &format!("/api/v1/payments/{id}/refunds"),
            Some(json!({"amount": "1.00"})),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (_, list) = app.get(&app.b, "/api/v1/payments").await;
    assert!(list["items"].as_array().unwrap().is_empty());
    let (_, list) = app.get(&app.a, "/api/v1/payments").await;
    assert_eq!(list["items"].as_array().unwrap().len(), 1);
    // A's payment is untouched.
    let (_, detail) = app.get(&app.a, &format!("/api/v1/payments/{id}")).await;
    assert_eq!(detail["status"], "approved");
});

both_engines!(cancel_refund_and_reverse, |app: TestApp| async move {
    let pay = |amount: &'static str| {
        let app = &app;
        async move {
            let (_, body) = app
                .pay(&app.a, &key(), &payment("4546711234567894", amount))
                .await;
            assert_eq!(body["status"], "approved", "{body}");
            body["id"].as_str().unwrap().to_owned()
        }
    };
    // Cancel on the same day.
    let id = pay("100.00").await;
    let (status, body) = app
        .post(&app.a, &format!("/api/v1/payments/{id}/cancel"), None)
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["status"], "cancelled");

    // Reverse before the end of day is a cancel.
    let id_reverse_early = pay("30.00").await;
    let (_, body) = app
        .post(
            &app.a,
            &format!("/api/v1/payments/{id_reverse_early}/reverse"),
            None,
        )
        .await;
    assert_eq!(body["status"], "cancelled", "{body}");

    let id = pay("100.00").await;
    let id_reverse_late = pay("50.00").await;
    app.end_of_day().await;
    // After the end of day a cancel is refused, a refund works.
    let (status, body) = app
        .post(&app.a, &format!("/api/v1/payments/{id}/cancel"), None)
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    let refund = |amount: &'static str| {
        let app = &app;
        let id = id.clone();
        async move {
            app.post(
                &app.a,
                &format!("/api/v1/payments/{id}/refunds"),
                Some(json!({"amount": amount})),
            )
            .await
        }
    };
    let (status, body) = refund("30.00").await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["status"], "partially_refunded");
    assert_eq!(body["refunded_amount"], "30.00");
    let (status, body) = refund("70.01").await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(body["error"]["code"], "refund_exceeds_captured");
    let (status, body) = refund("70.00").await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["status"], "refunded");
    let (status, _) = refund("0.01").await;
    assert_eq!(status, StatusCode::CONFLICT);

    // Reverse after the end of day is a refund of everything.
    let (_, body) = app
        .post(
            &app.a,
            &format!("/api/v1/payments/{id_reverse_late}/reverse"),
            None,
        )
        .await;
    assert_eq!(body["status"], "refunded", "{body}");
    let (_, detail) = app
        .get(&app.a, &format!("/api/v1/payments/{id_reverse_late}"))
        .await;
    let refunds = detail["refunds"].as_array().unwrap();
    assert!(refunds
        .iter()
        .any(|r| r["kind"] == "refund" && r["status"] == "approved"));
});

both_engines!(
    fault_cards_end_right_after_the_janitor,
    |app: TestApp| async move {
        let cases = [
            ("4000000000009011", "approved"),
            ("4000000000009029", "approved"),
            ("4000000000009037", "failed"),
            ("4000000000009045", "approved"),
            ("4000000000009052", "approved"),
            ("4000000000009060", "failed"),
        ];
        let mut ids = Vec::new();
        for (pan, _) in cases {
            let (status, body) = app.pay(&app.a, &key(), &payment(pan, "20.00")).await;
            assert_eq!(status, StatusCode::CREATED, "{pan}: {body}");
            assert_eq!(body["status"], "unknown", "{pan}: {body}");
            ids.push(body["id"].as_str().unwrap().to_owned());
        }
        // Past the provider timeout and the grace period, the janitor decides by inquiry.
        tokio::time::sleep(std::time::Duration::from_millis(2500)).await;
        app.service.run_janitor_once().await.unwrap();
        let charged = app.charged(&app.a);
        for ((pan, expected), id) in cases.iter().zip(&ids) {
            let (_, detail) = app.get(&app.a, &format!("/api/v1/payments/{id}")).await;
            assert_eq!(detail["status"], *expected, "{pan}: {detail}");
            let at_provider = charged
                .iter()
                .any(|t| Some(t.reference_code.as_str()) == detail["provider_ref"].as_str());
            assert_eq!(
                at_provider,
                *expected == "approved",
                "{pan}: the ledger agrees"
            );
        }
        assert_eq!(charged.len(), 4, "nothing charged twice");
    }
);

both_engines!(three_d_right_and_wrong_code, |app: TestApp| async move {
    for (code, expected) in [("123456", "approved"), ("000000", "declined")] {
        let mut body = payment("4546711234567894", "75.00");
        body["three_d"] = json!(true);
        body["return_url"] = json!("https://shop.example/return?order=1");
        let (status, created) = app.pay(&app.a, &key(), &body).await;
        assert_eq!(status, StatusCode::CREATED, "{created}");
        assert_eq!(created["status"], "pending_3ds");
        let redirect = created["next_action"]["redirect_url"]
            .as_str()
            .unwrap()
            .to_owned();
        // The browser opens our page, which posts itself to the bank's page; the
        // bank's result page posts itself back to us, and we send the browser on.
        let walk = app.walk_3d(&redirect, code).await;
        let back = walk.postback;
        assert!(back.action.starts_with(&app.base_url), "{}", back.action);
        let location = walk.location;
        assert!(
            location.starts_with("https://shop.example/return?order=1&"),
            "{location}"
        );
        assert!(
            location.contains(&format!("status={expected}")),
            "{location}"
        );
        let id = created["id"].as_str().unwrap();
        let (_, detail) = app.get(&app.a, &format!("/api/v1/payments/{id}")).await;
        assert_eq!(detail["status"], expected, "{detail}");
        // The same postback again changes nothing.
        let again = app
            .http
            .post(&back.action)
            .form(&back.fields)
            .send()
            .await
            .unwrap();
        assert!(again.status().is_client_error() || again.status() == StatusCode::SEE_OTHER);
        let (_, after) = app.get(&app.a, &format!("/api/v1/payments/{id}")).await;
        assert_eq!(after["status"], expected);
    }
});

both_engines!(health_metrics_and_headers, |app: TestApp| async move {
    for path in ["/healthz", "/readyz", "/metrics"] {
        let response = app.http.get(app.url(path)).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{path}");
        assert_eq!(response.headers()["x-content-type-options"], "nosniff");
        assert_eq!(response.headers()["x-frame-options"], "DENY");
    }
    app.pay(&app.a, &key(), &payment("4546711234567894", "1.00"))
        .await;
    let metrics = app
        .http
        .get(app.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("sanalpos_payment_outcomes_total{status=\"approved\"} 1"),
        "{metrics}"
    );
});

both_engines!(a_garanti_pos_over_the_api, |app: TestApp| async move {
    use sanalpos_simulator::garanti::{self, GarantiConfig, GarantiMerchant, TxType};
    let merchant = GarantiMerchant::generate();
    let bank = garanti::spawn(
        GarantiConfig {
            merchants: vec![merchant.clone()],
            test_mode: true,
            ..GarantiConfig::default()
        },
        tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap(),
    )
    .await
    .unwrap();
    let pos = app
        .service
        .create_pos(
            &app.a.id,
            crate::helpers::pos::garanti_pos(&bank.base_url(), &merchant),
            "test",
        )
        .await
        .unwrap();
    let on_bank = |pan: &str, amount: &str| {
        let mut body = payment(pan, amount);
        body["pos_id"] = json!(pos.id);
        body
    };
    let at_bank = |kind: TxType| {
        bank.transactions(&merchant.terminal_id)
            .unwrap()
            .into_iter()
            .filter(|t| t.kind == kind && t.approved)
            .count()
    };

    // A sale, and a decline in the bank's words.
    let (status, sale) = app
        .pay(&app.a, &key(), &on_bank("4546711234567894", "150.00"))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{sale}");
    assert_eq!(sale["status"], "approved", "{sale}");
    assert_eq!(sale["pos_id"], json!(pos.id));
    let (_, declined) = app
        .pay(&app.a, &key(), &on_bank("4000000000000515", "20.00"))
        .await;
    assert_eq!(declined["status"], "declined", "{declined}");
    assert_eq!(declined["bank_code"], "51");
    assert!(declined["message"]["tr"]
        .as_str()
        .unwrap()
        .starts_with("Yetersiz bakiye"));
    assert_eq!(at_bank(TxType::Sales), 1);

    // Cancelled on its day through the API: the bank voids it.
    let id = sale["id"].as_str().unwrap();
    let (status, cancelled) = app
        .post(&app.a, &format!("/api/v1/payments/{id}/cancel"), None)
        .await;
    assert_eq!(status, StatusCode::OK, "{cancelled}");
    assert_eq!(cancelled["status"], "cancelled", "{cancelled}");
    assert_eq!(at_bank(TxType::Void), 1);
});

both_engines!(a_posnet_pos_over_the_api, |app: TestApp| async move {
    use sanalpos_simulator::posnet::{self, PosnetConfig, PosnetMerchant, TxKind};
    let merchant = PosnetMerchant::generate();
    let bank = posnet::spawn(
        PosnetConfig {
            merchants: vec![merchant.clone()],
            test_mode: true,
            ..PosnetConfig::default()
        },
        tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap(),
    )
    .await
    .unwrap();
    let pos = app
        .service
        .create_pos(
            &app.a.id,
            crate::helpers::pos::posnet_pos(&bank.base_url(), &merchant),
            "test",
        )
        .await
        .unwrap();
    let on_bank = |pan: &str, amount: &str| {
        let mut body = payment(pan, amount);
        body["pos_id"] = json!(pos.id);
        body
    };
    let at_bank = |kind: TxKind| {
        bank.transactions(&merchant.tid)
            .unwrap()
            .into_iter()
            .filter(|t| t.kind == kind && t.approved)
            .count()
    };

    // A sale, and a decline in the bank's words.
    let (status, sale) = app
        .pay(&app.a, &key(), &on_bank("4546711234567894", "150.00"))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{sale}");
    assert_eq!(sale["status"], "approved", "{sale}");
    assert_eq!(sale["pos_id"], json!(pos.id));
    let (_, declined) = app
        .pay(&app.a, &key(), &on_bank("4000000000000515", "20.00"))
        .await;
    assert_eq!(declined["status"], "declined", "{declined}");
    assert_eq!(declined["bank_code"], "51");
    assert!(declined["message"]["tr"]
        .as_str()
        .unwrap()
        .starts_with("Yetersiz bakiye"));
    assert_eq!(at_bank(TxKind::Sale), 1);

    // Cancelled on its day through the API: the bank reverses it.
    let id = sale["id"].as_str().unwrap();
    let (status, cancelled) = app
        .post(&app.a, &format!("/api/v1/payments/{id}/cancel"), None)
        .await;
    assert_eq!(status, StatusCode::OK, "{cancelled}");
    assert_eq!(cancelled["status"], "cancelled", "{cancelled}");
    assert_eq!(at_bank(TxKind::Reverse), 1);
});

both_engines!(a_nestpay_pos_over_the_api, |app: TestApp| async move {
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
    let on_bank = |pan: &str, amount: &str| {
        let mut body = payment(pan, amount);
        body["pos_id"] = json!(pos.id);
        body
    };
    let approved_at_bank = || {
        bank.transactions(&merchant.client_id)
            .unwrap()
            .into_iter()
            .filter(|t| t.kind == TxType::Auth && t.status == TxStatus::Approved)
            .count()
    };

    // A sale, and a decline in the bank's words.
    let (status, sale) = app
        .pay(&app.a, &key(), &on_bank("4546711234567894", "150.00"))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{sale}");
    assert_eq!(sale["status"], "approved", "{sale}");
    assert_eq!(sale["pos_id"], json!(pos.id));
    assert!(sale["auth_code"].as_str().is_some_and(|c| !c.is_empty()));
    let (_, declined) = app
        .pay(&app.a, &key(), &on_bank("4000000000000515", "20.00"))
        .await;
    assert_eq!(declined["status"], "declined", "{declined}");
    assert_eq!(declined["bank_code"], "51");
    assert!(declined["message"]["tr"]
        .as_str()
        .unwrap()
        .starts_with("Yetersiz bakiye"));
    assert_eq!(approved_at_bank(), 1);

    // 3D (the bank's `3d` model): the card goes from our page to the bank's gate; the
    // right code charges once, a replayed callback changes nothing, a wrong code
    // charges nothing.
    for (code, expected) in [("123456", "approved"), ("000000", "declined")] {
        let mut body = on_bank("5200190006338608", "75.00");
        body["three_d"] = json!(true);
        body["return_url"] = json!("https://shop.example/return");
        let (_, created) = app.pay(&app.a, &key(), &body).await;
        assert_eq!(created["status"], "pending_3ds", "{created}");
        let redirect = created["next_action"]["redirect_url"].as_str().unwrap();
        let walk = app.walk_3d_at(&bank.base_url(), redirect, code).await;
        assert!(
            walk.location.contains(&format!("status={expected}")),
            "{}",
            walk.location
        );
        let again = app
            .http
            .post(&walk.postback.action)
            .form(&walk.postback.fields)
            .send()
            .await
            .unwrap();
        assert_eq!(again.status(), StatusCode::CONFLICT);
        let id = created["id"].as_str().unwrap();
        let (_, detail) = app.get(&app.a, &format!("/api/v1/payments/{id}")).await;
        assert_eq!(detail["status"], expected, "{detail}");
        // The page carrying the card is served once, and only from memory.
        let reopened = app.http.get(redirect).send().await.unwrap();
        assert!(reopened.status().is_client_error(), "{}", reopened.status());
    }
    assert_eq!(approved_at_bank(), 2);

    // A partial refund on the sale's day: accepted (202) as scheduled for after the
    // bank's end of day, holding its amount; withdrawn, it frees the amount again.
    let id = sale["id"].as_str().unwrap();
    let (status, scheduled) = app
        .post(
            &app.a,
            &format!("/api/v1/payments/{id}/refunds"),
            Some(json!({"amount": "50.00"})),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{scheduled}");
    assert_eq!(scheduled["id"], json!(id), "{scheduled}");
    assert_eq!(scheduled["status"], "approved", "{scheduled}");
    assert_eq!(scheduled["refunded_amount"], "0.00", "{scheduled}");
    assert_eq!(scheduled["refund"]["status"], "scheduled", "{scheduled}");
    assert_eq!(scheduled["refund"]["kind"], "refund", "{scheduled}");
    assert_eq!(scheduled["refund"]["amount"], "50.00", "{scheduled}");
    assert_eq!(
        scheduled["refund"]["message"],
        json!({"tr": "Banka günü kapanınca iade edilecek", "en": "Will be refunded when the bank's day closes"})
    );
    let refund_id = scheduled["refund"]["id"].as_str().unwrap().to_owned();
    let (status, over) = app
        .post(
            &app.a,
            &format!("/api/v1/payments/{id}/refunds"),
            Some(json!({"amount": "100.01"})),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{over}");
    assert_eq!(over["error"]["code"], "refund_exceeds_captured");
    let (_, detail) = app.get(&app.a, &format!("/api/v1/payments/{id}")).await;
    assert_eq!(detail["refunds"][0]["status"], "scheduled", "{detail}");
    // Another company cannot see it, let alone withdraw it.
    let withdraw = format!("/api/v1/payments/{id}/refunds/{refund_id}/withdraw");
    let (status, _) = app.post(&app.b, &withdraw, None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, withdrawn) = app.post(&app.a, &withdraw, None).await;
    assert_eq!(status, StatusCode::OK, "{withdrawn}");
    assert_eq!(
        withdrawn["refunds"][0]["status"], "withdrawn",
        "{withdrawn}"
    );
    assert_eq!(withdrawn["status"], "approved", "{withdrawn}");
    let (status, again) = app.post(&app.a, &withdraw, None).await;
    assert_eq!(status, StatusCode::CONFLICT, "{again}");
    assert_eq!(again["error"]["code"], "not_withdrawable");
    let (status, unknown) = app
        .post(
            &app.a,
            &format!("/api/v1/payments/{id}/refunds/ref_nope/withdraw"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{unknown}");
    let events = app.store.list_audit(&app.a.id, 50).await.unwrap();
    assert!(events.iter().any(|e| e.kind == "refund.withdrawn"));
    let (_, second) = app
        .pay(&app.a, &key(), &on_bank("4546711234567894", "80.00"))
        .await;
    let (_, late) = app
        .pay(&app.a, &key(), &on_bank("4546711234567894", "40.00"))
        .await;
    let (status, cancelled) = app
        .post(&app.a, &format!("/api/v1/payments/{id}/cancel"), None)
        .await;
    assert_eq!(status, StatusCode::OK, "{cancelled}");
    assert_eq!(cancelled["status"], "cancelled");
    bank.end_of_day(None);
    let second = second["id"].as_str().unwrap();
    let (status, refunded) = app
        .post(
            &app.a,
            &format!("/api/v1/payments/{second}/refunds"),
            Some(json!({"amount": "30.00"})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{refunded}");
    assert_eq!(refunded["status"], "partially_refunded", "{refunded}");
    // A sale of the closed day cannot be cancelled any more: the bank says so.
    let late = late["id"].as_str().unwrap();
    let (status, too_late) = app
        .post(&app.a, &format!("/api/v1/payments/{late}/cancel"), None)
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{too_late}");
    assert_eq!(too_late["error"]["code"], "cancel_not_possible");
    let ledger = bank.transactions(&merchant.client_id).unwrap();
    assert_eq!(
        ledger
            .iter()
            .filter(|t| t.kind == TxType::Void && t.status == TxStatus::Approved)
            .count(),
        1
    );
    assert_eq!(
        ledger
            .iter()
            .filter(|t| t.kind == TxType::Credit && t.status == TxStatus::Approved)
            .map(|t| t.amount.minor())
            .sum::<i64>(),
        3000
    );
    bank.shutdown().await;
});

/// Small limits in a window far longer than the test (so no window ends in it).
fn small_limits(config: &mut sanalpos_server::Config) {
    config.rate_limits = sanalpos_server::ratelimit::RateLimits {
        api_window_secs: 1_000_000_000,
        payments_per_key: 3,
        payments_per_company: 5,
        requests_per_key: 4,
        requests_per_company: 0,
        ..sanalpos_server::ratelimit::RateLimits::default()
    };
}

/// POST /api/v1/payments with the raw answer, for its headers.
async fn pay_raw(app: &TestApp, api_key: &str, key: &str, body: &Value) -> reqwest::Response {
    app.http
        .post(app.url("/api/v1/payments"))
        .bearer_auth(api_key)
        .header("Idempotency-Key", key)
        .header("Content-Type", "application/json")
        .body(body.to_string())
        .send()
        .await
        .unwrap()
}

/// A 429 in the error envelope with a `Retry-After` in the window; its message.
async fn assert_limited(response: reqwest::Response) -> String {
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry_after: u64 = response.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=1_000_000_000).contains(&retry_after), "{retry_after}");
    let body: Value = serde_json::from_str(&response.text().await.unwrap()).unwrap();
    assert_eq!(body["error"]["code"], "rate_limited", "{body}");
    let message = body["error"]["message"].as_str().unwrap().to_owned();
    assert!(message.contains("retry after"), "{message}");
    message
}

async fn rate_limits_refuse_bursts_and_skip_replays(app: TestApp) {
    let card = "4546711234567894";
    let key_a = app.a.api_key.clone();

    // One payment, then its answer replayed ten times: the replays are not counted.
    let first_key = key();
    let first_body = payment(card, "11.00");
    let (status, first) = app.pay(&app.a, &first_key, &first_body).await;
    assert_eq!(status, StatusCode::CREATED, "{first}");
    for _ in 0..10 {
        let response = pay_raw(&app, &key_a, &first_key, &first_body).await;
        assert_eq!(response.status(), StatusCode::CREATED);
        assert_eq!(response.headers()["idempotent-replayed"], "true");
        let replayed: Value = serde_json::from_str(&response.text().await.unwrap()).unwrap();
        assert_eq!(replayed, first, "the stored answer");
    }
    // So the key still has two payments of its three.
    for amount in ["12.00", "13.00"] {
        let (status, body) = app.pay(&app.a, &key(), &payment(card, amount)).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }
    // The fourth new payment is refused before it runs; its key is given back, so the
    // same request is refused again rather than replayed.
    let over_key = key();
    let over_body = payment(card, "14.00");
    let message = assert_limited(pay_raw(&app, &key_a, &over_key, &over_body).await).await;
    assert!(message.contains("this API key"), "{message}");
    // A replay is still answered over the limit: it changes nothing.
    let response = pay_raw(&app, &key_a, &first_key, &first_body).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    assert_eq!(response.headers()["idempotent-replayed"], "true");

    // The company's limit (5) counts every key: 3 made + 1 refused by key A; key B
    // makes one more, then its next is refused on the company's count.
    let (_, key_b) = app
        .service
        .create_api_key(&app.a.id, "second", "test")
        .await
        .unwrap();
    let response = pay_raw(&app, &key_b, &key(), &payment(card, "15.00")).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let message =
        assert_limited(pay_raw(&app, &key_b, &key(), &payment(card, "16.00")).await).await;
    assert!(message.contains("this company"), "{message}");

    // Another company is not held back.
    let (status, body) = app.pay(&app.b, &key(), &payment(card, "17.00")).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");

    // Nothing refused reached the bank or the payment list.
    assert_eq!(app.charged(&app.a).len(), 4, "three by key A, one by key B");
    let (status, list) = app.get(&app.a, "/api/v1/payments").await;
    assert_eq!(status, StatusCode::OK, "{list}");
    let amounts: Vec<&str> = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["amount"].as_str().unwrap())
        .collect();
    assert_eq!(amounts.len(), 4, "{amounts:?}");
    for refused in ["14.00", "16.00"] {
        assert!(!amounts.contains(&refused), "{amounts:?}");
    }

    // Other requests have their own count (4 per key): the list above was one.
    for _ in 0..3 {
        let (status, body) = app.get(&app.a, "/api/v1/payment-links").await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    let response = app
        .http
        .get(app.url("/api/v1/payments"))
        .bearer_auth(&key_a)
        .send()
        .await
        .unwrap();
    assert_limited(response).await;
    // A refused write is refused before its handler: no payment link is made.
    let response = app
        .http
        .post(app.url("/api/v1/checkout-sessions"))
        .bearer_auth(&key_a)
        .header("Content-Type", "application/json")
        .body(
            json!({"purpose": "account", "min_amount": "10.00", "max_amount": "20.00"}).to_string(),
        )
        .send()
        .await
        .unwrap();
    assert_limited(response).await;
    let links = app
        .service
        .list_payment_links(&app.a.id, &sanalpos_service::LinkFilter::default())
        .await
        .unwrap();
    assert!(links.items.is_empty(), "{links:?}");

    let metrics = app
        .http
        .get(app.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for line in [
        "sanalpos_rate_limited_total{scope=\"api_payment_key\"} 1",
        "sanalpos_rate_limited_total{scope=\"api_payment_company\"} 1",
        "sanalpos_rate_limited_total{scope=\"api_request_key\"} 2",
        "sanalpos_rate_limited_total{scope=\"ui_collect_user\"} 0",
    ] {
        assert!(metrics.contains(line), "{line} in\n{metrics}");
    }
}

mod rate_limits_refuse_bursts_and_skip_replays {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sqlite() {
        let app = TestApp::spawn_with(Db::Sqlite, "rate_limits", small_limits)
            .await
            .unwrap();
        rate_limits_refuse_bursts_and_skip_replays(app).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn postgres() {
        if let Some(app) = TestApp::spawn_with(Db::Postgres, "rate_limits", small_limits).await {
            rate_limits_refuse_bursts_and_skip_replays(app).await;
        }
    }
}
