//! The inquiries, answered from the ledger: `orderinq` (the order's state),
//! `orderhistoryinq` (each of its transactions) and `orderlistinq` (every transaction
//! of a date range, 500 a page). Amounts in kuruş; a voided sale reads `VOIDED`.

use axum::response::Response;
use chrono::{Days, NaiveDateTime};

use super::answer::{head, transaction, xml_answer, Echo, Verdict};
use super::api::Call;
use super::codes;
use super::ledger::{Garanti, GarantiTransaction, State, TxType};
use super::xml::{group, leaf, response_text, Node};

/// Rows per `orderlistinq` page.
pub const LIST_PAGE: usize = 500;

const APPROVED: Verdict<'static> = Verdict {
    source: "GVPS",
    code: "00",
    reason: "",
    message: "",
    system: "",
};

fn kurus_text(amount: sanalpos_core::Kurus) -> String {
    amount.minor().to_string()
}

fn masked(tx: &GarantiTransaction) -> String {
    tx.masked_pan
        .as_ref()
        .map(|m| m.as_str().to_owned())
        .unwrap_or_default()
}

fn answer(state: &State, call: &Call, echo: &Echo, order_extra: Vec<Node>) -> Response {
    let mut nodes = head(echo, order_extra);
    nodes.push(transaction(
        &APPROVED,
        None,
        state.batch(&call.merchant.terminal_id),
        &call.now,
    ));
    xml_answer(&response_text(nodes))
}

/// `orderinq`.
pub fn order_inquiry(sim: &Garanti, call: &Call) -> Response {
    let Some(order_id) = call.request.non_empty("Order/OrderID") else {
        return call.refuse(sim, codes::MANDATORY);
    };
    let state = sim.lock();
    let rows: Vec<&GarantiTransaction> = state
        .order_rows(&call.merchant.terminal_id, order_id)
        .into_iter()
        .map(|i| &state.txs[i])
        .collect();
    let first = rows
        .iter()
        .rev()
        .find(|t| matches!(t.kind, TxType::Sales | TxType::PreAuth) && t.approved)
        .or_else(|| {
            rows.iter()
                .rev()
                .find(|t| matches!(t.kind, TxType::Sales | TxType::PreAuth))
        });
    let Some(sale) = first else {
        drop(state);
        return call.refuse(sim, codes::NOT_FOUND);
    };
    let capture = rows
        .iter()
        .find(|t| t.kind == TxType::PostAuth && t.is_live());
    let (status, pre_auth, auth) = match (sale.kind, sale.approved, sale.voided_at, capture) {
        (_, false, ..) => ("DECLINED", 0, 0),
        (_, true, Some(_), _) => ("VOIDED", 0, sale.amount.minor()),
        (TxType::PreAuth, true, None, None) => ("WAITINGPOSTAUTH", sale.amount.minor(), 0),
        (TxType::PreAuth, true, None, Some(c)) => {
            ("APPROVED", sale.amount.minor(), c.amount.minor())
        }
        _ => ("APPROVED", 0, sale.amount.minor()),
    };
    let date = |t: &GarantiTransaction| t.created_at.format("%Y-%m-%d %H:%M:%S%.3f").to_string();
    let result = group(
        "OrderInqResult",
        vec![
            leaf("ChargeType", "S"),
            leaf("PreAuthAmount", pre_auth.to_string()),
            leaf(
                "PreAuthDate",
                if pre_auth > 0 {
                    date(sale)
                } else {
                    String::new()
                },
            ),
            leaf("AuthAmount", auth.to_string()),
            leaf(
                "AuthDate",
                if auth > 0 {
                    date(capture.copied().unwrap_or(sale))
                } else {
                    String::new()
                },
            ),
            leaf("Status", status),
            leaf(
                "InstallmentCnt",
                if sale.installments > 1 {
                    sale.installments.to_string()
                } else {
                    "0".into()
                },
            ),
            leaf("CardNumberMasked", masked(sale)),
            leaf("Code", sale.code.clone()),
            leaf("ReasonCode", sale.reason_code.clone()),
            leaf("SysErrMsg", sale.sys_err_msg.clone()),
            leaf("RetrefNum", sale.retref.clone()),
            leaf("AuthCode", sale.auth_code.clone()),
            leaf(
                "BatchNum",
                state.batch(&call.merchant.terminal_id).to_string(),
            ),
            leaf("SequenceNum", sale.seq.to_string()),
            leaf("ProvDate", date(sale)),
            leaf("CardHolderName", ""),
            leaf("CardType", ""),
        ],
    );
    let echo = Echo {
        order_id: order_id.to_owned(),
        ..call.echo.clone()
    };
    answer(&state, call, &echo, vec![result])
}

