//! NestPay's 3D hashes: ver3 (SHA-512 over every field in natural order) and the legacy
//! SHA-1 scheme.
//!
//! ver3 covers every posted field except `hash`, `encoding` and `NATIONALIDNO` (names
//! compared case-insensitively), sorted by name the way PHP's
//! `ksort(SORT_NATURAL | SORT_FLAG_CASE)` sorts, each value escaped (`\` → `\\`, then
//! `|` → `\|`), joined with `|`, then `|` and the escaped store key; the hash is
//! Base64(SHA-512). The same procedure signs the form we send and verifies the bank's
//! callback.

use std::cmp::Ordering;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use sha2::{Digest, Sha512};
use subtle::ConstantTimeEq;

use super::sha1;

/// Field names left out of the ver3 hash (compared case-insensitively).
pub const NOT_HASHED: [&str; 3] = ["hash", "encoding", "NATIONALIDNO"];

/// The legacy request hash's fields, in order (the store key follows).
pub const LEGACY_REQUEST_FIELDS: [&str; 8] = [
    "clientid",
    "oid",
    "amount",
    "okUrl",
    "failUrl",
    "islemtipi",
    "taksit",
    "rnd",
];

/// Why a callback's hash was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    /// No `HASH` (or `hash`) field, or an empty one.
    #[error("the callback carries no HASH")]
    Missing,
    /// The hash does not match the fields and the store key.
    #[error("HASH does not match the fields and the store key")]
    Mismatch,
}

/// Compares two field names as PHP's `strnatcasecmp` does: ASCII letters upper-cased
/// (so `_` sorts after the letters), a run of digits compared as one number (`TRX2` <
/// `TRX10`), a run that starts with `0` compared digit by digit from the left, and
/// white space skipped.
pub fn natural_cmp(a: &str, b: &str) -> Ordering {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let (mut i, mut j) = (0, 0);
    loop {
        while a.get(i).is_some_and(|c| is_space(*c)) {
            i += 1;
        }
        while b.get(j).is_some_and(|c| is_space(*c)) {
            j += 1;
        }
        let (ca, cb) = match (a.get(i), b.get(j)) {
            (None, None) => return Ordering::Equal,
            (None, Some(_)) => return Ordering::Less,
            (Some(_), None) => return Ordering::Greater,
            (Some(ca), Some(cb)) => (*ca, *cb),
        };
        if ca.is_ascii_digit() && cb.is_ascii_digit() {
            let ra = digit_run(a, i);
            let rb = digit_run(b, j);
            let order = if ca == b'0' || cb == b'0' {
                compare_left(ra, rb)
            } else {
                compare_right(ra, rb)
            };
            if order != Ordering::Equal {
                return order;
            }
            i += ra.len();
            j += rb.len();
            continue;
        }
        let (ua, ub) = (ca.to_ascii_uppercase(), cb.to_ascii_uppercase());
        if ua != ub {
            return ua.cmp(&ub);
        }
        i += 1;
        j += 1;
    }
}

/// C's `isspace` in the "C" locale.
fn is_space(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\n' | 0x0B | 0x0C | b'\r')
}

fn digit_run(text: &[u8], start: usize) -> &[u8] {
    let len = text[start..]
        .iter()
        .take_while(|c| c.is_ascii_digit())
        .count();
    &text[start..start + len]
}

/// Two runs without a leading zero: the longer is the larger number; of equal length,
/// the first differing digit decides.
fn compare_right(a: &[u8], b: &[u8]) -> Ordering {
    a.len().cmp(&b.len()).then_with(|| a.cmp(b))
}

/// A run with a leading zero is a fraction: digit by digit from the left, and a run that
/// ends first is the smaller.
fn compare_left(a: &[u8], b: &[u8]) -> Ordering {
    a.cmp(b)
}

/// Whether a field takes part in the ver3 hash.
pub fn is_hashed(name: &str) -> bool {
    !NOT_HASHED.iter().any(|n| n.eq_ignore_ascii_case(name))
}

