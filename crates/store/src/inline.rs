//! SQLite's write connection, run inline on the writer's own thread.
//!
//! sqlx runs each SQLite connection on a thread of its own and hands every call over to
//! it and the answer back: two wake-ups between threads a call, and a group of sales
//! makes a dozen calls. A profile of the writer at 1,718 sales/s found 39 % of its time
//! in those hand-offs, with neither thread on a core (BENCHMARKS.md, twenty-first
//! sitting). This driver gives the writer the same [`AnyConnection`](sqlx::AnyConnection)
//! as before, so every write of the store runs unchanged, but behind it a plain SQLite
//! connection whose statements run as function calls on the thread that polls it: the
//! writer's own ([`crate::db`] starts it on a thread of its own for this reason, since a
//! statement blocks its caller until SQLite is done).
//!
//! It speaks sqlx's `Any` protocol the way sqlx's own SQLite driver does, so that the
//! rows a write reads back decode alike: several statements separated by `;` run in
//! order in one call and stop at the first that fails; parameters numbered (`$n`, `?n`)
//! are bound by number across all of them, plain `?` ones in order; a parameter beyond
//! the arguments is left NULL; a value is typed by what SQLite holds (an integer is a
//! `BIGINT`, a real a `DOUBLE`); and a constraint's failure is a database error of the
//! same kind (unique, foreign key, not null, check) with SQLite's own message. Prepared
//! statements are kept in a cache of the connection.
//!
//! Only the writer connects through it (its URL's scheme is [`SCHEME`]); reads keep
//! sqlx's driver, which lets several run at once beside the writer.

use std::borrow::Cow;
use std::convert::Infallible;
use std::fmt;
use std::marker::PhantomData;
use std::str::FromStr;
use std::sync::Arc;

use futures_util::future::BoxFuture;
use futures_util::stream::BoxStream;
use rusqlite::types::{ToSqlOutput, ValueRef as SqliteValue};
use rusqlite::{ffi, OpenFlags};
use sqlx::error::{BoxDynError, DatabaseError, ErrorKind};
use sqlx::{Any, Either, Error};
use sqlx_core::any::driver::AnyDriver;
use sqlx_core::any::{
    AnyArguments, AnyColumn, AnyConnectOptions, AnyConnectionBackend, AnyQueryResult, AnyRow,
    AnyStatement, AnyTypeInfo, AnyTypeInfoKind, AnyValue, AnyValueKind,
};
use sqlx_core::ext::ustr::UStr;

/// The URL scheme of the writer's connection: a `sqlite:` URL with this scheme instead.
pub(crate) const SCHEME: &str = "sqlite-inline";

/// Statements each connection keeps prepared (a sale's writes and a group's end use a
/// few dozen; bulk loads and reconciliation runs some more).
const CACHED_STATEMENTS: usize = 256;

/// `url` (a `sqlite:` URL) for the inline driver.
pub(crate) fn writer_url(url: &str) -> String {
    let rest = url.strip_prefix("sqlite:").unwrap_or(url);
    format!("{SCHEME}:{rest}")
}

/// The inline driver as sqlx's `Any` registry knows it.
pub(crate) const DRIVER: AnyDriver = AnyDriver::without_migrate::<Inline>();

/// The driver itself (sqlx asks for a database type; only its connection is used).
#[derive(Debug)]
pub struct Inline;

impl sqlx::Database for Inline {
    type Connection = InlineConnection;
    type TransactionManager = InlineTransactions;
    type Row = Never;
    type QueryResult = NoResult;
    type Column = Never;
    type TypeInfo = Never;
    type Value = Never;
    type ValueRef<'r> = NeverRef<'r>;
    type Arguments<'q> = NoArguments<'q>;
    type ArgumentBuffer<'q> = ();
    type Statement<'q> = NeverStatement<'q>;
    const NAME: &'static str = "SQLite";
    const URL_SCHEMES: &'static [&'static str] = &[SCHEME];
}

/// Where and how to open the file: the path and mode of a `sqlite:` URL.
#[derive(Debug, Clone)]
pub struct InlineOptions {
    path: String,
    flags: OpenFlags,
    /// The SQLite VFS to open the file with (`vfs=`), else SQLite's default.
    vfs: Option<String>,
}

impl FromStr for InlineOptions {
    type Err = Error;

    fn from_str(url: &str) -> Result<Self, Error> {
        let rest = url
            .strip_prefix(SCHEME)
            .and_then(|r| r.strip_prefix(':'))
            .ok_or_else(|| Error::Configuration(format!("not a {SCHEME}: URL").into()))?;
        let rest = rest.strip_prefix("//").unwrap_or(rest);
        let (path, params) = rest.split_once('?').unwrap_or((rest, ""));
        let path = decoded(path, "path")?;
        if path.is_empty() || path == ":memory:" {
            return Err(Error::Configuration(
                "the writer's SQLite connection needs a file".into(),
            ));
        }
        // The parameters sqlx's driver takes, but for a connection that writes: no
        // `mode=ro`, `mode=memory` or `immutable`.
        let mut flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let mut cache = OpenFlags::SQLITE_OPEN_PRIVATE_CACHE;
        let mut vfs = None;
        for param in params.split('&').filter(|p| !p.is_empty()) {
            match param.split_once('=') {
                Some(("mode", "rwc")) => flags |= OpenFlags::SQLITE_OPEN_CREATE,
                Some(("mode", "rw")) => {}
                Some(("cache", "shared")) => cache = OpenFlags::SQLITE_OPEN_SHARED_CACHE,
                Some(("cache", "private")) => cache = OpenFlags::SQLITE_OPEN_PRIVATE_CACHE,
                Some(("vfs", name)) if !name.is_empty() => vfs = Some(decoded(name, "vfs")?),
                _ => {
                    return Err(Error::Configuration(
                        format!("the writer's SQLite URL has an unknown parameter: {param}").into(),
                    ))
                }
            }
        }
        Ok(InlineOptions {
            path,
            flags: flags | cache,
            vfs,
        })
    }
}

