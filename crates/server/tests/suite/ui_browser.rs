//! The back office in a real headless Chromium, driven as a person would: sign in, take
//! MOTO payments (approved, declined for insufficient funds, 3D with the right and the
//! wrong SMS code), filter the list and download CSV and XLSX, refund part of a
//! payment, define a POS and test its connection, and the refusals (a collector on an
//! admin page, another company's payment by URL). A screenshot of each main page goes
//! under `target/screenshots/back_office_walkthrough/`. A second walk defines a bank
//! (NestPay) POS and takes payments on it.

#![allow(clippy::unwrap_used)]

use std::time::Duration;

use crate::helpers::ui::*;
use crate::helpers::*;
use reqwest::StatusCode;
use sanalpos_testkit::browser::{screenshot_path, Browser};

const TEST: &str = "back_office_walkthrough";
const WAIT: Duration = Duration::from_secs(20);
const APPROVED_CARD: &str = "4546711234567894";
const NO_FUNDS_CARD: &str = "4000000000000515";

struct Walk<'a> {
    b: &'a Browser,
    app: &'a TestApp,
}

impl Walk<'_> {
    async fn goto(&self, path: &str) {
        self.b.goto(&self.app.url(path)).await.unwrap();
    }

    async fn fill(&self, css: &str, text: &str) {
        let e = self.b.find(css).await.unwrap();
        e.clear().await.unwrap();
        e.send_keys(text).await.unwrap();
    }

    async fn click(&self, css: &str) {
        self.b.find(css).await.unwrap().click().await.unwrap();
    }

    async fn shot(&self, page: &str) {
        self.b
            .screenshot(&screenshot_path(TEST, page))
            .await
            .unwrap();
    }

    /// The page has no full card number and no POS credential.
    async fn assert_clean(&self) {
        let source = self.b.page_source().await.unwrap();
        for pan in [APPROVED_CARD, NO_FUNDS_CARD] {
            assert!(!source.contains(pan), "a page shows a card number");
        }
        for seeded in [&self.app.a, &self.app.b] {
            let m = &seeded.merchant;
            for secret in [&m.sx, &m.sx_list, &m.sx_cancel, &m.secret_key] {
                assert!(
                    !source.contains(secret.as_str()),
                    "a page shows a credential"
                );
            }
        }
    }

    async fn sign_in(&self, username: &str) {
        self.goto("/ui/login").await;
        self.fill("#username", username).await;
        self.fill("#password", PASSWORD).await;
        self.click("#sign-in").await;
        self.b.wait_for("#current-user", WAIT).await.unwrap();
    }

    async fn sign_out(&self) {
        self.click("#sign-out").await;
        self.b.wait_for("#sign-in", WAIT).await.unwrap();
    }

    /// Fills Online Tahsilat and sends it.
    async fn collect(&self, pan: &str, amount: &str, installments: &str, three_d: bool) {
        self.goto("/ui/collect").await;
        self.b.wait_for("#collect-form", WAIT).await.unwrap();
        self.fill("#customer_ref", "CARI-120.01").await;
        self.fill("#order_ref", "SIP-2026-77").await;
        self.fill("#amount", amount).await;
        self.fill("#card_number", pan).await;
        if installments != "1" {
            // The options of this card arrive as its BIN is typed.
            self.b
                .wait_for(
                    &format!("#installments option[value='{installments}']"),
                    WAIT,
                )
                .await
                .unwrap();
            self.b
                .select_value("#installments", installments)
                .await
                .unwrap();
        }
        self.fill("#expiry_month", "12").await;
        self.fill("#expiry_year", "2030").await;
        self.fill("#cvv", "000").await;
        self.fill("#holder", "Ayşe Yılmaz").await;
        if three_d {
            self.click("#three_d").await;
        }
    }

    async fn result_status(&self) -> String {
        let e = self.b.wait_for("#result", WAIT).await.unwrap();
        e.attr("data-status").await.unwrap().unwrap_or_default()
    }
}

