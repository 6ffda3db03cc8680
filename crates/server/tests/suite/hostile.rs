//! Hostile input on every API route: broken JSON, bytes that are not UTF-8, the wrong
//! content type, bodies too large or nested too deep, garbage in paths and queries, no or
//! a wrong key. Each gets a clean 4xx with the JSON error envelope, never a 5xx, and none
//! changes anything: the one approved payment stays as it was and nothing else is sent
//! to the provider.

#![allow(clippy::unwrap_used)]

use crate::helpers::*;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

/// Every API route, with `{pos_id}`/`{customer_ref}`/`{id}`/`{item_id}` to fill.
const ROUTES: &[(&str, &str)] = &[
    ("POST", "/api/v1/payments"),
    ("GET", "/api/v1/payments"),
    ("GET", "/api/v1/payments/{id}"),
    ("POST", "/api/v1/payments/{id}/cancel"),
    ("POST", "/api/v1/payments/{id}/capture"),
    ("POST", "/api/v1/payments/{id}/release"),
    ("POST", "/api/v1/payments/{id}/reverse"),
    ("POST", "/api/v1/payments/{id}/refunds"),
    ("POST", "/api/v1/payments/{id}/refunds/{item_id}/withdraw"),
    ("POST", "/api/v1/reconciliations"),
    ("GET", "/api/v1/reconciliations"),
    ("POST", "/api/v1/reconciliations/import"),
    ("GET", "/api/v1/reconciliations/{id}"),
    (
        "POST",
        "/api/v1/reconciliations/{id}/items/{item_id}/resolve",
    ),
    ("POST", "/api/v1/checkout-sessions"),
    ("GET", "/api/v1/checkout-sessions/{id}"),
    ("POST", "/api/v1/checkout-sessions/{id}/reopen"),
    ("GET", "/api/v1/payment-links"),
    ("GET", "/api/v1/payment-links/{id}"),
    ("POST", "/api/v1/payment-links/{id}/send"),
    (
        "GET",
        "/api/v1/reconciliations/{id}/items/{item_id}/candidates",
    ),
    ("POST", "/api/v1/webhook-endpoints"),
    ("GET", "/api/v1/webhook-endpoints"),
    ("DELETE", "/api/v1/webhook-endpoints/{id}"),
    ("GET", "/api/v1/webhook-endpoints/{id}/deliveries"),
    (
        "POST",
        "/api/v1/webhook-endpoints/{id}/deliveries/{item_id}/resend",
    ),
    ("GET", "/api/v1/pos/{pos_id}/statement-profiles"),
    ("POST", "/api/v1/pos/{pos_id}/statement-profiles"),
    ("GET", "/api/v1/pos/{pos_id}/statement-profiles/{id}"),
    ("PUT", "/api/v1/pos/{pos_id}/statement-profiles/{id}"),
    ("DELETE", "/api/v1/pos/{pos_id}/statement-profiles/{id}"),
    ("GET", "/api/v1/customers/{customer_ref}/cards"),
    ("POST", "/api/v1/customers/{customer_ref}/cards"),
    ("DELETE", "/api/v1/customers/{customer_ref}/cards/{id}"),
];

/// The route list above is every operation the OpenAPI description documents (with
/// `{item_id}` standing for any second id), so a new endpoint is never left out of the
/// hostile requests.
#[test]
fn every_documented_operation_is_attacked() {
    let doc = sanalpos_server::openapi::document();
    let mut documented = Vec::new();
    for (path, ops) in doc["paths"].as_object().unwrap() {
        for method in ops.as_object().unwrap().keys() {
            let method = method.to_ascii_uppercase();
            if ["GET", "POST", "PUT", "DELETE", "PATCH"].contains(&method.as_str()) {
                documented.push(format!("{method} {path}"));
            }
        }
    }
    let normal = |path: &str| {
        path.replace("{refund_id}", "{item_id}")
            .replace("{delivery_id}", "{item_id}")
    };
    let listed: Vec<String> = ROUTES
        .iter()
        .map(|(method, path)| format!("{method} {}", normal(path)))
        .collect();
    let missing: Vec<&String> = documented
        .iter()
        .filter(|d| !listed.contains(&normal(d)))
        .filter(|d| !d.ends_with("/openapi.json") && !d.ends_with("/docs"))
        .collect();
    assert!(missing.is_empty(), "not in ROUTES: {missing:?}");
}

