//! A faithful simulator of Garanti BBVA's virtual POS (GVP): the XML API at
//! `/VPServlet` and the 3D engine at `/servlet/gt3dengine` (spec/garanti.md).
//!
//! It is as strict as the bank: a wrong terminal, merchant number, user or `HashData`
//! (judged by the request's `Version`: 512 or legacy), a caller IP the merchant has not
//! registered, a missing or zero field, a reused order id, a refund before end of day or
//! a void after it all get a `GVPSResponse` refusal (`Source` `GVPS`, `Code` 92, a
//! reason code). Magic and fault cards (`crate::cards`) produce issuer declines and
//! broken transports on demand; the 3D page takes the SMS code `123456`. The ledger
//! keeps every transaction (masked card only) with its business day and answers
//! `orderinq`, `orderhistoryinq` and `orderlistinq`. Test-only control endpoints live
//! under `/_sim/`.
//!
//! Its codec and hash code are its own (pinned by vectors/garanti.json), independent of
//! the gateway crate's client; it shares the accept loop, the clock, the card tables,
//! the day book and the control helpers with the other simulators.

pub mod after_sale;
pub mod answer;
pub mod api;
pub mod codes;
pub mod config;
pub mod control;
pub mod gate;
pub mod hash;
pub mod ledger;
pub mod query;
pub mod sale;
pub mod xml;

use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::routing::post;
use axum::Router;
use chrono::NaiveDate;
use tokio::net::TcpListener;

pub use config::{load_or_create_merchant_file, GarantiConfig, GarantiMerchant};
pub use ledger::{GarantiTransaction, TxType};

use crate::server::Serving;
use crate::SimError;
use ledger::Garanti;

/// Every route of the simulated bank, plus `/_sim/` in test mode.
fn router(sim: Arc<Garanti>) -> Router {
    let mut router = Router::new()
        .route("/VPServlet", post(api::api))
        .route("/servlet/gt3dengine", post(gate::engine))
        .route("/servlet/acs/{token}", post(gate::submit));
    if sim.test_mode {
        router = router.nest("/_sim", control::router());
    }
    router.with_state(sim)
}

/// A running Garanti simulator. Dropping it stops the server too;
/// [`GarantiHandle::shutdown`] also waits for the requests in flight.
pub struct GarantiHandle {
    serving: Serving,
    sim: Arc<Garanti>,
}

impl fmt::Debug for GarantiHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GarantiHandle")
            .field("addr", &self.serving.local_addr())
            .finish()
    }
}

/// Starts the simulator on `listener` and returns at once; it runs on the current
/// tokio runtime until [`GarantiHandle::shutdown`] or drop. Fails when a merchant
/// definition is invalid or the listener has no local address.
pub async fn spawn(config: GarantiConfig, listener: TcpListener) -> io::Result<GarantiHandle> {
    crate::merchant_file::validate_all(&config.merchants)?;
    let sim = Arc::new(Garanti::new(
        config.merchants,
        config.test_mode,
        config.slow_answer_delay,
    ));
    let serving = Serving::start(listener, router(Arc::clone(&sim)))?;
    let addr = serving.local_addr();
    tracing::info!(%addr, test_mode = config.test_mode, "Garanti simulator listening");
    Ok(GarantiHandle { serving, sim })
}

impl GarantiHandle {
    /// The address the server listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.serving.local_addr()
    }

    /// `http://127.0.0.1:PORT`. The API is at `{base_url}/VPServlet`, the 3D engine at
    /// `{base_url}/servlet/gt3dengine`.
    pub fn base_url(&self) -> String {
        self.serving.base_url()
    }

    /// Adds a merchant, or replaces the one with the same terminal (keeping its
    /// ledger).
    pub fn add_merchant(&self, merchant: GarantiMerchant) -> Result<(), SimError> {
        merchant.validate()?;
        self.sim.lock().upsert_merchant(merchant);
        Ok(())
    }

    /// Closes the open business day (gün sonu) of one merchant or of all, returning
    /// what closed. After it, that day's transactions can no longer be voided and can
    /// be refunded.
    pub fn end_of_day(&self, terminal_id: Option<&str>) -> Vec<(String, NaiveDate)> {
        control::close_day(&self.sim, terminal_id)
    }

    /// A copy of a merchant's ledger rows (masked cards only); `None` when unknown.
    pub fn transactions(&self, terminal_id: &str) -> Option<Vec<GarantiTransaction>> {
        control::merchant_transactions(&self.sim, terminal_id)
    }

    /// The statement CSV of one business day (encode it with
    /// [`crate::encode_statement`]); `None` for an unknown merchant.
    pub fn statement(&self, terminal_id: &str, day: NaiveDate) -> Option<String> {
        control::day_statement(&self.sim, terminal_id, day)
    }

    /// Stops accepting, lets requests in flight finish (up to a few seconds) and
    /// returns when the server is gone.
    pub async fn shutdown(self) {
        self.serving.shutdown().await;
    }
}
