//! Request mapping: our requests as `GVPSRequest` documents, and the signed 3D form.
//!
//! Pure functions, so the exact bytes a bank receives are tested without a network. The
//! order id is always our [`ClientRef`](sanalpos_core::ClientRef); postauth, void and
//! refund name the sale by its `RetrefNum` (`OriginalRetrefNum`). Every document is
//! signed with `Terminal/HashData`, made with the password of the user it names:
//! PROVRFN for `void` and `refund`, PROVAUT otherwise.

use std::net::IpAddr;

use chrono::NaiveDateTime;
use sanalpos_core::{Currency, Expiry, Kurus};

use super::signing::{self, FormInputs, HashInputs, HashVersion};
use super::xml::{Element, GvpsRequest};
use super::{Credentials, ThreeDModel};
use crate::types::{Card, ReturnUrls};

/// `Amount` of the calls whose amount the bank ignores (void, the inquiries): mews sends
/// this constant 1.00, and the hash covers it.
pub const FIXED_AMOUNT: &str = "100";

/// `Amount`: integer kuruş (`10025` = 100.25).
pub fn format_amount(amount: Kurus) -> String {
    amount.minor().to_string()
}

/// `InstallmentCnt`: empty for a single payment (0 or 1), else the count.
pub fn format_installments(installments: u8) -> String {
    if installments <= 1 {
        String::new()
    } else {
        installments.to_string()
    }
}

/// `ExpireDate`: `MMYY`.
pub fn format_expiry(expiry: Expiry) -> String {
    format!("{:02}{:02}", expiry.month(), expiry.year() % 100)
}

/// `CurrencyCode`: the ISO numeric code (949, 840, 978).
pub fn format_currency(currency: Currency) -> String {
    currency.numeric().to_string()
}

/// `StartDate` / `EndDate` of `orderlistinq`: `dd/MM/yyyy HH:mm`.
pub fn format_list_time(time: NaiveDateTime) -> String {
    time.format("%d/%m/%Y %H:%M").to_string()
}

/// Card data as the wire carries it.
pub struct CardData<'a> {
    /// The card number.
    pub number: &'a str,
    /// `MMYY`.
    pub expiry: String,
    /// `CVV2`; masked in the document's `Debug`.
    pub cvv: &'a str,
}

impl<'a> CardData<'a> {
    /// The wire form of a card.
    pub fn from_card(card: &'a Card) -> CardData<'a> {
        CardData {
            number: card.number.expose(),
            expiry: format_expiry(card.expiry),
            cvv: card.cvv.expose(),
        }
    }
}

/// Which of the two users signs a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// PROVAUT: sales, pre-authorisation, capture, inquiries.
    Provision,
    /// PROVRFN: void and refund.
    Refund,
}

/// What every document of one POS starts with: the `Mode` and the hash generation.
#[derive(Debug, Clone, Copy)]
pub struct Envelope {
    /// `TEST` on the bank's test platform (and the simulator), `PROD` live.
    pub mode: &'static str,
    /// The hash generation (`Version`).
    pub version: HashVersion,
}

/// What a charge is about, apart from the card.
#[derive(Debug, Clone)]
pub struct Payment<'a> {
    /// `OrderID`: our client reference.
    pub order_id: &'a str,
    /// `Amount`.
    pub amount: Kurus,
    /// `CurrencyCode`.
    pub currency: Currency,
    /// `InstallmentCnt` (1 for a single payment).
    pub installments: u8,
    /// `Customer/IPAddress`: the cardholder's, when known (else empty).
    pub ip: Option<IpAddr>,
    /// `Customer/EmailAddress`, when known (else empty).
    pub email: Option<&'a str>,
    /// `preauth` instead of `sales`.
    pub pre_auth: bool,
}

impl Payment<'_> {
    /// The `Type` (and the 3D form's `txntype`).
    pub fn txn_type(&self) -> &'static str {
        if self.pre_auth {
            "preauth"
        } else {
            "sales"
        }
    }
}

/// The values of a verified `3D` callback that the provision request carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ThreeDAuth {
    /// `cavv`, sent as `Secure3D/AuthenticationCode`.
    pub cavv: String,
    /// `eci`, sent as `Secure3D/SecurityLevel`.
    pub eci: String,
    /// `xid`, sent as `Secure3D/TxnID`.
    pub xid: String,
    /// `md`, sent as `Secure3D/Md`.
    pub md: String,
}

