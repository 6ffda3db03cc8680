//! The data the back office reads: the filtered list with keyset paging, totals,
//! CSV/XLSX exports in both languages, the dashboard and a payment's audit trail. On
//! both engines, against a data set with a plain Rust oracle.

#![allow(clippy::unwrap_used)]

use std::io::Cursor;

use calamine::{Data, Reader, Xlsx};
use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use serde_json::json;

use crate::helpers::*;
use sanalpos_core::{Currency, Kurus, Lang};
use sanalpos_service::*;
use sanalpos_store::testing::for_each_engine;
use sanalpos_store::{
    new_id, Crypto, NewAudit, NewReconItem, PaymentRecord, ReconRunRecord, Store,
};

fn at(y: i32, mo: u32, d: u32, h: u32, mi: u32, s: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, mo, d, h, mi, s).single().unwrap()
}

fn k(minor: i64) -> Kurus {
    Kurus::from_minor(minor).unwrap()
}

async fn setup(store: Store) -> (PaymentService, Company, PosView, Company, PosView) {
    let service = PaymentService::new(store, Crypto::random(), test_config());
    let mut out = Vec::new();
    for name in ["Demo Ticaret A.Ş.", "Örnek Gıda Ltd. Şti."] {
        let company = service.create_company(name, "test").await.unwrap();
        let pos = service
            .create_pos(
                &company.id,
                NewPos {
                    name: "N Kolay ana POS".into(),
                    protocol: "nkolay".into(),
                    environment: Environment::Simulator,
                    settings: sanalpos_service::protocols::nkolay_settings(
                        "http://127.0.0.1:9",
                        "sx",
                        "sxl",
                        "sxc",
                        "key",
                        true,
                    ),
                    currencies: vec![Currency::Try, Currency::Eur],
                    installments: vec![InstallmentRow {
                        count: 1,
                        commission_bp: 179,
                        surcharge_bp: 0,
                        value_days: 1,
                    }],
                    onboarding_state: OnboardingState::Active,
                    documents: Vec::new(),
                    is_default: true,
                    pre_auth_hold_days: None,
                },
                "test",
            )
            .await
            .unwrap();
        out.push((company, pos));
    }
    let (b, a) = (out.pop().unwrap(), out.pop().unwrap());
    (service, a.0, a.1, b.0, b.1)
}

/// A payment record as it would be stored, created at `when`.
fn record(
    company: &str,
    pos: &str,
    when: DateTime<Utc>,
    status: PaymentStatus,
    amount: i64,
) -> PaymentRecord {
    let ms = when.timestamp_millis();
    PaymentRecord {
        id: new_id("pay"),
        company_id: company.into(),
        pos_id: pos.into(),
        status,
        amount: k(amount),
        currency: Currency::Try,
        installments: 1,
        masked_pan: "454671******7894".into(),
        card_fingerprint: "fp".into(),
        card_brand: "visa".into(),
        auth_code: None,
        provider_ref: None,
        bank_code: None,
        message_tr: None,
        message_en: None,
        channel: Channel::Api,
        order_ref: None,
        customer_ref: None,
        description: None,
        three_d: false,
        return_url: None,
        three_d_token: None,
        three_d_html: None,
        sale_client_ref: sanalpos_core::ClientRef::generate().to_string(),
        authorized_amount: None,
        refunded_amount: Kurus::ZERO,
        business_date: business_date(ms).format("%Y-%m-%d").to_string(),
        review_reason: None,
        created_by: "api:test".into(),
        created_at: ms,
        updated_at: ms,
        client_ip: None,
        pre_auth: false,
        held_amount: None,
        hold_until: None,
    }
}

const STATUSES: [PaymentStatus; 6] = [
    PaymentStatus::Approved,
    PaymentStatus::Declined,
    PaymentStatus::Approved,
    PaymentStatus::PartiallyRefunded,
    PaymentStatus::Cancelled,
    PaymentStatus::Refunded,
];

