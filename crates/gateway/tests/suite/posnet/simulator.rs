//! The PosNet client against the PosNet simulator over real HTTP: sale, issuer decline
//! with its Turkish text, pre-auth and capture, same-day cancel, partial refund after
//! end of day (refused before it), 3D through the bank page right and wrong, forged,
//! tampered, replayed and another order's callbacks, the IP whitelist, a wrong ENCKEY,
//! and the janitor's inquiry of fault cards against the simulator's ledger.

use std::time::Duration;

use sanalpos_core::{CardNumber, ClientRef, Currency, Cvv, Expiry, Kurus, Secret};
use sanalpos_gateway::posnet::{Credentials, PosnetConfig, PosnetGateway};
use sanalpos_gateway::{
    CancelRequest, CaptureRequest, Card, DeclineKind, ExpectedSale, FailureKind, Gateway,
    GatewayError, Inquiry, InquiryRequest, Outcome, Postback, RefundRequest, ReleaseRequest,
    ReturnUrls, SaleRequest, ThreeDStart, UnknownReason,
};
use sanalpos_simulator::posnet::{
    self, PosnetConfig as SimConfig, PosnetHandle, PosnetMerchant, TxKind,
};

const CARD: &str = "4282209027132016";

struct Bank {
    handle: PosnetHandle,
    merchant: PosnetMerchant,
    http: reqwest::Client,
}

async fn bank_with(merchant: PosnetMerchant) -> Bank {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let handle = posnet::spawn(
        SimConfig {
            merchants: vec![merchant.clone()],
            test_mode: true,
            slow_answer_delay: Duration::from_millis(1500),
        },
        listener,
    )
    .await
    .unwrap();
    let http = reqwest::Client::builder().no_proxy().build().unwrap();
    Bank {
        handle,
        merchant,
        http,
    }
}

async fn bank() -> Bank {
    bank_with(PosnetMerchant::generate()).await
}

fn kurus(text: &str) -> Kurus {
    Kurus::parse(text).unwrap()
}

fn sale(client_ref: &str, pan: &str, amount: &str) -> SaleRequest {
    SaleRequest {
        client_ref: ClientRef::parse(client_ref).unwrap(),
        amount: kurus(amount),
        currency: Currency::Try,
        installments: 1,
        card: Card {
            number: CardNumber::parse(pan).unwrap(),
            expiry: Expiry::parse("12", "2030").unwrap(),
            cvv: Cvv::parse("123").unwrap(),
            holder: "Şükrü Çağlar".into(),
        },
        description: None,
        cardholder_ip: None,
        pre_auth: false,
    }
}

fn expected(client_ref: &str, amount: &str) -> ExpectedSale {
    ExpectedSale {
        amount: kurus(amount),
        client_ref: ClientRef::parse(client_ref).unwrap(),
        provider_ref: None,
        currency: Currency::Try,
        installments: 1,
        pre_auth: false,
        cardholder_ip: None,
    }
}

fn attribute(tag: &str, name: &str) -> Option<String> {
    let start = tag.find(&format!("{name}=\""))? + name.len() + 2;
    let end = tag[start..].find('"')? + start;
    Some(
        tag[start..end]
            .replace("&amp;", "&")
            .replace("&quot;", "\""),
    )
}

fn auto_post(html: &str) -> (String, Vec<(String, String)>) {
    let form = html.find("<form id=\"form\"").expect("a form id=form");
    let tag_end = html[form..].find('>').unwrap() + form;
    let action = attribute(&html[form..=tag_end], "action").unwrap();
    let mut fields = Vec::new();
    let mut rest = &html[tag_end..];
    while let Some(i) = rest.find("<input type=\"hidden\"") {
        let end = rest[i..].find('>').unwrap() + i;
        let tag = &rest[i..=end];
        fields.push((
            attribute(tag, "name").unwrap(),
            attribute(tag, "value").unwrap(),
        ));
        rest = &rest[end..];
    }
    (action, fields)
}

impl Bank {
    fn config(&self) -> PosnetConfig {
        let base = self.handle.base_url();
        let m = &self.merchant;
        let mut config = PosnetConfig::new(
            format!("{base}/PosnetWebService/XML"),
            format!("{base}/3DSWebService/YKBPaymentService"),
            Credentials {
                mid: m.mid.clone(),
                tid: m.tid.clone(),
                posnet_id: m.posnet_id.clone(),
                enc_key: Secret::new(m.enc_key.clone()),
            },
        );
        config.request_timeout = Duration::from_secs(1);
        config
    }

    fn gateway(&self) -> PosnetGateway {
        PosnetGateway::new(self.config()).unwrap()
    }

