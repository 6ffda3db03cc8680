//! `POST /Vpos/v1/Payment` (non-3D sales, the start of 3D sales, fault cards) and
//! `POST /Vpos/v1/CompletePayment`.
//!
//! A payment pays with card data or with a card of the vault: `csCustomerKey` and
//! `csTranId` or `csToken`, no card fields, signed with `csCustomerKey` in the hash's
//! `customerKey` slot. A stored card that is not the customer's (or not this
//! merchant's, or deleted) is refused as not found; a found one is charged by every
//! rule a keyed-in card is (Luhn, expiry, magic and fault cards). `csAutoSave=true`
//! with `csCustomerKey` (and `csCardAlias`) keeps the card once the bank approves the
//! sale: at once for a non-3D sale, after the ACS page for a 3D one; a declined,
//! failed or abandoned sale keeps nothing.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{ConnectInfo, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::Datelike;
use rand::Rng;
use sanalpos_core::{Currency, Kurus, MaskedPan};
use serde_json::json;

use super::answer::{self, NewSale};
use super::card_storage;
use crate::cards::{self, Fault, Outcome};
use crate::clock;
use crate::config::MerchantConfig;
use crate::state::{AcsSession, Sim, SxKind, TxKind, TxStatus};
use crate::tariff;
use crate::vault::{self, CardId, NewCard};
use crate::wire::{self, bad_field, Form, Reject};

/// A validated payment request. Holds the card number only for the duration of the
/// call; it has no `Debug` so it cannot end up in a log line.
struct PaymentRequest {
    client_ref: String,
    amount: Kurus,
    installments: u8,
    card_holder: String,
    pan: String,
    expiry: (u16, u8),
    use_3d: bool,
    kind: TxKind,
    currency: Currency,
    success_url: String,
    fail_url: String,
    description: String,
    /// Paying with a stored card: its customer key and id; `pan`, `expiry` (and an
    /// empty holder) are filled from the vault once the request's hash verified.
    stored: Option<(String, CardId)>,
    /// `csAutoSave=true`: the customer key and alias to keep the card under.
    save: Option<(String, String)>,
}

/// `csCustomerKey` with `csTranId` or `csToken`, when the payment names a stored card.
fn stored_card(form: &Form) -> Result<Option<(String, CardId)>, Reject> {
    let id = match (
        form.get_or_empty("csTranId").trim(),
        form.get_or_empty("csToken").trim(),
    ) {
        ("", "") => return Ok(None),
        (tran_id, "") => CardId::TranId(tran_id.to_owned()),
        ("", token) => CardId::Token(token.to_owned()),
        _ => return Err(bad_field("csToken")),
    };
    let key = card_storage::customer_key(form, "csCustomerKey")?;
    for name in ["cardNumber", "month", "year", "cvv"] {
        if !form.get_or_empty(name).is_empty() {
            return Err(bad_field(name));
        }
    }
    Ok(Some((key.to_owned(), id)))
}

/// `csAutoSave=true`: the customer key and alias to keep the sale's card under.
fn auto_save(form: &Form) -> Result<Option<(String, String)>, Reject> {
    match form.get("csAutoSave") {
        None | Some("") | Some("false") => Ok(None),
        Some("true") => Ok(Some((
            card_storage::customer_key(form, "csCustomerKey")?.to_owned(),
            form.get_or_empty("csCardAlias").to_owned(),
        ))),
        Some(_) => Err(bad_field("csAutoSave")),
    }
}

