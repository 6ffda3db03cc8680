//! Soaks: long runs that prove what the service survives.
//!
//! - [`crash`]: a mixed load against `sanalpos serve` (a child process) and the built-in
//!   simulators (N Kolay, and the bank POS of [`banks`], NestPay, Garanti BBVA and PosNet, each
//!   taking a share of the sales), the server killed with SIGKILL at random moments and
//!   started again; at the end each simulator's ledger judges the database ([`judge`],
//!   [`bank_judge`]) and every file the run left is scanned for card data and
//!   credentials ([`scan`]).
//! - [`load`]: a steady open-loop load of sales and list queries, with latency and the
//!   server's memory printed every minute.
//!
//! The `sanalpos soak` command and the integration tests both call these.

pub mod bank_judge;
pub mod banks;
pub mod cards;
pub mod crash;
pub mod form;
pub mod judge;
pub mod load;
pub mod scan;
pub mod server;
pub mod traffic;

use std::path::PathBuf;
use std::time::Duration;

use sanalpos_service::{PaymentService, ServiceConfig};
use sanalpos_simulator::cards::SANDBOX_CARDS;
use sanalpos_simulator::{spawn, MerchantConfig, SimConfig, SimHandle};
use sanalpos_store::{Crypto, Store};

use self::banks::{BankProtocol, BankSim};
use self::scan::Needles;
use self::server::{free_port, Server, ServerSpec};

/// The bank protocols every fixture starts a simulator and a POS for.
pub const BANKS: [BankProtocol; 3] = [
    BankProtocol::Nestpay,
    BankProtocol::Garanti,
    BankProtocol::Posnet,
];

/// A bank POS of the fixture's company and the simulator it points at.
pub struct BankPos {
    /// The bank's simulator, in this process.
    pub sim: Box<dyn BankSim>,
    /// The protocol.
    pub protocol: BankProtocol,
    /// The id of the company's POS on it (sales reach it with `pos_id`).
    pub pos_id: String,
}

/// The simulators, a seeded company with its POS (N Kolay, the default, and one bank
/// POS per protocol of [`BANKS`], as `sanalpos demo` gives them) and API key, and the
/// `serve` child that works on them.
pub struct Fixture {
    /// The N Kolay simulator, in this process.
    pub sim: SimHandle,
    /// The merchant the N Kolay POS points at.
    pub merchant: MerchantConfig,
    /// The bank POS, one per protocol of [`BANKS`].
    pub banks: Vec<BankPos>,
    /// The seeded company.
    pub company_id: String,
    /// The company's API key.
    pub api_key: String,
    /// The server child (not started yet).
    pub server: Server,
    /// The data directory (SQLite files, master key, server log).
    pub data_dir: PathBuf,
    /// The PostgreSQL URL, when not SQLite.
    pub database_url: Option<String>,
}

impl std::fmt::Debug for Fixture {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Fixture")
            .field("sim", &self.sim.base_url())
            .field("banks", &self.banks.len())
            .field("data_dir", &self.data_dir)
            .field("postgres", &self.database_url.is_some())
            .finish_non_exhaustive()
    }
}

/// What a fixture needs.
#[derive(Debug, Clone)]
pub struct FixtureOptions {
    /// The `sanalpos` binary to run as `serve`.
    pub bin: PathBuf,
    /// The data directory (must exist).
    pub data_dir: PathBuf,
    /// `postgres://…`, or `None` for SQLite in `data_dir`.
    pub database_url: Option<String>,
    /// How long the slow-answer fault card keeps the caller waiting (at both
    /// simulators).
    pub slow_answer: Duration,
    /// `SANALPOS_*` settings of the server (without the prefix).
    pub settings: Vec<(String, String)>,
}

