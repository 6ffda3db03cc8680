//! How a protocol describes itself, and the registry of every protocol sanalpos speaks.
//!
//! The rest of the system knows a POS as "protocol id + settings document +
//! capabilities". A protocol's field names, hosts, codes and quirks live in its own
//! module; it publishes them here as a [`ProtocolInfo`] (what the back office draws its
//! form from, what the service offers for a POS), validates a [`Settings`] document, and
//! builds a [`Gateway`] from it. Adding a protocol is one module and one line in
//! [`PROTOCOLS`].

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::{Gateway, GatewayError};

/// A text in Turkish and English, fixed at compile time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Label {
    /// The Turkish text, what a Turkish user reads (the default language).
    pub tr: &'static str,
    /// The English text, shown when the user chose English.
    pub en: &'static str,
}

impl Label {
    /// A label from its two texts.
    pub const fn new(tr: &'static str, en: &'static str) -> Label {
        Label { tr, en }
    }

    /// The text in a language.
    pub fn get(&self, lang: sanalpos_core::Lang) -> &'static str {
        match lang {
            sanalpos_core::Lang::Tr => self.tr,
            sanalpos_core::Lang::En => self.en,
        }
    }
}

/// Where a POS definition sends its calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Environment {
    /// The built-in simulator: its URL must be given in the settings.
    Simulator,
    /// The bank's or provider's test platform.
    Test,
    /// The live service.
    Production,
}

/// What kind of value a setting holds, which decides how it is validated, shown and
/// masked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldKind {
    /// Free text up to a length.
    Text {
        /// Most characters allowed.
        max_len: usize,
    },
    /// Only digits, between two lengths.
    Digits {
        /// The fewest digits accepted.
        min_len: usize,
        /// The most digits accepted.
        max_len: usize,
    },
    /// A credential: stored encrypted like everything else, never shown again, shown
    /// masked, and kept when an edit leaves it empty.
    Secret,
    /// An `http://` or `https://` base URL without a trailing path beyond the host's.
    Url,
    /// On or off: stored as `"true"` or `"false"`.
    Flag,
    /// One of a fixed list of values.
    Choice(&'static [(&'static str, Label)]),
}

/// One setting of a protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FieldSpec {
    /// The key in the settings document (`client_id`).
    pub name: &'static str,
    /// What a person calls it.
    pub label: Label,
    /// A line of help under the field, when it needs one.
    pub help: Option<Label>,
    /// Its kind.
    pub kind: FieldKind,
    /// Whether it must have a value. An optional URL left empty means "the bank's host
    /// for the environment".
    pub required: bool,
    /// Its value when the settings leave it out (flags and choices).
    pub default: Option<&'static str>,
}

/// The base URLs of one bank's platform.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hosts {
    /// Server-to-server API base (`https://sanalpos.isbank.com.tr`).
    pub api: &'static str,
    /// Where the cardholder's browser is sent for 3D Secure, when it differs from `api`.
    pub three_d: Option<&'static str>,
}

/// A bank (or the provider itself) that runs this protocol, with its hosts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BankPreset {
    /// Stable id stored in the settings' `bank` field (`isbank`).
    pub id: &'static str,
    /// The bank's name as people write it (`İş Bankası`).
    pub name: &'static str,
    /// The live platform.
    pub production: Hosts,
    /// The test platform.
    pub test: Hosts,
}

impl BankPreset {
    /// The hosts of an environment; `None` for the simulator, whose URL is a setting.
    pub fn hosts(&self, environment: Environment) -> Option<Hosts> {
        match environment {
            Environment::Production => Some(self.production),
            Environment::Test => Some(self.test),
            Environment::Simulator => None,
        }
    }
}

/// A 3D Secure model a protocol can run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ThreeDModel {
    /// The bank authenticates; our server then charges.
    ThreeD,
    /// The bank authenticates and charges.
    ThreeDPay,
    /// The card is typed on the bank's page; the bank authenticates and charges.
    ThreeDHost,
}

