//! `sanalpos bench list`: seeds a large payment table (1,000,000 rows by default) into a
//! real SQLite file, or a fresh PostgreSQL database, and times what the back office
//! asks of it: the list's first page, filtered pages, a deep page through the cursor,
//! totals, and CSV/XLSX exports of 10,000 rows. Each figure is the min / median / max
//! of several runs, with the database's plan of each list query. Last, it writes one
//! reconciliation run of many items (what importing a large statement stores) and times
//! how long small writes sent meanwhile wait behind it.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use clap::Args;
use sanalpos_core::{BankCode, Currency, Kurus, Lang};
use sanalpos_service::{
    payment_cursor, Channel, Environment, ExportFormat, InstallmentRow, ItemsQuery, NewPos,
    OnboardingState, PaymentFilter, PaymentService, PaymentStatus, ServiceConfig, Settings,
};
use sanalpos_store::{
    new_id, new_id_at, Crypto, NewAudit, NewReconItem, PaymentQuery, PaymentRecord, ReconRunRecord,
    Store,
};

/// Options of `bench list`.
#[derive(Debug, Args)]
pub struct ListArgs {
    /// Payments to seed.
    #[arg(long, default_value_t = 1_000_000)]
    rows: u64,
    /// A PostgreSQL server URL: the bench creates a fresh database there and drops it
    /// afterwards. Without it, SQLite.
    #[arg(long)]
    database_url: Option<String>,
    /// Directory of the SQLite file (`bench-list.db`); kept, and reused without
    /// seeding again when it already holds the rows. Default: a temporary directory.
    #[arg(long)]
    dir: Option<std::path::PathBuf>,
    /// Runs of each timed call.
    #[arg(long, default_value_t = 7)]
    repeat: usize,
    /// Items of the reconciliation run written at the end (0: none), timed with the
    /// small writes that wait behind it on the database writer.
    #[arg(long, default_value_t = 100_000)]
    recon_items: usize,
}

/// splitmix64: small, fast, reproducible.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

const DAY_MS: i64 = 86_400_000;
const CUSTOMERS: u64 = 20_000;
const CARDS: u64 = 10_000;
const BATCH: u64 = 50_000;

fn status_of(roll: u64) -> PaymentStatus {
    // Per mille: 800 approved, 100 declined, 20 failed, 20 cancelled, 20 partially
    // refunded, 20 refunded, 10 expired, 5 unknown, 5 processing.
    match roll {
        0..800 => PaymentStatus::Approved,
        800..900 => PaymentStatus::Declined,
        900..920 => PaymentStatus::Failed,
        920..940 => PaymentStatus::Cancelled,
        940..960 => PaymentStatus::PartiallyRefunded,
        960..980 => PaymentStatus::Refunded,
        980..990 => PaymentStatus::Expired,
        990..995 => PaymentStatus::Unknown,
        _ => PaymentStatus::Processing,
    }
}

fn channel_of(roll: u64) -> Channel {
    match roll {
        0..60 => Channel::Api,
        60..85 => Channel::Hosted,
        85..95 => Channel::Moto,
        95..99 => Channel::Manual,
        _ => Channel::Reconciliation,
    }
}

/// The masked card of card number `n` of the data set (never a real number).
fn masked(n: u64) -> String {
    let bins = ["454671", "520019", "435509", "542119", "415565"];
    format!("{}******{:04}", bins[(n % 5) as usize], n % CARDS)
}

