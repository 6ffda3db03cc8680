//! Webhooks: per-company endpoints, signatures, and the delivery worker.
//!
//! Events are written to the outbox by the store, in the transaction of the change
//! that causes them. The worker ([`PaymentService::spawn_webhook_worker`]) leases due
//! deliveries, POSTs each event's JSON body with the header
//! `Sanalpos-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">` under the
//! endpoint's secret, and records every try. A 2xx answer delivers; anything else is
//! tried again after `backoff_base · 2^(tries-1)` (at most six hours apart) until the
//! retry window (three days by default) is over, then the delivery is failed. Failed
//! and delivered ones can be sent again by hand.

use std::time::Duration;

use hmac::{Hmac, Mac};
use serde::Serialize;
use sha2::Sha256;
use subtle::ConstantTimeEq;

use sanalpos_store::{
    new_id, new_token, DeliveryRecord, DeliveryStatus, DeliveryTryRecord, DeliveryTryResult,
    DueDelivery, NewAudit, WebhookEndpointRecord, WEBHOOK_EVENTS,
};

use crate::error::ServiceError;
use crate::types::rfc3339;
use crate::PaymentService;

/// The header carrying the signature.
pub const SIGNATURE_HEADER: &str = "Sanalpos-Signature";

/// How the delivery worker runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookWorkerConfig {
    /// Whether this instance sends deliveries at all.
    pub enabled: bool,
    /// The wait after the first failed try; doubled after each further one.
    pub backoff_base: Duration,
    /// The longest wait between two tries.
    pub backoff_max: Duration,
    /// How long a delivery is retried before it is failed (three days).
    pub retry_for: Duration,
    /// Time for one POST.
    pub timeout: Duration,
    /// How often the worker looks for due deliveries.
    pub poll_interval: Duration,
}

impl Default for WebhookWorkerConfig {
    fn default() -> WebhookWorkerConfig {
        WebhookWorkerConfig {
            enabled: true,
            backoff_base: Duration::from_secs(30),
            backoff_max: Duration::from_secs(6 * 3600),
            retry_for: Duration::from_secs(3 * 24 * 3600),
            timeout: Duration::from_secs(10),
            poll_interval: Duration::from_secs(1),
        }
    }
}

impl WebhookWorkerConfig {
    /// The wait after `tries` failed tries.
    pub fn backoff(&self, tries: i64) -> Duration {
        let exp = u32::try_from(tries.saturating_sub(1).clamp(0, 30)).unwrap_or(30);
        self.backoff_base
            .saturating_mul(2u32.saturating_pow(exp))
            .min(self.backoff_max)
    }
}

/// A webhook endpoint as the API shows it (never the secret).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[schema(as = WebhookEndpoint)]
pub struct WebhookEndpointView {
    /// `whe_…`.
    pub id: String,
    /// Where events are POSTed.
    pub url: String,
    /// The subscribed events.
    #[schema(value_type = Vec<crate::names::EventName>)]
    pub events: Vec<String>,
    /// RFC 3339.
    pub created_at: String,
}

impl From<&WebhookEndpointRecord> for WebhookEndpointView {
    fn from(e: &WebhookEndpointRecord) -> WebhookEndpointView {
        WebhookEndpointView {
            id: e.id.clone(),
            url: e.url.clone(),
            events: e.events.clone(),
            created_at: rfc3339(e.created_at),
        }
    }
}

/// One try of a delivery.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[schema(as = DeliveryTry)]
pub struct DeliveryTryView {
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
    /// When the next try was scheduled (RFC 3339), if one was.
    pub next_attempt_at: Option<String>,
    /// RFC 3339.
    pub started_at: String,
    /// Milliseconds from this try's answer (its end) to the next try it scheduled.
    pub backoff_ms: Option<i64>,
}

impl From<&DeliveryTryRecord> for DeliveryTryView {
    fn from(t: &DeliveryTryRecord) -> DeliveryTryView {
        DeliveryTryView {
            try_no: t.try_no,
            signed_at: t.signed_at,
            http_status: t.http_status,
            response: t.response.clone(),
            error: t.error.clone(),
            next_attempt_at: t.next_attempt_at.map(rfc3339),
            started_at: rfc3339(t.started_at),
            backoff_ms: t.next_attempt_at.map(|n| n - t.finished_at),
        }
    }
}

