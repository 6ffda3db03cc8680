//! Money as an integer number of minor units (kuruş, cents).

use std::fmt;
use std::num::NonZeroU64;
use std::ops::{Add, Sub};

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// An amount of money in minor units (1 TL = 100 kuruş). Never negative.
///
/// Built only through [`Kurus::parse`], [`Kurus::parse_tr`] or [`Kurus::from_minor`], so
/// an amount with three decimals, a sign or more digits than fit in an `i64` can not
/// exist. Serialized as the decimal string the API uses (`"150.00"`).
///
/// Held as the amount plus one in a `NonZeroU64` (an amount is never negative, so that
/// is never zero and keeps the order): `Option<Kurus>` then takes 8 bytes instead of 16,
/// which matters where a million statement rows each carry optional amounts.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Kurus(NonZeroU64);

/// Why a text is not an amount of money.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MoneyError {
    /// Nothing but white space.
    #[error("amount is empty")]
    Empty,
    /// A minus sign: amounts are never negative; direction is carried by the operation.
    #[error("amount must not be negative")]
    Negative,
    /// More than two digits after the decimal separator.
    #[error("amount has more than two decimal places")]
    TooManyDecimals,
    /// Anything else that is not `digits[.digits]`.
    #[error("amount is not a decimal number with at most two decimal places")]
    Malformed,
    /// Larger than the largest representable amount.
    #[error("amount is too large")]
    Overflow,
}

impl Kurus {
    /// Zero.
    pub const ZERO: Kurus = Kurus::of(0);

    /// The amount of `minor` kuruş, which must not be negative (callers check).
    const fn of(minor: i64) -> Kurus {
        // At most `i64::MAX + 1`: the addition never saturates.
        Kurus(NonZeroU64::MIN.saturating_add(minor.unsigned_abs()))
    }

    /// The amount of `minor` kuruş; `None` when negative.
    pub fn from_minor(minor: i64) -> Option<Kurus> {
        (minor >= 0).then(|| Kurus::of(minor))
    }

    /// The amount in minor units.
    pub fn minor(self) -> i64 {
        // Stored as the amount plus one, at most `i64::MAX + 1`: always fits.
        i64::try_from(self.0.get() - 1).unwrap_or(i64::MAX)
    }

    /// Parses `"1234.56"`, `"1234.5"` or `"1234"` (a dot as decimal separator, no
    /// grouping). Rejects a sign, three or more decimals, empty parts and overflow.
    pub fn parse(text: &str) -> Result<Kurus, MoneyError> {
        parse_with(text, b'.', None)
    }

    /// Parses Turkish notation: `"1.234,56"`, `"1234,56"`, `"12,5"`. Dots are only
    /// accepted as thousands separators in groups of three.
    pub fn parse_tr(text: &str) -> Result<Kurus, MoneyError> {
        parse_with(text, b',', Some(b'.'))
    }

    /// `"1234.56"`: what the API and the provider's wire format use.
    pub fn to_decimal_string(self) -> String {
        self.to_string()
    }

    /// `"1.234,56"`: Turkish notation with thousands grouping.
    pub fn format_tr(self) -> String {
        let whole = (self.minor() / 100).to_string();
        let mut grouped = String::with_capacity(whole.len() + whole.len() / 3 + 3);
        for (i, ch) in whole.chars().enumerate() {
            if i > 0 && (whole.len() - i) % 3 == 0 {
                grouped.push('.');
            }
            grouped.push(ch);
        }
        format!("{grouped},{:02}", self.minor() % 100)
    }

    /// `self + other`, or `None` on overflow.
    pub fn checked_add(self, other: Kurus) -> Option<Kurus> {
        self.minor().checked_add(other.minor()).map(Kurus::of)
    }

    /// `self - other`, or `None` when the result would be negative.
    pub fn checked_sub(self, other: Kurus) -> Option<Kurus> {
        self.minor()
            .checked_sub(other.minor())
            .and_then(Kurus::from_minor)
    }

    /// `self` scaled by a rate given in basis points (1/100 of a percent), rounded half
    /// up to the kuruş: commission 2.49 % of 100.00 is `percent_bp(249)` = 2.49.
    pub fn percent_bp(self, basis_points: u32) -> Kurus {
        let scaled = i128::from(self.minor()) * i128::from(basis_points);
        let rounded = (scaled + 5_000) / 10_000;
        // A non-negative i64 times a u32 rate divided by 10_000 fits back when the
        // rate is below 10_000 %; saturate rather than wrap for absurd rates.
        Kurus::of(i64::try_from(rounded).unwrap_or(i64::MAX))
    }
}

