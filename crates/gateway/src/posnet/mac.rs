//! The PosNet MACs: every one is Base64(SHA-256) of `;`-joined values ending with the
//! merchant's `firstHash`, itself Base64(SHA-256(ENCKEY `;` tid)).
//!
//! The request MAC (of `oosResolveMerchantData` and `oosTranData`) binds the XID, the
//! amount in kuruş, the currency letters and the merchant number; the MAC of an
//! `oosResolveMerchantDataResponse` adds the `mdStatus` in front, so the bank's verdict on
//! the authentication cannot be altered on its way. Pinned by vectors/posnet.json.

use base64::Engine as _;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

fn digest(text: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(Sha256::digest(text.as_bytes()))
}

/// `firstHash` = Base64(SHA-256(ENCKEY `;` tid)).
pub fn first_hash(enc_key: &str, terminal_id: &str) -> String {
    digest(&format!("{enc_key};{terminal_id}"))
}

/// The MAC of `oosResolveMerchantData` and `oosTranData`:
/// Base64(SHA-256(XID `;` amount `;` currency `;` mid `;` firstHash)).
pub fn request_mac(xid: &str, amount: &str, currency: &str, mid: &str, first_hash: &str) -> String {
    digest(&format!("{xid};{amount};{currency};{mid};{first_hash}"))
}

/// The MAC of an `oosResolveMerchantDataResponse`:
/// Base64(SHA-256(mdStatus `;` xid `;` amount `;` currency `;` mid `;` firstHash)).
pub fn answer_mac(
    md_status: &str,
    xid: &str,
    amount: &str,
    currency: &str,
    mid: &str,
    first_hash: &str,
) -> String {
    digest(&format!(
        "{md_status};{xid};{amount};{currency};{mid};{first_hash}"
    ))
}

/// Whether a received MAC is the expected one, compared in constant time.
pub fn same(expected: &str, given: &str) -> bool {
    expected.len() == given.len() && bool::from(expected.as_bytes().ct_eq(given.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_spec_examples() {
        let fh = first_hash("10,10,10,10,10,10,10,10", "67005551");
        assert_eq!(fh, "c1PPl+2UcdixyhgLYnf4VfJyFGaNQNOwE0uMkci7Uag=");
        assert_eq!(
            request_mac("TST_190620093100_024", "175", "TL", "6706598320", &fh),
            "nyeFSQ4J9NZVeCcEGCDomM8e2YIvoeIa/IDh2D3qaL4="
        );
        assert!(same("abc", "abc") && !same("abc", "abd") && !same("abc", "ab"));
    }
}
