//! Each call against a fake bank that answers with the recorded answers: what is sent,
//! and what comes back.

use chrono::NaiveDate;

use sanalpos_core::{ClientRef, Currency, ProviderRef};
use sanalpos_gateway::garanti::ThreeDModel;
use sanalpos_gateway::protocol::{Environment, Timeouts};
use sanalpos_gateway::{
    protocol, CancelRequest, DeclineKind, FailureKind, Gateway, Inquiry, InquiryRequest, Outcome,
    Postback, RefundRequest, ReturnUrls, Settings, ThreeDStart, UnknownReason,
};

use super::helpers::*;

fn cancel_of(order: &str) -> CancelRequest {
    CancelRequest {
        provider_ref: ProviderRef::parse("230508300968").unwrap(),
        client_ref: ClientRef::parse(order).unwrap(),
        sale_date: NaiveDate::from_ymd_opt(2022, 11, 1).unwrap(),
        amount: kurus("1.01"),
        currency: Currency::Try,
    }
}

fn refund_of(order: &str, amount: &str, refundable: &str) -> RefundRequest {
    RefundRequest {
        provider_ref: ProviderRef::parse("230508300918").unwrap(),
        client_ref: ClientRef::parse(order).unwrap(),
        sale_date: NaiveDate::from_ymd_opt(2022, 11, 1).unwrap(),
        amount: kurus(amount),
        refundable: kurus(refundable),
        currency: Currency::Try,
    }
}

#[tokio::test]
async fn a_sale_sends_kurus_and_the_card_and_keeps_the_card_out_of_the_log() {
    let bank = FakeBank::start(vec![Reply::Body(answer_bytes(0))]).await;
    let r = bank
        .gateway(ThreeDModel::ThreeD)
        .sale(&sale("20221101D723", "1.01"))
        .await;
    let Outcome::Approved(a) = &r.outcome else {
        panic!("{:?}", r.outcome)
    };
    assert_eq!(a.provider_ref.as_str(), "230508300434");
    let sent = &bank.received()[0];
    assert_eq!(sent.get("Version"), Some("512"));
    assert_eq!(sent.get("Mode"), Some("TEST"));
    assert_eq!(sent.get("Terminal/ProvUserID"), Some("PROVAUT"));
    assert_eq!(sent.get("Transaction/Type"), Some("sales"));
    assert_eq!(sent.get("Transaction/Amount"), Some("101"));
    assert_eq!(sent.get("Transaction/InstallmentCnt"), Some(""));
    assert_eq!(sent.get("Transaction/CardholderPresentCode"), Some("0"));
    assert_eq!(sent.get("Card/Number"), Some(CARD));
    assert_eq!(sent.get("Card/ExpireDate"), Some("1230"));
    assert_eq!(sent.get("Terminal/HashData").unwrap().len(), 128);
    assert!(!r.raw.unwrap().contains(CARD));
}

#[tokio::test]
async fn a_cancel_is_a_void_by_the_refund_user_with_the_fixed_amount() {
    let bank = FakeBank::start(vec![Reply::Body(answer_bytes(7))]).await;
    let r = bank
        .gateway(ThreeDModel::ThreeD)
        .cancel(&cancel_of("20221101C9B8"))
        .await;
    let Outcome::Declined(d) = &r.outcome else {
        panic!("{:?}", r.outcome)
    };
    assert_eq!(d.bank_code.as_ref().unwrap().as_str(), "05");
    let sent = &bank.received()[0];
    assert_eq!(sent.get("Transaction/Type"), Some("void"));
    assert_eq!(sent.get("Terminal/ProvUserID"), Some("PROVRFN"));
    assert_eq!(sent.get("Terminal/UserID"), Some("PROVRFN"));
    assert_eq!(sent.get("Transaction/Amount"), Some("100"));
    assert_eq!(
        sent.get("Transaction/OriginalRetrefNum"),
        Some("230508300968")
    );
    assert!(sent.get("Card").is_none());
}

#[tokio::test]
async fn a_partial_refund_sends_its_amount_and_reads_the_banks_refusal() {
    let bank = FakeBank::start(vec![Reply::Body(answer_bytes(8))]).await;
    let gateway = bank.gateway(ThreeDModel::ThreeD);
    let r = gateway
        .refund(&refund_of("20221101EB13", "0.40", "1.01"))
        .await;
    let Outcome::Declined(d) = &r.outcome else {
        panic!("{:?}", r.outcome)
    };
    assert_eq!(d.kind, DeclineKind::DayNotClosed);
    let sent = &bank.received()[0];
    assert_eq!(sent.get("Transaction/Type"), Some("refund"));
    assert_eq!(sent.get("Terminal/ProvUserID"), Some("PROVRFN"));
    assert_eq!(sent.get("Transaction/Amount"), Some("40"));
    // More than is refundable is refused here, nothing sent.
    let r = gateway
        .refund(&refund_of("20221101EB13", "2", "1.01"))
        .await;
    assert!(matches!(
        r.outcome,
        Outcome::Failed(ref f) if f.kind == FailureKind::Invalid
    ));
    assert_eq!(bank.received().len(), 1);
}

