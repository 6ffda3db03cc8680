//! 3D Secure end to end: the client starts the sale, a browser (posting forms by hand)
//! goes through the simulator's ACS page, the postback reaches a test listener, and the
//! client finishes the sale from it.

#![allow(clippy::unwrap_used)]

use crate::helpers::*;
use sanalpos_gateway::{
    ExpectedSale, Gateway, GatewayResponse, Outcome, Postback, ThreeDStart, UnknownReason,
};
use sanalpos_simulator::{MerchantConfig, PostbackHash};
use sanalpos_testkit::{parse_form, post_form};

/// What the cardholder does on the bank's page.
enum Action {
    Code(&'static str),
    Cancel,
}

struct Flow {
    expected: ExpectedSale,
    /// The postback the browser delivered, and to which URL (`ok` / `fail`).
    postback: Postback,
    landed_on: String,
}

async fn run_3d(sim: &Sim, pan: &str, action: Action) -> Flow {
    let listener = Listener::start().await;
    let request = sale(pan, "250.00");
    let start = sim.gateway().start_3d(&request, &listener.urls()).await;
    let ThreeDStart::Redirect {
        html, provider_ref, ..
    } = start
    else {
        panic!("3D did not start: {start:?}")
    };
    assert!(html.contains("id=\"form\""), "{html}");
    // The browser renders the answer's form, which posts itself to the ACS page.
    let form = parse_form(&html);
    let acs_page = post_form(&form.action, &form.fields).await;
    assert!(acs_page.contains("250,00"), "the ACS page shows the amount");
    assert!(
        !acs_page.contains(pan),
        "the ACS page shows only the masked card"
    );
    let acs_form = parse_form(&acs_page);
    let mut fields: Vec<(String, String)> = acs_form
        .fields
        .iter()
        .filter(|(k, _)| k != "code" && k != "action")
        .cloned()
        .collect();
    match action {
        Action::Code(code) => {
            fields.push(("code".into(), code.into()));
            fields.push(("action".into(), "submit".into()));
        }
        Action::Cancel => fields.push(("action".into(), "cancel".into())),
    }
    let result_page = post_form(&absolute(sim, &acs_form.action), &fields).await;
    // The result page posts itself to successUrl or failUrl.
    let back = parse_form(&result_page);
    post_form(&back.action, &back.fields).await;
    let (landed_on, body) = listener.last();
    Flow {
        expected: ExpectedSale {
            amount: request.amount,
            client_ref: request.client_ref.clone(),
            provider_ref,
            currency: sanalpos_core::Currency::Try,
            installments: 1,
            pre_auth: false,
            cardholder_ip: None,
        },
        postback: Postback::from_form(&body).unwrap(),
        landed_on,
    }
}

fn absolute(sim: &Sim, action: &str) -> String {
    if action.starts_with("http") {
        action.to_owned()
    } else {
        sim.url(action)
    }
}

async fn finish(sim: &Sim, flow: &Flow) -> GatewayResponse {
    sim.gateway()
        .finish_3d(&flow.postback, &flow.expected)
        .await
}

fn status_of(rows: &[serde_json::Value], reference: &str) -> String {
    rows.iter()
        .find(|r| {
            r.to_string().contains(reference)
                && r.to_string().to_ascii_uppercase().contains("SALES")
        })
        .map(|r| {
            r.as_object()
                .unwrap()
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case("status"))
                .map(|(_, v)| v.as_str().unwrap_or_default().to_owned())
                .unwrap_or_default()
        })
        .unwrap_or_else(|| panic!("no sale row for {reference} in {rows:?}"))
}

#[tokio::test]
async fn right_code_with_auto_complete_on() {
    let sim = start_sim().await;
    let flow = run_3d(&sim, "5200190006338608", Action::Code("123456")).await;
    assert_eq!(flow.landed_on, "ok");
    let response = finish(&sim, &flow).await;
    let Outcome::Approved(approval) = &response.outcome else {
        panic!("{:?}", response.outcome)
    };
    assert_eq!(
        Some(&approval.provider_ref),
        flow.expected.provider_ref.as_ref()
    );
    assert_eq!(approval.authorized_amount, Some(tl("250.00")));
    let rows = sim.transactions().await;
    assert_eq!(status_of(&rows, approval.provider_ref.as_str()), "SUCCESS");
}

#[tokio::test]
async fn published_3d_password_of_a_test_card_passes() {
    let sim = start_sim().await;
    let flow = run_3d(&sim, "5549603469426017", Action::Code("147852")).await;
    assert!(matches!(
        finish(&sim, &flow).await.outcome,
        Outcome::Approved(_)
    ));
}

#[tokio::test]
async fn right_code_with_auto_complete_off_needs_completion() {
    let mut merchant = MerchantConfig::generate();
    merchant.auto_complete = false;
    let sim = start_sim_with(merchant).await;
    let flow = run_3d(&sim, "4546711234567894", Action::Code("123456")).await;
    assert_eq!(flow.landed_on, "ok");
    let reference = flow.expected.provider_ref.clone().unwrap();
    // Only pre-approved until CompletePayment.
    assert_eq!(
        status_of(&sim.transactions().await, reference.as_str()),
        "NEW"
    );
    let response = finish(&sim, &flow).await;
    assert!(
        matches!(response.outcome, Outcome::Approved(_)),
        "{:?}",
        response.outcome
    );
    assert_eq!(
        status_of(&sim.transactions().await, reference.as_str()),
        "SUCCESS"
    );
}

