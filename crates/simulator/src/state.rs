//! The simulator's memory: merchants, the transaction ledger, business days and pending
//! 3D sessions, behind one mutex that no handler holds across an `.await`.
//!
//! The ledger keeps every transaction the simulated provider made, approved or not,
//! including those whose answer the caller never saw. It stores the masked PAN only.
//! Transactions are indexed by provider reference and, per merchant, by client
//! reference, so status inquiries stay cheap under load.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use chrono::{DateTime, FixedOffset, NaiveDate};
use rand::Rng;
use sanalpos_core::{Currency, Kurus, MaskedPan};
use serde::Serialize;

use crate::cards::Outcome;
use crate::config::MerchantConfig;
use crate::day::{self, DayBook};
use crate::shared::{Shared, SimState};
use crate::vault::{NewCard, Vault};

/// What a ledger row is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum TxKind {
    /// A sale.
    #[serde(rename = "SALES")]
    Sales,
    /// A pre-authorisation.
    #[serde(rename = "PRESALES")]
    PreSales,
    /// The same-day cancel (iptal) of a sale.
    #[serde(rename = "CANCEL")]
    Cancel,
    /// A refund (iade) made with `type=refund`.
    #[serde(rename = "REFUND")]
    Refund,
    /// A partial refund made with `type=refundp`.
    #[serde(rename = "refundp")]
    RefundP,
    /// The capture of a pre-authorisation (`PreAuthorizationAprove`): the money the
    /// card is charged, at most the blocked amount. Its name is the simulator's choice.
    #[serde(rename = "PRESALES_APPROVE")]
    PreSalesCapture,
    /// The release of a pre-authorisation (`PreAuthorizationCancel`): the block is
    /// freed, nothing is charged. Its name is the simulator's choice.
    #[serde(rename = "PRESALES_CANCEL")]
    PreSalesRelease,
}

impl TxKind {
    /// The report's `TRANSACTION_TYPE`.
    pub fn wire(self) -> &'static str {
        match self {
            TxKind::Sales => "SALES",
            TxKind::PreSales => "PRESALES",
            TxKind::Cancel => "CANCEL",
            TxKind::Refund => "REFUND",
            TxKind::RefundP => "refundp",
            TxKind::PreSalesCapture => "PRESALES_APPROVE",
            TxKind::PreSalesRelease => "PRESALES_CANCEL",
        }
    }

    /// A sale or pre-authorisation (what the payment endpoint records).
    pub fn is_sale(self) -> bool {
        matches!(self, TxKind::Sales | TxKind::PreSales)
    }

    /// A row whose money reaches the merchant: a sale or the capture of a
    /// pre-authorisation. Only these can be cancelled or refunded.
    pub fn is_charge(self) -> bool {
        matches!(self, TxKind::Sales | TxKind::PreSalesCapture)
    }

    /// Whether the row moves money (a block and its release move none, so a bank's
    /// statement leaves them out).
    pub fn moves_money(self) -> bool {
        !matches!(self, TxKind::PreSales | TxKind::PreSalesRelease)
    }
}

/// The report's `STATUS`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum TxStatus {
    /// Done: charged (sale) or executed (cancel/refund).
    Success,
    /// Declined or failed; nothing charged.
    Error,
    /// Started and not finished: 3D pending or pre-approved awaiting CompletePayment.
    New,
}

impl TxStatus {
    /// The report's `STATUS` text.
    pub fn wire(self) -> &'static str {
        match self {
            TxStatus::Success => "SUCCESS",
            TxStatus::Error => "ERROR",
            TxStatus::New => "NEW",
        }
    }
}

