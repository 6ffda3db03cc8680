//! The simulated bank 3D Secure page (ACS): the cardholder sees the amount, the merchant
//! and the masked card, types the SMS code or cancels, and is sent back to the
//! merchant's successUrl or failUrl with the signed result fields.
//!
//! Every session token is single-use: any submit (right code, wrong code or cancel)
//! ends it, and a second submit gets a 404 page. A page never submitted leaves its
//! sale `NEW` forever, like an abandoned 3D attempt at the real provider.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;

use crate::cards::{Outcome, UNIVERSAL_3D_CODE};
use crate::config::PostbackHash;
use crate::handlers::answer::{self, CODE_3D_CANCELLED, CODE_3D_FAILED};
use crate::state::Sim;
use crate::wire::{self, html_escape, Form};

fn not_found_page() -> Response {
    wire::html_answer(
        StatusCode::NOT_FOUND,
        "<!DOCTYPE html><html lang=\"tr\"><head><meta charset=\"utf-8\">\
         <title>İşlem bulunamadı</title></head><body><h1>İşlem bulunamadı</h1>\
         <p>Bu doğrulama oturumu geçersiz ya da daha önce kullanılmış.</p></body></html>"
            .to_owned(),
    )
}

/// `GET` or `POST /Vpos/acs/{token}`: the authentication page.
pub async fn page(State(sim): State<Arc<Sim>>, Path(token): Path<String>) -> Response {
    let shown = {
        let state = sim.lock();
        state.sessions.get(&token).map(|session| {
            let tx = &state.txs[session.tx_index];
            let currency = match tx.currency {
                sanalpos_core::Currency::Try => "TL",
                other => other.alpha(),
            };
            (
                format!("{} {currency}", tx.authorization_amount.format_tr()),
                tx.merchant_no.clone(),
                tx.masked_pan.as_str().to_owned(),
            )
        })
    };
    let Some((amount, merchant_no, masked)) = shown else {
        return not_found_page();
    };
    let token = html_escape(&token);
    let body = format!(
        "<!DOCTYPE html><html lang=\"tr\"><head><meta charset=\"utf-8\">\
         <title>3D Secure Doğrulama</title></head><body>\
         <h1>3D Secure Doğrulama</h1>\
         <p>Üye işyeri: <span id=\"merchant\">{merchant_no}</span></p>\
         <p>Tutar: <span id=\"amount\">{amount}</span></p>\
         <p>Kart: <span id=\"card\">{masked}</span></p>\
         <p>Telefonunuza gönderilen doğrulama kodunu giriniz.</p>\
         <form id=\"acs\" method=\"post\" action=\"/Vpos/acs/{token}/submit\">\
         <label for=\"code\">SMS kodu</label> \
         <input type=\"text\" id=\"code\" name=\"code\" autocomplete=\"one-time-code\" inputmode=\"numeric\"> \
         <button type=\"submit\" id=\"submit\" name=\"action\" value=\"submit\">Onayla</button> \
         <button type=\"submit\" id=\"cancel\" name=\"action\" value=\"cancel\">İptal</button>\
         </form></body></html>",
        merchant_no = html_escape(&merchant_no),
        amount = html_escape(&amount),
        masked = html_escape(&masked),
    );
    wire::html_answer(StatusCode::OK, body)
}

/// What the cardholder did on the page.
enum Verdict {
    Authenticated,
    WrongCode,
    Cancelled,
}

/// `POST /Vpos/acs/{token}/submit`: ends the session and answers the page that posts
/// the signed result to the merchant.
pub async fn submit(
    State(sim): State<Arc<Sim>>,
    Path(token): Path<String>,
    body: Bytes,
) -> Response {
    let form = Form::parse(&body);
    let mut state = sim.lock();
    let Some(session) = state.sessions.remove(&token) else {
        drop(state);
        return not_found_page();
    };
    let Some(merchant) = state
        .merchants
        .get(&session.merchant_no)
        .map(|m| Arc::clone(&m.config))
    else {
        drop(state);
        return not_found_page();
    };
    let code = form.get_or_empty("code");
    let verdict = if form.get("action") == Some("cancel") {
        Verdict::Cancelled
    } else if code == UNIVERSAL_3D_CODE || session.card_password == Some(code) {
        Verdict::Authenticated
    } else {
        Verdict::WrongCode
    };
    let index = session.tx_index;
    let target = match verdict {
        Verdict::Authenticated => {
            answer::apply_outcome(&mut state, index, &session.outcome, merchant.auto_complete);
            // The bank approved: keep the card when the sale asked for it.
            if session.outcome == Outcome::Approve {
                if let (Some((key, card)), Some(m)) = (
                    session.save_card.clone(),
                    state.merchants.get_mut(&session.merchant_no),
                ) {
                    m.vault.store(&key, card);
                }
            }
            match session.outcome {
                Outcome::Approve => &session.success_url,
                Outcome::Decline(_) => &session.fail_url,
            }
        }
        Verdict::WrongCode => {
            let text = answer::failure_text(CODE_3D_FAILED);
            answer::apply_3d_failure(&mut state.txs[index], CODE_3D_FAILED, text);
            &session.fail_url
        }
        Verdict::Cancelled => {
            let text = answer::failure_text(CODE_3D_CANCELLED);
            answer::apply_3d_failure(&mut state.txs[index], CODE_3D_CANCELLED, text);
            &session.fail_url
        }
    };
    let tx = &state.txs[index];
    tracing::info!(
        merchant.no = %merchant.merchant_no,
        payment.reference = %tx.reference_code,
        payment.status = tx.status.wire(),
        payment.pre_approved = tx.pre_approved,
        "3D authentication finished"
    );
    let include_currency = merchant.postback_hash == PostbackHash::WithCurrency;
    let fields = answer::sale_fields(&merchant, tx, include_currency, &merchant.secret_key);
    drop(state);
    wire::html_answer(StatusCode::OK, wire::auto_post_page(target, &fields))
}