/// A part of the URL with its `%XX` escapes decoded; `what` names it in the error.
fn decoded(part: &str, what: &str) -> Result<String, Error> {
    percent_encoding::percent_decode_str(part)
        .decode_utf8()
        .map(std::borrow::Cow::into_owned)
        .map_err(|_| Error::Configuration(format!("the SQLite URL's {what} is not UTF-8").into()))
}

impl TryFrom<&AnyConnectOptions> for InlineOptions {
    type Error = Error;

    fn try_from(options: &AnyConnectOptions) -> Result<Self, Error> {
        options.database_url.as_str().parse()
    }
}

impl sqlx::ConnectOptions for InlineOptions {
    type Connection = InlineConnection;

    fn from_url(url: &sqlx_core::Url) -> Result<Self, Error> {
        url.as_str().parse()
    }

    fn connect(&self) -> BoxFuture<'_, Result<InlineConnection, Error>> {
        Box::pin(async move {
            let conn = match &self.vfs {
                Some(vfs) => rusqlite::Connection::open_with_flags_and_vfs(
                    &self.path,
                    self.flags,
                    vfs.as_str(),
                ),
                None => rusqlite::Connection::open_with_flags(&self.path, self.flags),
            }
            .map_err(into_error)?;
            conn.set_prepared_statement_cache_capacity(CACHED_STATEMENTS);
            Ok(InlineConnection {
                conn,
                depth: 0,
                rolling_back: false,
            })
        })
    }

    fn log_statements(self, _: log::LevelFilter) -> Self {
        self
    }

    fn log_slow_statements(self, _: log::LevelFilter, _: std::time::Duration) -> Self {
        self
    }
}

/// An open SQLite connection whose statements run on the caller's thread.
pub struct InlineConnection {
    conn: rusqlite::Connection,
    /// Transactions opened through sqlx's transaction API (the writer's own `BEGIN`s
    /// are plain statements and not counted).
    depth: usize,
    /// A transaction dropped without its end: rolled back before the next statement.
    rolling_back: bool,
}

impl fmt::Debug for InlineConnection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("InlineConnection")
            .field("depth", &self.depth)
            .finish_non_exhaustive()
    }
}

/// What one call to the connection produced, in order: each statement's rows, then its
/// outcome; an error ends it.
type Produced = Vec<Result<Either<AnyQueryResult, AnyRow>, Error>>;

impl InlineConnection {
    /// Runs the statements of `sql` with `arguments`, the way sqlx's SQLite driver does
    /// (the module's comment), collecting everything they produced.
    fn run(&mut self, sql: &str, arguments: Option<AnyArguments<'_>>) -> Produced {
        let mut out = Vec::new();
        if let Err(e) = self.finish_rollback() {
            out.push(Err(e));
            return out;
        }
        let values = arguments.map(|a| a.values.0).unwrap_or_default();
        let mut positional = 0;
        for statement in statements(sql) {
            if let Err(e) = self.run_one(statement, &values, &mut positional, &mut out) {
                out.push(Err(e));
                break;
            }
        }
        out
    }

