//! Back-office sign-in: the password check, a per-username throttle kept in the
//! database (so it holds across instances), and sessions.
//!
//! A session is known by a random token the browser keeps in a cookie; the database
//! keeps only the token's SHA-256, so a copy of the database opens no session.

use serde_json::json;
use sha2::{Digest, Sha256};

use sanalpos_store::{new_token, NewAudit, NewSession, SessionRecord, ThrottleRule};

use crate::{PaymentService, ServiceError, UserView};

/// How long a session lasts: a working day.
pub const SESSION_SECS: i64 = 10 * 3600;

/// Five wrong passwords within 15 minutes lock the username for 15 minutes.
const SIGN_IN_THROTTLE: ThrottleRule = ThrottleRule {
    max_failures: 5,
    window_ms: 15 * 60 * 1000,
    lock_ms: 15 * 60 * 1000,
};

/// What a sign-in ended in.
#[derive(Debug)]
pub enum SignIn {
    /// The password was right: a new session.
    Started(SignedIn),
    /// Wrong username or password (or a user with no company); the failure is counted.
    Refused,
    /// Too many failures: the username is locked for a while, whatever the password.
    Locked,
}

/// A started session.
pub struct SignedIn {
    /// The session token for the cookie; shown once, stored only as its hash.
    pub token: String,
    /// Who signed in.
    pub user: UserView,
    /// The company the session starts in: the user's last one, else the first by name.
    pub company_id: String,
}

impl std::fmt::Debug for SignedIn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SignedIn")
            .field("user", &self.user.username)
            .field("company_id", &self.company_id)
            .finish_non_exhaustive()
    }
}

/// The hash under which a session token is stored (SHA-256, hex).
pub fn session_token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

impl PaymentService {
    /// Checks a username and password under the throttle and, when right, starts a
    /// session (audited as `user.signed_in`) in the user's last company.
    pub async fn sign_in(&self, username: &str, password: &str) -> Result<SignIn, ServiceError> {
        let store = &self.inner.store;
        let now = self.now_ms();
        if store.login_locked_until(username, now).await?.is_some() {
            return Ok(SignIn::Locked);
        }
        let user = match self.login(username, password).await {
            Ok(user) => user,
            Err(ServiceError::Unauthorized) => {
                tracing::info!(user = %username, "back office sign-in refused");
                let locked = store
                    .record_login_failure(username, now, SIGN_IN_THROTTLE)
                    .await?;
                return Ok(if locked.is_some() {
                    SignIn::Locked
                } else {
                    SignIn::Refused
                });
            }
            Err(e) => return Err(e),
        };
        let Some(company_id) = store.sign_in_company(&user.id).await? else {
            return Ok(SignIn::Refused);
        };
        let token = new_token();
        store.clear_login_failures(username).await?;
        store
            .insert_session(NewSession {
                token_hash: session_token_hash(&token),
                user_id: user.id.clone(),
                company_id: company_id.clone(),
                csrf_token: new_token(),
                created_at: now,
                expires_at: now + SESSION_SECS * 1000,
            })
            .await?;
        store
            .append_audit(NewAudit {
                company_id: company_id.clone(),
                kind: "user.signed_in".into(),
                actor: format!("user:{}", user.username),
                subject_id: user.id.clone(),
                data: json!({}),
            })
            .await?;
        Ok(SignIn::Started(SignedIn {
            token,
            user,
            company_id,
        }))
    }

    /// The live session of a cookie's token: not expired, its user not disabled and
    /// still a member of the session's company.
    pub async fn find_session(&self, token: &str) -> Result<Option<SessionRecord>, ServiceError> {
        Ok(self
            .inner
            .store
            .find_session(&session_token_hash(token), self.now_ms())
            .await?)
    }

    /// Ends a session.
    pub async fn sign_out(&self, session: &SessionRecord) -> Result<(), ServiceError> {
        Ok(self.inner.store.delete_session(&session.token_hash).await?)
    }

    /// Moves a session to another of its user's companies (remembered as the user's last
    /// company); [`ServiceError::NotFound`] when the company is not one of theirs.
    pub async fn switch_company(
        &self,
        session: &SessionRecord,
        company_id: &str,
    ) -> Result<(), ServiceError> {
        Ok(self
            .inner
            .store
            .set_session_company(&session.token_hash, company_id)
            .await?)
    }
}
