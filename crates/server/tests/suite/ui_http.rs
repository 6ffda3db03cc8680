//! The back office over plain HTTP, on SQLite and PostgreSQL: sign-in, sessions, CSRF,
//! the lockout, the role and company matrix of every route, Online Tahsilat (approved,
//! declined, a resubmitted form), refunds and POS definitions.

#![allow(clippy::unwrap_used)]

use crate::helpers::ui::*;
use crate::helpers::*;
use reqwest::StatusCode;

const APPROVED_CARD: &str = "4546711234567894";
const NO_FUNDS_CARD: &str = "4000000000000515";

/// No page may carry a full card number or a POS credential.
fn assert_clean(app: &TestApp, page: &Page) {
    for pan in [APPROVED_CARD, NO_FUNDS_CARD, "5101385101385104"] {
        assert!(!page.body.contains(pan), "a page shows a card number");
    }
    for seeded in [&app.a, &app.b] {
        let m = &seeded.merchant;
        for secret in [&m.sx, &m.sx_list, &m.sx_cancel, &m.secret_key] {
            assert!(
                !page.body.contains(secret.as_str()),
                "a page shows a credential"
            );
        }
    }
}

both_engines!(sign_in_session_and_sign_out, |app: TestApp| async move {
    seed_users(&app).await;
    let client = UiClient::new(&app.base_url);
    // Not signed in: every page sends to the sign-in page.
    let page = client.get("/ui/payments").await;
    assert_eq!(page.status, StatusCode::SEE_OTHER);
    assert_eq!(page.location(), Some("/ui/login"));
    // The back office's root, with or without its slash, leads there too.
    for root in ["/", "/ui", "/ui/"] {
        let page = client.get(root).await;
        assert_eq!(page.status, StatusCode::SEE_OTHER, "{root}");
        assert_eq!(page.location(), Some("/ui/dashboard"), "{root}");
    }

    let page = client.login("admin", "wrong-password").await;
    assert_eq!(page.status, StatusCode::UNAUTHORIZED);
    assert!(
        page.body.contains("Kullanıcı adı veya şifre hatalı"),
        "{}",
        page.body
    );

    let page = client.login("admin", PASSWORD).await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.body);
    assert_eq!(page.location(), Some("/ui/dashboard"));
    let cookie = page
        .set_cookies()
        .into_iter()
        .find(|c| c.starts_with("sp_session="))
        .unwrap();
    for attribute in ["HttpOnly", "SameSite=Lax", "Path=/"] {
        assert!(cookie.contains(attribute), "{cookie}");
    }
    assert!(!cookie.contains("Secure"), "plain http: {cookie}");
    // Only a hash of the token is stored: the token itself finds no session.
    let token = client.cookie("sp_session").unwrap();
    let store = &app.store;
    let now = sanalpos_store::now_ms();
    assert!(store.find_session(&token, now).await.unwrap().is_none());
    let hash = sanalpos_service::session_token_hash(&token);
    assert!(store.find_session(&hash, now).await.unwrap().is_some());

    let page = client.get("/ui/dashboard").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("Gösterge Paneli"));
    assert!(page.body.contains("Şirket 0"));
    let csp = page.headers["content-security-policy"].to_str().unwrap();
    assert!(
        csp.contains("script-src 'self'") && !csp.contains("unsafe-inline"),
        "{csp}"
    );
    assert_eq!(page.headers["x-frame-options"], "DENY");

    // English on request.
    let page = client.get("/ui/lang?l=en").await;
    assert_eq!(page.status, StatusCode::SEE_OTHER);
    let page = client.get("/ui/dashboard").await;
    assert!(page.body.contains("Dashboard") && page.body.contains("Collected today"));

    // The company switch, only to one's own companies.
    let page = client
        .post("/ui/company", &[("company_id", &app.b.id)])
        .await;
    assert_eq!(page.status, StatusCode::SEE_OTHER);
    let page = client.get("/ui/dashboard").await;
    assert!(page
        .body
        .contains(&format!("<option value=\"{}\" selected", app.b.id)));

    // Sign-out needs the form's token too; then the session is gone.
    let page = client.post_raw("/ui/logout", &[]).await;
    assert_eq!(page.status, StatusCode::FORBIDDEN);
    let page = client.post("/ui/logout", &[]).await;
    assert_eq!(page.status, StatusCode::SEE_OTHER);
    assert!(store.find_session(&hash, now).await.unwrap().is_none());
    let page = client.get("/ui/dashboard").await;
    assert_eq!(page.location(), Some("/ui/login"));
});

both_engines!(csrf_is_checked_on_every_post, |app: TestApp| async move {
    seed_users(&app).await;
    let client = UiClient::signed_in(&app.base_url, "admin").await;
    let form = client.get("/ui/collect").await;
    let idem = hidden(&form.body, "idem");
    let mut fields = card_fields(APPROVED_CARD, "100,00");
    fields.push(("idem", &idem));
    // Without the token, and with another session's token.
    let page = client.post_raw("/ui/collect", &fields).await;
    assert_eq!(page.status, StatusCode::FORBIDDEN);
    let other = UiClient::signed_in(&app.base_url, "accountant").await;
    let mut forged = fields.clone();
    let other_token = other.csrf();
    forged.push(("_csrf", &other_token));
    let page = client.post_raw("/ui/collect", &forged).await;
    assert_eq!(page.status, StatusCode::FORBIDDEN);
    assert!(page.body.contains("Form doğrulanamadı"));
    assert!(app.charged(&app.a).is_empty(), "nothing may be charged");
    let listed = app
        .service
        .list_payments(&app.a.id, Default::default())
        .await
        .unwrap();
    assert!(listed.items.is_empty());

    // Every state-changing route refuses a POST without the token.
    for path in [
        "/ui/logout".to_owned(),
        "/ui/company".to_owned(),
        "/ui/pos".to_owned(),
        format!("/ui/pos/{}", app.a.pos_id),
        format!("/ui/pos/{}/test", app.a.pos_id),
        format!("/ui/pos/{}/deactivate", app.a.pos_id),
        "/ui/admin/companies".to_owned(),
        "/ui/admin/users".to_owned(),
        "/ui/admin/keys".to_owned(),
        "/ui/payments/pay_x/refund".to_owned(),
        "/ui/payments/pay_x/refunds/ref_x/withdraw".to_owned(),
        "/ui/links".to_owned(),
        "/ui/webhooks".to_owned(),
        "/ui/webhooks/whe_x/delete".to_owned(),
        "/ui/webhooks/whe_x/deliveries/whd_x/resend".to_owned(),
    ] {
        let page = client.post_raw(&path, &[("name", "x")]).await;
        assert_eq!(page.status, StatusCode::FORBIDDEN, "{path}");
    }
    // The sign-in form has its own (cookie-bound) token.
    let fresh = UiClient::new(&app.base_url);
    let page = fresh
        .post_raw(
            "/ui/login",
            &[
                ("username", "admin"),
                ("password", PASSWORD),
                ("_csrf", "x"),
            ],
        )
        .await;
    assert_eq!(page.status, StatusCode::FORBIDDEN);
    assert!(fresh.cookie("sp_session").is_none());
    // The POS survived untouched.
    let pos = app.service.get_pos(&app.a.id, &app.a.pos_id).await.unwrap();
    assert_eq!(pos.version, 1);
});

