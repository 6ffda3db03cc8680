//! The load soak: sales at a steady rate for a long time, mixed with list queries, to
//! show that latency and memory stay flat.
//!
//! Open loop: sales are scheduled at fixed arrival times whatever the server's speed, and
//! each latency is measured from the scheduled arrival, so a server that falls behind
//! shows it in p99 instead of slowing the generator down. One list query (with a filter,
//! as the back office sends them) is scheduled per `list_every` sales. Every period
//! (a minute by default) one line: elapsed time, sales done, errors, p50/p99 of sales and
//! of list queries completed in that period, and the server's resident memory (the
//! `serve` child's `VmRSS`).

use std::fmt::Write as _;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use sanalpos_simulator::cards::SANDBOX_CARDS;
use serde_json::json;

use super::traffic::http_client;
use super::{setup, FixtureOptions};

/// How a load soak runs.
#[derive(Debug, Clone)]
pub struct LoadOptions {
    /// The `sanalpos` binary run as `serve`.
    pub bin: PathBuf,
    /// A directory for the data; it must exist.
    pub data_dir: PathBuf,
    /// `postgres://…`, or `None` for SQLite.
    pub database_url: Option<String>,
    /// How long.
    pub duration: Duration,
    /// Sales per second.
    pub rate: u32,
    /// One list query per this many sales.
    pub list_every: u32,
    /// The reporting period.
    pub period: Duration,
    /// Requests allowed in flight before new arrivals are counted as errors.
    pub max_in_flight: u64,
}

/// One period's figures.
#[derive(Debug, Clone, Default)]
pub struct Period {
    /// Seconds since the start, at the end of the period.
    pub elapsed: f64,
    /// Sales approved.
    pub sales: u64,
    /// Sales or list queries that failed (no answer, not 201/200, not approved,
    /// refused for overload).
    pub errors: u64,
    /// Sale latency, p50 and p99, ms.
    pub sale_ms: (f64, f64),
    /// List query latency, p50 and p99, ms.
    pub list_ms: (f64, f64),
    /// List queries done.
    pub lists: u64,
    /// The server's resident memory, KiB.
    pub rss_kib: Option<u64>,
}

impl Period {
    /// The line printed for it.
    pub fn line(&self) -> String {
        format!(
            "{:>7.0} s  sales {:>7}  errors {:>5}  sale p50 {:>7.1} ms p99 {:>7.1} ms  list({:>5}) p50 {:>7.1} ms p99 {:>7.1} ms  rss {}",
            self.elapsed,
            self.sales,
            self.errors,
            self.sale_ms.0,
            self.sale_ms.1,
            self.lists,
            self.list_ms.0,
            self.list_ms.1,
            self.rss_kib
                .map_or("?".to_owned(), |k| format!("{:.1} MiB", k as f64 / 1024.0)),
        )
    }
}

/// The whole run.
#[derive(Debug, Clone, Default)]
pub struct LoadReport {
    /// Every period, in order (the last one may be partial and is left out).
    pub periods: Vec<Period>,
    /// Sales scheduled.
    pub scheduled: u64,
}

/// Most periods at each end of a run that [`LoadReport::flat`] compares.
const ENDS: usize = 5;

impl LoadReport {
    /// The periods compared at each end: a third of the run, at least one and at most
    /// [`ENDS`].
    fn ends(&self) -> Option<(&[Period], &[Period])> {
        let n = self.periods.len();
        if n == 0 {
            return None;
        }
        let k = (n / 3).clamp(1, ENDS);
        Some((&self.periods[..k], &self.periods[n - k..]))
    }

    /// The median sale p99 of the periods at each end ([`LoadReport::ends`]), ms.
    pub fn p99_ends(&self) -> Option<(f64, f64)> {
        let (first, last) = self.ends()?;
        let p99 = |periods: &[Period]| median(periods.iter().map(|p| p.sale_ms.1).collect());
        Some((p99(first), p99(last)))
    }

