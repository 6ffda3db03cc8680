//! Connections, the write path, and embedded migrations.
//!
//! One code path for both engines: every query is written once with `$1, $2, …`
//! placeholders and engine-neutral types, and every write goes through the same
//! group-committing writer.
//!
//! One writer task per instance owns a dedicated write connection and commits in
//! *groups*: it takes every write waiting in its queue, runs them in one transaction
//! (`BEGIN IMMEDIATE` on SQLite, `BEGIN` on PostgreSQL) and answers each caller after the
//! commit is durable. A commit costs one fsync, so grouping is what lets a burst of
//! payments share a commit instead of queueing one commit each (on PostgreSQL, behind
//! their company's audit-chain lock). On SQLite the single writer also means no
//! `SQLITE_BUSY` lock upgrades. If any write of a group fails, the group is rolled back
//! and each write is run again in a transaction of its own, so one failure never undoes
//! another caller's work; on PostgreSQL a write that lost an audit-chain race to another
//! instance is tried again. Reads use a separate pool (WAL lets them run beside the
//! writer on SQLite); several PostgreSQL instances write concurrently, and database
//! locks and constraints arbitrate between them. A group's audit events are written at
//! its end, right before the commit, after the companies' locks taken there in id
//! order ([`crate::audit::with_chain_state`]); a write that changes a company's shared
//! rows declares the company ([`Db::write_for`]) and its group takes that lock first.
//! The rate counters are rows of each instance's writer ([`crate::ratelimit`]).

use std::any::Any as StdAny;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use sqlx::any::{AnyPoolOptions, AnyRow};
use sqlx::pool::PoolConnection;
use sqlx::{Any, AnyConnection, AnyPool, Connection, Executor};
use tokio::sync::{mpsc, oneshot};
use tracing::{error, info};

use crate::StoreError;

/// A boxed future borrowing the connection.
pub(crate) type BoxFut<'c, T> = Pin<Box<dyn Future<Output = T> + Send + 'c>>;

/// The database engine behind a [`Store`](crate::Store).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    /// An embedded SQLite file.
    Sqlite,
    /// A PostgreSQL server.
    Postgres,
}

impl Engine {
    /// Which engine a URL names.
    pub fn from_url(url: &str) -> Result<Engine, StoreError> {
        if url.starts_with("sqlite:") {
            Ok(Engine::Sqlite)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Ok(Engine::Postgres)
        } else {
            Err(StoreError::Config(
                "database URL must start with sqlite: or postgres://".into(),
            ))
        }
    }
}

type JobResult = Result<Box<dyn StdAny + Send>, StoreError>;
type JobFn = Arc<dyn for<'c> Fn(&'c mut AnyConnection) -> BoxFut<'c, JobResult> + Send + Sync>;

struct Job {
    run: JobFn,
    reply: oneshot::Sender<JobResult>,
    /// The companies whose chain locks the write takes, declared so that the group can
    /// take them first (see [`Db::write_for`]).
    companies: Vec<String>,
    /// Whether the write sends its transaction's `BEGIN` itself when it is the first
    /// (see [`Db::write_opening`]).
    opens: bool,
}

tokio::task_local! {
    /// SQLite: the `BEGIN IMMEDIATE` of the writer's transaction, not sent yet, while
    /// its first write runs when that write sends it itself ([`Db::write_opening`]).
    static UNSENT_BEGIN: std::cell::Cell<Option<&'static str>>;
}

/// The `BEGIN` of the current writer transaction when it is left for the caller to
/// send, in the same call as its first statements ([`Db::write_opening`]): taken, so
/// asked once. `None` on PostgreSQL, for any write but a transaction's first, and
/// for a write made by [`Db::write`].
pub(crate) fn take_begin() -> Option<&'static str> {
    UNSENT_BEGIN.try_with(std::cell::Cell::take).ok().flatten()
}

/// Sends `begin` ([`take_begin`]) on its own, when there is one.
pub(crate) async fn send_begin(
    conn: &mut AnyConnection,
    begin: Option<&str>,
) -> Result<(), StoreError> {
    if let Some(begin) = begin {
        conn.execute(begin).await?;
    }
    Ok(())
}

/// What the writer has done since the store opened: the figures behind
/// [`WriterLoad`], counted as it goes.
#[derive(Default)]
pub(crate) struct WriterCounters {
    /// Groups rolled back and run again one write at a time.
    pub(crate) groups_undone: AtomicU64,
    groups: AtomicU64,
    writes: AtomicU64,
    busy_ns: AtomicU64,
    ending_ns: AtomicU64,
}

impl WriterCounters {
    fn add(counter: &AtomicU64, took: Duration) {
        let ns = u64::try_from(took.as_nanos()).unwrap_or(u64::MAX);
        counter.fetch_add(ns, Ordering::Relaxed);
    }

    pub(crate) fn load(&self) -> WriterLoad {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        WriterLoad {
            groups: get(&self.groups),
            writes: get(&self.writes),
            busy: Duration::from_nanos(get(&self.busy_ns)),
            ending: Duration::from_nanos(get(&self.ending_ns)),
        }
    }
}

/// How busy a store's writer has been since the store opened ([`crate::Store::writer_load`]).
/// Every write goes through the one writer of an instance, a group of them at a time,
/// so the share of a period it was busy says how close the writes are to its ceiling:
/// near all of it, and more callers only queue (`sanalpos bench payments` prints it for
/// each phase, `/metrics` exports it).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct WriterLoad {
    /// Groups the writer took (a background write is a group of its own; a group
    /// rolled back and run again write by write counts once).
    pub groups: u64,
    /// Writes in them.
    pub writes: u64,
    /// Time from taking a group's first write to answering its last: its connection,
    /// its writes, its end and commit (and, for a group rolled back, its writes run
    /// again one at a time).
    pub busy: Duration,
    /// Of `busy`, the ends of the groups that committed: the audit events, the answers
    /// and the commit that makes them durable.
    pub ending: Duration,
}