fn parse_with(text: &str, decimal: u8, group: Option<u8>) -> Result<Kurus, MoneyError> {
    let text = crate::fields::trim(text).as_bytes();
    match text.first() {
        None => return Err(MoneyError::Empty),
        Some(b'-') => return Err(MoneyError::Negative),
        Some(_) => {}
    }
    let (whole, fraction) = match text.iter().position(|b| *b == decimal) {
        Some(at) => (&text[..at], Some(&text[at + 1..])),
        None => (text, None),
    };
    // The whole part, read byte by byte straight into the number (statements carry
    // millions of amounts). With a group separator in it, the first group holds one to
    // three digits and every later one three. Overflow is told only after the fraction
    // is known to be well formed, as a malformed amount is the stronger complaint.
    let group = group.filter(|g| whole.contains(g));
    let mut whole_value: Option<i64> = Some(0);
    let (mut digits, mut run, mut first_group) = (0usize, 0usize, true);
    for b in whole {
        if Some(*b) == group {
            let well_grouped = if first_group {
                (1..=3).contains(&run)
            } else {
                run == 3
            };
            if !well_grouped {
                return Err(MoneyError::Malformed);
            }
            (run, first_group) = (0, false);
            continue;
        }
        if !b.is_ascii_digit() {
            return Err(MoneyError::Malformed);
        }
        whole_value = whole_value
            .and_then(|v| v.checked_mul(10))
            .and_then(|v| v.checked_add(i64::from(b - b'0')));
        (digits, run) = (digits + 1, run + 1);
    }
    if digits == 0 || (group.is_some() && run != 3) {
        return Err(MoneyError::Malformed);
    }
    let cents = match fraction {
        None => 0,
        Some(f) if f.is_empty() || !f.iter().all(u8::is_ascii_digit) => {
            return Err(MoneyError::Malformed)
        }
        Some(f) if f.len() > 2 => return Err(MoneyError::TooManyDecimals),
        Some([tenths]) => i64::from(tenths - b'0') * 10,
        Some(f) => i64::from(f[0] - b'0') * 10 + i64::from(f[1] - b'0'),
    };
    whole_value
        .and_then(|w| w.checked_mul(100))
        .and_then(|w| w.checked_add(cents))
        .map(Kurus::of)
        .ok_or(MoneyError::Overflow)
}

impl fmt::Display for Kurus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{:02}", self.minor() / 100, self.minor() % 100)
    }
}

impl fmt::Debug for Kurus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Kurus({self})")
    }
}

impl Default for Kurus {
    fn default() -> Kurus {
        Kurus::ZERO
    }
}

impl std::str::FromStr for Kurus {
    type Err = MoneyError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Kurus::parse(s)
    }
}

impl Add for Kurus {
    type Output = Kurus;
    /// Panics on overflow, like integer addition in debug builds; use
    /// [`Kurus::checked_add`] where the inputs are not bounded.
    fn add(self, other: Kurus) -> Kurus {
        self.checked_add(other).expect("money overflow")
    }
}

impl Sub for Kurus {
    type Output = Kurus;
    /// Panics when the result would be negative; use [`Kurus::checked_sub`] where that
    /// can happen.
    fn sub(self, other: Kurus) -> Kurus {
        self.checked_sub(other).expect("negative money")
    }
}

impl std::iter::Sum for Kurus {
    fn sum<I: Iterator<Item = Kurus>>(iter: I) -> Kurus {
        iter.fold(Kurus::ZERO, Add::add)
    }
}

impl Serialize for Kurus {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

/// In the API's description: the decimal string with two places.
impl utoipa::PartialSchema for Kurus {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        #[allow(deprecated)]
        utoipa::openapi::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .description(Some("An amount: a decimal string with two places."))
            .pattern(Some(r"^\d+\.\d{2}$"))
            .example(Some("150.00".into()))
            .into()
    }
}

impl utoipa::ToSchema for Kurus {
    fn name() -> std::borrow::Cow<'static, str> {
        "Amount".into()
    }
}

