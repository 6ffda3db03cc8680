//! The simulated bank's memory: merchants, the transaction ledger grouped by order,
//! business days (gün sonu), 3D sessions and finished authentications, behind one mutex
//! that no handler holds across an `.await`.
//!
//! Every transaction the bank made is kept, approved or not, including those whose
//! answer the merchant never saw. Only the masked card number is stored.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, Datelike, FixedOffset, NaiveDate};
use rand::Rng;
use sanalpos_core::{Currency, Kurus, MaskedPan};
use serde::Serialize;

use super::config::GarantiMerchant;
use crate::day::{self, DayBook};
use crate::shared::{Shared, SimState};

/// The `Type` of a ledger row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum TxType {
    /// `sales`.
    Sales,
    /// `preauth`.
    PreAuth,
    /// `postauth`: the capture of a pre-authorisation.
    PostAuth,
    /// `void`: same-day cancel.
    Void,
    /// `refund`: after end of day.
    Refund,
}

impl TxType {
    /// The wire name.
    pub fn wire(self) -> &'static str {
        match self {
            TxType::Sales => "sales",
            TxType::PreAuth => "preauth",
            TxType::PostAuth => "postauth",
            TxType::Void => "void",
            TxType::Refund => "refund",
        }
    }

    /// `TrxType` of `orderlistinq`.
    pub fn list_name(self) -> &'static str {
        match self {
            TxType::Sales => "Satis",
            TxType::PreAuth => "On Otorizasyon",
            TxType::PostAuth => "On Otorizasyon Kapama",
            TxType::Void => "Iptal",
            TxType::Refund => "Iade",
        }
    }

    /// Sales or postauth: money taken from the card.
    pub fn captures(self) -> bool {
        matches!(self, TxType::Sales | TxType::PostAuth)
    }
}

/// One ledger row. Serialized as-is by `GET /_sim/merchants/{terminal}/transactions`.
#[derive(Debug, Clone, Serialize)]
pub struct GarantiTransaction {
    /// Insertion order across all merchants, from 1.
    pub seq: u64,
    /// The merchant's terminal id.
    pub terminal_id: String,
    /// `OrderID`.
    pub order_id: String,
    /// The operation.
    pub kind: TxType,
    /// Whether it went through (`Code` 00).
    pub approved: bool,
    /// The amount in kuruş (charged, captured, refunded; the sale's for a void).
    pub amount: Kurus,
    /// The currency.
    pub currency: Currency,
    /// Installment count (1 = single payment).
    pub installments: u8,
    /// `AuthCode` (empty when none).
    pub auth_code: String,
    /// `RetrefNum`, unique per row.
    pub retref: String,
    /// `Response/Code` (`00`, an ISO code, `92`).
    pub code: String,
    /// `Response/ReasonCode`.
    pub reason_code: String,
    /// `ErrorMsg`.
    pub error_msg: String,
    /// `SysErrMsg`.
    pub sys_err_msg: String,
    /// The masked card, when the row concerns one.
    pub masked_pan: Option<MaskedPan>,
    /// When the bank recorded it (Istanbul time).
    pub created_at: DateTime<FixedOffset>,
    /// The business day it belongs to.
    pub business_day: NaiveDate,
    /// When it was voided, if it was.
    pub voided_at: Option<DateTime<FixedOffset>>,
    /// For postauth, void and refund: the `RetrefNum` it refers to.
    pub original_retref: Option<String>,
    /// Made after a 3D authentication.
    pub three_d: bool,
    /// Keyed in on the bank's panel, not sent by the merchant's system.
    pub panel: bool,
}

impl GarantiTransaction {
    /// Approved and not voided.
    pub fn is_live(&self) -> bool {
        self.approved && self.voided_at.is_none()
    }
}

/// What the simulator keeps of a card after the request that carried it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CardFacts {
    /// First six and last four digits.
    pub masked: MaskedPan,
    /// What the issuer will say: approve, or decline with an ISO code (a Luhn failure
    /// 14, an expired card 54, a magic card its own code).
    pub outcome: crate::cards::Outcome,
    /// The transport fault a fault card asks for.
    pub fault: Option<crate::cards::Fault>,
}