fn rows_of_csv(path: &std::path::Path) -> Vec<String> {
    let text = std::fs::read_to_string(path).unwrap();
    text.trim_start_matches('\u{feff}')
        .lines()
        .map(str::to_owned)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn back_office_walkthrough() {
    let Some(b) = Browser::start_or_skip(TEST).await else {
        return;
    };
    let app = TestApp::spawn(Db::Sqlite, TEST).await.unwrap();
    seed_users(&app).await;
    // A payment of company B, for the by-URL check.
    let (status, body) = app
        .pay(&app.b, &key(), &payment(APPROVED_CARD, "99.00"))
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let b_payment = body["id"].as_str().unwrap().to_owned();
    let w = Walk { b: &b, app: &app };

    // Sign in (the admin of both companies), into company A.
    w.goto("/ui/login").await;
    w.b.wait_for("#sign-in", WAIT).await.unwrap();
    w.shot("login").await;
    w.sign_in("admin").await;
    w.b.select_value("#company-select", &app.a.id)
        .await
        .unwrap();
    w.b.wait_for_text("Gösterge Paneli", WAIT).await.unwrap();
    let selected =
        w.b.find("#company-select")
            .await
            .unwrap()
            .prop("value")
            .await
            .unwrap();
    assert_eq!(selected.as_deref(), Some(app.a.id.as_str()));

    // A MOTO payment in 3 installments, approved.
    w.collect(APPROVED_CARD, "1.234,56", "3", false).await;
    w.shot("online_tahsilat").await;
    w.click("#collect-submit").await;
    assert_eq!(w.result_status().await, "approved");
    let text = w.b.body_text().await.unwrap();
    assert!(text.contains("Ödeme onaylandı"), "{text}");
    let auth = w.b.find("#auth-code").await.unwrap().text().await.unwrap();
    assert!(!auth.trim().is_empty());
    w.shot("result_approved").await;
    w.assert_clean().await;
    let approved_url = w.b.current_url().await.unwrap();
    // A reload of the result page charges nothing.
    w.b.goto(&approved_url).await.unwrap();
    assert_eq!(w.result_status().await, "approved");
    assert_eq!(app.charged(&app.a).len(), 1);

    // Declined: insufficient funds, in Turkish.
    w.collect(NO_FUNDS_CARD, "10,00", "1", false).await;
    w.click("#collect-submit").await;
    assert_eq!(w.result_status().await, "declined");
    let reason =
        w.b.find("#result-reason")
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
    assert!(reason.contains("Yetersiz bakiye"), "{reason}");
    w.shot("result_declined").await;

    // 3D with the right SMS code, then with a wrong one.
    for (code, expected) in [("123456", "approved"), ("000000", "declined")] {
        w.collect(APPROVED_CARD, "75,00", "1", true).await;
        w.click("#collect-submit").await;
        // Our page takes the browser to the bank's page.
        let input = w.b.wait_for("#code", WAIT).await.unwrap();
        if code == "123456" {
            w.shot("bank_3d_page").await;
        }
        input.send_keys(code).await.unwrap();
        w.click("#submit").await;
        assert_eq!(w.result_status().await, expected, "3D with {code}");
        let url = w.b.current_url().await.unwrap();
        assert!(
            url.contains("/ui/payments/pay_") && url.ends_with("/result"),
            "{url}"
        );
    }
    assert_eq!(app.charged(&app.a).len(), 2);

    // The list, filtered to approved payments, and both downloads.
    w.goto("/ui/payments").await;
    w.b.wait_for("#payments", WAIT).await.unwrap();
    assert_eq!(
        w.b.find_all("#payments tbody tr[data-id]")
            .await
            .unwrap()
            .len(),
        4
    );
    w.b.select_value("#f-status", "approved").await.unwrap();
    w.click("#f-search").await;
    w.b.wait_for("#f-status option[value='approved'][selected]", WAIT)
        .await
        .unwrap();
    let rows = w.b.find_all("#payments tbody tr[data-id]").await.unwrap();
    assert_eq!(rows.len(), 2);
    for row in &rows {
        assert_eq!(
            row.attr("data-status").await.unwrap().as_deref(),
            Some("approved")
        );
    }
    w.shot("kredi_karti_tahsilatlari").await;
    w.assert_clean().await;
    w.click("#export-csv").await;
    let csv = w.b.wait_for_download(".csv", WAIT).await.unwrap();
    let lines = rows_of_csv(&csv);
    assert_eq!(
        lines.len(),
        3,
        "header and the two approved rows: {lines:?}"
    );
    assert!(lines[0].starts_with("Tarih;Durum"));
    assert!(lines.iter().any(|l| l.contains("1.234,56")));
    assert!(lines.iter().any(|l| l.contains("75,00")));
    assert!(
        !lines.iter().any(|l| l.contains("10,00")),
        "the declined one is filtered out"
    );
    assert!(!lines.concat().contains(APPROVED_CARD));
    w.click("#export-xlsx").await;
    let xlsx = w.b.wait_for_download(".xlsx", WAIT).await.unwrap();
    use calamine::Reader;
    let mut book: calamine::Xlsx<_> = calamine::open_workbook(&xlsx).unwrap();
    let sheet = book.worksheet_range_at(0).unwrap().unwrap();
    assert_eq!(sheet.height(), 3);
    let cells = format!("{:?}", sheet.rows().collect::<Vec<_>>());
    assert!(cells.contains("454671******7894") && !cells.contains(APPROVED_CARD));
    assert!(cells.contains("SIP-2026-77"));

    // The same day a partial refund is scheduled for after the bank's close, shown with
    // its reason, and withdrawn behind the confirmation box.
    let detail_url = approved_url.trim_end_matches("/result").to_owned();
    w.b.goto(&detail_url).await.unwrap();
    w.b.wait_for("#refund-form", WAIT).await.unwrap();
    w.fill("#refund-amount", "10,00").await;
    w.click("#refund-confirm").await;
    w.click("#refund-submit").await;
    w.b.wait_for_text("İade planlandı", WAIT).await.unwrap();
    let text = w.b.body_text().await.unwrap();
    assert!(
        text.contains("Banka günü kapanınca iade edilecek"),
        "{text}"
    );
    w.shot("refund_scheduled").await;
    w.click(".withdraw-confirm").await;
    w.click(".withdraw-submit").await;
    w.b.wait_for_text("Planlanan iade geri çekildi", WAIT)
        .await
        .unwrap();
    assert!(w.b.find_all(".withdraw-submit").await.unwrap().is_empty());

    // Refund part of the first payment, after the provider's end of day.
    app.end_of_day().await;
    w.b.goto(&detail_url).await.unwrap();
    w.b.wait_for("#refund-form", WAIT).await.unwrap();
    w.fill("#refund-amount", "234,56").await;
    w.click("#refund-confirm").await;
    w.click("#refund-submit").await;
    w.b.wait_for_text("İşlem tamamlandı", WAIT).await.unwrap();
    let status =
        w.b.find("#detail-status")
            .await
            .unwrap()
            .attr("data-status")
            .await
            .unwrap();
    assert_eq!(status.as_deref(), Some("partially_refunded"));
    let refunded =
        w.b.find("#detail-refunded")
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
    assert_eq!(refunded, "234,56 TL");
    w.shot("payment_detail").await;

    // The dashboard with its chart.
    w.goto("/ui/dashboard").await;
    w.b.wait_for("#chart svg", WAIT).await.unwrap();
    w.shot("gosterge_paneli").await;

    // A POS definition: good credentials, then wrong ones.
    w.goto("/ui/pos/new").await;
    w.b.select_value("#pos-bank", "nkolay:nkolay")
        .await
        .unwrap();
    w.click("#pos-bank-next").await;
    w.b.wait_for("#pos-name", WAIT).await.unwrap();
    let m = &app.a.merchant;
    w.fill("#pos-name", "Yedek N Kolay").await;
    w.b.select_value("#pos-environment", "test").await.unwrap();
    w.fill("#pos-base_url", &app.sim.base_url()).await;
    w.fill("#pos-sx", &m.sx).await;
    w.fill("#pos-sx_list", &m.sx_list).await;
    w.fill("#pos-sx_cancel", &m.sx_cancel).await;
    w.fill("#pos-secret_key", &m.secret_key).await;
    w.fill("#pos-installments", "1;1,79;0;1\n3;2,99;2,50;30")
        .await;
    w.b.select_value("#pos-state", "documents").await.unwrap();
    w.click("#pos-save").await;
    w.b.wait_for("#pos-test", WAIT).await.unwrap();
    w.assert_clean().await;
    w.click("#pos-test").await;
    w.b.wait_for_text("Bağlantı başarılı", WAIT).await.unwrap();
    w.shot("sanal_pos_tanimi").await;
    w.fill("#pos-sx", "yanlis-sx").await;
    w.fill("#pos-sx_list", "yanlis-list").await;
    w.fill("#pos-sx_cancel", "yanlis-cancel").await;
    w.fill("#pos-secret_key", "yanlis-key").await;
    w.click("#pos-save").await;
    w.b.wait_for_text("POS tanımı kaydedildi", WAIT)
        .await
        .unwrap();
    w.click("#pos-test").await;
    w.b.wait_for_text("Erişim bilgileri hatalı", WAIT)
        .await
        .unwrap();
    let source = w.b.page_source().await.unwrap();
    assert!(
        !source.contains("yanlis-sx"),
        "a replaced credential is never shown"
    );
    w.goto("/ui/pos").await;
    w.b.wait_for("#pos-list", WAIT).await.unwrap();
    w.shot("sanal_pos_tanimlari").await;
    // The audit log in each language: each event's data as labelled values from that
    // language's catalogue, wrapped, so the log fits the window.
    for (lang, verified, shot) in [
        ("tr", "Denetim zinciri doğrulandı", "denetim_kaydi"),
        ("en", "Audit chain verified", "audit_log_en"),
    ] {
        w.goto(&format!("/ui/lang?l={lang}&back=/ui/admin/audit"))
            .await;
        w.b.wait_for_text(verified, WAIT).await.unwrap();
        w.b.wait_for("#audit-state[data-state='ok']", WAIT)
            .await
            .unwrap();
        w.b.wait_for("#audit-log dl.event-data dt", WAIT)
            .await
            .unwrap();
        let (overflow, _) = page_overflow(w.b).await;
        assert!(
            overflow <= 0,
            "{lang}: the audit log is {overflow} px wider than the window"
        );
        w.shot(shot).await;
    }
    // Back to Turkish, which the rest of the walk reads.
    w.goto("/ui/lang?l=tr&back=/ui/admin/audit").await;
    w.sign_out().await;

    // A collector: refused an admin page, and company B's payment does not exist.
    w.sign_in("collector").await;
    w.goto("/ui/admin/users").await;
    w.b.wait_for_text("Yetkiniz yok", WAIT).await.unwrap();
    w.shot("collector_refused").await;
    w.goto(&format!("/ui/payments/{b_payment}")).await;
    w.b.wait_for_text("Bulunamadı", WAIT).await.unwrap();
    let source = w.b.page_source().await.unwrap();
    assert!(!source.contains("99,00"));
    w.goto("/ui/payments").await;
    w.sign_out().await;
    b.quit().await;
}

/// A bank POS in the back office, as an admin would set it up: İş Bankası chosen first,
/// then its NestPay fields; "test connection" with good credentials, a wrong password
/// and an unreachable bank; then Online Tahsilat on that POS, without and with 3D
/// through the bank's page. Screenshots in Turkish and English under
/// `target/screenshots/bank_pos_walkthrough/`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bank_pos_walkthrough() {
    use sanalpos_simulator::nestpay::{self, NestpayConfig, NestpayMerchant};
    const BANK_TEST: &str = "bank_pos_walkthrough";
    let Some(b) = Browser::start_or_skip(BANK_TEST).await else {
        return;
    };
    let merchant = NestpayMerchant::generate();
    let bank = nestpay::spawn(
        NestpayConfig {
            merchants: vec![merchant.clone()],
            test_mode: true,
            ..NestpayConfig::default()
        },
        tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap(),
    )
    .await
    .unwrap();
    let bank_url = bank.base_url();
    let app = TestApp::spawn(Db::Sqlite, BANK_TEST).await.unwrap();
    seed_users(&app).await;
    let w = Walk { b: &b, app: &app };
    let shot = |page: &'static str| {
        let b = &b;
        async move {
            b.screenshot(&screenshot_path(BANK_TEST, page))
                .await
                .unwrap()
        }
    };
    w.sign_in("admin").await;
    w.b.select_value("#company-select", &app.a.id)
        .await
        .unwrap();
    w.b.wait_for_text("Gösterge Paneli", WAIT).await.unwrap();

    // The bank first, then its own fields.
    w.goto("/ui/pos/new").await;
    w.b.wait_for("#pos-bank", WAIT).await.unwrap();
    shot("banka_secimi").await;
    w.b.select_value("#pos-bank", "nestpay:isbank")
        .await
        .unwrap();
    w.click("#pos-bank-next").await;
    w.b.wait_for("#pos-client_id", WAIT).await.unwrap();
    w.b.wait_for_text("İş Bankası", WAIT).await.unwrap();
    w.fill("#pos-name", "İş Bankası sanal POS").await;
    w.b.select_value("#pos-environment", "simulator")
        .await
        .unwrap();
    w.fill("#pos-api_url", &bank_url).await;
    w.fill("#pos-gate_url", &bank_url).await;
    w.fill("#pos-client_id", &merchant.client_id).await;
    w.fill("#pos-api_user", &merchant.api_user).await;
    w.fill("#pos-api_password", &merchant.api_password).await;
    w.fill("#pos-store_key", &merchant.store_key).await;
    w.b.select_value("#pos-state", "active").await.unwrap();
    shot("nestpay_tanimi").await;
    w.click("#pos-save").await;
    w.b.wait_for("#pos-test", WAIT).await.unwrap();
    let edit_url = w.b.current_url().await.unwrap();
    let source = w.b.page_source().await.unwrap();
    assert!(
        !source.contains(&merchant.api_password),
        "a secret is shown"
    );
    assert!(!source.contains(&merchant.store_key), "a secret is shown");

    // Good credentials.
    w.click("#pos-test").await;
    w.b.wait_for_text("Bağlantı başarılı", WAIT).await.unwrap();
    shot("nestpay_baglanti_basarili").await;
    // A wrong password (the other secret, left empty, is kept).
    w.fill("#pos-api_password", "yanlis-sifre").await;
    w.click("#pos-save").await;
    w.b.wait_for_text("POS tanımı kaydedildi", WAIT)
        .await
        .unwrap();
    w.click("#pos-test").await;
    w.b.wait_for_text("Erişim bilgileri hatalı", WAIT)
        .await
        .unwrap();
    assert!(!w.b.page_source().await.unwrap().contains("yanlis-sifre"));
    // An unreachable bank.
    w.fill("#pos-api_password", &merchant.api_password).await;
    w.fill("#pos-api_url", "http://127.0.0.1:9").await;
    w.click("#pos-save").await;
    w.b.wait_for_text("POS tanımı kaydedildi", WAIT)
        .await
        .unwrap();
    w.click("#pos-test").await;
    w.b.wait_for_text("Sağlayıcıya ulaşılamıyor", WAIT)
        .await
        .unwrap();
    // Back to the bank, and the same page in English.
    w.fill("#pos-api_url", &bank_url).await;
    w.click("#pos-save").await;
    w.b.wait_for_text("POS tanımı kaydedildi", WAIT)
        .await
        .unwrap();
    let path = edit_url
        .split_once("/ui/")
        .map(|(_, p)| format!("/ui/{p}"))
        .unwrap();
    w.goto(&format!("/ui/lang?l=en&back={path}")).await;
    w.b.wait_for_text("Connection and credentials", WAIT)
        .await
        .unwrap();
    shot("nestpay_definition_en").await;
    w.goto(&format!("/ui/lang?l=tr&back={path}")).await;
    w.b.wait_for_text("Bağlantı ve erişim bilgileri", WAIT)
        .await
        .unwrap();
    let pos_id = path.trim_start_matches("/ui/pos/").to_owned();

    // Online Tahsilat on the bank POS: non-3D, then 3D through the bank's page.
    w.collect(APPROVED_CARD, "250,00", "1", false).await;
    w.b.select_value("#pos_id", &pos_id).await.unwrap();
    w.click("#collect-submit").await;
    assert_eq!(w.result_status().await, "approved");
    for (code, expected) in [("123456", "approved"), ("000000", "declined")] {
        w.collect(APPROVED_CARD, "75,00", "1", true).await;
        w.b.select_value("#pos_id", &pos_id).await.unwrap();
        w.click("#collect-submit").await;
        let input = w.b.wait_for("#code", WAIT).await.unwrap();
        if code == "123456" {
            shot("isbank_3d_sayfasi").await;
        }
        input.send_keys(code).await.unwrap();
        w.click("#submit").await;
        assert_eq!(w.result_status().await, expected, "3D with {code}");
    }
    shot("nestpay_tahsilat_sonucu").await;
    w.assert_clean().await;
    let ledger = bank.transactions(&merchant.client_id).unwrap();
    let approved = ledger
        .iter()
        .filter(|t| {
            t.status == nestpay::TxStatus::Approved && matches!(t.kind, nestpay::TxType::Auth)
        })
        .count();
    assert_eq!(approved, 2, "{ledger:?}");
    bank.shutdown().await;
    b.quit().await;
}

