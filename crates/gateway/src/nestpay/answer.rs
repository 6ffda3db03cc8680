//! Answer mapping: from a `CC5Response` to an [`Outcome`].
//!
//! The success rule: approved only when `ProcReturnCode` is `00` AND `Response` is
//! `Approved`, with a `TransId` (and, for a sale, an `AuthCode`); an answer that says
//! one without the other is unknown, never approved. A refusal carries the ISO bank code
//! (`ISO8583-nn`, or the `ProcReturnCode`) when there is one and the catalogue's text;
//! the service's own words (day not closed, cancel window closed, nothing to refund)
//! come from the code and the operation together.

use sanalpos_core::{AuthCode, BankCode, Kurus, Message, ProviderRef};

use super::codes::{self, ErrorClass};
use super::xml::Cc5Response;
use crate::types::{Approval, Decline, DeclineKind, Failure, FailureKind, Outcome, UnknownReason};

/// The call an answer belongs to: the same code means different things to a `Void`
/// and a `Credit`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    /// `Auth` with the card.
    Sale,
    /// `PreAuth` with the card.
    PreAuth,
    /// `Auth` or `PreAuth` after a 3D callback (`3d` model).
    ThreeDSale,
    /// `PostAuth`: capture of a pre-authorisation.
    PostAuth,
    /// `Void`: cancel on the sale's day.
    Void,
    /// `Credit`: refund after the sale's day.
    Credit,
}

impl Operation {
    /// Whether an approval must carry an authorization code.
    fn needs_auth_code(self) -> bool {
        matches!(
            self,
            Operation::Sale | Operation::PreAuth | Operation::ThreeDSale
        )
    }

    /// Whether the operation charges a card (its approval carries the amount).
    fn is_charge(self) -> bool {
        self.needs_auth_code() || self == Operation::PostAuth
    }
}

/// What the answer says, amounts and installments of the request beside it.
#[derive(Debug, Clone, Copy)]
pub struct Sent {
    /// The request's `Type`: which fields an approval must carry (a sale needs an
    /// `AuthCode`) and which refusal texts apply.
    pub operation: Operation,
    /// The amount sent (charges only).
    pub amount: Option<Kurus>,
    /// The installment count sent (charges only).
    pub installments: Option<u8>,
}

/// Applies the success rule to an answer of a call that may move money.
pub fn outcome(answer: &Cc5Response, sent: Sent) -> Outcome {
    let response = answer.non_empty("Response");
    let code = answer.non_empty("ProcReturnCode");
    let inconsistent = |why: &str| Outcome::Unknown(UnknownReason::Inconsistent(why.to_owned()));
    match (response, code) {
        (Some("Approved"), Some("00")) => approval(answer, sent),
        (Some("Approved"), _) => inconsistent("Response Approved without ProcReturnCode 00"),
        (_, Some("00")) => inconsistent("ProcReturnCode 00 without Response Approved"),
        (Some("Declined" | "Error"), _) => refusal(answer, sent.operation),
        (None, None) => Outcome::Unknown(UnknownReason::Unparseable),
        (_, _) => inconsistent("an answer that is neither approved, declined nor an error"),
    }
}

