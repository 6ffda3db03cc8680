//! The records the store keeps.

use serde::{Deserialize, Serialize};

use sanalpos_core::{Currency, Kurus};

pub use crate::kinds::*;

/// A legal entity; every other record belongs to exactly one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Company {
    /// `cmp_…`.
    pub id: String,
    /// The legal trade name (ticari unvan), as printed on invoices and statements.
    pub name: String,
    /// Unix milliseconds.
    pub created_at: i64,
}

/// A user of the back office.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct User {
    /// `usr_…`.
    pub id: String,
    /// Unique login name.
    pub username: String,
    /// What the user may do.
    pub role: Role,
    /// The companies the user works for.
    pub company_ids: Vec<String>,
    /// Unix milliseconds.
    pub created_at: i64,
}

/// An API key as stored: never the key itself, only its lookup prefix and hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ApiKey {
    /// `key_…`.
    pub id: String,
    /// The company it belongs to (`cmp_…`); every read is filtered by it.
    pub company_id: String,
    /// A label ("web shop").
    pub name: String,
    /// The first characters of the key, for lookup and for recognising it in lists.
    pub prefix: String,
    /// Unix milliseconds.
    pub created_at: i64,
    /// Unix milliseconds, once revoked.
    pub revoked_at: Option<i64>,
}

/// One row of a POS's installment table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct InstallmentRow {
    /// Number of installments (1 = single payment).
    pub count: u8,
    /// Commission the merchant pays, basis points.
    pub commission_bp: u32,
    /// Surcharge the cardholder pays, basis points.
    pub surcharge_bp: u32,
    /// Days until the money reaches the merchant.
    pub value_days: u32,
}

/// One document of the onboarding checklist.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DocumentItem {
    /// `vergi_levhasi`, `imza_sirkusu`, …
    pub name: String,
    /// Whether it was handed in.
    pub received: bool,
}

/// The documents an N Kolay application asks for.
pub const DOCUMENT_NAMES: &[&str] = &[
    "vergi_levhasi",
    "imza_sirkusu",
    "faaliyet_belgesi",
    "sicil_kayit_belgesi",
    "kimlik_fotokopisi",
    "ticaret_sicil_gazetesi",
    "iban",
];

/// The checklist with nothing received yet.
pub fn empty_checklist() -> Vec<DocumentItem> {
    DOCUMENT_NAMES
        .iter()
        .map(|name| DocumentItem {
            name: (*name).to_owned(),
            received: false,
        })
        .collect()
}

/// A POS definition as stored; credentials stay encrypted here.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PosRecord {
    /// `pos_…`.
    pub id: String,
    /// The company it belongs to (`cmp_…`); every read is filtered by it.
    pub company_id: String,
    /// A label ("N Kolay ana POS").
    pub name: String,
    /// The protocol's id in the gateway registry (`nkolay`, `nestpay`).
    pub protocol: String,
    /// Simulator, test or production.
    pub environment: Environment,
    /// base64(nonce || AES-256-GCM ciphertext) of the protocol's settings document
    /// (JSON: hosts, credentials, switches). Empty only for a row written before
    /// migration 7 and not yet moved ([`LegacyPos`]).
    pub settings_enc: String,
    /// Currencies this POS charges.
    pub currencies: Vec<Currency>,
    /// Which installment counts this POS offers, with their commission and surcharge.
    pub installments: Vec<InstallmentRow>,
    /// How far the merchant agreement has come; only `active` charges.
    pub onboarding_state: OnboardingState,
    /// The documents the provider asked for, and which have been handed in.
    pub documents: Vec<DocumentItem>,
    /// The company's default POS.
    pub is_default: bool,
    /// Bumped on every change; caches key on it.
    pub version: i64,
    /// Last successful provider call, Unix milliseconds.
    pub last_success_at: Option<i64>,
    /// Last provider error, readable, without secrets.
    pub last_error: Option<String>,
    /// Unix milliseconds.
    pub created_at: i64,
    /// Unix milliseconds.
    pub updated_at: i64,
    /// How many days a pre-authorisation may stay uncaptured before the janitor
    /// releases it (1 to 30; 7 unless the POS says otherwise).
    pub pre_auth_hold_days: u16,
}

