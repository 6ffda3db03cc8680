//! NestPay 3D: the ver3 gate, the bank page with the right and wrong SMS code and
//! Cancel, each store type, the mdStatus cards and the merchant's 3D Auth.

use sanalpos_simulator::nestpay::cards::MD_STATUS_CARDS;
use sanalpos_simulator::nestpay::hash::{ver3_hash, verify_ver3};
use sanalpos_simulator::nestpay::NestpayMerchant;

use crate::nestpay_common::*;
use crate::{get, set, unique_ref, Fields};

const OK_URL: &str = "https://shop.example/ok";
const FAIL_URL: &str = "https://shop.example/fail";

/// A signed gate form of this merchant (card fields unless `3d_host`).
fn form(np: &Np, store_type: &str, oid: &str, card: &str, amount: &str) -> Fields {
    let mut fields: Fields = [
        ("clientid", np.merchant.client_id.as_str()),
        ("storetype", store_type),
        ("amount", amount),
        ("oid", oid),
        ("okUrl", OK_URL),
        ("failUrl", FAIL_URL),
        ("rnd", "rnd-1234"),
        ("lang", "tr"),
        ("currency", "949"),
        ("taksit", ""),
        ("TranType", "Auth"),
        ("hashAlgorithm", "ver3"),
        ("firmaadi", "Şirket Ltd"),
    ]
    .iter()
    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
    .collect();
    if store_type != "3d_host" {
        for (k, v) in [
            ("pan", card),
            ("Ecom_Payment_Card_ExpDate_Month", "12"),
            ("Ecom_Payment_Card_ExpDate_Year", "30"),
            ("cv2", "000"),
        ] {
            fields.push((k.to_owned(), v.to_owned()));
        }
    }
    sign(np, &mut fields);
    fields
}

fn sign(np: &Np, fields: &mut Fields) {
    fields.retain(|(k, _)| k != "hash");
    let hash = ver3_hash(fields, &np.merchant.store_key);
    fields.push(("hash".into(), hash));
}

fn verified(np: &Np, fields: &Fields) -> bool {
    verify_ver3(fields, &np.merchant.store_key, get(fields, "HASH"))
}

/// Gate, bank page, code: the callback.
async fn through_page(np: &Np, fields: &Fields, code: &str) -> (String, Fields) {
    let page = np.gate("/fim/est3Dgate", fields).await;
    assert!(page.contains("id=\"amount\""), "{page}");
    np.submit_page(&page, "submit", &[("code", code)]).await
}

/// The merchant's 3D Auth after a `3d` callback.
async fn auth_3d(np: &Np, callback: &Fields, total: &str) -> Answer {
    np.api(&[
        ("Type", "Auth"),
        ("IPAddress", "127.0.0.1"),
        ("OrderId", get(callback, "oid")),
        ("Total", total),
        ("Currency", "949"),
        ("Taksit", ""),
        ("Number", get(callback, "md")),
        ("PayerTxnId", get(callback, "xid")),
        ("PayerSecurityLevel", get(callback, "eci")),
        ("PayerAuthenticationCode", get(callback, "cavv")),
        ("Mode", "P"),
    ])
    .await
}

