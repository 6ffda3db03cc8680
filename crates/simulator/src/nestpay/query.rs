//! The two queries, answered from the ledger in the recorded shapes:
//! `Extra/ORDERSTATUS` (the order's latest transaction) and `Extra/ORDERHISTORY`
//! (every transaction, `TRX1` newest, eleven TAB-separated positions). Amounts are in
//! kuruş here, unlike `Total` everywhere else. Queries change nothing.
//!
//! Void rows are not transactions of their own here: the voided transaction shows
//! `TRANS_STAT` `V` and its `VOID_DTTM` (as in the recorded samples). ORDERSTATUS
//! describes the order's latest approved transaction, or its latest one when none was
//! approved (the simulator's choice: a refused Credit does not hide the sale).

use axum::response::Response;
use chrono::{DateTime, FixedOffset};

use super::answer::{dttm, host_date, xml_answer};
use super::api::refusal;
use super::cards::spaced_mask;
use super::codes;
use super::ledger::{Nestpay, NestpayTransaction, TxStatus, TxType};
use super::xml::{Node, Request};
use super::NestpayMerchant;

/// `TRANS_STAT`: `V` voided, `D` failed, `A` pre-authorised, `C` captured.
fn trans_stat(tx: &NestpayTransaction) -> &'static str {
    if tx.status != TxStatus::Approved {
        "D"
    } else if tx.voided_at.is_some() {
        "V"
    } else if tx.kind == TxType::PreAuth {
        "A"
    } else {
        "C"
    }
}

/// The query view of one transaction.
struct View {
    charge_type: &'static str,
    stat: &'static str,
    orig: String,
    capture: String,
    auth_dttm: String,
    capture_dttm: String,
    void_dttm: String,
    host_ref: String,
    auth_code: String,
    proc: String,
    trans_id: String,
}

fn view(tx: &NestpayTransaction) -> View {
    let captured =
        tx.kind != TxType::PreAuth && !(tx.kind == TxType::Auth && tx.status != TxStatus::Approved);
    let auth_dttm = dttm(&tx.created_at);
    View {
        charge_type: tx.kind.charge_type(),
        stat: trans_stat(tx),
        orig: tx.amount.minor().to_string(),
        capture: if captured {
            tx.amount.minor().to_string()
        } else {
            String::new()
        },
        capture_dttm: if captured {
            auth_dttm.clone()
        } else {
            String::new()
        },
        auth_dttm,
        void_dttm: tx.voided_at.as_ref().map(dttm).unwrap_or_default(),
        host_ref: tx.host_ref.clone(),
        auth_code: tx.auth_code.clone(),
        proc: if tx.proc_return_code.is_empty() {
            "99".into()
        } else {
            tx.proc_return_code.clone()
        },
        trans_id: tx.trans_id.clone(),
    }
}

fn leaf(name: &str, value: impl Into<String>) -> Node {
    Node::Leaf(name.to_owned(), value.into())
}

/// The order's transactions, oldest first, Void rows left out.
fn order_txs(sim: &Nestpay, merchant: &NestpayMerchant, order_id: &str) -> Vec<NestpayTransaction> {
    let state = sim.lock();
    state
        .order_rows(&merchant.client_id, order_id)
        .into_iter()
        .map(|i| state.txs[i].clone())
        .filter(|tx| tx.kind != TxType::Void)
        .collect()
}

