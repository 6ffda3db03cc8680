//! The N Kolay (PayNKolay) protocol: `/Vpos/v1/Payment` and friends.
//!
//! Four parts: [`request`] maps our requests to signed form fields, [`answer`] maps the
//! provider's answers to outcomes (the success rule lives there), [`signing`] is
//! `hashDatav2`, and [`codec`] reads the provider's many answer shapes. This file is the
//! transport: HTTP, timeouts, and what a broken exchange means.

pub mod answer;
pub mod codec;
pub mod protocol;
pub mod request;
pub mod signing;

pub use protocol::PROTOCOL;

use std::time::{Duration, Instant};

use async_trait::async_trait;
use chrono::{Days, NaiveDate};
use tracing::debug;

use sanalpos_core::{Kurus, Secret};

use self::codec::{now_istanbul, parse_amount, parse_rate_bp, Answer};
use crate::scrub::scrub_card_numbers;
use crate::transport::{self, Exchange};
use crate::types::*;
use crate::{Gateway, GatewayError};

/// The test (sandbox) service.
pub const TEST_BASE_URL: &str = "https://paynkolaytest.nkolayislem.com.tr";
/// The production service.
pub const PRODUCTION_BASE_URL: &str = "https://paynkolay.nkolayislem.com.tr";

/// The merchant's four secrets, from the N Kolay panel.
#[derive(Debug, Clone)]
pub struct Credentials {
    /// Payments, CompletePayment, installments, merchant information.
    pub sx: Secret,
    /// PaymentList and PfTransactionReportList.
    pub sx_list: Secret,
    /// CancelRefundPayment.
    pub sx_cancel: Secret,
    /// The last element of every request hash; verifies answers.
    pub secret_key: Secret,
}

/// One N Kolay POS: where it is, how to sign in, how long to wait.
#[derive(Debug, Clone)]
pub struct NkolayConfig {
    /// `https://paynkolay.nkolayislem.com.tr`, the test URL, or a simulator's.
    pub base_url: String,
    /// The merchant's secrets.
    pub credentials: Credentials,
    /// The panel's AutoComplete switch: off means a 3D postback is only a pre-approval
    /// and the sale needs CompletePayment.
    pub auto_complete: bool,
    /// Time to open a connection.
    pub connect_timeout: Duration,
    /// Time for the whole exchange.
    pub request_timeout: Duration,
}

impl NkolayConfig {
    /// A configuration with the usual timeouts (5 s to connect, 30 s in all).
    pub fn new(base_url: impl Into<String>, credentials: Credentials) -> NkolayConfig {
        NkolayConfig {
            base_url: base_url.into(),
            credentials,
            auto_complete: true,
            connect_timeout: Duration::from_secs(5),
            request_timeout: Duration::from_secs(30),
        }
    }
}

/// The N Kolay client: stateless apart from its configuration and connection pool.
#[derive(Debug, Clone)]
pub struct NkolayGateway {
    config: NkolayConfig,
    http: reqwest::Client,
}

/// Endpoint paths.
mod path {
    pub const PAYMENT: &str = "/Vpos/v1/Payment";
    pub const COMPLETE: &str = "/Vpos/v1/CompletePayment";
    pub const CANCEL_REFUND: &str = "/Vpos/v1/CancelRefundPayment";
    pub const PAYMENT_LIST: &str = "/Vpos/Payment/PaymentList";
    pub const PF_REPORT: &str = "/Vpos/Payment/PfTransactionReportList";
    pub const INSTALLMENTS: &str = "/Vpos/Payment/PaymentInstallments";
    pub const MERCHANT_INFO: &str = "/Vpos/Payment/GetMerchandInformation";
}

/// Bank codes with which the provider refuses a cancel because the day is closed.
const CANCEL_TOO_LATE: [&str; 2] = ["21", "29"];

/// The provider accepts report windows of at most one month; we use 31 days.
const MAX_WINDOW_DAYS: u64 = 31;

impl NkolayGateway {
    /// A client for one POS. Fails only when the TLS stack cannot be set up.
    pub fn new(config: NkolayConfig) -> Result<NkolayGateway, GatewayError> {
        let http = transport::client(config.connect_timeout, config.request_timeout)?;
        Ok(NkolayGateway { config, http })
    }