fn is_absolute_http_url(url: &str) -> bool {
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

fn digits(text: &str, lengths: std::ops::RangeInclusive<usize>) -> bool {
    lengths.contains(&text.len()) && text.bytes().all(|b| b.is_ascii_digit())
}

impl PaymentRequest {
    /// The format checks, in the order the fields are documented. Error texts name the
    /// field, never its value.
    fn parse(form: &Form) -> Result<PaymentRequest, Reject> {
        let client_ref = form.required("clientRefCode")?;
        if client_ref.chars().count() > 64 {
            return Err(bad_field("clientRefCode"));
        }
        let amount = form.amount("amount")?;
        let installments_text = form.required("installmentNo")?;
        let installments = match installments_text.parse::<u8>() {
            Ok(n @ 1..=12) if digits(installments_text, 1..=2) => n,
            _ => return Err(bad_field("installmentNo")),
        };
        let stored = stored_card(form)?;
        let save = auto_save(form)?;
        if stored.is_some() && save.is_some() {
            return Err(bad_field("csAutoSave"));
        }
        let (card_holder, pan, expiry) = if stored.is_some() {
            (form.get_or_empty("cardHolderName"), "", (0, 0))
        } else {
            let card_holder = form.required("cardHolderName")?;
            let pan = form.required("cardNumber")?;
            if !digits(pan, 12..=19) {
                return Err(bad_field("cardNumber"));
            }
            let month = form.required("month")?;
            let month = match month.parse::<u8>() {
                Ok(m @ 1..=12) if digits(month, 2..=2) => m,
                _ => return Err(bad_field("month")),
            };
            let year = form.required("year")?;
            let year = match year.parse::<u16>() {
                Ok(y) if digits(year, 4..=4) => y,
                _ => return Err(bad_field("year")),
            };
            if !digits(form.required("cvv")?, 3..=4) {
                return Err(bad_field("cvv"));
            }
            (card_holder, pan, (year, month))
        };
        let use_3d = match form.required("use3D")? {
            "true" => true,
            "false" => false,
            _ => return Err(bad_field("use3D")),
        };
        let kind = match form.required("transactionType")? {
            "SALES" => TxKind::Sales,
            "PRESALES" => TxKind::PreSales,
            _ => return Err(bad_field("transactionType")),
        };
        if clock::parse_rnd(form.required("rnd")?).is_none() {
            return Err(bad_field("rnd"));
        }
        form.required("hashDatav2")?;
        if form.required("environment")? != "API" {
            return Err(bad_field("environment"));
        }
        let currency = match form.get("currencyNumber") {
            None => Currency::Try,
            Some(code) => match Currency::from_numeric(code) {
                Some(c) if digits(code, 3..=3) => c,
                _ => return Err(bad_field("currencyNumber")),
            },
        };
        if form.get_or_empty("ECOMM_PLATFORM").chars().count() > 120 {
            return Err(bad_field("ECOMM_PLATFORM"));
        }
        let success_url = form.get_or_empty("successUrl");
        let fail_url = form.get_or_empty("failUrl");
        if use_3d {
            for (name, url) in [("successUrl", success_url), ("failUrl", fail_url)] {
                if url.is_empty() {
                    return Err(Reject::Field(format!("{name} alanı zorunludur")));
                }
                if !is_absolute_http_url(url) {
                    return Err(bad_field(name));
                }
            }
        }
        Ok(PaymentRequest {
            client_ref: client_ref.to_owned(),
            amount,
            installments,
            card_holder: card_holder.to_owned(),
            pan: pan.to_owned(),
            expiry,
            use_3d,
            kind,
            currency,
            success_url: success_url.to_owned(),
            fail_url: fail_url.to_owned(),
            description: form.get_or_empty("description").to_owned(),
            stored,
            save,
        })
    }

    /// First six and last four digits, whether or not the number passes Luhn.
    fn masked(&self) -> MaskedPan {
        vault::mask(&self.pan)
    }

    /// The card to keep when the sale is approved, if the request asked for it.
    fn card_to_save(&self) -> Option<(String, NewCard)> {
        self.save.as_ref().map(|(key, alias)| {
            (
                key.clone(),
                NewCard {
                    pan: self.pan.clone(),
                    expiry: self.expiry,
                    holder: self.card_holder.clone(),
                    alias: alias.clone(),
                },
            )
        })
    }

    /// Fills the card from the vault when the payment names a stored card; a card the
    /// customer does not keep at this merchant is refused as not found.
    fn resolve_stored(&mut self, sim: &Sim, merchant_no: &str) -> Result<(), Reject> {
        let Some((key, id)) = &self.stored else {
            return Ok(());
        };
        let card = sim
            .lock()
            .merchants
            .get(merchant_no)
            .and_then(|m| m.vault.find(key, id).cloned())
            .ok_or_else(|| {
                Reject::Plain(
                    card_storage::CARD_NOT_FOUND_CODE,
                    card_storage::CARD_NOT_FOUND.into(),
                )
            })?;
        self.pan = card.pan().to_owned();
        self.expiry = card.expiry;
        if self.card_holder.is_empty() {
            self.card_holder = card.holder.clone();
        }
        Ok(())
    }
}

/// `POST /Vpos/v1/Payment`.
pub async fn payment(
    State(sim): State<Arc<Sim>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    match handle_payment(&sim, peer, &headers, &body).await {
        Ok(response) | Err(response) => response,
    }
}

fn reject(r: Reject) -> Response {
    r.into_response()
}

async fn handle_payment(
    sim: &Arc<Sim>,
    peer: SocketAddr,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Response, Response> {
    let form = Form::parse(body);
    let merchant = wire::authenticate(sim, &form, SxKind::Sales, peer.ip()).map_err(reject)?;
    let mut req = PaymentRequest::parse(&form).map_err(reject)?;
    // With a stored card, the hash's customerKey slot is the csCustomerKey.
    let customer_key = match &req.stored {
        Some((key, _)) => key.as_str(),
        None => form.get_or_empty("customerKey"),
    };
    wire::check_hash(
        &form,
        &[
            form.get_or_empty("sx"),
            &req.client_ref,
            form.get_or_empty("amount"),
            form.get_or_empty("successUrl"),
            form.get_or_empty("failUrl"),
            form.get_or_empty("rnd"),
            customer_key,
        ],
        &merchant.secret_key,
    )
    .map_err(reject)?;
    req.resolve_stored(sim, &merchant.merchant_no)
        .map_err(reject)?;

    let bin = cards::bin_info(&req.pan);
    let line = match (bin, tariff::line(req.installments)) {
        (_, Some(line)) if req.installments == 1 => line,
        (Some(_), Some(line)) => line,
        _ => {
            return Err(reject(Reject::Plain(
                "AB0003",
                "Taksit sayısı bu kart için geçerli değil".into(),
            )))
        }
    };
    let now = clock::now();
    let outcome = cards::decide(&req.pan, req.expiry, (now.year() as u16, now.month() as u8));
    let sale = NewSale {
        merchant_no: merchant.merchant_no.clone(),
        client_ref: req.client_ref.clone(),
        kind: req.kind,
        pricing: tariff::price(req.amount, line),
        line,
        currency: req.currency,
        masked_pan: req.masked(),
        card_holder: req.card_holder.clone(),
        bin,
        is_3d: req.use_3d,
        description: req.description.clone(),
        panel: false,
    };
    if req.use_3d {
        return Ok(start_3d(sim, &merchant, &req, sale, outcome, headers));
    }

    let fault = match outcome {
        Outcome::Approve => cards::fault(&req.pan),
        Outcome::Decline(_) => None,
    };
    match fault {
        Some(Fault::NoCharge500) => {
            tracing::info!(merchant.no = %merchant.merchant_no, "fault card: 500 without charge");
            return Ok(plain_status(StatusCode::INTERNAL_SERVER_ERROR));
        }
        Some(Fault::DropConnection) => {
            tracing::info!(merchant.no = %merchant.merchant_no, "fault card: dropping connection");
            return Ok(wire::drop_connection());
        }
        Some(Fault::FirstCall503) => {
            let first = {
                let mut state = sim.lock();
                state
                    .merchants
                    .get_mut(&merchant.merchant_no)
                    .map(|m| !std::mem::replace(&mut m.fault_503_spent, true))
                    .unwrap_or(false)
            };
            if first {
                return Ok(plain_status(StatusCode::SERVICE_UNAVAILABLE));
            }
        }
        _ => {}
    }

    let fields = {
        let mut state = sim.lock();
        let index = answer::record_sale(&mut state, sale, now);
        answer::apply_outcome(&mut state, index, &outcome, true);
        if state.txs[index].status == TxStatus::Success {
            if let (Some((key, card)), Some(m)) = (
                req.card_to_save(),
                state.merchants.get_mut(&merchant.merchant_no),
            ) {
                m.vault.store(&key, card);
            }
        }
        let tx = &state.txs[index];
        tracing::info!(
            merchant.no = %merchant.merchant_no,
            payment.reference = %tx.reference_code,
            payment.status = tx.status.wire(),
            card = %tx.masked_pan,
            "payment"
        );
        let secret = if fault == Some(Fault::WrongHash) {
            format!("{}-not-the-secret", merchant.secret_key)
        } else {
            merchant.secret_key.clone()
        };
        answer::sale_fields(&merchant, tx, true, &secret)
    };
    let body = answer::fields_to_json(&fields);
    match fault {
        Some(Fault::SlowAnswer) => {
            tokio::time::sleep(sim.slow_answer_delay).await;
            Ok(wire::json_answer(&body))
        }
        Some(Fault::ChargeThen500) => Ok(plain_status(StatusCode::INTERNAL_SERVER_ERROR)),
        Some(Fault::Truncated) => {
            let text = body.to_string();
            let mut cut = text.len() / 2;
            while !text.is_char_boundary(cut) {
                cut -= 1;
            }
            let mut response = (StatusCode::OK, text[..cut].to_owned()).into_response();
            response.headers_mut().insert(
                header::CONTENT_TYPE,
                header::HeaderValue::from_static("application/json; charset=utf-8"),
            );
            Ok(response)
        }
        _ => Ok(wire::json_answer(&body)),
    }
}

/// A bare error status with its standard reason as a text body.
pub(crate) fn plain_status(status: StatusCode) -> Response {
    let text = status.canonical_reason().unwrap_or("Error");
    (status, text.to_owned()).into_response()
}

/// Records the 3D sale as NEW, opens an ACS session and answers the redirect form.
fn start_3d(
    sim: &Sim,
    merchant: &MerchantConfig,
    req: &PaymentRequest,
    sale: NewSale,
    outcome: Outcome,
    headers: &HeaderMap,
) -> Response {
    let mut token_bytes = [0u8; 32];
    rand::rng().fill(&mut token_bytes);
    let token = hex::encode(token_bytes);
    let reference = {
        let mut state = sim.lock();
        let index = answer::record_sale(&mut state, sale, clock::now());
        state.sessions.insert(
            token.clone(),
            AcsSession {
                merchant_no: merchant.merchant_no.clone(),
                tx_index: index,
                outcome,
                card_password: cards::sandbox_3d_password(&req.pan),
                success_url: req.success_url.clone(),
                fail_url: req.fail_url.clone(),
                save_card: req.card_to_save(),
            },
        );
        state.txs[index].reference_code.clone()
    };
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .filter(|h| !h.is_empty())
        .unwrap_or("localhost");
    let action = format!("http://{host}/Vpos/acs/{token}");
    let html = wire::auto_post_page(
        &action,
        &[("PaReq", token.clone()), ("MD", reference.clone())],
    );
    tracing::info!(merchant.no = %merchant.merchant_no, payment.reference = %reference, "3D started");
    wire::json_answer(&json!({
        "RESPONSE_CODE": "2",
        "RESPONSE_DATA": "3D yönlendirme",
        "USE_3D": "true",
        "MERCHANT_NO": merchant.merchant_no,
        "REFERENCE_CODE": reference,
        "CLIENT_REFERENCE_CODE": req.client_ref,
        "BANK_REQUEST_MESSAGE": html,
    }))
}

/// `POST /Vpos/v1/CompletePayment`: turns a pre-approved 3D sale (AutoComplete off)
/// into a sale. Already-complete sales get the same approval again.
pub async fn complete(
    State(sim): State<Arc<Sim>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    body: Bytes,
) -> Response {
    let form = Form::parse(&body);
    let merchant = match wire::authenticate(&sim, &form, SxKind::Sales, peer.ip()) {
        Ok(m) => m,
        Err(r) => return r.into_response(),
    };
    let reference = match form.required("referenceCode") {
        Ok(r) => r,
        Err(r) => return r.into_response(),
    };
    let mut state = sim.lock();
    let index = state
        .find_ref(&merchant.merchant_no, reference)
        .filter(|&i| {
            let tx = &state.txs[i];
            tx.kind.is_sale()
                && (tx.status == TxStatus::Success
                    || (tx.status == TxStatus::New && tx.pre_approved))
        });
    let Some(index) = index else {
        drop(state);
        return Reject::Plain("25", "İşlem sistemde bulunamadı".into()).into_response();
    };
    let tx = &mut state.txs[index];
    if tx.status == TxStatus::New {
        tx.status = TxStatus::Success;
        tx.pre_approved = false;
        tracing::info!(merchant.no = %merchant.merchant_no, payment.reference = %tx.reference_code, "3D sale completed");
    }
    let fields = answer::sale_fields(&merchant, tx, true, &merchant.secret_key);
    drop(state);
    wire::json_answer(&answer::fields_to_json(&fields))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_must_be_absolute_http() {
        assert!(is_absolute_http_url("https://shop.example/ok?id=1"));
        assert!(is_absolute_http_url("http://127.0.0.1:8080/cb"));
        assert!(!is_absolute_http_url("/relative"));
        assert!(!is_absolute_http_url("ftp://x/y"));
        assert!(!is_absolute_http_url("https:///nohost"));
        assert!(!is_absolute_http_url("https://a b/"));
    }
}
