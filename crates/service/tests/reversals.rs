//! Cancels, refunds and reversals against the simulator, on SQLite and PostgreSQL.

#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use sanalpos_service::*;
use sanalpos_simulator::{TxKind, TxStatus};
use sanalpos_store::testing::for_each_engine;

#[tokio::test]
async fn cancel_on_the_same_day() {
    for_each_engine("cancel_on_the_same_day", |store| async move {
        let w = world_on(store, "A").await;
        let paid = w.pay(APPROVED_CARD, "80.00").await;
        let view = w
            .service
            .cancel_payment(&w.actor, &w.company.id, &paid.id)
            .await
            .unwrap();
        assert_eq!(view.status, PaymentStatus::Cancelled);
        assert_eq!(view.refunded_amount, tl("80.00"));
        let ledger = w.ledger();
        assert!(ledger
            .iter()
            .any(|t| t.kind == TxKind::Cancel && t.status == TxStatus::Success));
        let detail = w
            .service
            .get_payment(&w.company.id, &paid.id)
            .await
            .unwrap();
        assert_eq!(detail.refunds.len(), 1);
        assert_eq!(detail.refunds[0].status, RefundStatus::Approved);
        assert_eq!(detail.attempts.len(), 2);
        // Twice is refused before the provider is called.
        let err = w
            .service
            .cancel_payment(&w.actor, &w.company.id, &paid.id)
            .await
            .unwrap_err();
        assert_eq!(err.code(), "not_cancellable");
        // A declined payment cannot be cancelled either.
        let declined = w.pay("4000000000000515", "5.00").await;
        let err = w
            .service
            .cancel_payment(&w.actor, &w.company.id, &declined.id)
            .await
            .unwrap_err();
        assert_eq!(err.code(), "not_cancellable");
        let events = w
            .service
            .store()
            .list_audit(&w.company.id, 5)
            .await
            .unwrap();
        assert!(events.iter().any(|e| e.kind == "cancel.approved"));
    })
    .await;
}

#[tokio::test]
async fn partial_and_full_refund_after_end_of_day() {
    for_each_engine(
        "partial_and_full_refund_after_end_of_day",
        |store| async move {
            let w = world_on(store, "A").await;
            let paid = w.pay(APPROVED_CARD, "100.00").await;
            w.end_of_day();
            let view = w
                .service
                .refund_payment(&w.actor, &w.company.id, &paid.id, tl("30.00"))
                .await
                .unwrap();
            assert_eq!(view.status, PaymentStatus::PartiallyRefunded);
            assert_eq!(view.refunded_amount, tl("30.00"));
            // The cap: 80 more is above the 70 left, refused without calling.
            let before = w.ledger().len();
            let err = w
                .service
                .refund_payment(&w.actor, &w.company.id, &paid.id, tl("80.00"))
                .await
                .unwrap_err();
            assert_eq!(err.code(), "refund_exceeds_captured");
            assert_eq!(w.ledger().len(), before);
            let view = w
                .service
                .refund_payment(&w.actor, &w.company.id, &paid.id, tl("70.00"))
                .await
                .unwrap();
            assert_eq!(view.status, PaymentStatus::Refunded);
            assert_eq!(view.refunded_amount, tl("100.00"));
            let err = w
                .service
                .refund_payment(&w.actor, &w.company.id, &paid.id, tl("0.01"))
                .await
                .unwrap_err();
            assert_eq!(err.code(), "not_refundable");
            let sale = w.ledger().into_iter().find(|t| t.kind.is_sale()).unwrap();
            assert_eq!(sale.returned_amount, tl("100.00"));
        },
    )
    .await;
}

#[tokio::test]
async fn concurrent_refunds_cannot_exceed_the_sale() {
    for_each_engine(
        "concurrent_refunds_cannot_exceed_the_sale",
        |store| async move {
            let w = world_on(store, "A").await;
            let paid = w.pay(APPROVED_CARD, "100.00").await;
            w.end_of_day();
            let mut tasks = Vec::new();
            for _ in 0..6 {
                let service = w.service.clone();
                let actor = w.actor.clone();
                let (company, id) = (w.company.id.clone(), paid.id.clone());
                tasks.push(tokio::spawn(async move {
                    service
                        .refund_payment(&actor, &company, &id, tl("40.00"))
                        .await
                }));
            }
            let mut ok = 0;
            for t in tasks {
                match t.await.unwrap() {
                    Ok(_) => ok += 1,
                    Err(e) => assert_eq!(e.code(), "refund_exceeds_captured", "{e:?}"),
                }
            }
            assert_eq!(ok, 2);
            let detail = w
                .service
                .get_payment(&w.company.id, &paid.id)
                .await
                .unwrap();
            assert_eq!(detail.payment.refunded_amount, tl("80.00"), "{detail:#?}");
            let sale = w.ledger().into_iter().find(|t| t.kind.is_sale()).unwrap();
            assert_eq!(sale.returned_amount, tl("80.00"));
        },
    )
    .await;
}

#[tokio::test]
async fn reverse_before_and_after_end_of_day() {
    for_each_engine("reverse_before_and_after_end_of_day", |store| async move {
        let w = world_on(store, "A").await;
        // Same day: a cancel.
        let first = w.pay(APPROVED_CARD, "40.00").await;
        let view = w
            .service
            .reverse_payment(&w.actor, &w.company.id, &first.id)
            .await
            .unwrap();
        assert_eq!(view.status, PaymentStatus::Cancelled);
        // After the day closed: the cancel is refused (21), the whole amount refunded.
        let second = w.pay(APPROVED_CARD, "60.00").await;
        w.end_of_day();
        let err = w
            .service
            .cancel_payment(&w.actor, &w.company.id, &second.id)
            .await
            .unwrap_err();
        assert_eq!(err.code(), "cancel_not_possible");
        let view = w
            .service
            .reverse_payment(&w.actor, &w.company.id, &second.id)
            .await
            .unwrap();
        assert_eq!(view.status, PaymentStatus::Refunded);
        assert_eq!(view.refunded_amount, tl("60.00"));
        let kinds: Vec<TxKind> = w
            .ledger()
            .into_iter()
            .filter(|t| !t.kind.is_sale() && t.status == TxStatus::Success)
            .map(|t| t.kind)
            .collect();
        assert_eq!(kinds, vec![TxKind::Cancel, TxKind::Refund]);
        // Partly refunded, then reversed: the rest is refunded.
        let third = w.pay(APPROVED_CARD, "50.00").await;
        w.end_of_day();
        w.service
            .refund_payment(&w.actor, &w.company.id, &third.id, tl("20.00"))
            .await
            .unwrap();
        let view = w
            .service
            .reverse_payment(&w.actor, &w.company.id, &third.id)
            .await
            .unwrap();
        assert_eq!(view.status, PaymentStatus::Refunded);
        assert_eq!(view.refunded_amount, tl("50.00"));
    })
    .await;
}
