//! The N Kolay card vault ("Kart Saklama") of one merchant: the cards its customers
//! asked the provider to keep, by the merchant's customer key.
//!
//! Like a real vault it keeps the card number, expiry, holder name and the customer's
//! alias (never the CVV), in memory only, and hands out a random token and transaction
//! id per card. Both are bound to the merchant (each merchant has its own vault) and to
//! the customer: looking a card up always names the customer, so another customer's or
//! another merchant's token finds nothing. Nothing here is ever logged; the `Debug`
//! output shows the masked number only.

use std::collections::HashMap;
use std::fmt;

use rand::Rng;
use sanalpos_core::MaskedPan;

use crate::cards;

/// One stored card.
#[derive(Clone)]
pub struct VaultCard {
    /// The vault's token (`Token`, `csToken`).
    pub token: String,
    /// The vault's transaction id (`TranId`, `csTranId`).
    pub tran_id: String,
    pan: String,
    /// Expiry as `(year, month)`.
    pub expiry: (u16, u8),
    /// The name on the card (may be empty).
    pub holder: String,
    /// The customer's name for the card (may be empty).
    pub alias: String,
}

impl VaultCard {
    /// The card number: only for charging the card, never for a log or an answer.
    pub fn pan(&self) -> &str {
        &self.pan
    }

    /// First six and last four digits.
    pub fn masked(&self) -> MaskedPan {
        mask(&self.pan)
    }

    /// The card scheme, from the first digit (`VISA`, `MASTERCARD`, `AMEX`, `TROY`).
    pub fn brand(&self) -> &'static str {
        match self.pan.as_bytes().first() {
            Some(b'4') => "VISA",
            Some(b'5') | Some(b'2') => "MASTERCARD",
            Some(b'3') => "AMEX",
            Some(b'9') => "TROY",
            _ => "",
        }
    }

    /// The issuing bank's name, when the BIN table knows the card.
    pub fn issuer(&self) -> String {
        cards::bin_info(&self.pan)
            .map(|b| b.bank_name.to_owned())
            .unwrap_or_default()
    }
}

impl fmt::Debug for VaultCard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VaultCard")
            .field("token", &self.token)
            .field("tran_id", &self.tran_id)
            .field("masked_pan", &self.masked())
            .finish_non_exhaustive()
    }
}

/// First six and last four digits of a 12 to 19 digit number, the rest `*`.
pub fn mask(pan: &str) -> MaskedPan {
    let len = pan.len();
    let text = format!("{}{}{}", &pan[..6], "*".repeat(len - 10), &pan[len - 4..]);
    MaskedPan::parse(&text).expect("12+ digits masked as first6 + stars + last4")
}

/// A card to keep: what the register call or a 3D sale with `csAutoSave` brings.
#[derive(Clone)]
pub struct NewCard {
    /// The card number, 12 to 19 digits.
    pub pan: String,
    /// Expiry as `(year, month)`.
    pub expiry: (u16, u8),
    /// The name on the card.
    pub holder: String,
    /// The customer's name for the card.
    pub alias: String,
}

impl fmt::Debug for NewCard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NewCard")
            .field("masked_pan", &mask(&self.pan))
            .finish_non_exhaustive()
    }
}

/// How a request names a stored card.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CardId {
    /// By `TranId`.
    TranId(String),
    /// By `Token`.
    Token(String),
}

/// One merchant's vault: customer key → that customer's cards, in the order stored.
#[derive(Debug, Default)]
pub struct Vault {
    customers: HashMap<String, Vec<VaultCard>>,
}

