//! Judging a 3D callback from `gt3dengine`: what the browser posted back, before
//! anything is sent.
//!
//! The order of the checks is the point. The callback must be for the order we expect
//! (another order's callback changes nothing), and no field may be posted twice. Then
//! `mdstatus` (only `1` proceeds, unless the POS accepts half-secure 2–4) and `response`
//! `Error`, which always fails: nothing has been charged, whatever the hash says. In the
//! `3D` model an authenticated callback with a bad or missing hash sends nothing and
//! proves nothing (unknown: the payment waits for the genuine callback or the 3D
//! window); only a verified, authenticated callback leads to the provision request. In `3D_PAY` the bank
//! may already have charged: a bad or missing hash is unknown, settled by `orderinq`,
//! never by the browser's word, and approval needs a verified hash, `mdstatus` 1 and
//! `procreturncode` `00`; when `hashparams` leaves `hostrefnum` out (the usual list
//! does), the approval and its `RetrefNum` are read from `orderinq` too.

use sanalpos_core::{AuthCode, BankCode, Message, ProviderRef};

use super::codes;
use super::request::ThreeDAuth;
use super::signing::{verify_callback, HashVersion};
use super::ThreeDModel;
use crate::scrub::scrub_card_numbers;
use crate::types::{Approval, Decline, DeclineKind, ExpectedSale, Outcome, UnknownReason};

/// Callback fields that may carry card data: never stored as they came.
const CARD_FIELDS: [&str; 4] = [
    "cardnumber",
    "cardcvv2",
    "cardexpiredatemonth",
    "cardexpiredateyear",
];

/// What to do with a callback.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Decided from the callback alone; nothing is sent.
    Final(Outcome),
    /// `3D`: send the provision with these values of the verified callback.
    Charge(ThreeDAuth),
    /// `3D_PAY` with a hash that does not verify: ask `orderinq`.
    AskStatus,
}

/// How this POS judges callbacks.
#[derive(Clone, Copy)]
pub struct Rules<'a> {
    /// The POS's 3D model.
    pub model: ThreeDModel,
    /// Whether half-secure `mdstatus` 2, 3 and 4 are accepted.
    pub allow_half_secure: bool,
    /// The hash generation of this POS: a legacy callback is accepted only on a POS
    /// configured for it.
    pub version: HashVersion,
    /// The terminal id (`clientid` of a callback).
    pub terminal_id: &'a str,
    /// The store key the hash is made with.
    pub store_key: &'a str,
}

fn unknown(why: &str) -> Verdict {
    Verdict::Final(Outcome::Unknown(UnknownReason::Inconsistent(
        why.to_owned(),
    )))
}

fn field<'a>(fields: &'a [(String, String)], name: &str) -> Option<&'a str> {
    fields
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

fn non_empty<'a>(fields: &'a [(String, String)], name: &str) -> Option<&'a str> {
    field(fields, name).map(str::trim).filter(|v| !v.is_empty())
}

/// Judges a callback against the sale we expect.
pub fn judge(fields: &[(String, String)], expected: &ExpectedSale, rules: Rules<'_>) -> Verdict {
    if let Some(name) = duplicated(fields) {
        return unknown(&format!("the field {name} is posted twice"));
    }
    let order = non_empty(fields, "oid").or_else(|| non_empty(fields, "orderid"));
    if order != Some(expected.client_ref.as_str()) {
        return unknown("the callback is for another order");
    }
    let pay = rules.model == ThreeDModel::ThreeDPay;
    let md_status = non_empty(fields, "mdstatus");
    let half_secure = matches!(md_status, Some("2" | "3" | "4"));
    let authenticated = md_status == Some("1") || (half_secure && rules.allow_half_secure);
    let error = non_empty(fields, "response").is_some_and(|r| r.eq_ignore_ascii_case("Error"));
    let callback_version = HashVersion::of(field(fields, "apiversion").unwrap_or("512"));

    if !authenticated || error {
        // mdstatus first, and `response` Error always fails: nothing was charged (in
        // 3D_PAY the bank charges only after a full authentication).
        return Verdict::Final(Outcome::Declined(authentication_decline(fields)));
    }
    let verified = callback_version == rules.version
        && verify_callback(rules.version, fields, rules.store_key, pay).is_ok();
    if !verified {
        // In 3D nothing was charged and no provision is sent; the payment stays open for
        // the genuine callback (a forger must not be able to close it). In 3D_PAY the
        // bank may have charged: its record decides.
        return if pay {
            Verdict::AskStatus
        } else {
            Verdict::Final(Outcome::Unknown(UnknownReason::SignatureInvalid))
        };
    }
    // From here on the values the decision rests on are signed (clientid, oid,
    // mdstatus, md, rnd; in 3D_PAY the result too). The security level is not: it is a
    // sanity check only.
    if non_empty(fields, "clientid") != Some(rules.terminal_id) {
        return unknown("the callback is for another terminal");
    }
    let level = non_empty(fields, "secure3dsecuritylevel").unwrap_or_default();
    if !level.eq_ignore_ascii_case(super::request::security_level(rules.model)) {
        return unknown("the callback is for another 3D model");
    }
    if !pay {
        return match non_empty(fields, "md") {
            Some(md) => Verdict::Charge(ThreeDAuth {
                cavv: field(fields, "cavv").unwrap_or_default().to_owned(),
                eci: field(fields, "eci").unwrap_or_default().to_owned(),
                xid: field(fields, "xid").unwrap_or_default().to_owned(),
                md: md.to_owned(),
            }),
            None => unknown("an authenticated callback without md"),
        };
    }
    let signed = super::signing::hash_params(field(fields, "hashparams").unwrap_or_default());
    if non_empty(fields, "procreturncode") == Some("00") && !signed.contains(&"hostrefnum") {
        // Approved, but the reference later cancels and refunds name is not signed:
        // take the approval and its RetrefNum from the bank's record instead.
        return Verdict::AskStatus;
    }
    Verdict::Final(pay_outcome(fields, expected))
}

