//! Non-3D sales against the simulator over real HTTP: approvals, every magic card,
//! every fault card, and what the simulator refuses.

#![allow(clippy::unwrap_used)]

use crate::helpers::*;
use sanalpos_core::BankCode;
use sanalpos_gateway::{
    FailureKind, Gateway, Inquiry, InquiryRequest, Outcome, SaleRequest, UnknownReason,
};

async fn inquire(sim: &Sim, request: &SaleRequest) -> Inquiry {
    sim.gateway()
        .inquiry(&InquiryRequest {
            client_ref: request.client_ref.clone(),
            date: sanalpos_gateway::nkolay::codec::now_istanbul().date_naive(),
            amount: request.amount,
        })
        .await
        .unwrap()
}

#[tokio::test]
async fn official_test_cards_are_approved_and_found_by_inquiry() {
    let sim = start_sim().await;
    let gateway = sim.gateway();
    for (pan, month, year, cvv) in [
        ("4546711234567894", "12", "2026", "000"),
        ("5200190006338608", "01", "2030", "410"),
        ("4155650100416111", "01", "2030", "715"),
    ] {
        let mut request = sale(pan, "150.00");
        request.card = card(pan, month, year, cvv);
        let response = gateway.sale(&request).await;
        let Outcome::Approved(approval) = &response.outcome else {
            panic!("{pan}: {:?}", response.outcome)
        };
        assert!(approval.auth_code.is_some());
        assert!(approval.provider_ref.as_str().starts_with("IKSIRPF"));
        assert_eq!(approval.authorized_amount, Some(tl("150.00")));
        let raw = response.raw.expect("raw answer kept");
        assert!(
            !raw.contains(pan),
            "raw answer must not carry the card number"
        );
        match inquire(&sim, &request).await {
            Inquiry::Approved {
                approval: found,
                reversed,
                cancelled,
                ..
            } => {
                assert_eq!(found.provider_ref, approval.provider_ref);
                assert_eq!(reversed, tl("0"));
                assert!(!cancelled);
            }
            other => panic!("{other:?}"),
        }
    }
}

#[tokio::test]
async fn every_magic_card_gives_its_bank_code_and_turkish_message() {
    let sim = start_sim().await;
    let gateway = sim.gateway();
    for &(pan, code) in sanalpos_simulator::cards::MAGIC_DECLINES {
        let response = gateway.sale(&sale(pan, "10.00")).await;
        let Outcome::Declined(decline) = response.outcome else {
            panic!("{pan}: {:?}", response.outcome)
        };
        let expected = BankCode::parse(code).unwrap();
        assert_eq!(decline.bank_code.as_ref(), Some(&expected), "{pan}");
        assert_eq!(decline.message, expected.message(), "{pan}");
    }
    let declined = gateway.sale(&sale("4000000000000416", "10.00")).await;
    let Outcome::Declined(d) = declined.outcome else {
        panic!()
    };
    assert_eq!(d.message.tr, "Kayıp kart! Karta el koyunuz");
    let declined = gateway.sale(&sale("4000000000000515", "10.00")).await;
    let Outcome::Declined(d) = declined.outcome else {
        panic!()
    };
    assert!(d.message.tr.starts_with("Yetersiz bakiye"));
}

#[tokio::test]
async fn expired_card_is_declined_54() {
    let sim = start_sim().await;
    let mut request = sale("4546711234567894", "10.00");
    request.card = card("4546711234567894", "01", "2020", "000");
    let Outcome::Declined(d) = sim.gateway().sale(&request).await.outcome else {
        panic!()
    };
    assert_eq!(d.bank_code.unwrap().as_str(), "54");
}

/// Each fault card: the outcome the client must give, and what a later inquiry finds.
#[tokio::test]
async fn fault_cards_give_the_normalized_outcome() {
    let sim = start_sim().await;
    let gateway = sim.gateway();
    let timeout = Outcome::Unknown(UnknownReason::Timeout);
    let http_500 = Outcome::Unknown(UnknownReason::ServerError(500));
    let cases = [
        ("4000000000009011", timeout, true),
        ("4000000000009029", http_500.clone(), true),
        ("4000000000009037", http_500, false),
        (
            "4000000000009045",
            Outcome::Unknown(UnknownReason::Unparseable),
            true,
        ),
        (
            "4000000000009052",
            Outcome::Unknown(UnknownReason::SignatureInvalid),
            true,
        ),
        (
            "4000000000009060",
            Outcome::Unknown(UnknownReason::ConnectionLost),
            false,
        ),
    ];
    for (pan, expected, charged) in cases {
        let request = sale(pan, "20.00");
        let response = gateway.sale(&request).await;
        assert_eq!(response.outcome, expected, "{pan}");
        match (inquire(&sim, &request).await, charged) {
            (Inquiry::Approved { approval, .. }, true) => {
                assert_eq!(approval.authorized_amount, Some(tl("20.00")), "{pan}")
            }
            (Inquiry::NotFound, false) => {}
            (other, _) => panic!("{pan}: inquiry gave {other:?}, charged = {charged}"),
        }
    }
}

#[tokio::test]
async fn first_call_503_then_approves() {
    let sim = start_sim().await;
    let gateway = sim.gateway();
    let first = sale("4000000000009078", "30.00");
    assert_eq!(
        gateway.sale(&first).await.outcome,
        Outcome::Unknown(UnknownReason::ServerError(503))
    );
    assert!(matches!(inquire(&sim, &first).await, Inquiry::NotFound));
    let second = gateway.sale(&sale("4000000000009078", "30.00")).await;
    assert!(
        matches!(second.outcome, Outcome::Approved(_)),
        "{:?}",
        second.outcome
    );
}

