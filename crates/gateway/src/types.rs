//! The requests a gateway takes and the normalized results it gives.

use std::net::IpAddr;
use std::time::Duration;

use chrono::NaiveDate;
use serde::Serialize;

use sanalpos_core::{
    AuthCode, BankCode, CardNumber, ClientRef, Currency, Cvv, Expiry, Kurus, MaskedPan, Message,
    ProviderRef,
};

/// The report rows live in the core crate (the reconciliation engine reads them without
/// this crate); they stay reachable here under their old paths.
pub use sanalpos_core::{ReportRow, RowStatus, TransactionKind};

/// Card data for one call. Lives only as long as the request that carries it; its
/// `Debug` shows the masked number and hides the CVV.
#[derive(Debug, Clone)]
pub struct Card {
    /// The card number.
    pub number: CardNumber,
    /// Expiry month and year.
    pub expiry: Expiry,
    /// The card security code; sent once to the provider, never stored or logged.
    pub cvv: Cvv,
    /// Name on the card.
    pub holder: String,
}

/// A sale (non-3D, or the start of a 3D sale).
#[derive(Debug, Clone)]
pub struct SaleRequest {
    /// Our reference of this attempt, unique per attempt; inquiry searches by it.
    pub client_ref: ClientRef,
    /// The amount to collect, before any installment surcharge.
    pub amount: Kurus,
    /// The currency of `amount`; the POS must accept it.
    pub currency: Currency,
    /// 1 for a single payment.
    pub installments: u8,
    /// The card to charge (for a 3D sale, sent with the start).
    pub card: Card,
    /// Free text shown in the provider's panel.
    pub description: Option<String>,
    /// The cardholder's IP address, when the payment comes from a browser.
    pub cardholder_ip: Option<IpAddr>,
    /// Block the amount only (pre-authorisation), to capture later.
    pub pre_auth: bool,
}

/// How the provider names one stored card of a customer: by the transaction id or by
/// the token its vault gave when the card was registered (either is enough).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoredCardId {
    /// The vault's transaction id of the card (`TranId`).
    TranId(String),
    /// The vault's token of the card (`Token`).
    Token(String),
}

/// A stored card to charge: the merchant's key of the customer who owns it and which of
/// that customer's cards. The provider refuses a card of another customer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredCardRef {
    /// The merchant's own key of the customer (`customerKey` / `csCustomerKey`).
    pub customer_key: String,
    /// Which of the customer's cards.
    pub card: StoredCardId,
}

/// A non-3D sale charged to a card kept in the provider's vault: no card data travels.
/// A type of its own rather than a field of [`SaleRequest`], so that every existing
/// caller keeps building sales as it does.
#[derive(Debug, Clone)]
pub struct StoredCardSale {
    /// Our reference of this attempt, unique per attempt; inquiry searches by it.
    pub client_ref: ClientRef,
    /// The amount to collect, before any installment surcharge.
    pub amount: Kurus,
    /// The currency of `amount`; the POS must accept it.
    pub currency: Currency,
    /// 1 for a single payment.
    pub installments: u8,
    /// The stored card to charge.
    pub stored_card: StoredCardRef,
    /// Free text shown in the provider's panel.
    pub description: Option<String>,
    /// The cardholder's IP address, when the payment comes from a browser.
    pub cardholder_ip: Option<IpAddr>,
}

/// Ask the provider to keep the card of a 3D sale in its vault once the sale is
/// approved (a declined or abandoned sale stores nothing).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SaveCard {
    /// The merchant's own key of the customer the card will belong to.
    pub customer_key: String,
    /// The name the customer gives the card ("İş kartım").
    pub alias: String,
}

/// A card kept in the provider's vault, as its list shows it. The number is only ever
/// masked; the list carries no expiry date, so there is none here.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredCard {
    /// The vault's token of the card.
    pub token: String,
    /// The vault's transaction id of the card.
    pub tran_id: String,
    /// First six and last four digits.
    pub masked_pan: MaskedPan,
    /// The card scheme as the provider names it (`VISA`, `MASTERCARD`); may be empty.
    pub brand: String,
    /// The issuing bank as the provider names it; may be empty.
    pub issuer: String,
    /// The customer's name for the card; may be empty.
    pub alias: String,
}

