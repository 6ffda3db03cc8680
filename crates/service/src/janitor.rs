//! The recovery janitor: resolves what a crash or an unclear answer left open, by
//! *inquiry* (never by sending a sale again).
//!
//! - `processing` / `unknown` payments whose last call is surely over (started more than
//!   `provider_timeout` + 1 s ago): approved, declined, or — once `unknown_grace` has
//!   passed with the provider still not knowing the attempt — failed.
//! - `pending_3ds` payments older than `three_d_ttl`: approved if the provider says so,
//!   otherwise expired.
//! - cancels/refunds left `pending` or `unknown`: decided by the reversal rows the
//!   provider lists under the sale's reference. A refund that was scheduled and whose
//!   execution the provider does not show after the grace period goes back to
//!   `scheduled` (it is still owed), never to `failed`;
//! - scheduled refunds that are due: sent ([`crate::scheduled_refunds`]);
//! - pre-authorisations: a `capturing`/`releasing` payment settled by inquiry, an
//!   authorisation whose hold period ended released ([`crate::pre_auth`]).
//!
//! Each payment is leased first, so on PostgreSQL only one instance works on it. Every
//! inquiry is an attempt in the log; every resolution an audit event. A payment still
//! unclear after [`MAX_INQUIRIES`] inquiries is marked for review.

use std::time::Duration;

use chrono::NaiveDate;

use sanalpos_core::{BankCode, ClientRef, Kurus, Message};
use sanalpos_gateway::{Inquiry, InquiryRequest};
use sanalpos_store::{
    new_id, AttemptOutcome, AttemptRecord, AttemptState, FinishAttempt, NewAudit, Operation,
    PaymentChange, PaymentRecord, PaymentStatus, RefundKind, RefundResult, RefundStatus,
    StalePayment, StaleRefund,
};

use crate::error::ServiceError;
use crate::outcome::payment_audit;
use crate::payments::gateway_for;
use crate::reversals::refund_audit;
use crate::types::*;
use crate::PaymentService;

/// Inquiries after which an unclear payment is left for a person.
pub const MAX_INQUIRIES: i64 = 20;
/// Payments looked at per pass.
const BATCH: u32 = 200;
const ACTOR: &str = "janitor";

pub(crate) fn inquiry_attempt(
    p: &PaymentRecord,
    outcome: AttemptOutcome,
    message: String,
    started: i64,
    now: i64,
) -> AttemptRecord {
    AttemptRecord {
        id: new_id("att"),
        payment_id: p.id.clone(),
        company_id: p.company_id.clone(),
        operation: Operation::Inquiry,
        client_ref: p.sale_client_ref.clone(),
        state: AttemptState::Completed,
        outcome: Some(outcome),
        bank_code: None,
        message: Some(message),
        http_status: None,
        latency_ms: Some(now - started),
        raw: None,
        amount: p.amount,
        started_at: started,
        finished_at: Some(now),
    }
}

/// Asks the provider about a payment's sale attempt, for `amount` (the sale's, or what a
/// capture asked for).
pub(crate) async fn inquire(
    service: &PaymentService,
    p: &PaymentRecord,
    amount: Kurus,
) -> Result<Inquiry, String> {
    let pos = service
        .inner
        .store
        .get_pos(&p.company_id, &p.pos_id)
        .await
        .map_err(|e| format!("POS: {e}"))?;
    let gateway = gateway_for(service, &pos).map_err(|e| e.message())?;
    let request = InquiryRequest {
        client_ref: ClientRef::parse(&p.sale_client_ref).map_err(|e| e.to_string())?,
        date: p
            .business_date
            .parse::<NaiveDate>()
            .map_err(|e| e.to_string())?,
        amount,
    };
    gateway.inquiry(&request).await.map_err(|e| e.to_string())
}

/// What a look at one payment or refund ended in.
pub(crate) enum Verdict {
    /// Settled as the provider says.
    Resolved,
    /// A 3D payment never finished.
    Expired,
    /// Still unclear; asked again later.
    Left,
    /// The inquiry itself failed.
    Error,
}

fn lease_ms(service: &PaymentService) -> i64 {
    service.inner.config.provider_timeout.as_millis() as i64 * 2 + 5_000
}

