//! The NestPay (EST v3 / Asseco / Payten) protocol: most Turkish banks' own virtual POS.
//!
//! The parts: [`xml`] is the codec (`CC5Request` out in ISO-8859-9, `CC5Response` in),
//! [`signing`] the 3D hashes (ver3 and legacy), [`request`] maps our requests to
//! documents and the signed 3D form, [`answer`] applies the success rule, [`callback`]
//! judges a 3D callback before anything is sent, [`query`] reads ORDERSTATUS and
//! ORDERHISTORY, [`codes`] holds every text a person reads. This file is the client: its
//! configuration and the [`Gateway`] implementation.
//!
//! The order id at the bank is always our [`ClientRef`](sanalpos_core::ClientRef), so
//! cancel (`Void`), refund (`Credit`), capture (`PostAuth`) and inquiry (ORDERSTATUS)
//! find the order by it.

pub mod answer;
pub mod callback;
pub mod codes;
pub mod protocol;
pub mod query;
pub mod request;
mod sha1;
pub mod signing;
mod transport;
pub mod xml;

pub use crate::protocol::ThreeDModel;
pub use protocol::PROTOCOL;

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;

use sanalpos_core::{Kurus, Secret};

use self::answer::{Operation, Sent};
use self::query::{ChargeType, OrderStatus, Transaction};
use self::request::{CardData, Payment};
use self::transport::Exchange;
use self::xml::{Cc5Request, Cc5Response};
use crate::types::*;
use crate::{Gateway, GatewayError};

/// The XML API's path under a bank's host.
pub const API_PATH: &str = "/fim/api";
/// The 3D gate's path under a bank's host (two banks write it `/fim/est3dgate`).
pub const GATE_PATH: &str = "/fim/est3Dgate";

/// The `storetype` a model's form carries.
pub fn store_type(model: ThreeDModel) -> &'static str {
    match model {
        ThreeDModel::ThreeD => "3d",
        ThreeDModel::ThreeDPay => "3d_pay",
        ThreeDModel::ThreeDHost => "3d_host",
    }
}

/// Whether a callback's `storetype` belongs to a model (`3d_pay_hosting` pays like
/// `3d_pay`).
pub fn accepts_store_type(model: ThreeDModel, store_type: &str) -> bool {
    match model {
        ThreeDModel::ThreeD => store_type == "3d",
        ThreeDModel::ThreeDPay => store_type == "3d_pay" || store_type == "3d_pay_hosting",
        ThreeDModel::ThreeDHost => store_type == "3d_host",
    }
}

/// The model named in settings (`3d`, `3d_pay`, `3d_host`).
pub fn model_from_store_type(text: &str) -> Option<ThreeDModel> {
    [
        ThreeDModel::ThreeD,
        ThreeDModel::ThreeDPay,
        ThreeDModel::ThreeDHost,
    ]
    .into_iter()
    .find(|m| store_type(*m) == text)
}

/// What the bank gave the merchant: the store number, the API user and its password,
/// and the store key that signs 3D forms. `Debug` hides the two secrets.
#[derive(Debug, Clone)]
pub struct Credentials {
    /// `ClientId`: the store (merchant) number.
    pub client_id: String,
    /// `Name`: the API user.
    pub api_user: String,
    /// `Password`: the API user's password.
    pub api_password: Secret,
    /// `storeKey`: the 3D hash key.
    pub store_key: Secret,
}

/// One NestPay POS: where its bank is, how to sign in, how 3D is run, how long to wait.
#[derive(Debug, Clone)]
pub struct NestpayConfig {
    /// The bank's base URL (`https://sanalpos.isbank.com.tr`); calls go to
    /// `{api_url}/fim/api`.
    pub api_url: String,
    /// The whole 3D gate URL the browser posts to
    /// (`https://sanalpos.isbank.com.tr/fim/est3Dgate`).
    pub gate_url: String,
    /// Where the `3d_host` form goes when the bank hosts it elsewhere (Akbank).
    pub host_gate_url: Option<String>,
    /// The merchant's credentials.
    pub credentials: Credentials,
    /// The 3D model the bank set the store up for.
    pub three_d_model: ThreeDModel,
    /// Accept half-secure authentication (`mdStatus` 2, 3, 4). Off by default: the
    /// merchant then carries the chargeback risk.
    pub allow_half_secure: bool,
    /// The language of the bank's 3D pages (`tr`, `en`).
    pub lang: String,
    /// Time to open a connection.
    pub connect_timeout: Duration,
    /// Time for the whole exchange.
    pub request_timeout: Duration,
}

