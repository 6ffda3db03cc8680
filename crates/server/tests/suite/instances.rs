//! Two `serve` instances on one PostgreSQL database, as in production behind a load
//! balancer: the same idempotency key sent to both at once makes one sale; a POS changed
//! through one is used by the other's next payment; the janitor and the end-of-day job
//! running on both at once do each piece of work once; the API rate limits count the
//! requests of both instances together; a key revoked through one is refused by the
//! other's next sale.

#![allow(clippy::unwrap_used)]

use sanalpos_core::Clock;
use std::time::Duration;

use crate::helpers::payment;
use reqwest::StatusCode;
use sanalpos_server::ratelimit::RateLimits;
use sanalpos_server::{Application, Config};
use sanalpos_service::{Company, PaymentService, PaymentStatus, PosChange, PosView};
use sanalpos_simulator::{spawn, MerchantConfig, SimConfig, SimHandle, TxStatus};
use sanalpos_store::testing::{postgres_store, TestGuard};
use serde_json::Value;

struct Instance {
    base_url: String,
    service: PaymentService,
    _stop: tokio::sync::oneshot::Sender<()>,
}

async fn start(
    database_url: &str,
    data_dir: &std::path::Path,
    rate_limits: RateLimits,
    clock: &Clock,
) -> Instance {
    let config = Config {
        listen: "127.0.0.1:0".parse().unwrap(),
        data_dir: data_dir.to_owned(),
        database_url: database_url.to_owned(),
        provider_timeout: Duration::from_millis(1500),
        unknown_grace: Duration::from_secs(1),
        // The background loops are driven by hand below, on both instances at once.
        janitor_interval: Duration::from_secs(3600),
        end_of_day: None,
        rate_limits,
        clock: clock.clone(),
        ..Config::default()
    };
    let app = Application::build(config).await.unwrap();
    let service = app.service().clone();
    let base_url = app.base_url().to_owned();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(app.run_until_stopped(async move {
        let _ = stopped.await;
    }));
    Instance {
        base_url,
        service,
        _stop: stop,
    }
}

async fn pay(
    http: &reqwest::Client,
    instance: &Instance,
    api_key: &str,
    key: &str,
    body: &Value,
) -> (StatusCode, Value) {
    let response = http
        .post(format!("{}/api/v1/payments", instance.base_url))
        .bearer_auth(api_key)
        .header("Idempotency-Key", key)
        .header("Content-Type", "application/json")
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    let status = response.status();
    (status, response.json_value().await)
}

trait JsonValue {
    async fn json_value(self) -> Value;
}

impl JsonValue for reqwest::Response {
    async fn json_value(self) -> Value {
        let text = self.text().await.unwrap();
        serde_json::from_str(&text).unwrap_or(Value::String(text))
    }
}

async fn simulator(merchant: &MerchantConfig) -> SimHandle {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    spawn(
        SimConfig {
            merchants: vec![merchant.clone()],
            test_mode: true,
            slow_answer_delay: Duration::from_secs(3),
        },
        listener,
    )
    .await
    .unwrap()
}

/// Two instances on a fresh PostgreSQL database, a simulator, and a company with its
/// simulator POS and an API key: where every test here starts. `None` without a
/// PostgreSQL server to test against. A test binds `_data_dir` and `_guard` too: left to
/// `..`, they would be dropped at once, and the database and directory with them.
struct Pair {
    one: Instance,
    two: Instance,
    merchant: MerchantConfig,
    sim: SimHandle,
    company: Company,
    pos: PosView,
    api_key: String,
    _data_dir: tempfile::TempDir,
    _guard: TestGuard,
}

