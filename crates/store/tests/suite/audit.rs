//! The audit chain on both engines: verification names the first edited or deleted
//! event, and concurrent appenders (two stores on one database, standing for two
//! instances) keep one unbroken chain.

#![allow(clippy::unwrap_used)]

use sanalpos_store::testing::{
    for_each_engine_at_version, postgres_store, sqlite_store, TestParam,
};
use sanalpos_store::*;
use serde_json::json;

fn audit(company_id: &str, kind: &str, subject: &str) -> NewAudit {
    NewAudit {
        company_id: company_id.into(),
        kind: kind.into(),
        actor: "test".into(),
        subject_id: subject.into(),
        data: json!({ "n": 1 }),
    }
}

async fn company(store: &Store, name: &str) -> Company {
    let c = Company {
        id: new_id("cmp"),
        name: name.into(),
        created_at: now_ms(),
    };
    store
        .insert_company(c.clone(), audit(&c.id, "company.created", &c.id))
        .await
        .unwrap();
    c
}

async fn tamper(store_url: &str, sql: &str) {
    let pool = crate::helpers::raw_pool(store_url).await;
    sqlx::query(sql).execute(&pool).await.unwrap();
    pool.close().await;
}

async fn audit_chain_case(store: Store, url: String) {
    let a = company(&store, "Alfa").await;
    let b = company(&store, "Beta").await;
    for i in 0..5 {
        store
            .append_audit(audit(&a.id, "x", &format!("s{i}")))
            .await
            .unwrap();
        store
            .append_audit(audit(&b.id, "x", &format!("s{i}")))
            .await
            .unwrap();
    }
    let reports = store.verify_audit().await.unwrap();
    assert_eq!(reports.len(), 2);
    assert!(
        reports.iter().all(|r| r.broken.is_none() && r.events == 6),
        "{reports:?}"
    );
    // Edit one event of A, delete one of B.
    tamper(
        &url,
        &format!(
            "UPDATE audit_events SET actor = 'mallory' WHERE company_id = '{}' AND seq = 3",
            a.id
        ),
    )
    .await;
    tamper(
        &url,
        &format!(
            "DELETE FROM audit_events WHERE company_id = '{}' AND seq = 4",
            b.id
        ),
    )
    .await;
    let reports = store.verify_audit().await.unwrap();
    let ra = reports.iter().find(|r| r.company_id == a.id).unwrap();
    let rb = reports.iter().find(|r| r.company_id == b.id).unwrap();
    assert_eq!(ra.company_name, "Alfa");
    let broken = ra.broken.as_ref().unwrap();
    assert_eq!(broken.seq, 3);
    assert!(broken.reason.contains("edited"), "{broken:?}");
    let broken = rb.broken.as_ref().unwrap();
    assert_eq!(broken.seq, 5);
    assert!(broken.reason.contains("missing"), "{broken:?}");
}

#[tokio::test]
async fn audit_chain_detects_edits_and_deletions() {
    let (store, guard) = sqlite_store().await;
    audit_chain_case(store, guard.url().to_owned()).await;
    if let Some((store, guard)) = postgres_store("audit_chain_detects_edits_and_deletions").await {
        audit_chain_case(store.clone(), guard.url().to_owned()).await;
        store.close().await;
    }
}

