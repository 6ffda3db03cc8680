//! What the back-office web UI keeps: server-side sessions (only a SHA-256 hash of the
//! cookie's token is stored), the per-username login throttle, and user-company
//! membership. All in the database, so any number of instances share them.

use sqlx::any::AnyRow;
use sqlx::AnyConnection;

use crate::audit::append;
use crate::model::{NewAudit, Role, User};
use crate::rows::{boolean, int, parsed, text};
use crate::{Store, StoreError};

/// A signed-in session, with its user as they are now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionRecord {
    /// SHA-256 (hex) of the cookie's token.
    pub token_hash: String,
    /// The signed-in user (`usr_…`).
    pub user_id: String,
    /// The user's login name.
    pub username: String,
    /// The user's role now.
    pub role: Role,
    /// The company the user works in now (always one of theirs).
    pub company_id: String,
    /// The token every form of this session carries.
    pub csrf_token: String,
    /// Unix milliseconds.
    pub expires_at: i64,
}

/// A new session.
#[derive(Debug, Clone)]
pub struct NewSession {
    /// SHA-256 (hex) of the cookie's token.
    pub token_hash: String,
    /// The signed-in user (`usr_…`).
    pub user_id: String,
    /// The company to start in.
    pub company_id: String,
    /// The session's CSRF token.
    pub csrf_token: String,
    /// Unix milliseconds.
    pub created_at: i64,
    /// Unix milliseconds.
    pub expires_at: i64,
}

/// The throttle's rule: `max_failures` wrong passwords within `window_ms` lock the
/// username for `lock_ms`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ThrottleRule {
    /// Failures allowed in a window.
    pub max_failures: i64,
    /// The window, milliseconds.
    pub window_ms: i64,
    /// How long a lock lasts, milliseconds.
    pub lock_ms: i64,
}

struct Failure {
    username: String,
    now: i64,
    rule: ThrottleRule,
}

struct Membership {
    user_id: String,
    company_ids: Vec<String>,
    audit: Vec<NewAudit>,
}

