//! `/api/v1/payment-links`: the list's filters and keyset paging over 250 links, and
//! sending a link by e-mail through a local SMTP server that captures the message (in
//! the link's language), with the refusals that send nothing.

use std::collections::BTreeSet;

use sanalpos_core::Lang;
use sanalpos_server::config::{Secret, SmtpConfig, SmtpTls};
use sanalpos_testkit::smtp::SmtpServer;

use super::*;

fn link(customer: &str, description: &str, max: &str) -> Value {
    json!({
        "purpose": "account",
        "max_amount": max,
        "customer_ref": customer,
        "description": description,
    })
}

fn ids(page: &Value) -> Vec<String> {
    page["items"]
        .as_array()
        .unwrap_or_else(|| panic!("{page}"))
        .iter()
        .map(|l| l["id"].as_str().unwrap().to_owned())
        .collect()
}

/// Runs one statement against the test's database (what time or a payment would do
/// to a link, without waiting for it).
async fn change_links(app: &TestApp, sql: &str, ids: &[String]) {
    sanalpos_store::install_drivers();
    let pool = sqlx::any::AnyPoolOptions::new()
        .max_connections(1)
        .connect(app.guard.url())
        .await
        .unwrap();
    for id in ids {
        let done = sqlx::query(sql).bind(id).execute(&pool).await.unwrap();
        assert_eq!(done.rows_affected(), 1);
    }
    pool.close().await;
}

/// Every link the filter `query` selects, walking the pages of `limit`; checks that
/// the pages are in (created_at, id) order, newest first, and never repeat a link.
async fn walk(app: &TestApp, query: &str, limit: u32) -> (Vec<String>, usize) {
    let mut seen: Vec<(String, String)> = Vec::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let mut path = format!("/api/v1/payment-links?limit={limit}");
        if !query.is_empty() {
            path.push('&');
            path.push_str(query);
        }
        if let Some(c) = &cursor {
            path.push_str(&format!("&cursor={c}"));
        }
        let (status, page) = app.get(&app.a, &path).await;
        assert_eq!(status, StatusCode::OK, "{path}: {page}");
        pages += 1;
        for item in page["items"].as_array().unwrap() {
            seen.push((
                item["created_at"].as_str().unwrap().to_owned(),
                item["id"].as_str().unwrap().to_owned(),
            ));
        }
        match page["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => break,
        }
        assert!(pages < 100, "the walk ends");
    }
    for pair in seen.windows(2) {
        assert!(pair[0] > pair[1], "newest first, no repeat: {pair:?}");
    }
    (seen.into_iter().map(|(_, id)| id).collect(), pages)
}

