//! Checkout sessions: the hosted payment page's side of the service.
//!
//! A shop creates a session (an order's fixed amount, or an account payment between
//! limits: a payment link); the cardholder pays on our page; the page's payment is
//! written with the claim of the session in one transaction (paid at most once, see
//! the store); the browser goes back to the shop with a signed return.
//!
//! The signed return: `return_url` gets `session_id`, `payment_id`, `status`, `t` (Unix
//! seconds) and `signature` = hex HMAC-SHA256, under the session's `return_secret`
//! (given to the shop once, when it creates the session), of
//! `"<t>.<session_id>.<payment_id>.<status>"`.

use sanalpos_core::fields::optional_text;
use sanalpos_core::{OrderRef, ReturnUrl};

use crate::payments::check_refs;
use std::time::Duration;

use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use subtle::ConstantTimeEq;

use sanalpos_core::{Currency, Kurus};
use sanalpos_gateway::InstallmentOption;
use sanalpos_store::{
    new_id, new_token, Channel, CheckoutSessionRecord, SessionPurpose, SessionStatus,
};

use crate::admin::pos_can_charge;
use crate::error::ServiceError;
use crate::payments::{create_payment_for, gateway_for, KeyUse, Made};
use crate::types::{rfc3339, Actor, CardInput, CreatePayment, PaymentView};
use crate::PaymentService;

/// Longest a session may stay open (payment links): 90 days.
pub const MAX_SESSION_TTL: Duration = Duration::from_secs(90 * 24 * 3600);
/// Default life of an order session: 30 minutes.
pub const DEFAULT_ORDER_TTL: Duration = Duration::from_secs(30 * 60);
/// Default life of an account session (payment link): 7 days.
pub const DEFAULT_ACCOUNT_TTL: Duration = Duration::from_secs(7 * 24 * 3600);

/// A request for a checkout session.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct NewCheckoutSession {
    /// `order` or `account`.
    pub purpose: String,
    /// The order's amount (order).
    pub amount: Option<Kurus>,
    /// The least the cardholder may pay (account).
    pub min_amount: Option<Kurus>,
    /// The most the cardholder may pay (account).
    pub max_amount: Option<Kurus>,
    /// `TRY` when absent.
    pub currency: Option<Currency>,
    /// Order (sipariş) reference.
    pub order_ref: Option<String>,
    /// Customer account (cari) reference.
    pub customer_ref: Option<String>,
    /// Shown on the page.
    pub description: Option<String>,
    /// Where the browser goes back to (required for orders).
    pub return_url: Option<String>,
    /// The most installments offered (1 to 12, default 12).
    pub max_installments: Option<u8>,
    /// `tr` (default) or `en`.
    pub language: Option<String>,
    /// Seconds until the session expires (1 s to 90 days).
    pub expires_in: Option<u64>,
    /// Offer the customer's stored cards on the page and let them keep the card they
    /// type ("Kartımı kaydet"); needs `customer_ref`.
    pub stored_cards: bool,
}

/// A session as the API shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[schema(as = CheckoutSession)]
pub struct CheckoutSessionView {
    /// `cs_…`.
    pub id: String,
    /// The hosted page: send the cardholder here (or send it as a payment link).
    pub url: String,
    /// RFC 3339.
    pub expires_at: String,
    /// `order` or `account`.
    #[schema(value_type = sanalpos_store::SessionPurpose)]
    pub purpose: &'static str,
    /// `open`, `completed`, `expired` or `locked` (too many unsuccessful attempts;
    /// the owner reopens it).
    #[schema(value_type = sanalpos_store::SessionState)]
    pub status: &'static str,
    /// The order's amount.
    pub amount: Option<Kurus>,
    /// Account: the least.
    pub min_amount: Option<Kurus>,
    /// Account: the most.
    pub max_amount: Option<Kurus>,
    /// The currency.
    pub currency: Currency,
    /// The shop's order number, carried to the payment and the webhook.
    pub order_ref: Option<String>,
    /// The customer account (cari) in the shop's ERP, carried to the payment.
    pub customer_ref: Option<String>,
    /// Shown on the page (and in a payment link's e-mail).
    pub description: Option<String>,
    /// The page's language (and a payment link's e-mail's): `tr` or `en`.
    #[schema(value_type = sanalpos_core::Lang)]
    pub language: String,
    /// Where the browser goes back to.
    pub return_url: Option<String>,
    /// The latest payment made through the page.
    pub payment_id: Option<String>,
    /// RFC 3339.
    pub created_at: String,
    /// Whether the page offers the customer's stored cards and "Kartımı kaydet".
    pub stored_cards: bool,
    /// Only in the answer that created the session, and only with a `return_url`: the
    /// key of the signed return (HMAC-SHA256 of
    /// `"<t>.<session_id>.<payment_id>.<status>"`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub return_secret: Option<String>,
}

