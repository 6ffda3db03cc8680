//! `POST /PosnetWebService/XML`: the `xmldata` form field, the merchant check and every
//! operation. Refusals are `posnetResponse` documents with `approved` 0, a `respCode`
//! and a `respText`; none echoes a card number.
//!
//! Checks run in this order: document → `mid`/`tid` pair and caller IP (`0148`
//! "INVALID MID TID IP", as the bank answers both) → the operation's fields → the MAC
//! (`E216`) of the 3D steps → business rules. Codes the sources give: `0148`, `0127`,
//! `E216`, `0123`, issuer refusals `00` + ISO code. The simulator's own (the sources are
//! silent): `0225` cancel after the day's close, `0226` refund before it, `0227` refund
//! above what is left, `0228` 3D packets it did not issue or not for this merchant (or
//! not authenticated at `oosTranData`), `0229` a malformed or missing field, `0230` an
//! unknown operation.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{ConnectInfo, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Datelike, FixedOffset};
use rand::distr::{Alphanumeric, SampleString};
use sanalpos_core::{BankCode, Currency, Kurus, MaskedPan};

use super::config::PosnetMerchant;
use super::ledger::{CardFacts, Posnet, PosnetTransaction, Session, State as Ledger, TxKind};
use super::wire::{self, leaf, Node, Request};
use crate::cards::{Fault, Outcome};
use crate::clock;

/// A refusal: `respCode` and `respText`.
pub type Refusal = (&'static str, String);

fn refusal(code: &'static str, text: &str) -> Refusal {
    (code, text.to_owned())
}

fn missing(field: &str) -> Refusal {
    ("0229", format!("{field} ALANI HATALI"))
}

/// The answer of a refusal.
pub fn refused((code, text): Refusal) -> Response {
    wire::xml_response(wire::answer_bytes(&[
        leaf("approved", "0"),
        leaf("respCode", code),
        leaf("respText", text),
    ]))
}

/// `POST /PosnetWebService/XML`.
pub async fn api(
    State(sim): State<Arc<Posnet>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    body: Bytes,
) -> Response {
    let now = clock::now();
    let Some(request) = wire::xml_of(&body).as_deref().and_then(wire::parse) else {
        return refused(refusal("0229", "XML FORMATI HATALI"));
    };
    let merchant = match authenticate(&sim, &request, peer) {
        Ok(m) => m,
        Err(r) => return refused(r),
    };
    let result = match request.operation.as_str() {
        "sale" => return sale(&sim, &merchant, &request, now, TxKind::Sale).await,
        "auth" => return sale(&sim, &merchant, &request, now, TxKind::Auth).await,
        "oosTranData" => return tran_data(&sim, &merchant, &request, now).await,
        "capt" => capture(&sim, &merchant, &request, now),
        "reverse" => reverse(&sim, &merchant, &request, now),
        "return" => refund(&sim, &merchant, &request, now),
        "agreement" => agreement(&sim, &merchant, &request),
        "oosRequestData" => request_data(&sim, &merchant, &request, now),
        "oosResolveMerchantData" => resolve(&sim, &merchant, &request),
        _ => Err(refusal("0230", "GECERSIZ ISLEM TIPI")),
    };
    match result {
        Ok(nodes) => wire::xml_response(wire::answer_bytes(&nodes)),
        Err(r) => refused(r),
    }
}

fn authenticate(
    sim: &Posnet,
    request: &Request,
    peer: SocketAddr,
) -> Result<Arc<PosnetMerchant>, Refusal> {
    let ip = peer.ip().to_canonical();
    let invalid = || ("0148", format!("INVALID MID TID IP. Hatalı IP:{ip}"));
    let tid = request.get("tid").ok_or_else(invalid)?;
    let merchant = sim.lock().merchant(tid).ok_or_else(invalid)?;
    if request.get("mid") != Some(merchant.mid.as_str()) {
        return Err(invalid());
    }
    if let Some(allowed) = &merchant.allowed_ips {
        if !allowed.iter().any(|a| a.to_canonical() == ip) {
            return Err(invalid());
        }
    }
    Ok(merchant)
}

/// `amount`: integer kuruş, not zero.
fn amount(request: &Request) -> Result<Kurus, Refusal> {
    let text = request.op("amount").ok_or_else(|| missing("AMOUNT"))?;
    if text.len() > 15 || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(missing("AMOUNT"));
    }
    text.parse::<i64>()
        .ok()
        .and_then(Kurus::from_minor)
        .filter(|a| *a > Kurus::ZERO)
        .ok_or_else(|| missing("AMOUNT"))
}

