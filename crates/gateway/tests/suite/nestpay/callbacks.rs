//! Judging 3D callbacks: what is decided without a call, what is sent, and that a
//! forged or foreign callback sends nothing.

use sanalpos_gateway::nestpay::signing::hash_ver3;
use sanalpos_gateway::nestpay::{NestpayGateway, ThreeDModel};
use sanalpos_gateway::{Gateway, Outcome, Postback, ReturnUrls, ThreeDStart, UnknownReason};
use sanalpos_testkit::parse_form;

use super::helpers::*;

const ORDER: &str = "20230910AF6A";

fn urls() -> ReturnUrls {
    ReturnUrls {
        success: "https://shop.example/3d/tok/return".into(),
        fail: "https://shop.example/3d/tok/return".into(),
    }
}

/// The form our `start_3d` gives the browser.
async fn start(gateway: &NestpayGateway, order: &str, amount: &str) -> Vec<(String, String)> {
    let ThreeDStart::Redirect { html, latency, .. } =
        gateway.start_3d(&sale(order, amount), &urls()).await
    else {
        panic!("a NestPay 3D start is always a redirect")
    };
    assert!(latency.as_millis() < 500, "no server call");
    parse_form(&html).fields
}

/// What the bank posts back for a form: the form's fields without the card and the
/// request hash, the authentication result, and the bank's HASH over all of it.
fn bank_callback(
    form: &[(String, String)],
    md_status: Option<&str>,
    extra: &[(&str, &str)],
) -> Vec<(String, String)> {
    let mut fields: Vec<(String, String)> = form
        .iter()
        .filter(|(k, _)| !matches!(k.as_str(), "pan" | "cv2" | "hash"))
        .cloned()
        .collect();
    if let Some(md) = md_status {
        fields.push(("mdStatus".into(), md.into()));
    }
    for (k, v) in [
        ("md", "454671:9A1B2C3D:4122:##700655000200"),
        ("xid", "FKqfXqwd0VA5RILtjmwaW17t/jk="),
        ("eci", "05"),
        ("cavv", "AAABAiBhJgAAAAAAAAAAAAAAAAA="),
        ("maskedCreditCard", "4546 71** **** 7894"),
        ("mdErrorMsg", "Authenticated"),
    ] {
        fields.push((k.into(), v.into()));
    }
    for (k, v) in extra {
        fields.push(((*k).into(), (*v).into()));
    }
    let hash = hash_ver3(&fields, STORE_KEY);
    fields.push(("HASH".into(), hash));
    fields
}

fn set(fields: &mut [(String, String)], name: &str, value: &str) {
    for (k, v) in fields.iter_mut() {
        if k == name {
            *v = value.to_owned();
        }
    }
}

#[tokio::test]
async fn a_failed_authentication_is_declined_without_a_call() {
    let bank = FakeBank::start(vec![]).await;
    let gateway = bank.gateway(ThreeDModel::ThreeD);
    let form = start(&gateway, ORDER, "1.01").await;
    for md in ["0", "5", "6", "7", "8", "9"] {
        // Signed or not: a failed callback may lack a valid hash.
        let signed = bank_callback(&form, Some(md), &[]);
        let mut unsigned = signed.clone();
        unsigned.retain(|(k, _)| k != "HASH");
        for callback in [signed, unsigned] {
            let r = gateway
                .finish_3d(&Postback::from_pairs(callback), &expected(ORDER, "1.01"))
                .await;
            assert!(
                matches!(r.outcome, Outcome::Declined(_)),
                "{md}: {:?}",
                r.outcome
            );
        }
    }
    // Refused before 3D: no mdStatus, an ErrorCode.
    let hpp = bank_callback(
        &form,
        None,
        &[("ErrorCode", "HPP-1001"), ("Response", "Error")],
    );
    let r = gateway
        .finish_3d(&Postback::from_pairs(hpp), &expected(ORDER, "1.01"))
        .await;
    let Outcome::Declined(d) = r.outcome else {
        panic!("{:?}", r.outcome)
    };
    assert!(d.message.en.contains("card number"));
    assert_eq!(
        bank.calls(),
        0,
        "nothing is sent for a failed authentication"
    );
}

