//! Garanti's hashes: `SecurityData`, the API's `HashData`, the 3D form's
//! `secure3dhash` and the 3D callback's `hash`, in the current generation (`Version`
//! 512, SHA-512) and the legacy one (`v0.01`, SHA-1).
//!
//! Every concatenation is without a separator and an absent value is an empty string.
//! `SecurityData` = upper-hex SHA-1(password + terminal id left-padded with `0` to nine
//! digits), in both generations; it is the only place the password goes, so a wrong
//! password and a wrong hash are the same refusal at the bank.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use sha1::Sha1;
use sha2::{Digest, Sha512};
use subtle::ConstantTimeEq;

/// Which generation of hashes a POS speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HashVersion {
    /// `Version` / `apiversion` `512`: SHA-512, currency hashed. What we send.
    V512,
    /// `v0.01`: SHA-1 without the currency; callbacks signed Base64(SHA-1).
    Legacy,
}

impl HashVersion {
    /// The `Version` element and the form's `apiversion`.
    pub fn wire(self) -> &'static str {
        match self {
            HashVersion::V512 => "512",
            HashVersion::Legacy => "v0.01",
        }
    }

    /// The generation a `Version` / `apiversion` value names: `512` or a legacy one.
    pub fn of(text: &str) -> HashVersion {
        if text.trim() == "512" {
            HashVersion::V512
        } else {
            HashVersion::Legacy
        }
    }
}

fn upper_hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789ABCDEF";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(DIGITS[usize::from(b >> 4)] as char);
        out.push(DIGITS[usize::from(b & 0x0F)] as char);
    }
    out
}

fn sha1_upper(text: &str) -> String {
    upper_hex(&Sha1::digest(text.as_bytes()))
}

fn sha512_upper(text: &str) -> String {
    upper_hex(&Sha512::digest(text.as_bytes()))
}

/// The terminal id as `SecurityData` hashes it: left-padded with `0` to nine digits.
pub fn padded_terminal(terminal_id: &str) -> String {
    format!("{terminal_id:0>9}")
}

/// `SecurityData`: upper-hex SHA-1(password + nine-digit terminal id). The PROVRFN
/// password for `void`/`refund`, the PROVAUT one otherwise.
pub fn security_data(password: &str, terminal_id: &str) -> String {
    sha1_upper(&format!("{password}{}", padded_terminal(terminal_id)))
}

/// What `Terminal/HashData` covers (the request's `Type` is not hashed).
#[derive(Debug, Clone, Copy)]
pub struct HashInputs<'a> {
    /// `Order/OrderID` (empty for `orderlistinq`).
    pub order_id: &'a str,
    /// `Terminal/ID`.
    pub terminal_id: &'a str,
    /// `Card/Number` (empty without a card).
    pub card_number: &'a str,
    /// `Transaction/Amount` as sent.
    pub amount: &'a str,
    /// `Transaction/CurrencyCode` as sent (legacy hashes leave it out).
    pub currency: &'a str,
}

/// The text `HashData` is computed over, with `security_data` at the end.
pub fn hash_data_preimage(version: HashVersion, inputs: &HashInputs<'_>, security: &str) -> String {
    let HashInputs {
        order_id,
        terminal_id,
        card_number,
        amount,
        currency,
    } = *inputs;
    match version {
        HashVersion::V512 => {
            format!("{order_id}{terminal_id}{card_number}{amount}{currency}{security}")
        }
        HashVersion::Legacy => format!("{order_id}{terminal_id}{card_number}{amount}{security}"),
    }
}

/// `Terminal/HashData` of a request.
pub fn hash_data(version: HashVersion, inputs: &HashInputs<'_>, security: &str) -> String {
    let preimage = hash_data_preimage(version, inputs, security);
    match version {
        HashVersion::V512 => sha512_upper(&preimage),
        HashVersion::Legacy => sha1_upper(&preimage),
    }
}

/// What the 3D form's `secure3dhash` covers.
#[derive(Debug, Clone, Copy)]
pub struct FormInputs<'a> {
    /// `terminalid`.
    pub terminal_id: &'a str,
    /// `orderid`.
    pub order_id: &'a str,
    /// `txnamount` (kuruş).
    pub amount: &'a str,
    /// `txncurrencycode` (not in the legacy hash).
    pub currency: &'a str,
    /// `successurl`.
    pub success_url: &'a str,
    /// `errorurl`.
    pub error_url: &'a str,
    /// `txntype`.
    pub txn_type: &'a str,
    /// `txninstallmentcount` (empty for a single payment).
    pub installments: &'a str,
}

/// The 3D form's `secure3dhash`; card fields are not hashed.
pub fn form_hash(
    version: HashVersion,
    inputs: &FormInputs<'_>,
    store_key: &str,
    security: &str,
) -> String {
    let FormInputs {
        terminal_id,
        order_id,
        amount,
        currency,
        success_url,
        error_url,
        txn_type,
        installments,
    } = *inputs;
    match version {
        HashVersion::V512 => sha512_upper(&format!(
            "{terminal_id}{order_id}{amount}{currency}{success_url}{error_url}{txn_type}{installments}{store_key}{security}"
        )),
        HashVersion::Legacy => sha1_upper(&format!(
            "{terminal_id}{order_id}{amount}{success_url}{error_url}{txn_type}{installments}{store_key}{security}"
        )),
    }
}

