//! The simulated bank's memory: merchants, the transaction ledger grouped by order,
//! business days (gün sonu) and the 3D sessions, behind one mutex that no handler holds
//! across an `.await`.
//!
//! Every transaction the bank made is kept, approved or not, including those whose
//! answer the merchant never saw. Only the masked card number is stored.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, Datelike, FixedOffset, NaiveDate};
use rand::distr::{Alphanumeric, SampleString};
use rand::Rng;
use sanalpos_core::{Currency, Kurus, MaskedPan};
use serde::Serialize;

use super::cards::CardFacts;
use super::config::NestpayMerchant;
use crate::day::{self, DayBook};
use crate::shared::{Shared, SimState};

/// The operation of a ledger row (`Type` of the XML API).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum TxType {
    /// A sale.
    Auth,
    /// A pre-authorisation.
    PreAuth,
    /// The capture of a pre-authorisation.
    PostAuth,
    /// The same-day cancel of a transaction.
    Void,
    /// A refund after end of day.
    Credit,
}

impl TxType {
    /// Parses the `Type` field.
    pub fn parse(text: &str) -> Option<TxType> {
        match text {
            "Auth" => Some(TxType::Auth),
            "PreAuth" => Some(TxType::PreAuth),
            "PostAuth" => Some(TxType::PostAuth),
            "Void" => Some(TxType::Void),
            "Credit" => Some(TxType::Credit),
            _ => None,
        }
    }

    /// `CHARGE_TYPE_CD`: `C` for a credit, `S` otherwise.
    pub fn charge_type(self) -> &'static str {
        if self == TxType::Credit {
            "C"
        } else {
            "S"
        }
    }

    /// Auth or PostAuth: money taken from the card.
    pub fn captures(self) -> bool {
        matches!(self, TxType::Auth | TxType::PostAuth)
    }
}

/// The `Response` of a ledger row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum TxStatus {
    /// `Approved`.
    Approved,
    /// `Declined` (issuer decline, or a refund with nothing left).
    Declined,
    /// `Error` (refused by the bank's core).
    Error,
}

/// 3D Secure data of a charge that followed an authentication.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ThreeD {
    /// `mdStatus` of the authentication.
    pub md_status: String,
    /// `xid`.
    pub xid: String,
    /// `eci`.
    pub eci: String,
    /// `cavv`.
    pub cavv: String,
}

/// One ledger row. Serialized as-is by `GET /_sim/merchants/{id}/transactions`.
#[derive(Debug, Clone, Serialize)]
pub struct NestpayTransaction {
    /// Insertion order across all merchants, from 1; orders rows of the same time.
    pub seq: u64,
    /// The merchant's client id.
    pub client_id: String,
    /// The order (`OrderId`) the row belongs to.
    pub order_id: String,
    /// Sale, pre-authorisation, capture, void or credit.
    pub kind: TxType,
    /// Approved, declined or refused.
    pub status: TxStatus,
    /// The amount in kuruş (asked for, charged, captured, voided or refunded).
    pub amount: Kurus,
    /// The currency the request named.
    pub currency: Currency,
    /// Installment count (1 = single payment).
    pub installments: u8,
    /// `AuthCode` (empty when none).
    pub auth_code: String,
    /// `TransId`, unique per row.
    pub trans_id: String,
    /// `HostRefNum` (RRN; empty when none).
    pub host_ref: String,
    /// `ProcReturnCode` (`00`, the ISO code, `99`, or empty).
    pub proc_return_code: String,
    /// `Extra/ERRORCODE` (`CORE-2508`, `ISO8583-51`, `215021`…; empty when approved).
    pub error_code: String,
    /// `ErrMsg`.
    pub err_msg: String,
    /// The masked card, when the row concerns one.
    pub masked_pan: Option<MaskedPan>,
    /// The customer's name as sent (`BillTo/Name`, else `BillTo/Company`); not a secret.
    pub customer: String,
    /// `CARDBRAND`.
    pub card_brand: String,
    /// `CARDISSUER`.
    pub card_issuer: String,
    /// When the bank recorded it (Istanbul time).
    pub created_at: DateTime<FixedOffset>,
    /// The merchant's business day it belongs to.
    pub business_day: NaiveDate,
    /// When it was voided, if it was.
    pub voided_at: Option<DateTime<FixedOffset>>,
    /// For a Void row, the `TransId` it voided.
    pub voids: Option<String>,
    /// 3D data of a 3D charge.
    pub three_d: Option<ThreeD>,
    /// Keyed in on the bank's panel, not sent by the merchant's system.
    pub panel: bool,
}