const WIDTH_TEST: &str = "collect_currency_and_audit_width";

/// Issue 13, items 2 and 4 in a browser: Online Tahsilat opens on lira even when the POS
/// takes dollars too, and the payment page's audit events wrap inside the window (no
/// horizontal scrolling). Screenshots under `target/screenshots/{WIDTH_TEST}/`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn collect_currency_and_audit_width() {
    let Some(b) = Browser::start_or_skip(WIDTH_TEST).await else {
        return;
    };
    let app = TestApp::spawn(Db::Sqlite, WIDTH_TEST).await.unwrap();
    seed_users(&app).await;
    app.service
        .update_pos(
            &app.a.id,
            &app.a.pos_id,
            sanalpos_service::PosChange {
                currencies: Some(vec![
                    sanalpos_core::Currency::Usd,
                    sanalpos_core::Currency::Eur,
                    sanalpos_core::Currency::Try,
                ]),
                ..Default::default()
            },
            "test",
        )
        .await
        .unwrap();
    let w = Walk { b: &b, app: &app };
    let shot = |page: &'static str| {
        let b = &b;
        async move {
            b.screenshot(&screenshot_path(WIDTH_TEST, page))
                .await
                .unwrap();
        }
    };
    w.sign_in("collector").await;
    w.collect(APPROVED_CARD, "1.250,00", "1", false).await;
    let chosen = b
        .find("#currency")
        .await
        .unwrap()
        .prop("value")
        .await
        .unwrap();
    assert_eq!(chosen.as_deref(), Some("TRY"));
    let unit = b
        .find("#amount-currency")
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(unit, "TRY");
    shot("01-collect-form-try").await;
    w.click("#collect-submit").await;
    assert_eq!(w.result_status().await, "approved");
    let amount = b
        .find("#result-amount")
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(amount, "1.250,00 TL");
    shot("02-result").await;

    w.click("#see-detail").await;
    b.wait_for("#audit", WAIT).await.unwrap();
    let audit = b.find("#audit").await.unwrap().text().await.unwrap();
    assert!(
        audit.contains("1.250,00 TL") && !audit.contains('{'),
        "{audit}"
    );
    let fits = b
        .execute(
            "return [document.documentElement.scrollWidth, window.innerWidth];",
            vec![],
        )
        .await
        .unwrap();
    let scroll = fits[0].as_i64().unwrap();
    let inner = fits[1].as_i64().unwrap();
    assert!(
        scroll <= inner,
        "the page is {scroll} px wide in a {inner} px window"
    );
    b.execute("document.getElementById('audit').scrollIntoView();", vec![])
        .await
        .unwrap();
    shot("03-payment-audit").await;
    b.quit().await;
}