#[tokio::test]
async fn auto_complete_off_on_the_client_is_harmless_when_the_panel_has_it_on() {
    let sim = start_sim().await;
    let flow = run_3d(&sim, "4546711234567894", Action::Code("123456")).await;
    let gateway = sim.gateway_with(|c| c.auto_complete = false);
    let response = gateway.finish_3d(&flow.postback, &flow.expected).await;
    assert!(
        matches!(response.outcome, Outcome::Approved(_)),
        "{:?}",
        response.outcome
    );
}

#[tokio::test]
async fn wrong_code_is_declined() {
    let sim = start_sim().await;
    let flow = run_3d(&sim, "4546711234567894", Action::Code("000000")).await;
    assert_eq!(flow.landed_on, "fail");
    let response = finish(&sim, &flow).await;
    let Outcome::Declined(decline) = &response.outcome else {
        panic!("{:?}", response.outcome)
    };
    assert!(decline.message.tr.contains("3D"), "{decline:?}");
}

#[tokio::test]
async fn cancel_button_is_declined_and_nothing_charged() {
    let sim = start_sim().await;
    let flow = run_3d(&sim, "4546711234567894", Action::Cancel).await;
    assert_eq!(flow.landed_on, "fail");
    assert!(matches!(
        finish(&sim, &flow).await.outcome,
        Outcome::Declined(_)
    ));
    let reference = flow.expected.provider_ref.clone().unwrap();
    assert_ne!(
        status_of(&sim.transactions().await, reference.as_str()),
        "SUCCESS"
    );
}

#[tokio::test]
async fn abandoned_page_stays_new() {
    let sim = start_sim().await;
    let listener = Listener::start().await;
    let request = sale("4546711234567894", "75.00");
    let ThreeDStart::Redirect {
        html, provider_ref, ..
    } = sim.gateway().start_3d(&request, &listener.urls()).await
    else {
        panic!()
    };
    let form = parse_form(&html);
    post_form(&form.action, &form.fields).await; // the page opens, nobody answers it
    let reference = provider_ref.expect("3D start names the pending sale");
    assert_eq!(
        status_of(&sim.transactions().await, reference.as_str()),
        "NEW"
    );
    let inquiry = sim
        .gateway()
        .inquiry(&sanalpos_gateway::InquiryRequest {
            client_ref: request.client_ref.clone(),
            date: sanalpos_gateway::nkolay::codec::now_istanbul().date_naive(),
            amount: request.amount,
        })
        .await
        .unwrap();
    assert!(
        matches!(inquiry, sanalpos_gateway::Inquiry::Pending),
        "{inquiry:?}"
    );
    assert!(listener.received.lock().unwrap().is_empty());
}

#[tokio::test]
async fn postback_hash_without_currency_code_is_accepted() {
    let mut merchant = MerchantConfig::generate();
    merchant.postback_hash = PostbackHash::WithoutCurrency;
    let sim = start_sim_with(merchant).await;
    let flow = run_3d(&sim, "4546711234567894", Action::Code("123456")).await;
    assert!(flow.postback.get("CURRENCY_CODE").is_none());
    assert!(matches!(
        finish(&sim, &flow).await.outcome,
        Outcome::Approved(_)
    ));
}

#[tokio::test]
async fn forged_postbacks_change_nothing() {
    let sim = start_sim().await;
    let flow = run_3d(&sim, "4546711234567894", Action::Code("123456")).await;

    // A tampered amount breaks the signature.
    let tampered: Vec<(String, String)> = flow
        .postback
        .fields()
        .iter()
        .map(|(k, v)| {
            if k == "AUTHORIZATION_AMOUNT" {
                (k.clone(), "2500.00".into())
            } else {
                (k.clone(), v.clone())
            }
        })
        .collect();
    let forged = Flow {
        postback: Postback::from_pairs(tampered),
        ..flow_clone(&flow)
    };
    assert_eq!(
        finish(&sim, &forged).await.outcome,
        Outcome::Unknown(UnknownReason::SignatureInvalid)
    );

    // A genuine postback of another payment, replayed at this one.
    let other = run_3d(&sim, "4546711234567894", Action::Code("123456")).await;
    let replayed = Flow {
        postback: other.postback.clone(),
        ..flow_clone(&flow)
    };
    assert!(matches!(
        finish(&sim, &replayed).await.outcome,
        Outcome::Unknown(UnknownReason::Inconsistent(_))
    ));

    // Swapping the unsigned CLIENT_REFERENCE_CODE does not make it ours either.
    let swapped: Vec<(String, String)> = other
        .postback
        .fields()
        .iter()
        .map(|(k, v)| {
            if k == "CLIENT_REFERENCE_CODE" {
                (k.clone(), flow.expected.client_ref.to_string())
            } else {
                (k.clone(), v.clone())
            }
        })
        .collect();
    let swapped = Flow {
        postback: Postback::from_pairs(swapped),
        ..flow_clone(&flow)
    };
    assert!(matches!(
        finish(&sim, &swapped).await.outcome,
        Outcome::Unknown(UnknownReason::Inconsistent(_))
    ));

    // A postback whose signature was made with another key.
    let wrong_key =
        sim.gateway_with(|c| c.credentials.secret_key = sanalpos_core::Secret::new("x"));
    assert_eq!(
        wrong_key
            .finish_3d(&flow.postback, &flow.expected)
            .await
            .outcome,
        Outcome::Unknown(UnknownReason::SignatureInvalid)
    );
}

fn flow_clone(flow: &Flow) -> Flow {
    Flow {
        expected: flow.expected.clone(),
        postback: flow.postback.clone(),
        landed_on: flow.landed_on.clone(),
    }
}
