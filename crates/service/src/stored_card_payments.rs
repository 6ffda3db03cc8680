//! Payments that use the card vault: a non-3D sale charged to a stored card (written
//! and finished like any other payment, the provider hearing only the vault's token),
//! and a 3D sale that asks the provider to keep its card, whose card is looked for in the
//! provider's list once the sale is approved (at the finish, then by the janitor).
//!
//! The vault itself (register, list, delete) is [`crate::stored_cards`].

use sanalpos_core::{CardBrand, ClientRef, CustomerRef, Kurus, MaskedPan};
use sanalpos_gateway::{
    Gateway, GatewayResponse, ReturnUrls, SaleRequest, SaveCard, StoredCardId, StoredCardRef,
    StoredCardSale, ThreeDStart,
};
use sanalpos_store::{
    new_id, CardSaveRecord, Operation, PaymentRecord, PaymentStatus, PosRecord, StoreError,
    StoredCardRecord, StoredCardState,
};

use crate::error::ServiceError;
use crate::idempotency::KeyAnswerFn;
use crate::outcome::sale_finish;
use crate::payments::{
    begin, check_refs, check_text, dispatched, gateway_for, record_blocked, KeyUse, Made,
};
use crate::stored_cards::{
    audit, customer, keeps_cards, no_card_storage, retry_pause_ms, unrecorded_card, vault_error,
    ALIAS_MAX, RETRY_BATCH,
};
use crate::time::business_date;
use crate::types::{Actor, CaptureMode, CardVaultUse, CreatePayment};
use crate::PaymentService;

/// How often the provider's list is read for a card an approved 3D payment kept before
/// giving up (the pauses between looks double from a minute: about four hours in all).
const SAVE_MAX_TRIES: i64 = 8;

impl PaymentService {
    /// Looks again for the cards approved 3D payments kept that are not recorded yet
    /// (the provider's list failed or lagged at the finish, or the janitor approved the
    /// payment by inquiry); all companies, the janitor's pass calls it. The number
    /// recorded now.
    pub async fn retry_card_saves(&self) -> Result<u32, ServiceError> {
        let store = &self.inner.store;
        let due = store
            .due_card_saves(self.now_ms(), SAVE_MAX_TRIES, RETRY_BATCH)
            .await?;
        let mut kept = 0;
        for save in &due {
            let payment = store
                .get_payment(&save.company_id, &save.payment_id)
                .await?;
            if look_for_kept_card(self, &payment, save).await {
                kept += 1;
            }
        }
        Ok(kept)
    }
}

/// The payment's customer and stored card, checked: the card must be the customer's,
/// active, and kept by a POS that keeps cards (the one the request names, if any).
async fn stored_card_of(
    service: &PaymentService,
    caller: &Actor,
    request: &CreatePayment,
    card_id: &str,
) -> Result<(CustomerRef, StoredCardRecord), ServiceError> {
    if request.three_d {
        return Err(ServiceError::validation(
            "three_d",
            "a stored card pays without 3D Secure",
        ));
    }
    let Some(customer_ref) = request.customer_ref.as_deref() else {
        return Err(ServiceError::validation(
            "customer_ref",
            "a stored card pays only for the customer who stored it: give that customer_ref",
        ));
    };
    let customer = customer(customer_ref)?;
    if let Some(pos_id) = request.pos_id.as_deref() {
        let pos = service
            .inner
            .store
            .get_pos(&caller.company_id, pos_id)
            .await
            .map_err(|e| match e {
                StoreError::NotFound => {
                    ServiceError::validation("pos_id", "no such POS for this company")
                }
                other => other.into(),
            })?;
        if !keeps_cards(&pos) {
            return Err(no_card_storage(&pos));
        }
    }
    let card = service
        .inner
        .store
        .get_stored_card(&caller.company_id, customer.as_str(), card_id)
        .await?;
    if card.state != StoredCardState::Active {
        return Err(ServiceError::conflict(
            "stored_card_deleted",
            "the stored card was deleted; it can no longer pay",
        ));
    }
    if request.pos_id.as_deref().is_some_and(|p| p != card.pos_id) {
        return Err(ServiceError::validation(
            "pos_id",
            "the stored card is kept by another POS; leave pos_id out or name that POS",
        ));
    }
    Ok((customer, card))
}

