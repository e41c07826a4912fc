//! The SQL the journal speaks, on either engine it can live in: SQLite (one workstation, the
//! default) or PostgreSQL (a team's shared journal, `[journal] url`).
//!
//! The journal's queries are written once, in the subset both dialects share, with `?N`
//! parameters. This module runs them on the connection at hand: an adapter, not a query builder.
//! Values cross as [`Value`] — the four kinds the journal stores — and rows come back owned, so
//! a query reads the same whichever engine answers it. Statements are prepared once per
//! connection (rusqlite's cache; a map of prepared statements for PostgreSQL).

use std::collections::HashMap;

use postgres::types::{to_sql_checked, IsNull, ToSql as PgToSql, Type};

/// One value as the journal stores it. Booleans are integers (0/1) on both engines, and
/// timestamps RFC 3339 text in UTC with milliseconds, which sort as they compare.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Int(i64),
    Real(f64),
    Text(String),
}

#[derive(Debug, thiserror::Error)]
pub enum SqlError {
    #[error("{0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("{}", postgres_text(.0))]
    Postgres(#[from] postgres::Error),
    #[error("the query returned no row")]
    NoRows,
    #[error("column {column}: {problem}")]
    Type { column: usize, problem: String },
    /// The database did not answer in time.
    #[error("{0}")]
    Unreachable(String),
    /// The database was migrated by a newer Sentinela than this one.
    #[error("the shared journal's schema is version {found}, newer than this Sentinela's {known}: a newer Sentinela runs on another workstation; update this one to the same version")]
    NewerSchema { found: i64, known: i64 },
    /// An intent to create (a message, a call) under a lease epoch that has lapsed or passed to
    /// another workstation: nothing is created under it.
    #[error("this workstation's lease (epoch {epoch}) has lapsed or passed to another workstation: it no longer notifies")]
    NotTheNotifier { epoch: i64 },
    /// An operation only one engine has (the fault-injection hooks are SQLite's).
    #[error("{0} is not available on this journal's database")]
    Unsupported(&'static str),
}

pub type SqlResult<T> = Result<T, SqlError>;

/// PostgreSQL's own words (code, message, detail): `postgres::Error`'s display alone says "db error".
fn postgres_text(e: &postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => {
            let mut text = format!("{} ({})", db.message(), db.code().code());
            if let Some(detail) = db.detail() {
                text.push_str(": ");
                text.push_str(detail);
            }
            text
        }
        None => {
            let mut text = e.to_string();
            let mut source = std::error::Error::source(e);
            while let Some(s) = source {
                text.push_str(": ");
                text.push_str(&s.to_string());
                source = s.source();
            }
            text
        }
    }
}

impl SqlError {
    /// The connection to the database is gone (server restarted, network lost), or the server
    /// gave up waiting (a session limit: see `postgres::SESSION_LIMITS`): the journal is out of
    /// this engine's reach for now, and the next operation reconnects instead of failing forever.
    pub fn is_connection_lost(&self) -> bool {
        use postgres::error::SqlState;
        let timed_out = |code: &SqlState| {
            [
                SqlState::QUERY_CANCELED,
                SqlState::LOCK_NOT_AVAILABLE,
                SqlState::IDLE_IN_TRANSACTION_SESSION_TIMEOUT,
                SqlState::ADMIN_SHUTDOWN,
            ]
            .contains(code)
        };
        match self {
            SqlError::Postgres(e) => {
                e.is_closed()
                    || e.as_db_error().is_none() && e.code().is_none()
                    || e.code().is_some_and(timed_out)
            }
            SqlError::Unreachable(_) => true,
            _ => false,
        }
    }

