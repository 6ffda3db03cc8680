//! N Kolay pre-authorisation against the simulator over HTTP: block, capture all or
//! part, release, the list, the refusals of the simulator and of the client, a forged
//! hash, and a pre-authorisation through 3D Secure. The hashes of the three new calls
//! are checked against one formula computed here, apart from client and simulator.

#![allow(clippy::unwrap_used)]

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use chrono::NaiveDate;
use sha2::{Digest, Sha512};

use crate::helpers::*;
use sanalpos_core::{Currency, Kurus, ProviderRef, Secret};
use sanalpos_gateway::nkolay::codec::now_istanbul;
use sanalpos_gateway::nkolay::{request, Credentials, PreAuthStatus};
use sanalpos_gateway::{
    Approval, CaptureRequest, ExpectedSale, FailureKind, Gateway, Inquiry, InquiryRequest, Outcome,
    Postback, ReleaseRequest, SaleRequest, ThreeDStart,
};
use sanalpos_testkit::{parse_form, post_form};

const CARD: &str = "4546711234567894";

fn pre_auth(amount: &str) -> SaleRequest {
    SaleRequest {
        pre_auth: true,
        ..sale(CARD, amount)
    }
}

async fn approved_pre_auth(sim: &Sim, amount: &str) -> (SaleRequest, Approval) {
    let request = pre_auth(amount);
    let response = sim.gateway().sale(&request).await;
    let Outcome::Approved(approval) = response.outcome else {
        panic!("{:?}", response.outcome)
    };
    (request, approval)
}

fn capture_of(request: &SaleRequest, approval: &Approval, amount: &str) -> CaptureRequest {
    CaptureRequest {
        provider_ref: approval.provider_ref.clone(),
        client_ref: request.client_ref.clone(),
        authorized: request.amount,
        amount: tl(amount),
        currency: Currency::Try,
        pre_auth_date: now_istanbul().date_naive(),
    }
}

fn release_of(request: &SaleRequest, approval: &Approval) -> ReleaseRequest {
    ReleaseRequest {
        provider_ref: approval.provider_ref.clone(),
        client_ref: request.client_ref.clone(),
        pre_auth_date: now_istanbul().date_naive(),
        authorized: request.amount,
        currency: Currency::Try,
    }
}

/// The ledger rows of one kind (`PRESALES`, `PRESALES_APPROVE`, ...).
/// The reference of the simulator's one capture row.
async fn captured_ref(sim: &Sim) -> ProviderRef {
    let rows = sim.transactions().await;
    let capture = rows_of(&rows, "PRESALES_APPROVE")[0]["reference_code"]
        .as_str()
        .unwrap()
        .to_owned();
    ProviderRef::parse(&capture).unwrap()
}

fn rows_of<'a>(rows: &'a [serde_json::Value], kind: &str) -> Vec<&'a serde_json::Value> {
    rows.iter().filter(|r| r["kind"] == kind).collect()
}

fn declined_with(outcome: &Outcome, code: &str) {
    let Outcome::Declined(d) = outcome else {
        panic!("not a decline: {outcome:?}")
    };
    assert_eq!(
        d.bank_code.as_ref().map(|c| c.as_str()),
        Some(code),
        "{d:?}"
    );
}

async fn list_status(sim: &Sim, reference: &ProviderRef) -> PreAuthStatus {
    let today = now_istanbul().date_naive();
    let rows = sim.gateway().pre_auth_list(today, today).await.unwrap();
    rows.into_iter()
        .find(|r| &r.provider_ref == reference)
        .map(|r| r.status)
        .unwrap_or_else(|| panic!("{reference:?} is not in the list"))
}