    fn run_one(
        &mut self,
        sql: &str,
        values: &[AnyValueKind<'_>],
        positional: &mut usize,
        out: &mut Produced,
    ) -> Result<(), Error> {
        let mut statement = self.conn.prepare_cached(sql).map_err(into_error)?;
        for index in 1..=statement.parameter_count() {
            let n = match statement.parameter_name(index) {
                Some(name) => parameter_number(name)?,
                None => {
                    *positional += 1;
                    *positional
                }
            };
            let Some(value) = n.checked_sub(1).and_then(|i| values.get(i)) else {
                // SQLite leaves a parameter without a value NULL, as sqlx's driver does.
                break;
            };
            statement
                .raw_bind_parameter(index, Bound(value))
                .map_err(into_error)?;
        }
        let columns = statement.column_count();
        let names = (columns > 0)
            .then(|| column_names(&statement))
            .transpose()?;
        let mut rows = statement.raw_query();
        while let Some(row) = rows.next().map_err(into_error)? {
            let names = names.clone().unwrap_or_default();
            let mut any = AnyRow {
                column_names: names.0,
                columns: Vec::with_capacity(columns),
                values: Vec::with_capacity(columns),
            };
            for (ordinal, name) in names.1.iter().enumerate() {
                let value = AnyValue {
                    kind: value_of(row.get_ref(ordinal).map_err(into_error)?, ordinal)?,
                };
                any.columns.push(AnyColumn {
                    ordinal,
                    name: name.clone(),
                    type_info: sqlx::Value::type_info(&value).into_owned(),
                });
                any.values.push(value);
            }
            out.push(Ok(Either::Right(any)));
        }
        drop(rows);
        out.push(Ok(Either::Left(AnyQueryResult {
            rows_affected: self.conn.changes(),
            last_insert_id: None,
        })));
        Ok(())
    }

    /// Runs `sql` (no parameters) for its effect.
    fn execute(&mut self, sql: &str) -> Result<(), Error> {
        match self.run(sql, None).into_iter().find_map(Result::err) {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    fn finish_rollback(&mut self) -> Result<(), Error> {
        if std::mem::take(&mut self.rolling_back) {
            let depth = self.depth;
            self.depth = 0;
            if depth > 0 && !self.conn.is_autocommit() {
                self.conn.execute_batch("ROLLBACK").map_err(into_error)?;
            }
        }
        Ok(())
    }
}

/// A row's column names: the map sqlx's rows look names up in, and the names in order.
type Names = (Arc<sqlx_core::HashMap<UStr, usize>>, Arc<[UStr]>);

fn column_names(statement: &rusqlite::Statement<'_>) -> Result<Names, Error> {
    let mut map = sqlx_core::HashMap::default();
    let mut names = Vec::with_capacity(statement.column_count());
    for ordinal in 0..statement.column_count() {
        let name = UStr::new(statement.column_name(ordinal).map_err(into_error)?);
        map.insert(name.clone(), ordinal);
        names.push(name);
    }
    Ok((Arc::new(map), names.into()))
}

/// The argument a named parameter (`$n`, `?n`) takes, counted from 1.
fn parameter_number(name: &str) -> Result<usize, Error> {
    name.strip_prefix('?')
        .or_else(|| name.strip_prefix('$'))
        .and_then(|n| n.parse().ok())
        .ok_or_else(|| Error::Protocol(format!("unsupported SQL parameter format: {name}")))
}

/// A value SQLite gave back, typed as sqlx's SQLite driver types it for `Any`: by what
/// SQLite holds, not by the column's declared type.
fn value_of(value: SqliteValue<'_>, ordinal: usize) -> Result<AnyValueKind<'static>, Error> {
    Ok(match value {
        SqliteValue::Null => AnyValueKind::Null(AnyTypeInfoKind::Null),
        SqliteValue::Integer(i) => AnyValueKind::BigInt(i),
        SqliteValue::Real(f) => AnyValueKind::Double(f),
        SqliteValue::Text(bytes) => {
            let text = std::str::from_utf8(bytes).map_err(|e| Error::ColumnDecode {
                index: ordinal.to_string(),
                source: Box::new(e),
            })?;
            AnyValueKind::Text(Cow::Owned(text.to_owned()))
        }
        SqliteValue::Blob(bytes) => AnyValueKind::Blob(Cow::Owned(bytes.to_vec())),
    })
}

/// An argument bound the way sqlx's SQLite driver binds it.
struct Bound<'a, 'q>(&'a AnyValueKind<'q>);

impl rusqlite::ToSql for Bound<'_, '_> {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(ToSqlOutput::Borrowed(match self.0 {
            AnyValueKind::Null(_) => SqliteValue::Null,
            AnyValueKind::Bool(b) => SqliteValue::Integer(i64::from(*b)),
            AnyValueKind::SmallInt(i) => SqliteValue::Integer(i64::from(*i)),
            AnyValueKind::Integer(i) => SqliteValue::Integer(i64::from(*i)),
            AnyValueKind::BigInt(i) => SqliteValue::Integer(*i),
            AnyValueKind::Real(r) => SqliteValue::Real(f64::from(*r)),
            AnyValueKind::Double(d) => SqliteValue::Real(*d),
            AnyValueKind::Text(t) => SqliteValue::Text(t.as_bytes()),
            AnyValueKind::Blob(b) => SqliteValue::Blob(b),
            other => {
                return Err(rusqlite::Error::ToSqlConversionFailure(
                    format!("an argument of a kind the writer does not bind: {other:?}").into(),
                ))
            }
        }))
    }
}

/// The statements of `sql`, split at the `;` outside quotes and comments; empty ones
/// left out. Inside a `CREATE [TEMP] TRIGGER`, whose body holds statements of its own,
/// only a `;` right after the word `END` ends it, as SQLite's own `sqlite3_complete`
/// decides ([`trigger_goes_on`]).
fn statements(sql: &str) -> impl Iterator<Item = &str> {
    let bytes = sql.as_bytes();
    let mut parts = Vec::new();
    let (mut start, mut i) = (0, 0);
    while i < bytes.len() {
        if let Some((end, _)) = skipped(bytes, i) {
            i = end;
        } else if bytes[i] == b';' && !trigger_goes_on(&sql[start..i]) {
            parts.push(&sql[start..i]);
            start = i + 1;
        }
        i += 1;
    }
    parts.push(&sql[start.min(sql.len())..]);
    parts.into_iter().map(str::trim).filter(|s| !s.is_empty())
}

/// When a quoted name or string, or a comment, starts at `i`: the index of its last
/// byte, and whether it is a token (a comment is not).
fn skipped(bytes: &[u8], i: usize) -> Option<(usize, bool)> {
    match bytes[i] {
        quote @ (b'\'' | b'"' | b'`') => Some((closing(bytes, i + 1, quote), true)),
        b'[' => Some((closing(bytes, i, b']'), true)),
        b'-' if bytes.get(i + 1) == Some(&b'-') => Some((closing(bytes, i, b'\n'), false)),
        b'/' if bytes.get(i + 1) == Some(&b'*') => Some((comment_end(bytes, i), false)),
        _ => None,
    }
}

/// The index of the first `byte` from `from` on (the end of `bytes` when there is none).
fn closing(bytes: &[u8], from: usize, byte: u8) -> usize {
    bytes[from.min(bytes.len())..]
        .iter()
        .position(|&b| b == byte)
        .map_or(bytes.len(), |at| from + at)
}

/// The index of the `/` that ends the `/* … */` comment starting at `from`.
fn comment_end(bytes: &[u8], from: usize) -> usize {
    let mut i = from + 2;
    while i + 1 < bytes.len() && !(bytes[i] == b'*' && bytes[i + 1] == b'/') {
        i += 1;
    }
    i + 1
}

/// Whether `part`, the text up to a `;`, is a `CREATE [TEMP|TEMPORARY] TRIGGER` whose
/// body is still open: the `;` ends one of its statements, not the trigger, unless the
/// last word before it is `END`. Anything else (checked by its first word, so that
/// other statements cost nothing more) ends at the `;`.
fn trigger_goes_on(part: &str) -> bool {
    let head = part.trim_start();
    let starts = |prefix: &str| {
        head.get(..prefix.len())
            .is_some_and(|h| h.eq_ignore_ascii_case(prefix))
    };
    if !(starts("create") || starts("--") || starts("/*")) {
        return false;
    }
    let tokens = tokens(part);
    let word = |n: usize, keywords: &[&str]| matches!(tokens.get(n), Some(Some(w)) if keywords.iter().any(|k| w.eq_ignore_ascii_case(k)));
    let trigger = word(0, &["CREATE"])
        && (word(1, &["TRIGGER"]) || (word(1, &["TEMP", "TEMPORARY"]) && word(2, &["TRIGGER"])));
    trigger && !word(tokens.len().wrapping_sub(1), &["END"])
}

/// The tokens of `sql` outside comments: `Some` a word, `None` anything else (a quoted
/// name or string, a number, an operator).
fn tokens(sql: &str) -> Vec<Option<&str>> {
    let bytes = sql.as_bytes();
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if let Some((end, token)) = skipped(bytes, i) {
            i = end + 1;
            if token {
                tokens.push(None);
            }
            continue;
        }
        match bytes[i] {
            b if b.is_ascii_alphabetic() || b == b'_' => {
                let end = bytes[i..]
                    .iter()
                    .position(|&b| !(b.is_ascii_alphanumeric() || b == b'_' || b == b'$'))
                    .map_or(bytes.len(), |n| i + n);
                tokens.push(Some(&sql[i..end]));
                i = end - 1;
            }
            b if b.is_ascii_whitespace() => {}
            _ => tokens.push(None),
        }
        i += 1;
    }
    tokens
}

/// SQLite's error as sqlx's: a database error when SQLite reported one.
fn into_error(e: rusqlite::Error) -> Error {
    database_error(&e).unwrap_or_else(|| other_error(&e))
}

fn database_error(e: &rusqlite::Error) -> Option<Error> {
    match e {
        rusqlite::Error::SqliteFailure(failure, message) => {
            Some(Error::Database(Box::new(SqliteError {
                code: failure.extended_code,
                message: message.clone().unwrap_or_else(|| failure.to_string()),
            })))
        }
        _ => None,
    }
}

fn other_error(e: &rusqlite::Error) -> Error {
    Error::Protocol(format!("SQLite: {e}"))
}

/// An error SQLite reported: its extended result code and message.
#[derive(Debug)]
struct SqliteError {
    code: i32,
    message: String,
}

impl fmt::Display for SqliteError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "(code: {}) {}", self.code, self.message)
    }
}

