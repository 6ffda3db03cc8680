#![allow(clippy::unwrap_used)]
//! Properties of the engine on random inputs with many collisions: every payment and
//! every row lands in exactly one item, shuffling changes nothing, totals are exact.

use crate::helpers::*;
use proptest::prelude::*;
use sanalpos_core::{AuthCode, Kurus, ProviderRef};
use sanalpos_recon::{
    reconcile, Class, Options, OurPayment, PaymentStatus, ProviderRow, Reconciliation, RowKind,
    RowState,
};

/// A payment's random parts: (unused, reference, client, status, amount, refunded, day, auth).
type PaySpec = (u8, Option<u8>, u8, usize, i64, i64, u32, bool);
/// A row's random parts: (reference, sale reference, client, kind, status, amount, day, auth).
type RowSpec = (Option<u8>, Option<u8>, u8, u8, u8, i64, u32, bool);

const STATUSES: [PaymentStatus; 10] = [
    PaymentStatus::Approved,
    PaymentStatus::Approved,
    PaymentStatus::Declined,
    PaymentStatus::Failed,
    PaymentStatus::Unknown,
    PaymentStatus::Cancelled,
    PaymentStatus::PartiallyRefunded,
    PaymentStatus::Refunded,
    PaymentStatus::Expired,
    PaymentStatus::Processing,
];

fn payment() -> impl Strategy<Value = PaySpec> {
    (
        any::<u8>(),
        proptest::option::of(0u8..12),
        0u8..6,
        0usize..STATUSES.len(),
        1i64..500,
        0i64..100,
        27u32..31,
        any::<bool>(),
    )
}

fn row() -> impl Strategy<Value = RowSpec> {
    (
        proptest::option::of(0u8..12),
        proptest::option::of(0u8..12),
        0u8..6,
        0u8..6,
        0u8..4,
        1i64..500,
        27u32..31,
        any::<bool>(),
    )
}

fn build(pays: &[PaySpec], rows: &[RowSpec]) -> (Vec<OurPayment>, Vec<ProviderRow>) {
    let ours = pays
        .iter()
        .enumerate()
        .map(
            |(i, (_, reference, client, status, amount, refunded, d, has_auth))| {
                let mut p = pay(&format!("p{i}"), None, *amount);
                p.provider_ref = reference.map(|r| ProviderRef::parse(&format!("R{r}")).unwrap());
                p.client_ref = Some(format!("c{client}").into());
                p.auth_code = has_auth.then(|| AuthCode::parse(&format!("A{client}")).unwrap());
                p.status = STATUSES[*status];
                p.refunded_amount = Kurus::from_minor((*refunded).min(*amount)).unwrap();
                p.business_date = day(*d);
                p
            },
        )
        .collect();
    let theirs = rows
        .iter()
        .enumerate()
        .map(
            |(i, (reference, sale_ref, client, kind, status, amount, d, has_auth))| {
                let mut r = sale("x", None, *amount);
                r.provider_ref = reference.map(|x| ProviderRef::parse(&format!("R{x}")).unwrap());
                r.sale_ref =
                    sale_ref.map(|x| Box::new(ProviderRef::parse(&format!("R{x}")).unwrap()));
                r.client_ref = Some(format!("c{client}").into());
                r.auth_code = has_auth.then(|| AuthCode::parse(&format!("A{client}")).unwrap());
                r.kind = match kind {
                    0..=2 => RowKind::Sale,
                    3 => RowKind::Cancel,
                    4 => RowKind::Refund,
                    _ => RowKind::PartialRefund,
                };
                r.status = match status {
                    0 | 1 => RowState::Success,
                    2 => RowState::Error,
                    _ => RowState::New,
                };
                r.time = Some(at(*d, 12, 0));
                r.line = std::num::NonZeroU32::new(u32::try_from(i).unwrap() + 2);
                r
            },
        )
        .collect();
    (ours, theirs)
}

/// The result with indexes replaced by content, so it can be compared across orders.
fn content(r: &Reconciliation, ours: &[OurPayment], theirs: &[ProviderRow]) -> Vec<String> {
    r.items
        .iter()
        .map(|item| {
            let pays: Vec<&str> = item
                .payments()
                .iter()
                .map(|p| ours[*p as usize].id.as_str())
                .collect();
            let rows: Vec<ProviderRow> = item
                .rows()
                .iter()
                .map(|x| ProviderRow {
                    line: None,
                    ..theirs[*x as usize].clone()
                })
                .collect();
            let amounts = item.totals(ours, theirs);
            format!(
                "{:?} {:?} {:?} {:?} {:?} {pays:?} {rows:?} {} {} {} {}",
                item.class,
                item.reason,
                item.key,
                item.proposal.map(|p| ours[p as usize].id.as_str()),
                item.flags,
                amounts.ours,
                amounts.theirs,
                amounts.ours_reversed,
                amounts.theirs_reversed
            )
        })
        .collect()
}