impl NestpayConfig {
    /// A configuration for the `3d` model, half-secure refused, Turkish pages, 5 s to
    /// connect and 30 s in all.
    pub fn new(
        api_url: impl Into<String>,
        gate_url: impl Into<String>,
        credentials: Credentials,
    ) -> NestpayConfig {
        NestpayConfig {
            api_url: api_url.into(),
            gate_url: gate_url.into(),
            host_gate_url: None,
            credentials,
            three_d_model: ThreeDModel::ThreeD,
            allow_half_secure: false,
            lang: "tr".to_owned(),
            connect_timeout: Duration::from_secs(5),
            request_timeout: Duration::from_secs(30),
        }
    }

    /// The XML API's URL.
    pub fn api_endpoint(&self) -> String {
        format!("{}{API_PATH}", self.api_url.trim_end_matches('/'))
    }

    /// Where the browser posts the 3D form of the configured model.
    pub fn gate_endpoint(&self) -> &str {
        match (&self.host_gate_url, self.three_d_model) {
            (Some(host_gate), ThreeDModel::ThreeDHost) => host_gate,
            _ => &self.gate_url,
        }
    }
}

/// The NestPay client: stateless apart from its configuration and connection pool.
#[derive(Debug, Clone)]
pub struct NestpayGateway {
    config: NestpayConfig,
    http: reqwest::Client,
}

/// A fresh random token (`rnd` of a 3D form, the order id of a probe): 20 hex digits
/// from the standard library's randomly keyed hasher and the clock.
pub fn nonce() -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let mut out = String::with_capacity(32);
    for round in 0u8..2 {
        let mut hasher = RandomState::new().build_hasher();
        hasher.write_u128(nanos);
        hasher.write_u8(round);
        out.push_str(&format!("{:016x}", hasher.finish()));
    }
    out.truncate(20);
    out
}

impl NestpayGateway {
    /// A client for one POS. Fails only when the TLS stack cannot be set up.
    pub fn new(config: NestpayConfig) -> Result<NestpayGateway, GatewayError> {
        let http = transport::client(config.connect_timeout, config.request_timeout)?;
        Ok(NestpayGateway { config, http })
    }

    /// The configuration.
    pub fn config(&self) -> &NestpayConfig {
        &self.config
    }

    fn credentials(&self) -> &Credentials {
        &self.config.credentials
    }

    async fn exchange(&self, request: &Cc5Request) -> Exchange {
        transport::post(&self.http, &self.config.api_endpoint(), request).await
    }

    /// A call that may move money: every way the exchange can end maps to an outcome.
    async fn money_call(
        &self,
        operation: &'static str,
        request: &Cc5Request,
        sent: Sent,
    ) -> GatewayResponse {
        let started = Instant::now();
        let exchange = self.exchange(request).await;
        transport::money_outcome(operation, exchange, sent, started)
    }

    async fn read_call(&self, request: &Cc5Request) -> Result<Cc5Response, GatewayError> {
        transport::read_answer(self.exchange(request).await)
    }

    /// ORDERSTATUS: the order's latest transaction, or that the bank has no record of
    /// it.
    pub async fn order_status(&self, order_id: &str) -> Result<OrderStatus, GatewayError> {
        let answer = self
            .read_call(&request::order_status(self.credentials(), order_id))
            .await?;
        same_order(&answer, order_id)?;
        query::read_status(&answer)
    }

    /// ORDERHISTORY: every transaction of the order, newest first (none for an unknown
    /// order).
    pub async fn order_history(&self, order_id: &str) -> Result<Vec<Transaction>, GatewayError> {
        let answer = self
            .read_call(&request::order_history(self.credentials(), order_id))
            .await?;
        same_order(&answer, order_id)?;
        query::read_history(&answer)
    }

    /// What the bank's records say about an order asked for `amount`.
    async fn inquire(&self, order_id: &str, amount: Kurus) -> Result<Inquiry, GatewayError> {
        match self.order_status(order_id).await? {
            OrderStatus::NotFound => Ok(Inquiry::NotFound),
            OrderStatus::Found { latest, .. } => {
                // After a refund the latest transaction is the Credit: the sale and the
                // refunds are read from the history.
                let history = if latest.charge_type == ChargeType::Sale {
                    None
                } else {
                    Some(self.order_history(order_id).await?)
                };
                Ok(query::summarize(&latest, history.as_deref(), amount))
            }
        }
    }
}

