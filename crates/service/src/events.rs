//! What changes cause: the webhook events of payments and checkout sessions, their
//! public JSON, and the rule that an approval completes the checkout session a payment
//! was made through.
//!
//! These are rules the store follows inside the transaction of the change (the
//! outbox): the service hands them in with the change ([`FinishAttempt::events`],
//! [`Store::set_review_reason`], [`Store::lock_checkout_session`]) and the store calls
//! them with the rows as the change left them, so an event is never written without its
//! change, nor a change without its event.
//!
//! [`FinishAttempt::events`]: sanalpos_store::FinishAttempt::events
//! [`Store::set_review_reason`]: sanalpos_store::Store::set_review_reason
//! [`Store::lock_checkout_session`]: sanalpos_store::Store::lock_checkout_session

use serde_json::{json, Value};

use sanalpos_store::{
    CheckoutSessionRecord, Consequences, NewEvent, PaymentCause, PaymentChange, PaymentChanged,
    PaymentRecord, PaymentRules, PaymentStatus, RefundResult, RefundStatus, SessionCompletion,
    SessionRules, SessionStatus,
};

use crate::types::rfc3339;

/// The payment as webhook payloads show it (no card data beyond the masked PAN).
pub(crate) fn payment_payload(p: &PaymentRecord) -> Value {
    json!({
        "id": p.id,
        "status": p.status,
        "amount": p.amount,
        "currency": p.currency,
        "installments": p.installments,
        "masked_pan": p.masked_pan,
        "auth_code": p.auth_code,
        "provider_ref": p.provider_ref,
        "bank_code": p.bank_code,
        "message": match (&p.message_tr, &p.message_en) {
            (Some(tr), Some(en)) => json!({"tr": tr, "en": en}),
            _ => Value::Null,
        },
        "channel": p.channel,
        "order_ref": p.order_ref,
        "customer_ref": p.customer_ref,
        "description": p.description,
        "authorized_amount": p.authorized_amount,
        "refunded_amount": p.refunded_amount,
        "review_reason": p.review_reason,
        "business_date": p.business_date,
        "created_at": rfc3339(p.created_at),
        "updated_at": rfc3339(p.updated_at),
    })
}

/// A session as webhook payloads (and its audit event) show it.
pub(crate) fn session_payload(s: &CheckoutSessionRecord) -> Value {
    json!({
        "id": s.id,
        "purpose": s.purpose.as_str(),
        "status": s.status.as_str(),
        "amount": s.amount,
        "min_amount": s.min_amount,
        "max_amount": s.max_amount,
        "currency": s.currency,
        "order_ref": s.order_ref,
        "customer_ref": s.customer_ref,
        "payment_id": s.payment_id,
        "expires_at": rfc3339(s.expires_at),
        "completed_at": s.completed_at.map(rfc3339),
    })
}

/// The event a payment moving from `before` to `status` causes, if any.
fn event_for_status(before: PaymentStatus, status: PaymentStatus) -> Option<&'static str> {
    use PaymentStatus as S;
    match (before, status) {
        // A refused or failed capture or release leaves the block as it was.
        (S::Capturing | S::Releasing, S::Authorized) => None,
        (_, S::Authorized) => Some("payment.authorized"),
        (S::Authorized | S::Capturing, S::Approved) => Some("payment.captured"),
        (_, S::Released) => Some("payment.released"),
        (_, status) => event_for_sale_status(status),
    }
}

/// The event a sale reaching `status` causes, if any.
fn event_for_sale_status(status: PaymentStatus) -> Option<&'static str> {
    use PaymentStatus as S;
    match status {
        S::Approved => Some("payment.approved"),
        S::Declined => Some("payment.declined"),
        S::Cancelled => Some("payment.cancelled"),
        S::Refunded | S::PartiallyRefunded => Some("payment.refunded"),
        _ => None,
    }
}

/// The event an approved cancel/refund causes, by the payment's status after it.
fn event_for_refund(result: &RefundResult, payment: &PaymentRecord) -> Option<&'static str> {
    match (result.status, payment.status) {
        (RefundStatus::Approved, PaymentStatus::Cancelled) => Some("payment.cancelled"),
        (RefundStatus::Approved, _) => Some("payment.refunded"),
        _ => None,
    }
}

/// A payment event: the payment, and the id of the checkout session it was made
/// through.
fn payment_event(kind: &str, changed: &PaymentChanged<'_>) -> NewEvent {
    let mut data = json!({ "payment": payment_payload(changed.payment) });
    if let Some(session) = changed.session {
        data["checkout_session_id"] = json!(session.id);
    }
    NewEvent {
        company_id: changed.payment.company_id.clone(),
        kind: kind.to_owned(),
        subject_id: changed.payment.id.clone(),
        data,
    }
}

/// The rules of payments: a status change to a status with an event emits it (only on
/// a real change); an approval also completes the payment's checkout session, with
/// `checkout_session.completed`; an approved cancel/refund emits `payment.cancelled` or
/// `payment.refunded`; a review mark emits `payment.needs_review`.
fn payment_rules(changed: &PaymentChanged<'_>) -> Consequences {
    let p = changed.payment;
    let kind = match changed.cause {
        PaymentCause::Status { before } if before != p.status => event_for_status(before, p.status),
        PaymentCause::Status { .. } => None,
        PaymentCause::Refund(result) => event_for_refund(result, p),
        PaymentCause::Review => Some("payment.needs_review"),
    };
    let Some(kind) = kind else {
        return Consequences::default();
    };
    let mut consequences = Consequences {
        events: vec![payment_event(kind, changed)],
        complete_session: None,
    };
    if kind == "payment.approved" {
        if let Some(session) = changed.session {
            let mut completed = session.clone();
            completed.status = SessionStatus::Completed;
            completed.completed_at = Some(changed.now);
            consequences.complete_session = Some(SessionCompletion {
                session_id: session.id.clone(),
                events: vec![NewEvent {
                    company_id: p.company_id.clone(),
                    kind: "checkout_session.completed".into(),
                    subject_id: session.id.clone(),
                    data: json!({
                        "checkout_session": session_payload(&completed),
                        "payment": payment_payload(p),
                    }),
                }],
            });
        }
    }
    consequences
}

/// The rules to hand in with a payment change: only a status that can cause an event
/// needs them (the store then reads the status it changes from).
pub(crate) fn for_change(change: &PaymentChange) -> Option<PaymentRules> {
    let may_cause = PaymentStatus::ALL
        .iter()
        .any(|before| event_for_status(*before, change.status).is_some());
    may_cause.then_some(payment_rules as PaymentRules)
}

/// The rules to hand in with a cancel/refund result: only an approval causes an event.
pub(crate) fn for_refund(result: &RefundResult) -> Option<PaymentRules> {
    (result.status == RefundStatus::Approved).then_some(payment_rules as PaymentRules)
}

/// The rules to hand in with a review mark.
pub(crate) fn for_review() -> Option<PaymentRules> {
    Some(payment_rules)
}

/// The rules of a session locked after too many unsuccessful attempts:
/// `checkout_session.locked`.
fn locked_rules(session: &CheckoutSessionRecord) -> Vec<NewEvent> {
    vec![NewEvent {
        company_id: session.company_id.clone(),
        kind: "checkout_session.locked".into(),
        subject_id: session.id.clone(),
        data: json!({
            "checkout_session": session_payload(session),
            "failed_attempts": session.tries,
        }),
    }]
}

/// The rules to hand in with a session lock.
pub(crate) fn for_lock() -> SessionRules {
    locked_rules
}
