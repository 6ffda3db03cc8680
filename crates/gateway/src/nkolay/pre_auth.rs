//! After a pre-authorisation (`transactionType=PRESALES`): capture all or part of the
//! block (`PreAuthorizationAprove`), release it (`PreAuthorizationCancel`), and list the
//! merchant's pre-authorisations (`PreAuthorizationList`). The answers of these
//! endpoints are not published; they are read like the sale's, keys in any case.

use chrono::{NaiveDate, NaiveDateTime};

use sanalpos_core::{ClientRef, Kurus, ProviderRef};

use super::codec::{parse_amount, parse_datetime, Answer};
use super::transport::path;
use super::{answer, request, NkolayGateway};
use crate::types::*;
use crate::GatewayError;

/// Where a pre-authorisation stands, as the provider's list says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PreAuthStatus {
    /// The amount is blocked on the card, waiting for a capture or a release.
    Open,
    /// Captured (all or part); the block is closed.
    Captured,
    /// Released; the card was never charged.
    Released,
    /// A status this client does not know; the provider's text.
    Other(String),
}

/// One row of the pre-authorisation list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PreAuthRecord {
    /// The pre-authorisation's provider reference (`IKSIRPF…`).
    pub provider_ref: ProviderRef,
    /// Our reference of the pre-authorisation, when the row names one.
    pub client_ref: Option<ClientRef>,
    /// The amount blocked on the card.
    pub amount: Kurus,
    /// When the provider recorded it (Istanbul time); `None` when the row has no
    /// readable date.
    pub time: Option<NaiveDateTime>,
    /// Open, captured or released.
    pub status: PreAuthStatus,
}

impl NkolayGateway {
    pub(super) async fn capture_pre_auth(&self, request: &CaptureRequest) -> GatewayResponse {
        if request.amount == Kurus::ZERO || request.amount > request.authorized {
            return GatewayResponse::refused_here(format!(
                "a capture of {} is not possible: {} is pre-authorised",
                request.amount, request.authorized
            ));
        }
        let form = request::pre_auth_capture(
            &self.config.credentials,
            &request.provider_ref,
            request.amount,
            request.pre_auth_date,
        );
        let amount = request.amount;
        self.money_call("capture", path::PRE_AUTH_CAPTURE, &form, |a| {
            answer::pre_auth_outcome(a, amount)
        })
        .await
    }

    pub(super) async fn release_pre_auth(&self, request: &ReleaseRequest) -> GatewayResponse {
        if request.authorized == Kurus::ZERO {
            return GatewayResponse::refused_here(
                "a pre-authorisation of 0 has nothing to release".into(),
            );
        }
        let form = request::pre_auth_release(
            &self.config.credentials,
            &request.provider_ref,
            request.authorized,
            request.pre_auth_date,
        );
        self.money_call("release", path::PRE_AUTH_RELEASE, &form, |a| {
            let mut outcome = answer::pre_auth_outcome(a, request.authorized);
            // A release charges nothing: no amount to confirm beyond the check above.
            if let Outcome::Approved(approval) = &mut outcome {
                approval.authorized_amount = None;
            }
            outcome
        })
        .await
    }

    /// The merchant's pre-authorisations made on the days `from..=to` (Europe/Istanbul),
    /// with where each stands. An empty window is `Ok(vec![])`.
    pub async fn pre_auth_list(
        &self,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<Vec<PreAuthRecord>, GatewayError> {
        if to < from {
            return Err(GatewayError::Invalid(
                "end date is before start date".into(),
            ));
        }
        let form = request::pre_auth_list(&self.config.credentials, from, to);
        let answer = self.read_call(path::PRE_AUTH_LIST, &form).await?;
        list_records(&answer)
    }
}

/// The rows of a list answer; "no records" (`CORE0305`) is an empty list.
fn list_records(answer: &Answer) -> Result<Vec<PreAuthRecord>, GatewayError> {
    match answer.response_code().as_deref() {
        Some("2") => answer.list("LIST").iter().map(record).collect(),
        _ if answer.non_empty("ERROR_CODE").as_deref() == Some("CORE0305") => Ok(Vec::new()),
        _ => Err(GatewayError::Rejected(
            answer
                .non_empty("RESPONSE_DATA")
                .or_else(|| answer.non_empty("ERROR_MESSAGE"))
                .unwrap_or_else(|| "pre-authorisation list refused".into()),
        )),
    }
}

/// One row; a row without a readable reference or amount makes the answer unusable
/// rather than a guess.
fn record(row: &Answer) -> Result<PreAuthRecord, GatewayError> {
    let provider_ref = row
        .non_empty("REFERENCE_CODE")
        .and_then(|r| ProviderRef::parse(&r).ok())
        .ok_or_else(|| GatewayError::BadAnswer("a pre-authorisation without a reference".into()))?;
    let amount = row
        .text_any(&["AUTHORIZATION_AMOUNT", "AMOUNT", "TRANSACTION_AMOUNT"])
        .and_then(|a| parse_amount(&a))
        .ok_or_else(|| {
            GatewayError::BadAnswer("a pre-authorisation without a readable amount".into())
        })?;
    Ok(PreAuthRecord {
        provider_ref,
        client_ref: row
            .non_empty("CLIENT_REFERENCE_CODE")
            .and_then(|c| ClientRef::parse(&c).ok()),
        amount,
        time: row
            .text_any(&["TRX_DATE", "DATE"])
            .and_then(|d| parse_datetime(&d)),
        status: row
            .non_empty("STATUS")
            .map_or(PreAuthStatus::Other(String::new()), |s| status_of(&s)),
    })
}

fn status_of(text: &str) -> PreAuthStatus {
    match text.to_ascii_uppercase().as_str() {
        "OPEN" | "WAITING" => PreAuthStatus::Open,
        "CAPTURED" | "APPROVED" => PreAuthStatus::Captured,
        "RELEASED" | "CANCELLED" | "CANCELED" => PreAuthStatus::Released,
        _ => PreAuthStatus::Other(text.to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_rows_in_any_key_case() {
        let answer = Answer::parse(
            r#"{"id":"","result":{"RESPONSE_CODE":"2","LIST":[
            {"REFERENCE_CODE":"IKSIRPF1","CLIENT_REFERENCE_CODE":"c1","AUTHORIZATION_AMOUNT":"100.00",
             "TRX_DATE":"05.10.2026 14:05:09","STATUS":"OPEN"},
            {"referenceCode":"IKSIRPF2","authorizationAmount":40.00,"status":"captured"}]}}"#,
        )
        .unwrap();
        let rows = list_records(&answer).unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].provider_ref.as_str(), "IKSIRPF1");
        assert_eq!(rows[0].amount, Kurus::parse("100").unwrap());
        assert_eq!(rows[0].status, PreAuthStatus::Open);
        assert_eq!(rows[0].client_ref.as_ref().unwrap().as_str(), "c1");
        assert!(rows[0].time.is_some());
        assert_eq!(rows[1].status, PreAuthStatus::Captured);
        assert_eq!(rows[1].time, None);
        let none = Answer::parse(
            r#"{"RESPONSE_CODE":"0","ERROR_CODE":"CORE0305","RESPONSE_DATA":"Listelenecek kayıt bulunamadı."}"#,
        )
        .unwrap();
        assert!(list_records(&none).unwrap().is_empty());
        let broken = Answer::parse(r#"{"RESPONSE_CODE":"2","LIST":[{"STATUS":"OPEN"}]}"#).unwrap();
        assert!(matches!(
            list_records(&broken),
            Err(GatewayError::BadAnswer(_))
        ));
    }
}