/// What the hosted page shows about a session.
#[derive(Debug, Clone)]
pub struct HostedSession {
    /// The session.
    pub session: CheckoutSessionRecord,
    /// The company's name (the page's brand).
    pub company_name: String,
    /// Expired and not paid.
    pub expired: bool,
    /// Locked after too many unsuccessful attempts, until the owner reopens it.
    pub locked: bool,
    /// The latest payment made through the page.
    pub payment: Option<PaymentView>,
    /// The customer's stored cards the page offers (active ones; none unless the session
    /// offers stored cards).
    pub cards: Vec<crate::StoredCardView>,
}

/// What the cardholder submitted on the page.
#[derive(Clone)]
pub struct HostedPayment {
    /// The amount field (account) or the page's amount (order, checked against the
    /// session's).
    pub amount: Option<String>,
    /// How many installments the cardholder chose (1 = single payment).
    pub installments: u8,
    /// The card as typed on the hosted page; never stored or logged.
    pub card: CardInput,
    /// The browser's IP.
    pub cardholder_ip: Option<std::net::IpAddr>,
    /// One of the customer's stored cards to pay with (`card_…`), when the page offers
    /// them; then `card` is not used and no 3D step follows.
    pub stored_card: Option<String>,
    /// Keep the typed card for the customer once the payment is approved, under this
    /// name (may be empty), when the page offers it.
    pub save_card: Option<String>,
}

fn sign_return(secret: &str, t: i64, session_id: &str, payment_id: &str, status: &str) -> Vec<u8> {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret.as_bytes())
        .unwrap_or_else(|_| unreachable!("HMAC accepts any key length"));
    mac.update(format!("{t}.{session_id}.{payment_id}.{status}").as_bytes());
    mac.finalize().into_bytes().to_vec()
}

/// The hex signature of a return: HMAC-SHA256 of `"<t>.<session_id>.<payment_id>.<status>"`
/// under the session's return secret.
pub fn return_signature(
    secret: &str,
    t: i64,
    session_id: &str,
    payment_id: &str,
    status: &str,
) -> String {
    hex::encode(sign_return(secret, t, session_id, payment_id, status))
}

/// The parameters a shop's return URL receives.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct SignedReturn {
    /// `cs_…`.
    pub session_id: String,
    /// `pay_…`.
    pub payment_id: String,
    /// The payment's status.
    pub status: String,
    /// Unix seconds when it was signed.
    pub t: i64,
    /// Hex HMAC-SHA256 (see [`return_signature`]).
    pub signature: String,
}

impl SignedReturn {
    /// Checks the signature under the session's return secret, in constant time, and
    /// that `t` is within `tolerance_secs` of `now_secs`. What a shop does on return.
    pub fn verify(
        &self,
        secret: &str,
        now_secs: i64,
        tolerance_secs: i64,
    ) -> Result<(), &'static str> {
        if (now_secs - self.t).abs() > tolerance_secs {
            return Err("timestamp outside the tolerance");
        }
        let given = hex::decode(&self.signature).map_err(|_| "signature is not hex")?;
        let expected = sign_return(
            secret,
            self.t,
            &self.session_id,
            &self.payment_id,
            &self.status,
        );
        if bool::from(given.ct_eq(&expected)) {
            Ok(())
        } else {
            Err("signature mismatch")
        }
    }
}

