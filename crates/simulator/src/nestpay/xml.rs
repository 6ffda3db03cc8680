//! The XML codec of `/fim/api`: finding the `CC5Request` document in a raw or a
//! `DATA=` form body, decoding it from its declared charset (ISO-8859-9 in practice),
//! flattening it to `path → value` fields, and writing `CC5Response` answers in
//! ISO-8859-9.
//!
//! A request holds the card number and CVV while it is handled; its values are wiped
//! on drop and its `Debug` shows field names only.

use std::fmt;

use encoding_rs::{Encoding, UTF_8, WINDOWS_1254};
use quick_xml::events::Event;
use quick_xml::Reader;
use zeroize::Zeroize;

/// Why a body is not a `CC5Request` document.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum XmlError {
    /// No document: an empty body or a form without `DATA`.
    #[error("no XML document in the request")]
    Missing,
    /// The document is not well-formed XML.
    #[error("the XML document is not well-formed")]
    Malformed,
    /// The root element is not `CC5Request`.
    #[error("the root element is not CC5Request")]
    WrongRoot,
}

/// A parsed `CC5Request`: leaf elements as `Name`, `Extra/PREAMT`, `BillTo/Name`…
pub struct Request {
    fields: Vec<(String, String)>,
}

impl fmt::Debug for Request {
    /// Field names only: values may hold a card number.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list()
            .entries(self.fields.iter().map(|(k, _)| k))
            .finish()
    }
}

impl Drop for Request {
    fn drop(&mut self) {
        for (_, value) in &mut self.fields {
            value.zeroize();
        }
    }
}

impl Request {
    /// The value of the leaf at `path` (`Total`, `Extra/ORDERSTATUS`), if present.
    pub fn get(&self, path: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(k, _)| k == path)
            .map(|(_, v)| v.as_str())
    }

    /// The value at `path` when present and not empty after trimming.
    pub fn non_empty(&self, path: &str) -> Option<&str> {
        self.get(path).map(str::trim).filter(|v| !v.is_empty())
    }

    /// The value at `path`, or `""`.
    pub fn get_or_empty(&self, path: &str) -> &str {
        self.get(path).unwrap_or("")
    }
}

fn is_form(content_type: Option<&str>) -> bool {
    content_type.is_some_and(|ct| {
        ct.trim()
            .to_ascii_lowercase()
            .starts_with("application/x-www-form-urlencoded")
    })
}

/// Percent-decodes a form value to bytes (`+` is a space).
pub fn percent_decode(raw: &[u8]) -> Vec<u8> {
    let hex = |b: u8| (b as char).to_digit(16).map(|d| d as u8);
    let mut out = Vec::with_capacity(raw.len());
    let mut k = 0;
    while k < raw.len() {
        match raw[k] {
            b'+' => out.push(b' '),
            b'%' if k + 2 < raw.len() => match (hex(raw[k + 1]), hex(raw[k + 2])) {
                (Some(h), Some(l)) => {
                    out.push(h * 16 + l);
                    k += 2;
                }
                _ => out.push(b'%'),
            },
            other => out.push(other),
        }
        k += 1;
    }
    out
}

/// The document bytes of a `/fim/api` body: the raw body, or the `DATA` field of a
/// form whether its XML is URL-encoded (mews-style clients) or sent as-is (CP.VPOS).
pub fn extract_document(content_type: Option<&str>, body: &[u8]) -> Result<Vec<u8>, XmlError> {
    let trimmed = trim_ascii_start(body);
    if let Some(rest) = trimmed.strip_prefix(b"DATA=") {
        // Not URL-encoded: the XML itself follows, `&` and all.
        if trim_ascii_start(rest).starts_with(b"<") {
            return Ok(rest.to_vec());
        }
    }
    if is_form(content_type) || trimmed.starts_with(b"DATA=") {
        for pair in body.split(|b| *b == b'&') {
            if let Some(value) = pair.strip_prefix(b"DATA=") {
                let decoded = percent_decode(value);
                if decoded.iter().all(u8::is_ascii_whitespace) {
                    return Err(XmlError::Missing);
                }
                return Ok(decoded);
            }
        }
        return Err(XmlError::Missing);
    }
    if trimmed.is_empty() {
        return Err(XmlError::Missing);
    }
    Ok(body.to_vec())
}

