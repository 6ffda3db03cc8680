//! NestPay after the sale: Void and Credit around end of day, PreAuth / PostAuth, the
//! status and history queries, fault cards, panel sales and the statement.

use std::time::{Duration, Instant};

use crate::nestpay_common::*;
use crate::unique_ref;

fn recorded(what: &str) -> serde_json::Value {
    vectors()["answers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["what"].as_str().unwrap().starts_with(what))
        .unwrap_or_else(|| panic!("no recorded answer {what}"))["decoded"]
        .clone()
}

#[tokio::test]
async fn void_on_the_day_credit_after_the_close() {
    let np = np_start().await;
    // Same day: Void works, Credit is refused with CORE-2508.
    let (order_id, sale) = np.sale("Auth", ZIRAAT_CARD, "10.00").await;
    let credit = np
        .api(&[
            ("Type", "Credit"),
            ("OrderId", &order_id),
            ("Total", "1.00"),
            ("Currency", "949"),
        ])
        .await;
    assert_eq!(credit.s("Response"), "Error");
    assert_eq!(credit.s("ProcReturnCode"), "99");
    assert_eq!(credit.s("Extra/ERRORCODE"), "CORE-2508");
    assert_eq!(
        credit.s("ErrMsg"),
        "Iade yapilamaz, siparis gunsonuna girmemis."
    );
    let void = np.api(&[("Type", "Void"), ("OrderId", &order_id)]).await;
    assert_eq!(void.s("Response"), "Approved");
    assert_eq!(void.s("ProcReturnCode"), "00");
    assert_ne!(void.s("TransId"), sale.s("TransId"));
    let again = np.api(&[("Type", "Void"), ("OrderId", &order_id)]).await;
    assert_eq!(again.s("Extra/ERRORCODE"), "CORE-2008");
    assert_eq!(again.s("OrderId"), "");
    assert_eq!(again.s("Extra/NUMCODE"), "992008");
    let status = np.status(&order_id).await;
    assert_eq!(status.s("Extra/TRANS_STAT"), "V");
    assert!(!status.s("Extra/VOID_DTTM").is_empty());

    // Void by TransId.
    let (_, other) = np.sale("Auth", ZIRAAT_CARD, "4.00").await;
    let by_id = np
        .api(&[("Type", "Void"), ("TransId", other.s("TransId"))])
        .await;
    assert_eq!(by_id.s("Response"), "Approved");

    // After end of day: Void finds nothing, Credit works, partially, up to the sale.
    let (order_id, _) = np.sale("Auth", ZIRAAT_CARD, "10.00").await;
    np.end_of_day().await;
    let void = np.api(&[("Type", "Void"), ("OrderId", &order_id)]).await;
    assert_eq!(void.s("Extra/ERRORCODE"), "CORE-2008");
    let credit = |total: &'static str| {
        let order_id = order_id.clone();
        let np = &np;
        async move {
            np.api(&[
                ("Type", "Credit"),
                ("OrderId", &order_id),
                ("Total", total),
                ("Currency", "949"),
            ])
            .await
        }
    };
    let part = credit("4.00").await;
    assert_eq!(part.s("Response"), "Approved");
    assert_eq!(part.s("ProcReturnCode"), "00");
    let too_much = credit("6.01").await;
    assert_eq!(too_much.s("Extra/ERRORCODE"), "CORE-2503");
    let rest = credit("6.00").await;
    assert_eq!(rest.s("Response"), "Approved");
    let nothing = credit("1.00").await;
    assert_eq!(nothing.s("Response"), "Declined");
    assert!(!nothing.has("ProcReturnCode"));
    assert_eq!(nothing.s("Extra/ERRORCODE"), "215021");
    assert_eq!(nothing.s("ErrMsg"), "Net Tutar 0.");
    let mut keys = nothing.extra_keys();
    keys.sort();
    assert_eq!(keys, ["ERRORCODE", "TRACEID", "TRXDATE"]);
    let status = np.status(&order_id).await;
    assert_eq!(status.s("Extra/CHARGE_TYPE_CD"), "C");

    let unknown = np
        .api(&[
            ("Type", "Credit"),
            ("OrderId", "no-such-order"),
            ("Total", "1.00"),
        ])
        .await;
    assert_eq!(unknown.s("Extra/ERRORCODE"), "CORE-2123");
}

