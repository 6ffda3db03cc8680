//! `sanalpos demo`: the service and the providers' simulators side by side, seeded with
//! two companies ("Demo Ticaret A.Ş.", "Örnek Gıda Ltd. Şti."), each with an active N
//! Kolay POS pointed at the N Kolay simulator (the first company also with a simulated
//! İş Bankası NestPay POS, the second with a simulated Garanti BBVA POS), an admin user
//! and an API key per company, and `demo.json` describing it all. Safe to run again on the same directory: it reuses what is there.

use std::future::Future;
use std::net::SocketAddr;
use std::path::Path;

use rand::distr::Alphanumeric;
use rand::Rng;
use serde_json::json;

use sanalpos_server::{Application, Config};
use sanalpos_service::{PosChange, PosView, Role};
use sanalpos_simulator::garanti::{self, GarantiConfig};
use sanalpos_simulator::nestpay::{self, NestpayConfig};
use sanalpos_simulator::posnet::{self, PosnetConfig};
use sanalpos_simulator::{spawn, MerchantConfig, SimConfig};

pub mod pos;
pub mod shop;

pub use pos::{
    garanti_pos, garanti_settings, nestpay_pos, nestpay_settings, nkolay_settings, posnet_pos,
    posnet_settings, simulator_pos,
};

/// The two demo companies.
pub const COMPANIES: [&str; 2] = ["Demo Ticaret A.Ş.", "Örnek Gıda Ltd. Şti."];

/// Why the demo could not start.
#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    /// A file of the demo directory.
    #[error("{0}: {1}")]
    File(String, std::io::Error),
    /// A simulator could not bind its port or load its merchants.
    #[error("simulator: {0}")]
    Simulator(String),
    /// The service could not start or refused a seeding step.
    #[error("{0}")]
    Service(String),
}

/// A POS's shown setting (never a secret's value).
fn setting<'a>(pos: &'a PosView, name: &str) -> Option<&'a str> {
    pos.settings
        .iter()
        .find(|s| s.name == name && !s.secret)
        .map(|s| s.value.as_str())
}

fn service_error(e: impl std::fmt::Display) -> DemoError {
    DemoError::Service(e.to_string())
}

