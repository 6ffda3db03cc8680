//! The reconciliation pages in a real headless Chromium, as an accountant uses them:
//! sign in, start a pull run of today, open it, dismiss the panel sale it found with a
//! reason. Screenshots of the runs list and the run go under
//! `target/screenshots/reconciliation_walkthrough/`.

#![allow(clippy::unwrap_used)]

mod common;
mod ui_support;

use std::time::Duration;

use common::*;
use reqwest::StatusCode;
use sanalpos_testkit::browser::{screenshot_path, Browser};
use serde_json::json;
use ui_support::*;

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
        .get_reconciliation(&app.a.id, &run_id, Some("provider_only"))
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