/// Starts the simulators, seeds the database (company, its two POS, API key) and
/// prepares the server child.
pub async fn setup(options: FixtureOptions) -> Result<Fixture, String> {
    let merchant = MerchantConfig::generate();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|e| format!("simulator port: {e}"))?;
    let sim = spawn(
        SimConfig {
            merchants: vec![merchant.clone()],
            test_mode: true,
            slow_answer_delay: options.slow_answer,
        },
        listener,
    )
    .await
    .map_err(|e| format!("simulator: {e}"))?;
    let mut bank_sims = Vec::new();
    for protocol in BANKS {
        let (sim, pos) = banks::start(protocol, options.slow_answer).await?;
        bank_sims.push((protocol, sim, pos));
    }

    let (crypto, _) = Crypto::load_file(&options.data_dir).map_err(|e| e.to_string())?;
    let url = options
        .database_url
        .clone()
        .unwrap_or_else(|| Store::sqlite_url(&options.data_dir.join("sanalpos.db")));
    let store = Store::open(&url)
        .await
        .map_err(|e| format!("database: {e}"))?;
    let service = PaymentService::new(store.clone(), crypto, ServiceConfig::default());
    let company = service
        .create_company("Dayanıklılık Testi A.Ş.", "soak")
        .await
        .map_err(|e| e.to_string())?;
    service
        .create_pos(
            &company.id,
            crate::demo::simulator_pos(&sim.base_url(), &merchant),
            "soak",
        )
        .await
        .map_err(|e| e.to_string())?;
    let mut banks = Vec::new();
    for (protocol, sim, pos) in bank_sims {
        let pos = service
            .create_pos(&company.id, pos, "soak")
            .await
            .map_err(|e| e.to_string())?;
        banks.push(BankPos {
            sim,
            protocol,
            pos_id: pos.id,
        });
    }
    let (_, api_key) = service
        .create_api_key(&company.id, "soak", "soak")
        .await
        .map_err(|e| e.to_string())?;
    store.close().await;

    let server = Server::new(ServerSpec {
        bin: options.bin,
        data_dir: options.data_dir.clone(),
        database_url: options.database_url.clone(),
        port: free_port()?,
        log: options.data_dir.join("server.log"),
        settings: options.settings,
    });
    Ok(Fixture {
        sim,
        merchant,
        banks,
        company_id: company.id,
        api_key,
        server,
        data_dir: options.data_dir,
        database_url: options.database_url,
    })
}

impl Fixture {
    /// The database URL the server uses.
    pub fn database_url(&self) -> String {
        self.database_url
            .clone()
            .unwrap_or_else(|| Store::sqlite_url(&self.data_dir.join("sanalpos.db")))
    }

    /// The bank POS of `protocol`.
    pub fn bank(&self, protocol: BankProtocol) -> Option<&BankPos> {
        self.banks.iter().find(|b| b.protocol == protocol)
    }

    /// Closes every provider's business day (N Kolay's and each bank's).
    pub fn close_days(&self) {
        self.sim.end_of_day(Some(&self.merchant.merchant_no));
        for bank in &self.banks {
            bank.sim.close_day();
        }
    }

    /// Stops every simulator.
    pub async fn shutdown_simulators(self) {
        for bank in self.banks {
            bank.sim.shutdown().await;
        }
        self.sim.shutdown().await;
    }

    /// Moves the company's idempotency locks into the past, as if the time a key is held
    /// by a request (5 minutes) had passed: what a client retrying later would meet.
    pub async fn expire_idempotency_locks(&self) -> Result<u64, String> {
        use sqlx::Connection as _;
        sanalpos_store::install_drivers();
        let mut conn = sqlx::AnyConnection::connect(&self.database_url())
            .await
            .map_err(|e| format!("database: {e}"))?;
        let done = sqlx::query(
            "UPDATE idempotency_keys SET locked_until = 0 \
             WHERE company_id = $1 AND state = 'in_progress'",
        )
        .bind(&self.company_id)
        .execute(&mut conn)
        .await
        .map_err(|e| format!("idempotency keys: {e}"))?;
        let _ = conn.close().await;
        Ok(done.rows_affected())
    }

