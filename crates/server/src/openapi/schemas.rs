//! The schemas of the API's bodies and answers, as the document declares them. The
//! `answers_match_their_schemas` test compares them with real answers, field by field.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

/// A text field with a fixed set of values, documented as an enum.
macro_rules! names {
    ($(#[$doc:meta])* $name:ident { $($variant:ident => $text:tt,)* }) => {
        $(#[$doc])*
        #[derive(Serialize, Deserialize, ToSchema)]
        pub enum $name {
            $(#[doc = $text] #[serde(rename = $text)] $variant,)*
        }
    };
}

names!(
    /// Where a payment stands.
    PaymentStatus {
        Processing => "processing",
        Pending3ds => "pending_3ds",
        Approved => "approved",
        Declined => "declined",
        Failed => "failed",
        Unknown => "unknown",
        Cancelled => "cancelled",
        PartiallyRefunded => "partially_refunded",
        Refunded => "refunded",
        Expired => "expired",
        Blocked => "blocked",
    }
);

names!(
    /// How a payment was taken.
    Channel {
        Api => "api",
        Hosted => "hosted",
        Moto => "moto",
        Manual => "manual",
        Reconciliation => "reconciliation",
    }
);

names!(
    /// ISO 4217 currency code.
    CurrencyCode {
        Try => "TRY",
        Usd => "USD",
        Eur => "EUR",
    }
);

names!(
    /// What a provider call was for.
    Operation {
        Sale => "sale",
        Start3d => "start_3d",
        Finish3d => "finish_3d",
        Cancel => "cancel",
        Refund => "refund",
        Inquiry => "inquiry",
    }
);

names!(
    /// Whether a provider call's answer is in.
    AttemptState {
        Dispatched => "dispatched",
        Completed => "completed",
    }
);

names!(
    /// What a provider call ended in.
    AttemptOutcome {
        Approved => "approved",
        Declined => "declined",
        Failed => "failed",
        Unknown => "unknown",
        Pending => "pending",
    }
);

names!(
    /// Cancel (void, on the sale's business day) or refund.
    RefundKind {
        Cancel => "cancel",
        Refund => "refund",
    }
);

names!(
    /// Where a cancel or refund stands.
    RefundStatus {
        Pending => "pending",
        Approved => "approved",
        Declined => "declined",
        Failed => "failed",
        Unknown => "unknown",
        Scheduled => "scheduled",
        Withdrawn => "withdrawn",
    }
);

names!(
    /// The class a reconciliation item ends in.
    ReconClass {
        Matched => "matched",
        AmountMismatch => "amount_mismatch",
        StatusMismatch => "status_mismatch",
        ProviderOnly => "provider_only",
        SystemOnly => "system_only",
        Duplicate => "duplicate",
    }
);

names!(
    /// A decision on a reconciliation exception.
    ResolveAction {
        Enter => "enter",
        ForceMatch => "force_match",
        Dismiss => "dismiss",
    }
);

names!(
    /// What became of a decided exception.
    Resolution {
        Entered => "entered",
        ForceMatched => "force_matched",
        Dismissed => "dismissed",
    }
);

names!(
    /// Where the provider's view of a run came from.
    ReconSource {
        Pull => "pull",
        Import => "import",
    }
);

names!(
    /// What a checkout session is for.
    SessionPurpose {
        Order => "order",
        Account => "account",
    }
);

names!(
    /// Where a checkout session stands.
    SessionStatus {
        Open => "open",
        Completed => "completed",
        Expired => "expired",
        Locked => "locked",
    }
);

names!(
    /// The hosted page's language.
    Language {
        Tr => "tr",
        En => "en",
    }
);

names!(
    /// A webhook event name.
    EventName {
        PaymentApproved => "payment.approved",
        PaymentDeclined => "payment.declined",
        PaymentCancelled => "payment.cancelled",
        PaymentRefunded => "payment.refunded",
        PaymentNeedsReview => "payment.needs_review",
        CheckoutSessionCompleted => "checkout_session.completed",
        CheckoutSessionLocked => "checkout_session.locked",
        ReconciliationExceptions => "reconciliation.exceptions",
    }
);

names!(
    /// Where a webhook delivery stands.
    DeliveryStatus {
        Pending => "pending",
        Delivered => "delivered",
        Failed => "failed",
    }
);

names!(
    /// How a statement writes amounts.
    NumberStyle {
        Turkish => "turkish",
        Dot => "dot",
    }
);

names!(
    /// A statement row field a column fills.
    StatementField {
        Time => "time",
        ValueDate => "value_date",
        Kind => "kind",
        Status => "status",
        ProviderRef => "provider_ref",
        ClientRef => "client_ref",
        AuthCode => "auth_code",
        MaskedPan => "masked_pan",
        Installments => "installments",
        Amount => "amount",
        AuthorizedAmount => "authorized_amount",
        Commission => "commission",
        Currency => "currency",
    }
);

/// The error envelope of every 4xx/5xx answer.
#[derive(Serialize, Deserialize, ToSchema)]
pub struct ErrorEnvelope {
    /// The error.
    pub error: ErrorBody,
}

/// An error.
#[derive(Serialize, Deserialize, ToSchema)]
pub struct ErrorBody {
    /// Stable machine code (see the error code table).
    pub code: String,
    /// For people, in English.
    pub message: String,
    /// The request field at fault.
    pub field: Option<String>,
}

/// A card. Sent only to create a payment; never stored or echoed.
#[derive(Serialize, Deserialize, ToSchema)]
pub struct Card {
    /// The card number (spaces allowed).
    #[schema(pattern = r"^[0-9 ]{12,23}$")]
    pub number: String,
    /// `MM`.
    #[schema(pattern = r"^(0?[1-9]|1[0-2])$")]
    pub expiry_month: String,
    /// `YYYY` or `YY`.
    #[schema(pattern = r"^([0-9]{2}|[0-9]{4})$")]
    pub expiry_year: String,
    /// 3 or 4 digits.
    #[schema(pattern = r"^[0-9]{3,4}$")]
    pub cvv: String,
    /// Name on the card.
    pub holder: Option<String>,
}

/// `POST /api/v1/payments`.
#[derive(Serialize, Deserialize, ToSchema)]
pub struct CreatePaymentBody {
    /// Decimal string with two places, `"150.00"`.
    #[schema(pattern = r"^\d+\.\d{2}$", example = "150.00")]
    pub amount: String,
    /// `TRY` (default), `USD`, `EUR`.
    pub currency: Option<CurrencyCode>,
    /// 1 (default) to 12.
    #[schema(minimum = 1, maximum = 12)]
    pub installments: Option<u8>,
    /// The card.
    pub card: Card,
    /// Go through 3D Secure (then `return_url` is required).
    pub three_d: Option<bool>,
    /// Where the cardholder's browser goes after 3D.
    pub return_url: Option<String>,
    /// Order (sipariş) reference.
    pub order_ref: Option<String>,
    /// Customer account (cari) reference.
    pub customer_ref: Option<String>,
    /// Free text.
    pub description: Option<String>,
    /// A specific POS; otherwise the default.
    pub pos_id: Option<String>,
    /// The cardholder's own IP address, as the shop saw it (IPv4 or IPv6). Counted by
    /// the per-IP velocity limit; without it only the per-card limit applies.
    pub cardholder_ip: Option<String>,
}

/// A text in Turkish and English.
#[derive(Serialize, Deserialize, ToSchema)]
pub struct Message {
    /// Turkish.
    pub tr: String,
    /// English.
    pub en: String,
}

/// What the browser must do next.
#[derive(Serialize, Deserialize, ToSchema)]
pub struct NextAction {
    /// Send the cardholder's browser here (3D Secure).
    pub redirect_url: String,
}

/// A payment.
#[derive(Serialize, Deserialize, ToSchema)]
pub struct Payment {
    /// `pay_…`.
    pub id: String,
    /// `processing`, `pending_3ds`, `approved`, `declined`, `failed`, `unknown`,
    /// `cancelled`, `partially_refunded`, `refunded`, `expired`, `blocked` (refused by
    /// a card-testing limit before the provider: nothing sent, nothing charged;
    /// `message` says why).
    pub status: PaymentStatus,
    /// Decimal string.
    #[schema(pattern = r"^\d+\.\d{2}$", example = "150.00")]
    pub amount: String,
    /// ISO 4217.
    pub currency: CurrencyCode,
    /// Installment count.
    pub installments: u8,
    /// First 6 and last 4 digits.
    pub masked_pan: String,
    /// Bank authorization code.
    pub auth_code: Option<String>,
    /// Provider reference.
    pub provider_ref: Option<String>,
    /// Bank answer code.
    pub bank_code: Option<String>,
    /// The outcome, in two languages.
    pub message: Option<Message>,
    /// Set while 3D Secure waits for the cardholder.
    pub next_action: Option<NextAction>,
    /// RFC 3339.
    pub created_at: String,
    /// The POS used.
    pub pos_id: String,
    /// Order reference.
    pub order_ref: Option<String>,
    /// Customer account reference.
    pub customer_ref: Option<String>,
    /// Free text.
    pub description: Option<String>,
    /// `api`, `hosted`, `moto`, `manual`, `reconciliation`.
    pub channel: Channel,
    /// Went through 3D Secure.
    pub three_d: bool,
    /// What the bank charged (with any installment surcharge).
    pub authorized_amount: Option<String>,
    /// Refunded so far.
    #[schema(pattern = r"^\d+\.\d{2}$", example = "150.00")]
    pub refunded_amount: String,
    /// Istanbul business day, `YYYY-MM-DD`.
    #[schema(pattern = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")]
    pub business_date: String,
    /// Set when a person must look at it.
    pub review_reason: Option<String>,
    /// `api:<key id>`, `user:<name>`, `hosted:<session>`.
    pub created_by: String,
    /// RFC 3339.
    pub updated_at: String,
}

/// One provider call of a payment.
#[derive(Serialize, Deserialize, ToSchema)]
pub struct Attempt {
    /// `att_…`.
    pub id: String,
    /// `sale`, `start_3d`, `finish_3d`, `inquiry`, `cancel`, `refund`, …
    pub operation: Operation,
    /// Our reference at the provider.
    pub client_ref: String,
    /// `dispatched` or `completed`.
    pub state: AttemptState,
    /// `approved`, `declined`, `failed`, `unknown`, `pending`.
    pub outcome: Option<AttemptOutcome>,
    /// Bank answer code.
    pub bank_code: Option<String>,
    /// Short text.
    pub message: Option<String>,
    /// HTTP status of the provider's answer.
    pub http_status: Option<i64>,
    /// Milliseconds.
    pub latency_ms: Option<i64>,
    /// Decimal string.
    pub amount: String,
    /// RFC 3339.
    pub started_at: String,
    /// RFC 3339.
    pub finished_at: Option<String>,
}

/// A cancel or refund.
#[derive(Serialize, Deserialize, ToSchema)]
pub struct Refund {
    /// `ref_…`.
    pub id: String,
    /// `cancel` or `refund`.
    pub kind: RefundKind,
    /// Decimal string.
    #[schema(pattern = r"^\d+\.\d{2}$", example = "150.00")]
    pub amount: String,
    /// `pending`, `approved`, `declined`, `unknown`, `failed`; `scheduled` (asked
    /// before the provider's business day closed: it already counts against the
    /// refundable amount and is carried out after the close), `withdrawn` (a scheduled
    /// refund taken back; its amount is refundable again).
    pub status: RefundStatus,
    /// Provider reference.
    pub provider_ref: Option<String>,
    /// Bank answer code.
    pub bank_code: Option<String>,
    /// The outcome, in two languages.
    pub message: Option<Message>,
    /// RFC 3339.
    pub created_at: String,
    /// RFC 3339.
    pub updated_at: String,
}

/// The answer to a refund request: the payment's fields at the top level, and the
/// cancel or refund the request made.
#[derive(Serialize, Deserialize, ToSchema)]
pub struct RefundAnswer {
    /// The payment as it now stands.
    #[serde(flatten)]
    pub payment: Payment,
    /// The refund made (`approved`, `scheduled`, …), or the cancel when the whole sale
    /// was asked back on its business day.
    pub refund: Refund,
}

/// A payment with its attempts and refunds (the payment's fields at the top level).
#[derive(Serialize, Deserialize, ToSchema)]
pub struct PaymentDetail {
    /// The payment.
    #[serde(flatten)]
    pub payment: Payment,
    /// Every provider call, oldest first.
    pub attempts: Vec<Attempt>,
    /// Cancels and refunds, oldest first.
    pub refunds: Vec<Refund>,
}

/// A page of payments, newest first.
#[derive(Serialize, Deserialize, ToSchema)]
pub struct PaymentPage {
    /// The payments.
    pub items: Vec<Payment>,
    /// Pass as `cursor` for the next page; absent on the last.
    pub next_cursor: Option<String>,
}

/// `POST /api/v1/payments/{id}/refunds`.
#[derive(Serialize, Deserialize, ToSchema)]
pub struct RefundBody {
    /// Decimal string; the whole remaining amount when absent.
    #[schema(pattern = r"^\d+\.\d{2}$", example = "25.00")]
    pub amount: Option<String>,
}

/// `POST /api/v1/reconciliations`.
#[derive(Serialize, Deserialize, ToSchema)]
pub struct ReconBody {
    /// The POS.
    #[schema(min_length = 1)]
    pub pos_id: String,
    /// First business day, `YYYY-MM-DD`.
    #[schema(pattern = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")]
    pub from: String,
    /// Last business day, `YYYY-MM-DD`.
    #[schema(pattern = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")]
    pub to: String,
}

/// `POST /api/v1/reconciliations/{id}/items/{item_id}/resolve`.
#[derive(Serialize, Deserialize, ToSchema)]
pub struct ResolveBody {
    /// `enter`, `force_match` or `dismiss`.
    pub action: ResolveAction,
    /// The payment to match (`force_match`).
    pub payment_id: Option<String>,
    /// Why (required for `dismiss`, a note otherwise).
    pub reason: Option<String>,
    /// `enter`: the customer account (cari hesap) the entered payment credits.
    #[schema(max_length = 100)]
    pub customer_ref: Option<String>,
    /// `enter`: the entered payment's order reference; the provider row's order number
    /// when absent.
    #[schema(max_length = 100)]
    pub order_ref: Option<String>,
    /// `enter`: the entered payment's description; "Entered from reconciliation run …"
    /// when absent.
    #[schema(max_length = 500)]
    pub description: Option<String>,
}

/// A payment offered for a force-match.
#[derive(Serialize, Deserialize, ToSchema)]
pub struct MatchCandidate {
    /// The payment.
    pub payment_id: String,
    /// When it was created, Unix milliseconds.
    pub created_at: i64,
    /// Its business day.
    #[schema(pattern = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")]
    pub business_date: String,
    /// Decimal string.
    #[schema(pattern = r"^\d+\.\d{2}$", example = "150.00")]
    pub amount: String,
    /// ISO 4217.
    pub currency: CurrencyCode,
    /// Its status.
    pub status: PaymentStatus,
    /// First 6 and last 4 digits.
    pub masked_pan: String,
    /// Customer account reference.
    pub customer_ref: Option<String>,
    /// Order reference.
    pub order_ref: Option<String>,
    /// One of the item's own payments (or the engine's proposal) rather than one found
    /// by amount, card and day.
    pub of_item: bool,
}

/// `GET /api/v1/reconciliations/{id}/items/{item_id}/candidates`.
#[derive(Serialize, Deserialize, ToSchema)]
pub struct MatchCandidates {
    /// The item's own payments first, then the POS's payments of the provider row's
    /// amount, card (last four digits) and day give or take one that nothing in the run
    /// has matched; at most 10. Empty for a matched or decided item.
    pub candidates: Vec<MatchCandidate>,
}

/// How many items of a run fall in each class.
#[derive(Serialize, Deserialize, ToSchema)]
pub struct ReconCounts {
    /// Same on both sides.
    pub matched: u64,
    /// Amounts differ.
    pub amount_mismatch: u64,
    /// Statuses differ.
    pub status_mismatch: u64,
    /// Missing in our system.
    pub provider_only: u64,
    /// Missing at the provider.
    pub system_only: u64,
    /// Duplicates.
    pub duplicate: u64,
}

/// A provider row that could not be used.
#[derive(Serialize, Deserialize, ToSchema)]
pub struct RejectedRow {
    /// The provider's reference, or `-`.
    pub reference: String,
    /// The statement line of a bad row left out on import.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line: Option<u32>,
    /// Why, in English.
    pub reason: String,
    /// Why, as data: `kind` (`left_out_on_import`, `outside_period`, `unusable`) and its
    /// parameters, for a client that writes the reason in its own language.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub cause: Option<Value>,
}

names!(
    /// Which installment-table check did not hold.
    ReconFlagKind {
        Commission => "commission",
        ValueDate => "value_date",
    }
);

/// A check against the POS's installment table that did not hold on an item.
#[derive(Serialize, Deserialize, ToSchema)]
pub struct ReconFlag {
    /// `commission`: the provider kept another commission than the table promises;
    /// `value_date`: the money arrives on another day.
    pub kind: ReconFlagKind,
    /// What the table promises: an amount (`"1.79"`) or a day (`"2026-12-05"`).
    pub expected: String,
    /// What the provider reports, in the same form.
    pub actual: String,
}

/// One decision unit of a run.
#[derive(Serialize, Deserialize, ToSchema)]
pub struct ReconItem {
    /// The item.
    pub id: String,
    /// `matched`, `amount_mismatch`, `status_mismatch`, `provider_only`, `system_only`,
    /// `duplicate`.
    pub class: ReconClass,
    /// Why it is in its class.
    pub reason: String,
    /// The transaction code matched on.
    pub match_key: Option<String>,
    /// Our payments.
    pub payment_ids: Vec<String>,
    /// The provider's rows, as read.
    #[schema(value_type = Vec<Object>)]
    pub provider_rows: Value,
    /// Our amount.
    pub ours: String,
    /// The provider's amount.
    pub theirs: String,
    /// Our cancelled/refunded amount.
    pub ours_reversed: String,
    /// The provider's cancelled/refunded amount.
    pub theirs_reversed: String,
    /// The suggested action.
    pub proposal: Option<String>,
    /// Checks against the POS's installment table that did not hold (commission, value
    /// date); empty when all held. They never change the item's class.
    #[schema(value_type = Vec<ReconFlag>)]
    pub flags: Value,
    /// `entered`, `force_matched`, `dismissed`.
    pub resolution: Option<Resolution>,
    /// Why it was dismissed.
    pub resolution_reason: Option<String>,
    /// The payment entered or matched.
    pub resolution_payment_id: Option<String>,
    /// Who decided.
    pub resolved_by: Option<String>,
    /// Unix ms.
    pub resolved_at: Option<i64>,
}

/// A reconciliation run with its items.
#[derive(Serialize, Deserialize, ToSchema)]
pub struct ReconRun {
    /// The run.
    pub id: String,
    /// The POS.
    pub pos_id: String,
    /// Pulled from the provider's report, or imported from a statement file.
    pub source: ReconSource,
    /// First business day.
    pub from: String,
    /// Last business day.
    pub to: String,
    /// `completed` once classified.
    pub status: String,
    /// Counts per class.
    pub summary: ReconCounts,
    /// Exceptions not decided yet.
    pub open_exceptions: u64,
    /// Totals per class, ours and theirs.
    #[schema(value_type = Object)]
    pub totals: Value,
    /// Provider rows that could not be used.
    pub rejected_rows: Vec<RejectedRow>,
    /// The items (exceptions first).
    pub items: Vec<ReconItem>,
    /// Who ran it.
    pub created_by: String,
    /// Unix ms.
    pub created_at: i64,
}

/// A run without its items.
#[derive(Serialize, Deserialize, ToSchema)]
pub struct ReconRunEntry {
    /// The run.
    pub id: String,
    /// The POS.
    pub pos_id: String,
    /// Pulled from the provider's report, or imported from a statement file.
    pub source: ReconSource,
    /// First business day.
    pub from: String,
    /// Last business day.
    pub to: String,
    /// `completed` once classified.
    pub status: String,
    /// Counts per class.
    pub summary: ReconCounts,
    /// Who ran it.
    pub created_by: String,
    /// Unix ms.
    pub created_at: i64,
}

/// The latest runs, without their items.
#[derive(Serialize, Deserialize, ToSchema)]
pub struct ReconRunList {
    /// Newest first.
    pub runs: Vec<ReconRunEntry>,
}

/// `POST /api/v1/checkout-sessions`.
#[derive(Serialize, Deserialize, ToSchema)]
pub struct CheckoutSessionBody {
    /// `order` (fixed amount, "Siparişi Sonlandır") or `account` (the cardholder picks
    /// an amount within the limits, "Finans Ödeme"; payment links).
    pub purpose: SessionPurpose,
    /// The order's amount (order).
    #[schema(pattern = r"^\d+\.\d{2}$", example = "249.90")]
    pub amount: Option<String>,
    /// The least (account; default 0.01).
    #[schema(pattern = r"^\d+\.\d{2}$", example = "10.00")]
    pub min_amount: Option<String>,
    /// The most (account).
    #[schema(pattern = r"^\d+\.\d{2}$", example = "500.00")]
    pub max_amount: Option<String>,
    /// `TRY` (default).
    pub currency: Option<CurrencyCode>,
    /// Order reference.
    pub order_ref: Option<String>,
    /// Customer account reference.
    pub customer_ref: Option<String>,
    /// Shown on the page.
    pub description: Option<String>,
    /// The shop's page the browser returns to (required for orders).
    pub return_url: Option<String>,
    /// 1 to 12 (default 12).
    #[schema(minimum = 1, maximum = 12)]
    pub max_installments: Option<u8>,
    /// `tr` (default) or `en`.
    pub language: Option<Language>,
    /// Seconds (default 1800 for orders, 7 days for accounts; at most 90 days).
    #[schema(minimum = 1, maximum = 7776000)]
    pub expires_in: Option<u64>,
}

/// A checkout session.
#[derive(Serialize, Deserialize, ToSchema)]
pub struct CheckoutSession {
    /// `cs_…`.
    pub id: String,
    /// The hosted page: send the cardholder here (or send it as a payment link).
    pub url: String,
    /// RFC 3339.
    pub expires_at: String,
    /// `order` or `account`.
    pub purpose: SessionPurpose,
    /// `open`, `completed`, `expired` or `locked` (too many unsuccessful attempts;
    /// the owner reopens it from the back office).
    pub status: SessionStatus,
    /// The order's amount.
    pub amount: Option<String>,
    /// Account: the least.
    pub min_amount: Option<String>,
    /// Account: the most.
    pub max_amount: Option<String>,
    /// ISO 4217.
    pub currency: CurrencyCode,
    /// Order reference.
    pub order_ref: Option<String>,
    /// Customer account reference.
    pub customer_ref: Option<String>,
    /// Shown on the page (and in a payment link's e-mail).
    pub description: Option<String>,
    /// The page's language (and a payment link's e-mail's).
    pub language: Language,
    /// The shop's return page.
    pub return_url: Option<String>,
    /// The latest payment made on the page.
    pub payment_id: Option<String>,
    /// RFC 3339.
    pub created_at: String,
    /// Only in the creating answer, and only with a `return_url`: the key of the
    /// signed return (HMAC-SHA256 of `"<t>.<session_id>.<payment_id>.<status>"`).
    pub return_secret: Option<String>,
}

/// A page of payment links, newest first.
#[derive(Serialize, Deserialize, ToSchema)]
pub struct PaymentLinkPage {
    /// The links (account checkout sessions).
    pub items: Vec<CheckoutSession>,
    /// Pass as `cursor` for the next page; absent on the last.
    pub next_cursor: Option<String>,
}

/// `POST /api/v1/payment-links/{id}/send`.
#[derive(Serialize, Deserialize, ToSchema)]
pub struct SendLinkBody {
    /// One plain address.
    #[schema(max_length = 254, example = "musteri@firma.com.tr")]
    pub email: String,
    /// A personal note put above the link's details.
    #[schema(max_length = 1000)]
    pub note: Option<String>,
}

/// A payment link the mail server took.
#[derive(Serialize, Deserialize, ToSchema)]
pub struct LinkSent {
    /// `cs_…`.
    pub id: String,
    /// The address it went to.
    pub recipient: String,
    /// Always `sent`.
    pub status: SentStatus,
}

names!(
    /// The outcome of a sending that succeeded.
    SentStatus {
        Sent => "sent",
    }
);

/// `POST /api/v1/webhook-endpoints`.
#[derive(Serialize, Deserialize, ToSchema)]
pub struct WebhookEndpointBody {
    /// Absolute http(s) URL.
    #[schema(pattern = r"^https?://[^/?#\s]+", max_length = 2000)]
    pub url: String,
    /// Any of `payment.approved`, `payment.declined`, `payment.cancelled`,
    /// `payment.refunded`, `payment.needs_review`, `checkout_session.completed`,
    /// `checkout_session.locked`, `reconciliation.exceptions`.
    #[schema(min_items = 1)]
    pub events: Vec<EventName>,
}

/// A webhook endpoint.
#[derive(Serialize, Deserialize, ToSchema)]
pub struct WebhookEndpoint {
    /// `whe_…`.
    pub id: String,
    /// Where events are POSTed.
    pub url: String,
    /// Subscribed events.
    pub events: Vec<EventName>,
    /// RFC 3339.
    pub created_at: String,
}

/// A new endpoint and its signing secret, shown only this once.
#[derive(Serialize, Deserialize, ToSchema)]
pub struct WebhookEndpointCreated {
    /// The endpoint.
    #[serde(flatten)]
    pub endpoint: WebhookEndpoint,
    /// `whsec_…`: the key of the `Sanalpos-Signature` HMAC.
    pub secret: String,
}

/// The company's endpoints.
#[derive(Serialize, Deserialize, ToSchema)]
pub struct WebhookEndpointList {
    /// Oldest first.
    pub items: Vec<WebhookEndpoint>,
}

/// One try of a delivery.
#[derive(Serialize, Deserialize, ToSchema)]
pub struct DeliveryTry {
    /// 1 for the first.
    pub try_no: i64,
    /// The `t` of the signature sent.
    pub signed_at: i64,
    /// The answer's HTTP status.
    pub http_status: Option<i64>,
    /// The start of the answer's body.
    pub response: Option<String>,
    /// Why there was no answer (timeout, refused).
    pub error: Option<String>,
    /// When the next try was scheduled.
    pub next_attempt_at: Option<String>,
    /// RFC 3339.
    pub started_at: String,
    /// Milliseconds from this answer to the next try.
    pub backoff_ms: Option<i64>,
}

/// One event for one endpoint.
#[derive(Serialize, Deserialize, ToSchema)]
pub struct Delivery {
    /// `whd_…`.
    pub id: String,
    /// `evt_…` (the `id` in the body; the same on every try).
    pub event_id: String,
    /// The event name.
    pub event_type: EventName,
    /// `pending`, `delivered` or `failed`.
    pub status: DeliveryStatus,
    /// Tries made.
    pub tries: i64,
    /// The next try (pending only).
    pub next_attempt_at: Option<String>,
    /// The last answer's HTTP status.
    pub last_http_status: Option<i64>,
    /// The start of the last answer's body.
    pub last_response: Option<String>,
    /// Why the last try had no answer.
    pub last_error: Option<String>,
    /// RFC 3339.
    pub created_at: String,
    /// RFC 3339.
    pub delivered_at: Option<String>,
    /// Every try, oldest first.
    pub attempts: Vec<DeliveryTry>,
}

/// An endpoint's deliveries.
#[derive(Serialize, Deserialize, ToSchema)]
pub struct DeliveryList {
    /// Newest first.
    pub items: Vec<Delivery>,
}

/// The body of every webhook POST. Header `Sanalpos-Signature: t=<unix seconds>,v1=<hex
/// HMAC-SHA256 of "<t>.<body>" under the endpoint's secret>`.
#[derive(Serialize, Deserialize, ToSchema)]
pub struct WebhookEvent {
    /// `evt_…`: deduplicate on it (a delivery may arrive more than once).
    pub id: String,
    /// The event name.
    #[serde(rename = "type")]
    pub kind: EventName,
    /// RFC 3339.
    pub created_at: String,
    /// `{payment}` for payment events; `{checkout_session, payment}` for
    /// `checkout_session.completed`; `{checkout_session, failed_attempts}` for
    /// `checkout_session.locked`; `{reconciliation}` for `reconciliation.exceptions`.
    #[schema(value_type = Object)]
    pub data: Value,
}

/// A statement column: a header of the file and the row field it fills.
#[derive(Serialize, Deserialize, ToSchema)]
pub struct StatementColumn {
    /// The header text, compared without surrounding spaces and without regard to case.
    pub header: String,
    /// `time`, `value_date`, `kind`, `status`, `provider_ref`, `client_ref`, `auth_code`,
    /// `masked_pan`, `installments`, `amount`, `authorized_amount`, `commission` or
    /// `currency`.
    pub field: StatementField,
}

/// How a bank's or the provider's statement file is read: the body of a create or
/// replace.
#[derive(Serialize, Deserialize, ToSchema)]
pub struct StatementProfileBody {
    /// A name a person recognizes, unique per POS.
    #[schema(min_length = 1)]
    pub name: String,
    /// Header to field.
    #[schema(min_items = 1)]
    pub columns: Vec<StatementColumn>,
    /// `turkish` (`1.234,56`) or `dot` (`1234.56`).
    pub numbers: NumberStyle,
    /// `chrono` formats tried in order for date-time columns (`%d.%m.%Y %H:%M:%S`).
    pub time_formats: Vec<String>,
    /// `chrono` formats tried in order for the value date.
    pub date_formats: Vec<String>,
    /// `[text, kind]` pairs: the file's type text and `sale`, `cancel`, `refund` or
    /// `partial_refund`.
    pub kinds: Vec<Vec<String>>,
    /// `[text, status]` pairs: the file's status text and `success`, `error` or `new`.
    pub statuses: Vec<Vec<String>>,
}

/// A statement profile saved for a POS.
#[derive(Serialize, Deserialize, ToSchema)]
pub struct StatementProfile {
    /// `stp_…`.
    pub id: String,
    /// The POS whose statements it reads.
    pub pos_id: String,
    /// Its name.
    pub name: String,
    /// The mapping.
    pub profile: StatementProfileBody,
    /// Who saved it first.
    pub created_by: String,
    /// RFC 3339.
    pub created_at: String,
    /// RFC 3339.
    pub updated_at: String,
}

/// The statement profiles of a POS.
#[derive(Serialize, Deserialize, ToSchema)]
pub struct StatementProfileList {
    /// Newest first.
    pub items: Vec<StatementProfile>,
}
