//! The 3D Secure round trip: the page that takes the cardholder's browser to the bank,
//! and the postback that comes back (to one URL for success and failure alike, so the
//! payment is found from the unguessable token in it, never from posted fields).

use sanalpos_core::{ClientRef, ProviderRef};
use sanalpos_gateway::{ExpectedSale, Outcome, Postback};
use sanalpos_store::{AttemptOutcome, AttemptResult, FinishAttempt, Operation, PaymentStatus};

use crate::error::ServiceError;
use crate::outcome::sale_finish;
use crate::payments::{dispatched, gateway_for, record, view};
use crate::types::*;
use crate::PaymentService;

fn valid_token(token: &str) -> bool {
    token.len() == 64 && token.bytes().all(|b| b.is_ascii_hexdigit())
}

pub(crate) async fn page(service: &PaymentService, token: &str) -> Result<String, ServiceError> {
    if !valid_token(token) {
        return Err(ServiceError::NotFound);
    }
    let payment = service.inner.store.get_payment_by_token(token).await?;
    let held = || service.inner.card_forms.take(token);
    match (&payment.status, payment.three_d_html) {
        (PaymentStatus::Pending3ds, Some(html)) => Ok(html),
        (PaymentStatus::Pending3ds, None) => held().ok_or_else(|| {
            ServiceError::conflict(
                "three_d_finished",
                "this 3D Secure page was opened already or has expired; start the payment again",
            )
        }),
        _ => Err(ServiceError::conflict(
            "three_d_finished",
            "this 3D Secure session is over",
        )),
    }
}

/// `return_url` with `payment_id` and `status` added.
fn redirect_to(return_url: &str, payment_id: &str, status: PaymentStatus) -> String {
    let (base, fragment) = match return_url.split_once('#') {
        Some((b, f)) => (b, Some(f)),
        None => (return_url, None),
    };
    let sep = if base.contains('?') { '&' } else { '?' };
    let mut url = format!(
        "{base}{sep}payment_id={payment_id}&status={}",
        status.as_str()
    );
    if let Some(f) = fragment {
        url.push('#');
        url.push_str(f);
    }
    url
}

pub(crate) async fn finish(
    service: &PaymentService,
    token: &str,
    form_body: &[u8],
) -> Result<ThreeDReturn, ServiceError> {
    if !valid_token(token) {
        return Err(ServiceError::NotFound);
    }
    let store = &service.inner.store;
    let payment = store.get_payment_by_token(token).await?;
    if payment.status != PaymentStatus::Pending3ds {
        return Err(ServiceError::conflict(
            "three_d_finished",
            format!("the payment is already {}", payment.status),
        ));
    }
    let owner = format!("{}:3d", service.inner.config.instance_id);
    let lease_ms = (service.inner.config.provider_timeout.as_millis() as i64) * 2 + 5_000;
    if !store.lease_payment(&payment.id, &owner, lease_ms).await? {
        return Err(ServiceError::conflict(
            "payment_in_progress",
            "this payment is being processed",
        ));
    }
    finish_leased(service, payment, form_body, &owner).await
}

async fn finish_leased(
    service: &PaymentService,
    payment: sanalpos_store::PaymentRecord,
    form_body: &[u8],
    owner: &str,
) -> Result<ThreeDReturn, ServiceError> {
    let store = &service.inner.store;
    // An unparseable body is treated like a forged one: recorded, changes nothing.
    let postback = Postback::from_form(form_body).unwrap_or_default();
    let pos = store.get_pos(&payment.company_id, &payment.pos_id).await?;
    let gateway = match gateway_for(service, &pos) {
        Ok(g) => g,
        Err(e) => {
            store.release_payment(&payment.id, owner).await?;
            return Err(e);
        }
    };
    let attempt = dispatched(
        &payment,
        Operation::Finish3d,
        &payment.sale_client_ref,
        payment.amount,
        service.now_ms(),
    );
    let attempt_id = attempt.id.clone();
    store.insert_attempt(attempt).await?;
    let expected = ExpectedSale {
        amount: payment.amount,
        client_ref: ClientRef::parse(&payment.sale_client_ref)
            .map_err(|_| ServiceError::Storage("stored client reference is invalid".into()))?,
        provider_ref: payment
            .provider_ref
            .as_deref()
            .and_then(|r| ProviderRef::parse(r).ok()),
        currency: payment.currency,
        installments: payment.installments,
        pre_auth: payment.pre_auth,
        cardholder_ip: None,
    };
    let response = gateway.finish_3d(&postback, &expected).await;
    let actor = format!("3d:{}", payment.created_by);
    let updated = if let Outcome::Unknown(reason) = &response.outcome {
        // Not proof of anything (forged, tampered, or completion unanswered): keep the
        // payment pending; the janitor asks the provider when the 3D window closes.
        tracing::warn!(payment.id = %payment.id, reason = %reason, "3D postback left the payment pending");
        store
            .finish_attempt(FinishAttempt {
                result: Some(AttemptResult {
                    attempt_id,
                    outcome: AttemptOutcome::Unknown,
                    bank_code: None,
                    message: Some(reason.to_string()),
                    http_status: response.http_status.map(i64::from),
                    latency_ms: response.latency.as_millis() as i64,
                    raw: response.raw.clone(),
                    finished_at: service.now_ms(),
                }),
                ..FinishAttempt::default()
            })
            .await?;
        store.release_payment(&payment.id, owner).await?;
        payment
    } else {
        let finish = sale_finish(
            &payment,
            &attempt_id,
            &actor,
            &response,
            &[PaymentStatus::Pending3ds],
            service.now_ms(),
        );
        let recorded = record(service, payment, finish).await?;
        if recorded.status == PaymentStatus::Approved {
            crate::stored_card_payments::keep_approved_card(service, &recorded).await;
        }
        recorded
    };
    let return_url = updated.return_url.clone().unwrap_or_default();
    Ok(ThreeDReturn {
        redirect_to: redirect_to(&return_url, &updated.id, updated.status),
        payment: view(service, &updated),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redirect_keeps_query_and_fragment() {
        assert_eq!(
            redirect_to("https://s.example/r", "pay_1", PaymentStatus::Approved),
            "https://s.example/r?payment_id=pay_1&status=approved"
        );
        assert_eq!(
            redirect_to(
                "https://s.example/r?o=5#top",
                "pay_1",
                PaymentStatus::Declined
            ),
            "https://s.example/r?o=5&payment_id=pay_1&status=declined#top"
        );
    }
}
