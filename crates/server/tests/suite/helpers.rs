//! A real service and a real simulator on random loopback ports, one fresh database per
//! test (SQLite file or PostgreSQL database), driven over HTTP as a client would.

#![allow(clippy::unwrap_used)]

pub mod ui;

/// The POS definitions at the simulators' merchants, the very file `sanalpos demo`
/// seeds from: the CLI depends on this crate, so the tests read its source rather
/// than depend on it back.
#[path = "../../../cli/src/demo/pos.rs"]
pub mod pos;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode as AxumStatus};
use axum::routing::post;

use reqwest::StatusCode;
use sanalpos_server::{Application, Config};
use sanalpos_service::PaymentService;
use sanalpos_simulator::{spawn, MerchantConfig, SimConfig, SimHandle};
use sanalpos_store::testing::{postgres_store, sqlite_store, TestGuard};
use sanalpos_testkit::{parse_form, HtmlForm};
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

/// How a scripted 3D round trip ended.
pub struct ThreeDWalk {
    /// The bank's postback to us, kept to replay it.
    pub postback: HtmlForm,
    /// Where we sent the browser after it.
    pub location: String,
}

pub struct TestApp {
    pub base_url: String,
    pub sim: SimHandle,
    pub service: PaymentService,
    /// The app's database, opened beside it: what tests read to check what was written,
    /// and write to plant what only a crash or another version would leave.
    pub store: sanalpos_store::Store,
    pub a: Seeded,
    pub b: Seeded,
    pub http: reqwest::Client,
    pub guard: TestGuard,
    pub data_dir: std::path::PathBuf,
    _tmp: Option<tempfile::TempDir>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    server: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
}

impl TestApp {
    /// `None` when the engine is PostgreSQL and it is unreachable (and not required).
    pub async fn spawn(db: Db, test_name: &str) -> Option<TestApp> {
        TestApp::spawn_with(db, test_name, |_| {}).await
    }

    /// Like [`TestApp::spawn`], with the configuration adjusted by `configure`.
    pub async fn spawn_with(
        db: Db,
        test_name: &str,
        configure: impl FnOnce(&mut Config),
    ) -> Option<TestApp> {
        let _ = tracing_subscriber::fmt()
            .with_test_writer()
            .with_env_filter(std::env::var("RUST_LOG").unwrap_or_else(|_| "warn".to_owned()))
            .try_init();
        let (store, guard) = match db {
            Db::Sqlite => sqlite_store().await,
            Db::Postgres => postgres_store(test_name).await?,
        };
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
            // Off unless a test is about them (`spawn_with`): bursts in other tests are
            // not abuse.
            rate_limits: sanalpos_server::ratelimit::RateLimits::off(),
            ..Config::default()
        };
        let mut config = config;
        configure(&mut config);
        let app = Application::build(config).await.unwrap();
        let service = app.service().clone();
        let base_url = app.base_url().to_owned();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(app.run_until_stopped(async move {
            let _ = stopped.await;
        }));
        let mut seeded = Vec::new();
        for (i, merchant) in merchants.iter().enumerate() {
            let company = service
                .create_company(&format!("Şirket {i}"), "test")
                .await
                .unwrap();
            let mut new_pos = pos::simulator_pos(&sim.base_url(), merchant);
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
            store,
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
            server: Some(server),
        })
    }

    /// Stops the HTTP server and its background jobs (janitor, webhook worker) and
    /// waits until they are over. The database stays.
    pub async fn shutdown(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(server) = self.server.take() {
            server.await.unwrap().unwrap();
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url)
    }

    /// A browser's 3D Secure round trip, scripted: our `/3d/{token}` page (`redirect`)
    /// posts itself to the bank's page, where `code` is typed; the bank's result page
    /// posts itself back to us, and we send the browser on.
    pub async fn walk_3d(&self, redirect: &str, code: &str) -> ThreeDWalk {
        self.walk_3d_at(&self.sim.base_url(), redirect, code).await
    }

    /// [`TestApp::walk_3d`] through the bank page of another simulator (at `bank`).
    pub async fn walk_3d_at(&self, bank: &str, redirect: &str, code: &str) -> ThreeDWalk {
        let url = if redirect.starts_with("http") {
            redirect.to_owned()
        } else {
            self.url(redirect)
        };
        let page = self
            .http
            .get(&url)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let form = parse_form(&page);
        let acs = self
            .http
            .post(&form.action)
            .form(&form.fields)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let acs_form = parse_form(&acs);
        let mut fields: Vec<(String, String)> = acs_form
            .fields
            .into_iter()
            .filter(|(k, _)| k != "code" && k != "action")
            .collect();
        fields.push(("code".into(), code.into()));
        fields.push(("action".into(), "submit".into()));
        let action = if acs_form.action.starts_with("http") {
            acs_form.action
        } else {
            format!("{bank}{}", acs_form.action)
        };
        let result = self
            .http
            .post(&action)
            .form(&fields)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let postback = parse_form(&result);
        let response = self
            .http
            .post(&postback.action)
            .form(&postback.fields)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::SEE_OTHER);
        let location = response.headers()["location"].to_str().unwrap().to_owned();
        ThreeDWalk { postback, location }
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

