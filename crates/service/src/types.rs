//! What goes into and comes out of the service. The `…View` types are the JSON bodies
//! of the API (design.md's contract): their field names are part of it.

use std::fmt;
use std::net::IpAddr;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use sanalpos_core::{Currency, Kurus, Message};
use sanalpos_gateway::Settings;
use sanalpos_store::{
    ApiKey, AttemptOutcome, AttemptRecord, AttemptState, Channel, DocumentItem, Environment,
    InstallmentRow, OnboardingState, Operation, PaymentStatus, RefundKind, RefundRecord,
    RefundStatus, Role, User,
};

/// How the service behaves. `Default` gives the documented defaults with
/// `http://127.0.0.1:8080` as the public URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceConfig {
    /// Our external URL (`http://127.0.0.1:8080`), for 3D page and return URLs.
    pub public_base_url: String,
    /// How long a 3D payment may wait for its cardholder (default 15 min).
    pub three_d_ttl: Duration,
    /// An inquiry that finds nothing before this age means "try later"; after it,
    /// the payment failed (default 2 min).
    pub unknown_grace: Duration,
    /// How often the janitor runs (default 5 s).
    pub janitor_interval: Duration,
    /// Time for one provider call (default 30 s).
    pub provider_timeout: Duration,
    /// This instance's name, for leases.
    pub instance_id: String,
    /// Istanbul local time after which the previous business day is reconciled for
    /// every active POS (default 03:00); `None` switches the job off.
    pub end_of_day: Option<chrono::NaiveTime>,
    /// When a POS stops sending calls after repeated technical failures.
    pub breaker: crate::breaker::BreakerConfig,
    /// Card-testing limits: session lock and velocity per card and per client IP.
    pub abuse: crate::abuse::AbuseLimits,
    /// Where the time is read: the system clock, or in tests one they move forward.
    pub clock: sanalpos_core::Clock,
}

impl Default for ServiceConfig {
    fn default() -> ServiceConfig {
        ServiceConfig {
            public_base_url: "http://127.0.0.1:8080".into(),
            three_d_ttl: Duration::from_secs(15 * 60),
            unknown_grace: Duration::from_secs(120),
            janitor_interval: Duration::from_secs(5),
            provider_timeout: Duration::from_secs(30),
            instance_id: format!("sanalpos-{}", std::process::id()),
            end_of_day: chrono::NaiveTime::from_hms_opt(3, 0, 0),
            breaker: crate::breaker::BreakerConfig::default(),
            abuse: crate::abuse::AbuseLimits::default(),
            clock: sanalpos_core::Clock::system(),
        }
    }
}

/// Who is acting, for attempts and the audit log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    /// The company the actor works for.
    pub company_id: String,
    /// `api:<key id>`, `user:<username>`, `janitor`.
    pub name: String,
}

/// The company and key behind an API key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiCaller {
    /// The key's company.
    pub company_id: String,
    /// The key's id.
    pub key_id: String,
}

/// The caller of the API's sale route: authenticated from the keys this instance keeps
/// ([`PaymentService::authenticate_sale`](crate::PaymentService::authenticate_sale)),
/// and confirmed by the sale itself before it writes anything.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SaleCaller {
    /// The key's company and id.
    pub caller: ApiCaller,
    /// The key's lookup prefix and the presented key's hash, to read it again.
    pub(crate) prefix: String,
    pub(crate) presented: String,
    /// The settings epoch the key was read after.
    pub(crate) label: i64,
}

impl SaleCaller {
    pub(crate) fn new(caller: ApiCaller, prefix: &str, presented: String, label: i64) -> Self {
        SaleCaller {
            caller,
            prefix: prefix.to_owned(),
            presented,
            label,
        }
    }
}

impl ApiCaller {
    /// The actor this caller acts as.
    pub fn actor(&self) -> Actor {
        Actor {
            company_id: self.company_id.clone(),
            name: format!("api:{}", self.key_id),
        }
    }
}

