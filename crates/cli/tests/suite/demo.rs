//! `sanalpos demo` over HTTP: the second company's Garanti BBVA and Yapı Kredi PosNet
//! POS are seeded, listed in demo.json with their simulators, and take payments through
//! the public API.

#![allow(clippy::unwrap_used)]

use std::time::Duration;

use serde_json::{json, Value};

#[tokio::test]
async fn the_second_company_collects_through_its_garanti_and_posnet_pos() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().to_owned();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        sanalpos::demo::run(0, &data, async move {
            let _ = stopped.await;
        })
        .await
        .unwrap();
    });
    let file = dir.path().join("demo.json");
    let mut demo = Value::Null;
    for _ in 0..400 {
        if let Some(read) = std::fs::read_to_string(&file)
            .ok()
            .and_then(|t| serde_json::from_str::<Value>(&t).ok())
        {
            demo = read;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(demo.is_object(), "the demo did not start");
    let company = &demo["companies"][1];
    let http = reqwest::Client::new();
    for (protocol, bank) in [("garanti", "garanti"), ("posnet", "yapikredi")] {
        assert!(demo["simulators"][protocol]
            .as_str()
            .unwrap()
            .starts_with("http://127.0.0.1:"));
        let pos = company["pos"].as_array().unwrap();
        let bank_pos = pos
            .iter()
            .find(|p| p["protocol"] == protocol)
            .unwrap_or_else(|| panic!("a {protocol} POS for the second company"));
        assert_eq!(bank_pos["bank"], bank);
        assert_ne!(
            company["pos_id"], bank_pos["id"],
            "N Kolay stays the default"
        );
        assert!(demo["companies"][0]["pos"]
            .as_array()
            .unwrap()
            .iter()
            .all(|p| p["protocol"] != protocol));

        let pay = |card: &str, key: String| {
            let body = json!({
                "amount": "250.00", "currency": "TRY", "installments": 1,
                "card": {"number": card, "expiry_month": "12", "expiry_year": "2030",
                         "cvv": "123", "holder": "Ayşe Yılmaz"},
                "pos_id": bank_pos["id"],
            });
            http.post(format!(
                "{}/api/v1/payments",
                demo["base_url"].as_str().unwrap()
            ))
            .bearer_auth(company["api_key"].as_str().unwrap())
            .header("Idempotency-Key", key)
            .header("Content-Type", "application/json")
            .body(body.to_string())
            .send()
        };
        let answer = pay("4282209027132016", format!("{protocol}-demo-1"))
            .await
            .unwrap();
        assert_eq!(answer.status(), 201);
        let view: Value = serde_json::from_str(&answer.text().await.unwrap()).unwrap();
        assert_eq!(view["status"], "approved", "{protocol}: {view}");
        assert_eq!(view["masked_pan"], "428220******2016");
        let answer = pay("4000000000000515", format!("{protocol}-demo-2"))
            .await
            .unwrap();
        let view: Value = serde_json::from_str(&answer.text().await.unwrap()).unwrap();
        assert_eq!(view["status"], "declined", "{protocol}: {view}");
        assert_eq!(view["bank_code"], "51");
        assert!(view["message"]["tr"]
            .as_str()
            .unwrap()
            .starts_with("Yetersiz bakiye"));
    }

    let _ = stop.send(());
    task.await.unwrap();
}
