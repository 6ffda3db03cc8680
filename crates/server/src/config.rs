//! Typed, layered configuration: defaults, then a TOML file, then `SANALPOS_*`
//! environment variables. A bad key or value stops the start with its name.

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::NaiveTime;
use serde::Deserialize;

use sanalpos_service::{AbuseLimits, WebhookWorkerConfig};

use crate::ratelimit::RateLimits;

/// Everything `sanalpos serve` needs to start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// Where the HTTP server listens (port 0 picks a free one).
    pub listen: SocketAddr,
    /// Our address as browsers and the provider reach it; 3D return URLs start with it.
    /// Empty means `http://<listen address>`.
    pub public_base_url: String,
    /// The data directory: the SQLite file, the master key file.
    pub data_dir: PathBuf,
    /// `postgres://…` to share a PostgreSQL database between instances; empty for the
    /// embedded SQLite file in `data_dir`.
    pub database_url: String,
    /// `text` or `json` log lines.
    pub log_format: LogFormat,
    /// How often the janitor looks for unresolved payments.
    pub janitor_interval: Duration,
    /// How long one provider call may take.
    pub provider_timeout: Duration,
    /// How long a cardholder has to finish 3D Secure.
    pub three_d_ttl: Duration,
    /// How long an unknown payment the provider has no record of is retried before it
    /// is marked failed.
    pub unknown_grace: Duration,
    /// Istanbul local time after which the previous business day is reconciled for
    /// every active POS; `None` (`"off"`) switches the end-of-day job off.
    pub end_of_day: Option<NaiveTime>,
    /// The webhook delivery worker: on/off, backoff, timeout, retry window.
    pub webhooks: WebhookWorkerConfig,
    /// Consecutive technical failures after which a POS stops sending calls for
    /// `breaker_cooldown` (0 switches the circuit breaker off).
    pub breaker_failures: u32,
    /// How long an open circuit breaker holds calls back before probing.
    pub breaker_cooldown: Duration,
    /// The mail server payment links are sent through; `None` (no `smtp_host`): links
    /// cannot be sent by e-mail.
    pub smtp: Option<SmtpConfig>,
    /// Request rate limits: API payments and other requests per key and per company, "Online
    /// Tahsilat" charges per back-office user (0 switches one off).
    pub rate_limits: RateLimits,
    /// Card-testing limits: a checkout session or payment link locks after
    /// `session_failed_attempts`; a card with `card_declines` declines within
    /// `card_decline_window`, or a client IP with `ip_declines` within
    /// `ip_decline_window`, is refused before the provider. 0 switches a limit off.
    pub abuse: AbuseLimits,
    /// Where the service reads the time: the system clock; tests set one they can move
    /// forward. Not a setting of the file or the environment.
    pub clock: sanalpos_core::Clock,
    /// Reverse proxies (load balancers) whose `X-Forwarded-For` is believed: a request
    /// from one of them is from the last address of that header not in this list.
    /// Empty (the default): the connection's peer address is the client's.
    pub trusted_proxies: Vec<IpAddr>,
}

/// A secret setting (the SMTP password): core's [`Secret`], which prints as
/// `[redacted]` and is wiped from memory when dropped.
pub use sanalpos_core::Secret;

/// How the connection to the mail server is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SmtpTls {
    /// Plain text (a relay on the same host or network only).
    None,
    /// Plain connection upgraded with STARTTLS (port 587 by default).
    Starttls,
    /// TLS from the first byte (port 465 by default).
    Tls,
}

impl SmtpTls {
    fn parse(text: &str) -> Option<SmtpTls> {
        match text.trim() {
            "none" => Some(SmtpTls::None),
            "starttls" => Some(SmtpTls::Starttls),
            "tls" => Some(SmtpTls::Tls),
            _ => None,
        }
    }

    /// The usual port of this mode.
    pub fn default_port(self) -> u16 {
        match self {
            SmtpTls::None => 25,
            SmtpTls::Starttls => 587,
            SmtpTls::Tls => 465,
        }
    }
}

