//! The store on both engines: the same test bodies run on SQLite and PostgreSQL.

#![allow(clippy::unwrap_used)]

use std::time::Duration;

use crate::helpers::*;
use sanalpos_store::testing::{for_each_engine, sqlite_store};
use sanalpos_store::*;

#[tokio::test]
async fn payments_attempts_and_paging() {
    for_each_engine("payments_attempts_and_paging", |store| async move {
        let c = company(&store, "A").await;
        let p = pos(&store, &c.id).await;
        let mut ids = Vec::new();
        for i in 0..5 {
            let pay = payment(&c.id, &p.id, PaymentStatus::Processing, 1000 + i);
            let a = attempt(&pay, Operation::Sale);
            store.begin_payment(pay.clone(), a.clone()).await.unwrap();
            let mut change = PaymentChange::to(
                &pay.id,
                &[PaymentStatus::Processing],
                PaymentStatus::Approved,
            );
            change.auth_code = sanalpos_core::AuthCode::parse("123456").ok();
            let applied = store
                .finish_attempt(FinishAttempt {
                    result: Some(AttemptResult {
                        attempt_id: a.id.clone(),
                        outcome: AttemptOutcome::Approved,
                        bank_code: Some("00".into()),
                        message: None,
                        http_status: Some(200),
                        latency_ms: 5,
                        raw: Some("{}".into()),
                        finished_at: now_ms(),
                    }),
                    payment: Some(change.clone()),
                    audit: vec![audit(&c.id, "payment.approved", &pay.id)],
                    ..FinishAttempt::default()
                })
                .await
                .unwrap();
            assert!(applied.applied);
            assert_eq!(
                applied.payment.as_ref().map(|p| p.status),
                Some(PaymentStatus::Approved)
            );
            // The guard: a second change from `processing` does not apply.
            let refused = store
                .finish_attempt(FinishAttempt {
                    payment: Some(change),
                    ..FinishAttempt::default()
                })
                .await
                .unwrap();
            assert!(!refused.applied);
            assert_eq!(refused.payment, applied.payment);
            ids.push(pay.id);
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        let got = store.get_payment(&c.id, &ids[0]).await.unwrap();
        assert_eq!(got.status, PaymentStatus::Approved);
        assert_eq!(got.auth_code.as_deref(), Some("123456"));
        let attempts = store.list_attempts(&ids[0]).await.unwrap();
        assert_eq!(attempts.len(), 1);
        assert_eq!(attempts[0].state, AttemptState::Completed);
        // Completed with everything its result said (on PostgreSQL in the payment's
        // statement).
        assert_eq!(attempts[0].outcome, Some(AttemptOutcome::Approved));
        assert_eq!(attempts[0].bank_code.as_deref(), Some("00"));
        assert_eq!(attempts[0].http_status, Some(200));
        assert_eq!(attempts[0].latency_ms, Some(5));
        assert_eq!(attempts[0].raw.as_deref(), Some("{}"));
        assert!(attempts[0].finished_at.is_some());
        // An attempt is completed also when its payment's change does not apply (in a
        // company of its own, out of the paging below).
        let c3 = company(&store, "C").await;
        let p3 = pos(&store, &c3.id).await;
        let late = payment(&c3.id, &p3.id, PaymentStatus::Processing, 999);
        let late_attempt = attempt(&late, Operation::Sale);
        store
            .begin_payment(late.clone(), late_attempt.clone())
            .await
            .unwrap();
        let not_applied = store
            .finish_attempt(FinishAttempt {
                result: Some(AttemptResult {
                    attempt_id: late_attempt.id.clone(),
                    outcome: AttemptOutcome::Declined,
                    bank_code: Some("51".into()),
                    message: Some("Yetersiz bakiye".into()),
                    http_status: Some(200),
                    latency_ms: 7,
                    raw: None,
                    finished_at: now_ms(),
                }),
                payment: Some(PaymentChange::to(
                    &late.id,
                    &[PaymentStatus::Pending3ds],
                    PaymentStatus::Declined,
                )),
                ..FinishAttempt::default()
            })
            .await
            .unwrap();
        assert!(!not_applied.applied);
        assert_eq!(
            not_applied.payment.map(|p| p.status),
            Some(PaymentStatus::Processing)
        );
        let completed = store.list_attempts(&late.id).await.unwrap();
        assert_eq!(completed.len(), 1);
        assert_eq!(completed[0].state, AttemptState::Completed);
        assert_eq!(completed[0].outcome, Some(AttemptOutcome::Declined));
        assert_eq!(completed[0].message.as_deref(), Some("Yetersiz bakiye"));
        assert_eq!(completed[0].latency_ms, Some(7));
        // Another company does not see it.
        let other = company(&store, "B").await;
        assert_eq!(
            store.get_payment(&other.id, &ids[0]).await,
            Err(StoreError::NotFound)
        );
        // Paging, newest first.
        let mut query = PaymentQuery {
            limit: 2,
            ..PaymentQuery::default()
        };
        let page1 = store.list_payments(&c.id, &query).await.unwrap();
        assert_eq!(
            page1.iter().map(|p| p.id.clone()).collect::<Vec<_>>(),
            vec![ids[4].clone(), ids[3].clone()]
        );
        query.after = page1.last().map(|p| (p.created_at, p.id.clone()));
        let page2 = store.list_payments(&c.id, &query).await.unwrap();
        assert_eq!(page2[0].id, ids[2]);
        let filtered = store
            .list_payments(
                &c.id,
                &PaymentQuery {
                    order_ref: Some("SO-1".into()),
                    status: Some(PaymentStatus::Approved),
                    limit: 50,
                    ..PaymentQuery::default()
                },
            )
            .await
            .unwrap();
        assert_eq!(filtered.len(), 5);
    })
    .await;
}

#[tokio::test]
async fn refund_cap_holds_under_concurrency() {
    for_each_engine("refund_cap_holds_under_concurrency", |store| async move {
        let c = company(&store, "A").await;
        let p = pos(&store, &c.id).await;
        let pay = payment(&c.id, &p.id, PaymentStatus::Approved, 10_000);
        store
            .begin_payment(pay.clone(), attempt(&pay, Operation::Sale))
            .await
            .unwrap();
        // Ten concurrent refunds of 30.00 against 100.00: exactly three fit.
        let mut tasks = Vec::new();
        for _ in 0..10 {
            let store = store.clone();
            let pay = pay.clone();
            tasks.push(tokio::spawn(async move {
                store
                    .begin_refund(refund(&pay, 3_000), attempt(&pay, Operation::Refund))
                    .await
            }));
        }
        let mut ok = 0;
        for t in tasks {
            match t.await.unwrap() {
                Ok(_) => ok += 1,
                Err(e) => assert_eq!(e.code(), "refund_exceeds_captured"),
            }
        }
        assert_eq!(ok, 3);
        let refunds = store.list_refunds(&pay.id).await.unwrap();
        assert_eq!(refunds.len(), 3);
        // Approving them moves the payment to partially refunded with 90.00.
        for r in &refunds {
            store
                .finish_attempt(FinishAttempt {
                    refund: Some(RefundResult {
                        refund_id: r.id.clone(),
                        status: RefundStatus::Approved,
                        provider_ref: Some("IKSIRPF9".into()),
                        bank_code: None,
                        message_tr: None,
                        message_en: None,
                        retry_at: None,
                    }),
                    ..FinishAttempt::default()
                })
                .await
                .unwrap();
        }
        let after = store.get_payment(&c.id, &pay.id).await.unwrap();
        assert_eq!(after.status, PaymentStatus::PartiallyRefunded);
        assert_eq!(after.refunded_amount.minor(), 9_000);
    })
    .await;
}

#[tokio::test]
async fn idempotency_semantics() {
    for_each_engine("idempotency_semantics", |store| async move {
        let c = company(&store, "A").await;
        let now = now_ms();
        assert_eq!(
            store
                .idempotency_begin(&c.id, "k1", "h1", now)
                .await
                .unwrap(),
            IdempotencyBegin::Started
        );
        assert_eq!(
            store
                .idempotency_begin(&c.id, "k1", "h1", now)
                .await
                .unwrap(),
            IdempotencyBegin::InProgress
        );
        assert_eq!(
            store
                .idempotency_begin(&c.id, "k1", "h2", now)
                .await
                .unwrap(),
            IdempotencyBegin::Mismatch
        );
        store
            .idempotency_finish(&c.id, "k1", 201, "{\"id\":1}")
            .await
            .unwrap();
        assert_eq!(
            store
                .idempotency_begin(&c.id, "k1", "h1", now)
                .await
                .unwrap(),
            IdempotencyBegin::Replay {
                status: 201,
                body: "{\"id\":1}".into()
            }
        );
        // Another company has its own keys.
        let other = company(&store, "B").await;
        assert_eq!(
            store
                .idempotency_begin(&other.id, "k1", "h9", now)
                .await
                .unwrap(),
            IdempotencyBegin::Started
        );
        // A stuck key is taken over after its lock; a released key starts afresh.
        assert_eq!(
            store
                .idempotency_begin(&c.id, "k2", "h", now)
                .await
                .unwrap(),
            IdempotencyBegin::Started
        );
        let later = now + IDEMPOTENCY_LOCK.as_millis() as i64 + 1;
        assert_eq!(
            store
                .idempotency_begin(&c.id, "k2", "h", later)
                .await
                .unwrap(),
            IdempotencyBegin::Started
        );
        store.idempotency_release(&c.id, "k2").await.unwrap();
        assert_eq!(
            store
                .idempotency_begin(&c.id, "k2", "other", now)
                .await
                .unwrap(),
            IdempotencyBegin::Started
        );
        // Kept a day, purged after.
        assert_eq!(store.purge_idempotency(now + 3_600_000).await.unwrap(), 0);
        assert!(store.purge_idempotency(now + 26 * 3_600_000).await.unwrap() >= 3);
        // Fifty concurrent claims: exactly one starts.
        let mut tasks = Vec::new();
        for _ in 0..50 {
            let store = store.clone();
            let id = c.id.clone();
            tasks.push(tokio::spawn(async move {
                store
                    .idempotency_begin(&id, "k3", "h", now_ms())
                    .await
                    .unwrap()
            }));
        }
        let mut started = 0;
        for t in tasks {
            if t.await.unwrap() == IdempotencyBegin::Started {
                started += 1;
            }
        }
        assert_eq!(started, 1);
    })
    .await;
}

#[tokio::test]
async fn leases() {
    for_each_engine("leases", |store| async move {
        assert!(store
            .try_lease("eod", "a", Duration::from_secs(60))
            .await
            .unwrap());
        assert!(!store
            .try_lease("eod", "b", Duration::from_secs(60))
            .await
            .unwrap());
        assert!(store
            .try_lease("eod", "a", Duration::from_secs(60))
            .await
            .unwrap());
        assert!(store
            .try_lease("eod2", "b", Duration::from_millis(1))
            .await
            .unwrap());
        tokio::time::sleep(Duration::from_millis(5)).await;
        assert!(store
            .try_lease("eod2", "a", Duration::from_secs(60))
            .await
            .unwrap());
        let c = company(&store, "A").await;
        let p = pos(&store, &c.id).await;
        let pay = payment(&c.id, &p.id, PaymentStatus::Unknown, 100);
        store
            .begin_payment(pay.clone(), attempt(&pay, Operation::Sale))
            .await
            .unwrap();
        assert!(store.lease_payment(&pay.id, "a", 60_000).await.unwrap());
        assert!(!store.lease_payment(&pay.id, "b", 60_000).await.unwrap());
        store.release_payment(&pay.id, "a").await.unwrap();
        assert!(store.lease_payment(&pay.id, "b", 60_000).await.unwrap());
        store.release_payment(&pay.id, "b").await.unwrap();
        // Leasing from an older reading fails once the payment has changed since.
        let stored = store.get_payment(&c.id, &pay.id).await.unwrap();
        assert!(!store
            .lease_payment_unchanged(&pay.id, "c", 60_000, stored.updated_at - 1)
            .await
            .unwrap());
        assert!(store
            .lease_payment_unchanged(&pay.id, "c", 60_000, stored.updated_at)
            .await
            .unwrap());
        assert!(!store
            .lease_payment_unchanged(&pay.id, "d", 60_000, stored.updated_at)
            .await
            .unwrap());
    })
    .await;
}

#[tokio::test]
async fn pos_versions_and_defaults() {
    for_each_engine("pos_versions_and_defaults", |store| async move {
        let c = company(&store, "A").await;
        let epoch = store.settings_epoch().await.unwrap();
        let first = pos(&store, &c.id).await;
        let second = pos(&store, &c.id).await;
        // Every change to a POS moves the settings epoch (a kept copy is then stale).
        assert_eq!(store.settings_epoch().await.unwrap(), epoch + 2);
        let list = store.list_pos(&c.id).await.unwrap();
        assert_eq!(list.iter().filter(|p| p.is_default).count(), 1);
        assert_eq!(list[0].id, second.id);
        let mut change = store.get_pos(&c.id, &first.id).await.unwrap();
        change.onboarding_state = OnboardingState::Inactive;
        let updated = store
            .update_pos(change.clone(), audit(&c.id, "pos.updated", &first.id))
            .await
            .unwrap();
        assert_eq!(updated.version, change.version + 1);
        assert_eq!(updated.onboarding_state, OnboardingState::Inactive);
        assert_eq!(store.settings_epoch().await.unwrap(), epoch + 3);
        // A stale version is refused, and the epoch stays.
        let err = store
            .update_pos(change, audit(&c.id, "pos.updated", &first.id))
            .await
            .unwrap_err();
        assert_eq!(err.code(), "stale_version");
        assert_eq!(store.settings_epoch().await.unwrap(), epoch + 3);
    })
    .await;
}

#[tokio::test]
async fn users_and_keys() {
    for_each_engine("users_and_keys", |store| async move {
        let c = company(&store, "A").await;
        let user = User {
            id: new_id("usr"),
            username: "ayse".into(),
            role: Role::Accountant,
            company_ids: vec![c.id.clone()],
            created_at: now_ms(),
        };
        store
            .insert_user(
                user.clone(),
                "hash".into(),
                vec![audit(&c.id, "user.created", &user.id)],
            )
            .await
            .unwrap();
        let dup = User {
            id: new_id("usr"),
            ..user.clone()
        };
        assert_eq!(
            store
                .insert_user(dup, "h".into(), vec![])
                .await
                .unwrap_err()
                .code(),
            "username_taken"
        );
        let (found, hash) = store.find_user("ayse").await.unwrap().unwrap();
        assert_eq!(
            (found.role, hash.as_str(), found.company_ids.len()),
            (Role::Accountant, "hash", 1)
        );
        let key = ApiKey {
            id: new_id("key"),
            company_id: c.id.clone(),
            name: "shop".into(),
            prefix: "sk_live_abcdefgh".into(),
            created_at: now_ms(),
            revoked_at: None,
        };
        let epoch = store.settings_epoch().await.unwrap();
        store
            .insert_api_key(
                key.clone(),
                "h".into(),
                audit(&c.id, "api_key.created", &key.id),
            )
            .await
            .unwrap();
        assert_eq!(store.settings_epoch().await.unwrap(), epoch + 1);
        // The key with the epoch of the same read: the label a kept copy takes.
        let (found, hash, label) = store
            .find_api_key_at_epoch("sk_live_abcdefgh")
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            (found.id.as_str(), hash.as_str(), label),
            (key.id.as_str(), "h", epoch + 1)
        );
        assert!(store
            .find_api_key_at_epoch("sk_live_nothere0")
            .await
            .unwrap()
            .is_none());
        assert!(store
            .find_api_key("sk_live_abcdefgh")
            .await
            .unwrap()
            .is_some());
        store
            .revoke_api_key(&c.id, &key.id, audit(&c.id, "api_key.revoked", &key.id))
            .await
            .unwrap();
        let (k, _) = store
            .find_api_key("sk_live_abcdefgh")
            .await
            .unwrap()
            .unwrap();
        assert!(k.revoked_at.is_some());
        assert_eq!(store.settings_epoch().await.unwrap(), epoch + 2);
        assert_eq!(
            store
                .revoke_api_key(&c.id, &key.id, audit(&c.id, "x", "y"))
                .await,
            Err(StoreError::NotFound)
        );
        assert_eq!(store.settings_epoch().await.unwrap(), epoch + 2);
    })
    .await;
}