/// A request and what it is, for the failure message.
struct Attempt {
    what: &'static str,
    method: Method,
    path: String,
    body: Option<Vec<u8>>,
    content_type: Option<&'static str>,
    auth: Option<String>,
}

async fn send(app: &TestApp, attempt: &Attempt) -> (StatusCode, String) {
    // An oversized body makes the server answer 413 and close the connection; it gets a
    // connection of its own so no later request finds that one closing in the pool.
    let client = if attempt.what == "too large" {
        reqwest::Client::builder()
            .pool_max_idle_per_host(0)
            .build()
            .unwrap()
    } else {
        app.http.clone()
    };
    let mut request = client
        .request(attempt.method.clone(), app.url(&attempt.path))
        .header("Idempotency-Key", format!("hostile-{}", uuid_like()));
    if let Some(auth) = &attempt.auth {
        request = request.header("Authorization", auth);
    }
    if let Some(kind) = attempt.content_type {
        request = request.header("Content-Type", kind);
    }
    if let Some(body) = &attempt.body {
        request = request.body(body.clone());
    }
    let response = match request.send().await {
        Ok(response) => response,
        // A body over the limit may be cut off by the server's 413 before it is all
        // written; the connection closing is then the refusal.
        Err(e) if attempt.what == "too large" && e.is_request() => {
            return (
                StatusCode::PAYLOAD_TOO_LARGE,
                r#"{"error":{"code":"payload_too_large","message":"closed"}}"#.into(),
            );
        }
        Err(e) => panic!("{} {}: {e}", attempt.method, attempt.what),
    };
    let status = response.status();
    (status, response.text().await.unwrap())
}

fn uuid_like() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    format!(
        "{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::SeqCst)
    )
}

fn nested(depth: usize) -> Vec<u8> {
    let mut text = "[".repeat(depth);
    text.push_str(&"]".repeat(depth));
    text.into_bytes()
}

