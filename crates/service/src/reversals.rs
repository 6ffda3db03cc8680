//! Cancel (void, on the sale's business day), refund (after it) and reverse (whichever
//! applies).
//!
//! Each writes the refund record (pending) and its attempt (dispatched), with the cap
//! checked in the same transaction, and commits before calling the provider. Results:
//! approved → the payment view (cancelled / partially_refunded / refunded); unknown →
//! the payment view unchanged (the janitor resolves the refund by inquiry); a refund the
//! provider refuses because the sale's business day is not closed yet → `scheduled`
//! (kept, counted against the cap, carried out after the close by
//! [`crate::scheduled_refunds`]); other declines → `Conflict` (`cancel_not_possible`
//! when the protocol says the cancel window closed, else `cancel_declined` /
//! `refund_declined`); failed → `Provider` (`provider_failed`).
//!
//! A refund of the whole sale on its own business day is a cancel, as the provider
//! wants it; when the provider says the cancel window has closed, it is a refund.
//!
//! Scheduling on the provider's answer, not on a clock of ours, works for every
//! protocol without knowing its cut-off time.

use chrono::NaiveDate;
use serde_json::json;

use sanalpos_core::{ClientRef, Kurus, ProviderRef};
use sanalpos_gateway::{CancelRequest, DeclineKind, GatewayResponse, Outcome, RefundRequest};
use sanalpos_store::{
    new_id, AttemptOutcome, AttemptResult, FinishAttempt, NewAudit, Operation, PaymentRecord,
    PaymentStatus, RefundKind, RefundRecord, RefundResult, RefundStatus,
};

use crate::error::ServiceError;
use crate::outcome::{failure_message, scheduled_message, unknown_message, withdrawn_message};
use crate::payments::{dispatched, gateway_for, view};
use crate::types::*;
use crate::PaymentService;

struct Prepared {
    payment: PaymentRecord,
    provider_ref: ProviderRef,
    client_ref: ClientRef,
    sale_date: NaiveDate,
}

async fn prepare(
    service: &PaymentService,
    caller: &Actor,
    company_id: &str,
    id: &str,
) -> Result<Prepared, ServiceError> {
    if caller.company_id != company_id {
        return Err(ServiceError::NotFound);
    }
    let payment = service.inner.store.get_payment(company_id, id).await?;
    let provider_ref = payment
        .provider_ref
        .as_deref()
        .and_then(|r| ProviderRef::parse(r).ok());
    let (Some(provider_ref), Ok(client_ref), Ok(sale_date)) = (
        provider_ref,
        ClientRef::parse(&payment.sale_client_ref),
        payment.business_date.parse::<NaiveDate>(),
    ) else {
        return Err(ServiceError::conflict(
            "not_refundable",
            format!("a {} payment cannot be taken back", payment.status),
        ));
    };
    Ok(Prepared {
        payment,
        provider_ref,
        client_ref,
        sale_date,
    })
}

fn refund_record(p: &PaymentRecord, kind: RefundKind, amount: Kurus, now: i64) -> RefundRecord {
    RefundRecord {
        id: new_id("ref"),
        payment_id: p.id.clone(),
        company_id: p.company_id.clone(),
        kind,
        amount,
        status: RefundStatus::Pending,
        provider_ref: None,
        bank_code: None,
        message_tr: None,
        message_en: None,
        client_ref: p.sale_client_ref.clone(),
        created_at: now,
        updated_at: now,
        scheduled_at: None,
        next_try_at: None,
        tries: 0,
    }
}

/// Turns a result into "scheduled": the provider's day is still open, so the refund
/// waits (its amount stays held) and is sent again from `retry_at`.
pub(crate) fn reschedule(result: &mut RefundResult, retry_at: i64) {
    let m = scheduled_message();
    result.status = RefundStatus::Scheduled;
    result.provider_ref = None;
    result.bank_code = None;
    result.message_tr = Some(m.tr);
    result.message_en = Some(m.en);
    result.retry_at = Some(retry_at);
}

