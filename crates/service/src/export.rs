//! The filtered payment list as a file: CSV or XLSX, in the reader's language.
//!
//! Turkish: `;`-separated CSV (what Excel in Türkiye expects, since `,` is its decimal
//! mark), amounts `1.234,56`, times `29.11.2026 14:05`. English: `,`-separated, amounts
//! `1,234.56`, times `2026-11-29 14:05`. Both CSVs start with a UTF-8 byte order mark,
//! without which Excel reads UTF-8 as the local code page and mangles `ş`, `ğ`, `İ`.
//!
//! In XLSX, amounts are numbers with a `#,##0.00` format and times are Excel date-times
//! (Istanbul wall-clock time, as Excel has no time zones) with a per-language display
//! format, so the sheet sorts, sums and filters as numbers and dates, and Excel shows
//! the separators of the reader's own locale. An XLSX number is an IEEE double, which
//! holds 15 significant digits: every amount below 10^15 kuruş (10 trillion TL) reads
//! back exactly to the kuruş.
//!
//! Cards appear only as the stored masked PAN (first 6 + last 4).

use std::collections::HashMap;

use rust_xlsxwriter::{ExcelDateTime, Format, Workbook, XlsxError};
use serde::{Deserialize, Serialize};

use sanalpos_core::lang::istanbul_time;
use sanalpos_core::Lang;
use sanalpos_store::PaymentRecord;

use crate::error::ServiceError;
use crate::labels::{channel_label, status_label};
use crate::reports::query_of;
use crate::types::PaymentFilter;
use crate::PaymentService;

/// A file format of an export.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ExportFormat {
    /// Comma- (English) or semicolon- (Turkish) separated values, UTF-8 with BOM.
    Csv,
    /// An Excel workbook.
    Xlsx,
}

impl ExportFormat {
    /// `csv` / `xlsx`, the file extension.
    pub fn extension(self) -> &'static str {
        match self {
            ExportFormat::Csv => "csv",
            ExportFormat::Xlsx => "xlsx",
        }
    }

    /// The HTTP content type.
    pub fn content_type(self) -> &'static str {
        match self {
            ExportFormat::Csv => "text/csv; charset=utf-8",
            ExportFormat::Xlsx => {
                "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
            }
        }
    }
}

/// The largest export, in rows (Excel's sheet holds 1,048,576 rows with the header).
pub const MAX_EXPORT_ROWS: u32 = 1_000_000;

/// The column headers of a payment export, in order.
pub fn payment_export_headers(lang: Lang) -> [&'static str; 13] {
    match lang {
        Lang::Tr => [
            "Tarih",
            "Durum",
            "Kanal",
            "Sanal POS",
            "Cari hesap",
            "Sipariş no",
            "Kart",
            "Tutar",
            "Para birimi",
            "Taksit",
            "Provizyon no",
            "İşlem referansı",
            "İade edilen",
        ],
        Lang::En => [
            "Date",
            "Status",
            "Channel",
            "POS",
            "Customer ref",
            "Order ref",
            "Card",
            "Amount",
            "Currency",
            "Installments",
            "Auth code",
            "Provider reference",
            "Refunded",
        ],
    }
}

fn sheet_name(lang: Lang) -> &'static str {
    match lang {
        Lang::Tr => "Tahsilatlar",
        Lang::En => "Payments",
    }
}

/// A text cell made harmless for spreadsheets: a leading `=`, `+`, `-`, `@`, tab or
/// carriage return would make Excel read a customer-typed reference as a formula.
pub(crate) fn neutralize(text: &str) -> String {
    if text.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{text}")
    } else {
        text.to_owned()
    }
}

/// Appends one CSV field (RFC 4180 quoting).
pub(crate) fn csv_field(out: &mut String, value: &str, delimiter: char) {
    if value.contains([delimiter, '"', '\n', '\r'])
        || value.starts_with(' ')
        || value.ends_with(' ')
    {
        out.push('"');
        out.push_str(&value.replace('"', "\"\""));
        out.push('"');
    } else {
        out.push_str(value);
    }
}

/// The CSV delimiter of a language.
pub(crate) fn csv_delimiter(lang: Lang) -> char {
    match lang {
        Lang::Tr => ';',
        Lang::En => ',',
    }
}

/// A CSV document written a line at a time (BOM, header, rows, CRLF line ends).
pub(crate) struct CsvWriter {
    out: String,
    delimiter: char,
}