async fn pair(
    test_name: &str,
    company_name: &str,
    rate_limits: RateLimits,
    clock: &Clock,
) -> Option<Pair> {
    let (store, guard) = postgres_store(test_name).await?;
    store.close().await;
    let data_dir = sanalpos_store::testing::test_dir();
    let one = start(guard.url(), data_dir.path(), rate_limits, clock).await;
    let two = start(guard.url(), data_dir.path(), rate_limits, clock).await;
    let merchant = MerchantConfig::generate();
    let sim = simulator(&merchant).await;
    let company = one
        .service
        .create_company(company_name, "test")
        .await
        .unwrap();
    let pos = one
        .service
        .create_pos(
            &company.id,
            crate::helpers::pos::simulator_pos(&sim.base_url(), &merchant),
            "test",
        )
        .await
        .unwrap();
    let (_, api_key) = one
        .service
        .create_api_key(&company.id, "test", "test")
        .await
        .unwrap();
    Some(Pair {
        one,
        two,
        merchant,
        sim,
        company,
        pos,
        api_key,
        _data_dir: data_dir,
        _guard: guard,
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_instances_share_one_database_without_doing_anything_twice() {
    // One clock for both instances, moved forward by hand where time must pass.
    let clock = Clock::adjustable();
    let Some(Pair {
        one,
        two,
        merchant,
        sim,
        company,
        pos,
        api_key,
        _data_dir,
        _guard,
        ..
    }) = pair(
        "two_instances",
        "İki Sunucu A.Ş.",
        RateLimits::off(),
        &clock,
    )
    .await
    else {
        return;
    };
    let http = reqwest::Client::new();
    let card = "4546711234567894";

    // The same key to both instances at the same moment, twelve times over: one sale per
    // key, and both callers get that sale.
    for round in 0..12 {
        let key = format!("both-{round}");
        let body = payment(card, &format!("{}.00", 100 + round));
        let (a, b) = tokio::join!(
            pay(&http, &one, &api_key, &key, &body),
            pay(&http, &two, &api_key, &key, &body)
        );
        for (status, view) in [&a, &b] {
            assert!(
                *status == StatusCode::CREATED || *status == StatusCode::OK,
                "{status} {view}"
            );
        }
        assert_eq!(
            a.1["id"], b.1["id"],
            "two payments for one key: {a:?} {b:?}"
        );
    }
    let sales: Vec<_> = sim
        .transactions(&merchant.merchant_no)
        .unwrap()
        .into_iter()
        .filter(|t| t.kind.is_sale() && t.status == TxStatus::Success)
        .collect();
    assert_eq!(sales.len(), 12, "{sales:?}");

    // Wrong credentials saved through instance one: instance two's very next payment
    // uses them (and is refused by the provider); corrected through two, one uses them.
    let mut wrong = crate::helpers::pos::nkolay_settings(&sim.base_url(), &merchant);
    wrong.set("sx", "wrong-sx");
    one.service
        .update_pos(
            &company.id,
            &pos.id,
            PosChange {
                settings: Some(wrong),
                ..PosChange::default()
            },
            "test",
        )
        .await
        .unwrap();
    let (status, refused) = pay(
        &http,
        &two,
        &api_key,
        "after-change",
        &payment(card, "50.00"),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{refused}");
    assert_eq!(refused["status"], "failed", "{refused}");
    let right = crate::helpers::pos::nkolay_settings(&sim.base_url(), &merchant);
    two.service
        .update_pos(
            &company.id,
            &pos.id,
            PosChange {
                settings: Some(right),
                ..PosChange::default()
            },
            "test",
        )
        .await
        .unwrap();
    let (_, fixed) = pay(&http, &one, &api_key, "after-fix", &payment(card, "51.00")).await;
    assert_eq!(fixed["status"], "approved", "{fixed}");

    // Payments whose answers were lost: the janitors of both instances run at once, and
    // each payment is asked about exactly once.
    let mut unknown = Vec::new();
    for (i, fault) in ["4000000000009060", "4000000000009029", "4000000000009060"]
        .iter()
        .enumerate()
    {
        let (_, view) = pay(
            &http,
            &one,
            &api_key,
            &format!("lost-{i}"),
            &payment(fault, "75.00"),
        )
        .await;
        assert_eq!(view["status"], "unknown", "{view}");
        unknown.push(view["id"].as_str().unwrap().to_owned());
    }
    // Past the provider timeout plus a second: the janitor leaves younger calls alone.
    clock.advance(Duration::from_millis(2600));
    let (r1, r2) = tokio::join!(
        one.service.run_janitor_once(),
        two.service.run_janitor_once()
    );
    let (r1, r2) = (r1.unwrap(), r2.unwrap());
    assert_eq!(r1.resolved + r2.resolved, 3, "{r1:?} {r2:?}");
    for id in &unknown {
        let detail = one.service.get_payment(&company.id, id).await.unwrap();
        assert_ne!(detail.payment.status, PaymentStatus::Unknown, "{detail:?}");
        let inquiries = detail
            .attempts
            .iter()
            .filter(|a| a.operation.as_str() == "inquiry")
            .count();
        assert_eq!(inquiries, 1, "asked twice: {:?}", detail.attempts);
    }

    // The end-of-day job on both at once: one reconciliation run for the POS and day.
    let day = sanalpos_service::istanbul_today();
    let (e1, e2) = tokio::join!(
        one.service.run_end_of_day_once(day),
        two.service.run_end_of_day_once(day)
    );
    let (e1, e2) = (e1.unwrap(), e2.unwrap());
    assert_eq!(e1.runs.len() + e2.runs.len(), 1, "{e1:?} {e2:?}");
    assert_eq!(e1.skipped + e2.skipped, 1, "{e1:?} {e2:?}");
    let runs = one
        .service
        .list_reconciliations(&company.id, 10)
        .await
        .unwrap();
    assert_eq!(runs.len(), 1);
}

/// A sale takes its API key from what its instance keeps; a key revoked through another
/// instance is refused by this one's very next request, and nothing is written or sent
/// for it: a new sale, a replay of the key's earlier sale, a malformed request.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_key_revoked_through_one_instance_is_refused_by_the_others_next_sale() {
    let Some(Pair {
        one,
        two,
        merchant,
        sim,
        company,
        api_key: other_key,
        _data_dir,
        _guard,
        ..
    }) = pair(
        "two_instances_revoke",
        "Anahtar A.Ş.",
        RateLimits::off(),
        &Clock::system(),
    )
    .await
    else {
        return;
    };
    let (revoked, revoked_key) = one
        .service
        .create_api_key(&company.id, "shop", "test")
        .await
        .unwrap();
    let http = reqwest::Client::new();
    let card = "4546711234567894";
    // Instance two has the key in memory after its first sales.
    for n in 0..2 {
        let (status, view) = pay(
            &http,
            &two,
            &revoked_key,
            &format!("before-{n}"),
            &payment(card, "10.00"),
        )
        .await;
        assert_eq!(status, StatusCode::CREATED, "{view}");
    }
    let sent = |sim: &SimHandle| sim.transactions(&merchant.merchant_no).unwrap().len();
    let sent_before = sent(&sim);

    one.service
        .revoke_api_key(&company.id, &revoked.id, "test")
        .await
        .unwrap();
    let (status, view) = pay(&http, &two, &revoked_key, "after", &payment(card, "11.00")).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{view}");
    assert_eq!(view["error"]["code"], "unauthorized", "{view}");
    // A replay of the key's earlier sale, and a request the sale would refuse anyway.
    let (status, view) = pay(
        &http,
        &two,
        &revoked_key,
        "before-0",
        &payment(card, "10.00"),
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{view}");
    for amount in ["0.00", "on lira"] {
        let (status, view) = pay(&http, &two, &revoked_key, "bad", &payment(card, amount)).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{amount}: {view}");
    }
    let listed = two
        .service
        .list_payments(&company.id, Default::default())
        .await
        .unwrap();
    assert_eq!(listed.items.len(), 2, "{listed:?}");
    assert_eq!(sent(&sim), sent_before);

    // The company's other key goes on selling through both.
    for (n, instance) in [&two, &one].into_iter().enumerate() {
        let (status, view) = pay(
            &http,
            instance,
            &other_key,
            &format!("other-{n}"),
            &payment(card, "12.00"),
        )
        .await;
        assert_eq!(status, StatusCode::CREATED, "{view}");
        assert_eq!(view["status"], "approved", "{view}");
    }
}

/// The rate limits are counted in the database: requests spread over two instances
/// add up, and a key over its limit is refused by both.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_instances_share_the_rate_limit_counts() {
    // A window far longer than the test, so no window ends in the middle of it.
    let limits = RateLimits {
        api_window_secs: 1_000_000_000,
        payments_per_key: 4,
        payments_per_company: 0,
        requests_per_key: 0,
        requests_per_company: 0,
        ..RateLimits::default()
    };
    let Some(Pair {
        one,
        two,
        merchant,
        sim,
        api_key,
        _data_dir,
        _guard,
        ..
    }) = pair("two_instances_rate", "Sayaç A.Ş.", limits, &Clock::system()).await
    else {
        return;
    };
    let http = reqwest::Client::new();
    let card = "4546711234567894";

    // Two payments through each instance: four in all, the key's limit.
    for (n, instance) in [&one, &two, &one, &two].into_iter().enumerate() {
        let (status, view) = pay(
            &http,
            instance,
            &api_key,
            &format!("shared-{n}"),
            &payment(card, &format!("{}.00", 20 + n)),
        )
        .await;
        assert_eq!(status, StatusCode::CREATED, "payment {n}: {view}");
    }
    // Each instance alone has seen two; together they have seen four: both refuse.
    for (n, instance) in [&one, &two].into_iter().enumerate() {
        let response = http
            .post(format!("{}/api/v1/payments", instance.base_url))
            .bearer_auth(&api_key)
            .header("Idempotency-Key", format!("over-{n}"))
            .header("Content-Type", "application/json")
            .body(payment(card, "99.00").to_string())
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
        let retry_after: u64 = response.headers()["retry-after"]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        assert!(retry_after >= 1);
        let body = response.json_value().await;
        assert_eq!(body["error"]["code"], "rate_limited", "{body}");
    }
    let sales: Vec<_> = sim
        .transactions(&merchant.merchant_no)
        .unwrap()
        .into_iter()
        .filter(|t| t.status == TxStatus::Success)
        .collect();
    assert_eq!(
        sales.len(),
        4,
        "the refused requests never reached the bank"
    );
}

/// The velocity counts live in the database: declines of one card taken by one instance
/// stop the card on the other, and both refuse it without calling the provider; the
/// same for one client IP (as API callers pass it).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_instances_share_the_velocity_counts() {
    let Some(Pair {
        one,
        two,
        merchant,
        sim,
        api_key,
        _data_dir,
        _guard,
        ..
    }) = pair(
        "two_instances_velocity",
        "Hız Sınırı A.Ş.",
        RateLimits::off(),
        &Clock::system(),
    )
    .await
    else {
        return;
    };
    let http = reqwest::Client::new();
    let calls = || sim.transactions(&merchant.merchant_no).unwrap().len();
    let declining = "4000000000000051";

    // Declines alternate between the instances: 3 per card reach the provider in all.
    let mut outcomes = Vec::new();
    for round in 0..8 {
        let instance = if round % 2 == 0 { &one } else { &two };
        let (status, view) = pay(
            &http,
            instance,
            &api_key,
            &format!("card-{round}"),
            &payment(declining, "5.00"),
        )
        .await;
        assert_eq!(status, StatusCode::CREATED, "{view}");
        outcomes.push(view["status"].as_str().unwrap().to_owned());
    }
    assert_eq!(
        outcomes,
        [
            "declined", "declined", "declined", "blocked", "blocked", "blocked", "blocked",
            "blocked"
        ]
    );
    assert_eq!(calls(), 3);

    // Ten declines from one address (different cards), five through each instance:
    // the eleventh is refused by either.
    let cards = [
        "4000000000000127",
        "4000000000000143",
        "4000000000000416",
        "4000000000000432",
        "4000000000000515",
        "4000000000000549",
        "4000000000000572",
        "4000000000000622",
        "4000000000000820",
        "4000000000000911",
    ];
    for (i, card) in cards.iter().enumerate() {
        let instance = if i % 2 == 0 { &one } else { &two };
        let mut body = payment(card, "5.00");
        body["cardholder_ip"] = Value::String("203.0.113.7".into());
        let (_, view) = pay(&http, instance, &api_key, &format!("ip-{i}"), &body).await;
        assert_eq!(view["status"], "declined", "{view}");
    }
    for (i, instance) in [&one, &two].iter().enumerate() {
        let mut body = payment("4546711234567894", "5.00");
        body["cardholder_ip"] = Value::String("203.0.113.7".into());
        let (_, view) = pay(&http, instance, &api_key, &format!("ip-last-{i}"), &body).await;
        assert_eq!(view["status"], "blocked", "{view}");
    }
    assert_eq!(calls(), 13);
    // Another address with the same good card is served.
    let mut body = payment("4546711234567894", "5.00");
    body["cardholder_ip"] = Value::String("198.51.100.9".into());
    let (_, view) = pay(&http, &two, &api_key, "other-ip", &body).await;
    assert_eq!(view["status"], "approved", "{view}");
}
