//! The whole Yapı Kredi PosNet flow, black-box through the service, on SQLite and
//! PostgreSQL, with the PosNet simulator's ledger as the judge: non-3D sales, every
//! magic decline with its Turkish text, 3D through the bank's page right and wrong,
//! forged / replayed / foreign callbacks, cancel and partial refund around the bank's
//! end of day, every fault card resolved by the janitor, and the day's statement. After each test's SQLite run, the
//! database files are scanned for the card numbers and the CVV that were used.

#![allow(clippy::unwrap_used)]

use std::time::Duration;

use crate::helpers::bank::*;
use crate::helpers::posnet::*;
use crate::helpers::{test_config, tl};
use sanalpos_core::BankCode;
use sanalpos_service::*;
use sanalpos_simulator::posnet::TxKind;
use sanalpos_store::{Crypto, Operation};

/// A card the simulated bank approves.
const APPROVED: &str = "4282209027132016";

/// What the scan of each test's files looks for.
fn secrets() -> Secrets {
    Secrets {
        cards: vec![APPROVED],
        cvv_shapes: vec![
            format!("\"{PN_CVV}\""),
            format!(">{PN_CVV}<"),
            format!("cvc={PN_CVV}"),
        ],
    }
}

#[tokio::test]
async fn non_three_d_sale_is_approved_and_charged_once() {
    on_both_engines(&secrets(), "pn_non_three_d_sale", |store| async move {
        let w = pn_world_on(store).await;
        let view = w.pay(APPROVED, "100.25").await;
        assert_eq!(view.status, PaymentStatus::Approved, "{view:?}");
        assert_eq!(view.masked_pan, "428220******2016");
        assert_eq!(view.pos_id, w.pos.id);
        let ledger = w.ledger();
        assert_eq!(ledger.len(), 1, "{ledger:?}");
        let sale = &ledger[0];
        assert_eq!(
            sale.order_id,
            w.order_id(&view.id).await,
            "24 characters as sent"
        );
        assert_eq!(sale.kind, TxKind::Sale);
        assert!(sale.approved && !sale.three_d);
        assert_eq!(sale.amount, tl("100.25"));
        assert_eq!(view.auth_code.as_deref(), Some(sale.auth_code.as_str()));
        assert_eq!(
            view.provider_ref.as_deref(),
            Some(sale.host_log_key.as_str())
        );
    })
    .await;
}

#[tokio::test]
async fn every_magic_card_is_declined_with_its_code_and_turkish_text() {
    on_both_engines(&secrets(), "pn_magic_declines", |store| async move {
        let w = pn_world_on(store).await;
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
            assert_eq!(rows[0].resp_code, format!("00{code}"), "{card}");
        }
        assert!(w.ledger().iter().all(|t| !t.approved));
    })
    .await;
}

#[tokio::test]
async fn three_d_approves_the_right_code_and_declines_a_wrong_one() {
    on_both_engines(&secrets(), "pn_three_d", |store| async move {
        let config = ServiceConfig {
            abuse: sanalpos_service::AbuseLimits {
                card_declines: 0,
                ..Default::default()
            },
            ..test_config()
        };
        let service = PaymentService::new(store, Crypto::random(), config);
        let w = pn_world_with(service).await;
        let view = w.start_3d(APPROVED, "150.00").await;
        assert!(w.rows(&view.id).await.is_empty(), "nothing yet");
        let (token, fields) = w.browse_3d(&view, Some("123456")).await;
        let back = w.post_back(&token, &fields).await.unwrap();
        assert_eq!(back.payment.status, PaymentStatus::Approved, "{back:?}");
        let charges = w.charges(&view.id).await;
        assert_eq!(charges.len(), 1);
        assert_eq!(charges[0].amount, tl("150.00"));
        assert!(charges[0].three_d && charges[0].order_id.starts_with("TDSC"));
        assert_eq!(
            back.payment.provider_ref.as_deref(),
            Some(charges[0].host_log_key.as_str())
        );
        // A wrong code: declined, nothing charged.
        let view = w.start_3d(APPROVED, "151.00").await;
        let (token, fields) = w.browse_3d(&view, Some("654321")).await;
        let back = w.post_back(&token, &fields).await.unwrap();
        assert_eq!(back.payment.status, PaymentStatus::Declined, "{back:?}");
        assert!(back.payment.message.unwrap().tr.contains("3D"));
        assert!(!w.charged(&view.id).await);
    })
    .await;
}