/// `\` → `\\`, then `|` → `\|`.
pub fn escape(value: &str) -> String {
    value.replace('\\', "\\\\").replace('|', "\\|")
}

/// The hashed fields' values in hash order (stable: fields that compare equal keep the
/// order they came in, as PHP 8's sort does).
fn ordered_values<K: AsRef<str>, V: AsRef<str>>(fields: &[(K, V)]) -> Vec<(&str, &str)> {
    let mut hashed: Vec<(&str, &str)> = fields
        .iter()
        .map(|(k, v)| (k.as_ref(), v.as_ref()))
        .filter(|(k, _)| is_hashed(k))
        .collect();
    hashed.sort_by(|x, y| natural_cmp(x.0, y.0));
    hashed
}

/// The field names in ver3 hash order: what a merchant compares when the bank says
/// "hash mismatch".
pub fn ver3_order<K: AsRef<str>, V: AsRef<str>>(fields: &[(K, V)]) -> Vec<String> {
    ordered_values(fields)
        .into_iter()
        .map(|(k, _)| k.to_owned())
        .collect()
}

fn joined_values<K: AsRef<str>, V: AsRef<str>>(fields: &[(K, V)]) -> String {
    ordered_values(fields)
        .into_iter()
        .map(|(_, v)| escape(v))
        .collect::<Vec<_>>()
        .join("|")
}

/// The exact text hashed (it contains the store key: never log it).
pub(crate) fn ver3_preimage<K: AsRef<str>, V: AsRef<str>>(
    fields: &[(K, V)],
    store_key: &str,
) -> String {
    format!("{}|{}", joined_values(fields), escape(store_key))
}

/// The ver3 plaintext with the store key shown as `***`: safe to print.
pub fn ver3_plaintext_masked<K: AsRef<str>, V: AsRef<str>>(fields: &[(K, V)]) -> String {
    format!("{}|***", joined_values(fields))
}

/// The ver3 hash of form or callback fields: Base64(SHA-512(plaintext)), 88 characters.
pub fn hash_ver3<K: AsRef<str>, V: AsRef<str>>(fields: &[(K, V)], store_key: &str) -> String {
    let digest = Sha512::digest(ver3_preimage(fields, store_key).as_bytes());
    STANDARD.encode(digest)
}

/// Compares two hashes in constant time (with respect to their content).
pub fn hashes_equal(expected: &str, given: &str) -> bool {
    expected.as_bytes().ct_eq(given.as_bytes()).into()
}

/// The callback's hash: the first field named `HASH` or `hash` (any case), non-empty.
pub fn given_hash<K: AsRef<str>, V: AsRef<str>>(fields: &[(K, V)]) -> Option<&str> {
    fields
        .iter()
        .find(|(k, _)| k.as_ref().eq_ignore_ascii_case("hash"))
        .map(|(_, v)| v.as_ref())
        .filter(|v| !v.is_empty())
}

/// Verifies a ver3 callback: its `HASH` must equal the hash of its other fields.
pub fn verify_ver3<K: AsRef<str>, V: AsRef<str>>(
    fields: &[(K, V)],
    store_key: &str,
) -> Result<(), SignatureError> {
    let given = given_hash(fields).ok_or(SignatureError::Missing)?;
    if hashes_equal(&hash_ver3(fields, store_key), given) {
        Ok(())
    } else {
        Err(SignatureError::Mismatch)
    }
}

fn value_of<'a, K: AsRef<str>, V: AsRef<str>>(fields: &'a [(K, V)], name: &str) -> &'a str {
    fields
        .iter()
        .find(|(k, _)| k.as_ref() == name)
        .map_or("", |(_, v)| v.as_ref())
}

fn sha1_base64(text: &str) -> String {
    STANDARD.encode(sha1::digest(text.as_bytes()))
}

