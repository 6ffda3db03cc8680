//! Each call against a fake bank that answers with the recorded answers: what is sent,
//! and what comes back.

use std::time::Duration;

use chrono::NaiveDate;
use serde_json::json;

use sanalpos_core::{ClientRef, Currency, ProviderRef};
use sanalpos_gateway::nestpay::xml::encode_latin5;
use sanalpos_gateway::nestpay::ThreeDModel;
use sanalpos_gateway::protocol::{Environment, Timeouts};
use sanalpos_gateway::{
    protocol, CancelRequest, CaptureRequest, DeclineKind, FailureKind, Gateway, GatewayError,
    Inquiry, InquiryRequest, Outcome, RefundRequest, ReleaseRequest, ReportQuery, Settings,
    ThreeDStart, UnknownReason,
};

use super::helpers::*;

fn cancel_of(order: &str) -> CancelRequest {
    CancelRequest {
        provider_ref: ProviderRef::parse("T1").unwrap(),
        client_ref: ClientRef::parse(order).unwrap(),
        sale_date: NaiveDate::from_ymd_opt(2024, 1, 2).unwrap(),
        amount: kurus("1.01"),
        currency: Currency::Try,
    }
}

fn refund_of(order: &str, amount: &str, refundable: &str) -> RefundRequest {
    RefundRequest {
        provider_ref: ProviderRef::parse("T1").unwrap(),
        client_ref: ClientRef::parse(order).unwrap(),
        sale_date: NaiveDate::from_ymd_opt(2024, 1, 2).unwrap(),
        amount: kurus(amount),
        refundable: kurus(refundable),
        currency: Currency::Try,
    }
}

fn inquiry_of(order: &str, amount: &str) -> InquiryRequest {
    InquiryRequest {
        client_ref: ClientRef::parse(order).unwrap(),
        date: NaiveDate::from_ymd_opt(2024, 1, 2).unwrap(),
        amount: kurus(amount),
    }
}

/// An answer document from decoded values.
fn bytes_of(decoded: serde_json::Value) -> Vec<u8> {
    encode_latin5(&render(&decoded))
}

#[tokio::test]
async fn a_sale_sends_the_card_in_latin5_and_keeps_it_out_of_the_log() {
    let bank = FakeBank::start(vec![Reply::Body(answer_bytes(1))]).await;
    let gateway = bank.gateway(ThreeDModel::ThreeD);
    let r = gateway.sale(&sale("202210293885", "1.01")).await;
    let Outcome::Approved(a) = &r.outcome else {
        panic!("{:?}", r.outcome)
    };
    assert_eq!(a.auth_code.as_ref().unwrap().as_str(), "P48911");
    assert_eq!(a.provider_ref.as_str(), "22302V8rE11732");
    assert_eq!(a.installments, Some(1));
    assert_eq!(r.http_status, Some(200));

    let sent = &bank.received()[0];
    assert_eq!(sent.content_type, "text/xml; charset=ISO-8859-9");
    assert!(sent
        .body
        .starts_with(b"<?xml version=\"1.0\" encoding=\"ISO-8859-9\"?>\n<CC5Request><Name>"));
    assert!(sent.body.ends_with(b"</CC5Request>\n"));
    // The holder's Ş, ğ, İ travel as single ISO-8859-9 bytes, and come back whole.
    assert!(sent.body.contains(&0xDE) && sent.body.contains(&0xF0) && sent.body.contains(&0xDD));
    assert!(std::str::from_utf8(&sent.body).is_err(), "not UTF-8");
    let doc = sent.document();
    for (name, value) in [
        ("Name", API_USER),
        ("Password", API_PASSWORD),
        ("ClientId", CLIENT_ID),
        ("Type", "Auth"),
        ("IPAddress", "89.244.149.137"),
        ("OrderId", "202210293885"),
        ("Total", "1.01"),
        ("Currency", "949"),
        ("Taksit", ""),
        ("Number", CARD),
        ("Expires", "12/30"),
        ("Cvv2Val", "000"),
        ("Mode", "P"),
    ] {
        assert_eq!(doc.get(name), Some(value), "{name}");
    }
    assert!(sent
        .text()
        .contains("<BillTo><Name>Şükrü Çağlar İnşaat</Name></BillTo>"));

    let raw = r.raw.unwrap();
    for secret in [CARD, API_PASSWORD, STORE_KEY] {
        assert!(!raw.contains(secret), "{secret} in the raw answer");
    }
    let shown = format!("{gateway:?}");
    assert!(!shown.contains(API_PASSWORD) && !shown.contains(STORE_KEY));
}

