#![allow(clippy::unwrap_used)]
//! Checkout sessions and the hosted page, driven over HTTP as a browser would (forms
//! read by the testkit), 3D Secure through the simulator's bank page included.

use std::time::Duration;

use crate::helpers::*;
use reqwest::StatusCode;
use sanalpos_service::SignedReturn;
use serde_json::{json, Value};

const CARD: &str = "4546711234567894";

async fn session(app: &TestApp, who: &Seeded, body: Value) -> (StatusCode, Value) {
    app.post(who, "/api/v1/checkout-sessions", Some(body)).await
}

fn order(amount: &str) -> Value {
    json!({
        "purpose": "order",
        "amount": amount,
        "order_ref": "SIP-42",
        "customer_ref": "CARI-7",
        "return_url": "https://shop.example/return?o=42",
        "max_installments": 6,
        "language": "tr"
    })
}

fn card_form(amount: Option<&str>) -> Vec<(String, String)> {
    let mut fields = vec![
        ("card_number".to_owned(), CARD.to_owned()),
        ("holder".to_owned(), "Ayşe Yılmaz".to_owned()),
        ("exp_month".to_owned(), "12".to_owned()),
        ("exp_year".to_owned(), "2030".to_owned()),
        ("cvv".to_owned(), "123".to_owned()),
        ("installments".to_owned(), "1".to_owned()),
    ];
    if let Some(a) = amount {
        fields.push(("amount".to_owned(), a.to_owned()));
    }
    fields
}

async fn submit(app: &TestApp, id: &str, fields: &[(String, String)]) -> reqwest::Response {
    app.http
        .post(app.url(&format!("/pay/{id}")))
        .form(fields)
        .send()
        .await
        .unwrap()
}

fn query_of(url: &str) -> Vec<(String, String)> {
    let query = url.split_once('?').map(|(_, q)| q).unwrap_or("");
    query
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
}

fn signed_return(url: &str) -> SignedReturn {
    let q = query_of(url);
    let get = |name: &str| {
        q.iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .unwrap_or_else(|| panic!("{name} missing in {url}"))
    };
    SignedReturn {
        session_id: get("session_id"),
        payment_id: get("payment_id"),
        status: get("status"),
        t: get("t").parse().unwrap(),
        signature: get("signature"),
    }
}

fn back_link(html: &str) -> String {
    let at = html
        .find("id=\"back\"")
        .unwrap_or_else(|| panic!("no back link: {html}"));
    let href = html[at..].find("href=\"").unwrap() + at + 6;
    let end = html[href..].find('"').unwrap() + href;
    html[href..end].replace("&amp;", "&")
}

