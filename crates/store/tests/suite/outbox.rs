//! The webhook outbox and checkout-session claims on both engines: events are written
//! in the transaction of the change that causes them, and a session is paid at most
//! once even under concurrent claims.

#![allow(clippy::unwrap_used)]

use crate::helpers::*;
use sanalpos_core::{Currency, Kurus};
use sanalpos_store::testing::for_each_engine;
use sanalpos_store::*;
use serde_json::json;

async fn endpoint(store: &Store, company_id: &str, events: &[&str]) -> String {
    let e = WebhookEndpointRecord {
        id: new_id("whe"),
        company_id: company_id.into(),
        url: "http://127.0.0.1:9/hook".into(),
        events: events.iter().map(|e| (*e).to_owned()).collect(),
        secret_enc: Crypto::random().encrypt_credentials("whsec_x").unwrap(),
        created_by: "test".into(),
        created_at: now_ms(),
        deleted_at: None,
    };
    store
        .insert_webhook_endpoint(
            e.clone(),
            audit(company_id, "webhook_endpoint.created", &e.id),
        )
        .await
        .unwrap();
    e.id
}

/// Rules like the service's: an event per real status change, review mark or refund,
/// with the payment's id, amount and auth code; an approval completes the session.
fn rules(changed: &PaymentChanged<'_>) -> Consequences {
    let p = changed.payment;
    let kind = match changed.cause {
        PaymentCause::Status { before } if before != p.status => {
            format!("payment.{}", p.status.as_str())
        }
        PaymentCause::Status { .. } => return Consequences::default(),
        PaymentCause::Refund(_) => "payment.refunded".into(),
        PaymentCause::Review => "payment.needs_review".into(),
    };
    let event = |kind: &str, subject_id: &str| NewEvent {
        company_id: p.company_id.clone(),
        kind: kind.into(),
        subject_id: subject_id.into(),
        data: json!({ "payment": { "id": p.id, "amount": p.amount, "auth_code": p.auth_code } }),
    };
    Consequences {
        events: vec![event(&kind, &p.id)],
        complete_session: changed
            .session
            .filter(|_| p.status == PaymentStatus::Approved)
            .map(|s| SessionCompletion {
                session_id: s.id.clone(),
                events: vec![event("checkout_session.completed", &s.id)],
            }),
    }
}

fn approve(p: &PaymentRecord, expect: PaymentStatus) -> FinishAttempt {
    let mut change = PaymentChange::to(&p.id, &[expect], PaymentStatus::Approved);
    change.auth_code = sanalpos_core::AuthCode::parse("123456").ok();
    FinishAttempt {
        payment: Some(change),
        events: Some(rules),
        audit: vec![audit(&p.company_id, "payment.approved", &p.id)],
        ..FinishAttempt::default()
    }
}

fn session(company_id: &str, expires_at: i64) -> CheckoutSessionRecord {
    CheckoutSessionRecord {
        id: new_id("cs"),
        company_id: company_id.into(),
        purpose: SessionPurpose::Order,
        amount: Some(Kurus::from_minor(5_000).unwrap()),
        min_amount: None,
        max_amount: None,
        currency: Currency::Try,
        order_ref: Some("SO-9".into()),
        customer_ref: None,
        description: None,
        return_url: Some("https://shop.example/r".into()),
        return_secret_enc: None,
        max_installments: 1,
        language: "tr".into(),
        status: SessionStatus::Open,
        payment_id: None,
        tries: 0,
        expires_at,
        created_by: "test".into(),
        created_at: now_ms(),
        completed_at: None,
        locked_at: None,
        stored_cards: false,
    }
}

