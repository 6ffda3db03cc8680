//! Request mapping: our requests to `posnetRequest` documents, and the browser's form to
//! the bank's 3D page.
//!
//! Formats: `amount` integer kuruş, `currencyCode` `TL`/`US`/`EU`, `installment` two
//! digits (`00` for a single payment), `expDate` `YYMM`.

use sanalpos_core::{Currency, Kurus};

use super::mac;
use super::xml::PosnetRequest;
use crate::types::Card;

/// What every request of one POS names.
#[derive(Debug, Clone, Copy)]
pub struct Merchant<'a> {
    /// `mid`.
    pub mid: &'a str,
    /// `tid`.
    pub tid: &'a str,
}

/// `amount`: integer kuruş.
pub fn format_amount(amount: Kurus) -> String {
    amount.minor().to_string()
}

/// `currencyCode`: the bank's letters.
pub fn format_currency(currency: Currency) -> &'static str {
    match currency {
        Currency::Try => "TL",
        Currency::Usd => "US",
        Currency::Eur => "EU",
    }
}

/// `installment`: `00` for a single payment, else two digits.
pub fn format_installment(count: u8) -> String {
    if count <= 1 {
        "00".to_owned()
    } else {
        format!("{count:02}")
    }
}

/// The card as the wire carries it. Its `Debug` hides everything.
#[derive(Clone)]
pub struct CardData<'a> {
    /// `ccno`.
    pub number: &'a str,
    /// `expDate`, `YYMM`.
    pub expiry: String,
    /// `cvc`.
    pub cvv: &'a str,
    /// `cardHolderName`.
    pub holder: &'a str,
}

impl<'a> CardData<'a> {
    /// The wire form of a card.
    pub fn from_card(card: &'a Card) -> CardData<'a> {
        CardData {
            number: card.number.expose(),
            expiry: format!("{:02}{:02}", card.expiry.year() % 100, card.expiry.month()),
            cvv: card.cvv.expose(),
            holder: &card.holder,
        }
    }
}

impl std::fmt::Debug for CardData<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CardData(***)")
    }
}

/// A payment with the card: `sale`, or `auth` for a pre-authorisation.
pub fn payment(
    merchant: Merchant<'_>,
    order_id: &str,
    amount: Kurus,
    currency: Currency,
    installments: u8,
    card: &CardData<'_>,
    pre_auth: bool,
) -> PosnetRequest {
    PosnetRequest::new(merchant.mid, merchant.tid, true).operation(
        if pre_auth { "auth" } else { "sale" },
        vec![
            ("orderID", order_id.to_owned()),
            ("installment", format_installment(installments)),
            ("amount", format_amount(amount)),
            ("currencyCode", format_currency(currency).to_owned()),
            ("ccno", card.number.to_owned()),
            ("expDate", card.expiry.clone()),
            ("cvc", card.cvv.to_owned()),
        ],
    )
}

/// `capt`: capture of a pre-authorisation by its `hostLogKey`.
pub fn capture(
    merchant: Merchant<'_>,
    host_log_key: &str,
    amount: Kurus,
    currency: Currency,
    installments: u8,
) -> PosnetRequest {
    PosnetRequest::new(merchant.mid, merchant.tid, true).operation(
        "capt",
        vec![
            ("hostLogKey", host_log_key.to_owned()),
            ("amount", format_amount(amount)),
            ("currencyCode", format_currency(currency).to_owned()),
            ("installment", format_installment(installments)),
        ],
    )
}

/// `reverse`: same-day cancel of a sale by its `hostLogKey`.
pub fn reverse(merchant: Merchant<'_>, host_log_key: &str) -> PosnetRequest {
    PosnetRequest::new(merchant.mid, merchant.tid, true).operation(
        "reverse",
        vec![
            ("transaction", "sale".to_owned()),
            ("hostLogKey", host_log_key.to_owned()),
        ],
    )
}

/// `return`: refund of all or part of a sale by its `hostLogKey`.
pub fn refund(
    merchant: Merchant<'_>,
    host_log_key: &str,
    amount: Kurus,
    currency: Currency,
) -> PosnetRequest {
    PosnetRequest::new(merchant.mid, merchant.tid, true).operation(
        "return",
        vec![
            ("amount", format_amount(amount)),
            ("currencyCode", format_currency(currency).to_owned()),
            ("hostLogKey", host_log_key.to_owned()),
        ],
    )
}

/// `agreement`: the status of an order by its 24-character `orderID`.
pub fn agreement(merchant: Merchant<'_>, order_id: &str) -> PosnetRequest {
    PosnetRequest::new(merchant.mid, merchant.tid, false)
        .operation("agreement", vec![("orderID", order_id.to_owned())])
}

