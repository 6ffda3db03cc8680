//! Ledger rows and the `CC5Response` answers built from them, in the shapes of the
//! recorded answers of vectors/nestpay.json: approved, issuer-declined
//! (`ISO8583-nn`), core-refused (`CORE-xxxx`) and "Net Tutar 0." (`215021`).

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, FixedOffset};
use rand::Rng;
use sanalpos_core::{Currency, Kurus};

use super::cards::CardFacts;
use super::codes::{self, CoreError};
use super::ledger::{NestpayTransaction, State, TxStatus, TxType};
use super::xml::{self, Node};
use super::NestpayMerchant;

/// `TRXDATE`: `20221029 21:58:43`.
pub fn trx_date(time: &DateTime<FixedOffset>) -> String {
    time.format("%Y%m%d %H:%M:%S").to_string()
}

/// `HOSTDATE`: `1029-215844`.
pub fn host_date(time: &DateTime<FixedOffset>) -> String {
    time.format("%m%d-%H%M%S").to_string()
}

/// The status query's times: `2024-01-03 21:49:44.301`.
pub fn dttm(time: &DateTime<FixedOffset>) -> String {
    time.format("%Y-%m-%d %H:%M:%S%.3f").to_string()
}

/// `TRACEID`: 32 hex digits.
pub fn trace_id() -> String {
    let mut bytes = [0u8; 16];
    rand::rng().fill(&mut bytes);
    hex::encode(bytes)
}

fn leaf(name: &str, value: impl Into<String>) -> Node {
    Node::Leaf(name.to_owned(), value.into())
}

fn pairs(items: &[(&str, String)]) -> Vec<(String, String)> {
    items
        .iter()
        .map(|(k, v)| ((*k).to_owned(), v.clone()))
        .collect()
}

/// A `200 text/xml; charset=ISO-8859-9` answer.
pub fn xml_answer(nodes: &[Node]) -> Response {
    let mut response = (StatusCode::OK, xml::encode_response(nodes)).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/xml; charset=ISO-8859-9"),
    );
    response
}

/// A core refusal that touches no order: nothing is recorded.
pub fn core_error(
    err: CoreError,
    order_id: &str,
    trans_id: &str,
    now: &DateTime<FixedOffset>,
) -> Vec<Node> {
    core_shape(err.code, err.text, order_id, trans_id, now)
}

/// The core-refusal shape: `Error`, `99`, `ERRORCODE` `code`, `NUMCODE` `99xxxx`.
fn core_shape(
    code: &str,
    text: &str,
    order_id: &str,
    trans_id: &str,
    now: &DateTime<FixedOffset>,
) -> Vec<Node> {
    vec![
        leaf("OrderId", order_id),
        leaf("GroupId", order_id),
        leaf("Response", "Error"),
        leaf("AuthCode", ""),
        leaf("HostRefNum", ""),
        leaf("ProcReturnCode", "99"),
        leaf("TransId", trans_id),
        leaf("ErrMsg", text),
        Node::Group(
            "Extra".into(),
            pairs(&[
                ("SETTLEID", String::new()),
                ("TRXDATE", trx_date(now)),
                ("ERRORCODE", code.to_owned()),
                ("NUMCODE", format!("99{}", code.trim_start_matches("CORE-"))),
            ]),
        ),
    ]
}

/// Everything about a new row except its outcome.
pub struct NewRow<'a> {
    /// The merchant's `ClientId`.
    pub client_id: &'a str,
    /// The order id the request sent (the bank's key for cancel, refund and queries).
    pub order_id: &'a str,
    /// Sale, pre-authorisation, capture, void or credit.
    pub kind: TxType,
    /// The amount of this transaction (for a credit, the part refunded).
    pub amount: Kurus,
    /// The currency the request named.
    pub currency: Currency,
    /// Installments (1 = single).
    pub installments: u8,
    /// The card, when known.
    pub card: Option<&'a CardFacts>,
    /// The simulator's clock at the request, Istanbul time: the row's time and day.
    pub now: DateTime<FixedOffset>,
}

/// A row in the open business day, approved until an outcome says otherwise; not yet
/// inserted.
pub fn new_row(state: &State, row: NewRow<'_>) -> NestpayTransaction {
    NestpayTransaction {
        seq: 0,
        client_id: row.client_id.to_owned(),
        order_id: row.order_id.to_owned(),
        kind: row.kind,
        status: TxStatus::Approved,
        amount: row.amount,
        currency: row.currency,
        installments: row.installments,
        auth_code: String::new(),
        trans_id: state.new_trans_id(&row.now),
        host_ref: String::new(),
        proc_return_code: "00".into(),
        error_code: String::new(),
        err_msg: String::new(),
        masked_pan: row.card.map(|c| c.masked.clone()),
        customer: String::new(),
        card_brand: row.card.map(|c| c.brand.to_owned()).unwrap_or_default(),
        card_issuer: row.card.map(|c| c.issuer.clone()).unwrap_or_default(),
        created_at: row.now,
        business_day: state.open_day(row.client_id, row.now.date_naive()),
        voided_at: None,
        voids: None,
        three_d: None,
        panel: false,
    }
}

/// Marks a row approved with a fresh host reference and `auth_code` (a new one when
/// `None`).
pub fn approve(state: &mut State, tx: &mut NestpayTransaction, auth_code: Option<String>) {
    tx.status = TxStatus::Approved;
    tx.auth_code = auth_code.unwrap_or_else(|| State::new_auth_code(tx.kind));
    tx.host_ref = state.new_host_ref(&tx.created_at);
    tx.proc_return_code = "00".into();
}