impl CardFacts {
    /// Judges a card number expiring at `expiry` (`(year, month)`) against `now`; the
    /// number itself is not kept. `None` when the text is not 12 to 19 digits.
    pub fn judge(pan: &str, expiry: (u16, u8), now: (u16, u8)) -> Option<CardFacts> {
        if !pan.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        Some(CardFacts {
            masked: MaskedPan::parse(&mask_any(pan))?,
            outcome: crate::cards::decide(pan, expiry, now),
            fault: crate::cards::fault(pan),
        })
    }
}

/// First six, stars, last four of any 12–19 digit text (a number failing Luhn too).
fn mask_any(pan: &str) -> String {
    if pan.len() < 12 {
        return String::new();
    }
    format!(
        "{}{}{}",
        &pan[..6],
        "*".repeat(pan.len() - 10),
        &pan[pan.len() - 4..]
    )
}

/// A 3D attempt waiting on the bank page: what was decided about the card, never the
/// card number.
#[derive(Debug, Clone)]
pub struct GateSession {
    /// The merchant's terminal.
    pub terminal_id: String,
    /// `orderid`.
    pub order_id: String,
    /// `txnamount`.
    pub amount: Kurus,
    /// `txncurrencycode`.
    pub currency: Currency,
    /// Installment count.
    pub installments: u8,
    /// `sales` or `preauth`.
    pub kind: TxType,
    /// `3D` or `3D_PAY`.
    pub level: String,
    /// Whether the form was signed with the 512 hashes.
    pub version_512: bool,
    /// Where success is posted.
    pub success_url: String,
    /// Where failure is posted.
    pub error_url: String,
    /// The posted fields echoed in the callback (no card fields).
    pub echo: Vec<(String, String)>,
    /// The card.
    pub card: CardFacts,
    /// The mdstatus the card forces, if it is an mdstatus card.
    pub forced_md_status: Option<&'static str>,
}

/// A finished `3D` authentication waiting for the merchant's provision (keyed by `md`).
#[derive(Debug, Clone)]
pub struct Authentication {
    /// Only this terminal's provision may use it.
    pub terminal_id: String,
    /// `orderid`.
    pub order_id: String,
    /// The authenticated amount.
    pub amount: Kurus,
    /// Its currency.
    pub currency: Currency,
    /// `cavv`, `eci`, `xid` the provision must send back.
    pub cavv: String,
    /// `eci`.
    pub eci: String,
    /// `xid`.
    pub xid: String,
    /// The card's facts.
    pub card: CardFacts,
    /// Set once a provision used it.
    pub used: bool,
}

/// Per-merchant state.
#[derive(Debug)]
pub struct MerchantState {
    /// The definition.
    pub config: Arc<GarantiMerchant>,
    /// The last business day closed.
    pub last_closed: Option<NaiveDate>,
    /// The open batch (`BatchNum`).
    pub batch: u32,
    /// Ledger indexes of the merchant's rows, in insertion order.
    pub rows: Vec<usize>,
    /// Ledger indexes by order id.
    pub orders: HashMap<String, Vec<usize>>,
    /// Whether fault card 9078 has had its one 503.
    pub fault_503_spent: bool,
}

impl DayBook for MerchantState {
    fn last_closed(&self) -> Option<NaiveDate> {
        self.last_closed
    }

    fn close(&mut self, day: NaiveDate) {
        self.last_closed = Some(day);
        self.batch += 1;
    }
}

/// Everything behind the lock.
#[derive(Debug, Default)]
pub struct State {
    /// Merchants by terminal id.
    pub merchants: HashMap<String, MerchantState>,
    /// The ledger, append-only (rows may be marked voided, never removed).
    pub txs: Vec<GarantiTransaction>,
    by_retref: HashMap<String, usize>,
    /// 3D attempts on the bank page, by token.
    pub sessions: HashMap<String, GateSession>,
    /// Finished `3D` authentications, by `md`.
    pub authentications: HashMap<String, Authentication>,
    retref_seq: u64,
}

