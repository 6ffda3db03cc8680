//! `/api/v1/pos/{pos_id}/statement-profiles` and an import through a saved profile, on
//! SQLite and PostgreSQL.

#![allow(clippy::unwrap_used)]

use crate::helpers::*;
use reqwest::StatusCode;
use serde_json::{json, Value};

fn bank_profile(name: &str) -> Value {
    json!({
        "name": name,
        "columns": [
            {"header": "Date", "field": "time"},
            {"header": "Ref", "field": "provider_ref"},
            {"header": "Amount", "field": "amount"}
        ],
        "numbers": "dot",
        "time_formats": ["%Y-%m-%d %H:%M:%S"],
        "date_formats": [],
        "kinds": [],
        "statuses": []
    })
}

async fn send(
    app: &TestApp,
    who: &Seeded,
    method: reqwest::Method,
    path: &str,
    body: Option<String>,
) -> (StatusCode, Value) {
    let mut request = app
        .http
        .request(method, app.url(path))
        .bearer_auth(&who.api_key);
    if let Some(body) = body {
        request = request
            .header("Content-Type", "application/json")
            .body(body);
    }
    let response = request.send().await.unwrap();
    let status = response.status();
    let text = response.text().await.unwrap();
    (
        status,
        if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap()
        },
    )
}

both_engines!(statement_profiles_over_http, |app: TestApp| async move {
    let base = format!("/api/v1/pos/{}/statement-profiles", app.a.pos_id);
    let (status, created) = send(
        &app,
        &app.a,
        reqwest::Method::POST,
        &base,
        Some(bank_profile("Banka X").to_string()),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let id = created["id"].as_str().unwrap().to_owned();
    assert_eq!(created["profile"]["columns"][2]["field"], "amount");

    let (status, list) = send(&app, &app.a, reqwest::Method::GET, &base, None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(list["items"].as_array().unwrap().len(), 1);

    // Bad bodies change nothing.
    for body in ["{", "{\"name\": \"x\"}", &json!({"name": "x", "columns": [], "numbers": "dot", "time_formats": [], "date_formats": [], "kinds": [], "statuses": []}).to_string()] {
        let (status, answer) = send(&app, &app.a, reqwest::Method::POST, &base, Some(body.to_owned())).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}: {answer}");
    }
    let (status, answer) = send(
        &app,
        &app.a,
        reqwest::Method::POST,
        &base,
        Some(bank_profile("Banka X").to_string()),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT, "{answer}");
    assert_eq!(answer["error"]["code"], "profile_name_taken");

    // Company B reaches neither the POS's list nor the profile.
    let (status, _) = send(&app, &app.b, reqwest::Method::GET, &base, None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = send(
        &app,
        &app.b,
        reqwest::Method::GET,
        &format!("{base}/{id}"),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // An import through the profile: a payment made here, the bank's CSV with dot amounts.
    let (status, paid) = app
        .pay(&app.a, &key(), &payment("4546711234567894", "150.00"))
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let reference = paid["provider_ref"].as_str().unwrap();
    let day = sanalpos_service::istanbul_today();
    let csv = format!(
        "Date,Ref,Amount\n{} 12:00:00,{reference},150.00\n",
        day.format("%Y-%m-%d")
    );
    let response = app
        .http
        .post(app.url(&format!(
            "/api/v1/reconciliations/import?pos_id={}&from={day}&to={day}&profile_id={id}",
            app.a.pos_id
        )))
        .bearer_auth(&app.a.api_key)
        .body(csv)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    let run: Value = serde_json::from_str(&response.text().await.unwrap()).unwrap();
    assert_eq!(run["summary"]["matched"], 1, "{run}");

    let mut changed = bank_profile("Banka X 2");
    changed["numbers"] = json!("turkish");
    let (status, updated) = send(
        &app,
        &app.a,
        reqwest::Method::PUT,
        &format!("{base}/{id}"),
        Some(changed.to_string()),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{updated}");
    assert_eq!(updated["name"], "Banka X 2");
    let (status, _) = send(
        &app,
        &app.a,
        reqwest::Method::DELETE,
        &format!("{base}/{id}"),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = send(
        &app,
        &app.a,
        reqwest::Method::GET,
        &format!("{base}/{id}"),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
});
