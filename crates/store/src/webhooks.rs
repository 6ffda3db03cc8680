//! Webhook endpoints and the deliveries of their events.
//!
//! Events and their delivery rows are written by the outbox ([`crate::outbox`]) inside
//! the transaction of the change that causes them. A delivery worker then takes due
//! deliveries with a per-row lease ([`Store::lease_due_deliveries`]), so two instances
//! never send the same one at once, and records every try
//! ([`Store::finish_delivery_try`]).

use std::collections::HashMap;

use sqlx::any::AnyRow;

use crate::model::NewAudit;
use crate::rows::{int, opt_int, opt_text, text};
use crate::{new_id, Store, StoreError};

/// Every event a webhook endpoint can subscribe to.
pub const WEBHOOK_EVENTS: &[&str] = &[
    "payment.approved",
    "payment.declined",
    "payment.cancelled",
    "payment.refunded",
    "payment.authorized",
    "payment.captured",
    "payment.released",
    "payment.needs_review",
    "checkout_session.completed",
    "checkout_session.locked",
    "reconciliation.exceptions",
];

/// A company's webhook endpoint. The secret is stored encrypted (`secret_enc`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookEndpointRecord {
    /// `whe_…`.
    pub id: String,
    /// The company it belongs to (`cmp_…`).
    pub company_id: String,
    /// Where events are POSTed.
    pub url: String,
    /// The subscribed event names.
    pub events: Vec<String>,
    /// The signing secret, encrypted with the store's [`Crypto`](crate::Crypto).
    pub secret_enc: String,
    /// Who created it: `user:<username>` or `api:<key id>`.
    pub created_by: String,
    /// Unix ms.
    pub created_at: i64,
    /// When deleted (no new deliveries), Unix ms.
    pub deleted_at: Option<i64>,
}

/// Where a delivery stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, utoipa::ToSchema)]
#[schema(rename_all = "snake_case")]
pub enum DeliveryStatus {
    /// Waiting for its next try.
    Pending,
    /// The endpoint answered 2xx.
    Delivered,
    /// Given up after the retry window.
    Failed,
}

impl DeliveryStatus {
    /// The stored (and JSON) name.
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryStatus::Pending => "pending",
            DeliveryStatus::Delivered => "delivered",
            DeliveryStatus::Failed => "failed",
        }
    }

    /// Reads a stored name.
    pub fn parse(text: &str) -> Option<DeliveryStatus> {
        match text {
            "pending" => Some(DeliveryStatus::Pending),
            "delivered" => Some(DeliveryStatus::Delivered),
            "failed" => Some(DeliveryStatus::Failed),
            _ => None,
        }
    }
}

/// One event for one endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryRecord {
    /// `whd_…`.
    pub id: String,
    /// The event (`evt_…`).
    pub event_id: String,
    /// The event's name (`payment.approved`), which endpoints subscribe to.
    pub event_kind: String,
    /// The endpoint it goes to (`whe_…`).
    pub endpoint_id: String,
    /// The company it belongs to (`cmp_…`).
    pub company_id: String,
    /// Pending until the endpoint accepts it or the retry window runs out.
    pub status: DeliveryStatus,
    /// Tries made so far.
    pub tries: i64,
    /// When the next try is due, Unix ms.
    pub next_attempt_at: i64,
    /// Start of the retry window (creation, or the last manual resend), Unix ms.
    pub retry_from: i64,
    /// The HTTP status of the last answer.
    pub last_http_status: Option<i64>,
    /// The start of the last answer's body.
    pub last_response: Option<String>,
    /// Why the last try failed without an answer (timeout, refused).
    pub last_error: Option<String>,
    /// Unix ms.
    pub created_at: i64,
    /// Unix ms.
    pub updated_at: i64,
    /// When the endpoint accepted it, Unix ms.
    pub delivered_at: Option<i64>,
}

/// A delivery taken by the worker: what to send and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DueDelivery {
    /// The delivery it is about (`whd_…`).
    pub delivery: DeliveryRecord,
    /// The endpoint URL.
    pub url: String,
    /// The endpoint's encrypted secret.
    pub secret_enc: String,
    /// The exact body to POST (the event JSON, identical on every try).
    pub payload: String,
}

