//! The 3D Secure round trip at the HTTP level.

use serde_json::Value;

use crate::*;

const SUCCESS_URL: &str = "https://shop.example/3d/ok?p=abc&x=1";
const FAIL_URL: &str = "https://shop.example/3d/fail?p=abc";

impl TestSim {
    /// Starts a 3D payment and returns (answer, ACS URL).
    pub(crate) async fn start_3d(&self, card: &str, amount: &str) -> (Value, String) {
        let mut f = self.payment_fields(card, amount);
        set(&mut f, "use3D", "true");
        set(&mut f, "successUrl", SUCCESS_URL);
        set(&mut f, "failUrl", FAIL_URL);
        self.resign_payment(&mut f);
        let v = self.post("/Vpos/v1/Payment", &f).await;
        assert_eq!(v["RESPONSE_CODE"], "2", "{v}");
        assert_eq!(v["RESPONSE_DATA"], "3D yönlendirme");
        assert_eq!(v["USE_3D"], "true");
        assert!(v.get("AUTH_CODE").is_none() && v.get("hashDataV2").is_none());
        let html = v["BANK_REQUEST_MESSAGE"].as_str().unwrap();
        let (action, _) = parse_auto_post(html);
        assert!(
            action.starts_with(&format!("{}/Vpos/acs/", self.base)),
            "{action}"
        );
        let token = action.rsplit('/').next().unwrap();
        assert!(token.len() >= 32 && token.bytes().all(|b| b.is_ascii_hexdigit()));
        (v, action)
    }

    /// Opens the ACS page (as the browser's auto-post does) and submits it.
    pub(crate) async fn acs(&self, action: &str, form: &[(&str, &str)]) -> (u16, String) {
        let page = self.client.post(action).send().await.unwrap();
        assert_eq!(page.status().as_u16(), 200);
        let html = page.text().await.unwrap();
        assert!(html.contains("<meta charset=\"utf-8\">"));
        assert!(html.contains("id=\"code\"") && html.contains("name=\"code\""));
        assert!(html.contains("id=\"submit\"") && html.contains("id=\"cancel\""));
        let token = action.rsplit('/').next().unwrap();
        let submit = format!("/Vpos/acs/{token}/submit");
        assert!(html.contains(&format!("action=\"{submit}\"")));
        let r = self
            .client
            .post(self.url(&submit))
            .form(form)
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        (status, r.text().await.unwrap())
    }

    pub(crate) async fn row(&self, reference: &str) -> Value {
        self.transactions()
            .await
            .into_iter()
            .find(|r| r["reference_code"] == reference)
            .unwrap()
    }
}

#[tokio::test]
async fn approved_3d_posts_a_signed_result_to_success_url() {
    let sim = start().await;
    let (start, action) = sim.start_3d(APPROVED_CARD, "150.00").await;
    let reference = start["REFERENCE_CODE"].as_str().unwrap();
    assert_eq!(sim.row(reference).await["status"], "NEW");

    let page = sim
        .client
        .get(&action)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("150,00 TL"), "{page}");
    assert!(page.contains("454671******7894"));
    assert!(page.contains(&sim.merchant.merchant_no));
    assert!(!page.contains(APPROVED_CARD));

    let (status, html) = sim
        .acs(&action, &[("code", "123456"), ("action", "submit")])
        .await;
    assert_eq!(status, 200);
    let (target, fields) = parse_auto_post(&html);
    assert_eq!(target, SUCCESS_URL);
    let answer = fields_to_json(&fields);
    assert_eq!(answer["RESPONSE_CODE"], "2");
    assert_eq!(answer["USE_3D"], "true");
    assert_eq!(answer["REFERENCE_CODE"], reference);
    assert_eq!(answer["CURRENCY_CODE"], "949");
    assert_eq!(answer["AUTH_CODE"].as_str().unwrap().len(), 6);
    assert!(sim.answer_verifies(&answer));
    assert_eq!(sim.row(reference).await["status"], "SUCCESS");

    // The token is spent.
    let r = sim
        .client
        .post(format!("{action}/submit"))
        .form(&[("code", "123456"), ("action", "submit")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 404);
    assert_eq!(
        sim.client
            .get(&action)
            .send()
            .await
            .unwrap()
            .status()
            .as_u16(),
        404
    );
}

