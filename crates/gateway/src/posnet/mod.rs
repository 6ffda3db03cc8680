//! The Yapı Kredi PosNet protocol (XML, "PosNet"): the bank's own gateway.
//!
//! The parts: [`xml`] is the codec (`posnetRequest` out in the form field `xmldata`,
//! `posnetResponse` in, ISO-8859-9), [`mac`] the MACs (`firstHash`, the request MAC and
//! the resolve answer's), [`order`] the order id padding, [`request`] maps our requests
//! to documents and the browser's 3D form, [`answer`] applies the success rule,
//! [`callback`] judges a 3D callback through the bank's resolve answer, [`query`] reads
//! `agreement`, [`codes`] holds every text a person reads. This file is the client.
//!
//! Non-3D sales are sent with the 24-character order id the later calls use; a 3D sale
//! is `TDSC` + its 20-character XID there. Capture, cancel and refund name the sale by
//! its `hostlogkey`, our provider reference. The bank has no transaction list:
//! reconciliation reads its statements.

pub mod answer;
pub mod callback;
pub mod codes;
pub mod mac;
pub mod order;
pub mod protocol;
pub mod query;
pub mod request;
pub mod xml;

pub use protocol::PROTOCOL;

use std::time::{Duration, Instant};

use async_trait::async_trait;

use sanalpos_core::{Kurus, Secret};

use self::answer::{Operation, Sent};
use self::request::{CardData, Merchant, OosData, Packets};
use self::xml::{PosnetRequest, PosnetResponse};
use crate::scrub::scrub_card_numbers;
use crate::transport::{self, Exchange};
use crate::types::*;
use crate::{Gateway, GatewayError};

/// The XML API's path under the bank's host.
pub const API_PATH: &str = "/PosnetWebService/XML";
/// The 3D page's path under the bank's host.
pub const GATE_PATH: &str = "/3DSWebService/YKBPaymentService";

/// What the bank gave the merchant. `Debug` hides the key.
#[derive(Debug, Clone)]
pub struct Credentials {
    /// `mid`, the merchant number (10 digits).
    pub mid: String,
    /// `tid`, the terminal (8 digits).
    pub tid: String,
    /// `posnetID`, for 3D.
    pub posnet_id: String,
    /// `ENCKEY`, in every MAC.
    pub enc_key: Secret,
}

/// One PosNet POS.
#[derive(Debug, Clone)]
pub struct PosnetConfig {
    /// The whole XML API URL.
    pub api_url: String,
    /// The whole 3D page URL the browser posts to.
    pub gate_url: String,
    /// The merchant's credentials.
    pub credentials: Credentials,
    /// Accept half-secure authentication (`mdStatus` 2, 3, 4). Off by default.
    pub allow_half_secure: bool,
    /// `lang` of the bank's 3D page.
    pub lang: &'static str,
    /// Time to open a connection.
    pub connect_timeout: Duration,
    /// Time for the whole exchange.
    pub request_timeout: Duration,
}

impl PosnetConfig {
    /// A configuration with half-secure refused, Turkish pages, 5 s to connect and 30 s
    /// in all.
    pub fn new(
        api_url: impl Into<String>,
        gate_url: impl Into<String>,
        credentials: Credentials,
    ) -> PosnetConfig {
        PosnetConfig {
            api_url: api_url.into(),
            gate_url: gate_url.into(),
            credentials,
            allow_half_secure: false,
            lang: "tr",
            connect_timeout: Duration::from_secs(5),
            request_timeout: Duration::from_secs(30),
        }
    }
}

/// The PosNet client: stateless apart from its configuration and connection pool.
#[derive(Debug, Clone)]
pub struct PosnetGateway {
    config: PosnetConfig,
    http: reqwest::Client,
}

fn raw_text(body: &[u8]) -> String {
    scrub_card_numbers(&xml::decode(body))
}

