//! `POST /Vpos/v1/CancelRefundPayment`: same-day cancel (iptal), refund (iade) and
//! partial refund, with the provider's rules on business days and amounts.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{ConnectInfo, State};
use axum::response::{IntoResponse, Response};
use sanalpos_core::Kurus;
use serde_json::json;

use crate::clock;
use crate::config::{MerchantConfig, PartialRefundType};
use crate::state::{Sim, SxKind, Transaction, TxKind, TxStatus};
use crate::wire::{self, bad_field, Form, Reject};

const NOT_FOUND: &str = "İşlem sistemde bulunamadı";

fn refuse(code: &'static str, text: &str) -> Reject {
    Reject::Plain(code, text.to_owned())
}

/// The requested operation, once the `type` is known to be one the merchant accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Operation {
    Cancel,
    Refund,
    RefundP,
}

/// `POST /Vpos/v1/CancelRefundPayment`.
pub async fn cancel_refund(
    State(sim): State<Arc<Sim>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    body: Bytes,
) -> Response {
    match handle(&sim, peer, &body) {
        Ok(response) => response,
        Err(reject) => reject.into_response(),
    }
}

fn handle(sim: &Sim, peer: SocketAddr, body: &[u8]) -> Result<Response, Reject> {
    let form = Form::parse(body);
    let merchant = wire::authenticate(sim, &form, SxKind::Cancel, peer.ip())?;
    let reference = form.required("referenceCode")?;
    let op_type = form.required("type")?;
    let amount = form.amount("amount")?;
    let trx_date_text = form.required("trxDate")?;
    let trx_date = clock::parse_trx_date(trx_date_text).ok_or_else(|| bad_field("trxDate"))?;
    form.required("hashDatav2")?;
    wire::check_hash(
        &form,
        &[
            form.get_or_empty("sx"),
            reference,
            op_type,
            form.get_or_empty("amount"),
            trx_date_text,
        ],
        &merchant.secret_key,
    )?;

    let operation = match op_type {
        "cancel" => Operation::Cancel,
        "refund" => Operation::Refund,
        "refundp" if merchant.partial_refund_type == PartialRefundType::RefundP => {
            Operation::RefundP
        }
        _ => return Err(refuse("TYPE01", "Geçersiz işlem tipi")),
    };

    let mut state = sim.lock();
    let index = state
        .find_ref(&merchant.merchant_no, reference)
        // A pre-authorisation is captured or released, never cancelled or refunded; its
        // capture is a sale like any other.
        .filter(|&i| state.txs[i].kind.is_charge())
        .filter(|&i| state.txs[i].created_at.date_naive() == trx_date)
        .ok_or_else(|| refuse("25", NOT_FOUND))?;
    let sale = &state.txs[index];
    if sale.status != TxStatus::Success || sale.cancelled {
        return Err(refuse("12", "Geçersiz işlem"));
    }
    let day_closed = state.is_closed(&merchant.merchant_no, sale.business_day);
    let remaining = sale
        .amount
        .checked_sub(sale.returned_amount)
        .unwrap_or(Kurus::ZERO);
    let kind = match operation {
        Operation::Cancel => {
            if day_closed {
                return Err(refuse("21", "İşlem İptal Edilemedi"));
            }
            if sale.returned_amount > Kurus::ZERO {
                return Err(refuse("12", "Geçersiz işlem"));
            }
            if amount != sale.amount {
                return Err(refuse("13", "İşlem tutarını kontrol edin"));
            }
            TxKind::Cancel
        }
        Operation::Refund | Operation::RefundP => {
            if !day_closed {
                return Err(refuse("12", "İade işlemi gün sonundan sonra yapılabilir"));
            }
            if amount > remaining {
                return Err(refuse("13", "İşlem tutarını kontrol edin"));
            }
            let partial = amount < remaining;
            partial_or_full(operation, partial, &merchant)?
        }
    };

    let now = clock::now();
    let business_day = state.open_day(&merchant.merchant_no, now.date_naive());
    let new_reference = state.new_reference();
    let sale = state.txs[index].clone();
    let row = Transaction {
        seq: 0,
        reference_code: new_reference.clone(),
        sale_reference_code: Some(sale.reference_code.clone()),
        kind,
        status: TxStatus::Success,
        amount,
        authorization_amount: amount,
        surcharge: Kurus::ZERO,
        commission: Kurus::ZERO,
        commission_rate_bp: 0,
        surcharge_rate_bp: 0,
        bank_code: "00".into(),
        bank_result: "00 - Onaylandı".into(),
        created_at: now,
        business_day,
        valor_date: business_day,
        panel: false,
        pre_approved: false,
        cancelled: false,
        returned_amount: Kurus::ZERO,
        ..sale
    };
    state.insert(row);
    let sale = &mut state.txs[index];
    match kind {
        TxKind::Cancel => sale.cancelled = true,
        _ => {
            sale.returned_amount = sale
                .returned_amount
                .checked_add(amount)
                .unwrap_or(sale.amount)
        }
    }
    tracing::info!(
        merchant.no = %merchant.merchant_no,
        payment.reference = %sale.reference_code,
        refund.reference = %new_reference,
        refund.kind = kind.wire(),
        "cancel/refund"
    );
    drop(state);
    Ok(wire::json_answer(&json!({
        "RESPONSE_CODE": "2",
        "RESPONSE_DATA": "İşlem başarılı",
        "REFERENCE_CODE": new_reference,
    })))
}

/// Which row a refund becomes. A full refund is `refund` (or `refundp` where that is the
/// merchant's partial type); a partial refund is accepted only with the merchant's
/// partial type, the other gets `TYPE01`.
fn partial_or_full(
    operation: Operation,
    partial: bool,
    merchant: &MerchantConfig,
) -> Result<TxKind, Reject> {
    match (operation, partial, merchant.partial_refund_type) {
        (Operation::RefundP, _, _) => Ok(TxKind::RefundP),
        (Operation::Refund, false, _) => Ok(TxKind::Refund),
        (Operation::Refund, true, PartialRefundType::Refund) => Ok(TxKind::Refund),
        _ => Err(refuse("TYPE01", "Geçersiz işlem tipi")),
    }
}