#[tokio::test]
async fn migrations_apply_once() {
    let (store, guard) = sqlite_store().await;
    store.close().await;
    let again = Store::open(guard.url()).await.unwrap();
    again.ping().await.unwrap();
    assert_eq!(again.engine(), Engine::Sqlite);
}

#[tokio::test]
async fn an_idempotency_key_creates_one_payment() {
    for_each_engine(
        "an_idempotency_key_creates_one_payment",
        |store| async move {
            let c = company(&store, "A").await;
            let p = pos(&store, &c.id).await;
            let first = payment(&c.id, &p.id, PaymentStatus::Processing, 100);
            store
                .begin_keyed_payment(first.clone(), attempt(&first, Operation::Sale), "k1".into())
                .await
                .unwrap();
            let second = payment(&c.id, &p.id, PaymentStatus::Processing, 100);
            let refused = store
                .begin_keyed_payment(
                    second.clone(),
                    attempt(&second, Operation::Sale),
                    "k1".into(),
                )
                .await;
            assert_key_has_payment(&refused);
            // Nothing of the second was written; the first has its attempt.
            assert!(matches!(
                store.get_payment(&c.id, &second.id).await,
                Err(StoreError::NotFound)
            ));
            assert!(store.list_attempts(&second.id).await.unwrap().is_empty());
            let attempts = store.list_attempts(&first.id).await.unwrap();
            assert_eq!(attempts.len(), 1, "{attempts:?}");
            assert_eq!(attempts[0].operation, Operation::Sale);
            assert_eq!(attempts[0].amount, first.amount);
            let found = store.payment_for_key(&c.id, "k1").await.unwrap().unwrap();
            assert_eq!(found.id, first.id);
            assert!(store.payment_for_key(&c.id, "k2").await.unwrap().is_none());
            // Keys belong to a company.
            let other = company(&store, "B").await;
            assert!(store
                .payment_for_key(&other.id, "k1")
                .await
                .unwrap()
                .is_none());
        },
    )
    .await;
}

