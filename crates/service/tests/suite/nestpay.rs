//! The whole NestPay flow, black-box through the service, on SQLite and PostgreSQL, with
//! the NestPay bank simulator's ledger as the judge: non-3D sales, every magic decline,
//! the three 3D models through the bank's page, forged / replayed / foreign callbacks,
//! the mdStatus cards, cancel and refund around the bank's end of day, and every fault
//! card resolved by the janitor. After each test's SQLite run, the database files are
//! scanned for the card numbers and the CVV that were used.

#![allow(clippy::unwrap_used)]

use std::time::Duration;

use crate::helpers::bank::*;
use crate::helpers::nestpay::*;
use crate::helpers::{test_config, tl};
use sanalpos_core::BankCode;
use sanalpos_service::*;
use sanalpos_simulator::nestpay::cards::MD_STATUS_CARDS;
use sanalpos_simulator::nestpay::{TxStatus, TxType};
use sanalpos_store::{Crypto, Operation};

/// A card the simulated bank approves (the NestPay test platform's own card).
const APPROVED: &str = "4546711234567894";

const MODELS: [&str; 3] = ["3d", "3d_pay", "3d_host"];

/// What the scan of each test's files looks for: also the cards that end in each
/// 3D authentication status.
fn secrets() -> Secrets {
    let mut cards = vec![APPROVED];
    cards.extend(MD_STATUS_CARDS.iter().map(|(c, _)| *c));
    Secrets {
        cards,
        cvv_shapes: vec![
            format!("\"{NP_CVV}\""),
            format!(">{NP_CVV}<"),
            format!("cv2={NP_CVV}"),
            format!("Cvv2Val={NP_CVV}"),
        ],
    }
}

#[tokio::test]
async fn non_three_d_sale_is_approved_and_charged_once() {
    on_both_engines(&secrets(), "np_non_three_d_sale", |store| async move {
        let w = np_world_on(store, "3d").await;
        let view = w.pay(APPROVED, "100.25").await;
        assert_eq!(view.status, PaymentStatus::Approved, "{view:?}");
        assert_eq!(view.pos_id, w.pos.id);
        assert_eq!(view.masked_pan, "454671******7894");
        let auth_code = view.auth_code.clone().expect("auth code");
        let provider_ref = view.provider_ref.clone().expect("provider reference");
        assert_eq!(view.authorized_amount, Some(tl("100.25")));
        // The bank has exactly this one approved sale, under our order id.
        let ledger = w.ledger();
        assert_eq!(ledger.len(), 1, "{ledger:?}");
        let sale = &ledger[0];
        assert_eq!(sale.order_id, w.order_id(&view.id).await);
        assert_eq!(sale.kind, TxType::Auth);
        assert_eq!(sale.status, TxStatus::Approved);
        assert_eq!(sale.amount, tl("100.25"));
        assert_eq!(sale.auth_code, auth_code);
        assert_eq!(sale.trans_id, provider_ref);
        assert!(sale.three_d.is_none());
        assert_eq!(
            sale.masked_pan.as_ref().map(|m| m.as_str()),
            Some("454671******7894")
        );
        let detail = w
            .service
            .get_payment(&w.company.id, &view.id)
            .await
            .unwrap();
        let sales = detail
            .attempts
            .iter()
            .filter(|a| a.operation == Operation::Sale)
            .count();
        assert_eq!(sales, 1);
    })
    .await;
}

#[tokio::test]
async fn every_magic_card_is_declined_with_its_code_and_turkish_text() {
    on_both_engines(&secrets(), "np_magic_declines", |store| async move {
        let w = np_world_on(store, "3d").await;
        for (card, code) in DECLINES {
            let view = w.pay(card, "20.00").await;
            assert_eq!(view.status, PaymentStatus::Declined, "{card}: {view:?}");
            assert_eq!(view.bank_code.as_deref(), Some(*code), "{card}");
            let message = view.message.clone().expect("a decline message");
            let expected = BankCode::parse(code).unwrap().message();
            assert_eq!(message.tr, expected.tr, "{card}");
            assert_eq!(message.en, expected.en, "{card}");
            assert!(view.auth_code.is_none(), "{card}");
            let rows = w.rows(&view.id).await;
            assert_eq!(rows.len(), 1, "{card}: {rows:?}");
            assert_eq!(rows[0].status, TxStatus::Declined, "{card}");
            assert_eq!(rows[0].proc_return_code, *code, "{card}");
        }
        let by_code = |code: &str| BankCode::parse(code).unwrap().message().tr;
        assert!(by_code("51").starts_with("Yetersiz bakiye"));
        assert!(by_code("41").starts_with("Kayıp kart"));
        let ledger = w.ledger();
        assert_eq!(ledger.len(), DECLINES.len());
        assert!(
            ledger.iter().all(|t| t.status != TxStatus::Approved),
            "{ledger:?}"
        );
    })
    .await;
}

