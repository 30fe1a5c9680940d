//! The embedded default store: one SQLite file.
//!
//! WAL mode with `synchronous = FULL`: a commit returns once its WAL frames are on disk, so it
//! survives power loss, not only a process crash. Migrations run when the store opens. The log
//! (`events`, `postings`) and the tables are written in one transaction per batch.
//!
//! **Invariant:** this crate knows SQLite's dialect and nothing else: tables, codecs, loading and
//! verification come from `cashier_store::sql`.

use cashier_store::sql::{self, ColumnRead, SqlBackend, Table, Value};
use cashier_store::{Batch, Loaded, Store, StoreError};
use rusqlite::types::{ToSqlOutput, ValueRef};
use rusqlite::{params_from_iter, Connection, OpenFlags, ToSql};
use std::path::Path;

/// The file name of the store inside a data directory.
pub const FILE_NAME: &str = "cashier.db";

const MIGRATIONS: &[&str] = &[
    include_str!("../migrations/001_ledger.sql"),
    include_str!("../migrations/002_api_keys.sql"),
    include_str!("../migrations/003_account_emails.sql"),
    include_str!("../migrations/004_postings_in_events.sql"),
    include_str!("../migrations/005_no_stored_ulid.sql"),
    include_str!("../migrations/006_key_names.sql"),
    include_str!("../migrations/007_four_eyes.sql"),
    include_str!("../migrations/008_history_out_of_memory.sql"),
    include_str!("../migrations/009_journals_by_account.sql"),
    include_str!("../migrations/010_index_in_chunks.sql"),
];

pub struct SqliteStore {
    conn: Connection,
    /// Events between moves of the checkpoint ([`sql::CHECKPOINT_EVERY`]).
    checkpoint_every: u64,
    /// The log after the checkpoint, summed by the commits since the last move ([`sql::LogTail`]).
    tail: Option<sql::LogTail>,
}

impl SqliteStore {
    /// Opens (creating if needed) the store file and brings its schema up to date.
    pub fn open(path: &Path) -> Result<SqliteStore, StoreError> {
        // One thread uses the connection at a time, so SQLite's own mutexes are not needed.
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_CREATE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = Connection::open_with_flags(path, flags).map_err(StoreError::backend)?;
        conn.execute_batch(
            "PRAGMA journal_mode = WAL;
             PRAGMA synchronous = FULL;
             PRAGMA cache_size = -65536;
             PRAGMA busy_timeout = 5000;
             PRAGMA wal_autocheckpoint = 10000;",
        )
        .map_err(StoreError::backend)?;
        let mut store = SqliteStore { conn, checkpoint_every: sql::CHECKPOINT_EVERY, tail: None };
        store.migrate()?;
        Ok(store)
    }

    /// Opens the store in a data directory. The directory and the store's files (`cashier.db`,
    /// its `-wal` and `-shm`, which SQLite creates with the file's permissions) are readable by
    /// their owner only; existing ones are tightened.
    pub fn open_in(dir: &Path) -> Result<SqliteStore, StoreError> {
        private_dir(dir).map_err(StoreError::backend)?;
        let path = dir.join(FILE_NAME);
        {
            use std::os::unix::fs::OpenOptionsExt;
            std::fs::OpenOptions::new().create(true).append(true).mode(0o600).open(&path).map_err(StoreError::backend)?;
        }
        for suffix in ["", "-wal", "-shm"] {
            private_file(&dir.join(format!("{FILE_NAME}{suffix}"))).map_err(StoreError::backend)?;
        }
        SqliteStore::open(&path)
    }

    /// The same store, its checkpoint moved every `events` (tests move it often).
    pub fn checkpoint_every(mut self, events: u64) -> SqliteStore {
        self.checkpoint_every = events;
        self
    }

    /// The connection, for plain-SQL reconciliation and tests.
    pub fn connection(&self) -> &Connection {
        &self.conn
    }

    fn migrate(&mut self) -> Result<(), StoreError> {
        let version: i64 = self.conn.query_row("PRAGMA user_version", [], |r| r.get(0)).map_err(StoreError::backend)?;
        for (i, sql) in MIGRATIONS.iter().enumerate().skip(version as usize) {
            let tx = self.conn.transaction().map_err(StoreError::backend)?;
            tx.execute_batch(sql).map_err(StoreError::backend)?;
            tx.execute_batch(&format!("PRAGMA user_version = {}", i + 1)).map_err(StoreError::backend)?;
            tx.commit().map_err(StoreError::backend)?;
        }
        Ok(())
    }
}

