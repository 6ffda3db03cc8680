//! The bank POS of the crash soak: each bank protocol's simulator, started beside the
//! N Kolay one, with what the soak needs of it: the company's POS on it, its day close,
//! its secrets and its ledger put as the judge's [`BankRow`]s.
//!
//! A bank protocol plugs in with a [`BankProtocol`] variant, its arm in [`start`] and
//! a [`BankSim`] impl (its simulator handle and merchant, and one function mapping a
//! ledger row to a [`BankRow`]); the traffic, the judge and the report take it from
//! there.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use sanalpos_service::NewPos;
use sanalpos_simulator::garanti::{self, GarantiConfig, GarantiHandle, GarantiMerchant};
use sanalpos_simulator::nestpay::{self, NestpayConfig, NestpayHandle, NestpayMerchant};
use sanalpos_simulator::posnet::{self, PosnetConfig, PosnetHandle, PosnetMerchant};

use super::bank_judge::{BankKind, BankRow};

/// A bank protocol the soak sends a share of its sales to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BankProtocol {
    /// NestPay (İş Bankası and the other Payten banks).
    Nestpay,
    /// Garanti BBVA's GVP.
    Garanti,
    /// Yapı Kredi's PosNet.
    Posnet,
}

impl BankProtocol {
    /// The prefix of its traffic's tally keys (`nestpay sale: approved`).
    pub fn label(self) -> &'static str {
        match self {
            BankProtocol::Nestpay => "nestpay",
            BankProtocol::Garanti => "garanti",
            BankProtocol::Posnet => "posnet",
        }
    }
}

/// A running bank simulator and its merchant.
pub trait BankSim: Send + Sync {
    /// The protocol's name in figures and violations (`NestPay`).
    fn name(&self) -> &'static str;
    /// Closes the merchant's business day (gün sonu).
    fn close_day(&self);
    /// The merchant's ledger in the judge's terms; `None` when the merchant is gone.
    fn rows(&self) -> Option<Vec<BankRow>>;
    /// The merchant's credentials, with a label, which must never be found at rest.
    fn secrets(&self) -> Vec<(&'static str, String)>;
    /// Stops the simulator, letting the requests in flight finish.
    fn shutdown(self: Box<Self>) -> Pin<Box<dyn Future<Output = ()> + Send>>;
}

/// Starts `protocol`'s simulator with one random merchant; returns it and the POS that
/// points at it (what `sanalpos demo` gives a company).
pub async fn start(
    protocol: BankProtocol,
    slow_answer: Duration,
) -> Result<(Box<dyn BankSim>, NewPos), String> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|e| format!("{protocol:?} simulator port: {e}"))?;
    match protocol {
        BankProtocol::Nestpay => {
            let merchant = NestpayMerchant::generate();
            let handle = nestpay::spawn(
                NestpayConfig {
                    merchants: vec![merchant.clone()],
                    test_mode: true,
                    slow_answer_delay: slow_answer,
                },
                listener,
            )
            .await
            .map_err(|e| format!("NestPay simulator: {e}"))?;
            let pos = crate::demo::nestpay_pos(&handle.base_url(), &merchant);
            Ok((Box::new(Nestpay { handle, merchant }), pos))
        }
        BankProtocol::Garanti => {
            let merchant = GarantiMerchant::generate();
            let handle = garanti::spawn(
                GarantiConfig {
                    merchants: vec![merchant.clone()],
                    test_mode: true,
                    slow_answer_delay: slow_answer,
                },
                listener,
            )
            .await
            .map_err(|e| format!("Garanti simulator: {e}"))?;
            let pos = crate::demo::garanti_pos(&handle.base_url(), &merchant);
            Ok((Box::new(Garanti { handle, merchant }), pos))
        }
        BankProtocol::Posnet => {
            let merchant = PosnetMerchant::generate();
            let handle = posnet::spawn(
                PosnetConfig {
                    merchants: vec![merchant.clone()],
                    test_mode: true,
                    slow_answer_delay: slow_answer,
                },
                listener,
            )
            .await
            .map_err(|e| format!("PosNet simulator: {e}"))?;
            let pos = crate::demo::posnet_pos(&handle.base_url(), &merchant);
            Ok((Box::new(Posnet { handle, merchant }), pos))
        }
    }
}

