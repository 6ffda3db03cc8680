//! `GVPSResponse` documents as the bank writes them: the echo of the terminal, the
//! customer and the order, then `Transaction` with its `Response` and references.
//! Never a full card number (the masked one only).

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, FixedOffset};
use sha2::{Digest, Sha512};

use super::codes::{self, GvpsError};
use super::ledger::GarantiTransaction;
use super::xml::{group, leaf, response_text, Node};

/// Who asked: the echo every answer starts with.
#[derive(Debug, Clone, Default)]
pub struct Echo {
    /// `Mode`.
    pub mode: String,
    /// `Terminal/ProvUserID` (and `UserID`).
    pub user: String,
    /// `Terminal/ID`.
    pub terminal_id: String,
    /// `Terminal/MerchantID`.
    pub merchant_id: String,
    /// `Customer/IPAddress`.
    pub ip: String,
    /// `Order/OrderID`.
    pub order_id: String,
}

/// The `Response` group.
pub struct Verdict<'a> {
    /// `HOST` or `GVPS`.
    pub source: &'a str,
    /// `Code`.
    pub code: &'a str,
    /// `ReasonCode`.
    pub reason: &'a str,
    /// `ErrorMsg`.
    pub message: &'a str,
    /// `SysErrMsg`.
    pub system: &'a str,
}

/// Any 128-hex value for the answer's `HashData` (its formula is not published and no
/// client checks it).
fn answer_hash(seed: &str) -> String {
    hex::encode_upper(Sha512::digest(seed.as_bytes()))
}

fn prov_date(now: &DateTime<FixedOffset>) -> String {
    now.format("%Y%m%d %H:%M:%S").to_string()
}

/// The parts before `Transaction`.
pub fn head(echo: &Echo, order_extra: Vec<Node>) -> Vec<Node> {
    let mut order = vec![leaf("OrderID", echo.order_id.clone()), leaf("GroupID", "")];
    order.extend(order_extra);
    vec![
        leaf("Mode", ""),
        group(
            "Terminal",
            vec![
                leaf("ProvUserID", echo.user.clone()),
                leaf("UserID", echo.user.clone()),
                leaf("ID", echo.terminal_id.clone()),
                leaf("MerchantID", echo.merchant_id.clone()),
            ],
        ),
        group(
            "Customer",
            vec![leaf("IPAddress", echo.ip.clone()), leaf("EmailAddress", "")],
        ),
        group("Order", order),
    ]
}

/// The `Transaction` group.
pub fn transaction(
    verdict: &Verdict<'_>,
    tx: Option<&GarantiTransaction>,
    batch: u32,
    now: &DateTime<FixedOffset>,
) -> Node {
    let approved = verdict.code == "00";
    let text = |f: fn(&GarantiTransaction) -> String| tx.map(f).unwrap_or_default();
    group(
        "Transaction",
        vec![
            group(
                "Response",
                vec![
                    leaf("Source", verdict.source),
                    leaf("Code", verdict.code),
                    leaf("ReasonCode", verdict.reason),
                    leaf("Message", if approved { "Approved" } else { "Declined" }),
                    leaf("ErrorMsg", verdict.message),
                    leaf("SysErrMsg", verdict.system),
                ],
            ),
            leaf("RetrefNum", text(|t| t.retref.clone())),
            leaf("AuthCode", text(|t| t.auth_code.clone())),
            leaf("BatchNum", format!("{batch:06}")),
            leaf("SequenceNum", text(|t| format!("{:06}", t.seq % 1_000_000))),
            leaf("ProvDate", prov_date(now)),
            leaf(
                "CardNumberMasked",
                text(|t| {
                    t.masked_pan
                        .as_ref()
                        .map(|m| m.as_str().to_owned())
                        .unwrap_or_default()
                }),
            ),
            leaf("CardHolderName", ""),
            leaf("CardType", ""),
            leaf(
                "HashData",
                answer_hash(&format!("{}{}", verdict.code, text(|t| t.retref.clone()))),
            ),
            leaf("HostMsgList", ""),
            group(
                "RewardInqResult",
                vec![leaf("RewardList", ""), leaf("ChequeList", "")],
            ),
        ],
    )
}

/// A gateway refusal (`Source` `GVPS`, `Code` 92); nothing recorded.
pub fn gvps_error(
    echo: &Echo,
    error: GvpsError,
    batch: u32,
    now: &DateTime<FixedOffset>,
) -> Response {
    let mut nodes = head(echo, Vec::new());
    nodes.push(transaction(
        &Verdict {
            source: "GVPS",
            code: "92",
            reason: error.reason,
            message: error.message,
            system: error.system,
        },
        None,
        batch,
        now,
    ));
    xml_answer(&response_text(nodes))
}

/// The answer about a ledger row: approved, or declined as recorded.
pub fn tx_answer(
    echo: &Echo,
    tx: &GarantiTransaction,
    batch: u32,
    now: &DateTime<FixedOffset>,
) -> String {
    let source = if tx.code == "92" { "GVPS" } else { "HOST" };
    let mut nodes = head(echo, Vec::new());
    nodes.push(transaction(
        &Verdict {
            source,
            code: &tx.code,
            reason: &tx.reason_code,
            message: &tx.error_msg,
            system: &tx.sys_err_msg,
        },
        Some(tx),
        batch,
        now,
    ));
    response_text(nodes)
}

/// A charge that went through but whose answer says so only half: `Code` 00 without a
/// `RetrefNum` or `AuthCode` (fault card 9052, "wrong hash": the answer's own hash is
/// not checked by clients, so the damage is put where they look).
pub fn garbled_answer(echo: &Echo, batch: u32, now: &DateTime<FixedOffset>) -> String {
    let mut nodes = head(echo, Vec::new());
    nodes.push(transaction(
        &Verdict {
            source: "HOST",
            code: "00",
            reason: "00",
            message: "",
            system: "",
        },
        None,
        batch,
        now,
    ));
    response_text(nodes)
}

/// The issuer's decline texts for an ISO code.
pub fn host_decline(code: &str) -> (String, String) {
    (
        codes::HOST_DECLINE_TEXT.to_owned(),
        codes::host_system_text(code),
    )
}

/// An XML answer (200, UTF-8).
pub fn xml_answer(text: &str) -> Response {
    let mut response = (StatusCode::OK, text.to_owned()).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/xml; charset=utf-8"),
    );
    response
}
