//! Business days are Europe/Istanbul days (UTC+3 all year since 2016).

use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use sanalpos_core::time::istanbul;

/// The Istanbul date of a Unix-millisecond instant.
pub fn business_date(ms: i64) -> NaiveDate {
    Utc.timestamp_millis_opt(ms)
        .single()
        .unwrap_or_default()
        .with_timezone(&istanbul())
        .date_naive()
}

/// Today in Istanbul.
pub fn istanbul_today() -> NaiveDate {
    let now: DateTime<Utc> = Utc::now();
    now.with_timezone(&istanbul()).date_naive()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn istanbul_is_three_hours_ahead() {
        // 2026-03-01T21:30:00Z is already 2 March in Istanbul.
        let ms = Utc
            .with_ymd_and_hms(2026, 3, 1, 21, 30, 0)
            .single()
            .map(|t| t.timestamp_millis())
            .unwrap_or_default();
        assert_eq!(business_date(ms).to_string(), "2026-03-02");
    }
}
