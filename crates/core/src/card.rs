//! Card data: the number, its masked form, the expiry and the CVV.
//!
//! A [`CardNumber`] or [`Cvv`] lives only for the call that needs it. Neither has a way to
//! be printed in full: `Debug` and `Display` show the masked number and `***`, neither is
//! `Serialize`, and both wipe their memory on drop. The one way to the digits is
//! `expose()`, which only the wire codec of a provider calls.

use std::fmt;
use std::num::NonZeroU8;

use compact_str::CompactString;
use serde::{Deserialize, Serialize};
use zeroize::Zeroize;

/// Why card data was refused. The texts never contain the data itself.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CardError {
    /// Not 12 to 19 digits (spaces and dashes are ignored).
    #[error("card number must be 12 to 19 digits")]
    Length,
    /// Fails the Luhn check digit.
    #[error("card number is not valid (check digit)")]
    Luhn,
    /// Month outside 1-12 or a year that is not 2 or 4 digits.
    #[error("expiry date is not valid")]
    Expiry,
    /// Not 3 or 4 digits.
    #[error("CVV must be 3 or 4 digits")]
    Cvv,
}

/// A primary account number that passed the Luhn check.
#[derive(Clone, PartialEq, Eq)]
pub struct CardNumber(String);

impl Drop for CardNumber {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

impl CardNumber {
    /// Accepts 12 to 19 digits, ignoring spaces and dashes, with a valid check digit.
    pub fn parse(text: &str) -> Result<CardNumber, CardError> {
        let mut digits = String::with_capacity(19);
        for ch in text.chars() {
            match ch {
                '0'..='9' => digits.push(ch),
                ' ' | '-' => {}
                _ => {
                    digits.zeroize();
                    return Err(CardError::Length);
                }
            }
        }
        let number = CardNumber(digits);
        if !(12..=19).contains(&number.0.len()) {
            return Err(CardError::Length);
        }
        if !luhn_valid(&number.0) {
            return Err(CardError::Luhn);
        }
        Ok(number)
    }

    /// The digits, for the provider's wire format only. Never log or store them.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// The first six digits and the last four: what may be stored and shown.
    pub fn masked(&self) -> MaskedPan {
        MaskedPan::from_digits(&self.0)
    }

    /// The first `n` digits (the BIN is 6 or 8), for installment look-ups.
    pub fn bin(&self, n: usize) -> &str {
        &self.0[..n.min(self.0.len())]
    }

    /// The last four digits.
    pub fn last4(&self) -> &str {
        &self.0[self.0.len() - 4..]
    }

    /// The card scheme, from the leading digits.
    pub fn brand(&self) -> CardBrand {
        CardBrand::from_bin(&self.0)
    }
}

impl fmt::Debug for CardNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CardNumber({})", self.masked())
    }
}

impl fmt::Display for CardNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.masked(), f)
    }
}

/// The Luhn (mod 10) check over a string of ASCII digits.
pub fn luhn_valid(digits: &str) -> bool {
    let mut sum = 0u32;
    for (i, b) in digits.bytes().rev().enumerate() {
        if !b.is_ascii_digit() {
            return false;
        }
        let mut d = u32::from(b - b'0');
        if i % 2 == 1 {
            d *= 2;
            if d > 9 {
                d -= 9;
            }
        }
        sum += d;
    }
    !digits.is_empty() && sum % 10 == 0
}

/// A card number with all but the first six and the last four digits replaced by `*`:
/// `454671******7894`. Safe to store, log and show.
///
/// Held inline in 20 bytes (the text is at most 19 ASCII bytes and its length, never
/// zero, leaves `Option<MaskedPan>` the same size): statements carry one per row.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct MaskedPan {
    /// The masked text, zero-padded after `len` bytes.
    text: [u8; MASKED_MAX],
    len: NonZeroU8,
}

/// The longest card number, and so the longest masked one.
const MASKED_MAX: usize = 19;

