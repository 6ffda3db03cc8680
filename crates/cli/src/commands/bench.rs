//! `sanalpos bench payments`: drives the real service (HTTP, database, provider client)
//! against the simulator on loopback and prints approved sales per second and latency
//! percentiles, on SQLite or PostgreSQL.

use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::{Args, Subcommand};
use sanalpos_core::{CardNumber, ClientRef, Currency, Cvv, Expiry, Kurus, Secret};
use sanalpos_gateway::nkolay::{Credentials, NkolayConfig, NkolayGateway};
use sanalpos_gateway::{Card, Gateway, Outcome, SaleRequest};
use sanalpos_server::{Application, Config};
use sanalpos_service::PaymentService;
use sanalpos_simulator::cards::DEMO_CARD;
use sanalpos_simulator::{spawn, MerchantConfig, SimConfig};
use sanalpos_store::WriterLoad;

/// `sanalpos bench ...`.
#[derive(Debug, Subcommand)]
pub enum BenchCommand {
    /// Non-3D sales through the HTTP API, against the built-in simulator.
    Payments(PaymentsArgs),
    /// The payment list, totals and exports over a large seeded table.
    List(super::bench_list::ListArgs),
}

/// Options of `bench payments`.
#[derive(Debug, Args)]
pub struct PaymentsArgs {
    /// `postgres` for a fresh PostgreSQL database (see --postgres-url), else SQLite in a
    /// temporary directory.
    #[arg(long, default_value = "sqlite")]
    engine: String,
    /// Admin URL of the PostgreSQL server; the bench creates and drops its own database.
    #[arg(long, default_value = "postgres://postgres@127.0.0.1:5432/test")]
    postgres_url: String,
    /// Seconds per phase.
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    /// Concurrent callers in the throughput phase.
    #[arg(long, default_value_t = 32)]
    concurrency: usize,
    /// Requests per second in the fixed-rate phase.
    #[arg(long, default_value_t = 500)]
    rate: u32,
    /// Skip the abuse limits: the rate-limit counters and the card/IP velocity read (the
    /// cost of the limits is the difference). By default every request is counted
    /// against rate limits it never reaches, and every sale's card and address are
    /// checked against the decline counts.
    #[arg(long)]
    no_abuse_limits: bool,
    /// With 2 (PostgreSQL only): after the other phases, a second instance of the
    /// service on the same database takes half of the callers, and the bench prints the
    /// two instances' rate against one instance's.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u8).range(1..=2))]
    instances: u8,
    /// Companies the payments are spread over, each with its own POS and API key
    /// (payment `n` goes to company `n % companies`). One company's writes share its
    /// audit chain, which orders them one after another on every instance.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..=1000))]
    companies: u16,
    /// Rows of the statement imported during the second fixed-rate phase (0: no such
    /// phase). 200,000 rows make about 31 MiB, near the upload limit of 32 MiB.
    #[arg(long, default_value_t = 200_000)]
    import_rows: usize,
}

