//! Crash safety: `sanalpos serve` is killed with SIGKILL while payments are in flight,
//! started again, and the simulator's ledger judges what the database says. Then every
//! file the run left (database, WAL, logs) is scanned for the card numbers used and
//! for the POS credentials in plaintext.

#![allow(clippy::unwrap_used)]

use std::collections::HashMap;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use sanalpos::soak::scan::{mask, scan_dir, Needles};
use sanalpos_service::{PaymentService, ServiceConfig};
use sanalpos_simulator::{spawn, MerchantConfig, SimConfig, TxKind, TxStatus};
use sanalpos_store::{Crypto, Store};
use serde_json::{json, Value};

const BIN: &str = env!("CARGO_BIN_EXE_sanalpos");
const CARDS: [&str; 4] = [
    "4546711234567894",
    "5200190006338608",
    "4000000000000515",
    "4000000000009011",
];

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn start_server(dir: &Path, port: u16, log: &Path) -> Child {
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .unwrap();
    Command::new(BIN)
        .args([
            "serve",
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--data-dir",
        ])
        .arg(dir)
        .env("SANALPOS_PROVIDER_TIMEOUT_SECS", "2")
        .env("SANALPOS_UNKNOWN_GRACE_SECS", "1")
        .env("SANALPOS_JANITOR_INTERVAL_SECS", "1")
        .env("SANALPOS_END_OF_DAY", "off")
        .env("SANALPOS_RATE_LIMIT_PAYMENTS_PER_KEY", "0")
        .env("SANALPOS_RATE_LIMIT_PAYMENTS_PER_COMPANY", "0")
        .env("RUST_LOG", "info")
        .env_remove("SANALPOS_MASTER_KEY")
        .env_remove("SANALPOS_DATABASE_URL")
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .unwrap()
}