/// A delivery with its tries.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[schema(as = Delivery)]
pub struct DeliveryView {
    /// `whd_…`.
    pub id: String,
    /// `evt_…`: the `id` in the body, the same on every try (receivers deduplicate on
    /// it).
    pub event_id: String,
    /// The event name.
    #[schema(value_type = crate::names::EventName)]
    pub event_type: String,
    /// `pending`, `delivered` or `failed`.
    #[schema(value_type = sanalpos_store::DeliveryStatus)]
    pub status: &'static str,
    /// Tries made.
    pub tries: i64,
    /// The next try (pending only), RFC 3339.
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
    pub attempts: Vec<DeliveryTryView>,
}

fn delivery_view(d: &DeliveryRecord, tries: &[DeliveryTryRecord]) -> DeliveryView {
    DeliveryView {
        id: d.id.clone(),
        event_id: d.event_id.clone(),
        event_type: d.event_kind.clone(),
        status: d.status.as_str(),
        tries: d.tries,
        next_attempt_at: (d.status == DeliveryStatus::Pending).then(|| rfc3339(d.next_attempt_at)),
        last_http_status: d.last_http_status,
        last_response: d.last_response.clone(),
        last_error: d.last_error.clone(),
        created_at: rfc3339(d.created_at),
        delivered_at: d.delivered_at.map(rfc3339),
        attempts: tries.iter().map(DeliveryTryView::from).collect(),
    }
}

/// `t=<t>,v1=<hex HMAC-SHA256 of "<t>.<body>" under secret>`.
pub fn webhook_signature(secret: &str, t: i64, body: &[u8]) -> String {
    format!("t={t},v1={}", hex::encode(sign(secret, t, body)))
}

fn sign(secret: &str, t: i64, body: &[u8]) -> Vec<u8> {
    // HMAC takes keys of any length; this cannot fail.
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret.as_bytes())
        .unwrap_or_else(|_| unreachable!("HMAC accepts any key length"));
    mac.update(t.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    mac.finalize().into_bytes().to_vec()
}

/// Checks a `Sanalpos-Signature` header against the body, in constant time, and that
/// its timestamp is within `tolerance_secs` of `now_secs` (replays of old deliveries
/// are refused). What a receiving shop does; `Err` says why it is refused.
pub fn verify_webhook_signature(
    secret: &str,
    header: &str,
    body: &[u8],
    now_secs: i64,
    tolerance_secs: i64,
) -> Result<(), &'static str> {
    let mut t = None;
    let mut candidates = Vec::new();
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", v)) => t = v.parse::<i64>().ok(),
            Some(("v1", v)) => candidates.push(v.to_owned()),
            _ => {}
        }
    }
    let t = t.ok_or("no timestamp")?;
    if (now_secs - t).abs() > tolerance_secs {
        return Err("timestamp outside the tolerance");
    }
    let expected = sign(secret, t, body);
    for candidate in candidates {
        if let Ok(bytes) = hex::decode(candidate) {
            if bool::from(bytes.ct_eq(&expected)) {
                return Ok(());
            }
        }
    }
    Err("signature mismatch")
}

fn check_url(url: &str) -> Result<String, ServiceError> {
    let url = url.trim();
    if url.len() <= 2000 && sanalpos_core::fields::is_absolute_http(url) {
        Ok(url.to_owned())
    } else {
        Err(ServiceError::validation(
            "url",
            "an absolute http(s) URL of at most 2000 characters",
        ))
    }
}

fn check_events(events: &[String]) -> Result<Vec<String>, ServiceError> {
    if events.is_empty() {
        return Err(ServiceError::validation(
            "events",
            format!("at least one of {}", WEBHOOK_EVENTS.join(", ")),
        ));
    }
    let mut out: Vec<String> = Vec::new();
    for e in events {
        if !WEBHOOK_EVENTS.contains(&e.as_str()) {
            return Err(ServiceError::validation(
                "events",
                format!("unknown event {e:?}; known: {}", WEBHOOK_EVENTS.join(", ")),
            ));
        }
        if !out.contains(e) {
            out.push(e.clone());
        }
    }
    Ok(out)
}

