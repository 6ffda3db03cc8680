//! Recovery by the janitor, judged by the simulator's own ledger, on SQLite and
//! PostgreSQL: every fault card ends in its true state, a payment left `processing` by
//! a crash is resolved by inquiry, abandoned 3D payments expire, and no sale is ever
//! sent twice.

#![allow(clippy::unwrap_used)]

use std::time::Duration;

use crate::helpers::*;
use sanalpos_core::{ClientRef, Currency, Kurus};
use sanalpos_gateway::nkolay::{NkolayConfig, NkolayGateway};
use sanalpos_gateway::{Card, Gateway, SaleRequest};
use sanalpos_service::*;
use sanalpos_store::testing::for_each_engine;
use sanalpos_store::{
    new_id, now_ms, AttemptRecord, AttemptState, Crypto, Operation, PaymentRecord, Store,
};

/// (card, charged by the simulator, final status).
const FAULTS: &[(&str, bool, PaymentStatus)] = &[
    ("4000000000009011", true, PaymentStatus::Approved), // slow answer: timeout
    ("4000000000009029", true, PaymentStatus::Approved), // charged, then HTTP 500
    ("4000000000009037", false, PaymentStatus::Failed),  // not charged, HTTP 500
    ("4000000000009045", true, PaymentStatus::Approved), // charged, truncated answer
    ("4000000000009052", true, PaymentStatus::Approved), // charged, wrong hash
    ("4000000000009060", false, PaymentStatus::Failed),  // not charged, dropped
    ("4000000000009078", false, PaymentStatus::Failed),  // not charged, 503 once
];

#[tokio::test]
async fn every_fault_card_ends_in_its_true_state() {
    for_each_engine(
        "every_fault_card_ends_in_its_true_state",
        |store| async move {
            let w = world_on(store, "A").await;
            let mut tasks = Vec::new();
            for (card, _, _) in FAULTS {
                let service = w.service.clone();
                let actor = w.actor.clone();
                tasks.push(tokio::spawn(async move {
                    service
                        .create_payment(&actor, payment(card, "75.00"))
                        .await
                        .unwrap()
                }));
            }
            let mut views = Vec::new();
            for t in tasks {
                views.push(t.await.unwrap());
            }
            for (view, (card, _, _)) in views.iter().zip(FAULTS) {
                assert_eq!(view.status, PaymentStatus::Unknown, "{card}: {view:?}");
            }
            // Too early: calls may still be running; nothing is touched.
            let early = w.service.run_janitor_once().await.unwrap();
            assert_eq!(early.resolved, 0, "{early:?}");
            // Once the calls are surely over and the grace has passed, one pass resolves all.
            tokio::time::sleep(Duration::from_millis(3200)).await;
            let report = w.service.run_janitor_once().await.unwrap();
            assert_eq!(report.resolved as usize, FAULTS.len(), "{report:?}");
            for (view, (card, charged, status)) in views.iter().zip(FAULTS) {
                let detail = w
                    .service
                    .get_payment(&w.company.id, &view.id)
                    .await
                    .unwrap();
                assert_eq!(detail.payment.status, *status, "{card}: {detail:?}");
                assert_eq!(w.charged(&view.id).await, *charged, "{card}");
                assert!(detail
                    .attempts
                    .iter()
                    .any(|a| a.operation == sanalpos_store::Operation::Inquiry));
                let sales = detail
                    .attempts
                    .iter()
                    .filter(|a| a.operation == sanalpos_store::Operation::Sale)
                    .count();
                assert_eq!(sales, 1, "{card}: the sale was sent once");
                if *status == PaymentStatus::Approved {
                    assert!(detail.payment.auth_code.is_some());
                    let message = detail.payment.message.as_ref().map(|m| m.en.as_str());
                    assert_eq!(message, Some("Approved"), "the unknown message is replaced");
                }
            }
            // Nothing left to do; the audit chain holds.
            let again = w.service.run_janitor_once().await.unwrap();
            assert_eq!(again, JanitorReport::default());
            assert!(w
                .service
                .company_audit(&w.company.id, 1)
                .await
                .unwrap()
                .1
                .is_some_and(|r| r.broken.is_none()));
            // The 503-once card approves on its next (new) payment.
            assert_eq!(
                w.pay("4000000000009078", "75.00").await.status,
                PaymentStatus::Approved
            );
        },
    )
    .await;
}

