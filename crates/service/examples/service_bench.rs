//! Approved non-3D sales per second through `PaymentService` (validation, POS choice,
//! attempt written and committed before the call, outcome + audit committed after)
//! against an in-process simulator on loopback, with 32 concurrent callers; on SQLite
//! (`synchronous=FULL`, so every answered sale is durable) and on PostgreSQL when
//! reachable. For comparison it also calls the simulator directly through the gateway,
//! so the service's own overhead is the difference of the two p50s.
//!
//! Run: `cargo run --release -p sanalpos-service --example service_bench [-- --sales N --callers C]`

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use sanalpos_core::{CardNumber, ClientRef, Currency, Cvv, Expiry, Kurus, Secret};
use sanalpos_gateway::nkolay::{Credentials, NkolayConfig, NkolayGateway};
use sanalpos_gateway::{Card, Gateway, SaleRequest};
use sanalpos_service::*;
use sanalpos_simulator::cards::DEMO_CARD;
use sanalpos_simulator::{spawn, MerchantConfig, SimConfig, SimHandle};
use sanalpos_store::testing::{postgres_store, sqlite_store};
use sanalpos_store::{Crypto, Store};

struct Args {
    sales: usize,
    callers: usize,
}

fn args() -> Args {
    let mut out = Args {
        sales: 20_000,
        callers: 32,
    };
    let all: Vec<String> = std::env::args().collect();
    for pair in all.windows(2) {
        match pair[0].as_str() {
            "--sales" => out.sales = pair[1].parse().unwrap_or(out.sales),
            "--callers" => out.callers = pair[1].parse().unwrap_or(out.callers),
            _ => {}
        }
    }
    out
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn report(
    name: &str,
    total: usize,
    ok: usize,
    elapsed: Duration,
    mut latencies: Vec<Duration>,
) -> Duration {
    latencies.sort();
    let p50 = percentile(&latencies, 0.50);
    println!(
        "{name:<34} {:>8.0} approved/s   p50 {:>6.2} ms   p99 {:>6.2} ms   ({ok}/{total} approved in {:.1} s)",
        ok as f64 / elapsed.as_secs_f64(),
        p50.as_secs_f64() * 1e3,
        percentile(&latencies, 0.99).as_secs_f64() * 1e3,
        elapsed.as_secs_f64(),
    );
    p50
}

async fn start_sim(merchant: &MerchantConfig) -> SimHandle {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    spawn(
        SimConfig {
            merchants: vec![merchant.clone()],
            test_mode: false,
            slow_answer_delay: Duration::from_secs(40),
        },
        listener,
    )
    .await
    .expect("simulator")
}

fn request() -> CreatePayment {
    CreatePayment {
        amount: Kurus::from_minor(15_000).expect("amount"),
        currency: Currency::Try,
        installments: 1,
        card: CardInput {
            number: DEMO_CARD.number.into(),
            expiry_month: DEMO_CARD.expiry_month.into(),
            expiry_year: DEMO_CARD.expiry_year.into(),
            cvv: DEMO_CARD.cvv.into(),
            holder: "Bench".into(),
        },
        vault: sanalpos_service::CardVaultUse::None,
        three_d: false,
        return_url: None,
        order_ref: Some("BENCH".into()),
        customer_ref: None,
        description: None,
        pos_id: None,
        channel: Channel::Api,
        cardholder_ip: None,
        client_ip: None,
        capture: sanalpos_service::CaptureMode::Automatic,
    }
}

/// Runs `count` calls of `call` with `callers` concurrent tasks; (approved, latencies, elapsed).
async fn drive<F, Fut>(count: usize, callers: usize, call: F) -> (usize, Vec<Duration>, Duration)
where
    F: Fn(usize) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = bool> + Send,
{
    let call = Arc::new(call);
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..callers {
        let (call, next) = (call.clone(), next.clone());
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut ok = 0;
            loop {
                let n = next.fetch_add(1, Ordering::Relaxed);
                if n >= count {
                    break;
                }
                let t = Instant::now();
                if call(n).await {
                    ok += 1;
                }
                latencies.push(t.elapsed());
            }
            (ok, latencies)
        }));
    }
    let mut ok = 0;
    let mut latencies = Vec::with_capacity(count);
    for t in tasks {
        let (o, l) = t.await.expect("caller");
        ok += o;
        latencies.extend(l);
    }
    (ok, latencies, started.elapsed())
}

