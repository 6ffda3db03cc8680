//! The codec: `GVPSRequest` documents out, `GVPSResponse` documents in.
//!
//! A request is written as the bank's reference clients write it: the UTF-8 declaration,
//! LF, the whole `GVPSRequest` on one line in insertion order, a trailing LF; an empty
//! value as `<X></X>`; text escaped. An answer is read into a small tree, so the nested
//! groups (`Transaction/Response/Code`) and the repeated ones (`OrderTxn`) are reached by
//! path.

use std::fmt;

use quick_xml::events::Event;
use quick_xml::Reader;

/// The XML declaration every request starts with.
pub const DECLARATION: &str = r#"<?xml version="1.0" encoding="UTF-8"?>"#;

/// Element names whose values never leave this module unmasked: card data and the
/// hash that is derived from the card number.
pub const MASKED_ELEMENTS: [&str; 3] = ["Number", "ExpireDate", "CVV2"];

/// One element of a document: a name with either text or child elements.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct Element {
    /// The element's name.
    pub name: String,
    /// Its text (empty for a group).
    pub text: String,
    /// Its child elements, in document order.
    pub children: Vec<Element>,
}

impl Element {
    /// A text element.
    pub fn leaf(name: &str, text: impl Into<String>) -> Element {
        Element {
            name: name.to_owned(),
            text: text.into(),
            children: Vec::new(),
        }
    }

    /// A group element with its children.
    pub fn group(name: &str, children: Vec<Element>) -> Element {
        Element {
            name: name.to_owned(),
            text: String::new(),
            children,
        }
    }

    /// The first child with this name.
    pub fn child(&self, name: &str) -> Option<&Element> {
        self.children.iter().find(|c| c.name == name)
    }

    /// Every child with this name (a list such as `OrderTxn`).
    pub fn children_named<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Element> {
        self.children.iter().filter(move |c| c.name == name)
    }

    /// The element at a `/`-separated path below this one.
    pub fn at(&self, path: &str) -> Option<&Element> {
        path.split('/')
            .filter(|p| !p.is_empty())
            .try_fold(self, |e, part| e.child(part))
    }

    /// The text at a path (`Transaction/Response/Code`), `None` when absent.
    pub fn get(&self, path: &str) -> Option<&str> {
        self.at(path).map(|e| e.text.as_str())
    }

    /// The trimmed text at a path, `None` when absent or blank.
    pub fn non_empty(&self, path: &str) -> Option<&str> {
        self.get(path).map(str::trim).filter(|v| !v.is_empty())
    }

    fn write(&self, out: &mut String, masked: bool) {
        out.push('<');
        out.push_str(&self.name);
        out.push('>');
        if self.children.is_empty() {
            if masked && MASKED_ELEMENTS.contains(&self.name.as_str()) && !self.text.is_empty() {
                out.push_str("***");
            } else {
                escape_into(out, &self.text);
            }
        } else {
            for child in &self.children {
                child.write(out, masked);
            }
        }
        out.push_str("</");
        out.push_str(&self.name);
        out.push('>');
    }
}

/// A `GVPSRequest` being built. Its `Debug` masks the card.
#[derive(Clone, PartialEq, Eq)]
pub struct GvpsRequest {
    root: Element,
}

impl Default for GvpsRequest {
    fn default() -> GvpsRequest {
        GvpsRequest {
            root: Element::group("GVPSRequest", Vec::new()),
        }
    }
}

impl GvpsRequest {
    /// An empty request.
    pub fn new() -> GvpsRequest {
        GvpsRequest::default()
    }

    /// Adds a text element at the top level.
    pub fn push(&mut self, name: &str, value: impl Into<String>) -> &mut GvpsRequest {
        self.root.children.push(Element::leaf(name, value));
        self
    }

    /// Adds a group of text elements at the top level, in order.
    pub fn push_group(&mut self, name: &str, children: Vec<(&str, String)>) -> &mut GvpsRequest {
        let children = children
            .into_iter()
            .map(|(n, v)| Element::leaf(n, v))
            .collect();
        self.root.children.push(Element::group(name, children));
        self
    }

