//! A faithful simulator of Yapı Kredi's PosNet XML gateway: the XML API at
//! `/PosnetWebService/XML` and the 3D page at `/3DSWebService/YKBPaymentService`
//! (spec/posnet.md).
//!
//! It is as strict as the bank: an unknown `mid`/`tid` pair or a caller IP off the
//! merchant's whitelist gets `0148` "INVALID MID TID IP", a wrong MAC `E216`, a reused
//! order `0127` (`approved` 2 with the earlier references when it was approved), a
//! cancel after end of day or a refund before it a refusal. Magic and fault cards
//! (`crate::cards`) produce issuer declines (`00` + ISO code) and broken transports; the
//! 3D page takes the SMS code `123456`. The ledger keeps every transaction (masked card
//! only) with its business day, answers `agreement` and writes the day's statement.
//! Test-only control endpoints live under `/_sim/`.
//!
//! Its codec and MAC code are its own (pinned by vectors/posnet.json), independent of
//! the gateway crate's client; it shares the accept loop, the clock, the card tables,
//! the day book and the control helpers with the other simulators.

pub mod api;
pub mod config;
pub mod control;
pub mod gate;
pub mod ledger;
pub mod wire;

use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::routing::post;
use axum::Router;
use chrono::NaiveDate;
use tokio::net::TcpListener;

pub use config::{load_or_create_merchant_file, PosnetConfig, PosnetMerchant};
pub use ledger::{PosnetTransaction, TxKind};

use crate::server::Serving;
use crate::SimError;
use ledger::Posnet;

fn router(sim: Arc<Posnet>) -> Router {
    let mut router = Router::new()
        .route("/PosnetWebService/XML", post(api::api))
        .route("/3DSWebService/YKBPaymentService", post(gate::page))
        .route("/3DSWebService/acs/{token}", post(gate::submit));
    if sim.test_mode {
        router = router.nest("/_sim", control::router());
    }
    router.with_state(sim)
}

/// A running PosNet simulator. Dropping it stops the server too.
pub struct PosnetHandle {
    serving: Serving,
    sim: Arc<Posnet>,
}

impl fmt::Debug for PosnetHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PosnetHandle")
            .field("addr", &self.serving.local_addr())
            .finish()
    }
}

/// Starts the simulator on `listener` and returns at once. Fails when a merchant
/// definition is invalid or the listener has no local address.
pub async fn spawn(config: PosnetConfig, listener: TcpListener) -> io::Result<PosnetHandle> {
    crate::merchant_file::validate_all(&config.merchants)?;
    let sim = Arc::new(Posnet::new(
        config.merchants,
        config.test_mode,
        config.slow_answer_delay,
    ));
    let serving = Serving::start(listener, router(Arc::clone(&sim)))?;
    let addr = serving.local_addr();
    tracing::info!(%addr, test_mode = config.test_mode, "PosNet simulator listening");
    Ok(PosnetHandle { serving, sim })
}

impl PosnetHandle {
    /// The address the server listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.serving.local_addr()
    }

    /// `http://127.0.0.1:PORT`: the API is at `{base_url}/PosnetWebService/XML`, the 3D
    /// page at `{base_url}/3DSWebService/YKBPaymentService`.
    pub fn base_url(&self) -> String {
        self.serving.base_url()
    }

    /// Adds a merchant, or replaces the one with the same `tid` (keeping its ledger).
    pub fn add_merchant(&self, merchant: PosnetMerchant) -> Result<(), SimError> {
        merchant.validate()?;
        self.sim.lock().upsert_merchant(merchant);
        Ok(())
    }

    /// Closes the open business day of one merchant or all, returning what closed.
    pub fn end_of_day(&self, tid: Option<&str>) -> Vec<(String, NaiveDate)> {
        control::close_day(&self.sim, tid)
    }

    /// A copy of a merchant's ledger rows (masked cards only); `None` when unknown.
    pub fn transactions(&self, tid: &str) -> Option<Vec<PosnetTransaction>> {
        control::merchant_transactions(&self.sim, tid)
    }

    /// The statement CSV of one business day; `None` for an unknown merchant.
    pub fn statement(&self, tid: &str, day: NaiveDate) -> Option<String> {
        control::day_statement(&self.sim, tid, day)
    }

    /// Stops accepting, lets requests in flight finish and returns when the server is
    /// gone.
    pub async fn shutdown(self) {
        self.serving.shutdown().await;
    }
}
