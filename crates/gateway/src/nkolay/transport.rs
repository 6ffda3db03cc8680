//! HTTP for N Kolay: the endpoints, posting a signed form, and what an exchange means:
//! for a call that may move money every way it can break maps to an outcome, for a
//! read-only call it is the answer or why there is none (the shared
//! [`crate::transport`] classifies the broken exchanges).

use std::time::Instant;

use super::answer;
use super::codec::Answer;
use super::request;
use super::NkolayGateway;
use crate::scrub::scrub_card_numbers;
use crate::transport;
pub(super) use crate::transport::{client, Exchange};
use crate::types::*;
use crate::GatewayError;

/// Endpoint paths.
pub(super) mod path {
    pub const PAYMENT: &str = "/Vpos/v1/Payment";
    pub const COMPLETE: &str = "/Vpos/v1/CompletePayment";
    pub const CANCEL_REFUND: &str = "/Vpos/v1/CancelRefundPayment";
    pub const PAYMENT_LIST: &str = "/Vpos/Payment/PaymentList";
    pub const PF_REPORT: &str = "/Vpos/Payment/PfTransactionReportList";
    pub const INSTALLMENTS: &str = "/Vpos/Payment/PaymentInstallments";
    pub const MERCHANT_INFO: &str = "/Vpos/Payment/GetMerchandInformation";
    /// The provider's own spelling ("Aprove").
    pub const PRE_AUTH_CAPTURE: &str = "/Vpos/Payment/PreAuthorizationAprove";
    pub const PRE_AUTH_RELEASE: &str = "/Vpos/Payment/PreAuthorizationCancel";
    pub const PRE_AUTH_LIST: &str = "/Vpos/Payment/PreAuthorizationList";
    pub const CARD_REGISTER: &str = "/Vpos/Payment/CardStorageCardRegister";
    pub const CARD_LIST: &str = "/Vpos/Payment/CardStorageCardList";
    pub const CARD_DELETE: &str = "/Vpos/Payment/CardStorageCardDelete";
}

impl NkolayGateway {
    pub(super) async fn post(&self, path: &str, form: &request::Form) -> Exchange {
        let url = format!("{}{}", self.config.base_url.trim_end_matches('/'), path);
        transport::send(self.http.post(&url).form(form)).await
    }

    /// A call that may move money: every way the exchange can break maps to an outcome.
    pub(super) async fn money_call(
        &self,
        operation: &'static str,
        path: &str,
        form: &request::Form,
        interpret: impl FnOnce(&Answer) -> Outcome,
    ) -> GatewayResponse {
        let started = Instant::now();
        let exchange = self.post(path, form).await;
        finish_exchange(operation, exchange, started, interpret)
    }

    /// A read-only call: the answer, or why there is none.
    pub(super) async fn read_call(
        &self,
        path: &str,
        form: &request::Form,
    ) -> Result<Answer, GatewayError> {
        let body = transport::answered_body(self.post(path, form).await)?;
        let answer = Answer::parse(&String::from_utf8_lossy(&body))
            .map_err(|_| GatewayError::BadAnswer("unparseable answer".into()))?;
        match answer::refusal_kind(&answer) {
            Some(FailureKind::BadCredentials) => Err(GatewayError::BadCredentials(
                answer.non_empty("RESPONSE_DATA").unwrap_or_default(),
            )),
            Some(FailureKind::IpNotAllowed) => Err(GatewayError::IpNotAllowed(
                answer.non_empty("RESPONSE_DATA").unwrap_or_default(),
            )),
            _ => Ok(answer),
        }
    }
}

/// The outcome of an N Kolay exchange that may have moved money.
pub(super) fn finish_exchange(
    operation: &'static str,
    exchange: Exchange,
    started: Instant,
    interpret: impl FnOnce(&Answer) -> Outcome,
) -> GatewayResponse {
    let raw = |body: &[u8]| scrub_card_numbers(&String::from_utf8_lossy(body));
    transport::money_response("nkolay", operation, exchange, started, raw, |body| {
        match Answer::parse(&String::from_utf8_lossy(body)) {
            Ok(answer) => interpret(&answer),
            Err(_) => Outcome::Unknown(UnknownReason::Unparseable),
        }
    })
}