    /// The configuration.
    pub fn config(&self) -> &NkolayConfig {
        &self.config
    }

    fn secret(&self) -> &str {
        self.config.credentials.secret_key.expose()
    }

    async fn post(&self, path: &str, form: &request::Form) -> Exchange {
        let url = format!("{}{}", self.config.base_url.trim_end_matches('/'), path);
        transport::send(self.http.post(&url).form(form)).await
    }

    /// A call that may move money: every way the exchange can break maps to an outcome.
    async fn money_call(
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
    async fn read_call(&self, path: &str, form: &request::Form) -> Result<Answer, GatewayError> {
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

    /// PaymentList for a window (at most one month), optionally for one client
    /// reference. An empty list is `Ok(vec![])`.
    pub async fn payment_list(
        &self,
        from: NaiveDate,
        to: NaiveDate,
        client_ref: &str,
    ) -> Result<Vec<ReportRow>, GatewayError> {
        check_window(from, to)?;
        let form = request::payment_list(&self.config.credentials, from, to, client_ref);
        let answer = self.read_call(path::PAYMENT_LIST, &form).await?;
        list_rows(&answer, "LIST")
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

/// The outcome of an N Kolay exchange that may have moved money.
fn finish_exchange(
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

fn check_window(from: NaiveDate, to: NaiveDate) -> Result<(), GatewayError> {
    if to < from {
        return Err(GatewayError::Invalid(
            "end date is before start date".into(),
        ));
    }
    if (to - from).num_days() as u64 > MAX_WINDOW_DAYS {
        return Err(GatewayError::Invalid(format!(
            "the provider reports at most {MAX_WINDOW_DAYS} days at a time"
        )));
    }
    Ok(())
}

/// The rows of a list answer; "no records" (`CORE0305`) is an empty list.
fn list_rows(answer: &Answer, key: &str) -> Result<Vec<ReportRow>, GatewayError> {
    let rows = answer.list(key);
    match answer.response_code().as_deref() {
        Some("2") => Ok(rows.iter().map(answer::report_row).collect()),
        _ if !rows.is_empty() => Ok(rows.iter().map(answer::report_row).collect()),
        _ if is_no_records(answer) => Ok(Vec::new()),
        _ => Err(GatewayError::Rejected(
            answer
                .non_empty("RESPONSE_DATA")
                .or_else(|| answer.non_empty("ERROR_MESSAGE"))
                .unwrap_or_else(|| "report refused".into()),
        )),
    }
}

fn is_no_records(answer: &Answer) -> bool {
    answer.non_empty("ERROR_CODE").as_deref() == Some("CORE0305")
        || answer
            .non_empty("RESPONSE_DATA")
            .is_some_and(|t| t.to_lowercase().contains("kayıt bulunamadı"))
}

/// The end of a window that starts at `start` and may not pass `to`.
fn window_end(start: NaiveDate, to: NaiveDate) -> NaiveDate {
    start
        .checked_add_days(Days::new(MAX_WINDOW_DAYS - 1))
        .map_or(to, |end| end.min(to))
}

#[async_trait]
impl Gateway for NkolayGateway {
    async fn sale(&self, request: &SaleRequest) -> GatewayResponse {
        if request.pre_auth {
            return GatewayResponse::not_supported("pre-authorisation");
        }
        let form = request::payment(&self.config.credentials, request, None, now_istanbul());
        let amount = request.amount;
        self.money_call("sale", path::PAYMENT, &form, |a| {
            answer::payment_outcome(a, self.secret(), amount)
        })
        .await
    }

    async fn start_3d(&self, request: &SaleRequest, urls: &ReturnUrls) -> ThreeDStart {
        if request.pre_auth {
            return ThreeDStart::Finished(GatewayResponse::not_supported("pre-authorisation"));
        }
        let form = request::payment(
            &self.config.credentials,
            request,
            Some(urls),
            now_istanbul(),
        );
        let amount = request.amount;
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

    async fn finish_3d(&self, postback: &Postback, expected: &ExpectedSale) -> GatewayResponse {
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

    async fn cancel(&self, request: &CancelRequest) -> GatewayResponse {
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

    async fn refund(&self, request: &RefundRequest) -> GatewayResponse {
        if request.amount == Kurus::ZERO || request.amount > request.refundable {
            return GatewayResponse {
                outcome: Outcome::Failed(Failure {
                    kind: FailureKind::Invalid,
                    detail: format!(
                        "refund of {} is not possible: {} is refundable",
                        request.amount, request.refundable
                    ),
                }),
                raw: None,
                http_status: None,
                latency: Duration::ZERO,
            };
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

    async fn inquiry(&self, request: &InquiryRequest) -> Result<Inquiry, GatewayError> {
        let from = request.date.pred_opt().unwrap_or(request.date);
        let to = request.date.succ_opt().unwrap_or(request.date);
        let rows = self
            .payment_list(from, to, request.client_ref.as_str())
            .await?;
        Ok(summarize(&rows, request))
    }

    async fn report(&self, query: &ReportQuery) -> Result<ReportPage, GatewayError> {
        if query.to < query.from {
            return Err(GatewayError::Invalid(
                "end date is before start date".into(),
            ));
        }
        let page_size = query.page_size.clamp(1, 1000);
        let cursor = query.cursor.clone().unwrap_or(ReportCursor {
            window_start: query.from,
            page: 1,
        });
        let window_to = window_end(cursor.window_start, query.to);
        let form = request::pf_report(
            &self.config.credentials,
            cursor.window_start,
            window_to,
            cursor.page,
            page_size,
        );
        let answer = self.read_call(path::PF_REPORT, &form).await?;
        let rows = list_rows(&answer, "List")?;
        let next = if rows.len() as u32 >= page_size {
            Some(ReportCursor {
                window_start: cursor.window_start,
                page: cursor.page + 1,
            })
        } else {
            window_to
                .succ_opt()
                .filter(|next| *next <= query.to)
                .map(|next| ReportCursor {
                    window_start: next,
                    page: 1,
                })
        };
        Ok(ReportPage { rows, next })
    }

    async fn installments(
        &self,
        bin: &str,
        amount: Kurus,
    ) -> Result<Vec<InstallmentOption>, GatewayError> {
        if bin.len() < 6 || !bin.bytes().all(|b| b.is_ascii_digit()) {
            return Err(GatewayError::Invalid("a BIN is at least 6 digits".into()));
        }
        let bin = &bin[..bin.len().min(8)];
        let form = request::installments(&self.config.credentials, bin, amount);
        let answer = self.read_call(path::INSTALLMENTS, &form).await?;
        if answer.response_code().as_deref() != Some("2") {
            return Err(GatewayError::Rejected(
                answer.non_empty("RESPONSE_DATA").unwrap_or_default(),
            ));
        }
        let mut options: Vec<InstallmentOption> = answer
            .list("PAYMENT_BANK_LIST")
            .iter()
            .filter_map(|row| installment_option(row, amount))
            .collect();
        options.sort_by_key(|o| o.installments);
        options.dedup_by_key(|o| o.installments);
        Ok(options)
    }

    async fn commission_table(&self) -> Result<CommissionTable, GatewayError> {
        let form =
            request::merchant_information(&self.config.credentials, now_istanbul().date_naive());
        let answer = self.read_call(path::MERCHANT_INFO, &form).await?;
        if answer.response_code().as_deref() != Some("2") {
            return Err(GatewayError::Rejected(
                answer.non_empty("RESPONSE_DATA").unwrap_or_default(),
            ));
        }
        let programs = answer
            .list("COMMISSION_LIST")
            .iter()
            .map(|program| ProgramCommissions {
                name: program.non_empty("CODE").unwrap_or_default(),
                code: program.non_empty("KEY").unwrap_or_default(),
                rates: program
                    .list("DATA")
                    .iter()
                    .filter_map(|rate| {
                        Some(CommissionRate {
                            installments: rate.non_empty("INSTALLMENT")?.parse().ok()?,
                            commission_bp: parse_rate_bp(&rate.non_empty("COMMISSION")?)?,
                            surcharge_bp: rate
                                .non_empty("MERCHANT_COMMISSION_RATE")
                                .and_then(|r| parse_rate_bp(&r))
                                .unwrap_or(0),
                        })
                    })
                    .collect(),
            })
            .collect();
        Ok(CommissionTable { programs })
    }

    async fn probe(&self) -> Result<(), GatewayError> {
        // The commission table is signed with `sx` and read-only: it proves the address,
        // the IP allowlist and the credentials at once.
        self.commission_table().await.map(|_| ())
    }
}

fn installment_option(row: &Answer, amount: Kurus) -> Option<InstallmentOption> {
    let installments: u8 = row.non_empty("INSTALLMENT")?.parse().ok()?;
    let total = row
        .non_empty("AUTHORIZATION_AMOUNT")
        .and_then(|a| parse_amount(&a))
        .unwrap_or(amount);
    let monthly = row
        .non_empty("INSTALLMENT_AMOUNT")
        .and_then(|a| parse_amount(&a))
        .or_else(|| Kurus::from_minor(total.minor() / i64::from(installments.max(1))))?;
    Some(InstallmentOption {
        installments,
        monthly,
        total,
        surcharge: total.checked_sub(amount).unwrap_or(Kurus::ZERO),
        commission: row
            .non_empty("COMMISION_AMOUNT")
            .and_then(|a| parse_amount(&a))
            .unwrap_or(Kurus::ZERO),
        commission_rate_bp: row
            .text_any(&["COMMISION", "COMMISSION"])
            .and_then(|r| parse_rate_bp(&r))
            .unwrap_or(0),
        surcharge_rate_bp: row
            .non_empty("MERCHANT_COMMISSION_RATE")
            .and_then(|r| parse_rate_bp(&r))
            .unwrap_or(0),
        program: row.non_empty("PROGRAM"),
    })
}

/// What the provider's rows say about one attempt.
fn summarize(rows: &[ReportRow], request: &InquiryRequest) -> Inquiry {
    let ours = |r: &&ReportRow| r.client_ref.as_deref() == Some(request.client_ref.as_str());
    let sale = rows
        .iter()
        .filter(ours)
        .find(|r| matches!(r.kind, TransactionKind::Sale | TransactionKind::PreAuth));
    let Some(sale) = sale else {
        return Inquiry::NotFound;
    };
    match &sale.status {
        RowStatus::Success => {
            let (Some(provider_ref), Some(auth_code)) =
                (sale.provider_ref.clone(), sale.auth_code.clone())
            else {
                return Inquiry::Pending;
            };
            let authorized = sale.authorized_amount.or(sale.amount);
            if authorized.is_none_or(|a| a < request.amount) {
                // Reported as charged, but for less than we asked: a person must look.
                return Inquiry::Pending;
            }
            let reversals = rows.iter().filter(ours).filter(|r| {
                r.status == RowStatus::Success
                    && matches!(
                        r.kind,
                        TransactionKind::Cancel
                            | TransactionKind::Refund
                            | TransactionKind::PartialRefund
                    )
            });
            let mut reversed = Kurus::ZERO;
            let mut cancelled = false;
            for r in reversals {
                cancelled |= r.kind == TransactionKind::Cancel;
                reversed = reversed
                    .checked_add(r.amount.unwrap_or(Kurus::ZERO))
                    .unwrap_or(reversed);
            }
            Inquiry::Approved {
                approval: Approval {
                    auth_code: Some(auth_code),
                    provider_ref,
                    authorized_amount: authorized,
                    installments: sale.installments,
                },
                reversed,
                cancelled,
            }
        }
        RowStatus::Error => Inquiry::Declined(Decline {
            kind: DeclineKind::Refused,
            bank_code: None,
            message: sanalpos_core::Message::new("İşlem onaylanmadı", "Transaction not approved"),
            provider_text: String::new(),
            provider_ref: sale.provider_ref.clone(),
        }),
        RowStatus::New | RowStatus::Other(_) => Inquiry::Pending,
    }
}