#[tokio::test]
async fn outbox_rows_commit_and_roll_back_with_the_change() {
    for_each_engine(
        "outbox_rows_commit_and_roll_back_with_the_change",
        |store| async move {
            let c = company(&store, "A").await;
            let other = company(&store, "B").await;
            let p = pos(&store, &c.id).await;
            let all = endpoint(&store, &c.id, &["payment.approved", "payment.needs_review"]).await;
            let declines = endpoint(&store, &c.id, &["payment.declined"]).await;
            let foreign = endpoint(&store, &other.id, &["payment.approved"]).await;

            // A failing transaction takes the payment change and its event with it: the
            // refund result names no refund, so the whole finish is rolled back.
            let pay = payment(&c.id, &p.id, PaymentStatus::Processing, 1_000);
            store
                .begin_payment(pay.clone(), attempt(&pay, Operation::Sale))
                .await
                .unwrap();
            let mut broken = approve(&pay, PaymentStatus::Processing);
            broken.refund = Some(RefundResult {
                refund_id: "ref_missing".into(),
                status: RefundStatus::Approved,
                provider_ref: None,
                bank_code: None,
                message_tr: None,
                message_en: None,
                retry_at: None,
            });
            assert!(store.finish_attempt(broken).await.is_err());
            assert_eq!(
                store.get_payment(&c.id, &pay.id).await.unwrap().status,
                PaymentStatus::Processing
            );
            assert!(store.list_events_of(&pay.id).await.unwrap().is_empty());
            assert!(store
                .list_deliveries(&c.id, &all, 10)
                .await
                .unwrap()
                .is_empty());

            // The change commits: one event, one delivery for the subscribed endpoint only.
            assert!(
                store
                    .finish_attempt(approve(&pay, PaymentStatus::Processing))
                    .await
                    .unwrap()
                    .applied
            );
            let events = store.list_events_of(&pay.id).await.unwrap();
            assert_eq!(events.len(), 1);
            assert_eq!(events[0].0, "payment.approved");
            let body: serde_json::Value = serde_json::from_str(&events[0].1).unwrap();
            assert_eq!(body["data"]["payment"]["id"], pay.id.as_str());
            assert_eq!(body["data"]["payment"]["amount"], "10.00");
            assert_eq!(body["data"]["payment"]["auth_code"], "123456");
            let delivered = store.list_deliveries(&c.id, &all, 10).await.unwrap();
            assert_eq!(delivered.len(), 1);
            assert_eq!(delivered[0].status, DeliveryStatus::Pending);
            assert!(store
                .list_deliveries(&c.id, &declines, 10)
                .await
                .unwrap()
                .is_empty());
            assert!(store
                .list_deliveries(&other.id, &foreign, 10)
                .await
                .unwrap()
                .is_empty());

            // A change that does not apply (the payment moved on) writes no event.
            assert!(
                !store
                    .finish_attempt(approve(&pay, PaymentStatus::Processing))
                    .await
                    .unwrap()
                    .applied
            );
            assert_eq!(store.list_events_of(&pay.id).await.unwrap().len(), 1);

            // A review mark is an event too.
            let unclear = payment(&c.id, &p.id, PaymentStatus::Unknown, 2_000);
            store
                .begin_payment(unclear.clone(), attempt(&unclear, Operation::Sale))
                .await
                .unwrap();
            store
                .set_review_reason(
                    &unclear.id,
                    "still unclear",
                    audit(&c.id, "payment.needs_review", &unclear.id),
                    Some(rules),
                )
                .await
                .unwrap();
            let events = store.list_events_of(&unclear.id).await.unwrap();
            assert_eq!(events.len(), 1);
            assert_eq!(events[0].0, "payment.needs_review");

            // Two workers never hold the same delivery.
            let (first, second) = tokio::join!(
                store.lease_due_deliveries("one", 60_000, 10),
                store.lease_due_deliveries("two", 60_000, 10)
            );
            let (first, second) = (first.unwrap(), second.unwrap());
            assert_eq!(first.len() + second.len(), 2, "both deliveries taken once");
            for d in &first {
                assert!(second.iter().all(|e| e.delivery.id != d.delivery.id));
            }
            assert!(store
                .lease_due_deliveries("three", 60_000, 10)
                .await
                .unwrap()
                .is_empty());
            // A result is only recorded by the holder of the lease.
            let held = first.first().or(second.first()).unwrap();
            let owner = if first.is_empty() { "two" } else { "one" };
            let result = |owner: &str| DeliveryTryResult {
                delivery_id: held.delivery.id.clone(),
                owner: owner.into(),
                signed_at: now_ms() / 1000,
                http_status: Some(200),
                response: Some("ok".into()),
                error: None,
                status: DeliveryStatus::Delivered,
                next_attempt_at: None,
                started_at: now_ms(),
                finished_at: now_ms(),
            };
            assert!(!store.finish_delivery_try(result("intruder")).await.unwrap());
            assert!(store.finish_delivery_try(result(owner)).await.unwrap());
            let (d, _) = store.get_delivery(&c.id, &held.delivery.id).await.unwrap();
            assert_eq!(d.status, DeliveryStatus::Delivered);
            assert_eq!(d.tries, 1);
            assert_eq!(store.list_delivery_tries(&d.id).await.unwrap().len(), 1);
        },
    )
    .await;
}