async fn resolve_payment(
    service: &PaymentService,
    stale: &StalePayment,
    owner: &str,
) -> Result<Verdict, ServiceError> {
    let store = &service.inner.store;
    let p = &stale.payment;
    if matches!(
        p.status,
        PaymentStatus::Capturing | PaymentStatus::Releasing
    ) {
        let verdict = crate::pre_auth::resolve(service, stale).await?;
        if matches!(verdict, Verdict::Left | Verdict::Error) {
            mark_or_release(service, stale, owner).await?;
        }
        return Ok(verdict);
    }
    let config = &service.inner.config;
    let now = service.now_ms();
    let three_d_over = p.status == PaymentStatus::Pending3ds
        || (p.three_d && now - p.created_at > config.three_d_ttl.as_millis() as i64);
    let grace_over = now - stale.last_call_at > config.unknown_grace.as_millis() as i64;
    let started = service.now_ms();
    let answer = inquire(service, p, p.amount).await;
    let expect = [
        PaymentStatus::Processing,
        PaymentStatus::Unknown,
        PaymentStatus::Pending3ds,
    ];
    let mut change = PaymentChange::to(&p.id, &expect, PaymentStatus::Unknown);
    change.clear_three_d_html = p.three_d;
    let (verdict, outcome, note) = match &answer {
        Ok(Inquiry::Approved {
            approval,
            reversed,
            cancelled,
            captured,
        }) => {
            change.status = if p.pre_auth {
                // A pre-authorisation: held, captured (the amount is what was taken) or
                // released.
                match (cancelled, captured) {
                    (true, _) => PaymentStatus::Released,
                    (false, Some(amount)) => {
                        change.amount = Some(*amount);
                        PaymentStatus::Approved
                    }
                    (false, None) => PaymentStatus::Authorized,
                }
            } else if *cancelled {
                PaymentStatus::Cancelled
            } else if *reversed >= p.amount && *reversed > Kurus::ZERO {
                PaymentStatus::Refunded
            } else if *reversed > Kurus::ZERO {
                PaymentStatus::PartiallyRefunded
            } else {
                PaymentStatus::Approved
            };
            change.auth_code.clone_from(&approval.auth_code);
            change.provider_ref = Some(approval.provider_ref.clone());
            change.authorized_amount = Some(
                change
                    .amount
                    .unwrap_or(approval.authorized_amount.unwrap_or(p.amount)),
            );
            change.refunded_amount = Some(*reversed);
            change.bank_code = Some(BankCode::approval());
            change.message = Some(crate::outcome::approved_message());
            (
                Verdict::Resolved,
                AttemptOutcome::Approved,
                "approved at the provider".to_owned(),
            )
        }
        Ok(Inquiry::Declined(decline)) => {
            change.status = PaymentStatus::Declined;
            change.bank_code.clone_from(&decline.bank_code);
            change.message = Some(decline.message.clone());
            (
                Verdict::Resolved,
                AttemptOutcome::Declined,
                "declined at the provider".to_owned(),
            )
        }
        Ok(Inquiry::Pending) if three_d_over => {
            change.status = PaymentStatus::Expired;
            change.message = Some(expired_message());
            (
                Verdict::Expired,
                AttemptOutcome::Pending,
                "3D never finished".to_owned(),
            )
        }
        Ok(Inquiry::Pending) => (
            Verdict::Left,
            AttemptOutcome::Pending,
            "still pending at the provider".to_owned(),
        ),
        Ok(Inquiry::NotFound) if p.status == PaymentStatus::Pending3ds => {
            change.status = PaymentStatus::Expired;
            change.message = Some(expired_message());
            (
                Verdict::Expired,
                AttemptOutcome::Failed,
                "3D never started at the provider".to_owned(),
            )
        }
        Ok(Inquiry::NotFound) if grace_over => {
            change.status = PaymentStatus::Failed;
            change.message = Some(Message::new(
                "İşlem sağlayıcıya ulaşmadı; karttan çekim yapılmadı",
                "The provider has no record of the payment; the card was not charged",
            ));
            (
                Verdict::Resolved,
                AttemptOutcome::Failed,
                "unknown to the provider after the grace period".to_owned(),
            )
        }
        Ok(Inquiry::NotFound) => (
            Verdict::Left,
            AttemptOutcome::Unknown,
            "not known to the provider yet".to_owned(),
        ),
        Err(e) => (
            Verdict::Error,
            AttemptOutcome::Unknown,
            format!("inquiry failed: {e}"),
        ),
    };
    let attempt = inquiry_attempt(p, outcome, note, started, service.now_ms());
    match verdict {
        Verdict::Resolved | Verdict::Expired => {
            let audit = payment_audit(p, ACTOR, change.status, &change, &attempt.id);
            store
                .finish_attempt(FinishAttempt {
                    new_attempt: Some(attempt),
                    events: crate::events::for_change(&change),
                    payment: Some(change),
                    audit: vec![audit],
                    ..FinishAttempt::default()
                })
                .await?;
        }
        Verdict::Left | Verdict::Error => {
            store
                .finish_attempt(FinishAttempt {
                    new_attempt: Some(attempt),
                    ..FinishAttempt::default()
                })
                .await?;
            mark_or_release(service, stale, owner).await?;
        }
    }
    Ok(verdict)
}