/// The N Kolay columns of a POS written before settings documents (migration 7), read
/// once so the service can move them into its settings document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LegacyPos {
    /// `pos_…`.
    pub id: String,
    /// The company it belongs to (`cmp_…`); every read is filtered by it.
    pub company_id: String,
    /// The protocol (only `nkolay` existed).
    pub protocol: String,
    /// The provider's base URL.
    pub base_url: String,
    /// base64(nonce || AES-256-GCM ciphertext) of the credentials JSON.
    pub credentials_enc: String,
    /// The AutoComplete switch.
    pub auto_complete: bool,
}

/// A payment as stored. No card number or CVV, ever: masked PAN and fingerprint only.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaymentRecord {
    /// `pay_…`.
    pub id: String,
    /// The company it belongs to (`cmp_…`); every read is filtered by it.
    pub company_id: String,
    /// The POS it went through.
    pub pos_id: String,
    /// Where it stands.
    pub status: PaymentStatus,
    /// Amount asked for.
    pub amount: Kurus,
    /// The currency of `amount` and of every refund of this payment.
    pub currency: Currency,
    /// Installment count.
    pub installments: u8,
    /// First 6 + last 4.
    pub masked_pan: String,
    /// Keyed HMAC of the card number.
    pub card_fingerprint: String,
    /// Visa, Mastercard, …
    pub card_brand: String,
    /// Bank's authorization code.
    pub auth_code: Option<String>,
    /// Provider's reference of the sale.
    pub provider_ref: Option<String>,
    /// Bank response code of a decline.
    pub bank_code: Option<String>,
    /// What happened, in Turkish, as users read it (for a decline, the bank's reason).
    pub message_tr: Option<String>,
    /// The same text in English.
    pub message_en: Option<String>,
    /// How it reached us.
    pub channel: Channel,
    /// Order (sipariş) reference.
    pub order_ref: Option<String>,
    /// Customer account (cari) reference.
    pub customer_ref: Option<String>,
    /// The caller's own note, shown in lists and exports; never card data.
    pub description: Option<String>,
    /// Whether it went through 3D Secure.
    pub three_d: bool,
    /// Where the browser goes after 3D.
    pub return_url: Option<String>,
    /// The unguessable token of the 3D URLs.
    pub three_d_token: Option<String>,
    /// The provider's HTML that takes the browser to the bank; cleared when 3D ends.
    pub three_d_html: Option<String>,
    /// Our reference of the sale attempt; inquiry searches by it.
    pub sale_client_ref: String,
    /// What the cardholder was charged (amount plus surcharge).
    pub authorized_amount: Option<Kurus>,
    /// Refunded so far (cancel counts as everything).
    pub refunded_amount: Kurus,
    /// Europe/Istanbul day of the sale, `YYYY-MM-DD`.
    pub business_date: String,
    /// Set when a person must look at it.
    pub review_reason: Option<String>,
    /// `api:<key>`, `user:<name>`.
    pub created_by: String,
    /// Unix milliseconds.
    pub created_at: i64,
    /// Unix milliseconds.
    pub updated_at: i64,
    /// The cardholder's own IP (hosted page, or as an API caller gave it), counted by
    /// the per-IP velocity limit; `None` when unknown.
    pub client_ip: Option<String>,
    /// A pre-authorisation (manual capture): approval blocks the amount and makes the
    /// payment `authorized`; a capture or release follows.
    pub pre_auth: bool,
    /// For a pre-authorisation, the amount blocked on the card; `amount` becomes what
    /// the capture took. `None` for a sale.
    pub held_amount: Option<Kurus>,
    /// For a pre-authorisation, until when it may stay uncaptured (Unix ms); after it
    /// the janitor releases the block.
    pub hold_until: Option<i64>,
}