both_engines!(
    lockout_after_five_wrong_passwords,
    |app: TestApp| async move {
        seed_users(&app).await;
        let client = UiClient::new(&app.base_url);
        for _ in 0..4 {
            let page = client.login("collector", "not-the-password").await;
            assert_eq!(page.status, StatusCode::UNAUTHORIZED);
        }
        let page = client.login("collector", "not-the-password").await;
        assert_eq!(page.status, StatusCode::TOO_MANY_REQUESTS);
        assert!(page.body.contains("geçici olarak kilitlendi"));
        // Now even the right password is refused, from any client (the lock is in the
        // database, not in this instance's memory).
        let other = UiClient::new(&app.base_url);
        let page = other.login("collector", PASSWORD).await;
        assert_eq!(page.status, StatusCode::TOO_MANY_REQUESTS);
        assert!(other.cookie("sp_session").is_none());
        // Other users are not affected.
        let page = other.login("viewer", PASSWORD).await;
        assert_eq!(page.status, StatusCode::SEE_OTHER);
        // The lock is shared with every instance on the database.
        let until = app
            .store
            .login_locked_until("collector", sanalpos_store::now_ms())
            .await
            .unwrap();
        assert!(until.is_some());
    }
);

both_engines!(role_and_company_matrix, |app: TestApp| async move {
    seed_users(&app).await;
    // A payment of company B, to be reached by URL from company A.
    let (status, body) = app
        .pay(&app.b, &key(), &payment(APPROVED_CARD, "50.00"))
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let b_payment = body["id"].as_str().unwrap().to_owned();
    let (status, _) = app
        .pay(&app.a, &key(), &payment(APPROVED_CARD, "20.00"))
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let a_pos = app.a.pos_id.clone();
    let b_pos = app.b.pos_id.clone();

    // (path, admin, accountant, collector, viewer): 200 or 403.
    let ok = StatusCode::OK;
    let no = StatusCode::FORBIDDEN;
    let gets: Vec<(String, [StatusCode; 4])> = vec![
        ("/ui/dashboard".into(), [ok, ok, ok, ok]),
        ("/ui/payments".into(), [ok, ok, ok, ok]),
        ("/ui/collect".into(), [ok, ok, ok, no]),
        ("/ui/pos".into(), [ok, ok, no, ok]),
        ("/ui/pos/new".into(), [ok, no, no, no]),
        (format!("/ui/pos/{a_pos}"), [ok, no, no, no]),
        ("/ui/admin/companies".into(), [ok, no, no, no]),
        ("/ui/admin/users".into(), [ok, no, no, no]),
        ("/ui/admin/keys".into(), [ok, no, no, no]),
        ("/ui/admin/audit".into(), [ok, no, no, no]),
        ("/ui/links".into(), [ok, ok, ok, no]),
        ("/ui/webhooks".into(), [ok, no, no, no]),
    ];
    for (i, role) in ["admin", "accountant", "collector", "viewer"]
        .iter()
        .enumerate()
    {
        let client = UiClient::signed_in(&app.base_url, role).await;
        // Every user starts in company A (the admin's first company may be B).
        let page = client
            .post("/ui/company", &[("company_id", &app.a.id)])
            .await;
        assert_eq!(page.status, StatusCode::SEE_OTHER, "{role}");
        let _ = client.get("/ui/dashboard").await;
        for (path, expected) in &gets {
            let page = client.get(path).await;
            assert_eq!(page.status, expected[i], "{role} GET {path}");
            assert_clean(&app, &page);
        }
        // Company B's payment and POS do not exist for company A.
        for path in [
            format!("/ui/payments/{b_payment}"),
            format!("/ui/payments/{b_payment}/result"),
        ] {
            let page = client.get(&path).await;
            assert_eq!(page.status, StatusCode::NOT_FOUND, "{role} GET {path}");
            assert!(
                !page.body.contains(&b_payment[4..]),
                "nothing of it is shown"
            );
        }
        let page = client
            .post(
                &format!("/ui/payments/{b_payment}/refund"),
                &[("amount", "1,00"), ("confirm", "on")],
            )
            .await;
        let expected = if i < 2 {
            StatusCode::NOT_FOUND
        } else {
            StatusCode::FORBIDDEN
        };
        assert_eq!(page.status, expected, "{role} refund of B's payment");
        let page = client.get(&format!("/ui/pos/{b_pos}")).await;
        let expected = if i == 0 {
            StatusCode::NOT_FOUND
        } else {
            StatusCode::FORBIDDEN
        };
        assert_eq!(page.status, expected, "{role} GET B's POS");
        // Role-refused POSTs change nothing.
        if i > 0 {
            let page = client.post("/ui/admin/keys", &[("name", "sneaky")]).await;
            assert_eq!(page.status, StatusCode::FORBIDDEN, "{role}");
            let page = client
                .post(&format!("/ui/pos/{a_pos}/deactivate"), &[])
                .await;
            assert_eq!(page.status, StatusCode::FORBIDDEN, "{role}");
        }
        // Every other state-changing route, by role.
        let a_payment = app
            .service
            .list_payments(&app.a.id, Default::default())
            .await
            .unwrap()
            .items
            .first()
            .map(|p| p.id.clone());
        let admin_only = [
            "/ui/pos".to_owned(),
            format!("/ui/pos/{a_pos}"),
            format!("/ui/pos/{a_pos}/test"),
            "/ui/admin/companies".to_owned(),
            "/ui/admin/users".to_owned(),
            "/ui/admin/users/usr_x/companies".to_owned(),
            "/ui/admin/users/usr_x/role".to_owned(),
            "/ui/admin/keys/key_x/revoke".to_owned(),
            "/ui/webhooks".to_owned(),
            "/ui/webhooks/whe_x/delete".to_owned(),
            "/ui/webhooks/whe_x/deliveries/whd_x/resend".to_owned(),
        ];
        for path in &admin_only {
            let page = client.post(path, &[("name", "x")]).await;
            if i > 0 {
                assert_eq!(page.status, StatusCode::FORBIDDEN, "{role} POST {path}");
            } else {
                assert_ne!(page.status, StatusCode::FORBIDDEN, "{role} POST {path}");
            }
        }
        if let Some(id) = &a_payment {
            for action in ["cancel", "refund", "reverse"] {
                let path = format!("/ui/payments/{id}/{action}");
                // Without the confirmation nothing happens even when allowed.
                let page = client.post(&path, &[]).await;
                let expected = if i < 2 {
                    StatusCode::UNPROCESSABLE_ENTITY
                } else {
                    StatusCode::FORBIDDEN
                };
                assert_eq!(page.status, expected, "{role} POST {path}");
            }
        }
        let page = client
            .get("/ui/api/installments?bin=45467112&amount=10,00&currency=TRY")
            .await;
        let expected = if i < 3 {
            StatusCode::OK
        } else {
            StatusCode::FORBIDDEN
        };
        assert_eq!(page.status, expected, "{role} installments");
        let page = client.post("/ui/collect", &[("idem", "x")]).await;
        let expected = if i < 3 {
            StatusCode::UNPROCESSABLE_ENTITY
        } else {
            StatusCode::FORBIDDEN
        };
        assert_eq!(page.status, expected, "{role} POST /ui/collect");
        let page = client.get("/ui/payments/export?format=csv").await;
        assert_eq!(page.status, StatusCode::OK, "{role} export");
        // A company that is not one's own cannot be switched to.
        if i > 0 {
            let page = client
                .post("/ui/company", &[("company_id", &app.b.id)])
                .await;
            assert_eq!(page.status, StatusCode::NOT_FOUND, "{role}");
        }
    }
    assert_eq!(app.service.list_api_keys(&app.a.id).await.unwrap().len(), 1);
    let pos = app.service.get_pos(&app.a.id, &a_pos).await.unwrap();
    assert_eq!(
        pos.onboarding_state,
        sanalpos_service::OnboardingState::Active
    );
    let b = app
        .service
        .get_payment(&app.b.id, &b_payment)
        .await
        .unwrap();
    assert_eq!(b.payment.refunded_amount.minor(), 0);

    // The admin of company B only sees B's payment, and never A's.
    let admin_b = UiClient::signed_in(&app.base_url, "admin_b").await;
    let page = admin_b.get(&format!("/ui/payments/{b_payment}")).await;
    assert_eq!(page.status, StatusCode::OK);
    let page = admin_b.get("/ui/admin/users").await;
    assert!(
        page.body.contains("data-username=\"admin_b\"")
            && !page.body.contains("data-username=\"collector\"")
    );
});

