//! The short version of `sanalpos soak crash` for CI: a mixed load (sales, 3D walks with
//! right and wrong codes, declines, fault cards, cancels, refunds, list queries; a fifth
//! of the sales each on a NestPay, a Garanti BBVA and a Yapı Kredi PosNet POS, each
//! judged against its bank simulator's ledger) while
//! `sanalpos serve` is killed with SIGKILL three times, on SQLite and on PostgreSQL. The
//! simulator's ledger judges the database; then every file the run left (database, WAL,
//! log) and, on PostgreSQL, every table row is scanned for the card numbers, CVVs, POS
//! credentials and API key used.

#![allow(clippy::unwrap_used)]

use std::time::Duration;

use sanalpos::soak::crash::{run, CrashOptions};

const BIN: &str = env!("CARGO_BIN_EXE_sanalpos");

fn short(dir: &std::path::Path, database_url: Option<String>, seed: u64) -> CrashOptions {
    let mut options = CrashOptions::new(BIN.into(), dir.to_owned());
    options.database_url = database_url;
    options.kills = 3;
    options.seed = seed;
    options.workers = 6;
    options.run_between_kills = (Duration::from_millis(800), Duration::from_millis(2_000));
    options.three_d_ttl = Duration::from_secs(6);
    options.settle_limit = Duration::from_secs(40);
    options
}

fn assert_sound(report: &sanalpos::soak::crash::CrashReport, engine: &str) {
    let summary = report.summary(engine, 0);
    println!("{summary}");
    assert!(
        report.verdict.violations.is_empty(),
        "the judge found violations:\n{summary}"
    );
    assert_eq!(report.kills, 3, "{summary}");
    // The run did what it claims: charges, 3D sales, cancels, refunds, faults and
    // requests cut by the kills, all happened.
    let v = &report.verdict;
    assert!(v.charges > 20, "{summary}");
    assert!(v.charges_3d > 0, "{summary}");
    assert!(v.cancels > 0 && v.refunds > 0, "{summary}");
    let tally = |prefix: &str| -> u64 {
        report
            .tally
            .iter()
            .filter(|(k, _)| k.starts_with(prefix))
            .map(|(_, n)| n)
            .sum()
    };
    assert!(tally("fault:") > 0, "{summary}");
    // Same-day partial refunds were accepted as scheduled (and, the judge says, carried
    // out after the providers' close, or withdrawn and never sent).
    let scheduled: u64 = report
        .tally
        .iter()
        .filter(|(k, _)| k.ends_with("same-day refund: scheduled"))
        .map(|(_, n)| n)
        .sum();
    assert!(scheduled > 0, "{summary}");
    assert!(tally("decline: declined") > 0, "{summary}");
    assert!(
        report.tally.keys().any(|k| k.ends_with("no answer")),
        "no request was cut by a kill:\n{summary}"
    );
    assert!(report.scanned.0 >= 2, "{summary}");
    // A share of the sales went to each bank POS and was judged against its ledger.
    for (label, name) in [
        ("nestpay", "NestPay"),
        ("garanti", "Garanti"),
        ("posnet", "PosNet"),
    ] {
        assert!(tally(&format!("{label} sale:")) > 0, "{summary}");
        let bank = v.bank(name).unwrap();
        assert!(bank.payments() > 0 && bank.charges > 0, "{summary}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crash_soak_on_sqlite_loses_nothing_and_charges_nothing_twice() {
    let dir = sanalpos_store::testing::test_dir();
    let report = run(short(dir.path(), None, 11)).await.unwrap();
    assert_sound(&report, "sqlite");
    // The scan read every file the run left: the SQLite database, the server log, and
    // the WAL when there is one (SQLite removes it when the last instance closes
    // cleanly rather than being killed, so its presence depends on how the run ended).
    let files: Vec<std::fs::DirEntry> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap())
        .filter(|e| e.file_type().unwrap().is_file())
        .collect();
    let names: Vec<String> = files
        .iter()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    for name in ["sanalpos.db", "server.log"] {
        assert!(names.iter().any(|n| n == name), "{name} missing: {names:?}");
    }
    assert!(
        report.scanned.0 >= files.len(),
        "the scan read {} sources, the directory holds {names:?}",
        report.scanned.0
    );

    // The audit chain survived the kills; editing one event directly in the database
    // makes `sanalpos audit verify` fail and name it.
    assert!(
        report.audit.iter().any(|l| l.contains("chain intact")),
        "{:?}",
        report.audit
    );
    let url = sanalpos_store::Store::sqlite_url(&dir.path().join("sanalpos.db"));
    {
        use sqlx::Connection as _;
        sanalpos_store::install_drivers();
        let mut conn = sqlx::AnyConnection::connect(&url).await.unwrap();
        sqlx::query("UPDATE audit_events SET actor = 'mallory' WHERE seq = 2")
            .execute(&mut conn)
            .await
            .unwrap();
        conn.close().await.unwrap();
    }
    let output = std::process::Command::new(BIN)
        .args(["audit", "verify", "--data-dir"])
        .arg(dir.path())
        .env_remove("SANALPOS_DATABASE_URL")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains("BROKEN") && stdout.contains("first broken event seq 2"),
        "{stdout}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crash_soak_on_postgres_loses_nothing_and_charges_nothing_twice() {
    let Some((store, guard)) =
        sanalpos_store::testing::postgres_store("crash_soak_on_postgres").await
    else {
        return;
    };
    store.close().await;
    let dir = sanalpos_store::testing::test_dir();
    let report = run(short(dir.path(), Some(guard.url().to_owned()), 12))
        .await
        .unwrap();
    assert_sound(&report, "postgres");
    drop(guard);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn load_soak_reports_every_period_with_the_servers_memory() {
    let dir = sanalpos_store::testing::test_dir();
    let report = sanalpos::soak::load::run(sanalpos::soak::load::LoadOptions {
        bin: BIN.into(),
        data_dir: dir.path().to_owned(),
        database_url: None,
        duration: Duration::from_secs(4),
        rate: 20,
        list_every: 4,
        period: Duration::from_secs(1),
        max_in_flight: 1_000,
    })
    .await
    .unwrap();
    println!("{}", report.summary());
    assert!(report.periods.len() >= 3, "{report:?}");
    let sales: u64 = report.periods.iter().map(|p| p.sales).sum();
    let lists: u64 = report.periods.iter().map(|p| p.lists).sum();
    let errors: u64 = report.periods.iter().map(|p| p.errors).sum();
    assert!(sales > 20 && lists > 3, "{report:?}");
    assert_eq!(errors, 0, "{report:?}");
    assert!(sales <= report.scheduled);
    if cfg!(target_os = "linux") {
        assert!(
            report
                .periods
                .iter()
                .all(|p| p.rss_kib.is_some_and(|k| k > 0)),
            "the server's memory is read every period: {report:?}"
        );
    }
}

/// A client that sends a request again with the same `Idempotency-Key` after the key's
/// 5-minute lock has expired (its first request was cut by a crash) must not be charged a
/// second time: the key takes the payment its first request created.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn late_retries_after_a_crash_charge_nothing_twice() {
    let dir = sanalpos_store::testing::test_dir();
    let mut options = short(dir.path(), None, 13);
    options.late_retries = true;
    let report = run(options).await.unwrap();
    assert!(
        report.late_retries.is_some_and(|(held, _)| held > 0),
        "no key was held by a killed request: {}",
        report.summary("sqlite", 13)
    );
    assert_sound(&report, "sqlite");
}

/// The processes whose parent is `pid`, from `/proc/<pid>/task/*/children`.
#[cfg(target_os = "linux")]
fn children_of(pid: u32) -> Vec<u32> {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return Vec::new();
    };
    tasks
        .flatten()
        .filter_map(|task| std::fs::read_to_string(task.path().join("children")).ok())
        .flat_map(|list| {
            list.split_whitespace()
                .filter_map(|p| p.parse().ok())
                .collect::<Vec<u32>>()
        })
        .collect()
}

