//! A real service and a real simulator on random loopback ports, one fresh database per
//! test (SQLite file or PostgreSQL database), driven over HTTP as a client would.

#![allow(dead_code, clippy::unwrap_used)]

use std::time::Duration;

use reqwest::StatusCode;
use sanalpos_server::{Application, Config};
use sanalpos_service::PaymentService;
use sanalpos_simulator::{spawn, MerchantConfig, SimConfig, SimHandle};
use sanalpos_store::testing::{postgres_store, sqlite_store, TestGuard};
use serde_json::{json, Value};

/// Which database engine a test runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Db {
    Sqlite,
    Postgres,
}

/// One seeded company.
#[derive(Debug, Clone)]
pub struct Seeded {
    pub id: String,
    pub api_key: String,
    pub pos_id: String,
    pub merchant: MerchantConfig,
}

pub struct TestApp {
    pub base_url: String,
    pub sim: SimHandle,
    pub service: PaymentService,
    pub a: Seeded,
    pub b: Seeded,
    pub http: reqwest::Client,
    pub guard: TestGuard,
    pub data_dir: std::path::PathBuf,
    _tmp: Option<tempfile::TempDir>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

impl TestApp {
    /// `None` when the engine is PostgreSQL and it is unreachable (and not required).
    pub async fn spawn(db: Db, test_name: &str) -> Option<TestApp> {
        let _ = tracing_subscriber::fmt()
            .with_test_writer()
            .with_env_filter(std::env::var("RUST_LOG").unwrap_or_else(|_| "warn".to_owned()))
            .try_init();
        let (store, guard) = match db {
            Db::Sqlite => sqlite_store().await,
            Db::Postgres => postgres_store(test_name).await?,
        };
        store.close().await;
        let merchants = vec![MerchantConfig::generate(), MerchantConfig::generate()];
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let sim = spawn(
            SimConfig {
                merchants: merchants.clone(),
                test_mode: true,
                slow_answer_delay: Duration::from_secs(3),
            },
            listener,
        )
        .await
        .unwrap();
        let (tmp, data_dir) = match guard.dir() {
            Some(dir) => (None, dir.to_owned()),
            None => {
                let tmp = sanalpos_store::testing::test_dir();
                let dir = tmp.path().to_owned();
                (Some(tmp), dir)
            }
        };
        let config = Config {
            listen: "127.0.0.1:0".parse().unwrap(),
            data_dir: data_dir.clone(),
            database_url: guard.url().to_owned(),
            provider_timeout: Duration::from_millis(1500),
            unknown_grace: Duration::from_secs(1),
            janitor_interval: Duration::from_secs(3600),
            three_d_ttl: Duration::from_secs(600),
            end_of_day: None,
            ..Config::default()
        };
        let app = Application::build(config).await.unwrap();
        let service = app.service().clone();
        let base_url = app.base_url().to_owned();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(app.run_until_stopped(async move {
            let _ = stopped.await;
        }));
        let mut seeded = Vec::new();
        for (i, merchant) in merchants.iter().enumerate() {
            let company = service
                .create_company(&format!("Şirket {i}"), "test")
                .await
                .unwrap();
            let mut new_pos = sanalpos_server::demo::simulator_pos(&sim.base_url(), merchant);
            new_pos.currencies = vec![sanalpos_core::Currency::Try];
            let pos = service
                .create_pos(&company.id, new_pos, "test")
                .await
                .unwrap();
            let (_, api_key) = service
                .create_api_key(&company.id, "test", "test")
                .await
                .unwrap();
            seeded.push(Seeded {
                id: company.id,
                api_key,
                pos_id: pos.id,
                merchant: merchant.clone(),
            });
        }
        let b = seeded.pop().unwrap();
        let a = seeded.pop().unwrap();
        Some(TestApp {
            base_url,
            sim,
            service,
            a,
            b,
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            guard,
            data_dir,
            _tmp: tmp,
            stop: Some(stop),
        })
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url)
    }

    /// POST /api/v1/payments as company `who`.
    pub async fn pay(&self, who: &Seeded, key: &str, body: &Value) -> (StatusCode, Value) {
        let response = self
            .http
            .post(self.url("/api/v1/payments"))
            .bearer_auth(&who.api_key)
            .header("Idempotency-Key", key)
            .header("Content-Type", "application/json")
            .body(body.to_string())
            .send()
            .await
            .unwrap();
        let status = response.status();
        let text = response.text().await.unwrap();
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    pub async fn get(&self, who: &Seeded, path: &str) -> (StatusCode, Value) {
        let response = self
            .http
            .get(self.url(path))
            .bearer_auth(&who.api_key)
            .send()
            .await
            .unwrap();
        let status = response.status();
        let text = response.text().await.unwrap();
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    pub async fn post(&self, who: &Seeded, path: &str, body: Option<Value>) -> (StatusCode, Value) {
        let mut request = self.http.post(self.url(path)).bearer_auth(&who.api_key);
        if let Some(body) = body {
            request = request
                .header("Content-Type", "application/json")
                .body(body.to_string());
        }
        let response = request.send().await.unwrap();
        let status = response.status();
        let text = response.text().await.unwrap();
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    pub async fn end_of_day(&self) {
        self.sim.end_of_day(None);
    }

    /// The simulator's successful sales for company `who`: the judge.
    pub fn charged(&self, who: &Seeded) -> Vec<sanalpos_simulator::Transaction> {
        self.sim
            .transactions(&who.merchant.merchant_no)
            .unwrap()
            .into_iter()
            .filter(|t| {
                t.kind == sanalpos_simulator::TxKind::Sales
                    && t.status == sanalpos_simulator::TxStatus::Success
            })
            .collect()
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

static KEYS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);

/// A fresh idempotency key.
pub fn key() -> String {
    format!(
        "k-{}",
        KEYS.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    )
}

/// A payment body.
pub fn payment(pan: &str, amount: &str) -> Value {
    json!({
        "amount": amount,
        "currency": "TRY",
        "installments": 1,
        "card": {"number": pan, "expiry_month": "12", "expiry_year": "2030", "cvv": "123", "holder": "Ayşe Yılmaz"},
        "order_ref": "SIP-1",
        "customer_ref": "CARI-1",
        "description": "test"
    })
}

/// Runs a test body on SQLite and on PostgreSQL.
#[macro_export]
macro_rules! both_engines {
    ($name:ident, $body:expr) => {
        mod $name {
            use super::*;
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                let app = TestApp::spawn(Db::Sqlite, stringify!($name)).await.unwrap();
                ($body)(app).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                if let Some(app) = TestApp::spawn(Db::Postgres, stringify!($name)).await {
                    ($body)(app).await;
                }
            }
        }
    };
}
