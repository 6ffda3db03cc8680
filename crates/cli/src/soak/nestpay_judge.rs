//! The NestPay half of the crash soak's judge: the bank simulator's ledger against the
//! payments made on the company's NestPay POS, as strictly as [`super::judge`] holds the
//! N Kolay ones. NestPay names a sale by `TransId` (our `provider_ref`) and groups the
//! sale, its `Void` and its `Credit`s under one `OrderId`; violations are:
//!
//! - an approved sale at the bank that is not in our database, or is there with another
//!   amount or state (approved / cancelled / refunded amount);
//! - a payment we call approved (or cancelled, refunded) that the bank never charged, or
//!   two of our payments naming one bank sale;
//! - two approved sales for one order id (a double charge), a sale voided twice, a Void
//!   that cancelled anything but a sale, refunds above the sale;
//! - a reversal we record that the bank did not make, or the other way round.
//!
//! A `Credit` the bank refused (the sale's day not closed yet, `CORE-2508`) moved
//! nothing and is only counted. Open payments and refunds, idempotency and what the
//! clients were shown are judged for both protocols by [`super::judge`].

use std::collections::{BTreeMap, HashMap, HashSet};

use sanalpos_core::Kurus;
use sanalpos_simulator::nestpay::{NestpayTransaction, TxStatus, TxType};
use serde_json::Value;

/// The figures of the NestPay share of a run.
#[derive(Debug, Clone, Default)]
pub struct NestpayFigures {
    /// Our payments on the NestPay POS, by status.
    pub by_status: BTreeMap<String, u64>,
    /// Approved sales at the bank.
    pub charges: usize,
    /// Approved Voids at the bank.
    pub voids: usize,
    /// Approved Credits at the bank.
    pub credits: usize,
    /// Their total.
    pub credited: Kurus,
    /// Credits the bank refused because the sale's day was not closed (`CORE-2508`).
    pub credits_refused_same_day: usize,
}

impl NestpayFigures {
    /// Our payments on the NestPay POS.
    pub fn payments(&self) -> u64 {
        self.by_status.values().sum()
    }
}

const APPROVED_LIKE: [&str; 4] = ["approved", "cancelled", "partially_refunded", "refunded"];

fn kurus(value: &Value) -> Option<Kurus> {
    value.as_str().and_then(|t| Kurus::parse(t).ok())
}

fn text(value: &Value) -> &str {
    value.as_str().unwrap_or("")
}

fn add(total: Kurus, amount: Kurus) -> Kurus {
    total.checked_add(amount).unwrap_or(total)
}

fn is_sale(tx: &NestpayTransaction) -> bool {
    matches!(tx.kind, TxType::Auth | TxType::PreAuth)
}