    /// A unique or primary key says this row is there already (another engine wrote it first).
    pub fn is_unique_violation(&self) -> bool {
        match self {
            SqlError::Postgres(e) => e.code() == Some(&postgres::error::SqlState::UNIQUE_VIOLATION),
            SqlError::Sqlite(rusqlite::Error::SqliteFailure(f, _)) => {
                f.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE
                    || f.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY
            }
            _ => false,
        }
    }
}

/// A Rust value the journal binds as a parameter.
pub trait ToValue {
    fn to_value(&self) -> Value;
}

/// A Rust value the journal reads from a column.
pub trait FromValue: Sized {
    fn from_value(v: &Value) -> Result<Self, String>;
}

impl<T: ToValue + ?Sized> ToValue for &T {
    fn to_value(&self) -> Value {
        (**self).to_value()
    }
}
impl<T: ToValue> ToValue for Option<T> {
    fn to_value(&self) -> Value {
        self.as_ref().map_or(Value::Null, ToValue::to_value)
    }
}
/// A value already in the journal's terms (a condition built at run time binds these).
impl ToValue for Value {
    fn to_value(&self) -> Value {
        self.clone()
    }
}
impl ToValue for str {
    fn to_value(&self) -> Value {
        Value::Text(self.to_owned())
    }
}
impl ToValue for String {
    fn to_value(&self) -> Value {
        Value::Text(self.clone())
    }
}
impl ToValue for bool {
    fn to_value(&self) -> Value {
        Value::Int(i64::from(*self))
    }
}
impl ToValue for f64 {
    fn to_value(&self) -> Value {
        Value::Real(*self)
    }
}
macro_rules! integer_values {
    ($($t:ty),+) => {$(
        impl ToValue for $t {
            fn to_value(&self) -> Value {
                Value::Int(*self as i64)
            }
        }
        impl FromValue for $t {
            fn from_value(v: &Value) -> Result<Self, String> {
                match v {
                    Value::Int(i) => <$t>::try_from(*i).map_err(|_| format!("{i} does not fit in {}", stringify!($t))),
                    other => Err(format!("expected an integer, found {other:?}")),
                }
            }
        }
    )+};
}
integer_values!(i64, i32, u32, u64, usize);

/// The model's text enums, stored as the word each variant spells (see `text_enum!`).
macro_rules! stored_as_text {
    ($($t:ty),+ $(,)?) => {$(
        impl ToValue for $t {
            fn to_value(&self) -> Value {
                Value::Text(self.as_str().to_owned())
            }
        }
        impl FromValue for $t {
            fn from_value(v: &Value) -> Result<Self, String> {
                let s = String::from_value(v)?;
                <$t>::read(&s).ok_or_else(|| format!("unknown {} {s:?}", stringify!($t)))
            }
        }
    )+};
}
stored_as_text!(
    crate::model::Channel,
    crate::model::IncidentState,
    crate::model::AlertKind,
    crate::model::AckVia,
    crate::model::ResolveVia,
    crate::model::MessagePurpose,
    crate::model::EscalationState,
    crate::model::IncidentEventKind,
    crate::model::DeliveryState,
    crate::model::CallState,
    crate::model::CallOutcome,
);

impl<T: FromValue> FromValue for Option<T> {
    fn from_value(v: &Value) -> Result<Self, String> {
        match v {
            Value::Null => Ok(None),
            v => T::from_value(v).map(Some),
        }
    }
}
impl FromValue for String {
    fn from_value(v: &Value) -> Result<Self, String> {
        match v {
            Value::Text(s) => Ok(s.clone()),
            other => Err(format!("expected text, found {other:?}")),
        }
    }
}
impl FromValue for bool {
    fn from_value(v: &Value) -> Result<Self, String> {
        match v {
            Value::Int(i) => Ok(*i != 0),
            other => Err(format!("expected 0 or 1, found {other:?}")),
        }
    }
}
impl FromValue for f64 {
    fn from_value(v: &Value) -> Result<Self, String> {
        match v {
            Value::Real(f) => Ok(*f),
            Value::Int(i) => Ok(*i as f64),
            other => Err(format!("expected a number, found {other:?}")),
        }
    }
}

/// `params![a, b]`: the parameters of one statement, in `?1, ?2` order.
macro_rules! params {
    () => { &[] as &[&dyn $crate::journal::sql::ToValue] };
    ($($p:expr),+ $(,)?) => { &[$(&$p as &dyn $crate::journal::sql::ToValue),+] as &[&dyn $crate::journal::sql::ToValue] };
}
pub(crate) use params;

/// One row, read whole.
#[derive(Debug)]
pub struct Row {
    values: Vec<Value>,
}

impl Row {
    pub fn get<T: FromValue>(&self, column: usize) -> SqlResult<T> {
        let v = self
            .values
            .get(column)
            .ok_or(SqlError::Type { column, problem: "no such column".into() })?;
        T::from_value(v).map_err(|problem| SqlError::Type { column, problem })
    }
}

/// Which engine a connection talks to, for the few statements that differ.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    Sqlite,
    Postgres,
}

