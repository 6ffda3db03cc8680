//! Garanti BBVA as the registry sees it: its settings, its hosts, what it can do, and
//! how a client is built from a POS's settings.

use std::sync::Arc;

use sanalpos_core::Secret;

use super::signing::HashVersion;
use super::{Credentials, GarantiConfig, GarantiGateway, ThreeDModel, GATE_PATH};
use crate::protocol::{
    BankPreset, Capabilities, Environment, FieldKind, FieldSpec, Hosts, Label, Protocol,
    ProtocolInfo, Settings, SettingsError, Timeouts, BANK_FIELD,
};
use crate::{Gateway, GatewayError};

/// Setting names, the keys of a Garanti POS's settings document.
pub mod key {
    /// Override of the bank's API base URL (calls go to `{api_url}/VPServlet`).
    pub const API_URL: &str = "api_url";
    /// Override of the 3D engine's URL.
    pub const GATE_URL: &str = "gate_url";
    /// `MerchantID` (işyeri no).
    pub const MERCHANT_ID: &str = "merchant_id";
    /// `Terminal/ID`.
    pub const TERMINAL_ID: &str = "terminal_id";
    /// The provision user (`PROVAUT` unless the bank named another).
    pub const PROV_USER: &str = "prov_user";
    /// The provision user's password.
    pub const PROV_PASSWORD: &str = "prov_password";
    /// The refund user (`PROVRFN` unless the bank named another).
    pub const REFUND_USER: &str = "refund_user";
    /// The refund user's password (void and refund).
    pub const REFUND_PASSWORD: &str = "refund_password";
    /// The 3D store key.
    pub const STORE_KEY: &str = "store_key";
    /// `3d` or `3d_pay`.
    pub const THREE_D_MODEL: &str = "three_d_model";
    /// Accept half-secure 3D.
    pub const ALLOW_HALF_SECURE: &str = "allow_half_secure";
    /// `512` (SHA-512) or `v0.01` (legacy SHA-1).
    pub const HASH_VERSION: &str = "hash_version";
}

/// Garanti's own hosts: production and the test platform.
pub const BANKS: &[BankPreset] = &[BankPreset {
    id: "garanti",
    name: "Garanti BBVA",
    production: Hosts {
        api: "https://sanalposprov.garanti.com.tr",
        three_d: Some("https://sanalposprov.garanti.com.tr/servlet/gt3dengine"),
    },
    test: Hosts {
        api: "https://sanalposprovtest.garantibbva.com.tr",
        three_d: Some("https://sanalposprovtest.garantibbva.com.tr/servlet/gt3dengine"),
    },
}];

const MODELS: &[(&str, Label)] = &[
    ("3d", Label::new("3D (model)", "3D (model)")),
    (
        "3d_pay",
        Label::new("3D Pay (banka tahsil eder)", "3D Pay (the bank charges)"),
    ),
];

const VERSIONS: &[(&str, Label)] = &[
    ("512", Label::new("512 (SHA-512)", "512 (SHA-512)")),
    (
        "v0.01",
        Label::new("v0.01 (eski SHA-1)", "v0.01 (legacy SHA-1)"),
    ),
];