impl WriterLoad {
    /// What was done between `earlier` (a figure of the same store) and this one.
    #[must_use]
    pub fn since(&self, earlier: &WriterLoad) -> WriterLoad {
        WriterLoad {
            groups: self.groups.saturating_sub(earlier.groups),
            writes: self.writes.saturating_sub(earlier.writes),
            busy: self.busy.saturating_sub(earlier.busy),
            ending: self.ending.saturating_sub(earlier.ending),
        }
    }
}

/// Makes the store's database drivers known to sqlx's `Any`: PostgreSQL's, SQLite's (for
/// reads) and the writer's inline SQLite driver ([`crate::inline`]). Once a process; call
/// it instead of `sqlx::any::install_default_drivers`, which would leave the writer's out.
pub fn install_drivers() {
    static DRIVERS: [sqlx_core::any::driver::AnyDriver; 3] = [
        sqlx::postgres::any::DRIVER,
        sqlx::sqlite::any::DRIVER,
        crate::inline::DRIVER,
    ];
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        if let Err(e) = sqlx::any::install_drivers(&DRIVERS) {
            error!(error = %e, "sqlx's database drivers were installed before the store's");
        }
    });
}

/// The connections of a store.
pub(crate) struct Db {
    pub(crate) engine: Engine,
    /// The URL it was opened with (bulk loads open a native connection of their own).
    pub(crate) url: String,
    /// Reads.
    pub(crate) read: AnyPool,
    /// The queue of the group-committing writer.
    writer: mpsc::Sender<Job>,
    /// Its queue of background writes (see [`Db::write_background`]).
    background: mpsc::Sender<Job>,
    /// What the writer has done (its groups undone among it).
    pub(crate) counters: Arc<WriterCounters>,
}

/// Most writes a group commit takes at once.
const MAX_GROUP: usize = 256;

/// SQLite's write connection keeps its temporary files in memory. A statement that
/// changes many pages (a payment's row and its fourteen indexes) keeps the pages' former
/// contents in a statement journal, to undo the statement alone if it fails; past 64 KiB
/// SQLite moves that journal into a temporary file, created and removed by the
/// statement: a sale's `INSERT INTO payments` took 85 µs that way and 31 µs with the
/// journal in memory (BENCHMARKS.md, seventeenth sitting). The reads keep the default:
/// their sorts of a large table may spill to files. A bulk load's index builds, the
/// writer's one large sort, set files again while they run (`crate::bulk`).
pub(crate) const WRITER_TEMP_STORE: &str = "PRAGMA temp_store = MEMORY";

impl Db {
    pub(crate) async fn open(url: &str) -> Result<Db, StoreError> {
        install_drivers();
        let engine = Engine::from_url(url)?;
        match engine {
            Engine::Postgres => {
                let pool = read_pool_options()
                    .max_connections(24)
                    .acquire_timeout(Duration::from_secs(10))
                    .connect(url)
                    .await
                    .map_err(|e| StoreError::Database(format!("cannot connect: {e}")))?;
                // Writes go through one connection per instance, in groups: a group
                // commits once, so concurrent payments share a commit instead of queueing
                // one commit each behind their company's audit-chain lock.
                let write = AnyPoolOptions::new()
                    .max_connections(1)
                    .min_connections(1)
                    .idle_timeout(None)
                    .max_lifetime(None)
                    .acquire_timeout(Duration::from_secs(10));
                let (tx, background, counters) = start_writer(write, url, engine).await?;
                Ok(Db {
                    engine,
                    url: url.to_owned(),
                    read: pool,
                    writer: tx,
                    background,
                    counters,
                })
            }
            Engine::Sqlite => {
                let options = |base: AnyPoolOptions, write: bool| {
                    base.acquire_timeout(Duration::from_secs(30)).after_connect(
                        move |conn, _meta| {
                            Box::pin(async move {
                                for pragma in [
                                    "PRAGMA journal_mode=WAL",
                                    "PRAGMA synchronous=FULL",
                                    "PRAGMA busy_timeout=5000",
                                    "PRAGMA foreign_keys=ON",
                                ] {
                                    conn.execute(pragma).await?;
                                }
                                if write {
                                    conn.execute(WRITER_TEMP_STORE).await?;
                                }
                                Ok(())
                            })
                        },
                    )
                };
                // The write connection first, so it creates the file (mode=rwc).
                let write = options(AnyPoolOptions::new(), true)
                    .max_connections(1)
                    .min_connections(1)
                    .idle_timeout(None)
                    .max_lifetime(None);
                let (tx, background, counters) =
                    start_writer(write, &crate::inline::writer_url(url), engine).await?;
                let read = options(read_pool_options(), false)
                    .max_connections(4)
                    .connect(url)
                    .await
                    .map_err(|e| StoreError::Database(format!("cannot open: {e}")))?;
                Ok(Db {
                    engine,
                    url: url.to_owned(),
                    read,
                    writer: tx,
                    background,
                    counters,
                })
            }
        }
    }

    /// Runs `f` in a write transaction and returns its result once committed.
    pub(crate) async fn write<T, D>(
        &self,
        data: D,
        f: for<'c> fn(&'c mut AnyConnection, &'c D) -> BoxFut<'c, Result<T, StoreError>>,
    ) -> Result<T, StoreError>
    where
        T: Send + 'static,
        D: Send + Sync + 'static,
    {
        self.write_for(Vec::new(), data, f).await
    }

    /// [`Db::write`] for a write that, when it is the first of its transaction on
    /// SQLite, sends the transaction's `BEGIN IMMEDIATE` itself in the same call to the
    /// connection's thread as its first statements ([`batch`]) instead of the writer
    /// sending it in a call of its own: one hand-off between threads fewer for each of
    /// a sale's two transactions when it is alone. `f` must call [`take_begin`] before
    /// any statement and send what it got before or with its first one; the writer
    /// fails the write when `f` succeeded without taking it.
    pub(crate) async fn write_opening<T, D>(
        &self,
        data: D,
        f: for<'c> fn(&'c mut AnyConnection, &'c D) -> BoxFut<'c, Result<T, StoreError>>,
    ) -> Result<T, StoreError>
    where
        T: Send + 'static,
        D: Send + Sync + 'static,
    {
        self.submit(&self.writer, Vec::new(), true, data, f).await
    }