both_engines!(
    moto_payment_approved_declined_and_resubmitted,
    |app: TestApp| async move {
        seed_users(&app).await;
        let client = UiClient::signed_in(&app.base_url, "collector").await;

        // The installment options of the card as its BIN is typed.
        let page = client
            .get("/ui/api/installments?bin=45467112&amount=1.000,00&currency=TRY")
            .await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.body);
        let options: serde_json::Value = serde_json::from_str(&page.body).unwrap();
        let counts: Vec<u64> = options["options"]
            .as_array()
            .unwrap()
            .iter()
            .map(|o| o["installments"].as_u64().unwrap())
            .collect();
        assert!(
            counts.contains(&1) && counts.iter().any(|c| *c > 1),
            "{options}"
        );
        assert!(options["options"][0]["label"]
            .as_str()
            .unwrap()
            .contains("TL"));

        // Approved.
        let form = client.get("/ui/collect").await;
        let idem = hidden(&form.body, "idem");
        let mut fields = card_fields(APPROVED_CARD, "1.234,56");
        fields.push(("idem", &idem));
        let page = client.post("/ui/collect", &fields).await;
        assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.body);
        let result_url = page.location().unwrap().to_owned();
        assert!(result_url.starts_with("/ui/payments/pay_") && result_url.ends_with("/result"));
        let result = client.get(&result_url).await;
        assert_eq!(result.status, StatusCode::OK);
        assert!(result.body.contains("Ödeme onaylandı"), "{}", result.body);
        assert!(result.body.contains("1.234,56 TL"));
        assert!(result.body.contains("id=\"auth-code\""));
        assert!(result.body.contains("454671******7894"));
        assert_clean(&app, &result);

        // The same form again (a double click, a reload of the POST): no second charge,
        // the same payment.
        let page = client.post("/ui/collect", &fields).await;
        assert_eq!(page.status, StatusCode::SEE_OTHER);
        assert_eq!(page.location(), Some(result_url.as_str()));
        assert_eq!(app.charged(&app.a).len(), 1);

        // Declined for insufficient funds, in Turkish; and in English.
        let page = client.collect(&card_fields(NO_FUNDS_CARD, "10,00")).await;
        assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.body);
        let declined_url = page.location().unwrap().to_owned();
        let result = client.get(&declined_url).await;
        assert!(result.body.contains("Ödeme reddedildi"));
        assert!(result.body.contains("Yetersiz bakiye"), "{}", result.body);
        assert_clean(&app, &result);
        client.get("/ui/lang?l=en").await;
        let result = client.get(&declined_url).await;
        assert!(result.body.contains("Payment declined"));
        assert!(result.body.contains("Insufficient"), "{}", result.body);
        client.get("/ui/lang?l=tr").await;

        // A bad card number is refused on the form, nothing attempted, and the form does
        // not echo the card back.
        let page = client
            .collect(&card_fields("4546711234567895", "10,00"))
            .await;
        assert_eq!(page.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(
            page.body.contains("Kart numarası geçersiz"),
            "{}",
            page.body
        );
        assert!(!page.body.contains("4546711234567895"));
        let page = client.collect(&card_fields(APPROVED_CARD, "12.34.5")).await;
        assert_eq!(page.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(page.body.contains("Tutar geçersiz"));
        assert_eq!(app.charged(&app.a).len(), 1);

        // The list shows both payments to the collector, with Turkish formats.
        let page = client.get("/ui/payments").await;
        assert_eq!(page.status, StatusCode::OK);
        assert_eq!(page.body.matches("<tr data-id=\"pay_").count(), 2);
        assert!(page.body.contains("1.234,56 TL") && page.body.contains("Reddedildi"));
        assert_clean(&app, &page);
        let page = client.get("/ui/payments?status=declined").await;
        assert_eq!(page.body.matches("<tr data-id=\"pay_").count(), 1);
        let page = client.get("/ui/payments?from=yesterday").await;
        assert_eq!(page.status, StatusCode::BAD_REQUEST);

        // The collector may not refund.
        let id = result_url
            .trim_start_matches("/ui/payments/")
            .trim_end_matches("/result");
        let page = client
            .post(
                &format!("/ui/payments/{id}/refund"),
                &[("amount", "1,00"), ("confirm", "on")],
            )
            .await;
        assert_eq!(page.status, StatusCode::FORBIDDEN);
    }
);

