//! Judging a 3D callback: what the browser posted back, before anything is sent.
//!
//! The order of the checks is the point. The callback must be for the order we expect
//! (another order's callback changes nothing). In the `3d` model `mdStatus` is judged
//! before the hash: anything but full authentication (or an allowed half-secure one) is
//! a decline with nothing sent, whatever its hash says, since nothing was charged. With
//! authentication, the hash must verify and the signed amount must be ours before the
//! charge is sent. In the paying models (`3d_pay`, `3d_host`) the bank may already have
//! charged, so the hash is checked on every callback and an unverified one is unknown:
//! only ORDERSTATUS may settle it, never the browser's word.

use sanalpos_core::{Kurus, Message};

use super::answer::{self, Operation, Sent};
use super::codes;
use super::request::ThreeDAuth;
use super::signing::verify_ver3;
use super::xml::Cc5Response;
use super::{accepts_store_type, ThreeDModel};
use crate::scrub::scrub_card_numbers;
use crate::types::{Decline, DeclineKind, ExpectedSale, Outcome, UnknownReason};

/// Callback fields that may carry card data: never stored as they came.
const CARD_FIELDS: [&str; 5] = [
    "pan",
    "cv2",
    "Ecom_Payment_Card_ExpDate_Month",
    "Ecom_Payment_Card_ExpDate_Year",
    "Number",
];

/// What to do with a callback.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Decided from the callback alone; nothing is sent.
    Final(Outcome),
    /// `3d`: send the charge with these values of the verified callback.
    Charge(ThreeDAuth),
    /// `3d_host`: the verified callback proves authentication only; ask ORDERSTATUS.
    AskStatus,
}

/// How this POS judges callbacks.
#[derive(Clone, Copy)]
pub struct Rules<'a> {
    /// The POS's 3D model.
    pub model: ThreeDModel,
    /// Whether half-secure `mdStatus` 2, 3 and 4 are accepted.
    pub allow_half_secure: bool,
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
    if non_empty(fields, "oid") != Some(expected.client_ref.as_str()) {
        return unknown("the callback is for another order");
    }
    let md_status = non_empty(fields, "mdStatus");
    let half_secure = matches!(md_status, Some("2" | "3" | "4"));
    let authenticated = md_status == Some("1") || (half_secure && rules.allow_half_secure);
    let paying = rules.model != ThreeDModel::ThreeD;

    if !paying && !authenticated {
        // Nothing was charged: a failed callback is a decline whatever its hash says.
        return Verdict::Final(Outcome::Declined(authentication_decline(fields)));
    }
    if verify_ver3(fields, rules.store_key).is_err() {
        return Verdict::Final(Outcome::Unknown(UnknownReason::SignatureInvalid));
    }
    // From here on every value read is signed.
    if !accepts_store_type(rules.model, field(fields, "storetype").unwrap_or_default()) {
        return unknown("the callback is for another 3D model");
    }
    if !authenticated {
        if rules.model == ThreeDModel::ThreeDPay
            && non_empty(fields, "ProcReturnCode") == Some("00")
        {
            return unknown("the bank charged without the authentication this POS requires");
        }
        return Verdict::Final(Outcome::Declined(authentication_decline(fields)));
    }
    if let Err(why) = same_sale(fields, expected) {
        return unknown(why);
    }
    match rules.model {
        ThreeDModel::ThreeD => match non_empty(fields, "md") {
            Some(md) => Verdict::Charge(ThreeDAuth {
                md: md.to_owned(),
                xid: field(fields, "xid").unwrap_or_default().to_owned(),
                eci: field(fields, "eci").unwrap_or_default().to_owned(),
                cavv: field(fields, "cavv").unwrap_or_default().to_owned(),
            }),
            None => unknown("an authenticated callback without md"),
        },
        ThreeDModel::ThreeDPay => Verdict::Final(payment_outcome(fields, expected)),
        ThreeDModel::ThreeDHost => Verdict::AskStatus,
    }
}

/// The first field name posted more than once: the hash would cover one value and the
/// reader might take the other.
fn duplicated(fields: &[(String, String)]) -> Option<&str> {
    fields.iter().enumerate().find_map(|(i, (k, _))| {
        fields[..i]
            .iter()
            .any(|(prev, _)| prev == k)
            .then_some(k.as_str())
    })
}

