//! The simulator's own PosNet codec and MACs, independent of the gateway crate's
//! client (pinned by vectors/posnet.json in the tests): the `xmldata` form field in,
//! `posnetResponse` documents out in ISO-8859-9.

use std::collections::HashMap;

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use quick_xml::events::Event;
use quick_xml::Reader;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// A request read into `path → text` (`sale/orderID`), below `posnetRequest`, plus the
/// name of its operation element.
#[derive(Debug, Default)]
pub struct Request {
    /// The operation element (`sale`, `oosTranData`…), the first group below the root.
    pub operation: String,
    fields: HashMap<String, String>,
}

impl Request {
    /// A value by path, trimmed; `None` when absent or blank.
    pub fn get(&self, path: &str) -> Option<&str> {
        self.fields
            .get(path)
            .map(|v| v.trim())
            .filter(|v| !v.is_empty())
    }

    /// A value of the operation element.
    pub fn op(&self, name: &str) -> Option<&str> {
        self.get(&format!("{}/{name}", self.operation))
    }
}

/// The XML of a request body: `xmldata=` stripped, URL-decoded only when what is left
/// does not start with `<` (the reference clients send both), bytes read as
/// ISO-8859-9 unless they are UTF-8.
pub fn xml_of(body: &[u8]) -> Option<String> {
    let rest = body.strip_prefix(b"xmldata=")?;
    let bytes: Vec<u8> = if rest.first() == Some(&b'<') {
        rest.to_vec()
    } else {
        percent_decode(rest)?
    };
    Some(match std::str::from_utf8(&bytes) {
        Ok(text) => text.to_owned(),
        Err(_) => encoding_rs::WINDOWS_1254.decode(&bytes).0.into_owned(),
    })
}

fn percent_decode(input: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(input.len());
    let mut i = 0;
    while i < input.len() {
        match input[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = input.get(i + 1..i + 3)?;
                out.push(u8::from_str_radix(std::str::from_utf8(hex).ok()?, 16).ok()?);
                i += 2;
            }
            b'&' => return None,
            b => out.push(b),
        }
        i += 1;
    }
    Some(out)
}

/// Reads a `posnetRequest`; `None` when it is not one.
pub fn parse(xml: &str) -> Option<Request> {
    let mut reader = Reader::from_str(xml);
    let mut path: Vec<String> = Vec::new();
    let mut request = Request::default();
    loop {
        match reader.read_event().ok()? {
            Event::Start(e) => {
                let name = String::from_utf8_lossy(e.name().as_ref()).into_owned();
                if path.len() == 1 && request.operation.is_empty() && !is_header(&name) {
                    request.operation = name.clone();
                }
                path.push(name);
            }
            Event::Empty(e) => {
                let name = String::from_utf8_lossy(e.name().as_ref()).into_owned();
                let key = path
                    .iter()
                    .skip(1)
                    .cloned()
                    .chain([name])
                    .collect::<Vec<_>>();
                request.fields.insert(key.join("/"), String::new());
            }
            Event::Text(t) => {
                let text = t.xml10_content().ok()?.into_owned();
                let key = path.iter().skip(1).cloned().collect::<Vec<_>>().join("/");
                request.fields.entry(key).or_default().push_str(&text);
            }
            Event::GeneralRef(r) => {
                let name = r.decode().ok()?;
                let resolved = quick_xml::escape::resolve_predefined_entity(&name)?;
                let key = path.iter().skip(1).cloned().collect::<Vec<_>>().join("/");
                request.fields.entry(key).or_default().push_str(resolved);
            }
            Event::End(_) => {
                path.pop();
            }
            Event::Eof => break,
            _ => {}
        }
        if path.first().is_some_and(|root| root != "posnetRequest") {
            return None;
        }
    }
    Some(request)
}

fn is_header(name: &str) -> bool {
    matches!(name, "mid" | "tid" | "tranDateRequired")
}