#[tokio::test]
async fn each_three_d_model_approves_the_right_code_and_declines_a_wrong_one() {
    on_both_engines(&secrets(), "np_three_d_models", |store| async move {
        // One card takes a wrong 3D code under every model: the card velocity limit
        // (which would refuse it from the fourth decline on) is not under test here.
        let config = ServiceConfig {
            abuse: sanalpos_service::AbuseLimits {
                card_declines: 0,
                ..Default::default()
            },
            ..test_config()
        };
        let service = PaymentService::new(store, Crypto::random(), config);
        for model in MODELS {
            let w = np_world_with(service.clone(), model).await;
            // The right code: approved, charged once, with the 3D data.
            let view = w.start_3d(APPROVED, "150.00").await;
            assert!(w.rows(&view.id).await.is_empty(), "{model}: nothing yet");
            let (token, fields) = w
                .browse_3d(&view, &np_card(APPROVED), OnBankPage::Code("123456"))
                .await;
            let back = w.post_back(&token, &fields).await.unwrap();
            assert_eq!(
                back.payment.status,
                PaymentStatus::Approved,
                "{model}: {back:?}"
            );
            assert!(back.redirect_to.contains("status=approved"), "{model}");
            assert!(back.payment.auth_code.is_some(), "{model}");
            let charges = w.charges(&view.id).await;
            assert_eq!(charges.len(), 1, "{model}");
            assert_eq!(charges[0].amount, tl("150.00"));
            assert_eq!(
                back.payment.provider_ref.as_deref(),
                Some(charges[0].trans_id.as_str()),
                "{model}"
            );
            assert_eq!(
                back.payment.auth_code.as_deref(),
                Some(charges[0].auth_code.as_str()),
                "{model}"
            );
            let three_d = charges[0].three_d.as_ref().expect("3D data of the charge");
            assert_eq!(three_d.md_status, "1", "{model}");
            // A wrong code: declined, nothing charged.
            let view = w.start_3d(APPROVED, "151.00").await;
            let (token, fields) = w
                .browse_3d(&view, &np_card(APPROVED), OnBankPage::Code("654321"))
                .await;
            let back = w.post_back(&token, &fields).await.unwrap();
            assert_eq!(
                back.payment.status,
                PaymentStatus::Declined,
                "{model}: {back:?}"
            );
            assert!(back.redirect_to.contains("status=declined"), "{model}");
            assert!(back.payment.message.is_some(), "{model}");
            assert!(
                w.rows(&view.id).await.is_empty(),
                "{model}: nothing charged"
            );
            // Cancel on the bank page: declined, nothing charged.
            let view = w.start_3d(APPROVED, "152.00").await;
            let (token, fields) = w
                .browse_3d(&view, &np_card(APPROVED), OnBankPage::Cancel)
                .await;
            let back = w.post_back(&token, &fields).await.unwrap();
            assert_eq!(
                back.payment.status,
                PaymentStatus::Declined,
                "{model}: {back:?}"
            );
            assert!(
                w.rows(&view.id).await.is_empty(),
                "{model}: nothing charged"
            );
            // In all, one approved charge at this bank.
            let approved = w
                .ledger()
                .into_iter()
                .filter(|t| t.status == TxStatus::Approved)
                .count();
            assert_eq!(approved, 1, "{model}");
        }
    })
    .await;
}

