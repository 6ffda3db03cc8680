//! The end-of-day job: one pull run per active POS and business day, however often it
//! is called and however many instances share the database.

#![allow(clippy::unwrap_used)]

use crate::helpers::*;
use sanalpos_service::*;
use sanalpos_simulator::MerchantConfig;
use sanalpos_store::testing::{for_each_engine, postgres_store};
use sanalpos_store::{Crypto, Store};

/// The runs of a company, asserting they are all the job's.
async fn job_runs(service: &PaymentService, company_id: &str) -> Vec<ReconRunEntry> {
    let runs = service.list_reconciliations(company_id, 50).await.unwrap();
    for run in &runs {
        assert_eq!(run.created_by, END_OF_DAY_ACTOR);
        assert_eq!(run.source, "pull");
    }
    runs
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn end_of_day_runs_each_pos_once() {
    for_each_engine("end_of_day_runs_each_pos_once", |store| async move {
        let a = world_on(store, "A Ltd").await;
        let b = world_with(a.service.clone(), "B Ltd", MerchantConfig::generate()).await;
        a.pay(APPROVED_CARD, "150.00").await;
        b.pay(APPROVED_CARD, "20.00").await;
        b.pay(APPROVED_CARD, "30.00").await;
        let day = istanbul_today();

        let first = a.service.run_end_of_day_once(day).await.unwrap();
        assert_eq!(first.runs.len(), 2, "{first:?}");
        assert_eq!(first.errors, 0);
        let again = a.service.run_end_of_day_once(day).await.unwrap();
        assert!(again.runs.is_empty(), "{again:?}");
        assert_eq!(again.skipped, 2);

        let runs = job_runs(&a.service, &a.company.id).await;
        assert_eq!(runs.len(), 1);
        assert_eq!(
            (runs[0].pos_id.as_str(), runs[0].from.as_str()),
            (a.pos.id.as_str(), day.to_string().as_str())
        );
        assert_eq!(runs[0].summary.matched, 1);
        let runs = job_runs(&b.service, &b.company.id).await;
        assert_eq!(runs.len(), 1);
        assert_eq!(runs[0].summary.matched, 2);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn end_of_day_two_instances_one_run_per_pos() {
    let Some((store, guard)) = postgres_store("end_of_day_two_instances").await else {
        return;
    };
    let crypto = Crypto::random();
    let one = PaymentService::new(
        store.clone(),
        crypto.clone(),
        ServiceConfig {
            instance_id: "one".into(),
            ..test_config()
        },
    );
    let other_store = Store::open(guard.url()).await.unwrap();
    let two = PaymentService::new(
        other_store.clone(),
        crypto,
        ServiceConfig {
            instance_id: "two".into(),
            ..test_config()
        },
    );
    let mut worlds = Vec::new();
    for name in ["A Ltd", "B Ltd", "C Ltd"] {
        let world = world_with(one.clone(), name, MerchantConfig::generate()).await;
        world.pay(APPROVED_CARD, "10.00").await;
        worlds.push(world);
    }
    let day = istanbul_today();

    let (first, second) = tokio::join!(one.run_end_of_day_once(day), two.run_end_of_day_once(day));
    let (first, second) = (first.unwrap(), second.unwrap());
    assert_eq!(first.errors + second.errors, 0);
    assert_eq!(
        first.runs.len() + second.runs.len(),
        3,
        "{first:?} {second:?}"
    );
    for world in &worlds {
        let runs = job_runs(&two, &world.company.id).await;
        assert_eq!(runs.len(), 1, "{runs:?}");
        assert_eq!(runs[0].summary.matched, 1);
    }
    other_store.close().await;
    store.close().await;
    drop(guard);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn end_of_day_loop_reconciles_yesterday_and_stops() {
    let (store, _guard) = sanalpos_store::testing::sqlite_store().await;
    let config = ServiceConfig {
        end_of_day: chrono::NaiveTime::from_hms_opt(0, 0, 0),
        ..test_config()
    };
    let service = PaymentService::new(store, Crypto::random(), config);
    let world = world_with(service.clone(), "A Ltd", MerchantConfig::generate()).await;
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let job = service.spawn_end_of_day(stopped);
    let yesterday = istanbul_today().pred_opt().unwrap().to_string();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let runs = loop {
        let runs = job_runs(&service, &world.company.id).await;
        if !runs.is_empty() || std::time::Instant::now() > deadline {
            break runs;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    };
    assert_eq!(runs.len(), 1, "{runs:?}");
    assert_eq!(
        (runs[0].from.as_str(), runs[0].to.as_str()),
        (yesterday.as_str(), yesterday.as_str())
    );
    stop.send(true).unwrap();
    tokio::time::timeout(std::time::Duration::from_secs(5), job)
        .await
        .unwrap()
        .unwrap();

    // Off: the task ends at once.
    let (off_store, _off_guard) = sanalpos_store::testing::sqlite_store().await;
    let off = PaymentService::new(off_store, Crypto::random(), test_config());
    let (_stop, stopped) = tokio::sync::watch::channel(false);
    tokio::time::timeout(
        std::time::Duration::from_secs(5),
        off.spawn_end_of_day(stopped),
    )
    .await
    .unwrap()
    .unwrap();
}