fn currency(request: &Request) -> Result<Currency, Refusal> {
    match request.op("currencyCode") {
        Some("TL") => Ok(Currency::Try),
        Some("US") => Ok(Currency::Usd),
        Some("EU") => Ok(Currency::Eur),
        _ => Err(missing("CURRENCYCODE")),
    }
}

fn currency_code(currency: Currency) -> &'static str {
    match currency {
        Currency::Try => "TL",
        Currency::Usd => "US",
        Currency::Eur => "EU",
    }
}

/// `installment`: two digits, `00` (or `01`) a single payment.
fn installments(request: &Request) -> Result<u8, Refusal> {
    match request.op("installment") {
        Some(t) if t.len() == 2 && t.bytes().all(|b| b.is_ascii_digit()) => t
            .parse::<u8>()
            .map(|n| n.max(1))
            .map_err(|_| missing("INSTALLMENT")),
        _ => Err(missing("INSTALLMENT")),
    }
}

/// The card of a request (`ccno`, `expDate` YYMM, `cvc`), judged and forgotten.
fn judge_card(request: &Request, now: &DateTime<FixedOffset>) -> Result<CardFacts, Refusal> {
    let number = request.op("ccno").ok_or_else(|| missing("CCNO"))?;
    let expiry = request.op("expDate").ok_or_else(|| missing("EXPDATE"))?;
    let cvc = request.op("cvc").ok_or_else(|| missing("CVC"))?;
    if !(12..=19).contains(&number.len()) || !number.bytes().all(|b| b.is_ascii_digit()) {
        return Err(missing("CCNO"));
    }
    let two = |t: &str| t.parse::<u16>().ok();
    let (year, month) = match (
        expiry.len(),
        expiry.get(..2).and_then(two),
        expiry.get(2..).and_then(two),
    ) {
        (4, Some(y), Some(m)) if (1..=12).contains(&m) => (2000 + y, m as u8),
        _ => return Err(missing("EXPDATE")),
    };
    if cvc.len() != 3 || !cvc.bytes().all(|b| b.is_ascii_digit()) {
        return Err(missing("CVC"));
    }
    let masked = format!(
        "{}{}{}",
        &number[..6],
        "*".repeat(number.len() - 10),
        &number[number.len() - 4..]
    );
    Ok(CardFacts {
        masked: MaskedPan::parse(&masked).ok_or_else(|| missing("CCNO"))?,
        outcome: crate::cards::decide(
            number,
            (year, month),
            (now.year() as u16, now.month() as u8),
        ),
        fault: crate::cards::fault(number),
    })
}

/// What a charge is about.
struct Charge {
    order_id: String,
    amount: Kurus,
    currency: Currency,
    installments: u8,
    kind: TxKind,
    three_d: bool,
}