#[tokio::test]
async fn concurrent_audit_appends_on_two_stores() {
    // Two stores on one database stand for two instances.
    async fn case(url: String, first: Store) -> [u64; 2] {
        let second = Store::open(&url).await.unwrap();
        let c = company(&first, "A").await;
        let undone_before = [first.groups_undone(), second.groups_undone()];
        let mut tasks = Vec::new();
        for i in 0..40 {
            let store = if i % 2 == 0 {
                first.clone()
            } else {
                second.clone()
            };
            let id = c.id.clone();
            tasks.push(tokio::spawn(async move {
                store.append_audit(audit(&id, "x", "s")).await
            }));
        }
        for t in tasks {
            t.await.unwrap().unwrap();
        }
        let reports = first.verify_audit().await.unwrap();
        assert_eq!(reports[0].events, 41);
        assert!(reports[0].broken.is_none());
        let undone = [
            first.groups_undone() - undone_before[0],
            second.groups_undone() - undone_before[1],
        ];
        second.close().await;
        undone
    }
    let (store, guard) = sqlite_store().await;
    case(guard.url().to_owned(), store).await;
    if let Some((store, guard)) = postgres_store("concurrent_audit_appends_on_two_stores").await {
        // PostgreSQL: each group reads its chain's head after it holds the company's
        // lock, so it starts from the other store's last event and none collides (a
        // collision undoes the group, and the appends are tried again one by one).
        let undone = case(guard.url().to_owned(), store.clone()).await;
        assert_eq!(undone, [0, 0], "groups undone on the two stores");
        store.close().await;
    }
}

/// Appends one event of kind "x" about `subject` to `company_id`'s chain.
async fn append_event(store: &Store, company_id: &str, subject: &str) {
    store
        .append_audit(audit(company_id, "x", subject))
        .await
        .unwrap();
}

#[tokio::test]
async fn a_chain_head_the_sqlite_writer_knows_wrongly_is_never_written_over() {
    // SQLite's writer keeps the chains' heads its commits left and reads none it knows;
    // another process appending to the same chain makes the kept head wrong. The next
    // event after it must be refused (its `seq` is taken), cost one undone group, and
    // be written after the real head; the writer then learns the heads again.
    let (first, guard) = sqlite_store().await;
    let second = Store::open(guard.url()).await.unwrap();
    let c = company(&first, "A").await;
    append_event(&first, &c.id, "first knows 2").await;
    append_event(&second, &c.id, "second reads 2, writes 3").await;
    assert_eq!(first.groups_undone(), 0);
    append_event(&first, &c.id, "first's head is wrong").await;
    assert_eq!(
        first.groups_undone(),
        1,
        "the write after a wrong head is refused once"
    );
    for i in 0..3 {
        append_event(&first, &c.id, &format!("after {i}")).await;
    }
    assert_eq!(
        first.groups_undone(),
        1,
        "the heads are read again after a failure"
    );
    // And kept again: once more wrong, once more refused.
    append_event(&second, &c.id, "second writes 8").await;
    append_event(&first, &c.id, "first's head is wrong again").await;
    assert_eq!(
        first.groups_undone(),
        2,
        "the writer keeps the heads it read again"
    );
    assert_eq!(second.groups_undone(), 1, "second's head (3) was wrong too");
    let report = first.verify_company_audit(&c.id).await.unwrap().unwrap();
    assert_eq!(report.events, 9);
    assert!(report.broken.is_none(), "{report:?}");
    let subjects: Vec<String> = first
        .list_audit(&c.id, 10)
        .await
        .unwrap()
        .into_iter()
        .map(|e| format!("{} {}", e.seq, e.subject_id))
        .collect();
    assert_eq!(
        subjects[..6],
        [
            "9 first's head is wrong again".to_owned(),
            "8 second writes 8".to_owned(),
            "7 after 2".to_owned(),
            "6 after 1".to_owned(),
            "5 after 0".to_owned(),
            "4 first's head is wrong".to_owned(),
        ]
    );
    second.close().await;
    first.close().await;
}