pub(crate) async fn create_endpoint(
    service: &PaymentService,
    company_id: &str,
    url: &str,
    events: &[String],
    actor: &str,
) -> Result<(WebhookEndpointView, String), ServiceError> {
    let url = check_url(url)?;
    let events = check_events(events)?;
    let secret = format!("whsec_{}", new_token());
    let record = WebhookEndpointRecord {
        id: new_id("whe"),
        company_id: company_id.to_owned(),
        url,
        events,
        secret_enc: service.inner.crypto.encrypt_credentials(&secret)?,
        created_by: actor.to_owned(),
        created_at: service.now_ms(),
        deleted_at: None,
    };
    let audit = NewAudit {
        company_id: company_id.to_owned(),
        kind: "webhook_endpoint.created".into(),
        actor: actor.to_owned(),
        subject_id: record.id.clone(),
        data: serde_json::json!({ "url": record.url, "events": record.events }),
    };
    service
        .inner
        .store
        .insert_webhook_endpoint(record.clone(), audit)
        .await?;
    Ok((WebhookEndpointView::from(&record), secret))
}

pub(crate) async fn list_deliveries(
    service: &PaymentService,
    company_id: &str,
    endpoint_id: &str,
    limit: u32,
) -> Result<Vec<DeliveryView>, ServiceError> {
    let store = &service.inner.store;
    store.get_webhook_endpoint(company_id, endpoint_id).await?;
    let deliveries = store
        .list_deliveries(company_id, endpoint_id, limit.clamp(1, 200))
        .await?;
    let ids: Vec<String> = deliveries.iter().map(|d| d.id.clone()).collect();
    let tries = store.list_tries_of_deliveries(&ids).await?;
    Ok(deliveries
        .iter()
        .map(|d| delivery_view(d, tries.get(&d.id).map_or(&[][..], Vec::as_slice)))
        .collect())
}

pub(crate) async fn resend(
    service: &PaymentService,
    company_id: &str,
    endpoint_id: &str,
    delivery_id: &str,
    actor: &str,
) -> Result<DeliveryView, ServiceError> {
    let store = &service.inner.store;
    let (delivery, _) = store.get_delivery(company_id, delivery_id).await?;
    if delivery.endpoint_id != endpoint_id {
        return Err(ServiceError::NotFound);
    }
    let audit = NewAudit {
        company_id: company_id.to_owned(),
        kind: "webhook_delivery.resent".into(),
        actor: actor.to_owned(),
        subject_id: delivery_id.to_owned(),
        data: serde_json::json!({
            "endpoint_id": endpoint_id,
            "event_id": delivery.event_id,
            "event_kind": delivery.event_kind,
            "status_before": delivery.status.as_str(),
        }),
    };
    store
        .resend_delivery(company_id, delivery_id, audit)
        .await?;
    let (delivery, _) = store.get_delivery(company_id, delivery_id).await?;
    let tries = store.list_delivery_tries(delivery_id).await?;
    Ok(delivery_view(&delivery, &tries))
}

/// What one worker pass did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WebhookPass {
    /// Accepted by their endpoint.
    pub delivered: u32,
    /// Failed this time, tried again later.
    pub retrying: u32,
    /// Given up.
    pub failed: u32,
}

fn client(config: &WebhookWorkerConfig) -> Result<reqwest::Client, ServiceError> {
    reqwest::Client::builder()
        .timeout(config.timeout)
        .redirect(reqwest::redirect::Policy::none())
        .user_agent("sanalpos-webhooks/1")
        .build()
        .map_err(|e| ServiceError::Storage(format!("HTTP client: {e}")))
}

/// The most of an endpoint's answer that is read and kept.
const MAX_ANSWER: usize = 4096;

fn excerpt(text: &str) -> String {
    text.chars().take(1000).collect()
}

