//! Reconciliation end to end, on SQLite and PostgreSQL: payments through the API, the
//! simulator's report and statement as the provider's view, runs and resolutions over
//! HTTP.

#![allow(clippy::unwrap_used)]

use crate::helpers::*;
use reqwest::StatusCode;
use serde_json::{json, Value};

fn today() -> String {
    sanalpos_service::istanbul_today().to_string()
}

/// Pays and asserts the payment was approved; returns its id.
async fn approved(app: &TestApp, pan: &str, amount: &str) -> String {
    let (status, body) = app.pay(&app.a, &key(), &payment(pan, amount)).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["status"], "approved", "{body}");
    body["id"].as_str().unwrap().to_owned()
}

/// `POST /api/v1/reconciliations` for today as company `who`.
async fn pull(app: &TestApp, who: &Seeded) -> Value {
    let day = today();
    let (status, run) = app
        .post(
            who,
            "/api/v1/reconciliations",
            Some(json!({"pos_id": who.pos_id, "from": day, "to": day})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{run}");
    run
}

/// `POST /api/v1/reconciliations/import` with a raw CSV body.
async fn import(app: &TestApp, who: &Seeded, bytes: Vec<u8>) -> (StatusCode, Value) {
    let day = today();
    let response = app
        .http
        .post(app.url(&format!(
            "/api/v1/reconciliations/import?pos_id={}&from={day}&to={day}",
            who.pos_id
        )))
        .bearer_auth(&who.api_key)
        .header("Content-Type", "text/csv")
        .body(bytes)
        .send()
        .await
        .unwrap();
    let status = response.status();
    let text = response.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap())
}

/// The simulator's statement of today for company `who`.
async fn statement(app: &TestApp, who: &Seeded, encoding: &str) -> Vec<u8> {
    let response = app
        .http
        .get(format!(
            "{}/_sim/merchants/{}/statement?date={}&encoding={encoding}",
            app.sim.base_url(),
            who.merchant.merchant_no,
            today()
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    response.bytes().await.unwrap().to_vec()
}

fn assert_all_matched(run: &Value, expected: u64) {
    let summary = &run["summary"];
    assert_eq!(summary["matched"], expected, "{run}");
    for class in [
        "amount_mismatch",
        "status_mismatch",
        "provider_only",
        "system_only",
        "duplicate",
    ] {
        assert_eq!(summary[class], 0, "{class}: {run}");
    }
    assert_eq!(run["open_exceptions"], 0, "{run}");
    assert_eq!(run["items"].as_array().unwrap().len() as u64, expected);
}

/// The item holding a payment.
fn item_of<'a>(run: &'a Value, payment_id: &str) -> &'a Value {
    run["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| {
            i["payment_ids"]
                .as_array()
                .unwrap()
                .iter()
                .any(|p| p == payment_id)
        })
        .unwrap_or_else(|| panic!("no item for {payment_id}: {run}"))
}

