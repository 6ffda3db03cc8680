//! Payments through the service against the in-process simulator, on SQLite and
//! PostgreSQL: approvals, declines with their Turkish messages, 3D Secure, isolation,
//! POS changes, validation, and what reaches the database.

#![allow(clippy::unwrap_used)]

use crate::helpers::*;
use sanalpos_core::Currency;
use sanalpos_service::*;
use sanalpos_simulator::TxStatus;
use sanalpos_store::testing::{for_each_engine, sqlite_store};

#[tokio::test]
async fn approved_sale() {
    for_each_engine("approved_sale", |store| async move {
        let w = world_on(store, "Demo Ticaret A.Ş.").await;
        let view = w.pay(APPROVED_CARD, "150.00").await;
        assert_eq!(view.status, PaymentStatus::Approved, "{view:?}");
        assert_eq!(view.amount, tl("150.00"));
        assert_eq!(view.masked_pan, "454671******7894");
        assert!(view.auth_code.is_some() && view.provider_ref.is_some());
        assert_eq!(view.authorized_amount, Some(tl("150.00")));
        assert_eq!(
            view.message.as_ref().map(|m| m.tr.as_str()),
            Some("Onaylandı")
        );
        assert_eq!(view.pos_id, w.pos.id);
        // The JSON body uses the contract's names and decimal strings.
        let json = serde_json::to_value(&view).unwrap();
        assert_eq!(json["amount"], "150.00");
        assert_eq!(json["status"], "approved");
        assert_eq!(json["currency"], "TRY");
        assert!(json["created_at"].as_str().unwrap().ends_with('Z'));
        // The simulator charged it once; the attempt log has it completed.
        assert!(w.charged(&view.id).await);
        let detail = w
            .service
            .get_payment(&w.company.id, &view.id)
            .await
            .unwrap();
        assert_eq!(detail.attempts.len(), 1);
        assert_eq!(
            detail.attempts[0].outcome,
            Some(sanalpos_store::AttemptOutcome::Approved)
        );
        assert!(detail.attempts[0].latency_ms.is_some());
        // Listed, filterable, audited.
        let page = w
            .service
            .list_payments(
                &w.company.id,
                PaymentFilter {
                    status: Some(PaymentStatus::Approved),
                    order_ref: Some("SO-1001".into()),
                    ..PaymentFilter::default()
                },
            )
            .await
            .unwrap();
        assert_eq!(page.items.len(), 1);
        let (_, audit) = w.service.company_audit(&w.company.id, 1).await.unwrap();
        assert!(audit.is_some_and(|r| r.broken.is_none()));
        let events = w.service.company_audit(&w.company.id, 10).await.unwrap().0;
        assert_eq!(events[0].kind, "payment.approved");
        let pos = w.service.get_pos(&w.company.id, &w.pos.id).await.unwrap();
        assert!(pos.last_success_at.is_some());
    })
    .await;
}

#[tokio::test]
async fn declines_carry_bank_code_and_turkish_message() {
    for_each_engine(
        "declines_carry_bank_code_and_turkish_message",
        |store| async move {
            let w = world_on(store, "Demo").await;
            for (card, code, turkish) in [
                ("4000000000000515", "51", "bakiye"),
                ("4000000000000549", "54", "son kullanma"),
                ("4000000000000051", "05", "onaylanmadı"),
                ("4000000000000416", "41", "Kayıp"),
            ] {
                let view = w.pay(card, "10.00").await;
                assert_eq!(view.status, PaymentStatus::Declined, "{card}: {view:?}");
                assert_eq!(view.bank_code.as_deref(), Some(code));
                let message = view.message.clone().unwrap();
                assert!(
                    message.tr.to_lowercase().contains(&turkish.to_lowercase()),
                    "{card}: {message:?}"
                );
                assert!(!message.en.is_empty());
                assert!(!w.charged(&view.id).await);
            }
        },
    )
    .await;
}

