//! `POST /3DSWebService/YKBPaymentService`: the bank's 3D page, and the callback to the
//! merchant's `merchantReturnURL`.
//!
//! The form must name the session `oosRequestData` opened (`posnetData` = data1, with
//! its `posnetData2` and `digest`) for this `mid` and `posnetID`; the page shows the
//! amount and the masked card and asks for the SMS code: `123456` authenticates
//! (`mdStatus` 1), anything else or Cancel fails (`mdStatus` 0). The callback carries
//! `MerchantPacket`, `BankPacket` and `Sign` (new random packets the simulator alone can
//! resolve), plus `Xid` and `Amount` as the bank posts them; none of it is signed for
//! the merchant.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;

use super::ledger::Posnet;
use crate::cards::UNIVERSAL_3D_CODE;
use crate::wire::{auto_post_page, html_answer, html_escape};

fn form(body: &[u8]) -> Vec<(String, String)> {
    serde_urlencoded::from_bytes(body).unwrap_or_default()
}

fn field<'a>(fields: &'a [(String, String)], name: &str) -> &'a str {
    fields
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.trim())
        .unwrap_or_default()
}

fn error_page(text: &str) -> Response {
    html_answer(
        StatusCode::BAD_REQUEST,
        format!(
            "<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>Hata</title></head><body><p id=\"error\">{}</p></body></html>",
            html_escape(text)
        ),
    )
}

/// `POST /3DSWebService/YKBPaymentService`: the page with the SMS code field.
pub async fn page(State(sim): State<Arc<Posnet>>, body: Bytes) -> Response {
    let fields = form(&body);
    let data1 = field(&fields, "posnetData");
    let mut state = sim.lock();
    let Some(session) = state.sessions.get(data1).cloned() else {
        return error_page("Geçersiz 3D verisi.");
    };
    let merchant = state.merchant(&session.tid);
    let same_merchant = merchant.as_ref().is_some_and(|m| {
        field(&fields, "mid") == m.mid && field(&fields, "posnetID") == m.posnet_id
    });
    let return_url = field(&fields, "merchantReturnURL");
    if !same_merchant
        || session.md_status.is_some()
        || field(&fields, "posnetData2") != session.data2
        || field(&fields, "digest") != session.sign
        || !(return_url.starts_with("http://") || return_url.starts_with("https://"))
    {
        return error_page("Geçersiz 3D verisi.");
    }
    // The page's token is the data1 itself; the return URL waits with the session.
    let token = data1.to_owned();
    if let Some(s) = state.sessions.get_mut(&token) {
        s.return_url = return_url.to_owned();
    }
    drop(state);
    let currency = match session.currency {
        sanalpos_core::Currency::Try => "TL",
        other => other.alpha(),
    };
    html_answer(
        StatusCode::OK,
        format!(
            "<!DOCTYPE html><html lang=\"tr\"><head><meta charset=\"utf-8\"><title>3D Secure</title></head><body>\
             <h1>Yapı Kredi 3D Secure Doğrulama</h1>\
             <p>Tutar: <span id=\"amount\">{amount} {currency}</span></p>\
             <p>Kart: <span id=\"card\">{card}</span></p>\
             <form id=\"acs\" method=\"post\" action=\"/3DSWebService/acs/{token}\">\
             <label for=\"code\">SMS kodu</label> \
             <input type=\"text\" id=\"code\" name=\"code\" autocomplete=\"one-time-code\" inputmode=\"numeric\"> \
             <button type=\"submit\" id=\"submit\" name=\"action\" value=\"submit\">Onayla</button> \
             <button type=\"submit\" id=\"cancel\" name=\"action\" value=\"cancel\">İptal</button>\
             </form></body></html>",
            amount = html_escape(&session.amount.format_tr()),
            card = html_escape(session.card.masked.as_str()),
            token = html_escape(&token),
        ),
    )
}

fn packet(len: usize) -> String {
    use rand::Rng;
    let mut rng = rand::rng();
    (0..len)
        .map(|_| char::from(b"0123456789ABCDEF"[rng.random_range(0..16)]))
        .collect()
}

/// `POST /3DSWebService/acs/{token}`: the SMS code, then the callback.
pub async fn submit(
    State(sim): State<Arc<Posnet>>,
    Path(token): Path<String>,
    body: Bytes,
) -> Response {
    let fields = form(&body);
    let cancelled = field(&fields, "action") == "cancel";
    let md_status = if !cancelled && field(&fields, "code") == UNIVERSAL_3D_CODE {
        "1"
    } else {
        "0"
    };
    let mut state = sim.lock();
    let Some(mut session) = state.sessions.remove(&token) else {
        return error_page("Bu doğrulama zaten tamamlandı ya da süresi doldu.");
    };
    if session.md_status.is_some() || session.return_url.is_empty() {
        return error_page("Geçersiz 3D verisi.");
    }
    let return_url = session.return_url.clone();
    let bank_packet = packet(60);
    session.md_status = Some(md_status);
    session.merchant_packet = packet(90);
    session.callback_sign = packet(32);
    let callback = vec![
        ("MerchantPacket", session.merchant_packet.clone()),
        ("BankPacket", bank_packet.clone()),
        ("Sign", session.callback_sign.clone()),
        ("Xid", session.xid.clone()),
        ("Amount", session.amount.minor().to_string()),
    ];
    state.sessions.insert(bank_packet, session);
    drop(state);
    html_answer(StatusCode::OK, auto_post_page(&return_url, &callback))
}
