#![allow(clippy::unwrap_used)]
//! The back office's web-shop screens over HTTP, on SQLite and PostgreSQL: payment
//! links made by staff and paid on the hosted page, and webhook endpoints with their
//! deliveries, answers and resend.

use std::sync::atomic::Ordering;
use std::time::Duration;

use crate::helpers::ui::*;
use crate::helpers::*;
use reqwest::StatusCode;
use sanalpos_service::verify_webhook_signature;

const CARD: &str = "4546711234567894";

/// The id in a `/ui/<what>/<id>` redirect.
fn id_in(page: &Page, prefix: &str) -> String {
    let location = page.location().unwrap_or_else(|| panic!("{}", page.body));
    location
        .strip_prefix(prefix)
        .unwrap_or_else(|| panic!("{location}"))
        .to_owned()
}

/// The `value` of the input with this id.
fn input_value(html: &str, id: &str) -> String {
    let at = html
        .find(&format!("id=\"{id}\""))
        .unwrap_or_else(|| panic!("no #{id} in {html}"));
    let start = html[..at].rfind('<').unwrap();
    let tag = &html[start..start + html[start..].find('>').unwrap()];
    let value = tag.find("value=\"").unwrap() + 7;
    tag[value..value + tag[value..].find('"').unwrap()].to_owned()
}

async fn links_of(app: &TestApp) -> usize {
    let filter = sanalpos_service::LinkFilter {
        limit: Some(200),
        ..Default::default()
    };
    app.service
        .list_payment_links(&app.a.id, &filter)
        .await
        .unwrap()
        .items
        .len()
}

