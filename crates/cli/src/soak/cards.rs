//! The cards the soaks send: sandbox cards that approve, magic cards that decline with a
//! fixed bank code, and fault cards that break the transport on purpose.

use sanalpos_simulator::cards::{TestCard, SANDBOX_CARDS};

/// Magic cards: declined by the bank with a fixed code.
pub const DECLINE_CARDS: [&str; 5] = [
    "4000000000000051",
    "4000000000000127",
    "4000000000000515",
    "4000000000000572",
    "4000000000000911",
];
/// Fault cards: slow answer, charge then 500, no charge 500, truncated answer, wrong
/// hash, dropped connection, 503 on the first call.
pub const FAULT_CARDS: [&str; 7] = [
    "4000000000009011",
    "4000000000009029",
    "4000000000009037",
    "4000000000009045",
    "4000000000009052",
    "4000000000009060",
    "4000000000009078",
];
/// The CVV sent with magic and fault cards.
pub const TEST_CVV: &str = "731";
/// A 3D code no card accepts.
pub const WRONG_3D_CODE: &str = "000000";

/// A magic or fault card with a far expiry and [`TEST_CVV`].
pub fn test_card(number: &'static str) -> TestCard {
    TestCard {
        number,
        expiry_month: "12",
        expiry_year: "2030",
        cvv: TEST_CVV,
        bank: "",
    }
}

/// Sandbox cards valid for years (the first one expires soon, so it is left out).
pub fn approving_cards() -> &'static [TestCard] {
    &SANDBOX_CARDS[1..]
}

/// Every card the traffic may send (for the secrets scan).
pub fn all_cards() -> Vec<TestCard> {
    let mut cards: Vec<TestCard> = approving_cards().to_vec();
    cards.extend(DECLINE_CARDS.iter().map(|n| test_card(n)));
    cards.extend(FAULT_CARDS.iter().map(|n| test_card(n)));
    cards
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_card_is_a_valid_number_of_its_kind() {
        for card in all_cards() {
            assert!(
                sanalpos_core::CardNumber::parse(card.number).is_ok(),
                "{}",
                card.number
            );
        }
        for number in DECLINE_CARDS {
            assert!(
                sanalpos_simulator::cards::magic_decline(number).is_some(),
                "{number}"
            );
        }
        for number in FAULT_CARDS {
            assert!(
                sanalpos_simulator::cards::fault(number).is_some(),
                "{number}"
            );
        }
    }
}