#[tokio::test]
async fn pre_auth_installments_and_capture() {
    let captured = bytes_of(json!({
        "OrderId": "o-pre", "GroupId": "o-pre", "Response": "Approved", "AuthCode": "T56045",
        "HostRefNum": "400100743899", "ProcReturnCode": "00", "TransId": "24001WceJ18840",
        "ErrMsg": "", "Extra": {"NUMCODE": "00"}
    }));
    let bank = FakeBank::start(vec![
        Reply::Body(answer_bytes(1)),
        Reply::Body(captured.clone()),
        Reply::Body(captured),
    ])
    .await;
    let gateway = bank.gateway(ThreeDModel::ThreeD);
    let mut pre = sale("o-pre", "2.05");
    pre.pre_auth = true;
    pre.installments = 3;
    let r = gateway.sale(&pre).await;
    assert!(matches!(r.outcome, Outcome::Approved(_)));
    let doc = bank.received()[0].document();
    assert_eq!(doc.get("Type"), Some("PreAuth"));
    assert_eq!(doc.get("Taksit"), Some("3"));

    let capture = |amount: &str| CaptureRequest {
        provider_ref: ProviderRef::parse("24001WceJ18839").unwrap(),
        client_ref: ClientRef::parse("o-pre").unwrap(),
        authorized: kurus("2.05"),
        amount: kurus(amount),
        currency: Currency::Try,
        pre_auth_date: NaiveDate::from_ymd_opt(2024, 1, 2).unwrap(),
    };
    let r = gateway.capture(&capture("2.05")).await;
    assert!(matches!(r.outcome, Outcome::Approved(_)), "{:?}", r.outcome);
    let doc = bank.received()[1].document();
    assert_eq!(doc.get("Type"), Some("PostAuth"));
    assert_eq!(doc.get("OrderId"), Some("o-pre"));
    assert_eq!(doc.get("Total"), Some("2.05"));
    assert!(!bank.received()[1].text().contains("PREAMT"));
    gateway.capture(&capture("2.50")).await;
    assert!(bank.received()[2]
        .text()
        .contains("<Extra><PREAMT>2.05</PREAMT></Extra>"));
}

#[tokio::test]
async fn cancel_is_a_void_by_order_id() {
    let bank = FakeBank::start(vec![
        Reply::Body(answer_bytes(8)),
        Reply::Body(answer_bytes(9)),
        Reply::Body(answer_bytes(10)),
    ])
    .await;
    let gateway = bank.gateway(ThreeDModel::ThreeD);
    let r = gateway.cancel(&cancel_of("20221030B3FF")).await;
    let Outcome::Approved(a) = r.outcome else {
        panic!("{:?}", r.outcome)
    };
    assert_eq!(a.provider_ref.as_str(), "22303MzZG10851");
    let doc = bank.received()[0].document();
    assert_eq!(doc.get("Type"), Some("Void"));
    assert_eq!(doc.get("OrderId"), Some("20221030B3FF"));
    let names: Vec<&str> = doc.fields().iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(names, ["Name", "Password", "ClientId", "Type", "OrderId"]);
    for _ in 0..2 {
        let r = gateway.cancel(&cancel_of("20221030B3FF")).await;
        let Outcome::Declined(d) = r.outcome else {
            panic!("{:?}", r.outcome)
        };
        assert_eq!(d.kind, DeclineKind::CancelWindowClosed);
    }
}

#[tokio::test]
async fn refund_is_a_credit_and_the_day_decides() {
    let bank = FakeBank::start(vec![
        Reply::Body(answer_bytes(5)),
        Reply::Body(answer_bytes(6)),
        Reply::Body(answer_bytes(7)),
    ])
    .await;
    let gateway = bank.gateway(ThreeDModel::ThreeD);
    // Refused here, nothing sent.
    for (amount, refundable) in [("0", "1.01"), ("1.02", "1.01")] {
        let r = gateway.refund(&refund_of("o1", amount, refundable)).await;
        assert!(
            matches!(&r.outcome, Outcome::Failed(f) if f.kind == FailureKind::Invalid),
            "{:?}",
            r.outcome
        );
    }
    assert_eq!(bank.calls(), 0);

    let r = gateway
        .refund(&refund_of("20221030B3FF", "0.50", "1.01"))
        .await;
    let Outcome::Declined(d) = r.outcome else {
        panic!("{:?}", r.outcome)
    };
    assert_eq!(d.kind, DeclineKind::DayNotClosed);
    let doc = bank.received()[0].document();
    assert_eq!(doc.get("Type"), Some("Credit"));
    assert_eq!(doc.get("OrderId"), Some("20221030B3FF"));
    assert_eq!(doc.get("Total"), Some("0.50"));
    assert_eq!(doc.get("Currency"), Some("949"));
    let names: Vec<&str> = doc.fields().iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(
        names,
        ["Name", "Password", "ClientId", "Type", "OrderId", "Total", "Currency"]
    );

    let r = gateway.refund(&refund_of("2c544d", "1.01", "1.01")).await;
    let Outcome::Declined(d) = r.outcome else {
        panic!("{:?}", r.outcome)
    };
    assert_eq!(d.kind, DeclineKind::NothingToRefund);

    let r = gateway.refund(&refund_of("df0e", "1.01", "1.01")).await;
    assert!(matches!(r.outcome, Outcome::Approved(_)), "{:?}", r.outcome);
}