async fn insert_session(conn: &mut AnyConnection, s: &NewSession) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO ui_sessions (token_hash, user_id, company_id, csrf_token, created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(&s.token_hash)
    .bind(&s.user_id)
    .bind(&s.company_id)
    .bind(&s.csrf_token)
    .bind(s.created_at)
    .bind(s.expires_at)
    .execute(&mut *conn)
    .await?;
    // Old sessions of anyone are cleared on the way.
    sqlx::query("DELETE FROM ui_sessions WHERE expires_at < $1")
        .bind(s.created_at)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

async fn set_company(
    conn: &mut AnyConnection,
    (token_hash, company_id): &(String, String),
) -> Result<(), StoreError> {
    let done = sqlx::query(
        "UPDATE ui_sessions SET company_id = $1 WHERE token_hash = $2 AND EXISTS \
         (SELECT 1 FROM user_companies uc WHERE uc.user_id = ui_sessions.user_id AND uc.company_id = $1)",
    )
    .bind(company_id)
    .bind(token_hash)
    .execute(&mut *conn)
    .await?;
    if done.rows_affected() == 0 {
        return Err(StoreError::NotFound);
    }
    // Remembered for the user's next sign-in.
    sqlx::query(
        "UPDATE users SET last_company_id = $1 WHERE id = (SELECT user_id FROM ui_sessions WHERE token_hash = $2)",
    )
    .bind(company_id)
    .bind(token_hash)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

async fn delete_session(conn: &mut AnyConnection, token_hash: &String) -> Result<(), StoreError> {
    sqlx::query("DELETE FROM ui_sessions WHERE token_hash = $1")
        .bind(token_hash)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

async fn record_failure(conn: &mut AnyConnection, f: &Failure) -> Result<Option<i64>, StoreError> {
    let window_start_floor = f.now - f.rule.window_ms;
    // Names tried long ago (often names that do not exist) are forgotten on the way.
    sqlx::query("DELETE FROM login_throttle WHERE window_start < $1 AND locked_until < $2")
        .bind(f.now - 24 * 3600 * 1000)
        .bind(f.now)
        .execute(&mut *conn)
        .await?;
    sqlx::query(
        "INSERT INTO login_throttle (username, failures, window_start, locked_until) VALUES ($1, 1, $2, 0) \
         ON CONFLICT (username) DO UPDATE SET \
         failures = CASE WHEN login_throttle.window_start < $3 THEN 1 ELSE login_throttle.failures + 1 END, \
         window_start = CASE WHEN login_throttle.window_start < $3 THEN $2 ELSE login_throttle.window_start END",
    )
    .bind(&f.username)
    .bind(f.now)
    .bind(window_start_floor)
    .execute(&mut *conn)
    .await?;
    let failures: i64 =
        sqlx::query_scalar("SELECT failures FROM login_throttle WHERE username = $1")
            .bind(&f.username)
            .fetch_one(&mut *conn)
            .await?;
    if failures < f.rule.max_failures {
        return Ok(None);
    }
    let until = f.now + f.rule.lock_ms;
    sqlx::query(
        "UPDATE login_throttle SET failures = 0, window_start = $1, locked_until = $2 WHERE username = $3",
    )
    .bind(f.now)
    .bind(until)
    .bind(&f.username)
    .execute(&mut *conn)
    .await?;
    Ok(Some(until))
}

async fn clear_failures(conn: &mut AnyConnection, username: &String) -> Result<(), StoreError> {
    sqlx::query("DELETE FROM login_throttle WHERE username = $1")
        .bind(username)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

async fn set_memberships(conn: &mut AnyConnection, m: &Membership) -> Result<(), StoreError> {
    sqlx::query("DELETE FROM user_companies WHERE user_id = $1")
        .bind(&m.user_id)
        .execute(&mut *conn)
        .await?;
    for company_id in &m.company_ids {
        sqlx::query("INSERT INTO user_companies (user_id, company_id) VALUES ($1, $2)")
            .bind(&m.user_id)
            .bind(company_id)
            .execute(&mut *conn)
            .await?;
    }
    // A session in a company the user left is over.
    sqlx::query(
        "DELETE FROM ui_sessions WHERE user_id = $1 AND NOT EXISTS \
         (SELECT 1 FROM user_companies uc WHERE uc.user_id = ui_sessions.user_id AND uc.company_id = ui_sessions.company_id)",
    )
    .bind(&m.user_id)
    .execute(&mut *conn)
    .await?;
    for audit in &m.audit {
        append(conn, audit).await?;
    }
    Ok(())
}

struct PosCheck {
    company_id: String,
    pos_id: String,
    error: Option<String>,
    at: i64,
    audit: NewAudit,
}

async fn record_pos_check(conn: &mut AnyConnection, c: &PosCheck) -> Result<(), StoreError> {
    let done =
        match &c.error {
            None => sqlx::query(
                "UPDATE pos_definitions SET last_success_at = $1 WHERE id = $2 AND company_id = $3",
            )
            .bind(c.at)
            .bind(&c.pos_id)
            .bind(&c.company_id)
            .execute(&mut *conn)
            .await?,
            Some(error) => {
                sqlx::query(
                    "UPDATE pos_definitions SET last_error = $1 WHERE id = $2 AND company_id = $3",
                )
                .bind(error)
                .bind(&c.pos_id)
                .bind(&c.company_id)
                .execute(&mut *conn)
                .await?
            }
        };
    if done.rows_affected() == 0 {
        return Err(StoreError::NotFound);
    }
    append(conn, &c.audit).await
}

struct PasswordChange {
    user_id: String,
    username: String,
    password_hash: String,
    audit: Vec<NewAudit>,
}

/// A new password hash; the user's sessions end and their sign-in failures are
/// forgotten (the lockout an operator resets the password for).
async fn change_password(conn: &mut AnyConnection, c: &PasswordChange) -> Result<(), StoreError> {
    let done = sqlx::query("UPDATE users SET password_hash = $1 WHERE id = $2")
        .bind(&c.password_hash)
        .bind(&c.user_id)
        .execute(&mut *conn)
        .await?;
    if done.rows_affected() == 0 {
        return Err(StoreError::NotFound);
    }
    sqlx::query("DELETE FROM ui_sessions WHERE user_id = $1")
        .bind(&c.user_id)
        .execute(&mut *conn)
        .await?;
    clear_failures(conn, &c.username).await?;
    for audit in &c.audit {
        append(conn, audit).await?;
    }
    Ok(())
}

struct UserChange {
    user_id: String,
    role: Role,
    disabled: bool,
    audit: Vec<NewAudit>,
}

async fn change_user(conn: &mut AnyConnection, c: &UserChange) -> Result<(), StoreError> {
    let done = sqlx::query("UPDATE users SET role = $1, disabled = $2 WHERE id = $3")
        .bind(c.role.as_str())
        .bind(c.disabled)
        .bind(&c.user_id)
        .execute(&mut *conn)
        .await?;
    if done.rows_affected() == 0 {
        return Err(StoreError::NotFound);
    }
    if c.disabled {
        sqlx::query("DELETE FROM ui_sessions WHERE user_id = $1")
            .bind(&c.user_id)
            .execute(&mut *conn)
            .await?;
    }
    for audit in &c.audit {
        append(conn, audit).await?;
    }
    Ok(())
}

fn session_from(row: &AnyRow) -> Result<SessionRecord, StoreError> {
    Ok(SessionRecord {
        token_hash: text(row, "token_hash")?,
        user_id: text(row, "user_id")?,
        username: text(row, "username")?,
        role: parsed(row, "role", Role::parse)?,
        company_id: text(row, "company_id")?,
        csrf_token: text(row, "csrf_token")?,
        expires_at: int(row, "expires_at")?,
    })
}

impl Store {
    /// Stores a new session (and drops expired ones).
    pub async fn insert_session(&self, session: NewSession) -> Result<(), StoreError> {
        self.db
            .write(session, |c, d| Box::pin(insert_session(c, d)))
            .await
    }

    /// The live session of a token hash: not expired, its user not disabled and still a
    /// member of the session's company. `None` otherwise.
    pub async fn find_session(
        &self,
        token_hash: &str,
        now: i64,
    ) -> Result<Option<SessionRecord>, StoreError> {
        let row = sqlx::query(
            "SELECT s.token_hash, s.user_id, s.company_id, s.csrf_token, s.expires_at, \
             u.username, u.role, u.disabled FROM ui_sessions s \
             JOIN users u ON u.id = s.user_id \
             JOIN user_companies uc ON uc.user_id = s.user_id AND uc.company_id = s.company_id \
             WHERE s.token_hash = $1 AND s.expires_at > $2",
        )
        .bind(token_hash)
        .bind(now)
        .fetch_optional(&self.db.read)
        .await?;
        let Some(row) = row else { return Ok(None) };
        if boolean(&row, "disabled")? {
            return Ok(None);
        }
        session_from(&row).map(Some)
    }

    /// Moves a session to another of its user's companies; `NotFound` when the user is
    /// not a member of it.
    pub async fn set_session_company(
        &self,
        token_hash: &str,
        company_id: &str,
    ) -> Result<(), StoreError> {
        self.db
            .write((token_hash.to_owned(), company_id.to_owned()), |c, d| {
                Box::pin(set_company(c, d))
            })
            .await
    }

    /// The company a user lands on when signing in: the one they last switched to while
    /// they still belong to it, else their first company by name; `None` for a user of
    /// no company.
    pub async fn sign_in_company(&self, user_id: &str) -> Result<Option<String>, StoreError> {
        Ok(sqlx::query_scalar(
            "SELECT c.id FROM user_companies uc JOIN companies c ON c.id = uc.company_id \
             JOIN users u ON u.id = uc.user_id WHERE uc.user_id = $1 \
             ORDER BY CASE WHEN u.last_company_id = c.id THEN 0 ELSE 1 END, c.name, c.id LIMIT 1",
        )
        .bind(user_id)
        .fetch_optional(&self.db.read)
        .await?)
    }

    /// Ends a session.
    pub async fn delete_session(&self, token_hash: &str) -> Result<(), StoreError> {
        self.db
            .write(token_hash.to_owned(), |c, d| Box::pin(delete_session(c, d)))
            .await
    }

    /// Until when (Unix ms) a username is locked out, if it is now.
    pub async fn login_locked_until(
        &self,
        username: &str,
        now: i64,
    ) -> Result<Option<i64>, StoreError> {
        let until: Option<i64> =
            sqlx::query_scalar("SELECT locked_until FROM login_throttle WHERE username = $1")
                .bind(username)
                .fetch_optional(&self.db.read)
                .await?;
        Ok(until.filter(|until| *until > now))
    }

    /// Counts a wrong password; answers the end of the lock when this one locked the
    /// username.
    pub async fn record_login_failure(
        &self,
        username: &str,
        now: i64,
        rule: ThrottleRule,
    ) -> Result<Option<i64>, StoreError> {
        let failure = Failure {
            username: username.to_owned(),
            now,
            rule,
        };
        self.db
            .write(failure, |c, d| Box::pin(record_failure(c, d)))
            .await
    }

    /// Forgets a username's failures (after a successful sign-in).
    pub async fn clear_login_failures(&self, username: &str) -> Result<(), StoreError> {
        self.db
            .write(username.to_owned(), |c, d| Box::pin(clear_failures(c, d)))
            .await
    }

    /// A user by id (disabled ones too; the flag is the second value).
    pub async fn get_user(&self, user_id: &str) -> Result<Option<(User, bool)>, StoreError> {
        let row = sqlx::query("SELECT * FROM users WHERE id = $1")
            .bind(user_id)
            .fetch_optional(&self.db.read)
            .await?;
        let Some(row) = row else { return Ok(None) };
        let company_ids = self.user_company_ids(user_id).await?;
        let user = User {
            id: text(&row, "id")?,
            username: text(&row, "username")?,
            role: parsed(&row, "role", Role::parse)?,
            company_ids,
            created_at: int(&row, "created_at")?,
        };
        Ok(Some((user, boolean(&row, "disabled")?)))
    }

    async fn user_company_ids(&self, user_id: &str) -> Result<Vec<String>, StoreError> {
        Ok(sqlx::query_scalar(
            "SELECT company_id FROM user_companies WHERE user_id = $1 ORDER BY company_id",
        )
        .bind(user_id)
        .fetch_all(&self.db.read)
        .await?)
    }

    /// The users who are members of a company, by username, each with whether it is
    /// disabled.
    pub async fn list_company_users(
        &self,
        company_id: &str,
    ) -> Result<Vec<(User, bool)>, StoreError> {
        let rows = sqlx::query(
            "SELECT u.* FROM users u JOIN user_companies uc ON uc.user_id = u.id \
             WHERE uc.company_id = $1 ORDER BY u.username",
        )
        .bind(company_id)
        .fetch_all(&self.db.read)
        .await?;
        let mut users = Vec::with_capacity(rows.len());
        for row in &rows {
            let id = text(row, "id")?;
            let user = User {
                company_ids: self.user_company_ids(&id).await?,
                id,
                username: text(row, "username")?,
                role: parsed(row, "role", Role::parse)?,
                created_at: int(row, "created_at")?,
            };
            users.push((user, boolean(row, "disabled")?));
        }
        Ok(users)
    }

    /// Records a POS connection test: its last success or last error, and the audit
    /// event, together.
    pub async fn record_pos_check(
        &self,
        company_id: &str,
        pos_id: &str,
        error: Option<String>,
        audit: NewAudit,
    ) -> Result<(), StoreError> {
        let chains = vec![audit.company_id.clone()];
        let check = PosCheck {
            company_id: company_id.to_owned(),
            pos_id: pos_id.to_owned(),
            error,
            at: crate::now_ms(),
            audit,
        };
        self.db
            .write_for(chains, check, |c, d| Box::pin(record_pos_check(c, d)))
            .await
    }

    /// Sets a user's role and whether they are disabled (a disabled user's sessions
    /// end), with audit events.
    pub async fn set_user_role(
        &self,
        user_id: &str,
        role: Role,
        disabled: bool,
        audit: Vec<NewAudit>,
    ) -> Result<(), StoreError> {
        let chains: Vec<String> = audit.iter().map(|a| a.company_id.clone()).collect();
        let change = UserChange {
            user_id: user_id.to_owned(),
            role,
            disabled,
            audit,
        };
        self.db
            .write_for(chains, change, |c, d| Box::pin(change_user(c, d)))
            .await
    }

    /// Replaces a user's password hash (argon2id), ends their sessions and forgets
    /// their sign-in failures, with audit events, in one transaction.
    pub async fn set_user_password(
        &self,
        user_id: &str,
        username: &str,
        password_hash: String,
        audit: Vec<NewAudit>,
    ) -> Result<(), StoreError> {
        let chains: Vec<String> = audit.iter().map(|a| a.company_id.clone()).collect();
        let change = PasswordChange {
            user_id: user_id.to_owned(),
            username: username.to_owned(),
            password_hash,
            audit,
        };
        self.db
            .write_for(chains, change, |c, d| Box::pin(change_password(c, d)))
            .await
    }

    /// Replaces a user's companies (sessions in a company they leave end), with audit
    /// events.
    pub async fn set_user_companies(
        &self,
        user_id: &str,
        company_ids: Vec<String>,
        audit: Vec<NewAudit>,
    ) -> Result<(), StoreError> {
        let chains: Vec<String> = audit.iter().map(|a| a.company_id.clone()).collect();
        let m = Membership {
            user_id: user_id.to_owned(),
            company_ids,
            audit,
        };
        self.db
            .write_for(chains, m, |c, d| Box::pin(set_memberships(c, d)))
            .await
    }
}
