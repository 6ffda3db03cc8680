//! `POST /fim/est3Dgate`: the browser arrives with the merchant's form. The gate finds
//! the merchant, checks the ver3 hash over every posted field, then the fields, and
//! either shows the bank page (see [`super::bank_page`]) or posts a signed failure
//! back to `failUrl` at once.
//!
//! Simulator choices where the spec is silent: an unknown `clientid` or a `failUrl`
//! that is not an absolute http(s) URL gets an HTML error page (nothing can be posted
//! back); a wrong or missing hash, or a `hashAlgorithm` other than `ver3`, posts
//! `Response` Error with `ErrMsg` "Guvenlik Kodu hatali." (the text public
//! integrations report for hash errors) and no `mdStatus`; field errors post the
//! matching `CORE-xxxx` as `ErrorCode`; a bad card number posts the recorded
//! `HPP-1001` answer; an unknown `storetype` posts the `3D-1007` answer (mdStatus 7).

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use chrono::Datelike;
use rand::Rng;
use sanalpos_core::Kurus;

use super::api;
use super::bank_page;
use super::cards::{self, CardFacts};
use super::codes::{self, CoreError};
use super::hash;
use super::ledger::{GateSession, Nestpay, TxType};
use super::xml::percent_decode;
use super::NestpayMerchant;
use crate::clock;
use crate::wire::{self, html_escape};

/// The recorded `ErrMsg` of `HPP-1001` (card number format rejected).
pub const HPP_1001_TEXT: &str = "Girilen kart numarası doğru formatta değildir. Kart numarasını kontrol ederek tekrar işlem deneyiniz.";

/// The `ErrMsg` of a request whose hash does not verify.
pub const HASH_ERROR_TEXT: &str = "Guvenlik Kodu hatali.";

/// The store types the gate serves.
pub const STORE_TYPES: &[&str] = &["3d", "3d_pay", "3d_pay_hosting", "3d_host"];

/// Fields posted by a browser: `(name, value)` in order, values decoded from UTF-8 or,
/// when not valid UTF-8, from ISO-8859-9.
pub type FormFields = Vec<(String, String)>;

/// Parses an `application/x-www-form-urlencoded` body.
pub fn parse_form(body: &[u8]) -> FormFields {
    let text = |bytes: Vec<u8>| match String::from_utf8(bytes) {
        Ok(text) => text,
        Err(e) => encoding_rs::WINDOWS_1254
            .decode(e.as_bytes())
            .0
            .into_owned(),
    };
    body.split(|b| *b == b'&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (name, value) = match pair.iter().position(|b| *b == b'=') {
                Some(at) => (&pair[..at], &pair[at + 1..]),
                None => (pair, &b""[..]),
            };
            (text(percent_decode(name)), text(percent_decode(value)))
        })
        .collect()
}

/// The last value posted under `name` (PHP `$_POST` semantics).
pub fn field<'a>(fields: &'a FormFields, name: &str) -> Option<&'a str> {
    fields
        .iter()
        .rev()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// Whether `url` is an absolute `http://` or `https://` URL with a host.
pub fn is_absolute_http_url(url: &str) -> bool {
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"));
    match rest {
        Some(rest) => {
            let host = rest.split(['/', '?', '#']).next().unwrap_or("");
            !host.is_empty() && !url.chars().any(|c| c.is_whitespace() || c.is_control())
        }
        None => false,
    }
}

/// The posted fields the callback echoes: all but the card number, CVV and hash.
pub fn echo_fields(fields: &FormFields) -> FormFields {
    let mut echo: FormFields = Vec::new();
    for (name, value) in fields {
        if ["pan", "cv2", "hash"]
            .iter()
            .any(|skip| name.eq_ignore_ascii_case(skip))
        {
            continue;
        }
        match echo.iter_mut().find(|(k, _)| k == name) {
            Some(slot) => slot.1 = value.clone(),
            None => echo.push((name.clone(), value.clone())),
        }
    }
    echo
}