/// What the journal needs of a connection or a transaction.
pub trait Sql {
    fn execute(&mut self, sql: &str, params: &[&dyn ToValue]) -> SqlResult<usize>;
    fn rows(&mut self, sql: &str, params: &[&dyn ToValue]) -> SqlResult<Vec<Row>>;
    fn execute_batch(&mut self, sql: &str) -> SqlResult<()>;
    fn dialect(&self) -> Dialect;
}

/// The shapes the journal's code reads rows in, for any [`Sql`].
pub trait SqlExt: Sql {
    fn query_row<T>(
        &mut self,
        sql: &str,
        params: &[&dyn ToValue],
        f: impl FnOnce(&Row) -> SqlResult<T>,
    ) -> SqlResult<T> {
        let rows = self.rows(sql, params)?;
        f(rows.first().ok_or(SqlError::NoRows)?)
    }

    fn query_map<T>(
        &mut self,
        sql: &str,
        params: &[&dyn ToValue],
        f: impl FnMut(&Row) -> SqlResult<T>,
    ) -> SqlResult<std::vec::IntoIter<SqlResult<T>>> {
        Ok(self.rows(sql, params)?.iter().map(f).collect::<Vec<_>>().into_iter())
    }

    /// `INSERT … RETURNING id`: the new row's id, on both engines.
    fn insert_id(&mut self, sql: &str, params: &[&dyn ToValue]) -> SqlResult<i64> {
        self.query_row(sql, params, |r| r.get(0))
    }

    /// A statement run several times (the engines cache its preparation).
    fn prepare_cached(&mut self, sql: &str) -> SqlResult<Statement<'_, Self>> {
        Ok(Statement { db: self, sql: sql.to_owned() })
    }
}
impl<S: Sql + ?Sized> SqlExt for S {}

pub struct Statement<'c, S: ?Sized> {
    db: &'c mut S,
    sql: String,
}

impl<S: Sql + ?Sized> Statement<'_, S> {
    pub fn execute(&mut self, params: &[&dyn ToValue]) -> SqlResult<usize> {
        self.db.execute(&self.sql, params)
    }
    pub fn query_row<T>(
        &mut self,
        params: &[&dyn ToValue],
        f: impl FnOnce(&Row) -> SqlResult<T>,
    ) -> SqlResult<T> {
        self.db.query_row(&self.sql, params, f)
    }
    pub fn exists(&mut self, params: &[&dyn ToValue]) -> SqlResult<bool> {
        Ok(!self.db.rows(&self.sql, params)?.is_empty())
    }
    pub fn query_map<T>(
        &mut self,
        params: &[&dyn ToValue],
        f: impl FnMut(&Row) -> SqlResult<T>,
    ) -> SqlResult<std::vec::IntoIter<SqlResult<T>>> {
        self.db.query_map(&self.sql, params, f)
    }
}

/// `.optional()`: no row is `None`, as rusqlite spells it.
pub trait OptionalExtension<T> {
    fn optional(self) -> SqlResult<Option<T>>;
}
impl<T> OptionalExtension<T> for SqlResult<T> {
    fn optional(self) -> SqlResult<Option<T>> {
        match self {
            Ok(v) => Ok(Some(v)),
            Err(SqlError::NoRows) | Err(SqlError::Sqlite(rusqlite::Error::QueryReturnedNoRows)) => {
                Ok(None)
            }
            Err(e) => Err(e),
        }
    }
}

// ---- SQLite ----

