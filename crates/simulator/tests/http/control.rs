//! The `/_sim/` control endpoints, statements and the server's lifecycle.

use serde_json::Value;

use crate::*;

#[tokio::test]
async fn control_endpoints_exist_only_in_test_mode() {
    let sim = start_with(sanalpos_simulator::MerchantConfig::generate(), |c| {
        c.test_mode = false
    })
    .await;
    let r = sim
        .client
        .get(sim.url("/_sim/merchants"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 404);
    let r = sim
        .client
        .post(sim.url("/_sim/end-of-day"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 404);
    // The provider side still answers.
    assert_eq!(sim.pay(APPROVED_CARD, "1.00").await["RESPONSE_CODE"], "2");
}

#[tokio::test]
async fn merchants_are_listed_without_secrets_and_can_be_added() {
    let mut sim = start().await;
    let text = sim
        .client
        .get(sim.url("/_sim/merchants"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(!text.contains(&sim.merchant.secret_key));
    assert!(!text.contains(&sim.merchant.sx));
    let list: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(list[0]["merchant_no"], sim.merchant.merchant_no.as_str());
    assert_eq!(list[0]["auto_complete"], true);
    assert_eq!(list[0]["partial_refund_type"], "refundp");
    assert_eq!(list[0]["postback_hash"], "with_currency");
    assert_eq!(
        list[0]["business_day"],
        today().format("%Y-%m-%d").to_string().as_str()
    );

    let added = sanalpos_simulator::MerchantConfig::generate();
    let r = sim
        .client
        .post(sim.url("/_sim/merchants"))
        .body(serde_json::to_string(&added).unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 201);
    let original = std::mem::replace(&mut sim.merchant, added);
    assert_eq!(sim.pay(APPROVED_CARD, "2.00").await["RESPONSE_CODE"], "2");
    sim.merchant = original;

    // End of day for one merchant moves only its business day.
    let r = sim
        .client
        .post(sim.url(&format!(
            "/_sim/end-of-day?merchant_no={}",
            sim.merchant.merchant_no
        )))
        .send()
        .await
        .unwrap();
    let closed: Value = serde_json::from_str(&r.text().await.unwrap()).unwrap();
    assert_eq!(closed["closed"].as_array().unwrap().len(), 1);
    let list: Value = serde_json::from_str(
        &sim.client
            .get(sim.url("/_sim/merchants"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap(),
    )
    .unwrap();
    let tomorrow = today().succ_opt().unwrap().format("%Y-%m-%d").to_string();
    let mine = list
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["merchant_no"] == sim.merchant.merchant_no.as_str())
        .unwrap();
    assert_eq!(mine["business_day"], tomorrow.as_str());
}

#[tokio::test]
async fn panel_sales_and_the_statement() {
    let sim = start().await;
    let no = sim.merchant.merchant_no.clone();
    let url = sim.url(&format!("/_sim/merchants/{no}/panel-sales"));

    let r = sim
        .client
        .post(&url)
        .body(r#"{"amount":"12.50","card":"4546711234567895"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 400);
    let text = r.text().await.unwrap();
    assert!(text.contains("error") && !text.contains("4546711234567895"));
    let r = sim
        .client
        .post(&url)
        .body(r#"{"amount":"12.505","card":"4546711234567894"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 400);

    let r = sim
        .client
        .post(&url)
        .body(r#"{"amount":"12.50","card":"4546711234567894"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 201);
    let panel: Value = serde_json::from_str(&r.text().await.unwrap()).unwrap();
    assert!(panel["reference_code"]
        .as_str()
        .unwrap()
        .starts_with("IKSIRPF"));
    assert_eq!(panel["amount"], "12.50");
    assert_eq!(panel["auth_code"].as_str().unwrap().len(), 6);

    let sale = sim.pay(APPROVED_CARD, "1234.56").await;
    let mut f = sim.payment_fields(GARANTI_CARD, "100.00");
    set(&mut f, "cardHolderName", "Şirket; \"Özel\"");
    sim.resign_payment(&mut f);
    sim.post("/Vpos/v1/Payment", &f).await;
    sim.pay("4000000000000051", "3.00").await;

    let day = list_date(today());
    let list = sim.payment_list(&day, &day, "").await;
    let rows = list["LIST"].as_array().unwrap();
    let panel_row = rows
        .iter()
        .find(|r| r["REFERENCE_CODE"] == panel["reference_code"])
        .unwrap();
    assert_eq!(panel_row["CLIENT_REFERENCE_CODE"], "");
    assert_eq!(panel_row["STATUS"], "SUCCESS");

    let date = today().format("%Y-%m-%d").to_string();
    let statement_url = sim.url(&format!("/_sim/merchants/{no}/statement?date={date}"));
    let r = sim.client.get(&statement_url).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(
        r.headers()["content-type"].to_str().unwrap(),
        "text/csv; charset=utf-8"
    );
    let csv = r.text().await.unwrap();
    let lines: Vec<&str> = csv.split("\r\n").collect();
    assert_eq!(
        lines[0],
        "İşlem Tarihi;Valör Tarihi;İşlem Tipi;Durum;Referans No;Sipariş No;Provizyon No;\
         Kart No;Kart Sahibi;Taksit;Tutar;Provizyon Tutarı;Komisyon;Net Tutar;Para Birimi"
    );
    assert_eq!(lines.len(), 6); // header, 4 rows, empty after the last CRLF
    assert_eq!(lines[5], "");
    assert!(!csv.contains(APPROVED_CARD));
    let sale_line = lines
        .iter()
        .find(|l| l.contains(sale["REFERENCE_CODE"].as_str().unwrap()))
        .unwrap();
    let cols: Vec<&str> = sale_line.split(';').collect();
    assert_eq!(cols[2], "Satış");
    assert_eq!(cols[3], "Başarılı");
    assert_eq!(cols[7], "454671******7894");
    assert_eq!(cols[10], "1.234,56");
    assert_eq!(cols[12], "22,10"); // 1.79 % of 1234.56 = 22.098…
    assert_eq!(cols[13], "1.212,46");
    assert_eq!(cols[14], "TRY");
    assert!(csv.contains("\"Şirket; \"\"Özel\"\"\""));
    assert!(csv.contains(";Başarısız;"));

    let r = sim
        .client
        .get(format!("{statement_url}&encoding=windows-1254"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.headers()["content-type"].to_str().unwrap(),
        "text/csv; charset=windows-1254"
    );
    let bytes = r.bytes().await.unwrap();
    assert_eq!(bytes[0], 0xDD); // İ
    assert!(bytes.windows(8).any(|w| w == b"1.234,56"));
    let (decoded, _, had_errors) = encoding_rs::WINDOWS_1254.decode(&bytes);
    assert!(!had_errors);
    assert_eq!(decoded, csv);

    let r = sim
        .client
        .get(sim.url(&format!("/_sim/merchants/{no}/statement?date=05.10.2026")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 400);

    // The same text is available to the CLI without HTTP.
    assert_eq!(sim.handle.statement(&no, today()).unwrap(), csv);
}

#[tokio::test]
async fn shutdown_stops_the_server() {
    let sim = start().await;
    assert_eq!(sim.pay(APPROVED_CARD, "1.00").await["RESPONSE_CODE"], "2");
    let url = sim.url("/Vpos/v1/Payment");
    let client = reqwest::Client::builder().no_proxy().build().unwrap();
    sim.handle.shutdown().await;
    assert!(client.post(url).send().await.is_err());
}

#[tokio::test]
async fn panel_sales_keyed_in_at_a_chosen_time() {
    let sim = start().await;
    let no = sim.merchant.merchant_no.clone();
    let url = sim.url(&format!("/_sim/merchants/{no}/panel-sales"));
    let yesterday = today().pred_opt().unwrap();
    let sale = |at: String| {
        let client = sim.client.clone();
        let url = url.clone();
        async move {
            client
                .post(&url)
                .body(format!(
                    r#"{{"amount":"15.00","card":"4546711234567894","at":"{at}"}}"#
                ))
                .send()
                .await
                .unwrap()
        }
    };
    // Malformed or future times are refused.
    for at in [
        format!("{yesterday} 23:59:00"),
        format!("{yesterday}T24:00:00"),
        format!("{}T00:00:00", today().succ_opt().unwrap()),
    ] {
        let r = sale(at.clone()).await;
        assert_eq!(r.status().as_u16(), 400, "{at}");
    }
    let r = sale(format!("{yesterday}T23:59:00")).await;
    assert_eq!(r.status().as_u16(), 201);
    let panel: Value = serde_json::from_str(&r.text().await.unwrap()).unwrap();

    // Yesterday's report holds it at 23:59 Istanbul time; today's does not.
    let day = list_date(yesterday);
    let list = sim.payment_list(&day, &day, "").await;
    let row = list["LIST"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["REFERENCE_CODE"] == panel["reference_code"])
        .cloned()
        .unwrap();
    assert_eq!(
        row["TRX_DATE"],
        format!("{} 23:59:00", list_date(yesterday))
    );
    let day = list_date(today());
    let list = sim.payment_list(&day, &day, "").await;
    assert!(list["LIST"].as_array().is_none_or(|rows| rows
        .iter()
        .all(|r| r["REFERENCE_CODE"] != panel["reference_code"])));
}