/// After an inquiry that settled nothing: marks the payment for review once it has
/// been asked about [`MAX_INQUIRIES`] times, otherwise gives the lease back.
async fn mark_or_release(
    service: &PaymentService,
    stale: &StalePayment,
    owner: &str,
) -> Result<(), ServiceError> {
    let store = &service.inner.store;
    let p = &stale.payment;
    if stale.inquiries + 1 >= MAX_INQUIRIES {
        let reason = format!("needs review: still unclear after {MAX_INQUIRIES} inquiries");
        let audit = NewAudit {
            company_id: p.company_id.clone(),
            kind: "payment.needs_review".into(),
            actor: ACTOR.into(),
            subject_id: p.id.clone(),
            data: serde_json::json!({ "status": p.status, "reason": reason }),
        };
        store
            .set_review_reason(&p.id, &reason, audit, crate::events::for_review())
            .await?;
    } else {
        store.release_payment(&p.id, owner).await?;
    }
    Ok(())
}

fn expired_message() -> Message {
    Message::new(
        "3D doğrulama tamamlanmadı; karttan çekim yapılmadı",
        "3D Secure was never completed; the card was not charged",
    )
}

async fn resolve_refund(
    service: &PaymentService,
    stale: &StaleRefund,
) -> Result<Verdict, ServiceError> {
    let (r, p) = (&stale.refund, &stale.payment);
    let started = service.now_ms();
    // A scheduled refund was sent long after it was created: its grace runs from the
    // send.
    let since = if r.scheduled_at.is_some() {
        r.updated_at
    } else {
        r.created_at
    };
    let grace_over = started - since > service.inner.config.unknown_grace.as_millis() as i64;
    let unseen = if r.scheduled_at.is_some() {
        RefundStatus::Scheduled
    } else {
        RefundStatus::Failed
    };
    let refunds = service.inner.store.list_refunds(&p.id).await?;
    let approved_before: Kurus = refunds
        .iter()
        .filter(|x| x.id != r.id && x.status == RefundStatus::Approved)
        .map(|x| x.amount)
        .sum();
    let answer = inquire(service, p, p.amount).await;
    let status = match &answer {
        Ok(Inquiry::Approved {
            reversed,
            cancelled,
            ..
        }) => match r.kind {
            RefundKind::Cancel if *cancelled => Some(RefundStatus::Approved),
            RefundKind::Refund
                if approved_before
                    .checked_add(r.amount)
                    .is_some_and(|needed| *reversed >= needed) =>
            {
                Some(RefundStatus::Approved)
            }
            _ if grace_over => Some(unseen),
            _ => None,
        },
        _ => None,
    };
    let Some(status) = status else {
        let note = match &answer {
            Err(e) => format!("inquiry failed: {e}"),
            Ok(_) => "reversal not visible at the provider yet".to_owned(),
        };
        let attempt = inquiry_attempt(p, AttemptOutcome::Unknown, note, started, service.now_ms());
        service
            .inner
            .store
            .finish_attempt(FinishAttempt {
                new_attempt: Some(attempt),
                ..FinishAttempt::default()
            })
            .await?;
        return Ok(if answer.is_err() {
            Verdict::Error
        } else {
            Verdict::Left
        });
    };
    let mut result = RefundResult {
        refund_id: r.id.clone(),
        status,
        provider_ref: None,
        bank_code: None,
        message_tr: None,
        message_en: None,
        retry_at: None,
    };
    if status == RefundStatus::Scheduled {
        // Not done at the provider: owed still, sent again by the next pass.
        crate::reversals::reschedule(&mut result, service.now_ms());
    }
    let outcome = match status {
        RefundStatus::Approved => AttemptOutcome::Approved,
        RefundStatus::Scheduled => AttemptOutcome::Unknown,
        _ => AttemptOutcome::Failed,
    };
    let attempt = inquiry_attempt(
        p,
        outcome,
        format!("{} {}", r.kind, status),
        started,
        service.now_ms(),
    );
    let audit = refund_audit(p, ACTOR, r.kind, &r.id, r.amount, &result);
    service
        .inner
        .store
        .finish_attempt(FinishAttempt {
            new_attempt: Some(attempt),
            events: crate::events::for_refund(&result),
            refund: Some(result),
            audit: vec![audit],
            ..FinishAttempt::default()
        })
        .await?;
    Ok(Verdict::Resolved)
}