both_engines!(
    order_session_paid_once_through_3d,
    |app: TestApp| async move {
        // Bad requests are refused and store nothing.
        let (status, body) = session(&app, &app.a, json!({"purpose": "order"})).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(body["error"]["field"], "amount");
        let mut no_return = order("10.00");
        no_return["return_url"] = Value::Null;
        let (status, body) = session(&app, &app.a, no_return).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(body["error"]["field"], "return_url");

        let (status, created) = session(&app, &app.a, order("249.90")).await;
        assert_eq!(status, StatusCode::CREATED, "{created}");
        let id = created["id"].as_str().unwrap().to_owned();
        let secret = created["return_secret"].as_str().unwrap().to_owned();
        assert_eq!(created["url"], app.url(&format!("/pay/{id}")));
        assert_eq!(created["status"], "open");
        // The secret is shown once; another company cannot read the session.
        let (_, fetched) = app
            .get(&app.a, &format!("/api/v1/checkout-sessions/{id}"))
            .await;
        assert!(fetched.get("return_secret").is_none(), "{fetched}");
        let (status, _) = app
            .get(&app.b, &format!("/api/v1/checkout-sessions/{id}"))
            .await;
        assert_eq!(status, StatusCode::NOT_FOUND);

        // The page: the company's name and the order's amount.
        let page = app
            .http
            .get(app.url(&format!("/pay/{id}")))
            .send()
            .await
            .unwrap();
        assert_eq!(page.status(), StatusCode::OK);
        let html = page.text().await.unwrap();
        assert!(html.contains("Şirket 0"), "branded with the company");
        assert!(html.contains("249,90 TL"));
        assert!(html.contains("SIP-42"));

        // Installment options come from the provider, with totals, within the maximum.
        let options: Value = serde_json::from_str(
            &app.http
                .get(app.url(&format!("/pay/{id}/installments?bin={}", &CARD[..8])))
                .send()
                .await
                .unwrap()
                .text()
                .await
                .unwrap(),
        )
        .unwrap();
        let options = options["options"].as_array().unwrap();
        assert!(!options.is_empty(), "{options:?}");
        assert_eq!(options[0]["installments"], 1);
        assert!(options
            .iter()
            .all(|o| o["installments"].as_u64().unwrap() <= 6 && o["total"].is_string()));

        // A tampered amount is refused; nothing is charged.
        let response = submit(&app, &id, &card_form(Some("1.00"))).await;
        assert_eq!(response.status(), StatusCode::CONFLICT);
        let html = response.text().await.unwrap();
        assert!(html.contains("uyuşmuyor"), "{html}");
        assert!(
            !html.contains(CARD),
            "the card number is never rendered back"
        );
        let (_, fetched) = app
            .get(&app.a, &format!("/api/v1/checkout-sessions/{id}"))
            .await;
        assert_eq!(fetched["payment_id"], Value::Null);

        // Paid: 3D through the bank's page, then our result page, then the shop.
        let response = submit(&app, &id, &card_form(Some("249.90"))).await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER);
        let to_3d = response.headers()["location"].to_str().unwrap().to_owned();
        assert!(to_3d.contains("/3d/"), "{to_3d}");
        let result_url = app.walk_3d(&to_3d, "123456").await.location;
        assert!(
            result_url.contains(&format!("/pay/{id}/return")),
            "{result_url}"
        );
        let result = app.http.get(&result_url).send().await.unwrap();
        assert_eq!(result.status(), StatusCode::OK);
        let html = result.text().await.unwrap();
        assert!(html.contains("data-status=\"approved\""), "{html}");
        let back = back_link(&html);
        assert!(
            back.starts_with("https://shop.example/return?o=42&session_id="),
            "{back}"
        );
        let signed = signed_return(&back);
        let now = chrono::Utc::now().timestamp();
        signed.verify(&secret, now, 300).unwrap();
        assert_eq!(signed.session_id, id);
        assert_eq!(signed.status, "approved");
        // Tampered return parameters do not verify.
        let mut forged = signed.clone();
        forged.status = "approved".into();
        forged.payment_id = "pay_someoneelse".into();
        assert!(forged.verify(&secret, now, 300).is_err());
        let mut forged = signed.clone();
        forged.t += 1;
        assert!(forged.verify(&secret, now, 300).is_err());

        let (_, payment) = app
            .get(&app.a, &format!("/api/v1/payments/{}", signed.payment_id))
            .await;
        assert_eq!(payment["status"], "approved", "{payment}");
        assert_eq!(payment["channel"], "hosted");
        assert_eq!(payment["amount"], "249.90");
        assert_eq!(payment["order_ref"], "SIP-42");
        let (_, fetched) = app
            .get(&app.a, &format!("/api/v1/checkout-sessions/{id}"))
            .await;
        assert_eq!(fetched["status"], "completed");
        assert_eq!(fetched["payment_id"], signed.payment_id.as_str());

        // Paid at most once: the page says so and a submit is refused.
        let page = app
            .http
            .get(app.url(&format!("/pay/{id}")))
            .send()
            .await
            .unwrap();
        assert_eq!(page.status(), StatusCode::CONFLICT);
        let response = submit(&app, &id, &card_form(Some("249.90"))).await;
        assert_eq!(response.status(), StatusCode::CONFLICT);
        assert_eq!(app.charged(&app.a).len(), 1, "charged exactly once");
    }
);

