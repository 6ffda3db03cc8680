//! PaymentList and PfTransactionReportList.

use serde_json::Value;

use crate::*;

fn golden() -> Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../vectors/nkolay.json");
    serde_json::from_str(&std::fs::read_to_string(path).expect("golden vectors")).unwrap()
}

/// The documented sandbox merchant, rebuilt around the vector's `sx-list`.
fn golden_merchant(v: &Value) -> sanalpos_simulator::MerchantConfig {
    let sx_list = v["vectors"][0]["fields"]["sx"].as_str().unwrap().to_owned();
    let (sx, _) = sx_list.rsplit_once('|').unwrap();
    let merchant_no = sx.split('|').next().unwrap().to_owned();
    sanalpos_simulator::MerchantConfig {
        merchant_no,
        sx: sx.to_owned(),
        sx_cancel: format!("{sx}|Y2FuY2Vs"),
        sx_list,
        secret_key: v["secret_key"].as_str().unwrap().to_owned(),
        auto_complete: true,
        allowed_ips: None,
        partial_refund_type: Default::default(),
        postback_hash: Default::default(),
    }
}

#[tokio::test]
async fn golden_vector_request_is_accepted_and_a_changed_one_refused() {
    let v = golden();
    let sim = start_with(golden_merchant(&v), |_| {}).await;
    let vector = &v["vectors"][0];
    assert_eq!(vector["endpoint"], "/Vpos/Payment/PaymentList");
    let fields: Fields = vector["order"]
        .as_array()
        .unwrap()
        .iter()
        .map(|name| {
            let name = name.as_str().unwrap();
            (
                name.to_owned(),
                vector["fields"][name].as_str().unwrap().to_owned(),
            )
        })
        .chain([(
            "hashDatav2".to_owned(),
            vector["hashDatav2"].as_str().unwrap().to_owned(),
        )])
        .collect();
    let answer = sim.post("/Vpos/Payment/PaymentList", &fields).await;
    assert!(!is_hash_error(&answer), "{answer}");
    let result = unwrap_result(answer);
    assert_eq!(result["ERROR_CODE"], "CORE0305");
    assert_eq!(result["RESPONSE_DATA"], "Listelenecek kayıt bulunamadı.");
    assert_eq!(result["LIST"], Value::Array(vec![]));

    // One character of the hash changed.
    let mut changed = fields.clone();
    let mut hash = get(&changed, "hashDatav2").to_owned();
    let last = hash.pop().unwrap();
    let hash = hash + if last == '=' { "A" } else { "=" };
    set(&mut changed, "hashDatav2", &hash);
    assert!(is_hash_error(
        &sim.post("/Vpos/Payment/PaymentList", &changed).await
    ));
    // One character of a field changed.
    let mut changed = fields.clone();
    set(&mut changed, "endDate", "07.10.2026");
    assert!(is_hash_error(
        &sim.post("/Vpos/Payment/PaymentList", &changed).await
    ));
}

#[tokio::test]
async fn window_and_date_format_errors() {
    let sim = start().await;
    let result = sim.payment_list("01.01.2026", "10.02.2026", "").await;
    assert_eq!(result["RESPONSE_CODE"], "0");
    assert_eq!(result["ERROR_CODE"], "CORE0301");
    assert_eq!(
        result["RESPONSE_DATA"],
        "Tarih aralığı en fazla 1 ay olabilir"
    );
    assert_eq!(
        result["ERROR_MESSAGE"],
        "Tarih aralığı en fazla 1 ay olabilir"
    );
    assert_eq!(result["LIST"], Value::Array(vec![]));
    // End before start.
    let result = sim.payment_list("10.02.2026", "01.02.2026", "").await;
    assert_eq!(result["ERROR_CODE"], "CORE0301");
    // Exactly 31 days is fine.
    let result = sim.payment_list("01.01.2026", "01.02.2026", "").await;
    assert_eq!(result["ERROR_CODE"], "CORE0305");

    for (start, end) in [("2026-01-01", "02.01.2026"), ("01.01.2026", "2.1.2026")] {
        let sx = &sim.merchant.sx_list;
        let fields: Fields = vec![
            ("sx".into(), sx.clone()),
            ("startDate".into(), start.into()),
            ("endDate".into(), end.into()),
            ("clientRefCode".into(), String::new()),
            ("hashDatav2".into(), sim.sign(&[sx, start, end, ""])),
        ];
        let v = sim.post("/Vpos/Payment/PaymentList", &fields).await;
        assert_eq!(v["RESPONSE_CODE"], "0");
        assert_eq!(v["ERROR_CODE"], "AB0001", "{start} {end}");
    }
    // The sales sx cannot list.
    let fields: Fields = vec![
        ("sx".into(), sim.merchant.sx.clone()),
        ("startDate".into(), "01.01.2026".into()),
        ("endDate".into(), "01.01.2026".into()),
        ("clientRefCode".into(), String::new()),
        ("hashDatav2".into(), "x".into()),
    ];
    let v = sim.post("/Vpos/Payment/PaymentList", &fields).await;
    assert_eq!(v["ERROR_CODE"], "AUTH001");
}

