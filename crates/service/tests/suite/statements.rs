//! Statement imports beyond the simulator's CSV: column-mapping profiles saved per POS
//! (CRUD, validation, audit) and used for an XLSX statement; sales at 23:59 and 00:01
//! Istanbul time landing on their own business days, in a statement and in the
//! provider's report; a malformed Windows-1254 file that imports nothing, then its
//! good rows taken by decision. On both engines.

#![allow(clippy::unwrap_used)]

use chrono::{DateTime, TimeZone, Utc};
use rust_xlsxwriter::{ExcelDateTime, Format, Workbook};

use crate::helpers::test_config;
use sanalpos_core::{Currency, Kurus};
use sanalpos_service::*;
use sanalpos_store::testing::for_each_engine;
use sanalpos_store::{new_id, Crypto, PaymentRecord, Store};

fn at(y: i32, mo: u32, d: u32, h: u32, mi: u32, s: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, mo, d, h, mi, s).single().unwrap()
}

struct Setup {
    service: PaymentService,
    store: Store,
    company: Company,
    pos: PosView,
    other_pos: PosView,
    actor: Actor,
}

fn new_pos(name: &str) -> NewPos {
    NewPos {
        name: name.into(),
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
        currencies: vec![Currency::Try],
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
    }
}

async fn setup(store: Store) -> Setup {
    let service = PaymentService::new(store.clone(), Crypto::random(), test_config());
    let company = service
        .create_company("Demo Ticaret A.Ş.", "test")
        .await
        .unwrap();
    let pos = service
        .create_pos(&company.id, new_pos("N Kolay"), "test")
        .await
        .unwrap();
    let mut second = new_pos("Banka X");
    second.is_default = false;
    let other_pos = service
        .create_pos(&company.id, second, "test")
        .await
        .unwrap();
    let actor = Actor {
        company_id: company.id.clone(),
        name: "user:muhasebe".into(),
    };
    Setup {
        service,
        store,
        company,
        pos,
        other_pos,
        actor,
    }
}

