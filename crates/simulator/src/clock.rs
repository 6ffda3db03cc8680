//! Turkish time and the date formats of the wire protocol.
//!
//! Business dates are Europe/Istanbul, which has been a fixed UTC+3 since 2016 (no
//! daylight saving time), so a fixed offset is exact.

use chrono::{DateTime, FixedOffset, NaiveDate, NaiveDateTime};

pub use sanalpos_core::time::istanbul;

/// The current time in Istanbul.
pub fn now() -> DateTime<FixedOffset> {
    sanalpos_core::time::now_istanbul()
}

/// Whether `text` has exactly the shape of `pattern`, where `d` stands for an ASCII digit
/// and every other character for itself. Chrono alone accepts `5.10.2026` for `%d.%m.%Y`;
/// the provider does not.
pub fn has_shape(text: &str, pattern: &str) -> bool {
    text.len() == pattern.len()
        && text.bytes().zip(pattern.bytes()).all(|(t, p)| {
            if p == b'd' {
                t.is_ascii_digit()
            } else {
                t == p
            }
        })
}

/// Parses `DD.MM.YYYY` (report dates).
pub fn parse_list_date(text: &str) -> Option<NaiveDate> {
    has_shape(text, "dd.dd.dddd")
        .then(|| NaiveDate::parse_from_str(text, "%d.%m.%Y").ok())
        .flatten()
}

/// Parses `yyyy.MM.dd` (the cancel/refund `trxDate`).
pub fn parse_trx_date(text: &str) -> Option<NaiveDate> {
    has_shape(text, "dddd.dd.dd")
        .then(|| NaiveDate::parse_from_str(text, "%Y.%m.%d").ok())
        .flatten()
}

/// Parses `yyyy-MM-dd` (the pre-authorisation endpoints' dates).
pub fn parse_pre_auth_date(text: &str) -> Option<NaiveDate> {
    has_shape(text, "dddd-dd-dd")
        .then(|| NaiveDate::parse_from_str(text, "%Y-%m-%d").ok())
        .flatten()
}

/// Parses the payment's `rnd`: `dd-MM-yyyy HH:mm:ss`.
pub fn parse_rnd(text: &str) -> Option<NaiveDateTime> {
    has_shape(text, "dd-dd-dddd dd:dd:dd")
        .then(|| NaiveDateTime::parse_from_str(text, "%d-%m-%Y %H:%M:%S").ok())
        .flatten()
}

/// `dd.MM.yyyy HH:mm:ss`, the report and statement date-time format.
pub fn fmt_trx(time: &DateTime<FixedOffset>) -> String {
    time.format("%d.%m.%Y %H:%M:%S").to_string()
}

/// `yyyy.MM.dd`, the cancel/refund `trxDate` format.
pub fn fmt_trx_date(day: NaiveDate) -> String {
    day.format("%Y.%m.%d").to_string()
}

/// `YYYYMMDD`, the report's value date.
pub fn fmt_valor(day: NaiveDate) -> String {
    day.format("%Y%m%d").to_string()
}

/// `dd-MM-yyyy HH:mm:ss`, the base of the simulator's own `RND`.
pub fn fmt_rnd(time: &DateTime<FixedOffset>) -> String {
    time.format("%d-%m-%Y %H:%M:%S").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strict_shapes() {
        assert!(parse_list_date("05.10.2026").is_some());
        assert!(parse_list_date("5.10.2026").is_none());
        assert!(parse_list_date("2026-10-05").is_none());
        assert!(parse_list_date("31.02.2026").is_none());
        assert!(parse_trx_date("2026.10.05").is_some());
        assert!(parse_trx_date("05.10.2026").is_none());
        assert!(parse_pre_auth_date("2026-10-05").is_some());
        assert!(parse_pre_auth_date("2026.10.05").is_none());
        assert!(parse_pre_auth_date("2026-10-5").is_none());
        assert!(parse_pre_auth_date("2026-02-30").is_none());
        assert!(parse_rnd("29-08-2025 14:23:57").is_some());
        assert!(parse_rnd("29-08-2025 14:23").is_none());
        assert!(parse_rnd("29-13-2025 14:23:57").is_none());
    }
}
