//! Test-mode control endpoints under `/_sim/`, with the N Kolay simulator's paths and
//! JSON shapes (`crate::control`): merchants, end of day, panel sales, the ledger and
//! the day's statement. Merchants are keyed by client id; answers that name a merchant
//! carry both `merchant_no` (the shared shape) and `client_id`. Off without test mode;
//! never a secret or a full card number.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post, put};
use axum::Router;
use chrono::{Datelike, NaiveDate};
use sanalpos_core::{Currency, Kurus};
use serde::Deserialize;
use serde_json::{json, Value};

use super::cards::CardFacts;
use super::ledger::{Nestpay, NestpayTransaction, TxStatus};
use super::statement::statement_csv;
use super::{api, sale, NestpayMerchant};
use crate::clock;
use crate::control_common::{
    apply_settings, end_of_day_answer, iso_day, new_merchant, panel_sale_basics,
    panel_sale_request, rows_answer, settings_changes, statement_answer, Refusal,
};
use crate::wire;

/// The `/_sim/` routes (to be nested under that prefix).
pub fn router() -> Router<Arc<Nestpay>> {
    Router::new()
        .route("/merchants", get(list_merchants).post(add_merchant))
        .route("/merchants/{client_id}/settings", put(update_settings))
        .route("/end-of-day", post(end_of_day))
        .route("/merchants/{client_id}/panel-sales", post(panel_sale))
        .route("/merchants/{client_id}/transactions", get(transactions))
        .route("/merchants/{client_id}/statement", get(statement_file))
}

fn merchant_json(sim: &Nestpay, client_id: &str) -> Value {
    let state = sim.lock();
    let Some(m) = state.merchants.get(client_id) else {
        return Value::Null;
    };
    let today = clock::now().date_naive();
    json!({
        "merchant_no": m.config.client_id,
        "client_id": m.config.client_id,
        "api_user": m.config.api_user,
        "allowed_ips": m.config.allowed_ips,
        "installments": m.config.installments,
        "business_day": iso_day(state.open_day(client_id, today)),
    })
}

async fn list_merchants(State(sim): State<Arc<Nestpay>>) -> Response {
    let mut ids: Vec<String> = sim.lock().merchants.keys().cloned().collect();
    ids.sort();
    let all: Vec<Value> = ids.iter().map(|id| merchant_json(&sim, id)).collect();
    wire::json_answer(&Value::Array(all))
}

async fn add_merchant(State(sim): State<Arc<Nestpay>>, body: Bytes) -> Result<Response, Refusal> {
    let merchant: NestpayMerchant = new_merchant(&body)?;
    let id = merchant.client_id.clone();
    sim.lock().upsert_merchant(merchant);
    Ok(wire::json_with_status(
        StatusCode::CREATED,
        &json!({ "merchant_no": id, "client_id": id }),
    ))
}

async fn update_settings(
    State(sim): State<Arc<Nestpay>>,
    Path(client_id): Path<String>,
    body: Bytes,
) -> Result<Response, Refusal> {
    let changes = settings_changes(&body)?;
    let mut state = sim.lock();
    let Some(current) = state.merchant(&client_id) else {
        return Err(Refusal::unknown_merchant());
    };
    let mut updated = (*current).clone();
    apply_settings(changes, |key, value| match key {
        "allowed_ips" => serde_json::from_value::<Option<Vec<IpAddr>>>(value)
            .map(|ips| updated.allowed_ips = ips)
            .is_ok(),
        "installments" => serde_json::from_value::<Vec<u8>>(value)
            .map(|counts| updated.installments = counts)
            .is_ok(),
        _ => false,
    })?;
    updated
        .validate()
        .map_err(|e| Refusal::bad_request(e.to_string()))?;
    state.upsert_merchant(updated);
    drop(state);
    Ok(wire::json_answer(&merchant_json(&sim, &client_id)))
}

/// Closes the open business day of one merchant (or all), returning what closed.
pub fn close_day(sim: &Nestpay, client_id: Option<&str>) -> Vec<(String, NaiveDate)> {
    let closed = sim.lock().end_of_day(client_id, clock::now().date_naive());
    for (id, day) in &closed {
        tracing::info!(merchant.client_id = %id, business_day = %day, "nestpay end of day");
    }
    closed
}