    /// [`Db::write`] for a write that changes rows of `companies` that their other
    /// writes change too (a POS, a user, a key, a company's settings). On PostgreSQL the
    /// group's transaction takes those companies' locks (their rows, `FOR NO KEY
    /// UPDATE`) first, in id order, before any other statement, so two instances'
    /// groups changing the same companies' rows queue instead of taking them in
    /// opposite orders: `bench payments --instances 2` once found a deadlock every few
    /// hundred sales, each a one-second wait for PostgreSQL's deadlock detector.
    ///
    /// A write that touches only rows of its own request (a payment's claim, its
    /// outcome) uses [`Db::write`]: its audit events, and the company rows it changes
    /// through [`crate::audit::after_chains`] (the POS's health), are written at the
    /// group's end, after the same locks taken in id order, so such a group holds a
    /// company's lock only from its end to its commit and two instances' payments
    /// interleave. A circle is still possible, and broken by PostgreSQL (the group is
    /// then run again write by write): a declared write holding a company's lock that
    /// waits for a payment's row that another instance's group holds while it waits
    /// for that lock at its end (a person's refund of a payment whose outcome is being
    /// written at that moment).
    pub(crate) async fn write_for<T, D>(
        &self,
        companies: Vec<String>,
        data: D,
        f: for<'c> fn(&'c mut AnyConnection, &'c D) -> BoxFut<'c, Result<T, StoreError>>,
    ) -> Result<T, StoreError>
    where
        T: Send + 'static,
        D: Send + Sync + 'static,
    {
        self.submit(&self.writer, companies, false, data, f).await
    }

    /// Like [`Db::write_for`], for a long write that must not hold up the others (a
    /// large reconciliation run's parts): the writer runs it alone, never in a group,
    /// and takes it only on its turn, after a group of the other writes whenever any
    /// are waiting. A payment arriving meanwhile waits at most for this one write.
    pub(crate) async fn write_background<T, D>(
        &self,
        companies: Vec<String>,
        data: D,
        f: for<'c> fn(&'c mut AnyConnection, &'c D) -> BoxFut<'c, Result<T, StoreError>>,
    ) -> Result<T, StoreError>
    where
        T: Send + 'static,
        D: Send + Sync + 'static,
    {
        self.submit(&self.background, companies, false, data, f)
            .await
    }

    async fn submit<T, D>(
        &self,
        queue: &mpsc::Sender<Job>,
        companies: Vec<String>,
        opens: bool,
        data: D,
        f: for<'c> fn(&'c mut AnyConnection, &'c D) -> BoxFut<'c, Result<T, StoreError>>,
    ) -> Result<T, StoreError>
    where
        T: Send + 'static,
        D: Send + Sync + 'static,
    {
        let data = Arc::new(data);
        let run: JobFn = Arc::new(move |conn| {
            let data = data.clone();
            Box::pin(async move {
                f(conn, &data)
                    .await
                    .map(|t| Box::new(t) as Box<dyn StdAny + Send>)
            })
        });
        let (reply, answer) = oneshot::channel();
        queue
            .send(Job {
                run,
                reply,
                companies,
                opens,
            })
            .await
            .map_err(|_| StoreError::Database("the writer has stopped".into()))?;
        let value = answer
            .await
            .map_err(|_| StoreError::Database("the writer has stopped".into()))??;
        value
            .downcast::<T>()
            .map(|b| *b)
            .map_err(|_| StoreError::Database("writer answered the wrong type".into()))
    }

    /// How many writes wait in the writer's queue (not counting the one it runs).
    #[cfg(feature = "testing")]
    pub(crate) fn queued(&self) -> usize {
        self.writer.max_capacity() - self.writer.capacity()
    }

    pub(crate) async fn close(&self) {
        self.read.close().await;
    }
}

/// How long a pooled read connection may sit unused before it is checked with a ping
/// when next taken.
const PING_AFTER_IDLE: Duration = Duration::from_secs(1);

/// The read pool's options: a connection is pinged before use only after it sat idle
/// (sqlx's default pings on every check-out, a round trip to the server or a hand-off to
/// SQLite's worker thread before every read; sqlx also pings it when it comes back, so a
/// connection that broke in use never returns to the pool).
fn read_pool_options() -> AnyPoolOptions {
    AnyPoolOptions::new()
        .test_before_acquire(false)
        .before_acquire(ping_when_idle)
}

fn ping_when_idle(
    conn: &mut AnyConnection,
    meta: sqlx::pool::PoolConnectionMetadata,
) -> BoxFut<'_, Result<bool, sqlx::Error>> {
    Box::pin(async move {
        if meta.idle_for >= PING_AFTER_IDLE {
            conn.ping().await?;
        }
        Ok(true)
    })
}

/// A unique violation on the audit chain means another instance appended first.
fn audit_race(e: StoreError) -> StoreError {
    match e {
        StoreError::Conflict { message, .. } if message.contains("audit") => StoreError::Conflict {
            code: "audit_race",
            message,
        },
        other => other,
    }
}

/// Whether a connection talks to PostgreSQL (for the few engine-specific clauses,
/// such as `FOR UPDATE`).
pub(crate) fn is_postgres(conn: &AnyConnection) -> bool {
    conn.backend_name() == "PostgreSQL"
}

pub(crate) fn map_audit_race(e: StoreError) -> StoreError {
    audit_race(e)
}

