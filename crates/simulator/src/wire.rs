//! The wire codec shared by every endpoint: form parsing, field validation, the
//! provider's error answers and JSON/HTML answer helpers.
//!
//! Every check a request goes through runs in the provider's order: `sx` → caller IP →
//! missing or malformed fields → hash → business rules. Each failure is a [`Reject`],
//! which renders the provider's exact answer. None of them is signed, none records a
//! transaction, and none echoes a field value (a card number or CVV could be in it).

use std::net::IpAddr;
use std::sync::Arc;

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use sanalpos_core::Kurus;
use serde_json::{json, Value};

use crate::config::MerchantConfig;
use crate::hash;
use crate::state::{Sim, SxKind};

/// A parsed form body: the fields in the order sent. The first occurrence of a name wins.
#[derive(Debug, Default)]
pub struct Form(Vec<(String, String)>);

impl Form {
    /// Parses `application/x-www-form-urlencoded`; an unparseable body is an empty form,
    /// which then fails the required-field checks like the provider does.
    pub fn parse(body: &[u8]) -> Form {
        Form(serde_urlencoded::from_bytes(body).unwrap_or_default())
    }

    /// The value of `name`, if sent.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The value of `name`, or `""` when absent (for optional hashed fields).
    pub fn get_or_empty(&self, name: &str) -> &str {
        self.get(name).unwrap_or("")
    }

    /// A field that must be present and non-empty.
    pub fn required(&self, name: &str) -> Result<&str, Reject> {
        match self.get(name) {
            Some(v) if !v.is_empty() => Ok(v),
            _ => Err(Reject::Field(format!("{name} alanı zorunludur"))),
        }
    }

    /// A required amount with exactly two decimals (`150.00`), not zero.
    pub fn amount(&self, name: &str) -> Result<Kurus, Reject> {
        let text = self.required(name)?;
        parse_wire_amount(text).ok_or_else(|| bad_field(name))
    }
}

/// `^\d+\.\d{2}$`, not zero. `150`, `150.5` and `150.005` are refused.
pub fn parse_wire_amount(text: &str) -> Option<Kurus> {
    let (whole, fraction) = text.split_once('.')?;
    let shape_ok = !whole.is_empty()
        && whole.bytes().all(|b| b.is_ascii_digit())
        && fraction.len() == 2
        && fraction.bytes().all(|b| b.is_ascii_digit());
    if !shape_ok {
        return None;
    }
    Kurus::parse(text).ok().filter(|k| k.minor() > 0)
}

/// The format error naming a field (never its value).
pub fn bad_field(name: &str) -> Reject {
    Reject::Field(format!("{name} alanı hatalı"))
}

/// Why a request was refused before any business rule ran, or by a business rule that
/// answers with the plain error shape.
#[derive(Debug)]
pub enum Reject {
    /// No merchant has this `sx` (or it is another of the merchant's three tokens).
    Auth,
    /// The caller's IP is not on the merchant's allowlist.
    Ip(IpAddr),
    /// A missing or malformed field: the Turkish text names it.
    Field(String),
    /// `hashDatav2` does not verify.
    Hash,
    /// A plain refusal: `RESPONSE_CODE 0` with this `ERROR_CODE` and text.
    Plain(&'static str, String),
}

impl IntoResponse for Reject {
    fn into_response(self) -> Response {
        match self {
            Reject::Auth => plain_error("AUTH001", "Geçersiz sx bilgisi"),
            Reject::Ip(ip) => plain_error("IP0001", &format!("IP adresi tanımlı değil: {ip}")),
            Reject::Field(text) => plain_error("AB0001", &text),
            Reject::Hash => hash_error(),
            Reject::Plain(code, text) => plain_error(code, &text),
        }
    }
}

/// `{"RESPONSE_CODE":"0","RESPONSE_DATA":text,"ERROR_CODE":code}`.
pub fn plain_error(code: &str, text: &str) -> Response {
    json_answer(&json!({
        "RESPONSE_CODE": "0",
        "RESPONSE_DATA": text,
        "ERROR_CODE": code,
    }))
}

/// The hash-mismatch answer: `result` is a JSON string and its `RESPONSE_CODE` a number.
pub fn hash_error() -> Response {
    let inner = json!({"RESPONSE_CODE": 9, "RESPONSE_DATA": "API : hashData error :: "});
    json_answer(&json!({"id": "", "result": inner.to_string()}))
}

/// A 200 answer with a JSON body.
pub fn json_answer(value: &Value) -> Response {
    json_with_status(StatusCode::OK, value)
}

/// An answer with a JSON body and the given status.
pub fn json_with_status(status: StatusCode, value: &Value) -> Response {
    let mut response = (status, value.to_string()).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json; charset=utf-8"),
    );
    response
}

