//! Companies, users and API keys.

use sqlx::any::AnyRow;
use sqlx::AnyConnection;

use crate::audit::append;
use crate::model::{ApiKey, Company, NewAudit, Role, User};
use crate::rows::{int, opt_int, parsed, text};
use crate::{Store, StoreError};

fn company_from(row: &AnyRow) -> Result<Company, StoreError> {
    Ok(Company {
        id: text(row, "id")?,
        name: text(row, "name")?,
        created_at: int(row, "created_at")?,
    })
}

fn key_from(row: &AnyRow) -> Result<ApiKey, StoreError> {
    Ok(ApiKey {
        id: text(row, "id")?,
        company_id: text(row, "company_id")?,
        name: text(row, "name")?,
        prefix: text(row, "prefix")?,
        created_at: int(row, "created_at")?,
        revoked_at: opt_int(row, "revoked_at")?,
    })
}

struct NewUser {
    user: User,
    password_hash: String,
    audit: Vec<NewAudit>,
}

struct NewKey {
    key: ApiKey,
    key_hash: String,
    audit: NewAudit,
}

struct Revoke {
    company_id: String,
    key_id: String,
    at: i64,
    audit: NewAudit,
}

async fn insert_company(
    conn: &mut AnyConnection,
    (company, audit): &(Company, NewAudit),
) -> Result<(), StoreError> {
    sqlx::query("INSERT INTO companies (id, name, created_at) VALUES ($1, $2, $3)")
        .bind(&company.id)
        .bind(&company.name)
        .bind(company.created_at)
        .execute(&mut *conn)
        .await?;
    append(conn, audit).await
}

async fn insert_user(conn: &mut AnyConnection, new: &NewUser) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO users (id, username, password_hash, role, disabled, created_at) VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(&new.user.id)
    .bind(&new.user.username)
    .bind(&new.password_hash)
    .bind(new.user.role.as_str())
    .bind(false)
    .bind(new.user.created_at)
    .execute(&mut *conn)
    .await
    .map_err(|e| match StoreError::from(e) {
        StoreError::Conflict { .. } => {
            StoreError::conflict("username_taken", "the username is taken")
        }
        other => other,
    })?;
    for company_id in &new.user.company_ids {
        sqlx::query("INSERT INTO user_companies (user_id, company_id) VALUES ($1, $2)")
            .bind(&new.user.id)
            .bind(company_id)
            .execute(&mut *conn)
            .await?;
    }
    for audit in &new.audit {
        append(conn, audit).await?;
    }
    Ok(())
}

async fn insert_key(conn: &mut AnyConnection, new: &NewKey) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO api_keys (id, company_id, name, prefix, key_hash, created_at, revoked_at) VALUES ($1, $2, $3, $4, $5, $6, NULL)",
    )
    .bind(&new.key.id)
    .bind(&new.key.company_id)
    .bind(&new.key.name)
    .bind(&new.key.prefix)
    .bind(&new.key_hash)
    .bind(new.key.created_at)
    .execute(&mut *conn)
    .await?;
    crate::settings::settings_changed(conn).await?;
    append(conn, &new.audit).await
}

async fn revoke_key(conn: &mut AnyConnection, r: &Revoke) -> Result<(), StoreError> {
    let done = sqlx::query(
        "UPDATE api_keys SET revoked_at = $1 WHERE id = $2 AND company_id = $3 AND revoked_at IS NULL",
    )
    .bind(r.at)
    .bind(&r.key_id)
    .bind(&r.company_id)
    .execute(&mut *conn)
    .await?;
    if done.rows_affected() == 0 {
        return Err(StoreError::NotFound);
    }
    crate::settings::settings_changed(conn).await?;
    append(conn, &r.audit).await
}

impl Store {
    /// Adds a company and its `company.created` audit event.
    pub async fn insert_company(
        &self,
        company: Company,
        audit: NewAudit,
    ) -> Result<(), StoreError> {
        let chains = vec![audit.company_id.clone()];
        self.db
            .write_for(chains, (company, audit), |c, d| {
                Box::pin(insert_company(c, d))
            })
            .await
    }

