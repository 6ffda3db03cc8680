//! The whole Garanti BBVA flow, black-box through the service, on SQLite and
//! PostgreSQL, with the Garanti simulator's ledger as the judge: non-3D sales, every
//! magic decline with its Turkish text, both 3D models through the bank's page, forged /
//! replayed / foreign callbacks, cancel and partial refund around the bank's end of day,
//! and every fault card resolved by the janitor. After each test's SQLite run, the
//! database files are scanned for the card numbers and the CVV that were used.

#![allow(clippy::unwrap_used)]

use std::time::Duration;

use crate::helpers::bank::*;
use crate::helpers::garanti::*;
use crate::helpers::{test_config, tl};
use sanalpos_core::BankCode;
use sanalpos_service::*;
use sanalpos_simulator::garanti::TxType;
use sanalpos_store::{Crypto, Operation};

/// A card the simulated bank approves.
const APPROVED: &str = "4282209027132016";

/// What the scan of each test's files looks for.
fn secrets() -> Secrets {
    Secrets {
        cards: vec![APPROVED],
        cvv_shapes: vec![
            format!("\"{GT_CVV}\""),
            format!(">{GT_CVV}<"),
            format!("cardcvv2={GT_CVV}"),
        ],
    }
}

#[tokio::test]
async fn non_three_d_sale_is_approved_and_charged_once() {
    on_both_engines(&secrets(), "gt_non_three_d_sale", |store| async move {
        let w = gt_world_on(store, "3d").await;
        let view = w.pay(APPROVED, "100.25").await;
        assert_eq!(view.status, PaymentStatus::Approved, "{view:?}");
        assert_eq!(view.pos_id, w.pos.id);
        assert_eq!(view.masked_pan, "428220******2016");
        let ledger = w.ledger();
        assert_eq!(ledger.len(), 1, "{ledger:?}");
        let sale = &ledger[0];
        assert_eq!(sale.order_id, w.order_id(&view.id).await);
        assert_eq!(sale.kind, TxType::Sales);
        assert!(sale.approved);
        assert_eq!(sale.amount, tl("100.25"));
        assert_eq!(view.auth_code.as_deref(), Some(sale.auth_code.as_str()));
        assert_eq!(view.provider_ref.as_deref(), Some(sale.retref.as_str()));
        assert!(!sale.three_d);
    })
    .await;
}

#[tokio::test]
async fn every_magic_card_is_declined_with_its_code_and_turkish_text() {
    on_both_engines(&secrets(), "gt_magic_declines", |store| async move {
        let w = gt_world_on(store, "3d").await;
        for (card, code) in DECLINES {
            let view = w.pay(card, "20.00").await;
            assert_eq!(view.status, PaymentStatus::Declined, "{card}: {view:?}");
            assert_eq!(view.bank_code.as_deref(), Some(*code), "{card}");
            let message = view.message.clone().expect("a decline message");
            let expected = BankCode::parse(code).unwrap().message();
            assert_eq!(message.tr, expected.tr, "{card}");
            assert_eq!(message.en, expected.en, "{card}");
            let rows = w.rows(&view.id).await;
            assert_eq!(rows.len(), 1, "{card}: {rows:?}");
            assert!(!rows[0].approved, "{card}");
            assert_eq!(rows[0].code, *code, "{card}");
        }
        assert!(w.ledger().iter().all(|t| !t.approved));
    })
    .await;
}

