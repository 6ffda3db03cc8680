//! Writing many payments at once, for benchmarks and test data sets. Nothing else is
//! written: no attempts, no audit events. Not a path for real payments.
//!
//! PostgreSQL takes them with `COPY … FROM STDIN` on a connection of its own (one
//! statement, one transaction per call); SQLite through the writer, in multi-row
//! `INSERT`s with positional `?` parameters (numbered `$N` ones are looked up by name
//! one by one, which makes a wide statement cost time quadratic in its size).

use sqlx::postgres::PgConnection;
use sqlx::{AnyConnection, Connection};

use crate::db::Engine;
use crate::model::PaymentRecord;
use crate::payments::{bind_payment, PAYMENT_COLUMNS, PAYMENT_COUNT};
use crate::{Store, StoreError};

/// Rows per SQLite statement: 35 parameters each stays under SQLite's limit of 32,766.
const SQLITE_CHUNK: usize = 500;

async fn insert_many(conn: &mut AnyConnection, rows: &[PaymentRecord]) -> Result<(), StoreError> {
    for chunk in rows.chunks(SQLITE_CHUNK) {
        let sql = format!(
            "INSERT INTO payments ({PAYMENT_COLUMNS}) VALUES {}",
            crate::db::values(false, chunk.len(), PAYMENT_COUNT)
        );
        let mut q = sqlx::query(&sql);
        for p in chunk {
            q = bind_payment(q, p);
        }
        q.execute(&mut *conn).await?;
    }
    Ok(())
}

/// One field of `COPY`'s text format: `\N` for NULL, and the four characters the format
/// gives a meaning escaped.
fn copy_field(out: &mut String, value: Option<&str>) {
    let Some(value) = value else {
        out.push_str("\\N");
        return;
    };
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            c => out.push(c),
        }
    }
}

/// The payments as `COPY` text rows, in [`PAYMENT_COLUMNS`] order.
fn copy_rows(rows: &[PaymentRecord]) -> String {
    let mut out = String::with_capacity(rows.len() * 320);
    for p in rows {
        let amount = p.amount.minor().to_string();
        let installments = p.installments.to_string();
        let authorized = p.authorized_amount.map(|a| a.minor().to_string());
        let refunded = p.refunded_amount.minor().to_string();
        let created = p.created_at.to_string();
        let updated = p.updated_at.to_string();
        let held = p.held_amount.map(|a| a.minor().to_string());
        let hold_until = p.hold_until.map(|t| t.to_string());
        let fields: [Option<&str>; PAYMENT_COUNT] = [
            Some(&p.id),
            Some(&p.company_id),
            Some(&p.pos_id),
            Some(p.status.as_str()),
            Some(&amount),
            Some(p.currency.alpha()),
            Some(&installments),
            Some(&p.masked_pan),
            Some(&p.card_fingerprint),
            Some(&p.card_brand),
            p.auth_code.as_deref(),
            p.provider_ref.as_deref(),
            p.bank_code.as_deref(),
            p.message_tr.as_deref(),
            p.message_en.as_deref(),
            Some(p.channel.as_str()),
            p.order_ref.as_deref(),
            p.customer_ref.as_deref(),
            p.description.as_deref(),
            Some(if p.three_d { "t" } else { "f" }),
            p.return_url.as_deref(),
            p.three_d_token.as_deref(),
            p.three_d_html.as_deref(),
            Some(&p.sale_client_ref),
            authorized.as_deref(),
            Some(&refunded),
            Some(&p.business_date),
            p.review_reason.as_deref(),
            Some(&p.created_by),
            Some(&created),
            Some(&updated),
            p.client_ip.as_deref(),
            Some(if p.pre_auth { "t" } else { "f" }),
            held.as_deref(),
            hold_until.as_deref(),
        ];
        for (i, field) in fields.into_iter().enumerate() {
            if i > 0 {
                out.push('\t');
            }
            copy_field(&mut out, field);
        }
        out.push('\n');
    }
    out
}

/// The secondary indexes of `payments`, taken off for a bulk load and put back after
/// ([`Store::begin_bulk_load`]): a table with its dozen indexes takes rows several
/// times slower than a bare one, and an index built over the loaded rows in one pass is
/// cheaper than one kept up row by row. On PostgreSQL its foreign keys and unique keys
/// (other than the primary key) go too: each row of a `COPY` would run one look-up per
/// foreign key, where adding the key back checks all rows in one join. For a fresh
/// benchmark database only: while the load runs, payment queries have no index and
/// nothing checks the payments' company and POS or their references' uniqueness (a
/// duplicate makes `finish_bulk_load` fail).
///
/// On SQLite the write connection's page cache grows for the load ([`LOAD_CACHE_KIB`])
/// and goes back to its size before the index builds, which sort with helper threads.
#[derive(Debug)]
#[must_use = "the indexes stay off until finish_bulk_load puts them back"]
pub struct BulkLoad {
    /// (name, the statement that creates it), as the database reports them.
    indexes: Vec<(String, String)>,
    /// (name, its definition) of each foreign key taken off (PostgreSQL).
    foreign_keys: Vec<(String, String)>,
    /// (name, the statement that creates its index) of each unique constraint taken off
    /// (PostgreSQL; not the primary key, which other tables' keys point at).
    unique: Vec<(String, String)>,
    /// SQLite: the write connection's `cache_size` before the load, put back after it.
    sqlite_cache: Option<i64>,
}