/// The fields a callback's `hashparams` must name before its hash is worth anything:
/// those fields outside the list are not authenticated.
pub const REQUIRED_HASH_PARAMS: [&str; 5] = ["clientid", "oid", "mdstatus", "md", "rnd"];

/// In `3D_PAY` the payment's result must be signed too.
pub const REQUIRED_PAY_PARAMS: [&str; 3] = ["procreturncode", "response", "authcode"];

/// Why a callback's hash was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    /// No `hash`, or an empty one.
    #[error("the callback carries no hash")]
    MissingHash,
    /// No `hashparams`, or one that leaves out a field that must be signed.
    #[error("hashparams is missing or does not name every field that must be signed")]
    WeakParams,
    /// The hash does not match the fields and the store key.
    #[error("hash does not match the fields and the store key")]
    Mismatch,
}

fn value<'a>(fields: &'a [(String, String)], name: &str) -> Option<&'a str> {
    fields
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// The names `hashparams` lists, in order (colon-separated, trailing colon).
pub fn hash_params(text: &str) -> Vec<&str> {
    text.split(':').filter(|p| !p.is_empty()).collect()
}

/// The text a callback's hash covers: the values of the `hashparams` fields in order,
/// then the store key.
pub fn callback_preimage(fields: &[(String, String)], params: &[&str], store_key: &str) -> String {
    let mut text = String::new();
    for name in params {
        text.push_str(value(fields, name).unwrap_or_default());
    }
    text.push_str(store_key);
    text
}

/// The hash a callback should carry for its `hashparams`: upper-hex SHA-512 (512), or
/// Base64 SHA-1 (legacy).
pub fn callback_hash(
    version: HashVersion,
    fields: &[(String, String)],
    params: &[&str],
    store_key: &str,
) -> String {
    let preimage = callback_preimage(fields, params, store_key);
    match version {
        HashVersion::V512 => sha512_upper(&preimage),
        HashVersion::Legacy => STANDARD.encode(Sha1::digest(preimage.as_bytes())),
    }
}

/// Verifies a callback's `hash` in constant time: `hashparams` present and naming the
/// fields that must be signed (`pay` adds the payment's result), a non-empty hash, and
/// the hash equal to the one computed from the fields (never from `hashparamsval`).
pub fn verify_callback(
    version: HashVersion,
    fields: &[(String, String)],
    store_key: &str,
    pay: bool,
) -> Result<(), SignatureError> {
    let given = value(fields, "hash")
        .map(str::trim)
        .filter(|h| !h.is_empty())
        .ok_or(SignatureError::MissingHash)?;
    let params_text = value(fields, "hashparams").unwrap_or_default();
    let params = hash_params(params_text);
    let names = |list: &[&str]| list.iter().all(|r| params.contains(r));
    if !names(&REQUIRED_HASH_PARAMS) || (pay && !names(&REQUIRED_PAY_PARAMS)) {
        return Err(SignatureError::WeakParams);
    }
    let expected = callback_hash(version, fields, &params, store_key);
    let same = match version {
        // Hex compares case-insensitively; Base64 does not.
        HashVersion::V512 => expected
            .as_bytes()
            .ct_eq(given.to_ascii_uppercase().as_bytes()),
        HashVersion::Legacy => expected.as_bytes().ct_eq(given.as_bytes()),
    };
    if bool::from(same) {
        Ok(())
    } else {
        Err(SignatureError::Mismatch)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn security_data_of_the_test_terminal() {
        assert_eq!(padded_terminal("30691298"), "030691298");
        assert_eq!(
            security_data("123qweASD/", "30691298"),
            "1639636D00AB5EF0B3CE073BB222BFAAC2C2C38D"
        );
    }

    #[test]
    fn weak_or_empty_params_never_verify() {
        let mut fields: Vec<(String, String)> = [
            ("clientid", "1"),
            ("oid", "o"),
            ("mdstatus", "1"),
            ("md", "m"),
            ("rnd", "r"),
        ]
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
        // An empty list hashes to SHA-512(store key) in some libraries: refused here.
        fields.push(("hashparams".into(), String::new()));
        fields.push(("hash".into(), sha512_upper("k")));
        assert_eq!(
            verify_callback(HashVersion::V512, &fields, "k", false),
            Err(SignatureError::WeakParams)
        );
        fields[5].1 = "clientid:oid:mdstatus:md:rnd:".into();
        fields[6].1 = String::new();
        assert_eq!(
            verify_callback(HashVersion::V512, &fields, "k", false),
            Err(SignatureError::MissingHash)
        );
        let params = hash_params("clientid:oid:mdstatus:md:rnd:");
        fields[6].1 = callback_hash(HashVersion::V512, &fields, &params, "k");
        assert_eq!(
            verify_callback(HashVersion::V512, &fields, "k", false),
            Ok(())
        );
        assert_eq!(
            verify_callback(HashVersion::V512, &fields, "k", true),
            Err(SignatureError::WeakParams)
        );
        assert_eq!(
            verify_callback(HashVersion::V512, &fields, "other", false),
            Err(SignatureError::Mismatch)
        );
    }
}
