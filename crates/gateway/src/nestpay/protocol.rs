//! NestPay as the registry sees it: its settings, the banks that run it with their
//! hosts, what it can do, and how a client is built from a POS's settings.

use std::sync::Arc;

use sanalpos_core::Secret;

use super::{
    model_from_store_type, Credentials, NestpayConfig, NestpayGateway, ThreeDModel, GATE_PATH,
};
use crate::protocol::{
    BankPreset, Capabilities, Environment, FieldKind, FieldSpec, Hosts, Label, Protocol,
    ProtocolInfo, Settings, SettingsError, Timeouts, BANK_FIELD,
};
use crate::{Gateway, GatewayError};

/// Setting names, the keys of a NestPay POS's settings document.
pub mod key {
    /// Override of the bank's API base URL.
    pub const API_URL: &str = "api_url";
    /// Override of the bank's 3D gate URL.
    pub const GATE_URL: &str = "gate_url";
    /// `ClientId`.
    pub const CLIENT_ID: &str = "client_id";
    /// `Name`.
    pub const API_USER: &str = "api_user";
    /// `Password`.
    pub const API_PASSWORD: &str = "api_password";
    /// The 3D store key.
    pub const STORE_KEY: &str = "store_key";
    /// `3d`, `3d_pay` or `3d_host`.
    pub const THREE_D_MODEL: &str = "three_d_model";
    /// Accept half-secure 3D.
    pub const ALLOW_HALF_SECURE: &str = "allow_half_secure";
}

/// The shared test platform (Asseco), for banks without their own.
const DEFAULT_TEST: Hosts = Hosts {
    api: "https://entegrasyon.asseco-see.com.tr",
    three_d: Some("https://entegrasyon.asseco-see.com.tr/fim/est3Dgate"),
};

/// A bank's hosts; the gate is `{api}/fim/est3Dgate` unless given whole.
macro_rules! hosts {
    ($host:literal) => {
        Hosts {
            api: concat!("https://", $host),
            three_d: Some(concat!("https://", $host, "/fim/est3Dgate")),
        }
    };
    ($host:literal, $gate_path:literal) => {
        Hosts {
            api: concat!("https://", $host),
            three_d: Some(concat!("https://", $host, $gate_path)),
        }
    };
}

/// Every bank on NestPay, with its production and test hosts (the `three_d` host is the
/// whole 3D gate URL: its path differs between banks).
pub const BANKS: &[BankPreset] = &[
    BankPreset {
        id: "isbank",
        name: "İş Bankası",
        production: hosts!("sanalpos.isbank.com.tr"),
        test: hosts!("istest.asseco-see.com.tr"),
    },
    BankPreset {
        id: "ziraat",
        name: "Ziraat Bankası",
        production: hosts!("sanalpos2.ziraatbank.com.tr"),
        test: hosts!("torus-stage-ziraat.asseco-see.com.tr"),
    },
    BankPreset {
        id: "halkbank",
        name: "Halkbank",
        production: hosts!("sanalpos.halkbank.com.tr", "/fim/est3dgate"),
        test: DEFAULT_TEST,
    },
    BankPreset {
        id: "teb",
        name: "TEB",
        production: hosts!("sanalpos.teb.com.tr"),
        test: DEFAULT_TEST,
    },
    BankPreset {
        id: "sekerbank",
        name: "Şekerbank",
        production: hosts!("sanalpos.sekerbank.com.tr"),
        test: DEFAULT_TEST,
    },
    BankPreset {
        id: "qnb",
        name: "QNB Finansbank",
        production: hosts!("www.fbwebpos.com", "/fim/est3dgate"),
        test: DEFAULT_TEST,
    },
    BankPreset {
        id: "anadolubank",
        name: "Anadolubank",
        production: hosts!("anadolusanalpos.est.com.tr"),
        test: DEFAULT_TEST,
    },
    BankPreset {
        id: "ing",
        name: "ING",
        production: hosts!("sanalpos.ingbank.com.tr"),
        test: DEFAULT_TEST,
    },
    BankPreset {
        id: "alternatif",
        name: "Alternatif Bank",
        production: hosts!("sanalpos.abank.com.tr"),
        test: DEFAULT_TEST,
    },
    BankPreset {
        id: "turkiyefinans",
        name: "Türkiye Finans",
        production: hosts!("sanalpos.turkiyefinans.com.tr"),
        test: DEFAULT_TEST,
    },
    BankPreset {
        id: "akbank",
        name: "Akbank (NestPay)",
        production: hosts!("www.sanalakpos.com"),
        test: DEFAULT_TEST,
    },
    BankPreset {
        id: "cardplus",
        name: "Cardplus",
        production: hosts!("sanalpos.card-plus.net"),
        test: DEFAULT_TEST,
    },
];

