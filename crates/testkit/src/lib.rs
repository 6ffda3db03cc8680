//! Helpers for the integration tests only (a dev-dependency, never linked into the
//! binary): a browser without scripts that reads a page's first form and posts it, the
//! way the 3D Secure round trip is walked through the provider's pages in tests.

#![allow(clippy::unwrap_used, clippy::expect_used)]

pub mod browser;
pub mod smtp;

/// An HTML form as a browser sees it: where it posts and its named inputs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HtmlForm {
    /// The `action` attribute, unescaped.
    pub action: String,
    /// Every `<input>` with a `name`, with its `value` (empty when absent).
    pub fields: Vec<(String, String)>,
}

/// Undoes the HTML escaping of an attribute value.
pub fn unescape(text: &str) -> String {
    text.replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&#x27;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

fn attr(tag: &str, name: &str) -> Option<String> {
    let needle = format!("{name}=\"");
    let start = tag.find(&needle)? + needle.len();
    let end = tag[start..].find('"')? + start;
    Some(unescape(&tag[start..end]))
}

/// The page's first `<form>` and its inputs. Panics (the test fails) when the page has
/// no form or the form no action.
pub fn parse_form(html: &str) -> HtmlForm {
    let start = html
        .find("<form")
        .unwrap_or_else(|| panic!("no form in the page: {html}"));
    let end = html[start..]
        .find("</form>")
        .map_or(html.len(), |e| e + start);
    let form = &html[start..end];
    let open_end = form.find('>').unwrap();
    let action = attr(&form[..open_end], "action").expect("form has an action");
    let mut fields = Vec::new();
    let mut rest = form;
    while let Some(i) = rest.find("<input") {
        let tag_end = rest[i..].find('>').unwrap() + i;
        let tag = &rest[i..tag_end];
        if let Some(name) = attr(tag, "name") {
            fields.push((name, attr(tag, "value").unwrap_or_default()));
        }
        rest = &rest[tag_end..];
    }
    HtmlForm { action, fields }
}

/// Posts form fields like a browser and returns the page; the test fails on a non-2xx
/// status.
pub async fn post_form(action: &str, fields: &[(String, String)]) -> String {
    let response = reqwest::Client::new()
        .post(action)
        .form(fields)
        .send()
        .await
        .unwrap();
    assert!(
        response.status().is_success(),
        "{action}: {}",
        response.status()
    );
    response.text().await.unwrap()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_first_form() {
        let page = r#"<p>x</p><form id="form" method="post" action="http://a/b?x=1&amp;y=2">
            <input type="hidden" name="A" value="&quot;q&quot;"><input name="B">
            <button>ok</button></form><form action="/other"></form>"#;
        let form = parse_form(page);
        assert_eq!(form.action, "http://a/b?x=1&y=2");
        assert_eq!(
            form.fields,
            vec![("A".into(), "\"q\"".into()), ("B".into(), String::new())]
        );
    }
}
