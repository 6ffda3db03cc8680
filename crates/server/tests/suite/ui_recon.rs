//! The reconciliation pages of the back office over plain HTTP, on SQLite and
//! PostgreSQL: a pull run listed with its counts, a statement upload with a malformed
//! row refused line by line, a panel sale entered by hand and matched on the next run,
//! force-match and dismiss audited, the CSV and XLSX export read back, and the refusals
//! (collector, another company, a form without its CSRF token).

#![allow(clippy::unwrap_used)]

use crate::helpers::ui::*;
use crate::helpers::*;
use reqwest::StatusCode;
use serde_json::{json, Value};

const CARD_A: &str = "4546711234567894";
const CARD_B: &str = "5200190006338608";

fn today() -> String {
    sanalpos_service::istanbul_today().to_string()
}

/// Pays through the API and asserts the payment was approved; returns its id.
async fn approved(app: &TestApp, pan: &str, amount: &str) -> String {
    let (status, body) = app.pay(&app.a, &key(), &payment(pan, amount)).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["status"], "approved", "{body}");
    body["id"].as_str().unwrap().to_owned()
}

/// A sale made on the provider's panel, which sanalpos never saw.
async fn panel_sale(app: &TestApp, amount: &str, card: &str) -> Value {
    let response = app
        .http
        .post(format!(
            "{}/_sim/merchants/{}/panel-sales",
            app.sim.base_url(),
            app.a.merchant.merchant_no
        ))
        .header("Content-Type", "application/json")
        .body(json!({"amount": amount, "card": card}).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    serde_json::from_str(&response.text().await.unwrap()).unwrap()
}

/// The simulator's statement of today for company A (UTF-8).
async fn statement(app: &TestApp) -> String {
    let response = app
        .http
        .get(format!(
            "{}/_sim/merchants/{}/statement?date={}&encoding=utf-8",
            app.sim.base_url(),
            app.a.merchant.merchant_no,
            today()
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    response.text().await.unwrap()
}

/// Starts a pull run of today from the page's form; answers the run's id.
async fn pull_run(app: &TestApp, client: &UiClient) -> String {
    let day = today();
    let page = client
        .post(
            "/ui/reconciliations",
            &[("pos_id", &app.a.pos_id), ("from", &day), ("to", &day)],
        )
        .await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.body);
    let location = page.location().unwrap();
    location
        .strip_prefix("/ui/reconciliations/")
        .unwrap()
        .to_owned()
}

/// A multipart form POST as a browser sends a file form.
async fn upload(
    app: &TestApp,
    client: &UiClient,
    csrf: Option<&str>,
    fields: &[(&str, &str)],
    file: &[u8],
) -> (StatusCode, String, Option<String>) {
    let boundary = "----sanalposFormBoundary7MA4YWxk";
    let mut body: Vec<u8> = Vec::new();
    let mut all: Vec<(&str, &str)> = Vec::new();
    if let Some(token) = csrf {
        all.push(("_csrf", token));
    }
    all.extend_from_slice(fields);
    for (name, value) in all {
        body.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"
            )
            .as_bytes(),
        );
    }
    body.extend_from_slice(
        format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"ekstre.csv\"\r\nContent-Type: text/csv\r\n\r\n"
        )
        .as_bytes(),
    );
    body.extend_from_slice(file);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    let response = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .post(app.url("/ui/reconciliations/import"))
        .header(
            "cookie",
            format!("sp_session={}", client.cookie("sp_session").unwrap()),
        )
        .header(
            "content-type",
            format!("multipart/form-data; boundary={boundary}"),
        )
        .body(body)
        .send()
        .await
        .unwrap();
    let status = response.status();
    let location = response
        .headers()
        .get("location")
        .map(|l| l.to_str().unwrap().to_owned());
    (status, response.text().await.unwrap(), location)
}

/// The `<tr …>` of the element with `data-id="{id}"` up to its `</tr>`.
fn row_of<'a>(html: &'a str, id: &str) -> &'a str {
    let start = html
        .find(&format!("data-id=\"{id}\""))
        .unwrap_or_else(|| panic!("no row {id} in {html}"));
    let rest = &html[start..];
    &rest[..rest.find("</tr>").unwrap()]
}

/// The decisions' row below an open item.
fn actions_of<'a>(html: &'a str, id: &str) -> &'a str {
    let start = html
        .find(&format!("data-actions-for=\"{id}\""))
        .unwrap_or_else(|| panic!("no decisions for {id} in {html}"));
    let rest = &html[start..];
    &rest[..rest.find("</tr>").unwrap()]
}

/// The summary table's row of a class.
fn summary_row<'a>(html: &'a str, class: &str) -> &'a str {
    let start = html
        .find(&format!("<tr data-class=\"{class}\""))
        .unwrap_or_else(|| panic!("no summary row {class} in {html}"));
    let rest = &html[start..];
    &rest[..rest.find("</tr>").unwrap()]
}

/// The count a runs-list row shows for a class.
fn count_in(row: &str, class: &str) -> u64 {
    let needle = format!("data-class=\"{class}\">");
    let i = row
        .find(&needle)
        .unwrap_or_else(|| panic!("no {class} in {row}"));
    let rest = &row[i + needle.len()..];
    rest[..rest.find('<').unwrap()].parse().unwrap()
}

/// The item ids of a class on a detail page, in page order.
fn items_of(html: &str, class: &str) -> Vec<String> {
    let mut ids = Vec::new();
    let mut rest = html;
    while let Some(i) = rest.find("<tr data-id=\"rci_") {
        rest = &rest[i + "<tr data-id=\"".len()..];
        let id = &rest[..rest.find('"').unwrap()];
        if rest[..rest.find('>').unwrap()].contains(&format!("data-class=\"{class}\"")) {
            ids.push(id.to_owned());
        }
    }
    ids
}