#[tokio::test]
async fn preauth_then_postauth_with_and_without_preamt() {
    let np = np_start().await;
    let (order_id, pre) = np.sale("PreAuth", ZIRAAT_CARD, "2.05").await;
    assert!(pre.s("AuthCode").starts_with('T'));
    let status = np.status(&order_id).await;
    assert_eq!(status.s("Extra/TRANS_STAT"), "A");
    assert_eq!(status.s("Extra/ORIG_TRANS_AMT"), "205");
    assert_eq!(status.s("Extra/CAPTURE_AMT"), "");

    let over = np
        .api(&[
            ("Type", "PostAuth"),
            ("OrderId", &order_id),
            ("Total", "3.00"),
        ])
        .await;
    assert_eq!(over.s("Response"), "Error");
    assert_eq!(over.s("Extra/ERRORCODE"), "CORE-2512");
    let wrong = np
        .api(&[
            ("Type", "PostAuth"),
            ("OrderId", &order_id),
            ("Total", "3.00"),
            ("Extra/PREAMT", "2.00"),
        ])
        .await;
    assert_eq!(wrong.s("Extra/ERRORCODE"), "CORE-2512");
    let ok = np
        .api(&[
            ("Type", "PostAuth"),
            ("OrderId", &order_id),
            ("Total", "3.00"),
            ("Extra/PREAMT", "2.05"),
        ])
        .await;
    assert_eq!(ok.s("Response"), "Approved");
    let status = np.status(&order_id).await;
    assert_eq!(status.s("Extra/TRANS_STAT"), "C");
    assert_eq!(status.s("Extra/CAPTURE_AMT"), "300");
    let twice = np
        .api(&[("Type", "PostAuth"), ("OrderId", &order_id)])
        .await;
    assert_eq!(twice.s("Extra/ERRORCODE"), "CORE-2509");

    // Without Total: the pre-authorised amount.
    let (order_id, _) = np.sale("PreAuth", ZIRAAT_CARD, "2.05").await;
    let full = np
        .api(&[("Type", "PostAuth"), ("OrderId", &order_id)])
        .await;
    assert_eq!(full.s("Response"), "Approved");
    assert_eq!(np.status(&order_id).await.s("Extra/CAPTURE_AMT"), "205");
    // A sale is no pre-authorisation.
    let (sale_order, _) = np.sale("Auth", ZIRAAT_CARD, "1.00").await;
    let no = np
        .api(&[("Type", "PostAuth"), ("OrderId", &sale_order)])
        .await;
    assert_eq!(no.s("Extra/ERRORCODE"), "CORE-2509");
}

#[tokio::test]
async fn status_and_history_have_the_recorded_shapes() {
    let np = np_start().await;
    // Unknown orders.
    let status = np.status("2022103088D22").await;
    let want = recorded("ORDERSTATUS answer, unknown order");
    for key in ["ErrMsg", "ProcReturnCode", "Response", "OrderId", "TransId"] {
        assert_eq!(status.s(key), want[key].as_str().unwrap(), "{key}");
    }
    assert_eq!(
        status.s("Extra/ORDERSTATUS"),
        want["Extra"]["ORDERSTATUS"].as_str().unwrap()
    );
    assert_eq!(status.s("Extra/NUMCODE"), "0");
    let history = np.history("20221030B3FF2").await;
    let want = recorded("ORDERHISTORY answer, unknown order");
    for key in ["ErrMsg", "ProcReturnCode", "Response", "OrderId"] {
        assert_eq!(history.s(key), want[key].as_str().unwrap(), "{key}");
    }
    assert_eq!(history.s("Extra/TRXCOUNT"), "0");

    // A 1.01 sale, voided, then a refused Credit: the recorded history's shape.
    let (order_id, sale) = np.sale("Auth", ZIRAAT_CARD, "1.01").await;
    let status = np.status(&order_id).await;
    let want = recorded("ORDERSTATUS answer, sale captured");
    let mut keys = status.extra_keys();
    keys.sort();
    let mut want_keys: Vec<String> = want["Extra"].as_object().unwrap().keys().cloned().collect();
    want_keys.sort();
    assert_eq!(keys, want_keys);
    assert_eq!(status.s("Extra/PAN"), "4546 71** **** 7894");
    assert_eq!(status.s("Extra/AUTH_CODE"), sale.s("AuthCode"));
    assert_eq!(status.s("Extra/TRANS_STAT"), "C");
    assert_eq!(status.s("Extra/CAPTURE_AMT"), "101");
    assert_eq!(
        status.s("ErrMsg"),
        format!("Record(s) found for {order_id}")
    );
    assert!(status.s("Extra/ORDERSTATUS").starts_with(&format!(
        "ORD_ID:{order_id}\tCHARGE_TYPE_CD:S\tORIG_TRANS_AMT:101\tCAPTURE_AMT:101\tTRANS_STAT:C\t"
    )));
    assert_eq!(
        status.s("Extra/AUTH_DTTM").len(),
        "2024-01-03 21:37:57.259".len()
    );

    np.api(&[("Type", "Void"), ("OrderId", &order_id)]).await;
    np.api(&[
        ("Type", "Credit"),
        ("OrderId", &order_id),
        ("Total", "1.00"),
    ])
    .await;
    let history = np.history(&order_id).await;
    assert_eq!(history.s("ProcReturnCode"), "00");
    assert_eq!(history.s("Response"), "Approved");
    assert_eq!(history.s("Extra/TRXCOUNT"), "2");
    let trx1: Vec<&str> = history.s("Extra/TRX1").split('\t').collect();
    let trx2: Vec<&str> = history.s("Extra/TRX2").split('\t').collect();
    assert_eq!((trx1.len(), trx2.len()), (11, 11));
    assert_eq!(&trx1[..4], ["C", "D", "100", "100"]);
    assert_eq!(trx1[9], "99");
    assert_eq!(&trx2[..4], ["S", "V", "101", "101"]);
    assert!(!trx2[6].is_empty(), "void time");
    assert_eq!(trx2[8], sale.s("AuthCode"));
    assert_eq!(trx2[10], sale.s("TransId"));
    let mut keys = history.extra_keys();
    keys.sort();
    let mut want: Vec<String> = recorded("ORDERHISTORY answer: a voided sale")["Extra"]
        .as_object()
        .unwrap()
        .keys()
        .cloned()
        .collect();
    want.sort();
    assert_eq!(keys, want);
}