/// A query answer that names an order must name the one asked about (an unknown
/// order's answer may name none, or echo the id in its text only).
fn same_order(answer: &Cc5Response, order_id: &str) -> Result<(), GatewayError> {
    let named = answer
        .non_empty("OrderId")
        .or_else(|| answer.extra_non_empty("ORD_ID"));
    match named {
        Some(named) if named != order_id => Err(GatewayError::BadAnswer(
            "the answer is about another order".into(),
        )),
        _ => Ok(()),
    }
}

fn payment_of(request: &SaleRequest) -> Payment<'_> {
    Payment {
        order_id: request.client_ref.as_str(),
        amount: request.amount,
        currency: request.currency,
        installments: request.installments,
        ip: request.cardholder_ip,
        email: None,
        user_id: None,
        holder: Some(request.card.holder.as_str()),
        pre_auth: request.pre_auth,
    }
}

#[async_trait]
impl Gateway for NestpayGateway {
    async fn sale(&self, request: &SaleRequest) -> GatewayResponse {
        let payment = payment_of(request);
        let xml = request::payment(
            self.credentials(),
            &payment,
            &CardData::from_card(&request.card),
        );
        let (operation, name) = if request.pre_auth {
            (Operation::PreAuth, "pre_auth")
        } else {
            (Operation::Sale, "sale")
        };
        let sent = Sent {
            operation,
            amount: Some(request.amount),
            installments: Some(request.installments.max(1)),
        };
        self.money_call(name, &xml, sent).await
    }

    async fn capture(&self, request: &CaptureRequest) -> GatewayResponse {
        if request.amount == Kurus::ZERO {
            return GatewayResponse::refused_here("a capture of 0 is not possible".into());
        }
        let xml = request::post_auth(
            self.credentials(),
            request.client_ref.as_str(),
            request.amount,
            request.authorized,
        );
        let sent = Sent {
            operation: Operation::PostAuth,
            amount: Some(request.amount),
            installments: None,
        };
        self.money_call("capture", &xml, sent).await
    }

    async fn release(&self, request: &ReleaseRequest) -> GatewayResponse {
        // A PreAuth is released as any order is voided: `Void` by order id.
        let xml = request::void(self.credentials(), request.client_ref.as_str());
        let sent = Sent {
            operation: Operation::Void,
            amount: None,
            installments: None,
        };
        self.money_call("release", &xml, sent).await
    }

    async fn start_3d(&self, request: &SaleRequest, urls: &ReturnUrls) -> ThreeDStart {
        let started = Instant::now();
        let model = self.config.three_d_model;
        let card = CardData::from_card(&request.card);
        let form = request::three_d_form(
            self.credentials(),
            model,
            &payment_of(request),
            urls,
            (model != ThreeDModel::ThreeDHost).then_some(&card),
            &nonce(),
            &self.config.lang,
        );
        tracing::debug!(
            provider = "nestpay",
            operation = "start_3d",
            storetype = store_type(model),
            "3D form signed"
        );
        ThreeDStart::Redirect {
            html: request::redirect_html(self.config.gate_endpoint(), &form),
            provider_ref: None,
            // In the 3d and 3d_pay models the form posts the card to the bank's gate.
            holds_card: self.config.three_d_model != ThreeDModel::ThreeDHost,
            latency: started.elapsed(),
        }
    }

    async fn finish_3d(&self, postback: &Postback, expected: &ExpectedSale) -> GatewayResponse {
        let started = Instant::now();
        let fields = postback.fields();
        let raw = Some(callback::masked_json(fields));
        let rules = callback::Rules {
            model: self.config.three_d_model,
            allow_half_secure: self.config.allow_half_secure,
            store_key: self.credentials().store_key.expose(),
        };
        let finished = |outcome: Outcome| GatewayResponse {
            outcome,
            raw: raw.clone(),
            http_status: None,
            latency: started.elapsed(),
        };
        match callback::judge(fields, expected, rules) {
            callback::Verdict::Final(outcome) => {
                tracing::debug!(
                    provider = "nestpay",
                    operation = "finish_3d",
                    outcome = outcome.kind(),
                    "3D callback judged"
                );
                finished(outcome)
            }
            callback::Verdict::Charge(auth) => {
                let payment = Payment {
                    order_id: expected.client_ref.as_str(),
                    amount: expected.amount,
                    currency: expected.currency,
                    installments: expected.installments,
                    ip: expected.cardholder_ip,
                    email: None,
                    user_id: None,
                    holder: None,
                    pre_auth: expected.pre_auth,
                };
                let xml = request::three_d_payment(self.credentials(), &payment, &auth);
                let sent = Sent {
                    operation: Operation::ThreeDSale,
                    amount: Some(expected.amount),
                    installments: Some(expected.installments.max(1)),
                };
                let mut response = self.money_call("3d_sale", &xml, sent).await;
                response.latency = started.elapsed();
                response
            }
            callback::Verdict::AskStatus => {
                let outcome = match self
                    .inquire(expected.client_ref.as_str(), expected.amount)
                    .await
                {
                    Ok(inquiry) => query::as_outcome(inquiry),
                    Err(GatewayError::Timeout) => Outcome::Unknown(UnknownReason::Timeout),
                    Err(e) => Outcome::Unknown(UnknownReason::Inconsistent(format!(
                        "authenticated; the order's status could not be read: {e}"
                    ))),
                };
                finished(outcome)
            }
        }
    }