#[tokio::test]
async fn rate_counters_add_up_in_one_statement_and_ended_windows_go() {
    for_each_engine("rate_counters", |store| async move {
        let hit = |scope: &str, subject: &str, window_start: i64| RateHit {
            scope: scope.to_owned(),
            subject: subject.to_owned(),
            window_start,
        };
        // Two counters at once, each with its own count.
        for n in 1..=3i64 {
            let mut counts = store
                .rate_hit(vec![hit("key", "k1", 600), hit("company", "c1", 600)])
                .await
                .unwrap();
            counts.sort();
            assert_eq!(counts, vec![("company".into(), n), ("key".into(), n)]);
        }
        // Another subject, another window: counted apart.
        let counts = store.rate_hit(vec![hit("key", "k2", 600)]).await.unwrap();
        assert_eq!(counts, vec![("key".to_owned(), 1)]);
        let counts = store.rate_hit(vec![hit("key", "k1", 660)]).await.unwrap();
        assert_eq!(counts, vec![("key".to_owned(), 1)]);
        assert!(store.rate_hit(Vec::new()).await.unwrap().is_empty());
        // Concurrent hits on one counter are all counted.
        let mut tasks = Vec::new();
        for _ in 0..20 {
            let store = store.clone();
            tasks.push(tokio::spawn(async move {
                store.rate_hit(vec![hit("key", "busy", 600)]).await.unwrap()
            }));
        }
        let mut seen = Vec::new();
        for task in tasks {
            seen.push(task.await.unwrap()[0].1);
        }
        seen.sort_unstable();
        assert_eq!(seen, (1..=20).collect::<Vec<i64>>(), "each count once");
        // Windows started before 660 are deleted; the one at 660 stays.
        assert_eq!(store.purge_rate_counters(660).await.unwrap(), 4);
        assert_eq!(store.rate_count("key", "k1", 600).await.unwrap(), 0);
        assert_eq!(store.rate_count("key", "k1", 660).await.unwrap(), 1);
    })
    .await;
}

