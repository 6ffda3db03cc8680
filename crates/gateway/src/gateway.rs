//! The trait every virtual POS protocol implements.

use async_trait::async_trait;

use sanalpos_core::Kurus;

use crate::types::{
    CancelRequest, CaptureRequest, CommissionTable, ExpectedSale, GatewayResponse, Inquiry,
    InquiryRequest, InstallmentOption, Postback, RefundRequest, ReleaseRequest, ReportPage,
    ReportQuery, ReturnUrls, SaleRequest, SaveCard, StoredCard, StoredCardSale, ThreeDStart,
};
use crate::Card;

/// Why a read-only call (inquiry, report, installments, commission table) gave no
/// answer. Calls that may move money never fail this way: they give an
/// [`Outcome`](crate::Outcome) instead.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GatewayError {
    /// The provider could not be reached.
    #[error("provider unreachable: {0}")]
    Unreachable(String),
    /// No answer within the timeout.
    #[error("provider did not answer in time")]
    Timeout,
    /// The provider refused our credentials (`sx`, hash).
    #[error("provider refused the credentials: {0}")]
    BadCredentials(String),
    /// The provider does not know our IP address.
    #[error("provider does not allow this server's IP address: {0}")]
    IpNotAllowed(String),
    /// The provider refused the request.
    #[error("provider refused the request: {0}")]
    Rejected(String),
    /// The provider's answer was broken (HTTP error, unparseable, bad signature).
    #[error("provider answer unusable: {0}")]
    BadAnswer(String),
    /// This protocol does not offer the operation.
    #[error("not supported by this provider: {0}")]
    Unsupported(&'static str),
    /// The request itself is invalid (a window in the wrong order, an empty BIN).
    #[error("invalid request: {0}")]
    Invalid(String),
}

/// What any virtual POS protocol offers. Implementations are stateless apart from
/// their configuration; they never decide business state, they report what the
/// provider said, normalized.
#[async_trait]
pub trait Gateway: Send + Sync {
    /// A non-3D sale, or a pre-authorisation when `request.pre_auth` is set (a protocol
    /// without pre-authorisation refuses it as [`FailureKind::Invalid`](crate::FailureKind)
    /// without calling).
    async fn sale(&self, request: &SaleRequest) -> GatewayResponse;

    /// A non-3D sale charged to a card kept in the provider's vault. A protocol without
    /// card storage refuses it as [`FailureKind::Invalid`](crate::FailureKind) without
    /// calling.
    async fn sale_with_stored_card(&self, request: &StoredCardSale) -> GatewayResponse {
        let _ = request;
        GatewayResponse::not_supported("a sale with a stored card")
    }

    /// Keeps `card` in the provider's vault for the merchant's customer `customer_key`
    /// under the customer's name for it, `alias`. The CVV goes to the provider once, for
    /// its check. A protocol without card storage answers
    /// [`GatewayError::Unsupported`] without calling.
    async fn register_card(
        &self,
        customer_key: &str,
        card: &Card,
        alias: &str,
    ) -> Result<StoredCard, GatewayError> {
        let _ = (customer_key, card, alias);
        Err(GatewayError::Unsupported("card storage"))
    }

    /// The cards the provider's vault keeps for `customer_key` (empty when it keeps
    /// none). A protocol without card storage answers [`GatewayError::Unsupported`].
    async fn list_cards(&self, customer_key: &str) -> Result<Vec<StoredCard>, GatewayError> {
        let _ = customer_key;
        Err(GatewayError::Unsupported("card storage"))
    }

    /// Removes one card of `customer_key` from the provider's vault, named by the
    /// vault's transaction id and token as registration gave them (either may be
    /// empty, not both). A protocol without card storage answers
    /// [`GatewayError::Unsupported`].
    async fn delete_card(
        &self,
        customer_key: &str,
        tran_id: &str,
        token: &str,
    ) -> Result<(), GatewayError> {
        let _ = (customer_key, tran_id, token);
        Err(GatewayError::Unsupported("card storage"))
    }

    /// Starts a 3D sale like [`Gateway::start_3d`], asking the provider to keep the card
    /// in its vault for `save.customer_key` once the sale is approved. A protocol
    /// without card storage refuses it as [`FailureKind::Invalid`](crate::FailureKind)
    /// without calling.
    async fn start_3d_saving_card(
        &self,
        request: &SaleRequest,
        urls: &ReturnUrls,
        save: &SaveCard,
    ) -> ThreeDStart {
        let _ = (request, urls, save);
        ThreeDStart::Finished(GatewayResponse::not_supported(
            "saving the card of a 3D sale",
        ))
    }

    /// Captures a pre-authorisation, all of it or part.
    async fn capture(&self, request: &CaptureRequest) -> GatewayResponse {
        let _ = request;
        GatewayResponse::not_supported("capture")
    }

    /// Releases a pre-authorisation that was not captured: the block is freed, nothing
    /// is charged. A protocol without it refuses as
    /// [`FailureKind::Invalid`](crate::FailureKind) without calling.
    async fn release(&self, request: &ReleaseRequest) -> GatewayResponse {
        let _ = request;
        GatewayResponse::not_supported("release")
    }

    /// Starts a 3D Secure sale: the answer is the HTML that takes the browser to the bank,
    /// or why 3D did not start. A protocol that signs a form for the browser makes no
    /// call here.
    async fn start_3d(&self, request: &SaleRequest, urls: &ReturnUrls) -> ThreeDStart;

    /// Finishes a 3D sale from the browser's postback: verifies it, applies the success
    /// rule, and completes the sale where the POS needs an explicit completion.
    async fn finish_3d(&self, postback: &Postback, expected: &ExpectedSale) -> GatewayResponse;

    /// Cancels (voids) a sale on its business day.
    async fn cancel(&self, request: &CancelRequest) -> GatewayResponse;

    /// Refunds all or part of a sale.
    async fn refund(&self, request: &RefundRequest) -> GatewayResponse;

    /// Finds an attempt by our reference.
    async fn inquiry(&self, request: &InquiryRequest) -> Result<Inquiry, GatewayError>;

    /// One page of the provider's records for a date range.
    async fn report(&self, query: &ReportQuery) -> Result<ReportPage, GatewayError>;

    /// Installment options for a card's BIN (6 to 8 digits, or the whole number) and
    /// an amount.
    async fn installments(
        &self,
        bin: &str,
        amount: Kurus,
    ) -> Result<Vec<InstallmentOption>, GatewayError>;

    /// The merchant's commission table.
    async fn commission_table(&self) -> Result<CommissionTable, GatewayError>;

    /// A harmless call that proves the provider is reachable and takes our
    /// credentials: what "test connection" and the circuit breaker's half-open probe
    /// use. It moves no money.
    async fn probe(&self) -> Result<(), GatewayError>;
}
