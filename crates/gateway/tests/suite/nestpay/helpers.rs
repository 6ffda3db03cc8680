//! Shared set-up: the vector file, recorded answers as bytes, a fake bank on loopback,
//! and requests.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;
use serde_json::Value;

use sanalpos_core::{CardNumber, ClientRef, Currency, Cvv, Expiry, Kurus, Secret};
use sanalpos_gateway::nestpay::xml::{decode, encode_latin5, Cc5Response};
use sanalpos_gateway::nestpay::{Credentials, NestpayConfig, NestpayGateway, ThreeDModel};
use sanalpos_gateway::{Card, ExpectedSale, SaleRequest};

pub const CLIENT_ID: &str = "700655000200";
pub const API_USER: &str = "ISBANKAPI";
pub const API_PASSWORD: &str = "ISBANK07";
pub const STORE_KEY: &str = "TRPS0200";
pub const CARD: &str = "4546711234567894";

/// The repository's vector file.
pub fn vectors() -> Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../vectors/nestpay.json");
    let text = std::fs::read_to_string(path).expect("vectors/nestpay.json in the repository");
    serde_json::from_str(&text).expect("vector file parses")
}

/// A JSON object of strings as pairs.
pub fn pairs(fields: &Value) -> Vec<(String, String)> {
    fields
        .as_object()
        .expect("an object")
        .iter()
        .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_owned()))
        .collect()
}

/// The recorded answer `index` as the bytes a bank sends: the recorded XML when there
/// is one, else its decoded values written as a `CC5Response`, in ISO-8859-9.
pub fn answer_bytes(index: usize) -> Vec<u8> {
    let answer = &vectors()["answers"][index];
    if let Some(xml) = answer["xml"].as_str() {
        return encode_latin5(xml);
    }
    encode_latin5(&render(&answer["decoded"]))
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// Decoded values written back as an answer document (null as an empty element).
pub fn render(decoded: &Value) -> String {
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"ISO-8859-9\"?>\n<CC5Response>\n");
    for (name, value) in decoded.as_object().unwrap() {
        match value {
            Value::Object(children) => {
                out.push_str(&format!("  <{name}>\n"));
                for (child, v) in children {
                    let v = v.as_str().unwrap_or_default();
                    out.push_str(&format!("    <{child}>{}</{child}>\n", escape(v)));
                }
                out.push_str(&format!("  </{name}>\n"));
            }
            other => {
                let v = other.as_str().unwrap_or_default();
                out.push_str(&format!("  <{name}>{}</{name}>\n", escape(v)));
            }
        }
    }
    out.push_str("</CC5Response>");
    out
}

/// The recorded answer `index`, parsed.
pub fn answer(index: usize) -> Cc5Response {
    Cc5Response::parse(&answer_bytes(index)).unwrap()
}

/// What the fake bank does with one request.
#[derive(Clone)]
pub enum Reply {
    /// Answer 200 with these bytes.
    Body(Vec<u8>),
    /// Answer this status with an HTML page.
    Status(u16),
    /// Wait, then answer these bytes (longer than the client's timeout).
    Slow(Duration, Vec<u8>),
}

/// One request the fake bank received.
#[derive(Clone, Debug)]
pub struct Received {
    pub content_type: String,
    pub body: Vec<u8>,
}

impl Received {
    /// The body as text (it is declared ISO-8859-9).
    pub fn text(&self) -> String {
        decode(&self.body)
    }

    /// The body read as a document (its root renamed so the answer reader takes it).
    pub fn document(&self) -> Cc5Response {
        Cc5Response::parse_text(&self.text().replace("CC5Request", "CC5Response")).unwrap()
    }
}

#[derive(Clone, Default)]
struct BankState {
    replies: Arc<Mutex<Vec<Reply>>>,
    received: Arc<Mutex<Vec<Received>>>,
}

/// A fake NestPay API on loopback: it records what it receives and answers with the
/// queued replies, in order (HTTP 500 when none is left).
pub struct FakeBank {
    pub addr: SocketAddr,
    state: BankState,
}

impl FakeBank {
    pub async fn start(replies: Vec<Reply>) -> FakeBank {
        let state = BankState::default();
        *state.replies.lock().unwrap() = replies;
        let app = Router::new()
            .route("/fim/api", post(handle))
            .with_state(state.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        FakeBank { addr, state }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn received(&self) -> Vec<Received> {
        self.state.received.lock().unwrap().clone()
    }

    pub fn calls(&self) -> usize {
        self.state.received.lock().unwrap().len()
    }

    /// A client for this bank.
    pub fn gateway(&self, model: ThreeDModel) -> NestpayGateway {
        self.gateway_with(|c| c.three_d_model = model)
    }

    pub fn gateway_with(&self, change: impl FnOnce(&mut NestpayConfig)) -> NestpayGateway {
        let mut config = NestpayConfig::new(
            self.url(),
            format!("{}/fim/est3Dgate", self.url()),
            credentials(),
        );
        config.request_timeout = Duration::from_secs(2);
        change(&mut config);
        NestpayGateway::new(config).unwrap()
    }
}

async fn handle(State(state): State<BankState>, headers: HeaderMap, body: Bytes) -> Response {
    let content_type = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    state.received.lock().unwrap().push(Received {
        content_type,
        body: body.to_vec(),
    });
    let reply = {
        let mut replies = state.replies.lock().unwrap();
        (!replies.is_empty()).then(|| replies.remove(0))
    };
    let xml = |bytes: Vec<u8>| {
        ([("content-type", "text/xml; charset=ISO-8859-9")], bytes).into_response()
    };
    match reply {
        Some(Reply::Body(bytes)) => xml(bytes),
        Some(Reply::Slow(wait, bytes)) => {
            tokio::time::sleep(wait).await;
            xml(bytes)
        }
        Some(Reply::Status(code)) => (
            StatusCode::from_u16(code).unwrap(),
            "<html><body>error</body></html>",
        )
            .into_response(),
        None => (StatusCode::INTERNAL_SERVER_ERROR, "no reply queued").into_response(),
    }
}

pub fn credentials() -> Credentials {
    Credentials {
        client_id: CLIENT_ID.into(),
        api_user: API_USER.into(),
        api_password: Secret::new(API_PASSWORD),
        store_key: Secret::new(STORE_KEY),
    }
}

pub fn sale(client_ref: &str, amount: &str) -> SaleRequest {
    SaleRequest {
        client_ref: ClientRef::parse(client_ref).unwrap(),
        amount: Kurus::parse(amount).unwrap(),
        currency: Currency::Try,
        installments: 1,
        card: Card {
            number: CardNumber::parse(CARD).unwrap(),
            expiry: Expiry::parse("12", "2030").unwrap(),
            cvv: Cvv::parse("000").unwrap(),
            holder: "Şükrü Çağlar İnşaat".into(),
        },
        description: None,
        cardholder_ip: Some("89.244.149.137".parse().unwrap()),
        pre_auth: false,
    }
}

pub fn expected(client_ref: &str, amount: &str) -> ExpectedSale {
    ExpectedSale {
        amount: Kurus::parse(amount).unwrap(),
        client_ref: ClientRef::parse(client_ref).unwrap(),
        provider_ref: None,
        currency: Currency::Try,
        installments: 1,
        pre_auth: false,
        cardholder_ip: Some("89.244.149.137".parse().unwrap()),
    }
}

pub fn kurus(text: &str) -> Kurus {
    Kurus::parse(text).unwrap()
}
