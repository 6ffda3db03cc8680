//! Payments and their attempts: the attempt log is written as `dispatched` and
//! committed before each provider call ([`Store::begin_payment`]), and completed after
//! it together with the payment's new state and the audit event, in one transaction
//! ([`Store::finish_attempt`]).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use sqlx::any::AnyRow;
use sqlx::AnyConnection;

use sanalpos_core::{AuthCode, BankCode, Kurus, Message, ProviderRef};

use crate::audit::append;
use crate::idempotency::{claim_in, write_answers, ClaimedBegin, KeptAnswer, KeyClaim};
use crate::model::{
    AttemptOutcome, AttemptRecord, AttemptResult, AttemptState, Channel, NewAudit, Operation,
    PaymentQuery, PaymentRecord, PaymentStatus, RefundResult,
};
use crate::outbox::{follow, status_if_observed, PaymentCause, PaymentRules};
use crate::rows::{
    boolean, currency, int, money, opt_int, opt_money, opt_parsed, opt_text, parsed, text,
};
use crate::{Store, StoreError};

pub(crate) fn payment_from(row: &AnyRow) -> Result<PaymentRecord, StoreError> {
    let installments = int(row, "installments")?;
    Ok(PaymentRecord {
        id: text(row, "id")?,
        company_id: text(row, "company_id")?,
        pos_id: text(row, "pos_id")?,
        status: parsed(row, "status", PaymentStatus::parse)?,
        amount: money(row, "amount")?,
        currency: currency(row, "currency")?,
        installments: u8::try_from(installments)
            .map_err(|_| StoreError::corrupt("installments out of range"))?,
        masked_pan: text(row, "masked_pan")?,
        card_fingerprint: text(row, "card_fingerprint")?,
        card_brand: text(row, "card_brand")?,
        auth_code: opt_text(row, "auth_code")?,
        provider_ref: opt_text(row, "provider_ref")?,
        bank_code: opt_text(row, "bank_code")?,
        message_tr: opt_text(row, "message_tr")?,
        message_en: opt_text(row, "message_en")?,
        channel: parsed(row, "channel", Channel::parse)?,
        order_ref: opt_text(row, "order_ref")?,
        customer_ref: opt_text(row, "customer_ref")?,
        description: opt_text(row, "description")?,
        three_d: boolean(row, "three_d")?,
        return_url: opt_text(row, "return_url")?,
        three_d_token: opt_text(row, "three_d_token")?,
        three_d_html: opt_text(row, "three_d_html")?,
        sale_client_ref: text(row, "sale_client_ref")?,
        authorized_amount: opt_money(row, "authorized_amount")?,
        refunded_amount: money(row, "refunded_amount")?,
        business_date: text(row, "business_date")?,
        review_reason: opt_text(row, "review_reason")?,
        created_by: text(row, "created_by")?,
        created_at: int(row, "created_at")?,
        updated_at: int(row, "updated_at")?,
        client_ip: opt_text(row, "client_ip")?,
        pre_auth: boolean(row, "pre_auth")?,
        held_amount: opt_money(row, "held_amount")?,
        hold_until: opt_int(row, "hold_until")?,
    })
}

pub(crate) fn attempt_from(row: &AnyRow) -> Result<AttemptRecord, StoreError> {
    Ok(AttemptRecord {
        id: text(row, "id")?,
        payment_id: text(row, "payment_id")?,
        company_id: text(row, "company_id")?,
        operation: parsed(row, "operation", Operation::parse)?,
        client_ref: text(row, "client_ref")?,
        state: parsed(row, "state", AttemptState::parse)?,
        outcome: opt_parsed(row, "outcome", AttemptOutcome::parse)?,
        bank_code: opt_text(row, "bank_code")?,
        message: opt_text(row, "message")?,
        http_status: opt_int(row, "http_status")?,
        latency_ms: opt_int(row, "latency_ms")?,
        raw: opt_text(row, "raw")?,
        amount: money(row, "amount")?,
        started_at: int(row, "started_at")?,
        finished_at: opt_int(row, "finished_at")?,
    })
}

/// A change to a payment, applied only while it is still in one of `expect`.
/// `None` fields are left as they are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaymentChange {
    /// The payment to change (`pay_…`).
    pub payment_id: String,
    /// The statuses the payment may be in for the change to apply.
    pub expect: Vec<PaymentStatus>,
    /// The status it moves to, when it is still in one of `expect`.
    pub status: PaymentStatus,
    /// The bank's authorization code of an approval.
    pub auth_code: Option<AuthCode>,
    /// The provider's reference of the sale, used for inquiries, cancels and refunds.
    pub provider_ref: Option<ProviderRef>,
    /// The bank's response code of a refusal (`51`, `05`).
    pub bank_code: Option<BankCode>,
    /// The message, in Turkish and English.
    pub message: Option<Message>,
    /// What the bank approved, in kuruş (it can differ from the amount asked).
    pub authorized_amount: Option<Kurus>,
    /// The sum of approved refunds after this change, in kuruş.
    pub refunded_amount: Option<Kurus>,
    /// The payment's amount after this change (a capture of part of a
    /// pre-authorisation), in kuruş.
    pub amount: Option<Kurus>,
    /// Store the 3D HTML (3D start).
    pub three_d_html: Option<String>,
    /// Clear the 3D HTML (3D ended).
    pub clear_three_d_html: bool,
    /// Clear the bank code and messages (an unclear payment turned out approved).
    pub clear_message: bool,
}

impl PaymentChange {
    /// A change to `status` from any of `expect`, touching nothing else.
    pub fn to(payment_id: &str, expect: &[PaymentStatus], status: PaymentStatus) -> PaymentChange {
        PaymentChange {
            payment_id: payment_id.to_owned(),
            expect: expect.to_vec(),
            status,
            auth_code: None,
            provider_ref: None,
            bank_code: None,
            message: None,
            authorized_amount: None,
            refunded_amount: None,
            amount: None,
            three_d_html: None,
            clear_three_d_html: false,
            clear_message: false,
        }
    }
}

