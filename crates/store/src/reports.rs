//! Reads for reports over payments: the filtered list's `WHERE` clause (shared by the
//! list, its totals and exports), totals summed in SQL over integers, the dashboard's
//! counts, and a payment's audit events.
//!
//! Every query here is scoped by company first, and every filter is an equality or a
//! range the indexes of migration 0005 serve (see the migration for which).

use sqlx::any::{AnyArguments, AnyRow};
use sqlx::query::Query;
use sqlx::Any;

use sanalpos_core::{Currency, Kurus};

use crate::model::{AuditEvent, PaymentQuery, PaymentStatus};
use crate::rows::{currency, int, money, opt_text, text};
use crate::{Store, StoreError};

/// A bind value, in the order the placeholders appear.
#[derive(Debug, Clone)]
pub(crate) enum Arg {
    Int(i64),
    Text(String),
}

/// A `WHERE` clause with numbered placeholders and their values.
#[derive(Debug, Clone, Default)]
pub(crate) struct Clause {
    pub(crate) sql: String,
    pub(crate) args: Vec<Arg>,
}

impl Clause {
    /// Appends `fragment`, numbering each `?` in it with the next placeholder.
    pub(crate) fn push(&mut self, fragment: &str, args: Vec<Arg>) {
        let mut args = args.into_iter();
        for c in fragment.chars() {
            if c == '?' {
                if let Some(arg) = args.next() {
                    self.args.push(arg);
                }
                self.sql.push_str(&format!("${}", self.args.len()));
            } else {
                self.sql.push(c);
            }
        }
    }

    /// Binds every value to `query`, in order.
    pub(crate) fn bind<'q>(
        &self,
        mut query: Query<'q, Any, AnyArguments<'q>>,
    ) -> Query<'q, Any, AnyArguments<'q>> {
        for arg in &self.args {
            query = match arg {
                Arg::Int(i) => query.bind(*i),
                Arg::Text(t) => query.bind(t.clone()),
            };
        }
        query
    }
}

/// ` WHERE company_id = $1 AND …` for the filters of `q` (not its cursor or limit).
pub(crate) fn payment_where(company_id: &str, q: &PaymentQuery) -> Clause {
    filters(company_id, q, true)
}

/// The filters of `q`; with `amount_index` false, the amount range is written so that
/// no index serves it (`+amount`), which keeps the planner on the ordered walk.
fn filters(company_id: &str, q: &PaymentQuery, amount_index: bool) -> Clause {
    let amount = if amount_index { "amount" } else { "+amount" };
    let mut c = Clause::default();
    c.push(
        " WHERE company_id = ?",
        vec![Arg::Text(company_id.to_owned())],
    );
    if let Some(from) = q.from {
        c.push(" AND created_at >= ?", vec![Arg::Int(from)]);
    }
    if let Some(to) = q.to {
        c.push(" AND created_at < ?", vec![Arg::Int(to)]);
    }
    if let Some(status) = q.status {
        c.push(
            " AND status = ?",
            vec![Arg::Text(status.as_str().to_owned())],
        );
    }
    if let Some(channel) = q.channel {
        c.push(
            " AND channel = ?",
            vec![Arg::Text(channel.as_str().to_owned())],
        );
    }
    if let Some(min) = q.min_amount {
        c.push(&format!(" AND {amount} >= ?"), vec![Arg::Int(min.minor())]);
    }
    if let Some(max) = q.max_amount {
        c.push(&format!(" AND {amount} <= ?"), vec![Arg::Int(max.minor())]);
    }
    for (column, value) in [
        ("pos_id", &q.pos_id),
        ("order_ref", &q.order_ref),
        ("customer_ref", &q.customer_ref),
        ("card_last4", &q.last4),
        ("auth_code", &q.auth_code),
        ("provider_ref", &q.provider_ref),
    ] {
        if let Some(value) = value {
            c.push(
                &format!(" AND {column} = ?"),
                vec![Arg::Text(value.clone())],
            );
        }
    }
    c
}