/// Records a charge on `card` and returns its index.
fn record_charge(
    state: &mut Ledger,
    tid: &str,
    charge: &Charge,
    card: &CardFacts,
    now: DateTime<FixedOffset>,
) -> usize {
    let (approved, resp_code, resp_text, auth_code) = match card.outcome {
        Outcome::Approve => (true, String::new(), String::new(), Ledger::new_auth_code()),
        Outcome::Decline(code) => {
            let text = BankCode::parse(code)
                .map(|c| c.message().tr.to_uppercase())
                .unwrap_or_else(|| "ONAYLANMADI".into());
            (false, format!("00{code}"), text, String::new())
        }
    };
    let tx = PosnetTransaction {
        seq: 0,
        tid: tid.to_owned(),
        order_id: charge.order_id.clone(),
        kind: charge.kind,
        approved,
        amount: charge.amount,
        currency: charge.currency,
        installments: charge.installments,
        auth_code,
        host_log_key: state.new_host_log_key(),
        resp_code,
        resp_text,
        masked_pan: Some(card.masked.clone()),
        created_at: now,
        business_day: state.open_day(tid, now.date_naive()),
        reversed: false,
        original: None,
        three_d: charge.three_d,
    };
    state.insert(tx)
}

/// The answer about a row: approved with its references, or its refusal.
fn tx_nodes(tx: &PosnetTransaction) -> Vec<Node> {
    if !tx.approved {
        return vec![
            leaf("approved", "0"),
            leaf("respCode", tx.resp_code.clone()),
            leaf("respText", tx.resp_text.clone()),
        ];
    }
    vec![
        leaf("approved", "1"),
        leaf("respCode", ""),
        leaf("respText", ""),
        leaf("mac", "0000000000000000000000000000000000000000000="),
        leaf("hostlogkey", tx.host_log_key.clone()),
        leaf("authCode", tx.auth_code.clone()),
        leaf("tranDate", tx.created_at.format("%y%m%d%H%M%S").to_string()),
        Node::Group(
            "instInfo",
            vec![
                leaf(
                    "inst1",
                    format!(
                        "{:02}",
                        if tx.installments > 1 {
                            tx.installments
                        } else {
                            0
                        }
                    ),
                ),
                leaf("amnt1", "000000000000"),
            ],
        ),
        Node::Group(
            "pointInfo",
            vec![
                leaf("point", "00000000"),
                leaf("pointAmount", "000000000000"),
                leaf("totalPoint", "00000000"),
                leaf("totalPointAmount", "000000000000"),
            ],
        ),
    ]
}

/// `approved` 2, `0127`: the order was used; the earlier references come back.
fn already_done(tx: &PosnetTransaction) -> Vec<u8> {
    let mut nodes = vec![
        leaf("approved", if tx.approved { "2" } else { "0" }),
        leaf("respCode", "0127"),
        leaf("respText", "ORDERID DAHA ONCE KULLANILMIS 0127"),
    ];
    if tx.approved {
        nodes.push(leaf("hostlogkey", tx.host_log_key.clone()));
        nodes.push(leaf("authCode", tx.auth_code.clone()));
        nodes.push(leaf(
            "tranDate",
            tx.created_at.format("%y%m%d%H%M%S").to_string(),
        ));
    }
    wire::answer_bytes(&nodes)
}

/// The `0127` answer when the order already has a charge (one lock, released before
/// answering).
fn earlier_charge(sim: &Posnet, tid: &str, order_id: &str) -> Option<Vec<u8>> {
    let state = sim.lock();
    let first = *state.order_rows(tid, order_id).first()?;
    Some(already_done(&state.txs[first]))
}

fn status(code: StatusCode) -> Response {
    (code, code.canonical_reason().unwrap_or("Error").to_owned()).into_response()
}

/// Applies a fault card's misbehaviour before the charge; `Some` answers instead.
fn fault_before(sim: &Posnet, tid: &str, card: &CardFacts) -> Option<Response> {
    match card.fault {
        Some(Fault::NoCharge500) => Some(status(StatusCode::INTERNAL_SERVER_ERROR)),
        Some(Fault::DropConnection) => Some(crate::wire::drop_connection()),
        Some(Fault::FirstCall503) => {
            let first = sim
                .lock()
                .merchants
                .get_mut(tid)
                .is_some_and(|m| !std::mem::replace(&mut m.fault_503_spent, true));
            first.then(|| status(StatusCode::SERVICE_UNAVAILABLE))
        }
        _ => None,
    }
}