#[tokio::test]
async fn three_d_right_and_wrong_code() {
    for_each_engine("three_d_right_and_wrong_code", |store| async move {
        let w = world_on(store, "Demo").await;
        let mut request = payment("5200190006338608", "250.00");
        request.three_d = true;
        request.return_url = Some("https://shop.example/done?o=1".into());
        let view = w
            .service
            .create_payment(&w.actor, request.clone())
            .await
            .unwrap();
        assert_eq!(view.status, PaymentStatus::Pending3ds);
        let redirect = &view.next_action.as_ref().unwrap().redirect_url;
        assert!(redirect.starts_with("http://127.0.0.1:9/3d/"), "{redirect}");
        let (token, body) = browse_3d(&w, &view, Some("123456")).await;
        let back = w.service.three_d_return(&token, &body).await.unwrap();
        assert_eq!(back.payment.status, PaymentStatus::Approved);
        assert_eq!(
            back.redirect_to,
            format!(
                "https://shop.example/done?o=1&payment_id={}&status=approved",
                view.id
            )
        );
        assert!(w.charged(&view.id).await);
        // The session is over: the page and a replayed postback change nothing.
        assert_eq!(
            w.service.three_d_page(&token).await.unwrap_err().code(),
            "three_d_finished"
        );
        assert_eq!(
            w.service
                .three_d_return(&token, &body)
                .await
                .unwrap_err()
                .code(),
            "three_d_finished"
        );
        assert_eq!(
            w.service.three_d_return(&"0".repeat(64), &body).await,
            Err(ServiceError::NotFound)
        );

        // Wrong code: declined with a 3D message, nothing charged.
        let view = w
            .service
            .create_payment(&w.actor, request.clone())
            .await
            .unwrap();
        let (token, body) = browse_3d(&w, &view, Some("000000")).await;
        let back = w.service.three_d_return(&token, &body).await.unwrap();
        assert_eq!(back.payment.status, PaymentStatus::Declined);
        assert!(back.payment.message.unwrap().tr.contains("3D"));
        assert!(back.redirect_to.ends_with("status=declined"));
        assert!(!w.charged(&view.id).await);

        // A forged postback (tampered amount) leaves the payment pending.
        let view = w.service.create_payment(&w.actor, request).await.unwrap();
        let (token, body) = browse_3d(&w, &view, Some("123456")).await;
        let forged: Vec<(String, String)> =
            serde_urlencoded::from_bytes::<Vec<(String, String)>>(&body)
                .unwrap()
                .into_iter()
                .map(|(k, v)| {
                    if k == "AUTH_CODE" {
                        (k, "999999".into())
                    } else {
                        (k, v)
                    }
                })
                .collect();
        let forged = serde_urlencoded::to_string(&forged).unwrap();
        let back = w
            .service
            .three_d_return(&token, forged.as_bytes())
            .await
            .unwrap();
        assert_eq!(back.payment.status, PaymentStatus::Pending3ds);
        let detail = w
            .service
            .get_payment(&w.company.id, &view.id)
            .await
            .unwrap();
        assert_eq!(
            detail.attempts.len(),
            2,
            "the forged postback is in the attempt log"
        );
        // The genuine one still finishes it.
        let back = w.service.three_d_return(&token, &body).await.unwrap();
        assert_eq!(back.payment.status, PaymentStatus::Approved);
    })
    .await;
}