#[tokio::test]
async fn wrong_secret_and_wrong_sx_are_refused() {
    let sim = start_sim().await;
    let wrong_key = sim.gateway_with(|c| {
        c.credentials.secret_key = sanalpos_core::Secret::new("not-the-key");
    });
    let outcome = wrong_key
        .sale(&sale("4546711234567894", "10.00"))
        .await
        .outcome;
    assert!(
        matches!(&outcome, Outcome::Failed(f) if f.kind == FailureKind::BadCredentials),
        "{outcome:?}"
    );
    let wrong_sx = sim.gateway_with(|c| {
        c.credentials.sx = sanalpos_core::Secret::new("999999999|AAAA");
    });
    let outcome = wrong_sx
        .sale(&sale("4546711234567894", "10.00"))
        .await
        .outcome;
    assert!(
        matches!(&outcome, Outcome::Failed(f) if f.kind == FailureKind::BadCredentials),
        "{outcome:?}"
    );
    // Nothing was charged by either.
    assert!(sim.transactions().await.is_empty());
}

#[tokio::test]
async fn an_ip_the_provider_does_not_know_is_refused() {
    let mut merchant = sanalpos_simulator::MerchantConfig::generate();
    merchant.allowed_ips = Some(vec!["10.20.30.40".parse().unwrap()]);
    let sim = start_sim_with(merchant).await;
    let outcome = sim
        .gateway()
        .sale(&sale("4546711234567894", "10.00"))
        .await
        .outcome;
    let Outcome::Failed(failure) = outcome else {
        panic!("{outcome:?}")
    };
    assert_eq!(failure.kind, FailureKind::IpNotAllowed);
    assert!(failure.detail.contains("127.0.0.1"), "{}", failure.detail);
}

#[tokio::test]
async fn unreachable_provider_is_a_failure_not_unknown() {
    // Bind and drop a listener to find a port nobody listens on.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let sim = start_sim().await;
    let gateway = sim.gateway_with(|c| c.base_url = format!("http://127.0.0.1:{port}"));
    let outcome = gateway
        .sale(&sale("4546711234567894", "10.00"))
        .await
        .outcome;
    assert!(
        matches!(&outcome, Outcome::Failed(f) if f.kind == FailureKind::Unreachable),
        "{outcome:?}"
    );
}

/// Requests the client would never build, sent by hand: the simulator refuses them
/// like the real service.
#[tokio::test]
async fn simulator_refuses_malformed_requests() {
    use sanalpos_gateway::nkolay::signing::hash_v2;
    let sim = start_sim().await;
    let m = &sim.merchant;
    let http = reqwest::Client::new();
    let rnd = "29-11-2026 10:00:00";
    let payment = |amount: &str, hash_amount: &str| {
        let hash = hash_v2(
            &[m.sx.as_str(), "raw1", hash_amount, "", "", rnd, ""],
            &m.secret_key,
        );
        vec![
            ("sx", m.sx.clone()),
            ("clientRefCode", "raw1".into()),
            ("successUrl", String::new()),
            ("failUrl", String::new()),
            ("amount", amount.to_owned()),
            ("installmentNo", "1".into()),
            ("cardHolderName", "Test".into()),
            ("cardNumber", "4546711234567894".into()),
            ("month", "12".into()),
            ("year", "2030".into()),
            ("cvv", "000".into()),
            ("use3D", "false".into()),
            ("transactionType", "SALES".into()),
            ("rnd", rnd.into()),
            ("environment", "API".into()),
            ("hashDatav2", hash),
        ]
    };
    let post = |path: &str, form: Vec<(&str, String)>| {
        let request = http.post(sim.url(path)).form(&form);
        async move { request.send().await.unwrap().text().await.unwrap() }
    };
    let three_decimals = post("/Vpos/v1/Payment", payment("150.005", "150.005")).await;
    assert!(
        three_decimals.contains("\"RESPONSE_CODE\":\"0\""),
        "{three_decimals}"
    );
    assert!(three_decimals.contains("amount"), "{three_decimals}");
    assert!(!three_decimals.contains("4546711234567894"));

    let wrong_hash = post("/Vpos/v1/Payment", payment("150.00", "151.00")).await;
    assert!(wrong_hash.contains("hashData error"), "{wrong_hash}");

    let list = |start: &str, end: &str| {
        let hash = hash_v2(&[m.sx_list.as_str(), start, end, ""], &m.secret_key);
        vec![
            ("sx", m.sx_list.clone()),
            ("startDate", start.to_owned()),
            ("endDate", end.to_owned()),
            ("clientRefCode", String::new()),
            ("hashDatav2", hash),
        ]
    };
    let forty_days = post(
        "/Vpos/Payment/PaymentList",
        list("01.10.2026", "10.11.2026"),
    )
    .await;
    assert!(forty_days.contains("1 ay"), "{forty_days}");
    let bad_date = post(
        "/Vpos/Payment/PaymentList",
        list("2026-10-01", "2026-10-02"),
    )
    .await;
    assert!(bad_date.contains("\"RESPONSE_CODE\":\"0\""), "{bad_date}");
    let ok = post(
        "/Vpos/Payment/PaymentList",
        list("01.10.2026", "31.10.2026"),
    )
    .await;
    assert!(
        ok.contains("CORE0305"),
        "an empty month is 'no records': {ok}"
    );
    assert!(sim.transactions().await.is_empty(), "nothing was charged");

    // The client refuses a 40-day window before sending it.
    let from = chrono::NaiveDate::from_ymd_opt(2026, 10, 1).unwrap();
    let to = chrono::NaiveDate::from_ymd_opt(2026, 11, 10).unwrap();
    assert!(matches!(
        sim.gateway().payment_list(from, to, "").await,
        Err(sanalpos_gateway::GatewayError::Invalid(_))
    ));
}
