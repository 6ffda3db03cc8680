//! PosNet merchants and the simulator's start-up configuration.
//!
//! A PosNet merchant is what Yapı Kredi hands a company: a merchant number (`mid`, 10
//! digits), a terminal (`tid`, 8 digits), a `posnetID` for 3D and the encryption key
//! `ENCKEY` every MAC is made with. The bank checks the caller's IP for every
//! environment: `allowed_ips` models that whitelist.

use std::fmt;
use std::net::IpAddr;
use std::path::Path;
use std::time::Duration;

use rand::Rng;
use serde::{Deserialize, Serialize};

use crate::merchant_file::{self, MerchantDefinition};
use crate::SimError;

/// One merchant of the simulated bank, keyed by its `tid`.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PosnetMerchant {
    /// `mid`, 10 digits.
    pub mid: String,
    /// `tid`, 8 digits.
    pub tid: String,
    /// `posnetID`, for 3D.
    pub posnet_id: String,
    /// `ENCKEY`.
    pub enc_key: String,
    /// Client IPs allowed to call the XML API; `None` allows any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allowed_ips: Option<Vec<IpAddr>>,
}

impl fmt::Debug for PosnetMerchant {
    /// Shows the numbers and the whitelist, never the key.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PosnetMerchant")
            .field("mid", &self.mid)
            .field("tid", &self.tid)
            .field("posnet_id", &self.posnet_id)
            .field("enc_key", &"<redacted>")
            .field("allowed_ips", &self.allowed_ips)
            .finish()
    }
}

impl PosnetMerchant {
    /// The bank's public test account of the reference client (mid 6706598320, tid
    /// 67005551, posnetID 27426, ENCKEY `10,10,10,10,10,10,10,10`): seed it to replay
    /// vectors/posnet.json.
    pub fn test_platform() -> PosnetMerchant {
        PosnetMerchant {
            mid: "6706598320".into(),
            tid: "67005551".into(),
            posnet_id: "27426".into(),
            enc_key: "10,10,10,10,10,10,10,10".into(),
            allowed_ips: None,
        }
    }

    /// A random merchant: a 10-digit mid, an 8-digit tid, a 5-digit posnetID and an
    /// ENCKEY of eight comma-separated numbers, as the bank writes them.
    pub fn generate() -> PosnetMerchant {
        let mut rng = rand::rng();
        let key: Vec<String> = (0..8)
            .map(|_| rng.random_range(0..100u8).to_string())
            .collect();
        PosnetMerchant {
            mid: format!("67{:08}", rng.random_range(0..100_000_000u32)),
            tid: format!("67{:06}", rng.random_range(0..1_000_000u32)),
            posnet_id: format!("{:05}", rng.random_range(10_000..100_000u32)),
            enc_key: key.join(","),
            allowed_ips: None,
        }
    }

    /// Checks the definition; the error names the field, never the key.
    pub fn validate(&self) -> Result<(), SimError> {
        let bad = |what: &str| Err(SimError::InvalidMerchant(what.to_owned()));
        let digits = |t: &str, min: usize, max: usize| {
            (min..=max).contains(&t.len()) && t.bytes().all(|b| b.is_ascii_digit())
        };
        if !digits(&self.mid, 10, 10) {
            return bad("mid must be 10 digits");
        }
        if !digits(&self.tid, 8, 8) {
            return bad("tid must be 8 digits");
        }
        if !digits(&self.posnet_id, 1, 12) {
            return bad("posnet_id must be 1 to 12 digits");
        }
        if self.enc_key.is_empty() {
            return bad("enc_key must not be empty");
        }
        Ok(())
    }
}

/// How the PosNet simulator is started.
#[derive(Debug, Clone)]
pub struct PosnetConfig {
    /// The merchants it serves (more through `/_sim/merchants` in test mode).
    pub merchants: Vec<PosnetMerchant>,
    /// Enables the control endpoints under `/_sim/`.
    pub test_mode: bool,
    /// How long fault card 4000000000009011 keeps the caller waiting.
    pub slow_answer_delay: Duration,
}

impl Default for PosnetConfig {
    /// No merchants, control endpoints off, a 40 s slow answer.
    fn default() -> PosnetConfig {
        PosnetConfig {
            merchants: Vec::new(),
            test_mode: false,
            slow_answer_delay: Duration::from_secs(40),
        }
    }
}

/// Reads the merchants from `path` (one JSON object or an array). When the file does
/// not exist, creates it with one generated merchant, readable by the owner only.
pub fn load_or_create_merchant_file(path: &Path) -> Result<Vec<PosnetMerchant>, SimError> {
    merchant_file::load_or_create(path)
}

impl MerchantDefinition for PosnetMerchant {
    fn generate() -> PosnetMerchant {
        PosnetMerchant::generate()
    }

    fn validate(&self) -> Result<(), SimError> {
        PosnetMerchant::validate(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_merchants_are_valid_and_redacted() {
        let m = PosnetMerchant::generate();
        m.validate().unwrap();
        assert!(!format!("{m:?}").contains(&m.enc_key));
        PosnetMerchant::test_platform().validate().unwrap();
    }
}