#[tokio::test]
async fn a_session_is_paid_at_most_once() {
    for_each_engine("a_session_is_paid_at_most_once", |store| async move {
        let c = company(&store, "A").await;
        let p = pos(&store, &c.id).await;
        endpoint(&store, &c.id, &["checkout_session.completed"]).await;
        let s = session(&c.id, now_ms() + 600_000);
        store
            .insert_checkout_session(s.clone(), audit(&c.id, "checkout_session.created", &s.id))
            .await
            .unwrap();

        // Ten concurrent claims: exactly one payment is written.
        let mut tasks = Vec::new();
        for _ in 0..10 {
            let store = store.clone();
            let pay = payment(&c.id, &p.id, PaymentStatus::Pending3ds, 5_000);
            let sid = s.id.clone();
            tasks.push(tokio::spawn(async move {
                let result = store
                    .begin_session_payment(&sid, pay.clone(), attempt(&pay, Operation::Start3d))
                    .await;
                (pay, result)
            }));
        }
        let mut winners = Vec::new();
        for t in tasks {
            let (pay, result) = t.await.unwrap();
            match result {
                Ok(()) => winners.push(pay),
                Err(e) => {
                    assert_eq!(e.code(), "session_not_payable");
                    // The loser's payment was rolled back with its claim.
                    assert!(store.get_payment(&c.id, &pay.id).await.is_err());
                }
            }
        }
        assert_eq!(winners.len(), 1);
        let first = winners.pop().unwrap();
        assert_eq!(
            store
                .get_checkout_session(&s.id)
                .await
                .unwrap()
                .payment_id
                .as_deref(),
            Some(first.id.as_str())
        );

        // Declined: the session may be tried again.
        let declined = FinishAttempt {
            payment: Some(PaymentChange::to(
                &first.id,
                &[PaymentStatus::Pending3ds],
                PaymentStatus::Declined,
            )),
            ..FinishAttempt::default()
        };
        assert!(store.finish_attempt(declined).await.unwrap().applied);
        let second = payment(&c.id, &p.id, PaymentStatus::Pending3ds, 5_000);
        store
            .begin_session_payment(&s.id, second.clone(), attempt(&second, Operation::Start3d))
            .await
            .unwrap();
        // Approved: the session completes in the same transaction, with its event.
        assert!(
            store
                .finish_attempt(approve(&second, PaymentStatus::Pending3ds))
                .await
                .unwrap()
                .applied
        );
        let done = store.get_checkout_session(&s.id).await.unwrap();
        assert_eq!(done.status, SessionStatus::Completed);
        assert_eq!(done.tries, 2);
        let events = store.list_events_of(&s.id).await.unwrap();
        assert_eq!(events.len(), 1);
        assert_eq!(events[0].0, "checkout_session.completed");
        let third = payment(&c.id, &p.id, PaymentStatus::Pending3ds, 5_000);
        let err = store
            .begin_session_payment(&s.id, third.clone(), attempt(&third, Operation::Start3d))
            .await
            .unwrap_err();
        assert_eq!(err.code(), "session_not_payable");

        // An expired session cannot be claimed.
        let old = session(&c.id, now_ms() - 1);
        store
            .insert_checkout_session(
                old.clone(),
                audit(&c.id, "checkout_session.created", &old.id),
            )
            .await
            .unwrap();
        let late = payment(&c.id, &p.id, PaymentStatus::Pending3ds, 5_000);
        let err = store
            .begin_session_payment(&old.id, late.clone(), attempt(&late, Operation::Start3d))
            .await
            .unwrap_err();
        assert_eq!(err.code(), "session_not_payable");
    })
    .await;
}