async fn send_one(
    service: &PaymentService,
    http: &reqwest::Client,
    config: &WebhookWorkerConfig,
    owner: &str,
    due: DueDelivery,
) -> Result<DeliveryStatus, ServiceError> {
    let started_at = service.now_ms();
    let t = started_at / 1000;
    let (http_status, response, error) =
        match service.inner.crypto.decrypt_credentials(&due.secret_enc) {
            // Recorded as a failed try (and retried), not left leased: a master key that
            // changed must show in the deliveries list.
            Err(_) => (
                None,
                None,
                Some("the endpoint's secret cannot be decrypted".to_owned()),
            ),
            Ok(secret) => {
                let signature = webhook_signature(&secret, t, due.payload.as_bytes());
                let answer = http
                    .post(&due.url)
                    .header("content-type", "application/json")
                    .header(SIGNATURE_HEADER, signature)
                    .header("Sanalpos-Event", &due.delivery.event_kind)
                    .header("Sanalpos-Delivery", &due.delivery.id)
                    .body(due.payload.clone())
                    .send()
                    .await;
                match answer {
                    Ok(mut r) => {
                        let status = i64::from(r.status().as_u16());
                        // Only the start of the answer is kept; the rest is not read.
                        let mut body = Vec::new();
                        while body.len() < MAX_ANSWER {
                            match r.chunk().await {
                                Ok(Some(chunk)) => body.extend_from_slice(&chunk),
                                _ => break,
                            }
                        }
                        body.truncate(MAX_ANSWER);
                        (
                            Some(status),
                            Some(excerpt(&String::from_utf8_lossy(&body))),
                            None,
                        )
                    }
                    Err(e) => {
                        let why = if e.is_timeout() {
                            "timed out"
                        } else if e.is_connect() {
                            "could not connect"
                        } else {
                            "request failed"
                        };
                        (None, None, Some(why.to_owned()))
                    }
                }
            }
        };
    let ok = http_status.is_some_and(|s| (200..300).contains(&s));
    let now = service.now_ms();
    let tries = due.delivery.tries + 1;
    let (status, next) = if ok {
        (DeliveryStatus::Delivered, None)
    } else {
        let next = now + config.backoff(tries).as_millis() as i64;
        if next > due.delivery.retry_from + config.retry_for.as_millis() as i64 {
            (DeliveryStatus::Failed, None)
        } else {
            (DeliveryStatus::Pending, Some(next))
        }
    };
    tracing::info!(
        webhook.delivery = %due.delivery.id,
        webhook.event = %due.delivery.event_kind,
        http_status = ?http_status,
        status = status.as_str(),
        "webhook try"
    );
    service
        .inner
        .store
        .finish_delivery_try(DeliveryTryResult {
            delivery_id: due.delivery.id.clone(),
            owner: owner.to_owned(),
            signed_at: t,
            http_status,
            response,
            error,
            status,
            next_attempt_at: next,
            started_at,
            finished_at: now,
        })
        .await?;
    Ok(status)
}

pub(crate) async fn run_once(
    service: &PaymentService,
    config: &WebhookWorkerConfig,
) -> Result<WebhookPass, ServiceError> {
    let http = client(config)?;
    run_with(service, config, &http).await
}

async fn run_with(
    service: &PaymentService,
    config: &WebhookWorkerConfig,
    http: &reqwest::Client,
) -> Result<WebhookPass, ServiceError> {
    let owner = format!("{}:webhooks", service.inner.config.instance_id);
    let lease_ms = config.timeout.as_millis() as i64 * 2 + 5_000;
    let due = service
        .inner
        .store
        .lease_due_deliveries(&owner, lease_ms, 50)
        .await?;
    let mut pass = WebhookPass::default();
    // Concurrently: deliveries to a slow endpoint do not queue the others.
    let sends = due
        .into_iter()
        .map(|d| send_one(service, http, config, &owner, d));
    for result in futures_util::future::join_all(sends).await {
        match result? {
            DeliveryStatus::Delivered => pass.delivered += 1,
            DeliveryStatus::Pending => pass.retrying += 1,
            DeliveryStatus::Failed => pass.failed += 1,
        }
    }
    Ok(pass)
}

pub(crate) fn spawn(
    service: PaymentService,
    config: WebhookWorkerConfig,
    mut shutdown: tokio::sync::watch::Receiver<bool>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        if !config.enabled {
            return;
        }
        let http = match client(&config) {
            Ok(h) => h,
            Err(e) => {
                tracing::error!(error = %e, "webhook worker cannot start");
                return;
            }
        };
        let interval = config.poll_interval.max(Duration::from_millis(20));
        loop {
            if *shutdown.borrow() {
                break;
            }
            let worked = match run_with(&service, &config, &http).await {
                Ok(pass) => pass != WebhookPass::default(),
                Err(e) => {
                    tracing::warn!(error = %e, code = e.code(), "webhook pass failed");
                    false
                }
            };
            if worked {
                continue;
            }
            tokio::select! {
                _ = tokio::time::sleep(interval) => {}
                changed = shutdown.changed() => {
                    if changed.is_err() || *shutdown.borrow() {
                        break;
                    }
                }
            }
        }
    })
}

