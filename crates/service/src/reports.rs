//! What the back office reads about payments beyond the list: the totals of a filter,
//! the dashboard, and a payment's audit trail. Sums are done by the database over
//! integer kuruş, so they are exact.

use chrono::{DateTime, Duration, NaiveDate, Utc};
use serde::Serialize;

use sanalpos_core::{BankCode, Currency, Kurus};
use sanalpos_store::{CurrencySums, PaymentQuery, PaymentStatus};

use crate::error::ServiceError;
use crate::types::{rfc3339, PaymentFilter};
use crate::PaymentService;

/// The totals of the payments a filter selects.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PaymentTotals {
    /// Payments, every currency and status.
    pub count: u64,
    /// Per currency, alphabetical.
    pub by_currency: Vec<CurrencyTotals>,
}

/// Counts and sums of one currency. "Approved" means the sale was approved and stands
/// (`approved`, `partially_refunded`, `refunded`); a cancelled sale is not counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct CurrencyTotals {
    /// The currency.
    pub currency: Currency,
    /// Payments in it, whatever their status.
    pub count: u64,
    /// Their amounts, whatever their status.
    pub amount: Kurus,
    /// Approved payments.
    pub approved_count: u64,
    /// Their amounts (before any installment surcharge).
    pub approved_amount: Kurus,
    /// What was refunded of the approved payments.
    pub refunded_amount: Kurus,
}

impl From<CurrencySums> for CurrencyTotals {
    fn from(s: CurrencySums) -> CurrencyTotals {
        CurrencyTotals {
            currency: s.currency,
            count: s.count,
            amount: s.amount,
            approved_count: s.approved_count,
            approved_amount: s.approved_amount,
            refunded_amount: s.refunded_amount,
        }
    }
}

/// One day of the dashboard's chart.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct DayTotals {
    /// The Istanbul business day.
    pub date: NaiveDate,
    /// Approved TRY payments of that day.
    pub approved_count: u64,
    /// Their amount (TRY only).
    pub approved_amount: Kurus,
}

/// How often the bank gave one decline reason.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DeclineReason {
    /// The bank code (empty when the answer had none).
    pub code: String,
    /// The reason in Turkish.
    pub message_tr: String,
    /// The reason in English.
    pub message_en: String,
    /// Declined payments with it.
    pub count: u64,
}

/// The dashboard (Gösterge paneli) of a company.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DashboardView {
    /// Today's (Istanbul day) payments per currency.
    pub today: Vec<CurrencyTotals>,
    /// Payments started today, whatever their status.
    pub today_attempted: u64,
    /// Of today's payments that reached a final answer, the share the bank approved
    /// (approved, refunded or cancelled afterwards alike), in basis points; `None`
    /// when none has finished.
    pub approval_rate_bp: Option<u32>,
    /// The last 14 Istanbul days, oldest first, today last, zero-filled.
    pub last_14_days: Vec<DayTotals>,
    /// Decline reasons of the last 14 days, most frequent first.
    pub decline_reasons: Vec<DeclineReason>,
    /// Payments marked for a person to review.
    pub review_count: u64,
    /// Undecided reconciliation exceptions (latest run of each POS and period).
    pub recon_exceptions: u64,
    /// Attempts refused today by an abuse limit (velocity, locked session); never sent.
    pub blocked_today: u64,
    /// Pre-authorisations still held that are released by themselves within a day
    /// unless captured.
    pub holds_ending_soon: u64,
}

/// One audit event about a payment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuditEventView {
    /// `aud_…`.
    pub id: String,
    /// Position in the company's chain.
    pub seq: i64,
    /// Who: `api:<key>`, `user:<name>`, `janitor`.
    pub actor: String,
    /// What: `payment.approved`, `payment.refunded`, …
    pub action: String,
    /// RFC 3339, UTC.
    pub at: String,
    /// The event's details.
    pub details: serde_json::Value,
}

/// The list cursor that continues after the payment created at `created_at_ms` (Unix
/// milliseconds) with id `id`, as [`crate::PaymentPage::next_cursor`] would give it.
pub fn payment_cursor(created_at_ms: i64, id: &str) -> String {
    crate::payments::encode_cursor(created_at_ms, id)
}

/// The bank approved these (whatever happened after).
const BANK_APPROVED: &[PaymentStatus] = &[
    PaymentStatus::Approved,
    PaymentStatus::PartiallyRefunded,
    PaymentStatus::Refunded,
    PaymentStatus::Cancelled,
    // A pre-authorisation the bank approved, wherever it went since.
    PaymentStatus::Authorized,
    PaymentStatus::Capturing,
    PaymentStatus::Releasing,
    PaymentStatus::Released,
];

