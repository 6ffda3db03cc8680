//! `sales` and `preauth`: with the card in the request (`CardholderPresentCode` 0), or
//! with the `Secure3D` values of a finished 3D authentication (the `3D` model's
//! provision, `CardholderPresentCode` 13), plus the fault cards' transport misbehaviour.

use std::sync::Arc;

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Datelike, FixedOffset};
use sanalpos_core::{Currency, Kurus};

use super::answer::{self, xml_answer, Echo};
use super::api::{self, Call};
use super::codes::{self, GvpsError};
use super::ledger::{CardFacts, Garanti, GarantiTransaction, State, TxType};
use crate::cards::{Fault, Outcome};
use crate::wire;

/// What a charge is about.
#[derive(Debug, Clone)]
pub struct Order {
    /// `OrderID`.
    pub order_id: String,
    /// `Amount`.
    pub amount: Kurus,
    /// `CurrencyCode`.
    pub currency: Currency,
    /// Installment count.
    pub installments: u8,
}

fn parse_order(call: &Call) -> Result<Order, GvpsError> {
    let r = &call.request;
    let order_id = match r.non_empty("Order/OrderID") {
        Some(id) if id.chars().count() > 36 => return Err(codes::MANDATORY),
        Some(id) => id.to_owned(),
        None => api::generated_order_id(&call.now),
    };
    let installments = api::parse_installments(r.get("Transaction/InstallmentCnt"))?;
    if installments > 1 && !call.merchant.installments.contains(&installments) {
        return Err(codes::INSTALLMENT);
    }
    Ok(Order {
        order_id,
        amount: api::parse_amount(r.get("Transaction/Amount"))?,
        currency: api::parse_currency(r.get("Transaction/CurrencyCode"))?,
        installments,
    })
}

/// The card of a non-3D charge, judged and forgotten.
fn judge_card(call: &Call) -> Result<CardFacts, GvpsError> {
    let r = &call.request;
    let number = r.non_empty("Card/Number").ok_or(codes::MANDATORY)?;
    let expiry = r.non_empty("Card/ExpireDate").ok_or(codes::MANDATORY)?;
    let cvv = r.non_empty("Card/CVV2").ok_or(codes::MANDATORY)?;
    let two = |t: &str| t.parse::<u16>().ok();
    let (month, year) = match (
        expiry.len(),
        expiry.get(..2).and_then(two),
        expiry.get(2..).and_then(two),
    ) {
        (4, Some(m), Some(y)) if (1..=12).contains(&m) => (m as u8, 2000 + y),
        _ => return Err(codes::MANDATORY),
    };
    if !(3..=4).contains(&cvv.len()) || !cvv.bytes().all(|b| b.is_ascii_digit()) {
        return Err(codes::MANDATORY);
    }
    let now = (call.now.year() as u16, call.now.month() as u8);
    if !(12..=19).contains(&number.len()) {
        return Err(codes::MANDATORY);
    }
    CardFacts::judge(number, (year, month), now).ok_or(codes::MANDATORY)
}

/// The authentication a provision refers to, checked against what the 3D engine
/// issued; the order takes the authenticated order id.
fn judge_3d(state: &State, call: &Call, order: &Order) -> Result<(String, CardFacts), GvpsError> {
    let r = &call.request;
    let md = r
        .non_empty("Transaction/Secure3D/Md")
        .ok_or(codes::MANDATORY)?;
    let auth = state
        .authentications
        .get(md)
        .filter(|a| a.terminal_id == call.merchant.terminal_id)
        .ok_or(codes::AUTH_MISMATCH)?;
    let same = |path: &str, issued: &str| r.get_or_empty(path).trim() == issued;
    if auth.order_id != order.order_id
        || !same("Transaction/Secure3D/AuthenticationCode", &auth.cavv)
        || !same("Transaction/Secure3D/SecurityLevel", &auth.eci)
        || !same("Transaction/Secure3D/TxnID", &auth.xid)
        || order.amount != auth.amount
        || order.currency != auth.currency
    {
        return Err(codes::AUTH_MISMATCH);
    }
    if auth.used {
        return Err(codes::AUTH_REUSED);
    }
    Ok((md.to_owned(), auth.card.clone()))
}