/// The fields with `name` replaced by `value`.
#[tokio::test]
async fn forged_replayed_and_foreign_callbacks_change_nothing() {
    on_both_engines(&secrets(), "np_forged_callbacks", |store| async move {
        let w = np_world_on(store, "3d").await;
        let a = w.start_3d(APPROVED, "60.00").await;
        let b = w.start_3d(APPROVED, "60.00").await;
        let (token_a, fields_a) = w
            .browse_3d(&a, &np_card(APPROVED), OnBankPage::Code("123456"))
            .await;
        let (token_b, fields_b) = w
            .browse_3d(&b, &np_card(APPROVED), OnBankPage::Code("123456"))
            .await;
        assert_eq!(field(&fields_a, "mdStatus"), "1");
        assert!(w.ledger().is_empty(), "authentication charges nothing");

        // Forged: a valid, authenticated callback with its HASH altered.
        let hash = field(&fields_a, "HASH");
        let mut altered: Vec<char> = hash.chars().collect();
        altered[10] = if altered[10] == 'A' { 'B' } else { 'A' };
        let forged = with(&fields_a, "HASH", &altered.into_iter().collect::<String>());
        let back = w.post_back(&token_a, &forged).await.unwrap();
        assert_eq!(back.payment.status, PaymentStatus::Pending3ds, "{back:?}");
        // Forged: the amount raised, the hash kept.
        let forged = with(&fields_a, "amount", "6000.00");
        let back = w.post_back(&token_a, &forged).await.unwrap();
        assert_eq!(back.payment.status, PaymentStatus::Pending3ds, "{back:?}");
        // Forged: no hash at all.
        let forged: Vec<_> = fields_a
            .iter()
            .filter(|(k, _)| k != "HASH")
            .cloned()
            .collect();
        let back = w.post_back(&token_a, &forged).await.unwrap();
        assert_eq!(back.payment.status, PaymentStatus::Pending3ds, "{back:?}");
        assert!(w.ledger().is_empty(), "a forged callback sent an Auth");

        // Another order's valid callback, posted to B's return.
        let back = w.post_back(&token_b, &fields_a).await.unwrap();
        assert_eq!(back.payment.id, b.id);
        assert_eq!(back.payment.status, PaymentStatus::Pending3ds, "{back:?}");
        assert!(w.ledger().is_empty(), "a foreign callback sent an Auth");
        assert_eq!(w.status(&a.id).await, PaymentStatus::Pending3ds);

        // The genuine callbacks still work: nothing above consumed them.
        let back = w.post_back(&token_a, &fields_a).await.unwrap();
        assert_eq!(back.payment.status, PaymentStatus::Approved, "{back:?}");
        let back = w.post_back(&token_b, &fields_b).await.unwrap();
        assert_eq!(back.payment.status, PaymentStatus::Approved, "{back:?}");
        let ledger = w.ledger();
        assert_eq!(ledger.len(), 2, "{ledger:?}");
        assert!(w.charged(&a.id).await && w.charged(&b.id).await);

        // Replayed after success, to its own and to the other payment: refused, nothing
        // sent, nothing changed.
        for (token, fields) in [
            (&token_a, &fields_a),
            (&token_b, &fields_a),
            (&token_a, &fields_b),
        ] {
            let err = w.post_back(token, fields).await.unwrap_err();
            assert_eq!(err.code(), "three_d_finished", "{err:?}");
        }
        assert_eq!(w.ledger().len(), 2);
        assert_eq!(w.status(&a.id).await, PaymentStatus::Approved);
        assert_eq!(w.status(&b.id).await, PaymentStatus::Approved);
    })
    .await;
}

#[tokio::test]
async fn md_status_cards_are_declined_without_a_charge() {
    on_both_engines(&secrets(), "np_md_status_cards", |store| async move {
        let service = PaymentService::new(store, Crypto::random(), test_config());
        for model in MODELS {
            let w = np_world_with(service.clone(), model).await;
            for (card, md_status) in MD_STATUS_CARDS {
                let view = w.start_3d(card, "45.00").await;
                let (token, fields) = w
                    .browse_3d(&view, &np_card(card), OnBankPage::Code("123456"))
                    .await;
                assert_eq!(field(&fields, "mdStatus"), *md_status, "{model} {card}");
                let back = w.post_back(&token, &fields).await.unwrap();
                let payment = &back.payment;
                assert_eq!(
                    payment.status,
                    PaymentStatus::Declined,
                    "{model} mdStatus {md_status}: {payment:?}"
                );
                let message = payment.message.clone().expect("a message");
                let half_secure = matches!(*md_status, "2" | "4");
                assert_eq!(
                    message.en.contains("half secure"),
                    half_secure,
                    "{model} mdStatus {md_status}: {message:?}"
                );
                assert!(
                    w.rows(&view.id).await.is_empty(),
                    "{model} mdStatus {md_status}: the bank has a row"
                );
            }
            assert!(w.ledger().is_empty(), "{model}: {:?}", w.ledger());
        }
    })
    .await;
}

