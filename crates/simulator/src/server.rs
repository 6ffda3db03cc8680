//! The accept loop: hyper's HTTP/1 connection driver around the axum router, with the
//! caller's address attached to every request (for the IP allowlist) and the one power
//! axum alone lacks: closing a connection without any answer (fault card 9060).

use std::fmt;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use axum::extract::ConnectInfo;
use axum::Router;
use chrono::NaiveDate;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::Request;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::{JoinHandle, JoinSet};
use tower::ServiceExt as _;

use crate::config::{MerchantConfig, SimConfig};
use crate::state::{Sim, Transaction};
use crate::wire::DropConnection;
use crate::{control, handlers, SimError};

/// How long a shutdown waits for requests in flight before cutting them off.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(5);

/// The error a request handler raises to make hyper drop the connection unanswered.
#[derive(Debug)]
struct DroppedOnPurpose;

impl fmt::Display for DroppedOnPurpose {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("connection dropped on purpose (fault card)")
    }
}

impl std::error::Error for DroppedOnPurpose {}

/// A running simulator. Dropping it stops the server too; [`SimHandle::shutdown`] also
/// waits for the requests in flight.
pub struct SimHandle {
    serving: Serving,
    sim: Arc<Sim>,
}

impl fmt::Debug for SimHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SimHandle")
            .field("addr", &self.serving.local_addr())
            .finish()
    }
}

/// Starts the simulator on `listener` and returns at once; the server runs on the
/// current tokio runtime until [`SimHandle::shutdown`] or drop. Fails when a merchant
/// definition is inconsistent or the listener has no local address.
pub async fn spawn(config: SimConfig, listener: TcpListener) -> io::Result<SimHandle> {
    crate::merchant_file::validate_all(&config.merchants)?;
    let sim = Arc::new(Sim::new(
        config.merchants,
        config.test_mode,
        config.slow_answer_delay,
    ));
    let serving = Serving::start(listener, handlers::router(Arc::clone(&sim)))?;
    let addr = serving.local_addr();
    tracing::info!(%addr, test_mode = config.test_mode, "N Kolay simulator listening");
    Ok(SimHandle { serving, sim })
}

impl SimHandle {
    /// The address the server listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.serving.local_addr()
    }

    /// `http://127.0.0.1:PORT` (a wildcard bind is reached through loopback).
    pub fn base_url(&self) -> String {
        self.serving.base_url()
    }

    /// Adds a merchant, or replaces the one with the same number (keeping its ledger).
    pub fn add_merchant(&self, merchant: MerchantConfig) -> Result<(), SimError> {
        merchant.validate()?;
        self.sim.lock().upsert_merchant(merchant);
        Ok(())
    }

    /// Closes the open business day of one merchant or of all, returning what closed.
    pub fn end_of_day(&self, merchant_no: Option<&str>) -> Vec<(String, NaiveDate)> {
        control::close_day(&self.sim, merchant_no)
    }

    /// A copy of a merchant's ledger rows (masked cards only); `None` when unknown.
    pub fn transactions(&self, merchant_no: &str) -> Option<Vec<Transaction>> {
        control::merchant_transactions(&self.sim, merchant_no)
    }

    /// The masks of the cards a merchant's vault keeps for `customer_key`, in the order
    /// kept; `None` for an unknown merchant.
    pub fn vault_cards(&self, merchant_no: &str, customer_key: &str) -> Option<Vec<String>> {
        let state = self.sim.lock();
        let merchant = state.merchants.get(merchant_no)?;
        Some(
            merchant
                .vault
                .cards(customer_key)
                .iter()
                .map(|c| c.masked().as_str().to_owned())
                .collect(),
        )
    }

    /// The statement CSV of one business day (encode it with
    /// [`crate::encode_statement`]); `None` for an unknown merchant.
    pub fn statement(&self, merchant_no: &str, day: NaiveDate) -> Option<String> {
        control::day_statement(&self.sim, merchant_no, day)
    }

    /// Stops accepting, lets requests in flight finish (up to a few seconds) and returns
    /// when the server is gone.
    pub async fn shutdown(self) {
        self.serving.shutdown().await;
    }
}

