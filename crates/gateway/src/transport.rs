//! HTTP for every protocol: how an exchange ended, before anyone reads the answer, and
//! what each ending means for a call that may move money.
//!
//! A request that provably never left (connection refused, DNS, TLS handshake, a bad
//! URL) charged nothing. Once sent, a timeout, a dropped connection or a 5xx leaves the
//! charge unknown; a 4xx is a refusal before any processing. The protocols read the 2xx
//! bodies; this module never does.

use std::time::{Duration, Instant};

use tracing::{debug, warn};

use crate::types::{Failure, FailureKind, GatewayResponse, Outcome, UnknownReason};
use crate::GatewayError;

/// How an HTTP exchange ended.
pub(crate) enum Exchange {
    /// A 2xx answer with its body.
    Answered { status: u16, body: Vec<u8> },
    /// The request provably never left.
    NotSent(String),
    /// Sent, then no answer in time.
    Timeout,
    /// Sent, then the connection broke.
    Lost,
    /// A non-2xx status.
    Status { status: u16, body: Vec<u8> },
}

/// A client with a POS's timeouts. Fails only when the TLS stack cannot be set up.
pub(crate) fn client(
    connect: Duration,
    request: Duration,
) -> Result<reqwest::Client, GatewayError> {
    reqwest::Client::builder()
        .connect_timeout(connect)
        .timeout(request)
        .build()
        .map_err(|e| GatewayError::Unreachable(format!("cannot build HTTP client: {e}")))
}

/// Sends a request and says how the exchange ended.
pub(crate) async fn send(request: reqwest::RequestBuilder) -> Exchange {
    let response = match request.send().await {
        Ok(response) => response,
        Err(e) if e.is_connect() || e.is_builder() => return Exchange::NotSent(describe(&e)),
        Err(e) if e.is_timeout() => return Exchange::Timeout,
        Err(_) => return Exchange::Lost,
    };
    let status = response.status().as_u16();
    let body = match response.bytes().await {
        Ok(body) => body.to_vec(),
        Err(e) if e.is_timeout() => return Exchange::Timeout,
        Err(_) => return Exchange::Lost,
    };
    if (200..300).contains(&status) {
        Exchange::Answered { status, body }
    } else {
        Exchange::Status { status, body }
    }
}

/// The outcome of an exchange that may have moved money: `interpret` reads a 2xx body,
/// `raw` turns any body into the attempt log's text (card numbers masked).
pub(crate) fn money_response(
    provider: &'static str,
    operation: &'static str,
    exchange: Exchange,
    started: Instant,
    raw: impl Fn(&[u8]) -> String,
    interpret: impl FnOnce(&[u8]) -> Outcome,
) -> GatewayResponse {
    let (outcome, raw, http_status) = match exchange {
        Exchange::Answered { status, body } => (interpret(&body), Some(raw(&body)), Some(status)),
        Exchange::NotSent(detail) => (
            Outcome::Failed(Failure {
                kind: FailureKind::Unreachable,
                detail,
            }),
            None,
            None,
        ),
        Exchange::Timeout => (Outcome::Unknown(UnknownReason::Timeout), None, None),
        Exchange::Lost => (Outcome::Unknown(UnknownReason::ConnectionLost), None, None),
        Exchange::Status { status, body } if status >= 500 => (
            Outcome::Unknown(UnknownReason::ServerError(status)),
            Some(raw(&body)),
            Some(status),
        ),
        Exchange::Status { status, body } => (
            Outcome::Failed(Failure {
                kind: FailureKind::Rejected,
                detail: format!("provider answered HTTP {status}"),
            }),
            Some(raw(&body)),
            Some(status),
        ),
    };
    let latency = started.elapsed();
    match &outcome {
        Outcome::Unknown(reason) => warn!(
            provider,
            operation,
            latency_ms = latency.as_millis() as u64,
            reason = %reason,
            "provider outcome unknown"
        ),
        other => debug!(
            provider,
            operation,
            latency_ms = latency.as_millis() as u64,
            outcome = other.kind(),
            "provider call finished"
        ),
    }
    GatewayResponse {
        outcome,
        raw,
        http_status,
        latency,
    }
}

/// The body of a read-only call's 2xx answer, or why there is none.
pub(crate) fn answered_body(exchange: Exchange) -> Result<Vec<u8>, GatewayError> {
    match exchange {
        Exchange::Answered { body, .. } => Ok(body),
        Exchange::NotSent(detail) => Err(GatewayError::Unreachable(detail)),
        Exchange::Timeout => Err(GatewayError::Timeout),
        Exchange::Lost => Err(GatewayError::BadAnswer("connection lost".into())),
        Exchange::Status { status, .. } => Err(GatewayError::BadAnswer(format!("HTTP {status}"))),
    }
}

/// A transport error in words, without the URL's path or any payload.
fn describe(error: &reqwest::Error) -> String {
    let kind = if error.is_builder() {
        "invalid provider URL"
    } else {
        "could not connect"
    };
    match error.url().and_then(|u| u.host_str()) {
        Some(host) => format!("{kind} to {host}"),
        None => kind.to_owned(),
    }
}
