//! Payment: validation answers, approvals, magic cards, installments.

use std::net::IpAddr;

use serde_json::Value;

use crate::*;

#[tokio::test]
async fn non_3d_approval_is_signed_and_recorded() {
    let sim = start().await;
    let fields = sim.payment_fields(APPROVED_CARD, "150.00");
    let v = sim.post("/Vpos/v1/Payment", &fields).await;
    assert_eq!(v["RESPONSE_CODE"], "2");
    assert_eq!(v["RESPONSE_DATA"], "İşlem başarılı");
    assert_eq!(v["USE_3D"], "false");
    assert_eq!(v["MERCHANT_NO"], sim.merchant.merchant_no.as_str());
    assert_eq!(v["CLIENT_REFERENCE_CODE"], get(&fields, "clientRefCode"));
    assert_eq!(v["TRANSACTION_AMOUNT"], "150.00");
    assert_eq!(v["AUTHORIZATION_AMOUNT"], "150.00");
    assert_eq!(v["INSTALLMENT"], "1");
    assert_eq!(v["CURRENCY_CODE"], "949");
    assert_eq!(v["COMMISION_RATE"], "1.79");
    assert_eq!(v["COMMISION"], "2.69"); // 1.79 % of 150.00 = 2.685, half up
    let auth = v["AUTH_CODE"].as_str().unwrap();
    assert!(auth.len() == 6 && auth.bytes().all(|b| b.is_ascii_digit()));
    let reference = v["REFERENCE_CODE"].as_str().unwrap();
    assert!(reference.starts_with("IKSIRPF") && reference.len() == 17);
    assert_ne!(v["RND"], get(&fields, "rnd"));
    // Every value is a string.
    assert!(v.as_object().unwrap().values().all(Value::is_string));
    assert!(sim.answer_verifies(&v));

    let rows = sim.transactions().await;
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0]["status"], "SUCCESS");
    assert_eq!(rows[0]["masked_pan"], "454671******7894");
    let ledger = serde_json::to_string(&rows).unwrap();
    assert!(!ledger.contains(APPROVED_CARD));
}

#[tokio::test]
async fn magic_cards_decline_with_their_codes() {
    let sim = start().await;
    let cases = [
        ("4000000000000051", "05"),
        ("4000000000000127", "12"),
        ("4000000000000143", "14"),
        ("4000000000000416", "41"),
        ("4000000000000432", "43"),
        ("4000000000000515", "51"),
        ("4000000000000549", "54"),
        ("4000000000000572", "57"),
        ("4000000000000622", "62"),
        ("4000000000000820", "82"),
        ("4000000000000911", "91"),
        ("4000000000000960", "96"),
    ];
    for (card, code) in cases {
        let v = sim.pay(card, "10.00").await;
        assert_eq!(v["RESPONSE_CODE"], "0", "{card}");
        assert_eq!(v["AUTH_CODE"], "", "{card}");
        assert!(v["REFERENCE_CODE"].as_str().unwrap().starts_with("IKSIRPF"));
        assert!(sim.answer_verifies(&v), "{card}");
        let message = sanalpos_core::BankCode::parse(code).unwrap().message().tr;
        match code {
            "05" => {
                assert_eq!(v["ERROR_CODE"], "5");
                assert_eq!(v["RESPONSE_DATA"], message.as_str());
            }
            "12" => {
                assert_eq!(v["ERROR_CODE"], "");
                assert_eq!(v["BANK_RESULT"], "");
                assert_eq!(v["RESPONSE_DATA"], "Geçersiz işlem (Banka kodu: 12)");
            }
            _ => {
                assert_eq!(v["ERROR_CODE"], code, "{card}");
                assert_eq!(v["BANK_RESULT"], format!("{code} - {message}").as_str());
                assert_eq!(v["RESPONSE_DATA"], message.as_str());
            }
        }
    }
    let texts: Vec<String> = [
        ("4000000000000416", "Kayıp kart! Karta el koyunuz"),
        ("4000000000000515", "Yetersiz bakiye"),
    ]
    .iter()
    .map(|(_, t)| (*t).to_owned())
    .collect();
    let rows = sim.transactions().await;
    assert_eq!(rows.len(), cases.len());
    assert!(rows.iter().all(|r| r["status"] == "ERROR"));
    let all = serde_json::to_string(&rows).unwrap();
    for t in texts {
        assert!(all.contains(&t), "{t}");
    }
}