/// The answer of a recorded charge, broken as its fault card says.
async fn fault_after(sim: &Posnet, card: &CardFacts, tx: &PosnetTransaction) -> Response {
    let bytes = if card.fault == Some(Fault::WrongHash) && tx.approved {
        // The answer's own MAC is checked by no client: the damage goes where they
        // look, an approval without its hostlogkey.
        wire::answer_bytes(&[
            leaf("approved", "1"),
            leaf("respCode", ""),
            leaf("authCode", tx.auth_code.clone()),
        ])
    } else {
        wire::answer_bytes(&tx_nodes(tx))
    };
    match card.fault {
        Some(Fault::SlowAnswer) => {
            tokio::time::sleep(sim.slow_answer_delay).await;
            wire::xml_response(bytes)
        }
        Some(Fault::ChargeThen500) => status(StatusCode::INTERNAL_SERVER_ERROR),
        Some(Fault::Truncated) => wire::xml_response(bytes[..bytes.len() / 2].to_vec()),
        _ => wire::xml_response(bytes),
    }
}

/// `sale` and `auth` with the card.
async fn sale(
    sim: &Posnet,
    merchant: &PosnetMerchant,
    request: &Request,
    now: DateTime<FixedOffset>,
    kind: TxKind,
) -> Response {
    let parsed = (|| {
        let order_id = request.op("orderID").ok_or_else(|| missing("ORDERID"))?;
        if order_id.len() > 24 {
            return Err(missing("ORDERID"));
        }
        Ok((
            Charge {
                order_id: format!("{order_id:0>24}"),
                amount: amount(request)?,
                currency: currency(request)?,
                installments: installments(request)?,
                kind,
                three_d: false,
            },
            judge_card(request, &now)?,
        ))
    })();
    let (charge, card) = match parsed {
        Ok(p) => p,
        Err(r) => return refused(r),
    };
    if let Some(earlier) = earlier_charge(sim, &merchant.tid, &charge.order_id) {
        return wire::xml_response(earlier);
    }
    if let Some(response) = fault_before(sim, &merchant.tid, &card) {
        return response;
    }
    let tx = {
        let mut state = sim.lock();
        let index = record_charge(&mut state, &merchant.tid, &charge, &card, now);
        state.txs[index].clone()
    };
    tracing::info!(merchant.tid = %merchant.tid, payment.order_id = %tx.order_id, payment.approved = tx.approved, card = %card.masked, "posnet charge");
    fault_after(sim, &card, &tx).await
}

/// The sale a `capt`, `reverse` or `return` names, by `hostLogKey` or `orderID`.
fn named_sale(
    state: &Ledger,
    tid: &str,
    request: &Request,
    kinds: &[TxKind],
) -> Result<usize, Refusal> {
    let found = match (request.op("hostLogKey"), request.op("orderID")) {
        (Some(key), _) => state.by_key(tid, key),
        (None, Some(order_id)) => state
            .order_rows(tid, order_id)
            .into_iter()
            .find(|&i| kinds.contains(&state.txs[i].kind)),
        (None, None) => return Err(missing("HOSTLOGKEY")),
    };
    found
        .filter(|&i| state.txs[i].approved && kinds.contains(&state.txs[i].kind))
        .ok_or_else(|| refusal("0123", "ISLEM BULUNAMADI"))
}

fn follow_up(
    state: &mut Ledger,
    original: usize,
    kind: TxKind,
    amount: Kurus,
    now: DateTime<FixedOffset>,
) -> usize {
    let sale = state.txs[original].clone();
    let tx = PosnetTransaction {
        seq: 0,
        kind,
        approved: true,
        amount,
        auth_code: if kind == TxKind::Capt {
            sale.auth_code.clone()
        } else {
            String::new()
        },
        host_log_key: state.new_host_log_key(),
        resp_code: String::new(),
        resp_text: String::new(),
        created_at: now,
        business_day: state.open_day(&sale.tid, now.date_naive()),
        reversed: false,
        original: Some(sale.host_log_key.clone()),
        ..sale
    };
    state.insert(tx)
}

