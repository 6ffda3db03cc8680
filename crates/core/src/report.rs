//! One transaction in a provider's records, as a gateway's report API gives it: the
//! input of reconciliation. It lives here rather than in the gateway crate so the
//! reconciliation engine can read it without depending on any HTTP client.

use chrono::{NaiveDate, NaiveDateTime};
use serde::Serialize;

use crate::{AuthCode, Currency, Kurus, MaskedPan, ProviderRef};

/// What kind of transaction a report row is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TransactionKind {
    /// A sale.
    Sale,
    /// A pre-authorisation: an amount blocked on the card, not money received.
    PreAuth,
    /// The capture of a pre-authorisation: the money received, all of the block or part.
    Capture,
    /// The release of a pre-authorisation: the block freed, nothing charged.
    Release,
    /// A cancel (void) of a sale.
    Cancel,
    /// A full refund.
    Refund,
    /// A partial refund.
    PartialRefund,
    /// Something else; the provider's text.
    Other(String),
}

impl TransactionKind {
    /// Whether the row moves money: a pre-authorisation only blocks an amount and its
    /// release frees it, so neither is money received or paid back.
    pub fn moves_money(&self) -> bool {
        !matches!(self, TransactionKind::PreAuth | TransactionKind::Release)
    }
}

/// The provider's status of a report row.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RowStatus {
    /// Done.
    Success,
    /// Refused.
    Error,
    /// Started, never finished (3D abandoned, not completed).
    New,
    /// Something else; the provider's text.
    Other(String),
}

/// One transaction in the provider's records, normalized across report shapes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReportRow {
    /// The provider's reference of this row.
    pub provider_ref: Option<ProviderRef>,
    /// For a cancel or refund, the sale's reference when the provider gives it apart.
    pub sale_ref: Option<ProviderRef>,
    /// The authorization code.
    pub auth_code: Option<AuthCode>,
    /// Our reference, when the transaction came from us.
    pub client_ref: Option<String>,
    /// Sale, cancel, refund...
    pub kind: TransactionKind,
    /// Success, error, new.
    pub status: RowStatus,
    /// The transaction amount.
    pub amount: Option<Kurus>,
    /// What the cardholder was charged (amount plus surcharge).
    pub authorized_amount: Option<Kurus>,
    /// Installment count.
    pub installments: Option<u8>,
    /// The masked card.
    pub masked_pan: Option<MaskedPan>,
    /// When it happened, Turkish local time.
    pub time: Option<NaiveDateTime>,
    /// When the money reaches the merchant.
    pub value_date: Option<NaiveDate>,
    /// The provider's commission.
    pub commission: Option<Kurus>,
    /// The currency.
    pub currency: Option<Currency>,
    /// Whether it went through 3D Secure.
    pub is_3d: Option<bool>,
}
