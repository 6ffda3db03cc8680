//! The card vault: register, list and delete stored cards, pay with one, and keep the
//! card of an approved 3D sale; every forged or foreign request refused.

use serde_json::Value;

use crate::*;

const REGISTER: &str = "/Vpos/Payment/CardStorageCardRegister";
const LIST: &str = "/Vpos/Payment/CardStorageCardList";
const DELETE: &str = "/Vpos/Payment/CardStorageCardDelete";
const PAYMENT: &str = "/Vpos/v1/Payment";

impl TestSim {
    fn register_fields(&self, customer_key: &str, card: &str, alias: &str) -> Fields {
        let sx = &self.merchant.sx;
        let hash = self.sign(&[sx, card, "000"]);
        [
            ("sx", sx.as_str()),
            ("customerKey", customer_key),
            ("cardHolderName", "Ayşe Yılmaz"),
            ("cardNumber", card),
            ("month", "12"),
            ("year", "2030"),
            ("cvv", "000"),
            ("cardAlias", alias),
            ("hashDatav2", &hash),
        ]
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
    }

    /// Registers `card` for `customer_key`; the answer's `Data`.
    async fn register(&self, customer_key: &str, card: &str, alias: &str) -> Value {
        let v = self
            .post(REGISTER, &self.register_fields(customer_key, card, alias))
            .await;
        assert_eq!(v["ProcReturnCode"], "00", "{v}");
        v["Data"].clone()
    }

    fn list_fields(&self, customer_key: &str) -> Fields {
        let sx = &self.merchant.sx;
        let hash = self.sign(&[sx, customer_key]);
        vec![
            ("sx".into(), sx.clone()),
            ("customerKey".into(), customer_key.into()),
            ("hashDatav2".into(), hash),
        ]
    }

    /// The customer's cards (empty when the answer is "02").
    async fn cards(&self, customer_key: &str) -> Vec<Value> {
        let v = self.post(LIST, &self.list_fields(customer_key)).await;
        match v["ProcReturnCode"].as_str().unwrap() {
            "02" => {
                assert_eq!(v["ErrMsg"], "Gecerli Kart Yok");
                Vec::new()
            }
            "00" => v["Data"]["cards"]["Card"]["CardFileds"]["Detail"]
                .as_array()
                .unwrap()
                .clone(),
            other => panic!("list answered {other}: {v}"),
        }
    }

    fn delete_fields(&self, customer_key: &str, tran_id: &str, token: &str) -> Fields {
        let sx = &self.merchant.sx;
        let hash = self.sign(&[sx, customer_key, tran_id, token]);
        vec![
            ("sx".into(), sx.clone()),
            ("customerKey".into(), customer_key.into()),
            ("tranId".into(), tran_id.into()),
            ("token".into(), token.into()),
            ("hashDatav2".into(), hash),
        ]
    }

    /// A non-3D payment with a stored card named by `(name, value)` (`csToken` or
    /// `csTranId`), signed with the customer key.
    fn stored_payment_fields(&self, customer_key: &str, id: (&str, &str), amount: &str) -> Fields {
        let mut f = self.payment_fields(APPROVED_CARD, amount);
        f.retain(|(k, _)| !["cardNumber", "month", "year", "cvv"].contains(&k.as_str()));
        set(&mut f, "csCustomerKey", customer_key);
        set(&mut f, id.0, id.1);
        set(&mut f, "customerKey", customer_key);
        self.resign_payment(&mut f);
        f
    }
}

fn text(v: &Value, key: &str) -> String {
    v[key].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn a_stored_card_pays_until_it_is_deleted() {
    let sim = start().await;
    let card = sim.register("cust-1", APPROVED_CARD, "İş kartım").await;
    assert_eq!(card["Maskedpan"], "454671******7894");
    assert_eq!(card["CARD_ALIACE"], "İş kartım");
    assert_eq!(card["CARDBRAND"], "VISA");
    let (token, tran_id) = (text(&card, "Token"), text(&card, "TranId"));
    assert!(token.len() >= 16 && tran_id.len() >= 8);

    let listed = sim.cards("cust-1").await;
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0]["Token"], token.as_str());
    assert_eq!(listed[0]["TranId"], tran_id.as_str());
    assert_eq!(listed[0]["Maskedpan"], "454671******7894");
    assert!(!listed[0].to_string().contains(APPROVED_CARD));

    // Registering the same card again gives the card already kept.
    let again = sim.register("cust-1", APPROVED_CARD, "başka").await;
    assert_eq!(again["Token"], token.as_str());
    assert_eq!(sim.cards("cust-1").await.len(), 1);

    for id in [("csToken", token.as_str()), ("csTranId", tran_id.as_str())] {
        let f = sim.stored_payment_fields("cust-1", id, "25.00");
        let v = sim.post(PAYMENT, &f).await;
        assert_eq!(v["RESPONSE_CODE"], "2", "{v}");
        assert!(sim.answer_verifies(&v));
        let row = sim.row(v["REFERENCE_CODE"].as_str().unwrap()).await;
        assert_eq!(row["status"], "SUCCESS");
        assert_eq!(row["masked_pan"], "454671******7894");
    }

    let v = sim
        .post(DELETE, &sim.delete_fields("cust-1", &tran_id, &token))
        .await;
    assert_eq!(v["RESPONSE_CODE"], "2", "{v}");
    assert_eq!(v["TRAN_ID"], tran_id.as_str());
    assert!(sim.cards("cust-1").await.is_empty());

    let before = sim.transactions().await.len();
    let f = sim.stored_payment_fields("cust-1", ("csToken", &token), "25.00");
    let v = sim.post(PAYMENT, &f).await;
    assert_eq!(v["RESPONSE_CODE"], "0");
    assert_eq!(v["ERROR_CODE"], "CS0004");
    assert_eq!(sim.transactions().await.len(), before, "nothing charged");

    let v = sim
        .post(DELETE, &sim.delete_fields("cust-1", &tran_id, &token))
        .await;
    assert_eq!(v["RESPONSE_CODE"], "0");
    assert_eq!(v["ERROR_CODE"], "CS0004");
}