#[tokio::test]
async fn two_stores_count_in_rows_of_their_own_and_see_each_others_hits() {
    // Two instances on one PostgreSQL database: each writer adds to a row of its own
    // (nobody waits for the other's counter row), and each count includes the other
    // instance's committed hits.
    let Some((first, guard)) = sanalpos_store::testing::postgres_store("rate_counter_shards").await
    else {
        return;
    };
    let second = Store::open(guard.url()).await.unwrap();
    let hit = || {
        vec![RateHit {
            scope: "api_payment_company".into(),
            subject: "c1".into(),
            window_start: 600,
        }]
    };
    assert_eq!(first.rate_hit(hit()).await.unwrap()[0].1, 1);
    assert_eq!(first.rate_hit(hit()).await.unwrap()[0].1, 2);
    assert_eq!(second.rate_hit(hit()).await.unwrap()[0].1, 3);
    assert_eq!(first.rate_hit(hit()).await.unwrap()[0].1, 4);
    let mut tasks = Vec::new();
    for i in 0..200 {
        let store = if i % 2 == 0 {
            first.clone()
        } else {
            second.clone()
        };
        tasks.push(tokio::spawn(async move {
            store.rate_hit(hit()).await.unwrap()[0].1
        }));
    }
    for task in tasks {
        let count = task.await.unwrap();
        assert!((5..=204).contains(&count), "{count}");
    }
    assert_eq!(
        first
            .rate_count("api_payment_company", "c1", 600)
            .await
            .unwrap(),
        204
    );
    let pool = raw_pool(guard.url()).await;
    let rows: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM rate_counters")
        .fetch_one(&pool)
        .await
        .unwrap();
    pool.close().await;
    assert_eq!(rows, 2, "one row per instance's writer");
    second.close().await;
    first.close().await;
}

#[tokio::test]
async fn counters_of_an_older_release_keep_counting_after_the_upgrade() {
    sanalpos_store::testing::for_each_engine_at_version(
        "rate_counters_upgrade",
        17,
        |url, old| async move {
            old.execute_for_test(
                "INSERT INTO rate_counters (scope, subject, window_start, hits) \
                 VALUES ($1, $2, $3, $4)",
                &[
                    sanalpos_store::testing::TestParam::Text("api_payment_key"),
                    sanalpos_store::testing::TestParam::Text("key_1"),
                    sanalpos_store::testing::TestParam::Int(600),
                    sanalpos_store::testing::TestParam::Int(7),
                ],
            )
            .await;
            old.close().await;
            let store = Store::open(&url).await.unwrap();
            let hit = vec![RateHit {
                scope: "api_payment_key".into(),
                subject: "key_1".into(),
                window_start: 600,
            }];
            assert_eq!(store.rate_hit(hit).await.unwrap()[0].1, 8);
            assert_eq!(
                store
                    .rate_count("api_payment_key", "key_1", 600)
                    .await
                    .unwrap(),
                8
            );
            store.close().await;
        },
    )
    .await;
}

/// The velocity counts: declines only (not approvals, not refused attempts), of one
/// card or one client IP, since the window's start, stopping at the cap; served by the
/// partial indexes of migration 11 (SQLite's plan names them).
#[tokio::test]
async fn recent_declines_by_card_and_ip() {
    for_each_engine("recent_declines_by_card_and_ip", |store| async move {
        let c = company(&store, "Hız").await;
        let p = pos(&store, &c.id).await;
        let write = |status: PaymentStatus, fp: &str, ip: Option<&str>, at: i64| {
            let mut r = payment(&c.id, &p.id, status, 100);
            r.card_fingerprint = fp.to_owned();
            r.client_ip = ip.map(str::to_owned);
            r.created_at = at;
            r
        };
        let now = now_ms();
        let rows = vec![
            write(
                PaymentStatus::Declined,
                "card-a",
                Some("192.0.2.1"),
                now - 10,
            ),
            write(
                PaymentStatus::Declined,
                "card-a",
                Some("192.0.2.2"),
                now - 20,
            ),
            write(
                PaymentStatus::Declined,
                "card-b",
                Some("192.0.2.1"),
                now - 30,
            ),
            // Outside the window, approved, refused, or without an address: not counted.
            write(
                PaymentStatus::Declined,
                "card-a",
                Some("192.0.2.1"),
                now - 7_200_000,
            ),
            write(
                PaymentStatus::Approved,
                "card-a",
                Some("192.0.2.1"),
                now - 5,
            ),
            write(PaymentStatus::Blocked, "card-a", Some("192.0.2.1"), now - 5),
            write(PaymentStatus::Declined, "card-c", None, now - 5),
        ];
        for r in rows {
            let a = attempt(&r, Operation::Sale);
            store.begin_payment(r, a).await.unwrap();
        }
        let since = now - 3_600_000;
        let counts = store
            .recent_declines("card-a", Some("192.0.2.1"), since, 10)
            .await
            .unwrap();
        assert_eq!((counts.card, counts.ip), (2, 2));
        // No address: no IP count; the cap stops the reads.
        let counts = store
            .recent_declines("card-a", None, since, 10)
            .await
            .unwrap();
        assert_eq!((counts.card, counts.ip), (2, 0));
        let counts = store
            .recent_declines("card-a", Some("192.0.2.1"), since, 1)
            .await
            .unwrap();
        assert_eq!((counts.card, counts.ip), (1, 1));
        let counts = store
            .recent_declines("card-z", Some("198.51.100.1"), since, 10)
            .await
            .unwrap();
        assert_eq!((counts.card, counts.ip), (0, 0));
        // The settings epoch comes with the counts.
        assert_eq!(counts.settings_epoch, store.settings_epoch().await.unwrap());
        assert_eq!(store.count_blocked_since(&c.id, since).await.unwrap(), 1);
        let plan = store.explain_recent_declines().await.unwrap().join("\n");
        if store.engine() == Engine::Sqlite {
            assert!(plan.contains("payments_declines_by_card"), "{plan}");
            assert!(plan.contains("payments_declines_by_ip"), "{plan}");
        }
    })
    .await;
}

