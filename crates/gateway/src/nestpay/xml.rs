//! The codec: `CC5Request` documents out, `CC5Response` documents in.
//!
//! A request is written exactly as the banks' reference clients write it: the
//! declaration line, LF, the whole `CC5Request` on one line in insertion order, a
//! trailing LF; an empty value as `<X></X>`; text escaped; the bytes in ISO-8859-9. A
//! character ISO-8859-9 cannot hold goes as a character reference (`&#x20AC;`), which
//! every XML reader turns back into the character.
//!
//! An answer is read in the charset its declaration names (ISO-8859-9 or UTF-8),
//! character references included; the top-level leaves and the children of `Extra` are
//! kept, in order.

use std::fmt;

use quick_xml::events::Event;
use quick_xml::Reader;

/// The XML declaration every request starts with.
pub const DECLARATION: &str = r#"<?xml version="1.0" encoding="ISO-8859-9"?>"#;

/// Elements whose values never leave this module unmasked (credentials and card data).
pub const MASKED_ELEMENTS: [&str; 4] = ["Password", "Number", "Cvv2Val", "Expires"];

/// One element of a request: a text, or a group of text children (`Extra`, `PbOrder`).
#[derive(Clone, PartialEq, Eq)]
enum Node {
    Text(String),
    Group(Vec<(&'static str, String)>),
}

/// A `CC5Request` being built: elements in the order they are added. Its `Debug` masks
/// the password and card data.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct Cc5Request {
    elements: Vec<(&'static str, Node)>,
}

impl Cc5Request {
    /// An empty request.
    pub fn new() -> Cc5Request {
        Cc5Request::default()
    }

    /// Adds a text element (an empty value is written `<X></X>`).
    pub fn push(&mut self, name: &'static str, value: impl Into<String>) -> &mut Cc5Request {
        self.elements.push((name, Node::Text(value.into())));
        self
    }

    /// Adds a group element such as `Extra` with its text children, in order.
    pub fn push_group(
        &mut self,
        name: &'static str,
        children: Vec<(&'static str, String)>,
    ) -> &mut Cc5Request {
        self.elements.push((name, Node::Group(children)));
        self
    }

    /// A top-level text element's value.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.elements.iter().find_map(|(n, node)| match node {
            Node::Text(v) if *n == name => Some(v.as_str()),
            _ => None,
        })
    }

    /// A child of a group element (`Extra`, `ORDERSTATUS`).
    pub fn get_child(&self, group: &str, name: &str) -> Option<&str> {
        self.elements.iter().find_map(|(n, node)| match node {
            Node::Group(children) if *n == group => children
                .iter()
                .find(|(c, _)| *c == name)
                .map(|(_, v)| v.as_str()),
            _ => None,
        })
    }

    /// The top-level element names, in order.
    pub fn names(&self) -> Vec<&'static str> {
        self.elements.iter().map(|(n, _)| *n).collect()
    }

    /// The document as text (UTF-8 in memory; the declaration says ISO-8859-9).
    pub fn to_text(&self) -> String {
        let mut out = String::with_capacity(512);
        out.push_str(DECLARATION);
        out.push('\n');
        out.push_str("<CC5Request>");
        for (name, node) in &self.elements {
            match node {
                Node::Text(value) => write_element(&mut out, name, value),
                Node::Group(children) => {
                    out.push('<');
                    out.push_str(name);
                    out.push('>');
                    for (child, value) in children {
                        write_element(&mut out, child, value);
                    }
                    out.push_str("</");
                    out.push_str(name);
                    out.push('>');
                }
            }
        }
        out.push_str("</CC5Request>\n");
        out
    }

    /// The bytes sent: [`Cc5Request::to_text`] encoded in ISO-8859-9.
    pub fn to_bytes(&self) -> Vec<u8> {
        encode_latin5(&self.to_text())
    }

    /// A copy with the password and card data replaced by `***`, fit for the attempt
    /// log.
    pub fn masked(&self) -> Cc5Request {
        let mut copy = self.clone();
        for (name, node) in &mut copy.elements {
            if let Node::Text(value) = node {
                if MASKED_ELEMENTS.contains(name) && !value.is_empty() {
                    *value = "***".to_owned();
                }
            }
        }
        copy
    }
}