both_engines!(
    concurrent_submits_start_one_payment,
    |app: TestApp| async move {
        let (_, created) = session(&app, &app.a, order("50.00")).await;
        let id = created["id"].as_str().unwrap().to_owned();
        let mut submits = Vec::new();
        for _ in 0..6 {
            let http = app.http.clone();
            let url = app.url(&format!("/pay/{id}"));
            let fields = card_form(Some("50.00"));
            submits.push(tokio::spawn(async move {
                http.post(url).form(&fields).send().await.unwrap().status()
            }));
        }
        let mut started = 0;
        for s in submits {
            let status = s.await.unwrap();
            if status == StatusCode::SEE_OTHER {
                started += 1;
            } else {
                assert_eq!(status, StatusCode::CONFLICT);
            }
        }
        assert_eq!(started, 1, "exactly one payment started");
        let (_, page) = app
            .get(&app.a, "/api/v1/payments?order_ref=SIP-42&limit=50")
            .await;
        assert_eq!(page["items"].as_array().unwrap().len(), 1, "{page}");
    }
);

both_engines!(expired_and_declined_sessions, |app: TestApp| async move {
    let mut short = order("12.00");
    short["expires_in"] = json!(1);
    let (_, created) = session(&app, &app.a, short).await;
    let id = created["id"].as_str().unwrap().to_owned();
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let page = app
        .http
        .get(app.url(&format!("/pay/{id}")))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), StatusCode::GONE);
    assert!(page.text().await.unwrap().contains("süresi doldu"));
    let response = submit(&app, &id, &card_form(Some("12.00"))).await;
    assert_eq!(response.status(), StatusCode::GONE);
    let (_, fetched) = app
        .get(&app.a, &format!("/api/v1/checkout-sessions/{id}"))
        .await;
    assert_eq!(fetched["status"], "expired");
    assert_eq!(fetched["payment_id"], Value::Null);

    // A wrong 3D code declines; the session stays open and can be paid again.
    let mut en = order("13.00");
    en["language"] = json!("en");
    let (_, created) = session(&app, &app.a, en).await;
    let id = created["id"].as_str().unwrap().to_owned();
    let secret = created["return_secret"].as_str().unwrap().to_owned();
    let response = submit(&app, &id, &card_form(None)).await;
    let to_3d = response.headers()["location"].to_str().unwrap().to_owned();
    let result_url = app.walk_3d(&to_3d, "000000").await.location;
    let html = app
        .http
        .get(&result_url)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains("Payment not completed"), "{html}");
    assert!(html.contains("id=\"retry\""));
    let signed = signed_return(&back_link(&html));
    assert_eq!(signed.status, "declined");
    signed
        .verify(&secret, chrono::Utc::now().timestamp(), 300)
        .unwrap();
    let response = submit(&app, &id, &card_form(None)).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let to_3d = response.headers()["location"].to_str().unwrap().to_owned();
    let result_url = app.walk_3d(&to_3d, "123456").await.location;
    let html = app
        .http
        .get(&result_url)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains("Payment received"), "{html}");
    let (_, fetched) = app
        .get(&app.a, &format!("/api/v1/checkout-sessions/{id}"))
        .await;
    assert_eq!(fetched["status"], "completed");
});

