//! `sanalpos recon pull|import|report` against a seeded SQLite data directory and an
//! in-process simulator.

#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::process::{Command, Output};
use std::time::Duration;

use sanalpos_core::{Currency, Kurus};
use sanalpos_service::{Actor, CardInput, Channel, CreatePayment, PaymentService, ServiceConfig};
use sanalpos_simulator::{spawn, MerchantConfig, SimConfig, SimHandle};
use sanalpos_store::{Crypto, Store};

const BIN: &str = env!("CARGO_BIN_EXE_sanalpos");

/// Runs the binary off the runtime's threads (the simulator answers on them).
async fn sanalpos(dir: &Path, args: Vec<String>) -> Output {
    let dir = dir.to_owned();
    tokio::task::spawn_blocking(move || {
        Command::new(BIN)
            .args(&args)
            .arg("--data-dir")
            .arg(&dir)
            .env_remove("SANALPOS_MASTER_KEY")
            .env_remove("SANALPOS_DATABASE_URL")
            .output()
            .unwrap()
    })
    .await
    .unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8(bytes.to_vec()).unwrap()
}

struct Seeded {
    company: String,
    pos: String,
    day: String,
    sim: SimHandle,
    merchant: MerchantConfig,
}

/// A company with a POS on the simulator and two approved sales today.
async fn seed(dir: &Path) -> Seeded {
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
    let (crypto, _) = Crypto::load_file(dir).unwrap();
    let store = Store::open(&Store::sqlite_url(&dir.join("sanalpos.db")))
        .await
        .unwrap();
    let service = PaymentService::new(store.clone(), crypto, ServiceConfig::default());
    let company = service
        .create_company("Mutabakat A.Ş.", "test")
        .await
        .unwrap();
    let pos = service
        .create_pos(
            &company.id,
            sanalpos::demo::simulator_pos(&sim.base_url(), &merchant),
            "test",
        )
        .await
        .unwrap();
    let actor = Actor {
        company_id: company.id.clone(),
        name: "api:test".into(),
    };
    for amount in ["1234.56", "10.00"] {
        let payment = service
            .create_payment(
                &actor,
                CreatePayment {
                    amount: Kurus::parse(amount).unwrap(),
                    currency: Currency::Try,
                    installments: 1,
                    card: CardInput {
                        number: "4546711234567894".into(),
                        expiry_month: "12".into(),
                        expiry_year: "2030".into(),
                        cvv: "123".into(),
                        holder: "Ayşe Yılmaz".into(),
                    },
                    vault: sanalpos_service::CardVaultUse::None,
                    three_d: false,
                    return_url: None,
                    order_ref: None,
                    customer_ref: None,
                    description: None,
                    pos_id: None,
                    channel: Channel::Api,
                    cardholder_ip: None,
                    client_ip: None,
                    capture: sanalpos_service::CaptureMode::Automatic,
                },
            )
            .await
            .unwrap();
        assert_eq!(payment.status.to_string(), "approved");
    }
    store.close().await;
    Seeded {
        company: company.id,
        pos: pos.id,
        day: sanalpos_service::istanbul_today().to_string(),
        sim,
        merchant,
    }
}

fn period(s: &Seeded) -> Vec<String> {
    [
        "--company",
        &s.company,
        "--pos",
        &s.pos,
        "--from",
        &s.day,
        "--to",
        &s.day,
    ]
    .iter()
    .map(|a| (*a).to_owned())
    .collect()
}

/// The table line of a class.
fn line<'a>(stdout: &'a str, class: &str) -> &'a str {
    stdout
        .lines()
        .find(|l| l.starts_with(&format!("{class} ")))
        .unwrap_or_else(|| panic!("no {class} line: {stdout}"))
}