/// A session's refusal of a free-text field names both of its rules.
fn text_message(max: usize) -> String {
    format!("at most {max} characters, no control characters")
}

fn check_url(value: &str) -> Result<String, ServiceError> {
    ReturnUrl::parse(value)
        .map(String::from)
        .map_err(|e| ServiceError::validation("return_url", e.to_string()))
}

fn page_url(service: &PaymentService, id: &str) -> String {
    format!(
        "{}/pay/{id}",
        service.inner.config.public_base_url.trim_end_matches('/')
    )
}

pub(crate) fn view(service: &PaymentService, s: &CheckoutSessionRecord) -> CheckoutSessionView {
    let expired = s.status == SessionStatus::Open && s.expires_at <= service.now_ms();
    CheckoutSessionView {
        id: s.id.clone(),
        url: page_url(service, &s.id),
        expires_at: rfc3339(s.expires_at),
        purpose: s.purpose.as_str(),
        status: if expired {
            "expired"
        } else if s.status == SessionStatus::Open && s.locked_at.is_some() {
            "locked"
        } else {
            s.status.as_str()
        },
        amount: s.amount,
        min_amount: s.min_amount,
        max_amount: s.max_amount,
        currency: s.currency,
        order_ref: s.order_ref.clone(),
        customer_ref: s.customer_ref.clone(),
        description: s.description.clone(),
        language: s.language.clone(),
        return_url: s.return_url.clone(),
        payment_id: s.payment_id.clone(),
        created_at: rfc3339(s.created_at),
        stored_cards: s.stored_cards,
        return_secret: None,
    }
}