/// The signed amount and currency must be the ones we asked for.
fn same_sale(fields: &[(String, String)], expected: &ExpectedSale) -> Result<(), &'static str> {
    let amount = non_empty(fields, "amount").and_then(|a| Kurus::parse(a).ok());
    if amount != Some(expected.amount) {
        return Err("the signed amount is not the amount asked for");
    }
    if let Some(currency) = non_empty(fields, "currency") {
        if currency != expected.currency.numeric().to_string() {
            return Err("the signed currency is not the currency asked for");
        }
    }
    Ok(())
}

/// The error code a failed callback carries, wherever it is.
fn error_code(fields: &[(String, String)]) -> Option<&str> {
    non_empty(fields, "ErrorCode")
        .or_else(|| non_empty(fields, "ErrCode"))
        .or_else(|| non_empty(fields, "EXTRA_ERRORCODE"))
}

/// A decline for a failed or refused authentication.
fn authentication_decline(fields: &[(String, String)]) -> Decline {
    let md_status = non_empty(fields, "mdStatus");
    let code = error_code(fields);
    let message: Message = code
        .and_then(codes::lookup_error)
        .unwrap_or_else(|| codes::md_status_message(md_status));
    let own = non_empty(fields, "mdErrorMsg")
        .or_else(|| non_empty(fields, "ErrMsg"))
        .unwrap_or_default();
    let provider_text = match (md_status, code) {
        (Some(md), Some(code)) => format!("mdStatus {md} ({code}): {own}"),
        (Some(md), None) => format!("mdStatus {md}: {own}"),
        (None, Some(code)) => format!("{code}: {own}"),
        (None, None) => own.to_owned(),
    };
    Decline {
        kind: DeclineKind::Refused,
        bank_code: None,
        message,
        provider_text: scrub_card_numbers(provider_text.trim_end_matches([':', ' '])),
        provider_ref: None,
    }
}

/// The callback of a paying model read as a payment answer: its top-level fields, and
/// its `EXTRA_…` fields as `Extra`.
pub fn as_answer(fields: &[(String, String)]) -> Cc5Response {
    let mut top = Vec::new();
    let mut extra = Vec::new();
    for (k, v) in fields {
        match k.strip_prefix("EXTRA_") {
            Some(name) => extra.push((name.to_owned(), v.clone())),
            None => top.push((k.clone(), v.clone())),
        }
    }
    Cc5Response::from_parts(top, extra)
}

