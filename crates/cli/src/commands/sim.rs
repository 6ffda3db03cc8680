//! `sanalpos sim`: a provider simulator on its own port: N Kolay (default), a NestPay
//! bank POS (`--protocol nestpay`), Garanti BBVA's own POS (`--protocol garanti`) or
//! Yapı Kredi's PosNet (`--protocol posnet`).

use std::io;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use clap::Args;
use sanalpos_simulator::{
    garanti, load_or_create_merchant_file, nestpay, posnet, spawn, MerchantConfig, SimConfig,
    SimError, SimHandle,
};
use tokio::net::TcpListener;

/// Options of `sanalpos sim`.
#[derive(Debug, Args)]
pub struct SimArgs {
    /// The protocol to simulate: `nkolay`, `nestpay`, `garanti` or `posnet`.
    #[arg(long, default_value = "nkolay")]
    protocol: String,
    /// Port to listen on (0 picks a free one).
    #[arg(long, default_value_t = 8610)]
    port: u16,
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1")]
    host: IpAddr,
    /// Merchants to serve: one JSON object or an array. Created with one new test
    /// merchant when missing. For nestpay a merchant is
    /// `{"client_id", "api_user", "api_password", "store_key"}`; for garanti
    /// `{"merchant_id", "terminal_id", "prov_password", "refund_password", "store_key"}`;
    /// for posnet `{"mid", "tid", "posnet_id", "enc_key"}` (optionally `allowed_ips`).
    #[arg(long, default_value = "sim-merchants.json")]
    merchant_file: PathBuf,
    /// Serve the control endpoints under /_sim/ (end of day, panel sales, statements).
    #[arg(long)]
    test_mode: bool,
    /// Seconds the "answers after 40 s" fault card waits.
    #[arg(long, default_value_t = 40)]
    slow_answer_secs: u64,
}

/// The protocols `--protocol` accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Protocol {
    NKolay,
    Nestpay,
    Garanti,
    Posnet,
}

fn parse_protocol(text: &str) -> Result<Protocol, String> {
    match text.trim().to_ascii_lowercase().as_str() {
        "nkolay" | "n-kolay" => Ok(Protocol::NKolay),
        "nestpay" | "est" => Ok(Protocol::Nestpay),
        "garanti" | "gvp" => Ok(Protocol::Garanti),
        "posnet" | "yapikredi" => Ok(Protocol::Posnet),
        _ => Err(format!(
            "protocol {text}: unknown (use nkolay, nestpay, garanti or posnet)"
        )),
    }
}

impl Protocol {
    /// How the simulator introduces itself on start.
    fn name(self) -> &'static str {
        match self {
            Protocol::NKolay => "N Kolay",
            Protocol::Nestpay => "NestPay",
            Protocol::Garanti => "Garanti BBVA",
            Protocol::Posnet => "Yapı Kredi PosNet",
        }
    }

    /// Reads the protocol's merchant file, creating it when missing.
    fn load_merchants(self, path: &Path) -> Result<Merchants, SimError> {
        Ok(match self {
            Protocol::NKolay => Merchants::NKolay(load_or_create_merchant_file(path)?),
            Protocol::Nestpay => Merchants::Nestpay(nestpay::load_or_create_merchant_file(path)?),
            Protocol::Garanti => Merchants::Garanti(garanti::load_or_create_merchant_file(path)?),
            Protocol::Posnet => Merchants::Posnet(posnet::load_or_create_merchant_file(path)?),
        })
    }
}

/// The merchants of the chosen protocol: each simulator has its own merchant type.
enum Merchants {
    NKolay(Vec<MerchantConfig>),
    Nestpay(Vec<nestpay::NestpayMerchant>),
    Garanti(Vec<garanti::GarantiMerchant>),
    Posnet(Vec<posnet::PosnetMerchant>),
}

impl Merchants {
    fn len(&self) -> usize {
        match self {
            Merchants::NKolay(merchants) => merchants.len(),
            Merchants::Nestpay(merchants) => merchants.len(),
            Merchants::Garanti(merchants) => merchants.len(),
            Merchants::Posnet(merchants) => merchants.len(),
        }
    }