impl CsvWriter {
    /// A document in `lang`'s delimiter with its header line.
    pub(crate) fn new(lang: Lang, headers: &[&str]) -> Self {
        let mut writer = Self {
            out: String::from("\u{feff}"),
            delimiter: csv_delimiter(lang),
        };
        writer.line(headers.iter().copied());
        writer
    }

    /// Adds one line of cells.
    pub(crate) fn line<'a>(&mut self, cells: impl Iterator<Item = &'a str>) {
        for (i, cell) in cells.enumerate() {
            if i > 0 {
                self.out.push(self.delimiter);
            }
            csv_field(&mut self.out, cell, self.delimiter);
        }
        self.out.push_str("\r\n");
    }

    /// The document's bytes.
    pub(crate) fn finish(self) -> Vec<u8> {
        self.out.into_bytes()
    }
}

/// Writes a CSV document (BOM, header, rows, CRLF line ends).
pub(crate) fn write_csv(lang: Lang, headers: &[&str], rows: &[Vec<String>]) -> Vec<u8> {
    let mut writer = CsvWriter::new(lang, headers);
    for row in rows {
        writer.line(row.iter().map(String::as_str));
    }
    writer.finish()
}

/// The Excel date-time of a Unix-millisecond instant, in Istanbul wall-clock time.
pub(crate) fn excel_time(ms: i64) -> Result<ExcelDateTime, XlsxError> {
    use chrono::{Datelike, Timelike};
    let t = istanbul_time(ms);
    let seconds = f64::from(t.second()) + f64::from(t.timestamp_subsec_millis()) / 1000.0;
    ExcelDateTime::from_ymd(
        u16::try_from(t.year()).unwrap_or(1900),
        t.month() as u8,
        t.day() as u8,
    )?
    .and_hms(t.hour() as u16, t.minute() as u8, seconds)
}

/// The Excel display format of date-times in a language.
pub(crate) fn excel_time_format(lang: Lang) -> &'static str {
    match lang {
        Lang::Tr => "dd.mm.yyyy hh:mm",
        Lang::En => "yyyy-mm-dd hh:mm",
    }
}

/// The number format of amounts (Excel shows the reader's own separators).
pub(crate) const EXCEL_AMOUNT_FORMAT: &str = "#,##0.00";

/// Kuruş as the number Excel holds (reads back exactly below 10^15 kuruş).
pub(crate) fn excel_amount(minor: i64) -> f64 {
    // The division rounds to the nearest double; with at most 15 significant digits
    // that double reads back (and Excel shows it) as the same two-decimal amount.
    minor as f64 / 100.0
}

fn xlsx_error(e: XlsxError) -> ServiceError {
    ServiceError::Storage(format!("xlsx: {e}"))
}

fn csv_rows(
    records: &[PaymentRecord],
    pos_names: &HashMap<String, String>,
    lang: Lang,
) -> Vec<Vec<String>> {
    records
        .iter()
        .map(|p| {
            vec![
                lang.datetime(p.created_at),
                status_label(lang, p.status).to_owned(),
                channel_label(lang, p.channel).to_owned(),
                neutralize(pos_names.get(&p.pos_id).unwrap_or(&p.pos_id)),
                neutralize(p.customer_ref.as_deref().unwrap_or_default()),
                neutralize(p.order_ref.as_deref().unwrap_or_default()),
                p.masked_pan.clone(),
                lang.amount(p.amount),
                p.currency.alpha().to_owned(),
                p.installments.to_string(),
                neutralize(p.auth_code.as_deref().unwrap_or_default()),
                neutralize(p.provider_ref.as_deref().unwrap_or_default()),
                lang.amount(p.refunded_amount),
            ]
        })
        .collect()
}

