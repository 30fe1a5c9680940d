//! The production store: PostgreSQL, reached by a connection URL.
//!
//! Each table of a batch is written by one insert that takes its columns as arrays
//! (`INSERT ... SELECT * FROM UNNEST($1::int8[], ...)`), and a batch of upserts is one statement
//! of such inserts (`commit_in_one_statement`): one round trip whatever its size. A commit
//! returns once PostgreSQL reports it durable
//! (`synchronous_commit = on`). Migrations run when the store connects. Ids are `uuid` columns;
//! a `Value::Id` goes out as its 16 raw bytes, which is `uuid`'s binary form as well as `bytea`'s.
//!
//! **Invariant:** this crate knows PostgreSQL's dialect and nothing else: tables, codecs,
//! loading and verification come from `cashier_store::sql`.

use bytes::BytesMut;
use cashier_store::sql::{self, ColumnRead, Op, SqlBackend, Table, Value};
use cashier_store::{Batch, Loaded, Store, StoreError};
use postgres::types::{to_sql_checked, FromSql, IsNull, ToSql, Type};
use postgres::{Client, GenericClient, NoTls, Statement};
use std::collections::HashMap;
use std::error::Error;

const MIGRATIONS: &[&str] = &[
    include_str!("../migrations/001_ledger.sql"),
    include_str!("../migrations/002_api_keys.sql"),
    include_str!("../migrations/003_account_emails.sql"),
    include_str!("../migrations/004_postings_in_events.sql"),
    include_str!("../migrations/005_narrow_rows.sql"),
    include_str!("../migrations/006_one_statement_commits.sql"),
    include_str!("../migrations/007_leases.sql"),
    include_str!("../migrations/008_key_names.sql"),
    include_str!("../migrations/009_four_eyes.sql"),
    include_str!("../migrations/010_history_out_of_memory.sql"),
    include_str!("../migrations/011_journals_by_account.sql"),
    include_str!("../migrations/012_index_in_chunks.sql"),
];

pub mod lease;
pub use lease::{Fence, Grant};

/// The SQLSTATE `cashier_log_continues` raises (migration 006).
const LOG_DOES_NOT_CONTINUE: &str = "CX001";
/// The SQLSTATE `cashier_lease_held` raises (migration 007).
const LEASE_NOT_HELD: &str = "CX002";

pub struct PostgresStore {
    client: Client,
    /// Prepared statements by SQL text: preparing costs a round trip and a plan each time.
    statements: HashMap<String, Statement>,
    /// The lease every commit must still hold, when the store is shared by several servers.
    fence: Option<Fence>,
    /// How it was reached, to open a reader of its own.
    url: String,
    schema: Option<String>,
    /// Events between moves of the checkpoint ([`sql::CHECKPOINT_EVERY`]).
    checkpoint_every: u64,
    /// The log after the checkpoint, summed by the commits since the last move ([`sql::LogTail`]).
    tail: Option<sql::LogTail>,
}

impl PostgresStore {
    /// Connects and brings the schema up to date. With `schema`, every table lives in that
    /// schema (created if missing), so several ledgers can share one database.
    pub fn connect(url: &str, schema: Option<&str>) -> Result<PostgresStore, StoreError> {
        cashier_store::off_runtime(|| PostgresStore::connect_here(url, schema))
    }

    fn connect_here(url: &str, schema: Option<&str>) -> Result<PostgresStore, StoreError> {
        let client = PostgresStore::session(url, schema)?;
        let mut store = PostgresStore {
            client,
            statements: HashMap::new(),
            fence: None,
            url: url.to_owned(),
            schema: schema.map(str::to_owned),
            checkpoint_every: sql::CHECKPOINT_EVERY,
            tail: None,
        };
        store.migrate()?;
        Ok(store)
    }

