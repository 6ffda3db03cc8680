//! The Garanti simulator over real HTTP, driven with documents written here (not by the
//! gateway crate): every vector of vectors/garanti.json is accepted as signed (or, for
//! the callbacks, reproduced by the simulator's own callbacks), a tampered one is
//! refused, and the bank's rules hold (day close, users, 3D page, faults).

use std::time::Duration;

use serde_json::Value;
use sha1::Sha1;
use sha2::{Digest, Sha512};

use sanalpos_simulator::garanti::{self, GarantiConfig, GarantiHandle, GarantiMerchant};

use crate::parse_auto_post;

fn vectors() -> Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../vectors/garanti.json");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn s<'a>(v: &'a Value, name: &str) -> &'a str {
    v[name].as_str().unwrap_or_else(|| panic!("{name}"))
}

struct Bank {
    handle: GarantiHandle,
    http: reqwest::Client,
}

async fn start(merchant: GarantiMerchant) -> Bank {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let handle = garanti::spawn(
        GarantiConfig {
            merchants: vec![merchant],
            test_mode: true,
            slow_answer_delay: Duration::from_millis(200),
        },
        listener,
    )
    .await
    .unwrap();
    let http = reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap();
    Bank { handle, http }
}

impl Bank {
    async fn post(&self, body: &str) -> (u16, String) {
        let r = self
            .http
            .post(format!("{}/VPServlet", self.handle.base_url()))
            .body(body.to_owned())
            .send()
            .await
            .unwrap();
        (r.status().as_u16(), r.text().await.unwrap())
    }
}

/// A leaf's text in an answer (first match of `<name>…</name>`).
fn leaf<'a>(text: &'a str, name: &str) -> &'a str {
    let open = format!("<{name}>");
    let Some(start) = text.find(&open) else {
        return "";
    };
    let start = start + open.len();
    let end = text[start..].find(&format!("</{name}>")).unwrap() + start;
    &text[start..end]
}

fn upper_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02X}")).collect()
}

fn security(password: &str, terminal: &str) -> String {
    upper_hex(&Sha1::digest(
        format!("{password}{terminal:0>9}").as_bytes(),
    ))
}

/// A request document, written by hand; `card` as `(number, MMYY, cvv)`.
#[allow(clippy::too_many_arguments)]
fn document(
    version: &str,
    user: &str,
    hash: &str,
    terminal: &str,
    merchant: &str,
    order: &str,
    card: Option<(&str, &str, &str)>,
    kind: &str,
    amount: &str,
    currency: &str,
    extra_tx: &str,
    extra_order: &str,
) -> String {
    let card = card
        .map(|(n, e, c)| {
            format!("<Card><Number>{n}</Number><ExpireDate>{e}</ExpireDate><CVV2>{c}</CVV2></Card>")
        })
        .unwrap_or_default();
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<GVPSRequest><Mode>TEST</Mode><Version>{version}</Version>\
         <Terminal><ProvUserID>{user}</ProvUserID><UserID>{user}</UserID><HashData>{hash}</HashData>\
         <ID>{terminal}</ID><MerchantID>{merchant}</MerchantID></Terminal>\
         <Customer><IPAddress>127.0.0.1</IPAddress><EmailAddress></EmailAddress></Customer>{card}\
         <Order><OrderID>{order}</OrderID>{extra_order}</Order><Transaction><Type>{kind}</Type>\
         <InstallmentCnt></InstallmentCnt><Amount>{amount}</Amount><CurrencyCode>{currency}</CurrencyCode>\
         <CardholderPresentCode>0</CardholderPresentCode><MotoInd>N</MotoInd>{extra_tx}</Transaction></GVPSRequest>\n"
    )
}