fn xlsx(
    records: &[PaymentRecord],
    pos_names: &HashMap<String, String>,
    lang: Lang,
) -> Result<Vec<u8>, XlsxError> {
    let mut workbook = Workbook::new();
    let sheet = workbook.add_worksheet();
    sheet.set_name(sheet_name(lang))?;
    let bold = Format::new().set_bold();
    let money = Format::new().set_num_format(EXCEL_AMOUNT_FORMAT);
    let time = Format::new().set_num_format(excel_time_format(lang));
    let headers = payment_export_headers(lang);
    for (col, header) in headers.iter().enumerate() {
        sheet.write_string_with_format(0, col as u16, *header, &bold)?;
    }
    for (i, p) in records.iter().enumerate() {
        let row = u32::try_from(i + 1).unwrap_or(u32::MAX);
        sheet.write_datetime_with_format(row, 0, excel_time(p.created_at)?, &time)?;
        sheet.write_string(row, 1, status_label(lang, p.status))?;
        sheet.write_string(row, 2, channel_label(lang, p.channel))?;
        let texts = [
            (3, pos_names.get(&p.pos_id).unwrap_or(&p.pos_id).as_str()),
            (4, p.customer_ref.as_deref().unwrap_or_default()),
            (5, p.order_ref.as_deref().unwrap_or_default()),
            (6, p.masked_pan.as_str()),
        ];
        for (col, text) in texts {
            if !text.is_empty() {
                sheet.write_string(row, col, neutralize(text))?;
            }
        }
        sheet.write_number_with_format(row, 7, excel_amount(p.amount.minor()), &money)?;
        sheet.write_string(row, 8, p.currency.alpha())?;
        sheet.write_number(row, 9, f64::from(p.installments))?;
        for (col, text) in [(10, &p.auth_code), (11, &p.provider_ref)] {
            if let Some(text) = text {
                sheet.write_string(row, col, neutralize(text))?;
            }
        }
        sheet.write_number_with_format(row, 12, excel_amount(p.refunded_amount.minor()), &money)?;
    }
    for (col, width) in [
        (0u16, 17.0),
        (1, 16.0),
        (2, 16.0),
        (3, 18.0),
        (4, 16.0),
        (5, 16.0),
        (6, 19.0),
        (7, 14.0),
        (8, 8.0),
        (9, 8.0),
        (10, 12.0),
        (11, 26.0),
        (12, 14.0),
    ] {
        sheet.set_column_width(col, width)?;
    }
    sheet.set_freeze_panes(1, 0)?;
    let last_row = u32::try_from(records.len()).unwrap_or(u32::MAX);
    sheet.autofilter(0, 0, last_row, 12)?;
    workbook.save_to_buffer()
}

impl PaymentService {
    /// Every payment `filter` selects (its cursor and limit are ignored), newest first,
    /// as a CSV or XLSX file in `lang`. More than `max_rows` (at most
    /// [`MAX_EXPORT_ROWS`]) matching payments is refused with `export_too_large`
    /// rather than cut short: an export is the whole filtered list or nothing.
    pub async fn export_payments(
        &self,
        company_id: &str,
        filter: &PaymentFilter,
        format: ExportFormat,
        lang: Lang,
        max_rows: u32,
    ) -> Result<Vec<u8>, ServiceError> {
        if !(1..=MAX_EXPORT_ROWS).contains(&max_rows) {
            return Err(ServiceError::validation(
                "max_rows",
                format!("1 to {MAX_EXPORT_ROWS}"),
            ));
        }
        let mut query = query_of(filter)?;
        query.limit = max_rows + 1;
        let records = self.inner.store.list_payments(company_id, &query).await?;
        if records.len() > max_rows as usize {
            return Err(ServiceError::Conflict {
                code: "export_too_large",
                message: format!(
                    "more than {max_rows} payments match; narrow the filter (a shorter date range)"
                ),
            });
        }
        let pos_names: HashMap<String, String> = self
            .inner
            .store
            .list_pos(company_id)
            .await?
            .into_iter()
            .map(|p| (p.id, p.name))
            .collect();
        match format {
            ExportFormat::Csv => Ok(write_csv(
                lang,
                &payment_export_headers(lang),
                &csv_rows(&records, &pos_names, lang),
            )),
            ExportFormat::Xlsx => xlsx(&records, &pos_names, lang).map_err(xlsx_error),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_fields_are_quoted_only_when_needed() {
        let mut out = String::new();
        csv_field(&mut out, "1.234,56", ';');
        out.push('|');
        csv_field(&mut out, "1,234.56", ',');
        out.push('|');
        csv_field(&mut out, "say \"hi\"", ',');
        assert_eq!(out, "1.234,56|\"1,234.56\"|\"say \"\"hi\"\"\"");
    }

    #[test]
    fn formulas_are_neutralized() {
        assert_eq!(neutralize("=HYPERLINK(\"x\")"), "'=HYPERLINK(\"x\")");
        assert_eq!(neutralize("-5"), "'-5");
        assert_eq!(neutralize("120.01.001"), "120.01.001");
    }

    #[test]
    fn amounts_survive_the_double() {
        for minor in [0_i64, 1, 99, 123_456, 99_999_999_999, 999_999_999_999_999] {
            assert_eq!((excel_amount(minor) * 100.0).round() as i64, minor);
        }
    }
}
