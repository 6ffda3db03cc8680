//! A faithful simulator of a NestPay (EST v3 / Asseco / Payten) bank virtual POS: the
//! XML API at `/fim/api` and the 3D gate at `/fim/est3Dgate`, as İş Bankası, Halkbank,
//! TEB, Ziraat and the other NestPay banks serve them (spec/nestpay.md).
//!
//! It is as strict as the bank: wrong credentials, missing fields, three-decimal
//! totals, bad cards, installments without a plan, reused order ids, a Credit before
//! end of day or a Void after it all get the bank's answer shape (`Response`
//! Error/Declined, `ProcReturnCode` 99, `Extra/ERRORCODE`, `NUMCODE`). Magic and fault
//! cards (`crate::cards`) and mdStatus cards ([`cards::MD_STATUS_CARDS`]) produce
//! declines, broken transports and failed authentications on demand. The ledger keeps
//! every transaction (masked card only) with its business day, and answers the status
//! and history queries. Test-only control endpoints live under `/_sim/`.
//!
//! It shares the accept loop, the clock, the card tables and the statement format with
//! the N Kolay simulator, and nothing else: its XML codec and hash code are its own
//! (pinned by vectors/nestpay.json), independent of the gateway crate's client.
//!
//! Start it with [`spawn`] on a bound listener and stop it with
//! [`NestpayHandle::shutdown`].

pub mod after_sale;
pub mod answer;
pub mod api;
pub mod bank_page;
pub mod cards;
pub mod codes;
pub mod config;
pub mod control;
pub mod gate;
pub mod hash;
pub mod ledger;
pub mod query;
pub mod sale;
pub mod statement;
pub mod xml;

use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::routing::post;
use axum::Router;
use chrono::NaiveDate;
use tokio::net::TcpListener;

pub use config::{load_or_create_merchant_file, NestpayConfig, NestpayMerchant};
pub use ledger::{NestpayTransaction, ThreeD, TxStatus, TxType};

use crate::server::Serving;
use crate::SimError;
use ledger::Nestpay;

/// Every route of the simulated bank, plus `/_sim/` in test mode.
fn router(sim: Arc<Nestpay>) -> Router {
    let mut router = Router::new()
        .route("/fim/api", post(api::api))
        .route("/fim/est3Dgate", post(gate::gate))
        .route("/fim/est3dgate", post(gate::gate))
        .route("/fim/acs/{token}", post(bank_page::submit));
    if sim.test_mode {
        router = router.nest("/_sim", control::router());
    }
    router.with_state(sim)
}

/// A running NestPay simulator. Dropping it stops the server too;
/// [`NestpayHandle::shutdown`] also waits for the requests in flight.
pub struct NestpayHandle {
    serving: Serving,
    sim: Arc<Nestpay>,
}

impl fmt::Debug for NestpayHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NestpayHandle")
            .field("addr", &self.serving.local_addr())
            .finish()
    }
}

/// Starts the simulator on `listener` and returns at once; it runs on the current
/// tokio runtime until [`NestpayHandle::shutdown`] or drop. Fails when a merchant
/// definition is invalid or the listener has no local address.
pub async fn spawn(config: NestpayConfig, listener: TcpListener) -> io::Result<NestpayHandle> {
    crate::merchant_file::validate_all(&config.merchants)?;
    let sim = Arc::new(Nestpay::new(
        config.merchants,
        config.test_mode,
        config.slow_answer_delay,
    ));
    let serving = Serving::start(listener, router(Arc::clone(&sim)))?;
    let addr = serving.local_addr();
    tracing::info!(%addr, test_mode = config.test_mode, "NestPay simulator listening");
    Ok(NestpayHandle { serving, sim })
}

impl NestpayHandle {
    /// The address the server listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.serving.local_addr()
    }

    /// `http://127.0.0.1:PORT` (a wildcard bind is reached through loopback). The API
    /// is at `{base_url}/fim/api`, the 3D gate at `{base_url}/fim/est3Dgate`.
    pub fn base_url(&self) -> String {
        self.serving.base_url()
    }

    /// Adds a merchant, or replaces the one with the same client id (keeping its
    /// ledger).
    pub fn add_merchant(&self, merchant: NestpayMerchant) -> Result<(), SimError> {
        merchant.validate()?;
        self.sim.lock().upsert_merchant(merchant);
        Ok(())
    }

    /// Closes the open business day (gün sonu) of one merchant or of all, returning
    /// what closed. After it, that day's transactions can no longer be voided and can
    /// be refunded.
    pub fn end_of_day(&self, client_id: Option<&str>) -> Vec<(String, NaiveDate)> {
        control::close_day(&self.sim, client_id)
    }

    /// A copy of a merchant's ledger rows (masked cards only); `None` when unknown.
    pub fn transactions(&self, client_id: &str) -> Option<Vec<NestpayTransaction>> {
        control::merchant_transactions(&self.sim, client_id)
    }

    /// The statement CSV of one business day (encode it with
    /// [`crate::encode_statement`]); `None` for an unknown merchant.
    pub fn statement(&self, client_id: &str, day: NaiveDate) -> Option<String> {
        control::day_statement(&self.sim, client_id, day)
    }

    /// Stops accepting, lets requests in flight finish (up to a few seconds) and
    /// returns when the server is gone.
    pub async fn shutdown(self) {
        self.serving.shutdown().await;
    }
}