/// A non-3D payment charged to a stored card: validated like any payment, written as
/// `processing` with its attempt (and, from a checkout session's page, the session's
/// claim; `blocked` when the session is locked) before the provider hears of it,
/// finished by the one sale rule ([`sale_finish`]). The payment keeps the card's mask, its brand read
/// from the BIN, and a keyed fingerprint of the vault's token.
pub(crate) async fn create_stored_card_payment(
    service: &PaymentService,
    caller: &Actor,
    mut request: CreatePayment,
    key: KeyUse<'_>,
    session_id: Option<&str>,
    blocked: Option<crate::abuse::BlockReason>,
    answer: Option<KeyAnswerFn>,
) -> Result<Made, ServiceError> {
    let CardVaultUse::StoredCard(card_id) = request.vault.clone() else {
        return Err(ServiceError::Storage(
            "a payment without a stored card reached the stored-card path".into(),
        ));
    };
    if request.amount == Kurus::ZERO {
        return Err(ServiceError::validation("amount", "must be more than zero"));
    }
    if request.installments == 0 {
        return Err(ServiceError::validation(
            "installments",
            "1 for a single payment",
        ));
    }
    if request.capture == CaptureMode::Manual {
        // The vault's payment call has no pre-authorisation form here: refused rather
        // than charged as a sale.
        return Err(ServiceError::validation(
            "capture",
            "a stored card pays as a sale only; pre-authorise with the card's details",
        ));
    }
    let (customer, card) = stored_card_of(service, caller, &request, &card_id).await?;
    let (order_ref, _) = check_refs(&request.order_ref, &None, |e| e.to_string())?;
    let description = check_text("description", &request.description, 500)?;
    request.pos_id = Some(card.pos_id.clone());
    let pos = crate::payments::choose_pos(service, &caller.company_id, &request).await?;
    if !keeps_cards(&pos) {
        return Err(no_card_storage(&pos));
    }
    let gateway = gateway_for(service, &pos)?;

    let masked = MaskedPan::parse(&card.masked_pan)
        .ok_or_else(|| ServiceError::Storage(format!("stored card {}: bad mask", card.id)))?;
    let fingerprint = service
        .inner
        .crypto
        .stored_card_fingerprint(&card.provider_token);
    let client_ip = request.client_ip.map(|ip| ip.to_string());
    let velocity = match blocked {
        Some(reason) => crate::abuse::Velocity::refused(reason),
        None => crate::abuse::velocity(service, &fingerprint, client_ip.as_deref()).await?,
    };
    crate::payments::confirm_claimant(service, key, &velocity).await?;
    let blocked = velocity.blocked;
    let now = service.now_ms();
    let client_ref = ClientRef::generate();
    let payment = PaymentRecord {
        id: new_id("pay"),
        company_id: caller.company_id.clone(),
        pos_id: pos.id.clone(),
        status: PaymentStatus::Processing,
        amount: request.amount,
        currency: request.currency,
        installments: request.installments,
        masked_pan: masked.as_str().to_owned(),
        card_fingerprint: fingerprint,
        card_brand: crate::payments::brand_name(CardBrand::from_bin(masked.bin6())),
        auth_code: None,
        provider_ref: None,
        bank_code: None,
        message_tr: None,
        message_en: None,
        channel: request.channel,
        order_ref: order_ref.map(String::from),
        customer_ref: Some(customer.as_str().to_owned()),
        description: description.clone(),
        three_d: false,
        return_url: None,
        three_d_token: None,
        three_d_html: None,
        sale_client_ref: client_ref.to_string(),
        authorized_amount: None,
        refunded_amount: Kurus::ZERO,
        business_date: business_date(now).to_string(),
        review_reason: None,
        created_by: caller.name.clone(),
        created_at: now,
        updated_at: now,
        client_ip,
        pre_auth: false,
        held_amount: None,
        hold_until: None,
    };
    let attempt = dispatched(
        &payment,
        Operation::Sale,
        client_ref.as_str(),
        request.amount,
        now,
    );
    if let Some(reason) = blocked {
        return record_blocked(service, payment, attempt, key, session_id, reason).await;
    }
    let attempt_id = attempt.id.clone();
    if let Some(instead) = begin(service, &payment, attempt, key, session_id).await? {
        return Ok(instead);
    }
    tracing::debug!(payment.id = %payment.id, pos.id = %pos.id, stored_card.id = %card.id,
        "stored-card payment dispatched");
    let sale = StoredCardSale {
        client_ref,
        amount: request.amount,
        currency: request.currency,
        installments: request.installments,
        stored_card: StoredCardRef {
            customer_key: customer.as_str().to_owned(),
            card: StoredCardId::Token(card.provider_token.clone()),
        },
        description,
        cardholder_ip: request.cardholder_ip,
    };
    let response = gateway.sale_with_stored_card(&sale).await;
    let finish = sale_finish(
        &payment,
        &attempt_id,
        &caller.name,
        &response,
        &[PaymentStatus::Processing],
        service.now_ms(),
    );
    crate::payments::record_sale(service, &payment, finish, key, answer).await
}