/// The `ORDER BY … LIMIT ?` of a list page.
const ORDERED: &str = " ORDER BY created_at DESC, id DESC LIMIT ?";
/// The same order, written so that no index can provide it: the database then reads
/// the rows through the index that best narrows the `WHERE` and sorts them.
const SORTED: &str = " ORDER BY +created_at DESC, id DESC LIMIT ?";
/// At most this many matching rows are sorted rather than read in index order.
const SORT_AT_MOST: i64 = 10_000;

/// The whole list query (`WHERE`, keyset, order and limit) of a page. Walking the
/// company's (created_at, id) index newest first and filtering stops after a page when
/// matches are common; for an amount range that matches few payments (one exact amount
/// over a year) it would read the whole company. So an amount filter first counts its
/// matches (through the amount index, stopping at [`SORT_AT_MOST`] + 1): few, and the
/// page is read through that index and sorted; many, and the amount index is kept out
/// of the plan so that the ordered walk finds a page quickly.
pub(crate) async fn list_clause(
    store: &Store,
    company_id: &str,
    query: &PaymentQuery,
) -> Result<Clause, StoreError> {
    let keyset = |clause: &mut Clause| {
        if let Some((created_at, id)) = &query.after {
            clause.push(
                " AND (created_at, id) < (?, ?)",
                vec![Arg::Int(*created_at), Arg::Text(id.clone())],
            );
        }
    };
    let sorted = if query.min_amount.is_none() && query.max_amount.is_none() {
        false
    } else {
        let mut count = filters(company_id, query, true);
        keyset(&mut count);
        count.push(" LIMIT ?", vec![Arg::Int(SORT_AT_MOST + 1)]);
        let sql = format!(
            "SELECT COUNT(*) AS n FROM (SELECT 1 FROM payments{}) matching",
            count.sql
        );
        let row = count
            .bind(sqlx::query(&sql))
            .fetch_one(&store.db.read)
            .await?;
        int(&row, "n")? <= SORT_AT_MOST
    };
    let mut clause = filters(company_id, query, sorted);
    keyset(&mut clause);
    clause.push(
        if sorted { SORTED } else { ORDERED },
        vec![Arg::Int(i64::from(query.limit.max(1)))],
    );
    Ok(clause)
}

/// The statuses of a payment whose sale was approved and still stands (in full or
/// after partial refunds); a cancelled sale is not among them.
pub const CAPTURED_STATUSES: &[PaymentStatus] = &[
    PaymentStatus::Approved,
    PaymentStatus::PartiallyRefunded,
    PaymentStatus::Refunded,
];

fn in_list(statuses: &[PaymentStatus]) -> String {
    // Status names are fixed snake_case identifiers, safe to inline.
    let names: Vec<String> = statuses
        .iter()
        .map(|s| format!("'{}'", s.as_str()))
        .collect();
    format!("({})", names.join(", "))
}

/// The totals of one currency among the filtered payments.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CurrencySums {
    /// The currency.
    pub currency: Currency,
    /// Payments, whatever their status.
    pub count: u64,
    /// Sum of their amounts.
    pub amount: Kurus,
    /// Payments in one of [`CAPTURED_STATUSES`].
    pub approved_count: u64,
    /// Sum of their amounts.
    pub approved_amount: Kurus,
    /// What was refunded of them.
    pub refunded_amount: Kurus,
}

/// Payments of a day (Istanbul business date) in [`CAPTURED_STATUSES`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DaySums {
    /// `YYYY-MM-DD`.
    pub business_date: String,
    /// How many.
    pub count: u64,
    /// Sum of their amounts.
    pub amount: Kurus,
}

/// Declined payments with one bank code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeclineCount {
    /// The bank code (empty when the answer had none).
    pub code: String,
    /// A Turkish message seen with it.
    pub message_tr: Option<String>,
    /// An English message seen with it.
    pub message_en: Option<String>,
    /// How many.
    pub count: u64,
}

fn count(row: &AnyRow, col: &str) -> Result<u64, StoreError> {
    u64::try_from(int(row, col)?).map_err(|_| StoreError::corrupt(format!("{col}: negative")))
}