    fn rows(&self) -> Vec<posnet::PosnetTransaction> {
        self.handle.transactions(&self.merchant.tid).unwrap()
    }

    /// Starts 3D, walks the bank page with `code`, returns the callback fields.
    async fn three_d(
        &self,
        gateway: &PosnetGateway,
        request: &SaleRequest,
        code: &str,
    ) -> Vec<(String, String)> {
        let urls = ReturnUrls {
            success: "http://127.0.0.1:9/ok".into(),
            fail: "http://127.0.0.1:9/fail".into(),
        };
        let ThreeDStart::Redirect {
            html, holds_card, ..
        } = gateway.start_3d(request, &urls).await
        else {
            panic!("3D did not start")
        };
        assert!(!holds_card && !html.contains(CARD));
        let (action, fields) = auto_post(&html);
        let page = self
            .http
            .post(&action)
            .form(&fields)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(page.contains("SMS kodu") && !page.contains(CARD), "{page}");
        let start = page.find("action=\"").unwrap() + 8;
        let path = &page[start..start + page[start..].find('"').unwrap()];
        let callback = self
            .http
            .post(format!("{}{path}", self.handle.base_url()))
            .form(&[("code", code), ("action", "submit")])
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let (action, fields) = auto_post(&callback);
        assert_eq!(action, "http://127.0.0.1:9/ok");
        fields
    }
}

fn approved(outcome: &Outcome) -> &sanalpos_gateway::Approval {
    match outcome {
        Outcome::Approved(a) => a,
        other => panic!("not approved: {other:?}"),
    }
}

#[tokio::test]
async fn sale_decline_cancel_and_partial_refund_after_end_of_day() {
    let bank = bank().await;
    let gw = bank.gateway();
    let r = gw.sale(&sale("SALE1", CARD, "100.25")).await;
    let a = approved(&r.outcome).clone();
    assert_eq!(a.authorized_amount, Some(kurus("100.25")));
    assert!(!r.raw.unwrap().contains(CARD));
    let rows = bank.rows();
    assert_eq!(rows[0].order_id, "0000000000000000000SALE1");
    assert_eq!(rows[0].amount.minor(), 10025);

    // An issuer decline, in Turkish.
    let d = gw.sale(&sale("SALE2", "4000000000000515", "10.00")).await;
    let Outcome::Declined(d) = d.outcome else {
        panic!("{:?}", d.outcome)
    };
    assert_eq!(d.bank_code.unwrap().as_str(), "51");
    assert!(
        d.message.tr.to_lowercase().contains("bakiye"),
        "{}",
        d.message.tr
    );

    // The same order id again: never a second charge.
    let again = gw.sale(&sale("SALE1", CARD, "100.25")).await;
    assert!(matches!(
        again.outcome,
        Outcome::Unknown(UnknownReason::Inconsistent(_))
    ));
    assert_eq!(bank.rows().iter().filter(|t| t.approved).count(), 1);

    // Refund before end of day: refused as the day not closed.
    let refund = |amount: &str| RefundRequest {
        provider_ref: a.provider_ref.clone(),
        client_ref: ClientRef::parse("SALE1").unwrap(),
        sale_date: chrono::Utc::now().date_naive(),
        amount: kurus(amount),
        refundable: kurus("100.25"),
        currency: Currency::Try,
    };
    let early = gw.refund(&refund("10.00")).await;
    let Outcome::Declined(early) = early.outcome else {
        panic!()
    };
    assert_eq!(early.kind, DeclineKind::DayNotClosed);

    // A second sale is cancelled the same day; after end of day the first is refunded
    // in part, and a cancel is refused.
    let b = approved(&gw.sale(&sale("SALE3", CARD, "5.00")).await.outcome).clone();
    let cancel = CancelRequest {
        provider_ref: b.provider_ref.clone(),
        client_ref: ClientRef::parse("SALE3").unwrap(),
        sale_date: chrono::Utc::now().date_naive(),
        amount: kurus("5.00"),
        currency: Currency::Try,
    };
    approved(&gw.cancel(&cancel).await.outcome);
    bank.handle.end_of_day(None);
    approved(&gw.refund(&refund("40.00")).await.outcome);
    let too_much = gw
        .refund(&RefundRequest {
            refundable: kurus("100.25"),
            ..refund("60.26")
        })
        .await;
    let Outcome::Declined(too_much) = too_much.outcome else {
        panic!()
    };
    assert_eq!(too_much.kind, DeclineKind::NothingToRefund);
    let late = gw
        .cancel(&CancelRequest {
            provider_ref: a.provider_ref.clone(),
            ..cancel
        })
        .await;
    let Outcome::Declined(late) = late.outcome else {
        panic!()
    };
    assert_eq!(late.kind, DeclineKind::CancelWindowClosed);

    // The janitor's view: the sale, 40.00 refunded.
    let inquiry = gw
        .inquiry(&InquiryRequest {
            client_ref: ClientRef::parse("SALE1").unwrap(),
            date: chrono::Utc::now().date_naive(),
            amount: kurus("100.25"),
        })
        .await
        .unwrap();
    let Inquiry::Approved {
        reversed,
        cancelled,
        ..
    } = inquiry
    else {
        panic!("{inquiry:?}")
    };
    assert_eq!((reversed, cancelled), (kurus("40.00"), false));
    let statement = bank
        .handle
        .statement(&bank.merchant.tid, bank.rows()[0].business_day)
        .unwrap();
    assert!(
        statement.contains("Kısmi İade") || statement.contains("Satış"),
        "{statement}"
    );
}

