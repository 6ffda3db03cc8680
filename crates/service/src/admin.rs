//! Companies, POS definitions, API keys and users.

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use rand::distr::{Alphanumeric, SampleString};
use serde_json::json;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use sanalpos_core::{Currency, Secret};
use sanalpos_store::{
    empty_checklist, new_id, now_ms, ApiKey, Company, NewAudit, OnboardingState, PosRecord, User,
};

use crate::error::ServiceError;
use crate::gateways::StoredCredentials;
use crate::types::{
    rfc3339, ApiCaller, ApiKeyView, MaskedCredentials, NewPos, PosChange, PosView, UserView,
};
use crate::{PaymentService, Role};

/// API keys start with this.
pub(crate) const KEY_PREFIX: &str = "sk_live_";
/// Random characters after the prefix.
const KEY_RANDOM_LEN: usize = 32;
/// Characters of the key stored in clear for lookup: the prefix and 8 random ones.
const KEY_LOOKUP_LEN: usize = KEY_PREFIX.len() + 8;

fn audit(
    company_id: &str,
    kind: &str,
    actor: &str,
    subject_id: &str,
    data: serde_json::Value,
) -> NewAudit {
    NewAudit {
        company_id: company_id.to_owned(),
        kind: kind.to_owned(),
        actor: actor.to_owned(),
        subject_id: subject_id.to_owned(),
        data,
    }
}

pub(crate) async fn create_company(
    service: &PaymentService,
    name: &str,
    actor: &str,
) -> Result<Company, ServiceError> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 200 {
        return Err(ServiceError::validation(
            "name",
            "a company name is 1 to 200 characters",
        ));
    }
    let company = Company {
        id: new_id("cmp"),
        name: name.to_owned(),
        created_at: now_ms(),
    };
    let event = audit(
        &company.id,
        "company.created",
        actor,
        &company.id,
        json!({ "name": name }),
    );
    service
        .inner
        .store
        .insert_company(company.clone(), event)
        .await?;
    Ok(company)
}

fn check_pos_fields(pos: &PosRecord) -> Result<(), ServiceError> {
    if pos.name.trim().is_empty() {
        return Err(ServiceError::validation("name", "a POS needs a name"));
    }
    if pos.provider != "nkolay" {
        return Err(ServiceError::validation(
            "provider",
            "the only provider is \"nkolay\"",
        ));
    }
    if !(pos.base_url.starts_with("http://") || pos.base_url.starts_with("https://")) {
        return Err(ServiceError::validation(
            "base_url",
            "an absolute http(s) URL",
        ));
    }
    if pos.currencies.is_empty() {
        return Err(ServiceError::validation(
            "currencies",
            "at least one currency",
        ));
    }
    if !pos.installments.iter().any(|row| row.count == 1) {
        return Err(ServiceError::validation(
            "installments",
            "the installment table must allow a single payment (count 1)",
        ));
    }
    if pos
        .installments
        .iter()
        .any(|row| row.count == 0 || row.count > 36)
    {
        return Err(ServiceError::validation(
            "installments",
            "installment counts are 1 to 36",
        ));
    }
    Ok(())
}

fn check_credentials(c: &StoredCredentials) -> Result<(), ServiceError> {
    for (field, value) in [
        ("credentials.sx", &c.sx),
        ("credentials.sx_list", &c.sx_list),
        ("credentials.sx_cancel", &c.sx_cancel),
        ("credentials.secret_key", &c.secret_key),
    ] {
        if value.trim().is_empty() {
            return Err(ServiceError::validation(field, "required"));
        }
    }
    Ok(())
}

pub(crate) async fn create_pos(
    service: &PaymentService,
    company_id: &str,
    new: NewPos,
    actor: &str,
) -> Result<PosView, ServiceError> {
    service.inner.store.get_company(company_id).await?;
    let credentials = StoredCredentials::from_input(&new.credentials);
    check_credentials(&credentials)?;
    let now = now_ms();
    let mut currencies = new.currencies.clone();
    currencies.dedup();
    let pos = PosRecord {
        id: new_id("pos"),
        company_id: company_id.to_owned(),
        name: new.name.trim().to_owned(),
        provider: new.provider.clone(),
        environment: new.environment,
        base_url: new.base_url.trim().to_owned(),
        credentials_enc: credentials.encrypt(&service.inner.crypto)?,
        auto_complete: new.auto_complete,
        currencies,
        installments: new.installments.clone(),
        onboarding_state: new.onboarding_state,
        documents: if new.documents.is_empty() {
            empty_checklist()
        } else {
            new.documents.clone()
        },
        is_default: new.is_default,
        version: 1,
        last_success_at: None,
        last_error: None,
        created_at: now,
        updated_at: now,
    };
    check_pos_fields(&pos)?;
    let event = audit(
        company_id,
        "pos.created",
        actor,
        &pos.id,
        json!({
            "name": pos.name,
            "environment": pos.environment,
            "base_url": pos.base_url,
            "onboarding_state": pos.onboarding_state,
            "is_default": pos.is_default,
        }),
    );
    service.inner.store.insert_pos(pos.clone(), event).await?;
    pos_view(service, &pos)
}