/// Card data as received. `Debug` hides the number and CVV.
#[derive(Clone, Default, Deserialize)]
pub struct CardInput {
    /// The card number (spaces and dashes allowed).
    pub number: String,
    /// `MM`.
    pub expiry_month: String,
    /// `YYYY` or `YY`.
    pub expiry_year: String,
    /// 3 or 4 digits.
    pub cvv: String,
    /// Name on the card.
    #[serde(default)]
    pub holder: String,
}

impl fmt::Debug for CardInput {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CardInput")
            .field("number", &"<hidden>")
            .field("cvv", &"<hidden>")
            .finish_non_exhaustive()
    }
}

/// When an approved payment's money is taken.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CaptureMode {
    /// At once: a sale.
    #[default]
    Automatic,
    /// Later: a pre-authorisation (provizyon) blocks the amount and the payment is
    /// `authorized` until it is captured or released.
    Manual,
}

/// What a payment does with the provider's card vault (set by the API caller).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum CardVaultUse {
    /// Nothing: the payment's own card pays and is not kept.
    #[default]
    None,
    /// Pay with a card the payment's customer stored before, by our id (`card_…`); the
    /// payment's `card` is not used. Non-3D, with the same `customer_ref`.
    StoredCard(String),
    /// 3D only: ask the provider to keep the payment's card for its `customer_ref` once
    /// the sale is approved, under the customer's name for it (`alias`, may be empty).
    SaveCard {
        /// The customer's name for the card ("İş kartım"), at most 50 characters.
        alias: String,
    },
}

/// A request to collect a payment.
#[derive(Debug, Clone)]
pub struct CreatePayment {
    /// The amount, before any installment surcharge.
    pub amount: Kurus,
    /// The currency of `amount` (ISO 4217: `TRY`, `USD`, `EUR`); the POS must accept it.
    pub currency: Currency,
    /// 1 for a single payment.
    pub installments: u8,
    /// The card; used for this one call and never stored, logged or echoed back.
    /// Empty when `vault` pays with a stored card.
    pub card: CardInput,
    /// Whether the payment uses the provider's card vault: pays with a stored card, or
    /// keeps `card` for `customer_ref` once a 3D sale is approved.
    pub vault: CardVaultUse,
    /// Go through 3D Secure.
    pub three_d: bool,
    /// Take the money at once, or block it for a later capture (the POS's protocol
    /// must offer pre-authorisation).
    pub capture: CaptureMode,
    /// Where the browser goes after 3D (required with `three_d`).
    pub return_url: Option<String>,
    /// Order (sipariş) reference.
    pub order_ref: Option<String>,
    /// Customer account (cari) reference.
    pub customer_ref: Option<String>,
    /// The caller's own note (at most 500 characters), shown in lists and exports.
    pub description: Option<String>,
    /// A specific POS of the company; otherwise the rules choose.
    pub pos_id: Option<String>,
    /// How the payment reached us.
    pub channel: Channel,
    /// The cardholder's IP, when from a browser.
    pub cardholder_ip: Option<IpAddr>,
    /// The cardholder's own IP as the per-IP velocity limit counts it (and the payment
    /// records it): the browser's on the hosted page, what an API caller says; `None`
    /// when unknown (back office: the staff's address is not the cardholder's).
    pub client_ip: Option<IpAddr>,
}

/// What the browser must do next (3D).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct NextAction {
    /// Send the cardholder's browser here.
    pub redirect_url: String,
}

