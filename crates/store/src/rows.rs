//! Reading rows the same way on both engines.
//!
//! SQLite hands booleans back as integers through the `Any` driver; PostgreSQL as
//! booleans. Enums are text. These helpers hide both and name the column on failure.

use sqlx::any::AnyRow;
use sqlx::Row;

use sanalpos_core::{Currency, Kurus};

use crate::StoreError;

pub(crate) fn text(row: &AnyRow, col: &str) -> Result<String, StoreError> {
    row.try_get::<String, _>(col)
        .map_err(|e| StoreError::corrupt(format!("{col}: {e}")))
}

pub(crate) fn opt_text(row: &AnyRow, col: &str) -> Result<Option<String>, StoreError> {
    row.try_get::<Option<String>, _>(col)
        .map_err(|e| StoreError::corrupt(format!("{col}: {e}")))
}

pub(crate) fn int(row: &AnyRow, col: &str) -> Result<i64, StoreError> {
    row.try_get::<i64, _>(col)
        .map_err(|e| StoreError::corrupt(format!("{col}: {e}")))
}

pub(crate) fn opt_int(row: &AnyRow, col: &str) -> Result<Option<i64>, StoreError> {
    row.try_get::<Option<i64>, _>(col)
        .map_err(|e| StoreError::corrupt(format!("{col}: {e}")))
}

pub(crate) fn boolean(row: &AnyRow, col: &str) -> Result<bool, StoreError> {
    if let Ok(b) = row.try_get::<bool, _>(col) {
        return Ok(b);
    }
    row.try_get::<i64, _>(col)
        .map(|i| i != 0)
        .map_err(|e| StoreError::corrupt(format!("{col}: {e}")))
}

pub(crate) fn money(row: &AnyRow, col: &str) -> Result<Kurus, StoreError> {
    Kurus::from_minor(int(row, col)?).ok_or_else(|| StoreError::corrupt(format!("{col}: negative")))
}

pub(crate) fn opt_money(row: &AnyRow, col: &str) -> Result<Option<Kurus>, StoreError> {
    opt_int(row, col)?
        .map(|v| {
            Kurus::from_minor(v).ok_or_else(|| StoreError::corrupt(format!("{col}: negative")))
        })
        .transpose()
}

pub(crate) fn currency(row: &AnyRow, col: &str) -> Result<Currency, StoreError> {
    let t = text(row, col)?;
    Currency::from_alpha(&t).ok_or_else(|| StoreError::corrupt(format!("{col}: {t}")))
}

pub(crate) fn parsed<T>(
    row: &AnyRow,
    col: &str,
    parse: fn(&str) -> Option<T>,
) -> Result<T, StoreError> {
    let t = text(row, col)?;
    parse(&t).ok_or_else(|| StoreError::corrupt(format!("{col}: {t}")))
}

pub(crate) fn opt_parsed<T>(
    row: &AnyRow,
    col: &str,
    parse: fn(&str) -> Option<T>,
) -> Result<Option<T>, StoreError> {
    opt_text(row, col)?
        .map(|t| parse(&t).ok_or_else(|| StoreError::corrupt(format!("{col}: {t}"))))
        .transpose()
}

pub(crate) fn json<T: serde::de::DeserializeOwned>(
    row: &AnyRow,
    col: &str,
) -> Result<T, StoreError> {
    let t = text(row, col)?;
    serde_json::from_str(&t).map_err(|e| StoreError::corrupt(format!("{col}: {e}")))
}

pub(crate) fn to_json<T: serde::Serialize>(value: &T) -> Result<String, StoreError> {
    serde_json::to_string(value).map_err(|e| StoreError::corrupt(format!("json: {e}")))
}