both_engines!(
    partial_refund_with_confirmation,
    |app: TestApp| async move {
        seed_users(&app).await;
        let (status, body) = app
            .pay(&app.a, &key(), &payment(APPROVED_CARD, "100.00"))
            .await;
        assert_eq!(status, StatusCode::CREATED);
        let id = body["id"].as_str().unwrap().to_owned();
        // A refund comes after the provider's end of day (before it, it is a cancel).
        app.end_of_day().await;
        let client = UiClient::signed_in(&app.base_url, "accountant").await;
        let detail = client.get(&format!("/ui/payments/{id}")).await;
        assert!(detail.body.contains("id=\"refund-form\""));
        assert!(detail.body.contains("id=\"attempts\""));
        // Without the confirmation box nothing happens.
        let page = client
            .post(&format!("/ui/payments/{id}/refund"), &[("amount", "30,00")])
            .await;
        assert_eq!(page.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(page.body.contains("kutucuğu işaretleyin"));
        // More than was captured is refused.
        let page = client
            .post(
                &format!("/ui/payments/{id}/refund"),
                &[("amount", "130,00"), ("confirm", "on")],
            )
            .await;
        assert_eq!(page.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(page.body.contains("kalan miktarı aşıyor"), "{}", page.body);
        // A cancel after the end of day: the bank refuses, said in Turkish.
        let page = client
            .post(&format!("/ui/payments/{id}/cancel"), &[("confirm", "on")])
            .await;
        assert_eq!(page.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(page.body.contains("iade yapın"), "{}", page.body);
        let p = app.service.get_payment(&app.a.id, &id).await.unwrap();
        assert_eq!(p.payment.refunded_amount.minor(), 0);
        // 30,00 TL back.
        let page = client
            .post(
                &format!("/ui/payments/{id}/refund"),
                &[("amount", "30,00"), ("confirm", "on")],
            )
            .await;
        assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.body);
        let detail = client.get(page.location().unwrap()).await;
        assert!(detail.body.contains("İşlem tamamlandı"));
        assert!(detail.body.contains("Kısmi iade"), "{}", detail.body);
        assert!(detail.body.contains("30,00 TL"));
        let p = app.service.get_payment(&app.a.id, &id).await.unwrap();
        assert_eq!(p.payment.refunded_amount.minor(), 3000);
        // The refused cancel is on record beside the approved refund.
        assert_eq!(p.refunds.len(), 2);
        let approved: Vec<_> = p
            .refunds
            .iter()
            .filter(|r| r.status == sanalpos_service::RefundStatus::Approved)
            .collect();
        assert_eq!(approved.len(), 1);
        assert_eq!(approved[0].amount.minor(), 3000);
    }
);

both_engines!(
    same_day_refund_is_scheduled_and_can_be_withdrawn,
    |app: TestApp| async move {
        seed_users(&app).await;
        let (status, body) = app
            .pay(&app.a, &key(), &payment(APPROVED_CARD, "100.00"))
            .await;
        assert_eq!(status, StatusCode::CREATED);
        let id = body["id"].as_str().unwrap().to_owned();
        let client = UiClient::signed_in(&app.base_url, "accountant").await;
        // A partial refund on the sale's day: scheduled, said so, with its reason.
        let page = client
            .post(
                &format!("/ui/payments/{id}/refund"),
                &[("amount", "30,00"), ("confirm", "on")],
            )
            .await;
        assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.body);
        let location = page.location().unwrap().to_owned();
        assert!(location.ends_with("done=scheduled"), "{location}");
        let detail = client.get(&location).await;
        assert!(detail.body.contains("İade planlandı"), "{}", detail.body);
        assert!(detail.body.contains("Banka günü kapanınca iade edilecek"));
        assert!(detail.body.contains("data-status=\"scheduled\""));
        assert!(detail.body.contains(">Planlandı<"), "{}", detail.body);
        // What is left to refund already excludes it; the whole can no longer be
        // cancelled.
        assert!(detail.body.contains("value=\"70,00\""), "{}", detail.body);
        assert!(!detail.body.contains("id=\"cancel-form\""));
        let p = app.service.get_payment(&app.a.id, &id).await.unwrap();
        let refund_id = p.refunds[0].id.clone();
        let withdraw = format!("/ui/payments/{id}/refunds/{refund_id}/withdraw");
        assert!(detail.body.contains(&withdraw), "{}", detail.body);
        // In English too.
        client.get("/ui/lang?l=en").await;
        let english = client.get(&format!("/ui/payments/{id}")).await;
        assert!(
            english
                .body
                .contains("Will be refunded when the bank&#39;s day closes")
                || english
                    .body
                    .contains("Will be refunded when the bank's day closes"),
            "{}",
            english.body
        );
        assert!(english.body.contains(">Scheduled<"), "{}", english.body);
        assert!(english.body.contains(">Withdraw<"), "{}", english.body);
        client.get("/ui/lang?l=tr").await;
        // A viewer may not withdraw; without the confirmation nothing happens.
        let viewer = UiClient::signed_in(&app.base_url, "viewer").await;
        let page = viewer.post(&withdraw, &[("confirm", "on")]).await;
        assert_eq!(page.status, StatusCode::FORBIDDEN);
        let page = client.post(&withdraw, &[]).await;
        assert_eq!(page.status, StatusCode::UNPROCESSABLE_ENTITY);
        let p = app.service.get_payment(&app.a.id, &id).await.unwrap();
        assert_eq!(
            p.refunds[0].status,
            sanalpos_service::RefundStatus::Scheduled
        );
        // Withdrawn: on record, its amount free again, no button any more.
        let page = client.post(&withdraw, &[("confirm", "on")]).await;
        assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.body);
        let detail = client.get(page.location().unwrap()).await;
        assert!(
            detail.body.contains("Planlanan iade geri çekildi"),
            "{}",
            detail.body
        );
        assert!(detail.body.contains(">Geri çekildi<"), "{}", detail.body);
        assert!(!detail.body.contains(&withdraw));
        assert!(detail.body.contains("value=\"100,00\""), "{}", detail.body);
        assert!(detail.body.contains("id=\"cancel-form\""));
        let p = app.service.get_payment(&app.a.id, &id).await.unwrap();
        assert_eq!(
            p.refunds[0].status,
            sanalpos_service::RefundStatus::Withdrawn
        );
        // Again: refused in Turkish, nothing changes.
        let page = client.post(&withdraw, &[("confirm", "on")]).await;
        assert_eq!(page.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(page.body.contains("Yalnızca planlanmış"), "{}", page.body);
    }
);

both_engines!(
    pos_definition_and_connection_test,
    |app: TestApp| async move {
        seed_users(&app).await;
        let client = UiClient::signed_in(&app.base_url, "admin").await;
        client
            .post("/ui/company", &[("company_id", &app.a.id)])
            .await;
        let picker = client.get("/ui/pos/new").await;
        assert!(picker.body.contains("nkolay:nkolay"), "{}", picker.body);
        let form = client.get("/ui/pos/new?bank=nkolay:nkolay").await;
        assert!(form.body.contains("name=\"s_sx_list\""), "{}", form.body);
        // An unknown bank shows the picker again.
        let again = client.get("/ui/pos/new?bank=nkolay:nowhere").await;
        assert!(again.body.contains("pos-bank-form"), "{}", again.body);
        let m = &app.a.merchant;
        let sim = app.sim.base_url();
        let page = client
            .post(
                "/ui/pos",
                &[
                    ("name", "Yedek POS"),
                    ("protocol", "nkolay"),
                    ("s_bank", "nkolay"),
                    ("environment", "test"),
                    ("s_base_url", &sim),
                    ("s_sx", &m.sx),
                    ("s_sx_list", &m.sx_list),
                    ("s_sx_cancel", &m.sx_cancel),
                    ("s_secret_key", &m.secret_key),
                    ("s_auto_complete", "true"),
                    ("cur_TRY", "on"),
                    ("installments", "1;1,79;0;1\n3;2,99;2,50;30"),
                    ("onboarding_state", "documents"),
                    ("doc_vergi_levhasi", "on"),
                ],
            )
            .await;
        assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.body);
        let edit_url = page.location().unwrap().to_owned();
        let pos_id = edit_url.trim_start_matches("/ui/pos/").to_owned();
        let page = client.get(&edit_url).await;
        assert_eq!(page.status, StatusCode::OK);
        assert!(page.body.contains("3;2,99;2,50;30"));
        assert_clean(&app, &page);
        let pos = app.service.get_pos(&app.a.id, &pos_id).await.unwrap();
        assert_eq!(pos.installments.len(), 2);
        assert_eq!(pos.installments[1].surcharge_bp, 250);
        assert!(pos
            .documents
            .iter()
            .any(|d| d.name == "vergi_levhasi" && d.received));
        assert_eq!(
            pos.onboarding_state,
            sanalpos_service::OnboardingState::Documents
        );

        // Good credentials.
        let page = client.post(&format!("/ui/pos/{pos_id}/test"), &[]).await;
        assert_eq!(page.status, StatusCode::OK);
        assert!(page.body.contains("Bağlantı başarılı"), "{}", page.body);

        // Replace them with wrong ones (leaving the form's secrets empty keeps them).
        let page = client
            .post(
                &edit_url,
                &[
                    ("name", "Yedek POS"),
                    ("environment", "test"),
                    ("s_base_url", &sim),
                    ("s_sx", "wrong-sx-token"),
                    ("s_sx_list", "wrong-list-token"),
                    ("s_sx_cancel", "wrong-cancel-token"),
                    ("s_secret_key", "wrong-secret"),
                    ("cur_TRY", "on"),
                    ("installments", "1;1,79;0;1"),
                    ("onboarding_state", "documents"),
                ],
            )
            .await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.body);
        assert!(!page.body.contains("wrong-sx-token"));
        let page = client.post(&format!("/ui/pos/{pos_id}/test"), &[]).await;
        assert!(
            page.body.contains("Erişim bilgileri hatalı"),
            "{}",
            page.body
        );
        // The list shows the POS's last error, in words but without the secrets.
        let list = client.get("/ui/pos").await;
        assert!(list.body.contains("credentials"), "{}", list.body);
        assert_clean(&app, &list);
        assert_clean(&app, &page);

        // An unreachable provider is said so.
        let page = client
            .post(
                &edit_url,
                &[
                    ("name", "Yedek POS"),
                    ("environment", "test"),
                    ("s_base_url", "http://127.0.0.1:9"),
                    ("cur_TRY", "on"),
                    ("installments", "1;1,79;0;1"),
                    ("onboarding_state", "documents"),
                ],
            )
            .await;
        assert_eq!(page.status, StatusCode::OK);
        let page = client.post(&format!("/ui/pos/{pos_id}/test"), &[]).await;
        assert!(
            page.body.contains("Sağlayıcıya ulaşılamıyor"),
            "{}",
            page.body
        );

        // A broken installment table is refused with the line.
        let page = client
            .post(
                &edit_url,
                &[
                    ("name", "Yedek POS"),
                    ("environment", "test"),
                    ("s_base_url", &sim),
                    ("cur_TRY", "on"),
                    ("installments", "1;x;0;1"),
                    ("onboarding_state", "documents"),
                ],
            )
            .await;
        assert_eq!(page.status, StatusCode::UNPROCESSABLE_ENTITY);

        // Deactivate.
        let page = client
            .post(&format!("/ui/pos/{pos_id}/deactivate"), &[])
            .await;
        assert_eq!(page.status, StatusCode::SEE_OTHER);
        let pos = app.service.get_pos(&app.a.id, &pos_id).await.unwrap();
        assert_eq!(
            pos.onboarding_state,
            sanalpos_service::OnboardingState::Inactive
        );
        let list = client.get("/ui/pos").await;
        assert!(list.body.contains("Pasif") && list.body.contains("Yedek POS"));
        assert_clean(&app, &list);
    }
);