fn capture(
    sim: &Posnet,
    merchant: &PosnetMerchant,
    request: &Request,
    now: DateTime<FixedOffset>,
) -> Result<Vec<Node>, Refusal> {
    let amount = amount(request)?;
    currency(request)?;
    let mut state = sim.lock();
    let auth = named_sale(&state, &merchant.tid, request, &[TxKind::Auth])?;
    let order_id = state.txs[auth].order_id.clone();
    let captured = state
        .order_rows(&merchant.tid, &order_id)
        .into_iter()
        .any(|i| {
            state.txs[i].kind == TxKind::Capt && state.txs[i].approved && !state.txs[i].reversed
        });
    if state.txs[auth].reversed || captured {
        return Err(refusal("0123", "ISLEM BULUNAMADI"));
    }
    if amount > state.txs[auth].amount {
        return Err(missing("AMOUNT"));
    }
    let index = follow_up(&mut state, auth, TxKind::Capt, amount, now);
    Ok(tx_nodes(&state.txs[index]))
}

fn reverse(
    sim: &Posnet,
    merchant: &PosnetMerchant,
    request: &Request,
    now: DateTime<FixedOffset>,
) -> Result<Vec<Node>, Refusal> {
    let mut state = sim.lock();
    let sale = named_sale(
        &state,
        &merchant.tid,
        request,
        &[TxKind::Sale, TxKind::Auth, TxKind::Capt],
    )?;
    if state.txs[sale].reversed {
        return Err(refusal("0123", "ISLEM BULUNAMADI"));
    }
    if state.is_closed(&merchant.tid, state.txs[sale].business_day) {
        return Err(refusal(
            "0225",
            "GUN SONU YAPILMIS ISLEM IPTAL EDILEMEZ, IADE YAPINIZ",
        ));
    }
    let order_id = state.txs[sale].order_id.clone();
    let refunded = state
        .order_rows(&merchant.tid, &order_id)
        .into_iter()
        .any(|i| state.txs[i].kind == TxKind::Return && state.txs[i].approved);
    if refunded {
        return Err(refusal("0225", "IADESI YAPILMIS ISLEM IPTAL EDILEMEZ"));
    }
    state.txs[sale].reversed = true;
    let amount = state.txs[sale].amount;
    let index = follow_up(&mut state, sale, TxKind::Reverse, amount, now);
    Ok(tx_nodes(&state.txs[index]))
}

fn refund(
    sim: &Posnet,
    merchant: &PosnetMerchant,
    request: &Request,
    now: DateTime<FixedOffset>,
) -> Result<Vec<Node>, Refusal> {
    let amount = amount(request)?;
    let currency = currency(request)?;
    let mut state = sim.lock();
    let sale = named_sale(
        &state,
        &merchant.tid,
        request,
        &[TxKind::Sale, TxKind::Capt],
    )?;
    if state.txs[sale].reversed || state.txs[sale].currency != currency {
        return Err(refusal("0123", "ISLEM BULUNAMADI"));
    }
    if !state.is_closed(&merchant.tid, state.txs[sale].business_day) {
        return Err(refusal(
            "0226",
            "GUN SONU YAPILMAMIS ISLEM IADE EDILEMEZ, IPTAL YAPINIZ",
        ));
    }
    let order_id = state.txs[sale].order_id.clone();
    let refunded = state
        .order_rows(&merchant.tid, &order_id)
        .into_iter()
        .filter(|&i| state.txs[i].kind == TxKind::Return && state.txs[i].approved)
        .fold(Kurus::ZERO, |sum, i| {
            sum.checked_add(state.txs[i].amount).unwrap_or(sum)
        });
    let left = state.txs[sale]
        .amount
        .checked_sub(refunded)
        .unwrap_or(Kurus::ZERO);
    if amount > left {
        return Err(refusal("0227", "IADE TUTARI SATIS TUTARINI ASIYOR"));
    }
    let index = follow_up(&mut state, sale, TxKind::Return, amount, now);
    Ok(tx_nodes(&state.txs[index]))
}

