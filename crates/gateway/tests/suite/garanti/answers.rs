//! Every recorded answer of vectors/garanti.json through the answer and query readers.

use sanalpos_gateway::garanti::answer::{outcome, Operation, Sent};
use sanalpos_gateway::garanti::query::{read_history, read_status, summarize, OrderStatus};
use sanalpos_gateway::{DeclineKind, FailureKind, Inquiry, Outcome};

use super::helpers::{answer, kurus, vectors};

fn sent(operation: Operation) -> Sent {
    Sent {
        operation,
        amount: Some(kurus("1.01")),
        installments: Some(1),
    }
}

#[test]
fn there_are_ten_recorded_answers() {
    assert_eq!(vectors()["answers"].as_array().unwrap().len(), 10);
}

#[test]
fn an_approved_sale_and_an_approved_3d_provision() {
    for index in [0, 2] {
        let Outcome::Approved(a) = outcome(&answer(index), sent(Operation::Sale)) else {
            panic!("answer {index}")
        };
        assert!(a.auth_code.is_some());
        assert_eq!(a.authorized_amount, Some(kurus("1.01")));
    }
    let Outcome::Approved(a) = outcome(&answer(0), sent(Operation::Sale)) else {
        panic!()
    };
    assert_eq!(a.provider_ref.as_str(), "230508300434");
    assert_eq!(a.auth_code.unwrap().as_str(), "304919");
}

#[test]
fn a_missing_field_is_a_refusal_before_processing() {
    let o = outcome(&answer(1), sent(Operation::Sale));
    let Outcome::Failed(f) = o else {
        panic!("{o:?}")
    };
    assert_eq!(f.kind, FailureKind::Rejected);
    assert!(f.detail.contains("0002"), "{}", f.detail);
}

#[test]
fn issuer_declines_carry_the_iso_code_and_turkish_text() {
    let Outcome::Declined(d) = outcome(&answer(3), sent(Operation::ThreeDSale)) else {
        panic!()
    };
    assert_eq!(d.bank_code.as_ref().unwrap().as_str(), "12");
    assert!(d.provider_text.contains("CVC2/4CSC HATALI"));
    assert!(!d.message.tr.is_empty() && !d.message.en.is_empty());
    let void = Sent {
        operation: Operation::Void,
        amount: None,
        installments: None,
    };
    let Outcome::Declined(d) = outcome(&answer(7), void) else {
        panic!()
    };
    assert_eq!(d.bank_code.as_ref().unwrap().as_str(), "05");
    assert_eq!(d.kind, DeclineKind::Refused);
    assert!(d.provider_text.contains("RPC-05"));
}

#[test]
fn a_refused_refund_means_the_day_is_not_closed() {
    let refund = Sent {
        operation: Operation::Refund,
        amount: None,
        installments: None,
    };
    let Outcome::Declined(d) = outcome(&answer(8), refund) else {
        panic!()
    };
    assert_eq!(d.kind, DeclineKind::DayNotClosed);
    assert!(d.bank_code.is_none());
    assert!(d
        .provider_text
        .contains("İade etmek istediğiniz işlem geçerli değil"));
}

#[test]
fn order_inquiries_read_into_the_janitors_words() {
    let OrderStatus::Found(captured) = read_status(&answer(4)).unwrap() else {
        panic!()
    };
    assert_eq!(captured.status, "APPROVED");
    assert_eq!(captured.auth_amount, Some(kurus("1.01")));
    let Inquiry::Approved {
        approval,
        reversed,
        cancelled,
        ..
    } = summarize(&captured, &[], kurus("1.01"))
    else {
        panic!()
    };
    assert_eq!(approval.provider_ref.as_str(), "300708704369");
    assert!(!cancelled && reversed.minor() == 0);
    // Reported for less than asked: a person must look.
    assert!(matches!(
        summarize(&captured, &[], kurus("1.02")),
        Inquiry::Pending
    ));

    let OrderStatus::Found(pre) = read_status(&answer(5)).unwrap() else {
        panic!()
    };
    assert_eq!(pre.status, "WAITINGPOSTAUTH");
    assert_eq!(pre.pre_auth_amount, Some(kurus("1.01")));
    assert!(matches!(
        summarize(&pre, &[], kurus("1.01")),
        Inquiry::Approved { .. }
    ));

    assert_eq!(read_status(&answer(6)).unwrap(), OrderStatus::NotFound);
}

#[test]
fn a_single_history_entry_reads_like_a_list() {
    let history = read_history(&answer(9)).unwrap();
    assert_eq!(history.len(), 1);
    let t = &history[0];
    assert_eq!(t.kind, "sales");
    assert_eq!(t.status, "00");
    assert_eq!(t.auth_amount, Some(kurus("1.01")));
    assert_eq!(t.retref.as_ref().unwrap().as_str(), "400709699645");
    assert!(!t.settled);
    // An unknown order's history is empty, not an error.
    assert!(read_history(&answer(6)).unwrap().is_empty());
}
