//! The card vault ("Kart Saklama"): `POST /Vpos/Payment/CardStorageCardRegister`,
//! `POST /Vpos/Payment/CardStorageCardList` and `POST /Vpos/Payment/CardStorageCardDelete`.
//! Paying with a stored card and keeping the card of a sale are part of
//! `/Vpos/v1/Payment` (see [`super::payment`]).
//!
//! Paths, the `sx` credential and the hash orders are the documented ones; the register
//! call's other fields are ours, named as the payment's (`customerKey`, `cardHolderName`,
//! `month`, `year`, `cvv`, and `cardAlias`), `cardHolderName` and `cardAlias` optional. A wrong `sx`,
//! a missing field or a wrong hash gets the same answers as every other endpoint. The
//! list and delete answers take the shapes one integration's logs showed: the list
//! `{ProcReturnCode:"00", ErrMsg, Data:{cards:{Card:{CardFileds:{Detail:[{Token, TranId,
//! Maskedpan, CARDBRAND, CARDISSUER, CARD_ALIACE}]}}}}}`, `"02"` with "Gecerli Kart Yok"
//! when the customer has no card; the delete `{TRAN_ID, RESPONSE_CODE, ERROR_CODE,
//! RESPONSE_DATA, ERROR_MESSAGE}`. The register answer is published nowhere: ours is the
//! list's envelope with the new card under `Data` (`{ProcReturnCode:"00", ErrMsg,
//! Data:{Token, TranId, Maskedpan, CARDBRAND, CARDISSUER, CARD_ALIACE}}`), and a card the
//! vault refuses gets the bank code of the refusal (`14` a number failing Luhn, `54` an
//! expired card) in `ProcReturnCode`. Registering a card the customer already keeps
//! answers the card already kept (no second copy), with the new expiry. Registration charges nothing, so a
//! magic decline card is kept like any other and declines when it pays. Four fault
//! cards apply to registration: `…9011` kept, then answered after the slow delay;
//! `…9029` kept, then HTTP 500; `…9037` nothing kept, HTTP 500; `…9060` nothing kept,
//! the connection closed. The other fault cards are kept and answered normally.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{ConnectInfo, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::Datelike;
use serde_json::{json, Value};

use super::payment::plain_status;
use crate::cards::{self, Fault};
use crate::state::{Sim, SxKind};
use crate::vault::{NewCard, VaultCard};
use crate::wire::{self, bad_field, Form, Reject};
use crate::{clock, hash};

/// The customer key's longest accepted length.
const CUSTOMER_KEY_MAX: usize = 64;
/// `ProcReturnCode` of a vault answer that did what was asked.
const PROC_OK: &str = "00";
/// The delete answer's `ERROR_CODE` when the customer has no such card.
pub const CARD_NOT_FOUND_CODE: &str = "CS0004";
/// The text of a stored card that is not there (deleted, another customer's or another
/// merchant's).
pub const CARD_NOT_FOUND: &str = "Kayıtlı kart bulunamadı";

fn digits(text: &str, lengths: std::ops::RangeInclusive<usize>) -> bool {
    lengths.contains(&text.len()) && text.bytes().all(|b| b.is_ascii_digit())
}

/// The required `customerKey` (or `csCustomerKey`), at most 64 characters.
pub fn customer_key<'a>(form: &'a Form, name: &str) -> Result<&'a str, Reject> {
    let key = form.required(name)?;
    if key.chars().count() > CUSTOMER_KEY_MAX {
        return Err(bad_field(name));
    }
    Ok(key)
}

/// One card as the list and the register answer show it.
fn card_fields(card: &VaultCard) -> Value {
    json!({
        "Token": card.token,
        "TranId": card.tran_id,
        "Maskedpan": card.masked().as_str(),
        "CARDBRAND": card.brand(),
        "CARDISSUER": card.issuer(),
        "CARD_ALIACE": card.alias,
    })
}

fn proc_answer(code: &str, text: &str) -> Response {
    wire::json_answer(&json!({"ProcReturnCode": code, "ErrMsg": text, "Data": null}))
}

/// `POST /Vpos/Payment/CardStorageCardRegister`.
pub async fn register(
    State(sim): State<Arc<Sim>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    body: Bytes,
) -> Response {
    match handle_register(&sim, peer, &body) {
        Ok((answer, slow)) => {
            if slow {
                tokio::time::sleep(sim.slow_answer_delay).await;
            }
            answer
        }
        Err(reject) => reject.into_response(),
    }
}