/// Capture a pre-authorisation.
#[derive(Debug, Clone)]
pub struct CaptureRequest {
    /// The pre-authorisation's provider reference.
    pub provider_ref: ProviderRef,
    /// Our reference of the pre-authorisation (the order id at banks).
    pub client_ref: ClientRef,
    /// The amount pre-authorised.
    pub authorized: Kurus,
    /// The amount to capture now: all of `authorized` or less, never more (the rest
    /// of the block is released by the capture).
    pub amount: Kurus,
    /// The currency of the pre-authorisation.
    pub currency: Currency,
    /// The business date of the pre-authorisation (Europe/Istanbul); N Kolay names the
    /// pre-authorisation by its reference and this date, other protocols ignore it.
    pub pre_auth_date: NaiveDate,
}

/// Release a pre-authorisation that was not captured: the whole block is freed and
/// the card is never charged.
#[derive(Debug, Clone)]
pub struct ReleaseRequest {
    /// The pre-authorisation's provider reference.
    pub provider_ref: ProviderRef,
    /// Our reference of the pre-authorisation (the order id at banks).
    pub client_ref: ClientRef,
    /// The business date of the pre-authorisation (Europe/Istanbul).
    pub pre_auth_date: NaiveDate,
    /// The amount pre-authorised (blocked on the card), all of which is released.
    pub authorized: Kurus,
    /// The currency of the pre-authorisation.
    pub currency: Currency,
}

/// Where the provider sends the cardholder's browser after 3D authentication.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReturnUrls {
    /// Posted to on success.
    pub success: String,
    /// Posted to on failure.
    pub fail: String,
}

/// The fields of a 3D result the cardholder's browser posted to us (form-encoded).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Postback {
    fields: Vec<(String, String)>,
}

impl Postback {
    /// Parses an `application/x-www-form-urlencoded` body.
    pub fn from_form(body: &[u8]) -> Result<Postback, GatewayFormatError> {
        serde_urlencoded::from_bytes::<Vec<(String, String)>>(body)
            .map(|fields| Postback { fields })
            .map_err(|_| GatewayFormatError("the body is not form-encoded".into()))
    }

    /// From already decoded pairs.
    pub fn from_pairs(fields: Vec<(String, String)>) -> Postback {
        Postback { fields }
    }

    /// The first value of a field, by exact name.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// All fields, in the order received.
    pub fn fields(&self) -> &[(String, String)] {
        &self.fields
    }
}

/// Input that is not in the shape a protocol needs.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct GatewayFormatError(pub String);

/// What we know of the sale a 3D postback should belong to, from our own records.
#[derive(Debug, Clone)]
pub struct ExpectedSale {
    /// The amount we asked for.
    pub amount: Kurus,
    /// Our reference of the 3D start attempt.
    pub client_ref: ClientRef,
    /// The provider's reference from the 3D start answer, when it gave one.
    pub provider_ref: Option<ProviderRef>,
    /// The currency asked for.
    pub currency: Currency,
    /// The installment count asked for (1 for a single payment).
    pub installments: u8,
    /// Whether it was a pre-authorisation.
    pub pre_auth: bool,
    /// The cardholder's IP address, when known.
    pub cardholder_ip: Option<IpAddr>,
}

/// The answer to a 3D start.
#[derive(Debug, Clone)]
pub enum ThreeDStart {
    /// Render this HTML in the cardholder's browser; it takes them to the bank's page.
    Redirect {
        /// A complete HTML document with an auto-submitting form.
        html: String,
        /// The provider's reference of the pending sale, when the answer carries one.
        provider_ref: Option<ProviderRef>,
        /// Whether the HTML carries the card (a bank's 3D model where the merchant's
        /// page posts the card to the bank): then it lives in memory only, never in the
        /// database, and is served once.
        holds_card: bool,
        /// Time the call took.
        latency: Duration,
    },
    /// The provider did not start 3D: the answer says why (declined, failed, unknown).
    Finished(GatewayResponse),
}

/// Cancel (void) a sale on its own business day.
#[derive(Debug, Clone)]
pub struct CancelRequest {
    /// The sale's provider reference.
    pub provider_ref: ProviderRef,
    /// Our reference of the sale.
    pub client_ref: ClientRef,
    /// The business date of the original sale (Europe/Istanbul).
    pub sale_date: NaiveDate,
    /// The sale's full amount.
    pub amount: Kurus,
    /// The sale's currency.
    pub currency: Currency,
}

/// Refund all or part of a sale after its business day.
#[derive(Debug, Clone)]
pub struct RefundRequest {
    /// The sale's provider reference.
    pub provider_ref: ProviderRef,
    /// Our reference of the sale.
    pub client_ref: ClientRef,
    /// The business date of the original sale (Europe/Istanbul).
    pub sale_date: NaiveDate,
    /// The amount to refund now.
    pub amount: Kurus,
    /// What is still refundable: captured minus everything refunded before. A request
    /// for more is refused without calling the provider.
    pub refundable: Kurus,
    /// The sale's currency.
    pub currency: Currency,
}

