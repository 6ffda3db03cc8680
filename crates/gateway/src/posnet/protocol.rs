//! Yapı Kredi PosNet as the registry sees it: its settings, its hosts, what it can do,
//! and how a client is built from a POS's settings.

use std::sync::Arc;

use sanalpos_core::Secret;

use super::{Credentials, PosnetConfig, PosnetGateway, API_PATH, GATE_PATH};
use crate::protocol::{
    BankPreset, Capabilities, Environment, FieldKind, FieldSpec, Hosts, Label, Protocol,
    ProtocolInfo, Settings, SettingsError, ThreeDModel, Timeouts, BANK_FIELD,
};
use crate::{Gateway, GatewayError};

/// Setting names, the keys of a PosNet POS's settings document.
pub mod key {
    /// Override of the bank's base URL (calls go to `{api_url}/PosnetWebService/XML`).
    pub const API_URL: &str = "api_url";
    /// Override of the 3D page's URL.
    pub const GATE_URL: &str = "gate_url";
    /// `mid`.
    pub const MID: &str = "mid";
    /// `tid`.
    pub const TID: &str = "tid";
    /// `posnetID`.
    pub const POSNET_ID: &str = "posnet_id";
    /// `ENCKEY`.
    pub const ENC_KEY: &str = "enc_key";
    /// Accept half-secure 3D.
    pub const ALLOW_HALF_SECURE: &str = "allow_half_secure";
}

/// Yapı Kredi's hosts: production and the test platform.
pub const BANKS: &[BankPreset] = &[BankPreset {
    id: "yapikredi",
    name: "Yapı Kredi",
    production: Hosts {
        api: "https://posnet.yapikredi.com.tr/PosnetWebService/XML",
        three_d: Some("https://posnet.yapikredi.com.tr/3DSWebService/YKBPaymentService"),
    },
    test: Hosts {
        api: "https://setmpos.ykb.com/PosnetWebService/XML",
        three_d: Some("https://setmpos.ykb.com/3DSWebService/YKBPaymentService"),
    },
}];

const FIELDS: &[FieldSpec] = &[
    FieldSpec {
        name: BANK_FIELD,
        label: Label::new("Banka", "Bank"),
        help: None,
        kind: FieldKind::Choice(&[("yapikredi", Label::new("Yapı Kredi", "Yapı Kredi"))]),
        required: true,
        default: None,
    },
    FieldSpec {
        name: key::API_URL,
        label: Label::new("API adresi", "API address"),
        help: Some(Label::new(
            "Boş bırakılırsa bankanın ortam adresi kullanılır; simülatörde gerekli. Yalnız sunucu adresi verilirse /PosnetWebService/XML eklenir.",
            "Left empty, the bank's address for the environment is used; required for the simulator. A bare host gets /PosnetWebService/XML.",
        )),
        kind: FieldKind::Url,
        required: false,
        default: None,
    },
    FieldSpec {
        name: key::GATE_URL,
        label: Label::new("3D adresi", "3D address"),
        help: Some(Label::new(
            "Boş bırakılırsa bankanın adresi kullanılır; simülatörde gerekli. Yalnız sunucu adresi verilirse /3DSWebService/YKBPaymentService eklenir.",
            "Left empty, the bank's address is used; required for the simulator. A bare host gets /3DSWebService/YKBPaymentService.",
        )),
        kind: FieldKind::Url,
        required: false,
        default: None,
    },
    FieldSpec {
        name: key::MID,
        label: Label::new("Üye işyeri numarası (mid)", "Merchant number (mid)"),
        help: None,
        kind: FieldKind::Digits {
            min_len: 10,
            max_len: 10,
        },
        required: true,
        default: None,
    },
    FieldSpec {
        name: key::TID,
        label: Label::new("Terminal numarası (tid)", "Terminal id (tid)"),
        help: None,
        kind: FieldKind::Digits {
            min_len: 8,
            max_len: 8,
        },
        required: true,
        default: None,
    },
    FieldSpec {
        name: key::POSNET_ID,
        label: Label::new("Posnet ID (3D)", "Posnet ID (3D)"),
        help: Some(Label::new(
            "3D Secure ödemeler için bankanın verdiği numara.",
            "The number the bank gave for 3D Secure payments.",
        )),
        kind: FieldKind::Digits {
            min_len: 1,
            max_len: 12,
        },
        required: true,
        default: None,
    },
    FieldSpec {
        name: key::ENC_KEY,
        label: Label::new("Şifreleme anahtarı (ENCKEY)", "Encryption key (ENCKEY)"),
        help: Some(Label::new(
            "Bankanın verdiği biçimde, örneğin 10,10,10,10,10,10,10,10.",
            "As the bank gave it, e.g. 10,10,10,10,10,10,10,10.",
        )),
        kind: FieldKind::Secret,
        required: true,
        default: None,
    },
    FieldSpec {
        name: key::ALLOW_HALF_SECURE,
        label: Label::new("Yarım 3D kabul edilsin", "Accept half-secure 3D"),
        help: Some(Label::new(
            "Açıksa mdStatus 2, 3, 4 kabul edilir; ters ibraz riski üye işyerindedir.",
            "When on, mdStatus 2, 3 and 4 are accepted; the merchant carries the chargeback risk.",
        )),
        kind: FieldKind::Flag,
        required: false,
        default: Some("false"),
    },
];

