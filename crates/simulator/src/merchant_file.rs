//! The merchant file both simulators start from: one JSON merchant or an array of them,
//! created with one generated merchant when missing and then readable by its owner only.
//!
//! What a merchant is differs per protocol (N Kolay's `sx` tokens, NestPay's API user
//! and store key); how the file is found, read, checked and created does not, so it
//! lives here once and each protocol only says how its merchant is generated and
//! checked ([`MerchantDefinition`]).

use std::io;
use std::path::Path;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::SimError;

/// A protocol's merchant as the merchant file and the start-up checks see it.
pub(crate) trait MerchantDefinition: Serialize + DeserializeOwned {
    /// A random merchant of the protocol's shape, for a file that does not exist yet.
    fn generate() -> Self;

    /// Checks the definition; the error names the field, never a secret.
    fn validate(&self) -> Result<(), SimError>;
}

/// The file holds either one merchant object or an array of them.
#[derive(Deserialize)]
#[serde(untagged)]
enum OneOrMany<M> {
    One(Box<M>),
    Many(Vec<M>),
}

/// Reads the merchants from `path` (one JSON object or an array of them) and checks
/// each. When the file does not exist, creates it (and its parent directory) with one
/// generated merchant, readable by the owner only, and returns that merchant.
pub(crate) fn load_or_create<M: MerchantDefinition>(path: &Path) -> Result<Vec<M>, SimError> {
    let io_err = |source| SimError::Io {
        path: path.to_path_buf(),
        source,
    };
    let json_err = |source| SimError::Json {
        path: path.to_path_buf(),
        source,
    };
    match std::fs::read(path) {
        Ok(bytes) => {
            let merchants: Vec<M> = match serde_json::from_slice(&bytes).map_err(json_err)? {
                OneOrMany::One(m) => vec![*m],
                OneOrMany::Many(v) => v,
            };
            if merchants.is_empty() {
                return Err(SimError::InvalidMerchant(
                    "the merchant file lists no merchant".into(),
                ));
            }
            for m in &merchants {
                m.validate()?;
            }
            Ok(merchants)
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::create_dir_all(dir).map_err(io_err)?;
            }
            let merchant = M::generate();
            let mut text = serde_json::to_string_pretty(&merchant).map_err(json_err)?;
            text.push('\n');
            write_private(path, text.as_bytes()).map_err(io_err)?;
            Ok(vec![merchant])
        }
        Err(e) => Err(io_err(e)),
    }
}

/// Checks every merchant a simulator is started with; the first bad one stops the start
/// as invalid input, naming the field, never a secret.
pub(crate) fn validate_all<M: MerchantDefinition>(merchants: &[M]) -> io::Result<()> {
    for merchant in merchants {
        merchant
            .validate()
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e.to_string()))?;
    }
    Ok(())
}

/// Writes a new file that only its owner can read: it holds secrets.
fn write_private(path: &Path, bytes: &[u8]) -> io::Result<()> {
    use std::io::Write as _;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    let mut file = options.open(path)?;
    file.write_all(bytes)?;
    file.sync_all()
}