/// The refund's result and the attempt's, from the provider's answer.
pub(crate) fn refund_result(
    refund_id: &str,
    attempt_id: &str,
    response: &GatewayResponse,
    now: i64,
) -> (RefundResult, AttemptResult) {
    let mut r = RefundResult {
        refund_id: refund_id.to_owned(),
        status: RefundStatus::Unknown,
        provider_ref: None,
        bank_code: None,
        message_tr: None,
        message_en: None,
        retry_at: None,
    };
    let mut a = AttemptResult {
        attempt_id: attempt_id.to_owned(),
        outcome: AttemptOutcome::Unknown,
        bank_code: None,
        message: None,
        http_status: response.http_status.map(i64::from),
        latency_ms: response.latency.as_millis() as i64,
        raw: response.raw.clone(),
        finished_at: now,
    };
    match &response.outcome {
        Outcome::Approved(approval) => {
            r.status = RefundStatus::Approved;
            r.provider_ref = Some(approval.provider_ref.as_str().to_owned());
            a.outcome = AttemptOutcome::Approved;
            a.message = Some("approved".into());
        }
        Outcome::Declined(decline) => {
            r.status = RefundStatus::Declined;
            r.bank_code = decline.bank_code.as_ref().map(|c| c.as_str().to_owned());
            r.message_tr = Some(decline.message.tr.clone());
            r.message_en = Some(decline.message.en.clone());
            a.outcome = AttemptOutcome::Declined;
            a.bank_code = r.bank_code.clone();
            a.message = Some(if decline.provider_text.is_empty() {
                decline.message.en.clone()
            } else {
                decline.provider_text.clone()
            });
        }
        Outcome::Failed(failure) => {
            let m = failure_message(failure.kind);
            r.status = RefundStatus::Failed;
            r.message_tr = Some(m.tr);
            r.message_en = Some(m.en);
            a.outcome = AttemptOutcome::Failed;
            a.message = Some(failure.detail.clone());
        }
        Outcome::Unknown(reason) => {
            let m = unknown_message();
            r.message_tr = Some(m.tr);
            r.message_en = Some(m.en);
            a.message = Some(reason.to_string());
        }
    }
    (r, a)
}

pub(crate) fn refund_audit(
    p: &PaymentRecord,
    actor: &str,
    kind: RefundKind,
    refund_id: &str,
    amount: Kurus,
    result: &RefundResult,
) -> NewAudit {
    NewAudit {
        company_id: p.company_id.clone(),
        kind: format!("{}.{}", kind.as_str(), result.status.as_str()),
        actor: actor.to_owned(),
        subject_id: p.id.clone(),
        data: json!({
            "refund_id": refund_id,
            "amount": amount,
            "status": result.status,
            "provider_ref": result.provider_ref,
            "bank_code": result.bank_code,
        }),
    }
}

/// Writes the refund and its attempt, calls the provider, records the outcome.
async fn run(
    service: &PaymentService,
    caller: &Actor,
    prepared: Prepared,
    kind: RefundKind,
    amount: Kurus,
) -> Result<RefundAnswer, ServiceError> {
    let p = &prepared.payment;
    let pos = service
        .inner
        .store
        .get_pos(&p.company_id, &p.pos_id)
        .await?;
    let gateway = gateway_for(service, &pos)?;
    let refund = refund_record(p, kind, amount, service.now_ms());
    let operation = match kind {
        RefundKind::Cancel => Operation::Cancel,
        RefundKind::Refund => Operation::Refund,
    };
    let attempt = dispatched(p, operation, &p.sale_client_ref, amount, service.now_ms());
    let (refund_id, attempt_id) = (refund.id.clone(), attempt.id.clone());
    let refundable = service.inner.store.begin_refund(refund, attempt).await?;
    let response = match kind {
        RefundKind::Cancel => {
            gateway
                .cancel(&CancelRequest {
                    provider_ref: prepared.provider_ref.clone(),
                    client_ref: prepared.client_ref.clone(),
                    sale_date: prepared.sale_date,
                    amount,
                    currency: p.currency,
                })
                .await
        }
        RefundKind::Refund => {
            gateway
                .refund(&RefundRequest {
                    provider_ref: prepared.provider_ref.clone(),
                    client_ref: prepared.client_ref.clone(),
                    sale_date: prepared.sale_date,
                    amount,
                    refundable,
                    currency: p.currency,
                })
                .await
        }
    };
    let decline_kind = match &response.outcome {
        Outcome::Declined(decline) => decline.kind,
        _ => DeclineKind::Refused,
    };
    let (mut result, attempt_result) =
        refund_result(&refund_id, &attempt_id, &response, service.now_ms());
    if kind == RefundKind::Refund && decline_kind == DeclineKind::DayNotClosed {
        // Kept for after the close; the next background pass may try it.
        reschedule(&mut result, service.now_ms());
    }
    let audit = refund_audit(p, &caller.name, kind, &refund_id, amount, &result);
    let status = result.status;
    let bank_code = result.bank_code.clone();
    let message = result.message_en.clone().unwrap_or_default();
    service
        .inner
        .store
        .finish_attempt(FinishAttempt {
            result: Some(attempt_result),
            events: crate::events::for_refund(&result),
            refund: Some(result),
            audit: vec![audit],
            ..FinishAttempt::default()
        })
        .await?;
    match status {
        RefundStatus::Approved
        | RefundStatus::Unknown
        | RefundStatus::Pending
        | RefundStatus::Scheduled
        | RefundStatus::Withdrawn => answer(service, p, &refund_id).await,
        RefundStatus::Declined => {
            let code = bank_code.unwrap_or_default();
            if decline_kind == DeclineKind::CancelWindowClosed {
                Err(ServiceError::conflict(
                    "cancel_not_possible",
                    format!("the bank refused the cancel ({code}: {message}); refund instead"),
                ))
            } else {
                Err(ServiceError::conflict(
                    match kind {
                        RefundKind::Cancel => "cancel_declined",
                        RefundKind::Refund => "refund_declined",
                    },
                    format!("the bank refused ({code}: {message})"),
                ))
            }
        }
        RefundStatus::Failed => Err(ServiceError::Provider {
            code: "provider_failed",
            message: format!("nothing was done: {message}"),
        }),
    }
}