pub(crate) async fn create(
    service: &PaymentService,
    caller: &Actor,
    request: NewCheckoutSession,
) -> Result<CheckoutSessionView, ServiceError> {
    let purpose = SessionPurpose::parse(&request.purpose)
        .ok_or_else(|| ServiceError::validation("purpose", "order or account"))?;
    let positive = |field: &'static str, v: Option<Kurus>| -> Result<Option<Kurus>, ServiceError> {
        match v {
            Some(k) if k == Kurus::ZERO => {
                Err(ServiceError::validation(field, "must be more than zero"))
            }
            other => Ok(other),
        }
    };
    let amount = positive("amount", request.amount)?;
    let min_amount = positive("min_amount", request.min_amount)?;
    let max_amount = positive("max_amount", request.max_amount)?;
    let (amount, min_amount, max_amount) = match purpose {
        SessionPurpose::Order => {
            let amount = amount
                .ok_or_else(|| ServiceError::validation("amount", "an order needs its amount"))?;
            if min_amount.is_some() || max_amount.is_some() {
                return Err(ServiceError::validation(
                    "min_amount",
                    "limits are for account payments; an order has a fixed amount",
                ));
            }
            (Some(amount), None, None)
        }
        SessionPurpose::Account => {
            if amount.is_some() {
                return Err(ServiceError::validation(
                    "amount",
                    "an account payment takes min_amount and max_amount, not amount",
                ));
            }
            let max = max_amount.ok_or_else(|| {
                ServiceError::validation("max_amount", "an account payment needs max_amount")
            })?;
            let min = min_amount.unwrap_or(Kurus::from_minor(1).unwrap_or(Kurus::ZERO));
            if min > max {
                return Err(ServiceError::validation(
                    "min_amount",
                    "must not be more than max_amount",
                ));
            }
            (None, Some(min), Some(max))
        }
    };
    let return_url = match request.return_url.as_deref().map(str::trim) {
        None | Some("") if purpose == SessionPurpose::Order => {
            return Err(ServiceError::validation(
                "return_url",
                "an order session needs the shop's return_url",
            ))
        }
        None | Some("") => None,
        Some(url) => Some(check_url(url)?),
    };
    let max_installments = request.max_installments.unwrap_or(12);
    if !(1..=12).contains(&max_installments) {
        return Err(ServiceError::validation("max_installments", "1 to 12"));
    }
    let language = match request.language.as_deref().unwrap_or("tr") {
        "tr" => "tr",
        "en" => "en",
        _ => return Err(ServiceError::validation("language", "tr or en")),
    };
    let ttl = match request.expires_in {
        Some(secs) => {
            let ttl = Duration::from_secs(secs);
            if ttl < Duration::from_secs(1) || ttl > MAX_SESSION_TTL {
                return Err(ServiceError::validation(
                    "expires_in",
                    "1 second to 90 days (7776000)",
                ));
            }
            ttl
        }
        None => match purpose {
            SessionPurpose::Order => DEFAULT_ORDER_TTL,
            SessionPurpose::Account => DEFAULT_ACCOUNT_TTL,
        },
    };
    let currency = request.currency.unwrap_or(Currency::Try);
    let (order_ref, customer_ref) = check_refs(&request.order_ref, &request.customer_ref, |_| {
        text_message(OrderRef::MAX_CHARS)
    })?;
    let (order_ref, customer_ref) = (order_ref.map(String::from), customer_ref.map(String::from));
    let description = optional_text(request.description.as_deref(), 500)
        .map_err(|_| ServiceError::validation("description", text_message(500)))?;
    // The company must be able to take the payment at all.
    let all = service.inner.store.list_pos(&caller.company_id).await?;
    if !all.iter().any(|p| pos_can_charge(p, currency)) {
        return Err(ServiceError::NoActivePos);
    }
    if request.stored_cards && customer_ref.is_none() {
        return Err(ServiceError::validation(
            "stored_cards",
            "stored cards belong to a customer: give customer_ref",
        ));
    }
    let secret = return_url.as_ref().map(|_| format!("rs_{}", new_token()));
    let now = service.now_ms();
    let record = CheckoutSessionRecord {
        id: new_id("cs"),
        company_id: caller.company_id.clone(),
        purpose,
        amount,
        min_amount,
        max_amount,
        currency,
        order_ref,
        customer_ref,
        description,
        return_url,
        return_secret_enc: secret
            .as_deref()
            .map(|s| service.inner.crypto.encrypt_credentials(s))
            .transpose()?,
        max_installments,
        language: language.to_owned(),
        status: SessionStatus::Open,
        payment_id: None,
        tries: 0,
        expires_at: now + ttl.as_millis() as i64,
        created_by: caller.name.clone(),
        created_at: now,
        completed_at: None,
        stored_cards: request.stored_cards,
        locked_at: None,
    };
    let audit = sanalpos_store::NewAudit {
        company_id: record.company_id.clone(),
        kind: "checkout_session.created".into(),
        actor: caller.name.clone(),
        subject_id: record.id.clone(),
        data: crate::events::session_payload(&record),
    };
    service
        .inner
        .store
        .insert_checkout_session(record.clone(), audit)
        .await?;
    let mut out = view(service, &record);
    out.return_secret = secret;
    Ok(out)
}

pub(crate) async fn get(
    service: &PaymentService,
    company_id: &str,
    id: &str,
) -> Result<CheckoutSessionView, ServiceError> {
    let s = service.inner.store.get_checkout_session(id).await?;
    if s.company_id != company_id {
        return Err(ServiceError::NotFound);
    }
    let s = settle_lock(service, s).await?;
    Ok(view(service, &s))
}

/// Whether a session's payment ended without taking money (a new one may start).
fn ended_unpaid(status: sanalpos_store::PaymentStatus) -> bool {
    matches!(
        status,
        sanalpos_store::PaymentStatus::Declined
            | sanalpos_store::PaymentStatus::Failed
            | sanalpos_store::PaymentStatus::Expired
            | sanalpos_store::PaymentStatus::Blocked
    )
}