/// Banks whose `3d_host` form goes to another host than their other 3D forms, in
/// production.
const HOST_MODEL_GATES: &[(&str, &str)] =
    &[("akbank", "https://sanalpos.sanalakpos.com.tr/fim/est3Dgate")];

const MODELS: &[(&str, Label)] = &[
    ("3d", Label::new("3D (model)", "3D (model)")),
    (
        "3d_pay",
        Label::new("3D Pay (banka tahsil eder)", "3D Pay (the bank charges)"),
    ),
    (
        "3d_host",
        Label::new(
            "3D Host (kart bankanın sayfasında)",
            "3D Host (card typed on the bank's page)",
        ),
    ),
];

const FIELDS: &[FieldSpec] = &[
    FieldSpec {
        name: BANK_FIELD,
        label: Label::new("Banka", "Bank"),
        help: None,
        kind: FieldKind::Choice(&[
            ("isbank", Label::new("İş Bankası", "İş Bankası")),
            ("ziraat", Label::new("Ziraat Bankası", "Ziraat Bankası")),
            ("halkbank", Label::new("Halkbank", "Halkbank")),
            ("teb", Label::new("TEB", "TEB")),
            ("sekerbank", Label::new("Şekerbank", "Şekerbank")),
            ("qnb", Label::new("QNB Finansbank", "QNB Finansbank")),
            ("anadolubank", Label::new("Anadolubank", "Anadolubank")),
            ("ing", Label::new("ING", "ING")),
            ("alternatif", Label::new("Alternatif Bank", "Alternatif Bank")),
            ("turkiyefinans", Label::new("Türkiye Finans", "Türkiye Finans")),
            ("akbank", Label::new("Akbank (NestPay)", "Akbank (NestPay)")),
            ("cardplus", Label::new("Cardplus", "Cardplus")),
        ]),
        required: true,
        default: None,
    },
    FieldSpec {
        name: key::API_URL,
        label: Label::new("API adresi", "API address"),
        help: Some(Label::new(
            "Boş bırakılırsa bankanın ortam adresi kullanılır; simülatörde gerekli. İstekler {adres}/fim/api'ye gider.",
            "Left empty, the bank's address for the environment is used; required for the simulator. Calls go to {address}/fim/api.",
        )),
        kind: FieldKind::Url,
        required: false,
        default: None,
    },
    FieldSpec {
        name: key::GATE_URL,
        label: Label::new("3D geçit adresi", "3D gate address"),
        help: Some(Label::new(
            "Boş bırakılırsa bankanın adresi kullanılır; simülatörde gerekli. Yalnız sunucu adresi verilirse /fim/est3Dgate eklenir.",
            "Left empty, the bank's address is used; required for the simulator. A bare host gets /fim/est3Dgate.",
        )),
        kind: FieldKind::Url,
        required: false,
        default: None,
    },
    FieldSpec {
        name: key::CLIENT_ID,
        label: Label::new("Mağaza numarası (ClientId)", "Store number (ClientId)"),
        help: None,
        kind: FieldKind::Digits {
            min_len: 5,
            max_len: 15,
        },
        required: true,
        default: None,
    },
    FieldSpec {
        name: key::API_USER,
        label: Label::new("API kullanıcısı", "API user"),
        help: None,
        kind: FieldKind::Text { max_len: 255 },
        required: true,
        default: None,
    },
    FieldSpec {
        name: key::API_PASSWORD,
        label: Label::new("API şifresi", "API password"),
        help: None,
        kind: FieldKind::Secret,
        required: true,
        default: None,
    },
    FieldSpec {
        name: key::STORE_KEY,
        label: Label::new("3D anahtarı (storeKey)", "3D store key"),
        help: None,
        kind: FieldKind::Secret,
        required: true,
        default: None,
    },
    FieldSpec {
        name: key::THREE_D_MODEL,
        label: Label::new("3D modeli", "3D model"),
        help: Some(Label::new(
            "Bankanın mağaza için tanımladığı model.",
            "The model the bank set the store up for.",
        )),
        kind: FieldKind::Choice(MODELS),
        required: false,
        default: Some("3d"),
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
    id: "nestpay",
    name: Label::new("NestPay (EST)", "NestPay (EST)"),
    fields: FIELDS,
    banks: BANKS,
    capabilities: Capabilities {
        three_d_models: &[
            ThreeDModel::ThreeD,
            ThreeDModel::ThreeDPay,
            ThreeDModel::ThreeDHost,
        ],
        partial_refund: true,
        pre_auth: true,
        installment_query: false,
        report_pull: false,
        statement_import: true,
        card_storage: false,
        pre_auth_inquiry: true,
    },
};

/// The NestPay protocol.
pub struct Nestpay;

/// The registry's entry for NestPay.
pub static PROTOCOL: Nestpay = Nestpay;

/// A gate setting: a bare host gets the standard gate path.
fn gate_from_setting(url: &str) -> String {
    let trimmed = url.trim_end_matches('/');
    let after_scheme = trimmed.split_once("://").map_or(trimmed, |(_, rest)| rest);
    if after_scheme.contains('/') {
        trimmed.to_owned()
    } else {
        format!("{trimmed}{GATE_PATH}")
    }
}

/// Where a POS's calls and 3D forms go, from its settings and environment.
struct Endpoints {
    api: String,
    gate: String,
    host_gate: Option<String>,
}

impl Nestpay {
    fn endpoints(settings: &Settings, environment: Environment) -> Option<Endpoints> {
        let hosts = INFO
            .bank_of(settings)
            .and_then(|bank| bank.hosts(environment));
        let api = settings
            .get(key::API_URL)
            .map(str::to_owned)
            .or_else(|| hosts.map(|h| h.api.to_owned()))?;
        let gate_setting = settings.get(key::GATE_URL);
        let gate = gate_setting
            .map(gate_from_setting)
            .or_else(|| hosts.and_then(|h| h.three_d).map(str::to_owned))?;
        let host_gate = match (gate_setting, environment) {
            (None, Environment::Production) => settings.get(BANK_FIELD).and_then(|bank| {
                HOST_MODEL_GATES
                    .iter()
                    .find(|(id, _)| *id == bank)
                    .map(|(_, url)| (*url).to_owned())
            }),
            _ => None,
        };
        Some(Endpoints {
            api,
            gate,
            host_gate,
        })
    }
}

impl Protocol for Nestpay {
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
        if Nestpay::endpoints(settings, environment).is_none() {
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
        let endpoints = Nestpay::endpoints(settings, environment).ok_or_else(|| {
            GatewayError::Invalid("no API or 3D gate address for this environment".into())
        })?;
        let credentials = Credentials {
            client_id: text(key::CLIENT_ID)?,
            api_user: text(key::API_USER)?,
            api_password: Secret::new(text(key::API_PASSWORD)?),
            store_key: Secret::new(text(key::STORE_KEY)?),
        };
        let model_name = settings.choice(&INFO, key::THREE_D_MODEL).unwrap_or("3d");
        let model = model_from_store_type(model_name)
            .ok_or_else(|| GatewayError::Invalid(format!("unknown 3D model {model_name}")))?;
        let mut config = NestpayConfig::new(endpoints.api, endpoints.gate, credentials);
        config.host_gate_url = endpoints.host_gate;
        config.three_d_model = model;
        config.allow_half_secure = settings.flag(&INFO, key::ALLOW_HALF_SECURE);
        config.connect_timeout = timeouts.connect;
        config.request_timeout = timeouts.request;
        Ok(Arc::new(NestpayGateway::new(config)?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::validate;

    fn full(bank: &str) -> Settings {
        Settings::from_pairs([
            ("bank", bank),
            ("client_id", "700655000200"),
            ("api_user", "ISBANKAPI"),
            ("api_password", "ISBANK07"),
            ("store_key", "TRPS0200"),
        ])
    }

    #[test]
    fn every_bank_of_the_table_with_its_hosts() {
        let expected = [
            (
                "isbank",
                "https://sanalpos.isbank.com.tr",
                "https://istest.asseco-see.com.tr",
            ),
            (
                "ziraat",
                "https://sanalpos2.ziraatbank.com.tr",
                "https://torus-stage-ziraat.asseco-see.com.tr",
            ),
            (
                "halkbank",
                "https://sanalpos.halkbank.com.tr",
                DEFAULT_TEST.api,
            ),
            ("teb", "https://sanalpos.teb.com.tr", DEFAULT_TEST.api),
            (
                "sekerbank",
                "https://sanalpos.sekerbank.com.tr",
                DEFAULT_TEST.api,
            ),
            ("qnb", "https://www.fbwebpos.com", DEFAULT_TEST.api),
            (
                "anadolubank",
                "https://anadolusanalpos.est.com.tr",
                DEFAULT_TEST.api,
            ),
            ("ing", "https://sanalpos.ingbank.com.tr", DEFAULT_TEST.api),
            (
                "alternatif",
                "https://sanalpos.abank.com.tr",
                DEFAULT_TEST.api,
            ),
            (
                "turkiyefinans",
                "https://sanalpos.turkiyefinans.com.tr",
                DEFAULT_TEST.api,
            ),
            ("akbank", "https://www.sanalakpos.com", DEFAULT_TEST.api),
            (
                "cardplus",
                "https://sanalpos.card-plus.net",
                DEFAULT_TEST.api,
            ),
        ];
        assert_eq!(BANKS.len(), expected.len());
        for (id, production, test) in expected {
            let bank = INFO.bank(id).unwrap_or_else(|| panic!("{id}"));
            assert_eq!(bank.production.api, production);
            assert_eq!(bank.test.api, test);
            let gate = bank.production.three_d.unwrap();
            let lower = matches!(id, "halkbank" | "qnb");
            assert_eq!(
                gate,
                format!(
                    "{production}{}",
                    if lower {
                        "/fim/est3dgate"
                    } else {
                        "/fim/est3Dgate"
                    }
                )
            );
            assert!(bank.test.three_d.unwrap().ends_with("/fim/est3Dgate"));
            assert!(validate(&PROTOCOL, &full(id), Environment::Production).is_ok());
            assert!(validate(&PROTOCOL, &full(id), Environment::Test).is_ok());
        }
    }

    #[test]
    fn the_bank_comes_first_and_the_simulator_needs_both_addresses() {
        assert_eq!(INFO.fields[0].name, BANK_FIELD);
        let err = validate(&PROTOCOL, &full("isbank"), Environment::Simulator).unwrap_err();
        assert_eq!(err.field, "api_url");
        let mut sim = full("isbank");
        sim.set("api_url", "http://127.0.0.1:8082");
        let err = validate(&PROTOCOL, &sim, Environment::Simulator).unwrap_err();
        assert_eq!(err.field, "gate_url");
        sim.set("gate_url", "http://127.0.0.1:8082");
        assert!(validate(&PROTOCOL, &sim, Environment::Simulator).is_ok());
        let e = Nestpay::endpoints(&sim, Environment::Simulator).unwrap();
        assert_eq!(e.api, "http://127.0.0.1:8082");
        assert_eq!(e.gate, "http://127.0.0.1:8082/fim/est3Dgate");
        sim.set("gate_url", "http://127.0.0.1:8082/sim/gate");
        let e = Nestpay::endpoints(&sim, Environment::Simulator).unwrap();
        assert_eq!(e.gate, "http://127.0.0.1:8082/sim/gate");
    }

    #[test]
    fn missing_or_unknown_settings_are_named() {
        let mut s = full("isbank");
        s.set("store_key", "");
        assert_eq!(
            validate(&PROTOCOL, &s, Environment::Test)
                .unwrap_err()
                .field,
            "store_key"
        );
        let mut s = full("isbank");
        s.set("client_id", "70065x");
        assert_eq!(
            validate(&PROTOCOL, &s, Environment::Test)
                .unwrap_err()
                .field,
            "client_id"
        );
        let mut s = full("isbank");
        s.set("three_d_model", "3d_full");
        assert_eq!(
            validate(&PROTOCOL, &s, Environment::Test)
                .unwrap_err()
                .field,
            "three_d_model"
        );
        let s = full("garanti");
        assert_eq!(
            validate(&PROTOCOL, &s, Environment::Test)
                .unwrap_err()
                .field,
            "bank"
        );
    }

    #[test]
    fn builds_with_defaults_and_the_akbank_host_gate() {
        let gw = PROTOCOL
            .build(
                &full("akbank"),
                Environment::Production,
                Timeouts::default(),
            )
            .unwrap();
        drop(gw);
        let e = Nestpay::endpoints(&full("akbank"), Environment::Production).unwrap();
        assert_eq!(
            e.host_gate.as_deref(),
            Some("https://sanalpos.sanalakpos.com.tr/fim/est3Dgate")
        );
        assert!(Nestpay::endpoints(&full("akbank"), Environment::Test)
            .unwrap()
            .host_gate
            .is_none());
        assert_eq!(
            settings_model(&full("isbank")),
            ThreeDModel::ThreeD,
            "3d by default"
        );
        assert!(!full("isbank").flag(&INFO, key::ALLOW_HALF_SECURE));
        assert_eq!(INFO.capabilities.three_d_models.len(), 3);
        assert!(INFO.capabilities.pre_auth && !INFO.capabilities.report_pull);
    }

    fn settings_model(s: &Settings) -> ThreeDModel {
        model_from_store_type(s.choice(&INFO, key::THREE_D_MODEL).unwrap()).unwrap()
    }
}