#[tokio::test]
async fn forged_replayed_and_foreign_callbacks_change_nothing() {
    on_both_engines(&secrets(), "pn_forged_callbacks", |store| async move {
        let w = pn_world_on(store).await;
        let a = w.start_3d(APPROVED, "60.00").await;
        let b = w.start_3d(APPROVED, "60.00").await;
        let (token_a, fields_a) = w.browse_3d(&a, Some("123456")).await;
        let (token_b, fields_b) = w.browse_3d(&b, Some("123456")).await;
        assert!(w.ledger().is_empty(), "authentication charges nothing");

        // Forged or tampered packets, a missing one, the amount the browser claims.
        let bank = field(&fields_a, "BankPacket");
        let altered = format!(
            "{}{}",
            &bank[..bank.len() - 2],
            if bank.ends_with("AA") { "BB" } else { "AA" }
        );
        for forged in [
            with(&fields_a, "BankPacket", &altered),
            with(&fields_a, "MerchantPacket", "00FF"),
            with(&fields_a, "Sign", "00FF"),
            fields_a
                .iter()
                .filter(|(k, _)| k != "BankPacket")
                .cloned()
                .collect(),
        ] {
            let back = w.post_back(&token_a, &forged).await.unwrap();
            assert_eq!(back.payment.status, PaymentStatus::Pending3ds, "{back:?}");
        }
        let cheaper = with(&fields_a, "Amount", "1");
        let back = w.post_back(&token_a, &cheaper).await.unwrap();
        // The browser's Amount is not believed: the MAC is over our own amount.
        assert_eq!(back.payment.status, PaymentStatus::Approved, "{back:?}");
        assert_eq!(w.charges(&a.id).await[0].amount, tl("60.00"));

        // Another order's valid callback, posted to B's return.
        let back = w.post_back(&token_b, &fields_a).await.unwrap();
        assert_eq!(back.payment.id, b.id);
        assert_eq!(back.payment.status, PaymentStatus::Pending3ds, "{back:?}");
        assert!(!w.charged(&b.id).await, "a foreign callback charged B");

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
    on_both_engines(&secrets(), "pn_cancel_and_refund", |store| async move {
        let w = pn_world_on(store).await;
        let cancelled = w.pay(APPROVED, "80.00").await;
        let refunded = w.pay(APPROVED, "100.00").await;
        let late = w.pay(APPROVED, "50.00").await;

        let view = w
            .service
            .cancel_payment(&w.actor, &w.company.id, &cancelled.id)
            .await
            .unwrap();
        assert_eq!(view.status, PaymentStatus::Cancelled, "{view:?}");
        let rows = w.rows(&cancelled.id).await;
        let sale = rows.iter().find(|t| t.kind == TxKind::Sale).unwrap();
        assert!(sale.reversed, "{rows:?}");
        let reverse = rows.iter().find(|t| t.kind == TxKind::Reverse).unwrap();
        assert_eq!(
            reverse.original.as_deref(),
            Some(sale.host_log_key.as_str())
        );

        // The same day the bank refuses the refund, so it is kept as scheduled.
        let answer = w
            .service
            .request_refund(&w.actor, &w.company.id, &refunded.id, tl("30.00"))
            .await
            .unwrap();
        assert_eq!(answer.refund.status, RefundStatus::Scheduled, "{answer:?}");

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
            .filter(|t| t.kind == TxKind::Return && t.approved)
            .map(|t| t.amount)
            .collect();
        assert_eq!(refunds, vec![tl("30.00")]);

        // A cancel after the end of day: refused by the bank, nothing changed.
        let err = w
            .service
            .cancel_payment(&w.actor, &w.company.id, &late.id)
            .await
            .unwrap_err();
        assert_eq!(err.code(), "cancel_not_possible", "{err:?}");
        assert_eq!(w.status(&late.id).await, PaymentStatus::Approved);

        // The day's statement lists the sales, the cancel and the partial refund.
        let day = w.ledger()[0].business_day;
        let statement = w.sim.statement(&w.merchant.tid, day).unwrap();
        assert!(
            statement.contains("İptal") && statement.contains(&sale.host_log_key),
            "{statement}"
        );
    })
    .await;
}

#[tokio::test]
async fn every_fault_card_ends_in_the_state_the_bank_says() {
    on_both_engines(&secrets(), "pn_fault_cards", |store| async move {
        let w = pn_world_on(store).await;
        let mut tasks = Vec::new();
        for (card, _, _) in FAULTS {
            let service = w.service.clone();
            let actor = w.actor.clone();
            tasks.push(tokio::spawn(async move {
                service
                    .create_payment(&actor, pn_payment(card, "75.00", false))
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
                    Some(charge.host_log_key.as_str()),
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
async fn reconciliation_reads_the_days_statement() {
    on_both_engines(&secrets(), "pn_reconciliation", |store| async move {
        let w = pn_world_on(store).await;
        let kept = w.pay(APPROVED, "120.00").await;
        let voided = w.pay(APPROVED, "30.00").await;
        w.service
            .cancel_payment(&w.actor, &w.company.id, &voided.id)
            .await
            .unwrap();
        let declined = w.pay("4000000000000051", "10.00").await;
        assert_eq!(declined.status, PaymentStatus::Declined);
        // PosNet has no transaction list: the statement is the bank's side.
        let day = w.ledger()[0].business_day;
        let statement = w.sim.statement(&w.merchant.tid, day).unwrap();
        let day = day.to_string();
        let run = w
            .service
            .import_statement(
                &w.actor,
                &w.company.id,
                &w.pos.id,
                &day,
                &day,
                statement.as_bytes(),
                None,
                false,
            )
            .await
            .unwrap();
        assert!(run.rejected_rows.is_empty(), "{run:?}");
        assert_eq!(run.summary.system_only, 0, "{run:?}");
        assert_eq!(run.summary.provider_only, 0, "{run:?}");
        assert_eq!(run.summary.amount_mismatch, 0, "{run:?}");
        assert_eq!(run.summary.status_mismatch, 0, "{run:?}");
        // The kept sale, the cancelled one and the declined one: each side says the same.
        assert_eq!(run.summary.matched, 3, "{:?}", run.summary);
        assert_eq!(run.open_exceptions, 0, "{run:?}");
        assert_eq!(w.status(&kept.id).await, PaymentStatus::Approved);
    })
    .await;
}
