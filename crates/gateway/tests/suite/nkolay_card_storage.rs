//! N Kolay card storage against the simulator over HTTP: register, list, pay with the
//! stored card, delete; another customer's and another merchant's card refused; a
//! magic decline card kept and declined; a card kept by an approved 3D sale; forged
//! hashes refused; the three new hashes checked against the formula computed here,
//! apart from client and simulator; no card number in any log line of either.

#![allow(clippy::unwrap_used)]

use std::io;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use sha2::{Digest, Sha512};

use crate::helpers::*;
use sanalpos_core::{Currency, Secret};
use sanalpos_gateway::nkolay::{request, Credentials, NkolayGateway};
use sanalpos_gateway::protocol::Protocol;
use sanalpos_gateway::{
    garanti, nestpay, nkolay, posnet, ExpectedSale, FailureKind, Gateway, GatewayError, Outcome,
    Postback, SaveCard, StoredCard, StoredCardId, StoredCardRef, StoredCardSale, ThreeDStart,
};
use sanalpos_simulator::MerchantConfig;
use sanalpos_testkit::{parse_form, post_form};

const CARD: &str = "4546711234567894";
const MASKED: &str = "454671******7894";
const DECLINE_51: &str = "4000000000000515";

fn stored_sale(customer_key: &str, card: StoredCardId, amount: &str) -> StoredCardSale {
    StoredCardSale {
        client_ref: client_ref(),
        amount: tl(amount),
        currency: Currency::Try,
        installments: 1,
        stored_card: StoredCardRef {
            customer_key: customer_key.into(),
            card,
        },
        description: Some("test".into()),
        cardholder_ip: None,
    }
}

async fn register(gateway: &NkolayGateway, customer_key: &str, pan: &str) -> StoredCard {
    gateway
        .register_card(customer_key, &test_card(pan), "İş kartım")
        .await
        .unwrap()
}

fn refused_as_not_found(outcome: &Outcome) {
    let Outcome::Failed(failure) = outcome else {
        panic!("not a refusal: {outcome:?}")
    };
    assert_eq!(failure.kind, FailureKind::Rejected, "{failure:?}");
    assert!(failure.detail.contains("bulunamadı"), "{failure:?}");
}

/// Everything the test binary logs from the moment [`Log::capture`] is first called: a
/// process-wide subscriber, since a thread's own one misses events whose call sites
/// another test's thread reached first.
#[derive(Clone, Default)]
struct Log(Arc<Mutex<Vec<u8>>>);

