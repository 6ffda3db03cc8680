//! Garanti merchants and the simulator's start-up configuration.
//!
//! A Garanti merchant is what the bank hands a company: a merchant number, a terminal,
//! a provision user (PROVAUT) and a refund user (PROVRFN) each with a password, and a
//! 3D store key. The optional switches change what the simulated bank accepts.

use std::fmt;
use std::net::IpAddr;
use std::path::Path;
use std::time::Duration;

use rand::distr::{Alphanumeric, SampleString};
use rand::Rng;
use serde::{Deserialize, Serialize};

use crate::merchant_file::{self, MerchantDefinition};
use crate::SimError;

/// The installment counts a merchant gets when its definition names none.
pub const DEFAULT_INSTALLMENTS: &[u8] = &[2, 3, 6, 9, 12];

fn default_installments() -> Vec<u8> {
    DEFAULT_INSTALLMENTS.to_vec()
}

fn is_default_installments(counts: &[u8]) -> bool {
    counts == DEFAULT_INSTALLMENTS
}

fn prov_user() -> String {
    "PROVAUT".into()
}

fn refund_user() -> String {
    "PROVRFN".into()
}

fn is_prov_user(user: &str) -> bool {
    user == "PROVAUT"
}

fn is_refund_user(user: &str) -> bool {
    user == "PROVRFN"
}

/// One merchant of the simulated bank. The file written by
/// [`load_or_create_merchant_file`] holds `merchant_id`, `terminal_id`,
/// `prov_password`, `refund_password` and `store_key`; the users default to PROVAUT
/// and PROVRFN.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GarantiMerchant {
    /// `MerchantID` (işyeri no), e.g. `7000679`.
    pub merchant_id: String,
    /// `Terminal/ID`, eight digits, e.g. `30691298`; merchants are keyed by it.
    pub terminal_id: String,
    /// The provision user.
    #[serde(default = "prov_user", skip_serializing_if = "is_prov_user")]
    pub prov_user: String,
    /// Its password.
    pub prov_password: String,
    /// The refund user (void and refund).
    #[serde(default = "refund_user", skip_serializing_if = "is_refund_user")]
    pub refund_user: String,
    /// Its password.
    pub refund_password: String,
    /// The 3D store key.
    pub store_key: String,
    /// Client IPs allowed to call the XML API; `None` allows any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allowed_ips: Option<Vec<IpAddr>>,
    /// Installment counts the merchant has a plan for (besides a single payment).
    #[serde(
        default = "default_installments",
        skip_serializing_if = "is_default_installments"
    )]
    pub installments: Vec<u8>,
}

impl fmt::Debug for GarantiMerchant {
    /// Shows the numbers, the users and the switches, never a password or the key.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GarantiMerchant")
            .field("merchant_id", &self.merchant_id)
            .field("terminal_id", &self.terminal_id)
            .field("prov_user", &self.prov_user)
            .field("refund_user", &self.refund_user)
            .field("passwords", &"<redacted>")
            .field("store_key", &"<redacted>")
            .field("allowed_ips", &self.allowed_ips)
            .field("installments", &self.installments)
            .finish()
    }
}

impl GarantiMerchant {
    /// The bank's public test terminal (7000679 / 30691298, `123qweASD/` for both
    /// users, store key `12345678`), which mews' tests use; seed it to replay them.
    pub fn test_platform() -> GarantiMerchant {
        GarantiMerchant {
            merchant_id: "7000679".into(),
            terminal_id: "30691298".into(),
            prov_user: prov_user(),
            prov_password: "123qweASD/".into(),
            refund_user: refund_user(),
            refund_password: "123qweASD/".into(),
            store_key: "12345678".into(),
            allowed_ips: None,
            installments: default_installments(),
        }
    }

