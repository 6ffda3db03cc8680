//! Writing many payments at once, for benchmarks and test data sets: multi-row
//! `INSERT`s in one transaction through the writer, so a million rows take seconds.
//! Nothing else is written: no attempts, no audit events. Not a path for real payments.

use sqlx::AnyConnection;

use sanalpos_core::Kurus;

use crate::model::PaymentRecord;
use crate::{Store, StoreError};

const COLUMNS: &str = "id, company_id, pos_id, status, amount, currency, installments, masked_pan, \
    card_fingerprint, card_brand, auth_code, provider_ref, bank_code, message_tr, message_en, channel, \
    order_ref, customer_ref, description, three_d, return_url, three_d_token, three_d_html, sale_client_ref, \
    authorized_amount, refunded_amount, business_date, review_reason, created_by, created_at, updated_at";
const PER_ROW: usize = 31;
/// Rows per statement on PostgreSQL: 31 binds each stays under its 65,535 bind limit.
const CHUNK: usize = 500;
/// Rows per statement on SQLite: binding `$N` parameters costs time quadratic in their
/// number there (each name is looked up in a list), so statements stay small; 10 rows
/// insert as fast as any size measured (about 10,000 rows/s on this machine), 500 rows
/// twenty times slower.
const SQLITE_CHUNK: usize = 10;

async fn insert_many(conn: &mut AnyConnection, rows: &[PaymentRecord]) -> Result<(), StoreError> {
    let chunk_rows = if crate::db::is_postgres(conn) {
        CHUNK
    } else {
        SQLITE_CHUNK
    };
    for chunk in rows.chunks(chunk_rows) {
        let mut sql = format!("INSERT INTO payments ({COLUMNS}) VALUES ");
        for r in 0..chunk.len() {
            if r > 0 {
                sql.push_str(", ");
            }
            sql.push('(');
            for c in 0..PER_ROW {
                if c > 0 {
                    sql.push_str(", ");
                }
                sql.push_str(&format!("${}", r * PER_ROW + c + 1));
            }
            sql.push(')');
        }
        let mut q = sqlx::query(&sql);
        for p in chunk {
            q = q
                .bind(&p.id)
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
                .bind(p.updated_at);
        }
        q.execute(&mut *conn).await?;
    }
    Ok(())
}

impl Store {
    /// Writes payment records as they are, in one transaction, without attempts or
    /// audit events: for seeding benchmarks and test data sets only.
    pub async fn seed_payments(&self, payments: Vec<PaymentRecord>) -> Result<(), StoreError> {
        self.db
            .write(payments, |c, d| Box::pin(insert_many(c, d)))
            .await
    }
}