both_engines!(
    payment_links_filtered_and_paged_by_keyset,
    |app: TestApp| async move {
        let mut made = Vec::new();
        for i in 0..250 {
            let description = if i % 10 == 0 {
                format!("Kasım ekstresi {i}")
            } else {
                format!("Aidat {i}")
            };
            let (status, body) = session(
                &app,
                &app.a,
                link(
                    &format!("CARI-{i:03}"),
                    &description,
                    &format!("{}.00", 100 + i),
                ),
            )
            .await;
            assert_eq!(status, StatusCode::CREATED, "{body}");
            assert_eq!(body["description"], json!(description));
            made.push(body["id"].as_str().unwrap().to_owned());
        }
        // Neither an order session nor another company's link is listed.
        let (status, _) = session(&app, &app.a, order("5.00")).await;
        assert_eq!(status, StatusCode::CREATED);
        let (status, other) =
            session(&app, &app.b, link("CARI-B", "Kasım ekstresi", "10.00")).await;
        assert_eq!(status, StatusCode::CREATED);

        // Every link once, in order, over pages of 60: no gap, no duplicate.
        let (all, pages) = walk(&app, "", 60).await;
        assert_eq!(pages, 5);
        assert_eq!(all.len(), 250);
        assert_eq!(
            all.iter().collect::<BTreeSet<_>>(),
            made.iter().collect::<BTreeSet<_>>()
        );
        let (_, first) = app.get(&app.a, "/api/v1/payment-links").await;
        assert_eq!(ids(&first).len(), 50, "50 by default");
        assert_eq!(first["items"][0]["language"], "tr");

        // Text: the description (ASCII letters in any case), the customer reference;
        // LIKE's wildcards are plain characters.
        let (found, pages) = walk(&app, "q=EKSTRESI", 10).await;
        assert_eq!((found.len(), pages), (25, 3));
        let expected: BTreeSet<_> = made.iter().step_by(10).collect();
        assert_eq!(found.iter().collect::<BTreeSet<_>>(), expected);
        let (found, _) = walk(&app, "q=cari-12", 50).await;
        assert_eq!(found.len(), 10, "CARI-120 … CARI-129");
        // Turkish letters in any case, and the four forms of i as one letter.
        for query in ["KASIM", "kasim", "Kasım%20EKSTRES"] {
            let (found, _) = walk(&app, &format!("q={query}"), 50).await;
            assert_eq!(found.len(), 25, "{query}");
        }
        // (`a_d` would match every "Aidat" if `_` were a wildcard, `.` or `*` if they
        // were a pattern's.)
        for wildcard in ["%25", "a_d", "%5C", ".", "%2A", "%3F", "%5B", "a.d"] {
            let (found, _) = walk(&app, &format!("q={wildcard}"), 50).await;
            assert!(found.is_empty(), "{wildcard}: {found:?}");
        }
        let (found, _) = walk(&app, &format!("q={}", made[7]), 50).await;
        assert_eq!(found, [made[7].clone()]);

        // Amount range over the link's largest amount.
        let (found, _) = walk(&app, "min_amount=340.00", 50).await;
        assert_eq!(found.len(), 10);
        let (found, _) = walk(&app, "min_amount=110.00&max_amount=119.00", 50).await;
        assert_eq!(
            found.iter().collect::<BTreeSet<_>>(),
            made[10..20].iter().collect::<BTreeSet<_>>()
        );

        // Status: five expired, three paid, the rest open.
        change_links(
            &app,
            "UPDATE checkout_sessions SET expires_at = 1 WHERE id = $1",
            &made[0..5],
        )
        .await;
        change_links(
            &app,
            "UPDATE checkout_sessions SET status = 'completed', completed_at = 1 WHERE id = $1",
            &made[5..8],
        )
        .await;
        let (found, _) = walk(&app, "status=expired", 50).await;
        assert_eq!(
            found.iter().collect::<BTreeSet<_>>(),
            made[0..5].iter().collect::<BTreeSet<_>>()
        );
        let (found, _) = walk(&app, "status=completed", 50).await;
        assert_eq!(found.len(), 3);
        let (found, pages) = walk(&app, "status=open", 100).await;
        assert_eq!((found.len(), pages), (242, 3));
        let (found, _) = walk(&app, "status=expired&q=ekstresi", 50).await;
        assert_eq!(found, [made[0].clone()]);

        // Days (Istanbul): everything is from today.
        let today = sanalpos_service::istanbul_today();
        let (found, _) = walk(&app, &format!("from={today}"), 200).await;
        assert_eq!(found.len(), 250);
        let (found, _) = walk(&app, &format!("to={today}"), 200).await;
        assert!(found.is_empty(), "`to` is exclusive");

        // Bad filters are refused with their field.
        for (query, field) in [
            ("status=paid_later", "status"),
            ("cursor=!!", "cursor"),
            ("limit=0", "limit"),
            ("min_amount=abc", "min_amount"),
            ("min_amount=20.00&max_amount=10.00", "min_amount"),
            ("from=yesterday", "from"),
            ("page=2", "query"),
        ] {
            let (status, body) = app
                .get(&app.a, &format!("/api/v1/payment-links?{query}"))
                .await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{query}: {body}");
            assert_eq!(body["error"]["field"], json!(field), "{query}: {body}");
        }

        // The other company sees its own link only, and not ours.
        let (_, theirs) = app.get(&app.b, "/api/v1/payment-links").await;
        assert_eq!(ids(&theirs), [other["id"].as_str().unwrap().to_owned()]);
        let (status, _) = app
            .get(&app.b, &format!("/api/v1/payment-links/{}", made[0]))
            .await;
        assert_eq!(status, StatusCode::NOT_FOUND);
    }
);

