//! The crash soak: a steady mixed load, `sanalpos serve` killed with SIGKILL at random
//! (seeded) moments and started again on the same database, then the judge.
//!
//! The run: set up the simulators (N Kolay, and each bank of [`super::BANKS`], NestPay,
//! Garanti BBVA and PosNet, for its share of the sales) and the database, start the server, start
//! the workers; `kills` times: wait a random while, SIGKILL the server, leave it down a
//! random moment, start it again, close every provider's business day (so earlier sales become refundable) and send again the sales
//! that got no answer. Then the workers stop, the last unanswered sales are sent again,
//! the janitor is given its schedule to settle what the crashes left open, and the judge
//! compares each ledger and the database. Last, every file the run left is scanned for
//! card data and credentials.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::Value;

use super::bank_judge::BankLedger;
use super::banks::BankProtocol;
use super::judge::{judge, Evidence, Verdict};
use super::traffic::{http_client, Traffic};
use super::{fast_settings, setup, FixtureOptions};

/// How a crash soak runs.
#[derive(Debug, Clone)]
pub struct CrashOptions {
    /// The `sanalpos` binary run as `serve`.
    pub bin: PathBuf,
    /// A directory for the data (master key, SQLite files, server log); it must exist.
    pub data_dir: PathBuf,
    /// `postgres://…`, or `None` for SQLite.
    pub database_url: Option<String>,
    /// How many times the server is killed with SIGKILL mid-traffic (and restarted).
    pub kills: u32,
    /// Seeds the workers' choices and the kill moments.
    pub seed: u64,
    /// Concurrent clients.
    pub workers: u32,
    /// Percent of the sales sent to each bank POS of the company (0 to 100 each, 100
    /// at most in all; 3D sales stay on N Kolay).
    pub bank_shares: Vec<(BankProtocol, u8)>,
    /// Time between a restart and the next kill: drawn from this range.
    pub run_between_kills: (Duration, Duration),
    /// The server's 3D time limit (`THREE_D_TTL_SECS`).
    pub three_d_ttl: Duration,
    /// How long the janitor is given, at most, after the load stops.
    pub settle_limit: Duration,
    /// Print a line per kill.
    pub verbose: bool,
    /// After the janitor has settled, send again the requests whose key was still held
    /// by a killed request, as if its lock (5 minutes) had expired.
    pub late_retries: bool,
}

impl CrashOptions {
    /// The defaults of `sanalpos soak crash`.
    pub fn new(bin: PathBuf, data_dir: PathBuf) -> CrashOptions {
        CrashOptions {
            bin,
            data_dir,
            database_url: None,
            kills: 20,
            seed: 1,
            workers: 8,
            bank_shares: vec![
                (BankProtocol::Nestpay, 20),
                (BankProtocol::Garanti, 20),
                (BankProtocol::Posnet, 20),
            ],
            run_between_kills: (Duration::from_millis(800), Duration::from_millis(3_000)),
            three_d_ttl: Duration::from_secs(8),
            settle_limit: Duration::from_secs(90),
            verbose: false,
            late_retries: false,
        }
    }
}

/// What a crash soak did and what the judge found.
#[derive(Debug, Clone, Default)]
pub struct CrashReport {
    /// Requests sent to the server (API calls and 3D pages).
    pub requests: u64,
    /// SIGKILLs delivered.
    pub kills: u32,
    /// Answers by kind.
    pub tally: BTreeMap<String, u64>,
    /// The judge's verdict (violations included).
    pub verdict: Verdict,
    /// Payments still open (processing, unknown, pending_3ds) when the load stopped:
    /// what the janitor still had to settle.
    pub open_at_stop: Option<usize>,
    /// How long the janitor took to settle everything after the load stopped.
    pub settled_in: Duration,
    /// With late retries: (requests whose key was held, keys whose lock was expired).
    pub late_retries: Option<(usize, u64)>,
    /// `sanalpos audit verify`'s lines after the run (one per company).
    pub audit: Vec<String>,
    /// What the janitor did over the run, from the server log: (resolved, expired).
    pub janitor: (u64, u64),
    /// Files or tables the secrets scan read, and their size.
    pub scanned: (usize, u64),
    /// The whole run.
    pub elapsed: Duration,
}

