//! Shared set-up of the tests that drive the N Kolay client against the simulator
//! over real HTTP on loopback.

#![allow(clippy::unwrap_used)]

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::routing::post;
use axum::Router;
use sanalpos_core::{CardNumber, ClientRef, Currency, Cvv, Expiry, Kurus, Secret};
use sanalpos_gateway::nkolay::{Credentials, NkolayConfig, NkolayGateway};
use sanalpos_gateway::{Card, SaleRequest};
use sanalpos_simulator::{spawn, MerchantConfig, SimConfig, SimHandle};

/// A running simulator with one merchant.
pub struct Sim {
    pub handle: SimHandle,
    pub merchant: MerchantConfig,
}

pub async fn start_sim_with(merchant: MerchantConfig) -> Sim {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let config = SimConfig {
        merchants: vec![merchant.clone()],
        test_mode: true,
        slow_answer_delay: Duration::from_secs(4),
    };
    let handle = spawn(config, listener).await.unwrap();
    Sim { handle, merchant }
}

pub async fn start_sim() -> Sim {
    start_sim_with(MerchantConfig::generate()).await
}

pub fn credentials(merchant: &MerchantConfig) -> Credentials {
    Credentials {
        sx: Secret::new(merchant.sx.clone()),
        sx_list: Secret::new(merchant.sx_list.clone()),
        sx_cancel: Secret::new(merchant.sx_cancel.clone()),
        secret_key: Secret::new(merchant.secret_key.clone()),
    }
}

impl Sim {
    /// A client for the simulator's merchant, with a short timeout so the slow fault
    /// card (4 s here) times out.
    pub fn gateway(&self) -> NkolayGateway {
        self.gateway_with(|_| {})
    }

    pub fn gateway_with(&self, change: impl FnOnce(&mut NkolayConfig)) -> NkolayGateway {
        let mut config = NkolayConfig::new(self.handle.base_url(), credentials(&self.merchant));
        config.auto_complete = self.merchant.auto_complete;
        config.request_timeout = Duration::from_secs(2);
        change(&mut config);
        NkolayGateway::new(config).unwrap()
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.handle.base_url(), path)
    }

    pub async fn end_of_day(&self) {
        let status = reqwest::Client::new()
            .post(self.url(&format!(
                "/_sim/end-of-day?merchant_no={}",
                self.merchant.merchant_no
            )))
            .send()
            .await
            .unwrap()
            .status();
        assert!(status.is_success(), "end of day: {status}");
    }

    pub async fn transactions(&self) -> Vec<serde_json::Value> {
        let text = reqwest::get(self.url(&format!(
            "/_sim/merchants/{}/transactions",
            self.merchant.merchant_no
        )))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
        serde_json::from_str(&text).unwrap()
    }
}

static NEXT_REF: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);

pub fn client_ref() -> ClientRef {
    let n = NEXT_REF.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    ClientRef::parse(&format!("t{}-{n}", std::process::id())).unwrap()
}

pub fn card(pan: &str, month: &str, year: &str, cvv: &str) -> Card {
    Card {
        number: CardNumber::parse(pan).unwrap(),
        expiry: Expiry::parse(month, year).unwrap(),
        cvv: Cvv::parse(cvv).unwrap(),
        holder: "Ayşe Yılmaz".into(),
    }
}

pub fn test_card(pan: &str) -> Card {
    card(pan, "12", "2030", "123")
}

pub fn tl(text: &str) -> Kurus {
    Kurus::parse(text).unwrap()
}

pub fn sale(pan: &str, amount: &str) -> SaleRequest {
    SaleRequest {
        client_ref: client_ref(),
        amount: tl(amount),
        currency: Currency::Try,
        installments: 1,
        card: test_card(pan),
        description: Some("test".into()),
        cardholder_ip: None,
        pre_auth: false,
    }
}

/// Postbacks seen by the listener: the URL's last segment and the body.
type Received = Arc<Mutex<Vec<(String, Bytes)>>>;

/// The merchant's 3D return endpoint: records what the browser posts to `/ok` and
/// `/fail`.
pub struct Listener {
    pub addr: SocketAddr,
    pub received: Received,
}

impl Listener {
    pub async fn start() -> Listener {
        let received: Received = Arc::default();
        async fn record(
            State(received): State<Received>,
            Path(which): Path<String>,
            body: Bytes,
        ) -> &'static str {
            received.lock().unwrap().push((which, body));
            "ok"
        }
        let app = Router::new()
            .route("/return/{which}", post(record))
            .with_state(received.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        Listener { addr, received }
    }

    pub fn urls(&self) -> sanalpos_gateway::ReturnUrls {
        sanalpos_gateway::ReturnUrls {
            success: format!("http://{}/return/ok", self.addr),
            fail: format!("http://{}/return/fail", self.addr),
        }
    }

    /// The last postback: which URL it reached and its body.
    pub fn last(&self) -> (String, Bytes) {
        self.received
            .lock()
            .unwrap()
            .last()
            .cloned()
            .expect("a postback arrived")
    }
}