/// A 3D payment's request to keep its card (`save_card`), checked before anything is
/// written: 3D only, for the payment's customer, on a POS that keeps cards.
pub(crate) fn save_request(
    request: &CreatePayment,
    pos: &PosRecord,
    customer: Option<&CustomerRef>,
) -> Result<Option<SaveCard>, ServiceError> {
    let CardVaultUse::SaveCard { alias } = &request.vault else {
        return Ok(None);
    };
    if !request.three_d {
        return Err(ServiceError::validation(
            "save_card",
            "a card is kept only through a 3D payment: set three_d",
        ));
    }
    let Some(customer) = customer else {
        return Err(ServiceError::validation(
            "customer_ref",
            "a kept card belongs to a customer: give customer_ref",
        ));
    };
    let alias = check_text("save_card.alias", &Some(alias.clone()), ALIAS_MAX)?.unwrap_or_default();
    if !keeps_cards(pos) {
        return Err(no_card_storage(pos));
    }
    Ok(Some(SaveCard {
        customer_key: customer.as_str().to_owned(),
        alias,
    }))
}

/// Starts a 3D sale; with `save`, the request to keep the card is recorded first (the
/// approved finish looks for it) and the provider is asked to keep the card.
pub(crate) async fn start_3d(
    service: &PaymentService,
    gateway: &dyn Gateway,
    payment: &PaymentRecord,
    sale: &SaleRequest,
    urls: &ReturnUrls,
    save: Option<SaveCard>,
) -> ThreeDStart {
    let Some(save) = save else {
        return gateway.start_3d(sale, urls).await;
    };
    let record = CardSaveRecord {
        payment_id: payment.id.clone(),
        company_id: payment.company_id.clone(),
        customer_ref: save.customer_key.clone(),
        alias: save.alias.clone(),
        created_at: service.now_ms(),
        stored_card_id: None,
        tries: 0,
        next_try_at: None,
    };
    if let Err(e) = service.inner.store.insert_card_save(record).await {
        tracing::error!(payment.id = %payment.id, error = %e, "the request to keep a card was not recorded");
        return ThreeDStart::Finished(GatewayResponse::refused_here(
            "the request to keep the card could not be recorded; nothing was sent".into(),
        ));
    }
    gateway.start_3d_saving_card(sale, urls, &save).await
}

