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
