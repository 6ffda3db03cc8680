//! Fresh stores for tests, on both engines (feature `testing`).
//!
//! - [`sqlite_store`]: a new SQLite file in a temporary directory ([`test_dir`]), removed
//!   with the guard.
//! - [`postgres_store`]: a new database `sanalpos_t_<random>` on the server named by
//!   `SANALPOS_TEST_DATABASE_URL` (default `postgres://postgres@127.0.0.1:5432/test`),
//!   dropped with the guard. When the server cannot be reached, the test fails if
//!   `SANALPOS_REQUIRE_POSTGRES=1`, and otherwise prints
//!   `SKIPPED (PostgreSQL unreachable): <test name>` to stderr and gets `None`.
//! - [`for_each_engine`]: runs the same test body on SQLite, then on PostgreSQL.
//!
//! With `SANALPOS_KEEP_TEST_DATA=<folder>` (set by `.ci/run`) nothing is removed: the
//! files stay under the folder and the databases on the server, for `.ci/scan-secrets`.

use std::future::Future;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use rand::distr::{Alphanumeric, SampleString};
use sqlx::any::AnyPoolOptions;
use sqlx::{AnyConnection, Connection, Executor};

use crate::Store;

/// The variable naming the PostgreSQL server for tests (an admin URL).
pub const TEST_DATABASE_URL_ENV: &str = "SANALPOS_TEST_DATABASE_URL";
/// Set to `1` to make an unreachable PostgreSQL a test failure.
pub const REQUIRE_POSTGRES_ENV: &str = "SANALPOS_REQUIRE_POSTGRES";
/// When set to a folder, test files (SQLite databases, WAL, logs) are made under it and
/// kept, and PostgreSQL test databases are not dropped, so `.ci/scan-secrets` can look
/// through everything the suite wrote for card numbers and credentials.
pub const KEEP_TEST_DATA_ENV: &str = "SANALPOS_KEEP_TEST_DATA";

/// A temporary folder for a test's files: removed when dropped, unless
/// `SANALPOS_KEEP_TEST_DATA` names a folder to make it in and keep it.
pub fn test_dir() -> tempfile::TempDir {
    match std::env::var_os(KEEP_TEST_DATA_ENV).filter(|v| !v.is_empty()) {
        Some(root) => {
            std::fs::create_dir_all(&root).unwrap_or_else(|e| {
                panic!("cannot create {}: {e}", PathBuf::from(&root).display())
            });
            let mut dir = tempfile::Builder::new()
                .prefix("t-")
                .tempdir_in(&root)
                .unwrap_or_else(|e| panic!("temp dir: {e}"));
            dir.disable_cleanup(true);
            dir
        }
        None => tempfile::tempdir().unwrap_or_else(|e| panic!("temp dir: {e}")),
    }
}

fn keep_test_data() -> bool {
    std::env::var_os(KEEP_TEST_DATA_ENV).is_some_and(|v| !v.is_empty())
}

/// The default admin URL.
pub const DEFAULT_TEST_DATABASE_URL: &str = "postgres://postgres@127.0.0.1:5432/test";

/// Set once PostgreSQL could not be reached, so later tests skip without waiting.
static PG_UNREACHABLE: AtomicBool = AtomicBool::new(false);

/// Keeps a test database alive; dropping it removes the SQLite directory or drops the
/// PostgreSQL database.
pub struct TestGuard {
    dir: Option<tempfile::TempDir>,
    postgres: Option<(String, String)>,
    url: String,
}

impl std::fmt::Debug for TestGuard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestGuard").field("url", &self.url).finish()
    }
}

impl TestGuard {
    /// The SQLite directory (holding `sanalpos.db` and its WAL), if SQLite.
    pub fn dir(&self) -> Option<&Path> {
        self.dir.as_ref().map(|d| d.path())
    }

    /// The database URL, to open a second store on the same database.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The files of the SQLite database (main file, WAL, shared memory) that exist.
    pub fn sqlite_files(&self) -> Vec<PathBuf> {
        let Some(dir) = self.dir() else {
            return Vec::new();
        };
        ["sanalpos.db", "sanalpos.db-wal", "sanalpos.db-shm"]
            .iter()
            .map(|name| dir.join(name))
            .filter(|p| p.exists())
            .collect()
    }
}