#[tokio::test]
async fn cancel_and_refund_follow_the_bank_day() {
    on_both_engines(&secrets(), "np_cancel_and_refund", |store| async move {
        let w = np_world_on(store, "3d").await;
        let cancelled = w.pay(APPROVED, "80.00").await;
        let refunded = w.pay(APPROVED, "100.00").await;
        let late = w.pay(APPROVED, "50.00").await;
        let reversed = w.pay(APPROVED, "40.00").await;

        // The same day: a cancel voids the sale.
        let view = w
            .service
            .cancel_payment(&w.actor, &w.company.id, &cancelled.id)
            .await
            .unwrap();
        assert_eq!(view.status, PaymentStatus::Cancelled);
        assert_eq!(view.refunded_amount, tl("80.00"));
        let rows = w.rows(&cancelled.id).await;
        let sale = rows.iter().find(|t| t.kind == TxType::Auth).unwrap();
        assert!(sale.voided_at.is_some(), "{rows:?}");
        let void = rows.iter().find(|t| t.kind == TxType::Void).unwrap();
        assert_eq!(void.status, TxStatus::Approved);
        assert_eq!(void.voids.as_deref(), Some(sale.trans_id.as_str()));

        // The same day: the bank refuses a partial refund (CORE-2508), so it is kept
        // as scheduled, with the reason, and already counts against the sale.
        let answer = w
            .service
            .request_refund(&w.actor, &w.company.id, &refunded.id, tl("30.00"))
            .await
            .unwrap();
        assert_eq!(answer.refund.status, RefundStatus::Scheduled, "{answer:?}");
        let reason = answer.refund.message.clone().unwrap();
        assert_eq!(reason.tr, "Banka günü kapanınca iade edilecek");
        assert_eq!(reason.en, "Will be refunded when the bank's day closes");
        assert_eq!(answer.payment.status, PaymentStatus::Approved);
        assert_eq!(answer.payment.refunded_amount, tl("0.00"));
        let err = w
            .service
            .refund_payment(&w.actor, &w.company.id, &refunded.id, tl("70.01"))
            .await
            .unwrap_err();
        assert_eq!(err.code(), "refund_exceeds_captured", "{err:?}");
        let rows = w.rows(&refunded.id).await;
        assert!(
            rows.iter()
                .filter(|t| t.kind == TxType::Credit)
                .all(|t| t.status != TxStatus::Approved && t.error_code == "CORE-2508"),
            "{rows:?}"
        );

        // After the bank's end of day the janitor's pass carries it out, with no
        // further call from the client.
        w.end_of_day();
        let report = w.service.run_janitor_once().await.unwrap();
        assert_eq!(report.refunds_carried_out, 1, "{report:?}");
        let detail = w
            .service
            .get_payment(&w.company.id, &refunded.id)
            .await
            .unwrap();
        assert_eq!(detail.payment.status, PaymentStatus::PartiallyRefunded);
        assert_eq!(detail.payment.refunded_amount, tl("30.00"));
        assert_eq!(detail.refunds.len(), 1, "{:?}", detail.refunds);
        assert_eq!(detail.refunds[0].status, RefundStatus::Approved);
        let credits: Vec<_> = w
            .rows(&refunded.id)
            .await
            .into_iter()
            .filter(|t| t.kind == TxType::Credit && t.status == TxStatus::Approved)
            .collect();
        assert_eq!(credits.len(), 1, "{credits:?}");
        assert_eq!(credits[0].amount, tl("30.00"));
        // More than is left is refused before the bank is called; the rest is refunded.
        let before = w.ledger().len();
        let err = w
            .service
            .refund_payment(&w.actor, &w.company.id, &refunded.id, tl("70.01"))
            .await
            .unwrap_err();
        assert_eq!(err.code(), "refund_exceeds_captured", "{err:?}");
        assert_eq!(w.ledger().len(), before);
        let view = w
            .service
            .refund_payment(&w.actor, &w.company.id, &refunded.id, tl("70.00"))
            .await
            .unwrap();
        assert_eq!(view.status, PaymentStatus::Refunded);
        assert_eq!(view.refunded_amount, tl("100.00"));
        let credited: Vec<_> = w
            .rows(&refunded.id)
            .await
            .into_iter()
            .filter(|t| t.kind == TxType::Credit && t.status == TxStatus::Approved)
            .map(|t| t.amount)
            .collect();
        assert_eq!(credited, vec![tl("30.00"), tl("70.00")]);

        // A cancel after the end of day: the bank finds nothing to void (CORE-2008).
        let err = w
            .service
            .cancel_payment(&w.actor, &w.company.id, &late.id)
            .await
            .unwrap_err();
        assert_eq!(err.code(), "cancel_not_possible", "{err:?}");
        assert_eq!(w.status(&late.id).await, PaymentStatus::Approved);
        let rows = w.rows(&late.id).await;
        assert!(
            rows.iter().all(|t| t.voided_at.is_none()
                && !(t.kind == TxType::Void && t.status == TxStatus::Approved)),
            "{rows:?}"
        );
        assert!(w.charged(&late.id).await);

        // Reverse takes whichever applies: after the day's close, a refund.
        let view = w
            .service
            .reverse_payment(&w.actor, &w.company.id, &reversed.id)
            .await
            .unwrap();
        assert_eq!(view.status, PaymentStatus::Refunded, "{view:?}");
        let credits: Vec<_> = w
            .rows(&reversed.id)
            .await
            .into_iter()
            .filter(|t| t.kind == TxType::Credit && t.status == TxStatus::Approved)
            .collect();
        assert_eq!(credits.len(), 1, "{credits:?}");
        assert_eq!(credits[0].amount, tl("40.00"));
    })
    .await;
}

