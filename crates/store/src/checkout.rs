//! Checkout sessions: what the hosted payment page charges, for an order or a
//! customer account (payment links).
//!
//! A session is paid at most once, and the database says so: the payment that a
//! session's page starts is written in the same transaction as the update that claims
//! the session ([`Store::begin_session_payment`]), and that update only succeeds while
//! the session is open, unexpired, and has no payment that is still running or
//! succeeded. Two concurrent submits therefore never both start a payment.

use sqlx::any::AnyRow;
use sqlx::AnyConnection;

use sanalpos_core::{Currency, Kurus};

use crate::db::Engine;
use crate::model::{AttemptRecord, NewAudit, PaymentRecord, PaymentStatus};
use crate::reports::{Arg, Clause};
use crate::rows::{boolean, currency, int, opt_int, opt_money, opt_text, text};
use crate::{Store, StoreError};

/// What a session is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, utoipa::ToSchema)]
#[schema(rename_all = "snake_case")]
pub enum SessionPurpose {
    /// "Siparişi Sonlandır": the order's amount, fixed.
    Order,
    /// "Finans Ödeme": the cardholder picks an amount between the limits.
    Account,
}

impl SessionPurpose {
    /// The stored (and JSON) name.
    pub fn as_str(self) -> &'static str {
        match self {
            SessionPurpose::Order => "order",
            SessionPurpose::Account => "account",
        }
    }

    /// Reads a stored name.
    pub fn parse(text: &str) -> Option<SessionPurpose> {
        match text {
            "order" => Some(SessionPurpose::Order),
            "account" => Some(SessionPurpose::Account),
            _ => None,
        }
    }
}

/// Where a session stands (expiry is read from `expires_at`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionStatus {
    /// Waiting to be paid.
    Open,
    /// Paid (its payment was approved).
    Completed,
}

impl SessionStatus {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            SessionStatus::Open => "open",
            SessionStatus::Completed => "completed",
        }
    }
}

/// Where a session stands as a list filter sees it: an open session past its
/// `expires_at` is expired.
#[derive(Debug, Clone, Copy, PartialEq, Eq, utoipa::ToSchema)]
#[schema(rename_all = "snake_case", as = SessionStatus)]
pub enum SessionState {
    /// Open and not expired.
    Open,
    /// Paid.
    Completed,
    /// Open, but past its expiry.
    Expired,
    /// Open and not expired, but locked after too many unsuccessful attempts.
    Locked,
}

/// A page of a company's sessions: filters, the keyset position and the page size.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionQuery {
    /// Order sessions or payment links.
    pub purpose: SessionPurpose,
    /// Only sessions in this state (expiry judged against `now`).
    pub state: Option<SessionState>,
    /// Unix ms: the instant expiry is judged against.
    pub now: i64,
    /// created_at ≥ this (Unix ms).
    pub from: Option<i64>,
    /// created_at < this (Unix ms).
    pub to: Option<i64>,
    /// A piece of the customer reference, order reference, description or the id
    /// (case-insensitive for ASCII letters on both engines).
    pub text: Option<String>,
    /// The session's largest amount (its fixed amount for an order) at least this.
    pub min_amount: Option<Kurus>,
    /// The session's largest amount (its fixed amount for an order) at most this.
    pub max_amount: Option<Kurus>,
    /// Continue after this (created_at, id), newest first.
    pub after: Option<(i64, String)>,
    /// Rows wanted.
    pub limit: u32,
}

/// The letters a search treats as one, beyond ASCII case: Turkish pairs, and the four
/// forms of i (a person typing `ISIK` or `isik` means `Işık`; `INSAAT` is `İNŞAAT`'s
/// search too, which a Turkish or an English case rule alone gets half wrong).
const LETTER_GROUPS: [&str; 6] = ["iİıI", "şŞ", "ğĞ", "üÜ", "öÖ", "çÇ"];

