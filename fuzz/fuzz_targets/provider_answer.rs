//! A provider answer, as bytes off the wire: parsing never panics, and the success rule
//! holds whatever arrives. Half of the inputs are signed with the test key first (the
//! fuzzer decides with the first byte), so the rule is explored past the signature.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sanalpos_core::Kurus;
use sanalpos_gateway::nkolay::answer::{self, verify};
use sanalpos_gateway::nkolay::codec::Answer;
use sanalpos_gateway::nkolay::signing::{sign_answer, AnswerHashVariant};
use sanalpos_gateway::{scrub_card_numbers, Outcome};
use serde_json::Value;

const KEY: &str = "_YckdxUbv4vrnMUZ6VQsr";

fuzz_target!(|data: &[u8]| {
    let Some((&flags, body)) = data.split_first() else {
        return;
    };
    let Ok(text) = std::str::from_utf8(body) else {
        return;
    };
    let Ok(mut parsed) = Answer::parse(text) else {
        return;
    };
    if flags & 1 == 1 {
        // Sign what arrived, as the provider would, and read it again.
        let signature = {
            let fields: Vec<(String, Option<String>)> = [
                "MERCHANT_NO",
                "REFERENCE_CODE",
                "AUTH_CODE",
                "RESPONSE_CODE",
                "USE_3D",
                "RND",
                "INSTALLMENT",
                "AUTHORIZATION_AMOUNT",
                "CURRENCY_CODE",
            ]
            .iter()
            .map(|k| (k.to_string(), parsed.text(k)))
            .collect();
            let variant = if flags & 2 == 2 {
                AnswerHashVariant::WithCurrency
            } else {
                AnswerHashVariant::WithoutCurrency
            };
            sign_answer(
                |key| {
                    fields
                        .iter()
                        .find(|(k, _)| k.eq_ignore_ascii_case(key))
                        .and_then(|(_, v)| v.as_deref())
                },
                KEY,
                variant,
            )
        };
        let mut object = serde_json::Map::new();
        for key in [
            "MERCHANT_NO",
            "REFERENCE_CODE",
            "AUTH_CODE",
            "RESPONSE_CODE",
            "RESPONSE_DATA",
            "USE_3D",
            "RND",
            "INSTALLMENT",
            "AUTHORIZATION_AMOUNT",
            "CURRENCY_CODE",
        ] {
            if let Some(v) = parsed.text(key) {
                object.insert(key.into(), Value::String(v));
            }
        }
        object.insert("hashDataV2".into(), Value::String(signature));
        parsed = Answer::from_object(object);
    }
    let amount_sent = Kurus::from_minor(i64::from(flags >> 2) * 100 + 1).unwrap_or(Kurus::ZERO);
    match answer::payment_outcome(&parsed, KEY, amount_sent) {
        Outcome::Approved(approval) => {
            // The golden rule: an approval is signed, has an auth code and covers the
            // amount sent.
            assert!(verify(&parsed, KEY).is_ok(), "approved without a valid signature");
            assert!(approval.auth_code.is_some(), "approved without an auth code");
            assert!(
                approval.authorized_amount.is_some_and(|a| a >= amount_sent),
                "approved below the amount sent"
            );
        }
        Outcome::Declined(decline) => {
            assert!(!decline.message.tr.is_empty() && !decline.message.en.is_empty());
        }
        Outcome::Failed(_) | Outcome::Unknown(_) => {}
    }
    let _ = answer::reversal_outcome(&parsed);
    let _ = answer::refusal_kind(&parsed);
    for row in parsed.list("list").iter().chain(parsed.list("PaymentList").iter()) {
        let _ = answer::report_row(row);
    }
    // What goes into the attempt log keeps no card number.
    let scrubbed = scrub_card_numbers(text);
    assert_eq!(scrub_card_numbers(&scrubbed), scrubbed, "scrubbing is not stable");
});