/// One try of a delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryTryRecord {
    /// 1 for the first try.
    pub try_no: i64,
    /// The `t` of the signature, Unix seconds.
    pub signed_at: i64,
    /// The answer's HTTP status.
    pub http_status: Option<i64>,
    /// The start of the answer's body.
    pub response: Option<String>,
    /// Why there was no answer.
    pub error: Option<String>,
    /// When the next try was scheduled (`None` when delivered or given up), Unix ms.
    pub next_attempt_at: Option<i64>,
    /// Unix ms.
    pub started_at: i64,
    /// Unix ms.
    pub finished_at: i64,
}

/// How a try ended, and what follows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryTryResult {
    /// The delivery it is about (`whd_…`).
    pub delivery_id: String,
    /// The worker's lease owner (the result is only recorded while it holds the lease).
    pub owner: String,
    /// The `t` of the signature, Unix seconds.
    pub signed_at: i64,
    /// The answer's HTTP status.
    pub http_status: Option<i64>,
    /// The start of the answer's body.
    pub response: Option<String>,
    /// Why there was no answer.
    pub error: Option<String>,
    /// What the try leaves it as: delivered, pending (with `next_attempt_at`) or failed.
    pub status: DeliveryStatus,
    /// When pending: the next try, Unix ms.
    pub next_attempt_at: Option<i64>,
    /// Unix ms.
    pub started_at: i64,
    /// When the answer came (the backoff counts from here), Unix ms.
    pub finished_at: i64,
}

pub(crate) fn endpoint_from(row: &AnyRow) -> Result<WebhookEndpointRecord, StoreError> {
    let events: Vec<String> = serde_json::from_str(&text(row, "events")?)
        .map_err(|e| StoreError::corrupt(format!("events: {e}")))?;
    Ok(WebhookEndpointRecord {
        id: text(row, "id")?,
        company_id: text(row, "company_id")?,
        url: text(row, "url")?,
        events,
        secret_enc: text(row, "secret_enc")?,
        created_by: text(row, "created_by")?,
        created_at: int(row, "created_at")?,
        deleted_at: opt_int(row, "deleted_at")?,
    })
}

fn delivery_from(row: &AnyRow) -> Result<DeliveryRecord, StoreError> {
    Ok(DeliveryRecord {
        id: text(row, "id")?,
        event_id: text(row, "event_id")?,
        event_kind: text(row, "kind")?,
        endpoint_id: text(row, "endpoint_id")?,
        company_id: text(row, "company_id")?,
        status: DeliveryStatus::parse(&text(row, "status")?)
            .ok_or_else(|| StoreError::corrupt("delivery status"))?,
        tries: int(row, "tries")?,
        next_attempt_at: int(row, "next_attempt_at")?,
        retry_from: int(row, "retry_from")?,
        last_http_status: opt_int(row, "last_http_status")?,
        last_response: opt_text(row, "last_response")?,
        last_error: opt_text(row, "last_error")?,
        created_at: int(row, "created_at")?,
        updated_at: int(row, "updated_at")?,
        delivered_at: opt_int(row, "delivered_at")?,
    })
}

const DELIVERY_SELECT: &str = "SELECT d.*, e.kind, e.payload, w.url, w.secret_enc \
     FROM webhook_deliveries d JOIN webhook_events e ON e.id = d.event_id \
     JOIN webhook_endpoints w ON w.id = d.endpoint_id";

impl Store {
    /// Adds a webhook endpoint, with its audit event.
    pub async fn insert_webhook_endpoint(
        &self,
        endpoint: WebhookEndpointRecord,
        audit: NewAudit,
    ) -> Result<(), StoreError> {
        let chains = vec![audit.company_id.clone()];
        self.db
            .write_for(chains, (endpoint, audit), |c, (e, audit)| {
                Box::pin(async move {
                    let events = crate::rows::to_json(&e.events)?;
                    sqlx::query(
                        "INSERT INTO webhook_endpoints (id, company_id, url, events, secret_enc, created_by, created_at, deleted_at) \
                         VALUES ($1, $2, $3, $4, $5, $6, $7, NULL)",
                    )
                    .bind(&e.id)
                    .bind(&e.company_id)
                    .bind(&e.url)
                    .bind(events)
                    .bind(&e.secret_enc)
                    .bind(&e.created_by)
                    .bind(e.created_at)
                    .execute(&mut *c)
                    .await?;
                    crate::audit::append(c, audit).await
                })
            })
            .await
    }

