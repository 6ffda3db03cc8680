//! The day's statement of a NestPay merchant, in the same columns, separators, number
//! and date formats as the N Kolay simulator's statement (`crate::statement`), so the
//! built-in "simulator" statement profile reads both.
//!
//! Differences, all the simulator's choice: `Referans No` is the `TransId`, `Sipariş
//! No` the `OrderId`; `Kart Sahibi` is the order's `BillTo` name (empty when none); no
//! commission is modelled (`Komisyon` 0,00, `Net Tutar` = `Tutar`); the value date is
//! the business day plus one; pre-authorisations are left out (no money moves until
//! their PostAuth, which reads `Satış`).

use chrono::Days;
use sanalpos_core::Kurus;

use super::ledger::{NestpayTransaction, TxStatus, TxType};
use crate::clock;
use crate::statement::HEADER;

fn csv_field(text: &str) -> String {
    if text.contains([';', '"', '\r', '\n']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_owned()
    }
}

/// The statement of `rows` (one business day of one merchant, in time order).
/// `captured` gives an order's captured amount, so a Credit of less reads
/// `Kısmi İade`.
pub fn statement_csv<F>(rows: &[&NestpayTransaction], captured: F) -> String
where
    F: Fn(&str) -> Kurus,
{
    let mut out = HEADER.join(";");
    out.push_str("\r\n");
    for tx in rows {
        let kind = match tx.kind {
            TxType::PreAuth => continue,
            TxType::Auth | TxType::PostAuth => "Satış",
            TxType::Void => "İptal",
            TxType::Credit if tx.amount < captured(&tx.order_id) => "Kısmi İade",
            TxType::Credit => "İade",
        };
        let status = if tx.status == TxStatus::Approved {
            "Başarılı"
        } else {
            "Başarısız"
        };
        let valor = tx
            .business_day
            .checked_add_days(Days::new(1))
            .unwrap_or(tx.business_day);
        let fields = [
            clock::fmt_trx(&tx.created_at),
            valor.format("%d.%m.%Y").to_string(),
            kind.to_owned(),
            status.to_owned(),
            tx.trans_id.clone(),
            tx.order_id.clone(),
            tx.auth_code.clone(),
            tx.masked_pan
                .as_ref()
                .map(|m| m.as_str().to_owned())
                .unwrap_or_default(),
            tx.customer.clone(),
            tx.installments.to_string(),
            tx.amount.format_tr(),
            tx.amount.format_tr(),
            Kurus::ZERO.format_tr(),
            tx.amount.format_tr(),
            tx.currency.alpha().to_owned(),
        ];
        let line: Vec<String> = fields.iter().map(|f| csv_field(f)).collect();
        out.push_str(&line.join(";"));
        out.push_str("\r\n");
    }
    out
}
