//! The provider's lists: PaymentList (one client reference, or a window) and the
//! PfTransactionReportList pages, read into report rows; windows of at most a month.

use chrono::{Days, NaiveDate};

use super::codec::Answer;
use super::transport::path;
use super::{answer, request, NkolayGateway};
use crate::types::*;
use crate::GatewayError;

/// The provider accepts report windows of at most one month; we use 31 days.
const MAX_WINDOW_DAYS: u64 = 31;

impl NkolayGateway {
    /// PaymentList for a window (at most one month), optionally for one client
    /// reference. An empty list is `Ok(vec![])`.
    pub async fn payment_list(
        &self,
        from: NaiveDate,
        to: NaiveDate,
        client_ref: &str,
    ) -> Result<Vec<ReportRow>, GatewayError> {
        check_window(from, to)?;
        let form = request::payment_list(&self.config.credentials, from, to, client_ref);
        let answer = self.read_call(path::PAYMENT_LIST, &form).await?;
        list_rows(&answer, "LIST")
    }

    pub(super) async fn report_page(
        &self,
        query: &ReportQuery,
    ) -> Result<ReportPage, GatewayError> {
        if query.to < query.from {
            return Err(GatewayError::Invalid(
                "end date is before start date".into(),
            ));
        }
        let page_size = query.page_size.clamp(1, 1000);
        let cursor = query.cursor.clone().unwrap_or(ReportCursor {
            window_start: query.from,
            page: 1,
        });
        let window_to = window_end(cursor.window_start, query.to);
        let form = request::pf_report(
            &self.config.credentials,
            cursor.window_start,
            window_to,
            cursor.page,
            page_size,
        );
        let answer = self.read_call(path::PF_REPORT, &form).await?;
        let rows = list_rows(&answer, "List")?;
        let next = if rows.len() as u32 >= page_size {
            Some(ReportCursor {
                window_start: cursor.window_start,
                page: cursor.page + 1,
            })
        } else {
            window_to
                .succ_opt()
                .filter(|next| *next <= query.to)
                .map(|next| ReportCursor {
                    window_start: next,
                    page: 1,
                })
        };
        Ok(ReportPage { rows, next })
    }
}

fn check_window(from: NaiveDate, to: NaiveDate) -> Result<(), GatewayError> {
    if to < from {
        return Err(GatewayError::Invalid(
            "end date is before start date".into(),
        ));
    }
    if (to - from).num_days() as u64 > MAX_WINDOW_DAYS {
        return Err(GatewayError::Invalid(format!(
            "the provider reports at most {MAX_WINDOW_DAYS} days at a time"
        )));
    }
    Ok(())
}

/// The rows of a list answer; "no records" (`CORE0305`) is an empty list.
fn list_rows(answer: &Answer, key: &str) -> Result<Vec<ReportRow>, GatewayError> {
    let rows = answer.list(key);
    match answer.response_code().as_deref() {
        Some("2") => Ok(rows.iter().map(answer::report_row).collect()),
        _ if !rows.is_empty() => Ok(rows.iter().map(answer::report_row).collect()),
        _ if is_no_records(answer) => Ok(Vec::new()),
        _ => Err(GatewayError::Rejected(
            answer
                .non_empty("RESPONSE_DATA")
                .or_else(|| answer.non_empty("ERROR_MESSAGE"))
                .unwrap_or_else(|| "report refused".into()),
        )),
    }
}

fn is_no_records(answer: &Answer) -> bool {
    answer.non_empty("ERROR_CODE").as_deref() == Some("CORE0305")
        || answer
            .non_empty("RESPONSE_DATA")
            .is_some_and(|t| t.to_lowercase().contains("kayıt bulunamadı"))
}

/// The end of a window that starts at `start` and may not pass `to`.
fn window_end(start: NaiveDate, to: NaiveDate) -> NaiveDate {
    start
        .checked_add_days(Days::new(MAX_WINDOW_DAYS - 1))
        .map_or(to, |end| end.min(to))
}