/// `text` as a pattern that matches it anywhere, letters in any case (ASCII and
/// Turkish), every other character only as itself: a SQLite `GLOB` pattern or a
/// PostgreSQL regular expression, both case-sensitive, with a class for each letter.
/// Neither engine folds Turkish letters by itself (SQLite's `LIKE` folds ASCII only,
/// PostgreSQL's `ILIKE` follows the server's locale).
fn contains_pattern(engine: Engine, text: &str) -> String {
    let mut out = String::with_capacity(text.len() * 4 + 2);
    if engine == Engine::Sqlite {
        out.push('*');
    }
    for c in text.chars() {
        if let Some(group) = LETTER_GROUPS.iter().find(|g| g.contains(c)) {
            out.push('[');
            out.push_str(group);
            out.push(']');
        } else if c.is_ascii_alphabetic() {
            out.push('[');
            out.push(c.to_ascii_lowercase());
            out.push(c.to_ascii_uppercase());
            out.push(']');
        } else {
            match engine {
                // In a GLOB, `*`, `?` and `[` are special, and a class holds them as
                // themselves (`]` is special only inside a class).
                Engine::Sqlite if matches!(c, '*' | '?' | '[') => {
                    out.push('[');
                    out.push(c);
                    out.push(']');
                }
                Engine::Postgres if r"\.^$*+?()[]{}|".contains(c) => {
                    out.push('\\');
                    out.push(c);
                }
                _ => out.push(c),
            }
        }
    }
    if engine == Engine::Sqlite {
        out.push('*');
    }
    out
}

/// ` WHERE …  ORDER BY … LIMIT ?` of a page of sessions.
fn session_clause(engine: Engine, company_id: &str, q: &SessionQuery) -> Clause {
    let mut c = Clause::default();
    c.push(
        " WHERE company_id = ? AND purpose = ?",
        vec![
            Arg::Text(company_id.to_owned()),
            Arg::Text(q.purpose.as_str().to_owned()),
        ],
    );
    let open = Arg::Text(SessionStatus::Open.as_str().to_owned());
    match q.state {
        None => {}
        Some(SessionState::Open) => c.push(
            " AND status = ? AND expires_at > ? AND locked_at IS NULL",
            vec![open, Arg::Int(q.now)],
        ),
        Some(SessionState::Locked) => c.push(
            " AND status = ? AND expires_at > ? AND locked_at IS NOT NULL",
            vec![open, Arg::Int(q.now)],
        ),
        Some(SessionState::Expired) => c.push(
            " AND status = ? AND expires_at <= ?",
            vec![open, Arg::Int(q.now)],
        ),
        Some(SessionState::Completed) => c.push(
            " AND status = ?",
            vec![Arg::Text(SessionStatus::Completed.as_str().to_owned())],
        ),
    }
    if let Some(from) = q.from {
        c.push(" AND created_at >= ?", vec![Arg::Int(from)]);
    }
    if let Some(to) = q.to {
        c.push(" AND created_at < ?", vec![Arg::Int(to)]);
    }
    let matches = match engine {
        Engine::Sqlite => "GLOB",
        Engine::Postgres => "~",
    };
    if let Some(text) = q.text.as_deref().filter(|t| !t.is_empty()) {
        let pattern = contains_pattern(engine, text);
        let mut fragment = String::from(" AND (");
        for (i, column) in ["customer_ref", "order_ref", "description", "id"]
            .iter()
            .enumerate()
        {
            if i > 0 {
                fragment.push_str(" OR ");
            }
            fragment.push_str(&format!("{column} {matches} ?"));
        }
        fragment.push(')');
        c.push(&fragment, vec![Arg::Text(pattern); 4]);
    }
    let top = "COALESCE(max_amount, amount)";
    if let Some(min) = q.min_amount {
        c.push(&format!(" AND {top} >= ?"), vec![Arg::Int(min.minor())]);
    }
    if let Some(max) = q.max_amount {
        c.push(&format!(" AND {top} <= ?"), vec![Arg::Int(max.minor())]);
    }
    if let Some((created_at, id)) = &q.after {
        c.push(
            " AND (created_at, id) < (?, ?)",
            vec![Arg::Int(*created_at), Arg::Text(id.clone())],
        );
    }
    c.push(
        " ORDER BY created_at DESC, id DESC LIMIT ?",
        vec![Arg::Int(i64::from(q.limit.max(1)))],
    );
    c
}