/// Locks a session whose unsuccessful attempts used up its allowance, if that has not
/// happened yet (the attempt that used it up may have ended anywhere: the 3D return,
/// the janitor's expiry). Reads the last payment only when the count is reached.
async fn settle_lock(
    service: &PaymentService,
    s: CheckoutSessionRecord,
) -> Result<CheckoutSessionRecord, ServiceError> {
    let expired = s.status == SessionStatus::Open && s.expires_at <= service.now_ms();
    if expired || !crate::abuse::lock_due(service, &s, true) {
        return Ok(s);
    }
    let Some(pid) = &s.payment_id else {
        return Ok(s);
    };
    let store = &service.inner.store;
    let last = store.get_payment(&s.company_id, pid).await?;
    if !ended_unpaid(last.status) {
        return Ok(s);
    }
    crate::abuse::lock(service, &s).await?;
    Ok(store.get_checkout_session(&s.id).await?)
}

fn valid_id(id: &str) -> bool {
    id.len() == 25 && id.starts_with("cs_") && id[3..].bytes().all(|b| b.is_ascii_alphanumeric())
}

pub(crate) async fn hosted(
    service: &PaymentService,
    id: &str,
) -> Result<HostedSession, ServiceError> {
    if !valid_id(id) {
        return Err(ServiceError::NotFound);
    }
    let store = &service.inner.store;
    let session = settle_lock(service, store.get_checkout_session(id).await?).await?;
    let company = store.get_company(&session.company_id).await?;
    let payment = match &session.payment_id {
        Some(pid) => Some(crate::payments::view(
            service,
            &store.get_payment(&session.company_id, pid).await?,
        )),
        None => None,
    };
    let expired = session.status == SessionStatus::Open && session.expires_at <= service.now_ms();
    let cards = match (&session.customer_ref, session.stored_cards) {
        (Some(customer), true) => service
            .list_stored_cards(&session.company_id, customer)
            .await?
            .into_iter()
            .filter(|c| c.state == sanalpos_store::StoredCardState::Active)
            .collect(),
        _ => Vec::new(),
    };
    Ok(HostedSession {
        cards,
        expired,
        locked: session.status == SessionStatus::Open && session.locked_at.is_some(),
        session,
        company_name: company.name,
        payment,
    })
}

fn open_session(h: &HostedSession) -> Result<(), ServiceError> {
    if h.session.status == SessionStatus::Completed {
        return Err(ServiceError::conflict(
            "session_completed",
            "this checkout session is already paid",
        ));
    }
    if h.expired {
        return Err(ServiceError::conflict(
            "session_expired",
            "this checkout session has expired",
        ));
    }
    Ok(())
}

/// The amount to charge: the session's for an order (a different submitted amount is
/// refused), the submitted one within the limits for an account payment.
fn amount_of(s: &CheckoutSessionRecord, submitted: Option<&str>) -> Result<Kurus, ServiceError> {
    let parse = |text: &str| {
        Kurus::parse(text.trim())
            .or_else(|_| Kurus::parse_tr(text.trim()))
            .map_err(|_| ServiceError::validation("amount", "an amount such as 150.00"))
    };
    match s.purpose {
        SessionPurpose::Order => {
            let amount = s
                .amount
                .ok_or_else(|| ServiceError::Storage("order session without amount".into()))?;
            if let Some(text) = submitted.filter(|t| !t.trim().is_empty()) {
                if parse(text)? != amount {
                    return Err(ServiceError::conflict(
                        "amount_mismatch",
                        "the amount on the page is not the order's amount",
                    ));
                }
            }
            Ok(amount)
        }
        SessionPurpose::Account => {
            let text = submitted
                .filter(|t| !t.trim().is_empty())
                .ok_or_else(|| ServiceError::validation("amount", "enter the amount to pay"))?;
            let amount = parse(text)?;
            let min = s.min_amount.unwrap_or(Kurus::ZERO);
            let max = s.max_amount.unwrap_or(amount);
            if amount < min || amount > max || amount == Kurus::ZERO {
                return Err(ServiceError::validation(
                    "amount",
                    format!("between {} and {}", min.format_tr(), max.format_tr()),
                ));
            }
            Ok(amount)
        }
    }
}