const ISSUE13: &str = "issue13";

/// A step's screenshot under `target/screenshots/issue13/`, checked to be a PNG.
async fn issue13_shot(b: &Browser, step: &str) -> std::path::PathBuf {
    let path = screenshot_path(ISSUE13, step);
    b.screenshot(&path).await.unwrap();
    let bytes = std::fs::read(&path).unwrap();
    assert!(
        bytes.starts_with(b"\x89PNG\r\n\x1a\n") && bytes.len() > 1000,
        "{} is not a PNG screenshot",
        path.display()
    );
    path
}

/// How much wider than the window the page is (0 or less when it fits), with the
/// window's width.
async fn page_overflow(b: &Browser) -> (i64, i64) {
    let fits = b
        .execute(
            "const d = document.documentElement; \
             return [Math.max(d.scrollWidth, document.body.scrollWidth) - d.clientWidth, window.innerWidth];",
            vec![],
        )
        .await
        .unwrap();
    (fits[0].as_i64().unwrap(), fits[1].as_i64().unwrap())
}

/// The company the header's switcher shows as current: its id and name.
async fn current_company(b: &Browser) -> (String, String) {
    let value = b
        .execute(
            "const s = document.getElementById('company-select'); \
             return [s.value, s.options[s.selectedIndex].text];",
            vec![],
        )
        .await
        .unwrap();
    (
        value[0].as_str().unwrap().to_owned(),
        value[1].as_str().unwrap().to_owned(),
    )
}