/// One ledger row. Serialized as-is by `GET /_sim/merchants/{no}/transactions`.
#[derive(Debug, Clone, Serialize)]
pub struct Transaction {
    /// Insertion order, the tie-breaker of report ordering.
    pub seq: u64,
    /// The merchant it belongs to.
    pub merchant_no: String,
    /// The provider's reference of this row (`IKSIRPF…`).
    pub reference_code: String,
    /// For a cancel or refund row, the sale's reference.
    pub sale_reference_code: Option<String>,
    /// The merchant's `clientRefCode` (empty for panel sales without one).
    pub client_ref: String,
    /// Sale, cancel, refund…
    pub kind: TxKind,
    /// SUCCESS / ERROR / NEW.
    pub status: TxStatus,
    /// The bank's authorization code; empty when none was given.
    pub auth_code: String,
    /// The amount the merchant asked for (`TRANSACTION_AMOUNT`), or the cancelled /
    /// refunded amount of a cancel or refund row.
    pub amount: Kurus,
    /// What the card is charged (`AUTHORIZATION_AMOUNT`): amount plus surcharge.
    pub authorization_amount: Kurus,
    /// The cardholder's installment surcharge (`MERCHANT_COMMISSION_AMOUNT`).
    pub surcharge: Kurus,
    /// What the provider keeps (`COMMISION`).
    pub commission: Kurus,
    /// The commission rate in basis points.
    pub commission_rate_bp: u32,
    /// The surcharge rate in basis points.
    pub surcharge_rate_bp: u32,
    /// Installment count (1 = single payment).
    pub installments: u8,
    /// The currency the request named; the amounts above are in it.
    pub currency: Currency,
    /// First six and last four digits only.
    pub masked_pan: MaskedPan,
    /// The cardholder name as sent.
    pub card_holder: String,
    /// Issuer EFT code (empty when the BIN is unknown).
    pub card_bank_code: String,
    /// Issuer name (empty when the BIN is unknown).
    pub card_bank_name: String,
    /// Card program code (empty when the BIN is unknown).
    pub program: String,
    /// Whether the sale went through 3D Secure.
    pub is_3d: bool,
    /// The merchant's description.
    pub description: String,
    /// Bank response code: `00` approved, the decline code, or empty.
    pub bank_code: String,
    /// The bank's raw result text.
    pub bank_result: String,
    /// When the provider recorded it (Istanbul time).
    pub created_at: DateTime<FixedOffset>,
    /// The merchant's business day it belongs to.
    pub business_day: NaiveDate,
    /// When the money is paid out.
    pub valor_date: NaiveDate,
    /// Keyed in on the provider's panel rather than sent by the merchant's system.
    pub panel: bool,
    /// A 3D sale authenticated and approved while AutoComplete is off: it carries an
    /// auth code but stays NEW until CompletePayment.
    pub pre_approved: bool,
    /// For a sale: whether it was cancelled.
    pub cancelled: bool,
    /// For a sale: the total refunded (iade) so far.
    pub returned_amount: Kurus,
}

/// Which of a merchant's three tokens an `sx` value is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SxKind {
    /// `sx`: payments.
    Sales,
    /// `sx_list`: reports.
    List,
    /// `sx_cancel`: cancel and refund.
    Cancel,
}

/// A 3D authentication waiting for the cardholder on the ACS page. Holds the outcome
/// decided when the payment arrived; the card number only when the sale asked for the
/// card to be kept.
#[derive(Debug, Clone)]
pub struct AcsSession {
    /// The merchant number whose sale waits; its ledger holds the row.
    pub merchant_no: String,
    /// Index of the sale row in the ledger.
    pub tx_index: usize,
    /// What the bank will say once authenticated.
    pub outcome: Outcome,
    /// The card's own published 3D password, besides the universal code.
    pub card_password: Option<&'static str>,
    /// Where an approval is posted.
    pub success_url: String,
    /// Where a decline, failure or cancel is posted.
    pub fail_url: String,
    /// The card to keep in the vault for this customer key once the bank approves
    /// (`csAutoSave=true`): the one time a session holds a card number, as the provider
    /// must until it knows whether to store it. Its `Debug` shows the masked number.
    pub save_card: Option<(String, NewCard)>,
}

/// Per-merchant state.
#[derive(Debug)]
pub struct MerchantState {
    /// The configuration (shared so handlers can use it outside the lock).
    pub config: Arc<MerchantConfig>,
    /// The last business day closed by end-of-day.
    pub last_closed: Option<NaiveDate>,
    /// Ledger indexes of this merchant's rows, in insertion order.
    pub rows: Vec<usize>,
    /// Ledger indexes by client reference.
    pub by_client_ref: HashMap<String, Vec<usize>>,
    /// Whether fault card 9078 has had its one 503.
    pub fault_503_spent: bool,
    /// The cards this merchant's customers keep at the provider.
    pub vault: Vault,
}

