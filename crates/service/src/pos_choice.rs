//! Which of a company's POS takes a charge. One rule for every channel (API, back
//! office, hosted page, installment look-ups), so that the POS a customer is quoted
//! installments on is the one that then charges the card.

use std::sync::Arc;

use sanalpos_core::Currency;
use sanalpos_store::{OnboardingState, PosRecord};

use crate::admin::pos_can_charge;
use crate::{PaymentService, ServiceError};

/// The POS for a charge in `currency`: the one named by `pos_id`, else the company's
/// default POS when it takes the currency, else the first active POS that does.
///
/// A named POS that does not belong to the company is a validation error on `pos_id`,
/// one that takes no such currency a validation error on `currency`, and one that is not
/// active (or no POS at all) is [`ServiceError::NoActivePos`].
pub(crate) async fn choose_pos(
    service: &PaymentService,
    company_id: &str,
    pos_id: Option<&str>,
    currency: Currency,
) -> Result<PosRecord, ServiceError> {
    let all = service.inner.store.list_pos(company_id).await?;
    pick(&all, pos_id, currency)
}

/// [`choose_pos`] from the company's POS definitions this instance keeps (read and
/// kept when they are not there), with the settings epoch they were read after. The
/// choice, a refusal included, holds only while the epoch is still that label: the sale
/// compares it with the epoch it reads next and chooses again from a new read
/// ([`choose_pos_after`]) when it is not.
pub(crate) async fn choose_kept_pos(
    service: &PaymentService,
    company_id: &str,
    pos_id: Option<&str>,
    currency: Currency,
) -> Result<(Result<PosRecord, ServiceError>, i64), ServiceError> {
    let (all, label) = match service.inner.settings.pos(company_id) {
        Some(kept) => kept,
        None => {
            let label = service.inner.store.settings_epoch().await?;
            (kept_after(service, company_id, label).await?, label)
        }
    };
    Ok((pick(&all, pos_id, currency), label))
}

/// [`choose_pos`] from a read made after the settings epoch was `epoch`, which keeps
/// what it read.
pub(crate) async fn choose_pos_after(
    service: &PaymentService,
    company_id: &str,
    pos_id: Option<&str>,
    currency: Currency,
    epoch: i64,
) -> Result<PosRecord, ServiceError> {
    let all = kept_after(service, company_id, epoch).await?;
    pick(&all, pos_id, currency)
}

/// The company's POS definitions read now, kept with the label `epoch` (read before).
async fn kept_after(
    service: &PaymentService,
    company_id: &str,
    epoch: i64,
) -> Result<Arc<Vec<PosRecord>>, ServiceError> {
    let all = Arc::new(service.inner.store.list_pos(company_id).await?);
    service
        .inner
        .settings
        .keep_pos(company_id, all.clone(), epoch);
    Ok(all)
}

fn pick(
    all: &[PosRecord],
    pos_id: Option<&str>,
    currency: Currency,
) -> Result<PosRecord, ServiceError> {
    match pos_id {
        Some(pos_id) => {
            let pos = all.iter().find(|p| p.id == pos_id).ok_or_else(|| {
                ServiceError::validation("pos_id", "no such POS for this company")
            })?;
            if pos.onboarding_state != OnboardingState::Active {
                return Err(ServiceError::NoActivePos);
            }
            if !pos.currencies.contains(&currency) {
                return Err(ServiceError::validation(
                    "currency",
                    "this POS does not take the currency",
                ));
            }
            Ok(pos.clone())
        }
        None => all
            .iter()
            .find(|p| p.is_default && pos_can_charge(p, currency))
            .or_else(|| all.iter().find(|p| pos_can_charge(p, currency)))
            .cloned()
            .ok_or(ServiceError::NoActivePos),
    }
}