/// A payment as the API shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[schema(as = Payment)]
pub struct PaymentView {
    /// `pay_…`.
    pub id: String,
    /// Its status; final unless `processing`, `pending_3ds` or `unknown`.
    pub status: PaymentStatus,
    /// Amount asked for (`"150.00"`).
    pub amount: Kurus,
    /// Currency (`"TRY"`).
    pub currency: Currency,
    /// Installment count (1 = single payment).
    pub installments: u8,
    /// First 6 + last 4.
    pub masked_pan: String,
    /// The bank's authorization code of an approval.
    pub auth_code: Option<String>,
    /// The provider's reference, used for inquiries, cancels, refunds and reconciliation.
    pub provider_ref: Option<String>,
    /// Bank code of a decline.
    pub bank_code: Option<String>,
    /// The reason in Turkish and English.
    pub message: Option<Message>,
    /// 3D: where to send the browser.
    pub next_action: Option<NextAction>,
    /// RFC 3339, UTC.
    pub created_at: String,
    /// The POS it went through.
    pub pos_id: String,
    /// The caller's order number, as sent.
    pub order_ref: Option<String>,
    /// The customer account (cari) in the caller's ERP, as sent.
    pub customer_ref: Option<String>,
    /// The caller's own note (at most 500 characters), shown in lists and exports.
    pub description: Option<String>,
    /// How it reached us.
    pub channel: Channel,
    /// Whether it went through 3D Secure.
    pub three_d: bool,
    /// What the cardholder was charged.
    pub authorized_amount: Option<Kurus>,
    /// The sum of approved cancels and refunds, in kuruş.
    pub refunded_amount: Kurus,
    /// Europe/Istanbul day of the sale.
    #[schema(pattern = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")]
    pub business_date: String,
    /// Set when a person must look at it.
    pub review_reason: Option<String>,
    /// Who made it: an API key (`api:<key id>`), a user (`user:<username>`), or the
    /// hosted page (`hosted:<session id>`).
    pub created_by: String,
    /// RFC 3339, UTC.
    pub updated_at: String,
    /// `manual` for a pre-authorisation (captured or released later), else
    /// `automatic`.
    pub capture: CaptureMode,
    /// For a pre-authorisation, the amount blocked on the card; `amount` is what a
    /// capture took once there was one.
    pub held_amount: Option<Kurus>,
    /// For a pre-authorisation, until when it may stay uncaptured (RFC 3339, UTC);
    /// after it the block is released by itself.
    pub hold_until: Option<String>,
    /// Whether the block is released by itself within a day unless captured.
    pub hold_ends_soon: bool,
}

/// One provider call, as shown with a payment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[schema(as = Attempt)]
pub struct AttemptView {
    /// `att_…`.
    pub id: String,
    /// What the call was for: `sale`, `start_3d`, `finish_3d`, `cancel`, `refund`, `inquiry`,
    /// or a pre-authorisation's `capture` / `release`.
    pub operation: Operation,
    /// Our reference sent with the call, which the provider echoes and inquiries look up.
    pub client_ref: String,
    /// Dispatched or completed.
    pub state: AttemptState,
    /// How it ended once completed; absent while the call is out.
    pub outcome: Option<AttemptOutcome>,
    /// The bank's response code of a refusal (`51`, `05`).
    pub bank_code: Option<String>,
    /// The provider's message, or why no answer came (timeout, refused connection).
    pub message: Option<String>,
    /// HTTP status of the answer.
    pub http_status: Option<i64>,
    /// How long the provider took to answer, in milliseconds.
    pub latency_ms: Option<i64>,
    /// The amount the call was about, in kuruş.
    pub amount: Kurus,
    /// RFC 3339.
    pub started_at: String,
    /// RFC 3339.
    pub finished_at: Option<String>,
}

/// A cancel or refund, as shown with a payment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[schema(as = Refund)]
pub struct RefundView {
    /// `ref_…`.
    pub id: String,
    /// Cancel or refund.
    pub kind: RefundKind,
    /// The amount given back, in kuruş.
    pub amount: Kurus,
    /// Its status: `pending` while the call is out, `scheduled` until the bank's day
    /// closes, then `approved`, `declined`, `failed`, `unknown` or `withdrawn`.
    pub status: RefundStatus,
    /// The provider's reference of the cancel or refund.
    pub provider_ref: Option<String>,
    /// The bank's response code of a refusal (`51`, `05`).
    pub bank_code: Option<String>,
    /// Reason of a refusal.
    pub message: Option<Message>,
    /// RFC 3339.
    pub created_at: String,
    /// RFC 3339.
    pub updated_at: String,
}

