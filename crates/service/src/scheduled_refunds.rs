//! Carrying out scheduled refunds: refunds the provider refused only because the sale's
//! business day was still open (see [`crate::reversals`]).
//!
//! Each janitor pass sends the scheduled refunds that are due; the end-of-day job, which
//! runs once the providers' days are closed, sends every one. One refund at a time:
//! the payment is leased, the refund turned from `scheduled` into `pending` with its
//! attempt written as dispatched (one transaction, and only if it is still scheduled,
//! so a withdrawn refund is never sent and two instances never send one twice), then
//! the provider is called with the sale's reference, as every refund is.
//!
//! - approved: the refund is done, the payment `partially_refunded` / `refunded`, with
//!   its webhook and audit event;
//! - the day is still open (or the provider was not reached, nothing sent): scheduled
//!   again, tried later with a growing pause;
//! - a real refusal or a rejected request: declined / failed with the bank's reason;
//!   its amount is released;
//! - unknown: left to the janitor's inquiry like any unclear refund; if the provider
//!   shows no such refund after the grace period, it goes back to scheduled (never sent
//!   blindly a second time).

use std::time::Duration;

use chrono::NaiveDate;

use sanalpos_core::{ClientRef, ProviderRef};
use sanalpos_gateway::{DeclineKind, FailureKind, Outcome, RefundRequest};
use sanalpos_store::{
    now_ms, FinishAttempt, Operation, PaymentRecord, RefundKind, RefundRecord, StaleRefund,
};

use crate::error::ServiceError;
use crate::payments::{dispatched, gateway_for};
use crate::reversals::{refund_audit, refund_result, reschedule};
use crate::PaymentService;

/// Scheduled refunds sent per pass.
const BATCH: u32 = 200;
/// The longest pause between two tries of a refund whose day is still open.
const MAX_PAUSE: Duration = Duration::from_secs(10 * 60);
/// Who the audit events name.
pub(crate) const ACTOR: &str = "scheduled-refunds";

/// What one pass did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Pass {
    /// Carried out, or refused for good.
    pub(crate) settled: u32,
    /// Sent, and the day was still open.
    pub(crate) still_scheduled: u32,
    /// Could not be sent (storage, POS).
    pub(crate) errors: u32,
}

/// When a refund found the day still open after `tries` tries is sent again: the
/// janitor's interval, doubled each time, at most [`MAX_PAUSE`].
pub(crate) fn next_try(service: &PaymentService, tries: i64) -> i64 {
    let base = service
        .inner
        .config
        .janitor_interval
        .max(Duration::from_secs(1));
    let factor = 1u32 << tries.clamp(0, 16);
    let pause = base.saturating_mul(factor).min(MAX_PAUSE);
    service.now_ms() + pause.as_millis() as i64
}

fn lease_ms(service: &PaymentService) -> i64 {
    service.inner.config.provider_timeout.as_millis() as i64 * 2 + 5_000
}

/// Sends the scheduled refunds that are due (`all`: every scheduled refund).
pub(crate) async fn run_due(service: &PaymentService, all: bool) -> Result<Pass, ServiceError> {
    let store = &service.inner.store;
    let owner = format!("{}:{ACTOR}", service.inner.config.instance_id);
    let due = store.scheduled_refunds((!all).then(now_ms), BATCH).await?;
    let mut pass = Pass::default();
    for item in &due {
        if !store
            .lease_payment(&item.payment.id, &owner, lease_ms(service))
            .await?
        {
            continue;
        }
        let done = carry_out(service, item).await;
        store.release_payment(&item.payment.id, &owner).await?;
        match done {
            Ok(Some(true)) => pass.settled += 1,
            Ok(Some(false)) => pass.still_scheduled += 1,
            Ok(None) => {}
            Err(e) => {
                tracing::warn!(
                    payment.id = %item.payment.id,
                    refund.id = %item.refund.id,
                    error = %e,
                    code = e.code(),
                    "scheduled refund not sent"
                );
                pass.errors += 1;
            }
        }
    }
    if pass != Pass::default() {
        tracing::info!(
            settled = pass.settled,
            still_scheduled = pass.still_scheduled,
            errors = pass.errors,
            "scheduled refunds pass"
        );
    }
    Ok(pass)
}

/// The sale's references a refund is sent with.
fn sale_of(p: &PaymentRecord) -> Result<(ProviderRef, ClientRef, NaiveDate), ServiceError> {
    let provider_ref = p
        .provider_ref
        .as_deref()
        .and_then(|r| ProviderRef::parse(r).ok());
    match (
        provider_ref,
        ClientRef::parse(&p.sale_client_ref),
        p.business_date.parse::<NaiveDate>(),
    ) {
        (Some(provider_ref), Ok(client_ref), Ok(date)) => Ok((provider_ref, client_ref, date)),
        _ => Err(ServiceError::conflict(
            "not_refundable",
            format!("a {} payment cannot be taken back", p.status),
        )),
    }
}

/// Sends one scheduled refund. `Some(true)`: settled; `Some(false)`: scheduled again;
/// `None`: not scheduled any more (withdrawn, or sent by another instance).
async fn carry_out(
    service: &PaymentService,
    item: &StaleRefund,
) -> Result<Option<bool>, ServiceError> {
    let store = &service.inner.store;
    let (r, p): (&RefundRecord, &PaymentRecord) = (&item.refund, &item.payment);
    let (provider_ref, client_ref, sale_date) = sale_of(p)?;
    let pos = store.get_pos(&p.company_id, &p.pos_id).await?;
    let gateway = gateway_for(service, &pos)?;
    let attempt = dispatched(
        p,
        Operation::Refund,
        &p.sale_client_ref,
        r.amount,
        service.now_ms(),
    );
    let attempt_id = attempt.id.clone();
    let Some(refundable) = store.dispatch_scheduled_refund(&r.id, attempt).await? else {
        return Ok(None);
    };
    let response = gateway
        .refund(&RefundRequest {
            provider_ref,
            client_ref,
            sale_date,
            amount: r.amount,
            refundable,
            currency: p.currency,
        })
        .await;
    let day_still_open = match &response.outcome {
        Outcome::Declined(decline) => decline.kind == DeclineKind::DayNotClosed,
        // Nothing reached the provider: try again later rather than give up.
        Outcome::Failed(failure) => matches!(
            failure.kind,
            FailureKind::Unreachable
                | FailureKind::Unavailable
                | FailureKind::BadCredentials
                | FailureKind::IpNotAllowed
        ),
        _ => false,
    };
    let (mut result, attempt_result) =
        refund_result(&r.id, &attempt_id, &response, service.now_ms());
    let audit = if day_still_open {
        reschedule(&mut result, next_try(service, r.tries + 1));
        Vec::new()
    } else {
        vec![refund_audit(
            p,
            ACTOR,
            RefundKind::Refund,
            &r.id,
            r.amount,
            &result,
        )]
    };
    store
        .finish_attempt(FinishAttempt {
            result: Some(attempt_result),
            events: crate::events::for_refund(&result),
            refund: Some(result),
            audit,
            ..FinishAttempt::default()
        })
        .await?;
    Ok(Some(!day_still_open))
}