impl Store {
    /// Per currency (alphabetical), the count and sums of the payments matching `query`
    /// (its cursor and limit are ignored). Summed by the database over integers.
    pub async fn payment_totals(
        &self,
        company_id: &str,
        query: &PaymentQuery,
    ) -> Result<Vec<CurrencySums>, StoreError> {
        let clause = payment_where(company_id, query);
        let captured = in_list(CAPTURED_STATUSES);
        let sql = format!(
            "SELECT currency, COUNT(*) AS n, CAST(COALESCE(SUM(amount), 0) AS BIGINT) AS amount, \
             CAST(COALESCE(SUM(CASE WHEN status IN {captured} THEN 1 ELSE 0 END), 0) AS BIGINT) AS approved_n, \
             CAST(COALESCE(SUM(CASE WHEN status IN {captured} THEN amount ELSE 0 END), 0) AS BIGINT) AS approved_amount, \
             CAST(COALESCE(SUM(CASE WHEN status IN {captured} THEN refunded_amount ELSE 0 END), 0) AS BIGINT) AS refunded \
             FROM payments{} GROUP BY currency ORDER BY currency",
            clause.sql
        );
        let rows = clause
            .bind(sqlx::query(&sql))
            .fetch_all(&self.db.read)
            .await?;
        rows.iter()
            .map(|row| {
                Ok(CurrencySums {
                    currency: currency(row, "currency")?,
                    count: count(row, "n")?,
                    amount: money(row, "amount")?,
                    approved_count: count(row, "approved_n")?,
                    approved_amount: money(row, "approved_amount")?,
                    refunded_amount: money(row, "refunded")?,
                })
            })
            .collect()
    }

    /// How many payments created in `[from, to)` (Unix ms) are in each status.
    pub async fn count_by_status(
        &self,
        company_id: &str,
        from: i64,
        to: i64,
    ) -> Result<Vec<(PaymentStatus, u64)>, StoreError> {
        let rows = sqlx::query(
            "SELECT status, COUNT(*) AS n FROM payments \
             WHERE company_id = $1 AND created_at >= $2 AND created_at < $3 GROUP BY status",
        )
        .bind(company_id)
        .bind(from)
        .bind(to)
        .fetch_all(&self.db.read)
        .await?;
        rows.iter()
            .map(|row| {
                let status = crate::rows::parsed(row, "status", PaymentStatus::parse)?;
                Ok((status, count(row, "n")?))
            })
            .collect()
    }

    /// Per business day, the payments in `currency` created in `[from, to)` (Unix ms)
    /// that are in [`CAPTURED_STATUSES`]; days without any are left out.
    pub async fn captured_by_day(
        &self,
        company_id: &str,
        currency: Currency,
        from: i64,
        to: i64,
    ) -> Result<Vec<DaySums>, StoreError> {
        let sql = format!(
            "SELECT business_date, COUNT(*) AS n, CAST(COALESCE(SUM(amount), 0) AS BIGINT) AS amount \
             FROM payments WHERE company_id = $1 AND created_at >= $2 AND created_at < $3 \
             AND currency = $4 AND status IN {} GROUP BY business_date ORDER BY business_date",
            in_list(CAPTURED_STATUSES)
        );
        let rows = sqlx::query(&sql)
            .bind(company_id)
            .bind(from)
            .bind(to)
            .bind(currency.alpha())
            .fetch_all(&self.db.read)
            .await?;
        rows.iter()
            .map(|row| {
                Ok(DaySums {
                    business_date: text(row, "business_date")?,
                    count: count(row, "n")?,
                    amount: money(row, "amount")?,
                })
            })
            .collect()
    }

    /// Declined payments created in `[from, to)` (Unix ms) per bank code, most frequent
    /// first (then by code).
    pub async fn decline_counts(
        &self,
        company_id: &str,
        from: i64,
        to: i64,
    ) -> Result<Vec<DeclineCount>, StoreError> {
        let rows = sqlx::query(
            "SELECT COALESCE(bank_code, '') AS code, MAX(message_tr) AS message_tr, \
             MAX(message_en) AS message_en, COUNT(*) AS n FROM payments \
             WHERE company_id = $1 AND created_at >= $2 AND created_at < $3 AND status = $4 \
             GROUP BY COALESCE(bank_code, '') ORDER BY n DESC, code",
        )
        .bind(company_id)
        .bind(from)
        .bind(to)
        .bind(PaymentStatus::Declined.as_str())
        .fetch_all(&self.db.read)
        .await?;
        rows.iter()
            .map(|row| {
                Ok(DeclineCount {
                    code: text(row, "code")?,
                    message_tr: opt_text(row, "message_tr")?,
                    message_en: opt_text(row, "message_en")?,
                    count: count(row, "n")?,
                })
            })
            .collect()
    }