impl PosnetGateway {
    /// A client for one POS. Fails only when the TLS stack cannot be set up.
    pub fn new(config: PosnetConfig) -> Result<PosnetGateway, GatewayError> {
        let http = transport::client(config.connect_timeout, config.request_timeout)?;
        Ok(PosnetGateway { config, http })
    }

    /// The configuration.
    pub fn config(&self) -> &PosnetConfig {
        &self.config
    }

    fn merchant(&self) -> Merchant<'_> {
        Merchant {
            mid: &self.config.credentials.mid,
            tid: &self.config.credentials.tid,
        }
    }

    async fn exchange(&self, request: &PosnetRequest) -> Exchange {
        transport::send(
            self.http
                .post(&self.config.api_url)
                .header(reqwest::header::CONTENT_TYPE, xml::CONTENT_TYPE)
                .body(request.form_body()),
        )
        .await
    }

    async fn money_call(
        &self,
        operation: &'static str,
        request: &PosnetRequest,
        sent: Sent,
    ) -> GatewayResponse {
        let started = Instant::now();
        let exchange = self.exchange(request).await;
        transport::money_response("posnet", operation, exchange, started, raw_text, |body| {
            match PosnetResponse::parse(body) {
                Ok(answer) => answer::outcome(&answer, sent),
                Err(_) => Outcome::Unknown(UnknownReason::Unparseable),
            }
        })
    }

    async fn read_call(&self, request: &PosnetRequest) -> Result<PosnetResponse, GatewayError> {
        let body = transport::answered_body(self.exchange(request).await)?;
        PosnetResponse::parse(&body)
            .map_err(|_| GatewayError::BadAnswer("unparseable answer".into()))
    }

    /// `agreement` of one 24-character order id.
    pub async fn agreement(&self, order_id: &str) -> Result<query::Status, GatewayError> {
        let answer = self
            .read_call(&request::agreement(self.merchant(), order_id))
            .await?;
        let status = query::read(&answer)?;
        if let query::Status::Found(txns) = &status {
            if txns
                .iter()
                .any(|t| !t.order_id.is_empty() && t.order_id != order_id)
            {
                return Err(GatewayError::BadAnswer(
                    "the answer is about another order".into(),
                ));
            }
        }
        Ok(status)
    }

    /// The transactions of an attempt by our reference: as a non-3D sale, then as a 3D
    /// one (`TDSC` + XID).
    pub async fn order_history(&self, client_ref: &str) -> Result<query::Status, GatewayError> {
        if let Some(plain) = order::plain_order_id(client_ref) {
            if let found @ query::Status::Found(_) = self.agreement(&plain).await? {
                return Ok(found);
            }
        }
        self.agreement(&order::three_d_order_id(client_ref)).await
    }

    fn ours(&self, expected: &ExpectedSale) -> (String, String, &'static str) {
        (
            order::xid(expected.client_ref.as_str()),
            request::format_amount(expected.amount),
            request::format_currency(expected.currency),
        )
    }
}

