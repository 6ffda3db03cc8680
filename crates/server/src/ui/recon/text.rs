//! The engine's figures in the user's notation and words: amounts of the totals and
//! provider rows, provider times, and the checks that did not hold.

use chrono::NaiveDateTime;
use sanalpos_core::{Currency, Kurus, Lang};
use sanalpos_service::{Difference, Flag};

use crate::ui::format::day;

pub(super) fn money(lang: Lang, amount: Kurus) -> String {
    lang.money(amount, Currency::Try)
}

/// A signed amount of the totals (`theirs - ours`) in the user's notation
/// (`-1.234,50 TL`, `TRY -1234.50`).
pub(super) fn signed_money(lang: Lang, difference: Difference) -> String {
    let sign = if difference.0 < 0 { "-" } else { "" };
    let abs = i64::try_from(difference.0.unsigned_abs())
        .ok()
        .and_then(Kurus::from_minor)
        .unwrap_or(Kurus::ZERO);
    match lang {
        Lang::Tr => format!("{sign}{} TL", lang.amount(abs)),
        Lang::En => format!("TRY {sign}{}", lang.amount(abs)),
    }
}

/// A provider row's local time in the user's notation.
pub(super) fn row_time(lang: Lang, time: Option<NaiveDateTime>) -> String {
    let Some(t) = time else {
        return String::new();
    };
    match lang {
        Lang::Tr => t.format("%d.%m.%Y %H:%M").to_string(),
        Lang::En => t.format("%Y-%m-%d %H:%M").to_string(),
    }
}

/// A commission or value-date check that did not hold, in words.
pub(super) fn flag_text(lang: Lang, flag: &Flag) -> String {
    let t = crate::ui::i18n::texts(lang);
    match flag {
        Flag::Commission { expected, actual } => format!(
            "{}: {} {}, {} {}",
            t.flag_commission,
            t.recon_expected,
            money(lang, *expected),
            t.recon_actual,
            money(lang, *actual),
        ),
        Flag::ValueDate { expected, actual } => format!(
            "{}: {} {}, {} {}",
            t.flag_value_date,
            t.recon_expected,
            day(lang, &expected.to_string()),
            t.recon_actual,
            day(lang, &actual.to_string()),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signed_amounts_in_each_language() {
        assert_eq!(signed_money(Lang::Tr, Difference(-123_450)), "-1.234,50 TL");
        assert_eq!(signed_money(Lang::Tr, Difference(1200)), "12,00 TL");
        assert_eq!(signed_money(Lang::En, Difference(-5)), "TRY -0.05");
        assert_eq!(
            signed_money(Lang::En, Difference(123_400)),
            money(Lang::En, Kurus::from_minor(123_400).unwrap())
        );
    }

    #[test]
    fn reasons_and_flags_in_words() {
        let t = crate::ui::i18n::texts(Lang::Tr);
        assert_eq!(t.recon_reason("missing_here"), "Sağlayıcıda var, bizde yok");
        assert_eq!(t.recon_reason("something_new"), "something_new");
        let flag: Flag = serde_json::from_value(
            serde_json::json!({"kind": "commission", "expected": "2.99", "actual": "3.50"}),
        )
        .unwrap();
        assert_eq!(
            flag_text(Lang::Tr, &flag),
            "Komisyon beklenenden farklı: beklenen 2,99 TL, gelen 3,50 TL"
        );
        let flag: Flag = serde_json::from_value(
            serde_json::json!({"kind": "value_date", "expected": "2026-12-01", "actual": "2026-12-03"}),
        )
        .unwrap();
        assert_eq!(
            flag_text(Lang::En, &flag),
            "Value date differs from the table: expected 2026-12-01, reported 2026-12-03"
        );
    }
}