async fn writer_loop(
    pool: AnyPool,
    (mut queue, mut background): (mpsc::Receiver<Job>, mpsc::Receiver<Job>),
    engine: Engine,
    counters: Arc<WriterCounters>,
) {
    // SQLite takes the write lock up front, so a group never deadlocks on an upgrade.
    let begin = match engine {
        Engine::Sqlite => "BEGIN IMMEDIATE",
        Engine::Postgres => "BEGIN",
    };
    let mut batch: Vec<Job> = Vec::with_capacity(MAX_GROUP);
    // The writer keeps its connection between groups (no check-out round trip per
    // group); after any failure it is returned and a fresh one checked out, so a broken
    // connection is never reused.
    let mut held: Option<PoolConnection<Any>> = None;
    // Background writes take turns with groups of the others: after a group, a waiting
    // background write goes first; after a background write, a waiting group.
    let mut background_turn = false;
    let mut background_open = true;
    // SQLite: the chains' heads as this writer's committed groups left them (see
    // `with_chain_state`); forgotten whenever a group fails.
    let fresh_heads = || matches!(engine, Engine::Sqlite).then(crate::audit::Heads::new);
    let mut heads = fresh_heads();
    loop {
        let (first, alone) = if background_turn {
            tokio::select! {
                biased;
                job = background.recv(), if background_open => (job, true),
                job = queue.recv() => (job, false),
            }
        } else {
            tokio::select! {
                biased;
                job = queue.recv() => (job, false),
                job = background.recv(), if background_open => (job, true),
            }
        };
        let Some(first) = first else {
            if alone {
                background_open = false;
                continue;
            }
            break;
        };
        background_turn = !alone;
        let taken = std::time::Instant::now();
        batch.push(first);
        while !alone && batch.len() < MAX_GROUP {
            match queue.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        let mut conn = match held.take() {
            Some(conn) => conn,
            None => match pool.acquire().await {
                Ok(conn) => conn,
                Err(e) => {
                    error!(error = %e, "database writer cannot get its connection");
                    for job in batch.drain(..) {
                        let _ = job
                            .reply
                            .send(Err(StoreError::Database(format!("no connection: {e}"))));
                    }
                    continue;
                }
            },
        };
        counters.groups.fetch_add(1, Ordering::Relaxed);
        counters
            .writes
            .fetch_add(batch.len() as u64, Ordering::Relaxed);
        let (results, known) = crate::audit::with_chain_state(
            heads.take(),
            run_group(&mut conn, &batch, begin, &counters),
        )
        .await;
        match results {
            Ok(results) => {
                for (job, result) in batch.drain(..).zip(results) {
                    let _ = job.reply.send(result);
                }
                held = Some(conn);
                heads = known.or_else(fresh_heads);
            }
            Err(cause) => {
                heads = fresh_heads();
                // Something in the group failed: run each write on its own, then let
                // the connection go back to the pool.
                counters.groups_undone.fetch_add(1, Ordering::Relaxed);
                if batch.len() > 1 {
                    info!(writes = batch.len(), %cause, "a group commit was rolled back; its writes run one at a time");
                }
                for job in batch.drain(..) {
                    let result = run_single(&mut conn, &job, begin).await;
                    let _ = job.reply.send(result);
                }
            }
        }
        WriterCounters::add(&counters.busy_ns, taken.elapsed());
    }
    drop(held);
    info!("database writer stopped");
    pool.close().await;
}

/// The writer's queues and what it has done.
type Writer = (mpsc::Sender<Job>, mpsc::Sender<Job>, Arc<WriterCounters>);

/// Opens the write connection and starts the writer on a thread of its own, with a
/// runtime of its own that owns the connection. On PostgreSQL: on the service's runtime
/// each of its round trips, after the server had answered, waited for a worker busy with
/// the requests' tasks to notice the answer and poll the writer again, and the writer is
/// the one path every payment takes twice. On SQLite the connection is the inline driver
/// ([`crate::inline`]): its statements run on this thread as function calls, holding it
/// until SQLite is done, which must not hold up a worker of the service's runtime.
async fn start_writer(
    options: AnyPoolOptions,
    url: &str,
    engine: Engine,
) -> Result<Writer, StoreError> {
    let (tx, rx) = mpsc::channel(4096);
    let (background, background_rx) = mpsc::channel(16);
    let counters = Arc::new(WriterCounters::default());
    let queues = (rx, background_rx);
    let counted = counters.clone();
    let (opened, open) = oneshot::channel();
    let url = url.to_owned();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| StoreError::Database(format!("cannot start the writer: {e}")))?;
    std::thread::Builder::new()
        .name("db-writer".into())
        .spawn(move || {
            runtime.block_on(async move {
                match options.connect(&url).await {
                    Ok(pool) => {
                        if opened.send(Ok(())).is_ok() {
                            writer_loop(pool, queues, engine, counted).await;
                        }
                    }
                    Err(e) => {
                        let _ = opened.send(Err(e));
                    }
                }
            });
        })
        .map_err(|e| StoreError::Database(format!("cannot start the writer: {e}")))?;
    let verb = match engine {
        Engine::Sqlite => "open",
        Engine::Postgres => "connect",
    };
    open.await
        .map_err(|_| StoreError::Database("the writer stopped before it connected".into()))?
        .map_err(|e| StoreError::Database(format!("cannot {verb}: {e}")))?;
    Ok((tx, background, counters))
}

/// Runs a group in one transaction. `Err` (the first failure) when anything failed:
/// then all of it is rolled back.
async fn run_group(
    conn: &mut AnyConnection,
    batch: &[Job],
    begin: &'static str,
    counters: &WriterCounters,
) -> Result<Vec<JobResult>, StoreError> {
    let unsent = begin_unless_opened(conn, batch.first(), begin).await?;
    let companies = batch
        .iter()
        .flat_map(|j| j.companies.iter().map(String::as_str));
    if let Err(e) = lock_companies(conn, companies).await {
        let _ = conn.execute("ROLLBACK").await;
        return Err(e);
    }
    let mut results = Vec::with_capacity(batch.len());
    for (n, job) in batch.iter().enumerate() {
        match run_job(conn, job, unsent.filter(|_| n == 0)).await {
            Ok(value) => results.push(Ok(value)),
            Err(e) => {
                let _ = conn.execute("ROLLBACK").await;
                return Err(e);
            }
        }
    }
    let ending = std::time::Instant::now();
    match crate::audit::write_appended(conn, true).await {
        Ok(true) => {}
        Ok(false) => {
            if let Err(e) = conn.execute("COMMIT").await {
                let _ = conn.execute("ROLLBACK").await;
                return Err(e.into());
            }
        }
        Err(e) => {
            let _ = conn.execute("ROLLBACK").await;
            return Err(e);
        }
    }
    WriterCounters::add(&counters.ending_ns, ending.elapsed());
    Ok(results)
}