impl Vault {
    /// Keeps `card` for `customer_key` and returns it with its token and transaction id.
    /// A card number the customer has already stored is not stored twice (a retried
    /// registration after a lost answer must not make a second card): the card kept
    /// takes the new expiry and holder name (a renewed card keeps its number), and keeps
    /// its token, transaction id and alias.
    pub fn store(&mut self, customer_key: &str, card: NewCard) -> VaultCard {
        let cards = self.customers.entry(customer_key.to_owned()).or_default();
        if let Some(existing) = cards.iter_mut().find(|c| c.pan == card.pan) {
            existing.expiry = card.expiry;
            existing.holder = card.holder;
            return existing.clone();
        }
        let stored = VaultCard {
            token: random_token(),
            tran_id: random_tran_id(),
            pan: card.pan,
            expiry: card.expiry,
            holder: card.holder,
            alias: card.alias,
        };
        cards.push(stored.clone());
        stored
    }

    /// The cards of `customer_key`, in the order stored.
    pub fn cards(&self, customer_key: &str) -> &[VaultCard] {
        self.customers
            .get(customer_key)
            .map(Vec::as_slice)
            .unwrap_or(&[])
    }

    /// The card of `customer_key` named by `id`; another customer's card is not found.
    pub fn find(&self, customer_key: &str, id: &CardId) -> Option<&VaultCard> {
        self.cards(customer_key).iter().find(|c| match id {
            CardId::TranId(t) => &c.tran_id == t,
            CardId::Token(t) => &c.token == t,
        })
    }

    /// Removes the card of `customer_key` whose transaction id and token match (an empty
    /// one of the two matches any); returns its transaction id, or `None` when the
    /// customer has no such card.
    pub fn delete(&mut self, customer_key: &str, tran_id: &str, token: &str) -> Option<String> {
        let cards = self.customers.get_mut(customer_key)?;
        let at = cards.iter().position(|c| {
            (tran_id.is_empty() || c.tran_id == tran_id) && (token.is_empty() || c.token == token)
        })?;
        Some(cards.remove(at).tran_id)
    }
}

fn random_token() -> String {
    let mut bytes = [0u8; 16];
    rand::rng().fill(&mut bytes);
    hex::encode_upper(bytes)
}

fn random_tran_id() -> String {
    let mut rng = rand::rng();
    (0..16)
        .map(|_| char::from(b'0' + rng.random_range(0..10u8)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn new_card(pan: &str) -> NewCard {
        NewCard {
            pan: pan.into(),
            expiry: (2030, 12),
            holder: "Test Kart".into(),
            alias: "a".into(),
        }
    }

    #[test]
    fn cards_are_bound_to_their_customer() {
        let mut vault = Vault::default();
        let card = vault.store("c1", new_card("4546711234567894"));
        assert_eq!(card.token.len(), 32);
        assert_eq!(card.tran_id.len(), 16);
        assert!(vault
            .find("c1", &CardId::Token(card.token.clone()))
            .is_some());
        assert!(vault
            .find("c2", &CardId::Token(card.token.clone()))
            .is_none());
        assert!(vault
            .find("c1", &CardId::TranId(card.tran_id.clone()))
            .is_some());
        let renewed = NewCard {
            expiry: (2032, 1),
            alias: "b".into(),
            ..new_card("4546711234567894")
        };
        let again = vault.store("c1", renewed);
        assert_eq!(again.token, card.token);
        assert_eq!(again.tran_id, card.tran_id);
        assert_eq!(again.expiry, (2032, 1));
        assert_eq!(again.alias, "a");
        assert_eq!(vault.cards("c1").len(), 1);
        assert_eq!(vault.delete("c2", &card.tran_id, &card.token), None);
        assert_eq!(
            vault.delete("c1", &card.tran_id, &card.token),
            Some(card.tran_id.clone())
        );
        assert!(vault.cards("c1").is_empty());
    }

    #[test]
    fn debug_never_shows_the_number() {
        let mut vault = Vault::default();
        let card = vault.store("c1", new_card("4546711234567894"));
        let text = format!("{card:?} {vault:?} {:?}", new_card("4546711234567894"));
        assert!(!text.contains("4546711234567894"));
        assert!(text.contains("454671******7894"));
    }
}