impl Drop for TestGuard {
    fn drop(&mut self) {
        if keep_test_data() {
            // Left for the secrets scan, which drops it afterwards.
            return;
        }
        if let Some((admin_url, name)) = self.postgres.take() {
            // Drop runs outside async; use a short-lived runtime on another thread.
            let _ = std::thread::spawn(move || {
                let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                else {
                    return;
                };
                rt.block_on(async move {
                    if let Ok(pool) = AnyPoolOptions::new()
                        .max_connections(1)
                        .connect(&admin_url)
                        .await
                    {
                        let _ = pool
                            .execute(
                                format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)").as_str(),
                            )
                            .await;
                        pool.close().await;
                    }
                });
            })
            .join();
        }
    }
}

/// Opens a test database, migrated fully or only up to `version`.
async fn open_at(url: &str, version: Option<i64>) -> Result<Store, crate::StoreError> {
    match version {
        Some(version) => Store::open_at_version(url, version).await,
        None => Store::open(url).await,
    }
}

/// A fresh SQLite store in a temporary directory.
pub async fn sqlite_store() -> (Store, TestGuard) {
    sqlite_store_at(None).await
}

async fn sqlite_store_at(version: Option<i64>) -> (Store, TestGuard) {
    let dir = test_dir();
    let url = Store::sqlite_url(&dir.path().join("sanalpos.db"));
    let store = open_at(&url, version)
        .await
        .unwrap_or_else(|e| panic!("open sqlite: {e}"));
    (
        store,
        TestGuard {
            dir: Some(dir),
            postgres: None,
            url,
        },
    )
}

/// Replaces the database name of a PostgreSQL URL.
fn with_database(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let authority_start = base.find("://").map_or(0, |i| i + 3);
    let base = match base[authority_start..].find('/') {
        Some(i) => &base[..authority_start + i],
        None => base,
    };
    match query {
        Some(q) => format!("{base}/{name}?{q}"),
        None => format!("{base}/{name}"),
    }
}

/// A fresh PostgreSQL database, or `None` (after printing why) when the server is
/// unreachable and not required.
pub async fn postgres_store(test_name: &str) -> Option<(Store, TestGuard)> {
    postgres_store_at(test_name, None).await
}

async fn postgres_store_at(test_name: &str, version: Option<i64>) -> Option<(Store, TestGuard)> {
    crate::install_drivers();
    let admin_url = std::env::var(TEST_DATABASE_URL_ENV)
        .ok()
        .filter(|u| !u.is_empty())
        .unwrap_or_else(|| DEFAULT_TEST_DATABASE_URL.to_owned());
    let required = std::env::var(REQUIRE_POSTGRES_ENV).is_ok_and(|v| v == "1");
    let unreachable = |why: String| {
        if required {
            panic!("PostgreSQL required ({REQUIRE_POSTGRES_ENV}=1) but unreachable: {why}");
        }
        // Straight to the process's stderr, past the test harness's capture, so a
        // skipped engine is visible in every run.
        let _ = writeln!(
            std::io::stderr(),
            "SKIPPED (PostgreSQL unreachable): {test_name}"
        );
    };
    if PG_UNREACHABLE.load(Ordering::Relaxed) {
        unreachable("an earlier test could not connect".into());
        return None;
    }
    let connected =
        tokio::time::timeout(Duration::from_secs(5), AnyConnection::connect(&admin_url)).await;
    let mut admin = match connected {
        Ok(Ok(conn)) => conn,
        Ok(Err(e)) => {
            PG_UNREACHABLE.store(true, Ordering::Relaxed);
            unreachable(e.to_string());
            return None;
        }
        Err(_) => {
            PG_UNREACHABLE.store(true, Ordering::Relaxed);
            unreachable("no answer within 5 s".into());
            return None;
        }
    };
    let name = format!(
        "sanalpos_t_{}",
        Alphanumeric
            .sample_string(&mut rand::rng(), 12)
            .to_ascii_lowercase()
    );
    admin
        .execute(format!("CREATE DATABASE {name}").as_str())
        .await
        .unwrap_or_else(|e| panic!("create database {name}: {e}"));
    let _ = admin.close().await;
    if let Some(root) = std::env::var_os(KEEP_TEST_DATA_ENV).filter(|v| !v.is_empty()) {
        // The secrets scan dumps (and then drops) exactly the databases listed here.
        std::fs::create_dir_all(&root).unwrap_or_else(|e| panic!("keep folder: {e}"));
        let list = PathBuf::from(root).join("postgres-databases.txt");
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&list)
            .unwrap_or_else(|e| panic!("{}: {e}", list.display()));
        // One write of the whole line: tests in other processes append to the same file.
        file.write_all(format!("{name}\n").as_bytes())
            .unwrap_or_else(|e| panic!("{}: {e}", list.display()));
    }
    let url = with_database(&admin_url, &name);
    let guard = TestGuard {
        dir: None,
        postgres: Some((admin_url, name)),
        url: url.clone(),
    };
    let store = open_at(&url, version)
        .await
        .unwrap_or_else(|e| panic!("open postgres: {e}"));
    Some((store, guard))
}