/// One provider call on behalf of a payment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AttemptRecord {
    /// `att_…`.
    pub id: String,
    /// The payment.
    pub payment_id: String,
    /// The company it belongs to (`cmp_…`); every read is filtered by it.
    pub company_id: String,
    /// What the call was.
    pub operation: Operation,
    /// Our reference sent with the call.
    pub client_ref: String,
    /// Dispatched or completed.
    pub state: AttemptState,
    /// Outcome once completed.
    pub outcome: Option<AttemptOutcome>,
    /// Bank code in the answer.
    pub bank_code: Option<String>,
    /// The provider's message, or why no answer came (timeout, refused connection).
    pub message: Option<String>,
    /// HTTP status of the answer.
    pub http_status: Option<i64>,
    /// How long the provider took to answer, in milliseconds.
    pub latency_ms: Option<i64>,
    /// The answer with card numbers masked.
    pub raw: Option<String>,
    /// Amount the call was about.
    pub amount: Kurus,
    /// Unix milliseconds.
    pub started_at: i64,
    /// Unix milliseconds.
    pub finished_at: Option<i64>,
}

/// How an attempt ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttemptResult {
    /// The attempt being completed (`att_…`), written as dispatched before the call.
    pub attempt_id: String,
    /// Outcome.
    pub outcome: AttemptOutcome,
    /// Bank code in the answer.
    pub bank_code: Option<String>,
    /// The provider's message, or why no answer came (timeout, refused connection).
    pub message: Option<String>,
    /// HTTP status.
    pub http_status: Option<i64>,
    /// How long the provider took to answer, in milliseconds.
    pub latency_ms: i64,
    /// The provider's answer with card numbers and secrets masked, kept for support.
    pub raw: Option<String>,
    /// Unix milliseconds.
    pub finished_at: i64,
}

/// A cancel or refund of a payment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RefundRecord {
    /// `ref_…`.
    pub id: String,
    /// The payment.
    pub payment_id: String,
    /// The company it belongs to (`cmp_…`); every read is filtered by it.
    pub company_id: String,
    /// Cancel or refund.
    pub kind: RefundKind,
    /// The amount to give back, in kuruş; never more than is still refundable.
    pub amount: Kurus,
    /// Where it stands.
    pub status: RefundStatus,
    /// Provider's reference of the cancel/refund.
    pub provider_ref: Option<String>,
    /// Bank code of a refusal.
    pub bank_code: Option<String>,
    /// What happened, in Turkish, as users read it (for a decline, the bank's reason).
    pub message_tr: Option<String>,
    /// The same text in English.
    pub message_en: Option<String>,
    /// Our reference of the attempt.
    pub client_ref: String,
    /// Unix milliseconds.
    pub created_at: i64,
    /// Unix milliseconds.
    pub updated_at: i64,
    /// When it was first scheduled (the provider's day was still open), Unix ms; set
    /// for every refund that was ever scheduled.
    pub scheduled_at: Option<i64>,
    /// While scheduled: when a background pass may next send it, Unix ms.
    pub next_try_at: Option<i64>,
    /// How often it was sent again and found the day still open.
    pub tries: i64,
}

/// What a finished cancel/refund attempt says about the refund.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefundResult {
    /// The refund being updated (`ref_…`).
    pub refund_id: String,
    /// The status the refund moves to.
    pub status: RefundStatus,
    /// Provider's reference.
    pub provider_ref: Option<String>,
    /// The bank's response code of a refusal (`51`, `05`); absent on approval.
    pub bank_code: Option<String>,
    /// What happened, in Turkish, as users read it (for a decline, the bank's reason).
    pub message_tr: Option<String>,
    /// The same text in English.
    pub message_en: Option<String>,
    /// With [`RefundStatus::Scheduled`]: when a background pass may next send it
    /// (Unix ms); ignored otherwise.
    pub retry_at: Option<i64>,
}

