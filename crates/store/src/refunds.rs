//! Cancels and refunds. The refund cap is checked in the same transaction that writes
//! the refund record (with the payment row locked on PostgreSQL; the single writer
//! serializes SQLite), so two concurrent refunds can never together pass it.

use sqlx::any::AnyRow;
use sqlx::AnyConnection;

use sanalpos_core::Kurus;

use crate::audit::append;
use crate::model::NewAudit;
use crate::model::{
    AttemptRecord, PaymentStatus, RefundKind, RefundRecord, RefundResult, RefundStatus,
};
use crate::payments::{insert_attempt_in, payment_from};
use crate::recovery::StaleRefund;
use crate::rows::{int, money, opt_int, opt_text, parsed, text};
use crate::{Store, StoreError};

fn refund_from(row: &AnyRow) -> Result<RefundRecord, StoreError> {
    Ok(RefundRecord {
        id: text(row, "id")?,
        payment_id: text(row, "payment_id")?,
        company_id: text(row, "company_id")?,
        kind: parsed(row, "kind", RefundKind::parse)?,
        amount: money(row, "amount")?,
        status: parsed(row, "status", RefundStatus::parse)?,
        provider_ref: opt_text(row, "provider_ref")?,
        bank_code: opt_text(row, "bank_code")?,
        message_tr: opt_text(row, "message_tr")?,
        message_en: opt_text(row, "message_en")?,
        client_ref: text(row, "client_ref")?,
        created_at: int(row, "created_at")?,
        updated_at: int(row, "updated_at")?,
        scheduled_at: opt_int(row, "scheduled_at")?,
        next_try_at: opt_int(row, "next_try_at")?,
        tries: int(row, "tries")?,
    })
}

/// Sum of refunds that count against the cap: approved, those whose outcome is not
/// known yet (pending, unknown), and those scheduled for after the provider's day close.
const HELD_SUM: &str = "SELECT CAST(COALESCE(SUM(amount), 0) AS BIGINT) FROM refunds \
     WHERE payment_id = $1 AND status IN ($2, $3, $4, $5)";

async fn held(conn: &mut AnyConnection, payment_id: &str) -> Result<i64, StoreError> {
    Ok(sqlx::query_scalar(HELD_SUM)
        .bind(payment_id)
        .bind(RefundStatus::Approved.as_str())
        .bind(RefundStatus::Pending.as_str())
        .bind(RefundStatus::Unknown.as_str())
        .bind(RefundStatus::Scheduled.as_str())
        .fetch_one(&mut *conn)
        .await?)
}

/// Locks a payment row for the rest of the transaction (PostgreSQL; the single writer
/// serializes SQLite) and reads it.
async fn lock_payment(
    conn: &mut AnyConnection,
    payment_id: &str,
) -> Result<crate::model::PaymentRecord, StoreError> {
    let lock = if crate::db::is_postgres(conn) {
        " FOR NO KEY UPDATE"
    } else {
        ""
    };
    let row = sqlx::query(&format!("SELECT * FROM payments WHERE id = $1{lock}"))
        .bind(payment_id)
        .fetch_optional(&mut *conn)
        .await?
        .ok_or(StoreError::NotFound)?;
    payment_from(&row)
}

/// Turns a scheduled refund into a pending one with its attempt (dispatched), unless
/// it is no longer scheduled (withdrawn, or taken by another instance). Returns what
/// the provider should still have refundable for this refund (its own amount included).
async fn dispatch_scheduled(
    conn: &mut AnyConnection,
    (refund_id, attempt): &(String, AttemptRecord),
) -> Result<Option<Kurus>, StoreError> {
    let payment = lock_payment(conn, &attempt.payment_id).await?;
    let now = crate::now_ms();
    let taken = sqlx::query(
        "UPDATE refunds SET status = $1, updated_at = $2 WHERE id = $3 AND payment_id = $4 AND status = $5",
    )
    .bind(RefundStatus::Pending.as_str())
    .bind(now)
    .bind(refund_id)
    .bind(&payment.id)
    .bind(RefundStatus::Scheduled.as_str())
    .execute(&mut *conn)
    .await?
    .rows_affected();
    if taken == 0 {
        return Ok(None);
    }
    insert_attempt_in(conn, attempt).await?;
    let held = held(conn, &payment.id).await?;
    let refundable = payment.amount.minor() - held + attempt.amount.minor();
    Ok(Some(
        Kurus::from_minor(refundable.max(0)).unwrap_or(Kurus::ZERO),
    ))
}

