//! NestPay merchants and the simulator's start-up configuration.
//!
//! A NestPay merchant is what the bank hands a company with a virtual POS: a client id
//! (store number), an API user and password for the XML API, and a store key that ends
//! every 3D hash. The optional switches change what the simulated bank accepts from it.

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

/// One merchant of the simulated bank. The file written by
/// [`load_or_create_merchant_file`] holds exactly the four credential keys; the
/// switches are optional and default as documented.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NestpayMerchant {
    /// The store number (`ClientId` in the XML, `clientid` in 3D forms), e.g.
    /// `700655000200`.
    pub client_id: String,
    /// The API user (`Name`).
    pub api_user: String,
    /// The API password (`Password`).
    pub api_password: String,
    /// The store key that ends every ver3 hash.
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

impl fmt::Debug for NestpayMerchant {
    /// Shows the client id, the user and the switches, never the password or store key.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NestpayMerchant")
            .field("client_id", &self.client_id)
            .field("api_user", &self.api_user)
            .field("api_password", &"<redacted>")
            .field("store_key", &"<redacted>")
            .field("allowed_ips", &self.allowed_ips)
            .field("installments", &self.installments)
            .finish()
    }
}

impl NestpayMerchant {
    /// The public test merchant of the NestPay test platform (client id
    /// `700655000200`, `ISBANKAPI` / `ISBANK07`, store key `TRPS0200`), which mews'
    /// functional tests and CP.VPOS use; seed it to run their examples unchanged.
    pub fn test_platform() -> NestpayMerchant {
        NestpayMerchant {
            client_id: "700655000200".into(),
            api_user: "ISBANKAPI".into(),
            api_password: "ISBANK07".into(),
            store_key: "TRPS0200".into(),
            allowed_ips: None,
            installments: default_installments(),
        }
    }

    /// A random merchant: a 12-digit client id, an API user, a 12-character password
    /// and a 16-character store key; any IP, the default installment plan.
    pub fn generate() -> NestpayMerchant {
        let mut rng = rand::rng();
        let client_id = format!("700{:09}", rng.random_range(0..1_000_000_000u32));
        let suffix = Alphanumeric.sample_string(&mut rng, 6).to_ascii_uppercase();
        NestpayMerchant {
            client_id,
            api_user: format!("API{suffix}"),
            api_password: Alphanumeric.sample_string(&mut rng, 12),
            store_key: Alphanumeric.sample_string(&mut rng, 16),
            allowed_ips: None,
            installments: default_installments(),
        }
    }

    /// Checks the definition; the error names the field, never a secret.
    pub fn validate(&self) -> Result<(), SimError> {
        let bad = |what: &str| Err(SimError::InvalidMerchant(what.to_owned()));
        if !(1..=15).contains(&self.client_id.len())
            || !self.client_id.bytes().all(|b| b.is_ascii_digit())
        {
            return bad("client_id must be 1 to 15 digits");
        }
        if self.api_user.trim().is_empty() || self.api_user.len() > 255 {
            return bad("api_user must be 1 to 255 characters");
        }
        if self.api_password.is_empty() {
            return bad("api_password must not be empty");
        }
        if self.store_key.is_empty() {
            return bad("store_key must not be empty");
        }
        if self.installments.iter().any(|n| !(2..=36).contains(n)) {
            return bad("installments must be counts from 2 to 36");
        }
        Ok(())
    }

    /// `MERCHANTID` of the answers: the client id's last nine digits (the test
    /// platform's `700655000200` answers `655000200`).
    pub fn merchant_id(&self) -> &str {
        let len = self.client_id.len();
        &self.client_id[len.saturating_sub(9)..]
    }

    /// `TERMINALID` of the answers: `00` and the client id's last six digits (the
    /// simulator's choice; the test platform answers `00655020`).
    pub fn terminal_id(&self) -> String {
        let len = self.client_id.len();
        format!("00{:0>6}", &self.client_id[len.saturating_sub(6)..])
    }
}

/// How the NestPay simulator is started.
#[derive(Debug, Clone)]
pub struct NestpayConfig {
    /// The merchants it serves (more through `/_sim/merchants` in test mode).
    pub merchants: Vec<NestpayMerchant>,
    /// Enables the control endpoints under `/_sim/`; without it they answer 404.
    pub test_mode: bool,
    /// How long fault card 4000000000009011 keeps the caller waiting (40 s by default,
    /// longer than any client timeout).
    pub slow_answer_delay: Duration,
}

impl Default for NestpayConfig {
    /// No merchants, control endpoints off, a 40 s slow answer.
    fn default() -> NestpayConfig {
        NestpayConfig {
            merchants: Vec::new(),
            test_mode: false,
            slow_answer_delay: Duration::from_secs(40),
        }
    }
}

/// Reads the merchants from `path` (one JSON object or an array of them). When the file
/// does not exist, creates it (and its directory) with one generated merchant as
/// `{"client_id", "api_user", "api_password", "store_key"}`, readable by the owner only.
pub fn load_or_create_merchant_file(path: &Path) -> Result<Vec<NestpayMerchant>, SimError> {
    merchant_file::load_or_create(path)
}

impl MerchantDefinition for NestpayMerchant {
    fn generate() -> NestpayMerchant {
        NestpayMerchant::generate()
    }

    fn validate(&self) -> Result<(), SimError> {
        NestpayMerchant::validate(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_merchants_are_valid_and_redacted() {
        let m = NestpayMerchant::generate();
        m.validate().unwrap();
        assert_eq!(m.client_id.len(), 12);
        let shown = format!("{m:?}");
        assert!(!shown.contains(&m.store_key) && !shown.contains(&m.api_password));
        let t = NestpayMerchant::test_platform();
        assert_eq!(t.merchant_id(), "655000200");
        assert_eq!(t.terminal_id().len(), 8);
    }

    #[test]
    fn creates_the_four_key_file_then_reads_it() {
        let dir = std::env::temp_dir().join(format!("sanalpos-nestpay-{}", std::process::id()));
        let path = dir.join("merchant.json");
        let _ = std::fs::remove_dir_all(&dir);
        let created = load_or_create_merchant_file(&path).unwrap();
        let value: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        let keys: Vec<&String> = value.as_object().unwrap().keys().collect();
        assert_eq!(keys, ["client_id", "api_user", "api_password", "store_key"]);
        assert_eq!(load_or_create_merchant_file(&path).unwrap(), created);
        std::fs::write(
            &path,
            r#"[{"client_id":"1","api_user":"u","api_password":"p","store_key":"k","installments":[3]}]"#,
        )
        .unwrap();
        let read = load_or_create_merchant_file(&path).unwrap();
        assert_eq!(read[0].installments, vec![3]);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