    /// Whether p99 and memory stayed flat. p99: the median of the last periods against
    /// that of the first ones (up to five minutes each, a third of a shorter run), at
    /// most twice as high plus 5 ms: a steady climb shows at the end, while one minute
    /// quieter or busier than the rest of the machine's (a shared host's) does not
    /// decide alone. Memory: the last period against the first, at most 1.5 times plus
    /// 16 MiB.
    pub fn flat(&self) -> Option<(bool, bool)> {
        let (first_p99, last_p99) = self.p99_ends()?;
        let p99_flat = last_p99 <= first_p99 * 2.0 + 5.0;
        let first = self.periods.first()?;
        let last = self.periods.last()?;
        let rss_flat = match (first.rss_kib, last.rss_kib) {
            (Some(a), Some(b)) => (b as f64) <= a as f64 * 1.5 + 16.0 * 1024.0,
            _ => false,
        };
        Some((p99_flat, rss_flat))
    }

    /// The closing lines.
    pub fn summary(&self) -> String {
        let mut out = String::new();
        let sales: u64 = self.periods.iter().map(|p| p.sales).sum();
        let errors: u64 = self.periods.iter().map(|p| p.errors).sum();
        let _ = writeln!(
            out,
            "{} sales scheduled, {sales} approved, {errors} errors",
            self.scheduled
        );
        match (
            self.flat(),
            self.p99_ends(),
            self.ends(),
            self.periods.first(),
            self.periods.last(),
        ) {
            (
                Some((p99, rss)),
                Some((first_p99, last_p99)),
                Some((ends, _)),
                Some(first),
                Some(last),
            ) => {
                let _ = writeln!(
                    out,
                    "sale p99: first {n} period(s) {first_p99:.1} ms, last {n} {last_p99:.1} ms (medians; first period {:.1}, last {:.1}): {}",
                    first.sale_ms.1,
                    last.sale_ms.1,
                    if p99 { "flat" } else { "NOT flat" },
                    n = ends.len(),
                );
                let mib = |k: Option<u64>| k.map_or(0.0, |k| k as f64 / 1024.0);
                let _ = writeln!(
                    out,
                    "server memory: first period {:.1} MiB, last {:.1} MiB: {}",
                    mib(first.rss_kib),
                    mib(last.rss_kib),
                    if rss { "flat" } else { "NOT flat" }
                );
            }
            _ => {
                let _ = writeln!(out, "no full period: run longer to compare");
            }
        }
        out
    }
}

/// The median of `values` (the mean of the middle two for an even count); 0 for none.
fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    let n = values.len();
    match n {
        0 => 0.0,
        _ if n % 2 == 1 => values[n / 2],
        _ => (values[n / 2 - 1] + values[n / 2]) / 2.0,
    }
}

#[derive(Debug, Default)]
struct Samples {
    sales: Vec<Duration>,
    lists: Vec<Duration>,
    errors: u64,
}

fn percentile_ms(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize].as_secs_f64() * 1e3
}

fn take(samples: &Mutex<Samples>) -> Samples {
    std::mem::take(&mut *samples.lock().unwrap_or_else(|p| p.into_inner()))
}

fn record(samples: &Mutex<Samples>, f: impl FnOnce(&mut Samples)) {
    f(&mut samples.lock().unwrap_or_else(|p| p.into_inner()));
}