async fn charged(np: &Np) -> usize {
    np.transactions()
        .await
        .iter()
        .filter(|r| r["status"] == "Approved")
        .count()
}

#[tokio::test]
async fn fault_cards_break_the_transport_on_purpose() {
    let np = np_start().await; // slow answer after 300 ms
    let started = Instant::now();
    let (_, slow) = np.sale("Auth", "4000000000009011", "1.00").await;
    assert!(started.elapsed() >= Duration::from_millis(300));
    assert_eq!(slow.s("Response"), "Approved");
    assert_eq!(charged(&np).await, 1);

    let order = unique_ref("f");
    let doc = np.doc(&np.sale_fields("Auth", &order, "4000000000009029", "1.00"));
    assert_eq!(np.post_bytes("text/xml", latin5(&doc)).await.0, 500);
    assert_eq!(charged(&np).await, 2);

    let doc = np.doc(&np.sale_fields("Auth", &unique_ref("f"), "4000000000009037", "1.00"));
    assert_eq!(np.post_bytes("text/xml", latin5(&doc)).await.0, 500);
    assert_eq!(charged(&np).await, 2);

    let doc = np.doc(&np.sale_fields("Auth", &unique_ref("f"), "4000000000009045", "1.00"));
    let (status, body) = np.post_bytes("text/xml", latin5(&doc)).await;
    assert_eq!(status, 200);
    assert!(!String::from_utf8_lossy(&body).contains("</CC5Response>"));
    assert_eq!(charged(&np).await, 3);

    let (_, garbled) = np.sale("Auth", "4000000000009052", "1.00").await;
    assert_eq!(garbled.s("Response"), "Approved");
    assert_eq!(garbled.s("ProcReturnCode"), "00");
    assert!(!garbled.has("AuthCode") && !garbled.has("TransId"));
    assert_eq!(charged(&np).await, 4);

    let doc = np.doc(&np.sale_fields("Auth", &unique_ref("f"), "4000000000009060", "1.00"));
    let err = np
        .client
        .post(np.url("/fim/api"))
        .header("Content-Type", "text/xml")
        .body(latin5(&doc))
        .send()
        .await
        .unwrap_err();
    assert!(!err.is_timeout());
    assert_eq!(charged(&np).await, 4);

    let order = unique_ref("f");
    let doc = np.doc(&np.sale_fields("Auth", &order, "4000000000009078", "1.00"));
    assert_eq!(np.post_bytes("text/xml", latin5(&doc)).await.0, 503);
    assert_eq!(charged(&np).await, 4);
    assert_eq!(np.post_doc(&doc).await.s("Response"), "Approved");
    assert_eq!(charged(&np).await, 5);
}

#[tokio::test]
async fn panel_sales_and_the_statement() {
    let np = np_start().await;
    let response = np
        .client
        .post(np.url("/_sim/merchants/700655000200/panel-sales"))
        .body(r#"{"amount":"1234.56","card":"4546711234567894","client_ref":"PANEL-1"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 201);
    let (order_id, _) = np.sale("Auth", ZIRAAT_CARD, "10.00").await;
    np.api(&[("Type", "Void"), ("OrderId", &order_id)]).await;
    let day = sanalpos_simulator::clock::now().date_naive();
    let url = np.url(&format!(
        "/_sim/merchants/700655000200/statement?date={}&encoding=windows-1254",
        day.format("%Y-%m-%d")
    ));
    let response = np.client.get(url).send().await.unwrap();
    assert_eq!(response.status().as_u16(), 200);
    let bytes = response.bytes().await.unwrap();
    let (text, _, _) = encoding_rs::WINDOWS_1254.decode(&bytes);
    let lines: Vec<&str> = text.split("\r\n").filter(|l| !l.is_empty()).collect();
    assert_eq!(lines.len(), 4);
    assert!(lines[0].starts_with("İşlem Tarihi;Valör Tarihi;İşlem Tipi;Durum;Referans No"));
    assert!(lines[1].contains(";Satış;Başarılı;") && lines[1].contains(";PANEL-1;"));
    assert!(lines[1].contains(";1.234,56;"));
    assert!(lines[3].contains(";İptal;Başarılı;"));
    assert_eq!(np.handle.statement("700655000200", day).unwrap(), text);
    let rows = np.transactions().await;
    assert_eq!(rows[0]["panel"], true);
}