    /// One company.
    pub async fn get_company(&self, id: &str) -> Result<Company, StoreError> {
        let row = sqlx::query("SELECT * FROM companies WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.db.read)
            .await?
            .ok_or(StoreError::NotFound)?;
        company_from(&row)
    }

    /// Every company, by name.
    pub async fn list_companies(&self) -> Result<Vec<Company>, StoreError> {
        let rows = sqlx::query("SELECT * FROM companies ORDER BY name, id")
            .fetch_all(&self.db.read)
            .await?;
        rows.iter().map(company_from).collect()
    }

    /// Adds a user with an (argon2id) password hash; one audit event per company.
    pub async fn insert_user(
        &self,
        user: User,
        password_hash: String,
        audit: Vec<NewAudit>,
    ) -> Result<(), StoreError> {
        let chains: Vec<String> = audit.iter().map(|a| a.company_id.clone()).collect();
        let new = NewUser {
            user,
            password_hash,
            audit,
        };
        self.db
            .write_for(chains, new, |c, d| Box::pin(insert_user(c, d)))
            .await
    }

    /// A user and their password hash, by username (for login). Disabled users are
    /// not found.
    pub async fn find_user(&self, username: &str) -> Result<Option<(User, String)>, StoreError> {
        let row = sqlx::query("SELECT * FROM users WHERE username = $1")
            .bind(username)
            .fetch_optional(&self.db.read)
            .await?;
        let Some(row) = row else { return Ok(None) };
        if crate::rows::boolean(&row, "disabled")? {
            return Ok(None);
        }
        let id = text(&row, "id")?;
        let company_ids: Vec<String> = sqlx::query_scalar(
            "SELECT company_id FROM user_companies WHERE user_id = $1 ORDER BY company_id",
        )
        .bind(&id)
        .fetch_all(&self.db.read)
        .await?;
        let user = User {
            id,
            username: text(&row, "username")?,
            role: parsed(&row, "role", Role::parse)?,
            company_ids,
            created_at: int(&row, "created_at")?,
        };
        Ok(Some((user, text(&row, "password_hash")?)))
    }

    /// Adds an API key (its hash, never the key) and its audit event.
    pub async fn insert_api_key(
        &self,
        key: ApiKey,
        key_hash: String,
        audit: NewAudit,
    ) -> Result<(), StoreError> {
        let chains = vec![audit.company_id.clone()];
        let new = NewKey {
            key,
            key_hash,
            audit,
        };
        self.db
            .write_for(chains, new, |c, d| Box::pin(insert_key(c, d)))
            .await
    }

    /// Revokes a key of the company; `NotFound` when it is not the company's or already
    /// revoked.
    pub async fn revoke_api_key(
        &self,
        company_id: &str,
        key_id: &str,
        audit: NewAudit,
    ) -> Result<(), StoreError> {
        let chains = vec![audit.company_id.clone()];
        let r = Revoke {
            company_id: company_id.to_owned(),
            key_id: key_id.to_owned(),
            at: crate::now_ms(),
            audit,
        };
        self.db
            .write_for(chains, r, |c, d| Box::pin(revoke_key(c, d)))
            .await
    }

    /// A key and its hash, by lookup prefix.
    pub async fn find_api_key(&self, prefix: &str) -> Result<Option<(ApiKey, String)>, StoreError> {
        let row = sqlx::query("SELECT * FROM api_keys WHERE prefix = $1")
            .bind(prefix)
            .fetch_optional(&self.db.read)
            .await?;
        row.map(|row| Ok((key_from(&row)?, text(&row, "key_hash")?)))
            .transpose()
    }

    /// [`Store::find_api_key`] with the settings epoch read in the same statement (one
    /// snapshot): the label to keep the key under.
    pub async fn find_api_key_at_epoch(
        &self,
        prefix: &str,
    ) -> Result<Option<(ApiKey, String, i64)>, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT k.*, {} AS settings_epoch FROM api_keys k WHERE k.prefix = $1",
            crate::settings::EPOCH_COLUMN
        ))
        .bind(prefix)
        .fetch_optional(&self.db.read)
        .await?;
        row.map(|row| {
            Ok((
                key_from(&row)?,
                text(&row, "key_hash")?,
                int(&row, "settings_epoch")?,
            ))
        })
        .transpose()
    }

    /// A company's keys, newest first.
    pub async fn list_api_keys(&self, company_id: &str) -> Result<Vec<ApiKey>, StoreError> {
        let rows = sqlx::query(
            "SELECT * FROM api_keys WHERE company_id = $1 ORDER BY created_at DESC, id",
        )
        .bind(company_id)
        .fetch_all(&self.db.read)
        .await?;
        rows.iter().map(key_from).collect()
    }
}
