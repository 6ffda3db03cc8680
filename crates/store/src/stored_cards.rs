//! Stored cards: the provider vault's token of a customer's card, with its mask and the
//! customer's name for it. Never the card number or CVV. Each change is written with its
//! audit event in one transaction; the service decides the state.

use sqlx::any::AnyRow;
use sqlx::AnyConnection;

use crate::audit::append;
use crate::model::{NewAudit, PaymentStatus, StoredCardState};
use crate::rows::{int, opt_int, opt_text, text};
use crate::{Store, StoreError};

/// A card kept in a provider's vault for one customer of a company.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredCardRecord {
    /// `card_…`.
    pub id: String,
    /// Owner.
    pub company_id: String,
    /// The POS whose provider keeps the card; payments with it go through this POS.
    pub pos_id: String,
    /// The company's customer (cari) reference the card belongs to; also the customer
    /// key the provider knows.
    pub customer_ref: String,
    /// The vault's token of the card.
    pub provider_token: String,
    /// The vault's transaction id of the card.
    pub provider_tran_id: String,
    /// First six and last four digits, as `454671******7894`.
    pub masked_pan: String,
    /// The card scheme as the provider names it; may be empty.
    pub brand: String,
    /// The issuing bank as the provider names it; may be empty.
    pub issuer: String,
    /// The customer's name for the card; may be empty.
    pub alias: String,
    /// 1 to 12, as the registration gave it; `None` when learnt from the provider's list.
    pub expiry_month: Option<i64>,
    /// Four digits, as the registration gave it; `None` when learnt from the provider's
    /// list.
    pub expiry_year: Option<i64>,
    /// Who saved it: `api:<key>`, `user:<name>`.
    pub created_by: String,
    /// Unix milliseconds.
    pub created_at: i64,
    /// Active, being deleted, or deleted.
    pub state: StoredCardState,
    /// How often the provider was asked to delete it and did not.
    pub delete_tries: i64,
    /// Why the last delete did not go through (provider text, scrubbed).
    pub delete_error: Option<String>,
    /// When the background pass may ask the provider again (Unix ms); only while
    /// `deleting`.
    pub next_try_at: Option<i64>,
}

/// A 3D payment's request to keep its card once approved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CardSaveRecord {
    /// The 3D payment (`pay_…`).
    pub payment_id: String,
    /// Owner.
    pub company_id: String,
    /// The customer the card will belong to (the payment's `customer_ref`).
    pub customer_ref: String,
    /// The customer's name for the card; may be empty.
    pub alias: String,
    /// Unix milliseconds.
    pub created_at: i64,
    /// The stored card recorded once the sale was approved and the provider listed it.
    pub stored_card_id: Option<String>,
    /// How often the provider's list was read without finding the card.
    pub tries: i64,
    /// When a background pass may read the list again (Unix ms); `None`: as soon as the
    /// payment is approved.
    pub next_try_at: Option<i64>,
}

fn save_from(row: &AnyRow) -> Result<CardSaveRecord, StoreError> {
    Ok(CardSaveRecord {
        payment_id: text(row, "payment_id")?,
        company_id: text(row, "company_id")?,
        customer_ref: text(row, "customer_ref")?,
        alias: text(row, "alias")?,
        created_at: int(row, "created_at")?,
        stored_card_id: opt_text(row, "stored_card_id")?,
        tries: int(row, "tries")?,
        next_try_at: opt_int(row, "next_try_at")?,
    })
}

fn card_from(row: &AnyRow) -> Result<StoredCardRecord, StoreError> {
    let state = text(row, "state")?;
    Ok(StoredCardRecord {
        id: text(row, "id")?,
        company_id: text(row, "company_id")?,
        pos_id: text(row, "pos_id")?,
        customer_ref: text(row, "customer_ref")?,
        provider_token: text(row, "provider_token")?,
        provider_tran_id: text(row, "provider_tran_id")?,
        masked_pan: text(row, "masked_pan")?,
        brand: text(row, "brand")?,
        issuer: text(row, "issuer")?,
        alias: text(row, "alias")?,
        expiry_month: opt_int(row, "expiry_month")?,
        expiry_year: opt_int(row, "expiry_year")?,
        created_by: text(row, "created_by")?,
        created_at: int(row, "created_at")?,
        state: StoredCardState::parse(&state)
            .ok_or_else(|| StoreError::corrupt(format!("state: {state}")))?,
        delete_tries: int(row, "delete_tries")?,
        delete_error: opt_text(row, "delete_error")?,
        next_try_at: opt_int(row, "next_try_at")?,
    })
}