/// Issue 13, items 2, 3 and 4 walked as a person: an admin of two companies lands on
/// the first by name, switches, signs out and in and lands on the last one; Online
/// Tahsilat opens on the company's currency and shows it beside the amount and in the
/// result; the payment page's audit events are labelled values that fit a 1366 px
/// window, in Turkish and in English. A screenshot of every step goes under
/// `target/screenshots/issue13/`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue13_walkthrough() {
    let Some(b) = Browser::start_or_skip(ISSUE13).await else {
        return;
    };
    let app = TestApp::spawn(Db::Sqlite, ISSUE13).await.unwrap();
    seed_users(&app).await;
    // A second company whose name sorts before company A's ("Şirket 0"), created after
    // it: landing on it first is landing on the first by name.
    let anadolu = app
        .service
        .create_company("Anadolu Ticaret A.Ş.", "test")
        .await
        .unwrap();
    app.service
        .create_user(
            "yonetici",
            PASSWORD,
            sanalpos_service::Role::Admin,
            &[app.a.id.clone(), anadolu.id.clone()],
            "test",
        )
        .await
        .unwrap();
    // Company A's POS takes dollars and euros too, listed before lira.
    app.service
        .update_pos(
            &app.a.id,
            &app.a.pos_id,
            sanalpos_service::PosChange {
                currencies: Some(vec![
                    sanalpos_core::Currency::Usd,
                    sanalpos_core::Currency::Eur,
                    sanalpos_core::Currency::Try,
                ]),
                ..Default::default()
            },
            "test",
        )
        .await
        .unwrap();
    let w = Walk { b: &b, app: &app };
    let mut shots = Vec::new();

    // Item 3: the first sign-in lands on the first company by name.
    w.sign_in("yonetici").await;
    let (id, name) = current_company(&b).await;
    assert_eq!(
        (id.as_str(), name.as_str()),
        (anadolu.id.as_str(), "Anadolu Ticaret A.Ş.")
    );
    // The dashboard's chart keeps every day's label inside itself.
    let labels_inside = b
        .execute(
            "const svg = document.querySelector('#chart svg'); \
             const right = svg.getBoundingClientRect().right; \
             return Array.from(svg.querySelectorAll('text')) \
               .every(t => t.getBoundingClientRect().right <= right + 0.5);",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(labels_inside, serde_json::json!(true));
    shots.push(issue13_shot(&b, "01-first-sign-in-first-company-by-name").await);

    // Switch to company A (the switcher sends itself on change).
    b.select_value("#company-select", &app.a.id).await.unwrap();
    b.wait_for(
        &format!("#company-select option[value='{}'][selected]", app.a.id),
        WAIT,
    )
    .await
    .unwrap();
    assert_eq!(current_company(&b).await.0, app.a.id);
    shots.push(issue13_shot(&b, "02-switched-company").await);

    // Signing out and in again lands on the last company used.
    w.sign_out().await;
    w.sign_in("yonetici").await;
    let (id, name) = current_company(&b).await;
    assert_eq!(id, app.a.id, "{name}");
    shots.push(issue13_shot(&b, "03-second-sign-in-last-company").await);

    // Item 2: Online Tahsilat, from the menu, opens on the company's currency (lira),
    // shown beside the amount.
    w.click("nav.menu a[href='/ui/collect']").await;
    b.wait_for("#collect-form", WAIT).await.unwrap();
    let offered = b
        .execute(
            "return Array.from(document.querySelectorAll('#currency option')).map(o => o.value);",
            vec![],
        )
        .await
        .unwrap();
    let offered: Vec<&str> = offered
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|v| v.as_str())
        .collect();
    assert_eq!(offered.len(), 3, "{offered:?}");
    assert!(["USD", "EUR", "TRY"].iter().all(|c| offered.contains(c)));
    // Lira is not simply the first option: it is chosen because it is the company's.
    assert_ne!(offered[0], "TRY", "{offered:?}");
    w.collect(APPROVED_CARD, "1.250,00", "1", false).await;
    let chosen = b
        .find("#currency")
        .await
        .unwrap()
        .prop("value")
        .await
        .unwrap();
    assert_eq!(chosen.as_deref(), Some("TRY"));
    let unit = b
        .find("#amount-currency")
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(unit, "TRY");
    // Beside the amount, not under it.
    let beside = b
        .execute(
            "const a = document.getElementById('amount').getBoundingClientRect(); \
             const u = document.getElementById('amount-currency').getBoundingClientRect(); \
             return u.left >= a.right && u.top < a.bottom && u.bottom > a.top;",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(beside, serde_json::json!(true));
    shots.push(issue13_shot(&b, "04-collect-form-company-currency").await);
    w.click("#collect-submit").await;
    assert_eq!(w.result_status().await, "approved");
    let amount = b.find("#result-amount").await.unwrap();
    assert_eq!(amount.text().await.unwrap(), "1.250,00 TL");
    assert_eq!(
        amount.attr("data-currency").await.unwrap().as_deref(),
        Some("TRY")
    );
    shots.push(issue13_shot(&b, "05-result-amount-with-currency").await);

    // Item 4: the payment page's audit events as labelled values, in the page's
    // language, and no page wider than the window.
    w.click("#see-detail").await;
    b.wait_for("#audit", WAIT).await.unwrap();
    let payment_url = b.current_url().await.unwrap();
    let pos_name = app
        .service
        .get_pos(&app.a.id, &app.a.pos_id)
        .await
        .unwrap()
        .name;
    for (lang, amount_text, label, approved, step) in [
        (
            "tr",
            "1.250,00 TL",
            "Tutar",
            "Onaylandı",
            "06-payment-audit-tr",
        ),
        (
            "en",
            "TRY 1,250.00",
            "Amount",
            "Approved",
            "07-payment-audit-en",
        ),
    ] {
        if lang == "en" {
            w.goto("/ui/lang?l=en").await;
            b.goto(&payment_url).await.unwrap();
            b.wait_for_text("Audit", WAIT).await.unwrap();
        }
        let audit = b.find("#audit").await.unwrap().text().await.unwrap();
        assert!(audit.contains(amount_text), "{lang}: {audit}");
        assert!(
            !audit.contains('{') && !audit.contains("\":"),
            "{lang}: {audit}"
        );
        // The POS by its name, as the page's own POS line shows it.
        assert!(
            audit.contains(&pos_name) && !audit.contains(&app.a.pos_id),
            "{lang}: {audit}"
        );
        // The provider call's reason in the page's language, not the provider's word.
        let reason = b
            .find("#attempts td.attempt-reason")
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert_eq!(reason, approved, "{lang}");
        let labels = b
            .execute(
                "return Array.from(document.querySelectorAll('#audit dl.event-data dt')).map(d => d.textContent);",
                vec![],
            )
            .await
            .unwrap();
        let labels: Vec<&str> = labels
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|v| v.as_str())
            .collect();
        assert!(labels.contains(&label), "{lang}: {labels:?}");
        let (overflow, inner) = page_overflow(&b).await;
        assert!(inner >= 1300, "the window is 1366 px wide, not {inner}");
        assert!(
            overflow <= 0,
            "{lang}: the page is {overflow} px wider than the window"
        );
        let scroll = b
            .execute("return document.documentElement.scrollWidth;", vec![])
            .await
            .unwrap();
        assert!(scroll.as_i64().unwrap() <= 1366, "{lang}: {scroll}");
        b.execute("document.getElementById('audit').scrollIntoView();", vec![])
            .await
            .unwrap();
        shots.push(issue13_shot(&b, step).await);
    }
    for path in &shots {
        let size = std::fs::metadata(path).unwrap().len();
        assert!(size > 1000, "{}: {size} bytes", path.display());
        println!("screenshot: {}", path.display());
    }
    b.quit().await;
}

const LINKS_WIDTH_TEST: &str = "payment_links_fit_the_window";

