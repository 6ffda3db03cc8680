//! N Kolay as the registry sees it: its settings, its hosts, what it can do, and how a
//! client is built from a POS's settings.

use std::sync::Arc;

use sanalpos_core::Secret;

use super::{Credentials, NkolayConfig, NkolayGateway, PRODUCTION_BASE_URL, TEST_BASE_URL};
use crate::protocol::{
    BankPreset, Capabilities, Environment, FieldKind, FieldSpec, Hosts, Label, Protocol,
    ProtocolInfo, Settings, SettingsError, ThreeDModel, Timeouts, BANK_FIELD,
};
use crate::{Gateway, GatewayError};

/// Setting names, the keys of an N Kolay POS's settings document.
mod key {
    pub const BASE_URL: &str = "base_url";
    pub const SX: &str = "sx";
    pub const SX_LIST: &str = "sx_list";
    pub const SX_CANCEL: &str = "sx_cancel";
    pub const SECRET_KEY: &str = "secret_key";
    pub const AUTO_COMPLETE: &str = "auto_complete";
}

const BANKS: &[BankPreset] = &[BankPreset {
    id: "nkolay",
    name: "N Kolay",
    production: Hosts {
        api: PRODUCTION_BASE_URL,
        three_d: None,
    },
    test: Hosts {
        api: TEST_BASE_URL,
        three_d: None,
    },
}];

const FIELDS: &[FieldSpec] = &[
    FieldSpec {
        name: BANK_FIELD,
        label: Label::new("Sağlayıcı", "Provider"),
        help: None,
        kind: FieldKind::Choice(&[("nkolay", Label::new("N Kolay", "N Kolay"))]),
        required: false,
        default: Some("nkolay"),
    },
    FieldSpec {
        name: key::BASE_URL,
        label: Label::new("Servis adresi", "Service URL"),
        help: Some(Label::new(
            "Boş bırakılırsa ortamın adresi kullanılır; simülatörde gerekli.",
            "Left empty, the environment's address is used; required for the simulator.",
        )),
        kind: FieldKind::Url,
        required: false,
        default: None,
    },
    FieldSpec {
        name: key::SX,
        label: Label::new("sx (ödeme)", "sx (payments)"),
        help: None,
        kind: FieldKind::Secret,
        required: true,
        default: None,
    },
    FieldSpec {
        name: key::SX_LIST,
        label: Label::new("sx (liste)", "sx (lists)"),
        help: None,
        kind: FieldKind::Secret,
        required: true,
        default: None,
    },
    FieldSpec {
        name: key::SX_CANCEL,
        label: Label::new("sx (iptal/iade)", "sx (cancel/refund)"),
        help: None,
        kind: FieldKind::Secret,
        required: true,
        default: None,
    },
    FieldSpec {
        name: key::SECRET_KEY,
        label: Label::new("Gizli anahtar", "Secret key"),
        help: None,
        kind: FieldKind::Secret,
        required: true,
        default: None,
    },
    FieldSpec {
        name: key::AUTO_COMPLETE,
        label: Label::new("AutoComplete", "AutoComplete"),
        help: Some(Label::new(
            "Kapalıysa 3D sonrası satış CompletePayment ile tamamlanır.",
            "When off, a 3D sale is completed with CompletePayment.",
        )),
        kind: FieldKind::Flag,
        required: false,
        default: Some("true"),
    },
];

static INFO: ProtocolInfo = ProtocolInfo {
    id: "nkolay",
    name: Label::new("N Kolay (PayNKolay)", "N Kolay (PayNKolay)"),
    fields: FIELDS,
    banks: BANKS,
    capabilities: Capabilities {
        three_d_models: &[ThreeDModel::ThreeDPay],
        partial_refund: true,
        pre_auth: true,
        installment_query: true,
        report_pull: true,
        statement_import: true,
        card_storage: true,
        pre_auth_inquiry: true,
    },
};

/// The N Kolay protocol.
pub struct Nkolay;

/// The registry's entry for N Kolay.
pub static PROTOCOL: Nkolay = Nkolay;

impl Nkolay {
    fn base_url(settings: &Settings, environment: Environment) -> Option<String> {
        match settings.get(key::BASE_URL) {
            Some(url) => Some(url.to_owned()),
            None => BANKS[0].hosts(environment).map(|h| h.api.to_owned()),
        }
    }
}

