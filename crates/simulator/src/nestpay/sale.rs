//! `Auth` and `PreAuth` through `/fim/api`: with the card in the request (non-3D) or
//! with the `md` and 3D fields of a finished 3D authentication (the `3d` model's
//! second step), plus the fault cards' transport misbehaviour.

use std::sync::Arc;

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Datelike, FixedOffset};
use sanalpos_core::{Currency, Kurus};

use super::answer::{self, xml_answer, NewRow};
use super::api::{self, refusal};
use super::cards::{self, CardFacts, CardOutcome};
use super::codes::{self, CoreError};
use super::ledger::{Nestpay, State, ThreeD, TxType};
use super::xml::{self, Request};
use super::NestpayMerchant;
use crate::cards::Fault;
use crate::wire;

/// The order part of a sale: what every sale request carries besides the card.
struct Order {
    order_id: String,
    amount: Kurus,
    currency: Currency,
    installments: u8,
}

fn parse_order(request: &Request, now: &DateTime<FixedOffset>) -> Result<Order, CoreError> {
    let order_id = match request.non_empty("OrderId") {
        Some(id) if id.chars().count() > 64 => return Err(codes::LONG_ORDER_ID),
        Some(id) => id.to_owned(),
        None => api::generated_order_id(now),
    };
    let amount = api::optional_total(request)?.ok_or(codes::NULL_FIELD)?;
    if amount == Kurus::ZERO {
        return Err(codes::ZERO_AMOUNT);
    }
    let currency = api::parse_currency(request.get("Currency"))?;
    let installments = api::parse_installments(request.get("Taksit"))?;
    match request.non_empty("Mode") {
        None | Some("P" | "T") => {}
        Some(_) => return Err(codes::BAD_MODE),
    }
    Ok(Order {
        order_id,
        amount,
        currency,
        installments,
    })
}

/// The card of a non-3D sale, judged and forgotten. Expiry is checked before the
/// number's format (the simulator's order: the mews serializer vector, whose card
/// fails the check digit, is answered "expired").
fn judge_card(request: &Request, now: &DateTime<FixedOffset>) -> Result<CardFacts, CoreError> {
    let expiry = request
        .non_empty("Expires")
        .and_then(cards::parse_expires)
        .ok_or(codes::BAD_EXPIRY)?;
    let today = (now.year() as u16, now.month() as u8);
    if expiry < today {
        return Err(codes::EXPIRED);
    }
    let number = request.non_empty("Number").ok_or(codes::NO_PAN)?;
    let card = cards::parse_pan(number).ok_or(codes::BAD_PAN)?;
    let cvv = request.non_empty("Cvv2Val").ok_or(codes::NO_CVV)?;
    if !(3..=4).contains(&cvv.len()) || !cvv.bytes().all(|b| b.is_ascii_digit()) {
        return Err(codes::BAD_CVV);
    }
    Ok(CardFacts::judge(&card, expiry, today))
}

/// The authentication a 3D Auth refers to, checked against what the gate issued.
fn judge_3d(
    state: &State,
    merchant: &NestpayMerchant,
    request: &Request,
    order: &mut Order,
) -> Result<(String, CardFacts, ThreeD), CoreError> {
    let md = request.non_empty("Number").ok_or(codes::NO_PAN)?;
    let auth = state
        .authentications
        .get(md)
        .filter(|a| a.client_id == merchant.client_id)
        .ok_or(codes::THREE_D_MISMATCH)?;
    let same = |field: &str, issued: &str| request.get_or_empty(field).trim() == issued;
    let order_ok = request
        .non_empty("OrderId")
        .is_none_or(|id| id == auth.order_id);
    if !order_ok
        || !same("PayerTxnId", &auth.three_d.xid)
        || !same("PayerSecurityLevel", &auth.three_d.eci)
        || !same("PayerAuthenticationCode", &auth.three_d.cavv)
        || order.amount != auth.amount
        || order.currency != auth.currency
    {
        return Err(codes::THREE_D_MISMATCH);
    }
    if auth.used {
        return Err(codes::XID_REUSED);
    }
    if !matches!(auth.three_d.md_status.as_str(), "1" | "2" | "3" | "4") {
        return Err(codes::BAD_MD_STATUS);
    }
    order.order_id = auth.order_id.clone();
    Ok((md.to_owned(), auth.card.clone(), auth.three_d.clone()))
}

