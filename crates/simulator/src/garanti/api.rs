//! `POST /VPServlet`: reading the `GVPSRequest`, authenticating it and dispatching on
//! `Transaction/Type`. Every refusal is a `GVPSResponse` in the bank's shape; none
//! echoes a card number.
//!
//! Checks run in this order: document, `Type` and `Mode` (`TEST` or `PROD`) → terminal
//! and merchant number → the user the
//! type needs (PROVRFN for `void`/`refund`, PROVAUT otherwise) → `HashData`, judged by
//! the request's `Version` (`512`: SHA-512 with the currency; anything else: legacy
//! SHA-1) with that user's password → caller IP → the type's own fields → business
//! rules.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{ConnectInfo, State};
use axum::response::Response;
use chrono::{DateTime, FixedOffset};
use rand::Rng;
use sanalpos_core::{Currency, Kurus};

use super::answer::{gvps_error, Echo};
use super::codes::{self, GvpsError};
use super::config::GarantiMerchant;
use super::hash;
use super::ledger::{Garanti, TxType};
use super::xml::{self, Request};
use super::{after_sale, query, sale};
use crate::clock;

/// The operations of `Transaction/Type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A ledger operation.
    Money(TxType),
    /// `orderinq`.
    OrderInq,
    /// `orderhistoryinq`.
    OrderHistory,
    /// `orderlistinq`.
    OrderList,
}

fn kind_of(text: &str) -> Option<Kind> {
    Some(match text {
        "sales" => Kind::Money(TxType::Sales),
        "preauth" => Kind::Money(TxType::PreAuth),
        "postauth" => Kind::Money(TxType::PostAuth),
        "void" => Kind::Money(TxType::Void),
        "refund" => Kind::Money(TxType::Refund),
        "orderinq" => Kind::OrderInq,
        "orderhistoryinq" => Kind::OrderHistory,
        "orderlistinq" => Kind::OrderList,
        _ => return None,
    })
}

/// An authenticated request, ready for its operation.
pub struct Call {
    /// The request.
    pub request: Request,
    /// The merchant it signed as.
    pub merchant: Arc<GarantiMerchant>,
    /// The echo of every answer.
    pub echo: Echo,
    /// When it arrived.
    pub now: DateTime<FixedOffset>,
}

impl Call {
    /// A `GVPS` refusal of this call.
    pub fn refuse(&self, sim: &Garanti, error: GvpsError) -> Response {
        let batch = sim.lock().batch(&self.merchant.terminal_id);
        gvps_error(&self.echo, error, batch, &self.now)
    }
}

/// `POST /VPServlet`.
pub async fn api(
    State(sim): State<Arc<Garanti>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    body: Bytes,
) -> Response {
    let now = clock::now();
    let Ok(request) = xml::parse_request(&body) else {
        return gvps_error(&Echo::default(), codes::MANDATORY, 1, &now);
    };
    let echo = Echo {
        mode: request.get_or_empty("Mode").to_owned(),
        user: request.get_or_empty("Terminal/ProvUserID").to_owned(),
        terminal_id: request.get_or_empty("Terminal/ID").to_owned(),
        merchant_id: request.get_or_empty("Terminal/MerchantID").to_owned(),
        ip: request.get_or_empty("Customer/IPAddress").to_owned(),
        order_id: request.get_or_empty("Order/OrderID").to_owned(),
    };
    let Some(kind) = request.non_empty("Transaction/Type").and_then(kind_of) else {
        return gvps_error(&echo, codes::MANDATORY, 1, &now);
    };
    if !matches!(echo.mode.trim(), "TEST" | "PROD") {
        return gvps_error(&echo, codes::MANDATORY, 1, &now);
    }
    let merchant = match authenticate(&sim, &request, kind, peer) {
        Ok(merchant) => merchant,
        Err(error) => return gvps_error(&echo, error, 1, &now),
    };
    let call = Call {
        request,
        merchant,
        echo,
        now,
    };
    match kind {
        Kind::Money(kind @ (TxType::Sales | TxType::PreAuth)) => sale::sale(&sim, call, kind).await,
        Kind::Money(TxType::PostAuth) => after_sale::post_auth(&sim, &call),
        Kind::Money(TxType::Void) => after_sale::void(&sim, &call),
        Kind::Money(TxType::Refund) => after_sale::refund(&sim, &call),
        Kind::OrderInq => query::order_inquiry(&sim, &call),
        Kind::OrderHistory => query::order_history(&sim, &call),
        Kind::OrderList => query::order_list(&sim, &call),
    }
}