    /// A company's live endpoints, oldest first.
    pub async fn list_webhook_endpoints(
        &self,
        company_id: &str,
    ) -> Result<Vec<WebhookEndpointRecord>, StoreError> {
        let rows = sqlx::query(
            "SELECT * FROM webhook_endpoints WHERE company_id = $1 AND deleted_at IS NULL ORDER BY created_at, id",
        )
        .bind(company_id)
        .fetch_all(&self.db.read)
        .await?;
        rows.iter().map(endpoint_from).collect()
    }

    /// One live endpoint of a company.
    pub async fn get_webhook_endpoint(
        &self,
        company_id: &str,
        id: &str,
    ) -> Result<WebhookEndpointRecord, StoreError> {
        let row = sqlx::query(
            "SELECT * FROM webhook_endpoints WHERE id = $1 AND company_id = $2 AND deleted_at IS NULL",
        )
        .bind(id)
        .bind(company_id)
        .fetch_optional(&self.db.read)
        .await?
        .ok_or(StoreError::NotFound)?;
        endpoint_from(&row)
    }

    /// Deletes an endpoint, with its audit event: no new deliveries; pending ones are
    /// dropped (marked failed).
    pub async fn delete_webhook_endpoint(
        &self,
        company_id: &str,
        id: &str,
        audit: NewAudit,
    ) -> Result<(), StoreError> {
        let chains = vec![audit.company_id.clone()];
        let args = (company_id.to_owned(), id.to_owned(), crate::now_ms(), audit);
        self.db
            .write_for(chains, args, |c, (company_id, id, now, audit)| {
                Box::pin(async move {
                    let done = sqlx::query(
                        "UPDATE webhook_endpoints SET deleted_at = $1 WHERE id = $2 AND company_id = $3 AND deleted_at IS NULL",
                    )
                    .bind(*now)
                    .bind(id)
                    .bind(company_id)
                    .execute(&mut *c)
                    .await?;
                    if done.rows_affected() == 0 {
                        return Err(StoreError::NotFound);
                    }
                    sqlx::query(
                        "UPDATE webhook_deliveries SET status = $1, last_error = $2, updated_at = $3 \
                         WHERE endpoint_id = $4 AND status = $5",
                    )
                    .bind(DeliveryStatus::Failed.as_str())
                    .bind("endpoint deleted")
                    .bind(*now)
                    .bind(id)
                    .bind(DeliveryStatus::Pending.as_str())
                    .execute(&mut *c)
                    .await?;
                    crate::audit::append(c, audit).await
                })
            })
            .await
    }

    /// An endpoint's deliveries, newest first (at most `limit`).
    pub async fn list_deliveries(
        &self,
        company_id: &str,
        endpoint_id: &str,
        limit: u32,
    ) -> Result<Vec<DeliveryRecord>, StoreError> {
        let rows = sqlx::query(&format!(
            "{DELIVERY_SELECT} WHERE d.endpoint_id = $1 AND d.company_id = $2 \
             ORDER BY d.created_at DESC, d.id DESC LIMIT $3"
        ))
        .bind(endpoint_id)
        .bind(company_id)
        .bind(i64::from(limit))
        .fetch_all(&self.db.read)
        .await?;
        rows.iter().map(delivery_from).collect()
    }

    /// One delivery of a company, with its event body.
    pub async fn get_delivery(
        &self,
        company_id: &str,
        id: &str,
    ) -> Result<(DeliveryRecord, String), StoreError> {
        let row = sqlx::query(&format!(
            "{DELIVERY_SELECT} WHERE d.id = $1 AND d.company_id = $2"
        ))
        .bind(id)
        .bind(company_id)
        .fetch_optional(&self.db.read)
        .await?
        .ok_or(StoreError::NotFound)?;
        Ok((delivery_from(&row)?, text(&row, "payload")?))
    }