/// 3D step 1, `oosRequestData`: the card, encrypted by the bank for its 3D page.
#[allow(clippy::too_many_arguments)]
pub fn oos_request_data(
    merchant: Merchant<'_>,
    posnet_id: &str,
    xid: &str,
    amount: Kurus,
    currency: Currency,
    installments: u8,
    card: &CardData<'_>,
    pre_auth: bool,
) -> PosnetRequest {
    PosnetRequest::new(merchant.mid, merchant.tid, false).operation(
        "oosRequestData",
        vec![
            ("posnetid", posnet_id.to_owned()),
            ("ccno", card.number.to_owned()),
            ("expDate", card.expiry.clone()),
            ("cvc", card.cvv.to_owned()),
            ("amount", format_amount(amount)),
            ("currencyCode", format_currency(currency).to_owned()),
            ("installment", format_installment(installments)),
            ("XID", xid.to_owned()),
            ("cardHolderName", card.holder.to_owned()),
            (
                "tranType",
                if pre_auth { "Auth" } else { "Sale" }.to_owned(),
            ),
        ],
    )
}

/// The three packets of a 3D callback and the request MAC over our own values.
#[derive(Debug, Clone)]
pub struct Packets<'a> {
    /// `BankPacket`.
    pub bank_data: &'a str,
    /// `MerchantPacket`.
    pub merchant_data: &'a str,
    /// `Sign`.
    pub sign: &'a str,
    /// The request MAC.
    pub mac: String,
}

/// The request MAC of an order: over our XID, amount and currency, never the callback's.
pub fn packet_mac(
    merchant: Merchant<'_>,
    enc_key: &str,
    xid: &str,
    amount: Kurus,
    currency: Currency,
) -> String {
    let first = mac::first_hash(enc_key, merchant.tid);
    mac::request_mac(
        xid,
        &format_amount(amount),
        format_currency(currency),
        merchant.mid,
        &first,
    )
}

/// 3D step 4, `oosResolveMerchantData`.
pub fn oos_resolve(merchant: Merchant<'_>, packets: &Packets<'_>) -> PosnetRequest {
    PosnetRequest::new(merchant.mid, merchant.tid, false).operation(
        "oosResolveMerchantData",
        vec![
            ("bankData", packets.bank_data.to_owned()),
            ("merchantData", packets.merchant_data.to_owned()),
            ("sign", packets.sign.to_owned()),
            ("mac", packets.mac.clone()),
        ],
    )
}

/// 3D step 5, `oosTranData`: the charge itself (sent without `tranDateRequired`, as
/// the reference client does).
pub fn oos_tran(merchant: Merchant<'_>, packets: &Packets<'_>) -> PosnetRequest {
    PosnetRequest::new(merchant.mid, merchant.tid, false).operation(
        "oosTranData",
        vec![
            ("bankData", packets.bank_data.to_owned()),
            ("merchantData", packets.merchant_data.to_owned()),
            ("sign", packets.sign.to_owned()),
            ("wpAmount", "0".to_owned()),
            ("mac", packets.mac.clone()),
        ],
    )
}

/// The answer of `oosRequestData` the browser's form is made of.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OosData {
    /// `data1`, posted as `posnetData`.
    pub data1: String,
    /// `data2`, posted as `posnetData2`.
    pub data2: String,
    /// `sign`, posted as `digest`.
    pub sign: String,
}

/// The fields the browser posts to `YKBPaymentService`, in order.
pub fn three_d_form(
    mid: &str,
    posnet_id: &str,
    data: &OosData,
    return_url: &str,
    lang: &str,
) -> Vec<(&'static str, String)> {
    vec![
        ("mid", mid.to_owned()),
        ("posnetID", posnet_id.to_owned()),
        ("posnetData", data.data1.clone()),
        ("posnetData2", data.data2.clone()),
        ("digest", data.sign.clone()),
        ("merchantReturnURL", return_url.to_owned()),
        ("url", String::new()),
        ("lang", lang.to_owned()),
    ]
}

/// An auto-submitting HTML page that posts the form to the bank.
pub fn redirect_html(action: &str, fields: &[(&'static str, String)]) -> String {
    let mut html = String::from(
        "<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>3D Secure</title></head><body onload=\"document.getElementById('form').submit()\">",
    );
    html.push_str(&format!(
        "<form id=\"form\" method=\"post\" action=\"{}\">",
        attr(action)
    ));
    for (name, value) in fields {
        html.push_str(&format!(
            "<input type=\"hidden\" name=\"{name}\" value=\"{}\">",
            attr(value)
        ));
    }
    html.push_str("<noscript><button type=\"submit\">Devam / Continue</button></noscript></form></body></html>");
    html
}

fn attr(value: &str) -> String {
    value
        .replace('&', "&amp;")
        .replace('"', "&quot;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}
