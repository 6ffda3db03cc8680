//! Statement column-mapping profiles saved per POS, and imports that use one. The
//! built-in simulator profile needs no saving: an import without a profile uses it.

use serde::Serialize;
use serde_json::json;

use sanalpos_recon::Profile;
use sanalpos_store::{new_id, NewAudit, StatementProfileRecord, StoreError};

use crate::error::ServiceError;
use crate::types::{rfc3339, Actor};
use crate::{PaymentService, ReconRunView, StatementFile};

/// A saved statement profile as shown.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[schema(as = StatementProfile)]
pub struct StatementProfileView {
    /// `stp_…`.
    pub id: String,
    /// The POS whose statements it reads.
    pub pos_id: String,
    /// Its name (the profile's own, unique per POS).
    pub name: String,
    /// The mapping.
    pub profile: Profile,
    /// Who saved it first.
    pub created_by: String,
    /// RFC 3339.
    pub created_at: String,
    /// RFC 3339.
    pub updated_at: String,
}

fn view(record: StatementProfileRecord) -> Result<StatementProfileView, ServiceError> {
    let profile: Profile = serde_json::from_str(&record.profile)
        .map_err(|e| ServiceError::Storage(format!("statement profile {}: {e}", record.id)))?;
    Ok(StatementProfileView {
        id: record.id,
        pos_id: record.pos_id,
        name: record.name,
        profile,
        created_by: record.created_by,
        created_at: rfc3339(record.created_at),
        updated_at: rfc3339(record.updated_at),
    })
}

fn checked(mut profile: Profile) -> Result<(Profile, String), ServiceError> {
    profile.name = profile.name.trim().to_owned();
    profile
        .check()
        .map_err(|message| ServiceError::validation("profile", message))?;
    let text = serde_json::to_string(&profile)
        .map_err(|e| ServiceError::Storage(format!("statement profile: {e}")))?;
    Ok((profile, text))
}

fn name_taken(e: StoreError) -> ServiceError {
    match e {
        StoreError::Conflict {
            code: "unique_violation",
            ..
        } => ServiceError::Conflict {
            code: "profile_name_taken",
            message: "this POS already has a statement profile with that name".into(),
        },
        other => other.into(),
    }
}

fn audit(actor: &Actor, kind: &str, id: &str, data: serde_json::Value) -> NewAudit {
    NewAudit {
        company_id: actor.company_id.clone(),
        kind: kind.to_owned(),
        actor: actor.name.clone(),
        subject_id: id.to_owned(),
        data,
    }
}

impl PaymentService {
    /// Saves a column-mapping profile for a POS of the company (audited).
    pub async fn create_statement_profile(
        &self,
        actor: &Actor,
        company_id: &str,
        pos_id: &str,
        profile: Profile,
    ) -> Result<StatementProfileView, ServiceError> {
        let store = &self.inner.store;
        store.get_pos(company_id, pos_id).await?;
        let (profile, text) = checked(profile)?;
        let now = self.now_ms();
        let record = StatementProfileRecord {
            id: new_id("stp"),
            company_id: company_id.to_owned(),
            pos_id: pos_id.to_owned(),
            name: profile.name.clone(),
            profile: text,
            created_by: actor.name.clone(),
            created_at: now,
            updated_at: now,
        };
        let event = audit(
            actor,
            "statement_profile.created",
            &record.id,
            json!({"pos_id": pos_id, "name": record.name, "profile": profile}),
        );
        store
            .insert_statement_profile(record.clone(), event)
            .await
            .map_err(name_taken)?;
        view(record)
    }

    /// Replaces a saved profile's mapping (and name) (audited with the one before).
    pub async fn update_statement_profile(
        &self,
        actor: &Actor,
        company_id: &str,
        profile_id: &str,
        profile: Profile,
    ) -> Result<StatementProfileView, ServiceError> {
        let store = &self.inner.store;
        let before = store.get_statement_profile(company_id, profile_id).await?;
        let (profile, text) = checked(profile)?;
        let record = StatementProfileRecord {
            name: profile.name.clone(),
            profile: text,
            updated_at: self.now_ms(),
            ..before.clone()
        };
        let before_profile: serde_json::Value =
            serde_json::from_str(&before.profile).unwrap_or(serde_json::Value::Null);
        let event = audit(
            actor,
            "statement_profile.updated",
            profile_id,
            json!({"pos_id": before.pos_id, "before": before_profile, "after": profile}),
        );
        store
            .update_statement_profile(record.clone(), event)
            .await
            .map_err(name_taken)?;
        view(record)
    }

    /// Deletes a saved profile (audited with what it was).
    pub async fn delete_statement_profile(
        &self,
        actor: &Actor,
        company_id: &str,
        profile_id: &str,
    ) -> Result<(), ServiceError> {
        let store = &self.inner.store;
        let before = store.get_statement_profile(company_id, profile_id).await?;
        let before_profile: serde_json::Value =
            serde_json::from_str(&before.profile).unwrap_or(serde_json::Value::Null);
        let event = audit(
            actor,
            "statement_profile.deleted",
            profile_id,
            json!({"pos_id": before.pos_id, "before": before_profile}),
        );
        Ok(store
            .delete_statement_profile(company_id, profile_id, event)
            .await?)
    }

    /// One saved profile of the company.
    pub async fn get_statement_profile(
        &self,
        company_id: &str,
        profile_id: &str,
    ) -> Result<StatementProfileView, ServiceError> {
        view(
            self.inner
                .store
                .get_statement_profile(company_id, profile_id)
                .await?,
        )
    }

    /// The saved profiles of a POS of the company, by name (the built-in simulator
    /// profile is not among them: it is what an import without a profile uses).
    pub async fn list_statement_profiles(
        &self,
        company_id: &str,
        pos_id: &str,
    ) -> Result<Vec<StatementProfileView>, ServiceError> {
        let store = &self.inner.store;
        store.get_pos(company_id, pos_id).await?;
        store
            .list_statement_profiles(company_id, pos_id)
            .await?
            .into_iter()
            .map(view)
            .collect()
    }

    /// Imports a statement through a profile saved for this POS (`None`: the built-in
    /// simulator profile). A file with a bad row stores nothing and answers
    /// [`ServiceError::BadStatement`] with every bad line, unless `skip_bad_rows` (see
    /// [`PaymentService::import_statement`]).
    #[allow(clippy::too_many_arguments)]
    pub async fn import_statement_with_profile(
        &self,
        actor: &Actor,
        company_id: &str,
        pos_id: &str,
        from: &str,
        to: &str,
        file: impl Into<StatementFile>,
        profile_id: Option<&str>,
        skip_bad_rows: bool,
    ) -> Result<ReconRunView, ServiceError> {
        let profile = match profile_id {
            None => None,
            Some(id) => {
                let saved = self.get_statement_profile(company_id, id).await?;
                if saved.pos_id != pos_id {
                    return Err(ServiceError::validation(
                        "profile_id",
                        "the profile belongs to another POS",
                    ));
                }
                Some(saved.profile)
            }
        };
        self.import_statement(
            actor,
            company_id,
            pos_id,
            from,
            to,
            file,
            profile,
            skip_bad_rows,
        )
        .await
    }
}
