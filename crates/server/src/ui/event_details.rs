//! An audit event's data as a person reads it: labelled values from the catalogue,
//! amounts and times in the page's language, wrapped to the column's width.
//!
//! The stored data stays the canonical JSON the audit chain hashes; only its rendering
//! is here, so a key the catalogue does not know yet is still shown (under its own name)
//! rather than hidden.

use maud::{html, Markup};
use serde_json::Value;

use sanalpos_core::{Currency, Kurus, Lang};
use sanalpos_service::{PaymentStatus, RefundStatus};

use super::format::{money, when};
use super::i18n::{texts, Texts};

/// The label of a data key, from the catalogue when it has one.
fn label<'a>(t: &Texts, key: &'a str) -> &'a str {
    match key {
        "status" => t.status,
        "amount" => t.amount,
        "currency" => t.currency,
        "installments" => t.installments,
        "pos_id" => t.pos,
        "auth_code" => t.auth_code,
        "provider_ref" => t.provider_ref,
        "bank_code" => t.bank_code,
        "authorized_amount" => t.ev_authorized_amount,
        "refunded_amount" => t.refunded,
        "attempt_id" => t.ev_attempt_id,
        "refund_id" => t.ev_refund_id,
        "reason" => t.reason,
        "result" => t.ev_result,
        "username" => t.username,
        "role" => t.role,
        "description" => t.description,
        "order_ref" => t.order_ref,
        "customer_ref" => t.customer_ref,
        "recipient" => t.ev_recipient,
        "language" => t.ev_language,
        "with_note" => t.ev_with_note,
        other => other,
    }
}

/// One value in words: amounts as money, times in Istanbul, statuses by name.
fn value(lang: Lang, key: &str, v: &Value, currency: Currency) -> Markup {
    let t = texts(lang);
    match v {
        Value::String(s) if key.ends_with("amount") => match Kurus::parse(s) {
            Ok(k) => html! { (money(lang, k, currency)) },
            Err(_) => html! { (s) },
        },
        Value::String(s) if key == "status" => {
            let status = PaymentStatus::parse(s)
                .map(|s| t.status(s))
                .or_else(|| RefundStatus::parse(s).map(|s| t.refund_status(s)));
            html! { (status.unwrap_or(s.as_str())) }
        }
        // A connection test's finding ("test connection"), in the words the POS page
        // used when it was made.
        Value::String(s) if key == "result" => {
            let words = match s.as_str() {
                "ok" => Some(t.conn_ok),
                "bad_credentials" => Some(t.conn_bad_credentials),
                "ip_not_allowed" => Some(t.conn_ip),
                "unreachable" => Some(t.conn_unreachable),
                "other" => Some(t.conn_other),
                _ => None,
            };
            html! { (words.unwrap_or(s.as_str())) }
        }
        Value::String(s) if key.ends_with("_at") => html! { (when(lang, s)) },
        Value::Number(n) if key.ends_with("_at") => match n.as_i64() {
            Some(ms) => html! { (lang.datetime(ms)) },
            None => html! { (n) },
        },
        Value::String(s) => html! { (s) },
        Value::Bool(b) => html! { (if *b { t.yes } else { t.no }) },
        Value::Number(n) => html! { (n) },
        Value::Null => html! { (t.none) },
        Value::Array(items) => html! {
            @for (i, item) in items.iter().enumerate() {
                @if i > 0 { ", " }
                (value(lang, key, item, currency))
            }
        },
        Value::Object(_) => details(lang, v, currency),
    }
}

/// An event's data as a list of labelled values; `currency` is the payment's, used for
/// amounts when the data does not name its own.
pub fn details(lang: Lang, data: &Value, currency: Currency) -> Markup {
    let Value::Object(fields) = data else {
        return value(lang, "", data, currency);
    };
    let t = texts(lang);
    let currency = fields
        .get("currency")
        .and_then(Value::as_str)
        .and_then(Currency::from_alpha)
        .unwrap_or(currency);
    html! {
        dl.event-data {
            @for (key, v) in fields.iter().filter(|(_, v)| !v.is_null()) {
                div data-key=(key) {
                    dt { (label(t, key)) }
                    dd { (value(lang, key, v, currency)) }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn labelled_values_in_the_page_language() {
        let data = json!({
            "status": "approved",
            "amount": "1234.56",
            "currency": "TRY",
            "bank_code": null,
            "attempt_id": "att_1",
        });
        let tr = details(Lang::Tr, &data, Currency::Try).into_string();
        assert!(tr.contains("<dt>Tutar</dt><dd>1.234,56 TL</dd>"), "{tr}");
        assert!(tr.contains("<dt>Durum</dt><dd>Onaylandı</dd>"), "{tr}");
        assert!(!tr.contains("bank_code") && !tr.contains('{'), "{tr}");
        let en = details(Lang::En, &data, Currency::Try).into_string();
        assert!(en.contains("<dt>Amount</dt><dd>TRY 1,234.56</dd>"), "{en}");
    }

    #[test]
    fn a_connection_test_reads_as_words() {
        let data = json!({ "result": "other", "detail": "HTTP 500" });
        let tr = details(Lang::Tr, &data, Currency::Try).into_string();
        assert!(
            tr.contains("<dt>Sonuç</dt><dd>Sağlayıcı isteği reddetti</dd>"),
            "{tr}"
        );
        assert!(tr.contains("HTTP 500"), "{tr}");
        let en = details(Lang::En, &json!({ "result": "ok" }), Currency::Try).into_string();
        assert!(
            en.contains(
                "<dt>Result</dt><dd>Connection works: the provider accepted the credentials.</dd>"
            ),
            "{en}"
        );
    }
}