both_engines!(
    account_payment_link_within_limits,
    |app: TestApp| async move {
        let (status, body) = session(
            &app,
            &app.a,
            json!({"purpose": "account", "min_amount": "50.00", "max_amount": "10.00"}),
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        let (status, created) = session(
            &app,
            &app.a,
            json!({"purpose": "account", "min_amount": "10.00", "max_amount": "500.00",
               "customer_ref": "CARI-9", "expires_in": 2592000}),
        )
        .await;
        assert_eq!(status, StatusCode::CREATED, "{created}");
        assert!(
            created.get("return_secret").is_none(),
            "no return_url, no secret"
        );
        let id = created["id"].as_str().unwrap().to_owned();
        let html = app
            .http
            .get(app.url(&format!("/pay/{id}")))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(html.contains("name=\"amount\""));
        assert!(html.contains("CARI-9"));
        for too_much in ["500.01", "9.99", "abc"] {
            let response = submit(&app, &id, &card_form(Some(too_much))).await;
            assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{too_much}");
        }
        let response = submit(&app, &id, &card_form(Some("123,45"))).await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER);
        let to_3d = response.headers()["location"].to_str().unwrap().to_owned();
        let result_url = app.walk_3d(&to_3d, "123456").await.location;
        let html = app
            .http
            .get(&result_url)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(html.contains("data-status=\"approved\""), "{html}");
        assert!(
            !html.contains("id=\"back\""),
            "a payment link has no way back"
        );
        let (_, fetched) = app
            .get(&app.a, &format!("/api/v1/checkout-sessions/{id}"))
            .await;
        assert_eq!(fetched["status"], "completed");
        let pid = fetched["payment_id"].as_str().unwrap();
        let (_, payment) = app.get(&app.a, &format!("/api/v1/payments/{pid}")).await;
        assert_eq!(payment["amount"], "123.45");
        assert_eq!(payment["customer_ref"], "CARI-9");
        assert_eq!(payment["channel"], "hosted");
        // Who made the link is in the audit chain.
        let audit = app.store.list_audit(&app.a.id, 500).await.unwrap();
        assert!(audit
            .iter()
            .any(|e| e.kind == "checkout_session.created" && e.subject_id == id));
    }
);