/// Issue 13, item 6 in a browser: the payment-link list (filters, descriptions, paging)
/// and a link's page with its e-mail form fit a 1366 px window in Turkish and English.
/// Screenshots under `target/screenshots/{LINKS_WIDTH_TEST}/`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn payment_links_fit_the_window() {
    let Some(b) = Browser::start_or_skip(LINKS_WIDTH_TEST).await else {
        return;
    };
    let app = TestApp::spawn(Db::Sqlite, LINKS_WIDTH_TEST).await.unwrap();
    seed_users(&app).await;
    let mut first = String::new();
    for i in 0..55 {
        let (status, body) = app
            .post(
                &app.a,
                "/api/v1/checkout-sessions",
                Some(serde_json::json!({
                    "purpose": "account",
                    "min_amount": "1000.00",
                    "max_amount": "1250000.00",
                    "customer_ref": format!("CARI-UZUN-HESAP-KODU-{i:04}"),
                    "description": format!("{i}. taksit: Kasım ayı cari hesap ekstresi ve gecikmiş faturaların toplu ödemesi için bağlantı"),
                })),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        if i == 54 {
            first = body["id"].as_str().unwrap().to_owned();
        }
    }
    let w = Walk { b: &b, app: &app };
    w.sign_in("collector").await;
    // The page must not scroll sideways, and no table may hide columns behind its own
    // scroll bar either.
    let fits = || async {
        let sizes = b
            .execute(
                "return [document.documentElement.scrollWidth, window.innerWidth,
                    Math.max(0, ...Array.from(document.querySelectorAll('.table-wrap'))
                        .map(w => w.scrollWidth - w.clientWidth))];",
                vec![],
            )
            .await
            .unwrap();
        let (scroll, inner) = (sizes[0].as_i64().unwrap(), sizes[1].as_i64().unwrap());
        assert!(
            scroll <= inner,
            "the page is {scroll} px wide in a {inner} px window"
        );
        let hidden = sizes[2].as_i64().unwrap();
        assert!(
            hidden <= 0,
            "a table hides {hidden} px behind its scroll bar"
        );
    };
    for (lang, label) in [
        ("tr", "Ara (cari, sipariş, açıklama)"),
        ("en", "Search (customer, order, description)"),
    ] {
        w.goto(&format!("/ui/lang?l={lang}")).await;
        w.goto("/ui/links").await;
        b.wait_for("#links", WAIT).await.unwrap();
        assert!(b.body_text().await.unwrap().contains(label));
        assert!(b.find("#next-page").await.is_ok(), "a next page");
        fits().await;
        b.screenshot(&screenshot_path(LINKS_WIDTH_TEST, &format!("list-{lang}")))
            .await
            .unwrap();
        w.goto(&format!("/ui/links/{first}")).await;
        b.wait_for("#link-send", WAIT).await.unwrap();
        fits().await;
        b.screenshot(&screenshot_path(LINKS_WIDTH_TEST, &format!("link-{lang}")))
            .await
            .unwrap();
    }
    b.quit().await;
}

const LOCKED_LINK_TEST: &str = "locked_link_reopened";

/// A payment link locked after its unsuccessful attempts, as its customer sees it (no
/// card form, the seller's contact asked for), counted on the dashboard and found by
/// the payment list's "blocked" filter; then the accountant reopens it behind the
/// confirmation box and the page takes cards again. Screenshots under
/// `target/screenshots/locked_link_reopened/`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn locked_link_reopened() {
    let Some(b) = Browser::start_or_skip(LOCKED_LINK_TEST).await else {
        return;
    };
    let app = TestApp::spawn_with(Db::Sqlite, LOCKED_LINK_TEST, |c| {
        c.abuse.session_failures = 2;
    })
    .await
    .unwrap();
    seed_users(&app).await;
    let (status, link) = app
        .post(
            &app.a,
            "/api/v1/checkout-sessions",
            Some(serde_json::json!({
                "purpose": "account",
                "max_amount": "900.00",
                "customer_ref": "CARI-KILIT",
                "language": "tr",
            })),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{link}");
    let id = link["id"].as_str().unwrap().to_owned();
    let submit = |pan: &'static str| {
        let app = &app;
        let id = id.clone();
        async move {
            let fields = [
                ("card_number", pan),
                ("holder", "Deneme Kişi"),
                ("exp_month", "12"),
                ("exp_year", "2030"),
                ("cvv", "123"),
                ("installments", "1"),
                ("amount", "15,00"),
            ];
            app.http
                .post(app.url(&format!("/pay/{id}")))
                .form(&fields)
                .send()
                .await
                .unwrap()
        }
    };
    // Two attempts the issuer refuses use up the link's allowance.
    for _ in 0..2 {
        let to_3d = submit(NO_FUNDS_CARD).await.headers()["location"]
            .to_str()
            .unwrap()
            .to_owned();
        app.walk_3d(&to_3d, "123456").await;
    }
    // The third is refused here, never sent.
    let refused = submit(APPROVED_CARD).await;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    let calls = app
        .sim
        .transactions(&app.a.merchant.merchant_no)
        .unwrap()
        .len();
    assert_eq!(calls, 2);

    // The customer's page.
    b.goto(&app.url(&format!("/pay/{id}"))).await.unwrap();
    let text = b.body_text().await.unwrap();
    assert!(
        text.contains("Çok sayıda başarısız deneme; lütfen satıcıyla iletişime geçin."),
        "{text}"
    );
    assert!(b.find("#pay").await.is_err(), "a locked page asks no card");
    b.screenshot(&screenshot_path(LOCKED_LINK_TEST, "locked-page"))
        .await
        .unwrap();

    let w = Walk { b: &b, app: &app };
    w.sign_in("accountant").await;
    for (lang, label) in [
        ("tr", "Bugün engellenen denemeler"),
        ("en", "Blocked attempts today"),
    ] {
        w.goto(&format!("/ui/lang?l={lang}")).await;
        w.goto("/ui").await;
        let count = b.wait_for("#blocked-today", WAIT).await.unwrap();
        assert_eq!(count.text().await.unwrap().trim(), "1");
        assert!(b.body_text().await.unwrap().contains(label));
    }
    w.click("#blocked-today a").await;
    b.wait_for("#payments", WAIT).await.unwrap();
    let rows = b.find_all("#payments tbody tr[data-status]").await.unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(
        rows[0].attr("data-status").await.unwrap().as_deref(),
        Some("blocked")
    );
    w.shot("blocked-list").await;

    // The link's page: locked, with the reopen button behind its confirmation.
    w.goto(&format!("/ui/links/{id}")).await;
    b.wait_for("#link-locked", WAIT).await.unwrap();
    assert!(b
        .body_text()
        .await
        .unwrap()
        .contains("Locked: too many unsuccessful attempts"));
    b.screenshot(&screenshot_path(LOCKED_LINK_TEST, "link-locked"))
        .await
        .unwrap();
    w.click("#reopen-submit").await;
    b.wait_for("#reopen-confirm", WAIT).await.unwrap();
    assert!(b
        .body_text()
        .await
        .unwrap()
        .contains("Tick the box to confirm the operation."));
    let (_, still) = app
        .get(&app.a, &format!("/api/v1/checkout-sessions/{id}"))
        .await;
    assert_eq!(still["status"], "locked");
    w.click("#reopen-confirm").await;
    w.click("#reopen-submit").await;
    b.wait_for("#link-url", WAIT).await.unwrap();
    assert!(b
        .body_text()
        .await
        .unwrap()
        .contains("The link was reopened."));
    assert!(b.find("#link-locked").await.is_err());
    b.screenshot(&screenshot_path(LOCKED_LINK_TEST, "link-reopened"))
        .await
        .unwrap();
    let audit = app.store.list_audit(&app.a.id, 100).await.unwrap();
    assert!(audit
        .iter()
        .any(|e| e.kind == "checkout_session.reopened" && e.actor.contains("accountant")));

    // The customer's page takes a card again.
    b.goto(&app.url(&format!("/pay/{id}"))).await.unwrap();
    b.wait_for("#pay", WAIT).await.unwrap();
    b.quit().await;
}