/// The answer to a refund request: the payment as it now stands, and the refund the
/// request made (`approved`, or `scheduled` when the provider's day is still open).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct RefundAnswer {
    /// The payment's fields, at the top level.
    #[serde(flatten)]
    pub payment: PaymentView,
    /// The cancel or refund the request made.
    pub refund: RefundView,
}

/// A payment with its attempts and refunds (`GET /payments/{id}`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct PaymentDetail {
    /// The payment's fields, at the top level.
    #[serde(flatten)]
    pub payment: PaymentView,
    /// Every provider call, oldest first.
    pub attempts: Vec<AttemptView>,
    /// Cancels and refunds, oldest first.
    pub refunds: Vec<RefundView>,
}

impl PaymentDetail {
    /// What can still be refunded: the sale amount less every refund that counts
    /// against it (approved, scheduled, or with its outcome still open).
    pub fn refundable(&self) -> Kurus {
        let held: Kurus = self
            .refunds
            .iter()
            .filter(|r| {
                matches!(
                    r.status,
                    RefundStatus::Approved
                        | RefundStatus::Pending
                        | RefundStatus::Unknown
                        | RefundStatus::Scheduled
                )
            })
            .map(|r| r.amount)
            .sum();
        self.payment.amount.checked_sub(held).unwrap_or(Kurus::ZERO)
    }
}

/// Filters of the payment list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PaymentFilter {
    /// Created at or after.
    pub from: Option<DateTime<Utc>>,
    /// Created before.
    pub to: Option<DateTime<Utc>>,
    /// Only payments in this status.
    pub status: Option<PaymentStatus>,
    /// POS.
    pub pos_id: Option<String>,
    /// Only payments carrying exactly this order reference.
    pub order_ref: Option<String>,
    /// Only payments carrying exactly this customer (cari) reference.
    pub customer_ref: Option<String>,
    /// How the payment reached us.
    pub channel: Option<Channel>,
    /// The card's last four digits (exactly 4 digits).
    pub last_four: Option<String>,
    /// Amount at least this.
    pub min_amount: Option<Kurus>,
    /// Amount at most this.
    pub max_amount: Option<Kurus>,
    /// Only payments with this authorization code.
    pub auth_code: Option<String>,
    /// Only payments with this provider reference.
    pub provider_ref: Option<String>,
    /// 1 to 200; default 50.
    pub limit: Option<u32>,
    /// Opaque; from the previous page's `next_cursor`.
    pub cursor: Option<String>,
}

/// One page of payments, newest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct PaymentPage {
    /// The payments of the page, newest first.
    pub items: Vec<PaymentView>,
    /// Pass as `cursor` for the next page; `None` at the end.
    pub next_cursor: Option<String>,
}

/// Where to send the browser after the 3D postback.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ThreeDReturn {
    /// The payment's return_url with `payment_id` and `status` added.
    pub redirect_to: String,
    /// The payment now.
    pub payment: PaymentView,
}

/// What one janitor pass did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct JanitorReport {
    /// Payments and refunds resolved to a final state by inquiry.
    pub resolved: u32,
    /// 3D payments expired.
    pub expired: u32,
    /// Looked at and left for a later pass (still unclear).
    pub left: u32,
    /// Marked for a person to review.
    pub review: u32,
    /// Inquiries that failed (provider unreachable…).
    pub errors: u32,
    /// Scheduled refunds carried out (or refused by the bank) now that the provider's
    /// day is closed.
    pub refunds_carried_out: u32,
    /// Scheduled refunds sent and found the provider's day still open.
    pub refunds_still_scheduled: u32,
    /// Pre-authorisations released because their hold period ended uncaptured.
    pub holds_released: u32,
    /// Cards kept by approved 3D payments found in the provider's list and recorded on a
    /// later look.
    pub cards_kept: u32,
    /// Stored cards whose delete the provider confirmed on a new try.
    pub cards_deleted: u32,
    /// Stored cards whose delete the provider still did not confirm (tried again
    /// later).
    pub card_deletions_pending: u32,
}