/// SQLite's page cache on the write connection during a bulk load, in KiB (128 MiB).
/// Measured when ids were random (ninth sitting in BENCHMARKS.md): the primary key's
/// index took them at random places, and with the default 2 MiB cache most of its pages
/// left the cache between two inserts and came back from the file, and each transaction
/// spilled its dirty pages to the WAL before its commit. Ids made in time order go to
/// the index's end; records whose ids are not in order still take the random path.
/// Not kept for the index builds: the sorter sizes its runs by the cache, and larger runs
/// sorted more slowly here (11.1 s against 9.5 s for the fourteen builds at 256 MiB).
const LOAD_CACHE_KIB: i64 = 128 * 1024;

async fn take_indexes_off(conn: &mut AnyConnection, _: &()) -> Result<BulkLoad, StoreError> {
    let mut sqlite_cache = None;
    if !crate::db::is_postgres(conn) {
        let before: i64 = sqlx::query_scalar("PRAGMA cache_size")
            .fetch_one(&mut *conn)
            .await?;
        sqlx::query(&format!("PRAGMA cache_size = -{LOAD_CACHE_KIB}"))
            .execute(&mut *conn)
            .await?;
        sqlite_cache = Some(before);
    }
    let sql = if crate::db::is_postgres(conn) {
        "SELECT indexname::text, indexdef FROM pg_indexes WHERE schemaname = current_schema() \
         AND tablename = 'payments' AND indexname NOT IN \
         (SELECT conname FROM pg_constraint WHERE conrelid = 'payments'::regclass)"
    } else {
        "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'payments' \
         AND sql IS NOT NULL"
    };
    let indexes: Vec<(String, String)> = sqlx::query_as(sql).fetch_all(&mut *conn).await?;
    for (name, _) in &indexes {
        sqlx::query(&format!("DROP INDEX \"{name}\""))
            .execute(&mut *conn)
            .await?;
    }
    let mut foreign_keys = Vec::new();
    let mut unique = Vec::new();
    if crate::db::is_postgres(conn) {
        foreign_keys = sqlx::query_as(
            "SELECT conname::text, pg_get_constraintdef(oid) FROM pg_constraint \
             WHERE conrelid = 'payments'::regclass AND contype = 'f' ORDER BY conname",
        )
        .fetch_all(&mut *conn)
        .await?;
        // Each unique key of random references took every row of a `COPY` into a random
        // page of its index; built over the loaded rows it is one sort.
        unique = sqlx::query_as(
            "SELECT c.conname::text, pg_get_indexdef(c.conindid) FROM pg_constraint c \
             WHERE c.conrelid = 'payments'::regclass AND c.contype = 'u' ORDER BY c.conname",
        )
        .fetch_all(&mut *conn)
        .await?;
        for (name, _) in foreign_keys.iter().chain(&unique) {
            sqlx::query(&format!("ALTER TABLE payments DROP CONSTRAINT \"{name}\""))
                .execute(&mut *conn)
                .await?;
        }
    }
    Ok(BulkLoad {
        indexes,
        foreign_keys,
        unique,
        sqlite_cache,
    })
}

/// SQLite: puts the page cache back and builds the indexes again, one after another
/// (one writer), each sort with a helper thread per core (`PRAGMA threads`, 0 by
/// default: the sorter sorts its runs and merges them on those threads).
async fn put_indexes_back(conn: &mut AnyConnection, load: &BulkLoad) -> Result<(), StoreError> {
    if let Some(cache) = load.sqlite_cache {
        sqlx::query(&format!("PRAGMA cache_size = {cache}"))
            .execute(&mut *conn)
            .await?;
    }
    let threads_before: i64 = sqlx::query_scalar("PRAGMA threads")
        .fetch_one(&mut *conn)
        .await?;
    let cores = std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get);
    sqlx::query(&format!("PRAGMA threads = {cores}"))
        .execute(&mut *conn)
        .await?;
    // The sorter's runs go to files, as they did before the write connection kept its
    // temporary files in memory: a build's runs hold the whole index.
    sqlx::query("PRAGMA temp_store = FILE")
        .execute(&mut *conn)
        .await?;
    let mut built = Ok(());
    for (_, create) in &load.indexes {
        built = sqlx::query(create).execute(&mut *conn).await.map(drop);
        if built.is_err() {
            break;
        }
    }
    sqlx::query(crate::db::WRITER_TEMP_STORE)
        .execute(&mut *conn)
        .await?;
    sqlx::query(&format!("PRAGMA threads = {threads_before}"))
        .execute(&mut *conn)
        .await?;
    Ok(built?)
}

