//! The judge of the crash soak: the simulator's ledger (every transaction the provider
//! made, whether or not its answer reached us) against our database as the API shows it.
//!
//! Violations, each with a precise message:
//! - a charge at the provider that is not in our database, or is there with another
//!   amount or state (approved / cancelled / refunded amount);
//! - a payment we call approved (or cancelled, refunded) that the provider never charged;
//! - a card charged twice for one attempt (two successful sales with one client
//!   reference), two payments for one order (one idempotency key), a refund above the
//!   sale;
//! - a payment or refund left `processing`, `unknown`, `pending` or `pending_3ds` after
//!   the janitor's schedule, or a refund still `scheduled` after the providers' last
//!   day close (a scheduled or withdrawn refund is no money moved: the provider must
//!   have nothing for it, which the refunded totals below check);
//! - a payment the clients were shown as approved that is not approved-like now;
//! - whatever the clients already found (two payments for one key, a replay refused).
//!
//! Payments on a bank POS (NestPay, Garanti BBVA, …) are held against that bank's
//! ledger by [`bank_judge`]; the open, idempotency and clients' checks here cover them
//! too.

use std::collections::{BTreeMap, HashMap, HashSet};

use sanalpos_core::Kurus;
use sanalpos_simulator::{Transaction, TxKind, TxStatus};
use serde_json::Value;

use super::bank_judge::{self, BankFigures, BankLedger};
use super::traffic::ClientView;

/// Everything the judge looks at.
#[derive(Debug, Clone, Default)]
pub struct Evidence {
    /// Every payment of the company, from `GET /api/v1/payments`.
    pub payments: Vec<Value>,
    /// `GET /api/v1/payments/{id}` of every payment a cancel or refund was sent for.
    pub details: HashMap<String, Value>,
    /// The merchant's ledger at the simulator.
    pub ledger: Vec<Transaction>,
    /// The bank POS, each with its bank merchant's ledger. Their payments are judged
    /// against that ledger ([`bank_judge`]), the others against the N Kolay one.
    pub banks: Vec<BankLedger>,
    /// What the clients saw.
    pub clients: ClientView,
}

/// The judge's findings and the figures of the run.
#[derive(Debug, Clone, Default)]
pub struct Verdict {
    /// Empty when everything holds.
    pub violations: Vec<String>,
    /// Our payments by status.
    pub by_status: BTreeMap<String, u64>,
    /// Successful sales at the provider.
    pub charges: usize,
    /// Of which through 3D Secure.
    pub charges_3d: usize,
    /// Successful cancels at the provider.
    pub cancels: usize,
    /// Successful refunds at the provider.
    pub refunds: usize,
    /// Their total.
    pub refunded: Kurus,
    /// Each bank's share: our payments on its POS and its ledger, in the order of
    /// [`Evidence::banks`].
    pub banks: Vec<BankFigures>,
}

impl Verdict {
    /// The figures of the bank named `name` (`NestPay`, `Garanti`).
    pub fn bank(&self, name: &str) -> Option<&BankFigures> {
        self.banks.iter().find(|b| b.name == name)
    }
}

const APPROVED_LIKE: [&str; 4] = ["approved", "cancelled", "partially_refunded", "refunded"];
const OPEN: [&str; 5] = [
    "processing",
    "unknown",
    "pending_3ds",
    "capturing",
    "releasing",
];

fn kurus(value: &Value) -> Option<Kurus> {
    value.as_str().and_then(|t| Kurus::parse(t).ok())
}

fn text(value: &Value) -> &str {
    value.as_str().unwrap_or("")
}

/// What our status must be for a successful sale, given what happened to it since.
fn expected_status(sale: &Transaction) -> &'static str {
    if sale.cancelled {
        "cancelled"
    } else if sale.returned_amount >= sale.amount && sale.returned_amount > Kurus::ZERO {
        "refunded"
    } else if sale.returned_amount > Kurus::ZERO {
        "partially_refunded"
    } else {
        "approved"
    }
}

