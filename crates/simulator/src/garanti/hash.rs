//! The simulated bank's own hash code (independent of the gateway crate's), pinned by
//! vectors/garanti.json: `SecurityData`, the request `HashData` in both generations,
//! the 3D form's `secure3dhash` and the callback `hash` it signs.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use sha1::Sha1;
use sha2::{Digest, Sha512};
use subtle::ConstantTimeEq;

/// Whether a `Version` / `apiversion` is the SHA-512 generation (`512`); anything else
/// is judged as the legacy SHA-1 one.
pub fn is_512(version: &str) -> bool {
    version.trim() == "512"
}

fn hex_upper(bytes: &[u8]) -> String {
    hex::encode_upper(bytes)
}

/// Upper-hex SHA-1 of the password and the terminal id padded to nine digits.
pub fn security_data(password: &str, terminal_id: &str) -> String {
    let mut h = Sha1::new();
    h.update(password.as_bytes());
    h.update(format!("{terminal_id:0>9}").as_bytes());
    hex_upper(&h.finalize())
}

/// The `HashData` a request of this generation must carry.
pub fn request_hash(version_512: bool, parts: [&str; 5], security: &str) -> String {
    let [order_id, terminal_id, card, amount, currency] = parts;
    if version_512 {
        let mut h = Sha512::new();
        for p in [order_id, terminal_id, card, amount, currency, security] {
            h.update(p.as_bytes());
        }
        hex_upper(&h.finalize())
    } else {
        let mut h = Sha1::new();
        for p in [order_id, terminal_id, card, amount, security] {
            h.update(p.as_bytes());
        }
        hex_upper(&h.finalize())
    }
}

/// The `secure3dhash` a 3D form of this generation must carry: `parts` are terminal
/// id, order id, amount, currency, success url, error url, type, installments.
pub fn form_hash(version_512: bool, parts: [&str; 8], store_key: &str, security: &str) -> String {
    let [terminal, order, amount, currency, ok, fail, kind, installments] = parts;
    if version_512 {
        let mut h = Sha512::new();
        for p in [
            terminal,
            order,
            amount,
            currency,
            ok,
            fail,
            kind,
            installments,
            store_key,
            security,
        ] {
            h.update(p.as_bytes());
        }
        hex_upper(&h.finalize())
    } else {
        let mut h = Sha1::new();
        for p in [
            terminal,
            order,
            amount,
            ok,
            fail,
            kind,
            installments,
            store_key,
            security,
        ] {
            h.update(p.as_bytes());
        }
        hex_upper(&h.finalize())
    }
}

/// The callback `hash` over `values` (the `hashparams` fields in order) and the key.
pub fn callback_hash(version_512: bool, values: &[&str], store_key: &str) -> String {
    let joined: String = values.concat() + store_key;
    if version_512 {
        hex_upper(&Sha512::digest(joined.as_bytes()))
    } else {
        STANDARD.encode(Sha1::digest(joined.as_bytes()))
    }
}

/// Constant-time equality of a given hash with the expected one (hex compared without
/// regard to case).
pub fn same(expected: &str, given: &str) -> bool {
    let given = given.trim();
    if given.is_empty() {
        return false;
    }
    bool::from(
        expected
            .to_ascii_uppercase()
            .as_bytes()
            .ct_eq(given.to_ascii_uppercase().as_bytes()),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    fn vectors() -> Value {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../vectors/garanti.json");
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
    }

    fn s<'a>(v: &'a Value, name: &str) -> &'a str {
        v[name].as_str().unwrap()
    }

    #[test]
    fn every_vector_reproduces_independently() {
        let v = vectors();
        let security = security_data("123qweASD/", "30691298");
        assert_eq!(security, s(&v["security_data"][0], "security_data"));
        for e in v["hash_data"].as_array().unwrap() {
            let i = &e["inputs"];
            let parts = [
                s(i, "OrderID"),
                s(i, "Terminal.ID"),
                s(i, "Card.Number"),
                s(i, "Transaction.Amount"),
                s(i, "Transaction.CurrencyCode"),
            ];
            assert_eq!(
                request_hash(true, parts, &security),
                s(e, "hash"),
                "{}",
                s(e, "what")
            );
        }
        for (generation, list) in [
            (true, &v["form_hash"]),
            (false, &v["legacy_v001"]["form_hash"]),
        ] {
            for e in list.as_array().unwrap() {
                let f = &e["fields"];
                let parts = [
                    s(f, "terminalid"),
                    s(f, "orderid"),
                    s(f, "txnamount"),
                    s(f, "txncurrencycode"),
                    s(f, "successurl"),
                    s(f, "errorurl"),
                    s(f, "txntype"),
                    s(f, "txninstallmentcount"),
                ];
                assert_eq!(
                    form_hash(generation, parts, "12345678", &security),
                    s(e, "secure3dhash")
                );
            }
        }
        for (generation, list) in [
            (true, &v["callback_hash"]),
            (false, &v["legacy_v001"]["callback_hash"]),
        ] {
            for e in list.as_array().unwrap() {
                let f = &e["fields"];
                let values: Vec<&str> = s(e, "hashparams")
                    .split(':')
                    .filter(|p| !p.is_empty())
                    .map(|p| f[p].as_str().unwrap_or_default())
                    .collect();
                assert_eq!(callback_hash(generation, &values, "12345678"), s(e, "hash"));
            }
        }
        let legacy = &v["legacy_v001"]["hash_data"][0];
        assert_eq!(
            request_hash(
                false,
                ["order222", "30691298", "5555444433332222", "10025", "949"],
                &security
            ),
            s(legacy, "hash")
        );
        assert!(same("ABC", "abc") && !same("ABC", "") && !same("ABC", "ABD"));
    }
}
