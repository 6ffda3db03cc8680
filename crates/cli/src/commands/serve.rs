//! `sanalpos serve`, `sanalpos demo`: the service.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;
use sanalpos_server::config::LogFormat;
use sanalpos_server::{Application, Config};

/// Options of `sanalpos serve`; flags override the file and the environment.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// A TOML configuration file (keys: listen, public_base_url, data_dir, database_url,
    /// log_format, janitor_interval_secs, provider_timeout_secs, three_d_ttl_secs,
    /// unknown_grace_secs). `SANALPOS_<KEY>` variables override it.
    #[arg(long)]
    config: Option<PathBuf>,
    /// Address to listen on, e.g. 127.0.0.1:8080.
    #[arg(long)]
    listen: Option<std::net::SocketAddr>,
    /// Data directory (SQLite file, master key file).
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// `postgres://…` to share one PostgreSQL database between instances.
    #[arg(long)]
    database_url: Option<String>,
}

/// Options of `sanalpos demo`.
#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Port of the service; the simulator takes the next one.
    #[arg(long, default_value_t = 8080)]
    port: u16,
    /// Where the demo keeps its database, keys and demo.json.
    #[arg(long, default_value = "demo-data")]
    data_dir: PathBuf,
}

fn runtime() -> Result<tokio::runtime::Runtime, ExitCode> {
    tokio::runtime::Runtime::new().map_err(|e| {
        eprintln!("error: cannot start the runtime: {e}");
        ExitCode::FAILURE
    })
}

/// Ctrl-C or SIGTERM.
pub async fn stop_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
}

/// Runs `sanalpos serve`.
pub fn serve(args: ServeArgs) -> ExitCode {
    let mut config = match Config::from_process(args.config.as_deref()) {
        Ok(config) => config,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    if let Some(listen) = args.listen {
        config.listen = listen;
    }
    if let Some(dir) = args.data_dir {
        config.data_dir = dir;
    }
    if let Some(url) = args.database_url {
        config.database_url = url;
    }
    super::init_logging_as(config.log_format == LogFormat::Json);
    let runtime = match runtime() {
        Ok(r) => r,
        Err(code) => return code,
    };
    runtime.block_on(async move {
        let app = match Application::build(config).await {
            Ok(app) => app,
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::FAILURE;
            }
        };
        println!("sanalpos listening on {}", app.base_url());
        match app.run_until_stopped(stop_signal()).await {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("error: {e}");
                ExitCode::FAILURE
            }
        }
    })
}

/// Runs `sanalpos demo`.
pub fn demo(args: DemoArgs) -> ExitCode {
    super::init_logging_as(false);
    let runtime = match runtime() {
        Ok(r) => r,
        Err(code) => return code,
    };
    runtime.block_on(async move {
        match sanalpos::demo::run(args.port, &args.data_dir, stop_signal()).await {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("error: {e}");
                ExitCode::FAILURE
            }
        }
    })
}
