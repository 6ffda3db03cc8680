//! The golden vectors: every SecurityData, HashData, secure3dhash and callback hash of
//! vectors/garanti.json, and the exact request bytes, through the client's code.

use sha2::{Digest, Sha256};

use sanalpos_core::{Currency, Kurus};
use sanalpos_gateway::garanti::request::{self, CardData, Envelope, Payment};
use sanalpos_gateway::garanti::signing::{
    callback_hash, callback_preimage, form_hash, hash_data, hash_data_preimage, hash_params,
    security_data, verify_callback, FormInputs, HashInputs, HashVersion, SignatureError,
};
use sanalpos_gateway::garanti::ThreeDModel;
use sanalpos_gateway::ReturnUrls;

use super::helpers::{credentials, pairs, text, vectors};

const V512: Envelope = Envelope {
    mode: "TEST",
    version: HashVersion::V512,
};

fn account_security() -> (String, String, String) {
    let v = vectors();
    let account = &v["account"];
    (
        security_data(text(account, "password"), text(account, "terminal_id")),
        security_data(
            text(account, "refund_password"),
            text(account, "terminal_id"),
        ),
        text(account, "store_key").to_owned(),
    )
}

#[test]
fn security_data_reproduces() {
    let v = vectors();
    for entry in v["security_data"].as_array().unwrap() {
        let got = security_data(text(entry, "password"), text(entry, "terminal_id"));
        assert_eq!(got, text(entry, "security_data"));
    }
}

#[test]
fn every_hash_data_vector_reproduces() {
    let v = vectors();
    let (provision, refund, _) = account_security();
    let list = v["hash_data"].as_array().unwrap();
    assert_eq!(list.len(), 12);
    for entry in list {
        let i = &entry["inputs"];
        let inputs = HashInputs {
            order_id: text(i, "OrderID"),
            terminal_id: text(i, "Terminal.ID"),
            card_number: text(i, "Card.Number"),
            amount: text(i, "Transaction.Amount"),
            currency: text(i, "Transaction.CurrencyCode"),
        };
        let security = match text(entry, "password_role") {
            "refund" => &refund,
            _ => &provision,
        };
        let what = text(entry, "what");
        assert_eq!(
            hash_data_preimage(HashVersion::V512, &inputs, security),
            text(entry, "preimage"),
            "{what}"
        );
        assert_eq!(
            hash_data(HashVersion::V512, &inputs, security),
            text(entry, "hash"),
            "{what}"
        );
    }
}

#[test]
fn the_request_builders_sign_what_the_vectors_sign() {
    // The builders put the same values into Terminal/HashData as the vectors hash.
    let c = credentials();
    let find = |what: &str| {
        vectors()["hash_data"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| text(e, "what").starts_with(what))
            .map(|e| text(e, "hash").to_owned())
            .unwrap()
    };
    let void = request::void(&c, V512, "2020110828BC", "1", Currency::Try);
    assert_eq!(void.get("Terminal/HashData").unwrap(), find("void request"));
    assert_eq!(void.get("Terminal/ProvUserID"), Some("PROVRFN"));
    assert_eq!(void.get("Transaction/Amount"), Some("100"));
    let status = request::order_inquiry(&c, V512, "2020110828BC");
    assert_eq!(status.get("Terminal/HashData").unwrap(), find("orderinq"));
    assert_eq!(status.get("Terminal/ProvUserID"), Some("PROVAUT"));
    let refund = request::refund(
        &c,
        V512,
        "2020110828BC",
        "1",
        Kurus::parse("123.10").unwrap(),
        Currency::Try,
    );
    assert_eq!(
        refund.get("Terminal/HashData").unwrap(),
        find("refund request 123.10")
    );
    let history = request::order_history(&c, V512, "order222");
    assert_eq!(
        history.get("Terminal/HashData").unwrap(),
        find("orderhistoryinq")
    );
    let day = chrono::NaiveDate::from_ymd_opt(2024, 1, 1).unwrap();
    let list = request::order_list(
        &c,
        V512,
        day.and_hms_opt(0, 0, 0).unwrap(),
        day.and_hms_opt(23, 59, 0).unwrap(),
        1,
    );
    assert_eq!(list.get("Terminal/HashData").unwrap(), find("orderlistinq"));
    let sale = request::payment(
        &c,
        V512,
        &Payment {
            order_id: "order222",
            amount: Kurus::parse("100.25").unwrap(),
            currency: Currency::Try,
            installments: 1,
            ip: None,
            email: None,
            pre_auth: false,
        },
        &CardData {
            number: "5555444433332222",
            expiry: "1221".into(),
            cvv: "122",
        },
    );
    assert_eq!(
        sale.get("Terminal/HashData").unwrap(),
        find("non-3D sales WITH card")
    );
}