impl MaskedPan {
    /// `text` must be in normal form (checked by the callers).
    fn from_normal(text: &[u8]) -> MaskedPan {
        let mut stored = [0u8; MASKED_MAX];
        stored[..text.len()].copy_from_slice(text);
        MaskedPan {
            text: stored,
            len: u8::try_from(text.len())
                .ok()
                .and_then(NonZeroU8::new)
                .unwrap_or(NonZeroU8::MIN),
        }
    }

    fn from_digits(digits: &str) -> MaskedPan {
        let len = digits.len();
        let mut masked = [b'*'; MASKED_MAX];
        masked[..6].copy_from_slice(&digits.as_bytes()[..6]);
        masked[len - 4..len].copy_from_slice(&digits.as_bytes()[len - 4..]);
        MaskedPan::from_normal(&masked[..len])
    }

    /// Accepts an already masked number as a provider reports it (`454671******7894`,
    /// `4546 71** **** 7894`, `454671XXXXXX7894`), normalizing the mask to `*`. Refuses
    /// anything that shows more than the first six and last four digits.
    pub fn parse(text: &str) -> Option<MaskedPan> {
        // Most reports write it in normal form already: checked where it stands.
        if Self::is_normal(text.as_bytes()) {
            return Some(MaskedPan::from_normal(text.as_bytes()));
        }
        let mut cleaned = [0u8; MASKED_MAX];
        let mut len = 0;
        for b in text.bytes().filter(|b| !matches!(b, b' ' | b'-')) {
            *cleaned.get_mut(len)? = if matches!(b, b'X' | b'x' | b'#') {
                b'*'
            } else {
                b
            };
            len += 1;
        }
        if len < 12 {
            return None;
        }
        Self::is_normal(&cleaned[..len]).then(|| MaskedPan::from_normal(&cleaned[..len]))
    }

    /// 12 to `MASKED_MAX` bytes: six digits, then `*` only, then four digits.
    fn is_normal(bytes: &[u8]) -> bool {
        let len = bytes.len();
        (12..=MASKED_MAX).contains(&len)
            && bytes[..6].iter().all(u8::is_ascii_digit)
            && bytes[6..len - 4].iter().all(|b| *b == b'*')
            && bytes[len - 4..].iter().all(u8::is_ascii_digit)
    }

    /// The masked text.
    pub fn as_str(&self) -> &str {
        // Only digits and `*` get in (`parse`, `from_digits`).
        std::str::from_utf8(&self.text[..usize::from(self.len.get())]).unwrap_or_default()
    }

    /// The last four digits.
    pub fn last4(&self) -> &str {
        let text = self.as_str();
        &text[text.len() - 4..]
    }

    /// The first six digits.
    pub fn bin6(&self) -> &str {
        &self.as_str()[..6]
    }
}

/// Written as the masked text.
impl Serialize for MaskedPan {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

/// Read as [`MaskedPan::parse`] reads it: a text that shows more than the first six and
/// last four digits is refused.
impl<'de> Deserialize<'de> for MaskedPan {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = CompactString::deserialize(deserializer)?;
        MaskedPan::parse(&text).ok_or_else(|| {
            serde::de::Error::custom("not a masked card number (first six and last four digits)")
        })
    }
}

impl fmt::Display for MaskedPan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for MaskedPan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "MaskedPan({})", self.as_str())
    }
}

/// Card schemes seen in Turkey.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CardBrand {
    /// Visa: 4.
    Visa,
    /// Mastercard: 51-55, 2221-2720.
    Mastercard,
    /// American Express: 34, 37.
    Amex,
    /// Troy, Türkiye's domestic scheme: 9792, 65.
    Troy,
    /// Anything else.
    Unknown,
}

impl CardBrand {
    /// The scheme of a number (or of its first digits).
    pub fn from_bin(digits: &str) -> CardBrand {
        let prefix = |n: usize| digits.get(..n).and_then(|p| p.parse::<u32>().ok());
        match (prefix(1), prefix(2), prefix(4)) {
            (Some(4), _, _) => CardBrand::Visa,
            (_, Some(51..=55), _) | (_, _, Some(2221..=2720)) => CardBrand::Mastercard,
            (_, Some(34 | 37), _) => CardBrand::Amex,
            (_, _, Some(9792)) | (_, Some(65), _) => CardBrand::Troy,
            _ => CardBrand::Unknown,
        }
    }
}