#[tokio::test]
async fn two_stores_counting_and_appending_for_two_companies_never_deadlock() {
    // Two instances, each committing groups that mix two companies' rate counters (a
    // claimed key) and audit chains, in opposite orders. One instance's group once held
    // a counter or a chain and waited for the other's, which waited for it: PostgreSQL
    // broke each such deadlock by failing a group after a second, and the group ran
    // again one write at a time. Now each instance's writer counts in rows of its own,
    // and a group takes the chains' locks at its end, in id order (with counters shared
    // between the instances this test fails again).
    let Some((first, guard)) = postgres_store("two_stores_never_deadlock").await else {
        return;
    };
    let second = Store::open(guard.url()).await.unwrap();
    let a = company(&first, "A").await;
    let b = company(&first, "B").await;
    let mut tasks = Vec::new();
    for i in 0..2000 {
        // The first store's groups go A, B, A, B and append before they count; the
        // second's go B, A, B, A and count before they append.
        let (store, id) = if i % 2 == 0 {
            (first.clone(), if i % 4 == 0 { &a.id } else { &b.id })
        } else {
            (second.clone(), if i % 4 == 1 { &b.id } else { &a.id })
        };
        let id = id.clone();
        let count = i % 8 == 2 || i % 8 == 3 || i % 8 == 4 || i % 8 == 5;
        tasks.push(tokio::spawn(async move {
            if count {
                let hits = vec![RateHit {
                    scope: "api_payment_company".into(),
                    subject: id.clone(),
                    window_start: 0,
                }];
                store
                    .idempotency_begin_counted(&id, &format!("key-{i}"), "hash", now_ms(), hits)
                    .await
                    .map(|_| ())
            } else {
                store.append_audit(audit(&id, "x", "s")).await
            }
        }));
    }
    for t in tasks {
        t.await.unwrap().unwrap();
    }
    for c in [&a, &b] {
        assert_eq!(
            first
                .rate_count("api_payment_company", &c.id, 0)
                .await
                .unwrap(),
            500
        );
        let report = first.verify_company_audit(&c.id).await.unwrap().unwrap();
        assert_eq!(report.events, 501);
        assert!(report.broken.is_none());
    }
    assert_eq!((first.groups_undone(), second.groups_undone()), (0, 0));
    second.close().await;
    first.close().await;
}

/// Two stores on one fresh PostgreSQL database (two instances), and two companies with
/// a POS each.
struct TwoInstances {
    first: Store,
    second: Store,
    _guard: sanalpos_store::testing::TestGuard,
    a: (Company, PosRecord),
    b: (Company, PosRecord),
}

impl TwoInstances {
    async fn new(test_name: &str) -> Option<Self> {
        let (first, guard) = postgres_store(test_name).await?;
        let second = Store::open(guard.url()).await.unwrap();
        let a = company(&first, "A").await;
        let b = company(&first, "B").await;
        let pos_a = crate::helpers::pos(&first, &a.id).await;
        let pos_b = crate::helpers::pos(&first, &b.id).await;
        Some(Self {
            first,
            second,
            _guard: guard,
            a: (a, pos_a),
            b: (b, pos_b),
        })
    }

    /// Both chains intact with `events` events each, no group undone on either store.
    async fn check_and_close(self, events: u64) {
        for (c, _) in [&self.a, &self.b] {
            let report = self
                .first
                .verify_company_audit(&c.id)
                .await
                .unwrap()
                .unwrap();
            assert_eq!(report.events, events);
            assert!(report.broken.is_none());
        }
        assert_eq!(
            (self.first.groups_undone(), self.second.groups_undone()),
            (0, 0)
        );
        self.second.close().await;
        self.first.close().await;
    }
}

#[tokio::test]
async fn two_stores_recording_pos_checks_for_two_companies_never_deadlock() {
    // A back-office write that changes a row and then appends to the company's chain
    // (a POS connection test: the POS row, then the event). Two instances committing
    // groups of them for two companies in opposite orders each held one POS row and
    // chain and waited for the other's, until such writes declared their companies and
    // every group took those locks first, in id order. (Their events now wait for the
    // group's end; the POS rows are what the early locks keep in order.)
    let Some(two) = TwoInstances::new("pos_checks_never_deadlock").await else {
        return;
    };
    let mut tasks = Vec::new();
    for i in 0..1200 {
        // The first store's writes go A, B, A, B; the second's B, A, B, A.
        let (store, (c, p)) = if i % 2 == 0 {
            (two.first.clone(), if i % 4 == 0 { &two.a } else { &two.b })
        } else {
            (two.second.clone(), if i % 4 == 1 { &two.b } else { &two.a })
        };
        let (c, p) = (c.id.clone(), p.id.clone());
        tasks.push(tokio::spawn(async move {
            store
                .record_pos_check(&c, &p, None, audit(&c, "pos.checked", &p))
                .await
        }));
    }
    for t in tasks {
        t.await.unwrap().unwrap();
    }
    // The company, its POS, and 600 checks.
    two.check_and_close(602).await;
}

