//! `POST /servlet/gt3dengine`, the bank's 3D page, and the signed callback to the
//! merchant.
//!
//! The engine checks the form as the bank does (the terminal and its merchant number,
//! the provision user, `secure3dhash` by `apiversion`, the amount, the card); a form it
//! refuses comes back to `errorurl` as the recorded error callback does: `mdstatus` 7,
//! `response` Error, `procreturncode` 99, no hash. Otherwise the page shows the amount
//! and the masked card and asks for the SMS code: `123456` authenticates (`mdstatus` 1),
//! anything else fails (0), Cancel abandons (0), and an mdstatus card ends with its own
//! `mdstatus`. Then `3D` stores the authentication for the merchant's provision
//! (`mdstatus` 1–4) and `3D_PAY` charges the card when `mdstatus` is 1. The callback
//! carries the echoed form (never the card), the 3D values, and `hash` over the fields
//! `hashparams` names, in the generation of the form's `apiversion`.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use chrono::Datelike;
use rand::distr::{Alphanumeric, SampleString};
use rand::Rng;
use sanalpos_core::Currency;

use super::api;
use super::hash;
use super::ledger::{Authentication, CardFacts, Garanti, GateSession, TxType};
use super::sale::{self, Order};
use crate::cards::UNIVERSAL_3D_CODE;
use crate::clock;
use crate::wire::{self, html_escape};

/// The fields `hashparams` names in every callback.
pub const HASH_PARAMS: &str =
    "clientid:oid:authcode:procreturncode:response:mdstatus:cavv:eci:md:rnd:";

/// Form fields that are never echoed (card data, the form's own hash).
const NOT_ECHOED: [&str; 5] = [
    "cardnumber",
    "cardexpiredatemonth",
    "cardexpiredateyear",
    "cardcvv2",
    "secure3dhash",
];

type Fields = Vec<(String, String)>;

fn field<'a>(fields: &'a Fields, name: &str) -> &'a str {
    fields
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.trim())
        .unwrap_or_default()
}

/// A page the browser sees when the form cannot even say where to go back to.
fn error_page(text: &str) -> Response {
    wire::html_answer(
        StatusCode::BAD_REQUEST,
        format!(
            "<!DOCTYPE html><html lang=\"tr\"><head><meta charset=\"utf-8\"><title>Hata</title></head>\
             <body><h1>İşlem yapılamadı</h1><p id=\"error\">{}</p></body></html>",
            html_escape(text)
        ),
    )
}

/// The recorded shape of a refused form: to `errorurl`, without a hash.
fn refused(fields: &Fields, text: &str) -> Response {
    let mut out: Vec<(&str, String)> = fields
        .iter()
        .filter(|(k, _)| !NOT_ECHOED.contains(&k.as_str()))
        .map(|(k, v)| (k.as_str(), v.clone()))
        .collect();
    out.extend([
        ("mdstatus", "7".to_owned()),
        ("mderrormessage", text.to_owned()),
        ("errmsg", text.to_owned()),
        ("response", "Error".to_owned()),
        ("procreturncode", "99".to_owned()),
        ("clientid", field(fields, "terminalid").to_owned()),
        ("oid", field(fields, "orderid").to_owned()),
    ]);
    wire::html_answer(
        StatusCode::OK,
        wire::auto_post_page(field(fields, "errorurl"), &out),
    )
}

/// `POST /servlet/gt3dengine`.
pub async fn engine(State(sim): State<Arc<Garanti>>, body: Bytes) -> Response {
    let fields: Fields = serde_urlencoded::from_bytes(&body).unwrap_or_default();
    let error_url = field(&fields, "errorurl");
    let success_url = field(&fields, "successurl");
    if !error_url.starts_with("http") || !success_url.starts_with("http") {
        return error_page("successurl ve errorurl gerekli");
    }
    match open_session(&sim, &fields) {
        Ok((token, session)) => wire::html_answer(StatusCode::OK, page_html(&token, &session)),
        Err(text) => refused(&fields, text),
    }
}

