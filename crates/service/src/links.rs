//! Payment links as the company manages them: the filtered list with keyset paging
//! (the payment list's cursor and order), and the record of a link sent by e-mail.
//!
//! Sending is the server's job (it holds the SMTP settings and the mail's texts); the
//! service says which link may be sent and what it is, and writes the audit event of
//! each try, sent or failed, with the recipient and never anything else personal.

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::json;

use sanalpos_core::{Kurus, Lang};
use sanalpos_store::{SessionPurpose, SessionQuery, SessionState};

use crate::checkout::{view, CheckoutSessionView};
use crate::error::ServiceError;
use crate::payments::{decode_cursor, encode_cursor};
use crate::types::Actor;
use crate::PaymentService;

/// Filters of the payment-link list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LinkFilter {
    /// Created at or after.
    pub from: Option<DateTime<Utc>>,
    /// Created before.
    pub to: Option<DateTime<Utc>>,
    /// `open`, `completed` or `expired`.
    pub status: Option<String>,
    /// A piece of the customer reference, order reference, description or link id.
    pub text: Option<String>,
    /// The link's largest amount at least this.
    pub min_amount: Option<Kurus>,
    /// The link's largest amount at most this.
    pub max_amount: Option<Kurus>,
    /// 1 to 200; default 50.
    pub limit: Option<u32>,
    /// Opaque; from the previous page's `next_cursor`.
    pub cursor: Option<String>,
}

/// One page of payment links, newest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[schema(as = PaymentLinkPage)]
pub struct LinkPage {
    /// The links (account checkout sessions).
    pub items: Vec<CheckoutSessionView>,
    /// Pass as `cursor` for the next page; `null` on the last.
    pub next_cursor: Option<String>,
}

/// What an e-mail about a link says: the link, whose company sends it, and in which
/// language (the link's own, the one its page speaks).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkMail {
    /// The link.
    pub link: CheckoutSessionView,
    /// The company's trade name.
    pub company_name: String,
    /// The link's language.
    pub lang: Lang,
}

/// The statuses a link filter takes.
pub const LINK_STATUSES: &[&str] = &["open", "locked", "completed", "expired"];

/// Most characters of the text filter.
const MAX_TEXT: usize = 100;

fn query_of(filter: &LinkFilter, now: i64) -> Result<SessionQuery, ServiceError> {
    let limit = filter.limit.unwrap_or(50);
    if !(1..=200).contains(&limit) {
        return Err(ServiceError::validation("limit", "1 to 200"));
    }
    let state = match filter.status.as_deref().map(str::trim) {
        None | Some("") => None,
        Some("open") => Some(SessionState::Open),
        Some("completed") => Some(SessionState::Completed),
        Some("expired") => Some(SessionState::Expired),
        Some("locked") => Some(SessionState::Locked),
        Some(_) => {
            return Err(ServiceError::validation(
                "status",
                "open, locked, completed or expired",
            ))
        }
    };
    let text = match filter.text.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(t) if t.chars().count() > MAX_TEXT || t.chars().any(char::is_control) => {
            return Err(ServiceError::validation(
                "q",
                format!("at most {MAX_TEXT} characters, no control characters"),
            ))
        }
        Some(t) => Some(t.to_owned()),
    };
    if let (Some(min), Some(max)) = (filter.min_amount, filter.max_amount) {
        if min > max {
            return Err(ServiceError::validation(
                "min_amount",
                "the smallest amount must not exceed the largest",
            ));
        }
    }
    if let (Some(from), Some(to)) = (filter.from, filter.to) {
        if from > to {
            return Err(ServiceError::validation("from", "must not be after `to`"));
        }
    }
    let after = match &filter.cursor {
        Some(cursor) => Some(
            decode_cursor(cursor)
                .ok_or_else(|| ServiceError::validation("cursor", "not a cursor from this API"))?,
        ),
        None => None,
    };
    Ok(SessionQuery {
        purpose: SessionPurpose::Account,
        state,
        now,
        from: filter.from.map(|t| t.timestamp_millis()),
        to: filter.to.map(|t| t.timestamp_millis()),
        text,
        min_amount: filter.min_amount,
        max_amount: filter.max_amount,
        after,
        // One more than asked: its presence says there is a next page.
        limit: limit + 1,
    })
}