    /// A connection ready for the ledger's work: to a primary (a standby's answers may lag, and
    /// it takes no writes: after a database's failover the connection string's
    /// `target_session_attrs=read-write` finds the new primary), every commit durable, in `schema`.
    fn session(url: &str, schema: Option<&str>) -> Result<Client, StoreError> {
        let mut client = Client::connect(url, NoTls).map_err(backend)?;
        let standby: bool = client.query_one("SELECT pg_is_in_recovery()", &[]).map_err(backend)?.get(0);
        if standby {
            return Err(StoreError::Backend(
                "the database is a standby (in recovery): Cashier reads and writes a primary only; \
                 give every member in the URL with target_session_attrs=read-write"
                    .into(),
            ));
        }
        client.batch_execute("SET synchronous_commit = on").map_err(backend)?;
        if let Some(schema) = schema {
            if !schema.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
                return Err(StoreError::Backend(format!("schema name {schema:?} must be letters, digits and _")));
            }
            client.batch_execute(&format!("CREATE SCHEMA IF NOT EXISTS {schema}; SET search_path TO {schema}")).map_err(backend)?;
        }
        Ok(client)
    }

    /// Whether the connection was lost or no longer reaches a primary (the database failed over,
    /// or restarted).
    fn lost(&mut self) -> bool {
        self.client.is_closed() || !self.client.query_one("SELECT pg_is_in_recovery()", &[]).is_ok_and(|row| !row.get::<_, bool>(0))
    }

    /// After a failure, the connection again where it was lost: its prepared statements go with it.
    fn reconnect_if_lost(&mut self) -> Result<(), StoreError> {
        if self.lost() {
            self.client = PostgresStore::session(&self.url, self.schema.as_deref())?;
            self.statements.clear();
        }
        Ok(())
    }

    /// The same store, its checkpoint moved every `events` (tests move it often).
    pub fn checkpoint_every(mut self, events: u64) -> PostgresStore {
        self.checkpoint_every = events;
        self
    }

    /// The client, for plain-SQL reconciliation and tests.
    pub fn client(&mut self) -> &mut Client {
        &mut self.client
    }

    /// The same store, whose every commit checks in its own statement that `fence` still holds
    /// the shard's lease: a writer that lost it commits nothing ([`StoreError::Fenced`]).
    pub fn fenced(mut self, fence: Fence) -> PostgresStore {
        self.fence = Some(fence);
        self
    }

    fn migrate(&mut self) -> Result<(), StoreError> {
        let mut tx = self.client.transaction().map_err(backend)?;
        tx.batch_execute("CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY); LOCK TABLE schema_migrations")
            .map_err(backend)?;
        let done: i64 = tx.query_one("SELECT count(*) FROM schema_migrations", &[]).map_err(backend)?.get(0);
        for (i, sql) in MIGRATIONS.iter().enumerate().skip(done as usize) {
            tx.batch_execute(sql).map_err(backend)?;
            tx.execute("INSERT INTO schema_migrations (version) VALUES ($1)", &[&(i as i64 + 1)]).map_err(backend)?;
        }
        tx.commit().map_err(backend)
    }
}

impl Store for PostgresStore {
    fn load(&mut self) -> Result<Option<Loaded>, StoreError> {
        self.tail = None;
        self.reconnect_if_lost()?;
        let mut tx = self
            .client
            .build_transaction()
            .read_only(true)
            .isolation_level(postgres::IsolationLevel::RepeatableRead)
            .start()
            .map_err(backend)?;
        let mut loaded = sql::load(&mut Dialect { client: &mut tx, statements: &mut self.statements })?;
        tx.commit().map_err(backend)?;
        if let Some(checkpoint) = loaded.as_mut().and_then(|l| l.checkpoint.take()) {
            let mut tx = self.client.transaction().map_err(backend)?;
            sql::write_checkpoint(&mut Dialect { client: &mut tx, statements: &mut self.statements }, &checkpoint)?;
            tx.commit().map_err(backend)?;
        }
        // A run a transaction: a store that never had the index gets it run by run.
        loop {
            let mut tx = self.client.transaction().map_err(backend)?;
            let done = sql::index_journals(&mut Dialect { client: &mut tx, statements: &mut self.statements }, 1)?;
            tx.commit().map_err(backend)?;
            if done {
                return Ok(loaded);
            }
        }
    }

    fn reader(&mut self) -> Result<Option<Box<dyn sql::LogReader>>, StoreError> {
        Ok(Some(Box::new(PostgresStore::connect(&self.url, self.schema.as_deref())?)))
    }