impl DayBook for MerchantState {
    fn last_closed(&self) -> Option<NaiveDate> {
        self.last_closed
    }

    fn close(&mut self, day: NaiveDate) {
        self.last_closed = Some(day);
    }
}

/// Everything behind the lock.
#[derive(Debug, Default)]
pub struct State {
    /// Merchants by number.
    pub merchants: HashMap<String, MerchantState>,
    by_sx: HashMap<String, (SxKind, String)>,
    /// The ledger, append-only (rows change status, never disappear).
    pub txs: Vec<Transaction>,
    by_ref: HashMap<String, usize>,
    /// Pending 3D sessions by token.
    pub sessions: HashMap<String, AcsSession>,
    used_auth: HashSet<String>,
}

impl State {
    /// Adds a merchant or replaces the one with the same number (keeping its ledger).
    pub fn upsert_merchant(&mut self, config: MerchantConfig) {
        let no = config.merchant_no.clone();
        self.by_sx.retain(|_, (_, owner)| *owner != no);
        for (token, kind) in [
            (&config.sx, SxKind::Sales),
            (&config.sx_list, SxKind::List),
            (&config.sx_cancel, SxKind::Cancel),
        ] {
            self.by_sx.insert(token.clone(), (kind, no.clone()));
        }
        let config = Arc::new(config);
        match self.merchants.get_mut(&no) {
            Some(existing) => existing.config = config,
            None => {
                self.merchants.insert(
                    no,
                    MerchantState {
                        config,
                        last_closed: None,
                        rows: Vec::new(),
                        by_client_ref: HashMap::new(),
                        fault_503_spent: false,
                        vault: Vault::default(),
                    },
                );
            }
        }
    }

    /// The merchant whose `kind` token is `sx`; a token of another kind does not match.
    pub fn merchant_by_sx(&self, sx: &str, kind: SxKind) -> Option<Arc<MerchantConfig>> {
        let (found, no) = self.by_sx.get(sx)?;
        if *found != kind {
            return None;
        }
        self.merchants.get(no).map(|m| Arc::clone(&m.config))
    }

    /// The merchant's open business day: the later of today and the day after the last
    /// closed one.
    pub fn open_day(&self, merchant_no: &str, today: NaiveDate) -> NaiveDate {
        day::open_day(&self.merchants, merchant_no, today)
    }

    /// Whether `day` has been closed for the merchant.
    pub fn is_closed(&self, merchant_no: &str, day: NaiveDate) -> bool {
        day::is_closed(&self.merchants, merchant_no, day)
    }

    /// Closes the open day of one merchant (or all), returning what was closed.
    pub fn end_of_day(
        &mut self,
        merchant_no: Option<&str>,
        today: NaiveDate,
    ) -> Vec<(String, NaiveDate)> {
        day::end_of_day(&mut self.merchants, merchant_no, today)
    }

    /// A fresh provider reference: `IKSIRPF` and ten digits, unique in the ledger.
    pub fn new_reference(&self) -> String {
        let mut rng = rand::rng();
        loop {
            let candidate = format!("IKSIRPF{:010}", rng.random_range(0..10_000_000_000u64));
            if !self.by_ref.contains_key(&candidate) {
                return candidate;
            }
        }
    }

    /// A fresh six-digit authorization code.
    pub fn new_auth_code(&mut self) -> String {
        let mut rng = rand::rng();
        loop {
            let code = format!("{:06}", rng.random_range(1..1_000_000u32));
            if self.used_auth.len() > 500_000 {
                self.used_auth.clear();
            }
            if self.used_auth.insert(code.clone()) {
                return code;
            }
        }
    }

    /// Appends a row (its `seq` is assigned here) and indexes it.
    pub fn insert(&mut self, mut tx: Transaction) -> usize {
        let index = self.txs.len();
        tx.seq = index as u64 + 1;
        self.by_ref.insert(tx.reference_code.clone(), index);
        if let Some(m) = self.merchants.get_mut(&tx.merchant_no) {
            m.rows.push(index);
            if !tx.client_ref.is_empty() {
                m.by_client_ref
                    .entry(tx.client_ref.clone())
                    .or_default()
                    .push(index);
            }
        }
        self.txs.push(tx);
        index
    }