#[tokio::test]
async fn wrong_code_cancel_and_decline_go_to_fail_url() {
    let sim = start().await;

    let (start, action) = sim.start_3d(APPROVED_CARD, "20.00").await;
    let (_, html) = sim
        .acs(&action, &[("code", "000000"), ("action", "submit")])
        .await;
    let (target, fields) = parse_auto_post(&html);
    assert_eq!(target, FAIL_URL);
    let answer = fields_to_json(&fields);
    assert_eq!(answer["RESPONSE_CODE"], "0");
    assert_eq!(answer["ERROR_CODE"], "3D0001");
    assert_eq!(answer["RESPONSE_DATA"], "3D doğrulama başarısız");
    assert_eq!(answer["AUTH_CODE"], "");
    assert!(sim.answer_verifies(&answer));
    assert_eq!(
        sim.row(start["REFERENCE_CODE"].as_str().unwrap()).await["status"],
        "ERROR"
    );

    let (start, action) = sim.start_3d(APPROVED_CARD, "21.00").await;
    let (_, html) = sim
        .acs(&action, &[("code", ""), ("action", "cancel")])
        .await;
    let (target, fields) = parse_auto_post(&html);
    assert_eq!(target, FAIL_URL);
    let answer = fields_to_json(&fields);
    assert_eq!(answer["ERROR_CODE"], "3D0002");
    assert_eq!(
        answer["RESPONSE_DATA"],
        "İşlem kullanıcı tarafından iptal edildi"
    );
    assert!(sim.answer_verifies(&answer));
    assert_eq!(
        sim.row(start["REFERENCE_CODE"].as_str().unwrap()).await["status"],
        "ERROR"
    );

    // A magic card authenticates, then the bank declines.
    let (_, action) = sim.start_3d("4000000000000515", "22.00").await;
    let (_, html) = sim
        .acs(&action, &[("code", "123456"), ("action", "submit")])
        .await;
    let (target, fields) = parse_auto_post(&html);
    assert_eq!(target, FAIL_URL);
    let answer = fields_to_json(&fields);
    assert_eq!(answer["ERROR_CODE"], "51");
    assert!(sim.answer_verifies(&answer));

    // The Garanti sandbox card's own password passes too.
    let (_, action) = sim.start_3d(GARANTI_CARD, "23.00").await;
    let (_, html) = sim
        .acs(&action, &[("code", "147852"), ("action", "submit")])
        .await;
    assert_eq!(parse_auto_post(&html).0, SUCCESS_URL);

    // An abandoned page stays NEW, and PaymentList shows it.
    let (start, _) = sim.start_3d(APPROVED_CARD, "24.00").await;
    let day = list_date(today());
    let client_ref = start["CLIENT_REFERENCE_CODE"].as_str().unwrap();
    let result = sim.payment_list(&day, &day, client_ref).await;
    assert_eq!(result["LIST"][0]["STATUS"], "NEW");
    assert_eq!(result["LIST"][0]["IS_3D"], "true");
}

#[tokio::test]
async fn auto_complete_off_keeps_the_sale_new_until_complete_payment() {
    let mut merchant = sanalpos_simulator::MerchantConfig::generate();
    merchant.auto_complete = false;
    let sim = start_with(merchant, |_| {}).await;
    let (start, action) = sim.start_3d(APPROVED_CARD, "99.90").await;
    let reference = start["REFERENCE_CODE"].as_str().unwrap();
    let (_, html) = sim
        .acs(&action, &[("code", "123456"), ("action", "submit")])
        .await;
    let (target, fields) = parse_auto_post(&html);
    assert_eq!(target, SUCCESS_URL);
    let answer = fields_to_json(&fields);
    assert_eq!(answer["RESPONSE_CODE"], "2");
    assert_eq!(answer["AUTH_CODE"].as_str().unwrap().len(), 6);
    assert!(sim.answer_verifies(&answer));
    let row = sim.row(reference).await;
    assert_eq!(row["status"], "NEW");
    assert_eq!(row["pre_approved"], true);

    let complete = |reference: &str| -> Fields {
        vec![
            ("sx".into(), sim.merchant.sx.clone()),
            ("referenceCode".into(), reference.into()),
        ]
    };
    let v = sim
        .post("/Vpos/v1/CompletePayment", &complete(reference))
        .await;
    assert_eq!(v["RESPONSE_CODE"], "2");
    assert_eq!(v["USE_3D"], "true");
    assert_eq!(v["AUTH_CODE"], answer["AUTH_CODE"]);
    assert_ne!(v["RND"], answer["RND"]);
    assert!(sim.answer_verifies(&v));
    assert_eq!(sim.row(reference).await["status"], "SUCCESS");
    // Again: harmless, same approval.
    let again = sim
        .post("/Vpos/v1/CompletePayment", &complete(reference))
        .await;
    assert_eq!(again["RESPONSE_CODE"], "2");
    assert_eq!(again["REFERENCE_CODE"], reference);

    let v = sim
        .post("/Vpos/v1/CompletePayment", &complete("IKSIRPF0000000000"))
        .await;
    assert_eq!(v["RESPONSE_CODE"], "0");
    assert_eq!(v["ERROR_CODE"], "25");
    assert_eq!(v["RESPONSE_DATA"], "İşlem sistemde bulunamadı");
    // A 3D sale never authenticated cannot be completed.
    let (pending, _) = sim.start_3d(APPROVED_CARD, "5.00").await;
    let v = sim
        .post(
            "/Vpos/v1/CompletePayment",
            &complete(pending["REFERENCE_CODE"].as_str().unwrap()),
        )
        .await;
    assert_eq!(v["ERROR_CODE"], "25");
}

#[tokio::test]
async fn postback_without_currency_signs_without_it() {
    let mut merchant = sanalpos_simulator::MerchantConfig::generate();
    merchant.postback_hash = sanalpos_simulator::PostbackHash::WithoutCurrency;
    let sim = start_with(merchant, |_| {}).await;
    let (_, action) = sim.start_3d(APPROVED_CARD, "10.00").await;
    let (_, html) = sim
        .acs(&action, &[("code", "123456"), ("action", "submit")])
        .await;
    let answer = fields_to_json(&parse_auto_post(&html).1);
    assert!(answer.get("CURRENCY_CODE").is_none());
    assert!(sim.answer_verifies(&answer));
    // Adding the currency back breaks the signature: it really was signed without it.
    let mut with = answer.clone();
    with["CURRENCY_CODE"] = "949".into();
    assert!(!sim.answer_verifies(&with));
}