/// A key claimed with its payment: one transaction claims, counts and writes; a taken
/// key writes nothing; a limit reached counts, frees the key and writes no payment; the
/// answer is stored with the outcome only while the key waits for one.
#[tokio::test]
async fn a_key_is_claimed_counted_and_answered_with_its_payment() {
    for_each_engine(
        "a_key_is_claimed_counted_and_answered_with_its_payment",
        |store| async move {
            let c = company(&store, "A").await;
            let p = pos(&store, &c.id).await;
            let hit = |subject: &str| RateHit {
                scope: "api_payment_key".into(),
                subject: subject.into(),
                window_start: 0,
            };
            let claim = |key: &str, limit: i64| KeyClaim {
                company_id: c.id.clone(),
                key: key.into(),
                request_hash: "h1".into(),
                hits: vec![hit("key_1")],
                limits: vec![("api_payment_key".into(), limit)],
            };

            let first = payment(&c.id, &p.id, PaymentStatus::Processing, 100);
            let a = attempt(&first, Operation::Sale);
            let begun = store
                .begin_claimed_payment(first.clone(), a.clone(), claim("k1", 5))
                .await
                .unwrap();
            assert_eq!(begun, ClaimedBegin::Started);
            assert_eq!(
                store
                    .rate_count("api_payment_key", "key_1", 0)
                    .await
                    .unwrap(),
                1
            );
            assert_eq!(
                store
                    .payment_for_key(&c.id, "k1")
                    .await
                    .unwrap()
                    .unwrap()
                    .id,
                first.id
            );

            // The same key again, while the first still runs: nothing written, not counted.
            let second = payment(&c.id, &p.id, PaymentStatus::Processing, 100);
            let begun = store
                .begin_claimed_payment(
                    second.clone(),
                    attempt(&second, Operation::Sale),
                    claim("k1", 5),
                )
                .await
                .unwrap();
            assert_eq!(begun, ClaimedBegin::KeyTaken);
            assert!(matches!(
                store.get_payment(&c.id, &second.id).await,
                Err(StoreError::NotFound)
            ));
            assert_eq!(
                store
                    .rate_count("api_payment_key", "key_1", 0)
                    .await
                    .unwrap(),
                1
            );
            assert_eq!(
                store.idempotency_begin(&c.id, "k1", "h1", 0).await.unwrap(),
                IdempotencyBegin::InProgress
            );

            // The outcome stores the key's answer, rendered from the row it leaves.
            let mut finish = FinishAttempt {
                payment: Some(PaymentChange::to(
                    &first.id,
                    &[PaymentStatus::Processing],
                    PaymentStatus::Approved,
                )),
                answer: Some(KeyAnswer {
                    company_id: c.id.clone(),
                    key: "k1".into(),
                    render: std::sync::Arc::new(|p| {
                        (201, format!("{{\"status\":\"{}\"}}", p.status))
                    }),
                }),
                ..FinishAttempt::default()
            };
            let finished = store.finish_attempt(finish.clone()).await.unwrap();
            assert!(finished.answered);
            assert_eq!(
                store.idempotency_begin(&c.id, "k1", "h1", 0).await.unwrap(),
                IdempotencyBegin::Replay {
                    status: 201,
                    body: "{\"status\":\"approved\"}".into()
                }
            );
            // An answered key is not answered twice.
            finish.payment = Some(PaymentChange::to(
                &first.id,
                &[PaymentStatus::Approved],
                PaymentStatus::Approved,
            ));
            assert!(!store.finish_attempt(finish).await.unwrap().answered);

            // A limit reached: counted, the key free again, no payment.
            let third = payment(&c.id, &p.id, PaymentStatus::Processing, 100);
            let begun = store
                .begin_claimed_payment(
                    third.clone(),
                    attempt(&third, Operation::Sale),
                    claim("k2", 1),
                )
                .await
                .unwrap();
            assert_eq!(
                begun,
                ClaimedBegin::OverLimit(vec![("api_payment_key".into(), 2)])
            );
            assert!(matches!(
                store.get_payment(&c.id, &third.id).await,
                Err(StoreError::NotFound)
            ));
            assert!(store.payment_for_key(&c.id, "k2").await.unwrap().is_none());
            assert_eq!(
                store.idempotency_begin(&c.id, "k2", "h2", 0).await.unwrap(),
                IdempotencyBegin::Started,
                "the refused request gave its key back"
            );
            assert_eq!(store.list_attempts(&first.id).await.unwrap().len(), 1);

            // Two counters, one of them without a limit: each counted once.
            let fourth = payment(&c.id, &p.id, PaymentStatus::Processing, 100);
            let mut two = claim("k3", 5);
            two.hits = vec![
                hit("key_3"),
                RateHit {
                    scope: "api_payment_company".into(),
                    subject: c.id.clone(),
                    window_start: 0,
                },
            ];
            let begun = store
                .begin_claimed_payment(fourth.clone(), attempt(&fourth, Operation::Sale), two)
                .await
                .unwrap();
            assert_eq!(begun, ClaimedBegin::Started);
            for (scope, subject) in [("api_payment_key", "key_3"), ("api_payment_company", &c.id)] {
                assert_eq!(store.rate_count(scope, subject, 0).await.unwrap(), 1);
            }
            assert_eq!(store.list_attempts(&fourth.id).await.unwrap().len(), 1);

            // A key whose row was purged while its payment's link stays: the claim is
            // refused as the key's payment, and nothing of it stays (key, counts, payment).
            let purged = store
                .purge_idempotency(now_ms() + 30 * 3_600_000)
                .await
                .unwrap();
            assert!(purged >= 2, "{purged}");
            let fifth = payment(&c.id, &p.id, PaymentStatus::Processing, 100);
            let refused = store
                .begin_claimed_payment(
                    fifth.clone(),
                    attempt(&fifth, Operation::Sale),
                    claim("k1", 5),
                )
                .await;
            assert_key_has_payment(&refused);
            assert!(matches!(
                store.get_payment(&c.id, &fifth.id).await,
                Err(StoreError::NotFound)
            ));
            assert_eq!(
                store
                    .rate_count("api_payment_key", "key_1", 0)
                    .await
                    .unwrap(),
                2,
                "the refused claim's hit was rolled back"
            );
            assert_eq!(
                store.idempotency_begin(&c.id, "k1", "h1", 0).await.unwrap(),
                IdempotencyBegin::Started,
                "the refused claim left no key behind"
            );
        },
    )
    .await;
}

/// Queues `finishes` one after the other behind a held writer, so that its next group
/// runs them in this order; their writes' tasks.
async fn queue_in_order(
    store: &Store,
    finishes: Vec<FinishAttempt>,
) -> Vec<tokio::task::JoinHandle<Result<Finished, StoreError>>> {
    let mut writes = Vec::new();
    for f in finishes {
        let queued = store.queued_writes();
        let sent = store.clone();
        writes.push(tokio::spawn(async move { sent.finish_attempt(f).await }));
        while store.queued_writes() == queued {
            tokio::task::yield_now().await;
        }
    }
    writes
}