both_engines!(admin_users_keys_and_audit, |app: TestApp| async move {
    seed_users(&app).await;
    let client = UiClient::signed_in(&app.base_url, "admin").await;
    client
        .post("/ui/company", &[("company_id", &app.a.id)])
        .await;
    client.get("/ui/admin/users").await;
    let page = client
        .post(
            "/ui/admin/users",
            &[
                ("username", "yeni.muhasebe"),
                ("password", "uzun-parola-1"),
                ("role", "accountant"),
                ("company_id", &app.a.id),
            ],
        )
        .await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.body);
    let fresh = UiClient::new(&app.base_url);
    assert_eq!(
        fresh.login("yeni.muhasebe", "uzun-parola-1").await.status,
        StatusCode::SEE_OTHER
    );

    // Roles change; a disabled user is signed out at once and cannot sign in.
    let collector = UiClient::signed_in(&app.base_url, "collector").await;
    let accountant = UiClient::signed_in(&app.base_url, "accountant").await;
    assert_eq!(accountant.get("/ui/collect").await.status, StatusCode::OK);
    let id_of = |name: &str| {
        let service = app.service.clone();
        let company = app.a.id.clone();
        let name = name.to_owned();
        async move {
            service
                .list_company_users(&company)
                .await
                .unwrap()
                .into_iter()
                .find(|(u, _)| u.username == name)
                .unwrap()
                .0
                .id
        }
    };
    client.get("/ui/admin/users").await;
    let page = client
        .post(
            &format!("/ui/admin/users/{}/role", id_of("accountant").await),
            &[("role", "viewer")],
        )
        .await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.body);
    assert_eq!(
        accountant.get("/ui/collect").await.status,
        StatusCode::FORBIDDEN
    );
    let page = client
        .post(
            &format!("/ui/admin/users/{}/role", id_of("collector").await),
            &[("role", "collector"), ("disabled", "on")],
        )
        .await;
    assert_eq!(page.status, StatusCode::SEE_OTHER);
    assert_eq!(
        collector.get("/ui/payments").await.location(),
        Some("/ui/login")
    );
    let page = UiClient::new(&app.base_url)
        .login("collector", PASSWORD)
        .await;
    assert_eq!(page.status, StatusCode::UNAUTHORIZED);
    // One's own role is not changed from here.
    let page = client
        .post(
            &format!("/ui/admin/users/{}/role", id_of("admin").await),
            &[("role", "viewer")],
        )
        .await;
    assert_eq!(page.status, StatusCode::BAD_REQUEST);
    // Nor is a user of another company.
    let page = client
        .post(
            &format!("/ui/admin/users/{}/role", {
                let users = app.service.list_company_users(&app.b.id).await.unwrap();
                users
                    .into_iter()
                    .find(|(u, _)| u.username == "admin_b")
                    .unwrap()
                    .0
                    .id
            }),
            &[("role", "viewer")],
        )
        .await;
    assert_eq!(page.status, StatusCode::NOT_FOUND);

    // A key is shown once.
    client.get("/ui/admin/keys").await;
    let page = client.post("/ui/admin/keys", &[("name", "ERP")]).await;
    assert_eq!(page.status, StatusCode::OK);
    let key_start = page.body.find("sk_live_").unwrap();
    let key = &page.body[key_start..key_start + 40];
    assert!(app.service.authenticate(key).await.unwrap().is_some());
    let again = client.get("/ui/admin/keys").await;
    assert!(!again.body.contains(key));
    assert_eq!(again.headers["cache-control"], "no-store");

    // The audit log and its chain.
    let page = client.get("/ui/admin/audit").await;
    assert!(page.body.contains("data-state=\"ok\""), "{}", page.body);
    assert!(page.body.contains("user.created") && page.body.contains("api_key.created"));
    assert!(!page.body.contains(key));
});