/// Checks the form and opens a session on the bank page.
fn open_session(sim: &Garanti, fields: &Fields) -> Result<(String, GateSession), &'static str> {
    let f = |name: &str| field(fields, name);
    let merchant = sim
        .lock()
        .merchant(f("terminalid"))
        .ok_or("Terminal bulunamadı")?;
    if f("terminalmerchantid") != merchant.merchant_id
        || f("terminalprovuserid") != merchant.prov_user
    {
        return Err("Üye işyeri bilgileri hatalı");
    }
    let level = f("secure3dsecuritylevel").to_ascii_uppercase();
    if level != "3D" && level != "3D_PAY" {
        return Err("Güvenlik seviyesi desteklenmiyor");
    }
    let version_512 = hash::is_512(f("apiversion"));
    let security = hash::security_data(&merchant.prov_password, &merchant.terminal_id);
    let expected = hash::form_hash(
        version_512,
        [
            f("terminalid"),
            f("orderid"),
            f("txnamount"),
            f("txncurrencycode"),
            f("successurl"),
            f("errorurl"),
            f("txntype"),
            f("txninstallmentcount"),
        ],
        &merchant.store_key,
        &security,
    );
    if !hash::same(&expected, f("secure3dhash")) {
        return Err("Güvenlik kodu (secure3dhash) hatalı");
    }
    let kind = match f("txntype") {
        "sales" => TxType::Sales,
        "preauth" => TxType::PreAuth,
        _ => return Err("İşlem tipi hatalı"),
    };
    let amount = api::parse_amount(Some(f("txnamount"))).map_err(|_| "Tutar hatalı")?;
    let currency =
        api::parse_currency(Some(f("txncurrencycode"))).map_err(|_| "Para birimi hatalı")?;
    let installments =
        api::parse_installments(Some(f("txninstallmentcount"))).map_err(|_| "Taksit hatalı")?;
    if installments > 1 && !merchant.installments.contains(&installments) {
        return Err("Taksit sayısı tanımlı değil");
    }
    if f("orderid").is_empty() || f("orderid").len() > 36 {
        return Err("Sipariş numarası hatalı");
    }
    let (month, year) = (f("cardexpiredatemonth"), f("cardexpiredateyear"));
    let expiry = match (month.parse::<u8>(), year.parse::<u16>()) {
        (Ok(m), Ok(y)) if month.len() == 2 && year.len() == 2 && (1..=12).contains(&m) => {
            (2000 + y, m)
        }
        _ => return Err("Son kullanma tarihi hatalı"),
    };
    let now = clock::now();
    let pan = f("cardnumber");
    if !(12..=19).contains(&pan.len()) || f("cardcvv2").len() < 3 {
        return Err("Kart bilgileri hatalı");
    }
    let card = CardFacts::judge(pan, expiry, (now.year() as u16, now.month() as u8))
        .ok_or("Kart bilgileri hatalı")?;
    let forced_md_status = crate::nestpay::cards::md_status_of(pan).map(|s| match s {
        0 => "0",
        2 => "2",
        4 => "4",
        5 => "5",
        _ => "7",
    });
    let session = GateSession {
        terminal_id: merchant.terminal_id.clone(),
        order_id: f("orderid").to_owned(),
        amount,
        currency,
        installments,
        kind,
        level,
        version_512,
        success_url: f("successurl").to_owned(),
        error_url: f("errorurl").to_owned(),
        echo: fields
            .iter()
            .filter(|(k, _)| !NOT_ECHOED.contains(&k.as_str()))
            .cloned()
            .collect(),
        card,
        forced_md_status,
    };
    let token = Alphanumeric.sample_string(&mut rand::rng(), 32);
    sim.lock().sessions.insert(token.clone(), session.clone());
    Ok((token, session))
}

/// The bank page of a session.
pub fn page_html(token: &str, session: &GateSession) -> String {
    let currency = match session.currency {
        Currency::Try => "TL",
        other => other.alpha(),
    };
    format!(
        "<!DOCTYPE html><html lang=\"tr\"><head><meta charset=\"utf-8\">\
         <title>3D Secure</title></head><body>\
         <h1>Garanti BBVA 3D Secure Doğrulama</h1>\
         <p>Üye işyeri: <span id=\"merchant\">{merchant}</span></p>\
         <p>Tutar: <span id=\"amount\">{amount} {currency}</span></p>\
         <p>Kart: <span id=\"card\">{card}</span></p>\
         <form id=\"acs\" method=\"post\" action=\"/servlet/acs/{token}\">\
         <p>Telefonunuza gönderilen doğrulama kodunu giriniz.</p>\
         <label for=\"code\">SMS kodu</label> \
         <input type=\"text\" id=\"code\" name=\"code\" autocomplete=\"one-time-code\" inputmode=\"numeric\"> \
         <button type=\"submit\" id=\"submit\" name=\"action\" value=\"submit\">Onayla</button> \
         <button type=\"submit\" id=\"cancel\" name=\"action\" value=\"cancel\">İptal</button>\
         </form></body></html>",
        merchant = html_escape(&session.terminal_id),
        amount = html_escape(&session.amount.format_tr()),
        card = html_escape(session.card.masked.as_str()),
        token = html_escape(token),
    )
}

fn random_b64(len: usize) -> String {
    let mut bytes = vec![0u8; len];
    rand::rng().fill(&mut bytes[..]);
    STANDARD.encode(bytes)
}

