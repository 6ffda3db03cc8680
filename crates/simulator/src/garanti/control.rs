//! Test-mode control endpoints under `/_sim/`, with the other simulators' paths and
//! JSON shapes (`crate::control_common`): merchants, end of day, panel sales, the
//! ledger and the day's statement. Merchants are keyed by terminal id; answers that
//! name a merchant carry both `merchant_no` (the shared shape) and `terminal_id`. Off
//! without test mode; never a secret or a full card number.

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;
use chrono::{Days, NaiveDate};
use sanalpos_core::{Currency, Kurus};
use serde::Deserialize;
use serde_json::{json, Value};

use super::api;
use super::config::GarantiMerchant;
use super::ledger::{CardFacts, Garanti, GarantiTransaction, TxType};
use super::sale::{self, Order};
use crate::clock;
use crate::control_common::{
    end_of_day_answer, iso_day, new_merchant, panel_sale_basics, panel_sale_request, rows_answer,
    statement_answer, Refusal,
};
use crate::statement::HEADER;
use crate::wire;

/// The `/_sim/` routes (to be nested under that prefix).
pub fn router() -> Router<Arc<Garanti>> {
    Router::new()
        .route("/merchants", get(list_merchants).post(add_merchant))
        .route("/end-of-day", post(end_of_day))
        .route("/merchants/{terminal_id}/panel-sales", post(panel_sale))
        .route("/merchants/{terminal_id}/transactions", get(transactions))
        .route("/merchants/{terminal_id}/statement", get(statement_file))
}

async fn list_merchants(State(sim): State<Arc<Garanti>>) -> Response {
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
                "terminal_id": id,
                "merchant_id": m.config.merchant_id,
                "allowed_ips": m.config.allowed_ips,
                "installments": m.config.installments,
                "business_day": iso_day(state.open_day(id, today)),
            })
        })
        .collect();
    wire::json_answer(&Value::Array(all))
}

async fn add_merchant(State(sim): State<Arc<Garanti>>, body: Bytes) -> Result<Response, Refusal> {
    let merchant: GarantiMerchant = new_merchant(&body)?;
    let id = merchant.terminal_id.clone();
    sim.lock().upsert_merchant(merchant);
    Ok(wire::json_with_status(
        StatusCode::CREATED,
        &json!({ "merchant_no": id, "terminal_id": id }),
    ))
}

/// Closes the open business day of one merchant (or all), returning what closed.
pub fn close_day(sim: &Garanti, terminal_id: Option<&str>) -> Vec<(String, NaiveDate)> {
    let closed = sim
        .lock()
        .end_of_day(terminal_id, clock::now().date_naive());
    for (id, day) in &closed {
        tracing::info!(merchant.terminal_id = %id, business_day = %day, "garanti end of day");
    }
    closed
}

async fn end_of_day(
    State(sim): State<Arc<Garanti>>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let only = query
        .get("terminal_id")
        .or_else(|| query.get("merchant_no"))
        .map(String::as_str);
    end_of_day_answer(
        only,
        close_day(&sim, only),
        |id, day| json!({"merchant_no": id, "terminal_id": id, "business_day": day}),
    )
}

#[derive(Deserialize)]
struct PanelSale {
    amount: String,
    card: String,
    #[serde(default)]
    installments: Option<u8>,
    #[serde(default, alias = "order_id")]
    client_ref: Option<String>,
    #[serde(default)]
    at: Option<String>,
}

async fn panel_sale(
    State(sim): State<Arc<Garanti>>,
    Path(terminal_id): Path<String>,
    body: Bytes,
) -> Result<Response, Refusal> {
    let request: PanelSale = panel_sale_request(&body)?;
    let now = clock::now();
    let (amount, card, at) =
        panel_sale_basics(&request.amount, &request.card, request.at.as_deref(), now)?;
    let facts = CardFacts::judge(card.expose(), (9999, 12), (0, 1))
        .ok_or_else(|| Refusal::bad_request("card is not a valid card number"))?;
    drop(card);
    let facts = CardFacts {
        outcome: crate::cards::Outcome::Approve,
        fault: None,
        ..facts
    };
    if sim.lock().merchant(&terminal_id).is_none() {
        return Err(Refusal::unknown_merchant());
    }
    let order = Order {
        order_id: request
            .client_ref
            .filter(|o| !o.is_empty())
            .unwrap_or_else(|| api::generated_order_id(&at)),
        amount,
        currency: Currency::Try,
        installments: request.installments.unwrap_or(1).max(1),
    };
    let mut state = sim.lock();
    let index = sale::charge(
        &mut state,
        &terminal_id,
        TxType::Sales,
        &order,
        &facts,
        false,
        at,
    );
    let tx = &mut state.txs[index];
    tx.panel = true;
    Ok(wire::json_with_status(
        StatusCode::CREATED,
        &json!({
            "reference_code": tx.retref,
            "retref": tx.retref,
            "order_id": tx.order_id,
            "auth_code": tx.auth_code,
            "amount": tx.amount.to_string(),
        }),
    ))
}

/// Every ledger row of a merchant, in insertion order; `None` for an unknown merchant.
pub fn merchant_transactions(sim: &Garanti, terminal_id: &str) -> Option<Vec<GarantiTransaction>> {
    let state = sim.lock();
    state.merchants.get(terminal_id)?;
    Some(state.rows_of(terminal_id).into_iter().cloned().collect())
}

async fn transactions(
    State(sim): State<Arc<Garanti>>,
    Path(terminal_id): Path<String>,
) -> Response {
    rows_answer(merchant_transactions(&sim, &terminal_id))
}

fn csv_field(text: &str) -> String {
    if text.contains([';', '"', '\r', '\n']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_owned()
    }
}

/// The statement of one business day of a merchant, in the shared statement columns
/// (`crate::statement`): `Referans No` is the `RetrefNum`, `Sipariş No` the `OrderID`;
/// no commission is modelled; the value date is the business day plus one;
/// pre-authorisations are left out until captured. `None` for an unknown merchant.
pub fn day_statement(sim: &Garanti, terminal_id: &str, day: NaiveDate) -> Option<String> {
    let state = sim.lock();
    state.merchants.get(terminal_id)?;
    let all = state.rows_of(terminal_id);
    let mut rows: Vec<&GarantiTransaction> = all
        .iter()
        .copied()
        .filter(|t| t.business_day == day)
        .collect();
    rows.sort_by(|a, b| a.created_at.cmp(&b.created_at).then(a.seq.cmp(&b.seq)));
    let captured = |order_id: &str| {
        all.iter()
            .filter(|t| t.order_id == order_id && t.kind.captures() && t.approved)
            .fold(Kurus::ZERO, |sum, t| {
                sum.checked_add(t.amount).unwrap_or(sum)
            })
    };
    let mut out = HEADER.join(";");
    out.push_str("\r\n");
    for tx in rows {
        let kind = match tx.kind {
            TxType::PreAuth => continue,
            TxType::Sales | TxType::PostAuth => "Satış",
            TxType::Void => "İptal",
            TxType::Refund if tx.amount < captured(&tx.order_id) => "Kısmi İade",
            TxType::Refund => "İade",
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
            tx.retref.clone(),
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
            Kurus::ZERO.format_tr(),
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
    State(sim): State<Arc<Garanti>>,
    Path(terminal_id): Path<String>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    statement_answer(&terminal_id, &query, |day| {
        day_statement(&sim, &terminal_id, day)
    })
}