both_engines!(
    list_filters_totals_exports_and_dashboard,
    |app: TestApp| async move {
        seed_users(&app).await;
        for (pan, amount) in [
            (APPROVED_CARD, "150.00"),
            (APPROVED_CARD, "2500.50"),
            ("5101385101385104", "75.25"),
            (NO_FUNDS_CARD, "40.00"),
        ] {
            let (status, _) = app.pay(&app.a, &key(), &payment(pan, amount)).await;
            assert_eq!(status, StatusCode::CREATED);
        }
        let client = UiClient::signed_in(&app.base_url, "viewer").await;
        let rows = |page: &Page| page.body.matches("<tr data-id=\"pay_").count();

        let page = client.get("/ui/payments").await;
        assert_eq!(rows(&page), 4);
        assert!(page.body.contains("id=\"totals\""));
        assert!(
            page.body.contains("2.765,75 TL"),
            "the total of all four rows"
        );
        let page = client.get("/ui/payments?last_four=5104").await;
        assert_eq!(rows(&page), 1);
        let page = client
            .get("/ui/payments?min_amount=100,00&max_amount=2.500,50&status=approved")
            .await;
        assert_eq!(rows(&page), 2);
        assert!(page.body.contains("2.650,50 TL"));
        let page = client.get("/ui/payments?last_four=51").await;
        assert_eq!(page.status, StatusCode::BAD_REQUEST);

        // CSV, Turkish: semicolons, Turkish amounts, exactly the filtered rows.
        let page = client
            .get("/ui/payments/export?format=csv&status=approved")
            .await;
        assert_eq!(page.status, StatusCode::OK);
        assert!(page.headers["content-disposition"]
            .to_str()
            .unwrap()
            .contains(".csv"));
        let lines: Vec<&str> = page.body.trim_start_matches('\u{feff}').lines().collect();
        assert_eq!(lines.len(), 4, "{}", page.body);
        assert!(lines[0].starts_with("Tarih;Durum"));
        assert!(page.body.contains("2.500,50") && page.body.contains("454671******7894"));
        assert_clean(&app, &page);

        // XLSX: a real workbook with the same rows.
        let sheet = client
            .first_sheet("/ui/payments/export?format=xlsx&status=approved")
            .await;
        assert_eq!(sheet.height(), 4);
        let text = format!("{:?}", sheet.rows().collect::<Vec<_>>());
        assert!(text.contains("454671******7894") && !text.contains(APPROVED_CARD));

        // The dashboard: today's collections, the approval rate, the chart, the declines.
        let page = client.get("/ui/dashboard").await;
        assert_eq!(page.status, StatusCode::OK);
        assert!(page.body.contains("2.725,75 TL"), "approved today");
        assert!(page.body.contains("%75"), "3 of 4 approved");
        assert!(page.body.contains("<svg"), "the chart is drawn");
        assert!(page.body.contains("Yetersiz bakiye"));
        // Nothing inline that the content security policy would block.
        assert!(!page.body.contains(" style=") && !page.body.contains("<script>"));
    }
);