/// Sends `begin` unless the transaction's first write sends it itself (SQLite, a
/// [`Db::write_opening`]): then gives it back unsent, for [`run_job`].
async fn begin_unless_opened(
    conn: &mut AnyConnection,
    first: Option<&Job>,
    begin: &'static str,
) -> Result<Option<&'static str>, StoreError> {
    if first.is_some_and(|job| job.opens) && !is_postgres(conn) {
        return Ok(Some(begin));
    }
    conn.execute(begin).await?;
    Ok(None)
}

/// Runs a write; with `unsent`, the transaction's `BEGIN` is left for it to send
/// ([`take_begin`]). A write that succeeded without taking it ran its statements
/// outside the transaction: a fault of the write's code, reported as such.
async fn run_job(conn: &mut AnyConnection, job: &Job, unsent: Option<&'static str>) -> JobResult {
    let Some(begin) = unsent else {
        return (job.run)(conn).await;
    };
    UNSENT_BEGIN
        .scope(std::cell::Cell::new(Some(begin)), async {
            let ran = (job.run)(conn).await;
            match (ran, take_begin()) {
                (Ok(_), Some(_)) => Err(StoreError::corrupt(
                    "a write that opens its transaction ended without taking its BEGIN",
                )),
                (ran, _) => ran,
            }
        })
        .await
}

/// What one statement of a [`batch`] did.
pub(crate) struct Ran {
    /// The rows it returned.
    pub(crate) rows: Vec<AnyRow>,
    /// The rows it inserted, changed or deleted.
    pub(crate) changed: u64,
}

/// What the statements of a [`batch`] did, in their order, up to the first that
/// failed.
pub(crate) struct Batch {
    pub(crate) ran: Vec<Ran>,
    /// Why the statement after the last of `ran` failed; the ones after it did not run.
    pub(crate) failed: Option<sqlx::Error>,
}

impl Batch {
    /// The batch without its first statement when that was the transaction's `BEGIN`
    /// (see [`opening`]), so that `ran` holds the caller's own statements.
    pub(crate) fn after_begin(mut self, begun: bool) -> Batch {
        if begun && !self.ran.is_empty() {
            self.ran.remove(0);
        }
        self
    }
}

/// `sql` after `begin` ([`take_begin`]) when there is one, for a [`batch`]; `sql`
/// itself, not copied, when there is none.
pub(crate) fn opening(begin: Option<&str>, sql: String) -> String {
    match begin {
        Some(begin) => format!("{begin}; {sql}"),
        None => sql,
    }
}

/// SQLite: runs the statements of `query`, separated by `;`, in one call to the
/// connection's thread instead of one call each. Their parameters are numbered (`$n`)
/// across all of them and bound by number; positional ones (`?`) are taken in order from
/// the first argument, so only the first statement may have them. The
/// statements run in order and stop at the first that fails; the ones before it keep
/// their effects (a constraint's failure backs out its own statement only, and the
/// transaction stays open). Each statement's round trip between the writer and that
/// thread cost a sale's writes more than the statements themselves (`bench payments`,
/// SQLite, sequential: 60–115 µs between statements that each ran in 15–20 µs).
pub(crate) async fn batch<'q>(
    conn: &mut AnyConnection,
    query: sqlx::query::Query<'q, Any, sqlx::any::AnyArguments<'q>>,
) -> Batch {
    use futures_util::TryStreamExt;
    let mut ran = Vec::new();
    let mut rows = Vec::new();
    let mut stream = conn.fetch_many(query);
    loop {
        match stream.try_next().await {
            Ok(Some(sqlx::Either::Left(done))) => ran.push(Ran {
                rows: std::mem::take(&mut rows),
                changed: done.rows_affected(),
            }),
            Ok(Some(sqlx::Either::Right(row))) => rows.push(row),
            Ok(None) => return Batch { ran, failed: None },
            Err(e) => {
                return Batch {
                    ran,
                    failed: Some(e),
                }
            }
        }
    }
}

/// `rows` groups of `columns` placeholders for a multi-row `VALUES`: numbered on
/// PostgreSQL, positional `?` on SQLite (which looks numbered ones up by name, one by
/// one: a cost that grows with the square of the statement's size).
pub(crate) fn values(postgres: bool, rows: usize, columns: usize) -> String {
    let mut out = String::with_capacity(rows * columns * 5);
    for row in 0..rows {
        if row > 0 {
            out.push_str(", ");
        }
        out.push('(');
        if postgres {
            out.push_str(&numbered(row * columns + 1, columns));
        } else {
            for column in 0..columns {
                if column > 0 {
                    out.push_str(", ");
                }
                out.push('?');
            }
        }
        out.push(')');
    }
    out
}

