//! Shared set-up: the vector file, recorded answers as bytes, a fake bank on loopback,
//! and requests.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;
use serde_json::Value;

use sanalpos_core::{CardNumber, ClientRef, Currency, Cvv, Expiry, Kurus, Secret};
use sanalpos_gateway::garanti::xml::{parse_tree, Element, GvpsResponse};
use sanalpos_gateway::garanti::{Credentials, GarantiConfig, GarantiGateway, ThreeDModel};
use sanalpos_gateway::{Card, ExpectedSale, SaleRequest};

pub const CARD: &str = "4282209027132016";

/// The repository's vector file.
pub fn vectors() -> Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../vectors/garanti.json");
    let text = std::fs::read_to_string(path).expect("vectors/garanti.json in the repository");
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

/// A string of the vector file.
pub fn text<'a>(value: &'a Value, name: &str) -> &'a str {
    value[name]
        .as_str()
        .unwrap_or_else(|| panic!("{name} is a string"))
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

fn render_into(out: &mut String, name: &str, value: &Value) {
    match value {
        Value::Object(children) => {
            out.push_str(&format!("<{name}>"));
            for (child, v) in children {
                render_into(out, child, v);
            }
            out.push_str(&format!("</{name}>"));
        }
        other => {
            let v = other.as_str().unwrap_or_default();
            out.push_str(&format!("<{name}>{}</{name}>", escape(v)));
        }
    }
}

/// Decoded values written back as a `GVPSResponse` document (null as an empty element).
pub fn render(decoded: &Value) -> String {
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    render_into(&mut out, "GVPSResponse", decoded);
    out
}

/// The recorded answer `index` as the bytes the bank sends.
pub fn answer_bytes(index: usize) -> Vec<u8> {
    render(&vectors()["answers"][index]["decoded"]).into_bytes()
}

/// The recorded answer `index`, parsed.
pub fn answer(index: usize) -> GvpsResponse {
    GvpsResponse::parse(&answer_bytes(index)).unwrap()
}

/// The recorded answer `index` with changes at paths (`Order/OrderID`), as bytes.
pub fn answer_with(index: usize, changes: &[(&str, &str)]) -> Vec<u8> {
    let mut decoded = vectors()["answers"][index]["decoded"].clone();
    for (path, value) in changes {
        let mut at = &mut decoded;
        for part in path.split('/') {
            at = &mut at[part];
        }
        *at = Value::String((*value).to_owned());
    }
    render(&decoded).into_bytes()
}

/// What the fake bank does with one request.
#[derive(Clone)]
pub enum Reply {
    /// Answer 200 with these bytes.
    Body(Vec<u8>),
    /// Answer this status with an HTML page.
    Status(u16),
}

#[derive(Clone, Default)]
struct BankState {
    replies: Arc<Mutex<Vec<Reply>>>,
    received: Arc<Mutex<Vec<String>>>,
}

/// A fake Garanti API on loopback: it records what it receives and answers with the
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
            .route("/VPServlet", post(handle))
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

    /// The documents received, read back as trees.
    pub fn received(&self) -> Vec<Element> {
        self.state
            .received
            .lock()
            .unwrap()
            .iter()
            .map(|t| parse_tree(t).unwrap())
            .collect()
    }

    pub fn gateway(&self, model: ThreeDModel) -> GarantiGateway {
        let mut config = GarantiConfig::new(
            self.url(),
            format!("{}/servlet/gt3dengine", self.url()),
            credentials(),
        );
        config.three_d_model = model;
        config.request_timeout = Duration::from_secs(2);
        GarantiGateway::new(config).unwrap()
    }
}

async fn handle(State(state): State<BankState>, body: Bytes) -> Response {
    state
        .received
        .lock()
        .unwrap()
        .push(String::from_utf8(body.to_vec()).unwrap());
    let reply = {
        let mut replies = state.replies.lock().unwrap();
        (!replies.is_empty()).then(|| replies.remove(0))
    };
    match reply {
        Some(Reply::Body(bytes)) => {
            ([("content-type", "text/xml; charset=utf-8")], bytes).into_response()
        }
        Some(Reply::Status(code)) => (
            StatusCode::from_u16(code).unwrap(),
            "<html><body>error</body></html>",
        )
            .into_response(),
        None => (StatusCode::INTERNAL_SERVER_ERROR, "no reply queued").into_response(),
    }
}

/// The test terminal of the vectors: 7000679 / 30691298, PROVAUT and PROVRFN with the
/// same password, store key 12345678.
pub fn credentials() -> Credentials {
    Credentials {
        merchant_id: "7000679".into(),
        terminal_id: "30691298".into(),
        prov_user: "PROVAUT".into(),
        prov_password: Secret::new("123qweASD/"),
        refund_user: "PROVRFN".into(),
        refund_password: Secret::new("123qweASD/"),
        store_key: Secret::new("12345678"),
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
            cvv: Cvv::parse("123").unwrap(),
            holder: "Şükrü Çağlar".into(),
        },
        description: None,
        cardholder_ip: Some("172.26.0.1".parse().unwrap()),
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
        cardholder_ip: Some("172.26.0.1".parse().unwrap()),
    }
}

pub fn kurus(text: &str) -> Kurus {
    Kurus::parse(text).unwrap()
}