async fn wait_ready(http: &reqwest::Client, base: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if let Ok(r) = http.get(format!("{base}/readyz")).send().await {
            if r.status().is_success() {
                return;
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("server did not become ready");
}

async fn all_payments(http: &reqwest::Client, base: &str, key: &str) -> Vec<Value> {
    let mut items = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut url = format!("{base}/api/v1/payments?limit=200");
        if let Some(c) = &cursor {
            url.push_str(&format!("&cursor={c}"));
        }
        let page: Value = serde_json::from_str(
            &http
                .get(url)
                .bearer_auth(key)
                .send()
                .await
                .unwrap()
                .text()
                .await
                .unwrap(),
        )
        .unwrap();
        items.extend(page["items"].as_array().unwrap().iter().cloned());
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => return items,
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_while_paying_loses_nothing_and_charges_nothing_twice() {
    let dir = sanalpos_store::testing::test_dir();
    let log = dir.path().join("server.log");
    let merchant = MerchantConfig::generate();
    let sim = spawn(
        SimConfig {
            merchants: vec![merchant.clone()],
            test_mode: true,
            slow_answer_delay: Duration::from_secs(3),
        },
        tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap(),
    )
    .await
    .unwrap();

    // Seed the database the server will open: a company, its POS, an API key.
    let (crypto, _) = Crypto::load(dir.path()).unwrap();
    let store = Store::open(&Store::sqlite_url(&dir.path().join("sanalpos.db")))
        .await
        .unwrap();
    let service = PaymentService::new(store.clone(), crypto, ServiceConfig::default());
    let company = service.create_company("Kriz A.Ş.", "test").await.unwrap();
    service
        .create_pos(
            &company.id,
            sanalpos::demo::simulator_pos(&sim.base_url(), &merchant),
            "test",
        )
        .await
        .unwrap();
    let (_, key) = service
        .create_api_key(&company.id, "crash", "test")
        .await
        .unwrap();
    store.close().await;

    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    let mut server = start_server(dir.path(), port, &log);
    wait_ready(&http, &base).await;

    // Eight callers pay in a loop; the server is killed under them.
    let mut callers = Vec::new();
    for caller in 0..8 {
        let http = http.clone();
        let base = base.clone();
        let key = key.clone();
        callers.push(tokio::spawn(async move {
            let mut sent = 0u32;
            for n in 0.. {
                // Mostly fast cards; now and then one the provider answers too late.
                let card = if n % 10 == 3 {
                    CARDS[3]
                } else {
                    CARDS[(caller + n) % 3]
                };
                let body = json!({
                    "amount": format!("{}.{:02}", 10 + caller, n % 100),
                    "card": {"number": card, "expiry_month": "12", "expiry_year": "2030",
                             "cvv": "123", "holder": "Kriz Testi"},
                });
                let answer = http
                    .post(format!("{base}/api/v1/payments"))
                    .bearer_auth(&key)
                    .header("Idempotency-Key", format!("c{caller}-{n}"))
                    .header("Content-Type", "application/json")
                    .body(body.to_string())
                    .send()
                    .await;
                sent += 1;
                if answer.is_err() {
                    return sent; // the server is gone
                }
            }
            sent
        }));
    }
    tokio::time::sleep(Duration::from_millis(1500)).await;
    server.kill().unwrap(); // SIGKILL
    server.wait().unwrap();
    let mut sent = 0;
    for caller in callers {
        sent += caller.await.unwrap();
    }
    assert!(
        sent > 30,
        "load was running when the server died ({sent} requests)"
    );

    // Start again; the janitor resolves what the crash left open, by inquiry only.
    let mut server = start_server(dir.path(), port, &log);
    wait_ready(&http, &base).await;
    let deadline = Instant::now() + Duration::from_secs(30);
    let payments = loop {
        let payments = all_payments(&http, &base, &key).await;
        let open = payments
            .iter()
            .filter(|p| matches!(p["status"].as_str(), Some("processing" | "unknown")))
            .count();
        if open == 0 || Instant::now() > deadline {
            break payments;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    server.kill().unwrap();
    server.wait().unwrap();

    // The judge: the simulator's ledger.
    let ledger = sim.transactions(&merchant.merchant_no).unwrap();
    let charged: Vec<_> = ledger
        .iter()
        .filter(|t| t.kind == TxKind::Sales && t.status == TxStatus::Success)
        .collect();
    assert!(!charged.is_empty());
    let by_ref: HashMap<&str, &Value> = payments
        .iter()
        .filter_map(|p| p["provider_ref"].as_str().map(|r| (r, p)))
        .collect();
    for t in &charged {
        let payment = by_ref
            .get(t.reference_code.as_str())
            .unwrap_or_else(|| panic!("charge {} is not in our database", t.reference_code));
        assert_eq!(payment["status"], "approved", "{payment}");
    }
    let mut client_refs: Vec<&str> = charged.iter().map(|t| t.client_ref.as_str()).collect();
    client_refs.sort_unstable();
    let before = client_refs.len();
    client_refs.dedup();
    assert_eq!(before, client_refs.len(), "an attempt was charged twice");
    let approved = payments
        .iter()
        .filter(|p| p["status"] == "approved")
        .count();
    assert_eq!(
        approved,
        charged.len(),
        "every approval is a charge and vice versa"
    );
    for p in &payments {
        assert!(
            !matches!(p["status"].as_str(), Some("processing" | "unknown")),
            "left open after the janitor: {p}"
        );
    }

    // Nothing secret in any file the run left behind.
    let mut needles = Needles::default();
    for card in CARDS {
        needles.card(card, "123");
    }
    needles.secret("POS sales token (sx)", &merchant.sx);
    needles.secret("POS list token (sx_list)", &merchant.sx_list);
    needles.secret("POS cancel token (sx_cancel)", &merchant.sx_cancel);
    needles.secret("POS secret key", &merchant.secret_key);
    needles.secret("API key", &key);
    needles.marker = Some(mask(CARDS[0]));
    let scan = scan_dir(dir.path(), &needles).unwrap();
    assert!(
        scan.findings.is_empty(),
        "secrets at rest: {:?}",
        scan.findings
    );
    assert!(
        scan.sources >= 3,
        "database, WAL or log missing from the scan"
    );
    assert!(
        scan.marker_hits > 0,
        "the scan did not read the stored payments"
    );
    sim.shutdown().await;
}