#[tokio::test]
async fn another_customers_or_merchants_token_finds_nothing() {
    let other = sanalpos_simulator::MerchantConfig::generate();
    let extra = other.clone();
    let mut sim = start_with(sanalpos_simulator::MerchantConfig::generate(), move |c| {
        c.merchants.push(extra)
    })
    .await;
    let card = sim.register("cust-1", APPROVED_CARD, "").await;
    let token = text(&card, "Token");

    let f = sim.stored_payment_fields("cust-2", ("csToken", &token), "10.00");
    let v = sim.post(PAYMENT, &f).await;
    assert_eq!(v["ERROR_CODE"], "CS0004", "{v}");
    let v = sim
        .post(DELETE, &sim.delete_fields("cust-2", "", &token))
        .await;
    assert_eq!(v["ERROR_CODE"], "CS0004", "{v}");
    assert!(sim.cards("cust-2").await.is_empty());

    // The same request under the other merchant's credentials.
    let own = std::mem::replace(&mut sim.merchant, other);
    let f = sim.stored_payment_fields("cust-1", ("csToken", &token), "10.00");
    let v = sim.post(PAYMENT, &f).await;
    assert_eq!(v["ERROR_CODE"], "CS0004", "{v}");
    assert!(sim.cards("cust-1").await.is_empty());
    sim.merchant = own;
    assert_eq!(sim.cards("cust-1").await.len(), 1);
}

#[tokio::test]
async fn a_stored_magic_card_declines_with_its_code() {
    let sim = start().await;
    let card = sim.register("cust-1", "4000000000000515", "").await;
    let f = sim.stored_payment_fields("cust-1", ("csToken", &text(&card, "Token")), "10.00");
    let v = sim.post(PAYMENT, &f).await;
    assert_eq!(v["RESPONSE_CODE"], "0", "{v}");
    assert_eq!(v["ERROR_CODE"], "51");
    assert!(sim.answer_verifies(&v));
    let row = sim.row(v["REFERENCE_CODE"].as_str().unwrap()).await;
    assert_eq!(row["status"], "ERROR");
    assert_eq!(row["masked_pan"], "400000******0515");
}

#[tokio::test]
async fn the_vault_refuses_bad_cards_and_forged_requests() {
    let sim = start().await;
    // Luhn failure and an expired card are not kept.
    let v = sim
        .post(REGISTER, &sim.register_fields("c", "4546711234567895", ""))
        .await;
    assert_eq!(v["ProcReturnCode"], "14");
    let mut f = sim.register_fields("c", APPROVED_CARD, "");
    set(&mut f, "year", "2020");
    let v = sim.post(REGISTER, &f).await;
    assert_eq!(v["ProcReturnCode"], "54");
    assert!(sim.cards("c").await.is_empty());

    // Forged hashes: the hash of other values, or of the right ones under another key.
    let mut f = sim.register_fields("c", APPROVED_CARD, "");
    set(&mut f, "cvv", "001");
    assert!(is_hash_error(&sim.post(REGISTER, &f).await));
    let mut f = sim.list_fields("c");
    set(&mut f, "customerKey", "d");
    assert!(is_hash_error(&sim.post(LIST, &f).await));
    let card = sim.register("c", APPROVED_CARD, "").await;
    let mut f = sim.delete_fields("c", &text(&card, "TranId"), &text(&card, "Token"));
    set(
        &mut f,
        "hashDatav2",
        &hash_v2(&[&sim.merchant.sx, "c", "x", "y"], "not-the-key"),
    );
    assert!(is_hash_error(&sim.post(DELETE, &f).await));
    assert_eq!(
        sim.cards("c").await.len(),
        1,
        "a forged delete deletes nothing"
    );
    let mut f = sim.stored_payment_fields("c", ("csToken", &text(&card, "Token")), "10.00");
    set(&mut f, "customerKey", "");
    sim.resign_payment(&mut f);
    assert!(
        is_hash_error(&sim.post(PAYMENT, &f).await),
        "a stored card's payment is signed with its customer key"
    );

    // A wrong sx, missing fields, card fields next to a stored card.
    let mut f = sim.list_fields("c");
    set(&mut f, "sx", "1|nope");
    assert_eq!(sim.post(LIST, &f).await["ERROR_CODE"], "AUTH001");
    let mut f = sim.list_fields("c");
    set(&mut f, "sx", &sim.merchant.sx_list);
    assert_eq!(sim.post(LIST, &f).await["ERROR_CODE"], "AUTH001");
    for (path, mut f, name) in [
        (REGISTER, sim.register_fields("c", APPROVED_CARD, ""), "cvv"),
        (
            REGISTER,
            sim.register_fields("c", APPROVED_CARD, ""),
            "customerKey",
        ),
        (LIST, sim.list_fields("c"), "hashDatav2"),
        (DELETE, sim.delete_fields("c", "1", "2"), "customerKey"),
    ] {
        f.retain(|(k, _)| k != name);
        let v = sim.post(path, &f).await;
        assert_eq!(v["ERROR_CODE"], "AB0001", "{path} without {name}: {v}");
    }
    let mut f = sim.delete_fields("c", "", "");
    f.retain(|(k, _)| k != "tranId" && k != "token");
    assert_eq!(sim.post(DELETE, &f).await["ERROR_CODE"], "AB0001");
    let mut f = sim.stored_payment_fields("c", ("csToken", &text(&card, "Token")), "10.00");
    set(&mut f, "cardNumber", APPROVED_CARD);
    assert_eq!(sim.post(PAYMENT, &f).await["ERROR_CODE"], "AB0001");
    let mut f = sim.stored_payment_fields("c", ("csToken", &text(&card, "Token")), "10.00");
    f.retain(|(k, _)| k != "csCustomerKey");
    assert_eq!(sim.post(PAYMENT, &f).await["ERROR_CODE"], "AB0001");
}

