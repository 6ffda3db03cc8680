#![allow(clippy::unwrap_used)]
//! The matching engine, one class and one key at a time.

use crate::helpers::*;
use chrono::{TimeZone, Utc};
use sanalpos_recon::{
    business_date, reconcile, Class, Expected, Flag, Item, MatchKey, Options, PaymentStatus,
    Reason, Reconciliation, RowKind, RowState,
};

fn run(
    ours: &[sanalpos_recon::OurPayment],
    theirs: &[sanalpos_recon::ProviderRow],
) -> Reconciliation {
    reconcile(ours, theirs, &Options::default())
}

fn only(result: &Reconciliation) -> &Item {
    assert_eq!(result.items.len(), 1, "{:#?}", result.items);
    &result.items[0]
}

#[test]
fn provider_reference_is_the_strongest_key() {
    let r = run(
        &[pay("1", Some("R1"), 15_000)],
        &[sale("1", Some("R1"), 15_000)],
    );
    let item = only(&r);
    assert_eq!(item.class, Class::Matched);
    assert_eq!(item.key, Some(MatchKey::ProviderRef));
    assert_eq!((item.payments(), item.rows()), (&[0][..], &[0][..]));
    assert_eq!(r.summary.matched.count, 1);
    assert_eq!(r.summary.matched.ours.minor(), 15_000);
}

#[test]
fn auth_code_amount_and_window_match_without_reference() {
    let mut row = sale("1", None, 15_000);
    row.client_ref = None;
    row.time = Some(at(30, 0, 1)); // the next day, inside the ±1 day window
    let r = run(&[pay("1", Some("R1"), 15_000)], &[row.clone()]);
    assert_eq!(only(&r).key, Some(MatchKey::AuthCode));
    assert_eq!(only(&r).class, Class::Matched);

    row.time = Some(at(31, 12, 0)); // two days later: not this payment
    let r = run(&[pay("1", Some("R1"), 15_000)], &[row]);
    assert_eq!(r.items.len(), 2);
    assert_eq!(r.items[0].class, Class::ProviderOnly);
    assert_eq!(r.items[1].class, Class::SystemOnly);
}

#[test]
fn client_reference_matches_when_nothing_stronger_does() {
    let mut row = sale("1", None, 15_000);
    row.auth_code = None;
    let mut ours = pay("1", None, 15_100);
    ours.provider_ref = None;
    let r = run(&[ours], &[row]);
    let item = only(&r);
    assert_eq!(item.key, Some(MatchKey::ClientRef));
    assert_eq!(item.class, Class::AmountMismatch);
    assert_eq!(item.reason, Reason::AmountDiffers);
    assert_eq!(r.summary.amount_mismatch.difference.0, -100);
}

#[test]
fn amount_and_last_four_are_only_a_proposal() {
    let mut row = sale("9", Some("R9"), 15_000);
    row.auth_code = None;
    row.client_ref = None;
    let r = run(&[pay("1", None, 15_000)], &[row]);
    assert_eq!(r.items.len(), 2);
    let provider_only = &r.items[0];
    assert_eq!(provider_only.class, Class::ProviderOnly);
    assert_eq!(provider_only.proposal, Some(0)); // the payment with id "1"
    assert_eq!(r.items[1].class, Class::SystemOnly);
    assert_eq!(r.items[1].payments(), [0]);
}

#[test]
fn cancelled_there_approved_here_is_a_status_mismatch() {
    let theirs = [
        sale("1", Some("R1"), 15_000),
        reversal(RowKind::Cancel, "R1C", None, "1", 15_000),
    ];
    let ours = [pay("1", Some("R1"), 15_000)];
    let r = run(&ours, &theirs);
    let item = only(&r);
    assert_eq!(
        (item.class, item.reason),
        (Class::StatusMismatch, Reason::CancelDiffers)
    );
    assert_eq!(item.rows(), [0, 1]);
    let amounts = item.totals(&ours, &theirs);
    assert_eq!(amounts.theirs_reversed.minor(), 15_000);
    assert_eq!(
        (amounts.ours.minor(), amounts.theirs.minor()),
        (15_000, 15_000)
    );

    let mut cancelled = pay("1", Some("R1"), 15_000);
    cancelled.status = PaymentStatus::Cancelled;
    assert_eq!(only(&run(&[cancelled], &theirs)).class, Class::Matched);
}

#[test]
fn a_cancel_row_carrying_the_sale_reference_is_not_a_duplicate() {
    let mut cancel = reversal(RowKind::Cancel, "R1", None, "1", 15_000);
    cancel.client_ref = None;
    let mut ours = pay("1", Some("R1"), 15_000);
    ours.status = PaymentStatus::Cancelled;
    let r = run(&[ours], &[sale("1", Some("R1"), 15_000), cancel]);
    assert_eq!(only(&r).class, Class::Matched);
}