#[tokio::test]
async fn the_gate_accepts_the_vector_forms_and_refuses_tampered_ones() {
    let np = np_start().await;
    let v = vectors();
    let vector_merchant = NestpayMerchant {
        client_id: "190100000".into(),
        api_user: "API".into(),
        api_password: "p".into(),
        store_key: v["store_key"].as_str().unwrap().into(),
        allowed_ips: None,
        installments: vec![2, 3, 6, 9, 12],
    };
    np.handle.add_merchant(vector_merchant).unwrap();
    for vector in v["vectors"].as_array().unwrap() {
        let mut fields: Fields = vector["fields"]
            .as_object()
            .unwrap()
            .iter()
            .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_owned()))
            .collect();
        fields.push(("hash".into(), vector["hash"].as_str().unwrap().into()));
        let html = np.gate("/fim/est3Dgate", &fields).await;
        if get(&fields, "storetype") == "3d_host" {
            assert!(html.contains("<form id=\"acs\""), "bank page: {html}");
            assert!(html.contains("name=\"pan\""));
        } else {
            // The hash passed; the form simply has no card: HPP-1001 posted back.
            let (action, back) = crate::parse_auto_post(&html);
            assert_eq!(action, "https://domain.com/fail_url");
            assert_eq!(get(&back, "ErrorCode"), "HPP-1001");
            assert!(!back.iter().any(|(k, _)| k == "mdStatus"));
        }
        set(&mut fields, "amount", "100.26");
        let (action, back) = crate::parse_auto_post(&np.gate("/fim/est3dgate", &fields).await);
        assert_eq!(action, "https://domain.com/fail_url");
        assert_eq!(get(&back, "Response"), "Error");
        assert_eq!(get(&back, "ErrMsg"), "Guvenlik Kodu hatali.");
        assert!(!back.iter().any(|(k, _)| k == "mdStatus" || k == "md"));
    }
    // Unknown store: an error page, nothing posted.
    let mut fields = form(&np, "3d", "x", ZIRAAT_CARD, "1.00");
    set(&mut fields, "clientid", "1");
    let html = np.gate("/fim/est3Dgate", &fields).await;
    assert!(html.contains("Üye işyeri bulunamadı") && !html.contains("<form"));
    assert!(np.transactions().await.is_empty());
}

#[tokio::test]
async fn model_3d_right_code_then_the_merchants_auth() {
    let np = np_start().await;
    let oid = unique_ref("3d");
    let (action, cb) =
        through_page(&np, &form(&np, "3d", &oid, ZIRAAT_CARD, "12.50"), "123456").await;
    assert_eq!(action, OK_URL);
    assert!(verified(&np, &cb));
    assert_eq!(get(&cb, "mdStatus"), "1");
    assert_eq!(get(&cb, "eci"), "05");
    assert!(!get(&cb, "cavv").is_empty() && !get(&cb, "xid").is_empty());
    assert!(get(&cb, "md").ends_with(&format!(":##{}", np.merchant.client_id)));
    assert_eq!(get(&cb, "maskedCreditCard"), "4546 71** **** 7894");
    assert_eq!(get(&cb, "oid"), oid);
    assert_eq!(get(&cb, "firmaadi"), "Şirket Ltd");
    assert_eq!(get(&cb, "txstatus"), "Y");
    assert!(!cb
        .iter()
        .any(|(k, v)| k == "pan" || k == "cv2" || v.contains(ZIRAAT_CARD)));
    assert!(!cb
        .iter()
        .any(|(k, _)| k == "AuthCode" || k == "ProcReturnCode"));
    // Authentication alone charges nothing.
    assert!(np.transactions().await.is_empty());

    let mut wrong = cb.clone();
    set(&mut wrong, "cavv", "AAAAAAAAAAAAAAAAAAAAAAAAAAA=");
    assert_eq!(
        auth_3d(&np, &wrong, "12.50").await.s("Extra/ERRORCODE"),
        "CORE-2121"
    );
    assert_eq!(
        auth_3d(&np, &cb, "12.51").await.s("Extra/ERRORCODE"),
        "CORE-2121"
    );
    let approved = auth_3d(&np, &cb, "12.50").await;
    assert_eq!(approved.s("Response"), "Approved");
    assert_eq!(approved.s("OrderId"), oid);
    let again = auth_3d(&np, &cb, "12.50").await;
    assert_eq!(again.s("Extra/ERRORCODE"), "CORE-2127");
    let status = np.status(&oid).await;
    assert_eq!(status.s("Extra/MDSTATUS"), "1");
    assert_eq!(status.s("Extra/XID_3D"), get(&cb, "xid"));
    assert_eq!(status.s("Extra/CAVV_3D"), get(&cb, "cavv"));

    // The order id is used now: a new 3D start for it is refused at once.
    let html = np
        .gate(
            "/fim/est3Dgate",
            &form(&np, "3d", &oid, ZIRAAT_CARD, "1.00"),
        )
        .await;
    let (action, back) = crate::parse_auto_post(&html);
    assert_eq!(action, FAIL_URL);
    assert_eq!(get(&back, "ErrorCode"), "CORE-2507");
    assert!(verified(&np, &back));
}

