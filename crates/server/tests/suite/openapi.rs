#![allow(clippy::unwrap_used)]
//! The OpenAPI description: parses as OpenAPI 3.1 (the `oas3` parser), every `$ref`
//! resolves, every route of the API router is in it (and every documented operation
//! is routed), the answers' schemas have exactly the fields of real answers, and every
//! service error code is documented.

use std::collections::BTreeSet;

use crate::helpers::*;
use reqwest::StatusCode;
use sanalpos_server::openapi::{document, ERROR_CODES};
use sanalpos_service::ServiceError;
use serde_json::{json, Value};

/// `(METHOD, path)` of every route the API router declares, read from its source
/// (`crates/server/src/api/mod.rs`): a new route there fails this test until it is
/// documented.
fn router_routes() -> BTreeSet<(String, String)> {
    let source = include_str!("../../src/api/mod.rs");
    let mut routes = BTreeSet::new();
    let mut rest = source;
    while let Some(at) = rest.find(".route(") {
        rest = &rest[at + ".route(".len()..];
        // The call's text, up to its closing parenthesis.
        let mut depth = 1;
        let mut end = 0;
        for (i, c) in rest.char_indices() {
            match c {
                '(' => depth += 1,
                ')' => {
                    depth -= 1;
                    if depth == 0 {
                        end = i;
                        break;
                    }
                }
                _ => {}
            }
        }
        let call = &rest[..end];
        let open = call.find('"').unwrap();
        let close = call[open + 1..].find('"').unwrap() + open + 1;
        let path = format!("/api/v1{}", &call[open + 1..close]);
        let handlers = &call[close + 1..];
        for method in ["get", "post", "put", "patch", "delete"] {
            let needle = format!("{method}(");
            let mut from = 0;
            while let Some(i) = handlers[from..].find(&needle) {
                let i = from + i;
                let before = handlers[..i].chars().last().unwrap_or(' ');
                if !before.is_alphanumeric() && before != '_' && before != ':' {
                    routes.insert((method.to_uppercase(), path.clone()));
                }
                from = i + needle.len();
            }
        }
    }
    routes
}

fn documented(doc: &Value) -> BTreeSet<(String, String)> {
    let mut ops = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            if ["get", "post", "put", "patch", "delete"].contains(&method.as_str()) {
                ops.insert((method.to_uppercase(), path.clone()));
            }
        }
    }
    ops
}

#[test]
fn parses_as_openapi_3_1_and_every_reference_resolves() {
    let doc = document();
    let text = doc.to_string();
    let spec = oas3::from_json(&text).unwrap();
    let version = spec.validate_version().unwrap();
    assert_eq!((version.major, version.minor), (3, 1));
    let mut operations = 0;
    for (path, method, op) in spec.operations() {
        operations += 1;
        assert!(
            op.summary.as_deref().is_some_and(|s| !s.is_empty()),
            "{method} {path} has a summary"
        );
        op.request_body(&spec).unwrap();
        let parameters = op.parameters(&spec).unwrap();
        assert!(
            !op.responses(&spec).is_empty(),
            "{method} {path} has answers"
        );
        // Every `{name}` of the path is a documented path parameter.
        for segment in path.split('/') {
            if let Some(name) = segment.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
                assert!(
                    parameters.iter().any(|p| p.name == name),
                    "{method} {path}: path parameter {name} is documented"
                );
            }
        }
    }
    assert!(operations >= 20, "{operations} operations");
    // Every $ref anywhere points at a schema that exists.
    fn refs(v: &Value, out: &mut Vec<String>) {
        match v {
            Value::Object(map) => {
                if let Some(Value::String(r)) = map.get("$ref") {
                    out.push(r.clone());
                }
                map.values().for_each(|v| refs(v, out));
            }
            Value::Array(items) => items.iter().for_each(|v| refs(v, out)),
            _ => {}
        }
    }
    let mut all = Vec::new();
    refs(&doc, &mut all);
    assert!(all.len() > 30, "the document uses its components");
    for r in all {
        let pointer = r.strip_prefix('#').unwrap();
        assert!(doc.pointer(pointer).is_some(), "{r} resolves");
    }
    assert!(doc.pointer("/components/securitySchemes/api_key").is_some());
    // Every authenticated operation documents the common error answers.
    let mut authenticated = 0;
    for item in doc["paths"].as_object().unwrap().values() {
        for op in item.as_object().unwrap().values() {
            if op.get("security").is_some() {
                authenticated += 1;
                for status in ["400", "401", "500"] {
                    assert!(op["responses"].get(status).is_some(), "{status}: {op}");
                }
            }
        }
    }
    assert!(authenticated >= 18);
}