/// The signed head of a document: `Mode`, `Version`, `Terminal` and `Customer`.
fn head(
    credentials: &Credentials,
    envelope: Envelope,
    role: Role,
    hashed: HashInputs<'_>,
    ip: &str,
    email: &str,
) -> GvpsRequest {
    let (user, password) = match role {
        Role::Provision => (&credentials.prov_user, credentials.prov_password.expose()),
        Role::Refund => (
            &credentials.refund_user,
            credentials.refund_password.expose(),
        ),
    };
    let security = signing::security_data(password, &credentials.terminal_id);
    let hash = signing::hash_data(envelope.version, &hashed, &security);
    let mut request = GvpsRequest::new();
    request
        .push("Mode", envelope.mode)
        .push("Version", envelope.version.wire())
        .push_group(
            "Terminal",
            vec![
                ("ProvUserID", user.clone()),
                ("UserID", user.clone()),
                ("HashData", hash),
                ("ID", credentials.terminal_id.clone()),
                ("MerchantID", credentials.merchant_id.clone()),
            ],
        )
        .push_group(
            "Customer",
            vec![
                ("IPAddress", ip.to_owned()),
                ("EmailAddress", email.to_owned()),
            ],
        );
    request
}

/// The `Transaction` element's common part.
fn transaction(
    kind: &str,
    installments: &str,
    amount: &str,
    currency: &str,
    present: &str,
) -> Vec<Element> {
    vec![
        Element::leaf("Type", kind),
        Element::leaf("InstallmentCnt", installments),
        Element::leaf("Amount", amount),
        Element::leaf("CurrencyCode", currency),
        Element::leaf("CardholderPresentCode", present),
        Element::leaf("MotoInd", "N"),
    ]
}

fn ip_text(ip: Option<IpAddr>) -> String {
    ip.map(|ip| ip.to_string()).unwrap_or_default()
}

/// A `sales` or `preauth` with the card (`CardholderPresentCode` 0).
pub fn payment(
    credentials: &Credentials,
    envelope: Envelope,
    payment: &Payment<'_>,
    card: &CardData<'_>,
) -> GvpsRequest {
    let amount = format_amount(payment.amount);
    let currency = format_currency(payment.currency);
    let hashed = HashInputs {
        order_id: payment.order_id,
        terminal_id: &credentials.terminal_id,
        card_number: card.number,
        amount: &amount,
        currency: &currency,
    };
    let mut request = head(
        credentials,
        envelope,
        Role::Provision,
        hashed,
        &ip_text(payment.ip),
        payment.email.unwrap_or_default(),
    );
    request
        .push_group(
            "Card",
            vec![
                ("Number", card.number.to_owned()),
                ("ExpireDate", card.expiry.clone()),
                ("CVV2", card.cvv.to_owned()),
            ],
        )
        .push_group("Order", vec![("OrderID", payment.order_id.to_owned())])
        .push_element(Element::group(
            "Transaction",
            transaction(
                payment.txn_type(),
                &format_installments(payment.installments),
                &amount,
                &currency,
                "0",
            ),
        ));
    request
}

/// The `3D` model's provision after a verified callback: no card,
/// `CardholderPresentCode` 13 and the callback's `Secure3D` values.
pub fn three_d_payment(
    credentials: &Credentials,
    envelope: Envelope,
    payment: &Payment<'_>,
    auth: &ThreeDAuth,
) -> GvpsRequest {
    let amount = format_amount(payment.amount);
    let currency = format_currency(payment.currency);
    let hashed = HashInputs {
        order_id: payment.order_id,
        terminal_id: &credentials.terminal_id,
        card_number: "",
        amount: &amount,
        currency: &currency,
    };
    let mut request = head(
        credentials,
        envelope,
        Role::Provision,
        hashed,
        &ip_text(payment.ip),
        payment.email.unwrap_or_default(),
    );
    let mut tx = transaction(
        payment.txn_type(),
        &format_installments(payment.installments),
        &amount,
        &currency,
        "13",
    );
    tx.push(Element::group(
        "Secure3D",
        vec![
            Element::leaf("AuthenticationCode", auth.cavv.clone()),
            Element::leaf("SecurityLevel", auth.eci.clone()),
            Element::leaf("TxnID", auth.xid.clone()),
            Element::leaf("Md", auth.md.clone()),
        ],
    ));
    request
        .push_group("Order", vec![("OrderID", payment.order_id.to_owned())])
        .push_element(Element::group("Transaction", tx));
    request
}