#[test]
fn every_form_hash_vector_reproduces() {
    let v = vectors();
    let (security, _, key) = account_security();
    let list = v["form_hash"].as_array().unwrap();
    assert_eq!(list.len(), 5);
    for entry in list {
        let f = &entry["fields"];
        let inputs = FormInputs {
            terminal_id: text(f, "terminalid"),
            order_id: text(f, "orderid"),
            amount: text(f, "txnamount"),
            currency: text(f, "txncurrencycode"),
            success_url: text(f, "successurl"),
            error_url: text(f, "errorurl"),
            txn_type: text(f, "txntype"),
            installments: text(f, "txninstallmentcount"),
        };
        assert_eq!(
            form_hash(HashVersion::V512, &inputs, &key, &security),
            text(entry, "secure3dhash"),
            "{}",
            text(entry, "what")
        );
    }
}

#[test]
fn the_three_d_form_carries_the_vector_fields_and_hash() {
    let v = vectors();
    let entry = &v["form_hash"][0];
    let form = request::three_d_form(
        &credentials(),
        V512,
        ThreeDModel::ThreeD,
        &Payment {
            order_id: "order222",
            amount: Kurus::parse("100.25").unwrap(),
            currency: Currency::Try,
            installments: 1,
            ip: Some("156.155.154.153".parse().unwrap()),
            email: None,
            pre_auth: false,
        },
        &ReturnUrls {
            success: "https://domain.com/success".into(),
            fail: "https://domain.com/fail_url".into(),
        },
        &CardData {
            number: "5555444433332222",
            expiry: "1221".into(),
            cvv: "122",
        },
    );
    let get = |n: &str| form.iter().find(|(k, _)| *k == n).map(|(_, v)| v.as_str());
    for (name, value) in pairs(&entry["fields"]) {
        assert_eq!(get(&name), Some(value.as_str()), "{name}");
    }
    assert_eq!(get("secure3dhash"), Some(text(entry, "secure3dhash")));
    // Card fields ride along but are not hashed.
    assert_eq!(get("cardexpiredatemonth"), Some("12"));
    assert_eq!(get("cardexpiredateyear"), Some("21"));
    let html = request::redirect_html("https://bank/servlet/gt3dengine", &form);
    assert!(html.contains("action=\"https://bank/servlet/gt3dengine\""));
}

#[test]
fn every_callback_hash_vector_verifies_and_tampering_breaks_it() {
    let v = vectors();
    let key = text(&v["account"], "store_key").to_owned();
    let list = v["callback_hash"].as_array().unwrap();
    assert_eq!(list.len(), 4);
    for entry in list {
        let what = text(entry, "what");
        let fields = pairs(&entry["fields"]);
        let params = hash_params(text(entry, "hashparams"));
        assert_eq!(
            callback_preimage(&fields, &params, &key),
            text(entry, "preimage"),
            "{what}"
        );
        assert_eq!(
            callback_hash(HashVersion::V512, &fields, &params, &key),
            text(entry, "hash"),
            "{what}"
        );
        // hashparamsval is only an echo: it equals the preimage without the key.
        assert_eq!(
            format!("{}{key}", text(&entry["fields"], "hashparamsval")),
            text(entry, "preimage")
        );
        assert_eq!(
            verify_callback(HashVersion::V512, &fields, &key, false),
            Ok(())
        );
        assert_eq!(
            verify_callback(HashVersion::V512, &fields, "wrong", false),
            Err(SignatureError::Mismatch)
        );
        let mut blanked = fields.clone();
        for f in &mut blanked {
            if f.0 == "mdstatus" {
                f.1 = String::new();
            }
        }
        assert_eq!(
            verify_callback(HashVersion::V512, &blanked, &key, false),
            Err(SignatureError::Mismatch),
            "{what}: blanking mdstatus"
        );
    }
}