    /// A delivery's tries, oldest first.
    pub async fn list_delivery_tries(
        &self,
        delivery_id: &str,
    ) -> Result<Vec<DeliveryTryRecord>, StoreError> {
        let rows = sqlx::query(
            "SELECT * FROM webhook_delivery_tries WHERE delivery_id = $1 ORDER BY try_no",
        )
        .bind(delivery_id)
        .fetch_all(&self.db.read)
        .await?;
        rows.iter().map(delivery_try_from).collect()
    }

    /// The tries of several deliveries (a page of an endpoint's list) in one query,
    /// oldest first, by delivery id; a delivery never tried has no entry.
    pub async fn list_tries_of_deliveries(
        &self,
        delivery_ids: &[String],
    ) -> Result<HashMap<String, Vec<DeliveryTryRecord>>, StoreError> {
        let mut by_delivery: HashMap<String, Vec<DeliveryTryRecord>> = HashMap::new();
        if delivery_ids.is_empty() {
            return Ok(by_delivery);
        }
        let placeholders = (1..=delivery_ids.len())
            .map(|i| format!("${i}"))
            .collect::<Vec<_>>()
            .join(", ");
        let sql = format!(
            "SELECT * FROM webhook_delivery_tries WHERE delivery_id IN ({placeholders}) \
             ORDER BY delivery_id, try_no"
        );
        let mut query = sqlx::query(&sql);
        for id in delivery_ids {
            query = query.bind(id);
        }
        for row in query.fetch_all(&self.db.read).await? {
            by_delivery
                .entry(text(&row, "delivery_id")?)
                .or_default()
                .push(delivery_try_from(&row)?);
        }
        Ok(by_delivery)
    }

    /// The events recorded about a subject (a payment or a checkout session), oldest
    /// first: `(kind, payload)`.
    pub async fn list_events_of(
        &self,
        subject_id: &str,
    ) -> Result<Vec<(String, String)>, StoreError> {
        let rows = sqlx::query(
            "SELECT kind, payload FROM webhook_events WHERE subject_id = $1 ORDER BY created_at, id",
        )
        .bind(subject_id)
        .fetch_all(&self.db.read)
        .await?;
        rows.iter()
            .map(|row| Ok((text(row, "kind")?, text(row, "payload")?)))
            .collect()
    }

    /// Sends a delivery again now: pending, with a fresh retry window; `audit` records
    /// who asked, in the same transaction.
    pub async fn resend_delivery(
        &self,
        company_id: &str,
        id: &str,
        audit: NewAudit,
    ) -> Result<(), StoreError> {
        let chains = vec![audit.company_id.clone()];
        let args = (company_id.to_owned(), id.to_owned(), crate::now_ms(), audit);
        self.db
            .write_for(chains, args, |c, (company_id, id, now, audit)| {
                Box::pin(async move {
                    let done = sqlx::query(
                        "UPDATE webhook_deliveries SET status = $1, next_attempt_at = $2, retry_from = $3, \
                         updated_at = $4 WHERE id = $5 AND company_id = $6 AND endpoint_id IN \
                         (SELECT id FROM webhook_endpoints WHERE deleted_at IS NULL)",
                    )
                    .bind(DeliveryStatus::Pending.as_str())
                    .bind(*now)
                    .bind(*now)
                    .bind(*now)
                    .bind(id)
                    .bind(company_id)
                    .execute(&mut *c)
                    .await?;
                    if done.rows_affected() == 0 {
                        return Err(StoreError::NotFound);
                    }
                    crate::audit::append(c, audit).await
                })
            })
            .await
    }