/// The store query of a filter, validated (cursor and limit are the caller's).
pub(crate) fn query_of(filter: &PaymentFilter) -> Result<PaymentQuery, ServiceError> {
    let last4 = match filter.last_four.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(v) if v.len() == 4 && v.bytes().all(|b| b.is_ascii_digit()) => Some(v.to_owned()),
        Some(_) => {
            return Err(ServiceError::validation(
                "last_four",
                "the last four digits of the card: exactly 4 digits",
            ))
        }
    };
    if let (Some(min), Some(max)) = (filter.min_amount, filter.max_amount) {
        if min > max {
            return Err(ServiceError::validation(
                "min_amount",
                "the smallest amount must not exceed the largest",
            ));
        }
    }
    if let (Some(from), Some(to)) = (filter.from, filter.to) {
        if from > to {
            return Err(ServiceError::validation("from", "must not be after `to`"));
        }
    }
    Ok(PaymentQuery {
        from: filter.from.map(|t| t.timestamp_millis()),
        to: filter.to.map(|t| t.timestamp_millis()),
        status: filter.status,
        pos_id: crate::payments::check_text("pos_id", &filter.pos_id, 100)?,
        order_ref: crate::payments::check_text("order_ref", &filter.order_ref, 100)?,
        customer_ref: crate::payments::check_text("customer_ref", &filter.customer_ref, 100)?,
        channel: filter.channel,
        last4,
        min_amount: filter.min_amount,
        max_amount: filter.max_amount,
        auth_code: crate::payments::check_text("auth_code", &filter.auth_code, 100)?,
        provider_ref: crate::payments::check_text("provider_ref", &filter.provider_ref, 100)?,
        after: None,
        limit: 0,
    })
}

/// Midnight of an Istanbul day, in Unix milliseconds.
fn day_start_ms(date: NaiveDate) -> i64 {
    sanalpos_core::time::istanbul_midnight(date).map_or(0, |t| t.timestamp_millis())
}

fn rate_bp(approved: u64, finished: u64) -> Option<u32> {
    if finished == 0 {
        return None;
    }
    let bp = (u128::from(approved) * 10_000 + u128::from(finished) / 2) / u128::from(finished);
    u32::try_from(bp).ok()
}

impl PaymentService {
    /// The count and per-currency sums of every payment `filter` selects (its cursor
    /// and limit are ignored).
    pub async fn payment_totals(
        &self,
        company_id: &str,
        filter: &PaymentFilter,
    ) -> Result<PaymentTotals, ServiceError> {
        let query = query_of(filter)?;
        let sums = self.inner.store.payment_totals(company_id, &query).await?;
        Ok(PaymentTotals {
            count: sums.iter().map(|s| s.count).sum(),
            by_currency: sums.into_iter().map(CurrencyTotals::from).collect(),
        })
    }

    /// The dashboard as of `now`: today is the Istanbul day of `now`.
    pub async fn dashboard(
        &self,
        company_id: &str,
        now: DateTime<Utc>,
    ) -> Result<DashboardView, ServiceError> {
        let store = &self.inner.store;
        let today = crate::time::business_date(now.timestamp_millis());
        let today_start = day_start_ms(today);
        let tomorrow_start = day_start_ms(today + Duration::days(1));
        let first_day = today - Duration::days(13);
        let window_start = day_start_ms(first_day);

        let today_query = PaymentQuery {
            from: Some(today_start),
            to: Some(tomorrow_start),
            ..PaymentQuery::default()
        };
        let today_totals = store.payment_totals(company_id, &today_query).await?;
        let by_status = store
            .count_by_status(company_id, today_start, tomorrow_start)
            .await?;
        let today_attempted = by_status.iter().map(|(_, n)| n).sum();
        let approved: u64 = by_status
            .iter()
            .filter(|(s, _)| BANK_APPROVED.contains(s))
            .map(|(_, n)| n)
            .sum();
        let finished: u64 = by_status
            .iter()
            .filter(|(s, _)| s.is_final() || BANK_APPROVED.contains(s))
            .map(|(_, n)| n)
            .sum();

        let days = store
            .captured_by_day(company_id, Currency::Try, window_start, tomorrow_start)
            .await?;
        let last_14_days = (0..14)
            .map(|i| {
                let date = first_day + Duration::days(i);
                let key = date.format("%Y-%m-%d").to_string();
                match days.iter().find(|d| d.business_date == key) {
                    Some(d) => DayTotals {
                        date,
                        approved_count: d.count,
                        approved_amount: d.amount,
                    },
                    None => DayTotals {
                        date,
                        approved_count: 0,
                        approved_amount: Kurus::ZERO,
                    },
                }
            })
            .collect();

        let decline_reasons = store
            .decline_counts(company_id, window_start, tomorrow_start)
            .await?
            .into_iter()
            .map(|d| {
                let catalogue = BankCode::parse(&d.code).map(|c| c.message());
                let message_tr = d
                    .message_tr
                    .or_else(|| catalogue.as_ref().map(|m| m.tr.clone()))
                    .unwrap_or_else(|| d.code.clone());
                let message_en = d
                    .message_en
                    .or_else(|| catalogue.as_ref().map(|m| m.en.clone()))
                    .unwrap_or_else(|| d.code.clone());
                DeclineReason {
                    code: d.code,
                    message_tr,
                    message_en,
                    count: d.count,
                }
            })
            .collect();

        Ok(DashboardView {
            today: today_totals.into_iter().map(CurrencyTotals::from).collect(),
            today_attempted,
            approval_rate_bp: rate_bp(approved, finished),
            last_14_days,
            decline_reasons,
            review_count: store.review_count(company_id).await?,
            recon_exceptions: store.open_recon_exceptions(company_id).await?,
            blocked_today: u64::try_from(store.count_blocked_since(company_id, today_start).await?)
                .unwrap_or(0),
            holds_ending_soon: store
                .holds_ending_before(
                    company_id,
                    now.timestamp_millis() + crate::pre_auth::HOLD_WARNING_MS,
                )
                .await?,
        })
    }