impl NestpayTransaction {
    /// Approved and not voided.
    pub fn is_live(&self) -> bool {
        self.status == TxStatus::Approved && self.voided_at.is_none()
    }
}

/// A 3D attempt waiting on the bank page. Holds what was decided about the card,
/// never the card number.
#[derive(Debug, Clone)]
pub struct GateSession {
    /// The merchant's `clientid` the form was posted with.
    pub client_id: String,
    /// `oid`.
    pub order_id: String,
    /// `amount`.
    pub amount: Kurus,
    /// `currency`.
    pub currency: Currency,
    /// `taksit` as a count (1 = single); `None` when not a count the merchant allows.
    pub installments: Option<u8>,
    /// Auth or PreAuth.
    pub tran_type: TxType,
    /// `3d`, `3d_pay`, `3d_pay_hosting` or `3d_host`.
    pub store_type: String,
    /// Where success is posted.
    pub ok_url: String,
    /// Where failure is posted.
    pub fail_url: String,
    /// English page when `lang=en`.
    pub english: bool,
    /// The posted fields echoed in the callback (no card number, no CVV, no hash).
    pub echo: Vec<(String, String)>,
    /// The card, unless the bank page asks for it (3d_host).
    pub card: Option<CardFacts>,
}

/// A finished 3D authentication of the `3d` model, waiting for the merchant's
/// 3D Auth (keyed by `md`).
#[derive(Debug, Clone)]
pub struct Authentication {
    /// The merchant's `clientid`; only that merchant's 3D Auth may use it.
    pub client_id: String,
    /// `oid`.
    pub order_id: String,
    /// The authenticated amount.
    pub amount: Kurus,
    /// Its currency.
    pub currency: Currency,
    /// The 3D data the merchant must send back.
    pub three_d: ThreeD,
    /// The facts of the authenticated card (masked number, brand), never its number.
    pub card: CardFacts,
    /// Set once a charge used it.
    pub used: bool,
}

/// Per-merchant state.
#[derive(Debug)]
pub struct MerchantState {
    /// The definition (shared so handlers can use it outside the lock).
    pub config: Arc<NestpayMerchant>,
    /// The last business day closed.
    pub last_closed: Option<NaiveDate>,
    /// The settlement batch number of the open day (`SETTLEID`).
    pub batch: u32,
    /// Ledger indexes of the merchant's rows, in insertion order.
    pub rows: Vec<usize>,
    /// Ledger indexes by order id, in insertion order.
    pub orders: HashMap<String, Vec<usize>>,
    /// Whether fault card 9078 has had its one 503.
    pub fault_503_spent: bool,
}

impl DayBook for MerchantState {
    fn last_closed(&self) -> Option<NaiveDate> {
        self.last_closed
    }

    /// The day's settlement batch closes with it (`SETTLEID` counts up).
    fn close(&mut self, day: NaiveDate) {
        self.last_closed = Some(day);
        self.batch += 1;
    }
}

/// Everything behind the lock.
#[derive(Debug, Default)]
pub struct State {
    /// Merchants by client id.
    pub merchants: HashMap<String, MerchantState>,
    /// The ledger, append-only (rows may be marked voided, never removed).
    pub txs: Vec<NestpayTransaction>,
    by_trans_id: HashMap<String, usize>,
    /// 3D attempts on the bank page, by token.
    pub sessions: HashMap<String, GateSession>,
    /// Finished `3d`-model authentications, by `md`.
    pub authentications: HashMap<String, Authentication>,
    host_seq: u64,
}