impl io::Write for Log {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Log {
    /// The binary's log, captured from now on (the first caller installs it).
    fn capture() -> Log {
        static LOG: std::sync::OnceLock<Log> = std::sync::OnceLock::new();
        LOG.get_or_init(|| {
            let log = Log::default();
            let writer = log.clone();
            let subscriber = tracing_subscriber::fmt()
                .with_max_level(tracing::Level::DEBUG)
                .with_ansi(false)
                .with_writer(move || writer.clone())
                .finish();
            tracing::subscriber::set_global_default(subscriber)
                .expect("no other test installs a global subscriber");
            log
        })
        .clone()
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

#[tokio::test]
async fn a_stored_card_pays_until_it_is_deleted() {
    let log = Log::capture();
    let sim = start_sim().await;
    let gateway = sim.gateway();
    assert!(gateway.list_cards("cust-1").await.unwrap().is_empty());

    let card = register(&gateway, "cust-1", CARD).await;
    assert_eq!(card.masked_pan.as_str(), MASKED);
    assert_eq!(card.alias, "İş kartım");
    let listed = gateway.list_cards("cust-1").await.unwrap();
    assert_eq!(listed, vec![card.clone()]);

    for id in [
        StoredCardId::Token(card.token.clone()),
        StoredCardId::TranId(card.tran_id.clone()),
    ] {
        let response = gateway
            .sale_with_stored_card(&stored_sale("cust-1", id, "25.00"))
            .await;
        let Outcome::Approved(approval) = response.outcome else {
            panic!("{:?}", response.outcome)
        };
        let rows = sim.transactions().await;
        let row = rows
            .iter()
            .find(|r| r["reference_code"] == approval.provider_ref.as_str())
            .unwrap();
        assert_eq!(row["masked_pan"], MASKED);
        assert_eq!(row["status"], "SUCCESS");
    }

    gateway
        .delete_card("cust-1", &card.tran_id, &card.token)
        .await
        .unwrap();
    assert!(gateway.list_cards("cust-1").await.unwrap().is_empty());
    let response = gateway
        .sale_with_stored_card(&stored_sale(
            "cust-1",
            StoredCardId::Token(card.token.clone()),
            "25.00",
        ))
        .await;
    refused_as_not_found(&response.outcome);
    assert!(matches!(
        gateway
            .delete_card("cust-1", &card.tran_id, &card.token)
            .await,
        Err(GatewayError::Rejected(_))
    ));
    assert_eq!(
        sim.transactions().await.len(),
        2,
        "the refusal charged nothing"
    );

    let text = log.text();
    assert!(text.contains("card stored"), "the log was captured: {text}");
    assert!(text.contains(MASKED));
    for pan in [CARD, DECLINE_51] {
        assert!(!text.contains(pan), "a card number in the log");
    }
}

#[tokio::test]
async fn another_customers_or_merchants_card_is_not_found() {
    let sim = start_sim().await;
    let other = MerchantConfig::generate();
    sim.handle.add_merchant(other.clone()).unwrap();
    let gateway = sim.gateway();
    let card = register(&gateway, "cust-1", CARD).await;

    let response = gateway
        .sale_with_stored_card(&stored_sale(
            "cust-2",
            StoredCardId::Token(card.token.clone()),
            "10.00",
        ))
        .await;
    refused_as_not_found(&response.outcome);
    assert!(gateway.list_cards("cust-2").await.unwrap().is_empty());
    assert!(gateway
        .delete_card("cust-2", &card.tran_id, &card.token)
        .await
        .is_err());

    let mut config = gateway.config().clone();
    config.credentials = credentials(&other);
    let foreign = NkolayGateway::new(config).unwrap();
    let response = foreign
        .sale_with_stored_card(&stored_sale(
            "cust-1",
            StoredCardId::TranId(card.tran_id.clone()),
            "10.00",
        ))
        .await;
    refused_as_not_found(&response.outcome);
    assert!(foreign.list_cards("cust-1").await.unwrap().is_empty());
    assert!(foreign
        .delete_card("cust-1", &card.tran_id, &card.token)
        .await
        .is_err());
    assert_eq!(gateway.list_cards("cust-1").await.unwrap().len(), 1);
    assert!(sim.transactions().await.is_empty());
}

#[tokio::test]
async fn a_stored_magic_card_declines_with_its_code() {
    let sim = start_sim().await;
    let gateway = sim.gateway();
    let card = register(&gateway, "cust-1", DECLINE_51).await;
    let response = gateway
        .sale_with_stored_card(&stored_sale(
            "cust-1",
            StoredCardId::Token(card.token),
            "10.00",
        ))
        .await;
    let Outcome::Declined(decline) = response.outcome else {
        panic!("{:?}", response.outcome)
    };
    assert_eq!(decline.bank_code.as_ref().map(|c| c.as_str()), Some("51"));
    assert_eq!(
        sim.transactions().await[0]["masked_pan"],
        "400000******0515"
    );
}

#[tokio::test]
async fn the_vault_refuses_what_the_client_sends_wrong() {
    let sim = start_sim().await;
    let gateway = sim.gateway();
    let refused = gateway
        .register_card("cust-1", &test_card("4000000000000143"), "")
        .await;
    assert!(
        refused.is_ok(),
        "Luhn-valid magic cards are kept: {refused:?}"
    );
    let expired = gateway
        .register_card("cust-1", &card(CARD, "01", "2020", "000"), "")
        .await;
    let Err(GatewayError::Rejected(text)) = expired else {
        panic!("{expired:?}")
    };
    assert!(text.starts_with("54"), "{text}");
    assert!(!text.contains(CARD));
    assert!(matches!(
        gateway.list_cards(" ").await,
        Err(GatewayError::Invalid(_))
    ));
    assert!(matches!(
        gateway.delete_card("cust-1", "", "").await,
        Err(GatewayError::Invalid(_))
    ));
    let wrong_key = sim.gateway_with(|c| c.credentials.secret_key = Secret::new("not-it"));
    assert!(matches!(
        wrong_key.list_cards("cust-1").await,
        Err(GatewayError::BadCredentials(_))
    ));
}

#[tokio::test]
async fn an_approved_3d_sale_keeps_its_card() {
    let sim = start_sim().await;
    let gateway = sim.gateway();
    let listener = Listener::start().await;
    let request = sale(CARD, "40.00");
    let save = SaveCard {
        customer_key: "cust-3d".into(),
        alias: "Kartım".into(),
    };
    let start = gateway
        .start_3d_saving_card(&request, &listener.urls(), &save)
        .await;
    let ThreeDStart::Redirect {
        html, provider_ref, ..
    } = start
    else {
        panic!("3D did not start: {start:?}")
    };
    assert!(gateway.list_cards("cust-3d").await.unwrap().is_empty());
    // The browser: the bank's form, the ACS page with the SMS code, the result page.
    let form = parse_form(&html);
    let acs_page = post_form(&form.action, &form.fields).await;
    let acs_form = parse_form(&acs_page);
    let mut fields: Vec<(String, String)> = acs_form
        .fields
        .iter()
        .filter(|(k, _)| k != "code" && k != "action")
        .cloned()
        .collect();
    fields.push(("code".into(), "123456".into()));
    fields.push(("action".into(), "submit".into()));
    let action = if acs_form.action.starts_with("http") {
        acs_form.action.clone()
    } else {
        sim.url(&acs_form.action)
    };
    let result_page = post_form(&action, &fields).await;
    let back = parse_form(&result_page);
    post_form(&back.action, &back.fields).await;
    let (landed_on, body) = listener.last();
    assert_eq!(landed_on, "ok");
    let expected = ExpectedSale {
        amount: request.amount,
        client_ref: request.client_ref.clone(),
        provider_ref,
        currency: Currency::Try,
        installments: 1,
        pre_auth: false,
        cardholder_ip: None,
    };
    let response = gateway
        .finish_3d(&Postback::from_form(&body).unwrap(), &expected)
        .await;
    assert!(matches!(response.outcome, Outcome::Approved(_)));

    let cards = gateway.list_cards("cust-3d").await.unwrap();
    assert_eq!(cards.len(), 1);
    assert_eq!(cards[0].alias, "Kartım");
    assert_eq!(cards[0].masked_pan.as_str(), MASKED);
    let paid = gateway
        .sale_with_stored_card(&stored_sale(
            "cust-3d",
            StoredCardId::Token(cards[0].token.clone()),
            "5.00",
        ))
        .await;
    assert!(matches!(paid.outcome, Outcome::Approved(_)), "{paid:?}");
}

/// The simulator's hash-error answer: `result` as a string holding `RESPONSE_CODE` 9.
fn is_hash_error(text: &str) -> bool {
    let v: serde_json::Value = serde_json::from_str(text).unwrap();
    let Some(inner) = v["result"].as_str() else {
        return false;
    };
    let inner: serde_json::Value = serde_json::from_str(inner).unwrap();
    inner["RESPONSE_CODE"] == 9
}

#[tokio::test]
async fn forged_hashes_are_refused() {
    let sim = start_sim().await;
    let card = register(&sim.gateway(), "cust-1", CARD).await;
    let forged = Credentials {
        secret_key: Secret::new("not-the-secret"),
        ..credentials(&sim.merchant)
    };
    let http = reqwest::Client::new();
    let calls = [
        (
            "/Vpos/Payment/CardStorageCardRegister",
            request::card_register(&forged, "cust-1", &test_card(CARD), ""),
        ),
        (
            "/Vpos/Payment/CardStorageCardList",
            request::card_list(&forged, "cust-1"),
        ),
        (
            "/Vpos/Payment/CardStorageCardDelete",
            request::card_delete(&forged, "cust-1", &card.tran_id, &card.token),
        ),
        (
            "/Vpos/v1/Payment",
            request::stored_card_payment(
                &forged,
                &stored_sale("cust-1", StoredCardId::Token(card.token.clone()), "1.00"),
                sanalpos_gateway::nkolay::codec::now_istanbul(),
            ),
        ),
    ];
    for (path, form) in calls {
        let text = http
            .post(sim.url(path))
            .form(&form)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(is_hash_error(&text), "{path}: {text}");
        assert!(!text.contains(CARD));
    }
    assert_eq!(sim.gateway().list_cards("cust-1").await.unwrap().len(), 1);
    assert!(sim.transactions().await.is_empty());
}

/// `base64(sha512(fields joined with "|"))`, the secret key being the last field.
fn hash(fields: &[&str]) -> String {
    STANDARD.encode(Sha512::digest(fields.join("|").as_bytes()))
}

#[test]
fn client_and_simulator_sign_the_documented_fields() {
    let key = "_viH5wUS4HiBmmw9uGybN";
    let c = Credentials {
        sx: Secret::new("118591467|sx-blob"),
        sx_list: Secret::new("118591467|sx-blob|list"),
        sx_cancel: Secret::new("118591467|sx-blob|cancel"),
        secret_key: Secret::new(key),
    };
    let signed = |form: &request::Form| {
        form.iter()
            .find(|(k, _)| *k == "hashDatav2")
            .map(|(_, v)| v.clone())
            .unwrap()
    };
    let sx = "118591467|sx-blob";

    let register = hash(&[sx, CARD, "123", key]);
    assert_eq!(
        signed(&request::card_register(&c, "cust-1", &test_card(CARD), "a")),
        register
    );
    assert_eq!(
        sanalpos_simulator::hash::card_register(sx, CARD, "123", key),
        register
    );

    let list = hash(&[sx, "cust-1", key]);
    assert_eq!(signed(&request::card_list(&c, "cust-1")), list);
    assert_eq!(sanalpos_simulator::hash::card_list(sx, "cust-1", key), list);

    let delete = hash(&[sx, "cust-1", "T1", "tok", key]);
    assert_eq!(
        signed(&request::card_delete(&c, "cust-1", "T1", "tok")),
        delete
    );
    assert_eq!(
        sanalpos_simulator::hash::card_delete(sx, "cust-1", "T1", "tok", key),
        delete
    );
}

/// A loopback port that counts the connections made to it.
async fn counting_port() -> (String, Arc<AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let count = Arc::new(AtomicUsize::new(0));
    let seen = Arc::clone(&count);
    tokio::spawn(async move {
        while listener.accept().await.is_ok() {
            seen.fetch_add(1, Ordering::SeqCst);
        }
    });
    (url, count)
}

#[tokio::test]
async fn other_protocols_refuse_a_stored_card_without_calling() {
    let (url, calls) = counting_port().await;
    let nestpay = nestpay::NestpayGateway::new(nestpay::NestpayConfig::new(
        url.clone(),
        url.clone(),
        nestpay::Credentials {
            client_id: "100".into(),
            api_user: "api".into(),
            api_password: Secret::new("pw"),
            store_key: Secret::new("key"),
        },
    ))
    .unwrap();
    let garanti = garanti::GarantiGateway::new(garanti::GarantiConfig::new(
        url.clone(),
        url.clone(),
        garanti::Credentials {
            merchant_id: "1".into(),
            terminal_id: "30691297".into(),
            prov_user: "PROVAUT".into(),
            prov_password: Secret::new("pw"),
            refund_user: "PROVRFN".into(),
            refund_password: Secret::new("pw"),
            store_key: Secret::new("key"),
        },
    ))
    .unwrap();
    let posnet = posnet::PosnetGateway::new(posnet::PosnetConfig::new(
        url.clone(),
        url.clone(),
        posnet::Credentials {
            mid: "6706598320".into(),
            tid: "67005551".into(),
            posnet_id: "27426".into(),
            enc_key: Secret::new("10,10,10,10,10,10,10,10"),
        },
    ))
    .unwrap();
    let gateways: [&dyn Gateway; 3] = [&nestpay, &garanti, &posnet];
    for gateway in gateways {
        let response = gateway
            .sale_with_stored_card(&stored_sale(
                "cust-1",
                StoredCardId::Token("t".into()),
                "1.00",
            ))
            .await;
        let Outcome::Failed(failure) = response.outcome else {
            panic!("{:?}", response.outcome)
        };
        assert_eq!(failure.kind, FailureKind::Invalid);
    }
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(calls.load(Ordering::SeqCst), 0);
    assert!(nkolay::PROTOCOL.info().capabilities.card_storage);
    assert!(!nestpay::PROTOCOL.info().capabilities.card_storage);
    assert!(!garanti::PROTOCOL.info().capabilities.card_storage);
    assert!(!posnet::PROTOCOL.info().capabilities.card_storage);
}
