//! Black-box tests: the simulator on a random port, driven over real HTTP.
#![allow(clippy::unwrap_used)] // test helpers: a failed unwrap is a failed test

mod card_storage;
mod control;
mod faults;
mod garanti;
mod nestpay_after;
mod nestpay_api;
mod nestpay_common;
mod nestpay_threeds;
mod payment;
mod posnet;
mod pre_auth;
mod refund;
mod report;
mod threeds;

use std::time::Duration;

use sanalpos_simulator::hash::hash_v2;
use sanalpos_simulator::{spawn, MerchantConfig, SimConfig, SimHandle};
use serde_json::Value;

pub(crate) const APPROVED_CARD: &str = "4546711234567894"; // Ziraat sandbox card
pub(crate) const GARANTI_CARD: &str = "5549603469426017"; // Bonus, 3D password 147852

pub(crate) struct TestSim {
    pub(crate) handle: SimHandle,
    pub(crate) merchant: MerchantConfig,
    pub(crate) client: reqwest::Client,
    pub(crate) base: String,
}

pub(crate) async fn start() -> TestSim {
    start_with(MerchantConfig::generate(), |_| {}).await
}

pub(crate) async fn start_with(
    merchant: MerchantConfig,
    tweak: impl FnOnce(&mut SimConfig),
) -> TestSim {
    let mut config = SimConfig {
        merchants: vec![merchant.clone()],
        test_mode: true,
        slow_answer_delay: Duration::from_millis(300),
    };
    tweak(&mut config);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let handle = spawn(config, listener).await.unwrap();
    let base = handle.base_url();
    let client = reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    TestSim {
        handle,
        merchant,
        client,
        base,
    }
}

/// Today in Istanbul.
pub(crate) fn today() -> chrono::NaiveDate {
    sanalpos_simulator::clock::now().date_naive()
}

pub(crate) fn list_date(day: chrono::NaiveDate) -> String {
    day.format("%d.%m.%Y").to_string()
}

pub(crate) fn rnd() -> String {
    sanalpos_simulator::clock::now()
        .format("%d-%m-%Y %H:%M:%S")
        .to_string()
}

pub(crate) fn unique_ref(prefix: &str) -> String {
    use std::sync::atomic::{AtomicU32, Ordering};
    static N: AtomicU32 = AtomicU32::new(0);
    format!(
        "{prefix}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

pub(crate) type Fields = Vec<(String, String)>;

pub(crate) fn set(fields: &mut Fields, name: &str, value: &str) {
    match fields.iter_mut().find(|(k, _)| k == name) {
        Some(slot) => slot.1 = value.to_owned(),
        None => fields.push((name.to_owned(), value.to_owned())),
    }
}

pub(crate) fn get<'a>(fields: &'a Fields, name: &str) -> &'a str {
    fields
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
        .unwrap_or("")
}

impl TestSim {
    pub(crate) fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    pub(crate) async fn post_raw(&self, path: &str, fields: &Fields) -> (u16, String) {
        let response = self
            .client
            .post(self.url(path))
            .form(fields)
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        (status, response.text().await.unwrap())
    }

