//! Answer mapping: from a `posnetResponse` to an [`Outcome`].
//!
//! The success rule: approved only when `approved` is `1` AND `respCode` is empty, with a
//! `hostlogkey` (and, for a charge, an `authCode`). `approved` `2` ("already done",
//! `0127`) is never a new approval: the earlier attempt's outcome must be read from
//! `agreement`, so it is unknown. The answer's own `mac` is not checked: its formula is
//! not published and no reference client checks it.

use sanalpos_core::{AuthCode, Kurus, ProviderRef};

use super::codes::{self, ErrorClass};
use super::xml::PosnetResponse;
use crate::types::{Approval, Decline, DeclineKind, Failure, FailureKind, Outcome, UnknownReason};

/// The call an answer belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    /// `sale` with the card.
    Sale,
    /// `auth` with the card (pre-authorisation).
    PreAuth,
    /// `oosTranData`: the 3D sale.
    ThreeDSale,
    /// `capt`.
    Capture,
    /// `reverse`: same-day cancel.
    Reverse,
    /// `return`: refund.
    Return,
}

impl Operation {
    fn needs_auth_code(self) -> bool {
        matches!(
            self,
            Operation::Sale | Operation::PreAuth | Operation::ThreeDSale
        )
    }

    fn is_charge(self) -> bool {
        self.needs_auth_code() || self == Operation::Capture
    }
}

/// What was sent, beside the answer.
#[derive(Debug, Clone, Copy)]
pub struct Sent {
    /// The operation.
    pub operation: Operation,
    /// The amount sent (charges only).
    pub amount: Option<Kurus>,
    /// The installment count sent (charges only).
    pub installments: Option<u8>,
}

/// The bank's `respText`, card numbers masked, with the code when the text lacks it.
pub fn provider_text(answer: &PosnetResponse) -> String {
    let text = answer.non_empty("respText").unwrap_or_default();
    let code = answer.non_empty("respCode").unwrap_or_default();
    let joined = if code.is_empty() || text.contains(code) {
        text.to_owned()
    } else if text.is_empty() {
        code.to_owned()
    } else {
        format!("{text} ({code})")
    };
    crate::scrub_card_numbers(&joined)
}

/// The answer's `hostlogkey`, when well formed.
pub fn host_log_key(answer: &PosnetResponse) -> Option<ProviderRef> {
    answer
        .non_empty("hostlogkey")
        .and_then(|k| ProviderRef::parse(k).ok())
}

/// Applies the success rule to an answer of a call that may move money.
pub fn outcome(answer: &PosnetResponse, sent: Sent) -> Outcome {
    let inconsistent = |why: &str| Outcome::Unknown(UnknownReason::Inconsistent(why.to_owned()));
    let code = answer.non_empty("respCode");
    match (answer.non_empty("approved"), code) {
        (Some("1"), None) => approval(answer, sent),
        (Some("1"), Some(_)) => inconsistent("approved 1 with a respCode"),
        (Some("2"), _) => inconsistent(
            "the bank says this order was already processed (approved 2): ask the order's status",
        ),
        (Some("0"), Some(code)) => refusal(answer, code, sent.operation),
        (Some("0"), None) => Outcome::Declined(Decline {
            kind: DeclineKind::Refused,
            bank_code: None,
            message: codes::message("", answer.non_empty("respText").unwrap_or_default()),
            provider_text: provider_text(answer),
            provider_ref: None,
        }),
        _ => Outcome::Unknown(UnknownReason::Unparseable),
    }
}

fn approval(answer: &PosnetResponse, sent: Sent) -> Outcome {
    let inconsistent = |why: &str| Outcome::Unknown(UnknownReason::Inconsistent(why.to_owned()));
    let Some(provider_ref) = host_log_key(answer) else {
        return inconsistent("approved without a hostlogkey");
    };
    let auth_code = answer
        .non_empty("authCode")
        .and_then(AuthCode::parse_approval);
    if sent.operation.needs_auth_code() && auth_code.is_none() {
        return inconsistent("approved without an authCode");
    }
    let charge = sent.operation.is_charge();
    Outcome::Approved(Approval {
        auth_code,
        provider_ref,
        authorized_amount: if charge { sent.amount } else { None },
        installments: if charge { sent.installments } else { None },
    })
}

