//! The simulated bank's 3D page and the signed callback to the merchant.
//!
//! The page shows the amount, the merchant and the masked card (for `3d_host` it asks
//! for the card itself), and an SMS code field: `123456` authenticates (mdStatus 1),
//! anything else fails (mdStatus 0), Cancel abandons (mdStatus 0, posted to failUrl),
//! and an mdStatus card ([`super::cards::MD_STATUS_CARDS`]) ends with its own mdStatus
//! whatever the code. Every session token is single-use.
//!
//! Then: `3d` stores the authentication for the merchant's 3D Auth (mdStatus 1–4) and
//! posts `mdStatus`, `md`, `xid`, `eci`, `cavv`… ; the paying models charge when
//! mdStatus is 1 (the simulator's choice: no charge on half-secure 2–4) and `3d_pay` /
//! `3d_pay_hosting` add the payment answer (`ProcReturnCode`, `AuthCode`, `EXTRA_*`…),
//! while `3d_host` adds nothing about the payment (settle it with ORDERSTATUS). The
//! callback goes to okUrl when mdStatus is 1 (and, for paying models, the charge was
//! approved), else to failUrl, always with a ver3 `HASH` over all its fields.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use chrono::Datelike;
use rand::Rng;

use super::answer::{self, NewRow};
use super::cards::{self, CardFacts};
use super::codes::{self, CoreError};
use super::gate::{error_page, field, parse_form, FormFields, HPP_1001_TEXT};
use super::hash;
use super::ledger::{Authentication, GateSession, Nestpay, State as Ledger, ThreeD, TxStatus};
use super::sale;
use super::NestpayMerchant;
use crate::cards::UNIVERSAL_3D_CODE;
use crate::clock;
use crate::wire::{self, html_escape};

/// The bank page of a session.
pub fn page_html(token: &str, session: &GateSession) -> String {
    let en = session.english;
    let t = |tr: &'static str, english: &'static str| if en { english } else { tr };
    let currency = match session.currency {
        sanalpos_core::Currency::Try => "TL",
        other => other.alpha(),
    };
    let amount = format!("{} {currency}", session.amount.format_tr());
    let card_line = match &session.card {
        Some(card) => format!(
            "<p>{}: <span id=\"card\">{}</span></p>",
            t("Kart", "Card"),
            html_escape(card.masked.as_str())
        ),
        None => format!(
            "<p><label for=\"pan\">{}</label> <input id=\"pan\" name=\"pan\" inputmode=\"numeric\"></p>\
             <p><label for=\"month\">{}</label> <input id=\"month\" name=\"Ecom_Payment_Card_ExpDate_Month\" size=\"2\"> \
             <input id=\"year\" name=\"Ecom_Payment_Card_ExpDate_Year\" size=\"2\"></p>\
             <p><label for=\"cv2\">CVV</label> <input id=\"cv2\" name=\"cv2\" size=\"4\"></p>",
            t("Kart numarası", "Card number"),
            t("Son kullanma (AA YY)", "Expiry (MM YY)")
        ),
    };
    format!(
        "<!DOCTYPE html><html lang=\"{lang}\"><head><meta charset=\"utf-8\">\
         <title>3D Secure</title></head><body>\
         <h1>{title}</h1>\
         <p>{merchant_label}: <span id=\"merchant\">{merchant}</span></p>\
         <p>{amount_label}: <span id=\"amount\">{amount}</span></p>\
         <form id=\"acs\" method=\"post\" action=\"/fim/acs/{token}\">{card_line}\
         <p>{sms}</p>\
         <label for=\"code\">{code_label}</label> \
         <input type=\"text\" id=\"code\" name=\"code\" autocomplete=\"one-time-code\" inputmode=\"numeric\"> \
         <button type=\"submit\" id=\"submit\" name=\"action\" value=\"submit\">{ok}</button> \
         <button type=\"submit\" id=\"cancel\" name=\"action\" value=\"cancel\">{cancel}</button>\
         </form></body></html>",
        lang = if en { "en" } else { "tr" },
        title = t("3D Secure Doğrulama", "3D Secure Verification"),
        merchant_label = t("Üye işyeri", "Merchant"),
        merchant = html_escape(&session.client_id),
        amount_label = t("Tutar", "Amount"),
        amount = html_escape(&amount),
        token = html_escape(token),
        sms = t(
            "Telefonunuza gönderilen doğrulama kodunu giriniz.",
            "Enter the verification code sent to your phone."
        ),
        code_label = t("SMS kodu", "SMS code"),
        ok = t("Onayla", "Confirm"),
        cancel = t("İptal", "Cancel"),
    )
}

