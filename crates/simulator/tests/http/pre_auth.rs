//! Pre-authorisation: the PRESALES block, its capture (PreAuthorizationAprove), its
//! release (PreAuthorizationCancel) and the list, with every refusal leaving the ledger
//! as it was.

use crate::*;
use serde_json::Value;

fn pre_auth_date() -> String {
    today().format("%Y-%m-%d").to_string()
}

/// A PRESALES payment of `amount`; its reference.
async fn block(sim: &TestSim, amount: &str) -> String {
    let mut fields = sim.payment_fields(APPROVED_CARD, amount);
    set(&mut fields, "transactionType", "PRESALES");
    let v = sim.post("/Vpos/v1/Payment", &fields).await;
    assert_eq!(v["RESPONSE_CODE"], "2", "{v}");
    assert!(sim.answer_verifies(&v));
    v["REFERENCE_CODE"].as_str().unwrap().to_owned()
}

fn capture_fields(sim: &TestSim, reference: &str, amount: &str, date: &str) -> Fields {
    let sx = &sim.merchant.sx;
    let hash = sim.sign(&[sx, date, amount, reference]);
    vec![
        ("sx".into(), sx.clone()),
        ("referenceCode".into(), reference.into()),
        ("trxDate".into(), date.into()),
        ("amount".into(), amount.into()),
        ("hashDatav2".into(), hash),
    ]
}

fn release_fields(sim: &TestSim, reference: &str, amount: &str, kind: &str) -> Fields {
    let sx = &sim.merchant.sx;
    let date = pre_auth_date();
    let hash = sim.sign(&[sx, &date, amount, reference, kind]);
    vec![
        ("sx".into(), sx.clone()),
        ("referenceCode".into(), reference.into()),
        ("trxDate".into(), date),
        ("amount".into(), amount.into()),
        ("transactionType".into(), kind.into()),
        ("hashDatav2".into(), hash),
    ]
}

const CAPTURE: &str = "/Vpos/Payment/PreAuthorizationAprove";
const RELEASE: &str = "/Vpos/Payment/PreAuthorizationCancel";
const LIST: &str = "/Vpos/Payment/PreAuthorizationList";

async fn capture(sim: &TestSim, reference: &str, amount: &str) -> Value {
    let fields = capture_fields(sim, reference, amount, &pre_auth_date());
    sim.post(CAPTURE, &fields).await
}

async fn list(sim: &TestSim, start: &str, end: &str) -> Value {
    let sx = &sim.merchant.sx_list;
    let hash = sim.sign(&[sx, end, start]);
    let fields: Fields = vec![
        ("sx".into(), sx.clone()),
        ("startDate".into(), start.into()),
        ("endDate".into(), end.into()),
        ("hashDatav2".into(), hash),
    ];
    unwrap_result(sim.post(LIST, &fields).await)
}