/// `count` numbered placeholders from `$first`, separated by commas.
pub(crate) fn numbered(first: usize, count: usize) -> String {
    (first..first + count)
        .map(|n| format!("${n}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// On PostgreSQL, takes the locks (company rows) of `companies` in id order, in one
/// statement.
pub(crate) async fn lock_companies<'a>(
    conn: &mut AnyConnection,
    companies: impl IntoIterator<Item = &'a str>,
) -> Result<(), StoreError> {
    if !is_postgres(conn) {
        return Ok(());
    }
    let mut ids: Vec<&str> = companies.into_iter().collect();
    if ids.is_empty() {
        return Ok(());
    }
    ids.sort_unstable();
    ids.dedup();
    let placeholders: Vec<String> = (1..=ids.len()).map(|n| format!("${n}")).collect();
    // The rows are locked as the sort hands them out, so in id order.
    let sql = format!(
        "SELECT id FROM companies WHERE id IN ({}) ORDER BY id FOR NO KEY UPDATE",
        placeholders.join(", ")
    );
    let mut query = sqlx::query(&sql);
    for id in &ids {
        query = query.bind(*id);
    }
    query.fetch_all(&mut *conn).await?;
    Ok(())
}

/// Runs one write in its own transaction. On PostgreSQL another instance may append to
/// the same company's audit chain first (a unique-key race): that write is tried again.
async fn run_single(conn: &mut AnyConnection, job: &Job, begin: &'static str) -> JobResult {
    let mut tries = 0u64;
    loop {
        tries += 1;
        match crate::audit::with_chain_state(None, run_once(conn, job, begin))
            .await
            .0
        {
            Err(StoreError::Conflict {
                code: "audit_race", ..
            }) if tries < 20 => {
                tokio::time::sleep(Duration::from_millis(2 * tries)).await;
            }
            other => return other,
        }
    }
}

async fn run_once(conn: &mut AnyConnection, job: &Job, begin: &'static str) -> JobResult {
    let unsent = begin_unless_opened(conn, Some(job), begin).await?;
    if let Err(e) = lock_companies(conn, job.companies.iter().map(String::as_str)).await {
        let _ = conn.execute("ROLLBACK").await;
        return Err(e);
    }
    let ran = match run_job(conn, job, unsent).await {
        Ok(value) => crate::audit::write_appended(conn, true)
            .await
            .map(|committed| (value, committed)),
        Err(e) => Err(e),
    };
    match ran {
        Ok((value, true)) => Ok(value),
        Ok((value, false)) => match conn.execute("COMMIT").await {
            Ok(_) => Ok(value),
            Err(e) => {
                let _ = conn.execute("ROLLBACK").await;
                Err(audit_race(e.into()))
            }
        },
        Err(e) => {
            let _ = conn.execute("ROLLBACK").await;
            Err(e)
        }
    }
}

/// One migration: a version, a name, and its SQL per engine.
struct Migration {
    version: i64,
    name: &'static str,
    sqlite: &'static str,
    postgres: &'static str,
}

/// Every migration, in order. Only ever added to.
const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "initial",
        sqlite: include_str!("../migrations/sqlite/0001_initial.sql"),
        postgres: include_str!("../migrations/postgres/0001_initial.sql"),
    },
    Migration {
        version: 2,
        name: "reconciliation",
        sqlite: include_str!("../migrations/sqlite/0002_reconciliation.sql"),
        postgres: include_str!("../migrations/postgres/0002_reconciliation.sql"),
    },
    Migration {
        version: 3,
        name: "backoffice",
        sqlite: include_str!("../migrations/sqlite/0003_backoffice.sql"),
        postgres: include_str!("../migrations/postgres/0003_backoffice.sql"),
    },
    Migration {
        version: 4,
        name: "webhooks_checkout",
        sqlite: include_str!("../migrations/sqlite/0004_webhooks_checkout.sql"),
        postgres: include_str!("../migrations/postgres/0004_webhooks_checkout.sql"),
    },
    Migration {
        version: 5,
        name: "reports",
        sqlite: include_str!("../migrations/sqlite/0005_reports.sql"),
        postgres: include_str!("../migrations/postgres/0005_reports.sql"),
    },
    Migration {
        version: 6,
        name: "payment_keys",
        sqlite: include_str!("../migrations/sqlite/0006_payment_keys.sql"),
        postgres: include_str!("../migrations/postgres/0006_payment_keys.sql"),
    },
    Migration {
        version: 7,
        name: "pos_settings",
        sqlite: include_str!("../migrations/sqlite/0007_pos_settings.sql"),
        postgres: include_str!("../migrations/postgres/0007_pos_settings.sql"),
    },
    Migration {
        version: 8,
        name: "audit_v2_last_company",
        sqlite: include_str!("../migrations/sqlite/0008_audit_v2_last_company.sql"),
        postgres: include_str!("../migrations/postgres/0008_audit_v2_last_company.sql"),
    },
    Migration {
        version: 9,
        name: "scheduled_refunds",
        sqlite: include_str!("../migrations/sqlite/0009_scheduled_refunds.sql"),
        postgres: include_str!("../migrations/postgres/0009_scheduled_refunds.sql"),
    },
    Migration {
        version: 10,
        name: "link_list",
        sqlite: include_str!("../migrations/sqlite/0010_link_list.sql"),
        postgres: include_str!("../migrations/postgres/0010_link_list.sql"),
    },
    Migration {
        version: 11,
        name: "abuse_limits",
        sqlite: include_str!("../migrations/sqlite/0011_abuse_limits.sql"),
        postgres: include_str!("../migrations/postgres/0011_abuse_limits.sql"),
    },
    Migration {
        version: 12,
        name: "rate_counters",
        sqlite: include_str!("../migrations/sqlite/0012_rate_counters.sql"),
        postgres: include_str!("../migrations/postgres/0012_rate_counters.sql"),
    },
    Migration {
        version: 13,
        name: "pre_auth",
        sqlite: include_str!("../migrations/sqlite/0013_pre_auth.sql"),
        postgres: include_str!("../migrations/postgres/0013_pre_auth.sql"),
    },
    Migration {
        version: 14,
        name: "stored_cards",
        sqlite: include_str!("../migrations/sqlite/0014_stored_cards.sql"),
        postgres: include_str!("../migrations/postgres/0014_stored_cards.sql"),
    },
    Migration {
        version: 15,
        name: "session_stored_cards",
        sqlite: include_str!("../migrations/sqlite/0015_session_stored_cards.sql"),
        postgres: include_str!("../migrations/postgres/0015_session_stored_cards.sql"),
    },
    Migration {
        version: 16,
        name: "byte_order_keys",
        sqlite: include_str!("../migrations/sqlite/0016_byte_order_keys.sql"),
        postgres: include_str!("../migrations/postgres/0016_byte_order_keys.sql"),
    },
    Migration {
        version: 17,
        name: "recon_exceptions",
        sqlite: include_str!("../migrations/sqlite/0017_recon_exceptions.sql"),
        postgres: include_str!("../migrations/postgres/0017_recon_exceptions.sql"),
    },
    Migration {
        version: 18,
        name: "rate_counter_shards",
        sqlite: include_str!("../migrations/sqlite/0018_rate_counter_shards.sql"),
        postgres: include_str!("../migrations/postgres/0018_rate_counter_shards.sql"),
    },
    Migration {
        version: 19,
        name: "in_flight_index",
        sqlite: include_str!("../migrations/sqlite/0019_in_flight_index.sql"),
        postgres: include_str!("../migrations/postgres/0019_in_flight_index.sql"),
    },
    Migration {
        version: 20,
        name: "partial_reference_indexes",
        sqlite: include_str!("../migrations/sqlite/0020_partial_reference_indexes.sql"),
        postgres: include_str!("../migrations/postgres/0020_partial_reference_indexes.sql"),
    },
    Migration {
        version: 21,
        name: "settings_epoch",
        sqlite: include_str!("../migrations/sqlite/0021_settings_epoch.sql"),
        postgres: include_str!("../migrations/postgres/0021_settings_epoch.sql"),
    },
];