/// Records the charge of an order on `card` (approved, or declined by the issuer) and
/// returns its ledger index.
pub fn charge(
    state: &mut State,
    terminal_id: &str,
    kind: TxType,
    order: &Order,
    card: &CardFacts,
    three_d: bool,
    now: DateTime<FixedOffset>,
) -> usize {
    let business_day = state.open_day(terminal_id, now.date_naive());
    let retref = state.new_retref(&now);
    let (approved, code, auth_code, error_msg, sys_err_msg) = match card.outcome {
        Outcome::Approve => (
            true,
            "00".to_owned(),
            State::new_auth_code(),
            String::new(),
            String::new(),
        ),
        Outcome::Decline(code) => {
            let (message, system) = answer::host_decline(code);
            (false, code.to_owned(), String::new(), message, system)
        }
    };
    let tx = GarantiTransaction {
        seq: 0,
        terminal_id: terminal_id.to_owned(),
        order_id: order.order_id.clone(),
        kind,
        approved,
        amount: order.amount,
        currency: order.currency,
        installments: order.installments,
        auth_code,
        retref,
        reason_code: code.clone(),
        code,
        error_msg,
        sys_err_msg,
        masked_pan: Some(card.masked.clone()),
        created_at: now,
        business_day,
        voided_at: None,
        original_retref: None,
        three_d,
        panel: false,
    };
    state.insert(tx)
}

/// `sales` / `preauth`.
pub async fn sale(sim: &Arc<Garanti>, call: Call, kind: TxType) -> Response {
    let mut order = match parse_order(&call) {
        Ok(order) => order,
        Err(error) => return call.refuse(sim, error),
    };
    let is_3d = call.request.has_group("Transaction/Secure3D")
        || call.request.non_empty("Transaction/CardholderPresentCode") == Some("13");
    let judged = if is_3d {
        judge_3d(&sim.lock(), &call, &order).map(|(md, card)| (Some(md), card))
    } else {
        judge_card(&call).map(|card| (None, card))
    };
    let (md, card) = match judged {
        Ok(judged) => judged,
        Err(error) => return call.refuse(sim, error),
    };
    if sim
        .lock()
        .order_used(&call.merchant.terminal_id, &order.order_id)
    {
        return call.refuse(sim, codes::DUPLICATE_ORDER);
    }
    order.order_id = order.order_id.trim().to_owned();
    match card.fault {
        Some(Fault::NoCharge500) => return plain_status(StatusCode::INTERNAL_SERVER_ERROR),
        Some(Fault::DropConnection) => {
            tracing::info!(merchant.terminal_id = %call.merchant.terminal_id, "fault card: dropping connection");
            return wire::drop_connection();
        }
        Some(Fault::FirstCall503) => {
            let first = sim
                .lock()
                .merchants
                .get_mut(&call.merchant.terminal_id)
                .is_some_and(|m| !std::mem::replace(&mut m.fault_503_spent, true));
            if first {
                return plain_status(StatusCode::SERVICE_UNAVAILABLE);
            }
        }
        _ => {}
    }
    let echo = Echo {
        order_id: order.order_id.clone(),
        ..call.echo.clone()
    };
    let text = {
        let mut state = sim.lock();
        let index = charge(
            &mut state,
            &call.merchant.terminal_id,
            kind,
            &order,
            &card,
            is_3d,
            call.now,
        );
        if let Some(auth) = md
            .as_deref()
            .and_then(|md| state.authentications.get_mut(md))
        {
            auth.used = true;
        }
        let batch = state.batch(&call.merchant.terminal_id);
        let tx = &state.txs[index];
        tracing::info!(
            merchant.terminal_id = %call.merchant.terminal_id,
            payment.order_id = %tx.order_id,
            payment.approved = tx.approved,
            card = %card.masked,
            "garanti charge"
        );
        if card.fault == Some(Fault::WrongHash) {
            answer::garbled_answer(&echo, batch, &call.now)
        } else {
            answer::tx_answer(&echo, tx, batch, &call.now)
        }
    };
    drop(call);
    match card.fault {
        Some(Fault::SlowAnswer) => {
            tokio::time::sleep(sim.slow_answer_delay).await;
            xml_answer(&text)
        }
        Some(Fault::ChargeThen500) => plain_status(StatusCode::INTERNAL_SERVER_ERROR),
        Some(Fault::Truncated) => {
            let bytes = text.into_bytes();
            let mut response = (StatusCode::OK, bytes[..bytes.len() / 2].to_vec()).into_response();
            response.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/xml; charset=utf-8"),
            );
            response
        }
        _ => xml_answer(&text),
    }
}

/// A bare error status with its standard reason as a text body.
pub fn plain_status(status: StatusCode) -> Response {
    let text = status.canonical_reason().unwrap_or("Error");
    (status, text.to_owned()).into_response()
}