impl std::error::Error for SqliteError {}

impl DatabaseError for SqliteError {
    fn message(&self) -> &str {
        &self.message
    }

    fn code(&self) -> Option<Cow<'_, str>> {
        Some(Cow::Owned(self.code.to_string()))
    }

    fn as_error(&self) -> &(dyn std::error::Error + Send + Sync + 'static) {
        self
    }

    fn as_error_mut(&mut self) -> &mut (dyn std::error::Error + Send + Sync + 'static) {
        self
    }

    fn into_error(self: Box<Self>) -> Box<dyn std::error::Error + Send + Sync + 'static> {
        self
    }

    fn kind(&self) -> ErrorKind {
        match self.code {
            ffi::SQLITE_CONSTRAINT_UNIQUE | ffi::SQLITE_CONSTRAINT_PRIMARYKEY => {
                ErrorKind::UniqueViolation
            }
            ffi::SQLITE_CONSTRAINT_FOREIGNKEY => ErrorKind::ForeignKeyViolation,
            ffi::SQLITE_CONSTRAINT_NOTNULL => ErrorKind::NotNullViolation,
            ffi::SQLITE_CONSTRAINT_CHECK => ErrorKind::CheckViolation,
            _ => ErrorKind::Other,
        }
    }
}

impl AnyConnectionBackend for InlineConnection {
    fn name(&self) -> &str {
        "SQLite"
    }

