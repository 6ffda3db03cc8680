//! The Garanti BBVA virtual POS protocol (GVP, "GarantiPos"): the bank's own gateway,
//! not NestPay.
//!
//! The parts: [`xml`] is the codec (`GVPSRequest` out, `GVPSResponse` in, UTF-8),
//! [`signing`] the hashes (`SecurityData`, `HashData`, the 3D form's and the callback's,
//! in the 512 and legacy generations), [`request`] maps our requests to documents and
//! the signed 3D form, [`answer`] applies the success rule, [`callback`] judges a 3D
//! callback before anything is sent, [`query`] reads `orderinq`, `orderhistoryinq` and
//! `orderlistinq`, [`codes`] holds every text a person reads. This file is the client:
//! its configuration and the [`Gateway`] implementation.
//!
//! The order id at the bank is our [`ClientRef`](sanalpos_core::ClientRef); capture,
//! void and refund name the sale by its `RetrefNum`, which is our provider reference.
//! Quirks kept on purpose: `Amount` is integer kuruş; `void` and the inquiries send the
//! fixed `Amount` 100; `void` and `refund` are signed with the PROVRFN user's password.

pub mod answer;
pub mod callback;
pub mod codes;
pub mod protocol;
pub mod query;
pub mod request;
pub mod signing;
pub mod xml;

pub use crate::protocol::ThreeDModel;
pub use protocol::PROTOCOL;

use std::time::{Duration, Instant};

use async_trait::async_trait;
use chrono::{Days, NaiveDate};

use sanalpos_core::{Kurus, Secret};

use self::answer::{Operation, Sent};
use self::query::{HistoryTxn, ListPage, OrderStatus};
use self::request::{CardData, Envelope, Payment};
use self::signing::HashVersion;
use self::xml::{GvpsRequest, GvpsResponse};
use crate::scrub::scrub_card_numbers;
use crate::transport::{self, Exchange};
use crate::types::*;
use crate::{Gateway, GatewayError};

/// The XML API's path under the bank's host.
pub const API_PATH: &str = "/VPServlet";
/// The 3D engine's path under the bank's host.
pub const GATE_PATH: &str = "/servlet/gt3dengine";
/// The content type of a request body.
pub const CONTENT_TYPE: &str = "application/xml; charset=utf-8";
/// The longest date range one `orderlistinq` may ask for.
pub const LIST_WINDOW_DAYS: u64 = 30;

/// What the bank gave the merchant. `Debug` hides the three secrets.
#[derive(Debug, Clone)]
pub struct Credentials {
    /// `MerchantID` (işyeri no), e.g. `7000679`.
    pub merchant_id: String,
    /// `Terminal/ID`, eight digits, e.g. `30691298`.
    pub terminal_id: String,
    /// The provision user (`PROVAUT`).
    pub prov_user: String,
    /// Its password: sales, pre-authorisation, capture, inquiries and the 3D form.
    pub prov_password: Secret,
    /// The refund user (`PROVRFN`).
    pub refund_user: String,
    /// Its password: void and refund.
    pub refund_password: Secret,
    /// The 3D store key.
    pub store_key: Secret,
}

/// One Garanti POS: where the bank is, how to sign, how 3D is run, how long to wait.
#[derive(Debug, Clone)]
pub struct GarantiConfig {
    /// The bank's base URL; calls go to `{api_url}/VPServlet`.
    pub api_url: String,
    /// The whole 3D engine URL the browser posts to.
    pub gate_url: String,
    /// The merchant's credentials.
    pub credentials: Credentials,
    /// The 3D model the bank set the merchant up for.
    pub three_d_model: ThreeDModel,
    /// Accept half-secure authentication (`mdstatus` 2, 3, 4). Off by default.
    pub allow_half_secure: bool,
    /// The hash generation (`512` unless the bank says otherwise).
    pub version: HashVersion,
    /// `Mode` `PROD` (live) instead of `TEST`.
    pub production: bool,
    /// Time to open a connection.
    pub connect_timeout: Duration,
    /// Time for the whole exchange.
    pub request_timeout: Duration,
}

impl GarantiConfig {
    /// A configuration for the `3D` model, version 512, test mode, half-secure refused,
    /// 5 s to connect and 30 s in all.
    pub fn new(
        api_url: impl Into<String>,
        gate_url: impl Into<String>,
        credentials: Credentials,
    ) -> GarantiConfig {
        GarantiConfig {
            api_url: api_url.into(),
            gate_url: gate_url.into(),
            credentials,
            three_d_model: ThreeDModel::ThreeD,
            allow_half_secure: false,
            version: HashVersion::V512,
            production: false,
            connect_timeout: Duration::from_secs(5),
            request_timeout: Duration::from_secs(30),
        }
    }

    /// The XML API's URL.
    pub fn api_endpoint(&self) -> String {
        format!("{}{API_PATH}", self.api_url.trim_end_matches('/'))
    }

    /// `Mode` and `Version` of every document.
    pub fn envelope(&self) -> Envelope {
        Envelope {
            mode: if self.production { "PROD" } else { "TEST" },
            version: self.version,
        }
    }
}