/// Everything recorded when a provider call ends, in one transaction.
#[derive(Debug, Clone, Default)]
pub struct FinishAttempt {
    /// Completes an attempt written as dispatched.
    pub result: Option<AttemptResult>,
    /// Or records an attempt after the fact (inquiries, which move no money).
    pub new_attempt: Option<AttemptRecord>,
    /// The payment's new state.
    pub payment: Option<PaymentChange>,
    /// A cancel/refund's new state; the payment's refunded amount and status follow.
    pub refund: Option<RefundResult>,
    /// Audit events, appended only when the payment change applied.
    pub audit: Vec<NewAudit>,
    /// The service's rules of what the payment change or refund result causes
    /// (webhook events, completing a checkout session), followed in the same
    /// transaction for a payment someone observes; `None`: nothing.
    pub events: Option<PaymentRules>,
    /// The POS whose call succeeded (`last_success_at`), or failed (`last_error`).
    pub pos_health: Option<PosHealth>,
    /// The answer of the request that holds an idempotency key for this payment, stored
    /// in this transaction so the key needs no commit of its own.
    pub answer: Option<KeyAnswer>,
}

/// What a request's idempotency key replays, rendered from the payment as the
/// transaction leaves it (the caller's own answer format: the store only keeps it).
#[derive(Clone)]
pub struct KeyAnswer {
    /// The company the key belongs to.
    pub company_id: String,
    /// The `Idempotency-Key` the request claimed.
    pub key: String,
    /// Turns the payment into the answer's status code and body.
    pub render: RenderAnswer,
}

/// Renders a key's answer (status code, body) from the payment row.
pub type RenderAnswer = Arc<dyn Fn(&PaymentRecord) -> (u16, String) + Send + Sync>;

impl std::fmt::Debug for KeyAnswer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyAnswer")
            .field("company_id", &self.company_id)
            .field("key", &self.key)
            .finish_non_exhaustive()
    }
}

/// What [`Store::finish_attempt`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finished {
    /// Whether the payment change applied (`false`: the payment had moved on meanwhile;
    /// the attempt is still completed, nothing else changes). `true` without a change.
    pub applied: bool,
    /// The payment as the transaction left it, when the finish named one (a payment
    /// change or a refund result).
    pub payment: Option<PaymentRecord>,
    /// Whether the [`FinishAttempt::answer`] was stored for its key (only when the
    /// change applied and the key was still waiting for its answer).
    pub answered: bool,
}

/// What a call says about its POS.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PosHealth {
    /// The POS's company.
    pub company_id: String,
    /// The POS.
    pub pos_id: String,
    /// `None`: the call succeeded; otherwise a readable error.
    pub error: Option<String>,
}

/// The columns of a new attempt, in the order [`bind_attempt`] binds them.
const ATTEMPT_COLUMNS: &str = "id, payment_id, company_id, operation, client_ref, state, outcome, \
    bank_code, message, http_status, latency_ms, raw, amount, started_at, finished_at";
const ATTEMPT_COUNT: usize = 15;

/// The columns of a new payment, in the order [`bind_payment`] binds them.
pub(crate) const PAYMENT_COLUMNS: &str = "id, company_id, pos_id, status, amount, currency, installments, \
    masked_pan, card_fingerprint, card_brand, auth_code, provider_ref, bank_code, message_tr, \
    message_en, channel, order_ref, customer_ref, description, three_d, return_url, three_d_token, \
    three_d_html, sale_client_ref, authorized_amount, refunded_amount, business_date, review_reason, \
    created_by, created_at, updated_at, client_ip, pre_auth, held_amount, hold_until";
pub(crate) const PAYMENT_COUNT: usize = 35;

pub(crate) type AnyQuery<'q> = sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>>;

fn bind_attempt<'q>(q: AnyQuery<'q>, a: &'q AttemptRecord) -> AnyQuery<'q> {
    q.bind(&a.id)
        .bind(&a.payment_id)
        .bind(&a.company_id)
        .bind(a.operation.as_str())
        .bind(&a.client_ref)
        .bind(a.state.as_str())
        .bind(a.outcome.map(|o| o.as_str()))
        .bind(&a.bank_code)
        .bind(&a.message)
        .bind(a.http_status)
        .bind(a.latency_ms)
        .bind(&a.raw)
        .bind(a.amount.minor())
        .bind(a.started_at)
        .bind(a.finished_at)
}

pub(crate) fn bind_payment<'q>(q: AnyQuery<'q>, p: &'q PaymentRecord) -> AnyQuery<'q> {
    q.bind(&p.id)
        .bind(&p.company_id)
        .bind(&p.pos_id)
        .bind(p.status.as_str())
        .bind(p.amount.minor())
        .bind(p.currency.alpha())
        .bind(i64::from(p.installments))
        .bind(&p.masked_pan)
        .bind(&p.card_fingerprint)
        .bind(&p.card_brand)
        .bind(&p.auth_code)
        .bind(&p.provider_ref)
        .bind(&p.bank_code)
        .bind(&p.message_tr)
        .bind(&p.message_en)
        .bind(p.channel.as_str())
        .bind(&p.order_ref)
        .bind(&p.customer_ref)
        .bind(&p.description)
        .bind(p.three_d)
        .bind(&p.return_url)
        .bind(&p.three_d_token)
        .bind(&p.three_d_html)
        .bind(&p.sale_client_ref)
        .bind(p.authorized_amount.map(Kurus::minor))
        .bind(p.refunded_amount.minor())
        .bind(&p.business_date)
        .bind(&p.review_reason)
        .bind(&p.created_by)
        .bind(p.created_at)
        .bind(p.updated_at)
        .bind(&p.client_ip)
        .bind(p.pre_auth)
        .bind(p.held_amount.map(Kurus::minor))
        .bind(p.hold_until)
}

/// `INSERT INTO attempts …` with its values numbered from `$1`.
static INSERT_ATTEMPT: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    format!(
        "INSERT INTO attempts ({ATTEMPT_COLUMNS}) VALUES ({})",
        crate::db::numbered(1, ATTEMPT_COUNT)
    )
});

/// `INSERT INTO payments …` with its values numbered from `$1`.
static INSERT_PAYMENT: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    format!(
        "INSERT INTO payments ({PAYMENT_COLUMNS}) VALUES ({})",
        crate::db::numbered(1, PAYMENT_COUNT)
    )
});

/// PostgreSQL: a new payment and its first attempt in one statement (one round trip
/// instead of two). The attempt is written from the payment's `RETURNING`, so it follows
/// the payment, as the two statements did.
static INSERT_PAYMENT_AND_ATTEMPT: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    format!(
        "WITH p AS (INSERT INTO payments ({PAYMENT_COLUMNS}) VALUES ({}) RETURNING id) \
         INSERT INTO attempts ({ATTEMPT_COLUMNS}) SELECT {} FROM p",
        crate::db::numbered(1, PAYMENT_COUNT),
        crate::db::numbered(PAYMENT_COUNT + 1, ATTEMPT_COUNT)
    )
});