fn shuffle<T: Clone>(items: &[T], seed: u64) -> Vec<T> {
    let mut out = items.to_vec();
    let mut state = seed | 1;
    for i in (1..out.len()).rev() {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        let j = usize::try_from(state % (i as u64 + 1)).unwrap();
        out.swap(i, j);
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn every_input_lands_in_exactly_one_item(
        pays in proptest::collection::vec(payment(), 0..40),
        rows in proptest::collection::vec(row(), 0..40),
    ) {
        let (ours, theirs) = build(&pays, &rows);
        let r = reconcile(&ours, &theirs, &Options::default());
        let mut seen_p = vec![0u32; ours.len()];
        let mut seen_r = vec![0u32; theirs.len()];
        for item in &r.items {
            prop_assert!(!item.payments().is_empty() || !item.rows().is_empty());
            for p in item.payments() { seen_p[*p as usize] += 1; }
            for x in item.rows() { seen_r[*x as usize] += 1; }
        }
        prop_assert!(seen_p.iter().all(|n| *n == 1), "{seen_p:?}");
        prop_assert!(seen_r.iter().all(|n| *n == 1), "{seen_r:?}");
        let count: u64 = Class::ALL.iter().map(|c| r.summary.get(*c).count).sum();
        prop_assert_eq!(count, r.items.len() as u64);
    }

    #[test]
    fn shuffling_changes_nothing(
        pays in proptest::collection::vec(payment(), 0..40),
        rows in proptest::collection::vec(row(), 0..40),
        seed in any::<u64>(),
        window in 0u16..3,
    ) {
        let (ours, theirs) = build(&pays, &rows);
        let options = Options { date_window_days: window, period: None };
        let a = reconcile(&ours, &theirs, &options);
        let ours2 = shuffle(&ours, seed);
        let theirs2 = shuffle(&theirs, seed.rotate_left(17));
        let b = reconcile(&ours2, &theirs2, &options);
        prop_assert_eq!(content(&a, &ours, &theirs), content(&b, &ours2, &theirs2));
        prop_assert_eq!(a.summary, b.summary);
    }

    #[test]
    fn class_totals_sum_to_the_input_totals(
        pays in proptest::collection::vec(payment(), 0..40),
        rows in proptest::collection::vec(row(), 0..40),
    ) {
        let (ours, theirs) = build(&pays, &rows);
        let r = reconcile(&ours, &theirs, &Options::default());
        let sum = |f: &dyn Fn(&sanalpos_recon::ClassTotals) -> Kurus| -> Kurus {
            Class::ALL.iter().map(|c| f(r.summary.get(*c))).sum()
        };
        let ours_total: Kurus = ours.iter().map(|p| p.amount).sum();
        let theirs_sales: Kurus = theirs.iter().filter(|x| x.kind == RowKind::Sale).map(|x| x.amount).sum();
        let theirs_reversed: Kurus = theirs
            .iter()
            .filter(|x| x.kind != RowKind::Sale && x.status == RowState::Success)
            .map(|x| x.amount)
            .sum();
        let ours_reversed: Kurus = ours
            .iter()
            .map(|p| if p.status == PaymentStatus::Cancelled { p.amount } else { p.refunded_amount })
            .sum();
        prop_assert_eq!(sum(&|t| t.ours), ours_total);
        prop_assert_eq!(sum(&|t| t.theirs), theirs_sales);
        prop_assert_eq!(sum(&|t| t.ours_reversed), ours_reversed);
        prop_assert_eq!(sum(&|t| t.theirs_reversed), theirs_reversed);
        // Each class's totals are its items' amounts.
        for class in Class::ALL {
            let mut amounts = sanalpos_recon::Totals::default();
            for item in r.items.iter().filter(|i| i.class == class) {
                let t = item.totals(&ours, &theirs);
                amounts.ours = amounts.ours + t.ours;
                amounts.theirs = amounts.theirs + t.theirs;
                amounts.ours_reversed = amounts.ours_reversed + t.ours_reversed;
                amounts.theirs_reversed = amounts.theirs_reversed + t.theirs_reversed;
            }
            let totals = r.summary.get(class);
            prop_assert_eq!(
                (amounts.ours, amounts.theirs, amounts.ours_reversed, amounts.theirs_reversed),
                (totals.ours, totals.theirs, totals.ours_reversed, totals.theirs_reversed)
            );
        }
        let diff: i128 = Class::ALL.iter().map(|c| r.summary.get(*c).difference.0).sum();
        prop_assert_eq!(diff, i128::from(theirs_sales.minor()) - i128::from(ours_total.minor()));
    }
}