#[tokio::test]
async fn companies_are_isolated() {
    for_each_engine("companies_are_isolated", |store| async move {
        let a = world_on(store.clone(), "A").await;
        let service = a.service.clone();
        let b = world_with(service, "B", sanalpos_simulator::MerchantConfig::generate()).await;
        let paid = a.pay(APPROVED_CARD, "20.00").await;
        assert_eq!(
            b.service.get_payment(&b.company.id, &paid.id).await,
            Err(ServiceError::NotFound)
        );
        assert_eq!(
            b.service
                .cancel_payment(&b.actor, &b.company.id, &paid.id)
                .await,
            Err(ServiceError::NotFound)
        );
        assert_eq!(
            b.service
                .refund_payment(&b.actor, &b.company.id, &paid.id, tl("1.00"))
                .await,
            Err(ServiceError::NotFound)
        );
        // Acting for B on A's company id is refused too.
        assert_eq!(
            b.service
                .cancel_payment(&b.actor, &a.company.id, &paid.id)
                .await,
            Err(ServiceError::NotFound)
        );
        assert!(b
            .service
            .list_payments(&b.company.id, PaymentFilter::default())
            .await
            .unwrap()
            .items
            .is_empty());
        // B cannot charge through A's POS.
        let mut request = payment(APPROVED_CARD, "5.00");
        request.pos_id = Some(a.pos.id.clone());
        assert_eq!(
            b.service
                .create_payment(&b.actor, request)
                .await
                .unwrap_err()
                .field(),
            Some("pos_id")
        );
        // Keys belong to one company.
        let (_, key) = a
            .service
            .create_api_key(&a.company.id, "shop", "test")
            .await
            .unwrap();
        let caller = a.service.authenticate(&key).await.unwrap().unwrap();
        assert_eq!(caller.company_id, a.company.id);
        assert_eq!(a.service.authenticate("sk_live_nope").await.unwrap(), None);
        // The sale's way: read once, then taken from what the instance keeps.
        let first = a.service.authenticate_sale(&key).await.unwrap().unwrap();
        let kept = a.service.authenticate_sale(&key).await.unwrap().unwrap();
        assert_eq!((&first.caller, &kept.caller), (&caller, &caller));
        a.service.confirm_sale_caller(&kept).await.unwrap();
        assert_eq!(
            a.service.authenticate_sale("sk_live_nope").await.unwrap(),
            None
        );
        a.service
            .revoke_api_key(&a.company.id, &caller.key_id, "test")
            .await
            .unwrap();
        assert_eq!(a.service.authenticate(&key).await.unwrap(), None);
        // A caller taken before the revocation no longer holds.
        assert_eq!(
            a.service.confirm_sale_caller(&kept).await,
            Err(ServiceError::Unauthorized)
        );
        assert_eq!(a.service.authenticate_sale(&key).await.unwrap(), None);
    })
    .await;
}

#[tokio::test]
async fn pos_changes_take_effect_on_the_next_payment() {
    for_each_engine(
        "pos_changes_take_effect_on_the_next_payment",
        |store| async move {
            let w = world_on(store, "A").await;
            assert_eq!(
                w.pay(APPROVED_CARD, "1.00").await.status,
                PaymentStatus::Approved
            );
            // Deactivated: no POS can charge, nothing attempted.
            let change = PosChange {
                onboarding_state: Some(OnboardingState::Inactive),
                ..PosChange::default()
            };
            let pos = w
                .service
                .update_pos(&w.company.id, &w.pos.id, change, "user:admin")
                .await
                .unwrap();
            assert_eq!(pos.version, w.pos.version + 1);
            let err = w
                .service
                .create_payment(&w.actor, payment(APPROVED_CARD, "1.00"))
                .await
                .unwrap_err();
            assert_eq!(err, ServiceError::NoActivePos);
            // Active again, with wrong credentials: the provider refuses, the payment fails.
            let mut wrong = nkolay_settings(&w.sim.base_url(), &w.merchant);
            wrong.set("secret_key", "not-the-secret");
            wrong.set("sx", format!("{}|AAAA", w.merchant.merchant_no));
            let change = PosChange {
                onboarding_state: Some(OnboardingState::Active),
                settings: Some(wrong),
                ..PosChange::default()
            };
            w.service
                .update_pos(&w.company.id, &w.pos.id, change, "user:admin")
                .await
                .unwrap();
            let view = w.pay(APPROVED_CARD, "1.00").await;
            assert_ne!(view.status, PaymentStatus::Approved, "{view:?}");
            // Right credentials and a new currency: works again, in USD too.
            let change = PosChange {
                settings: Some(nkolay_settings(&w.sim.base_url(), &w.merchant)),
                currencies: Some(vec![Currency::Try, Currency::Usd]),
                ..PosChange::default()
            };
            let pos = w
                .service
                .update_pos(&w.company.id, &w.pos.id, change, "user:admin")
                .await
                .unwrap();
            let secret_key = pos
                .settings
                .iter()
                .find(|s| s.name == "secret_key")
                .unwrap();
            assert!(secret_key.secret);
            assert!(secret_key.value.contains('…'), "masked: {secret_key:?}");
            assert!(!secret_key.value.contains(&w.merchant.secret_key));
            let mut usd = payment(APPROVED_CARD, "1.00");
            usd.currency = Currency::Usd;
            assert_eq!(
                w.service
                    .create_payment(&w.actor, usd)
                    .await
                    .unwrap()
                    .status,
                PaymentStatus::Approved
            );
            let events = w.service.company_audit(&w.company.id, 50).await.unwrap().0;
            assert!(events.iter().any(|e| e.kind == "pos.credentials_changed"));
        },
    )
    .await;
}

