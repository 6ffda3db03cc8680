//! Every recorded answer, read and mapped.

use serde_json::Value;

use sanalpos_core::Kurus;
use sanalpos_gateway::nestpay::answer::{outcome, Operation, Sent};
use sanalpos_gateway::nestpay::query::{
    read_history, read_status, summarize, ChargeType, OrderStatus, TransStat,
};
use sanalpos_gateway::nestpay::xml::Cc5Response;
use sanalpos_gateway::{DeclineKind, Inquiry, Outcome};

use super::helpers::{answer, answer_bytes, vectors};

/// What each recorded answer must map to.
enum Expect {
    /// A call that may move money: its operation and the outcome kind.
    Call(Operation, &'static str),
    /// An ORDERSTATUS answer.
    Status,
    /// An ORDERHISTORY answer with this many records.
    History(usize),
}

fn expectation(index: usize) -> Expect {
    use Operation::*;
    match index {
        0 => Expect::Call(ThreeDSale, "approved"),
        1 => Expect::Call(Sale, "approved"),
        2 => Expect::Call(ThreeDSale, "declined"),
        3 => Expect::Call(Sale, "declined"),
        4 => Expect::Call(ThreeDSale, "declined"),
        5 => Expect::Call(Credit, "declined"),
        6 => Expect::Call(Credit, "declined"),
        7 => Expect::Call(Credit, "approved"),
        8 => Expect::Call(Void, "approved"),
        9 => Expect::Call(Void, "declined"),
        10 => Expect::Call(Void, "declined"),
        11..=16 => Expect::Status,
        17 => Expect::History(2),
        18 => Expect::History(1),
        19 => Expect::History(0),
        other => panic!("recorded answer {other} has no expectation: add one"),
    }
}

fn sent(operation: Operation) -> Sent {
    Sent {
        operation,
        amount: Some(Kurus::from_minor(101).unwrap()),
        installments: Some(1),
    }
}

#[test]
fn recorded_bytes_decode_to_the_recorded_values() {
    let v = vectors();
    for (i, entry) in v["answers"].as_array().unwrap().iter().enumerate() {
        let parsed = answer(i);
        for (name, value) in entry["decoded"].as_object().unwrap() {
            match value {
                Value::Object(children) => {
                    for (child, v) in children {
                        assert_eq!(
                            parsed.extra(child).unwrap(),
                            v.as_str().unwrap_or_default(),
                            "answer {i} Extra/{child}"
                        );
                    }
                }
                other => assert_eq!(
                    parsed.get(name).unwrap(),
                    other.as_str().unwrap_or_default(),
                    "answer {i} {name}"
                ),
            }
        }
    }
    // The character reference of the first recorded answer.
    assert_eq!(answer(0).extra("CARDISSUER"), Some("ZİRAAT BANKASI"));
    // The same answer as UTF-8 bytes declared UTF-8 reads the same.
    assert!(answer_bytes(2).contains(&0xDD), "İ is one ISO-8859-9 byte");
    let utf8 = super::helpers::render(&v["answers"][2]["decoded"]).replace("ISO-8859-9", "UTF-8");
    let from_utf8 = Cc5Response::parse(utf8.as_bytes()).unwrap();
    assert_eq!(from_utf8.extra("CARDISSUER"), Some("ZİRAAT BANKASI"));
    assert_eq!(from_utf8, answer(2));
}

#[test]
fn every_recorded_answer_maps_to_its_outcome() {
    let v = vectors();
    let answers = v["answers"].as_array().unwrap();
    assert_eq!(answers.len(), 20);
    for (i, entry) in answers.iter().enumerate() {
        let parsed = answer(i);
        match expectation(i) {
            Expect::Call(operation, kind) => {
                if let Some(mapped) = entry["mapped_status"].as_str() {
                    assert_eq!(mapped, kind, "answer {i}: the vector's mapped_status");
                }
                let o = outcome(&parsed, sent(operation));
                assert_eq!(o.kind(), kind, "answer {i} ({}): {o:?}", entry["what"]);
            }
            Expect::Status => {
                read_status(&parsed).unwrap_or_else(|e| panic!("answer {i}: {e}"));
            }
            Expect::History(n) => {
                let rows = read_history(&parsed).unwrap();
                assert_eq!(rows.len(), n, "answer {i}");
            }
        }
    }
}

#[test]
fn approvals_carry_the_bank_references() {
    let Outcome::Approved(a) = outcome(&answer(0), sent(Operation::ThreeDSale)) else {
        panic!()
    };
    assert_eq!(a.auth_code.unwrap().as_str(), "P18552");
    assert_eq!(a.provider_ref.as_str(), "23253WkfD10806");
    assert_eq!(a.authorized_amount, Kurus::from_minor(101));
    let Outcome::Approved(credit) = outcome(&answer(7), sent(Operation::Credit)) else {
        panic!()
    };
    assert_eq!(credit.provider_ref.as_str(), "24138");
    assert_eq!(credit.authorized_amount, None);
}

#[test]
fn declines_speak_the_service_words() {
    let decline = |i: usize, op: Operation| match outcome(&answer(i), sent(op)) {
        Outcome::Declined(d) => d,
        other => panic!("answer {i}: {other:?}"),
    };
    let cvv = decline(2, Operation::ThreeDSale);
    assert_eq!(cvv.bank_code.unwrap().as_str(), "82");
    assert_eq!(cvv.message.en, "CVV error");
    assert_eq!(cvv.kind, DeclineKind::Refused);

    let format = decline(3, Operation::Sale);
    assert_eq!(format.bank_code, None);
    assert!(format.provider_text.contains("CORE-2012"));
    assert!(format.message.en.contains("card number"));

    let installments = decline(4, Operation::ThreeDSale);
    assert!(installments.message.en.contains("installment"));

    let day = decline(5, Operation::Credit);
    assert_eq!(day.kind, DeclineKind::DayNotClosed);
    assert_eq!(
        day.message.tr,
        "Satışın günü henüz kapanmadı: bu gün içinde iptal yapılabilir, iade gün sonundan sonra."
    );
    assert!(day.message.en.contains("cancel it today"));

    let nothing = decline(6, Operation::Credit);
    assert_eq!(nothing.kind, DeclineKind::NothingToRefund);

    for i in [9, 10] {
        let late = decline(i, Operation::Void);
        assert_eq!(late.kind, DeclineKind::CancelWindowClosed, "answer {i}");
        assert!(late.message.en.contains("refund it instead"));
        assert!(late.provider_text.contains("İptal edilmeye uygun"));
    }
}

#[test]
fn order_status_answers_become_inquiries() {
    let asked = Kurus::from_minor(101).unwrap();
    let found = |i: usize| match read_status(&answer(i)).unwrap() {
        OrderStatus::Found { latest, .. } => latest,
        OrderStatus::NotFound => panic!("answer {i} not found"),
    };
    // Before end of day: approved, nothing reversed.
    let Inquiry::Approved {
        approval,
        reversed,
        cancelled,
        ..
    } = summarize(&found(11), None, asked)
    else {
        panic!()
    };
    assert_eq!(approval.auth_code.unwrap().as_str(), "P90325");
    assert_eq!(approval.provider_ref.as_str(), "22303Md4C19254");
    assert_eq!(approval.authorized_amount, Some(asked), "kuruş, not lira");
    assert_eq!((reversed, cancelled), (Kurus::ZERO, false));
    // Captured.
    assert_eq!(found(12).status, TransStat::Captured);
    assert!(matches!(
        summarize(&found(12), None, asked),
        Inquiry::Approved { .. }
    ));
    // A pre-authorisation of 2.05, not captured.
    let pre = found(13);
    assert_eq!(pre.amount, Kurus::from_minor(205));
    assert_eq!(pre.captured, None);
    assert!(matches!(
        summarize(&pre, None, Kurus::from_minor(205).unwrap()),
        Inquiry::Approved { .. }
    ));
    // Voided: cancelled, all of it reversed.
    let Inquiry::Approved {
        reversed,
        cancelled,
        ..
    } = summarize(&found(14), None, asked)
    else {
        panic!()
    };
    assert!(cancelled);
    assert_eq!(reversed, asked);
    assert!(found(14).void_time.is_some());
    // After a refund the latest transaction is the Credit: the history is needed.
    let credit = found(15);
    assert_eq!(credit.charge_type, ChargeType::Credit);
    assert!(matches!(summarize(&credit, None, asked), Inquiry::Pending));
    // Unknown order.
    assert_eq!(read_status(&answer(16)).unwrap(), OrderStatus::NotFound);
}

#[test]
fn order_history_answers_become_typed_rows() {
    let v = vectors();
    let layout: Vec<&str> = v["orderhistory_trx_layout"]["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f.as_str().unwrap())
        .collect();
    assert_eq!(layout.len(), 11);
    let rows = read_history(&answer(17)).unwrap();
    let split = &v["answers"][17]["trx_records_split"];
    for (row, name) in rows.iter().zip(["TRX1", "TRX2"]) {
        let expected = &split[name];
        assert_eq!(
            row.trans_id.as_ref().map(|t| t.as_str()),
            expected["TRANS_ID"].as_str()
        );
        assert_eq!(
            row.amount.map(|a| a.minor().to_string()).as_deref(),
            expected["ORIG_TRANS_AMT"].as_str()
        );
        assert_eq!(
            row.proc_return_code.as_deref(),
            expected["PROC_RET_CD"].as_str()
        );
    }
    assert_eq!(rows[0].charge_type, ChargeType::Credit);
    assert_eq!(rows[0].status, TransStat::Failed);
    assert_eq!(rows[1].status, TransStat::Voided);
    // The voided sale and a refused credit: approved, cancelled, 1.01 reversed.
    let Inquiry::Approved {
        reversed,
        cancelled,
        ..
    } = summarize(&rows[0], Some(&rows), Kurus::from_minor(101).unwrap())
    else {
        panic!()
    };
    assert!(cancelled);
    assert_eq!(reversed, Kurus::from_minor(101).unwrap());
    // A pre-authorisation alone.
    let rows = read_history(&answer(18)).unwrap();
    assert_eq!(rows[0].status, TransStat::Authorised);
    assert_eq!(rows[0].captured, None);
    assert!(read_history(&answer(19)).unwrap().is_empty());
}