/// An HTML error page of the gate (nothing can be posted back).
pub fn error_page(status: StatusCode, english: bool, text: &str) -> Response {
    let title = if english {
        "Transaction error"
    } else {
        "İşlem hatası"
    };
    wire::html_answer(
        status,
        format!(
            "<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>{title}</title></head>\
             <body><h1>{title}</h1><p id=\"error\">{}</p></body></html>",
            html_escape(text)
        ),
    )
}

/// What the gate refuses, with what it posts back.
enum GateRefusal {
    /// `ErrorCode` (maybe empty) and `ErrMsg`, no mdStatus.
    Error(&'static str, &'static str),
    /// The `3D-1007` answer: the merchant is not set up for this model.
    Model,
}

impl From<CoreError> for GateRefusal {
    fn from(err: CoreError) -> GateRefusal {
        GateRefusal::Error(err.code, err.text)
    }
}

/// The checked form: everything a session needs.
struct Checked {
    order_id: String,
    amount: Kurus,
    currency: sanalpos_core::Currency,
    installments: Option<u8>,
    tran_type: TxType,
    store_type: String,
    ok_url: String,
    card: Option<CardFacts>,
}

fn check(
    sim: &Nestpay,
    merchant: &NestpayMerchant,
    fields: &FormFields,
) -> Result<Checked, GateRefusal> {
    let get = |name: &str| field(fields, name).map(str::trim).filter(|v| !v.is_empty());
    let hash_ok = get("hashAlgorithm").is_some_and(|a| a.eq_ignore_ascii_case("ver3"))
        && get("hash").is_some_and(|h| hash::verify_ver3(fields, &merchant.store_key, h));
    if !hash_ok {
        return Err(GateRefusal::Error("", HASH_ERROR_TEXT));
    }
    let store_type = get("storetype").unwrap_or("").to_owned();
    if !STORE_TYPES.contains(&store_type.as_str()) {
        return Err(GateRefusal::Model);
    }
    let order_id = get("oid").ok_or(codes::NULL_FIELD)?.to_owned();
    if order_id.chars().count() > 64 {
        return Err(codes::LONG_ORDER_ID.into());
    }
    let amount =
        api::parse_total(get("amount").ok_or(codes::NULL_FIELD)?).ok_or(codes::BAD_AMOUNT)?;
    if amount == Kurus::ZERO {
        return Err(codes::ZERO_AMOUNT.into());
    }
    let ok_url = get("okUrl")
        .filter(|u| is_absolute_http_url(u))
        .ok_or(codes::NULL_FIELD)?;
    get("rnd").ok_or(codes::NULL_FIELD)?;
    let currency = api::parse_currency(get("currency"))?;
    let tran_type = match get("TranType").or_else(|| get("islemtipi")) {
        None => return Err(codes::NO_TYPE.into()),
        Some("Auth") => TxType::Auth,
        Some("PreAuth") => TxType::PreAuth,
        Some(_) => return Err(codes::BAD_TYPE.into()),
    };
    let installments = api::parse_installments(field(fields, "taksit"))?;
    let installments = api::installments_allowed(merchant, installments).then_some(installments);
    if sim.lock().order_used(&merchant.client_id, &order_id) {
        return Err(codes::DUPLICATE_ORDER.into());
    }
    let card = if store_type == "3d_host" {
        None
    } else {
        Some(card_from(fields)?)
    };
    Ok(Checked {
        order_id,
        amount,
        currency,
        installments,
        tran_type,
        store_type,
        ok_url: ok_url.to_owned(),
        card,
    })
}

/// Judges the card fields `pan`, `Ecom_Payment_Card_ExpDate_Month` / `_Year`, `cv2`.
fn card_from(fields: &FormFields) -> Result<CardFacts, GateRefusal> {
    let get = |name: &str| field(fields, name).map(str::trim).unwrap_or("");
    let card = cards::parse_pan(get("pan")).ok_or(GateRefusal::Error("HPP-1001", HPP_1001_TEXT))?;
    let expiry = cards::parse_month_year(
        get("Ecom_Payment_Card_ExpDate_Month"),
        get("Ecom_Payment_Card_ExpDate_Year"),
    )
    .ok_or(codes::BAD_EXPIRY)?;
    let cvv = get("cv2");
    if !(3..=4).contains(&cvv.len()) || !cvv.bytes().all(|b| b.is_ascii_digit()) {
        return Err(codes::BAD_CVV.into());
    }
    let now = clock::now();
    Ok(CardFacts::judge(
        &card,
        expiry,
        (now.year() as u16, now.month() as u8),
    ))
}