both_engines!(pull_run_listed_with_counts, |app: TestApp| async move {
    seed_users(&app).await;
    approved(&app, CARD_A, "150.00").await;
    approved(&app, CARD_B, "99.90").await;
    panel_sale(&app, "12.50", CARD_B).await;
    let accountant = UiClient::signed_in(&app.base_url, "accountant").await;

    let page = accountant.get("/ui/reconciliations").await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert!(page.body.contains("Mutabakat") && page.body.contains("id=\"pull-form\""));
    assert!(
        page.body.contains("href=\"/ui/reconciliations\""),
        "menu entry"
    );

    let run_id = pull_run(&app, &accountant).await;
    let page = accountant.get("/ui/reconciliations").await;
    let row = row_of(&page.body, &run_id);
    assert!(row.contains("data-source=\"pull\""), "{row}");
    assert!(row.contains("Sağlayıcı raporu") && row.contains("user:accountant"));
    assert_eq!(count_in(row, "matched"), 2);
    assert_eq!(count_in(row, "provider_only"), 1);
    for class in [
        "amount_mismatch",
        "status_mismatch",
        "system_only",
        "duplicate",
    ] {
        assert_eq!(count_in(row, class), 0, "{class}");
    }

    // The detail: counts and exact totals per class, the one exception listed.
    let page = accountant
        .get(&format!("/ui/reconciliations/{run_id}"))
        .await;
    assert_eq!(page.status, StatusCode::OK);
    let matched = summary_row(&page.body, "matched");
    assert!(
        matched.contains(">2<") && matched.contains("249,90 TL"),
        "{matched}"
    );
    let provider_only = summary_row(&page.body, "provider_only");
    assert!(provider_only.contains(">1<") && provider_only.contains("12,50 TL"));
    assert!(
        provider_only.contains("0,00 TL"),
        "nothing of ours: {provider_only}"
    );
    assert!(page.body.contains("id=\"open-exceptions\">1<"));
    assert_eq!(items_of(&page.body, "provider_only").len(), 1);
    assert!(
        items_of(&page.body, "matched").is_empty(),
        "exceptions only"
    );
    assert!(page.body.contains("520019******8608"));
    assert!(!page.body.contains(CARD_B) && !page.body.contains(CARD_A));
    let all = accountant
        .get(&format!("/ui/reconciliations/{run_id}?class=all"))
        .await;
    assert_eq!(items_of(&all.body, "matched").len(), 2);
    let bad = accountant
        .get(&format!("/ui/reconciliations/{run_id}?class=nonsense"))
        .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);

    // In English too.
    accountant.get("/ui/lang?l=en").await;
    let page = accountant
        .get(&format!("/ui/reconciliations/{run_id}"))
        .await;
    assert!(page.body.contains("Provider only"), "{}", page.body);
    assert!(page.body.contains("TRY 12.50") && page.body.contains("TRY 249.90"));
});