async fn bench_service(
    name: &str,
    store: Store,
    args: &Args,
    merchant: &MerchantConfig,
    sim: &SimHandle,
) {
    let service = PaymentService::new(store.clone(), Crypto::random(), ServiceConfig::default());
    let company = service
        .create_company("Bench A.Ş.", "bench")
        .await
        .expect("company");
    service
        .create_pos(
            &company.id,
            NewPos {
                name: "N Kolay".into(),
                protocol: "nkolay".into(),
                environment: Environment::Simulator,
                settings: sanalpos_service::protocols::nkolay_settings(
                    &sim.base_url(),
                    &merchant.sx,
                    &merchant.sx_list,
                    &merchant.sx_cancel,
                    &merchant.secret_key,
                    true,
                ),
                currencies: vec![Currency::Try],
                installments: vec![InstallmentRow {
                    count: 1,
                    commission_bp: 0,
                    surcharge_bp: 0,
                    value_days: 1,
                }],
                onboarding_state: OnboardingState::Active,
                documents: Vec::new(),
                is_default: true,
                pre_auth_hold_days: None,
            },
            "bench",
        )
        .await
        .expect("pos");
    let actor = Actor {
        company_id: company.id.clone(),
        name: "api:bench".into(),
    };
    let call = {
        let (service, actor) = (service.clone(), actor.clone());
        move |_n: usize| {
            let (service, actor) = (service.clone(), actor.clone());
            async move {
                matches!(
                    service.create_payment(&actor, request()).await,
                    Ok(v) if v.status == PaymentStatus::Approved
                )
            }
        }
    };
    let _ = drive(args.sales / 10, args.callers, call.clone()).await; // warm-up
    let (ok, latencies, elapsed) = drive(args.sales, args.callers, call).await;
    report(name, args.sales, ok, elapsed, latencies);
    store.close().await;
}

#[tokio::main]
async fn main() {
    let args = args();
    let merchant = MerchantConfig::generate();
    let sim = start_sim(&merchant).await;
    println!(
        "{} sales, {} concurrent callers, simulator on {}",
        args.sales,
        args.callers,
        sim.base_url()
    );

    // The simulator alone, through the gateway client.
    let mut config = NkolayConfig::new(
        sim.base_url(),
        Credentials {
            sx: Secret::new(merchant.sx.clone()),
            sx_list: Secret::new(merchant.sx_list.clone()),
            sx_cancel: Secret::new(merchant.sx_cancel.clone()),
            secret_key: Secret::new(merchant.secret_key.clone()),
        },
    );
    config.request_timeout = Duration::from_secs(30);
    let gateway = Arc::new(NkolayGateway::new(config).expect("gateway"));
    let direct = move |n: usize| {
        let gateway = gateway.clone();
        async move {
            let sale = SaleRequest {
                client_ref: ClientRef::parse(&format!("direct-{n}-{}", std::process::id()))
                    .expect("ref"),
                amount: Kurus::from_minor(15_000).expect("amount"),
                currency: Currency::Try,
                installments: 1,
                card: Card {
                    number: CardNumber::parse(DEMO_CARD.number).expect("card"),
                    expiry: Expiry::parse(DEMO_CARD.expiry_month, DEMO_CARD.expiry_year)
                        .expect("expiry"),
                    cvv: Cvv::parse(DEMO_CARD.cvv).expect("cvv"),
                    holder: "Bench".into(),
                },
                description: None,
                cardholder_ip: None,
                pre_auth: false,
            };
            gateway.sale(&sale).await.outcome.kind() == "approved"
        }
    };
    let _ = drive(args.sales / 10, args.callers, direct.clone()).await;
    let (ok, latencies, elapsed) = drive(args.sales, args.callers, direct).await;
    report(
        "simulator direct (gateway only)",
        args.sales,
        ok,
        elapsed,
        latencies,
    );

    let (store, guard) = sqlite_store().await;
    bench_service("service on SQLite (durable)", store, &args, &merchant, &sim).await;
    drop(guard);
    match postgres_store("service_bench").await {
        Some((store, guard)) => {
            bench_service("service on PostgreSQL", store, &args, &merchant, &sim).await;
            drop(guard);
        }
        None => println!("PostgreSQL unreachable: skipped"),
    }
}