/// A 200 answer with an HTML body.
pub fn html_answer(status: StatusCode, body: String) -> Response {
    let mut response = (status, body).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    response
}

/// Finds the merchant by the request's `sx` (of the kind the endpoint needs) and checks
/// the caller's IP against its allowlist.
pub fn authenticate(
    sim: &Sim,
    form: &Form,
    kind: SxKind,
    peer: IpAddr,
) -> Result<Arc<MerchantConfig>, Reject> {
    let sx = form.get("sx").ok_or(Reject::Auth)?;
    let merchant = sim.lock().merchant_by_sx(sx, kind).ok_or(Reject::Auth)?;
    let peer = peer.to_canonical();
    if let Some(allowed) = &merchant.allowed_ips {
        if !allowed.iter().any(|ip| ip.to_canonical() == peer) {
            return Err(Reject::Ip(peer));
        }
    }
    Ok(merchant)
}

/// Checks a request's `hashDatav2` over `fields` (in the endpoint's order).
pub fn check_hash(form: &Form, fields: &[&str], secret: &str) -> Result<(), Reject> {
    let given = form.required("hashDatav2")?;
    if hash::verify_v2(fields, secret, given) {
        Ok(())
    } else {
        Err(Reject::Hash)
    }
}

/// Checks a request's `hashDatav2` against the hash the endpoint expects.
pub fn check_signature(form: &Form, expected: &str) -> Result<(), Reject> {
    let given = form.required("hashDatav2")?;
    if hash::same_hash(expected, given) {
        Ok(())
    } else {
        Err(Reject::Hash)
    }
}

/// Escapes text for an HTML attribute or element body.
pub fn html_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 8);
    for ch in text.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(ch),
        }
    }
    out
}

/// An HTML page whose form (id `form`) posts `fields` to `action` as soon as it loads.
pub fn auto_post_page(action: &str, fields: &[(&str, String)]) -> String {
    let mut inputs = String::new();
    for (name, value) in fields {
        inputs.push_str(&format!(
            "<input type=\"hidden\" name=\"{}\" value=\"{}\">",
            html_escape(name),
            html_escape(value)
        ));
    }
    format!(
        "<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>Yönlendiriliyor</title></head>\
         <body><form id=\"form\" method=\"post\" action=\"{}\">{inputs}\
         <noscript><button type=\"submit\">Devam</button></noscript></form>\
         <script>document.getElementById('form').submit()</script></body></html>",
        html_escape(action)
    )
}

/// Marker put on a response to make the server drop the connection instead of sending
/// it (fault card 9060).
#[derive(Debug, Clone, Copy)]
pub struct DropConnection;

/// A response the server will never send: the connection is closed instead.
pub fn drop_connection() -> Response {
    let mut response = StatusCode::INTERNAL_SERVER_ERROR.into_response();
    response.extensions_mut().insert(DropConnection);
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_amounts_are_strict() {
        assert_eq!(parse_wire_amount("150.00").unwrap().minor(), 15_000);
        assert_eq!(parse_wire_amount("0.01").unwrap().minor(), 1);
        for bad in [
            "150", "150.5", "150.005", "0.00", "-1.00", "1,00", ".50", "1.0a", "",
        ] {
            assert!(parse_wire_amount(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn forms_keep_plus_and_slash_in_tokens() {
        let form = Form::parse(b"sx=1%7Cab%2Bc%2F%3D&amount=1.00&empty=");
        assert_eq!(form.get("sx"), Some("1|ab+c/="));
        assert!(form.required("empty").is_err());
        assert!(form.required("missing").is_err());
        assert_eq!(form.get_or_empty("missing"), "");
    }

    #[test]
    fn escapes_html() {
        assert_eq!(
            html_escape("<a href=\"x\">&'"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;"
        );
        let page = auto_post_page("http://x/ok?a=1&b=2", &[("A", "v\"1".into())]);
        assert!(page.contains("action=\"http://x/ok?a=1&amp;b=2\""));
        assert!(page.contains("value=\"v&quot;1\""));
    }
}