    pub(crate) async fn post(&self, path: &str, fields: &Fields) -> Value {
        let (status, text) = self.post_raw(path, fields).await;
        assert_eq!(status, 200, "{path}: {text}");
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}: {text}"))
    }

    pub(crate) fn sign(&self, fields: &[&str]) -> String {
        hash_v2(fields, &self.merchant.secret_key)
    }

    /// Signed Payment fields for a non-3D single payment.
    pub(crate) fn payment_fields(&self, card: &str, amount: &str) -> Fields {
        let client_ref = unique_ref("ord");
        let rnd = rnd();
        let mut fields: Fields = [
            ("sx", self.merchant.sx.as_str()),
            ("clientRefCode", &client_ref),
            ("successUrl", ""),
            ("failUrl", ""),
            ("amount", amount),
            ("installmentNo", "1"),
            ("cardHolderName", "Ayşe Yılmaz"),
            ("cardNumber", card),
            ("month", "12"),
            ("year", "2030"),
            ("cvv", "000"),
            ("use3D", "false"),
            ("transactionType", "SALES"),
            ("rnd", &rnd),
            ("environment", "API"),
            ("currencyNumber", "949"),
            ("description", "test"),
        ]
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
        self.resign_payment(&mut fields);
        fields
    }

    /// Recomputes `hashDatav2` of Payment fields after a change.
    pub(crate) fn resign_payment(&self, fields: &mut Fields) {
        let hash = self.sign(&[
            get(fields, "sx"),
            get(fields, "clientRefCode"),
            get(fields, "amount"),
            get(fields, "successUrl"),
            get(fields, "failUrl"),
            get(fields, "rnd"),
            get(fields, "customerKey"),
        ]);
        set(fields, "hashDatav2", &hash);
    }

    pub(crate) async fn pay(&self, card: &str, amount: &str) -> Value {
        let fields = self.payment_fields(card, amount);
        self.post("/Vpos/v1/Payment", &fields).await
    }

    /// Whether an answer's `hashDataV2` verifies (with `CURRENCY_CODE` when present).
    pub(crate) fn answer_verifies(&self, v: &Value) -> bool {
        let s = |k: &str| v[k].as_str().unwrap_or("").to_owned();
        let mut signed = vec![
            s("MERCHANT_NO"),
            s("REFERENCE_CODE"),
            s("AUTH_CODE"),
            s("RESPONSE_CODE"),
            s("USE_3D"),
            s("RND"),
            s("INSTALLMENT"),
            s("AUTHORIZATION_AMOUNT"),
        ];
        if v.get("CURRENCY_CODE").is_some() {
            signed.push(s("CURRENCY_CODE"));
        }
        hash_v2(&signed, &self.merchant.secret_key) == s("hashDataV2")
    }

    /// PaymentList's `result`, unwrapped from a JSON string when it is one.
    pub(crate) async fn payment_list(&self, start: &str, end: &str, client_ref: &str) -> Value {
        let sx = &self.merchant.sx_list;
        let hash = self.sign(&[sx, start, end, client_ref]);
        let fields: Fields = vec![
            ("sx".into(), sx.clone()),
            ("startDate".into(), start.into()),
            ("endDate".into(), end.into()),
            ("clientRefCode".into(), client_ref.into()),
            ("hashDatav2".into(), hash),
        ];
        unwrap_result(self.post("/Vpos/Payment/PaymentList", &fields).await)
    }

    pub(crate) fn cancel_fields(
        &self,
        reference: &str,
        kind: &str,
        amount: &str,
        trx_date: &str,
    ) -> Fields {
        let sx = &self.merchant.sx_cancel;
        let hash = self.sign(&[sx, reference, kind, amount, trx_date]);
        vec![
            ("sx".into(), sx.clone()),
            ("referenceCode".into(), reference.into()),
            ("type".into(), kind.into()),
            ("amount".into(), amount.into()),
            ("trxDate".into(), trx_date.into()),
            ("hashDatav2".into(), hash),
        ]
    }

    pub(crate) async fn cancel_refund(&self, reference: &str, kind: &str, amount: &str) -> Value {
        let trx_date = today().format("%Y.%m.%d").to_string();
        let fields = self.cancel_fields(reference, kind, amount, &trx_date);
        self.post("/Vpos/v1/CancelRefundPayment", &fields).await
    }

    pub(crate) async fn end_of_day(&self) -> Value {
        let response = self
            .client
            .post(self.url("/_sim/end-of-day"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status().as_u16(), 200);
        serde_json::from_str(&response.text().await.unwrap()).unwrap()
    }

    pub(crate) async fn transactions(&self) -> Vec<Value> {
        let url = self.url(&format!(
            "/_sim/merchants/{}/transactions",
            self.merchant.merchant_no
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
        let value: Value = serde_json::from_str(&text).unwrap();
        value.as_array().unwrap().clone()
    }
}

pub(crate) fn unwrap_result(v: Value) -> Value {
    match &v["result"] {
        Value::String(text) => serde_json::from_str(text).unwrap(),
        Value::Object(_) => v["result"].clone(),
        other => panic!("no result in {v}: {other}"),
    }
}

/// Whether `v` is the hash-error answer (result as a string, RESPONSE_CODE the number 9).
pub(crate) fn is_hash_error(v: &Value) -> bool {
    let Some(text) = v["result"].as_str() else {
        return false;
    };
    let inner: Value = serde_json::from_str(text).unwrap();
    inner["RESPONSE_CODE"] == 9 && inner["RESPONSE_DATA"] == "API : hashData error :: "
}

fn html_unescape(text: &str) -> String {
    text.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&amp;", "&")
}

fn attribute(tag: &str, name: &str) -> Option<String> {
    let marker = format!("{name}=\"");
    let start = tag.find(&marker)? + marker.len();
    let end = tag[start..].find('"')? + start;
    Some(html_unescape(&tag[start..end]))
}

/// The action and hidden fields of the auto-posting form (id `form`) in a page.
pub(crate) fn parse_auto_post(html: &str) -> (String, Fields) {
    let form_start = html.find("<form id=\"form\"").expect("form id=form");
    let form_tag_end = html[form_start..].find('>').unwrap() + form_start;
    let action = attribute(&html[form_start..=form_tag_end], "action").unwrap();
    assert!(html.contains("document.getElementById('form').submit()"));
    let mut fields = Vec::new();
    let mut rest = &html[form_tag_end..];
    while let Some(i) = rest.find("<input type=\"hidden\"") {
        let end = rest[i..].find('>').unwrap() + i;
        let tag = &rest[i..=end];
        fields.push((
            attribute(tag, "name").unwrap(),
            attribute(tag, "value").unwrap(),
        ));
        rest = &rest[end..];
    }
    (action, fields)
}

pub(crate) fn fields_to_json(fields: &Fields) -> Value {
    Value::Object(
        fields
            .iter()
            .map(|(k, v)| (k.clone(), Value::String(v.clone())))
            .collect(),
    )
}
