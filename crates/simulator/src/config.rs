//! Merchants and the simulator's start-up configuration.
//!
//! A merchant here is what the provider's panel shows a merchant: its number, the three
//! `sx` tokens, the secret key that ends every hash, and the switches that change how the
//! service behaves for it (AutoComplete, the IP allowlist, which refund type counts as a
//! partial refund, which postback hash variant it gets).

use std::fmt;
use std::net::IpAddr;
use std::path::Path;
use std::time::Duration;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use rand::distr::{Alphanumeric, SampleString};
use rand::Rng;
use serde::{Deserialize, Serialize};

use crate::merchant_file::{self, MerchantDefinition};
use crate::SimError;

/// Which `type` value the simulator accepts for a partial refund; the other one is
/// refused with the "invalid type" answer (`TYPE01`), as the provider's two documented
/// variants disagree and the client must cope with both.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum PartialRefundType {
    /// `type=refundp` (the English documentation).
    #[default]
    #[serde(rename = "refundp")]
    RefundP,
    /// `type=refund` with a smaller amount (a mirror of the documentation).
    #[serde(rename = "refund")]
    Refund,
}

impl PartialRefundType {
    /// The wire value of the type.
    pub fn as_str(self) -> &'static str {
        match self {
            PartialRefundType::RefundP => "refundp",
            PartialRefundType::Refund => "refund",
        }
    }
}

/// Which answer-hash variant the 3D postback of a merchant carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PostbackHash {
    /// `CURRENCY_CODE` is posted and covered by the hash.
    #[default]
    WithCurrency,
    /// `CURRENCY_CODE` is left out of the postback and of the hash (the official PHP
    /// plugin's variant).
    WithoutCurrency,
}

fn default_true() -> bool {
    true
}

/// One merchant of the simulated provider. Serialized with snake_case keys; the file
/// written by [`load_or_create_merchant_file`] has exactly this shape.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MerchantConfig {
    /// The merchant number, e.g. `118591467`.
    pub merchant_no: String,
    /// Sales token: `<merchant_no>|<base64 blob>`.
    pub sx: String,
    /// Reporting token: `sx + "|" + suffix`.
    pub sx_list: String,
    /// Cancel/refund token: `sx + "|" + suffix`.
    pub sx_cancel: String,
    /// The `merchantSecretKey` that ends every hash.
    pub secret_key: String,
    /// AutoComplete: on, an approved 3D authentication is the final sale; off, it stays
    /// pre-approved (`NEW`) until `CompletePayment`.
    #[serde(default = "default_true")]
    pub auto_complete: bool,
    /// Client IPs allowed to call; `None` allows any.
    #[serde(default)]
    pub allowed_ips: Option<Vec<IpAddr>>,
    /// The only `type` accepted for a partial refund.
    #[serde(default)]
    pub partial_refund_type: PartialRefundType,
    /// The hash variant of the 3D postback.
    #[serde(default)]
    pub postback_hash: PostbackHash,
}

impl fmt::Debug for MerchantConfig {
    /// Shows the merchant number and switches, never the tokens or the secret.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MerchantConfig")
            .field("merchant_no", &self.merchant_no)
            .field("sx", &"<redacted>")
            .field("sx_list", &"<redacted>")
            .field("sx_cancel", &"<redacted>")
            .field("secret_key", &"<redacted>")
            .field("auto_complete", &self.auto_complete)
            .field("allowed_ips", &self.allowed_ips)
            .field("partial_refund_type", &self.partial_refund_type)
            .field("postback_hash", &self.postback_hash)
            .finish()
    }
}

impl MerchantConfig {
    /// A random test merchant: a 9-digit merchant number, random base64 token blobs, a
    /// 21-character secret, AutoComplete on, any IP allowed.
    pub fn generate() -> MerchantConfig {
        let mut rng = rand::rng();
        let merchant_no = rng.random_range(100_000_000u32..1_000_000_000).to_string();
        let blob = |rng: &mut rand::rngs::ThreadRng, len: usize| {
            let mut bytes = vec![0u8; len];
            rng.fill(&mut bytes[..]);
            STANDARD.encode(bytes)
        };
        let sx = format!("{merchant_no}|{}", blob(&mut rng, 72));
        let sx_list = format!("{sx}|{}", blob(&mut rng, 16));
        let sx_cancel = format!("{sx}|{}", blob(&mut rng, 16));
        let secret_key = Alphanumeric.sample_string(&mut rng, 21);
        MerchantConfig {
            merchant_no,
            sx,
            sx_list,
            sx_cancel,
            secret_key,
            auto_complete: true,
            allowed_ips: None,
            partial_refund_type: PartialRefundType::default(),
            postback_hash: PostbackHash::default(),
        }
    }