#[tokio::test]
async fn partial_capture_charges_part_and_frees_the_rest() {
    let sim = start_sim().await;
    let (request, approval) = approved_pre_auth(&sim, "100.00").await;
    assert_eq!(approval.authorized_amount, Some(tl("100.00")));

    // The ledger holds a block, not a sale.
    let rows = sim.transactions().await;
    assert_eq!(rows_of(&rows, "PRESALES").len(), 1, "{rows:?}");
    assert!(rows_of(&rows, "SALES").is_empty());

    // The list shows it open, with its amount and our reference.
    let today = now_istanbul().date_naive();
    let list = sim.gateway().pre_auth_list(today, today).await.unwrap();
    let row = list
        .iter()
        .find(|r| r.provider_ref == approval.provider_ref)
        .unwrap();
    assert_eq!(row.status, PreAuthStatus::Open);
    assert_eq!(row.amount, tl("100.00"));
    assert_eq!(row.client_ref.as_ref(), Some(&request.client_ref));
    assert!(row.time.is_some());

    let response = sim
        .gateway()
        .capture(&capture_of(&request, &approval, "60.00"))
        .await;
    let Outcome::Approved(captured) = response.outcome else {
        panic!("{:?}", response.outcome)
    };
    assert_eq!(captured.authorized_amount, Some(tl("60.00")));
    assert_ne!(captured.provider_ref, approval.provider_ref);

    // The capture is the sale: 60.00 charged; the other 40.00 are no longer blocked.
    let rows = sim.transactions().await;
    let capture_rows = rows_of(&rows, "PRESALES_APPROVE");
    assert_eq!(capture_rows.len(), 1, "{rows:?}");
    assert_eq!(capture_rows[0]["amount"], "60.00");
    assert_eq!(capture_rows[0]["status"], "SUCCESS");
    assert_eq!(
        capture_rows[0]["sale_reference_code"],
        approval.provider_ref.as_str()
    );
    assert_eq!(
        list_status(&sim, &approval.provider_ref).await,
        PreAuthStatus::Captured
    );

    // The inquiry by our reference tells the capture: how much, under which reference
    // (what the janitor settles an unanswered capture by).
    let found = sim
        .gateway()
        .inquiry(&InquiryRequest {
            client_ref: request.client_ref.clone(),
            date: today,
            amount: tl("60.00"),
        })
        .await
        .unwrap();
    let Inquiry::Approved {
        approval: seen,
        captured,
        cancelled,
        ..
    } = found
    else {
        panic!("{found:?}")
    };
    assert_eq!(captured, Some(tl("60.00")));
    assert!(!cancelled);
    assert_eq!(seen.provider_ref, captured_ref(&sim).await);

    // Closed for good: a second capture, and a release after the capture, are refused.
    let again = sim
        .gateway()
        .capture(&capture_of(&request, &approval, "40.00"))
        .await;
    declined_with(&again.outcome, "12");
    let release = sim
        .gateway()
        .release(&release_of(&request, &approval))
        .await;
    declined_with(&release.outcome, "12");
    assert_eq!(sim.transactions().await.len(), 2);
}

#[tokio::test]
async fn release_frees_the_whole_block() {
    let sim = start_sim().await;
    let (request, approval) = approved_pre_auth(&sim, "50.00").await;
    let response = sim
        .gateway()
        .release(&release_of(&request, &approval))
        .await;
    let Outcome::Approved(released) = response.outcome else {
        panic!("{:?}", response.outcome)
    };
    assert_ne!(released.provider_ref, approval.provider_ref);
    let rows = sim.transactions().await;
    assert_eq!(rows_of(&rows, "PRESALES_CANCEL").len(), 1, "{rows:?}");
    assert!(rows_of(&rows, "PRESALES_APPROVE").is_empty());
    assert_eq!(
        list_status(&sim, &approval.provider_ref).await,
        PreAuthStatus::Released
    );
    let found = sim
        .gateway()
        .inquiry(&InquiryRequest {
            client_ref: request.client_ref.clone(),
            date: now_istanbul().date_naive(),
            amount: tl("50.00"),
        })
        .await
        .unwrap();
    assert!(
        matches!(
            found,
            Inquiry::Approved {
                cancelled: true,
                captured: None,
                ..
            }
        ),
        "{found:?}"
    );
    // Nothing left to capture.
    let capture = sim
        .gateway()
        .capture(&capture_of(&request, &approval, "50.00"))
        .await;
    declined_with(&capture.outcome, "12");
}

