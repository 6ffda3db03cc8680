//! The currencies a POS can collect in.

use std::fmt;

use serde::{Deserialize, Serialize};

/// A currency with its ISO 4217 alpha and numeric codes.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default, utoipa::ToSchema,
)]
#[serde(rename_all = "UPPERCASE")]
#[schema(as = CurrencyCode)]
pub enum Currency {
    /// Turkish lira, 949.
    #[default]
    Try,
    /// US dollar, 840.
    Usd,
    /// Euro, 978.
    Eur,
}

impl Currency {
    /// Every supported currency.
    pub const ALL: [Currency; 3] = [Currency::Try, Currency::Usd, Currency::Eur];

    /// ISO 4217 alpha code: `TRY`.
    pub fn alpha(self) -> &'static str {
        match self {
            Currency::Try => "TRY",
            Currency::Usd => "USD",
            Currency::Eur => "EUR",
        }
    }

    /// ISO 4217 numeric code: `949`.
    pub fn numeric(self) -> u16 {
        match self {
            Currency::Try => 949,
            Currency::Usd => 840,
            Currency::Eur => 978,
        }
    }

    /// From the alpha code, any case (`try`, `TRY`); `TL` is accepted for lira.
    pub fn from_alpha(code: &str) -> Option<Currency> {
        let code = code.trim();
        if code.eq_ignore_ascii_case("TL") {
            return Some(Currency::Try);
        }
        Currency::ALL
            .into_iter()
            .find(|c| c.alpha().eq_ignore_ascii_case(code))
    }

    /// From the numeric code, as a number or text (`"949"`).
    pub fn from_numeric(code: &str) -> Option<Currency> {
        let code: u16 = code.trim().parse().ok()?;
        Currency::ALL.into_iter().find(|c| c.numeric() == code)
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.alpha())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip() {
        for c in Currency::ALL {
            assert_eq!(Currency::from_alpha(c.alpha()), Some(c));
            assert_eq!(Currency::from_numeric(&c.numeric().to_string()), Some(c));
        }
        assert_eq!(Currency::from_alpha("tl"), Some(Currency::Try));
        assert_eq!(Currency::from_numeric("826"), None);
        assert_eq!(serde_json::to_string(&Currency::Eur).unwrap(), "\"EUR\"");
    }
}
