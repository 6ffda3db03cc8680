//! What the back-office screens need beyond payments: the installment options of a
//! card as its BIN is typed, a harmless "test connection" call to a POS's provider,
//! and user-company membership.

use serde::Serialize;
use serde_json::json;

use sanalpos_core::{Currency, Kurus};
use sanalpos_gateway::GatewayError;
use sanalpos_store::{NewAudit, OnboardingState};

use crate::error::ServiceError;
use crate::payments::gateway_for;
use crate::types::UserView;
use crate::{PaymentService, Role};

/// One installment choice for a card, as the collection screen lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct InstallmentChoice {
    /// Number of installments; 1 is a single payment.
    pub installments: u8,
    /// Each installment.
    pub monthly: Kurus,
    /// What the cardholder pays in total.
    pub total: Kurus,
    /// The cardholder's surcharge, included in `total`.
    pub surcharge: Kurus,
}

/// What a "test connection" found, in classes a person can act on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "result")]
pub enum ConnectionCheck {
    /// The provider answered an authenticated call.
    Ok,
    /// The provider refused the credentials.
    BadCredentials,
    /// The provider does not allow this server's IP address.
    IpNotAllowed,
    /// The provider could not be reached or did not answer in time.
    Unreachable,
    /// Anything else; the detail is technical (no secrets in it).
    Other {
        /// What went wrong, in English.
        detail: String,
    },
}

impl From<&GatewayError> for ConnectionCheck {
    fn from(e: &GatewayError) -> ConnectionCheck {
        match e {
            GatewayError::BadCredentials(_) => ConnectionCheck::BadCredentials,
            GatewayError::IpNotAllowed(_) => ConnectionCheck::IpNotAllowed,
            GatewayError::Unreachable(_) | GatewayError::Timeout => ConnectionCheck::Unreachable,
            other => ConnectionCheck::Other {
                detail: other.to_string(),
            },
        }
    }
}

impl PaymentService {
    /// The installment options the provider offers for a card's BIN (its first 6 to 8
    /// digits) and an amount, through the POS that would take the payment (`pos_id`, or
    /// the company's default active POS for the currency), limited to the counts in
    /// that POS's installment table.
    pub async fn installment_choices(
        &self,
        company_id: &str,
        pos_id: Option<&str>,
        bin: &str,
        amount: Kurus,
        currency: Currency,
    ) -> Result<Vec<InstallmentChoice>, ServiceError> {
        if !(6..=8).contains(&bin.len()) || !bin.bytes().all(|b| b.is_ascii_digit()) {
            return Err(ServiceError::validation("bin", "6 to 8 digits"));
        }
        if amount.minor() <= 0 {
            return Err(ServiceError::validation("amount", "must be above zero"));
        }
        let pos = &crate::pos_choice::choose_pos(self, company_id, pos_id, currency).await?;
        let gateway = gateway_for(self, pos)?;
        let options = crate::gateways::installment_options(gateway.as_ref(), pos, bin, amount)
            .await
            .map_err(|e| ServiceError::Provider {
                code: "installments_unavailable",
                message: e.to_string(),
            })?;
        let mut choices: Vec<InstallmentChoice> = options
            .into_iter()
            .filter(|o| {
                pos.installments
                    .iter()
                    .any(|row| row.count == o.installments)
            })
            .map(|o| InstallmentChoice {
                installments: o.installments,
                monthly: o.monthly,
                total: o.total,
                surcharge: o.surcharge,
            })
            .collect();
        choices.sort_by_key(|c| c.installments);
        choices.dedup_by_key(|c| c.installments);
        Ok(choices)
    }