/// A load soak stopped with SIGTERM (a terminal's `kill`, a CI job's timeout) stops the
/// `sanalpos serve` it started and says it did not finish: before, the server ran on,
/// holding the database and its temporary directory.
#[cfg(target_os = "linux")]
#[test]
fn a_soak_stopped_with_sigterm_stops_its_server() {
    let (status, stderr) = stop_a_load_soak("-TERM");
    assert!(!status.success(), "a stopped soak reported success");
    assert!(stderr.contains("stopped by Ctrl-C or SIGTERM"), "{stderr}");
}

/// A load soak killed with SIGKILL cannot stop anything itself; its server sees the
/// pipe to its standard input close and stops on its own.
#[cfg(target_os = "linux")]
#[test]
fn a_soak_killed_with_sigkill_leaves_no_server() {
    let (status, _) = stop_a_load_soak("-KILL");
    assert!(!status.success(), "a killed soak reported success");
}

/// Starts a short load soak, sends it `signal` once its server answers sales, and checks
/// that the soak and its server are both gone within 20 s; the soak's exit status and
/// stderr.
#[cfg(target_os = "linux")]
fn stop_a_load_soak(signal: &str) -> (std::process::ExitStatus, String) {
    use std::io::BufRead as _;
    use std::process::{Command, Stdio};

    let mut soak = Command::new(BIN)
        .args([
            "soak",
            "load",
            "--minutes",
            "1",
            "--rate",
            "20",
            "--period-secs",
            "1",
        ])
        .env("RUST_LOG", "off")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // A period's line means the server has answered sales.
    let stdout = soak.stdout.take().unwrap();
    let mut lines = std::io::BufReader::new(stdout).lines();
    let first_period = lines.find(|line| line.as_ref().is_ok_and(|l| l.contains(" sales ")));
    assert!(first_period.is_some(), "the soak printed no period");
    let servers = children_of(soak.id());
    assert!(!servers.is_empty(), "the soak's server is not its child");
    for server in &servers {
        let cmdline = std::fs::read(format!("/proc/{server}/cmdline")).unwrap_or_default();
        assert!(
            String::from_utf8_lossy(&cmdline).contains("serve"),
            "the soak's child is not `serve`: {cmdline:?}"
        );
    }

    let killed = Command::new("kill")
        .args([signal, &soak.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(status) = soak.try_wait().unwrap() {
            break status;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the soak did not stop within 20 s of {signal}"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    // A server whose parent died is reaped by whoever adopts it; until then it is a
    // zombie, which runs nothing.
    let running = |pid: &u32| {
        std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .ok()
            .and_then(|stat| {
                let after_name = &stat[stat.rfind(')')? + 1..];
                after_name
                    .split_whitespace()
                    .next()
                    .map(|state| state != "Z")
            })
            .unwrap_or(false)
    };
    let outlived: Vec<u32> = loop {
        let outlived: Vec<u32> = servers.iter().copied().filter(running).collect();
        if outlived.is_empty() || std::time::Instant::now() > deadline {
            break outlived;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    for server in &outlived {
        let _ = Command::new("kill").arg(server.to_string()).status();
    }
    assert!(
        outlived.is_empty(),
        "the soak's server {outlived:?} outlived it ({signal})"
    );
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut soak.stderr.take().unwrap(), &mut stderr).unwrap();
    (status, stderr)
}