/// Runs a bench command. With `RUST_LOG` set, logs to stderr as `serve` does:
/// `RUST_LOG=sqlx::query=debug` shows every statement with the time it ran, which is
/// how a sale's calls to the database were counted and timed.
pub fn run(command: BenchCommand) -> ExitCode {
    if std::env::var_os("RUST_LOG").is_some() {
        super::init_logging();
    }
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = match command {
        BenchCommand::Payments(args) => runtime.block_on(payments(args)),
        BenchCommand::List(args) => runtime.block_on(super::bench_list::list(args)),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

struct Target {
    http: reqwest::Client,
    url: String,
    /// One API key per company.
    keys: Arc<Vec<String>>,
}

impl Target {
    /// One payment; its latency when approved.
    async fn pay(&self, n: u64) -> Option<Duration> {
        let card = DEMO_CARD;
        let body = format!(
            r#"{{"amount":"{}.{:02}","currency":"TRY","installments":1,"card":{{"number":"{}","expiry_month":"{}","expiry_year":"{}","cvv":"{}","holder":"Yük Testi"}}}}"#,
            10 + n % 900,
            n % 100,
            card.number,
            card.expiry_month,
            card.expiry_year,
            card.cvv,
        );
        let started = Instant::now();
        let response = self
            .http
            .post(&self.url)
            .bearer_auth(&self.keys[(n % self.keys.len() as u64) as usize])
            .header("Idempotency-Key", format!("bench-{n}"))
            .header("Content-Type", "application/json")
            .body(body)
            .send()
            .await
            .ok()?;
        let ok = response.status().as_u16() == 201;
        let text = response.text().await.ok()?;
        (ok && text.contains("\"status\":\"approved\"")).then(|| started.elapsed())
    }
}

/// A closed loop of `concurrency` callers for `phase`, caller `i` sending to
/// `targets[i % targets.len()]`, numbering its payments from `first`: the approved
/// latencies, how many were sent, and how long it took.
async fn closed_loop(
    targets: &[Arc<Target>],
    concurrency: usize,
    phase: Duration,
    first: u64,
) -> Result<(Vec<Duration>, u64, Duration), String> {
    let started = Instant::now();
    let next = Arc::new(std::sync::atomic::AtomicU64::new(first));
    let mut tasks = Vec::new();
    for i in 0..concurrency {
        let target = targets[i % targets.len()].clone();
        let next = next.clone();
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            while started.elapsed() < phase {
                let n = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if let Some(l) = target.pay(n).await {
                    latencies.push(l);
                }
            }
            latencies
        }));
    }
    let mut all = Vec::new();
    for task in tasks {
        all.extend(task.await.map_err(|e| e.to_string())?);
    }
    let attempted = next.load(std::sync::atomic::Ordering::Relaxed) - first;
    Ok((all, attempted, started.elapsed()))
}

fn report(name: &str, latencies: &mut [Duration], elapsed: Duration, attempted: u64) {
    latencies.sort_unstable();
    println!(
        "{name:<34} {:>8.0} approved/s  p50 {:>6.2} ms  p99 {:>6.2} ms  ({} of {attempted} approved in {:.1} s)",
        latencies.len() as f64 / elapsed.as_secs_f64(),
        ms(percentile(latencies, 0.50)),
        ms(percentile(latencies, 0.99)),
        latencies.len(),
        elapsed.as_secs_f64()
    );
}

/// How busy the database writer of `service` was in the phase that started at `before`
/// (its figures then) and took `elapsed`: the share of the phase it was busy, the writes
/// a group held, and what a write and a group's end cost it. Busy near all of the phase
/// means the single writer, not the callers, set the rate.
fn report_writer(name: &str, service: &PaymentService, before: &WriterLoad, elapsed: Duration) {
    let load = service.writer_load().since(before);
    if load.groups == 0 || load.writes == 0 {
        return;
    }
    let writes = load.busy.saturating_sub(load.ending);
    println!(
        "{name:<34} busy {:>3.0} % of the phase; {:.1} writes a group; {:.0} µs a write, {:.2} ms a group's end",
        100.0 * load.busy.as_secs_f64() / elapsed.as_secs_f64(),
        load.writes as f64 / load.groups as f64,
        writes.as_secs_f64() * 1e6 / load.writes as f64,
        load.ending.as_secs_f64() * 1e3 / load.groups as f64,
    );
}