both_engines!(normal_day_all_matched, |app: TestApp| async move {
    let ids = [
        approved(&app, "4546711234567894", "150.00").await,
        approved(&app, "5200190006338608", "99.90").await,
        approved(&app, "4546711234567894", "12.34").await,
    ];
    let run = pull(&app, &app.a).await;
    assert_eq!(run["source"], "pull");
    assert_eq!(run["status"], "completed");
    assert_all_matched(&run, 3);
    for id in &ids {
        assert_eq!(item_of(&run, id)["class"], "matched");
    }
    assert_eq!(run["totals"]["matched"]["ours"], "262.24", "{run}");
    assert_eq!(run["rejected_rows"], json!([]));

    let id = run["id"].as_str().unwrap();
    let (status, again) = app
        .get(&app.a, &format!("/api/v1/reconciliations/{id}"))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(again["summary"], run["summary"]);
    let (status, only) = app
        .get(
            &app.a,
            &format!("/api/v1/reconciliations/{id}?class=provider_only"),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(only["items"], json!([]));
    let (status, body) = app
        .get(
            &app.a,
            &format!("/api/v1/reconciliations/{id}?class=nonsense"),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
});

both_engines!(
    panel_sale_found_entered_and_matched,
    |app: TestApp| async move {
        approved(&app, "4546711234567894", "40.00").await;
        let response = app
            .http
            .post(format!(
                "{}/_sim/merchants/{}/panel-sales",
                app.sim.base_url(),
                app.a.merchant.merchant_no
            ))
            .header("Content-Type", "application/json")
            .body(
                json!({"amount": "12.50", "card": "5200190006338608", "client_ref": "SIP-PANEL-9"})
                    .to_string(),
            )
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::CREATED);
        let panel: Value = serde_json::from_str(&response.text().await.unwrap()).unwrap();

        let run = pull(&app, &app.a).await;
        assert_eq!(run["summary"]["matched"], 1, "{run}");
        assert_eq!(run["summary"]["provider_only"], 1, "{run}");
        assert_eq!(run["open_exceptions"], 1);
        let run_id = run["id"].as_str().unwrap();
        let (_, only) = app
            .get(
                &app.a,
                &format!("/api/v1/reconciliations/{run_id}?class=provider_only"),
            )
            .await;
        let items = only["items"].as_array().unwrap();
        assert_eq!(items.len(), 1, "{only}");
        let item = &items[0];
        assert_eq!(item["theirs"], "12.50");
        let row = &item["provider_rows"][0];
        assert_eq!(row["provider_ref"], panel["reference_code"]);
        assert_eq!(row["masked_pan"], "520019******8608");
        assert!(!only.to_string().contains("5200190006338608"));

        // Enter it by hand: a manual payment prefilled from the provider's row.
        let item_id = item["id"].as_str().unwrap();
        let path = format!("/api/v1/reconciliations/{run_id}/items/{item_id}/resolve");
        // A customer reference that is not text, or too long, is refused: nothing entered.
        for bad in [json!(12), json!("C".repeat(101))] {
            let (status, body) = app
                .post(
                    &app.a,
                    &path,
                    Some(json!({"action": "enter", "customer_ref": bad})),
                )
                .await;
            assert!(status.is_client_error(), "{status} {body}");
            assert_eq!(body["error"]["field"], "customer_ref", "{body}");
        }
        let (_, open) = app
            .get(&app.a, &format!("/api/v1/reconciliations/{run_id}"))
            .await;
        assert_eq!(open["open_exceptions"], 1, "{open}");
        let (status, resolved) = app
            .post(
                &app.a,
                &path,
                Some(json!({
                    "action": "enter",
                    "reason": "panel sale",
                    "customer_ref": "CARI-1",
                    "description": "Panelden girilen satış"
                })),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{resolved}");
        assert_eq!(resolved["resolution"], "entered");
        assert_eq!(resolved["resolution_reason"], "panel sale");
        assert!(resolved["resolved_by"]
            .as_str()
            .unwrap()
            .starts_with("api:"));
        let payment_id = resolved["resolution_payment_id"].as_str().unwrap();
        let (status, detail) = app
            .get(&app.a, &format!("/api/v1/payments/{payment_id}"))
            .await;
        assert_eq!(status, StatusCode::OK, "{detail}");
        let text = detail.to_string();
        assert!(text.contains("\"manual\""), "{detail}");
        assert!(text.contains("\"approved\""), "{detail}");
        assert!(text.contains("12.50"), "{detail}");
        assert!(text.contains(panel["reference_code"].as_str().unwrap()));
        // With the customer it credits, the provider's order number and the description;
        // in that customer's list.
        let entered = if detail["payment"].is_object() {
            &detail["payment"]
        } else {
            &detail
        };
        assert_eq!(entered["customer_ref"], "CARI-1", "{detail}");
        assert_eq!(entered["order_ref"], "SIP-PANEL-9", "{detail}");
        assert_eq!(entered["description"], "Panelden girilen satış", "{detail}");
        let (status, list) = app
            .get(&app.a, "/api/v1/payments?customer_ref=CARI-1")
            .await;
        assert_eq!(status, StatusCode::OK, "{list}");
        assert!(list.to_string().contains(payment_id), "{list}");

        // A second decision on the same item is refused.
        let (status, _) = app
            .post(
                &app.a,
                &path,
                Some(json!({"action": "dismiss", "reason": "x"})),
            )
            .await;
        assert_eq!(status, StatusCode::CONFLICT);

        // The next run matches it.
        let next = pull(&app, &app.a).await;
        assert_all_matched(&next, 2);
        assert_eq!(item_of(&next, payment_id)["class"], "matched");

        // The audit log has the run and the decision.
        let events = app.store.list_audit(&app.a.id, 50).await.unwrap();
        let resolved_event = events
            .iter()
            .find(|e| e.kind == "recon.item_resolved")
            .unwrap();
        assert!(resolved_event.data.contains("\"before\""));
        assert!(resolved_event.data.contains("provider_only"));
        assert_eq!(events.iter().filter(|e| e.kind == "recon.run").count(), 2);

        // No full card number anywhere: not in the database files, not in a stored run.
        for file in app.guard.sqlite_files() {
            let bytes = std::fs::read(&file).unwrap();
            assert!(
                !bytes.windows(16).any(|w| w == b"5200190006338608"),
                "card number in {}",
                file.display()
            );
        }
        for run in app.store.list_recon_runs(&app.a.id, 10).await.unwrap() {
            let items = app
                .store
                .list_recon_items(&app.a.id, &run.id, None)
                .await
                .unwrap();
            let text = format!("{run:?}{items:?}");
            assert!(!text.contains("5200190006338608"));
            assert!(!text.contains("4546711234567894"));
        }
    }
);

both_engines!(dismissal_survives_a_rerun, |app: TestApp| async move {
    let response = app
        .http
        .post(format!(
            "{}/_sim/merchants/{}/panel-sales",
            app.sim.base_url(),
            app.a.merchant.merchant_no
        ))
        .header("Content-Type", "application/json")
        .body(json!({"amount": "7.00", "card": "5200190006338608"}).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    let run = pull(&app, &app.a).await;
    let run_id = run["id"].as_str().unwrap();
    let item = &run["items"][0];
    assert_eq!(item["class"], "provider_only", "{run}");
    let path = format!(
        "/api/v1/reconciliations/{run_id}/items/{}/resolve",
        item["id"].as_str().unwrap()
    );
    let (status, body) = app
        .post(&app.a, &path, Some(json!({"action": "dismiss"})))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["error"]["field"], "reason");
    let (status, body) = app
        .post(
            &app.a,
            &path,
            Some(json!({"action": "dismiss", "reason": "test sale on the panel"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");

    let again = pull(&app, &app.a).await;
    let item = &again["items"][0];
    assert_eq!(item["class"], "provider_only");
    assert_eq!(item["resolution"], "dismissed", "{again}");
    assert_eq!(item["resolution_reason"], "test sale on the panel");
    assert_eq!(again["open_exceptions"], 0);
});

both_engines!(
    lost_answer_resolved_by_the_janitor_then_matched,
    |app: TestApp| async move {
        approved(&app, "4546711234567894", "30.00").await;
        let (status, body) = app
            .pay(&app.a, &key(), &payment("4000000000009029", "20.00"))
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        assert_eq!(body["status"], "unknown", "{body}");
        let id = body["id"].as_str().unwrap().to_owned();

        let before = pull(&app, &app.a).await;
        assert_ne!(item_of(&before, &id)["class"], "matched", "{before}");

        tokio::time::sleep(std::time::Duration::from_millis(2500)).await;
        app.service.run_janitor_once().await.unwrap();
        let (_, detail) = app.get(&app.a, &format!("/api/v1/payments/{id}")).await;
        assert!(detail.to_string().contains("\"approved\""), "{detail}");

        let after = pull(&app, &app.a).await;
        assert_all_matched(&after, 2);
    }
);

both_engines!(
    windows_1254_statement_imported_and_matched,
    |app: TestApp| async move {
        approved(&app, "4546711234567894", "1234.56").await;
        approved(&app, "5200190006338608", "99.90").await;
        let bytes = statement(&app, &app.a, "windows-1254").await;
        assert!(
            std::str::from_utf8(&bytes).is_err(),
            "expected Windows-1254 bytes"
        );
        assert!(bytes.contains(&b';'));
        let (status, run) = import(&app, &app.a, bytes).await;
        assert_eq!(status, StatusCode::CREATED, "{run}");
        assert_eq!(run["source"], "import");
        assert_all_matched(&run, 2);
        assert_eq!(run["totals"]["matched"]["theirs"], "1334.46", "{run}");
    }
);

both_engines!(
    malformed_statement_refused_and_nothing_stored,
    |app: TestApp| async move {
        approved(&app, "4546711234567894", "10.00").await;
        approved(&app, "5200190006338608", "20.00").await;
        let text = String::from_utf8(statement(&app, &app.a, "utf-8").await).unwrap();
        let mut lines: Vec<String> = text.split("\r\n").map(str::to_owned).collect();
        assert!(lines.len() >= 3, "{text}");
        // Line 3 (the second sale): its amount ("Tutar", column 11) is not a number.
        let mut fields: Vec<String> = lines[2].split(';').map(str::to_owned).collect();
        fields[10] = "on iki".into();
        lines[2] = fields.join(";");
        let (status, body) = import(&app, &app.a, lines.join("\r\n").into_bytes()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(body["error"]["code"], "bad_statement");
        let bad = body["bad_rows"].as_array().unwrap();
        assert_eq!(bad.len(), 1, "{body}");
        assert_eq!(bad[0]["line"], 3);
        assert!(
            bad[0]["reason"].as_str().unwrap().contains("Tutar"),
            "{body}"
        );

        let runs = app.store.list_recon_runs(&app.a.id, 10).await.unwrap();
        assert!(runs.is_empty());
        let events = app.store.list_audit(&app.a.id, 50).await.unwrap();
        assert!(events.iter().all(|e| !e.kind.starts_with("recon.")));
    }
);

both_engines!(
    another_company_cannot_see_a_run,
    |app: TestApp| async move {
        approved(&app, "4546711234567894", "15.00").await;
        let run = pull(&app, &app.a).await;
        let run_id = run["id"].as_str().unwrap();
        let item_id = run["items"][0]["id"].as_str().unwrap();
        let (status, _) = app
            .get(&app.b, &format!("/api/v1/reconciliations/{run_id}"))
            .await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        let (status, _) = app
            .post(
                &app.b,
                &format!("/api/v1/reconciliations/{run_id}/items/{item_id}/resolve"),
                Some(json!({"action": "dismiss", "reason": "not mine"})),
            )
            .await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        // B cannot reconcile A's POS either.
        let day = today();
        let (status, _) = app
            .post(
                &app.b,
                "/api/v1/reconciliations",
                Some(json!({"pos_id": app.a.pos_id, "from": day, "to": day})),
            )
            .await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        // B's own run of the day sees none of A's payments.
        let own = pull(&app, &app.b).await;
        assert_all_matched(&own, 0);
    }
);

both_engines!(
    a_large_statement_reaches_the_parser,
    |app: TestApp| async move {
        // Past the API's usual 64 KiB body limit: every bad row is reported.
        let text = String::from_utf8(statement(&app, &app.a, "utf-8").await).unwrap();
        let header = text.split("\r\n").next().unwrap().to_owned();
        let columns = header.split(';').count();
        let mut bad = vec!["x"; columns];
        bad[10] = "not an amount";
        let mut file = header;
        for _ in 0..3000 {
            file.push_str("\r\n");
            file.push_str(&bad.join(";"));
        }
        assert!(file.len() > 64 * 1024);
        let (status, body) = import(&app, &app.a, file.into_bytes()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        let rows = body["bad_rows"].as_array().unwrap();
        assert_eq!(rows.len(), 3000);
        assert_eq!(rows[0]["line"], 2);
        assert_eq!(rows[2999]["line"], 3001);
    }
);

both_engines!(force_match_and_wrong_actions, |app: TestApp| async move {
    let id = approved(&app, "4546711234567894", "25.00").await;
    let response = app
        .http
        .post(format!(
            "{}/_sim/merchants/{}/panel-sales",
            app.sim.base_url(),
            app.a.merchant.merchant_no
        ))
        .header("Content-Type", "application/json")
        .body(json!({"amount": "25.00", "card": "4546711234567894"}).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    let run = pull(&app, &app.a).await;
    let run_id = run["id"].as_str().unwrap();
    let matched = item_of(&run, &id);
    let matched_path = format!(
        "/api/v1/reconciliations/{run_id}/items/{}/resolve",
        matched["id"].as_str().unwrap()
    );
    let (status, body) = app
        .post(
            &app.a,
            &matched_path,
            Some(json!({"action": "dismiss", "reason": "x"})),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(body["error"]["code"], "not_an_exception");

    let (_, only) = app
        .get(
            &app.a,
            &format!("/api/v1/reconciliations/{run_id}?class=provider_only"),
        )
        .await;
    let item = &only["items"][0];
    let path = format!(
        "/api/v1/reconciliations/{run_id}/items/{}/resolve",
        item["id"].as_str().unwrap()
    );
    let (status, body) = app
        .post(&app.a, &path, Some(json!({"action": "merge"})))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["error"]["field"], "action");
    let (status, _) = app
        .post(
            &app.a,
            &path,
            Some(json!({"action": "force_match", "payment_id": "pay_nope"})),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, body) = app
        .post(
            &app.a,
            &path,
            Some(json!({"action": "force_match", "payment_id": id, "reason": "same sale"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["resolution"], "force_matched");
    assert_eq!(body["resolution_payment_id"], json!(id));
    let (_, after) = app
        .get(&app.a, &format!("/api/v1/reconciliations/{run_id}"))
        .await;
    assert_eq!(after["open_exceptions"], 0, "{after}");
});

both_engines!(
    cancels_and_partial_refunds_match,
    |app: TestApp| async move {
        let cancelled = approved(&app, "4546711234567894", "100.00").await;
        let (status, body) = app
            .post(
                &app.a,
                &format!("/api/v1/payments/{cancelled}/cancel"),
                None,
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let refunded = approved(&app, "5200190006338608", "80.00").await;
        app.end_of_day().await;
        let (status, body) = app
            .post(
                &app.a,
                &format!("/api/v1/payments/{refunded}/refunds"),
                Some(json!({"amount": "30.00"})),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        assert_eq!(body["status"], "partially_refunded");

        let run = pull(&app, &app.a).await;
        assert_all_matched(&run, 2);
        assert_eq!(
            item_of(&run, &cancelled)["ours_reversed"],
            "100.00",
            "{run}"
        );
        assert_eq!(
            item_of(&run, &refunded)["theirs_reversed"],
            "30.00",
            "{run}"
        );

        // Runs are listed newest first, and every audit chain still verifies.
        let (status, list) = app.get(&app.a, "/api/v1/reconciliations").await;
        assert_eq!(status, StatusCode::OK, "{list}");
        assert_eq!(list["runs"][0]["id"], run["id"]);
        assert_eq!(list["runs"][0]["summary"]["matched"], 2);
        let (_, other) = app.get(&app.b, "/api/v1/reconciliations").await;
        assert_eq!(other["runs"], json!([]));
        for report in app.store.verify_audit().await.unwrap() {
            assert!(report.broken.is_none(), "{report:?}");
        }
    }
);

both_engines!(bad_requests_store_nothing, |app: TestApp| async move {
    let cases = [
        (
            json!({"pos_id": app.a.pos_id, "from": "2026-13-01", "to": "2026-01-01"}),
            "from",
        ),
        (
            json!({"pos_id": app.a.pos_id, "from": "2026-02-02", "to": "2026-02-01"}),
            "to",
        ),
        (
            json!({"pos_id": app.a.pos_id, "from": "2025-01-01", "to": "2026-12-31"}),
            "to",
        ),
        (json!({"pos_id": app.a.pos_id, "from": "2026-02-01"}), "to"),
    ];
    for (body, field) in cases {
        let (status, answer) = app
            .post(&app.a, "/api/v1/reconciliations", Some(body))
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
        assert_eq!(answer["error"]["field"], field, "{answer}");
    }
    let (status, _) = app
        .post(
            &app.a,
            "/api/v1/reconciliations",
            Some(json!({"pos_id": "pos_nope", "from": "2026-02-01", "to": "2026-02-01"})),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = app.get(&app.a, "/api/v1/reconciliations/rcn_nope").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let response = app
        .http
        .post(app.url("/api/v1/reconciliations/import?pos_id=x"))
        .bearer_auth(&app.a.api_key)
        .body("a;b")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let runs = app.store.list_recon_runs(&app.a.id, 10).await.unwrap();
    assert!(runs.is_empty());
});

/// A gateway client for company `who`'s merchant at the simulator, as the provider's own
/// panel would act: behind our back.
fn provider_gateway(app: &TestApp, who: &Seeded) -> sanalpos_gateway::nkolay::NkolayGateway {
    use sanalpos_core::Secret;
    use sanalpos_gateway::nkolay::{Credentials, NkolayConfig, NkolayGateway};
    let merchant = &who.merchant;
    let credentials = Credentials {
        sx: Secret::new(merchant.sx.clone()),
        sx_list: Secret::new(merchant.sx_list.clone()),
        sx_cancel: Secret::new(merchant.sx_cancel.clone()),
        secret_key: Secret::new(merchant.secret_key.clone()),
    };
    let mut config = NkolayConfig::new(app.sim.base_url(), credentials);
    config.auto_complete = merchant.auto_complete;
    NkolayGateway::new(config).unwrap()
}

both_engines!(
    cancelled_at_provider_is_status_mismatch,
    |app: TestApp| async move {
        use sanalpos_gateway::{CancelRequest, Gateway, Outcome};
        let kept = approved(&app, "5200190006338608", "20.00").await;
        let id = approved(&app, "4546711234567894", "75.50").await;
        let (status, payment) = app.get(&app.a, &format!("/api/v1/payments/{id}")).await;
        assert_eq!(status, StatusCode::OK, "{payment}");
        let provider_ref = payment["provider_ref"].as_str().unwrap();
        let client_ref = payment["attempts"][0]["client_ref"].as_str().unwrap();

        let answer = provider_gateway(&app, &app.a)
            .cancel(&CancelRequest {
                provider_ref: sanalpos_core::ProviderRef::parse(provider_ref).unwrap(),
                client_ref: sanalpos_core::ClientRef::parse(client_ref).unwrap(),
                sale_date: sanalpos_service::istanbul_today(),
                amount: sanalpos_core::Kurus::parse_tr("75,50").unwrap(),
                currency: sanalpos_core::Currency::Try,
            })
            .await;
        assert!(
            matches!(answer.outcome, Outcome::Approved(_)),
            "{:?}",
            answer.outcome
        );
        // Here the sale is still approved.
        let (_, payment) = app.get(&app.a, &format!("/api/v1/payments/{id}")).await;
        assert_eq!(payment["status"], "approved", "{payment}");

        let run = pull(&app, &app.a).await;
        assert_eq!(run["summary"]["status_mismatch"], 1, "{run}");
        assert_eq!(run["summary"]["matched"], 1, "{run}");
        assert_eq!(item_of(&run, &id)["class"], "status_mismatch", "{run}");
        assert_eq!(item_of(&run, &kept)["class"], "matched", "{run}");
        assert_eq!(run["open_exceptions"], 1, "{run}");
    }
);

// Issue 13, item 12: the payments offered for a force-match over the API are those of
// the provider row's amount, card and day that nothing matched; one id is still taken.
both_engines!(force_match_candidates_offered, |app: TestApp| async move {
    approved(&app, "4546711234567894", "12.50").await;
    let response = app
        .http
        .post(format!(
            "{}/_sim/merchants/{}/panel-sales",
            app.sim.base_url(),
            app.a.merchant.merchant_no
        ))
        .header("Content-Type", "application/json")
        .body(json!({"amount": "12.50", "card": "5200190006338608"}).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    let lost = stored_payment(&app, 1250, "520019******8608", "IKSIRLOST1", "CARI-ZETA");
    let other_amount = stored_payment(&app, 1260, "520019******8608", "IKSIRLOST2", "CARI-ZETA");
    let other_card = stored_payment(&app, 1250, "454671******1111", "IKSIRLOST3", "CARI-ZETA");
    app.store
        .seed_payments(vec![lost.clone(), other_amount, other_card])
        .await
        .unwrap();
    let run = pull(&app, &app.a).await;
    assert_eq!(run["summary"]["provider_only"], 1, "{run}");
    let run_id = run["id"].as_str().unwrap();
    let item = run["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["class"] == "provider_only")
        .unwrap();
    let item_id = item["id"].as_str().unwrap();
    let path = format!("/api/v1/reconciliations/{run_id}/items/{item_id}/candidates");
    let (status, body) = app.get(&app.a, &path).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let offered: Vec<&str> = body["candidates"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["payment_id"].as_str().unwrap())
        .collect();
    assert_eq!(offered, [lost.id.as_str()], "{body}");
    let offer = &body["candidates"][0];
    assert_eq!(offer["amount"], "12.50");
    assert_eq!(offer["masked_pan"], "520019******8608");
    assert_eq!(offer["customer_ref"], "CARI-ZETA");
    assert_eq!(offer["status"], "approved");
    // Another company sees no such item.
    let (status, _) = app.get(&app.b, &path).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = app
        .get(
            &app.a,
            &format!("/api/v1/reconciliations/{run_id}/items/rci_nope/candidates"),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // One id, as before.
    let (status, resolved) = app
        .post(
            &app.a,
            &format!("/api/v1/reconciliations/{run_id}/items/{item_id}/resolve"),
            Some(json!({"action": "force_match", "payment_id": lost.id})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{resolved}");
    assert_eq!(resolved["resolution"], "force_matched");
    let (status, body) = app.get(&app.a, &path).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["candidates"], json!([]));
});

both_engines!(
    a_large_run_is_read_a_page_at_a_time,
    |app: TestApp| async move {
        let ours = approved(&app, "4546711234567894", "150.00").await;
        let mut bytes = statement(&app, &app.a, "utf-8").await;
        bytes.extend_from_slice(unknown_sales(450).as_bytes());
        let (status, run) = import(&app, &app.a, bytes).await;
        assert_eq!(status, StatusCode::CREATED, "{run}");
        assert_eq!(run["summary"]["matched"], 1, "{}", run["summary"]);
        assert_eq!(run["summary"]["provider_only"], 450, "{}", run["summary"]);
        assert_eq!(run["open_exceptions"], 450);
        // The import answers with the first page (200 items) and where the next starts.
        assert_eq!(run["items"].as_array().unwrap().len(), 200);
        assert!(run["next_cursor"].is_string(), "{}", run["next_cursor"]);
        let id = run["id"].as_str().unwrap();

        // Every filter's pages, joined, hold each of its items once, in order.
        let pages = |query: &'static str, limit: usize| {
            let app = &app;
            async move {
                let mut items: Vec<Value> = Vec::new();
                let mut cursor: Option<String> = None;
                loop {
                    let after = cursor
                        .as_ref()
                        .map(|c| format!("&cursor={c}"))
                        .unwrap_or_default();
                    let (status, page) = app
                        .get(
                            &app.a,
                            &format!("/api/v1/reconciliations/{id}?limit={limit}{query}{after}"),
                        )
                        .await;
                    assert_eq!(status, StatusCode::OK, "{page}");
                    let page_items = page["items"].as_array().unwrap();
                    assert!(page_items.len() <= limit);
                    items.extend(page_items.iter().cloned());
                    match page["next_cursor"].as_str() {
                        Some(next) => {
                            assert_eq!(page_items.len(), limit, "a full page before a next");
                            cursor = Some(next.to_owned());
                        }
                        None => return items,
                    }
                }
            }
        };
        let all = pages("", 100).await;
        assert_eq!(all.len(), 451);
        let mut ids: Vec<&str> = all.iter().map(|i| i["id"].as_str().unwrap()).collect();
        ids.dedup();
        assert_eq!(ids.len(), 451, "no item twice");
        assert_eq!(
            all.iter().filter(|i| i["class"] == "matched").count(),
            1,
            "our payment's item is among them"
        );
        assert_eq!(item_of(&json!({ "items": all }), &ours)["class"], "matched");
        let exceptions = pages("&class=exceptions", 1000).await;
        assert_eq!(exceptions.len(), 450);
        assert!(exceptions.iter().all(|i| i["class"] == "provider_only"));
        let wanted: Vec<&Value> = all.iter().filter(|i| i["class"] != "matched").collect();
        assert_eq!(exceptions.iter().collect::<Vec<_>>(), wanted, "same order");
        let matched = pages("&class=matched", 7).await;
        assert_eq!(matched.len(), 1);

        // Limits and cursors not from this API are refused.
        for query in [
            "limit=0",
            "limit=1001",
            "cursor=abc",
            "cursor=-5",
            "class=nonsense",
        ] {
            let (status, body) = app
                .get(&app.a, &format!("/api/v1/reconciliations/{id}?{query}"))
                .await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{query}: {body}");
        }
        // Another company's key sees no such run.
        let (status, _) = app
            .get(&app.b, &format!("/api/v1/reconciliations/{id}"))
            .await;
        assert_eq!(status, StatusCode::NOT_FOUND);

        // An exception far down the run is offered candidates and decided like any.
        let last = exceptions.last().unwrap()["id"].as_str().unwrap();
        let (status, offered) = app
            .get(
                &app.a,
                &format!("/api/v1/reconciliations/{id}/items/{last}/candidates"),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{offered}");
        assert_eq!(offered["candidates"], json!([]), "no payment of its amount");
        let (status, body) = app
            .post(
                &app.a,
                &format!("/api/v1/reconciliations/{id}/items/{last}/resolve"),
                Some(json!({"action": "dismiss", "reason": "a test row"})),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let (_, after) = app
            .get(&app.a, &format!("/api/v1/reconciliations/{id}?limit=1"))
            .await;
        assert_eq!(after["open_exceptions"], 449);
    }
);