impl CrashReport {
    /// The summary the command prints.
    pub fn summary(&self, engine: &str, seed: u64) -> String {
        let mut out = String::new();
        let v = &self.verdict;
        let _ = writeln!(out, "soak crash: engine {engine}, seed {seed}");
        let _ = writeln!(
            out,
            "requests sent   {} ({} SIGKILLs, {:.1} s in all)",
            self.requests,
            self.kills,
            self.elapsed.as_secs_f64(),
        );
        let _ = writeln!(
            out,
            "janitor         {} payments open when the load stopped, all settled {:.1} s later; over the run it resolved {} payments or refunds by inquiry and expired {} abandoned 3D payments",
            self.open_at_stop.unwrap_or(0),
            self.settled_in.as_secs_f64(),
            self.janitor.0,
            self.janitor.1
        );
        if let Some((held, expired)) = self.late_retries {
            let _ = writeln!(
                out,
                "late retries    {held} requests whose key a killed request held, sent again after {expired} key locks were expired"
            );
        }
        let _ = writeln!(out, "answers:");
        for (what, n) in &self.tally {
            let _ = writeln!(out, "  {what:<40} {n:>7}");
        }
        let statuses: Vec<String> = v
            .by_status
            .iter()
            .map(|(s, n)| format!("{s} {n}"))
            .collect();
        let _ = writeln!(
            out,
            "payments        {} ({})",
            v.by_status.values().sum::<u64>(),
            statuses.join(", ")
        );
        let _ = writeln!(
            out,
            "N Kolay ledger  {} charges ({} through 3D), {} cancels, {} refunds ({} TL)",
            v.charges, v.charges_3d, v.cancels, v.refunds, v.refunded
        );
        for n in &v.banks {
            let statuses: Vec<String> = n
                .by_status
                .iter()
                .map(|(s, count)| format!("{s} {count}"))
                .collect();
            let _ = writeln!(
                out,
                "of which {} {} payments ({})",
                n.name,
                n.payments(),
                statuses.join(", ")
            );
            let _ = writeln!(
                out,
                "{} ledger  {} sales, {} voids, {} refunds ({} TL); {} same-day refunds refused and kept in the ledger (expected)",
                n.name, n.charges, n.voids, n.credits, n.credited, n.credits_refused_same_day
            );
        }
        let _ = writeln!(
            out,
            "secrets scan    {} files/tables, {} bytes",
            self.scanned.0, self.scanned.1
        );
        for line in &self.audit {
            let _ = writeln!(out, "audit verify    {line}");
        }
        if v.violations.is_empty() {
            let _ = writeln!(
                out,
                "verdict         OK: every charge is in the database with its true state, nothing charged twice, nothing left open, no secret at rest"
            );
        } else {
            let _ = writeln!(out, "verdict         {} VIOLATION(S):", v.violations.len());
            for violation in &v.violations {
                let _ = writeln!(out, "  - {violation}");
            }
        }
        out
    }
}

/// Every payment of the company, page by page.
pub async fn all_payments(
    http: &reqwest::Client,
    base: &str,
    key: &str,
) -> Result<Vec<Value>, String> {
    let mut items = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut url = format!("{base}/api/v1/payments?limit=200");
        if let Some(c) = &cursor {
            url.push_str("&cursor=");
            url.push_str(c);
        }
        let text = http
            .get(url)
            .bearer_auth(key)
            .send()
            .await
            .map_err(|e| format!("list: {e}"))?
            .text()
            .await
            .map_err(|e| format!("list: {e}"))?;
        let page: Value = serde_json::from_str(&text).map_err(|e| format!("list: {e}"))?;
        let Some(page_items) = page["items"].as_array() else {
            return Err(format!("list: unexpected answer {page}"));
        };
        items.extend(page_items.iter().cloned());
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => return Ok(items),
        }
    }
}

async fn detail(http: &reqwest::Client, base: &str, key: &str, id: &str) -> Result<Value, String> {
    let text = http
        .get(format!("{base}/api/v1/payments/{id}"))
        .bearer_auth(key)
        .send()
        .await
        .map_err(|e| format!("payment {id}: {e}"))?
        .text()
        .await
        .map_err(|e| format!("payment {id}: {e}"))?;
    serde_json::from_str(&text).map_err(|e| format!("payment {id}: {e}"))
}

/// The details of `ids`, sixteen requests at a time.
async fn details(
    http: &reqwest::Client,
    base: &str,
    key: &str,
    ids: &[String],
) -> Result<HashMap<String, Value>, String> {
    let mut out = HashMap::new();
    for chunk in ids.chunks(16) {
        let mut tasks = Vec::new();
        for id in chunk {
            let (http, base, key, id) = (http.clone(), base.to_owned(), key.to_owned(), id.clone());
            tasks.push(tokio::spawn(async move {
                let d = detail(&http, &base, &key, &id).await;
                (id, d)
            }));
        }
        for task in tasks {
            let (id, d) = task.await.map_err(|e| e.to_string())?;
            out.insert(id, d?);
        }
    }
    Ok(out)
}

