//! Pre-authorisation (provizyon) after the block: capture all of it or part, release
//! it, release it when its hold period ends, and settle a capture or release whose
//! answer never came.
//!
//! A capture or release moves the payment `authorized` → `capturing` / `releasing`
//! and writes its attempt (dispatched) in one transaction before the provider hears of
//! it, so two requests can never both send one. The answer decides:
//!
//! | answer | capture | release |
//! |---|---|---|
//! | approved | `approved`, `amount` = what was captured (the rest of the block is freed by the provider) | `released` |
//! | declined | back to `authorized`; 409 `capture_declined` with the bank's reason | back to `authorized`; 409 `release_declined` |
//! | failed (nothing sent, or provably not done) | back to `authorized`; 502 `provider_failed` | the same |
//! | unknown | stays `capturing`; the janitor asks the provider | stays `releasing`; the same |
//!
//! The janitor settles an unclear capture or release by inquiry, never by sending it
//! again: the provider reports the block released, captured (and for how much), or
//! still open; still open after the grace period means the call never took effect and
//! the payment is `authorized` again. That last conclusion is drawn only for a protocol
//! whose inquiry reads captures (`Capabilities::pre_auth_inquiry`: N Kolay, NestPay);
//! on the others (Garanti BBVA, PosNet) an unclear capture stays `capturing` and is
//! marked for a person after the janitor's inquiries, never put back as held.
//!
//! An authorisation whose hold period ended is released by the janitor. A release the
//! bank refuses is tried again on the next pass, and after [`MAX_RELEASE_REFUSALS`]
//! refusals the payment is marked for review (the bank's last reason in it) and no
//! longer sent.

use chrono::NaiveDate;
use serde_json::json;

use sanalpos_core::{ClientRef, Kurus, Message, ProviderRef};
use sanalpos_gateway::{CaptureRequest, GatewayResponse, Inquiry, Outcome};
use sanalpos_store::{
    AttemptOutcome, AttemptResult, FinishAttempt, NewAudit, Operation, PaymentChange,
    PaymentRecord, PaymentStatus, PosHealth, StalePayment,
};

use crate::error::ServiceError;
use crate::janitor::{inquire, Verdict};
use crate::outcome::failure_message;
use crate::payments::{dispatched, gateway_for, view};
use crate::types::*;
use crate::PaymentService;

/// Who releases a hold that ran out, in the audit log and on the payment's attempts.
const JANITOR: &str = "janitor";
/// A day, in milliseconds.
const DAY_MS: i64 = 86_400_000;
/// How long before its hold ends a pre-authorisation is warned of (the payment's
/// `hold_ends_soon`, the dashboard), in milliseconds.
pub(crate) const HOLD_WARNING_MS: i64 = DAY_MS;
/// The hold period of a POS that sets none, in days.
pub const DEFAULT_HOLD_DAYS: u16 = 7;
/// The shortest and longest hold period a POS may set, in days.
pub const HOLD_DAYS: std::ops::RangeInclusive<u16> = 1..=30;

/// When a pre-authorisation made at `now` must be captured by: `days` later.
pub(crate) fn hold_until(now: i64, days: u16) -> i64 {
    now + i64::from(days) * DAY_MS
}

/// Whether an authorisation's hold ends within a day of `now`: the back office warns.
pub(crate) fn hold_ends_soon(payment: &PaymentRecord, now: i64) -> bool {
    payment.status == PaymentStatus::Authorized
        && payment
            .hold_until
            .is_some_and(|until| until - now < HOLD_WARNING_MS)
}

/// Capture or release.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    Capture,
    Release,
}

impl Step {
    fn operation(self) -> Operation {
        match self {
            Step::Capture => Operation::Capture,
            Step::Release => Operation::Release,
        }
    }

    fn busy(self) -> PaymentStatus {
        match self {
            Step::Capture => PaymentStatus::Capturing,
            Step::Release => PaymentStatus::Releasing,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Step::Capture => "capture",
            Step::Release => "release",
        }
    }
}