/// Pre-authorisations at the provider against our payments: a block with no capture
/// or release must be `authorized` here with its amount held; a released one
/// `released`; a captured one `approved` (or refunded since) for what was captured,
/// under the capture's reference, the block kept as `held_amount`. A block closed
/// twice, or a capture above the block, is a violation too. Gives the references of
/// the captures (money received, like sales).
fn judge_pre_auths<'a>(
    ledger: &'a [Transaction],
    by_ref: &HashMap<&str, &Value>,
    v: &mut Vec<String>,
) -> Vec<&'a str> {
    let mut captures = Vec::new();
    for hold in ledger
        .iter()
        .filter(|t| t.kind == TxKind::PreSales && t.status == TxStatus::Success)
    {
        let follow: Vec<&Transaction> = ledger
            .iter()
            .filter(|t| {
                t.status == TxStatus::Success
                    && t.sale_reference_code.as_deref() == Some(hold.reference_code.as_str())
                    && matches!(t.kind, TxKind::PreSalesCapture | TxKind::PreSalesRelease)
            })
            .collect();
        if follow.len() > 1 {
            v.push(format!(
                "pre-authorisation {} was closed {} times at the provider",
                hold.reference_code,
                follow.len()
            ));
        }
        let (reference, expected, amount) = match follow.first() {
            None => (hold.reference_code.as_str(), "authorized", hold.amount),
            Some(f) if f.kind == TxKind::PreSalesRelease => {
                (hold.reference_code.as_str(), "released", hold.amount)
            }
            Some(f) => {
                captures.push(f.reference_code.as_str());
                if f.amount > hold.amount {
                    v.push(format!(
                        "pre-authorisation {} captured {} above its {}",
                        hold.reference_code, f.amount, hold.amount
                    ));
                }
                (f.reference_code.as_str(), expected_status(f), f.amount)
            }
        };
        let Some(p) = by_ref.get(reference) else {
            v.push(format!(
                "pre-authorisation {} ({} TL, client reference {}) is not in our database as {expected}",
                hold.reference_code, hold.amount, hold.client_ref
            ));
            continue;
        };
        let id = text(&p["id"]);
        let status = text(&p["status"]);
        if status != expected {
            v.push(format!(
                "pre-authorised payment {id} is {status}, the provider says {expected} ({reference})"
            ));
        }
        if kurus(&p["amount"]) != Some(amount) {
            v.push(format!(
                "pre-authorised payment {id} amount {} differs from the provider's {amount}",
                text(&p["amount"])
            ));
        }
        if kurus(&p["held_amount"]) != Some(hold.amount) {
            v.push(format!(
                "pre-authorised payment {id} holds {} but the provider blocked {}",
                text(&p["held_amount"]),
                hold.amount
            ));
        }
    }
    captures
}

