//! What the filtered lists of the back office share: reading the filter fields as
//! typed (days in either notation, Istanbul midnights), carrying the filters in links,
//! and the keyset paging links ("first page", "next page" with the cursor; no offset).

use chrono::{DateTime, NaiveDate, Utc};
use maud::{html, Markup};

use super::i18n::Texts;

/// The trimmed text, or `None` when empty.
pub fn opt(text: &str) -> Option<String> {
    let text = text.trim();
    (!text.is_empty()).then(|| text.to_owned())
}

/// The start of an Istanbul day, in UTC.
pub fn istanbul_midnight(d: NaiveDate) -> Option<DateTime<Utc>> {
    sanalpos_core::time::istanbul_midnight(d)
}

/// A day as typed (`2026-11-29`, or `29.11.2026`); `Ok(None)` when empty.
pub fn parse_day(text: &str) -> Result<Option<NaiveDate>, ()> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(None);
    }
    NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .or_else(|_| NaiveDate::parse_from_str(text, "%d.%m.%Y"))
        .map(Some)
        .map_err(|_| ())
}

/// A range of instants, each end optional: `[from, to)`.
pub type Range = (Option<DateTime<Utc>>, Option<DateTime<Utc>>);

/// A `from`–`to` day range as instants: from the start of `from` to the end of `to`
/// (the start of the next day, exclusive). `Err` names the field not understood.
pub fn day_range(from: &str, to: &str) -> Result<Range, &'static str> {
    let from = parse_day(from).map_err(|_| "from")?;
    let to = parse_day(to).map_err(|_| "to")?;
    Ok((
        from.and_then(istanbul_midnight),
        to.and_then(|d| d.succ_opt()).and_then(istanbul_midnight),
    ))
}

/// The query string of the non-empty filters among `pairs` (the cursor is not one).
pub fn query_string(pairs: &[(&str, &String)]) -> String {
    serde_urlencoded::to_string(
        pairs
            .iter()
            .filter(|(_, v)| !v.trim().is_empty())
            .collect::<Vec<_>>(),
    )
    .unwrap_or_default()
}

/// The paging links of a list at `path` filtered by `qs`: back to the first page when
/// on a later one, and the next page (the cursor carried) when there is one.
pub fn paging(t: &Texts, path: &str, qs: &str, on_later_page: bool, next: Option<&str>) -> Markup {
    let sep = if qs.is_empty() { "" } else { "&" };
    html! {
        p.paging {
            @if on_later_page { a #first-page href=(format!("{path}?{qs}")) { (t.first_page) } " " }
            @if let Some(next) = next {
                a #next-page href=(format!("{path}?{qs}{sep}{}", serde_urlencoded::to_string([("cursor", next)]).unwrap_or_default())) { (t.next_page) }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ui::i18n::TR;

    #[test]
    fn paging_links_carry_the_filters_and_the_cursor() {
        let only_next = paging(&TR, "/ui/links", "", false, Some("abc")).into_string();
        assert!(
            only_next.contains("href=\"/ui/links?cursor=abc\""),
            "{only_next}"
        );
        assert!(!only_next.contains("first-page"));
        let both = paging(&TR, "/ui/links", "status=open", true, Some("a+b")).into_string();
        assert!(
            both.contains("href=\"/ui/links?status=open&amp;cursor=a%2Bb\""),
            "{both}"
        );
        assert!(both.contains("href=\"/ui/links?status=open\""), "{both}");
        let last = paging(&TR, "/ui/links", "", true, None).into_string();
        assert!(!last.contains("next-page"));
        assert_eq!(
            day_range("29.11.2026", "2026-11-29")
                .map(|(f, t)| t.zip(f).map(|(t, f)| (t - f).num_hours())),
            Ok(Some(24))
        );
        assert_eq!(day_range("x", ""), Err("from"));
    }
}
