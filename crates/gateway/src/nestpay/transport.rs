//! HTTP: posting a `CC5Request`, and what a broken exchange means.
//!
//! A request that provably never left (connection refused, DNS, TLS handshake, a bad
//! URL) charged nothing. Once sent, a timeout, a dropped connection or a 5xx leaves the
//! charge unknown; a 4xx is a refusal before any processing.

use std::time::{Duration, Instant};

use tracing::{debug, warn};

use super::answer::{self, Sent};
use super::xml::{Cc5Request, Cc5Response};
use crate::scrub::scrub_card_numbers;
use crate::types::{Failure, FailureKind, GatewayResponse, Outcome, UnknownReason};
use crate::GatewayError;

/// The content type of a request body.
pub const CONTENT_TYPE: &str = "text/xml; charset=ISO-8859-9";

/// How an HTTP exchange ended, before looking at the answer.
pub(super) enum Exchange {
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

/// Posts the document as the raw body.
pub(super) async fn post(http: &reqwest::Client, url: &str, request: &Cc5Request) -> Exchange {
    let sent = http
        .post(url)
        .header(reqwest::header::CONTENT_TYPE, CONTENT_TYPE)
        .body(request.to_bytes())
        .send()
        .await;
    let response = match sent {
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

/// The answer's text for the attempt log: decoded, card numbers masked.
fn raw_text(body: &[u8]) -> String {
    scrub_card_numbers(&super::xml::decode(body))
}

/// The outcome of an exchange that may have moved money.
pub(super) fn money_outcome(
    operation: &'static str,
    exchange: Exchange,
    sent: Sent,
    started: Instant,
) -> GatewayResponse {
    let (outcome, raw, http_status) = match exchange {
        Exchange::Answered { status, body } => {
            let outcome = match Cc5Response::parse(&body) {
                Ok(answer) => answer::outcome(&answer, sent),
                Err(_) => Outcome::Unknown(UnknownReason::Unparseable),
            };
            (outcome, Some(raw_text(&body)), Some(status))
        }
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
            Some(raw_text(&body)),
            Some(status),
        ),
        Exchange::Status { status, body } => (
            Outcome::Failed(Failure {
                kind: FailureKind::Rejected,
                detail: format!("bank answered HTTP {status}"),
            }),
            Some(raw_text(&body)),
            Some(status),
        ),
    };
    match &outcome {
        Outcome::Unknown(reason) => warn!(
            provider = "nestpay",
            operation,
            reason = %reason,
            "provider outcome unknown"
        ),
        other => debug!(
            provider = "nestpay",
            operation,
            outcome = other.kind(),
            "provider call finished"
        ),
    }
    GatewayResponse {
        outcome,
        raw,
        http_status,
        latency: started.elapsed(),
    }
}

/// The answer of a read-only call, or why there is none.
pub(super) fn read_answer(exchange: Exchange) -> Result<Cc5Response, GatewayError> {
    match exchange {
        Exchange::Answered { body, .. } => Cc5Response::parse(&body)
            .map_err(|_| GatewayError::BadAnswer("unparseable answer".into())),
        Exchange::NotSent(detail) => Err(GatewayError::Unreachable(detail)),
        Exchange::Timeout => Err(GatewayError::Timeout),
        Exchange::Lost => Err(GatewayError::BadAnswer("connection lost".into())),
        Exchange::Status { status, .. } => Err(GatewayError::BadAnswer(format!("HTTP {status}"))),
    }
}

/// A transport error in words, without the URL's path or any payload.
fn describe(error: &reqwest::Error) -> String {
    let kind = if error.is_builder() {
        "invalid bank URL"
    } else {
        "could not connect"
    };
    match error.url().and_then(|u| u.host_str()) {
        Some(host) => format!("{kind} to {host}"),
        None => kind.to_owned(),
    }
}

/// A client with the POS's timeouts.
pub(super) fn client(
    connect: Duration,
    request: Duration,
) -> Result<reqwest::Client, GatewayError> {
    reqwest::Client::builder()
        .connect_timeout(connect)
        .timeout(request)
        .build()
        .map_err(|e| GatewayError::Unreachable(format!("cannot build HTTP client: {e}")))
}
