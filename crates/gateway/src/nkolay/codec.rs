//! N Kolay's wire formats: answer unwrapping, key spellings, amounts, dates, rates.
//!
//! Answers are JSON, sometimes wrapped as `{"result":"<json>"}` or
//! `{"id":"","result":{...}}`; keys come as `RESPONSE_CODE` or `responseCode`; numbers as
//! JSON numbers or strings. [`Answer`] hides all of that behind one lookup.

use chrono::{DateTime, FixedOffset, NaiveDate, NaiveDateTime};
use serde_json::{Map, Value};

use sanalpos_core::Kurus;

pub use sanalpos_core::time::{istanbul, now_istanbul};

/// A parsed answer: one JSON object, reached through any wrapping, looked up by key
/// without regard to case or underscores (keys are normalized once, on construction).
#[derive(Debug, Clone)]
pub struct Answer {
    object: Map<String, Value>,
}

/// Why a body is not an answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("provider answer is not a JSON object: {0}")]
pub struct CodecError(pub String);

/// How deep wrappers may nest before we give up.
const MAX_WRAPPING: usize = 4;

/// `RESPONSE_CODE`, `responseCode` and `ResponseCode` are the same key.
fn normalize(key: &str) -> String {
    key.chars()
        .filter(|c| *c != '_')
        .flat_map(char::to_lowercase)
        .collect()
}

impl Answer {
    /// Parses a body, unwrapping `result` (as an object or as a JSON string) until an
    /// object that is not a bare wrapper is reached.
    pub fn parse(body: &str) -> Result<Answer, CodecError> {
        let mut value: Value = serde_json::from_str(body.trim_start_matches('\u{feff}'))
            .map_err(|e| CodecError(e.to_string()))?;
        for _ in 0..=MAX_WRAPPING {
            // A JSON string holding JSON.
            if let Value::String(inner) = &value {
                value = serde_json::from_str(inner).map_err(|e| CodecError(e.to_string()))?;
                continue;
            }
            let Value::Object(object) = value else {
                return Err(CodecError("expected an object".into()));
            };
            let has_code = object.keys().any(|k| normalize(k) == "responsecode");
            let result = object
                .iter()
                .find(|(k, _)| normalize(k) == "result")
                .map(|(_, v)| v.clone());
            match result {
                Some(inner @ (Value::Object(_) | Value::String(_))) if !has_code => value = inner,
                _ => return Ok(Answer::from_object(object)),
            }
        }
        Err(CodecError("answer nested too deeply".into()))
    }

    /// From an object already in hand (a list row). When two keys normalize to the
    /// same name, the first one wins.
    pub fn from_object(object: Map<String, Value>) -> Answer {
        let mut normalized = Map::with_capacity(object.len());
        for (key, value) in object {
            normalized.entry(normalize(&key)).or_insert(value);
        }
        Answer { object: normalized }
    }

    fn raw(&self, key: &str) -> Option<&Value> {
        self.object.get(&normalize(key))
    }

    /// A field as text: strings as they are, numbers in their original spelling,
    /// booleans as `true`/`false`; `None` when absent or null.
    pub fn text(&self, key: &str) -> Option<String> {
        match self.raw(key)? {
            Value::String(s) => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            Value::Bool(b) => Some(b.to_string()),
            _ => None,
        }
    }

    /// The first of several spellings that is present (`COMMISION` / `COMMISSION`).
    pub fn text_any(&self, keys: &[&str]) -> Option<String> {
        keys.iter().find_map(|k| self.text(k))
    }

    /// A trimmed, non-empty field.
    pub fn non_empty(&self, key: &str) -> Option<String> {
        self.text(key)
            .map(|s| s.trim().to_owned())
            .filter(|s| !s.is_empty())
    }

    /// A nested object (`Data`, `cards`), keys in any case.
    pub fn object(&self, key: &str) -> Option<Answer> {
        match self.raw(key) {
            Some(Value::Object(o)) => Some(Answer::from_object(o.clone())),
            _ => None,
        }
    }

    /// A list of objects (`LIST`, `List`, `PAYMENT_BANK_LIST`).
    pub fn list(&self, key: &str) -> Vec<Answer> {
        match self.raw(key) {
            Some(Value::Array(items)) => items
                .iter()
                .filter_map(|item| match item {
                    Value::Object(o) => Some(Answer::from_object(o.clone())),
                    _ => None,
                })
                .collect(),
            _ => Vec::new(),
        }
    }

    /// `RESPONSE_CODE` / `responseCode` as text.
    pub fn response_code(&self) -> Option<String> {
        self.non_empty("RESPONSE_CODE")
    }
}

/// `150.00`: dot decimal, exactly two places.
pub fn format_amount(amount: Kurus) -> String {
    amount.to_decimal_string()
}

/// Reads an amount as the provider writes it: `150.00`, `150`, `150.5`, or a number
/// with trailing zeros (`150.000`); also Turkish `1.234,56` when a comma is present.
pub fn parse_amount(text: &str) -> Option<Kurus> {
    let text = text.trim();
    if text.contains(',') {
        return Kurus::parse_tr(text).ok();
    }
    match text.split_once('.') {
        // Byte slicing is safe here: every byte of `frac` is an ASCII digit.
        Some((whole, frac))
            if frac.len() > 2
                && frac.bytes().all(|b| b.is_ascii_digit())
                && frac[2..].bytes().all(|b| b == b'0') =>
        {
            Kurus::parse(&format!("{whole}.{}", &frac[..2])).ok()
        }
        _ => Kurus::parse(text).ok(),
    }
}