/// 40 payments of company A (two pairs sharing a millisecond) and 5 of company B.
fn data_set(
    a: &str,
    pos_a: &str,
    b: &str,
    pos_b: &str,
) -> (Vec<PaymentRecord>, Vec<PaymentRecord>) {
    let base = at(2026, 11, 1, 9, 0, 0);
    let mut ours = Vec::new();
    for i in 0..40_i64 {
        // Rows 10/11 and 20/21 share their creation time: the cursor must break ties by id.
        let minute = match i {
            11 => 10,
            21 => 20,
            other => other,
        };
        let when = base + chrono::Duration::minutes(minute * 97);
        let status = STATUSES[(i % 6) as usize];
        let mut p = record(a, pos_a, when, status, (i + 1) * 1_000 + 5);
        p.channel = [Channel::Api, Channel::Moto, Channel::Manual][(i % 3) as usize];
        p.masked_pan = if i % 2 == 0 {
            "454671******7894".into()
        } else {
            "540061******0005".into()
        };
        p.currency = if i % 5 == 0 {
            Currency::Eur
        } else {
            Currency::Try
        };
        p.customer_ref = Some(format!("120.01.00{}", i % 4));
        p.order_ref = Some(format!("SO-{i}"));
        if status != PaymentStatus::Declined {
            p.auth_code = Some(format!("A{i:05}"));
            p.provider_ref = Some(format!("PR-{i}"));
        } else {
            p.bank_code = Some("51".into());
        }
        p.refunded_amount = match status {
            PaymentStatus::PartiallyRefunded => k(500),
            PaymentStatus::Refunded | PaymentStatus::Cancelled => p.amount,
            _ => Kurus::ZERO,
        };
        ours.push(p);
    }
    let theirs = (0..5)
        .map(|i| {
            let mut p = record(
                b,
                pos_b,
                base + chrono::Duration::minutes(i * 97),
                PaymentStatus::Approved,
                1_000 + 5,
            );
            p.customer_ref = Some("120.01.001".into());
            p.auth_code = Some(format!("A{i:05}"));
            p
        })
        .collect();
    (ours, theirs)
}

fn matches(p: &PaymentRecord, f: &PaymentFilter) -> bool {
    f.from.is_none_or(|t| p.created_at >= t.timestamp_millis())
        && f.to.is_none_or(|t| p.created_at < t.timestamp_millis())
        && f.status.is_none_or(|s| p.status == s)
        && f.pos_id.as_ref().is_none_or(|v| &p.pos_id == v)
        && f.order_ref
            .as_ref()
            .is_none_or(|v| p.order_ref.as_ref() == Some(v))
        && f.customer_ref
            .as_ref()
            .is_none_or(|v| p.customer_ref.as_ref() == Some(v))
        && f.channel.is_none_or(|c| p.channel == c)
        && f.last_four
            .as_ref()
            .is_none_or(|v| p.masked_pan.ends_with(v.as_str()))
        && f.min_amount.is_none_or(|m| p.amount >= m)
        && f.max_amount.is_none_or(|m| p.amount <= m)
        && f.auth_code
            .as_ref()
            .is_none_or(|v| p.auth_code.as_ref() == Some(v))
        && f.provider_ref
            .as_ref()
            .is_none_or(|v| p.provider_ref.as_ref() == Some(v))
}

fn expected_ids(all: &[PaymentRecord], f: &PaymentFilter) -> Vec<String> {
    let mut rows: Vec<&PaymentRecord> = all.iter().filter(|p| matches(p, f)).collect();
    rows.sort_by(|x, y| (y.created_at, &y.id).cmp(&(x.created_at, &x.id)));
    rows.iter().map(|p| p.id.clone()).collect()
}

fn filters(pos_a: &str) -> Vec<(&'static str, PaymentFilter)> {
    let none = PaymentFilter::default;
    vec![
        ("none", none()),
        (
            "status",
            PaymentFilter {
                status: Some(PaymentStatus::Approved),
                ..none()
            },
        ),
        (
            "date range",
            PaymentFilter {
                from: Some(at(2026, 11, 1, 20, 0, 0)),
                to: Some(at(2026, 11, 2, 12, 0, 0)),
                ..none()
            },
        ),
        (
            "status and date range",
            PaymentFilter {
                status: Some(PaymentStatus::Approved),
                from: Some(at(2026, 11, 1, 15, 0, 0)),
                to: Some(at(2026, 11, 3, 0, 0, 0)),
                ..none()
            },
        ),
        (
            "pos",
            PaymentFilter {
                pos_id: Some(pos_a.into()),
                ..none()
            },
        ),
        (
            "channel",
            PaymentFilter {
                channel: Some(Channel::Moto),
                ..none()
            },
        ),
        (
            "last four",
            PaymentFilter {
                last_four: Some("0005".into()),
                ..none()
            },
        ),
        (
            "min amount",
            PaymentFilter {
                min_amount: Some(k(20_005)),
                ..none()
            },
        ),
        (
            "max amount",
            PaymentFilter {
                max_amount: Some(k(9_005)),
                ..none()
            },
        ),
        (
            "amount range",
            PaymentFilter {
                min_amount: Some(k(10_000)),
                max_amount: Some(k(30_005)),
                ..none()
            },
        ),
        (
            "customer",
            PaymentFilter {
                customer_ref: Some("120.01.001".into()),
                ..none()
            },
        ),
        (
            "order",
            PaymentFilter {
                order_ref: Some("SO-17".into()),
                ..none()
            },
        ),
        (
            "auth code",
            PaymentFilter {
                auth_code: Some("A00020".into()),
                ..none()
            },
        ),
        (
            "provider ref",
            PaymentFilter {
                provider_ref: Some("PR-21".into()),
                ..none()
            },
        ),
        (
            "combined",
            PaymentFilter {
                last_four: Some("7894".into()),
                channel: Some(Channel::Api),
                min_amount: Some(k(5_000)),
                customer_ref: Some("120.01.002".into()),
                ..none()
            },
        ),
        (
            "nothing",
            PaymentFilter {
                auth_code: Some("NOPE".into()),
                ..none()
            },
        ),
    ]
}