fn trim_ascii_start(bytes: &[u8]) -> &[u8] {
    let start = bytes
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(bytes.len());
    &bytes[start..]
}

/// The charset named by the XML declaration (`encoding="ISO-8859-9"`); UTF-8 without
/// one. `ISO-8859-9` is decoded as its superset Windows-1254, as browsers do.
fn declared_encoding(doc: &[u8]) -> &'static Encoding {
    let head = &doc[..doc.len().min(200)];
    let Some(end) = head.windows(2).position(|w| w == b"?>") else {
        return UTF_8;
    };
    let decl = String::from_utf8_lossy(&head[..end]);
    let Some(at) = decl.find("encoding") else {
        return UTF_8;
    };
    let rest = decl[at + "encoding".len()..].trim_start();
    let Some(rest) = rest.strip_prefix('=') else {
        return UTF_8;
    };
    let rest = rest.trim_start();
    let quote = match rest.chars().next() {
        Some(q @ ('"' | '\'')) => q,
        _ => return UTF_8,
    };
    let label = rest[1..].split(quote).next().unwrap_or("");
    Encoding::for_label(label.trim().as_bytes()).unwrap_or(UTF_8)
}

/// Decodes the document's bytes from its declared charset.
pub fn decode_document(doc: &[u8]) -> String {
    let (text, _, _) = declared_encoding(doc).decode(doc);
    text.into_owned()
}

/// Parses a decoded `CC5Request` into its leaf fields. Character and predefined
/// entity references are resolved (`Z&#x130;RAAT` → `ZİRAAT`).
pub fn parse_request(text: &str) -> Result<Request, XmlError> {
    let mut reader = Reader::from_str(text);
    let mut path: Vec<String> = Vec::new();
    let mut fields: Vec<(String, String)> = Vec::new();
    let mut value = String::new();
    let mut seen_root = false;
    loop {
        match reader.read_event().map_err(|_| XmlError::Malformed)? {
            Event::Start(start) => {
                let name = String::from_utf8_lossy(start.name().as_ref()).into_owned();
                if path.is_empty() {
                    if seen_root || name != "CC5Request" {
                        return Err(XmlError::WrongRoot);
                    }
                    seen_root = true;
                }
                path.push(name);
                value.clear();
            }
            Event::Empty(empty) => {
                let name = String::from_utf8_lossy(empty.name().as_ref()).into_owned();
                if path.is_empty() {
                    return Err(XmlError::WrongRoot);
                }
                let mut full = path[1..].join("/");
                if !full.is_empty() {
                    full.push('/');
                }
                full.push_str(&name);
                fields.push((full, String::new()));
            }
            Event::Text(t) => {
                value.push_str(&t.decode().map_err(|_| XmlError::Malformed)?);
            }
            Event::CData(c) => {
                value.push_str(&c.decode().map_err(|_| XmlError::Malformed)?);
            }
            Event::GeneralRef(r) => {
                if r.is_char_ref() {
                    match r.resolve_char_ref() {
                        Ok(Some(ch)) => value.push(ch),
                        _ => return Err(XmlError::Malformed),
                    }
                } else {
                    let name = r.decode().map_err(|_| XmlError::Malformed)?;
                    let ch = match name.as_ref() {
                        "amp" => '&',
                        "lt" => '<',
                        "gt" => '>',
                        "quot" => '"',
                        "apos" => '\'',
                        _ => return Err(XmlError::Malformed),
                    };
                    value.push(ch);
                }
            }
            Event::End(_) => {
                let Some(name) = path.pop() else {
                    return Err(XmlError::Malformed);
                };
                // A leaf: the last recorded field is not a child of this element.
                let prefix = path[path.len().min(1)..].join("/");
                let full = if prefix.is_empty() {
                    name
                } else {
                    format!("{prefix}/{name}")
                };
                let has_children = fields
                    .last()
                    .is_some_and(|(k, _)| k.starts_with(&format!("{full}/")));
                if !path.is_empty() && !has_children {
                    fields.push((full, std::mem::take(&mut value)));
                }
                value.clear();
            }
            Event::Eof => break,
            _ => {}
        }
    }
    if !seen_root || !path.is_empty() {
        return Err(XmlError::Malformed);
    }
    Ok(Request { fields })
}