#[tokio::test]
async fn payment_outcomes_beside_pos_checks_on_another_store_never_deadlock() {
    // A payment's outcome takes no company lock up front: it writes its POS's health
    // and its audit event at the end of its group, after the companies' locks. A POS
    // check takes its company's lock first, then the same POS row. Were the outcome to
    // write the POS row in the middle of its group, it would hold the row while it
    // waited for the lock at its end, and the check would hold the lock while it
    // waited for the row.
    let Some(two) = TwoInstances::new("outcomes_beside_pos_checks").await else {
        return;
    };
    let mut tasks = Vec::new();
    for i in 0..1200 {
        let (c, p) = if i % 4 < 2 { &two.a } else { &two.b };
        let (c, p) = (c.id.clone(), p.id.clone());
        let (first, second) = (two.first.clone(), two.second.clone());
        tasks.push(tokio::spawn(async move {
            if i % 2 == 0 {
                first
                    .record_pos_check(&c, &p, None, audit(&c, "pos.checked", &p))
                    .await
            } else {
                let finish = FinishAttempt {
                    pos_health: Some(PosHealth {
                        company_id: c.clone(),
                        pos_id: p.clone(),
                        error: Some(format!("timeout {i}")),
                    }),
                    audit: vec![audit(&c, "payment.unknown", &p)],
                    ..FinishAttempt::default()
                };
                second.finish_attempt(finish).await.map(|_| ())
            }
        }));
    }
    for t in tasks {
        t.await.unwrap().unwrap();
    }
    // The company, its POS, 300 checks and 300 outcomes.
    two.check_and_close(602).await;
}

#[tokio::test]
async fn a_group_commit_appends_many_events_to_two_chains() {
    // Sixty appends at once reach the writer together and commit in groups, each group
    // appending several events to each of two chains in one transaction: the later
    // ones start from the head the transaction wrote itself.
    async fn case(store: Store) {
        let a = company(&store, "A").await;
        let b = company(&store, "B").await;
        let mut tasks = Vec::new();
        for i in 0..60 {
            let store = store.clone();
            let id = if i % 3 == 0 {
                b.id.clone()
            } else {
                a.id.clone()
            };
            tasks.push(tokio::spawn(async move {
                store.append_audit(audit(&id, "x", &format!("s{i}"))).await
            }));
        }
        for t in tasks {
            t.await.unwrap().unwrap();
        }
        let reports = store.verify_audit().await.unwrap();
        let events = |id: &str| {
            let report = reports.iter().find(|r| r.company_id == id).unwrap();
            assert!(report.broken.is_none(), "{report:?}");
            report.events
        };
        assert_eq!(events(&a.id), 41);
        assert_eq!(events(&b.id), 21);
        // The chain goes on after the group, from the stored head.
        store
            .append_audit(audit(&a.id, "y", "after"))
            .await
            .unwrap();
        let report = store.verify_company_audit(&a.id).await.unwrap().unwrap();
        assert_eq!(report.events, 42);
        assert!(report.broken.is_none());
    }
    let (store, _guard) = sqlite_store().await;
    case(store).await;
    if let Some((store, _guard)) =
        postgres_store("a_group_commit_appends_many_events_to_two_chains").await
    {
        case(store.clone()).await;
        store.close().await;
    }
}