/// The writer counts what it does: a held write is a group of its own, the writes queued
/// behind it the next group, and the time it held is busy time; a group's end is part
/// of that time.
#[tokio::test]
async fn the_writer_counts_its_groups_writes_and_time() {
    for_each_engine(
        "the_writer_counts_its_groups_writes_and_time",
        |store| async move {
            let c = company(&store, "A").await;
            let p = pos(&store, &c.id).await;
            let before = store.writer_load();
            let undone = store.groups_undone();
            let hold = store.hold_writer().await;
            tokio::time::sleep(Duration::from_millis(40)).await;
            let mut writes = Vec::new();
            for n in 0..5 {
                let queued = store.queued_writes();
                let pay = payment(&c.id, &p.id, PaymentStatus::Processing, 100 + n);
                let sent = store.clone();
                writes.push(tokio::spawn(async move {
                    let a = attempt(&pay, Operation::Sale);
                    sent.begin_payment(pay, a).await
                }));
                while store.queued_writes() == queued {
                    tokio::task::yield_now().await;
                }
            }
            hold.release().await.unwrap();
            for write in writes {
                write.await.unwrap().unwrap();
            }
            let load = store.writer_load().since(&before);
            assert_eq!((load.groups, load.writes), (2, 6), "{load:?}");
            assert!(load.busy >= Duration::from_millis(40), "{load:?}");
            assert!(
                load.ending > Duration::ZERO && load.ending < load.busy,
                "{load:?}"
            );
            assert_eq!(store.groups_undone(), undone);
            let later = store.writer_load();
            assert_eq!(later.since(&later), WriterLoad::default());
        },
    )
    .await;
}

/// The outcomes of one group commit store their keys' answers together at its end: each
/// answer is the one rendered from its own payment, a key answered already keeps its
/// answer, and a second answer for a key in the same group is not stored. Seventy keys
/// make two statements (64 answers, then 6 written as 8).
#[tokio::test]
async fn a_group_stores_its_keys_answers_together() {
    for_each_engine(
        "a_group_stores_its_keys_answers_together",
        |store| async move {
            let c = company(&store, "A").await;
            let p = pos(&store, &c.id).await;
            let claim = |key: &str| KeyClaim {
                company_id: c.id.clone(),
                key: key.into(),
                request_hash: format!("h-{key}"),
                hits: Vec::new(),
                limits: Vec::new(),
            };
            let finish = |payment_id: &str, key: &str, from: PaymentStatus, tag: &'static str| {
                FinishAttempt {
                    payment: Some(PaymentChange::to(
                        payment_id,
                        &[from],
                        PaymentStatus::Approved,
                    )),
                    answer: Some(KeyAnswer {
                        company_id: c.id.clone(),
                        key: key.into(),
                        render: std::sync::Arc::new(move |p| {
                            (201, format!("{{\"id\":\"{}\",\"tag\":\"{tag}\"}}", p.id))
                        }),
                    }),
                    ..FinishAttempt::default()
                }
            };
            let mut payments = Vec::new();
            for n in 0..71 {
                let key = format!("k{n}");
                let pay = payment(&c.id, &p.id, PaymentStatus::Processing, 100 + n);
                let begun = store
                    .begin_claimed_payment(pay.clone(), attempt(&pay, Operation::Sale), claim(&key))
                    .await
                    .unwrap();
                assert_eq!(begun, ClaimedBegin::Started);
                payments.push((key, pay.id));
            }
            // The last key is answered before the group.
            let (early_key, early_id) = payments.pop().unwrap();
            let early = finish(&early_id, &early_key, PaymentStatus::Processing, "early");
            assert!(store.finish_attempt(early).await.unwrap().answered);

            let undone = store.groups_undone();
            let hold = store.hold_writer().await;
            let mut finishes: Vec<FinishAttempt> = payments
                .iter()
                .map(|(key, id)| finish(id, key, PaymentStatus::Processing, "first"))
                .collect();
            // After the first answer of k69 (in the second statement), in the same
            // group: the payment changes again, and its answer finds the key's answer
            // already kept.
            let (k69, k69_id) = &payments[69];
            finishes.push(finish(k69_id, k69, PaymentStatus::Approved, "second"));
            finishes.push(finish(
                &early_id,
                &early_key,
                PaymentStatus::Approved,
                "late",
            ));
            let writes = queue_in_order(&store, finishes).await;
            assert_eq!(store.queued_writes(), 72);
            hold.release().await.unwrap();
            let mut answered = Vec::new();
            for write in writes {
                answered.push(write.await.unwrap().unwrap().answered);
            }
            assert_eq!(store.groups_undone(), undone, "the group committed as one");
            assert!(answered[..70].iter().all(|a| *a), "{answered:?}");
            assert_eq!(answered[70..], [false, false]);
            for (key, id) in &payments {
                assert_eq!(
                    store
                        .idempotency_begin(&c.id, key, &format!("h-{key}"), 0)
                        .await
                        .unwrap(),
                    IdempotencyBegin::Replay {
                        status: 201,
                        body: format!("{{\"id\":\"{id}\",\"tag\":\"first\"}}"),
                    },
                    "{key}"
                );
            }
            assert_eq!(
                store
                    .idempotency_begin(&c.id, &early_key, &format!("h-{early_key}"), 0)
                    .await
                    .unwrap(),
                IdempotencyBegin::Replay {
                    status: 201,
                    body: format!("{{\"id\":\"{early_id}\",\"tag\":\"early\"}}"),
                }
            );
        },
    )
    .await;
}