/// A new POS definition.
#[derive(Debug, Clone)]
pub struct NewPos {
    /// What people call it ("N Kolay ana POS"), shown in lists.
    pub name: String,
    /// The protocol's id in the registry (`nkolay`, `nestpay`).
    pub protocol: String,
    /// Simulator, test, production.
    pub environment: Environment,
    /// The protocol's settings (bank, hosts, credentials, switches), checked against
    /// its description and encrypted at rest as one document.
    pub settings: Settings,
    /// Currencies it charges (at least one).
    pub currencies: Vec<Currency>,
    /// Installment table (must contain count 1).
    pub installments: Vec<InstallmentRow>,
    /// Onboarding state; only `active` charges.
    pub onboarding_state: OnboardingState,
    /// Document checklist; empty means the standard list, nothing received.
    pub documents: Vec<DocumentItem>,
    /// Make it the company's default.
    pub is_default: bool,
    /// How many days a pre-authorisation may stay uncaptured (1 to 30); 7 when
    /// `None`.
    pub pre_auth_hold_days: Option<u16>,
}

/// A change to a POS definition; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct PosChange {
    /// What people call it ("N Kolay ana POS"), shown in lists.
    pub name: Option<String>,
    /// Which system it talks to: `simulator`, `test` or `production`.
    pub environment: Option<Environment>,
    /// The new settings: every field that is not a secret as given (left out = not
    /// set); a secret left out keeps its stored value, one given replaces it.
    pub settings: Option<Settings>,
    /// The currencies it charges.
    pub currencies: Option<Vec<Currency>>,
    /// Installment table.
    pub installments: Option<Vec<InstallmentRow>>,
    /// How far the merchant agreement has come; only `active` charges.
    pub onboarding_state: Option<OnboardingState>,
    /// Document checklist.
    pub documents: Option<Vec<DocumentItem>>,
    /// Whether it takes the company's payments that name no POS.
    pub is_default: Option<bool>,
    /// How many days a pre-authorisation may stay uncaptured (1 to 30).
    pub pre_auth_hold_days: Option<u16>,
}

/// One setting of a POS as a person may see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ShownSetting {
    /// The key in the protocol's settings.
    pub name: String,
    /// The value; a secret is masked: its length (`…(8)`), and its first four
    /// characters when it is a long key (`1185…(88)`).
    pub value: String,
    /// Whether it is a secret.
    pub secret: bool,
}

/// A POS definition as shown (credentials masked).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PosView {
    /// `pos_…`.
    pub id: String,
    /// The company it belongs to (`cmp_…`).
    pub company_id: String,
    /// What people call it ("N Kolay ana POS"), shown in lists.
    pub name: String,
    /// The protocol's id.
    pub protocol: String,
    /// The bank preset's id (`isbank`; `nkolay` for N Kolay).
    pub bank: Option<String>,
    /// The bank's name as people write it (`İş Bankası`).
    pub bank_name: Option<String>,
    /// Which system it talks to: `simulator`, `test` or `production`.
    pub environment: Environment,
    /// The settings, secrets masked; empty when they cannot be decrypted with this
    /// master key (then `settings_readable` is false).
    pub settings: Vec<ShownSetting>,
    /// Whether the settings could be decrypted.
    pub settings_readable: bool,
    /// The currencies it charges.
    pub currencies: Vec<Currency>,
    /// Installment table.
    pub installments: Vec<InstallmentRow>,
    /// How far the merchant agreement has come; only `active` charges.
    pub onboarding_state: OnboardingState,
    /// Document checklist.
    pub documents: Vec<DocumentItem>,
    /// Whether it takes the company's payments that name no POS.
    pub is_default: bool,
    /// Bumped on every change.
    pub version: i64,
    /// Last successful call, RFC 3339.
    pub last_success_at: Option<String>,
    /// Last error.
    pub last_error: Option<String>,
    /// RFC 3339.
    pub created_at: String,
    /// RFC 3339.
    pub updated_at: String,
    /// Whether its protocol can pre-authorise (block now, capture later).
    pub pre_auth: bool,
    /// Whether its provider keeps customers' cards in its vault.
    pub card_storage: bool,
    /// How many days a pre-authorisation may stay uncaptured before it is released by
    /// itself.
    pub pre_auth_hold_days: u16,
}