/// A call about an existing sale (`postauth`, `void`, `refund`): the sale's order id
/// and `RetrefNum`, the amount as sent and the sale's currency.
struct AfterSale<'a> {
    kind: &'static str,
    role: Role,
    order_id: &'a str,
    retref: &'a str,
    amount: &'a str,
    currency: Currency,
}

/// The document of an [`AfterSale`]: no card, the sale's `RetrefNum` as
/// `OriginalRetrefNum`.
fn after_sale(credentials: &Credentials, envelope: Envelope, call: AfterSale<'_>) -> GvpsRequest {
    let currency = format_currency(call.currency);
    let hashed = HashInputs {
        order_id: call.order_id,
        terminal_id: &credentials.terminal_id,
        card_number: "",
        amount: call.amount,
        currency: &currency,
    };
    let mut request = head(credentials, envelope, call.role, hashed, "", "");
    let mut tx = transaction(call.kind, "", call.amount, &currency, "0");
    tx.push(Element::leaf("OriginalRetrefNum", call.retref));
    request
        .push_group("Order", vec![("OrderID", call.order_id.to_owned())])
        .push_element(Element::group("Transaction", tx));
    request
}

/// `postauth`: captures `amount` of the pre-authorisation `retref`.
pub fn post_auth(
    credentials: &Credentials,
    envelope: Envelope,
    order_id: &str,
    retref: &str,
    amount: Kurus,
    currency: Currency,
) -> GvpsRequest {
    let amount = format_amount(amount);
    after_sale(
        credentials,
        envelope,
        AfterSale {
            kind: "postauth",
            role: Role::Provision,
            order_id,
            retref,
            amount: &amount,
            currency,
        },
    )
}

/// `void` (PROVRFN): cancels the sale `retref` on its business day; `Amount` is the
/// fixed 100.
pub fn void(
    credentials: &Credentials,
    envelope: Envelope,
    order_id: &str,
    retref: &str,
    currency: Currency,
) -> GvpsRequest {
    after_sale(
        credentials,
        envelope,
        AfterSale {
            kind: "void",
            role: Role::Refund,
            order_id,
            retref,
            amount: FIXED_AMOUNT,
            currency,
        },
    )
}

/// `refund` (PROVRFN): refunds `amount` of the sale `retref` (less than the sale is a
/// partial refund).
pub fn refund(
    credentials: &Credentials,
    envelope: Envelope,
    order_id: &str,
    retref: &str,
    amount: Kurus,
    currency: Currency,
) -> GvpsRequest {
    let amount = format_amount(amount);
    after_sale(
        credentials,
        envelope,
        AfterSale {
            kind: "refund",
            role: Role::Refund,
            order_id,
            retref,
            amount: &amount,
            currency,
        },
    )
}

/// An inquiry about one order (`orderinq`, `orderhistoryinq`): `Amount` the fixed 100.
fn order_query(
    credentials: &Credentials,
    envelope: Envelope,
    kind: &str,
    order_id: &str,
) -> GvpsRequest {
    let currency = format_currency(Currency::Try);
    let hashed = HashInputs {
        order_id,
        terminal_id: &credentials.terminal_id,
        card_number: "",
        amount: FIXED_AMOUNT,
        currency: &currency,
    };
    let mut request = head(credentials, envelope, Role::Provision, hashed, "", "");
    request
        .push_group("Order", vec![("OrderID", order_id.to_owned())])
        .push_element(Element::group(
            "Transaction",
            transaction(kind, "", FIXED_AMOUNT, &currency, "0"),
        ));
    request
}

/// `orderinq`: the order's status.
pub fn order_inquiry(credentials: &Credentials, envelope: Envelope, order_id: &str) -> GvpsRequest {
    order_query(credentials, envelope, "orderinq", order_id)
}

/// `orderhistoryinq`: every transaction of the order.
pub fn order_history(credentials: &Credentials, envelope: Envelope, order_id: &str) -> GvpsRequest {
    order_query(credentials, envelope, "orderhistoryinq", order_id)
}

