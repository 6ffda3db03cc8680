//! Business days (gün sonu) as both simulated providers keep them, per merchant.
//!
//! A merchant's open day is today, unless end of day has already closed today (or
//! later), in which case it is the day after the last closed one. That rule and the
//! closing of one merchant or all are the same for every protocol; what else closes
//! with the day (NestPay's settlement batch) is the protocol's, through
//! [`DayBook::close`].

use std::collections::HashMap;

use chrono::{Days, NaiveDate};

/// A merchant's record of its closed business days.
pub(crate) trait DayBook {
    /// The last business day closed, if any.
    fn last_closed(&self) -> Option<NaiveDate>;

    /// Closes `day`, and whatever the protocol closes with it.
    fn close(&mut self, day: NaiveDate);
}

/// The open business day of the merchant keyed `key`: the later of `today` and the day
/// after its last closed one (`today` for an unknown merchant).
pub(crate) fn open_day<M: DayBook>(
    merchants: &HashMap<String, M>,
    key: &str,
    today: NaiveDate,
) -> NaiveDate {
    let after_closed = merchants
        .get(key)
        .and_then(DayBook::last_closed)
        .and_then(|d| d.checked_add_days(Days::new(1)));
    match after_closed {
        Some(d) if d > today => d,
        _ => today,
    }
}

/// Whether `day` has been closed for the merchant keyed `key`.
pub(crate) fn is_closed<M: DayBook>(
    merchants: &HashMap<String, M>,
    key: &str,
    day: NaiveDate,
) -> bool {
    merchants
        .get(key)
        .and_then(DayBook::last_closed)
        .is_some_and(|closed| day <= closed)
}

/// Closes the open day of the merchant keyed `only` (nothing when unknown) or of every
/// merchant, returning what closed in key order.
pub(crate) fn end_of_day<M: DayBook>(
    merchants: &mut HashMap<String, M>,
    only: Option<&str>,
    today: NaiveDate,
) -> Vec<(String, NaiveDate)> {
    let mut targets: Vec<String> = match only {
        Some(key) if merchants.contains_key(key) => vec![key.to_owned()],
        Some(_) => Vec::new(),
        None => merchants.keys().cloned().collect(),
    };
    targets.sort();
    let mut closed = Vec::with_capacity(targets.len());
    for key in targets {
        let day = open_day(merchants, &key, today);
        if let Some(m) = merchants.get_mut(&key) {
            m.close(day);
        }
        closed.push((key, day));
    }
    closed
}