#[tokio::test]
async fn every_filter_pages_and_totals_like_the_oracle() {
    for_each_engine(
        "every_filter_pages_and_totals_like_the_oracle",
        |store| async move {
            let (service, a, pos_a, b, pos_b) = setup(store.clone()).await;
            let (ours, theirs) = data_set(&a.id, &pos_a.id, &b.id, &pos_b.id);
            store.seed_payments(ours.clone()).await.unwrap();
            store.seed_payments(theirs).await.unwrap();

            for (name, filter) in filters(&pos_a.id) {
                let want = expected_ids(&ours, &filter);
                assert_eq!(
                    want.is_empty(),
                    name == "nothing",
                    "{name}: the data set exercises it"
                );
                // Pages of 3, following the cursor to the end.
                let mut got = Vec::new();
                let mut cursor = None;
                let mut pages = 0;
                loop {
                    let page = service
                        .list_payments(
                            &a.id,
                            PaymentFilter {
                                limit: Some(3),
                                cursor: cursor.clone(),
                                ..filter.clone()
                            },
                        )
                        .await
                        .unwrap();
                    pages += 1;
                    assert!(page.items.len() <= 3);
                    got.extend(page.items.iter().map(|p| p.id.clone()));
                    match page.next_cursor {
                        Some(next) => cursor = Some(next),
                        None => break,
                    }
                    assert!(pages < 100, "{name}: paging does not end");
                }
                assert_eq!(got, want, "{name}");

                // Totals: exact, per currency, from a plain sum here.
                let totals = service.payment_totals(&a.id, &filter).await.unwrap();
                let rows: Vec<&PaymentRecord> =
                    ours.iter().filter(|p| matches(p, &filter)).collect();
                assert_eq!(totals.count, rows.len() as u64, "{name}");
                let mut currencies: Vec<Currency> = rows.iter().map(|p| p.currency).collect();
                currencies.sort_by_key(|c| c.alpha());
                currencies.dedup();
                assert_eq!(totals.by_currency.len(), currencies.len(), "{name}");
                for (t, currency) in totals.by_currency.iter().zip(currencies) {
                    let of: Vec<&&PaymentRecord> =
                        rows.iter().filter(|p| p.currency == currency).collect();
                    let captured: Vec<&&&PaymentRecord> = of
                        .iter()
                        .filter(|p| {
                            matches!(
                                p.status,
                                PaymentStatus::Approved
                                    | PaymentStatus::PartiallyRefunded
                                    | PaymentStatus::Refunded
                            )
                        })
                        .collect();
                    let want = CurrencyTotals {
                        currency,
                        count: of.len() as u64,
                        amount: of.iter().map(|p| p.amount).sum(),
                        approved_count: captured.len() as u64,
                        approved_amount: captured.iter().map(|p| p.amount).sum(),
                        refunded_amount: captured.iter().map(|p| p.refunded_amount).sum(),
                    };
                    assert_eq!(*t, want, "{name}");
                }
            }

            // The other company's rows never show, even by their own references.
            let page = service
                .list_payments(
                    &b.id,
                    PaymentFilter {
                        customer_ref: Some("120.01.001".into()),
                        ..PaymentFilter::default()
                    },
                )
                .await
                .unwrap();
            assert_eq!(page.items.len(), 5);
            assert!(page.items.iter().all(|p| p.pos_id == pos_b.id));
        },
    )
    .await;
}

