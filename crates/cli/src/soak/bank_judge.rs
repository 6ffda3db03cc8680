//! The bank half of the crash soak's judge: a bank simulator's ledger against the
//! payments made on the company's POS of that bank, as strictly as [`super::judge`]
//! holds the N Kolay ones. Every bank protocol (NestPay, Garanti BBVA, …) is judged by
//! the same code: its simulator's rows are first put as [`BankRow`]s (order id, kind,
//! approved, amount, the row's reference and what it names) by [`super::banks`].
//!
//! A payment of ours names its bank sale by `provider_ref` (the sale row's
//! [`BankRow::reference`]); that sale's order id groups its voids and refunds. Violations
//! (each prefixed with the bank's name) are:
//!
//! - an approved sale at the bank that is not in our database, or is there with another
//!   amount or state (approved / cancelled / refunded amount);
//! - a payment we call approved (or cancelled, refunded) that the bank never charged, or
//!   two of our payments naming one bank sale;
//! - two approved sales for one order id (a double charge), a sale voided twice, a void
//!   that cancelled anything but a sale, refunds above the sale;
//! - a reversal we record that the bank did not make, or the other way round.
//!
//! A refund the bank refused because the sale's day was not closed moved nothing and is
//! only counted. Open payments and refunds, idempotency and what the clients were shown
//! are judged for every protocol by [`super::judge`].

use std::collections::{BTreeMap, HashMap, HashSet};

use sanalpos_core::Kurus;
use serde_json::Value;

/// What a bank ledger row did, as the judge needs it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BankKind {
    /// A sale or a pre-authorisation: money taken or held on the card.
    Sale,
    /// A same-day cancel of an earlier row.
    Void,
    /// A refund (credit) after the sale's day was closed.
    Refund,
    /// Anything else (a capture, an inquiry row): not judged.
    Other,
}

/// One row of a bank simulator's ledger, in the judge's terms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BankRow {
    /// The order id the bank files it under (a sale and its reversals share it).
    pub order_id: String,
    /// The row's own reference; for a sale, what our payment's `provider_ref` holds.
    pub reference: String,
    /// What it did.
    pub kind: BankKind,
    /// Whether the bank approved it.
    pub approved: bool,
    /// The amount (for a void, the sale's).
    pub amount: Kurus,
    /// Whether a later void cancelled it.
    pub voided: bool,
    /// For a void: the reference of the row it cancelled, when the bank records it.
    pub target: Option<String>,
    /// A refund refused only because the sale's day was not closed yet.
    pub refused_same_day: bool,
}

/// A bank POS of the soak's company and its simulator's ledger.
#[derive(Debug, Clone)]
pub struct BankLedger {
    /// The protocol's name, as violations and figures say it (`NestPay`, `Garanti`).
    pub name: &'static str,
    /// The id of the company's POS at that bank.
    pub pos_id: String,
    /// The bank merchant's ledger.
    pub rows: Vec<BankRow>,
}

/// The figures of one bank's share of a run.
#[derive(Debug, Clone, Default)]
pub struct BankFigures {
    /// The protocol's name.
    pub name: &'static str,
    /// Our payments on that bank's POS, by status.
    pub by_status: BTreeMap<String, u64>,
    /// Approved sales at the bank.
    pub charges: usize,
    /// Approved voids at the bank.
    pub voids: usize,
    /// Approved refunds at the bank.
    pub credits: usize,
    /// Their total.
    pub credited: Kurus,
    /// Refunds the bank refused because the sale's day was not closed (recorded in the
    /// ledger by banks that keep refusals, such as NestPay's `CORE-2508`).
    pub credits_refused_same_day: usize,
}