/// Applies the migrations not applied yet, each in its own transaction.
pub(crate) async fn migrate(db: &Db) -> Result<(), StoreError> {
    migrate_to(db, i64::MAX).await
}

/// Applies the migrations not applied yet up to `last` (a version), each in its own
/// transaction. Below the newest only to build the database of an older release in
/// upgrade tests.
pub(crate) async fn migrate_to(db: &Db, last: i64) -> Result<(), StoreError> {
    let mut conn = db
        .read
        .acquire()
        .await
        .map_err(|e| StoreError::Migration(format!("cannot connect: {e}")))?;
    let conn: &mut AnyConnection = &mut conn;
    let m = |e: sqlx::Error| StoreError::Migration(e.to_string());
    if db.engine == Engine::Postgres {
        // Instances starting together take turns.
        conn.execute("SELECT pg_advisory_lock(727274001)")
            .await
            .map_err(m)?;
    }
    let result = apply(db.engine, conn, last).await;
    if db.engine == Engine::Postgres {
        let _ = conn.execute("SELECT pg_advisory_unlock(727274001)").await;
        warn_without_autovacuum(conn).await;
    }
    result
}

/// Every payment change leaves a dead row version behind on PostgreSQL; without
/// autovacuum they pile up and list queries slow down as the table grows (measured by
/// `sanalpos soak load`). Said once at start, to the operator.
async fn warn_without_autovacuum(conn: &mut AnyConnection) {
    let setting: Result<String, _> = sqlx::query_scalar("SHOW autovacuum")
        .fetch_one(&mut *conn)
        .await;
    if matches!(setting.as_deref(), Ok("off")) {
        tracing::warn!(
            "autovacuum is off on this PostgreSQL server: dead rows of payments will pile up \
             and lists will slow down as the table grows; turn it on (or vacuum regularly)"
        );
    }
}

async fn apply(engine: Engine, conn: &mut AnyConnection, last: i64) -> Result<(), StoreError> {
    let m = |e: sqlx::Error| StoreError::Migration(e.to_string());
    conn.execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)",
    )
    .await
    .map_err(m)?;
    for migration in MIGRATIONS.iter().filter(|m| m.version <= last) {
        let applied: Option<i64> =
            sqlx::query_scalar("SELECT version FROM schema_migrations WHERE version = $1")
                .bind(migration.version)
                .fetch_optional(&mut *conn)
                .await
                .map_err(m)?;
        if applied.is_some() {
            continue;
        }
        let sql = match engine {
            Engine::Sqlite => migration.sqlite,
            Engine::Postgres => migration.postgres,
        };
        let mut tx = conn.begin().await.map_err(m)?;
        for statement in split_statements(sql) {
            tx.execute(statement.as_str())
                .await
                .map_err(|e| StoreError::Migration(format!("{}: {e}", migration.name)))?;
        }
        sqlx::query(
            "INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)",
        )
        .bind(migration.version)
        .bind(migration.name)
        .bind(crate::now_ms())
        .execute(&mut *tx)
        .await
        .map_err(m)?;
        tx.commit().await.map_err(m)?;
        info!(
            version = migration.version,
            name = migration.name,
            "migration applied"
        );
    }
    Ok(())
}