#[tokio::test]
async fn bad_filters_are_refused_with_their_field() {
    for_each_engine(
        "bad_filters_are_refused_with_their_field",
        |store| async move {
            let (service, a, ..) = setup(store).await;
            let cases = [
                (
                    "last_four",
                    PaymentFilter {
                        last_four: Some("789".into()),
                        ..PaymentFilter::default()
                    },
                ),
                (
                    "last_four",
                    PaymentFilter {
                        last_four: Some("78a4".into()),
                        ..PaymentFilter::default()
                    },
                ),
                (
                    "last_four",
                    PaymentFilter {
                        last_four: Some("4546711234567894".into()),
                        ..PaymentFilter::default()
                    },
                ),
                (
                    "min_amount",
                    PaymentFilter {
                        min_amount: Some(k(500)),
                        max_amount: Some(k(100)),
                        ..PaymentFilter::default()
                    },
                ),
                (
                    "from",
                    PaymentFilter {
                        from: Some(at(2026, 11, 2, 0, 0, 0)),
                        to: Some(at(2026, 11, 1, 0, 0, 0)),
                        ..PaymentFilter::default()
                    },
                ),
                (
                    "auth_code",
                    PaymentFilter {
                        auth_code: Some("x".repeat(101)),
                        ..PaymentFilter::default()
                    },
                ),
            ];
            for (field, filter) in cases {
                let err = service
                    .list_payments(&a.id, filter.clone())
                    .await
                    .unwrap_err();
                assert_eq!(err.field(), Some(field), "{err}");
                let err = service.payment_totals(&a.id, &filter).await.unwrap_err();
                assert_eq!(err.field(), Some(field), "{err}");
                let err = service
                    .export_payments(&a.id, &filter, ExportFormat::Csv, Lang::Tr, 100)
                    .await
                    .unwrap_err();
                assert_eq!(err.field(), Some(field), "{err}");
            }
        },
    )
    .await;
}

/// Reads a CSV document (RFC 4180 quoting) after checking and dropping the BOM.
fn read_csv(bytes: &[u8], delimiter: char) -> Vec<Vec<String>> {
    let text = std::str::from_utf8(bytes).unwrap();
    let text = text.strip_prefix('\u{feff}').expect("UTF-8 BOM");
    let mut rows = Vec::new();
    let mut row = Vec::new();
    let mut cell = String::new();
    let mut quoted = false;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                chars.next();
                cell.push('"');
            }
            (true, '"') => quoted = false,
            (true, c) => cell.push(c),
            (false, '"') => quoted = true,
            (false, c) if c == delimiter => row.push(std::mem::take(&mut cell)),
            (false, '\r') => {}
            (false, '\n') => {
                row.push(std::mem::take(&mut cell));
                rows.push(std::mem::take(&mut row));
            }
            (false, c) => cell.push(c),
        }
    }
    assert!(
        cell.is_empty() && row.is_empty(),
        "the file ends with a line end"
    );
    rows
}

fn export_data(a: &str, pos_a: &str) -> Vec<PaymentRecord> {
    // 14:05:30 Istanbul on 29 November 2026.
    let mut first = record(
        a,
        pos_a,
        at(2026, 11, 29, 11, 5, 30),
        PaymentStatus::PartiallyRefunded,
        123_456,
    );
    first.channel = Channel::Moto;
    first.customer_ref = Some("120.01.Şİ".into());
    first.order_ref = Some("=HYPERLINK(\"x\")".into());
    first.auth_code = Some("123456".into());
    first.provider_ref = Some("PR;1,2".into());
    first.installments = 3;
    first.refunded_amount = k(23_456);
    let mut second = record(
        a,
        pos_a,
        at(2026, 11, 28, 21, 1, 0),
        PaymentStatus::Declined,
        5,
    );
    second.currency = Currency::Eur;
    second.masked_pan = "540061******0005".into();
    vec![first, second]
}