/// A card's expiry month and year.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Expiry {
    month: u8,
    year: u16,
}

impl Expiry {
    /// Month 1-12 and a two- (`30` = 2030) or four-digit year.
    pub fn parse(month: &str, year: &str) -> Result<Expiry, CardError> {
        let month: u8 = month.trim().parse().map_err(|_| CardError::Expiry)?;
        let year_text = year.trim();
        let year: u16 = year_text.parse().map_err(|_| CardError::Expiry)?;
        let year = match year_text.len() {
            2 => 2000 + year,
            4 if year >= 2000 => year,
            _ => return Err(CardError::Expiry),
        };
        if !(1..=12).contains(&month) {
            return Err(CardError::Expiry);
        }
        Ok(Expiry { month, year })
    }

    /// The month, 1-12.
    pub fn month(self) -> u8 {
        self.month
    }

    /// The four-digit year.
    pub fn year(self) -> u16 {
        self.year
    }

    /// A card is valid through the last day of its expiry month.
    pub fn is_expired_at(self, year: u16, month: u8) -> bool {
        (self.year, self.month) < (year, month)
    }
}

/// The card verification value. Never printable, never serializable.
#[derive(Clone, PartialEq, Eq)]
pub struct Cvv(String);

impl Drop for Cvv {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

impl Cvv {
    /// Three or four digits.
    pub fn parse(text: &str) -> Result<Cvv, CardError> {
        let cvv = Cvv(text.trim().to_owned());
        if (3..=4).contains(&cvv.0.len()) && cvv.0.bytes().all(|b| b.is_ascii_digit()) {
            Ok(cvv)
        } else {
            Err(CardError::Cvv)
        }
    }

    /// The digits, for the provider's wire format only.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Cvv {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Cvv(***)")
    }
}

impl fmt::Display for Cvv {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const VISA: &str = "4546711234567894";

    #[test]
    fn parses_and_masks() {
        let card = CardNumber::parse("4546 7112 3456 7894").unwrap();
        assert_eq!(card.masked().as_str(), "454671******7894");
        assert_eq!(card.brand(), CardBrand::Visa);
        assert_eq!(card.bin(8), "45467112");
        assert_eq!(card.last4(), "7894");
        assert_eq!(format!("{card:?}"), "CardNumber(454671******7894)");
        assert_eq!(format!("{card}"), "454671******7894");
    }

    #[test]
    fn refuses_bad_numbers_without_echoing_them() {
        let err = CardNumber::parse("4546711234567895").unwrap_err();
        assert_eq!(err, CardError::Luhn);
        assert!(!err.to_string().contains("4546711234567895"));
        assert_eq!(CardNumber::parse("12345").unwrap_err(), CardError::Length);
        assert_eq!(
            CardNumber::parse("4546a11234567894").unwrap_err(),
            CardError::Length
        );
    }

    #[test]
    fn brands() {
        assert_eq!(
            CardBrand::from_bin("5200190006338608"),
            CardBrand::Mastercard
        );
        assert_eq!(
            CardBrand::from_bin("2221000000000009"),
            CardBrand::Mastercard
        );
        assert_eq!(CardBrand::from_bin("9792030000000000"), CardBrand::Troy);
        assert_eq!(CardBrand::from_bin("371449635398431"), CardBrand::Amex);
        assert_eq!(CardBrand::from_bin("1234"), CardBrand::Unknown);
    }

    #[test]
    fn expiry_and_cvv() {
        let e = Expiry::parse("12", "2026").unwrap();
        assert!(!e.is_expired_at(2026, 12));
        assert!(e.is_expired_at(2027, 1));
        assert_eq!(Expiry::parse("1", "30").unwrap().year(), 2030);
        assert!(Expiry::parse("13", "2030").is_err());
        assert!(Expiry::parse("12", "203").is_err());
        let cvv = Cvv::parse("000").unwrap();
        assert_eq!(format!("{cvv:?} {cvv}"), "Cvv(***) ***");
        assert!(Cvv::parse("12").is_err());
        assert!(Cvv::parse("12a").is_err());
    }