#[tokio::test]
async fn the_janitors_inquiry_reads_status_then_history() {
    let bank = FakeBank::start(vec![
        Reply::Body(answer_bytes(4)),
        Reply::Body(answer_with(9, &[("Order/OrderID", "20221101EB13")])),
        Reply::Body(answer_bytes(6)),
        Reply::Body(answer_bytes(4)),
    ])
    .await;
    let gateway = bank.gateway(ThreeDModel::ThreeD);
    let ask = |order: &str| InquiryRequest {
        client_ref: ClientRef::parse(order).unwrap(),
        date: NaiveDate::from_ymd_opt(2023, 1, 7).unwrap(),
        amount: kurus("1.01"),
    };
    let Inquiry::Approved {
        approval,
        reversed,
        cancelled,
        ..
    } = gateway.inquiry(&ask("20221101EB13")).await.unwrap()
    else {
        panic!()
    };
    assert_eq!(approval.provider_ref.as_str(), "300708704369");
    assert!(!cancelled && reversed.minor() == 0);
    let sent = bank.received();
    assert_eq!(sent[0].get("Transaction/Type"), Some("orderinq"));
    assert_eq!(sent[0].get("Transaction/Amount"), Some("100"));
    assert_eq!(sent[1].get("Transaction/Type"), Some("orderhistoryinq"));
    assert!(matches!(
        gateway.inquiry(&ask("20221101295D")).await.unwrap(),
        Inquiry::NotFound
    ));
    // An answer about another order is not believed.
    assert!(gateway.inquiry(&ask("20221101XXXX")).await.is_err());
}

#[tokio::test]
async fn broken_exchanges_are_unknown() {
    let bank = FakeBank::start(vec![
        Reply::Status(500),
        Reply::Body(b"<GVPSResponse><Transaction>".to_vec()),
        Reply::Status(400),
    ])
    .await;
    let gateway = bank.gateway(ThreeDModel::ThreeD);
    let r = gateway.sale(&sale("o1", "1")).await;
    assert_eq!(r.outcome, Outcome::Unknown(UnknownReason::ServerError(500)));
    let r = gateway.sale(&sale("o2", "1")).await;
    assert_eq!(r.outcome, Outcome::Unknown(UnknownReason::Unparseable));
    let r = gateway.sale(&sale("o3", "1")).await;
    assert!(matches!(r.outcome, Outcome::Failed(_)));
}

#[tokio::test]
async fn three_d_posts_the_signed_form_then_provisions_with_the_callbacks_values() {
    let bank = FakeBank::start(vec![Reply::Body(answer_bytes(3))]).await;
    let gateway = bank.gateway(ThreeDModel::ThreeD);
    let urls = ReturnUrls {
        success: "http://localhost/garanti/3d/response.php".into(),
        fail: "http://localhost/garanti/3d/response.php".into(),
    };
    let ThreeDStart::Redirect {
        html, holds_card, ..
    } = gateway.start_3d(&sale("20231223D98E", "1.01"), &urls).await
    else {
        panic!()
    };
    assert!(holds_card);
    // The form's hash is the one the bank echoed in the recorded callback.
    let echoed = text(&vectors()["form_hash"][1], "secure3dhash").to_owned();
    assert!(html.contains(&echoed), "{html}");
    assert!(html.contains("/servlet/gt3dengine"));

    let v = vectors();
    let fields = pairs(&v["callback_hash"][2]["fields"]);
    let r = gateway
        .finish_3d(
            &Postback::from_pairs(fields.clone()),
            &expected("20231223D98E", "1.01"),
        )
        .await;
    let Outcome::Declined(d) = &r.outcome else {
        panic!("{:?}", r.outcome)
    };
    assert_eq!(d.bank_code.as_ref().unwrap().as_str(), "12");
    let sent = &bank.received()[0];
    assert_eq!(sent.get("Transaction/CardholderPresentCode"), Some("13"));
    assert_eq!(
        sent.get("Transaction/Secure3D/Md"),
        Some(text(&v["callback_hash"][2]["fields"], "md"))
    );
    assert_eq!(
        sent.get("Transaction/Secure3D/AuthenticationCode"),
        Some("xgT+4XVHAAAAAAAAAAAAAAAAAAA=")
    );
    assert_eq!(sent.get("Transaction/Secure3D/SecurityLevel"), Some("02"));
    assert!(sent.get("Card").is_none());
    // A forged callback sends nothing.
    let mut forged = fields;
    for f in &mut forged {
        if f.0 == "hash" {
            f.1 = "0".repeat(128);
        }
    }
    let r = gateway
        .finish_3d(
            &Postback::from_pairs(forged),
            &expected("20231223D98E", "1.01"),
        )
        .await;
    assert_eq!(r.outcome, Outcome::Unknown(UnknownReason::SignatureInvalid));
    assert_eq!(bank.received().len(), 1);
}

#[tokio::test]
async fn the_registry_builds_a_garanti_pos_for_the_simulator() {
    let bank = FakeBank::start(vec![Reply::Body(answer_bytes(6))]).await;
    let garanti = protocol("garanti").unwrap();
    let settings = Settings::from_pairs([
        ("bank", "garanti"),
        ("api_url", bank.url().as_str()),
        ("gate_url", bank.url().as_str()),
        ("merchant_id", "7000679"),
        ("terminal_id", "30691298"),
        ("prov_password", "123qweASD/"),
        ("refund_password", "123qweASD/"),
        ("store_key", "12345678"),
    ]);
    sanalpos_gateway::protocol::validate(garanti, &settings, Environment::Simulator).unwrap();
    let gateway = garanti
        .build(&settings, Environment::Simulator, Timeouts::default())
        .unwrap();
    // The probe asks orderinq of an order that cannot exist: "not found" is a success.
    gateway.probe().await.unwrap();
}
