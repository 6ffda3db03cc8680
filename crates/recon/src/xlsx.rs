//! XLSX statements: the first sheet of the workbook as records, numbers and dates kept
//! typed so an amount Excel holds as `1234.56` or a date it holds as a serial day needs
//! no text format at all, and text cells go through the profile like CSV fields.

use std::borrow::Cow;
use std::io::Cursor;

use calamine::{Data, Reader, Xlsx};

use crate::statement::{Cell, ImportError, Record};

/// Whether the bytes are a ZIP container, which is what an XLSX file is.
pub(crate) fn is_xlsx(bytes: &[u8]) -> bool {
    bytes.starts_with(b"PK\x03\x04")
}

/// The non-empty rows of the first sheet; each record's `line` is its row number as
/// Excel shows it (1-based).
pub(crate) fn records(bytes: &[u8]) -> Result<Vec<Record<'static>>, ImportError> {
    let mut book: Xlsx<_> = calamine::open_workbook_from_rs(Cursor::new(bytes))
        .map_err(|e: calamine::XlsxError| ImportError::Spreadsheet(e.to_string()))?;
    let range = book
        .worksheet_range_at(0)
        .ok_or_else(|| ImportError::Spreadsheet("the workbook has no sheet".to_owned()))?
        .map_err(|e| ImportError::Spreadsheet(e.to_string()))?;
    let first_row = range.start().map_or(0, |(row, _)| row);
    let mut out = Vec::with_capacity(range.height());
    for (i, cells) in range.rows().enumerate() {
        if cells.iter().all(|c| matches!(c, Data::Empty)) {
            continue;
        }
        let line = first_row + u32::try_from(i).unwrap_or(u32::MAX - first_row) + 1;
        out.push(Record {
            line,
            fields: cells.iter().map(cell).collect(),
        });
    }
    Ok(out)
}

fn cell(data: &Data) -> Cell<'static> {
    match data {
        Data::Empty => Cell::Text(Cow::Borrowed("")),
        Data::String(s) | Data::DateTimeIso(s) | Data::DurationIso(s) => {
            Cell::Text(Cow::Owned(s.clone()))
        }
        Data::Float(f) => Cell::Number(*f),
        Data::Int(i) => Cell::Number(*i as f64),
        Data::Bool(b) => Cell::Text(Cow::Borrowed(if *b { "true" } else { "false" })),
        Data::DateTime(t) => match t.as_datetime() {
            Some(t) => Cell::Time(t),
            None => Cell::Number(t.as_f64()),
        },
        Data::Error(e) => Cell::Text(Cow::Owned(format!("#{e}"))),
    }
}
