//! Installment options (`POST /Vpos/Payment/PaymentInstallments`) and the merchant's
//! commission table (`POST /Vpos/Payment/GetMerchandInformation`).

use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{ConnectInfo, State};
use axum::response::{IntoResponse, Response};
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use sanalpos_core::Kurus;
use serde_json::{json, Value};

use crate::cards;
use crate::clock;
use crate::state::{Sim, SxKind};
use crate::tariff::{self, TariffLine, DEFAULT_TARIFF};
use crate::wire::{self, bad_field, Form, Reject};

fn trx_type(installments: u8) -> &'static str {
    if installments == 1 {
        "TEKCEKIM"
    } else {
        "TAKSITLI"
    }
}

/// One installment option for `amount`.
fn option_row(amount: Kurus, line: TariffLine, program: &str, bank_code: &str) -> Value {
    let p = tariff::price(amount, line);
    // Each installment is the total divided by the count, rounded DOWN to the kuruş;
    // the bank adds the remainder to the first installment.
    let per_installment = Kurus::from_minor(p.authorization.minor() / i64::from(line.installments))
        .unwrap_or(Kurus::ZERO);
    let encoded = STANDARD.encode(format!(
        "{program}|{}|{}|{}",
        line.installments, p.amount, p.authorization
    ));
    json!({
        "INSTALLMENT": line.installments.to_string(),
        "INSTALLMENT_AMOUNT": per_installment.to_string(),
        "CARD_TRX_TYPE": trx_type(line.installments),
        "TRANSACTION_AMOUNT": p.amount.to_string(),
        "AUTHORIZATION_AMOUNT": p.authorization.to_string(),
        "COMMISION": tariff::fmt_rate(line.commission_bp),
        "COMMISION_AMOUNT": p.commission.to_string(),
        "MERCHANT_COMMISSION_RATE": tariff::fmt_rate(line.surcharge_bp),
        "MERCHANT_COMMISSION_AMOUNT": p.surcharge.to_string(),
        "EncodedValue": encoded,
        "PROGRAM": program,
        "CURRENCY_CODE": "949",
        "CARD_BANK_CODE": bank_code,
    })
}

/// `POST /Vpos/Payment/PaymentInstallments` (no hash). A known card program gets every
/// line of the commission table; an unknown BIN gets single payment only, with empty
/// `PROGRAM` and `CARD_BANK_CODE`.
pub async fn installments(
    State(sim): State<Arc<Sim>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    body: Bytes,
) -> Response {
    let form = Form::parse(&body);
    let checked = (|| {
        wire::authenticate(&sim, &form, SxKind::Sales, peer.ip())?;
        let amount = form.amount("amount")?;
        let number = form.required("cardNumber")?;
        let check_card = match form.required("iscardvalid")? {
            "true" => true,
            "false" => false,
            _ => return Err(bad_field("iscardvalid")),
        };
        let all_digits = number.bytes().all(|b| b.is_ascii_digit());
        let full = all_digits && (12..=19).contains(&number.len());
        let valid = if check_card {
            full && sanalpos_core::card::luhn_valid(number)
        } else {
            all_digits && (number.len() == 8 || full)
        };
        if !valid {
            return Err(bad_field("cardNumber"));
        }
        Ok::<_, Reject>((amount, cards::bin_info(number)))
    })();
    let (amount, bin) = match checked {
        Ok(v) => v,
        Err(r) => return r.into_response(),
    };
    let rows: Vec<Value> = match bin {
        Some(info) => DEFAULT_TARIFF
            .iter()
            .map(|line| option_row(amount, *line, info.program.code, info.bank_code))
            .collect(),
        None => DEFAULT_TARIFF
            .iter()
            .filter(|l| l.installments == 1)
            .map(|line| option_row(amount, *line, "", ""))
            .collect(),
    };
    wire::json_answer(&json!({
        "RESPONSE_CODE": "2",
        "RESPONSE_DATA": "İşlem başarılı",
        "PAYMENT_BANK_LIST": rows,
    }))
}

/// `POST /Vpos/Payment/GetMerchandInformation`: the commission table, one entry per
/// card program (the simulator's table is the same for every program).
pub async fn merchant_information(
    State(sim): State<Arc<Sim>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    body: Bytes,
) -> Response {
    let form = Form::parse(&body);
    let checked = (|| {
        let merchant = wire::authenticate(&sim, &form, SxKind::Sales, peer.ip())?;
        let date = form.required("date")?;
        clock::parse_list_date(date).ok_or_else(|| bad_field("date"))?;
        form.required("hashDatav2")?;
        wire::check_hash(
            &form,
            &[form.get_or_empty("sx"), date],
            &merchant.secret_key,
        )
    })();
    if let Err(r) = checked {
        return r.into_response();
    }
    let data: Vec<Value> = DEFAULT_TARIFF
        .iter()
        .map(|line| {
            json!({
                "INSTALLMENT": line.installments.to_string(),
                "COMMISSION": tariff::fmt_rate(line.commission_bp),
                "CARD_TRX_TYPE": trx_type(line.installments),
                "MERCHANT_COMMISSION_RATE": tariff::fmt_rate(line.surcharge_bp),
            })
        })
        .collect();
    let list: Vec<Value> = cards::PROGRAMS
        .iter()
        .map(|p| json!({"CODE": p.name, "KEY": p.code, "DATA": data}))
        .collect();
    wire::json_answer(&json!({
        "RESPONSE_CODE": "2",
        "RESPONSE_DATA": "İşlem başarılı",
        "COMMISSION_LIST": list,
    }))
}
