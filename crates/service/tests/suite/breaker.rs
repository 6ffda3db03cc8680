//! The per-POS circuit breaker against a provider that goes down and comes back: a proxy
//! in front of the simulator ([`Proxy`]) either drops every connection or forwards it,
//! and counts the connections, so the test sees which calls really left.

#![allow(clippy::unwrap_used)]

use std::time::Duration;

use crate::helpers::*;
use sanalpos_service::*;
use sanalpos_simulator::MerchantConfig;
use sanalpos_store::testing::sqlite_store;
use sanalpos_store::Crypto;

#[tokio::test]
async fn a_failing_provider_is_held_back_then_probed_before_payments_resume() {
    let (store, _guard) = sqlite_store().await;
    let config = ServiceConfig {
        breaker: BreakerConfig {
            failures: 3,
            cooldown: Duration::from_millis(300),
        },
        // The same declining card four times below: the card velocity limit (which
        // would refuse the fourth before the provider) is not what this test is about.
        abuse: sanalpos_service::AbuseLimits {
            card_declines: 0,
            ..Default::default()
        },
        ..test_config()
    };
    let service = PaymentService::new(store, Crypto::random(), config);
    let w = world_with(service, "Kesintili Ticaret", MerchantConfig::generate()).await;
    let (proxy, pos) = proxied_pos(&w).await;
    let pay = |amount: &'static str| {
        let mut p = payment(APPROVED_CARD, amount);
        p.pos_id = Some(pos.id.clone());
        w.service.create_payment(&w.actor, p)
    };

    // The provider drops every connection: three sales end unknown, each one sent.
    proxy.set_up(false);
    for amount in ["10.00", "11.00", "12.00"] {
        let view = pay(amount).await.unwrap();
        assert_eq!(view.status, PaymentStatus::Unknown, "{view:?}");
    }
    assert_eq!(proxy.connections(), 3);
    assert_eq!(w.service.breaker_state(&pos.id), Some(BreakerState::Open));

    // The fourth is refused at once, with nothing sent and a plain reason.
    let refused = pay("13.00").await.unwrap();
    assert_eq!(refused.status, PaymentStatus::Failed, "{refused:?}");
    let message = refused.message.clone().unwrap();
    assert!(message.tr.contains("yanıt vermiyor"), "{message:?}");
    assert!(message.en.contains("not answering"), "{message:?}");
    assert_eq!(
        proxy.connections(),
        3,
        "a call left while the breaker was open"
    );
    // The refusal is in the attempt log like any other attempt.
    let detail = w
        .service
        .get_payment(&w.company.id, &refused.id)
        .await
        .unwrap();
    assert_eq!(detail.attempts.len(), 1);
    assert!(!w.charged(&refused.id).await);
    // Another POS of the same company is not affected.
    let other = w.pay(APPROVED_CARD, "14.00").await;
    assert_eq!(other.status, PaymentStatus::Approved, "{other:?}");

    // After the cool-down, one probe goes out; the provider is still down, so the sale
    // is refused without being sent and the breaker opens again.
    tokio::time::sleep(Duration::from_millis(350)).await;
    let still_down = pay("15.00").await.unwrap();
    assert_eq!(still_down.status, PaymentStatus::Failed, "{still_down:?}");
    assert_eq!(proxy.connections(), 4, "only the probe may have left");
    assert_eq!(w.service.breaker_state(&pos.id), Some(BreakerState::Open));

    // The provider is back: after the cool-down the probe succeeds and the sale goes
    // through (probe + sale).
    proxy.set_up(true);
    tokio::time::sleep(Duration::from_millis(350)).await;
    let back = pay("16.00").await.unwrap();
    assert_eq!(back.status, PaymentStatus::Approved, "{back:?}");
    assert!(w.charged(&back.id).await);
    assert!(proxy.connections() >= 5);
    assert_eq!(w.service.breaker_state(&pos.id), Some(BreakerState::Closed));

    // A decline proves the provider is up: it never opens the breaker.
    for amount in ["17.00", "18.00", "19.00", "20.00"] {
        // Insufficient funds (bank code 51).
        let mut p = payment("4000000000000515", amount);
        p.pos_id = Some(pos.id.clone());
        let view = w.service.create_payment(&w.actor, p).await.unwrap();
        assert_eq!(view.status, PaymentStatus::Declined, "{view:?}");
    }
    assert_eq!(w.service.breaker_state(&pos.id), Some(BreakerState::Closed));
}
