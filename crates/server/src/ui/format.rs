//! Numbers, money and times as the user's language writes them.

use chrono::DateTime;

use sanalpos_core::{Currency, Kurus, Lang};

/// An RFC 3339 instant as `29.11.2026 14:05` (Istanbul) or `2026-11-29 14:05`.
pub fn when(lang: Lang, rfc3339: &str) -> String {
    DateTime::parse_from_rfc3339(rfc3339)
        .map(|t| lang.datetime(t.timestamp_millis()))
        .unwrap_or_else(|_| rfc3339.to_owned())
}

/// A `YYYY-MM-DD` day as `29.11.2026` in Turkish.
pub fn day(lang: Lang, ymd: &str) -> String {
    match (lang, chrono::NaiveDate::parse_from_str(ymd, "%Y-%m-%d")) {
        (Lang::Tr, Ok(d)) => d.format("%d.%m.%Y").to_string(),
        _ => ymd.to_owned(),
    }
}

/// Money with its currency.
pub fn money(lang: Lang, amount: Kurus, currency: Currency) -> String {
    lang.money(amount, currency)
}

/// An amount typed by the user, in their language's notation (`1.234,56` / `1234.56`).
pub fn parse_amount(lang: Lang, text: &str) -> Option<Kurus> {
    let text = text.trim().replace(' ', "");
    let parsed = match lang {
        Lang::Tr => Kurus::parse_tr(&text),
        Lang::En => Kurus::parse(&text.replace(',', "")),
    };
    parsed.ok()
}

/// Basis points as a percentage: `2,99` / `2.99`.
pub fn percent_bp(lang: Lang, bp: u32) -> String {
    let text = format!("{}.{:02}", bp / 100, bp % 100);
    match lang {
        Lang::Tr => text.replace('.', ","),
        Lang::En => text,
    }
}

/// A percentage typed by the user (`2,99` or `2.99`) as basis points.
pub fn parse_percent_bp(text: &str) -> Option<u32> {
    let k = Kurus::parse(&text.trim().replace(',', ".")).ok()?;
    u32::try_from(k.minor()).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_as_each_language_writes_them() {
        let k = |minor| Kurus::from_minor(minor);
        assert_eq!(parse_amount(Lang::Tr, "1.234,56"), k(123_456));
        assert_eq!(parse_amount(Lang::Tr, " 150 "), k(15_000));
        assert_eq!(parse_amount(Lang::Tr, "12.34.5"), None);
        assert_eq!(parse_amount(Lang::Tr, "-5"), None);
        assert_eq!(parse_amount(Lang::En, "1,234.56"), k(123_456));
        assert_eq!(parse_amount(Lang::En, "1.234,56"), None);
        assert_eq!(
            money(Lang::Tr, Kurus::from_minor(123_456).unwrap(), Currency::Try),
            "1.234,56 TL"
        );
    }

    #[test]
    fn percentages_round_trip_as_basis_points() {
        assert_eq!(parse_percent_bp("2,99"), Some(299));
        assert_eq!(parse_percent_bp("2.5"), Some(250));
        assert_eq!(parse_percent_bp("x"), None);
        assert_eq!(percent_bp(Lang::Tr, 299), "2,99");
        assert_eq!(percent_bp(Lang::En, 1250), "12.50");
    }

    #[test]
    fn times_in_istanbul() {
        assert_eq!(
            when(Lang::Tr, "2026-11-29T11:05:00.000Z"),
            "29.11.2026 14:05"
        );
        assert_eq!(
            when(Lang::En, "2026-11-29T11:05:00.000Z"),
            "2026-11-29 14:05"
        );
        assert_eq!(day(Lang::Tr, "2026-11-29"), "29.11.2026");
    }
}