/// A Garanti BBVA POS set up in the back office from the registry's description alone:
/// the bank chosen first, its GVP fields, "test connection" against the Garanti
/// simulator, and the same page in English; both fit a 1366 px window. Screenshots under
/// `target/screenshots/garanti_pos_form/`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garanti_pos_form() {
    use sanalpos_simulator::garanti::{self, GarantiConfig, GarantiMerchant};
    const TEST: &str = "garanti_pos_form";
    let Some(b) = Browser::start_or_skip(TEST).await else {
        return;
    };
    let merchant = GarantiMerchant::generate();
    let bank = garanti::spawn(
        GarantiConfig {
            merchants: vec![merchant.clone()],
            test_mode: true,
            ..GarantiConfig::default()
        },
        tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap(),
    )
    .await
    .unwrap();
    let bank_url = bank.base_url();
    let app = TestApp::spawn(Db::Sqlite, TEST).await.unwrap();
    seed_users(&app).await;
    let w = Walk { b: &b, app: &app };
    w.sign_in("admin").await;
    w.b.select_value("#company-select", &app.a.id)
        .await
        .unwrap();
    w.b.wait_for_text("Gösterge Paneli", WAIT).await.unwrap();

    w.goto("/ui/pos/new").await;
    w.b.wait_for("#pos-bank", WAIT).await.unwrap();
    w.b.select_value("#pos-bank", "garanti:garanti")
        .await
        .unwrap();
    w.click("#pos-bank-next").await;
    w.b.wait_for("#pos-terminal_id", WAIT).await.unwrap();
    w.fill("#pos-name", "Garanti BBVA sanal POS").await;
    w.b.select_value("#pos-environment", "simulator")
        .await
        .unwrap();
    w.fill("#pos-api_url", &bank_url).await;
    w.fill("#pos-gate_url", &bank_url).await;
    w.fill("#pos-merchant_id", &merchant.merchant_id).await;
    w.fill("#pos-terminal_id", &merchant.terminal_id).await;
    w.fill("#pos-prov_user", &merchant.prov_user).await;
    w.fill("#pos-prov_password", &merchant.prov_password).await;
    w.fill("#pos-refund_user", &merchant.refund_user).await;
    w.fill("#pos-refund_password", &merchant.refund_password)
        .await;
    w.fill("#pos-store_key", &merchant.store_key).await;
    w.b.select_value("#pos-state", "active").await.unwrap();
    b.screenshot(&screenshot_path(TEST, "garanti_tanimi"))
        .await
        .unwrap();
    w.click("#pos-save").await;
    w.b.wait_for("#pos-test", WAIT).await.unwrap();
    let source = w.b.page_source().await.unwrap();
    assert!(
        !source.contains(&merchant.prov_password),
        "a secret is shown"
    );
    assert!(!source.contains(&merchant.store_key), "a secret is shown");
    w.click("#pos-test").await;
    w.b.wait_for_text("Bağlantı başarılı", WAIT).await.unwrap();
    let (over, width) = page_overflow(&b).await;
    assert!(
        over <= 0,
        "the page is {over} px too wide in a {width} px window"
    );
    b.screenshot(&screenshot_path(TEST, "garanti_baglanti_basarili"))
        .await
        .unwrap();

    let url = w.b.current_url().await.unwrap();
    let path = url
        .split_once("/ui/")
        .map(|(_, p)| format!("/ui/{}", p.trim_end_matches("/test")))
        .unwrap();
    w.goto(&format!("/ui/lang?l=en&back={path}")).await;
    w.b.wait_for_text("Connection and credentials", WAIT)
        .await
        .unwrap();
    w.b.wait_for_text("Garanti BBVA", WAIT).await.unwrap();
    let (over, width) = page_overflow(&b).await;
    assert!(
        over <= 0,
        "the page is {over} px too wide in a {width} px window"
    );
    b.screenshot(&screenshot_path(TEST, "garanti_definition_en"))
        .await
        .unwrap();
    w.goto(&format!("/ui/lang?l=tr&back={path}")).await;
    b.quit().await;
}

const PRE_AUTH_TEST: &str = "pre_auth_back_office";

/// A provizyon taken on "Online Tahsilat" by a collector, then captured in part from
/// the payment page by an accountant, behind the confirmation, in Turkish and in
/// English at 1366 px; the list filters what is still held. Screenshots under
/// `target/screenshots/pre_auth_back_office/`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pre_auth_back_office() {
    let Some(b) = Browser::start_or_skip(PRE_AUTH_TEST).await else {
        return;
    };
    let app = TestApp::spawn(Db::Sqlite, PRE_AUTH_TEST).await.unwrap();
    seed_users(&app).await;
    let w = Walk { b: &b, app: &app };
    let shot = |page: &'static str| {
        let b = &b;
        async move {
            b.screenshot(&screenshot_path(PRE_AUTH_TEST, page))
                .await
                .unwrap();
        }
    };
    let fits = || async {
        let sizes = b
            .execute(
                "return [document.documentElement.scrollWidth, window.innerWidth];",
                vec![],
            )
            .await
            .unwrap();
        let (scroll, inner) = (sizes[0].as_i64().unwrap(), sizes[1].as_i64().unwrap());
        assert!(scroll <= inner, "{scroll} px wide in a {inner} px window");
    };

    w.sign_in("collector").await;
    w.collect(APPROVED_CARD, "1.000,00", "1", false).await;
    w.click("#pre_auth").await;
    shot("01-collect-pre-auth").await;
    w.click("#collect-submit").await;
    assert_eq!(w.result_status().await, "authorized");
    let headline = b
        .find("#result-headline")
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(headline.starts_with("Provizyon alındı"), "{headline}");
    w.click("#see-detail").await;
    b.wait_for("#payment-detail", WAIT).await.unwrap();
    let id = b.find("#payment-id").await.unwrap().text().await.unwrap();
    // A collector takes payments; capturing is for those who may take money back.
    assert!(b.find("#capture-form").await.is_err());
    w.assert_clean().await;
    w.sign_out().await;

    w.sign_in("accountant").await;
    w.goto("/ui/payments?status=authorized").await;
    b.wait_for("#filters", WAIT).await.unwrap();
    let listed = b.page_source().await.unwrap();
    assert!(listed.contains(&id), "the held payment is not in the list");
    fits().await;
    shot("02-list-authorized").await;
    // A day before the hold ends, the dashboard and the payment page warn.
    app.store
        .execute_for_test(
            "UPDATE payments SET hold_until = $1 WHERE id = $2",
            &[
                sanalpos_store::testing::TestParam::Int(now_secs() * 1000 + 3_600_000),
                sanalpos_store::testing::TestParam::Text(&id),
            ],
        )
        .await;
    w.goto("/ui/dashboard").await;
    let warning = b
        .wait_for("#holds-ending", WAIT)
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(warning.starts_with("1 provizyon"), "{warning}");
    fits().await;
    shot("02b-dashboard-hold-warning").await;
    w.goto(&format!("/ui/payments/{id}")).await;
    b.wait_for("#capture-form", WAIT).await.unwrap();
    b.find("#hold-warning").await.unwrap();
    let held = b.find("#detail-held").await.unwrap().text().await.unwrap();
    assert_eq!(held, "1.000,00 TL");
    fits().await;
    shot("03-detail-tr").await;
    // Without the confirmation nothing happens.
    w.fill("#capture-amount", "600,00").await;
    w.click("#capture-submit").await;
    b.wait_for("#form-error, .notice.error", WAIT)
        .await
        .unwrap();
    let status = b.find("#detail-status").await.unwrap();
    assert_eq!(
        status.attr("data-status").await.unwrap().as_deref(),
        Some("authorized")
    );
    w.fill("#capture-amount", "600,00").await;
    w.click("#capture-confirm").await;
    w.click("#capture-submit").await;
    b.wait_for("#detail-status[data-status='approved']", WAIT)
        .await
        .unwrap();
    let amount = b
        .find("#detail-amount")
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(amount, "600,00 TL");
    shot("04-captured-tr").await;
    w.goto(&format!("/ui/lang?l=en&back=/ui/payments/{id}"))
        .await;
    b.wait_for("#payment-detail", WAIT).await.unwrap();
    let page = b.page_source().await.unwrap();
    assert!(page.contains("Amount held"), "no English label");
    fits().await;
    shot("05-captured-en").await;
    w.goto("/ui/lang?l=tr&back=/ui/payments").await;
    let captures: Vec<_> = app
        .sim
        .transactions(&app.a.merchant.merchant_no)
        .unwrap()
        .into_iter()
        .filter(|t| t.kind == sanalpos_simulator::TxKind::PreSalesCapture)
        .map(|t| t.amount.to_string())
        .collect();
    assert_eq!(captures, ["600.00"]);
    b.quit().await;
}

