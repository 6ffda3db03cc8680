#![allow(clippy::unwrap_used)]
//! Statement import: encodings, separators, Turkish numbers and dates, quoting, errors.

use sanalpos_recon::{
    detect_delimiter, parse_statement, Column, Field, ImportError, NumberStyle, Profile, RowKind,
    RowState,
};

const HEADER: &str = "İşlem Tarihi;Valör Tarihi;İşlem Tipi;Durum;Referans No;Sipariş No;Provizyon No;Kart No;Kart Sahibi;Taksit;Tutar;Provizyon Tutarı;Komisyon;Net Tutar;Para Birimi";

fn statement(lines: &[&str]) -> String {
    let mut out = format!("{HEADER}\r\n");
    for line in lines {
        out.push_str(line);
        out.push_str("\r\n");
    }
    out
}

const SALE: &str = "29.08.2025 14:23:57;01.09.2025;Satış;Başarılı;IKSIRPF1;c-1;123456;454671******7894;Ayşe Yılmaz;3;1.234,56;1.265,42;31,51;1.233,91;TRY";

#[test]
fn reads_the_simulator_statement_in_utf8() {
    let text = statement(&[
        SALE,
        "29.08.2025 15:00:00;29.08.2025;İptal;Başarılı;IKSIRPF2;c-1;123456;454671******7894;Ayşe Yılmaz;3;1.234,56;1.234,56;0,00;1.234,56;TRY",
        "29.08.2025 16:00:00;29.08.2025;Kısmi İade;Başarısız;IKSIRPF3;c-9;;454671******7894;X;1;10,00;10,00;0,00;10,00;TRY",
    ]);
    let rows = parse_statement(text.as_bytes(), &Profile::simulator()).unwrap();
    assert_eq!(rows.len(), 3);
    let sale = &rows[0];
    assert_eq!(sale.kind, RowKind::Sale);
    assert_eq!(sale.status, RowState::Success);
    assert_eq!(sale.amount.minor(), 123_456);
    assert_eq!(sale.authorized_amount.unwrap().minor(), 126_542);
    assert_eq!(sale.commission.unwrap().minor(), 3_151);
    assert_eq!(sale.installments, Some(3));
    assert_eq!(sale.provider_ref.as_ref().unwrap().as_str(), "IKSIRPF1");
    assert_eq!(sale.client_ref.as_deref(), Some("c-1"));
    assert_eq!(sale.auth_code.as_ref().unwrap().as_str(), "123456");
    assert_eq!(sale.masked_pan.as_ref().unwrap().last4(), "7894");
    assert_eq!(sale.time.unwrap().to_string(), "2025-08-29 14:23:57");
    assert_eq!(sale.value_date.unwrap().to_string(), "2025-09-01");
    assert_eq!(sale.line.map(|l| l.get()), Some(2));
    assert_eq!(rows[1].kind, RowKind::Cancel);
    assert_eq!(rows[2].kind, RowKind::PartialRefund);
    assert_eq!(rows[2].status, RowState::Error);
    assert_eq!(rows[2].auth_code, None);
}

#[test]
fn reads_windows_1254_with_a_bom_free_turkish_header() {
    let text = statement(&[SALE]);
    let (bytes, _, _) = encoding_rs::WINDOWS_1254.encode(&text);
    assert_eq!(bytes[0], 0xDD, "İ is 0xDD in Windows-1254");
    assert!(std::str::from_utf8(&bytes).is_err());
    let rows = parse_statement(&bytes, &Profile::simulator()).unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].kind, RowKind::Sale);
    assert_eq!(rows[0].amount.minor(), 123_456);
}

#[test]
fn strips_a_utf8_bom() {
    let mut bytes = b"\xEF\xBB\xBF".to_vec();
    bytes.extend_from_slice(statement(&[SALE]).as_bytes());
    assert_eq!(
        parse_statement(&bytes, &Profile::simulator())
            .unwrap()
            .len(),
        1
    );
}

#[test]
fn detects_the_separator_from_the_header() {
    assert_eq!(detect_delimiter("a;b;c\n1,5;2;3"), b';');
    assert_eq!(detect_delimiter("a,b,c\n1;2;3"), b',');
    assert_eq!(detect_delimiter("a\tb\tc\n"), b'\t');
    assert_eq!(detect_delimiter("\"a;b\",c,d\n"), b',');
    let tabbed = statement(&[SALE]).replace(';', "\t");
    assert_eq!(
        parse_statement(tabbed.as_bytes(), &Profile::simulator())
            .unwrap()
            .len(),
        1
    );
}

#[test]
fn quoted_fields_hold_separators_quotes_and_line_breaks() {
    let line = "29.08.2025 14:23:57;01.09.2025;Satış;Başarılı;IKSIRPF1;\"c;1\";123456;454671******7894;\"Ali \"\"Veli\"\"\nİkinci\";1;\"1.000,00\";1.000,00;0,00;1.000,00;TRY";
    let text = statement(&[line, SALE]);
    let rows = parse_statement(text.as_bytes(), &Profile::simulator()).unwrap();
    assert_eq!(rows[0].client_ref.as_deref(), Some("c;1"));
    assert_eq!(rows[0].amount.minor(), 100_000);
    // The line break inside the quoted name moves the next row to line 4.
    assert_eq!(rows[1].line.map(|l| l.get()), Some(4));
}