/// What names the pre-authorisation at the provider.
struct Named {
    provider_ref: ProviderRef,
    client_ref: ClientRef,
    date: NaiveDate,
    held: Kurus,
}

fn named(p: &PaymentRecord) -> Result<Named, ServiceError> {
    if !p.pre_auth || p.status != PaymentStatus::Authorized {
        return Err(ServiceError::conflict(
            "not_authorized",
            format!(
                "only a pre-authorised payment that is still held can be captured or released (status {})",
                p.status
            ),
        ));
    }
    let provider_ref = p
        .provider_ref
        .as_deref()
        .and_then(|r| ProviderRef::parse(r).ok());
    let (Some(provider_ref), Ok(client_ref), Ok(date)) = (
        provider_ref,
        ClientRef::parse(&p.sale_client_ref),
        p.business_date.parse::<NaiveDate>(),
    ) else {
        return Err(ServiceError::Storage(format!(
            "the pre-authorisation {} lacks the provider's reference",
            p.id
        )));
    };
    Ok(Named {
        provider_ref,
        client_ref,
        date,
        held: p.held_amount.unwrap_or(p.amount),
    })
}

fn released_message(expired: bool) -> Message {
    if expired {
        Message::new(
            "Provizyon süresi içinde kapatılmadığı için iptal edildi; karttan çekim yapılmadı",
            "The pre-authorisation was not captured within its hold period and was released; the card was not charged",
        )
    } else {
        Message::new(
            "Provizyon iptal edildi; karttan çekim yapılmadı",
            "The pre-authorisation was released; the card was not charged",
        )
    }
}

fn captured_message(amount: Kurus, held: Kurus) -> Message {
    if amount == held {
        Message::new("Provizyon kapatıldı (tahsil edildi)", "Captured")
    } else {
        Message::new(
            &format!("Provizyonun {amount} tutarı tahsil edildi; kalanı serbest bırakıldı"),
            &format!("{amount} captured; the rest of the block was released"),
        )
    }
}

fn audit(p: &PaymentRecord, actor: &str, kind: &str, data: serde_json::Value) -> NewAudit {
    NewAudit {
        company_id: p.company_id.clone(),
        kind: format!("payment.{kind}"),
        actor: actor.to_owned(),
        subject_id: p.id.clone(),
        data,
    }
}

/// Captures `amount` of a pre-authorisation (all of the block when `None`).
pub(crate) async fn capture(
    service: &PaymentService,
    caller: &Actor,
    company_id: &str,
    id: &str,
    amount: Option<Kurus>,
) -> Result<PaymentView, ServiceError> {
    if caller.company_id != company_id {
        return Err(ServiceError::NotFound);
    }
    let p = service.inner.store.get_payment(company_id, id).await?;
    let n = named(&p)?;
    let amount = amount.unwrap_or(n.held);
    if amount == Kurus::ZERO {
        return Err(ServiceError::validation("amount", "must be more than zero"));
    }
    if amount > n.held {
        return Err(ServiceError::validation(
            "amount",
            format!("at most the pre-authorised amount, {}", n.held),
        ));
    }
    run(service, &caller.name, p, n, Step::Capture, amount, false).await
}

/// Releases a pre-authorisation: the block is freed, nothing is charged.
pub(crate) async fn release(
    service: &PaymentService,
    caller: &Actor,
    company_id: &str,
    id: &str,
) -> Result<PaymentView, ServiceError> {
    if caller.company_id != company_id {
        return Err(ServiceError::NotFound);
    }
    let p = service.inner.store.get_payment(company_id, id).await?;
    let n = named(&p)?;
    let held = n.held;
    run(service, &caller.name, p, n, Step::Release, held, false).await
}

