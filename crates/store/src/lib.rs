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
mod statement_profiles;
mod stored_cards;
#[cfg(feature = "testing")]
pub mod testing;
mod webhooks;

use std::sync::Arc;

use rand::distr::{Alphanumeric, SampleString};
use rand::RngCore;

pub use abuse::DeclineCounts;
pub use audit::{audit_hash, event_hash, AUDIT_HASH_VERSION, GENESIS_HASH};
pub use backoffice::{NewSession, SessionRecord, ThrottleRule};
pub use bulk::BulkLoad;
pub use checkout::{
    CheckoutSessionRecord, SessionPurpose, SessionQuery, SessionState, SessionStatus,
};
pub use crypto::{Crypto, KeySource, MASTER_KEY_ENV, MASTER_KEY_FILE};
pub use db::Engine;
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
            .groups_undone
            .load(std::sync::atomic::Ordering::Relaxed)
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

/// A new record id: `<prefix>_` and 22 random base62 characters (about 131 bits).
pub fn new_id(prefix: &str) -> String {
    format!(
        "{prefix}_{}",
        Alphanumeric.sample_string(&mut rand::rng(), 22)
    )
}

/// An unguessable token (256 bits, hex) for URLs that stand for a payment.
pub fn new_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    hex::encode(bytes)
}
