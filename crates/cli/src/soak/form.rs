//! A browser without scripts: reads a page's first form, as the 3D round trip is walked
//! through our page, the bank's page and its auto-posting result page.

/// An HTML form as a browser sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HtmlForm {
    /// Where it posts (unescaped).
    pub action: String,
    /// Named inputs and their values.
    pub fields: Vec<(String, String)>,
}

fn unescape(text: &str) -> String {
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

/// The page's first form, or `None` when it has none.
pub fn parse_form(html: &str) -> Option<HtmlForm> {
    let start = html.find("<form")?;
    let end = html[start..]
        .find("</form>")
        .map_or(html.len(), |e| e + start);
    let form = &html[start..end];
    let open_end = form.find('>')?;
    let action = attr(&form[..open_end], "action")?;
    let mut fields = Vec::new();
    let mut rest = form;
    while let Some(i) = rest.find("<input") {
        let tag_end = rest[i..].find('>')? + i;
        let tag = &rest[i..tag_end];
        if let Some(name) = attr(tag, "name") {
            fields.push((name, attr(tag, "value").unwrap_or_default()));
        }
        rest = &rest[tag_end..];
    }
    Some(HtmlForm { action, fields })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_form_or_none() {
        let form = parse_form(
            r#"<form method="post" action="/a?x=1&amp;y=2"><input name="A" value="&quot;q&quot;"><input name="B"></form>"#,
        )
        .unwrap();
        assert_eq!(form.action, "/a?x=1&y=2");
        assert_eq!(
            form.fields,
            vec![("A".into(), "\"q\"".into()), ("B".into(), String::new())]
        );
        assert!(parse_form("<p>no form</p>").is_none());
    }
}