/// Every HashData vector, sent with its own hash: the simulator accepts the signature
/// (no 0651) and judges the rest; the same request with one hash digit changed is 0651.
#[tokio::test]
async fn every_hash_data_vector_is_accepted_as_signed() {
    let bank = start(GarantiMerchant::test_platform()).await;
    let v = vectors();
    for entry in v["hash_data"].as_array().unwrap() {
        let i = &entry["inputs"];
        let kind = s(i, "Transaction.Type");
        if kind == "bininq" {
            continue; // card program lookup: not simulated
        }
        let user = if s(entry, "password_role") == "refund" {
            "PROVRFN"
        } else {
            "PROVAUT"
        };
        let card_number = s(i, "Card.Number");
        let card = (!card_number.is_empty()).then_some((card_number, "1230", "123"));
        let extra_tx = if matches!(kind, "void" | "refund") {
            "<OriginalRetrefNum>123</OriginalRetrefNum>"
        } else {
            ""
        };
        let extra_order = if kind == "orderlistinq" {
            "<StartDate>01/01/2024 00:00</StartDate><EndDate>02/01/2024 00:00</EndDate><ListPageNum>1</ListPageNum>"
        } else {
            ""
        };
        let hash = s(entry, "hash");
        let doc = |hash: &str| {
            document(
                "512",
                user,
                hash,
                s(i, "Terminal.ID"),
                "7000679",
                s(i, "OrderID"),
                card,
                kind,
                s(i, "Transaction.Amount"),
                s(i, "Transaction.CurrencyCode"),
                extra_tx,
                extra_order,
            )
        };
        let (status, text) = bank.post(&doc(hash)).await;
        assert_eq!(status, 200);
        assert_ne!(
            leaf(&text, "ReasonCode"),
            "0651",
            "{}: {text}",
            s(entry, "what")
        );
        let mut tampered = hash.to_owned();
        tampered.replace_range(0..1, if hash.starts_with('0') { "1" } else { "0" });
        let (_, text) = bank.post(&doc(&tampered)).await;
        assert_eq!(leaf(&text, "ReasonCode"), "0651", "{}", s(entry, "what"));
    }
}

#[tokio::test]
async fn the_recorded_legacy_requests_are_accepted_verbatim() {
    let bank = start(GarantiMerchant::test_platform()).await;
    let v = vectors();
    // The sales of the serializer test: signed (legacy SHA-1), and its card fails the
    // check digit, so the issuer declines it 14.
    let (_, text) = bank.post(s(&v["xml_requests"][0], "text")).await;
    assert_eq!(leaf(&text, "Source"), "HOST", "{text}");
    assert_eq!(leaf(&text, "Code"), "14");
    assert!(
        !text.contains("5555444433332222"),
        "the answer masks the card"
    );
    // The orderinq: signed, and the order is unknown here.
    let (_, text) = bank.post(s(&v["xml_requests"][1], "text")).await;
    assert_eq!(leaf(&text, "ReasonCode"), "0110", "{text}");
    assert_eq!(leaf(&text, "ErrorMsg"), "İşlem bulunamadı");
}

/// Posts a 3D form; the answer is the bank page or an auto-post back.
async fn post_form(bank: &Bank, fields: &[(String, String)]) -> String {
    bank.http
        .post(format!("{}/servlet/gt3dengine", bank.handle.base_url()))
        .form(fields)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

fn form_of(entry: &Value, card: &str) -> Vec<(String, String)> {
    let mut fields: Vec<(String, String)> = entry["fields"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_owned()))
        .collect();
    for (k, v) in [
        ("cardnumber", card),
        ("cardexpiredatemonth", "12"),
        ("cardexpiredateyear", "30"),
        ("cardcvv2", "123"),
        ("secure3dhash", s(entry, "secure3dhash")),
    ] {
        fields.push((k.to_owned(), v.to_owned()));
    }
    fields
}

#[tokio::test]
async fn the_form_vector_opens_the_bank_page_and_a_tampered_one_comes_back_refused() {
    let bank = start(GarantiMerchant::test_platform()).await;
    let v = vectors();
    let entry = &v["form_hash"][0];
    let page = post_form(&bank, &form_of(entry, "4282209027132016")).await;
    assert!(page.contains("SMS kodu"), "{page}");
    assert!(page.contains("428220******2016") && !page.contains("4282209027132016"));
    let mut tampered = form_of(entry, "4282209027132016");
    for f in &mut tampered {
        if f.0 == "txnamount" {
            f.1 = "10026".into();
        }
    }
    let back = post_form(&bank, &tampered).await;
    let (action, fields) = parse_auto_post(&back);
    assert_eq!(action, "https://domain.com/fail_url");
    let get = |n: &str| fields.iter().find(|(k, _)| k == n).map(|(_, v)| v.as_str());
    assert_eq!(get("mdstatus"), Some("7"));
    assert_eq!(get("response"), Some("Error"));
    assert_eq!(
        get("hash"),
        None,
        "the recorded error callback carries no hash"
    );
    assert!(fields.iter().all(|(_, v)| !v.contains("4282209027132016")));
}