/// Runs the demo until `shutdown`.
pub async fn run(
    port: u16,
    data_dir: &Path,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), DemoError> {
    std::fs::create_dir_all(data_dir)
        .map_err(|e| DemoError::File(data_dir.display().to_string(), e))?;

    // The simulator, with one merchant per company, kept across runs.
    let merchants_file = data_dir.join("sim-merchants.json");
    let merchants = load_merchants(&merchants_file)?;
    let sim_addr = SocketAddr::from(([127, 0, 0, 1], if port == 0 { 0 } else { port + 1 }));
    let sim_listener = tokio::net::TcpListener::bind(sim_addr)
        .await
        .map_err(|e| DemoError::Simulator(format!("cannot listen on {sim_addr}: {e}")))?;
    let sim = spawn(
        SimConfig {
            merchants: merchants.clone(),
            test_mode: true,
            ..SimConfig::default()
        },
        sim_listener,
    )
    .await
    .map_err(|e| DemoError::Simulator(e.to_string()))?;

    // The NestPay simulator (İş Bankası's POS of the first company), its merchant kept
    // across runs too.
    let nestpay_file = data_dir.join("sim-nestpay-merchants.json");
    let nestpay_merchants = nestpay::load_or_create_merchant_file(&nestpay_file)
        .map_err(|e| DemoError::Simulator(e.to_string()))?;
    let nestpay_addr = SocketAddr::from(([127, 0, 0, 1], if port == 0 { 0 } else { port + 2 }));
    let nestpay_listener = tokio::net::TcpListener::bind(nestpay_addr)
        .await
        .map_err(|e| DemoError::Simulator(format!("cannot listen on {nestpay_addr}: {e}")))?;
    let nestpay_sim = nestpay::spawn(
        NestpayConfig {
            merchants: nestpay_merchants.clone(),
            test_mode: true,
            ..NestpayConfig::default()
        },
        nestpay_listener,
    )
    .await
    .map_err(|e| DemoError::Simulator(e.to_string()))?;

    // The Garanti simulator (the second company's bank POS), its merchant kept too.
    let garanti_file = data_dir.join("sim-garanti-merchants.json");
    let garanti_merchants = garanti::load_or_create_merchant_file(&garanti_file)
        .map_err(|e| DemoError::Simulator(e.to_string()))?;
    let garanti_addr = SocketAddr::from(([127, 0, 0, 1], if port == 0 { 0 } else { port + 3 }));
    let garanti_listener = tokio::net::TcpListener::bind(garanti_addr)
        .await
        .map_err(|e| DemoError::Simulator(format!("cannot listen on {garanti_addr}: {e}")))?;
    let garanti_sim = garanti::spawn(
        GarantiConfig {
            merchants: garanti_merchants.clone(),
            test_mode: true,
            ..GarantiConfig::default()
        },
        garanti_listener,
    )
    .await
    .map_err(|e| DemoError::Simulator(e.to_string()))?;

    // The PosNet simulator (the second company's Yapı Kredi POS), its merchant kept too.
    let posnet_file = data_dir.join("sim-posnet-merchants.json");
    let posnet_merchants = posnet::load_or_create_merchant_file(&posnet_file)
        .map_err(|e| DemoError::Simulator(e.to_string()))?;
    let posnet_addr = SocketAddr::from(([127, 0, 0, 1], if port == 0 { 0 } else { port + 4 }));
    let posnet_listener = tokio::net::TcpListener::bind(posnet_addr)
        .await
        .map_err(|e| DemoError::Simulator(format!("cannot listen on {posnet_addr}: {e}")))?;
    let posnet_sim = posnet::spawn(
        PosnetConfig {
            merchants: posnet_merchants.clone(),
            test_mode: true,
            ..PosnetConfig::default()
        },
        posnet_listener,
    )
    .await
    .map_err(|e| DemoError::Simulator(e.to_string()))?;

    let config = Config {
        listen: SocketAddr::from(([127, 0, 0, 1], port)),
        data_dir: data_dir.to_owned(),
        // The rate limits may be set from the environment (`SANALPOS_RATE_LIMIT_*`,
        // `SANALPOS_COLLECT_LIMIT_*`), e.g. off for a fuzzing run; defaults otherwise.
        rate_limits: match Config::from_process(None) {
            Ok(config) => config.rate_limits,
            Err(e) => {
                // Said, not swallowed: a mistyped variable would otherwise leave the
                // limits on without a word.
                eprintln!("sanalpos demo: the environment's settings are not used: {e}");
                sanalpos_server::ratelimit::RateLimits::default()
            }
        },
        ..Config::default()
    };
    let app = Application::build(config).await.map_err(service_error)?;
    let service = app.service().clone();

    // Companies, POS definitions, keys: reuse what an earlier run made.
    let existing = service.list_companies().await.map_err(service_error)?;
    let mut companies = Vec::new();
    for (index, (name, merchant)) in COMPANIES.iter().zip(&merchants).enumerate() {
        let company = match existing.iter().find(|c| c.name == *name) {
            Some(company) => company.clone(),
            None => service
                .create_company(name, "demo")
                .await
                .map_err(service_error)?,
        };
        let pos_list = service.list_pos(&company.id).await.map_err(service_error)?;
        let nkolay = pos_list.iter().find(|p| p.protocol == "nkolay").cloned();
        let pos = match nkolay {
            Some(pos) if setting(&pos, "base_url") == Some(sim.base_url().as_str()) => pos,
            Some(pos) => service
                .update_pos(
                    &company.id,
                    &pos.id,
                    PosChange {
                        settings: Some(nkolay_settings(&sim.base_url(), merchant)),
                        ..PosChange::default()
                    },
                    "demo",
                )
                .await
                .map_err(service_error)?,
            None => service
                .create_pos(
                    &company.id,
                    simulator_pos(&sim.base_url(), merchant),
                    "demo",
                )
                .await
                .map_err(service_error)?,
        };
        let mut all_pos = vec![pos.clone()];
        if let (0, Some(bank_merchant)) = (index, nestpay_merchants.first()) {
            let existing = pos_list.iter().find(|p| p.protocol == "nestpay").cloned();
            let settings = nestpay_settings(&nestpay_sim.base_url(), bank_merchant);
            let bank_pos = match existing {
                Some(p) if setting(&p, "api_url") == Some(nestpay_sim.base_url().as_str()) => p,
                Some(p) => service
                    .update_pos(
                        &company.id,
                        &p.id,
                        PosChange {
                            settings: Some(settings),
                            ..PosChange::default()
                        },
                        "demo",
                    )
                    .await
                    .map_err(service_error)?,
                None => service
                    .create_pos(
                        &company.id,
                        nestpay_pos(&nestpay_sim.base_url(), bank_merchant),
                        "demo",
                    )
                    .await
                    .map_err(service_error)?,
            };
            all_pos.push(bank_pos);
        }
        if let (1, Some(bank_merchant)) = (index, garanti_merchants.first()) {
            let existing = pos_list.iter().find(|p| p.protocol == "garanti").cloned();
            let base = garanti_sim.base_url();
            let bank_pos = match existing {
                Some(p) if setting(&p, "api_url") == Some(base.as_str()) => p,
                Some(p) => service
                    .update_pos(
                        &company.id,
                        &p.id,
                        PosChange {
                            settings: Some(garanti_settings(&base, bank_merchant)),
                            ..PosChange::default()
                        },
                        "demo",
                    )
                    .await
                    .map_err(service_error)?,
                None => service
                    .create_pos(&company.id, garanti_pos(&base, bank_merchant), "demo")
                    .await
                    .map_err(service_error)?,
            };
            all_pos.push(bank_pos);
        }
        if let (1, Some(bank_merchant)) = (index, posnet_merchants.first()) {
            let existing = pos_list.iter().find(|p| p.protocol == "posnet").cloned();
            let base = posnet_sim.base_url();
            let bank_pos = match existing {
                Some(p) if setting(&p, "api_url") == Some(base.as_str()) => p,
                Some(p) => service
                    .update_pos(
                        &company.id,
                        &p.id,
                        PosChange {
                            settings: Some(posnet_settings(&base, bank_merchant)),
                            ..PosChange::default()
                        },
                        "demo",
                    )
                    .await
                    .map_err(service_error)?,
                None => service
                    .create_pos(&company.id, posnet_pos(&base, bank_merchant), "demo")
                    .await
                    .map_err(service_error)?,
            };
            all_pos.push(bank_pos);
        }
        let (_, api_key) = service
            .create_api_key(&company.id, "demo", "demo")
            .await
            .map_err(service_error)?;
        companies.push(json!({
            "id": company.id,
            "name": company.name,
            "api_key": api_key,
            "pos_id": pos.id,
            "merchant_no": merchant.merchant_no,
            "pos": all_pos.iter().map(|p| json!({
                "id": p.id, "protocol": p.protocol, "bank": p.bank, "name": p.name,
            })).collect::<Vec<_>>(),
        }));
    }

    // One admin for both companies. The password of an earlier run is kept (it is in
    // demo.json); a first run makes one up.
    let demo_file = data_dir.join("demo.json");
    let earlier_password = std::fs::read_to_string(&demo_file)
        .ok()
        .and_then(|text| serde_json::from_str::<serde_json::Value>(&text).ok())
        .and_then(|demo| demo["admin"]["password"].as_str().map(str::to_owned));
    let company_ids: Vec<String> = companies
        .iter()
        .filter_map(|c| c["id"].as_str().map(str::to_owned))
        .collect();
    let password = match earlier_password {
        Some(password) if service.login("admin", &password).await.is_ok() => password,
        _ => {
            let password: String = rand::rng()
                .sample_iter(Alphanumeric)
                .take(16)
                .map(char::from)
                .collect();
            service
                .create_user("admin", &password, Role::Admin, &company_ids, "demo")
                .await
                .map_err(service_error)?;
            password
        }
    };

    let base_url = app.base_url().to_owned();
    let demo = json!({
        "base_url": base_url,
        "simulator_url": sim.base_url(),
        "simulators": {
            "nkolay": sim.base_url(),
            "nestpay": nestpay_sim.base_url(),
            "garanti": garanti_sim.base_url(),
            "posnet": posnet_sim.base_url(),
        },
        "admin": { "username": "admin", "password": password },
        "companies": companies,
    });
    let text = serde_json::to_string_pretty(&demo).map_err(service_error)?;
    // It holds the admin's password and the API keys: owner-only.
    write_private(&demo_file, &text)?;

    print_welcome(&base_url, &sim.base_url(), &password, &demo, &demo_file);
    // The demo shop of the first company, using only the public API and the hosted page.
    let app = match companies.first() {
        Some(company) => {
            println!("Demo shop (hosted page, signed webhooks): {base_url}/shop");
            app.with_routes(shop::router(shop::ShopConfig {
                base_url: base_url.clone(),
                api_key: company["api_key"].as_str().unwrap_or_default().to_owned(),
                name: company["name"].as_str().unwrap_or_default().to_owned(),
            }))
        }
        None => app,
    };
    app.run_until_stopped(shutdown)
        .await
        .map_err(service_error)?;
    sim.shutdown().await;
    nestpay_sim.shutdown().await;
    garanti_sim.shutdown().await;
    posnet_sim.shutdown().await;
    Ok(())
}

