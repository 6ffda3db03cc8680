//! A 3D postback, as the browser posts it: form parsing never panics, an unsigned or
//! badly signed postback is never an approval, and the attempt log's copy keeps no card
//! number.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sanalpos_core::card::luhn_valid;
use sanalpos_core::Kurus;
use sanalpos_gateway::nkolay::answer::{self, verify};
use sanalpos_gateway::nkolay::codec::Answer;
use sanalpos_gateway::{scrub_card_numbers, Outcome, Postback};
use serde_json::Value;

const KEY: &str = "_YckdxUbv4vrnMUZ6VQsr";

fuzz_target!(|data: &[u8]| {
    let Ok(postback) = Postback::from_form(data) else {
        return;
    };
    let answer = Answer::from_object(
        postback
            .fields()
            .iter()
            .map(|(k, v)| (k.clone(), Value::String(v.clone())))
            .collect(),
    );
    let amount = Kurus::from_minor(10_000).unwrap_or(Kurus::ZERO);
    if let Outcome::Approved(_) = answer::payment_outcome(&answer, KEY, amount) {
        assert!(verify(&answer, KEY).is_ok(), "approved without a valid signature");
    }
    let _ = answer::provider_ref(&answer);
    for (_, value) in postback.fields() {
        let scrubbed = scrub_card_numbers(value);
        // No run of 12 to 19 digits that passes Luhn survives scrubbing.
        for run in scrubbed
            .split(|c: char| !c.is_ascii_digit())
            .filter(|r| (12..=19).contains(&r.len()))
        {
            assert!(!luhn_valid(run), "a card-like number survived scrubbing");
        }
    }
});