/// `Extra/ORDERSTATUS` = `QUERY`.
pub fn order_status(
    sim: &Nestpay,
    merchant: &NestpayMerchant,
    request: &Request,
    now: &DateTime<FixedOffset>,
) -> Response {
    let Some(order_id) = request.non_empty("OrderId") else {
        return refusal(sim, codes::BAD_XML, "", now);
    };
    let txs = order_txs(sim, merchant, order_id);
    let latest = txs
        .iter()
        .rev()
        .find(|tx| tx.status == TxStatus::Approved)
        .or(txs.last());
    let Some(tx) = latest else {
        return xml_answer(&[
            leaf("ErrMsg", format!("No record found for {order_id}")),
            leaf("ProcReturnCode", "99"),
            leaf("Response", "Declined"),
            leaf("OrderId", ""),
            leaf("TransId", ""),
            Node::Group(
                "Extra".into(),
                vec![
                    ("NUMCODE".into(), "0".into()),
                    (
                        "ORDERSTATUS".into(),
                        "ORD_ID:\tCHARGE_TYPE_CD:\tORIG_TRANS_AMT:\tCAPTURE_AMT:\tTRANS_STAT:\tAUTH_DTTM:\tCAPTURE_DTTM:\tAUTH_CODE:".into(),
                    ),
                ],
            ),
        ]);
    };
    let v = view(tx);
    let three_d = tx.three_d.clone().unwrap_or_default();
    let summary = format!(
        "ORD_ID:{order_id}\tCHARGE_TYPE_CD:{}\tORIG_TRANS_AMT:{}\tCAPTURE_AMT:{}\tTRANS_STAT:{}\tAUTH_DTTM:{}\tCAPTURE_DTTM:{}\tAUTH_CODE:{}\tTRANS_ID:{}",
        v.charge_type, v.orig, v.capture, v.stat, v.auth_dttm, v.capture_dttm, v.auth_code, v.trans_id
    );
    let mut extra: Vec<(&str, String)> = vec![
        ("AUTH_CODE", v.auth_code.clone()),
        ("AUTH_DTTM", v.auth_dttm.clone()),
        ("CAPTURE_AMT", v.capture.clone()),
        ("CAPTURE_DTTM", v.capture_dttm.clone()),
        ("CAVV_3D", three_d.cavv),
        ("CHARGE_TYPE_CD", v.charge_type.into()),
        ("ECI_3D", three_d.eci),
        ("HOSTDATE", host_date(&tx.created_at)),
        ("HOST_REF_NUM", v.host_ref.clone()),
        ("MDSTATUS", three_d.md_status),
        ("NUMCODE", "0".into()),
        ("ORDERSTATUS", summary),
        ("ORD_ID", order_id.to_owned()),
        ("ORIG_TRANS_AMT", v.orig.clone()),
        (
            "PAN",
            tx.masked_pan.as_ref().map(spaced_mask).unwrap_or_default(),
        ),
        ("PROC_RET_CD", v.proc.clone()),
        ("SETTLEID", String::new()),
        ("TRANS_ID", v.trans_id.clone()),
        ("TRANS_STAT", v.stat.into()),
    ];
    if !v.void_dttm.is_empty() {
        extra.push(("VOID_DTTM", v.void_dttm.clone()));
    }
    extra.push(("XID_3D", three_d.xid));
    xml_answer(&[
        leaf("ErrMsg", format!("Record(s) found for {order_id}")),
        leaf("ProcReturnCode", "00"),
        leaf("Response", "Approved"),
        leaf("OrderId", order_id),
        leaf("TransId", v.trans_id),
        Node::Group(
            "Extra".into(),
            extra.into_iter().map(|(k, v)| (k.to_owned(), v)).collect(),
        ),
    ])
}

/// `Extra/ORDERHISTORY` = `QUERY`.
pub fn order_history(
    sim: &Nestpay,
    merchant: &NestpayMerchant,
    request: &Request,
    now: &DateTime<FixedOffset>,
) -> Response {
    let Some(order_id) = request.non_empty("OrderId") else {
        return refusal(sim, codes::BAD_XML, "", now);
    };
    let txs = order_txs(sim, merchant, order_id);
    if txs.is_empty() {
        return xml_answer(&[
            leaf("ErrMsg", format!("No record found for {order_id}")),
            leaf("ProcReturnCode", "05"),
            leaf("Response", "Declined"),
            leaf("OrderId", order_id),
            Node::Group(
                "Extra".into(),
                vec![
                    ("NUMCODE".into(), "0".into()),
                    ("TRXCOUNT".into(), "0".into()),
                ],
            ),
        ]);
    }
    let mut extra: Vec<(String, String)> = vec![
        ("TERMINALID".into(), merchant.terminal_id()),
        ("MERCHANTID".into(), merchant.merchant_id().to_owned()),
        ("NUMCODE".into(), "0".into()),
    ];
    for (n, tx) in txs.iter().rev().enumerate() {
        let v = view(tx);
        let record = [
            v.charge_type.to_owned(),
            v.stat.to_owned(),
            v.orig,
            v.capture,
            v.auth_dttm,
            v.capture_dttm,
            v.void_dttm,
            v.host_ref,
            v.auth_code,
            v.proc,
            v.trans_id,
        ]
        .join("\t");
        extra.push((format!("TRX{}", n + 1), record));
    }
    extra.push(("TRXCOUNT".into(), txs.len().to_string()));
    xml_answer(&[
        leaf("ErrMsg", ""),
        leaf("ProcReturnCode", "00"),
        leaf("Response", "Approved"),
        leaf("OrderId", order_id),
        Node::Group("Extra".into(), extra),
    ])
}
