//! Companies, POS definitions, API keys and users.

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use rand::distr::{Alphanumeric, SampleString};
use serde_json::json;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use sanalpos_core::Currency;
use sanalpos_gateway::protocol::{validate, FieldKind};
use sanalpos_gateway::Settings;
use sanalpos_store::{
    empty_checklist, new_id, ApiKey, Company, NewAudit, OnboardingState, PosRecord, User,
};

use crate::error::ServiceError;
use crate::gateways::{environment, open, protocol_of, seal};
use crate::settings_cache::KeptKey;
use crate::types::{
    rfc3339, ApiCaller, ApiKeyView, NewPos, PosChange, PosView, SaleCaller, ShownSetting, UserView,
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
        created_at: service.now_ms(),
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
    if pos.currencies.is_empty() {
        return Err(ServiceError::validation(
            "currencies",
            "at least one currency",
        ));
    }
    if !crate::pre_auth::HOLD_DAYS.contains(&pos.pre_auth_hold_days) {
        return Err(ServiceError::validation(
            "pre_auth_hold_days",
            "a pre-authorisation is held 1 to 30 days",
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

/// Checks a settings document against its protocol's description; an error names the
/// field as `settings.<name>`.
fn check_settings(
    protocol: &str,
    settings: &Settings,
    env: sanalpos_store::Environment,
) -> Result<(), ServiceError> {
    let protocol = protocol_of(protocol).map_err(|_| {
        ServiceError::validation("protocol", "not a protocol this installation speaks")
    })?;
    validate(protocol, settings, environment(env))
        .map_err(|e| ServiceError::validation(format!("settings.{}", e.field), e.message.en))
}

pub(crate) async fn create_pos(
    service: &PaymentService,
    company_id: &str,
    new: NewPos,
    actor: &str,
) -> Result<PosView, ServiceError> {
    service.inner.store.get_company(company_id).await?;
    check_settings(&new.protocol, &new.settings, new.environment)?;
    let now = service.now_ms();
    let mut currencies = new.currencies.clone();
    currencies.dedup();
    let pos = PosRecord {
        id: new_id("pos"),
        company_id: company_id.to_owned(),
        name: new.name.trim().to_owned(),
        protocol: new.protocol.clone(),
        environment: new.environment,
        settings_enc: seal(&service.inner.crypto, &new.settings)?,
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
        pre_auth_hold_days: new
            .pre_auth_hold_days
            .unwrap_or(crate::pre_auth::DEFAULT_HOLD_DAYS),
    };
    check_pos_fields(&pos)?;
    let event = audit(
        company_id,
        "pos.created",
        actor,
        &pos.id,
        json!({
            "name": pos.name,
            "protocol": pos.protocol,
            "environment": pos.environment,
            "settings": public_settings(&pos.protocol, &new.settings),
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
    let old_settings = open(&service.inner.crypto, &pos.settings_enc)?;
    let mut settings = old_settings.clone();
    let mut secrets_changed = false;
    if let Some(change) = &change.settings {
        let info = protocol_of(&pos.protocol)?.info();
        settings = change.clone();
        for field in info.fields.iter().filter(|f| f.kind == FieldKind::Secret) {
            match (change.get(field.name), old_settings.get(field.name)) {
                (None, Some(old)) => settings.set(field.name, old),
                (Some(new), old) if old != Some(new) => secrets_changed = true,
                _ => {}
            }
        }
        if secrets_changed {
            changed.push("credentials");
        }
        let public_changed = info
            .fields
            .iter()
            .filter(|f| f.kind != FieldKind::Secret)
            .any(|f| settings.get(f.name) != old_settings.get(f.name));
        if public_changed {
            changed.push("settings");
        }
    }
    check_settings(&pos.protocol, &settings, pos.environment)?;
    pos.settings_enc = seal(&service.inner.crypto, &settings)?;
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
    if let Some(days) = change.pre_auth_hold_days {
        if days != pos.pre_auth_hold_days {
            pos.pre_auth_hold_days = days;
            changed.push("pre_auth_hold_days");
        }
    }
    check_pos_fields(&pos)?;
    pos.updated_at = service.now_ms();
    let kind = if secrets_changed {
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
            "settings": public_settings(&pos.protocol, &settings),
            "onboarding_state": pos.onboarding_state,
            "is_default": pos.is_default,
        }),
    );
    let updated = service.inner.store.update_pos(pos, event).await?;
    pos_view(service, &updated)
}

/// The settings that are not secrets, for the audit trail.
fn public_settings(protocol: &str, settings: &Settings) -> serde_json::Value {
    let Ok(protocol) = protocol_of(protocol) else {
        return json!({});
    };
    let info = protocol.info();
    settings
        .iter()
        .filter(|(name, _)| {
            info.field(name)
                .is_some_and(|f| f.kind != FieldKind::Secret)
        })
        .map(|(name, value)| (name.to_owned(), json!(value)))
        .collect::<serde_json::Map<_, _>>()
        .into()
}

pub(crate) fn pos_view(service: &PaymentService, pos: &PosRecord) -> Result<PosView, ServiceError> {
    let info = protocol_of(&pos.protocol)?.info();
    let settings = open(&service.inner.crypto, &pos.settings_enc).ok();
    let bank = settings.as_ref().and_then(|s| info.bank_of(s));
    let shown = settings
        .as_ref()
        .map(|s| {
            s.shown(info)
                .into_iter()
                .map(|(field, value)| ShownSetting {
                    name: field.name.to_owned(),
                    value,
                    secret: field.kind == FieldKind::Secret,
                })
                .collect()
        })
        .unwrap_or_default();
    Ok(PosView {
        id: pos.id.clone(),
        company_id: pos.company_id.clone(),
        name: pos.name.clone(),
        protocol: pos.protocol.clone(),
        bank: bank.map(|b| b.id.to_owned()),
        bank_name: bank.map(|b| b.name.to_owned()),
        environment: pos.environment,
        settings: shown,
        settings_readable: settings.is_some(),
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
        pre_auth: info.capabilities.pre_auth,
        card_storage: info.capabilities.card_storage,
        pre_auth_hold_days: pos.pre_auth_hold_days,
    })
}

/// Whether a POS may charge in a currency.
pub(crate) fn pos_can_charge(pos: &PosRecord, currency: Currency) -> bool {
    pos.onboarding_state == OnboardingState::Active && pos.currencies.contains(&currency)
}

fn key_hash(key: &str) -> String {
    hex::encode(Sha256::digest(key.as_bytes()))
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
        created_at: service.now_ms(),
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

/// The lookup prefix and the hash of a presented API key (spaces around it trimmed),
/// when it is well-formed; `None` for anything else.
fn presented_key(api_key: &str) -> Option<(&str, String)> {
    let api_key = api_key.trim();
    let well_formed = api_key.len() == KEY_PREFIX.len() + KEY_RANDOM_LEN
        && api_key.starts_with(KEY_PREFIX)
        && api_key[KEY_PREFIX.len()..]
            .bytes()
            .all(|b| b.is_ascii_alphanumeric());
    well_formed.then(|| (&api_key[..KEY_LOOKUP_LEN], key_hash(api_key)))
}

/// Whether a stored hash is the presented key's (in constant time).
fn same_hash(stored: &str, presented: &str) -> bool {
    stored.as_bytes().ct_eq(presented.as_bytes()).into()
}

/// A stored key found by its prefix, when it is unrevoked and its hash is `presented`.
fn matching(found: Option<(ApiKey, String)>, presented: &str) -> Option<KeptKey> {
    let (key, key_hash) = found?;
    if !same_hash(&key_hash, presented) || key.revoked_at.is_some() {
        return None;
    }
    Some(KeptKey {
        caller: ApiCaller {
            company_id: key.company_id,
            key_id: key.id,
        },
        key_hash,
    })
}

/// The stored, unrevoked key with `prefix` whose hash is `presented`.
async fn stored_key(
    service: &PaymentService,
    prefix: &str,
    presented: &str,
) -> Result<Option<KeptKey>, ServiceError> {
    let found = service.inner.store.find_api_key(prefix).await?;
    Ok(matching(found, presented))
}

pub(crate) async fn authenticate(
    service: &PaymentService,
    api_key: &str,
) -> Result<Option<ApiCaller>, ServiceError> {
    let Some((prefix, presented)) = presented_key(api_key) else {
        return Ok(None);
    };
    let key = stored_key(service, prefix, &presented).await?;
    Ok(key.map(|key| key.caller))
}

/// The caller of a sale, from the kept keys when the key is there (no read), else read
/// and kept; the sale confirms it with the epoch it reads before writing.
pub(crate) async fn authenticate_sale(
    service: &PaymentService,
    api_key: &str,
) -> Result<Option<SaleCaller>, ServiceError> {
    let Some((prefix, presented)) = presented_key(api_key) else {
        return Ok(None);
    };
    let kept = &service.inner.settings;
    if let Some((key, label)) = kept.key(prefix) {
        if same_hash(&key.key_hash, &presented) {
            return Ok(Some(SaleCaller::new(key.caller, prefix, presented, label)));
        }
    }
    // The key and the epoch in one statement: an unknown key costs one read, as on
    // every other route.
    let Some((key, key_hash, label)) = service.inner.store.find_api_key_at_epoch(prefix).await?
    else {
        return Ok(None);
    };
    let Some(key) = matching(Some((key, key_hash)), &presented) else {
        return Ok(None);
    };
    kept.keep_key(prefix, key.clone(), label);
    Ok(Some(SaleCaller::new(key.caller, prefix, presented, label)))
}

/// Confirms a sale's caller against the settings epoch `epoch` read after it was
/// authenticated: nothing to do while the epoch is its label; otherwise the key is read
/// again, and a key revoked (or gone) since is [`ServiceError::Unauthorized`].
pub(crate) async fn confirm_sale_caller(
    service: &PaymentService,
    caller: &SaleCaller,
    epoch: i64,
) -> Result<(), ServiceError> {
    service.inner.settings.saw(epoch);
    if caller.label == epoch {
        return Ok(());
    }
    match stored_key(service, &caller.prefix, &caller.presented).await? {
        Some(key) if key.caller == caller.caller => {
            service.inner.settings.keep_key(&caller.prefix, key, epoch);
            Ok(())
        }
        _ => Err(ServiceError::Unauthorized),
    }
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
        created_at: service.now_ms(),
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

/// Gives an active user a new password (an operator's reset): their sessions end, a
/// lockout from wrong passwords is lifted, and every company of theirs audits it.
pub(crate) async fn set_password(
    service: &PaymentService,
    username: &str,
    password: &str,
    actor: &str,
) -> Result<UserView, ServiceError> {
    if password.chars().count() < 10 {
        return Err(ServiceError::validation(
            "password",
            "at least 10 characters",
        ));
    }
    let store = &service.inner.store;
    let Some((user, _)) = store.find_user(username.trim()).await? else {
        return Err(ServiceError::NotFound);
    };
    let hash = hash_password(password)?;
    let events = user
        .company_ids
        .iter()
        .map(|company_id| {
            audit(
                company_id,
                "user.password_set",
                actor,
                &user.id,
                json!({ "username": user.username }),
            )
        })
        .collect();
    store
        .set_user_password(&user.id, &user.username, hash, events)
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