const FIELDS: &[FieldSpec] = &[
    FieldSpec {
        name: BANK_FIELD,
        label: Label::new("Banka", "Bank"),
        help: None,
        kind: FieldKind::Choice(&[("garanti", Label::new("Garanti BBVA", "Garanti BBVA"))]),
        required: true,
        default: None,
    },
    FieldSpec {
        name: key::API_URL,
        label: Label::new("API adresi", "API address"),
        help: Some(Label::new(
            "Boş bırakılırsa bankanın ortam adresi kullanılır; simülatörde gerekli. İstekler {adres}/VPServlet'e gider.",
            "Left empty, the bank's address for the environment is used; required for the simulator. Calls go to {address}/VPServlet.",
        )),
        kind: FieldKind::Url,
        required: false,
        default: None,
    },
    FieldSpec {
        name: key::GATE_URL,
        label: Label::new("3D adresi", "3D address"),
        help: Some(Label::new(
            "Boş bırakılırsa bankanın adresi kullanılır; simülatörde gerekli. Yalnız sunucu adresi verilirse /servlet/gt3dengine eklenir.",
            "Left empty, the bank's address is used; required for the simulator. A bare host gets /servlet/gt3dengine.",
        )),
        kind: FieldKind::Url,
        required: false,
        default: None,
    },
    FieldSpec {
        name: key::MERCHANT_ID,
        label: Label::new("İşyeri numarası (MerchantID)", "Merchant number (MerchantID)"),
        help: None,
        kind: FieldKind::Digits {
            min_len: 5,
            max_len: 12,
        },
        required: true,
        default: None,
    },
    FieldSpec {
        name: key::TERMINAL_ID,
        label: Label::new("Terminal numarası", "Terminal id"),
        help: None,
        kind: FieldKind::Digits {
            min_len: 8,
            max_len: 9,
        },
        required: true,
        default: None,
    },
    FieldSpec {
        name: key::PROV_USER,
        label: Label::new("Provizyon kullanıcısı", "Provision user"),
        help: Some(Label::new(
            "Boş bırakılırsa PROVAUT.",
            "Left empty, PROVAUT.",
        )),
        kind: FieldKind::Text { max_len: 32 },
        required: false,
        default: None,
    },
    FieldSpec {
        name: key::PROV_PASSWORD,
        label: Label::new("Provizyon şifresi (PROVAUT)", "Provision password (PROVAUT)"),
        help: None,
        kind: FieldKind::Secret,
        required: true,
        default: None,
    },
    FieldSpec {
        name: key::REFUND_USER,
        label: Label::new("İptal/iade kullanıcısı", "Cancel/refund user"),
        help: Some(Label::new(
            "Boş bırakılırsa PROVRFN.",
            "Left empty, PROVRFN.",
        )),
        kind: FieldKind::Text { max_len: 32 },
        required: false,
        default: None,
    },
    FieldSpec {
        name: key::REFUND_PASSWORD,
        label: Label::new("İptal/iade şifresi (PROVRFN)", "Cancel/refund password (PROVRFN)"),
        help: Some(Label::new(
            "İptal ve iade bu kullanıcıyla yapılır.",
            "Cancels and refunds are made with this user.",
        )),
        kind: FieldKind::Secret,
        required: true,
        default: None,
    },
    FieldSpec {
        name: key::STORE_KEY,
        label: Label::new("3D anahtarı (store key)", "3D store key"),
        help: None,
        kind: FieldKind::Secret,
        required: true,
        default: None,
    },
    FieldSpec {
        name: key::THREE_D_MODEL,
        label: Label::new("3D modeli", "3D model"),
        help: Some(Label::new(
            "Bankanın işyeri için tanımladığı model.",
            "The model the bank set the merchant up for.",
        )),
        kind: FieldKind::Choice(MODELS),
        required: false,
        default: Some("3d"),
    },
    FieldSpec {
        name: key::ALLOW_HALF_SECURE,
        label: Label::new("Yarım 3D kabul edilsin", "Accept half-secure 3D"),
        help: Some(Label::new(
            "Açıksa mdstatus 2, 3, 4 kabul edilir; ters ibraz riski üye işyerindedir.",
            "When on, mdstatus 2, 3 and 4 are accepted; the merchant carries the chargeback risk.",
        )),
        kind: FieldKind::Flag,
        required: false,
        default: Some("false"),
    },
    FieldSpec {
        name: key::HASH_VERSION,
        label: Label::new("Özet (hash) sürümü", "Hash version"),
        help: Some(Label::new(
            "Banka eski entegrasyonu kullanmayı söylemedikçe 512.",
            "512 unless the bank says the merchant is on the legacy integration.",
        )),
        kind: FieldKind::Choice(VERSIONS),
        required: false,
        default: Some("512"),
    },
];

static INFO: ProtocolInfo = ProtocolInfo {
    id: "garanti",
    name: Label::new("Garanti BBVA (GVP)", "Garanti BBVA (GVP)"),
    fields: FIELDS,
    banks: BANKS,
    capabilities: Capabilities {
        three_d_models: &[ThreeDModel::ThreeD, ThreeDModel::ThreeDPay],
        partial_refund: true,
        pre_auth: true,
        installment_query: false,
        report_pull: true,
        statement_import: true,
        card_storage: false,
        // The inquiry does not read a capture: an unanswered capture is left for a person.
        pre_auth_inquiry: false,
    },
};

/// The Garanti BBVA protocol.
pub struct Garanti;

/// The registry's entry for Garanti BBVA.
pub static PROTOCOL: Garanti = Garanti;

/// A gate setting: a bare host gets the standard path.
fn gate_from_setting(url: &str) -> String {
    let trimmed = url.trim_end_matches('/');
    let after_scheme = trimmed.split_once("://").map_or(trimmed, |(_, rest)| rest);
    if after_scheme.contains('/') {
        trimmed.to_owned()
    } else {
        format!("{trimmed}{GATE_PATH}")
    }
}

