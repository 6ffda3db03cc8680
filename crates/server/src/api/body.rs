//! Reading JSON bodies.
//!
//! serde's error texts quote the offending value, and a value may be a card number, so
//! a body is first read as a JSON tree (an error says where, not what), then into its
//! body type through [`parse`], whose errors name the field and never repeat what was
//! sent. `Fields` reads the bodies still checked field by field.

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

/// An object inside a body, with its path for error texts.
pub struct Fields<'a> {
    map: &'a Map<String, Value>,
}

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
    pub fn object(&self) -> Result<Fields<'_>, ApiError> {
        match &self.0 {
            Value::Object(map) => Ok(Fields { map }),
            _ => Err(ApiError::invalid("body", "the body must be a JSON object")),
        }
    }
}

fn wrong(field: &'static str, expected: &str) -> ApiError {
    ApiError::invalid(field, format!("{field} must be {expected}"))
}

impl<'a> Fields<'a> {
    /// Whether the object has no fields at all.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    fn get(&self, name: &str) -> Option<&'a Value> {
        self.map.get(name).filter(|v| !v.is_null())
    }

    /// A required string.
    pub fn string(&self, name: &'static str) -> Result<String, ApiError> {
        self.string_as(name, name)
    }

    /// A required string, reported as `field` (`card.number`).
    pub fn string_as(&self, name: &str, field: &'static str) -> Result<String, ApiError> {
        match self.get(name) {
            Some(Value::String(s)) => Ok(s.clone()),
            Some(_) => Err(wrong(field, "a string")),
            None => Err(ApiError::invalid(field, format!("{field} is required"))),
        }
    }

    /// An optional string.
    pub fn optional_string(&self, name: &'static str) -> Result<Option<String>, ApiError> {
        match self.get(name) {
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(wrong(name, "a string")),
            None => Ok(None),
        }
    }

    /// An optional whole number.
    pub fn optional_integer(&self, name: &'static str) -> Result<Option<u64>, ApiError> {
        match self.get(name) {
            Some(Value::Number(n)) => n
                .as_u64()
                .map(Some)
                .ok_or_else(|| wrong(name, "a whole number")),
            Some(_) => Err(wrong(name, "a whole number")),
            None => Ok(None),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::fields::Text;

    #[derive(Debug, serde::Deserialize)]
    struct Card {
        #[allow(dead_code)]
        number: Text,
    }

    #[derive(Debug, serde::Deserialize)]
    struct Body {
        #[allow(dead_code)]
        card: Card,
    }

    fn refused(body: &[u8]) -> ApiError {
        parse::<Body>(body).err().unwrap()
    }

    #[test]
    fn errors_name_the_field_and_never_echo_values() {
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
}