/// The payment as it now stands and one of its refunds.
async fn answer(
    service: &PaymentService,
    p: &PaymentRecord,
    refund_id: &str,
) -> Result<RefundAnswer, ServiceError> {
    let store = &service.inner.store;
    let payment = store.get_payment(&p.company_id, &p.id).await?;
    let refund = store
        .list_refunds(&p.id)
        .await?
        .iter()
        .find(|r| r.id == refund_id)
        .map(RefundView::from)
        .ok_or(ServiceError::NotFound)?;
    Ok(RefundAnswer {
        payment: view(service, &payment),
        refund,
    })
}

pub(crate) async fn cancel(
    service: &PaymentService,
    caller: &Actor,
    company_id: &str,
    id: &str,
) -> Result<RefundAnswer, ServiceError> {
    let prepared = prepare(service, caller, company_id, id).await?;
    if prepared.payment.status != PaymentStatus::Approved {
        return Err(ServiceError::conflict(
            "not_cancellable",
            format!(
                "only an approved payment without refunds can be cancelled (status {})",
                prepared.payment.status
            ),
        ));
    }
    let amount = prepared.payment.amount;
    run(service, caller, prepared, RefundKind::Cancel, amount).await
}

pub(crate) async fn refund(
    service: &PaymentService,
    caller: &Actor,
    company_id: &str,
    id: &str,
    amount: Kurus,
) -> Result<RefundAnswer, ServiceError> {
    if amount == Kurus::ZERO {
        return Err(ServiceError::validation("amount", "must be more than zero"));
    }
    let prepared = prepare(service, caller, company_id, id).await?;
    let p = &prepared.payment;
    let whole_on_its_day = amount == p.amount
        && p.status == PaymentStatus::Approved
        && p.business_date == crate::time::istanbul_today().to_string();
    if whole_on_its_day {
        // The whole sale on its own day: a cancel. When the provider says the cancel
        // window closed, or a refund already holds part of it, a refund it is.
        match cancel(service, caller, company_id, id).await {
            Err(ServiceError::Conflict {
                code: "cancel_not_possible" | "not_cancellable",
                ..
            }) => {}
            other => return other,
        }
        let prepared = prepare(service, caller, company_id, id).await?;
        return run(service, caller, prepared, RefundKind::Refund, amount).await;
    }
    run(service, caller, prepared, RefundKind::Refund, amount).await
}

/// Withdraws a scheduled refund: it will not be carried out, and its amount can be
/// refunded again. Audited.
pub(crate) async fn withdraw(
    service: &PaymentService,
    caller: &Actor,
    company_id: &str,
    payment_id: &str,
    refund_id: &str,
) -> Result<PaymentDetail, ServiceError> {
    if caller.company_id != company_id {
        return Err(ServiceError::NotFound);
    }
    let store = &service.inner.store;
    let payment = store.get_payment(company_id, payment_id).await?;
    let refund = store
        .list_refunds(&payment.id)
        .await?
        .into_iter()
        .find(|r| r.id == refund_id)
        .ok_or(ServiceError::NotFound)?;
    let m = withdrawn_message();
    let audit = NewAudit {
        company_id: company_id.to_owned(),
        kind: format!(
            "{}.{}",
            refund.kind.as_str(),
            RefundStatus::Withdrawn.as_str()
        ),
        actor: caller.name.clone(),
        subject_id: payment.id.clone(),
        data: json!({
            "refund_id": refund.id,
            "amount": refund.amount,
            "status": RefundStatus::Withdrawn,
            "message": { "tr": m.tr, "en": m.en },
        }),
    };
    store
        .withdraw_refund(company_id, &payment.id, &refund.id, (m.tr, m.en), audit)
        .await?;
    crate::payments::get_payment(service, company_id, payment_id).await
}

pub(crate) async fn reverse(
    service: &PaymentService,
    caller: &Actor,
    company_id: &str,
    id: &str,
) -> Result<PaymentView, ServiceError> {
    let prepared = prepare(service, caller, company_id, id).await?;
    let same_day = prepared.payment.business_date == crate::time::istanbul_today().to_string();
    if same_day && prepared.payment.status == PaymentStatus::Approved {
        // A refund already held (e.g. scheduled) rules the cancel out: the rest is
        // refunded instead.
        match cancel(service, caller, company_id, id).await {
            Err(ServiceError::Conflict {
                code: "cancel_not_possible" | "not_cancellable",
                ..
            }) => {}
            other => return other.map(|a| a.payment),
        }
    }
    let detail = crate::payments::get_payment(service, company_id, id).await?;
    let remaining = detail.refundable();
    if remaining == Kurus::ZERO {
        return Err(ServiceError::conflict(
            "not_refundable",
            "nothing is left to refund",
        ));
    }
    refund(service, caller, company_id, id, remaining)
        .await
        .map(|a| a.payment)
}