both_engines!(payment_links_made_and_paid, |app: TestApp| async move {
    seed_users(&app).await;
    let collector = UiClient::signed_in(&app.base_url, "collector").await;
    let page = collector.get("/ui/links").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("id=\"link-form\""));
    assert!(page.body.contains("href=\"/ui/links\""), "in the menu");

    // Wrong forms are shown again with the reason, and make no link.
    let good = [
        ("customer_ref", "CARI-1001"),
        ("description", "Kasım bakiyesi"),
        ("min_amount", "10,00"),
        ("max_amount", "1.500,00"),
        ("max_installments", "3"),
        ("language", "tr"),
        ("days", "7"),
    ];
    let with = |field: &str, value: &'static str| -> Vec<(&str, &str)> {
        good.iter()
            .map(|(k, v)| if *k == field { (*k, value) } else { (*k, *v) })
            .collect()
    };
    for (fields, reason) in [
        (with("customer_ref", " "), "Cari hesabı yazın"),
        (with("max_amount", ""), "Tutar geçersiz"),
        (with("max_amount", "abc"), "Tutar geçersiz"),
        (
            with("min_amount", "2.000,00"),
            "en çok tutardan büyük olamaz",
        ),
        (with("days", "91"), "1 ile 90 gün"),
        (with("days", "0"), "1 ile 90 gün"),
        (with("max_installments", "13"), "Geçersiz alan"),
    ] {
        let page = collector.post("/ui/links", &fields).await;
        assert_eq!(page.status, StatusCode::UNPROCESSABLE_ENTITY, "{fields:?}");
        assert!(page.body.contains(reason), "{reason}: {}", page.body);
        assert!(
            page.body.contains("value=\"CARI-1001\"") || fields[0].1 == " ",
            "the form keeps what was typed"
        );
    }
    assert_eq!(links_of(&app).await, 0);

    // A good one: the browser goes to the link's own page (a reload makes no second).
    let page = collector.post("/ui/links", &good).await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.body);
    let id = id_in(&page, "/ui/links/");
    assert_eq!(links_of(&app).await, 1);
    let page = collector.get(&format!("/ui/links/{id}")).await;
    assert_eq!(page.status, StatusCode::OK);
    let url = input_value(&page.body, "link-url");
    assert_eq!(url, app.url(&format!("/pay/{id}")));
    assert!(page.body.contains("data-status=\"open\""));
    assert!(
        page.body.contains("10,00 TL – 1.500,00 TL"),
        "{}",
        page.body
    );
    let session = app
        .service
        .get_checkout_session(&app.a.id, &id)
        .await
        .unwrap();
    assert_eq!(session.purpose, "account");
    assert_eq!(session.customer_ref.as_deref(), Some("CARI-1001"));
    assert!(session.return_url.is_none(), "a link has no way back");

    // The customer opens it, types an amount within the limits and pays with 3D.
    let html = app
        .http
        .get(&url)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains("Şirket 0") && html.contains("CARI-1001"));
    assert!(html.contains("Kasım bakiyesi"));
    let fields = [
        ("card_number", CARD),
        ("holder", "Ayşe Yılmaz"),
        ("exp_month", "12"),
        ("exp_year", "2030"),
        ("cvv", "123"),
        ("installments", "1"),
        ("amount", "750,25"),
    ];
    let response = app.http.post(&url).form(&fields).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let to_3d = response.headers()["location"].to_str().unwrap().to_owned();
    app.walk_3d(&to_3d, "123456").await;

    // Paid: the link says so and leads to its payment.
    let page = collector.get(&format!("/ui/links/{id}")).await;
    assert!(
        page.body.contains("data-status=\"completed\""),
        "{}",
        page.body
    );
    assert!(
        !page.body.contains("id=\"link-url\""),
        "nothing left to send"
    );
    let payment_id = app
        .service
        .get_checkout_session(&app.a.id, &id)
        .await
        .unwrap()
        .payment_id
        .unwrap();
    assert!(page.body.contains(&format!("/ui/payments/{payment_id}")));
    let list = collector.get("/ui/links").await;
    assert!(list
        .body
        .contains(&format!("data-id=\"{id}\" data-status=\"completed\"")));
    let payment = collector.get(&format!("/ui/payments/{payment_id}")).await;
    assert_eq!(payment.status, StatusCode::OK);
    assert!(payment.body.contains("750,25"));
    assert!(!payment.body.contains(CARD), "no card number on a page");

    // A viewer takes no payments; another company does not see the link.
    let viewer = UiClient::signed_in(&app.base_url, "viewer").await;
    assert_eq!(viewer.get("/ui/links").await.status, StatusCode::FORBIDDEN);
    assert_eq!(
        viewer.post("/ui/links", &good).await.status,
        StatusCode::FORBIDDEN
    );
    let other = UiClient::signed_in(&app.base_url, "admin_b").await;
    let page = other.get(&format!("/ui/links/{id}")).await;
    assert_eq!(page.status, StatusCode::NOT_FOUND);
    assert!(!other.get("/ui/links").await.body.contains(&id));
    assert_eq!(links_of(&app).await, 1);
});

