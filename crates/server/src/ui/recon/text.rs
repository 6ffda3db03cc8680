//! The engine's figures in the user's notation and words: amounts of the totals and
//! provider rows (signed decimal texts), provider times, and the checks that did not hold.

use sanalpos_core::{Currency, Kurus, Lang};
use serde_json::Value;

use crate::ui::format::day;

pub(super) fn money(lang: Lang, amount: Kurus) -> String {
    lang.money(amount, Currency::Try)
}

/// A signed decimal text of the engine (`"-12.50"`) in the user's notation.
pub(super) fn signed_money(lang: Lang, text: &str) -> String {
    let (sign, digits) = match text.strip_prefix('-') {
        Some(rest) => ("-", rest),
        None => ("", text),
    };
    match (Kurus::parse(digits), lang) {
        (Ok(k), Lang::Tr) => format!("{sign}{} TL", lang.amount(k)),
        (Ok(k), Lang::En) => format!("TRY {sign}{}", lang.amount(k)),
        (Err(_), _) => text.to_owned(),
    }
}

/// An amount text of the totals (`"150.00"`) in the user's notation.
pub(super) fn total_money(lang: Lang, value: &Value) -> String {
    value
        .as_str()
        .map(|text| signed_money(lang, text))
        .unwrap_or_default()
}

/// A provider row's local time (`2026-11-29T14:05:00`) in the user's notation.
pub(super) fn row_time(lang: Lang, value: &Value) -> String {
    let Some(t) = value
        .as_str()
        .and_then(|t| t.parse::<chrono::NaiveDateTime>().ok())
    else {
        return String::new();
    };
    match lang {
        Lang::Tr => t.format("%d.%m.%Y %H:%M").to_string(),
        Lang::En => t.format("%Y-%m-%d %H:%M").to_string(),
    }
}

/// A commission or value-date check that did not hold, in words.
pub(super) fn flag_text(lang: Lang, flag: &Value) -> String {
    let t = crate::ui::i18n::texts(lang);
    match flag["kind"].as_str() {
        Some("commission") => format!(
            "{}: {} {}, {} {}",
            t.flag_commission,
            t.recon_expected,
            total_money(lang, &flag["expected"]),
            t.recon_actual,
            total_money(lang, &flag["actual"]),
        ),
        Some("value_date") => format!(
            "{}: {} {}, {} {}",
            t.flag_value_date,
            t.recon_expected,
            day(lang, flag["expected"].as_str().unwrap_or_default()),
            t.recon_actual,
            day(lang, flag["actual"].as_str().unwrap_or_default()),
        ),
        _ => format!("{}: {flag}", t.recon_flags),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signed_amounts_in_each_language() {
        assert_eq!(signed_money(Lang::Tr, "-1234.50"), "-1.234,50 TL");
        assert_eq!(signed_money(Lang::Tr, "12.00"), "12,00 TL");
        assert_eq!(signed_money(Lang::En, "-0.05"), "TRY -0.05");
        assert_eq!(
            signed_money(Lang::En, "1234.00"),
            money(Lang::En, Kurus::from_minor(123_400).unwrap())
        );
        assert_eq!(signed_money(Lang::En, "x"), "x");
    }

    #[test]
    fn reasons_and_flags_in_words() {
        let t = crate::ui::i18n::texts(Lang::Tr);
        assert_eq!(t.recon_reason("missing_here"), "Sağlayıcıda var, bizde yok");
        assert_eq!(t.recon_reason("something_new"), "something_new");
        let flag = serde_json::json!({"kind": "commission", "expected": "2.99", "actual": "3.50"});
        assert_eq!(
            flag_text(Lang::Tr, &flag),
            "Komisyon beklenenden farklı: beklenen 2,99 TL, gelen 3,50 TL"
        );
        let flag = serde_json::json!({"kind": "value_date", "expected": "2026-12-01", "actual": "2026-12-03"});
        assert_eq!(
            flag_text(Lang::En, &flag),
            "Value date differs from the table: expected 2026-12-01, reported 2026-12-03"
        );
    }
}