/// A rate in percent (`2.49`, `2,49`, `2`) as basis points (249).
pub fn parse_rate_bp(text: &str) -> Option<u32> {
    let amount = parse_amount(&text.trim().replace(',', "."))?;
    u32::try_from(amount.minor()).ok()
}

/// `29-08-2025 14:23:57`: the `rnd` of a payment request.
pub fn format_rnd(at: DateTime<FixedOffset>) -> String {
    at.format("%d-%m-%Y %H:%M:%S").to_string()
}

/// `DD.MM.YYYY`: list and report dates.
pub fn format_list_date(date: NaiveDate) -> String {
    date.format("%d.%m.%Y").to_string()
}

/// `yyyy.MM.dd`: the original sale's date in cancel and refund requests.
pub fn format_trx_date(date: NaiveDate) -> String {
    date.format("%Y.%m.%d").to_string()
}

/// `yyyy-MM-dd`: the pre-authorisation's date in capture and release, and the window
/// of the pre-authorisation list.
pub fn format_pre_auth_date(date: NaiveDate) -> String {
    date.format("%Y-%m-%d").to_string()
}

/// `dd.MM.yyyy HH:mm:ss` (and a few other spellings seen in answers).
pub fn parse_datetime(text: &str) -> Option<NaiveDateTime> {
    let text = text.trim();
    [
        "%d.%m.%Y %H:%M:%S",
        "%d.%m.%Y %H:%M",
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%d %H:%M:%S",
        "%d-%m-%Y %H:%M:%S",
    ]
    .iter()
    .find_map(|f| NaiveDateTime::parse_from_str(text, f).ok())
}

/// `YYYYMMDD`, `dd.MM.yyyy` or `yyyy-MM-dd`.
pub fn parse_date(text: &str) -> Option<NaiveDate> {
    let text = text.trim();
    ["%Y%m%d", "%d.%m.%Y", "%Y-%m-%d", "%Y.%m.%d"]
        .iter()
        .find_map(|f| NaiveDate::parse_from_str(text, f).ok())
        .or_else(|| parse_datetime(text).map(|dt| dt.date()))
}

/// `true`, `True`, `1`, `E` (evet) are true.
pub fn parse_bool(text: &str) -> Option<bool> {
    match text.trim().to_ascii_lowercase().as_str() {
        "true" | "1" | "e" | "evet" | "yes" => Some(true),
        "false" | "0" | "h" | "hayir" | "hayır" | "no" => Some(false),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unwraps_every_shape() {
        let flat = Answer::parse(r#"{"RESPONSE_CODE":2,"AUTH_CODE":"123"}"#).unwrap();
        assert_eq!(flat.response_code().as_deref(), Some("2"));
        let wrapped =
            Answer::parse(r#"{"id":"","result":{"responseCode":"2","List":[{"a":1}]}}"#).unwrap();
        assert_eq!(wrapped.response_code().as_deref(), Some("2"));
        assert_eq!(wrapped.list("LIST").len(), 1);
        let stringly = Answer::parse(
            r#"{"result":"{\"RESPONSE_CODE\":9,\"RESPONSE_DATA\":\"API : hashData error :: \"}"}"#,
        )
        .unwrap();
        assert_eq!(stringly.response_code().as_deref(), Some("9"));
        assert_eq!(
            stringly.text("responseData").as_deref(),
            Some("API : hashData error :: ")
        );
        assert!(Answer::parse("{\"RESPONSE_CODE\":\"2\",").is_err());
        assert!(Answer::parse("[1,2]").is_err());
        assert!(Answer::parse("\"\"").is_err());
    }

    #[test]
    fn numbers_keep_their_spelling() {
        let a = Answer::parse(r#"{"AUTHORIZATION_AMOUNT":150.00,"INSTALLMENT":1}"#).unwrap();
        assert_eq!(a.text("AUTHORIZATION_AMOUNT").as_deref(), Some("150.00"));
        assert_eq!(a.text("installment").as_deref(), Some("1"));
    }

    #[test]
    fn amounts_rates_and_dates() {
        assert_eq!(parse_amount("150.00").unwrap().minor(), 15_000);
        assert_eq!(parse_amount("150.000").unwrap().minor(), 15_000);
        assert_eq!(parse_amount("1.234,56").unwrap().minor(), 123_456);
        assert_eq!(parse_amount("150.005"), None);
        // Found by fuzzing: a multi-byte letter after the point used to panic.
        assert_eq!(parse_amount("1.2şarılı"), None);
        assert_eq!(parse_amount("1.00ş"), None);
        assert_eq!(parse_rate_bp("2.49"), Some(249));
        assert_eq!(parse_rate_bp("2,5"), Some(250));
        let d = NaiveDate::from_ymd_opt(2026, 10, 5).unwrap();
        assert_eq!(format_list_date(d), "05.10.2026");
        assert_eq!(format_trx_date(d), "2026.10.05");
        assert_eq!(format_pre_auth_date(d), "2026-10-05");
        assert_eq!(parse_date("20261005"), Some(d));
        assert_eq!(parse_date("05.10.2026 14:05:00"), Some(d));
        assert_eq!(
            parse_datetime("05.10.2026 14:05:09").unwrap().to_string(),
            "2026-10-05 14:05:09"
        );
        let at = NaiveDate::from_ymd_opt(2025, 8, 29)
            .unwrap()
            .and_hms_opt(14, 23, 57)
            .unwrap()
            .and_local_timezone(istanbul())
            .unwrap();
        assert_eq!(format_rnd(at), "29-08-2025 14:23:57");
    }
}
