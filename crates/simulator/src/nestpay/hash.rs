//! NestPay's 3D hashes: ver3 (SHA-512 over every posted field in natural
//! case-insensitive name order) and the legacy SHA-1 scheme.
//!
//! Written here, not borrowed from the gateway crate, so that the client and the
//! simulator are two independent implementations held together only by the golden
//! vectors in `vectors/nestpay.json` (tested below).

use std::cmp::Ordering;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use sha1::Sha1;
use sha2::{Digest, Sha512};
use subtle::ConstantTimeEq;

/// Whether a posted field takes part in the ver3 hash: every field except `hash`,
/// `encoding` and `NATIONALIDNO`, names compared case-insensitively (so `HASH` too).
pub fn is_hashed(name: &str) -> bool {
    !["hash", "encoding", "nationalidno"]
        .iter()
        .any(|skip| name.eq_ignore_ascii_case(skip))
}

/// `\` → `\\`, then `|` → `\|`.
pub fn escape(value: &str) -> String {
    value.replace('\\', "\\\\").replace('|', "\\|")
}

/// PHP's `strnatcasecmp`: ASCII letters compared upper-cased, a run of digits compared
/// as a number (a run starting with `0` digit by digit from the left), leading zeros
/// and whitespace skipped as PHP does.
pub fn natural_cmp(a: &str, b: &str) -> Ordering {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.is_empty() || b.is_empty() {
        return a.len().cmp(&b.len());
    }
    let (mut i, mut j) = (0usize, 0usize);
    let at = |s: &[u8], k: usize| s.get(k).copied().unwrap_or(0);
    let mut leading = true;
    loop {
        if leading {
            while at(a, i) == b'0' && at(a, i + 1).is_ascii_digit() {
                i += 1;
            }
            while at(b, j) == b'0' && at(b, j + 1).is_ascii_digit() {
                j += 1;
            }
            leading = false;
        }
        while at(a, i).is_ascii_whitespace() {
            i += 1;
        }
        while at(b, j).is_ascii_whitespace() {
            j += 1;
        }
        let (ca, cb) = (at(a, i), at(b, j));
        if ca.is_ascii_digit() && cb.is_ascii_digit() {
            let fractional = ca == b'0' || cb == b'0';
            let result = if fractional {
                compare_left(a, &mut i, b, &mut j)
            } else {
                compare_right(a, &mut i, b, &mut j)
            };
            if result != Ordering::Equal {
                return result;
            }
            match (i >= a.len(), j >= b.len()) {
                (true, true) => return Ordering::Equal,
                (true, false) => return Ordering::Less,
                (false, true) => return Ordering::Greater,
                _ => {}
            }
        }
        let (ca, cb) = (at(a, i).to_ascii_uppercase(), at(b, j).to_ascii_uppercase());
        match ca.cmp(&cb) {
            Ordering::Equal => {}
            other => return other,
        }
        i += 1;
        j += 1;
        match (i >= a.len(), j >= b.len()) {
            (true, true) => return Ordering::Equal,
            (true, false) => return Ordering::Less,
            (false, true) => return Ordering::Greater,
            _ => {}
        }
    }
}

fn digit_at(s: &[u8], k: usize) -> Option<u8> {
    s.get(k).copied().filter(u8::is_ascii_digit)
}

/// Two digit runs without leading zero: the longer is larger, else the first
/// difference decides.
fn compare_right(a: &[u8], i: &mut usize, b: &[u8], j: &mut usize) -> Ordering {
    let mut bias = Ordering::Equal;
    loop {
        match (digit_at(a, *i), digit_at(b, *j)) {
            (None, None) => return bias,
            (None, Some(_)) => return Ordering::Less,
            (Some(_), None) => return Ordering::Greater,
            (Some(x), Some(y)) => {
                if bias == Ordering::Equal {
                    bias = x.cmp(&y);
                }
            }
        }
        *i += 1;
        *j += 1;
    }
}

/// Two digit runs of which one starts with `0`: compared digit by digit.
fn compare_left(a: &[u8], i: &mut usize, b: &[u8], j: &mut usize) -> Ordering {
    loop {
        match (digit_at(a, *i), digit_at(b, *j)) {
            (None, None) => return Ordering::Equal,
            (None, Some(_)) => return Ordering::Less,
            (Some(_), None) => return Ordering::Greater,
            (Some(x), Some(y)) if x != y => return x.cmp(&y),
            _ => {}
        }
        *i += 1;
        *j += 1;
    }
}

/// The ver3 preimage of `fields`: hashed fields sorted naturally by name, values
/// escaped and joined with `|`, then `|` and the escaped store key. When a name is
/// posted twice the last value wins, as in PHP's `$_POST`.
pub fn ver3_preimage<K: AsRef<str>, V: AsRef<str>>(fields: &[(K, V)], store_key: &str) -> String {
    let mut kept: Vec<(&str, &str)> = Vec::with_capacity(fields.len());
    for (name, value) in fields {
        let (name, value) = (name.as_ref(), value.as_ref());
        if !is_hashed(name) {
            continue;
        }
        match kept.iter_mut().find(|(n, _)| *n == name) {
            Some(slot) => slot.1 = value,
            None => kept.push((name, value)),
        }
    }
    kept.sort_by(|x, y| natural_cmp(x.0, y.0));
    let mut out = String::new();
    for (_, value) in kept {
        out.push_str(&escape(value));
        out.push('|');
    }
    out.push_str(&escape(store_key));
    out
}

