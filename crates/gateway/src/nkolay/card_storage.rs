//! The card vault ("Kart Saklama"): register a customer's card
//! (`CardStorageCardRegister`), list a customer's cards (`CardStorageCardList`), delete
//! one (`CardStorageCardDelete`), pay with a stored card (`/Vpos/v1/Payment` with
//! `csCustomerKey` and `csTranId` / `csToken`) and keep the card of a 3D sale
//! (`csCustomerKey`, `csAutoSave=true`, `csCardAlias`).
//!
//! The answers are read as one integration's logs showed them, keys in any case: the
//! list `{ProcReturnCode:"00", ErrMsg, Data:{cards:{Card:{CardFileds:{Detail:[…]}}}}}`,
//! each card `{Token, TranId, Maskedpan, CARDBRAND, CARDISSUER, CARD_ALIACE}`, and
//! `"02"` ("Gecerli Kart Yok") when the customer has none; the delete
//! `{TRAN_ID, RESPONSE_CODE, ERROR_CODE, RESPONSE_DATA, ERROR_MESSAGE}` (2 = done). The
//! register answer is published nowhere: this client expects the list's envelope with
//! the one new card under `Data` (`{ProcReturnCode:"00", ErrMsg, Data:{Token, TranId,
//! Maskedpan, CARDBRAND, CARDISSUER, CARD_ALIACE}}`), and also accepts the card's fields
//! at the top level. No answer carries the card's expiry, so [`StoredCard`] has none.
//!
//! Error texts come from the provider; they are scrubbed of anything that looks like a
//! card number before they go anywhere.

use sanalpos_core::MaskedPan;

use super::codec::{now_istanbul, Answer};
use super::transport::path;
use super::{answer, request, NkolayGateway};
use crate::scrub::scrub_card_numbers;
use crate::types::*;
use crate::GatewayError;

/// `ProcReturnCode` of a card vault answer that did what was asked.
const PROC_OK: &str = "00";
/// `ProcReturnCode` of a list whose customer has no valid card ("Gecerli Kart Yok").
const PROC_NO_CARDS: &str = "02";

impl NkolayGateway {
    /// Keeps `card` in the provider's vault for the merchant's customer `customer_key`,
    /// under the name `alias`. The CVV is sent once, for the provider's check, and
    /// never kept here.
    pub async fn register_card(
        &self,
        customer_key: &str,
        card: &Card,
        alias: &str,
    ) -> Result<StoredCard, GatewayError> {
        check_customer_key(customer_key)?;
        let form = request::card_register(&self.config.credentials, customer_key, card, alias);
        let answer = self.read_call(path::CARD_REGISTER, &form).await?;
        registered_card(&answer)
    }

    /// The cards the vault keeps for `customer_key`; a customer without cards is an
    /// empty list, not an error.
    pub async fn list_cards(&self, customer_key: &str) -> Result<Vec<StoredCard>, GatewayError> {
        check_customer_key(customer_key)?;
        let form = request::card_list(&self.config.credentials, customer_key);
        let answer = self.read_call(path::CARD_LIST, &form).await?;
        listed_cards(&answer)
    }

    /// Removes one card of `customer_key` from the vault (the list gives both its
    /// transaction id and its token). A deleted card can no longer pay.
    pub async fn delete_card(
        &self,
        customer_key: &str,
        tran_id: &str,
        token: &str,
    ) -> Result<(), GatewayError> {
        check_customer_key(customer_key)?;
        if tran_id.trim().is_empty() && token.trim().is_empty() {
            return Err(GatewayError::Invalid(
                "a stored card is named by its transaction id or its token".into(),
            ));
        }
        let form = request::card_delete(&self.config.credentials, customer_key, tran_id, token);
        let answer = self.read_call(path::CARD_DELETE, &form).await?;
        deleted(&answer)
    }

    /// Starts a 3D sale like [`Gateway::start_3d`](crate::Gateway::start_3d), asking the
    /// vault to keep the card for `save.customer_key` once the sale is approved.
    pub async fn start_3d_saving_card(
        &self,
        request: &SaleRequest,
        urls: &ReturnUrls,
        save: &SaveCard,
    ) -> ThreeDStart {
        if let Err(e) = check_customer_key(&save.customer_key) {
            return ThreeDStart::Finished(GatewayResponse::refused_here(e.to_string()));
        }
        let form = request::payment_saving_card(
            &self.config.credentials,
            request,
            Some(urls),
            Some(save),
            now_istanbul(),
        );
        self.begin_3d_with(form, request.amount).await
    }

