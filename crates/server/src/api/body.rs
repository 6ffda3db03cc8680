//! Reading JSON bodies.
//!
//! serde's error texts quote the offending value, and a value may be a card number, so
//! a body is first read as a JSON tree (an error says where, not what), then into its
//! body type through [`parse`], whose errors name the field and never repeat what was
//! sent.

use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use crate::error::ApiError;

/// Reads a JSON object body into `T`, whose fields are of the types of
/// [`super::fields`]: an error names the field by its path (`card.number`) and says what
/// it must be, and never repeats what was sent.
pub fn parse<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    let json = JsonBody::parse(body)?;
    json.object()?;
    serde_path_to_error::deserialize(json.0).map_err(|e| {
        let at = e.path().to_string();
        let message = e.inner().to_string();
        let (field, tail) = match message.strip_prefix("missing field `") {
            Some(rest) => {
                let name = rest.split('`').next().unwrap_or_default();
                let field = if at == "." {
                    name.to_owned()
                } else {
                    format!("{at}.{name}")
                };
                (field, " is required")
            }
            // One of `super::fields`' sentence ends.
            None if message.starts_with([' ', ':']) => (at, message.as_str()),
            // serde's own: a nested object that is something else.
            None if message.starts_with("invalid type: null") => (at, " is required"),
            None if message.contains("expected struct") => (at, " must be an object"),
            None => (at, " is not valid"),
        };
        let text = format!("{field}{tail}");
        ApiError::invalid_at(field, text)
    })
}

/// A parsed JSON body.
pub struct JsonBody(Value);

impl JsonBody {
    /// Parses bytes as JSON; the error says where, not what.
    pub fn parse(body: &[u8]) -> Result<JsonBody, ApiError> {
        if std::str::from_utf8(body).is_err() {
            return Err(ApiError::invalid("body", "the body is not UTF-8"));
        }
        serde_json::from_slice(body).map(JsonBody).map_err(|e| {
            ApiError::invalid(
                "body",
                format!(
                    "the body is not valid JSON (line {}, column {})",
                    e.line(),
                    e.column()
                ),
            )
        })
    }

    /// The top-level object.
    pub fn object(&self) -> Result<&Map<String, Value>, ApiError> {
        match &self.0 {
            Value::Object(map) => Ok(map),
            _ => Err(ApiError::invalid("body", "the body must be a JSON object")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::fields::Text;

    #[derive(Debug, serde::Deserialize)]
    struct Card {
        number: Text,
    }

    #[derive(Debug, serde::Deserialize)]
    struct Body {
        card: Card,
    }

    fn refused(body: &[u8]) -> ApiError {
        parse::<Body>(body).err().unwrap()
    }

    #[test]
    fn errors_name_the_field_and_never_echo_values() {
        let read: Body = parse(br#"{"card": {"number": "4546"}, "other": 1}"#).unwrap();
        assert_eq!(read.card.number.0, "4546", "unknown fields are ignored");
        let err = refused(br#"{"card": {"number": 4546711234567894}}"#);
        assert_eq!(err.field.as_deref(), Some("card.number"));
        assert_eq!(err.message, "card.number must be a string");
        assert!(!err.body().contains("4546711234567894"));
        let err = refused(br#"{"card": "4546711234567894"}"#);
        assert_eq!(err.message, "card must be an object");
        assert!(!err.body().contains("4546711234567894"), "{}", err.body());
        assert_eq!(
            refused(br#"{"card": {}}"#).message,
            "card.number is required"
        );
        assert_eq!(
            refused(br#"{"card": {"number": null}}"#).message,
            "card.number is required"
        );
        assert_eq!(refused(br#"{}"#).message, "card is required");
        assert_eq!(refused(br#"[]"#).message, "the body must be a JSON object");
        let err = JsonBody::parse(br#"{"card": "4546711234567894"#)
            .err()
            .unwrap();
        assert!(!err.body().contains("4546711234567894"), "{}", err.body());
        assert!(JsonBody::parse(b"\xff\xfe").is_err());
    }

    fn refusal<T: DeserializeOwned>(body: &str) -> (String, String) {
        let err = parse::<T>(body.as_bytes()).err().unwrap();
        (err.field.unwrap_or_default().into_owned(), err.message)
    }

    fn said(field: &str, message: &str) -> (String, String) {
        (field.to_owned(), message.to_owned())
    }

    #[test]
    fn every_body_refuses_with_its_field_and_a_sentence() {
        use crate::api::checkout::CheckoutSessionBody;
        use crate::api::links::SendLinkBody;
        use crate::api::payments::RefundBody;
        use crate::api::recon::{ReconBody, ResolveBody};
        use crate::api::webhooks::WebhookEndpointBody;
        assert_eq!(
            refusal::<RefundBody>(r#"{"amount": "1.005"}"#),
            said("amount", "amount: amount has more than two decimal places")
        );
        assert_eq!(
            refusal::<RefundBody>(r#"{"amount": 5}"#),
            said("amount", "amount must be a string")
        );
        assert_eq!(
            refusal::<ReconBody>(r#"{"from": "2026-12-01", "to": "2026-12-01"}"#),
            said("pos_id", "pos_id is required")
        );
        assert_eq!(
            refusal::<ReconBody>(r#"{"pos_id": 7, "from": "2026-12-01", "to": "2026-12-01"}"#),
            said("pos_id", "pos_id must be a string")
        );
        assert_eq!(
            refusal::<ResolveBody>(r#"{"action": "merge"}"#),
            said("action", "action must be enter, force_match or dismiss")
        );
        assert_eq!(
            refusal::<ResolveBody>(r#"{"reason": 5, "action": "dismiss"}"#),
            said("reason", "reason must be a string")
        );
        assert_eq!(
            refusal::<CheckoutSessionBody>(r#"{"purpose": "order", "currency": "GBP"}"#),
            said("currency", "currency must be TRY, USD or EUR")
        );
        assert_eq!(
            refusal::<CheckoutSessionBody>(r#"{"purpose": "order", "max_installments": 0}"#),
            said("max_installments", "max_installments must be 1 to 12")
        );
        assert_eq!(
            refusal::<CheckoutSessionBody>(r#"{"purpose": "order", "expires_in": -1}"#),
            said("expires_in", "expires_in must be a whole number")
        );
        assert_eq!(
            refusal::<CheckoutSessionBody>(r#"{"purpose": "order", "min_amount": "x"}"#),
            said(
                "min_amount",
                "min_amount: amount is not a decimal number with at most two decimal places"
            )
        );
        assert_eq!(
            refusal::<CheckoutSessionBody>(r#"{"amount": "5.00"}"#),
            said("purpose", "purpose is required")
        );
        assert_eq!(
            refusal::<SendLinkBody>(r#"{"note": "hi"}"#),
            said("email", "email is required")
        );
        assert_eq!(
            refusal::<WebhookEndpointBody>(r#"{"url": "https://x.example", "events": "all"}"#),
            said("events", "events must be a list of event names")
        );
        assert_eq!(
            refusal::<WebhookEndpointBody>(r#"{"url": "https://x.example", "events": [1]}"#),
            said("events", "events must be event names")
        );
    }
}