#[tokio::test]
async fn luhn_failure_and_expiry_decline() {
    let sim = start().await;
    let v = sim.pay("4546711234567895", "10.00").await;
    assert_eq!(v["ERROR_CODE"], "14");
    let mut fields = sim.payment_fields(APPROVED_CARD, "10.00");
    set(&mut fields, "year", "2020");
    sim.resign_payment(&mut fields);
    let v = sim.post("/Vpos/v1/Payment", &fields).await;
    assert_eq!(v["ERROR_CODE"], "54");
    assert_eq!(v["RESPONSE_DATA"], "Kartın son kullanma tarihi dolmuş");
}

#[tokio::test]
async fn validation_answers_in_the_documented_order() {
    let sim = start().await;
    let good = sim.payment_fields(APPROVED_CARD, "150.00");

    // Wrong sx, and the right merchant's other token.
    for sx in ["123|nope", sim.merchant.sx_list.as_str(), ""] {
        let mut f = good.clone();
        set(&mut f, "sx", sx);
        let v = sim.post("/Vpos/v1/Payment", &f).await;
        assert_eq!(v["RESPONSE_CODE"], "0");
        assert_eq!(v["ERROR_CODE"], "AUTH001");
        assert_eq!(v["RESPONSE_DATA"], "Geçersiz sx bilgisi");
    }

    // Amounts must have exactly two decimals, re-signed so only the format is wrong.
    for amount in ["150.005", "150", "150.5", "0.00", "1,50"] {
        let mut f = good.clone();
        set(&mut f, "amount", amount);
        sim.resign_payment(&mut f);
        let v = sim.post("/Vpos/v1/Payment", &f).await;
        assert_eq!(v["ERROR_CODE"], "AB0001", "{amount}");
        assert!(v["RESPONSE_DATA"].as_str().unwrap().contains("amount"));
    }

    let bad_fields = [
        ("installmentNo", "13"),
        ("month", "1"),
        ("month", "13"),
        ("year", "30"),
        ("cvv", "12"),
        ("use3D", "yes"),
        ("transactionType", "SALE"),
        ("currencyNumber", "826"),
        ("rnd", "2025-08-29 14:23:57"),
        ("environment", "TEST"),
        ("cardNumber", "4546 7112 3456 7894"),
    ];
    for (name, value) in bad_fields {
        let mut f = good.clone();
        set(&mut f, name, value);
        sim.resign_payment(&mut f);
        let v = sim.post("/Vpos/v1/Payment", &f).await;
        assert_eq!(v["ERROR_CODE"], "AB0001", "{name}={value}");
        let text = v["RESPONSE_DATA"].as_str().unwrap();
        assert!(text.contains(name), "{text}");
        assert!(!text.contains("4546"), "no card digits in {text}");
    }

    let mut f = good.clone();
    set(&mut f, "ECOMM_PLATFORM", &"x".repeat(121));
    let v = sim.post("/Vpos/v1/Payment", &f).await;
    assert_eq!(v["ERROR_CODE"], "AB0001");

    // A missing field names itself.
    let f: Fields = good.iter().filter(|(k, _)| k != "cvv").cloned().collect();
    let (_, text) = sim.post_raw("/Vpos/v1/Payment", &f).await;
    assert!(text.contains("cvv alanı zorunludur"), "{text}");
    assert!(!text.contains(APPROVED_CARD));

    // 3D needs both URLs, absolute.
    let mut f = good.clone();
    set(&mut f, "use3D", "true");
    set(&mut f, "successUrl", "/relative");
    set(&mut f, "failUrl", "https://shop.example/fail");
    sim.resign_payment(&mut f);
    let v = sim.post("/Vpos/v1/Payment", &f).await;
    assert_eq!(v["ERROR_CODE"], "AB0001");
    assert!(v["RESPONSE_DATA"].as_str().unwrap().contains("successUrl"));

    // A format error comes before the hash check.
    let mut f = good.clone();
    set(&mut f, "amount", "150.5");
    let v = sim.post("/Vpos/v1/Payment", &f).await;
    assert_eq!(v["ERROR_CODE"], "AB0001");

    // Wrong hash: one character changed, or a field changed after signing.
    let mut f = good.clone();
    let mut hash = get(&f, "hashDatav2").to_owned();
    let first = if hash.starts_with('A') { "B" } else { "A" };
    hash.replace_range(0..1, first);
    set(&mut f, "hashDatav2", &hash);
    assert!(is_hash_error(&sim.post("/Vpos/v1/Payment", &f).await));
    let mut f = good.clone();
    set(&mut f, "amount", "150.01");
    assert!(is_hash_error(&sim.post("/Vpos/v1/Payment", &f).await));

    // None of these recorded anything; the good request still works.
    assert!(sim.transactions().await.is_empty());
    let v = sim.post("/Vpos/v1/Payment", &good).await;
    assert_eq!(v["RESPONSE_CODE"], "2");
}