    fn commit(&mut self, batch: &Batch) -> Result<(), StoreError> {
        let last_seq = batch.records.last().map_or(0, |r| r.seq as i64);
        let mut ops = sql::batch_ops_every(batch, self.checkpoint_every, &mut self.tail);
        // Kept once the commit succeeded ([`sql::LogTail`]).
        let tail = ops.tail.take();
        if ops.continues.is_some() && ops.ops.iter().all(|op| matches!(op, Op::Write(..))) {
            self.commit_in_one_statement(ops, last_seq)?;
            self.tail = tail;
            return Ok(());
        }
        // Deletions and in-place updates must see the rows written before them: one statement
        // each, in one transaction.
        let mut tx = self.client.transaction().map_err(backend)?;
        sql::write_ops(&mut Dialect { client: &mut tx, statements: &mut self.statements }, ops)?;
        if let Some(fence) = &self.fence {
            let held = tx.execute(&lease::fence_sql(1), &[&last_seq, &fence.shard, &fence.owner, &fence.epoch]).map_err(backend)?;
            if held != 1 {
                return Err(lease::fenced(fence));
            }
        }
        tx.commit().map_err(backend)?;
        self.tail = tail;
        Ok(())
    }
}

impl PostgresStore {
    /// A batch of upserts only (almost every batch) is one statement, and so one round trip and
    /// its own transaction: each table's rows in a data-modifying `WITH` part, then the log's
    /// end moved, and `cashier_log_continues` aborting the whole statement when the log does not
    /// continue where the batch expects.
    fn commit_in_one_statement(&mut self, batch: sql::BatchOps, last_seq: i64) -> Result<(), StoreError> {
        let sql::BatchOps { ops, continues, after_seq, .. } = batch;
        let mut parts = Vec::with_capacity(ops.len() + 1);
        let mut params: Vec<Box<dyn ToSql + Sync>> = Vec::new();
        for (i, op) in ops.into_iter().enumerate() {
            let Op::Write(table, rows) = op else { unreachable!("only writes come in one statement") };
            parts.push(format!("w{i} AS ({})", insert_sql(table, params.len())));
            params.extend(columns(table, rows).into_iter().map(|c| Box::new(c) as Box<dyn ToSql + Sync>));
        }
        let moved = sql::continue_log_sql(params.len() + 1);
        parts.push(format!("moved AS ({moved} RETURNING 1)"));
        let after = params.len() + 4;
        let mut select = format!("cashier_log_continues((SELECT count(*) FROM moved), ${after})");
        params
            .extend(continues.expect("a batch that writes moves the log").into_iter().map(|v| Box::new(Param(v)) as Box<dyn ToSql + Sync>));
        if let Some(fence) = &self.fence {
            parts.push(format!("fenced AS ({} RETURNING 1)", lease::fence_sql(params.len() + 1)));
            select.push_str(", cashier_lease_held((SELECT count(*) FROM fenced))");
            params.push(Box::new(last_seq));
            params.push(Box::new(fence.shard));
            params.push(Box::new(fence.owner.clone()));
            params.push(Box::new(fence.epoch));
        }
        let text = format!("WITH {} SELECT {select}", parts.join(", "));
        let refs: Vec<&(dyn ToSql + Sync)> = params.iter().map(|p| p.as_ref()).collect();
        let statement = Dialect { client: &mut self.client, statements: &mut self.statements }.statement(&text)?;
        match self.client.query(&statement, &refs) {
            Ok(_) => Ok(()),
            Err(error) if error.as_db_error().is_some_and(|e| e.code().code() == LOG_DOES_NOT_CONTINUE) => {
                Err(sql::not_continuing(after_seq))
            }
            Err(error) if error.as_db_error().is_some_and(|e| e.code().code() == LEASE_NOT_HELD) => {
                Err(lease::fenced(self.fence.as_ref().expect("only a fenced store checks its lease")))
            }
            Err(error) => Err(backend(error)),
        }
    }
}