/// PostgreSQL: the idempotency key's link to its new payment, the payment and its first
/// attempt in one statement (one round trip instead of three). The payment is written
/// only from the link's `RETURNING` (nothing when the key already has a payment: no row,
/// and then no attempt either), and the attempt from the payment's.
static INSERT_KEYED_PAYMENT_AND_ATTEMPT: std::sync::LazyLock<String> = std::sync::LazyLock::new(
    || {
        format!(
            "WITH k AS (INSERT INTO payment_keys (company_id, idem_key, payment_id, created_at) \
             VALUES ($1, $2, $3, $4) ON CONFLICT (company_id, idem_key) DO NOTHING RETURNING payment_id), \
             {} {}",
            payment_cte_from("k", 5),
            attempt_from_payment(5 + PAYMENT_COUNT)
        )
    },
);

/// PostgreSQL: the CTE `p AS (INSERT INTO payments … SELECT … FROM {link} RETURNING
/// id)`, a payment for each row of `link`, its values numbered from `first`.
fn payment_cte_from(link: &str, first: usize) -> String {
    format!(
        "p AS (INSERT INTO payments ({PAYMENT_COLUMNS}) SELECT {} FROM {link} RETURNING id)",
        crate::db::numbered(first, PAYMENT_COUNT)
    )
}

/// PostgreSQL: `INSERT INTO attempts … SELECT … FROM p`, an attempt for each payment of
/// [`payment_cte_from`], its values numbered from `first`.
fn attempt_from_payment(first: usize) -> String {
    format!(
        "INSERT INTO attempts ({ATTEMPT_COLUMNS}) SELECT {} FROM p",
        crate::db::numbered(first, ATTEMPT_COUNT)
    )
}

