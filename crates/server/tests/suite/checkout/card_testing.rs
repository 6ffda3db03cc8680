//! Card testing, played by a fraudster on both engines: 50 different cards and then one
//! card 20 times against one payment link, then across many links and the API. The
//! simulator's ledger (every sale call it received, whatever its outcome) is the judge
//! of how many attempts reached the provider; a legitimate customer from another IP with
//! another card still pays, and the owner reopens the locked link.
//!
//! The server runs behind a "load balancer" at 127.0.0.1 (`trusted_proxies`), so each
//! request says its client's address in `X-Forwarded-For`.

use sanalpos_simulator::TxKind;

use super::*;

/// The fraudster's address, and the legitimate customers'.
const FRAUD_IP: &str = "203.0.113.66";
const OTHER_IP: &str = "198.51.100.20";
const CUSTOMER_IP: &str = "192.0.2.44";
/// A declining card of the simulator (51 insufficient funds).
const DECLINING: &str = "4000000000000515";

/// The `n`-th generated card: Luhn-valid (approved by the simulator unless 3D fails).
fn generated_card(n: u32) -> String {
    let body = format!("4546719{n:08}");
    let digits: Vec<u32> = body.chars().map(|c| c.to_digit(10).unwrap()).collect();
    let mut sum = 0;
    for (i, d) in digits.iter().rev().enumerate() {
        let mut v = *d;
        if i % 2 == 0 {
            v *= 2;
            if v > 9 {
                v -= 9;
            }
        }
        sum += v;
    }
    format!("{body}{}", (10 - sum % 10) % 10)
}

fn form_with(card: &str) -> Vec<(String, String)> {
    vec![
        ("card_number".to_owned(), card.to_owned()),
        ("holder".to_owned(), "Deneme Kişi".to_owned()),
        ("exp_month".to_owned(), "12".to_owned()),
        ("exp_year".to_owned(), "2030".to_owned()),
        ("cvv".to_owned(), "123".to_owned()),
        ("installments".to_owned(), "1".to_owned()),
        ("amount".to_owned(), "10.00".to_owned()),
    ]
}