#[tokio::test]
async fn a_capture_above_the_authorised_amount_is_refused_without_a_call() {
    let sim = start_sim().await;
    let (request, approval) = approved_pre_auth(&sim, "100.00").await;
    for amount in ["100.01", "0.00"] {
        let response = sim
            .gateway()
            .capture(&capture_of(&request, &approval, amount))
            .await;
        assert!(
            matches!(&response.outcome, Outcome::Failed(f) if f.kind == FailureKind::Invalid),
            "{:?}",
            response.outcome
        );
        assert_eq!(response.http_status, None, "nothing was sent");
    }
    assert_eq!(sim.transactions().await.len(), 1);
    // The simulator refuses it too, should a client send it.
    let mut too_much = capture_of(&request, &approval, "100.01");
    too_much.authorized = tl("200.00");
    let response = sim.gateway().capture(&too_much).await;
    declined_with(&response.outcome, "13");
    assert_eq!(sim.transactions().await.len(), 1);
}

#[tokio::test]
async fn the_simulator_refuses_what_it_does_not_know() {
    let sim = start_sim().await;
    let (request, approval) = approved_pre_auth(&sim, "30.00").await;
    // An unknown reference.
    let unknown = Approval {
        provider_ref: ProviderRef::parse("IKSIRPF0000000000").unwrap(),
        ..approval.clone()
    };
    let response = sim
        .gateway()
        .capture(&capture_of(&request, &unknown, "30.00"))
        .await;
    declined_with(&response.outcome, "25");
    // The right reference on another date.
    let mut wrong_day = capture_of(&request, &approval, "30.00");
    wrong_day.pre_auth_date = wrong_day.pre_auth_date.pred_opt().unwrap();
    declined_with(&sim.gateway().capture(&wrong_day).await.outcome, "25");
    // A sale is not a pre-authorisation.
    let sold = sale(CARD, "30.00");
    let Outcome::Approved(sold_approval) = sim.gateway().sale(&sold).await.outcome else {
        panic!()
    };
    let response = sim
        .gateway()
        .capture(&capture_of(&sold, &sold_approval, "30.00"))
        .await;
    declined_with(&response.outcome, "25");
    // Another merchant's sx.
    let stranger = sim.gateway_with(|c| c.credentials.sx = Secret::new("1|not-ours"));
    let response = stranger
        .capture(&capture_of(&request, &approval, "30.00"))
        .await;
    assert!(
        matches!(&response.outcome, Outcome::Failed(f) if f.kind == FailureKind::BadCredentials),
        "{:?}",
        response.outcome
    );
    // Nothing changed: the block is still open.
    assert_eq!(
        list_status(&sim, &approval.provider_ref).await,
        PreAuthStatus::Open
    );
    assert_eq!(sim.transactions().await.len(), 2);
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
async fn a_forged_hash_is_refused() {
    let sim = start_sim().await;
    let (_, approval) = approved_pre_auth(&sim, "80.00").await;
    let credentials = credentials(&sim.merchant);
    let today = now_istanbul().date_naive();
    let forged = Credentials {
        secret_key: Secret::new("not-the-secret"),
        ..credentials.clone()
    };
    let http = reqwest::Client::new();
    let calls = [
        (
            "/Vpos/Payment/PreAuthorizationAprove",
            request::pre_auth_capture(&forged, &approval.provider_ref, tl("80.00"), today),
        ),
        (
            "/Vpos/Payment/PreAuthorizationCancel",
            request::pre_auth_release(&forged, &approval.provider_ref, tl("80.00"), today),
        ),
        (
            "/Vpos/Payment/PreAuthorizationList",
            request::pre_auth_list(&forged, today, today),
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
    }
    // A hash over the right fields in the wrong order is as wrong.
    let tomorrow = today.succ_opt().unwrap();
    let mut swapped = request::pre_auth_list(&credentials, today, tomorrow);
    let (start, end) = (
        today.format("%Y-%m-%d").to_string(),
        tomorrow.format("%Y-%m-%d").to_string(),
    );
    let end_last = hash(&[
        sim.merchant.sx_list.as_str(),
        start.as_str(),
        end.as_str(),
        sim.merchant.secret_key.as_str(),
    ]);
    swapped.retain(|(k, _)| *k != "hashDatav2");
    swapped.push(("hashDatav2", end_last));
    let text = http
        .post(sim.url("/Vpos/Payment/PreAuthorizationList"))
        .form(&swapped)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(is_hash_error(&text), "{text}");
    assert_eq!(sim.transactions().await.len(), 1);
}

#[tokio::test]
async fn a_pre_authorisation_through_3d() {
    let sim = start_sim().await;
    let listener = Listener::start().await;
    let request = pre_auth("120.00");
    let start = sim.gateway().start_3d(&request, &listener.urls()).await;
    let ThreeDStart::Redirect {
        html, provider_ref, ..
    } = start
    else {
        panic!("3D did not start: {start:?}")
    };
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
        pre_auth: true,
        cardholder_ip: None,
    };
    let response = sim
        .gateway()
        .finish_3d(&Postback::from_form(&body).unwrap(), &expected)
        .await;
    let Outcome::Approved(approval) = response.outcome else {
        panic!("{:?}", response.outcome)
    };
    let rows = sim.transactions().await;
    let blocks = rows_of(&rows, "PRESALES");
    assert_eq!(blocks.len(), 1, "{rows:?}");
    assert_eq!(blocks[0]["status"], "SUCCESS");
    assert_eq!(blocks[0]["is_3d"], true);
    assert_eq!(
        list_status(&sim, &approval.provider_ref).await,
        PreAuthStatus::Open
    );
    let captured = sim
        .gateway()
        .capture(&capture_of(&request, &approval, "120.00"))
        .await;
    assert!(
        matches!(captured.outcome, Outcome::Approved(_)),
        "{:?}",
        captured.outcome
    );
}

/// `base64(sha512(fields joined with "|"))`, the secret key being the last field.
fn hash(fields: &[&str]) -> String {
    STANDARD.encode(Sha512::digest(fields.join("|").as_bytes()))
}

#[test]
fn client_and_simulator_sign_the_documented_fields() {
    let c = Credentials {
        sx: Secret::new("118591467|sx-blob"),
        sx_list: Secret::new("118591467|sx-blob|list"),
        sx_cancel: Secret::new("118591467|sx-blob|cancel"),
        secret_key: Secret::new("_viH5wUS4HiBmmw9uGybN"),
    };
    let key = "_viH5wUS4HiBmmw9uGybN";
    let reference = ProviderRef::parse("IKSIRPF0123456789").unwrap();
    let day = NaiveDate::from_ymd_opt(2026, 10, 5).unwrap();
    let next = NaiveDate::from_ymd_opt(2026, 10, 6).unwrap();
    let amount = Kurus::parse("1234.50").unwrap();
    let signed = |form: &request::Form| {
        form.iter()
            .find(|(k, _)| *k == "hashDatav2")
            .map(|(_, v)| v.clone())
            .unwrap()
    };

    let capture = hash(&[
        "118591467|sx-blob",
        "2026-10-05",
        "1234.50",
        "IKSIRPF0123456789",
        key,
    ]);
    assert_eq!(
        signed(&request::pre_auth_capture(&c, &reference, amount, day)),
        capture
    );
    assert_eq!(
        sanalpos_simulator::hash::pre_auth_capture(
            "118591467|sx-blob",
            "2026-10-05",
            "1234.50",
            "IKSIRPF0123456789",
            key
        ),
        capture
    );

    let release = hash(&[
        "118591467|sx-blob",
        "2026-10-05",
        "1234.50",
        "IKSIRPF0123456789",
        "PRESALES",
        key,
    ]);
    assert_eq!(
        signed(&request::pre_auth_release(&c, &reference, amount, day)),
        release
    );
    assert_eq!(
        sanalpos_simulator::hash::pre_auth_release(
            "118591467|sx-blob",
            "2026-10-05",
            "1234.50",
            "IKSIRPF0123456789",
            "PRESALES",
            key
        ),
        release
    );

    let list = hash(&["118591467|sx-blob|list", "2026-10-06", "2026-10-05", key]);
    assert_eq!(signed(&request::pre_auth_list(&c, day, next)), list);
    assert_eq!(
        sanalpos_simulator::hash::pre_auth_list(
            "118591467|sx-blob|list",
            "2026-10-06",
            "2026-10-05",
            key
        ),
        list
    );
    assert_eq!(list.len(), 88);
}
