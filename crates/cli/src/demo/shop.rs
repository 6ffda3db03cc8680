//! The demo web shop (`sanalpos demo`, under `/shop`): a living example of the
//! integration, meant to be read in a few minutes.
//!
//! It talks to sanalpos only as any shop would: over the public HTTP API with its API
//! key (checkout sessions, a webhook endpoint), and by sending the cardholder to the
//! hosted payment page. It never sees a card. It trusts the return only when its
//! HMAC signature verifies under the session's `return_secret`, and a webhook only when
//! its `Sanalpos-Signature` verifies under the endpoint's secret.
//!
//! Pages: `/shop` (a product), `/shop/basket` ("Siparişi Sonlandır"), `/shop/balance`
//! (pay my balance: an account payment), `/shop/return` (back from the hosted page),
//! `/shop/webhooks` (the events received; POSTed to by sanalpos).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use hmac::{Hmac, Mac};
use maud::{html, Markup, DOCTYPE};
use serde::Deserialize;
use serde_json::{json, Value};
use sha2::Sha256;

/// The one product: 289,90 TL (in kuruş).
const PRICE: i64 = 28_990;
/// The customer's open balance: 1.250,00 TL.
const BALANCE: &str = "1250.00";
const CUSTOMER: &str = "CARI-1001";

/// What the shop needs to know.
#[derive(Debug, Clone)]
pub struct ShopConfig {
    /// Where sanalpos answers (`http://127.0.0.1:8080`); the shop is served there too.
    pub base_url: String,
    /// The shop's API key (one company's).
    pub api_key: String,
    /// The shop's name.
    pub name: String,
}

struct Shop {
    config: ShopConfig,
    http: reqwest::Client,
    /// The webhook endpoint's secret, once registered.
    webhook_secret: tokio::sync::Mutex<Option<String>>,
    /// Return secrets of the sessions this shop created.
    sessions: Mutex<HashMap<String, String>>,
    /// Webhooks received: (event type, event id, verified).
    events: Mutex<Vec<(String, String, bool)>>,
}

type S = State<Arc<Shop>>;

/// The shop's routes.
pub fn router(config: ShopConfig) -> Router {
    let shop = Arc::new(Shop {
        config,
        http: reqwest::Client::new(),
        webhook_secret: tokio::sync::Mutex::new(None),
        sessions: Mutex::new(HashMap::new()),
        events: Mutex::new(Vec::new()),
    });
    Router::new()
        .route("/shop", get(home))
        .route("/shop/basket", get(basket).post(add_to_basket))
        .route("/shop/checkout", post(checkout))
        .route("/shop/balance", get(balance).post(pay_balance))
        .route("/shop/return", get(back_from_payment))
        .route("/shop/webhooks", get(webhook_log).post(webhook))
        .with_state(shop)
}

fn page(title: &str, body: Markup) -> Response {
    let markup = html! {
        (DOCTYPE)
        html lang="tr" {
            head { meta charset="utf-8"; title { (title) " · Demo Mağaza" } }
            body style="font-family:system-ui;max-width:640px;margin:24px auto" {
                nav { a href="/shop" { "Ürünler" } " · " a href="/shop/basket" { "Sepet" } " · "
                      a href="/shop/balance" { "Bakiyemi öde" } " · " a href="/shop/webhooks" { "Bildirimler" } }
                h1 { (title) }
                (body)
            }
        }
    };
    (
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        markup.into_string(),
    )
        .into_response()
}

fn tl(kurus: i64) -> String {
    format!("{}.{:02}", kurus / 100, kurus % 100)
}

