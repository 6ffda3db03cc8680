//! The webhook outbox: an event row and one delivery row per subscribed endpoint are
//! written *inside* the transaction of the change that causes them (finishing an
//! attempt, a refund result, a review mark, a session lock), so a crash can never keep
//! one without the other.
//!
//! The store writes; the service decides. Which events a change causes, what their
//! `data` holds and whether an approval completes a checkout session are the service's
//! rules, handed in with the change as a plain function ([`PaymentRules`],
//! [`SessionRules`]) that the store calls inside the transaction with the rows as the
//! change left them. The store adds only the envelope (`id`, `type`, `created_at`) and
//! writes nothing when no endpoint is subscribed.

use sanalpos_core::time::rfc3339;
use serde_json::{json, Value};
use sqlx::AnyConnection;

use crate::checkout::{session_of_payment, CheckoutSessionRecord, SessionStatus};
use crate::model::{PaymentRecord, PaymentStatus, RefundResult};
use crate::rows::{int, text};
use crate::webhooks::{endpoint_from, DeliveryStatus};
use crate::{new_id, StoreError};

/// A webhook event to write, built by the service; the store assigns its id and time.
#[derive(Debug, Clone, PartialEq)]
pub struct NewEvent {
    /// The company whose endpoints may receive it.
    pub company_id: String,
    /// The event name (`payment.approved`, …), one of
    /// [`WEBHOOK_EVENTS`](crate::WEBHOOK_EVENTS).
    pub kind: String,
    /// The record it is about (a payment, a checkout session, a reconciliation run).
    pub subject_id: String,
    /// The `data` of the event's body.
    pub data: Value,
}

/// What happened to a payment, as the store saw it inside the transaction.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum PaymentCause<'a> {
    /// A [`PaymentChange`](crate::PaymentChange) applied; `before` is the status it
    /// changed from (equal to the new one when the status stayed).
    Status {
        /// The status before the change.
        before: PaymentStatus,
    },
    /// A cancel/refund result was recorded; the payment's refunded amount and status
    /// now follow its approved refunds.
    Refund(&'a RefundResult),
    /// The payment was marked for a person to review.
    Review,
}

/// A payment as a change left it, handed to the service's [`PaymentRules`].
#[derive(Debug, Clone, Copy)]
pub struct PaymentChanged<'a> {
    /// What happened.
    pub cause: PaymentCause<'a>,
    /// The payment after the change.
    pub payment: &'a PaymentRecord,
    /// The checkout session the payment was made through, if any.
    pub session: Option<&'a CheckoutSessionRecord>,
    /// The change's time, Unix ms (the payment's `updated_at` when it changed).
    pub now: i64,
}

/// What the service decides a payment change causes.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Consequences {
    /// Events to write.
    pub events: Vec<NewEvent>,
    /// Complete the payment's checkout session (status `completed`, `completed_at` =
    /// the change's time); the completion's events are written only when this change
    /// is the one that completed it.
    pub complete_session: Option<SessionCompletion>,
}

/// A checkout session to complete, and the events its completion causes.
#[derive(Debug, Clone, PartialEq)]
pub struct SessionCompletion {
    /// The session (the payment's).
    pub session_id: String,
    /// Written only when the session was open and is completed now.
    pub events: Vec<NewEvent>,
}