#[tokio::test]
async fn every_fault_card_ends_in_the_state_the_bank_says() {
    on_both_engines(&secrets(), "np_fault_cards", |store| async move {
        let w = np_world_on(store, "3d").await;
        let mut tasks = Vec::new();
        for (card, _, _) in FAULTS {
            let service = w.service.clone();
            let actor = w.actor.clone();
            tasks.push(tokio::spawn(async move {
                service
                    .create_payment(&actor, np_payment(card, "75.00", false))
                    .await
                    .unwrap()
            }));
        }
        let mut views = Vec::new();
        for t in tasks {
            views.push(t.await.unwrap());
        }
        for (view, (card, _, _)) in views.iter().zip(FAULTS) {
            assert_eq!(view.status, PaymentStatus::Unknown, "{card}: {view:?}");
        }
        // Too early: calls may still be running; nothing is touched.
        let early = w.service.run_janitor_once().await.unwrap();
        assert_eq!(early.resolved, 0, "{early:?}");
        // The slow answer is over, and the grace has passed: one pass settles all.
        tokio::time::sleep(Duration::from_millis(3200)).await;
        let report = w.service.run_janitor_once().await.unwrap();
        assert_eq!(report.resolved as usize, FAULTS.len(), "{report:?}");
        for (view, (card, charged, status)) in views.iter().zip(FAULTS) {
            let detail = w
                .service
                .get_payment(&w.company.id, &view.id)
                .await
                .unwrap();
            assert_eq!(w.charged(&view.id).await, *charged, "{card}: the ledger");
            assert_eq!(detail.payment.status, *status, "{card}: {detail:?}");
            let sales = detail
                .attempts
                .iter()
                .filter(|a| a.operation == Operation::Sale)
                .count();
            assert_eq!(sales, 1, "{card}: the sale was sent once");
            assert!(detail
                .attempts
                .iter()
                .any(|a| a.operation == Operation::Inquiry));
            if *charged {
                let charge = &w.charges(&view.id).await[0];
                assert_eq!(
                    detail.payment.auth_code.as_deref(),
                    Some(charge.auth_code.as_str()),
                    "{card}"
                );
                assert_eq!(
                    detail.payment.provider_ref.as_deref(),
                    Some(charge.trans_id.as_str()),
                    "{card}"
                );
            }
        }
        // Nothing left; no charge twice.
        let again = w.service.run_janitor_once().await.unwrap();
        assert_eq!(again, JanitorReport::default());
        let approved_sales = w
            .ledger()
            .iter()
            .filter(|t| t.kind == TxType::Auth && t.status == TxStatus::Approved)
            .count();
        assert_eq!(
            approved_sales,
            FAULTS.iter().filter(|(_, charged, _)| *charged).count()
        );
        // The 503-once card approves on its next (new) payment.
        let view = w.pay("4000000000009078", "75.00").await;
        assert_eq!(view.status, PaymentStatus::Approved, "{view:?}");
        assert!(w.charged(&view.id).await);
    })
    .await;
}