fn count(report: &mut JanitorReport, verdict: Verdict) {
    match verdict {
        Verdict::Resolved => report.resolved += 1,
        Verdict::Expired => report.expired += 1,
        Verdict::Left => report.left += 1,
        Verdict::Error => report.errors += 1,
    }
}

pub(crate) async fn run_once(service: &PaymentService) -> Result<JanitorReport, ServiceError> {
    let store = &service.inner.store;
    let config = &service.inner.config;
    let owner = format!("{}:janitor", config.instance_id);
    let now = service.now_ms();
    let over_ms = config.provider_timeout.as_millis() as i64 + 1_000;
    let mut report = JanitorReport::default();
    let stale = store
        .stale_payments(
            now - over_ms,
            now - config.three_d_ttl.as_millis() as i64,
            now,
            BATCH,
        )
        .await?;
    for item in &stale {
        let p = &item.payment;
        if p.status != PaymentStatus::Pending3ds && item.last_call_at + over_ms > now {
            continue; // the call may still be running
        }
        // Only as it was listed: another instance may have resolved it since.
        if !store
            .lease_payment_unchanged(&p.id, &owner, lease_ms(service), p.updated_at)
            .await?
        {
            continue;
        }
        let verdict = resolve_payment(service, item, &owner).await?;
        let review = matches!(verdict, Verdict::Left | Verdict::Error)
            && item.inquiries + 1 >= MAX_INQUIRIES;
        count(&mut report, verdict);
        if review {
            report.review += 1;
        }
    }
    for item in store.stale_refunds(now - over_ms, BATCH).await? {
        if !store
            .lease_payment(&item.payment.id, &owner, lease_ms(service))
            .await?
        {
            continue;
        }
        let verdict = resolve_refund(service, &item).await;
        store.release_payment(&item.payment.id, &owner).await?;
        count(&mut report, verdict?);
    }
    let (released, errors) =
        crate::pre_auth::release_expired(service, &owner, lease_ms(service), BATCH).await?;
    report.holds_released += released;
    report.errors += errors;
    let scheduled = crate::scheduled_refunds::run_due(service, false).await?;
    report.refunds_carried_out += scheduled.settled;
    report.refunds_still_scheduled += scheduled.still_scheduled;
    report.errors += scheduled.errors;
    // A store failure here must not hold back the rest of the pass.
    match service.retry_card_saves().await {
        Ok(kept) => report.cards_kept += kept,
        Err(e) => {
            tracing::warn!(error = %e, code = e.code(), "kept cards not looked for");
            report.errors += 1;
        }
    }
    match service.retry_card_deletions().await {
        Ok(cards) => {
            report.cards_deleted += cards.deleted;
            report.card_deletions_pending += cards.still_deleting;
        }
        Err(e) => {
            tracing::warn!(error = %e, code = e.code(), "stored-card deletes not retried");
            report.errors += 1;
        }
    }
    store.purge_idempotency(now).await?;
    // A large reconciliation run an instance stopped writing in the middle of: never
    // shown, only space.
    let purged = store
        .purge_unfinished_recon_runs(now - UNFINISHED_RUN_MS)
        .await?;
    if purged > 0 {
        tracing::info!(purged, "unfinished reconciliation runs taken away");
    }
    if report != JanitorReport::default() {
        tracing::info!(
            resolved = report.resolved,
            expired = report.expired,
            left = report.left,
            review = report.review,
            errors = report.errors,
            refunds_carried_out = report.refunds_carried_out,
            refunds_still_scheduled = report.refunds_still_scheduled,
            holds_released = report.holds_released,
            cards_kept = report.cards_kept,
            cards_deleted = report.cards_deleted,
            card_deletions_pending = report.card_deletions_pending,
            "janitor pass"
        );
    }
    Ok(report)
}

/// How old a reconciliation run still being written must be before the janitor takes
/// it for abandoned (writing the largest statement takes seconds).
const UNFINISHED_RUN_MS: i64 = 60 * 60 * 1000;

pub(crate) fn spawn(
    service: PaymentService,
    mut shutdown: tokio::sync::watch::Receiver<bool>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let interval = service
            .inner
            .config
            .janitor_interval
            .max(Duration::from_millis(100));
        loop {
            if *shutdown.borrow() {
                break;
            }
            if let Err(e) = run_once(&service).await {
                tracing::warn!(error = %e, code = e.code(), "janitor pass failed");
            }
            tokio::select! {
                _ = tokio::time::sleep(interval) => {}
                changed = shutdown.changed() => {
                    if changed.is_err() || *shutdown.borrow() {
                        break;
                    }
                }
            }
        }
    })
}