/// A checkout session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckoutSessionRecord {
    /// `cs_…`.
    pub id: String,
    /// The company.
    pub company_id: String,
    /// Order or account.
    pub purpose: SessionPurpose,
    /// The order's amount (order sessions).
    pub amount: Option<Kurus>,
    /// The least the cardholder may pay (account sessions).
    pub min_amount: Option<Kurus>,
    /// The most the cardholder may pay (account sessions).
    pub max_amount: Option<Kurus>,
    /// The currency.
    pub currency: Currency,
    /// Order (sipariş) reference.
    pub order_ref: Option<String>,
    /// Customer account (cari) reference.
    pub customer_ref: Option<String>,
    /// Free text shown on the page.
    pub description: Option<String>,
    /// Where the browser goes back to (none for a payment link).
    pub return_url: Option<String>,
    /// The key that signs the return, encrypted with the store's
    /// [`Crypto`](crate::Crypto) (with `return_url`).
    pub return_secret_enc: Option<String>,
    /// The most installments offered.
    pub max_installments: u8,
    /// `tr` or `en`.
    pub language: String,
    /// Open or completed.
    pub status: SessionStatus,
    /// The latest payment started from the page.
    pub payment_id: Option<String>,
    /// Payments started from the page.
    pub tries: i64,
    /// Unix ms.
    pub expires_at: i64,
    /// Who created it.
    pub created_by: String,
    /// Unix ms.
    pub created_at: i64,
    /// Unix ms.
    pub completed_at: Option<i64>,
    /// Unix ms: locked after too many unsuccessful attempts, until reopened.
    pub locked_at: Option<i64>,
    /// Whether the page offers the customer's stored cards and keeping the card typed
    /// (the shop asked for it; needs `customer_ref`).
    pub stored_cards: bool,
}

pub(crate) fn session_from(row: &AnyRow) -> Result<CheckoutSessionRecord, StoreError> {
    let max_installments = u8::try_from(int(row, "max_installments")?)
        .map_err(|_| StoreError::corrupt("max_installments out of range"))?;
    Ok(CheckoutSessionRecord {
        id: text(row, "id")?,
        company_id: text(row, "company_id")?,
        purpose: SessionPurpose::parse(&text(row, "purpose")?)
            .ok_or_else(|| StoreError::corrupt("purpose"))?,
        amount: opt_money(row, "amount")?,
        min_amount: opt_money(row, "min_amount")?,
        max_amount: opt_money(row, "max_amount")?,
        currency: currency(row, "currency")?,
        order_ref: opt_text(row, "order_ref")?,
        customer_ref: opt_text(row, "customer_ref")?,
        description: opt_text(row, "description")?,
        return_url: opt_text(row, "return_url")?,
        return_secret_enc: opt_text(row, "return_secret_enc")?,
        max_installments,
        language: text(row, "language")?,
        status: match text(row, "status")?.as_str() {
            "open" => SessionStatus::Open,
            "completed" => SessionStatus::Completed,
            _ => return Err(StoreError::corrupt("session status")),
        },
        payment_id: opt_text(row, "payment_id")?,
        tries: int(row, "tries")?,
        expires_at: int(row, "expires_at")?,
        created_by: text(row, "created_by")?,
        created_at: int(row, "created_at")?,
        completed_at: opt_int(row, "completed_at")?,
        locked_at: opt_int(row, "locked_at")?,
        stored_cards: boolean(row, "stored_cards")?,
    })
}

/// The session a payment was started from, read in the caller's transaction.
pub(crate) async fn session_of_payment(
    conn: &mut AnyConnection,
    payment_id: &str,
) -> Result<Option<CheckoutSessionRecord>, StoreError> {
    let row = sqlx::query("SELECT * FROM checkout_sessions WHERE payment_id = $1")
        .bind(payment_id)
        .fetch_optional(&mut *conn)
        .await?;
    row.as_ref().map(session_from).transpose()
}

async fn begin_session_payment(
    conn: &mut AnyConnection,
    (session_id, payment, attempt): &(String, PaymentRecord, AttemptRecord),
) -> Result<(), StoreError> {
    // The payment goes in first (the session will point at it), then the claim: only
    // an open, unexpired session whose last payment (if any) ended without taking
    // money. On PostgreSQL the row lock makes a concurrent claim wait and then re-check
    // this condition against the committed row; SQLite has one writer. A failed claim
    // rolls the whole transaction back, payment included.
    crate::payments::insert_payment(conn, payment).await?;
    let done = sqlx::query(
        "UPDATE checkout_sessions SET payment_id = $1, tries = tries + 1 \
         WHERE id = $2 AND company_id = $3 AND status = $4 AND expires_at > $5 \
         AND (payment_id IS NULL OR EXISTS (SELECT 1 FROM payments p \
              WHERE p.id = checkout_sessions.payment_id AND p.status IN ($6, $7, $8, $9)))",
    )
    .bind(&payment.id)
    .bind(session_id)
    .bind(&payment.company_id)
    .bind(SessionStatus::Open.as_str())
    .bind(payment.created_at)
    .bind(PaymentStatus::Declined.as_str())
    .bind(PaymentStatus::Failed.as_str())
    .bind(PaymentStatus::Expired.as_str())
    .bind(PaymentStatus::Blocked.as_str())
    .execute(&mut *conn)
    .await?;
    if done.rows_affected() == 0 {
        return Err(StoreError::conflict(
            "session_not_payable",
            "the checkout session is paid, being paid, or expired",
        ));
    }
    crate::payments::insert_attempt_in(conn, attempt).await
}