fn agreement(
    sim: &Posnet,
    merchant: &PosnetMerchant,
    request: &Request,
) -> Result<Vec<Node>, Refusal> {
    let order_id = request.op("orderID").ok_or_else(|| missing("ORDERID"))?;
    let state = sim.lock();
    let rows = state.order_rows(&merchant.tid, order_id);
    if rows.is_empty() {
        return Err(refusal("0123", "ISLEM BULUNAMADI"));
    }
    let txns = rows
        .into_iter()
        .map(|i| {
            let t = &state.txs[i];
            Node::Group(
                "transaction",
                vec![
                    leaf("orderID", t.order_id.clone()),
                    leaf(
                        "ccno",
                        t.masked_pan
                            .as_ref()
                            .map(|m| m.as_str().to_owned())
                            .unwrap_or_default(),
                    ),
                    leaf("amount", t.amount.format_tr()),
                    leaf("currencyCode", currency_code(t.currency)),
                    leaf("authCode", t.auth_code.clone()),
                    leaf(
                        "tranDate",
                        t.created_at.format("%Y-%m-%d %H:%M:%S%.3f").to_string(),
                    ),
                    leaf("state", t.kind.state()),
                    leaf("txnStatus", if t.approved { "1" } else { "0" }),
                    leaf("hostlogkey", t.host_log_key.clone()),
                ],
            )
        })
        .collect();
    Ok(vec![
        leaf("approved", "1"),
        Node::Group("transactions", txns),
    ])
}

fn hex_token(len: usize) -> String {
    Alphanumeric
        .sample_string(&mut rand::rng(), len * 2)
        .bytes()
        .take(len)
        .map(|b| format!("{:X}", b % 16))
        .collect()
}

/// 3D step 1: the card and the order, kept under a `data1` token.
fn request_data(
    sim: &Posnet,
    merchant: &PosnetMerchant,
    request: &Request,
    now: DateTime<FixedOffset>,
) -> Result<Vec<Node>, Refusal> {
    if request.op("posnetid") != Some(merchant.posnet_id.as_str()) {
        return Err(missing("POSNETID"));
    }
    let xid = request
        .op("XID")
        .filter(|x| x.len() == 20)
        .ok_or_else(|| missing("XID"))?;
    let kind = match request.op("tranType") {
        Some("Sale") => TxKind::Sale,
        Some("Auth") => TxKind::Auth,
        _ => return Err(missing("TRANTYPE")),
    };
    let session = Session {
        tid: merchant.tid.clone(),
        xid: xid.to_owned(),
        amount: amount(request)?,
        currency: currency(request)?,
        installments: installments(request)?,
        kind,
        card: judge_card(request, &now)?,
        data2: hex_token(52),
        sign: hex_token(32),
        return_url: String::new(),
        md_status: None,
        merchant_packet: String::new(),
        callback_sign: String::new(),
        charged: None,
    };
    let mut state = sim.lock();
    if !state
        .order_rows(&merchant.tid, &format!("TDSC{xid}"))
        .is_empty()
    {
        return Err(refusal("0127", "ORDERID DAHA ONCE KULLANILMIS 0127"));
    }
    let data1 = hex_token(160);
    let answer = vec![
        leaf("approved", "1"),
        leaf("respCode", ""),
        leaf("respText", ""),
        Node::Group(
            "oosRequestDataResponse",
            vec![
                leaf("data1", data1.clone()),
                leaf("data2", session.data2.clone()),
                leaf("sign", session.sign.clone()),
            ],
        ),
    ];
    state.sessions.insert(data1, session);
    Ok(answer)
}