#[test]
fn every_route_of_the_api_router_is_documented() {
    let routes = router_routes();
    assert!(routes.len() >= 20, "the router source was read: {routes:?}");
    assert!(routes.contains(&("POST".into(), "/api/v1/payments".into())));
    assert!(routes.contains(&(
        "POST".into(),
        "/api/v1/webhook-endpoints/{id}/deliveries/{delivery_id}/resend".into()
    )));
    let doc = document();
    let documented = documented(&doc);
    let missing: Vec<_> = routes.difference(&documented).collect();
    assert!(
        missing.is_empty(),
        "routes missing from the document: {missing:?}"
    );
    let extra: Vec<_> = documented.difference(&routes).collect();
    assert!(extra.is_empty(), "documented but not routed: {extra:?}");
}

#[test]
fn every_error_code_is_documented() {
    let codes: BTreeSet<&str> = ERROR_CODES.iter().map(|(c, _, _)| *c).collect();
    for error in [
        ServiceError::Validation {
            field: "x".into(),
            message: "y".into(),
        },
        ServiceError::NotFound,
        ServiceError::NoActivePos,
        ServiceError::Unauthorized,
        ServiceError::Storage("x".into()),
        ServiceError::BadStatement {
            message: "x".into(),
            bad_rows: vec![],
        },
    ] {
        assert!(codes.contains(error.code()), "{} documented", error.code());
    }
    for api_only in [
        "invalid_request",
        "body_too_large",
        "unauthorized",
        "rate_limited",
        "internal_error",
    ] {
        assert!(codes.contains(api_only));
    }
    let doc = document();
    assert_eq!(
        doc["info"]["x-error-codes"].as_array().unwrap().len(),
        ERROR_CODES.len()
    );
}

/// Resolves a schema (following `$ref`, merging `allOf`) to its properties and
/// required names; `None` when it is not an object schema.
fn object_schema(
    doc: &Value,
    schema: &Value,
) -> Option<(serde_json::Map<String, Value>, BTreeSet<String>)> {
    if let Some(r) = schema.get("$ref").and_then(Value::as_str) {
        return object_schema(doc, doc.pointer(r.strip_prefix('#').unwrap()).unwrap());
    }
    let mut props = serde_json::Map::new();
    let mut required = BTreeSet::new();
    if let Some(all) = schema.get("allOf").and_then(Value::as_array) {
        for part in all {
            let (p, r) = object_schema(doc, part)?;
            props.extend(p);
            required.extend(r);
        }
    }
    if let Some(p) = schema.get("properties").and_then(Value::as_object) {
        props.extend(p.clone());
    }
    if let Some(r) = schema.get("required").and_then(Value::as_array) {
        required.extend(r.iter().filter_map(Value::as_str).map(str::to_owned));
    }
    if props.is_empty() {
        return None;
    }
    Some((props, required))
}