#[tokio::test]
async fn inquiry_reads_status_and_history() {
    // After a refund ORDERSTATUS reports the Credit; the history is asked next. The
    // recorded history belongs to another order: its order id is rewritten here.
    let v = vectors();
    let mut status = v["answers"][15]["decoded"].clone();
    status["OrderId"] = json!("ord-1");
    status["Extra"]["ORD_ID"] = json!("ord-1");
    let mut history = v["answers"][17]["decoded"].clone();
    history["OrderId"] = json!("ord-1");
    // A sale of 2.01 refunded by 1.00 (the recorded TRX1 refused credit made approved).
    history["Extra"]["TRX1"] =
        json!("C\tC\t100\t100\t2024-01-02 21:53:02.486\t2024-01-02 21:53:02.486\t\t\tP1\t00\t24002V3CG19993");
    history["Extra"]["TRX2"] = json!(
        "S\tC\t201\t201\t2024-01-02 21:52:59.261\t2024-01-02 21:52:59.261\t\t400200744059\tP78955\t00\t24002V29G19979"
    );
    let bank = FakeBank::start(vec![
        Reply::Body(answer_bytes(11)),
        Reply::Body(answer_bytes(16)),
        Reply::Body(bytes_of(status)),
        Reply::Body(bytes_of(history)),
        Reply::Body(answer_bytes(14)),
    ])
    .await;
    let gateway = bank.gateway(ThreeDModel::ThreeD);

    let found = gateway
        .inquiry(&inquiry_of("20221030FAC5", "1.01"))
        .await
        .unwrap();
    let Inquiry::Approved {
        approval,
        reversed,
        cancelled,
        ..
    } = found
    else {
        panic!("{found:?}")
    };
    assert_eq!(approval.authorized_amount, Some(kurus("1.01")));
    assert_eq!((reversed, cancelled), (kurus("0"), false));

    let none = gateway
        .inquiry(&inquiry_of("2022103088D22", "1.01"))
        .await
        .unwrap();
    assert!(matches!(none, Inquiry::NotFound));

    let refunded = gateway.inquiry(&inquiry_of("ord-1", "2.01")).await.unwrap();
    let Inquiry::Approved {
        approval,
        reversed,
        cancelled,
        ..
    } = refunded
    else {
        panic!("{refunded:?}")
    };
    assert_eq!(approval.provider_ref.as_str(), "24002V29G19979");
    assert_eq!(reversed, kurus("1.00"));
    assert!(!cancelled);
    let received = bank.received();
    assert_eq!(received[3].document().extra("ORDERHISTORY"), Some("QUERY"));

    // An answer about another order than the one asked is not believed.
    let err = gateway
        .inquiry(&inquiry_of("ord-2", "1.01"))
        .await
        .unwrap_err();
    assert!(matches!(err, GatewayError::BadAnswer(_)), "{err:?}");
}

#[tokio::test]
async fn a_broken_exchange_is_unknown_once_sent_and_failed_before() {
    let bank = FakeBank::start(vec![
        Reply::Status(500),
        Reply::Status(404),
        Reply::Body(b"<html>Bad gateway</html>".to_vec()),
        Reply::Slow(Duration::from_secs(4), answer_bytes(1)),
    ])
    .await;
    let gateway = bank.gateway(ThreeDModel::ThreeD);
    let order = sale("o-fault", "1.01");
    assert_eq!(
        gateway.sale(&order).await.outcome,
        Outcome::Unknown(UnknownReason::ServerError(500))
    );
    assert!(matches!(
        gateway.sale(&order).await.outcome,
        Outcome::Failed(f) if f.kind == FailureKind::Rejected
    ));
    assert_eq!(
        gateway.sale(&order).await.outcome,
        Outcome::Unknown(UnknownReason::Unparseable)
    );
    assert_eq!(
        gateway.sale(&order).await.outcome,
        Outcome::Unknown(UnknownReason::Timeout)
    );

    // Nobody listening: the request never left.
    let closed = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let mut config = sanalpos_gateway::nestpay::NestpayConfig::new(url.clone(), url, credentials());
    config.connect_timeout = Duration::from_secs(1);
    let gone = sanalpos_gateway::nestpay::NestpayGateway::new(config).unwrap();
    let r = gone.sale(&order).await;
    assert!(
        matches!(&r.outcome, Outcome::Failed(f) if f.kind == FailureKind::Unreachable),
        "{:?}",
        r.outcome
    );
    assert!(matches!(
        gone.probe().await,
        Err(GatewayError::Unreachable(_))
    ));
}