/// The mail server payment links are sent through.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SmtpConfig {
    /// Host name (also the name the TLS certificate must carry).
    pub host: String,
    /// The mail server's port (587 with STARTTLS, 465 with implicit TLS).
    pub port: u16,
    /// Connection protection.
    pub tls: SmtpTls,
    /// Login name; empty for a server that takes mail without logging in.
    pub username: String,
    /// The password of `username`; never printed (`Secret` hides it from `Debug`).
    pub password: Secret,
    /// The sender: `odeme@firma.com.tr` or `Firma <odeme@firma.com.tr>`.
    pub from: String,
    /// How long one sending may take.
    pub timeout: Duration,
}

/// Log line format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable.
    Text,
    /// One JSON object per line, for production.
    Json,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            public_base_url: String::new(),
            data_dir: PathBuf::from("data"),
            database_url: String::new(),
            log_format: LogFormat::Text,
            janitor_interval: Duration::from_secs(5),
            provider_timeout: Duration::from_secs(30),
            three_d_ttl: Duration::from_secs(15 * 60),
            unknown_grace: Duration::from_secs(120),
            end_of_day: NaiveTime::from_hms_opt(3, 0, 0),
            webhooks: WebhookWorkerConfig::default(),
            breaker_failures: 5,
            breaker_cooldown: Duration::from_secs(30),
            smtp: None,
            rate_limits: RateLimits::default(),
            abuse: AbuseLimits::default(),
            clock: sanalpos_core::Clock::system(),
            trusted_proxies: Vec::new(),
        }
    }
}

/// Why the configuration was refused; always names the key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read config file {path}: {reason}")]
    Unreadable {
        /// The file.
        path: String,
        /// Why.
        reason: String,
    },
    /// A key or value in the file is wrong.
    #[error("config file {path}: {reason}")]
    File {
        /// The file.
        path: String,
        /// What is wrong, with the key.
        reason: String,
    },
    /// Settings that are each well-formed do not fit together.
    #[error("setting {key}: {reason}")]
    Setting {
        /// The key, with its environment variable.
        key: String,
        /// What is wrong.
        reason: String,
    },
    /// An environment variable is unknown or has a bad value.
    #[error("environment variable {name}: {reason}")]
    Env {
        /// The variable.
        name: String,
        /// What is wrong.
        reason: String,
    },
}

/// The file's shape: every key optional, unknown keys refused.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Layer {
    listen: Option<SocketAddr>,
    public_base_url: Option<String>,
    data_dir: Option<PathBuf>,
    database_url: Option<String>,
    log_format: Option<LogFormat>,
    janitor_interval_secs: Option<u64>,
    provider_timeout_secs: Option<u64>,
    three_d_ttl_secs: Option<u64>,
    unknown_grace_secs: Option<u64>,
    end_of_day: Option<EndOfDay>,
    webhook_worker: Option<bool>,
    webhook_backoff_base_secs: Option<u64>,
    webhook_timeout_secs: Option<u64>,
    breaker_failures: Option<u32>,
    breaker_cooldown_secs: Option<u64>,
    smtp_host: Option<String>,
    smtp_port: Option<u16>,
    smtp_tls: Option<SmtpTls>,
    smtp_username: Option<String>,
    smtp_password: Option<String>,
    smtp_from: Option<String>,
    smtp_timeout_secs: Option<u64>,
    rate_limit_window_secs: Option<u64>,
    rate_limit_payments_per_key: Option<u32>,
    rate_limit_payments_per_company: Option<u32>,
    rate_limit_requests_per_key: Option<u32>,
    rate_limit_requests_per_company: Option<u32>,
    collect_limit_per_user: Option<u32>,
    collect_limit_window_secs: Option<u64>,
    session_failed_attempts: Option<u32>,
    card_declines: Option<u32>,
    card_decline_window_secs: Option<u64>,
    ip_declines: Option<u32>,
    ip_decline_window_secs: Option<u64>,
    trusted_proxies: Option<Vec<IpAddr>>,
}

