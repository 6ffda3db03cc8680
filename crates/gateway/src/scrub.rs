//! Masking card numbers in provider payloads before they are stored.

use sanalpos_core::card::luhn_valid;

/// Replaces every run of 12 to 19 digits that passes the Luhn check with its masked
/// form (first six, `*`, last four), so a provider answer can go into the attempt log.
/// Runs that fail Luhn (amounts, dates, references) are left as they are.
pub fn scrub_card_numbers(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i].is_ascii_digit() {
            let start = i;
            while i < bytes.len() && bytes[i].is_ascii_digit() {
                i += 1;
            }
            let run = &text[start..i];
            if (12..=19).contains(&run.len()) && luhn_valid(run) {
                out.push_str(&run[..6]);
                out.extend(std::iter::repeat_n('*', run.len() - 10));
                out.push_str(&run[run.len() - 4..]);
            } else {
                out.push_str(run);
            }
        } else {
            let ch = text[i..].chars().next().unwrap_or('\u{fffd}');
            out.push(ch);
            i += ch.len_utf8();
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_luhn_runs_only() {
        let text = r#"{"cardNumber":"4546711234567894","amount":"150.00","ref":"123456789012"}"#;
        let scrubbed = scrub_card_numbers(text);
        assert!(scrubbed.contains("454671******7894"));
        assert!(!scrubbed.contains("4546711234567894"));
        assert!(scrubbed.contains("150.00"));
        assert_eq!(
            scrub_card_numbers("İşlem 5200190006338608 ok"),
            "İşlem 520019******8608 ok"
        );
    }
}
