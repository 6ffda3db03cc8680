//! Helpers of the NestPay tests: a simulator on a random port, raw `CC5Request`
//! documents written here, and a small reader of the `CC5Response` answers.

use std::time::Duration;

use quick_xml::events::Event;
use quick_xml::Reader;
use sanalpos_simulator::nestpay::{self, NestpayConfig, NestpayHandle, NestpayMerchant};
use serde_json::Value;

use crate::{parse_auto_post, unique_ref, Fields};

pub(crate) const ZIRAAT_CARD: &str = "4546711234567894";
pub(crate) const ISBANK_CARD: &str = "4508034508034509";

pub(crate) fn vectors() -> Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../vectors/nestpay.json");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// A decoded `CC5Response`: leaves as `Name` and `Extra/NAME`.
#[derive(Debug, Clone)]
pub(crate) struct Answer(pub(crate) Vec<(String, String)>);

impl Answer {
    pub(crate) fn get(&self, path: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == path)
            .map(|(_, v)| v.as_str())
    }

    pub(crate) fn s(&self, path: &str) -> &str {
        self.get(path)
            .unwrap_or_else(|| panic!("no {path} in {self:?}"))
    }

    pub(crate) fn has(&self, path: &str) -> bool {
        self.get(path).is_some()
    }

    /// The names under `Extra`, in order.
    pub(crate) fn extra_keys(&self) -> Vec<String> {
        self.0
            .iter()
            .filter_map(|(k, _)| k.strip_prefix("Extra/").map(str::to_owned))
            .collect()
    }
}

