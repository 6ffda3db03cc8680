//! The `sanalpos` binary as a merchant runs it.

#![allow(clippy::unwrap_used)]

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};

use sanalpos_gateway::nkolay::signing::{sign_answer, AnswerHashVariant};

const BIN: &str = env!("CARGO_BIN_EXE_sanalpos");
const KEY: &str = "_viH5wUS4HiBmmw9uGybN";

fn run(args: &[&str], stdin: &str) -> (i32, String, String) {
    let mut child = Command::new(BIN)
        .args(args)
        .env_remove("SANALPOS_NKOLAY_SECRET_KEY")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

fn postback(with_currency: bool) -> Vec<(String, String)> {
    let mut fields: Vec<(String, String)> = [
        ("RESPONSE_CODE", "2"),
        ("RESPONSE_DATA", "İşlem başarılı"),
        ("MERCHANT_NO", "400123456"),
        ("REFERENCE_CODE", "IKSIRPF0000000001"),
        ("AUTH_CODE", "654321"),
        ("USE_3D", "true"),
        ("RND", "29-11-2026 10:00:00"),
        ("INSTALLMENT", "1"),
        ("AUTHORIZATION_AMOUNT", "150.00"),
        ("CLIENT_REFERENCE_CODE", "att_1"),
    ]
    .iter()
    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
    .collect();
    let variant = if with_currency {
        fields.push(("CURRENCY_CODE".into(), "949".into()));
        AnswerHashVariant::WithCurrency
    } else {
        AnswerHashVariant::WithoutCurrency
    };
    let hash = sign_answer(
        |k| fields.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str()),
        KEY,
        variant,
    );
    fields.push(("hashDataV2".into(), hash));
    fields
}

fn form(fields: &[(String, String)]) -> String {
    reqwest::Url::parse_with_params("http://x/", fields)
        .unwrap()
        .query()
        .unwrap()
        .to_owned()
}

#[test]
fn verify_callback_accepts_both_variants() {
    for with_currency in [true, false] {
        let (code, out, _) = run(
            &["nkolay", "verify-callback", "--secret-key", KEY],
            &form(&postback(with_currency)),
        );
        assert_eq!(
            (code, out.trim()),
            (0, "valid"),
            "with_currency = {with_currency}"
        );
    }
}

#[test]
fn verify_callback_names_what_is_wrong() {
    let mut tampered = postback(true);
    for (k, v) in tampered.iter_mut() {
        if k == "AUTHORIZATION_AMOUNT" {
            *v = "1.00".into();
        }
    }
    let (code, out, _) = run(
        &["nkolay", "verify-callback", "--secret-key", KEY],
        &form(&tampered),
    );
    assert_eq!(code, 1);
    assert!(
        out.starts_with("invalid: hashDataV2 does not match"),
        "{out}"
    );

    let (code, out, _) = run(
        &["nkolay", "verify-callback", "--secret-key", "wrong"],
        &form(&postback(true)),
    );
    assert_eq!(code, 1, "{out}");

    let unsigned: Vec<_> = postback(true)
        .into_iter()
        .filter(|(k, _)| k != "hashDataV2")
        .collect();
    let (code, out, _) = run(
        &["nkolay", "verify-callback", "--secret-key", KEY],
        &form(&unsigned),
    );
    assert_eq!((code, out.trim()), (1, "invalid: no hashDataV2 field"));
}

#[test]
fn hash_prints_the_golden_vector() {
    let sx = "118591467|W8a1JLU8A5Cw+HfadVcO6HiR/GGGxr0NkWr2OGythr8fo0YWdw70cvnI6oKMqvzra3Qu+Wa5u0NRil9gRdJmjocVNd4XciDwfD9+pkVqDErw7/pVZfpcSO+GePg+ZvcqFbOO5A==|3hJpHVF2cqvcCZ4q6F7rcA==";
    let (code, out, _) = run(
        &[
            "nkolay",
            "hash",
            "payment-list",
            "--secret-key",
            KEY,
            "--field",
            &format!("sx={sx}"),
            "--field",
            "startDate=05.10.2026",
            "--field",
            "endDate=06.10.2026",
        ],
        "",
    );
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("hashDatav2: 3a1yzE1TS1aUrPpcycyWVqUQhhzFb2YomZbw+W/83MD5/VglsBROO8G4cm2BlvEFTQsE/eYyLbV1viqU8sYkaw=="), "{out}");
    assert!(
        out.contains(&format!("hashed:     {sx}|05.10.2026|06.10.2026||***")),
        "{out}"
    );
    assert!(!out.contains(KEY), "the secret is never printed");
}

#[test]
fn sim_creates_its_merchant_file_and_serves() {
    let dir = std::env::temp_dir().join(format!("sanalpos-cli-{}", std::process::id()));
    let file = dir.join("merchants.json");
    let _ = std::fs::remove_dir_all(&dir);
    let mut child = Command::new(BIN)
        .args(["sim", "--test-mode", "--port", "0", "--merchant-file"])
        .arg(&file)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let url = line.trim().rsplit(' ').next().unwrap().to_owned();
    assert!(url.starts_with("http://127.0.0.1:"), "{line}");

    let written: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    let merchant = if written.is_array() {
        written[0].clone()
    } else {
        written
    };
    for key in [
        "merchant_no",
        "sx",
        "sx_list",
        "sx_cancel",
        "secret_key",
        "auto_complete",
    ] {
        assert!(merchant.get(key).is_some(), "{key} in {merchant}");
    }
    let listed: serde_json::Value = serde_json::from_str(
        &reqwest::blocking::get(format!("{url}/_sim/merchants"))
            .unwrap()
            .text()
            .unwrap(),
    )
    .unwrap();
    assert_eq!(listed[0]["merchant_no"], merchant["merchant_no"]);
    assert!(!listed
        .to_string()
        .contains(merchant["secret_key"].as_str().unwrap()));
    child.kill().unwrap();
    child.wait().unwrap();
    let _ = std::fs::remove_dir_all(&dir);
}