/// Runs a load soak, printing a line per period.
pub async fn run(options: LoadOptions) -> Result<LoadReport, String> {
    let mut fixture = setup(FixtureOptions {
        bin: options.bin.clone(),
        data_dir: options.data_dir.clone(),
        database_url: options.database_url.clone(),
        slow_answer: Duration::from_secs(40),
        settings: vec![
            ("END_OF_DAY".into(), "off".into()),
            // Load, not abuse: the rate limits are off.
            ("RATE_LIMIT_PAYMENTS_PER_KEY".into(), "0".into()),
            ("RATE_LIMIT_PAYMENTS_PER_COMPANY".into(), "0".into()),
            ("RATE_LIMIT_REQUESTS_PER_KEY".into(), "0".into()),
            ("RATE_LIMIT_REQUESTS_PER_COMPANY".into(), "0".into()),
        ],
    })
    .await?;
    let http = http_client()?;
    fixture.server.start()?;
    fixture
        .server
        .wait_ready(&http, Duration::from_secs(30))
        .await?;
    // The server says so at start; without autovacuum the figures grow with the run.
    if std::fs::read_to_string(fixture.server.log())
        .is_ok_and(|log| log.contains("autovacuum is off"))
    {
        println!(
            "note: autovacuum is off on this PostgreSQL server: dead rows pile up and \
             latency grows with the run"
        );
    }
    let base = fixture.server.base_url();
    let key = Arc::new(fixture.api_key.clone());
    let samples = Arc::new(Mutex::new(Samples::default()));
    let in_flight = Arc::new(AtomicU64::new(0));

    let interval = Duration::from_secs_f64(1.0 / f64::from(options.rate.max(1)));
    let mut ticker = tokio::time::interval(interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let started = Instant::now();
    let mut next_report = started + options.period;
    let mut report = LoadReport::default();
    let mut n = 0u64;
    while started.elapsed() < options.duration {
        let scheduled = ticker.tick().await.into_std();
        if Instant::now() >= next_report {
            let s = take(&samples);
            let mut sales = s.sales;
            let mut lists = s.lists;
            sales.sort_unstable();
            lists.sort_unstable();
            let period = Period {
                elapsed: started.elapsed().as_secs_f64(),
                sales: sales.len() as u64,
                errors: s.errors,
                sale_ms: (percentile_ms(&sales, 0.5), percentile_ms(&sales, 0.99)),
                list_ms: (percentile_ms(&lists, 0.5), percentile_ms(&lists, 0.99)),
                lists: lists.len() as u64,
                rss_kib: fixture.server.rss_kib(),
            };
            println!("{}", period.line());
            report.periods.push(period);
            next_report += options.period;
        }
        n += 1;
        report.scheduled += 1;
        let list = options.list_every > 0 && n % u64::from(options.list_every) == 0;
        if in_flight.load(Ordering::Relaxed) >= options.max_in_flight {
            record(&samples, |s| s.errors += 1 + u64::from(list));
            continue;
        }
        in_flight.fetch_add(1, Ordering::Relaxed);
        let (http_s, base_s, key_s, samples_s, flight) = (
            http.clone(),
            base.clone(),
            Arc::clone(&key),
            Arc::clone(&samples),
            Arc::clone(&in_flight),
        );
        tokio::spawn(async move {
            let ok = sale(&http_s, &base_s, &key_s, n).await;
            let latency = scheduled.elapsed();
            record(&samples_s, |s| {
                if ok {
                    s.sales.push(latency);
                } else {
                    s.errors += 1;
                }
            });
            flight.fetch_sub(1, Ordering::Relaxed);
        });
        if list {
            in_flight.fetch_add(1, Ordering::Relaxed);
            let (http_l, base_l, key_l, samples_l, flight) = (
                http.clone(),
                base.clone(),
                Arc::clone(&key),
                Arc::clone(&samples),
                Arc::clone(&in_flight),
            );
            tokio::spawn(async move {
                let ok = list_query(&http_l, &base_l, &key_l, n).await;
                let latency = scheduled.elapsed();
                record(&samples_l, |s| {
                    if ok {
                        s.lists.push(latency);
                    } else {
                        s.errors += 1;
                    }
                });
                flight.fetch_sub(1, Ordering::Relaxed);
            });
        }
    }
    let drain = Instant::now();
    while in_flight.load(Ordering::Relaxed) > 0 && drain.elapsed() < Duration::from_secs(30) {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    fixture.server.kill()?;
    fixture.sim.shutdown().await;
    Ok(report)
}

async fn sale(http: &reqwest::Client, base: &str, key: &str, n: u64) -> bool {
    let card = SANDBOX_CARDS[1 + (n as usize) % (SANDBOX_CARDS.len() - 1)];
    let body = json!({
        "amount": format!("{}.{:02}", 10 + n % 900, n % 100),
        "currency": "TRY",
        "installments": 1,
        "card": {"number": card.number, "expiry_month": card.expiry_month,
                 "expiry_year": card.expiry_year, "cvv": card.cvv, "holder": "Yük Testi"},
        "order_ref": format!("load-{n}"),
        "customer_ref": format!("cari-{}", n % 50),
    });
    let Ok(response) = http
        .post(format!("{base}/api/v1/payments"))
        .bearer_auth(key)
        .header("Idempotency-Key", format!("load-{n}"))
        .header("Content-Type", "application/json")
        .body(body.to_string())
        .send()
        .await
    else {
        return false;
    };
    let created = response.status().as_u16() == 201;
    let Ok(text) = response.text().await else {
        return false;
    };
    created && text.contains("\"status\":\"approved\"")
}

async fn list_query(http: &reqwest::Client, base: &str, key: &str, n: u64) -> bool {
    let today = chrono::Utc::now().date_naive();
    let filter = match n % 4 {
        0 => "status=approved".to_owned(),
        1 => format!("customer_ref=cari-{}", n % 50),
        2 => format!("from={today}"),
        _ => format!("order_ref=load-{}", n.saturating_sub(5)),
    };
    match http
        .get(format!("{base}/api/v1/payments?limit=50&{filter}"))
        .bearer_auth(key)
        .send()
        .await
    {
        Ok(r) => r.status().is_success() && r.text().await.is_ok(),
        Err(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A run of one-minute periods with these sale p99s (ms) and a steady 30 MiB.
    fn run(p99s: &[f64]) -> LoadReport {
        LoadReport {
            periods: p99s
                .iter()
                .enumerate()
                .map(|(n, &p99)| Period {
                    elapsed: 60.0 * (n + 1) as f64,
                    sales: 12_000,
                    sale_ms: (p99 / 4.0, p99),
                    rss_kib: Some(30 * 1024),
                    ..Period::default()
                })
                .collect(),
            scheduled: 12_000 * p99s.len() as u64,
        }
    }

    #[test]
    fn a_quiet_first_minute_alone_does_not_make_a_steady_run_climb() {
        // The first minute at 17 ms, the rest between 30 and 42 ms: one period against
        // another called it climbing (42 > 2 × 17 + 5); the ends' medians do not.
        let mut p99s = vec![17.0];
        p99s.extend((0..29).map(|n| 30.0 + f64::from(n % 13)));
        p99s[29] = 42.0;
        let report = run(&p99s);
        assert_eq!(report.flat(), Some((true, true)));
        let (first, last) = report.p99_ends().unwrap();
        assert!((30.0..=42.0).contains(&first), "{first}");
        assert!((30.0..=42.0).contains(&last), "{last}");
    }

    #[test]
    fn a_steady_climb_is_not_flat() {
        // p99 climbing 2 ms a minute, 10 to 68 ms: the ends' medians 14 and 64 ms.
        let p99s: Vec<f64> = (0..30).map(|n| 10.0 + 2.0 * f64::from(n)).collect();
        let report = run(&p99s);
        assert_eq!(report.p99_ends(), Some((14.0, 64.0)));
        assert_eq!(report.flat(), Some((false, true)));
    }

    #[test]
    fn one_slow_last_minute_does_not_decide_but_a_slow_last_five_do() {
        let mut p99s = vec![20.0; 30];
        p99s[29] = 400.0;
        assert_eq!(run(&p99s).flat(), Some((true, true)));
        for p in &mut p99s[25..] {
            *p = 60.0;
        }
        assert_eq!(run(&p99s).flat(), Some((false, true)));
    }

    #[test]
    fn short_runs_compare_a_third_of_their_periods() {
        // Two periods: the first against the last, as before.
        assert_eq!(run(&[10.0, 24.0]).flat(), Some((true, true)));
        assert_eq!(run(&[10.0, 26.0]).flat(), Some((false, true)));
        // Six periods: two at each end.
        let report = run(&[10.0, 12.0, 90.0, 90.0, 20.0, 22.0]);
        assert_eq!(report.p99_ends(), Some((11.0, 21.0)));
        assert_eq!(report.flat(), Some((true, true)));
        assert_eq!(LoadReport::default().flat(), None);
    }

    #[test]
    fn memory_that_grows_is_not_flat() {
        let mut report = run(&[20.0; 10]);
        report.periods[9].rss_kib = Some(80 * 1024);
        assert_eq!(report.flat(), Some((true, false)));
        report.periods[9].rss_kib = None;
        assert_eq!(report.flat(), Some((true, false)));
    }
}
