//! `multipart/form-data`, as a browser sends a form with a file: the boundary from the
//! content type, then each part's field name, file name and bytes. Strict on purpose: a
//! body that does not follow RFC 7578 is not a form, and the caller refuses it.

/// Largest upload the back office reads (a statement file with its form fields).
pub const MAX_UPLOAD: usize = 32 * 1024 * 1024 + 64 * 1024;

/// One field of a form.
#[derive(Debug, PartialEq, Eq)]
pub struct Part<'a> {
    /// The field's name.
    pub name: String,
    /// The file's name, for a file field.
    pub filename: Option<String>,
    /// The bytes as sent.
    pub data: &'a [u8],
}

/// The boundary of a `multipart/form-data` content type, or `None` for anything else.
pub fn boundary(content_type: &str) -> Option<String> {
    let mut params = content_type.split(';');
    let kind = params.next()?.trim();
    if !kind.eq_ignore_ascii_case("multipart/form-data") {
        return None;
    }
    params.find_map(|p| {
        let (key, value) = p.trim().split_once('=')?;
        key.trim()
            .eq_ignore_ascii_case("boundary")
            .then(|| value.trim().trim_matches('"').to_owned())
            .filter(|b| !b.is_empty() && b.len() <= 70)
    })
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() || haystack.len() < needle.len() {
        return None;
    }
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// A quoted parameter of a `Content-Disposition` line (`name="…"`).
fn param(line: &str, key: &str) -> Option<String> {
    let needle = format!("{key}=\"");
    let mut rest = line;
    loop {
        let i = rest.find(&needle)?;
        // `name=` must not be the tail of `filename=`.
        let before = rest[..i].chars().last();
        let value = &rest[i + needle.len()..];
        if matches!(before, None | Some(' ' | ';')) {
            let end = value.find('"')?;
            return Some(value[..end].to_owned());
        }
        rest = value;
    }
}

/// Every part of the body, in order; `None` when the body is not a well-formed form.
pub fn parse<'a>(body: &'a [u8], boundary: &str) -> Option<Vec<Part<'a>>> {
    let delimiter = format!("--{boundary}");
    let separator = format!("\r\n--{boundary}");
    let start = find(body, delimiter.as_bytes())?;
    let mut rest = &body[start + delimiter.len()..];
    let mut parts = Vec::new();
    loop {
        if rest.starts_with(b"--") {
            return Some(parts);
        }
        rest = rest.strip_prefix(b"\r\n")?;
        let head_end = find(rest, b"\r\n\r\n")?;
        let head = std::str::from_utf8(&rest[..head_end]).ok()?;
        let disposition = head.split("\r\n").find(|l| {
            l.get(..20)
                .is_some_and(|k| k.eq_ignore_ascii_case("content-disposition:"))
        })?;
        let name = param(disposition, "name")?;
        let filename = param(disposition, "filename");
        let content = &rest[head_end + 4..];
        let end = find(content, separator.as_bytes())?;
        parts.push(Part {
            name,
            filename,
            data: &content[..end],
        });
        rest = &content[end + separator.len()..];
    }
}

/// The text of a field, or `""`.
pub fn text<'a>(parts: &'a [Part<'_>], name: &str) -> &'a str {
    parts
        .iter()
        .find(|p| p.name == name && p.filename.is_none())
        .and_then(|p| std::str::from_utf8(p.data).ok())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_browser_form_with_a_file() {
        let b = boundary("multipart/form-data; boundary=----WebKitFormBoundaryX1").unwrap();
        assert_eq!(b, "----WebKitFormBoundaryX1");
        let body = b"------WebKitFormBoundaryX1\r\n\
Content-Disposition: form-data; name=\"_csrf\"\r\n\r\n\
tok\r\n\
------WebKitFormBoundaryX1\r\n\
Content-Disposition: form-data; name=\"file\"; filename=\"ekstre.csv\"\r\n\
Content-Type: text/csv\r\n\r\n\
a;b\r\n\xfe;2\r\n\
------WebKitFormBoundaryX1--\r\n";
        let parts = parse(body, &b).unwrap();
        assert_eq!(parts.len(), 2);
        assert_eq!(text(&parts, "_csrf"), "tok");
        assert_eq!(parts[1].name, "file");
        assert_eq!(parts[1].filename.as_deref(), Some("ekstre.csv"));
        assert_eq!(parts[1].data, b"a;b\r\n\xfe;2");
        assert_eq!(text(&parts, "file"), "");
    }

    #[test]
    fn what_is_not_a_form() {
        assert_eq!(boundary("application/x-www-form-urlencoded"), None);
        assert_eq!(boundary("multipart/form-data"), None);
        assert!(parse(b"--X\r\nno head end", "X").is_none());
        assert!(parse(
            b"--X\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nnever closed",
            "X"
        )
        .is_none());
        assert_eq!(parse(b"--X--\r\n", "X"), Some(Vec::new()));
    }
}