fn load_merchants(path: &Path) -> Result<Vec<MerchantConfig>, DemoError> {
    if let Ok(text) = std::fs::read_to_string(path) {
        if let Ok(merchants) = serde_json::from_str::<Vec<MerchantConfig>>(&text) {
            if merchants.len() >= COMPANIES.len() {
                return Ok(merchants);
            }
        }
    }
    let merchants: Vec<MerchantConfig> = COMPANIES
        .iter()
        .map(|_| MerchantConfig::generate())
        .collect();
    let text = serde_json::to_string_pretty(&merchants).map_err(service_error)?;
    write_private(path, &text)?;
    Ok(merchants)
}

/// Writes a file only its owner can read (it holds the simulator merchants' secrets).
fn write_private(path: &Path, text: &str) -> Result<(), DemoError> {
    let shown = path.display().to_string();
    std::fs::write(path, text).map_err(|e| DemoError::File(shown.clone(), e))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
            .map_err(|e| DemoError::File(shown, e))?;
    }
    Ok(())
}

fn print_welcome(
    base_url: &str,
    sim_url: &str,
    password: &str,
    demo: &serde_json::Value,
    demo_file: &Path,
) {
    println!("sanalpos demo is running");
    println!("  service:    {base_url}");
    println!("  simulator:  {sim_url} (N Kolay, control endpoints under /_sim/)");
    println!("  back office: {base_url}/ui/login");
    println!("  admin user: admin / {password}");
    println!("  details:    {}", demo_file.display());
    if let Some(company) = demo["companies"].get(0) {
        let key = company["api_key"].as_str().unwrap_or_default();
        println!();
        println!(
            "Try a payment ({}):",
            company["name"].as_str().unwrap_or_default()
        );
        let card = sanalpos_simulator::cards::DEMO_CARD;
        let body = json!({
            "amount": "150.00", "currency": "TRY", "installments": 1,
            "card": {"number": card.number, "expiry_month": card.expiry_month,
                     "expiry_year": card.expiry_year, "cvv": card.cvv, "holder": "Ayşe Yılmaz"},
        });
        println!(
            "  curl -s {base_url}/api/v1/payments -H 'Authorization: Bearer {key}' \\\n    -H 'Idempotency-Key: demo-1' -H 'Content-Type: application/json' \\\n    -d '{body}'"
        );
    }
    println!();
    println!("Ctrl-C stops both.");
}