/// The service's rule of what a payment change causes, called by the store inside the
/// change's transaction, only for a payment someone can observe (its company has a
/// live webhook endpoint, or it was made through a checkout session).
pub type PaymentRules = fn(&PaymentChanged<'_>) -> Consequences;

/// The service's rule of the events a checkout session's change causes, called inside
/// the change's transaction with the session as the change left it.
pub type SessionRules = fn(&CheckoutSessionRecord) -> Vec<NewEvent>;

/// The company's live endpoints subscribed to `kind`.
async fn subscribed(
    conn: &mut AnyConnection,
    company_id: &str,
    kind: &str,
) -> Result<Vec<String>, StoreError> {
    let rows =
        sqlx::query("SELECT * FROM webhook_endpoints WHERE company_id = $1 AND deleted_at IS NULL")
            .bind(company_id)
            .fetch_all(&mut *conn)
            .await?;
    let mut ids = Vec::new();
    for row in &rows {
        let endpoint = endpoint_from(row)?;
        if endpoint.events.iter().any(|e| e == kind) {
            ids.push(endpoint.id);
        }
    }
    Ok(ids)
}

/// Writes an event and its deliveries (one per subscribed endpoint), in the caller's
/// transaction. Nothing is written when no endpoint wants it.
pub(crate) async fn write(
    conn: &mut AnyConnection,
    event: &NewEvent,
    now: i64,
) -> Result<(), StoreError> {
    let endpoints = subscribed(conn, &event.company_id, &event.kind).await?;
    if endpoints.is_empty() {
        return Ok(());
    }
    let event_id = new_id("evt");
    let payload = json!({
        "id": event_id,
        "type": event.kind,
        "created_at": rfc3339(now),
        "data": event.data,
    })
    .to_string();
    sqlx::query(
        "INSERT INTO webhook_events (id, company_id, kind, subject_id, payload, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(&event_id)
    .bind(&event.company_id)
    .bind(&event.kind)
    .bind(&event.subject_id)
    .bind(&payload)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    for endpoint_id in endpoints {
        sqlx::query(
            "INSERT INTO webhook_deliveries (id, event_id, endpoint_id, company_id, status, tries, \
             next_attempt_at, retry_from, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, 0, $6, $7, $8, $9)",
        )
        .bind(new_id("whd"))
        .bind(&event_id)
        .bind(&endpoint_id)
        .bind(&event.company_id)
        .bind(DeliveryStatus::Pending.as_str())
        .bind(now)
        .bind(now)
        .bind(now)
        .bind(now)
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

/// Writes several events, in order.
pub(crate) async fn write_all(
    conn: &mut AnyConnection,
    events: &[NewEvent],
    now: i64,
) -> Result<(), StoreError> {
    for event in events {
        write(conn, event, now).await?;
    }
    Ok(())
}

/// The payment's status, when a change of it can matter to anyone: its company has a
/// live webhook endpoint, or it was made through a checkout session. `None` otherwise
/// (most payments), found with one indexed read so the common path reads nothing more.
pub(crate) async fn status_if_observed(
    conn: &mut AnyConnection,
    payment_id: &str,
) -> Result<Option<PaymentStatus>, StoreError> {
    let row = sqlx::query(
        "SELECT p.status, \
         (SELECT COUNT(*) FROM webhook_endpoints e \
          WHERE e.company_id = p.company_id AND e.deleted_at IS NULL) AS endpoints, \
         (SELECT COUNT(*) FROM checkout_sessions s WHERE s.payment_id = p.id) AS sessions \
         FROM payments p WHERE p.id = $1",
    )
    .bind(payment_id)
    .fetch_optional(&mut *conn)
    .await?;
    let Some(row) = row else {
        return Ok(None);
    };
    if int(&row, "endpoints")? == 0 && int(&row, "sessions")? == 0 {
        return Ok(None);
    }
    let status = text(&row, "status")?;
    PaymentStatus::parse(&status)
        .map(Some)
        .ok_or_else(|| StoreError::corrupt("payment status"))
}

/// Asks the service's `rules` what a change of an observed payment causes, and carries
/// it out in the caller's transaction: completes the checkout session when told to,
/// and writes the events.
pub(crate) async fn follow(
    conn: &mut AnyConnection,
    rules: PaymentRules,
    cause: PaymentCause<'_>,
    payment: &PaymentRecord,
    now: i64,
) -> Result<(), StoreError> {
    let session = session_of_payment(conn, &payment.id).await?;
    let consequences = rules(&PaymentChanged {
        cause,
        payment,
        session: session.as_ref(),
        now,
    });
    write_all(conn, &consequences.events, now).await?;
    if let Some(completion) = consequences.complete_session {
        if complete_session(conn, &completion.session_id, &payment.id, now).await? {
            write_all(conn, &completion.events, now).await?;
        }
    }
    Ok(())
}

/// Marks a session completed by its payment; `false` when it already was (or is not
/// that payment's).
async fn complete_session(
    conn: &mut AnyConnection,
    session_id: &str,
    payment_id: &str,
    now: i64,
) -> Result<bool, StoreError> {
    let done = sqlx::query(
        "UPDATE checkout_sessions SET status = $1, completed_at = $2 \
         WHERE id = $3 AND payment_id = $4 AND status = $5",
    )
    .bind(SessionStatus::Completed.as_str())
    .bind(now)
    .bind(session_id)
    .bind(payment_id)
    .bind(SessionStatus::Open.as_str())
    .execute(&mut *conn)
    .await?;
    Ok(done.rows_affected() > 0)
}
