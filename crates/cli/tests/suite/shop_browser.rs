#![allow(clippy::unwrap_used)]
//! The demo shop in a real headless Chromium: `sanalpos demo` as started by the CLI,
//! the basket's "Siparişi Sonlandır" through the hosted page and the simulator's 3D
//! page, back to the shop with a signed return; the shop's webhook listener receives
//! and verifies the events. Tampered return parameters, an expired session, a second
//! payment of a paid session and a tampered amount are refused.

use std::time::Duration;

use sanalpos_simulator::cards::DEMO_CARD;
use sanalpos_testkit::browser::{screenshot_path, Browser};
use serde_json::{json, Value};

const TEST: &str = "shop_browser";
const WAIT: Duration = Duration::from_secs(20);

struct Demo {
    base_url: String,
    api_key: String,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
    _dir: tempfile::TempDir,
}

async fn start_demo() -> Demo {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().to_owned();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        sanalpos::demo::run(0, &data, async move {
            let _ = stopped.await;
        })
        .await
        .unwrap();
    });
    let file = dir.path().join("demo.json");
    for _ in 0..400 {
        if let Ok(text) = std::fs::read_to_string(&file) {
            if let Ok(demo) = serde_json::from_str::<Value>(&text) {
                return Demo {
                    base_url: demo["base_url"].as_str().unwrap().to_owned(),
                    api_key: demo["companies"][0]["api_key"].as_str().unwrap().to_owned(),
                    stop: Some(stop),
                    task: Some(task),
                    _dir: dir,
                };
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the demo did not start");
}

impl Demo {
    async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            task.await.unwrap();
        }
    }
}

/// Fills the hosted page's card form with the demo card.
async fn fill_card(b: &Browser) {
    b.wait_for("#card_number", WAIT).await.unwrap();
    b.find("#card_number")
        .await
        .unwrap()
        .send_keys(DEMO_CARD.number)
        .await
        .unwrap();
    b.find("#holder")
        .await
        .unwrap()
        .send_keys("Ayşe Yılmaz")
        .await
        .unwrap();
    b.find("#exp_month")
        .await
        .unwrap()
        .send_keys(DEMO_CARD.expiry_month)
        .await
        .unwrap();
    b.find("#exp_year")
        .await
        .unwrap()
        .send_keys(DEMO_CARD.expiry_year)
        .await
        .unwrap();
    b.find("#cvv")
        .await
        .unwrap()
        .send_keys(DEMO_CARD.cvv)
        .await
        .unwrap();
}