/// What a protocol can do, so the service offers only that.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Capabilities {
    /// The 3D models it runs (empty: no 3D).
    pub three_d_models: &'static [ThreeDModel],
    /// A refund of part of a sale.
    pub partial_refund: bool,
    /// Pre-authorisation and capture.
    pub pre_auth: bool,
    /// Installment options asked of the provider per card; without it, the POS
    /// definition's own table is offered.
    pub installment_query: bool,
    /// The provider's transaction list can be pulled for reconciliation.
    pub report_pull: bool,
    /// The provider's statement files can be imported for reconciliation.
    pub statement_import: bool,
    /// Cards can be stored at the provider.
    pub card_storage: bool,
    /// Its inquiry tells whether a pre-authorisation was captured (and for how much) or
    /// released ([`Inquiry::Approved`](crate::Inquiry)'s `captured`, `cancelled`): an
    /// unanswered capture or release can be settled by asking.
    pub pre_auth_inquiry: bool,
}

/// Everything a protocol says about itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProtocolInfo {
    /// Stable id stored with every POS (`nkolay`, `nestpay`).
    pub id: &'static str,
    /// The protocol's name.
    pub name: Label,
    /// Its settings, in the order a form shows them. Every protocol has a `bank` choice
    /// drawn from [`ProtocolInfo::banks`], which the form shows first.
    pub fields: &'static [FieldSpec],
    /// The banks (or the provider) that run it.
    pub banks: &'static [BankPreset],
    /// What it can do.
    pub capabilities: Capabilities,
}

impl ProtocolInfo {
    /// A bank preset by id.
    pub fn bank(&self, id: &str) -> Option<&'static BankPreset> {
        self.banks.iter().find(|b| b.id == id)
    }

    /// A field by name.
    pub fn field(&self, name: &str) -> Option<&'static FieldSpec> {
        self.fields.iter().find(|f| f.name == name)
    }

    /// The bank a settings document names, or the only bank when there is one.
    pub fn bank_of(&self, settings: &Settings) -> Option<&'static BankPreset> {
        match settings.get(BANK_FIELD) {
            Some(id) => self.bank(id),
            None if self.banks.len() == 1 => self.banks.first(),
            None => None,
        }
    }
}

/// The name of the settings field that holds the bank preset's id.
pub const BANK_FIELD: &str = "bank";

/// How long calls may take; the rest of a gateway's configuration is its settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    /// Time to open a connection.
    pub connect: Duration,
    /// Time for a whole exchange.
    pub request: Duration,
}

impl Default for Timeouts {
    fn default() -> Timeouts {
        Timeouts {
            connect: Duration::from_secs(5),
            request: Duration::from_secs(30),
        }
    }
}

/// A setting that does not pass its field's rule. Never carries a secret's value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {}", message.en)]
pub struct SettingsError {
    /// The field's name.
    pub field: String,
    /// Why, in both languages.
    pub message: SettingsMessage,
}

/// A settings error's text in Turkish and English (owned: it may name a value's length).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SettingsMessage {
    /// The Turkish text, what a Turkish user reads (the default language).
    pub tr: String,
    /// The English text, shown when the user chose English.
    pub en: String,
}

impl SettingsError {
    /// An error on a field.
    pub fn new(field: &str, tr: impl Into<String>, en: impl Into<String>) -> SettingsError {
        SettingsError {
            field: field.to_owned(),
            message: SettingsMessage {
                tr: tr.into(),
                en: en.into(),
            },
        }
    }
}

/// A protocol: its description, and how a gateway is made from a POS's settings.
pub trait Protocol: Send + Sync {
    /// What the protocol is and can do.
    fn info(&self) -> &'static ProtocolInfo;

    /// Checks the rules beyond each field's own (a host needed for the simulator, a
    /// combination of fields). The field rules of [`validate`] run first.
    fn check(&self, settings: &Settings, environment: Environment) -> Result<(), SettingsError>;

    /// A client for one POS from its settings, already validated.
    fn build(
        &self,
        settings: &Settings,
        environment: Environment,
        timeouts: Timeouts,
    ) -> Result<Arc<dyn Gateway>, GatewayError>;
}

/// Every protocol sanalpos speaks. Adding one is one line here.
pub static PROTOCOLS: &[&dyn Protocol] = &[
    &crate::nkolay::PROTOCOL,
    &crate::nestpay::PROTOCOL,
    &crate::garanti::PROTOCOL,
    &crate::posnet::PROTOCOL,
];