#[tokio::test]
async fn model_3d_wrong_code_and_cancel_fail() {
    let np = np_start().await;
    let oid = unique_ref("3d");
    let (action, cb) =
        through_page(&np, &form(&np, "3d", &oid, ZIRAAT_CARD, "5.00"), "000000").await;
    assert_eq!(action, FAIL_URL);
    assert!(verified(&np, &cb));
    assert_eq!(get(&cb, "mdStatus"), "0");
    assert_eq!(get(&cb, "eci"), "");
    assert_eq!(get(&cb, "cavv"), "");
    assert_eq!(
        auth_3d(&np, &cb, "5.00").await.s("Extra/ERRORCODE"),
        "CORE-2121"
    );

    let page = np
        .gate(
            "/fim/est3Dgate",
            &form(&np, "3d_pay", &unique_ref("3d"), ZIRAAT_CARD, "5.00"),
        )
        .await;
    let (action, cb) = np.submit_page(&page, "cancel", &[("code", "123456")]).await;
    assert_eq!(action, FAIL_URL);
    assert_eq!(get(&cb, "mdStatus"), "0");
    // The page's token is single-use.
    let response = np
        .client
        .post(np.url(&format!("/fim/acs/{}", "nope")))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 404);
    assert!(np.transactions().await.is_empty());
}

#[tokio::test]
async fn paying_models_charge_on_the_bank_page() {
    let np = np_start().await;
    for store_type in ["3d_pay", "3d_pay_hosting"] {
        let oid = unique_ref("pay");
        let (action, cb) = through_page(
            &np,
            &form(&np, store_type, &oid, ZIRAAT_CARD, "20.00"),
            "123456",
        )
        .await;
        assert_eq!(action, OK_URL, "{store_type}");
        assert!(verified(&np, &cb));
        assert_eq!(get(&cb, "mdStatus"), "1");
        assert_eq!(get(&cb, "ProcReturnCode"), "00");
        assert_eq!(get(&cb, "Response"), "Approved");
        assert!(get(&cb, "AuthCode").starts_with('P'));
        assert_eq!(get(&cb, "TransId").len(), 14);
        assert_eq!(get(&cb, "EXTRA_CARDBRAND"), "VISA");
        assert_eq!(get(&cb, "EXTRA_NUMCODE"), "00");
        assert!(!get(&cb, "EXTRA_TRXDATE").is_empty());
        let status = np.status(&oid).await;
        assert_eq!(status.s("Extra/AUTH_CODE"), get(&cb, "AuthCode"));
        assert_eq!(status.s("Extra/MDSTATUS"), "1");

        // Wrong code: no charge; a decline card: charged no, declined.
        let (action, cb) = through_page(
            &np,
            &form(&np, store_type, &unique_ref("pay"), ZIRAAT_CARD, "20.00"),
            "111111",
        )
        .await;
        assert_eq!(action, FAIL_URL);
        assert!(!cb.iter().any(|(k, _)| k == "ProcReturnCode"));
        let (action, cb) = through_page(
            &np,
            &form(
                &np,
                store_type,
                &unique_ref("pay"),
                "4000000000000515",
                "20.00",
            ),
            "123456",
        )
        .await;
        assert_eq!(action, FAIL_URL);
        assert!(verified(&np, &cb));
        assert_eq!(get(&cb, "ProcReturnCode"), "51");
        assert_eq!(get(&cb, "Response"), "Declined");
        assert_eq!(get(&cb, "ErrMsg"), "Yetersiz bakiye");
    }
    let rows = np.transactions().await;
    assert_eq!(rows.len(), 4);
    assert_eq!(rows.iter().filter(|r| r["status"] == "Approved").count(), 2);
}