both_engines!(
    malformed_upload_lists_lines_and_imports_nothing,
    |app: TestApp| async move {
        seed_users(&app).await;
        approved(&app, CARD_A, "10.00").await;
        approved(&app, CARD_B, "20.00").await;
        let client = UiClient::signed_in(&app.base_url, "accountant").await;
        let text = statement(&app).await;
        let mut lines: Vec<String> = text.split("\r\n").map(str::to_owned).collect();
        assert!(lines.len() >= 3, "{text}");
        // Line 3 (the second sale): its amount ("Tutar", column 11) is not a number.
        let mut fields: Vec<String> = lines[2].split(';').map(str::to_owned).collect();
        fields[10] = "on iki".into();
        lines[2] = fields.join(";");
        let day = today();
        let form = [
            ("pos_id", app.a.pos_id.as_str()),
            ("from", day.as_str()),
            ("to", day.as_str()),
        ];
        let csrf = client.csrf();
        let (status, body, _) = upload(
            &app,
            &client,
            Some(&csrf),
            &form,
            lines.join("\r\n").as_bytes(),
        )
        .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        assert!(body.contains("hiçbir şey alınmadı"), "{body}");
        let bad = row_of_line(&body, 3);
        assert!(bad.contains("Tutar"), "{bad}");
        // In the page's language, from the catalogue.
        assert!(bad.contains("geçerli bir tutar değil"), "{bad}");
        assert!(!bad.contains("not a valid amount"), "{bad}");
        assert_eq!(body.matches("<tr data-line=").count(), 1);
        let store = &app.store;
        assert!(store
            .list_recon_runs(&app.a.id, 10)
            .await
            .unwrap()
            .is_empty());
        let events = store.list_audit(&app.a.id, 50).await.unwrap();
        assert!(events.iter().all(|e| !e.kind.starts_with("recon.")));

        // Without the form's token nothing is read at all.
        let (status, _, _) = upload(&app, &client, None, &form, text.as_bytes()).await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        assert!(store
            .list_recon_runs(&app.a.id, 10)
            .await
            .unwrap()
            .is_empty());

        // The user decides to leave the bad row out: the page offers it for this file.
        let bad_file = lines.join("\r\n");
        let (_, refused, _) = upload(&app, &client, Some(&csrf), &form, bad_file.as_bytes()).await;
        assert!(refused.contains("id=\"skip-form\""), "{refused}");
        let sha = hidden(&refused, "skip_sha256");
        let skip = |confirm: bool| {
            let mut fields = form.to_vec();
            fields.push(("profile_id", ""));
            fields.push(("skip_sha256", sha.as_str()));
            if confirm {
                fields.push(("confirm", "on"));
            }
            fields
        };
        // Not without the confirmation, and not for another file.
        let (status, body, _) = upload(
            &app,
            &client,
            Some(&csrf),
            &skip(false),
            bad_file.as_bytes(),
        )
        .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(body.contains("kutucuğu işaretleyin"), "{body}");
        let other_file = bad_file.replace("on iki", "on üç");
        let (status, body, _) = upload(
            &app,
            &client,
            Some(&csrf),
            &skip(true),
            other_file.as_bytes(),
        )
        .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(body.contains("gösterilen dosya değil"), "{body}");
        assert!(store
            .list_recon_runs(&app.a.id, 10)
            .await
            .unwrap()
            .is_empty());
        let (status, body, location) =
            upload(&app, &client, Some(&csrf), &skip(true), bad_file.as_bytes()).await;
        assert_eq!(status, StatusCode::SEE_OTHER, "{body}");
        let page = client.get(&location.unwrap()).await;
        // The row left out is listed in the page's language (the catalogue's Turkish),
        // not with the English reason the API keeps.
        let reasons = reject_reasons(&page.body);
        assert_eq!(reasons.len(), 1, "{}", page.body);
        assert!(reasons[0].starts_with("3. satır: Tutar: "), "{reasons:?}");
        assert!(!reasons[0].contains("line 3"), "{reasons:?}");
        let runs = store.list_recon_runs(&app.a.id, 10).await.unwrap();
        assert_eq!(runs.len(), 1);
        let list = client.get("/ui/reconciliations").await;
        let row = row_of(&list.body, &runs[0].id);
        assert_eq!(count_in(row, "matched"), 1, "{row}");
        assert_eq!(
            count_in(row, "system_only"),
            1,
            "its sale is not in the rest"
        );

        // The untouched statement reconciles: both sales matched.
        let (status, body, location) =
            upload(&app, &client, Some(&csrf), &form, text.as_bytes()).await;
        assert_eq!(status, StatusCode::SEE_OTHER, "{body}");
        let location = location.unwrap();
        let page = client.get(&location).await;
        assert!(page.body.contains("Ekstre dosyası"), "{}", page.body);
        let runs = store.list_recon_runs(&app.a.id, 10).await.unwrap();
        assert_eq!(runs.len(), 2);
        assert_eq!(runs[0].source, "import");
        let list = client.get("/ui/reconciliations").await;
        assert_eq!(count_in(row_of(&list.body, &runs[0].id), "matched"), 2);
    }
);