/// A group's end stores its keys' answers and reads its events' chains' heads (on SQLite
/// in one call), then writes the events (on SQLite with the commit): two companies' chains
/// go on from where each stood, unbroken, and the group commits as one.
#[tokio::test]
async fn a_groups_answers_and_events_end_it_together() {
    for_each_engine(
        "a_groups_answers_and_events_end_it_together",
        |store| async move {
            let mut companies = Vec::new();
            for name in ["A", "B"] {
                let c = company(&store, name).await;
                let p = pos(&store, &c.id).await;
                store
                    .append_audit(NewAudit {
                        company_id: c.id.clone(),
                        kind: "test.before".into(),
                        actor: "test".into(),
                        subject_id: c.id.clone(),
                        data: serde_json::json!({}),
                    })
                    .await
                    .unwrap();
                let before = store.verify_company_audit(&c.id).await.unwrap().unwrap();
                assert!(before.broken.is_none());
                companies.push((c, p, before.events));
            }
            let mut finishes = Vec::new();
            for n in 0..6 {
                let (c, p, _) = &companies[n % 2];
                let key = format!("k{n}");
                let pay = payment(&c.id, &p.id, PaymentStatus::Processing, 100 + n as i64);
                let claim = KeyClaim {
                    company_id: c.id.clone(),
                    key: key.clone(),
                    request_hash: format!("h-{key}"),
                    hits: Vec::new(),
                    limits: Vec::new(),
                };
                let begun = store
                    .begin_claimed_payment(pay.clone(), attempt(&pay, Operation::Sale), claim)
                    .await
                    .unwrap();
                assert_eq!(begun, ClaimedBegin::Started);
                finishes.push(FinishAttempt {
                    payment: Some(PaymentChange::to(
                        &pay.id,
                        &[PaymentStatus::Processing],
                        PaymentStatus::Approved,
                    )),
                    // The last one has events and no answer.
                    answer: (n < 5).then(|| KeyAnswer {
                        company_id: c.id.clone(),
                        key: key.clone(),
                        render: std::sync::Arc::new(|p| (201, format!("{{\"id\":\"{}\"}}", p.id))),
                    }),
                    audit: vec![NewAudit {
                        company_id: c.id.clone(),
                        kind: "payment.approved".into(),
                        actor: "test".into(),
                        subject_id: pay.id.clone(),
                        data: serde_json::json!({ "n": n }),
                    }],
                    ..FinishAttempt::default()
                });
            }
            let undone = store.groups_undone();
            let hold = store.hold_writer().await;
            let writes = queue_in_order(&store, finishes).await;
            hold.release().await.unwrap();
            let mut answered = Vec::new();
            for write in writes {
                answered.push(write.await.unwrap().unwrap().answered);
            }
            assert_eq!(store.groups_undone(), undone, "the group committed as one");
            assert_eq!(answered, [true, true, true, true, true, false]);
            for (c, _, before) in &companies {
                let after = store.verify_company_audit(&c.id).await.unwrap().unwrap();
                assert!(after.broken.is_none(), "{}: {:?}", c.name, after.broken);
                assert_eq!(after.events, before + 3, "{}", c.name);
                let events = store.list_audit(&c.id, 100).await.unwrap();
                let mut seqs: Vec<i64> = events.iter().map(|e| e.seq).collect();
                seqs.sort_unstable();
                assert_eq!(
                    seqs,
                    (1..=seqs.len() as i64).collect::<Vec<_>>(),
                    "{}",
                    c.name
                );
            }
        },
    )
    .await;
}

/// The janitor reads payments left in flight and holds run out through partial indexes
/// of those rows only: it finds each such payment (and no other), and the database's
/// plan of each read names its index.
#[tokio::test]
async fn the_janitor_reads_payments_in_flight_through_their_own_indexes() {
    for_each_engine(
        "the_janitor_reads_payments_in_flight_through_their_own_indexes",
        |store| async move {
            let c = company(&store, "A").await;
            let p = pos(&store, &c.id).await;
            let now = now_ms();
            let old = now - 600_000;
            let at = |status: PaymentStatus, updated_at: i64| {
                let mut row = payment(&c.id, &p.id, status, 1000);
                row.created_at = updated_at;
                row.updated_at = updated_at;
                row
            };
            let mut rows = Vec::new();
            let mut stale_ids = Vec::new();
            for status in [
                PaymentStatus::Processing,
                PaymentStatus::Unknown,
                PaymentStatus::Capturing,
                PaymentStatus::Releasing,
                PaymentStatus::Pending3ds,
            ] {
                let left = at(status, old);
                stale_ids.push(left.id.clone());
                rows.push(left);
                rows.push(at(status, now));
            }
            for status in [
                PaymentStatus::Approved,
                PaymentStatus::Declined,
                PaymentStatus::Failed,
                PaymentStatus::Authorized,
            ] {
                rows.push(at(status, old));
            }
            let mut held = |hold_until: i64| {
                let mut row = at(PaymentStatus::Authorized, old);
                row.pre_auth = true;
                row.hold_until = Some(hold_until);
                rows.push(row.clone());
                row
            };
            let run_out = held(now - 1);
            held(now + 86_400_000);
            for row in rows {
                let sale = attempt(&row, Operation::Sale);
                store.begin_payment(row, sale).await.unwrap();
            }

            let stale = store
                .stale_payments(now - 60_000, now - 60_000, now, 100)
                .await
                .unwrap();
            let mut found: Vec<String> = stale.into_iter().map(|s| s.payment.id).collect();
            let mut wanted = stale_ids.clone();
            found.sort();
            wanted.sort();
            assert_eq!(found, wanted);
            let holds = store.expired_holds(now, 100).await.unwrap();
            let holds: Vec<&str> = holds.iter().map(|h| h.id.as_str()).collect();
            assert_eq!(holds, [run_out.id.as_str()]);

            let plan = store.explain_janitor().await.unwrap().join("\n");
            assert!(plan.contains("payments_in_flight"), "{plan}");
            assert!(plan.contains("payments_open_holds"), "{plan}");
        },
    )
    .await;
}

/// The list's indexes by order, customer, authorisation code and provider reference hold
/// only the payments carrying one (a claimed sale carries neither code nor reference),
/// and each filter still finds its payments, and only them, through its own index.
#[tokio::test]
async fn reference_filters_read_indexes_of_the_payments_that_carry_a_reference() {
    for_each_engine(
        "reference_filters_read_indexes_of_the_payments_that_carry_a_reference",
        |store| async move {
            let c = company(&store, "A").await;
            let p = pos(&store, &c.id).await;
            // 600 payments: one in three carries each reference, the others none; five
            // carry the references the filters look for.
            let mut rows = Vec::new();
            for i in 0..600_i64 {
                let mut row = payment(&c.id, &p.id, PaymentStatus::Approved, 100 + i);
                row.created_at -= i;
                let carries = i % 3 == 0;
                let wanted = i % 120 == 0;
                let value = |prefix: &str| {
                    carries.then(|| {
                        if wanted {
                            format!("{prefix}-wanted")
                        } else {
                            format!("{prefix}-{i}")
                        }
                    })
                };
                row.order_ref = value("SO");
                row.customer_ref = value("120.01");
                row.auth_code = value("A");
                row.provider_ref = value("PR");
                rows.push(row);
            }
            let wanted: Vec<String> = rows
                .iter()
                .filter(|r| r.order_ref.as_deref() == Some("SO-wanted"))
                .map(|r| r.id.clone())
                .collect();
            assert_eq!(wanted.len(), 5);
            store.seed_payments(rows).await.unwrap();

            // Each index with the filter that should read it.
            type SetFilter = fn(&mut PaymentQuery);
            let filters: [(&str, SetFilter); 4] = [
                ("payments_company_order_created", |q| {
                    q.order_ref = Some("SO-wanted".into())
                }),
                ("payments_company_customer_created", |q| {
                    q.customer_ref = Some("120.01-wanted".into())
                }),
                ("payments_company_auth_created", |q| {
                    q.auth_code = Some("A-wanted".into())
                }),
                ("payments_company_provider_ref_created", |q| {
                    q.provider_ref = Some("PR-wanted".into())
                }),
            ];
            store.analyze().await.unwrap();
            for (index, _) in filters {
                assert_eq!(store.index_entries_for_test(index).await, 200, "{index}");
            }
            // An index of every payment, for comparison: the statistics count all 600.
            assert_eq!(
                store
                    .index_entries_for_test("payments_company_created")
                    .await,
                600
            );

            for (index, filter) in filters {
                let mut query = PaymentQuery {
                    limit: 50,
                    ..PaymentQuery::default()
                };
                filter(&mut query);
                let found: Vec<String> = store
                    .list_payments(&c.id, &query)
                    .await
                    .unwrap()
                    .into_iter()
                    .map(|p| p.id)
                    .collect();
                assert_eq!(found, wanted, "{index}");
                let plan = store
                    .explain_payment_list(&c.id, &query)
                    .await
                    .unwrap()
                    .join("\n");
                assert!(plan.contains(index), "{index}: {plan}");
            }
            let customers = store.customer_refs(&c.id, "120.01-w", 10).await.unwrap();
            assert_eq!(customers, ["120.01-wanted"]);
        },
    )
    .await;
}