/// Sends a capture or release and records what it ended in.
async fn run(
    service: &PaymentService,
    actor: &str,
    p: PaymentRecord,
    n: Named,
    step: Step,
    amount: Kurus,
    expired: bool,
) -> Result<PaymentView, ServiceError> {
    let store = &service.inner.store;
    let pos = store.get_pos(&p.company_id, &p.pos_id).await?;
    let gateway = gateway_for(service, &pos)?;
    let attempt = dispatched(
        &p,
        step.operation(),
        &p.sale_client_ref,
        amount,
        service.now_ms(),
    );
    let attempt_id = attempt.id.clone();
    let begin = PaymentChange::to(&p.id, &[PaymentStatus::Authorized], step.busy());
    let Some(p) = store.begin_operation(begin, attempt).await? else {
        return Err(ServiceError::conflict(
            "not_authorized",
            "the payment was captured or released meanwhile",
        ));
    };
    let response = match step {
        Step::Capture => {
            gateway
                .capture(&CaptureRequest {
                    provider_ref: n.provider_ref.clone(),
                    client_ref: n.client_ref.clone(),
                    authorized: n.held,
                    amount,
                    currency: p.currency,
                    pre_auth_date: n.date,
                })
                .await
        }
        Step::Release => {
            gateway
                .release(&sanalpos_gateway::ReleaseRequest {
                    provider_ref: n.provider_ref.clone(),
                    client_ref: n.client_ref.clone(),
                    pre_auth_date: n.date,
                    authorized: n.held,
                    currency: p.currency,
                })
                .await
        }
    };
    let (finish, error) = finish(
        &p,
        &attempt_id,
        actor,
        step,
        amount,
        n.held,
        expired,
        &response,
        service.now_ms(),
    );
    let finished = store.finish_attempt(finish).await?;
    if let Some(error) = error {
        return Err(error);
    }
    let payment = match finished.payment {
        Some(now) => now,
        None => store.get_payment(&p.company_id, &p.id).await?,
    };
    Ok(view(service, &payment))
}

/// The record of an answer, and the error the caller gets for a refusal.
#[allow(clippy::too_many_arguments)]
fn finish(
    p: &PaymentRecord,
    attempt_id: &str,
    actor: &str,
    step: Step,
    amount: Kurus,
    held: Kurus,
    expired: bool,
    response: &GatewayResponse,
    now: i64,
) -> (FinishAttempt, Option<ServiceError>) {
    let mut change = PaymentChange::to(&p.id, &[step.busy()], PaymentStatus::Authorized);
    let mut result = AttemptResult {
        attempt_id: attempt_id.to_owned(),
        outcome: AttemptOutcome::Unknown,
        bank_code: None,
        message: None,
        http_status: response.http_status.map(i64::from),
        latency_ms: response.latency.as_millis() as i64,
        raw: response.raw.clone(),
        finished_at: now,
    };
    let mut data = json!({
        "amount": amount,
        "held_amount": held,
        "attempt_id": attempt_id,
    });
    let (kind, error) = match &response.outcome {
        Outcome::Approved(approval) => {
            result.outcome = AttemptOutcome::Approved;
            result.bank_code = Some("00".into());
            result.message = Some("approved".into());
            match step {
                Step::Capture => {
                    change.status = PaymentStatus::Approved;
                    change.amount = Some(amount);
                    change.authorized_amount = Some(approval.authorized_amount.unwrap_or(amount));
                    change.provider_ref = Some(approval.provider_ref.clone());
                    change.auth_code.clone_from(&approval.auth_code);
                    change.message = Some(captured_message(amount, held));
                    data["provider_ref"] = json!(approval.provider_ref.as_str());
                    (Some("captured".to_owned()), None)
                }
                Step::Release => {
                    change.status = PaymentStatus::Released;
                    change.message = Some(released_message(expired));
                    data["expired"] = json!(expired);
                    (Some("released".to_owned()), None)
                }
            }
        }
        Outcome::Declined(decline) => {
            result.outcome = AttemptOutcome::Declined;
            result.bank_code = decline.bank_code.as_ref().map(|c| c.as_str().to_owned());
            result.message = Some(if decline.provider_text.is_empty() {
                decline.message.en.clone()
            } else {
                decline.provider_text.clone()
            });
            let code = result.bank_code.clone().unwrap_or_default();
            data["bank_code"] = json!(code);
            data["message"] = json!({"tr": decline.message.tr, "en": decline.message.en});
            (
                Some(format!("{}_declined", step.name())),
                Some(ServiceError::conflict(
                    match step {
                        Step::Capture => "capture_declined",
                        Step::Release => "release_declined",
                    },
                    format!(
                        "the bank refused the {} ({code}: {}); the amount is still held",
                        step.name(),
                        decline.message.en
                    ),
                )),
            )
        }
        Outcome::Failed(failure) => {
            result.outcome = AttemptOutcome::Failed;
            result.message = Some(failure.detail.clone());
            let m = failure_message(failure.kind);
            data["message"] = json!({"tr": m.tr, "en": m.en});
            (
                Some(format!("{}_failed", step.name())),
                Some(ServiceError::Provider {
                    code: "provider_failed",
                    message: format!(
                        "nothing was done, the amount is still held: {}",
                        failure.detail
                    ),
                }),
            )
        }
        Outcome::Unknown(reason) => {
            change.status = step.busy();
            result.message = Some(reason.to_string());
            (None, None)
        }
    };
    let audit = kind
        .map(|kind| audit(p, actor, &kind, data))
        .into_iter()
        .collect();
    let health = match &response.outcome {
        Outcome::Unknown(reason) => Some(reason.to_string()),
        _ => None,
    };
    (
        FinishAttempt {
            result: Some(result),
            events: crate::events::for_change(&change),
            payment: Some(change),
            audit,
            pos_health: Some(PosHealth {
                company_id: p.company_id.clone(),
                pos_id: p.pos_id.clone(),
                error: health,
            }),
            ..FinishAttempt::default()
        },
        error,
    )
}