impl fmt::Debug for Cc5Request {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.masked().to_text())
    }
}

fn write_element(out: &mut String, name: &str, value: &str) {
    out.push('<');
    out.push_str(name);
    out.push('>');
    escape_text_into(out, value);
    out.push_str("</");
    out.push_str(name);
    out.push('>');
}

/// Escapes `&`, `<`, `>` (and quotes, harmlessly) and drops characters XML 1.0 does
/// not allow.
fn escape_text_into(out: &mut String, value: &str) {
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

/// Whether ISO-8859-9 (Latin-5) has the character (its C1 controls excepted).
fn in_latin5(c: char) -> bool {
    match c as u32 {
        0..=0x7F => true,
        0xD0 | 0xDD | 0xDE | 0xF0 | 0xFD | 0xFE => false,
        0xA0..=0xFF => true,
        _ => matches!(c, 'Ğ' | 'ğ' | 'İ' | 'ı' | 'Ş' | 'ş'),
    }
}

/// Encodes XML text in ISO-8859-9: a character outside it becomes a character
/// reference. Only for text already escaped as XML (a reference is markup).
pub fn encode_latin5(text: &str) -> Vec<u8> {
    let mut prepared = String::with_capacity(text.len());
    for c in text.chars() {
        if in_latin5(c) {
            prepared.push(c);
        } else {
            prepared.push_str(&format!("&#x{:X};", c as u32));
        }
    }
    // WINDOWS_1254 is encoding_rs's ISO-8859-9 (the WHATWG label maps there); every
    // character left is one both agree on.
    let (bytes, _, _) = encoding_rs::WINDOWS_1254.encode(&prepared);
    bytes.into_owned()
}

/// Why an answer could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unreadable CC5Response: {0}")]
pub struct XmlError(String);

/// A `CC5Response`: its top-level values and its `Extra` values, in document order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Cc5Response {
    fields: Vec<(String, String)>,
    extra: Vec<(String, String)>,
}

impl Cc5Response {
    /// From already decoded values (tests, recorded answers).
    pub fn from_parts(fields: Vec<(String, String)>, extra: Vec<(String, String)>) -> Self {
        Cc5Response { fields, extra }
    }

    /// Reads an answer's bytes in the charset its declaration names.
    pub fn parse(bytes: &[u8]) -> Result<Cc5Response, XmlError> {
        Cc5Response::parse_text(&decode(bytes))
    }

    /// Reads an answer already decoded to text.
    pub fn parse_text(text: &str) -> Result<Cc5Response, XmlError> {
        let mut reader = Reader::from_str(text);
        reader.config_mut().trim_text(false);
        let mut answer = Cc5Response::default();
        // Open elements below the root, each with whether it has child elements.
        let mut open: Vec<(String, bool)> = Vec::new();
        let mut root_seen = false;
        let mut text_buf = String::new();
        loop {
            let event = reader
                .read_event()
                .map_err(|e| XmlError(format!("at byte {}: {e}", reader.error_position())))?;
            match event {
                Event::Start(start) => {
                    let name = String::from_utf8_lossy(start.name().as_ref()).into_owned();
                    if !root_seen {
                        check_root(&name)?;
                        root_seen = true;
                        continue;
                    }
                    if let Some(parent) = open.last_mut() {
                        parent.1 = true;
                    }
                    open.push((name, false));
                    text_buf.clear();
                }
                Event::Empty(start) => {
                    let name = String::from_utf8_lossy(start.name().as_ref()).into_owned();
                    if !root_seen {
                        check_root(&name)?;
                        return Ok(answer);
                    }
                    if let Some(parent) = open.last_mut() {
                        parent.1 = true;
                    }
                    answer.store(&open, name, String::new());
                }
                Event::Text(t) => {
                    let decoded = t.xml10_content().map_err(|e| XmlError(e.to_string()))?;
                    text_buf.push_str(&decoded);
                }
                Event::CData(t) => {
                    let decoded = t.decode().map_err(|e| XmlError(e.to_string()))?;
                    text_buf.push_str(&decoded);
                }
                Event::GeneralRef(r) => {
                    if let Some(c) = r.resolve_char_ref().map_err(|e| XmlError(e.to_string()))? {
                        text_buf.push(c);
                    } else {
                        let name = r.decode().map_err(|e| XmlError(e.to_string()))?;
                        let resolved = quick_xml::escape::resolve_predefined_entity(&name)
                            .ok_or_else(|| XmlError(format!("unknown entity &{name};")))?;
                        text_buf.push_str(resolved);
                    }
                }
                Event::End(_) => {
                    let Some((name, had_children)) = open.pop() else {
                        // The root closed.
                        return Ok(answer);
                    };
                    if !had_children {
                        let value = std::mem::take(&mut text_buf);
                        answer.store(&open, name, value);
                    }
                    text_buf.clear();
                }
                Event::Eof => {
                    return Err(XmlError(if root_seen {
                        "the document ends inside CC5Response".into()
                    } else {
                        "no CC5Response element".into()
                    }))
                }
                Event::Decl(_) | Event::Comment(_) | Event::PI(_) | Event::DocType(_) => {}
            }
        }
    }

