//! What follows a sale: `PostAuth` (capture), `Void` (same business day, whole
//! transaction) and `Credit` (after end of day, partial allowed).
//!
//! The business day decides between Void and Credit exactly as the spec says: Void
//! finds nothing once the day is closed (`CORE-2008`), Credit refuses before it
//! (`CORE-2508`).

use axum::response::Response;
use chrono::{DateTime, FixedOffset};
use sanalpos_core::Kurus;

use super::answer::{self, core_error, xml_answer, NewRow};
use super::api::{self, refusal};
use super::codes::{self, CoreError};
use super::ledger::{Nestpay, NestpayTransaction, State, TxStatus, TxType};
use super::xml::Request;
use super::NestpayMerchant;

/// A new row of `kind` for the order of `original`, carrying its card.
fn follow_up(
    state: &State,
    original: &NestpayTransaction,
    kind: TxType,
    amount: Kurus,
    now: DateTime<FixedOffset>,
) -> NestpayTransaction {
    let mut tx = answer::new_row(
        state,
        NewRow {
            client_id: &original.client_id,
            order_id: &original.order_id,
            kind,
            amount,
            currency: original.currency,
            installments: original.installments,
            card: None,
            now,
        },
    );
    tx.masked_pan = original.masked_pan.clone();
    tx.customer = original.customer.clone();
    tx.card_brand = original.card_brand.clone();
    tx.card_issuer = original.card_issuer.clone();
    tx
}

/// Inserts `tx` and answers it.
fn record_and_answer(
    state: &mut State,
    merchant: &NestpayMerchant,
    tx: NestpayTransaction,
) -> Response {
    let batch = state.batch(&merchant.client_id);
    let index = state.insert(tx);
    let tx = &state.txs[index];
    tracing::info!(
        merchant.client_id = %merchant.client_id,
        payment.order_id = %tx.order_id,
        payment.kind = ?tx.kind,
        payment.status = ?tx.status,
        "nestpay follow-up"
    );
    xml_answer(&answer::tx_answer(tx, merchant, batch))
}

/// `PostAuth`: captures the order's open pre-authorisation; `Total` absent captures
/// the pre-authorised amount; more than that needs `Extra/PREAMT` equal to it.
pub fn post_auth(
    sim: &Nestpay,
    merchant: &NestpayMerchant,
    request: &Request,
    now: &DateTime<FixedOffset>,
) -> Response {
    let Some(order_id) = request.non_empty("OrderId") else {
        return refusal(sim, codes::MISSING_REFERENCE, "", now);
    };
    let requested = match api::optional_total(request) {
        Ok(total) => total,
        Err(err) => return refusal(sim, err, order_id, now),
    };
    let preamt = request.non_empty("Extra/PREAMT").map(api::parse_total);
    let mut state = sim.lock();
    let rows = state.order_rows(&merchant.client_id, order_id);
    let preauth = rows
        .iter()
        .rev()
        .copied()
        .find(|&i| state.txs[i].kind == TxType::PreAuth && state.txs[i].is_live());
    let captured = preauth.is_some_and(|p| {
        rows.iter()
            .any(|&i| i > p && state.txs[i].kind == TxType::PostAuth && state.txs[i].is_live())
    });
    let Some(preauth) = preauth.filter(|_| !captured) else {
        drop(state);
        return refusal(sim, codes::NO_PREAUTH, order_id, now);
    };
    let original = state.txs[preauth].clone();
    let amount = requested.unwrap_or(original.amount);
    if amount == Kurus::ZERO {
        drop(state);
        return refusal(sim, codes::ZERO_AMOUNT, order_id, now);
    }
    if amount > original.amount && preamt != Some(Some(original.amount)) {
        drop(state);
        return refusal(sim, codes::OVER_PREAUTH, order_id, now);
    }
    let mut tx = follow_up(&state, &original, TxType::PostAuth, amount, *now);
    answer::approve(&mut state, &mut tx, Some(original.auth_code.clone()));
    record_and_answer(&mut state, merchant, tx)
}