fn open(payments: &[Value], details: &HashMap<String, Value>) -> usize {
    let payments_open = payments
        .iter()
        .filter(|p| {
            matches!(
                p["status"].as_str(),
                Some("processing" | "unknown" | "pending_3ds")
            )
        })
        .count();
    let refunds_open = details
        .values()
        .flat_map(|d| d["refunds"].as_array().cloned().unwrap_or_default())
        .filter(|r| {
            matches!(
                r["status"].as_str(),
                Some("pending" | "unknown" | "scheduled")
            )
        })
        .count();
    payments_open + refunds_open
}

/// Runs a crash soak. `Err` only when the run itself could not be carried out (setup
/// failed, the server would not start); what the judge finds is in the report.
pub async fn run(options: CrashOptions) -> Result<CrashReport, String> {
    let started = Instant::now();
    let mut rng = StdRng::seed_from_u64(options.seed);
    let ttl_secs = options.three_d_ttl.as_secs().max(2);
    let mut fixture = setup(FixtureOptions {
        bin: options.bin.clone(),
        data_dir: options.data_dir.clone(),
        database_url: options.database_url.clone(),
        slow_answer: Duration::from_secs(3),
        settings: fast_settings(ttl_secs),
    })
    .await?;
    let http = http_client()?;
    let base = fixture.server.base_url();
    fixture.server.start()?;
    fixture
        .server
        .wait_ready(&http, Duration::from_secs(30))
        .await?;

    let traffic = Traffic::new(
        http.clone(),
        base.clone(),
        fixture.sim.base_url(),
        fixture.api_key.clone(),
        Duration::from_secs(ttl_secs),
    );
    let mut traffic = traffic;
    for (protocol, share) in &options.bank_shares {
        if let (Some(bank), true) = (fixture.bank(*protocol), *share > 0) {
            traffic = traffic.with_bank(protocol.label(), bank.pos_id.clone(), *share);
        }
    }
    let traffic = Arc::new(traffic);
    let mut workers = Vec::new();
    for index in 0..options.workers {
        workers.push(tokio::spawn(
            Arc::clone(&traffic).worker(index, options.seed),
        ));
    }

    let mut report = CrashReport::default();
    let (low, high) = options.run_between_kills;
    let mut retries = Vec::new();
    for kill in 1..=options.kills {
        let wait =
            rng.random_range(low.as_millis() as u64..=high.as_millis().max(low.as_millis()) as u64);
        tokio::time::sleep(Duration::from_millis(wait)).await;
        fixture.server.kill()?;
        report.kills += 1;
        let down = rng.random_range(0..300);
        tokio::time::sleep(Duration::from_millis(down)).await;
        fixture.server.start()?;
        fixture
            .server
            .wait_ready(&http, Duration::from_secs(30))
            .await?;
        fixture.close_days();
        traffic.next_day();
        if options.verbose {
            println!(
                "kill {kill}/{} after {wait} ms of load; down {down} ms; {} requests so far",
                options.kills,
                traffic.requests()
            );
        }
        let retry = Arc::clone(&traffic);
        retries.push(tokio::spawn(async move { retry.retry_unanswered().await }));
    }
    tokio::time::sleep(low).await;
    traffic.stop();
    for task in workers {
        let _ = task.await;
    }
    // The providers close the last day: every scheduled refund can now be carried out,
    // and the janitor's schedule must see to it.
    fixture.close_days();
    // What the last kill and the faults left open, before the janitor's schedule.
    let load_done = Instant::now();
    let at_stop = all_payments(&http, &base, &fixture.api_key).await?;
    report.open_at_stop = Some(open(&at_stop, &HashMap::new()));
    for task in retries {
        let _ = task.await;
    }
    traffic.retry_unanswered().await;
    traffic.retry_unanswered().await;

    // The janitor's schedule: wait until nothing is open (bounded).
    let reversed = clients_reversed(&traffic);
    let limit = options.settle_limit.saturating_sub(load_done.elapsed());
    let (payments, details) = settle(&http, &base, &fixture.api_key, &reversed, limit).await?;
    report.settled_in = load_done.elapsed();
    let (payments, details) = if options.late_retries {
        let expired = fixture.expire_idempotency_locks().await?;
        report.late_retries = Some((traffic.held_keys(), expired));
        traffic.retry_held().await;
        settle(
            &http,
            &base,
            &fixture.api_key,
            &clients_reversed(&traffic),
            options.settle_limit,
        )
        .await?
    } else {
        (payments, details)
    };
    fixture.server.kill()?;

    let ledger = fixture
        .sim
        .transactions(&fixture.merchant.merchant_no)
        .ok_or("the simulator lost the merchant")?;
    let mut banks = Vec::new();
    for bank in &fixture.banks {
        let name = bank.sim.name();
        banks.push(BankLedger {
            name,
            pos_id: bank.pos_id.clone(),
            rows: bank
                .sim
                .rows()
                .ok_or(format!("the {name} simulator lost the merchant"))?,
        });
    }
    let mut verdict = judge(&Evidence {
        payments,
        details,
        ledger,
        banks,
        clients: traffic.client_view(),
    });
    if verdict.charges == 0 {
        verdict
            .violations
            .push("no charge was made: the load did not run".into());
    }
    for (protocol, share) in &options.bank_shares {
        let name = fixture.bank(*protocol).map(|b| b.sim.name());
        let charges = name.and_then(|n| verdict.bank(n)).map_or(0, |b| b.charges);
        if *share > 0 && charges == 0 {
            verdict.violations.push(format!(
                "no {} charge was made: its share of the load did not run",
                name.unwrap_or(protocol.label())
            ));
        }
    }
    report.janitor = janitor_totals(fixture.server.log());
    match audit_verify(&options) {
        Ok(lines) => report.audit = lines,
        Err(broken) => verdict.violations.push(broken),
    }
    let (leaks, scanned) = fixture.scan_for_secrets().await;
    verdict.violations.extend(leaks);
    report.scanned = (scanned.sources, scanned.bytes);
    report.verdict = verdict;
    report.requests = traffic.requests();
    report.tally = traffic.tally();
    fixture.shutdown_simulators().await;
    report.elapsed = started.elapsed();
    Ok(report)
}