fn kinds(rows: &[Value]) -> Vec<String> {
    rows.iter()
        .map(|r| r["kind"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn a_block_is_captured_in_part_once() {
    let sim = start().await;
    let reference = block(&sim, "100.00").await;
    assert_eq!(kinds(&sim.transactions().await), ["PRESALES"]);

    // Refusals, each with its code, none changing anything.
    let above = capture(&sim, &reference, "100.01").await;
    assert_eq!(above["ERROR_CODE"], "13", "{above}");
    let unknown = capture(&sim, "IKSIRPF0000000000", "10.00").await;
    assert_eq!(unknown["ERROR_CODE"], "25", "{unknown}");
    let dotted = today().format("%Y.%m.%d").to_string();
    let v = sim
        .post(CAPTURE, &capture_fields(&sim, &reference, "10.00", &dotted))
        .await;
    assert_eq!(v["ERROR_CODE"], "AB0001", "{v}");
    let mut forged = capture_fields(&sim, &reference, "10.00", &pre_auth_date());
    set(&mut forged, "amount", "20.00");
    assert!(is_hash_error(&sim.post(CAPTURE, &forged).await));
    let mut other_sx = capture_fields(&sim, &reference, "10.00", &pre_auth_date());
    set(&mut other_sx, "sx", &sim.merchant.sx_cancel.clone());
    assert_eq!(sim.post(CAPTURE, &other_sx).await["ERROR_CODE"], "AUTH001");
    let mut no_reference = capture_fields(&sim, &reference, "10.00", &pre_auth_date());
    no_reference.retain(|(k, _)| k != "referenceCode");
    assert_eq!(
        sim.post(CAPTURE, &no_reference).await["ERROR_CODE"],
        "AB0001"
    );
    // Cancel and refund are for sales, not for a block.
    let v = sim.cancel_refund(&reference, "cancel", "100.00").await;
    assert_eq!(v["ERROR_CODE"], "25", "{v}");
    assert_eq!(sim.transactions().await.len(), 1);

    let v = capture(&sim, &reference, "60.00").await;
    assert_eq!(v["RESPONSE_CODE"], "2", "{v}");
    assert_eq!(v["AUTHORIZATION_AMOUNT"], "60.00");
    let capture_ref = v["REFERENCE_CODE"].as_str().unwrap().to_owned();
    assert_ne!(capture_ref, reference);
    assert!(!v["AUTH_CODE"].as_str().unwrap().is_empty());

    // A second capture and a release after it: 12, nothing changed.
    assert_eq!(capture(&sim, &reference, "40.00").await["ERROR_CODE"], "12");
    let v = sim
        .post(
            RELEASE,
            &release_fields(&sim, &reference, "100.00", "PRESALES"),
        )
        .await;
    assert_eq!(v["ERROR_CODE"], "12", "{v}");
    let rows = sim.transactions().await;
    assert_eq!(kinds(&rows), ["PRESALES", "PRESALES_APPROVE"]);
    assert_eq!(rows[1]["amount"], "60.00");
    assert_eq!(rows[1]["sale_reference_code"], reference.as_str());

    // The reports say what each row is; the captured sale can be cancelled like a sale.
    let day = list_date(today());
    let report = sim.payment_list(&day, &day, "").await;
    let types: Vec<&str> = report["LIST"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["TRANSACTION_TYPE"].as_str().unwrap())
        .collect();
    assert!(types.contains(&"PRESALES") && types.contains(&"PRESALES_APPROVE"));
    let v = sim.cancel_refund(&capture_ref, "cancel", "60.00").await;
    assert_eq!(v["RESPONSE_CODE"], "2", "{v}");
    // The bank's statement has the captured sale (and its cancel), never the block.
    let statement = sim
        .handle
        .statement(&sim.merchant.merchant_no, today())
        .unwrap();
    assert!(!statement.contains(&reference), "{statement}");
    let sale_line = statement
        .lines()
        .find(|l| l.contains(&capture_ref))
        .unwrap();
    assert!(sale_line.contains(";Satış;") && sale_line.contains("60,00"));

    // The list: captured.
    let d = pre_auth_date();
    let listed = list(&sim, &d, &d).await;
    let row = &listed["LIST"][0];
    assert_eq!(row["REFERENCE_CODE"], reference.as_str());
    assert_eq!(row["STATUS"], "CAPTURED");
    assert_eq!(row["CAPTURED_AMOUNT"], "60.00");
    assert_eq!(row["AUTHORIZATION_AMOUNT"], "100.00");
}

#[tokio::test]
async fn a_release_frees_the_whole_block_once() {
    let sim = start().await;
    let reference = block(&sim, "75.00").await;
    let d = pre_auth_date();
    assert_eq!(list(&sim, &d, &d).await["LIST"][0]["STATUS"], "OPEN");

    // Part of the block, or another type: refused.
    let v = sim
        .post(
            RELEASE,
            &release_fields(&sim, &reference, "70.00", "PRESALES"),
        )
        .await;
    assert_eq!(v["ERROR_CODE"], "13", "{v}");
    let v = sim
        .post(RELEASE, &release_fields(&sim, &reference, "75.00", "SALES"))
        .await;
    assert_eq!(v["ERROR_CODE"], "TYPE01", "{v}");
    let mut forged = release_fields(&sim, &reference, "75.00", "PRESALES");
    set(&mut forged, "referenceCode", "IKSIRPF0000000000");
    assert!(is_hash_error(&sim.post(RELEASE, &forged).await));
    assert_eq!(sim.transactions().await.len(), 1);

    let v = sim
        .post(
            RELEASE,
            &release_fields(&sim, &reference, "75.00", "PRESALES"),
        )
        .await;
    assert_eq!(v["RESPONSE_CODE"], "2", "{v}");
    assert_eq!(v["AUTHORIZATION_AMOUNT"], "75.00");
    let v = sim
        .post(
            RELEASE,
            &release_fields(&sim, &reference, "75.00", "PRESALES"),
        )
        .await;
    assert_eq!(v["ERROR_CODE"], "12", "{v}");
    assert_eq!(capture(&sim, &reference, "75.00").await["ERROR_CODE"], "12");
    assert_eq!(
        kinds(&sim.transactions().await),
        ["PRESALES", "PRESALES_CANCEL"]
    );
    assert_eq!(list(&sim, &d, &d).await["LIST"][0]["STATUS"], "RELEASED");
    // Nothing moved: the statement has its header only.
    let statement = sim
        .handle
        .statement(&sim.merchant.merchant_no, today())
        .unwrap();
    assert_eq!(statement.lines().count(), 1, "{statement}");
}

#[tokio::test]
async fn the_list_checks_its_window_and_hash() {
    let sim = start().await;
    let d = pre_auth_date();
    // Nothing yet.
    assert_eq!(list(&sim, &d, &d).await["ERROR_CODE"], "CORE0305");
    let reference = block(&sim, "10.00").await;
    // A sale is not listed.
    sim.pay(APPROVED_CARD, "11.00").await;
    let listed = list(&sim, &d, &d).await;
    let rows = listed["LIST"].as_array().unwrap();
    assert_eq!(rows.len(), 1, "{listed}");
    assert_eq!(rows[0]["REFERENCE_CODE"], reference.as_str());
    assert_eq!(rows[0]["TRANSACTION_TYPE"], "PRESALES");
    // Too wide, reversed, or in the list dates' other format.
    let far = (today() - chrono::Days::new(40))
        .format("%Y-%m-%d")
        .to_string();
    assert_eq!(list(&sim, &far, &d).await["ERROR_CODE"], "CORE0301");
    let listed = sim
        .post(LIST, &{
            let sx = &sim.merchant.sx_list;
            let day = list_date(today());
            let hash = sim.sign(&[sx, &day, &day]);
            vec![
                ("sx".to_owned(), sx.clone()),
                ("startDate".to_owned(), day.clone()),
                ("endDate".to_owned(), day),
                ("hashDatav2".to_owned(), hash),
            ]
        })
        .await;
    assert_eq!(listed["ERROR_CODE"], "AB0001", "{listed}");
    // Signed start first (the wrong order) or with the sales sx.
    let sx = sim.merchant.sx_list.clone();
    let tomorrow = (today() + chrono::Days::new(1))
        .format("%Y-%m-%d")
        .to_string();
    let wrong_order: Fields = vec![
        ("sx".into(), sx.clone()),
        ("startDate".into(), d.clone()),
        ("endDate".into(), tomorrow.clone()),
        ("hashDatav2".into(), sim.sign(&[&sx, &d, &tomorrow])),
    ];
    assert!(is_hash_error(&sim.post(LIST, &wrong_order).await));
    let sales_sx: Fields = vec![
        ("sx".into(), sim.merchant.sx.clone()),
        ("startDate".into(), d.clone()),
        ("endDate".into(), d.clone()),
        ("hashDatav2".into(), sim.sign(&[&sim.merchant.sx, &d, &d])),
    ];
    assert_eq!(sim.post(LIST, &sales_sx).await["ERROR_CODE"], "AUTH001");
}
