//! Turkish time, and instants as the API writes them.
//!
//! Europe/Istanbul has been UTC+3 all year since September 2016 (no daylight saving
//! time), so a fixed offset is exact. Business days, report windows and every time a
//! person reads are Istanbul time; stored instants are Unix milliseconds (UTC).

use chrono::{DateTime, FixedOffset, NaiveDate, TimeZone, Utc};

/// Istanbul's offset from UTC, in seconds (+03:00).
pub const ISTANBUL_OFFSET_SECONDS: i32 = 3 * 3600;

/// Europe/Istanbul: UTC+3 all year since 2016.
pub fn istanbul() -> FixedOffset {
    FixedOffset::east_opt(ISTANBUL_OFFSET_SECONDS)
        .unwrap_or_else(|| unreachable!("+03:00 is a valid offset"))
}

/// Now, in Istanbul time.
pub fn now_istanbul() -> DateTime<FixedOffset> {
    Utc::now().with_timezone(&istanbul())
}

/// A Unix-millisecond instant in Istanbul time (the epoch when out of range).
pub fn istanbul_time(ms: i64) -> DateTime<FixedOffset> {
    Utc.timestamp_millis_opt(ms)
        .single()
        .unwrap_or_default()
        .with_timezone(&istanbul())
}

/// The start (00:00) of an Istanbul day, in UTC: 21:00 UTC the day before.
pub fn istanbul_midnight(day: NaiveDate) -> Option<DateTime<Utc>> {
    istanbul()
        .from_local_datetime(&day.and_hms_opt(0, 0, 0)?)
        .single()
        .map(|t| t.with_timezone(&Utc))
}

/// Unix milliseconds as RFC 3339 UTC with milliseconds (`2026-03-01T10:00:00.123Z`),
/// the form of every instant in the API and webhook payloads (the epoch when out of
/// range).
pub fn rfc3339(ms: i64) -> String {
    Utc.timestamp_millis_opt(ms)
        .single()
        .unwrap_or_default()
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn istanbul_is_three_hours_ahead_all_year() {
        // 21:30 UTC on 1 March is already 2 March in Istanbul; the same in July.
        let march = istanbul_time(1_772_400_600_000);
        assert_eq!(march.to_rfc3339(), "2026-03-02T00:30:00+03:00");
        let day = NaiveDate::from_ymd_opt(2026, 7, 15).unwrap_or_default();
        let midnight = istanbul_midnight(day).map(|t| t.to_rfc3339());
        assert_eq!(midnight.as_deref(), Some("2026-07-14T21:00:00+00:00"));
    }

    #[test]
    fn instants_as_the_api_writes_them() {
        assert_eq!(rfc3339(1_772_359_200_123), "2026-03-01T10:00:00.123Z");
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(rfc3339(i64::MAX), "1970-01-01T00:00:00.000Z");
    }
}