pub(crate) async fn update_pos(
    service: &PaymentService,
    company_id: &str,
    pos_id: &str,
    change: PosChange,
    actor: &str,
) -> Result<PosView, ServiceError> {
    let mut pos = service.inner.store.get_pos(company_id, pos_id).await?;
    let mut changed: Vec<&str> = Vec::new();
    if let Some(name) = change.name {
        pos.name = name.trim().to_owned();
        changed.push("name");
    }
    if let Some(environment) = change.environment {
        pos.environment = environment;
        changed.push("environment");
    }
    if let Some(base_url) = change.base_url {
        pos.base_url = base_url.trim().to_owned();
        changed.push("base_url");
    }
    if let Some(credentials) = &change.credentials {
        let stored = StoredCredentials::from_input(credentials);
        check_credentials(&stored)?;
        pos.credentials_enc = stored.encrypt(&service.inner.crypto)?;
        changed.push("credentials");
    }
    if let Some(auto_complete) = change.auto_complete {
        pos.auto_complete = auto_complete;
        changed.push("auto_complete");
    }
    if let Some(mut currencies) = change.currencies {
        currencies.dedup();
        pos.currencies = currencies;
        changed.push("currencies");
    }
    if let Some(installments) = change.installments {
        pos.installments = installments;
        changed.push("installments");
    }
    if let Some(state) = change.onboarding_state {
        pos.onboarding_state = state;
        changed.push("onboarding_state");
    }
    if let Some(documents) = change.documents {
        pos.documents = documents;
        changed.push("documents");
    }
    if let Some(is_default) = change.is_default {
        pos.is_default = is_default;
        changed.push("is_default");
    }
    check_pos_fields(&pos)?;
    pos.updated_at = now_ms();
    let kind = if changed.contains(&"credentials") {
        "pos.credentials_changed"
    } else {
        "pos.updated"
    };
    let event = audit(
        company_id,
        kind,
        actor,
        pos_id,
        json!({
            "changed": changed,
            "environment": pos.environment,
            "base_url": pos.base_url,
            "onboarding_state": pos.onboarding_state,
            "is_default": pos.is_default,
            "auto_complete": pos.auto_complete,
        }),
    );
    let updated = service.inner.store.update_pos(pos, event).await?;
    pos_view(service, &updated)
}

pub(crate) fn pos_view(service: &PaymentService, pos: &PosRecord) -> Result<PosView, ServiceError> {
    let credentials = match StoredCredentials::decrypt(&service.inner.crypto, &pos.credentials_enc)
    {
        Ok(c) => MaskedCredentials {
            sx: Secret::new(c.sx.clone()).masked(),
            sx_list: Secret::new(c.sx_list.clone()).masked(),
            sx_cancel: Secret::new(c.sx_cancel.clone()).masked(),
            secret_key: Secret::new(c.secret_key.clone()).masked(),
        },
        Err(_) => {
            let unreadable = "(cannot be decrypted with this master key)".to_owned();
            MaskedCredentials {
                sx: unreadable.clone(),
                sx_list: unreadable.clone(),
                sx_cancel: unreadable.clone(),
                secret_key: unreadable,
            }
        }
    };
    Ok(PosView {
        id: pos.id.clone(),
        company_id: pos.company_id.clone(),
        name: pos.name.clone(),
        provider: pos.provider.clone(),
        environment: pos.environment,
        base_url: pos.base_url.clone(),
        credentials,
        auto_complete: pos.auto_complete,
        currencies: pos.currencies.clone(),
        installments: pos.installments.clone(),
        onboarding_state: pos.onboarding_state,
        documents: pos.documents.clone(),
        is_default: pos.is_default,
        version: pos.version,
        last_success_at: pos.last_success_at.map(rfc3339),
        last_error: pos.last_error.clone(),
        created_at: rfc3339(pos.created_at),
        updated_at: rfc3339(pos.updated_at),
    })
}

/// Whether a POS may charge in a currency.
pub(crate) fn pos_can_charge(pos: &PosRecord, currency: Currency) -> bool {
    pos.onboarding_state == OnboardingState::Active && pos.currencies.contains(&currency)
}

fn key_hash(key: &str) -> String {
    hex_encode(&Sha256::digest(key.as_bytes()))
}

