//! The reconciliation pages in a real headless Chromium, as an accountant uses them:
//! sign in, start a pull run of today, open it, dismiss the panel sale it found with a
//! reason. Screenshots of the runs list and the run go under
//! `target/screenshots/reconciliation_walkthrough/`.

#![allow(clippy::unwrap_used)]

use std::time::Duration;

use crate::helpers::ui::*;
use crate::helpers::*;
use reqwest::StatusCode;
use sanalpos_testkit::browser::{screenshot_path, Browser};
use serde_json::json;

const TEST: &str = "reconciliation_walkthrough";
const WAIT: Duration = Duration::from_secs(20);
const CARD: &str = "4546711234567894";
const PANEL_CARD: &str = "5200190006338608";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reconciliation_walkthrough() {
    let Some(b) = Browser::start_or_skip(TEST).await else {
        return;
    };
    let app = TestApp::spawn(Db::Sqlite, TEST).await.unwrap();
    seed_users(&app).await;
    let (status, body) = app.pay(&app.a, &key(), &payment(CARD, "150.00")).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let response = app
        .http
        .post(format!(
            "{}/_sim/merchants/{}/panel-sales",
            app.sim.base_url(),
            app.a.merchant.merchant_no
        ))
        .header("Content-Type", "application/json")
        .body(json!({"amount": "12.50", "card": PANEL_CARD}).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);

    // Sign in as the accountant.
    b.goto(&app.url("/ui/login")).await.unwrap();
    b.wait_for("#sign-in", WAIT).await.unwrap();
    b.find("#username")
        .await
        .unwrap()
        .send_keys("accountant")
        .await
        .unwrap();
    b.find("#password")
        .await
        .unwrap()
        .send_keys(PASSWORD)
        .await
        .unwrap();
    b.find("#sign-in").await.unwrap().click().await.unwrap();
    b.wait_for("#current-user", WAIT).await.unwrap();

    // The menu leads to the runs; a pull run of today (the form's default period).
    b.find("nav.menu a[href='/ui/reconciliations']")
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    b.wait_for("#pull-form", WAIT).await.unwrap();
    b.select_value("#pull-pos", &app.a.pos_id).await.unwrap();
    b.find("#pull-submit").await.unwrap().click().await.unwrap();
    b.wait_for("#run-detail", WAIT).await.unwrap();
    let run_id = b.find("#run-id").await.unwrap().text().await.unwrap();
    let run_url = b.current_url().await.unwrap();
    assert!(run_url.ends_with(&format!("/ui/reconciliations/{run_id}")));
    let open = b
        .find("#open-exceptions")
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(open.trim(), "1");
    let text = b.body_text().await.unwrap();
    assert!(text.contains("Yalnız sağlayıcıda"), "{text}");

    // Dismiss the panel sale with a reason, confirmed.
    b.find("details.item-actions summary")
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    b.find("form.dismiss-form input[name='reason']")
        .await
        .unwrap()
        .send_keys("Panelden yapılan deneme satışı")
        .await
        .unwrap();
    b.find("form.dismiss-form input[name='confirm']")
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    b.find("form.dismiss-form button")
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    b.wait_for_text("İşlem tamamlandı", WAIT).await.unwrap();
    let text = b.body_text().await.unwrap();
    assert!(
        text.contains("Yoksayıldı") && text.contains("Panelden yapılan deneme satışı"),
        "{text}"
    );
    let open = b
        .find("#open-exceptions")
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(open.trim(), "0");
    let source = b.page_source().await.unwrap();
    assert!(!source.contains(CARD) && !source.contains(PANEL_CARD));
    b.screenshot(&screenshot_path(TEST, "run_detail"))
        .await
        .unwrap();

    let view = app
        .service
        .get_reconciliation(
            &app.a.id,
            &run_id,
            &sanalpos_service::ItemsQuery::class("provider_only"),
        )
        .await
        .unwrap();
    let item = &view.items[0];
    assert_eq!(item.resolution.as_deref(), Some("dismissed"));
    assert_eq!(
        item.resolution_reason.as_deref(),
        Some("Panelden yapılan deneme satışı")
    );
    assert_eq!(item.resolved_by.as_deref(), Some("user:accountant"));

    // The runs list with the run and its counts.
    b.goto(&app.url("/ui/reconciliations")).await.unwrap();
    b.wait_for("#runs", WAIT).await.unwrap();
    let row = b
        .find(&format!("#runs tr[data-id='{run_id}']"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(row.contains("Sağlayıcı raporu"), "{row}");
    b.screenshot(&screenshot_path(TEST, "runs_list"))
        .await
        .unwrap();
    b.quit().await;
}

/// Signs in through the login form.
async fn sign_in(b: &Browser, app: &TestApp, username: &str) {
    b.goto(&app.url("/ui/login")).await.unwrap();
    b.wait_for("#sign-in", WAIT).await.unwrap();
    b.find("#username")
        .await
        .unwrap()
        .send_keys(username)
        .await
        .unwrap();
    b.find("#password")
        .await
        .unwrap()
        .send_keys(PASSWORD)
        .await
        .unwrap();
    b.find("#sign-in").await.unwrap().click().await.unwrap();
    b.wait_for("#current-user", WAIT).await.unwrap();
}

/// Opens every decision disclosure, then answers how much wider than its box the items
/// table and the page are (0 when they fit).
async fn overflow(b: &Browser) -> (i64, i64) {
    let value = b
        .execute(
            "document.querySelectorAll('details.item-actions').forEach(d => d.open = true);
             const wrap = document.querySelector('#items').parentElement;
             document.querySelector('#items').scrollIntoView();
             const page = document.documentElement;
             return [wrap.scrollWidth - wrap.clientWidth, page.scrollWidth - page.clientWidth,
                     window.innerWidth];",
            Vec::new(),
        )
        .await
        .unwrap();
    let numbers: Vec<i64> = value
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_i64().unwrap())
        .collect();
    assert!(
        numbers[2] >= 1300,
        "the window is 1366 px wide: {numbers:?}"
    );
    (numbers[0], numbers[1])
}

const ENTER_TEST: &str = "reconciliation_enter_with_customer";

// Issue 13, item 12: at 1366 px, in Turkish and in English, the exceptions table fits
// with its decisions open; the entry form offers the company's customer references and
// the force-match form the candidate payment; entering credits the customer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reconciliation_enter_with_customer() {
    let Some(b) = Browser::start_or_skip(ENTER_TEST).await else {
        return;
    };
    let app = TestApp::spawn(Db::Sqlite, ENTER_TEST).await.unwrap();
    seed_users(&app).await;
    let (status, body) = app.pay(&app.a, &key(), &payment(CARD, "150.00")).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let response = app
        .http
        .post(format!(
            "{}/_sim/merchants/{}/panel-sales",
            app.sim.base_url(),
            app.a.merchant.merchant_no
        ))
        .header("Content-Type", "application/json")
        .body(
            json!({"amount": "12.50", "card": PANEL_CARD, "client_ref": "SIP-PANEL-9"}).to_string(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    let lost = stored_payment(&app, 1250, "520019******8608", "IKSIRLOST1", "CARI-ZETA");
    app.store.seed_payments(vec![lost.clone()]).await.unwrap();

    sign_in(&b, &app, "accountant").await;
    b.goto(&app.url("/ui/reconciliations")).await.unwrap();
    b.wait_for("#pull-form", WAIT).await.unwrap();
    b.select_value("#pull-pos", &app.a.pos_id).await.unwrap();
    b.find("#pull-submit").await.unwrap().click().await.unwrap();
    b.wait_for("#run-detail", WAIT).await.unwrap();
    let run_url = b.current_url().await.unwrap();
    let open = b
        .find("#open-exceptions")
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(open.trim(), "2", "the panel sale and our lost payment");

    // English first: the table and the page fit with every decision open.
    b.goto(&app.url("/ui/lang?l=en")).await.unwrap();
    b.goto(&run_url).await.unwrap();
    b.wait_for_text("Decide", WAIT).await.unwrap();
    let (table, page) = overflow(&b).await;
    assert!(
        table <= 0 && page <= 0,
        "EN overflow: table {table}, page {page}"
    );
    b.screenshot(&screenshot_path(ENTER_TEST, "decisions_en"))
        .await
        .unwrap();

    // Turkish: the same, and the forms offer what the company knows.
    b.goto(&app.url("/ui/lang?l=tr")).await.unwrap();
    b.goto(&run_url).await.unwrap();
    b.wait_for_text("Karar ver", WAIT).await.unwrap();
    let (table, page) = overflow(&b).await;
    assert!(
        table <= 0 && page <= 0,
        "TR overflow: table {table}, page {page}"
    );
    let refs = b
        .execute(
            "return Array.from(document.querySelectorAll('#customer-refs option')).map(o => o.value);",
            Vec::new(),
        )
        .await
        .unwrap();
    assert_eq!(refs, json!(["CARI-1", "CARI-ZETA"]));
    let input = b
        .find("form.enter-form input[name='customer_ref']")
        .await
        .unwrap();
    assert_eq!(
        input.attr("list").await.unwrap().as_deref(),
        Some("customer-refs")
    );
    let order = b
        .find("form.enter-form input[name='order_ref']")
        .await
        .unwrap();
    assert_eq!(
        order.prop("value").await.unwrap().as_deref(),
        Some("SIP-PANEL-9")
    );
    // The panel sale's force-match offers our lost payment (same amount, card, day).
    let offered = b
        .execute(
            "const f = document.querySelector('tr.item-actions-row form.enter-form').closest('td');
             return Array.from(f.querySelectorAll('form.force-form input[name=payment_id]')).map(i => i.value);",
            Vec::new(),
        )
        .await
        .unwrap();
    assert_eq!(offered, json!([lost.id]));
    b.screenshot(&screenshot_path(ENTER_TEST, "decisions_tr"))
        .await
        .unwrap();

    // As a person types, the list holds the references starting with the text.
    input.send_keys("CARI-Z").await.unwrap();
    b.wait_for("#customer-refs option:only-child[value='CARI-ZETA']", WAIT)
        .await
        .unwrap();
    input.clear().await.unwrap();
    // Enter the panel sale for a customer, typed as the list offers it.
    input.send_keys("CARI-1").await.unwrap();
    b.find("form.enter-form input[name='confirm']")
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    b.find("form.enter-form button")
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    b.wait_for_text("İşlem tamamlandı", WAIT).await.unwrap();
    let text = b.body_text().await.unwrap();
    assert!(text.contains("Girildi"), "{text}");
    let (table, page) = overflow(&b).await;
    assert!(table <= 0 && page <= 0, "after: table {table}, page {page}");
    b.screenshot(&screenshot_path(ENTER_TEST, "entered_tr"))
        .await
        .unwrap();
    let listed = app
        .service
        .list_payments(
            &app.a.id,
            sanalpos_service::PaymentFilter {
                customer_ref: Some("CARI-1".into()),
                channel: Some(sanalpos_store::Channel::Manual),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(listed.items.len(), 1);
    let entered = &listed.items[0];
    assert_eq!(entered.amount.to_string(), "12.50");
    assert_eq!(entered.order_ref.as_deref(), Some("SIP-PANEL-9"));
    assert!(entered
        .description
        .as_deref()
        .unwrap()
        .starts_with("Mutabakatta eksik bulunan işlem"));
    for page in ["decisions_en", "decisions_tr", "entered_tr"] {
        let bytes = std::fs::read(screenshot_path(ENTER_TEST, page)).unwrap();
        assert!(bytes.starts_with(b"\x89PNG\r\n\x1a\n") && bytes.len() > 1000);
    }
    b.quit().await;
}
