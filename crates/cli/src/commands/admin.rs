//! `sanalpos audit verify`, `sanalpos api-key create`: operator tools on the database.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Subcommand};
use sanalpos_store::{Crypto, Store};

/// Which database: the SQLite file of a data directory, or a URL.
#[derive(Debug, Args)]
pub struct DatabaseArgs {
    /// Data directory holding sanalpos.db (default `data`).
    #[arg(long, conflicts_with = "database_url")]
    data_dir: Option<PathBuf>,
    /// `postgres://…`.
    #[arg(long)]
    database_url: Option<String>,
}

impl DatabaseArgs {
    /// The database URL to open.
    pub(crate) fn url(&self) -> String {
        match &self.database_url {
            Some(url) => url.clone(),
            None => Store::sqlite_url(
                &self
                    .data_dir
                    .clone()
                    .unwrap_or_else(|| PathBuf::from("data"))
                    .join("sanalpos.db"),
            ),
        }
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

/// Runs `sanalpos api-key create`.
pub fn api_key(command: ApiKeyCommand) -> ExitCode {
    let ApiKeyCommand::Create {
        company,
        name,
        database,
    } = command;
    block_on(async move {
        let store = match Store::open(&database.url()).await {
            Ok(store) => store,
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::FAILURE;
            }
        };
        let crypto = match Crypto::load(&database.data_dir()) {
            Ok((crypto, _)) => crypto,
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::FAILURE;
            }
        };
        let service = match sanalpos_service::PaymentService::start(
            store,
            crypto,
            sanalpos_service::ServiceConfig::default(),
        )
        .await
        {
            Ok(service) => service,
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::FAILURE;
            }
        };
        match service.create_api_key(&company, &name, "cli").await {
            Ok((view, key)) => {
                println!("{key}");
                eprintln!(
                    "API key {} created for company {company}; it is shown only this once.",
                    view.id
                );
                ExitCode::SUCCESS
            }
            Err(sanalpos_service::ServiceError::NotFound) => {
                eprintln!("error: no company with id {company}");
                ExitCode::FAILURE
            }
            Err(e) => {
                eprintln!("error: {e}");
                ExitCode::FAILURE
            }
        }
    })
}