/// The `end_of_day` setting: `"HH:MM"` (Istanbul time) or `"off"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
struct EndOfDay(Option<NaiveTime>);

impl TryFrom<String> for EndOfDay {
    type Error = String;

    fn try_from(text: String) -> Result<EndOfDay, String> {
        let text = text.trim();
        if text.eq_ignore_ascii_case("off") {
            return Ok(EndOfDay(None));
        }
        NaiveTime::parse_from_str(text, "%H:%M")
            .map(|t| EndOfDay(Some(t)))
            .map_err(|_| format!("end_of_day: {text:?} is neither HH:MM nor off"))
    }
}

/// `SANALPOS_*` variables read by other parts (the master key, tools, tests), which the
/// configuration check must not call unknown.
const OTHER_VARIABLES: &[&str] = &[
    "SANALPOS_MASTER_KEY",
    "SANALPOS_NKOLAY_SECRET_KEY",
    "SANALPOS_TEST_DATABASE_URL",
    "SANALPOS_REQUIRE_POSTGRES",
    "SANALPOS_REQUIRE_BROWSER",
    "SANALPOS_KEEP_TEST_DATA",
    "SANALPOS_CHROMEDRIVER",
    "SANALPOS_CHROMIUM",
    // The scripts' own: which binary `scripts/api-fuzz` runs, and how hard it fuzzes.
    "SANALPOS_BIN",
    "SANALPOS_API_FUZZ_EXAMPLES",
];

impl Config {
    /// Defaults, then `file` (when given), then the `SANALPOS_*` variables of `env`.
    pub fn load(
        file: Option<&Path>,
        env: &BTreeMap<String, String>,
    ) -> Result<Config, ConfigError> {
        let mut config = Config::default();
        if let Some(path) = file {
            let shown = path.display().to_string();
            let text = std::fs::read_to_string(path).map_err(|e| ConfigError::Unreadable {
                path: shown.clone(),
                reason: e.to_string(),
            })?;
            let layer: Layer = toml::from_str(&text).map_err(|e| ConfigError::File {
                path: shown,
                reason: e.message().to_owned(),
            })?;
            config.apply(layer);
        }
        config.apply(env_layer(env)?);
        config.check_smtp()?;
        Ok(config)
    }

    /// A mail server needs its sender; a sender without a server is a mistake too.
    fn check_smtp(&self) -> Result<(), ConfigError> {
        let Some(smtp) = &self.smtp else {
            return Ok(());
        };
        let bad = |key: &str, reason: &str| ConfigError::Setting {
            key: key.to_owned(),
            reason: reason.to_owned(),
        };
        if smtp.host.trim().is_empty() {
            return Err(bad(
                "smtp_host (SANALPOS_SMTP_HOST)",
                "the other smtp_* settings need the mail server's host",
            ));
        }
        if smtp
            .from
            .trim()
            .parse::<lettre::message::Mailbox>()
            .is_err()
        {
            return Err(bad(
                "smtp_from (SANALPOS_SMTP_FROM)",
                "the sender must be an address like odeme@firma.com.tr or Firma <odeme@firma.com.tr>",
            ));
        }
        if smtp.password.expose().is_empty() != smtp.username.is_empty() {
            return Err(bad(
                "smtp_username (SANALPOS_SMTP_USERNAME)",
                "a login needs both smtp_username and smtp_password",
            ));
        }
        Ok(())
    }

    /// The process's own environment.
    pub fn from_process(file: Option<&Path>) -> Result<Config, ConfigError> {
        let env: BTreeMap<String, String> = std::env::vars().collect();
        Config::load(file, &env)
    }

