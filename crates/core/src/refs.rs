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

/// Base62 digits in byte order, so that a number written with them at a fixed width
/// sorts as the number does.
const BASE62: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// Characters [`push_sortable_time`] writes: 62^8 ms is about 6,900 years.
pub const SORTABLE_TIME_CHARS: usize = 8;

/// Writes `at_ms` (Unix milliseconds, before 1970 read as 1970) as
/// [`SORTABLE_TIME_CHARS`] base62 characters, most significant first, so that strings
/// starting with it sort by time, byte by byte.
pub fn push_sortable_time(out: &mut String, at_ms: i64) {
    let mut time = [b'0'; SORTABLE_TIME_CHARS];
    let mut rest = u64::try_from(at_ms).unwrap_or(0);
    for digit in time.iter_mut().rev() {
        *digit = BASE62[(rest % 62) as usize];
        rest /= 62;
    }
    out.extend(time.iter().map(|&b| char::from(b)));
}

/// Length of a generated [`ClientRef`].
const CLIENT_REF_LEN: usize = 24;

impl ClientRef {
    /// A new reference for one provider call: [`ClientRef::generate_at`] now.
    pub fn generate() -> ClientRef {
        ClientRef::generate_at(chrono::Utc::now().timestamp_millis())
    }

    /// A reference for one provider call made at `at_ms`: 24 base62 characters, which
    /// every provider accepts (N Kolay `clientRefCode`, NestPay `oid`), the time
    /// ([`push_sortable_time`]) then 16 random ones (about 95 bits).
    ///
    /// A payment keeps its sale's reference in a unique index; references made later
    /// sort later, so a new one goes to the end of that index instead of a random leaf
    /// of it, one page a commit for all the sales the commit holds (BENCHMARKS.md,
    /// twenty-third sitting).
    pub fn generate_at(at_ms: i64) -> ClientRef {
        use rand::distr::{Alphanumeric, SampleString};
        let mut text = String::with_capacity(CLIENT_REF_LEN);
        push_sortable_time(&mut text, at_ms);
        Alphanumeric.append_string(
            &mut rand::rng(),
            &mut text,
            CLIENT_REF_LEN - SORTABLE_TIME_CHARS,
        );
        ClientRef(CompactString::from(text))
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

    #[test]
    fn generated_client_refs_sort_by_time_and_keep_their_shape() {
        let at = 1_764_979_200_000;
        let r = ClientRef::generate_at(at);
        assert_eq!(r.as_str().len(), 24);
        assert!(r.as_str().bytes().all(|b| b.is_ascii_alphanumeric()), "{r}");
        // 1,764,979,200,000 ms in base62 digits, most significant first.
        assert_eq!(&r.as_str()[..SORTABLE_TIME_CHARS], "0V4YKqxc");
        assert!(ClientRef::parse(r.as_str()).is_ok());
        for _ in 0..200 {
            let refs: Vec<ClientRef> = [0, 61, 62, at - 1, at, at + 1]
                .into_iter()
                .map(ClientRef::generate_at)
                .collect();
            assert!(
                refs.windows(2).all(|w| w[0].as_str() < w[1].as_str()),
                "{refs:?}"
            );
        }
        assert_eq!(&ClientRef::generate_at(-5).as_str()[..8], "00000000");
        // Sixteen random characters after the time: two of the same millisecond differ.
        assert_ne!(ClientRef::generate_at(at), ClientRef::generate_at(at));
        assert_eq!(ClientRef::generate().as_str().len(), 24);
    }
}
