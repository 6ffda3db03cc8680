//! Stored cards ("kayıtlı kart"): a customer's card kept in the provider's vault, known
//! here by the vault's token, its mask and the customer's name for it.
//!
//! Registering sends the card to the provider once and keeps what the vault answers;
//! paying sends the token (a non-3D sale, written and finished like any other payment);
//! deleting asks the provider first, and a delete the provider does not confirm leaves
//! the card `deleting`: it can no longer pay, it stays in the customer's list with the
//! reason, and the janitor asks again with a growing pause until the provider confirms.
//! Only POS whose protocol has the `card_storage` capability keep cards.

use std::sync::Arc;

use serde::Serialize;
use serde_json::json;

use sanalpos_core::{CardBrand, ClientRef, CustomerRef, Kurus, MaskedPan};
use sanalpos_gateway::{
    Gateway, GatewayError, GatewayResponse, ReturnUrls, SaleRequest, SaveCard, StoredCardId,
    StoredCardRef, StoredCardSale, ThreeDStart,
};
use sanalpos_store::{
    new_id, CardSaveRecord, KeyAnswer, NewAudit, OnboardingState, Operation, PaymentRecord,
    PaymentStatus, PosRecord, StoreError, StoredCardRecord, StoredCardState,
};

use crate::error::ServiceError;
use crate::idempotency::KeyAnswerFn;
use crate::outcome::sale_finish;
use crate::payments::{
    begin, check_refs, check_text, dispatched, gateway_for, parse_card, record_blocked, view,
    KeyUse, Made,
};
use crate::time::business_date;
use crate::types::{rfc3339, Actor, CaptureMode, CardInput, CardVaultUse, CreatePayment};
use crate::PaymentService;

/// Who the background pass acts as in the audit log.
const RETRY_ACTOR: &str = "janitor";
/// Cards whose delete one background pass tries again, at most.
const RETRY_BATCH: u32 = 50;
/// The pause before the first new try of a delete the provider did not confirm; it
/// doubles with each try, up to [`RETRY_MAX_PAUSE_MS`].
const RETRY_FIRST_PAUSE_MS: i64 = 60_000;
/// The longest pause between two tries of a delete (6 hours).
const RETRY_MAX_PAUSE_MS: i64 = 6 * 3_600_000;
/// How often the provider's list is read for a card an approved 3D payment kept before
/// giving up (the pauses between looks double from a minute: about four hours in all).
const SAVE_MAX_TRIES: i64 = 8;
/// The longest alias a customer may give a card, in characters.
const ALIAS_MAX: usize = 50;

/// A stored card as the API shows it: never the number, only the mask.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[schema(as = StoredCard)]
pub struct StoredCardView {
    /// `card_…`: what a payment names in `card.stored_card_id`.
    pub id: String,
    /// The customer (cari) reference it belongs to.
    pub customer_ref: String,
    /// The POS whose provider keeps it; payments with it go through this POS.
    pub pos_id: String,
    /// First 6 + last 4 (`454671******7894`).
    pub masked_pan: String,
    /// The card scheme as the provider names it (`VISA`); may be empty.
    pub brand: String,
    /// The issuing bank as the provider names it; may be empty.
    pub issuer: String,
    /// The customer's name for the card; may be empty.
    pub alias: String,
    /// 1 to 12, as given when the card was registered; absent for a card kept during a
    /// 3D payment (the provider does not tell).
    pub expiry_month: Option<u8>,
    /// Four digits, as given when the card was registered; absent for a card kept
    /// during a 3D payment.
    pub expiry_year: Option<u16>,
    /// `active` (can pay), `deleting` (deleted here, the provider not yet confirming;
    /// cannot pay, tried again in the background) or `deleted`.
    #[schema(value_type = String, example = "active")]
    pub state: StoredCardState,
    /// Why the provider has not confirmed the delete yet (`deleting` only).
    pub delete_error: Option<String>,
    /// Who saved it: `api:<key>`, `user:<name>`.
    pub created_by: String,
    /// RFC 3339.
    pub created_at: String,
}

impl From<&StoredCardRecord> for StoredCardView {
    fn from(c: &StoredCardRecord) -> StoredCardView {
        StoredCardView {
            id: c.id.clone(),
            customer_ref: c.customer_ref.clone(),
            pos_id: c.pos_id.clone(),
            masked_pan: c.masked_pan.clone(),
            brand: c.brand.clone(),
            issuer: c.issuer.clone(),
            alias: c.alias.clone(),
            expiry_month: c.expiry_month.and_then(|m| u8::try_from(m).ok()),
            expiry_year: c.expiry_year.and_then(|y| u16::try_from(y).ok()),
            state: c.state,
            delete_error: c.delete_error.clone(),
            created_by: c.created_by.clone(),
            created_at: rfc3339(c.created_at),
        }
    }
}