/// The real answer has exactly the documented fields (no undocumented one, every
/// required one), recursively through nested objects and arrays of objects.
fn conforms(doc: &Value, schema: &Value, value: &Value, at: &str, checked: &mut usize) {
    let schema = match schema.get("oneOf").and_then(Value::as_array) {
        // Option<T> of a component: `oneOf: [null, T]`.
        Some(choices) => match choices
            .iter()
            .find(|c| c.get("type") != Some(&json!("null")))
        {
            Some(c) if !value.is_null() => c,
            _ => return,
        },
        None => schema,
    };
    has_documented_type(doc, schema, value, at);
    match value {
        Value::Object(map) => {
            let Some((props, required)) = object_schema(doc, schema) else {
                return;
            };
            *checked += 1;
            for key in map.keys() {
                assert!(props.contains_key(key), "{at}.{key} is not documented");
            }
            for key in &required {
                assert!(
                    map.contains_key(key),
                    "{at}.{key} is documented as required but absent"
                );
            }
            for (key, v) in map {
                conforms(doc, &props[key], v, &format!("{at}.{key}"), checked);
            }
        }
        Value::Array(items) => {
            if let Some(item_schema) = schema.get("items") {
                for (i, v) in items.iter().enumerate() {
                    conforms(doc, item_schema, v, &format!("{at}[{i}]"), checked);
                }
            }
        }
        Value::Null => {}
        scalar => {
            // A value of a documented set (an enum, possibly behind a `$ref`) is one
            // of the set; a documented pattern of amounts and days holds.
            let schema = match schema.get("$ref").and_then(Value::as_str) {
                Some(r) => doc.pointer(r.strip_prefix('#').unwrap()).unwrap(),
                None => schema,
            };
            if let Some(allowed) = schema.get("enum").and_then(Value::as_array) {
                *checked += 1;
                assert!(
                    allowed.contains(scalar),
                    "{at} = {scalar} is not one of the documented {allowed:?}"
                );
            }
            match (
                schema.get("pattern").and_then(Value::as_str),
                scalar.as_str(),
            ) {
                (Some(r"^\d+\.\d{2}$"), Some(text)) => {
                    let (units, cents) = text.split_once('.').unwrap_or(("", ""));
                    assert!(
                        !units.is_empty()
                            && units.bytes().all(|b| b.is_ascii_digit())
                            && cents.len() == 2
                            && cents.bytes().all(|b| b.is_ascii_digit()),
                        "{at} = {text:?} is not an amount"
                    );
                }
                (Some("^[0-9]{4}-[0-9]{2}-[0-9]{2}$"), Some(text)) => {
                    assert!(
                        chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d").is_ok(),
                        "{at} = {text:?} is not a day"
                    );
                }
                _ => {}
            }
        }
    }
}

/// The value is of the JSON type the schema (or the component it refers to) names, when
/// it names one: an array where an object is documented is a mismatch.
fn has_documented_type(doc: &Value, schema: &Value, value: &Value, at: &str) {
    let schema = match schema.get("$ref").and_then(Value::as_str) {
        Some(r) => doc.pointer(r.strip_prefix('#').unwrap()).unwrap(),
        None => schema,
    };
    let types: Vec<&str> = match schema.get("type") {
        Some(Value::String(t)) => vec![t.as_str()],
        Some(Value::Array(ts)) => ts.iter().filter_map(Value::as_str).collect(),
        _ => return,
    };
    let fits = |t: &str| match value {
        Value::Null => t == "null",
        Value::Bool(_) => t == "boolean",
        Value::Number(n) => t == "number" || (t == "integer" && (n.is_i64() || n.is_u64())),
        Value::String(_) => t == "string",
        Value::Array(_) => t == "array",
        Value::Object(_) => t == "object",
    };
    assert!(
        types.iter().any(|t| fits(t)),
        "{at} = {value} is not of the documented type {types:?}"
    );
}

fn answer_schema(doc: &Value, method: &str, path: &str, status: &str) -> Value {
    doc["paths"][path][method]["responses"][status]["content"]["application/json"]["schema"].clone()
}