impl State {
    /// Adds a merchant or replaces the one with the same client id (keeping its ledger).
    pub fn upsert_merchant(&mut self, config: NestpayMerchant) {
        let config = Arc::new(config);
        match self.merchants.get_mut(&config.client_id) {
            Some(existing) => existing.config = config,
            None => {
                self.merchants.insert(
                    config.client_id.clone(),
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
    pub fn merchant(&self, client_id: &str) -> Option<Arc<NestpayMerchant>> {
        self.merchants.get(client_id).map(|m| Arc::clone(&m.config))
    }

    /// The open business day: the later of today and the day after the last closed.
    pub fn open_day(&self, client_id: &str, today: NaiveDate) -> NaiveDate {
        day::open_day(&self.merchants, client_id, today)
    }

    /// Whether `day` has been closed for the merchant.
    pub fn is_closed(&self, client_id: &str, day: NaiveDate) -> bool {
        day::is_closed(&self.merchants, client_id, day)
    }

    /// The merchant's open batch number (`SETTLEID`).
    pub fn batch(&self, client_id: &str) -> u32 {
        self.merchants.get(client_id).map_or(1, |m| m.batch)
    }

    /// Closes the open day of one merchant (or all), returning what closed; each closed
    /// merchant moves on to its next batch.
    pub fn end_of_day(
        &mut self,
        client_id: Option<&str>,
        today: NaiveDate,
    ) -> Vec<(String, NaiveDate)> {
        day::end_of_day(&mut self.merchants, client_id, today)
    }

    /// A fresh `TransId` like the bank's `24003Vl7F13152`: year, day of year, four
    /// letters and digits, five digits.
    pub fn new_trans_id(&self, now: &DateTime<FixedOffset>) -> String {
        let mut rng = rand::rng();
        loop {
            let candidate = format!(
                "{:02}{:03}{}{:05}",
                now.year() % 100,
                now.ordinal(),
                Alphanumeric.sample_string(&mut rng, 4),
                rng.random_range(0..100_000u32)
            );
            if !self.by_trans_id.contains_key(&candidate) {
                return candidate;
            }
        }
    }

    /// A fresh `HostRefNum`: last digit of the year, day of year, eight-digit sequence.
    pub fn new_host_ref(&mut self, now: &DateTime<FixedOffset>) -> String {
        self.host_seq += 1;
        format!(
            "{}{:03}{:08}",
            now.year() % 10,
            now.ordinal(),
            self.host_seq % 100_000_000
        )
    }

    /// A fresh `AuthCode`: `P` and five digits for a sale, `T` for a pre-authorisation.
    pub fn new_auth_code(kind: TxType) -> String {
        let prefix = if kind == TxType::PreAuth { 'T' } else { 'P' };
        format!("{prefix}{:05}", rand::rng().random_range(0..100_000u32))
    }

    /// Appends a row (its `seq` assigned here) and indexes it.
    pub fn insert(&mut self, mut tx: NestpayTransaction) -> usize {
        let index = self.txs.len();
        tx.seq = index as u64 + 1;
        self.by_trans_id.insert(tx.trans_id.clone(), index);
        if let Some(m) = self.merchants.get_mut(&tx.client_id) {
            m.rows.push(index);
            m.orders.entry(tx.order_id.clone()).or_default().push(index);
        }
        self.txs.push(tx);
        index
    }

    /// The merchant's row with this `TransId`.
    pub fn find_trans_id(&self, client_id: &str, trans_id: &str) -> Option<usize> {
        let index = *self.by_trans_id.get(trans_id)?;
        (self.txs[index].client_id == client_id).then_some(index)
    }

    /// The ledger indexes of a merchant's order, oldest first (empty when unknown).
    pub fn order_rows(&self, client_id: &str, order_id: &str) -> Vec<usize> {
        self.merchants
            .get(client_id)
            .and_then(|m| m.orders.get(order_id))
            .cloned()
            .unwrap_or_default()
    }

    /// Whether the order already has an approved sale or pre-authorisation.
    pub fn order_used(&self, client_id: &str, order_id: &str) -> bool {
        self.order_rows(client_id, order_id).iter().any(|&i| {
            let tx = &self.txs[i];
            matches!(tx.kind, TxType::Auth | TxType::PreAuth) && tx.status == TxStatus::Approved
        })
    }

    /// Every row of a merchant, in insertion order.
    pub fn rows_of(&self, client_id: &str) -> Vec<&NestpayTransaction> {
        self.merchants
            .get(client_id)
            .map(|m| m.rows.iter().map(|&i| &self.txs[i]).collect())
            .unwrap_or_default()
    }
}

/// The NestPay simulator shared by every connection.
pub type Nestpay = Shared<State>;

impl SimState for State {
    type Merchant = NestpayMerchant;

    fn upsert_merchant(&mut self, merchant: NestpayMerchant) {
        State::upsert_merchant(self, merchant);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_batches_and_ids() {
        let mut state = State::default();
        let m = NestpayMerchant::generate();
        let id = m.client_id.clone();
        state.upsert_merchant(m);
        let today = NaiveDate::from_ymd_opt(2026, 10, 5).unwrap();
        assert_eq!(state.open_day(&id, today), today);
        assert_eq!(state.batch(&id), 1);
        assert_eq!(state.end_of_day(None, today), vec![(id.clone(), today)]);
        assert!(state.is_closed(&id, today));
        assert_eq!(state.batch(&id), 2);
        assert_eq!(state.open_day(&id, today), today.succ_opt().unwrap());
        let now = crate::clock::now();
        assert_eq!(state.new_trans_id(&now).len(), 14);
        assert_eq!(state.new_host_ref(&now).len(), 12);
        assert!(State::new_auth_code(TxType::PreAuth).starts_with('T'));
    }
}