    /// Stores a leaf by where it sits: top level, or a child of `Extra`.
    fn store(&mut self, parents: &[(String, bool)], name: String, value: String) {
        match parents {
            [] => self.fields.push((name, value)),
            [(group, _)] if group == "Extra" => self.extra.push((name, value)),
            _ => {}
        }
    }

    /// A top-level value by exact name (`ProcReturnCode`).
    pub fn get(&self, name: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// A top-level value, `None` when absent or blank.
    pub fn non_empty(&self, name: &str) -> Option<&str> {
        self.get(name).map(str::trim).filter(|v| !v.is_empty())
    }

    /// An `Extra` value by exact name (`NUMCODE`).
    pub fn extra(&self, name: &str) -> Option<&str> {
        self.extra
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// An `Extra` value, `None` when absent or blank.
    pub fn extra_non_empty(&self, name: &str) -> Option<&str> {
        self.extra(name).map(str::trim).filter(|v| !v.is_empty())
    }

    /// `ERRORCODE`: at top level (newer answers) or in `Extra`.
    pub fn error_code(&self) -> Option<&str> {
        self.non_empty("ERRORCODE")
            .or_else(|| self.extra_non_empty("ERRORCODE"))
    }

    /// Every top-level value, in document order.
    pub fn fields(&self) -> &[(String, String)] {
        &self.fields
    }

    /// Every `Extra` value, in document order.
    pub fn extras(&self) -> &[(String, String)] {
        &self.extra
    }
}

fn check_root(name: &str) -> Result<(), XmlError> {
    if name == "CC5Response" {
        Ok(())
    } else {
        Err(XmlError(format!("root element is {name}")))
    }
}

/// Decodes an answer's bytes: the charset its declaration names (ISO-8859-9 and its
/// aliases, UTF-8); without a declared charset, UTF-8 when the bytes are UTF-8, else
/// ISO-8859-9.
pub fn decode(bytes: &[u8]) -> String {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let declared = declared_encoding(bytes).and_then(encoding_rs::Encoding::for_label);
    let encoding = match declared {
        Some(e) => e,
        None if std::str::from_utf8(bytes).is_ok() => encoding_rs::UTF_8,
        None => encoding_rs::WINDOWS_1254,
    };
    let (text, _) = encoding.decode_without_bom_handling(bytes);
    text.into_owned()
}

/// The `encoding` pseudo-attribute of a leading `<?xml ...?>` declaration.
fn declared_encoding(bytes: &[u8]) -> Option<&[u8]> {
    let start = bytes.iter().position(|b| !b.is_ascii_whitespace())?;
    let rest = bytes.get(start..)?;
    if !rest.starts_with(b"<?xml") {
        return None;
    }
    let end = rest.windows(2).position(|w| w == b"?>")?;
    let decl = &rest[..end];
    let at = decl.windows(8).position(|w| w == b"encoding")?;
    let after = &decl[at + 8..];
    let quote_at = after.iter().position(|b| *b == b'"' || *b == b'\'')?;
    let quote = after[quote_at];
    let value = &after[quote_at + 1..];
    let close = value.iter().position(|b| *b == quote)?;
    Some(&value[..close])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_one_line_with_empty_elements_and_groups() {
        let mut r = Cc5Request::new();
        r.push("Name", "api")
            .push("Taksit", "")
            .push_group("Extra", vec![("ORDERSTATUS", "QUERY".into())]);
        assert_eq!(
            r.to_text(),
            format!(
                "{DECLARATION}\n<CC5Request><Name>api</Name><Taksit></Taksit>\
                 <Extra><ORDERSTATUS>QUERY</ORDERSTATUS></Extra></CC5Request>\n"
            )
        );
        assert_eq!(r.get_child("Extra", "ORDERSTATUS"), Some("QUERY"));
    }

    #[test]
    fn escapes_and_encodes_turkish_in_latin5() {
        let mut r = Cc5Request::new();
        r.push("BillTo", "Şahin & Oğul <İç> € ı");
        let text = r.to_text();
        assert!(text.contains("<BillTo>Şahin &amp; Oğul &lt;İç&gt; € ı</BillTo>"));
        let bytes = r.to_bytes();
        // Ş = 0xDE, ğ = 0xF0, İ = 0xDD, ı = 0xFD in ISO-8859-9; € has no byte there.
        assert!(bytes.contains(&0xDE) && bytes.contains(&0xF0) && bytes.contains(&0xDD));
        assert!(bytes.windows(8).any(|w| w == b"&#x20AC;"));
        assert!(!bytes.contains(&0x80));
    }

    #[test]
    fn masks_credentials_and_card_data() {
        let mut r = Cc5Request::new();
        r.push("Name", "api")
            .push("Password", "s3cret")
            .push("Number", "4111111111111111")
            .push("Expires", "12/26")
            .push("Cvv2Val", "000");
        let shown = format!("{r:?}");
        for secret in ["s3cret", "4111111111111111", "12/26", "000<"] {
            assert!(!shown.contains(secret), "{secret} in {shown}");
        }
        assert!(shown.contains("<Name>api</Name>"));
    }

    #[test]
    fn reads_both_charsets_and_character_references() {
        let latin5 = encode_latin5(
            "<?xml version=\"1.0\" encoding=\"ISO-8859-9\"?>\n<CC5Response><ErrMsg>Şifre hatalı</ErrMsg>\
             <Extra><CARDISSUER>Z&#x130;RAAT</CARDISSUER><E/></Extra></CC5Response>",
        );
        let a = Cc5Response::parse(&latin5).unwrap();
        assert_eq!(a.get("ErrMsg"), Some("Şifre hatalı"));
        assert_eq!(a.extra("CARDISSUER"), Some("ZİRAAT"));
        assert_eq!(a.extra("E"), Some(""));
        let utf8 = "<?xml version=\"1.0\" encoding=\"UTF-8\"?><CC5Response><ErrMsg>İptal &amp; iade</ErrMsg></CC5Response>";
        let a = Cc5Response::parse(utf8.as_bytes()).unwrap();
        assert_eq!(a.get("ErrMsg"), Some("İptal & iade"));
        assert!(Cc5Response::parse(b"<html>502</html>").is_err());
        assert!(Cc5Response::parse(b"<CC5Response><A>1</A>").is_err());
        assert!(Cc5Response::parse(b"").is_err());
    }

    #[test]
    fn a_name_with_turkish_letters_survives_the_round_trip() {
        let name = "Şükrü Çağlar Işıkoğlu İnşaat Ltd. Şti.";
        let mut r = Cc5Request::new();
        r.push("BillTo", name);
        let bytes = r.to_bytes();
        let back = decode(&bytes);
        let echoed = back.replace("CC5Request", "CC5Response");
        let a = Cc5Response::parse_text(&echoed).unwrap();
        assert_eq!(a.get("BillTo"), Some(name));
    }
}
