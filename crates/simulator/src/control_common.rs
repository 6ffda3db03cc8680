//! The protocol-neutral half of the test-mode `/_sim/` control endpoints.
//!
//! Both simulators serve the same control paths with the same error shape
//! (`{"error": text}`), the same panel-sale inputs (amount, card, Istanbul time), the same
//! end-of-day answer and the same statement download; what a merchant, a ledger row or a
//! sale is stays with each protocol (`crate::control`, `crate::nestpay::control`). The
//! texts here are part of the control API that tests read, so they live in one place.

use std::collections::HashMap;

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, FixedOffset, NaiveDate};
use sanalpos_core::{CardNumber, Kurus};
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::{json, Map, Value};

use crate::clock;
use crate::merchant_file::MerchantDefinition;
use crate::statement::{encode_statement, StatementEncoding};
use crate::wire;

/// A control error: `{"error": text}` with `status`.
fn error(status: StatusCode, text: &str) -> Response {
    wire::json_with_status(status, &json!({ "error": text }))
}

/// The 404 of a path or query that names no known merchant.
fn unknown_merchant() -> Response {
    error(StatusCode::NOT_FOUND, "unknown merchant")
}

/// Why a control request is refused; it answers `{"error": text}` with its status.
#[derive(Debug)]
pub(crate) struct Refusal {
    status: StatusCode,
    text: String,
}

impl Refusal {
    /// A 400 saying what is wrong with the request (never a secret or a card number).
    pub(crate) fn bad_request(text: impl Into<String>) -> Refusal {
        Refusal {
            status: StatusCode::BAD_REQUEST,
            text: text.into(),
        }
    }

    /// The 404 of a path that names no known merchant.
    pub(crate) fn unknown_merchant() -> Refusal {
        Refusal {
            status: StatusCode::NOT_FOUND,
            text: "unknown merchant".into(),
        }
    }
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        error(self.status, &self.text)
    }
}

/// `YYYY-MM-DD`, how control answers write a business day.
pub(crate) fn iso_day(day: NaiveDate) -> String {
    day.format("%Y-%m-%d").to_string()
}

/// The merchant a `POST /_sim/merchants` body defines, checked; a 400 naming the
/// problem (never a secret) otherwise.
pub(crate) fn new_merchant<M: MerchantDefinition>(body: &[u8]) -> Result<M, Refusal> {
    let merchant: M = serde_json::from_slice(body)
        .map_err(|e| Refusal::bad_request(format!("invalid merchant: {e}")))?;
    merchant
        .validate()
        .map_err(|e| Refusal::bad_request(e.to_string()))?;
    Ok(merchant)
}

/// The changes a `PUT /_sim/merchants/{id}/settings` body asks for.
pub(crate) fn settings_changes(body: &[u8]) -> Result<Map<String, Value>, Refusal> {
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(changes)) => Ok(changes),
        _ => Err(Refusal::bad_request("body must be a JSON object")),
    }
}

/// Applies each change through `apply`, which says whether it knew the key and took the
/// value; the first it refuses is a 400 naming the key.
pub(crate) fn apply_settings(
    changes: Map<String, Value>,
    mut apply: impl FnMut(&str, Value) -> bool,
) -> Result<(), Refusal> {
    for (key, value) in changes {
        if !apply(&key, value) {
            return Err(Refusal::bad_request(format!("invalid setting: {key}")));
        }
    }
    Ok(())
}

/// The answer of `POST /_sim/end-of-day`: `{"closed": [...]}` with one `entry(key, day)`
/// per closed merchant, or a 404 when the one merchant asked for (`only`) is unknown.
pub(crate) fn end_of_day_answer(
    only: Option<&str>,
    closed: Vec<(String, NaiveDate)>,
    entry: impl Fn(&str, String) -> Value,
) -> Response {
    if only.is_some() && closed.is_empty() {
        return unknown_merchant();
    }
    let closed: Vec<Value> = closed
        .into_iter()
        .map(|(key, day)| entry(&key, iso_day(day)))
        .collect();
    wire::json_answer(&json!({ "closed": closed }))
}

