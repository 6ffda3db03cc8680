//! The golden vectors: hashes, exact request bytes, natural order.

use std::cmp::Ordering;

use sha2::{Digest, Sha256};

use sanalpos_core::{Currency, Secret};
use sanalpos_gateway::nestpay::request::{self, CardData, Payment};
use sanalpos_gateway::nestpay::signing::{
    hash_ver3, legacy_request_hash, natural_cmp, ver3_order, ver3_plaintext_masked,
    verify_legacy_callback, verify_ver3,
};
use sanalpos_gateway::nestpay::Credentials;

use super::helpers::{kurus, pairs, vectors};

#[test]
fn every_ver3_vector_reproduces_and_verifies() {
    let v = vectors();
    let key = v["store_key"].as_str().unwrap();
    let list = v["vectors"].as_array().unwrap();
    assert_eq!(list.len(), 4);
    for vector in list {
        let fields = pairs(&vector["fields"]);
        let expected = vector["hash"].as_str().unwrap();
        assert_eq!(hash_ver3(&fields, key), expected, "{}", vector["what"]);
        // The masked plaintext is the preimage with the key hidden.
        let preimage = vector["preimage"].as_str().unwrap();
        assert_eq!(
            format!(
                "{}|{key}",
                ver3_plaintext_masked(&fields).trim_end_matches("|***")
            ),
            preimage
        );
        let mut callback = fields.clone();
        callback.push(("HASH".into(), expected.into()));
        assert!(verify_ver3(&callback, key).is_ok());
        assert!(verify_ver3(&callback, "wrong").is_err());
    }
}

#[test]
fn excluded_vectors_are_shown_not_to_reproduce() {
    let v = vectors();
    let key = v["store_key"].as_str().unwrap();
    let excluded = v["excluded"].as_array().unwrap();
    assert_eq!(excluded.len(), 2);
    for entry in excluded {
        let fields = pairs(&entry["fields"]);
        let recomputed = hash_ver3(&fields, key);
        assert_ne!(recomputed, entry["hash_in_test"].as_str().unwrap());
        if let Some(expected) = entry["recomputed"].as_str() {
            assert_eq!(recomputed, expected, "the file's recomputed value");
        }
    }
}

#[test]
fn every_legacy_vector_reproduces() {
    let v = vectors();
    let list = v["legacy_ver1"]["vectors"].as_array().unwrap();
    assert_eq!(list.len(), 4);
    for vector in list {
        let fields = pairs(&vector["fields"]);
        let key = vector["store_key"].as_str().unwrap();
        let hash = vector["hash"].as_str().unwrap();
        if vector.get("hashparams").is_some() {
            assert_eq!(fields.iter().find(|(k, _)| k == "HASH").unwrap().1, hash);
            assert!(verify_legacy_callback(&fields, key).is_ok());
            assert!(verify_legacy_callback(&fields, "wrong").is_err());
        } else {
            assert_eq!(legacy_request_hash(&fields, key), hash);
        }
    }
}

#[test]
fn the_recorded_sale_request_is_built_byte_for_byte() {
    let v = vectors();
    let vector = &v["xml_requests"][0];
    let input = &vector["input_fields"];
    let get = |name: &str| input[name].as_str().unwrap();
    let credentials = Credentials {
        client_id: get("ClientId").into(),
        api_user: get("Name").into(),
        api_password: Secret::new(get("Password")),
        store_key: Secret::new("unused"),
    };
    let payment = Payment {
        order_id: get("OrderId"),
        amount: kurus(get("Total")),
        currency: Currency::from_numeric(get("Currency")).unwrap(),
        installments: 1,
        ip: None,
        email: Some(get("Email")),
        user_id: None,
        holder: None,
        pre_auth: get("Type") == "PreAuth",
    };
    let card = CardData {
        number: get("Number"),
        expires: get("Expires").into(),
        cvv: get("Cvv2Val"),
    };
    let built = request::payment(&credentials, &payment, &card);
    // The same elements in the same order as the recorded input.
    let names: Vec<&str> = input
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(built.names(), names);
    let bytes = built.to_bytes();
    assert_eq!(bytes, vector["text"].as_str().unwrap().as_bytes());
    assert_eq!(bytes.len() as u64, vector["length"].as_u64().unwrap());
    let digest = hex::encode(Sha256::digest(&bytes));
    assert_eq!(digest, vector["sha256"].as_str().unwrap());
    // And its Debug form hides the password and the card.
    let shown = format!("{built:?}");
    for secret in ["ISBANK07", "5555444433332222", "12/21", ">122<"] {
        assert!(!shown.contains(secret), "{secret}");
    }
}

#[test]
fn natural_order_as_php_sorts_field_names() {
    assert_eq!(natural_cmp("TRX2", "TRX10"), Ordering::Less);
    assert_eq!(
        natural_cmp("a_b", "aB"),
        Ordering::Greater,
        "_ after the letters"
    );
    assert_eq!(natural_cmp("Email", "email"), Ordering::Equal);
    // Email between currency and failUrl, unlike a case-sensitive sort.
    let v = vectors();
    let fields = pairs(&v["vectors"][1]["fields"]);
    let order = ver3_order(&fields);
    let at = |n: &str| order.iter().position(|k| k == n).unwrap();
    assert!(at("currency") < at("Email") && at("Email") < at("failUrl"));
    let mut plain: Vec<&str> = fields.iter().map(|(k, _)| k.as_str()).collect();
    plain.sort();
    assert_ne!(plain, order.iter().map(String::as_str).collect::<Vec<_>>());
    // Whole field lists: TRX1 < TRX2 < TRX10 < TRXCOUNT.
    let trx = [("TRX10", ""), ("TRXCOUNT", ""), ("TRX2", ""), ("TRX1", "")];
    assert_eq!(ver3_order(&trx), ["TRX1", "TRX2", "TRX10", "TRXCOUNT"]);
}
