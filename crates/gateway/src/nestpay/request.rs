//! Request mapping: our requests as `CC5Request` documents, and the signed 3D form.
//!
//! Pure functions, so the exact bytes a bank receives are tested without a network.
//! The order id is always our [`ClientRef`](sanalpos_core::ClientRef): cancel, refund,
//! capture and status all find the order by it.

use std::net::IpAddr;

use sanalpos_core::{Currency, Expiry, Kurus};

use super::signing::hash_ver3;
use super::xml::Cc5Request;
use super::{store_type, Credentials, ThreeDModel};
use crate::types::{Card, ReturnUrls};

/// `100.25`: dot decimal, two places.
pub fn format_amount(amount: Kurus) -> String {
    amount.to_decimal_string()
}

/// `Taksit`: empty for a single payment (0 or 1), else the count.
pub fn format_installments(installments: u8) -> String {
    if installments <= 1 {
        String::new()
    } else {
        installments.to_string()
    }
}

/// `Expires`: `MM/YY`.
pub fn format_expires(expiry: Expiry) -> String {
    format!("{:02}/{:02}", expiry.month(), expiry.year() % 100)
}

/// `Currency`: the ISO numeric code (949, 840, 978).
pub fn format_currency(currency: Currency) -> String {
    currency.numeric().to_string()
}

/// Card data as the wire carries it. Built from a [`Card`] by the gateway; from plain
/// text only in tests that replay recorded requests.
pub struct CardData<'a> {
    /// The card number.
    pub number: &'a str,
    /// `MM/YY`.
    pub expires: String,
    /// The card security code (`Cvv2Val`); masked in the document's `Debug` and in
    /// [`masked`](super::xml::Cc5Request::masked).
    pub cvv: &'a str,
}

impl<'a> CardData<'a> {
    /// The wire form of a card.
    pub fn from_card(card: &'a Card) -> CardData<'a> {
        CardData {
            number: card.number.expose(),
            expires: format_expires(card.expiry),
            cvv: card.cvv.expose(),
        }
    }
}

/// What a charge is about, apart from the card.
#[derive(Debug, Clone)]
pub struct Payment<'a> {
    /// `OrderId`: our client reference.
    pub order_id: &'a str,
    /// `Total`.
    pub amount: Kurus,
    /// `Currency`.
    pub currency: Currency,
    /// `Taksit` (1 for a single payment).
    pub installments: u8,
    /// `IPAddress`: the cardholder's, when known (else empty).
    pub ip: Option<IpAddr>,
    /// `Email`, when known (else empty).
    pub email: Option<&'a str>,
    /// `UserId`, when known (else empty).
    pub user_id: Option<&'a str>,
    /// `BillTo/Name`: the name on the card, when given.
    pub holder: Option<&'a str>,
    /// `PreAuth` instead of `Auth`.
    pub pre_auth: bool,
}

impl Payment<'_> {
    fn tran_type(&self) -> &'static str {
        if self.pre_auth {
            "PreAuth"
        } else {
            "Auth"
        }
    }
}

/// The values of a 3D callback that the `3d` model's charge carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ThreeDAuth {
    /// `md`: the bank's token for the card, sent as `Number`.
    pub md: String,
    /// `xid`, sent as `PayerTxnId`.
    pub xid: String,
    /// `eci`, sent as `PayerSecurityLevel`.
    pub eci: String,
    /// `cavv`, sent as `PayerAuthenticationCode`.
    pub cavv: String,
}

fn signed_in(credentials: &Credentials) -> Cc5Request {
    let mut request = Cc5Request::new();
    request
        .push("Name", credentials.api_user.clone())
        .push("Password", credentials.api_password.expose())
        .push("ClientId", credentials.client_id.clone());
    request
}