/// Runs `body` on a fresh SQLite store, then on a fresh PostgreSQL store (when
/// reachable; see the module docs).
pub async fn for_each_engine<F, Fut>(test_name: &str, body: F)
where
    F: Fn(Store) -> Fut,
    Fut: Future<Output = ()>,
{
    let (store, guard) = sqlite_store().await;
    body(store.clone()).await;
    store.close().await;
    drop(guard);
    if let Some((store, guard)) = postgres_store(test_name).await {
        body(store.clone()).await;
        store.close().await;
        drop(guard);
    }
}

/// Runs `body` on a fresh database of each engine migrated only up to `version`: the
/// database an older release made, for upgrade tests. The body gets the URL (to open
/// it again with today's migrations) and the old store.
pub async fn for_each_engine_at_version<F, Fut>(test_name: &str, version: i64, body: F)
where
    F: Fn(String, Store) -> Fut,
    Fut: Future<Output = ()>,
{
    let (store, guard) = sqlite_store_at(Some(version)).await;
    body(guard.url().to_owned(), store.clone()).await;
    store.close().await;
    drop(guard);
    if let Some((store, guard)) = postgres_store_at(test_name, Some(version)).await {
        body(guard.url().to_owned(), store.clone()).await;
        store.close().await;
        drop(guard);
    }
}

impl Store {
    /// Runs one SQL statement with text and integer parameters: for upgrade tests that
    /// write rows the way an older release did.
    pub async fn execute_for_test(&self, sql: &str, params: &[TestParam<'_>]) {
        let mut query = sqlx::query(sql);
        for p in params {
            query = match p {
                TestParam::Text(t) => query.bind(t.to_string()),
                TestParam::Int(i) => query.bind(*i),
                TestParam::Bool(b) => query.bind(*b),
            };
        }
        query
            .execute(&self.db.read)
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
    }
}

async fn read_pragma(
    conn: &mut sqlx::AnyConnection,
    name: &String,
) -> Result<i64, crate::StoreError> {
    Ok(sqlx::query_scalar(&format!("PRAGMA {name}"))
        .fetch_one(&mut *conn)
        .await?)
}

impl Store {
    /// One integer `PRAGMA` of SQLite's write connection (`cache_size`, `threads`): for
    /// tests that check what a bulk load sets there and puts back.
    pub async fn writer_pragma_for_test(&self, name: &str) -> i64 {
        self.db
            .write(name.to_owned(), |c, d| Box::pin(read_pragma(c, d)))
            .await
            .unwrap_or_else(|e| panic!("PRAGMA {name}: {e}"))
    }

    /// The entries of one index as the planner's statistics counted them at the last
    /// [`Store::analyze`] (SQLite `sqlite_stat1`, PostgreSQL `pg_class.reltuples`; exact
    /// for a table small enough to be read whole): for tests of partial indexes.
    pub async fn index_entries_for_test(&self, index: &str) -> i64 {
        let sql = match self.engine() {
            crate::Engine::Sqlite => {
                "SELECT CAST(substr(stat, 1, instr(stat || ' ', ' ') - 1) AS INTEGER) \
                 FROM sqlite_stat1 WHERE idx = $1"
            }
            crate::Engine::Postgres => {
                "SELECT CAST(reltuples AS BIGINT) FROM pg_class WHERE oid = to_regclass($1)"
            }
        };
        // An index SQLite's ANALYZE found empty has no row in sqlite_stat1.
        sqlx::query_scalar::<_, i64>(sql)
            .bind(index)
            .fetch_optional(&self.db.read)
            .await
            .unwrap_or_else(|e| panic!("entries of {index}: {e}"))
            .unwrap_or(0)
    }
}

/// A parameter of [`Store::execute_for_test`].
#[derive(Debug, Clone, Copy)]
pub enum TestParam<'a> {
    /// Text.
    Text(&'a str),
    /// An integer.
    Int(i64),
    /// A boolean.
    Bool(bool),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn database_name_is_replaced() {
        assert_eq!(
            with_database("postgres://postgres@127.0.0.1:5432/test", "x"),
            "postgres://postgres@127.0.0.1:5432/x"
        );
        assert_eq!(
            with_database("postgres://u:p@h/db?sslmode=disable", "x"),
            "postgres://u:p@h/x?sslmode=disable"
        );
        assert_eq!(with_database("postgres://h", "x"), "postgres://h/x");
    }
}
