//! Faithful simulators of the N Kolay (PayNKolay) virtual POS service, of a NestPay
//! bank virtual POS ([`nestpay`]) and of Garanti BBVA's own virtual POS ([`garanti`]).
//!
//! No machine of the project reaches a bank, so every integration test, the demo and the
//! benchmarks talk to this server instead. It speaks the provider's real wire protocol
//! (form-encoded POSTs, JSON answers, `hashDatav2` signatures, the 3D Secure round trip
//! through an ACS page) over real HTTP, and it is deliberately strict: a wrong hash, a
//! wrong `sx`, a missing field or an amount with three decimals gets the real service's
//! error answer, so a client bug cannot hide behind a lenient simulator. Magic and fault
//! cards ([`cards`]) produce declines, timeouts, broken answers and dropped connections
//! on demand; an in-memory ledger with a business day (gün sonu) backs the reporting
//! endpoints, and test-only control endpoints under `/_sim/` close days, add panel sales
//! and export bank-style statements. Card numbers are never logged, and the ledger
//! keeps the masked PAN only; the one place that keeps a number is the card vault
//! ([`vault`]), as the real provider's does.
//!
//! Start it with [`spawn`] on a bound listener and stop it with [`SimHandle::shutdown`].

pub mod acs;
pub mod cards;
pub mod clock;
pub mod config;
pub mod control;
mod control_common;
mod day;
pub mod garanti;
pub mod handlers;
pub mod hash;
mod merchant_file;
pub mod nestpay;
pub mod posnet;
pub mod server;
pub mod shared;
pub mod state;
pub mod statement;
pub mod tariff;
pub mod vault;
pub mod wire;

pub use config::{
    load_or_create_merchant_file, MerchantConfig, PartialRefundType, PostbackHash, SimConfig,
};
pub use server::{spawn, SimHandle};
pub use state::{Transaction, TxKind, TxStatus};
pub use statement::{encode_statement, statement_csv, StatementEncoding};

/// Why the simulator could not start or load its configuration.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    /// Reading or writing a file failed.
    #[error("{path}: {source}")]
    Io {
        /// The file concerned.
        path: std::path::PathBuf,
        /// What the operating system said.
        #[source]
        source: std::io::Error,
    },
    /// A merchant file is not valid JSON of the expected shape.
    #[error("{path}: {source}")]
    Json {
        /// The file concerned.
        path: std::path::PathBuf,
        /// What the parser said.
        #[source]
        source: serde_json::Error,
    },
    /// A merchant definition is inconsistent (the text names the field, never a secret).
    #[error("invalid merchant configuration: {0}")]
    InvalidMerchant(String),
}