/// The Garanti client: stateless apart from its configuration and connection pool.
#[derive(Debug, Clone)]
pub struct GarantiGateway {
    config: GarantiConfig,
    http: reqwest::Client,
}

/// The answer's text for the attempt log: decoded, card numbers masked.
fn raw_text(body: &[u8]) -> String {
    scrub_card_numbers(&xml::decode(body))
}

impl GarantiGateway {
    /// A client for one POS. Fails only when the TLS stack cannot be set up.
    pub fn new(config: GarantiConfig) -> Result<GarantiGateway, GatewayError> {
        let http = transport::client(config.connect_timeout, config.request_timeout)?;
        Ok(GarantiGateway { config, http })
    }

    /// The configuration.
    pub fn config(&self) -> &GarantiConfig {
        &self.config
    }

    fn credentials(&self) -> &Credentials {
        &self.config.credentials
    }

    async fn exchange(&self, request: &GvpsRequest) -> Exchange {
        transport::send(
            self.http
                .post(self.config.api_endpoint())
                .header(reqwest::header::CONTENT_TYPE, CONTENT_TYPE)
                .body(request.to_text()),
        )
        .await
    }

    /// A call that may move money: every way the exchange can end maps to an outcome.
    async fn money_call(
        &self,
        operation: &'static str,
        request: &GvpsRequest,
        sent: Sent,
    ) -> GatewayResponse {
        let started = Instant::now();
        let exchange = self.exchange(request).await;
        transport::money_response("garanti", operation, exchange, started, raw_text, |body| {
            match GvpsResponse::parse(body) {
                Ok(answer) => answer::outcome(&answer, sent),
                Err(_) => Outcome::Unknown(UnknownReason::Unparseable),
            }
        })
    }

    async fn read_call(&self, request: &GvpsRequest) -> Result<GvpsResponse, GatewayError> {
        let body = transport::answered_body(self.exchange(request).await)?;
        GvpsResponse::parse(&body).map_err(|_| GatewayError::BadAnswer("unparseable answer".into()))
    }

    /// `orderinq`: the order's state, or that the bank has no record of it.
    pub async fn order_status(&self, order_id: &str) -> Result<OrderStatus, GatewayError> {
        let answer = self
            .read_call(&request::order_inquiry(
                self.credentials(),
                self.config.envelope(),
                order_id,
            ))
            .await?;
        same_order(&answer, order_id)?;
        query::read_status(&answer)
    }

    /// `orderhistoryinq`: every transaction of the order (none for an unknown order).
    pub async fn order_history(&self, order_id: &str) -> Result<Vec<HistoryTxn>, GatewayError> {
        let answer = self
            .read_call(&request::order_history(
                self.credentials(),
                self.config.envelope(),
                order_id,
            ))
            .await?;
        same_order(&answer, order_id)?;
        query::read_history(&answer)
    }

    /// `orderlistinq`: one page of the transactions of the days `from` to `to`
    /// (inclusive, at most 30 days).
    pub async fn order_list(
        &self,
        from: NaiveDate,
        to: NaiveDate,
        page: u32,
    ) -> Result<ListPage, GatewayError> {
        let start = from.and_hms_opt(0, 0, 0).unwrap_or_default();
        let end = to.and_hms_opt(23, 59, 0).unwrap_or_default();
        let answer = self
            .read_call(&request::order_list(
                self.credentials(),
                self.config.envelope(),
                start,
                end,
                page,
            ))
            .await?;
        query::read_list(&answer)
    }

    /// What the bank's records say about an order asked for `amount`.
    async fn inquire(&self, order_id: &str, amount: Kurus) -> Result<Inquiry, GatewayError> {
        match self.order_status(order_id).await? {
            OrderStatus::NotFound => Ok(Inquiry::NotFound),
            OrderStatus::Found(status) => {
                let history = self.order_history(order_id).await?;
                Ok(query::summarize(&status, &history, amount))
            }
        }
    }
}

/// A query answer that names an order must name the one asked about.
fn same_order(answer: &GvpsResponse, order_id: &str) -> Result<(), GatewayError> {
    match answer.non_empty("Order/OrderID") {
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
        pre_auth: request.pre_auth,
    }
}

