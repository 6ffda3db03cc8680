//! The reconciliation reports: `POST /Vpos/Payment/PaymentList` (also the only status
//! inquiry) and `POST /Vpos/Payment/PfTransactionReportList` (camelCase, paged).
//!
//! Both report every ledger row of the window: sales of every status, cancels, refunds
//! and panel sales. A cancelled sale stays `SALES`/`SUCCESS` with a cancelled flag; its
//! `CANCEL` row tells the story. A pre-authorisation likewise stays
//! `PRESALES`/`SUCCESS`; its `PRESALES_APPROVE` (capture) or `PRESALES_CANCEL`
//! (release) row, naming it in `SALE_REFERENCE_CODE`, tells what became of it.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{ConnectInfo, State};
use axum::response::{IntoResponse, Response};
use chrono::NaiveDate;
use serde_json::{json, Value};

use crate::clock;
use crate::state::{Sim, SxKind, Transaction};
use crate::wire::{self, bad_field, Form, Reject};

pub(super) const WINDOW_TOO_WIDE: &str = "Tarih aralığı en fazla 1 ay olabilir";
pub(super) const NO_RECORDS: &str = "Listelenecek kayıt bulunamadı.";
/// The acquiring bank behind the provider, as the report names the terminal.
const TERMINAL_NAME: &str = "AKTIF YATIRIM BANKASI";

/// The report window: both dates `DD.MM.YYYY`, end not before start, at most 31 days
/// apart. The first error is a format error, the second a business rule (reported
/// after the hash check).
fn window(form: &Form) -> Result<(NaiveDate, NaiveDate), Reject> {
    let start = clock::parse_list_date(form.required("startDate")?)
        .ok_or_else(|| bad_field("startDate"))?;
    let end =
        clock::parse_list_date(form.required("endDate")?).ok_or_else(|| bad_field("endDate"))?;
    Ok((start, end))
}

/// End not before start, at most 31 days apart.
pub(super) fn window_ok(start: NaiveDate, end: NaiveDate) -> bool {
    end >= start && (end - start).num_days() <= 31
}

fn yes_no(flag: bool) -> &'static str {
    if flag {
        "true"
    } else {
        "false"
    }
}

/// One `PaymentList` row.
fn payment_list_row(tx: &Transaction) -> Value {
    let mut row = json!({
        "REFERENCE_CODE": tx.reference_code,
        "AUTH_CODE": tx.auth_code,
        "CLIENT_REFERENCE_CODE": tx.client_ref,
        "TRANSACTION_TYPE": tx.kind.wire(),
        "STATUS": tx.status.wire(),
        "TRX_DATE": clock::fmt_trx(&tx.created_at),
        "VALOR_DATE": clock::fmt_valor(tx.valor_date),
        "TRANSACTION_AMOUNT": tx.amount.to_string(),
        "AUTHORIZATION_AMOUNT": tx.authorization_amount.to_string(),
        "COMMISION": tx.commission.to_string(),
        "MERCHANT_COMMISSION_AMOUNT": tx.surcharge.to_string(),
        "INSTALLMENT_COUNT": tx.installments.to_string(),
        "CARD_NUMBER": tx.masked_pan.as_str(),
        "CARD_HOLDER_NAME": tx.card_holder,
        "CARD_BANK_CODE": tx.card_bank_code,
        "CARD_BANK_NAME": tx.card_bank_name,
        "TERMINAL_NAME": TERMINAL_NAME,
        "IS_3D": yes_no(tx.is_3d),
        "POS_TYPE": "VPOS",
        "DESCRIPTION": tx.description,
        "BANK_RESULT": tx.bank_result,
        "CURRENCY_CODE": tx.currency.numeric().to_string(),
    });
    if let Some(map) = row.as_object_mut() {
        if let Some(sale_ref) = &tx.sale_reference_code {
            map.insert(
                "SALE_REFERENCE_CODE".into(),
                Value::String(sale_ref.clone()),
            );
        } else {
            map.insert("IS_CANCELLED".into(), yes_no(tx.cancelled).into());
        }
    }
    row
}

/// The lists' envelope `{"id":"","result":…}`, `result` as a JSON string when asked.
pub(super) fn list_answer(result: Value, as_string: bool) -> Response {
    let result = if as_string {
        Value::String(result.to_string())
    } else {
        result
    };
    wire::json_answer(&json!({"id": "", "result": result}))
}

/// A list's refusal in the lists' envelope, with an empty `LIST`.
pub(super) fn list_error(code: &str, text: &str) -> Response {
    list_answer(
        json!({
            "RESPONSE_CODE": "0",
            "RESPONSE_DATA": text,
            "ERROR_CODE": code,
            "ERROR_MESSAGE": text,
            "LIST": [],
        }),
        false,
    )
}

