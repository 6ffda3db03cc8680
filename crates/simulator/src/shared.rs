//! What every connection of a simulator shares: its state behind one mutex, and the two
//! start-up switches the handlers read.
//!
//! Each protocol has its own state ([`crate::state::State`],
//! [`crate::nestpay::ledger::State`]); the lock around it, and what happens when a
//! handler panicked while holding it, are the same for both.

use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

/// A simulator's state shared by every connection. No handler holds the lock across an
/// `.await`.
#[derive(Debug)]
pub struct Shared<S> {
    state: Mutex<S>,
    /// Whether `/_sim/` is served.
    pub test_mode: bool,
    /// How long fault card 9011 waits.
    pub slow_answer_delay: Duration,
}

/// A protocol's state, as far as starting a simulator needs it.
pub trait SimState: Default {
    /// The protocol's merchant definition.
    type Merchant;

    /// Adds a merchant, or replaces the one with the same key (keeping its ledger).
    fn upsert_merchant(&mut self, merchant: Self::Merchant);
}

impl<S: SimState> Shared<S> {
    /// A simulator serving `merchants`.
    pub fn new(
        merchants: Vec<S::Merchant>,
        test_mode: bool,
        slow_answer_delay: Duration,
    ) -> Shared<S> {
        let mut state = S::default();
        for m in merchants {
            state.upsert_merchant(m);
        }
        Shared {
            state: Mutex::new(state),
            test_mode,
            slow_answer_delay,
        }
    }
}

impl<S> Shared<S> {
    /// Locks the state. A handler that panicked mid-update cannot leave the ledger in a
    /// state worse than a half-recorded row, so a poisoned lock is taken over.
    pub fn lock(&self) -> MutexGuard<'_, S> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}