/// The dashboard's company switch shows `company_id` as the current company.
fn current_company_is(page: &Page, company_id: &str) -> bool {
    page.body
        .contains(&format!("<option value=\"{company_id}\" selected"))
}

both_engines!(
    sign_in_lands_on_the_last_chosen_company,
    |app: TestApp| async move {
        // Ids in the opposite order of the names: the first company by name is not the
        // first by id, nor the last created.
        let store = &app.store;
        let mut ids = Vec::new();
        for (id, name) in [
            ("cmp_zz_alfa", "Alfa Tekstil"),
            ("cmp_aa_zeta", "Zeta Gıda"),
        ] {
            let company = sanalpos_store::Company {
                id: id.to_owned(),
                name: name.to_owned(),
                created_at: sanalpos_store::now_ms(),
            };
            let audit = sanalpos_store::NewAudit {
                company_id: id.to_owned(),
                kind: "company.created".into(),
                actor: "test".into(),
                subject_id: id.to_owned(),
                data: serde_json::json!({}),
            };
            store.insert_company(company, audit).await.unwrap();
            ids.push(id.to_owned());
        }
        app.service
            .create_user("two", PASSWORD, sanalpos_service::Role::Admin, &ids, "test")
            .await
            .unwrap();

        // The first sign-in: the first company by name.
        let first = UiClient::signed_in(&app.base_url, "two").await;
        let page = first.get("/ui/dashboard").await;
        assert!(current_company_is(&page, "cmp_zz_alfa"), "{}", page.body);

        // The company chosen is remembered for the next sign-in.
        let page = first
            .post("/ui/company", &[("company_id", "cmp_aa_zeta")])
            .await;
        assert_eq!(page.status, StatusCode::SEE_OTHER);
        let second = UiClient::signed_in(&app.base_url, "two").await;
        let page = second.get("/ui/dashboard").await;
        assert!(current_company_is(&page, "cmp_aa_zeta"), "{}", page.body);

        // A company that is not the user's is neither entered nor remembered.
        let page = second
            .post("/ui/company", &[("company_id", &app.a.id)])
            .await;
        assert_eq!(page.status, StatusCode::NOT_FOUND);
        let third = UiClient::signed_in(&app.base_url, "two").await;
        let page = third.get("/ui/dashboard").await;
        assert!(current_company_is(&page, "cmp_aa_zeta"), "{}", page.body);
    }
);