impl Garanti {
    /// The API base and the 3D engine URL of a POS.
    fn endpoints(settings: &Settings, environment: Environment) -> Option<(String, String)> {
        let hosts = INFO
            .bank_of(settings)
            .and_then(|bank| bank.hosts(environment));
        let api = settings
            .get(key::API_URL)
            .map(str::to_owned)
            .or_else(|| hosts.map(|h| h.api.to_owned()))?;
        let gate = settings
            .get(key::GATE_URL)
            .map(gate_from_setting)
            .or_else(|| hosts.and_then(|h| h.three_d).map(str::to_owned))?;
        Some((api, gate))
    }
}

impl Protocol for Garanti {
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
        if Garanti::endpoints(settings, environment).is_none() {
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
        let (api, gate) = Garanti::endpoints(settings, environment).ok_or_else(|| {
            GatewayError::Invalid("no API or 3D address for this environment".into())
        })?;
        let credentials = Credentials {
            merchant_id: text(key::MERCHANT_ID)?,
            terminal_id: text(key::TERMINAL_ID)?,
            prov_user: settings.get(key::PROV_USER).unwrap_or("PROVAUT").to_owned(),
            prov_password: Secret::new(text(key::PROV_PASSWORD)?),
            refund_user: settings
                .get(key::REFUND_USER)
                .unwrap_or("PROVRFN")
                .to_owned(),
            refund_password: Secret::new(text(key::REFUND_PASSWORD)?),
            store_key: Secret::new(text(key::STORE_KEY)?),
        };
        let model = match settings.choice(&INFO, key::THREE_D_MODEL).unwrap_or("3d") {
            "3d" => ThreeDModel::ThreeD,
            "3d_pay" => ThreeDModel::ThreeDPay,
            other => return Err(GatewayError::Invalid(format!("unknown 3D model {other}"))),
        };
        let mut config = GarantiConfig::new(api, gate, credentials);
        config.three_d_model = model;
        config.allow_half_secure = settings.flag(&INFO, key::ALLOW_HALF_SECURE);
        config.version =
            HashVersion::of(settings.choice(&INFO, key::HASH_VERSION).unwrap_or("512"));
        config.production = environment == Environment::Production;
        config.connect_timeout = timeouts.connect;
        config.request_timeout = timeouts.request;
        Ok(Arc::new(GarantiGateway::new(config)?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::validate;

    fn full() -> Settings {
        Settings::from_pairs([
            ("bank", "garanti"),
            ("merchant_id", "7000679"),
            ("terminal_id", "30691298"),
            ("prov_password", "123qweASD/"),
            ("refund_password", "123qweASD/"),
            ("store_key", "12345678"),
        ])
    }

    #[test]
    fn hosts_and_validation() {
        let bank = INFO.bank("garanti").unwrap();
        assert_eq!(bank.production.api, "https://sanalposprov.garanti.com.tr");
        assert_eq!(bank.test.api, "https://sanalposprovtest.garantibbva.com.tr");
        assert!(bank.test.three_d.unwrap().ends_with("/servlet/gt3dengine"));
        assert!(validate(&PROTOCOL, &full(), Environment::Production).is_ok());
        assert!(validate(&PROTOCOL, &full(), Environment::Test).is_ok());
        let err = validate(&PROTOCOL, &full(), Environment::Simulator).unwrap_err();
        assert_eq!(err.field, "api_url");
        let mut sim = full();
        sim.set("api_url", "http://127.0.0.1:9000");
        sim.set("gate_url", "http://127.0.0.1:9000");
        assert!(validate(&PROTOCOL, &sim, Environment::Simulator).is_ok());
        let (api, gate) = Garanti::endpoints(&sim, Environment::Simulator).unwrap();
        assert_eq!(api, "http://127.0.0.1:9000");
        assert_eq!(gate, "http://127.0.0.1:9000/servlet/gt3dengine");
        let mut bad = full();
        bad.set("terminal_id", "3069129x");
        assert_eq!(
            validate(&PROTOCOL, &bad, Environment::Test)
                .unwrap_err()
                .field,
            "terminal_id"
        );
        let mut bad = full();
        bad.set("refund_password", "");
        assert_eq!(
            validate(&PROTOCOL, &bad, Environment::Test)
                .unwrap_err()
                .field,
            "refund_password"
        );
        assert!(PROTOCOL
            .build(&full(), Environment::Test, Timeouts::default())
            .is_ok());
    }
}
