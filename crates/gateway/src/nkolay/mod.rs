//! The N Kolay (PayNKolay) protocol: `/Vpos/v1/Payment` and friends.
//!
//! Four parts: [`request`] maps our requests to signed form fields, [`answer`] maps the
//! provider's answers to outcomes (the success rule lives there), [`signing`] is
//! `hashDatav2`, and [`codec`] reads the provider's many answer shapes. `transport`
//! posts the forms and says what a broken exchange means; each operation's reading of
//! its answer has a module of its own (`payment`, `pre_auth`, `card_storage`,
//! `reversal`, `inquiry`, `reports`, `terms`). This file is the client: its configuration and the [`Gateway`]
//! implementation.

pub mod answer;
mod card_storage;
pub mod codec;
mod inquiry;
mod payment;
mod pre_auth;
pub mod protocol;
mod reports;
pub mod request;
mod reversal;
pub mod signing;
mod terms;
mod transport;

pub use pre_auth::{PreAuthRecord, PreAuthStatus};
pub use protocol::PROTOCOL;

use std::time::Duration;

use async_trait::async_trait;

use sanalpos_core::{Kurus, Secret};

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
    /// CancelRefundPayment only: cancels and refunds are signed with it.
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
}

// Each operation's exchange and reading of the answer lives in its own module:
// `payment` (sale, pre-authorisation, 3D), `pre_auth` (capture, release, list),
// `reversal` (cancel, refund), `inquiry`, `reports` and `terms`
// (installments, commission table).
#[async_trait]
impl Gateway for NkolayGateway {
    async fn sale(&self, request: &SaleRequest) -> GatewayResponse {
        self.direct_sale(request).await
    }

    async fn sale_with_stored_card(&self, request: &StoredCardSale) -> GatewayResponse {
        self.stored_card_sale(request).await
    }

    async fn register_card(
        &self,
        customer_key: &str,
        card: &Card,
        alias: &str,
    ) -> Result<StoredCard, GatewayError> {
        NkolayGateway::register_card(self, customer_key, card, alias).await
    }

    async fn list_cards(&self, customer_key: &str) -> Result<Vec<StoredCard>, GatewayError> {
        NkolayGateway::list_cards(self, customer_key).await
    }

    async fn delete_card(
        &self,
        customer_key: &str,
        tran_id: &str,
        token: &str,
    ) -> Result<(), GatewayError> {
        NkolayGateway::delete_card(self, customer_key, tran_id, token).await
    }

    async fn start_3d_saving_card(
        &self,
        request: &SaleRequest,
        urls: &ReturnUrls,
        save: &SaveCard,
    ) -> ThreeDStart {
        NkolayGateway::start_3d_saving_card(self, request, urls, save).await
    }

    async fn capture(&self, request: &CaptureRequest) -> GatewayResponse {
        self.capture_pre_auth(request).await
    }

    async fn release(&self, request: &ReleaseRequest) -> GatewayResponse {
        self.release_pre_auth(request).await
    }

    async fn start_3d(&self, request: &SaleRequest, urls: &ReturnUrls) -> ThreeDStart {
        self.begin_3d(request, urls).await
    }

    async fn finish_3d(&self, postback: &Postback, expected: &ExpectedSale) -> GatewayResponse {
        self.end_3d(postback, expected).await
    }

    async fn cancel(&self, request: &CancelRequest) -> GatewayResponse {
        self.cancel_sale(request).await
    }

    async fn refund(&self, request: &RefundRequest) -> GatewayResponse {
        self.refund_sale(request).await
    }

    async fn inquiry(&self, request: &InquiryRequest) -> Result<Inquiry, GatewayError> {
        self.inquire(request).await
    }

    async fn report(&self, query: &ReportQuery) -> Result<ReportPage, GatewayError> {
        self.report_page(query).await
    }

    async fn installments(
        &self,
        bin: &str,
        amount: Kurus,
    ) -> Result<Vec<InstallmentOption>, GatewayError> {
        self.installment_options(bin, amount).await
    }

    async fn commission_table(&self) -> Result<CommissionTable, GatewayError> {
        self.read_commission_table().await
    }

    async fn probe(&self) -> Result<(), GatewayError> {
        // The commission table is signed with `sx` and read-only: it proves the address,
        // the IP allowlist and the credentials at once.
        self.commission_table().await.map(|_| ())
    }
}