fn run_id(stdout: &str) -> String {
    stdout
        .split_whitespace()
        .nth(1)
        .filter(|id| id.starts_with("rcn_"))
        .unwrap_or_else(|| panic!("no run id: {stdout}"))
        .to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recon_pull_then_report() {
    let dir = sanalpos_store::testing::test_dir();
    let s = seed(dir.path()).await;

    let mut args = vec!["recon".to_owned(), "pull".to_owned()];
    args.extend(period(&s));
    let out = sanalpos(dir.path(), args).await;
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{stdout}{}", text(&out.stderr));
    let matched = line(&stdout, "matched");
    let cells: Vec<&str> = matched.split_whitespace().collect();
    assert_eq!(
        cells,
        ["matched", "2", "1.244,56", "1.244,56", "0,00"],
        "{stdout}"
    );
    assert!(stdout.contains("open exceptions: 0"), "{stdout}");
    let id = run_id(&stdout);

    let args = ["recon", "report", &id, "--company", &s.company]
        .iter()
        .map(|a| (*a).to_owned())
        .collect();
    let out = sanalpos(dir.path(), args).await;
    let report = text(&out.stdout);
    assert!(out.status.success(), "{report}{}", text(&out.stderr));
    assert_eq!(line(&report, "matched"), matched);
    // Exceptions first, matched last.
    let position = |class: &str| report.find(&format!("\n{class} ")).unwrap();
    for class in [
        "amount_mismatch",
        "status_mismatch",
        "provider_only",
        "system_only",
        "duplicate",
    ] {
        assert!(position(class) < position("matched"), "{report}");
        assert_eq!(
            line(&report, class).split_whitespace().nth(1),
            Some("0"),
            "{report}"
        );
    }

    let args = ["recon", "report", "rcn_nope", "--company", &s.company]
        .iter()
        .map(|a| (*a).to_owned())
        .collect();
    let out = sanalpos(dir.path(), args).await;
    assert!(!out.status.success());
    assert!(text(&out.stderr).contains("error:"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recon_import_statement_and_a_large_bad_file() {
    let dir = sanalpos_store::testing::test_dir();
    let s = seed(dir.path()).await;
    let statement = reqwest::get(format!(
        "{}/_sim/merchants/{}/statement?date={}&encoding=utf-8",
        s.sim.base_url(),
        s.merchant.merchant_no,
        s.day
    ))
    .await
    .unwrap()
    .text()
    .await
    .unwrap();
    let file = dir.path().join("statement.csv");
    std::fs::write(&file, &statement).unwrap();

    let mut args = vec![
        "recon".to_owned(),
        "import".to_owned(),
        file.display().to_string(),
    ];
    args.extend(period(&s));
    let out = sanalpos(dir.path(), args).await;
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{stdout}{}", text(&out.stderr));
    assert!(stdout.contains("(import)"), "{stdout}");
    assert_eq!(
        line(&stdout, "matched").split_whitespace().nth(1),
        Some("2")
    );
    assert!(stdout.contains("open exceptions: 0"), "{stdout}");

    // Over a mebibyte of malformed rows: progress on stderr, every bad row counted,
    // nothing stored.
    let header = statement.split("\r\n").next().unwrap().to_owned();
    let mut bad = vec!["x"; header.split(';').count()];
    bad[10] = "not an amount";
    let bad = bad.join(";");
    let mut big = header;
    let mut rows = 0;
    while big.len() < 1_200_000 {
        big.push_str("\r\n");
        big.push_str(&bad);
        rows += 1;
    }
    let file = dir.path().join("big.csv");
    std::fs::write(&file, &big).unwrap();
    let mut args = vec![
        "recon".to_owned(),
        "import".to_owned(),
        file.display().to_string(),
    ];
    args.extend(period(&s));
    let out = sanalpos(dir.path(), args).await;
    let stderr = text(&out.stderr);
    assert!(!out.status.success(), "{}", text(&out.stdout));
    assert!(
        stderr.contains(&format!("{} / {} bytes", big.len(), big.len())),
        "{stderr}"
    );
    assert!(stderr.contains(&format!("({rows} bad rows)")), "{stderr}");
    assert!(stderr.contains("line 2:"), "{stderr}");
    assert!(!stderr.contains("4546711234567894"));

    // A path that opens but cannot be read (a directory): the error names it and why,
    // and nothing is imported.
    let mut args = vec![
        "recon".to_owned(),
        "import".to_owned(),
        dir.path().display().to_string(),
    ];
    args.extend(period(&s));
    let out = sanalpos(dir.path(), args).await;
    let stderr = text(&out.stderr);
    assert!(!out.status.success(), "{}", text(&out.stdout));
    assert!(
        stderr.contains(&format!(
            "the file cannot be read: {}: ",
            dir.path().display()
        )),
        "{stderr}"
    );
    assert!(stderr.contains("nothing was imported"), "{stderr}");
}