async fn payments(args: PaymentsArgs) -> Result<(), String> {
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let merchant = MerchantConfig::generate();
    let sim = spawn(
        SimConfig {
            merchants: vec![merchant.clone()],
            ..SimConfig::default()
        },
        tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .map_err(|e| e.to_string())?,
    )
    .await
    .map_err(|e| e.to_string())?;

    let (database_url, _pg_guard) = match args.engine.as_str() {
        "sqlite" => (String::new(), None),
        "postgres" => {
            std::env::set_var("SANALPOS_TEST_DATABASE_URL", &args.postgres_url);
            let (store, guard) = sanalpos_store::testing::postgres_store("bench")
                .await
                .ok_or("PostgreSQL unreachable")?;
            store.close().await;
            (guard.url().to_owned(), Some(guard))
        }
        other => return Err(format!("unknown engine {other:?}: sqlite or postgres")),
    };
    if args.instances == 2 && args.engine != "postgres" {
        return Err("two instances share a PostgreSQL database: add --engine postgres".into());
    }
    let config = Config {
        listen: "127.0.0.1:0".parse().map_err(|e| format!("{e}"))?,
        data_dir: dir.path().to_owned(),
        database_url,
        end_of_day: None,
        // Counted on every request (the hot path measured), never reached.
        abuse: if args.no_abuse_limits {
            sanalpos_service::AbuseLimits {
                session_failures: 0,
                card_declines: 0,
                ip_declines: 0,
                ..sanalpos_service::AbuseLimits::default()
            }
        } else {
            sanalpos_service::AbuseLimits::default()
        },
        rate_limits: if args.no_abuse_limits {
            sanalpos_server::ratelimit::RateLimits::off()
        } else {
            sanalpos_server::ratelimit::RateLimits {
                payments_per_key: u32::MAX,
                payments_per_company: u32::MAX,
                requests_per_key: u32::MAX,
                requests_per_company: u32::MAX,
                ..sanalpos_server::ratelimit::RateLimits::default()
            }
        },
        ..Config::default()
    };
    let app = Application::build(config.clone())
        .await
        .map_err(|e| e.to_string())?;
    let service = app.service().clone();
    let mut keys = Vec::new();
    let mut first_pos = None;
    for c in 0..args.companies {
        let company = service
            .create_company(&format!("Yük Testi {} A.Ş.", c + 1), "bench")
            .await
            .map_err(|e| e.to_string())?;
        let pos = service
            .create_pos(
                &company.id,
                sanalpos::demo::simulator_pos(&sim.base_url(), &merchant),
                "bench",
            )
            .await
            .map_err(|e| e.to_string())?;
        first_pos.get_or_insert((company.id.clone(), pos.id));
        let (_, key) = service
            .create_api_key(&company.id, "bench", "bench")
            .await
            .map_err(|e| e.to_string())?;
        keys.push(key);
    }
    let url = format!("{}/api/v1/payments", app.base_url());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(app.run_until_stopped(async move {
        let _ = stopped.await;
    }));
    let target = Arc::new(Target {
        http: reqwest::Client::builder()
            .pool_max_idle_per_host(args.concurrency.max(64))
            .build()
            .map_err(|e| e.to_string())?,
        url,
        keys: Arc::new(keys),
    });
    println!(
        "engine {}; {} compan{}; abuse limits (rate counters, card/IP velocity) {}; simulator, service and load generator in one process on {} cores",
        args.engine,
        args.companies,
        if args.companies == 1 { "y" } else { "ies" },
        if args.no_abuse_limits { "off" } else { "checked" },
        std::thread::available_parallelism().map_or(1, |n| n.get())
    );

    // 1. The simulator alone, called directly: the floor under the service's latency.
    let direct = NkolayGateway::new(NkolayConfig::new(
        sim.base_url(),
        Credentials {
            sx: Secret::new(merchant.sx.clone()),
            sx_list: Secret::new(merchant.sx_list.clone()),
            sx_cancel: Secret::new(merchant.sx_cancel.clone()),
            secret_key: Secret::new(merchant.secret_key.clone()),
        },
    ))
    .map_err(|e| e.to_string())?;
    let mut sim_latencies = Vec::new();
    let started = Instant::now();
    for n in 0..500u64 {
        let response = direct.sale(&direct_sale(n)?).await;
        if matches!(response.outcome, Outcome::Approved(_)) {
            sim_latencies.push(response.latency);
        }
    }
    report(
        "simulator direct, sequential",
        &mut sim_latencies,
        started.elapsed(),
        500,
    );

    // 2. The service, one request at a time: its own overhead.
    let writer = service.writer_load();
    let mut seq = Vec::new();
    let started = Instant::now();
    for n in 0..500u64 {
        if let Some(l) = target.pay(n).await {
            seq.push(l);
        }
    }
    let took = started.elapsed();
    report("service, sequential", &mut seq, took, 500);
    report_writer("  its database writer", &service, &writer, took);
    println!(
        "{:<34} {:>8.2} ms (service p50 minus simulator p50)",
        "service overhead at p50",
        ms(percentile(&seq, 0.5)) - ms(percentile(&sim_latencies, 0.5))
    );

    // 3. Throughput: closed loop with `concurrency` callers.
    let phase = Duration::from_secs(args.seconds);
    let writer = service.writer_load();
    let (mut all, attempted, elapsed) = closed_loop(
        std::slice::from_ref(&target),
        args.concurrency,
        phase,
        1_000_000,
    )
    .await?;
    let one_instance = all.len() as f64 / elapsed.as_secs_f64();
    report(
        &format!("service, {} callers", args.concurrency),
        &mut all,
        elapsed,
        attempted,
    );
    report_writer("  its database writer", &service, &writer, elapsed);

    // 4. Fixed rate, open loop: latency at a steady load.
    let writer = service.writer_load();
    let (mut fixed, attempted, elapsed) =
        open_loop(&target, args.rate, phase, 2_000_000, || false).await?;
    report(
        &format!("service, fixed {} req/s", args.rate),
        &mut fixed,
        elapsed,
        attempted,
    );
    report_writer("  its database writer", &service, &writer, elapsed);

    // 5. The same rate while a large statement is imported and reconciled: what the
    // import's parsing, matching and writing cost the payments beside it.
    if args.import_rows > 0 {
        let (company_id, pos_id) = first_pos.ok_or("no company")?;
        let statement = bench_statement(args.import_rows);
        let size = statement.len();
        let today = sanalpos_core::time::now_istanbul().date_naive();
        let (from, to) = (
            (today - chrono::Days::new(1)).to_string(),
            (today + chrono::Days::new(1)).to_string(),
        );
        let finished = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let writer = service.writer_load();
        let import = tokio::spawn({
            let (service, finished) = (service.clone(), finished.clone());
            async move {
                let actor = sanalpos_service::Actor {
                    company_id: company_id.clone(),
                    name: "user:bench".into(),
                };
                let started = Instant::now();
                let run = service
                    .import_statement(
                        &actor,
                        &company_id,
                        &pos_id,
                        &from,
                        &to,
                        statement,
                        None,
                        false,
                    )
                    .await;
                finished.store(true, std::sync::atomic::Ordering::Release);
                (run, started.elapsed())
            }
        });
        let (mut during, attempted, elapsed) =
            open_loop(&target, args.rate, phase, 4_000_000, || {
                !finished.load(std::sync::atomic::Ordering::Acquire)
            })
            .await?;
        let (run, took) = import.await.map_err(|e| e.to_string())?;
        let run = run.map_err(|e| format!("the bench statement was refused: {e}"))?;
        report(
            &format!("service, fixed {} req/s + import", args.rate),
            &mut during,
            elapsed,
            attempted,
        );
        report_writer("  its database writer", &service, &writer, elapsed);
        println!(
            "{:<34} {:>8.2} s ({} rows, {:.1} MiB; {} items stored)",
            "statement import meanwhile",
            took.as_secs_f64(),
            args.import_rows,
            size as f64 / (1024.0 * 1024.0),
            run.summary.total()
        );
    }

    // 6. Two instances of the service on one database, half of the callers each.
    if args.instances == 2 {
        let second = Application::build(config.clone())
            .await
            .map_err(|e| e.to_string())?;
        let second_target = Arc::new(Target {
            http: target.http.clone(),
            url: format!("{}/api/v1/payments", second.base_url()),
            keys: target.keys.clone(),
        });
        let second_service = second.service().clone();
        let writers = [service.writer_load(), second_service.writer_load()];
        let (stop_second, stopped) = tokio::sync::oneshot::channel::<()>();
        let second_server = tokio::spawn(second.run_until_stopped(async move {
            let _ = stopped.await;
        }));
        let (mut all, attempted, elapsed) = closed_loop(
            &[target.clone(), second_target],
            args.concurrency,
            phase,
            3_000_000,
        )
        .await?;
        let two = all.len() as f64 / elapsed.as_secs_f64();
        report(
            &format!("two instances, {} callers", args.concurrency),
            &mut all,
            elapsed,
            attempted,
        );
        report_writer("  the first one's writer", &service, &writers[0], elapsed);
        report_writer(
            "  the second one's writer",
            &second_service,
            &writers[1],
            elapsed,
        );
        println!(
            "{:<34} {:>8.2} (two instances' rate over one instance's, same run)",
            "two instances / one",
            two / one_instance
        );
        let _ = stop_second.send(());
        let _ = second_server.await;
    }

    let _ = stop.send(());
    let _ = server.await;
    sim.shutdown().await;
    Ok(())
}