/// `Void`: cancels one approved, not yet voided transaction of the open business day,
/// by `TransId` or the order's latest (by `OrderId`).
pub fn void(
    sim: &Nestpay,
    merchant: &NestpayMerchant,
    request: &Request,
    now: &DateTime<FixedOffset>,
) -> Response {
    let trans_id = request.non_empty("TransId");
    let order_id = request.non_empty("OrderId");
    if trans_id.is_none() && order_id.is_none() {
        return refusal(sim, codes::MISSING_REFERENCE, "", now);
    }
    let mut state = sim.lock();
    let voidable = |state: &State, i: usize| {
        let tx = &state.txs[i];
        tx.kind != TxType::Void && tx.is_live() && !state.is_closed(&tx.client_id, tx.business_day)
    };
    let target = match (trans_id, order_id) {
        (Some(trans_id), _) => state
            .find_trans_id(&merchant.client_id, trans_id)
            .filter(|&i| order_id.is_none_or(|o| state.txs[i].order_id == o))
            .filter(|&i| voidable(&state, i)),
        (None, Some(order_id)) => state
            .order_rows(&merchant.client_id, order_id)
            .into_iter()
            .rev()
            .find(|&i| voidable(&state, i)),
        (None, None) => None,
    };
    let Some(target) = target else {
        // The recorded shape: no order echoed.
        let trans_id = state.new_trans_id(now);
        drop(state);
        return xml_answer(&core_error(codes::NO_VOIDABLE, "", &trans_id, now));
    };
    state.txs[target].voided_at = Some(*now);
    let original = state.txs[target].clone();
    let mut tx = follow_up(&state, &original, TxType::Void, original.amount, *now);
    tx.voids = Some(original.trans_id.clone());
    answer::approve(&mut state, &mut tx, None);
    record_and_answer(&mut state, merchant, tx)
}

/// `Credit`: refunds captured money of sales whose business day is closed; partial
/// allowed, never more than captured minus refunded.
pub fn credit(
    sim: &Nestpay,
    merchant: &NestpayMerchant,
    request: &Request,
    now: &DateTime<FixedOffset>,
) -> Response {
    let trans_id = request.non_empty("TransId");
    let order_echo = request.get_or_empty("OrderId").to_owned();
    if trans_id.is_none() && request.non_empty("OrderId").is_none() {
        return refusal(sim, codes::MISSING_REFERENCE, "", now);
    }
    let requested = match api::optional_total(request) {
        Ok(Some(amount)) if amount == Kurus::ZERO => {
            return refusal(sim, codes::BAD_AMOUNT, &order_echo, now)
        }
        Ok(total) => total,
        Err(err) => return refusal(sim, err, &order_echo, now),
    };
    let currency = match request.non_empty("Currency") {
        None => None,
        Some(text) => match api::parse_currency(Some(text)) {
            Ok(c) => Some(c),
            Err(err) => return refusal(sim, err, &order_echo, now),
        },
    };
    let mut state = sim.lock();
    let order_id = match trans_id {
        Some(trans_id) => match state.find_trans_id(&merchant.client_id, trans_id) {
            Some(i) => state.txs[i].order_id.clone(),
            None => {
                drop(state);
                return refusal(sim, codes::NO_REFUNDABLE, &order_echo, now);
            }
        },
        None => order_echo.clone(),
    };
    let rows = state.order_rows(&merchant.client_id, &order_id);
    let sales: Vec<usize> = rows
        .iter()
        .copied()
        .filter(|&i| state.txs[i].kind.captures() && state.txs[i].status == TxStatus::Approved)
        .collect();
    let Some(&first_sale) = sales.first() else {
        drop(state);
        return refusal(sim, codes::NO_REFUNDABLE, &order_id, now);
    };
    let original = state.txs[first_sale].clone();
    if currency.is_some_and(|c| c != original.currency) {
        drop(state);
        return refusal(sim, codes::CURRENCY_MISMATCH, &order_id, now);
    }
    let sum = |it: &mut dyn Iterator<Item = Kurus>| {
        it.fold(Kurus::ZERO, |a, b| a.checked_add(b).unwrap_or(a))
    };
    let live: Vec<&NestpayTransaction> = sales
        .iter()
        .map(|&i| &state.txs[i])
        .filter(|tx| tx.voided_at.is_none())
        .collect();
    let settled = sum(&mut live
        .iter()
        .filter(|tx| state.is_closed(&tx.client_id, tx.business_day))
        .map(|tx| tx.amount));
    let unsettled = live
        .iter()
        .any(|tx| !state.is_closed(&tx.client_id, tx.business_day));
    let refunded = sum(&mut rows
        .iter()
        .map(|&i| &state.txs[i])
        .filter(|tx| tx.kind == TxType::Credit && tx.is_live())
        .map(|tx| tx.amount));
    let net = settled.checked_sub(refunded).unwrap_or(Kurus::ZERO);
    let whole = sum(&mut live.iter().map(|tx| tx.amount));
    let mut tx = follow_up(
        &state,
        &original,
        TxType::Credit,
        requested.unwrap_or(whole),
        *now,
    );
    let refused: Option<CoreError> = if settled == Kurus::ZERO && unsettled {
        Some(codes::NOT_SETTLED)
    } else if net == Kurus::ZERO {
        answer::net_zero(&mut state, &mut tx);
        None
    } else if requested.is_some_and(|r| r > net) {
        Some(codes::REFUND_TOO_LARGE)
    } else {
        tx.amount = requested.unwrap_or(net);
        answer::approve(&mut state, &mut tx, None);
        None
    };
    if let Some(err) = refused {
        answer::refuse(&mut tx, err);
    }
    record_and_answer(&mut state, merchant, tx)
}