#[tokio::test]
async fn csv_exports_read_back_in_both_languages() {
    for_each_engine(
        "csv_exports_read_back_in_both_languages",
        |store| async move {
            let (service, a, pos_a, ..) = setup(store.clone()).await;
            store
                .seed_payments(export_data(&a.id, &pos_a.id))
                .await
                .unwrap();
            let all = PaymentFilter::default();

            let tr = service
                .export_payments(&a.id, &all, ExportFormat::Csv, Lang::Tr, 100)
                .await
                .unwrap();
            assert!(String::from_utf8_lossy(&tr).contains("\r\n"));
            let rows = read_csv(&tr, ';');
            assert_eq!(rows.len(), 3);
            assert_eq!(
                rows[0],
                [
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
                    "İade edilen"
                ]
            );
            assert_eq!(
                rows[1],
                [
                    "29.11.2026 14:05",
                    "Kısmen iade edildi",
                    "Telefonla (MOTO)",
                    "N Kolay ana POS",
                    "120.01.Şİ",
                    "'=HYPERLINK(\"x\")",
                    "454671******7894",
                    "1.234,56",
                    "TRY",
                    "3",
                    "123456",
                    "PR;1,2",
                    "234,56"
                ]
            );
            assert_eq!(
                rows[2],
                [
                    "29.11.2026 00:01",
                    "Reddedildi",
                    "API",
                    "N Kolay ana POS",
                    "",
                    "",
                    "540061******0005",
                    "0,05",
                    "EUR",
                    "1",
                    "",
                    "",
                    "0,00"
                ]
            );

            let en = service
                .export_payments(&a.id, &all, ExportFormat::Csv, Lang::En, 100)
                .await
                .unwrap();
            let rows = read_csv(&en, ',');
            assert_eq!(rows[0][0], "Date");
            assert_eq!(rows[0][12], "Refunded");
            assert_eq!(
                rows[1],
                [
                    "2026-11-29 14:05",
                    "Partially refunded",
                    "Phone (MOTO)",
                    "N Kolay ana POS",
                    "120.01.Şİ",
                    "'=HYPERLINK(\"x\")",
                    "454671******7894",
                    "1,234.56",
                    "TRY",
                    "3",
                    "123456",
                    "PR;1,2",
                    "234.56"
                ]
            );
            assert_eq!(rows[2][1], "Declined");
            assert_eq!(rows[2][7], "0.05");

            // A filter applies; more rows than allowed is refused, not cut short.
            let declined = PaymentFilter {
                status: Some(PaymentStatus::Declined),
                ..PaymentFilter::default()
            };
            let one = service
                .export_payments(&a.id, &declined, ExportFormat::Csv, Lang::En, 100)
                .await
                .unwrap();
            assert_eq!(read_csv(&one, ',').len(), 2);
            let err = service
                .export_payments(&a.id, &all, ExportFormat::Csv, Lang::Tr, 1)
                .await
                .unwrap_err();
            assert_eq!(err.code(), "export_too_large");
        },
    )
    .await;
}

/// Days since 1899-12-30, Excel's serial date.
fn excel_serial(y: i32, mo: u32, d: u32, h: u32, mi: u32, s: u32) -> f64 {
    let epoch = NaiveDate::from_ymd_opt(1899, 12, 30)
        .unwrap()
        .and_hms_opt(0, 0, 0)
        .unwrap();
    let t = NaiveDate::from_ymd_opt(y, mo, d)
        .unwrap()
        .and_hms_opt(h, mi, s)
        .unwrap();
    (t - epoch).num_milliseconds() as f64 / 86_400_000.0
}

fn sheet(bytes: Vec<u8>) -> (Vec<String>, calamine::Range<Data>) {
    let mut book: Xlsx<_> = calamine::open_workbook_from_rs(Cursor::new(bytes)).unwrap();
    let names = book.sheet_names();
    let range = book.worksheet_range_at(0).unwrap().unwrap();
    (names, range)
}

fn cell_text(d: &Data) -> String {
    match d {
        Data::String(s) => s.clone(),
        Data::Empty => String::new(),
        other => panic!("not text: {other:?}"),
    }
}

#[tokio::test]
async fn xlsx_exports_hold_numbers_and_dates() {
    for_each_engine("xlsx_exports_hold_numbers_and_dates", |store| async move {
        let (service, a, pos_a, ..) = setup(store.clone()).await;
        store
            .seed_payments(export_data(&a.id, &pos_a.id))
            .await
            .unwrap();
        for lang in [Lang::Tr, Lang::En] {
            let bytes = service
                .export_payments(
                    &a.id,
                    &PaymentFilter::default(),
                    ExportFormat::Xlsx,
                    lang,
                    100,
                )
                .await
                .unwrap();
            let (names, range) = sheet(bytes);
            assert_eq!(
                names,
                [if lang == Lang::Tr {
                    "Tahsilatlar"
                } else {
                    "Payments"
                }]
            );
            assert_eq!(range.height(), 3);
            let headers: Vec<String> = range.rows().next().unwrap().iter().map(cell_text).collect();
            assert_eq!(headers, payment_export_headers(lang));
            let row: Vec<Data> = range.rows().nth(1).unwrap().to_vec();
            match &row[0] {
                Data::DateTime(t) => {
                    let want = excel_serial(2026, 11, 29, 14, 5, 30);
                    assert!(
                        (t.as_f64() - want).abs() < 0.5 / 86_400.0,
                        "{} vs {want}",
                        t.as_f64()
                    );
                }
                other => panic!("date cell: {other:?}"),
            }
            assert_eq!(
                cell_text(&row[1]),
                status_label(lang, PaymentStatus::PartiallyRefunded)
            );
            assert_eq!(cell_text(&row[2]), channel_label(lang, Channel::Moto));
            assert_eq!(cell_text(&row[3]), "N Kolay ana POS");
            assert_eq!(cell_text(&row[4]), "120.01.Şİ");
            assert_eq!(cell_text(&row[5]), "'=HYPERLINK(\"x\")");
            assert_eq!(cell_text(&row[6]), "454671******7894");
            assert_eq!(row[7], Data::Float(1234.56));
            assert_eq!(cell_text(&row[8]), "TRY");
            assert_eq!(row[9], Data::Float(3.0));
            assert_eq!(cell_text(&row[10]), "123456");
            assert_eq!(cell_text(&row[11]), "PR;1,2");
            assert_eq!(row[12], Data::Float(234.56));
            let second: Vec<Data> = range.rows().nth(2).unwrap().to_vec();
            assert_eq!(second[7], Data::Float(0.05));
            assert_eq!(cell_text(&second[8]), "EUR");
            assert_eq!(second[10], Data::Empty);
        }
    })
    .await;
}