fn hex_encode(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

pub(crate) async fn create_api_key(
    service: &PaymentService,
    company_id: &str,
    name: &str,
    actor: &str,
) -> Result<(ApiKeyView, String), ServiceError> {
    service.inner.store.get_company(company_id).await?;
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(ServiceError::validation(
            "name",
            "a key name is 1 to 100 characters",
        ));
    }
    let secret = format!(
        "{KEY_PREFIX}{}",
        Alphanumeric.sample_string(&mut rand::rng(), KEY_RANDOM_LEN)
    );
    let key = ApiKey {
        id: new_id("key"),
        company_id: company_id.to_owned(),
        name: name.to_owned(),
        prefix: secret[..KEY_LOOKUP_LEN].to_owned(),
        created_at: now_ms(),
        revoked_at: None,
    };
    let event = audit(
        company_id,
        "api_key.created",
        actor,
        &key.id,
        json!({ "name": key.name, "prefix": key.prefix }),
    );
    service
        .inner
        .store
        .insert_api_key(key.clone(), key_hash(&secret), event)
        .await?;
    Ok((ApiKeyView::from(&key), secret))
}

pub(crate) async fn revoke_api_key(
    service: &PaymentService,
    company_id: &str,
    key_id: &str,
    actor: &str,
) -> Result<(), ServiceError> {
    let event = audit(company_id, "api_key.revoked", actor, key_id, json!({}));
    Ok(service
        .inner
        .store
        .revoke_api_key(company_id, key_id, event)
        .await?)
}

pub(crate) async fn authenticate(
    service: &PaymentService,
    api_key: &str,
) -> Result<Option<ApiCaller>, ServiceError> {
    let api_key = api_key.trim();
    if api_key.len() != KEY_PREFIX.len() + KEY_RANDOM_LEN
        || !api_key.starts_with(KEY_PREFIX)
        || !api_key[KEY_PREFIX.len()..]
            .bytes()
            .all(|b| b.is_ascii_alphanumeric())
    {
        return Ok(None);
    }
    let Some((key, stored_hash)) = service
        .inner
        .store
        .find_api_key(&api_key[..KEY_LOOKUP_LEN])
        .await?
    else {
        return Ok(None);
    };
    let matches: bool = key_hash(api_key)
        .as_bytes()
        .ct_eq(stored_hash.as_bytes())
        .into();
    if !matches || key.revoked_at.is_some() {
        return Ok(None);
    }
    Ok(Some(ApiCaller {
        company_id: key.company_id,
        key_id: key.id,
    }))
}

pub(crate) async fn create_user(
    service: &PaymentService,
    username: &str,
    password: &str,
    role: Role,
    company_ids: &[String],
    actor: &str,
) -> Result<UserView, ServiceError> {
    let username = username.trim();
    if username.is_empty()
        || username.len() > 64
        || !username
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-@".contains(&b))
    {
        return Err(ServiceError::validation(
            "username",
            "1 to 64 characters: letters, digits, . _ - @",
        ));
    }
    if password.chars().count() < 10 {
        return Err(ServiceError::validation(
            "password",
            "at least 10 characters",
        ));
    }
    if company_ids.is_empty() {
        return Err(ServiceError::validation(
            "company_ids",
            "at least one company",
        ));
    }
    for company_id in company_ids {
        service.inner.store.get_company(company_id).await?;
    }
    let hash = hash_password(password)?;
    let user = User {
        id: new_id("usr"),
        username: username.to_owned(),
        role,
        company_ids: company_ids.to_vec(),
        created_at: now_ms(),
    };
    let events = company_ids
        .iter()
        .map(|company_id| {
            audit(
                company_id,
                "user.created",
                actor,
                &user.id,
                json!({ "username": user.username, "role": role }),
            )
        })
        .collect();
    service
        .inner
        .store
        .insert_user(user.clone(), hash, events)
        .await?;
    Ok(UserView::from(&user))
}

fn hash_password(password: &str) -> Result<String, ServiceError> {
    let mut salt = [0u8; 16];
    rand::RngCore::fill_bytes(&mut rand::rng(), &mut salt);
    let salt = SaltString::encode_b64(&salt)
        .map_err(|e| ServiceError::Storage(format!("password salt: {e}")))?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| ServiceError::Storage(format!("password hash: {e}")))
}

pub(crate) async fn login(
    service: &PaymentService,
    username: &str,
    password: &str,
) -> Result<UserView, ServiceError> {
    let found = service.inner.store.find_user(username.trim()).await?;
    let Some((user, hash)) = found else {
        // Spend the same time as a real check, so timing does not reveal usernames.
        let _ = hash_password(password);
        return Err(ServiceError::Unauthorized);
    };
    let parsed = PasswordHash::new(&hash)
        .map_err(|_| ServiceError::Storage("stored password hash is unreadable".into()))?;
    Argon2::default()
        .verify_password(password.as_bytes(), &parsed)
        .map_err(|_| ServiceError::Unauthorized)?;
    Ok(UserView::from(&user))
}