pub use crate::nkolay::protocol::settings as nkolay_settings;

/// A protocol by id.
pub fn protocol(id: &str) -> Option<&'static dyn Protocol> {
    PROTOCOLS.iter().copied().find(|p| p.info().id == id)
}

/// Checks a settings document against a protocol's fields and rules: required fields
/// present, each value of its kind, no field the protocol does not know, the bank known.
pub fn validate(
    protocol: &dyn Protocol,
    settings: &Settings,
    environment: Environment,
) -> Result<(), SettingsError> {
    let info = protocol.info();
    for (name, _) in settings.iter() {
        if info.field(name).is_none() {
            return Err(SettingsError::new(
                name,
                "bu protokolün böyle bir ayarı yok",
                "this protocol has no such setting",
            ));
        }
    }
    for field in info.fields {
        match settings.get(field.name) {
            None if field.required => {
                return Err(SettingsError::new(field.name, "gerekli", "required"));
            }
            None => {}
            Some(value) => check_kind(field, value)?,
        }
    }
    if info.bank_of(settings).is_none() {
        return Err(SettingsError::new(
            BANK_FIELD,
            "banka seçilmeli",
            "choose the bank",
        ));
    }
    protocol.check(settings, environment)
}

fn check_kind(field: &FieldSpec, value: &str) -> Result<(), SettingsError> {
    let bad = |tr: &str, en: &str| Err(SettingsError::new(field.name, tr, en));
    if value.trim() != value {
        return bad(
            "başında veya sonunda boşluk olamaz",
            "no spaces at the start or end",
        );
    }
    match field.kind {
        FieldKind::Text { max_len } if value.chars().count() > max_len => bad(
            &format!("en çok {max_len} karakter"),
            &format!("at most {max_len} characters"),
        ),
        FieldKind::Text { .. } => Ok(()),
        FieldKind::Digits { min_len, max_len } => {
            if value.len() < min_len
                || value.len() > max_len
                || !value.bytes().all(|b| b.is_ascii_digit())
            {
                bad(
                    &format!("{min_len}–{max_len} haneli bir sayı olmalı"),
                    &format!("must be {min_len} to {max_len} digits"),
                )
            } else {
                Ok(())
            }
        }
        FieldKind::Secret if value.is_empty() || value.len() > 512 => {
            bad("1–512 karakter olmalı", "must be 1 to 512 characters")
        }
        FieldKind::Secret => Ok(()),
        FieldKind::Url => check_url(field.name, value),
        FieldKind::Flag if value == "true" || value == "false" => Ok(()),
        FieldKind::Flag => bad("açık ya da kapalı", "on or off"),
        FieldKind::Choice(options) if options.iter().any(|(v, _)| *v == value) => Ok(()),
        FieldKind::Choice(_) => bad("listedeki değerlerden biri", "one of the listed values"),
    }
}

/// A base URL: `http(s)://host[:port][/path]`, no query, no fragment, no credentials.
pub fn check_url(field: &str, value: &str) -> Result<(), SettingsError> {
    let rest = value
        .strip_prefix("https://")
        .or_else(|| value.strip_prefix("http://"));
    let ok = rest.is_some_and(|rest| {
        let host = rest.split('/').next().unwrap_or_default();
        !host.is_empty()
            && !rest.contains(['?', '#', '@', ' '])
            && host
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-.:[]".contains(&b))
    });
    if ok {
        Ok(())
    } else {
        Err(SettingsError::new(
            field,
            "http:// veya https:// ile başlayan bir adres olmalı",
            "must be an http:// or https:// address",
        ))
    }
}

/// One POS's settings: protocol-defined keys and their text values. It holds
/// credentials: its `Debug` prints the keys only, and it is wiped when dropped.
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Settings(BTreeMap<String, String>);

impl Settings {
    /// No settings.
    pub fn new() -> Settings {
        Settings::default()
    }

    /// From pairs; empty values are left out (an empty value means "not set").
    pub fn from_pairs<K: Into<String>, V: Into<String>>(
        pairs: impl IntoIterator<Item = (K, V)>,
    ) -> Settings {
        let mut settings = Settings::new();
        for (k, v) in pairs {
            settings.set(k, v);
        }
        settings
    }