/// The callback the simulator signs verifies with the callback vectors' formula
/// (SHA-512 of the hashparams values and the store key), computed here.
#[tokio::test]
async fn the_bank_page_callback_is_signed_as_the_vectors_are() {
    let merchant = GarantiMerchant::test_platform();
    let bank = start(merchant.clone()).await;
    let v = vectors();
    // The callback vectors themselves: the formula reproduces their hash.
    for entry in v["callback_hash"].as_array().unwrap() {
        let f = &entry["fields"];
        let joined: String = s(entry, "hashparams")
            .split(':')
            .filter(|p| !p.is_empty())
            .map(|p| f[p].as_str().unwrap_or_default())
            .collect();
        assert_eq!(
            upper_hex(&Sha512::digest(
                format!("{joined}{}", merchant.store_key).as_bytes()
            )),
            s(entry, "hash")
        );
    }
    let page = post_form(&bank, &form_of(&v["form_hash"][0], "4282209027132016")).await;
    let start_at = page.find("action=\"").unwrap() + 8;
    let path = &page[start_at..start_at + page[start_at..].find('"').unwrap()];
    let back = bank
        .http
        .post(format!("{}{path}", bank.handle.base_url()))
        .form(&[("code", "123456"), ("action", "submit")])
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let (action, fields) = parse_auto_post(&back);
    assert_eq!(action, "https://domain.com/success");
    let get = |n: &str| {
        fields
            .iter()
            .find(|(k, _)| k == n)
            .map(|(_, v)| v.as_str())
            .unwrap_or_default()
    };
    assert_eq!(get("mdstatus"), "1");
    assert_eq!(get("oid"), "order222");
    assert_eq!(get("clientid"), "30691298");
    let joined: String = get("hashparams")
        .split(':')
        .filter(|p| !p.is_empty())
        .map(get)
        .collect();
    assert_eq!(get("hashparamsval"), joined);
    assert_eq!(
        upper_hex(&Sha512::digest(
            format!("{joined}{}", merchant.store_key).as_bytes()
        )),
        get("hash")
    );
    // The provision that follows, written here, charges once.
    let sec = security(&merchant.prov_password, &merchant.terminal_id);
    let hash = upper_hex(&Sha512::digest(
        format!("order222{}10025949{sec}", merchant.terminal_id).as_bytes(),
    ));
    let secure = format!(
        "<Secure3D><AuthenticationCode>{}</AuthenticationCode><SecurityLevel>{}</SecurityLevel>\
         <TxnID>{}</TxnID><Md>{}</Md></Secure3D>",
        get("cavv"),
        get("eci"),
        get("xid"),
        get("md")
    );
    let doc = document(
        "512",
        "PROVAUT",
        &hash,
        &merchant.terminal_id,
        &merchant.merchant_id,
        "order222",
        None,
        "sales",
        "10025",
        "949",
        &secure,
        "",
    )
    .replace(
        "<CardholderPresentCode>0</CardholderPresentCode>",
        "<CardholderPresentCode>13</CardholderPresentCode>",
    );
    let (_, text) = bank.post(&doc).await;
    assert_eq!(leaf(&text, "Code"), "00", "{text}");
    let (_, text) = bank.post(&doc).await;
    assert_ne!(leaf(&text, "Code"), "00", "a provision happens once");
    assert_eq!(bank.handle.transactions("30691298").unwrap().len(), 1);
}

fn signed_sale(m: &GarantiMerchant, order: &str, card: &str, amount: &str) -> String {
    let sec = security(&m.prov_password, &m.terminal_id);
    let hash = upper_hex(&Sha512::digest(
        format!("{order}{}{card}{amount}949{sec}", m.terminal_id).as_bytes(),
    ));
    document(
        "512",
        &m.prov_user,
        &hash,
        &m.terminal_id,
        &m.merchant_id,
        order,
        Some((card, "1230", "123")),
        "sales",
        amount,
        "949",
        "",
        "",
    )
}

fn signed_after(
    m: &GarantiMerchant,
    kind: &str,
    order: &str,
    retref: &str,
    amount: &str,
    refund_user: bool,
) -> String {
    let (user, password) = if refund_user {
        (&m.refund_user, &m.refund_password)
    } else {
        (&m.prov_user, &m.prov_password)
    };
    let sec = security(password, &m.terminal_id);
    let hash = upper_hex(&Sha512::digest(
        format!("{order}{}{amount}949{sec}", m.terminal_id).as_bytes(),
    ));
    document(
        "512",
        user,
        &hash,
        &m.terminal_id,
        &m.merchant_id,
        order,
        None,
        kind,
        amount,
        "949",
        &format!("<OriginalRetrefNum>{retref}</OriginalRetrefNum>"),
        "",
    )
}

