//! Judging a 3D callback: what the browser posted back, and what the bank said when
//! asked about it.
//!
//! The callback's `MerchantPacket`, `BankPacket` and `Sign` are not signed for the
//! merchant: nothing in them is believed. They go to the bank in
//! `oosResolveMerchantData` with a MAC over *our* XID, amount and currency, and only the
//! bank's answer counts: its MAC must verify (it binds `mdStatus`), its `xid`, `amount`
//! and `currency` must be ours (another order's callback changes nothing), and only
//! `mdStatus` 1 (2–4 when the POS accepts half-secure) leads to `oosTranData`. A
//! callback the bank cannot open or will not resolve leaves the payment as it was
//! (unknown): a forger must not be able to decline someone else's payment.

use super::codes;
use super::mac;
use super::xml::PosnetResponse;
use crate::scrub::scrub_card_numbers;
use crate::types::{Decline, DeclineKind, Outcome, UnknownReason};

/// The callback fields the resolve call needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Callback {
    /// `MerchantPacket`.
    pub merchant_packet: String,
    /// `BankPacket`.
    pub bank_packet: String,
    /// `Sign`.
    pub sign: String,
}

fn unknown(why: &str) -> Outcome {
    Outcome::Unknown(UnknownReason::Inconsistent(why.to_owned()))
}

/// What to do with a callback once the bank has resolved it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Verified and authenticated: send `oosTranData`.
    Charge,
    /// Decided here; nothing more is sent.
    Final(Outcome),
}

/// The packets of a callback, or why it cannot be resolved (each field once, none
/// empty); the reason becomes an unknown outcome, which changes nothing.
pub fn packets(fields: &[(String, String)]) -> Result<Callback, String> {
    let get = |name: &str| {
        let mut values = fields.iter().filter(|(k, _)| k == name);
        match (values.next(), values.next()) {
            (Some((_, v)), None) if !v.trim().is_empty() => Ok(v.trim().to_owned()),
            (Some(_), Some(_)) => Err(format!("the field {name} is posted twice")),
            _ => Err(format!("the callback has no {name}")),
        }
    };
    Ok(Callback {
        merchant_packet: get("MerchantPacket")?,
        bank_packet: get("BankPacket")?,
        sign: get("Sign")?,
    })
}

/// Our side of the order, what the resolve answer must repeat.
#[derive(Debug, Clone, Copy)]
pub struct Ours<'a> {
    /// Our XID.
    pub xid: &'a str,
    /// Amount in kuruş, as sent.
    pub amount: &'a str,
    /// Currency letters, as sent.
    pub currency: &'a str,
    /// `mid`.
    pub mid: &'a str,
    /// `firstHash` of the POS.
    pub first_hash: &'a str,
    /// Whether `mdStatus` 2–4 are accepted.
    pub allow_half_secure: bool,
}

/// Judges an `oosResolveMerchantData` answer: [`Verdict::Charge`] when `oosTranData`
/// may be sent, else the final outcome of the callback.
pub fn judge_resolve(answer: &PosnetResponse, ours: Ours<'_>) -> Verdict {
    match judged(answer, ours) {
        Ok(()) => Verdict::Charge,
        Err(outcome) => Verdict::Final(*outcome),
    }
}

fn judged(answer: &PosnetResponse, ours: Ours<'_>) -> Result<(), Box<Outcome>> {
    if answer.non_empty("approved") != Some("1") {
        let text = super::answer::provider_text(answer);
        return Err(Box::new(unknown(&format!(
            "the bank would not resolve the callback: {text}"
        ))));
    }
    let r = |name: &str| {
        answer
            .get(&format!("oosResolveMerchantDataResponse/{name}"))
            .map(str::trim)
            .unwrap_or_default()
    };
    let md_status = r("mdStatus");
    let expected = mac::answer_mac(
        md_status,
        r("xid"),
        r("amount"),
        r("currency"),
        ours.mid,
        ours.first_hash,
    );
    if !mac::same(&expected, r("mac")) {
        return Err(Box::new(Outcome::Unknown(UnknownReason::SignatureInvalid)));
    }
    if r("xid") != ours.xid || r("amount") != ours.amount || r("currency") != ours.currency {
        return Err(Box::new(unknown(
            "the callback is for another order or amount",
        )));
    }
    let authenticated =
        md_status == "1" || (ours.allow_half_secure && matches!(md_status, "2" | "3" | "4"));
    if !authenticated {
        let own = scrub_card_numbers(r("mdErrorMessage"));
        return Err(Box::new(Outcome::Declined(Decline {
            kind: DeclineKind::Refused,
            bank_code: None,
            message: codes::md_status_message(md_status),
            provider_text: if own.is_empty() {
                format!("mdStatus {md_status}")
            } else {
                format!("mdStatus {md_status}: {own}")
            },
            provider_ref: None,
        })));
    }
    Ok(())
}

/// The callback as JSON for the attempt log (it carries no card data).
pub fn masked_json(fields: &[(String, String)]) -> String {
    let object: serde_json::Map<String, serde_json::Value> = fields
        .iter()
        .map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone())))
        .collect();
    scrub_card_numbers(&serde_json::Value::Object(object).to_string())
}