/// The authenticated session the callback packets name, checked against the MAC.
fn packet_session(
    state: &Ledger,
    merchant: &PosnetMerchant,
    request: &Request,
) -> Result<Session, Refusal> {
    let bank = request.op("bankData").ok_or_else(|| missing("BANKDATA"))?;
    let session = state
        .sessions
        .get(bank)
        .filter(|s| s.tid == merchant.tid && s.md_status.is_some())
        .filter(|s| request.op("merchantData") == Some(s.merchant_packet.as_str()))
        .filter(|s| request.op("sign") == Some(s.callback_sign.as_str()))
        .ok_or_else(|| refusal("0228", "3D VERISI GECERSIZ"))?;
    let first = wire::first_hash(&merchant.enc_key, &merchant.tid);
    let expected = wire::expected_request_mac(
        &session.xid,
        &session.amount.minor().to_string(),
        currency_code(session.currency),
        &merchant.mid,
        &first,
    );
    if !wire::same(&expected, request.op("mac").unwrap_or_default()) {
        return Err(refusal("E216", "Mac Doğrulama hatalı"));
    }
    Ok(session.clone())
}

/// 3D step 4: the packets opened, with the answer's MAC.
fn resolve(
    sim: &Posnet,
    merchant: &PosnetMerchant,
    request: &Request,
) -> Result<Vec<Node>, Refusal> {
    let session = packet_session(&sim.lock(), merchant, request)?;
    let md_status = session.md_status.unwrap_or("0");
    let amount = session.amount.minor().to_string();
    let currency = currency_code(session.currency);
    let first = wire::first_hash(&merchant.enc_key, &merchant.tid);
    let mac = wire::resolve_answer_mac(
        md_status,
        &session.xid,
        &amount,
        currency,
        &merchant.mid,
        &first,
    );
    Ok(vec![
        leaf("approved", "1"),
        leaf("respCode", ""),
        leaf("respText", ""),
        Node::Group(
            "oosResolveMerchantDataResponse",
            vec![
                leaf("xid", session.xid.clone()),
                leaf("amount", amount),
                leaf("currency", currency),
                leaf(
                    "installment",
                    format!(
                        "{:02}",
                        if session.installments > 1 {
                            session.installments
                        } else {
                            0
                        }
                    ),
                ),
                leaf("point", "0"),
                leaf("pointAmount", "0"),
                leaf("txStatus", if md_status == "1" { "Y" } else { "N" }),
                leaf("mdStatus", md_status),
                leaf(
                    "mdErrorMessage",
                    if md_status == "1" {
                        ""
                    } else {
                        "Authentication failed"
                    },
                ),
                leaf("mac", mac),
            ],
        ),
    ])
}

/// 3D step 5: the charge, once per authentication.
async fn tran_data(
    sim: &Posnet,
    merchant: &PosnetMerchant,
    request: &Request,
    now: DateTime<FixedOffset>,
) -> Response {
    let session = match packet_session(&sim.lock(), merchant, request) {
        Ok(s) => s,
        Err(r) => return refused(r),
    };
    if session.md_status != Some("1") {
        return refused(refusal("0228", "3D DOGRULAMASI BASARISIZ"));
    }
    let order_id = format!("TDSC{}", session.xid);
    if let Some(earlier) = earlier_charge(sim, &merchant.tid, &order_id) {
        return wire::xml_response(earlier);
    }
    if let Some(response) = fault_before(sim, &merchant.tid, &session.card) {
        return response;
    }
    let charge = Charge {
        order_id,
        amount: session.amount,
        currency: session.currency,
        installments: session.installments,
        kind: session.kind,
        three_d: true,
    };
    let tx = {
        let mut state = sim.lock();
        let index = record_charge(&mut state, &merchant.tid, &charge, &session.card, now);
        state.txs[index].clone()
    };
    tracing::info!(merchant.tid = %merchant.tid, payment.order_id = %tx.order_id, payment.approved = tx.approved, card = %session.card.masked, "posnet 3D charge");
    fault_after(sim, &session.card, &tx).await
}
