//! Answer mapping: from N Kolay's answers to [`Outcome`]s and [`ReportRow`]s.
//!
//! The success rule (the docs call it the golden rule) lives here: a payment succeeded
//! only when the answer hash verifies, `RESPONSE_CODE` is 2, `AUTH_CODE` is non-empty and
//! not `0`/`00`, and `AUTHORIZATION_AMOUNT` is at least the amount sent.

use sanalpos_core::{AuthCode, BankCode, Currency, Kurus, MaskedPan, Message, ProviderRef};

use super::codec::{parse_amount, parse_bool, parse_date, parse_datetime, Answer};
use super::signing::{verify_answer, SignatureError};
use crate::types::{
    Approval, Decline, DeclineKind, Failure, FailureKind, Outcome, ReportRow, RowStatus,
    TransactionKind, UnknownReason,
};

/// Looks an answer field up for the signature check.
fn signed_fields(answer: &Answer) -> impl Fn(&str) -> Option<String> + '_ {
    move |key| answer.text(key)
}

/// Verifies `hashDataV2` of a payment answer (either variant).
pub fn verify(answer: &Answer, secret_key: &str) -> Result<(), SignatureError> {
    let get = signed_fields(answer);
    // Collect the values first: verify_answer borrows them as &str.
    let keys = [
        "hashDataV2",
        "MERCHANT_NO",
        "REFERENCE_CODE",
        "AUTH_CODE",
        "RESPONSE_CODE",
        "USE_3D",
        "RND",
        "INSTALLMENT",
        "AUTHORIZATION_AMOUNT",
        "CURRENCY_CODE",
    ];
    let values: Vec<(&str, Option<String>)> = keys.iter().map(|k| (*k, get(k))).collect();
    verify_answer(
        |key| {
            values
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(key))
                .and_then(|(_, v)| v.as_deref())
        },
        secret_key,
    )
    .map(|_| ())
}

/// Applies the success rule to a payment answer (sale, 3D postback, CompletePayment).
pub fn payment_outcome(answer: &Answer, secret_key: &str, amount_sent: Kurus) -> Outcome {
    let Some(code) = answer.response_code() else {
        return Outcome::Unknown(UnknownReason::Unparseable);
    };
    let signature = verify(answer, secret_key);
    if code == "2" {
        if signature.is_err() {
            return Outcome::Unknown(UnknownReason::SignatureInvalid);
        }
        return approval(answer, amount_sent);
    }
    match signature {
        // A signed refusal: the bank or the provider said no to this payment.
        Ok(()) => Outcome::Declined(decline(answer)),
        // A signature that is present and wrong: someone or something altered it.
        Err(SignatureError::Mismatch) => Outcome::Unknown(UnknownReason::SignatureInvalid),
        // Unsigned: a refusal before processing (format, credentials, IP) or a decline
        // from an endpoint that does not sign.
        Err(SignatureError::Missing) => unsigned_refusal(answer),
    }
}

fn approval(answer: &Answer, amount_sent: Kurus) -> Outcome {
    let inconsistent = |why: &str| Outcome::Unknown(UnknownReason::Inconsistent(why.to_owned()));
    let Some(auth_code) = answer
        .text("AUTH_CODE")
        .and_then(|a| AuthCode::parse_approval(&a))
    else {
        return inconsistent("approved without an authorization code");
    };
    let Some(authorized) = answer
        .text("AUTHORIZATION_AMOUNT")
        .and_then(|a| parse_amount(&a))
    else {
        return inconsistent("approved without a readable authorized amount");
    };
    if authorized < amount_sent {
        return inconsistent("authorized amount is below the amount sent");
    }
    let Some(provider_ref) = provider_ref(answer) else {
        return inconsistent("approved without a reference code");
    };
    Outcome::Approved(Approval {
        auth_code: Some(auth_code),
        provider_ref,
        authorized_amount: Some(authorized),
        installments: answer
            .text("INSTALLMENT")
            .and_then(|i| i.trim().parse().ok()),
    })
}

/// The answer's `REFERENCE_CODE`, when well formed.
pub fn provider_ref(answer: &Answer) -> Option<ProviderRef> {
    answer
        .non_empty("REFERENCE_CODE")
        .and_then(|r| ProviderRef::parse(&r).ok())
}