#[tokio::test]
async fn unverified_callbacks_of_paying_models_are_settled_by_the_bank_record() {
    on_both_engines(&secrets(), "np_paying_models_forged", |store| async move {
        let mut config = test_config();
        config.three_d_ttl = Duration::from_millis(300);
        let service = PaymentService::new(store, Crypto::random(), config);
        for model in ["3d_pay", "3d_host"] {
            let w = np_world_with(service.clone(), model).await;
            // The bank authenticated and charged; the callback's HASH is altered.
            let paid = w.start_3d(APPROVED, "70.00").await;
            let (token, fields) = w
                .browse_3d(&paid, &np_card(APPROVED), OnBankPage::Code("123456"))
                .await;
            let hash = field(&fields, "HASH");
            let altered = format!("{}{}", &hash[..hash.len() - 3], "AA=");
            assert_ne!(altered, hash);
            let back = w
                .post_back(&token, &with(&fields, "HASH", &altered))
                .await
                .unwrap();
            assert_eq!(
                back.payment.status,
                PaymentStatus::Pending3ds,
                "{model}: {back:?}"
            );
            assert!(w.charged(&paid.id).await, "{model}: the bank charged");
            // The bank refused the code; the callback is rewritten to say it paid.
            let refused = w.start_3d(APPROVED, "71.00").await;
            let (token, fields) = w
                .browse_3d(&refused, &np_card(APPROVED), OnBankPage::Code("000000"))
                .await;
            assert_eq!(field(&fields, "mdStatus"), "0");
            let mut forged = with(&fields, "mdStatus", "1");
            for (name, value) in [
                ("ProcReturnCode", "00"),
                ("Response", "Approved"),
                ("AuthCode", "123456"),
                ("TransId", "26001AbCdE12345"),
            ] {
                forged.retain(|(k, _)| k != name);
                forged.push((name.into(), value.into()));
            }
            let back = w.post_back(&token, &forged).await.unwrap();
            assert_eq!(
                back.payment.status,
                PaymentStatus::Pending3ds,
                "{model}: {back:?}"
            );
            assert!(w.rows(&refused.id).await.is_empty(), "{model}");
            // When the 3D window closes, the janitor asks the bank.
            assert!(w.service.config().clock.advance(Duration::from_millis(400)));
            let report = w.service.run_janitor_once().await.unwrap();
            assert_eq!(
                (report.resolved, report.expired),
                (1, 1),
                "{model}: {report:?}"
            );
            let detail = w
                .service
                .get_payment(&w.company.id, &paid.id)
                .await
                .unwrap();
            assert_eq!(detail.payment.status, PaymentStatus::Approved, "{model}");
            let charge = &w.charges(&paid.id).await[0];
            assert_eq!(
                detail.payment.provider_ref.as_deref(),
                Some(charge.trans_id.as_str()),
                "{model}"
            );
            assert_eq!(
                w.status(&refused.id).await,
                PaymentStatus::Expired,
                "{model}"
            );
            assert!(!w.charged(&refused.id).await, "{model}");
        }
    })
    .await;
}

#[tokio::test]
async fn a_decline_after_three_d_carries_the_bank_code_in_every_model() {
    on_both_engines(&secrets(), "np_three_d_declines", |store| async move {
        let service = PaymentService::new(store, Crypto::random(), test_config());
        for model in MODELS {
            let w = np_world_with(service.clone(), model).await;
            for (card, code) in [("4000000000000515", "51"), ("4000000000000416", "41")] {
                let view = w.start_3d(card, "90.00").await;
                let (token, fields) = w
                    .browse_3d(&view, &np_card(card), OnBankPage::Code("123456"))
                    .await;
                assert_eq!(field(&fields, "mdStatus"), "1", "{model} {card}");
                let back = w.post_back(&token, &fields).await.unwrap();
                let payment = &back.payment;
                assert_eq!(
                    payment.status,
                    PaymentStatus::Declined,
                    "{model} {card}: {payment:?}"
                );
                assert_eq!(payment.bank_code.as_deref(), Some(code), "{model} {card}");
                let message = payment.message.clone().expect("a message");
                assert_eq!(
                    message.tr,
                    BankCode::parse(code).unwrap().message().tr,
                    "{model} {card}"
                );
                let rows = w.rows(&view.id).await;
                assert_eq!(rows.len(), 1, "{model} {card}: {rows:?}");
                assert_eq!(rows[0].status, TxStatus::Declined, "{model} {card}");
            }
        }
    })
    .await;
}