// Issue 13, item 2: a POS that takes dollars and euros too must not open the form on
// USD (the first option by number): the company's currency, TRY, is chosen, written
// beside the amount, and the result page shows it beside the amount.
both_engines!(
    collect_form_defaults_to_the_company_currency,
    |app: TestApp| async move {
        seed_users(&app).await;
        app.service
            .update_pos(
                &app.a.id,
                &app.a.pos_id,
                sanalpos_service::PosChange {
                    currencies: Some(vec![
                        sanalpos_core::Currency::Usd,
                        sanalpos_core::Currency::Eur,
                        sanalpos_core::Currency::Try,
                    ]),
                    ..Default::default()
                },
                "test",
            )
            .await
            .unwrap();
        let client = UiClient::signed_in(&app.base_url, "collector").await;
        let form = client.get("/ui/collect").await;
        assert_eq!(form.status, StatusCode::OK);
        assert!(
            form.body
                .contains("<option value=\"TRY\" selected>TRY</option>"),
            "{}",
            form.body
        );
        let select = &form.body[form.body.find("id=\"currency\"").unwrap()..];
        let select = &select[..select.find("</select>").unwrap()];
        assert_eq!(select.matches(" selected>").count(), 1, "{select}");
        assert!(form.body.contains("id=\"amount-currency\">TRY<"));

        // The form as a browser sends it, currency and all: lira, shown as such.
        let mut fields = card_fields(APPROVED_CARD, "1.250,00");
        fields.retain(|(name, _)| *name != "currency");
        fields.push(("currency", "TRY"));
        let page = client.collect(&fields).await;
        assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.body);
        let result = client.get(page.location().unwrap()).await;
        assert!(
            result
                .body
                .contains("id=\"result-amount\" data-currency=\"TRY\">1.250,00 TL<"),
            "{}",
            result.body
        );
        client.get("/ui/lang?l=en").await;
        let result = client.get(page.location().unwrap()).await;
        assert!(result.body.contains(">TRY 1,250.00<"), "{}", result.body);
    }
);

// Issue 13, item 4: the payment page's audit events show labelled values in the page's
// language, never the raw JSON on one line.
both_engines!(
    payment_audit_shows_labelled_values,
    |app: TestApp| async move {
        seed_users(&app).await;
        let client = UiClient::signed_in(&app.base_url, "collector").await;
        let page = client
            .collect(&card_fields(APPROVED_CARD, "1.234,56"))
            .await;
        assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.body);
        let detail_url = page
            .location()
            .unwrap()
            .trim_end_matches("/result")
            .to_owned();
        let audit_of = |body: &str| -> String {
            let start = body.find("id=\"audit\"").expect("an audit section");
            let rest = &body[start..];
            rest[..rest.find("</table>").unwrap()].to_owned()
        };
        let page = client.get(&detail_url).await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.body);
        let audit = audit_of(&page.body);
        assert!(!audit.contains('{') && !audit.contains('}'), "{audit}");
        assert!(
            audit.contains("<dt>Tutar</dt><dd>1.234,56 TL</dd>"),
            "{audit}"
        );
        assert!(
            audit.contains("<dt>Durum</dt><dd>Onaylandı</dd>"),
            "{audit}"
        );
        assert!(audit.contains("<dt>Onay kodu</dt>"), "{audit}");
        assert!(!audit.contains(">auth_code<"), "{audit}");

        client.get("/ui/lang?l=en").await;
        let audit = audit_of(&client.get(&detail_url).await.body);
        assert!(!audit.contains('{'), "{audit}");
        assert!(
            audit.contains("<dt>Amount</dt><dd>TRY 1,234.56</dd>"),
            "{audit}"
        );
    }
);

/// "Online Tahsilat" is limited per user: over the limit the form says so in the
/// user's language and nothing is sent; a reload of a sent form is not counted; another
/// user is not held back.
async fn collect_form_is_limited_per_user(app: TestApp) {
    seed_users(&app).await;
    let client = UiClient::signed_in(&app.base_url, "collector").await;
    let form = client.get("/ui/collect").await;
    let idem = hidden(&form.body, "idem");
    let mut first = card_fields(APPROVED_CARD, "100,00");
    first.push(("idem", &idem));
    let page = client.post("/ui/collect", &first).await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.body);
    let result_url = page.location().unwrap().to_owned();
    // The same form sent again three times: its payment, not counted.
    for _ in 0..3 {
        let page = client.post("/ui/collect", &first).await;
        assert_eq!(page.status, StatusCode::SEE_OTHER);
        assert_eq!(page.location(), Some(result_url.as_str()));
    }
    let page = client.collect(&card_fields(APPROVED_CARD, "101,00")).await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.body);
    assert_eq!(app.charged(&app.a).len(), 2);

    // The third charge is over the limit of two.
    let page = client.collect(&card_fields(APPROVED_CARD, "102,00")).await;
    assert_eq!(page.status, StatusCode::TOO_MANY_REQUESTS, "{}", page.body);
    assert!(page.body.contains("id=\"form-error\""), "{}", page.body);
    assert!(
        page.body.contains("Çok fazla tahsilat denemesi") && page.body.contains("en fazla 2"),
        "{}",
        page.body
    );
    assert!(page.body.contains("Kart bilgisi gönderilmedi"));
    assert_clean(&app, &page);
    client.get("/ui/lang?l=en").await;
    let page = client.collect(&card_fields(APPROVED_CARD, "103,00")).await;
    assert_eq!(page.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(
        page.body.contains("Too many collection attempts")
            && page.body.contains("at most 2 payments"),
        "{}",
        page.body
    );
    assert!(page.body.contains("The card was not sent"));
    assert_clean(&app, &page);
    assert_eq!(app.charged(&app.a).len(), 2, "nothing was sent to the bank");

    // Another user of the company has a count of their own.
    let admin = UiClient::signed_in(&app.base_url, "admin").await;
    let page = admin.collect(&card_fields(APPROVED_CARD, "104,00")).await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.body);
    assert_eq!(app.charged(&app.a).len(), 3);

    let metrics = app
        .http
        .get(app.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("sanalpos_rate_limited_total{scope=\"ui_collect_user\"} 2"),
        "{metrics}"
    );
}

fn collect_limit(config: &mut sanalpos_server::Config) {
    config.rate_limits = sanalpos_server::ratelimit::RateLimits {
        collect_per_user: 2,
        collect_window_secs: 1_000_000_000,
        ..sanalpos_server::ratelimit::RateLimits::off()
    };
}

mod collect_form_is_limited_per_user {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sqlite() {
        let app = TestApp::spawn_with(Db::Sqlite, "collect_limit", collect_limit)
            .await
            .unwrap();
        collect_form_is_limited_per_user(app).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn postgres() {
        if let Some(app) = TestApp::spawn_with(Db::Postgres, "collect_limit", collect_limit).await {
            collect_form_is_limited_per_user(app).await;
        }
    }
}