fn refusal(answer: &PosnetResponse, code: &str, operation: Operation) -> Outcome {
    let text = provider_text(answer);
    let failed = |kind, message: sanalpos_core::Message| {
        Outcome::Failed(Failure {
            kind,
            detail: format!("{} (bank: {text})", message.en),
        })
    };
    match codes::classify(code, &text) {
        ErrorClass::IpNotAllowed => failed(
            FailureKind::IpNotAllowed,
            codes::message(codes::IP_NOT_ALLOWED, ""),
        ),
        ErrorClass::Credentials => failed(
            FailureKind::BadCredentials,
            codes::message(codes::MAC_FAILED, ""),
        ),
        ErrorClass::DuplicateOrder => Outcome::Unknown(UnknownReason::Inconsistent(
            "the bank says this order id was used before: ask the order's status".into(),
        )),
        ErrorClass::Refused => Outcome::Declined(decline(answer, code, operation)),
    }
}

/// A refusal in the service's words.
pub fn decline(answer: &PosnetResponse, code: &str, operation: Operation) -> Decline {
    let kind = match (operation, code) {
        (Operation::Return, codes::DAY_NOT_CLOSED) => DeclineKind::DayNotClosed,
        (Operation::Reverse, codes::CANCEL_CLOSED) => DeclineKind::CancelWindowClosed,
        (Operation::Return, codes::NOTHING_LEFT) => DeclineKind::NothingToRefund,
        _ => DeclineKind::Refused,
    };
    Decline {
        kind,
        bank_code: codes::issuer_code(code),
        message: codes::message(code, answer.non_empty("respText").unwrap_or_default()),
        provider_text: provider_text(answer),
        provider_ref: host_log_key(answer),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::posnet::xml::Element;

    fn answer(fields: &[(&str, &str)]) -> PosnetResponse {
        PosnetResponse::from_root(Element::group(
            "posnetResponse",
            fields.iter().map(|(k, v)| Element::leaf(k, *v)).collect(),
        ))
    }

    const SALE: Sent = Sent {
        operation: Operation::Sale,
        amount: None,
        installments: Some(1),
    };

    #[test]
    fn the_success_rule() {
        let ok = answer(&[
            ("approved", "1"),
            ("hostlogkey", "K1"),
            ("authCode", "901477"),
        ]);
        assert!(matches!(outcome(&ok, SALE), Outcome::Approved(_)));
        let no_auth = answer(&[("approved", "1"), ("hostlogkey", "K1")]);
        assert!(matches!(outcome(&no_auth, SALE), Outcome::Unknown(_)));
        let again = answer(&[
            ("approved", "2"),
            ("respCode", "0127"),
            ("hostlogkey", "K1"),
            ("authCode", "1"),
        ]);
        assert!(matches!(outcome(&again, SALE), Outcome::Unknown(_)));
        let ip = answer(&[
            ("approved", "0"),
            ("respCode", "0148"),
            ("respText", "INVALID MID TID IP"),
        ]);
        assert!(matches!(
            outcome(&ip, SALE),
            Outcome::Failed(Failure {
                kind: FailureKind::IpNotAllowed,
                ..
            })
        ));
        let funds = answer(&[
            ("approved", "0"),
            ("respCode", "0051"),
            ("respText", "YETERSIZ BAKIYE"),
        ]);
        let Outcome::Declined(d) = outcome(&funds, SALE) else {
            panic!()
        };
        assert_eq!(d.bank_code.unwrap().as_str(), "51");
        assert!(matches!(
            outcome(&answer(&[]), SALE),
            Outcome::Unknown(UnknownReason::Unparseable)
        ));
    }
}