/// An open loop at `rate` requests a second, numbering payments from `first`, for
/// `phase` and then for as long as `busy` says: the approved latencies, how many were
/// sent, and how long it took.
async fn open_loop(
    target: &Arc<Target>,
    rate: u32,
    phase: Duration,
    first: u64,
    busy: impl Fn() -> bool,
) -> Result<(Vec<Duration>, u64, Duration), String> {
    let interval = Duration::from_secs_f64(1.0 / f64::from(rate.max(1)));
    let started = Instant::now();
    let mut ticker = tokio::time::interval(interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let mut tasks = Vec::new();
    let mut n = first;
    while started.elapsed() < phase || busy() {
        ticker.tick().await;
        let target = target.clone();
        n += 1;
        tasks.push(tokio::spawn(async move { target.pay(n).await }));
    }
    let attempted = tasks.len() as u64;
    let mut latencies = Vec::new();
    for task in tasks {
        if let Some(l) = task.await.map_err(|e| e.to_string())? {
            latencies.push(l);
        }
    }
    Ok((latencies, attempted, started.elapsed()))
}

/// A statement in the simulator's layout of `rows` sales of today that are in no
/// book of ours: each becomes a provider-only item of the run.
fn bench_statement(rows: usize) -> Vec<u8> {
    let now = sanalpos_core::time::now_istanbul();
    let (time, day) = (
        now.format("%d.%m.%Y %H:%M:%S").to_string(),
        now.format("%d.%m.%Y").to_string(),
    );
    let mut out = sanalpos_simulator::statement::HEADER.join(";");
    out.push_str("\r\n");
    for n in 0..rows {
        let (lira, kurus) = (10 + n % 9_000, n % 100);
        out.push_str(&format!(
            "{time};{day};Satış;Başarılı;BENCH{n:010};bench-order-{n};{:06};435508******4358;Yük Testi;1;\
             {lira},{kurus:02};{lira},{kurus:02};1,00;{},{kurus:02};TRY\r\n",
            n % 1_000_000,
            lira - 1,
        ));
    }
    out.into_bytes()
}

fn direct_sale(n: u64) -> Result<SaleRequest, String> {
    Ok(SaleRequest {
        client_ref: ClientRef::parse(&format!("direct-{n}")).map_err(|e| e.to_string())?,
        amount: Kurus::parse("10.00").map_err(|e| e.to_string())?,
        currency: Currency::Try,
        installments: 1,
        card: Card {
            number: CardNumber::parse(DEMO_CARD.number).map_err(|e| e.to_string())?,
            expiry: Expiry::parse(DEMO_CARD.expiry_month, DEMO_CARD.expiry_year)
                .map_err(|e| e.to_string())?,
            cvv: Cvv::parse(DEMO_CARD.cvv).map_err(|e| e.to_string())?,
            holder: "Yük Testi".into(),
        },
        description: None,
        pre_auth: false,
        cardholder_ip: None,
    })
}