/// A `POST .../panel-sales` body of the protocol's shape `T`.
pub(crate) fn panel_sale_request<T: DeserializeOwned>(body: &[u8]) -> Result<T, Refusal> {
    serde_json::from_slice(body).map_err(|_| {
        Refusal::bad_request("body must be {amount, card, installments?, client_ref?, at?}")
    })
}

/// What every panel sale is keyed in with, parsed: a positive amount, a valid card
/// number, and when it happened (`at`, Istanbul local `YYYY-MM-DDTHH:MM:SS`, never
/// after `now`; `now` when absent).
pub(crate) fn panel_sale_basics(
    amount: &str,
    card: &str,
    at: Option<&str>,
    now: DateTime<FixedOffset>,
) -> Result<(Kurus, CardNumber, DateTime<FixedOffset>), Refusal> {
    let amount = match Kurus::parse(amount) {
        Ok(a) if a > Kurus::ZERO => a,
        _ => return Err(Refusal::bad_request("amount is not a positive amount")),
    };
    let Ok(card) = CardNumber::parse(card) else {
        return Err(Refusal::bad_request("card is not a valid card number"));
    };
    let at = match at {
        None => now,
        Some(text) => match chrono::NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S")
            .ok()
            .and_then(|local| local.and_local_timezone(clock::istanbul()).single())
        {
            Some(at) if at <= now => at,
            Some(_) => return Err(Refusal::bad_request("at is in the future")),
            None => {
                return Err(Refusal::bad_request(
                    "at is not an Istanbul time YYYY-MM-DDTHH:MM:SS",
                ))
            }
        },
    };
    Ok((amount, card, at))
}

/// The answer of `GET .../transactions`: the rows as JSON, or a 404 for an unknown
/// merchant (`None`).
pub(crate) fn rows_answer<T: Serialize>(rows: Option<Vec<T>>) -> Response {
    match rows {
        Some(rows) => match serde_json::to_value(rows) {
            Ok(value) => wire::json_answer(&value),
            Err(_) => error(StatusCode::INTERNAL_SERVER_ERROR, "serialization failed"),
        },
        None => unknown_merchant(),
    }
}

/// The answer of `GET /_sim/merchants/{key}/statement?date=…&encoding=…`: the CSV
/// `statement` gives for the day, encoded as asked (UTF-8 by default) and served as an
/// `ekstre-{key}-{YYYYMMDD}.csv` attachment, or a 400/404.
pub(crate) fn statement_answer(
    key: &str,
    query: &HashMap<String, String>,
    statement: impl FnOnce(NaiveDate) -> Option<String>,
) -> Response {
    let Some(day) = query
        .get("date")
        .and_then(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").ok())
    else {
        return error(StatusCode::BAD_REQUEST, "date must be YYYY-MM-DD");
    };
    let encoding = match query.get("encoding") {
        None => StatementEncoding::Utf8,
        Some(e) => match StatementEncoding::parse(e) {
            Some(e) => e,
            None => {
                return error(
                    StatusCode::BAD_REQUEST,
                    "encoding must be utf-8 or windows-1254",
                )
            }
        },
    };
    let Some(csv) = statement(day) else {
        return unknown_merchant();
    };
    let mut response = (StatusCode::OK, encode_statement(&csv, encoding)).into_response();
    let content_type = format!("text/csv; charset={}", encoding.charset());
    if let Ok(value) = HeaderValue::from_str(&content_type) {
        response.headers_mut().insert(header::CONTENT_TYPE, value);
    }
    let disposition = format!(
        "attachment; filename=\"ekstre-{key}-{}.csv\"",
        day.format("%Y%m%d")
    );
    if let Ok(value) = HeaderValue::from_str(&disposition) {
        response
            .headers_mut()
            .insert(header::CONTENT_DISPOSITION, value);
    }
    response
}