#[tokio::test]
async fn a_fault_on_the_three_d_charge_ends_in_the_state_the_bank_says() {
    on_both_engines(&secrets(), "np_three_d_faults", |store| async move {
        let mut config = test_config();
        config.three_d_ttl = Duration::from_millis(300);
        let service = PaymentService::new(store, Crypto::random(), config);
        let w = np_world_with(service, "3d").await;
        let mut started = Vec::new();
        for (card, _, _) in FAULTS {
            let view = w.start_3d(card, "55.00").await;
            let (token, fields) = w
                .browse_3d(&view, &np_card(card), OnBankPage::Code("123456"))
                .await;
            started.push((view, token, fields));
        }
        let mut tasks = Vec::new();
        for (_, token, fields) in &started {
            let body = serde_urlencoded::to_string(fields).unwrap().into_bytes();
            let (service, token) = (w.service.clone(), token.clone());
            tasks.push(tokio::spawn(async move {
                service.three_d_return(&token, &body).await.unwrap()
            }));
        }
        for (task, (card, _, _)) in tasks.into_iter().zip(FAULTS) {
            let back = task.await.unwrap();
            // The Auth's answer was lost or unreadable: not proof of anything.
            assert_eq!(
                back.payment.status,
                PaymentStatus::Pending3ds,
                "{card}: {back:?}"
            );
        }
        // The browser posts the same callback again (a reload of the return page). The
        // 503-once card is charged by this second Auth, the first one having charged
        // nothing.
        let charged_in_the_end = |card: &str, charged: bool| charged || card == "4000000000009078";
        tokio::time::sleep(Duration::from_millis(3200)).await;
        for ((view, token, fields), (card, charged, _)) in started.iter().zip(FAULTS) {
            let charged = &charged_in_the_end(card, *charged);
            let status = match w.post_back(token, fields).await {
                Ok(back) => back.payment.status,
                Err(err) => panic!("{card}: {err:?}"),
            };
            if *charged {
                assert!(
                    matches!(status, PaymentStatus::Pending3ds | PaymentStatus::Approved),
                    "{card}: the bank charged it, yet {status:?}"
                );
            } else {
                assert_eq!(status, PaymentStatus::Pending3ds, "{card}");
            }
            assert!(w.charges(&view.id).await.len() <= 1, "{card}");
        }
        // When the 3D window closes, the janitor settles what is left by asking the bank.
        assert!(w.service.config().clock.advance(Duration::from_millis(400)));
        w.service.run_janitor_once().await.unwrap();
        for ((view, _, _), (card, charged, _)) in started.iter().zip(FAULTS) {
            let charged = &charged_in_the_end(card, *charged);
            let status = w.status(&view.id).await;
            assert_eq!(w.charged(&view.id).await, *charged, "{card}: the ledger");
            if *charged {
                assert_eq!(status, PaymentStatus::Approved, "{card}");
            } else {
                assert_eq!(status, PaymentStatus::Expired, "{card}");
            }
        }
    })
    .await;
}

/// NestPay has no transaction list to pull: the end-of-day job leaves its POS to the
/// statement import and counts it apart, rather than failing on it every day.
#[tokio::test]
async fn end_of_day_leaves_a_statement_only_pos_alone() {
    on_both_engines(&secrets(), "np_end_of_day", |store| async move {
        let w = np_world_on(store, "3d").await;
        w.pay(APPROVED, "42.00").await;
        let day = istanbul_today();
        let report = w.service.run_end_of_day_once(day).await.unwrap();
        assert_eq!(report.errors, 0, "{report:?}");
        assert_eq!(report.statement_only, 1, "{report:?}");
        assert!(report.runs.is_empty(), "{report:?}");
        assert!(w
            .service
            .list_reconciliations(&w.company.id, 10)
            .await
            .unwrap()
            .is_empty());
    })
    .await;
}