/// An API key as shown (never the key itself).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ApiKeyView {
    /// `key_…`.
    pub id: String,
    /// The company it belongs to (`cmp_…`).
    pub company_id: String,
    /// What people call it ("N Kolay ana POS"), shown in lists.
    pub name: String,
    /// The key's first characters, to recognise it.
    pub prefix: String,
    /// RFC 3339.
    pub created_at: String,
    /// RFC 3339, once revoked.
    pub revoked_at: Option<String>,
}

/// A user as shown.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UserView {
    /// `usr_…`.
    pub id: String,
    /// Login name.
    pub username: String,
    /// Role.
    pub role: Role,
    /// Companies.
    pub company_ids: Vec<String>,
    /// RFC 3339.
    pub created_at: String,
}

pub use sanalpos_core::time::rfc3339;

pub(crate) fn message_of(tr: &Option<String>, en: &Option<String>) -> Option<Message> {
    match (tr, en) {
        (Some(tr), Some(en)) => Some(Message {
            tr: tr.clone(),
            en: en.clone(),
        }),
        (Some(t), None) | (None, Some(t)) => Some(Message {
            tr: t.clone(),
            en: t.clone(),
        }),
        (None, None) => None,
    }
}

impl From<&AttemptRecord> for AttemptView {
    fn from(a: &AttemptRecord) -> AttemptView {
        AttemptView {
            id: a.id.clone(),
            operation: a.operation,
            client_ref: a.client_ref.clone(),
            state: a.state,
            outcome: a.outcome,
            bank_code: a.bank_code.clone(),
            message: a.message.clone(),
            http_status: a.http_status,
            latency_ms: a.latency_ms,
            amount: a.amount,
            started_at: rfc3339(a.started_at),
            finished_at: a.finished_at.map(rfc3339),
        }
    }
}

impl From<&RefundRecord> for RefundView {
    fn from(r: &RefundRecord) -> RefundView {
        RefundView {
            id: r.id.clone(),
            kind: r.kind,
            amount: r.amount,
            status: r.status,
            provider_ref: r.provider_ref.clone(),
            bank_code: r.bank_code.clone(),
            message: message_of(&r.message_tr, &r.message_en),
            created_at: rfc3339(r.created_at),
            updated_at: rfc3339(r.updated_at),
        }
    }
}

impl From<&ApiKey> for ApiKeyView {
    fn from(k: &ApiKey) -> ApiKeyView {
        ApiKeyView {
            id: k.id.clone(),
            company_id: k.company_id.clone(),
            name: k.name.clone(),
            prefix: k.prefix.clone(),
            created_at: rfc3339(k.created_at),
            revoked_at: k.revoked_at.map(rfc3339),
        }
    }
}

impl From<&User> for UserView {
    fn from(u: &User) -> UserView {
        UserView {
            id: u.id.clone(),
            username: u.username.clone(),
            role: u.role,
            company_ids: u.company_ids.clone(),
            created_at: rfc3339(u.created_at),
        }
    }
}
