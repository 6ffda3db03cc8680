//! Stored cards over the API on both engines: store, list, pay with `stored_card_id`,
//! another company's and another customer's card 404, a NestPay POS refused with its
//! reason, bad bodies refused by field, delete, paying again refused; a card kept by an
//! approved 3D payment; no card number in any answer or database file.

#![allow(clippy::unwrap_used)]

use crate::helpers::*;
use reqwest::StatusCode;
use serde_json::{json, Value};

const CARD: &str = "4546711234567894";

async fn delete(app: &TestApp, who: &Seeded, path: &str) -> (StatusCode, Value) {
    let response = app
        .http
        .delete(app.url(path))
        .bearer_auth(&who.api_key)
        .send()
        .await
        .unwrap();
    let status = response.status();
    let text = response.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

fn stored_card_payment(id: &str, customer_ref: &str) -> Value {
    json!({
        "amount": "75.50",
        "card": {"stored_card_id": id},
        "customer_ref": customer_ref,
        "order_ref": "SIP-9"
    })
}

both_engines!(stored_cards_over_the_api, |app: TestApp| async move {
    let cards = "/api/v1/customers/CARI-1/cards";
    let new_card = json!({
        "card": {"number": CARD, "expiry_month": "12", "expiry_year": "2030", "cvv": "123",
                 "holder": "Ayşe Yılmaz"},
        "alias": "İş kartım"
    });

    // Bad bodies: refused by field, nothing kept.
    let mut no_cvv = new_card.clone();
    no_cvv["card"].as_object_mut().unwrap().remove("cvv");
    let (status, body) = app.post(&app.a, cards, Some(no_cvv)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["error"]["field"], "card.cvv");
    let (status, body) = app
        .post(
            &app.a,
            cards,
            Some(json!({"card": {"stored_card_id": "card_x"}})),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["error"]["field"], "card.stored_card_id");
    let (_, listed) = app.get(&app.a, cards).await;
    assert_eq!(listed["items"], json!([]));

    // Stored.
    let (status, stored) = app.post(&app.a, cards, Some(new_card)).await;
    assert_eq!(status, StatusCode::CREATED, "{stored}");
    assert_eq!(stored["masked_pan"], "454671******7894");
    assert_eq!(stored["alias"], "İş kartım");
    assert_eq!(stored["state"], "active");
    assert_eq!(stored["customer_ref"], "CARI-1");
    assert!(!stored.to_string().contains(CARD));
    let id = stored["id"].as_str().unwrap().to_owned();
    let (status, listed) = app.get(&app.a, cards).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(listed["items"].as_array().unwrap().len(), 1, "{listed}");
    assert_eq!(listed["items"][0]["id"], json!(id));
    let (_, theirs) = app.get(&app.b, cards).await;
    assert_eq!(theirs["items"], json!([]), "another company sees nothing");

    // Paid with.
    let (status, paid) = app
        .pay(&app.a, &key(), &stored_card_payment(&id, "CARI-1"))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{paid}");
    assert_eq!(paid["status"], "approved", "{paid}");
    assert_eq!(paid["masked_pan"], "454671******7894");
    assert_eq!(paid["amount"], "75.50");
    assert_eq!(app.charged(&app.a).len(), 1);

    // A stored card with card fields beside it is refused.
    let mut both = stored_card_payment(&id, "CARI-1");
    both["card"]["number"] = json!(CARD);
    let (status, body) = app.pay(&app.a, &key(), &both).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["error"]["field"], "card.stored_card_id");
    assert!(!body.to_string().contains(CARD));
    // Another customer's or another company's: 404, nothing sent.
    let (status, body) = app
        .pay(&app.a, &key(), &stored_card_payment(&id, "CARI-2"))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    let (status, body) = app
        .pay(&app.b, &key(), &stored_card_payment(&id, "CARI-1"))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    let (status, _) = delete(&app, &app.b, &format!("{cards}/{id}")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // A NestPay POS keeps no cards: refused with its reason, nothing sent.
    let merchant = sanalpos_simulator::nestpay::NestpayMerchant::generate();
    let nestpay = app
        .service
        .create_pos(
            &app.a.id,
            crate::helpers::pos::nestpay_pos("http://127.0.0.1:9", &merchant),
            "test",
        )
        .await
        .unwrap();
    let mut on_nestpay = stored_card_payment(&id, "CARI-1");
    on_nestpay["pos_id"] = json!(nestpay.id);
    let (status, body) = app.pay(&app.a, &key(), &on_nestpay).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(body["error"]["code"], "card_storage_not_supported");
    let mut card_on_nestpay = json!({
        "card": {"number": CARD, "expiry_month": "12", "expiry_year": "2030", "cvv": "123",
                 "holder": "Ayşe Yılmaz"},
        "pos_id": nestpay.id
    });
    let (status, body) = app.post(&app.a, cards, Some(card_on_nestpay.take())).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(body["error"]["code"], "card_storage_not_supported");
    assert_eq!(app.charged(&app.a).len(), 1);

    // Deleted: gone from the list, and paying with it again is refused.
    let (status, deleted) = delete(&app, &app.a, &format!("{cards}/{id}")).await;
    assert_eq!(status, StatusCode::OK, "{deleted}");
    assert_eq!(deleted["state"], "deleted");
    let (_, listed) = app.get(&app.a, cards).await;
    assert_eq!(listed["items"], json!([]));
    let (status, body) = app
        .pay(&app.a, &key(), &stored_card_payment(&id, "CARI-1"))
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(body["error"]["code"], "stored_card_deleted");
    let (status, _) = delete(&app, &app.a, &format!("{cards}/{id}")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(app.charged(&app.a).len(), 1);

    // Kept by an approved 3D payment: after the bank's page, the customer has it.
    let mut keep = payment("5200190006338608", "20.00");
    keep["three_d"] = json!(true);
    keep["return_url"] = json!("https://shop.example/done");
    keep["customer_ref"] = json!("CARI-5");
    keep["save_card"] = json!({"alias": "Maaş kartı"});
    let (status, started) = app.pay(&app.a, &key(), &keep).await;
    assert_eq!(status, StatusCode::CREATED, "{started}");
    assert_eq!(started["status"], "pending_3ds", "{started}");
    let redirect = started["next_action"]["redirect_url"].as_str().unwrap();
    let walk = app.walk_3d(redirect, "123456").await;
    assert!(
        walk.location.contains("status=approved"),
        "{}",
        walk.location
    );
    let (_, kept) = app.get(&app.a, "/api/v1/customers/CARI-5/cards").await;
    assert_eq!(kept["items"].as_array().unwrap().len(), 1, "{kept}");
    assert_eq!(kept["items"][0]["masked_pan"], "520019******8608");
    assert_eq!(kept["items"][0]["alias"], "Maaş kartı");
    let mut stored_and_save =
        stored_card_payment(kept["items"][0]["id"].as_str().unwrap(), "CARI-5");
    stored_and_save["save_card"] = json!({});
    let (status, body) = app.pay(&app.a, &key(), &stored_and_save).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["error"]["field"], "save_card");

    for file in app.guard.sqlite_files() {
        let bytes = std::fs::read(&file).unwrap();
        assert!(
            !bytes.windows(CARD.len()).any(|w| w == CARD.as_bytes()),
            "card number in {}",
            file.display()
        );
    }
});