impl Store for SqliteStore {
    fn load(&mut self) -> Result<Option<Loaded>, StoreError> {
        self.tail = None;
        let mut loaded = sql::load(&mut Dialect(&self.conn))?;
        if let Some(checkpoint) = loaded.as_mut().and_then(|l| l.checkpoint.take()) {
            let tx = self.conn.transaction().map_err(StoreError::backend)?;
            sql::write_checkpoint(&mut Dialect(&tx), &checkpoint)?;
            tx.commit().map_err(StoreError::backend)?;
        }
        // A run a transaction: a store that never had the index gets it run by run.
        loop {
            let tx = self.conn.transaction().map_err(StoreError::backend)?;
            let done = sql::index_journals(&mut Dialect(&tx), 1)?;
            tx.commit().map_err(StoreError::backend)?;
            if done {
                return Ok(loaded);
            }
        }
    }

    fn reader(&mut self) -> Result<Option<Box<dyn sql::LogReader>>, StoreError> {
        match self.conn.path().filter(|p| !p.is_empty()) {
            Some(path) => Ok(Some(Box::new(SqliteLog::open(Path::new(path))?))),
            // An in-memory database has no second connection: it keeps its journals in memory.
            None => Ok(None),
        }
    }

    fn commit(&mut self, batch: &Batch) -> Result<(), StoreError> {
        let tx = self.conn.transaction().map_err(StoreError::backend)?;
        // Dropping the transaction on an error rolls it back (and leaves no sums of the tail).
        let tail = sql::write_batch(&mut Dialect(&tx), batch, self.checkpoint_every, &mut self.tail)?;
        tx.commit().map_err(StoreError::backend)?;
        self.tail = tail;
        Ok(())
    }
}

/// Creates `dir` (and its parents) if missing, and makes it reachable by its owner only.
pub fn private_dir(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
    std::fs::DirBuilder::new().recursive(true).mode(0o700).create(dir)?;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
}

/// Makes `path`, if it exists, readable and writable by its owner only.
pub fn private_file(path: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    match std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        other => other,
    }
}

/// The exclusive hold of a data directory by one process: `cashier.lock`, locked (`flock`) for
/// as long as this value lives, and naming the process that holds it. A second server on the
/// same directory is refused with that name; the lock goes with the process, however it ends.
pub struct DataDirLock {
    _file: std::fs::File,
}

/// The lock file's name inside a data directory.
pub const LOCK_FILE: &str = "cashier.lock";

impl DataDirLock {
    pub fn acquire(dir: &Path) -> Result<DataDirLock, StoreError> {
        use std::io::{Read, Seek, Write};
        use std::os::unix::fs::OpenOptionsExt;
        private_dir(dir).map_err(StoreError::backend)?;
        let path = dir.join(LOCK_FILE);
        let mut file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .open(&path)
            .map_err(StoreError::backend)?;
        match file.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                let mut holder = String::new();
                let _ = file.read_to_string(&mut holder);
                let holder = holder.trim();
                let holder = if holder.is_empty() { "another process".to_owned() } else { format!("process {holder}") };
                return Err(StoreError::Backend(format!(
                    "the store in {} is in use by {holder}: one server writes a store; stop it first, or give this one another --data-dir",
                    dir.display()
                )));
            }
            Err(std::fs::TryLockError::Error(e)) => return Err(StoreError::backend(e)),
        }
        let command: Vec<String> = std::env::args().collect();
        file.set_len(0).and_then(|()| file.rewind()).map_err(StoreError::backend)?;
        writeln!(file, "{} ({})", std::process::id(), command.join(" ")).map_err(StoreError::backend)?;
        Ok(DataDirLock { _file: file })
    }
}

/// A read-only connection to a store file, for event streams.
pub struct SqliteLog(Connection);

impl SqliteLog {
    pub fn open_in(dir: &Path) -> Result<SqliteLog, StoreError> {
        SqliteLog::open(&dir.join(FILE_NAME))
    }

    pub fn open(path: &Path) -> Result<SqliteLog, StoreError> {
        let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = Connection::open_with_flags(path, flags).map_err(StoreError::backend)?;
        conn.busy_timeout(std::time::Duration::from_secs(5)).map_err(StoreError::backend)?;
        Ok(SqliteLog(conn))
    }
}

impl cashier_store::sql::LogReader for SqliteLog {
    fn with_sql(&mut self, read: &mut dyn FnMut(&mut dyn sql::SqlBackend) -> Result<(), StoreError>) -> Result<(), StoreError> {
        read(&mut Dialect(&self.0))
    }
}

/// SQLite's side of `SqlBackend`, over a connection or an open transaction.
struct Dialect<'c>(&'c Connection);