#[tokio::test]
async fn day_rules_users_and_the_ledger() {
    let mut m = GarantiMerchant::generate();
    m.refund_password = format!("{}x", m.prov_password);
    let bank = start(m.clone()).await;
    // A Mode other than TEST or PROD is refused before anything else.
    let odd = signed_sale(&m, "o0", "4282209027132016", "1000")
        .replace("<Mode>TEST</Mode>", "<Mode>LIVE</Mode>");
    let (_, text) = bank.post(&odd).await;
    assert_eq!(leaf(&text, "ReasonCode"), "0002", "{text}");
    let (_, text) = bank
        .post(&signed_sale(&m, "o1", "4282209027132016", "1000"))
        .await;
    assert_eq!(leaf(&text, "Code"), "00", "{text}");
    let retref = leaf(&text, "RetrefNum").to_owned();
    assert_eq!(leaf(&text, "CardNumberMasked"), "428220******2016");
    // Refund before the day is closed: 0208.
    let (_, text) = bank
        .post(&signed_after(&m, "refund", "o1", &retref, "400", true))
        .await;
    assert_eq!(leaf(&text, "ReasonCode"), "0208", "{text}");
    // A void signed by the provision user: refused as a security error.
    let (_, text) = bank
        .post(&signed_after(&m, "void", "o1", &retref, "100", false))
        .await;
    assert_eq!(leaf(&text, "ReasonCode"), "0651");
    bank.handle.end_of_day(None);
    // Void after the close: refused; refund after it: partial, then too much.
    let (_, text) = bank
        .post(&signed_after(&m, "void", "o1", &retref, "100", true))
        .await;
    assert_eq!(leaf(&text, "ReasonCode"), "0213", "{text}");
    let (_, text) = bank
        .post(&signed_after(&m, "refund", "o1", &retref, "400", true))
        .await;
    assert_eq!(leaf(&text, "Code"), "00", "{text}");
    let (_, text) = bank
        .post(&signed_after(&m, "refund", "o1", &retref, "601", true))
        .await;
    assert_eq!(leaf(&text, "ReasonCode"), "0214", "{text}");
    // History from the ledger: the sale and the refund.
    let (_, text) = bank
        .post(&signed_after(&m, "orderhistoryinq", "o1", "", "100", false))
        .await;
    assert_eq!(text.matches("<OrderTxn>").count(), 2, "{text}");
    assert!(text.contains("<Type>refund</Type>") && text.contains("<Settlement>Y</Settlement>"));
    // The day's statement of the first day lists the sale; the refund is the next day's.
    let rows = bank.handle.transactions(&m.terminal_id).unwrap();
    let csv = bank
        .handle
        .statement(&m.terminal_id, rows[0].business_day)
        .unwrap();
    assert!(
        csv.contains(&retref) && csv.contains("Satış") && csv.contains("10,00"),
        "{csv}"
    );
    let next = bank
        .handle
        .statement(&m.terminal_id, rows[1].business_day)
        .unwrap();
    assert!(
        next.contains("Kısmi İade") && next.contains("4,00"),
        "{next}"
    );
}

#[tokio::test]
async fn magic_and_fault_cards() {
    let m = GarantiMerchant::generate();
    let bank = start(m.clone()).await;
    let (_, text) = bank
        .post(&signed_sale(&m, "m1", "4000000000000051", "100"))
        .await;
    assert_eq!(leaf(&text, "Source"), "HOST");
    assert_eq!(leaf(&text, "Code"), "05");
    assert_eq!(leaf(&text, "SysErrMsg"), "RPC-05 condition was raised");
    let (status, _) = bank
        .post(&signed_sale(&m, "m2", "4000000000009029", "100"))
        .await;
    assert_eq!(status, 500);
    let (status, _) = bank
        .post(&signed_sale(&m, "m3", "4000000000009037", "100"))
        .await;
    assert_eq!(status, 500);
    let (status, _) = bank
        .post(&signed_sale(&m, "m4", "4000000000009078", "100"))
        .await;
    assert_eq!(status, 503);
    let (status, text) = bank
        .post(&signed_sale(&m, "m5", "4000000000009078", "100"))
        .await;
    assert_eq!((status, leaf(&text, "Code")), (200, "00"));
    let rows = bank.handle.transactions(&m.terminal_id).unwrap();
    let approved: Vec<&str> = rows
        .iter()
        .filter(|t| t.approved)
        .map(|t| t.order_id.as_str())
        .collect();
    assert_eq!(
        approved,
        ["m2", "m5"],
        "9029 charged, 9037 and the first 9078 did not"
    );
    assert!(serde_json::to_string(&rows)
        .unwrap()
        .find("4000000000009029")
        .is_none());
}
