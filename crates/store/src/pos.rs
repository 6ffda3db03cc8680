//! POS definitions. Every change bumps `version`, which is how every instance notices
//! a change on the next payment without a restart.

use sqlx::any::AnyRow;
use sqlx::AnyConnection;

use sanalpos_core::Currency;

use crate::audit::append;
use crate::model::{Environment, NewAudit, OnboardingState, PosRecord};
use crate::rows::{boolean, int, json, opt_int, opt_text, parsed, text, to_json};
use crate::{Store, StoreError};

fn pos_from(row: &AnyRow) -> Result<PosRecord, StoreError> {
    let currencies: Vec<String> = json(row, "currencies")?;
    Ok(PosRecord {
        id: text(row, "id")?,
        company_id: text(row, "company_id")?,
        name: text(row, "name")?,
        provider: text(row, "provider")?,
        environment: parsed(row, "environment", Environment::parse)?,
        base_url: text(row, "base_url")?,
        credentials_enc: text(row, "credentials_enc")?,
        auto_complete: boolean(row, "auto_complete")?,
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
    clear_other_defaults(conn, pos).await?;
    sqlx::query(
        "INSERT INTO pos_definitions (id, company_id, name, provider, environment, base_url, credentials_enc, \
         auto_complete, currencies, installments, onboarding_state, documents, is_default, version, \
         last_success_at, last_error, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, NULL, NULL, $15, $16)",
    )
    .bind(&pos.id)
    .bind(&pos.company_id)
    .bind(&pos.name)
    .bind(&pos.provider)
    .bind(pos.environment.as_str())
    .bind(&pos.base_url)
    .bind(&pos.credentials_enc)
    .bind(pos.auto_complete)
    .bind(currencies_json(pos)?)
    .bind(to_json(&pos.installments)?)
    .bind(pos.onboarding_state.as_str())
    .bind(to_json(&pos.documents)?)
    .bind(pos.is_default)
    .bind(pos.version)
    .bind(pos.created_at)
    .bind(pos.updated_at)
    .execute(&mut *conn)
    .await?;
    append(conn, audit).await
}

async fn update_pos(
    conn: &mut AnyConnection,
    (pos, audit): &(PosRecord, NewAudit),
) -> Result<PosRecord, StoreError> {
    clear_other_defaults(conn, pos).await?;
    let done = sqlx::query(
        "UPDATE pos_definitions SET name = $1, provider = $2, environment = $3, base_url = $4, \
         credentials_enc = $5, auto_complete = $6, currencies = $7, installments = $8, \
         onboarding_state = $9, documents = $10, is_default = $11, version = version + 1, updated_at = $12 \
         WHERE id = $13 AND company_id = $14 AND version = $15",
    )
    .bind(&pos.name)
    .bind(&pos.provider)
    .bind(pos.environment.as_str())
    .bind(&pos.base_url)
    .bind(&pos.credentials_enc)
    .bind(pos.auto_complete)
    .bind(currencies_json(pos)?)
    .bind(to_json(&pos.installments)?)
    .bind(pos.onboarding_state.as_str())
    .bind(to_json(&pos.documents)?)
    .bind(pos.is_default)
    .bind(pos.updated_at)
    .bind(&pos.id)
    .bind(&pos.company_id)
    .bind(pos.version)
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
        self.db
            .write((pos, audit), |c, d| Box::pin(insert_pos(c, d)))
            .await
    }

    /// Replaces a POS definition's editable fields. `pos.version` must be the version
    /// read (optimistic lock); the stored version is bumped and the new record returned.
    pub async fn update_pos(
        &self,
        pos: PosRecord,
        audit: NewAudit,
    ) -> Result<PosRecord, StoreError> {
        self.db
            .write((pos, audit), |c, d| Box::pin(update_pos(c, d)))
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
}
