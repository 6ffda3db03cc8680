//! `sanalpos soak crash` and `sanalpos soak load`: what the service survives, as
//! repeatable commands that print their figures (see RELIABILITY.md).

use std::future::Future;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Subcommand};
use sanalpos::soak::banks::BankProtocol;
use sanalpos::soak::crash::{self, CrashOptions};
use sanalpos::soak::load::{self, LoadOptions};

/// `sanalpos soak ...`.
#[derive(Debug, Subcommand)]
pub enum SoakCommand {
    /// Mixed load while `sanalpos serve` is killed with SIGKILL and restarted; the
    /// simulator's ledger then judges the database. Exits 1 on any violation.
    Crash(CrashArgs),
    /// Open-loop sales at a steady rate mixed with list queries; prints latency and the
    /// server's memory every minute, and whether they stayed flat. Exits 1 if not.
    Load(LoadArgs),
}

/// Options of `soak load`.
#[derive(Debug, Args)]
pub struct LoadArgs {
    /// How long, in minutes.
    #[arg(long, default_value_t = 30)]
    minutes: u64,
    /// Sales per second (scheduled arrivals, whatever the server's speed).
    #[arg(long, default_value_t = 200)]
    rate: u32,
    /// One list query per this many sales (0: none).
    #[arg(long, default_value_t = 10)]
    list_every: u32,
    /// A PostgreSQL database to run on (a scratch one); SQLite in a temporary directory
    /// when absent.
    #[arg(long)]
    database_url: Option<String>,
    /// Seconds per reporting period.
    #[arg(long, default_value_t = 60)]
    period_secs: u64,
}

/// Options of `soak crash`.
#[derive(Debug, Args)]
pub struct CrashArgs {
    /// SIGKILLs to deliver.
    #[arg(long, default_value_t = 20)]
    kills: u32,
    /// A PostgreSQL database to run on (a scratch one: the soak adds a company to it);
    /// SQLite in a temporary directory when absent.
    #[arg(long)]
    database_url: Option<String>,
    /// Seeds the load's choices and the kill moments (printed, to repeat a run).
    #[arg(long)]
    seed: Option<u64>,
    /// Concurrent clients.
    #[arg(long, default_value_t = 8)]
    workers: u32,
    /// Percent of the sales sent to the company's NestPay bank POS (non-3D sales,
    /// declines, fault cards; then cancelled and refunded like the others), 0 to 100.
    #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u8).range(0..=100))]
    nestpay_share: u8,
    /// Percent of the sales sent to the company's Garanti BBVA POS, as for NestPay.
    #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u8).range(0..=100))]
    garanti_share: u8,
    /// Percent of the sales sent to the company's Yapı Kredi PosNet POS, as for NestPay;
    /// the bank shares together at most 100.
    #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u8).range(0..=100))]
    posnet_share: u8,
    /// After the janitor has settled, send again the requests whose idempotency key was
    /// still held by a killed request, as a client would once the key's 5-minute lock has
    /// expired (the locks are moved into the past in the database).
    #[arg(long)]
    late_retries: bool,
    /// Keep the data directory (database, WAL, server log) and print where it is.
    #[arg(long)]
    keep: bool,
}

fn runtime() -> Option<tokio::runtime::Runtime> {
    match tokio::runtime::Runtime::new() {
        Ok(rt) => Some(rt),
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            None
        }
    }
}

/// Runs a soak until it ends or is asked to stop (Ctrl-C, SIGTERM). A stop drops the
/// run, and with it the `sanalpos serve` it started (killed and reaped): without this a
/// soak stopped with `kill` left its server running, holding the database.
async fn until_stopped<T>(run: impl Future<Output = Result<T, String>>) -> Result<T, String> {
    tokio::select! {
        result = run => result,
        () = super::serve::stop_signal() => {
            Err("stopped by Ctrl-C or SIGTERM before its end; the server it started is stopped".into())
        }
    }
}

/// Runs a soak command.
pub fn run(command: SoakCommand) -> ExitCode {
    match command {
        SoakCommand::Crash(args) => crash_soak(args),
        SoakCommand::Load(args) => load_soak(args),
    }
}