    /// Adds an element already built (a group with groups inside, like
    /// `Transaction/Secure3D`).
    pub fn push_element(&mut self, element: Element) -> &mut GvpsRequest {
        self.root.children.push(element);
        self
    }

    /// The text at a path below the root.
    pub fn get(&self, path: &str) -> Option<&str> {
        self.root.get(path)
    }

    /// The top-level element names, in order.
    pub fn names(&self) -> Vec<&str> {
        self.root.children.iter().map(|c| c.name.as_str()).collect()
    }

    /// The document as sent.
    pub fn to_text(&self) -> String {
        self.render(false)
    }

    /// The document with the card data replaced by `***`, fit for a log.
    pub fn masked_text(&self) -> String {
        self.render(true)
    }

    fn render(&self, masked: bool) -> String {
        let mut out = String::with_capacity(1024);
        out.push_str(DECLARATION);
        out.push('\n');
        self.root.write(&mut out, masked);
        out.push('\n');
        out
    }
}

impl fmt::Debug for GvpsRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.masked_text())
    }
}

impl fmt::Debug for Element {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut out = String::new();
        self.write(&mut out, true);
        f.write_str(&out)
    }
}

/// Escapes text content and drops the characters XML 1.0 does not allow.
fn escape_into(out: &mut String, value: &str) {
    for c in value.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' | '\n' | '\r' => out.push(c),
            c if (c as u32) < 0x20 || ('\u{7F}'..='\u{9F}').contains(&c) => {}
            c => out.push(c),
        }
    }
}

/// Why an answer could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unreadable GVPSResponse: {0}")]
pub struct XmlError(String);

/// A `GVPSResponse`, as a tree below its root.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct GvpsResponse {
    root: Element,
}

impl GvpsResponse {
    /// From a tree already built (tests, recorded answers): `root` is the
    /// `GVPSResponse` element.
    pub fn from_root(root: Element) -> GvpsResponse {
        GvpsResponse { root }
    }