pub(crate) async fn installments(
    service: &PaymentService,
    id: &str,
    bin: &str,
    amount: Option<&str>,
) -> Result<Vec<InstallmentOption>, ServiceError> {
    let h = hosted(service, id).await?;
    open_session(&h)?;
    if h.locked {
        return Err(ServiceError::conflict(
            "session_locked",
            "too many unsuccessful attempts; contact the seller",
        ));
    }
    let digits: String = bin.chars().filter(|c| !c.is_whitespace()).collect();
    if digits.len() < 8 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ServiceError::validation("bin", "the card's first 8 digits"));
    }
    let bin = &digits[..8];
    let amount = amount_of(&h.session, amount)?;
    let pos =
        crate::pos_choice::choose_pos(service, &h.session.company_id, None, h.session.currency)
            .await?;
    let gateway = gateway_for(service, &pos)?;
    let options = crate::gateways::installment_options(gateway.as_ref(), &pos, bin, amount)
        .await
        .map_err(|e| {
            tracing::warn!(error = %e, pos.id = %pos.id, "installment options unavailable");
            ServiceError::Provider {
                code: "installments_unavailable",
                message: "the installment options could not be read from the provider".into(),
            }
        })?;
    Ok(options
        .into_iter()
        .filter(|o| {
            o.installments <= h.session.max_installments
                && pos.installments.iter().any(|r| r.count == o.installments)
        })
        .collect())
}

pub(crate) async fn pay(
    service: &PaymentService,
    id: &str,
    form: HostedPayment,
) -> Result<PaymentView, ServiceError> {
    let h = hosted(service, id).await?;
    open_session(&h)?;
    let s = &h.session;
    if let Some(p) = &h.payment {
        if !ended_unpaid(p.status) {
            return Err(ServiceError::conflict(
                "session_not_payable",
                "a payment of this checkout session is already under way or done",
            ));
        }
    }
    let amount = amount_of(s, form.amount.as_deref())?;
    if form.installments == 0 || form.installments > s.max_installments {
        return Err(ServiceError::validation(
            "installments",
            format!("1 to {}", s.max_installments),
        ));
    }
    let vault = match (form.stored_card, form.save_card) {
        _ if !s.stored_cards => crate::types::CardVaultUse::None,
        (Some(card), _) if !card.trim().is_empty() => {
            crate::types::CardVaultUse::StoredCard(card.trim().to_owned())
        }
        (_, Some(alias)) => crate::types::CardVaultUse::SaveCard {
            alias: alias.trim().to_owned(),
        },
        _ => crate::types::CardVaultUse::None,
    };
    // A stored card pays through the POS that keeps it.
    let pos_id = match &vault {
        crate::types::CardVaultUse::StoredCard(_) => None,
        _ => Some(
            crate::pos_choice::choose_pos(service, &s.company_id, None, s.currency)
                .await?
                .id,
        ),
    };
    let caller = Actor {
        company_id: s.company_id.clone(),
        name: format!("hosted:{}", s.id),
    };
    let request = CreatePayment {
        amount,
        currency: s.currency,
        installments: form.installments,
        card: form.card,
        three_d: !matches!(vault, crate::types::CardVaultUse::StoredCard(_)),
        vault,
        capture: crate::types::CaptureMode::Automatic,
        return_url: Some(format!("{}/return", page_url(service, &s.id))),
        order_ref: s.order_ref.clone(),
        customer_ref: s.customer_ref.clone(),
        description: s.description.clone(),
        pos_id,
        channel: Channel::Hosted,
        cardholder_ip: form.cardholder_ip,
        client_ip: form.cardholder_ip,
    };
    let blocked = h.locked.then_some(crate::abuse::BlockReason::SessionLocked);
    match create_payment_for(
        service,
        &caller,
        request,
        KeyUse::None,
        Some(&s.id),
        blocked,
        None,
    )
    .await?
    {
        Made::Payment(view, _) => Ok(*view),
        Made::KeyTaken | Made::OverLimit(_) => Err(ServiceError::Storage(
            "a session payment was refused as a claim".into(),
        )),
    }
}

