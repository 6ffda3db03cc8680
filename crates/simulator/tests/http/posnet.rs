//! The PosNet simulator on its own: every MAC of vectors/posnet.json through its own
//! code, the recorded request bodies (raw and URL-encoded `xmldata`) over HTTP, and the
//! bank's refusals (0148 for an unknown mid/tid or an IP off the whitelist, E216 for a
//! wrong MAC, 0228 for packets it did not issue).

use std::time::Duration;

use serde_json::Value;

use sanalpos_simulator::posnet::{self, wire, PosnetConfig, PosnetHandle, PosnetMerchant};

fn vectors() -> Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../vectors/posnet.json");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn s<'a>(v: &'a Value, name: &str) -> &'a str {
    v[name].as_str().unwrap()
}

#[test]
fn every_mac_vector_through_the_simulators_code() {
    let v = vectors();
    let first = wire::first_hash(s(&v["account"], "enc_key"), s(&v["account"], "tid"));
    assert_eq!(first, s(&v["first_hash"], "value"));
    for e in v["request_mac"].as_array().unwrap() {
        let i = &e["inputs"];
        let mac = wire::expected_request_mac(
            s(i, "xid"),
            s(i, "amount"),
            s(i, "currency"),
            s(i, "mid"),
            &first,
        );
        assert_eq!(mac, s(e, "mac"));
    }
    for e in v["resolve_response_mac"].as_array().unwrap() {
        let i = &e["inputs"];
        let mac = wire::resolve_answer_mac(
            s(i, "mdStatus"),
            s(i, "xid"),
            s(i, "amount"),
            s(i, "currency"),
            s(i, "mid"),
            &first,
        );
        assert_eq!(mac, s(e, "mac"));
        // A blanked amount no longer verifies (the source test's own check).
        let blank = wire::resolve_answer_mac(
            s(i, "mdStatus"),
            s(i, "xid"),
            "",
            s(i, "currency"),
            s(i, "mid"),
            &first,
        );
        assert!(!wire::same(&blank, s(e, "mac")));
    }
    for e in v["excluded"].as_array().unwrap() {
        assert_ne!(s(e, "mac_in_test").len(), 44);
    }
}

async fn bank(merchant: PosnetMerchant) -> PosnetHandle {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    posnet::spawn(
        PosnetConfig {
            merchants: vec![merchant],
            test_mode: true,
            slow_answer_delay: Duration::from_millis(100),
        },
        listener,
    )
    .await
    .unwrap()
}

async fn post(handle: &PosnetHandle, body: Vec<u8>) -> String {
    let bytes = reqwest::Client::builder()
        .no_proxy()
        .build()
        .unwrap()
        .post(format!("{}/PosnetWebService/XML", handle.base_url()))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    encoding_rs::WINDOWS_1254.decode(&bytes).0.into_owned()
}

fn encoded(xml: &str) -> Vec<u8> {
    format!(
        "xmldata={}",
        serde_urlencoded::to_string([("x", xml)])
            .unwrap()
            .trim_start_matches("x=")
    )
    .into_bytes()
}

#[tokio::test]
async fn the_recorded_sale_raw_and_encoded_and_the_refusals() {
    let v = vectors();
    let handle = bank(PosnetMerchant::test_platform()).await;
    let text = s(&v["xml_requests"][0], "text");
    // The vector's card fails Luhn: the issuer (simulated) declines it 14, after every
    // check of the request itself passed.
    let raw = post(&handle, format!("xmldata={text}").into_bytes()).await;
    assert!(
        raw.contains("<approved>0</approved><respCode>0014</respCode>"),
        "{raw}"
    );
    let good = text
        .replace("5555444433332222", "4282209027132016")
        .replace("<expDate>2112<", "<expDate>3012<")
        .replace("0000190620093100_024", "0000190620093100_025");
    let answer = post(&handle, encoded(&good)).await;
    assert!(
        answer.contains("<approved>1</approved>") && answer.contains("<hostlogkey>"),
        "{answer}"
    );
    assert!(answer.starts_with("<?xml version=\"1.0\" encoding=\"ISO-8859-9\"?>"));
    let again = post(&handle, encoded(&good)).await;
    assert!(
        again.contains("<approved>2</approved><respCode>0127</respCode>"),
        "{again}"
    );

    let other_mid = good.replace("6706598320", "6706598321");
    let refused = post(&handle, encoded(&other_mid)).await;
    assert!(
        refused
            .contains("<respCode>0148</respCode><respText>INVALID MID TID IP. Hatalı IP:127.0.0.1"),
        "{refused}"
    );

    // 3D packets it never issued, and a wrong MAC on a real order's packets.
    let forged = "<posnetRequest><mid>6706598320</mid><tid>67005551</tid><oosResolveMerchantData><bankData>AB</bankData><merchantData>CD</merchantData><sign>EF</sign><mac>x</mac></oosResolveMerchantData></posnetRequest>";
    assert!(post(&handle, encoded(forged))
        .await
        .contains("<respCode>0228</respCode>"));

    let mut fenced = PosnetMerchant::test_platform();
    fenced.allowed_ips = Some(vec!["10.0.0.1".parse().unwrap()]);
    let handle = bank(fenced).await;
    assert!(post(&handle, encoded(&good))
        .await
        .contains("<respCode>0148</respCode>"));
    assert!(handle.transactions("67005551").unwrap().is_empty());
}