/// `POST /fim/est3Dgate` (and `/fim/est3dgate`).
pub async fn gate(State(sim): State<Arc<Nestpay>>, body: Bytes) -> Response {
    let fields = parse_form(&body);
    drop(body);
    let english = field(&fields, "lang").is_some_and(|l| l.trim().eq_ignore_ascii_case("en"));
    let merchant = field(&fields, "clientid").and_then(|id| sim.lock().merchant(id.trim()));
    let Some(merchant) = merchant else {
        let text = if english {
            "Merchant not found."
        } else {
            "Üye işyeri bulunamadı."
        };
        return error_page(StatusCode::OK, english, text);
    };
    let Some(fail_url) = field(&fields, "failUrl")
        .map(str::trim)
        .filter(|u| is_absolute_http_url(u))
    else {
        let text = if english {
            "failUrl is missing or invalid."
        } else {
            "failUrl eksik ya da hatalı."
        };
        return error_page(StatusCode::OK, english, text);
    };
    let fail_url = fail_url.to_owned();
    let echo = echo_fields(&fields);
    let checked = check(&sim, &merchant, &fields);
    drop(fields);
    let checked = match checked {
        Ok(checked) => checked,
        Err(GateRefusal::Error(code, text)) => {
            let mut extra = vec![
                ("Response", "Error".to_owned()),
                ("ErrMsg", text.to_owned()),
            ];
            if !code.is_empty() {
                extra.push(("ErrorCode", code.to_owned()));
            }
            return bank_page::callback(&merchant, &fail_url, echo, &extra);
        }
        Err(GateRefusal::Model) => {
            let extra = [
                ("mdStatus", "7".to_owned()),
                ("ProcReturnCode", "99".to_owned()),
                ("Response", "Error".to_owned()),
                ("ErrCode", "3D-1007".to_owned()),
                ("ErrMsg", "Isyeri kullanim tipi desteklenmiyor".to_owned()),
            ];
            return bank_page::callback(&merchant, &fail_url, echo, &extra);
        }
    };
    let mut token_bytes = [0u8; 24];
    rand::rng().fill(&mut token_bytes);
    let token = hex::encode(token_bytes);
    let session = GateSession {
        client_id: merchant.client_id.clone(),
        order_id: checked.order_id,
        amount: checked.amount,
        currency: checked.currency,
        installments: checked.installments,
        tran_type: checked.tran_type,
        store_type: checked.store_type,
        ok_url: checked.ok_url,
        fail_url,
        english,
        echo,
        card: checked.card,
    };
    let page = bank_page::page_html(&token, &session);
    tracing::info!(
        merchant.client_id = %merchant.client_id,
        payment.order_id = %session.order_id,
        store_type = %session.store_type,
        "nestpay 3D started"
    );
    sim.lock().sessions.insert(token, session);
    wire::html_answer(StatusCode::OK, page)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms_decode_utf8_and_latin5() {
        let fields = parse_form(b"a=%C5%9F&b=%FE&c=x+y&c=z&d");
        assert_eq!(field(&fields, "a"), Some("ş"));
        assert_eq!(field(&fields, "b"), Some("ş"));
        assert_eq!(field(&fields, "c"), Some("z"));
        assert_eq!(field(&fields, "d"), Some(""));
        let echo = echo_fields(&parse_form(b"pan=4546711234567894&cv2=000&hash=x&oid=1"));
        assert_eq!(echo, vec![("oid".to_owned(), "1".to_owned())]);
        assert!(is_absolute_http_url("https://shop.example/ok"));
        assert!(!is_absolute_http_url("/ok"));
    }
}
