//! The Garanti client against the Garanti simulator over real HTTP: sale, issuer
//! decline with its Turkish text, void, partial refund after end of day, 3D through the
//! bank page right and wrong, forged and replayed callbacks, credentials refused, the
//! janitor's inquiry of a fault card, and the order list.

use std::time::Duration;

use chrono::NaiveDate;

use sanalpos_core::{CardNumber, ClientRef, Currency, Kurus, ProviderRef};
use sanalpos_gateway::garanti::{Credentials, GarantiConfig, GarantiGateway, ThreeDModel};
use sanalpos_gateway::{
    CancelRequest, CaptureRequest, DeclineKind, FailureKind, Gateway, Inquiry, InquiryRequest,
    Outcome, Postback, RefundRequest, ReleaseRequest, ReportQuery, ReturnUrls, SaleRequest,
    ThreeDStart, UnknownReason,
};
use sanalpos_simulator::garanti::{
    self, GarantiConfig as SimConfig, GarantiHandle, GarantiMerchant,
};

use super::helpers::{expected, kurus, sale};

struct Bank {
    handle: GarantiHandle,
    merchant: GarantiMerchant,
    http: reqwest::Client,
}

async fn bank() -> Bank {
    let mut merchant = GarantiMerchant::generate();
    // Different passwords for the two users, so signing with the wrong one shows.
    merchant.refund_password = format!("{}-rfn", merchant.prov_password);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let handle = garanti::spawn(
        SimConfig {
            merchants: vec![merchant.clone()],
            test_mode: true,
            slow_answer_delay: Duration::from_millis(200),
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

impl Bank {
    fn config(&self, model: ThreeDModel) -> GarantiConfig {
        let base = self.handle.base_url();
        let m = &self.merchant;
        let mut config = GarantiConfig::new(
            base.clone(),
            format!("{base}/servlet/gt3dengine"),
            Credentials {
                merchant_id: m.merchant_id.clone(),
                terminal_id: m.terminal_id.clone(),
                prov_user: m.prov_user.clone(),
                prov_password: sanalpos_core::Secret::new(m.prov_password.clone()),
                refund_user: m.refund_user.clone(),
                refund_password: sanalpos_core::Secret::new(m.refund_password.clone()),
                store_key: sanalpos_core::Secret::new(m.store_key.clone()),
            },
        );
        config.three_d_model = model;
        config.request_timeout = Duration::from_secs(3);
        config
    }

    fn gateway(&self, model: ThreeDModel) -> GarantiGateway {
        GarantiGateway::new(self.config(model)).unwrap()
    }

    fn rows(&self) -> Vec<garanti::GarantiTransaction> {
        self.handle
            .transactions(&self.merchant.terminal_id)
            .unwrap()
    }

    /// Drives the browser through the 3D page: posts the form, answers the page with
    /// `code`, and returns the callback's fields.
    async fn through_bank_page(&self, html: &str, code: &str) -> Vec<(String, String)> {
        let (action, fields) = auto_post(html);
        let page = self.http.post(&action).form(&fields).send().await.unwrap();
        assert_eq!(page.status(), 200);
        let page = page.text().await.unwrap();
        assert!(page.contains("SMS kodu"), "{page}");
        assert!(
            !page.contains(super::helpers::CARD),
            "the bank page shows the card masked"
        );
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
        auto_post(&callback).1
    }
}

fn unescape(text: &str) -> String {
    text.replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

fn attribute(tag: &str, name: &str) -> Option<String> {
    let key = format!("{name}=\"");
    let start = tag.find(&key)? + key.len();
    let end = tag[start..].find('"')? + start;
    Some(unescape(&tag[start..end]))
}

/// The action and hidden fields of an auto-posting form (id `form`).
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

fn unique(prefix: &str) -> String {
    format!("{prefix}{}", ClientRef::generate().as_str())
}

fn with_card(mut request: SaleRequest, card: &str) -> SaleRequest {
    request.card.number = CardNumber::parse(card).unwrap();
    request
}

fn cancel_of(order: &str, retref: &ProviderRef, amount: Kurus) -> CancelRequest {
    CancelRequest {
        provider_ref: retref.clone(),
        client_ref: ClientRef::parse(order).unwrap(),
        sale_date: NaiveDate::from_ymd_opt(2026, 1, 1).unwrap(),
        amount,
        currency: Currency::Try,
    }
}

fn refund_of(order: &str, retref: &ProviderRef, amount: &str, refundable: &str) -> RefundRequest {
    RefundRequest {
        provider_ref: retref.clone(),
        client_ref: ClientRef::parse(order).unwrap(),
        sale_date: NaiveDate::from_ymd_opt(2026, 1, 1).unwrap(),
        amount: kurus(amount),
        refundable: kurus(refundable),
        currency: Currency::Try,
    }
}

fn inquiry_of(order: &str, amount: &str) -> InquiryRequest {
    InquiryRequest {
        client_ref: ClientRef::parse(order).unwrap(),
        date: NaiveDate::from_ymd_opt(2026, 1, 1).unwrap(),
        amount: kurus(amount),
    }
}

#[tokio::test]
async fn sale_void_and_the_ledger_agree() {
    let bank = bank().await;
    let gateway = bank.gateway(ThreeDModel::ThreeD);
    let order = unique("s");
    let r = gateway.sale(&sale(&order, "150.25")).await;
    let Outcome::Approved(a) = r.outcome else {
        panic!("{:?}", r.outcome)
    };
    assert_eq!(a.authorized_amount, Some(kurus("150.25")));
    let rows = bank.rows();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].amount.minor(), 15_025);
    assert_eq!(rows[0].retref, a.provider_ref.as_str());
    // The card is in no stored answer.
    assert!(!r.raw.unwrap().contains(super::helpers::CARD));

    let r = gateway
        .cancel(&cancel_of(&order, &a.provider_ref, kurus("150.25")))
        .await;
    assert!(matches!(r.outcome, Outcome::Approved(_)), "{:?}", r.outcome);
    let Inquiry::Approved {
        cancelled,
        reversed,
        ..
    } = gateway
        .inquiry(&inquiry_of(&order, "150.25"))
        .await
        .unwrap()
    else {
        panic!()
    };
    assert!(cancelled);
    assert_eq!(reversed, kurus("150.25"));
    // The same order id cannot be charged twice.
    let again = gateway.sale(&sale(&order, "1")).await;
    assert!(
        matches!(again.outcome, Outcome::Approved(_))
            || matches!(again.outcome, Outcome::Unknown(_))
    );
}

#[tokio::test]
async fn an_issuer_decline_comes_with_its_code_and_turkish_text() {
    let bank = bank().await;
    let gateway = bank.gateway(ThreeDModel::ThreeD);
    let r = gateway
        .sale(&with_card(sale(&unique("d"), "10"), "4000000000000515"))
        .await;
    let Outcome::Declined(d) = r.outcome else {
        panic!("{:?}", r.outcome)
    };
    assert_eq!(d.bank_code.as_ref().unwrap().as_str(), "51");
    assert!(
        d.message.tr.to_lowercase().contains("bakiye"),
        "{}",
        d.message.tr
    );
    assert!(!d.message.en.is_empty());
    assert!(d.provider_text.contains("İşleminizi gerçekleştiremiyoruz"));
    assert!(!bank.rows()[0].approved);
}

#[tokio::test]
async fn partial_refund_only_after_the_day_is_closed_and_cancel_only_before() {
    let bank = bank().await;
    let gateway = bank.gateway(ThreeDModel::ThreeD);
    let order = unique("r");
    let Outcome::Approved(a) = gateway.sale(&sale(&order, "10")).await.outcome else {
        panic!()
    };
    let early = gateway
        .refund(&refund_of(&order, &a.provider_ref, "4", "10"))
        .await;
    let Outcome::Declined(d) = early.outcome else {
        panic!("{:?}", early.outcome)
    };
    assert_eq!(d.kind, DeclineKind::DayNotClosed);
    bank.handle.end_of_day(None);
    let late = gateway
        .cancel(&cancel_of(&order, &a.provider_ref, kurus("10")))
        .await;
    let Outcome::Declined(d) = late.outcome else {
        panic!("{:?}", late.outcome)
    };
    assert_eq!(d.kind, DeclineKind::CancelWindowClosed);
    let r = gateway
        .refund(&refund_of(&order, &a.provider_ref, "4", "10"))
        .await;
    assert!(matches!(r.outcome, Outcome::Approved(_)), "{:?}", r.outcome);
    let rows = bank.rows();
    let refund = rows
        .iter()
        .find(|t| t.kind == garanti::TxType::Refund)
        .unwrap();
    assert_eq!(refund.amount, kurus("4"));
    let Inquiry::Approved {
        reversed,
        cancelled,
        ..
    } = gateway.inquiry(&inquiry_of(&order, "10")).await.unwrap()
    else {
        panic!()
    };
    assert_eq!(reversed, kurus("4"));
    assert!(!cancelled);
    // The bank refuses more than is left even when our side thinks otherwise.
    let r = gateway
        .refund(&refund_of(&order, &a.provider_ref, "7", "10"))
        .await;
    let Outcome::Declined(d) = r.outcome else {
        panic!("{:?}", r.outcome)
    };
    assert_eq!(d.kind, DeclineKind::NothingToRefund);
}

#[tokio::test]
async fn three_d_through_the_bank_page_right_and_wrong() {
    let bank = bank().await;
    let gateway = bank.gateway(ThreeDModel::ThreeD);
    let urls = ReturnUrls {
        success: "https://shop.example/ok".into(),
        fail: "https://shop.example/fail".into(),
    };
    let order = unique("t");
    let ThreeDStart::Redirect { html, .. } = gateway.start_3d(&sale(&order, "42.50"), &urls).await
    else {
        panic!()
    };
    let callback = bank.through_bank_page(&html, "123456").await;
    assert!(!callback
        .iter()
        .any(|(_, v)| v.contains(super::helpers::CARD)));
    let postback = Postback::from_pairs(callback.clone());
    let r = gateway
        .finish_3d(&postback, &expected(&order, "42.50"))
        .await;
    let Outcome::Approved(a) = r.outcome else {
        panic!("{:?}", r.outcome)
    };
    let rows = bank.rows();
    assert_eq!(rows.len(), 1);
    assert!(rows[0].three_d && rows[0].approved);
    assert_eq!(rows[0].retref, a.provider_ref.as_str());
    // The same callback again changes nothing at the bank.
    let replay = gateway
        .finish_3d(&postback, &expected(&order, "42.50"))
        .await;
    assert!(
        !matches!(replay.outcome, Outcome::Approved(_)),
        "{:?}",
        replay.outcome
    );
    assert_eq!(bank.rows().len(), 1);

    // A wrong SMS code: declined, nothing sent.
    let order = unique("w");
    let ThreeDStart::Redirect { html, .. } = gateway.start_3d(&sale(&order, "5"), &urls).await
    else {
        panic!()
    };
    let callback = bank.through_bank_page(&html, "000000").await;
    let r = gateway
        .finish_3d(&Postback::from_pairs(callback), &expected(&order, "5"))
        .await;
    assert!(matches!(r.outcome, Outcome::Declined(_)), "{:?}", r.outcome);
    assert_eq!(bank.rows().len(), 1);
}

#[tokio::test]
async fn forged_and_foreign_callbacks_charge_nothing() {
    let bank = bank().await;
    let gateway = bank.gateway(ThreeDModel::ThreeD);
    let urls = ReturnUrls {
        success: "https://shop.example/ok".into(),
        fail: "https://shop.example/fail".into(),
    };
    let order = unique("f");
    let ThreeDStart::Redirect { html, .. } = gateway.start_3d(&sale(&order, "9"), &urls).await
    else {
        panic!()
    };
    let callback = bank.through_bank_page(&html, "123456").await;
    // Forged: the hash recomputed with a guessed key.
    let mut forged = callback.clone();
    for f in &mut forged {
        if f.0 == "hash" {
            f.1 = "F".repeat(128);
        }
    }
    let r = gateway
        .finish_3d(&Postback::from_pairs(forged), &expected(&order, "9"))
        .await;
    assert!(
        matches!(r.outcome, Outcome::Unknown(UnknownReason::SignatureInvalid)),
        "{:?}",
        r.outcome
    );
    // Another order's genuine callback.
    let r = gateway
        .finish_3d(
            &Postback::from_pairs(callback.clone()),
            &expected(&unique("o"), "9"),
        )
        .await;
    assert!(matches!(r.outcome, Outcome::Unknown(_)), "{:?}", r.outcome);
    assert!(bank.rows().is_empty(), "nothing was charged");
    // The genuine one still works once.
    let r = gateway
        .finish_3d(&Postback::from_pairs(callback), &expected(&order, "9"))
        .await;
    assert!(matches!(r.outcome, Outcome::Approved(_)), "{:?}", r.outcome);
}

#[tokio::test]
async fn three_d_pay_charges_at_the_bank_and_the_callback_says_so() {
    let bank = bank().await;
    let gateway = bank.gateway(ThreeDModel::ThreeDPay);
    let urls = ReturnUrls {
        success: "https://shop.example/ok".into(),
        fail: "https://shop.example/fail".into(),
    };
    let order = unique("p");
    let ThreeDStart::Redirect { html, .. } = gateway.start_3d(&sale(&order, "12"), &urls).await
    else {
        panic!()
    };
    let callback = bank.through_bank_page(&html, "123456").await;
    let r = gateway
        .finish_3d(
            &Postback::from_pairs(callback.clone()),
            &expected(&order, "12"),
        )
        .await;
    assert!(matches!(r.outcome, Outcome::Approved(_)), "{:?}", r.outcome);
    // A tampered one is settled by orderinq: the bank's record, not the browser's word.
    let mut tampered = callback;
    for f in &mut tampered {
        if f.0 == "hash" {
            f.1 = "0".repeat(128);
        }
    }
    let r = gateway
        .finish_3d(&Postback::from_pairs(tampered), &expected(&order, "12"))
        .await;
    assert!(matches!(r.outcome, Outcome::Approved(_)), "{:?}", r.outcome);
    assert_eq!(bank.rows().len(), 1);
}

#[tokio::test]
async fn wrong_credentials_are_a_failure_with_nothing_charged() {
    let bank = bank().await;
    let mut config = bank.config(ThreeDModel::ThreeD);
    config.credentials.prov_password = sanalpos_core::Secret::new("wrong");
    let gateway = GarantiGateway::new(config).unwrap();
    let r = gateway.sale(&sale(&unique("c"), "1")).await;
    assert!(
        matches!(r.outcome, Outcome::Failed(ref f) if f.kind == FailureKind::BadCredentials),
        "{:?}",
        r.outcome
    );
    assert!(gateway.probe().await.is_err());
    assert!(bank.gateway(ThreeDModel::ThreeD).probe().await.is_ok());
    // The refund user's password signs a void; the provision password does not.
    let mut swapped = bank.config(ThreeDModel::ThreeD);
    swapped.credentials.refund_password = swapped.credentials.prov_password.clone();
    let order = unique("v");
    let Outcome::Approved(a) = bank
        .gateway(ThreeDModel::ThreeD)
        .sale(&sale(&order, "3"))
        .await
        .outcome
    else {
        panic!()
    };
    let r = GarantiGateway::new(swapped)
        .unwrap()
        .cancel(&cancel_of(&order, &a.provider_ref, kurus("3")))
        .await;
    assert!(matches!(r.outcome, Outcome::Failed(ref f) if f.kind == FailureKind::BadCredentials));
    assert!(bank.rows().iter().all(|t| t.voided_at.is_none()));
}

#[tokio::test]
async fn a_fault_card_is_resolved_by_inquiry_with_the_ledger_as_judge() {
    let bank = bank().await;
    let gateway = bank.gateway(ThreeDModel::ThreeD);
    for (card, charged) in [
        ("4000000000009029", true),
        ("4000000000009045", true),
        ("4000000000009052", true),
        ("4000000000009037", false),
        ("4000000000009060", false),
    ] {
        let order = unique("x");
        let r = gateway.sale(&with_card(sale(&order, "7"), card)).await;
        assert!(
            matches!(r.outcome, Outcome::Unknown(_)),
            "{card}: {:?}",
            r.outcome
        );
        let found = gateway.inquiry(&inquiry_of(&order, "7")).await.unwrap();
        let in_ledger = bank
            .rows()
            .iter()
            .any(|t| t.order_id == order && t.approved);
        assert_eq!(in_ledger, charged, "{card}");
        match found {
            Inquiry::Approved { .. } => assert!(charged, "{card}"),
            Inquiry::NotFound => assert!(!charged, "{card}"),
            other => panic!("{card}: {other:?}"),
        }
    }
}

#[tokio::test]
async fn the_order_list_is_the_reconciliation_view() {
    let bank = bank().await;
    let gateway = bank.gateway(ThreeDModel::ThreeD);
    let order = unique("l");
    let Outcome::Approved(a) = gateway.sale(&sale(&order, "20")).await.outcome else {
        panic!()
    };
    gateway
        .sale(&with_card(sale(&unique("l"), "5"), "4000000000000051"))
        .await;
    let today = sanalpos_simulator::clock::now().date_naive();
    let page = gateway
        .report(&ReportQuery {
            from: today.pred_opt().unwrap(),
            to: today,
            page_size: 100,
            cursor: None,
        })
        .await
        .unwrap();
    assert_eq!(page.rows.len(), 2);
    assert!(page.next.is_none());
    let row = page
        .rows
        .iter()
        .find(|r| r.client_ref.as_deref() == Some(order.as_str()))
        .unwrap();
    assert_eq!(row.provider_ref.as_ref(), Some(&a.provider_ref));
    assert_eq!(row.amount, Some(kurus("20")));
    assert_eq!(row.status, sanalpos_core::RowStatus::Success);
    assert_eq!(row.kind, sanalpos_core::TransactionKind::Sale);
}

#[tokio::test]
async fn a_pre_authorisation_is_captured_once_for_part_of_it() {
    let bank = bank().await;
    let gateway = bank.gateway(ThreeDModel::ThreeD);
    let order = unique("a");
    let mut request = sale(&order, "80");
    request.pre_auth = true;
    let Outcome::Approved(a) = gateway.sale(&request).await.outcome else {
        panic!()
    };
    let Inquiry::Approved { approval, .. } =
        gateway.inquiry(&inquiry_of(&order, "80")).await.unwrap()
    else {
        panic!()
    };
    assert_eq!(approval.authorized_amount, Some(kurus("80")));
    let capture = |amount: &str| CaptureRequest {
        provider_ref: a.provider_ref.clone(),
        client_ref: ClientRef::parse(&order).unwrap(),
        authorized: kurus("80"),
        amount: kurus(amount),
        currency: Currency::Try,
        pre_auth_date: NaiveDate::from_ymd_opt(2026, 1, 1).unwrap(),
    };
    let r = gateway.capture(&capture("65")).await;
    let Outcome::Approved(c) = r.outcome else {
        panic!("{:?}", r.outcome)
    };
    assert_eq!(c.authorized_amount, Some(kurus("65")));
    let rows = bank.rows();
    let post = rows
        .iter()
        .find(|t| t.kind == garanti::TxType::PostAuth)
        .unwrap();
    assert_eq!(post.amount, kurus("65"));
    assert_eq!(
        post.original_retref.as_deref(),
        Some(a.provider_ref.as_str())
    );
    // Captured once: a second capture is refused by the bank.
    let r = gateway.capture(&capture("10")).await;
    assert!(matches!(r.outcome, Outcome::Declined(_)), "{:?}", r.outcome);
    // More than was pre-authorised is refused here, nothing sent.
    let r = gateway.capture(&capture("81")).await;
    assert!(matches!(r.outcome, Outcome::Failed(ref f) if f.kind == FailureKind::Invalid));
    assert_eq!(bank.rows().len(), 2);
}

#[tokio::test]
async fn a_pre_authorisation_is_released_by_a_void() {
    let bank = bank().await;
    let gateway = bank.gateway(ThreeDModel::ThreeD);
    let order = unique("r");
    let mut request = sale(&order, "45");
    request.pre_auth = true;
    let Outcome::Approved(a) = gateway.sale(&request).await.outcome else {
        panic!()
    };
    let release = ReleaseRequest {
        provider_ref: a.provider_ref.clone(),
        client_ref: ClientRef::parse(&order).unwrap(),
        pre_auth_date: NaiveDate::from_ymd_opt(2026, 1, 1).unwrap(),
        authorized: kurus("45"),
        currency: Currency::Try,
    };
    let r = gateway.release(&release).await;
    assert!(matches!(r.outcome, Outcome::Approved(_)), "{:?}", r.outcome);
    let rows = bank.rows();
    let void = rows
        .iter()
        .find(|t| t.kind == garanti::TxType::Void)
        .unwrap();
    assert_eq!(
        void.original_retref.as_deref(),
        Some(a.provider_ref.as_str())
    );
}
