//! Test-mode control endpoints under `/_sim/`: merchants and their switches, end of day
//! (gün sonu), sales keyed in on the provider's panel, the raw ledger and the day's
//! statement. They exist only when the simulator runs in test mode and never expose a
//! secret or a full card number.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::Router;
use chrono::NaiveDate;
use sanalpos_core::{CardNumber, Currency, Kurus};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::cards::{self, Outcome};
use crate::clock;
use crate::config::{MerchantConfig, PartialRefundType, PostbackHash};
use crate::handlers::answer::{self, NewSale};
use crate::state::{Sim, Transaction, TxKind};
use crate::statement::{self, StatementEncoding};
use crate::tariff;
use crate::wire;

/// The `/_sim/` routes (to be nested under that prefix).
pub fn router() -> Router<Arc<Sim>> {
    Router::new()
        .route("/merchants", get(list_merchants).post(add_merchant))
        .route("/merchants/{merchant_no}/settings", put(update_settings))
        .route("/end-of-day", post(end_of_day))
        .route("/merchants/{merchant_no}/panel-sales", post(panel_sale))
        .route("/merchants/{merchant_no}/transactions", get(transactions))
        .route("/merchants/{merchant_no}/statement", get(statement_file))
}

fn error(status: StatusCode, text: &str) -> Response {
    wire::json_with_status(status, &json!({ "error": text }))
}

fn unknown_merchant() -> Response {
    error(StatusCode::NOT_FOUND, "unknown merchant")
}

/// The merchants, their switches and open business days; no tokens, no secrets.
pub fn merchants_json(sim: &Sim) -> Value {
    let state = sim.lock();
    let today = clock::now().date_naive();
    let mut merchants: Vec<&MerchantConfig> = state
        .merchants
        .values()
        .map(|m| m.config.as_ref())
        .collect();
    merchants.sort_by(|a, b| a.merchant_no.cmp(&b.merchant_no));
    Value::Array(
        merchants
            .into_iter()
            .map(|m| {
                json!({
                    "merchant_no": m.merchant_no,
                    "auto_complete": m.auto_complete,
                    "allowed_ips": m.allowed_ips,
                    "partial_refund_type": m.partial_refund_type,
                    "postback_hash": m.postback_hash,
                    "business_day": state.open_day(&m.merchant_no, today).format("%Y-%m-%d").to_string(),
                })
            })
            .collect(),
    )
}

async fn list_merchants(State(sim): State<Arc<Sim>>) -> Response {
    wire::json_answer(&merchants_json(&sim))
}

async fn add_merchant(State(sim): State<Arc<Sim>>, body: Bytes) -> Response {
    let merchant: MerchantConfig = match serde_json::from_slice(&body) {
        Ok(m) => m,
        Err(e) => return error(StatusCode::BAD_REQUEST, &format!("invalid merchant: {e}")),
    };
    if let Err(e) = merchant.validate() {
        return error(StatusCode::BAD_REQUEST, &e.to_string());
    }
    let no = merchant.merchant_no.clone();
    sim.lock().upsert_merchant(merchant);
    wire::json_with_status(StatusCode::CREATED, &json!({ "merchant_no": no }))
}

async fn update_settings(
    State(sim): State<Arc<Sim>>,
    Path(merchant_no): Path<String>,
    body: Bytes,
) -> Response {
    let Ok(Value::Object(changes)) = serde_json::from_slice::<Value>(&body) else {
        return error(StatusCode::BAD_REQUEST, "body must be a JSON object");
    };
    let mut state = sim.lock();
    let Some(current) = state.merchants.get(&merchant_no).map(|m| m.config.clone()) else {
        return unknown_merchant();
    };
    let mut updated = (*current).clone();
    for (key, value) in changes {
        let ok = match key.as_str() {
            "auto_complete" => value.as_bool().map(|b| updated.auto_complete = b).is_some(),
            "allowed_ips" => serde_json::from_value::<Option<Vec<IpAddr>>>(value)
                .map(|ips| updated.allowed_ips = ips)
                .is_ok(),
            "partial_refund_type" => serde_json::from_value::<PartialRefundType>(value)
                .map(|t| updated.partial_refund_type = t)
                .is_ok(),
            "postback_hash" => serde_json::from_value::<PostbackHash>(value)
                .map(|p| updated.postback_hash = p)
                .is_ok(),
            _ => false,
        };
        if !ok {
            return error(StatusCode::BAD_REQUEST, &format!("invalid setting: {key}"));
        }
    }
    state.upsert_merchant(updated);
    drop(state);
    let listed = merchants_json(&sim);
    let entry = listed
        .as_array()
        .and_then(|all| {
            all.iter()
                .find(|m| m["merchant_no"] == merchant_no.as_str())
        })
        .cloned()
        .unwrap_or(Value::Null);
    wire::json_answer(&entry)
}