/// The legacy request hash: Base64(SHA-1(clientid oid amount okUrl failUrl islemtipi
/// taksit rnd storeKey)), concatenated without separator; absent fields are empty.
pub fn legacy_request_hash<K: AsRef<str>, V: AsRef<str>>(
    fields: &[(K, V)],
    store_key: &str,
) -> String {
    let mut text: String = LEGACY_REQUEST_FIELDS
        .iter()
        .map(|name| value_of(fields, name))
        .collect();
    text.push_str(store_key);
    sha1_base64(&text)
}

/// The field names a legacy callback's `HASHPARAMS` lists (colon-separated).
pub fn legacy_hash_params<K: AsRef<str>, V: AsRef<str>>(fields: &[(K, V)]) -> Vec<&str> {
    value_of(fields, "HASHPARAMS")
        .split(':')
        .filter(|p| !p.is_empty())
        .collect()
}

/// The values of the `HASHPARAMS` fields, concatenated (what `HASHPARAMSVAL` repeats).
pub fn legacy_callback_values<K: AsRef<str>, V: AsRef<str>>(fields: &[(K, V)]) -> String {
    legacy_hash_params(fields)
        .into_iter()
        .map(|name| value_of(fields, name))
        .collect()
}

/// Verifies a legacy callback: Base64(SHA-1(the `HASHPARAMS` fields' values, then the
/// store key)) must equal `HASH`, and `HASHPARAMSVAL`, when present, must repeat the
/// values exactly.
pub fn verify_legacy_callback<K: AsRef<str>, V: AsRef<str>>(
    fields: &[(K, V)],
    store_key: &str,
) -> Result<(), SignatureError> {
    let given = given_hash(fields).ok_or(SignatureError::Missing)?;
    if legacy_hash_params(fields).is_empty() {
        return Err(SignatureError::Missing);
    }
    let values = legacy_callback_values(fields);
    let hash = sha1_base64(&format!("{values}{store_key}"));
    let listed_ok = fields
        .iter()
        .find(|(k, _)| k.as_ref() == "HASHPARAMSVAL")
        .is_none_or(|(_, v)| v.as_ref() == values);
    if hashes_equal(&hash, given) && listed_ok {
        Ok(())
    } else {
        Err(SignatureError::Mismatch)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    fn vectors() -> Value {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../vectors/nestpay.json");
        let text = std::fs::read_to_string(path).expect("vectors/nestpay.json in the repository");
        serde_json::from_str(&text).expect("vector file parses")
    }

    fn pairs(fields: &Value) -> Vec<(String, String)> {
        fields
            .as_object()
            .expect("fields object")
            .iter()
            .map(|(k, v)| (k.clone(), v.as_str().expect("string value").to_owned()))
            .collect()
    }

    #[test]
    fn every_ver3_vector_reproduces() {
        let v = vectors();
        let key = v["store_key"].as_str().unwrap();
        let list = v["vectors"].as_array().unwrap();
        assert!(!list.is_empty());
        for vector in list {
            let fields = pairs(&vector["fields"]);
            assert_eq!(
                ver3_preimage(&fields, key),
                vector["preimage"].as_str().unwrap(),
                "{}",
                vector["what"]
            );
            let hash = hash_ver3(&fields, key);
            assert_eq!(hash, vector["hash"].as_str().unwrap(), "{}", vector["what"]);
            assert_eq!(hash.len(), 88);
            // As a callback: the hash verifies, with any key case, and not with another key.
            let mut signed = fields.clone();
            signed.push(("HASH".into(), hash.clone()));
            assert_eq!(verify_ver3(&signed, key), Ok(()));
            assert_eq!(
                verify_ver3(&signed, "654321"),
                Err(SignatureError::Mismatch)
            );
            let masked = ver3_plaintext_masked(&fields);
            assert!(masked.ends_with("|***"));
            assert!(!masked.contains(key));
        }
    }

    #[test]
    fn excluded_vectors_do_not_reproduce() {
        let v = vectors();
        let key = v["store_key"].as_str().unwrap();
        for entry in v["excluded"].as_array().unwrap() {
            let fields = pairs(&entry["fields"]);
            let hash = hash_ver3(&fields, key);
            assert_ne!(hash, entry["hash_in_test"].as_str().unwrap());
            if let Some(recomputed) = entry["recomputed"].as_str() {
                // The file says what the listed inputs really hash to.
                assert_eq!(hash, recomputed);
                // And the recorded hash needs the field the test data forgot.
                let mut with_card_type = fields.clone();
                with_card_type.push(("cardType".into(), "1".into()));
                assert_eq!(
                    hash_ver3(&with_card_type, key),
                    entry["hash_in_test"].as_str().unwrap()
                );
            }
        }
    }

    #[test]
    fn every_legacy_vector_reproduces() {
        let v = vectors();
        for vector in v["legacy_ver1"]["vectors"].as_array().unwrap() {
            let fields = pairs(&vector["fields"]);
            let key = vector["store_key"].as_str().unwrap();
            let expected = vector["hash"].as_str().unwrap();
            if vector.get("hashparams").is_some() {
                assert_eq!(
                    format!("{}{key}", legacy_callback_values(&fields)),
                    vector["preimage"].as_str().unwrap()
                );
                assert_eq!(verify_legacy_callback(&fields, key), Ok(()));
                assert_eq!(
                    verify_legacy_callback(&fields, "other"),
                    Err(SignatureError::Mismatch)
                );
                // Blanking mdStatus breaks it (as the source test asserts).
                let blanked: Vec<(String, String)> = fields
                    .iter()
                    .map(|(k, v)| {
                        if k == "mdStatus" {
                            (k.clone(), String::new())
                        } else {
                            (k.clone(), v.clone())
                        }
                    })
                    .collect();
                assert_eq!(
                    verify_legacy_callback(&blanked, key),
                    Err(SignatureError::Mismatch)
                );
            } else {
                assert_eq!(legacy_request_hash(&fields, key), expected);
            }
        }
    }

    #[test]
    fn natural_order_edge_cases() {
        use Ordering::*;
        assert_eq!(natural_cmp("TRX2", "TRX10"), Less);
        assert_eq!(natural_cmp("TRX10", "TRX2"), Greater);
        assert_eq!(natural_cmp("a_b", "aB"), Greater);
        assert_eq!(natural_cmp("currency", "Email"), Less);
        assert_eq!(natural_cmp("Email", "failUrl"), Less);
        assert_eq!(natural_cmp("EMAIL", "email"), Equal);
        assert_eq!(natural_cmp("x 1", "x1"), Equal);
        assert_eq!(natural_cmp("a", "ab"), Less);
        // Runs with a leading zero compare from the left, as fractions.
        assert_eq!(natural_cmp("x01", "x1"), Less);
        assert_eq!(natural_cmp("x012", "x09"), Less);
        assert_eq!(natural_cmp("x09", "x1"), Less);
        // Ecom_Payment_Card_ExpDate_Month < Ecom_Payment_Card_ExpDate_Year; _ after letters.
        assert_eq!(natural_cmp("Ecom_X", "EcomX"), Greater);
        assert_eq!(natural_cmp("clientid", "clientIp"), Less);
    }

    #[test]
    fn escaping_backslash_first() {
        assert_eq!(escape(r"a|b\c"), r"a\|b\\c");
        assert_eq!(escape(r"\|"), r"\\\|");
        let fields = [("oid", "a|b"), ("amount", r"1\2")];
        assert_eq!(ver3_preimage(&fields, "k|y"), r"1\\2|a\|b|k\|y");
    }

    #[test]
    fn hash_encoding_and_national_id_are_not_hashed() {
        let base = [("oid", "1"), ("amount", "2")];
        let more = [
            ("oid", "1"),
            ("amount", "2"),
            ("HASH", "x"),
            ("Encoding", "ISO-8859-9"),
            ("nationalidno", "11111111111"),
        ];
        assert_eq!(hash_ver3(&base, "k"), hash_ver3(&more, "k"));
        let missing: [(&str, &str); 1] = [("oid", "1")];
        assert_eq!(verify_ver3(&missing, "k"), Err(SignatureError::Missing));
    }
}