fn crash_soak(args: CrashArgs) -> ExitCode {
    let bin = match std::env::current_exe() {
        Ok(bin) => bin,
        Err(e) => {
            eprintln!("error: cannot find this binary to run `serve`: {e}");
            return ExitCode::FAILURE;
        }
    };
    let dir = match tempfile::Builder::new().prefix("sanalpos-soak-").tempdir() {
        Ok(dir) => dir,
        Err(e) => {
            eprintln!("error: temporary directory: {e}");
            return ExitCode::FAILURE;
        }
    };
    let seed = args.seed.unwrap_or_else(rand::random);
    let mut options = CrashOptions::new(bin, dir.path().to_owned());
    options.database_url = args.database_url.clone();
    options.kills = args.kills;
    options.seed = seed;
    options.workers = args.workers.max(1);
    let shares = u16::from(args.nestpay_share)
        + u16::from(args.garanti_share)
        + u16::from(args.posnet_share);
    if shares > 100 {
        eprintln!(
            "error: --nestpay-share, --garanti-share and --posnet-share add up to more than 100"
        );
        return ExitCode::FAILURE;
    }
    options.bank_shares = vec![
        (BankProtocol::Nestpay, args.nestpay_share),
        (BankProtocol::Garanti, args.garanti_share),
        (BankProtocol::Posnet, args.posnet_share),
    ];
    options.verbose = true;
    options.late_retries = args.late_retries;
    let engine = if args.database_url.is_some() {
        "postgres"
    } else {
        "sqlite"
    };
    println!(
        "soak crash: engine {engine}, seed {seed}, {} kills, {} clients, {}% of the sales on NestPay, {}% on Garanti, {}% on PosNet; data in {}",
        options.kills,
        options.workers,
        args.nestpay_share,
        args.garanti_share,
        args.posnet_share,
        dir.path().display()
    );
    let Some(rt) = runtime() else {
        return ExitCode::FAILURE;
    };
    let result = rt.block_on(until_stopped(crash::run(options)));
    rt.shutdown_timeout(Duration::from_secs(1));
    let code = match result {
        Ok(report) => {
            print!("{}", report.summary(engine, seed));
            if report.verdict.violations.is_empty() {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }
        Err(e) => {
            eprintln!("error: the soak could not run: {e}");
            ExitCode::FAILURE
        }
    };
    if args.keep {
        let kept: PathBuf = dir.keep();
        println!("data kept in {}", kept.display());
    }
    code
}

fn load_soak(args: LoadArgs) -> ExitCode {
    let bin = match std::env::current_exe() {
        Ok(bin) => bin,
        Err(e) => {
            eprintln!("error: cannot find this binary to run `serve`: {e}");
            return ExitCode::FAILURE;
        }
    };
    let dir = match tempfile::Builder::new().prefix("sanalpos-load-").tempdir() {
        Ok(dir) => dir,
        Err(e) => {
            eprintln!("error: temporary directory: {e}");
            return ExitCode::FAILURE;
        }
    };
    let engine = if args.database_url.is_some() {
        "postgres"
    } else {
        "sqlite"
    };
    println!(
        "soak load: engine {engine}, {} sales/s for {} min, one list query per {} sales; server and simulator on {} cores",
        args.rate,
        args.minutes,
        args.list_every,
        std::thread::available_parallelism().map_or(1, |n| n.get())
    );
    let options = LoadOptions {
        bin,
        data_dir: dir.path().to_owned(),
        database_url: args.database_url,
        duration: Duration::from_secs(args.minutes * 60),
        rate: args.rate,
        list_every: args.list_every,
        period: Duration::from_secs(args.period_secs.max(1)),
        max_in_flight: 4_000,
    };
    let Some(rt) = runtime() else {
        return ExitCode::FAILURE;
    };
    let result = rt.block_on(until_stopped(load::run(options)));
    rt.shutdown_timeout(Duration::from_secs(1));
    match result {
        Ok(report) => {
            print!("{}", report.summary());
            match report.flat() {
                Some((true, true)) => ExitCode::SUCCESS,
                _ => ExitCode::FAILURE,
            }
        }
        Err(e) => {
            eprintln!("error: the soak could not run: {e}");
            ExitCode::FAILURE
        }
    }
}