fn history_txn(state: &State, tx: &GarantiTransaction) -> Node {
    let pre_auth = tx.kind == TxType::PreAuth;
    let day = |t: &chrono::DateTime<chrono::FixedOffset>| t.format("%Y%m%d").to_string();
    group(
        "OrderTxn",
        vec![
            leaf("Type", tx.kind.wire()),
            leaf("Status", tx.code.clone()),
            leaf(
                "PreAuthAmount",
                if pre_auth {
                    kurus_text(tx.amount)
                } else {
                    "0".into()
                },
            ),
            leaf(
                "AuthAmount",
                if pre_auth {
                    "0".into()
                } else {
                    kurus_text(tx.amount)
                },
            ),
            leaf(
                "PreAuthDate",
                if pre_auth {
                    day(&tx.created_at)
                } else {
                    String::new()
                },
            ),
            leaf(
                "AuthDate",
                if pre_auth {
                    String::new()
                } else {
                    day(&tx.created_at)
                },
            ),
            leaf(
                "VoidDate",
                tx.voided_at.as_ref().map(day).unwrap_or_default(),
            ),
            leaf("RetrefNum", tx.retref.clone()),
            leaf("AuthCode", tx.auth_code.clone()),
            leaf("ReturnCode", tx.code.clone()),
            leaf("BatchNum", tx.seq.to_string()),
            leaf(
                "InstallmentCnt",
                if tx.installments > 1 {
                    tx.installments.to_string()
                } else {
                    "0".into()
                },
            ),
            leaf("CurrencyCode", tx.currency.numeric().to_string()),
            leaf(
                "Settlement",
                if state.is_closed(&tx.terminal_id, tx.business_day) {
                    "Y"
                } else {
                    "N"
                },
            ),
        ],
    )
}

/// `orderhistoryinq`.
pub fn order_history(sim: &Garanti, call: &Call) -> Response {
    let Some(order_id) = call.request.non_empty("Order/OrderID") else {
        return call.refuse(sim, codes::MANDATORY);
    };
    let state = sim.lock();
    let rows = state.order_rows(&call.merchant.terminal_id, order_id);
    if rows.is_empty() {
        drop(state);
        return call.refuse(sim, codes::NOT_FOUND);
    }
    let txns: Vec<Node> = rows
        .iter()
        .map(|&i| history_txn(&state, &state.txs[i]))
        .collect();
    let echo = Echo {
        order_id: order_id.to_owned(),
        ..call.echo.clone()
    };
    let result = group("OrderHistInqResult", vec![group("OrderTxnList", txns)]);
    answer(&state, call, &echo, vec![result])
}

fn list_time(text: Option<&str>) -> Option<NaiveDateTime> {
    NaiveDateTime::parse_from_str(text?.trim(), "%d/%m/%Y %H:%M").ok()
}

fn list_txn(state: &State, tx: &GarantiTransaction) -> Node {
    let currency = match tx.currency {
        sanalpos_core::Currency::Try => "TL",
        other => other.alpha(),
    };
    group(
        "OrderTxn",
        vec![
            leaf("Id", tx.seq.to_string()),
            leaf(
                "LastTrxDate",
                tx.created_at.format("%Y-%m-%d %H:%M:%S").to_string(),
            ),
            leaf("TrxType", tx.kind.list_name()),
            leaf("OrderID", tx.order_id.clone()),
            leaf("CardNumberMasked", masked(tx)),
            leaf("AuthCode", tx.auth_code.clone()),
            leaf("RetrefNum", tx.retref.clone()),
            leaf(
                "OrigRetrefNum",
                tx.original_retref.clone().unwrap_or_default(),
            ),
            leaf(
                "InstallmentCnt",
                if tx.installments > 1 {
                    tx.installments.to_string()
                } else {
                    "Pesin".into()
                },
            ),
            leaf("Status", if tx.approved { "Basarili" } else { "Basarisiz" }),
            leaf("AuthAmount", kurus_text(tx.amount)),
            leaf("CurrencyCode", currency),
            leaf("SafeType", if tx.three_d { "3D" } else { "" }),
            leaf(
                "Settlement",
                if state.is_closed(&tx.terminal_id, tx.business_day) {
                    "Y"
                } else {
                    "N"
                },
            ),
            leaf("ResponseCode", tx.code.clone()),
            leaf("SysErrMsg", tx.sys_err_msg.clone()),
        ],
    )
}

/// `orderlistinq`: `StartDate`/`EndDate` `dd/MM/yyyy HH:mm`, at most 30 days apart.
pub fn order_list(sim: &Garanti, call: &Call) -> Response {
    let r = &call.request;
    let (Some(start), Some(end)) = (
        list_time(r.get("Order/StartDate")),
        list_time(r.get("Order/EndDate")),
    ) else {
        return call.refuse(sim, codes::MANDATORY);
    };
    let too_long = start
        .checked_add_days(Days::new(30))
        .is_none_or(|limit| end > limit);
    if end < start || too_long {
        return call.refuse(sim, codes::MANDATORY);
    }
    let page: usize = r
        .non_empty("Order/ListPageNum")
        .and_then(|p| p.parse().ok())
        .unwrap_or(1)
        .max(1);
    let state = sim.lock();
    let rows: Vec<&GarantiTransaction> = state
        .rows_of(&call.merchant.terminal_id)
        .into_iter()
        .filter(|t| {
            let at = t.created_at.naive_local();
            at >= start && at <= end + chrono::Duration::seconds(59)
        })
        .collect();
    let pages = rows.len().div_ceil(LIST_PAGE).max(1);
    let txns: Vec<Node> = rows
        .iter()
        .skip((page - 1) * LIST_PAGE)
        .take(LIST_PAGE)
        .map(|t| list_txn(&state, t))
        .collect();
    let mut list = vec![
        leaf("TotalTxnCount", rows.len().to_string()),
        leaf("TotalPageCount", pages.to_string()),
        leaf("ActPageNum", page.to_string()),
    ];
    list.extend(txns);
    let echo = Echo {
        order_id: String::new(),
        ..call.echo.clone()
    };
    let result = group("OrderListInqResult", vec![group("OrderTxnList", list)]);
    answer(&state, call, &echo, vec![result])
}
