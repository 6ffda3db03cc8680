//! Test-mode control endpoints under `/_sim/`: merchants and their switches, end of day
//! (gün sonu), sales keyed in on the provider's panel, the raw ledger and the day's
//! statement. They exist only when the simulator runs in test mode and never expose a
//! secret or a full card number.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post, put};
use axum::Router;
use chrono::NaiveDate;
use sanalpos_core::Currency;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::cards::{self, Outcome};
use crate::clock;
use crate::config::{MerchantConfig, PartialRefundType, PostbackHash};
use crate::control_common::{
    apply_settings, end_of_day_answer, iso_day, new_merchant, panel_sale_basics,
    panel_sale_request, rows_answer, settings_changes, statement_answer, Refusal,
};
use crate::handlers::answer::{self, NewSale};
use crate::state::{Sim, Transaction, TxKind};
use crate::statement;
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
                    "business_day": iso_day(state.open_day(&m.merchant_no, today)),
                })
            })
            .collect(),
    )
}

async fn list_merchants(State(sim): State<Arc<Sim>>) -> Response {
    wire::json_answer(&merchants_json(&sim))
}

async fn add_merchant(State(sim): State<Arc<Sim>>, body: Bytes) -> Result<Response, Refusal> {
    let merchant: MerchantConfig = new_merchant(&body)?;
    let no = merchant.merchant_no.clone();
    sim.lock().upsert_merchant(merchant);
    Ok(wire::json_with_status(
        StatusCode::CREATED,
        &json!({ "merchant_no": no }),
    ))
}

async fn update_settings(
    State(sim): State<Arc<Sim>>,
    Path(merchant_no): Path<String>,
    body: Bytes,
) -> Result<Response, Refusal> {
    let changes = settings_changes(&body)?;
    let mut state = sim.lock();
    let Some(current) = state.merchants.get(&merchant_no).map(|m| m.config.clone()) else {
        return Err(Refusal::unknown_merchant());
    };
    let mut updated = (*current).clone();
    apply_settings(changes, |key, value| match key {
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
    })?;
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
    Ok(wire::json_answer(&entry))
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
    end_of_day_answer(
        only,
        close_day(&sim, only),
        |no, day| json!({"merchant_no": no, "business_day": day}),
    )
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
) -> Result<Response, Refusal> {
    let request: PanelSale = panel_sale_request(&body)?;
    let (amount, card, at) = panel_sale_basics(
        &request.amount,
        &request.card,
        request.at.as_deref(),
        clock::now(),
    )?;
    let installments = request.installments.unwrap_or(1);
    let bin = cards::bin_info(card.expose());
    let line = match tariff::line(installments) {
        Some(line) if installments == 1 || bin.is_some() => line,
        _ => {
            return Err(Refusal::bad_request(
                "installments not offered for this card",
            ))
        }
    };
    let mut state = sim.lock();
    let Some(merchant) = state.merchants.get(&merchant_no).map(|m| m.config.clone()) else {
        return Err(Refusal::unknown_merchant());
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
    Ok(wire::json_with_status(
        StatusCode::CREATED,
        &json!({
            "reference_code": tx.reference_code,
            "auth_code": tx.auth_code,
            "amount": tx.amount.to_string(),
        }),
    ))
}

/// Every ledger row of a merchant, in insertion order; `None` for an unknown merchant.
pub fn merchant_transactions(sim: &Sim, merchant_no: &str) -> Option<Vec<Transaction>> {
    let state = sim.lock();
    state.merchants.get(merchant_no)?;
    Some(state.rows_of(merchant_no).into_iter().cloned().collect())
}

async fn transactions(State(sim): State<Arc<Sim>>, Path(merchant_no): Path<String>) -> Response {
    rows_answer(merchant_transactions(&sim, &merchant_no))
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
    statement_answer(&merchant_no, &query, |day| {
        day_statement(&sim, &merchant_no, day)
    })
}