/// Look a payment attempt up by our reference.
#[derive(Debug, Clone)]
pub struct InquiryRequest {
    /// Our reference of the attempt.
    pub client_ref: ClientRef,
    /// The day the attempt was made (Europe/Istanbul); the search covers a day around it.
    pub date: NaiveDate,
    /// The amount asked for, to apply the success rule to what the provider reports.
    pub amount: Kurus,
}

/// A date range of the provider's records, one page at a time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportQuery {
    /// First day, inclusive.
    pub from: NaiveDate,
    /// Last day, inclusive.
    pub to: NaiveDate,
    /// Rows per page.
    pub page_size: u32,
    /// Where to go on; `None` for the first page.
    pub cursor: Option<ReportCursor>,
}

/// Position in a report that spans several provider windows and pages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportCursor {
    /// First day of the current window.
    pub window_start: NaiveDate,
    /// 1-based page within the window.
    pub page: u32,
}

/// One page of the provider's records.
#[derive(Debug, Clone, Default)]
pub struct ReportPage {
    /// The page's rows in the provider's order; empty when the window has none.
    pub rows: Vec<ReportRow>,
    /// The next page, or `None` at the end.
    pub next: Option<ReportCursor>,
}

/// What an inquiry found.
#[derive(Debug, Clone)]
pub enum Inquiry {
    /// The provider has no record of the attempt.
    NotFound,
    /// The provider reports the attempt as approved (success rule applied).
    Approved {
        /// Approval details.
        approval: Approval,
        /// Amount cancelled or refunded since, as the provider reports it.
        reversed: Kurus,
        /// Whether a cancel row exists (for a pre-authorisation: it was released).
        cancelled: bool,
        /// What was captured of a pre-authorisation, when the provider reports a capture
        /// (then `approval.provider_ref` names the capture where the protocol gives it a
        /// reference of its own); `None` while the block is open, for a plain sale, or
        /// when the protocol cannot tell.
        captured: Option<Kurus>,
    },
    /// The provider reports the attempt as refused.
    Declined(Decline),
    /// Started but not finished (3D never completed, or waiting for completion).
    Pending,
}

/// One installment option for a card and amount.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct InstallmentOption {
    /// Number of installments; 1 is a single payment.
    pub installments: u8,
    /// One monthly installment; the last may differ by the rounding.
    pub monthly: Kurus,
    /// What the cardholder pays in total.
    pub total: Kurus,
    /// Surcharge the cardholder pays, included in `total`.
    pub surcharge: Kurus,
    /// Commission the merchant pays.
    pub commission: Kurus,
    /// Merchant commission rate in basis points.
    pub commission_rate_bp: u32,
    /// Cardholder surcharge rate in basis points.
    pub surcharge_rate_bp: u32,
    /// The card program code (`004` Bonus), when known.
    pub program: Option<String>,
}

/// The merchant's commission table, per card program.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct CommissionTable {
    /// One entry per card program.
    pub programs: Vec<ProgramCommissions>,
}

/// Commission rates of one card program.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ProgramCommissions {
    /// Program name (`Bonus`).
    pub name: String,
    /// Program code (`004`).
    pub code: String,
    /// One entry per installment count.
    pub rates: Vec<CommissionRate>,
}

/// The rates for one installment count.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CommissionRate {
    /// Installment count these rates apply to (1 = single payment).
    pub installments: u8,
    /// What the merchant pays, basis points.
    pub commission_bp: u32,
    /// What is passed on to the cardholder, basis points.
    pub surcharge_bp: u32,
}

/// The normalized result of a call that may move money.
#[derive(Debug, Clone)]
pub struct GatewayResponse {
    /// What happened to the money: approved, declined, failed before processing, or
    /// unknown (then resolved by inquiry, never by sending again).
    pub outcome: Outcome,
    /// The provider's answer with card numbers masked, for the attempt log.
    pub raw: Option<String>,
    /// The HTTP status, when an answer arrived.
    pub http_status: Option<u16>,
    /// Time the call took (all calls, for a call that was retried).
    pub latency: Duration,
}

/// The four things a call that may move money can end in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Verified approval: the success rule held in full.
    Approved(Approval),
    /// The bank said no.
    Declined(Decline),
    /// Provably not charged: the request never left, or the provider refused it before
    /// processing.
    Failed(Failure),
    /// We cannot tell whether the card was charged; resolve by inquiry, never by sending
    /// again.
    Unknown(UnknownReason),
}

