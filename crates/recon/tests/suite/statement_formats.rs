#![allow(clippy::unwrap_used)]
//! Statement files as banks and spreadsheets write them: `,`, tab and `|` separators,
//! Windows-1254 with Turkish numbers, and XLSX workbooks (typed numbers and dates, or
//! Turkish text), each with its bad rows reported by line and nothing imported.

use rust_xlsxwriter::{ExcelDateTime, Format, Workbook};
use sanalpos_recon::{parse_statement, ImportError, Profile, RowKind, RowState};

const HEADER: [&str; 13] = [
    "İşlem Tarihi",
    "Valör Tarihi",
    "İşlem Tipi",
    "Durum",
    "Referans No",
    "Sipariş No",
    "Provizyon No",
    "Kart No",
    "Taksit",
    "Tutar",
    "Provizyon Tutarı",
    "Komisyon",
    "Para Birimi",
];

/// Two rows: a sale of 12.345.678,90 TL and a partial refund of 1.234,56 TL.
const ROWS: [[&str; 13]; 2] = [
    [
        "29.11.2026 23:59:00",
        "01.12.2026",
        "Satış",
        "Başarılı",
        "IKSIRPF1",
        "c-1",
        "123456",
        "454671******7894",
        "3",
        "12.345.678,90",
        "12.345.678,90",
        "221.002,65",
        "TRY",
    ],
    [
        "30.11.2026 00:01:00",
        "30.11.2026",
        "KISMİ İADE",
        "BAŞARILI",
        "IKSIRPF2",
        "c-1",
        "",
        "454671******7894",
        "1",
        "1.234,56",
        "1.234,56",
        "0,00",
        "TRY",
    ],
];

/// A CSV text with `delimiter`, quoting fields that hold it.
fn csv(delimiter: char, rows: &[[&str; 13]]) -> String {
    let line = |cells: &[&str]| {
        cells
            .iter()
            .map(|c| {
                if c.contains(delimiter) {
                    format!("\"{c}\"")
                } else {
                    (*c).to_owned()
                }
            })
            .collect::<Vec<_>>()
            .join(&delimiter.to_string())
    };
    let mut out = line(&HEADER);
    out.push_str("\r\n");
    for row in rows {
        out.push_str(&line(row));
        out.push_str("\r\n");
    }
    out
}

fn check_rows(bytes: &[u8]) {
    let rows = parse_statement(bytes, &Profile::simulator()).unwrap();
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0].kind, RowKind::Sale);
    assert_eq!(rows[0].status, RowState::Success);
    assert_eq!(rows[0].amount.minor(), 1_234_567_890);
    assert_eq!(rows[0].commission.unwrap().minor(), 22_100_265);
    assert_eq!(rows[0].installments, Some(3));
    assert_eq!(rows[0].auth_code.as_ref().unwrap().as_str(), "123456");
    assert_eq!(rows[0].time.unwrap().to_string(), "2026-11-29 23:59:00");
    assert_eq!(rows[0].value_date.unwrap().to_string(), "2026-12-01");
    assert_eq!(rows[0].line.map(|l| l.get()), Some(2));
    assert_eq!(rows[1].kind, RowKind::PartialRefund);
    assert_eq!(rows[1].amount.minor(), 123_456);
    assert_eq!(rows[1].time.unwrap().to_string(), "2026-11-30 00:01:00");
    assert_eq!(rows[1].line.map(|l| l.get()), Some(3));
}

#[test]
fn comma_separated_with_quoted_turkish_numbers() {
    let text = csv(',', &ROWS);
    assert!(text.contains("\"12.345.678,90\""));
    check_rows(text.as_bytes());
}

#[test]
fn tab_separated() {
    check_rows(csv('\t', &ROWS).as_bytes());
}

#[test]
fn pipe_separated() {
    check_rows(csv('|', &ROWS).as_bytes());
}

#[test]
fn windows_1254_semicolons_and_turkish_numbers() {
    let text = csv(';', &ROWS);
    let (bytes, _, unmappable) = encoding_rs::WINDOWS_1254.encode(&text);
    assert!(!unmappable);
    assert!(std::str::from_utf8(&bytes).is_err(), "really Windows-1254");
    check_rows(&bytes);
}

#[test]
fn a_malformed_row_imports_nothing_and_names_its_line() {
    let mut bad = ROWS[1];
    bad[9] = "1,234.56"; // English notation in a Turkish file
    let mut short = ROWS[0];
    short[12] = "TL;extra";
    let text = csv(';', &[ROWS[0], bad, ROWS[1], short]).replace("\"TL;extra\"", "TL;extra");
    let err = parse_statement(text.as_bytes(), &Profile::simulator()).unwrap_err();
    let ImportError::BadRows(rows) = err else {
        panic!("{err:?}")
    };
    assert_eq!(rows.iter().map(|r| r.line).collect::<Vec<_>>(), [3, 5]);
    assert!(rows[0].reason.starts_with("Tutar"), "{}", rows[0].reason);
    assert!(rows[1].reason.contains("14 fields"), "{}", rows[1].reason);
}

