//! The simulated bank's memory: merchants, the ledger grouped by order, business days,
//! 3D sessions on the bank page and finished authentications waiting for
//! `oosResolveMerchantData` / `oosTranData`. One mutex, never held across an `.await`.
//! Only masked card numbers are kept.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, FixedOffset, NaiveDate};
use rand::Rng;
use sanalpos_core::{Currency, Kurus, MaskedPan};
use serde::Serialize;

use super::config::PosnetMerchant;
use crate::day::{self, DayBook};
use crate::shared::{Shared, SimState};

/// What a ledger row is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum TxKind {
    /// `sale` (or `oosTranData` of a `Sale`).
    Sale,
    /// `auth`: pre-authorisation.
    Auth,
    /// `capt`: its capture.
    Capt,
    /// `reverse`: same-day cancel.
    Reverse,
    /// `return`: refund after end of day.
    Return,
}

impl TxKind {
    /// `state` in an `agreement` answer.
    pub fn state(self) -> &'static str {
        match self {
            TxKind::Sale => "Sale",
            TxKind::Auth => "Auth",
            TxKind::Capt => "Capt",
            TxKind::Reverse => "Reverse",
            TxKind::Return => "Return",
        }
    }
}

/// One ledger row, serialized as-is by `/_sim/merchants/{tid}/transactions`.
#[derive(Debug, Clone, Serialize)]
pub struct PosnetTransaction {
    /// Insertion order, from 1.
    pub seq: u64,
    /// The merchant's `tid`.
    pub tid: String,
    /// `orderID` (24 characters; `TDSC` + XID for a 3D sale).
    pub order_id: String,
    /// The operation.
    pub kind: TxKind,
    /// Whether it went through.
    pub approved: bool,
    /// Amount in kuruş.
    pub amount: Kurus,
    /// Currency.
    pub currency: Currency,
    /// Installment count (1 = single payment).
    pub installments: u8,
    /// `authCode` (empty when none).
    pub auth_code: String,
    /// `hostlogkey`, unique per row.
    pub host_log_key: String,
    /// `respCode` (empty when approved).
    pub resp_code: String,
    /// `respText`.
    pub resp_text: String,
    /// The masked card, when the row concerns one.
    pub masked_pan: Option<MaskedPan>,
    /// When the bank recorded it.
    pub created_at: DateTime<FixedOffset>,
    /// Its business day.
    pub business_day: NaiveDate,
    /// Whether it was reversed (cancelled) since.
    pub reversed: bool,
    /// For capt, reverse and return: the `hostlogkey` it refers to.
    pub original: Option<String>,
    /// Made through 3D.
    pub three_d: bool,
}

/// What the simulator keeps of a card after the request: masked, and what the issuer
/// and the fault table will do with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CardFacts {
    /// First six and last four digits.
    pub masked: MaskedPan,
    /// Approve, or decline with an ISO code.
    pub outcome: crate::cards::Outcome,
    /// The fault card's transport misbehaviour.
    pub fault: Option<crate::cards::Fault>,
}

/// A 3D order from `oosRequestData`: on the bank page, then authenticated.
#[derive(Debug, Clone)]
pub struct Session {
    /// The merchant.
    pub tid: String,
    /// `XID`.
    pub xid: String,
    /// Amount.
    pub amount: Kurus,
    /// Currency.
    pub currency: Currency,
    /// Installments.
    pub installments: u8,
    /// `Sale` or `Auth`.
    pub kind: TxKind,
    /// The card.
    pub card: CardFacts,
    /// `data2` and `sign` the page form must repeat.
    pub data2: String,
    /// `sign` / `digest`.
    pub sign: String,
    /// Where the bank page posts the callback (`merchantReturnURL` of the page form).
    pub return_url: String,
    /// After the page: `mdStatus`, and the packets of the callback.
    pub md_status: Option<&'static str>,
    /// `MerchantPacket` of the callback.
    pub merchant_packet: String,
    /// `Sign` of the callback.
    pub callback_sign: String,
    /// The `hostlogkey` of the charge, once `oosTranData` made it.
    pub charged: Option<String>,
}

/// A merchant's own state.
#[derive(Debug)]
pub struct MerchantState {
    /// The definition.
    pub config: Arc<PosnetMerchant>,
    /// The last business day closed.
    pub last_closed: Option<NaiveDate>,
    /// Ledger indexes, in order.
    pub rows: Vec<usize>,
    /// Ledger indexes by order id.
    pub orders: HashMap<String, Vec<usize>>,
    /// Whether fault card 9078 has had its 503.
    pub fault_503_spent: bool,
}