fn run(company_id: &str, pos_id: &str) -> ReconRunRecord {
    ReconRunRecord {
        id: new_id("rec"),
        company_id: company_id.into(),
        pos_id: pos_id.into(),
        source: "report".into(),
        period_from: "2026-11-28".into(),
        period_to: "2026-11-28".into(),
        status: "open".into(),
        summary: json!({"matched": 1}),
        created_by: "test".into(),
        created_at: now_ms(),
    }
}

fn item(class: &str, key: &str) -> NewReconItem {
    NewReconItem {
        item_key: key.into(),
        class: class.into(),
        reason: "test".into(),
        match_key: Some(key.into()),
        payment_ids: vec![],
        provider_rows: json!([]).into(),
        ours: Kurus::from_minor(100).unwrap(),
        theirs: Kurus::from_minor(100).unwrap(),
        ours_reversed: Kurus::ZERO,
        theirs_reversed: Kurus::ZERO,
        proposal: None,
        flags: json!({}).into(),
    }
}

#[tokio::test]
async fn reconciliation_exceptions_are_an_event() {
    for_each_engine(
        "reconciliation_exceptions_are_an_event",
        |store| async move {
            let c = company(&store, "A").await;
            let p = pos(&store, &c.id).await;
            let hook = endpoint(&store, &c.id, &["reconciliation.exceptions"]).await;
            // All matched: nothing to tell.
            let clean = run(&c.id, &p.id);
            store
                .insert_recon_run(
                    clean.clone(),
                    vec![item("matched", "k1")],
                    audit(&c.id, "recon.run", &clean.id),
                )
                .await
                .unwrap();
            assert!(store.list_events_of(&clean.id).await.unwrap().is_empty());
            // One exception: an event, written with the run.
            let open = run(&c.id, &p.id);
            store
                .insert_recon_run(
                    open.clone(),
                    vec![item("matched", "k1"), item("provider_only", "k2")],
                    audit(&c.id, "recon.run", &open.id),
                )
                .await
                .unwrap();
            let events = store.list_events_of(&open.id).await.unwrap();
            assert_eq!(events.len(), 1);
            assert_eq!(events[0].0, "reconciliation.exceptions");
            let body: serde_json::Value = serde_json::from_str(&events[0].1).unwrap();
            assert_eq!(body["data"]["reconciliation"]["id"], open.id.as_str());
            assert_eq!(body["data"]["reconciliation"]["open_exceptions"], 1);
            assert_eq!(
                store.list_deliveries(&c.id, &hook, 10).await.unwrap().len(),
                1
            );
        },
    )
    .await;
}

#[tokio::test]
async fn a_large_run_keeps_every_item_in_order_and_earlier_decisions() {
    // More items than one write takes (the run is written in parts), than one insert
    // statement takes, and more exceptions than one look-up of earlier decisions asks
    // for: every item lands once, in order, and a decision taken on an item of an
    // earlier run goes with the same item into the next run.
    for_each_engine(
        "a_large_run_keeps_every_item_in_order_and_earlier_decisions",
        |store| async move {
            let c = company(&store, "A").await;
            let p = pos(&store, &c.id).await;
            endpoint(&store, &c.id, &["reconciliation.exceptions"]).await;
            let items = || -> Vec<NewReconItem> {
                (0..4601)
                    .map(|i| {
                        let class = if i % 2 == 0 {
                            "provider_only"
                        } else {
                            "matched"
                        };
                        item(class, &format!("k{i}"))
                    })
                    .collect()
            };
            let first = run(&c.id, &p.id);
            store
                .insert_recon_run(first.clone(), items(), audit(&c.id, "recon.run", &first.id))
                .await
                .unwrap();
            let stored = store
                .list_recon_items(&c.id, &first.id, None)
                .await
                .unwrap();
            assert_eq!(stored.len(), 4601);
            assert!(stored.iter().enumerate().all(|(i, r)| r.seq == i as i64
                && r.item.item_key == format!("k{i}")
                && r.resolution.is_none()));
            // Decide two exceptions: one in the first part, one in a later one.
            for (key, decision) in [("k4", "dismissed"), ("k4200", "dismissed")] {
                let target = stored.iter().find(|r| r.item.item_key == key).unwrap();
                store
                    .resolve_recon_item(ReconResolution {
                        company_id: c.id.clone(),
                        run_id: first.id.clone(),
                        item_id: target.id.clone(),
                        resolution: decision.into(),
                        reason: Some("known".into()),
                        payment_id: None,
                        new_payment: None,
                        resolved_by: "user:test".into(),
                        resolved_at: now_ms(),
                        audit: audit(&c.id, "recon.resolved", &target.id),
                    })
                    .await
                    .unwrap();
            }
            let second = run(&c.id, &p.id);
            store
                .insert_recon_run(
                    second.clone(),
                    items(),
                    audit(&c.id, "recon.run", &second.id),
                )
                .await
                .unwrap();
            let again = store
                .list_recon_items(&c.id, &second.id, None)
                .await
                .unwrap();
            assert_eq!(again.len(), 4601);
            let decided: Vec<&str> = again
                .iter()
                .filter(|r| r.resolution.is_some())
                .map(|r| r.item.item_key.as_str())
                .collect();
            assert_eq!(decided, ["k4", "k4200"]);
            assert!(again.iter().filter(|r| r.resolution.is_some()).all(|r| r
                .resolution
                .as_deref()
                == Some("dismissed")
                && r.resolution_reason.as_deref() == Some("known")));
            // The event counts the exceptions still open: 2,301 less the two decided.
            let events = store.list_events_of(&second.id).await.unwrap();
            let body: serde_json::Value = serde_json::from_str(&events[0].1).unwrap();
            assert_eq!(body["data"]["reconciliation"]["open_exceptions"], 2299);
            assert_eq!(store.open_recon_exceptions(&c.id).await.unwrap(), 2299);
        },
    )
    .await;
}