/// An answer being written: flat fields and groups, in order.
pub enum Node {
    /// `<name>text</name>`.
    Leaf(&'static str, String),
    /// `<name>children</name>`.
    Group(&'static str, Vec<Node>),
}

/// A leaf.
pub fn leaf(name: &'static str, text: impl Into<String>) -> Node {
    Node::Leaf(name, text.into())
}

fn write(node: &Node, out: &mut String) {
    match node {
        Node::Leaf(name, text) => {
            out.push_str(&format!("<{name}>"));
            for c in text.chars() {
                match c {
                    '&' => out.push_str("&amp;"),
                    '<' => out.push_str("&lt;"),
                    '>' => out.push_str("&gt;"),
                    c => out.push(c),
                }
            }
            out.push_str(&format!("</{name}>"));
        }
        Node::Group(name, children) => {
            out.push_str(&format!("<{name}>"));
            for child in children {
                write(child, out);
            }
            out.push_str(&format!("</{name}>"));
        }
    }
}

/// A `posnetResponse` as the bank writes it: declared ISO-8859-9, encoded so.
pub fn answer_bytes(nodes: &[Node]) -> Vec<u8> {
    let mut text = String::from("<?xml version=\"1.0\" encoding=\"ISO-8859-9\"?><posnetResponse>");
    for node in nodes {
        write(node, &mut text);
    }
    text.push_str("</posnetResponse>");
    encoding_rs::WINDOWS_1254.encode(&text).0.into_owned()
}

/// The HTTP answer (200) of a document.
pub fn xml_response(bytes: Vec<u8>) -> Response {
    let mut response = (StatusCode::OK, bytes).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/xml; charset=ISO-8859-9"),
    );
    response
}

fn sha256_b64(text: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(Sha256::digest(text.as_bytes()))
}

/// `firstHash` of a merchant: Base64(SHA-256(ENCKEY `;` tid)).
pub fn first_hash(enc_key: &str, tid: &str) -> String {
    sha256_b64(&[enc_key, tid].join(";"))
}

/// The MAC the bank expects in `oosResolveMerchantData` and `oosTranData`.
pub fn expected_request_mac(
    xid: &str,
    amount: &str,
    currency: &str,
    mid: &str,
    first: &str,
) -> String {
    sha256_b64(&[xid, amount, currency, mid, first].join(";"))
}

/// The MAC of an `oosResolveMerchantDataResponse`.
pub fn resolve_answer_mac(
    md_status: &str,
    xid: &str,
    amount: &str,
    currency: &str,
    mid: &str,
    first: &str,
) -> String {
    sha256_b64(&[md_status, xid, amount, currency, mid, first].join(";"))
}

/// Constant-time equality of two MACs.
pub fn same(a: &str, b: &str) -> bool {
    a.len() == b.len() && bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_body_forms_are_read() {
        let raw = b"xmldata=<posnetRequest><mid>1</mid><tid>2</tid><sale><orderID>A</orderID></sale></posnetRequest>";
        let r = parse(&xml_of(raw).unwrap()).unwrap();
        assert_eq!(r.operation, "sale");
        assert_eq!(r.op("orderID"), Some("A"));
        let encoded = b"xmldata=%3CposnetRequest%3E%3Cmid%3E1%3C%2Fmid%3E%3Cagreement%3E%3CorderID%3EB%3C%2ForderID%3E%3C%2Fagreement%3E%3C%2FposnetRequest%3E";
        let r = parse(&xml_of(encoded).unwrap()).unwrap();
        assert_eq!(
            (r.operation.as_str(), r.get("mid")),
            ("agreement", Some("1"))
        );
        assert!(parse("<other><a>1</a></other>").is_none());
        assert_eq!(
            first_hash("10,10,10,10,10,10,10,10", "67005551"),
            "c1PPl+2UcdixyhgLYnf4VfJyFGaNQNOwE0uMkci7Uag="
        );
    }
}
