//! Answer mapping: from a `GVPSResponse` to an [`Outcome`].
//!
//! The success rule: approved only when `Transaction/Response/Code` is `00` AND
//! `Message` is `Approved`, with a `RetrefNum` (and, for a charge, an `AuthCode`); an
//! answer that says one without the other is unknown, never approved. The answer's own
//! `HashData` is not checked: its formula is not published and no reference client
//! checks it. A refusal from the issuer (`Source` `HOST`) carries its ISO code; a
//! refusal from the gateway (`Source` `GVPS`, `Code` 92) is read by its `ReasonCode`.

use sanalpos_core::{AuthCode, BankCode, Kurus, Message, ProviderRef};

use super::codes::{self, ErrorClass};
use super::xml::GvpsResponse;
use crate::types::{Approval, Decline, DeclineKind, Failure, FailureKind, Outcome, UnknownReason};

/// The call an answer belongs to: the same reason code means different things to a
/// `void` and a `refund`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    /// `sales` with the card.
    Sale,
    /// `preauth` with the card.
    PreAuth,
    /// `sales` or `preauth` after a 3D callback (`3D` model).
    ThreeDSale,
    /// `postauth`: capture of a pre-authorisation.
    PostAuth,
    /// `void`: cancel on the sale's day.
    Void,
    /// `refund`: after the sale's day.
    Refund,
}

impl Operation {
    fn needs_auth_code(self) -> bool {
        matches!(
            self,
            Operation::Sale | Operation::PreAuth | Operation::ThreeDSale
        )
    }

    fn is_charge(self) -> bool {
        self.needs_auth_code() || self == Operation::PostAuth
    }
}

/// What was sent, beside the answer.
#[derive(Debug, Clone, Copy)]
pub struct Sent {
    /// The request's `Type`.
    pub operation: Operation,
    /// The amount sent (charges only).
    pub amount: Option<Kurus>,
    /// The installment count sent (charges only).
    pub installments: Option<u8>,
}

const CODE: &str = "Transaction/Response/Code";
const MESSAGE: &str = "Transaction/Response/Message";
const SOURCE: &str = "Transaction/Response/Source";
const REASON: &str = "Transaction/Response/ReasonCode";

/// Applies the success rule to an answer of a call that may move money.
pub fn outcome(answer: &GvpsResponse, sent: Sent) -> Outcome {
    let code = answer.non_empty(CODE);
    let message = answer.non_empty(MESSAGE);
    let inconsistent = |why: &str| Outcome::Unknown(UnknownReason::Inconsistent(why.to_owned()));
    match (code, message) {
        (Some("00"), Some("Approved")) => approval(answer, sent),
        (Some("00"), _) => inconsistent("Code 00 without Message Approved"),
        (_, Some("Approved")) => inconsistent("Message Approved without Code 00"),
        (Some(_), _) => refusal(answer, sent.operation),
        (None, _) => Outcome::Unknown(UnknownReason::Unparseable),
    }
}

fn approval(answer: &GvpsResponse, sent: Sent) -> Outcome {
    let inconsistent = |why: &str| Outcome::Unknown(UnknownReason::Inconsistent(why.to_owned()));
    let Some(provider_ref) = retref(answer) else {
        return inconsistent("approved without a RetrefNum");
    };
    let auth_code = answer
        .non_empty("Transaction/AuthCode")
        .and_then(AuthCode::parse_approval);
    if sent.operation.needs_auth_code() && auth_code.is_none() {
        return inconsistent("approved without an AuthCode");
    }
    let charge = sent.operation.is_charge();
    Outcome::Approved(Approval {
        auth_code,
        provider_ref,
        authorized_amount: if charge { sent.amount } else { None },
        installments: if charge { sent.installments } else { None },
    })
}

/// The answer's `RetrefNum`, when well formed: the reference of postauth, void and
/// refund.
pub fn retref(answer: &GvpsResponse) -> Option<ProviderRef> {
    answer
        .non_empty("Transaction/RetrefNum")
        .and_then(|t| ProviderRef::parse(t).ok())
}

/// Whether the gateway itself refused (not the issuer).
fn from_gateway(answer: &GvpsResponse) -> bool {
    answer.non_empty(SOURCE) == Some("GVPS")
}

/// How a refusal is to be read.
pub fn refusal_class(answer: &GvpsResponse) -> ErrorClass {
    if !from_gateway(answer) {
        return ErrorClass::Refused;
    }
    codes::classify(
        answer.get(REASON).unwrap_or_default(),
        &provider_text(answer),
    )
}

fn refusal(answer: &GvpsResponse, operation: Operation) -> Outcome {
    let failed = |kind| {
        Outcome::Failed(Failure {
            kind,
            detail: provider_text(answer),
        })
    };
    match refusal_class(answer) {
        ErrorClass::Credentials => failed(FailureKind::BadCredentials),
        ErrorClass::IpNotAllowed => failed(FailureKind::IpNotAllowed),
        ErrorClass::RequestFormat => failed(FailureKind::Rejected),
        ErrorClass::DuplicateOrder => Outcome::Unknown(UnknownReason::Inconsistent(
            "the bank says this order id or its 3D authentication was used before: ask the order's status"
                .into(),
        )),
        ErrorClass::Refused => Outcome::Declined(decline(answer, operation)),
    }
}