impl BankFigures {
    /// Our payments on the bank's POS.
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

/// Judges the `payments` on one bank's POS (and the `details` of those a cancel or
/// refund was sent for, by payment id) against that bank's ledger; returns the figures
/// and the violations.
pub fn judge(
    bank: &BankLedger,
    payments: &[&Value],
    details: &[(&str, &Value)],
) -> (BankFigures, Vec<String>) {
    let name = bank.name;
    let ledger = &bank.rows;
    let mut figures = BankFigures {
        name,
        ..BankFigures::default()
    };
    let mut v = Vec::new();
    for p in payments {
        *figures
            .by_status
            .entry(text(&p["status"]).to_owned())
            .or_insert(0) += 1;
    }

    let charges: Vec<&BankRow> = ledger
        .iter()
        .filter(|t| t.kind == BankKind::Sale && t.approved)
        .collect();
    figures.charges = charges.len();
    let by_reference: HashMap<&str, &BankRow> =
        ledger.iter().map(|t| (t.reference.as_str(), t)).collect();

    // One approved sale per order id.
    let mut per_order: HashMap<&str, usize> = HashMap::new();
    for t in &charges {
        *per_order.entry(t.order_id.as_str()).or_insert(0) += 1;
    }
    for (order, n) in &per_order {
        if *n > 1 {
            v.push(format!(
                "{name}: charged twice: order {order} has {n} approved sales at the bank"
            ));
        }
    }

    // Voids: each cancels one sale, once. A void that names no row is counted
    // against its order's sale.
    let mut voids_of: HashMap<&str, usize> = HashMap::new();
    let sale_of_order: HashMap<&str, &BankRow> =
        charges.iter().map(|t| (t.order_id.as_str(), *t)).collect();
    for t in ledger
        .iter()
        .filter(|t| t.kind == BankKind::Void && t.approved)
    {
        figures.voids += 1;
        let voided = match t.target.as_deref() {
            Some(target) => by_reference.get(target).copied(),
            None => sale_of_order.get(t.order_id.as_str()).copied(),
        };
        match voided {
            Some(voided) if voided.kind == BankKind::Sale => {
                *voids_of.entry(voided.reference.as_str()).or_insert(0) += 1;
            }
            Some(voided) => v.push(format!(
                "{name}: void {} of order {} cancelled a {:?}, not a sale",
                t.reference, t.order_id, voided.kind
            )),
            None => v.push(format!(
                "{name}: void {} of order {} names no transaction",
                t.reference, t.order_id
            )),
        }
    }
    for (target, n) in &voids_of {
        if *n > 1 {
            v.push(format!(
                "{name}: sale {target} was voided {n} times at the bank"
            ));
        }
    }

    // Refunds that stand (approved, not voided), per order.
    let mut credited: HashMap<&str, Kurus> = HashMap::new();
    for t in ledger.iter().filter(|t| t.kind == BankKind::Refund) {
        if !t.approved {
            if t.refused_same_day {
                figures.credits_refused_same_day += 1;
            }
            continue;
        }
        figures.credits += 1;
        figures.credited = add(figures.credited, t.amount);
        if !t.voided {
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
                    "{name}: payments {} and {} both name bank sale {r}",
                    text(&other["id"]),
                    text(&p["id"])
                ));
            }
        }
    }
    for t in &charges {
        let Some(p) = by_ref.get(t.reference.as_str()) else {
            v.push(format!(
                "{name}: sale {} ({} TL, order {}) at the bank is not in our database",
                t.reference, t.amount, t.order_id
            ));
            continue;
        };
        let id = text(&p["id"]);
        let refunded = credited
            .get(t.order_id.as_str())
            .copied()
            .unwrap_or(Kurus::ZERO);
        let cancelled = t.voided;
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
                "{name}: payment {id} is {status}, the bank says {expected} (sale {})",
                t.reference
            ));
        }
        if kurus(&p["amount"]) != Some(t.amount) {
            v.push(format!(
                "{name}: payment {id} amount {} differs from the sale's {}",
                text(&p["amount"]),
                t.amount
            ));
        }
        // A cancelled payment counts its whole amount as given back.
        let given_back = if cancelled { t.amount } else { refunded };
        if kurus(&p["refunded_amount"]) != Some(given_back) {
            v.push(format!(
                "{name}: payment {id} gave back {} but the bank {} {given_back}",
                text(&p["refunded_amount"]),
                if cancelled { "voided" } else { "credited" },
            ));
        }
        if refunded > t.amount {
            v.push(format!(
                "{name}: order {} credited {refunded} above its sale of {}",
                t.order_id, t.amount
            ));
        }
    }
    let charged: HashSet<&str> = charges.iter().map(|t| t.reference.as_str()).collect();
    for p in payments {
        let status = text(&p["status"]);
        if APPROVED_LIKE.contains(&status) && !charged.contains(text(&p["provider_ref"])) {
            v.push(format!(
                "{name}: payment {} is {status} but the bank has no approved sale for it (provider ref {:?})",
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
            .and_then(|r| by_reference.get(r));
        let (bank_voids, bank_credits) = match sale {
            Some(sale) => (
                voids_of.get(sale.reference.as_str()).copied().unwrap_or(0),
                credited
                    .get(sale.order_id.as_str())
                    .copied()
                    .unwrap_or(Kurus::ZERO),
            ),
            None => (0, Kurus::ZERO),
        };
        if our_cancels != bank_voids || our_refunds != bank_credits {
            v.push(format!(
                "{name}: payment {id}: we record {our_cancels} cancel(s) and {our_refunds} refunded, \
                 the bank {bank_voids} void(s) and {bank_credits} credited"
            ));
        }
    }
    (figures, v)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn row(reference: &str, order: &str, kind: BankKind, amount: &str) -> BankRow {
        BankRow {
            order_id: order.into(),
            reference: reference.into(),
            kind,
            approved: true,
            amount: Kurus::parse(amount).unwrap(),
            voided: false,
            target: None,
            refused_same_day: false,
        }
    }

    fn bank(rows: Vec<BankRow>) -> BankLedger {
        BankLedger {
            name: "Bank",
            pos_id: "pos_b".into(),
            rows,
        }
    }

    fn payment(id: &str, status: &str, provider_ref: Option<&str>, refunded: &str) -> Value {
        json!({"id": id, "status": status, "provider_ref": provider_ref,
               "amount": "10.00", "refunded_amount": refunded})
    }

    #[test]
    fn a_consistent_share_passes() {
        let mut voided = row("T2", "o2", BankKind::Sale, "10.00");
        voided.voided = true;
        let mut void = row("T3", "o2", BankKind::Void, "10.00");
        void.target = Some("T2".into());
        let mut refused = row("T5", "o1", BankKind::Refund, "1.00");
        refused.approved = false;
        refused.refused_same_day = true;
        let mut untargeted = row("T7", "o6", BankKind::Void, "10.00");
        untargeted.target = None;
        let mut voided_too = row("T6", "o6", BankKind::Sale, "10.00");
        voided_too.voided = true;
        let ledger = bank(vec![
            row("T1", "o1", BankKind::Sale, "10.00"),
            voided,
            void,
            row("T4", "o1", BankKind::Refund, "2.50"),
            refused,
            voided_too,
            untargeted,
        ]);
        let payments = [
            payment("pay_1", "partially_refunded", Some("T1"), "2.50"),
            payment("pay_2", "cancelled", Some("T2"), "10.00"),
            payment("pay_3", "declined", None, "0.00"),
            payment("pay_6", "cancelled", Some("T6"), "10.00"),
        ];
        let refs: Vec<&Value> = payments.iter().collect();
        let detail = json!({"provider_ref": "T2", "refunds": [
            {"kind": "cancel", "status": "approved", "amount": "10.00"}]});
        let detail_6 = json!({"provider_ref": "T6", "refunds": [
            {"kind": "cancel", "status": "approved", "amount": "10.00"}]});
        let (figures, violations) =
            judge(&ledger, &refs, &[("pay_2", &detail), ("pay_6", &detail_6)]);
        assert!(violations.is_empty(), "{violations:?}");
        assert_eq!(figures.payments(), 4);
        assert_eq!((figures.charges, figures.voids, figures.credits), (3, 2, 1));
        assert_eq!(figures.credits_refused_same_day, 1);
    }

    #[test]
    fn each_kind_of_damage_is_named() {
        let mut void_of_refund = row("T6", "o3", BankKind::Void, "12.00");
        void_of_refund.target = Some("T4".into());
        let mut twice = row("T7", "o5", BankKind::Void, "10.00");
        twice.target = Some("T5".into());
        let ledger = bank(vec![
            row("T1", "o1", BankKind::Sale, "10.00"),
            row("T2", "o1", BankKind::Sale, "10.00"),
            row("T3", "o3", BankKind::Sale, "10.00"),
            row("T4", "o3", BankKind::Refund, "12.00"),
            void_of_refund,
            row("T5", "o5", BankKind::Sale, "10.00"),
            twice.clone(),
            BankRow {
                reference: "T8".into(),
                ..twice
            },
        ]);
        let payments = [
            payment("pay_1", "approved", Some("T1"), "0.00"),
            payment("pay_3", "approved", Some("T3"), "0.00"),
            payment("pay_4", "approved", Some("T9"), "0.00"),
        ];
        let refs: Vec<&Value> = payments.iter().collect();
        let detail = json!({"provider_ref": "T3", "refunds": []});
        let all = judge(&ledger, &refs, &[("pay_3", &detail)]).1.join("\n");
        for expected in [
            "Bank: charged twice: order o1 has 2 approved sales",
            "Bank: sale T2 (10.00 TL, order o1) at the bank is not in our database",
            "Bank: payment pay_3 is approved, the bank says refunded",
            "Bank: order o3 credited 12.00 above its sale of 10.00",
            "Bank: payment pay_4 is approved but the bank has no approved sale",
            "Bank: payment pay_3: we record 0 cancel(s) and 0.00 refunded, the bank 0 void(s) and 12.00 credited",
            "Bank: void T6 of order o3 cancelled a Refund, not a sale",
            "Bank: sale T5 was voided 2 times at the bank",
        ] {
            assert!(all.contains(expected), "missing {expected:?} in:\n{all}");
        }
    }
}
