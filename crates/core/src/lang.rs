//! The two languages of the product and how each writes numbers, money and times.
//!
//! Turkish: `1.234,56 TL`, `29.11.2026 14:05`. English: `TRY 1,234.56`, `2026-11-29 14:05`.
//! Times are shown in Europe/Istanbul (UTC+3 all year since 2016) whatever the language,
//! because that is where the business day of every POS is kept.

use serde::{Deserialize, Serialize};

use crate::{Currency, Kurus};

// Kept here too: the API and back office reached them as `lang::istanbul*`.
pub use crate::time::{istanbul, istanbul_time};

/// A language of the user interface and of the texts sent to people.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema,
)]
#[schema(as = Language)]
pub enum Lang {
    /// Türkçe, the default.
    #[default]
    #[serde(rename = "tr")]
    Tr,
    /// English.
    #[serde(rename = "en")]
    En,
}

impl Lang {
    /// Both languages, Turkish first.
    pub const ALL: &'static [Lang] = &[Lang::Tr, Lang::En];

    /// `"tr"` or `"en"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Lang::Tr => "tr",
            Lang::En => "en",
        }
    }

    /// Reads `"tr"`/`"en"` (any case, also `"tr-TR"`, `"en-US"`).
    pub fn parse(text: &str) -> Option<Lang> {
        let primary = text.split(['-', '_']).next().unwrap_or_default();
        match primary.to_ascii_lowercase().as_str() {
            "tr" => Some(Lang::Tr),
            "en" => Some(Lang::En),
            _ => None,
        }
    }

    /// A plain number of kuruş as a decimal with grouping: `1.234,56` / `1,234.56`.
    pub fn amount(self, amount: Kurus) -> String {
        match self {
            Lang::Tr => amount.format_tr(),
            Lang::En => amount
                .format_tr()
                .chars()
                .map(|c| match c {
                    '.' => ',',
                    ',' => '.',
                    other => other,
                })
                .collect(),
        }
    }

    /// Money with its currency: `1.234,56 TL` / `TRY 1,234.56`.
    pub fn money(self, amount: Kurus, currency: Currency) -> String {
        match (self, currency) {
            (Lang::Tr, Currency::Try) => format!("{} TL", self.amount(amount)),
            (Lang::Tr, other) => format!("{} {}", self.amount(amount), other.alpha()),
            (Lang::En, other) => format!("{} {}", other.alpha(), self.amount(amount)),
        }
    }

    /// A Unix-millisecond instant in Istanbul time: `29.11.2026 14:05` / `2026-11-29 14:05`.
    pub fn datetime(self, ms: i64) -> String {
        let local = istanbul_time(ms);
        match self {
            Lang::Tr => local.format("%d.%m.%Y %H:%M").to_string(),
            Lang::En => local.format("%Y-%m-%d %H:%M").to_string(),
        }
    }

    /// The Istanbul date of a Unix-millisecond instant: `29.11.2026` / `2026-11-29`.
    pub fn date(self, ms: i64) -> String {
        let local = istanbul_time(ms);
        match self {
            Lang::Tr => local.format("%d.%m.%Y").to_string(),
            Lang::En => local.format("%Y-%m-%d").to_string(),
        }
    }
}

impl std::fmt::Display for Lang {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{TimeZone, Utc};

    fn kurus(minor: i64) -> Kurus {
        Kurus::from_minor(minor).unwrap_or(Kurus::ZERO)
    }

    #[test]
    fn money_is_written_the_way_each_language_reads_it() {
        let amount = kurus(123_456);
        assert_eq!(Lang::Tr.money(amount, Currency::Try), "1.234,56 TL");
        assert_eq!(Lang::En.money(amount, Currency::Try), "TRY 1,234.56");
        assert_eq!(Lang::Tr.money(kurus(5), Currency::Eur), "0,05 EUR");
        assert_eq!(Lang::En.amount(kurus(123_456_789)), "1,234,567.89");
    }

    #[test]
    fn times_are_istanbul_times() {
        // 2026-11-29T11:05:00Z is 14:05 in Istanbul.
        let ms = Utc
            .with_ymd_and_hms(2026, 11, 29, 11, 5, 0)
            .single()
            .map(|t| t.timestamp_millis())
            .unwrap_or_default();
        assert_eq!(Lang::Tr.datetime(ms), "29.11.2026 14:05");
        assert_eq!(Lang::En.datetime(ms), "2026-11-29 14:05");
        // 21:30 UTC is already the next day in Istanbul.
        let late = ms + (10 * 60 + 25) * 60 * 1000;
        assert_eq!(Lang::Tr.date(late), "30.11.2026");
    }

    #[test]
    fn language_tags_are_read_loosely_but_not_guessed() {
        assert_eq!(Lang::parse("tr-TR"), Some(Lang::Tr));
        assert_eq!(Lang::parse("EN"), Some(Lang::En));
        assert_eq!(Lang::parse("de"), None);
    }
}
