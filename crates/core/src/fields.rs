//! Fields a shop or a person types about a payment: the order and customer references
//! and the URL a browser returns to. Each is built only through a `parse` that can
//! fail, the one place its rules are written; the API, the back-office forms and the
//! service all come through here.

use std::fmt;

/// `text.trim()`, without looking at its characters when it starts and ends with a
/// visible ASCII character, as most values do: whitespace, Unicode's included, never
/// starts with such a byte. For the parsers that read millions of cells.
#[inline]
pub fn trim(text: &str) -> &str {
    match (text.as_bytes().first(), text.as_bytes().last()) {
        (Some(first), Some(last)) if first.is_ascii_graphic() && last.is_ascii_graphic() => text,
        _ => text.trim(),
    }
}

/// Why a typed text field is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TextError {
    /// Nothing but spaces.
    #[error("must not be empty")]
    Empty,
    /// Longer than the field allows (characters, after trimming).
    #[error("at most {0} characters")]
    TooLong(usize),
    /// Holds a control character (a line break, a tab, …).
    #[error("no control characters")]
    Control,
}

/// `value` trimmed, refused when longer than `max` characters or holding a control
/// character; `None` when it is missing or blank. The rule of every free-text field of
/// a payment (its references and description).
pub fn optional_text(value: Option<&str>, max: usize) -> Result<Option<String>, TextError> {
    match value.map(str::trim) {
        None | Some("") => Ok(None),
        Some(v) if v.chars().count() > max => Err(TextError::TooLong(max)),
        Some(v) if v.chars().any(char::is_control) => Err(TextError::Control),
        Some(v) => Ok(Some(v.to_owned())),
    }
}

macro_rules! reference {
    ($(#[$doc:meta])* $name:ident, $max:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash)]
        pub struct $name(String);

        impl $name {
            /// The most characters it may hold.
            pub const MAX_CHARS: usize = $max;

            /// Trimmed; refused when blank, too long or holding a control character.
            pub fn parse(text: &str) -> Result<$name, TextError> {
                $name::parse_optional(Some(text))?.ok_or(TextError::Empty)
            }

            /// Like [`Self::parse`], but a missing or blank value is `None`.
            pub fn parse_optional(text: Option<&str>) -> Result<Option<$name>, TextError> {
                Ok(optional_text(text, $max)?.map($name))
            }

            /// The reference.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl From<$name> for String {
            fn from(value: $name) -> String {
                value.0
            }
        }
    };
}

reference!(
    /// The shop's order (sipariş) reference of a payment or checkout session: 1 to 100
    /// characters, no control characters.
    OrderRef, 100
);
reference!(
    /// The customer account (cari) reference of a payment or checkout session: 1 to 100
    /// characters, no control characters.
    CustomerRef, 100
);

/// Why a URL is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("an absolute http(s) URL of at most {max} characters", max = ReturnUrl::MAX_LEN)]
pub struct UrlError;

/// Where the cardholder's browser goes back to after 3D Secure or the hosted page: an
/// absolute http(s) URL with a host, at most 2000 characters.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ReturnUrl(String);

impl ReturnUrl {
    /// The longest URL accepted, in bytes.
    pub const MAX_LEN: usize = 2000;

    /// Trimmed; refused unless [`is_absolute_http`] and at most [`Self::MAX_LEN`].
    pub fn parse(text: &str) -> Result<ReturnUrl, UrlError> {
        let url = text.trim();
        if url.len() <= Self::MAX_LEN && is_absolute_http(url) {
            Ok(ReturnUrl(url.to_owned()))
        } else {
            Err(UrlError)
        }
    }

    /// The URL.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ReturnUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<ReturnUrl> for String {
    fn from(value: ReturnUrl) -> String {
        value.0
    }
}

/// An absolute http(s) URL with a host that parses as a URL: what a browser can be sent
/// to and a webhook can be posted to. Square brackets in the authority only around an
/// IPv6 address (`http://[zz/` is not a URL; generic URL parsers refuse it).
pub fn is_absolute_http(url: &str) -> bool {
    let Some(rest) = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))
    else {
        return false;
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    if authority.is_empty() || url.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return false;
    }
    let Ok(parsed) = url::Url::parse(url) else {
        return false;
    };
    let Some(host) = parsed.host_str() else {
        return false;
    };
    let brackets = authority.matches(['[', ']']).count();
    brackets == 0 || (brackets == 2 && host.starts_with('[') && authority.contains(host))
}

#[cfg(test)]
mod tests {
    use super::*;

    proptest::proptest! {
        /// The quick trim is `str::trim`, for any text (Unicode spaces included).
        #[test]
        fn trim_is_str_trim(text in "(\\PC|[ \t\u{a0}\u{3000}])*") {
            proptest::prop_assert_eq!(trim(&text), text.trim());
        }
    }

    #[test]
    fn references_are_trimmed_and_checked() {
        assert_eq!(OrderRef::parse("  SO-1 ").unwrap().as_str(), "SO-1");
        assert_eq!(OrderRef::parse("   "), Err(TextError::Empty));
        assert_eq!(OrderRef::parse_optional(Some("  ")), Ok(None));
        assert_eq!(OrderRef::parse_optional(None), Ok(None));
        assert_eq!(
            OrderRef::parse(&"ş".repeat(101)),
            Err(TextError::TooLong(100))
        );
        assert!(OrderRef::parse(&"ş".repeat(100)).is_ok());
        assert_eq!(CustomerRef::parse("a\nb"), Err(TextError::Control));
        // Length is judged first, as the API has always answered.
        assert_eq!(
            optional_text(Some(&format!("{}\n", "x".repeat(10))), 5),
            Err(TextError::TooLong(5))
        );
        assert_eq!(
            TextError::TooLong(100).to_string(),
            "at most 100 characters"
        );
        assert_eq!(TextError::Control.to_string(), "no control characters");
    }

    #[test]
    fn return_urls() {
        assert_eq!(
            ReturnUrl::parse(" https://shop.example/r ")
                .unwrap()
                .as_str(),
            "https://shop.example/r"
        );
        assert!(ReturnUrl::parse(&format!("https://shop.example/{}", "a".repeat(2000))).is_err());
        assert_eq!(
            UrlError.to_string(),
            "an absolute http(s) URL of at most 2000 characters"
        );
        assert!(is_absolute_http("https://shop.example/return?x=1"));
        assert!(is_absolute_http("http://127.0.0.1:8080/r"));
        assert!(!is_absolute_http("/relative"));
        assert!(!is_absolute_http("javascript:alert(1)"));
        assert!(!is_absolute_http("https:///nohost"));
        assert!(is_absolute_http("http://[::1]:8080/r"));
        assert!(is_absolute_http("https://user:pass@hooks.example/in"));
        for broken in [
            "http://[zz/",
            "https://[::1/r",
            "http://a]b/",
            "http://us[er@shop.example/",
            "http://a[@[::1]/",
            "https://exa%mple.com/",
        ] {
            assert!(!is_absolute_http(broken), "{broken}");
        }
    }
}