/// What a delete that did not go through writes.
#[derive(Debug, Clone)]
struct DeleteFailed {
    company_id: String,
    id: String,
    error: String,
    next_try_at: i64,
    audit: NewAudit,
}

async fn insert(
    conn: &mut AnyConnection,
    (c, audit): &(StoredCardRecord, NewAudit),
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO stored_cards (id, company_id, pos_id, customer_ref, provider_token, \
         provider_tran_id, masked_pan, brand, issuer, alias, expiry_month, expiry_year, \
         created_by, created_at, state, delete_tries, delete_error, next_try_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18)",
    )
    .bind(&c.id)
    .bind(&c.company_id)
    .bind(&c.pos_id)
    .bind(&c.customer_ref)
    .bind(&c.provider_token)
    .bind(&c.provider_tran_id)
    .bind(&c.masked_pan)
    .bind(&c.brand)
    .bind(&c.issuer)
    .bind(&c.alias)
    .bind(c.expiry_month)
    .bind(c.expiry_year)
    .bind(&c.created_by)
    .bind(c.created_at)
    .bind(c.state.as_str())
    .bind(c.delete_tries)
    .bind(&c.delete_error)
    .bind(c.next_try_at)
    .execute(&mut *conn)
    .await?;
    append(conn, audit).await
}