impl<'de> Deserialize<'de> for Kurus {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Kurus::parse(&text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The parser as it was written before it read bytes: the one it must agree with.
    fn reference_parse(
        text: &str,
        decimal: char,
        group: Option<char>,
    ) -> Result<Kurus, MoneyError> {
        let text = text.trim();
        if text.is_empty() {
            return Err(MoneyError::Empty);
        }
        if text.starts_with('-') {
            return Err(MoneyError::Negative);
        }
        let (whole, fraction) = match text.split_once(decimal) {
            Some((w, f)) => (w, Some(f)),
            None => (text, None),
        };
        // The whole part, its digits read straight into the number (no copy of the text:
        // statements carry millions of amounts). Overflow is told only after the fraction
        // is known to be well formed, as a malformed amount is the stronger complaint.
        let mut whole_value: Option<i64> = Some(0);
        let mut whole_len = 0usize;
        let mut digits_of = |part: &str| -> Result<(), MoneyError> {
            for b in part.bytes() {
                if !b.is_ascii_digit() {
                    return Err(MoneyError::Malformed);
                }
                whole_value = whole_value
                    .and_then(|v| v.checked_mul(10))
                    .and_then(|v| v.checked_add(i64::from(b - b'0')));
                whole_len += 1;
            }
            Ok(())
        };
        match group {
            Some(sep) if whole.contains(sep) => {
                let mut parts = whole.split(sep);
                let first = parts.next().unwrap_or_default();
                if first.is_empty() || first.len() > 3 {
                    return Err(MoneyError::Malformed);
                }
                digits_of(first)?;
                for part in parts {
                    if part.len() != 3 {
                        return Err(MoneyError::Malformed);
                    }
                    digits_of(part)?;
                }
            }
            _ => digits_of(whole)?,
        }
        if whole_len == 0 {
            return Err(MoneyError::Malformed);
        }
        let cents = match fraction {
            None => 0,
            Some(f) if f.is_empty() || !f.bytes().all(|b| b.is_ascii_digit()) => {
                return Err(MoneyError::Malformed)
            }
            Some(f) if f.len() > 2 => return Err(MoneyError::TooManyDecimals),
            Some(f) if f.len() == 1 => i64::from(f.as_bytes()[0] - b'0') * 10,
            Some(f) => i64::from(f.as_bytes()[0] - b'0') * 10 + i64::from(f.as_bytes()[1] - b'0'),
        };
        whole_value
            .and_then(|w| w.checked_mul(100))
            .and_then(|w| w.checked_add(cents))
            .map(Kurus::of)
            .ok_or(MoneyError::Overflow)
    }

    #[test]
    fn parses_and_formats_plain_amounts() {
        assert_eq!(Kurus::parse("1234.56").unwrap().minor(), 123_456);
        assert_eq!(Kurus::parse("150").unwrap().to_string(), "150.00");
        assert_eq!(Kurus::parse("0.5").unwrap().minor(), 50);
        assert_eq!(Kurus::parse(" 7.05 ").unwrap().to_string(), "7.05");
    }

    #[test]
    fn the_whole_range_round_trips_in_order_and_none_costs_no_tag() {
        for minor in [0, 1, 99, i64::MAX - 1, i64::MAX] {
            assert_eq!(Kurus::from_minor(minor).unwrap().minor(), minor);
        }
        assert_eq!(Kurus::from_minor(-1), None);
        assert_eq!(Kurus::default(), Kurus::ZERO);
        assert_eq!(Kurus::ZERO.minor(), 0);
        let max = Kurus::from_minor(i64::MAX).unwrap();
        assert!(Kurus::ZERO < Kurus::from_minor(1).unwrap() && Kurus::from_minor(1).unwrap() < max);
        assert_eq!(max.checked_add(Kurus::from_minor(1).unwrap()), None);
        assert_eq!(std::mem::size_of::<Option<Kurus>>(), 8);
    }

    #[test]
    fn rejects_what_is_not_money() {
        assert_eq!(Kurus::parse("1.234"), Err(MoneyError::TooManyDecimals));
        assert_eq!(Kurus::parse("-1.00"), Err(MoneyError::Negative));
        assert_eq!(Kurus::parse(""), Err(MoneyError::Empty));
        assert_eq!(
            Kurus::parse("99999999999999999999"),
            Err(MoneyError::Overflow)
        );
        assert_eq!(
            Kurus::parse("92233720368547758.08"),
            Err(MoneyError::Overflow)
        );
        for bad in [
            "1,00", ".5", "1.", "+1", "1e3", "1 000", "abc", "1.2.3", "١٢",
        ] {
            assert_eq!(Kurus::parse(bad), Err(MoneyError::Malformed), "{bad}");
        }
    }

    #[test]
    fn turkish_notation() {
        assert_eq!(Kurus::parse_tr("1.234,56").unwrap().minor(), 123_456);
        assert_eq!(Kurus::parse_tr("1234,5").unwrap().minor(), 123_450);
        assert_eq!(
            Kurus::parse_tr("12.345.678,00").unwrap().minor(),
            1_234_567_800
        );
        assert_eq!(Kurus::parse_tr("1.23,00"), Err(MoneyError::Malformed));
        assert_eq!(Kurus::parse_tr("1,234"), Err(MoneyError::TooManyDecimals));
        assert_eq!(
            Kurus::from_minor(123_456_789).unwrap().format_tr(),
            "1.234.567,89"
        );
        assert_eq!(Kurus::from_minor(5).unwrap().format_tr(), "0,05");
    }

    #[test]
    fn percent_rounds_half_up() {
        let hundred = Kurus::parse("100.00").unwrap();
        assert_eq!(hundred.percent_bp(249).to_string(), "2.49");
        assert_eq!(Kurus::parse("0.50").unwrap().percent_bp(100).minor(), 1); // 0.005 -> 0.01
        assert_eq!(Kurus::parse("0.49").unwrap().percent_bp(100).minor(), 0);
    }

    #[test]
    fn serde_uses_decimal_strings() {
        let amount = Kurus::parse("150").unwrap();
        assert_eq!(serde_json::to_string(&amount).unwrap(), "\"150.00\"");
        let back: Kurus = serde_json::from_str("\"150.00\"").unwrap();
        assert_eq!(back, amount);
        assert!(serde_json::from_str::<Kurus>("\"1.005\"").is_err());
    }

    proptest! {
        /// Texts of amounts' characters and a few others, long enough to overflow: the
        /// byte parser gives what the one before it gave, value or error.
        #[test]
        fn parsing_agrees_with_the_reference(text in "[0-9.,\\- x\u{a0}\u{130}]{0,24}") {
            prop_assert_eq!(
                parse_with(&text, b',', Some(b'.')),
                reference_parse(&text, ',', Some('.'))
            );
            prop_assert_eq!(parse_with(&text, b'.', None), reference_parse(&text, '.', None));
        }

        /// Well-formed Turkish amounts (the generator above rarely makes one long enough).
        #[test]
        fn grouped_amounts_agree_with_the_reference(
            head in "[0-9]{0,4}",
            groups in proptest::collection::vec("[0-9]{2,4}", 0..6),
            fraction in proptest::option::of("[0-9]{0,3}"),
        ) {
            let mut text = head;
            for g in groups {
                text.push('.');
                text.push_str(&g);
            }
            if let Some(f) = fraction {
                text.push(',');
                text.push_str(&f);
            }
            prop_assert_eq!(
                parse_with(&text, b',', Some(b'.')),
                reference_parse(&text, ',', Some('.'))
            );
        }

        #[test]
        fn format_then_parse_is_identity(minor in 0i64..=i64::MAX) {
            let amount = Kurus::from_minor(minor).unwrap();
            prop_assert_eq!(Kurus::parse(&amount.to_string()).unwrap(), amount);
            prop_assert_eq!(Kurus::parse_tr(&amount.format_tr()).unwrap(), amount);
        }

        #[test]
        fn parse_never_panics_and_is_canonical_when_ok(text in "\\PC{0,24}") {
            if let Ok(amount) = Kurus::parse(&text) {
                prop_assert!(amount.minor() >= 0);
                let reparsed = Kurus::parse(&amount.to_string()).unwrap();
                prop_assert_eq!(reparsed, amount);
            }
            let _ = Kurus::parse_tr(&text);
        }

        #[test]
        fn three_decimals_always_rejected(whole in 0u32..1_000_000, frac in 0u16..1000) {
            let text = format!("{whole}.{frac:03}");
            prop_assert_eq!(Kurus::parse(&text), Err(MoneyError::TooManyDecimals));
        }
    }
}
