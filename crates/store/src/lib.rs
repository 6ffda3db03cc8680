//! Persistence of sanalpos on SQLite and PostgreSQL, through one code path.
//!
//! [`Store`] opens either engine from a URL (`sqlite://<path>?mode=rwc` or
//! `postgres://…`), applies the embedded migrations, and offers the operations the
//! payment service needs: each is one short transaction, written once with engine-neutral
//! SQL. On SQLite (WAL, `synchronous=FULL`), one writer task group-commits every write
//! waiting in its queue in one `BEGIN IMMEDIATE` transaction, so durability costs one
//! fsync per group rather than per payment, and there are no `SQLITE_BUSY` lock
//! upgrades; reads use their own pool. On PostgreSQL any number of instances share the
//! database: each write is its own transaction, and uniqueness constraints, row locks
//! and payment leases keep instances from stepping on each other.
//!
//! Also here: [`Crypto`] (master key, AES-256-GCM credentials, card fingerprints), the
//! per-company hash-chained audit log ([`Store::verify_audit`]), idempotency-key storage
//! with Stripe's semantics, and leases for background jobs.
//!
//! Nothing here stores a card number or CVV: payments carry the masked PAN and a keyed
//! fingerprint only.

mod abuse;
mod audit;
mod backoffice;
mod bulk;
mod checkout;
mod crypto;
mod db;
mod error;
mod idempotency;
mod inline;
mod kinds;
mod model;
mod org;
mod outbox;
mod payments;
mod pos;
mod ratelimit;
mod recon;
mod recovery;
mod refunds;
mod reports;
mod rows;
mod settings;
mod statement_profiles;
mod stored_cards;
#[cfg(feature = "testing")]
pub mod testing;
mod webhooks;

use std::sync::Arc;

use rand::distr::{Alphanumeric, SampleString};
use rand::RngCore;
use sanalpos_core::refs::{push_sortable_time, SORTABLE_TIME_CHARS};

pub use abuse::DeclineCounts;
pub use audit::{audit_hash, event_hash, AUDIT_HASH_VERSION, GENESIS_HASH};
pub use backoffice::{NewSession, SessionRecord, ThrottleRule};
pub use bulk::BulkLoad;
pub use checkout::{
    CheckoutSessionRecord, SessionPurpose, SessionQuery, SessionState, SessionStatus,
};
pub use crypto::{Crypto, KeySource, MASTER_KEY_ENV, MASTER_KEY_FILE};
pub use db::{install_drivers, Engine, WriterLoad};
pub use error::StoreError;
pub use idempotency::{ClaimedBegin, KeyClaim, IDEMPOTENCY_KEEP, IDEMPOTENCY_LOCK};
pub use model::*;
pub use outbox::{
    Consequences, NewEvent, PaymentCause, PaymentChanged, PaymentRules, SessionCompletion,
    SessionRules,
};
pub use payments::{FinishAttempt, Finished, KeyAnswer, PaymentChange, PosHealth, RenderAnswer};
pub use ratelimit::RateHit;
pub use recon::{
    ItemFilter, JsonText, NewReconItem, ReconItemRecord, ReconResolution, ReconRunRecord,
    RunWriting,
};
pub use recovery::{StalePayment, StaleRefund};
pub use reports::{CurrencySums, DaySums, DeclineCount, CAPTURED_STATUSES};
pub use statement_profiles::StatementProfileRecord;
pub use stored_cards::{CardSaveRecord, StoredCardRecord};
pub use webhooks::{
    DeliveryRecord, DeliveryStatus, DeliveryTryRecord, DeliveryTryResult, DueDelivery,
    WebhookEndpointRecord, WEBHOOK_EVENTS,
};

/// The database: cheap to clone (an `Arc` inside), safe to share between tasks.
#[derive(Clone)]
pub struct Store {
    db: Arc<db::Db>,
}

/// The writer held by [`Store::hold_writer`].
#[cfg(feature = "testing")]
pub struct WriterHold {
    gate: Arc<tokio::sync::Notify>,
    write: tokio::task::JoinHandle<Result<(), StoreError>>,
}

#[cfg(feature = "testing")]
impl WriterHold {
    /// Lets the writer go on, and waits until its own write has ended.
    pub async fn release(self) -> Result<(), StoreError> {
        self.gate.notify_one();
        self.write
            .await
            .map_err(|e| StoreError::Database(format!("the held write failed: {e}")))?
    }
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("engine", &self.db.engine)
            .finish()
    }
}

impl Store {
    /// Opens (creating a SQLite file when the URL says `mode=rwc`) and migrates.
    pub async fn open(url: &str) -> Result<Store, StoreError> {
        let db = db::Db::open(url).await?;
        db::migrate(&db).await?;
        Ok(Store { db: Arc::new(db) })
    }