/// A verified, authenticated `3d_pay` callback: approved by the success rule, declined
/// otherwise.
fn payment_outcome(fields: &[(String, String)], expected: &ExpectedSale) -> Outcome {
    let answer = as_answer(fields);
    let operation = if expected.pre_auth {
        Operation::PreAuth
    } else {
        Operation::Sale
    };
    let approved_signals = answer.non_empty("ProcReturnCode") == Some("00")
        || answer.non_empty("Response") == Some("Approved");
    if approved_signals {
        return answer::outcome(
            &answer,
            Sent {
                operation,
                amount: Some(expected.amount),
                installments: Some(expected.installments.max(1)),
            },
        );
    }
    Outcome::Declined(answer::decline(&answer, operation))
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nestpay::signing::hash_ver3;
    use sanalpos_core::{ClientRef, Currency};

    const KEY: &str = "123456";

    fn expected() -> ExpectedSale {
        ExpectedSale {
            amount: Kurus::parse("1.01").unwrap(),
            client_ref: ClientRef::parse("order1").unwrap(),
            provider_ref: None,
            currency: Currency::Try,
            installments: 1,
            pre_auth: false,
            cardholder_ip: None,
        }
    }

    fn callback(
        store_type: &str,
        md_status: &str,
        extra: &[(&str, &str)],
    ) -> Vec<(String, String)> {
        let mut fields: Vec<(String, String)> = [
            ("clientid", "190100000"),
            ("oid", "order1"),
            ("amount", "1.01"),
            ("currency", "949"),
            ("storetype", store_type),
            ("mdStatus", md_status),
            ("md", "435508:AB:4122:##190100000"),
            ("xid", "x1"),
            ("eci", "05"),
            ("cavv", "cv"),
            ("hashAlgorithm", "ver3"),
        ]
        .iter()
        .chain(extra)
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
        let hash = hash_ver3(&fields, KEY);
        fields.push(("HASH".into(), hash));
        fields
    }

    fn rules(model: ThreeDModel) -> Rules<'static> {
        Rules {
            model,
            allow_half_secure: false,
            store_key: KEY,
        }
    }

    #[test]
    fn a_good_3d_callback_asks_for_the_charge() {
        let v = judge(
            &callback("3d", "1", &[]),
            &expected(),
            rules(ThreeDModel::ThreeD),
        );
        let Verdict::Charge(auth) = v else {
            panic!("{v:?}")
        };
        assert_eq!(auth.xid, "x1");
    }

    #[test]
    fn signed_amount_and_model_must_match() {
        let mut e = expected();
        e.amount = Kurus::parse("2").unwrap();
        assert!(matches!(
            judge(&callback("3d", "1", &[]), &e, rules(ThreeDModel::ThreeD)),
            Verdict::Final(Outcome::Unknown(UnknownReason::Inconsistent(_)))
        ));
        assert!(matches!(
            judge(
                &callback("3d", "1", &[]),
                &expected(),
                rules(ThreeDModel::ThreeDPay)
            ),
            Verdict::Final(Outcome::Unknown(UnknownReason::Inconsistent(_)))
        ));
    }

    #[test]
    fn a_posted_twice_field_is_refused() {
        let mut f = callback("3d", "1", &[]);
        f.push(("oid".into(), "other".into()));
        assert!(matches!(
            judge(&f, &expected(), rules(ThreeDModel::ThreeD)),
            Verdict::Final(Outcome::Unknown(UnknownReason::Inconsistent(_)))
        ));
    }

    #[test]
    fn three_d_pay_outcomes() {
        let approved = callback(
            "3d_pay",
            "1",
            &[
                ("ProcReturnCode", "00"),
                ("Response", "Approved"),
                ("AuthCode", "P1"),
                ("TransId", "T1"),
                ("EXTRA_CARDBRAND", "VISA"),
            ],
        );
        assert!(matches!(
            judge(&approved, &expected(), rules(ThreeDModel::ThreeDPay)),
            Verdict::Final(Outcome::Approved(_))
        ));
        let declined = callback(
            "3d_pay",
            "1",
            &[
                ("ProcReturnCode", "51"),
                ("Response", "Declined"),
                ("EXTRA_ERRORCODE", "ISO8583-51"),
            ],
        );
        let Verdict::Final(Outcome::Declined(d)) =
            judge(&declined, &expected(), rules(ThreeDModel::ThreeDPay))
        else {
            panic!()
        };
        assert_eq!(d.bank_code.unwrap().as_str(), "51");
        // A failed authentication with a broken hash: the bank may have done anything.
        let mut forged = callback("3d_pay", "0", &[]);
        forged.last_mut().unwrap().1 = "AAAA".into();
        assert!(matches!(
            judge(&forged, &expected(), rules(ThreeDModel::ThreeDPay)),
            Verdict::Final(Outcome::Unknown(UnknownReason::SignatureInvalid))
        ));
        let failed = callback("3d_pay", "0", &[("ProcReturnCode", "99")]);
        assert!(matches!(
            judge(&failed, &expected(), rules(ThreeDModel::ThreeDPay)),
            Verdict::Final(Outcome::Declined(_))
        ));
    }

    #[test]
    fn three_d_host_asks_the_status() {
        assert_eq!(
            judge(
                &callback("3d_host", "1", &[]),
                &expected(),
                rules(ThreeDModel::ThreeDHost)
            ),
            Verdict::AskStatus
        );
    }

    #[test]
    fn the_log_copy_hides_card_fields() {
        let f: Vec<(String, String)> = vec![
            ("pan".into(), "4111111111111111".into()),
            ("cv2".into(), "000".into()),
            ("maskedCreditCard".into(), "4111 11** **** 1111".into()),
            ("note".into(), "4111111111111111".into()),
        ];
        let json = masked_json(&f);
        assert!(!json.contains("4111111111111111"), "{json}");
        assert!(!json.contains("\"000\""), "{json}");
        assert!(json.contains("4111 11** **** 1111"));
    }
}
