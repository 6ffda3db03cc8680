//! Cancels, refunds and reversals against the simulator, on SQLite and PostgreSQL.

#![allow(clippy::unwrap_used)]

use crate::helpers::*;
use sanalpos_core::Kurus;
use sanalpos_service::*;
use sanalpos_simulator::{MerchantConfig, TxKind, TxStatus};
use sanalpos_store::testing::for_each_engine;
use sanalpos_store::{Crypto, Store};

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
        let events = w.service.company_audit(&w.company.id, 5).await.unwrap().0;
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
            let mut ok = 0;
            for answer in refunds_at_once(&w, &paid.id, 6, "40.00").await {
                match answer {
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

/// `n` refunds of `amount` on one payment, all at once; their answers.
async fn refunds_at_once(
    w: &World,
    payment_id: &str,
    n: usize,
    amount: &str,
) -> Vec<Result<RefundAnswer, ServiceError>> {
    let tasks: Vec<_> = (0..n)
        .map(|_| {
            let service = w.service.clone();
            let actor = w.actor.clone();
            let (company, id) = (w.company.id.clone(), payment_id.to_owned());
            let amount = tl(amount);
            tokio::spawn(async move { service.request_refund(&actor, &company, &id, amount).await })
        })
        .collect();
    let mut answers = Vec::new();
    for t in tasks {
        answers.push(t.await.unwrap());
    }
    answers
}

/// The refund rows the simulator made for a payment's sale (successful ones).
async fn refunds_at_provider(w: &World, payment_id: &str) -> Vec<Kurus> {
    let sale = w.sale_rows(payment_id).await;
    let sale_ref = sale[0].reference_code.clone();
    w.ledger()
        .into_iter()
        .filter(|t| {
            t.sale_reference_code.as_deref() == Some(sale_ref.as_str())
                && t.status == TxStatus::Success
                && t.kind != TxKind::Cancel
        })
        .map(|t| t.amount)
        .collect()
}

#[tokio::test]
async fn same_day_partial_refund_is_scheduled_and_carried_out_after_the_close() {
    for_each_engine("same_day_partial_refund_scheduled", |store| async move {
        let w = world_on(store, "A").await;
        let paid = w.pay(APPROVED_CARD, "100.00").await;
        let answer = w
            .service
            .request_refund(&w.actor, &w.company.id, &paid.id, tl("30.00"))
            .await
            .unwrap();
        assert_eq!(answer.refund.status, RefundStatus::Scheduled, "{answer:?}");
        assert_eq!(answer.refund.kind, RefundKind::Refund);
        let reason = answer.refund.message.clone().unwrap();
        assert_eq!(reason.tr, "Banka günü kapanınca iade edilecek");
        assert_eq!(reason.en, "Will be refunded when the bank's day closes");
        assert_eq!(answer.payment.status, PaymentStatus::Approved);
        assert_eq!(answer.payment.refunded_amount, tl("0.00"));
        assert!(refunds_at_provider(&w, &paid.id).await.is_empty());
        // It holds its amount at once: 70.01 more does not fit, 70.00 would.
        let err = w
            .service
            .refund_payment(&w.actor, &w.company.id, &paid.id, tl("70.01"))
            .await
            .unwrap_err();
        assert_eq!(err.code(), "refund_exceeds_captured");
        // A scheduled refund holds the payment: no cancel of the whole any more.
        let err = w
            .service
            .cancel_payment(&w.actor, &w.company.id, &paid.id)
            .await
            .unwrap_err();
        assert_eq!(err.code(), "not_cancellable");
        // Reconciliation while it waits: no money moved yet on either side, matched.
        let day = istanbul_today().to_string();
        let run = w
            .service
            .run_reconciliation(&w.actor, &w.company.id, &w.pos.id, &day, &day)
            .await
            .unwrap();
        assert_eq!(run.open_exceptions, 0, "{run:?}");
        assert_eq!(run.summary.matched, 1, "{run:?}");

        // The provider closes its day; only the janitor runs.
        w.end_of_day();
        let report = w.service.run_janitor_once().await.unwrap();
        assert_eq!(report.refunds_carried_out, 1, "{report:?}");
        let detail = w
            .service
            .get_payment(&w.company.id, &paid.id)
            .await
            .unwrap();
        assert_eq!(detail.payment.status, PaymentStatus::PartiallyRefunded);
        assert_eq!(detail.payment.refunded_amount, tl("30.00"));
        assert_eq!(detail.refunds.len(), 1);
        assert_eq!(detail.refunds[0].id, answer.refund.id);
        assert_eq!(detail.refunds[0].status, RefundStatus::Approved);
        assert_eq!(refunds_at_provider(&w, &paid.id).await, vec![tl("30.00")]);
        let events = w.service.company_audit(&w.company.id, 20).await.unwrap().0;
        assert!(events.iter().any(|e| e.kind == "refund.scheduled"));
        assert!(events
            .iter()
            .any(|e| e.kind == "refund.approved" && e.actor == "scheduled-refunds"));
        // Done once: another pass sends nothing.
        let before = w.ledger().len();
        let again = w.service.run_janitor_once().await.unwrap();
        assert_eq!(again.refunds_carried_out, 0);
        assert_eq!(w.ledger().len(), before);
    })
    .await;
}

#[tokio::test]
async fn whole_amount_refund_on_the_sale_day_stays_a_cancel() {
    for_each_engine("whole_amount_refund_is_a_cancel", |store| async move {
        let w = world_on(store, "A").await;
        let paid = w.pay(APPROVED_CARD, "40.00").await;
        let answer = w
            .service
            .request_refund(&w.actor, &w.company.id, &paid.id, tl("40.00"))
            .await
            .unwrap();
        assert_eq!(answer.refund.kind, RefundKind::Cancel, "{answer:?}");
        assert_eq!(answer.refund.status, RefundStatus::Approved);
        assert_eq!(answer.payment.status, PaymentStatus::Cancelled);
        assert!(w
            .ledger()
            .iter()
            .any(|t| t.kind == TxKind::Cancel && t.status == TxStatus::Success));
    })
    .await;
}

#[tokio::test]
async fn scheduled_refund_waits_while_the_day_is_open_then_the_end_of_day_job_sends_it() {
    for_each_engine("scheduled_refund_end_of_day_job", |store| async move {
        let w = world_on(store, "A").await;
        let paid = w.pay(APPROVED_CARD, "100.00").await;
        let answer = w
            .service
            .request_refund(&w.actor, &w.company.id, &paid.id, tl("10.00"))
            .await
            .unwrap();
        assert_eq!(answer.refund.status, RefundStatus::Scheduled);
        // The janitor tries it; the provider's day is still open: it stays scheduled.
        let report = w.service.run_janitor_once().await.unwrap();
        assert_eq!(report.refunds_still_scheduled, 1, "{report:?}");
        assert_eq!(report.refunds_carried_out, 0, "{report:?}");
        let detail = w
            .service
            .get_payment(&w.company.id, &paid.id)
            .await
            .unwrap();
        assert_eq!(detail.refunds[0].status, RefundStatus::Scheduled);
        assert_eq!(detail.payment.status, PaymentStatus::Approved);
        assert!(refunds_at_provider(&w, &paid.id).await.is_empty());
        // The end-of-day job runs after the providers' close and sends every one.
        w.end_of_day();
        let report = w
            .service
            .run_end_of_day_once(istanbul_today())
            .await
            .unwrap();
        assert_eq!(report.refunds_carried_out, 1, "{report:?}");
        let view = w
            .service
            .get_payment(&w.company.id, &paid.id)
            .await
            .unwrap();
        assert_eq!(view.payment.status, PaymentStatus::PartiallyRefunded);
        assert_eq!(view.payment.refunded_amount, tl("10.00"));
        assert_eq!(refunds_at_provider(&w, &paid.id).await, vec![tl("10.00")]);
        // Reconciliation of the sale's day: the payment is matched, not an exception.
        let runs = w
            .service
            .list_reconciliations(&w.company.id, 5)
            .await
            .unwrap();
        assert_eq!(runs.len(), 1, "{runs:?}");
        assert_eq!(runs[0].summary.matched, 1, "{runs:?}");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_scheduled_refunds_cannot_exceed_the_sale() {
    for_each_engine("concurrent_scheduled_refunds", |store| async move {
        let w = world_on(store, "A").await;
        let paid = w.pay(APPROVED_CARD, "100.00").await;
        let mut accepted = 0;
        for answer in refunds_at_once(&w, &paid.id, 4, "60.00").await {
            match answer {
                Ok(a) => {
                    assert_eq!(a.refund.status, RefundStatus::Scheduled, "{a:?}");
                    accepted += 1;
                }
                Err(e) => assert_eq!(e.code(), "refund_exceeds_captured", "{e:?}"),
            }
        }
        assert_eq!(accepted, 1);
        w.end_of_day();
        w.service.run_janitor_once().await.unwrap();
        let detail = w
            .service
            .get_payment(&w.company.id, &paid.id)
            .await
            .unwrap();
        assert_eq!(detail.payment.refunded_amount, tl("60.00"), "{detail:#?}");
        assert_eq!(refunds_at_provider(&w, &paid.id).await, vec![tl("60.00")]);
    })
    .await;
}

#[tokio::test]
async fn withdrawn_scheduled_refund_releases_its_amount_and_is_never_sent() {
    for_each_engine("withdraw_scheduled_refund", |store| async move {
        let w = world_on(store, "A").await;
        let paid = w.pay(APPROVED_CARD, "100.00").await;
        let first = w
            .service
            .request_refund(&w.actor, &w.company.id, &paid.id, tl("80.00"))
            .await
            .unwrap();
        assert_eq!(first.refund.status, RefundStatus::Scheduled);
        let err = w
            .service
            .request_refund(&w.actor, &w.company.id, &paid.id, tl("30.00"))
            .await
            .unwrap_err();
        assert_eq!(err.code(), "refund_exceeds_captured");
        // Another company's actor sees nothing.
        let stranger = Actor {
            company_id: "cmp_other".into(),
            name: "api:other".into(),
        };
        let err = w
            .service
            .withdraw_refund(&stranger, &w.company.id, &paid.id, &first.refund.id)
            .await
            .unwrap_err();
        assert_eq!(err.code(), "not_found");
        let detail = w
            .service
            .withdraw_refund(&w.actor, &w.company.id, &paid.id, &first.refund.id)
            .await
            .unwrap();
        assert_eq!(detail.refunds[0].status, RefundStatus::Withdrawn);
        let reason = detail.refunds[0].message.clone().unwrap();
        assert!(reason.en.contains("withdrawn"), "{reason:?}");
        assert_eq!(detail.refundable(), tl("100.00"));
        // Twice: refused, nothing changes.
        let err = w
            .service
            .withdraw_refund(&w.actor, &w.company.id, &paid.id, &first.refund.id)
            .await
            .unwrap_err();
        assert_eq!(err.code(), "not_withdrawable");
        // The amount is free again.
        let second = w
            .service
            .request_refund(&w.actor, &w.company.id, &paid.id, tl("30.00"))
            .await
            .unwrap();
        assert_eq!(second.refund.status, RefundStatus::Scheduled);
        // After the close, only the second one is carried out.
        w.end_of_day();
        let report = w
            .service
            .run_end_of_day_once(istanbul_today())
            .await
            .unwrap();
        assert_eq!(report.refunds_carried_out, 1, "{report:?}");
        assert_eq!(refunds_at_provider(&w, &paid.id).await, vec![tl("30.00")]);
        let detail = w
            .service
            .get_payment(&w.company.id, &paid.id)
            .await
            .unwrap();
        assert_eq!(detail.payment.refunded_amount, tl("30.00"));
        let statuses: Vec<RefundStatus> = detail.refunds.iter().map(|r| r.status).collect();
        assert_eq!(
            statuses,
            vec![RefundStatus::Withdrawn, RefundStatus::Approved]
        );
        let err = w
            .service
            .withdraw_refund(&w.actor, &w.company.id, &paid.id, &second.refund.id)
            .await
            .unwrap_err();
        assert_eq!(err.code(), "not_withdrawable");
        let events = w.service.company_audit(&w.company.id, 30).await.unwrap().0;
        assert!(events
            .iter()
            .any(|e| e.kind == "refund.withdrawn" && e.actor == "api:test"));
    })
    .await;
}

#[tokio::test]
async fn a_scheduled_refund_survives_a_restart() {
    sanalpos_store::testing::for_each_engine_at_version(
        "scheduled_refund_survives_restart",
        i64::MAX,
        |url, store| async move {
            let crypto = Crypto::random();
            let first = PaymentService::new(store.clone(), crypto.clone(), test_config());
            let w = world_with(first, "A", MerchantConfig::generate()).await;
            let paid = w.pay(APPROVED_CARD, "100.00").await;
            let answer = w
                .service
                .request_refund(&w.actor, &w.company.id, &paid.id, tl("45.50"))
                .await
                .unwrap();
            assert_eq!(answer.refund.status, RefundStatus::Scheduled);
            // The instance goes away; another opens the same database.
            let World {
                service,
                sim,
                merchant,
                company,
                ..
            } = w;
            drop(service);
            let reopened = Store::open(&url).await.unwrap();
            let second = PaymentService::new(reopened.clone(), crypto, test_config());
            sim.end_of_day(Some(&merchant.merchant_no));
            let report = second.run_janitor_once().await.unwrap();
            assert_eq!(report.refunds_carried_out, 1, "{report:?}");
            let detail = second.get_payment(&company.id, &paid.id).await.unwrap();
            assert_eq!(detail.payment.status, PaymentStatus::PartiallyRefunded);
            assert_eq!(detail.payment.refunded_amount, tl("45.50"));
            let refunds: Vec<Kurus> = sim
                .transactions(&merchant.merchant_no)
                .unwrap()
                .into_iter()
                .filter(|t| !t.kind.is_sale() && t.status == TxStatus::Success)
                .map(|t| t.amount)
                .collect();
            assert_eq!(refunds, vec![tl("45.50")]);
            reopened.close().await;
        },
    )
    .await;
}

#[tokio::test]
async fn a_scheduled_refund_cut_short_mid_send_is_found_out_not_sent_twice() {
    for_each_engine("scheduled_refund_cut_short", |store| async move {
        let config = ServiceConfig {
            provider_timeout: std::time::Duration::from_millis(200),
            unknown_grace: std::time::Duration::from_millis(0),
            ..test_config()
        };
        let service = PaymentService::new(store.clone(), Crypto::random(), config);
        let w = world_with(service, "A", MerchantConfig::generate()).await;
        let paid = w.pay(APPROVED_CARD, "100.00").await;
        let answer = w
            .service
            .request_refund(&w.actor, &w.company.id, &paid.id, tl("20.00"))
            .await
            .unwrap();
        assert_eq!(answer.refund.status, RefundStatus::Scheduled);
        // A pass took it (pending, attempt dispatched) and the process died before the
        // provider was called.
        let record = store.get_payment(&w.company.id, &paid.id).await.unwrap();
        let now = sanalpos_store::now_ms();
        let attempt = sanalpos_store::AttemptRecord {
            id: sanalpos_store::new_id("att"),
            payment_id: record.id.clone(),
            company_id: record.company_id.clone(),
            operation: sanalpos_store::Operation::Refund,
            client_ref: record.sale_client_ref.clone(),
            state: sanalpos_store::AttemptState::Dispatched,
            outcome: None,
            bank_code: None,
            message: None,
            http_status: None,
            latency_ms: None,
            raw: None,
            amount: tl("20.00"),
            started_at: now,
            finished_at: None,
        };
        let refundable = store
            .dispatch_scheduled_refund(&answer.refund.id, attempt.clone())
            .await
            .unwrap();
        assert_eq!(refundable, Some(tl("100.00")));
        // Taken already: a second pass cannot take it again.
        let again = sanalpos_store::AttemptRecord {
            id: sanalpos_store::new_id("att"),
            ..attempt
        };
        assert_eq!(
            store
                .dispatch_scheduled_refund(&answer.refund.id, again)
                .await
                .unwrap(),
            None
        );
        // While pending it still holds its amount.
        let err = w
            .service
            .refund_payment(&w.actor, &w.company.id, &paid.id, tl("80.01"))
            .await
            .unwrap_err();
        assert_eq!(err.code(), "refund_exceeds_captured");
        // The janitor asks the provider (never sends blindly): nothing there, so the
        // refund is owed still and goes back to scheduled, not to failed.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
        let status = loop {
            w.service.run_janitor_once().await.unwrap();
            let detail = w
                .service
                .get_payment(&w.company.id, &paid.id)
                .await
                .unwrap();
            let status = detail.refunds[0].status;
            if status != RefundStatus::Pending || std::time::Instant::now() > deadline {
                break status;
            }
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        };
        assert_eq!(status, RefundStatus::Scheduled);
        assert!(refunds_at_provider(&w, &paid.id).await.is_empty());
        // After the close it is carried out, once.
        w.end_of_day();
        let report = w
            .service
            .run_end_of_day_once(istanbul_today())
            .await
            .unwrap();
        assert_eq!(report.refunds_carried_out, 1, "{report:?}");
        w.service.run_janitor_once().await.unwrap();
        assert_eq!(refunds_at_provider(&w, &paid.id).await, vec![tl("20.00")]);
        let detail = w
            .service
            .get_payment(&w.company.id, &paid.id)
            .await
            .unwrap();
        assert_eq!(detail.payment.status, PaymentStatus::PartiallyRefunded);
        assert_eq!(detail.payment.refunded_amount, tl("20.00"));
    })
    .await;
}

#[tokio::test]
async fn reverse_on_the_sale_day_with_a_scheduled_refund_schedules_the_rest() {
    for_each_engine("reverse_with_scheduled_refund", |store| async move {
        let w = world_on(store, "A").await;
        let paid = w.pay(APPROVED_CARD, "100.00").await;
        w.service
            .request_refund(&w.actor, &w.company.id, &paid.id, tl("30.00"))
            .await
            .unwrap();
        // The held 30.00 rules the cancel out: the other 70.00 waits for the close too.
        let view = w
            .service
            .reverse_payment(&w.actor, &w.company.id, &paid.id)
            .await
            .unwrap();
        assert_eq!(view.status, PaymentStatus::Approved);
        let detail = w
            .service
            .get_payment(&w.company.id, &paid.id)
            .await
            .unwrap();
        let waiting: Vec<(RefundStatus, Kurus)> = detail
            .refunds
            .iter()
            .map(|r| (r.status, r.amount))
            .collect();
        assert_eq!(
            waiting,
            vec![
                (RefundStatus::Scheduled, tl("30.00")),
                (RefundStatus::Scheduled, tl("70.00"))
            ]
        );
        assert_eq!(detail.refundable(), Kurus::ZERO);
        w.end_of_day();
        let report = w.service.run_janitor_once().await.unwrap();
        assert_eq!(report.refunds_carried_out, 2, "{report:?}");
        let detail = w
            .service
            .get_payment(&w.company.id, &paid.id)
            .await
            .unwrap();
        assert_eq!(detail.payment.status, PaymentStatus::Refunded);
        assert_eq!(detail.payment.refunded_amount, tl("100.00"));
        let mut at_provider = refunds_at_provider(&w, &paid.id).await;
        at_provider.sort();
        assert_eq!(at_provider, vec![tl("30.00"), tl("70.00")]);
    })
    .await;
}

#[tokio::test]
async fn a_scheduled_refund_the_bank_refuses_for_good_is_declined_and_released() {
    for_each_engine("scheduled_refund_declined", |store| async move {
        use sanalpos_gateway::nkolay::{Credentials, NkolayConfig, NkolayGateway};
        use sanalpos_gateway::{Gateway, Outcome, RefundRequest};
        let w = world_on(store, "A").await;
        let paid = w.pay(APPROVED_CARD, "100.00").await;
        let answer = w
            .service
            .request_refund(&w.actor, &w.company.id, &paid.id, tl("30.00"))
            .await
            .unwrap();
        assert_eq!(answer.refund.status, RefundStatus::Scheduled);
        // After the close, 80.00 is refunded at the provider behind our back (its own
        // panel): only 20.00 is left there, so our 30.00 is refused for good.
        w.end_of_day();
        let m = &w.merchant;
        let panel = NkolayGateway::new(NkolayConfig::new(
            w.sim.base_url(),
            Credentials {
                sx: sanalpos_core::Secret::new(m.sx.clone()),
                sx_list: sanalpos_core::Secret::new(m.sx_list.clone()),
                sx_cancel: sanalpos_core::Secret::new(m.sx_cancel.clone()),
                secret_key: sanalpos_core::Secret::new(m.secret_key.clone()),
            },
        ))
        .unwrap();
        let detail = w
            .service
            .get_payment(&w.company.id, &paid.id)
            .await
            .unwrap();
        let behind = panel
            .refund(&RefundRequest {
                provider_ref: sanalpos_core::ProviderRef::parse(
                    paid.provider_ref.as_deref().unwrap(),
                )
                .unwrap(),
                client_ref: sanalpos_core::ClientRef::parse(&detail.attempts[0].client_ref)
                    .unwrap(),
                sale_date: paid.business_date.parse().unwrap(),
                amount: tl("80.00"),
                refundable: tl("100.00"),
                currency: paid.currency,
            })
            .await;
        assert!(matches!(behind.outcome, Outcome::Approved(_)), "{behind:?}");
        let report = w.service.run_janitor_once().await.unwrap();
        assert_eq!(report.refunds_carried_out, 1, "{report:?}");
        let detail = w
            .service
            .get_payment(&w.company.id, &paid.id)
            .await
            .unwrap();
        let refund = &detail.refunds[0];
        assert_eq!(refund.status, RefundStatus::Declined, "{refund:?}");
        assert_eq!(refund.bank_code.as_deref(), Some("13"), "{refund:?}");
        assert!(refund.message.is_some(), "{refund:?}");
        // Its amount is released; it is never sent again.
        assert_eq!(detail.refundable(), tl("100.00"));
        let before = w.ledger().len();
        w.service
            .run_end_of_day_once(istanbul_today())
            .await
            .unwrap();
        w.service.run_janitor_once().await.unwrap();
        assert_eq!(w.ledger().len(), before);
        let events = w.service.company_audit(&w.company.id, 30).await.unwrap().0;
        assert!(events
            .iter()
            .any(|e| e.kind == "refund.declined" && e.actor == "scheduled-refunds"));
    })
    .await;
}