    /// Makes a harmless authenticated call (the protocol's probe) through a
    /// POS of the company, whatever its onboarding state, and says what happened.
    pub async fn check_pos_connection(
        &self,
        company_id: &str,
        pos_id: &str,
        actor: &str,
    ) -> Result<ConnectionCheck, ServiceError> {
        let pos = self.inner.store.get_pos(company_id, pos_id).await?;
        let gateway = gateway_for(self, &pos)?;
        let (check, error) = match gateway.probe().await {
            Ok(_) => (ConnectionCheck::Ok, None),
            Err(e) => {
                tracing::info!(pos.id = %pos.id, error = %e, "POS connection test failed");
                (ConnectionCheck::from(&e), Some(e.to_string()))
            }
        };
        let event = NewAudit {
            company_id: company_id.to_owned(),
            kind: "pos.connection_tested".into(),
            actor: actor.to_owned(),
            subject_id: pos.id.clone(),
            data: json!(check),
        };
        self.inner
            .store
            .record_pos_check(company_id, &pos.id, error, event)
            .await?;
        Ok(check)
    }

    /// A user by id, `None` when unknown.
    pub async fn get_user(&self, user_id: &str) -> Result<Option<UserView>, ServiceError> {
        Ok(self
            .inner
            .store
            .get_user(user_id)
            .await?
            .map(|(user, _)| UserView::from(&user)))
    }

    /// The users of a company, each with whether it is disabled.
    pub async fn list_company_users(
        &self,
        company_id: &str,
    ) -> Result<Vec<(UserView, bool)>, ServiceError> {
        let users = self.inner.store.list_company_users(company_id).await?;
        Ok(users
            .iter()
            .map(|(u, disabled)| (UserView::from(u), *disabled))
            .collect())
    }

    /// Changes a user's role, or disables (enables) them; a disabled user is signed out
    /// everywhere and cannot sign in. Audited in each of the user's companies.
    pub async fn set_user_role(
        &self,
        user_id: &str,
        role: Role,
        disabled: bool,
        actor: &str,
    ) -> Result<UserView, ServiceError> {
        let (mut user, _) = self
            .inner
            .store
            .get_user(user_id)
            .await?
            .ok_or(ServiceError::NotFound)?;
        let events = user
            .company_ids
            .iter()
            .map(|company_id| NewAudit {
                company_id: company_id.clone(),
                kind: "user.role_changed".into(),
                actor: actor.to_owned(),
                subject_id: user.id.clone(),
                data: json!({ "username": user.username, "role": role, "disabled": disabled }),
            })
            .collect();
        self.inner
            .store
            .set_user_role(user_id, role, disabled, events)
            .await?;
        user.role = role;
        Ok(UserView::from(&user))
    }

    /// Replaces a user's companies (at least one), audited in every company concerned.
    pub async fn set_user_companies(
        &self,
        user_id: &str,
        company_ids: &[String],
        actor: &str,
    ) -> Result<UserView, ServiceError> {
        if company_ids.is_empty() {
            return Err(ServiceError::validation(
                "company_ids",
                "at least one company",
            ));
        }
        for company_id in company_ids {
            self.inner.store.get_company(company_id).await?;
        }
        let (user, _) = self
            .inner
            .store
            .get_user(user_id)
            .await?
            .ok_or(ServiceError::NotFound)?;
        let mut concerned: Vec<&String> = user.company_ids.iter().chain(company_ids).collect();
        concerned.sort();
        concerned.dedup();
        let events = concerned
            .into_iter()
            .map(|company_id| NewAudit {
                company_id: company_id.clone(),
                kind: "user.companies_changed".into(),
                actor: actor.to_owned(),
                subject_id: user.id.clone(),
                data: json!({ "username": user.username, "company_ids": company_ids }),
            })
            .collect();
        self.inner
            .store
            .set_user_companies(user_id, company_ids.to_vec(), events)
            .await?;
        let mut updated = user;
        updated.company_ids = company_ids.to_vec();
        Ok(UserView::from(&updated))
    }

    /// Whether a POS is usable for payments now (active).
    pub fn pos_is_active(pos: &crate::PosView) -> bool {
        pos.onboarding_state == OnboardingState::Active
    }
}