/// Releases the authorisations whose hold period ended; how many were released.
pub(crate) async fn release_expired(
    service: &PaymentService,
    owner: &str,
    lease_ms: i64,
    limit: u32,
) -> Result<(u32, u32), ServiceError> {
    let store = &service.inner.store;
    let (mut released, mut errors) = (0, 0);
    for p in store.expired_holds(service.now_ms(), limit).await? {
        if !store
            .lease_payment_unchanged(&p.id, owner, lease_ms, p.updated_at)
            .await?
        {
            continue;
        }
        let outcome = match named(&p) {
            Ok(n) => {
                let held = n.held;
                run(service, JANITOR, p.clone(), n, Step::Release, held, true).await
            }
            Err(e) => Err(e),
        };
        match outcome {
            Ok(view) if view.status == PaymentStatus::Released => released += 1,
            Ok(_) => {}
            Err(e) => {
                errors += 1;
                tracing::warn!(payment.id = %p.id, error = %e, "expired pre-authorisation not released");
                if e.code() == "release_declined" {
                    review_if_refused_too_often(service, &p, owner, &e).await?;
                } else {
                    store.release_payment(&p.id, owner).await?;
                }
            }
        }
    }
    Ok((released, errors))
}

/// Refusals of an expired hold's release after which the janitor stops asking and
/// leaves the payment for a person: a bank that refused three times in a row will not
/// change its mind on the next pass, and every pass would be one more refused call.
pub const MAX_RELEASE_REFUSALS: usize = 3;

/// After the bank refused to release an expired hold: marks the payment for review
/// once the release was refused [`MAX_RELEASE_REFUSALS`] times, otherwise gives the
/// lease back for the next pass.
async fn review_if_refused_too_often(
    service: &PaymentService,
    p: &PaymentRecord,
    owner: &str,
    refusal: &ServiceError,
) -> Result<(), ServiceError> {
    let store = &service.inner.store;
    let refused = store
        .list_attempts(&p.id)
        .await?
        .iter()
        .filter(|a| {
            a.operation == Operation::Release && a.outcome == Some(AttemptOutcome::Declined)
        })
        .count();
    if refused < MAX_RELEASE_REFUSALS {
        store.release_payment(&p.id, owner).await?;
        return Ok(());
    }
    let reason = format!(
        "needs review: the provider refused to release the hold {refused} times \
         (last: {refusal})"
    );
    let audit = NewAudit {
        company_id: p.company_id.clone(),
        kind: "payment.needs_review".into(),
        actor: JANITOR.into(),
        subject_id: p.id.clone(),
        data: json!({ "status": PaymentStatus::Authorized, "reason": reason }),
    };
    store
        .set_review_reason(&p.id, &reason, audit, crate::events::for_review())
        .await?;
    Ok(())
}

