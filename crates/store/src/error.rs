//! The store's one error type.

/// Why a store operation failed. The text never holds card data, credentials or SQL
/// parameters; the database driver's own message is kept for the log only.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    /// The record does not exist (or belongs to another company).
    #[error("not found")]
    NotFound,
    /// A rule held by the database refused the change (unique name, stale version,
    /// a refund above what was captured, a payment not in the expected state).
    #[error("conflict ({code}): {message}")]
    Conflict {
        /// Stable machine code (`refund_exceeds_captured`, `stale_version`, …).
        code: &'static str,
        /// Readable detail.
        message: String,
    },
    /// The database URL or the master key configuration is unusable.
    #[error("configuration: {0}")]
    Config(String),
    /// Encryption or decryption failed (wrong master key, damaged ciphertext).
    #[error("crypto: {0}")]
    Crypto(String),
    /// Applying migrations failed.
    #[error("migration: {0}")]
    Migration(String),
    /// The database failed or could not be reached.
    #[error("database: {0}")]
    Database(String),
    /// A stored value could not be read back (a corrupt row).
    #[error("corrupt row: {0}")]
    Corrupt(String),
}

impl StoreError {
    /// A stable machine code.
    pub fn code(&self) -> &'static str {
        match self {
            StoreError::NotFound => "not_found",
            StoreError::Conflict { code, .. } => code,
            StoreError::Config(_) => "config",
            StoreError::Crypto(_) => "crypto",
            StoreError::Migration(_) => "migration",
            StoreError::Database(_) => "database",
            StoreError::Corrupt(_) => "corrupt_row",
        }
    }

    pub(crate) fn conflict(code: &'static str, message: impl Into<String>) -> StoreError {
        StoreError::Conflict {
            code,
            message: message.into(),
        }
    }

    pub(crate) fn corrupt(what: impl Into<String>) -> StoreError {
        StoreError::Corrupt(what.into())
    }
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> StoreError {
        match e {
            sqlx::Error::RowNotFound => StoreError::NotFound,
            sqlx::Error::Database(db) if db.is_unique_violation() => StoreError::Conflict {
                code: "unique_violation",
                message: db.message().to_owned(),
            },
            // Driver messages carry no parameters (values are bound, never inlined).
            other => StoreError::Database(other.to_string()),
        }
    }
}