#[tokio::test]
async fn validation_names_the_field_and_writes_nothing() {
    let (store, _guard) = sqlite_store().await;
    let w = world_on(store, "A").await;
    type Change = Box<dyn Fn(&mut CreatePayment)>;
    let cases: Vec<(&str, Change)> = vec![
        ("amount", Box::new(|r| r.amount = tl("0"))),
        (
            "card.number",
            Box::new(|r| r.card.number = "4546711234567895".into()),
        ),
        (
            "card.expiry_year",
            Box::new(|r| r.card.expiry_year = "2020".into()),
        ),
        (
            "card.expiry_month",
            Box::new(|r| r.card.expiry_month = "13".into()),
        ),
        ("card.cvv", Box::new(|r| r.card.cvv = "12".into())),
        ("installments", Box::new(|r| r.installments = 7)),
        ("return_url", Box::new(|r| r.three_d = true)),
        (
            "return_url",
            Box::new(|r| {
                r.three_d = true;
                r.return_url = Some("/relative".into());
            }),
        ),
        ("currency", Box::new(|r| r.pos_id = None)),
    ];
    for (field, change) in cases {
        let mut request = payment("4546711234567895", "10.00");
        request.card.number = APPROVED_CARD.into();
        change(&mut request);
        if field == "currency" {
            request.currency = Currency::Eur;
            assert_eq!(
                w.service
                    .create_payment(&w.actor, request)
                    .await
                    .unwrap_err(),
                ServiceError::NoActivePos
            );
            continue;
        }
        let err = w
            .service
            .create_payment(&w.actor, request)
            .await
            .unwrap_err();
        assert_eq!(err.field(), Some(field), "{err:?}");
        assert_eq!(err.code(), "validation_failed");
        assert!(!err.to_string().contains("4546711234567895"));
    }
    let page = w
        .service
        .list_payments(&w.company.id, PaymentFilter::default())
        .await
        .unwrap();
    assert!(page.items.is_empty());
    assert!(w.ledger().is_empty());
}

#[tokio::test]
async fn no_card_number_or_credential_in_the_database_files() {
    let (store, guard) = sqlite_store().await;
    let w = world_on(store, "A").await;
    let cards = [APPROVED_CARD, "4000000000000515", "5200190006338608"];
    w.pay(cards[0], "10.00").await;
    w.pay(cards[1], "10.00").await;
    let mut request = payment(cards[2], "12.00");
    request.three_d = true;
    request.return_url = Some("https://shop.example/r".into());
    let view = w.service.create_payment(&w.actor, request).await.unwrap();
    let (token, body) = browse_3d(&w, &view, Some("123456")).await;
    w.service.three_d_return(&token, &body).await.unwrap();
    w.end_of_day();
    let paid = w.pay(cards[0], "30.00").await;
    w.end_of_day();
    w.service
        .refund_payment(&w.actor, &w.company.id, &paid.id, tl("5.00"))
        .await
        .unwrap();
    assert_eq!(
        w.ledger()
            .iter()
            .filter(|t| t.status == TxStatus::Success)
            .count(),
        4
    );
    let files = guard.sqlite_files();
    assert!(
        files.iter().any(|f| f.to_string_lossy().ends_with("-wal")),
        "{files:?}"
    );
    let mut bytes = Vec::new();
    for file in &files {
        bytes.extend(std::fs::read(file).unwrap());
    }
    let text = String::from_utf8_lossy(&bytes);
    for card in cards {
        assert!(
            !text.contains(card),
            "card {card} found in the database files"
        );
    }
    assert!(
        text.contains("454671******7894"),
        "the scan reads the right files"
    );
    for secret in [
        &w.merchant.secret_key,
        &w.merchant.sx,
        &w.merchant.sx_list,
        &w.merchant.sx_cancel,
    ] {
        assert!(
            !text.contains(secret.as_str()),
            "a POS credential is stored in plaintext"
        );
    }
}