/// An XLSX statement: row 1 blank, the header on row 2 (as exports with a title line
/// leave it), numbers and dates typed where `typed`, Turkish text otherwise.
fn workbook(rows: &[[&str; 13]], typed: bool, extra: Option<(u32, u16, f64)>) -> Vec<u8> {
    let mut book = Workbook::new();
    let sheet = book.add_worksheet();
    sheet.set_name("Ekstre").unwrap();
    let date_format = Format::new().set_num_format("dd.mm.yyyy hh:mm:ss");
    for (col, header) in HEADER.iter().enumerate() {
        sheet.write_string(1, col as u16, *header).unwrap();
    }
    for (i, row) in rows.iter().enumerate() {
        let r = 2 + i as u32;
        for (col, text) in row.iter().enumerate() {
            let col16 = col as u16;
            if text.is_empty() {
                continue;
            }
            match (typed, col) {
                (true, 0) | (true, 1) if text.len() >= 10 => {
                    let (d, t) = text.split_at(10);
                    let mut parts = d.split('.').map(|p| p.parse::<u16>().unwrap());
                    let (day, month, year) = (
                        parts.next().unwrap(),
                        parts.next().unwrap(),
                        parts.next().unwrap(),
                    );
                    let mut when = ExcelDateTime::from_ymd(year, month as u8, day as u8).unwrap();
                    if !t.is_empty() {
                        let mut hms = t.trim().split(':').map(|p| p.parse::<u16>().unwrap());
                        when = when
                            .and_hms(
                                hms.next().unwrap(),
                                hms.next().unwrap() as u8,
                                hms.next().unwrap(),
                            )
                            .unwrap();
                    }
                    sheet
                        .write_datetime_with_format(r, col16, &when, &date_format)
                        .unwrap();
                }
                (true, 6) | (true, 8) => {
                    sheet
                        .write_number(r, col16, text.parse::<f64>().unwrap())
                        .unwrap();
                }
                (true, 9..=11) => {
                    let plain = text.replace('.', "").replace(',', ".");
                    sheet
                        .write_number(r, col16, plain.parse::<f64>().unwrap())
                        .unwrap();
                }
                _ => {
                    sheet.write_string(r, col16, *text).unwrap();
                }
            }
        }
    }
    if let Some((row, col, value)) = extra {
        sheet.write_number(row, col, value).unwrap();
    }
    // A second sheet is ignored: the statement is the first one.
    book.add_worksheet()
        .write_string(0, 0, "not a statement")
        .unwrap();
    book.save_to_buffer().unwrap()
}

fn check_xlsx_rows(bytes: &[u8]) {
    let rows = parse_statement(bytes, &Profile::simulator()).unwrap();
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0].amount.minor(), 1_234_567_890);
    assert_eq!(rows[0].commission.unwrap().minor(), 22_100_265);
    assert_eq!(rows[0].installments, Some(3));
    assert_eq!(rows[0].auth_code.as_ref().unwrap().as_str(), "123456");
    assert_eq!(rows[0].provider_ref.as_ref().unwrap().as_str(), "IKSIRPF1");
    assert_eq!(rows[0].time.unwrap().to_string(), "2026-11-29 23:59:00");
    assert_eq!(rows[0].value_date.unwrap().to_string(), "2026-12-01");
    // Excel's row numbers: the header is on row 2.
    assert_eq!(rows[0].line.map(|l| l.get()), Some(3));
    assert_eq!(rows[1].kind, RowKind::PartialRefund);
    assert_eq!(rows[1].amount.minor(), 123_456);
    assert_eq!(rows[1].auth_code, None);
    assert_eq!(rows[1].time.unwrap().to_string(), "2026-11-30 00:01:00");
    assert_eq!(rows[1].line.map(|l| l.get()), Some(4));
}

#[test]
fn xlsx_with_typed_numbers_and_dates() {
    check_xlsx_rows(&workbook(&ROWS, true, None));
}

#[test]
fn xlsx_with_turkish_text_cells() {
    check_xlsx_rows(&workbook(&ROWS, false, None));
}

#[test]
fn xlsx_bad_cells_are_reported_by_row_and_nothing_imported() {
    let mut bad = ROWS[1];
    bad[0] = "yesterday";
    // Row 5: 1.234 TL with three decimals in the amount column.
    let bytes = workbook(&[ROWS[0], bad, ROWS[1]], true, Some((4, 9, 1.234)));
    let err = parse_statement(&bytes, &Profile::simulator()).unwrap_err();
    let ImportError::BadRows(rows) = err else {
        panic!("{err:?}")
    };
    assert_eq!(rows.iter().map(|r| r.line).collect::<Vec<_>>(), [4, 5]);
    assert!(
        rows[0].reason.contains("İşlem Tarihi"),
        "{}",
        rows[0].reason
    );
    assert!(
        rows[1].reason.contains("two decimals"),
        "{}",
        rows[1].reason
    );
}

#[test]
fn a_broken_workbook_is_refused_as_a_whole() {
    let mut bytes = workbook(&ROWS, true, None);
    bytes.truncate(bytes.len() / 2);
    assert!(matches!(
        parse_statement(&bytes, &Profile::simulator()),
        Err(ImportError::Spreadsheet(_))
    ));
}
