#![allow(clippy::unwrap_used)]
//! Webhooks end to end: the outbox survives a stopped server, failing endpoints are
//! retried with backoff, signatures verify, events reach only their subscribers.

use std::time::Duration;

use crate::helpers::*;
use reqwest::StatusCode;
use sanalpos_service::verify_webhook_signature;
use serde_json::{json, Value};

async fn register(app: &TestApp, who: &Seeded, url: &str, events: &[&str]) -> (String, String) {
    let (status, body) = app
        .post(
            who,
            "/api/v1/webhook-endpoints",
            Some(json!({ "url": url, "events": events })),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let secret = body["secret"].as_str().unwrap().to_owned();
    assert!(secret.starts_with("whsec_"));
    (body["id"].as_str().unwrap().to_owned(), secret)
}

async fn deliveries(app: &TestApp, who: &Seeded, endpoint: &str) -> Vec<Value> {
    let (status, body) = app
        .get(
            who,
            &format!("/api/v1/webhook-endpoints/{endpoint}/deliveries"),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["items"].as_array().unwrap().clone()
}

/// Waits (up to 30 s) until `done` holds for the endpoint's deliveries.
async fn wait_deliveries(
    app: &TestApp,
    who: &Seeded,
    endpoint: &str,
    done: impl Fn(&[Value]) -> bool,
) -> Vec<Value> {
    for _ in 0..600 {
        let items = deliveries(app, who, endpoint).await;
        if done(&items) {
            return items;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!(
        "deliveries never reached the expected state: {:?}",
        deliveries(app, who, endpoint).await
    );
}

async fn webhook_survives_a_stopped_server(db: Db, name: &str) {
    let Some(mut first) = TestApp::spawn_with(db, name, |c| c.webhooks.enabled = false).await
    else {
        return;
    };
    let hook = listener(vec![]).await;
    let (endpoint, secret) = register(&first, &first.a, &hook.url, &["payment.approved"]).await;
    let (status, paid) = first
        .pay(&first.a, &key(), &payment("4546711234567894", "75.40"))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{paid}");
    assert_eq!(paid["status"], "approved");
    // Written with the payment, not sent: this instance has no worker.
    let items = deliveries(&first, &first.a, &endpoint).await;
    assert_eq!(items.len(), 1, "{items:?}");
    assert_eq!(items[0]["status"], "pending");
    assert_eq!(items[0]["tries"], 0);
    assert_eq!(items[0]["event_type"], "payment.approved");
    first.shutdown().await;
    assert!(hook.received().is_empty());

    // A new instance on the same database (and data directory: the same master key).
    let second = sanalpos_server::Application::build(sanalpos_server::Config {
        listen: "127.0.0.1:0".parse().unwrap(),
        data_dir: first.data_dir.clone(),
        database_url: first.guard.url().to_owned(),
        janitor_interval: Duration::from_secs(3600),
        end_of_day: None,
        ..sanalpos_server::Config::default()
    })
    .await
    .unwrap();
    let second_url = second.base_url().to_owned();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(second.run_until_stopped(async move {
        let _ = stopped.await;
    }));
    first.base_url = second_url;
    let items = wait_deliveries(&first, &first.a, &endpoint, |items| {
        items.first().is_some_and(|d| d["status"] == "delivered")
    })
    .await;
    assert_eq!(items[0]["tries"], 1);
    assert_eq!(items[0]["last_http_status"], 200);
    assert_eq!(
        items[0]["attempts"][0]["response"],
        "answer from the shop <ok>"
    );
    let got = hook.received();
    assert_eq!(got.len(), 1);
    verify_webhook_signature(&secret, &got[0].signature, &got[0].body, now_secs(), 300).unwrap();
    let event: Value = serde_json::from_slice(&got[0].body).unwrap();
    assert_eq!(event["type"], "payment.approved");
    assert_eq!(event["data"]["payment"]["id"], paid["id"]);
    assert_eq!(event["data"]["payment"]["amount"], "75.40");
    assert_eq!(event["data"]["payment"]["status"], "approved");
    assert!(!String::from_utf8_lossy(&got[0].body).contains("4546711234567894"));
    // A tampered body or another secret does not verify.
    let mut tampered = got[0].body.clone();
    let at = tampered.len() - 2;
    tampered[at] ^= 1;
    assert!(
        verify_webhook_signature(&secret, &got[0].signature, &tampered, now_secs(), 300).is_err()
    );
    assert!(verify_webhook_signature(
        "whsec_other",
        &got[0].signature,
        &got[0].body,
        now_secs(),
        300
    )
    .is_err());
    let _ = stop.send(());
    server.await.unwrap().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhook_survives_a_stopped_server_sqlite() {
    webhook_survives_a_stopped_server(Db::Sqlite, "webhook_survives_a_stopped_server").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhook_survives_a_stopped_server_postgres() {
    webhook_survives_a_stopped_server(Db::Postgres, "webhook_survives_a_stopped_server").await;
}

async fn failing_endpoint_is_retried_with_backoff(db: Db, name: &str) {
    let Some(app) = TestApp::spawn_with(db, name, fast_worker).await else {
        return;
    };
    let hook = listener(vec![500, 500, 503]).await;
    let (endpoint, secret) = register(&app, &app.a, &hook.url, &["payment.declined"]).await;
    let (status, paid) = app
        .pay(&app.a, &key(), &payment("4000000000000515", "20.00"))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{paid}");
    assert_eq!(paid["status"], "declined");
    let items = wait_deliveries(&app, &app.a, &endpoint, |items| {
        items.first().is_some_and(|d| d["status"] == "delivered")
    })
    .await;
    let d = &items[0];
    assert_eq!(d["tries"], 4, "{d}");
    let attempts = d["attempts"].as_array().unwrap();
    let statuses: Vec<i64> = attempts
        .iter()
        .map(|a| a["http_status"].as_i64().unwrap())
        .collect();
    assert_eq!(statuses, vec![500, 500, 503, 200]);
    // Each failure scheduled the next try base · 2^(n-1) later: 40, 80, 160 ms.
    let backoffs: Vec<Option<i64>> = attempts.iter().map(|a| a["backoff_ms"].as_i64()).collect();
    assert_eq!(backoffs, vec![Some(40), Some(80), Some(160), None]);
    // Every try carried the same body, each with a valid signature.
    let got = hook.received();
    assert_eq!(got.len(), 4);
    for r in &got {
        verify_webhook_signature(&secret, &r.signature, &r.body, now_secs(), 300).unwrap();
        assert_eq!(r.body, got[0].body);
    }
    let event: Value = serde_json::from_slice(&got[0].body).unwrap();
    assert_eq!(event["type"], "payment.declined");
    assert_eq!(event["data"]["payment"]["bank_code"], "51");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failing_endpoint_is_retried_with_backoff_sqlite() {
    failing_endpoint_is_retried_with_backoff(Db::Sqlite, "failing_endpoint_is_retried").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failing_endpoint_is_retried_with_backoff_postgres() {
    failing_endpoint_is_retried_with_backoff(Db::Postgres, "failing_endpoint_is_retried").await;
}

async fn given_up_then_resent(db: Db, name: &str) {
    let Some(app) = TestApp::spawn_with(db, name, |c| {
        fast_worker(c);
        // A window shorter than the second backoff: two tries, then failed.
        c.webhooks.retry_for = Duration::from_millis(100);
    })
    .await
    else {
        return;
    };
    let hook = listener(vec![]).await;
    hook.fallback
        .store(500, std::sync::atomic::Ordering::SeqCst);
    let (endpoint, secret) = register(&app, &app.a, &hook.url, &["payment.approved"]).await;
    let (_, paid) = app
        .pay(&app.a, &key(), &payment("4546711234567894", "11.00"))
        .await;
    assert_eq!(paid["status"], "approved");
    let items = wait_deliveries(&app, &app.a, &endpoint, |items| {
        items.first().is_some_and(|d| d["status"] == "failed")
    })
    .await;
    // A page size outside 1..200 is refused, not clamped.
    for limit in ["0", "201", "2147483648"] {
        let (status, body) = app
            .get(
                &app.a,
                &format!("/api/v1/webhook-endpoints/{endpoint}/deliveries?limit={limit}"),
            )
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{limit}: {body}");
    }
    let tries_when_failed = items[0]["tries"].as_i64().unwrap();
    assert!(tries_when_failed >= 1, "{:?}", items[0]);
    assert_eq!(items[0]["last_http_status"], 500);
    // Given up: no more tries, whatever the endpoint would answer now.
    hook.fallback
        .store(200, std::sync::atomic::Ordering::SeqCst);
    let seen_when_failed = hook.received().len();
    assert_eq!(seen_when_failed as i64, tries_when_failed);
    // By hand: sent again, and now accepted.
    let id = items[0]["id"].as_str().unwrap();
    let (status, body) = app
        .post(
            &app.a,
            &format!("/api/v1/webhook-endpoints/{endpoint}/deliveries/{id}/resend"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["status"], "pending");
    // The resend is in the audit log: who asked, for which delivery.
    let audit = app.store.list_audit(&app.a.id, 50).await.unwrap();
    let resent = audit
        .iter()
        .find(|e| e.kind == "webhook_delivery.resent")
        .expect("a resend leaves an audit event");
    assert_eq!(resent.subject_id, id);
    assert!(resent.actor.starts_with("api:"), "{resent:?}");
    let data: Value = serde_json::from_str(&resent.data).unwrap();
    assert_eq!(data["endpoint_id"], endpoint.as_str());
    assert_eq!(data["status_before"], "failed");
    let items = wait_deliveries(&app, &app.a, &endpoint, |items| {
        items.first().is_some_and(|d| d["status"] == "delivered")
    })
    .await;
    assert_eq!(items[0]["tries"].as_i64().unwrap(), tries_when_failed + 1);
    assert_eq!(items[0]["last_http_status"], 200);
    assert_eq!(hook.received().len(), seen_when_failed + 1);
    for r in hook.received() {
        verify_webhook_signature(&secret, &r.signature, &r.body, now_secs(), 300).unwrap();
    }
    // Another company cannot see or resend it.
    let (status, _) = app
        .get(
            &app.b,
            &format!("/api/v1/webhook-endpoints/{endpoint}/deliveries"),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = app
        .post(
            &app.b,
            &format!("/api/v1/webhook-endpoints/{endpoint}/deliveries/{id}/resend"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn given_up_then_resent_sqlite() {
    given_up_then_resent(Db::Sqlite, "given_up_then_resent").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn given_up_then_resent_postgres() {
    given_up_then_resent(Db::Postgres, "given_up_then_resent").await;
}

both_engines!(
    events_reach_their_subscribers_only,
    |app: TestApp| async move {
        let all = listener(vec![]).await;
        let declines = listener(vec![]).await;
        let other_company = listener(vec![]).await;
        let (all_id, _) = register(
            &app,
            &app.a,
            &all.url,
            &[
                "payment.approved",
                "payment.declined",
                "payment.cancelled",
                "payment.refunded",
                "payment.needs_review",
            ],
        )
        .await;
        let (declines_id, _) = register(&app, &app.a, &declines.url, &["payment.declined"]).await;
        let (b_id, _) = register(&app, &app.b, &other_company.url, &["payment.approved"]).await;

        // Validation: unknown events and bad URLs are refused, nothing stored.
        let (status, body) = app
            .post(
                &app.a,
                "/api/v1/webhook-endpoints",
                Some(json!({"url": all.url, "events": ["payment.exploded"]})),
            )
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(body["error"]["field"], "events");
        // Not http(s), or not a URL at all (a bracket that opens no IPv6 address).
        for url in ["ftp://x", "http://[zz/in", "https://hooks]example/in"] {
            let (status, body) = app
                .post(
                    &app.a,
                    "/api/v1/webhook-endpoints",
                    Some(json!({"url": url, "events": ["payment.approved"]})),
                )
                .await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{url}: {body}");
            assert_eq!(body["error"]["field"], "url", "{url}: {body}");
        }
        let (_, listed) = app.get(&app.a, "/api/v1/webhook-endpoints").await;
        assert_eq!(listed["items"].as_array().unwrap().len(), 2, "{listed}");
        assert!(
            !listed.to_string().contains("whsec_"),
            "secrets are never listed"
        );

        let (_, approved) = app
            .pay(&app.a, &key(), &payment("4546711234567894", "30.00"))
            .await;
        let (_, declined) = app
            .pay(&app.a, &key(), &payment("4000000000000515", "31.00"))
            .await;
        let (_, to_refund) = app
            .pay(&app.a, &key(), &payment("4546711234567894", "32.00"))
            .await;
        let id = approved["id"].as_str().unwrap();
        let (status, body) = app
            .post(&app.a, &format!("/api/v1/payments/{id}/cancel"), None)
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        // A partial refund on the sale's day is scheduled (202): no event yet. After the
        // provider's close the janitor carries it out, and `payment.refunded` goes out.
        let id = to_refund["id"].as_str().unwrap();
        let (status, body) = app
            .post(
                &app.a,
                &format!("/api/v1/payments/{id}/refunds"),
                Some(json!({"amount": "10.00"})),
            )
            .await;
        assert_eq!(status, StatusCode::ACCEPTED, "{body}");
        assert_eq!(body["refund"]["status"], "scheduled", "{body}");
        app.end_of_day().await;
        let report = app.service.run_janitor_once().await.unwrap();
        assert_eq!(report.refunds_carried_out, 1, "{report:?}");

        let items = wait_deliveries(&app, &app.a, &all_id, |items| {
            items.len() == 5 && items.iter().all(|d| d["status"] == "delivered")
        })
        .await;
        let mut kinds: Vec<String> = items
            .iter()
            .map(|d| d["event_type"].as_str().unwrap().to_owned())
            .collect();
        kinds.sort();
        assert_eq!(
            kinds,
            vec![
                "payment.approved",
                "payment.approved",
                "payment.cancelled",
                "payment.declined",
                "payment.refunded"
            ]
        );
        let items = wait_deliveries(&app, &app.a, &declines_id, |items| {
            items.len() == 1 && items[0]["status"] == "delivered"
        })
        .await;
        assert_eq!(items[0]["event_type"], "payment.declined");
        let got = declines.received();
        let event: Value = serde_json::from_slice(&got[0].body).unwrap();
        assert_eq!(event["data"]["payment"]["id"], declined["id"]);
        let refunded = all
            .received()
            .into_iter()
            .map(|r| serde_json::from_slice::<Value>(&r.body).unwrap())
            .find(|e| e["type"] == "payment.refunded")
            .unwrap();
        assert_eq!(refunded["data"]["payment"]["id"], to_refund["id"]);
        assert_eq!(refunded["data"]["payment"]["refunded_amount"], "10.00");
        assert_eq!(refunded["data"]["payment"]["status"], "partially_refunded");
        // Company B's endpoint got nothing of A's.
        assert!(deliveries(&app, &app.b, &b_id).await.is_empty());
        assert!(other_company.received().is_empty());

        // Deleting an endpoint stops its deliveries.
        let response = app
            .http
            .delete(app.url(&format!("/api/v1/webhook-endpoints/{declines_id}")))
            .bearer_auth(&app.a.api_key)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::NO_CONTENT);
        let (_, listed) = app.get(&app.a, "/api/v1/webhook-endpoints").await;
        assert_eq!(listed["items"].as_array().unwrap().len(), 1);
        // Both are in the company's audit chain, which still verifies.
        let audit = app.store.list_audit(&app.a.id, 500).await.unwrap();
        let created = audit
            .iter()
            .filter(|e| e.kind == "webhook_endpoint.created")
            .count();
        assert_eq!(created, 2);
        assert!(audit
            .iter()
            .any(|e| e.kind == "webhook_endpoint.deleted" && e.subject_id == declines_id));
        for report in app.store.verify_audit().await.unwrap() {
            assert!(report.broken.is_none(), "{report:?}");
        }
    }
);

async fn unreachable_endpoint_is_recorded(db: Db, name: &str) {
    let Some(app) = TestApp::spawn_with(db, name, fast_worker).await else {
        return;
    };
    // A port nothing listens on: bound, then closed.
    let closed = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", closed.local_addr().unwrap());
    drop(closed);
    let (endpoint, _) = register(&app, &app.a, &url, &["payment.approved"]).await;
    app.pay(&app.a, &key(), &payment("4546711234567894", "13.00"))
        .await;
    let items = wait_deliveries(&app, &app.a, &endpoint, |items| {
        items
            .first()
            .is_some_and(|d| d["tries"].as_i64().unwrap_or(0) >= 2)
    })
    .await;
    let d = &items[0];
    assert_eq!(d["status"], "pending", "still retried: {d}");
    assert_eq!(d["last_error"], "could not connect");
    assert_eq!(d["last_http_status"], Value::Null);
    assert_eq!(d["attempts"][0]["error"], "could not connect");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreachable_endpoint_is_recorded_sqlite() {
    unreachable_endpoint_is_recorded(Db::Sqlite, "unreachable_endpoint_is_recorded").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreachable_endpoint_is_recorded_postgres() {
    unreachable_endpoint_is_recorded(Db::Postgres, "unreachable_endpoint_is_recorded").await;
}