fn check(doc: &Value, method: &str, path: &str, status: &str, value: &Value) -> usize {
    let schema = answer_schema(doc, method, path, status);
    assert!(!schema.is_null(), "{method} {path} {status} has a schema");
    let mut checked = 0;
    conforms(
        doc,
        &schema,
        value,
        &format!("{method} {path}"),
        &mut checked,
    );
    assert!(checked > 0, "{method} {path}: something was compared");
    checked
}

both_engines!(answers_match_their_schemas, |app: TestApp| async move {
    let doc: Value = serde_json::from_str(
        &app.http
            .get(app.url("/api/v1/openapi.json"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap(),
    )
    .unwrap();
    assert_eq!(doc["openapi"], "3.1.0");
    let mut compared = 0;

    // Every documented operation is routed (neither the router's 404 nor 405).
    for (method, path) in documented(&doc) {
        let url = app.url(&path.replace('{', "x").replace('}', ""));
        let request = app
            .http
            .request(method.parse().unwrap(), url)
            .bearer_auth(&app.a.api_key);
        let response = request.send().await.unwrap();
        let status = response.status();
        let body = response.text().await.unwrap();
        assert_ne!(status, StatusCode::METHOD_NOT_ALLOWED, "{method} {path}");
        assert!(
            !(status == StatusCode::NOT_FOUND && body.contains("route not found")),
            "{method} {path} is routed"
        );
    }

    let (status, paid) = app
        .pay(&app.a, &key(), &payment("4546711234567894", "10.00"))
        .await;
    assert_eq!(status, StatusCode::CREATED);
    compared += check(&doc, "post", "/api/v1/payments", "201", &paid);
    let mut three_d = payment("4546711234567894", "11.00");
    three_d["three_d"] = json!(true);
    three_d["return_url"] = json!("https://shop.example/r");
    let (_, pending) = app.pay(&app.a, &key(), &three_d).await;
    assert!(pending["next_action"].is_object());
    compared += check(&doc, "post", "/api/v1/payments", "201", &pending);
    let id = paid["id"].as_str().unwrap();
    let (_, detail) = app.get(&app.a, &format!("/api/v1/payments/{id}")).await;
    compared += check(&doc, "get", "/api/v1/payments/{id}", "200", &detail);
    let (_, page) = app.get(&app.a, "/api/v1/payments?limit=1").await;
    assert!(page["next_cursor"].is_string());
    compared += check(&doc, "get", "/api/v1/payments", "200", &page);
    let (_, error) = app.get(&app.a, "/api/v1/payments/pay_nope").await;
    compared += check(&doc, "get", "/api/v1/payments/{id}", "404", &error);
    let (status, cancelled) = app
        .post(&app.a, &format!("/api/v1/payments/{id}/cancel"), None)
        .await;
    assert_eq!(status, StatusCode::OK);
    compared += check(
        &doc,
        "post",
        "/api/v1/payments/{id}/cancel",
        "200",
        &cancelled,
    );

    // A partial refund on the sale's day: scheduled (202), then withdrawn.
    let (_, to_refund) = app
        .pay(&app.a, &key(), &payment("4546711234567894", "20.00"))
        .await;
    let rid = to_refund["id"].as_str().unwrap();
    let (status, scheduled) = app
        .post(
            &app.a,
            &format!("/api/v1/payments/{rid}/refunds"),
            Some(json!({"amount": "5.00"})),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{scheduled}");
    assert_eq!(scheduled["refund"]["status"], "scheduled", "{scheduled}");
    compared += check(
        &doc,
        "post",
        "/api/v1/payments/{id}/refunds",
        "202",
        &scheduled,
    );
    let refund_id = scheduled["refund"]["id"].as_str().unwrap();
    let (status, withdrawn) = app
        .post(
            &app.a,
            &format!("/api/v1/payments/{rid}/refunds/{refund_id}/withdraw"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{withdrawn}");
    compared += check(
        &doc,
        "post",
        "/api/v1/payments/{id}/refunds/{refund_id}/withdraw",
        "200",
        &withdrawn,
    );

    let (_, session) = app
        .post(
            &app.a,
            "/api/v1/checkout-sessions",
            Some(json!({"purpose": "order", "amount": "5.00", "return_url": "https://shop.example/r"})),
        )
        .await;
    compared += check(&doc, "post", "/api/v1/checkout-sessions", "201", &session);
    let sid = session["id"].as_str().unwrap();
    let (_, fetched) = app
        .get(&app.a, &format!("/api/v1/checkout-sessions/{sid}"))
        .await;
    compared += check(
        &doc,
        "get",
        "/api/v1/checkout-sessions/{id}",
        "200",
        &fetched,
    );

    let (_, link) = app
        .post(
            &app.a,
            "/api/v1/checkout-sessions",
            Some(json!({"purpose": "account", "max_amount": "50.00", "description": "Aidat"})),
        )
        .await;
    let (_, links) = app.get(&app.a, "/api/v1/payment-links?limit=1").await;
    assert_eq!(links["items"].as_array().unwrap().len(), 1, "{links}");
    compared += check(&doc, "get", "/api/v1/payment-links", "200", &links);
    let lid = link["id"].as_str().unwrap();
    let (_, fetched) = app
        .get(&app.a, &format!("/api/v1/payment-links/{lid}"))
        .await;
    compared += check(&doc, "get", "/api/v1/payment-links/{id}", "200", &fetched);
    let (status, refused) = app
        .post(
            &app.a,
            &format!("/api/v1/payment-links/{lid}/send"),
            Some(json!({"email": "musteri@ornek.com.tr"})),
        )
        .await;
    assert_eq!(status.as_u16(), 503, "{refused}");
    compared += check(
        &doc,
        "post",
        "/api/v1/payment-links/{id}/send",
        "503",
        &refused,
    );

    let (_, endpoint) = app
        .post(
            &app.a,
            "/api/v1/webhook-endpoints",
            Some(json!({"url": "http://127.0.0.1:9/x", "events": ["payment.approved"]})),
        )
        .await;
    compared += check(&doc, "post", "/api/v1/webhook-endpoints", "201", &endpoint);
    let (_, endpoints) = app.get(&app.a, "/api/v1/webhook-endpoints").await;
    compared += check(&doc, "get", "/api/v1/webhook-endpoints", "200", &endpoints);
    app.pay(&app.a, &key(), &payment("4546711234567894", "12.00"))
        .await;
    let eid = endpoint["id"].as_str().unwrap();
    let mut deliveries = Value::Null;
    for _ in 0..200 {
        let (_, d) = app
            .get(
                &app.a,
                &format!("/api/v1/webhook-endpoints/{eid}/deliveries"),
            )
            .await;
        if d["items"][0]["tries"].as_i64().unwrap_or(0) > 0 {
            deliveries = d;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(
        deliveries["items"][0]["attempts"][0].is_object(),
        "{deliveries}"
    );
    compared += check(
        &doc,
        "get",
        "/api/v1/webhook-endpoints/{id}/deliveries",
        "200",
        &deliveries,
    );

    // A payment the provider's report lacks, so the run has an exception to offer
    // force-match candidates for.
    let lost = stored_payment(&app, 1250, "520019******8608", "IKSIRLOST1", "CARI-ZETA");
    app.store.seed_payments(vec![lost.clone()]).await.unwrap();
    app.end_of_day().await;
    let day = sanalpos_service::istanbul_today().to_string();
    let (status, run) = app
        .post(
            &app.a,
            "/api/v1/reconciliations",
            Some(json!({"pos_id": app.a.pos_id, "from": day, "to": day})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{run}");
    assert!(!run["items"].as_array().unwrap().is_empty());
    compared += check(&doc, "post", "/api/v1/reconciliations", "201", &run);
    let (_, runs) = app.get(&app.a, "/api/v1/reconciliations").await;
    compared += check(&doc, "get", "/api/v1/reconciliations", "200", &runs);
    let lonely = run["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["payment_ids"] == json!([lost.id]))
        .unwrap();
    let (status, offers) = app
        .get(
            &app.a,
            &format!(
                "/api/v1/reconciliations/{}/items/{}/candidates",
                run["id"].as_str().unwrap(),
                lonely["id"].as_str().unwrap()
            ),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{offers}");
    assert_eq!(
        offers["candidates"][0]["payment_id"],
        json!(lost.id),
        "{offers}"
    );
    compared += check(
        &doc,
        "get",
        "/api/v1/reconciliations/{id}/items/{item_id}/candidates",
        "200",
        &offers,
    );
    assert!(compared >= 25, "{compared} objects compared");
    // The comparison can fail: an undocumented field, or a missing required one.
    let schema = answer_schema(&doc, "get", "/api/v1/payments/{id}", "200");
    for broken in [
        {
            let mut d = detail.clone();
            d["attempts"][0]["secret_field"] = json!(1);
            d
        },
        {
            let mut d = detail.clone();
            d.as_object_mut().unwrap().remove("masked_pan");
            d
        },
    ] {
        let doc = doc.clone();
        let schema = schema.clone();
        let failed = std::panic::catch_unwind(move || {
            let mut n = 0;
            conforms(&doc, &schema, &broken, "broken", &mut n);
        })
        .is_err();
        assert!(failed, "a drifted answer is caught");
    }

    // The reference page is rendered from the same document, with no script.
    let page = app
        .http
        .get(app.url("/api/v1/docs"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(!page.contains("<script"));
    for (method, path) in documented(&doc) {
        assert!(page.contains(&path), "{method} {path} on the page");
    }
    for (code, _, _) in ERROR_CODES {
        assert!(page.contains(code));
    }
});

/// The answer of a sending that succeeded (it needs a mail server: a local test one).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sent_link_answer_matches_its_schema() {
    let smtp = sanalpos_testkit::smtp::SmtpServer::start().await;
    let port = smtp.port();
    let app = TestApp::spawn_with(Db::Sqlite, "sent_link_schema", move |config| {
        config.smtp = Some(sanalpos_server::config::SmtpConfig {
            host: "127.0.0.1".into(),
            port,
            tls: sanalpos_server::config::SmtpTls::None,
            username: String::new(),
            password: sanalpos_server::config::Secret::default(),
            from: "odeme@sirket.example".into(),
            timeout: std::time::Duration::from_secs(10),
        });
    })
    .await
    .unwrap();
    let doc = document();
    let (_, link) = app
        .post(
            &app.a,
            "/api/v1/checkout-sessions",
            Some(json!({"purpose": "account", "max_amount": "50.00"})),
        )
        .await;
    let (status, sent) = app
        .post(
            &app.a,
            &format!(
                "/api/v1/payment-links/{}/send",
                link["id"].as_str().unwrap()
            ),
            Some(json!({"email": "musteri@ornek.com.tr"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{sent}");
    check(
        &doc,
        "post",
        "/api/v1/payment-links/{id}/send",
        "200",
        &sent,
    );
    assert_eq!(smtp.mails().len(), 1);
}

#[test]
fn every_authenticated_operation_documents_the_rate_limit() {
    let doc = document();
    let mut seen = 0;
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            if op.get("security").is_none() {
                continue;
            }
            seen += 1;
            let limited = &op["responses"]["429"];
            assert_eq!(
                limited["content"]["application/json"]["schema"]["$ref"],
                "#/components/schemas/ErrorEnvelope",
                "{method} {path}: 429 in the error envelope"
            );
            assert_eq!(
                limited["headers"]["Retry-After"]["schema"]["type"], "integer",
                "{method} {path}: 429 names Retry-After"
            );
        }
    }
    assert!(seen > 10, "authenticated operations found: {seen}");
    let codes = doc["info"]["x-error-codes"].as_array().unwrap();
    assert!(codes.iter().any(|c| c.to_string().contains("rate_limited")));
}