#[test]
fn partial_refunds_are_summed_and_compared() {
    let theirs = [
        sale("1", Some("R1"), 15_000),
        reversal(RowKind::PartialRefund, "R1P1", Some("R1"), "x", 2_000),
        reversal(RowKind::PartialRefund, "R1P2", Some("R1"), "y", 3_000),
    ];
    let mut ours = pay("1", Some("R1"), 15_000);
    ours.status = PaymentStatus::PartiallyRefunded;
    ours.refunded_amount = tl(5_000);
    assert_eq!(only(&run(&[ours.clone()], &theirs)).class, Class::Matched);
    ours.refunded_amount = tl(2_000);
    let r = run(&[ours], &theirs);
    assert_eq!(
        (only(&r).class, only(&r).reason),
        (Class::StatusMismatch, Reason::RefundDiffers)
    );
}

#[test]
fn refund_of_an_earlier_sale_outside_the_period() {
    let mut ours = pay("1", Some("R1"), 15_000);
    ours.business_date = day(20);
    ours.status = PaymentStatus::Refunded;
    ours.refunded_amount = tl(15_000);
    let refund = reversal(RowKind::Refund, "R1R", Some("R1"), "1", 15_000);
    let options = Options {
        period: Some((day(29), day(29))),
        ..Options::default()
    };
    let r = reconcile(
        std::slice::from_ref(&ours),
        std::slice::from_ref(&refund),
        &options,
    );
    assert_eq!(
        (only(&r).class, only(&r).reason),
        (Class::Matched, Reason::ReversalsAgree)
    );
    ours.status = PaymentStatus::Approved;
    ours.refunded_amount = tl(0);
    let r = reconcile(&[ours], &[refund], &options);
    assert_eq!(only(&r).class, Class::StatusMismatch);
}

#[test]
fn provider_only_system_only_and_nothing_moved() {
    let mut declined = pay("2", Some("R2"), 100);
    declined.status = PaymentStatus::Declined;
    let mut refused = sale("3", Some("R3"), 100);
    refused.status = RowState::Error;
    let mut unknown = pay("4", None, 100);
    unknown.status = PaymentStatus::Unknown;
    let r = run(
        &[pay("1", Some("R1"), 100), declined, unknown],
        &[sale("5", Some("R5"), 100), refused],
    );
    let classes: Vec<(Class, Reason)> = r.items.iter().map(|i| (i.class, i.reason)).collect();
    assert_eq!(
        classes,
        vec![
            (Class::Matched, Reason::NothingMoved), // declined here, absent there
            (Class::Matched, Reason::NothingMoved), // refused there, absent here
            (Class::ProviderOnly, Reason::MissingHere),
            (Class::SystemOnly, Reason::MissingThere),
            (Class::SystemOnly, Reason::MissingThere), // unknown here: someone must look
        ]
    );
}

#[test]
fn status_mismatches_both_ways() {
    let mut refused = sale("1", Some("R1"), 100);
    refused.status = RowState::New;
    let r = run(&[pay("1", Some("R1"), 100)], &[refused]);
    assert_eq!(only(&r).reason, Reason::ChargedHereOnly);
    let mut declined = pay("1", Some("R1"), 100);
    declined.status = PaymentStatus::Declined;
    let r = run(&[declined], &[sale("1", Some("R1"), 100)]);
    assert_eq!(only(&r).reason, Reason::ChargedThereOnly);
    let mut unknown = pay("1", Some("R1"), 100);
    unknown.status = PaymentStatus::Unknown;
    let r = run(&[unknown], &[sale("1", Some("R1"), 100)]);
    assert_eq!(
        (only(&r).class, only(&r).reason),
        (Class::StatusMismatch, Reason::UncertainHere)
    );
}

#[test]
fn duplicates_on_either_side() {
    let r = run(
        &[pay("1", Some("R1"), 100)],
        &[sale("1", Some("R1"), 100), sale("1", Some("R1"), 100)],
    );
    assert_eq!(
        (only(&r).class, only(&r).reason),
        (Class::Duplicate, Reason::DuplicateRows)
    );
    assert_eq!(r.summary.duplicate.theirs.minor(), 200);

    let r = run(
        &[pay("1", Some("R1"), 100), pay("2", Some("R1"), 100)],
        &[sale("1", Some("R1"), 100)],
    );
    assert_eq!(
        (only(&r).class, only(&r).reason),
        (Class::Duplicate, Reason::DuplicatePayments)
    );
    assert_eq!(only(&r).payments().len(), 2);

    let r = run(&[pay("1", Some("R1"), 100), pay("2", Some("R1"), 100)], &[]);
    assert_eq!(only(&r).class, Class::Duplicate);

    let refund = reversal(RowKind::Refund, "R1R", Some("R1"), "1", 100);
    let mut ours = pay("1", Some("R1"), 100);
    ours.status = PaymentStatus::Refunded;
    ours.refunded_amount = tl(100);
    let r = run(
        &[ours],
        &[sale("1", Some("R1"), 100), refund.clone(), refund],
    );
    assert_eq!(
        (only(&r).class, only(&r).reason),
        (Class::Duplicate, Reason::DuplicateReversals)
    );
}