async fn end_of_day(
    State(sim): State<Arc<Nestpay>>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let only = query
        .get("client_id")
        .or_else(|| query.get("merchant_no"))
        .map(String::as_str);
    end_of_day_answer(
        only,
        close_day(&sim, only),
        |id, day| json!({"merchant_no": id, "client_id": id, "business_day": day}),
    )
}

#[derive(Deserialize)]
struct PanelSale {
    amount: String,
    card: String,
    #[serde(default)]
    installments: Option<u8>,
    /// The order id; generated when absent (N Kolay's shape calls it `client_ref`).
    #[serde(default, alias = "order_id")]
    client_ref: Option<String>,
    /// Istanbul local time `YYYY-MM-DDTHH:MM:SS`, never in the future; now when absent.
    #[serde(default)]
    at: Option<String>,
}

async fn panel_sale(
    State(sim): State<Arc<Nestpay>>,
    Path(client_id): Path<String>,
    body: Bytes,
) -> Result<Response, Refusal> {
    let request: PanelSale = panel_sale_request(&body)?;
    let now = clock::now();
    let (amount, card, at) =
        panel_sale_basics(&request.amount, &request.card, request.at.as_deref(), now)?;
    let facts = CardFacts::judge(&card, (9999, 12), (now.year() as u16, now.month() as u8));
    drop(card);
    let facts = CardFacts {
        outcome: super::cards::CardOutcome::Approve,
        ..facts
    };
    let Some(merchant) = sim.lock().merchant(&client_id) else {
        return Err(Refusal::unknown_merchant());
    };
    let installments = request.installments.unwrap_or(1).max(1);
    let order_id = request
        .client_ref
        .filter(|o| !o.is_empty())
        .unwrap_or_else(|| api::generated_order_id(&at));
    let mut state = sim.lock();
    let index = sale::charge(
        &mut state,
        &merchant,
        super::ledger::TxType::Auth,
        (&order_id, amount, Currency::Try, installments),
        &facts,
        None,
        at,
    );
    let tx = &mut state.txs[index];
    tx.panel = true;
    Ok(wire::json_with_status(
        StatusCode::CREATED,
        &json!({
            "reference_code": tx.trans_id,
            "trans_id": tx.trans_id,
            "order_id": tx.order_id,
            "auth_code": tx.auth_code,
            "amount": tx.amount.to_string(),
        }),
    ))
}

/// Every ledger row of a merchant, in insertion order; `None` for an unknown merchant.
pub fn merchant_transactions(sim: &Nestpay, client_id: &str) -> Option<Vec<NestpayTransaction>> {
    let state = sim.lock();
    state.merchants.get(client_id)?;
    Some(state.rows_of(client_id).into_iter().cloned().collect())
}

async fn transactions(State(sim): State<Arc<Nestpay>>, Path(client_id): Path<String>) -> Response {
    rows_answer(merchant_transactions(&sim, &client_id))
}

/// The statement of one business day of a merchant; `None` for an unknown merchant.
pub fn day_statement(sim: &Nestpay, client_id: &str, day: NaiveDate) -> Option<String> {
    let state = sim.lock();
    state.merchants.get(client_id)?;
    let all = state.rows_of(client_id);
    let mut rows: Vec<&NestpayTransaction> = all
        .iter()
        .copied()
        .filter(|t| t.business_day == day)
        .collect();
    rows.sort_by(|a, b| a.created_at.cmp(&b.created_at).then(a.seq.cmp(&b.seq)));
    let captured = |order_id: &str| {
        all.iter()
            .filter(|t| {
                t.order_id == order_id && t.kind.captures() && t.status == TxStatus::Approved
            })
            .fold(Kurus::ZERO, |sum, t| {
                sum.checked_add(t.amount).unwrap_or(sum)
            })
    };
    Some(statement_csv(&rows, captured))
}

async fn statement_file(
    State(sim): State<Arc<Nestpay>>,
    Path(client_id): Path<String>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    statement_answer(&client_id, &query, |day| {
        day_statement(&sim, &client_id, day)
    })
}