    /// A random merchant: a 7-digit merchant number, an 8-digit terminal, two
    /// 12-character passwords and a 16-character store key.
    pub fn generate() -> GarantiMerchant {
        let mut rng = rand::rng();
        GarantiMerchant {
            merchant_id: format!("7{:06}", rng.random_range(0..1_000_000u32)),
            terminal_id: format!("3{:07}", rng.random_range(0..10_000_000u32)),
            prov_user: prov_user(),
            prov_password: Alphanumeric.sample_string(&mut rng, 12),
            refund_user: refund_user(),
            refund_password: Alphanumeric.sample_string(&mut rng, 12),
            store_key: Alphanumeric.sample_string(&mut rng, 16),
            allowed_ips: None,
            installments: default_installments(),
        }
    }

    /// Checks the definition; the error names the field, never a secret.
    pub fn validate(&self) -> Result<(), SimError> {
        let bad = |what: &str| Err(SimError::InvalidMerchant(what.to_owned()));
        let digits = |t: &str, min: usize, max: usize| {
            (min..=max).contains(&t.len()) && t.bytes().all(|b| b.is_ascii_digit())
        };
        if !digits(&self.merchant_id, 1, 12) {
            return bad("merchant_id must be 1 to 12 digits");
        }
        if !digits(&self.terminal_id, 8, 9) {
            return bad("terminal_id must be 8 or 9 digits");
        }
        if self.prov_user.trim().is_empty() || self.refund_user.trim().is_empty() {
            return bad("prov_user and refund_user must not be empty");
        }
        if self.prov_password.is_empty() || self.refund_password.is_empty() {
            return bad("prov_password and refund_password must not be empty");
        }
        if self.store_key.is_empty() {
            return bad("store_key must not be empty");
        }
        if self.installments.iter().any(|n| !(2..=36).contains(n)) {
            return bad("installments must be counts from 2 to 36");
        }
        Ok(())
    }
}

/// How the Garanti simulator is started.
#[derive(Debug, Clone)]
pub struct GarantiConfig {
    /// The merchants it serves (more through `/_sim/merchants` in test mode).
    pub merchants: Vec<GarantiMerchant>,
    /// Enables the control endpoints under `/_sim/`; without it they answer 404.
    pub test_mode: bool,
    /// How long fault card 4000000000009011 keeps the caller waiting.
    pub slow_answer_delay: Duration,
}

impl Default for GarantiConfig {
    /// No merchants, control endpoints off, a 40 s slow answer.
    fn default() -> GarantiConfig {
        GarantiConfig {
            merchants: Vec::new(),
            test_mode: false,
            slow_answer_delay: Duration::from_secs(40),
        }
    }
}

/// Reads the merchants from `path` (one JSON object or an array of them). When the file
/// does not exist, creates it with one generated merchant, readable by the owner only.
pub fn load_or_create_merchant_file(path: &Path) -> Result<Vec<GarantiMerchant>, SimError> {
    merchant_file::load_or_create(path)
}

impl MerchantDefinition for GarantiMerchant {
    fn generate() -> GarantiMerchant {
        GarantiMerchant::generate()
    }

    fn validate(&self) -> Result<(), SimError> {
        GarantiMerchant::validate(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_merchants_are_valid_redacted_and_written_with_five_keys() {
        let m = GarantiMerchant::generate();
        m.validate().unwrap();
        let shown = format!("{m:?}");
        assert!(!shown.contains(&m.store_key) && !shown.contains(&m.prov_password));
        let json = serde_json::to_value(&m).unwrap();
        let keys: Vec<&String> = json.as_object().unwrap().keys().collect();
        assert_eq!(
            keys,
            [
                "merchant_id",
                "terminal_id",
                "prov_password",
                "refund_password",
                "store_key"
            ]
        );
        let read: GarantiMerchant = serde_json::from_value(json).unwrap();
        assert_eq!(read.prov_user, "PROVAUT");
        GarantiMerchant::test_platform().validate().unwrap();
    }
}