/// An app whose mail goes to `smtp` (plain, with a login).
async fn with_mail(db: Db, name: &str, smtp: &SmtpServer) -> Option<TestApp> {
    let port = smtp.port();
    TestApp::spawn_with(db, name, move |config| {
        config.smtp = Some(SmtpConfig {
            host: "127.0.0.1".into(),
            port,
            tls: SmtpTls::None,
            username: "tahsilat".into(),
            password: Secret::new("posta-parolasi"),
            from: "Şirket Tahsilat <tahsilat@sirket.example>".into(),
            timeout: Duration::from_secs(10),
        });
    })
    .await
}

async fn audit_kinds(app: &TestApp, id: &str) -> Vec<(String, Value)> {
    app.service
        .payment_link_audit(&app.a.id, id)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.action.starts_with("payment_link."))
        .map(|e| (e.action, e.details))
        .collect()
}

async fn payment_links_sent_by_email(db: Db) {
    let smtp = SmtpServer::start().await;
    let Some(app) = with_mail(db, "payment_links_sent_by_email", &smtp).await else {
        return;
    };
    let (_, tr) = session(
        &app,
        &app.a,
        json!({"purpose": "account", "min_amount": "10.00", "max_amount": "1500.00",
               "customer_ref": "CARI-7", "description": "Kasım ekstresi", "language": "tr"}),
    )
    .await;
    let (_, en) = session(
        &app,
        &app.a,
        json!({"purpose": "account", "max_amount": "250.00", "customer_ref": "ACME-1",
               "description": "November statement", "language": "en"}),
    )
    .await;
    let tr_id = tr["id"].as_str().unwrap().to_owned();
    let en_id = en["id"].as_str().unwrap().to_owned();

    // Turkish link, Turkish mail, with the note.
    let (status, sent) = app
        .post(
            &app.a,
            &format!("/api/v1/payment-links/{tr_id}/send"),
            Some(json!({"email": " musteri@ornek.com.tr ", "note": "Merhaba Ayşe Hanım,\nbakiyeniz ektedir."})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{sent}");
    assert_eq!(
        sent,
        json!({"id": tr_id, "recipient": "musteri@ornek.com.tr", "status": "sent"})
    );
    let mails = smtp.mails();
    assert_eq!(mails.len(), 1);
    let mail = &mails[0];
    assert_eq!(mail.rcpt_to, ["musteri@ornek.com.tr"]);
    assert_eq!(mail.mail_from, "tahsilat@sirket.example");
    assert_eq!(
        mail.login.as_deref(),
        Some("tahsilat"),
        "the configured login"
    );
    assert_eq!(
        mail.header("Subject").as_deref(),
        Some("Şirket 0 ödeme linki")
    );
    assert_eq!(mail.header("To").as_deref(), Some("musteri@ornek.com.tr"));
    let message_id = mail.header("Message-ID").unwrap();
    assert!(message_id.ends_with("@sirket.example>"), "{message_id}");
    assert!(mail.header("Date").is_some());
    assert!(
        mail.header("Content-Type")
            .unwrap()
            .starts_with("text/plain; charset=utf-8"),
        "{:?}",
        mail.header("Content-Type")
    );
    let body = mail.body();
    let expires = |v: &Value, lang: Lang| {
        let at = chrono::DateTime::parse_from_rfc3339(v["expires_at"].as_str().unwrap()).unwrap();
        lang.datetime(at.timestamp_millis())
    };
    for part in [
        "Merhaba,",
        "Şirket 0 sizin için bir ödeme linki hazırladı",
        "Merhaba Ayşe Hanım,\nbakiyeniz ektedir.",
        "Cari hesap: CARI-7",
        "Açıklama: Kasım ekstresi",
        "Tutar: 10,00 TL – 1.500,00 TL",
        &format!("Son geçerlilik: {}", expires(&tr, Lang::Tr)),
        tr["url"].as_str().unwrap(),
    ] {
        assert!(body.contains(part), "{part:?} in {body}");
    }
    assert!(
        !body.contains("Hello") && !body.contains("Amount"),
        "{body}"
    );

    // English link, English mail, whatever the caller's language.
    let (status, sent) = app
        .post(
            &app.a,
            &format!("/api/v1/payment-links/{en_id}/send"),
            Some(json!({"email": "ap@acme.example.com"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{sent}");
    let mails = smtp.mails();
    assert_eq!(mails.len(), 2);
    let mail = &mails[1];
    assert_eq!(mail.rcpt_to, ["ap@acme.example.com"]);
    assert_eq!(
        mail.header("Subject").as_deref(),
        Some("Payment link from Şirket 0")
    );
    let body = mail.body();
    for part in [
        "Hello,",
        "Şirket 0 has prepared a payment link for you",
        "Customer account: ACME-1",
        "Description: November statement",
        "Amount: up to TRY 250.00",
        &format!("Expires: {}", expires(&en, Lang::En)),
        en["url"].as_str().unwrap(),
    ] {
        assert!(body.contains(part), "{part:?} in {body}");
    }
    assert!(
        !body.contains("Merhaba") && !body.contains("Tutar"),
        "{body}"
    );

    // Audited with the recipient (not the note).
    let events = audit_kinds(&app, &tr_id).await;
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0].0, "payment_link.sent");
    assert_eq!(events[0].1["recipient"], "musteri@ornek.com.tr");
    assert_eq!(events[0].1["language"], "tr");
    assert_eq!(events[0].1["with_note"], true);
    assert!(
        !events[0].1.to_string().contains("Ayşe"),
        "the note stays out"
    );

    // Refusals send nothing and record nothing.
    for (body, field) in [
        (json!({"email": "not-an-address"}), "email"),
        (json!({"email": "a@b.com, c@d.com"}), "email"),
        (json!({"email": "Ayşe <ayse@ornek.com.tr>"}), "email"),
        (json!({"email": "ayse@localhost"}), "email"),
        (json!({}), "email"),
        (json!({"email": 5}), "email"),
        (
            json!({"email": "ayse@ornek.com.tr", "note": "x".repeat(1001)}),
            "note",
        ),
    ] {
        let (status, answer) = app
            .post(
                &app.a,
                &format!("/api/v1/payment-links/{tr_id}/send"),
                Some(body.clone()),
            )
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}: {answer}");
        assert_eq!(answer["error"]["field"], json!(field), "{answer}");
    }
    // Another company's link is not found; an order session is not a link.
    let (status, _) = app
        .post(
            &app.b,
            &format!("/api/v1/payment-links/{tr_id}/send"),
            Some(json!({"email": "ayse@ornek.com.tr"})),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (_, order_session) = session(&app, &app.a, order("5.00")).await;
    let (status, _) = app
        .post(
            &app.a,
            &format!(
                "/api/v1/payment-links/{}/send",
                order_session["id"].as_str().unwrap()
            ),
            Some(json!({"email": "ayse@ornek.com.tr"})),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    // An expired link is not sent.
    change_links(
        &app,
        "UPDATE checkout_sessions SET expires_at = 1 WHERE id = $1",
        std::slice::from_ref(&en_id),
    )
    .await;
    let (status, answer) = app
        .post(
            &app.a,
            &format!("/api/v1/payment-links/{en_id}/send"),
            Some(json!({"email": "ap@acme.example.com"})),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{answer}");
    assert_eq!(answer["error"]["code"], "link_not_open");
    assert_eq!(smtp.mails().len(), 2, "nothing more was sent");
    assert_eq!(audit_kinds(&app, &tr_id).await.len(), 1);
    assert_eq!(audit_kinds(&app, &en_id).await.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn payment_links_sent_by_email_sqlite() {
    payment_links_sent_by_email(Db::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn payment_links_sent_by_email_postgres() {
    payment_links_sent_by_email(Db::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_mail_is_reported_and_recorded_as_failed() {
    let smtp = SmtpServer::refusing().await;
    let app = with_mail(Db::Sqlite, "refused_mail", &smtp).await.unwrap();
    let (_, link) = session(&app, &app.a, link("CARI-1", "Aidat", "100.00")).await;
    let id = link["id"].as_str().unwrap().to_owned();
    let (status, answer) = app
        .post(
            &app.a,
            &format!("/api/v1/payment-links/{id}/send"),
            Some(json!({"email": "musteri@ornek.com.tr"})),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_GATEWAY, "{answer}");
    assert_eq!(answer["error"]["code"], "mail_refused");
    assert!(
        answer["error"]["message"].as_str().unwrap().contains("550"),
        "the server's reason: {answer}"
    );
    assert!(
        !answer.to_string().contains("posta-parolasi"),
        "no setting leaks"
    );
    assert!(smtp.mails().is_empty());
    let events = audit_kinds(&app, &id).await;
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0].0, "payment_link.send_failed");
    assert_eq!(events[0].1["recipient"], "musteri@ornek.com.tr");
}

both_engines!(
    without_a_mail_server_nothing_is_sent,
    |app: TestApp| async move {
        let (_, link) = session(&app, &app.a, link("CARI-1", "Aidat", "100.00")).await;
        let id = link["id"].as_str().unwrap().to_owned();
        let (status, answer) = app
            .post(
                &app.a,
                &format!("/api/v1/payment-links/{id}/send"),
                Some(json!({"email": "musteri@ornek.com.tr"})),
            )
            .await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{answer}");
        assert_eq!(answer["error"]["code"], "mail_not_configured");
        assert!(audit_kinds(&app, &id).await.is_empty());
        // The link itself is readable through its own route.
        let (status, fetched) = app
            .get(&app.a, &format!("/api/v1/payment-links/{id}"))
            .await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(fetched["description"], "Aidat");
    }
);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn starttls_never_falls_back_to_plain_text() {
    // The test server offers no STARTTLS: a `starttls` setting must refuse to send the
    // login and the mail in clear text.
    let smtp = SmtpServer::start().await;
    let port = smtp.port();
    let app = TestApp::spawn_with(Db::Sqlite, "starttls_required", move |config| {
        config.smtp = Some(SmtpConfig {
            host: "127.0.0.1".into(),
            port,
            tls: SmtpTls::Starttls,
            username: "tahsilat".into(),
            password: Secret::new("posta-parolasi"),
            from: "tahsilat@sirket.example".into(),
            timeout: Duration::from_secs(10),
        });
    })
    .await
    .unwrap();
    let (_, link) = session(&app, &app.a, link("CARI-1", "Aidat", "100.00")).await;
    let id = link["id"].as_str().unwrap().to_owned();
    let (status, answer) = app
        .post(
            &app.a,
            &format!("/api/v1/payment-links/{id}/send"),
            Some(json!({"email": "musteri@ornek.com.tr"})),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_GATEWAY, "{answer}");
    assert_eq!(answer["error"]["code"], "mail_refused");
    assert!(smtp.mails().is_empty());
    let events = audit_kinds(&app, &id).await;
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].0, "payment_link.send_failed");
}