#[tokio::test]
async fn pre_auth_and_capture() {
    let bank = bank().await;
    let gw = bank.gateway();
    let request = SaleRequest {
        pre_auth: true,
        ..sale("AUTH1", CARD, "20.00")
    };
    let auth = approved(&gw.sale(&request).await.outcome).clone();
    let capture = CaptureRequest {
        provider_ref: auth.provider_ref,
        client_ref: ClientRef::parse("AUTH1").unwrap(),
        authorized: kurus("20.00"),
        amount: kurus("15.00"),
        currency: Currency::Try,
        pre_auth_date: sanalpos_core::time::now_istanbul().date_naive(),
    };
    approved(&gw.capture(&capture).await.outcome);
    let kinds: Vec<TxKind> = bank.rows().iter().map(|t| t.kind).collect();
    assert_eq!(kinds, [TxKind::Auth, TxKind::Capt]);
}

#[tokio::test]
async fn pre_auth_and_release() {
    let bank = bank().await;
    let gw = bank.gateway();
    let request = SaleRequest {
        pre_auth: true,
        ..sale("AUTH2", CARD, "20.00")
    };
    let auth = approved(&gw.sale(&request).await.outcome).clone();
    let release = ReleaseRequest {
        provider_ref: auth.provider_ref,
        client_ref: ClientRef::parse("AUTH2").unwrap(),
        pre_auth_date: sanalpos_core::time::now_istanbul().date_naive(),
        authorized: kurus("20.00"),
        currency: Currency::Try,
    };
    approved(&gw.release(&release).await.outcome);
    let kinds: Vec<TxKind> = bank.rows().iter().map(|t| t.kind).collect();
    assert_eq!(kinds, [TxKind::Auth, TxKind::Reverse]);
}

#[tokio::test]
async fn three_d_right_wrong_forged_replayed_and_another_orders() {
    let bank = bank().await;
    let gw = bank.gateway();
    let request = sale("TDS1", CARD, "56.96");
    let callback = bank.three_d(&gw, &request, "123456").await;
    let postback = Postback::from_pairs(callback.clone());

    // Another order's view of this callback: nothing charged, nothing decided.
    let other = gw.finish_3d(&postback, &expected("TDS9", "56.96")).await;
    assert!(
        matches!(other.outcome, Outcome::Unknown(_)),
        "{:?}",
        other.outcome
    );
    // The same order with another amount: the MAC does not hold at the bank.
    let other = gw.finish_3d(&postback, &expected("TDS1", "1.00")).await;
    assert!(matches!(other.outcome, Outcome::Unknown(_)));
    // Tampered and forged packets.
    let mut tampered = callback.clone();
    tampered[1].1.replace_range(0..2, "00");
    let t = gw
        .finish_3d(&Postback::from_pairs(tampered), &expected("TDS1", "56.96"))
        .await;
    assert!(matches!(t.outcome, Outcome::Unknown(_)));
    let forged = vec![
        ("MerchantPacket".to_owned(), "AB".repeat(45)),
        ("BankPacket".to_owned(), "CD".repeat(30)),
        ("Sign".to_owned(), "EF".repeat(16)),
    ];
    let f = gw
        .finish_3d(&Postback::from_pairs(forged), &expected("TDS1", "56.96"))
        .await;
    assert!(matches!(f.outcome, Outcome::Unknown(_)));
    assert!(bank.rows().is_empty());

    // The genuine callback charges once; a replay does not charge again.
    let ok = gw.finish_3d(&postback, &expected("TDS1", "56.96")).await;
    assert_eq!(
        approved(&ok.outcome).authorized_amount,
        Some(kurus("56.96"))
    );
    let replay = gw.finish_3d(&postback, &expected("TDS1", "56.96")).await;
    assert!(!matches!(replay.outcome, Outcome::Approved(_)));
    let rows = bank.rows();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].order_id, "TDSC0000000000000000TDS1");
    let found = gw
        .inquiry(&InquiryRequest {
            client_ref: ClientRef::parse("TDS1").unwrap(),
            date: chrono::Utc::now().date_naive(),
            amount: kurus("56.96"),
        })
        .await
        .unwrap();
    assert!(matches!(found, Inquiry::Approved { .. }), "{found:?}");

    // A wrong SMS code: declined in the bank's words, nothing charged.
    let wrong = sale("TDS2", CARD, "10.00");
    let callback = bank.three_d(&gw, &wrong, "000000").await;
    let no = gw
        .finish_3d(&Postback::from_pairs(callback), &expected("TDS2", "10.00"))
        .await;
    let Outcome::Declined(d) = no.outcome else {
        panic!("{:?}", no.outcome)
    };
    assert!(d.message.tr.contains("3D"), "{}", d.message.tr);
    assert_eq!(bank.rows().len(), 1);
}