/// The first field name posted more than once.
fn duplicated(fields: &[(String, String)]) -> Option<&str> {
    fields.iter().enumerate().find_map(|(i, (k, _))| {
        fields[..i]
            .iter()
            .any(|(prev, _)| prev == k)
            .then_some(k.as_str())
    })
}

/// A verified, authenticated `3D_PAY` callback: approved only with `procreturncode`
/// 00, `response` Approved and the references.
fn pay_outcome(fields: &[(String, String)], expected: &ExpectedSale) -> Outcome {
    let code = non_empty(fields, "procreturncode");
    if code != Some("00") {
        let bank_code = code.filter(|c| *c != "99").and_then(BankCode::parse);
        let message = bank_code
            .as_ref()
            .map(BankCode::message)
            .unwrap_or_else(codes::generic);
        return Outcome::Declined(Decline {
            kind: DeclineKind::Refused,
            bank_code,
            message,
            provider_text: own_text(fields),
            provider_ref: non_empty(fields, "hostrefnum").and_then(|r| ProviderRef::parse(r).ok()),
        });
    }
    let approved =
        non_empty(fields, "response").is_some_and(|r| r.eq_ignore_ascii_case("Approved"));
    let auth_code = non_empty(fields, "authcode").and_then(AuthCode::parse_approval);
    let provider_ref = non_empty(fields, "hostrefnum").and_then(|r| ProviderRef::parse(r).ok());
    match (approved, auth_code, provider_ref) {
        (true, Some(auth_code), Some(provider_ref)) => Outcome::Approved(Approval {
            auth_code: Some(auth_code),
            provider_ref,
            authorized_amount: Some(expected.amount),
            installments: Some(expected.installments.max(1)),
        }),
        _ => Outcome::Unknown(UnknownReason::Inconsistent(
            "procreturncode 00 without Approved, an auth code and a reference".into(),
        )),
    }
}

fn own_text(fields: &[(String, String)]) -> String {
    let parts: Vec<&str> = ["mderrormessage", "errmsg", "hostmsg"]
        .iter()
        .filter_map(|n| non_empty(fields, n))
        .collect();
    scrub_card_numbers(&parts.join(" / "))
}

/// A decline for a failed or refused authentication.
fn authentication_decline(fields: &[(String, String)]) -> Decline {
    let md_status = non_empty(fields, "mdstatus");
    let message: Message = codes::md_status_message(md_status);
    let own = own_text(fields);
    let provider_text = match md_status {
        Some(md) if own.is_empty() => format!("mdstatus {md}"),
        Some(md) => format!("mdstatus {md}: {own}"),
        None => own,
    };
    Decline {
        kind: DeclineKind::Refused,
        bank_code: None,
        message,
        provider_text,
        provider_ref: None,
    }
}

/// The callback as JSON for the attempt log: card fields masked, card numbers scrubbed.
pub fn masked_json(fields: &[(String, String)]) -> String {
    let object: serde_json::Map<String, serde_json::Value> = fields
        .iter()
        .map(|(k, v)| {
            let masked = CARD_FIELDS.iter().any(|c| c.eq_ignore_ascii_case(k)) && !v.is_empty();
            let value = if masked { "***".to_owned() } else { v.clone() };
            (k.clone(), serde_json::Value::String(value))
        })
        .collect();
    scrub_card_numbers(&serde_json::Value::Object(object).to_string())
}