static INFO: ProtocolInfo = ProtocolInfo {
    id: "posnet",
    name: Label::new("Yapı Kredi (PosNet)", "Yapı Kredi (PosNet)"),
    fields: FIELDS,
    banks: BANKS,
    capabilities: Capabilities {
        three_d_models: &[ThreeDModel::ThreeD],
        partial_refund: true,
        pre_auth: true,
        installment_query: false,
        report_pull: false,
        statement_import: true,
        card_storage: false,
        // The inquiry does not read a capture: an unanswered capture is left for a person.
        pre_auth_inquiry: false,
    },
};

/// The PosNet protocol.
pub struct Posnet;

/// The registry's entry for Yapı Kredi PosNet.
pub static PROTOCOL: Posnet = Posnet;

/// A URL setting: a bare host gets the standard path.
fn with_path(url: &str, path: &str) -> String {
    let trimmed = url.trim_end_matches('/');
    let after_scheme = trimmed.split_once("://").map_or(trimmed, |(_, rest)| rest);
    if after_scheme.contains('/') {
        trimmed.to_owned()
    } else {
        format!("{trimmed}{path}")
    }
}

impl Posnet {
    /// The XML API URL and the 3D page URL of a POS.
    fn endpoints(settings: &Settings, environment: Environment) -> Option<(String, String)> {
        let hosts = INFO
            .bank_of(settings)
            .and_then(|bank| bank.hosts(environment));
        let api = settings
            .get(key::API_URL)
            .map(|u| with_path(u, API_PATH))
            .or_else(|| hosts.map(|h| h.api.to_owned()))?;
        let gate = settings
            .get(key::GATE_URL)
            .map(|u| with_path(u, GATE_PATH))
            .or_else(|| hosts.and_then(|h| h.three_d).map(str::to_owned))?;
        Some((api, gate))
    }
}

impl Protocol for Posnet {
    fn info(&self) -> &'static ProtocolInfo {
        &INFO
    }

    fn check(&self, settings: &Settings, environment: Environment) -> Result<(), SettingsError> {
        if environment == Environment::Simulator {
            for name in [key::API_URL, key::GATE_URL] {
                if settings.get(name).is_none() {
                    return Err(SettingsError::new(
                        name,
                        "simülatör için adres gerekli",
                        "the simulator needs this address",
                    ));
                }
            }
        }
        if Posnet::endpoints(settings, environment).is_none() {
            return Err(SettingsError::new(
                key::API_URL,
                "bankanın bu ortam için adresi yok: adresi girin",
                "the bank has no address for this environment: enter it",
            ));
        }
        Ok(())
    }

    fn build(
        &self,
        settings: &Settings,
        environment: Environment,
        timeouts: Timeouts,
    ) -> Result<Arc<dyn Gateway>, GatewayError> {
        let text = |name: &str| settings.require(name).map(str::to_owned);
        let (api, gate) = Posnet::endpoints(settings, environment).ok_or_else(|| {
            GatewayError::Invalid("no API or 3D address for this environment".into())
        })?;
        let credentials = Credentials {
            mid: text(key::MID)?,
            tid: text(key::TID)?,
            posnet_id: text(key::POSNET_ID)?,
            enc_key: Secret::new(text(key::ENC_KEY)?),
        };
        let mut config = PosnetConfig::new(api, gate, credentials);
        config.allow_half_secure = settings.flag(&INFO, key::ALLOW_HALF_SECURE);
        config.connect_timeout = timeouts.connect;
        config.request_timeout = timeouts.request;
        Ok(Arc::new(PosnetGateway::new(config)?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::validate;

    fn full() -> Settings {
        Settings::from_pairs([
            ("bank", "yapikredi"),
            ("mid", "6706598320"),
            ("tid", "67005551"),
            ("posnet_id", "27426"),
            ("enc_key", "10,10,10,10,10,10,10,10"),
        ])
    }

    #[test]
    fn hosts_and_validation() {
        let bank = INFO.bank("yapikredi").unwrap();
        assert!(bank.test.api.starts_with("https://setmpos.ykb.com"));
        assert!(validate(&PROTOCOL, &full(), Environment::Production).is_ok());
        assert!(validate(&PROTOCOL, &full(), Environment::Simulator).is_err());
        let mut sim = full();
        sim.set("api_url", "http://127.0.0.1:9000");
        sim.set("gate_url", "http://127.0.0.1:9000");
        assert!(validate(&PROTOCOL, &sim, Environment::Simulator).is_ok());
        let (api, gate) = Posnet::endpoints(&sim, Environment::Simulator).unwrap();
        assert_eq!(api, "http://127.0.0.1:9000/PosnetWebService/XML");
        assert_eq!(
            gate,
            "http://127.0.0.1:9000/3DSWebService/YKBPaymentService"
        );
        let mut bad = full();
        bad.set("mid", "123");
        assert_eq!(
            validate(&PROTOCOL, &bad, Environment::Test)
                .unwrap_err()
                .field,
            "mid"
        );
        assert!(PROTOCOL
            .build(&full(), Environment::Test, Timeouts::default())
            .is_ok());
    }
}