impl State {
    /// Adds a merchant or replaces the one with the same terminal (keeping its ledger).
    pub fn upsert_merchant(&mut self, config: GarantiMerchant) {
        let config = Arc::new(config);
        match self.merchants.get_mut(&config.terminal_id) {
            Some(existing) => existing.config = config,
            None => {
                self.merchants.insert(
                    config.terminal_id.clone(),
                    MerchantState {
                        config,
                        last_closed: None,
                        batch: 1,
                        rows: Vec::new(),
                        orders: HashMap::new(),
                        fault_503_spent: false,
                    },
                );
            }
        }
    }

    /// The merchant's definition.
    pub fn merchant(&self, terminal_id: &str) -> Option<Arc<GarantiMerchant>> {
        self.merchants
            .get(terminal_id)
            .map(|m| Arc::clone(&m.config))
    }

    /// The open business day.
    pub fn open_day(&self, terminal_id: &str, today: NaiveDate) -> NaiveDate {
        day::open_day(&self.merchants, terminal_id, today)
    }

    /// Whether `day` has been closed for the merchant.
    pub fn is_closed(&self, terminal_id: &str, day: NaiveDate) -> bool {
        day::is_closed(&self.merchants, terminal_id, day)
    }

    /// The merchant's open batch number.
    pub fn batch(&self, terminal_id: &str) -> u32 {
        self.merchants.get(terminal_id).map_or(1, |m| m.batch)
    }

    /// Closes the open day of one merchant (or all), returning what closed.
    pub fn end_of_day(
        &mut self,
        terminal_id: Option<&str>,
        today: NaiveDate,
    ) -> Vec<(String, NaiveDate)> {
        day::end_of_day(&mut self.merchants, terminal_id, today)
    }

    /// A fresh `RetrefNum` like the bank's `230508300434`: last two digits of the year,
    /// day of year, seven digits.
    pub fn new_retref(&mut self, now: &DateTime<FixedOffset>) -> String {
        self.retref_seq += 1;
        format!(
            "{:02}{:03}{:07}",
            now.year() % 100,
            now.ordinal(),
            (self.retref_seq * 7919 + 300_000) % 10_000_000
        )
    }

    /// A fresh six-digit `AuthCode`.
    pub fn new_auth_code() -> String {
        format!("{:06}", rand::rng().random_range(100_000..1_000_000u32))
    }

    /// Appends a row (its `seq` assigned here) and indexes it.
    pub fn insert(&mut self, mut tx: GarantiTransaction) -> usize {
        let index = self.txs.len();
        tx.seq = index as u64 + 1;
        self.by_retref.insert(tx.retref.clone(), index);
        if let Some(m) = self.merchants.get_mut(&tx.terminal_id) {
            m.rows.push(index);
            m.orders.entry(tx.order_id.clone()).or_default().push(index);
        }
        self.txs.push(tx);
        index
    }

    /// The merchant's row with this `RetrefNum`.
    pub fn find_retref(&self, terminal_id: &str, retref: &str) -> Option<usize> {
        let index = *self.by_retref.get(retref)?;
        (self.txs[index].terminal_id == terminal_id).then_some(index)
    }

    /// The ledger indexes of a merchant's order, oldest first.
    pub fn order_rows(&self, terminal_id: &str, order_id: &str) -> Vec<usize> {
        self.merchants
            .get(terminal_id)
            .and_then(|m| m.orders.get(order_id))
            .cloned()
            .unwrap_or_default()
    }

    /// Whether the order already has an approved sale or pre-authorisation.
    pub fn order_used(&self, terminal_id: &str, order_id: &str) -> bool {
        self.order_rows(terminal_id, order_id).iter().any(|&i| {
            let tx = &self.txs[i];
            matches!(tx.kind, TxType::Sales | TxType::PreAuth) && tx.approved
        })
    }

    /// Every row of a merchant, in insertion order.
    pub fn rows_of(&self, terminal_id: &str) -> Vec<&GarantiTransaction> {
        self.merchants
            .get(terminal_id)
            .map(|m| m.rows.iter().map(|&i| &self.txs[i]).collect())
            .unwrap_or_default()
    }
}

/// The Garanti simulator shared by every connection.
pub type Garanti = Shared<State>;

impl SimState for State {
    type Merchant = GarantiMerchant;

    fn upsert_merchant(&mut self, merchant: GarantiMerchant) {
        State::upsert_merchant(self, merchant);
    }
}
