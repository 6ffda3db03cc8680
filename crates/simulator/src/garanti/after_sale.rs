//! `postauth`, `void` and `refund`: calls about an earlier transaction, named by its
//! `RetrefNum` (`OriginalRetrefNum`).
//!
//! The bank's day rules: a `void` is possible only on the transaction's own business
//! day (after end of day it is refused, refund instead); a `refund` only after that day
//! is closed (before, it is refused: cancel instead), for at most what was captured and
//! not yet refunded. A `void` of the fixed `Amount` 100 voids the whole transaction.

use axum::response::Response;
use sanalpos_core::Kurus;

use super::answer::{tx_answer, xml_answer, Echo};
use super::api::{self, Call};
use super::codes::{self, GvpsError};
use super::ledger::{Garanti, GarantiTransaction, State, TxType};

/// The live transaction `OriginalRetrefNum` names, of one of `kinds`, in the caller's
/// order when it names one.
fn original(state: &State, call: &Call, kinds: &[TxType]) -> Result<usize, GvpsError> {
    let retref = call
        .request
        .non_empty("Transaction/OriginalRetrefNum")
        .ok_or(codes::MANDATORY)?;
    let index = state
        .find_retref(&call.merchant.terminal_id, retref)
        .ok_or(codes::NOT_FOUND)?;
    let tx = &state.txs[index];
    let order_ok = call
        .request
        .non_empty("Order/OrderID")
        .is_none_or(|o| o == tx.order_id);
    if !order_ok || !kinds.contains(&tx.kind) || !tx.is_live() {
        return Err(codes::NOT_FOUND);
    }
    Ok(index)
}

/// A new approved row about `original`.
fn follow_up(
    state: &mut State,
    call: &Call,
    original: usize,
    kind: TxType,
    amount: Kurus,
) -> usize {
    let base = state.txs[original].clone();
    let business_day = state.open_day(&call.merchant.terminal_id, call.now.date_naive());
    let retref = state.new_retref(&call.now);
    let tx = GarantiTransaction {
        seq: 0,
        kind,
        approved: true,
        amount,
        auth_code: if kind == TxType::PostAuth {
            base.auth_code.clone()
        } else {
            String::new()
        },
        retref,
        code: "00".into(),
        reason_code: "00".into(),
        error_msg: String::new(),
        sys_err_msg: String::new(),
        created_at: call.now,
        business_day,
        voided_at: None,
        original_retref: Some(base.retref.clone()),
        three_d: false,
        panel: false,
        ..base
    };
    state.insert(tx)
}

fn answer_row(state: &State, call: &Call, index: usize) -> Response {
    let tx = &state.txs[index];
    let echo = Echo {
        order_id: tx.order_id.clone(),
        ..call.echo.clone()
    };
    xml_answer(&tx_answer(
        &echo,
        tx,
        state.batch(&call.merchant.terminal_id),
        &call.now,
    ))
}

/// What was captured on an order and not refunded since.
fn refundable(state: &State, terminal_id: &str, order_id: &str) -> Kurus {
    let rows = state.order_rows(terminal_id, order_id);
    let sum = |pred: &dyn Fn(&GarantiTransaction) -> bool| {
        rows.iter()
            .map(|&i| &state.txs[i])
            .filter(|t| pred(t))
            .fold(Kurus::ZERO, |s, t| s.checked_add(t.amount).unwrap_or(s))
    };
    let captured = sum(&|t| t.kind.captures() && t.is_live());
    let refunded = sum(&|t| t.kind == TxType::Refund && t.is_live());
    captured.checked_sub(refunded).unwrap_or(Kurus::ZERO)
}

/// `postauth`: captures up to the pre-authorised amount, once.
pub fn post_auth(sim: &Garanti, call: &Call) -> Response {
    let amount = match api::parse_amount(call.request.get("Transaction/Amount")) {
        Ok(amount) => amount,
        Err(error) => return call.refuse(sim, error),
    };
    let mut state = sim.lock();
    let index = match original(&state, call, &[TxType::PreAuth]) {
        Ok(index) => index,
        Err(error) => {
            drop(state);
            return call.refuse(sim, error);
        }
    };
    let order_id = state.txs[index].order_id.clone();
    let captured = state
        .order_rows(&call.merchant.terminal_id, &order_id)
        .iter()
        .any(|&i| state.txs[i].kind == TxType::PostAuth && state.txs[i].is_live());
    if captured || amount > state.txs[index].amount {
        drop(state);
        return call.refuse(sim, codes::AMOUNT_TOO_HIGH);
    }
    let row = follow_up(&mut state, call, index, TxType::PostAuth, amount);
    answer_row(&state, call, row)
}

/// `void`: cancels a transaction of the open business day.
pub fn void(sim: &Garanti, call: &Call) -> Response {
    let mut state = sim.lock();
    let kinds = [
        TxType::Sales,
        TxType::PreAuth,
        TxType::PostAuth,
        TxType::Refund,
    ];
    let index = match original(&state, call, &kinds) {
        Ok(index) => index,
        Err(error) => {
            drop(state);
            return call.refuse(sim, error);
        }
    };
    let day = state.txs[index].business_day;
    if state.is_closed(&call.merchant.terminal_id, day) {
        drop(state);
        return call.refuse(sim, codes::CANCEL_CLOSED);
    }
    let amount = state.txs[index].amount;
    state.txs[index].voided_at = Some(call.now);
    let row = follow_up(&mut state, call, index, TxType::Void, amount);
    tracing::info!(merchant.terminal_id = %call.merchant.terminal_id, "garanti void");
    answer_row(&state, call, row)
}

/// `refund`: all or part of a captured sale whose day is closed.
pub fn refund(sim: &Garanti, call: &Call) -> Response {
    let amount = match api::parse_amount(call.request.get("Transaction/Amount")) {
        Ok(amount) => amount,
        Err(error) => return call.refuse(sim, error),
    };
    let mut state = sim.lock();
    let index = match original(&state, call, &[TxType::Sales, TxType::PostAuth]) {
        Ok(index) => index,
        Err(error) => {
            drop(state);
            return call.refuse(sim, error);
        }
    };
    let (day, order_id) = (
        state.txs[index].business_day,
        state.txs[index].order_id.clone(),
    );
    let terminal = call.merchant.terminal_id.clone();
    if !state.is_closed(&terminal, day) {
        drop(state);
        return call.refuse(sim, codes::NOT_REFUNDABLE);
    }
    if amount > refundable(&state, &terminal, &order_id) {
        drop(state);
        return call.refuse(sim, codes::AMOUNT_TOO_HIGH);
    }
    let row = follow_up(&mut state, call, index, TxType::Refund, amount);
    tracing::info!(merchant.terminal_id = %terminal, "garanti refund");
    answer_row(&state, call, row)
}