    fn apply(&mut self, layer: Layer) {
        let secs = Duration::from_secs;
        if let Some(v) = layer.listen {
            self.listen = v;
        }
        if let Some(v) = layer.public_base_url {
            self.public_base_url = v;
        }
        if let Some(v) = layer.data_dir {
            self.data_dir = v;
        }
        if let Some(v) = layer.database_url {
            self.database_url = v;
        }
        if let Some(v) = layer.log_format {
            self.log_format = v;
        }
        if let Some(v) = layer.janitor_interval_secs {
            self.janitor_interval = secs(v);
        }
        if let Some(v) = layer.provider_timeout_secs {
            self.provider_timeout = secs(v);
        }
        if let Some(v) = layer.three_d_ttl_secs {
            self.three_d_ttl = secs(v);
        }
        if let Some(v) = layer.unknown_grace_secs {
            self.unknown_grace = secs(v);
        }
        if let Some(EndOfDay(v)) = layer.end_of_day {
            self.end_of_day = v;
        }
        if let Some(v) = layer.webhook_worker {
            self.webhooks.enabled = v;
        }
        if let Some(v) = layer.webhook_backoff_base_secs {
            self.webhooks.backoff_base = secs(v.max(1));
        }
        if let Some(v) = layer.webhook_timeout_secs {
            self.webhooks.timeout = secs(v.max(1));
        }
        if let Some(v) = layer.breaker_failures {
            self.breaker_failures = v;
        }
        if let Some(v) = layer.breaker_cooldown_secs {
            self.breaker_cooldown = secs(v);
        }
        let limits = &mut self.rate_limits;
        if let Some(v) = layer.rate_limit_window_secs {
            limits.api_window_secs = v.max(1);
        }
        if let Some(v) = layer.rate_limit_payments_per_key {
            limits.payments_per_key = v;
        }
        if let Some(v) = layer.rate_limit_payments_per_company {
            limits.payments_per_company = v;
        }
        if let Some(v) = layer.rate_limit_requests_per_key {
            limits.requests_per_key = v;
        }
        if let Some(v) = layer.rate_limit_requests_per_company {
            limits.requests_per_company = v;
        }
        if let Some(v) = layer.collect_limit_per_user {
            limits.collect_per_user = v;
        }
        if let Some(v) = layer.collect_limit_window_secs {
            limits.collect_window_secs = v.max(1);
        }
        if let Some(v) = layer.session_failed_attempts {
            self.abuse.session_failures = v;
        }
        if let Some(v) = layer.card_declines {
            self.abuse.card_declines = v;
        }
        if let Some(v) = layer.card_decline_window_secs {
            self.abuse.card_window = secs(v.max(1));
        }
        if let Some(v) = layer.ip_declines {
            self.abuse.ip_declines = v;
        }
        if let Some(v) = layer.ip_decline_window_secs {
            self.abuse.ip_window = secs(v.max(1));
        }
        if let Some(v) = layer.trusted_proxies {
            self.trusted_proxies = v;
        }
        let any_smtp = layer.smtp_host.is_some()
            || layer.smtp_port.is_some()
            || layer.smtp_tls.is_some()
            || layer.smtp_username.is_some()
            || layer.smtp_password.is_some()
            || layer.smtp_from.is_some()
            || layer.smtp_timeout_secs.is_some();
        if any_smtp {
            let smtp = self.smtp.get_or_insert_with(|| SmtpConfig {
                host: String::new(),
                port: 0,
                tls: SmtpTls::Starttls,
                username: String::new(),
                password: Secret::default(),
                from: String::new(),
                timeout: secs(15),
            });
            if let Some(v) = layer.smtp_host {
                smtp.host = v.trim().to_owned();
            }
            if let Some(v) = layer.smtp_tls {
                smtp.tls = v;
            }
            if let Some(v) = layer.smtp_port {
                smtp.port = v;
            }
            if let Some(v) = layer.smtp_username {
                smtp.username = v;
            }
            if let Some(v) = layer.smtp_password {
                smtp.password = Secret::new(v);
            }
            if let Some(v) = layer.smtp_from {
                smtp.from = v.trim().to_owned();
            }
            if let Some(v) = layer.smtp_timeout_secs {
                smtp.timeout = secs(v.max(1));
            }
        }
        if let Some(smtp) = self.smtp.as_mut() {
            if smtp.port == 0 {
                smtp.port = smtp.tls.default_port();
            }
        }
    }