/// A run read a page at a time: every filter's pages, joined, are the run's items of
/// that filter in order; the open exceptions are counted and the payments the run has
/// spoken for listed without reading every item; another company sees nothing; the
/// exceptions' pages read their own index on SQLite.
#[tokio::test]
async fn a_run_is_read_a_page_at_a_time() {
    for_each_engine("a_run_is_read_a_page_at_a_time", |store| async move {
        let c = company(&store, "A").await;
        let other = company(&store, "B").await;
        let p = pos(&store, &c.id).await;
        let items: Vec<NewReconItem> = (0..1000)
            .map(|i| {
                let class = match i % 10 {
                    0 => "provider_only",
                    5 => "amount_mismatch",
                    _ => "matched",
                };
                let mut item = item(class, &format!("k{i}"));
                if class != "provider_only" {
                    item.payment_ids = vec![format!("pay_{i}")];
                }
                item
            })
            .collect();
        let r = run(&c.id, &p.id);
        store
            .insert_recon_run(r.clone(), items, audit(&c.id, "recon.run", &r.id))
            .await
            .unwrap();
        let all = store.list_recon_items(&c.id, &r.id, None).await.unwrap();
        // Decide two exceptions: one dismissed, one force-matched with a payment.
        for (key, payment) in [("k10", None), ("k20", Some("pay_found"))] {
            let target = all.iter().find(|i| i.item.item_key == key).unwrap();
            store
                .resolve_recon_item(ReconResolution {
                    company_id: c.id.clone(),
                    run_id: r.id.clone(),
                    item_id: target.id.clone(),
                    resolution: if payment.is_some() {
                        "force_matched"
                    } else {
                        "dismissed"
                    }
                    .into(),
                    reason: Some("known".into()),
                    payment_id: payment.map(str::to_owned),
                    new_payment: None,
                    resolved_by: "user:test".into(),
                    resolved_at: now_ms(),
                    audit: audit(&c.id, "recon.resolved", &target.id),
                })
                .await
                .unwrap();
        }
        let all = store.list_recon_items(&c.id, &r.id, None).await.unwrap();
        let keys = |items: &[ReconItemRecord]| -> Vec<String> {
            items.iter().map(|i| i.item.item_key.clone()).collect()
        };
        for (filter, limit) in [
            (ItemFilter::All, 300),
            (ItemFilter::Exceptions, 30),
            (ItemFilter::Class("matched"), 333),
            (ItemFilter::Class("amount_mismatch"), 7),
            (ItemFilter::Class("provider_only"), 100),
            (ItemFilter::Class("duplicate"), 5),
        ] {
            let mut paged = Vec::new();
            let mut after = None;
            loop {
                let page = store
                    .recon_items_page(&c.id, &r.id, filter, after, limit)
                    .await
                    .unwrap();
                assert!(page.len() <= limit as usize);
                after = page.last().map(|i| i.seq);
                let last = page.len() < limit as usize;
                paged.extend(page);
                if last {
                    break;
                }
            }
            let wanted: Vec<ReconItemRecord> = all
                .iter()
                .filter(|i| match filter {
                    ItemFilter::All => true,
                    ItemFilter::Exceptions => i.item.class != "matched",
                    ItemFilter::Class(class) => i.item.class == class,
                })
                .cloned()
                .collect();
            assert_eq!(keys(&paged), keys(&wanted), "{filter:?}");
            assert_eq!(paged, wanted, "{filter:?}");
        }
        assert_eq!(all.len(), 1000);
        assert_eq!(
            store
                .count_open_recon_exceptions(&c.id, &r.id)
                .await
                .unwrap(),
            198,
            "200 exceptions, two decided"
        );
        let mut taken = store.recon_taken_payments(&c.id, &r.id).await.unwrap();
        taken.sort();
        let mut expected: Vec<String> = (0..1000)
            .filter(|i| i % 10 != 0 && i % 10 != 5)
            .map(|i| format!("pay_{i}"))
            .chain(["pay_found".to_owned()])
            .collect();
        expected.sort();
        assert_eq!(taken, expected);
        // Another company's reads find nothing of the run.
        let theirs = store
            .recon_items_page(&other.id, &r.id, ItemFilter::All, None, 10)
            .await
            .unwrap();
        assert!(theirs.is_empty());
        assert_eq!(
            store
                .count_open_recon_exceptions(&other.id, &r.id)
                .await
                .unwrap(),
            0
        );
        assert!(store
            .recon_taken_payments(&other.id, &r.id)
            .await
            .unwrap()
            .is_empty());
        if store.engine() == Engine::Sqlite {
            for filter in [ItemFilter::Exceptions, ItemFilter::Class("provider_only")] {
                let plan = store
                    .explain_recon_items_page(&c.id, &r.id, filter)
                    .await
                    .unwrap()
                    .join("\n");
                assert!(
                    plan.contains("recon_items_exceptions"),
                    "{filter:?}: {plan}"
                );
            }
        }
    })
    .await;
}