#[tokio::test]
async fn both_three_d_models_approve_the_right_code_and_decline_a_wrong_one() {
    on_both_engines(&secrets(), "gt_three_d_models", |store| async move {
        let config = ServiceConfig {
            abuse: sanalpos_service::AbuseLimits {
                card_declines: 0,
                ..Default::default()
            },
            ..test_config()
        };
        let service = PaymentService::new(store, Crypto::random(), config);
        for model in ["3d", "3d_pay"] {
            let w = gt_world_with(service.clone(), model).await;
            let view = w.start_3d(APPROVED, "150.00").await;
            assert!(w.rows(&view.id).await.is_empty(), "{model}: nothing yet");
            let (token, fields) = w.browse_3d(&view, Some("123456")).await;
            let back = w.post_back(&token, &fields).await.unwrap();
            assert_eq!(
                back.payment.status,
                PaymentStatus::Approved,
                "{model}: {back:?}"
            );
            let charges = w.charges(&view.id).await;
            assert_eq!(charges.len(), 1, "{model}");
            assert_eq!(charges[0].amount, tl("150.00"));
            assert!(charges[0].three_d);
            assert_eq!(
                back.payment.provider_ref.as_deref(),
                Some(charges[0].retref.as_str())
            );
            // A wrong code: declined, nothing charged.
            let view = w.start_3d(APPROVED, "151.00").await;
            let (token, fields) = w.browse_3d(&view, Some("654321")).await;
            let back = w.post_back(&token, &fields).await.unwrap();
            assert_eq!(
                back.payment.status,
                PaymentStatus::Declined,
                "{model}: {back:?}"
            );
            assert!(back.payment.message.is_some());
            assert!(w.rows(&view.id).await.is_empty(), "{model}");
            // Cancel on the bank page.
            let view = w.start_3d(APPROVED, "152.00").await;
            let (token, fields) = w.browse_3d(&view, None).await;
            let back = w.post_back(&token, &fields).await.unwrap();
            assert_eq!(
                back.payment.status,
                PaymentStatus::Declined,
                "{model}: {back:?}"
            );
            // A decline by the issuer after 3D carries its code.
            let view = w.start_3d("4000000000000515", "90.00").await;
            let (token, fields) = w.browse_3d(&view, Some("123456")).await;
            assert_eq!(field(&fields, "mdstatus"), "1");
            let back = w.post_back(&token, &fields).await.unwrap();
            assert_eq!(
                back.payment.status,
                PaymentStatus::Declined,
                "{model}: {back:?}"
            );
            assert_eq!(back.payment.bank_code.as_deref(), Some("51"), "{model}");
            let approved = w.ledger().into_iter().filter(|t| t.approved).count();
            assert_eq!(approved, 1, "{model}");
        }
    })
    .await;
}

#[tokio::test]
async fn forged_replayed_and_foreign_callbacks_change_nothing() {
    on_both_engines(&secrets(), "gt_forged_callbacks", |store| async move {
        let w = gt_world_on(store, "3d").await;
        let a = w.start_3d(APPROVED, "60.00").await;
        let b = w.start_3d(APPROVED, "60.00").await;
        let (token_a, fields_a) = w.browse_3d(&a, Some("123456")).await;
        let (token_b, fields_b) = w.browse_3d(&b, Some("123456")).await;
        assert_eq!(field(&fields_a, "mdstatus"), "1");
        assert!(w.ledger().is_empty(), "authentication charges nothing");

        // Forged: the hash altered; a signed field changed; the hash left out; the list
        // of signed fields emptied.
        let hash = field(&fields_a, "hash");
        let altered = format!(
            "{}{}",
            &hash[..hash.len() - 2],
            if hash.ends_with("AA") { "BB" } else { "AA" }
        );
        for forged in [
            with(&fields_a, "hash", &altered),
            with(&fields_a, "md", "Zm9yZ2Vk"),
            fields_a
                .iter()
                .filter(|(k, _)| k != "hash")
                .cloned()
                .collect(),
            with(&with(&fields_a, "hashparams", ""), "hash", ""),
        ] {
            let back = w.post_back(&token_a, &forged).await.unwrap();
            assert_eq!(back.payment.status, PaymentStatus::Pending3ds, "{back:?}");
        }
        assert!(w.ledger().is_empty(), "a forged callback sent a provision");

        // Another order's valid callback, posted to B's return.
        let back = w.post_back(&token_b, &fields_a).await.unwrap();
        assert_eq!(back.payment.id, b.id);
        assert_eq!(back.payment.status, PaymentStatus::Pending3ds, "{back:?}");
        assert!(w.ledger().is_empty(), "a foreign callback sent a provision");

        // The genuine callbacks still work.
        let back = w.post_back(&token_a, &fields_a).await.unwrap();
        assert_eq!(back.payment.status, PaymentStatus::Approved, "{back:?}");
        let back = w.post_back(&token_b, &fields_b).await.unwrap();
        assert_eq!(back.payment.status, PaymentStatus::Approved, "{back:?}");
        assert_eq!(w.ledger().len(), 2);

        // Replayed: refused, nothing sent, nothing changed.
        for (token, fields) in [(&token_a, &fields_a), (&token_b, &fields_a)] {
            let err = w.post_back(token, fields).await.unwrap_err();
            assert_eq!(err.code(), "three_d_finished", "{err:?}");
        }
        assert_eq!(w.ledger().len(), 2);
    })
    .await;
}