both_engines!(upload_through_a_saved_profile, |app: TestApp| async move {
    seed_users(&app).await;
    approved(&app, CARD_A, "10.00").await;
    approved(&app, CARD_B, "20.00").await;
    // The bank writes "İşlem Tutarı" where the simulator writes "Tutar".
    let text = statement(&app).await;
    let (header, rest) = text.split_once("\r\n").unwrap();
    let header: Vec<&str> = header
        .split(';')
        .map(|h| if h == "Tutar" { "İşlem Tutarı" } else { h })
        .collect();
    let bank_file = format!("{}\r\n{rest}", header.join(";"));
    let mut profile = sanalpos_service::Profile::simulator();
    profile.name = "Banka X günlük".into();
    for column in &mut profile.columns {
        if column.header == "Tutar" {
            column.header = "İşlem Tutarı".into();
        }
    }
    let actor = sanalpos_service::Actor {
        company_id: app.a.id.clone(),
        name: "test".into(),
    };
    let saved = app
        .service
        .create_statement_profile(&actor, &app.a.id, &app.a.pos_id, profile)
        .await
        .unwrap();
    let client = UiClient::signed_in(&app.base_url, "accountant").await;
    let page = client.get("/ui/reconciliations").await;
    assert!(
        page.body.contains(&format!("value=\"{}\"", saved.id)),
        "the profile is offered"
    );
    assert!(page.body.contains("Banka X günlük"));
    let day = today();
    let csrf = client.csrf();
    let with = |profile_id: &str| {
        vec![
            ("pos_id", app.a.pos_id.clone()),
            ("from", day.clone()),
            ("to", day.clone()),
            ("profile_id", profile_id.to_owned()),
        ]
    };
    let send = |fields: Vec<(&'static str, String)>| {
        let client = &client;
        let csrf = csrf.clone();
        let bank_file = bank_file.clone();
        let app = &app;
        async move {
            let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
            upload(app, client, Some(&csrf), &fields, bank_file.as_bytes()).await
        }
    };
    // The built-in layout cannot read it.
    let (status, body, _) = send(with("")).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(body.contains("Tutar"), "{body}");
    // Another company's profile is not found.
    let (status, _, _) = send(with("stp_00000000000000000000")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    // Through the saved profile it reconciles.
    let (status, body, _) = send(with(&saved.id)).await;
    assert_eq!(status, StatusCode::SEE_OTHER, "{body}");
    let runs = app.store.list_recon_runs(&app.a.id, 10).await.unwrap();
    assert_eq!(runs.len(), 1);
    let list = client.get("/ui/reconciliations").await;
    assert_eq!(count_in(row_of(&list.body, &runs[0].id), "matched"), 2);
});

/// The bad-rows table's row of a line.
fn row_of_line(html: &str, line: u32) -> &str {
    let start = html
        .find(&format!("data-line=\"{line}\""))
        .unwrap_or_else(|| panic!("no line {line} in {html}"));
    let rest = &html[start..];
    &rest[..rest.find("</tr>").unwrap()]
}

both_engines!(
    provider_only_entered_by_hand_then_matched,
    |app: TestApp| async move {
        seed_users(&app).await;
        approved(&app, CARD_A, "40.00").await;
        let panel = panel_sale(&app, "12.50", CARD_B).await;
        let client = UiClient::signed_in(&app.base_url, "accountant").await;
        let run_id = pull_run(&app, &client).await;
        let page = client.get(&format!("/ui/reconciliations/{run_id}")).await;
        let items = items_of(&page.body, "provider_only");
        assert_eq!(items.len(), 1, "{}", page.body);
        let item = &items[0];
        // The form shows what will be entered, from the provider's row, on a row of its
        // own below the item; it asks for the customer account, offering the company's.
        let row = row_of(&page.body, item);
        assert!(row.contains(panel["reference_code"].as_str().unwrap()));
        assert!(row.contains("12,50 TL") && row.contains("520019******8608"));
        let actions = actions_of(&page.body, item);
        assert!(actions.contains("enter-form"), "{actions}");
        assert!(
            actions.contains(
                "name=\"customer_ref\" required maxlength=\"100\" list=\"customer-refs\""
            ),
            "{actions}"
        );
        assert!(actions.contains("name=\"order_ref\""), "{actions}");
        assert!(
            actions.contains(&format!(
                "value=\"Mutabakatta eksik bulunan işlem ({})\"",
                panel["reference_code"].as_str().unwrap()
            )),
            "{actions}"
        );
        assert!(
            page.body
                .contains("<datalist id=\"customer-refs\"><option value=\"CARI-1\">"),
            "{}",
            page.body
        );

        // As a person types, the references starting with the text (for a company with
        // more than the page brings); only for those who decide.
        let typed = client.get("/ui/api/customer-refs?q=CARI").await;
        assert_eq!(typed.status, StatusCode::OK);
        let typed: Value = serde_json::from_str(&typed.body).unwrap();
        assert_eq!(typed, json!({"refs": ["CARI-1"]}));
        let typed = client.get("/ui/api/customer-refs?q=SIP").await;
        assert_eq!(typed.body, r#"{"refs":[]}"#);
        let viewer = UiClient::signed_in(&app.base_url, "viewer").await;
        let refused = viewer.get("/ui/api/customer-refs?q=CARI").await;
        assert_eq!(refused.status, StatusCode::FORBIDDEN);
        assert!(!refused.body.contains("CARI-1"));

        let path = format!("/ui/reconciliations/{run_id}/items/{item}/enter");
        fn entry(customer: &str, confirm: bool) -> Vec<(&str, &str)> {
            let mut fields = vec![
                ("customer_ref", customer),
                ("order_ref", "SIP-PANEL-9"),
                ("description", "Panelden girilen satış"),
                ("reason", "panel sale"),
            ];
            if confirm {
                fields.push(("confirm", "on"));
            }
            fields
        }
        // Without the confirmation, without a customer, or with a customer too long,
        // nothing happens.
        let page = client.post(&path, &entry("CARI-1", false)).await;
        assert_eq!(page.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(page.body.contains("kutucuğu işaretleyin"));
        let page = client.post(&path, &entry("  ", true)).await;
        assert_eq!(page.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(
            page.body
                .contains("Girilen tahsilatın alacak yazılacağı cari hesabı yazın."),
            "{}",
            page.body
        );
        let long = "C".repeat(101);
        let page = client.post(&path, &entry(&long, true)).await;
        assert_eq!(page.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(
            page.body
                .contains("Cari hesap: en çok 100 karakter olabilir"),
            "{}",
            page.body
        );
        // The refused form is shown again open, with what was typed.
        let actions = actions_of(&page.body, item);
        assert!(
            actions.contains("<details class=\"item-actions\" open>"),
            "{actions}"
        );
        assert!(actions.contains("value=\"SIP-PANEL-9\""), "{actions}");
        assert!(
            actions.contains("value=\"Panelden girilen satış\""),
            "{actions}"
        );
        assert!(actions.contains(&format!("value=\"{long}\"")), "{actions}");
        let listed = app
            .service
            .list_payments(&app.a.id, Default::default())
            .await
            .unwrap();
        assert_eq!(listed.items.len(), 1);

        let page = client.post(&path, &entry("CARI-1", true)).await;
        assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.body);
        let page = client.get(page.location().unwrap()).await;
        let row = row_of(&page.body, item);
        assert!(row.contains("data-resolution=\"entered\""), "{row}");
        assert!(row.contains("Girildi") && row.contains("user:accountant"));
        assert!(row.contains("panel sale"));
        let run = app
            .service
            .get_reconciliation(
                &app.a.id,
                &run_id,
                &sanalpos_service::ItemsQuery::class("provider_only"),
            )
            .await
            .unwrap();
        let payment_id = run.items[0].resolution_payment_id.clone().unwrap();
        assert!(row.contains(&payment_id));
        let detail = app
            .service
            .get_payment(&app.a.id, &payment_id)
            .await
            .unwrap();
        assert_eq!(detail.payment.channel, sanalpos_service::Channel::Manual);
        assert_eq!(detail.payment.amount.to_string(), "12.50");
        assert_eq!(detail.payment.customer_ref.as_deref(), Some("CARI-1"));
        assert_eq!(detail.payment.order_ref.as_deref(), Some("SIP-PANEL-9"));
        assert_eq!(
            detail.payment.description.as_deref(),
            Some("Panelden girilen satış")
        );
        // It is in that customer's collections.
        let list = client.get("/ui/payments?customer_ref=CARI-1").await;
        assert_eq!(list.status, StatusCode::OK);
        assert!(list.body.contains(&payment_id), "{}", list.body);
        assert_eq!(
            detail.payment.provider_ref.as_deref(),
            panel["reference_code"].as_str()
        );
        // A second decision on it is refused on the page.
        let page = client
            .post(
                &format!("/ui/reconciliations/{run_id}/items/{item}/dismiss"),
                &[("reason", "x"), ("confirm", "on")],
            )
            .await;
        assert_eq!(page.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(page.body.contains("daha önce karar verilmiş"));

        // The next run matches it: nothing left open.
        let next = pull_run(&app, &client).await;
        let list = client.get("/ui/reconciliations").await;
        let row = row_of(&list.body, &next);
        assert_eq!(count_in(row, "matched"), 2, "{row}");
        assert_eq!(count_in(row, "provider_only"), 0);
        let page = client.get(&format!("/ui/reconciliations/{next}")).await;
        assert!(page.body.contains("id=\"open-exceptions\">0<"));
    }
);

both_engines!(force_match_and_dismiss_audited, |app: TestApp| async move {
    seed_users(&app).await;
    let paid = approved(&app, CARD_A, "25.00").await;
    panel_sale(&app, "25.00", CARD_A).await;
    panel_sale(&app, "7.00", CARD_B).await;
    let client = UiClient::signed_in(&app.base_url, "accountant").await;
    let run_id = pull_run(&app, &client).await;
    let run = app
        .service
        .get_reconciliation(
            &app.a.id,
            &run_id,
            &sanalpos_service::ItemsQuery::class("provider_only"),
        )
        .await
        .unwrap();
    assert_eq!(run.items.len(), 2, "{run:?}");
    let same = run
        .items
        .iter()
        .find(|i| i.theirs.to_string() == "25.00")
        .unwrap();
    let test_sale = run
        .items
        .iter()
        .find(|i| i.theirs.to_string() == "7.00")
        .unwrap();
    let base = format!("/ui/reconciliations/{run_id}/items");

    // Dismiss needs a reason.
    let page = client
        .post(
            &format!("{base}/{}/dismiss", test_sale.id),
            &[("reason", "  "), ("confirm", "on")],
        )
        .await;
    assert_eq!(page.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(page.body.contains("neden yazın"));
    let page = client
        .post(
            &format!("{base}/{}/dismiss", test_sale.id),
            &[("reason", "test sale on the panel"), ("confirm", "on")],
        )
        .await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.body);

    // Force-match: an unknown payment is refused, ours is taken.
    let page = client
        .post(
            &format!("{base}/{}/force-match", same.id),
            &[("payment_id", "pay_nope"), ("confirm", "on")],
        )
        .await;
    assert_eq!(page.status, StatusCode::UNPROCESSABLE_ENTITY);
    let page = client
        .post(
            &format!("{base}/{}/force-match", same.id),
            &[
                ("payment_id", &paid),
                ("reason", "same sale, twice on the panel"),
                ("confirm", "on"),
            ],
        )
        .await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.body);

    let page = client
        .get(&format!("/ui/reconciliations/{run_id}?class=provider_only"))
        .await;
    let row = row_of(&page.body, &test_sale.id);
    assert!(row.contains("Yoksayıldı") && row.contains("test sale on the panel"));
    let row = row_of(&page.body, &same.id);
    assert!(
        row.contains("Zorla eşleştirildi") && row.contains(&paid),
        "{row}"
    );
    assert!(page.body.contains("id=\"open-exceptions\">0<"));

    let events = app.store.list_audit(&app.a.id, 50).await.unwrap();
    let decisions: Vec<_> = events
        .iter()
        .filter(|e| e.kind == "recon.item_resolved")
        .collect();
    assert_eq!(decisions.len(), 2);
    for e in &decisions {
        assert_eq!(e.actor, "user:accountant");
        assert!(e.data.contains("\"before\"") && e.data.contains("provider_only"));
    }
    let dismissed = decisions
        .iter()
        .find(|e| e.subject_id == test_sale.id)
        .unwrap();
    assert!(
        dismissed.data.contains("dismissed") && dismissed.data.contains("test sale on the panel")
    );
    let forced = decisions.iter().find(|e| e.subject_id == same.id).unwrap();
    assert!(forced.data.contains("force_matched") && forced.data.contains(&paid));
});

both_engines!(export_csv_and_xlsx_read_back, |app: TestApp| async move {
    seed_users(&app).await;
    approved(&app, CARD_A, "1234.56").await;
    panel_sale(&app, "12.50", CARD_B).await;
    let client = UiClient::signed_in(&app.base_url, "viewer").await;
    let accountant = UiClient::signed_in(&app.base_url, "accountant").await;
    let run_id = pull_run(&app, &accountant).await;

    // Turkish CSV: semicolons, Turkish amounts, one line per item.
    let page = client
        .get(&format!("/ui/reconciliations/{run_id}/export?format=csv"))
        .await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert!(page.headers["content-disposition"]
        .to_str()
        .unwrap()
        .contains(".csv"));
    assert!(page.body.starts_with('\u{feff}'));
    let lines: Vec<&str> = page.body.trim_start_matches('\u{feff}').lines().collect();
    assert_eq!(lines.len(), 3, "{}", page.body);
    assert!(
        lines[0].starts_with("Sınıf;Neden;Bizdeki ödeme"),
        "{}",
        lines[0]
    );
    let matched = lines.iter().find(|l| l.starts_with("Eşleşti;")).unwrap();
    let cells: Vec<&str> = matched.split(';').collect();
    assert_eq!(cells[7], "1.234,56");
    assert_eq!(cells[8], "1.234,56");
    assert_eq!(cells[9], "0,00");
    let missing = lines
        .iter()
        .find(|l| l.starts_with("Yalnız sağlayıcıda;"))
        .unwrap();
    let cells: Vec<&str> = missing.split(';').collect();
    assert_eq!(cells[1], "Sağlayıcıda var, bizde yok");
    assert_eq!(cells[5], "520019******8608");
    assert_eq!(cells[7], "0,00");
    assert_eq!(cells[8], "12,50");
    assert_eq!(cells[9], "12,50");
    assert!(!page.body.contains(CARD_B));
    // One class only.
    let page = client
        .get(&format!(
            "/ui/reconciliations/{run_id}/export?format=csv&class=provider_only"
        ))
        .await;
    assert_eq!(page.body.trim_start_matches('\u{feff}').lines().count(), 2);

    // English XLSX: a real workbook, amounts as numbers.
    client.get("/ui/lang?l=en").await;
    let sheet = client
        .first_sheet(&format!("/ui/reconciliations/{run_id}/export?format=xlsx"))
        .await;
    use calamine::Data;
    assert_eq!(sheet.height(), 3);
    let rows: Vec<Vec<Data>> = sheet.rows().map(|r| r.to_vec()).collect();
    assert_eq!(rows[0][0], Data::String("Class".into()));
    assert_eq!(rows[0][7], Data::String("Our amount".into()));
    let matched = rows
        .iter()
        .find(|r| r[0] == Data::String("Matched".into()))
        .unwrap();
    assert_eq!(matched[7], Data::Float(1234.56));
    assert_eq!(matched[9], Data::Float(0.0));
    let missing = rows
        .iter()
        .find(|r| r[0] == Data::String("Provider only".into()))
        .unwrap();
    assert_eq!(missing[8], Data::Float(12.5));
    assert_eq!(missing[5], Data::String("520019******8608".into()));
    assert!(!format!("{rows:?}").contains(CARD_B));

    let page = client
        .get(&format!("/ui/reconciliations/{run_id}/export?format=pdf"))
        .await;
    assert_eq!(page.status, StatusCode::BAD_REQUEST);
});

both_engines!(roles_companies_and_csrf, |app: TestApp| async move {
    seed_users(&app).await;
    panel_sale(&app, "7.00", CARD_B).await;
    let accountant = UiClient::signed_in(&app.base_url, "accountant").await;
    let run_id = pull_run(&app, &accountant).await;
    let item = app
        .service
        .get_reconciliation(
            &app.a.id,
            &run_id,
            &sanalpos_service::ItemsQuery::class("provider_only"),
        )
        .await
        .unwrap()
        .items[0]
        .id
        .clone();
    let day = today();
    let pull_form = [
        ("pos_id", app.a.pos_id.as_str()),
        ("from", day.as_str()),
        ("to", day.as_str()),
    ];
    let dismiss = format!("/ui/reconciliations/{run_id}/items/{item}/dismiss");
    let runs = || async {
        app.service
            .list_reconciliations(&app.a.id, 50)
            .await
            .unwrap()
            .len()
    };

    // A collector neither sees nor does anything here.
    let collector = UiClient::signed_in(&app.base_url, "collector").await;
    let page = collector.get("/ui/dashboard").await;
    assert!(
        !page.body.contains("href=\"/ui/reconciliations\""),
        "no menu entry"
    );
    for path in [
        "/ui/reconciliations".to_owned(),
        format!("/ui/reconciliations/{run_id}"),
        format!("/ui/reconciliations/{run_id}/export?format=csv"),
    ] {
        let page = collector.get(&path).await;
        assert_eq!(page.status, StatusCode::FORBIDDEN, "{path}");
        assert!(page.body.contains("Yetkiniz yok"));
    }
    let page = collector.post("/ui/reconciliations", &pull_form).await;
    assert_eq!(page.status, StatusCode::FORBIDDEN);
    let page = collector
        .post(&dismiss, &[("reason", "x"), ("confirm", "on")])
        .await;
    assert_eq!(page.status, StatusCode::FORBIDDEN);

    // A viewer reads, without forms, and may not act.
    let viewer = UiClient::signed_in(&app.base_url, "viewer").await;
    let page = viewer.get("/ui/reconciliations").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains(&run_id) && !page.body.contains("pull-form"));
    let page = viewer.get(&format!("/ui/reconciliations/{run_id}")).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(!page.body.contains("dismiss-form"));
    let page = viewer.post("/ui/reconciliations", &pull_form).await;
    assert_eq!(page.status, StatusCode::FORBIDDEN);
    let page = viewer
        .post(&dismiss, &[("reason", "x"), ("confirm", "on")])
        .await;
    assert_eq!(page.status, StatusCode::FORBIDDEN);
    assert_eq!(runs().await, 1);

    // Another company's run is not found, by any route.
    let other = UiClient::signed_in(&app.base_url, "admin_b").await;
    for path in [
        format!("/ui/reconciliations/{run_id}"),
        format!("/ui/reconciliations/{run_id}/export?format=csv"),
    ] {
        let page = other.get(&path).await;
        assert_eq!(page.status, StatusCode::NOT_FOUND, "{path}");
    }
    let page = other
        .post(&dismiss, &[("reason", "x"), ("confirm", "on")])
        .await;
    assert_eq!(page.status, StatusCode::NOT_FOUND);
    let page = other.get("/ui/reconciliations").await;
    assert!(!page.body.contains(&run_id));
    // Nor may B's admin run A's POS.
    let page = other.post("/ui/reconciliations", &pull_form).await;
    assert_eq!(page.status, StatusCode::NOT_FOUND);
    assert_eq!(runs().await, 1);

    // Without the form's token: refused before anything runs.
    let page = accountant.post_raw("/ui/reconciliations", &pull_form).await;
    assert_eq!(page.status, StatusCode::FORBIDDEN);
    let page = accountant
        .post_raw(&dismiss, &[("reason", "x"), ("confirm", "on")])
        .await;
    assert_eq!(page.status, StatusCode::FORBIDDEN);
    assert_eq!(runs().await, 1);
    let view = app
        .service
        .get_reconciliation(&app.a.id, &run_id, &sanalpos_service::ItemsQuery::default())
        .await
        .unwrap();
    assert_eq!(view.open_exceptions, 1);
    assert!(view.items.iter().all(|i| i.resolution.is_none()));
});

/// The visible text of the rejected rows' reasons (not their attributes).
fn reject_reasons(body: &str) -> Vec<String> {
    body.split("<td class=\"reject-reason\"")
        .skip(1)
        .map(|rest| {
            let text = &rest[rest.find('>').unwrap() + 1..];
            text[..text.find("</td>").unwrap()].to_owned()
        })
        .collect()
}

// Issue 13, item 5: a row left out on import is listed with its reason in the page's
// language, from the catalogue; the API keeps its English `reason`.
both_engines!(
    rejected_row_reason_in_the_page_language,
    |app: TestApp| async move {
        seed_users(&app).await;
        approved(&app, CARD_A, "10.00").await;
        approved(&app, CARD_B, "20.00").await;
        let client = UiClient::signed_in(&app.base_url, "accountant").await;
        let text = statement(&app).await;
        let mut lines: Vec<String> = text.split("\r\n").map(str::to_owned).collect();
        let mut fields: Vec<String> = lines[2].split(';').map(str::to_owned).collect();
        fields[10] = "on iki".into();
        lines[2] = fields.join(";");
        let bad_file = lines.join("\r\n");
        let day = today();
        let form = [
            ("pos_id", app.a.pos_id.as_str()),
            ("from", day.as_str()),
            ("to", day.as_str()),
        ];
        let csrf = client.csrf();
        let (_, refused, _) = upload(&app, &client, Some(&csrf), &form, bad_file.as_bytes()).await;
        let sha = hidden(&refused, "skip_sha256");
        let mut skip = form.to_vec();
        skip.extend([
            ("profile_id", ""),
            ("skip_sha256", sha.as_str()),
            ("confirm", "on"),
        ]);
        let (status, body, location) =
            upload(&app, &client, Some(&csrf), &skip, bad_file.as_bytes()).await;
        assert_eq!(status, StatusCode::SEE_OTHER, "{body}");
        let location = location.unwrap();

        let page = client.get(&location).await;
        let reasons = reject_reasons(&page.body);
        assert_eq!(
            reasons,
            vec![
                "3. satır: Tutar: geçerli bir tutar değil (&quot;on iki&quot;) \
                 (içe aktarımda dışarıda bırakıldı)"
                    .to_owned()
            ],
            "{}",
            page.body
        );
        client.get("/ui/lang?l=en").await;
        let page = client.get(&location).await;
        assert_eq!(
            reject_reasons(&page.body),
            vec![
                "line 3: Tutar: not a valid amount (&quot;on iki&quot;) (left out on import)"
                    .to_owned()
            ]
        );

        // The API keeps its English reason and adds the reason as data.
        let run_id = location.rsplit('/').next().unwrap();
        let run = reqwest::Client::new()
            .get(app.url(&format!("/api/v1/reconciliations/{run_id}")))
            .bearer_auth(&app.a.api_key)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let run: serde_json::Value = serde_json::from_str(&run).unwrap();
        let row = &run["rejected_rows"][0];
        assert!(
            row["reason"]
                .as_str()
                .unwrap()
                .starts_with("line 3: Tutar: "),
            "{run}"
        );
        assert!(row["reason"]
            .as_str()
            .unwrap()
            .ends_with("(left out on import)"));
        assert_eq!(row["cause"]["kind"], "left_out_on_import", "{run}");
        assert_eq!(row["cause"]["problem"]["kind"], "invalid");
        assert_eq!(row["cause"]["problem"]["expected"], "amount");
    }
);

both_engines!(
    a_large_run_is_shown_a_page_at_a_time,
    |app: TestApp| async move {
        seed_users(&app).await;
        let run = large_run(&app, 450).await;
        let client = UiClient::signed_in(&app.base_url, "accountant").await;
        let path = format!("/ui/reconciliations/{}", run.id);

        // The exceptions, 200 to a page, with decisions on each; the next page's link
        // carries the filter (none: exceptions) and where it starts.
        let first = client.get(&path).await;
        assert_eq!(first.status, StatusCode::OK, "{}", first.body);
        assert!(first.body.contains("id=\"open-exceptions\">450<"));
        let shown = items_of(&first.body, "provider_only");
        assert_eq!(shown.len(), 200);
        assert_eq!(first.body.matches("data-actions-for=").count(), 200);
        assert!(!first.body.contains("id=\"first-page\""));
        let next = link_of(&first.body, "next-page");
        assert!(next.starts_with(&format!("{path}?cursor=")), "{next}");
        let second = client.get(&next).await;
        assert_eq!(second.status, StatusCode::OK);
        let more = items_of(&second.body, "provider_only");
        assert_eq!(more.len(), 200);
        assert!(more.iter().all(|id| !shown.contains(id)), "no item twice");
        assert_eq!(link_of(&second.body, "first-page"), format!("{path}?"));
        let third = client.get(&link_of(&second.body, "next-page")).await;
        assert_eq!(items_of(&third.body, "provider_only").len(), 50);
        assert!(!third.body.contains("id=\"next-page\""), "the last page");

        // A class filter pages the same way and keeps the filter in its link.
        let all = client.get(&format!("{path}?class=all")).await;
        assert_eq!(
            items_of(&all.body, "matched").len() + items_of(&all.body, "provider_only").len(),
            200
        );
        let next = link_of(&all.body, "next-page");
        assert!(
            next.starts_with(&format!("{path}?class=all&cursor=")),
            "{next}"
        );
        let matched = client.get(&format!("{path}?class=matched")).await;
        assert_eq!(items_of(&matched.body, "matched").len(), 1);
        assert!(!matched.body.contains("id=\"next-page\""));

        // A decision on the last page shows its outcome on the item's page, the item
        // first; so does a refusal.
        let last = items_of(&third.body, "provider_only").pop().unwrap();
        let dismiss = format!("{path}/items/{last}/dismiss");
        let refused = client.post(&dismiss, &[("confirm", "on")]).await;
        assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(
            items_of(&refused.body, "provider_only").first(),
            Some(&last)
        );
        assert!(refused.body.contains("id=\"first-page\""));
        let done = client
            .post(&dismiss, &[("reason", "a test row"), ("confirm", "on")])
            .await;
        assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.body);
        let location = done.location().unwrap();
        assert!(location.contains("cursor="), "{location}");
        let shown = client.get(location).await;
        assert_eq!(items_of(&shown.body, "provider_only").first(), Some(&last));
        assert!(row_of(&shown.body, &last).contains("data-resolution=\"dismissed\""));
        assert!(shown.body.contains("id=\"open-exceptions\">449<"));

        // A cursor not from the page is a clear refusal, in English too.
        let bad = client.get(&format!("{path}?cursor=abc")).await;
        assert_eq!(bad.status, StatusCode::BAD_REQUEST);
        client.get("/ui/lang?l=en").await;
        let english = client.get(&path).await;
        assert!(english.body.contains("Next page"), "{}", english.body);
        assert_eq!(items_of(&english.body, "provider_only").len(), 200);
    }
);

both_engines!(
    a_large_run_is_exported_whole_across_its_read_pages,
    |app: TestApp| async move {
        // The export reads the run 2,000 items at a time: 4,000 items end on a page
        // boundary (the last read is empty), 3,999 provider-only items in the middle of
        // the second page.
        seed_users(&app).await;
        let run = large_run(&app, 3_999).await;
        assert_eq!(run.summary.matched, 1);
        assert_eq!(run.summary.provider_only, 3_999);
        let client = UiClient::signed_in(&app.base_url, "viewer").await;
        let export = |class: &'static str| {
            let client = &client;
            let path = format!("/ui/reconciliations/{}/export?format=csv{class}", run.id);
            async move {
                let page = client.get(&path).await;
                assert_eq!(page.status, StatusCode::OK, "{}", page.body);
                page.body
                    .trim_start_matches('\u{feff}')
                    .lines()
                    .skip(1)
                    .map(|line| line.split(';').nth(3).unwrap_or_default().to_owned())
                    .collect::<Vec<String>>()
            }
        };
        // Every item once, in the run's order (the statement's order here).
        let want: Vec<String> = (0..3_999).map(|n| format!("PAGE{n:010}")).collect();
        let all = export("").await;
        assert_eq!(all.len(), 4_000);
        let provider_only: Vec<String> = all
            .iter()
            .filter(|r| r.starts_with("PAGE"))
            .cloned()
            .collect();
        assert_eq!(provider_only, want);
        assert_eq!(export("&class=provider_only").await, want);
        assert_eq!(export("&class=matched").await.len(), 1);

        // The workbook too: a header and one row per item.
        let sheet = client
            .first_sheet(&format!(
                "/ui/reconciliations/{}/export?format=xlsx",
                run.id
            ))
            .await;
        use calamine::Data;
        assert_eq!(sheet.height(), 4_001);
        let refs: Vec<String> = sheet
            .rows()
            .skip(1)
            .filter_map(|r| match &r[3] {
                Data::String(s) if s.starts_with("PAGE") => Some(s.clone()),
                _ => None,
            })
            .collect();
        assert_eq!(refs, want);
    }
);

/// Today's statement with one sale of ours (matched) and `unknown` rows the provider
/// alone has, imported by the service: a run of `unknown + 1` items.
async fn large_run(app: &TestApp, unknown: usize) -> sanalpos_service::ReconRunView {
    approved(app, CARD_A, "150.00").await;
    let file = format!("{}{}", statement(app).await, unknown_sales(unknown));
    let actor = sanalpos_service::Actor {
        company_id: app.a.id.clone(),
        name: "test".into(),
    };
    let day = today();
    app.service
        .import_statement(
            &actor,
            &app.a.id,
            &app.a.pos_id,
            &day,
            &day,
            file.as_bytes(),
            None,
            false,
        )
        .await
        .unwrap()
}

/// The `href` of the link with `id` (its `&amp;` read back as `&`).
fn link_of(html: &str, id: &str) -> String {
    let start = html
        .find(&format!("id=\"{id}\""))
        .unwrap_or_else(|| panic!("no #{id} in {html}"));
    let rest = &html[start..];
    let href = &rest[rest.find("href=\"").unwrap() + "href=\"".len()..];
    href[..href.find('"').unwrap()].replace("&amp;", "&")
}
