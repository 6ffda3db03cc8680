//! Cancels and refunds against the simulator's business day.

#![allow(clippy::unwrap_used)]

use crate::helpers::*;
use sanalpos_gateway::nkolay::codec::now_istanbul;
use sanalpos_gateway::{
    Approval, CancelRequest, DeclineKind, FailureKind, Gateway, Inquiry, InquiryRequest, Outcome,
    RefundRequest, SaleRequest,
};
use sanalpos_simulator::{MerchantConfig, PartialRefundType, TxKind};

async fn approved_sale(sim: &Sim, amount: &str) -> (SaleRequest, Approval) {
    let request = sale("4546711234567894", amount);
    let response = sim.gateway().sale(&request).await;
    let Outcome::Approved(approval) = response.outcome else {
        panic!("{:?}", response.outcome)
    };
    (request, approval)
}

fn refund(
    request: &SaleRequest,
    approval: &Approval,
    amount: &str,
    refundable: &str,
) -> RefundRequest {
    RefundRequest {
        provider_ref: approval.provider_ref.clone(),
        client_ref: request.client_ref.clone(),
        sale_date: now_istanbul().date_naive(),
        amount: tl(amount),
        refundable: tl(refundable),
        currency: sanalpos_core::Currency::Try,
    }
}

fn cancel(request: &SaleRequest, approval: &Approval) -> CancelRequest {
    CancelRequest {
        provider_ref: approval.provider_ref.clone(),
        client_ref: request.client_ref.clone(),
        sale_date: now_istanbul().date_naive(),
        amount: request.amount,
        currency: sanalpos_core::Currency::Try,
    }
}

#[tokio::test]
async fn cancel_on_the_same_day_succeeds() {
    let sim = start_sim().await;
    let (request, approval) = approved_sale(&sim, "100.00").await;
    let response = sim.gateway().cancel(&cancel(&request, &approval)).await;
    let Outcome::Approved(cancelled) = response.outcome else {
        panic!("{:?}", response.outcome)
    };
    assert_ne!(cancelled.provider_ref, approval.provider_ref);
    let inquiry = sim
        .gateway()
        .inquiry(&InquiryRequest {
            client_ref: request.client_ref.clone(),
            date: now_istanbul().date_naive(),
            amount: request.amount,
        })
        .await
        .unwrap();
    assert!(
        matches!(inquiry, Inquiry::Approved { cancelled: true, reversed, .. } if reversed == tl("100.00")),
        "{inquiry:?}"
    );
}

#[tokio::test]
async fn refund_before_end_of_day_is_refused() {
    let sim = start_sim().await;
    let (request, approval) = approved_sale(&sim, "100.00").await;
    let outcome = sim
        .gateway()
        .refund(&refund(&request, &approval, "100.00", "100.00"))
        .await
        .outcome;
    // Told apart from other refusals, so the service can keep it for after the close.
    assert!(
        matches!(&outcome, Outcome::Declined(d) if d.kind == DeclineKind::DayNotClosed),
        "{outcome:?}"
    );
    let partial = sim
        .gateway()
        .refund(&refund(&request, &approval, "30.00", "100.00"))
        .await
        .outcome;
    assert!(
        matches!(&partial, Outcome::Declined(d) if d.kind == DeclineKind::DayNotClosed),
        "{partial:?}"
    );
}

#[tokio::test]
async fn cancel_after_end_of_day_fails_21_and_refund_then_works() {
    let sim = start_sim().await;
    let (request, approval) = approved_sale(&sim, "100.00").await;
    sim.end_of_day().await;
    let outcome = sim
        .gateway()
        .cancel(&cancel(&request, &approval))
        .await
        .outcome;
    let Outcome::Declined(decline) = outcome else {
        panic!("{outcome:?}")
    };
    assert_eq!(decline.bank_code.unwrap().as_str(), "21");
    assert_eq!(decline.message.tr, "İşlem iptal edilemedi");
    let outcome = sim
        .gateway()
        .refund(&refund(&request, &approval, "100.00", "100.00"))
        .await
        .outcome;
    assert!(matches!(outcome, Outcome::Approved(_)), "{outcome:?}");
}

#[tokio::test]
async fn partial_refunds_never_exceed_the_sale() {
    let sim = start_sim().await;
    let (request, approval) = approved_sale(&sim, "100.00").await;
    sim.end_of_day().await;
    let gateway = sim.gateway();
    let first = gateway
        .refund(&refund(&request, &approval, "40.00", "100.00"))
        .await
        .outcome;
    assert!(matches!(first, Outcome::Approved(_)), "{first:?}");
    // The client refuses more than what is refundable without calling the provider.
    let too_much = gateway
        .refund(&refund(&request, &approval, "60.01", "60.00"))
        .await
        .outcome;
    assert!(
        matches!(&too_much, Outcome::Failed(f) if f.kind == FailureKind::Invalid),
        "{too_much:?}"
    );
    // And the provider refuses it too when told a wrong refundable amount.
    let lied = gateway
        .refund(&refund(&request, &approval, "60.01", "100.00"))
        .await
        .outcome;
    let Outcome::Declined(d) = lied else {
        panic!("{lied:?}")
    };
    assert_eq!(d.bank_code.unwrap().as_str(), "13");
    let rest = gateway
        .refund(&refund(&request, &approval, "60.00", "60.00"))
        .await
        .outcome;
    assert!(matches!(rest, Outcome::Approved(_)), "{rest:?}");
    let after = gateway
        .refund(&refund(&request, &approval, "0.01", "100.00"))
        .await
        .outcome;
    assert!(matches!(after, Outcome::Declined(_)), "{after:?}");
    let inquiry = gateway
        .inquiry(&InquiryRequest {
            client_ref: request.client_ref.clone(),
            date: now_istanbul().date_naive(),
            amount: request.amount,
        })
        .await
        .unwrap();
    assert!(
        matches!(inquiry, Inquiry::Approved { reversed, cancelled: false, .. } if reversed == tl("100.00")),
        "{inquiry:?}"
    );
}

#[tokio::test]
async fn partial_refund_type_falls_back_when_the_provider_rejects_it() {
    let mut merchant = MerchantConfig::generate();
    merchant.partial_refund_type = PartialRefundType::Refund;
    let sim = start_sim_with(merchant).await;
    let (request, approval) = approved_sale(&sim, "100.00").await;
    sim.end_of_day().await;
    let outcome = sim
        .gateway()
        .refund(&refund(&request, &approval, "25.00", "100.00"))
        .await
        .outcome;
    assert!(matches!(outcome, Outcome::Approved(_)), "{outcome:?}");
    let refunds: Vec<_> = sim
        .handle
        .transactions(&sim.merchant.merchant_no)
        .unwrap()
        .into_iter()
        .filter(|t| matches!(t.kind, TxKind::Refund | TxKind::RefundP))
        .collect();
    assert_eq!(refunds.len(), 1, "exactly one refund was made");
    assert_eq!(refunds[0].amount, tl("25.00"));
}