/// A refund to withdraw: company, payment, refund, its new message (TR, EN), and the
/// audit event.
type Withdrawal = (String, String, String, (String, String), NewAudit);

/// Marks a scheduled refund withdrawn and appends its audit event; refused when it is
/// not scheduled (any more).
async fn withdraw(
    conn: &mut AnyConnection,
    (company_id, payment_id, refund_id, (message_tr, message_en), audit): &Withdrawal,
) -> Result<RefundRecord, StoreError> {
    let now = crate::now_ms();
    let done = sqlx::query(
        "UPDATE refunds SET status = $1, next_try_at = NULL, updated_at = $2, \
         message_tr = $7, message_en = $8 \
         WHERE id = $3 AND payment_id = $4 AND company_id = $5 AND status = $6",
    )
    .bind(RefundStatus::Withdrawn.as_str())
    .bind(now)
    .bind(refund_id)
    .bind(payment_id)
    .bind(company_id)
    .bind(RefundStatus::Scheduled.as_str())
    .bind(message_tr)
    .bind(message_en)
    .execute(&mut *conn)
    .await?
    .rows_affected();
    let row =
        sqlx::query("SELECT * FROM refunds WHERE id = $1 AND payment_id = $2 AND company_id = $3")
            .bind(refund_id)
            .bind(payment_id)
            .bind(company_id)
            .fetch_optional(&mut *conn)
            .await?
            .ok_or(StoreError::NotFound)?;
    let refund = refund_from(&row)?;
    if done == 0 {
        return Err(StoreError::conflict(
            "not_withdrawable",
            format!(
                "only a scheduled refund can be withdrawn (this one is {})",
                refund.status
            ),
        ));
    }
    append(conn, audit).await?;
    Ok(refund)
}

async fn begin_refund(
    conn: &mut AnyConnection,
    (refund, attempt): &(RefundRecord, AttemptRecord),
) -> Result<Kurus, StoreError> {
    let lock = if crate::db::is_postgres(conn) {
        " FOR NO KEY UPDATE"
    } else {
        ""
    };
    let row = sqlx::query(&format!(
        "SELECT * FROM payments WHERE id = $1 AND company_id = $2{lock}"
    ))
    .bind(&refund.payment_id)
    .bind(&refund.company_id)
    .fetch_optional(&mut *conn)
    .await?
    .ok_or(StoreError::NotFound)?;
    let payment = payment_from(&row)?;
    // What can be given back is the sale amount (an installment surcharge stays with
    // the provider, which refunds at most the sale amount).
    let captured = payment.amount;
    let held = held(conn, &payment.id).await?;
    match refund.kind {
        RefundKind::Cancel => {
            if payment.status != PaymentStatus::Approved || held > 0 {
                return Err(StoreError::conflict(
                    "not_cancellable",
                    format!(
                        "only an approved payment without refunds can be cancelled (status {})",
                        payment.status
                    ),
                ));
            }
        }
        RefundKind::Refund => {
            if !matches!(
                payment.status,
                PaymentStatus::Approved | PaymentStatus::PartiallyRefunded
            ) {
                return Err(StoreError::conflict(
                    "not_refundable",
                    format!(
                        "only an approved payment can be refunded (status {})",
                        payment.status
                    ),
                ));
            }
        }
    }
    let refundable = captured.minor() - held;
    if refund.amount.minor() > refundable {
        return Err(StoreError::conflict(
            "refund_exceeds_captured",
            format!(
                "{} is more than the {} still refundable",
                refund.amount,
                Kurus::from_minor(refundable.max(0)).unwrap_or(Kurus::ZERO)
            ),
        ));
    }
    sqlx::query(
        "INSERT INTO refunds (id, payment_id, company_id, kind, amount, status, provider_ref, bank_code, \
         message_tr, message_en, client_ref, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, NULL, NULL, NULL, NULL, $7, $8, $9)",
    )
    .bind(&refund.id)
    .bind(&refund.payment_id)
    .bind(&refund.company_id)
    .bind(refund.kind.as_str())
    .bind(refund.amount.minor())
    .bind(RefundStatus::Pending.as_str())
    .bind(&refund.client_ref)
    .bind(refund.created_at)
    .bind(refund.updated_at)
    .execute(&mut *conn)
    .await?;
    insert_attempt_in(conn, attempt).await?;
    Ok(Kurus::from_minor(refundable).unwrap_or(Kurus::ZERO))
}