    fn close(self: Box<Self>) -> BoxFuture<'static, Result<(), Error>> {
        Box::pin(async move { self.conn.close().map_err(|(_, e)| into_error(e)) })
    }

    fn close_hard(self: Box<Self>) -> BoxFuture<'static, Result<(), Error>> {
        self.close()
    }

    fn ping(&mut self) -> BoxFuture<'_, Result<(), Error>> {
        Box::pin(async { Ok(()) })
    }

    fn begin(&mut self, statement: Option<Cow<'static, str>>) -> BoxFuture<'_, Result<(), Error>> {
        Box::pin(async move { self.begin_now(statement) })
    }

    fn commit(&mut self) -> BoxFuture<'_, Result<(), Error>> {
        Box::pin(async move { self.commit_now() })
    }

    fn rollback(&mut self) -> BoxFuture<'_, Result<(), Error>> {
        Box::pin(async move { self.rollback_now() })
    }

    fn start_rollback(&mut self) {
        if self.depth > 0 {
            self.rolling_back = true;
        }
    }

    fn get_transaction_depth(&self) -> usize {
        self.depth
    }

    fn shrink_buffers(&mut self) {}

    fn flush(&mut self) -> BoxFuture<'_, Result<(), Error>> {
        Box::pin(async { Ok(()) })
    }

    fn should_flush(&self) -> bool {
        false
    }

    fn fetch_many<'q>(
        &'q mut self,
        query: &'q str,
        _persistent: bool,
        arguments: Option<AnyArguments<'q>>,
    ) -> BoxStream<'q, Result<Either<AnyQueryResult, AnyRow>, Error>> {
        Box::pin(futures_util::stream::iter(self.run(query, arguments)))
    }

    fn fetch_optional<'q>(
        &'q mut self,
        query: &'q str,
        _persistent: bool,
        arguments: Option<AnyArguments<'q>>,
    ) -> BoxFuture<'q, Result<Option<AnyRow>, Error>> {
        Box::pin(async move {
            let mut first = None;
            for produced in self.run(query, arguments) {
                if let Either::Right(row) = produced? {
                    first.get_or_insert(row);
                }
            }
            Ok(first)
        })
    }

    fn prepare_with<'c, 'q: 'c>(
        &'c mut self,
        _sql: &'q str,
        _parameters: &[AnyTypeInfo],
    ) -> BoxFuture<'c, Result<AnyStatement<'q>, Error>> {
        Box::pin(async { Err(unsupported("prepared statements")) })
    }

    fn describe<'q>(
        &'q mut self,
        _sql: &'q str,
    ) -> BoxFuture<'q, Result<sqlx_core::describe::Describe<Any>, Error>> {
        Box::pin(async { Err(unsupported("describing statements")) })
    }
}

fn unsupported(what: &str) -> Error {
    Error::AnyDriverError(format!("the writer's SQLite connection does not offer {what}").into())
}

impl InlineConnection {
    fn begin_now(&mut self, statement: Option<Cow<'static, str>>) -> Result<(), Error> {
        self.finish_rollback()?;
        let sql = match (self.depth, statement) {
            (0, Some(statement)) => statement,
            (0, None) => Cow::Borrowed("BEGIN"),
            (_, Some(_)) => return Err(Error::InvalidSavePointStatement),
            (depth, None) => Cow::Owned(format!("SAVEPOINT _sqlx_savepoint_{depth}")),
        };
        self.execute(&sql)?;
        self.depth += 1;
        Ok(())
    }

    fn commit_now(&mut self) -> Result<(), Error> {
        self.finish_rollback()?;
        let sql = match self.depth {
            0 => return Ok(()),
            1 => Cow::Borrowed("COMMIT"),
            depth => Cow::Owned(format!("RELEASE SAVEPOINT _sqlx_savepoint_{}", depth - 1)),
        };
        self.execute(&sql)?;
        self.depth -= 1;
        Ok(())
    }

    fn rollback_now(&mut self) -> Result<(), Error> {
        self.finish_rollback()?;
        let sql = match self.depth {
            0 => return Ok(()),
            1 => Cow::Borrowed("ROLLBACK"),
            depth => Cow::Owned(format!(
                "ROLLBACK TO SAVEPOINT _sqlx_savepoint_{}",
                depth - 1
            )),
        };
        self.execute(&sql)?;
        self.depth -= 1;
        Ok(())
    }
}

impl sqlx::Connection for InlineConnection {
    type Database = Inline;
    type Options = InlineOptions;

    fn close(self) -> BoxFuture<'static, Result<(), Error>> {
        AnyConnectionBackend::close(Box::new(self))
    }

    fn close_hard(self) -> BoxFuture<'static, Result<(), Error>> {
        AnyConnectionBackend::close(Box::new(self))
    }

    fn ping(&mut self) -> BoxFuture<'_, Result<(), Error>> {
        Box::pin(async { Ok(()) })
    }

    fn begin(&mut self) -> BoxFuture<'_, Result<sqlx::Transaction<'_, Inline>, Error>> {
        sqlx::Transaction::begin(self, None)
    }

    fn shrink_buffers(&mut self) {}

    fn flush(&mut self) -> BoxFuture<'_, Result<(), Error>> {
        Box::pin(async { Ok(()) })
    }

    fn should_flush(&self) -> bool {
        false
    }
}

/// sqlx's transactions on the connection (the writer sends its own `BEGIN`s).
pub struct InlineTransactions;

impl sqlx_core::transaction::TransactionManager for InlineTransactions {
    type Database = Inline;

    fn begin<'conn>(
        conn: &'conn mut InlineConnection,
        statement: Option<Cow<'static, str>>,
    ) -> BoxFuture<'conn, Result<(), Error>> {
        Box::pin(async move { conn.begin_now(statement) })
    }

    fn commit(conn: &mut InlineConnection) -> BoxFuture<'_, Result<(), Error>> {
        Box::pin(async move { conn.commit_now() })
    }

    fn rollback(conn: &mut InlineConnection) -> BoxFuture<'_, Result<(), Error>> {
        Box::pin(async move { conn.rollback_now() })
    }

    fn start_rollback(conn: &mut InlineConnection) {
        AnyConnectionBackend::start_rollback(conn);
    }

    fn get_transaction_depth(conn: &InlineConnection) -> usize {
        conn.depth
    }
}

