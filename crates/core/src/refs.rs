//! Identifiers exchanged with the provider, each parsed once at the edge.

use std::fmt;

use compact_str::CompactString;
use serde::{Deserialize, Serialize};

/// Why a text is not a valid identifier.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{kind} must be 1 to {max} printable ASCII characters without spaces or '|'")]
pub struct RefError {
    kind: &'static str,
    max: usize,
}

fn check(text: &str, kind: &'static str, max: usize) -> Result<CompactString, RefError> {
    let ok = !text.is_empty()
        && text.len() <= max
        && text.bytes().all(|b| b.is_ascii_graphic() && b != b'|');
    if ok {
        Ok(CompactString::from(text))
    } else {
        Err(RefError { kind, max })
    }
}

macro_rules! reference {
    ($(#[$doc:meta])* $name:ident, $kind:literal, $max:literal) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(CompactString);

        impl $name {
            /// Accepts 1 to the maximum length of printable ASCII, no spaces, no `|`
            /// (the provider's hash separator).
            pub fn parse(text: &str) -> Result<Self, RefError> {
                check(text, $kind, $max).map($name)
            }

            /// The identifier as sent on the wire.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({})", stringify!($name), self.0)
            }
        }

        impl TryFrom<String> for $name {
            type Error = RefError;
            fn try_from(text: String) -> Result<Self, RefError> {
                $name::parse(&text)
            }
        }

        impl From<$name> for String {
            fn from(value: $name) -> String {
                value.0.into_string()
            }
        }
    };
}

reference!(
    /// The bank's authorization (provision) code of an approved transaction. A code of
    /// only zeros is not an authorization, so `parse` refuses `0` and `00`.
    AuthCode, "auth code", 32
);
reference!(
    /// The provider's id of a transaction (N Kolay `REFERENCE_CODE`, `IKSIRPF…`).
    ProviderRef, "provider reference", 64
);
reference!(
    /// Our id of one provider call, unique per attempt (N Kolay `clientRefCode`).
    ClientRef, "client reference", 64
);

impl ClientRef {
    /// A new reference for one provider call: 24 random base62 characters, which
    /// every provider accepts (N Kolay `clientRefCode`, NestPay `oid`).
    pub fn generate() -> ClientRef {
        use rand::distr::{Alphanumeric, SampleString};
        ClientRef(CompactString::from(
            Alphanumeric.sample_string(&mut rand::rng(), 24),
        ))
    }
}

impl AuthCode {
    /// Like [`AuthCode::parse`], but `None` for empty or all-zero codes, which the
    /// provider sends on declines.
    pub fn parse_approval(text: &str) -> Option<AuthCode> {
        let text = text.trim();
        if text.bytes().all(|b| b == b'0') {
            return None;
        }
        AuthCode::parse(text).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refs_are_checked() {
        assert!(ProviderRef::parse("IKSIRPF123").is_ok());
        assert!(ProviderRef::parse("").is_err());
        assert!(ClientRef::parse("a|b").is_err());
        assert!(ClientRef::parse("with space").is_err());
        assert!(ClientRef::parse(&"x".repeat(65)).is_err());
        let fresh = ClientRef::generate();
        assert_eq!(ClientRef::parse(fresh.as_str()), Ok(fresh.clone()));
        assert_eq!(fresh.as_str().len(), 24);
        assert_ne!(fresh, ClientRef::generate());
        assert_eq!(AuthCode::parse_approval("00"), None);
        assert_eq!(AuthCode::parse_approval(""), None);
        assert_eq!(AuthCode::parse_approval("0"), None);
        assert_eq!(
            AuthCode::parse_approval("123456").unwrap().as_str(),
            "123456"
        );
    }
}