    pub(super) async fn stored_card_sale(&self, request: &StoredCardSale) -> GatewayResponse {
        if let Err(e) = check_stored_ref(&request.stored_card) {
            return GatewayResponse::refused_here(e.to_string());
        }
        let form = request::stored_card_payment(&self.config.credentials, request, now_istanbul());
        let amount = request.amount;
        self.money_call("stored_card_sale", path::PAYMENT, &form, |a| {
            answer::payment_outcome(a, self.secret(), amount)
        })
        .await
    }
}

fn check_customer_key(customer_key: &str) -> Result<(), GatewayError> {
    if customer_key.trim().is_empty() {
        Err(GatewayError::Invalid("the customer key is empty".into()))
    } else {
        Ok(())
    }
}

fn check_stored_ref(stored: &StoredCardRef) -> Result<(), GatewayError> {
    check_customer_key(&stored.customer_key)?;
    let id = match &stored.card {
        StoredCardId::TranId(id) | StoredCardId::Token(id) => id,
    };
    if id.trim().is_empty() {
        return Err(GatewayError::Invalid(
            "the stored card's id or token is empty".into(),
        ));
    }
    Ok(())
}

/// The provider's reason for a refusal, scrubbed.
fn refusal(answer: &Answer, fallback: &str) -> GatewayError {
    let text = ["ErrMsg", "ERROR_MESSAGE", "RESPONSE_DATA"]
        .iter()
        .find_map(|k| answer.non_empty(k))
        .unwrap_or_else(|| fallback.to_owned());
    let code = answer
        .non_empty("ProcReturnCode")
        .or_else(|| answer.non_empty("ERROR_CODE"));
    let text = scrub_card_numbers(&text);
    GatewayError::Rejected(match code {
        Some(code) => format!("{code}: {text}"),
        None => text,
    })
}

fn register_ok(answer: &Answer) -> bool {
    answer.non_empty("ProcReturnCode").as_deref() == Some(PROC_OK)
        || answer.response_code().as_deref() == Some("2")
}

fn registered_card(answer: &Answer) -> Result<StoredCard, GatewayError> {
    if !register_ok(answer) {
        return Err(refusal(answer, "card registration refused"));
    }
    match answer.object("Data") {
        Some(data) => card(&data),
        None => card(answer),
    }
}

fn listed_cards(answer: &Answer) -> Result<Vec<StoredCard>, GatewayError> {
    match answer.non_empty("ProcReturnCode").as_deref() {
        Some(PROC_OK) => {}
        Some(PROC_NO_CARDS) => return Ok(Vec::new()),
        _ => return Err(refusal(answer, "card list refused")),
    }
    let Some(fields) = answer
        .object("Data")
        .and_then(|d| d.object("cards"))
        .and_then(|c| c.object("Card"))
        .and_then(|c| c.object("CardFileds"))
    else {
        return Ok(Vec::new());
    };
    // A converter from XML gives a lone card as an object rather than a list.
    match fields.object("Detail") {
        Some(one) => Ok(vec![card(&one)?]),
        None => fields.list("Detail").iter().map(card).collect(),
    }
}

fn deleted(answer: &Answer) -> Result<(), GatewayError> {
    if answer.response_code().as_deref() == Some("2")
        || answer.non_empty("ProcReturnCode").as_deref() == Some(PROC_OK)
    {
        Ok(())
    } else {
        Err(refusal(answer, "card deletion refused"))
    }
}