/// `POST /servlet/acs/{token}`: the SMS code, then the callback.
pub async fn submit(
    State(sim): State<Arc<Garanti>>,
    Path(token): Path<String>,
    body: Bytes,
) -> Response {
    let form: Fields = serde_urlencoded::from_bytes(&body).unwrap_or_default();
    let Some(session) = sim.lock().sessions.remove(&token) else {
        return error_page("Oturum bulunamadı veya kullanıldı");
    };
    let Some(merchant) = sim.lock().merchant(&session.terminal_id) else {
        return error_page("Terminal bulunamadı");
    };
    let cancelled = field(&form, "action") == "cancel";
    let md_status = match session.forced_md_status {
        Some(forced) => forced,
        None if !cancelled && field(&form, "code") == UNIVERSAL_3D_CODE => "1",
        None => "0",
    };
    let authenticated = matches!(md_status, "1" | "2" | "3" | "4");
    let (eci, cavv) = if authenticated {
        ("02".to_owned(), random_b64(20))
    } else {
        (String::new(), String::new())
    };
    let md = random_b64(96);
    let xid = format!(
        "{:08x}-{:04x}-4{:03x}-a{:03x}-{:012x}",
        rand::rng().random::<u32>(),
        rand::rng().random::<u16>(),
        rand::rng().random_range(0..0x1000u16),
        rand::rng().random_range(0..0x1000u16),
        rand::rng().random_range(0..0x1_0000_0000_0000u64)
    );
    let mut result: Vec<(&str, String)> = vec![
        ("mdstatus", md_status.to_owned()),
        (
            "mderrormessage",
            if md_status == "1" {
                "Authenticated".into()
            } else {
                "Not authenticated".into()
            },
        ),
        (
            "txnstatus",
            if md_status == "1" {
                "Y".into()
            } else {
                "N".into()
            },
        ),
        ("eci", eci.clone()),
        ("cavv", cavv.clone()),
        ("xid", xid.clone()),
        ("md", md.clone()),
        ("oid", session.order_id.clone()),
        ("transid", session.order_id.clone()),
        ("clientid", session.terminal_id.clone()),
        ("MaskedPan", session.card.masked.as_str().to_owned()),
        ("rnd", Alphanumeric.sample_string(&mut rand::rng(), 20)),
    ];
    let mut approved = md_status == "1";
    let pay = session.level == "3D_PAY";
    let (mut authcode, mut procreturncode, mut response, mut hostrefnum, mut errmsg) = (
        String::new(),
        String::new(),
        String::new(),
        String::new(),
        String::new(),
    );
    if pay && md_status == "1" {
        let order = Order {
            order_id: session.order_id.clone(),
            amount: session.amount,
            currency: session.currency,
            installments: session.installments,
        };
        let mut state = sim.lock();
        if state.order_used(&session.terminal_id, &order.order_id) {
            approved = false;
            procreturncode = "92".into();
            response = "Declined".into();
            errmsg = super::codes::DUPLICATE_ORDER.message.into();
        } else {
            let now = clock::now();
            let index = sale::charge(
                &mut state,
                &session.terminal_id,
                session.kind,
                &order,
                &session.card,
                true,
                now,
            );
            let tx = &state.txs[index];
            approved = tx.approved;
            authcode = tx.auth_code.clone();
            procreturncode = tx.code.clone();
            response = if tx.approved {
                "Approved".into()
            } else {
                "Declined".into()
            };
            hostrefnum = tx.retref.clone();
            errmsg = tx.error_msg.clone();
        }
    } else if !pay && authenticated {
        sim.lock().authentications.insert(
            md.clone(),
            Authentication {
                terminal_id: session.terminal_id.clone(),
                order_id: session.order_id.clone(),
                amount: session.amount,
                currency: session.currency,
                cavv,
                eci,
                xid,
                card: session.card.clone(),
                used: false,
            },
        );
    }
    result.extend([
        ("authcode", authcode),
        ("procreturncode", procreturncode),
        ("response", response),
        ("hostrefnum", hostrefnum),
        ("errmsg", errmsg),
        ("hostmsg", String::new()),
    ]);
    let mut fields: Vec<(String, String)> = session
        .echo
        .iter()
        .filter(|(k, _)| !result.iter().any(|(r, _)| r == k))
        .cloned()
        .collect();
    fields.extend(result.into_iter().map(|(k, v)| (k.to_owned(), v)));
    let params: Vec<&str> = HASH_PARAMS.split(':').filter(|p| !p.is_empty()).collect();
    let values: Vec<&str> = params
        .iter()
        .map(|p| {
            fields
                .iter()
                .find(|(k, _)| k == p)
                .map(|(_, v)| v.as_str())
                .unwrap_or_default()
        })
        .collect();
    let signature = hash::callback_hash(session.version_512, &values, &merchant.store_key);
    let hashparamsval = values.concat();
    fields.push(("hashparams".into(), HASH_PARAMS.into()));
    fields.push(("hashparamsval".into(), hashparamsval));
    fields.push(("hash".into(), signature));
    let target = if approved {
        &session.success_url
    } else {
        &session.error_url
    };
    tracing::info!(
        merchant.terminal_id = %session.terminal_id,
        payment.order_id = %session.order_id,
        mdstatus = md_status,
        "garanti 3D callback"
    );
    let borrowed: Vec<(&str, String)> = fields
        .iter()
        .map(|(k, v)| (k.as_str(), v.clone()))
        .collect();
    wire::html_answer(StatusCode::OK, wire::auto_post_page(target, &borrowed))
}