async fn insert_save(conn: &mut AnyConnection, s: &CardSaveRecord) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO card_saves (payment_id, company_id, customer_ref, alias, created_at, \
         stored_card_id, tries, next_try_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(&s.payment_id)
    .bind(&s.company_id)
    .bind(&s.customer_ref)
    .bind(&s.alias)
    .bind(s.created_at)
    .bind(&s.stored_card_id)
    .bind(s.tries)
    .bind(s.next_try_at)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

async fn insert_saved(
    conn: &mut AnyConnection,
    (payment_id, card, audit): &(String, StoredCardRecord, NewAudit),
) -> Result<(), StoreError> {
    // The card first: the save points at it.
    insert(conn, &(card.clone(), audit.clone())).await?;
    let done = sqlx::query(
        "UPDATE card_saves SET stored_card_id = $1 \
         WHERE payment_id = $2 AND company_id = $3 AND stored_card_id IS NULL",
    )
    .bind(&card.id)
    .bind(payment_id)
    .bind(&card.company_id)
    .execute(&mut *conn)
    .await?;
    if done.rows_affected() == 0 {
        return Err(StoreError::conflict(
            "card_already_saved",
            "the payment's card is already recorded",
        ));
    }
    Ok(())
}

async fn save_missed(
    conn: &mut AnyConnection,
    (company_id, payment_id, next_try_at): &(String, String, i64),
) -> Result<(), StoreError> {
    sqlx::query(
        "UPDATE card_saves SET tries = tries + 1, next_try_at = $1 \
         WHERE payment_id = $2 AND company_id = $3 AND stored_card_id IS NULL",
    )
    .bind(next_try_at)
    .bind(payment_id)
    .bind(company_id)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

async fn mark_deleting(conn: &mut AnyConnection, d: &DeleteFailed) -> Result<(), StoreError> {
    let done = sqlx::query(
        "UPDATE stored_cards SET state = $1, delete_tries = delete_tries + 1, \
         delete_error = $2, next_try_at = $3 \
         WHERE id = $4 AND company_id = $5 AND state IN ($6, $1)",
    )
    .bind(StoredCardState::Deleting.as_str())
    .bind(&d.error)
    .bind(d.next_try_at)
    .bind(&d.id)
    .bind(&d.company_id)
    .bind(StoredCardState::Active.as_str())
    .execute(&mut *conn)
    .await?;
    if done.rows_affected() == 0 {
        return Err(StoreError::NotFound);
    }
    append(conn, &d.audit).await
}

async fn mark_deleted(
    conn: &mut AnyConnection,
    (company_id, id, audit): &(String, String, NewAudit),
) -> Result<(), StoreError> {
    let done = sqlx::query(
        "UPDATE stored_cards SET state = $1, delete_error = NULL, next_try_at = NULL \
         WHERE id = $2 AND company_id = $3 AND state <> $1",
    )
    .bind(StoredCardState::Deleted.as_str())
    .bind(id)
    .bind(company_id)
    .execute(&mut *conn)
    .await?;
    if done.rows_affected() == 0 {
        return Err(StoreError::NotFound);
    }
    append(conn, audit).await
}

impl Store {
    /// Saves a card the provider has just stored, with its audit event. The same token
    /// twice for one customer of a POS is a `unique_violation` conflict.
    pub async fn insert_stored_card(
        &self,
        card: StoredCardRecord,
        audit: NewAudit,
    ) -> Result<(), StoreError> {
        let chains = vec![audit.company_id.clone()];
        self.db
            .write_for(chains, (card, audit), |c, d| Box::pin(insert(c, d)))
            .await
    }

    /// A customer's cards that are not deleted (active and still being deleted), oldest
    /// first.
    pub async fn list_stored_cards(
        &self,
        company_id: &str,
        customer_ref: &str,
    ) -> Result<Vec<StoredCardRecord>, StoreError> {
        let rows = sqlx::query(
            "SELECT * FROM stored_cards WHERE company_id = $1 AND customer_ref = $2 \
             AND state <> $3 ORDER BY created_at, id",
        )
        .bind(company_id)
        .bind(customer_ref)
        .bind(StoredCardState::Deleted.as_str())
        .fetch_all(&self.db.read)
        .await?;
        rows.iter().map(card_from).collect()
    }

    /// One card of a customer of the company, whatever its state; another company's or
    /// another customer's card is not found.
    pub async fn get_stored_card(
        &self,
        company_id: &str,
        customer_ref: &str,
        id: &str,
    ) -> Result<StoredCardRecord, StoreError> {
        let row = sqlx::query(
            "SELECT * FROM stored_cards WHERE id = $1 AND company_id = $2 AND customer_ref = $3",
        )
        .bind(id)
        .bind(company_id)
        .bind(customer_ref)
        .fetch_optional(&self.db.read)
        .await?
        .ok_or(StoreError::NotFound)?;
        card_from(&row)
    }

    /// Records a delete the provider did not confirm: the card turns (or stays)
    /// `deleting` with the reason, one more try counted, and the time of the next try.
    /// Not found when the card is not active or deleting.
    pub async fn mark_stored_card_deleting(
        &self,
        company_id: &str,
        id: &str,
        error: &str,
        next_try_at: i64,
        audit: NewAudit,
    ) -> Result<(), StoreError> {
        let chains = vec![audit.company_id.clone()];
        let failed = DeleteFailed {
            company_id: company_id.to_owned(),
            id: id.to_owned(),
            error: error.to_owned(),
            next_try_at,
            audit,
        };
        self.db
            .write_for(chains, failed, |c, d| Box::pin(mark_deleting(c, d)))
            .await
    }

    /// Records a delete the provider confirmed. Not found when the card is already
    /// deleted (or is not the company's).
    pub async fn mark_stored_card_deleted(
        &self,
        company_id: &str,
        id: &str,
        audit: NewAudit,
    ) -> Result<(), StoreError> {
        let chains = vec![audit.company_id.clone()];
        self.db
            .write_for(
                chains,
                (company_id.to_owned(), id.to_owned(), audit),
                |c, d| Box::pin(mark_deleted(c, d)),
            )
            .await
    }

    /// Records that a 3D payment asked the provider to keep its card.
    pub async fn insert_card_save(&self, save: CardSaveRecord) -> Result<(), StoreError> {
        self.db
            .write(save, |c, d| Box::pin(insert_save(c, d)))
            .await
    }

    /// A payment's request to keep its card, if it made one.
    pub async fn get_card_save(
        &self,
        company_id: &str,
        payment_id: &str,
    ) -> Result<Option<CardSaveRecord>, StoreError> {
        let row = sqlx::query("SELECT * FROM card_saves WHERE payment_id = $1 AND company_id = $2")
            .bind(payment_id)
            .bind(company_id)
            .fetch_optional(&self.db.read)
            .await?;
        row.as_ref().map(save_from).transpose()
    }

    /// Saves the card an approved 3D payment kept, with its audit event, and points the
    /// payment's save at it, in one transaction; a save already pointing at a card is a
    /// `card_already_saved` conflict and writes nothing.
    pub async fn insert_saved_card(
        &self,
        payment_id: &str,
        card: StoredCardRecord,
        audit: NewAudit,
    ) -> Result<(), StoreError> {
        let chains = vec![audit.company_id.clone()];
        self.db
            .write_for(chains, (payment_id.to_owned(), card, audit), |c, d| {
                Box::pin(insert_saved(c, d))
            })
            .await
    }

    /// Records that the provider's list did not show an approved payment's card (yet):
    /// one more try counted, and when to look again.
    pub async fn card_save_missed(
        &self,
        company_id: &str,
        payment_id: &str,
        next_try_at: i64,
    ) -> Result<(), StoreError> {
        self.db
            .write(
                (company_id.to_owned(), payment_id.to_owned(), next_try_at),
                |c, d| Box::pin(save_missed(c, d)),
            )
            .await
    }

    /// Saves of every company whose payment is approved (or was, and was refunded since)
    /// but whose card is not recorded yet, looked at fewer than `max_tries` times and due
    /// at `now_ms`; the oldest first.
    pub async fn due_card_saves(
        &self,
        now_ms: i64,
        max_tries: i64,
        limit: u32,
    ) -> Result<Vec<CardSaveRecord>, StoreError> {
        let rows = sqlx::query(
            "SELECT s.* FROM card_saves s JOIN payments p ON p.id = s.payment_id \
             WHERE s.stored_card_id IS NULL AND s.tries < $1 \
             AND (s.next_try_at IS NULL OR s.next_try_at <= $2) \
             AND p.status IN ($3, $4, $5) ORDER BY s.created_at, s.payment_id LIMIT $6",
        )
        .bind(max_tries)
        .bind(now_ms)
        .bind(PaymentStatus::Approved.as_str())
        .bind(PaymentStatus::PartiallyRefunded.as_str())
        .bind(PaymentStatus::Refunded.as_str())
        .bind(i64::from(limit))
        .fetch_all(&self.db.read)
        .await?;
        rows.iter().map(save_from).collect()
    }

    /// Every provider token recorded for a customer of a POS, whatever the card's state:
    /// what tells a newly kept card from the ones known already.
    pub async fn stored_card_tokens(
        &self,
        company_id: &str,
        pos_id: &str,
        customer_ref: &str,
    ) -> Result<Vec<String>, StoreError> {
        Ok(sqlx::query_scalar(
            "SELECT provider_token FROM stored_cards \
             WHERE company_id = $1 AND pos_id = $2 AND customer_ref = $3",
        )
        .bind(company_id)
        .bind(pos_id)
        .bind(customer_ref)
        .fetch_all(&self.db.read)
        .await?)
    }

    /// Cards of every company whose delete a background pass should try again now
    /// (`next_try_at` reached), the longest waiting first.
    pub async fn due_card_deletions(
        &self,
        now_ms: i64,
        limit: u32,
    ) -> Result<Vec<StoredCardRecord>, StoreError> {
        let rows = sqlx::query(
            "SELECT * FROM stored_cards WHERE state = $1 AND next_try_at <= $2 \
             ORDER BY next_try_at, id LIMIT $3",
        )
        .bind(StoredCardState::Deleting.as_str())
        .bind(now_ms)
        .bind(i64::from(limit))
        .fetch_all(&self.db.read)
        .await?;
        rows.iter().map(card_from).collect()
    }
}
