//! POS definitions. Every change bumps `version`, which is how every instance notices
//! a change on the next payment without a restart.

use sqlx::any::AnyRow;
use sqlx::AnyConnection;

use sanalpos_core::Currency;

use crate::audit::append;
use crate::model::{Environment, LegacyPos, NewAudit, OnboardingState, PosRecord};
use crate::rows::{boolean, int, json, opt_int, opt_text, parsed, text, to_json};
use crate::{Store, StoreError};

fn pos_from(row: &AnyRow) -> Result<PosRecord, StoreError> {
    let currencies: Vec<String> = json(row, "currencies")?;
    Ok(PosRecord {
        id: text(row, "id")?,
        company_id: text(row, "company_id")?,
        name: text(row, "name")?,
        protocol: text(row, "protocol")?,
        environment: parsed(row, "environment", Environment::parse)?,
        settings_enc: opt_text(row, "settings_enc")?.unwrap_or_default(),
        currencies: currencies
            .iter()
            .map(|c| {
                Currency::from_alpha(c)
                    .ok_or_else(|| StoreError::corrupt(format!("currencies: {c}")))
            })
            .collect::<Result<_, _>>()?,
        installments: json(row, "installments")?,
        onboarding_state: parsed(row, "onboarding_state", OnboardingState::parse)?,
        documents: json(row, "documents")?,
        is_default: boolean(row, "is_default")?,
        version: int(row, "version")?,
        last_success_at: opt_int(row, "last_success_at")?,
        last_error: opt_text(row, "last_error")?,
        created_at: int(row, "created_at")?,
        updated_at: int(row, "updated_at")?,
        pre_auth_hold_days: u16::try_from(int(row, "pre_auth_hold_days")?)
            .map_err(|_| StoreError::corrupt("pre_auth_hold_days out of range"))?,
    })
}

fn currencies_json(pos: &PosRecord) -> Result<String, StoreError> {
    to_json(&pos.currencies.iter().map(|c| c.alpha()).collect::<Vec<_>>())
}