#[tokio::test]
async fn payment_list_rows_and_result_shapes() {
    let sim = start().await;
    let day = list_date(today());
    let first = sim.pay(APPROVED_CARD, "1234.56").await;
    let declined = sim.pay("4000000000000515", "5.00").await;

    // Two rows: `result` is an object.
    let raw = {
        let sx = &sim.merchant.sx_list;
        let fields: Fields = vec![
            ("sx".into(), sx.clone()),
            ("startDate".into(), day.clone()),
            ("endDate".into(), day.clone()),
            ("clientRefCode".into(), String::new()),
            ("hashDatav2".into(), sim.sign(&[sx, &day, &day, ""])),
        ];
        sim.post("/Vpos/Payment/PaymentList", &fields).await
    };
    assert!(raw["result"].is_object());
    assert_eq!(raw["id"], "");
    let result = unwrap_result(raw);
    assert_eq!(result["RESPONSE_CODE"], "2");
    let rows = result["LIST"].as_array().unwrap();
    assert_eq!(rows.len(), 2);
    let row = &rows[0];
    assert_eq!(row["REFERENCE_CODE"], first["REFERENCE_CODE"]);
    assert_eq!(row["AUTH_CODE"], first["AUTH_CODE"]);
    assert_eq!(row["TRANSACTION_TYPE"], "SALES");
    assert_eq!(row["STATUS"], "SUCCESS");
    assert_eq!(row["TRANSACTION_AMOUNT"], "1234.56");
    assert_eq!(row["CARD_NUMBER"], "454671******7894");
    assert_eq!(row["CARD_BANK_CODE"], "010");
    assert_eq!(row["IS_3D"], "false");
    assert_eq!(row["POS_TYPE"], "VPOS");
    assert_eq!(row["INSTALLMENT_COUNT"], "1");
    let trx_date = row["TRX_DATE"].as_str().unwrap();
    assert!(trx_date.starts_with(&day) && trx_date.len() == 19);
    let valor = today().succ_opt().unwrap().format("%Y%m%d").to_string();
    assert_eq!(row["VALOR_DATE"], valor.as_str());
    assert_eq!(rows[1]["STATUS"], "ERROR");
    assert!(rows[1]["BANK_RESULT"].as_str().unwrap().starts_with("51"));

    // One row (by client reference): `result` is a JSON string.
    let sx = &sim.merchant.sx_list;
    let client_ref = declined["CLIENT_REFERENCE_CODE"].as_str().unwrap();
    let fields: Fields = vec![
        ("sx".into(), sx.clone()),
        ("startDate".into(), day.clone()),
        ("endDate".into(), day.clone()),
        ("clientRefCode".into(), client_ref.into()),
        ("hashDatav2".into(), sim.sign(&[sx, &day, &day, client_ref])),
    ];
    let raw = sim.post("/Vpos/Payment/PaymentList", &fields).await;
    assert!(raw["result"].is_string());
    let result = unwrap_result(raw);
    assert_eq!(result["LIST"].as_array().unwrap().len(), 1);
    assert_eq!(
        result["LIST"][0]["REFERENCE_CODE"],
        declined["REFERENCE_CODE"]
    );

    // Yesterday has nothing.
    let yesterday = list_date(today().pred_opt().unwrap());
    let result = sim.payment_list(&yesterday, &yesterday, "").await;
    assert_eq!(result["ERROR_CODE"], "CORE0305");
}

#[tokio::test]
async fn pf_transaction_report_pages() {
    let sim = start().await;
    let day = list_date(today());
    let mut references = Vec::new();
    for i in 0..5 {
        let v = sim.pay(APPROVED_CARD, &format!("{}.00", 10 + i)).await;
        references.push(v["REFERENCE_CODE"].as_str().unwrap().to_owned());
    }
    let ask = |page: &str, size: &str, reference: &str| -> Fields {
        let sx = &sim.merchant.sx_list;
        vec![
            ("sx".into(), sx.clone()),
            ("startDate".into(), day.clone()),
            ("endDate".into(), day.clone()),
            ("clientReferenceCode".into(), String::new()),
            ("referenceCode".into(), reference.into()),
            ("pageCount".into(), page.into()),
            ("pageSize".into(), size.into()),
            (
                "hashDatav2".into(),
                sim.sign(&[sx, &day, &day, "", reference]),
            ),
        ]
    };
    let path = "/Vpos/Payment/PfTransactionReportList";
    let v = sim.post(path, &ask("1", "2", "")).await;
    assert_eq!(v["responseCode"], "2");
    assert_eq!(v["totalCount"], "5");
    let page: Vec<&str> = v["List"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["referenceCode"].as_str().unwrap())
        .collect();
    assert_eq!(page.len(), 2);
    let v3 = sim.post(path, &ask("3", "2", "")).await;
    assert_eq!(v3["List"].as_array().unwrap().len(), 1);
    assert_eq!(v3["List"][0]["transactionAmount"], "14.00");
    assert_eq!(v3["List"][0]["cardNumber"], "454671******7894");
    let v4 = sim.post(path, &ask("4", "2", "")).await;
    assert_eq!(v4["responseCode"], "0");
    assert_eq!(v4["responseData"], "Listelenecek kayıt bulunamadı.");
    assert_eq!(v4["List"], Value::Array(vec![]));
    let one = sim.post(path, &ask("1", "100", &references[2])).await;
    assert_eq!(one["totalCount"], "1");
    assert_eq!(one["List"][0]["authCode"].as_str().unwrap().len(), 6);
    assert_eq!(
        sim.post(path, &ask("1", "1001", "")).await["ERROR_CODE"],
        "AB0001"
    );
    assert_eq!(
        sim.post(path, &ask("0", "10", "")).await["ERROR_CODE"],
        "AB0001"
    );
    let mut wide = ask("1", "10", "");
    let sx = sim.merchant.sx_list.clone();
    set(&mut wide, "startDate", "01.01.2026");
    set(&mut wide, "endDate", "15.03.2026");
    set(
        &mut wide,
        "hashDatav2",
        &sim.sign(&[&sx, "01.01.2026", "15.03.2026", "", ""]),
    );
    let v = sim.post(path, &wide).await;
    assert_eq!(v["responseCode"], "0");
    assert_eq!(v["responseData"], "Tarih aralığı en fazla 1 ay olabilir");
}