impl rusqlite::ToSql for Value {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        use rusqlite::types::{ToSqlOutput, ValueRef};
        Ok(ToSqlOutput::Borrowed(match self {
            Value::Null => ValueRef::Null,
            Value::Int(i) => ValueRef::Integer(*i),
            Value::Real(f) => ValueRef::Real(*f),
            Value::Text(s) => ValueRef::Text(s.as_bytes()),
        }))
    }
}

fn values(params: &[&dyn ToValue]) -> Vec<Value> {
    params.iter().map(|p| p.to_value()).collect()
}

fn sqlite_execute(
    conn: &rusqlite::Connection,
    sql: &str,
    params: &[&dyn ToValue],
) -> SqlResult<usize> {
    Ok(conn.prepare_cached(sql)?.execute(rusqlite::params_from_iter(values(params)))?)
}

fn sqlite_rows(
    conn: &rusqlite::Connection,
    sql: &str,
    params: &[&dyn ToValue],
) -> SqlResult<Vec<Row>> {
    use rusqlite::types::ValueRef;
    let mut stmt = conn.prepare_cached(sql)?;
    let width = stmt.column_count();
    let mut rows = stmt.query(rusqlite::params_from_iter(values(params)))?;
    let mut out = Vec::new();
    while let Some(r) = rows.next()? {
        let mut values = Vec::with_capacity(width);
        for column in 0..width {
            values.push(match r.get_ref(column)? {
                ValueRef::Null => Value::Null,
                ValueRef::Integer(i) => Value::Int(i),
                ValueRef::Real(f) => Value::Real(f),
                ValueRef::Text(t) => Value::Text(String::from_utf8_lossy(t).into_owned()),
                ValueRef::Blob(_) => {
                    return Err(SqlError::Type {
                        column,
                        problem: "a blob, which the journal never stores".into(),
                    })
                }
            });
        }
        out.push(Row { values });
    }
    Ok(out)
}

/// A connection and a transaction run statements the same way (a transaction derefs to its
/// connection); one body for both.
macro_rules! impl_sqlite_sql {
    ($($t:ty),+) => {$(
        impl Sql for $t {
            fn execute(&mut self, sql: &str, params: &[&dyn ToValue]) -> SqlResult<usize> {
                sqlite_execute(self, sql, params)
            }
            fn rows(&mut self, sql: &str, params: &[&dyn ToValue]) -> SqlResult<Vec<Row>> {
                sqlite_rows(self, sql, params)
            }
            fn execute_batch(&mut self, sql: &str) -> SqlResult<()> {
                Ok(rusqlite::Connection::execute_batch(self, sql)?)
            }
            fn dialect(&self) -> Dialect {
                Dialect::Sqlite
            }
        }
    )+};
}

impl_sqlite_sql!(rusqlite::Connection, rusqlite::Transaction<'_>);

// ---- PostgreSQL ----

impl PgToSql for Value {
    fn to_sql(
        &self,
        ty: &Type,
        out: &mut bytes::BytesMut,
    ) -> Result<IsNull, Box<dyn std::error::Error + Sync + Send>> {
        let text_type =
            matches!(*ty, Type::TEXT | Type::VARCHAR | Type::BPCHAR | Type::NAME | Type::UNKNOWN);
        match self {
            Value::Null => Ok(IsNull::Yes),
            Value::Int(i) => match *ty {
                Type::INT8 => i.to_sql(ty, out),
                Type::INT4 => i32::try_from(*i)?.to_sql(ty, out),
                Type::INT2 => i16::try_from(*i)?.to_sql(ty, out),
                Type::BOOL => (*i != 0).to_sql(ty, out),
                Type::FLOAT8 => (*i as f64).to_sql(ty, out),
                _ if text_type => i.to_string().as_str().to_sql(ty, out),
                _ => Err(format!("an integer given for a {ty} parameter").into()),
            },
            Value::Real(f) => match *ty {
                Type::FLOAT8 => f.to_sql(ty, out),
                Type::FLOAT4 => (*f as f32).to_sql(ty, out),
                _ => Err(format!("a number given for a {ty} parameter").into()),
            },
            Value::Text(s) if text_type => s.as_str().to_sql(ty, out),
            Value::Text(_) => Err(format!("text given for a {ty} parameter").into()),
        }
    }

    fn accepts(_: &Type) -> bool {
        true
    }

    to_sql_checked!();
}

/// `?N` → `$N`, outside quoted text: the journal's one spelling of parameters, in PostgreSQL's.
pub fn postgres_placeholders(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len());
    let mut quoted = false;
    let mut chars = sql.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\'' => quoted = !quoted,
            '?' if !quoted && chars.peek().is_some_and(char::is_ascii_digit) => {
                out.push('$');
                continue;
            }
            _ => {}
        }
        out.push(c);
    }
    out
}