#[tokio::test]
async fn probe_and_what_nestpay_does_not_offer() {
    let refused = bytes_of(json!({
        "OrderId": "", "Response": "Error", "ProcReturnCode": "99",
        "ErrMsg": "The user is not authenticated.", "Extra": {"ERRORCODE": "CORE-2201", "NUMCODE": "992201"}
    }));
    let mut not_found = vectors()["answers"][16]["decoded"].clone();
    not_found["ErrMsg"] = json!("No record found for probe");
    let bank = FakeBank::start(vec![Reply::Body(bytes_of(not_found)), Reply::Body(refused)]).await;
    let gateway = bank.gateway(ThreeDModel::ThreeD);
    gateway.probe().await.unwrap();
    let doc = bank.received()[0].document();
    assert!(doc.get("OrderId").unwrap().starts_with("probe-"));
    assert_eq!(doc.extra("ORDERSTATUS"), Some("QUERY"));
    assert!(matches!(
        gateway.probe().await,
        Err(GatewayError::BadCredentials(_))
    ));

    let query = ReportQuery {
        from: NaiveDate::from_ymd_opt(2024, 1, 1).unwrap(),
        to: NaiveDate::from_ymd_opt(2024, 1, 2).unwrap(),
        page_size: 100,
        cursor: None,
    };
    assert!(matches!(
        gateway.report(&query).await,
        Err(GatewayError::Unsupported(_))
    ));
    assert!(matches!(
        gateway.installments("454671", kurus("1")).await,
        Err(GatewayError::Unsupported(_))
    ));
    assert!(matches!(
        gateway.commission_table().await,
        Err(GatewayError::Unsupported(_))
    ));
    assert_eq!(bank.calls(), 2);
}

#[tokio::test]
async fn the_registry_builds_a_client_for_the_simulator() {
    let bank = FakeBank::start(vec![Reply::Body(answer_bytes(1))]).await;
    let nestpay = protocol("nestpay").expect("registered");
    assert_eq!(nestpay.info().name.en, "NestPay (EST)");
    let settings = Settings::from_pairs([
        ("bank", "isbank"),
        ("api_url", bank.url().as_str()),
        ("gate_url", bank.url().as_str()),
        ("client_id", CLIENT_ID),
        ("api_user", API_USER),
        ("api_password", API_PASSWORD),
        ("store_key", STORE_KEY),
    ]);
    sanalpos_gateway::protocol::validate(nestpay, &settings, Environment::Simulator).unwrap();
    let gateway = nestpay
        .build(&settings, Environment::Simulator, Timeouts::default())
        .unwrap();
    let r = gateway.sale(&sale("202210293885", "1.01")).await;
    assert!(matches!(r.outcome, Outcome::Approved(_)), "{:?}", r.outcome);
    let ThreeDStart::Redirect { html, .. } = gateway
        .start_3d(
            &sale("o-3d", "1.01"),
            &sanalpos_gateway::ReturnUrls {
                success: "https://shop/ok".into(),
                fail: "https://shop/fail".into(),
            },
        )
        .await
    else {
        panic!()
    };
    let form = sanalpos_testkit::parse_form(&html);
    assert_eq!(form.action, format!("{}/fim/est3Dgate", bank.url()));
}

#[tokio::test]
async fn release_is_a_void_of_the_pre_authorisation() {
    let bank = FakeBank::start(vec![Reply::Body(answer_bytes(8))]).await;
    let gateway = bank.gateway(ThreeDModel::ThreeD);
    let release = ReleaseRequest {
        provider_ref: ProviderRef::parse("24001WceJ18839").unwrap(),
        client_ref: ClientRef::parse("o-pre").unwrap(),
        pre_auth_date: NaiveDate::from_ymd_opt(2024, 1, 2).unwrap(),
        authorized: kurus("2.05"),
        currency: Currency::Try,
    };
    let r = gateway.release(&release).await;
    assert!(matches!(r.outcome, Outcome::Approved(_)), "{:?}", r.outcome);
    let doc = bank.received()[0].document();
    assert_eq!(doc.get("Type"), Some("Void"));
    assert_eq!(doc.get("OrderId"), Some("o-pre"));
}