    /// Reads an answer's bytes (UTF-8, or ISO-8859-9 when they are not UTF-8).
    pub fn parse(bytes: &[u8]) -> Result<GvpsResponse, XmlError> {
        let root = parse_tree(&decode(bytes))?;
        if root.name != "GVPSResponse" {
            return Err(XmlError(format!("root element is {}", root.name)));
        }
        Ok(GvpsResponse { root })
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

    /// The element at a path below the root.
    pub fn at(&self, path: &str) -> Option<&Element> {
        self.root.at(path)
    }
}

/// Decodes a body: UTF-8 when it is UTF-8 (a BOM dropped), else ISO-8859-9.
pub fn decode(bytes: &[u8]) -> String {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    match std::str::from_utf8(bytes) {
        Ok(text) => text.to_owned(),
        Err(_) => encoding_rs::WINDOWS_1254.decode(bytes).0.into_owned(),
    }
}

/// Reads a whole document into its root element.
pub fn parse_tree(text: &str) -> Result<Element, XmlError> {
    let mut reader = Reader::from_str(text);
    reader.config_mut().trim_text(false);
    let mut stack: Vec<Element> = Vec::new();
    loop {
        let event = reader
            .read_event()
            .map_err(|e| XmlError(format!("at byte {}: {e}", reader.error_position())))?;
        match event {
            Event::Start(start) => {
                let name = String::from_utf8_lossy(start.name().as_ref()).into_owned();
                stack.push(Element::group(&name, Vec::new()));
            }
            Event::Empty(start) => {
                let name = String::from_utf8_lossy(start.name().as_ref()).into_owned();
                let element = Element::leaf(&name, "");
                match stack.last_mut() {
                    Some(parent) => parent.children.push(element),
                    None => return Ok(element),
                }
            }
            Event::Text(t) => {
                let decoded = t.xml10_content().map_err(|e| XmlError(e.to_string()))?;
                if let Some(top) = stack.last_mut() {
                    top.text.push_str(&decoded);
                }
            }
            Event::CData(t) => {
                let decoded = t.decode().map_err(|e| XmlError(e.to_string()))?;
                if let Some(top) = stack.last_mut() {
                    top.text.push_str(&decoded);
                }
            }
            Event::GeneralRef(r) => {
                let resolved = match r.resolve_char_ref().map_err(|e| XmlError(e.to_string()))? {
                    Some(c) => c.to_string(),
                    None => {
                        let name = r.decode().map_err(|e| XmlError(e.to_string()))?;
                        quick_xml::escape::resolve_predefined_entity(&name)
                            .ok_or_else(|| XmlError(format!("unknown entity &{name};")))?
                            .to_owned()
                    }
                };
                if let Some(top) = stack.last_mut() {
                    top.text.push_str(&resolved);
                }
            }
            Event::End(_) => {
                let Some(mut done) = stack.pop() else {
                    return Err(XmlError("a closing tag without an opening one".into()));
                };
                if !done.children.is_empty() {
                    // Whitespace between child elements is layout, not a value.
                    done.text.clear();
                }
                match stack.last_mut() {
                    Some(parent) => parent.children.push(done),
                    None => return Ok(done),
                }
            }
            Event::Eof => {
                return Err(XmlError(if stack.is_empty() {
                    "no root element".into()
                } else {
                    "the document ends inside an element".into()
                }))
            }
            Event::Decl(_) | Event::Comment(_) | Event::PI(_) | Event::DocType(_) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_one_line_and_masks_the_card() {
        let mut r = GvpsRequest::new();
        r.push("Mode", "TEST").push_group(
            "Card",
            vec![
                ("Number", "4111111111111111".into()),
                ("ExpireDate", "1226".into()),
                ("CVV2", "000".into()),
            ],
        );
        r.push_group(
            "Order",
            vec![("OrderID", "a&b".into()), ("GroupID", "".into())],
        );
        assert_eq!(
            r.to_text(),
            format!(
                "{DECLARATION}\n<GVPSRequest><Mode>TEST</Mode><Card><Number>4111111111111111</Number>\
                 <ExpireDate>1226</ExpireDate><CVV2>000</CVV2></Card><Order><OrderID>a&amp;b</OrderID>\
                 <GroupID></GroupID></Order></GVPSRequest>\n"
            )
        );
        let shown = format!("{r:?}");
        assert!(!shown.contains("4111111111111111") && !shown.contains(">000<"));
        assert_eq!(r.get("Order/OrderID"), Some("a&b"));
    }

    #[test]
    fn reads_nested_and_repeated_elements() {
        let text = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<GVPSResponse>\n <Transaction>\n  \
                    <Response><Code>92</Code><ErrorMsg>İşlem bulunamadı</ErrorMsg><Empty/></Response>\n \
                    </Transaction><Order><L><OrderTxn><Id>1</Id></OrderTxn><OrderTxn><Id>2</Id></OrderTxn></L></Order>\
                    </GVPSResponse>";
        let a = GvpsResponse::parse(text.as_bytes()).unwrap();
        assert_eq!(a.get("Transaction/Response/Code"), Some("92"));
        assert_eq!(
            a.get("Transaction/Response/ErrorMsg"),
            Some("İşlem bulunamadı")
        );
        assert_eq!(a.get("Transaction/Response/Empty"), Some(""));
        assert_eq!(a.non_empty("Transaction/Response/Empty"), None);
        let ids: Vec<&str> = a
            .at("Order/L")
            .unwrap()
            .children_named("OrderTxn")
            .filter_map(|t| t.get("Id"))
            .collect();
        assert_eq!(ids, ["1", "2"]);
        assert!(GvpsResponse::parse(b"<html>502</html>").is_err());
        assert!(GvpsResponse::parse(b"<GVPSResponse><A>1</A>").is_err());
        assert!(GvpsResponse::parse(b"").is_err());
    }
}