#[tokio::test]
async fn an_approved_3d_sale_keeps_its_card_and_a_failed_one_does_not() {
    let sim = start().await;
    for (code, kept) in [("000000", false), ("123456", true)] {
        let mut f = sim.payment_fields(APPROVED_CARD, "30.00");
        set(&mut f, "use3D", "true");
        set(&mut f, "successUrl", "https://shop.example/ok");
        set(&mut f, "failUrl", "https://shop.example/fail");
        set(&mut f, "csCustomerKey", "cust-3d");
        set(&mut f, "csAutoSave", "true");
        set(&mut f, "csCardAlias", "Kartım");
        sim.resign_payment(&mut f);
        let v = sim.post(PAYMENT, &f).await;
        assert_eq!(v["RESPONSE_CODE"], "2", "{v}");
        let (action, _) = parse_auto_post(v["BANK_REQUEST_MESSAGE"].as_str().unwrap());
        assert!(
            sim.cards("cust-3d").await.is_empty(),
            "nothing kept before the bank says"
        );
        let (status, _) = sim
            .acs(&action, &[("code", code), ("action", "submit")])
            .await;
        assert_eq!(status, 200);
        let cards = sim.cards("cust-3d").await;
        assert_eq!(cards.len(), usize::from(kept), "code {code}");
    }
    let cards = sim.cards("cust-3d").await;
    assert_eq!(cards[0]["CARD_ALIACE"], "Kartım");
    assert_eq!(cards[0]["Maskedpan"], "454671******7894");

    // A declined 3D sale keeps nothing either.
    let mut f = sim.payment_fields("4000000000000051", "30.00");
    set(&mut f, "use3D", "true");
    set(&mut f, "successUrl", "https://shop.example/ok");
    set(&mut f, "failUrl", "https://shop.example/fail");
    set(&mut f, "csCustomerKey", "cust-declined");
    set(&mut f, "csAutoSave", "true");
    sim.resign_payment(&mut f);
    let v = sim.post(PAYMENT, &f).await;
    let (action, _) = parse_auto_post(v["BANK_REQUEST_MESSAGE"].as_str().unwrap());
    sim.acs(&action, &[("code", "123456"), ("action", "submit")])
        .await;
    assert!(sim.cards("cust-declined").await.is_empty());
}

#[tokio::test]
async fn a_non_3d_sale_keeps_its_card_only_when_approved() {
    let sim = start().await;
    for (card, kept) in [("4000000000000051", 0), (APPROVED_CARD, 1)] {
        let mut f = sim.payment_fields(card, "12.00");
        set(&mut f, "csCustomerKey", "cust-direct");
        set(&mut f, "csAutoSave", "true");
        set(&mut f, "csCardAlias", "Hızlı");
        sim.resign_payment(&mut f);
        sim.post(PAYMENT, &f).await;
        assert_eq!(sim.cards("cust-direct").await.len(), kept, "{kept}");
    }
    let mut f = sim.payment_fields(APPROVED_CARD, "12.00");
    set(&mut f, "csAutoSave", "true");
    sim.resign_payment(&mut f);
    assert_eq!(
        sim.post(PAYMENT, &f).await["ERROR_CODE"],
        "AB0001",
        "csAutoSave needs csCustomerKey"
    );
}