/// The auto-posting callback page: `echo` plus `extra` (bank fields win over echoed
/// ones of the same name), signed with a ver3 `HASH`.
pub fn callback(
    merchant: &NestpayMerchant,
    target: &str,
    echo: FormFields,
    extra: &[(&str, String)],
) -> Response {
    let mut fields: FormFields = echo
        .into_iter()
        .filter(|(k, _)| {
            !k.eq_ignore_ascii_case("HASH") && !extra.iter().any(|(e, _)| e.eq_ignore_ascii_case(k))
        })
        .collect();
    fields.extend(extra.iter().map(|(k, v)| ((*k).to_owned(), v.clone())));
    let signature = hash::ver3_hash(&fields, &merchant.store_key);
    fields.push(("HASH".to_owned(), signature));
    let borrowed: Vec<(&str, String)> = fields
        .iter()
        .map(|(k, v)| (k.as_str(), v.clone()))
        .collect();
    wire::html_answer(StatusCode::OK, wire::auto_post_page(target, &borrowed))
}

fn random_b64(len: usize) -> String {
    let mut bytes = vec![0u8; len];
    rand::rng().fill(&mut bytes[..]);
    STANDARD.encode(bytes)
}

/// The 3D values of an authentication ending with `md_status` on `card`.
fn three_d_values(
    md_status: u8,
    card: &CardFacts,
    client_id: &str,
) -> (String, ThreeD, &'static str, &'static str) {
    let mut rng = rand::rng();
    let hex: String = (0..32)
        .map(|_| format!("{:02X}", rng.random::<u8>()))
        .collect();
    let md = format!(
        "{}:{hex}:{:04}:##{client_id}",
        card.masked.bin6(),
        rng.random_range(0..10_000u32)
    );
    let visa = card.brand != "MASTERCARD";
    let (eci, cavv, txstatus, text) = match md_status {
        1 => (
            if visa { "05" } else { "02" },
            random_b64(20),
            "Y",
            "Authenticated",
        ),
        2 => (
            if visa { "06" } else { "01" },
            random_b64(20),
            "A",
            "Not enrolled",
        ),
        3 => (
            if visa { "06" } else { "01" },
            random_b64(20),
            "A",
            "Issuer not enrolled",
        ),
        4 => (
            if visa { "06" } else { "01" },
            random_b64(20),
            "A",
            "Attempt",
        ),
        5 => ("", String::new(), "U", "Authentication not available"),
        7 => ("", String::new(), "U", "System error"),
        _ => ("", String::new(), "N", "Not authenticated"),
    };
    let three_d = ThreeD {
        md_status: md_status.to_string(),
        xid: random_b64(20),
        eci: eci.to_owned(),
        cavv,
    };
    (md, three_d, txstatus, text)
}

fn not_found_page() -> Response {
    error_page(
        StatusCode::NOT_FOUND,
        false,
        "Bu doğrulama oturumu geçersiz ya da daha önce kullanılmış.",
    )
}