fn basket_count(headers: &HeaderMap) -> i64 {
    let cookies = headers
        .get(header::COOKIE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    cookies
        .split(';')
        .filter_map(|c| c.trim().strip_prefix("basket="))
        .find_map(|n| n.parse::<i64>().ok())
        .unwrap_or(0)
        .clamp(0, 99)
}

async fn home() -> Response {
    page(
        "Filtre Kahve 1 kg",
        html! {
            p { "Taze çekilmiş filtre kahve. Fiyat: " strong #price { (tl(PRICE)) " TL" } }
            form method="post" action="/shop/basket" { button #add { "Sepete ekle" } }
        },
    )
}

async fn add_to_basket(headers: HeaderMap) -> Response {
    let n = basket_count(&headers) + 1;
    let cookie = format!("basket={n}; Path=/shop; HttpOnly; SameSite=Lax");
    ([(header::SET_COOKIE, cookie)], Redirect::to("/shop/basket")).into_response()
}

async fn basket(headers: HeaderMap) -> Response {
    let n = basket_count(&headers);
    page(
        "Sepet",
        html! {
            @if n == 0 { p { "Sepetiniz boş." } } @else {
                p { (n) " × Filtre Kahve 1 kg = " strong #total { (tl(n * PRICE)) " TL" } }
                form method="post" action="/shop/checkout" { button #checkout { "Siparişi Sonlandır" } }
            }
        },
    )
}

/// Calls the sanalpos API with the shop's key.
async fn api(
    shop: &Shop,
    method: reqwest::Method,
    path: &str,
    body: Value,
) -> Result<Value, String> {
    let url = format!("{}/api/v1{path}", shop.config.base_url);
    let mut request = shop
        .http
        .request(method, url)
        .bearer_auth(&shop.config.api_key);
    if !body.is_null() {
        request = request
            .header(header::CONTENT_TYPE, "application/json")
            .body(body.to_string());
    }
    let response = request.send().await.map_err(|e| e.to_string())?;
    let status = response.status();
    let text = response.text().await.map_err(|e| e.to_string())?;
    let value: Value = serde_json::from_str(&text).map_err(|e| e.to_string())?;
    if status.is_success() {
        Ok(value)
    } else {
        Err(format!("{status}: {value}"))
    }
}

/// Registers the shop's webhook endpoint once (its secret is only shown then).
async fn ensure_webhook(shop: &Shop) -> Result<(), String> {
    let mut secret = shop.webhook_secret.lock().await;
    if secret.is_none() {
        let url = format!("{}/shop/webhooks", shop.config.base_url);
        let events = [
            "payment.approved",
            "payment.declined",
            "checkout_session.completed",
        ];
        let created = api(
            shop,
            reqwest::Method::POST,
            "/webhook-endpoints",
            json!({"url": url, "events": events}),
        )
        .await?;
        *secret = created["secret"].as_str().map(str::to_owned);
    }
    Ok(())
}

/// Creates a checkout session and sends the browser to the hosted page.
async fn start_payment(shop: &Shop, session: Value) -> Response {
    let created = match ensure_webhook(shop).await {
        Ok(()) => api(shop, reqwest::Method::POST, "/checkout-sessions", session).await,
        Err(e) => Err(e),
    };
    match created {
        Ok(s) => {
            let (Some(id), Some(secret), Some(url)) = (
                s["id"].as_str(),
                s["return_secret"].as_str(),
                s["url"].as_str(),
            ) else {
                return (StatusCode::BAD_GATEWAY, "unexpected answer").into_response();
            };
            if let Ok(mut sessions) = shop.sessions.lock() {
                sessions.insert(id.to_owned(), secret.to_owned());
            }
            Redirect::to(url).into_response()
        }
        Err(e) => {
            tracing::warn!(error = %e, "demo shop could not start a payment");
            (StatusCode::BAD_GATEWAY, "Ödeme başlatılamadı").into_response()
        }
    }
}

async fn checkout(State(shop): S, headers: HeaderMap) -> Response {
    let n = basket_count(&headers);
    if n == 0 {
        return Redirect::to("/shop/basket").into_response();
    }
    let order_ref = format!("SIP-{}", chrono::Utc::now().timestamp_millis());
    start_payment(&shop, json!({
        "purpose": "order", "amount": tl(n * PRICE), "order_ref": order_ref, "customer_ref": CUSTOMER,
        "return_url": format!("{}/shop/return", shop.config.base_url), "language": "tr", "max_installments": 6,
    }))
    .await
}

async fn balance() -> Response {
    page(
        "Cari hesabım",
        html! {
            p { "Müşteri: " (CUSTOMER) } p { "Açık bakiye: " strong #balance { (BALANCE) " TL" } }
            form method="post" action="/shop/balance" { button #pay-balance { "Bakiyemi öde" } }
        },
    )
}

async fn pay_balance(State(shop): S) -> Response {
    start_payment(&shop, json!({
        "purpose": "account", "min_amount": "1.00", "max_amount": BALANCE, "customer_ref": CUSTOMER,
        "return_url": format!("{}/shop/return", shop.config.base_url), "language": "tr",
    }))
    .await
}

/// `hex(HMAC-SHA256(secret, message)) == signature`, compared in constant time.
fn signature_ok(secret: &str, message: &str, signature: &str) -> bool {
    let Ok(given) = hex::decode(signature) else {
        return false;
    };
    let Ok(mut mac) = <Hmac<Sha256> as Mac>::new_from_slice(secret.as_bytes()) else {
        return false;
    };
    mac.update(message.as_bytes());
    mac.verify_slice(&given).is_ok()
}

fn fresh(t: i64) -> bool {
    (chrono::Utc::now().timestamp() - t).abs() <= 300
}

/// What the hosted page appends to the return URL.
#[derive(Deserialize)]
struct Return {
    session_id: String,
    payment_id: String,
    status: String,
    t: i64,
    signature: String,
}

async fn back_from_payment(
    State(shop): S,
    query: Result<Query<Return>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let refused = |why: &str| {
        let r = page(
            "Ödeme doğrulanamadı",
            html! { p #verdict { "İmza doğrulanamadı: " (why) } },
        );
        (StatusCode::BAD_REQUEST, r).into_response()
    };
    let Ok(Query(r)) = query else {
        return refused("eksik parametre");
    };
    let secret = shop
        .sessions
        .lock()
        .ok()
        .and_then(|s| s.get(&r.session_id).cloned());
    let Some(secret) = secret else {
        return refused("bilinmeyen ödeme oturumu");
    };
    let message = format!("{}.{}.{}.{}", r.t, r.session_id, r.payment_id, r.status);
    if !fresh(r.t) || !signature_ok(&secret, &message, &r.signature) {
        return refused("imza geçersiz");
    }
    let (title, line) = match r.status.as_str() {
        "approved" => (
            "Ödemeniz alındı",
            "Teşekkür ederiz; siparişiniz hazırlanıyor.",
        ),
        _ => (
            "Ödeme gerçekleşmedi",
            "Kartınızdan çekim yapılmadı. Tekrar deneyebilirsiniz.",
        ),
    };
    let mut response = page(
        title,
        html! {
            p #verdict data-status=(r.status) { (line) " (imza doğrulandı)" }
            p { "Ödeme no: " code #payment-id { (r.payment_id) } }
        },
    );
    if r.status == "approved" {
        let clear = "basket=0; Path=/shop; HttpOnly; SameSite=Lax";
        if let Ok(v) = clear.parse() {
            response.headers_mut().insert(header::SET_COOKIE, v);
        }
    }
    response
}

/// `POST /shop/webhooks`: trusted only when `Sanalpos-Signature` verifies.
async fn webhook(State(shop): S, headers: HeaderMap, body: Bytes) -> Response {
    let header = headers
        .get("sanalpos-signature")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let t = header
        .split(',')
        .find_map(|p| p.strip_prefix("t="))
        .and_then(|t| t.parse::<i64>().ok());
    let v1 = header
        .split(',')
        .find_map(|p| p.strip_prefix("v1="))
        .unwrap_or("");
    let secret = shop.webhook_secret.lock().await.clone().unwrap_or_default();
    let verified = match (t, std::str::from_utf8(&body)) {
        (Some(t), Ok(text)) => fresh(t) && signature_ok(&secret, &format!("{t}.{text}"), v1),
        _ => false,
    };
    let event: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let kind = event["type"].as_str().unwrap_or("?").to_owned();
    let id = event["id"].as_str().unwrap_or("?").to_owned();
    if let Ok(mut events) = shop.events.lock() {
        events.push((kind, id, verified));
    }
    if verified {
        StatusCode::OK
    } else {
        StatusCode::BAD_REQUEST
    }
    .into_response()
}

async fn webhook_log(State(shop): S) -> Response {
    let events = shop.events.lock().map(|e| e.clone()).unwrap_or_default();
    page(
        "Bildirimler",
        html! {
            table #events {
                tr { th { "Olay" } th { "No" } th { "İmza" } }
                @for (kind, id, ok) in events.iter().rev() {
                    tr .event data-type=(kind) data-verified=(ok) {
                        td { (kind) } td { code { (id) } } td { @if *ok { "doğrulandı" } @else { "GEÇERSİZ" } }
                    }
                }
            }
        },
    )
}
