//! A string that must not be printed: credentials, keys.

use std::fmt;

use zeroize::Zeroize;

/// A secret text (an `sx` token, a merchant secret key). `Debug` and `Display` print
/// `[redacted]`; the memory is wiped on drop; [`Secret::expose`] is the only way in.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret.
    pub fn new(value: impl Into<String>) -> Secret {
        Secret(value.into())
    }

    /// The secret itself, for signing and for the wire only.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Shows which credential is configured without showing it: the first four
    /// characters and the length of a long key (`1185…(88)`, four of 88 characters
    /// tell keys apart and give nothing useful away), only the length of a shorter
    /// secret such as a password (`…(8)`), where four characters would be half of it.
    pub fn masked(&self) -> String {
        let count = self.0.chars().count();
        if count >= MASK_HEAD_MIN_LEN {
            let head: String = self.0.chars().take(4).collect();
            format!("{head}…({count})")
        } else {
            format!("…({count})")
        }
    }
}

/// The shortest secret whose first four characters [`Secret::masked`] shows.
const MASK_HEAD_MIN_LEN: usize = 20;

impl Drop for Secret {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

impl From<String> for Secret {
    fn from(value: String) -> Secret {
        Secret(value)
    }
}

impl From<&str> for Secret {
    fn from(value: &str) -> Secret {
        Secret(value.to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn never_printed() {
        let s = Secret::new("_viH5wUS4HiBmmw9uGybN");
        assert_eq!(format!("{s:?} {s}"), "[redacted] [redacted]");
        assert_eq!(s.masked(), "_viH…(21)");
        assert_eq!(s.expose(), "_viH5wUS4HiBmmw9uGybN");
        assert_eq!(Secret::new("TRPS0200").masked(), "…(8)");
        assert_eq!(Secret::new("x".repeat(19)).masked(), "…(19)");
    }
}
