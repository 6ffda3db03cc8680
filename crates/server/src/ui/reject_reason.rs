//! Why a provider row was left out of a reconciliation run, in the page's language.
//!
//! The service keeps the reason as data ([`RejectCause`]); the English `reason` text
//! stays for API clients and for runs stored before the data existed.

use chrono::NaiveDateTime;

use sanalpos_core::Lang;
use sanalpos_service::{ExpectedValue, RejectCause, RejectedRow, RowProblem, StatementRow};

use super::format::day;
use super::i18n::{texts, Texts};

/// A catalogue text with its `{name}` placeholders filled.
fn fill(template: &str, values: &[(&str, &str)]) -> String {
    values
        .iter()
        .fold(template.to_owned(), |text, (name, value)| {
            text.replace(&format!("{{{name}}}"), value)
        })
}

fn expected(t: &Texts, e: ExpectedValue) -> &'static str {
    match e {
        ExpectedValue::Amount => t.rjx_amount,
        ExpectedValue::Reference => t.rjx_reference,
        ExpectedValue::TransactionType => t.rjx_transaction_type,
        ExpectedValue::Status => t.rjx_status,
        ExpectedValue::Installments => t.rjx_installments,
        ExpectedValue::MaskedPan => t.rjx_masked_pan,
        ExpectedValue::DateTime => t.rjx_date_time,
        ExpectedValue::Date => t.rjx_date,
        ExpectedValue::Currency => t.rjx_currency,
    }
}

fn problem(t: &Texts, p: &RowProblem) -> String {
    match p {
        RowProblem::FieldCount { found, expected } => fill(
            t.rj_field_count,
            &[
                ("found", &found.to_string()),
                ("expected", &expected.to_string()),
            ],
        ),
        RowProblem::Empty { column } => fill(t.rj_empty, &[("column", column)]),
        RowProblem::Invalid {
            column,
            value,
            expected: e,
        } => fill(
            t.rj_invalid,
            &[
                ("column", column),
                ("expected", expected(t, *e)),
                ("value", &format!("\"{value}\"")),
            ],
        ),
        RowProblem::UnknownTransactionType { text } => {
            fill(t.rj_unknown_type, &[("text", &format!("\"{text}\""))])
        }
        RowProblem::UnknownStatus { text } => {
            fill(t.rj_unknown_status, &[("text", &format!("\"{text}\""))])
        }
        RowProblem::NoAmount => t.rj_no_amount.to_owned(),
    }
}

/// `2026-11-29 14:05:00` as `29.11.2026 14:05:00` in Turkish.
fn moment(lang: Lang, at: &str) -> String {
    match (lang, NaiveDateTime::parse_from_str(at, "%Y-%m-%d %H:%M:%S")) {
        (Lang::Tr, Ok(t)) => t.format("%d.%m.%Y %H:%M:%S").to_string(),
        _ => at.to_owned(),
    }
}

/// The reason a person reads; the stored English text for a run without the data.
pub fn reject_reason(lang: Lang, row: &RejectedRow) -> String {
    let t = texts(lang);
    match &row.cause {
        Some(RejectCause::LeftOutOnImport { line, problem: p }) => fill(
            t.rj_left_out,
            &[("line", &line.to_string()), ("problem", &problem(t, p))],
        ),
        Some(RejectCause::OutsidePeriod { at, from, to }) => fill(
            t.rj_outside_period,
            &[
                ("at", &moment(lang, at)),
                ("from", &day(lang, from)),
                ("to", &day(lang, to)),
            ],
        ),
        Some(RejectCause::Unusable { problem: p }) => problem(t, p),
        None => row.reason.clone(),
    }
}

/// Why a statement row could not be read, in the page's language; the English text
/// when the row carries no data.
pub fn bad_row_reason(lang: Lang, row: &StatementRow) -> String {
    match &row.problem {
        Some(p) => problem(texts(lang), p),
        None => row.reason.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(cause: RejectCause) -> RejectedRow {
        RejectedRow {
            reference: "-".into(),
            line: None,
            reason: "english".into(),
            cause: Some(cause),
        }
    }

    #[test]
    fn reasons_in_each_language() {
        let outside = row(RejectCause::OutsidePeriod {
            at: "2026-11-30 00:10:00".into(),
            from: "2026-11-29".into(),
            to: "2026-11-29".into(),
        });
        assert_eq!(
            reject_reason(Lang::Tr, &outside),
            "30.11.2026 00:10:00 tarihli; 29.11.2026 – 29.11.2026 döneminin dışında"
        );
        assert_eq!(
            reject_reason(Lang::En, &outside),
            "dated 2026-11-30 00:10:00, outside the period 2026-11-29 to 2026-11-29"
        );
        let bad = row(RejectCause::LeftOutOnImport {
            line: 3,
            problem: RowProblem::Invalid {
                column: "Tutar".into(),
                value: "abc".into(),
                expected: ExpectedValue::Amount,
            },
        });
        assert_eq!(
            reject_reason(Lang::Tr, &bad),
            "3. satır: Tutar: geçerli bir tutar değil (\"abc\") (içe aktarımda dışarıda bırakıldı)"
        );
    }
}
