//! One module per subcommand.

pub mod admin;
pub mod bench;
pub mod bench_list;
pub mod garanti;
pub mod nestpay;
pub mod nkolay;
pub mod org;
pub mod posnet;
pub mod recon;
pub mod serve;
pub mod sim;
pub mod soak;

/// Logs to stderr; `RUST_LOG` overrides the default level.
pub fn init_logging() {
    init_logging_as(false);
}

/// Logs to stderr as text or as one JSON object per line.
pub fn init_logging_as(json: bool) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if json {
        builder.json().init();
    } else {
        builder.init();
    }
}
