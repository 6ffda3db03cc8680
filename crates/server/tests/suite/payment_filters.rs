//! `GET /api/v1/payments` filters beyond dates and references: channel, last four
//! digits, amount range, auth code, provider reference; bad values are refused with
//! their field. On SQLite and PostgreSQL.

#![allow(clippy::unwrap_used)]

use crate::helpers::*;
use reqwest::StatusCode;
use serde_json::Value;

fn ids(list: &Value) -> Vec<String> {
    list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["id"].as_str().unwrap().to_owned())
        .collect()
}

both_engines!(list_filters, |app: TestApp| async move {
    let mut made = Vec::new();
    for (pan, amount) in [
        ("4546711234567894", "150.00"),
        ("5200190006338608", "75.50"),
        ("4546711234567894", "20.00"),
        ("4000000000000051", "99.99"),
    ] {
        let (status, body) = app.pay(&app.a, &key(), &payment(pan, amount)).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        made.push(body);
    }
    let id = |i: usize| made[i]["id"].as_str().unwrap().to_owned();

    let (status, list) = app.get(&app.a, "/api/v1/payments?last_four=7894").await;
    assert_eq!(status, StatusCode::OK, "{list}");
    assert_eq!(ids(&list), [id(2), id(0)]);

    let (_, list) = app
        .get(
            &app.a,
            "/api/v1/payments?min_amount=50.00&max_amount=150.00",
        )
        .await;
    assert_eq!(ids(&list), [id(3), id(1), id(0)]);
    let (_, list) = app
        .get(
            &app.a,
            "/api/v1/payments?min_amount=75.50&max_amount=75.50&status=approved",
        )
        .await;
    assert_eq!(ids(&list), [id(1)]);

    let auth = made[1]["auth_code"].as_str().unwrap();
    let (_, list) = app
        .get(&app.a, &format!("/api/v1/payments?auth_code={auth}"))
        .await;
    assert_eq!(ids(&list), [id(1)]);
    let provider_ref = made[2]["provider_ref"].as_str().unwrap();
    let (_, list) = app
        .get(
            &app.a,
            &format!("/api/v1/payments?provider_ref={provider_ref}"),
        )
        .await;
    assert_eq!(ids(&list), [id(2)]);

    let (_, list) = app.get(&app.a, "/api/v1/payments?channel=api").await;
    assert_eq!(ids(&list).len(), 4);
    let (_, list) = app.get(&app.a, "/api/v1/payments?channel=moto").await;
    assert!(ids(&list).is_empty());

    // Company B sees none of it.
    let (_, list) = app.get(&app.b, "/api/v1/payments?last_four=7894").await;
    assert!(ids(&list).is_empty());

    for (query, field) in [
        ("last_four=789", "last_four"),
        ("last_four=4546711234567894", "last_four"),
        ("last_four=78x4", "last_four"),
        ("min_amount=abc", "min_amount"),
        ("max_amount=-5", "max_amount"),
        ("min_amount=10.00&max_amount=5.00", "min_amount"),
        ("channel=fax", "channel"),
    ] {
        let (status, body) = app.get(&app.a, &format!("/api/v1/payments?{query}")).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{query}: {body}");
        assert_eq!(body["error"]["field"], field, "{query}: {body}");
    }
});