fn approval(answer: &Cc5Response, sent: Sent) -> Outcome {
    let inconsistent = |why: &str| Outcome::Unknown(UnknownReason::Inconsistent(why.to_owned()));
    let Some(provider_ref) = trans_id(answer) else {
        return inconsistent("approved without a TransId");
    };
    let auth_code = answer
        .non_empty("AuthCode")
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

/// The answer's `TransId`, when well formed.
pub fn trans_id(answer: &Cc5Response) -> Option<ProviderRef> {
    answer
        .non_empty("TransId")
        .and_then(|t| ProviderRef::parse(t).ok())
}

/// A `Declined` or `Error` answer: a failure when nothing was processed (credentials,
/// IP, malformed request), unknown when the order id or the 3D authentication was
/// used before, a decline otherwise.
fn refusal(answer: &Cc5Response, operation: Operation) -> Outcome {
    match refusal_class(answer) {
        ErrorClass::Credentials => Outcome::Failed(Failure {
            kind: FailureKind::BadCredentials,
            detail: provider_text(answer),
        }),
        ErrorClass::IpNotAllowed => Outcome::Failed(Failure {
            kind: FailureKind::IpNotAllowed,
            detail: provider_text(answer),
        }),
        ErrorClass::RequestFormat => Outcome::Failed(Failure {
            kind: FailureKind::Rejected,
            detail: provider_text(answer),
        }),
        ErrorClass::DuplicateOrder => Outcome::Unknown(UnknownReason::Inconsistent(
            "the bank says this order id or its 3D authentication was used before: ask the order's status"
                .into(),
        )),
        ErrorClass::Refused => Outcome::Declined(decline(answer, operation)),
    }
}

/// How a refusal is to be read: by its `ERRORCODE`, else by a text that can only be a
/// credentials refusal.
pub fn refusal_class(answer: &Cc5Response) -> ErrorClass {
    if let Some(code) = answer.error_code() {
        return codes::classify(code);
    }
    let iso = answer
        .non_empty("ProcReturnCode")
        .is_some_and(|c| c != "99");
    if !iso && mentions_credentials(answer.get("ErrMsg").unwrap_or_default()) {
        return ErrorClass::Credentials;
    }
    ErrorClass::Refused
}

/// Words that only a refusal of the API user appears with (never a card's PIN).
fn mentions_credentials(text: &str) -> bool {
    let lower = text.to_lowercase();
    [
        "not authenticated",
        "authentication failed",
        "invalid user",
        "api user",
        "kullanici adi",
        "kullanıcı adı",
        "yetkisiz kullan",
        "credential",
    ]
    .iter()
    .any(|w| lower.contains(w))
}

/// The provider's text: `ErrMsg`, with the `ERRORCODE` when the text does not name it.
pub fn provider_text(answer: &Cc5Response) -> String {
    let message = answer.get("ErrMsg").unwrap_or_default().trim().to_owned();
    match answer.error_code() {
        Some(code) if !message.contains(code) => {
            if message.is_empty() {
                code.to_owned()
            } else {
                format!("{message} ({code})")
            }
        }
        _ => message,
    }
}

/// The ISO bank code of a refusal: `ISO8583-nn`, else a `ProcReturnCode` other than
/// NestPay's own `99`.
pub fn bank_code(answer: &Cc5Response) -> Option<BankCode> {
    if let Some(code) = answer.error_code().and_then(codes::iso_code) {
        return Some(code);
    }
    answer
        .non_empty("ProcReturnCode")
        .filter(|c| *c != "99" && *c != "00")
        .and_then(BankCode::parse)
}

/// A decline in the service's words.
pub fn decline(answer: &Cc5Response, operation: Operation) -> Decline {
    let error_code = answer.error_code().unwrap_or_default();
    let extended = answer
        .extra_non_empty("EXTENDED_ERROR_CODE")
        .unwrap_or_default();
    let kind = match (operation, error_code) {
        (_, "215021") => DeclineKind::NothingToRefund,
        (Operation::Credit, "CORE-2508") => DeclineKind::DayNotClosed,
        (Operation::Void, "CORE-2008") => DeclineKind::CancelWindowClosed,
        (Operation::Void, _) if extended == "215001" => DeclineKind::CancelWindowClosed,
        _ => DeclineKind::Refused,
    };
    let bank_code = bank_code(answer);
    let text = provider_text(answer);
    let message = match kind {
        DeclineKind::DayNotClosed => codes::day_not_closed(),
        DeclineKind::CancelWindowClosed => codes::cancel_window_closed(),
        DeclineKind::NothingToRefund => codes::nothing_to_refund(),
        DeclineKind::Refused => message_for(error_code, bank_code.as_ref(), &text),
    };
    Decline {
        kind,
        bank_code,
        message,
        provider_text: text,
        provider_ref: trans_id(answer),
    }
}

/// The catalogue's text for a code, else the bank's own text, else a generic one.
fn message_for(error_code: &str, bank_code: Option<&BankCode>, text: &str) -> Message {
    if let Some(message) = codes::lookup_error(error_code) {
        return message;
    }
    if let Some(code) = bank_code {
        return code.message();
    }
    let own = text.trim();
    if own.is_empty() {
        codes::generic()
    } else {
        Message {
            tr: own.to_owned(),
            en: format!("Not approved by the bank: {own}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(fields: &[(&str, &str)], extra: &[(&str, &str)]) -> Cc5Response {
        let own = |list: &[(&str, &str)]| {
            list.iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect()
        };
        Cc5Response::from_parts(own(fields), own(extra))
    }

    const SALE: Sent = Sent {
        operation: Operation::Sale,
        amount: None,
        installments: Some(1),
    };

    #[test]
    fn approval_needs_both_signals_and_the_references() {
        let ok = answer(
            &[
                ("Response", "Approved"),
                ("ProcReturnCode", "00"),
                ("AuthCode", "P1"),
                ("TransId", "T1"),
            ],
            &[],
        );
        assert!(matches!(outcome(&ok, SALE), Outcome::Approved(_)));
        for (k, v) in [
            ("Response", "Declined"),
            ("ProcReturnCode", "05"),
            ("AuthCode", ""),
            ("TransId", ""),
        ] {
            let mut fields: Vec<(String, String)> = ok.fields().to_vec();
            for f in &mut fields {
                if f.0 == k {
                    f.1 = v.to_owned();
                }
            }
            let a = Cc5Response::from_parts(fields, vec![]);
            let o = outcome(&a, SALE);
            assert!(!matches!(o, Outcome::Approved(_)), "{k}={v}: {o:?}");
            if k != "Response" {
                assert!(matches!(o, Outcome::Unknown(_)), "{k}={v}: {o:?}");
            }
        }
        // A Void needs no AuthCode.
        let void = answer(
            &[
                ("Response", "Approved"),
                ("ProcReturnCode", "00"),
                ("TransId", "T1"),
            ],
            &[],
        );
        let sent = Sent {
            operation: Operation::Void,
            amount: None,
            installments: None,
        };
        assert!(matches!(outcome(&void, sent), Outcome::Approved(_)));
    }

    #[test]
    fn refusals_by_class() {
        let creds = answer(
            &[("Response", "Error"), ("ProcReturnCode", "99")],
            &[("ERRORCODE", "CORE-2201")],
        );
        assert!(matches!(
            outcome(&creds, SALE),
            Outcome::Failed(Failure {
                kind: FailureKind::BadCredentials,
                ..
            })
        ));
        let by_text = answer(
            &[
                ("Response", "Error"),
                ("ProcReturnCode", "99"),
                ("ErrMsg", "Kullanici adi veya sifre hatali"),
            ],
            &[],
        );
        assert!(matches!(
            outcome(&by_text, SALE),
            Outcome::Failed(Failure {
                kind: FailureKind::BadCredentials,
                ..
            })
        ));
        let pin = answer(
            &[
                ("Response", "Declined"),
                ("ProcReturnCode", "55"),
                ("ErrMsg", "Hatali kart sifresi"),
            ],
            &[],
        );
        let Outcome::Declined(d) = outcome(&pin, SALE) else {
            panic!()
        };
        assert_eq!(d.bank_code.unwrap().as_str(), "55");
        let duplicate = answer(
            &[("Response", "Error"), ("ProcReturnCode", "99")],
            &[("ERRORCODE", "CORE-2507")],
        );
        assert!(matches!(outcome(&duplicate, SALE), Outcome::Unknown(_)));
        let format = answer(
            &[("Response", "Error"), ("ProcReturnCode", "99")],
            &[("ERRORCODE", "CORE-1019")],
        );
        assert!(matches!(
            outcome(&format, SALE),
            Outcome::Failed(Failure {
                kind: FailureKind::Rejected,
                ..
            })
        ));
    }

    #[test]
    fn the_same_code_means_what_the_operation_makes_it() {
        let late = answer(
            &[("Response", "Error"), ("ProcReturnCode", "99")],
            &[("ERRORCODE", "CORE-2008")],
        );
        let void = Sent {
            operation: Operation::Void,
            amount: None,
            installments: None,
        };
        let Outcome::Declined(d) = outcome(&late, void) else {
            panic!()
        };
        assert_eq!(d.kind, DeclineKind::CancelWindowClosed);
        assert!(d.message.en.contains("refund"));
        let Outcome::Declined(d) = outcome(&late, SALE) else {
            panic!()
        };
        assert_eq!(d.kind, DeclineKind::Refused);
    }
}