    /// Starts the protocol's simulator on `listener`, serving these merchants.
    async fn spawn(
        self,
        test_mode: bool,
        slow_answer_delay: Duration,
        listener: TcpListener,
    ) -> io::Result<Running> {
        Ok(match self {
            Merchants::NKolay(merchants) => {
                let config = SimConfig {
                    merchants,
                    test_mode,
                    slow_answer_delay,
                };
                Running::NKolay(spawn(config, listener).await?)
            }
            Merchants::Nestpay(merchants) => {
                let config = nestpay::NestpayConfig {
                    merchants,
                    test_mode,
                    slow_answer_delay,
                };
                Running::Nestpay(nestpay::spawn(config, listener).await?)
            }
            Merchants::Garanti(merchants) => {
                let config = garanti::GarantiConfig {
                    merchants,
                    test_mode,
                    slow_answer_delay,
                };
                Running::Garanti(garanti::spawn(config, listener).await?)
            }
            Merchants::Posnet(merchants) => {
                let config = posnet::PosnetConfig {
                    merchants,
                    test_mode,
                    slow_answer_delay,
                };
                Running::Posnet(posnet::spawn(config, listener).await?)
            }
        })
    }
}

/// A running simulator of either protocol.
enum Running {
    NKolay(SimHandle),
    Nestpay(nestpay::NestpayHandle),
    Garanti(garanti::GarantiHandle),
    Posnet(posnet::PosnetHandle),
}

impl Running {
    fn base_url(&self) -> String {
        match self {
            Running::NKolay(handle) => handle.base_url(),
            Running::Nestpay(handle) => handle.base_url(),
            Running::Garanti(handle) => handle.base_url(),
            Running::Posnet(handle) => handle.base_url(),
        }
    }

    /// Where the protocol's endpoints are, when they are not plain to see from the base
    /// URL.
    fn endpoints(&self) -> Option<String> {
        match self {
            Running::NKolay(_) => None,
            Running::Nestpay(_) => Some(format!(
                "XML API {0}/fim/api, 3D gate {0}/fim/est3Dgate",
                self.base_url()
            )),
            Running::Garanti(_) => Some(format!(
                "XML API {0}/VPServlet, 3D engine {0}/servlet/gt3dengine",
                self.base_url()
            )),
            Running::Posnet(_) => Some(format!(
                "XML API {0}/PosnetWebService/XML, 3D page {0}/3DSWebService/YKBPaymentService",
                self.base_url()
            )),
        }
    }

    /// Stops accepting and lets the requests in flight finish.
    async fn shutdown(self) {
        match self {
            Running::NKolay(handle) => handle.shutdown().await,
            Running::Nestpay(handle) => handle.shutdown().await,
            Running::Garanti(handle) => handle.shutdown().await,
            Running::Posnet(handle) => handle.shutdown().await,
        }
    }
}

/// Runs until Ctrl-C.
pub fn run(args: SimArgs) -> ExitCode {
    let protocol = match parse_protocol(&args.protocol) {
        Ok(protocol) => protocol,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    super::init_logging();
    let merchants = match protocol.load_merchants(&args.merchant_file) {
        Ok(merchants) => merchants,
        Err(e) => {
            eprintln!("error: {}: {e}", args.merchant_file.display());
            return ExitCode::FAILURE;
        }
    };
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(async move {
        let addr = SocketAddr::new(args.host, args.port);
        let listener = match TcpListener::bind(addr).await {
            Ok(listener) => listener,
            Err(e) => {
                eprintln!("error: cannot listen on {addr}: {e}");
                return ExitCode::FAILURE;
            }
        };
        let count = merchants.len();
        let delay = Duration::from_secs(args.slow_answer_secs);
        let handle = match merchants.spawn(args.test_mode, delay, listener).await {
            Ok(handle) => handle,
            Err(e) => {
                eprintln!("error: cannot start the simulator: {e}");
                return ExitCode::FAILURE;
            }
        };
        println!(
            "{} simulator listening on {}",
            protocol.name(),
            handle.base_url()
        );
        if let Some(endpoints) = handle.endpoints() {
            println!("{endpoints}");
        }
        println!(
            "{count} merchant(s) from {}; control endpoints {}",
            args.merchant_file.display(),
            if args.test_mode {
                "on under /_sim/"
            } else {
                "off (use --test-mode)"
            }
        );
        // Ctrl-C, then a graceful stop.
        if let Err(e) = tokio::signal::ctrl_c().await {
            eprintln!("error: cannot wait for Ctrl-C: {e}");
        }
        handle.shutdown().await;
        ExitCode::SUCCESS
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn protocols() {
        assert_eq!(parse_protocol("nkolay"), Ok(Protocol::NKolay));
        assert_eq!(parse_protocol("NestPay"), Ok(Protocol::Nestpay));
        assert_eq!(parse_protocol("garanti"), Ok(Protocol::Garanti));
        assert_eq!(parse_protocol("GVP"), Ok(Protocol::Garanti));
        assert_eq!(parse_protocol("posnet"), Ok(Protocol::Posnet));
        assert!(parse_protocol("x").is_err());
    }
}