/// The register call's answer, and whether it is to be sent only after the slow
/// delay (the slow fault card).
fn handle_register(sim: &Sim, peer: SocketAddr, body: &[u8]) -> Result<(Response, bool), Reject> {
    let form = Form::parse(body);
    let merchant = wire::authenticate(sim, &form, SxKind::Sales, peer.ip())?;
    let customer_key = customer_key(&form, "customerKey")?;
    let pan = form.required("cardNumber")?;
    if !digits(pan, 12..=19) {
        return Err(bad_field("cardNumber"));
    }
    let month_text = form.required("month")?;
    let month = match month_text.parse::<u8>() {
        Ok(m @ 1..=12) if digits(month_text, 2..=2) => m,
        _ => return Err(bad_field("month")),
    };
    let year_text = form.required("year")?;
    let year = match year_text.parse::<u16>() {
        Ok(y) if digits(year_text, 4..=4) => y,
        _ => return Err(bad_field("year")),
    };
    let cvv = form.required("cvv")?;
    if !digits(cvv, 3..=4) {
        return Err(bad_field("cvv"));
    }
    form.required("hashDatav2")?;
    let expected = hash::card_register(form.get_or_empty("sx"), pan, cvv, &merchant.secret_key);
    wire::check_signature(&form, &expected)?;

    if !sanalpos_core::card::luhn_valid(pan) {
        return Ok((proc_answer("14", "Geçersiz kart numarası"), false));
    }
    let now = clock::now();
    if (year, month) < (now.year() as u16, now.month() as u8) {
        return Ok((
            proc_answer("54", "Kartın son kullanma tarihi dolmuş"),
            false,
        ));
    }
    let fault = cards::fault(pan);
    match fault {
        Some(Fault::NoCharge500) => {
            tracing::info!(merchant.no = %merchant.merchant_no, "fault card: 500, card not kept");
            return Ok((plain_status(StatusCode::INTERNAL_SERVER_ERROR), false));
        }
        Some(Fault::DropConnection) => {
            tracing::info!(merchant.no = %merchant.merchant_no, "fault card: dropping connection, card not kept");
            return Ok((wire::drop_connection(), false));
        }
        _ => {}
    }
    let card = NewCard {
        pan: pan.to_owned(),
        expiry: (year, month),
        holder: form.get_or_empty("cardHolderName").to_owned(),
        alias: form.get_or_empty("cardAlias").to_owned(),
    };
    let stored = {
        let mut state = sim.lock();
        let Some(merchant_state) = state.merchants.get_mut(&merchant.merchant_no) else {
            return Err(Reject::Auth);
        };
        merchant_state.vault.store(customer_key, card)
    };
    tracing::info!(
        merchant.no = %merchant.merchant_no,
        card = %stored.masked(),
        "card stored"
    );
    let answer = wire::json_answer(&json!({
        "ProcReturnCode": PROC_OK,
        "ErrMsg": "",
        "Data": card_fields(&stored),
    }));
    Ok(match fault {
        Some(Fault::ChargeThen500) => {
            tracing::info!(merchant.no = %merchant.merchant_no, "fault card: card kept, then 500");
            (plain_status(StatusCode::INTERNAL_SERVER_ERROR), false)
        }
        Some(Fault::SlowAnswer) => (answer, true),
        _ => (answer, false),
    })
}

/// `POST /Vpos/Payment/CardStorageCardList`.
pub async fn list(
    State(sim): State<Arc<Sim>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    body: Bytes,
) -> Response {
    handle_list(&sim, peer, &body).unwrap_or_else(IntoResponse::into_response)
}

fn handle_list(sim: &Sim, peer: SocketAddr, body: &[u8]) -> Result<Response, Reject> {
    let form = Form::parse(body);
    let merchant = wire::authenticate(sim, &form, SxKind::Sales, peer.ip())?;
    let customer_key = customer_key(&form, "customerKey")?;
    form.required("hashDatav2")?;
    let expected = hash::card_list(form.get_or_empty("sx"), customer_key, &merchant.secret_key);
    wire::check_signature(&form, &expected)?;

    let details: Vec<Value> = {
        let state = sim.lock();
        state
            .merchants
            .get(&merchant.merchant_no)
            .map(|m| {
                m.vault
                    .cards(customer_key)
                    .iter()
                    .map(card_fields)
                    .collect()
            })
            .unwrap_or_default()
    };
    if details.is_empty() {
        return Ok(proc_answer("02", "Gecerli Kart Yok"));
    }
    Ok(wire::json_answer(&json!({
        "ProcReturnCode": PROC_OK,
        "ErrMsg": "",
        "Data": {"cards": {"Card": {"CardFileds": {"Detail": details}}}},
    })))
}

/// `POST /Vpos/Payment/CardStorageCardDelete`.
pub async fn delete(
    State(sim): State<Arc<Sim>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    body: Bytes,
) -> Response {
    handle_delete(&sim, peer, &body).unwrap_or_else(IntoResponse::into_response)
}

fn handle_delete(sim: &Sim, peer: SocketAddr, body: &[u8]) -> Result<Response, Reject> {
    let form = Form::parse(body);
    let merchant = wire::authenticate(sim, &form, SxKind::Sales, peer.ip())?;
    let customer_key = customer_key(&form, "customerKey")?;
    let tran_id = form.get_or_empty("tranId");
    let token = form.get_or_empty("token");
    if tran_id.is_empty() && token.is_empty() {
        return Err(Reject::Field("tranId veya token alanı zorunludur".into()));
    }
    form.required("hashDatav2")?;
    let expected = hash::card_delete(
        form.get_or_empty("sx"),
        customer_key,
        tran_id,
        token,
        &merchant.secret_key,
    );
    wire::check_signature(&form, &expected)?;

    let deleted = {
        let mut state = sim.lock();
        state
            .merchants
            .get_mut(&merchant.merchant_no)
            .and_then(|m| m.vault.delete(customer_key, tran_id, token))
    };
    let answer = match deleted {
        Some(tran_id) => {
            tracing::info!(merchant.no = %merchant.merchant_no, "stored card deleted");
            json!({
                "TRAN_ID": tran_id,
                "RESPONSE_CODE": "2",
                "ERROR_CODE": "",
                "RESPONSE_DATA": "İşlem başarılı",
                "ERROR_MESSAGE": "",
            })
        }
        None => json!({
            "TRAN_ID": "",
            "RESPONSE_CODE": "0",
            "ERROR_CODE": CARD_NOT_FOUND_CODE,
            "RESPONSE_DATA": CARD_NOT_FOUND,
            "ERROR_MESSAGE": CARD_NOT_FOUND,
        }),
    };
    Ok(wire::json_answer(&answer))
}
