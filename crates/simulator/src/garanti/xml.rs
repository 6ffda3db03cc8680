//! The simulated bank's own codec: a `GVPSRequest` read into its leaves by path
//! (`Terminal/HashData`), and `GVPSResponse` documents written from a small tree.
//! Independent of the gateway crate's codec.

use quick_xml::events::Event;
use quick_xml::Reader;

/// A request's leaves, each with its path below the root, in document order.
#[derive(Debug, Clone, Default)]
pub struct Request {
    leaves: Vec<(String, String)>,
}

impl Request {
    /// The value at a path (`Transaction/Secure3D/Md`).
    pub fn get(&self, path: &str) -> Option<&str> {
        self.leaves
            .iter()
            .find(|(p, _)| p == path)
            .map(|(_, v)| v.as_str())
    }

    /// The value at a path, empty when absent.
    pub fn get_or_empty(&self, path: &str) -> &str {
        self.get(path).unwrap_or_default()
    }

    /// The trimmed value at a path, `None` when absent or blank.
    pub fn non_empty(&self, path: &str) -> Option<&str> {
        self.get(path).map(str::trim).filter(|v| !v.is_empty())
    }

    /// Whether any leaf lies below `prefix` (`Card`).
    pub fn has_group(&self, prefix: &str) -> bool {
        let with_slash = format!("{prefix}/");
        self.leaves.iter().any(|(p, _)| p.starts_with(&with_slash))
    }
}

/// Why a body is not a `GVPSRequest`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotARequest;

/// Reads a `GVPSRequest`: the raw body, or (as some clients post it) a form with the
/// document in a `data` field.
pub fn parse_request(body: &[u8]) -> Result<Request, NotARequest> {
    let text = std::str::from_utf8(body).map_err(|_| NotARequest)?;
    let trimmed = text.trim_start();
    let document = if trimmed.starts_with('<') {
        trimmed.to_owned()
    } else {
        serde_urlencoded::from_str::<Vec<(String, String)>>(trimmed)
            .ok()
            .and_then(|pairs| pairs.into_iter().find(|(k, _)| k == "data").map(|(_, v)| v))
            .ok_or(NotARequest)?
    };
    let mut reader = Reader::from_str(&document);
    let mut path: Vec<String> = Vec::new();
    let mut request = Request::default();
    let mut current = String::new();
    let mut saw_child = false;
    loop {
        match reader.read_event().map_err(|_| NotARequest)? {
            Event::Start(e) => {
                let name = String::from_utf8_lossy(e.name().as_ref()).into_owned();
                if path.is_empty() && name != "GVPSRequest" {
                    return Err(NotARequest);
                }
                path.push(name);
                current.clear();
                saw_child = false;
            }
            Event::Empty(e) => {
                let name = String::from_utf8_lossy(e.name().as_ref()).into_owned();
                if path.is_empty() {
                    return Err(NotARequest);
                }
                let mut full = path[1..].to_vec();
                full.push(name);
                request.leaves.push((full.join("/"), String::new()));
                saw_child = true;
            }
            Event::Text(t) => {
                current.push_str(&t.xml10_content().map_err(|_| NotARequest)?);
            }
            Event::GeneralRef(r) => {
                let c = match r.resolve_char_ref().map_err(|_| NotARequest)? {
                    Some(c) => c.to_string(),
                    None => {
                        let name = r.decode().map_err(|_| NotARequest)?;
                        quick_xml::escape::resolve_predefined_entity(&name)
                            .ok_or(NotARequest)?
                            .to_owned()
                    }
                };
                current.push_str(&c);
            }
            Event::End(_) => {
                if !saw_child && path.len() > 1 {
                    request
                        .leaves
                        .push((path[1..].join("/"), std::mem::take(&mut current)));
                }
                current.clear();
                path.pop();
                saw_child = true;
                if path.is_empty() {
                    return Ok(request);
                }
            }
            Event::Eof => return Err(NotARequest),
            _ => {}
        }
    }
}

/// An answer element.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Node {
    /// A text element.
    Leaf(&'static str, String),
    /// A group of elements.
    Group(&'static str, Vec<Node>),
}

/// A text element.
pub fn leaf(name: &'static str, value: impl Into<String>) -> Node {
    Node::Leaf(name, value.into())
}

/// A group element.
pub fn group(name: &'static str, children: Vec<Node>) -> Node {
    Node::Group(name, children)
}

fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            c => out.push(c),
        }
    }
    out
}

fn write(out: &mut String, node: &Node) {
    match node {
        Node::Leaf(name, value) => {
            out.push_str(&format!("<{name}>{}</{name}>", escape(value)));
        }
        Node::Group(name, children) => {
            out.push_str(&format!("<{name}>"));
            for child in children {
                write(out, child);
            }
            out.push_str(&format!("</{name}>"));
        }
    }
}

/// A whole `GVPSResponse` document (UTF-8) with these children.
pub fn response_text(children: Vec<Node>) -> String {
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    write(&mut out, &Node::Group("GVPSResponse", children));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_paths_and_writes_documents() {
        let body = b"<?xml version=\"1.0\"?><GVPSRequest><Mode>TEST</Mode><Terminal><ID>1</ID>\
                     <HashData/></Terminal><Order><OrderID>a&amp;b</OrderID></Order></GVPSRequest>";
        let r = parse_request(body).unwrap();
        assert_eq!(r.get("Mode"), Some("TEST"));
        assert_eq!(r.get("Terminal/ID"), Some("1"));
        assert_eq!(r.get("Terminal/HashData"), Some(""));
        assert_eq!(r.get("Order/OrderID"), Some("a&b"));
        assert!(r.has_group("Terminal") && !r.has_group("Card"));
        assert!(parse_request(b"<CC5Request></CC5Request>").is_err());
        assert!(parse_request(b"<GVPSRequest><A>").is_err());
        let form = format!(
            "data={}",
            serde_urlencoded::to_string([("x", "<GVPSRequest><Mode>PROD</Mode></GVPSRequest>")])
                .unwrap()
                .trim_start_matches("x=")
        );
        assert_eq!(
            parse_request(form.as_bytes()).unwrap().get("Mode"),
            Some("PROD")
        );
        let text = response_text(vec![group("Order", vec![leaf("OrderID", "<x>")])]);
        assert!(text
            .ends_with("<GVPSResponse><Order><OrderID>&lt;x&gt;</OrderID></Order></GVPSResponse>"));
    }
}