    async fn cancel(&self, request: &CancelRequest) -> GatewayResponse {
        let xml = request::void(self.credentials(), request.client_ref.as_str());
        let sent = Sent {
            operation: Operation::Void,
            amount: None,
            installments: None,
        };
        self.money_call("cancel", &xml, sent).await
    }

    async fn refund(&self, request: &RefundRequest) -> GatewayResponse {
        if request.amount == Kurus::ZERO || request.amount > request.refundable {
            return GatewayResponse::refused_here(format!(
                "refund of {} is not possible: {} is refundable",
                request.amount, request.refundable
            ));
        }
        let xml = request::credit(
            self.credentials(),
            request.client_ref.as_str(),
            request.amount,
            request.currency,
        );
        let sent = Sent {
            operation: Operation::Credit,
            amount: None,
            installments: None,
        };
        self.money_call("refund", &xml, sent).await
    }

    async fn inquiry(&self, request: &InquiryRequest) -> Result<Inquiry, GatewayError> {
        self.inquire(request.client_ref.as_str(), request.amount)
            .await
    }

    async fn report(&self, _query: &ReportQuery) -> Result<ReportPage, GatewayError> {
        Err(GatewayError::Unsupported(
            "NestPay has no transaction list API; import the bank's statement instead",
        ))
    }

    async fn installments(
        &self,
        _bin: &str,
        _amount: Kurus,
    ) -> Result<Vec<InstallmentOption>, GatewayError> {
        Err(GatewayError::Unsupported(
            "NestPay does not publish installment options; use the POS's own table",
        ))
    }

    async fn commission_table(&self) -> Result<CommissionTable, GatewayError> {
        Err(GatewayError::Unsupported(
            "NestPay does not publish the commission table",
        ))
    }

    async fn probe(&self) -> Result<(), GatewayError> {
        // ORDERSTATUS of an order that cannot exist: "No record found" proves the
        // address and the credentials and moves nothing.
        let order_id = format!("probe-{}", nonce());
        self.order_status(&order_id).await.map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn store_types_and_endpoints() {
        for m in [
            ThreeDModel::ThreeD,
            ThreeDModel::ThreeDPay,
            ThreeDModel::ThreeDHost,
        ] {
            assert_eq!(model_from_store_type(store_type(m)), Some(m));
            assert!(accepts_store_type(m, store_type(m)));
        }
        assert!(accepts_store_type(ThreeDModel::ThreeDPay, "3d_pay_hosting"));
        assert!(!accepts_store_type(ThreeDModel::ThreeD, "3d_pay"));
        let credentials = Credentials {
            client_id: "1".into(),
            api_user: "u".into(),
            api_password: Secret::new("p4ss"),
            store_key: Secret::new("k3y"),
        };
        let mut c = NestpayConfig::new("https://h/", "https://h/fim/est3Dgate", credentials);
        assert_eq!(c.api_endpoint(), "https://h/fim/api");
        c.host_gate_url = Some("https://other/fim/est3Dgate".into());
        assert_eq!(c.gate_endpoint(), "https://h/fim/est3Dgate");
        c.three_d_model = ThreeDModel::ThreeDHost;
        assert_eq!(c.gate_endpoint(), "https://other/fim/est3Dgate");
        let shown = format!("{c:?}");
        assert!(!shown.contains("p4ss") && !shown.contains("k3y"));
    }

    #[test]
    fn nonces_differ() {
        let a = nonce();
        assert_eq!(a.len(), 20);
        assert_ne!(a, nonce());
    }
}