/// Records a cancel/refund outcome and brings the payment's refunded amount and status
/// in line with its approved refunds. Returns the payment as it now stands.
pub(crate) async fn apply_refund_result(
    conn: &mut AnyConnection,
    r: &RefundResult,
    now: i64,
) -> Result<crate::model::PaymentRecord, StoreError> {
    let payment_id: String = sqlx::query_scalar("SELECT payment_id FROM refunds WHERE id = $1")
        .bind(&r.refund_id)
        .fetch_one(&mut *conn)
        .await?;
    // Lock the payment first (PostgreSQL), so two refunds finishing together sum each
    // other's results instead of overwriting them.
    let lock = if crate::db::is_postgres(conn) {
        " FOR NO KEY UPDATE"
    } else {
        ""
    };
    let row = sqlx::query(&format!("SELECT * FROM payments WHERE id = $1{lock}"))
        .bind(&payment_id)
        .fetch_one(&mut *conn)
        .await?;
    let payment = payment_from(&row)?;
    // Scheduled: first time, remember when; again (sent and found the day still open),
    // count the try. The right-hand sides read the row as it was.
    let scheduled = r.status == RefundStatus::Scheduled;
    sqlx::query(
        "UPDATE refunds SET status = $1, provider_ref = COALESCE($2, provider_ref), bank_code = $3, \
         message_tr = $4, message_en = $5, updated_at = $6, \
         scheduled_at = CASE WHEN $8 = 1 THEN COALESCE(scheduled_at, $6) ELSE scheduled_at END, \
         tries = CASE WHEN $8 = 1 AND scheduled_at IS NOT NULL THEN tries + 1 ELSE tries END, \
         next_try_at = $9 WHERE id = $7",
    )
    .bind(r.status.as_str())
    .bind(&r.provider_ref)
    .bind(&r.bank_code)
    .bind(&r.message_tr)
    .bind(&r.message_en)
    .bind(now)
    .bind(&r.refund_id)
    .bind(i64::from(scheduled))
    .bind(if scheduled { r.retry_at.or(Some(now)) } else { None })
    .execute(&mut *conn)
    .await?;
    let (approved, cancelled): (i64, i64) = sqlx::query_as(
        "SELECT CAST(COALESCE(SUM(amount), 0) AS BIGINT), \
         CAST(COALESCE(SUM(CASE WHEN kind = $1 THEN 1 ELSE 0 END), 0) AS BIGINT) \
         FROM refunds WHERE payment_id = $2 AND status = $3",
    )
    .bind(RefundKind::Cancel.as_str())
    .bind(&payment_id)
    .bind(RefundStatus::Approved.as_str())
    .fetch_one(&mut *conn)
    .await?;
    let captured = payment.amount.minor();
    let status = if cancelled > 0 {
        PaymentStatus::Cancelled
    } else if approved >= captured && approved > 0 {
        PaymentStatus::Refunded
    } else if approved > 0 {
        PaymentStatus::PartiallyRefunded
    } else {
        payment.status
    };
    let row = sqlx::query(
        "UPDATE payments SET refunded_amount = $1, status = $2, updated_at = $3 WHERE id = $4 \
         RETURNING *",
    )
    .bind(approved)
    .bind(status.as_str())
    .bind(now)
    .bind(&payment_id)
    .fetch_one(&mut *conn)
    .await?;
    payment_from(&row)
}

