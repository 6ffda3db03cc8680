//! The sale: direct, or started with the bank's 3D Secure form and finished from the
//! signed postback (then completed when the panel's AutoComplete is off). A
//! pre-authorisation takes the same paths (`transactionType=PRESALES`).

use std::time::Instant;

use tracing::debug;

use super::codec::{now_istanbul, Answer};
use super::transport::{finish_exchange, path, Exchange};
use super::{answer, request, NkolayGateway};
use crate::scrub::scrub_card_numbers;
use crate::types::*;
use sanalpos_core::Kurus;

impl NkolayGateway {
    pub(super) async fn direct_sale(&self, request: &SaleRequest) -> GatewayResponse {
        // A pre-authorisation is the same call with `transactionType=PRESALES`, and its
        // answer is read by the same success rule.
        let operation = if request.pre_auth { "pre_auth" } else { "sale" };
        let form = request::payment(&self.config.credentials, request, None, now_istanbul());
        let amount = request.amount;
        self.money_call(operation, path::PAYMENT, &form, |a| {
            answer::payment_outcome(a, self.secret(), amount)
        })
        .await
    }

    pub(super) async fn begin_3d(&self, request: &SaleRequest, urls: &ReturnUrls) -> ThreeDStart {
        let form = request::payment(
            &self.config.credentials,
            request,
            Some(urls),
            now_istanbul(),
        );
        self.begin_3d_with(form, request.amount).await
    }

    /// Posts a signed 3D payment form and reads the start of the 3D sale.
    pub(super) async fn begin_3d_with(&self, form: request::Form, amount: Kurus) -> ThreeDStart {
        let started = Instant::now();
        let exchange = self.post(path::PAYMENT, &form).await;
        // A started 3D sale is not an outcome: the answer carries the bank's form and
        // the postback decides. Anything else is read like a sale's answer.
        if let Exchange::Answered { body, .. } = &exchange {
            if let Ok(answer) = Answer::parse(&String::from_utf8_lossy(body)) {
                if answer.response_code().as_deref() == Some("2") {
                    if let Some(html) = answer.non_empty("BANK_REQUEST_MESSAGE") {
                        debug!(provider = "nkolay", operation = "start_3d", "3D started");
                        return ThreeDStart::Redirect {
                            html,
                            provider_ref: answer::provider_ref(&answer),
                            holds_card: false,
                            latency: started.elapsed(),
                        };
                    }
                }
            }
        }
        ThreeDStart::Finished(finish_exchange("start_3d", exchange, started, |a| {
            if a.response_code().as_deref() == Some("2") {
                Outcome::Unknown(UnknownReason::Inconsistent(
                    "3D answer without the bank's form".into(),
                ))
            } else {
                answer::payment_outcome(a, self.secret(), amount)
            }
        }))
    }

    pub(super) async fn end_3d(
        &self,
        postback: &Postback,
        expected: &ExpectedSale,
    ) -> GatewayResponse {
        let started = Instant::now();
        let raw = serde_json::to_string(
            &postback
                .fields()
                .iter()
                .map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone())))
                .collect::<serde_json::Map<_, _>>(),
        )
        .ok()
        .map(|r| scrub_card_numbers(&r));
        let answer = Answer::from_object(
            postback
                .fields()
                .iter()
                .map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone())))
                .collect(),
        );
        let finished = |outcome| GatewayResponse {
            outcome,
            raw: raw.clone(),
            http_status: None,
            latency: started.elapsed(),
        };
        // The postback is signed, but CLIENT_REFERENCE_CODE is not: the payment is
        // identified by our URL, and the signed REFERENCE_CODE must be the one we started.
        let posted_ref = answer::provider_ref(&answer);
        if let (Some(expected_ref), Some(posted)) = (&expected.provider_ref, &posted_ref) {
            if answer::verify(&answer, self.secret()).is_ok() && expected_ref != posted {
                return finished(Outcome::Unknown(UnknownReason::Inconsistent(
                    "postback belongs to another payment".into(),
                )));
            }
        }
        let outcome = answer::payment_outcome(&answer, self.secret(), expected.amount);
        let Outcome::Approved(approval) = outcome else {
            return finished(outcome);
        };
        if self.config.auto_complete {
            return finished(Outcome::Approved(approval));
        }
        // AutoComplete off: the postback is a pre-approval; the sale needs completing.
        let form = request::complete(&self.config.credentials, &approval.provider_ref);
        let amount = expected.amount;
        let mut completed = self
            .money_call("complete", path::COMPLETE, &form, |a| {
                answer::payment_outcome(a, self.secret(), amount)
            })
            .await;
        completed.latency = started.elapsed();
        completed
    }
}