#[allow(clippy::too_many_arguments)]
fn record(
    rng: &mut Rng,
    i: u64,
    company: &str,
    pos: &[String],
    start_ms: i64,
    step_ms: i64,
) -> PaymentRecord {
    let created_at = start_ms + i as i64 * step_ms + rng.below(step_ms.max(1) as u64) as i64;
    let status = status_of(rng.below(1000));
    let currency = match rng.below(100) {
        0..95 => Currency::Try,
        95..98 => Currency::Eur,
        _ => Currency::Usd,
    };
    // 1.00 to about 50,000.00, most of them small.
    let magnitude = 10_u64.pow(2 + rng.below(5) as u32);
    let amount = 100 + rng.below(magnitude) as i64;
    let amount = Kurus::from_minor(amount).unwrap_or(Kurus::ZERO);
    let approved_once = matches!(
        status,
        PaymentStatus::Approved
            | PaymentStatus::Cancelled
            | PaymentStatus::PartiallyRefunded
            | PaymentStatus::Refunded
    );
    let (bank_code, message_tr, message_en) = if status == PaymentStatus::Declined {
        let code = ["51", "05", "54", "57", "12"][rng.below(5) as usize];
        let message = BankCode::parse(code).map(|c| c.message());
        (
            Some(code.to_owned()),
            message.as_ref().map(|m| m.tr.clone()),
            message.as_ref().map(|m| m.en.clone()),
        )
    } else {
        (None, None, None)
    };
    let refunded = match status {
        PaymentStatus::Cancelled | PaymentStatus::Refunded => amount,
        PaymentStatus::PartiallyRefunded => {
            Kurus::from_minor(amount.minor() / 2).unwrap_or(Kurus::ZERO)
        }
        _ => Kurus::ZERO,
    };
    let card = rng.below(CARDS);
    PaymentRecord {
        id: new_id_at("pay", created_at),
        company_id: company.to_owned(),
        pos_id: pos[rng.below(pos.len() as u64) as usize].clone(),
        status,
        amount,
        currency,
        installments: [1, 1, 1, 2, 3, 6][rng.below(6) as usize],
        masked_pan: masked(card),
        card_fingerprint: format!("fp{card:08}"),
        card_brand: "visa".into(),
        auth_code: approved_once.then(|| format!("{:06}", rng.below(1_000_000))),
        provider_ref: (status != PaymentStatus::Processing).then(|| format!("IKSIRPF{i:010}")),
        bank_code,
        message_tr,
        message_en,
        channel: channel_of(rng.below(100)),
        order_ref: Some(format!("SO-{i:08}")),
        customer_ref: Some(format!("120.01.{:05}", rng.below(CUSTOMERS))),
        description: None,
        three_d: rng.below(2) == 0,
        return_url: None,
        three_d_token: None,
        three_d_html: None,
        sale_client_ref: format!("B{i:023}"),
        authorized_amount: approved_once.then_some(amount),
        refunded_amount: refunded,
        business_date: sanalpos_service::business_date(created_at)
            .format("%Y-%m-%d")
            .to_string(),
        review_reason: (status == PaymentStatus::Unknown && rng.below(10) == 0)
            .then(|| "inquiry found nothing".to_owned()),
        created_by: "api:bench".into(),
        created_at,
        updated_at: created_at,
        client_ip: None,
        pre_auth: false,
        held_amount: None,
        hold_until: None,
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

struct Timing {
    min: Duration,
    median: Duration,
    max: Duration,
}

fn line(name: &str, t: &Timing, note: &str) {
    println!(
        "{name:<44} min {:>8.2} ms  median {:>8.2} ms  max {:>8.2} ms  {note}",
        ms(t.min),
        ms(t.median),
        ms(t.max)
    );
}

async fn time<F, Fut, T>(repeat: usize, mut f: F) -> Result<(Timing, T), String>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, String>>,
{
    let mut times = Vec::with_capacity(repeat);
    let mut last = None;
    for _ in 0..repeat.max(1) {
        let started = Instant::now();
        let out = f().await?;
        times.push(started.elapsed());
        last = Some(out);
    }
    times.sort_unstable();
    let out = last.ok_or("nothing ran")?;
    Ok((
        Timing {
            min: times[0],
            median: times[times.len() / 2],
            max: times[times.len() - 1],
        },
        out,
    ))
}

async fn seed(
    service: &PaymentService,
    store: &Store,
    rows: u64,
    now_ms: i64,
) -> Result<(String, Vec<String>), String> {
    let company = service
        .create_company("Bench Ticaret A.Ş.", "bench")
        .await
        .map_err(|e| e.to_string())?;
    let mut pos_ids = Vec::new();
    for name in ["N Kolay ana POS", "N Kolay ikinci POS", "N Kolay yedek POS"] {
        let pos = service
            .create_pos(
                &company.id,
                NewPos {
                    name: name.into(),
                    protocol: "nkolay".into(),
                    environment: Environment::Simulator,
                    settings: Settings::from_pairs([
                        ("base_url", "http://127.0.0.1:9"),
                        ("sx", "bench"),
                        ("sx_list", "bench"),
                        ("sx_cancel", "bench"),
                        ("secret_key", "bench"),
                    ]),
                    currencies: vec![Currency::Try, Currency::Eur, Currency::Usd],
                    installments: vec![InstallmentRow {
                        count: 1,
                        commission_bp: 179,
                        surcharge_bp: 0,
                        value_days: 1,
                    }],
                    onboarding_state: OnboardingState::Active,
                    documents: Vec::new(),
                    is_default: pos_ids.is_empty(),
                    pre_auth_hold_days: None,
                },
                "bench",
            )
            .await
            .map_err(|e| e.to_string())?;
        pos_ids.push(pos.id);
    }
    // A year of payments up to now, evenly spread with jitter, made on a thread of their
    // own so the next batch is ready while the database takes the last one.
    let start_ms = now_ms - 365 * DAY_MS;
    let step_ms = (365 * DAY_MS / rows.max(1) as i64).max(1);
    let (batches, mut ready) = tokio::sync::mpsc::channel::<Vec<PaymentRecord>>(2);
    let maker = {
        let company_id = company.id.clone();
        let pos_ids = pos_ids.clone();
        std::thread::spawn(move || {
            let mut rng = Rng(0x5A4A_1905);
            let mut made = 0;
            while made < rows {
                let n = BATCH.min(rows - made);
                let batch: Vec<PaymentRecord> = (made..made + n)
                    .map(|i| record(&mut rng, i, &company_id, &pos_ids, start_ms, step_ms))
                    .collect();
                if batches.blocking_send(batch).is_err() {
                    return;
                }
                made += n;
            }
        })
    };
    let started = Instant::now();
    let load = store.begin_bulk_load().await.map_err(|e| e.to_string())?;
    // Two batches in flight: on PostgreSQL each is a `COPY` on a connection of its own,
    // so two backends take rows side by side; on SQLite the writer takes them in turn.
    let mut loading: tokio::task::JoinSet<Result<u64, String>> = tokio::task::JoinSet::new();
    let mut done = 0;
    let mut count = |finished: Option<Result<Result<u64, String>, tokio::task::JoinError>>| {
        if let Some(finished) = finished {
            done += finished.map_err(|e| e.to_string())??;
            eprint!(
                "\rseeding: {done} of {rows} payments ({:.0}/s)",
                done as f64 / started.elapsed().as_secs_f64()
            );
        }
        Ok::<(), String>(())
    };
    while let Some(batch) = ready.recv().await {
        if loading.len() == 2 {
            count(loading.join_next().await)?;
        }
        let store = store.clone();
        loading.spawn(async move {
            let n = batch.len() as u64;
            store
                .seed_payments(batch)
                .await
                .map_err(|e| e.to_string())?;
            Ok(n)
        });
    }
    while !loading.is_empty() {
        count(loading.join_next().await)?;
    }
    maker
        .join()
        .map_err(|_| "the payment generator stopped".to_owned())?;
    eprintln!();
    let loaded = started.elapsed();
    store
        .finish_bulk_load(load)
        .await
        .map_err(|e| e.to_string())?;
    println!(
        "seeded {rows} payments in {:.1} s ({:.0} rows/s, {} rows per transaction; \
         of it {:.1} s building the indexes after the load)",
        started.elapsed().as_secs_f64(),
        rows as f64 / started.elapsed().as_secs_f64(),
        BATCH,
        (started.elapsed() - loaded).as_secs_f64()
    );
    Ok((company.id, pos_ids))
}

fn to_query(filter: &PaymentFilter) -> PaymentQuery {
    PaymentQuery {
        from: filter.from.map(|t| t.timestamp_millis()),
        to: filter.to.map(|t| t.timestamp_millis()),
        status: filter.status,
        pos_id: filter.pos_id.clone(),
        order_ref: filter.order_ref.clone(),
        customer_ref: filter.customer_ref.clone(),
        channel: filter.channel,
        last4: filter.last_four.clone(),
        min_amount: filter.min_amount,
        max_amount: filter.max_amount,
        auth_code: filter.auth_code.clone(),
        provider_ref: filter.provider_ref.clone(),
        after: None,
        limit: filter.limit.unwrap_or(50) + 1,
    }
}

fn at(ms: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(ms).unwrap_or_default()
}

/// Runs `bench list`.
pub async fn list(args: ListArgs) -> Result<(), String> {
    let (store, _guard, _tmp, engine) = match &args.database_url {
        Some(url) => {
            std::env::set_var("SANALPOS_TEST_DATABASE_URL", url);
            let (store, guard) = sanalpos_store::testing::postgres_store("bench_list")
                .await
                .ok_or("PostgreSQL is not reachable at --database-url")?;
            (store, Some(guard), None, "PostgreSQL")
        }
        None => {
            let (dir, tmp) = match &args.dir {
                Some(dir) => {
                    std::fs::create_dir_all(dir).map_err(|e| e.to_string())?;
                    (dir.clone(), None)
                }
                None => {
                    let tmp = tempfile::tempdir().map_err(|e| e.to_string())?;
                    (tmp.path().to_path_buf(), Some(tmp))
                }
            };
            let path = dir.join("bench-list.db");
            let store = Store::open(&Store::sqlite_url(&path))
                .await
                .map_err(|e| e.to_string())?;
            println!("SQLite file: {}", path.display());
            (store, None, tmp, "SQLite")
        }
    };
    let service = PaymentService::new(store.clone(), Crypto::random(), ServiceConfig::default());
    let now_ms = Utc::now().timestamp_millis();

    // Reuse a seeded SQLite file of the same size.
    let existing = service
        .list_companies()
        .await
        .map_err(|e| e.to_string())?
        .into_iter()
        .find(|c| c.name == "Bench Ticaret A.Ş.");
    let company_id = match existing {
        Some(company) => {
            let totals = service
                .payment_totals(&company.id, &PaymentFilter::default())
                .await
                .map_err(|e| e.to_string())?;
            if totals.count != args.rows {
                return Err(format!(
                    "{} holds {} payments, not {}: use another --dir",
                    engine, totals.count, args.rows
                ));
            }
            println!("reusing {} seeded payments", totals.count);
            company.id
        }
        None => seed(&service, &store, args.rows, now_ms).await?.0,
    };
    if args.database_url.is_some() {
        // What autovacuum does after a bulk load; SQLite is measured as it runs, with no
        // statistics.
        store.analyze().await.map_err(|e| e.to_string())?;
    }
    let company = company_id.as_str();
    let newest = service
        .list_payments(company, PaymentFilter::default())
        .await
        .map_err(|e| e.to_string())?;
    let sample = newest.items.first().ok_or("no payments")?.clone();
    let newest_ms = DateTime::parse_from_rfc3339(&sample.created_at)
        .map_err(|e| e.to_string())?
        .timestamp_millis();
    let last4 = sample.masked_pan[sample.masked_pan.len() - 4..].to_owned();
    let customer = sample.customer_ref.clone().unwrap_or_default();

    println!(
        "\n{engine}, {} payments of one company; {} runs each\n",
        args.rows, args.repeat
    );
    let filters: Vec<(&str, PaymentFilter)> = vec![
        ("first page (50)", PaymentFilter::default()),
        (
            "status=approved + last 30 days",
            PaymentFilter {
                status: Some(PaymentStatus::Approved),
                from: Some(at(newest_ms - 30 * DAY_MS)),
                to: Some(at(newest_ms + 1)),
                ..PaymentFilter::default()
            },
        ),
        (
            "status=declined + a 7-day range in March",
            PaymentFilter {
                status: Some(PaymentStatus::Declined),
                from: Some(at(newest_ms - 250 * DAY_MS)),
                to: Some(at(newest_ms - 243 * DAY_MS)),
                ..PaymentFilter::default()
            },
        ),
        (
            "last four digits",
            PaymentFilter {
                last_four: Some(last4),
                ..PaymentFilter::default()
            },
        ),
        (
            "customer ref",
            PaymentFilter {
                customer_ref: Some(customer),
                ..PaymentFilter::default()
            },
        ),
        (
            "amount 100.00-200.00",
            PaymentFilter {
                min_amount: Kurus::parse("100.00").ok(),
                max_amount: Kurus::parse("200.00").ok(),
                ..PaymentFilter::default()
            },
        ),
        (
            "amount exactly 1234.56 (rare)",
            PaymentFilter {
                min_amount: Kurus::parse("1234.56").ok(),
                max_amount: Kurus::parse("1234.56").ok(),
                ..PaymentFilter::default()
            },
        ),
        (
            "channel=manual",
            PaymentFilter {
                channel: Some(Channel::Manual),
                ..PaymentFilter::default()
            },
        ),
        (
            "provider reference",
            PaymentFilter {
                provider_ref: sample.provider_ref.clone(),
                ..PaymentFilter::default()
            },
        ),
    ];
    let mut plans = Vec::new();
    for (name, filter) in &filters {
        let (t, page) = time(args.repeat, || async {
            service
                .list_payments(company, filter.clone())
                .await
                .map_err(|e| e.to_string())
        })
        .await?;
        line(name, &t, &format!("{} rows", page.items.len()));
        let plan = store
            .explain_payment_list(company, &to_query(filter))
            .await
            .map_err(|e| e.to_string())?;
        plans.push((name.to_string(), plan));
    }

    // A deep page: the cursor of a payment about eleven months back.
    let deep = store
        .list_payments(
            company,
            &PaymentQuery {
                to: Some(newest_ms - 330 * DAY_MS),
                limit: 1,
                ..PaymentQuery::default()
            },
        )
        .await
        .map_err(|e| e.to_string())?;
    let deep = deep.first().ok_or("no deep payment")?;
    let cursor = payment_cursor(deep.created_at, &deep.id);
    let (t, page) = time(args.repeat, || async {
        service
            .list_payments(
                company,
                PaymentFilter {
                    cursor: Some(cursor.clone()),
                    ..PaymentFilter::default()
                },
            )
            .await
            .map_err(|e| e.to_string())
    })
    .await?;
    line(
        "deep page via cursor (~330 days back)",
        &t,
        &format!("{} rows", page.items.len()),
    );

    // Totals.
    for (name, filter) in [
        ("totals: status=approved + last 30 days", &filters[1].1),
        ("totals: customer ref", &filters[4].1),
        ("totals: whole company (every row)", &filters[0].1),
    ] {
        let (t, totals) = time(args.repeat.min(3), || async {
            service
                .payment_totals(company, filter)
                .await
                .map_err(|e| e.to_string())
        })
        .await?;
        line(name, &t, &format!("{} payments", totals.count));
    }

    // Exports of the newest 10,000 payments.
    let tenth = store
        .list_payments(
            company,
            &PaymentQuery {
                limit: 10_000,
                ..PaymentQuery::default()
            },
        )
        .await
        .map_err(|e| e.to_string())?;
    let (t, fetched) = time(args.repeat.min(3), || async {
        store
            .list_payments(
                company,
                &PaymentQuery {
                    limit: 10_000,
                    ..PaymentQuery::default()
                },
            )
            .await
            .map_err(|e| e.to_string())
    })
    .await?;
    line(
        "read 10,000 rows (store only)",
        &t,
        &format!("{} rows", fetched.len()),
    );
    let from = tenth.last().map(|p| p.created_at).ok_or("no payments")?;
    let filter = PaymentFilter {
        from: Some(at(from)),
        ..PaymentFilter::default()
    };
    for (name, format, lang) in [
        ("export 10,000 rows CSV (tr)", ExportFormat::Csv, Lang::Tr),
        ("export 10,000 rows CSV (en)", ExportFormat::Csv, Lang::En),
        ("export 10,000 rows XLSX (tr)", ExportFormat::Xlsx, Lang::Tr),
    ] {
        let (t, bytes) = time(args.repeat.min(3), || async {
            service
                .export_payments(company, &filter, format, lang, 10_100)
                .await
                .map_err(|e| e.to_string())
        })
        .await?;
        line(name, &t, &format!("{} bytes", bytes.len()));
    }

    println!("\nquery plans ({engine}):");
    for (name, plan) in plans {
        println!("  {name}:");
        for step in plan {
            println!("    {step}");
        }
    }
    if args.recon_items > 0 {
        recon_run(&service, &store, company, args.recon_items).await?;
    }
    Ok(())
}

/// Writes one reconciliation run of `items` items (one statement row each, 1 % of them
/// exceptions) and prints how long it took and the longest wait of small writes (audit
/// events, as a payment's outcome appends) sent meanwhile; then times the reads of the
/// run's page against reading the whole run, as the page did before it was paged.
async fn recon_run(
    service: &PaymentService,
    store: &Store,
    company: &str,
    items: usize,
) -> Result<(), String> {
    let pos = store
        .list_pos(company)
        .await
        .map_err(|e| e.to_string())?
        .into_iter()
        .next()
        .ok_or("no POS")?;
    let row = serde_json::json!([{
        "provider_ref": "IKSIRPF0000000001", "client_ref": "C000000001", "auth_code": "123456",
        "kind": "sale", "status": "success", "amount": "123.45", "authorized_amount": "123.45",
        "installments": 1, "masked_pan": "454671******7894", "time": "2026-11-28T14:05:00",
        "value_date": "2026-11-29", "commission": "3.07", "currency": "TRY", "line": 2
    }]);
    let row = sanalpos_store::JsonText::from(row);
    let new_items: Vec<NewReconItem> = (0..items)
        .map(|i| NewReconItem {
            item_key: format!("{}|matched|pay_{i:022}|IKSIRPF{i:010}", pos.id),
            class: if i % 100 == 0 {
                "provider_only"
            } else {
                "matched"
            }
            .into(),
            reason: "equal".into(),
            match_key: Some("provider_ref".into()),
            payment_ids: vec![format!("pay_{i:022}")],
            provider_rows: row.clone(),
            ours: Kurus::from_minor(12_345).unwrap_or(Kurus::ZERO),
            theirs: Kurus::from_minor(12_345).unwrap_or(Kurus::ZERO),
            ours_reversed: Kurus::ZERO,
            theirs_reversed: Kurus::ZERO,
            proposal: None,
            flags: serde_json::json!([]).into(),
        })
        .collect();
    let now = Utc::now().timestamp_millis();
    let run = ReconRunRecord {
        id: new_id("rcn"),
        company_id: company.to_owned(),
        pos_id: pos.id.clone(),
        source: "statement".into(),
        period_from: "2026-11-28".into(),
        period_to: "2026-11-28".into(),
        status: "open".into(),
        summary: serde_json::json!({}),
        created_by: "bench".into(),
        created_at: now,
    };
    let event = |kind: &str, subject: &str| NewAudit {
        company_id: company.to_owned(),
        kind: kind.into(),
        actor: "bench".into(),
        subject_id: subject.into(),
        data: serde_json::json!({}),
    };
    // Small writes, one every 10 ms, while the run is written: each waits for the
    // writer as a sale's claim or outcome would.
    let writing = Arc::new(AtomicBool::new(true));
    let probe = {
        let store = store.clone();
        let writing = writing.clone();
        let audit = event("bench.probe", "probe");
        tokio::spawn(async move {
            let mut waits = Vec::new();
            while writing.load(Ordering::Relaxed) {
                let t = Instant::now();
                store.append_audit(audit.clone()).await?;
                waits.push(t.elapsed());
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            Ok::<_, sanalpos_store::StoreError>(waits)
        })
    };
    let t = Instant::now();
    let run_id = run.id.clone();
    let audit = event("recon.run", &run.id);
    let written = store.insert_recon_run(run, new_items, audit).await;
    let took = t.elapsed();
    writing.store(false, Ordering::Relaxed);
    written.map_err(|e| e.to_string())?;
    let waits = probe
        .await
        .map_err(|e| e.to_string())?
        .map_err(|e| e.to_string())?;
    let longest = waits.iter().max().copied().unwrap_or_default();
    println!(
        "\nreconciliation run of {items} items written in {:.2} s; {} small writes meanwhile \
         (one every 10 ms), the longest waited {:.1} ms for the database writer",
        took.as_secs_f64(),
        waits.len(),
        longest.as_secs_f64() * 1000.0
    );
    recon_reads(service, store, company, &run_id, items).await
}

/// Times what the run's page and its API read, each `REPEAT_READS` times (min / median
/// / max), beside the anchor of reading every item of the run in one query.
async fn recon_reads(
    service: &PaymentService,
    store: &Store,
    company: &str,
    run_id: &str,
    items: usize,
) -> Result<(), String> {
    const REPEAT_READS: usize = 5;
    let fail = |e: &dyn std::fmt::Display| e.to_string();
    let page = |class: Option<&str>, cursor: Option<String>| ItemsQuery {
        class: class.map(str::to_owned),
        cursor,
        limit: None,
    };
    let exceptions = service
        .get_reconciliation(company, run_id, &page(Some("exceptions"), None))
        .await
        .map_err(|e| fail(&e))?;
    let open: Vec<&str> = exceptions.items.iter().map(|i| i.id.as_str()).collect();
    let middle = (items / 2).to_string();
    println!("reading the run ({REPEAT_READS} times each, min / median / max):");
    // The exports first, while the process holds little else: their peak memory is
    // measured from what it holds when each starts.
    recon_exports(service, company, run_id, REPEAT_READS).await?;
    let mut times = Vec::new();
    for _ in 0..REPEAT_READS {
        let t = Instant::now();
        let all = store
            .list_recon_items(company, run_id, None)
            .await
            .map_err(|e| fail(&e))?;
        times.push(t.elapsed());
        if all.len() != items {
            return Err(format!("{} items read of {items}", all.len()));
        }
    }
    report_reads(
        "every item (the page's read before paging; anchor)",
        &mut times,
    );
    for (name, query) in [
        (
            "first page of the exceptions",
            page(Some("exceptions"), None),
        ),
        ("first page of every class", page(None, None)),
        (
            "a page half-way down the run",
            page(None, Some(middle.clone())),
        ),
        (
            "first page of one class (provider only)",
            page(Some("provider_only"), None),
        ),
    ] {
        let (mut times, _) = timed(REPEAT_READS, || {
            service.get_reconciliation(company, run_id, &query)
        })
        .await?;
        report_reads(name, &mut times);
    }
    let (mut times, _) =
        timed(REPEAT_READS, || store.recon_taken_payments(company, run_id)).await?;
    report_reads("the payments the run has spoken for", &mut times);
    let (mut times, _) = timed(REPEAT_READS, || {
        service.match_candidates_of(company, run_id, &open)
    })
    .await?;
    report_reads(
        &format!(
            "force-match candidates of the page's {} exceptions",
            open.len()
        ),
        &mut times,
    );
    Ok(())
}

/// Times the CSV and the XLSX export of every item of the run, `repeat` times each,
/// with the process's memory before and at the peak of each.
async fn recon_exports(
    service: &PaymentService,
    company: &str,
    run_id: &str,
    repeat: usize,
) -> Result<(), String> {
    for format in [ExportFormat::Csv, ExportFormat::Xlsx] {
        reset_peak_rss();
        let before = memory_kb("VmRSS:");
        let (mut times, file) = timed(repeat, || {
            service.export_reconciliation(company, run_id, None, format, Lang::Tr)
        })
        .await?;
        let size = file.map_or(0, |f| f.len());
        report_reads(
            &format!(
                "export of every item, {format:?} ({:.1} MiB)",
                size as f64 / 1_048_576.0
            ),
            &mut times,
        );
        println!(
            "    memory of the process: {} kB before, {} kB at the peak",
            before,
            memory_kb("VmHWM:")
        );
    }
    Ok(())
}

/// Starts the process's peak resident memory afresh from what it holds now (Linux:
/// `5` to `/proc/self/clear_refs`), so that the next `VmHWM` is one step's.
fn reset_peak_rss() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

/// A memory figure of the process (`VmRSS:`, `VmHWM:`) in kB, as the kernel reports
/// it (0 when it cannot be read).
fn memory_kb(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix(field))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0)
}

/// Runs `call` `repeat` times: how long each took, and the last answer.
async fn timed<T, E: std::fmt::Display, F: std::future::Future<Output = Result<T, E>>>(
    repeat: usize,
    mut call: impl FnMut() -> F,
) -> Result<(Vec<Duration>, Option<T>), String> {
    let mut times = Vec::with_capacity(repeat);
    let mut last = None;
    for _ in 0..repeat {
        let t = Instant::now();
        last = Some(call().await.map_err(|e| e.to_string())?);
        times.push(t.elapsed());
    }
    Ok((times, last))
}

fn report_reads(name: &str, times: &mut [Duration]) {
    times.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "  {name:<52} {:>9.1} / {:>9.1} / {:>9.1} ms",
        ms(times[0]),
        ms(times[times.len() / 2]),
        ms(times[times.len() - 1])
    );
}