/// The provider's text of a refusal: `RESPONSE_DATA`, else `ERROR_MESSAGE`.
fn provider_text(answer: &Answer) -> String {
    answer
        .non_empty("RESPONSE_DATA")
        .or_else(|| answer.non_empty("ERROR_MESSAGE"))
        .unwrap_or_default()
}

/// Finds the bank's code: `ERROR_CODE`, else the leading digits of `BANK_RESULT`, else
/// a code written inside `RESPONSE_DATA` ("... (Banka kodu: 12)").
pub fn bank_code(answer: &Answer) -> Option<BankCode> {
    let numeric = |s: &str| (1..=2).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_digit());
    if let Some(code) = answer.non_empty("ERROR_CODE").filter(|c| numeric(c)) {
        return BankCode::parse(&code);
    }
    if let Some(result) = answer.non_empty("BANK_RESULT") {
        let digits: String = result.chars().take_while(char::is_ascii_digit).collect();
        if numeric(&digits) {
            return BankCode::parse(&digits);
        }
    }
    code_in_text(&provider_text(answer))
}

/// A one- or two-digit code after the word "kod"/"code" in a text.
fn code_in_text(text: &str) -> Option<BankCode> {
    let lower = text.to_lowercase();
    let start = lower.find("kod").or_else(|| lower.find("code"))?;
    let rest = &lower[start..];
    let after_word = rest.find(|c: char| c.is_ascii_digit())?;
    // Only a short gap (": ", "u: ", " ") between the word and the digits.
    if after_word > 8 {
        return None;
    }
    let digits: String = rest[after_word..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    ((1..=2).contains(&digits.len()))
        .then(|| BankCode::parse(&digits))
        .flatten()
}

/// A decline: catalogue texts when the code is known, the provider's text otherwise.
pub fn decline(answer: &Answer) -> Decline {
    let text = provider_text(answer);
    let bank_code = bank_code(answer);
    let message = match &bank_code {
        Some(code) => code.message(),
        None if !text.is_empty() => Message {
            tr: text.clone(),
            en: format!("Not approved by the provider: {text}"),
        },
        None => Message::new("İşlem onaylanmadı", "Transaction not approved"),
    };
    Decline {
        kind: DeclineKind::Refused,
        bank_code,
        message,
        provider_text: text,
        provider_ref: provider_ref(answer),
    }
}

/// An unsigned refusal: a bank code makes it a decline; otherwise the provider refused
/// the request itself (credentials, IP, format), so nothing was charged.
fn unsigned_refusal(answer: &Answer) -> Outcome {
    if let Some(kind) = refusal_kind(answer) {
        return Outcome::Failed(Failure {
            kind,
            detail: provider_text(answer),
        });
    }
    if bank_code(answer).is_some() {
        return Outcome::Declined(decline(answer));
    }
    Outcome::Failed(Failure {
        kind: FailureKind::Rejected,
        detail: provider_text(answer),
    })
}

/// Credentials and IP refusals, told apart so screens can say what to do.
pub fn refusal_kind(answer: &Answer) -> Option<FailureKind> {
    let code = answer.response_code().unwrap_or_default();
    let error = answer.non_empty("ERROR_CODE").unwrap_or_default();
    let text = provider_text(answer).to_lowercase();
    if code == "9" || text.contains("hashdata") || text.contains("sx") {
        Some(FailureKind::BadCredentials)
    } else if error.starts_with("IP") || text.contains("ip adres") {
        Some(FailureKind::IpNotAllowed)
    } else {
        None
    }
}

/// A refused refund that says the sale's business day is not closed yet: N Kolay
/// answers it with the generic bank code 12 and a text naming the day's end ("İade
/// işlemi gün sonundan sonra yapılabilir"), so the text tells it apart from other 12s.
pub fn refund_before_day_close(outcome: &mut Outcome) {
    let Outcome::Declined(decline) = outcome else {
        return;
    };
    let text = decline.provider_text.to_lowercase();
    let says_day_end = text.contains("gün sonu") || text.contains("gun sonu");
    if decline
        .bank_code
        .as_ref()
        .is_some_and(|c| c.as_str() == "12")
        && says_day_end
    {
        decline.kind = DeclineKind::DayNotClosed;
        decline.message = Message::new(
            "Satışın günü henüz kapanmadı: bugün iptal edilebilir, iade gün sonundan sonra yapılır.",
            "The sale's business day is not closed yet: it can be cancelled today; a refund is possible after the day's close.",
        );
    }
}

/// Whether a refused refund says the operation type was wrong (`refund` vs `refundp`).
pub fn rejects_type(answer: &Answer) -> bool {
    let text = provider_text(answer).to_lowercase();
    let error = answer
        .non_empty("ERROR_CODE")
        .unwrap_or_default()
        .to_lowercase();
    error.starts_with("type") || text.contains("tip") || text.contains("type")
}

/// The outcome of a cancel or refund answer (these answers are not signed).
pub fn reversal_outcome(answer: &Answer) -> Outcome {
    match answer.response_code().as_deref() {
        Some("2") => match provider_ref(answer) {
            Some(provider_ref) => Outcome::Approved(Approval {
                auth_code: None,
                provider_ref,
                authorized_amount: None,
                installments: None,
            }),
            None => Outcome::Unknown(UnknownReason::Inconsistent(
                "success without a reference code".into(),
            )),
        },
        Some(_) => unsigned_refusal(answer),
        None => Outcome::Unknown(UnknownReason::Unparseable),
    }
}

/// The outcome of a pre-authorisation capture or release answer. These answers are
/// not published (the shape is the simulator's choice, like the sale's answer) and
/// not signed: `RESPONSE_CODE` 2 with a `REFERENCE_CODE` is done. A capture answer that
/// names an `AUTHORIZATION_AMOUNT` other than `amount` is not trusted.
pub fn pre_auth_outcome(answer: &Answer, amount: Kurus) -> Outcome {
    let mut outcome = reversal_outcome(answer);
    if let Outcome::Approved(approval) = &mut outcome {
        let stated = answer.text("AUTHORIZATION_AMOUNT");
        let authorized = stated.as_deref().and_then(parse_amount);
        match (stated.as_deref().map(str::trim), authorized) {
            (None | Some(""), _) => {}
            (Some(_), Some(a)) if a == amount => approval.authorized_amount = Some(a),
            _ => {
                return Outcome::Unknown(UnknownReason::Inconsistent(
                    "the provider's amount is not the amount sent".into(),
                ))
            }
        }
        approval.auth_code = answer
            .text("AUTH_CODE")
            .and_then(|a| AuthCode::parse_approval(&a));
    }
    outcome
}

fn kind_of(text: &str) -> TransactionKind {
    match text.trim().to_ascii_lowercase().as_str() {
        "sales" | "sale" | "satis" | "satış" => TransactionKind::Sale,
        "presales" | "preauth" => TransactionKind::PreAuth,
        "presales_approve" => TransactionKind::Capture,
        "presales_cancel" => TransactionKind::Release,
        "cancel" | "cancelp" | "iptal" => TransactionKind::Cancel,
        "refund" | "iade" => TransactionKind::Refund,
        "refundp" | "partialrefund" => TransactionKind::PartialRefund,
        _ => TransactionKind::Other(text.trim().to_owned()),
    }
}

fn status_of(text: &str) -> RowStatus {
    match text.trim().to_ascii_uppercase().as_str() {
        "SUCCESS" | "BASARILI" => RowStatus::Success,
        "ERROR" | "FAIL" | "FAILED" => RowStatus::Error,
        "NEW" => RowStatus::New,
        _ => RowStatus::Other(text.trim().to_owned()),
    }
}

/// One row of PaymentList (UPPER_SNAKE) or PfTransactionReportList (camelCase): the key
/// lookup ignores case and underscores, so one mapping reads both.
pub fn report_row(row: &Answer) -> ReportRow {
    let text = |keys: &[&str]| row.text_any(keys).filter(|s| !s.trim().is_empty());
    ReportRow {
        provider_ref: text(&["REFERENCE_CODE"]).and_then(|r| ProviderRef::parse(r.trim()).ok()),
        sale_ref: text(&["SALE_REFERENCE_CODE"]).and_then(|r| ProviderRef::parse(r.trim()).ok()),
        auth_code: text(&["AUTH_CODE"]).and_then(|a| AuthCode::parse_approval(&a)),
        client_ref: text(&["CLIENT_REFERENCE_CODE"]).map(|c| c.trim().to_owned()),
        kind: text(&["TRANSACTION_TYPE"])
            .map(|t| kind_of(&t))
            .unwrap_or(TransactionKind::Sale),
        status: text(&["STATUS"])
            .map(|s| status_of(&s))
            .unwrap_or(RowStatus::Other(String::new())),
        amount: text(&["TRANSACTION_AMOUNT", "AMOUNT"]).and_then(|a| parse_amount(&a)),
        authorized_amount: text(&["AUTHORIZATION_AMOUNT"]).and_then(|a| parse_amount(&a)),
        installments: text(&["INSTALLMENT_COUNT", "INSTALLMENT"])
            .and_then(|i| i.trim().parse().ok()),
        masked_pan: text(&["CARD_NUMBER"]).and_then(|c| MaskedPan::parse(&c)),
        time: text(&["TRX_DATE"]).and_then(|d| parse_datetime(&d)),
        value_date: text(&["VALOR_DATE"]).and_then(|d| parse_date(&d)),
        commission: text(&["COMMISION", "COMMISSION"]).and_then(|c| parse_amount(&c)),
        currency: text(&["CURRENCY_CODE"])
            .and_then(|c| Currency::from_numeric(&c).or_else(|| Currency::from_alpha(&c))),
        is_3d: text(&["IS_3D"]).and_then(|b| parse_bool(&b)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nkolay::signing::{sign_answer, AnswerHashVariant};
    use serde_json::{json, Value};

    const SECRET: &str = "_viH5wUS4HiBmmw9uGybN";

    fn signed(mut fields: Value) -> Answer {
        let obj = fields.as_object().unwrap().clone();
        let hash = sign_answer(
            |k| obj.get(k).and_then(|v| v.as_str()),
            SECRET,
            AnswerHashVariant::WithCurrency,
        );
        fields["hashDataV2"] = json!(hash);
        Answer::parse(&fields.to_string()).unwrap()
    }

    #[test]
    fn a_refund_before_the_day_close_is_told_apart_from_other_12s() {
        let early = Answer::parse(
            r#"{"RESPONSE_CODE":"0","RESPONSE_DATA":"İade işlemi gün sonundan sonra yapılabilir","ERROR_CODE":"12"}"#,
        )
        .unwrap();
        let mut outcome = reversal_outcome(&early);
        refund_before_day_close(&mut outcome);
        let Outcome::Declined(d) = outcome else {
            panic!("not a decline: {outcome:?}")
        };
        assert_eq!(d.kind, DeclineKind::DayNotClosed);
        assert!(d.message.en.contains("not closed"), "{:?}", d.message);
        let other = Answer::parse(
            r#"{"RESPONSE_CODE":"0","RESPONSE_DATA":"Geçersiz işlem","ERROR_CODE":"12"}"#,
        )
        .unwrap();
        let mut outcome = reversal_outcome(&other);
        refund_before_day_close(&mut outcome);
        let Outcome::Declined(d) = outcome else {
            panic!("not a decline: {outcome:?}")
        };
        assert_eq!(d.kind, DeclineKind::Refused);
    }

    fn approved_fields() -> Value {
        json!({
            "RESPONSE_CODE": "2", "RESPONSE_DATA": "İşlem başarılı", "MERCHANT_NO": "400123456",
            "REFERENCE_CODE": "IKSIRPF0000000001", "AUTH_CODE": "654321", "USE_3D": "false",
            "RND": "29-11-2026 10:00:00", "INSTALLMENT": "1", "AUTHORIZATION_AMOUNT": "150.00",
            "CURRENCY_CODE": "949"
        })
    }

    fn amount(text: &str) -> Kurus {
        Kurus::parse(text).unwrap()
    }

    #[test]
    fn golden_rule_approves_only_when_everything_holds() {
        let outcome = payment_outcome(&signed(approved_fields()), SECRET, amount("150.00"));
        let Outcome::Approved(a) = outcome else {
            panic!("{outcome:?}")
        };
        assert_eq!(a.auth_code.unwrap().as_str(), "654321");
        assert_eq!(a.authorized_amount, Some(amount("150.00")));

        // Surcharge: authorized above the amount sent is fine.
        assert!(matches!(
            payment_outcome(&signed(approved_fields()), SECRET, amount("149.00")),
            Outcome::Approved(_)
        ));
        // Authorized below what we asked for.
        assert!(matches!(
            payment_outcome(&signed(approved_fields()), SECRET, amount("150.01")),
            Outcome::Unknown(UnknownReason::Inconsistent(_))
        ));
        for auth in ["", "0", "00"] {
            let mut f = approved_fields();
            f["AUTH_CODE"] = json!(auth);
            assert!(matches!(
                payment_outcome(&signed(f), SECRET, amount("150.00")),
                Outcome::Unknown(UnknownReason::Inconsistent(_))
            ));
        }
        // Wrong key, or no signature at all: never approved.
        assert_eq!(
            payment_outcome(&signed(approved_fields()), "other", amount("150.00")),
            Outcome::Unknown(UnknownReason::SignatureInvalid)
        );
        let unsigned = Answer::parse(&approved_fields().to_string()).unwrap();
        assert_eq!(
            payment_outcome(&unsigned, SECRET, amount("150.00")),
            Outcome::Unknown(UnknownReason::SignatureInvalid)
        );
    }

    #[test]
    fn bank_codes_from_every_place() {
        let mut f = approved_fields();
        f["RESPONSE_CODE"] = json!("0");
        f["AUTH_CODE"] = json!("");
        f["ERROR_CODE"] = json!("5");
        let Outcome::Declined(d) = payment_outcome(&signed(f.clone()), SECRET, amount("150.00"))
        else {
            panic!()
        };
        assert_eq!(d.bank_code.unwrap().as_str(), "05");
        assert_eq!(d.message.tr, "İşlem onaylanmadı");

        f["ERROR_CODE"] = json!("");
        f["BANK_RESULT"] = json!("51 - Yetersiz bakiye");
        let Outcome::Declined(d) = payment_outcome(&signed(f.clone()), SECRET, amount("1.00"))
        else {
            panic!()
        };
        assert_eq!(d.bank_code.unwrap().as_str(), "51");

        f["BANK_RESULT"] = json!("");
        f["RESPONSE_DATA"] = json!("Geçersiz işlem (Banka kodu: 12)");
        let Outcome::Declined(d) = payment_outcome(&signed(f), SECRET, amount("1.00")) else {
            panic!()
        };
        assert_eq!(d.bank_code.unwrap().as_str(), "12");
        assert_eq!(d.message.en, "Invalid transaction");
    }

    #[test]
    fn unsigned_refusals_are_failures_with_a_class() {
        let hash_error =
            Answer::parse(r#"{"id":"","result":"{\"RESPONSE_CODE\":9,\"RESPONSE_DATA\":\"API : hashData error :: \"}"}"#)
                .unwrap();
        assert!(matches!(
            payment_outcome(&hash_error, SECRET, amount("1.00")),
            Outcome::Failed(Failure {
                kind: FailureKind::BadCredentials,
                ..
            })
        ));
        let ip = Answer::parse(
            r#"{"RESPONSE_CODE":"0","RESPONSE_DATA":"IP adresi tanımlı değil: 10.1.1.1","ERROR_CODE":"IP0001"}"#,
        )
        .unwrap();
        assert!(matches!(
            payment_outcome(&ip, SECRET, amount("1.00")),
            Outcome::Failed(Failure {
                kind: FailureKind::IpNotAllowed,
                ..
            })
        ));
        let format = Answer::parse(
            r#"{"RESPONSE_CODE":"0","RESPONSE_DATA":"amount alanı hatalı","ERROR_CODE":"AB0001"}"#,
        )
        .unwrap();
        assert!(matches!(
            payment_outcome(&format, SECRET, amount("1.00")),
            Outcome::Failed(Failure {
                kind: FailureKind::Rejected,
                ..
            })
        ));
    }

    #[test]
    fn reversal_answers() {
        let ok = Answer::parse(r#"{"responseCode":2,"REFERENCE_CODE":"IKSIRPF9"}"#).unwrap();
        assert!(matches!(reversal_outcome(&ok), Outcome::Approved(_)));
        let late = Answer::parse(
            r#"{"RESPONSE_CODE":"0","RESPONSE_DATA":"İşlem İptal Edilemedi","ERROR_CODE":"21"}"#,
        )
        .unwrap();
        let Outcome::Declined(d) = reversal_outcome(&late) else {
            panic!()
        };
        assert_eq!(d.bank_code.unwrap().as_str(), "21");
        let wrong_type = Answer::parse(
            r#"{"RESPONSE_CODE":"0","RESPONSE_DATA":"Geçersiz işlem tipi","ERROR_CODE":"TYPE01"}"#,
        )
        .unwrap();
        assert!(rejects_type(&wrong_type));
        assert!(!rejects_type(&late));
    }

    #[test]
    fn pre_auth_answers() {
        let done = Answer::parse(
            r#"{"RESPONSE_CODE":"2","RESPONSE_DATA":"İşlem başarılı","REFERENCE_CODE":"IKSIRPF7",
            "AUTH_CODE":"123456","AUTHORIZATION_AMOUNT":"60.00"}"#,
        )
        .unwrap();
        let Outcome::Approved(a) = pre_auth_outcome(&done, amount("60")) else {
            panic!()
        };
        assert_eq!(a.authorized_amount, Some(amount("60")));
        assert_eq!(a.auth_code.unwrap().as_str(), "123456");
        assert!(matches!(
            pre_auth_outcome(&done, amount("61")),
            Outcome::Unknown(UnknownReason::Inconsistent(_))
        ));
        let camel = Answer::parse(r#"{"responseCode":2,"referenceCode":"IKSIRPF8"}"#).unwrap();
        assert!(matches!(
            pre_auth_outcome(&camel, amount("1")),
            Outcome::Approved(_)
        ));
        let above = Answer::parse(
            r#"{"RESPONSE_CODE":"0","RESPONSE_DATA":"İşlem tutarını kontrol edin","ERROR_CODE":"13"}"#,
        )
        .unwrap();
        let Outcome::Declined(d) = pre_auth_outcome(&above, amount("1")) else {
            panic!()
        };
        assert_eq!(d.bank_code.unwrap().as_str(), "13");
    }

    #[test]
    fn report_rows_in_both_shapes() {
        let upper = Answer::parse(
            r#"{"REFERENCE_CODE":"IKSIRPF1","AUTH_CODE":"111111","CLIENT_REFERENCE_CODE":"c1",
            "TRANSACTION_TYPE":"SALES","STATUS":"SUCCESS","TRX_DATE":"05.10.2026 14:05:09",
            "VALOR_DATE":"20261006","TRANSACTION_AMOUNT":"150.00","AUTHORIZATION_AMOUNT":"150.00",
            "COMMISION":"2.69","INSTALLMENT_COUNT":"1","CARD_NUMBER":"454671******7894","IS_3D":"false"}"#,
        )
        .unwrap();
        let camel = Answer::parse(
            r#"{"referenceCode":"IKSIRPF1","authCode":"111111","clientReferenceCode":"c1",
            "transactionType":"sales","status":"SUCCESS","trxDate":"05.10.2026 14:05:09",
            "valorDate":"20261006","transactionAmount":"150.00","authorizationAmount":150.00,
            "commission":"2.69","installmentCount":1,"cardNumber":"454671******7894","is3d":false}"#,
        )
        .unwrap();
        let a = report_row(&upper);
        assert_eq!(a, report_row(&camel));
        assert_eq!(a.kind, TransactionKind::Sale);
        assert_eq!(a.status, RowStatus::Success);
        assert_eq!(a.amount, Some(amount("150.00")));
        assert_eq!(a.value_date.unwrap().to_string(), "2026-10-06");
        assert_eq!(a.masked_pan.unwrap().last4(), "7894");
    }
}