/// `POST /Vpos/Payment/PaymentList`. An odd number of rows is answered with `result`
/// as a JSON string, as the real service sometimes does, so clients unwrap both forms.
pub async fn payment_list(
    State(sim): State<Arc<Sim>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    body: Bytes,
) -> Response {
    let form = Form::parse(&body);
    let checked = (|| {
        let merchant = wire::authenticate(&sim, &form, SxKind::List, peer.ip())?;
        let (start, end) = window(&form)?;
        form.required("hashDatav2")?;
        wire::check_hash(
            &form,
            &[
                form.get_or_empty("sx"),
                form.get_or_empty("startDate"),
                form.get_or_empty("endDate"),
                form.get_or_empty("clientRefCode"),
            ],
            &merchant.secret_key,
        )?;
        Ok::<_, Reject>((merchant, start, end))
    })();
    let (merchant, start, end) = match checked {
        Ok(v) => v,
        Err(r) => return r.into_response(),
    };
    if !window_ok(start, end) {
        return list_error("CORE0301", WINDOW_TOO_WIDE);
    }
    let client_ref = form.get_or_empty("clientRefCode");
    let rows: Vec<Value> = {
        let state = sim.lock();
        state
            .rows_between(
                &merchant.merchant_no,
                start,
                end,
                (!client_ref.is_empty()).then_some(client_ref),
            )
            .into_iter()
            .map(payment_list_row)
            .collect()
    };
    if rows.is_empty() {
        return list_error("CORE0305", NO_RECORDS);
    }
    let odd = rows.len() % 2 == 1;
    list_answer(
        json!({
            "RESPONSE_CODE": "2",
            "RESPONSE_DATA": "İşlem başarılı",
            "ERROR_CODE": "",
            "ERROR_MESSAGE": "",
            "LIST": rows,
        }),
        odd,
    )
}

/// One `PfTransactionReportList` row (camelCase).
fn pf_row(tx: &Transaction) -> Value {
    json!({
        "authCode": tx.auth_code,
        "trxDate": clock::fmt_trx(&tx.created_at),
        "installmentCount": tx.installments.to_string(),
        "authorizationAmount": tx.authorization_amount.to_string(),
        "transactionAmount": tx.amount.to_string(),
        "referenceCode": tx.reference_code,
        "saleReferenceCode": tx.sale_reference_code.clone().unwrap_or_default(),
        "clientReferenceCode": tx.client_ref,
        "status": tx.status.wire(),
        "transactionType": tx.kind.wire(),
        "cardNumber": tx.masked_pan.as_str(),
        "cardHolderName": tx.card_holder,
        "is3d": yes_no(tx.is_3d),
        "posType": "VPOS",
        "currencyCode": tx.currency.numeric().to_string(),
        "valorDate": clock::fmt_valor(tx.valor_date),
        "commission": tx.commission.to_string(),
        "isCancelled": yes_no(tx.cancelled),
    })
}

fn pf_error(code: &str, text: &str) -> Response {
    wire::json_answer(&json!({
        "responseCode": "0",
        "responseData": text,
        "errorCode": code,
        "List": [],
    }))
}

/// A positive integer field with a default and an upper bound.
fn page_field(form: &Form, name: &str, default: usize, max: usize) -> Result<usize, Reject> {
    match form.get(name) {
        None | Some("") => Ok(default),
        Some(text) => match text.parse::<usize>() {
            Ok(n) if (1..=max).contains(&n) && text.bytes().all(|b| b.is_ascii_digit()) => Ok(n),
            _ => Err(bad_field(name)),
        },
    }
}

/// `POST /Vpos/Payment/PfTransactionReportList`. The `referenceCode` filter matches a
/// row's own reference or its sale's, so a sale comes with its cancels and refunds.
pub async fn pf_report(
    State(sim): State<Arc<Sim>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    body: Bytes,
) -> Response {
    let form = Form::parse(&body);
    let checked = (|| {
        let merchant = wire::authenticate(&sim, &form, SxKind::List, peer.ip())?;
        let (start, end) = window(&form)?;
        let page = page_field(&form, "pageCount", 1, usize::MAX)?;
        let size = page_field(&form, "pageSize", 100, 1000)?;
        form.required("hashDatav2")?;
        wire::check_hash(
            &form,
            &[
                form.get_or_empty("sx"),
                form.get_or_empty("startDate"),
                form.get_or_empty("endDate"),
                form.get_or_empty("clientReferenceCode"),
                form.get_or_empty("referenceCode"),
            ],
            &merchant.secret_key,
        )?;
        Ok::<_, Reject>((merchant, start, end, page, size))
    })();
    let (merchant, start, end, page, size) = match checked {
        Ok(v) => v,
        Err(r) => return r.into_response(),
    };
    if !window_ok(start, end) {
        return pf_error("CORE0301", WINDOW_TOO_WIDE);
    }
    let client_ref = form.get_or_empty("clientReferenceCode");
    let reference = form.get_or_empty("referenceCode");
    let (total, rows): (usize, Vec<Value>) = {
        let state = sim.lock();
        let matching: Vec<&Transaction> = state
            .rows_between(
                &merchant.merchant_no,
                start,
                end,
                (!client_ref.is_empty()).then_some(client_ref),
            )
            .into_iter()
            .filter(|t| {
                reference.is_empty()
                    || t.reference_code == reference
                    || t.sale_reference_code.as_deref() == Some(reference)
            })
            .collect();
        let skip = (page - 1).saturating_mul(size);
        let rows = matching
            .iter()
            .skip(skip)
            .take(size)
            .map(|t| pf_row(t))
            .collect();
        (matching.len(), rows)
    };
    if rows.is_empty() {
        return pf_error("CORE0305", NO_RECORDS);
    }
    wire::json_answer(&json!({
        "responseCode": "2",
        "responseData": "İşlem başarılı",
        "totalCount": total.to_string(),
        "List": rows,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn window_rule() {
        let d = |s: &str| clock::parse_list_date(s).unwrap();
        assert!(window_ok(d("01.10.2026"), d("01.11.2026")));
        assert!(!window_ok(d("01.10.2026"), d("02.11.2026")));
        assert!(!window_ok(d("02.10.2026"), d("01.10.2026")));
        assert!(window_ok(d("02.10.2026"), d("02.10.2026")));
    }
}