/// Judges the NestPay `payments` (and the `details` of those a cancel or refund was
/// sent for, by payment id) against the merchant's `ledger`; returns the figures and
/// the violations.
pub fn judge(
    payments: &[&Value],
    details: &[(&str, &Value)],
    ledger: &[NestpayTransaction],
) -> (NestpayFigures, Vec<String>) {
    let mut figures = NestpayFigures::default();
    let mut v = Vec::new();
    for p in payments {
        *figures
            .by_status
            .entry(text(&p["status"]).to_owned())
            .or_insert(0) += 1;
    }

    let approved = |t: &&NestpayTransaction| t.status == TxStatus::Approved;
    let charges: Vec<&NestpayTransaction> = ledger
        .iter()
        .filter(|t| is_sale(t))
        .filter(approved)
        .collect();
    figures.charges = charges.len();
    let by_trans_id: HashMap<&str, &NestpayTransaction> =
        ledger.iter().map(|t| (t.trans_id.as_str(), t)).collect();

    // One approved sale per order id.
    let mut per_order: HashMap<&str, usize> = HashMap::new();
    for t in &charges {
        *per_order.entry(t.order_id.as_str()).or_insert(0) += 1;
    }
    for (order, n) in &per_order {
        if *n > 1 {
            v.push(format!(
                "NestPay: charged twice: order {order} has {n} approved sales at the bank"
            ));
        }
    }

    // Voids: each cancels one sale, once.
    let mut voids_of: HashMap<&str, usize> = HashMap::new();
    for t in ledger
        .iter()
        .filter(|t| t.kind == TxType::Void)
        .filter(approved)
    {
        figures.voids += 1;
        let target = t.voids.as_deref().unwrap_or("");
        *voids_of.entry(target).or_insert(0) += 1;
        match by_trans_id.get(target) {
            Some(voided) if is_sale(voided) => {}
            Some(voided) => v.push(format!(
                "NestPay: Void {} of order {} cancelled a {:?}, not a sale",
                t.trans_id, t.order_id, voided.kind
            )),
            None => v.push(format!(
                "NestPay: Void {} of order {} names no transaction",
                t.trans_id, t.order_id
            )),
        }
    }
    for (target, n) in &voids_of {
        if *n > 1 {
            v.push(format!(
                "NestPay: sale {target} was voided {n} times at the bank"
            ));
        }
    }

    // Credits that stand (approved, not voided), per order.
    let mut credited: HashMap<&str, Kurus> = HashMap::new();
    for t in ledger.iter().filter(|t| t.kind == TxType::Credit) {
        if t.status != TxStatus::Approved {
            if t.error_code == "CORE-2508" {
                figures.credits_refused_same_day += 1;
            }
            continue;
        }
        figures.credits += 1;
        figures.credited = add(figures.credited, t.amount);
        if t.voided_at.is_none() {
            let entry = credited.entry(t.order_id.as_str()).or_insert(Kurus::ZERO);
            *entry = add(*entry, t.amount);
        }
    }

    // Every approved sale is in our database with its true amount and state.
    let mut by_ref: HashMap<&str, &Value> = HashMap::new();
    for p in payments {
        if let Some(r) = p["provider_ref"].as_str() {
            if let Some(other) = by_ref.insert(r, p) {
                v.push(format!(
                    "NestPay: payments {} and {} both name bank sale {r}",
                    text(&other["id"]),
                    text(&p["id"])
                ));
            }
        }
    }
    for t in &charges {
        let Some(p) = by_ref.get(t.trans_id.as_str()) else {
            v.push(format!(
                "NestPay: sale {} ({} TL, order {}) at the bank is not in our database",
                t.trans_id, t.amount, t.order_id
            ));
            continue;
        };
        let id = text(&p["id"]);
        let refunded = credited
            .get(t.order_id.as_str())
            .copied()
            .unwrap_or(Kurus::ZERO);
        let cancelled = t.voided_at.is_some();
        let expected = if cancelled {
            "cancelled"
        } else if refunded >= t.amount && refunded > Kurus::ZERO {
            "refunded"
        } else if refunded > Kurus::ZERO {
            "partially_refunded"
        } else {
            "approved"
        };
        let status = text(&p["status"]);
        if status != expected {
            v.push(format!(
                "NestPay: payment {id} is {status}, the bank says {expected} (sale {})",
                t.trans_id
            ));
        }
        if kurus(&p["amount"]) != Some(t.amount) {
            v.push(format!(
                "NestPay: payment {id} amount {} differs from the sale's {}",
                text(&p["amount"]),
                t.amount
            ));
        }
        // A cancelled payment counts its whole amount as given back.
        let given_back = if cancelled { t.amount } else { refunded };
        if kurus(&p["refunded_amount"]) != Some(given_back) {
            v.push(format!(
                "NestPay: payment {id} gave back {} but the bank {} {given_back}",
                text(&p["refunded_amount"]),
                if cancelled { "voided" } else { "credited" },
            ));
        }
        if refunded > t.amount {
            v.push(format!(
                "NestPay: order {} credited {refunded} above its sale of {}",
                t.order_id, t.amount
            ));
        }
    }
    let charged: HashSet<&str> = charges.iter().map(|t| t.trans_id.as_str()).collect();
    for p in payments {
        let status = text(&p["status"]);
        if APPROVED_LIKE.contains(&status) && !charged.contains(text(&p["provider_ref"])) {
            v.push(format!(
                "NestPay: payment {} is {status} but the bank has no approved sale for it (provider ref {:?})",
                text(&p["id"]),
                p["provider_ref"].as_str()
            ));
        }
    }

    // The reversals we record are the bank's.
    for (id, detail) in details {
        let refunds = detail["refunds"].as_array().cloned().unwrap_or_default();
        let mut our_cancels = 0;
        let mut our_refunds = Kurus::ZERO;
        for r in refunds.iter().filter(|r| text(&r["status"]) == "approved") {
            match text(&r["kind"]) {
                "cancel" => our_cancels += 1,
                _ => our_refunds = add(our_refunds, kurus(&r["amount"]).unwrap_or(Kurus::ZERO)),
            }
        }
        let sale = detail["provider_ref"]
            .as_str()
            .and_then(|r| by_trans_id.get(r));
        let (bank_voids, bank_credits) = match sale {
            Some(sale) => (
                voids_of.get(sale.trans_id.as_str()).copied().unwrap_or(0),
                credited
                    .get(sale.order_id.as_str())
                    .copied()
                    .unwrap_or(Kurus::ZERO),
            ),
            None => (0, Kurus::ZERO),
        };
        if our_cancels != bank_voids || our_refunds != bank_credits {
            v.push(format!(
                "NestPay: payment {id}: we record {our_cancels} cancel(s) and {our_refunds} refunded, \
                 the bank {bank_voids} Void(s) and {bank_credits} credited"
            ));
        }
    }
    (figures, v)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn row(trans_id: &str, order: &str, kind: TxType, amount: &str) -> NestpayTransaction {
        let now = chrono::Utc::now().fixed_offset();
        NestpayTransaction {
            seq: 0,
            client_id: "700000000001".into(),
            order_id: order.into(),
            kind,
            status: TxStatus::Approved,
            amount: Kurus::parse(amount).unwrap(),
            currency: sanalpos_core::Currency::Try,
            installments: 1,
            auth_code: "P12345".into(),
            trans_id: trans_id.into(),
            host_ref: String::new(),
            proc_return_code: "00".into(),
            error_code: String::new(),
            err_msg: String::new(),
            masked_pan: None,
            customer: String::new(),
            card_brand: String::new(),
            card_issuer: String::new(),
            created_at: now,
            business_day: now.date_naive(),
            voided_at: None,
            voids: None,
            three_d: None,
            panel: false,
        }
    }

    fn payment(id: &str, status: &str, provider_ref: Option<&str>, refunded: &str) -> Value {
        json!({"id": id, "status": status, "provider_ref": provider_ref,
               "amount": "10.00", "refunded_amount": refunded})
    }

    #[test]
    fn a_consistent_share_passes() {
        let mut voided = row("T2", "o2", TxType::Auth, "10.00");
        voided.voided_at = Some(voided.created_at);
        let mut void = row("T3", "o2", TxType::Void, "10.00");
        void.voids = Some("T2".into());
        let mut refused = row("T5", "o1", TxType::Credit, "1.00");
        refused.status = TxStatus::Error;
        refused.error_code = "CORE-2508".into();
        let ledger = vec![
            row("T1", "o1", TxType::Auth, "10.00"),
            voided,
            void,
            row("T4", "o1", TxType::Credit, "2.50"),
            refused,
        ];
        let payments = [
            payment("pay_1", "partially_refunded", Some("T1"), "2.50"),
            payment("pay_2", "cancelled", Some("T2"), "10.00"),
            payment("pay_3", "declined", None, "0.00"),
        ];
        let refs: Vec<&Value> = payments.iter().collect();
        let detail = json!({"provider_ref": "T2", "refunds": [
            {"kind": "cancel", "status": "approved", "amount": "10.00"}]});
        let (figures, violations) = judge(&refs, &[("pay_2", &detail)], &ledger);
        assert!(violations.is_empty(), "{violations:?}");
        assert_eq!(figures.payments(), 3);
        assert_eq!((figures.charges, figures.voids, figures.credits), (2, 1, 1));
        assert_eq!(figures.credits_refused_same_day, 1);
    }

    #[test]
    fn each_kind_of_damage_is_named() {
        let ledger = vec![
            row("T1", "o1", TxType::Auth, "10.00"),
            row("T2", "o1", TxType::Auth, "10.00"),
            row("T3", "o3", TxType::Auth, "10.00"),
            row("T4", "o3", TxType::Credit, "12.00"),
        ];
        let payments = [
            payment("pay_1", "approved", Some("T1"), "0.00"),
            payment("pay_3", "approved", Some("T3"), "0.00"),
            payment("pay_4", "approved", Some("T9"), "0.00"),
        ];
        let refs: Vec<&Value> = payments.iter().collect();
        let detail = json!({"provider_ref": "T3", "refunds": []});
        let all = judge(&refs, &[("pay_3", &detail)], &ledger).1.join("\n");
        for expected in [
            "charged twice: order o1 has 2 approved sales",
            "sale T2 (10.00 TL, order o1) at the bank is not in our database",
            "payment pay_3 is approved, the bank says refunded",
            "order o3 credited 12.00 above its sale of 10.00",
            "payment pay_4 is approved but the bank has no approved sale",
            "payment pay_3: we record 0 cancel(s) and 0.00 refunded, the bank 0 Void(s) and 12.00 credited",
        ] {
            assert!(all.contains(expected), "missing {expected:?} in:\n{all}");
        }
    }
}