fn item(key: &str, class: &str) -> NewReconItem {
    NewReconItem {
        item_key: key.into(),
        class: class.into(),
        reason: "test".into(),
        match_key: None,
        payment_ids: Vec::new(),
        provider_rows: json!([]).into(),
        ours: Kurus::ZERO,
        theirs: Kurus::ZERO,
        ours_reversed: Kurus::ZERO,
        theirs_reversed: Kurus::ZERO,
        proposal: None,
        flags: json!([]).into(),
    }
}

async fn recon_run(
    store: &Store,
    company: &str,
    pos: &str,
    day: &str,
    created_at: i64,
    items: Vec<NewReconItem>,
) {
    store
        .insert_recon_run(
            ReconRunRecord {
                id: new_id("rcn"),
                company_id: company.into(),
                pos_id: pos.into(),
                source: "import".into(),
                period_from: day.into(),
                period_to: day.into(),
                status: "completed".into(),
                summary: json!({}),
                created_by: "test".into(),
                created_at,
            },
            items,
            NewAudit {
                company_id: company.into(),
                kind: "recon.run".into(),
                actor: "test".into(),
                subject_id: "run".into(),
                data: json!({}),
            },
        )
        .await
        .unwrap();
}

#[tokio::test]
async fn dashboard_counts_a_known_day_on_istanbul_time() {
    for_each_engine(
        "dashboard_counts_a_known_day_on_istanbul_time",
        |store| async move {
            let (service, a, pos_a, b, pos_b) = setup(store.clone()).await;
            let (c, p) = (a.id.as_str(), pos_a.id.as_str());
            // Now: 14:05 on 29 November in Istanbul; that day began at 21:00 UTC on the 28th.
            let now = at(2026, 11, 29, 11, 5, 0);
            let declined = |when, code: &str| {
                let mut r = record(c, p, when, PaymentStatus::Declined, 1_000);
                r.bank_code = Some(code.into());
                r.message_tr = Some(format!("Red {code}"));
                r.message_en = Some(format!("Decline {code}"));
                r
            };
            let mut rows = vec![
                // 23:59:59 on the 28th in Istanbul: yesterday.
                record(
                    c,
                    p,
                    at(2026, 11, 28, 20, 59, 59),
                    PaymentStatus::Approved,
                    10_000,
                ),
                // 00:00:00 on the 29th: today.
                record(
                    c,
                    p,
                    at(2026, 11, 28, 21, 0, 0),
                    PaymentStatus::Approved,
                    20_000,
                ),
                declined(at(2026, 11, 29, 8, 0, 0), "51"),
                declined(at(2026, 11, 29, 9, 0, 0), "51"),
                declined(at(2026, 11, 29, 9, 30, 0), "05"),
                record(
                    c,
                    p,
                    at(2026, 11, 29, 10, 0, 0),
                    PaymentStatus::Processing,
                    4_000,
                ),
                record(
                    c,
                    p,
                    at(2026, 11, 29, 10, 30, 0),
                    PaymentStatus::Cancelled,
                    7_000,
                ),
                // 00:00 on the 16th: the chart's first day; 23:00 on the 15th: before it.
                record(
                    c,
                    p,
                    at(2026, 11, 15, 21, 0, 0),
                    PaymentStatus::Approved,
                    1_000,
                ),
                record(
                    c,
                    p,
                    at(2026, 11, 15, 20, 0, 0),
                    PaymentStatus::Approved,
                    99_900,
                ),
                declined(at(2026, 11, 15, 20, 0, 0), "05"),
                declined(at(2026, 11, 20, 12, 0, 0), "05"),
                declined(at(2026, 11, 21, 12, 0, 0), "12"),
            ];
            let mut eur = record(
                c,
                p,
                at(2026, 11, 29, 7, 0, 0),
                PaymentStatus::Approved,
                5_000,
            );
            eur.currency = Currency::Eur;
            let mut partial = record(
                c,
                p,
                at(2026, 11, 29, 6, 0, 0),
                PaymentStatus::PartiallyRefunded,
                30_000,
            );
            partial.refunded_amount = k(10_000);
            let mut review = record(
                c,
                p,
                at(2026, 11, 28, 10, 0, 0),
                PaymentStatus::Unknown,
                3_000,
            );
            review.review_reason = Some("inquiry found nothing".into());
            rows.extend([eur, partial, review]);
            // Company B's rows change nothing of A's.
            let mut other = record(
                &b.id,
                &pos_b.id,
                at(2026, 11, 29, 8, 0, 0),
                PaymentStatus::Approved,
                77_700,
            );
            other.review_reason = Some("x".into());
            rows.push(other);
            store.seed_payments(rows).await.unwrap();

            // Reconciliation: day 27 run twice (the first superseded), day 26 once.
            recon_run(
                &store,
                c,
                p,
                "2026-11-27",
                1_000,
                vec![
                    item("k1", "provider_only"),
                    item("k2", "system_only"),
                    item("k3", "matched"),
                ],
            )
            .await;
            recon_run(
                &store,
                c,
                p,
                "2026-11-27",
                2_000,
                vec![
                    item("k1", "provider_only"),
                    item("k4", "amount_mismatch"),
                    item("k5", "matched"),
                ],
            )
            .await;
            recon_run(
                &store,
                c,
                p,
                "2026-11-26",
                1_500,
                vec![item("k6", "duplicate")],
            )
            .await;
            recon_run(
                &store,
                &b.id,
                &pos_b.id,
                "2026-11-27",
                1_500,
                vec![item("k7", "duplicate")],
            )
            .await;

            let d = service.dashboard(c, now).await.unwrap();
            assert_eq!(d.today_attempted, 8);
            // Approved by the bank: 200, EUR 50, cancelled 70, partial 300 = 4 of 7 finished.
            assert_eq!(d.approval_rate_bp, Some(5714));
            assert_eq!(
                d.today,
                vec![
                    CurrencyTotals {
                        currency: Currency::Eur,
                        count: 1,
                        amount: k(5_000),
                        approved_count: 1,
                        approved_amount: k(5_000),
                        refunded_amount: Kurus::ZERO,
                    },
                    CurrencyTotals {
                        currency: Currency::Try,
                        count: 7,
                        amount: k(20_000 + 3 * 1_000 + 4_000 + 7_000 + 30_000),
                        approved_count: 2,
                        approved_amount: k(50_000),
                        refunded_amount: k(10_000),
                    },
                ]
            );
            assert_eq!(d.last_14_days.len(), 14);
            assert_eq!(
                d.last_14_days[0].date,
                NaiveDate::from_ymd_opt(2026, 11, 16).unwrap()
            );
            assert_eq!(
                d.last_14_days[13].date,
                NaiveDate::from_ymd_opt(2026, 11, 29).unwrap()
            );
            let by_day: Vec<(u64, i64)> = d
                .last_14_days
                .iter()
                .map(|t| (t.approved_count, t.approved_amount.minor()))
                .collect();
            let mut want = vec![(0, 0); 14];
            want[0] = (1, 1_000);
            want[12] = (1, 10_000);
            want[13] = (2, 50_000);
            assert_eq!(by_day, want);
            let reasons: Vec<(String, u64, String)> = d
                .decline_reasons
                .iter()
                .map(|r| (r.code.clone(), r.count, r.message_en.clone()))
                .collect();
            assert_eq!(
                reasons,
                [
                    ("05".to_owned(), 2, "Decline 05".to_owned()),
                    ("51".to_owned(), 2, "Decline 51".to_owned()),
                    ("12".to_owned(), 1, "Decline 12".to_owned()),
                ]
            );
            assert_eq!(d.decline_reasons[1].message_tr, "Red 51");
            assert_eq!(d.review_count, 1);
            // k1 and k4 of the latest day-27 run, k6 of day 26.
            assert_eq!(d.recon_exceptions, 3);

            // One millisecond before Istanbul midnight, "today" is still the 28th.
            let d = service
                .dashboard(c, at(2026, 11, 28, 20, 59, 59))
                .await
                .unwrap();
            assert_eq!(
                d.last_14_days[13].date,
                NaiveDate::from_ymd_opt(2026, 11, 28).unwrap()
            );
            assert_eq!(d.today_attempted, 2);
            assert_eq!(d.approval_rate_bp, Some(10_000));

            // An empty company.
            let empty = service.create_company("Boş A.Ş.", "test").await.unwrap();
            let d = service.dashboard(&empty.id, now).await.unwrap();
            assert_eq!(d.today_attempted, 0);
            assert_eq!(d.approval_rate_bp, None);
            assert!(d.today.is_empty() && d.decline_reasons.is_empty());
            assert!(d.last_14_days.iter().all(|t| t.approved_count == 0));
        },
    )
    .await;
}

