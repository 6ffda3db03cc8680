//! Card-testing defences: limits that refuse an attempt before the provider hears of it.
//!
//! - **Velocity** (across sessions, links, the API and the back office): a card
//!   fingerprint with `card_declines` declines within `card_window`, or a client IP
//!   with `ip_declines` declines within `ip_window`, is refused. Counts come from the
//!   database (two partial indexes), so every instance sees the same numbers.
//! - **Session lock**: a checkout session (hosted page or payment link) that has had
//!   `session_failures` unsuccessful attempts locks; it stays locked until its owner
//!   reopens it from the back office.
//!
//! A refused attempt is written like every attempt (a payment with status `blocked`
//! and one completed attempt whose message names the reason), never sent.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use serde_json::json;

use sanalpos_store::{CheckoutSessionRecord, NewAudit, SessionStatus};

use crate::error::ServiceError;
use crate::types::Actor;
use crate::PaymentService;

/// The abuse limits. A limit of 0 switches that check off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AbuseLimits {
    /// Unsuccessful attempts after which a checkout session locks (default 5).
    pub session_failures: u32,
    /// Declines of one card within `card_window` after which it is refused (default 3).
    pub card_declines: u32,
    /// The card window (default 1 hour).
    pub card_window: Duration,
    /// Declines from one client IP within `ip_window` after which it is refused
    /// (default 10).
    pub ip_declines: u32,
    /// The IP window (default 1 hour).
    pub ip_window: Duration,
}

impl Default for AbuseLimits {
    fn default() -> AbuseLimits {
        AbuseLimits {
            session_failures: 5,
            card_declines: 3,
            card_window: Duration::from_secs(3600),
            ip_declines: 10,
            ip_window: Duration::from_secs(3600),
        }
    }
}

/// Why an attempt was refused before the provider.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BlockReason {
    /// Too many declines of the card recently.
    VelocityCard,
    /// Too many declines from the client IP recently.
    VelocityIp,
    /// The checkout session is locked.
    SessionLocked,
}

impl BlockReason {
    /// Every reason, in the order `/metrics` lists them.
    pub const ALL: [BlockReason; 3] = [
        BlockReason::VelocityCard,
        BlockReason::VelocityIp,
        BlockReason::SessionLocked,
    ];

    /// The machine name (attempt message, metrics label).
    pub fn as_str(self) -> &'static str {
        match self {
            BlockReason::VelocityCard => "velocity_card",
            BlockReason::VelocityIp => "velocity_ip",
            BlockReason::SessionLocked => "session_locked",
        }
    }

    fn index(self) -> usize {
        match self {
            BlockReason::VelocityCard => 0,
            BlockReason::VelocityIp => 1,
            BlockReason::SessionLocked => 2,
        }
    }
}

/// Refused attempts of this instance, by reason.
#[derive(Debug, Default)]
pub(crate) struct BlockCounters([AtomicU64; 3]);

impl BlockCounters {
    pub(crate) fn count(&self, reason: BlockReason) {
        self.0[reason.index()].fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn get(&self, reason: BlockReason) -> u64 {
        self.0[reason.index()].load(Ordering::Relaxed)
    }
}

/// What the velocity check found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Velocity {
    /// Why the attempt is refused; `None` when it may go.
    pub(crate) blocked: Option<BlockReason>,
    /// The settings epoch the decline counts came with; `None` when nothing was read.
    pub(crate) settings_epoch: Option<i64>,
}

impl Velocity {
    /// Refused for `reason` before any count was read.
    pub(crate) fn refused(reason: BlockReason) -> Velocity {
        Velocity {
            blocked: Some(reason),
            settings_epoch: None,
        }
    }
}