#[tokio::test]
async fn an_edited_event_id_breaks_the_chain() {
    async fn case(store: Store, url: String) {
        let c = company(&store, "Alfa").await;
        for i in 0..4 {
            store
                .append_audit(audit(&c.id, "x", &format!("s{i}")))
                .await
                .unwrap();
        }
        let reports = store.verify_audit().await.unwrap();
        assert!(reports[0].broken.is_none(), "{reports:?}");
        tamper(
            &url,
            &format!(
                "UPDATE audit_events SET id = 'aud_forged' WHERE company_id = '{}' AND seq = 3",
                c.id
            ),
        )
        .await;
        let reports = store.verify_audit().await.unwrap();
        let broken = reports[0].broken.as_ref().unwrap();
        assert_eq!(broken.seq, 3);
        assert_eq!(broken.id, "aud_forged");
        assert!(broken.reason.contains("edited"), "{broken:?}");
    }
    let (store, guard) = sqlite_store().await;
    case(store, guard.url().to_owned()).await;
    if let Some((store, guard)) = postgres_store("an_edited_event_id_breaks_the_chain").await {
        case(store.clone(), guard.url().to_owned()).await;
        store.close().await;
    }
}

#[tokio::test]
async fn a_chain_hashed_before_migration_8_still_verifies_and_grows() {
    for_each_engine_at_version("audit_chain_before_v2", 7, |url, old| async move {
        // What the release before wrote: three events hashed without their ids.
        let now = 1_764_000_000_000_i64;
        old.execute_for_test(
            "INSERT INTO companies (id, name, created_at) VALUES ($1, $2, $3)",
            &[
                TestParam::Text("cmp_old"),
                TestParam::Text("Eski A.Ş."),
                TestParam::Int(now),
            ],
        )
        .await;
        let mut prev = GENESIS_HASH.to_owned();
        for seq in 1..=3_i64 {
            let hash = audit_hash(&prev, "cmp_old", seq, "x", "test", "s", "{}", now + seq);
            old.execute_for_test(
                "INSERT INTO audit_events (id, company_id, seq, kind, actor, subject_id, data, prev_hash, hash, created_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
                &[
                    TestParam::Text(&format!("aud_old{seq}")),
                    TestParam::Text("cmp_old"),
                    TestParam::Int(seq),
                    TestParam::Text("x"),
                    TestParam::Text("test"),
                    TestParam::Text("s"),
                    TestParam::Text("{}"),
                    TestParam::Text(&prev),
                    TestParam::Text(&hash),
                    TestParam::Int(now + seq),
                ],
            )
            .await;
            prev = hash;
        }
        let store = Store::open(&url).await.unwrap();
        for _ in 0..2 {
            store.append_audit(audit("cmp_old", "x", "s")).await.unwrap();
        }
        let events = store.list_audit("cmp_old", 10).await.unwrap();
        let versions: Vec<i64> = events.iter().map(|e| e.hash_version).collect();
        assert_eq!(versions, [2, 2, 1, 1, 1]);
        let reports = store.verify_audit().await.unwrap();
        assert_eq!(reports[0].events, 5);
        assert!(reports[0].broken.is_none(), "{reports:?}");

        // A version-2 event relabelled as version 1 is caught.
        tamper(
            &url,
            "UPDATE audit_events SET hash_version = 1 WHERE company_id = 'cmp_old' AND seq = 5",
        )
        .await;
        let reports = store.verify_audit().await.unwrap();
        assert_eq!(reports[0].broken.as_ref().unwrap().seq, 5, "{reports:?}");
        tamper(
            &url,
            "UPDATE audit_events SET hash_version = 2 WHERE company_id = 'cmp_old' AND seq = 5",
        )
        .await;
        // The new events' ids are inside the chain.
        tamper(
            &url,
            "UPDATE audit_events SET id = 'aud_forged' WHERE company_id = 'cmp_old' AND seq = 4",
        )
        .await;
        let reports = store.verify_audit().await.unwrap();
        let broken = reports[0].broken.as_ref().unwrap();
        assert_eq!((broken.seq, broken.id.as_str()), (4, "aud_forged"));
        store.close().await;
    })
    .await;
}
