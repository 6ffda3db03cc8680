//! One group to one item: the class, the reason, the amounts and the flags.

use std::cmp::Ordering;

use chrono::Days;

use sanalpos_core::Kurus;

use crate::engine::is_refund;
use crate::model::{Class, Flag, Money, Options, OurPayment, PaymentStatus, Reason, Totals};
use crate::row::{ProviderRow, RowKind, RowState};

/// The canonical order of provider rows: by content, the line number last, so rows
/// that differ only in where they stood in the file are interchangeable.
pub(crate) fn row_cmp(a: &ProviderRow, b: &ProviderRow) -> Ordering {
    a.provider_ref
        .cmp(&b.provider_ref)
        .then_with(|| a.kind.cmp(&b.kind))
        .then_with(|| a.client_ref.cmp(&b.client_ref))
        .then_with(|| a.time.cmp(&b.time))
        .then_with(|| a.amount.cmp(&b.amount))
        .then_with(|| a.auth_code.cmp(&b.auth_code))
        .then_with(|| a.status.cmp(&b.status))
        .then_with(|| a.sale_ref.cmp(&b.sale_ref))
        .then_with(|| a.line.cmp(&b.line))
}

/// What a payment gave back so far: a cancel gives back everything.
fn ours_reversed(p: &OurPayment) -> Kurus {
    if p.status == PaymentStatus::Cancelled {
        p.amount
    } else {
        p.refunded_amount
    }
}

/// The provider's view of a sale after its cancels and refunds.
struct Theirs {
    cancelled: bool,
    refunded: Kurus,
}

fn fold_reversals(theirs: &[ProviderRow], reversals: &[u32]) -> Theirs {
    let mut view = Theirs {
        cancelled: false,
        refunded: Kurus::ZERO,
    };
    for r in reversals {
        let row = &theirs[*r as usize];
        if row.status != RowState::Success {
            continue;
        }
        if row.kind == RowKind::Cancel {
            view.cancelled = true;
        } else if is_refund(row.kind) {
            view.refunded = view.refunded + row.amount;
        }
    }
    view
}

/// Whether two successful reversal rows carry the same own reference.
fn repeated_reversal(theirs: &[ProviderRow], reversals: &[u32], sale_ref: Option<&str>) -> bool {
    if reversals.len() < 2 {
        return false;
    }
    let mut refs: Vec<&str> = reversals
        .iter()
        .map(|r| &theirs[*r as usize])
        .filter(|row| row.status == RowState::Success)
        .filter_map(|row| row.provider_ref.as_ref().map(|x| x.as_str()))
        .filter(|x| Some(*x) != sale_ref)
        .collect();
    refs.sort_unstable();
    refs.windows(2).any(|w| w[0] == w[1])
}

/// The members of one group, in canonical order: payments by id; sale rows, then
/// cancels and refunds, each in row order.
pub(crate) struct Members<'a> {
    pub(crate) payments: &'a [u32],
    pub(crate) sales: &'a [u32],
    pub(crate) reversals: &'a [u32],
}

impl<'a> Members<'a> {
    /// `rows` must hold the sale rows first.
    pub(crate) fn new(payments: &'a [u32], rows: &'a [u32], theirs: &[ProviderRow]) -> Members<'a> {
        let split = rows.partition_point(|r| !theirs[*r as usize].kind.is_reversal());
        let (sales, reversals) = rows.split_at(split);
        Members {
            payments,
            sales,
            reversals,
        }
    }
}

/// The class of one group and why. Precedence: duplicate, then status, then amount.
pub(crate) fn verdict(
    g: &Members<'_>,
    ours: &[OurPayment],
    theirs: &[ProviderRow],
    options: &Options,
) -> (Class, Reason) {
    if g.sales.len() > 1 {
        return (Class::Duplicate, Reason::DuplicateRows);
    }
    if g.payments.len() > 1 {
        return (Class::Duplicate, Reason::DuplicatePayments);
    }
    let sale_ref = g
        .sales
        .first()
        .and_then(|r| theirs[*r as usize].provider_ref.as_ref())
        .map(|x| x.as_str());
    if repeated_reversal(theirs, g.reversals, sale_ref) {
        return (Class::Duplicate, Reason::DuplicateReversals);
    }
    let payment = g.payments.first().map(|p| &ours[*p as usize]);
    let sale = g.sales.first().map(|r| &theirs[*r as usize]);
    match (payment, sale) {
        (None, None) => (Class::ProviderOnly, Reason::ReversalWithoutSale),
        (None, Some(row)) if row.status == RowState::Success => {
            (Class::ProviderOnly, Reason::MissingHere)
        }
        (None, Some(_)) => (Class::Matched, Reason::NothingMoved),
        (Some(p), None) => {
            let view = fold_reversals(theirs, g.reversals);
            alone_here(p, &view, !g.reversals.is_empty(), options)
        }
        (Some(p), Some(row)) => compare(p, row, &fold_reversals(theirs, g.reversals)),
    }
}