/// The part of a running simulator that every protocol's handle has: the address it
/// listens on and the accept loop's task with its stop switch. Dropping it stops the
/// server; [`Serving::shutdown`] also waits for the requests in flight.
pub(crate) struct Serving {
    addr: SocketAddr,
    stop: watch::Sender<bool>,
    task: Option<JoinHandle<()>>,
}

impl Serving {
    /// Runs [`accept_loop`] for `router` on `listener` as a task of the current tokio
    /// runtime. Fails when the listener has no local address.
    pub(crate) fn start(listener: TcpListener, router: Router) -> io::Result<Serving> {
        let addr = listener.local_addr()?;
        let (stop, stopped) = watch::channel(false);
        let task = tokio::spawn(accept_loop(listener, router, stopped));
        Ok(Serving {
            addr,
            stop,
            task: Some(task),
        })
    }

    /// The address the server listens on.
    pub(crate) fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://IP:PORT`, where a wildcard bind is reached through loopback.
    pub(crate) fn base_url(&self) -> String {
        let ip = match self.addr.ip() {
            IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
            IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
            ip => ip,
        };
        format!("http://{}", SocketAddr::new(ip, self.addr.port()))
    }

    /// Stops accepting, lets requests in flight finish (up to [`DRAIN_TIMEOUT`]) and
    /// returns when the accept loop is gone.
    pub(crate) async fn shutdown(mut self) {
        let _ = self.stop.send(true);
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for Serving {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
    }
}

/// Serves `router` on `listener` until `stop` turns true (or its sender is gone), then
/// drains the connections in flight. Shared by every protocol's simulator.
async fn accept_loop(listener: TcpListener, router: Router, mut stop: watch::Receiver<bool>) {
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    connections.spawn(serve_connection(stream, peer, router.clone(), stop.clone()));
                }
                Err(e) => {
                    // Out of file descriptors and the like: back off instead of spinning.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            },
            // Also ends the loop when the handle is gone (the sender dropped).
            () = stopped(&mut stop) => break,
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
    drop(listener);
    let drain = async { while connections.join_next().await.is_some() {} };
    if tokio::time::timeout(DRAIN_TIMEOUT, drain).await.is_err() {
        connections.abort_all();
    }
    tracing::info!("simulator stopped");
}

async fn serve_connection(
    stream: TcpStream,
    peer: SocketAddr,
    router: Router,
    mut stop: watch::Receiver<bool>,
) {
    let _ = stream.set_nodelay(true);
    let service = service_fn(move |mut request: Request<Incoming>| {
        let router = router.clone();
        async move {
            request.extensions_mut().insert(ConnectInfo(peer));
            let response = match router.oneshot(request).await {
                Ok(response) => response,
                Err(never) => match never {},
            };
            if response.extensions().get::<DropConnection>().is_some() {
                return Err(DroppedOnPurpose);
            }
            Ok::<_, DroppedOnPurpose>(response)
        }
    });
    let connection = http1::Builder::new()
        .timer(TokioTimer::new())
        .serve_connection(TokioIo::new(stream), service);
    tokio::pin!(connection);
    tokio::select! {
        _ = connection.as_mut() => {}
        // Also sees a stop sent before this connection was accepted.
        () = stopped(&mut stop) => {
            connection.as_mut().graceful_shutdown();
            let _ = connection.await;
        }
    }
}

/// Resolves once a stop has been requested (now or earlier) or the handle is gone.
async fn stopped(stop: &mut watch::Receiver<bool>) {
    // The guard `wait_for` returns is dropped here, before any caller awaits again.
    let _ = stop.wait_for(|stopping| *stopping).await;
}