#[tokio::test]
async fn the_recorded_failed_callbacks_are_declined_without_a_call() {
    let bank = FakeBank::start(vec![]).await;
    let v = vectors();
    for vector in v["legacy_ver1"]["vectors"].as_array().unwrap() {
        if vector.get("hashparams").is_none() {
            continue;
        }
        let fields = pairs(&vector["fields"]);
        let get = |n: &str| fields.iter().find(|(k, _)| k == n).unwrap().1.clone();
        let model = if get("storetype") == "3d_pay" {
            ThreeDModel::ThreeDPay
        } else {
            ThreeDModel::ThreeD
        };
        let gateway = bank.gateway_with(|c| {
            c.three_d_model = model;
            c.credentials.store_key =
                sanalpos_core::Secret::new(vector["store_key"].as_str().unwrap());
        });
        let r = gateway
            .finish_3d(
                &Postback::from_pairs(fields.clone()),
                &expected(&get("oid"), &get("amount")),
            )
            .await;
        match model {
            // mdStatus 0 in the 3d model: declined whatever the (legacy) hash.
            ThreeDModel::ThreeD => {
                assert!(matches!(r.outcome, Outcome::Declined(_)), "{:?}", r.outcome)
            }
            // A paying model needs a verified (ver3) hash: without one, unknown.
            _ => assert_eq!(r.outcome, Outcome::Unknown(UnknownReason::SignatureInvalid)),
        }
        let raw = r.raw.unwrap();
        assert!(raw.contains("\"mdStatus\":\"0\""));
    }
    assert_eq!(bank.calls(), 0);
}

#[tokio::test]
async fn a_forged_or_tampered_callback_sends_nothing() {
    let bank = FakeBank::start(vec![]).await;
    let gateway = bank.gateway(ThreeDModel::ThreeD);
    let form = start(&gateway, ORDER, "1.01").await;
    let good = bank_callback(&form, Some("1"), &[]);

    let mut forged = good.clone();
    set(
        &mut forged,
        "HASH",
        "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA==",
    );
    let mut tampered = good.clone();
    set(&mut tampered, "md", "999999:FORGED:1:##700655000200");
    let mut unsigned = good.clone();
    unsigned.retain(|(k, _)| k != "HASH");
    let mut wrong_key = form.clone();
    wrong_key.retain(|(k, _)| k != "hash");
    wrong_key.push(("mdStatus".into(), "1".into()));
    let h = hash_ver3(&wrong_key, "not-the-store-key");
    wrong_key.push(("HASH".into(), h));
    for callback in [forged, tampered, unsigned, wrong_key] {
        let r = gateway
            .finish_3d(&Postback::from_pairs(callback), &expected(ORDER, "1.01"))
            .await;
        assert_eq!(r.outcome, Outcome::Unknown(UnknownReason::SignatureInvalid));
    }
    // Signed, but for another amount than ours.
    let r = gateway
        .finish_3d(&Postback::from_pairs(good), &expected(ORDER, "1.02"))
        .await;
    assert!(matches!(
        r.outcome,
        Outcome::Unknown(UnknownReason::Inconsistent(_))
    ));
    assert_eq!(bank.calls(), 0);
}

#[tokio::test]
async fn another_orders_callback_changes_nothing() {
    let bank = FakeBank::start(vec![]).await;
    let gateway = bank.gateway(ThreeDModel::ThreeD);
    let other_form = start(&gateway, "other-order", "1.01").await;
    let theirs = bank_callback(&other_form, Some("1"), &[]);
    let r = gateway
        .finish_3d(&Postback::from_pairs(theirs), &expected(ORDER, "1.01"))
        .await;
    let Outcome::Unknown(UnknownReason::Inconsistent(why)) = r.outcome else {
        panic!("{:?}", r.outcome)
    };
    assert!(why.contains("another order"));
    assert_eq!(bank.calls(), 0);
}