#[tokio::test]
async fn cancel_and_partial_refund_follow_the_bank_day() {
    on_both_engines(&secrets(), "gt_cancel_and_refund", |store| async move {
        let w = gt_world_on(store, "3d").await;
        let cancelled = w.pay(APPROVED, "80.00").await;
        let refunded = w.pay(APPROVED, "100.00").await;
        let late = w.pay(APPROVED, "50.00").await;

        // The same day: a cancel voids the sale (signed by PROVRFN).
        let view = w
            .service
            .cancel_payment(&w.actor, &w.company.id, &cancelled.id)
            .await
            .unwrap();
        assert_eq!(view.status, PaymentStatus::Cancelled, "{view:?}");
        let rows = w.rows(&cancelled.id).await;
        let sale = rows.iter().find(|t| t.kind == TxType::Sales).unwrap();
        assert!(sale.voided_at.is_some(), "{rows:?}");
        let void = rows.iter().find(|t| t.kind == TxType::Void).unwrap();
        assert_eq!(void.original_retref.as_deref(), Some(sale.retref.as_str()));

        // The same day: the bank refuses the refund (0208), so it is kept as scheduled.
        let answer = w
            .service
            .request_refund(&w.actor, &w.company.id, &refunded.id, tl("30.00"))
            .await
            .unwrap();
        assert_eq!(answer.refund.status, RefundStatus::Scheduled, "{answer:?}");
        assert!(w
            .rows(&refunded.id)
            .await
            .iter()
            .all(|t| t.kind != TxType::Refund));

        // After the bank's end of day the janitor carries it out: a partial refund.
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
        let refunds: Vec<_> = w
            .rows(&refunded.id)
            .await
            .into_iter()
            .filter(|t| t.kind == TxType::Refund && t.approved)
            .map(|t| t.amount)
            .collect();
        assert_eq!(refunds, vec![tl("30.00")]);
        let view = w
            .service
            .refund_payment(&w.actor, &w.company.id, &refunded.id, tl("70.00"))
            .await
            .unwrap();
        assert_eq!(view.status, PaymentStatus::Refunded);

        // A cancel after the end of day: refused by the bank, nothing changed.
        let err = w
            .service
            .cancel_payment(&w.actor, &w.company.id, &late.id)
            .await
            .unwrap_err();
        assert_eq!(err.code(), "cancel_not_possible", "{err:?}");
        assert_eq!(w.status(&late.id).await, PaymentStatus::Approved);
        assert!(w.charged(&late.id).await);
    })
    .await;
}