/// Closes the open business day of one merchant (or every merchant).
pub fn close_day(sim: &Sim, merchant_no: Option<&str>) -> Vec<(String, NaiveDate)> {
    let closed = sim
        .lock()
        .end_of_day(merchant_no, clock::now().date_naive());
    for (no, day) in &closed {
        tracing::info!(merchant.no = %no, business_day = %day, "end of day");
    }
    closed
}

async fn end_of_day(
    State(sim): State<Arc<Sim>>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let only = query.get("merchant_no").map(String::as_str);
    let closed = close_day(&sim, only);
    if only.is_some() && closed.is_empty() {
        return unknown_merchant();
    }
    let closed: Vec<Value> = closed
        .into_iter()
        .map(|(no, day)| json!({"merchant_no": no, "business_day": day.format("%Y-%m-%d").to_string()}))
        .collect();
    wire::json_answer(&json!({ "closed": closed }))
}

#[derive(Deserialize)]
struct PanelSale {
    amount: String,
    card: String,
    #[serde(default)]
    installments: Option<u8>,
    #[serde(default)]
    client_ref: Option<String>,
    /// When it was keyed in, Istanbul local time (`YYYY-MM-DDTHH:MM:SS`); now when
    /// absent. Never in the future.
    #[serde(default)]
    at: Option<String>,
}

async fn panel_sale(
    State(sim): State<Arc<Sim>>,
    Path(merchant_no): Path<String>,
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
    let installments = request.installments.unwrap_or(1);
    let bin = cards::bin_info(card.expose());
    let line = match tariff::line(installments) {
        Some(line) if installments == 1 || bin.is_some() => line,
        _ => {
            return error(
                StatusCode::BAD_REQUEST,
                "installments not offered for this card",
            )
        }
    };
    let mut state = sim.lock();
    let Some(merchant) = state.merchants.get(&merchant_no).map(|m| m.config.clone()) else {
        return unknown_merchant();
    };
    let sale = NewSale {
        merchant_no: merchant.merchant_no.clone(),
        client_ref: request.client_ref.unwrap_or_default(),
        kind: TxKind::Sales,
        pricing: tariff::price(amount, line),
        line,
        currency: Currency::Try,
        masked_pan: card.masked(),
        card_holder: String::new(),
        bin,
        is_3d: false,
        description: String::new(),
        panel: true,
    };
    let index = answer::record_sale(&mut state, sale, at);
    answer::apply_outcome(&mut state, index, &Outcome::Approve, true);
    let tx = &state.txs[index];
    wire::json_with_status(
        StatusCode::CREATED,
        &json!({
            "reference_code": tx.reference_code,
            "auth_code": tx.auth_code,
            "amount": tx.amount.to_string(),
        }),
    )
}

/// Every ledger row of a merchant, in insertion order; `None` for an unknown merchant.
pub fn merchant_transactions(sim: &Sim, merchant_no: &str) -> Option<Vec<Transaction>> {
    let state = sim.lock();
    state.merchants.get(merchant_no)?;
    Some(state.rows_of(merchant_no).into_iter().cloned().collect())
}

async fn transactions(State(sim): State<Arc<Sim>>, Path(merchant_no): Path<String>) -> Response {
    match merchant_transactions(&sim, &merchant_no) {
        Some(rows) => match serde_json::to_value(rows) {
            Ok(value) => wire::json_answer(&value),
            Err(_) => error(StatusCode::INTERNAL_SERVER_ERROR, "serialization failed"),
        },
        None => unknown_merchant(),
    }
}

/// The statement of one business day of a merchant; `None` for an unknown merchant.
pub fn day_statement(sim: &Sim, merchant_no: &str, day: NaiveDate) -> Option<String> {
    let state = sim.lock();
    state.merchants.get(merchant_no)?;
    let mut rows: Vec<&Transaction> = state
        .rows_of(merchant_no)
        .into_iter()
        .filter(|t| t.business_day == day)
        .collect();
    rows.sort_by(|a, b| a.created_at.cmp(&b.created_at).then(a.seq.cmp(&b.seq)));
    let sale_amount = |reference: &str| {
        state
            .find_ref(merchant_no, reference)
            .map(|i| state.txs[i].amount)
    };
    Some(statement::statement_csv(&rows, sale_amount))
}

async fn statement_file(
    State(sim): State<Arc<Sim>>,
    Path(merchant_no): Path<String>,
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
    let Some(csv) = day_statement(&sim, &merchant_no, day) else {
        return unknown_merchant();
    };
    let mut response =
        (StatusCode::OK, statement::encode_statement(&csv, encoding)).into_response();
    let content_type = format!("text/csv; charset={}", encoding.charset());
    if let Ok(value) = HeaderValue::from_str(&content_type) {
        response.headers_mut().insert(header::CONTENT_TYPE, value);
    }
    let disposition = format!(
        "attachment; filename=\"ekstre-{merchant_no}-{}.csv\"",
        day.format("%Y%m%d")
    );
    if let Ok(value) = HeaderValue::from_str(&disposition) {
        response
            .headers_mut()
            .insert(header::CONTENT_DISPOSITION, value);
    }
    response
}