/// The NestPay simulator. A sale is named by its `TransId`; a `Void` names the row it
/// cancels; a `Credit` refused before the day's close is kept as `CORE-2508`.
struct Nestpay {
    handle: NestpayHandle,
    merchant: NestpayMerchant,
}

fn nestpay_row(t: nestpay::NestpayTransaction) -> BankRow {
    use nestpay::TxType;
    BankRow {
        kind: match t.kind {
            TxType::Auth | TxType::PreAuth => BankKind::Sale,
            TxType::Void => BankKind::Void,
            TxType::Credit => BankKind::Refund,
            TxType::PostAuth => BankKind::Other,
        },
        approved: t.status == nestpay::TxStatus::Approved,
        amount: t.amount,
        voided: t.voided_at.is_some(),
        target: t.voids,
        refused_same_day: t.error_code == "CORE-2508",
        order_id: t.order_id,
        reference: t.trans_id,
    }
}

impl BankSim for Nestpay {
    fn name(&self) -> &'static str {
        "NestPay"
    }

    fn close_day(&self) {
        self.handle.end_of_day(Some(&self.merchant.client_id));
    }

    fn rows(&self) -> Option<Vec<BankRow>> {
        let ledger = self.handle.transactions(&self.merchant.client_id)?;
        Some(ledger.into_iter().map(nestpay_row).collect())
    }

    fn secrets(&self) -> Vec<(&'static str, String)> {
        vec![
            ("NestPay API password", self.merchant.api_password.clone()),
            ("NestPay store key", self.merchant.store_key.clone()),
        ]
    }

    fn shutdown(self: Box<Self>) -> Pin<Box<dyn Future<Output = ()> + Send>> {
        Box::pin(self.handle.shutdown())
    }
}

/// The Garanti BBVA simulator. A sale is named by its `RetrefNum`; a void or refund
/// names the sale's as `OriginalRetrefNum`. Refusals are answered, not kept.
struct Garanti {
    handle: GarantiHandle,
    merchant: GarantiMerchant,
}

fn garanti_row(t: garanti::GarantiTransaction) -> BankRow {
    use garanti::TxType;
    BankRow {
        kind: match t.kind {
            TxType::Sales | TxType::PreAuth => BankKind::Sale,
            TxType::Void => BankKind::Void,
            TxType::Refund => BankKind::Refund,
            TxType::PostAuth => BankKind::Other,
        },
        approved: t.approved,
        amount: t.amount,
        voided: t.voided_at.is_some(),
        target: t.original_retref,
        refused_same_day: false,
        order_id: t.order_id,
        reference: t.retref,
    }
}

impl BankSim for Garanti {
    fn name(&self) -> &'static str {
        "Garanti"
    }

    fn close_day(&self) {
        self.handle.end_of_day(Some(&self.merchant.terminal_id));
    }

    fn rows(&self) -> Option<Vec<BankRow>> {
        let ledger = self.handle.transactions(&self.merchant.terminal_id)?;
        Some(ledger.into_iter().map(garanti_row).collect())
    }

    fn secrets(&self) -> Vec<(&'static str, String)> {
        vec![
            (
                "Garanti provision password",
                self.merchant.prov_password.clone(),
            ),
            (
                "Garanti refund password",
                self.merchant.refund_password.clone(),
            ),
            ("Garanti store key", self.merchant.store_key.clone()),
        ]
    }

    fn shutdown(self: Box<Self>) -> Pin<Box<dyn Future<Output = ()> + Send>> {
        Box::pin(self.handle.shutdown())
    }
}

/// The Yapı Kredi PosNet simulator. A sale is named by its `hostlogkey`; a capture,
/// reverse or return names the sale's as its original. Refusals are answered, not kept.
struct Posnet {
    handle: PosnetHandle,
    merchant: PosnetMerchant,
}

fn posnet_row(t: posnet::PosnetTransaction) -> BankRow {
    use posnet::TxKind;
    BankRow {
        kind: match t.kind {
            TxKind::Sale | TxKind::Auth => BankKind::Sale,
            TxKind::Reverse => BankKind::Void,
            TxKind::Return => BankKind::Refund,
            TxKind::Capt => BankKind::Other,
        },
        approved: t.approved,
        amount: t.amount,
        voided: t.reversed,
        target: t.original,
        refused_same_day: false,
        order_id: t.order_id,
        reference: t.host_log_key,
    }
}