#[tokio::test]
async fn a_run_left_half_written_is_never_shown_and_the_janitor_takes_it_away() {
    // A large run is written in parts, shown only once its last part is in. One an
    // instance stopped writing (here: a finished run set back to `writing`) is in no
    // list, count or look-up, and the purge takes it and its items away.
    async fn case(store: Store, url: String) {
        let c = company(&store, "A").await;
        let p = pos(&store, &c.id).await;
        let finished = run(&c.id, &p.id);
        store
            .insert_recon_run(
                finished.clone(),
                vec![item("provider_only", "k0")],
                audit(&c.id, "recon.run", &finished.id),
            )
            .await
            .unwrap();
        let mut half = run(&c.id, &p.id);
        half.created_at += 1;
        let items: Vec<NewReconItem> = (0..2500)
            .map(|i| item("system_only", &format!("h{i}")))
            .collect();
        store
            .insert_recon_run(half.clone(), items, audit(&c.id, "recon.run", &half.id))
            .await
            .unwrap();
        // The later run of the period supersedes the first.
        assert_eq!(store.open_recon_exceptions(&c.id).await.unwrap(), 2500);
        let pool = raw_pool(&url).await;
        sqlx::query("UPDATE recon_runs SET status = 'writing', created_at = 5 WHERE id = $1")
            .bind(&half.id)
            .execute(&pool)
            .await
            .unwrap();
        pool.close().await;
        assert!(matches!(
            store.get_recon_run(&c.id, &half.id).await,
            Err(StoreError::NotFound)
        ));
        let listed: Vec<String> = store
            .list_recon_runs(&c.id, 10)
            .await
            .unwrap()
            .into_iter()
            .map(|r| r.id)
            .collect();
        assert_eq!(listed, std::slice::from_ref(&finished.id));
        assert_eq!(store.open_recon_exceptions(&c.id).await.unwrap(), 1);
        // Only runs started before the cut go.
        assert_eq!(store.purge_unfinished_recon_runs(5).await.unwrap(), 0);
        assert_eq!(store.purge_unfinished_recon_runs(6).await.unwrap(), 1);
        assert!(store
            .list_recon_items(&c.id, &half.id, None)
            .await
            .unwrap()
            .is_empty());
        assert_eq!(
            store.purge_unfinished_recon_runs(now_ms()).await.unwrap(),
            0
        );
        assert_eq!(
            store
                .list_recon_items(&c.id, &finished.id, None)
                .await
                .unwrap()
                .len(),
            1
        );
    }
    sanalpos_store::install_drivers();
    let (store, guard) = sanalpos_store::testing::sqlite_store().await;
    case(store, guard.url().to_owned()).await;
    if let Some((store, guard)) = sanalpos_store::testing::postgres_store("half_written_run").await
    {
        case(store.clone(), guard.url().to_owned()).await;
        store.close().await;
    }
}