#[tokio::test]
async fn half_secure_is_refused_unless_the_pos_allows_it() {
    let bank = FakeBank::start(vec![Reply::Body(answer_bytes(0))]).await;
    let strict = bank.gateway(ThreeDModel::ThreeD);
    let form = start(&strict, ORDER, "1.01").await;
    for md in ["2", "3", "4"] {
        let r = strict
            .finish_3d(
                &Postback::from_pairs(bank_callback(&form, Some(md), &[])),
                &expected(ORDER, "1.01"),
            )
            .await;
        let Outcome::Declined(d) = r.outcome else {
            panic!("{md}: {:?}", r.outcome)
        };
        assert!(d.message.en.contains("half secure"));
    }
    assert_eq!(bank.calls(), 0);
    let lenient = bank.gateway_with(|c| c.allow_half_secure = true);
    let r = lenient
        .finish_3d(
            &Postback::from_pairs(bank_callback(&form, Some("2"), &[])),
            &expected(ORDER, "1.01"),
        )
        .await;
    assert!(matches!(r.outcome, Outcome::Approved(_)), "{:?}", r.outcome);
    assert_eq!(bank.calls(), 1);
}

#[tokio::test]
async fn a_good_3d_callback_sends_the_3d_auth() {
    let bank = FakeBank::start(vec![
        Reply::Body(answer_bytes(0)),
        Reply::Body(answer_bytes(2)),
    ])
    .await;
    let gateway = bank.gateway(ThreeDModel::ThreeD);
    let form = start(&gateway, ORDER, "1.01").await;
    let get = |n: &str| form.iter().find(|(k, _)| k == n).map(|(_, v)| v.clone());
    assert_eq!(get("storetype").as_deref(), Some("3d"));
    assert_eq!(get("pan").as_deref(), Some(CARD));
    assert_eq!(
        get("Ecom_Payment_Card_ExpDate_Month").as_deref(),
        Some("12")
    );
    assert_eq!(get("Ecom_Payment_Card_ExpDate_Year").as_deref(), Some("30"));
    let callback = bank_callback(&form, Some("1"), &[]);
    let r = gateway
        .finish_3d(
            &Postback::from_pairs(callback.clone()),
            &expected(ORDER, "1.01"),
        )
        .await;
    let Outcome::Approved(a) = r.outcome else {
        panic!("{:?}", r.outcome)
    };
    assert_eq!(a.auth_code.unwrap().as_str(), "P18552");
    assert_eq!(a.provider_ref.as_str(), "23253WkfD10806");
    // The raw answer is the text as it came, character reference included.
    assert!(r.raw.unwrap().contains("Z&#x130;RAAT BANKASI"));

    let sent = &bank.received()[0];
    assert_eq!(sent.content_type, "text/xml; charset=ISO-8859-9");
    let doc = sent.document();
    assert_eq!(doc.get("Name"), Some(API_USER));
    assert_eq!(doc.get("ClientId"), Some(CLIENT_ID));
    assert_eq!(doc.get("Type"), Some("Auth"));
    assert_eq!(doc.get("OrderId"), Some(ORDER));
    assert_eq!(doc.get("Total"), Some("1.01"));
    assert_eq!(doc.get("Currency"), Some("949"));
    assert_eq!(doc.get("Taksit"), Some(""));
    assert_eq!(doc.get("Mode"), Some("P"));
    assert_eq!(doc.get("IPAddress"), Some("89.244.149.137"));
    assert_eq!(
        doc.get("Number"),
        Some("454671:9A1B2C3D:4122:##700655000200")
    );
    assert_eq!(doc.get("PayerTxnId"), Some("FKqfXqwd0VA5RILtjmwaW17t/jk="));
    assert_eq!(doc.get("PayerSecurityLevel"), Some("05"));
    assert_eq!(
        doc.get("PayerAuthenticationCode"),
        Some("AAABAiBhJgAAAAAAAAAAAAAAAAA=")
    );
    assert_eq!(doc.get("Expires"), None);
    assert_eq!(doc.get("Cvv2Val"), None);

    // The same flow whose charge the issuer refuses.
    let r = gateway
        .finish_3d(&Postback::from_pairs(callback), &expected(ORDER, "1.01"))
        .await;
    let Outcome::Declined(d) = r.outcome else {
        panic!("{:?}", r.outcome)
    };
    assert_eq!(d.bank_code.unwrap().as_str(), "82");
}