    /// What must never be found at rest: every card the traffic uses (number and CVV),
    /// both POS' credentials and the API key; the marker is a masked PAN of a sale.
    pub fn needles(&self) -> Needles {
        let mut needles = Needles::default();
        for card in cards::all_cards() {
            needles.card(card.number, card.cvv);
        }
        needles.secret("POS sales token (sx)", &self.merchant.sx);
        needles.secret("POS list token (sx_list)", &self.merchant.sx_list);
        needles.secret("POS cancel token (sx_cancel)", &self.merchant.sx_cancel);
        needles.secret("POS secret key", &self.merchant.secret_key);
        for bank in &self.banks {
            for (label, secret) in bank.sim.secrets() {
                needles.secret(label, &secret);
            }
        }
        needles.secret("API key", &self.api_key);
        needles.marker = Some(scan::mask(SANDBOX_CARDS[6].number));
        needles
    }

    /// Scans the data directory and, on PostgreSQL, every table; returns the findings
    /// as violations (empty when clean) and the scan's size.
    pub async fn scan_for_secrets(&self) -> (Vec<String>, scan::ScanReport) {
        let needles = self.needles();
        let mut violations = Vec::new();
        let mut report = match scan::scan_dir(&self.data_dir, &needles) {
            Ok(r) => r,
            Err(e) => {
                violations.push(format!("scan failed: {e}"));
                return (violations, scan::ScanReport::default());
            }
        };
        if let Some(url) = &self.database_url {
            match scan::scan_postgres(url, &needles).await {
                Ok(r) => {
                    report.sources += r.sources;
                    report.bytes += r.bytes;
                    report.marker_hits += r.marker_hits;
                    report.findings.extend(r.findings);
                }
                Err(e) => violations.push(format!("scan failed: {e}")),
            }
        }
        for finding in &report.findings {
            violations.push(format!("secret at rest: {finding}"));
        }
        if report.marker_hits == 0 {
            violations.push(
                "the secrets scan found no masked PAN: it did not read the stored payments".into(),
            );
        }
        (violations, report)
    }
}

/// The server settings the soaks use: short timeouts so the janitor settles quickly,
/// and the card-testing limits off: the soak sends the same few magic and sandbox cards
/// (declines, wrong 3D codes) thousands of times on purpose, to load the payment path,
/// not the abuse limits (tested on their own in the server's `checkout` tests).
pub fn fast_settings(three_d_ttl_secs: u64) -> Vec<(String, String)> {
    [
        ("PROVIDER_TIMEOUT_SECS", "2".to_owned()),
        // The grace is how long a request may take to reach the provider after we gave
        // up on its answer (120 s in production): a call a kill cut, still queued at
        // the simulator on a loaded machine, must not be judged "never happened" first.
        // At 1 s a CI run under load once saw a refund land after the janitor had
        // failed it.
        ("UNKNOWN_GRACE_SECS", "5".to_owned()),
        ("JANITOR_INTERVAL_SECS", "1".to_owned()),
        ("THREE_D_TTL_SECS", three_d_ttl_secs.to_string()),
        ("BREAKER_COOLDOWN_SECS", "2".to_owned()),
        ("END_OF_DAY", "off".to_owned()),
        // The soaks are load, not abuse: the rate limits are off.
        ("RATE_LIMIT_PAYMENTS_PER_KEY", "0".to_owned()),
        ("RATE_LIMIT_PAYMENTS_PER_COMPANY", "0".to_owned()),
        ("RATE_LIMIT_REQUESTS_PER_KEY", "0".to_owned()),
        ("RATE_LIMIT_REQUESTS_PER_COMPANY", "0".to_owned()),
        ("CARD_DECLINES", "0".to_owned()),
        ("IP_DECLINES", "0".to_owned()),
        ("SESSION_FAILED_ATTEMPTS", "0".to_owned()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect()
}
