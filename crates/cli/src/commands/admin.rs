//! `sanalpos audit verify`, `sanalpos api-key create|list|revoke`: operator tools on the
//! database.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Subcommand};
use sanalpos_service::{PaymentService, ServiceConfig, ServiceError};
use sanalpos_store::{Crypto, KeySource, Store, MASTER_KEY_ENV, MASTER_KEY_FILE};

/// Who the audit log names for changes made from the command line.
pub(crate) const CLI_ACTOR: &str = "cli";

/// Which database, and where the master key is: the same settings `sanalpos serve`
/// reads, so what a tool writes the service can read.
#[derive(Debug, Args)]
pub struct DatabaseArgs {
    /// Data directory: the SQLite file sanalpos.db and the master key file master.key
    /// (default `data`).
    #[arg(long, env = "SANALPOS_DATA_DIR")]
    data_dir: Option<PathBuf>,
    /// `postgres://…` instead of the SQLite file (the master key still comes from
    /// SANALPOS_MASTER_KEY or the data directory).
    #[arg(long, env = "SANALPOS_DATABASE_URL", hide_env_values = true)]
    database_url: Option<String>,
}

impl DatabaseArgs {
    /// The database URL to open.
    pub(crate) fn url(&self) -> String {
        match self
            .database_url
            .as_deref()
            .filter(|u| !u.trim().is_empty())
        {
            Some(url) => url.to_owned(),
            None => Store::sqlite_url(
                &self
                    .data_dir
                    .clone()
                    .unwrap_or_else(|| PathBuf::from("data"))
                    .join("sanalpos.db"),
            ),
        }
    }

    /// Whether the database is the SQLite file in the data directory.
    pub(crate) fn uses_sqlite(&self) -> bool {
        self.database_url
            .as_deref()
            .is_none_or(|u| u.trim().is_empty())
    }

    /// Where the master key file is.
    pub(crate) fn data_dir(&self) -> PathBuf {
        self.data_dir
            .clone()
            .unwrap_or_else(|| PathBuf::from("data"))
    }
}

/// `sanalpos audit ...`.
#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Recompute every company's audit chain; name the first broken event.
    Verify(DatabaseArgs),
}

/// `sanalpos api-key ...`.
#[derive(Debug, Subcommand)]
pub enum ApiKeyCommand {
    /// Create an API key for a company; the key is printed once.
    Create {
        /// The company id.
        #[arg(long)]
        company: String,
        /// A name for the key (which system uses it).
        #[arg(long)]
        name: String,
        #[command(flatten)]
        database: DatabaseArgs,
    },
    /// A company's API keys, newest first: id, the key's first characters, name,
    /// created, and revoked (or `-`). Never the keys themselves.
    List {
        /// The company id.
        #[arg(long)]
        company: String,
        #[command(flatten)]
        database: DatabaseArgs,
    },
    /// Revoke a company's API key (`key_…`, from `list`): every instance refuses it from
    /// its next request on.
    Revoke {
        /// The company id.
        #[arg(long)]
        company: String,
        /// The key's id (`key_…`), not the key.
        #[arg(long)]
        key: String,
        #[command(flatten)]
        database: DatabaseArgs,
    },
}

