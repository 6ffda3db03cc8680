//! After a pre-authorisation (`transactionType=PRESALES`):
//! `POST /Vpos/Payment/PreAuthorizationAprove` captures all or part of the block,
//! `POST /Vpos/Payment/PreAuthorizationCancel` releases it, and
//! `POST /Vpos/Payment/PreAuthorizationList` lists the merchant's pre-authorisations.
//!
//! Paths, credentials and hash orders are the documented ones; the answers are not
//! published, so their shape is ours, modelled on the sale's answer. A pre-authorisation
//! is closed by its first capture or release, for good: a capture charges the captured
//! amount (a `PRESALES_APPROVE` row, a sale in every other respect) and frees the rest
//! of the block; a release (a `PRESALES_CANCEL` row) frees all of it.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{ConnectInfo, State};
use axum::response::{IntoResponse, Response};
use chrono::{Days, NaiveDate};
use sanalpos_core::Kurus;
use serde_json::{json, Value};

use super::report::{list_answer, list_error, window_ok, NO_RECORDS, WINDOW_TOO_WIDE};
use crate::config::MerchantConfig;
use crate::state::{Sim, State as Ledger, SxKind, Transaction, TxKind, TxStatus};
use crate::wire::{self, bad_field, Form, Reject};
use crate::{clock, hash, tariff};

const NOT_FOUND: &str = "İşlem sistemde bulunamadı";
/// The only `transactionType` a release names: the type of what it releases.
const RELEASED_TYPE: &str = "PRESALES";

fn refuse(code: &'static str, text: &str) -> Reject {
    Reject::Plain(code, text.to_owned())
}

/// What follows a pre-authorisation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    Capture,
    Release,
}

/// `POST /Vpos/Payment/PreAuthorizationAprove`.
pub async fn capture(
    State(sim): State<Arc<Sim>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    body: Bytes,
) -> Response {
    match handle(&sim, peer, &body, Step::Capture) {
        Ok(response) => response,
        Err(reject) => reject.into_response(),
    }
}

/// `POST /Vpos/Payment/PreAuthorizationCancel`.
pub async fn release(
    State(sim): State<Arc<Sim>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    body: Bytes,
) -> Response {
    match handle(&sim, peer, &body, Step::Release) {
        Ok(response) => response,
        Err(reject) => reject.into_response(),
    }
}

fn handle(sim: &Sim, peer: SocketAddr, body: &[u8], step: Step) -> Result<Response, Reject> {
    let form = Form::parse(body);
    let merchant = wire::authenticate(sim, &form, SxKind::Sales, peer.ip())?;
    let reference = form.required("referenceCode")?;
    let amount = form.amount("amount")?;
    let trx_date_text = form.required("trxDate")?;
    let trx_date = clock::parse_pre_auth_date(trx_date_text).ok_or_else(|| bad_field("trxDate"))?;
    let sx = form.get_or_empty("sx");
    let amount_text = form.get_or_empty("amount");
    let expected = match step {
        Step::Capture => {
            form.required("hashDatav2")?;
            hash::pre_auth_capture(
                sx,
                trx_date_text,
                amount_text,
                reference,
                &merchant.secret_key,
            )
        }
        Step::Release => {
            let kind = form.required("transactionType")?;
            form.required("hashDatav2")?;
            hash::pre_auth_release(
                sx,
                trx_date_text,
                amount_text,
                reference,
                kind,
                &merchant.secret_key,
            )
        }
    };
    wire::check_signature(&form, &expected)?;
    if step == Step::Release && form.get_or_empty("transactionType") != RELEASED_TYPE {
        return Err(refuse("TYPE01", "Geçersiz işlem tipi"));
    }

    let mut state = sim.lock();
    let index = state
        .find_ref(&merchant.merchant_no, reference)
        .filter(|&i| state.txs[i].kind == TxKind::PreSales)
        .filter(|&i| state.txs[i].created_at.date_naive() == trx_date)
        .ok_or_else(|| refuse("25", NOT_FOUND))?;
    let pre_auth = &state.txs[index];
    // Only an approved block that nothing has closed yet.
    if pre_auth.status != TxStatus::Success || state.pre_auth_follow_up(index).is_some() {
        return Err(refuse("12", "Geçersiz işlem"));
    }
    let blocked = pre_auth.authorization_amount;
    let amount_ok = match step {
        Step::Capture => amount <= blocked,
        Step::Release => amount == blocked,
    };
    if !amount_ok {
        return Err(refuse("13", "İşlem tutarını kontrol edin"));
    }
    let row = follow_up(&mut state, index, step, amount);
    let tx = &state.txs[row];
    tracing::info!(
        merchant.no = %merchant.merchant_no,
        payment.reference = %reference,
        pre_auth.step = tx.kind.wire(),
        pre_auth.reference = %tx.reference_code,
        "pre-authorisation closed"
    );
    let answer = json!({
        "RESPONSE_CODE": "2",
        "RESPONSE_DATA": "İşlem başarılı",
        "REFERENCE_CODE": tx.reference_code,
        "AUTH_CODE": tx.auth_code,
        "AUTHORIZATION_AMOUNT": tx.amount.to_string(),
    });
    drop(state);
    Ok(wire::json_answer(&answer))
}

