//! Test-mode control endpoints under `/_sim/`, in the other simulators' paths and JSON
//! shapes (`crate::control_common`): merchants, end of day, the ledger and the day's
//! statement. Merchants are keyed by `tid`; answers carry both `merchant_no` (the
//! shared shape) and `tid`. Never the key or a full card number.

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;
use chrono::{Days, NaiveDate};
use serde_json::{json, Value};

use super::config::PosnetMerchant;
use super::ledger::{Posnet, PosnetTransaction, TxKind};
use crate::clock;
use crate::control_common::{
    end_of_day_answer, iso_day, new_merchant, rows_answer, statement_answer, Refusal,
};
use crate::statement::HEADER;
use crate::wire;

/// The `/_sim/` routes.
pub fn router() -> Router<Arc<Posnet>> {
    Router::new()
        .route("/merchants", get(list_merchants).post(add_merchant))
        .route("/end-of-day", post(end_of_day))
        .route("/merchants/{tid}/transactions", get(transactions))
        .route("/merchants/{tid}/statement", get(statement_file))
}

async fn list_merchants(State(sim): State<Arc<Posnet>>) -> Response {
    let state = sim.lock();
    let today = clock::now().date_naive();
    let mut ids: Vec<&String> = state.merchants.keys().collect();
    ids.sort();
    let all: Vec<Value> = ids
        .into_iter()
        .filter_map(|id| state.merchants.get(id).map(|m| (id, m)))
        .map(|(id, m)| {
            json!({
                "merchant_no": id,
                "tid": id,
                "mid": m.config.mid,
                "allowed_ips": m.config.allowed_ips,
                "business_day": iso_day(state.open_day(id, today)),
            })
        })
        .collect();
    wire::json_answer(&Value::Array(all))
}

async fn add_merchant(State(sim): State<Arc<Posnet>>, body: Bytes) -> Result<Response, Refusal> {
    let merchant: PosnetMerchant = new_merchant(&body)?;
    let id = merchant.tid.clone();
    sim.lock().upsert_merchant(merchant);
    Ok(wire::json_with_status(
        StatusCode::CREATED,
        &json!({ "merchant_no": id, "tid": id }),
    ))
}

/// Closes the open business day of one merchant (or all), returning what closed.
pub fn close_day(sim: &Posnet, tid: Option<&str>) -> Vec<(String, NaiveDate)> {
    let closed = sim.lock().end_of_day(tid, clock::now().date_naive());
    for (id, day) in &closed {
        tracing::info!(merchant.tid = %id, business_day = %day, "posnet end of day");
    }
    closed
}

async fn end_of_day(
    State(sim): State<Arc<Posnet>>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let only = query
        .get("tid")
        .or_else(|| query.get("merchant_no"))
        .map(String::as_str);
    end_of_day_answer(
        only,
        close_day(&sim, only),
        |id, day| json!({"merchant_no": id, "tid": id, "business_day": day}),
    )
}

/// Every ledger row of a merchant; `None` for an unknown merchant.
pub fn merchant_transactions(sim: &Posnet, tid: &str) -> Option<Vec<PosnetTransaction>> {
    let state = sim.lock();
    state.merchants.get(tid)?;
    Some(state.rows_of(tid).into_iter().cloned().collect())
}

async fn transactions(State(sim): State<Arc<Posnet>>, Path(tid): Path<String>) -> Response {
    rows_answer(merchant_transactions(&sim, &tid))
}

fn csv_field(text: &str) -> String {
    if text.contains([';', '"', '\r', '\n']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_owned()
    }
}

/// The statement of one business day in the shared statement columns
/// (`crate::statement`): `Referans No` is the `hostlogkey`, `Sipariş No` the 24-character
/// `orderID`; no commission; value date the next day; pre-authorisations left out until
/// captured. `None` for an unknown merchant.
pub fn day_statement(sim: &Posnet, tid: &str, day: NaiveDate) -> Option<String> {
    let state = sim.lock();
    state.merchants.get(tid)?;
    let all = state.rows_of(tid);
    let mut rows: Vec<&PosnetTransaction> = all
        .iter()
        .copied()
        .filter(|t| t.business_day == day)
        .collect();
    rows.sort_by(|a, b| a.created_at.cmp(&b.created_at).then(a.seq.cmp(&b.seq)));
    let mut out = HEADER.join(";");
    out.push_str("\r\n");
    for tx in rows {
        let sale_amount = all
            .iter()
            .find(|t| Some(&t.host_log_key) == tx.original.as_ref())
            .map(|t| t.amount);
        let kind = match tx.kind {
            TxKind::Auth => continue,
            TxKind::Sale | TxKind::Capt => "Satış",
            TxKind::Reverse => "İptal",
            TxKind::Return if sale_amount.is_some_and(|s| tx.amount < s) => "Kısmi İade",
            TxKind::Return => "İade",
        };
        let valor = tx
            .business_day
            .checked_add_days(Days::new(1))
            .unwrap_or(tx.business_day);
        let fields = [
            clock::fmt_trx(&tx.created_at),
            valor.format("%d.%m.%Y").to_string(),
            kind.to_owned(),
            if tx.approved {
                "Başarılı"
            } else {
                "Başarısız"
            }
            .to_owned(),
            tx.host_log_key.clone(),
            tx.order_id.clone(),
            tx.auth_code.clone(),
            tx.masked_pan
                .as_ref()
                .map(|m| m.as_str().to_owned())
                .unwrap_or_default(),
            String::new(),
            tx.installments.to_string(),
            tx.amount.format_tr(),
            tx.amount.format_tr(),
            sanalpos_core::Kurus::ZERO.format_tr(),
            tx.amount.format_tr(),
            tx.currency.alpha().to_owned(),
        ];
        let line: Vec<String> = fields.iter().map(|f| csv_field(f)).collect();
        out.push_str(&line.join(";"));
        out.push_str("\r\n");
    }
    Some(out)
}

async fn statement_file(
    State(sim): State<Arc<Posnet>>,
    Path(tid): Path<String>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    statement_answer(&tid, &query, |day| day_statement(&sim, &tid, day))
}
