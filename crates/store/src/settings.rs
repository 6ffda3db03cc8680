//! The settings epoch (migration 21): one number that every change to API keys and POS
//! definitions adds one to, in the change's own transaction. An instance that keeps
//! those rows in memory labels them with the epoch read before them (or with them, in
//! one statement), and trusts them while the epoch it reads later is still that label.

use sqlx::AnyConnection;

use crate::rows::int;
use crate::{Store, StoreError};

/// Marks a change to API keys or POS definitions: called by every write of the store
/// that makes one, inside its transaction.
pub(crate) async fn settings_changed(conn: &mut AnyConnection) -> Result<(), StoreError> {
    sqlx::query("UPDATE settings_epoch SET n = n + 1 WHERE id = 1")
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// The epoch as a scalar subquery, for a statement that reads it beside its own columns
/// (one snapshot, no round trip of its own).
pub(crate) const EPOCH_COLUMN: &str = "(SELECT n FROM settings_epoch WHERE id = 1)";

impl Store {
    /// The settings epoch now: read it before reading keys or POS definitions to keep,
    /// and again (or through [`Store::recent_declines`]) to know whether they still hold.
    pub async fn settings_epoch(&self) -> Result<i64, StoreError> {
        let row = sqlx::query(&format!("SELECT {EPOCH_COLUMN} AS n"))
            .fetch_one(&self.db.read)
            .await?;
        int(&row, "n")
    }
}