/// Where the browser goes back to the shop: `return_url` with the signed parameters,
/// or `None` for a session without one (a payment link).
pub(crate) fn signed_return(
    service: &PaymentService,
    s: &CheckoutSessionRecord,
    payment: &PaymentView,
) -> Result<Option<String>, ServiceError> {
    let (Some(url), Some(secret_enc)) = (&s.return_url, &s.return_secret_enc) else {
        return Ok(None);
    };
    let secret = service.inner.crypto.decrypt_credentials(secret_enc)?;
    let t = service.now_ms() / 1000;
    let status = payment.status.as_str();
    let signature = return_signature(&secret, t, &s.id, &payment.id, status);
    let (base, fragment) = match url.split_once('#') {
        Some((b, f)) => (b, Some(f)),
        None => (url.as_str(), None),
    };
    let sep = if base.contains('?') { '&' } else { '?' };
    let mut out = format!(
        "{base}{sep}session_id={}&payment_id={}&status={status}&t={t}&signature={signature}",
        s.id, payment.id
    );
    if let Some(f) = fragment {
        out.push('#');
        out.push_str(f);
    }
    Ok(Some(out))
}

impl PaymentService {
    /// Creates a checkout session (hosted page or payment link). The answer carries
    /// the `return_secret` that signs the return, only this once.
    pub async fn create_checkout_session(
        &self,
        caller: &Actor,
        request: NewCheckoutSession,
    ) -> Result<CheckoutSessionView, ServiceError> {
        create(self, caller, request).await
    }

    /// A session of the company.
    pub async fn get_checkout_session(
        &self,
        company_id: &str,
        id: &str,
    ) -> Result<CheckoutSessionView, ServiceError> {
        get(self, company_id, id).await
    }

    /// What the hosted page shows for a session id.
    pub async fn hosted_session(&self, id: &str) -> Result<HostedSession, ServiceError> {
        hosted(self, id).await
    }

    /// The provider's installment options (with totals) for the page's card and amount,
    /// limited to the session's maximum and the POS's table.
    pub async fn hosted_installments(
        &self,
        id: &str,
        bin: &str,
        amount: Option<&str>,
    ) -> Result<Vec<InstallmentOption>, ServiceError> {
        installments(self, id, bin, amount).await
    }

    /// Pays a session from its page (3D Secure, channel `hosted`).
    pub async fn hosted_pay(
        &self,
        id: &str,
        payment: HostedPayment,
    ) -> Result<PaymentView, ServiceError> {
        pay(self, id, payment).await
    }

    /// The shop's return URL with the signed parameters, for the session's latest
    /// payment; `None` without a return URL.
    pub fn hosted_return_url(
        &self,
        session: &CheckoutSessionRecord,
        payment: &PaymentView,
    ) -> Result<Option<String>, ServiceError> {
        signed_return(self, session, payment)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn return_signatures_verify_and_refuse_tampering() {
        let signed = |status: &str, signature: &str| SignedReturn {
            session_id: "cs_1".into(),
            payment_id: "pay_1".into(),
            status: status.into(),
            t: 1_700_000_000,
            signature: signature.into(),
        };
        let sig = return_signature("rs_k", 1_700_000_000, "cs_1", "pay_1", "approved");
        // Computed with Python's hmac module (the sample in docs/INTEGRATION.md).
        assert_eq!(
            sig,
            "9bafe8ba44342dd9a10002c6f6e6966e7b83b6f13e9e13be7488c60848c8a2a2"
        );
        assert_eq!(
            signed("approved", &sig).verify("rs_k", 1_700_000_030, 600),
            Ok(())
        );
        assert_eq!(
            signed("declined", &sig).verify("rs_k", 1_700_000_030, 600),
            Err("signature mismatch")
        );
        assert_eq!(
            signed("approved", &sig).verify("rs_other", 1_700_000_030, 600),
            Err("signature mismatch")
        );
        assert_eq!(
            signed("approved", "zz").verify("rs_k", 1_700_000_030, 600),
            Err("signature is not hex")
        );
        assert_eq!(
            signed("approved", &sig).verify("rs_k", 1_800_000_000, 600),
            Err("timestamp outside the tolerance")
        );
    }
}