/// A card to keep in the provider's vault for a customer.
#[derive(Debug, Clone, Default)]
pub struct RegisterCard {
    /// The card; sent to the provider once and never stored, logged or echoed back.
    pub card: CardInput,
    /// The customer's name for the card ("İş kartım"), at most 50 characters.
    pub alias: Option<String>,
    /// The POS whose provider keeps it; otherwise the company's default POS when it
    /// keeps cards, else the first active POS that does.
    pub pos_id: Option<String>,
}

/// What one background pass over unconfirmed deletes did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CardDeletionReport {
    /// Deletes the provider confirmed now.
    pub deleted: u32,
    /// Deletes still not confirmed (tried again later).
    pub still_deleting: u32,
}

fn customer(customer_ref: &str) -> Result<CustomerRef, ServiceError> {
    CustomerRef::parse(customer_ref)
        .map_err(|e| ServiceError::validation("customer_ref", e.to_string()))
}

fn keeps_cards(pos: &PosRecord) -> bool {
    crate::gateways::protocol_of(&pos.protocol)
        .map(|p| p.info().capabilities.card_storage)
        .unwrap_or(false)
}

fn no_card_storage(pos: &PosRecord) -> ServiceError {
    ServiceError::conflict(
        "card_storage_not_supported",
        format!(
            "POS {} ({}) cannot keep cards: its provider offers no card storage",
            pos.id, pos.protocol
        ),
    )
}

/// The POS that keeps a new card: the one named, or the default one when it keeps
/// cards, or the first active one that does.
async fn storage_pos(
    service: &PaymentService,
    company_id: &str,
    pos_id: Option<&str>,
) -> Result<PosRecord, ServiceError> {
    let all = service.inner.store.list_pos(company_id).await?;
    let active = |p: &PosRecord| p.onboarding_state == OnboardingState::Active;
    if let Some(pos_id) = pos_id {
        let pos = all
            .into_iter()
            .find(|p| p.id == pos_id)
            .ok_or_else(|| ServiceError::validation("pos_id", "no such POS for this company"))?;
        if !active(&pos) {
            return Err(ServiceError::NoActivePos);
        }
        if !keeps_cards(&pos) {
            return Err(no_card_storage(&pos));
        }
        return Ok(pos);
    }
    let mut candidates: Vec<PosRecord> = all.into_iter().filter(active).collect();
    if candidates.is_empty() {
        return Err(ServiceError::NoActivePos);
    }
    candidates.sort_by_key(|p| !p.is_default);
    let first = candidates[0].clone();
    candidates
        .into_iter()
        .find(keeps_cards)
        .ok_or_else(|| no_card_storage(&first))
}

/// A provider error of a card vault call, as the caller sees it: nothing was kept.
fn vault_error(error: GatewayError, pos: &PosRecord) -> ServiceError {
    match error {
        GatewayError::Unsupported(_) => no_card_storage(pos),
        GatewayError::Rejected(reason) => ServiceError::conflict(
            "card_refused_by_provider",
            format!("the provider refused to keep the card: {reason}"),
        ),
        GatewayError::Invalid(reason) => ServiceError::validation("card", reason),
        other => {
            tracing::warn!(error = %other, pos.id = %pos.id, "card vault unavailable");
            ServiceError::Provider {
                code: "provider_unavailable",
                message: "the provider's card vault could not be used; nothing was kept".into(),
            }
        }
    }
}

fn alias_of(alias: &Option<String>) -> Result<String, ServiceError> {
    Ok(check_text("alias", alias, ALIAS_MAX)?.unwrap_or_default())
}

fn audit(card: &StoredCardRecord, kind: &str, actor: &str, error: Option<&str>) -> NewAudit {
    NewAudit {
        company_id: card.company_id.clone(),
        kind: kind.to_owned(),
        actor: actor.to_owned(),
        subject_id: card.id.clone(),
        data: json!({
            "customer_ref": card.customer_ref,
            "pos_id": card.pos_id,
            "masked_pan": card.masked_pan,
            "alias": card.alias,
            "error": error,
        }),
    }
}

/// The pause before the next try of a delete tried `tries` times already.
fn retry_pause_ms(tries: i64) -> i64 {
    let doublings = u32::try_from(tries.clamp(0, 20)).unwrap_or(20);
    RETRY_FIRST_PAUSE_MS
        .saturating_mul(1_i64 << doublings)
        .min(RETRY_MAX_PAUSE_MS)
}