impl PaymentService {
    /// Adds a webhook endpoint; returns it and its signing secret, shown only now (it
    /// is stored encrypted).
    pub async fn create_webhook_endpoint(
        &self,
        company_id: &str,
        url: &str,
        events: &[String],
        actor: &str,
    ) -> Result<(WebhookEndpointView, String), ServiceError> {
        create_endpoint(self, company_id, url, events, actor).await
    }

    /// A company's webhook endpoints (never their secrets).
    pub async fn list_webhook_endpoints(
        &self,
        company_id: &str,
    ) -> Result<Vec<WebhookEndpointView>, ServiceError> {
        let all = self.inner.store.list_webhook_endpoints(company_id).await?;
        Ok(all.iter().map(WebhookEndpointView::from).collect())
    }

    /// Deletes an endpoint (audited); its pending deliveries are dropped.
    pub async fn delete_webhook_endpoint(
        &self,
        company_id: &str,
        id: &str,
        actor: &str,
    ) -> Result<(), ServiceError> {
        let audit = NewAudit {
            company_id: company_id.to_owned(),
            kind: "webhook_endpoint.deleted".into(),
            actor: actor.to_owned(),
            subject_id: id.to_owned(),
            data: serde_json::json!({}),
        };
        Ok(self
            .inner
            .store
            .delete_webhook_endpoint(company_id, id, audit)
            .await?)
    }

    /// An endpoint's deliveries, newest first, each with every try and its answer.
    pub async fn list_webhook_deliveries(
        &self,
        company_id: &str,
        endpoint_id: &str,
        limit: u32,
    ) -> Result<Vec<DeliveryView>, ServiceError> {
        list_deliveries(self, company_id, endpoint_id, limit).await
    }

    /// Sends a delivery again now (with a fresh retry window); audited as
    /// `webhook_delivery.resent` with `actor` and the delivery.
    pub async fn resend_webhook_delivery(
        &self,
        company_id: &str,
        endpoint_id: &str,
        delivery_id: &str,
        actor: &str,
    ) -> Result<DeliveryView, ServiceError> {
        resend(self, company_id, endpoint_id, delivery_id, actor).await
    }

    /// One pass of the delivery worker: sends every due delivery once.
    pub async fn run_webhook_worker_once(
        &self,
        config: &WebhookWorkerConfig,
    ) -> Result<WebhookPass, ServiceError> {
        run_once(self, config).await
    }

    /// Runs the delivery worker until `shutdown` turns true (does nothing when the
    /// config disables it).
    pub fn spawn_webhook_worker(
        &self,
        config: WebhookWorkerConfig,
        shutdown: tokio::sync::watch::Receiver<bool>,
    ) -> tokio::task::JoinHandle<()> {
        spawn(self.clone(), config, shutdown)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_verify_and_refuse_tampering() {
        let body = br#"{"id":"evt_1"}"#;
        let header = webhook_signature("whsec_x", 1_700_000_000, body);
        assert!(header.starts_with("t=1700000000,v1="));
        assert_eq!(
            verify_webhook_signature("whsec_x", &header, body, 1_700_000_010, 300),
            Ok(())
        );
        assert_eq!(
            verify_webhook_signature("whsec_x", &header, br#"{"id":"evt_2"}"#, 1_700_000_010, 300),
            Err("signature mismatch")
        );
        assert_eq!(
            verify_webhook_signature("whsec_y", &header, body, 1_700_000_010, 300),
            Err("signature mismatch")
        );
        assert_eq!(
            verify_webhook_signature("whsec_x", &header, body, 1_700_009_000, 300),
            Err("timestamp outside the tolerance")
        );
    }

    #[test]
    fn signature_matches_an_independent_hmac() {
        // HMAC-SHA256 of "1.x" under "Jefe", computed with Python's hmac module (the
        // sample in docs/INTEGRATION.md).
        assert_eq!(
            webhook_signature("Jefe", 1, b"x"),
            "t=1,v1=2f7ccbd0f043456ad29514b2d24a8aa345ec6673a5db1b44e91c8ac99d1841e3"
        );
    }

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let c = WebhookWorkerConfig {
            backoff_base: Duration::from_secs(30),
            backoff_max: Duration::from_secs(3600),
            ..WebhookWorkerConfig::default()
        };
        assert_eq!(c.backoff(1), Duration::from_secs(30));
        assert_eq!(c.backoff(2), Duration::from_secs(60));
        assert_eq!(c.backoff(3), Duration::from_secs(120));
        assert_eq!(c.backoff(20), Duration::from_secs(3600));
    }
}