    /// Checks that the tokens have the provider's shape. The error names the field,
    /// never its value.
    pub fn validate(&self) -> Result<(), SimError> {
        let bad = |what: &str| Err(SimError::InvalidMerchant(what.to_owned()));
        if self.merchant_no.is_empty() || !self.merchant_no.bytes().all(|b| b.is_ascii_digit()) {
            return bad("merchant_no must be digits");
        }
        match self.sx.strip_prefix(&self.merchant_no) {
            Some(rest) if rest.len() > 1 && rest.starts_with('|') => {}
            _ => return bad("sx must be \"<merchant_no>|<blob>\""),
        }
        for (name, token) in [("sx_list", &self.sx_list), ("sx_cancel", &self.sx_cancel)] {
            match token.strip_prefix(&self.sx) {
                Some(rest) if rest.len() > 1 && rest.starts_with('|') => {}
                _ => return bad(&format!("{name} must be sx + \"|\" + suffix")),
            }
        }
        if self.sx_list == self.sx_cancel {
            return bad("sx_list and sx_cancel must differ");
        }
        if self.secret_key.is_empty() || self.secret_key.contains('|') {
            return bad("secret_key must be non-empty and free of '|'");
        }
        Ok(())
    }
}

/// How the simulator is started.
#[derive(Debug, Clone)]
pub struct SimConfig {
    /// The merchants it serves (more can be added through `/_sim/merchants` in test mode).
    pub merchants: Vec<MerchantConfig>,
    /// Enables the control endpoints under `/_sim/`; without it they answer 404.
    pub test_mode: bool,
    /// How long fault card 4000000000009011 keeps the caller waiting (40 s by default,
    /// longer than any client timeout).
    pub slow_answer_delay: Duration,
}

impl Default for SimConfig {
    /// No merchants, control endpoints off, a 40 s slow answer.
    fn default() -> SimConfig {
        SimConfig {
            merchants: Vec::new(),
            test_mode: false,
            slow_answer_delay: Duration::from_secs(40),
        }
    }
}

/// Reads the merchants from `path` (one JSON object or an array of them). When the file
/// does not exist, creates it (and its parent directory) with one generated merchant,
/// readable by the owner only, and returns that merchant.
pub fn load_or_create_merchant_file(path: &Path) -> Result<Vec<MerchantConfig>, SimError> {
    merchant_file::load_or_create(path)
}

impl MerchantDefinition for MerchantConfig {
    fn generate() -> MerchantConfig {
        MerchantConfig::generate()
    }

    fn validate(&self) -> Result<(), SimError> {
        MerchantConfig::validate(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_merchants_have_the_provider_shape() {
        let m = MerchantConfig::generate();
        assert_eq!(m.merchant_no.len(), 9);
        assert_eq!(m.secret_key.len(), 21);
        assert!(m.auto_complete);
        m.validate().unwrap();
        assert!(!format!("{m:?}").contains(&m.secret_key));
    }

    #[test]
    fn creates_then_reads_the_file() {
        let dir = std::env::temp_dir().join(format!("sanalpos-sim-{}", std::process::id()));
        let path = dir.join("nested").join("merchants.json");
        let _ = std::fs::remove_dir_all(&dir);
        let created = load_or_create_merchant_file(&path).unwrap();
        assert_eq!(created.len(), 1);
        let text = std::fs::read_to_string(&path).unwrap();
        for key in [
            "merchant_no",
            "sx",
            "sx_list",
            "sx_cancel",
            "secret_key",
            "auto_complete",
        ] {
            assert!(text.contains(&format!("\"{key}\"")), "{key}");
        }
        let again = load_or_create_merchant_file(&path).unwrap();
        assert_eq!(again, created);
        // An array works too, and defaults fill the optional switches.
        let m = &created[0];
        let array = format!(
            r#"[{{"merchant_no":"{}","sx":"{}","sx_list":"{}","sx_cancel":"{}","secret_key":"{}"}}]"#,
            m.merchant_no, m.sx, m.sx_list, m.sx_cancel, m.secret_key
        );
        std::fs::write(&path, array).unwrap();
        let read = load_or_create_merchant_file(&path).unwrap();
        assert!(read[0].auto_complete);
        assert_eq!(read[0].partial_refund_type, PartialRefundType::RefundP);
        assert_eq!(read[0].postback_hash, PostbackHash::WithCurrency);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn rejects_inconsistent_tokens() {
        let mut m = MerchantConfig::generate();
        m.sx_list = "other|x|y".into();
        let err = m.validate().unwrap_err().to_string();
        assert!(err.contains("sx_list"));
        assert!(!err.contains(&m.secret_key));
    }
}