// The types below are what sqlx's `Database` asks for. The connection only ever answers
// through `Any`, so none of them is ever made: they cannot be (`Infallible`).

/// A value of a type that is never made.
#[derive(Debug, Clone, PartialEq)]
pub struct Never(Infallible);

/// A borrowed [`Never`].
pub struct NeverRef<'r>(Infallible, PhantomData<&'r ()>);

/// A statement of the inline driver (statements are never prepared through sqlx).
pub struct NeverStatement<'q>(Infallible, PhantomData<&'q ()>);

/// The outcome of a statement run through the inline driver's own API (never).
#[derive(Default)]
pub struct NoResult;

impl Extend<NoResult> for NoResult {
    fn extend<T: IntoIterator<Item = NoResult>>(&mut self, _: T) {}
}

/// Arguments of the inline driver's own API, which takes none (`Any`'s are used).
#[derive(Default)]
pub struct NoArguments<'q>(PhantomData<&'q ()>);

impl<'q> sqlx::Arguments<'q> for NoArguments<'q> {
    type Database = Inline;

    fn reserve(&mut self, _: usize, _: usize) {}

    fn add<T>(&mut self, _: T) -> Result<(), BoxDynError>
    where
        T: 'q + sqlx::Encode<'q, Inline> + sqlx::Type<Inline>,
    {
        Err("the inline SQLite driver takes arguments through Any only".into())
    }

    fn len(&self) -> usize {
        0
    }
}

impl<'q> sqlx::IntoArguments<'q, Inline> for NoArguments<'q> {
    fn into_arguments(self) -> NoArguments<'q> {
        self
    }
}

impl fmt::Display for Never {
    fn fmt(&self, _: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {}
    }
}

impl sqlx::TypeInfo for Never {
    fn is_null(&self) -> bool {
        match self.0 {}
    }

    fn name(&self) -> &str {
        match self.0 {}
    }
}

impl sqlx::Column for Never {
    type Database = Inline;

    fn ordinal(&self) -> usize {
        match self.0 {}
    }

    fn name(&self) -> &str {
        match self.0 {}
    }

    fn type_info(&self) -> &Never {
        match self.0 {}
    }
}

impl sqlx::Row for Never {
    type Database = Inline;

    fn columns(&self) -> &[Never] {
        match self.0 {}
    }

    fn try_get_raw<I>(&self, _: I) -> Result<NeverRef<'_>, Error>
    where
        I: sqlx::ColumnIndex<Self>,
    {
        match self.0 {}
    }
}

impl sqlx::Value for Never {
    type Database = Inline;

    fn as_ref(&self) -> NeverRef<'_> {
        match self.0 {}
    }

    fn type_info(&self) -> Cow<'_, Never> {
        match self.0 {}
    }

    fn is_null(&self) -> bool {
        match self.0 {}
    }
}

impl<'r> sqlx::ValueRef<'r> for NeverRef<'r> {
    type Database = Inline;

    fn to_owned(&self) -> Never {
        match self.0 {}
    }

    fn type_info(&self) -> Cow<'_, Never> {
        match self.0 {}
    }

    fn is_null(&self) -> bool {
        match self.0 {}
    }
}