/// The elements a charge starts with, up to `Taksit`.
fn charge_head(credentials: &Credentials, payment: &Payment<'_>) -> Cc5Request {
    let mut request = signed_in(credentials);
    request
        .push("Type", payment.tran_type())
        .push(
            "IPAddress",
            payment.ip.map(|ip| ip.to_string()).unwrap_or_default(),
        )
        .push("Email", payment.email.unwrap_or_default())
        .push("OrderId", payment.order_id)
        .push("UserId", payment.user_id.unwrap_or_default())
        .push("Total", format_amount(payment.amount))
        .push("Currency", format_currency(payment.currency))
        .push("Taksit", format_installments(payment.installments));
    request
}

fn bill_to(request: &mut Cc5Request, payment: &Payment<'_>) {
    if let Some(holder) = payment.holder.filter(|h| !h.trim().is_empty()) {
        request.push_group("BillTo", vec![("Name", holder.to_owned())]);
    }
}

/// A sale (`Auth`) or pre-authorisation (`PreAuth`) with the card.
pub fn payment(
    credentials: &Credentials,
    payment: &Payment<'_>,
    card: &CardData<'_>,
) -> Cc5Request {
    let mut request = charge_head(credentials, payment);
    request
        .push("Number", card.number)
        .push("Expires", card.expires.clone())
        .push("Cvv2Val", card.cvv)
        .push("Mode", "P");
    bill_to(&mut request, payment);
    request
}

/// The `3d` model's charge after the callback: `Number` is the callback's `md`; no
/// expiry, no CVV, and only the fields the protocol lists for it.
pub fn three_d_payment(
    credentials: &Credentials,
    payment: &Payment<'_>,
    auth: &ThreeDAuth,
) -> Cc5Request {
    let mut request = signed_in(credentials);
    request
        .push("Type", payment.tran_type())
        .push(
            "IPAddress",
            payment.ip.map(|ip| ip.to_string()).unwrap_or_default(),
        )
        .push("OrderId", payment.order_id)
        .push("Total", format_amount(payment.amount))
        .push("Currency", format_currency(payment.currency))
        .push("Taksit", format_installments(payment.installments))
        .push("Number", auth.md.clone())
        .push("PayerTxnId", auth.xid.clone())
        .push("PayerSecurityLevel", auth.eci.clone())
        .push("PayerAuthenticationCode", auth.cavv.clone())
        .push("Mode", "P");
    request
}

/// `PostAuth`: captures `amount` of a pre-authorisation of `authorized`. Capturing
/// more than was pre-authorised needs `Extra/PREAMT`.
pub fn post_auth(
    credentials: &Credentials,
    order_id: &str,
    amount: Kurus,
    authorized: Kurus,
) -> Cc5Request {
    let mut request = signed_in(credentials);
    request
        .push("Type", "PostAuth")
        .push("OrderId", order_id)
        .push("Total", format_amount(amount));
    if amount > authorized {
        request.push_group("Extra", vec![("PREAMT", format_amount(authorized))]);
    }
    request
}

/// `Void`: cancels the whole order on its business day.
pub fn void(credentials: &Credentials, order_id: &str) -> Cc5Request {
    let mut request = signed_in(credentials);
    request.push("Type", "Void").push("OrderId", order_id);
    request
}

/// `Credit`: refunds `amount` of the order after its business day.
pub fn credit(
    credentials: &Credentials,
    order_id: &str,
    amount: Kurus,
    currency: Currency,
) -> Cc5Request {
    let mut request = signed_in(credentials);
    request
        .push("Type", "Credit")
        .push("OrderId", order_id)
        .push("Total", format_amount(amount))
        .push("Currency", format_currency(currency));
    request
}

/// `Extra/ORDERSTATUS` = `QUERY`: the order's latest transaction.
pub fn order_status(credentials: &Credentials, order_id: &str) -> Cc5Request {
    let mut request = signed_in(credentials);
    request
        .push("OrderId", order_id)
        .push_group("Extra", vec![("ORDERSTATUS", "QUERY".to_owned())]);
    request
}

/// `Extra/ORDERHISTORY` = `QUERY`: every transaction of the order.
pub fn order_history(credentials: &Credentials, order_id: &str) -> Cc5Request {
    let mut request = signed_in(credentials);
    request
        .push("OrderId", order_id)
        .push_group("Extra", vec![("ORDERHISTORY", "QUERY".to_owned())]);
    request
}