/// The bank's texts: `ErrorMsg` for people, `SysErrMsg` technical, and the reason
/// code when the texts do not name it.
pub fn provider_text(answer: &GvpsResponse) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for path in [
        "Transaction/Response/ErrorMsg",
        "Transaction/Response/SysErrMsg",
    ] {
        if let Some(text) = answer.non_empty(path) {
            if !parts.contains(&text) {
                parts.push(text);
            }
        }
    }
    let mut text = parts.join(" / ");
    if let Some(reason) = answer.non_empty(REASON) {
        if from_gateway(answer) && !text.contains(reason) {
            text = if text.is_empty() {
                reason.to_owned()
            } else {
                format!("{text} ({reason})")
            };
        }
    }
    crate::scrub_card_numbers(&text)
}

/// The issuer's ISO code of a `HOST` refusal.
pub fn bank_code(answer: &GvpsResponse) -> Option<BankCode> {
    if from_gateway(answer) {
        return None;
    }
    answer
        .non_empty(CODE)
        .filter(|c| *c != "00")
        .and_then(BankCode::parse)
}

/// A refusal in the service's words.
pub fn decline(answer: &GvpsResponse, operation: Operation) -> Decline {
    let reason = if from_gateway(answer) {
        answer.non_empty(REASON).unwrap_or_default()
    } else {
        ""
    };
    let kind = match (operation, reason) {
        (Operation::Refund, codes::NOT_REFUNDABLE) => DeclineKind::DayNotClosed,
        (Operation::Void, codes::CANCEL_CLOSED) => DeclineKind::CancelWindowClosed,
        (Operation::Refund, codes::NOTHING_LEFT) => DeclineKind::NothingToRefund,
        _ => DeclineKind::Refused,
    };
    let bank_code = bank_code(answer);
    let text = provider_text(answer);
    let message = match kind {
        DeclineKind::DayNotClosed => codes::day_not_closed(),
        DeclineKind::CancelWindowClosed => codes::cancel_window_closed(),
        DeclineKind::NothingToRefund => codes::nothing_to_refund(),
        DeclineKind::Refused => message_for(reason, bank_code.as_ref(), answer),
    };
    Decline {
        kind,
        bank_code,
        message,
        provider_text: text,
        provider_ref: retref(answer),
    }
}

/// The catalogue's text for a code, else the bank's own Turkish text, else a generic
/// one.
fn message_for(reason: &str, bank_code: Option<&BankCode>, answer: &GvpsResponse) -> Message {
    if let Some(message) = codes::lookup_reason(reason) {
        return message;
    }
    if let Some(code) = bank_code {
        return code.message();
    }
    match answer.non_empty("Transaction/Response/ErrorMsg") {
        Some(own) => Message {
            tr: own.to_owned(),
            en: format!("Not approved by the bank: {own}"),
        },
        None => codes::generic(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::garanti::xml::Element;

    fn answer(
        code: &str,
        message: &str,
        source: &str,
        reason: &str,
        extra: &[(&str, &str)],
    ) -> GvpsResponse {
        let mut tx = vec![Element::group(
            "Response",
            vec![
                Element::leaf("Source", source),
                Element::leaf("Code", code),
                Element::leaf("ReasonCode", reason),
                Element::leaf("Message", message),
                Element::leaf("ErrorMsg", ""),
                Element::leaf("SysErrMsg", ""),
            ],
        )];
        for (k, v) in extra {
            tx.push(Element::leaf(k, *v));
        }
        GvpsResponse::from_root(Element::group(
            "GVPSResponse",
            vec![Element::group("Transaction", tx)],
        ))
    }

    const SALE: Sent = Sent {
        operation: Operation::Sale,
        amount: None,
        installments: Some(1),
    };

    #[test]
    fn approval_needs_both_signals_and_the_references() {
        let ok = answer(
            "00",
            "Approved",
            "HOST",
            "00",
            &[("RetrefNum", "1"), ("AuthCode", "A1")],
        );
        assert!(matches!(outcome(&ok, SALE), Outcome::Approved(_)));
        let no_auth = answer("00", "Approved", "HOST", "00", &[("RetrefNum", "1")]);
        assert!(matches!(outcome(&no_auth, SALE), Outcome::Unknown(_)));
        let void = Sent {
            operation: Operation::Void,
            amount: None,
            installments: None,
        };
        assert!(matches!(outcome(&no_auth, void), Outcome::Approved(_)));
        let half = answer(
            "00",
            "Declined",
            "HOST",
            "00",
            &[("RetrefNum", "1"), ("AuthCode", "A1")],
        );
        assert!(matches!(outcome(&half, SALE), Outcome::Unknown(_)));
        let none = answer("", "", "", "", &[]);
        assert!(matches!(
            outcome(&none, SALE),
            Outcome::Unknown(UnknownReason::Unparseable)
        ));
    }

    #[test]
    fn refusals_by_source_and_reason() {
        let host = answer("51", "Declined", "HOST", "51", &[]);
        let Outcome::Declined(d) = outcome(&host, SALE) else {
            panic!()
        };
        assert_eq!(d.bank_code.unwrap().as_str(), "51");
        let creds = answer("92", "Declined", "GVPS", "0651", &[]);
        assert!(matches!(
            outcome(&creds, SALE),
            Outcome::Failed(Failure {
                kind: FailureKind::BadCredentials,
                ..
            })
        ));
        let refund = Sent {
            operation: Operation::Refund,
            amount: None,
            installments: None,
        };
        let early = answer("92", "Declined", "GVPS", "0208", &[]);
        let Outcome::Declined(d) = outcome(&early, refund) else {
            panic!()
        };
        assert_eq!(d.kind, DeclineKind::DayNotClosed);
        assert!(d.bank_code.is_none());
        let Outcome::Declined(d) = outcome(&early, SALE) else {
            panic!()
        };
        assert_eq!(d.kind, DeclineKind::Refused);
    }
}
