//! Reading JSON bodies field by field.
//!
//! serde's error texts quote the offending value, and a value may be a card number, so
//! bodies are read as a JSON tree and each field is checked here with an error that
//! names the field and never repeats what was sent.

use serde_json::{Map, Value};

use crate::error::ApiError;

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

    /// A required string or whole number, as text (`"01"` or `1`).
    pub fn digits_as(&self, name: &str, field: &'static str) -> Result<String, ApiError> {
        match self.get(name) {
            Some(Value::String(s)) => Ok(s.clone()),
            Some(Value::Number(n)) if n.is_u64() => Ok(n.to_string()),
            Some(_) => Err(wrong(field, "a string or a whole number")),
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

    /// An optional boolean.
    pub fn optional_bool(&self, name: &'static str) -> Result<Option<bool>, ApiError> {
        match self.get(name) {
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(_) => Err(wrong(name, "true or false")),
            None => Ok(None),
        }
    }

    /// A required nested object.
    pub fn child(&self, name: &'static str) -> Result<Fields<'a>, ApiError> {
        match self.get(name) {
            Some(Value::Object(map)) => Ok(Fields { map }),
            Some(_) => Err(wrong(name, "an object")),
            None => Err(ApiError::invalid(name, format!("{name} is required"))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_never_echo_values() {
        let body = br#"{"card": {"number": 4546711234567894}}"#;
        let json = JsonBody::parse(body).unwrap();
        let card = json.object().unwrap().child("card").unwrap();
        let err = card.string_as("number", "card.number").unwrap_err();
        assert_eq!(err.field.as_deref(), Some("card.number"));
        assert!(!err.body().contains("4546711234567894"));
        let err = JsonBody::parse(br#"{"card": "4546711234567894"#)
            .err()
            .unwrap();
        assert!(!err.body().contains("4546711234567894"), "{}", err.body());
        assert!(JsonBody::parse(b"\xff\xfe").is_err());
    }
}