/// Records the capture or release row of the pre-authorisation at `index`: a capture
/// is priced as a sale of `amount` (commission on the money charged), a release charges
/// and costs nothing.
fn follow_up(state: &mut Ledger, index: usize, step: Step, amount: Kurus) -> usize {
    let now = clock::now();
    let pre_auth = state.txs[index].clone();
    let business_day = state.open_day(&pre_auth.merchant_no, now.date_naive());
    let reference_code = state.new_reference();
    let (kind, commission, valor_date) = match step {
        Step::Capture => {
            let valor_days = tariff::line(pre_auth.installments).map_or(1, |l| l.valor_days);
            (
                TxKind::PreSalesCapture,
                amount.percent_bp(pre_auth.commission_rate_bp),
                business_day
                    .checked_add_days(Days::new(u64::from(valor_days)))
                    .unwrap_or(business_day),
            )
        }
        Step::Release => (TxKind::PreSalesRelease, Kurus::ZERO, business_day),
    };
    state.insert(Transaction {
        seq: 0,
        reference_code,
        sale_reference_code: Some(pre_auth.reference_code.clone()),
        kind,
        status: TxStatus::Success,
        amount,
        authorization_amount: amount,
        surcharge: Kurus::ZERO,
        commission,
        surcharge_rate_bp: 0,
        created_at: now,
        business_day,
        valor_date,
        panel: false,
        pre_approved: false,
        cancelled: false,
        returned_amount: Kurus::ZERO,
        ..pre_auth
    })
}

/// Where a pre-authorisation stands, as the list writes it (the simulator's choice).
fn list_status(state: &Ledger, index: usize) -> &'static str {
    match state.pre_auth_follow_up(index).map(|i| state.txs[i].kind) {
        Some(TxKind::PreSalesCapture) => "CAPTURED",
        Some(_) => "RELEASED",
        None => "OPEN",
    }
}

/// One list row: the pre-authorisation, where it stands and what was captured.
fn list_row(state: &Ledger, index: usize) -> Value {
    let tx = &state.txs[index];
    let captured = state
        .pre_auth_follow_up(index)
        .map(|i| &state.txs[i])
        .filter(|t| t.kind == TxKind::PreSalesCapture)
        .map_or(Kurus::ZERO, |t| t.amount);
    json!({
        "REFERENCE_CODE": tx.reference_code,
        "CLIENT_REFERENCE_CODE": tx.client_ref,
        "AUTH_CODE": tx.auth_code,
        "TRANSACTION_TYPE": tx.kind.wire(),
        "STATUS": list_status(state, index),
        "TRX_DATE": clock::fmt_trx(&tx.created_at),
        "AUTHORIZATION_AMOUNT": tx.authorization_amount.to_string(),
        "TRANSACTION_AMOUNT": tx.amount.to_string(),
        "CAPTURED_AMOUNT": captured.to_string(),
        "INSTALLMENT_COUNT": tx.installments.to_string(),
        "CARD_NUMBER": tx.masked_pan.as_str(),
        "IS_3D": if tx.is_3d { "true" } else { "false" },
        "CURRENCY_CODE": tx.currency.numeric().to_string(),
    })
}

/// The list window: both dates `yyyy-MM-dd`.
fn window(form: &Form) -> Result<(NaiveDate, NaiveDate), Reject> {
    let start = clock::parse_pre_auth_date(form.required("startDate")?)
        .ok_or_else(|| bad_field("startDate"))?;
    let end = clock::parse_pre_auth_date(form.required("endDate")?)
        .ok_or_else(|| bad_field("endDate"))?;
    Ok((start, end))
}

fn checked_list(
    sim: &Sim,
    peer: SocketAddr,
    form: &Form,
) -> Result<(Arc<MerchantConfig>, NaiveDate, NaiveDate), Reject> {
    let merchant = wire::authenticate(sim, form, SxKind::List, peer.ip())?;
    let (start, end) = window(form)?;
    form.required("hashDatav2")?;
    let expected = hash::pre_auth_list(
        form.get_or_empty("sx"),
        form.get_or_empty("endDate"),
        form.get_or_empty("startDate"),
        &merchant.secret_key,
    );
    wire::check_signature(form, &expected)?;
    Ok((merchant, start, end))
}

/// `POST /Vpos/Payment/PreAuthorizationList`: the approved pre-authorisations recorded
/// on the days of the window, open or closed, in the lists' envelope.
pub async fn list(
    State(sim): State<Arc<Sim>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    body: Bytes,
) -> Response {
    let form = Form::parse(&body);
    let (merchant, start, end) = match checked_list(&sim, peer, &form) {
        Ok(v) => v,
        Err(r) => return r.into_response(),
    };
    if !window_ok(start, end) {
        return list_error("CORE0301", WINDOW_TOO_WIDE);
    }
    let rows: Vec<Value> = {
        let state = sim.lock();
        let indexes: Vec<usize> = state
            .rows_between(&merchant.merchant_no, start, end, None)
            .into_iter()
            .filter(|t| t.kind == TxKind::PreSales && t.status == TxStatus::Success)
            .filter_map(|t| state.find_ref(&merchant.merchant_no, &t.reference_code))
            .collect();
        indexes.into_iter().map(|i| list_row(&state, i)).collect()
    };
    if rows.is_empty() {
        return list_error("CORE0305", NO_RECORDS);
    }
    list_answer(
        json!({
            "RESPONSE_CODE": "2",
            "RESPONSE_DATA": "İşlem başarılı",
            "ERROR_CODE": "",
            "ERROR_MESSAGE": "",
            "LIST": rows,
        }),
        false,
    )
}