async fn insert_attempt(conn: &mut AnyConnection, a: &AttemptRecord) -> Result<(), StoreError> {
    bind_attempt(sqlx::query(&INSERT_ATTEMPT), a)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

pub(crate) async fn insert_attempt_in(
    conn: &mut AnyConnection,
    a: &AttemptRecord,
) -> Result<(), StoreError> {
    insert_attempt(conn, a).await
}

async fn begin_payment(
    conn: &mut AnyConnection,
    (p, a): &(PaymentRecord, AttemptRecord),
) -> Result<(), StoreError> {
    if crate::db::is_postgres(conn) {
        let q = sqlx::query(&INSERT_PAYMENT_AND_ATTEMPT);
        bind_attempt(bind_payment(q, p), a)
            .execute(&mut *conn)
            .await?;
        return Ok(());
    }
    insert_payment(conn, p).await?;
    insert_attempt(conn, a).await
}

/// The refusal of a new payment under an idempotency key that already created one.
fn key_has_payment() -> StoreError {
    StoreError::Conflict {
        code: "idempotency_key_has_payment",
        message: "this Idempotency-Key already created a payment".into(),
    }
}

async fn begin_keyed_payment(
    conn: &mut AnyConnection,
    p: &PaymentRecord,
    a: &AttemptRecord,
    key: &str,
) -> Result<(), StoreError> {
    if crate::db::is_postgres(conn) {
        let q = sqlx::query(&INSERT_KEYED_PAYMENT_AND_ATTEMPT)
            .bind(&p.company_id)
            .bind(key)
            .bind(&p.id)
            .bind(p.created_at);
        let written = bind_attempt(bind_payment(q, p), a)
            .execute(&mut *conn)
            .await?;
        return match written.rows_affected() {
            1 => Ok(()),
            _ => Err(key_has_payment()),
        };
    }
    let linked = sqlx::query(
        "INSERT INTO payment_keys (company_id, idem_key, payment_id, created_at) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (company_id, idem_key) DO NOTHING",
    )
    .bind(&p.company_id)
    .bind(key)
    .bind(&p.id)
    .bind(p.created_at)
    .execute(&mut *conn)
    .await?;
    if linked.rows_affected() == 0 {
        return Err(key_has_payment());
    }
    insert_payment(conn, p).await?;
    insert_attempt(conn, a).await
}

/// Inserts a payment row inside the caller's transaction.
pub(crate) async fn insert_payment(
    conn: &mut AnyConnection,
    p: &PaymentRecord,
) -> Result<(), StoreError> {
    bind_payment(sqlx::query(&INSERT_PAYMENT), p)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// The columns an attempt's completion sets, in the order [`bind_attempt_result`] binds
/// them (its id follows them).
const ATTEMPT_RESULT_COLUMNS: [&str; 8] = [
    "state",
    "outcome",
    "bank_code",
    "message",
    "http_status",
    "latency_ms",
    "raw",
    "finished_at",
];

/// The statement that completes an attempt, its parameters numbered from `$first`.
fn complete_attempt_sql(first: usize) -> String {
    let set: Vec<String> = ATTEMPT_RESULT_COLUMNS
        .iter()
        .zip(first..)
        .map(|(column, n)| format!("{column} = ${n}"))
        .collect();
    format!(
        "UPDATE attempts SET {} WHERE id = ${}",
        set.join(", "),
        first + ATTEMPT_RESULT_COLUMNS.len()
    )
}

/// Binds an attempt's completion, in [`complete_attempt_sql`]'s order.
fn bind_attempt_result<'q>(q: AnyQuery<'q>, r: &'q AttemptResult) -> AnyQuery<'q> {
    q.bind(AttemptState::Completed.as_str())
        .bind(r.outcome.as_str())
        .bind(&r.bank_code)
        .bind(&r.message)
        .bind(r.http_status)
        .bind(r.latency_ms)
        .bind(&r.raw)
        .bind(r.finished_at)
        .bind(&r.attempt_id)
}

static COMPLETE_ATTEMPT: std::sync::LazyLock<String> =
    std::sync::LazyLock::new(|| complete_attempt_sql(1));

async fn complete_attempt(conn: &mut AnyConnection, r: &AttemptResult) -> Result<(), StoreError> {
    bind_attempt_result(sqlx::query(&COMPLETE_ATTEMPT), r)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// A change applied: the payment as it left it, and whether anyone can observe the change
/// (its company has a live webhook endpoint, or it was made through a checkout session;
/// asked for only, and otherwise `false`).
struct Applied {
    payment: PaymentRecord,
    observed: bool,
}

/// Applies a change; `None` when it did not apply. With `observe`, the same statement
/// also counts what [`status_if_observed`] counts (so a sale's outcome, whose status
/// before is the one status it expects, needs no read of its own).
///
/// With `attempt`, the same round trip first completes that attempt, whether or not the
/// change applies. On PostgreSQL the attempt's `UPDATE` is a `WITH` that the payment's
/// `WHERE` reads, as a one-time filter that always holds, so it runs (and locks the
/// attempt's row) before the payment's row is looked for, in the order the separate
/// statements took them; a `WITH` nothing reads would run after the main statement. On
/// SQLite it is the statement before the payment's, in one call ([`crate::db::batch`]),
/// after `begin` ([`crate::db::take_begin`]) when there is one; without an attempt,
/// `begin` is sent first on its own.
async fn apply_change(
    conn: &mut AnyConnection,
    c: &PaymentChange,
    now: i64,
    observe: bool,
    attempt: Option<&AttemptResult>,
    begin: Option<&'static str>,
) -> Result<Option<Applied>, StoreError> {
    let first_attempt_param = 20 + c.expect.len();
    let postgres = crate::db::is_postgres(conn);
    let batched = attempt.is_some() && !postgres;
    let begin = if batched {
        begin
    } else {
        crate::db::send_begin(conn, begin).await?;
        None
    };
    let mut sql = String::new();
    // The attempt's `UPDATE` first: on PostgreSQL a `WITH` the payment's `WHERE` reads
    // (so it runs before the payment's row is looked for), on SQLite (no `WITH` that
    // writes) the statement before the payment's, in the same call.
    match (attempt.is_some(), postgres) {
        (false, _) => {}
        (true, true) => sql.push_str(&format!(
            "WITH done AS ({} RETURNING 1) ",
            complete_attempt_sql(first_attempt_param)
        )),
        (true, false) => {
            sql.push_str(&complete_attempt_sql(first_attempt_param));
            sql.push_str("; ");
        }
    }
    sql.push_str(
        "UPDATE payments SET status = $1, auth_code = COALESCE($2, auth_code), \
         provider_ref = COALESCE($3, provider_ref), \
         bank_code = CASE WHEN $4 THEN $5 ELSE COALESCE($6, bank_code) END, \
         message_tr = CASE WHEN $7 THEN $8 ELSE COALESCE($9, message_tr) END, \
         message_en = CASE WHEN $10 THEN $11 ELSE COALESCE($12, message_en) END, \
         authorized_amount = COALESCE($13, authorized_amount), refunded_amount = COALESCE($14, refunded_amount), \
         three_d_html = CASE WHEN $15 THEN NULL ELSE COALESCE($16, three_d_html) END, \
         updated_at = $17, lease_owner = NULL, lease_until = NULL, amount = COALESCE($19, amount) WHERE id = $18",
    );
    if !c.expect.is_empty() {
        sql.push_str(" AND status IN (");
        for i in 0..c.expect.len() {
            if i > 0 {
                sql.push_str(", ");
            }
            sql.push_str(&format!("${}", 20 + i));
        }
        sql.push(')');
    }
    if attempt.is_some() && postgres {
        sql.push_str(" AND (SELECT COUNT(*) FROM done) >= 0");
    }
    sql.push_str(" RETURNING *");
    if observe {
        sql.push_str(
            ", (SELECT COUNT(*) FROM webhook_endpoints e \
             WHERE e.company_id = payments.company_id AND e.deleted_at IS NULL) AS endpoints, \
             (SELECT COUNT(*) FROM checkout_sessions s WHERE s.payment_id = payments.id) AS sessions",
        );
    }
    let bank_code = c.bank_code.as_ref().map(BankCode::as_str);
    let message_tr = c.message.as_ref().map(|m| m.tr.as_str());
    let message_en = c.message.as_ref().map(|m| m.en.as_str());
    let sql = crate::db::opening(begin, sql);
    let mut q = sqlx::query(&sql)
        .bind(c.status.as_str())
        .bind(c.auth_code.as_ref().map(AuthCode::as_str))
        .bind(c.provider_ref.as_ref().map(ProviderRef::as_str))
        .bind(c.clear_message)
        .bind(bank_code)
        .bind(bank_code)
        .bind(c.clear_message)
        .bind(message_tr)
        .bind(message_tr)
        .bind(c.clear_message)
        .bind(message_en)
        .bind(message_en)
        .bind(c.authorized_amount.map(Kurus::minor))
        .bind(c.refunded_amount.map(Kurus::minor))
        .bind(c.clear_three_d_html)
        .bind(&c.three_d_html)
        .bind(now)
        .bind(&c.payment_id)
        .bind(c.amount.map(Kurus::minor));
    for status in &c.expect {
        q = q.bind(status.as_str());
    }
    if let Some(attempt) = attempt {
        q = bind_attempt_result(q, attempt);
    }
    let row = if batched {
        let mut done = crate::db::batch(conn, q).await.after_begin(begin.is_some());
        if let Some(e) = done.failed {
            return Err(e.into());
        }
        match (done.ran.len(), done.ran.pop()) {
            (2, Some(payment)) => payment.rows.into_iter().next(),
            (n, _) => {
                return Err(StoreError::corrupt(format!(
                    "an attempt's and its payment's changes answered {n} statements"
                )))
            }
        }
    } else {
        q.fetch_optional(&mut *conn).await?
    };
    let Some(row) = row else {
        return Ok(None);
    };
    let observed = observe && (int(&row, "endpoints")? > 0 || int(&row, "sessions")? > 0);
    Ok(Some(Applied {
        payment: payment_from(&row)?,
        observed,
    }))
}

/// A payment read in the caller's transaction.
async fn read_payment(
    conn: &mut AnyConnection,
    payment_id: &str,
) -> Result<Option<PaymentRecord>, StoreError> {
    sqlx::query("SELECT * FROM payments WHERE id = $1")
        .bind(payment_id)
        .fetch_optional(&mut *conn)
        .await?
        .as_ref()
        .map(payment_from)
        .transpose()
}

async fn finish_attempt(
    conn: &mut AnyConnection,
    (f, stored): &(FinishAttempt, Arc<AtomicBool>),
) -> Result<Finished, StoreError> {
    // A group rolled back runs its writes again one at a time: an answer stored by the
    // group is not stored any more.
    stored.store(false, Ordering::Release);
    let now = crate::now_ms();
    // A sale's outcome completes its attempt with the payment's change, in one round
    // trip (`apply_change`); anything else one after the other.
    let attempt_with_change = f
        .result
        .as_ref()
        .filter(|_| f.new_attempt.is_none() && f.payment.is_some());
    // A change that has rules to follow needs the status it changes from, so the rules
    // see what really changed; only for a payment someone can observe. A change that
    // expects one status changes from that one (it applies only then), and its own
    // statement says whether anyone observes it; any other reads the status first.
    let single = f
        .payment
        .as_ref()
        .and_then(|change| match change.expect[..] {
            [only] => Some(only),
            _ => None,
        });
    let read_before = f.payment.is_some() && f.events.is_some() && single.is_none();
    // The transaction's `BEGIN`, when this write is its first, goes with the sale's
    // change when that is the first statement, otherwise on its own now.
    let begin = crate::db::take_begin();
    let begin = if attempt_with_change.is_none() || read_before {
        crate::db::send_begin(conn, begin).await?;
        None
    } else {
        begin
    };
    if let (Some(result), None) = (&f.result, attempt_with_change) {
        complete_attempt(conn, result).await?;
    }
    if let Some(attempt) = &f.new_attempt {
        insert_attempt(conn, attempt).await?;
    }
    let before = match (&f.payment, read_before) {
        (Some(change), true) => status_if_observed(conn, &change.payment_id).await?,
        _ => None,
    };
    let mut payment = None;
    if let Some(change) = &f.payment {
        let observe = f.events.is_some() && single.is_some();
        let Some(applied) =
            apply_change(conn, change, now, observe, attempt_with_change, begin).await?
        else {
            return Ok(Finished {
                applied: false,
                payment: read_payment(conn, &change.payment_id).await?,
                answered: false,
            });
        };
        let changed = applied.payment;
        let before = before.or(single.filter(|_| applied.observed));
        if let (Some(before), Some(rules)) = (before, f.events) {
            follow(conn, rules, PaymentCause::Status { before }, &changed, now).await?;
        }
        payment = Some(changed);
    }
    if let Some(refund) = &f.refund {
        let changed = crate::refunds::apply_refund_result(conn, refund, now).await?;
        if let Some(rules) = f.events {
            if status_if_observed(conn, &changed.id).await?.is_some() {
                follow(conn, rules, PaymentCause::Refund(refund), &changed, now).await?;
            }
        }
        payment = Some(changed);
    }
    if let (Some(answer), Some(payment)) = (&f.answer, &payment) {
        keep_answer(conn, answer, payment, stored).await?;
    }
    // The POS's health after the chain locks: a POS check changes the same row while
    // holding the company's lock, taken before its other rows.
    if let Some(health) = &f.pos_health {
        let (pos_id, error) = (health.pos_id.clone(), health.error.clone());
        let step: crate::audit::AfterChains = Box::new(move |conn| {
            Box::pin(async move {
                match error {
                    // At most once a second, so concurrent payments of one POS do not
                    // queue on its row.
                    None => {
                        sqlx::query(
                            "UPDATE pos_definitions SET last_success_at = $1 WHERE id = $2 \
                             AND (last_success_at IS NULL OR last_success_at < $3)",
                        )
                        .bind(now)
                        .bind(&pos_id)
                        .bind(now - 1_000)
                        .execute(&mut *conn)
                        .await?;
                    }
                    Some(error) => {
                        sqlx::query("UPDATE pos_definitions SET last_error = $1 WHERE id = $2")
                            .bind(&error)
                            .bind(&pos_id)
                            .execute(&mut *conn)
                            .await?;
                    }
                }
                Ok(())
            })
        });
        crate::audit::after_chains(conn, &health.company_id, step).await?;
    }
    for audit in &f.audit {
        append(conn, audit).await?;
    }
    Ok(Finished {
        applied: true,
        payment,
        // Known once the transaction has ended (`Store::finish_attempt`).
        answered: false,
    })
}

/// Stores a key's answer, if the key is still waiting for one (claimed, not answered,
/// not given back), at the end of the writer transaction with its group's other
/// answers; `stored` says whether it was, once the transaction has ended.
async fn keep_answer(
    conn: &mut AnyConnection,
    answer: &KeyAnswer,
    payment: &PaymentRecord,
    stored: &Arc<AtomicBool>,
) -> Result<(), StoreError> {
    let (status, body) = (answer.render)(payment);
    let kept = KeptAnswer {
        company_id: answer.company_id.clone(),
        key: answer.key.clone(),
        status: i64::from(status),
        body,
        stored: stored.clone(),
    };
    match crate::audit::answer_at_end(kept) {
        Some(now) => write_answers(conn, std::slice::from_ref(&now)).await,
        None => Ok(()),
    }
}

async fn begin_claimed_payment(
    conn: &mut AnyConnection,
    (p, a, claim): &(PaymentRecord, AttemptRecord, KeyClaim),
) -> Result<ClaimedBegin, StoreError> {
    let begin = crate::db::take_begin();
    if !crate::db::is_postgres(conn) {
        if let Some(done) = claim_and_begin_in_one_call(conn, p, a, claim, begin).await? {
            return Ok(done);
        }
    } else {
        crate::db::send_begin(conn, begin).await?;
        if !claim.hits.is_empty() {
            if let Some(done) = claim_and_begin_at_once(conn, p, a, claim).await? {
                return Ok(done);
            }
        }
    }
    if let Some(instead) = claim_in(conn, claim, p.created_at).await? {
        return Ok(instead);
    }
    begin_keyed_payment(conn, p, a, &claim.key).await?;
    Ok(ClaimedBegin::Started)
}

/// PostgreSQL: a free key's claim, its rate counters, its link to the new payment, the
/// payment and its first attempt in one statement (one round trip instead of three),
/// written in that order, each from the one before: the counters only when the key was
/// inserted, the link only when no counter went over its limit, the payment from the
/// link's `RETURNING` and the attempt from the payment's. `None` when the key was not
/// free (nothing written): the caller then takes the path of separate statements,
/// which replays, refuses or takes the key over.
async fn claim_and_begin_at_once(
    conn: &mut AnyConnection,
    p: &PaymentRecord,
    a: &AttemptRecord,
    claim: &KeyClaim,
) -> Result<Option<ClaimedBegin>, StoreError> {
    let sql = claim_and_begin_sql(true, claim.hits.len(), claim.limits.len(), None);
    let rows = bind_claim_and_begin(&sql, p, a, claim)
        .fetch_all(&mut *conn)
        .await?;
    let first = rows
        .first()
        .ok_or_else(|| StoreError::corrupt("the claim answered no row"))?;
    if int(first, "claimed")? == 0 {
        return Ok(None);
    }
    let mut counts = Vec::with_capacity(rows.len());
    for row in &rows {
        if let Some(scope) = opt_text(row, "scope")? {
            counts.push((scope, int(row, "hits")?));
        }
    }
    let wrote = match int(first, "written")? {
        0 => false,
        1 => true,
        written => {
            return Err(StoreError::corrupt(format!(
                "the claim wrote {written} attempts for counts {counts:?}"
            )))
        }
    };
    settle_claim(conn, claim, counts, wrote).await
}

/// What a key claimed with its first writes comes to, from its counters' new counts and
/// whether the payment was written: started; over a limit (nothing written, the key
/// given back); or nothing written under no limit, the key's link being there already.
async fn settle_claim(
    conn: &mut AnyConnection,
    claim: &KeyClaim,
    counts: Vec<(String, i64)>,
    wrote: bool,
) -> Result<Option<ClaimedBegin>, StoreError> {
    match (wrote, crate::idempotency::is_over(claim, &counts)) {
        (true, false) => Ok(Some(ClaimedBegin::Started)),
        (false, true) => {
            crate::idempotency::free_key(conn, claim).await?;
            Ok(Some(ClaimedBegin::OverLimit(counts)))
        }
        (false, false) => Err(key_has_payment()),
        (true, true) => Err(StoreError::corrupt(format!(
            "the claim wrote its payment for counts over a limit {counts:?}"
        ))),
    }
}

/// SQLite: the same writes as [`claim_and_begin_at_once`] in one call to the
/// connection's thread ([`crate::db::batch`]), one statement after the other: the key's
/// claim, a plain `INSERT` that fails when the key is there (then nothing after it runs,
/// nothing is written, and `None` sends the caller the separate statements' way, which
/// replays, refuses or takes the key over); its rate counters; its link to the new
/// payment, only when no counter went over its limit; the payment, only when the link
/// to it was written; its first attempt, only when the payment was. With `begin`
/// ([`crate::db::take_begin`]), the transaction's `BEGIN` goes first in the same call.
async fn claim_and_begin_in_one_call(
    conn: &mut AnyConnection,
    p: &PaymentRecord,
    a: &AttemptRecord,
    claim: &KeyClaim,
    begin: Option<&'static str>,
) -> Result<Option<ClaimedBegin>, StoreError> {
    let sql = claim_and_begin_sql(false, claim.hits.len(), claim.limits.len(), begin);
    let done = crate::db::batch(conn, bind_claim_and_begin(&sql, p, a, claim))
        .await
        .after_begin(begin.is_some());
    if let Some(e) = done.failed {
        let key_taken = done.ran.is_empty()
            && matches!(&e, sqlx::Error::Database(db) if db.is_unique_violation());
        return if key_taken { Ok(None) } else { Err(e.into()) };
    }
    let counted = usize::from(!claim.hits.is_empty());
    let (Some(counters), Some([link, payment, attempt])) = (
        done.ran.get(1..1 + counted),
        done.ran
            .get(1 + counted..)
            .and_then(|rest| <&[_; 3]>::try_from(rest).ok()),
    ) else {
        return Err(StoreError::corrupt(format!(
            "the claim's {} statements answered {}",
            4 + counted,
            done.ran.len()
        )));
    };
    let mut counts = Vec::with_capacity(claim.hits.len());
    for row in counters.iter().flat_map(|c| &c.rows) {
        counts.push((text(row, "scope")?, int(row, "hits")?));
    }
    let wrote = match (link.changed, payment.changed, attempt.changed) {
        (0, 0, 0) => false,
        (1, 1, 1) => true,
        (link, payment, attempt) => {
            return Err(StoreError::corrupt(format!(
                "the claim wrote {link} links, {payment} payments and {attempt} attempts \
                 for counts {counts:?}"
            )))
        }
    };
    settle_claim(conn, claim, counts, wrote).await
}

/// The claim's statement ([`claim_and_begin_sql`]) with its parameters bound: the key as
/// [`crate::idempotency::INSERT_KEY`] takes them, the hits (scope, subject, window
/// start), the limits (scope, most), the link's payment id and time, the payment's
/// columns and the attempt's.
fn bind_claim_and_begin<'q>(
    sql: &'q str,
    p: &'q PaymentRecord,
    a: &'q AttemptRecord,
    claim: &'q KeyClaim,
) -> AnyQuery<'q> {
    let mut q = sqlx::query(sql)
        .bind(&claim.company_id)
        .bind(&claim.key)
        .bind(&claim.request_hash)
        .bind(p.created_at)
        .bind(crate::idempotency::locked_until(p.created_at));
    for h in &claim.hits {
        q = q.bind(&h.scope).bind(&h.subject).bind(h.window_start);
    }
    for (scope, most) in &claim.limits {
        q = q.bind(scope).bind(*most);
    }
    let q = q.bind(&p.id).bind(p.created_at);
    bind_attempt(bind_payment(q, p), a)
}

/// The claim's statement for `hits` counters and `limits` limits, PostgreSQL's
/// ([`claim_and_begin_at_once`]) or SQLite's ([`claim_and_begin_in_one_call`], after
/// `begin` when there is one), built once for each such case (a few per process) and
/// kept.
fn claim_and_begin_sql(
    postgres: bool,
    hits: usize,
    limits: usize,
    begin: Option<&'static str>,
) -> Arc<str> {
    type Cases = (bool, usize, usize, Option<&'static str>);
    type Built = std::sync::Mutex<std::collections::HashMap<Cases, Arc<str>>>;
    static BUILT: std::sync::LazyLock<Built> = std::sync::LazyLock::new(Default::default);
    let mut built = BUILT
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    built
        .entry((postgres, hits, limits, begin))
        .or_insert_with(|| {
            if postgres {
                build_claim_and_begin_sql(hits, limits).into()
            } else {
                crate::db::opening(begin, build_claim_and_begin_sqlite(hits, limits)).into()
            }
        })
        .clone()
}

/// `count` rows of `width` parameters numbered from `$first`, without their
/// parentheses; `last` writes each row's last one (a number, cast or not).
fn parameter_rows(
    first: usize,
    count: usize,
    width: usize,
    last: impl Fn(usize) -> String,
) -> Vec<String> {
    (0..count)
        .map(|row| {
            let n = first + width * row;
            let mut params: Vec<String> = (n..n + width - 1).map(|m| format!("${m}")).collect();
            params.push(last(n + width - 1));
            params.join(", ")
        })
        .collect()
}

/// Rows of [`parameter_rows`] for a `VALUES` list.
fn in_parentheses(rows: &[String]) -> String {
    rows.iter()
        .map(|row| format!("({row})"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// SQLite's statements of [`claim_and_begin_in_one_call`], parameters as
/// [`bind_claim_and_begin`] binds them.
fn build_claim_and_begin_sqlite(hits: usize, limits: usize) -> String {
    use crate::ratelimit::UPSERT_HIT;
    let first_limit = 6 + 3 * hits;
    let first_link = first_limit + 2 * limits;
    let first_payment = first_link + 2;
    let hit_rows = parameter_rows(6, hits, 3, |n| format!("${n}"));
    let counters = if hits == 0 {
        String::new()
    } else {
        let rows = hit_rows
            .iter()
            .map(|row| format!("({row}, '', 1)"))
            .collect::<Vec<_>>()
            .join(", ");
        format!(
            "INSERT INTO rate_counters (scope, subject, window_start, shard, hits) \
             VALUES {rows} {UPSERT_HIT} RETURNING scope, hits; "
        )
    };
    // A counter of this request over its scope's limit (SQLite has one row a counter).
    let over = if hits == 0 || limits == 0 {
        "SELECT 1 WHERE 0".to_owned()
    } else {
        format!(
            "SELECT 1 FROM (VALUES {}) AS h JOIN (VALUES {}) AS l \
             ON l.column1 = h.column1 JOIN rate_counters c ON c.scope = h.column1 \
             AND c.subject = h.column2 AND c.window_start = h.column3 AND c.shard = '' \
             WHERE c.hits > l.column2",
            in_parentheses(&hit_rows),
            in_parentheses(&parameter_rows(first_limit, limits, 2, |n| format!("${n}")))
        )
    };
    format!(
        "{CLAIM_KEY}; {counters}\
         INSERT INTO payment_keys (company_id, idem_key, payment_id, created_at) \
         SELECT $1, $2, ${first_link}, ${} WHERE NOT EXISTS ({over}) \
         ON CONFLICT (company_id, idem_key) DO NOTHING; \
         INSERT INTO payments ({PAYMENT_COLUMNS}) SELECT {} WHERE EXISTS \
         (SELECT 1 FROM payment_keys WHERE company_id = $1 AND idem_key = $2 AND payment_id = ${first_link}); \
         INSERT INTO attempts ({ATTEMPT_COLUMNS}) SELECT {} WHERE EXISTS \
         (SELECT 1 FROM payments WHERE id = ${first_link})",
        first_link + 1,
        crate::db::numbered(first_payment, PAYMENT_COUNT),
        crate::db::numbered(first_payment + PAYMENT_COUNT, ATTEMPT_COUNT),
        CLAIM_KEY = crate::idempotency::CLAIM_KEY,
    )
}

/// Parameters: `$1`–`$5` the key as [`crate::idempotency::INSERT_KEY`] takes them, then
/// the hits (scope, subject, window start), the limits (scope, most), the link's payment
/// id and time, the payment's columns and the attempt's.
fn build_claim_and_begin_sql(hits: usize, limits: usize) -> String {
    use crate::ratelimit::{PG_SHARD, PG_TOTAL_OF_C, UPSERT_HIT};
    let first_limit = 6 + 3 * hits;
    let first_link = first_limit + 2 * limits;
    let cast = |n: usize| format!("CAST(${n} AS BIGINT)");
    let hit_rows = in_parentheses(&parameter_rows(6, hits, 3, cast));
    let over = if limits == 0 {
        "SELECT 1 WHERE FALSE".to_owned()
    } else {
        format!(
            "SELECT 1 FROM totals t JOIN (VALUES {}) AS l (scope, most) \
             ON l.scope = t.scope WHERE t.hits > l.most",
            in_parentheses(&parameter_rows(first_limit, limits, 2, cast))
        )
    };
    format!(
        "WITH k AS ({INSERT_KEY} RETURNING 1 AS claimed), \
         counted AS (INSERT INTO rate_counters (scope, subject, window_start, shard, hits) \
         SELECT h.scope, h.subject, h.window_start, {PG_SHARD}, 1 \
         FROM (VALUES {hit_rows}) AS h (scope, subject, window_start) WHERE EXISTS (SELECT 1 FROM k) \
         {UPSERT_HIT} RETURNING scope, subject, window_start, shard, hits), \
         totals AS (SELECT c.scope, {PG_TOTAL_OF_C} AS hits FROM counted c), \
         over AS ({over}), \
         link AS (INSERT INTO payment_keys (company_id, idem_key, payment_id, created_at) \
         SELECT $1, $2, ${first_link}, ${} WHERE EXISTS (SELECT 1 FROM k) AND NOT EXISTS (SELECT 1 FROM over) \
         ON CONFLICT (company_id, idem_key) DO NOTHING RETURNING payment_id), \
         {}, a AS ({} RETURNING 1) \
         SELECT (SELECT COUNT(*) FROM k) AS claimed, (SELECT COUNT(*) FROM a) AS written, \
         t.scope, t.hits FROM (SELECT 1) AS one LEFT JOIN totals t ON TRUE",
        first_link + 1,
        payment_cte_from("link", first_link + 2),
        attempt_from_payment(first_link + 2 + PAYMENT_COUNT),
        INSERT_KEY = crate::idempotency::INSERT_KEY,
    )
}

impl Store {
    /// Claims an idempotency key, counts the request against its rate limits, and
    /// writes the payment and its first attempt (dispatched), all in one transaction,
    /// before the provider call. Nothing but the counts is written when the key is not
    /// free or a limit is reached.
    pub async fn begin_claimed_payment(
        &self,
        payment: PaymentRecord,
        attempt: AttemptRecord,
        claim: KeyClaim,
    ) -> Result<ClaimedBegin, StoreError> {
        self.db
            .write_opening((payment, attempt, claim), |c, d| {
                Box::pin(begin_claimed_payment(c, d))
            })
            .await
    }

    /// Writes a new payment and its first attempt (dispatched), before the provider call.
    pub async fn begin_payment(
        &self,
        payment: PaymentRecord,
        attempt: AttemptRecord,
    ) -> Result<(), StoreError> {
        self.db
            .write((payment, attempt), |c, d| Box::pin(begin_payment(c, d)))
            .await
    }

    /// Like [`Store::begin_payment`], and records that the idempotency `key` created this
    /// payment, in the same transaction. Refused with the conflict
    /// `idempotency_key_has_payment` (nothing written) when the key already has one.
    pub async fn begin_keyed_payment(
        &self,
        payment: PaymentRecord,
        attempt: AttemptRecord,
        key: String,
    ) -> Result<(), StoreError> {
        self.db
            .write((payment, attempt, key), |c, (p, a, key)| {
                Box::pin(begin_keyed_payment(c, p, a, key))
            })
            .await
    }

    /// The payment an idempotency key created, if any.
    pub async fn payment_for_key(
        &self,
        company_id: &str,
        key: &str,
    ) -> Result<Option<PaymentRecord>, StoreError> {
        let row = sqlx::query(
            "SELECT p.* FROM payment_keys k JOIN payments p ON p.id = k.payment_id \
             WHERE k.company_id = $1 AND k.idem_key = $2 AND p.company_id = $3",
        )
        .bind(company_id)
        .bind(key)
        .bind(company_id)
        .fetch_optional(&self.db.read)
        .await?;
        row.as_ref().map(payment_from).transpose()
    }

    /// Moves a payment by `change` and, only when the change applied, writes the
    /// attempt (dispatched) that is about to be sent, in one transaction: so two
    /// requests can never both send a capture or a release. The payment as the change
    /// left it, or `None` (nothing written) when the payment was no longer in one of the
    /// expected statuses.
    pub async fn begin_operation(
        &self,
        change: PaymentChange,
        attempt: AttemptRecord,
    ) -> Result<Option<PaymentRecord>, StoreError> {
        self.db
            .write((change, attempt), |c, (change, attempt)| {
                Box::pin(async move {
                    let Some(applied) =
                        apply_change(c, change, crate::now_ms(), false, None, None).await?
                    else {
                        return Ok(None);
                    };
                    insert_attempt(c, attempt).await?;
                    Ok(Some(applied.payment))
                })
            })
            .await
    }

    /// Writes an attempt (dispatched) for an existing payment, before the call.
    pub async fn insert_attempt(&self, attempt: AttemptRecord) -> Result<(), StoreError> {
        self.db
            .write(attempt, |c, a| Box::pin(insert_attempt(c, a)))
            .await
    }

    /// Records how a call ended, in one transaction: the attempt, the payment's change,
    /// a refund result, what the service's rules say they cause, the POS's health and
    /// the audit events. Returns whether the payment change applied and the payment as
    /// it now stands.
    pub async fn finish_attempt(&self, finish: FinishAttempt) -> Result<Finished, StoreError> {
        let stored = Arc::new(AtomicBool::new(false));
        let mut finished = self
            .db
            .write_opening((finish, stored.clone()), |c, f| {
                Box::pin(finish_attempt(c, f))
            })
            .await?;
        finished.answered = stored.load(Ordering::Acquire);
        Ok(finished)
    }

    /// One payment of a company.
    pub async fn get_payment(
        &self,
        company_id: &str,
        id: &str,
    ) -> Result<PaymentRecord, StoreError> {
        let row = sqlx::query("SELECT * FROM payments WHERE id = $1 AND company_id = $2")
            .bind(id)
            .bind(company_id)
            .fetch_optional(&self.db.read)
            .await?
            .ok_or(StoreError::NotFound)?;
        payment_from(&row)
    }

    /// The payment behind a 3D token.
    pub async fn get_payment_by_token(&self, token: &str) -> Result<PaymentRecord, StoreError> {
        let row = sqlx::query("SELECT * FROM payments WHERE three_d_token = $1")
            .bind(token)
            .fetch_optional(&self.db.read)
            .await?
            .ok_or(StoreError::NotFound)?;
        payment_from(&row)
    }

    /// A page of a company's payments, newest first.
    pub async fn list_payments(
        &self,
        company_id: &str,
        query: &PaymentQuery,
    ) -> Result<Vec<PaymentRecord>, StoreError> {
        // Keyset paging on (created_at, id): a row-value comparison both engines turn
        // into an index range, so a deep page costs what the first one does.
        let clause = crate::reports::list_clause(self, company_id, query).await?;
        let sql = format!("SELECT * FROM payments{}", clause.sql);
        let q = clause.bind(sqlx::query(&sql));
        let rows = q.fetch_all(&self.db.read).await?;
        rows.iter().map(payment_from).collect()
    }

    /// The customer references a company's payments carry, distinct, in order, at most
    /// `limit`; only those starting with `prefix` when it is not empty. Offered as a
    /// person types a customer reference, so an entry uses the company's own spelling.
    pub async fn customer_refs(
        &self,
        company_id: &str,
        prefix: &str,
        limit: u32,
    ) -> Result<Vec<String>, StoreError> {
        // `substr` compares characters on both engines, with no LIKE wildcards to escape.
        let rows = sqlx::query(
            "SELECT DISTINCT customer_ref FROM payments WHERE company_id = $1 \
             AND customer_ref IS NOT NULL AND customer_ref <> '' \
             AND ($2 = '' OR substr(customer_ref, 1, CAST($3 AS INTEGER)) = $4) \
             ORDER BY customer_ref LIMIT $5",
        )
        .bind(company_id)
        .bind(prefix)
        .bind(prefix.chars().count() as i64)
        .bind(prefix)
        .bind(i64::from(limit))
        .fetch_all(&self.db.read)
        .await?;
        rows.iter().map(|row| text(row, "customer_ref")).collect()
    }

    /// A payment's attempts, oldest first.
    pub async fn list_attempts(&self, payment_id: &str) -> Result<Vec<AttemptRecord>, StoreError> {
        let rows =
            sqlx::query("SELECT * FROM attempts WHERE payment_id = $1 ORDER BY started_at, id")
                .bind(payment_id)
                .fetch_all(&self.db.read)
                .await?;
        rows.iter().map(attempt_from).collect()
    }
}