/// `POST /fim/acs/{token}`: ends the session and answers the callback page.
pub async fn submit(
    State(sim): State<Arc<Nestpay>>,
    Path(token): Path<String>,
    body: Bytes,
) -> Response {
    let form = parse_form(&body);
    drop(body);
    let Some(session) = sim.lock().sessions.remove(&token) else {
        return not_found_page();
    };
    let Some(merchant) = sim.lock().merchant(&session.client_id) else {
        return not_found_page();
    };
    let mut echo = session.echo.clone();
    if field(&form, "action") == Some("cancel") {
        let extra = [
            ("mdStatus", "0".to_owned()),
            ("mdErrorMsg", "Cancelled by cardholder".to_owned()),
            ("txstatus", "N".to_owned()),
        ];
        return callback(&merchant, &session.fail_url, echo, &extra);
    }
    let card = match &session.card {
        Some(card) => card.clone(),
        None => match host_card(&form) {
            Ok(card) => {
                echo.push((
                    "Ecom_Payment_Card_ExpDate_Month".into(),
                    field(&form, "Ecom_Payment_Card_ExpDate_Month")
                        .unwrap_or("")
                        .trim()
                        .to_owned(),
                ));
                echo.push((
                    "Ecom_Payment_Card_ExpDate_Year".into(),
                    field(&form, "Ecom_Payment_Card_ExpDate_Year")
                        .unwrap_or("")
                        .trim()
                        .to_owned(),
                ));
                card
            }
            Err((code, text)) => {
                let extra = [
                    ("Response", "Error".to_owned()),
                    ("ErrorCode", code.to_owned()),
                    ("ErrMsg", text.to_owned()),
                ];
                return callback(&merchant, &session.fail_url, echo, &extra);
            }
        },
    };
    let code = field(&form, "code").map(str::trim).unwrap_or("").to_owned();
    drop(form);
    finish(&sim, &merchant, session, echo, card, &code)
}

/// Judges the card typed on the `3d_host` page.
fn host_card(form: &FormFields) -> Result<CardFacts, (&'static str, &'static str)> {
    let get = |name: &str| field(form, name).map(str::trim).unwrap_or("");
    let card = cards::parse_pan(get("pan")).ok_or(("HPP-1001", HPP_1001_TEXT))?;
    let expiry = cards::parse_month_year(
        get("Ecom_Payment_Card_ExpDate_Month"),
        get("Ecom_Payment_Card_ExpDate_Year"),
    )
    .ok_or((codes::BAD_EXPIRY.code, codes::BAD_EXPIRY.text))?;
    let cvv = get("cv2");
    if !(3..=4).contains(&cvv.len()) || !cvv.bytes().all(|b| b.is_ascii_digit()) {
        return Err((codes::BAD_CVV.code, codes::BAD_CVV.text));
    }
    let now = clock::now();
    Ok(CardFacts::judge(
        &card,
        expiry,
        (now.year() as u16, now.month() as u8),
    ))
}

/// Authenticates (or not), charges for the paying models, and answers the callback.
fn finish(
    sim: &Nestpay,
    merchant: &NestpayMerchant,
    session: GateSession,
    echo: FormFields,
    card: CardFacts,
    code: &str,
) -> Response {
    let md_status = card
        .md_status
        .unwrap_or(if code == UNIVERSAL_3D_CODE { 1 } else { 0 });
    let (md, three_d, txstatus, md_text) = three_d_values(md_status, &card, &merchant.client_id);
    let masked = card.masked.as_str();
    let mut extra: Vec<(&str, String)> = vec![
        ("mdStatus", three_d.md_status.clone()),
        ("mdErrorMsg", md_text.to_owned()),
        ("md", md.clone()),
        ("xid", three_d.xid.clone()),
        ("eci", three_d.eci.clone()),
        ("cavv", three_d.cavv.clone()),
        (
            "cavvAlgorithm",
            if three_d.cavv.is_empty() {
                String::new()
            } else {
                "2".into()
            },
        ),
        ("txstatus", txstatus.to_owned()),
        ("maskedCreditCard", cards::spaced_mask(&card.masked)),
        (
            "MaskedPan",
            format!("{}***{}", &masked[..6], &masked[masked.len() - 4..]),
        ),
        ("merchantID", merchant.client_id.clone()),
        ("PAResSyntaxOK", "true".into()),
        ("PAResVerified", (md_status != 0).to_string()),
        ("version", "2.0".into()),
        ("sID", "1".into()),
        ("dsId", "1".into()),
        ("callbackCall", "true".into()),
        ("TRANID", String::new()),
        ("iReqCode", String::new()),
        ("iReqDetail", String::new()),
        ("vendorCode", String::new()),
        ("digest", "digest".into()),
    ];
    let now = clock::now();
    let mut success = md_status == 1;
    let mut state = sim.lock();
    if session.store_type == "3d" {
        if (1..=4).contains(&md_status) {
            state.authentications.insert(
                md,
                Authentication {
                    client_id: merchant.client_id.clone(),
                    order_id: session.order_id.clone(),
                    amount: session.amount,
                    currency: session.currency,
                    three_d,
                    card,
                    used: false,
                },
            );
        }
    } else if md_status == 1 {
        let index = pay(&mut state, merchant, &session, &card, three_d, now);
        let batch = state.batch(&merchant.client_id);
        let tx = &state.txs[index];
        success = tx.status == TxStatus::Approved;
        if session.store_type == "3d_host" {
            if !success {
                extra.push(("ErrMsg", tx.err_msg.clone()));
            }
        } else {
            extra.push(("ProcReturnCode", tx.proc_return_code.clone()));
            extra.push(("Response", format!("{:?}", tx.status)));
            extra.push(("AuthCode", tx.auth_code.clone()));
            extra.push(("TransId", tx.trans_id.clone()));
            extra.push(("HostRefNum", tx.host_ref.clone()));
            extra.push(("ErrMsg", tx.err_msg.clone()));
            extra.push(("SettleId", batch.to_string()));
            let flattened: Vec<(String, String)> = if tx.status == TxStatus::Error {
                vec![
                    ("TRXDATE".into(), answer::trx_date(&tx.created_at)),
                    ("ERRORCODE".into(), tx.error_code.clone()),
                    (
                        "NUMCODE".into(),
                        format!("99{}", tx.error_code.trim_start_matches("CORE-")),
                    ),
                ]
            } else {
                answer::extra_of(tx, merchant, batch)
            };
            for (name, value) in flattened {
                extra.push((extra_name(&name), value));
            }
        }
    }
    drop(state);
    tracing::info!(
        merchant.client_id = %merchant.client_id,
        payment.order_id = %session.order_id,
        md_status,
        success,
        "nestpay 3D finished"
    );
    let target = if success {
        &session.ok_url
    } else {
        &session.fail_url
    };
    callback(merchant, target, echo, &extra)
}