impl Store {
    /// Stores a new session, with its audit event.
    pub async fn insert_checkout_session(
        &self,
        session: CheckoutSessionRecord,
        audit: NewAudit,
    ) -> Result<(), StoreError> {
        let chains = vec![audit.company_id.clone()];
        self.db
            .write_for(chains, (session, audit), |c, (s, audit)| {
                Box::pin(async move {
                    sqlx::query(
                        "INSERT INTO checkout_sessions (id, company_id, purpose, amount, min_amount, max_amount, \
                         currency, order_ref, customer_ref, description, return_url, return_secret_enc, max_installments, language, \
                         status, payment_id, tries, expires_at, created_by, created_at, completed_at, stored_cards) \
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, NULL, 0, $16, $17, $18, NULL, $19)",
                    )
                    .bind(&s.id)
                    .bind(&s.company_id)
                    .bind(s.purpose.as_str())
                    .bind(s.amount.map(Kurus::minor))
                    .bind(s.min_amount.map(Kurus::minor))
                    .bind(s.max_amount.map(Kurus::minor))
                    .bind(s.currency.alpha())
                    .bind(&s.order_ref)
                    .bind(&s.customer_ref)
                    .bind(&s.description)
                    .bind(&s.return_url)
                    .bind(&s.return_secret_enc)
                    .bind(i64::from(s.max_installments))
                    .bind(&s.language)
                    .bind(SessionStatus::Open.as_str())
                    .bind(s.expires_at)
                    .bind(&s.created_by)
                    .bind(s.created_at)
                    .bind(s.stored_cards)
                    .execute(&mut *c)
                    .await?;
                    crate::audit::append(c, audit).await
                })
            })
            .await
    }

    /// A session by id (any company: the id is the unguessable key of the page).
    pub async fn get_checkout_session(
        &self,
        id: &str,
    ) -> Result<CheckoutSessionRecord, StoreError> {
        let row = sqlx::query("SELECT * FROM checkout_sessions WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.db.read)
            .await?
            .ok_or(StoreError::NotFound)?;
        session_from(&row)
    }

    /// A page of a company's sessions of one purpose, newest first, filtered by
    /// `query`. Keyset paging on (created_at, id), as the payment list pages, served
    /// by the index of migration 10.
    pub async fn list_checkout_sessions(
        &self,
        company_id: &str,
        query: &SessionQuery,
    ) -> Result<Vec<CheckoutSessionRecord>, StoreError> {
        let clause = session_clause(self.db.engine, company_id, query);
        let sql = format!("SELECT * FROM checkout_sessions{}", clause.sql);
        let rows = clause
            .bind(sqlx::query(&sql))
            .fetch_all(&self.db.read)
            .await?;
        rows.iter().map(session_from).collect()
    }

    /// Writes a payment started from a session's page, and its first attempt
    /// (dispatched), claiming the session in the same transaction. Fails with the
    /// conflict `session_not_payable` when the session is paid, being paid or expired.
    pub async fn begin_session_payment(
        &self,
        session_id: &str,
        payment: PaymentRecord,
        attempt: AttemptRecord,
    ) -> Result<(), StoreError> {
        self.db
            .write((session_id.to_owned(), payment, attempt), |c, d| {
                Box::pin(begin_session_payment(c, d))
            })
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_search_pattern_folds_letters_and_quotes_the_rest() {
        assert_eq!(
            contains_pattern(Engine::Sqlite, "Işık-1*"),
            "*[iİıI][şŞ][iİıI][kK]-1[*]*"
        );
        assert_eq!(contains_pattern(Engine::Sqlite, "a?[b"), "*[aA][?][[][bB]*");
        assert_eq!(
            contains_pattern(Engine::Postgres, "Çağ.(x)"),
            "[çÇ][aA][ğĞ]\\.\\([xX]\\)"
        );
        assert_eq!(contains_pattern(Engine::Postgres, "%_"), "%_");
    }
}