    /// Takes up to `limit` due deliveries for `lease_ms`: each row is leased by an
    /// update that only succeeds while no one else holds it, so two instances never
    /// send the same delivery at once.
    pub async fn lease_due_deliveries(
        &self,
        owner: &str,
        lease_ms: i64,
        limit: u32,
    ) -> Result<Vec<DueDelivery>, StoreError> {
        let now = crate::now_ms();
        let ids: Vec<String> = sqlx::query_scalar(
            "SELECT id FROM webhook_deliveries WHERE status = $1 AND next_attempt_at <= $2 \
             AND (lease_until IS NULL OR lease_until < $3) ORDER BY next_attempt_at LIMIT $4",
        )
        .bind(DeliveryStatus::Pending.as_str())
        .bind(now)
        .bind(now)
        .bind(i64::from(limit))
        .fetch_all(&self.db.read)
        .await?;
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let args = (ids, owner.to_owned(), now, lease_ms);
        let taken: Vec<String> = self
            .db
            .write(args, |c, (ids, owner, now, lease_ms)| {
                Box::pin(async move {
                    let mut taken = Vec::new();
                    for id in ids {
                        let done = sqlx::query(
                            "UPDATE webhook_deliveries SET lease_owner = $1, lease_until = $2 \
                             WHERE id = $3 AND status = $4 AND next_attempt_at <= $5 \
                             AND (lease_until IS NULL OR lease_until < $6)",
                        )
                        .bind(owner)
                        .bind(*now + *lease_ms)
                        .bind(id)
                        .bind(DeliveryStatus::Pending.as_str())
                        .bind(*now)
                        .bind(*now)
                        .execute(&mut *c)
                        .await?;
                        if done.rows_affected() > 0 {
                            taken.push(id.clone());
                        }
                    }
                    Ok(taken)
                })
            })
            .await?;
        let mut due = Vec::with_capacity(taken.len());
        for id in taken {
            let row = sqlx::query(&format!("{DELIVERY_SELECT} WHERE d.id = $1"))
                .bind(&id)
                .fetch_one(&self.db.read)
                .await?;
            due.push(DueDelivery {
                delivery: delivery_from(&row)?,
                url: text(&row, "url")?,
                secret_enc: text(&row, "secret_enc")?,
                payload: text(&row, "payload")?,
            });
        }
        Ok(due)
    }

    /// Records a try and the delivery's new state, if the worker still holds the lease.
    /// Returns whether it did.
    pub async fn finish_delivery_try(&self, result: DeliveryTryResult) -> Result<bool, StoreError> {
        self.db
            .write(result, |c, r| {
                Box::pin(async move {
                    let now = crate::now_ms();
                    let tries: Option<i64> = sqlx::query_scalar(
                        "SELECT tries FROM webhook_deliveries WHERE id = $1 AND lease_owner = $2",
                    )
                    .bind(&r.delivery_id)
                    .bind(&r.owner)
                    .fetch_optional(&mut *c)
                    .await?;
                    let Some(tries) = tries else {
                        return Ok(false);
                    };
                    let try_no = tries + 1;
                    sqlx::query(
                        "INSERT INTO webhook_delivery_tries (id, delivery_id, try_no, signed_at, http_status, \
                         response, error, next_attempt_at, started_at, finished_at) \
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
                    )
                    .bind(new_id("wht"))
                    .bind(&r.delivery_id)
                    .bind(try_no)
                    .bind(r.signed_at)
                    .bind(r.http_status)
                    .bind(&r.response)
                    .bind(&r.error)
                    .bind(r.next_attempt_at)
                    .bind(r.started_at)
                    .bind(r.finished_at)
                    .execute(&mut *c)
                    .await?;
                    let delivered_at = (r.status == DeliveryStatus::Delivered).then_some(now);
                    sqlx::query(
                        "UPDATE webhook_deliveries SET status = $1, tries = $2, next_attempt_at = COALESCE($3, next_attempt_at), \
                         last_http_status = $4, last_response = $5, last_error = $6, lease_owner = NULL, lease_until = NULL, \
                         updated_at = $7, delivered_at = COALESCE($8, delivered_at) WHERE id = $9",
                    )
                    .bind(r.status.as_str())
                    .bind(try_no)
                    .bind(r.next_attempt_at)
                    .bind(r.http_status)
                    .bind(&r.response)
                    .bind(&r.error)
                    .bind(now)
                    .bind(delivered_at)
                    .bind(&r.delivery_id)
                    .execute(&mut *c)
                    .await?;
                    Ok(true)
                })
            })
            .await
    }
}

fn delivery_try_from(row: &AnyRow) -> Result<DeliveryTryRecord, StoreError> {
    Ok(DeliveryTryRecord {
        try_no: int(row, "try_no")?,
        signed_at: int(row, "signed_at")?,
        http_status: opt_int(row, "http_status")?,
        response: opt_text(row, "response")?,
        error: opt_text(row, "error")?,
        next_attempt_at: opt_int(row, "next_attempt_at")?,
        started_at: int(row, "started_at")?,
        finished_at: int(row, "finished_at")?,
    })
}
