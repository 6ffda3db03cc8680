//! Cancel and refund, both `CancelRefundPayment`: the provider's codes for a closed
//! cancel window, and the two names of a partial refund.

use sanalpos_core::Kurus;

use super::transport::path;
use super::{answer, request, NkolayGateway};
use crate::types::*;

/// Bank codes with which the provider refuses a cancel because the day is closed.
const CANCEL_TOO_LATE: [&str; 2] = ["21", "29"];

impl NkolayGateway {
    pub(super) async fn cancel_sale(&self, request: &CancelRequest) -> GatewayResponse {
        let form = request::cancel_refund(
            &self.config.credentials,
            &request.provider_ref,
            "cancel",
            request.amount,
            request.sale_date,
        );
        self.money_call("cancel", path::CANCEL_REFUND, &form, |a| {
            let mut outcome = answer::reversal_outcome(a);
            if let Outcome::Declined(decline) = &mut outcome {
                if decline
                    .bank_code
                    .as_ref()
                    .is_some_and(|c| CANCEL_TOO_LATE.contains(&c.as_str()))
                {
                    decline.kind = DeclineKind::CancelWindowClosed;
                }
            }
            outcome
        })
        .await
    }

    pub(super) async fn refund_sale(&self, request: &RefundRequest) -> GatewayResponse {
        if request.amount == Kurus::ZERO || request.amount > request.refundable {
            return GatewayResponse::refused_here(format!(
                "refund of {} is not possible: {} is refundable",
                request.amount, request.refundable
            ));
        }
        // The docs disagree on the partial type: `refundp` (English docs) or `refund`
        // with a smaller amount (a mirror). Send the documented one first; an answer that
        // rejects the type charged nothing, so the other is safe to try.
        let (first, second) = if request.amount == request.refundable {
            ("refund", "refundp")
        } else {
            ("refundp", "refund")
        };
        let (response, type_rejected) = self.refund_as(request, first).await;
        if !type_rejected {
            return response;
        }
        let (mut retried, _) = self.refund_as(request, second).await;
        retried.latency += response.latency;
        retried
    }

    /// Refund once with the given type.
    async fn refund_as(&self, request: &RefundRequest, kind: &str) -> (GatewayResponse, bool) {
        let form = request::cancel_refund(
            &self.config.credentials,
            &request.provider_ref,
            kind,
            request.amount,
            request.sale_date,
        );
        let mut type_rejected = false;
        let response = self
            .money_call("refund", path::CANCEL_REFUND, &form, |a| {
                type_rejected =
                    a.response_code().as_deref() != Some("2") && answer::rejects_type(a);
                let mut outcome = answer::reversal_outcome(a);
                answer::refund_before_day_close(&mut outcome);
                outcome
            })
            .await;
        (response, type_rejected)
    }
}