#[tokio::test]
async fn ip_allowlist_is_checked_after_the_merchant() {
    let mut merchant = sanalpos_simulator::MerchantConfig::generate();
    merchant.allowed_ips = Some(vec!["10.1.2.3".parse::<IpAddr>().unwrap()]);
    let sim = start_with(merchant, |_| {}).await;
    let v = sim.pay(APPROVED_CARD, "1.00").await;
    assert_eq!(v["RESPONSE_CODE"], "0");
    assert_eq!(v["ERROR_CODE"], "IP0001");
    assert_eq!(v["RESPONSE_DATA"], "IP adresi tanımlı değil: 127.0.0.1");
    // A wrong sx still gets the sx error first.
    let mut f = sim.payment_fields(APPROVED_CARD, "1.00");
    set(&mut f, "sx", "1|x");
    assert_eq!(
        sim.post("/Vpos/v1/Payment", &f).await["ERROR_CODE"],
        "AUTH001"
    );
    assert!(sim.transactions().await.is_empty());

    // Allow loopback through the control endpoint: the same payment now passes.
    let url = sim.url(&format!(
        "/_sim/merchants/{}/settings",
        sim.merchant.merchant_no
    ));
    let response = sim
        .client
        .put(url)
        .body(r#"{"allowed_ips":["127.0.0.1"]}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    assert_eq!(sim.pay(APPROVED_CARD, "1.00").await["RESPONSE_CODE"], "2");
}

#[tokio::test]
async fn installments_follow_the_bin_table() {
    let sim = start().await;
    let ask = |card: &str, valid: &str| {
        let fields: Fields = vec![
            ("sx".into(), sim.merchant.sx.clone()),
            ("amount".into(), "100.00".into()),
            ("cardNumber".into(), card.into()),
            ("iscardvalid".into(), valid.into()),
        ];
        fields
    };
    let v = sim
        .post(
            "/Vpos/Payment/PaymentInstallments",
            &ask("55496034", "false"),
        )
        .await;
    assert_eq!(v["RESPONSE_CODE"], "2");
    let list = v["PAYMENT_BANK_LIST"].as_array().unwrap();
    let counts: Vec<&str> = list
        .iter()
        .map(|r| r["INSTALLMENT"].as_str().unwrap())
        .collect();
    assert_eq!(counts, ["1", "2", "3", "6", "9", "12"]);
    assert_eq!(list[0]["CARD_TRX_TYPE"], "TEKCEKIM");
    assert_eq!(list[0]["PROGRAM"], "004");
    assert_eq!(list[0]["CARD_BANK_CODE"], "062");
    assert_eq!(list[1]["CARD_TRX_TYPE"], "TAKSITLI");
    assert_eq!(list[1]["AUTHORIZATION_AMOUNT"], "101.50");
    assert_eq!(list[1]["MERCHANT_COMMISSION_RATE"], "1.50");
    assert_eq!(list[1]["COMMISION"], "2.49");
    assert_eq!(list[1]["INSTALLMENT_AMOUNT"], "50.75");
    // 3 installments: 102.50 / 3 = 34.1666… rounded down.
    assert_eq!(list[2]["AUTHORIZATION_AMOUNT"], "102.50");
    assert_eq!(list[2]["INSTALLMENT_AMOUNT"], "34.16");

    let v = sim
        .post(
            "/Vpos/Payment/PaymentInstallments",
            &ask("40000000", "false"),
        )
        .await;
    assert_eq!(v["PAYMENT_BANK_LIST"].as_array().unwrap().len(), 1);

    // iscardvalid=true needs a whole, valid number.
    let v = sim
        .post(
            "/Vpos/Payment/PaymentInstallments",
            &ask("55496034", "true"),
        )
        .await;
    assert_eq!(v["ERROR_CODE"], "AB0001");
    let v = sim
        .post(
            "/Vpos/Payment/PaymentInstallments",
            &ask(GARANTI_CARD, "true"),
        )
        .await;
    assert_eq!(v["PAYMENT_BANK_LIST"].as_array().unwrap().len(), 6);

    // A payment in 3 installments carries the surcharge; 4 is not offered.
    let mut f = sim.payment_fields(GARANTI_CARD, "100.00");
    set(&mut f, "installmentNo", "3");
    let v = sim.post("/Vpos/v1/Payment", &f).await;
    assert_eq!(v["RESPONSE_CODE"], "2");
    assert_eq!(v["AUTHORIZATION_AMOUNT"], "102.50");
    assert_eq!(v["TRANSACTION_AMOUNT"], "100.00");
    assert!(sim.answer_verifies(&v));
    set(&mut f, "installmentNo", "4");
    set(&mut f, "clientRefCode", "other");
    sim.resign_payment(&mut f);
    let v = sim.post("/Vpos/v1/Payment", &f).await;
    assert_eq!(v["ERROR_CODE"], "AB0003");
    assert_eq!(
        v["RESPONSE_DATA"],
        "Taksit sayısı bu kart için geçerli değil"
    );
    // An unknown BIN only pays in one.
    let mut f = sim.payment_fields("4000000000000010", "100.00");
    set(&mut f, "installmentNo", "2");
    assert_eq!(
        sim.post("/Vpos/v1/Payment", &f).await["ERROR_CODE"],
        "AB0003"
    );
    assert_eq!(sim.transactions().await.len(), 1);
}

#[tokio::test]
async fn merchant_information_lists_the_commission_table() {
    let sim = start().await;
    let date = list_date(today());
    let mut fields: Fields = vec![
        ("sx".into(), sim.merchant.sx.clone()),
        ("date".into(), date.clone()),
        ("hashDatav2".into(), sim.sign(&[&sim.merchant.sx, &date])),
    ];
    let v = sim
        .post("/Vpos/Payment/GetMerchandInformation", &fields)
        .await;
    assert_eq!(v["RESPONSE_CODE"], "2");
    let list = v["COMMISSION_LIST"].as_array().unwrap();
    let bonus = list.iter().find(|p| p["KEY"] == "004").unwrap();
    assert_eq!(bonus["CODE"], "Bonus");
    assert_eq!(bonus["DATA"][0]["COMMISSION"], "1.79");
    assert_eq!(bonus["DATA"][0]["MERCHANT_COMMISSION_RATE"], "0.00");
    assert_eq!(bonus["DATA"][5]["INSTALLMENT"], "12");
    assert_eq!(bonus["DATA"][5]["MERCHANT_COMMISSION_RATE"], "8.50");
    set(&mut fields, "date", "2026-10-05");
    let v = sim
        .post("/Vpos/Payment/GetMerchandInformation", &fields)
        .await;
    assert_eq!(v["ERROR_CODE"], "AB0001");
    set(&mut fields, "date", "05.10.2026");
    assert!(is_hash_error(
        &sim.post("/Vpos/Payment/GetMerchandInformation", &fields)
            .await
    ));
}

#[tokio::test]
async fn unknown_paths_and_methods() {
    let sim = start().await;
    let r = sim.client.get(sim.url("/nope")).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 404);
    let r = sim
        .client
        .get(sim.url("/Vpos/v1/Payment"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 405);
}
