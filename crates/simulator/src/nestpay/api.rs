//! `POST /fim/api`: finding and decoding the `CC5Request`, authenticating the caller
//! and dispatching to the operation. Every refusal is a `CC5Response` in the bank's
//! shape; none echoes a card number.
//!
//! Checks run in this order: document → `Name`/`ClientId` present → credentials
//! (`CORE-2201`) → caller IP (`CORE-2254`) → the operation's own fields → business
//! rules.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{ConnectInfo, State};
use axum::http::{header, HeaderMap};
use axum::response::Response;
use chrono::{DateTime, FixedOffset};
use rand::Rng;
use sanalpos_core::{Currency, Kurus};
use subtle::ConstantTimeEq;

use super::answer::{core_error, xml_answer};
use super::codes::{self, CoreError};
use super::ledger::{Nestpay, TxType};
use super::xml::{self, Request};
use super::{after_sale, query, sale, NestpayMerchant};
use crate::clock;

/// `POST /fim/api`.
pub async fn api(
    State(sim): State<Arc<Nestpay>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let now = clock::now();
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok());
    let parsed = xml::extract_document(content_type, &body)
        .and_then(|doc| xml::parse_request(&xml::decode_document(&doc)));
    let request = match parsed {
        Ok(request) => request,
        Err(_) => return refusal(&sim, codes::BAD_XML, "", &now),
    };
    let order_echo = request.get_or_empty("OrderId").to_owned();
    let merchant = match authenticate(&sim, &request, peer) {
        Ok(merchant) => merchant,
        Err(err) => return refusal(&sim, err, &order_echo, &now),
    };
    let is_query = |name: &str| {
        request
            .get(name)
            .is_some_and(|v| v.trim().eq_ignore_ascii_case("QUERY"))
    };
    if is_query("Extra/ORDERSTATUS") {
        return query::order_status(&sim, &merchant, &request, &now);
    }
    if is_query("Extra/ORDERHISTORY") {
        return query::order_history(&sim, &merchant, &request, &now);
    }
    let Some(kind) = request.non_empty("Type") else {
        return refusal(&sim, codes::NO_TYPE, &order_echo, &now);
    };
    match TxType::parse(kind) {
        Some(kind @ (TxType::Auth | TxType::PreAuth)) => {
            sale::sale(&sim, &merchant, kind, request, now).await
        }
        Some(TxType::PostAuth) => after_sale::post_auth(&sim, &merchant, &request, &now),
        Some(TxType::Void) => after_sale::void(&sim, &merchant, &request, &now),
        Some(TxType::Credit) => after_sale::credit(&sim, &merchant, &request, &now),
        None => refusal(&sim, codes::BAD_TYPE, &order_echo, &now),
    }
}

/// A core refusal with a fresh `TransId`; nothing is recorded.
pub fn refusal(
    sim: &Nestpay,
    err: CoreError,
    order_id: &str,
    now: &DateTime<FixedOffset>,
) -> Response {
    let trans_id = sim.lock().new_trans_id(now);
    xml_answer(&core_error(err, order_id, &trans_id, now))
}

/// Finds the merchant by `ClientId` and checks `Name`, `Password` and the caller IP.
fn authenticate(
    sim: &Nestpay,
    request: &Request,
    peer: SocketAddr,
) -> Result<Arc<NestpayMerchant>, CoreError> {
    let name = request.non_empty("Name").ok_or(codes::NO_USER)?;
    let client_id = request.non_empty("ClientId").ok_or(codes::NO_CLIENT)?;
    let password = request.get_or_empty("Password");
    let merchant = sim
        .lock()
        .merchant(client_id)
        .ok_or(codes::NOT_AUTHENTICATED)?;
    let user_ok = merchant.api_user == name;
    let password_ok = bool::from(merchant.api_password.as_bytes().ct_eq(password.as_bytes()));
    if !(user_ok && password_ok) {
        return Err(codes::NOT_AUTHENTICATED);
    }
    if let Some(allowed) = &merchant.allowed_ips {
        let ip = peer.ip().to_canonical();
        if !allowed.iter().any(|a| a.to_canonical() == ip) {
            return Err(codes::IP_NOT_ALLOWED);
        }
    }
    Ok(merchant)
}

/// Parses a `Total` (or `PREAMT`): digits with at most two decimals (`100`, `100.5`,
/// `100.25`); three decimals, a comma or a sign are refused.
pub fn parse_total(text: &str) -> Option<Kurus> {
    let text = text.trim();
    let (whole, fraction) = match text.split_once('.') {
        Some((w, f)) => (w, Some(f)),
        None => (text, None),
    };
    let digits = |t: &str| !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit());
    let ok = digits(whole) && fraction.is_none_or(|f| digits(f) && f.len() <= 2);
    if !ok {
        return None;
    }
    Kurus::parse(text).ok()
}

/// The request's `Total` when present: `Ok(None)` when absent or empty.
pub fn optional_total(request: &Request) -> Result<Option<Kurus>, CoreError> {
    match request.non_empty("Total") {
        None => Ok(None),
        Some(text) => parse_total(text).map(Some).ok_or(codes::BAD_AMOUNT),
    }
}

/// Parses `Currency` (949, 840, 978).
pub fn parse_currency(text: Option<&str>) -> Result<Currency, CoreError> {
    let text = text.map(str::trim).unwrap_or("");
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(codes::BAD_CURRENCY);
    }
    Currency::from_numeric(text).ok_or(codes::UNKNOWN_CURRENCY)
}

/// Parses `Taksit`: empty, `0` or `1` is a single payment; otherwise a count.
pub fn parse_installments(text: Option<&str>) -> Result<u8, CoreError> {
    let text = text.map(str::trim).unwrap_or("");
    if text.is_empty() {
        return Ok(1);
    }
    if text.len() > 3 || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(codes::BAD_INSTALLMENT);
    }
    let count: u16 = text.parse().map_err(|_| codes::BAD_INSTALLMENT)?;
    Ok(u8::try_from(count.max(1)).unwrap_or(u8::MAX))
}

/// Whether the merchant has a plan for `count` installments (1 always).
pub fn installments_allowed(merchant: &NestpayMerchant, count: u8) -> bool {
    count == 1 || merchant.installments.contains(&count)
}

/// An order id in the bank's own style (`20221029B541`) for requests without one.
pub fn generated_order_id(now: &DateTime<FixedOffset>) -> String {
    format!(
        "{}{:04X}",
        now.format("%Y%m%d"),
        rand::rng().random_range(0..0x1_0000u32)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn totals_and_installments() {
        assert_eq!(parse_total("100.25").unwrap().minor(), 10_025);
        assert_eq!(parse_total("100").unwrap().minor(), 10_000);
        assert_eq!(parse_total("1.5").unwrap().minor(), 150);
        for bad in ["1.005", "1,00", "-1", "", ".5", "1.", "1e2"] {
            assert!(parse_total(bad).is_none(), "{bad}");
        }
        assert_eq!(parse_installments(Some("")), Ok(1));
        assert_eq!(parse_installments(Some("0")), Ok(1));
        assert_eq!(parse_installments(Some("12")), Ok(12));
        assert!(parse_installments(Some("x")).is_err());
        assert_eq!(parse_currency(Some("949")), Ok(Currency::Try));
        assert_eq!(parse_currency(Some("826")), Err(codes::UNKNOWN_CURRENCY));
        assert_eq!(parse_currency(None), Err(codes::BAD_CURRENCY));
    }
}