    /// The index of the merchant's row with this provider reference.
    pub fn find_ref(&self, merchant_no: &str, reference: &str) -> Option<usize> {
        let index = *self.by_ref.get(reference)?;
        (self.txs[index].merchant_no == merchant_no).then_some(index)
    }

    /// The capture or release row of the pre-authorisation at `index`, if it has one:
    /// a pre-authorisation is closed by the first of them, for good.
    pub fn pre_auth_follow_up(&self, index: usize) -> Option<usize> {
        let pre_auth = &self.txs[index];
        let m = self.merchants.get(&pre_auth.merchant_no)?;
        let candidates: &[usize] = if pre_auth.client_ref.is_empty() {
            &m.rows
        } else {
            m.by_client_ref
                .get(&pre_auth.client_ref)
                .map(Vec::as_slice)
                .unwrap_or(&[])
        };
        candidates.iter().copied().find(|&i| {
            let tx = &self.txs[i];
            matches!(tx.kind, TxKind::PreSalesCapture | TxKind::PreSalesRelease)
                && tx.sale_reference_code.as_deref() == Some(pre_auth.reference_code.as_str())
        })
    }

    /// The merchant's rows recorded on Istanbul dates `from..=to`, optionally only
    /// those with a client reference, in time order then reference order.
    pub fn rows_between(
        &self,
        merchant_no: &str,
        from: NaiveDate,
        to: NaiveDate,
        client_ref: Option<&str>,
    ) -> Vec<&Transaction> {
        let Some(m) = self.merchants.get(merchant_no) else {
            return Vec::new();
        };
        let indexes: &[usize] = match client_ref {
            Some(cr) => m.by_client_ref.get(cr).map(Vec::as_slice).unwrap_or(&[]),
            None => &m.rows,
        };
        let mut rows: Vec<&Transaction> = indexes
            .iter()
            .map(|&i| &self.txs[i])
            .filter(|t| {
                let day = t.created_at.date_naive();
                from <= day && day <= to
            })
            .collect();
        rows.sort_by(|a, b| {
            a.created_at
                .cmp(&b.created_at)
                .then_with(|| a.reference_code.cmp(&b.reference_code))
        });
        rows
    }

    /// Every row of a merchant, in insertion order.
    pub fn rows_of(&self, merchant_no: &str) -> Vec<&Transaction> {
        self.merchants
            .get(merchant_no)
            .map(|m| m.rows.iter().map(|&i| &self.txs[i]).collect())
            .unwrap_or_default()
    }
}

/// The N Kolay simulator shared by every connection.
pub type Sim = Shared<State>;

impl SimState for State {
    type Merchant = MerchantConfig;

    fn upsert_merchant(&mut self, merchant: MerchantConfig) {
        State::upsert_merchant(self, merchant);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn business_day_moves_past_closed_days() {
        let mut state = State::default();
        let m = MerchantConfig::generate();
        let no = m.merchant_no.clone();
        state.upsert_merchant(m);
        let today = NaiveDate::from_ymd_opt(2026, 10, 5).unwrap();
        assert_eq!(state.open_day(&no, today), today);
        let closed = state.end_of_day(None, today);
        assert_eq!(closed, vec![(no.clone(), today)]);
        assert!(state.is_closed(&no, today));
        let tomorrow = NaiveDate::from_ymd_opt(2026, 10, 6).unwrap();
        assert_eq!(state.open_day(&no, today), tomorrow);
        state.end_of_day(Some(&no), today);
        assert_eq!(
            state.open_day(&no, today),
            NaiveDate::from_ymd_opt(2026, 10, 7).unwrap()
        );
        assert!(state.end_of_day(Some("nobody"), today).is_empty());
    }

    #[test]
    fn sx_kinds_do_not_mix() {
        let mut state = State::default();
        let m = MerchantConfig::generate();
        state.upsert_merchant(m.clone());
        assert!(state.merchant_by_sx(&m.sx, SxKind::Sales).is_some());
        assert!(state.merchant_by_sx(&m.sx, SxKind::List).is_none());
        assert!(state.merchant_by_sx(&m.sx_list, SxKind::List).is_some());
        assert!(state.merchant_by_sx(&m.sx_cancel, SxKind::Sales).is_none());
        let r = state.new_reference();
        assert!(r.starts_with("IKSIRPF") && r.len() == 17);
    }
}
