//! HTTP for NestPay: posting a `CC5Request` and reading its answer; what a broken
//! exchange means is the shared [`crate::transport`]'s.

use std::time::Instant;

use super::answer::{self, Sent};
use super::xml::{Cc5Request, Cc5Response};
use crate::scrub::scrub_card_numbers;
use crate::transport;
pub(super) use crate::transport::{client, Exchange};
use crate::types::{GatewayResponse, Outcome, UnknownReason};
use crate::GatewayError;

/// The content type of a request body.
pub const CONTENT_TYPE: &str = "text/xml; charset=ISO-8859-9";

/// Posts the document as the raw body.
pub(super) async fn post(http: &reqwest::Client, url: &str, request: &Cc5Request) -> Exchange {
    transport::send(
        http.post(url)
            .header(reqwest::header::CONTENT_TYPE, CONTENT_TYPE)
            .body(request.to_bytes()),
    )
    .await
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
    transport::money_response("nestpay", operation, exchange, started, raw_text, |body| {
        match Cc5Response::parse(body) {
            Ok(answer) => answer::outcome(&answer, sent),
            Err(_) => Outcome::Unknown(UnknownReason::Unparseable),
        }
    })
}

/// The answer of a read-only call, or why there is none.
pub(super) fn read_answer(exchange: Exchange) -> Result<Cc5Response, GatewayError> {
    let body = transport::answered_body(exchange)?;
    Cc5Response::parse(&body).map_err(|_| GatewayError::BadAnswer("unparseable answer".into()))
}