/// A PostgreSQL error as a store error, with the server's own message where it sent one. An
/// error the server raised about a value (data exceptions, SQLSTATE class 22; constraints, 23,
/// but a unique key, which two writers can collide on; program limits such as an index entry's
/// size, 54) is a refusal of the content: the statement, and so the transaction, did not happen.
pub(crate) fn backend(error: postgres::Error) -> StoreError {
    match error.as_db_error() {
        Some(db) => {
            let code = db.code().code();
            let message = format!("{code}: {}", db.message());
            let content = (code.starts_with("22") || code.starts_with("23") || code.starts_with("54")) && code != "23505";
            if content {
                StoreError::Refused(message)
            } else {
                StoreError::Backend(message)
            }
        }
        None => StoreError::backend(error),
    }
}

/// `INSERT INTO table ... SELECT unnest(...), unnest(...), ...`, one array parameter per column,
/// numbered after the `before` parameters that precede them. The arrays have the same length, so
/// the set-returning calls in the select list advance together, row by row; `FROM UNNEST(...)`
/// would first copy every row into a tuple store.
fn insert_sql(table: &Table, before: usize) -> String {
    let arrays: Vec<String> = table.columns.iter().enumerate().map(|(i, (_, ty))| format!("unnest(${}::{ty}[])", before + i + 1)).collect();
    format!("INSERT INTO {} ({}) SELECT {}{}", table.name, table.column_list(), arrays.join(", "), table.conflict_clause())
}

/// Rows turned into one array per column.
fn columns(table: &Table, rows: Vec<Vec<Value>>) -> Vec<Array> {
    let mut columns: Vec<Vec<Value>> = (0..table.columns.len()).map(|_| Vec::with_capacity(rows.len())).collect();
    for row in rows {
        for (column, value) in columns.iter_mut().zip(row) {
            column.push(value);
        }
    }
    columns.into_iter().map(Array).collect()
}

impl cashier_store::sql::LogReader for PostgresStore {
    /// A read that failed because the connection was lost (the database failed over) is read
    /// again, once, on a new connection to the primary.
    fn with_sql(&mut self, read: &mut dyn FnMut(&mut dyn sql::SqlBackend) -> Result<(), StoreError>) -> Result<(), StoreError> {
        if self.client.is_closed() {
            self.reconnect_if_lost()?;
        }
        match read(&mut Dialect { client: &mut self.client, statements: &mut self.statements }) {
            Err(_) if self.lost() => {
                self.reconnect_if_lost()?;
                read(&mut Dialect { client: &mut self.client, statements: &mut self.statements })
            }
            done => done,
        }
    }
}

/// PostgreSQL's side of `SqlBackend`, over a client or a transaction.
struct Dialect<'c, C: GenericClient> {
    client: &'c mut C,
    statements: &'c mut HashMap<String, Statement>,
}

impl<C: GenericClient> Dialect<'_, C> {
    fn statement(&mut self, sql: &str) -> Result<Statement, StoreError> {
        if let Some(statement) = self.statements.get(sql) {
            return Ok(statement.clone());
        }
        let statement = self.client.prepare(sql).map_err(backend)?;
        self.statements.insert(sql.to_owned(), statement.clone());
        Ok(statement)
    }
}

impl<C: GenericClient> SqlBackend for Dialect<'_, C> {
    fn write(&mut self, table: &Table, rows: Vec<Vec<Value>>) -> Result<(), StoreError> {
        if rows.is_empty() {
            return Ok(());
        }
        let params = columns(table, rows);
        let refs: Vec<&(dyn ToSql + Sync)> = params.iter().map(|p| p as &(dyn ToSql + Sync)).collect();
        let statement = self.statement(&insert_sql(table, 0))?;
        self.client.execute(&statement, &refs).map(drop).map_err(backend)
    }

    fn execute(&mut self, sql: &str, params: &[Value]) -> Result<u64, StoreError> {
        let params: Vec<Param> = params.iter().cloned().map(Param).collect();
        let refs: Vec<&(dyn ToSql + Sync)> = params.iter().map(|p| p as &(dyn ToSql + Sync)).collect();
        let statement = self.statement(sql)?;
        self.client.execute(&statement, &refs).map_err(backend)
    }

    fn query(
        &mut self,
        sql: &str,
        params: &[Value],
        each: &mut dyn FnMut(&dyn ColumnRead) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        let params: Vec<Param> = params.iter().cloned().map(Param).collect();
        let refs: Vec<&(dyn ToSql + Sync)> = params.iter().map(|p| p as &(dyn ToSql + Sync)).collect();
        let statement = self.statement(sql)?;
        // Streamed: each row is decoded as it arrives, while the server still sends the rest,
        // rather than after the whole result is gathered (a start reads millions of rows).
        let mut rows = self.client.query_raw(&statement, refs).map_err(backend)?;
        while let Some(row) = postgres::fallible_iterator::FallibleIterator::next(&mut rows).map_err(backend)? {
            each(&Row(row))?;
        }
        Ok(())
    }
}