    /// Opens and applies the migrations up to `version` only: the database of an older
    /// release, for upgrade tests.
    #[cfg(feature = "testing")]
    pub async fn open_at_version(url: &str, version: i64) -> Result<Store, StoreError> {
        let db = db::Db::open(url).await?;
        db::migrate_to(&db, version).await?;
        Ok(Store { db: Arc::new(db) })
    }

    /// Holds the writer in a write of its own until [`WriterHold::release`], so that
    /// writes sent meanwhile queue and then go as one group (tests of group commits).
    #[cfg(feature = "testing")]
    pub async fn hold_writer(&self) -> WriterHold {
        let started = Arc::new(tokio::sync::Notify::new());
        let gate = Arc::new(tokio::sync::Notify::new());
        let db = self.db.clone();
        let held = (started.clone(), gate.clone());
        let write = tokio::spawn(async move {
            db.write(held, |_, (started, gate)| {
                Box::pin(async move {
                    started.notify_one();
                    gate.notified().await;
                    Ok(())
                })
            })
            .await
        });
        started.notified().await;
        WriterHold { gate, write }
    }

    /// How many writes wait in the writer's queue (not counting the one it runs).
    #[cfg(feature = "testing")]
    pub fn queued_writes(&self) -> usize {
        self.db.queued()
    }

    /// The URL of a SQLite database file, created when missing.
    pub fn sqlite_url(path: &std::path::Path) -> String {
        format!("sqlite://{}?mode=rwc", path.display())
    }

    /// Which engine this store runs on.
    pub fn engine(&self) -> Engine {
        self.db.engine
    }

    /// How many group commits the writer rolled back and ran again one write at a time
    /// since the store opened (a write of the group failed: a refused write, a lost
    /// audit-chain race, a deadlock). Each write's own answer is unaffected; a steady
    /// count means the writes contend.
    pub fn groups_undone(&self) -> u64 {
        self.db
            .counters
            .groups_undone
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    /// How busy the writer has been since the store opened: its groups, their writes,
    /// the time it spent on them and, of that, on their ends and commits.
    pub fn writer_load(&self) -> WriterLoad {
        self.db.counters.load()
    }

    /// Checks the database answers (for `/readyz`).
    pub async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(&self.db.read).await?;
        Ok(())
    }

    /// Closes the connections.
    pub async fn close(&self) {
        self.db.close().await;
    }
}

/// Now, in Unix milliseconds.
pub fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// A new record id made now: see [`new_id_at`].
pub fn new_id(prefix: &str) -> String {
    new_id_at(prefix, now_ms())
}

/// Random characters of an id (about 83 bits).
const ID_RANDOM_CHARS: usize = 14;

/// A record id: `<prefix>_`, then `at_ms` (Unix milliseconds, before 1970 read as 1970)
/// in 8 base62 characters, then 14 random base62 characters; 22 characters after the
/// prefix, as ids have always had.
///
/// Ids made later sort later, byte by byte, so a new row's id goes to the end of its
/// table's primary key instead of a random leaf of it: a year of payments loaded in
/// creation order took 7.5 s on SQLite where random ids took 14.5 s (BENCHMARKS.md).
/// Nothing reads time back from an id; two ids of the same millisecond sort by their
/// random part, and a clock that steps back only costs that locality.
pub fn new_id_at(prefix: &str, at_ms: i64) -> String {
    let mut id = String::with_capacity(prefix.len() + 1 + SORTABLE_TIME_CHARS + ID_RANDOM_CHARS);
    id.push_str(prefix);
    id.push('_');
    push_sortable_time(&mut id, at_ms);
    Alphanumeric.append_string(&mut rand::rng(), &mut id, ID_RANDOM_CHARS);
    id
}

/// An unguessable token (256 bits, hex) for URLs that stand for a payment.
pub fn new_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    hex::encode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_keep_their_shape_and_sort_in_the_order_they_were_made() {
        let id = new_id_at("pay", 1_764_979_200_000);
        let (prefix, rest) = id.split_once('_').expect("a prefix");
        assert_eq!(prefix, "pay");
        assert_eq!(rest.len(), 22);
        assert!(rest.bytes().all(|b| b.is_ascii_alphanumeric()), "{id}");
        // 1,764,979,200,000 ms in base62 digits, most significant first.
        assert_eq!(&rest[..8], "0V4YKqxc");

        // A millisecond later sorts later whatever the random part; a year earlier before.
        let times = [
            0,
            61,
            62,
            1_733_356_800_000,
            1_764_979_199_999,
            1_764_979_200_000,
            1_764_979_200_001,
        ];
        for _ in 0..200 {
            let ids: Vec<String> = times.iter().map(|&t| new_id_at("pay", t)).collect();
            assert!(ids.windows(2).all(|w| w[0] < w[1]), "{ids:?}");
        }
        assert_eq!(&new_id_at("att", -5)["att_".len()..][..8], "00000000");
        assert_ne!(new_id_at("pay", 7), new_id_at("pay", 7));
    }
}