/// Judges the evidence.
pub fn judge(evidence: &Evidence) -> Verdict {
    let mut verdict = Verdict::default();
    let mut v = evidence.clients.violations.clone();

    for p in &evidence.payments {
        *verdict
            .by_status
            .entry(text(&p["status"]).to_owned())
            .or_insert(0) += 1;
    }
    let bank_of = |p: &Value| {
        evidence
            .banks
            .iter()
            .position(|b| p["pos_id"].as_str() == Some(b.pos_id.as_str()))
    };
    let on_bank = |p: &Value| bank_of(p).is_some();
    let (bank_payments, nkolay_payments): (Vec<&Value>, Vec<&Value>) =
        evidence.payments.iter().partition(|p| on_bank(p));
    let by_ref: HashMap<&str, &Value> = nkolay_payments
        .iter()
        .filter_map(|p| p["provider_ref"].as_str().map(|r| (r, *p)))
        .collect();
    let by_id: HashMap<&str, &Value> = evidence
        .payments
        .iter()
        .filter_map(|p| p["id"].as_str().map(|id| (id, p)))
        .collect();

    // One payment per order reference (the soak sends one order per idempotency key).
    let mut orders: HashMap<&str, Vec<&Value>> = HashMap::new();
    for p in &evidence.payments {
        if let Some(order) = p["order_ref"].as_str() {
            orders.entry(order).or_default().push(p);
        }
    }
    for (order, payments) in &orders {
        if payments.len() > 1 {
            let charged = payments
                .iter()
                .filter(|p| APPROVED_LIKE.contains(&text(&p["status"])))
                .count();
            let ids: Vec<String> = payments
                .iter()
                .map(|p| format!("{} {}", text(&p["id"]), text(&p["status"])))
                .collect();
            v.push(format!(
                "order {order} (one idempotency key) has {} payments, {charged} of them charged: {}",
                payments.len(),
                ids.join(", ")
            ));
        }
    }

    // Sales at the provider.
    let sales: Vec<&Transaction> = evidence
        .ledger
        .iter()
        .filter(|t| t.kind == TxKind::Sales)
        .collect();
    let charged: Vec<&Transaction> = sales
        .iter()
        .copied()
        .filter(|t| t.status == TxStatus::Success)
        .collect();
    verdict.charges = charged.len();
    verdict.charges_3d = charged.iter().filter(|t| t.is_3d).count();
    let mut per_client_ref: HashMap<&str, usize> = HashMap::new();
    for t in &charged {
        *per_client_ref.entry(t.client_ref.as_str()).or_insert(0) += 1;
    }
    for (client_ref, n) in &per_client_ref {
        if *n > 1 {
            v.push(format!(
                "charged twice: client reference {client_ref} has {n} successful sales at the provider"
            ));
        }
    }
    for t in &charged {
        let Some(p) = by_ref.get(t.reference_code.as_str()) else {
            v.push(format!(
                "charge {} ({} TL, client reference {}) at the provider is not in our database",
                t.reference_code, t.amount, t.client_ref
            ));
            continue;
        };
        let id = text(&p["id"]);
        let status = text(&p["status"]);
        let expected = expected_status(t);
        if status != expected {
            v.push(format!(
                "payment {id} is {status}, the provider says {expected} (charge {})",
                t.reference_code
            ));
        }
        if kurus(&p["amount"]) != Some(t.amount) {
            v.push(format!(
                "payment {id} amount {} differs from the charge's {}",
                text(&p["amount"]),
                t.amount
            ));
        }
        // A cancelled payment counts its whole amount as given back.
        let given_back = if t.cancelled {
            t.amount
        } else {
            t.returned_amount
        };
        if kurus(&p["refunded_amount"]) != Some(given_back) {
            v.push(format!(
                "payment {id} gave back {} but the provider {} {given_back}",
                text(&p["refunded_amount"]),
                if t.cancelled { "cancelled" } else { "refunded" },
            ));
        }
        if t.returned_amount > t.amount {
            v.push(format!(
                "charge {} refunded {} above its amount {}",
                t.reference_code, t.returned_amount, t.amount
            ));
        }
    }
    let captures = judge_pre_auths(&evidence.ledger, &by_ref, &mut v);
    let mut charged_refs: HashSet<&str> =
        charged.iter().map(|t| t.reference_code.as_str()).collect();
    charged_refs.extend(captures);
    for p in &evidence.payments {
        let status = text(&p["status"]);
        if APPROVED_LIKE.contains(&status)
            && !on_bank(p)
            && !charged_refs.contains(text(&p["provider_ref"]))
        {
            v.push(format!(
                "payment {} is {status} but the provider has no charge for it (provider ref {:?})",
                text(&p["id"]),
                p["provider_ref"].as_str()
            ));
        }
        if OPEN.contains(&status) {
            v.push(format!(
                "payment {} is still {status} after the janitor's schedule",
                text(&p["id"])
            ));
        }
        if let (Some(refunded), Some(amount)) = (
            kurus(&p["refunded_amount"]),
            kurus(&p["authorized_amount"]).or_else(|| kurus(&p["amount"])),
        ) {
            if refunded > amount {
                v.push(format!(
                    "payment {} refunded {refunded}, more than its {amount}",
                    text(&p["id"])
                ));
            }
        }
    }

    // Cancels and refunds at the provider, and our records of them.
    let mut reversals: HashMap<&str, (usize, Kurus)> = HashMap::new();
    for t in &evidence.ledger {
        if t.status != TxStatus::Success {
            continue;
        }
        let Some(sale) = t.sale_reference_code.as_deref() else {
            continue;
        };
        let entry = reversals.entry(sale).or_insert((0, Kurus::ZERO));
        match t.kind {
            TxKind::Cancel => {
                verdict.cancels += 1;
                entry.0 += 1;
            }
            TxKind::Refund | TxKind::RefundP => {
                verdict.refunds += 1;
                verdict.refunded = verdict
                    .refunded
                    .checked_add(t.amount)
                    .unwrap_or(verdict.refunded);
                entry.1 = entry.1.checked_add(t.amount).unwrap_or(entry.1);
            }
            _ => {}
        }
    }
    for (sale, (cancels, _)) in &reversals {
        if *cancels > 1 {
            v.push(format!(
                "sale {sale} was cancelled {cancels} times at the provider"
            ));
        }
    }
    let mut bank_details = Vec::new();
    for (id, detail) in &evidence.details {
        for r in detail["refunds"].as_array().into_iter().flatten() {
            if text(&r["status"]) == "scheduled" {
                v.push(format!(
                    "payment {id}: refund {} still scheduled after the providers' day close",
                    text(&r["id"])
                ));
            }
        }
        if let Some(bank) = bank_of(detail) {
            bank_details.push((bank, id.as_str(), detail));
            continue;
        }
        let refunds = detail["refunds"].as_array().cloned().unwrap_or_default();
        let mut approved_cancels = 0;
        let mut approved_refunds = Kurus::ZERO;
        for r in &refunds {
            let status = text(&r["status"]);
            if matches!(status, "pending" | "unknown") {
                v.push(format!(
                    "payment {id}: {} {} left {status} after the janitor's schedule",
                    text(&r["kind"]),
                    text(&r["id"])
                ));
            }
            if status == "approved" {
                match text(&r["kind"]) {
                    "cancel" => approved_cancels += 1,
                    _ => {
                        let amount = kurus(&r["amount"]).unwrap_or(Kurus::ZERO);
                        approved_refunds = approved_refunds
                            .checked_add(amount)
                            .unwrap_or(approved_refunds);
                    }
                }
            }
        }
        let provider = detail["provider_ref"]
            .as_str()
            .and_then(|r| reversals.get(r))
            .copied()
            .unwrap_or((0, Kurus::ZERO));
        if approved_cancels != provider.0 || approved_refunds != provider.1 {
            v.push(format!(
                "payment {id}: we record {approved_cancels} cancel(s) and {approved_refunds} refunded, \
                 the provider {} cancel(s) and {} refunded",
                provider.0, provider.1
            ));
        }
    }

    // What the clients were shown stays true.
    for id in &evidence.clients.approved {
        match by_id.get(id.as_str()) {
            None => v.push(format!(
                "payment {id} was shown approved and is not in the list"
            )),
            Some(p) if !APPROVED_LIKE.contains(&text(&p["status"])) => v.push(format!(
                "payment {id} was shown approved and is now {}",
                text(&p["status"])
            )),
            Some(_) => {}
        }
    }

    for (index, bank) in evidence.banks.iter().enumerate() {
        let payments: Vec<&Value> = bank_payments
            .iter()
            .copied()
            .filter(|p| bank_of(p) == Some(index))
            .collect();
        let details: Vec<(&str, &Value)> = bank_details
            .iter()
            .filter(|(b, _, _)| *b == index)
            .map(|(_, id, detail)| (*id, *detail))
            .collect();
        let (figures, found) = bank_judge::judge(bank, &payments, &details);
        verdict.banks.push(figures);
        v.extend(found);
    }

    v.sort();
    v.dedup();
    verdict.violations = v;
    verdict
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::soak::bank_judge::{BankKind, BankRow};
    use serde_json::json;

    fn sale(reference: &str, client_ref: &str, amount: &str) -> Transaction {
        let now = chrono::Utc::now().fixed_offset();
        Transaction {
            seq: 0,
            merchant_no: "1".into(),
            reference_code: reference.into(),
            sale_reference_code: None,
            client_ref: client_ref.into(),
            kind: TxKind::Sales,
            status: TxStatus::Success,
            auth_code: "123456".into(),
            amount: Kurus::parse(amount).unwrap(),
            authorization_amount: Kurus::parse(amount).unwrap(),
            surcharge: Kurus::ZERO,
            commission: Kurus::ZERO,
            commission_rate_bp: 0,
            surcharge_rate_bp: 0,
            installments: 1,
            currency: sanalpos_core::Currency::Try,
            masked_pan: sanalpos_core::MaskedPan::parse("510138******5104").unwrap(),
            card_holder: String::new(),
            card_bank_code: String::new(),
            card_bank_name: String::new(),
            program: String::new(),
            is_3d: false,
            description: String::new(),
            bank_code: "00".into(),
            bank_result: String::new(),
            created_at: now,
            business_day: now.date_naive(),
            valor_date: now.date_naive(),
            panel: false,
            pre_approved: false,
            cancelled: false,
            returned_amount: Kurus::ZERO,
        }
    }

    fn payment(id: &str, status: &str, provider_ref: Option<&str>, order: &str) -> Value {
        json!({"id": id, "status": status, "provider_ref": provider_ref, "order_ref": order,
               "amount": "10.00", "authorized_amount": "10.00", "refunded_amount": "0.00"})
    }

    #[test]
    fn a_consistent_run_passes() {
        let evidence = Evidence {
            payments: vec![
                payment("pay_1", "approved", Some("R1"), "k1"),
                payment("pay_2", "declined", None, "k2"),
            ],
            ledger: vec![sale("R1", "c1", "10.00")],
            clients: ClientView {
                approved: vec!["pay_1".into()],
                ..ClientView::default()
            },
            ..Evidence::default()
        };
        let verdict = judge(&evidence);
        assert!(verdict.violations.is_empty(), "{:?}", verdict.violations);
        assert_eq!(verdict.charges, 1);
    }

    #[test]
    fn pre_authorisations_are_held_against_the_ledger() {
        let mut hold = sale("H1", "c1", "10.00");
        hold.kind = TxKind::PreSales;
        let mut capture = sale("C1", "c1", "6.00");
        capture.kind = TxKind::PreSalesCapture;
        capture.sale_reference_code = Some("H1".into());
        let mut open = sale("H2", "c2", "10.00");
        open.kind = TxKind::PreSales;
        let held = |id: &str, status: &str, reference: &str, amount: &str| {
            let mut p = payment(id, status, Some(reference), id);
            p["amount"] = json!(amount);
            p["authorized_amount"] = json!(amount);
            p["held_amount"] = json!("10.00");
            p
        };
        let ledger = vec![hold, capture, open];
        let right = Evidence {
            payments: vec![
                held("pay_1", "approved", "C1", "6.00"),
                held("pay_2", "authorized", "H2", "10.00"),
            ],
            ledger: ledger.clone(),
            ..Evidence::default()
        };
        let verdict = judge(&right);
        assert!(verdict.violations.is_empty(), "{:?}", verdict.violations);

        // Captured for the whole block here, still held there: both found.
        let wrong = Evidence {
            payments: vec![
                held("pay_1", "approved", "C1", "10.00"),
                held("pay_2", "released", "H2", "10.00"),
            ],
            ledger,
            ..Evidence::default()
        };
        let found = judge(&wrong).violations;
        assert!(
            found.iter().any(|v| v.contains("pay_1 amount 10.00")),
            "{found:?}"
        );
        assert!(
            found
                .iter()
                .any(|v| v.contains("pay_2 is released, the provider says authorized")),
            "{found:?}"
        );
    }

    fn bank_sale(reference: &str, order: &str) -> BankRow {
        BankRow {
            order_id: order.into(),
            reference: reference.into(),
            kind: BankKind::Sale,
            approved: true,
            amount: Kurus::parse("10.00").unwrap(),
            voided: false,
            target: None,
            refused_same_day: false,
        }
    }

    #[test]
    fn bank_payments_are_judged_against_their_own_bank_ledger_only() {
        let mut on_nestpay = payment("pay_2", "approved", Some("24001AbCd12345"), "k2");
        on_nestpay["pos_id"] = json!("pos_np");
        let mut stray = payment("pay_3", "approved", Some("24001XyZw54321"), "k3");
        stray["pos_id"] = json!("pos_np");
        let mut on_garanti = payment("pay_4", "approved", Some("533412345678"), "k4");
        on_garanti["pos_id"] = json!("pos_gr");
        // A Garanti payment naming a NestPay sale is not charged at its own bank.
        let mut crossed = payment("pay_5", "approved", Some("24001AbCd12345"), "k5");
        crossed["pos_id"] = json!("pos_gr");
        let evidence = Evidence {
            payments: vec![
                payment("pay_1", "approved", Some("R1"), "k1"),
                on_nestpay,
                stray,
                on_garanti,
                crossed,
            ],
            ledger: vec![sale("R1", "c1", "10.00")],
            banks: vec![
                BankLedger {
                    name: "NestPay",
                    pos_id: "pos_np".into(),
                    rows: vec![bank_sale("24001AbCd12345", "o2")],
                },
                BankLedger {
                    name: "Garanti",
                    pos_id: "pos_gr".into(),
                    rows: vec![bank_sale("533412345678", "o4")],
                },
            ],
            clients: ClientView {
                approved: vec!["pay_1".into(), "pay_2".into(), "pay_4".into()],
                ..ClientView::default()
            },
            ..Evidence::default()
        };
        let verdict = judge(&evidence);
        assert_eq!(verdict.charges, 1);
        let nestpay = verdict.bank("NestPay").unwrap();
        assert_eq!((nestpay.charges, nestpay.payments()), (1, 2));
        let garanti = verdict.bank("Garanti").unwrap();
        assert_eq!((garanti.charges, garanti.payments()), (1, 2));
        assert_eq!(
            verdict.violations,
            vec![
                "Garanti: payment pay_5 is approved but the bank has no approved sale for it \
                 (provider ref Some(\"24001AbCd12345\"))"
                    .to_owned(),
                "NestPay: payment pay_3 is approved but the bank has no approved sale for it \
                 (provider ref Some(\"24001XyZw54321\"))"
                    .to_owned(),
            ]
        );
    }

    #[test]
    fn each_kind_of_damage_is_named() {
        let mut twice = sale("R2", "c1", "10.00");
        twice.client_ref = "c1".into();
        let mut cancelled = sale("R3", "c3", "10.00");
        cancelled.cancelled = true;
        let evidence = Evidence {
            payments: vec![
                payment("pay_1", "approved", Some("R1"), "k1"),
                payment("pay_3", "approved", Some("R3"), "k3"),
                payment("pay_4", "approved", Some("R9"), "k4"),
                payment("pay_5", "unknown", None, "k5"),
                payment("pay_6", "declined", None, "k5"),
            ],
            ledger: vec![sale("R1", "c1", "10.00"), twice, cancelled],
            clients: ClientView {
                approved: vec!["pay_6".into()],
                ..ClientView::default()
            },
            ..Evidence::default()
        };
        let all = judge(&evidence).violations.join("\n");
        for expected in [
            "charged twice: client reference c1",
            "charge R2 (10.00 TL, client reference c1) at the provider is not in our database",
            "payment pay_3 is approved, the provider says cancelled",
            "payment pay_4 is approved but the provider has no charge",
            "payment pay_5 is still unknown",
            "order k5 (one idempotency key) has 2 payments, 0 of them charged",
            "payment pay_6 was shown approved and is now declined",
        ] {
            assert!(all.contains(expected), "missing {expected:?} in:\n{all}");
        }
    }
}