/// Records the charge of an order on `card` (approved or declined by the issuer),
/// returning its ledger index.
pub fn charge(
    state: &mut State,
    merchant: &NestpayMerchant,
    kind: TxType,
    order: (&str, Kurus, Currency, u8),
    card: &CardFacts,
    three_d: Option<ThreeD>,
    now: DateTime<FixedOffset>,
) -> usize {
    let (order_id, amount, currency, installments) = order;
    let mut tx = answer::new_row(
        state,
        NewRow {
            client_id: &merchant.client_id,
            order_id,
            kind,
            amount,
            currency,
            installments,
            card: Some(card),
            now,
        },
    );
    tx.three_d = three_d;
    match card.outcome {
        CardOutcome::Decline(code) => answer::decline(state, &mut tx, code),
        CardOutcome::Approve | CardOutcome::Fault(_) => answer::approve(state, &mut tx, None),
    }
    state.insert(tx)
}

/// `Auth` / `PreAuth`.
pub async fn sale(
    sim: &Arc<Nestpay>,
    merchant: &NestpayMerchant,
    kind: TxType,
    request: Request,
    now: DateTime<FixedOffset>,
) -> Response {
    let echo = request.get_or_empty("OrderId").to_owned();
    let customer = request
        .non_empty("BillTo/Name")
        .or_else(|| request.non_empty("BillTo/Company"))
        .unwrap_or("")
        .to_owned();
    let mut order = match parse_order(&request, &now) {
        Ok(order) => order,
        Err(err) => return refusal(sim, err, &echo, &now),
    };
    let is_3d = [
        "PayerTxnId",
        "PayerSecurityLevel",
        "PayerAuthenticationCode",
    ]
    .iter()
    .any(|f| request.non_empty(f).is_some());
    let judged = if is_3d {
        let state = sim.lock();
        judge_3d(&state, merchant, &request, &mut order)
            .map(|(md, card, td)| (Some(md), card, Some(td)))
    } else {
        judge_card(&request, &now).map(|card| (None, card, None))
    };
    drop(request);
    let (md, card, three_d) = match judged {
        Ok(judged) => judged,
        Err(err) => return refusal(sim, err, &echo, &now),
    };
    if is_3d && card.expired {
        return refusal(sim, codes::EXPIRED, &order.order_id, &now);
    }
    if !api::installments_allowed(merchant, order.installments) {
        return refusal(sim, codes::INSTALLMENT_NOT_ALLOWED, &order.order_id, &now);
    }
    if sim.lock().order_used(&merchant.client_id, &order.order_id) {
        return refusal(sim, codes::DUPLICATE_ORDER, &order.order_id, &now);
    }
    let fault = match card.outcome {
        CardOutcome::Fault(fault) => Some(fault),
        _ => None,
    };
    match fault {
        Some(Fault::NoCharge500) => return plain_status(StatusCode::INTERNAL_SERVER_ERROR),
        Some(Fault::DropConnection) => {
            tracing::info!(merchant.client_id = %merchant.client_id, "fault card: dropping connection");
            return wire::drop_connection();
        }
        Some(Fault::FirstCall503) => {
            let first = sim
                .lock()
                .merchants
                .get_mut(&merchant.client_id)
                .is_some_and(|m| !std::mem::replace(&mut m.fault_503_spent, true));
            if first {
                return plain_status(StatusCode::SERVICE_UNAVAILABLE);
            }
        }
        _ => {}
    }
    let nodes = {
        let mut state = sim.lock();
        let index = charge(
            &mut state,
            merchant,
            kind,
            (
                &order.order_id,
                order.amount,
                order.currency,
                order.installments,
            ),
            &card,
            three_d,
            now,
        );
        state.txs[index].customer = customer;
        if let Some(auth) = md
            .as_deref()
            .and_then(|md| state.authentications.get_mut(md))
        {
            auth.used = true;
        }
        let batch = state.batch(&merchant.client_id);
        let tx = &state.txs[index];
        tracing::info!(
            merchant.client_id = %merchant.client_id,
            payment.order_id = %tx.order_id,
            payment.status = ?tx.status,
            card = %card.masked,
            "nestpay charge"
        );
        if fault == Some(Fault::WrongHash) {
            answer::garbled_answer(tx)
        } else {
            answer::tx_answer(tx, merchant, batch)
        }
    };
    match fault {
        Some(Fault::SlowAnswer) => {
            tokio::time::sleep(sim.slow_answer_delay).await;
            xml_answer(&nodes)
        }
        Some(Fault::ChargeThen500) => plain_status(StatusCode::INTERNAL_SERVER_ERROR),
        Some(Fault::Truncated) => {
            let bytes = xml::encode_response(&nodes);
            let mut response = (StatusCode::OK, bytes[..bytes.len() / 2].to_vec()).into_response();
            response.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/xml; charset=ISO-8859-9"),
            );
            response
        }
        _ => xml_answer(&nodes),
    }
}

/// A bare error status with its standard reason as a text body.
pub fn plain_status(status: StatusCode) -> Response {
    let text = status.canonical_reason().unwrap_or("Error");
    (status, text.to_owned()).into_response()
}
