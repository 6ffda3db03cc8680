//! `sanalpos serve`, `sanalpos demo`: the service.

use std::io::Read;
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
    /// Also stop (as on SIGTERM) when standard input reaches its end: for a program that
    /// starts the service as its child over a pipe, so that the service stops when that
    /// program ends, even killed with SIGKILL.
    #[arg(long)]
    stop_with_stdin: bool,
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

/// Resolves when standard input reaches its end or cannot be read. Read on a thread of
/// its own (a read blocked on the runtime's blocking pool would hold the runtime's
/// shutdown); the thread is left behind when the process ends.
async fn stdin_closed() {
    let (closed, on_close) = tokio::sync::oneshot::channel::<()>();
    let watch = std::thread::Builder::new()
        .name("stdin-watch".into())
        .spawn(move || {
            let mut stdin = std::io::stdin().lock();
            let mut sink = [0_u8; 256];
            loop {
                match stdin.read(&mut sink) {
                    Ok(0) => break,
                    Ok(_) => {}
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                    Err(_) => break,
                }
            }
            let _ = closed.send(());
        });
    match watch {
        Ok(_) => {
            let _ = on_close.await;
        }
        Err(e) => {
            tracing::warn!(error = %e, "cannot watch standard input; only signals stop the service");
            std::future::pending::<()>().await;
        }
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
    let stop_with_stdin = args.stop_with_stdin;
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
        let stop = async move {
            if stop_with_stdin {
                tokio::select! {
                    () = stop_signal() => {},
                    () = stdin_closed() => {
                        tracing::info!("standard input closed: stopping");
                    },
                }
            } else {
                stop_signal().await;
            }
        };
        match app.run_until_stopped(stop).await {
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