impl<'q> sqlx::Statement<'q> for NeverStatement<'q> {
    type Database = Inline;

    fn to_owned(&self) -> NeverStatement<'static> {
        match self.0 {}
    }

    fn sql(&self) -> &str {
        match self.0 {}
    }

    fn parameters(&self) -> Option<Either<&[Never], usize>> {
        match self.0 {}
    }

    fn columns(&self) -> &[Never] {
        match self.0 {}
    }

    sqlx_core::impl_statement_query!(NoArguments<'_>);
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_util::TryStreamExt;
    use sqlx::{Connection, Executor, Row};

    /// What a call produced, written out: each row's columns with their names, types
    /// and values, and each statement's changed rows; or the error's kind and message.
    async fn produced(conn: &mut sqlx::AnyConnection, sql: &str, args: &[Arg]) -> Vec<String> {
        let mut query = sqlx::query(sql);
        for arg in args {
            query = match arg {
                Arg::Int(i) => query.bind(*i),
                Arg::Text(t) => query.bind(*t),
                Arg::Blob(b) => query.bind(b.to_vec()),
                Arg::Real(r) => query.bind(*r),
                Arg::Bool(b) => query.bind(*b),
                Arg::Null => query.bind(None::<String>),
            };
        }
        let mut out = Vec::new();
        let mut stream = conn.fetch_many(query);
        loop {
            match stream.try_next().await {
                Ok(Some(Either::Left(done))) => out.push(format!("done {}", done.rows_affected())),
                Ok(Some(Either::Right(row))) => {
                    let cells: Vec<String> = row
                        .columns()
                        .iter()
                        .map(|c| {
                            let value = row.try_get_raw(sqlx::Column::ordinal(c)).unwrap();
                            format!(
                                "{}:{}={}",
                                sqlx::Column::name(c),
                                sqlx::TypeInfo::name(&*sqlx::ValueRef::type_info(&value)),
                                decoded(&row, sqlx::Column::ordinal(c))
                            )
                        })
                        .collect();
                    out.push(cells.join(" "));
                }
                Ok(None) => break,
                Err(e) => {
                    let described = match &e {
                        Error::Database(db) => format!("{:?} {}", db.kind(), db.message()),
                        other => other.to_string(),
                    };
                    out.push(format!("error {described}"));
                    break;
                }
            }
        }
        out
    }

    fn decoded(row: &sqlx::any::AnyRow, i: usize) -> String {
        if let Ok(v) = row.try_get::<Option<i64>, _>(i) {
            return format!("{v:?}");
        }
        if let Ok(v) = row.try_get::<Option<String>, _>(i) {
            return format!("{v:?}");
        }
        if let Ok(v) = row.try_get::<Option<f64>, _>(i) {
            return format!("{v:?}");
        }
        if let Ok(v) = row.try_get::<Option<Vec<u8>>, _>(i) {
            return format!("{v:?}");
        }
        "undecodable".to_owned()
    }

    enum Arg {
        Int(i64),
        Text(&'static str),
        Blob(&'static [u8]),
        Real(f64),
        Bool(bool),
        Null,
    }

    /// The inline driver answers every call as sqlx's SQLite driver does: the same
    /// rows, typed alike, the same counts, the same errors, on two copies of a database.
    #[tokio::test]
    async fn answers_as_sqlx_sqlite_driver_does() {
        crate::install_drivers();
        let dir = tempfile::tempdir().unwrap();
        let mut theirs = sqlx::AnyConnection::connect(&format!(
            "sqlite://{}?mode=rwc",
            dir.path().join("theirs.db").display()
        ))
        .await
        .unwrap();
        let mut ours = sqlx::AnyConnection::connect(&writer_url(&format!(
            "sqlite://{}?mode=rwc",
            dir.path().join("ours.db").display()
        )))
        .await
        .unwrap();
        assert_eq!(ours.backend_name(), theirs.backend_name());
        use Arg::*;
        let calls: Vec<(&str, Vec<Arg>)> =
            vec![
            (
                "PRAGMA foreign_keys=ON; CREATE TABLE p (id TEXT PRIMARY KEY, n BIGINT NOT NULL, \
                 r REAL, b BLOB, flag BOOLEAN, CHECK (n >= 0)); \
                 CREATE TABLE c (p TEXT NOT NULL REFERENCES p (id), note TEXT)",
                vec![],
            ),
            // Positional arguments in the first statement, numbered ones after.
            (
                "BEGIN IMMEDIATE; INSERT INTO p (id, n, r, b, flag) VALUES (?, ?, ?, ?, ?); \
                 INSERT INTO c (p, note) VALUES ($1, $6) RETURNING p, note, length(note) AS l",
                vec![Text("a"), Int(5), Real(1.5), Blob(b"\x00\x01"), Bool(true), Text("x;y")],
            ),
            ("COMMIT", vec![]),
            // A parameter beyond the arguments is NULL.
            (
                "INSERT INTO c (p, note) VALUES ($1, $2)",
                vec![Text("a")],
            ),
            (
                "SELECT id, n, r, b, n * 2 AS twice, NULL AS empty, 'ü' AS t FROM p; \
                 SELECT count(*) AS k, max(note) AS m FROM c WHERE note IS NULL OR note = $1",
                vec![Text("x;y")],
            ),
            (
                "UPDATE p SET n = n + 1 WHERE id = $1 RETURNING n",
                vec![Text("a")],
            ),
            ("UPDATE p SET n = 0 WHERE id = 'none'", vec![]),
            // Failures: each stops the call, the statements before it keep their effects.
            (
                "INSERT INTO c (p, note) VALUES ('a', 'kept'); \
                 INSERT INTO p (id, n) VALUES ('a', 1); SELECT 1",
                vec![],
            ),
            ("INSERT INTO c (p, note) VALUES ('nobody', NULL)", vec![]),
            ("INSERT INTO p (id, n) VALUES ('z', NULL)", vec![]),
            ("INSERT INTO p (id, n) VALUES ('z', -1)", vec![]),
            ("SELECT * FROM missing", vec![]),
            ("SELECT note FROM c ORDER BY rowid", vec![]),
            ("SELECT $1 AS v, $2 AS w", vec![Null, Int(i64::MIN)]),
        ];
        for (sql, args) in &calls {
            let want = produced(&mut theirs, sql, args).await;
            let got = produced(&mut ours, sql, args).await;
            assert_eq!(got, want, "{sql}");
        }
        // fetch_optional takes the first row.
        let row = sqlx::query("SELECT note FROM c WHERE note IS NOT NULL ORDER BY note")
            .fetch_optional(&mut ours)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(row.get::<String, _>("note"), "kept");
        // sqlx's transactions: a dropped one is rolled back before the next statement.
        {
            let mut tx = ours.begin().await.unwrap();
            tx.execute("DELETE FROM c").await.unwrap();
        }
        let left: i64 = sqlx::query_scalar("SELECT count(*) FROM c")
            .fetch_one(&mut ours)
            .await
            .unwrap();
        assert_eq!(left, 3);
        let mut tx = ours.begin().await.unwrap();
        tx.execute("DELETE FROM c WHERE note IS NULL")
            .await
            .unwrap();
        tx.commit().await.unwrap();
        let left: i64 = sqlx::query_scalar("SELECT count(*) FROM c")
            .fetch_one(&mut ours)
            .await
            .unwrap();
        assert_eq!(left, 2);
    }

    #[test]
    fn statements_split_outside_quotes_and_comments() {
        let sql = "BEGIN IMMEDIATE; INSERT INTO t VALUES ('a;b', \"c;d\") -- e;f\n; \
                   /* g; h */ SELECT 1;  ;";
        let parts: Vec<&str> = statements(sql).collect();
        assert_eq!(
            parts,
            [
                "BEGIN IMMEDIATE",
                "INSERT INTO t VALUES ('a;b', \"c;d\") -- e;f",
                "/* g; h */ SELECT 1",
            ]
        );
    }

    #[test]
    fn a_triggers_body_stays_in_its_statement() {
        let trigger = "CREATE TEMP TRIGGER \"t;x\" AFTER INSERT ON p BEGIN \
                       UPDATE q SET n = n + 1; INSERT INTO r VALUES ('end;'); END";
        let sql = format!("{trigger}; create trigger u after delete on p begin delete from q; end; SELECT 1; CREATE TABLE backend (x); \
             /* a comment; then */ CREATE TRIGGER v BEFORE UPDATE ON p BEGIN SELECT 'end'; END; SELECT 2");
        let parts: Vec<&str> = statements(&sql).collect();
        assert_eq!(
            parts,
            [
                trigger,
                "create trigger u after delete on p begin delete from q; end",
                "SELECT 1",
                "CREATE TABLE backend (x)",
                "/* a comment; then */ CREATE TRIGGER v BEFORE UPDATE ON p BEGIN SELECT 'end'; END",
                "SELECT 2",
            ]
        );
    }

    #[tokio::test]
    async fn triggers_run_on_the_writers_connection() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}?mode=rwc", dir.path().join("t.db").display());
        crate::install_drivers();
        let mut conn = sqlx::AnyConnection::connect(&writer_url(&url))
            .await
            .unwrap();
        conn.execute(
            "CREATE TABLE p (id INTEGER PRIMARY KEY); CREATE TABLE q (n BIGINT NOT NULL); \
             INSERT INTO q VALUES (0); \
             CREATE TRIGGER counted AFTER INSERT ON p BEGIN \
             UPDATE q SET n = n + 1; UPDATE q SET n = n * 10; END; \
             INSERT INTO p VALUES (1)",
        )
        .await
        .unwrap();
        let n: i64 = sqlx::query("SELECT n FROM q")
            .fetch_one(&mut conn)
            .await
            .unwrap()
            .get(0);
        assert_eq!(n, 10);
    }

    #[test]
    fn urls_give_the_file_and_its_mode() {
        let options: InlineOptions = writer_url("sqlite:///tmp/a%20b/x.db?mode=rwc")
            .parse()
            .unwrap();
        assert_eq!(options.path, "/tmp/a b/x.db");
        assert!(options.flags.contains(OpenFlags::SQLITE_OPEN_CREATE));
        let options: InlineOptions = writer_url("sqlite:x.db").parse().unwrap();
        assert_eq!(options.path, "x.db");
        assert!(!options.flags.contains(OpenFlags::SQLITE_OPEN_CREATE));
        // As sqlx hands it over, after parsing it as a URL: a relative path too.
        for (url, path) in [
            ("sqlite://data/sanalpos.db?mode=rwc", "data/sanalpos.db"),
            ("sqlite:///tmp/a b/ç.db?mode=rwc", "/tmp/a b/ç.db"),
        ] {
            let any: AnyConnectOptions = writer_url(url).parse().unwrap();
            let options = InlineOptions::try_from(&any).unwrap();
            assert_eq!(options.path, path, "{url}");
        }
        assert!(writer_url("sqlite::memory:")
            .parse::<InlineOptions>()
            .is_err());
        assert!(writer_url("sqlite://x.db?mode=ro")
            .parse::<InlineOptions>()
            .is_err());
        // sqlx's other parameters: the cache and the VFS; not `immutable`.
        let options: InlineOptions =
            writer_url("sqlite://x.db?mode=rwc&cache=shared&vfs=unix-dotfile")
                .parse()
                .unwrap();
        assert!(options.flags.contains(OpenFlags::SQLITE_OPEN_SHARED_CACHE));
        assert!(!options.flags.contains(OpenFlags::SQLITE_OPEN_PRIVATE_CACHE));
        assert_eq!(options.vfs.as_deref(), Some("unix-dotfile"));
        let options: InlineOptions = writer_url("sqlite://x.db?cache=private").parse().unwrap();
        assert!(options.flags.contains(OpenFlags::SQLITE_OPEN_PRIVATE_CACHE));
        assert_eq!(options.vfs, None);
        assert!(writer_url("sqlite://x.db?immutable=true")
            .parse::<InlineOptions>()
            .is_err());
    }

    #[tokio::test]
    async fn a_named_vfs_opens_the_file() {
        crate::install_drivers();
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("v.db");
        let url = format!("sqlite://{}?mode=rwc&vfs=unix-dotfile", file.display());
        let mut conn = sqlx::AnyConnection::connect(&writer_url(&url))
            .await
            .unwrap();
        conn.execute("CREATE TABLE t (x BIGINT)").await.unwrap();
        assert!(file.exists());
        let url = format!("sqlite://{}?mode=rwc&vfs=no-such-vfs", file.display());
        assert!(sqlx::AnyConnection::connect(&writer_url(&url))
            .await
            .is_err());
    }
}