impl GatewayResponse {
    /// The answer of an operation the protocol does not offer: refused here, nothing
    /// sent.
    pub fn not_supported(operation: &str) -> GatewayResponse {
        GatewayResponse::refused_here(format!("{operation} is not supported by this POS"))
    }

    /// The answer of a call refused here, before anything is sent, because it breaks a
    /// rule of the operation (a capture above the authorised amount, a refund of more
    /// than is refundable): nothing moved, `detail` says why.
    pub fn refused_here(detail: String) -> GatewayResponse {
        GatewayResponse {
            outcome: Outcome::Failed(Failure {
                kind: FailureKind::Invalid,
                detail,
            }),
            raw: None,
            http_status: None,
            latency: Duration::ZERO,
        }
    }
}

impl Outcome {
    /// A short machine name: `approved`, `declined`, `failed`, `unknown`.
    pub fn kind(&self) -> &'static str {
        match self {
            Outcome::Approved(_) => "approved",
            Outcome::Declined(_) => "declined",
            Outcome::Failed(_) => "failed",
            Outcome::Unknown(_) => "unknown",
        }
    }
}

/// An approved transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Approval {
    /// The bank's authorization code (absent on cancels and refunds).
    pub auth_code: Option<AuthCode>,
    /// The provider's reference of the transaction.
    pub provider_ref: ProviderRef,
    /// What the cardholder was charged (sales only).
    pub authorized_amount: Option<Kurus>,
    /// Installment count (sales only).
    pub installments: Option<u8>,
}

/// What a refusal means for the service, in its own words, whatever code the protocol
/// used to say it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum DeclineKind {
    /// The bank or the provider said no.
    #[default]
    Refused,
    /// A cancel after the sale's business day was closed: refund instead.
    CancelWindowClosed,
    /// A refund before the sale's business day was closed: cancel instead, or wait for
    /// the close.
    DayNotClosed,
    /// Nothing is left to refund.
    NothingToRefund,
}

/// A refusal by the bank or the provider's business rules.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decline {
    /// What the refusal means for the service.
    pub kind: DeclineKind,
    /// The bank's code, when the answer carried one.
    pub bank_code: Option<BankCode>,
    /// The reason in Turkish and English, from the catalogue when the code is known.
    pub message: Message,
    /// The provider's own text, as it came.
    pub provider_text: String,
    /// The provider's reference of the refused transaction, when given.
    pub provider_ref: Option<ProviderRef>,
}

/// Why a call provably charged nothing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// The class of failure.
    pub kind: FailureKind,
    /// A readable detail, never with card data or credentials.
    pub detail: String,
}

/// Classes of [`Failure`], so a screen can explain them in plain words.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureKind {
    /// The provider could not be reached; the request was never sent.
    Unreachable,
    /// The provider refused the credentials (`sx`, hash).
    BadCredentials,
    /// The provider does not know our IP address: tell the provider the new IP.
    IpNotAllowed,
    /// The provider refused the request's content (format, missing field, rules).
    Rejected,
    /// Refused here before calling: the request breaks a rule (refund above what is
    /// refundable, unsupported operation).
    Invalid,
    /// Not sent: the provider failed repeatedly just before, and the POS's circuit
    /// breaker holds calls back until a probe succeeds.
    Unavailable,
}

/// Why the outcome of a call cannot be told.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UnknownReason {
    /// No answer within the timeout.
    Timeout,
    /// The connection broke after the request was sent.
    ConnectionLost,
    /// The provider answered with this HTTP status (5xx).
    ServerError(u16),
    /// The answer could not be parsed.
    Unparseable,
    /// The answer's signature is missing or does not verify.
    SignatureInvalid,
    /// The answer is signed but contradicts itself (approved without an auth code,
    /// authorized less than asked, a postback for another payment).
    Inconsistent(String),
}

impl std::fmt::Display for UnknownReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            UnknownReason::Timeout => f.write_str("no answer within the timeout"),
            UnknownReason::ConnectionLost => f.write_str("connection lost after sending"),
            UnknownReason::ServerError(code) => write!(f, "provider answered HTTP {code}"),
            UnknownReason::Unparseable => f.write_str("answer could not be parsed"),
            UnknownReason::SignatureInvalid => f.write_str("answer signature does not verify"),
            UnknownReason::Inconsistent(why) => write!(f, "inconsistent answer: {why}"),
        }
    }
}
