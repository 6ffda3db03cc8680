//! The end-of-day job: once a day, after a configured Istanbul local time, every active
//! POS of every company is reconciled for the closed business day (the day before).
//! First, every scheduled refund is sent: the providers' days are closed by then.
//!
//! Several instances may run the loop on one database: each (POS, day) is leased first
//! (`recon:<pos_id>:<date>`), and a day this job already stored a run for is never run
//! again, so exactly one pull run per POS and day is stored.

use std::time::Duration;

use chrono::{Duration as Days, NaiveDate, Utc};

use sanalpos_store::OnboardingState;

use crate::error::ServiceError;
use crate::types::Actor;
use crate::PaymentService;

/// The actor the job's runs are created by.
pub const END_OF_DAY_ACTOR: &str = "end-of-day";
/// How long a (POS, day) lease is held: longer than any single pull run.
const LEASE_TTL: Duration = Duration::from_secs(15 * 60);
/// How often the loop looks at the clock.
const TICK: Duration = Duration::from_secs(60);

/// What one end-of-day pass did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EndOfDayReport {
    /// The business day reconciled.
    pub day: Option<NaiveDate>,
    /// Ids of the runs stored by this pass.
    pub runs: Vec<String>,
    /// POS skipped: already done, or leased by another instance.
    pub skipped: u32,
    /// POS whose run failed (logged; retried once the lease expires).
    pub errors: u32,
    /// Active POS whose bank offers no transaction list to pull (NestPay, PosNet):
    /// their day is reconciled by importing the bank's statement file, not by this job,
    /// which leaves them alone instead of failing on them every day.
    pub statement_only: u32,
    /// Scheduled refunds carried out (or refused for good) by this pass.
    pub refunds_carried_out: u32,
    /// Scheduled refunds the provider still could not take.
    pub refunds_still_scheduled: u32,
}

/// Reconciles `day` for every active POS that nobody has reconciled yet.
pub(crate) async fn run_once(
    service: &PaymentService,
    day: NaiveDate,
) -> Result<EndOfDayReport, ServiceError> {
    let store = &service.inner.store;
    let owner = format!("{}:end-of-day", service.inner.config.instance_id);
    let date = day.to_string();
    let scheduled = crate::scheduled_refunds::run_due(service, true).await?;
    let mut report = EndOfDayReport {
        day: Some(day),
        refunds_carried_out: scheduled.settled,
        refunds_still_scheduled: scheduled.still_scheduled,
        ..EndOfDayReport::default()
    };
    for company in store.list_companies().await? {
        for pos in store.list_pos(&company.id).await? {
            if pos.onboarding_state != OnboardingState::Active {
                continue;
            }
            let report_pull = crate::gateways::protocol_of(&pos.protocol)
                .map(|p| p.info().capabilities.report_pull)
                .unwrap_or(true);
            if !report_pull {
                report.statement_only += 1;
                continue;
            }
            let lease = format!("recon:{}:{date}", pos.id);
            if !store.try_lease(&lease, &owner, LEASE_TTL).await? {
                report.skipped += 1;
                continue;
            }
            let done = store
                .find_recon_run(&pos.id, "pull", &date, &date, END_OF_DAY_ACTOR)
                .await?;
            if done.is_some() {
                report.skipped += 1;
                continue;
            }
            let actor = Actor {
                company_id: company.id.clone(),
                name: END_OF_DAY_ACTOR.to_owned(),
            };
            match crate::recon::run_pull(service, &actor, &company.id, &pos.id, &date, &date).await
            {
                Ok(run) => {
                    tracing::info!(
                        pos.id = %pos.id,
                        recon.id = %run.id,
                        recon.open_exceptions = run.open_exceptions,
                        "end-of-day reconciliation"
                    );
                    report.runs.push(run.id);
                }
                Err(e) => {
                    tracing::warn!(pos.id = %pos.id, error = %e, code = e.code(), "end-of-day reconciliation failed");
                    report.errors += 1;
                }
            }
        }
    }
    Ok(report)
}

/// The business day to reconcile at `now`: yesterday in Istanbul once the local time
/// has passed `at`, otherwise none.
pub(crate) fn due_day(now: chrono::DateTime<Utc>, at: chrono::NaiveTime) -> Option<NaiveDate> {
    let local = now.with_timezone(&sanalpos_core::time::istanbul());
    if local.time() < at {
        return None;
    }
    local.date_naive().checked_sub_signed(Days::days(1))
}

pub(crate) fn spawn(
    service: PaymentService,
    mut shutdown: tokio::sync::watch::Receiver<bool>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let Some(at) = service.inner.config.end_of_day else {
            return;
        };
        let mut done: Option<NaiveDate> = None;
        loop {
            if *shutdown.borrow() {
                break;
            }
            if let Some(day) = due_day(Utc::now(), at).filter(|d| done != Some(*d)) {
                match run_once(&service, day).await {
                    Ok(report) if report.errors == 0 => done = Some(day),
                    Ok(_) => {}
                    Err(e) => tracing::warn!(error = %e, code = e.code(), "end-of-day pass failed"),
                }
            }
            tokio::select! {
                _ = tokio::time::sleep(TICK) => {}
                changed = shutdown.changed() => {
                    if changed.is_err() || *shutdown.borrow() {
                        break;
                    }
                }
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{NaiveTime, TimeZone};

    #[test]
    fn due_after_local_time_only() {
        let at = NaiveTime::from_hms_opt(3, 0, 0).unwrap_or_default();
        // 23:59 UTC on 1 March = 02:59 on 2 March in Istanbul: not yet.
        let before = Utc.with_ymd_and_hms(2026, 3, 1, 23, 59, 0).single();
        assert_eq!(before.and_then(|t| due_day(t, at)), None);
        // 00:00 UTC on 2 March = 03:00 in Istanbul: 1 March is due.
        let after = Utc.with_ymd_and_hms(2026, 3, 2, 0, 0, 0).single();
        assert_eq!(
            after.and_then(|t| due_day(t, at)).map(|d| d.to_string()),
            Some("2026-03-01".to_owned())
        );
    }
}