#[tokio::test]
async fn a_run_written_part_by_part_is_hidden_until_finished_and_abandoned_whole() {
    // The parts a caller hands over one after another continue each other's order; the
    // run is in no list until it is finished; an abandoned run leaves neither its row
    // nor the items written so far, nor an event.
    for_each_engine(
        "a_run_written_part_by_part_is_hidden_until_finished",
        |store| async move {
            let c = company(&store, "A").await;
            let p = pos(&store, &c.id).await;
            let hook = endpoint(&store, &c.id, &["reconciliation.exceptions"]).await;
            let part = |from: usize, to: usize| -> Vec<NewReconItem> {
                (from..to)
                    .map(|i| item("provider_only", &format!("p{i}")))
                    .collect()
            };

            let left = run(&c.id, &p.id);
            let mut writing = store.begin_recon_run(left.clone(), &[]).await.unwrap();
            store
                .write_recon_items(&mut writing, part(0, 450))
                .await
                .unwrap();
            assert!(store.list_recon_runs(&c.id, 10).await.unwrap().is_empty());
            store.abandon_recon_run(writing).await;
            assert!(store
                .list_recon_items(&c.id, &left.id, None)
                .await
                .unwrap()
                .is_empty());
            assert_eq!(
                store.purge_unfinished_recon_runs(now_ms()).await.unwrap(),
                0
            );

            let shown = run(&c.id, &p.id);
            let keys: Vec<String> = (0..700).map(|i| format!("p{i}")).collect();
            let keys: Vec<&str> = keys.iter().map(String::as_str).collect();
            let mut writing = store.begin_recon_run(shown.clone(), &keys).await.unwrap();
            for (from, to) in [(0, 250), (250, 251), (251, 700)] {
                store
                    .write_recon_items(&mut writing, part(from, to))
                    .await
                    .unwrap();
                assert!(matches!(
                    store.get_recon_run(&c.id, &shown.id).await,
                    Err(StoreError::NotFound)
                ));
            }
            store
                .finish_recon_run(writing, audit(&c.id, "recon.run", &shown.id))
                .await
                .unwrap();
            let listed: Vec<String> = store
                .list_recon_runs(&c.id, 10)
                .await
                .unwrap()
                .into_iter()
                .map(|r| r.id)
                .collect();
            assert_eq!(listed, std::slice::from_ref(&shown.id));
            let items = store
                .list_recon_items(&c.id, &shown.id, None)
                .await
                .unwrap();
            assert_eq!(items.len(), 700);
            assert!(items
                .iter()
                .enumerate()
                .all(|(i, r)| r.seq == i as i64 && r.item.item_key == format!("p{i}")));
            assert_eq!(store.open_recon_exceptions(&c.id).await.unwrap(), 700);
            // One webhook event: the finished run's, none for the abandoned one.
            assert!(store.list_events_of(&left.id).await.unwrap().is_empty());
            assert_eq!(store.list_events_of(&shown.id).await.unwrap().len(), 1);
            assert_eq!(
                store.list_deliveries(&c.id, &hook, 10).await.unwrap().len(),
                1
            );
        },
    )
    .await;
}