    /// The company's pre-authorisations still held whose hold period ends before
    /// `before` (Unix ms): released by themselves unless captured by then.
    pub async fn holds_ending_before(
        &self,
        company_id: &str,
        before: i64,
    ) -> Result<u64, StoreError> {
        let row = sqlx::query(
            "SELECT COUNT(*) AS n FROM payments WHERE company_id = $1 AND status = $2 AND hold_until < $3",
        )
        .bind(company_id)
        .bind(crate::model::PaymentStatus::Authorized.as_str())
        .bind(before)
        .fetch_one(&self.db.read)
        .await?;
        count(&row, "n")
    }

    /// Payments of the company marked for a person to review.
    pub async fn review_count(&self, company_id: &str) -> Result<u64, StoreError> {
        let row = sqlx::query(
            "SELECT COUNT(*) AS n FROM payments WHERE company_id = $1 AND review_reason IS NOT NULL",
        )
        .bind(company_id)
        .fetch_one(&self.db.read)
        .await?;
        count(&row, "n")
    }

    /// Undecided exceptions (items not matched and without a resolution) of the latest
    /// run of each POS and period: an older run of the same period is superseded by the
    /// re-run, which carries its decisions over.
    pub async fn open_recon_exceptions(&self, company_id: &str) -> Result<u64, StoreError> {
        let row = sqlx::query(
            "SELECT COUNT(*) AS n FROM recon_items i JOIN recon_runs r ON r.id = i.run_id \
             WHERE i.company_id = $1 AND r.company_id = $1 AND i.class <> 'matched' \
             AND r.status <> 'writing' \
             AND i.resolution IS NULL AND NOT EXISTS (SELECT 1 FROM recon_runs later \
             WHERE later.company_id = r.company_id AND later.pos_id = r.pos_id \
             AND later.status <> 'writing' \
             AND later.period_from = r.period_from AND later.period_to = r.period_to \
             AND (later.created_at > r.created_at OR (later.created_at = r.created_at AND later.id > r.id)))",
        )
        .bind(company_id)
        .fetch_one(&self.db.read)
        .await?;
        count(&row, "n")
    }

    /// The database's plan of the list query for `query` (SQLite `EXPLAIN QUERY PLAN`,
    /// PostgreSQL `EXPLAIN`), one line per step: to check which index a filter uses.
    pub async fn explain_payment_list(
        &self,
        company_id: &str,
        query: &PaymentQuery,
    ) -> Result<Vec<String>, StoreError> {
        let clause = list_clause(self, company_id, query).await?;
        let (prefix, column) = match self.db.engine {
            crate::Engine::Sqlite => ("EXPLAIN QUERY PLAN", "detail"),
            crate::Engine::Postgres => ("EXPLAIN", "QUERY PLAN"),
        };
        let sql = format!("{prefix} SELECT * FROM payments{}", clause.sql);
        let rows = clause
            .bind(sqlx::query(&sql))
            .fetch_all(&self.db.read)
            .await?;
        rows.iter().map(|row| text(row, column)).collect()
    }

    /// Refreshes the planner's statistics (`ANALYZE`), as PostgreSQL's autovacuum does
    /// after a bulk load.
    pub async fn analyze(&self) -> Result<(), StoreError> {
        sqlx::query("ANALYZE").execute(&self.db.read).await?;
        Ok(())
    }

    /// The audit events about one record of the company, oldest first.
    pub async fn audit_of_subject(
        &self,
        company_id: &str,
        subject_id: &str,
    ) -> Result<Vec<AuditEvent>, StoreError> {
        let rows = sqlx::query(
            "SELECT * FROM audit_events WHERE company_id = $1 AND subject_id = $2 ORDER BY seq",
        )
        .bind(company_id)
        .bind(subject_id)
        .fetch_all(&self.db.read)
        .await?;
        rows.iter().map(crate::audit::event_from).collect()
    }
}