#[tokio::test]
async fn model_3d_host_takes_the_card_on_the_bank_page() {
    let np = np_start().await;
    let oid = unique_ref("host");
    let page = np
        .gate("/fim/est3Dgate", &form(&np, "3d_host", &oid, "", "30.00"))
        .await;
    assert!(page.contains("name=\"pan\"") && page.contains("30,00 TL"));
    let card = [
        ("pan", ZIRAAT_CARD),
        ("Ecom_Payment_Card_ExpDate_Month", "12"),
        ("Ecom_Payment_Card_ExpDate_Year", "30"),
        ("cv2", "000"),
        ("code", "123456"),
    ];
    let (action, cb) = np.submit_page(&page, "submit", &card).await;
    assert_eq!(action, OK_URL);
    assert!(verified(&np, &cb));
    for field in ["md", "xid", "eci", "cavv"] {
        assert!(!get(&cb, field).is_empty(), "{field}");
    }
    assert!(!cb
        .iter()
        .any(|(k, _)| k == "AuthCode" || k == "ProcReturnCode"));
    // It paid: the status query says so.
    let status = np.status(&oid).await;
    assert_eq!(status.s("Response"), "Approved");
    assert_eq!(status.s("Extra/TRANS_STAT"), "C");
    assert_eq!(status.s("Extra/ORIG_TRANS_AMT"), "3000");

    // A bad number on the page: HPP-1001 to failUrl.
    let page = np
        .gate(
            "/fim/est3Dgate",
            &form(&np, "3d_host", &unique_ref("host"), "", "30.00"),
        )
        .await;
    let mut bad = card;
    bad[0].1 = "4546711234567895";
    let (action, cb) = np.submit_page(&page, "submit", &bad).await;
    assert_eq!(action, FAIL_URL);
    assert_eq!(get(&cb, "ErrorCode"), "HPP-1001");
    assert!(verified(&np, &cb));
}

#[tokio::test]
async fn md_status_cards_end_with_their_md_status() {
    let np = np_start().await;
    for (card, md_status) in MD_STATUS_CARDS {
        let oid = unique_ref("md");
        let (action, cb) = through_page(&np, &form(&np, "3d", &oid, card, "9.00"), "123456").await;
        assert_eq!(action, FAIL_URL, "{card}");
        assert!(verified(&np, &cb));
        assert_eq!(get(&cb, "mdStatus"), *md_status);
        let half_secure = matches!(*md_status, "2" | "3" | "4");
        assert_eq!(get(&cb, "eci") == "06", half_secure, "{card}");
        assert_eq!(!get(&cb, "cavv").is_empty(), half_secure);
        let auth = auth_3d(&np, &cb, "9.00").await;
        if half_secure {
            // The bank lets a half-secure authentication pay; refusing it is the client's call.
            assert_eq!(auth.s("Response"), "Approved");
        } else {
            assert_eq!(auth.s("Extra/ERRORCODE"), "CORE-2121");
        }
    }
    // A paying model does not charge a failed or half-secure authentication.
    let (_, cb) = through_page(
        &np,
        &form(
            &np,
            "3d_pay",
            &unique_ref("md"),
            MD_STATUS_CARDS[1].0,
            "9.00",
        ),
        "123456",
    )
    .await;
    assert!(!cb.iter().any(|(k, _)| k == "ProcReturnCode"));
}

#[tokio::test]
async fn the_bank_page_speaks_english_on_request() {
    let np = np_start().await;
    let mut fields = form(&np, "3d", &unique_ref("en"), ZIRAAT_CARD, "1.00");
    set(&mut fields, "lang", "en");
    sign(&np, &mut fields);
    let page = np.gate("/fim/est3Dgate", &fields).await;
    assert!(page.contains("Enter the verification code") && page.contains("1,00 TL"));
    assert!(page.contains("454671******7894") && !page.contains(ZIRAAT_CARD));
    // Installments without a plan: the 3D Auth is refused with CORE-2603.
    let mut fields = form(&np, "3d", &unique_ref("tk"), ZIRAAT_CARD, "1.00");
    set(&mut fields, "taksit", "4");
    sign(&np, &mut fields);
    let (_, cb) = through_page(&np, &fields, "123456").await;
    let answer = np
        .api(&[
            ("Type", "Auth"),
            ("OrderId", get(&cb, "oid")),
            ("Total", "1.00"),
            ("Currency", "949"),
            ("Taksit", "4"),
            ("Number", get(&cb, "md")),
            ("PayerTxnId", get(&cb, "xid")),
            ("PayerSecurityLevel", get(&cb, "eci")),
            ("PayerAuthenticationCode", get(&cb, "cavv")),
            ("Mode", "P"),
        ])
        .await;
    assert_eq!(answer.s("Extra/ERRORCODE"), "CORE-2603");
    assert_eq!(answer.s("ErrMsg"), "Taksit tablosu icin gecersiz deger");
}