/// A bulk load takes the payments' secondary indexes (and, on PostgreSQL, foreign and
/// unique keys) off and puts every one back.
#[tokio::test]
async fn a_bulk_load_puts_back_every_index_it_took_off() {
    for_each_engine(
        "a_bulk_load_puts_back_every_index_it_took_off",
        |store| async move {
            let c = company(&store, "A").await;
            let p = pos(&store, &c.id).await;
            let indexes = || async {
                let mut names = store.payment_index_names().await.unwrap();
                names.sort();
                names
            };
            let before = indexes().await;
            assert!(before.len() >= 10, "{before:?}");
            let sqlite = store.engine() == Engine::Sqlite;
            let pragmas = || async {
                (
                    store.writer_pragma_for_test("cache_size").await,
                    store.writer_pragma_for_test("threads").await,
                    store.writer_pragma_for_test("temp_store").await,
                )
            };
            let settings = if sqlite { Some(pragmas().await) } else { None };
            if let Some(settings) = settings {
                // The write connection keeps its statement journals in memory (2).
                assert_eq!(settings.2, 2);
            }
            let load = store.begin_bulk_load().await.unwrap();
            assert!(indexes().await.is_empty());
            if sqlite {
                // The load's page cache (128 MiB), on the write connection only.
                assert_eq!(pragmas().await.0, -131_072);
            }
            let mut rows: Vec<_> = (0..1200)
                .map(|i| payment(&c.id, &p.id, PaymentStatus::Approved, 100 + i))
                .collect();
            let first_ref = rows[0].sale_client_ref.clone();
            // Every column is loaded, the later ones too.
            rows[1].client_ip = Some("203.0.113.9".into());
            rows[1].pre_auth = true;
            rows[1].held_amount = Some(rows[1].amount);
            rows[1].hold_until = Some(rows[1].created_at + 7 * 86_400_000);
            let held = rows[1].clone();
            store.seed_payments(rows).await.unwrap();
            store.finish_bulk_load(load).await.unwrap();
            assert_eq!(indexes().await, before);
            let loaded = store.get_payment(&c.id, &held.id).await.unwrap();
            assert_eq!(
                (
                    loaded.client_ip,
                    loaded.pre_auth,
                    loaded.held_amount,
                    loaded.hold_until
                ),
                (held.client_ip, true, held.held_amount, held.hold_until)
            );
            if let Some(settings) = settings {
                assert_eq!(pragmas().await, settings);
            }
            let query = PaymentQuery {
                limit: 2000,
                ..PaymentQuery::default()
            };
            assert_eq!(
                store.list_payments(&c.id, &query).await.unwrap().len(),
                1200
            );
            // The foreign keys check again: a payment of no company is refused.
            let orphan = payment("cmp_missing", &p.id, PaymentStatus::Approved, 5000);
            let refused = store.seed_payments(vec![orphan]).await;
            assert!(refused.is_err(), "{refused:?}");
            // And the unique keys: a second payment with a sale's reference is refused.
            let mut twin = payment(&c.id, &p.id, PaymentStatus::Approved, 5000);
            twin.sale_client_ref = first_ref;
            let refused = store.seed_payments(vec![twin]).await;
            assert!(refused.is_err(), "{refused:?}");
            assert_eq!(
                store.list_payments(&c.id, &query).await.unwrap().len(),
                1200
            );
        },
    )
    .await;
}

#[tokio::test]
async fn reads_recover_when_the_server_dropped_the_idle_connections() {
    // The read pool pings a connection before use only after it sat idle; one the
    // server closed in the meantime is then replaced, not handed to a reader.
    let Some((store, guard)) =
        sanalpos_store::testing::postgres_store("reads_recover_dropped_connections").await
    else {
        return;
    };
    let opened = futures_util::future::join_all((0..4).map(|_| store.ping())).await;
    assert!(opened.iter().all(Result::is_ok), "{opened:?}");
    tokio::time::sleep(Duration::from_millis(1_200)).await;
    let admin = raw_pool(guard.url()).await;
    let dropped: Vec<(bool,)> = sqlx::query_as(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
         WHERE datname = current_database() AND pid <> pg_backend_pid()",
    )
    .fetch_all(&admin)
    .await
    .unwrap();
    admin.close().await;
    assert!(dropped.len() >= 2, "{dropped:?}");
    for _ in 0..8 {
        store.ping().await.unwrap();
    }
    store.close().await;
}

#[tokio::test]
async fn payment_keys_compare_byte_by_byte_on_postgres() {
    // Every indexed text column of payments has collation "C" (migration 16): the same
    // order as SQLite's, and no strcoll call per comparison in its indexes.
    let Some((store, guard)) =
        sanalpos_store::testing::postgres_store("payment_keys_byte_order").await
    else {
        return;
    };
    let admin = raw_pool(guard.url()).await;
    let indexed: Vec<(String, bool)> = sqlx::query_as(
        "SELECT DISTINCT a.attname::text, \
         a.attcollation = (SELECT oid FROM pg_collation WHERE collname = 'C') FROM pg_index i \
         JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY (i.indkey) \
         WHERE i.indrelid = 'payments'::regclass AND a.atttypid = 'text'::regtype \
         ORDER BY 1",
    )
    .fetch_all(&admin)
    .await
    .unwrap();
    admin.close().await;
    assert!(indexed.len() >= 10, "{indexed:?}");
    let not_bytewise: Vec<&str> = indexed
        .iter()
        .filter(|(_, bytewise)| !bytewise)
        .map(|(name, _)| name.as_str())
        .collect();
    assert!(not_bytewise.is_empty(), "{not_bytewise:?}");
    store.close().await;
}

/// Asserts the refusal of a payment whose idempotency key already created one.
fn assert_key_has_payment<T: std::fmt::Debug>(refused: &Result<T, StoreError>) {
    assert!(
        matches!(
            refused,
            Err(StoreError::Conflict {
                code: "idempotency_key_has_payment",
                ..
            })
        ),
        "{refused:?}"
    );
}