/// An approved payment of company A as the service stores it, made today, that the
/// provider's report lacks (its reference and auth code are its own): for a run to
/// find it system-only, and to offer it for a force-match.
pub fn stored_payment(
    app: &TestApp,
    amount_minor: i64,
    masked_pan: &str,
    provider_ref: &str,
    customer_ref: &str,
) -> sanalpos_store::PaymentRecord {
    let now = chrono::Utc::now().timestamp_millis();
    let amount = sanalpos_core::Kurus::from_minor(amount_minor).unwrap();
    sanalpos_store::PaymentRecord {
        id: sanalpos_store::new_id("pay"),
        company_id: app.a.id.clone(),
        pos_id: app.a.pos_id.clone(),
        status: sanalpos_store::PaymentStatus::Approved,
        amount,
        currency: sanalpos_core::Currency::Try,
        installments: 1,
        masked_pan: masked_pan.into(),
        card_fingerprint: "fp".into(),
        card_brand: "mastercard".into(),
        auth_code: Some("777111".into()),
        provider_ref: Some(provider_ref.into()),
        bank_code: None,
        message_tr: None,
        message_en: None,
        channel: sanalpos_store::Channel::Api,
        order_ref: Some("SIP-LOST".into()),
        customer_ref: Some(customer_ref.into()),
        description: None,
        three_d: false,
        return_url: None,
        three_d_token: None,
        three_d_html: None,
        sale_client_ref: sanalpos_core::ClientRef::generate().to_string(),
        authorized_amount: Some(amount),
        refunded_amount: sanalpos_core::Kurus::ZERO,
        business_date: sanalpos_service::istanbul_today().to_string(),
        review_reason: None,
        created_by: "api:test".into(),
        created_at: now,
        updated_at: now,
        client_ip: None,
        pre_auth: false,
        held_amount: None,
        hold_until: None,
    }
}

/// Runs a test body on SQLite and on PostgreSQL.
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

/// One POST the test listener received.
#[derive(Debug, Clone)]
pub struct Received {
    pub signature: String,
    pub body: Vec<u8>,
}

/// A webhook receiver (a shop's endpoint) on a random port that answers the statuses
/// in `answers` in order (then `fallback`, 200 at first) and records every request.
pub struct Listener {
    pub url: String,
    pub received: Arc<Mutex<Vec<Received>>>,
    /// What it answers once `answers` are used up.
    pub fallback: Arc<std::sync::atomic::AtomicU16>,
}

pub async fn listener(answers: Vec<u16>) -> Listener {
    let received: Arc<Mutex<Vec<Received>>> = Arc::default();
    let answers = Arc::new(Mutex::new(answers.into_iter()));
    let fallback = Arc::new(std::sync::atomic::AtomicU16::new(200));
    let then = fallback.clone();
    let seen = received.clone();
    let app = axum::Router::new().route(
        "/hook",
        post(move |headers: HeaderMap, body: Bytes| {
            let seen = seen.clone();
            let answers = answers.clone();
            let then = then.clone();
            async move {
                seen.lock().unwrap().push(Received {
                    signature: headers
                        .get("sanalpos-signature")
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or_default()
                        .to_owned(),
                    body: body.to_vec(),
                });
                let next = answers.lock().unwrap().next();
                let code = next.unwrap_or_else(|| then.load(std::sync::atomic::Ordering::SeqCst));
                (
                    AxumStatus::from_u16(code).unwrap(),
                    "answer from the shop <ok>",
                )
            }
        }),
    );
    let tcp = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = tcp.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(tcp, app).await });
    Listener {
        url: format!("http://{addr}/hook"),
        received,
        fallback,
    }
}

impl Listener {
    pub fn received(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }
}

/// Unix seconds now.
pub fn now_secs() -> i64 {
    chrono::Utc::now().timestamp()
}

/// A delivery worker that polls every 20 ms and waits 40 ms, 80 ms… between tries.
pub fn fast_worker(config: &mut sanalpos_server::Config) {
    config.webhooks = sanalpos_service::WebhookWorkerConfig {
        enabled: true,
        backoff_base: Duration::from_millis(40),
        backoff_max: Duration::from_secs(60),
        retry_for: Duration::from_secs(3 * 24 * 3600),
        timeout: Duration::from_secs(5),
        poll_interval: Duration::from_millis(20),
    };
}

/// `rows` lines of today's sales in the simulator's statement layout that no book
/// has (each becomes a `provider_only` item), each ending in CRLF: to append to the
/// simulator's statement (which ends in one).
pub fn unknown_sales(rows: usize) -> String {
    let now = sanalpos_core::time::now_istanbul();
    let (time, day) = (
        now.format("%d.%m.%Y %H:%M:%S").to_string(),
        now.format("%d.%m.%Y").to_string(),
    );
    let mut text = String::new();
    for n in 0..rows {
        let lira = 10 + n;
        text.push_str(&format!(
            "{time};{day};Satış;Başarılı;PAGE{n:010};page-order-{n};{n:06};435508******4358;\
             Sayfa Testi;1;{lira},00;{lira},00;1,00;{},00;TRY\r\n",
            lira - 1,
        ));
    }
    text
}