#[tokio::test]
async fn every_fault_card_ends_in_the_state_the_bank_says() {
    on_both_engines(&secrets(), "gt_fault_cards", |store| async move {
        let w = gt_world_on(store, "3d").await;
        let mut tasks = Vec::new();
        for (card, _, _) in FAULTS {
            let service = w.service.clone();
            let actor = w.actor.clone();
            tasks.push(tokio::spawn(async move {
                service
                    .create_payment(&actor, gt_payment(card, "75.00", false))
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
            if *charged {
                let charge = &w.charges(&view.id).await[0];
                assert_eq!(
                    detail.payment.provider_ref.as_deref(),
                    Some(charge.retref.as_str()),
                    "{card}"
                );
            }
        }
        let again = w.service.run_janitor_once().await.unwrap();
        assert_eq!(again, JanitorReport::default());
    })
    .await;
}

#[tokio::test]
async fn reconciliation_pulls_the_order_list() {
    on_both_engines(&secrets(), "gt_reconciliation", |store| async move {
        let w = gt_world_on(store, "3d").await;
        let kept = w.pay(APPROVED, "120.00").await;
        let voided = w.pay(APPROVED, "30.00").await;
        w.service
            .cancel_payment(&w.actor, &w.company.id, &voided.id)
            .await
            .unwrap();
        let declined = w.pay("4000000000000051", "10.00").await;
        assert_eq!(declined.status, PaymentStatus::Declined);
        // A sale keyed in on the bank's panel: in the bank only.
        let panel = reqwest::Client::new()
            .post(format!(
                "{}/_sim/merchants/{}/panel-sales",
                w.sim.base_url(),
                w.merchant.terminal_id
            ))
            .header("Content-Type", "application/json")
            .body(r#"{"amount": "33.00", "card": "4282209027132016"}"#)
            .send()
            .await
            .unwrap();
        assert_eq!(panel.status(), 201);
        let day = istanbul_today().to_string();
        let run = w
            .service
            .run_reconciliation(&w.actor, &w.company.id, &w.pos.id, &day, &day)
            .await
            .unwrap();
        assert!(run.rejected_rows.is_empty(), "{run:?}");
        assert_eq!(run.summary.provider_only, 1, "{run:?}");
        assert_eq!(run.summary.system_only, 0, "{run:?}");
        assert_eq!(run.summary.amount_mismatch, 0, "{run:?}");
        assert_eq!(run.summary.status_mismatch, 0, "{run:?}");
        // The kept sale, the voided one and the declined one: each side says the same.
        assert_eq!(run.summary.matched, 3, "{:?}", run.summary);
        assert_eq!(run.open_exceptions, 1, "{run:?}");
        assert_eq!(w.status(&kept.id).await, PaymentStatus::Approved);
    })
    .await;
}

#[tokio::test]
async fn unverified_three_d_pay_callbacks_are_settled_by_the_bank_record() {
    on_both_engines(&secrets(), "gt_three_d_pay_forged", |store| async move {
        let mut config = test_config();
        config.three_d_ttl = Duration::from_millis(300);
        let service = PaymentService::new(store, Crypto::random(), config);
        let w = gt_world_with(service, "3d_pay").await;
        // The bank authenticated and charged; the callback's hash is altered on the way:
        // the bank's record (orderinq) says what happened.
        let paid = w.start_3d(APPROVED, "70.00").await;
        let (token, fields) = w.browse_3d(&paid, Some("123456")).await;
        let back = w
            .post_back(&token, &with(&fields, "hash", &"0".repeat(128)))
            .await
            .unwrap();
        assert_eq!(back.payment.status, PaymentStatus::Approved, "{back:?}");
        let charge = &w.charges(&paid.id).await[0];
        assert_eq!(
            back.payment.provider_ref.as_deref(),
            Some(charge.retref.as_str())
        );
        // The bank refused the code; the callback is rewritten to say it paid.
        let refused = w.start_3d(APPROVED, "71.00").await;
        let (token, fields) = w.browse_3d(&refused, Some("000000")).await;
        assert_eq!(field(&fields, "mdstatus"), "0");
        let mut forged = with(&fields, "mdstatus", "1");
        for (name, value) in [
            ("procreturncode", "00"),
            ("response", "Approved"),
            ("authcode", "123456"),
            ("hostrefnum", "999999999999"),
        ] {
            forged = with(&forged, name, value);
        }
        let back = w.post_back(&token, &forged).await.unwrap();
        assert_eq!(back.payment.status, PaymentStatus::Pending3ds, "{back:?}");
        assert!(w.rows(&refused.id).await.is_empty());
        // When the 3D window closes, the janitor asks the bank: nothing there, expired.
        assert!(w.service.config().clock.advance(Duration::from_millis(400)));
        w.service.run_janitor_once().await.unwrap();
        assert_eq!(w.status(&refused.id).await, PaymentStatus::Expired);
        assert_eq!(w.status(&paid.id).await, PaymentStatus::Approved);
    })
    .await;
}

#[tokio::test]
async fn a_fault_on_the_three_d_provision_ends_in_the_state_the_bank_says() {
    on_both_engines(&secrets(), "gt_three_d_faults", |store| async move {
        let mut config = test_config();
        config.three_d_ttl = Duration::from_millis(300);
        let service = PaymentService::new(store, Crypto::random(), config);
        let w = gt_world_with(service, "3d").await;
        let mut started = Vec::new();
        for (card, _, _) in FAULTS {
            let view = w.start_3d(card, "55.00").await;
            let (token, fields) = w.browse_3d(&view, Some("123456")).await;
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
            assert_eq!(
                back.payment.status,
                PaymentStatus::Pending3ds,
                "{card}: {back:?}"
            );
        }
        // The browser posts the same callback again: the 503-once card is charged by
        // this second provision; the others are refused as already used.
        let charged_in_the_end = |card: &str, charged: bool| charged || card == "4000000000009078";
        tokio::time::sleep(Duration::from_millis(3200)).await;
        for ((view, token, fields), (card, charged, _)) in started.iter().zip(FAULTS) {
            let status = w.post_back(token, fields).await.unwrap().payment.status;
            if charged_in_the_end(card, *charged) {
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
            let charged = charged_in_the_end(card, *charged);
            assert_eq!(w.charged(&view.id).await, charged, "{card}: the ledger");
            let expected = if charged {
                PaymentStatus::Approved
            } else {
                PaymentStatus::Expired
            };
            assert_eq!(w.status(&view.id).await, expected, "{card}");
        }
    })
    .await;
}