fn postgres_row(row: &postgres::Row) -> SqlResult<Row> {
    let mut values = Vec::with_capacity(row.len());
    for (column, c) in row.columns().iter().enumerate() {
        let v = match *c.type_() {
            Type::INT8 => row.try_get::<_, Option<i64>>(column)?.map(Value::Int),
            Type::INT4 => row.try_get::<_, Option<i32>>(column)?.map(|i| Value::Int(i.into())),
            Type::INT2 => row.try_get::<_, Option<i16>>(column)?.map(|i| Value::Int(i.into())),
            Type::BOOL => row.try_get::<_, Option<bool>>(column)?.map(|b| Value::Int(b.into())),
            Type::FLOAT8 => row.try_get::<_, Option<f64>>(column)?.map(Value::Real),
            Type::FLOAT4 => row.try_get::<_, Option<f32>>(column)?.map(|f| Value::Real(f.into())),
            Type::TEXT | Type::VARCHAR | Type::BPCHAR | Type::NAME => {
                row.try_get::<_, Option<String>>(column)?.map(Value::Text)
            }
            ref other => {
                return Err(SqlError::Type {
                    column,
                    problem: format!("PostgreSQL type {other} (cast it to BIGINT or TEXT)"),
                })
            }
        };
        values.push(v.unwrap_or(Value::Null));
    }
    Ok(Row { values })
}

/// A PostgreSQL connection with its prepared statements.
pub struct PgConn {
    /// Always there until dropped (see `Drop`).
    client: Option<postgres::Client>,
    statements: HashMap<String, postgres::Statement>,
}

impl PgConn {
    pub fn new(client: postgres::Client) -> Self {
        PgConn { client: Some(client), statements: HashMap::new() }
    }

    /// No connection yet: the first use connects (an engine started while the database was
    /// away). Closed until then.
    pub fn disconnected() -> Self {
        PgConn { client: None, statements: HashMap::new() }
    }

    pub fn is_closed(&self) -> bool {
        self.client.as_ref().is_none_or(postgres::Client::is_closed)
    }

    pub fn transaction(&mut self) -> SqlResult<Tx<'_>> {
        let (client, statements) = self.parts()?;
        let mut tx = client.transaction()?;
        // One writer at a time, as on SQLite: the journal's read-then-write steps rely on it.
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&super::postgres::WRITE_LOCK])?;
        Ok(Tx::Postgres { tx, statements })
    }

    /// The generic plan of every statement this connection prepared, as `EXPLAIN` prints it
    /// with sequential scans switched off: a "Seq Scan" left is a table no index serves.
    #[cfg(test)]
    pub fn generic_plans(&mut self) -> SqlResult<Vec<(String, String)>> {
        let prepared: Vec<(String, usize)> =
            self.statements.iter().map(|(sql, s)| (sql.clone(), s.params().len())).collect();
        let (client, _) = self.parts()?;
        client
            .batch_execute("SET enable_seqscan = off; SET plan_cache_mode = force_generic_plan")?;
        let mut plans = Vec::new();
        for (sql, params) in prepared {
            client
                .batch_execute(&format!("PREPARE plan_check AS {}", postgres_placeholders(&sql)))?;
            let nulls = vec!["NULL"; params].join(", ");
            let execute = if params == 0 {
                "EXECUTE plan_check".to_owned()
            } else {
                format!("EXECUTE plan_check({nulls})")
            };
            let lines: Vec<String> = client
                .query(&format!("EXPLAIN {execute}"), &[])?
                .iter()
                .map(|r| r.get(0))
                .collect();
            client.batch_execute("DEALLOCATE plan_check")?;
            plans.push((sql, lines.join("\n")));
        }
        client.batch_execute("RESET enable_seqscan; RESET plan_cache_mode")?;
        Ok(plans)
    }

    fn parts(
        &mut self,
    ) -> SqlResult<(&mut postgres::Client, &mut HashMap<String, postgres::Statement>)> {
        // The journal connects a closed connection before every use (`AlertJournal::call`).
        match self.client.as_mut() {
            Some(client) => Ok((client, &mut self.statements)),
            None => Err(SqlError::Unreachable("not connected to the database yet".into())),
        }
    }
}