/// After an approved 3D payment that asked to keep its card: finds the card in the
/// provider's list of the customer's cards and records it ([`record_kept_card`]).
/// Never fails the payment: a card not found, or a provider not answering, is logged
/// and looked for again by the janitor.
pub(crate) async fn keep_approved_card(service: &PaymentService, payment: &PaymentRecord) {
    let save = match service
        .inner
        .store
        .get_card_save(&payment.company_id, &payment.id)
        .await
    {
        Ok(Some(save)) if save.stored_card_id.is_none() => save,
        Ok(_) => return,
        Err(e) => {
            tracing::warn!(payment.id = %payment.id, error = %e, "a payment's card save unreadable");
            return;
        }
    };
    look_for_kept_card(service, payment, &save).await;
}

/// One look for a payment's kept card; a miss is counted with the time of the next look.
/// `true` when the card is recorded now.
async fn look_for_kept_card(
    service: &PaymentService,
    payment: &PaymentRecord,
    save: &CardSaveRecord,
) -> bool {
    let Err(e) = record_kept_card(service, payment, save).await else {
        return true;
    };
    tracing::warn!(payment.id = %payment.id, error = %e, tries = save.tries + 1,
        "the card an approved 3D payment kept was not recorded (yet)");
    let next = service.now_ms() + retry_pause_ms(save.tries);
    if let Err(e) = service
        .inner
        .store
        .card_save_missed(&payment.company_id, &payment.id, next)
        .await
    {
        tracing::warn!(payment.id = %payment.id, error = %e, "a missed card save not counted");
    }
    false
}

/// Finds the card an approved payment kept in the provider's list (the one with the
/// payment's mask whose token is not recorded yet, the alias deciding between several)
/// and records it with the save pointing at it.
async fn record_kept_card(
    service: &PaymentService,
    payment: &PaymentRecord,
    save: &CardSaveRecord,
) -> Result<(), ServiceError> {
    let store = &service.inner.store;
    let pos = store.get_pos(&payment.company_id, &payment.pos_id).await?;
    let gateway = gateway_for(service, &pos)?;
    let listed = gateway
        .list_cards(&save.customer_ref)
        .await
        .map_err(|e| vault_error(e, &pos))?;
    let Some(kept) = unrecorded_card(
        service,
        &payment.company_id,
        &pos.id,
        &save.customer_ref,
        listed,
        &payment.masked_pan,
        &save.alias,
    )
    .await?
    else {
        return Err(ServiceError::Provider {
            code: "card_not_listed",
            message: "the provider does not list a new card with the payment's mask".into(),
        });
    };
    let record = StoredCardRecord {
        id: new_id("card"),
        company_id: payment.company_id.clone(),
        pos_id: pos.id.clone(),
        customer_ref: save.customer_ref.clone(),
        provider_token: kept.token,
        provider_tran_id: kept.tran_id,
        masked_pan: kept.masked_pan.as_str().to_owned(),
        brand: kept.brand,
        issuer: kept.issuer,
        alias: if kept.alias.is_empty() {
            save.alias.clone()
        } else {
            kept.alias
        },
        expiry_month: None,
        expiry_year: None,
        created_by: payment.created_by.clone(),
        created_at: service.now_ms(),
        state: StoredCardState::Active,
        delete_tries: 0,
        delete_error: None,
        next_try_at: None,
    };
    let audit = audit(&record, "stored_card.saved", &payment.created_by, None);
    match store
        .insert_saved_card(&payment.id, record.clone(), audit)
        .await
    {
        Ok(()) => {
            tracing::info!(stored_card.id = %record.id, payment.id = %payment.id, "card kept by a 3D payment");
            Ok(())
        }
        // Recorded by another finish of the same payment meanwhile.
        Err(StoreError::Conflict {
            code: "card_already_saved",
            ..
        }) => Ok(()),
        Err(e) => Err(e.into()),
    }
}