#[test]
fn reports_every_bad_row_with_its_line_and_imports_nothing() {
    let text = statement(&[
        SALE,
        "29.08.2025 14:23:57;01.09.2025;Satış;Başarılı;IKSIRPF2;c-2;1;454671******7894;X;1;12.34;12,34;0,00;12,34;TRY",
        "",
        "31.02.2025 10:00:00;01.09.2025;Satış;Başarılı;IKSIRPF3;c-3;1;454671******7894;X;1;1,00;1,00;0,00;1,00;TRY",
        "29.08.2025 14:23:57;01.09.2025;Bonus;Başarılı;IKSIRPF4;c-4;1;4546711234567894;X;1;1,00;1,00;0,00;1,00;TRY",
        "too;few",
    ]);
    let err = parse_statement(text.as_bytes(), &Profile::simulator()).unwrap_err();
    let ImportError::BadRows(bad) = err else {
        panic!("expected bad rows, got {err:?}")
    };
    let lines: Vec<u32> = bad.iter().map(|b| b.line).collect();
    assert_eq!(lines, vec![3, 5, 6, 7]);
    assert!(bad[0].reason.starts_with("Tutar"), "{}", bad[0].reason);
    assert!(bad[1].reason.contains("İşlem Tarihi"), "{}", bad[1].reason);
    assert!(bad[2].reason.contains("İşlem Tipi"), "{}", bad[2].reason);
    assert!(bad[3].reason.contains("fields"), "{}", bad[3].reason);
}

#[test]
fn a_full_card_number_is_refused() {
    let text = statement(&[&SALE.replace("454671******7894", "4546711234567894")]);
    let ImportError::BadRows(bad) =
        parse_statement(text.as_bytes(), &Profile::simulator()).unwrap_err()
    else {
        panic!()
    };
    assert!(bad[0].reason.contains("Kart No"));
    assert!(!bad[0].reason.contains("1234567894") || bad[0].reason.contains("masked"));
}

#[test]
fn a_missing_mapped_column_stops_the_import() {
    let text = statement(&[SALE]).replace("Provizyon No", "Onay Kodu");
    assert_eq!(
        parse_statement(text.as_bytes(), &Profile::simulator()).unwrap_err(),
        ImportError::MissingColumn("Provizyon No".into())
    );
    assert_eq!(
        parse_statement(b"", &Profile::simulator()).unwrap_err(),
        ImportError::Empty
    );
}

#[test]
fn a_custom_profile_round_trips_and_reads_dot_numbers() {
    let profile = Profile {
        name: "bank x".into(),
        columns: vec![
            Column {
                header: "ref".into(),
                field: Field::ProviderRef,
            },
            Column {
                header: "amount".into(),
                field: Field::Amount,
            },
            Column {
                header: "date".into(),
                field: Field::Time,
            },
        ],
        numbers: NumberStyle::Dot,
        time_formats: vec!["%Y-%m-%d %H:%M".into(), "%Y-%m-%d".into()],
        date_formats: vec![],
        kinds: vec![],
        statuses: vec![],
    };
    let json = serde_json::to_string(&profile).unwrap();
    let back: Profile = serde_json::from_str(&json).unwrap();
    assert_eq!(back, profile);
    let rows = parse_statement(
        b"REF,Amount,Date\nR1,1234.50,2025-08-29 23:59\nR2,1,2025-08-30\n",
        &profile,
    )
    .unwrap();
    assert_eq!(rows[0].amount.minor(), 123_450);
    assert_eq!(rows[0].kind, RowKind::Sale);
    assert_eq!(rows[0].status, RowState::Success);
    assert_eq!(rows[1].time.unwrap().to_string(), "2025-08-30 00:00:00");
}

/// A file of several pieces (read two at a time on two threads) keeps every row in file
/// order with its own line number, blank lines included, and reports bad rows in every
/// piece with the right line.
#[test]
fn a_large_file_read_in_pieces_keeps_order_and_line_numbers() {
    let mut text = format!("{HEADER}\r\n");
    let mut expected = Vec::new(); // (line, reference) of every good row
    let mut bad_lines = Vec::new();
    let mut line = 1u32;
    let mut i = 0u32;
    while text.len() < 19 << 20 {
        line += 1;
        if i % 20_011 == 7 {
            text.push_str("\r\n"); // a blank line
            i += 1;
            continue;
        }
        if i % 30_011 == 5 {
            text.push_str("bozuk satır\r\n"); // one field only
            bad_lines.push(line);
        } else {
            text.push_str(&SALE.replace("IKSIRPF1", &format!("IKSIRPF{i}")));
            text.push_str("\r\n");
            expected.push((line, format!("IKSIRPF{i}")));
        }
        i += 1;
    }
    let err = parse_statement(text.as_bytes(), &Profile::simulator()).unwrap_err();
    let ImportError::BadRows(bad) = err else {
        panic!("expected bad rows");
    };
    assert!(
        bad_lines.len() > 3,
        "the file must have bad rows in several pieces"
    );
    assert_eq!(bad.iter().map(|b| b.line).collect::<Vec<_>>(), bad_lines);
    let statement = sanalpos_recon::read_statement(text.as_bytes(), &Profile::simulator()).unwrap();
    let got: Vec<(u32, String)> = statement
        .rows
        .iter()
        .map(|r| {
            (
                r.line.unwrap().get(),
                r.provider_ref.as_ref().unwrap().as_str().to_owned(),
            )
        })
        .collect();
    assert_eq!(got.len(), expected.len());
    assert!(
        got == expected,
        "rows out of order or with wrong line numbers"
    );
}