    /// A value, `None` when not set.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(String::as_str)
    }

    /// A value a gateway cannot be built without (the settings were validated, so its
    /// absence is a bug, said without any value).
    pub fn require(&self, name: &str) -> Result<&str, crate::GatewayError> {
        self.get(name)
            .ok_or_else(|| crate::GatewayError::Invalid(format!("setting {name} is missing")))
    }

    /// A flag's value, falling back to the field's default, then to off.
    pub fn flag(&self, info: &ProtocolInfo, name: &str) -> bool {
        self.get(name)
            .or_else(|| info.field(name).and_then(|f| f.default))
            .is_some_and(|v| v == "true")
    }

    /// A choice's value, falling back to the field's default.
    pub fn choice<'a>(&'a self, info: &ProtocolInfo, name: &str) -> Option<&'a str> {
        self.get(name)
            .or_else(|| info.field(name).and_then(|f| f.default))
    }

    /// Sets a value; an empty one removes the field.
    pub fn set(&mut self, name: impl Into<String>, value: impl Into<String>) {
        let name = name.into();
        let value = value.into();
        if value.is_empty() {
            if let Some(mut old) = self.0.remove(&name) {
                wipe(&mut old);
            }
        } else if let Some(mut old) = self.0.insert(name, value) {
            wipe(&mut old);
        }
    }

    /// Every field, by name.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// The document as JSON text, to be encrypted at rest.
    pub fn to_json(&self) -> String {
        serde_json::to_string(&self.0).unwrap_or_else(|_| "{}".to_owned())
    }

    /// Reads a document written by [`Settings::to_json`].
    pub fn from_json(text: &str) -> Result<Settings, serde_json::Error> {
        serde_json::from_str::<BTreeMap<String, String>>(text).map(Settings)
    }

    /// The fields as a person may see them: secrets masked, the rest as they are.
    pub fn shown(&self, info: &ProtocolInfo) -> Vec<(&'static FieldSpec, String)> {
        info.fields
            .iter()
            .filter_map(|field| {
                let value = self.get(field.name)?;
                let shown = match field.kind {
                    FieldKind::Secret => sanalpos_core::Secret::new(value.to_owned()).masked(),
                    _ => value.to_owned(),
                };
                Some((field, shown))
            })
            .collect()
    }
}

fn wipe(value: &mut String) {
    zeroize::Zeroize::zeroize(value);
}

impl Drop for Settings {
    fn drop(&mut self) {
        for value in self.0.values_mut() {
            wipe(value);
        }
    }
}

impl fmt::Debug for Settings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.0.keys()).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_hide_values_in_debug() {
        let s = Settings::from_pairs([("store_key", "TRPS0200"), ("client_id", "7006")]);
        let shown = format!("{s:?}");
        assert!(shown.contains("store_key"));
        assert!(!shown.contains("TRPS0200"));
    }

    #[test]
    fn an_empty_value_is_not_set() {
        let mut s = Settings::from_pairs([("a", "1"), ("b", "")]);
        assert_eq!(s.get("b"), None);
        s.set("a", "");
        assert_eq!(s.get("a"), None);
        assert_eq!(s.to_json(), "{}");
    }

    #[test]
    fn urls_are_checked() {
        assert!(check_url("u", "https://sanalpos.isbank.com.tr").is_ok());
        assert!(check_url("u", "http://127.0.0.1:8081").is_ok());
        assert!(check_url("u", "ftp://x").is_err());
        assert!(check_url("u", "https://user@host").is_err());
        assert!(check_url("u", "https://").is_err());
    }

    #[test]
    fn every_protocol_is_consistent() {
        for p in PROTOCOLS {
            let info = p.info();
            assert!(protocol(info.id).is_some());
            assert!(!info.banks.is_empty(), "{}", info.id);
            let bank = info
                .field(BANK_FIELD)
                .expect("every protocol has a bank field");
            let FieldKind::Choice(options) = bank.kind else {
                panic!("{}: the bank field is a choice", info.id);
            };
            assert_eq!(options.len(), info.banks.len(), "{}", info.id);
            for (id, _) in options {
                assert!(info.bank(id).is_some(), "{}: bank {id}", info.id);
            }
        }
    }
}