/// Form fields of a 3D start, in the order they are written, `hash` last.
pub type Form = Vec<(&'static str, String)>;

/// The signed form the browser posts to the bank's 3D gate. The card goes with it
/// except in `3d_host`, where it is typed on the bank's page: the form then holds card
/// data and must never be logged.
pub fn three_d_form(
    credentials: &Credentials,
    model: ThreeDModel,
    payment: &Payment<'_>,
    urls: &ReturnUrls,
    card: Option<&CardData<'_>>,
    rnd: &str,
    lang: &str,
) -> Form {
    let mut form: Form = vec![
        ("clientid", credentials.client_id.clone()),
        ("storetype", store_type(model).to_owned()),
        ("amount", format_amount(payment.amount)),
        ("oid", payment.order_id.to_owned()),
        ("okUrl", urls.success.clone()),
        ("failUrl", urls.fail.clone()),
        ("rnd", rnd.to_owned()),
        ("lang", lang.to_owned()),
        ("currency", format_currency(payment.currency)),
        ("taksit", format_installments(payment.installments)),
        ("TranType", payment.tran_type().to_owned()),
        ("hashAlgorithm", "ver3".to_owned()),
    ];
    if model != ThreeDModel::ThreeDHost {
        if let Some(card) = card {
            let (month, year) = card.expires.split_once('/').unwrap_or_default();
            form.push(("pan", card.number.to_owned()));
            form.push(("Ecom_Payment_Card_ExpDate_Month", month.to_owned()));
            form.push(("Ecom_Payment_Card_ExpDate_Year", year.to_owned()));
            form.push(("cv2", card.cvv.to_owned()));
        }
    }
    let hash = hash_ver3(&form, credentials.store_key.expose());
    form.push(("hash", hash));
    form
}

/// Escapes text for an HTML attribute value.
pub fn escape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A complete HTML page whose form (id `form`) posts the fields to the bank's 3D gate
/// as soon as it loads; without scripts, a button does it.
pub fn redirect_html(gate_url: &str, form: &Form) -> String {
    let mut html = String::with_capacity(2048);
    html.push_str(
        "<!DOCTYPE html>\n<html lang=\"tr\">\n<head><meta charset=\"utf-8\">\
         <title>3D Secure</title></head>\n<body>\n",
    );
    html.push_str(&format!(
        "<form id=\"form\" method=\"post\" action=\"{}\">\n",
        escape_html(gate_url)
    ));
    for (name, value) in form {
        html.push_str(&format!(
            "<input type=\"hidden\" name=\"{}\" value=\"{}\">\n",
            escape_html(name),
            escape_html(value)
        ));
    }
    html.push_str(
        "<noscript><button type=\"submit\">Devam / Continue</button></noscript>\n</form>\n\
         <script>document.getElementById(\"form\").submit();</script>\n</body>\n</html>\n",
    );
    html
}

#[cfg(test)]
mod tests {
    use super::*;
    use sanalpos_core::Secret;

    fn credentials() -> Credentials {
        Credentials {
            client_id: "700655000200".into(),
            api_user: "ISBANKAPI".into(),
            api_password: Secret::new("ISBANK07"),
            store_key: Secret::new("TRPS0200"),
        }
    }

    fn payment_of(amount: &str) -> Payment<'static> {
        Payment {
            order_id: "order1",
            amount: Kurus::parse(amount).unwrap(),
            currency: Currency::Try,
            installments: 1,
            ip: None,
            email: None,
            user_id: None,
            holder: None,
            pre_auth: false,
        }
    }

    #[test]
    fn wire_formats() {
        assert_eq!(format_installments(0), "");
        assert_eq!(format_installments(1), "");
        assert_eq!(format_installments(12), "12");
        assert_eq!(format_amount(Kurus::parse("100.25").unwrap()), "100.25");
        assert_eq!(format_amount(Kurus::parse("1").unwrap()), "1.00");
        assert_eq!(format_expires(Expiry::parse("1", "2030").unwrap()), "01/30");
        assert_eq!(format_currency(Currency::Usd), "840");
        assert_eq!(format_currency(Currency::Eur), "978");
    }

    #[test]
    fn capture_above_the_pre_authorisation_names_it() {
        let c = credentials();
        let more = post_auth(
            &c,
            "o",
            Kurus::parse("12").unwrap(),
            Kurus::parse("10").unwrap(),
        );
        assert_eq!(more.get_child("Extra", "PREAMT"), Some("10.00"));
        assert_eq!(more.get("Total"), Some("12.00"));
        let less = post_auth(
            &c,
            "o",
            Kurus::parse("8").unwrap(),
            Kurus::parse("10").unwrap(),
        );
        assert_eq!(less.get_child("Extra", "PREAMT"), None);
    }

    #[test]
    fn three_d_sale_carries_the_callback_not_the_card() {
        let auth = ThreeDAuth {
            md: "435508:ABC:4122:##700655000200".into(),
            xid: "x".into(),
            eci: "05".into(),
            cavv: "c".into(),
        };
        let r = three_d_payment(&credentials(), &payment_of("1.01"), &auth);
        assert_eq!(r.get("Number"), Some(auth.md.as_str()));
        assert_eq!(r.get("PayerTxnId"), Some("x"));
        assert_eq!(r.get("PayerSecurityLevel"), Some("05"));
        assert_eq!(r.get("PayerAuthenticationCode"), Some("c"));
        assert_eq!(r.get("Expires"), None);
        assert_eq!(r.get("Cvv2Val"), None);
        assert_eq!(r.get("Type"), Some("Auth"));
        assert_eq!(r.get("Email"), None);
        assert_eq!(
            r.names(),
            [
                "Name",
                "Password",
                "ClientId",
                "Type",
                "IPAddress",
                "OrderId",
                "Total",
                "Currency",
                "Taksit",
                "Number",
                "PayerTxnId",
                "PayerSecurityLevel",
                "PayerAuthenticationCode",
                "Mode"
            ]
        );
    }

    #[test]
    fn forms_per_model_verify_and_hide_nothing_they_should_not_carry() {
        let urls = ReturnUrls {
            success: "https://shop/ok?a=1&b=2".into(),
            fail: "https://shop/fail".into(),
        };
        let card = CardData {
            number: "4111111111111111",
            expires: "12/26".into(),
            cvv: "000",
        };
        for model in [
            ThreeDModel::ThreeD,
            ThreeDModel::ThreeDPay,
            ThreeDModel::ThreeDHost,
        ] {
            let form = three_d_form(
                &credentials(),
                model,
                &payment_of("10"),
                &urls,
                Some(&card),
                "rnd1",
                "tr",
            );
            let get = |n: &str| form.iter().find(|(k, _)| *k == n).map(|(_, v)| v.as_str());
            assert_eq!(get("storetype"), Some(store_type(model)));
            assert_eq!(get("hashAlgorithm"), Some("ver3"));
            assert_eq!(get("TranType"), Some("Auth"));
            assert_eq!(get("taksit"), Some(""));
            let has_card = get("pan").is_some();
            assert_eq!(has_card, model != ThreeDModel::ThreeDHost);
            if has_card {
                assert_eq!(get("Ecom_Payment_Card_ExpDate_Month"), Some("12"));
                assert_eq!(get("Ecom_Payment_Card_ExpDate_Year"), Some("26"));
            }
            assert_eq!(
                super::super::signing::verify_ver3(&form, "TRPS0200"),
                Ok(())
            );
            let html = redirect_html("https://bank/fim/est3Dgate", &form);
            assert!(html.contains(
                "<form id=\"form\" method=\"post\" action=\"https://bank/fim/est3Dgate\">"
            ));
            assert!(html.contains("value=\"https://shop/ok?a=1&amp;b=2\""));
        }
    }
}