const STORED_CARD_TEST: &str = "stored_card_back_office";

/// "Online Tahsilat" with a customer's stored card: the customer's cards listed by
/// their mask and name, one chosen, paid without typing the card (the provider charges
/// its vault's card); in Turkish and English at 1366 px. Screenshots under
/// `target/screenshots/stored_card_back_office/`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stored_card_back_office() {
    let Some(b) = Browser::start_or_skip(STORED_CARD_TEST).await else {
        return;
    };
    let app = TestApp::spawn(Db::Sqlite, STORED_CARD_TEST).await.unwrap();
    seed_users(&app).await;
    let stored = app
        .service
        .register_stored_card(
            &sanalpos_service::Actor {
                company_id: app.a.id.clone(),
                name: "api:test".into(),
            },
            "CARI-77",
            sanalpos_service::RegisterCard {
                card: sanalpos_service::CardInput {
                    number: APPROVED_CARD.into(),
                    expiry_month: "12".into(),
                    expiry_year: "2030".into(),
                    cvv: "000".into(),
                    holder: "Ayşe Yılmaz".into(),
                },
                alias: Some("İş kartım".into()),
                pos_id: None,
            },
        )
        .await
        .unwrap();
    let w = Walk { b: &b, app: &app };
    w.sign_in("collector").await;
    w.goto("/ui/collect").await;
    w.fill("#lookup_customer_ref", "CARI-77").await;
    w.click("#lookup-cards").await;
    b.wait_for("#stored-cards", WAIT).await.unwrap();
    let listed = b.find("#stored-cards").await.unwrap().text().await.unwrap();
    assert!(
        listed.contains("454671******7894") && listed.contains("İş kartım"),
        "{listed}"
    );
    b.screenshot(&screenshot_path(STORED_CARD_TEST, "01-stored-cards-tr"))
        .await
        .unwrap();
    b.find(&format!("input.stored-card[value='{}']", stored.id))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    w.fill("#amount", "42,50").await;
    w.click("#collect-submit").await;
    assert_eq!(w.result_status().await, "approved");
    w.assert_clean().await;
    let charged = app.charged(&app.a);
    assert_eq!(charged.len(), 1);
    assert_eq!(charged[0].amount.to_string(), "42.50");
    w.goto("/ui/lang?l=en&back=/ui/collect?customer_ref=CARI-77")
        .await;
    b.wait_for("#stored-cards", WAIT).await.unwrap();
    let legend = b
        .find("#stored-cards legend")
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(legend, "Stored cards");
    let sizes = b
        .execute(
            "return [document.documentElement.scrollWidth, window.innerWidth];",
            vec![],
        )
        .await
        .unwrap();
    assert!(sizes[0].as_i64().unwrap() <= sizes[1].as_i64().unwrap());
    b.screenshot(&screenshot_path(STORED_CARD_TEST, "02-stored-cards-en"))
        .await
        .unwrap();
    w.goto("/ui/lang?l=tr&back=/ui/collect").await;

    // The hosted page of a session that offers stored cards, in each language.
    for lang in ["tr", "en"] {
        let (status, created) = app
            .post(
                &app.a,
                "/api/v1/checkout-sessions",
                Some(serde_json::json!({
                    "purpose": "order", "amount": "99.90", "order_ref": "SIP-9",
                    "customer_ref": "CARI-77", "return_url": "https://shop.example/r",
                    "language": lang, "stored_cards": true,
                })),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{created}");
        b.goto(created["url"].as_str().unwrap()).await.unwrap();
        let saved = b
            .wait_for("#saved-cards", WAIT)
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(saved.contains("İş kartım"), "{saved}");
        b.find("#save_card").await.unwrap();
        let sizes = b
            .execute(
                "return [document.documentElement.scrollWidth, window.innerWidth];",
                vec![],
            )
            .await
            .unwrap();
        assert!(sizes[0].as_i64().unwrap() <= sizes[1].as_i64().unwrap());
        let shot = if lang == "tr" {
            "03-hosted-tr"
        } else {
            "04-hosted-en"
        };
        b.screenshot(&screenshot_path(STORED_CARD_TEST, shot))
            .await
            .unwrap();
    }
    // Deleted from Online Tahsilat, behind the confirmation: at the provider first.
    w.goto("/ui/collect?customer_ref=CARI-77").await;
    b.wait_for("#card-list", WAIT).await.unwrap();
    b.find(".card-delete-confirm")
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    b.find(".card-delete-submit")
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let note = b
        .wait_for("#card-notice", WAIT)
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(note.contains("silindi"), "{note}");
    assert!(b.find("#stored-cards").await.is_err());
    b.screenshot(&screenshot_path(STORED_CARD_TEST, "05-deleted-tr"))
        .await
        .unwrap();
    let left = app
        .service
        .list_stored_cards(&app.a.id, "CARI-77")
        .await
        .unwrap();
    assert!(left.is_empty(), "{left:?}");
    b.quit().await;
}