impl Store {
    /// Takes the secondary indexes of `payments` off before a bulk load of
    /// [`Store::seed_payments`] calls; [`Store::finish_bulk_load`] puts them back.
    pub async fn begin_bulk_load(&self) -> Result<BulkLoad, StoreError> {
        self.db
            .write((), |c, d| Box::pin(take_indexes_off(c, d)))
            .await
    }

    /// The names of the secondary indexes `payments` has now (what a bulk load takes off).
    pub async fn payment_index_names(&self) -> Result<Vec<String>, StoreError> {
        let sql = match self.db.engine {
            Engine::Postgres => {
                "SELECT indexname::text FROM pg_indexes WHERE schemaname = current_schema() \
                 AND tablename = 'payments' AND indexname NOT IN \
                 (SELECT conname FROM pg_constraint WHERE conrelid = 'payments'::regclass)"
            }
            Engine::Sqlite => {
                "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'payments' \
                 AND sql IS NOT NULL"
            }
        };
        Ok(sqlx::query_scalar(sql).fetch_all(&self.db.read).await?)
    }

    /// Builds the indexes taken off by [`Store::begin_bulk_load`] again, over the rows
    /// loaded meanwhile.
    pub async fn finish_bulk_load(&self, load: BulkLoad) -> Result<(), StoreError> {
        match self.db.engine {
            // Two connections build the indexes side by side (the unique keys' first),
            // then one turns the unique indexes into constraints again (no second
            // check) and adds the foreign keys back (each key checks every row in one
            // join). PostgreSQL's own parallel workers already keep both cores busy
            // during a build, so the second connection gains little (14.1–14.7 s one
            // after another against 13.7–14.2 s with the keys included, at 1,000,000
            // rows).
            Engine::Postgres => {
                let queue = std::sync::Mutex::new(load.unique.iter().chain(&load.indexes));
                let build = || async {
                    let mut conn = self.native_postgres().await?;
                    loop {
                        let next = queue
                            .lock()
                            .unwrap_or_else(std::sync::PoisonError::into_inner)
                            .next();
                        let Some((_, create)) = next else { break };
                        sqlx::query(create).execute(&mut conn).await?;
                    }
                    Ok::<_, StoreError>(conn)
                };
                let (mut conn, other) = tokio::try_join!(build(), build())?;
                other.close().await?;
                for (name, _) in &load.unique {
                    sqlx::query(&format!(
                        "ALTER TABLE payments ADD CONSTRAINT \"{name}\" UNIQUE USING INDEX \"{name}\""
                    ))
                    .execute(&mut conn)
                    .await?;
                }
                for (name, definition) in &load.foreign_keys {
                    sqlx::query(&format!(
                        "ALTER TABLE payments ADD CONSTRAINT \"{name}\" {definition}"
                    ))
                    .execute(&mut conn)
                    .await?;
                }
                conn.close().await?;
                Ok(())
            }
            Engine::Sqlite => {
                self.db
                    .write(load, |c, d| Box::pin(put_indexes_back(c, d)))
                    .await
            }
        }
    }

    /// A PostgreSQL connection of its own, outside the pools.
    async fn native_postgres(&self) -> Result<PgConnection, StoreError> {
        PgConnection::connect(&self.db.url)
            .await
            .map_err(|e| StoreError::Database(format!("cannot connect: {e}")))
    }

    /// Writes payment records as they are, in one transaction, without attempts or
    /// audit events: for seeding benchmarks and test data sets only.
    pub async fn seed_payments(&self, payments: Vec<PaymentRecord>) -> Result<(), StoreError> {
        match self.db.engine {
            Engine::Postgres => {
                let text = copy_rows(&payments);
                let mut conn = self.native_postgres().await?;
                let mut copy = conn
                    .copy_in_raw(&format!("COPY payments ({PAYMENT_COLUMNS}) FROM STDIN"))
                    .await?;
                copy.send(text.as_bytes()).await?;
                copy.finish().await?;
                conn.close().await?;
                Ok(())
            }
            Engine::Sqlite => {
                self.db
                    .write(payments, |c, d| Box::pin(insert_many(c, d)))
                    .await
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copy_text_escapes_what_the_format_reads() {
        let mut out = String::new();
        copy_field(&mut out, Some("a\\b\tc\nd\re"));
        out.push('|');
        copy_field(&mut out, None);
        assert_eq!(out, "a\\\\b\\tc\\nd\\re|\\N");
    }
}