/// Splits a migration file into statements: `;` at the end of a line ends one; `--`
/// comment lines are dropped.
fn split_statements(sql: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::new();
    for line in sql.lines() {
        let trimmed = line.trim();
        if trimmed.is_empty() || trimmed.starts_with("--") {
            continue;
        }
        current.push_str(line);
        current.push('\n');
        if trimmed.ends_with(';') {
            let statement = current.trim().trim_end_matches(';').trim().to_owned();
            if !statement.is_empty() {
                out.push(statement);
            }
            current.clear();
        }
    }
    if !current.trim().is_empty() {
        out.push(current.trim().to_owned());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statements_split_on_line_ends() {
        let parts =
            split_statements("-- c\nCREATE TABLE a (x TEXT);\n\nCREATE INDEX i\n ON a (x);\n");
        assert_eq!(parts.len(), 2);
        assert!(parts[1].starts_with("CREATE INDEX"));
    }

    /// One write of the ordering test: says it started, waits for its gate if it has
    /// one, then logs its name.
    struct Step {
        name: &'static str,
        log: Arc<std::sync::Mutex<Vec<&'static str>>>,
        started: Arc<tokio::sync::Notify>,
        gate: Option<Arc<tokio::sync::Notify>>,
    }

    fn step<'c>(_: &'c mut AnyConnection, s: &'c Step) -> BoxFut<'c, Result<(), StoreError>> {
        Box::pin(async move {
            s.started.notify_one();
            if let Some(gate) = &s.gate {
                gate.notified().await;
            }
            s.log.lock().unwrap().push(s.name);
            Ok(())
        })
    }

    async fn queued_to(queue: &mpsc::Sender<Job>, n: usize) {
        while queue.max_capacity() - queue.capacity() < n {
            tokio::task::yield_now().await;
        }
    }

    #[tokio::test]
    async fn background_writes_take_turns_with_the_groups_of_the_others() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}?mode=rwc", dir.path().join("t.db").display());
        let db = Arc::new(Db::open(&url).await.unwrap());
        let log = Arc::new(std::sync::Mutex::new(Vec::new()));
        let notify = || Arc::new(tokio::sync::Notify::new());
        let send = |name, background: bool, started: &Arc<tokio::sync::Notify>, gate| {
            let (db, log, started) = (db.clone(), log.clone(), started.clone());
            tokio::spawn(async move {
                let s = Step {
                    name,
                    log,
                    started,
                    gate,
                };
                if background {
                    db.write_background(Vec::new(), s, step).await
                } else {
                    db.write_for(Vec::new(), s, step).await
                }
            })
        };
        let ignored = notify();
        let (b1_started, b1_gate) = (notify(), notify());
        let mut writes = vec![send("b1", true, &b1_started, Some(b1_gate.clone()))];
        b1_started.notified().await;
        // While b1 holds the writer: two writes and two background writes wait.
        let (n1_started, n1_gate) = (notify(), notify());
        writes.push(send("n1", false, &n1_started, Some(n1_gate.clone())));
        queued_to(&db.writer, 1).await;
        writes.push(send("n2", false, &ignored, None));
        queued_to(&db.writer, 2).await;
        writes.push(send("b2", true, &ignored, None));
        queued_to(&db.background, 1).await;
        writes.push(send("b3", true, &ignored, None));
        queued_to(&db.background, 2).await;
        b1_gate.notify_one();
        // n1 and n2 go as one group; while it runs, n3 arrives.
        n1_started.notified().await;
        writes.push(send("n3", false, &ignored, None));
        queued_to(&db.writer, 1).await;
        n1_gate.notify_one();
        for write in writes {
            write.await.unwrap().unwrap();
        }
        // After the group, the waiting background write goes before n3; after it, n3
        // goes before the next background write.
        assert_eq!(*log.lock().unwrap(), ["b1", "n1", "n2", "b2", "n3", "b3"]);
    }

    /// A write that opens its transaction: inserts two rows in one call after the
    /// `BEGIN` it was given (noted in `got_begin`), then fails when asked to.
    struct Opening {
        fail: bool,
        got_begin: Arc<std::sync::atomic::AtomicBool>,
    }

    fn opening_write<'c>(
        conn: &'c mut AnyConnection,
        o: &'c Opening,
    ) -> BoxFut<'c, Result<(), StoreError>> {
        Box::pin(async move {
            let begin = take_begin();
            o.got_begin.store(begin.is_some(), Ordering::SeqCst);
            let sql = opening(
                begin,
                "INSERT INTO t (x) VALUES (1); INSERT INTO t (x) VALUES (2)".to_owned(),
            );
            let done = batch(conn, sqlx::query(&sql))
                .await
                .after_begin(begin.is_some());
            if let Some(e) = done.failed {
                return Err(e.into());
            }
            assert_eq!(done.ran.len(), 2, "the BEGIN's outcome is taken off");
            if o.fail {
                return Err(StoreError::corrupt("asked to fail"));
            }
            Ok(())
        })
    }

    #[tokio::test]
    async fn a_write_that_opens_its_transaction_is_undone_whole() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}?mode=rwc", dir.path().join("t.db").display());
        let db = Db::open(&url).await.unwrap();
        db.write((), |c, _| {
            Box::pin(async move {
                c.execute("CREATE TABLE t (x INTEGER)").await?;
                Ok(())
            })
        })
        .await
        .unwrap();
        let rows = || async {
            sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM t")
                .fetch_one(&db.read)
                .await
                .unwrap()
        };
        let got_begin = Arc::new(std::sync::atomic::AtomicBool::new(false));
        // Its rows were written after the BEGIN it sent, so its failure undoes them.
        let failed = db
            .write_opening(
                Opening {
                    fail: true,
                    got_begin: got_begin.clone(),
                },
                opening_write,
            )
            .await;
        assert!(matches!(failed, Err(StoreError::Corrupt(_))), "{failed:?}");
        assert!(got_begin.load(Ordering::SeqCst));
        assert_eq!(rows().await, 0);
        db.write_opening(
            Opening {
                fail: false,
                got_begin: got_begin.clone(),
            },
            opening_write,
        )
        .await
        .unwrap();
        assert!(got_begin.load(Ordering::SeqCst));
        assert_eq!(rows().await, 2);
        // A write that opens its transaction but never takes its BEGIN is refused.
        let untaken = db
            .write_opening((), |_, _| Box::pin(async { Ok(()) }))
            .await;
        match untaken {
            Err(StoreError::Corrupt(message)) => assert!(message.contains("BEGIN"), "{message}"),
            other => panic!("{other:?}"),
        }
        // Made by `write`, it is never given the BEGIN: the writer sent it.
        db.write(
            Opening {
                fail: false,
                got_begin: got_begin.clone(),
            },
            opening_write,
        )
        .await
        .unwrap();
        assert!(!got_begin.load(Ordering::SeqCst));
        assert_eq!(rows().await, 4);
    }

    /// SQLite's writes go through the inline driver, on the writer's own thread.
    #[tokio::test]
    async fn sqlite_writes_run_inline_on_the_writers_thread() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}?mode=rwc", dir.path().join("t.db").display());
        let db = Db::open(&url).await.unwrap();
        let (connection, thread) = db
            .write((), |c, _| {
                Box::pin(async move {
                    c.execute("CREATE TABLE t (x INTEGER)").await?;
                    let thread = std::thread::current().name().map(str::to_owned);
                    Ok((format!("{c:?}"), thread))
                })
            })
            .await
            .unwrap();
        assert!(connection.contains("InlineConnection"), "{connection}");
        assert_eq!(thread.as_deref(), Some("db-writer"));
    }

    #[test]
    fn engines_from_urls() {
        assert_eq!(
            Engine::from_url("sqlite:///x?mode=rwc").ok(),
            Some(Engine::Sqlite)
        );
        assert_eq!(
            Engine::from_url("postgres://a@b/c").ok(),
            Some(Engine::Postgres)
        );
        assert!(Engine::from_url("mysql://x").is_err());
    }
}