/// Finds the merchant by terminal and checks its number, the user, `HashData` and the
/// caller IP.
fn authenticate(
    sim: &Garanti,
    request: &Request,
    kind: Kind,
    peer: SocketAddr,
) -> Result<Arc<GarantiMerchant>, GvpsError> {
    let terminal_id = request.non_empty("Terminal/ID").ok_or(codes::MANDATORY)?;
    let merchant = sim.lock().merchant(terminal_id).ok_or(codes::SECURITY)?;
    if request.get_or_empty("Terminal/MerchantID").trim() != merchant.merchant_id {
        return Err(codes::SECURITY);
    }
    let refund_user = matches!(kind, Kind::Money(TxType::Void | TxType::Refund));
    let (user, password) = if refund_user {
        (&merchant.refund_user, &merchant.refund_password)
    } else {
        (&merchant.prov_user, &merchant.prov_password)
    };
    if request.get_or_empty("Terminal/ProvUserID").trim() != user {
        return Err(codes::SECURITY);
    }
    let security = hash::security_data(password, &merchant.terminal_id);
    let expected = hash::request_hash(
        hash::is_512(request.get_or_empty("Version")),
        [
            request.get_or_empty("Order/OrderID"),
            request.get_or_empty("Terminal/ID"),
            request.get_or_empty("Card/Number"),
            request.get_or_empty("Transaction/Amount"),
            request.get_or_empty("Transaction/CurrencyCode"),
        ],
        &security,
    );
    if !hash::same(&expected, request.get_or_empty("Terminal/HashData")) {
        return Err(codes::SECURITY);
    }
    if let Some(allowed) = &merchant.allowed_ips {
        let ip = peer.ip().to_canonical();
        if !allowed.iter().any(|a| a.to_canonical() == ip) {
            return Err(codes::IP_NOT_ALLOWED);
        }
    }
    Ok(merchant)
}

/// `Amount`: integer kuruş, digits only, not zero.
pub fn parse_amount(text: Option<&str>) -> Result<Kurus, GvpsError> {
    let text = text.map(str::trim).unwrap_or_default();
    if text.is_empty() || text.len() > 15 || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(codes::MANDATORY);
    }
    let minor: i64 = text.parse().map_err(|_| codes::MANDATORY)?;
    match Kurus::from_minor(minor) {
        Some(amount) if amount > Kurus::ZERO => Ok(amount),
        _ => Err(codes::MANDATORY),
    }
}

/// `CurrencyCode` (949, 840, 978).
pub fn parse_currency(text: Option<&str>) -> Result<Currency, GvpsError> {
    text.and_then(Currency::from_numeric)
        .ok_or(codes::MANDATORY)
}

/// `InstallmentCnt`: empty, 0 or 1 is a single payment; else a count.
pub fn parse_installments(text: Option<&str>) -> Result<u8, GvpsError> {
    let text = text.map(str::trim).unwrap_or_default();
    if text.is_empty() {
        return Ok(1);
    }
    if text.len() > 2 || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(codes::MANDATORY);
    }
    text.parse::<u8>()
        .map(|n| n.max(1))
        .map_err(|_| codes::MANDATORY)
}

/// An order id in the bank's style (`20221101D723`) for a request without one.
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
    fn fields() {
        assert_eq!(parse_amount(Some("10025")).unwrap().minor(), 10_025);
        for bad in ["0", "", "1.00", "-5", "1e3"] {
            assert!(parse_amount(Some(bad)).is_err(), "{bad}");
        }
        assert_eq!(parse_installments(Some("")), Ok(1));
        assert_eq!(parse_installments(Some("0")), Ok(1));
        assert_eq!(parse_installments(Some("6")), Ok(6));
        assert!(parse_installments(Some("x")).is_err());
        assert_eq!(parse_currency(Some("949")), Ok(Currency::Try));
        assert!(parse_currency(Some("TL")).is_err());
        assert_eq!(kind_of("orderlistinq"), Some(Kind::OrderList));
        assert_eq!(kind_of("Sales"), None);
    }
}
