//! What the simulated bank makes of a card: the shared magic decline and fault cards
//! (`crate::cards`, protocol-neutral), the cards that force a 3D `mdStatus`, the card
//! brand and issuer of the answers, and the expiry check.
//!
//! A card is judged once, when it arrives; what is kept afterwards is a [`CardFacts`]
//! (masked number, brand, issuer, outcome), never the number itself.

use sanalpos_core::{CardNumber, MaskedPan};

use crate::cards::{self, Fault};

/// Cards whose 3D authentication ends with a fixed `mdStatus`, whatever SMS code is
/// typed: `(card, mdStatus)`. Luhn-valid; any future expiry and CVV. `2` and `4` are
/// half-secure (they carry an attempt ECI and CAVV); `0`, `5` and `7` fail.
pub const MD_STATUS_CARDS: &[(&str, &str)] = &[
    ("4000000000003006", "0"),
    ("4000000000003022", "2"),
    ("4000000000003048", "4"),
    ("4000000000003055", "5"),
    ("4000000000003071", "7"),
];

/// The NestPay test platform's own cards (12/26, CVV 000), approved here like any
/// other card.
pub const TEST_PLATFORM_CARDS: &[&str] = &["4546711234567894", "4508034508034509"];

/// What the issuer does with a card once a charge reaches it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CardOutcome {
    /// Approved (`00`).
    Approve,
    /// Declined with this ISO 8583 code.
    Decline(&'static str),
    /// Approved, but the transport misbehaves on purpose (or, for the no-charge
    /// faults, nothing is charged at all).
    Fault(Fault),
}

/// What the simulator keeps of a card after the request that carried it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CardFacts {
    /// First six and last four digits.
    pub masked: MaskedPan,
    /// `VISA`, `MASTERCARD`, `TROY`, `AMEX`.
    pub brand: &'static str,
    /// The issuer's name, upper-cased the Turkish way; empty when the BIN is unknown.
    pub issuer: String,
    /// What the issuer will say.
    pub outcome: CardOutcome,
    /// The `mdStatus` the card forces in 3D, if it is an mdStatus card.
    pub md_status: Option<u8>,
    /// Whether the expiry was in the past when the card arrived.
    pub expired: bool,
}

impl CardFacts {
    /// Judges `card` expiring at `expiry` (`(year, month)`) against `now`.
    pub fn judge(card: &CardNumber, expiry: (u16, u8), now: (u16, u8)) -> CardFacts {
        let pan = card.expose();
        let outcome = match cards::magic_decline(pan) {
            Some(code) => CardOutcome::Decline(code),
            None => match cards::fault(pan) {
                Some(fault) => CardOutcome::Fault(fault),
                None => CardOutcome::Approve,
            },
        };
        CardFacts {
            masked: card.masked(),
            brand: brand(pan),
            issuer: issuer(pan),
            outcome,
            md_status: md_status_of(pan),
            expired: expiry < now,
        }
    }
}

/// The forced `mdStatus` of an mdStatus card.
pub fn md_status_of(pan: &str) -> Option<u8> {
    MD_STATUS_CARDS
        .iter()
        .find(|(card, _)| *card == pan)
        .and_then(|(_, status)| status.parse().ok())
}

/// `CARDBRAND` from the leading digits.
pub fn brand(pan: &str) -> &'static str {
    match pan.as_bytes().first() {
        Some(b'4') => "VISA",
        Some(b'5' | b'2') => "MASTERCARD",
        Some(b'9') => "TROY",
        Some(b'3') => "AMEX",
        _ => "",
    }
}

/// Upper-cases Turkish text: `i` → `İ`, `ı` → `I`.
pub fn upper_tr(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            'i' => 'İ'.to_string(),
            'ı' => 'I'.to_string(),
            other => other.to_uppercase().to_string(),
        })
        .collect()
}

/// `CARDISSUER`: the BIN table's bank name, upper-cased.
pub fn issuer(pan: &str) -> String {
    cards::bin_info(pan)
        .map(|b| upper_tr(b.bank_name))
        .unwrap_or_default()
}

/// Parses `MM/YY` into `(year, month)`.
pub fn parse_expires(text: &str) -> Option<(u16, u8)> {
    let (month, year) = text.split_once('/')?;
    parse_month_year(month, year)
}

/// Parses a two-digit month and a two-digit year (`20YY`).
pub fn parse_month_year(month: &str, year: &str) -> Option<(u16, u8)> {
    let two = |t: &str| t.len() == 2 && t.bytes().all(|b| b.is_ascii_digit());
    if !two(month) || !two(year) {
        return None;
    }
    let month: u8 = month.parse().ok()?;
    let year: u16 = year.parse().ok()?;
    (1..=12).contains(&month).then_some((2000 + year, month))
}

/// The card number if `text` is 12–19 digits with a valid check digit.
pub fn parse_pan(text: &str) -> Option<CardNumber> {
    let digits_only = !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit());
    if !digits_only {
        return None;
    }
    CardNumber::parse(text).ok()
}

/// A masked number as NestPay's status query shows it: `4546 71** **** 7894`.
pub fn spaced_mask(masked: &MaskedPan) -> String {
    let chars: Vec<char> = masked.as_str().chars().collect();
    chars
        .chunks(4)
        .map(|c| c.iter().collect::<String>())
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn md_status_cards_are_valid_and_distinct() {
        for (card, status) in MD_STATUS_CARDS {
            assert!(CardNumber::parse(card).is_ok(), "{card}");
            assert!(cards::magic_decline(card).is_none() && cards::fault(card).is_none());
            assert_eq!(
                md_status_of(card).map(|s| s.to_string()).as_deref(),
                Some(*status)
            );
        }
        for card in TEST_PLATFORM_CARDS {
            let card = CardNumber::parse(card).unwrap();
            let facts = CardFacts::judge(&card, (2030, 1), (2026, 1));
            assert_eq!(facts.outcome, CardOutcome::Approve);
            assert_eq!(facts.brand, "VISA");
        }
    }

    #[test]
    fn small_parsers() {
        assert_eq!(parse_expires("12/26"), Some((2026, 12)));
        assert_eq!(parse_expires("1/26"), None);
        assert_eq!(parse_expires("13/26"), None);
        assert_eq!(parse_expires("1226"), None);
        assert!(parse_pan("4546711234567894").is_some());
        assert!(parse_pan("4546 7112 3456 7894").is_none());
        assert!(parse_pan("4546711234567895").is_none());
        assert_eq!(issuer("4546711234567894"), "T.C. ZİRAAT BANKASI");
        let masked = MaskedPan::parse("454671******7894").unwrap();
        assert_eq!(spaced_mask(&masked), "4546 71** **** 7894");
    }
}
