//! Which of a company's POS takes a charge. One rule for every channel (API, back
//! office, hosted page, installment look-ups), so that the POS a customer is quoted
//! installments on is the one that then charges the card.

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
    let mut all = service.inner.store.list_pos(company_id).await?;
    match pos_id {
        Some(pos_id) => {
            let pos = all.into_iter().find(|p| p.id == pos_id).ok_or_else(|| {
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
            Ok(pos)
        }
        None => {
            let default = all
                .iter()
                .position(|p| p.is_default && pos_can_charge(p, currency))
                .or_else(|| all.iter().position(|p| pos_can_charge(p, currency)))
                .ok_or(ServiceError::NoActivePos)?;
            Ok(all.swap_remove(default))
        }
    }
}