/// Decodes ISO-8859-9 bytes and reads the answer's leaves.
pub(crate) fn read_answer(bytes: &[u8]) -> Answer {
    let (text, _, _) = encoding_rs::WINDOWS_1254.decode(bytes);
    assert!(text.starts_with("<?xml version=\"1.0\" encoding=\"ISO-8859-9\"?>"));
    let mut reader = Reader::from_str(&text);
    let mut path: Vec<String> = Vec::new();
    let mut value = String::new();
    let mut out = Vec::new();
    let mut had_child = false;
    loop {
        match reader.read_event().unwrap() {
            Event::Start(e) => {
                path.push(String::from_utf8(e.name().as_ref().to_vec()).unwrap());
                value.clear();
                had_child = false;
            }
            Event::Text(t) => value.push_str(&t.decode().unwrap()),
            Event::GeneralRef(r) => {
                let ch = r.resolve_char_ref().unwrap().unwrap_or_else(|| {
                    match r.decode().unwrap().as_ref() {
                        "amp" => '&',
                        "lt" => '<',
                        "gt" => '>',
                        other => panic!("entity {other}"),
                    }
                });
                value.push(ch);
            }
            Event::End(_) => {
                if path.len() >= 2 && !had_child {
                    out.push((path[1..].join("/"), value.clone()));
                }
                path.pop();
                had_child = true;
                value.clear();
            }
            Event::Eof => break,
            _ => {}
        }
    }
    assert_eq!(path.len(), 0);
    Answer(out)
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// A `CC5Request` document: the fields in order, `Extra/X` and `BillTo/X` grouped.
pub(crate) fn document(fields: &[(&str, &str)]) -> String {
    let mut body = String::new();
    let mut groups: Vec<(String, String)> = Vec::new();
    for (name, value) in fields {
        match name.split_once('/') {
            Some((group, child)) => {
                let inner = format!("<{child}>{}</{child}>", escape(value));
                match groups.iter_mut().find(|(g, _)| g == group) {
                    Some(slot) => slot.1.push_str(&inner),
                    None => groups.push((group.to_owned(), inner)),
                }
            }
            None => body.push_str(&format!("<{name}>{}</{name}>", escape(value))),
        }
    }
    for (group, inner) in groups {
        body.push_str(&format!("<{group}>{inner}</{group}>"));
    }
    format!("<?xml version=\"1.0\" encoding=\"ISO-8859-9\"?>\n<CC5Request>{body}</CC5Request>\n")
}

/// The document's bytes in ISO-8859-9.
pub(crate) fn latin5(text: &str) -> Vec<u8> {
    let (bytes, _, unmappable) = encoding_rs::WINDOWS_1254.encode(text);
    assert!(!unmappable);
    bytes.into_owned()
}

pub(crate) struct Np {
    pub(crate) handle: NestpayHandle,
    pub(crate) merchant: NestpayMerchant,
    pub(crate) client: reqwest::Client,
    pub(crate) base: String,
}

pub(crate) async fn np_start() -> Np {
    np_start_with(|_| {}).await
}

pub(crate) async fn np_start_with(tweak: impl FnOnce(&mut NestpayConfig)) -> Np {
    let merchant = NestpayMerchant::test_platform();
    let mut config = NestpayConfig {
        merchants: vec![merchant.clone()],
        test_mode: true,
        slow_answer_delay: Duration::from_millis(300),
    };
    tweak(&mut config);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let handle = nestpay::spawn(config, listener).await.unwrap();
    let base = handle.base_url();
    let client = reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    Np {
        handle,
        merchant,
        client,
        base,
    }
}

impl Np {
    pub(crate) fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// A document with this merchant's credentials first.
    pub(crate) fn doc(&self, fields: &[(&str, &str)]) -> String {
        let mut all: Vec<(&str, &str)> = vec![
            ("Name", &self.merchant.api_user),
            ("Password", &self.merchant.api_password),
            ("ClientId", &self.merchant.client_id),
        ];
        all.extend_from_slice(fields);
        document(&all)
    }

    /// Posts raw bytes to `/fim/api` with `content_type`; status and body.
    pub(crate) async fn post_bytes(&self, content_type: &str, body: Vec<u8>) -> (u16, Vec<u8>) {
        let response = self
            .client
            .post(self.url("/fim/api"))
            .header("Content-Type", content_type)
            .body(body)
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        if status == 200 {
            assert_eq!(
                response.headers()["content-type"],
                "text/xml; charset=ISO-8859-9"
            );
        }
        (status, response.bytes().await.unwrap().to_vec())
    }

    pub(crate) async fn post_doc(&self, doc: &str) -> Answer {
        let (status, body) = self.post_bytes("text/xml", latin5(doc)).await;
        assert_eq!(status, 200);
        read_answer(&body)
    }

    pub(crate) async fn api(&self, fields: &[(&str, &str)]) -> Answer {
        self.post_doc(&self.doc(fields)).await
    }

    /// The fields of a non-3D sale.
    pub(crate) fn sale_fields<'a>(
        &self,
        kind: &'a str,
        order_id: &'a str,
        card: &'a str,
        total: &'a str,
    ) -> Vec<(&'a str, &'a str)> {
        vec![
            ("Type", kind),
            ("IPAddress", "127.0.0.1"),
            ("OrderId", order_id),
            ("Total", total),
            ("Currency", "949"),
            ("Taksit", ""),
            ("Number", card),
            ("Expires", "12/30"),
            ("Cvv2Val", "000"),
            ("Mode", "P"),
        ]
    }

    /// A sale with a fresh order id; the order id and the answer.
    pub(crate) async fn sale(&self, kind: &str, card: &str, total: &str) -> (String, Answer) {
        let order_id = unique_ref("np");
        let answer = self
            .api(&self.sale_fields(kind, &order_id, card, total))
            .await;
        (order_id, answer)
    }

    pub(crate) async fn end_of_day(&self) {
        let response = self
            .client
            .post(self.url("/_sim/end-of-day"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status().as_u16(), 200);
    }

    pub(crate) async fn transactions(&self) -> Vec<Value> {
        let url = self.url(&format!(
            "/_sim/merchants/{}/transactions",
            self.merchant.client_id
        ));
        let text = self
            .client
            .get(url)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        serde_json::from_str::<Value>(&text)
            .unwrap()
            .as_array()
            .unwrap()
            .clone()
    }

    pub(crate) async fn status(&self, order_id: &str) -> Answer {
        self.api(&[("OrderId", order_id), ("Extra/ORDERSTATUS", "QUERY")])
            .await
    }

    pub(crate) async fn history(&self, order_id: &str) -> Answer {
        self.api(&[("OrderId", order_id), ("Extra/ORDERHISTORY", "QUERY")])
            .await
    }

    /// Posts a form to the 3D gate; the HTML.
    pub(crate) async fn gate(&self, path: &str, fields: &Fields) -> String {
        let response = self
            .client
            .post(self.url(path))
            .form(fields)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status().as_u16(), 200);
        response.text().await.unwrap()
    }

    /// Submits the bank page (`action` = `submit` or `cancel`) with `extra` fields;
    /// the callback's target and fields.
    pub(crate) async fn submit_page(
        &self,
        page: &str,
        action: &str,
        extra: &[(&str, &str)],
    ) -> (String, Fields) {
        let start = page.find("<form id=\"acs\"").expect("bank page form");
        let marker = "action=\"";
        let at = page[start..].find(marker).unwrap() + start + marker.len();
        let end = page[at..].find('"').unwrap() + at;
        let path = &page[at..end];
        let mut form: Fields = vec![("action".into(), action.into())];
        form.extend(
            extra
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
        );
        let html = self.gate(path, &form).await;
        parse_auto_post(&html)
    }
}