/// Marks a row declined by the issuer with ISO code `code`.
pub fn decline(state: &mut State, tx: &mut NestpayTransaction, code: &str) {
    tx.status = TxStatus::Declined;
    tx.host_ref = state.new_host_ref(&tx.created_at);
    tx.proc_return_code = code.to_owned();
    tx.error_code = format!("ISO8583-{code}");
    tx.err_msg = codes::decline_text(code).to_owned();
}

/// Marks a row refused by the core.
pub fn refuse(tx: &mut NestpayTransaction, err: CoreError) {
    tx.status = TxStatus::Error;
    tx.proc_return_code = "99".into();
    tx.error_code = err.code.to_owned();
    tx.err_msg = err.text.to_owned();
}

/// Marks a Credit declined with nothing left to refund (`215021`, no ProcReturnCode).
pub fn net_zero(state: &mut State, tx: &mut NestpayTransaction) {
    tx.status = TxStatus::Declined;
    tx.host_ref = state.new_host_ref(&tx.created_at);
    tx.proc_return_code = String::new();
    tx.error_code = codes::NET_ZERO_CODE.into();
    tx.err_msg = codes::NET_ZERO_TEXT.into();
}

/// The `Extra` of an approved or issuer-declined answer, as a list (also flattened
/// into `EXTRA_*` callback fields).
pub fn extra_of(
    tx: &NestpayTransaction,
    merchant: &NestpayMerchant,
    settle_id: u32,
) -> Vec<(String, String)> {
    let mut extra = vec![
        ("SETTLEID", settle_id.to_string()),
        ("TRXDATE", trx_date(&tx.created_at)),
        ("ERRORCODE", tx.error_code.clone()),
    ];
    if tx.status == TxStatus::Approved {
        extra.push(("TERMINALID", merchant.terminal_id()));
        extra.push(("MERCHANTID", merchant.merchant_id().to_owned()));
    }
    extra.push(("CARDBRAND", tx.card_brand.clone()));
    extra.push(("CARDISSUER", tx.card_issuer.clone()));
    if tx.status == TxStatus::Approved && matches!(tx.kind, TxType::Auth | TxType::PreAuth) {
        extra.push(("AVSAPPROVE", "Y".into()));
    }
    extra.push(("HOSTDATE", host_date(&tx.created_at)));
    if tx.status == TxStatus::Approved && matches!(tx.kind, TxType::Auth | TxType::PreAuth) {
        extra.push((
            "AVSERRORCODEDETAIL",
            "avshatali-avshatali-avshatali-avshatali-".into(),
        ));
    }
    extra.push(("NUMCODE", tx.proc_return_code.clone()));
    pairs(&extra)
}

/// The answer to the request that made `tx`.
pub fn tx_answer(tx: &NestpayTransaction, merchant: &NestpayMerchant, settle_id: u32) -> Vec<Node> {
    match tx.status {
        TxStatus::Error => core_shape(
            &tx.error_code,
            &tx.err_msg,
            &tx.order_id,
            &tx.trans_id,
            &tx.created_at,
        ),
        TxStatus::Declined if tx.error_code == codes::NET_ZERO_CODE => vec![
            leaf("OrderId", tx.order_id.clone()),
            leaf("Response", "Declined"),
            leaf("HostRefNum", tx.host_ref.clone()),
            leaf("TransId", tx.trans_id.clone()),
            leaf("ErrMsg", tx.err_msg.clone()),
            Node::Group(
                "Extra".into(),
                pairs(&[
                    ("TRXDATE", trx_date(&tx.created_at)),
                    ("TRACEID", trace_id()),
                    ("ERRORCODE", tx.error_code.clone()),
                ]),
            ),
        ],
        TxStatus::Declined => vec![
            leaf("OrderId", tx.order_id.clone()),
            leaf("GroupId", tx.order_id.clone()),
            leaf("Response", "Declined"),
            leaf("HostRefNum", tx.host_ref.clone()),
            leaf("ProcReturnCode", tx.proc_return_code.clone()),
            leaf("TransId", tx.trans_id.clone()),
            leaf("ErrMsg", tx.err_msg.clone()),
            Node::Group("Extra".into(), extra_of(tx, merchant, settle_id)),
        ],
        TxStatus::Approved => vec![
            leaf("OrderId", tx.order_id.clone()),
            leaf("GroupId", tx.order_id.clone()),
            leaf("Response", "Approved"),
            leaf("AuthCode", tx.auth_code.clone()),
            leaf("HostRefNum", tx.host_ref.clone()),
            leaf("ProcReturnCode", "00"),
            leaf("TransId", tx.trans_id.clone()),
            leaf("ErrMsg", ""),
            Node::Group("Extra".into(), extra_of(tx, merchant, settle_id)),
        ],
    }
}

/// Fault card 9052: the charge is made, but the answer says Approved / 00 without the
/// `AuthCode` and `TransId` a client needs: an answer no client may trust.
pub fn garbled_answer(tx: &NestpayTransaction) -> Vec<Node> {
    vec![
        leaf("OrderId", tx.order_id.clone()),
        leaf("GroupId", tx.order_id.clone()),
        leaf("Response", "Approved"),
        leaf("HostRefNum", ""),
        leaf("ProcReturnCode", "00"),
        leaf("ErrMsg", ""),
        Node::Group(
            "Extra".into(),
            pairs(&[
                ("TRXDATE", trx_date(&tx.created_at)),
                ("ERRORCODE", String::new()),
                ("NUMCODE", "00".into()),
            ]),
        ),
    ]
}