/// Writes a payment as `create_payment` does before calling the provider, as if the
/// process died right after.
async fn crashed_payment(store: &Store, w: &World, client_ref: &str, amount: Kurus) -> String {
    let now = now_ms() - 10_000;
    let payment = PaymentRecord {
        id: new_id("pay"),
        company_id: w.company.id.clone(),
        pos_id: w.pos.id.clone(),
        status: PaymentStatus::Processing,
        amount,
        currency: Currency::Try,
        installments: 1,
        masked_pan: "454671******7894".into(),
        card_fingerprint: "0".repeat(64),
        card_brand: "visa".into(),
        auth_code: None,
        provider_ref: None,
        bank_code: None,
        message_tr: None,
        message_en: None,
        channel: Channel::Api,
        order_ref: None,
        customer_ref: None,
        description: None,
        three_d: false,
        return_url: None,
        three_d_token: None,
        three_d_html: None,
        sale_client_ref: client_ref.into(),
        authorized_amount: None,
        refunded_amount: Kurus::ZERO,
        business_date: istanbul_today().to_string(),
        review_reason: None,
        created_by: "api:test".into(),
        created_at: now,
        updated_at: now,
        client_ip: None,
        pre_auth: false,
        held_amount: None,
        hold_until: None,
    };
    let attempt = AttemptRecord {
        id: new_id("att"),
        payment_id: payment.id.clone(),
        company_id: payment.company_id.clone(),
        operation: Operation::Sale,
        client_ref: client_ref.into(),
        state: AttemptState::Dispatched,
        outcome: None,
        bank_code: None,
        message: None,
        http_status: None,
        latency_ms: None,
        raw: None,
        amount,
        started_at: now,
        finished_at: None,
    };
    let id = payment.id.clone();
    store.begin_payment(payment, attempt).await.unwrap();
    id
}

#[tokio::test]
async fn payments_left_processing_by_a_crash_are_resolved_by_inquiry() {
    for_each_engine("payments_left_processing_by_a_crash", |store| async move {
        let w = world_on(store.clone(), "A").await;
        // One the provider charged before we died, one it never saw.
        let charged_ref = ClientRef::generate().to_string();
        let mut config = NkolayConfig::new(w.sim.base_url(), credentials_for_gateway(&w));
        config.request_timeout = Duration::from_secs(5);
        let gateway = NkolayGateway::new(config).unwrap();
        let sale = gateway
            .sale(&SaleRequest {
                client_ref: ClientRef::parse(&charged_ref).unwrap(),
                amount: tl("42.00"),
                currency: Currency::Try,
                installments: 1,
                card: Card {
                    number: sanalpos_core::CardNumber::parse(APPROVED_CARD).unwrap(),
                    expiry: sanalpos_core::Expiry::parse("12", "2030").unwrap(),
                    cvv: sanalpos_core::Cvv::parse("123").unwrap(),
                    holder: "Ayşe".into(),
                },
                description: None,
                cardholder_ip: None,
                pre_auth: false,
            })
            .await;
        assert_eq!(sale.outcome.kind(), "approved");
        let charged = crashed_payment(&store, &w, &charged_ref, tl("42.00")).await;
        let lost = crashed_payment(&store, &w, ClientRef::generate().as_str(), tl("43.00")).await;
        let report = w.service.run_janitor_once().await.unwrap();
        assert_eq!(report.resolved, 2, "{report:?}");
        let a = w
            .service
            .get_payment(&w.company.id, &charged)
            .await
            .unwrap();
        assert_eq!(a.payment.status, PaymentStatus::Approved);
        assert!(a.payment.provider_ref.is_some());
        let b = w.service.get_payment(&w.company.id, &lost).await.unwrap();
        assert_eq!(b.payment.status, PaymentStatus::Failed);
        // The simulator still has exactly one sale: nothing was sent again.
        assert_eq!(w.ledger().iter().filter(|t| t.kind.is_sale()).count(), 1);
    })
    .await;
}

fn credentials_for_gateway(w: &World) -> sanalpos_gateway::nkolay::Credentials {
    let m = &w.merchant;
    sanalpos_gateway::nkolay::Credentials {
        sx: sanalpos_core::Secret::new(m.sx.clone()),
        sx_list: sanalpos_core::Secret::new(m.sx_list.clone()),
        sx_cancel: sanalpos_core::Secret::new(m.sx_cancel.clone()),
        secret_key: sanalpos_core::Secret::new(m.secret_key.clone()),
    }
}

#[tokio::test]
async fn abandoned_three_d_expires_and_finished_at_the_bank_is_approved() {
    for_each_engine("abandoned_three_d_expires", |store| async move {
        let mut config = test_config();
        config.three_d_ttl = Duration::from_millis(300);
        let service = PaymentService::new(store, Crypto::random(), config);
        let w = world_with(service, "A", sanalpos_simulator::MerchantConfig::generate()).await;
        let mut request = payment(APPROVED_CARD, "33.00");
        request.three_d = true;
        request.return_url = Some("https://shop.example/r".into());
        let abandoned = w
            .service
            .create_payment(&w.actor, request.clone())
            .await
            .unwrap();
        // This cardholder passes 3D at the bank, but the postback never reaches us.
        let finished = w.service.create_payment(&w.actor, request).await.unwrap();
        let _ = browse_3d(&w, &finished, Some("123456")).await;
        assert!(w.service.config().clock.advance(Duration::from_millis(400)));
        let report = w.service.run_janitor_once().await.unwrap();
        assert_eq!((report.expired, report.resolved), (1, 1), "{report:?}");
        let a = w
            .service
            .get_payment(&w.company.id, &abandoned.id)
            .await
            .unwrap();
        assert_eq!(a.payment.status, PaymentStatus::Expired);
        assert!(a.payment.next_action.is_none());
        assert!(!w.charged(&abandoned.id).await);
        let b = w
            .service
            .get_payment(&w.company.id, &finished.id)
            .await
            .unwrap();
        assert_eq!(b.payment.status, PaymentStatus::Approved);
        assert!(w.charged(&finished.id).await);
    })
    .await;
}
