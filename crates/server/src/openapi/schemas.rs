//! The request bodies the handlers still read field by field, as the document declares
//! them, and the body of a webhook POST. Every answer's schema is derived from the type
//! the handler sends (`sanalpos_service`'s views, the answer types in `api/`).

use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use sanalpos_core::{Currency, Lang};
use sanalpos_service::{EventName, SessionPurpose};

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
    /// A decision on a reconciliation exception.
    ResolveAction {
        Enter => "enter",
        ForceMatch => "force_match",
        Dismiss => "dismiss",
    }
);

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

/// `POST /api/v1/checkout-sessions`.
#[derive(Serialize, Deserialize, ToSchema)]
pub struct CheckoutSessionBody {
    /// `order` (fixed amount, "Siparişi Sonlandır") or `account` (the cardholder picks
    /// an amount within the limits, "Finans Ödeme"; payment links).
    #[schema(value_type = SessionPurpose)]
    pub purpose: String,
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
    pub currency: Option<Currency>,
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
    pub language: Option<Lang>,
    /// Seconds (default 1800 for orders, 7 days for accounts; at most 90 days).
    #[schema(minimum = 1, maximum = 7776000)]
    pub expires_in: Option<u64>,
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
    #[schema(value_type = Vec<EventName>)]
    pub events: Vec<String>,
}

/// The body of every webhook POST. Header `Sanalpos-Signature: t=<unix seconds>,v1=<hex
/// HMAC-SHA256 of "<t>.<body>" under the endpoint's secret>`.
#[derive(Serialize, Deserialize, ToSchema)]
pub struct WebhookEvent {
    /// `evt_…`: deduplicate on it (a delivery may arrive more than once).
    pub id: String,
    /// The event name.
    #[serde(rename = "type")]
    #[schema(value_type = EventName)]
    pub kind: String,
    /// RFC 3339.
    pub created_at: String,
    /// `{payment}` for payment events; `{checkout_session, payment}` for
    /// `checkout_session.completed`; `{checkout_session, failed_attempts}` for
    /// `checkout_session.locked`; `{reconciliation}` for `reconciliation.exceptions`.
    #[schema(value_type = Object)]
    pub data: Value,
}