    /// The audit events about a payment of the company, oldest first.
    pub async fn payment_audit(
        &self,
        company_id: &str,
        payment_id: &str,
    ) -> Result<Vec<AuditEventView>, ServiceError> {
        // Not found for another company's payment, as everywhere.
        self.inner.store.get_payment(company_id, payment_id).await?;
        let events = self
            .inner
            .store
            .audit_of_subject(company_id, payment_id)
            .await?;
        Ok(events.into_iter().map(audit_view).collect())
    }

    /// The company's latest `limit` audit events, newest first, and the check of its
    /// chain alone (`None` for an unknown company without events).
    pub async fn company_audit(
        &self,
        company_id: &str,
        limit: u32,
    ) -> Result<
        (
            Vec<sanalpos_store::AuditEvent>,
            Option<sanalpos_store::AuditReport>,
        ),
        ServiceError,
    > {
        let store = &self.inner.store;
        let events = store.list_audit(company_id, limit).await?;
        let report = store.verify_company_audit(company_id).await?;
        Ok((events, report))
    }

    /// Whether the database answers (for the readiness probe).
    pub async fn ping(&self) -> Result<(), ServiceError> {
        Ok(self.inner.store.ping().await?)
    }
}

/// An audit event as pages and the API show it (its data parsed back into JSON).
pub(crate) fn audit_view(e: sanalpos_store::AuditEvent) -> AuditEventView {
    AuditEventView {
        details: serde_json::from_str(&e.data).unwrap_or(serde_json::Value::String(e.data.clone())),
        id: e.id,
        seq: e.seq,
        actor: e.actor,
        action: e.kind,
        at: rfc3339(e.created_at),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn approval_rate_rounds_half_up_and_is_none_without_answers() {
        assert_eq!(rate_bp(0, 0), None);
        assert_eq!(rate_bp(2, 3), Some(6667));
        assert_eq!(rate_bp(1, 3), Some(3333));
        assert_eq!(rate_bp(5, 5), Some(10_000));
    }

    #[test]
    fn istanbul_midnight_is_21_utc_the_day_before() {
        let date = NaiveDate::from_ymd_opt(2026, 11, 29).unwrap_or_default();
        assert_eq!(rfc3339(day_start_ms(date)), "2026-11-28T21:00:00.000Z");
    }

    #[test]
    fn last_four_must_be_four_digits() {
        for bad in ["123", "12345", "12a4", "１２３４"] {
            let filter = PaymentFilter {
                last_four: Some(bad.into()),
                ..PaymentFilter::default()
            };
            assert_eq!(
                query_of(&filter).err().as_ref().and_then(|e| e.field()),
                Some("last_four"),
                "{bad}"
            );
        }
        let filter = PaymentFilter {
            last_four: Some(" 7894 ".into()),
            ..PaymentFilter::default()
        };
        assert_eq!(
            query_of(&filter).ok().and_then(|q| q.last4),
            Some("7894".into())
        );
    }
}