/// Settles a `capturing` / `releasing` payment by inquiry.
pub(crate) async fn resolve(
    service: &PaymentService,
    stale: &StalePayment,
) -> Result<Verdict, ServiceError> {
    let p = &stale.payment;
    let store = &service.inner.store;
    let step = if p.status == PaymentStatus::Capturing {
        Step::Capture
    } else {
        Step::Release
    };
    let attempts = store.list_attempts(&p.id).await?;
    let sent = attempts
        .iter()
        .rev()
        .find(|a| a.operation == step.operation());
    let held = p.held_amount.unwrap_or(p.amount);
    let asked = sent.map_or(held, |a| a.amount);
    let started = service.now_ms();
    let answer = inquire(service, p, if step == Step::Capture { asked } else { held }).await;
    let grace_over =
        started - stale.last_call_at > service.inner.config.unknown_grace.as_millis() as i64;
    let mut change = PaymentChange::to(&p.id, &[step.busy()], step.busy());
    let (outcome, note, kind) = match &answer {
        Ok(Inquiry::Approved {
            cancelled: true, ..
        }) => {
            change.status = PaymentStatus::Released;
            change.message = Some(released_message(false));
            (
                AttemptOutcome::Approved,
                "released at the provider",
                Some("released"),
            )
        }
        Ok(Inquiry::Approved {
            captured: Some(captured),
            approval,
            ..
        }) => {
            change.status = PaymentStatus::Approved;
            change.amount = Some(*captured);
            change.authorized_amount = Some(*captured);
            change.auth_code.clone_from(&approval.auth_code);
            change.provider_ref = Some(approval.provider_ref.clone());
            change.message = Some(captured_message(*captured, held));
            (
                AttemptOutcome::Approved,
                "captured at the provider",
                Some("captured"),
            )
        }
        // Still held, says a provider whose inquiry reads captures: the call never took
        // effect. One that cannot tell leaves it for a person after the inquiries.
        Ok(Inquiry::Approved { .. }) if grace_over && reads_captures(service, p).await => {
            change.status = PaymentStatus::Authorized;
            (
                AttemptOutcome::Failed,
                "still held at the provider: the call never took effect",
                None,
            )
        }
        Ok(_) => (
            AttemptOutcome::Unknown,
            "not settled at the provider yet",
            None,
        ),
        Err(_) => (AttemptOutcome::Unknown, "inquiry failed", None),
    };
    let note = match &answer {
        Err(e) => format!("{note}: {e}"),
        Ok(_) => note.to_owned(),
    };
    let attempt = crate::janitor::inquiry_attempt(p, outcome, note, started, service.now_ms());
    let settled = change.status != step.busy();
    let audit = kind
        .map(|kind| {
            audit(
                p,
                JANITOR,
                kind,
                json!({ "amount": change.amount.unwrap_or(held), "held_amount": held, "attempt_id": attempt.id }),
            )
        })
        .into_iter()
        .collect();
    store
        .finish_attempt(FinishAttempt {
            new_attempt: Some(attempt),
            events: if settled {
                crate::events::for_change(&change)
            } else {
                None
            },
            payment: settled.then_some(change),
            audit,
            ..FinishAttempt::default()
        })
        .await?;
    Ok(match (settled, answer.is_err()) {
        (true, _) => Verdict::Resolved,
        (false, true) => Verdict::Error,
        (false, false) => Verdict::Left,
    })
}

/// Whether the payment's protocol reports captures and releases in its inquiry.
async fn reads_captures(service: &PaymentService, p: &PaymentRecord) -> bool {
    let Ok(pos) = service.inner.store.get_pos(&p.company_id, &p.pos_id).await else {
        return false;
    };
    crate::gateways::protocol_of(&pos.protocol)
        .is_ok_and(|protocol| protocol.info().capabilities.pre_auth_inquiry)
}