impl DayBook for MerchantState {
    fn last_closed(&self) -> Option<NaiveDate> {
        self.last_closed
    }

    fn close(&mut self, day: NaiveDate) {
        self.last_closed = Some(day);
    }
}

/// Everything the simulated bank remembers.
#[derive(Debug, Default)]
pub struct State {
    /// Merchants by `tid`.
    pub merchants: HashMap<String, MerchantState>,
    /// The ledger, append-only.
    pub txs: Vec<PosnetTransaction>,
    by_host_log_key: HashMap<String, usize>,
    /// 3D sessions by `data1` until the page, then by `BankPacket`.
    pub sessions: HashMap<String, Session>,
}

impl State {
    /// Adds a merchant or replaces its definition (keeping its ledger).
    pub fn upsert_merchant(&mut self, config: PosnetMerchant) {
        let config = Arc::new(config);
        match self.merchants.get_mut(&config.tid) {
            Some(existing) => existing.config = config,
            None => {
                self.merchants.insert(
                    config.tid.clone(),
                    MerchantState {
                        config,
                        last_closed: None,
                        rows: Vec::new(),
                        orders: HashMap::new(),
                        fault_503_spent: false,
                    },
                );
            }
        }
    }

    /// A merchant's definition.
    pub fn merchant(&self, tid: &str) -> Option<Arc<PosnetMerchant>> {
        self.merchants.get(tid).map(|m| Arc::clone(&m.config))
    }

    /// The merchant's open business day.
    pub fn open_day(&self, tid: &str, today: NaiveDate) -> NaiveDate {
        day::open_day(&self.merchants, tid, today)
    }

    /// Whether `day` is closed for the merchant.
    pub fn is_closed(&self, tid: &str, day: NaiveDate) -> bool {
        day::is_closed(&self.merchants, tid, day)
    }

    /// Closes the open day of one merchant or all.
    pub fn end_of_day(&mut self, tid: Option<&str>, today: NaiveDate) -> Vec<(String, NaiveDate)> {
        day::end_of_day(&mut self.merchants, tid, today)
    }

    /// A new 18-digit `hostlogkey`.
    pub fn new_host_log_key(&self) -> String {
        let mut rng = rand::rng();
        loop {
            let key = format!("{:018}", rng.random_range(0..1_000_000_000_000_000_000u64));
            if !self.by_host_log_key.contains_key(&key) {
                return key;
            }
        }
    }

    /// A new 6-digit `authCode`.
    pub fn new_auth_code() -> String {
        format!("{:06}", rand::rng().random_range(100_000..1_000_000u32))
    }

    /// Appends a row and returns its index.
    pub fn insert(&mut self, mut tx: PosnetTransaction) -> usize {
        let index = self.txs.len();
        tx.seq = index as u64 + 1;
        if !tx.host_log_key.is_empty() {
            self.by_host_log_key.insert(tx.host_log_key.clone(), index);
        }
        if let Some(m) = self.merchants.get_mut(&tx.tid) {
            m.rows.push(index);
            m.orders.entry(tx.order_id.clone()).or_default().push(index);
        }
        self.txs.push(tx);
        index
    }

    /// A merchant's row by `hostlogkey`.
    pub fn by_key(&self, tid: &str, key: &str) -> Option<usize> {
        self.by_host_log_key
            .get(key)
            .copied()
            .filter(|&i| self.txs[i].tid == tid)
    }

    /// A merchant's rows of an order, in order.
    pub fn order_rows(&self, tid: &str, order_id: &str) -> Vec<usize> {
        self.merchants
            .get(tid)
            .and_then(|m| m.orders.get(order_id))
            .cloned()
            .unwrap_or_default()
    }

    /// Every row of a merchant.
    pub fn rows_of(&self, tid: &str) -> Vec<&PosnetTransaction> {
        self.merchants
            .get(tid)
            .map(|m| m.rows.iter().map(|&i| &self.txs[i]).collect())
            .unwrap_or_default()
    }
}

/// The simulator's shared state.
pub type Posnet = Shared<State>;

impl SimState for State {
    type Merchant = PosnetMerchant;

    fn upsert_merchant(&mut self, merchant: PosnetMerchant) {
        State::upsert_merchant(self, merchant);
    }
}