#[async_trait]
impl Gateway for GarantiGateway {
    async fn sale(&self, request: &SaleRequest) -> GatewayResponse {
        let xml = request::payment(
            self.credentials(),
            self.config.envelope(),
            &payment_of(request),
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
        if request.amount == Kurus::ZERO || request.amount > request.authorized {
            return GatewayResponse::refused_here(format!(
                "a capture of {} is not possible: {} is pre-authorised",
                request.amount, request.authorized
            ));
        }
        let xml = request::post_auth(
            self.credentials(),
            self.config.envelope(),
            request.client_ref.as_str(),
            request.provider_ref.as_str(),
            request.amount,
            request.currency,
        );
        let sent = Sent {
            operation: Operation::PostAuth,
            amount: Some(request.amount),
            installments: None,
        };
        self.money_call("capture", &xml, sent).await
    }

    async fn release(&self, request: &ReleaseRequest) -> GatewayResponse {
        // A preauth is released as a sale is voided: `void` of its RetrefNum.
        let xml = request::void(
            self.credentials(),
            self.config.envelope(),
            request.client_ref.as_str(),
            request.provider_ref.as_str(),
            request.currency,
        );
        let sent = Sent {
            operation: Operation::Void,
            amount: None,
            installments: None,
        };
        self.money_call("release", &xml, sent).await
    }

    async fn start_3d(&self, request: &SaleRequest, urls: &ReturnUrls) -> ThreeDStart {
        let started = Instant::now();
        let form = request::three_d_form(
            self.credentials(),
            self.config.envelope(),
            self.config.three_d_model,
            &payment_of(request),
            urls,
            &CardData::from_card(&request.card),
        );
        tracing::debug!(
            provider = "garanti",
            operation = "start_3d",
            level = request::security_level(self.config.three_d_model),
            "3D form signed"
        );
        ThreeDStart::Redirect {
            html: request::redirect_html(&self.config.gate_url, &form),
            provider_ref: None,
            // Both models post the card from the merchant's page to gt3dengine.
            holds_card: true,
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
            version: self.config.version,
            terminal_id: &self.credentials().terminal_id,
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
                    provider = "garanti",
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
                    pre_auth: expected.pre_auth,
                };
                let xml = request::three_d_payment(
                    self.credentials(),
                    self.config.envelope(),
                    &payment,
                    &auth,
                );
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
                        "the callback could not be verified and the order's status could not be read: {e}"
                    ))),
                };
                finished(outcome)
            }
        }
    }

    async fn cancel(&self, request: &CancelRequest) -> GatewayResponse {
        let xml = request::void(
            self.credentials(),
            self.config.envelope(),
            request.client_ref.as_str(),
            request.provider_ref.as_str(),
            request.currency,
        );
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
        let xml = request::refund(
            self.credentials(),
            self.config.envelope(),
            request.client_ref.as_str(),
            request.provider_ref.as_str(),
            request.amount,
            request.currency,
        );
        let sent = Sent {
            operation: Operation::Refund,
            amount: None,
            installments: None,
        };
        self.money_call("refund", &xml, sent).await
    }

    async fn inquiry(&self, request: &InquiryRequest) -> Result<Inquiry, GatewayError> {
        self.inquire(request.client_ref.as_str(), request.amount)
            .await
    }

    async fn report(&self, query: &ReportQuery) -> Result<ReportPage, GatewayError> {
        if query.to < query.from {
            return Err(GatewayError::Invalid(
                "the range ends before it starts".into(),
            ));
        }
        let (window_start, page) = match &query.cursor {
            Some(c) => (c.window_start, c.page.max(1)),
            None => (query.from, 1),
        };
        let window_end = window_start
            .checked_add_days(Days::new(LIST_WINDOW_DAYS - 1))
            .map_or(query.to, |end| end.min(query.to));
        let listed = self.order_list(window_start, window_end, page).await?;
        let next = if listed.page < listed.pages {
            Some(ReportCursor {
                window_start,
                page: page + 1,
            })
        } else {
            window_end
                .succ_opt()
                .filter(|next| *next <= query.to)
                .map(|next| ReportCursor {
                    window_start: next,
                    page: 1,
                })
        };
        Ok(ReportPage {
            rows: listed.rows,
            next,
        })
    }

    async fn installments(
        &self,
        _bin: &str,
        _amount: Kurus,
    ) -> Result<Vec<InstallmentOption>, GatewayError> {
        Err(GatewayError::Unsupported(
            "Garanti does not publish installment options; use the POS's own table",
        ))
    }

    async fn commission_table(&self) -> Result<CommissionTable, GatewayError> {
        Err(GatewayError::Unsupported(
            "Garanti does not publish the commission table",
        ))
    }

    async fn probe(&self) -> Result<(), GatewayError> {
        // orderinq of an order that cannot exist: "İşlem bulunamadı" proves the address
        // and the credentials and moves nothing.
        // Which order the answer names does not matter here: only that it is not a
        // refusal of the credentials.
        let order_id = format!("probe{}", sanalpos_core::ClientRef::generate());
        let answer = self
            .read_call(&request::order_inquiry(
                self.credentials(),
                self.config.envelope(),
                &order_id,
            ))
            .await?;
        query::read_status(&answer).map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_and_redaction() {
        let credentials = Credentials {
            merchant_id: "7000679".into(),
            terminal_id: "30691298".into(),
            prov_user: "PROVAUT".into(),
            prov_password: Secret::new("p4ss"),
            refund_user: "PROVRFN".into(),
            refund_password: Secret::new("r3fund"),
            store_key: Secret::new("k3y"),
        };
        let c = GarantiConfig::new("https://h/", "https://h/servlet/gt3dengine", credentials);
        assert_eq!(c.api_endpoint(), "https://h/VPServlet");
        assert_eq!(c.envelope().mode, "TEST");
        let shown = format!("{c:?}");
        assert!(!shown.contains("p4ss") && !shown.contains("k3y") && !shown.contains("r3fund"));
    }
}