/// `orderlistinq`: one page (of 500) of every transaction between two times at most 30
/// days apart; `OrderID` empty, and so an empty slot in the hash.
pub fn order_list(
    credentials: &Credentials,
    envelope: Envelope,
    start: NaiveDateTime,
    end: NaiveDateTime,
    page: u32,
) -> GvpsRequest {
    let currency = format_currency(Currency::Try);
    let hashed = HashInputs {
        order_id: "",
        terminal_id: &credentials.terminal_id,
        card_number: "",
        amount: FIXED_AMOUNT,
        currency: &currency,
    };
    let mut request = head(credentials, envelope, Role::Provision, hashed, "", "");
    request
        .push_group(
            "Order",
            vec![
                ("OrderID", String::new()),
                ("GroupID", String::new()),
                ("StartDate", format_list_time(start)),
                ("EndDate", format_list_time(end)),
                ("ListPageNum", page.to_string()),
            ],
        )
        .push_element(Element::group(
            "Transaction",
            transaction("orderlistinq", "", FIXED_AMOUNT, &currency, "0"),
        ));
    request
}

/// Form fields of a 3D start, in the order they are written, `secure3dhash` last.
pub type Form = Vec<(&'static str, String)>;

/// The `secure3dsecuritylevel` of a model.
pub fn security_level(model: ThreeDModel) -> &'static str {
    match model {
        ThreeDModel::ThreeDPay => "3D_PAY",
        _ => "3D",
    }
}

/// The signed form the browser posts to `gt3dengine`, the card with it (typed on the
/// merchant's page in both models): it holds card data and must never be logged.
pub fn three_d_form(
    credentials: &Credentials,
    envelope: Envelope,
    model: ThreeDModel,
    payment: &Payment<'_>,
    urls: &ReturnUrls,
    card: &CardData<'_>,
) -> Form {
    let amount = format_amount(payment.amount);
    let currency = format_currency(payment.currency);
    let installments = format_installments(payment.installments);
    let security =
        signing::security_data(credentials.prov_password.expose(), &credentials.terminal_id);
    let hash = signing::form_hash(
        envelope.version,
        &FormInputs {
            terminal_id: &credentials.terminal_id,
            order_id: payment.order_id,
            amount: &amount,
            currency: &currency,
            success_url: &urls.success,
            error_url: &urls.fail,
            txn_type: payment.txn_type(),
            installments: &installments,
        },
        credentials.store_key.expose(),
        &security,
    );
    let (month, year) = card.expiry.split_at(2.min(card.expiry.len()));
    vec![
        ("secure3dsecuritylevel", security_level(model).to_owned()),
        ("mode", envelope.mode.to_owned()),
        ("apiversion", envelope.version.wire().to_owned()),
        ("terminalprovuserid", credentials.prov_user.clone()),
        ("terminaluserid", credentials.prov_user.clone()),
        ("terminalmerchantid", credentials.merchant_id.clone()),
        ("terminalid", credentials.terminal_id.clone()),
        ("txntype", payment.txn_type().to_owned()),
        ("txnamount", amount),
        ("txncurrencycode", currency),
        ("txninstallmentcount", installments),
        ("orderid", payment.order_id.to_owned()),
        ("successurl", urls.success.clone()),
        ("errorurl", urls.fail.clone()),
        ("customeripaddress", ip_text(payment.ip)),
        (
            "customeremailaddress",
            payment.email.unwrap_or_default().to_owned(),
        ),
        ("cardnumber", card.number.to_owned()),
        ("cardexpiredatemonth", month.to_owned()),
        ("cardexpiredateyear", year.to_owned()),
        ("cardcvv2", card.cvv.to_owned()),
        ("secure3dhash", hash),
    ]
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

/// A complete HTML page whose form (id `form`) posts the fields to `gt3dengine` as soon
/// as it loads; without scripts, a button does it.
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

    #[test]
    fn wire_formats() {
        assert_eq!(format_installments(0), "");
        assert_eq!(format_installments(1), "");
        assert_eq!(format_installments(3), "3");
        assert_eq!(format_amount(Kurus::parse("100.25").unwrap()), "10025");
        assert_eq!(format_amount(Kurus::parse("1").unwrap()), "100");
        assert_eq!(format_expiry(Expiry::parse("1", "2030").unwrap()), "0130");
        let t = chrono::NaiveDate::from_ymd_opt(2026, 3, 9)
            .unwrap()
            .and_hms_opt(7, 5, 0)
            .unwrap();
        assert_eq!(format_list_time(t), "09/03/2026 07:05");
    }
}
