//! Stored cards ("kayıtlı kart"): a customer's card kept in the provider's vault, known
//! here by the vault's token, its mask and the customer's name for it.
//!
//! Registering sends the card to the provider once and keeps what the vault answers (or,
//! when the answer is lost, the card the vault's list shows it kept);
//! paying sends the token (a non-3D sale, written and finished like any other payment);
//! deleting asks the provider first, and a delete the provider does not confirm leaves
//! the card `deleting`: it can no longer pay, it stays in the customer's list with the
//! reason, and the janitor asks again with a growing pause until the provider confirms.
//! Only POS whose protocol has the `card_storage` capability keep cards. Payments that
//! use the vault are [`crate::stored_card_payments`].

use serde::Serialize;
use serde_json::json;

use sanalpos_core::CustomerRef;
use sanalpos_gateway::{Gateway, GatewayError, StoredCard};
use sanalpos_store::{
    new_id, NewAudit, OnboardingState, PosRecord, StoreError, StoredCardRecord, StoredCardState,
};

use crate::error::ServiceError;
use crate::payments::{check_text, gateway_for, parse_card};
use crate::types::{rfc3339, Actor, CardInput};
use crate::PaymentService;

/// Who the background pass acts as in the audit log.
const RETRY_ACTOR: &str = "janitor";
/// Cards whose delete one background pass tries again, at most.
pub(crate) const RETRY_BATCH: u32 = 50;
/// The pause before the first new try of a delete the provider did not confirm; it
/// doubles with each try, up to [`RETRY_MAX_PAUSE_MS`].
const RETRY_FIRST_PAUSE_MS: i64 = 60_000;
/// The longest pause between two tries of a delete (6 hours).
const RETRY_MAX_PAUSE_MS: i64 = 6 * 3_600_000;
/// The longest alias a customer may give a card, in characters.
pub(crate) const ALIAS_MAX: usize = 50;

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

pub(crate) fn customer(customer_ref: &str) -> Result<CustomerRef, ServiceError> {
    CustomerRef::parse(customer_ref)
        .map_err(|e| ServiceError::validation("customer_ref", e.to_string()))
}

pub(crate) fn keeps_cards(pos: &PosRecord) -> bool {
    crate::gateways::protocol_of(&pos.protocol)
        .map(|p| p.info().capabilities.card_storage)
        .unwrap_or(false)
}

pub(crate) fn no_card_storage(pos: &PosRecord) -> ServiceError {
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
pub(crate) fn vault_error(error: GatewayError, pos: &PosRecord) -> ServiceError {
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

/// The card of `listed` (a customer's cards as the provider's vault lists them) with
/// the mask `masked_pan` whose token is not recorded for the customer at the POS, the
/// one named `alias` first when several are: a card the vault kept without its answer
/// reaching here. `None` when there is none.
pub(crate) async fn unrecorded_card(
    service: &PaymentService,
    company_id: &str,
    pos_id: &str,
    customer_ref: &str,
    listed: Vec<StoredCard>,
    masked_pan: &str,
    alias: &str,
) -> Result<Option<StoredCard>, ServiceError> {
    let known = service
        .inner
        .store
        .stored_card_tokens(company_id, pos_id, customer_ref)
        .await?;
    let fresh: Vec<StoredCard> = listed
        .into_iter()
        .filter(|c| c.masked_pan.as_str() == masked_pan && !known.contains(&c.token))
        .collect();
    let named = fresh.iter().position(|c| c.alias == alias).unwrap_or(0);
    Ok(fresh.into_iter().nth(named))
}

/// After a registration that went unanswered: the card the vault kept all the same,
/// under a token nothing here knows (the customer could neither see nor delete it), as
/// the customer's list at the provider shows it ([`unrecorded_card`]); `None` when the
/// list shows no such card. A list that cannot be read is an error that says the
/// card's fate is unknown.
async fn kept_without_answer(
    service: &PaymentService,
    gateway: &dyn Gateway,
    pos: &PosRecord,
    company_id: &str,
    customer_ref: &str,
    masked_pan: &str,
    alias: &str,
) -> Result<Option<StoredCard>, ServiceError> {
    let listed = gateway.list_cards(customer_ref).await.map_err(|e| {
        tracing::warn!(error = %e, pos.id = %pos.id,
            "a card registration went unanswered and the vault's list could not be read: the card may be kept at the provider");
        ServiceError::Provider {
            code: "provider_unavailable",
            message: "the provider's card vault did not answer, and whether it kept the card \
                      could not be checked; try again later"
                .into(),
        }
    })?;
    unrecorded_card(
        service,
        company_id,
        &pos.id,
        customer_ref,
        listed,
        masked_pan,
        alias,
    )
    .await
}

fn alias_of(alias: &Option<String>) -> Result<String, ServiceError> {
    Ok(check_text("alias", alias, ALIAS_MAX)?.unwrap_or_default())
}

pub(crate) fn audit(
    card: &StoredCardRecord,
    kind: &str,
    actor: &str,
    error: Option<&str>,
) -> NewAudit {
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
pub(crate) fn retry_pause_ms(tries: i64) -> i64 {
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
    /// when the provider does not keep it. When the registration goes unanswered (no
    /// answer in time, a broken one, the connection lost after sending), the customer's list at the
    /// provider decides: a card there with this mask and a token not recorded here is
    /// the one just kept, and is recorded and answered as kept.
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
        let kept = match gateway
            .register_card(customer.as_str(), &parsed.card, &alias)
            .await
        {
            Ok(kept) => kept,
            // Sent, and no usable answer: the vault may have kept the card all the same.
            // (`Unreachable` is a call that was never sent.)
            Err(error @ (GatewayError::Timeout | GatewayError::BadAnswer(_))) => {
                let masked = parsed.card.number.masked();
                let found = kept_without_answer(
                    self,
                    gateway.as_ref(),
                    &pos,
                    &caller.company_id,
                    customer.as_str(),
                    masked.as_str(),
                    &alias,
                )
                .await?;
                match found {
                    Some(kept) => {
                        tracing::warn!(error = %error, pos.id = %pos.id,
                            "a card registration went unanswered; the vault lists the card as kept, so it is recorded");
                        kept
                    }
                    None => return Err(vault_error(error, &pos)),
                }
            }
            Err(e) => return Err(vault_error(e, &pos)),
        };
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