impl Drop for PgConn {
    /// The blocking driver closes its connection by running its own runtime, which it cannot do
    /// on a tokio thread, where the journal's last handle may well be dropped: close it elsewhere.
    fn drop(&mut self) {
        if let Some(client) = self.client.take() {
            std::thread::spawn(move || drop(client));
        }
    }
}

fn pg_statement<C: postgres::GenericClient>(
    client: &mut C,
    cache: &mut HashMap<String, postgres::Statement>,
    sql: &str,
) -> SqlResult<postgres::Statement> {
    if let Some(s) = cache.get(sql) {
        return Ok(s.clone());
    }
    let statement = client.prepare(&postgres_placeholders(sql))?;
    cache.insert(sql.to_owned(), statement.clone());
    Ok(statement)
}

fn pg_execute<C: postgres::GenericClient>(
    client: &mut C,
    cache: &mut HashMap<String, postgres::Statement>,
    sql: &str,
    params: &[&dyn ToValue],
) -> SqlResult<usize> {
    let statement = pg_statement(client, cache, sql)?;
    let values = values(params);
    let refs: Vec<&(dyn PgToSql + Sync)> =
        values.iter().map(|v| v as &(dyn PgToSql + Sync)).collect();
    Ok(client.execute(&statement, &refs)? as usize)
}

fn pg_rows<C: postgres::GenericClient>(
    client: &mut C,
    cache: &mut HashMap<String, postgres::Statement>,
    sql: &str,
    params: &[&dyn ToValue],
) -> SqlResult<Vec<Row>> {
    let statement = pg_statement(client, cache, sql)?;
    let values = values(params);
    let refs: Vec<&(dyn PgToSql + Sync)> =
        values.iter().map(|v| v as &(dyn PgToSql + Sync)).collect();
    client.query(&statement, &refs)?.iter().map(postgres_row).collect()
}

impl Sql for PgConn {
    fn execute(&mut self, sql: &str, params: &[&dyn ToValue]) -> SqlResult<usize> {
        let (client, statements) = self.parts()?;
        pg_execute(client, statements, sql, params)
    }
    fn rows(&mut self, sql: &str, params: &[&dyn ToValue]) -> SqlResult<Vec<Row>> {
        let (client, statements) = self.parts()?;
        pg_rows(client, statements, sql, params)
    }
    fn execute_batch(&mut self, sql: &str) -> SqlResult<()> {
        Ok(self.parts()?.0.batch_execute(sql)?)
    }
    fn dialect(&self) -> Dialect {
        Dialect::Postgres
    }
}

// ---- either ----

/// The journal's connection, on whichever engine holds it.
#[allow(clippy::large_enum_variant)] // one per journal, never moved around
pub enum Conn {
    Sqlite(rusqlite::Connection),
    Postgres(PgConn),
}

/// A transaction on a [`Conn`]: rolled back when dropped without [`Tx::commit`].
pub enum Tx<'c> {
    Sqlite(rusqlite::Transaction<'c>),
    Postgres {
        tx: postgres::Transaction<'c>,
        statements: &'c mut HashMap<String, postgres::Statement>,
    },
}