/// One card; a card without its token, transaction id or a masked number the client
/// can read makes the answer unusable rather than a guess.
fn card(row: &Answer) -> Result<StoredCard, GatewayError> {
    let missing = |what: &str| GatewayError::BadAnswer(format!("a stored card without {what}"));
    let token = row.non_empty("Token").ok_or_else(|| missing("a token"))?;
    let tran_id = row
        .non_empty("TranId")
        .ok_or_else(|| missing("a transaction id"))?;
    let masked_pan = row
        .non_empty("Maskedpan")
        .and_then(|m| MaskedPan::parse(&m))
        .ok_or_else(|| missing("a masked card number"))?;
    Ok(StoredCard {
        token,
        tran_id,
        masked_pan,
        brand: row.non_empty("CARDBRAND").unwrap_or_default(),
        issuer: row.non_empty("CARDISSUER").unwrap_or_default(),
        alias: row.non_empty("CARD_ALIACE").unwrap_or_default(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_in_the_logged_shape_and_any_key_case() {
        let answer = Answer::parse(
            r#"{"ProcReturnCode":"00","ErrMsg":"","Data":{"cards":{"Card":{"CardFileds":{"Detail":[
            {"Token":"t1","TranId":"i1","Maskedpan":"454671******7894","CARDBRAND":"VISA",
             "CARDISSUER":"Ziraat","CARD_ALIACE":"İş kartım"},
            {"token":"t2","tranId":"i2","maskedPan":"5200 19** **** 8608"}]}}}}}"#,
        )
        .unwrap();
        let cards = listed_cards(&answer).unwrap();
        assert_eq!(cards.len(), 2);
        assert_eq!(cards[0].token, "t1");
        assert_eq!(cards[0].masked_pan.as_str(), "454671******7894");
        assert_eq!(cards[0].alias, "İş kartım");
        assert_eq!(cards[1].masked_pan.as_str(), "520019******8608");
        assert_eq!(cards[1].brand, "");
        let one = Answer::parse(
            r#"{"ProcReturnCode":"00","Data":{"cards":{"Card":{"CardFileds":{"Detail":
            {"Token":"t1","TranId":"i1","Maskedpan":"454671******7894"}}}}}}"#,
        )
        .unwrap();
        assert_eq!(listed_cards(&one).unwrap().len(), 1);
    }

    #[test]
    fn no_cards_is_an_empty_list_and_refusals_are_errors() {
        let none = Answer::parse(r#"{"ProcReturnCode":"02","ErrMsg":"Gecerli Kart Yok"}"#).unwrap();
        assert!(listed_cards(&none).unwrap().is_empty());
        let refused =
            Answer::parse(r#"{"ProcReturnCode":"99","ErrMsg":"card 4546711234567894"}"#).unwrap();
        let Err(GatewayError::Rejected(text)) = listed_cards(&refused) else {
            panic!("a refusal is an error");
        };
        assert!(!text.contains("4546711234567894"));
        let unmasked = Answer::parse(
            r#"{"ProcReturnCode":"00","Data":{"cards":{"Card":{"CardFileds":{"Detail":[
            {"Token":"t1","TranId":"i1","Maskedpan":"4546711234567894"}]}}}}}"#,
        )
        .unwrap();
        assert!(matches!(
            listed_cards(&unmasked),
            Err(GatewayError::BadAnswer(_))
        ));
    }

    #[test]
    fn register_and_delete_answers() {
        let registered = Answer::parse(
            r#"{"ProcReturnCode":"00","ErrMsg":"","Data":{"Token":"t1","TranId":"i1",
            "Maskedpan":"454671******7894","CARD_ALIACE":"a"}}"#,
        )
        .unwrap();
        assert_eq!(registered_card(&registered).unwrap().tran_id, "i1");
        let flat = Answer::parse(
            r#"{"procReturnCode":"00","token":"t1","tranId":"i1","maskedpan":"454671******7894"}"#,
        )
        .unwrap();
        assert_eq!(registered_card(&flat).unwrap().token, "t1");
        let refused =
            Answer::parse(r#"{"ProcReturnCode":"05","ErrMsg":"Kart kaydedilemedi"}"#).unwrap();
        assert!(matches!(
            registered_card(&refused),
            Err(GatewayError::Rejected(_))
        ));
        let done = Answer::parse(
            r#"{"TRAN_ID":"i1","RESPONSE_CODE":2,"ERROR_CODE":"","RESPONSE_DATA":"Silindi","ERROR_MESSAGE":""}"#,
        )
        .unwrap();
        assert!(deleted(&done).is_ok());
        let gone = Answer::parse(
            r#"{"TRAN_ID":"","RESPONSE_CODE":"0","ERROR_CODE":"CS0004","ERROR_MESSAGE":"Kart bulunamadı"}"#,
        )
        .unwrap();
        assert!(matches!(deleted(&gone), Err(GatewayError::Rejected(_))));
    }
}