#[async_trait]
impl Gateway for PosnetGateway {
    async fn sale(&self, request: &SaleRequest) -> GatewayResponse {
        let Some(order_id) = order::plain_order_id(request.client_ref.as_str()) else {
            return GatewayResponse::refused_here(
                "the order id is longer than PosNet's 24 characters".into(),
            );
        };
        let xml = request::payment(
            self.merchant(),
            &order_id,
            request.amount,
            request.currency,
            request.installments,
            &CardData::from_card(&request.card),
            request.pre_auth,
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
        let xml = request::capture(
            self.merchant(),
            request.provider_ref.as_str(),
            request.amount,
            request.currency,
            1,
        );
        let sent = Sent {
            operation: Operation::Capture,
            amount: Some(request.amount),
            installments: None,
        };
        self.money_call("capture", &xml, sent).await
    }

    async fn start_3d(&self, request: &SaleRequest, urls: &ReturnUrls) -> ThreeDStart {
        let started = Instant::now();
        let credentials = &self.config.credentials;
        let xml = request::oos_request_data(
            self.merchant(),
            &credentials.posnet_id,
            &order::xid(request.client_ref.as_str()),
            request.amount,
            request.currency,
            request.installments,
            &CardData::from_card(&request.card),
            request.pre_auth,
        );
        let exchange = self.exchange(&xml).await;
        let data = match &exchange {
            Exchange::Answered { body, .. } => PosnetResponse::parse(body)
                .ok()
                .filter(|answer| answer.non_empty("approved") == Some("1"))
                .and_then(|answer| {
                    let get = |n: &str| {
                        answer
                            .non_empty(&format!("oosRequestDataResponse/{n}"))
                            .map(str::to_owned)
                    };
                    Some(OosData {
                        data1: get("data1")?,
                        data2: get("data2")?,
                        sign: get("sign")?,
                    })
                }),
            _ => None,
        };
        let Some(data) = data else {
            // oosRequestData charges nothing: a refusal, a broken answer or no answer
            // at all is a failure to start, never an unknown charge.
            let mut response = transport::money_response(
                "posnet",
                "start_3d",
                exchange,
                started,
                raw_text,
                |body| match PosnetResponse::parse(body) {
                    Ok(answer) => answer::outcome(
                        &answer,
                        Sent {
                            operation: Operation::Sale,
                            amount: None,
                            installments: None,
                        },
                    ),
                    Err(_) => Outcome::Unknown(UnknownReason::Unparseable),
                },
            );
            let detail = match &response.outcome {
                Outcome::Unknown(reason) => Some(reason.to_string()),
                Outcome::Approved(_) => {
                    Some("oosRequestData approved without data1, data2 and sign".to_owned())
                }
                _ => None,
            };
            if let Some(detail) = detail {
                response.outcome = Outcome::Failed(Failure {
                    kind: FailureKind::Rejected,
                    detail: format!("3D could not be started: {detail}"),
                });
            }
            return ThreeDStart::Finished(response);
        };
        let form = request::three_d_form(
            &credentials.mid,
            &credentials.posnet_id,
            &data,
            &urls.success,
            self.config.lang,
        );
        ThreeDStart::Redirect {
            html: request::redirect_html(&self.config.gate_url, &form),
            provider_ref: None,
            holds_card: false,
            latency: started.elapsed(),
        }
    }

    async fn finish_3d(&self, postback: &Postback, expected: &ExpectedSale) -> GatewayResponse {
        let started = Instant::now();
        let fields = postback.fields();
        let raw = Some(callback::masked_json(fields));
        let finished = |outcome: Outcome| GatewayResponse {
            outcome,
            raw: raw.clone(),
            http_status: None,
            latency: started.elapsed(),
        };
        let packets = match callback::packets(fields) {
            Ok(p) => p,
            Err(why) => {
                return finished(Outcome::Unknown(UnknownReason::Inconsistent(why)));
            }
        };
        let (xid, amount, currency) = self.ours(expected);
        let credentials = &self.config.credentials;
        let first_hash = mac::first_hash(credentials.enc_key.expose(), &credentials.tid);
        let packets = Packets {
            bank_data: &packets.bank_packet,
            merchant_data: &packets.merchant_packet,
            sign: &packets.sign,
            mac: request::packet_mac(
                self.merchant(),
                credentials.enc_key.expose(),
                &xid,
                expected.amount,
                expected.currency,
            ),
        };
        let resolved = match self
            .read_call(&request::oos_resolve(self.merchant(), &packets))
            .await
        {
            Ok(answer) => answer,
            Err(GatewayError::Timeout) => {
                return finished(Outcome::Unknown(UnknownReason::Timeout))
            }
            Err(e) => {
                return finished(Outcome::Unknown(UnknownReason::Inconsistent(format!(
                    "the callback could not be resolved: {e}"
                ))))
            }
        };
        let ours = callback::Ours {
            xid: &xid,
            amount: &amount,
            currency,
            mid: &credentials.mid,
            first_hash: &first_hash,
            allow_half_secure: self.config.allow_half_secure,
        };
        if let callback::Verdict::Final(outcome) = callback::judge_resolve(&resolved, ours) {
            tracing::debug!(
                provider = "posnet",
                operation = "finish_3d",
                outcome = outcome.kind(),
                "3D callback judged"
            );
            return finished(outcome);
        }
        let sent = Sent {
            operation: Operation::ThreeDSale,
            amount: Some(expected.amount),
            installments: Some(expected.installments.max(1)),
        };
        let mut response = self
            .money_call(
                "3d_sale",
                &request::oos_tran(self.merchant(), &packets),
                sent,
            )
            .await;
        response.latency = started.elapsed();
        response
    }

    async fn cancel(&self, request: &CancelRequest) -> GatewayResponse {
        let xml = request::reverse(self.merchant(), request.provider_ref.as_str());
        let sent = Sent {
            operation: Operation::Reverse,
            amount: None,
            installments: None,
        };
        self.money_call("cancel", &xml, sent).await
    }

    async fn release(&self, request: &ReleaseRequest) -> GatewayResponse {
        // An `auth` is released as a sale is cancelled: `reverse` of its hostLogKey
        // (with `transaction` = `sale`, as mews always sends).
        let xml = request::reverse(self.merchant(), request.provider_ref.as_str());
        let sent = Sent {
            operation: Operation::Reverse,
            amount: None,
            installments: None,
        };
        self.money_call("release", &xml, sent).await
    }

    async fn refund(&self, request: &RefundRequest) -> GatewayResponse {
        if request.amount == Kurus::ZERO || request.amount > request.refundable {
            return GatewayResponse::refused_here(format!(
                "refund of {} is not possible: {} is refundable",
                request.amount, request.refundable
            ));
        }
        let xml = request::refund(
            self.merchant(),
            request.provider_ref.as_str(),
            request.amount,
            request.currency,
        );
        let sent = Sent {
            operation: Operation::Return,
            amount: None,
            installments: None,
        };
        self.money_call("refund", &xml, sent).await
    }

    async fn inquiry(&self, request: &InquiryRequest) -> Result<Inquiry, GatewayError> {
        match self.order_history(request.client_ref.as_str()).await? {
            query::Status::NotFound => Ok(Inquiry::NotFound),
            query::Status::Found(txns) => Ok(query::summarize(&txns, request.amount)),
        }
    }

    async fn report(&self, _query: &ReportQuery) -> Result<ReportPage, GatewayError> {
        Err(GatewayError::Unsupported(
            "PosNet has no transaction list; import the bank's statements",
        ))
    }

    async fn installments(
        &self,
        _bin: &str,
        _amount: Kurus,
    ) -> Result<Vec<InstallmentOption>, GatewayError> {
        Err(GatewayError::Unsupported(
            "PosNet does not publish installment options; use the POS's own table",
        ))
    }

    async fn commission_table(&self) -> Result<CommissionTable, GatewayError> {
        Err(GatewayError::Unsupported(
            "PosNet does not publish the commission table",
        ))
    }

    async fn probe(&self) -> Result<(), GatewayError> {
        // agreement of an order that cannot exist: "no such transaction" proves the
        // address, the mid/tid and this server's IP, and moves nothing. A 0148 here is
        // the IP whitelist, explained as such.
        let order_id = order::plain_order_id("PROBE").unwrap_or_default();
        self.agreement(&order_id).await.map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_key_is_hidden() {
        let c = Credentials {
            mid: "6706598320".into(),
            tid: "67005551".into(),
            posnet_id: "27426".into(),
            enc_key: Secret::new("10,10,10,10,10,10,10,10"),
        };
        assert!(!format!("{c:?}").contains("10,10"));
    }
}