#[test]
fn every_legacy_vector_reproduces() {
    let v = vectors();
    let (security, _, key) = account_security();
    let legacy = &v["legacy_v001"];
    let hashes = legacy["hash_data"].as_array().unwrap();
    let inputs = [
        HashInputs {
            order_id: "order222",
            terminal_id: "30691298",
            card_number: "5555444433332222",
            amount: "10025",
            currency: "949",
        },
        HashInputs {
            order_id: "2020110828BC",
            terminal_id: "30691298",
            card_number: "",
            amount: "100",
            currency: "949",
        },
    ];
    assert_eq!(hashes.len(), inputs.len());
    for (entry, inputs) in hashes.iter().zip(inputs) {
        assert_eq!(
            hash_data_preimage(HashVersion::Legacy, &inputs, &security),
            text(entry, "preimage")
        );
        assert_eq!(
            hash_data(HashVersion::Legacy, &inputs, &security),
            text(entry, "hash")
        );
    }
    for entry in legacy["form_hash"].as_array().unwrap() {
        let f = &entry["fields"];
        let inputs = FormInputs {
            terminal_id: text(f, "terminalid"),
            order_id: text(f, "orderid"),
            amount: text(f, "txnamount"),
            currency: text(f, "txncurrencycode"),
            success_url: text(f, "successurl"),
            error_url: text(f, "errorurl"),
            txn_type: text(f, "txntype"),
            installments: text(f, "txninstallmentcount"),
        };
        assert_eq!(
            form_hash(HashVersion::Legacy, &inputs, &key, &security),
            text(entry, "secure3dhash")
        );
    }
    for entry in legacy["callback_hash"].as_array().unwrap() {
        let fields = pairs(&entry["fields"]);
        let pay = text(&entry["fields"], "secure3dsecuritylevel") == "3D_PAY";
        assert_eq!(
            verify_callback(HashVersion::Legacy, &fields, &key, pay),
            Ok(())
        );
        // A legacy hash never passes as a 512 one.
        assert!(verify_callback(HashVersion::V512, &fields, &key, pay).is_err());
    }
}

#[test]
fn the_recorded_requests_are_written_byte_for_byte() {
    let v = vectors();
    let recorded = &v["xml_requests"][0];
    let sale = request::payment(
        &credentials(),
        Envelope {
            mode: "TEST",
            version: HashVersion::Legacy,
        },
        &Payment {
            order_id: "order222",
            amount: Kurus::parse("100.25").unwrap(),
            currency: Currency::Try,
            installments: 1,
            ip: None,
            email: Some("test@test.com"),
            pre_auth: false,
        },
        &CardData {
            number: "5555444433332222",
            expiry: "1221".into(),
            cvv: "122",
        },
    );
    let text_sent = sale.to_text();
    assert_eq!(text_sent, text(recorded, "text"));
    assert_eq!(text_sent.len() as u64, recorded["length"].as_u64().unwrap());
    let digest = Sha256::digest(text_sent.as_bytes());
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    assert_eq!(hex, text(recorded, "sha256"));
    // The card never shows in the document's Debug.
    let shown = format!("{sale:?}");
    assert!(!shown.contains("5555444433332222") && !shown.contains(">122<"));

    // orderinq: the same document apart from the customer block, which the recorded
    // request fills and our inquiries leave empty.
    let recorded = &v["xml_requests"][1];
    let status = request::order_inquiry(
        &credentials(),
        Envelope {
            mode: "TEST",
            version: HashVersion::Legacy,
        },
        "2020110828BC",
    );
    let ours = status.to_text().replace(
        "<Customer><IPAddress></IPAddress><EmailAddress></EmailAddress></Customer>",
        "<Customer><IPAddress>127.15.15.1</IPAddress><EmailAddress>email@example.com</EmailAddress></Customer>",
    );
    assert_eq!(ours, text(recorded, "text"));
}
