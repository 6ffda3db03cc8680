//! `sanalpos recon pull|import|report`: reconciliation runs from the command line,
//! straight on the database (no server needed).

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, Subcommand};
use sanalpos_core::Kurus;
use sanalpos_service::{
    Actor, ItemsQuery, PaymentService, ReconClass, ReconRunView, ServiceConfig, ServiceError,
    StatementFile,
};
use sanalpos_store::{Crypto, Store};

use super::admin::{block_on, DatabaseArgs};

/// Files at least this large show their reading progress.
const PROGRESS_FROM_BYTES: u64 = 1 << 20;
/// Bad statement rows listed in an error; the count names the rest.
const SHOWN_BAD_ROWS: usize = 20;
/// Exceptions first, then what matched.
const CLASSES: [ReconClass; 6] = [
    ReconClass::AmountMismatch,
    ReconClass::StatusMismatch,
    ReconClass::ProviderOnly,
    ReconClass::SystemOnly,
    ReconClass::Duplicate,
    ReconClass::Matched,
];

/// The POS and period of a new run.
#[derive(Debug, Args)]
pub struct PeriodArgs {
    /// The company id.
    #[arg(long)]
    company: String,
    /// The POS id.
    #[arg(long)]
    pos: String,
    /// First business day, YYYY-MM-DD.
    #[arg(long)]
    from: String,
    /// Last business day, YYYY-MM-DD.
    #[arg(long)]
    to: String,
    #[command(flatten)]
    database: DatabaseArgs,
}

/// `sanalpos recon ...`.
#[derive(Debug, Subcommand)]
pub enum ReconCommand {
    /// Reconcile a period against the provider's report API.
    Pull(PeriodArgs),
    /// Reconcile a period against a statement file (CSV or XLSX), read through a
    /// statement profile saved for the POS, or the simulator's layout.
    Import {
        /// The statement (CSV or XLSX).
        file: PathBuf,
        /// A statement profile saved for the POS (`stp_…`); the simulator's layout
        /// without it.
        #[arg(long)]
        profile_id: Option<String>,
        /// Reconcile the rows that can be read and list the bad ones in the run, for
        /// a file whose bad rows you have seen (without it such a file imports
        /// nothing).
        #[arg(long)]
        skip_bad_rows: bool,
        #[command(flatten)]
        period: PeriodArgs,
    },
    /// Show a run's summary per class, exceptions first.
    Report {
        /// The run id (`rcn_…`).
        run_id: String,
        /// The company id.
        #[arg(long)]
        company: String,
        #[command(flatten)]
        database: DatabaseArgs,
    },
}

/// Runs `sanalpos recon ...`.
pub fn run(command: ReconCommand) -> ExitCode {
    block_on(async move {
        match execute(command).await {
            Ok(()) => ExitCode::SUCCESS,
            Err(message) => {
                eprintln!("error: {message}");
                ExitCode::FAILURE
            }
        }
    })
}

async fn execute(command: ReconCommand) -> Result<(), String> {
    match command {
        ReconCommand::Pull(period) => {
            let service = open(&period.database).await?;
            let run = service
                .run_reconciliation(
                    &actor(&period.company),
                    &period.company,
                    &period.pos,
                    &period.from,
                    &period.to,
                )
                .await
                .map_err(describe)?;
            print_run(&run)
        }
        ReconCommand::Import {
            file,
            profile_id,
            skip_bad_rows,
            period,
        } => {
            let file = FileWithProgress::open(&file)?;
            let service = open(&period.database).await?;
            let run = service
                .import_statement_with_profile(
                    &actor(&period.company),
                    &period.company,
                    &period.pos,
                    &period.from,
                    &period.to,
                    StatementFile::from_reader(file),
                    profile_id.as_deref(),
                    skip_bad_rows,
                )
                .await
                .map_err(describe)?;
            print_run(&run)
        }
        ReconCommand::Report {
            run_id,
            company,
            database,
        } => {
            let service = open(&database).await?;
            let run = service
                .get_reconciliation(&company, &run_id, &ItemsQuery::default())
                .await
                .map_err(describe)?;
            print_run(&run)
        }
    }
}