/// An approved payment as the service stores it, created at `when`.
fn approved(s: &Setup, when: DateTime<Utc>, provider_ref: &str, minor: i64) -> PaymentRecord {
    let ms = when.timestamp_millis();
    let amount = Kurus::from_minor(minor).unwrap();
    PaymentRecord {
        id: new_id("pay"),
        company_id: s.company.id.clone(),
        pos_id: s.pos.id.clone(),
        status: PaymentStatus::Approved,
        amount,
        currency: Currency::Try,
        installments: 1,
        masked_pan: "454671******7894".into(),
        card_fingerprint: "fp".into(),
        card_brand: "visa".into(),
        auth_code: Some("123456".into()),
        provider_ref: Some(provider_ref.into()),
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
        authorized_amount: Some(amount),
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

/// A bank's own layout: English headers, dot decimals, ISO times.
fn bank_profile(name: &str) -> Profile {
    let columns = [
        ("Transaction Date", Field::Time),
        ("Reference", Field::ProviderRef),
        ("Auth", Field::AuthCode),
        ("Card", Field::MaskedPan),
        ("Amount", Field::Amount),
        ("Type", Field::Kind),
        ("Result", Field::Status),
    ];
    Profile {
        name: name.into(),
        columns: columns
            .into_iter()
            .map(|(header, field)| Column {
                header: header.into(),
                field,
            })
            .collect(),
        numbers: NumberStyle::Dot,
        time_formats: vec!["%Y-%m-%d %H:%M:%S".into()],
        date_formats: vec!["%Y-%m-%d".into()],
        kinds: vec![
            ("SALE".into(), RowKind::Sale),
            ("REFUND".into(), RowKind::Refund),
        ],
        statuses: vec![
            ("OK".into(), RowState::Success),
            ("FAIL".into(), RowState::Error),
        ],
    }
}

/// The bank's XLSX statement: typed dates and amounts.
/// Year, month, day, hour, minute, second.
type Stamp = (u16, u8, u8, u16, u8, u8);

fn bank_xlsx(rows: &[(&str, Stamp, f64)]) -> Vec<u8> {
    let mut book = Workbook::new();
    let sheet = book.add_worksheet();
    let time = Format::new().set_num_format("yyyy-mm-dd hh:mm:ss");
    let headers = [
        "Transaction Date",
        "Reference",
        "Auth",
        "Card",
        "Amount",
        "Type",
        "Result",
        "Note",
    ];
    for (col, header) in headers.iter().enumerate() {
        sheet.write_string(0, col as u16, *header).unwrap();
    }
    for (i, (reference, (y, mo, d, h, mi, s), amount)) in rows.iter().enumerate() {
        let r = 1 + i as u32;
        let when = ExcelDateTime::from_ymd(*y, *mo, *d)
            .unwrap()
            .and_hms(*h, *mi, *s)
            .unwrap();
        sheet
            .write_datetime_with_format(r, 0, &when, &time)
            .unwrap();
        sheet.write_string(r, 1, *reference).unwrap();
        sheet.write_string(r, 2, "123456").unwrap();
        sheet.write_string(r, 3, "454671******7894").unwrap();
        sheet.write_number(r, 4, *amount).unwrap();
        sheet.write_string(r, 5, "SALE").unwrap();
        sheet.write_string(r, 6, "OK").unwrap();
        sheet.write_string(r, 7, "ignored column").unwrap();
    }
    book.save_to_buffer().unwrap()
}

#[tokio::test]
async fn saved_profiles_are_managed_per_pos_and_read_an_xlsx_statement() {
    for_each_engine(
        "saved_profiles_read_an_xlsx_statement",
        |store| async move {
            let s = setup(store).await;
            let (svc, c) = (&s.service, s.company.id.as_str());
            let saved = svc
                .create_statement_profile(&s.actor, c, &s.pos.id, bank_profile(" Banka X günlük "))
                .await
                .unwrap();
            assert_eq!(saved.name, "Banka X günlük");
            assert_eq!(saved.pos_id, s.pos.id);
            assert_eq!(saved.created_by, "user:muhasebe");
            assert_eq!(
                svc.list_statement_profiles(c, &s.pos.id).await.unwrap(),
                std::slice::from_ref(&saved)
            );
            assert!(svc
                .list_statement_profiles(c, &s.other_pos.id)
                .await
                .unwrap()
                .is_empty());

            // Refused: the same name on the same POS, a mapping without amount, a bad format.
            let err = svc
                .create_statement_profile(&s.actor, c, &s.pos.id, bank_profile("Banka X günlük"))
                .await
                .unwrap_err();
            assert_eq!(err.code(), "profile_name_taken");
            let mut no_amount = bank_profile("eksik");
            no_amount.columns.retain(|col| col.field != Field::Amount);
            let err = svc
                .create_statement_profile(&s.actor, c, &s.pos.id, no_amount)
                .await
                .unwrap_err();
            assert_eq!(err.field(), Some("profile"), "{err}");
            let mut bad_format = bank_profile("biçim");
            bad_format.time_formats = vec!["%Y-%m-%d %Q".into()];
            let err = svc
                .create_statement_profile(&s.actor, c, &s.pos.id, bad_format)
                .await
                .unwrap_err();
            assert_eq!(err.field(), Some("profile"), "{err}");
            // The same name on another POS is fine.
            svc.create_statement_profile(
                &s.actor,
                c,
                &s.other_pos.id,
                bank_profile("Banka X günlük"),
            )
            .await
            .unwrap();

            // Another company sees none of it.
            let other = svc.create_company("B", "test").await.unwrap();
            assert_eq!(
                svc.get_statement_profile(&other.id, &saved.id)
                    .await
                    .unwrap_err(),
                ServiceError::NotFound
            );
            assert_eq!(
                svc.list_statement_profiles(&other.id, &s.pos.id)
                    .await
                    .unwrap_err(),
                ServiceError::NotFound
            );

            // The import through the saved profile: an XLSX statement of the bank.
            s.store
                .seed_payments(vec![
                    approved(&s, at(2026, 11, 29, 7, 0, 0), "BX-1", 123_456),
                    approved(&s, at(2026, 11, 29, 12, 30, 0), "BX-2", 1_000),
                ])
                .await
                .unwrap();
            let xlsx = bank_xlsx(&[
                ("BX-1", (2026, 11, 29, 10, 0, 0), 1234.56),
                ("BX-2", (2026, 11, 29, 15, 30, 0), 10.0),
            ]);
            let run = svc
                .import_statement_with_profile(
                    &s.actor,
                    c,
                    &s.pos.id,
                    "2026-11-29",
                    "2026-11-29",
                    &xlsx,
                    Some(&saved.id),
                    false,
                )
                .await
                .unwrap();
            assert_eq!(run.summary.matched, 2, "{run:?}");
            assert_eq!(run.open_exceptions, 0, "{run:?}");
            // The built-in profile cannot read that layout; nothing is stored.
            let err = svc
                .import_statement_with_profile(
                    &s.actor,
                    c,
                    &s.pos.id,
                    "2026-11-29",
                    "2026-11-29",
                    &xlsx,
                    None,
                    false,
                )
                .await
                .unwrap_err();
            assert_eq!(err.code(), "bad_statement");
            // A profile of another POS is refused for this one.
            let theirs = svc
                .list_statement_profiles(c, &s.other_pos.id)
                .await
                .unwrap();
            let err = svc
                .import_statement_with_profile(
                    &s.actor,
                    c,
                    &s.pos.id,
                    "2026-11-29",
                    "2026-11-29",
                    &xlsx,
                    Some(&theirs[0].id),
                    false,
                )
                .await
                .unwrap_err();
            assert_eq!(err.field(), Some("profile_id"));
            assert_eq!(svc.list_reconciliations(c, 10).await.unwrap().len(), 1);

            // Replace, then delete; each audited.
            let mut changed = bank_profile("Banka X yeni");
            changed.numbers = NumberStyle::Turkish;
            let updated = svc
                .update_statement_profile(&s.actor, c, &saved.id, changed.clone())
                .await
                .unwrap();
            assert_eq!(updated.name, "Banka X yeni");
            assert_eq!(
                svc.get_statement_profile(c, &saved.id)
                    .await
                    .unwrap()
                    .profile,
                changed
            );
            svc.delete_statement_profile(&s.actor, c, &saved.id)
                .await
                .unwrap();
            assert_eq!(
                svc.get_statement_profile(c, &saved.id).await.unwrap_err(),
                ServiceError::NotFound
            );
            assert_eq!(
                svc.delete_statement_profile(&s.actor, c, &saved.id)
                    .await
                    .unwrap_err(),
                ServiceError::NotFound
            );
            let kinds: Vec<String> = s
                .store
                .list_audit(c, 100)
                .await
                .unwrap()
                .into_iter()
                .filter(|e| e.subject_id == saved.id)
                .map(|e| format!("{} {}", e.kind, e.actor))
                .collect();
            assert_eq!(
                kinds,
                [
                    "statement_profile.deleted user:muhasebe",
                    "statement_profile.updated user:muhasebe",
                    "statement_profile.created user:muhasebe",
                ]
            );
            assert!(s
                .store
                .verify_audit()
                .await
                .unwrap()
                .iter()
                .all(|r| r.broken.is_none()));
        },
    )
    .await;
}

/// The simulator's statement layout with the given rows.
fn simulator_csv(rows: &[(&str, &str, &str)]) -> Vec<u8> {
    let mut text = String::from(
        "İşlem Tarihi;Valör Tarihi;İşlem Tipi;Durum;Referans No;Sipariş No;Provizyon No;Kart No;Taksit;Tutar;Provizyon Tutarı;Komisyon;Para Birimi\r\n",
    );
    for (time, reference, amount) in rows {
        text.push_str(&format!(
            "{time};01.12.2026;Satış;Başarılı;{reference};;123456;454671******7894;1;{amount};{amount};0,00;TRY\r\n"
        ));
    }
    text.into_bytes()
}

#[tokio::test]
async fn sales_at_2359_and_0001_istanbul_land_on_their_own_business_days() {
    for_each_engine(
        "sales_at_2359_and_0001_land_on_their_days",
        |store| async move {
            let s = setup(store).await;
            let (svc, c) = (&s.service, s.company.id.as_str());
            // 23:59 on 29 November in Istanbul is 20:59 UTC; 00:01 on the 30th is 21:01 UTC,
            // still the 29th in UTC.
            let late = approved(&s, at(2026, 11, 29, 20, 59, 0), "IKSIRPF2359", 150_000);
            let early = approved(&s, at(2026, 11, 29, 21, 1, 0), "IKSIRPF0001", 25_000);
            assert_eq!(late.business_date, "2026-11-29");
            assert_eq!(early.business_date, "2026-11-30");
            s.store
                .seed_payments(vec![late.clone(), early.clone()])
                .await
                .unwrap();
            let statement = simulator_csv(&[
                ("29.11.2026 23:59:00", "IKSIRPF2359", "1.500,00"),
                ("30.11.2026 00:01:00", "IKSIRPF0001", "250,00"),
            ]);
            let (actor, pos_id) = (&s.actor, s.pos.id.as_str());
            let import = |from: &'static str, to: &'static str| {
                let statement = statement.clone();
                async move {
                    svc.import_statement(actor, c, pos_id, from, to, &statement, None, false)
                        .await
                        .unwrap()
                }
            };

            let day = import("2026-11-29", "2026-11-29").await;
            assert_eq!(day.summary.matched, 1, "{day:?}");
            assert_eq!(day.open_exceptions, 0, "{day:?}");
            assert_eq!(day.items.len(), 1);
            assert_eq!(day.items[0].payment_ids, [late.id.as_str()]);
            assert_eq!(day.rejected_rows.len(), 1);
            assert_eq!(day.rejected_rows[0].reference, "IKSIRPF0001");
            assert!(
                day.rejected_rows[0].reason.contains("outside the period"),
                "{:?}",
                day.rejected_rows
            );

            let next = import("2026-11-30", "2026-11-30").await;
            assert_eq!(next.summary.matched, 1, "{next:?}");
            assert_eq!(next.open_exceptions, 0, "{next:?}");
            assert_eq!(next.items[0].payment_ids, [early.id.as_str()]);
            assert_eq!(next.rejected_rows[0].reference, "IKSIRPF2359");

            let both = import("2026-11-29", "2026-11-30").await;
            assert_eq!(both.summary.matched, 2, "{both:?}");
            assert!(both.rejected_rows.is_empty());

            // The payment list puts them on their days too.
            let view = svc.get_payment(c, &early.id).await.unwrap();
            assert_eq!(view.payment.business_date, "2026-11-30");
        },
    )
    .await;
}

/// A sale keyed in on the simulator's panel at `at` (Istanbul local time); answers its
/// reference and auth code.
async fn panel_sale_at(sim: &str, merchant_no: &str, amount: &str, at: &str) -> (String, String) {
    let response = reqwest::Client::new()
        .post(format!("{sim}/_sim/merchants/{merchant_no}/panel-sales"))
        .body(format!(
            r#"{{"amount":"{amount}","card":"4546711234567894","at":"{at}"}}"#
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 201);
    let body: serde_json::Value = serde_json::from_str(&response.text().await.unwrap()).unwrap();
    (
        body["reference_code"].as_str().unwrap().to_owned(),
        body["auth_code"].as_str().unwrap().to_owned(),
    )
}

#[tokio::test]
async fn pulled_sales_at_2359_and_0001_istanbul_land_on_their_own_business_days() {
    for_each_engine("pulled_sales_at_2359_and_0001", |store| async move {
        let s = setup(store).await;
        let (svc, c) = (&s.service, s.company.id.as_str());
        let merchant = sanalpos_simulator::MerchantConfig::generate();
        let sim = sanalpos_simulator::spawn(
            sanalpos_simulator::SimConfig {
                merchants: vec![merchant.clone()],
                test_mode: true,
                slow_answer_delay: std::time::Duration::from_secs(3),
            },
            tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap(),
        )
        .await
        .unwrap();
        let mut new = new_pos("N Kolay simülatör");
        new.settings = sanalpos_service::protocols::nkolay_settings(
            &sim.base_url(),
            &merchant.sx,
            &merchant.sx_list,
            &merchant.sx_cancel,
            &merchant.secret_key,
            merchant.auto_complete,
        );
        new.is_default = false;
        let pos = svc.create_pos(c, new, "test").await.unwrap();

        // 23:59 yesterday and 00:01 today, Istanbul time (UTC+3), at the provider…
        let today = istanbul_today();
        let yesterday = today.pred_opt().unwrap();
        let (late_ref, late_auth) = panel_sale_at(
            &sim.base_url(),
            &merchant.merchant_no,
            "1500.00",
            &format!("{yesterday}T23:59:00"),
        )
        .await;
        let (early_ref, early_auth) = panel_sale_at(
            &sim.base_url(),
            &merchant.merchant_no,
            "250.00",
            &format!("{today}T00:01:00"),
        )
        .await;
        // …and here, at the same instants.
        let utc = |day: chrono::NaiveDate, h: u32, m: u32| {
            let local = day.and_hms_opt(h, m, 0).unwrap();
            Utc.from_utc_datetime(&(local - chrono::Duration::hours(3)))
        };
        let mut late = approved(&s, utc(yesterday, 23, 59), &late_ref, 150_000);
        let mut early = approved(&s, utc(today, 0, 1), &early_ref, 25_000);
        for (p, auth) in [(&mut late, late_auth), (&mut early, early_auth)] {
            p.pos_id = pos.id.clone();
            p.auth_code = Some(auth);
        }
        assert_eq!(late.business_date, yesterday.to_string());
        assert_eq!(early.business_date, today.to_string());
        s.store
            .seed_payments(vec![late.clone(), early.clone()])
            .await
            .unwrap();

        let pull = |from: String, to: String| {
            let (actor, pos_id) = (&s.actor, pos.id.clone());
            async move {
                svc.run_reconciliation(actor, c, &pos_id, &from, &to)
                    .await
                    .unwrap()
            }
        };
        let day = pull(yesterday.to_string(), yesterday.to_string()).await;
        assert_eq!(day.summary.matched, 1, "{day:?}");
        assert_eq!(day.open_exceptions, 0, "{day:?}");
        assert_eq!(day.items.len(), 1, "{day:?}");
        assert_eq!(day.items[0].payment_ids, [late.id.as_str()]);
        let next = pull(today.to_string(), today.to_string()).await;
        assert_eq!(next.summary.matched, 1, "{next:?}");
        assert_eq!(next.open_exceptions, 0, "{next:?}");
        assert_eq!(next.items.len(), 1, "{next:?}");
        assert_eq!(next.items[0].payment_ids, [early.id.as_str()]);
        let both = pull(yesterday.to_string(), today.to_string()).await;
        assert_eq!(both.summary.matched, 2, "{both:?}");
    })
    .await;
}

#[tokio::test]
async fn a_malformed_windows_1254_statement_imports_nothing() {
    for_each_engine(
        "a_malformed_windows_1254_statement_imports_nothing",
        |store| async move {
            let s = setup(store).await;
            let (svc, c) = (&s.service, s.company.id.as_str());
            // The November 29 statement, read with the built-in profile.
            let (actor, pos_id) = (&s.actor, s.pos.id.as_str());
            let import = |bytes: Vec<u8>, skip_bad_rows: bool| async move {
                svc.import_statement(
                    actor,
                    c,
                    pos_id,
                    "2026-11-29",
                    "2026-11-29",
                    &bytes,
                    None,
                    skip_bad_rows,
                )
                .await
            };
            s.store
                .seed_payments(vec![approved(
                    &s,
                    at(2026, 11, 29, 9, 0, 0),
                    "IKSIRPF1",
                    123_456,
                )])
                .await
                .unwrap();
            let text = String::from_utf8(simulator_csv(&[
                ("29.11.2026 12:00:00", "IKSIRPF1", "1.234,56"),
                ("29.11.2026 12:05:00", "IKSIRPF2", "12,3,4"),
                ("29.11.2026 12:10:00", "IKSIRPF3", "9,99"),
            ]))
            .unwrap()
            .replace("Satış;Başarılı;IKSIRPF3", "Ödeme;Başarılı;IKSIRPF3");
            let (bytes, _, unmappable) = encoding_rs::WINDOWS_1254.encode(&text);
            assert!(!unmappable);
            let err = import(bytes.to_vec(), false).await.unwrap_err();
            let ServiceError::BadStatement { bad_rows, .. } = err else {
                panic!("{err:?}")
            };
            let lines: Vec<u32> = bad_rows.iter().map(|r| r.line).collect();
            assert_eq!(lines, [3, 4]);
            assert!(bad_rows[0].reason.starts_with("Tutar"), "{:?}", bad_rows);
            assert!(bad_rows[1].reason.contains("İşlem Tipi"), "{:?}", bad_rows);
            assert!(
                svc.list_reconciliations(c, 10).await.unwrap().is_empty(),
                "nothing stored"
            );

            // Having seen them, the user takes the good row and leaves the bad ones out:
            // they are listed in the run with their lines.
            let run = import(bytes.to_vec(), true).await.unwrap();
            assert_eq!(run.summary.matched, 1, "{run:?}");
            assert_eq!(run.summary.provider_only, 0, "{run:?}");
            let left_out: Vec<Option<u32>> = run.rejected_rows.iter().map(|r| r.line).collect();
            assert_eq!(left_out, [Some(3), Some(4)]);
            assert!(run.rejected_rows[0].reason.contains("Tutar"), "{run:?}");
            // A file with no readable row is refused even then.
            let none_good = text.replace("1.234,56", "x").replace("9,99", "y");
            let (bytes, _, _) = encoding_rs::WINDOWS_1254.encode(&none_good);
            let err = import(bytes.to_vec(), true).await.unwrap_err();
            assert_eq!(err.code(), "bad_statement");
            assert_eq!(svc.list_reconciliations(c, 10).await.unwrap().len(), 1);

            // The good file of the same encoding imports.
            let good = text.replace("12,3,4", "1,00").replace("Ödeme;", "Satış;");
            let (bytes, _, _) = encoding_rs::WINDOWS_1254.encode(&good);
            let run = import(bytes.to_vec(), false).await.unwrap();
            assert_eq!(run.summary.matched, 1);
            assert_eq!(run.summary.provider_only, 2);

            // The run as a file, amounts in each language's format.
            let csv = svc
                .export_reconciliation(c, &run.id, None, ExportFormat::Csv, sanalpos_core::Lang::Tr)
                .await
                .unwrap();
            let text = String::from_utf8(csv).unwrap();
            let text = text.strip_prefix('\u{feff}').unwrap();
            let rows: Vec<Vec<&str>> = text.lines().map(|l| l.split(';').collect()).collect();
            assert_eq!(rows.len(), 4);
            assert_eq!(rows[0], recon_export_headers(sanalpos_core::Lang::Tr));
            let by_ref = |reference: &str| {
                rows[1..]
                    .iter()
                    .find(|r| r[3] == reference)
                    .unwrap_or_else(|| panic!("{reference} not exported: {rows:?}"))
                    .clone()
            };
            for provider_only in ["IKSIRPF2", "IKSIRPF3"] {
                assert_eq!(by_ref(provider_only)[0], "Yalnız sağlayıcıda");
            }
            let matched = by_ref("IKSIRPF1");
            assert_eq!(matched[0], "Eşleşti");
            assert_eq!(matched[7..10], ["1.234,56", "1.234,56", "0,00"]);
            assert_eq!(by_ref("IKSIRPF2")[7..10], ["0,00", "1,00", "1,00"]);

            let xlsx = svc
                .export_reconciliation(
                    c,
                    &run.id,
                    None,
                    ExportFormat::Xlsx,
                    sanalpos_core::Lang::En,
                )
                .await
                .unwrap();
            use calamine::{Data, Reader, Xlsx};
            let mut book: Xlsx<_> =
                calamine::open_workbook_from_rs(std::io::Cursor::new(xlsx)).unwrap();
            let range = book.worksheet_range_at(0).unwrap().unwrap();
            assert_eq!(range.height(), 4);
            let row: Vec<Data> = range
                .rows()
                .find(|r| r[3] == Data::String("IKSIRPF3".into()))
                .unwrap()
                .to_vec();
            assert_eq!(row[0], Data::String("Provider only".into()));
            assert_eq!(row[8], Data::Float(9.99));
            assert_eq!(row[9], Data::Float(9.99));
            assert_eq!(
                svc.export_reconciliation(
                    c,
                    "rcn_nope",
                    None,
                    ExportFormat::Csv,
                    sanalpos_core::Lang::En
                )
                .await
                .unwrap_err(),
                ServiceError::NotFound
            );
        },
    )
    .await;
}

/// A NestPay POS (no transaction list at the bank) reconciled by its statement: a sale
/// the statement lacks is asked of the bank (ORDERSTATUS) and matched on its answer; one
/// the bank has never seen stays system-only; a pull is refused in words.
#[tokio::test]
async fn a_nestpay_pos_reconciles_by_statement_and_asks_the_bank_for_the_rest() {
    use sanalpos_simulator::nestpay::{self, NestpayConfig, NestpayMerchant};
    for_each_engine("nestpay_statement_and_status", |store| async move {
        let s = setup(store).await;
        let (svc, c) = (&s.service, s.company.id.as_str());
        let merchant = NestpayMerchant::generate();
        let sim = nestpay::spawn(
            NestpayConfig {
                merchants: vec![merchant.clone()],
                test_mode: true,
                ..NestpayConfig::default()
            },
            tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap(),
        )
        .await
        .unwrap();
        let url = sim.base_url();
        let mut new = new_pos("İş Bankası");
        new.protocol = "nestpay".into();
        new.is_default = false;
        new.settings = Settings::from_pairs([
            ("bank", "isbank"),
            ("api_url", url.as_str()),
            ("gate_url", url.as_str()),
            ("client_id", merchant.client_id.as_str()),
            ("api_user", merchant.api_user.as_str()),
            ("api_password", merchant.api_password.as_str()),
            ("store_key", merchant.store_key.as_str()),
        ]);
        let pos = svc.create_pos(c, new, "test").await.unwrap();
        let mut payments = Vec::new();
        for amount in ["120.00", "80.50"] {
            let request = CreatePayment {
                pos_id: Some(pos.id.clone()),
                ..crate::helpers::payment(crate::helpers::APPROVED_CARD, amount)
            };
            payments.push(svc.create_payment(&s.actor, request).await.unwrap());
        }
        let (in_statement, left_out) = (&payments[0], &payments[1]);
        assert_eq!(in_statement.status, PaymentStatus::Approved);
        assert_eq!(left_out.status, PaymentStatus::Approved);
        // A payment our books call approved that the bank never saw.
        let mut phantom = approved(&s, Utc::now(), "24003XXXX99999", 4_200);
        phantom.pos_id = pos.id.clone();
        s.store.seed_payments(vec![phantom.clone()]).await.unwrap();

        let day = istanbul_today();
        let statement = sim.statement(&merchant.client_id, day).unwrap();
        let left_out_ref = left_out.provider_ref.clone().unwrap();
        assert!(statement.contains(&left_out_ref), "{statement}");
        // The bank's file is missing one of its sales.
        let partial: String = statement
            .lines()
            .filter(|line| !line.contains(&left_out_ref))
            .map(|line| format!("{line}\n"))
            .collect();
        let day = day.to_string();
        let run = svc
            .import_statement(
                &s.actor,
                c,
                &pos.id,
                &day,
                &day,
                partial.as_bytes(),
                None,
                false,
            )
            .await
            .unwrap();
        assert_eq!(run.summary.matched, 2, "{run:?}");
        assert_eq!(run.summary.system_only, 1, "{run:?}");
        let lonely = run
            .items
            .iter()
            .find(|i| i.class.as_str() == "system_only")
            .unwrap();
        assert_eq!(lonely.payment_ids, [phantom.id.as_str()]);
        assert!(run
            .items
            .iter()
            .any(|i| i.class.as_str() == "matched" && i.payment_ids == [left_out.id.as_str()]));

        // The bank has no transaction list: a pull is refused, and says what to do.
        let err = svc
            .run_reconciliation(&s.actor, c, &pos.id, &day, &day)
            .await
            .unwrap_err();
        assert_eq!(err.code(), "report_not_supported", "{err:?}");
        sim.shutdown().await;
    })
    .await;
}

/// A statement row of the simulator's layout with its own card and order number.
fn statement_line(time: &str, reference: &str, order: &str, card: &str, amount: &str) -> String {
    format!(
        "{time};01.12.2026;Satış;Başarılı;{reference};{order};123456;{card};1;{amount};{amount};0,00;TRY\r\n"
    )
}

/// Our payment with a customer, a card and an auth code of its own (so the engine does
/// not pair it with a statement row by auth code).
fn ours(
    s: &Setup,
    when: DateTime<Utc>,
    provider_ref: &str,
    minor: i64,
    card: &str,
    customer: &str,
) -> PaymentRecord {
    let mut p = approved(s, when, provider_ref, minor);
    p.masked_pan = card.into();
    p.auth_code = Some("654321".into());
    p.customer_ref = Some(customer.into());
    p
}

// Issue 13, item 12: a missing sale is entered with the customer it credits, and the
// payments offered for a force-match are those of the same amount, card and day.
#[tokio::test]
async fn missing_sale_entered_with_its_customer_and_candidates_offered() {
    for_each_engine("missing_sale_entered_with_customer", |store| async move {
        let s = setup(store).await;
        let (svc, c) = (&s.service, s.company.id.as_str());
        let visa = "454671******7894";
        let master = "520019******8608";
        // Istanbul is UTC+3: 09:00 UTC is 12:00 there.
        let matched = ours(&s, at(2026, 11, 30, 9, 0, 0), "IKSIRPF1", 10_000, visa, "CARI-ACME");
        let candidate = ours(&s, at(2026, 11, 29, 9, 0, 0), "IKSIRPFOURS", 25_000, visa, "CARI-BETA");
        let other_amount = ours(&s, at(2026, 11, 30, 8, 0, 0), "IKSIRPFD1", 25_100, visa, "CARI-GAMMA");
        let other_card = ours(&s, at(2026, 11, 30, 8, 30, 0), "IKSIRPFD2", 25_000, master, "CARI-GAMMA");
        let other_day = ours(&s, at(2026, 11, 28, 9, 0, 0), "IKSIRPFD3", 25_000, visa, "CARI-GAMMA");
        let mut other_pos = ours(&s, at(2026, 11, 30, 9, 0, 0), "IKSIRPFD4", 25_000, visa, "CARI-DELTA");
        other_pos.pos_id = s.other_pos.id.clone();
        let taken = ours(&s, at(2026, 11, 30, 7, 0, 0), "IKSIRPF2", 25_000, visa, "CARI-ACME");
        let second = ours(&s, at(2026, 11, 30, 20, 0, 0), "IKSIRPFOURS2", 25_000, visa, "CARI-ACME");
        assert_eq!(other_day.business_date, "2026-11-28");
        s.store
            .seed_payments(vec![
                matched.clone(),
                candidate.clone(),
                other_amount.clone(),
                other_card.clone(),
                other_day.clone(),
                other_pos.clone(),
                taken.clone(),
                second.clone(),
            ])
            .await
            .unwrap();
        let mut csv = String::from(
            "İşlem Tarihi;Valör Tarihi;İşlem Tipi;Durum;Referans No;Sipariş No;Provizyon No;Kart No;Taksit;Tutar;Provizyon Tutarı;Komisyon;Para Birimi\r\n",
        );
        csv.push_str(&statement_line("30.11.2026 12:00:00", "IKSIRPF1", "", visa, "100,00"));
        csv.push_str(&statement_line("30.11.2026 10:00:00", "IKSIRPF2", "", visa, "250,00"));
        // The sale we never saw: the provider knows its order number.
        csv.push_str(&statement_line("30.11.2026 15:00:00", "IKSIRPFX", "SIP-77", visa, "250,00"));
        let run = svc
            .import_statement(&s.actor, c, &s.pos.id, "2026-11-29", "2026-11-30", csv.as_bytes(), None, false)
            .await
            .unwrap();
        assert_eq!(run.summary.matched, 2, "{run:?}");
        assert_eq!(run.summary.provider_only, 1, "{run:?}");
        let missing = run.items.iter().find(|i| i.class.as_str() == "provider_only").unwrap();

        // The candidates: the same amount, card and day (±1) that nothing matched; not the
        // other amount, card, day or POS, nor the payment the run matched already.
        let offers = svc.match_candidates(c, &run.id).await.unwrap();
        let mut offered: Vec<&str> = offers[&missing.id]
            .iter()
            .map(|o| o.payment_id.as_str())
            .collect();
        offered.sort_unstable();
        let mut want = vec![candidate.id.as_str(), second.id.as_str()];
        want.sort_unstable();
        assert_eq!(offered, want, "{offers:?}");
        // The engine's proposal (when it has one) comes first, marked as the item's.
        let first = &offers[&missing.id][0];
        if let Some(proposal) = &missing.proposal {
            assert_eq!(&first.payment_id, proposal);
            assert!(first.of_item);
        }
        assert!(offers[&missing.id].iter().skip(1).all(|o| !o.of_item));
        let offer = offers[&missing.id]
            .iter()
            .find(|o| o.payment_id == candidate.id)
            .unwrap();
        assert_eq!(offer.customer_ref.as_deref(), Some("CARI-BETA"));
        assert_eq!(offer.masked_pan, visa);
        assert_eq!(offer.amount, Kurus::from_minor(25_000).unwrap());
        assert_eq!(offer.business_date, "2026-11-29");
        assert!(!offers.contains_key(
            &run.items.iter().find(|i| i.class.as_str() == "matched").unwrap().id
        ));
        // A system-only item is offered its own payment first.
        let lonely = run
            .items
            .iter()
            .find(|i| i.payment_ids == [other_amount.id.clone()])
            .unwrap();
        assert_eq!(offers[&lonely.id][0].payment_id, other_amount.id);
        assert!(offers[&lonely.id][0].of_item);

        // The customer references the company uses, distinct and in order, by prefix;
        // a LIKE wildcard is a plain character.
        assert_eq!(
            svc.customer_refs(c, "", 50).await.unwrap(),
            ["CARI-ACME", "CARI-BETA", "CARI-DELTA", "CARI-GAMMA"]
        );
        assert_eq!(svc.customer_refs(c, "CARI-B", 50).await.unwrap(), ["CARI-BETA"]);
        assert_eq!(svc.customer_refs(c, "CARI-", 2).await.unwrap(), ["CARI-ACME", "CARI-BETA"]);
        assert!(svc.customer_refs(c, "CARI%", 50).await.unwrap().is_empty());
        assert!(svc.customer_refs(c, "_", 50).await.unwrap().is_empty());

        // A customer reference that is too long is refused and changes nothing.
        let enter = |customer: &str, description: Option<&str>| Resolution::EnterMissing {
            reason: Some("panelden".into()),
            details: EntryDetails {
                customer_ref: Some(customer.into()),
                order_ref: None,
                description: description.map(str::to_owned),
            },
        };
        let err = svc
            .resolve_item(&s.actor, c, &run.id, &missing.id, enter(&"C".repeat(101), None))
            .await
            .unwrap_err();
        assert!(matches!(&err, ServiceError::Validation { field, .. } if field == "customer_ref"), "{err:?}");
        let err = svc
            .resolve_item(&s.actor, c, &run.id, &missing.id, enter("CARI-BETA", Some("a\u{7}b")))
            .await
            .unwrap_err();
        assert!(matches!(&err, ServiceError::Validation { field, .. } if field == "description"), "{err:?}");
        let again = svc.get_reconciliation(c, &run.id, &ItemsQuery::class("provider_only")).await.unwrap();
        assert_eq!(again.items[0].resolution, None);
        let all = svc.list_payments(c, PaymentFilter::default()).await.unwrap();
        assert_eq!(all.items.len(), 8);

        // Entered with its customer: the payment carries the customer, the provider's
        // order number and the description, and is in that customer's list.
        let item = svc
            .resolve_item(
                &s.actor,
                c,
                &run.id,
                &missing.id,
                enter(" CARI-BETA ", Some("Kartla ödenen fatura")),
            )
            .await
            .unwrap();
        assert_eq!(item.resolution.as_deref(), Some("entered"));
        let entered = item.resolution_payment_id.unwrap();
        let view = svc.get_payment(c, &entered).await.unwrap();
        assert_eq!(view.payment.customer_ref.as_deref(), Some("CARI-BETA"));
        assert_eq!(view.payment.order_ref.as_deref(), Some("SIP-77"));
        assert_eq!(view.payment.description.as_deref(), Some("Kartla ödenen fatura"));
        assert_eq!(view.payment.channel, Channel::Manual);
        let beta = svc
            .list_payments(
                c,
                PaymentFilter {
                    customer_ref: Some("CARI-BETA".into()),
                    ..PaymentFilter::default()
                },
            )
            .await
            .unwrap();
        let mut ids: Vec<&str> = beta.items.iter().map(|p| p.id.as_str()).collect();
        ids.sort_unstable();
        let mut want = vec![entered.as_str(), candidate.id.as_str()];
        want.sort_unstable();
        assert_eq!(ids, want);
        let events = s.store.list_audit(c, 50).await.unwrap();
        let decision = events.iter().find(|e| e.kind == "recon.item_resolved").unwrap();
        assert!(decision.data.contains("CARI-BETA"), "{}", decision.data);

        // Decided: no longer offered anything.
        let offers = svc.match_candidates(c, &run.id).await.unwrap();
        assert!(!offers.contains_key(&missing.id));
    })
    .await;
}

// A run of more items than the service builds at once (10,000) is built and stored a
// part at a time: every item lands once, in order, with its rows, and decisions taken on
// items of either part carry over to the next run of the period.
#[tokio::test]
async fn a_run_built_in_parts_keeps_every_item_in_order_and_earlier_decisions() {
    for_each_engine("a_run_built_in_parts", |store| async move {
        let s = setup(store).await;
        let (svc, c) = (&s.service, s.company.id.as_str());
        const ROWS: usize = 10_250;
        let mut statement = String::from(
            "İşlem Tarihi;Valör Tarihi;İşlem Tipi;Durum;Referans No;Sipariş No;Provizyon No;Kart No;Taksit;Tutar;Provizyon Tutarı;Komisyon;Para Birimi\r\n",
        );
        for i in 0..ROWS {
            statement.push_str(&statement_line(
                &format!("28.11.2026 {:02}:{:02}:{:02}", 9 + i / 3600, i / 60 % 60, i % 60),
                &format!("IKSIRPB{i:07}"),
                "",
                "454671******7894",
                "100,00",
            ));
        }
        // Two rows that are in our books: one in the first part, one in the last.
        let mut known = Vec::new();
        for i in [17, ROWS - 3] {
            let when = at(2026, 11, 28, 6 + (i / 3600) as u32, (i / 60 % 60) as u32, (i % 60) as u32);
            known.push(approved(&s, when, &format!("IKSIRPB{i:07}"), 10_000));
        }
        s.store.seed_payments(known.clone()).await.unwrap();
        let import = || {
            svc.import_statement(
                &s.actor,
                c,
                &s.pos.id,
                "2026-11-28",
                "2026-11-28",
                statement.clone().into_bytes(),
                None,
                false,
            )
        };
        let first = import().await.unwrap();
        assert_eq!(first.summary.matched, 2, "{:?}", first.summary);
        assert_eq!(first.summary.provider_only, ROWS as u64 - 2);
        assert_eq!(first.open_exceptions, ROWS as u64 - 2);

        let stored = s.store.list_recon_items(c, &first.id, None).await.unwrap();
        assert_eq!(stored.len(), ROWS);
        assert!(stored.iter().enumerate().all(|(i, r)| r.seq == i as i64));
        let mut references: Vec<String> = stored
            .iter()
            .map(|r| {
                let rows: Vec<serde_json::Value> = r.item.provider_rows.parse().unwrap();
                assert_eq!(rows.len(), 1, "{:?}", r.item);
                rows[0]["provider_ref"].as_str().unwrap().to_owned()
            })
            .collect();
        references.sort_unstable();
        references.dedup();
        assert_eq!(references.len(), ROWS, "each statement row in one item");
        let matched: Vec<&str> = stored
            .iter()
            .filter(|r| r.item.class == "matched")
            .flat_map(|r| r.item.payment_ids.iter().map(String::as_str))
            .collect();
        assert_eq!(matched.len(), 2);
        assert!(known.iter().all(|p| matched.contains(&p.id.as_str())));

        // Dismiss an exception of the first part and one of the last.
        let exceptions: Vec<_> = stored.iter().filter(|r| r.item.class != "matched").collect();
        let decided = [exceptions[3], exceptions[exceptions.len() - 2]];
        assert!(decided[0].seq < 10_000 && decided[1].seq >= 10_000);
        for item in decided {
            svc.resolve_item(
                &s.actor,
                c,
                &first.id,
                &item.id,
                Resolution::Dismiss {
                    reason: "bilinen".into(),
                },
            )
            .await
            .unwrap();
        }

        let again = import().await.unwrap();
        assert_eq!(again.open_exceptions, ROWS as u64 - 4);
        let stored_again = s.store.list_recon_items(c, &again.id, None).await.unwrap();
        assert_eq!(stored_again.len(), ROWS);
        for item in decided {
            let same = stored_again
                .iter()
                .find(|r| r.item.item_key == item.item.item_key)
                .unwrap();
            assert_eq!(same.resolution.as_deref(), Some("dismissed"));
            assert_eq!(same.resolution_reason.as_deref(), Some("bilinen"));
        }
        assert_eq!(
            stored_again.iter().filter(|r| r.resolution.is_some()).count(),
            2
        );
    })
    .await;
}