impl PaymentService {
    /// A page of the company's payment links, newest first, filtered.
    pub async fn list_payment_links(
        &self,
        company_id: &str,
        filter: &LinkFilter,
    ) -> Result<LinkPage, ServiceError> {
        let query = query_of(filter, self.now_ms())?;
        let limit = (query.limit - 1) as usize;
        let mut rows = self
            .inner
            .store
            .list_checkout_sessions(company_id, &query)
            .await?;
        let next_cursor = if rows.len() > limit {
            rows.truncate(limit);
            rows.last().map(|s| encode_cursor(s.created_at, &s.id))
        } else {
            None
        };
        Ok(LinkPage {
            items: rows.iter().map(|s| view(self, s)).collect(),
            next_cursor,
        })
    }

    /// A payment link of the company (not an order session: those are the shop's).
    pub async fn get_payment_link(
        &self,
        company_id: &str,
        id: &str,
    ) -> Result<CheckoutSessionView, ServiceError> {
        let link = self.get_checkout_session(company_id, id).await?;
        if link.purpose != SessionPurpose::Account.as_str() {
            return Err(ServiceError::NotFound);
        }
        Ok(link)
    }

    /// What an e-mail about the link says. Only an open link is worth sending: a paid
    /// or expired one is refused (`link_not_open`).
    pub async fn payment_link_mail(
        &self,
        company_id: &str,
        id: &str,
    ) -> Result<LinkMail, ServiceError> {
        let link = self.get_payment_link(company_id, id).await?;
        if link.status != "open" {
            return Err(ServiceError::conflict(
                "link_not_open",
                "the payment link is paid or expired; make a new one",
            ));
        }
        let record = self.inner.store.get_checkout_session(id).await?;
        let company = self.inner.store.get_company(company_id).await?;
        Ok(LinkMail {
            link,
            company_name: company.name,
            lang: Lang::parse(&record.language).unwrap_or(Lang::Tr),
        })
    }

    /// Writes the audit event of one e-mail of a link: `payment_link.sent`, or
    /// `payment_link.send_failed` with the mail server's reason. The data is the
    /// recipient, the language and whether a note was added (not the note itself).
    pub async fn record_link_mail(
        &self,
        caller: &Actor,
        mail: &LinkMail,
        recipient: &str,
        with_note: bool,
        failure: Option<&str>,
    ) -> Result<(), ServiceError> {
        let mut data = json!({
            "recipient": recipient,
            "language": mail.lang.as_str(),
            "with_note": with_note,
        });
        let kind = match failure {
            None => "payment_link.sent",
            Some(reason) => {
                data["reason"] = json!(reason);
                "payment_link.send_failed"
            }
        };
        self.inner
            .store
            .append_audit(sanalpos_store::NewAudit {
                company_id: caller.company_id.clone(),
                kind: kind.into(),
                actor: caller.name.clone(),
                subject_id: mail.link.id.clone(),
                data,
            })
            .await?;
        Ok(())
    }

    /// The audit events about a payment link of the company, oldest first.
    pub async fn payment_link_audit(
        &self,
        company_id: &str,
        id: &str,
    ) -> Result<Vec<crate::AuditEventView>, ServiceError> {
        self.get_payment_link(company_id, id).await?;
        let events = self.inner.store.audit_of_subject(company_id, id).await?;
        Ok(events.into_iter().map(crate::reports::audit_view).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_are_checked() {
        let bad = |f: LinkFilter| match query_of(&f, 0) {
            Err(ServiceError::Validation { field, .. }) => field,
            other => panic!("{other:?}"),
        };
        assert_eq!(
            bad(LinkFilter {
                status: Some("paid_maybe".into()),
                ..LinkFilter::default()
            }),
            "status"
        );
        assert_eq!(
            bad(LinkFilter {
                limit: Some(0),
                ..LinkFilter::default()
            }),
            "limit"
        );
        assert_eq!(
            bad(LinkFilter {
                cursor: Some("!!".into()),
                ..LinkFilter::default()
            }),
            "cursor"
        );
        let q = query_of(
            &LinkFilter {
                status: Some("expired".into()),
                text: Some("  ACME  ".into()),
                limit: Some(10),
                ..LinkFilter::default()
            },
            1_000,
        )
        .unwrap();
        assert_eq!(q.state, Some(SessionState::Expired));
        assert_eq!(q.now, 1_000);
        assert_eq!(q.text.as_deref(), Some("ACME"));
        assert_eq!(q.limit, 11);
    }
}