/// `Base64(SHA-512(preimage))`: 88 characters.
pub fn ver3_hash<K: AsRef<str>, V: AsRef<str>>(fields: &[(K, V)], store_key: &str) -> String {
    STANDARD.encode(Sha512::digest(ver3_preimage(fields, store_key).as_bytes()))
}

/// Whether `given` is the ver3 hash of `fields`, compared in constant time.
pub fn verify_ver3<K: AsRef<str>, V: AsRef<str>>(
    fields: &[(K, V)],
    store_key: &str,
    given: &str,
) -> bool {
    bool::from(
        ver3_hash(fields, store_key)
            .as_bytes()
            .ct_eq(given.as_bytes()),
    )
}

/// The legacy hash: `Base64(SHA-1(v1 v2 … vn storeKey))`, concatenated without a
/// separator. The request form hashes `clientid oid amount okUrl failUrl islemtipi
/// taksit rnd`; a callback the fields its `HASHPARAMS` names.
pub fn legacy_hash<S: AsRef<str>>(values: &[S], store_key: &str) -> String {
    let mut hasher = Sha1::new();
    for value in values {
        hasher.update(value.as_ref().as_bytes());
    }
    hasher.update(store_key.as_bytes());
    STANDARD.encode(hasher.finalize())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    fn vectors() -> Value {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../vectors/nestpay.json");
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
    }

    fn pairs(fields: &Value) -> Vec<(String, String)> {
        fields
            .as_object()
            .unwrap()
            .iter()
            .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_owned()))
            .collect()
    }

    #[test]
    fn ver3_golden_vectors() {
        let v = vectors();
        let key = v["store_key"].as_str().unwrap();
        let list = v["vectors"].as_array().unwrap();
        assert!(list.len() >= 4);
        for vector in list {
            let fields = pairs(&vector["fields"]);
            assert_eq!(
                ver3_preimage(&fields, key),
                vector["preimage"].as_str().unwrap()
            );
            let hash = vector["hash"].as_str().unwrap();
            assert_eq!(ver3_hash(&fields, key), hash);
            assert!(verify_ver3(&fields, key, hash));
            // The hash field itself, in any case, never takes part.
            let mut with_hash = fields.clone();
            with_hash.push(("HASH".into(), hash.into()));
            with_hash.push(("encoding".into(), "ISO-8859-9".into()));
            assert!(verify_ver3(&with_hash, key, hash));
            let mut tampered = fields.clone();
            tampered[0].1.push('0');
            assert!(!verify_ver3(&tampered, key, hash));
        }
        // The excluded entry documents a hash that must NOT reproduce.
        let excluded = &v["excluded"][0];
        assert_ne!(
            ver3_hash(&pairs(&excluded["fields"]), key),
            excluded["hash_in_test"].as_str().unwrap()
        );
        assert_eq!(
            ver3_hash(&pairs(&excluded["fields"]), key),
            excluded["recomputed"].as_str().unwrap()
        );
    }

    #[test]
    fn legacy_golden_vectors() {
        let v = vectors();
        let list = v["legacy_ver1"]["vectors"].as_array().unwrap();
        assert_eq!(list.len(), 4);
        for vector in list {
            let key = vector["store_key"].as_str().unwrap();
            let names: Vec<String> = match vector.get("order") {
                Some(order) => order
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|n| n.as_str().unwrap().to_owned())
                    .collect(),
                None => vector["hashparams"]
                    .as_str()
                    .unwrap()
                    .split(':')
                    .filter(|n| !n.is_empty())
                    .map(str::to_owned)
                    .collect(),
            };
            let values: Vec<&str> = names
                .iter()
                .map(|n| vector["fields"][n.as_str()].as_str().unwrap_or(""))
                .collect();
            let preimage = format!("{}{key}", values.concat());
            assert_eq!(preimage, vector["preimage"].as_str().unwrap());
            assert_eq!(legacy_hash(&values, key), vector["hash"].as_str().unwrap());
        }
    }

    #[test]
    fn natural_order_is_php_strnatcasecmp() {
        use Ordering::*;
        assert_eq!(natural_cmp("TRX2", "TRX10"), Less);
        assert_eq!(natural_cmp("Email", "failUrl"), Less);
        assert_eq!(natural_cmp("currency", "Email"), Less);
        assert_eq!(natural_cmp("a_b", "aB"), Greater);
        assert_eq!(natural_cmp("x01", "x1"), Less);
        assert_eq!(natural_cmp("abc", "ABC"), Equal);
        assert_eq!(natural_cmp("a", "ab"), Less);
        assert_eq!(natural_cmp("", "a"), Less);
        assert_eq!(natural_cmp("a 1", "a1"), Equal);
        assert_eq!(escape("a\\|b"), "a\\\\\\|b");
    }
}