#[test]
fn a_reversal_without_any_sale_is_provider_only() {
    let r = run(
        &[],
        &[reversal(RowKind::Refund, "X1", Some("NOPE"), "z", 100)],
    );
    assert_eq!(
        (only(&r).class, only(&r).reason),
        (Class::ProviderOnly, Reason::ReversalWithoutSale)
    );
}

#[test]
fn commission_and_value_date_are_flags_on_matched_items() {
    let mut ours = pay("1", Some("R1"), 10_000);
    ours.expected = Some(Expected {
        commission_bp: 249,
        value_days: 1,
    });
    let mut row = sale("1", Some("R1"), 10_000);
    row.authorized_amount = Some(tl(10_150));
    row.commission = Some(tl(253)); // 2.49 % of 101.50 = 2.527…
    row.value_date = Some(day(30));
    let r = run(&[ours.clone()], &[row.clone()]);
    assert_eq!(only(&r).flags.to_vec(), vec![]);
    row.commission = Some(tl(300));
    row.value_date = Some(day(31));
    let r = run(&[ours], &[row]);
    let item = only(&r);
    assert_eq!(item.class, Class::Matched);
    assert_eq!(
        item.flags.to_vec(),
        vec![
            Flag::Commission {
                expected: tl(253),
                actual: tl(300)
            },
            Flag::ValueDate {
                expected: day(30),
                actual: day(31)
            },
        ]
    );
    assert_eq!(r.summary.matched.commission_flags, 1);
    assert_eq!(r.summary.matched.value_date_flags, 1);
}

#[test]
fn sales_at_23_59_and_00_01_istanbul_are_on_different_business_days() {
    // 20:59 and 21:01 UTC on 29 August: one UTC date, two Istanbul dates.
    let late = Utc.with_ymd_and_hms(2025, 8, 29, 20, 59, 0).unwrap();
    let early = Utc.with_ymd_and_hms(2025, 8, 29, 21, 1, 0).unwrap();
    assert_eq!(business_date(late), day(29));
    assert_eq!(business_date(early), day(30));

    let mut a = pay("a", Some("RA"), 100);
    a.business_date = business_date(late);
    let mut b = pay("b", Some("RB"), 100);
    b.business_date = business_date(early);
    let mut row_a = sale("a", Some("RA"), 100);
    row_a.time = Some(at(29, 23, 59));
    let mut row_b = sale("b", Some("RB"), 100);
    row_b.time = Some(at(30, 0, 1));
    // Reconciling 29 August: the 00:01 payment's row is not in that day's statement;
    // the caller passes only payments of the period, and both sides agree.
    let r = reconcile(
        &[a.clone()],
        &[row_a.clone()],
        &Options {
            period: Some((day(29), day(29))),
            ..Options::default()
        },
    );
    assert_eq!(only(&r).class, Class::Matched);
    // Had the caller cut the day in UTC, the 00:01 sale would count on 29 August and
    // be missing from that day's statement.
    b.business_date = early.date_naive();
    let r = reconcile(
        &[a, b],
        &[row_a],
        &Options {
            period: Some((day(29), day(29))),
            ..Options::default()
        },
    );
    assert_eq!(r.summary.system_only.count, 1);
    // And the next day's run matches it.
    let mut b = pay("b", Some("RB"), 100);
    b.business_date = day(30);
    let r = reconcile(
        &[b],
        &[row_b],
        &Options {
            period: Some((day(30), day(30))),
            ..Options::default()
        },
    );
    assert_eq!(only(&r).class, Class::Matched);
}

#[test]
fn output_is_serializable_with_exact_amounts() {
    let r = run(
        &[pay("1", Some("R1"), 15_050)],
        &[sale("1", Some("R1"), 15_000)],
    );
    let json = serde_json_like(&r);
    assert!(json.contains("\"difference\":\"-0.50\""), "{json}");
}

fn serde_json_like(r: &Reconciliation) -> String {
    serde_json::to_string(&r.summary).unwrap()
}