async fn new_link(app: &TestApp) -> String {
    let (status, body) = app
        .post(
            &app.a,
            "/api/v1/checkout-sessions",
            Some(json!({"purpose": "account", "max_amount": "500.00", "customer_ref": "CARI-1"})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    body["id"].as_str().unwrap().to_owned()
}

/// Sale calls the simulator received for company A: approved, declined or open alike.
fn provider_calls(app: &TestApp) -> usize {
    app.sim
        .transactions(&app.a.merchant.merchant_no)
        .unwrap()
        .iter()
        .filter(|t| t.kind == TxKind::Sales)
        .count()
}

/// What the page did with one submission.
#[derive(Debug, PartialEq, Eq)]
enum Submitted {
    /// Sent to the bank's 3D page and walked with `code`; the browser's next stop.
    ThreeD(String),
    /// Refused on the spot; the page's status and text.
    Refused(StatusCode, String),
}

/// Submits the hosted form from `ip`; a 3D redirect is walked with `code` (a wrong code
/// makes the issuer refuse), a direct redirect (a refused attempt) is followed.
async fn attempt(app: &TestApp, id: &str, ip: &str, card: &str, code: &str) -> Submitted {
    let response = app
        .http
        .post(app.url(&format!("/pay/{id}")))
        .header("X-Forwarded-For", ip)
        .form(&form_with(card))
        .send()
        .await
        .unwrap();
    let status = response.status();
    if status == StatusCode::SEE_OTHER {
        let to = response.headers()["location"].to_str().unwrap().to_owned();
        if to.contains("/3d/") {
            let walk = app.walk_3d(&to, code).await;
            return Submitted::ThreeD(walk.location);
        }
        let page = app.http.get(app.url(&to)).send().await.unwrap();
        let status = page.status();
        return Submitted::Refused(status, page.text().await.unwrap());
    }
    Submitted::Refused(status, response.text().await.unwrap())
}

async fn status_of(app: &TestApp, id: &str) -> String {
    let (_, s) = app
        .get(&app.a, &format!("/api/v1/checkout-sessions/{id}"))
        .await;
    s["status"].as_str().unwrap().to_owned()
}

async fn metric(app: &TestApp, reason: &str) -> u64 {
    let text = app
        .http
        .get(app.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let prefix = format!("sanalpos_blocked_attempts_total{{reason=\"{reason}\"}} ");
    text.lines()
        .find_map(|l| l.strip_prefix(&prefix))
        .unwrap_or_else(|| panic!("no {prefix} in {text}"))
        .trim()
        .parse()
        .unwrap()
}

async fn blocked_payments(app: &TestApp) -> Vec<Value> {
    let mut all = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut path = "/api/v1/payments?status=blocked&limit=200".to_owned();
        if let Some(c) = &cursor {
            path.push_str(&format!("&cursor={c}"));
        }
        let (status, page) = app.get(&app.a, &path).await;
        assert_eq!(status, StatusCode::OK, "{page}");
        all.extend(page["items"].as_array().unwrap().iter().cloned());
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => return all,
        }
    }
}

async fn fraudster(app: TestApp) {
    let (status, endpoint) = app
        .post(
            &app.a,
            "/api/v1/webhook-endpoints",
            Some(json!({"url": "http://127.0.0.1:9/unreachable",
                        "events": ["checkout_session.locked"]})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{endpoint}");
    let endpoint = endpoint["id"].as_str().unwrap().to_owned();

    // 1. Fifty different cards against one link, each failing 3D at the issuer: the
    // link takes five unsuccessful attempts, then locks.
    let link = new_link(&app).await;
    let mut reached = 0;
    for n in 0..50 {
        match attempt(&app, &link, FRAUD_IP, &generated_card(n), "000000").await {
            Submitted::ThreeD(_) => {
                reached += 1;
                // Still open after four; the fifth locks it, as the API sees at once
                // (before the customer's browser shows any page again).
                let expected = if reached < 5 { "open" } else { "locked" };
                assert_eq!(status_of(&app, &link).await, expected, "after {reached}");
            }
            Submitted::Refused(status, page) => {
                assert_eq!(status, StatusCode::FORBIDDEN, "card {n}: {page}");
                assert!(
                    page.contains("Çok sayıda başarısız deneme; lütfen satıcıyla iletişime geçin."),
                    "{page}"
                );
            }
        }
    }
    assert_eq!(reached, 5);
    assert_eq!(provider_calls(&app), 5);
    assert_eq!(status_of(&app, &link).await, "locked");
    // 2. Then one card twenty times: nothing more reaches the provider.
    for _ in 0..20 {
        let got = attempt(&app, &link, FRAUD_IP, DECLINING, "123456").await;
        assert!(
            matches!(got, Submitted::Refused(StatusCode::FORBIDDEN, _)),
            "{got:?}"
        );
    }
    assert_eq!(provider_calls(&app), 5);
    // The page itself says it is locked, and asks no card.
    let page = app
        .http
        .get(app.url(&format!("/pay/{link}")))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), StatusCode::FORBIDDEN);
    let page = page.text().await.unwrap();
    assert!(page.contains("lütfen satıcıyla iletişime geçin") && !page.contains("card_number"));
    // The lock is audited once, and told to the shop's webhook once.
    let audit = app.store.list_audit(&app.a.id, 1000).await.unwrap();
    let locks: Vec<_> = audit
        .iter()
        .filter(|e| e.kind == "checkout_session.locked" && e.subject_id == link)
        .collect();
    assert_eq!(locks.len(), 1);
    let (_, deliveries) = app
        .get(
            &app.a,
            &format!("/api/v1/webhook-endpoints/{endpoint}/deliveries"),
        )
        .await;
    let kinds: Vec<&str> = deliveries["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["event_type"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, vec!["checkout_session.locked"]);
    // The link list finds it under "locked", not under "open".
    for (filter, expected) in [("locked", vec![link.clone()]), ("open", vec![])] {
        let (status, page) = app
            .get(&app.a, &format!("/api/v1/payment-links?status={filter}"))
            .await;
        assert_eq!(status, StatusCode::OK, "{page}");
        let ids: Vec<String> = page["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| l["id"].as_str().unwrap().to_owned())
            .collect();
        assert_eq!(ids, expected, "{filter}");
    }

    // 3. Across many links from the same address: the per-IP limit (10 declines an
    // hour) lets five more reach the provider, then refuses everything from there.
    let mut refused_by_ip = 0;
    for n in 50..60 {
        let other = new_link(&app).await;
        match attempt(&app, &other, FRAUD_IP, &generated_card(n), "000000").await {
            Submitted::ThreeD(_) => {}
            Submitted::Refused(status, page) => {
                assert_eq!(status, StatusCode::OK, "{page}");
                assert!(page.contains("data-status=\"blocked\""), "{page}");
                refused_by_ip += 1;
            }
        }
    }
    assert_eq!(refused_by_ip, 5);
    assert_eq!(provider_calls(&app), 10);

    // 4. The API: the fraudster's address (as the shop passes it) is refused at once;
    // from elsewhere one declining card reaches the provider three times, never more.
    let mut body = payment(DECLINING, "1.00");
    body["cardholder_ip"] = json!(FRAUD_IP);
    let (status, answer) = app.pay(&app.a, &key(), &body).await;
    assert_eq!(status, StatusCode::CREATED, "{answer}");
    assert_eq!(answer["status"], "blocked");
    assert_eq!(provider_calls(&app), 10);
    let mut statuses = Vec::new();
    for _ in 0..20 {
        let (status, answer) = app.pay(&app.a, &key(), &payment(DECLINING, "1.00")).await;
        assert_eq!(status, StatusCode::CREATED, "{answer}");
        statuses.push(answer["status"].as_str().unwrap().to_owned());
    }
    assert_eq!(statuses.iter().filter(|s| *s == "declined").count(), 3);
    assert_eq!(statuses.iter().filter(|s| *s == "blocked").count(), 17);
    let (_, answer) = app.pay(&app.a, &key(), &payment(DECLINING, "1.00")).await;
    assert_eq!(answer["status"], "blocked");
    assert!(answer["message"]["en"]
        .as_str()
        .unwrap()
        .contains("Too many unsuccessful attempts"));
    assert_eq!(provider_calls(&app), 13);
    // The same card on a fresh link from a fresh address: refused by the card's count.
    let fresh = new_link(&app).await;
    let got = attempt(&app, &fresh, OTHER_IP, DECLINING, "123456").await;
    assert!(
        matches!(&got, Submitted::Refused(StatusCode::OK, page) if page.contains("data-status=\"blocked\"")),
        "{got:?}"
    );
    assert_eq!(provider_calls(&app), 13);

    // 5. Legitimate customers still pay: another address and card on a fresh link, and
    // through the API.
    let good = new_link(&app).await;
    match attempt(&app, &good, CUSTOMER_IP, "4546711234567894", "123456").await {
        Submitted::ThreeD(_) => {}
        other => panic!("{other:?}"),
    }
    assert_eq!(status_of(&app, &good).await, "completed");
    let (_, answer) = app
        .pay(&app.a, &key(), &payment(&generated_card(900), "25.00"))
        .await;
    assert_eq!(answer["status"], "approved", "{answer}");
    assert_eq!(provider_calls(&app), 15);

    // 6. Seen: the refusals are attempts in the payment list (never sent: no provider
    // reference), counted by reason in /metrics and on the dashboard.
    let blocked = blocked_payments(&app).await;
    assert_eq!(blocked.len(), 45 + 20 + 5 + 1 + 18 + 1);
    assert!(blocked
        .iter()
        .all(|p| p["provider_ref"].is_null() && p["auth_code"].is_null()));
    assert_eq!(metric(&app, "session_locked").await, 65);
    assert_eq!(metric(&app, "velocity_ip").await, 6);
    assert_eq!(metric(&app, "velocity_card").await, 19);
    let dashboard = app
        .service
        .dashboard(&app.a.id, chrono::Utc::now())
        .await
        .unwrap();
    assert_eq!(dashboard.blocked_today, blocked.len() as u64);
    let pid = blocked[0]["id"].as_str().unwrap();
    let (_, detail) = app.get(&app.a, &format!("/api/v1/payments/{pid}")).await;
    let attempts = detail["attempts"].as_array().unwrap();
    assert_eq!(attempts.len(), 1, "{detail}");

    // 7. The owner reopens the locked link through the API (audited); another company
    // cannot; a customer pays it.
    let path = format!("/api/v1/checkout-sessions/{link}/reopen");
    let (status, body) = app.post(&app.b, &path, None).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    assert_eq!(status_of(&app, &link).await, "locked");
    let (status, body) = app.post(&app.a, &path, None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["status"], "open", "{body}");
    assert_eq!(status_of(&app, &link).await, "open");
    let audit = app.store.list_audit(&app.a.id, 1000).await.unwrap();
    assert_eq!(
        audit
            .iter()
            .filter(|e| e.kind == "checkout_session.reopened" && e.subject_id == link)
            .count(),
        1
    );
    assert!(audit.iter().any(|e| e.kind == "checkout_session.reopened"
        && e.subject_id == link
        && e.actor.starts_with("api:")));
    match attempt(&app, &link, "192.0.2.45", &generated_card(901), "123456").await {
        Submitted::ThreeD(_) => {}
        other => panic!("{other:?}"),
    }
    assert_eq!(status_of(&app, &link).await, "completed");
}

fn behind_proxy(config: &mut sanalpos_server::Config) {
    config.trusted_proxies = vec!["127.0.0.1".parse().unwrap()];
}

mod fraudster_is_stopped_before_the_provider {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sqlite() {
        let app = TestApp::spawn_with(Db::Sqlite, "card_testing", behind_proxy)
            .await
            .unwrap();
        fraudster(app).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn postgres() {
        if let Some(app) = TestApp::spawn_with(Db::Postgres, "card_testing", behind_proxy).await {
            fraudster(app).await;
        }
    }
}