both_engines!(checkout_completed_webhook, |app: TestApp| async move {
    // The event is written with the approval: check the outbox through the API.
    let (status, endpoint) = app
        .post(
            &app.a,
            "/api/v1/webhook-endpoints",
            Some(json!({"url": "http://127.0.0.1:9/unreachable",
                        "events": ["checkout_session.completed", "payment.approved"]})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let endpoint = endpoint["id"].as_str().unwrap().to_owned();
    let (_, created) = session(&app, &app.a, order("77.00")).await;
    let id = created["id"].as_str().unwrap().to_owned();
    let response = submit(&app, &id, &card_form(None)).await;
    let to_3d = response.headers()["location"].to_str().unwrap().to_owned();
    app.walk_3d(&to_3d, "123456").await;
    let (_, list) = app
        .get(
            &app.a,
            &format!("/api/v1/webhook-endpoints/{endpoint}/deliveries"),
        )
        .await;
    let mut kinds: Vec<&str> = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["event_type"].as_str().unwrap())
        .collect();
    kinds.sort();
    assert_eq!(
        kinds,
        vec!["checkout_session.completed", "payment.approved"]
    );
    let events = app.store.list_events_of(&id).await.unwrap();
    assert_eq!(events.len(), 1);
    let event: Value = serde_json::from_str(&events[0].1).unwrap();
    assert_eq!(event["type"], "checkout_session.completed");
    assert_eq!(event["data"]["checkout_session"]["id"], id.as_str());
    assert_eq!(event["data"]["checkout_session"]["status"], "completed");
    assert_eq!(event["data"]["payment"]["channel"], "hosted");
});

mod payment_links;

mod card_testing;

both_engines!(
    hosted_page_saves_and_offers_stored_cards,
    |app: TestApp| async move {
        // Stored cards belong to a customer: refused without one.
        let mut no_customer = order("10.00");
        no_customer["customer_ref"] = Value::Null;
        no_customer["stored_cards"] = json!(true);
        let (status, body) = session(&app, &app.a, no_customer).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(body["error"]["field"], "stored_cards");

        // "Kartımı kaydet": the card typed on a 3D payment is kept for the customer.
        let mut offering = order("120.00");
        offering["stored_cards"] = json!(true);
        let (status, created) = session(&app, &app.a, offering.clone()).await;
        assert_eq!(status, StatusCode::CREATED, "{created}");
        assert_eq!(created["stored_cards"], true);
        let id = created["id"].as_str().unwrap().to_owned();
        let html = app
            .http
            .get(app.url(&format!("/pay/{id}")))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(html.contains("id=\"save_card\""), "{html}");
        assert!(!html.contains("saved-cards"), "no card stored yet");
        let mut fields = card_form(Some("120.00"));
        fields.push(("save_card".into(), "on".into()));
        fields.push(("card_alias".into(), "Ev kartım".into()));
        let response = submit(&app, &id, &fields).await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER);
        let to_3d = response.headers()["location"].to_str().unwrap().to_owned();
        app.walk_3d(&to_3d, "123456").await;
        let (_, cards) = app.get(&app.a, "/api/v1/customers/CARI-7/cards").await;
        let cards = cards["items"].as_array().cloned().unwrap();
        assert_eq!(cards.len(), 1, "{cards:?}");
        assert_eq!(cards[0]["masked_pan"], "454671******7894");
        assert_eq!(cards[0]["alias"], "Ev kartım");
        let card_id = cards[0]["id"].as_str().unwrap().to_owned();

        // The next session offers it: paid with it, no card typed, no 3D step.
        let mut second = offering.clone();
        second["amount"] = json!("35.00");
        let (_, next) = session(&app, &app.a, second).await;
        let next_id = next["id"].as_str().unwrap().to_owned();
        let html = app
            .http
            .get(app.url(&format!("/pay/{next_id}")))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(
            html.contains("saved-cards") && html.contains("454671******7894"),
            "{html}"
        );
        assert!(html.contains("Ev kartım"));
        let response = submit(
            &app,
            &next_id,
            &[
                ("stored_card".to_owned(), card_id.clone()),
                ("installments".to_owned(), "1".to_owned()),
                ("amount".to_owned(), "35.00".to_owned()),
            ],
        )
        .await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER);
        let to = response.headers()["location"].to_str().unwrap().to_owned();
        assert!(to.ends_with(&format!("/pay/{next_id}/return")), "{to}");
        let (_, paid) = app
            .get(&app.a, &format!("/api/v1/checkout-sessions/{next_id}"))
            .await;
        assert_eq!(paid["status"], "completed", "{paid}");
        let payment_id = paid["payment_id"].as_str().unwrap().to_owned();
        let (_, payment) = app
            .get(&app.a, &format!("/api/v1/payments/{payment_id}"))
            .await;
        assert_eq!(payment["status"], "approved", "{payment}");
        assert_eq!(payment["amount"], "35.00");
        assert_eq!(payment["three_d"], false);

        // A session that does not offer stored cards shows none.
        let (_, plain) = session(&app, &app.a, order("5.00")).await;
        let plain_id = plain["id"].as_str().unwrap().to_owned();
        let html = app
            .http
            .get(app.url(&format!("/pay/{plain_id}")))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(!html.contains("saved-cards") && !html.contains("save_card"));
        // Another company's session cannot use this customer's card.
        let (_, foreign) = session(&app, &app.b, offering).await;
        let foreign_id = foreign["id"].as_str().unwrap().to_owned();
        let response = submit(
            &app,
            &foreign_id,
            &[
                ("stored_card".to_owned(), card_id),
                ("installments".to_owned(), "1".to_owned()),
                ("amount".to_owned(), "120.00".to_owned()),
            ],
        )
        .await;
        assert_ne!(response.status(), StatusCode::SEE_OTHER);
        assert_eq!(app.charged(&app.b).len(), 0);
    }
);