/// Sums `resolved=` and `expired=` over the janitor's pass lines in the server log
/// (colour codes removed).
pub fn janitor_totals(log: &std::path::Path) -> (u64, u64) {
    let Ok(text) = std::fs::read_to_string(log) else {
        return (0, 0);
    };
    let mut totals = (0, 0);
    for line in text.lines().filter(|l| l.contains("janitor pass")) {
        let mut plain = String::with_capacity(line.len());
        let mut chars = line.chars();
        while let Some(c) = chars.next() {
            if c == '\u{1b}' {
                for c in chars.by_ref() {
                    if c == 'm' {
                        break;
                    }
                }
            } else {
                plain.push(c);
            }
        }
        for word in plain.split_whitespace() {
            let number = |prefix: &str| {
                word.strip_prefix(prefix)
                    .and_then(|n| n.parse::<u64>().ok())
            };
            if let Some(n) = number("resolved=") {
                totals.0 += n;
            }
            if let Some(n) = number("expired=") {
                totals.1 += n;
            }
        }
    }
    totals
}

/// Runs `sanalpos audit verify` on the run's database: every company's hash chain must
/// have survived the kills. `Err` names what is broken.
pub fn audit_verify(options: &CrashOptions) -> Result<Vec<String>, String> {
    let mut command = std::process::Command::new(&options.bin);
    command.args(["audit", "verify"]);
    match &options.database_url {
        Some(url) => command.arg("--database-url").arg(url),
        None => command.arg("--data-dir").arg(&options.data_dir),
    };
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("SANALPOS_") {
            command.env_remove(name);
        }
    }
    let output = command
        .output()
        .map_err(|e| format!("audit verify could not run: {e}"))?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    if output.status.success() {
        Ok(stdout.lines().map(str::to_owned).collect())
    } else {
        Err(format!(
            "audit verify failed after the crashes: {} {}",
            stdout.trim(),
            String::from_utf8_lossy(&output.stderr).trim()
        ))
    }
}

fn clients_reversed(traffic: &Traffic) -> Vec<String> {
    traffic.client_view().reversed
}

/// Waits (at most `limit`) until no payment and no refund is open.
async fn settle(
    http: &reqwest::Client,
    base: &str,
    key: &str,
    reversed: &[String],
    limit: Duration,
) -> Result<(Vec<Value>, HashMap<String, Value>), String> {
    let started = Instant::now();
    loop {
        let payments = all_payments(http, base, key).await?;
        let over = started.elapsed() > limit;
        let fetched = over || open(&payments, &HashMap::new()) == 0;
        let details = if fetched {
            details(http, base, key, reversed).await?
        } else {
            HashMap::new()
        };
        if (fetched && open(&payments, &details) == 0) || over {
            return Ok((payments, details));
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}
