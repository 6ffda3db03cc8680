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
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::Router;
use chrono::{Datelike, NaiveDate};
use sanalpos_core::{CardNumber, Currency, Kurus};
use serde::Deserialize;
use serde_json::{json, Value};

use super::cards::CardFacts;
use super::ledger::{Nestpay, NestpayTransaction, TxStatus};
use super::statement::statement_csv;
use super::{api, sale, NestpayMerchant};
use crate::clock;
use crate::statement::{encode_statement, StatementEncoding};
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

fn error(status: StatusCode, text: &str) -> Response {
    wire::json_with_status(status, &json!({ "error": text }))
}

fn unknown_merchant() -> Response {
    error(StatusCode::NOT_FOUND, "unknown merchant")
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
        "business_day": state.open_day(client_id, today).format("%Y-%m-%d").to_string(),
    })
}

async fn list_merchants(State(sim): State<Arc<Nestpay>>) -> Response {
    let mut ids: Vec<String> = sim.lock().merchants.keys().cloned().collect();
    ids.sort();
    let all: Vec<Value> = ids.iter().map(|id| merchant_json(&sim, id)).collect();
    wire::json_answer(&Value::Array(all))
}

async fn add_merchant(State(sim): State<Arc<Nestpay>>, body: Bytes) -> Response {
    let merchant: NestpayMerchant = match serde_json::from_slice(&body) {
        Ok(m) => m,
        Err(e) => return error(StatusCode::BAD_REQUEST, &format!("invalid merchant: {e}")),
    };
    if let Err(e) = merchant.validate() {
        return error(StatusCode::BAD_REQUEST, &e.to_string());
    }
    let id = merchant.client_id.clone();
    sim.lock().upsert_merchant(merchant);
    wire::json_with_status(
        StatusCode::CREATED,
        &json!({ "merchant_no": id, "client_id": id }),
    )
}

async fn update_settings(
    State(sim): State<Arc<Nestpay>>,
    Path(client_id): Path<String>,
    body: Bytes,
) -> Response {
    let Ok(Value::Object(changes)) = serde_json::from_slice::<Value>(&body) else {
        return error(StatusCode::BAD_REQUEST, "body must be a JSON object");
    };
    let mut state = sim.lock();
    let Some(current) = state.merchant(&client_id) else {
        return unknown_merchant();
    };
    let mut updated = (*current).clone();
    for (key, value) in changes {
        let ok = match key.as_str() {
            "allowed_ips" => serde_json::from_value::<Option<Vec<IpAddr>>>(value)
                .map(|ips| updated.allowed_ips = ips)
                .is_ok(),
            "installments" => serde_json::from_value::<Vec<u8>>(value)
                .map(|counts| updated.installments = counts)
                .is_ok(),
            _ => false,
        };
        if !ok {
            return error(StatusCode::BAD_REQUEST, &format!("invalid setting: {key}"));
        }
    }
    if let Err(e) = updated.validate() {
        return error(StatusCode::BAD_REQUEST, &e.to_string());
    }
    state.upsert_merchant(updated);
    drop(state);
    wire::json_answer(&merchant_json(&sim, &client_id))
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
    let closed = close_day(&sim, only);
    if only.is_some() && closed.is_empty() {
        return unknown_merchant();
    }
    let closed: Vec<Value> = closed
        .into_iter()
        .map(|(id, day)| {
            json!({"merchant_no": id, "client_id": id, "business_day": day.format("%Y-%m-%d").to_string()})
        })
        .collect();
    wire::json_answer(&json!({ "closed": closed }))
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
) -> Response {
    let Ok(request) = serde_json::from_slice::<PanelSale>(&body) else {
        return error(
            StatusCode::BAD_REQUEST,
            "body must be {amount, card, installments?, client_ref?, at?}",
        );
    };
    let amount = match Kurus::parse(&request.amount) {
        Ok(a) if a > Kurus::ZERO => a,
        _ => return error(StatusCode::BAD_REQUEST, "amount is not a positive amount"),
    };
    let Ok(card) = CardNumber::parse(&request.card) else {
        return error(StatusCode::BAD_REQUEST, "card is not a valid card number");
    };
    let now = clock::now();
    let at = match request.at.as_deref() {
        None => now,
        Some(text) => match chrono::NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S")
            .ok()
            .and_then(|local| local.and_local_timezone(clock::istanbul()).single())
        {
            Some(at) if at <= now => at,
            Some(_) => return error(StatusCode::BAD_REQUEST, "at is in the future"),
            None => {
                return error(
                    StatusCode::BAD_REQUEST,
                    "at is not an Istanbul time YYYY-MM-DDTHH:MM:SS",
                )
            }
        },
    };
    let facts = CardFacts::judge(&card, (9999, 12), (now.year() as u16, now.month() as u8));
    drop(card);
    let facts = CardFacts {
        outcome: super::cards::CardOutcome::Approve,
        ..facts
    };
    let Some(merchant) = sim.lock().merchant(&client_id) else {
        return unknown_merchant();
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
    wire::json_with_status(
        StatusCode::CREATED,
        &json!({
            "reference_code": tx.trans_id,
            "trans_id": tx.trans_id,
            "order_id": tx.order_id,
            "auth_code": tx.auth_code,
            "amount": tx.amount.to_string(),
        }),
    )
}

/// Every ledger row of a merchant, in insertion order; `None` for an unknown merchant.
pub fn merchant_transactions(sim: &Nestpay, client_id: &str) -> Option<Vec<NestpayTransaction>> {
    let state = sim.lock();
    state.merchants.get(client_id)?;
    Some(state.rows_of(client_id).into_iter().cloned().collect())
}

async fn transactions(State(sim): State<Arc<Nestpay>>, Path(client_id): Path<String>) -> Response {
    match merchant_transactions(&sim, &client_id) {
        Some(rows) => match serde_json::to_value(rows) {
            Ok(value) => wire::json_answer(&value),
            Err(_) => error(StatusCode::INTERNAL_SERVER_ERROR, "serialization failed"),
        },
        None => unknown_merchant(),
    }
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
    let Some(day) = query
        .get("date")
        .and_then(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").ok())
    else {
        return error(StatusCode::BAD_REQUEST, "date must be YYYY-MM-DD");
    };
    let encoding = match query.get("encoding") {
        None => StatementEncoding::Utf8,
        Some(e) => match StatementEncoding::parse(e) {
            Some(e) => e,
            None => {
                return error(
                    StatusCode::BAD_REQUEST,
                    "encoding must be utf-8 or windows-1254",
                )
            }
        },
    };
    let Some(csv) = day_statement(&sim, &client_id, day) else {
        return unknown_merchant();
    };
    let mut response = (StatusCode::OK, encode_statement(&csv, encoding)).into_response();
    let content_type = format!("text/csv; charset={}", encoding.charset());
    if let Ok(value) = HeaderValue::from_str(&content_type) {
        response.headers_mut().insert(header::CONTENT_TYPE, value);
    }
    let disposition = format!(
        "attachment; filename=\"ekstre-{client_id}-{}.csv\"",
        day.format("%Y%m%d")
    );
    if let Ok(value) = HeaderValue::from_str(&disposition) {
        response
            .headers_mut()
            .insert(header::CONTENT_DISPOSITION, value);
    }
    response
}