impl BankSim for Posnet {
    fn name(&self) -> &'static str {
        "PosNet"
    }

    fn close_day(&self) {
        self.handle.end_of_day(Some(&self.merchant.tid));
    }

    fn rows(&self) -> Option<Vec<BankRow>> {
        let ledger = self.handle.transactions(&self.merchant.tid)?;
        Some(ledger.into_iter().map(posnet_row).collect())
    }

    fn secrets(&self) -> Vec<(&'static str, String)> {
        vec![("PosNet ENCKEY", self.merchant.enc_key.clone())]
    }

    fn shutdown(self: Box<Self>) -> Pin<Box<dyn Future<Output = ()> + Send>> {
        Box::pin(self.handle.shutdown())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sanalpos_core::{Currency, Kurus};

    fn garanti(kind: garanti::TxType, retref: &str, original: Option<&str>) -> BankRow {
        let now = chrono::Utc::now().fixed_offset();
        garanti_row(garanti::GarantiTransaction {
            seq: 1,
            terminal_id: "30691297".into(),
            order_id: "o1".into(),
            kind,
            approved: true,
            amount: Kurus::parse("10.00").unwrap(),
            currency: Currency::Try,
            installments: 1,
            auth_code: String::new(),
            retref: retref.into(),
            code: "00".into(),
            reason_code: "00".into(),
            error_msg: String::new(),
            sys_err_msg: String::new(),
            masked_pan: None,
            created_at: now,
            business_day: now.date_naive(),
            voided_at: (retref == "R1").then_some(now),
            original_retref: original.map(str::to_owned),
            three_d: false,
            panel: false,
        })
    }

    #[test]
    fn garanti_rows_name_the_sale_by_retref_and_reversals_by_the_original() {
        let sale = garanti(garanti::TxType::Sales, "R1", None);
        assert_eq!(
            (sale.kind, sale.reference.as_str(), sale.voided),
            (BankKind::Sale, "R1", true)
        );
        let void = garanti(garanti::TxType::Void, "R2", Some("R1"));
        assert_eq!(
            (void.kind, void.target.as_deref(), void.order_id.as_str()),
            (BankKind::Void, Some("R1"), "o1")
        );
        let refund = garanti(garanti::TxType::Refund, "R3", Some("R1"));
        assert_eq!((refund.kind, refund.voided), (BankKind::Refund, false));
        let capture = garanti(garanti::TxType::PostAuth, "R4", Some("R1"));
        assert_eq!(capture.kind, BankKind::Other);
    }

    #[test]
    fn posnet_rows_name_the_sale_by_hostlogkey_and_reversals_by_the_original() {
        let now = chrono::Utc::now().fixed_offset();
        let row = |kind: posnet::TxKind, key: &str, original: Option<&str>| {
            posnet_row(posnet::PosnetTransaction {
                seq: 1,
                tid: "67000001".into(),
                order_id: "o1".into(),
                kind,
                approved: true,
                amount: Kurus::parse("10.00").unwrap(),
                currency: Currency::Try,
                installments: 1,
                auth_code: String::new(),
                host_log_key: key.into(),
                resp_code: String::new(),
                resp_text: String::new(),
                masked_pan: None,
                created_at: now,
                business_day: now.date_naive(),
                reversed: key == "H1",
                original: original.map(str::to_owned),
                three_d: false,
            })
        };
        let sale = row(posnet::TxKind::Sale, "H1", None);
        assert_eq!(
            (sale.kind, sale.reference.as_str(), sale.voided),
            (BankKind::Sale, "H1", true)
        );
        let reverse = row(posnet::TxKind::Reverse, "H2", Some("H1"));
        assert_eq!(
            (
                reverse.kind,
                reverse.target.as_deref(),
                reverse.order_id.as_str()
            ),
            (BankKind::Void, Some("H1"), "o1")
        );
        assert_eq!(
            row(posnet::TxKind::Return, "H3", Some("H1")).kind,
            BankKind::Refund
        );
        assert_eq!(
            row(posnet::TxKind::Capt, "H4", Some("H1")).kind,
            BankKind::Other
        );
        assert_eq!(row(posnet::TxKind::Auth, "H5", None).kind, BankKind::Sale);
    }
}