/// Reloads the endpoint's page until its newest delivery has `status`.
async fn page_with_delivery(admin: &UiClient, endpoint: &str, status: &str) -> Page {
    let wanted = format!("data-status=\"{status}\"");
    for _ in 0..300 {
        let page = admin.get(&format!("/ui/webhooks/{endpoint}")).await;
        assert_eq!(page.status, StatusCode::OK);
        if page.body.contains(&wanted) {
            return page;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("no {status} delivery shown");
}

async fn webhook_deliveries_shown_and_resent(db: Db, name: &str) {
    let Some(app) = TestApp::spawn_with(db, name, |c| {
        fast_worker(c);
        // Shorter than the second wait: two tries, then given up.
        c.webhooks.retry_for = Duration::from_millis(100);
    })
    .await
    else {
        return;
    };
    seed_users(&app).await;
    let hook = listener(vec![]).await;
    hook.fallback.store(500, Ordering::SeqCst);
    let admin = UiClient::signed_in(&app.base_url, "admin").await;
    let page = admin
        .post("/ui/company", &[("company_id", &app.a.id)])
        .await;
    assert_eq!(page.status, StatusCode::SEE_OTHER);
    let page = admin.get("/ui/webhooks").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("value=\"payment.approved\""));

    // A wrong address or no event is refused and stores nothing.
    for fields in [
        vec![
            ("url", "ftp://shop.example/hook"),
            ("event", "payment.approved"),
        ],
        vec![("url", hook.url.as_str())],
        vec![("url", hook.url.as_str()), ("event", "payment.stolen")],
    ] {
        let page = admin.post("/ui/webhooks", &fields).await;
        assert_eq!(page.status, StatusCode::UNPROCESSABLE_ENTITY, "{fields:?}");
        assert!(page.body.contains("notice error"), "{}", page.body);
    }
    let endpoints = || async { app.service.list_webhook_endpoints(&app.a.id).await.unwrap() };
    assert!(endpoints().await.is_empty());

    // Made here: the secret is on this answer only.
    let page = admin
        .post(
            "/ui/webhooks",
            &[("url", hook.url.as_str()), ("event", "payment.approved")],
        )
        .await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    let at = page.body.find("id=\"new-secret\">").unwrap() + 16;
    let secret = page.body[at..at + page.body[at..].find('<').unwrap()].to_owned();
    assert!(secret.starts_with("whsec_"), "{secret}");
    let listed = endpoints().await;
    assert_eq!(listed.len(), 1);
    let endpoint = listed[0].id.clone();
    assert_eq!(listed[0].events, vec!["payment.approved".to_owned()]);
    assert!(!admin.get("/ui/webhooks").await.body.contains(&secret));

    // A payment: its delivery fails twice and is given up, with the shop's answers.
    let (_, paid) = app.pay(&app.a, &key(), &payment(CARD, "42.00")).await;
    assert_eq!(paid["status"], "approved");
    let page = page_with_delivery(&admin, &endpoint, "failed").await;
    assert!(page.body.contains("payment.approved"));
    assert!(page.body.contains(">500<"), "the HTTP status is shown");
    assert!(
        page.body.contains("answer from the shop &lt;ok&gt;"),
        "the answer is shown, escaped: {}",
        page.body
    );
    let delivery = app
        .service
        .list_webhook_deliveries(&app.a.id, &endpoint, 10)
        .await
        .unwrap()
        .remove(0);
    let tries_when_failed = delivery.tries;
    assert_eq!(delivery.attempts.len() as i64, tries_when_failed);
    assert_eq!(hook.received().len() as i64, tries_when_failed);

    // Others may not see or resend it.
    let resend = format!("/ui/webhooks/{endpoint}/deliveries/{}/resend", delivery.id);
    let accountant = UiClient::signed_in(&app.base_url, "accountant").await;
    assert_eq!(
        accountant.get("/ui/webhooks").await.status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        accountant.post(&resend, &[]).await.status,
        StatusCode::FORBIDDEN
    );
    let other = UiClient::signed_in(&app.base_url, "admin_b").await;
    assert_eq!(
        other.get(&format!("/ui/webhooks/{endpoint}")).await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(other.post(&resend, &[]).await.status, StatusCode::NOT_FOUND);
    // The refused resends queued nothing: the delivery is as it was (given up, with the
    // same tries), so no worker pass can send it again.
    let after = app
        .service
        .list_webhook_deliveries(&app.a.id, &endpoint, 10)
        .await
        .unwrap()
        .remove(0);
    assert_eq!(
        (after.status, after.tries, after.next_attempt_at.is_none()),
        ("failed", tries_when_failed, true),
        "given up stays given up: {after:?}"
    );
    assert_eq!(hook.received().len() as i64, tries_when_failed);

    // Sent again by hand, and now accepted.
    hook.fallback.store(200, Ordering::SeqCst);
    let page = admin.post(&resend, &[]).await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.body);
    let audit = app.store.list_audit(&app.a.id, 50).await.unwrap();
    assert!(
        audit.iter().any(|e| e.kind == "webhook_delivery.resent"
            && e.actor == "user:admin"
            && e.subject_id == delivery.id),
        "the resend is audited with who and which delivery: {audit:?}"
    );
    let page = page_with_delivery(&admin, &endpoint, "delivered").await;
    assert!(page.body.contains(">200<"));
    let received = hook.received();
    assert_eq!(received.len() as i64, tries_when_failed + 1);
    let last = received.last().unwrap();
    verify_webhook_signature(&secret, &last.signature, &last.body, now_secs(), 300).unwrap();

    // Deleting needs the confirmation.
    let delete = format!("/ui/webhooks/{endpoint}/delete");
    let page = admin.post(&delete, &[]).await;
    assert_eq!(page.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(endpoints().await.len(), 1);
    assert_eq!(
        other.post(&delete, &[("confirm", "on")]).await.status,
        StatusCode::NOT_FOUND
    );
    let page = admin.post(&delete, &[("confirm", "on")]).await;
    assert_eq!(page.status, StatusCode::SEE_OTHER);
    assert!(endpoints().await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhook_deliveries_shown_and_resent_sqlite() {
    webhook_deliveries_shown_and_resent(Db::Sqlite, "ui_webhook_deliveries").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhook_deliveries_shown_and_resent_postgres() {
    webhook_deliveries_shown_and_resent(Db::Postgres, "ui_webhook_deliveries").await;
}

/// The link ids of a `/ui/links` page, in the order shown.
fn listed_links(html: &str) -> Vec<String> {
    html.split("<tr data-id=\"")
        .skip(1)
        .map(|rest| rest[..rest.find('"').unwrap()].to_owned())
        .collect()
}

/// The `href` of the anchor with this id, unescaped.
fn href_of(html: &str, id: &str) -> Option<String> {
    let at = html.find(&format!("id=\"{id}\""))?;
    let start = html[..at].rfind('<')?;
    let tag = &html[start..start + html[start..].find('>')?];
    let href = tag.find("href=\"")? + 6;
    Some(sanalpos_testkit::unescape(
        &tag[href..href + tag[href..].find('"')?],
    ))
}

both_engines!(
    payment_link_list_filters_pages_and_says_mail_is_not_set_up,
    |app: TestApp| async move {
        seed_users(&app).await;
        let mut made = Vec::new();
        for i in 0..60 {
            let description = match i {
                0 => format!("Uzun açıklama {}", "ve devamı ".repeat(12)),
                i if i % 3 == 0 => format!("Ekim ekstresi {i}"),
                i => format!("Aidat {i}"),
            };
            let (status, body) = app
                .post(
                    &app.a,
                    "/api/v1/checkout-sessions",
                    Some(serde_json::json!({"purpose": "account", "max_amount": format!("{}.00", 900 + i * 10),
                        "customer_ref": format!("CARI-{i}"), "description": description})),
                )
                .await;
            assert_eq!(status, StatusCode::CREATED, "{body}");
            made.push(body["id"].as_str().unwrap().to_owned());
        }
        let collector = UiClient::signed_in(&app.base_url, "collector").await;

        // Pages of 50 by keyset: the next-page link carries the cursor and the filters.
        let first = collector.get("/ui/links").await;
        assert_eq!(first.status, StatusCode::OK);
        let mut shown = listed_links(&first.body);
        assert_eq!(shown.len(), 50);
        assert!(first.body.contains("Aidat 59"), "the description is listed");
        let next = href_of(&first.body, "next-page").expect("a next page");
        assert!(next.contains("cursor="), "{next}");
        let second = collector.get(&next).await;
        assert_eq!(second.status, StatusCode::OK);
        shown.extend(listed_links(&second.body));
        assert!(href_of(&second.body, "next-page").is_none());
        assert!(href_of(&second.body, "first-page").is_some());
        let unique: std::collections::BTreeSet<_> = shown.iter().collect();
        assert_eq!((shown.len(), unique.len()), (60, 60), "no gap, no repeat");
        let long = format!("Uzun açıklama {}", "ve devamı ".repeat(12));
        let cut: String = long.chars().take(59).collect();
        assert!(
            second.body.contains(&format!(">{cut}…</td>")),
            "a long description is cut in the list: {}",
            second.body
        );

        // Text, status and TR amount filters; the filters ride along the paging.
        let page = collector.get("/ui/links?q=EKSTRESI").await;
        assert_eq!(listed_links(&page.body).len(), 19);
        assert!(
            page.body.contains("value=\"EKSTRESI\""),
            "the filter is kept"
        );
        let page = collector.get("/ui/links?min_amount=1.400,00").await;
        assert_eq!(listed_links(&page.body).len(), 10, "900 + i*10 ≥ 1400");
        let page = collector.get("/ui/links?status=expired").await;
        assert!(listed_links(&page.body).is_empty());
        assert!(page.body.contains("Kayıt yok."));
        let page = collector.get("/ui/links?q=cari&status=open").await;
        assert_eq!(listed_links(&page.body).len(), 50);
        let filtered_next = href_of(&page.body, "next-page").unwrap();
        assert!(
            filtered_next.contains("q=cari") && filtered_next.contains("status=open"),
            "{filtered_next}"
        );
        assert_eq!(
            listed_links(&collector.get(&filtered_next).await.body).len(),
            10
        );
        for bad in ["status=paid_maybe", "from=31.02.2026", "max_amount=abc"] {
            let page = collector.get(&format!("/ui/links?{bad}")).await;
            assert_eq!(page.status, StatusCode::BAD_REQUEST, "{bad}");
            assert!(
                page.body.contains("Filtre geçersiz"),
                "{bad}: {}",
                page.body
            );
        }

        // English.
        collector.get("/ui/lang?l=en").await;
        let page = collector.get("/ui/links").await;
        assert!(page.body.contains("Search (customer, order, description)"));
        assert!(page.body.contains("Waiting for payment"));
        collector.get("/ui/lang?l=tr").await;

        // No mail server: the form says so, and nothing is recorded.
        let id = &made[5];
        let page = collector.get(&format!("/ui/links/{id}")).await;
        assert!(page.body.contains("id=\"link-send\""), "{}", page.body);
        assert!(page.body.contains("Aidat 5"));
        let page = collector
            .post(
                &format!("/ui/links/{id}/send"),
                &[("email", "musteri@ornek.com.tr"), ("note", "")],
            )
            .await;
        assert_eq!(page.status, StatusCode::SERVICE_UNAVAILABLE);
        assert!(
            page.body.contains("E-posta gönderimi ayarlanmamış"),
            "{}",
            page.body
        );
        assert!(page.body.contains("value=\"musteri@ornek.com.tr\""));
        assert!(!page.body.contains("id=\"link-sends\""));
        let events = app.service.payment_link_audit(&app.a.id, id).await.unwrap();
        assert!(events
            .iter()
            .all(|e| !e.action.starts_with("payment_link.")));
        // A viewer cannot send.
        let viewer = UiClient::signed_in(&app.base_url, "viewer").await;
        let page = viewer
            .post(
                &format!("/ui/links/{id}/send"),
                &[("email", "musteri@ornek.com.tr")],
            )
            .await;
        assert_eq!(page.status, StatusCode::FORBIDDEN);
    }
);

async fn sent_from_the_back_office(db: Db) {
    let smtp = sanalpos_testkit::smtp::SmtpServer::start().await;
    let port = smtp.port();
    let Some(app) = TestApp::spawn_with(db, "link_sent_from_the_back_office", move |c| {
        c.smtp = Some(sanalpos_server::config::SmtpConfig {
            host: "127.0.0.1".into(),
            port,
            tls: sanalpos_server::config::SmtpTls::None,
            username: String::new(),
            password: sanalpos_server::config::Secret::default(),
            from: "odeme@sirket.example".into(),
            timeout: Duration::from_secs(10),
        });
    })
    .await
    else {
        return;
    };
    seed_users(&app).await;
    let collector = UiClient::signed_in(&app.base_url, "collector").await;
    let page = collector
        .post(
            "/ui/links",
            &[
                ("customer_ref", "ACME-9"),
                ("description", "October statement"),
                ("min_amount", "100,00"),
                ("max_amount", "2.500,00"),
                ("max_installments", "3"),
                ("language", "en"),
                ("days", "10"),
            ],
        )
        .await;
    let id = id_in(&page, "/ui/links/");

    // A wrong address: said in the user's language, the form kept, nothing sent.
    let page = collector
        .post(
            &format!("/ui/links/{id}/send"),
            &[("email", "ap at acme"), ("note", "Thanks")],
        )
        .await;
    assert_eq!(page.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(page.body.contains("Geçerli bir e-posta adresi yazın"));
    assert!(page.body.contains("value=\"ap at acme\"") && page.body.contains(">Thanks</textarea>"));
    // A forged form (no CSRF token) sends nothing either.
    let page = collector
        .post_raw(
            &format!("/ui/links/{id}/send"),
            &[("email", "ap@acme.example.com")],
        )
        .await;
    assert_eq!(page.status, StatusCode::FORBIDDEN);
    assert!(smtp.mails().is_empty());

    // Sent: back to the link, which lists the sending; the mail speaks the link's
    // language (English), not the user's (Turkish).
    let page = collector
        .post(
            &format!("/ui/links/{id}/send"),
            &[
                ("email", "ap@acme.example.com"),
                ("note", "Thank you for your business."),
            ],
        )
        .await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.body);
    assert_eq!(
        page.location(),
        Some(format!("/ui/links/{id}?sent=1").as_str())
    );
    let page = collector.get(&format!("/ui/links/{id}?sent=1")).await;
    assert!(page.body.contains("Link e-posta ile gönderildi"));
    assert!(page.body.contains("id=\"link-sends\""));
    assert!(
        page.body
            .contains("<dt>Alıcı</dt><dd>ap@acme.example.com</dd>"),
        "{}",
        page.body
    );
    let mails = smtp.mails();
    assert_eq!(mails.len(), 1);
    assert_eq!(mails[0].rcpt_to, ["ap@acme.example.com"]);
    assert_eq!(mails[0].login, None, "no login configured");
    assert_eq!(
        mails[0].header("Subject").as_deref(),
        Some("Payment link from Şirket 0")
    );
    let body = mails[0].body();
    assert!(body.contains("Amount: TRY 100.00 – TRY 2,500.00"), "{body}");
    assert!(body.contains("Thank you for your business."), "{body}");
    assert!(body.contains(&app.url(&format!("/pay/{id}"))), "{body}");

    // A paid link has no form, and a sending is refused with the reason.
    sanalpos_store::install_drivers();
    let pool = sqlx::any::AnyPoolOptions::new()
        .max_connections(1)
        .connect(app.guard.url())
        .await
        .unwrap();
    sqlx::query("UPDATE checkout_sessions SET status = 'completed' WHERE id = $1")
        .bind(&id)
        .execute(&pool)
        .await
        .unwrap();
    pool.close().await;
    let page = collector.get(&format!("/ui/links/{id}")).await;
    assert!(!page.body.contains("id=\"link-send\""));
    let page = collector
        .post(
            &format!("/ui/links/{id}/send"),
            &[("email", "ap@acme.example.com")],
        )
        .await;
    assert_eq!(page.status, StatusCode::CONFLICT);
    assert!(
        page.body.contains("ödenmiş ya da süresi dolmuş"),
        "{}",
        page.body
    );
    assert_eq!(smtp.mails().len(), 1, "nothing more was sent");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn link_sent_from_the_back_office_sqlite() {
    sent_from_the_back_office(Db::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn link_sent_from_the_back_office_postgres() {
    sent_from_the_back_office(Db::Postgres).await;
}