both_engines!(
    hostile_input_gets_clean_4xx_and_changes_nothing,
    |app: TestApp| async move {
        let card = "4546711234567894";
        let (status, paid) = app
            .pay(&app.a, "hostile-first", &payment(card, "100.00"))
            .await;
        assert_eq!(status, StatusCode::CREATED, "{paid}");
        let id = paid["id"].as_str().unwrap().to_owned();
        let before = app.get(&app.a, &format!("/api/v1/payments/{id}")).await.1;
        let ledger_before = app
            .sim
            .transactions(&app.a.merchant.merchant_no)
            .unwrap()
            .len();
        let key = format!("Bearer {}", app.a.api_key);

        let mut attempts = Vec::new();
        for (method, template) in ROUTES {
            let method: Method = method.parse().unwrap();
            let path = template
                .replace("{customer_ref}", "CARI-1")
                .replace("{pos_id}", &app.a.pos_id)
                .replace("{id}", &id)
                .replace("{item_id}", "rci_nothing");
            let long_id = template
                .replace("{customer_ref}", "CARI-1")
                .replace("{pos_id}", &app.a.pos_id)
                .replace("{id}", &"x".repeat(5000))
                .replace("{item_id}", "y");
            let with = |what: &'static str,
                        path: String,
                        body: Option<Vec<u8>>,
                        content_type: Option<&'static str>,
                        auth: Option<String>| Attempt {
                what,
                method: method.clone(),
                path,
                body,
                content_type,
                auth,
            };
            attempts.push(with("no key", path.clone(), None, None, None));
            attempts.push(with(
                "wrong key",
                path.clone(),
                None,
                None,
                Some("Bearer sk_nothing".into()),
            ));
            attempts.push(with(
                "not a bearer",
                path.clone(),
                None,
                None,
                Some("Basic YWxhZGRpbjpvcGVuc2VzYW1l".into()),
            ));
            if template.contains("{id}") {
                attempts.push(with(
                    "a 5000-character id",
                    long_id,
                    None,
                    None,
                    Some(key.clone()),
                ));
                attempts.push(with(
                    "a traversal id",
                    template
                        .replace("{customer_ref}", "..%2F..%2Fetc")
                        .replace("{pos_id}", "..%2F..%2Fetc")
                        .replace("{id}", "..%2F..%2Fetc")
                        .replace("{item_id}", "z"),
                    None,
                    None,
                    Some(key.clone()),
                ));
            }
            if method == Method::GET {
                for query in [
                    "?limit=abc",
                    "?limit=-1",
                    "?limit=999999999999",
                    "?status=nope",
                    "?from=yesterday",
                    "?cursor=%FF%FE%00",
                    "?cursor=not-a-cursor",
                ] {
                    if !template.contains("{id}") {
                        attempts.push(with(
                            "a bad query",
                            format!("{path}{query}"),
                            None,
                            None,
                            Some(key.clone()),
                        ));
                    }
                }
                continue;
            }
            let json = Some("application/json");
            let raw_upload = template.ends_with("/import");
            let bodies: Vec<(&'static str, Vec<u8>, Option<&'static str>)> = vec![
                ("broken JSON", b"{\"amount\": ".to_vec(), json),
                ("not UTF-8", vec![0xff, 0xfe, b'{', b'}'], json),
                ("an array", b"[]".to_vec(), json),
                ("a string", b"\"x\"".to_vec(), json),
                ("nested 10,000 deep", nested(10_000), json),
                (
                    "too large",
                    vec![
                        b' ';
                        if raw_upload {
                            33 * 1024 * 1024
                        } else {
                            200_000
                        }
                    ],
                    json,
                ),
                (
                    "JSON as text/plain",
                    json!({"amount": "1.00"}).to_string().into_bytes(),
                    Some("text/plain"),
                ),
                (
                    "form-encoded",
                    b"amount=1.00&currency=TRY".to_vec(),
                    Some("application/x-www-form-urlencoded"),
                ),
                (
                    "wrong types",
                    json!({"amount": 5, "currency": 7, "card": "x", "reason": []})
                        .to_string()
                        .into_bytes(),
                    json,
                ),
            ];
            for (what, body, content_type) in bodies {
                if raw_upload && content_type != json {
                    // The statement import takes the file itself, whatever its type.
                    continue;
                }
                attempts.push(with(
                    what,
                    path.clone(),
                    Some(body),
                    content_type,
                    Some(key.clone()),
                ));
            }
        }
        // Unknown routes and methods answer in the same envelope.
        attempts.push(Attempt {
            what: "unknown route",
            method: Method::GET,
            path: "/api/v1/nothing-here".into(),
            body: None,
            content_type: None,
            auth: Some(key.clone()),
        });
        attempts.push(Attempt {
            what: "wrong method",
            method: Method::DELETE,
            path: format!("/api/v1/payments/{id}"),
            body: None,
            content_type: None,
            auth: Some(key.clone()),
        });

        assert!(attempts.len() > 100, "{} attempts", attempts.len());
        for attempt in &attempts {
            let (status, body) = send(&app, attempt).await;
            let label = format!(
                "{} {} ({})",
                attempt.method,
                attempt.path.chars().take(80).collect::<String>(),
                attempt.what
            );
            assert!(status.is_client_error(), "{label}: {status} {body}");
            let parsed: Value = serde_json::from_str(&body)
                .unwrap_or_else(|_| panic!("{label}: not the JSON envelope: {body}"));
            assert!(
                parsed["error"]["code"].is_string() && parsed["error"]["message"].is_string(),
                "{label}: {body}"
            );
            assert!(!body.contains(card), "{label} echoed the card number");
        }

        // Nothing changed: the payment is as it was and nothing more reached the provider.
        let after = app.get(&app.a, &format!("/api/v1/payments/{id}")).await.1;
        assert_eq!(before, after);
        let (_, list) = app.get(&app.a, "/api/v1/payments").await;
        assert_eq!(list["items"].as_array().unwrap().len(), 1, "{list}");
        let (_, runs) = app.get(&app.a, "/api/v1/reconciliations").await;
        assert_eq!(
            runs["runs"].as_array().map(Vec::len),
            Some(0),
            "no reconciliation run was made: {runs}"
        );
        let profiles_path = format!("/api/v1/pos/{}/statement-profiles", app.a.pos_id);
        let (_, profiles) = app.get(&app.a, &profiles_path).await;
        assert_eq!(
            profiles["items"].as_array().map(Vec::len),
            Some(0),
            "no statement profile was saved: {profiles}"
        );
        assert_eq!(
            app.sim
                .transactions(&app.a.merchant.merchant_no)
                .unwrap()
                .len(),
            ledger_before
        );
    }
);