    #[test]
    fn masked_pan_from_provider_text() {
        assert_eq!(
            MaskedPan::parse("4546 71** **** 7894").unwrap().as_str(),
            "454671******7894"
        );
        assert_eq!(
            MaskedPan::parse("454671XXXXXX7894").unwrap().last4(),
            "7894"
        );
        assert!(
            MaskedPan::parse(VISA).is_none(),
            "a full number is not a masked one"
        );
    }

    #[test]
    fn masked_pan_is_held_inline_and_read_back_checked() {
        assert_eq!(std::mem::size_of::<Option<MaskedPan>>(), 20);
        let longest = MaskedPan::parse("454671*********7894").unwrap();
        assert_eq!(longest.as_str(), "454671*********7894");
        assert_eq!((longest.bin6(), longest.last4()), ("454671", "7894"));
        assert!(MaskedPan::parse("454671**********7894").is_none());
        assert!(MaskedPan::parse("45467**7894").is_none());
        let json = serde_json::to_string(&longest).unwrap();
        assert_eq!(json, "\"454671*********7894\"");
        assert_eq!(serde_json::from_str::<MaskedPan>(&json).unwrap(), longest);
        assert!(serde_json::from_str::<MaskedPan>(&format!("\"{VISA}\"")).is_err());
    }

    fn luhn_complete(body: &str) -> String {
        (0..10)
            .map(|d| format!("{body}{d}"))
            .find(|n| luhn_valid(n))
            .unwrap()
    }

    proptest! {
        /// A masked number in normal form is read where it stands, as the general path
        /// (taken here through a space and `X`s) reads it.
        #[test]
        fn normal_form_reads_as_any_form(
            head in "[0-9]{6}",
            stars in 2usize..=9,
            tail in "[0-9]{4}",
            junk in "[0-9a-z*]{0,3}",
        ) {
            let normal = format!("{head}{}{tail}", "*".repeat(stars));
            let spaced = format!("{} {}{}{tail}", &head[..4], &head[4..], "X".repeat(stars));
            prop_assert_eq!(MaskedPan::parse(&normal), MaskedPan::parse(&spaced));
            let read = MaskedPan::parse(&normal).unwrap();
            prop_assert_eq!(read.as_str(), normal.as_str());
            let broken = format!("{normal}{junk}");
            let broken_spaced = format!("{spaced}{junk}");
            prop_assert_eq!(MaskedPan::parse(&broken), MaskedPan::parse(&broken_spaced));
        }

        #[test]
        fn masking_shows_only_first6_last4(body in "[0-9]{11,18}") {
            let number = luhn_complete(&body);
            let card = CardNumber::parse(&number).unwrap();
            let masked = card.masked();
            prop_assert_eq!(masked.as_str().len(), number.len());
            prop_assert_eq!(&masked.as_str()[..6], &number[..6]);
            prop_assert_eq!(masked.last4(), &number[number.len() - 4..]);
            prop_assert!(masked.as_str()[6..number.len() - 4].bytes().all(|b| b == b'*'));
            prop_assert_eq!(format!("{card}"), masked.as_str());
            prop_assert_eq!(format!("{card:?}"), format!("CardNumber({})", masked.as_str()));
            prop_assert_eq!(MaskedPan::parse(masked.as_str()), Some(masked));
        }

        #[test]
        fn one_changed_digit_fails_luhn(body in "[0-9]{15}", pos in 0usize..16, delta in 1u8..10) {
            let number = luhn_complete(&body);
            let mut bytes = number.into_bytes();
            bytes[pos] = b'0' + (bytes[pos] - b'0' + delta) % 10;
            let changed = String::from_utf8(bytes).unwrap();
            prop_assert!(!luhn_valid(&changed));
        }
    }
}