/// `EXTRA_<NAME>` as a static name (the `Extra` names are a fixed set).
fn extra_name(name: &str) -> &'static str {
    const NAMES: &[(&str, &str)] = &[
        ("SETTLEID", "EXTRA_SETTLEID"),
        ("TRXDATE", "EXTRA_TRXDATE"),
        ("ERRORCODE", "EXTRA_ERRORCODE"),
        ("TERMINALID", "EXTRA_TERMINALID"),
        ("MERCHANTID", "EXTRA_MERCHANTID"),
        ("CARDBRAND", "EXTRA_CARDBRAND"),
        ("CARDISSUER", "EXTRA_CARDISSUER"),
        ("AVSAPPROVE", "EXTRA_AVSAPPROVE"),
        ("HOSTDATE", "EXTRA_HOSTDATE"),
        ("AVSERRORCODEDETAIL", "EXTRA_AVSERRORCODEDETAIL"),
        ("NUMCODE", "EXTRA_NUMCODE"),
    ];
    NAMES
        .iter()
        .find(|(n, _)| *n == name)
        .map_or("EXTRA_UNKNOWN", |(_, extra)| extra)
}

/// The charge of a paying model: refused rows for what the core refuses, else the
/// issuer's outcome.
fn pay(
    state: &mut Ledger,
    merchant: &NestpayMerchant,
    session: &GateSession,
    card: &CardFacts,
    three_d: ThreeD,
    now: chrono::DateTime<chrono::FixedOffset>,
) -> usize {
    let refusal: Option<CoreError> = if card.expired {
        Some(codes::EXPIRED)
    } else if session.installments.is_none() {
        Some(codes::INSTALLMENT_NOT_ALLOWED)
    } else if state.order_used(&merchant.client_id, &session.order_id) {
        Some(codes::DUPLICATE_ORDER)
    } else {
        None
    };
    let installments = session.installments.unwrap_or(1);
    match refusal {
        Some(err) => {
            let mut tx = answer::new_row(
                state,
                NewRow {
                    client_id: &merchant.client_id,
                    order_id: &session.order_id,
                    kind: session.tran_type,
                    amount: session.amount,
                    currency: session.currency,
                    installments,
                    card: Some(card),
                    now,
                },
            );
            tx.three_d = Some(three_d);
            answer::refuse(&mut tx, err);
            state.insert(tx)
        }
        None => sale::charge(
            state,
            merchant,
            session.tran_type,
            (
                &session.order_id,
                session.amount,
                session.currency,
                installments,
            ),
            card,
            Some(three_d),
            now,
        ),
    }
}