    /// The database URL to open: the configured one, or the SQLite file in `data_dir`.
    pub fn effective_database_url(&self) -> String {
        if self.database_url.is_empty() {
            format!(
                "sqlite://{}?mode=rwc",
                self.data_dir.join("sanalpos.db").display()
            )
        } else {
            self.database_url.clone()
        }
    }
}

/// The environment as a layer: `SANALPOS_LISTEN` sets `listen`, and so on.
fn env_layer(env: &BTreeMap<String, String>) -> Result<Layer, ConfigError> {
    let mut layer = Layer::default();
    for (name, value) in env {
        let Some(key) = name.strip_prefix("SANALPOS_") else {
            continue;
        };
        if OTHER_VARIABLES.contains(&name.as_str()) {
            continue;
        }
        let bad = |reason: String| ConfigError::Env {
            name: name.clone(),
            reason,
        };
        let number = || {
            value
                .trim()
                .parse::<u64>()
                .map_err(|_| bad(format!("{value:?} is not a whole number of seconds")))
        };
        let count = || {
            value
                .trim()
                .parse::<u32>()
                .map_err(|_| bad(format!("{value:?} is not a whole number (0 is off)")))
        };
        match key {
            "LISTEN" => {
                layer.listen =
                    Some(value.trim().parse().map_err(|_| {
                        bad(format!("{value:?} is not an address like 127.0.0.1:8080"))
                    })?)
            }
            "PUBLIC_BASE_URL" => layer.public_base_url = Some(value.clone()),
            "DATA_DIR" => layer.data_dir = Some(PathBuf::from(value)),
            "DATABASE_URL" => layer.database_url = Some(value.clone()),
            "LOG_FORMAT" => {
                layer.log_format = Some(match value.trim() {
                    "text" => LogFormat::Text,
                    "json" => LogFormat::Json,
                    _ => return Err(bad(format!("{value:?} is neither text nor json"))),
                })
            }
            "JANITOR_INTERVAL_SECS" => layer.janitor_interval_secs = Some(number()?),
            "PROVIDER_TIMEOUT_SECS" => layer.provider_timeout_secs = Some(number()?),
            "THREE_D_TTL_SECS" => layer.three_d_ttl_secs = Some(number()?),
            "UNKNOWN_GRACE_SECS" => layer.unknown_grace_secs = Some(number()?),
            "BREAKER_FAILURES" => {
                layer.breaker_failures =
                    Some(u32::try_from(number()?).map_err(|_| bad("too large".into()))?)
            }
            "BREAKER_COOLDOWN_SECS" => layer.breaker_cooldown_secs = Some(number()?),
            "SESSION_FAILED_ATTEMPTS" | "CARD_DECLINES" | "IP_DECLINES" => {
                let n = value
                    .trim()
                    .parse::<u32>()
                    .map_err(|_| bad(format!("{value:?} is not a whole number")))?;
                match key {
                    "SESSION_FAILED_ATTEMPTS" => layer.session_failed_attempts = Some(n),
                    "CARD_DECLINES" => layer.card_declines = Some(n),
                    _ => layer.ip_declines = Some(n),
                }
            }
            "CARD_DECLINE_WINDOW_SECS" => layer.card_decline_window_secs = Some(number()?),
            "IP_DECLINE_WINDOW_SECS" => layer.ip_decline_window_secs = Some(number()?),
            "TRUSTED_PROXIES" => {
                let mut list = Vec::new();
                for part in value.split(',').map(str::trim).filter(|p| !p.is_empty()) {
                    list.push(part.parse::<IpAddr>().map_err(|_| {
                        bad(format!(
                            "{part:?} is not an IP address (a comma-separated list)"
                        ))
                    })?);
                }
                layer.trusted_proxies = Some(list);
            }
            "END_OF_DAY" => {
                layer.end_of_day = Some(EndOfDay::try_from(value.clone()).map_err(bad)?)
            }
            "WEBHOOK_WORKER" => {
                layer.webhook_worker = Some(match value.trim() {
                    "on" | "true" | "1" => true,
                    "off" | "false" | "0" => false,
                    _ => return Err(bad(format!("{value:?} is neither on nor off"))),
                })
            }
            "WEBHOOK_BACKOFF_BASE_SECS" => layer.webhook_backoff_base_secs = Some(number()?),
            "WEBHOOK_TIMEOUT_SECS" => layer.webhook_timeout_secs = Some(number()?),
            "SMTP_HOST" => layer.smtp_host = Some(value.clone()),
            "SMTP_PORT" => {
                layer.smtp_port = Some(
                    value
                        .trim()
                        .parse::<u16>()
                        .ok()
                        .filter(|p| *p > 0)
                        .ok_or_else(|| bad(format!("{value:?} is not a port number")))?,
                )
            }
            "SMTP_TLS" => {
                layer.smtp_tls = Some(
                    SmtpTls::parse(value)
                        .ok_or_else(|| bad(format!("{value:?} is none of none, starttls, tls")))?,
                )
            }
            "SMTP_USERNAME" => layer.smtp_username = Some(value.clone()),
            "SMTP_PASSWORD" => layer.smtp_password = Some(value.clone()),
            "SMTP_FROM" => layer.smtp_from = Some(value.clone()),
            "SMTP_TIMEOUT_SECS" => layer.smtp_timeout_secs = Some(number()?),
            "RATE_LIMIT_WINDOW_SECS" => layer.rate_limit_window_secs = Some(number()?),
            "RATE_LIMIT_PAYMENTS_PER_KEY" => layer.rate_limit_payments_per_key = Some(count()?),
            "RATE_LIMIT_PAYMENTS_PER_COMPANY" => {
                layer.rate_limit_payments_per_company = Some(count()?)
            }
            "RATE_LIMIT_REQUESTS_PER_KEY" => layer.rate_limit_requests_per_key = Some(count()?),
            "RATE_LIMIT_REQUESTS_PER_COMPANY" => {
                layer.rate_limit_requests_per_company = Some(count()?)
            }
            "COLLECT_LIMIT_PER_USER" => layer.collect_limit_per_user = Some(count()?),
            "COLLECT_LIMIT_WINDOW_SECS" => layer.collect_limit_window_secs = Some(number()?),
            _ => return Err(bad("unknown setting".into())),
        }
    }
    Ok(layer)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn layers_in_order() {
        let dir = std::env::temp_dir().join(format!("sanalpos-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("sanalpos.toml");
        std::fs::write(
            &file,
            "listen = \"0.0.0.0:9000\"\njanitor_interval_secs = 9\n",
        )
        .unwrap();
        let config = Config::load(
            Some(&file),
            &env(&[("SANALPOS_JANITOR_INTERVAL_SECS", "3"), ("PATH", "/bin")]),
        )
        .unwrap();
        assert_eq!(config.listen.port(), 9000);
        assert_eq!(config.janitor_interval, Duration::from_secs(3));
        assert_eq!(config.provider_timeout, Duration::from_secs(30));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn rate_limits_from_file_and_env() {
        let defaults = Config::load(None, &env(&[])).unwrap().rate_limits;
        assert_eq!(defaults, RateLimits::default());
        assert_eq!(
            (defaults.payments_per_key, defaults.payments_per_company),
            (60, 120)
        );
        let dir = std::env::temp_dir().join(format!("sanalpos-limits-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("sanalpos.toml");
        std::fs::write(
            &file,
            "rate_limit_payments_per_key = 5\ncollect_limit_per_user = 3\ncollect_limit_window_secs = 120\n",
        )
        .unwrap();
        let config = Config::load(
            Some(&file),
            &env(&[
                ("SANALPOS_RATE_LIMIT_PAYMENTS_PER_COMPANY", "0"),
                ("SANALPOS_RATE_LIMIT_REQUESTS_PER_KEY", "7"),
                ("SANALPOS_RATE_LIMIT_WINDOW_SECS", "30"),
            ]),
        )
        .unwrap();
        let limits = config.rate_limits;
        assert_eq!(limits.payments_per_key, 5);
        assert_eq!(limits.payments_per_company, 0);
        assert_eq!(limits.requests_per_key, 7);
        assert_eq!(limits.requests_per_company, 2400);
        assert_eq!(limits.api_window_secs, 30);
        assert_eq!(
            (limits.collect_per_user, limits.collect_window_secs),
            (3, 120)
        );
        std::fs::remove_dir_all(&dir).unwrap();
        let err =
            Config::load(None, &env(&[("SANALPOS_COLLECT_LIMIT_PER_USER", "-1")])).unwrap_err();
        assert!(
            err.to_string().contains("SANALPOS_COLLECT_LIMIT_PER_USER"),
            "{err}"
        );
    }

    #[test]
    fn bad_keys_are_named() {
        let err = Config::load(None, &env(&[("SANALPOS_LISTN", "x")])).unwrap_err();
        assert!(err.to_string().contains("SANALPOS_LISTN"), "{err}");
        let err =
            Config::load(None, &env(&[("SANALPOS_PROVIDER_TIMEOUT_SECS", "soon")])).unwrap_err();
        assert!(
            err.to_string().contains("SANALPOS_PROVIDER_TIMEOUT_SECS"),
            "{err}"
        );
        assert!(Config::load(None, &env(&[("SANALPOS_MASTER_KEY", "k")])).is_ok());

        let dir = std::env::temp_dir().join(format!("sanalpos-config-bad-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("bad.toml");
        std::fs::write(&file, "lisen = \"1\"\n").unwrap();
        let err = Config::load(Some(&file), &BTreeMap::new()).unwrap_err();
        assert!(err.to_string().contains("lisen"), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn abuse_limits_and_trusted_proxies() {
        let defaults = Config::default();
        assert_eq!(defaults.abuse, AbuseLimits::default());
        assert_eq!(defaults.abuse.session_failures, 5);
        assert_eq!(defaults.abuse.card_declines, 3);
        assert_eq!(defaults.abuse.ip_declines, 10);
        assert!(defaults.trusted_proxies.is_empty());
        let config = Config::load(
            None,
            &env(&[
                ("SANALPOS_SESSION_FAILED_ATTEMPTS", "3"),
                ("SANALPOS_CARD_DECLINES", "0"),
                ("SANALPOS_CARD_DECLINE_WINDOW_SECS", "600"),
                ("SANALPOS_IP_DECLINES", "20"),
                ("SANALPOS_IP_DECLINE_WINDOW_SECS", "7200"),
                ("SANALPOS_TRUSTED_PROXIES", "10.0.0.1, ::1"),
            ]),
        )
        .unwrap();
        assert_eq!(
            config.abuse,
            AbuseLimits {
                session_failures: 3,
                card_declines: 0,
                card_window: Duration::from_secs(600),
                ip_declines: 20,
                ip_window: Duration::from_secs(7200),
            }
        );
        let proxies: Vec<IpAddr> = vec!["10.0.0.1".parse().unwrap(), "::1".parse().unwrap()];
        assert_eq!(config.trusted_proxies, proxies);
        for (name, value) in [
            ("SANALPOS_CARD_DECLINES", "many"),
            ("SANALPOS_TRUSTED_PROXIES", "10.0.0.1,lb.example"),
        ] {
            let err = Config::load(None, &env(&[(name, value)])).unwrap_err();
            assert!(err.to_string().contains(name), "{err}");
        }
        let dir =
            std::env::temp_dir().join(format!("sanalpos-config-abuse-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("abuse.toml");
        std::fs::write(
            &file,
            "ip_declines = 4\ntrusted_proxies = [\"192.0.2.10\"]\n",
        )
        .unwrap();
        let config = Config::load(Some(&file), &BTreeMap::new()).unwrap();
        assert_eq!(config.abuse.ip_declines, 4);
        assert_eq!(
            config.trusted_proxies,
            vec!["192.0.2.10".parse::<IpAddr>().unwrap()]
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn end_of_day_time_or_off() {
        assert_eq!(
            Config::default().end_of_day,
            NaiveTime::from_hms_opt(3, 0, 0)
        );
        let config = Config::load(None, &env(&[("SANALPOS_END_OF_DAY", "off")])).unwrap();
        assert_eq!(config.end_of_day, None);
        let config = Config::load(None, &env(&[("SANALPOS_END_OF_DAY", "01:30")])).unwrap();
        assert_eq!(config.end_of_day, NaiveTime::from_hms_opt(1, 30, 0));
        let err = Config::load(None, &env(&[("SANALPOS_END_OF_DAY", "25:00")])).unwrap_err();
        assert!(err.to_string().contains("SANALPOS_END_OF_DAY"), "{err}");

        let dir = std::env::temp_dir().join(format!("sanalpos-config-eod-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("eod.toml");
        std::fs::write(&file, "end_of_day = \"04:15\"\n").unwrap();
        let config = Config::load(Some(&file), &BTreeMap::new()).unwrap();
        assert_eq!(config.end_of_day, NaiveTime::from_hms_opt(4, 15, 0));
        std::fs::write(&file, "end_of_day = \"later\"\n").unwrap();
        let err = Config::load(Some(&file), &BTreeMap::new()).unwrap_err();
        assert!(err.to_string().contains("end_of_day"), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn smtp_settings_and_a_hidden_password() {
        assert_eq!(Config::default().smtp, None);
        let config = Config::load(
            None,
            &env(&[
                ("SANALPOS_SMTP_HOST", "mail.example.com"),
                ("SANALPOS_SMTP_USERNAME", "odeme"),
                ("SANALPOS_SMTP_PASSWORD", "çok-gizli-parola"),
                ("SANALPOS_SMTP_FROM", "Firma <odeme@example.com>"),
            ]),
        )
        .unwrap();
        let smtp = config.smtp.clone().unwrap();
        assert_eq!(smtp.port, 587);
        assert_eq!(smtp.tls, SmtpTls::Starttls);
        assert_eq!(smtp.password.expose(), "çok-gizli-parola");
        let shown = format!("{config:?}");
        assert!(!shown.contains("çok-gizli-parola"), "{shown}");
        assert!(shown.contains("[redacted]"), "{shown}");

        let config = Config::load(
            None,
            &env(&[
                ("SANALPOS_SMTP_HOST", "mail.example.com"),
                ("SANALPOS_SMTP_TLS", "tls"),
                ("SANALPOS_SMTP_FROM", "odeme@example.com"),
            ]),
        )
        .unwrap();
        assert_eq!(config.smtp.unwrap().port, 465);

        let err = Config::load(None, &env(&[("SANALPOS_SMTP_TLS", "ssl")])).unwrap_err();
        assert!(err.to_string().contains("SANALPOS_SMTP_TLS"), "{err}");
        let err =
            Config::load(None, &env(&[("SANALPOS_SMTP_FROM", "odeme@example.com")])).unwrap_err();
        assert!(err.to_string().contains("smtp_host"), "{err}");
        let err = Config::load(
            None,
            &env(&[
                ("SANALPOS_SMTP_HOST", "mail.example.com"),
                ("SANALPOS_SMTP_FROM", "not an address"),
            ]),
        )
        .unwrap_err();
        assert!(err.to_string().contains("smtp_from"), "{err}");

        let dir = std::env::temp_dir().join(format!("sanalpos-config-smtp-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("smtp.toml");
        std::fs::write(
            &file,
            "smtp_host = \"127.0.0.1\"\nsmtp_port = 2525\nsmtp_tls = \"none\"\nsmtp_from = \"odeme@example.com\"\n",
        )
        .unwrap();
        let smtp = Config::load(Some(&file), &BTreeMap::new())
            .unwrap()
            .smtp
            .unwrap();
        assert_eq!((smtp.port, smtp.tls), (2525, SmtpTls::None));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn sqlite_by_default() {
        let config = Config::default();
        assert_eq!(
            config.effective_database_url(),
            "sqlite://data/sanalpos.db?mode=rwc"
        );
    }
}
