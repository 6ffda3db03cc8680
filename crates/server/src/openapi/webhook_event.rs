//! The body of a webhook POST, as the document declares it for the shop's receiving
//! end. Every request and answer of the API itself is described by the type its
//! handler reads or sends (the body types in `api/`, the service's views).

use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

use sanalpos_service::EventName;

/// The body of every webhook POST. Header `Sanalpos-Signature: t=<unix seconds>,v1=<hex
/// HMAC-SHA256 of "<t>.<body>" under the endpoint's secret>`.
#[derive(Serialize, ToSchema)]
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