/// An audit event to append; the store assigns seq, prev_hash, hash and id.
#[derive(Debug, Clone, PartialEq)]
pub struct NewAudit {
    /// The company whose chain it is in: each company has its own sequence and hashes.
    pub company_id: String,
    /// `payment.approved`, `pos.updated`, …
    pub kind: String,
    /// Who: `api:<key>`, `user:<name>`, `janitor`.
    pub actor: String,
    /// The record it is about.
    pub subject_id: String,
    /// Details (never secrets or card data).
    pub data: serde_json::Value,
}

/// A stored audit event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuditEvent {
    /// `aud_…`.
    pub id: String,
    /// The company whose chain it is in: each company has its own sequence and hashes.
    pub company_id: String,
    /// 1, 2, 3 … per company.
    pub seq: i64,
    /// What happened, as a dotted name (`payment.approved`, `pos.updated`).
    pub kind: String,
    /// Who did it: `api:<key id>`, `user:<username>`, `janitor` or `system`.
    pub actor: String,
    /// The id of the record it concerns (`pay_…`, `pos_…`, `usr_…`).
    pub subject_id: String,
    /// Canonical JSON text of the details.
    pub data: String,
    /// Hash of the previous event (64 zeros for seq 1).
    pub prev_hash: String,
    /// This event's hash.
    pub hash: String,
    /// Unix milliseconds.
    pub created_at: i64,
    /// Which formula `hash` was computed by: 1 for events written before migration 8
    /// (the id outside the hash), 2 since (every stored column inside).
    pub hash_version: i64,
}

/// The result of checking one company's audit chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuditReport {
    /// The company.
    pub company_id: String,
    /// The company's name, so a report can be read without another lookup.
    pub company_name: String,
    /// How many events were read and their hashes recomputed.
    pub events: u64,
    /// The first broken event, if any.
    pub broken: Option<BrokenEvent>,
}

/// Where an audit chain breaks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BrokenEvent {
    /// The seq of the first event that does not check out.
    pub seq: i64,
    /// Its id (empty when the event is missing altogether).
    pub id: String,
    /// What did not check out (a hash that differs, a gap in `seq`), for the operator.
    pub reason: String,
}

/// What `idempotency_begin` found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IdempotencyBegin {
    /// The key is ours now: do the work, then `idempotency_finish` (or release).
    Started,
    /// The same request was done before: answer this.
    Replay {
        /// HTTP status.
        status: u16,
        /// The JSON body of the first answer, byte for byte.
        body: String,
    },
    /// The key was used with another request body.
    Mismatch,
    /// The first request with this key is still running.
    InProgress,
}

/// Filters of a payment list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PaymentQuery {
    /// created_at ≥ this (Unix ms).
    pub from: Option<i64>,
    /// created_at < this (Unix ms).
    pub to: Option<i64>,
    /// Only payments in this status.
    pub status: Option<PaymentStatus>,
    /// Only payments through this POS (`pos_…`).
    pub pos_id: Option<String>,
    /// Only payments carrying exactly this order reference.
    pub order_ref: Option<String>,
    /// Only payments carrying exactly this customer (cari) reference.
    pub customer_ref: Option<String>,
    /// How the payment reached us.
    pub channel: Option<Channel>,
    /// The card's last four digits (from the masked PAN).
    pub last4: Option<String>,
    /// Amount at least this.
    pub min_amount: Option<Kurus>,
    /// Amount at most this.
    pub max_amount: Option<Kurus>,
    /// Authorization code.
    pub auth_code: Option<String>,
    /// Provider reference.
    pub provider_ref: Option<String>,
    /// Continue after this (created_at, id), newest first.
    pub after: Option<(i64, String)>,
    /// The most rows to return; callers cap what users ask for.
    pub limit: u32,
}