#[tokio::test]
async fn the_ip_whitelist_and_a_wrong_key_are_explained() {
    let mut merchant = PosnetMerchant::generate();
    merchant.allowed_ips = Some(vec!["10.9.8.7".parse().unwrap()]);
    let fenced = bank_with(merchant).await;
    let gw = fenced.gateway();
    let probe = gw.probe().await.unwrap_err();
    let GatewayError::IpNotAllowed(text) = probe else {
        panic!("{probe:?}")
    };
    assert!(
        text.contains("whitelist") && text.contains("127.0.0.1"),
        "{text}"
    );
    let urls = ReturnUrls {
        success: "http://127.0.0.1:9/ok".into(),
        fail: "http://127.0.0.1:9/fail".into(),
    };
    // oosRequestData refused: 3D does not start, and nothing can have been charged.
    let ThreeDStart::Finished(start) = gw.start_3d(&sale("IP0", CARD, "1.00"), &urls).await else {
        panic!("3D started from an IP off the whitelist")
    };
    assert!(
        matches!(start.outcome, Outcome::Failed(ref f) if f.kind == FailureKind::IpNotAllowed),
        "{:?}",
        start.outcome
    );
    let r = gw.sale(&sale("IP1", CARD, "1.00")).await;
    assert!(matches!(r.outcome, Outcome::Failed(ref f) if f.kind == FailureKind::IpNotAllowed));

    let bank = bank().await;
    assert!(bank.gateway().probe().await.is_ok());
    let mut config = bank.config();
    config.credentials.enc_key = Secret::new("1,2,3");
    let gw = PosnetGateway::new(config).unwrap();
    let request = sale("KEY1", CARD, "3.00");
    let callback = bank.three_d(&gw, &request, "123456").await;
    let r = gw
        .finish_3d(&Postback::from_pairs(callback), &expected("KEY1", "3.00"))
        .await;
    assert!(matches!(r.outcome, Outcome::Unknown(_)));
    assert!(bank.rows().is_empty());
}

#[tokio::test]
async fn fault_cards_end_as_the_ledger_says() {
    let bank = bank().await;
    let gw = bank.gateway();
    for (i, (card, charged)) in [
        ("4000000000009011", true),
        ("4000000000009029", true),
        ("4000000000009037", false),
        ("4000000000009045", true),
        ("4000000000009052", true),
        ("4000000000009060", false),
    ]
    .into_iter()
    .enumerate()
    {
        let client_ref = format!("FAULT{i}");
        let r = gw.sale(&sale(&client_ref, card, "7.00")).await;
        assert!(
            matches!(r.outcome, Outcome::Unknown(_)),
            "{card}: {:?}",
            r.outcome
        );
        let inquiry = gw
            .inquiry(&InquiryRequest {
                client_ref: ClientRef::parse(&client_ref).unwrap(),
                date: chrono::Utc::now().date_naive(),
                amount: kurus("7.00"),
            })
            .await
            .unwrap();
        let in_ledger = bank
            .rows()
            .iter()
            .any(|t| t.order_id.ends_with(&client_ref) && t.approved);
        assert_eq!(in_ledger, charged, "{card}");
        assert_eq!(
            matches!(inquiry, Inquiry::Approved { .. }),
            charged,
            "{card}: {inquiry:?}"
        );
        assert_eq!(
            matches!(inquiry, Inquiry::NotFound),
            !charged,
            "{card}: {inquiry:?}"
        );
    }
    // 9078: 503 first (not charged), approved on the next call.
    let first = gw.sale(&sale("RETRY1", "4000000000009078", "2.00")).await;
    assert!(matches!(
        first.outcome,
        Outcome::Unknown(UnknownReason::ServerError(503))
    ));
    approved(
        &gw.sale(&sale("RETRY2", "4000000000009078", "2.00"))
            .await
            .outcome,
    );
}