impl Conn {
    pub fn transaction(&mut self) -> SqlResult<Tx<'_>> {
        Ok(match self {
            Conn::Sqlite(c) => Tx::Sqlite(c.transaction()?),
            Conn::Postgres(c) => c.transaction()?,
        })
    }

    /// The SQLite connection, for what only SQLite has (its pragmas).
    pub fn sqlite(&mut self, what: &'static str) -> SqlResult<&mut rusqlite::Connection> {
        match self {
            Conn::Sqlite(c) => Ok(c),
            Conn::Postgres(_) => Err(SqlError::Unsupported(what)),
        }
    }
}

impl Tx<'_> {
    pub fn commit(self) -> SqlResult<()> {
        match self {
            Tx::Sqlite(tx) => Ok(tx.commit()?),
            Tx::Postgres { tx, .. } => Ok(tx.commit()?),
        }
    }
}

impl Sql for Conn {
    fn execute(&mut self, sql: &str, params: &[&dyn ToValue]) -> SqlResult<usize> {
        match self {
            Conn::Sqlite(c) => sqlite_execute(c, sql, params),
            Conn::Postgres(c) => c.execute(sql, params),
        }
    }
    fn rows(&mut self, sql: &str, params: &[&dyn ToValue]) -> SqlResult<Vec<Row>> {
        match self {
            Conn::Sqlite(c) => sqlite_rows(c, sql, params),
            Conn::Postgres(c) => c.rows(sql, params),
        }
    }
    fn execute_batch(&mut self, sql: &str) -> SqlResult<()> {
        match self {
            Conn::Sqlite(c) => Sql::execute_batch(c, sql),
            Conn::Postgres(c) => c.execute_batch(sql),
        }
    }
    fn dialect(&self) -> Dialect {
        match self {
            Conn::Sqlite(_) => Dialect::Sqlite,
            Conn::Postgres(_) => Dialect::Postgres,
        }
    }
}

impl Sql for Tx<'_> {
    fn execute(&mut self, sql: &str, params: &[&dyn ToValue]) -> SqlResult<usize> {
        match self {
            Tx::Sqlite(tx) => sqlite_execute(tx, sql, params),
            Tx::Postgres { tx, statements } => pg_execute(tx, statements, sql, params),
        }
    }
    fn rows(&mut self, sql: &str, params: &[&dyn ToValue]) -> SqlResult<Vec<Row>> {
        match self {
            Tx::Sqlite(tx) => sqlite_rows(tx, sql, params),
            Tx::Postgres { tx, statements } => pg_rows(tx, statements, sql, params),
        }
    }
    fn execute_batch(&mut self, sql: &str) -> SqlResult<()> {
        match self {
            Tx::Sqlite(tx) => Ok(tx.execute_batch(sql)?),
            Tx::Postgres { tx, .. } => Ok(tx.batch_execute(sql)?),
        }
    }
    fn dialect(&self) -> Dialect {
        match self {
            Tx::Sqlite(_) => Dialect::Sqlite,
            Tx::Postgres { .. } => Dialect::Postgres,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_become_postgres_ones_outside_quoted_text() {
        assert_eq!(
            postgres_placeholders("SELECT ?1, '?2', ?10 WHERE a = '' AND b = ?2"),
            "SELECT $1, '?2', $10 WHERE a = '' AND b = $2"
        );
    }

    #[test]
    fn rows_read_the_same_values_they_were_given() {
        let mut conn = Conn::Sqlite(rusqlite::Connection::open_in_memory().unwrap());
        let r = conn
            .query_row("SELECT ?1, ?2, ?3, ?4", params![7_u32, "sete", true, None::<String>], |r| {
                Ok((
                    r.get::<u32>(0)?,
                    r.get::<String>(1)?,
                    r.get::<bool>(2)?,
                    r.get::<Option<String>>(3)?,
                ))
            })
            .unwrap();
        assert_eq!(r, (7, "sete".to_owned(), true, None));
        let e = conn.query_row("SELECT 'x'", params![], |r| r.get::<i64>(0)).unwrap_err();
        assert!(e.to_string().contains("column 0") && e.to_string().contains("integer"), "{e}");
        assert!(conn
            .query_row("SELECT 1 WHERE 0", params![], |r| r.get::<i64>(0))
            .optional()
            .unwrap()
            .is_none());
    }
}
