//! Provider clients per POS, cached by (POS id, version) so each keeps its HTTP
//! connection pool, and a changed POS definition gets a new client on its next payment.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use zeroize::Zeroize;

use sanalpos_core::Secret;
use sanalpos_gateway::nkolay::{Credentials, NkolayConfig, NkolayGateway};
use sanalpos_gateway::Gateway;
use sanalpos_store::{Crypto, PosRecord};

use crate::breaker::{Breaker, BreakerConfig, BreakerState, Guarded};
use crate::error::ServiceError;
use crate::types::PosCredentials;

/// The credentials as encrypted at rest (JSON inside the ciphertext).
#[derive(Serialize, Deserialize)]
pub(crate) struct StoredCredentials {
    pub(crate) sx: String,
    pub(crate) sx_list: String,
    pub(crate) sx_cancel: String,
    pub(crate) secret_key: String,
}

impl Drop for StoredCredentials {
    fn drop(&mut self) {
        self.sx.zeroize();
        self.sx_list.zeroize();
        self.sx_cancel.zeroize();
        self.secret_key.zeroize();
    }
}

impl StoredCredentials {
    pub(crate) fn from_input(c: &PosCredentials) -> StoredCredentials {
        StoredCredentials {
            sx: c.sx.expose().to_owned(),
            sx_list: c.sx_list.expose().to_owned(),
            sx_cancel: c.sx_cancel.expose().to_owned(),
            secret_key: c.secret_key.expose().to_owned(),
        }
    }

    pub(crate) fn encrypt(&self, crypto: &Crypto) -> Result<String, ServiceError> {
        let json = zeroize::Zeroizing::new(
            serde_json::to_string(self)
                .map_err(|e| ServiceError::Storage(format!("credentials: {e}")))?,
        );
        Ok(crypto.encrypt_credentials(&json)?)
    }

    pub(crate) fn decrypt(
        crypto: &Crypto,
        stored: &str,
    ) -> Result<StoredCredentials, ServiceError> {
        let json = crypto.decrypt_credentials(stored)?;
        serde_json::from_str(&json).map_err(|_| {
            ServiceError::Storage("stored credentials are not in the expected shape".into())
        })
    }

    pub(crate) fn to_gateway(&self) -> Credentials {
        Credentials {
            sx: Secret::new(self.sx.clone()),
            sx_list: Secret::new(self.sx_list.clone()),
            sx_cancel: Secret::new(self.sx_cancel.clone()),
            secret_key: Secret::new(self.secret_key.clone()),
        }
    }
}

/// A client, the POS version it was built for, and its breaker.
type Versioned = (i64, Arc<dyn Gateway>, Arc<Breaker>);

/// Clients by (POS id, version).
#[derive(Default)]
pub(crate) struct GatewayCache {
    clients: Mutex<HashMap<String, Versioned>>,
}

impl GatewayCache {
    /// The client of a POS at its current version, built on first use.
    pub(crate) fn get(
        &self,
        crypto: &Crypto,
        pos: &PosRecord,
        timeout: Duration,
        breaker: BreakerConfig,
    ) -> Result<Arc<dyn Gateway>, ServiceError> {
        if let Ok(clients) = self.clients.lock() {
            if let Some((version, client, _)) = clients.get(&pos.id) {
                if *version == pos.version {
                    return Ok(client.clone());
                }
            }
        }
        // A new definition (a corrected endpoint, new credentials) starts with a closed
        // breaker.
        let breaker = Arc::new(Breaker::new(breaker));
        let client: Arc<dyn Gateway> =
            Arc::new(Guarded::new(build(crypto, pos, timeout)?, breaker.clone()));
        if let Ok(mut clients) = self.clients.lock() {
            clients.insert(pos.id.clone(), (pos.version, client.clone(), breaker));
        }
        Ok(client)
    }

    /// The breaker state of a POS's current client; `None` before its first call.
    pub(crate) fn breaker_state(&self, pos_id: &str) -> Option<BreakerState> {
        let clients = self.clients.lock().ok()?;
        clients.get(pos_id).map(|(_, _, breaker)| breaker.state())
    }
}

fn build(
    crypto: &Crypto,
    pos: &PosRecord,
    timeout: Duration,
) -> Result<Arc<dyn Gateway>, ServiceError> {
    match pos.provider.as_str() {
        "nkolay" => {
            let credentials = StoredCredentials::decrypt(crypto, &pos.credentials_enc)?;
            let mut config = NkolayConfig::new(pos.base_url.clone(), credentials.to_gateway());
            config.auto_complete = pos.auto_complete;
            config.request_timeout = timeout;
            config.connect_timeout = timeout.min(Duration::from_secs(5));
            let client = NkolayGateway::new(config).map_err(|e| ServiceError::Provider {
                code: "provider_unavailable",
                message: format!("cannot set up the provider client: {e}"),
            })?;
            Ok(Arc::new(client))
        }
        other => Err(ServiceError::Provider {
            code: "provider_unsupported",
            message: format!("provider {other:?} is not supported"),
        }),
    }
}