fn actor(company: &str) -> Actor {
    Actor {
        company_id: company.to_owned(),
        name: "cli".into(),
    }
}

async fn open(database: &DatabaseArgs) -> Result<PaymentService, String> {
    let store = Store::open(&database.url())
        .await
        .map_err(|e| e.to_string())?;
    let (crypto, _) = Crypto::load(&database.data_dir()).map_err(|e| e.to_string())?;
    PaymentService::start(store, crypto, ServiceConfig::default())
        .await
        .map_err(|e| e.to_string())
}

fn describe(error: ServiceError) -> String {
    match error {
        ServiceError::NotFound => "no such company, POS or run".into(),
        ServiceError::BadStatement { message, bad_rows } => {
            let mut text = format!(
                "{message}; nothing was imported ({} bad rows)",
                bad_rows.len()
            );
            for row in bad_rows.iter().take(SHOWN_BAD_ROWS) {
                text.push_str(&format!("\n  line {}: {}", row.line, row.reason));
            }
            if bad_rows.len() > SHOWN_BAD_ROWS {
                text.push_str(&format!(
                    "\n  … and {} more",
                    bad_rows.len() - SHOWN_BAD_ROWS
                ));
            }
            text
        }
        other => other.to_string(),
    }
}

/// A statement file read as it is parsed, showing `reading X / Y bytes` on stderr while a
/// large one comes in; a read error names the file.
struct FileWithProgress {
    file: std::fs::File,
    shown: String,
    total: u64,
    read: u64,
    /// The last percentage shown, `None` before the first; a file too small to show
    /// any progress starts at 100, so none is shown.
    shown_percent: Option<u64>,
}

impl FileWithProgress {
    fn open(path: &Path) -> Result<FileWithProgress, String> {
        let shown = path.display().to_string();
        let file = std::fs::File::open(path).map_err(|e| format!("{shown}: {e}"))?;
        let total = file.metadata().map_err(|e| format!("{shown}: {e}"))?.len();
        Ok(FileWithProgress {
            file,
            shown,
            total,
            read: 0,
            shown_percent: (total < PROGRESS_FROM_BYTES).then_some(100),
        })
    }
}

impl Read for FileWithProgress {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self
            .file
            .read(buf)
            .map_err(|e| std::io::Error::new(e.kind(), format!("{}: {e}", self.shown)))?;
        self.read += n as u64;
        let percent = self.read * 100 / self.total.max(1);
        if self.shown_percent.is_none_or(|shown| percent > shown) {
            let mut stderr = std::io::stderr();
            let _ = write!(
                stderr,
                "\rreading {}: {} / {} bytes ({percent}%)",
                self.shown, self.read, self.total
            );
            if n == 0 || self.read >= self.total {
                let _ = writeln!(stderr);
            }
            self.shown_percent = Some(percent);
        }
        Ok(n)
    }
}

/// `-1.234,56` for a signed number of kuruş.
fn signed_tr(minor: i64) -> String {
    let text = Kurus::from_minor(minor.checked_abs().unwrap_or(i64::MAX))
        .unwrap_or(Kurus::ZERO)
        .format_tr();
    if minor < 0 {
        format!("-{text}")
    } else {
        text
    }
}

fn print_run(run: &ReconRunView) -> Result<(), String> {
    println!(
        "run {}  POS {}  {} .. {}  ({})",
        run.id, run.pos_id, run.from, run.to, run.source
    );
    println!(
        "{:<16} {:>8} {:>18} {:>18} {:>18}",
        "class", "count", "ours", "theirs", "difference"
    );
    for class in CLASSES {
        let totals = run.totals.get(class);
        let count = totals.count;
        let ours = totals.ours.minor();
        let theirs = totals.theirs.minor();
        println!(
            "{:<16} {count:>8} {:>18} {:>18} {:>18}",
            class.as_str(),
            signed_tr(ours),
            signed_tr(theirs),
            signed_tr(theirs - ours)
        );
    }
    println!("open exceptions: {}", run.open_exceptions);
    for row in &run.rejected_rows {
        println!("rejected row {}: {}", row.reference, row.reason);
    }
    Ok(())
}