/// One element of an answer: a text leaf or a group of text leaves (`Extra`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Node {
    /// `<Name>text</Name>`.
    Leaf(String, String),
    /// `<Name><A>a</A>…</Name>`.
    Group(String, Vec<(String, String)>),
}

fn escape_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for ch in text.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            _ => out.push(ch),
        }
    }
    out
}

/// The `CC5Response` document text, indented like the bank's answers.
pub fn response_text(nodes: &[Node]) -> String {
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"ISO-8859-9\"?>\n<CC5Response>\n");
    for node in nodes {
        match node {
            Node::Leaf(name, value) => {
                out.push_str(&format!("  <{name}>{}</{name}>\n", escape_text(value)));
            }
            Node::Group(name, children) => {
                out.push_str(&format!("  <{name}>\n"));
                for (child, value) in children {
                    out.push_str(&format!("    <{child}>{}</{child}>\n", escape_text(value)));
                }
                out.push_str(&format!("  </{name}>\n"));
            }
        }
    }
    out.push_str("</CC5Response>");
    out
}

/// The answer's bytes in ISO-8859-9 (characters it lacks become character
/// references).
pub fn encode_response(nodes: &[Node]) -> Vec<u8> {
    let text = response_text(nodes);
    let (bytes, _, _) = WINDOWS_1254.encode(&text);
    bytes.into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOC: &str = "<?xml version=\"1.0\" encoding=\"ISO-8859-9\"?>\n<CC5Request><Name>A&amp;B</Name><Total>1.00</Total><Extra><PREAMT>2.00</PREAMT></Extra><BillTo><Name>Z&#x130;RAAT</Name></BillTo><Empty/><Blank></Blank></CC5Request>\n";

    #[test]
    fn flattens_nested_fields_and_references() {
        let request = parse_request(DOC).unwrap();
        assert_eq!(request.get("Name"), Some("A&B"));
        assert_eq!(request.get("Extra/PREAMT"), Some("2.00"));
        assert_eq!(request.get("BillTo/Name"), Some("ZİRAAT"));
        assert_eq!(request.get("Extra"), None);
        assert_eq!(request.get("Empty"), Some(""));
        assert_eq!(request.get("Blank"), Some(""));
        assert!(!format!("{request:?}").contains("1.00"));
    }

    #[test]
    fn finds_the_document_in_every_body_shape() {
        let raw = DOC.as_bytes();
        assert_eq!(extract_document(Some("text/xml"), raw).unwrap(), raw);
        let plain = format!("DATA={DOC}");
        assert_eq!(
            extract_document(Some("application/x-www-form-urlencoded"), plain.as_bytes()).unwrap(),
            raw
        );
        let encoded = serde_urlencoded::to_string([("DATA", DOC)]).unwrap();
        assert_eq!(
            extract_document(
                Some("application/x-www-form-urlencoded"),
                encoded.as_bytes()
            )
            .unwrap(),
            raw
        );
        assert_eq!(
            extract_document(Some("application/x-www-form-urlencoded"), b"X=1"),
            Err(XmlError::Missing)
        );
        assert_eq!(extract_document(None, b"  "), Err(XmlError::Missing));
    }

    #[test]
    fn iso_8859_9_both_ways() {
        let bytes = b"<?xml version=\"1.0\" encoding=\"ISO-8859-9\"?><CC5Request><Name>\xdd\xfe\xf0</Name></CC5Request>";
        let request = parse_request(&decode_document(bytes)).unwrap();
        assert_eq!(request.get("Name"), Some("İşğ"));
        let out = encode_response(&[Node::Leaf("ErrMsg".into(), "İşğ <&>".into())]);
        assert!(out.windows(3).any(|w| w == b"\xdd\xfe\xf0"));
        assert!(String::from_utf8_lossy(&out).contains("&lt;&amp;&gt;"));
        assert!(parse_request("<Other/>").is_err());
        assert!(parse_request("<CC5Request><A></CC5Request>").is_err());
    }
}