/// One value as a statement parameter, typed by the statement.
#[derive(Debug)]
struct Param(Value);

impl ToSql for Param {
    fn to_sql(&self, ty: &Type, out: &mut BytesMut) -> Result<IsNull, Box<dyn Error + Sync + Send>> {
        Borrowed(&self.0).to_sql(ty, out)
    }

    fn accepts(_: &Type) -> bool {
        // The value's own type decides; a mismatch is reported by `to_sql`.
        true
    }

    to_sql_checked!();
}

/// A value written where it is, as a parameter or an array's element.
#[derive(Debug)]
struct Borrowed<'v>(&'v Value);

impl ToSql for Borrowed<'_> {
    fn to_sql(&self, ty: &Type, out: &mut BytesMut) -> Result<IsNull, Box<dyn Error + Sync + Send>> {
        match self.0 {
            Value::Id(b) => b.as_slice().to_sql(ty, out),
            Value::Static(t) => t.to_sql(ty, out),
            Value::Blob(b) => b.to_sql(ty, out),
            Value::BlobOpt(b) => b.to_sql(ty, out),
            Value::Int(i) => i.to_sql(ty, out),
            Value::IntOpt(i) => i.to_sql(ty, out),
            Value::Text(t) => t.to_sql(ty, out),
            Value::TextOpt(t) => t.to_sql(ty, out),
            Value::Bool(b) => b.to_sql(ty, out),
            Value::Null => Ok(IsNull::Yes),
        }
    }

    fn accepts(_: &Type) -> bool {
        true
    }

    to_sql_checked!();
}

/// One column's values, as an array parameter.
#[derive(Debug)]
struct Array(Vec<Value>);

impl ToSql for Array {
    fn to_sql(&self, ty: &Type, out: &mut BytesMut) -> Result<IsNull, Box<dyn Error + Sync + Send>> {
        let elements: Vec<Borrowed<'_>> = self.0.iter().map(Borrowed).collect();
        elements.to_sql(ty, out)
    }

    fn accepts(ty: &Type) -> bool {
        matches!(ty.kind(), postgres::types::Kind::Array(_))
    }

    to_sql_checked!();
}

struct Row(postgres::Row);

impl Row {
    fn get<'a, T: postgres::types::FromSql<'a>>(&'a self, i: usize) -> Result<T, StoreError> {
        self.0.try_get(i).map_err(backend)
    }
}

/// The bytes of a `bytea` or a `uuid` column: ids are `uuid` here, books and fingerprints `bytea`.
struct Raw(Vec<u8>);

impl<'a> FromSql<'a> for Raw {
    fn from_sql(_: &Type, raw: &'a [u8]) -> Result<Raw, Box<dyn Error + Sync + Send>> {
        Ok(Raw(raw.to_vec()))
    }

    fn accepts(ty: &Type) -> bool {
        matches!(*ty, Type::BYTEA | Type::UUID)
    }
}

impl ColumnRead for Row {
    fn blob(&self, i: usize) -> Result<Vec<u8>, StoreError> {
        self.get::<Raw>(i).map(|raw| raw.0)
    }
    fn int(&self, i: usize) -> Result<i64, StoreError> {
        self.get(i)
    }
    fn int_opt(&self, i: usize) -> Result<Option<i64>, StoreError> {
        self.get(i)
    }
    fn text(&self, i: usize) -> Result<String, StoreError> {
        self.get(i)
    }
    fn text_opt(&self, i: usize) -> Result<Option<String>, StoreError> {
        self.get(i)
    }
    fn boolean(&self, i: usize) -> Result<bool, StoreError> {
        self.get(i)
    }
}