/// The commission table's checks that did not hold for a group of one payment and one
/// sale row, both of which moved money, in a class [`verdict`] gave it other than
/// duplicate; none for any other group.
pub(crate) fn check_pair(
    g: &Members<'_>,
    class: Class,
    ours: &[OurPayment],
    theirs: &[ProviderRow],
) -> Box<[Flag]> {
    if class == Class::Duplicate {
        return Box::default();
    }
    let (&[p], &[r]) = (g.payments, g.sales) else {
        return Box::default();
    };
    let (p, row) = (&ours[p as usize], &theirs[r as usize]);
    if !matches!(
        (p.status.money(), row.status),
        (Money::Charged { .. }, RowState::Success)
    ) {
        return Box::default();
    }
    check_table(p, row).into_boxed_slice()
}

/// The amounts of one group on each side.
pub(crate) fn totals(g: &Members<'_>, ours: &[OurPayment], theirs: &[ProviderRow]) -> Totals {
    let cancelled: Kurus = g
        .reversals
        .iter()
        .map(|r| &theirs[*r as usize])
        .filter(|row| row.status == RowState::Success && row.kind == RowKind::Cancel)
        .map(|row| row.amount)
        .sum();
    Totals {
        ours: g.payments.iter().map(|p| ours[*p as usize].amount).sum(),
        theirs: g.sales.iter().map(|r| theirs[*r as usize].amount).sum(),
        ours_reversed: g
            .payments
            .iter()
            .map(|p| ours_reversed(&ours[*p as usize]))
            .sum(),
        theirs_reversed: cancelled + fold_reversals(theirs, g.reversals).refunded,
    }
}

/// A payment with no sale row at the provider.
fn alone_here(
    p: &OurPayment,
    view: &Theirs,
    has_reversals: bool,
    options: &Options,
) -> (Class, Reason) {
    let outside = options
        .period
        .is_some_and(|(from, to)| p.business_date < from || p.business_date > to);
    if outside {
        // Only here because a cancel or refund of the period points at it.
        return match p.status.money() {
            Money::Charged { cancelled } if view.cancelled && !cancelled => {
                (Class::StatusMismatch, Reason::CancelDiffers)
            }
            Money::Charged { cancelled: false } if view.refunded > p.refunded_amount => {
                (Class::StatusMismatch, Reason::RefundDiffers)
            }
            Money::Charged { .. } => (Class::Matched, Reason::ReversalsAgree),
            Money::NotCharged if !has_reversals => (Class::Matched, Reason::NothingMoved),
            Money::NotCharged => (Class::StatusMismatch, Reason::ChargedThereOnly),
            Money::Uncertain => (Class::StatusMismatch, Reason::UncertainHere),
        };
    }
    match p.status.money() {
        Money::NotCharged if !has_reversals => (Class::Matched, Reason::NothingMoved),
        Money::NotCharged => (Class::StatusMismatch, Reason::ChargedThereOnly),
        Money::Charged { .. } | Money::Uncertain => (Class::SystemOnly, Reason::MissingThere),
    }
}

/// One payment against one sale row and its reversals.
fn compare(p: &OurPayment, row: &ProviderRow, view: &Theirs) -> (Class, Reason) {
    // `Some(cancelled)` when the provider charged the card, `None` when it did not.
    let there = (row.status == RowState::Success).then_some(view.cancelled);
    match (p.status.money(), there) {
        (Money::NotCharged, None) => (Class::Matched, Reason::NothingMoved),
        (Money::Uncertain, _) => (Class::StatusMismatch, Reason::UncertainHere),
        (Money::Charged { .. }, None) => (Class::StatusMismatch, Reason::ChargedHereOnly),
        (Money::NotCharged, Some(_)) => (Class::StatusMismatch, Reason::ChargedThereOnly),
        (Money::Charged { cancelled: here }, Some(there)) => {
            if here != there {
                (Class::StatusMismatch, Reason::CancelDiffers)
            } else if !here && p.refunded_amount != view.refunded {
                (Class::StatusMismatch, Reason::RefundDiffers)
            } else if p.amount != row.amount {
                (Class::AmountMismatch, Reason::AmountDiffers)
            } else if matches!((p.authorized_amount, row.authorized_amount), (Some(a), Some(b)) if a != b)
            {
                (Class::AmountMismatch, Reason::AuthorizedAmountDiffers)
            } else {
                (Class::Matched, Reason::Agreed)
            }
        }
    }
}

/// Commission and value date against the POS's installment table.
fn check_table(p: &OurPayment, row: &ProviderRow) -> Vec<Flag> {
    let Some(expected) = p.expected else {
        return Vec::new();
    };
    let mut flags = Vec::new();
    if let Some(actual) = row.commission {
        let base = row
            .authorized_amount
            .or(p.authorized_amount)
            .unwrap_or(p.amount);
        let wanted = base.percent_bp(expected.commission_bp);
        if wanted != actual {
            flags.push(Flag::Commission {
                expected: wanted,
                actual,
            });
        }
    }
    if let (Some(actual), Some(wanted)) = (
        row.value_date,
        p.business_date
            .checked_add_days(Days::new(u64::from(expected.value_days))),
    ) {
        if wanted != actual {
            flags.push(Flag::ValueDate {
                expected: wanted,
                actual,
            });
        }
    }
    flags
}
