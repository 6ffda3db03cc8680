//! The field types of the JSON bodies the API reads with serde.
//!
//! serde's own error texts quote the offending value, and a value may be a card number.
//! Each type here accepts any JSON value and, when it is not what the field takes, fails
//! with the end of a sentence (`" must be a string"`) that [`super::body::parse`] puts
//! after the field's path (`card.number must be a string`): the value is never repeated.

use std::net::IpAddr;

use serde::de::{Deserialize, Deserializer, Error};
use serde_json::Value;

use sanalpos_core::{Currency, Kurus};

/// The JSON value of a field; `null` is a missing value.
fn value<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Value, D::Error> {
    match Value::deserialize(deserializer)? {
        Value::Null => Err(D::Error::custom(" is required")),
        other => Ok(other),
    }
}

/// A text.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Text(pub String);

impl<'de> Deserialize<'de> for Text {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        match value(deserializer)? {
            Value::String(text) => Ok(Text(text)),
            _ => Err(D::Error::custom(" must be a string")),
        }
    }
}

/// Digits given as a text or a whole number (`"01"` or `1`), as text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Digits(pub String);

impl<'de> Deserialize<'de> for Digits {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        match value(deserializer)? {
            Value::String(text) => Ok(Digits(text)),
            Value::Number(n) if n.is_u64() => Ok(Digits(n.to_string())),
            _ => Err(D::Error::custom(" must be a string or a whole number")),
        }
    }
}

/// An amount: a decimal string (`"150.00"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Amount(pub Kurus);

impl<'de> Deserialize<'de> for Amount {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        match value(deserializer)? {
            Value::String(text) => Kurus::parse(&text)
                .map(Amount)
                .map_err(|e| D::Error::custom(format!(": {e}"))),
            _ => Err(D::Error::custom(" must be a string")),
        }
    }
}

/// A currency by its ISO 4217 alpha code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CurrencyCode(pub Currency);

impl<'de> Deserialize<'de> for CurrencyCode {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        match value(deserializer)? {
            Value::String(code) => Currency::from_alpha(&code)
                .map(CurrencyCode)
                .ok_or_else(|| D::Error::custom(" must be TRY, USD or EUR")),
            _ => Err(D::Error::custom(" must be a string")),
        }
    }
}

/// An installment count, 1 to 12.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Installments(pub u8);

impl<'de> Deserialize<'de> for Installments {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        match value(deserializer)?.as_u64() {
            Some(n @ 1..=12) => Ok(Installments(n as u8)),
            Some(_) => Err(D::Error::custom(" must be 1 to 12")),
            None => Err(D::Error::custom(" must be a whole number")),
        }
    }
}

/// `true` or `false`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Switch(pub bool);

impl<'de> Deserialize<'de> for Switch {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        match value(deserializer)? {
            Value::Bool(on) => Ok(Switch(on)),
            _ => Err(D::Error::custom(" must be true or false")),
        }
    }
}

/// When the money of a payment is taken: `automatic` (a sale) or `manual` (a
/// pre-authorisation, captured or released later).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Capture(pub sanalpos_service::CaptureMode);

impl<'de> Deserialize<'de> for Capture {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        use sanalpos_service::CaptureMode;
        match value(deserializer)? {
            Value::String(text) => match text.as_str() {
                "automatic" => Ok(Capture(CaptureMode::Automatic)),
                "manual" => Ok(Capture(CaptureMode::Manual)),
                _ => Err(D::Error::custom(" must be \"automatic\" or \"manual\"")),
            },
            _ => Err(D::Error::custom(" must be a string")),
        }
    }
}

/// An IPv4 or IPv6 address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ip(pub IpAddr);

impl<'de> Deserialize<'de> for Ip {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        match value(deserializer)? {
            Value::String(text) => text
                .trim()
                .parse()
                .map(Ip)
                .map_err(|_| D::Error::custom(" must be an IPv4 or IPv6 address")),
            _ => Err(D::Error::custom(" must be a string")),
        }
    }
}

/// A whole number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Whole(pub u64);

impl<'de> Deserialize<'de> for Whole {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        value(deserializer)?
            .as_u64()
            .map(Whole)
            .ok_or_else(|| D::Error::custom(" must be a whole number"))
    }
}
