//! Provider clients per POS, built through the protocol registry and cached by (POS id,
//! version) so each keeps its HTTP connection pool, and a changed POS definition gets a
//! new client on its next payment. The service knows a POS as "protocol id + settings
//! document": the protocol's module reads the document.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sanalpos_gateway::protocol::{self, Environment as ProtocolEnvironment, Protocol, Timeouts};
use sanalpos_gateway::{Gateway, Settings};
use sanalpos_store::{Crypto, Environment, PosRecord, Store};

use crate::breaker::{Breaker, BreakerConfig, BreakerState, Guarded};
use crate::error::ServiceError;

/// The registry's protocol of a POS.
pub(crate) fn protocol_of(id: &str) -> Result<&'static dyn Protocol, ServiceError> {
    protocol::protocol(id).ok_or_else(|| ServiceError::Provider {
        code: "provider_unsupported",
        message: format!("protocol {id:?} is not supported"),
    })
}

/// The protocol's name for an environment.
pub(crate) fn environment(environment: Environment) -> ProtocolEnvironment {
    match environment {
        Environment::Simulator => ProtocolEnvironment::Simulator,
        Environment::Test => ProtocolEnvironment::Test,
        Environment::Production => ProtocolEnvironment::Production,
    }
}

/// Encrypts a settings document for storage.
pub(crate) fn seal(crypto: &Crypto, settings: &Settings) -> Result<String, ServiceError> {
    let json = zeroize::Zeroizing::new(settings.to_json());
    Ok(crypto.encrypt_credentials(&json)?)
}

/// Decrypts a stored settings document.
pub(crate) fn open(crypto: &Crypto, stored: &str) -> Result<Settings, ServiceError> {
    let json = zeroize::Zeroizing::new(crypto.decrypt_credentials(stored)?);
    Settings::from_json(&json).map_err(|_| {
        ServiceError::Storage("stored POS settings are not in the expected shape".into())
    })
}

/// Moves every POS stored before settings documents (migration 7) into its settings
/// document, under the master key. Runs at start; instances starting together each move
/// what the other has not.
pub(crate) async fn move_legacy_pos(store: &Store, crypto: &Crypto) -> Result<(), ServiceError> {
    for legacy in store.legacy_pos().await? {
        let credentials = zeroize::Zeroizing::new(
            crypto
                .decrypt_credentials(&legacy.credentials_enc)
                .map_err(|_| {
                    ServiceError::Storage(format!(
                        "POS {}: its credentials cannot be decrypted with this master key",
                        legacy.id
                    ))
                })?,
        );
        let old: serde_json::Map<String, serde_json::Value> = serde_json::from_str(&credentials)
            .map_err(|_| {
                ServiceError::Storage(format!(
                    "POS {}: stored credentials are not in the expected shape",
                    legacy.id
                ))
            })?;
        let settings = match legacy.protocol.as_str() {
            "nkolay" => sanalpos_gateway::nkolay::protocol::legacy_settings(
                &old,
                &legacy.base_url,
                legacy.auto_complete,
            ),
            other => {
                return Err(ServiceError::Storage(format!(
                    "POS {}: no settings move for protocol {other:?}",
                    legacy.id
                )))
            }
        };
        if store
            .move_legacy_pos(&legacy.id, &seal(crypto, &settings)?)
            .await?
        {
            tracing::info!(pos.id = %legacy.id, "POS settings moved into their document");
        }
    }
    Ok(())
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

/// A client for a POS without the cache or breaker (for "test connection").
pub(crate) fn build(
    crypto: &Crypto,
    pos: &PosRecord,
    timeout: Duration,
) -> Result<Arc<dyn Gateway>, ServiceError> {
    let protocol = protocol_of(&pos.protocol)?;
    let settings = open(crypto, &pos.settings_enc)?;
    let timeouts = Timeouts {
        connect: timeout.min(Duration::from_secs(5)),
        request: timeout,
    };
    protocol
        .build(&settings, environment(pos.environment), timeouts)
        .map_err(|e| ServiceError::Provider {
            code: "provider_unavailable",
            message: format!("cannot set up the provider client: {e}"),
        })
}

/// The installment options for a card and an amount: asked of the provider when its
/// protocol can say, otherwise computed from the POS definition's own table (a bank
/// POS's installment plan is part of the merchant's agreement).
pub(crate) async fn installment_options(
    gateway: &dyn Gateway,
    pos: &PosRecord,
    bin: &str,
    amount: sanalpos_core::Kurus,
) -> Result<Vec<sanalpos_gateway::InstallmentOption>, sanalpos_gateway::GatewayError> {
    match gateway.installments(bin, amount).await {
        Err(sanalpos_gateway::GatewayError::Unsupported(_)) => Ok(table_options(pos, amount)),
        other => other,
    }
}

fn table_options(
    pos: &PosRecord,
    amount: sanalpos_core::Kurus,
) -> Vec<sanalpos_gateway::InstallmentOption> {
    let mut options: Vec<_> = pos
        .installments
        .iter()
        .filter_map(|row| {
            let surcharge = amount.percent_bp(row.surcharge_bp);
            let total = amount.checked_add(surcharge)?;
            let monthly =
                sanalpos_core::Kurus::from_minor(total.minor() / i64::from(row.count.max(1)))?;
            Some(sanalpos_gateway::InstallmentOption {
                installments: row.count,
                monthly,
                total,
                surcharge,
                commission: amount.percent_bp(row.commission_bp),
                commission_rate_bp: row.commission_bp,
                surcharge_rate_bp: row.surcharge_bp,
                program: None,
            })
        })
        .collect();
    options.sort_by_key(|o| o.installments);
    options.dedup_by_key(|o| o.installments);
    options
}

/// When this instance last wrote a POS's `last_success_at`. The store writes it at most
/// once a second anyway (so concurrent payments do not queue on the POS row); knowing it
/// here spares the statement itself on most sales.
#[derive(Default)]
pub(crate) struct SuccessMarks {
    last: Mutex<HashMap<String, i64>>,
}

impl SuccessMarks {
    /// Whether a success of `pos_id` at `now` (Unix ms) is worth writing; marks it when so.
    pub(crate) fn due(&self, pos_id: &str, now: i64) -> bool {
        let mut last = self.last.lock().unwrap_or_else(|p| p.into_inner());
        match last.get_mut(pos_id) {
            Some(at) if *at > now - 1_000 => false,
            Some(at) => {
                *at = now;
                true
            }
            None => {
                last.insert(pos_id.to_owned(), now);
                true
            }
        }
    }
}

#[cfg(test)]
mod success_marks {
    use super::SuccessMarks;

    #[test]
    fn a_success_is_written_once_a_second_per_pos() {
        let marks = SuccessMarks::default();
        assert!(marks.due("pos_a", 10_000));
        assert!(!marks.due("pos_a", 10_500));
        assert!(marks.due("pos_b", 10_500));
        assert!(marks.due("pos_a", 11_001));
        assert!(!marks.due("pos_a", 11_002));
    }
}