/// Whether the velocity limits refuse a card (by fingerprint) and client IP: at most
/// one statement over two partial indexes (two when the windows differ).
pub(crate) async fn velocity(
    service: &PaymentService,
    fingerprint: &str,
    client_ip: Option<&str>,
) -> Result<Velocity, ServiceError> {
    let limits = service.inner.config.abuse;
    let card_on = limits.card_declines > 0;
    let ip_on = limits.ip_declines > 0 && client_ip.is_some();
    if !card_on && !ip_on {
        return Ok(Velocity {
            blocked: None,
            settings_epoch: None,
        });
    }
    let now = service.now_ms();
    let store = &service.inner.store;
    // One window per read when the two are equal (the default); otherwise two reads.
    let since = |w: Duration| now - w.as_millis() as i64;
    let cap = i64::from(limits.card_declines.max(limits.ip_declines));
    let (card, ip, epoch) = if limits.card_window == limits.ip_window || !card_on || !ip_on {
        let window = if card_on {
            limits.card_window
        } else {
            limits.ip_window
        };
        let c = store
            .recent_declines(fingerprint, client_ip.filter(|_| ip_on), since(window), cap)
            .await?;
        (c.card, c.ip, c.settings_epoch)
    } else {
        let c = store
            .recent_declines(fingerprint, None, since(limits.card_window), cap)
            .await?;
        let i = store
            .recent_declines(fingerprint, client_ip, since(limits.ip_window), cap)
            .await?;
        (c.card, i.ip, c.settings_epoch)
    };
    let blocked = if card_on && card >= i64::from(limits.card_declines) {
        Some(BlockReason::VelocityCard)
    } else if ip_on && ip >= i64::from(limits.ip_declines) {
        Some(BlockReason::VelocityIp)
    } else {
        None
    };
    Ok(Velocity {
        blocked,
        settings_epoch: Some(epoch),
    })
}

/// Whether a session has had its allowed unsuccessful attempts. A session's `tries`
/// counts the payments started since it was created or reopened, and a new one only
/// starts when the last ended without money, so while the session is open every try
/// but a running one was unsuccessful.
pub(crate) fn lock_due(
    service: &PaymentService,
    s: &CheckoutSessionRecord,
    last_failed: bool,
) -> bool {
    let limit = service.inner.config.abuse.session_failures;
    s.status == SessionStatus::Open
        && s.locked_at.is_none()
        && limit > 0
        && last_failed
        && s.tries >= i64::from(limit)
}

/// Locks a session (audit event and `checkout_session.locked` webhook with it); once.
pub(crate) async fn lock(
    service: &PaymentService,
    s: &CheckoutSessionRecord,
) -> Result<(), ServiceError> {
    let audit = NewAudit {
        company_id: s.company_id.clone(),
        kind: "checkout_session.locked".into(),
        actor: "system:abuse".into(),
        subject_id: s.id.clone(),
        data: json!({
            "failed_attempts": s.tries,
            "limit": service.inner.config.abuse.session_failures,
        }),
    };
    let locked = service
        .inner
        .store
        .lock_checkout_session(&s.id, service.now_ms(), audit, crate::events::for_lock())
        .await?;
    if locked {
        tracing::info!(session.id = %s.id, tries = s.tries, "checkout session locked");
    }
    Ok(())
}

/// Reopens a locked session of the caller's company: unlocks it and resets its count.
pub(crate) async fn reopen(
    service: &PaymentService,
    caller: &Actor,
    id: &str,
) -> Result<(), ServiceError> {
    let s = service.inner.store.get_checkout_session(id).await?;
    if s.company_id != caller.company_id {
        return Err(ServiceError::NotFound);
    }
    if s.status != SessionStatus::Open {
        return Err(ServiceError::conflict(
            "session_not_open",
            "only an open checkout session can be reopened",
        ));
    }
    let audit = NewAudit {
        company_id: s.company_id.clone(),
        kind: "checkout_session.reopened".into(),
        actor: caller.name.clone(),
        subject_id: s.id.clone(),
        data: json!({ "failed_attempts": s.tries, "was_locked": s.locked_at.is_some() }),
    };
    if !service
        .inner
        .store
        .reopen_checkout_session(&s.id, audit)
        .await?
    {
        return Err(ServiceError::NotFound);
    }
    Ok(())
}

impl PaymentService {
    /// Attempts refused by an abuse limit in this instance, by reason (for `/metrics`).
    pub fn blocked_counts(&self) -> Vec<(&'static str, u64)> {
        BlockReason::ALL
            .iter()
            .map(|r| (r.as_str(), self.inner.blocked.get(*r)))
            .collect()
    }

    /// Reopens a checkout session or payment link locked after too many unsuccessful
    /// attempts (and resets its count), audited.
    pub async fn reopen_checkout_session(
        &self,
        caller: &Actor,
        id: &str,
    ) -> Result<(), ServiceError> {
        reopen(self, caller, id).await
    }
}