#[tokio::test]
async fn three_d_pay_is_decided_by_the_verified_callback() {
    let bank = FakeBank::start(vec![]).await;
    let gateway = bank.gateway(ThreeDModel::ThreeDPay);
    let form = start(&gateway, ORDER, "1.01").await;
    let paid = [
        ("ProcReturnCode", "00"),
        ("Response", "Approved"),
        ("AuthCode", "P18552"),
        ("TransId", "23253WkfD10806"),
        ("HostRefNum", "325300733333"),
        ("EXTRA_CARDBRAND", "VISA"),
    ];
    let r = gateway
        .finish_3d(
            &Postback::from_pairs(bank_callback(&form, Some("1"), &paid)),
            &expected(ORDER, "1.01"),
        )
        .await;
    let Outcome::Approved(a) = r.outcome else {
        panic!("{:?}", r.outcome)
    };
    assert_eq!(a.auth_code.unwrap().as_str(), "P18552");
    let refused = [
        ("ProcReturnCode", "51"),
        ("Response", "Declined"),
        ("ErrMsg", "Yetersiz bakiye"),
        ("EXTRA_ERRORCODE", "ISO8583-51"),
    ];
    let r = gateway
        .finish_3d(
            &Postback::from_pairs(bank_callback(&form, Some("1"), &refused)),
            &expected(ORDER, "1.01"),
        )
        .await;
    let Outcome::Declined(d) = r.outcome else {
        panic!("{:?}", r.outcome)
    };
    assert_eq!(d.bank_code.unwrap().as_str(), "51");
    let mut forged = bank_callback(&form, Some("1"), &paid);
    set(&mut forged, "AuthCode", "P00001");
    let r = gateway
        .finish_3d(&Postback::from_pairs(forged), &expected(ORDER, "1.01"))
        .await;
    assert_eq!(r.outcome, Outcome::Unknown(UnknownReason::SignatureInvalid));
    assert_eq!(bank.calls(), 0, "the bank charged already: nothing to send");
}

#[tokio::test]
async fn three_d_host_asks_the_order_status() {
    // Recorded ORDERSTATUS of order 20221030FAC5: a 1.01 sale, authorised.
    let order = "20221030FAC5";
    let bank = FakeBank::start(vec![Reply::Body(answer_bytes(11))]).await;
    let gateway = bank.gateway(ThreeDModel::ThreeDHost);
    let form = start(&gateway, order, "1.01").await;
    assert!(
        !form.iter().any(|(k, _)| k == "pan" || k == "cv2"),
        "card typed at the bank"
    );
    let r = gateway
        .finish_3d(
            &Postback::from_pairs(bank_callback(&form, Some("1"), &[])),
            &expected(order, "1.01"),
        )
        .await;
    let Outcome::Approved(a) = r.outcome else {
        panic!("{:?}", r.outcome)
    };
    assert_eq!(a.auth_code.unwrap().as_str(), "P90325");
    let doc = bank.received()[0].document();
    assert_eq!(doc.get("OrderId"), Some(order));
    assert_eq!(doc.extra("ORDERSTATUS"), Some("QUERY"));
    assert_eq!(doc.get("Type"), None);
}