async fn clear_other_defaults(conn: &mut AnyConnection, pos: &PosRecord) -> Result<(), StoreError> {
    if pos.is_default {
        sqlx::query(
            "UPDATE pos_definitions SET is_default = $1, version = version + 1, updated_at = $2 \
             WHERE company_id = $3 AND id <> $4 AND is_default = $5",
        )
        .bind(false)
        .bind(pos.updated_at)
        .bind(&pos.company_id)
        .bind(&pos.id)
        .bind(true)
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

async fn insert_pos(
    conn: &mut AnyConnection,
    (pos, audit): &(PosRecord, NewAudit),
) -> Result<(), StoreError> {
    crate::settings::settings_changed(conn).await?;
    clear_other_defaults(conn, pos).await?;
    sqlx::query(
        "INSERT INTO pos_definitions (id, company_id, name, protocol, environment, settings_enc, \
         base_url, credentials_enc, auto_complete, currencies, installments, onboarding_state, \
         documents, is_default, version, last_success_at, last_error, created_at, updated_at, pre_auth_hold_days) \
         VALUES ($1, $2, $3, $4, $5, $6, '', '', $7, $8, $9, $10, $11, $12, $13, NULL, NULL, $14, $15, $16)",
    )
    .bind(&pos.id)
    .bind(&pos.company_id)
    .bind(&pos.name)
    .bind(&pos.protocol)
    .bind(pos.environment.as_str())
    .bind(&pos.settings_enc)
    .bind(false)
    .bind(currencies_json(pos)?)
    .bind(to_json(&pos.installments)?)
    .bind(pos.onboarding_state.as_str())
    .bind(to_json(&pos.documents)?)
    .bind(pos.is_default)
    .bind(pos.version)
    .bind(pos.created_at)
    .bind(pos.updated_at)
    .bind(i64::from(pos.pre_auth_hold_days))
    .execute(&mut *conn)
    .await?;
    append(conn, audit).await
}

async fn update_pos(
    conn: &mut AnyConnection,
    (pos, audit): &(PosRecord, NewAudit),
) -> Result<PosRecord, StoreError> {
    crate::settings::settings_changed(conn).await?;
    clear_other_defaults(conn, pos).await?;
    let done = sqlx::query(
        "UPDATE pos_definitions SET name = $1, protocol = $2, environment = $3, settings_enc = $4, \
         currencies = $5, installments = $6, \
         onboarding_state = $7, documents = $8, is_default = $9, version = version + 1, updated_at = $10, \
         pre_auth_hold_days = $14 \
         WHERE id = $11 AND company_id = $12 AND version = $13",
    )
    .bind(&pos.name)
    .bind(&pos.protocol)
    .bind(pos.environment.as_str())
    .bind(&pos.settings_enc)
    .bind(currencies_json(pos)?)
    .bind(to_json(&pos.installments)?)
    .bind(pos.onboarding_state.as_str())
    .bind(to_json(&pos.documents)?)
    .bind(pos.is_default)
    .bind(pos.updated_at)
    .bind(&pos.id)
    .bind(&pos.company_id)
    .bind(pos.version)
    .bind(i64::from(pos.pre_auth_hold_days))
    .execute(&mut *conn)
    .await?;
    if done.rows_affected() == 0 {
        return Err(StoreError::conflict(
            "stale_version",
            "the POS definition was changed by someone else; reload and try again",
        ));
    }
    append(conn, audit).await?;
    let row = sqlx::query("SELECT * FROM pos_definitions WHERE id = $1")
        .bind(&pos.id)
        .fetch_one(&mut *conn)
        .await?;
    pos_from(&row)
}

impl Store {
    /// Adds a POS definition (making it the only default when `is_default`).
    pub async fn insert_pos(&self, pos: PosRecord, audit: NewAudit) -> Result<(), StoreError> {
        let chains = vec![audit.company_id.clone()];
        self.db
            .write_for(chains, (pos, audit), |c, d| Box::pin(insert_pos(c, d)))
            .await
    }

    /// Replaces a POS definition's editable fields. `pos.version` must be the version
    /// read (optimistic lock); the stored version is bumped and the new record returned.
    pub async fn update_pos(
        &self,
        pos: PosRecord,
        audit: NewAudit,
    ) -> Result<PosRecord, StoreError> {
        let chains = vec![audit.company_id.clone()];
        self.db
            .write_for(chains, (pos, audit), |c, d| Box::pin(update_pos(c, d)))
            .await
    }

    /// One POS of a company.
    pub async fn get_pos(&self, company_id: &str, id: &str) -> Result<PosRecord, StoreError> {
        let row = sqlx::query("SELECT * FROM pos_definitions WHERE id = $1 AND company_id = $2")
            .bind(id)
            .bind(company_id)
            .fetch_optional(&self.db.read)
            .await?
            .ok_or(StoreError::NotFound)?;
        pos_from(&row)
    }

    /// A company's POS definitions: the default first, then by creation.
    pub async fn list_pos(&self, company_id: &str) -> Result<Vec<PosRecord>, StoreError> {
        let rows = sqlx::query(
            "SELECT * FROM pos_definitions WHERE company_id = $1 ORDER BY is_default DESC, created_at, id",
        )
        .bind(company_id)
        .fetch_all(&self.db.read)
        .await?;
        rows.iter().map(pos_from).collect()
    }

    /// The POS definitions written before settings documents and not moved yet.
    pub async fn legacy_pos(&self) -> Result<Vec<LegacyPos>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, company_id, protocol, base_url, credentials_enc, auto_complete \
             FROM pos_definitions WHERE settings_enc IS NULL ORDER BY id",
        )
        .fetch_all(&self.db.read)
        .await?;
        rows.iter()
            .map(|row| {
                Ok(LegacyPos {
                    id: text(row, "id")?,
                    company_id: text(row, "company_id")?,
                    protocol: text(row, "protocol")?,
                    base_url: text(row, "base_url")?,
                    credentials_enc: text(row, "credentials_enc")?,
                    auto_complete: boolean(row, "auto_complete")?,
                })
            })
            .collect()
    }

    /// Stores the settings document made from a legacy row and empties the legacy
    /// columns, in one write. A row another instance moved first is left alone; the
    /// version is not bumped (the POS itself did not change). Returns whether this call
    /// moved it.
    pub async fn move_legacy_pos(&self, id: &str, settings_enc: &str) -> Result<bool, StoreError> {
        self.db
            .write(
                (id.to_owned(), settings_enc.to_owned()),
                |c, (id, settings)| {
                    Box::pin(async move {
                        let done = sqlx::query(
                            "UPDATE pos_definitions SET settings_enc = $1, base_url = '', \
                         credentials_enc = '', auto_complete = $2 \
                         WHERE id = $3 AND settings_enc IS NULL",
                        )
                        .bind(settings.as_str())
                        .bind(false)
                        .bind(id.as_str())
                        .execute(&mut *c)
                        .await?;
                        let moved = done.rows_affected() == 1;
                        if moved {
                            crate::settings::settings_changed(c).await?;
                        }
                        Ok(moved)
                    })
                },
            )
            .await
    }
}
