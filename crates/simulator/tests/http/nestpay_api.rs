//! NestPay `/fim/api`: body shapes, the recorded answer shapes, refusals, decline cards
//! and the ISO-8859-9 round trip.

use crate::nestpay_common::*;
use crate::unique_ref;

fn recorded(index_what: &str) -> serde_json::Value {
    vectors()["answers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["what"].as_str().unwrap().starts_with(index_what))
        .unwrap_or_else(|| panic!("no recorded answer {index_what}"))["decoded"]
        .clone()
}

fn recorded_extra_keys(answer: &serde_json::Value) -> Vec<String> {
    let mut keys: Vec<String> = answer["Extra"]
        .as_object()
        .unwrap()
        .keys()
        .cloned()
        .collect();
    keys.sort();
    keys
}

fn sorted(mut keys: Vec<String>) -> Vec<String> {
    keys.sort();
    keys
}

#[tokio::test]
async fn golden_request_vector_is_answered_expired_in_every_body_shape() {
    let np = np_start().await;
    let text = vectors()["xml_requests"][0]["text"]
        .as_str()
        .unwrap()
        .to_owned();
    let raw = np.post_doc(&text).await;
    let plain_form = format!("DATA={text}").into_bytes();
    let encoded_form = serde_urlencoded::to_string([("DATA", &text)])
        .unwrap()
        .into_bytes();
    for body in [plain_form, encoded_form] {
        let (status, bytes) = np
            .post_bytes("application/x-www-form-urlencoded", body)
            .await;
        assert_eq!(status, 200);
        let answer = read_answer(&bytes);
        assert_eq!(answer.s("Extra/ERRORCODE"), raw.s("Extra/ERRORCODE"));
    }
    // Card 5555444433332222 expiring 12/21: the bank refuses it as expired.
    assert_eq!(raw.s("OrderId"), "order222");
    assert_eq!(raw.s("Response"), "Error");
    assert_eq!(raw.s("ProcReturnCode"), "99");
    assert_eq!(raw.s("Extra/ERRORCODE"), "CORE-2010");
    assert_eq!(raw.s("Extra/NUMCODE"), "992010");
    assert_eq!(raw.s("AuthCode"), "");
    assert!(np.transactions().await.is_empty());
}

#[tokio::test]
async fn sale_is_approved_in_the_recorded_shape() {
    let np = np_start().await;
    for (kind, card, prefix) in [("Auth", ZIRAAT_CARD, 'P'), ("PreAuth", ISBANK_CARD, 'T')] {
        let (order_id, a) = np.sale(kind, card, "100.25").await;
        assert_eq!(a.s("Response"), "Approved");
        assert_eq!(a.s("ProcReturnCode"), "00");
        assert_eq!(a.s("OrderId"), order_id);
        assert_eq!(a.s("GroupId"), order_id);
        assert!(a.s("AuthCode").starts_with(prefix) && a.s("AuthCode").len() == 6);
        assert_eq!(a.s("HostRefNum").len(), 12);
        assert_eq!(a.s("TransId").len(), 14);
        assert_eq!(a.s("ErrMsg"), "");
        assert_eq!(a.s("Extra/NUMCODE"), "00");
        assert_eq!(a.s("Extra/ERRORCODE"), "");
        assert_eq!(a.s("Extra/CARDBRAND"), "VISA");
        assert_eq!(a.s("Extra/TRXDATE").len(), 17);
        assert_eq!(
            sorted(a.extra_keys()),
            recorded_extra_keys(&recorded("approved non-3D Auth"))
        );
    }
    let (_, ziraat) = np.sale("Auth", ZIRAAT_CARD, "1.00").await;
    assert_eq!(ziraat.s("Extra/CARDISSUER"), "T.C. ZİRAAT BANKASI");

    // The same order id again: refused, nothing recorded.
    let rows = np.transactions().await.len();
    let order_id = unique_ref("dup");
    let first = np
        .api(&np.sale_fields("Auth", &order_id, ZIRAAT_CARD, "5.00"))
        .await;
    assert_eq!(first.s("Response"), "Approved");
    let again = np
        .api(&np.sale_fields("Auth", &order_id, ZIRAAT_CARD, "5.00"))
        .await;
    assert_eq!(again.s("Response"), "Error");
    assert_eq!(again.s("Extra/ERRORCODE"), "CORE-2507");
    assert_eq!(np.transactions().await.len(), rows + 1);
    let row = &np.transactions().await[rows];
    assert_eq!(row["masked_pan"], "454671******7894");
    assert_eq!(row["amount"], "5.00");
    assert!(!serde_json::to_string(row).unwrap().contains(ZIRAAT_CARD));
}

#[tokio::test]
async fn every_decline_card_has_its_code_and_turkish_text() {
    let np = np_start().await;
    let cards = [
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
    for (card, code) in cards {
        let (_, a) = np.sale("Auth", card, "10.00").await;
        assert_eq!(a.s("Response"), "Declined", "{card}");
        assert_eq!(a.s("ProcReturnCode"), code);
        assert_eq!(a.s("Extra/ERRORCODE"), format!("ISO8583-{code}"));
        assert_eq!(a.s("Extra/NUMCODE"), code);
        assert!(!a.has("AuthCode"));
        assert!(!a.s("ErrMsg").is_empty());
        match code {
            "51" => assert_eq!(a.s("ErrMsg"), "Yetersiz bakiye"),
            "41" => assert_eq!(a.s("ErrMsg"), "Kayıp kart! Karta el koyunuz"),
            "82" => assert_eq!(a.s("ErrMsg"), "CVV Hatasi veya girilen CVV gecersiz."),
            _ => {}
        }
    }
    let rows = np.transactions().await;
    assert_eq!(rows.len(), cards.len());
    assert!(rows.iter().all(|r| r["status"] == "Declined"));
}

#[tokio::test]
async fn the_bank_refuses_what_it_refuses() {
    let np = np_start().await;
    let order = unique_ref("bad");
    let base = np.sale_fields("Auth", &order, ZIRAAT_CARD, "10.00");
    let with = |name: &str, value: &'static str| {
        let mut fields = base.clone();
        match fields.iter_mut().find(|(k, _)| *k == name) {
            Some(slot) => slot.1 = value,
            None => fields.push((Box::leak(name.to_owned().into_boxed_str()), value)),
        }
        fields
    };
    let cases: Vec<(Vec<(&str, &str)>, &str)> = vec![
        (with("Total", "10.005"), "CORE-2007"),
        (with("Total", "10,00"), "CORE-2007"),
        (with("Total", "0.00"), "CORE-2009"),
        (with("Currency", "826"), "CORE-2106"),
        (with("Currency", "TRY"), "CORE-1010"),
        (with("Expires", "1230"), "CORE-2011"),
        (with("Expires", "13/30"), "CORE-2011"),
        (with("Number", "4546711234567895"), "CORE-2012"),
        (with("Number", "4546-7112-3456-7894"), "CORE-2012"),
        (with("Number", ""), "CORE-2015"),
        (with("Cvv2Val", "12"), "CORE-2515"),
        (with("Taksit", "4"), "CORE-2603"),
        (with("Taksit", "x"), "CORE-1023"),
        (with("Type", "Sale"), "CORE-2001"),
        (with("Type", ""), "CORE-2003"),
        (with("Mode", "X"), "CORE-1006"),
    ];
    for (fields, code) in cases {
        let a = np.api(&fields).await;
        assert_eq!(a.s("Response"), "Error", "{code}");
        assert_eq!(a.s("ProcReturnCode"), "99");
        assert_eq!(a.s("Extra/ERRORCODE"), code);
        assert_eq!(a.s("Extra/NUMCODE"), format!("99{}", &code[5..]));
        if code == "CORE-2012" {
            assert_eq!(
                a.s("ErrMsg"),
                "Kredi karti numarasi gecerli formatta degil."
            );
        }
        if code == "CORE-2603" {
            assert_eq!(a.s("ErrMsg"), "Taksit tablosu icin gecersiz deger");
        }
    }
    // Installments the merchant has a plan for pass.
    let a = np.api(&with("Taksit", "6")).await;
    assert_eq!(a.s("Response"), "Approved");

    // Credentials: wrong password, wrong user, unknown store.
    let sale = np.sale_fields("Auth", "creds", ZIRAAT_CARD, "1.00");
    for (user, password, client) in [
        ("ISBANKAPI", "WRONG", "700655000200"),
        ("OTHER", "ISBANK07", "700655000200"),
        ("ISBANKAPI", "ISBANK07", "700655000999"),
    ] {
        let mut fields = vec![("Name", user), ("Password", password), ("ClientId", client)];
        fields.extend_from_slice(&sale);
        let a = np.post_doc(&document(&fields)).await;
        assert_eq!(a.s("Response"), "Error");
        assert_eq!(a.s("Extra/ERRORCODE"), "CORE-2201");
        assert_eq!(a.s("Extra/NUMCODE"), "992201");
    }
    let a = np.post_doc(&document(&[("Password", "x")])).await;
    assert_eq!(a.s("Extra/ERRORCODE"), "CORE-1011");
    let (status, body) = np
        .post_bytes("text/xml", b"<CC5Request><Name>".to_vec())
        .await;
    assert_eq!(status, 200);
    assert_eq!(read_answer(&body).s("Extra/ERRORCODE"), "CORE-2014");
    // Only the approved installment sale reached the ledger.
    assert_eq!(np.transactions().await.len(), 1);
}

#[tokio::test]
async fn raw_and_data_form_bodies_are_all_accepted() {
    let np = np_start().await;
    for (content_type, shape) in [
        ("text/xml", "raw"),
        ("application/xml; charset=ISO-8859-9", "raw"),
        ("application/x-www-form-urlencoded", "plain"),
        ("application/x-www-form-urlencoded", "encoded"),
    ] {
        let order_id = unique_ref("body");
        let doc = np.doc(&np.sale_fields("Auth", &order_id, ZIRAAT_CARD, "3.00"));
        let body = match shape {
            "raw" => latin5(&doc),
            "plain" => [b"DATA=".to_vec(), latin5(&doc)].concat(),
            _ => serde_urlencoded::to_string([("DATA", &doc)])
                .unwrap()
                .into_bytes(),
        };
        let (status, bytes) = np.post_bytes(content_type, body).await;
        assert_eq!(status, 200);
        let a = read_answer(&bytes);
        assert_eq!(a.s("Response"), "Approved", "{content_type} {shape}");
        assert_eq!(a.s("OrderId"), order_id);
    }
}

#[tokio::test]
async fn turkish_names_round_trip_in_iso_8859_9() {
    let np = np_start().await;
    let order_id = unique_ref("tr");
    let mut fields = np.sale_fields("Auth", &order_id, ZIRAAT_CARD, "7.00");
    fields.push(("BillTo/Name", "Şükrü Ğüneş İçli"));
    let doc = np.doc(&fields);
    let bytes = latin5(&doc);
    // Ş, ğ and İ are single ISO-8859-9 bytes on the wire.
    assert!(bytes.contains(&0xDE) && bytes.contains(&0xDD));
    let (_, answer) = np.post_bytes("text/xml", bytes).await;
    let answer_bytes = answer.clone();
    let a = read_answer(&answer);
    assert_eq!(a.s("Response"), "Approved");
    // The issuer name comes back as ISO-8859-9 too (İ = 0xDD).
    assert!(answer_bytes.windows(2).any(|w| w == [b'Z', 0xDD]));
    // A character reference in the request decodes to the same letter.
    let order2 = unique_ref("tr");
    let mut fields = np.sale_fields("Auth", &order2, ZIRAAT_CARD, "7.00");
    fields.push(("BillTo/Name", "ÇAĞRI"));
    let doc = np.doc(&fields).replace("ÇAĞRI", "&#xC7;A&#x11E;RI");
    assert_eq!(np.post_doc(&doc).await.s("Response"), "Approved");
    let rows = np.transactions().await;
    assert_eq!(rows[0]["customer"], "Şükrü Ğüneş İçli");
    assert_eq!(rows[1]["customer"], "ÇAĞRI");
    // A Turkish refusal text arrives intact.
    let void = np.api(&[("Type", "Void"), ("OrderId", "nope")]).await;
    assert_eq!(
        void.s("ErrMsg"),
        "İptal edilmeye uygun satış işlemi bulunamadı."
    );
}

#[tokio::test]
async fn control_endpoints_are_off_without_test_mode() {
    let np = np_start_with(|c| c.test_mode = false).await;
    for path in [
        "/_sim/merchants",
        "/_sim/merchants/700655000200/transactions",
    ] {
        let status = np.client.get(np.url(path)).send().await.unwrap().status();
        assert_eq!(status.as_u16(), 404, "{path}");
    }
    let status = np
        .client
        .post(np.url("/_sim/end-of-day"))
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(status.as_u16(), 404);
    // The bank itself still answers, and the handle still closes days.
    let (_, a) = np.sale("Auth", ZIRAAT_CARD, "1.00").await;
    assert_eq!(a.s("Response"), "Approved");
    let closed = np.handle.end_of_day(Some("700655000200"));
    assert_eq!(closed.len(), 1);
    assert_eq!(np.handle.transactions("700655000200").unwrap().len(), 1);
    assert!(np.handle.transactions("1").is_none());
}
