//! Statement column-mapping profiles, saved per POS: the mapping a person made once for
//! a bank's statement layout, kept as JSON text (the reconciliation crate's `Profile`).

use sqlx::any::AnyRow;
use sqlx::AnyConnection;

use crate::audit::append;
use crate::model::NewAudit;
use crate::rows::{int, text};
use crate::{Store, StoreError};

/// A saved statement profile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatementProfileRecord {
    /// `stp_…`.
    pub id: String,
    /// Owner.
    pub company_id: String,
    /// The POS whose statements it reads.
    pub pos_id: String,
    /// Unique per POS.
    pub name: String,
    /// The mapping, as JSON text.
    pub profile: String,
    /// Who saved it first.
    pub created_by: String,
    /// Unix milliseconds.
    pub created_at: i64,
    /// Unix milliseconds.
    pub updated_at: i64,
}

fn profile_from(row: &AnyRow) -> Result<StatementProfileRecord, StoreError> {
    Ok(StatementProfileRecord {
        id: text(row, "id")?,
        company_id: text(row, "company_id")?,
        pos_id: text(row, "pos_id")?,
        name: text(row, "name")?,
        profile: text(row, "profile")?,
        created_by: text(row, "created_by")?,
        created_at: int(row, "created_at")?,
        updated_at: int(row, "updated_at")?,
    })
}

async fn insert(
    conn: &mut AnyConnection,
    (p, audit): &(StatementProfileRecord, NewAudit),
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO statement_profiles (id, company_id, pos_id, name, profile, created_by, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(&p.id)
    .bind(&p.company_id)
    .bind(&p.pos_id)
    .bind(&p.name)
    .bind(&p.profile)
    .bind(&p.created_by)
    .bind(p.created_at)
    .bind(p.updated_at)
    .execute(&mut *conn)
    .await?;
    append(conn, audit).await
}

async fn update(
    conn: &mut AnyConnection,
    (p, audit): &(StatementProfileRecord, NewAudit),
) -> Result<(), StoreError> {
    let done = sqlx::query(
        "UPDATE statement_profiles SET name = $1, profile = $2, updated_at = $3 \
         WHERE id = $4 AND company_id = $5",
    )
    .bind(&p.name)
    .bind(&p.profile)
    .bind(p.updated_at)
    .bind(&p.id)
    .bind(&p.company_id)
    .execute(&mut *conn)
    .await?;
    if done.rows_affected() == 0 {
        return Err(StoreError::NotFound);
    }
    append(conn, audit).await
}

async fn delete(
    conn: &mut AnyConnection,
    (company_id, id, audit): &(String, String, NewAudit),
) -> Result<(), StoreError> {
    let done = sqlx::query("DELETE FROM statement_profiles WHERE id = $1 AND company_id = $2")
        .bind(id)
        .bind(company_id)
        .execute(&mut *conn)
        .await?;
    if done.rows_affected() == 0 {
        return Err(StoreError::NotFound);
    }
    append(conn, audit).await
}

impl Store {
    /// Saves a new profile with its audit event. A name already used for the POS is a
    /// `unique_violation` conflict.
    pub async fn insert_statement_profile(
        &self,
        profile: StatementProfileRecord,
        audit: NewAudit,
    ) -> Result<(), StoreError> {
        let chains = vec![audit.company_id.clone()];
        self.db
            .write_for(chains, (profile, audit), |c, d| Box::pin(insert(c, d)))
            .await
    }

    /// Replaces a profile's name and mapping (not found: another company's or gone).
    pub async fn update_statement_profile(
        &self,
        profile: StatementProfileRecord,
        audit: NewAudit,
    ) -> Result<(), StoreError> {
        let chains = vec![audit.company_id.clone()];
        self.db
            .write_for(chains, (profile, audit), |c, d| Box::pin(update(c, d)))
            .await
    }

    /// Deletes a profile of the company.
    pub async fn delete_statement_profile(
        &self,
        company_id: &str,
        id: &str,
        audit: NewAudit,
    ) -> Result<(), StoreError> {
        let chains = vec![audit.company_id.clone()];
        self.db
            .write_for(
                chains,
                (company_id.to_owned(), id.to_owned(), audit),
                |c, d| Box::pin(delete(c, d)),
            )
            .await
    }

    /// One profile of the company.
    pub async fn get_statement_profile(
        &self,
        company_id: &str,
        id: &str,
    ) -> Result<StatementProfileRecord, StoreError> {
        let row = sqlx::query("SELECT * FROM statement_profiles WHERE id = $1 AND company_id = $2")
            .bind(id)
            .bind(company_id)
            .fetch_optional(&self.db.read)
            .await?
            .ok_or(StoreError::NotFound)?;
        profile_from(&row)
    }

    /// A POS's profiles, by name.
    pub async fn list_statement_profiles(
        &self,
        company_id: &str,
        pos_id: &str,
    ) -> Result<Vec<StatementProfileRecord>, StoreError> {
        let rows = sqlx::query(
            "SELECT * FROM statement_profiles WHERE company_id = $1 AND pos_id = $2 ORDER BY name, id",
        )
        .bind(company_id)
        .bind(pos_id)
        .fetch_all(&self.db.read)
        .await?;
        rows.iter().map(profile_from).collect()
    }
}