/// Runs a command's future on a fresh runtime.
pub(crate) fn block_on<F: std::future::Future<Output = ExitCode>>(f: F) -> ExitCode {
    match tokio::runtime::Runtime::new() {
        Ok(rt) => rt.block_on(f),
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Opens the database (migrating it, as `serve` does) and the service on top, with the
/// master key `serve` uses: `SANALPOS_MASTER_KEY`, else `<data dir>/master.key`, created
/// (0600) when missing. The error is the line to print.
pub(crate) async fn open_service(database: &DatabaseArgs) -> Result<PaymentService, String> {
    if database.uses_sqlite() {
        let dir = database.data_dir();
        std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    }
    let store = Store::open(&database.url())
        .await
        .map_err(|e| format!("database: {e}"))?;
    let data_dir = database.data_dir();
    let (crypto, source) = Crypto::load(&data_dir).map_err(|e| format!("master key: {e}"))?;
    if source == KeySource::CreatedFile {
        eprintln!(
            "note: created a new master key in {}; back it up (or move it to {MASTER_KEY_ENV}): without it the POS credentials cannot be decrypted",
            data_dir.join(MASTER_KEY_FILE).display()
        );
    }
    PaymentService::start(store, crypto, ServiceConfig::default())
        .await
        .map_err(|e| e.to_string())
}

/// Runs `sanalpos audit verify`.
pub fn audit(command: AuditCommand) -> ExitCode {
    let AuditCommand::Verify(database) = command;
    block_on(async move {
        let store = match Store::open(&database.url()).await {
            Ok(store) => store,
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::FAILURE;
            }
        };
        let reports = match store.verify_audit().await {
            Ok(reports) => reports,
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::FAILURE;
            }
        };
        let mut broken = false;
        for report in &reports {
            match &report.broken {
                None => println!(
                    "ok      {} ({}): {} events, chain intact",
                    report.company_name, report.company_id, report.events
                ),
                Some(b) => {
                    broken = true;
                    println!(
                        "BROKEN  {} ({}): first broken event seq {} id {}: {}",
                        report.company_name, report.company_id, b.seq, b.id, b.reason
                    );
                }
            }
        }
        if broken {
            ExitCode::FAILURE
        } else {
            ExitCode::SUCCESS
        }
    })
}

/// Runs `sanalpos api-key ...`.
pub fn api_key(command: ApiKeyCommand) -> ExitCode {
    block_on(async move {
        match run_api_key(command).await {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("error: {e}");
                ExitCode::FAILURE
            }
        }
    })
}

async fn run_api_key(command: ApiKeyCommand) -> Result<(), String> {
    match command {
        ApiKeyCommand::Create {
            company,
            name,
            database,
        } => create_key(&open_service(&database).await?, &company, &name).await,
        ApiKeyCommand::List { company, database } => {
            list_keys(&open_service(&database).await?, &company).await
        }
        ApiKeyCommand::Revoke {
            company,
            key,
            database,
        } => revoke_key(&open_service(&database).await?, &company, &key).await,
    }
}

async fn create_key(service: &PaymentService, company: &str, name: &str) -> Result<(), String> {
    match service.create_api_key(company, name, CLI_ACTOR).await {
        Ok((view, key)) => {
            println!("{key}");
            eprintln!(
                "API key {} created for company {company}; it is shown only this once.",
                view.id
            );
            Ok(())
        }
        Err(ServiceError::NotFound) => Err(format!("no company with id {company}")),
        Err(e) => Err(e.to_string()),
    }
}

async fn list_keys(service: &PaymentService, company: &str) -> Result<(), String> {
    super::org::known_companies(service, &[company.to_owned()]).await?;
    let keys = service
        .list_api_keys(company)
        .await
        .map_err(|e| e.to_string())?;
    for key in keys {
        println!(
            "{}\t{}\t{}\t{}\t{}",
            key.id,
            key.prefix,
            key.name,
            key.created_at,
            key.revoked_at.as_deref().unwrap_or("-")
        );
    }
    Ok(())
}

async fn revoke_key(service: &PaymentService, company: &str, key: &str) -> Result<(), String> {
    super::org::known_companies(service, &[company.to_owned()]).await?;
    match service.revoke_api_key(company, key, CLI_ACTOR).await {
        Ok(()) => {
            eprintln!("API key {key} of company {company} revoked.");
            Ok(())
        }
        Err(ServiceError::NotFound) => Err(format!(
            "company {company} has no unrevoked key with id {key} (sanalpos api-key list \
             --company {company} shows its keys); nothing was changed"
        )),
        Err(e) => Err(e.to_string()),
    }
}