/// Puts one product in the basket and presses "Siparişi Sonlandır"; returns the hosted
/// page's URL.
async fn order_one(b: &Browser, base: &str) -> String {
    b.goto(&format!("{base}/shop")).await.unwrap();
    b.find("#add").await.unwrap().click().await.unwrap();
    b.wait_for("#checkout", WAIT)
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    b.wait_for("#card_number", WAIT).await.unwrap();
    b.current_url().await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shop_pays_through_the_hosted_page() {
    let Some(b) = Browser::start_or_skip(TEST).await else {
        return;
    };
    let demo = start_demo().await;
    let base = demo.base_url.clone();

    // The basket and "Siparişi Sonlandır" lead to our hosted page, branded.
    let hosted = order_one(&b, &base).await;
    assert!(hosted.starts_with(&format!("{base}/pay/cs_")), "{hosted}");
    let text = b.body_text().await.unwrap();
    assert!(text.contains("Demo Ticaret A.Ş."), "{text}");
    assert!(text.contains("289,90 TL"), "{text}");
    fill_card(&b).await;
    // The installment options arrive from the provider as the card number is typed.
    b.wait_for("#installments[data-loaded='1']", WAIT)
        .await
        .unwrap();
    let options = b.find_all("#installments option").await.unwrap();
    assert!(options.len() > 1, "several installment options");
    let label = options[1].text().await.unwrap();
    assert!(label.contains("TL"), "{label}");
    b.screenshot(&screenshot_path(TEST, "hosted_page"))
        .await
        .unwrap();
    b.select_value("#installments", "1").await.unwrap();
    b.find("#submit").await.unwrap().click().await.unwrap();

    // The simulator's bank page: the SMS code.
    b.wait_for("#code", WAIT)
        .await
        .unwrap()
        .send_keys("123456")
        .await
        .unwrap();
    b.screenshot(&screenshot_path(TEST, "bank_3d_page"))
        .await
        .unwrap();
    b.find("#submit").await.unwrap().click().await.unwrap();

    // Our result page, then back to the shop, which verifies the signed return.
    let result = b
        .wait_for("#result[data-status='approved']", WAIT)
        .await
        .unwrap();
    assert!(result.text().await.unwrap().contains("Ödemeniz alındı"));
    b.screenshot(&screenshot_path(TEST, "result_page"))
        .await
        .unwrap();
    b.find("#back").await.unwrap().click().await.unwrap();
    b.wait_for_text("imza doğrulandı", WAIT).await.unwrap();
    let verdict = b.find("#verdict").await.unwrap();
    assert_eq!(
        verdict.attr("data-status").await.unwrap().as_deref(),
        Some("approved")
    );
    b.screenshot(&screenshot_path(TEST, "shop_return"))
        .await
        .unwrap();
    let signed_return = b.current_url().await.unwrap();
    assert!(signed_return.contains("signature="), "{signed_return}");

    // The shop's listener got the webhooks and verified their signatures.
    let mut seen = Vec::new();
    for _ in 0..200 {
        b.goto(&format!("{base}/shop/webhooks")).await.unwrap();
        seen.clear();
        for row in b.find_all("tr.event").await.unwrap() {
            let kind = row.attr("data-type").await.unwrap().unwrap_or_default();
            let verified = row.attr("data-verified").await.unwrap().unwrap_or_default();
            seen.push((kind, verified));
        }
        let has = |k: &str| seen.iter().any(|(kind, v)| kind == k && v == "true");
        if has("payment.approved") && has("checkout_session.completed") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        seen.iter()
            .any(|(k, v)| k == "payment.approved" && v == "true"),
        "{seen:?}"
    );
    assert!(
        seen.iter()
            .any(|(k, v)| k == "checkout_session.completed" && v == "true"),
        "{seen:?}"
    );
    assert!(
        seen.iter().all(|(_, v)| v == "true"),
        "every webhook verified: {seen:?}"
    );

    // Tampered return parameters: refused by the shop.
    for (from, to) in [
        ("status=approved", "status=declined"),
        ("signature=", "signature=00"),
        ("payment_id=pay_", "payment_id=pay_X"),
    ] {
        b.goto(&signed_return.replacen(from, to, 1)).await.unwrap();
        b.wait_for_text("İmza doğrulanamadı", WAIT).await.unwrap();
    }

    // A second payment of the paid session: the page says so, and a submit is refused.
    b.goto(&hosted).await.unwrap();
    b.wait_for_text("Bu ödeme zaten yapıldı", WAIT)
        .await
        .unwrap();
    let status = b
        .execute(
            "return fetch(arguments[0], {method: 'POST', headers: {'Content-Type': \
             'application/x-www-form-urlencoded'}, body: arguments[1]}).then(r => r.status)",
            vec![
                json!(hosted),
                json!(format!(
                    "amount=289.90&installments=1&card_number={}&holder=A&exp_month={}&exp_year={}&cvv={}",
                    DEMO_CARD.number, DEMO_CARD.expiry_month, DEMO_CARD.expiry_year, DEMO_CARD.cvv
                )),
            ],
        )
        .await
        .unwrap();
    assert_eq!(status, json!(409));

    // A tampered amount: the hidden amount changed in the page; refused.
    order_one(&b, &base).await;
    b.execute(
        "document.querySelector('input[name=amount]').value = '1.00'; return true",
        vec![],
    )
    .await
    .unwrap();
    fill_card(&b).await;
    b.find("#submit").await.unwrap().click().await.unwrap();
    b.wait_for_text("tutarıyla uyuşmuyor", WAIT).await.unwrap();
    assert!(b
        .page_source()
        .await
        .unwrap()
        .find(DEMO_CARD.number)
        .is_none());
    b.screenshot(&screenshot_path(TEST, "tampered_amount"))
        .await
        .unwrap();

    // An expired session (created through the API like a shop would, one second long).
    let http = reqwest::Client::new();
    let created: Value = serde_json::from_str(
        &http
            .post(format!("{base}/api/v1/checkout-sessions"))
            .bearer_auth(&demo.api_key)
            .header("Content-Type", "application/json")
            .body(
                json!({"purpose": "order", "amount": "10.00", "expires_in": 1,
                       "return_url": format!("{base}/shop/return")})
                .to_string(),
            )
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap(),
    )
    .unwrap();
    tokio::time::sleep(Duration::from_millis(1200)).await;
    b.goto(created["url"].as_str().unwrap()).await.unwrap();
    b.wait_for_text("Ödeme süresi doldu", WAIT).await.unwrap();
    b.screenshot(&screenshot_path(TEST, "expired"))
        .await
        .unwrap();

    // Pay my balance: an account payment with an amount within the limits.
    b.goto(&format!("{base}/shop/balance")).await.unwrap();
    b.find("#pay-balance").await.unwrap().click().await.unwrap();
    b.wait_for("#amount", WAIT)
        .await
        .unwrap()
        .send_keys("2000,00")
        .await
        .unwrap();
    fill_card(&b).await;
    b.find("#submit").await.unwrap().click().await.unwrap();
    b.wait_for("#error", WAIT).await.unwrap();
    b.find("#amount")
        .await
        .unwrap()
        .send_keys("250,00")
        .await
        .unwrap();
    fill_card(&b).await;
    b.find("#submit").await.unwrap().click().await.unwrap();
    b.wait_for("#code", WAIT)
        .await
        .unwrap()
        .send_keys("123456")
        .await
        .unwrap();
    b.find("#submit").await.unwrap().click().await.unwrap();
    b.wait_for("#result[data-status='approved']", WAIT)
        .await
        .unwrap();
    assert!(b.body_text().await.unwrap().contains("250,00 TL"));
    b.find("#back").await.unwrap().click().await.unwrap();
    b.wait_for_text("imza doğrulandı", WAIT).await.unwrap();

    b.quit().await;
    demo.stop().await;
}