impl SqlBackend for Dialect<'_> {
    fn write(&mut self, table: &Table, rows: Vec<Vec<Value>>) -> Result<(), StoreError> {
        if rows.is_empty() {
            return Ok(());
        }
        let placeholders: Vec<String> = (1..=table.columns.len()).map(|i| format!("?{i}")).collect();
        let sql =
            format!("INSERT INTO {} ({}) VALUES ({}){}", table.name, table.column_list(), placeholders.join(", "), table.conflict_clause());
        let mut stmt = self.0.prepare_cached(&sql).map_err(StoreError::backend)?;
        for row in rows {
            stmt.execute(params_from_iter(row.iter().map(Param))).map_err(write_error)?;
        }
        Ok(())
    }

    fn execute(&mut self, sql: &str, params: &[Value]) -> Result<u64, StoreError> {
        // `$n` is a name to SQLite; `?n` is the position.
        let sql = sql.replace('$', "?");
        self.0
            .prepare_cached(&sql)
            .and_then(|mut s| s.execute(params_from_iter(params.iter().map(Param))))
            .map(|rows| rows as u64)
            .map_err(write_error)
    }

    fn query(
        &mut self,
        sql: &str,
        params: &[Value],
        each: &mut dyn FnMut(&dyn ColumnRead) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        let sql = sql.replace('$', "?");
        let mut stmt = self.0.prepare_cached(&sql).map_err(StoreError::backend)?;
        let mut rows = stmt.query(params_from_iter(params.iter().map(Param))).map_err(StoreError::backend)?;
        while let Some(row) = rows.next().map_err(StoreError::backend)? {
            each(&Row(row))?;
        }
        Ok(())
    }
}

/// A SQLite error while writing rows as a store error. A value SQLite refused (a constraint
/// other than a unique key, which two writers can collide on; a value too big; a type
/// mismatch) is a refusal of the content: the statement did not happen, and the transaction it
/// was part of is rolled back.
fn write_error(error: rusqlite::Error) -> StoreError {
    use rusqlite::ffi;
    if let rusqlite::Error::SqliteFailure(e, _) = &error {
        let unique = matches!(e.extended_code, ffi::SQLITE_CONSTRAINT_UNIQUE | ffi::SQLITE_CONSTRAINT_PRIMARYKEY);
        let content =
            matches!(e.code, rusqlite::ErrorCode::ConstraintViolation | rusqlite::ErrorCode::TooBig | rusqlite::ErrorCode::TypeMismatch);
        if content && !unique {
            return StoreError::Refused(error.to_string());
        }
    }
    StoreError::backend(error)
}

struct Param<'v>(&'v Value);

impl ToSql for Param<'_> {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(match self.0 {
            Value::Id(b) => ToSqlOutput::Borrowed(ValueRef::Blob(b)),
            Value::Static(t) => ToSqlOutput::Borrowed(ValueRef::Text(t.as_bytes())),
            Value::Blob(b) => ToSqlOutput::Borrowed(ValueRef::Blob(b)),
            Value::BlobOpt(b) => b.as_deref().map_or(ToSqlOutput::Borrowed(ValueRef::Null), |b| ToSqlOutput::Borrowed(ValueRef::Blob(b))),
            Value::Int(i) => ToSqlOutput::from(*i),
            Value::IntOpt(i) => i.map_or(ToSqlOutput::Borrowed(ValueRef::Null), ToSqlOutput::from),
            Value::Text(t) => ToSqlOutput::Borrowed(ValueRef::Text(t.as_bytes())),
            Value::TextOpt(t) => {
                t.as_deref().map_or(ToSqlOutput::Borrowed(ValueRef::Null), |t| ToSqlOutput::Borrowed(ValueRef::Text(t.as_bytes())))
            }
            Value::Bool(b) => ToSqlOutput::from(*b),
            Value::Null => ToSqlOutput::Borrowed(ValueRef::Null),
        })
    }
}

struct Row<'r, 's>(&'r rusqlite::Row<'s>);

impl ColumnRead for Row<'_, '_> {
    fn blob(&self, i: usize) -> Result<Vec<u8>, StoreError> {
        self.0.get(i).map_err(StoreError::backend)
    }
    fn blob_ref(&self, i: usize) -> Result<std::borrow::Cow<'_, [u8]>, StoreError> {
        let value = self.0.get_ref(i).map_err(StoreError::backend)?;
        value.as_blob().map(std::borrow::Cow::Borrowed).map_err(StoreError::backend)
    }
    fn text_ref(&self, i: usize) -> Result<std::borrow::Cow<'_, str>, StoreError> {
        let value = self.0.get_ref(i).map_err(StoreError::backend)?;
        value.as_str().map(std::borrow::Cow::Borrowed).map_err(StoreError::backend)
    }
    fn int(&self, i: usize) -> Result<i64, StoreError> {
        self.0.get(i).map_err(StoreError::backend)
    }
    fn int_opt(&self, i: usize) -> Result<Option<i64>, StoreError> {
        self.0.get(i).map_err(StoreError::backend)
    }
    fn text(&self, i: usize) -> Result<String, StoreError> {
        self.0.get(i).map_err(StoreError::backend)
    }
    fn text_opt(&self, i: usize) -> Result<Option<String>, StoreError> {
        self.0.get(i).map_err(StoreError::backend)
    }
    fn boolean(&self, i: usize) -> Result<bool, StoreError> {
        self.0.get(i).map_err(StoreError::backend)
    }
}
