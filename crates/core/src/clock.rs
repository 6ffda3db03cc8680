//! Where the service reads the time.
//!
//! Production reads the system clock. A test that needs time to pass (a grace period to
//! run out, a lease to expire) holds an adjustable clock and moves it forward, instead of
//! sleeping and hoping the machine is quick enough.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;

/// The time source. Cheap to clone; clones of an adjustable clock move together.
#[derive(Clone, Default)]
pub struct Clock {
    /// How far an adjustable clock is ahead of the system clock, in milliseconds;
    /// `None` for the system clock.
    ahead_ms: Option<Arc<AtomicI64>>,
}

impl Clock {
    /// The system clock.
    pub fn system() -> Clock {
        Clock::default()
    }

    /// A clock that runs with the system clock and can be moved forward with
    /// [`Clock::advance`] (never back, so times it gives never decrease).
    pub fn adjustable() -> Clock {
        Clock {
            ahead_ms: Some(Arc::new(AtomicI64::new(0))),
        }
    }

    /// Now, in Unix milliseconds.
    pub fn now_ms(&self) -> i64 {
        let ahead = self
            .ahead_ms
            .as_ref()
            .map_or(0, |a| a.load(Ordering::SeqCst));
        Utc::now().timestamp_millis().saturating_add(ahead)
    }

    /// Moves an adjustable clock (and its clones) forward by `by`. The system clock
    /// cannot be moved: on it this does nothing and says so with `false`.
    pub fn advance(&self, by: Duration) -> bool {
        match &self.ahead_ms {
            Some(ahead) => {
                let by = i64::try_from(by.as_millis()).unwrap_or(i64::MAX);
                ahead.fetch_add(by, Ordering::SeqCst);
                true
            }
            None => false,
        }
    }
}

impl std::fmt::Debug for Clock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.ahead_ms {
            None => f.write_str("Clock::system"),
            Some(ahead) => write!(f, "Clock::adjustable(+{} ms)", ahead.load(Ordering::SeqCst)),
        }
    }
}

/// Two clocks are equal when they are the system clock, or clones of one adjustable
/// clock.
impl PartialEq for Clock {
    fn eq(&self, other: &Clock) -> bool {
        match (&self.ahead_ms, &other.ahead_ms) {
            (None, None) => true,
            (Some(a), Some(b)) => Arc::ptr_eq(a, b),
            _ => false,
        }
    }
}

impl Eq for Clock {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_adjustable_clock_moves_forward_with_its_clones() {
        let clock = Clock::adjustable();
        let clone = clock.clone();
        let before = clone.now_ms();
        assert!(clock.advance(Duration::from_secs(3600)));
        let after = clone.now_ms();
        assert!(after - before >= 3_600_000, "{before} -> {after}");
        assert_eq!(clock, clone);
        assert_ne!(clock, Clock::adjustable());
    }

    #[test]
    fn the_system_clock_cannot_be_moved() {
        let clock = Clock::system();
        assert!(!clock.advance(Duration::from_secs(3600)));
        let system = Utc::now().timestamp_millis();
        assert!((clock.now_ms() - system).abs() < 60_000);
    }
}