impl Store {
    /// Writes a cancel/refund record (pending) and its attempt (dispatched) after
    /// checking, in the same transaction, that the payment allows it and that the
    /// amount fits: approved + pending + unknown refunds + this one ≤ the sale amount. Returns
    /// what was refundable before this one.
    pub async fn begin_refund(
        &self,
        refund: RefundRecord,
        attempt: AttemptRecord,
    ) -> Result<Kurus, StoreError> {
        self.db
            .write((refund, attempt), |c, d| Box::pin(begin_refund(c, d)))
            .await
    }

    /// Turns a scheduled refund into a pending one and writes its attempt (dispatched),
    /// in one transaction, before the provider is called. `None` when it is no longer
    /// scheduled (withdrawn meanwhile, or taken by another instance): nothing written.
    /// Otherwise what should still be refundable at the provider, this refund included.
    pub async fn dispatch_scheduled_refund(
        &self,
        refund_id: &str,
        attempt: AttemptRecord,
    ) -> Result<Option<Kurus>, StoreError> {
        self.db
            .write((refund_id.to_owned(), attempt), |c, d| {
                Box::pin(dispatch_scheduled(c, d))
            })
            .await
    }

    /// Withdraws a scheduled refund (its amount is refundable again), sets its message
    /// (`message`: Turkish, English) and appends `audit`, in one transaction. Conflict `not_withdrawable` when it is not
    /// scheduled; not found when the payment has no such refund.
    pub async fn withdraw_refund(
        &self,
        company_id: &str,
        payment_id: &str,
        refund_id: &str,
        message: (String, String),
        audit: NewAudit,
    ) -> Result<RefundRecord, StoreError> {
        let chains = vec![audit.company_id.clone()];
        self.db
            .write_for(
                chains,
                (
                    company_id.to_owned(),
                    payment_id.to_owned(),
                    refund_id.to_owned(),
                    message,
                    audit,
                ),
                |c, d| Box::pin(withdraw(c, d)),
            )
            .await
    }

    /// Scheduled refunds a background pass may send now (`next_try_at` reached), or
    /// every scheduled refund with `due_at = None`; the longest waiting first.
    pub async fn scheduled_refunds(
        &self,
        due_at: Option<i64>,
        limit: u32,
    ) -> Result<Vec<StaleRefund>, StoreError> {
        let rows = sqlx::query(
            "SELECT * FROM refunds WHERE status = $1 AND ($2 = 1 OR next_try_at IS NULL OR next_try_at <= $3) \
             ORDER BY next_try_at, id LIMIT $4",
        )
        .bind(RefundStatus::Scheduled.as_str())
        .bind(i64::from(due_at.is_none()))
        .bind(due_at.unwrap_or(0))
        .bind(i64::from(limit))
        .fetch_all(&self.db.read)
        .await?;
        let mut out = Vec::with_capacity(rows.len());
        for row in &rows {
            let refund = refund_from(row)?;
            let payment = self
                .get_payment(&refund.company_id, &refund.payment_id)
                .await?;
            out.push(StaleRefund { refund, payment });
        }
        Ok(out)
    }

    /// A payment's cancels and refunds, oldest first.
    pub async fn list_refunds(&self, payment_id: &str) -> Result<Vec<RefundRecord>, StoreError> {
        let rows =
            sqlx::query("SELECT * FROM refunds WHERE payment_id = $1 ORDER BY created_at, id")
                .bind(payment_id)
                .fetch_all(&self.db.read)
                .await?;
        rows.iter().map(refund_from).collect()
    }

    /// Cancels/refunds still pending or unknown, last touched before `before`.
    pub async fn stale_refunds(
        &self,
        before: i64,
        limit: u32,
    ) -> Result<Vec<StaleRefund>, StoreError> {
        let rows = sqlx::query(
            "SELECT * FROM refunds WHERE status IN ($1, $2) AND updated_at < $3 ORDER BY updated_at LIMIT $4",
        )
        .bind(RefundStatus::Pending.as_str())
        .bind(RefundStatus::Unknown.as_str())
        .bind(before)
        .bind(i64::from(limit))
        .fetch_all(&self.db.read)
        .await?;
        let mut out = Vec::with_capacity(rows.len());
        for row in &rows {
            let refund = refund_from(row)?;
            let payment = self
                .get_payment(&refund.company_id, &refund.payment_id)
                .await?;
            out.push(StaleRefund { refund, payment });
        }
        Ok(out)
    }
}