#[tokio::test]
async fn real_payments_export_without_card_numbers_and_show_their_audit_trail() {
    for_each_engine(
        "real_payments_export_without_card_numbers",
        |store| async move {
            let w = world_on(store, "Demo Ticaret A.Ş.").await;
            let paid = w.pay(APPROVED_CARD, "150.00").await;
            assert_eq!(paid.status, PaymentStatus::Approved);
            w.end_of_day();
            w.service
                .refund_payment(&w.actor, &w.company.id, &paid.id, tl("40.00"))
                .await
                .unwrap();
            w.pay(APPROVED_CARD, "20.00").await;

            let trail = w
                .service
                .payment_audit(&w.company.id, &paid.id)
                .await
                .unwrap();
            let actions: Vec<&str> = trail.iter().map(|e| e.action.as_str()).collect();
            assert_eq!(actions, ["payment.approved", "refund.approved"]);
            assert!(trail.windows(2).all(|p| p[0].seq < p[1].seq));
            assert!(trail.iter().all(|e| e.actor == "api:test"));
            assert!(DateTime::parse_from_rfc3339(&trail[0].at).is_ok());
            assert_eq!(trail[0].details["amount"], json!("150.00"));
            assert_eq!(trail[1].details["amount"], json!("40.00"));
            // Another company's user gets nothing.
            let other = w.service.create_company("B", "test").await.unwrap();
            assert_eq!(
                w.service
                    .payment_audit(&other.id, &paid.id)
                    .await
                    .unwrap_err(),
                ServiceError::NotFound
            );

            // Last four digits find both payments; the exports hold the masked card only.
            let filter = PaymentFilter {
                last_four: Some(APPROVED_CARD[12..].into()),
                ..PaymentFilter::default()
            };
            assert_eq!(
                w.service
                    .list_payments(&w.company.id, filter.clone())
                    .await
                    .unwrap()
                    .items
                    .len(),
                2
            );
            for lang in [Lang::Tr, Lang::En] {
                let csv = w
                    .service
                    .export_payments(&w.company.id, &filter, ExportFormat::Csv, lang, 100)
                    .await
                    .unwrap();
                let text = String::from_utf8(csv).unwrap();
                assert!(!text.contains(APPROVED_CARD));
                assert!(!text.contains(&APPROVED_CARD[..12]));
                assert!(text.contains(&paid.masked_pan));
                assert_eq!(text.lines().count(), 3);
                let xlsx = w
                    .service
                    .export_payments(&w.company.id, &filter, ExportFormat::Xlsx, lang, 100)
                    .await
                    .unwrap();
                let (_, range) = sheet(xlsx);
                assert_eq!(range.height(), 3);
                let cells: Vec<String> = range.cells().map(|(_, _, d)| d.to_string()).collect();
                assert!(cells
                    .iter()
                    .all(|c| !c.contains(APPROVED_CARD) && !c.contains(&APPROVED_CARD[..12])));
                assert!(cells.iter().any(|c| c == &paid.masked_pan));
            }
        },
    )
    .await;
}

/// "Test connection" audits what it found as the check itself (`{"result": "ok"}`),
/// not wrapped in a second `result` that the audit page printed as "Sonuç: Sonuç: ok".
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_test_is_audited_with_its_result_once() {
    for_each_engine("connection_test_audit", |store| async move {
        let w = world_on(store, "A Ltd").await;
        let check = w
            .service
            .check_pos_connection(&w.company.id, &w.pos.id, "admin")
            .await
            .unwrap();
        assert_eq!(check, ConnectionCheck::Ok);
        let (events, _) = w.service.company_audit(&w.company.id, 50).await.unwrap();
        let tested: Vec<_> = events
            .iter()
            .filter(|e| e.kind == "pos.connection_tested")
            .collect();
        assert_eq!(tested.len(), 1, "{events:?}");
        let data: serde_json::Value = serde_json::from_str(&tested[0].data).unwrap();
        assert_eq!(data, json!({ "result": "ok" }));
    })
    .await;
}