/// Asks the provider to delete a card; `Err` with the reason when it did not confirm.
/// A refusal is checked against the provider's list: a card the vault no longer has
/// (an earlier delete went through, its answer lost) counts as deleted.
async fn provider_delete(service: &PaymentService, card: &StoredCardRecord) -> Result<(), String> {
    let pos = service
        .inner
        .store
        .get_pos(&card.company_id, &card.pos_id)
        .await
        .map_err(|e| format!("the card's POS cannot be read: {e}"))?;
    let gateway = gateway_for(service, &pos).map_err(|e| e.message())?;
    let customer_key = &card.customer_ref;
    match gateway
        .delete_card(customer_key, &card.provider_tran_id, &card.provider_token)
        .await
    {
        Ok(()) => Ok(()),
        Err(error @ GatewayError::Rejected(_)) => match gateway.list_cards(customer_key).await {
            Ok(kept) if !kept.iter().any(|c| c.token == card.provider_token) => Ok(()),
            _ => Err(error.to_string()),
        },
        Err(error) => Err(error.to_string()),
    }
}

/// Deletes at the provider, then records what happened; the card as it stands.
async fn delete_and_record(
    service: &PaymentService,
    card: &StoredCardRecord,
    actor: &str,
) -> Result<(), ServiceError> {
    let store = &service.inner.store;
    match provider_delete(service, card).await {
        Ok(()) => {
            let audit = audit(card, "stored_card.deleted", actor, None);
            match store
                .mark_stored_card_deleted(&card.company_id, &card.id, audit)
                .await
            {
                // Another pass (or instance) recorded it first.
                Ok(()) | Err(StoreError::NotFound) => Ok(()),
                Err(e) => Err(e.into()),
            }
        }
        Err(reason) => {
            let reason = sanalpos_gateway::scrub_card_numbers(&reason);
            tracing::warn!(stored_card.id = %card.id, pos.id = %card.pos_id, error = %reason,
                "the provider did not confirm a card delete; kept as deleting");
            let next = service.now_ms() + retry_pause_ms(card.delete_tries);
            let audit = audit(card, "stored_card.delete_failed", actor, Some(&reason));
            match store
                .mark_stored_card_deleting(&card.company_id, &card.id, &reason, next, audit)
                .await
            {
                Ok(()) | Err(StoreError::NotFound) => Ok(()),
                Err(e) => Err(e.into()),
            }
        }
    }
}

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

    /// A customer's stored cards that are not deleted (active, and those whose delete
    /// the provider has not confirmed yet), oldest first.
    pub async fn list_stored_cards(
        &self,
        company_id: &str,
        customer_ref: &str,
    ) -> Result<Vec<StoredCardView>, ServiceError> {
        let customer = customer(customer_ref)?;
        let cards = self
            .inner
            .store
            .list_stored_cards(company_id, customer.as_str())
            .await?;
        Ok(cards.iter().map(StoredCardView::from).collect())
    }

    /// Keeps a card in the provider's vault for a customer of the caller's company and
    /// records it. Nothing is written when the card, the alias or the POS is refused, or
    /// when the provider does not keep it.
    pub async fn register_stored_card(
        &self,
        caller: &Actor,
        customer_ref: &str,
        request: RegisterCard,
    ) -> Result<StoredCardView, ServiceError> {
        let customer = customer(customer_ref)?;
        let parsed = parse_card(&request.card)?;
        let alias = alias_of(&request.alias)?;
        let pos = storage_pos(self, &caller.company_id, request.pos_id.as_deref()).await?;
        let gateway = gateway_for(self, &pos)?;
        let kept = gateway
            .register_card(customer.as_str(), &parsed.card, &alias)
            .await
            .map_err(|e| vault_error(e, &pos))?;
        let expiry = parsed.card.expiry;
        drop(parsed);
        let record = StoredCardRecord {
            id: new_id("card"),
            company_id: caller.company_id.clone(),
            pos_id: pos.id.clone(),
            customer_ref: customer.as_str().to_owned(),
            provider_token: kept.token,
            provider_tran_id: kept.tran_id,
            masked_pan: kept.masked_pan.as_str().to_owned(),
            brand: kept.brand,
            issuer: kept.issuer,
            alias: if kept.alias.is_empty() {
                alias
            } else {
                kept.alias
            },
            expiry_month: Some(i64::from(expiry.month())),
            expiry_year: Some(i64::from(expiry.year())),
            created_by: caller.name.clone(),
            created_at: self.now_ms(),
            state: StoredCardState::Active,
            delete_tries: 0,
            delete_error: None,
            next_try_at: None,
        };
        let audit = audit(&record, "stored_card.saved", &caller.name, None);
        self.inner
            .store
            .insert_stored_card(record.clone(), audit)
            .await?;
        tracing::info!(stored_card.id = %record.id, pos.id = %record.pos_id, "card stored");
        Ok(StoredCardView::from(&record))
    }

    /// Deletes a stored card: at the provider first, then here. When the provider does
    /// not confirm, the card is kept as `deleting` with the reason (it can no longer
    /// pay) and the janitor tries again. Another company's or customer's card, or one
    /// already deleted, is not found.
    pub async fn delete_stored_card(
        &self,
        caller: &Actor,
        customer_ref: &str,
        id: &str,
    ) -> Result<StoredCardView, ServiceError> {
        let customer = customer(customer_ref)?;
        let store = &self.inner.store;
        let card = store
            .get_stored_card(&caller.company_id, customer.as_str(), id)
            .await?;
        if card.state == StoredCardState::Deleted {
            return Err(ServiceError::NotFound);
        }
        delete_and_record(self, &card, &caller.name).await?;
        let card = store
            .get_stored_card(&caller.company_id, customer.as_str(), id)
            .await?;
        Ok(StoredCardView::from(&card))
    }

    /// Tries again every delete the provider has not confirmed whose pause is over (all
    /// companies; the janitor's pass calls it).
    pub async fn retry_card_deletions(&self) -> Result<CardDeletionReport, ServiceError> {
        let due = self
            .inner
            .store
            .due_card_deletions(self.now_ms(), RETRY_BATCH)
            .await?;
        let mut report = CardDeletionReport::default();
        for card in &due {
            delete_and_record(self, card, RETRY_ACTOR).await?;
            let now = self
                .inner
                .store
                .get_stored_card(&card.company_id, &card.customer_ref, &card.id)
                .await?;
            if now.state == StoredCardState::Deleted {
                report.deleted += 1;
            } else {
                report.still_deleting += 1;
            }
        }
        Ok(report)
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
    let blocked = match blocked {
        Some(reason) => Some(reason),
        None => crate::abuse::velocity(service, &fingerprint, client_ip.as_deref()).await?,
    };
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
        card_brand: serde_json::to_value(CardBrand::from_bin(masked.bin6()))
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_else(|| "unknown".into()),
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
    let mut finish = sale_finish(
        &payment,
        &attempt_id,
        &caller.name,
        &response,
        &[PaymentStatus::Processing],
        service.now_ms(),
    );
    let fresh_success = finish.pos_health.as_ref().is_some_and(|h| {
        h.error.is_none() && !service.inner.successes.due(&h.pos_id, service.now_ms())
    });
    if fresh_success {
        finish.pos_health = None;
    }
    if let (Some(key), Some(answer)) = (key.name(), answer) {
        let owner = service.clone();
        finish.answer = Some(KeyAnswer {
            company_id: payment.company_id.clone(),
            key: key.to_owned(),
            render: Arc::new(move |stored| answer(&view(&owner, stored))),
        });
    }
    let finished = service.inner.store.finish_attempt(finish).await?;
    let stored = match finished.payment {
        Some(now) => now,
        None => {
            service
                .inner
                .store
                .get_payment(&payment.company_id, &payment.id)
                .await?
        }
    };
    Ok(Made::Payment(
        Box::new(view(service, &stored)),
        finished.answered,
    ))
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
    let known = store
        .stored_card_tokens(&payment.company_id, &pos.id, &save.customer_ref)
        .await?;
    let fresh: Vec<_> = listed
        .into_iter()
        .filter(|c| c.masked_pan.as_str() == payment.masked_pan && !known.contains(&c.token))
        .collect();
    let Some(kept) = fresh
        .iter()
        .find(|c| c.alias == save.alias)
        .or_else(|| fresh.first())
        .cloned()
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pause_between_delete_tries_doubles_up_to_six_hours() {
        assert_eq!(retry_pause_ms(0), 60_000);
        assert_eq!(retry_pause_ms(1), 120_000);
        assert_eq!(retry_pause_ms(3), 480_000);
        assert_eq!(retry_pause_ms(9), RETRY_MAX_PAUSE_MS);
        assert_eq!(retry_pause_ms(1_000), RETRY_MAX_PAUSE_MS);
        assert_eq!(retry_pause_ms(-1), 60_000);
    }
}