impl Protocol for Nkolay {
    fn info(&self) -> &'static ProtocolInfo {
        &INFO
    }

    fn check(&self, settings: &Settings, environment: Environment) -> Result<(), SettingsError> {
        if Nkolay::base_url(settings, environment).is_none() {
            return Err(SettingsError::new(
                key::BASE_URL,
                "simülatör için servis adresi gerekli",
                "the simulator needs its service URL",
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
        let secret = |name: &str| settings.require(name).map(|v| Secret::new(v.to_owned()));
        let base_url = Nkolay::base_url(settings, environment)
            .ok_or_else(|| GatewayError::Invalid("the simulator needs its URL".into()))?;
        let credentials = Credentials {
            sx: secret(key::SX)?,
            sx_list: secret(key::SX_LIST)?,
            sx_cancel: secret(key::SX_CANCEL)?,
            secret_key: secret(key::SECRET_KEY)?,
        };
        let mut config = NkolayConfig::new(base_url, credentials);
        config.auto_complete = settings.flag(&INFO, key::AUTO_COMPLETE);
        config.connect_timeout = timeouts.connect;
        config.request_timeout = timeouts.request;
        Ok(Arc::new(NkolayGateway::new(config)?))
    }
}

/// The settings document of an N Kolay POS from its parts (an empty `base_url` means
/// the environment's host).
pub fn settings(
    base_url: &str,
    sx: &str,
    sx_list: &str,
    sx_cancel: &str,
    secret_key: &str,
    auto_complete: bool,
) -> Settings {
    Settings::from_pairs([
        (BANK_FIELD, "nkolay"),
        (key::BASE_URL, base_url),
        (key::SX, sx),
        (key::SX_LIST, sx_list),
        (key::SX_CANCEL, sx_cancel),
        (key::SECRET_KEY, secret_key),
        (
            key::AUTO_COMPLETE,
            if auto_complete { "true" } else { "false" },
        ),
    ])
}

/// The settings document of an N Kolay POS stored before protocols described
/// themselves: its four secrets (the old encrypted credentials), its base URL and its
/// AutoComplete switch, in today's keys.
pub fn legacy_settings(
    credentials: &serde_json::Map<String, serde_json::Value>,
    base_url: &str,
    auto_complete: bool,
) -> Settings {
    let mut settings = Settings::new();
    settings.set(BANK_FIELD, "nkolay");
    settings.set(key::BASE_URL, base_url);
    for name in [key::SX, key::SX_LIST, key::SX_CANCEL, key::SECRET_KEY] {
        if let Some(value) = credentials.get(name).and_then(|v| v.as_str()) {
            settings.set(name, value);
        }
    }
    settings.set(key::AUTO_COMPLETE, auto_complete.to_string());
    settings
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::validate;

    fn full() -> Settings {
        Settings::from_pairs([
            ("bank", "nkolay"),
            ("sx", "sx-token"),
            ("sx_list", "sx-list-token"),
            ("sx_cancel", "sx-cancel-token"),
            ("secret_key", "secret"),
        ])
    }

    #[test]
    fn hosts_come_from_the_environment_unless_given() {
        assert!(validate(&PROTOCOL, &full(), Environment::Production).is_ok());
        let err = validate(&PROTOCOL, &full(), Environment::Simulator).unwrap_err();
        assert_eq!(err.field, "base_url");
        let mut sim = full();
        sim.set("base_url", "http://127.0.0.1:8081");
        assert!(validate(&PROTOCOL, &sim, Environment::Simulator).is_ok());
    }

    #[test]
    fn a_missing_secret_or_an_unknown_field_is_named() {
        let mut s = full();
        s.set("sx_cancel", "");
        assert_eq!(
            validate(&PROTOCOL, &s, Environment::Test)
                .unwrap_err()
                .field,
            "sx_cancel"
        );
        let mut s = full();
        s.set("client_id", "1");
        assert_eq!(
            validate(&PROTOCOL, &s, Environment::Test)
                .unwrap_err()
                .field,
            "client_id"
        );
    }

    #[test]
    fn legacy_credentials_move_whole() {
        let old: serde_json::Map<String, serde_json::Value> =
            serde_json::from_str(r#"{"sx":"a","sx_list":"b","sx_cancel":"c","secret_key":"d"}"#)
                .unwrap();
        let s = legacy_settings(&old, "http://127.0.0.1:9", false);
        assert_eq!(s.get("sx"), Some("a"));
        assert_eq!(s.get("secret_key"), Some("d"));
        assert_eq!(s.get("base_url"), Some("http://127.0.0.1:9"));
        assert!(!s.flag(&INFO, "auto_complete"));
        assert!(validate(&PROTOCOL, &s, Environment::Simulator).is_ok());
    }
}
