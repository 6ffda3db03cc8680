//! The reference page (`/api/v1/docs`): the OpenAPI document rendered as HTML on the
//! server (no script, no CDN): every operation with its parameters, body and answers,
//! the error code table, and every schema with its fields.

use axum::http::header;
use axum::response::{IntoResponse, Response};
use maud::{html, Markup, PreEscaped, DOCTYPE};
use serde_json::Value;

use super::{document, ERROR_CODES};

fn schema_name(schema: &Value) -> String {
    if let Some(r) = schema.get("$ref").and_then(Value::as_str) {
        return r.rsplit('/').next().unwrap_or(r).to_owned();
    }
    if let Some(items) = schema.get("items") {
        return format!("[{}]", schema_name(items));
    }
    if let Some(one) = schema.get("oneOf").and_then(Value::as_array) {
        let names: Vec<String> = one.iter().map(schema_name).collect();
        return names.join(" | ");
    }
    match schema.get("type") {
        Some(Value::String(t)) => t.clone(),
        Some(Value::Array(ts)) => ts
            .iter()
            .filter_map(Value::as_str)
            .collect::<Vec<_>>()
            .join(" | "),
        _ => "object".into(),
    }
}

fn render(doc: &Value) -> Markup {
    let text = |v: &Value, k: &str| v.get(k).and_then(Value::as_str).unwrap_or("").to_owned();
    let empty = serde_json::Map::new();
    let paths = doc
        .get("paths")
        .and_then(Value::as_object)
        .unwrap_or(&empty);
    let schemas = doc
        .pointer("/components/schemas")
        .and_then(Value::as_object)
        .unwrap_or(&empty);
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                title { "sanalpos API reference" }
                style { (PreEscaped("body{font-family:system-ui,sans-serif;max-width:980px;margin:24px auto;padding:0 16px;color:#1d2330}\
                    code,.path{font-family:ui-monospace,monospace}.op{border:1px solid #dde1e6;border-radius:8px;padding:12px 16px;margin:14px 0}\
                    .m{display:inline-block;min-width:60px;font-weight:700;text-transform:uppercase}table{border-collapse:collapse;width:100%;margin:6px 0}\
                    td,th{border-bottom:1px solid #eceef1;text-align:left;padding:4px 8px;vertical-align:top;font-size:14px}h3{margin:6px 0}")) }
            }
            body {
                h1 { (text(&doc["info"], "title")) }
                p { (text(&doc["info"], "description")) }
                p { "Machine-readable: " a href="/api/v1/openapi.json" { "/api/v1/openapi.json" } " (OpenAPI " (text(doc, "openapi")) ")." }
                h2 { "Operations" }
                @for (path, item) in paths {
                    @if let Some(ops) = item.as_object() {
                        @for (method, op) in ops {
                            div .op id={ (method) "-" (path.replace(['/', '{', '}'], "_")) } {
                                h3 { span .m { (method) } " " span .path { (path) } }
                                p { strong { (text(op, "summary")) } }
                                @if !text(op, "description").is_empty() { p { (text(op, "description")) } }
                                @if let Some(params) = op.get("parameters").and_then(Value::as_array) {
                                    table {
                                        tr { th { "parameter" } th { "in" } th { "required" } th { "description" } }
                                        @for p in params {
                                            tr {
                                                td { code { (text(p, "name")) } }
                                                td { (text(p, "in")) }
                                                td { (p.get("required").and_then(Value::as_bool).unwrap_or(false)) }
                                                td { (text(p, "description")) }
                                            }
                                        }
                                    }
                                }
                                @if let Some(body) = op.pointer("/requestBody/content").and_then(Value::as_object) {
                                    @for (ctype, c) in body {
                                        p { "Body (" (ctype) "): " code { (schema_name(&c["schema"])) } }
                                    }
                                }
                                @if let Some(responses) = op.get("responses").and_then(Value::as_object) {
                                    table {
                                        tr { th { "status" } th { "answer" } }
                                        @for (status, r) in responses {
                                            tr {
                                                td { (status) }
                                                td {
                                                    (text(r, "description")) " "
                                                    @if let Some(content) = r.get("content").and_then(Value::as_object) {
                                                        @for (_, c) in content { code { (schema_name(&c["schema"])) } }
                                                    }
                                                }
                                            }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
                h2 { "Error codes" }
                table {
                    tr { th { "code" } th { "HTTP" } th { "meaning" } }
                    @for (code, status, meaning) in ERROR_CODES {
                        tr { td { code { (code) } } td { (status) } td { (meaning) } }
                    }
                }
                h2 { "Schemas" }
                @for (name, schema) in schemas {
                    div .op id={ "schema-" (name) } {
                        h3 { (name) }
                        @if !text(schema, "description").is_empty() { p { (text(schema, "description")) } }
                        @if let Some(props) = schema.get("properties").and_then(Value::as_object) {
                            @let required: Vec<&str> = schema.get("required").and_then(Value::as_array).map(|r| r.iter().filter_map(Value::as_str).collect()).unwrap_or_default();
                            table {
                                tr { th { "field" } th { "type" } th { "required" } th { "description" } }
                                @for (field, p) in props {
                                    tr {
                                        td { code { (field) } }
                                        td { (schema_name(p)) }
                                        td { (required.contains(&field.as_str())) }
                                        td { (text(p, "description")) }
                                    }
                                }
                            }
                        }
                        @if let Some(all) = schema.get("allOf").and_then(Value::as_array) {
                            p { "All of: " @for s in all { code { (schema_name(s)) } " " } }
                        }
                    }
                }
            }
        }
    }
}

/// This reference, as a page
#[utoipa::path(get, path = "/api/v1/docs", operation_id = "docs_page", tag = "reference",
    responses((status = 200, description = "HTML", content_type = "text/html")))]
pub async fn docs() -> Response {
    (
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        render(&document()).into_string(),
    )
        .into_response()
}
