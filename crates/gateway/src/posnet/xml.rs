//! The codec: `posnetRequest` documents out, `posnetResponse` documents in, both declared
//! ISO-8859-9, carried in the form field `xmldata`.
//!
//! A request is written as the reference clients write it: the declaration, LF, the
//! request on one line, a trailing LF; its bytes are ISO-8859-9 and the form field is
//! percent-encoded. An answer is decoded by its declaration (ISO-8859-9 unless it says
//! UTF-8: byte 0xFD is `ı`) and read into the tree of [`crate::garanti::xml`]'s reader,
//! which both XML protocols share.

use std::fmt;

use crate::garanti::xml::parse_tree;
pub use crate::garanti::xml::Element;

/// The declaration every request starts with.
pub const DECLARATION: &str = r#"<?xml version="1.0" encoding="ISO-8859-9"?>"#;
/// The content type of a request.
pub const CONTENT_TYPE: &str = "application/x-www-form-urlencoded";
/// The form field that carries the document.
pub const FORM_FIELD: &str = "xmldata";
/// Elements whose values never leave this module unmasked.
const MASKED: [&str; 3] = ["ccno", "expDate", "cvc"];

/// A `posnetRequest` being built. Its `Debug` masks the card.
#[derive(Clone, PartialEq, Eq)]
pub struct PosnetRequest {
    root: Element,
}

impl PosnetRequest {
    /// `mid`, `tid` and, for a financial operation, `tranDateRequired` 1.
    pub fn new(mid: &str, tid: &str, financial: bool) -> PosnetRequest {
        let mut children = vec![Element::leaf("mid", mid), Element::leaf("tid", tid)];
        if financial {
            children.push(Element::leaf("tranDateRequired", "1"));
        }
        PosnetRequest {
            root: Element::group("posnetRequest", children),
        }
    }

    /// Adds the operation element with its text fields, in order.
    pub fn operation(mut self, name: &str, fields: Vec<(&str, String)>) -> PosnetRequest {
        let children = fields
            .into_iter()
            .map(|(n, v)| Element::leaf(n, v))
            .collect();
        self.root.children.push(Element::group(name, children));
        self
    }

    /// The text at a path below the root (`sale/orderID`).
    pub fn get(&self, path: &str) -> Option<&str> {
        self.root.get(path)
    }

    /// The root element.
    pub fn root(&self) -> &Element {
        &self.root
    }

    /// The document as sent (before the ISO-8859-9 encoding).
    pub fn to_text(&self) -> String {
        self.render(false)
    }

    /// The document with the card replaced by `***`.
    pub fn masked_text(&self) -> String {
        self.render(true)
    }

    /// The HTTP body: `xmldata=` and the percent-encoded ISO-8859-9 bytes.
    pub fn form_body(&self) -> Vec<u8> {
        let text = self.to_text();
        let (bytes, _, _) = encoding_rs::WINDOWS_1254.encode(&text);
        let mut body = format!("{FORM_FIELD}=").into_bytes();
        percent_encode_into(&mut body, &bytes);
        body
    }

    fn render(&self, masked: bool) -> String {
        let mut out = String::with_capacity(512);
        out.push_str(DECLARATION);
        out.push('\n');
        write(&self.root, &mut out, masked);
        out.push('\n');
        out
    }
}

impl fmt::Debug for PosnetRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.masked_text())
    }
}

fn write(element: &Element, out: &mut String, masked: bool) {
    out.push('<');
    out.push_str(&element.name);
    out.push('>');
    if element.children.is_empty() {
        if masked && MASKED.contains(&element.name.as_str()) && !element.text.is_empty() {
            out.push_str("***");
        } else {
            escape_into(out, &element.text);
        }
    } else {
        for child in &element.children {
            write(child, out, masked);
        }
    }
    out.push_str("</");
    out.push_str(&element.name);
    out.push('>');
}

fn escape_into(out: &mut String, value: &str) {
    for c in value.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c if (c as u32) < 0x20 || ('\u{7F}'..='\u{9F}').contains(&c) => {}
            c => out.push(c),
        }
    }
}

fn percent_encode_into(out: &mut Vec<u8>, bytes: &[u8]) {
    for &b in bytes {
        if b.is_ascii_alphanumeric() || b"-_.*".contains(&b) {
            out.push(b);
        } else if b == b' ' {
            out.push(b'+');
        } else {
            out.extend_from_slice(format!("%{b:02X}").as_bytes());
        }
    }
}

/// Why an answer could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unreadable posnetResponse: {0}")]
pub struct XmlError(String);

/// A `posnetResponse`, as a tree below its root.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PosnetResponse {
    root: Element,
}

impl PosnetResponse {
    /// From a tree already built (tests, recorded answers).
    pub fn from_root(root: Element) -> PosnetResponse {
        PosnetResponse { root }
    }

    /// Reads an answer's bytes, decoded by their declaration.
    pub fn parse(bytes: &[u8]) -> Result<PosnetResponse, XmlError> {
        let root = parse_tree(&decode(bytes)).map_err(|e| XmlError(e.to_string()))?;
        if root.name != "posnetResponse" {
            return Err(XmlError(format!("root element is {}", root.name)));
        }
        Ok(PosnetResponse { root })
    }

    /// The root element.
    pub fn root(&self) -> &Element {
        &self.root
    }

    /// The text at a path below the root.
    pub fn get(&self, path: &str) -> Option<&str> {
        self.root.get(path)
    }

    /// The trimmed text at a path, `None` when absent or blank.
    pub fn non_empty(&self, path: &str) -> Option<&str> {
        self.root.non_empty(path)
    }
}

/// Decodes a body by its declaration: UTF-8 when it says so, else ISO-8859-9 (read as
/// Windows-1254, which agrees with it on every letter the bank sends).
pub fn decode(bytes: &[u8]) -> String {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let head = String::from_utf8_lossy(&bytes[..bytes.len().min(100)]).to_ascii_lowercase();
    let declared_utf8 = head.starts_with("<?xml") && head.contains("utf-8");
    let declared = head.starts_with("<?xml") && head.contains("encoding");
    if declared_utf8 || (!declared && std::str::from_utf8(bytes).is_ok()) {
        String::from_utf8_lossy(bytes).into_owned()
    } else {
        encoding_rs::WINDOWS_1254.decode(bytes).0.into_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_body_is_a_form_and_the_card_is_masked() {
        let r = PosnetRequest::new("1", "2", true).operation(
            "sale",
            vec![("ccno", "5555444433332222".into()), ("cvc", "122".into())],
        );
        assert!(!format!("{r:?}").contains("5555444433332222"));
        let body = String::from_utf8(r.form_body()).unwrap();
        assert!(body.starts_with("xmldata=%3C%3Fxml+version%3D%221.0%22"));
        assert_eq!(
            decode(b"<?xml version='1.0' encoding='iso-8859-9'?><a>Hatal\xFD</a>"),
            "<?xml version='1.0' encoding='iso-8859-9'?><a>Hatalı</a>"
        );
    }
}
