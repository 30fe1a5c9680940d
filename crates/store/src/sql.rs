//! What every SQL backend shares: the tables, their columns, how rows become core values and
//! back, how a batch is written and how a store is loaded and verified. A backend supplies only
//! its dialect through [`SqlBackend`].

use crate::codec::*;
use crate::mint::event_ulid;
use crate::rows::Rows;
use crate::store::{verify, Batch, Loaded, LogSummary, StoreError};
use cashier_core::*;
use std::borrow::Cow;
use std::collections::HashMap;

/// A column value on its way to the database.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    /// An id: 16 bytes, with no allocation.
    Id([u8; 16]),
    /// A fixed name (a status, a kind) or fixed bytes, with no allocation.
    Static(&'static str),
    Blob(Vec<u8>),
    BlobOpt(Option<Vec<u8>>),
    Int(i64),
    IntOpt(Option<i64>),
    Text(String),
    TextOpt(Option<String>),
    Bool(bool),
    /// NULL, in a column of any type.
    Null,
}

/// A table as the writer sees it: its columns (with their PostgreSQL types), its key, and
/// whether rows are upserted or only inserted.
pub struct Table {
    pub name: &'static str,
    pub columns: &'static [(&'static str, &'static str)],
    pub key: &'static [&'static str],
    pub upsert: bool,
    /// Columns an upsert never changes: an index over them is not touched when the row is.
    pub fixed: &'static [&'static str],
    /// An upsert adds the new values to the row's instead of replacing them.
    pub adds: bool,
}

impl Table {
    pub fn column_list(&self) -> String {
        self.columns.iter().map(|(name, _)| *name).collect::<Vec<_>>().join(", ")
    }

    /// `ON CONFLICT (key) DO UPDATE SET ...` for an upserted table, else nothing. Both SQLite
    /// and PostgreSQL read it the same way.
    pub fn conflict_clause(&self) -> String {
        if !self.upsert {
            return String::new();
        }
        let updates: Vec<String> = self
            .columns
            .iter()
            .filter(|(c, _)| !self.key.contains(c) && !self.fixed.contains(c))
            .map(|(c, _)| if self.adds { format!("{c} = {}.{c} + excluded.{c}", self.name) } else { format!("{c} = excluded.{c}") })
            .collect();
        format!(" ON CONFLICT ({}) DO UPDATE SET {}", self.key.join(", "), updates.join(", "))
    }
}

macro_rules! table {
    ($name:ident, $table:literal, upsert: $upsert:literal, key: [$($key:literal),*], [$($col:literal : $ty:literal),* $(,)?]) => {
        $crate::sql::table!($name, $table, upsert: $upsert, key: [$($key),*], fixed: [], [$($col: $ty),*]);
    };
    ($name:ident, $table:literal, upsert: $upsert:literal, key: [$($key:literal),*], fixed: [$($fixed:literal),*], [$($col:literal : $ty:literal),* $(,)?]) => {
        pub const $name: Table =
            Table { name: $table, columns: &[$(($col, $ty)),*], key: &[$($key),*], upsert: $upsert, fixed: &[$($fixed),*], adds: false };
    };
}
pub(crate) use table;

// An event's balanced pair of postings (it has at most one) is in its own row; `postings` is a
// view of them. Its ULID is not stored: it is made of its time and sequence number (`event_ulid`).
table!(EVENTS, "events", upsert: false, key: ["seq"], ["seq": "int8", "at": "int8", "kind": "text", "journal_id": "uuid",
    "status_from": "text", "status_to": "text", "detail": "text", "asset": "text", "units": "int8", "from_book": "bytea", "to_book": "bytea"]);
table!(CORRESPONDENTS, "correspondents", upsert: true, key: ["id"], ["id": "uuid", "code": "text", "name": "text", "config": "text", "created_at": "int8"]);
table!(ACCOUNTS, "accounts", upsert: true, key: ["id"], ["id": "uuid", "correspondent": "uuid", "kind": "text", "status": "text",
    "account_number": "int8", "currency": "text", "blocks": "int8", "limits": "text", "created_at": "int8"]);
table!(ASSETS, "assets", upsert: true, key: ["symbol"], ["symbol": "text", "id": "uuid", "name": "text", "exchange": "text", "class": "text",
    "fractionable": "bool", "price": "int8"]);
table!(BALANCES, "balances", upsert: true, key: ["book", "asset"], ["book": "bytea", "asset": "text", "posted": "int8", "held": "int8", "cost_nanos": "text"]);
// A journal's parties, asset, amount, text and creation never change once it is written.
table!(JOURNALS, "journals", upsert: true, key: ["id"],
    fixed: ["correspondent", "entry_type", "from_account", "to_account", "asset", "units", "description", "flow", "created_at", "ordinal"], ["id": "uuid", "correspondent": "uuid", "entry_type": "text", "from_account": "uuid",
    "to_account": "uuid", "status": "text", "asset": "text", "units": "int8", "price": "int8", "description": "text", "extra": "text",
    "flow": "text", "hold": "text", "limit_counted": "int8", "created_at": "int8", "updated_at": "int8", "booked_on": "int8", "ordinal": "int8"]);
table!(TRANSFERS, "transfers", upsert: true, key: ["id"], ["id": "uuid", "account": "uuid", "correspondent": "uuid", "direction": "text",
    "kind": "text", "currency": "text", "amount": "int8", "status": "text", "created_at": "int8", "updated_at": "int8"]);
table!(OVERDRAFTS, "overdrafts", upsert: true, key: ["account", "currency"], ["account": "uuid", "currency": "text", "units": "int8"]);
table!(KEYS, "idempotency_keys", upsert: true, key: ["correspondent", "key"], ["correspondent": "uuid", "key": "text", "kind": "text",
    "fingerprint": "bytea", "journals": "bytea", "created_at": "int8"]);
table!(API_KEYS, "api_keys", upsert: true, key: ["key_id"], ["key_id": "text", "correspondent": "uuid", "role": "text",
    "secret_sha256": "bytea", "created_at": "int8", "revoked": "bool", "name": "text"]);
table!(CONFIRMATIONS, "confirmations", upsert: true, key: ["fingerprint"], ["fingerprint": "bytea", "body": "text"]);
table!(DONE_ALONE, "done_alone", upsert: true, key: ["operator"], ["operator": "text", "worth": "int8"]);
table!(CHECKPOINT, "checkpoint", upsert: true, key: ["book", "asset"], ["book": "bytea", "asset": "text", "units": "int8"]);
/// The checkpoint's sums, added to by its advance.
pub const CHECKPOINT_ADD: Table = Table { adds: true, ..CHECKPOINT };
table!(CHECKPOINT_LIVE, "checkpoint_live", upsert: false, key: ["id"], ["id": "uuid"]);
// The index of journals by account, written in runs ([`index_journals`]).
table!(ACCOUNT_CHUNKS, "account_chunks", upsert: false, key: ["run", "account", "first"], ["run": "int8", "account": "uuid", "first": "uuid", "journals": "bytea"]);
table!(JOURNAL_RUNS, "journal_runs", upsert: false, key: ["run"], ["run": "int8", "low": "uuid", "high": "uuid", "journals": "int8"]);
table!(DAILY, "daily_usage", upsert: true, key: ["account", "limit_key"], ["account": "uuid", "limit_key": "text", "used": "int8"]);

/// Reads one column of a result row.
pub trait ColumnRead {
    fn blob(&self, i: usize) -> Result<Vec<u8>, StoreError>;
    /// A blob where the row holds it, for a value parsed rather than kept (an id, a book).
    fn blob_ref(&self, i: usize) -> Result<Cow<'_, [u8]>, StoreError> {
        self.blob(i).map(Cow::Owned)
    }
    /// A text where the row holds it, for a value parsed rather than kept (a status, an asset).
    fn text_ref(&self, i: usize) -> Result<Cow<'_, str>, StoreError> {
        self.text(i).map(Cow::Owned)
    }
    fn int(&self, i: usize) -> Result<i64, StoreError>;
    fn int_opt(&self, i: usize) -> Result<Option<i64>, StoreError>;
    fn text(&self, i: usize) -> Result<String, StoreError>;
    fn text_opt(&self, i: usize) -> Result<Option<String>, StoreError>;
    fn boolean(&self, i: usize) -> Result<bool, StoreError>;
}

/// A backend's dialect. Called inside one transaction for a commit.
pub trait SqlBackend {
    /// Writes rows into a table: upserts by its key, or plain inserts.
    fn write(&mut self, table: &Table, rows: Vec<Vec<Value>>) -> Result<(), StoreError>;
    /// Runs a statement with positional parameters (`$1`, `$2`, ...); answers how many rows it
    /// changed.
    fn execute(&mut self, sql: &str, params: &[Value]) -> Result<u64, StoreError>;
    /// Runs a query and hands each row to `each`.
    fn query(
        &mut self,
        sql: &str,
        params: &[Value],
        each: &mut dyn FnMut(&dyn ColumnRead) -> Result<(), StoreError>,
    ) -> Result<(), StoreError>;
}

fn id(v: u128) -> Value {
    Value::Id(id_bytes(v))
}

fn book(b: Book) -> Value {
    match b {
        Book::Account(account) => id(account.0),
        Book::Bank | Book::Custody => Value::Blob(book_bytes(b)),
    }
}

fn name(text: &'static str) -> Value {
    Value::Static(text)
}

fn asset(a: Asset) -> Value {
    match a {
        Asset::Cash(currency) => Value::Static(cash_text(currency)),
        Asset::Security(_) => Value::Text(asset_text(a)),
    }
}

/// One step of writing a batch, in order.
pub enum Op {
    /// Rows upserted (or inserted) into a table; never empty.
    Write(&'static Table, Vec<Vec<Value>>),
    /// A statement that changes rows in place or deletes them.
    Execute(&'static str, Vec<Value>),
    /// Moves the checkpoint up to this event, reading the log after it ([`advance_checkpoint`]).
    AdvanceCheckpoint(u64),
    /// Moves the checkpoint over the log its commits summed as they wrote it ([`LogTail`]).
    AdvanceSummed(LogTail),
    /// Indexes by account the journals created since the index's last run ([`index_journals`]).
    IndexJournals,
}

/// Moves the end of the log, where the store's log still ends where the batch continues from.
/// It must change exactly one row. Its four parameters (`BatchOps::continues`) are numbered from
/// `$first`.
pub fn continue_log_sql(first: usize) -> String {
    let [a, b, c, d] = [first, first + 1, first + 2, first + 3];
    format!("UPDATE meta SET last_seq = ${a}, last_at = ${b}, business_date = ${c} WHERE last_seq = ${d}")
}

/// What writing a batch takes: its steps in order, then the log's end moved (none for a batch
/// of rejections only, which writes nothing).
pub struct BatchOps {
    pub ops: Vec<Op>,
    pub continues: Option<[Value; 4]>,
    /// The sequence number the batch continues from, for the refusal's message.
    pub after_seq: u64,
    /// The log after the checkpoint once this batch is committed, summed (none when the
    /// store's sums did not reach this batch: the next move of the checkpoint reads the log).
    /// The backend keeps it only once its commit succeeded.
    pub tail: Option<LogTail>,
}

/// The refusal of a commit that does not continue the store's log.
pub fn not_continuing(after_seq: u64) -> StoreError {
    StoreError::Corrupt(format!("the log does not end at event {after_seq}: another writer has committed to this store"))
}

/// Writes a batch's log and rows, one statement a step. The backend wraps it in its transaction.
/// `tail` is the store's sums of the log after its checkpoint: taken here, and put back with
/// the batch's events added only when the write succeeded (the backend's commit may still
/// fail: [`BatchOps::tail`]).
pub fn write_batch(db: &mut dyn SqlBackend, batch: &Batch, checkpoint_every: u64, tail: &mut Option<LogTail>) -> Result<Option<LogTail>, StoreError> {
    let mut ops = batch_ops_every(batch, checkpoint_every, tail);
    let summed = ops.tail.take();
    write_ops(db, ops)?;
    Ok(summed)
}

/// Writes the steps of a batch one statement each, then moves the log's end.
pub fn write_ops(db: &mut dyn SqlBackend, batch: BatchOps) -> Result<(), StoreError> {
    let BatchOps { ops, continues, after_seq, .. } = batch;
    for op in ops {
        match op {
            Op::Write(table, rows) => db.write(table, rows)?,
            Op::Execute(sql, params) => drop(db.execute(sql, &params)?),
            Op::AdvanceCheckpoint(upto) => advance_checkpoint(db, upto)?,
            Op::AdvanceSummed(tail) => write_advance(db, tail)?,
            // At most a little more than a run's worth since the last.
            Op::IndexJournals => drop(index_journals(db, usize::MAX)?),
        }
    }
    // The log continues exactly where the store's last commit ended: a second writer, or a
    // batch written twice, changes no row here and the whole transaction is refused.
    if let Some(params) = continues {
        if db.execute(&continue_log_sql(1), &params)? != 1 {
            return Err(not_continuing(after_seq));
        }
    }
    Ok(())
}

/// The steps that write a batch's log and rows, the checkpoint moved every [`CHECKPOINT_EVERY`].
pub fn batch_ops(batch: &Batch) -> BatchOps {
    batch_ops_every(batch, CHECKPOINT_EVERY, &mut None)
}

/// The same, the checkpoint moved every `every` events (tests move it often), from `tail`
/// (taken) where it sums the log up to this batch, else from the log read again.
pub fn batch_ops_every(batch: &Batch, every: u64, tail: &mut Option<LogTail>) -> BatchOps {
    let every = every.max(1);
    let after_seq = batch.records.first().map_or(0, |r| r.seq - 1);
    let last_seq = batch.records.last().map_or(after_seq, |r| r.seq);
    let mut tail = tail.take().filter(|t| t.upto == after_seq);
    let mut advance = None;
    if after_seq > 0 && last_seq / every > after_seq / every {
        // The checkpoint follows the log: everything committed before this batch, from the
        // sums of the events as they were written, or from the log itself.
        advance = Some(tail.take().map_or(Op::AdvanceCheckpoint(after_seq), Op::AdvanceSummed));
        tail = Some(LogTail::after(after_seq));
    }
    let mut events = Vec::with_capacity(batch.records.len());
    for record in &batch.records {
        let c = event_columns(&record.event);
        if let Some(tail) = &mut tail {
            tail.add(record.seq, c.kind, c.journal_id.map(u128::from_be_bytes), c.status_to, record.event.movement());
        }
        let mut row = vec![
            Value::Int(record.seq as i64),
            Value::Int(record.event.at.0),
            name(c.kind),
            c.journal_id.map_or(Value::Null, Value::Id),
            c.status_from.map_or(Value::Null, Value::Static),
            c.status_to.map_or(Value::Null, Value::Static),
            Value::TextOpt(c.detail),
        ];
        match record.event.movement() {
            Some(m) => row.extend([asset(m.asset), Value::Int(m.units), book(m.from), book(m.to)]),
            None => row.extend([Value::Null, Value::Null, Value::Null, Value::Null]),
        }
        events.push(row);
    }
    let mut ops = Ops(Vec::new());
    ops.write(&EVENTS, events);
    row_ops(&mut ops, &batch.rows);
    if batch.index_journals {
        // After the batch's own journals, which the run takes too.
        ops.0.push(Op::IndexJournals);
    }
    ops.0.extend(advance);
    let continues = batch.records.last().map(|last| {
        [
            Value::Int(last.seq as i64),
            Value::Int(last.event.at.0),
            Value::Int(i64::from(batch.rows.business_date.0)),
            Value::Int(after_seq as i64),
        ]
    });
    BatchOps { ops: ops.0, continues, after_seq, tail }
}

/// How far the log runs past its checkpoint before a commit moves the checkpoint up to it:
/// start-up reads this much of the log at most (and the checkpoint's rows).
pub const CHECKPOINT_EVERY: u64 = 65_536;

/// The log after the checkpoint, summed: its postings per book and asset, the journals it
/// created, and each journal it changed, with whether it created it and whether it still moves
/// at its end. A commit adds its own events as it writes them, so that moving the checkpoint
/// writes these sums rather than reading the log again; they start right after a move of the
/// checkpoint, and a store that has none (after a start or a failed commit) reads the log once
/// at its next move ([`advance_checkpoint`]). Start-up and the full check still sum the log.
#[derive(Debug)]
pub struct LogTail {
    /// The checkpoint's event the sums follow, and the last event summed.
    from: u64,
    upto: u64,
    created: i64,
    sums: HashMap<(Book, Asset), i128>,
    /// By journal id: (created after `from`, still moving at `upto`).
    journals: HashMap<u128, (bool, bool)>,
}

impl LogTail {
    /// Nothing after event `from`.
    pub fn after(from: u64) -> LogTail {
        LogTail { from, upto: from, created: 0, sums: HashMap::new(), journals: HashMap::new() }
    }

    /// The event `seq`, which follows the last one added, from the columns the log holds of it.
    fn add(&mut self, seq: u64, kind: &str, journal: Option<u128>, status_to: Option<&str>, movement: Option<Movement>) {
        debug_assert_eq!(seq, self.upto + 1, "a log tail is summed in order");
        self.upto = seq;
        let born = kind == "journal_created";
        self.created += i64::from(born);
        // A journal's status only (a transfer's events have statuses too, and no journal).
        if let (Some(journal), Some(status)) = (journal, status_to) {
            let moving = matches!(status, "queued" | "sent_to_clearing" | "pending");
            self.journals.entry(journal).or_insert((born, moving)).1 = moving;
        }
        if let Some(m) = movement {
            *self.sums.entry((m.from, m.asset)).or_default() -= i128::from(m.units);
            *self.sums.entry((m.to, m.asset)).or_default() += i128::from(m.units);
        }
    }
}

/// Moves the checkpoint up to event `upto`, from the log alone (never from the balances): the
/// events after it and up to `upto` are read once, in order (a range of the log's key), and
/// summed as commits sum them ([`LogTail`]). Inside the commit's transaction.
pub fn advance_checkpoint(db: &mut dyn SqlBackend, upto: u64) -> Result<(), StoreError> {
    let from = one_int(db, "SELECT seq FROM checkpoint_meta")? as u64;
    if upto <= from {
        return Ok(());
    }
    let mut tail = LogTail::after(from);
    // A journal's status only, and its id read where it has one.
    let sql = "SELECT seq, kind, journal_id, CASE WHEN journal_id IS NOT NULL THEN status_to END, asset, units, from_book, to_book
               FROM events WHERE seq > $1 AND seq <= $2 ORDER BY seq";
    db.query(sql, &[Value::Int(from as i64), Value::Int(upto as i64)], &mut |r| {
        let status = r.text_opt(3)?;
        let journal = status.as_ref().map(|_| id_from(&r.blob_ref(2)?)).transpose()?;
        let movement = match (r.text_opt(4)?, r.int_opt(5)?) {
            (Some(asset), Some(units)) => {
                Some(Movement { asset: asset_from(&asset)?, units, from: book_from(&r.blob_ref(6)?)?, to: book_from(&r.blob_ref(7)?)? })
            }
            _ => None,
        };
        tail.add(r.int(0)? as u64, &r.text_ref(1)?, journal, status.as_deref(), movement);
        Ok(())
    })?;
    if tail.upto != upto {
        return Err(StoreError::Corrupt(format!("the log after the checkpoint at event {from} ends at {}, not {upto}", tail.upto)));
    }
    write_advance(db, tail)
}

/// Moves the checkpoint over a summed tail of the log: its sums added to the checkpoint's, its
/// count to the journals', the journals it settled out of `checkpoint_live` and those it
/// created that still move into it.
fn write_advance(db: &mut dyn SqlBackend, tail: LogTail) -> Result<(), StoreError> {
    let LogTail { from, upto, created, sums, journals } = tail;
    let moved = db.execute(
        "UPDATE checkpoint_meta SET seq = $1, journals = journals + $2 WHERE seq = $3",
        &[Value::Int(upto as i64), Value::Int(created), Value::Int(from as i64)],
    )?;
    if moved != 1 {
        return Err(StoreError::Backend(format!("the checkpoint at event {from} was moved meanwhile")));
    }
    let rows: Vec<Vec<Value>> = sums
        .into_iter()
        .filter(|(_, units)| *units != 0)
        .map(|((b, a), units)| Ok(vec![book(b), asset(a), Value::Int(i64::try_from(units).map_err(|_| overflow())?)]))
        .collect::<Result<_, StoreError>>()?;
    if !rows.is_empty() {
        db.write(&CHECKPOINT_ADD, rows)?;
    }
    // No status leads back to a moving one: a journal the checkpoint already held as moving
    // stays there while it moves, and one created after it is not there yet. Sorted, since ids
    // grow with time: the rows go to the index's end and its neighbouring leaves.
    let mut settled: Vec<u128> = journals.iter().filter(|(_, (born, moving))| !born && !moving).map(|(j, _)| *j).collect();
    settled.sort_unstable();
    for chunk in settled.chunks(IN_LIST_MAX) {
        let marks: Vec<String> = (1..=chunk.len()).map(|i| format!("${i}")).collect();
        let params: Vec<Value> = chunk.iter().map(|j| id(*j)).collect();
        db.execute(&format!("DELETE FROM checkpoint_live WHERE id IN ({})", marks.join(", ")), &params)?;
    }
    let mut live: Vec<u128> = journals.iter().filter(|(_, (born, moving))| *born && *moving).map(|(j, _)| *j).collect();
    live.sort_unstable();
    if !live.is_empty() {
        db.write(&CHECKPOINT_LIVE, live.into_iter().map(|j| vec![id(j)]).collect())?;
    }
    Ok(())
}

/// Ids in one `IN (...)` list at most.
const IN_LIST_MAX: usize = 500;

/// Journals in one run of the index by account at most: a load that finds more unindexed
/// journals writes several runs, and holds no more than this many in memory at once.
pub const RUN_JOURNALS_MAX: usize = 65_536;

/// Indexes by account every journal created since the index's last run, in runs: the journals
/// after the last run's highest id (a range of the primary key, read in order), each entered
/// under its `from` and its `to` account, and written under a new run number, which is higher
/// than any before it, so that a run is appended at the index's end rather than spread over
/// its leaves. A run holds each account's journals in chunks of ascending ids
/// ([`chunk_size`]), one row a chunk keyed by its first id; `journal_runs` names each run with
/// its lowest and highest journal id. Writes `runs` runs at most, and returns whether every
/// journal is indexed.
pub fn index_journals(db: &mut dyn SqlBackend, runs: usize) -> Result<bool, StoreError> {
    let (mut run, high) = last_run(db)?;
    // Ids are never 0: "above 0" is every journal.
    let mut after = high.unwrap_or(0);
    for _ in 0..runs {
        let mut sides: Vec<(u128, u128, u128)> = Vec::new();
        let sql = format!("SELECT id, from_account, to_account FROM journals WHERE id > $1 ORDER BY id LIMIT {RUN_JOURNALS_MAX}");
        db.query(&sql, &[id(after)], &mut |r| {
            sides.push((id_from(&r.blob_ref(0)?)?, id_from(&r.blob_ref(1)?)?, id_from(&r.blob_ref(2)?)?));
            Ok(())
        })?;
        let (Some(&(low, ..)), Some(&(top, ..))) = (sides.first(), sides.last()) else { return Ok(true) };
        run += 1;
        write_run(db, run, &sides)?;
        after = top;
        debug_assert!(low <= top);
        if sides.len() < RUN_JOURNALS_MAX {
            return Ok(true);
        }
    }
    Ok(false)
}

/// Ids in one chunk of an account's journals in a run: at most 512 (8 KiB), and fewer in a
/// small run, an eighth of its journals, so that a run of a few journals (a start's leftovers,
/// the tests' runs of five) still spans several chunks and every reader crosses chunk seams.
pub fn chunk_size(journals: usize) -> usize {
    (journals / 8).clamp(2, 512)
}

/// Writes run `run` of the index: the journals `sides` (id, from, to), ascending by id.
fn write_run(db: &mut dyn SqlBackend, run: i64, sides: &[(u128, u128, u128)]) -> Result<(), StoreError> {
    let (Some(&(low, ..)), Some(&(high, ..))) = (sides.first(), sides.last()) else { return Ok(()) };
    let mut by_account: std::collections::BTreeMap<u128, Vec<u128>> = std::collections::BTreeMap::new();
    for &(journal, from, to) in sides {
        by_account.entry(from).or_default().push(journal);
        by_account.entry(to).or_default().push(journal);
    }
    let size = chunk_size(sides.len());
    let mut rows: Vec<Vec<Value>> = Vec::new();
    for (account, journals) in &by_account {
        for chunk in journals.chunks(size) {
            let bytes: Vec<u8> = chunk.iter().flat_map(|j| id_bytes(*j)).collect();
            rows.push(vec![Value::Int(run), id(*account), id(chunk[0]), Value::Blob(bytes)]);
        }
    }
    for part in rows.chunks(1_000) {
        db.write(&ACCOUNT_CHUNKS, part.to_vec())?;
    }
    db.write(&JOURNAL_RUNS, vec![vec![Value::Int(run), id(low), id(high), Value::Int(sides.len() as i64)]])
}

/// The index by account's last run and the highest journal id it holds (0 and none before
/// the first).
fn last_run(db: &mut dyn SqlBackend) -> Result<(i64, Option<u128>), StoreError> {
    let mut last = (0, None);
    db.query("SELECT run, high FROM journal_runs ORDER BY run DESC LIMIT 1", &[], &mut |r| {
        last = (r.int(0)?, Some(id_from(&r.blob_ref(1)?)?));
        Ok(())
    })?;
    Ok(last)
}

fn overflow() -> StoreError {
    StoreError::Corrupt("a checkpoint sum does not fit 64 bits".into())
}

struct Ops(Vec<Op>);

impl Ops {
    fn write(&mut self, table: &'static Table, rows: Vec<Vec<Value>>) {
        if !rows.is_empty() {
            self.0.push(Op::Write(table, rows));
        }
    }

    fn execute(&mut self, sql: &'static str, params: Vec<Value>) {
        self.0.push(Op::Execute(sql, params));
    }
}

fn row_ops(ops: &mut Ops, rows: &Rows) {
    ops.write(&CORRESPONDENTS, rows.correspondents.iter().map(correspondent_values).collect());
    ops.write(&ACCOUNTS, rows.accounts.iter().map(account_values).collect());
    for (account, profile, email) in &rows.profiles {
        let email = Value::TextOpt(email.clone());
        ops.execute("UPDATE accounts SET profile = $2, email = $3 WHERE id = $1", vec![id(account.0), Value::Text(profile.clone()), email]);
    }
    ops.write(&ASSETS, rows.assets.iter().map(asset_values).collect());
    ops.write(&BALANCES, rows.balances.iter().map(balance_values).collect());
    ops.write(&JOURNALS, rows.journals.iter().map(journal_values).collect());
    ops.write(&TRANSFERS, rows.transfers.iter().map(transfer_values).collect());
    ops.write(
        &OVERDRAFTS,
        rows.overdrafts.iter().map(|(a, c, units)| vec![id(a.0), Value::Text(c.as_str().to_owned()), Value::Int(*units)]).collect(),
    );
    if let Some(before) = rows.keys_expired_before {
        ops.execute("DELETE FROM idempotency_keys WHERE created_at < $1", vec![Value::Int(before.0)]);
    }
    ops.write(&KEYS, rows.keys.iter().map(key_values).collect());
    if rows.daily_reset {
        ops.execute("DELETE FROM daily_usage", Vec::new());
    }
    ops.write(&API_KEYS, rows.api_keys.iter().map(api_key_values).collect());
    // A new business day ends every request first; those asked after it in this commit follow.
    if rows.daily_reset {
        ops.execute("DELETE FROM confirmations", Vec::new());
    }
    for (fingerprint, confirmation) in &rows.confirmations {
        if confirmation.is_none() {
            ops.execute("DELETE FROM confirmations WHERE fingerprint = $1", vec![id(*fingerprint)]);
        }
    }
    ops.write(
        &CONFIRMATIONS,
        rows.confirmations.iter().filter_map(|(f, c)| Some(vec![id(*f), Value::Text(confirmation_json(c.as_ref()?))])).collect(),
    );
    if rows.daily_reset {
        ops.execute("DELETE FROM done_alone", Vec::new());
    }
    ops.write(&DONE_ALONE, rows.done_alone.iter().map(|(name, worth)| vec![Value::Text(name.clone()), Value::Int(*worth)]).collect());
    ops.write(
        &DAILY,
        rows.daily.iter().map(|(a, key, used)| vec![id(a.0), Value::Text(limit_key_text(*key)), Value::Int(*used)]).collect(),
    );
}

fn correspondent_values(c: &Correspondent) -> Vec<Value> {
    vec![
        id(c.id.0),
        Value::Text(c.code.clone()),
        Value::Text(c.name.clone()),
        Value::Text(config_json(&c.config)),
        Value::Int(c.created_at.0),
    ]
}

fn account_values(a: &Account) -> Vec<Value> {
    vec![
        id(a.id.0),
        id(a.correspondent.0),
        name(a.kind.as_str()),
        name(a.status.as_str()),
        Value::Int(a.account_number as i64),
        Value::Text(a.currency.as_str().to_owned()),
        Value::Int(blocks_bits(a.blocks)),
        Value::TextOpt(a.limits.as_deref().map(limits_json)),
        Value::Int(a.created_at.0),
    ]
}

fn asset_values(a: &AssetInfo) -> Vec<Value> {
    vec![
        Value::Text(a.symbol.as_str().to_owned()),
        id(a.id.0),
        Value::Text(a.name.clone()),
        Value::Text(a.exchange.clone()),
        Value::Text(a.class.clone()),
        Value::Bool(a.fractionable),
        Value::IntOpt(a.price),
    ]
}

fn balance_values((b_book, held_asset, b): &(Book, Asset, Balance)) -> Vec<Value> {
    let cost = (b.cost_nanos != 0).then(|| b.cost_nanos.to_string());
    vec![book(*b_book), asset(*held_asset), Value::Int(b.posted), Value::Int(b.held), Value::TextOpt(cost)]
}

fn journal_values(j: &Journal) -> Vec<Value> {
    vec![
        id(j.id.0),
        id(j.correspondent.0),
        name(j.entry_type.as_str()),
        id(j.from.0),
        id(j.to.0),
        name(j.status.as_str()),
        asset(j.asset),
        Value::Int(j.units),
        Value::IntOpt(j.price),
        Value::Text(j.description.to_string()),
        Value::TextOpt(journal_extra_json(j)),
        name(j.flow.as_str()),
        name(j.hold.as_str()),
        Value::Int(j.limit_counted),
        Value::Int(j.created_at.0),
        Value::Int(j.updated_at.0),
        Value::IntOpt(j.booked_on.map(|d| i64::from(d.0))),
        Value::Int(j.ordinal as i64),
    ]
}

fn transfer_values(t: &Transfer) -> Vec<Value> {
    vec![
        id(t.id.0),
        id(t.account.0),
        id(t.correspondent.0),
        name(t.direction.as_str()),
        name(t.kind.as_str()),
        Value::Text(t.currency.as_str().to_owned()),
        Value::Int(t.amount),
        name(t.status.as_str()),
        Value::Int(t.created_at.0),
        Value::Int(t.updated_at.0),
    ]
}

fn api_key_values(k: &ApiKey) -> Vec<Value> {
    let (correspondent, role) = match k.owner {
        KeyOwner::Correspondent(id) => (Value::BlobOpt(Some(id_bytes(id.0).to_vec())), "correspondent"),
        KeyOwner::Operator => (Value::BlobOpt(None), "operator"),
    };
    vec![
        Value::Text(k.key_id.clone()),
        correspondent,
        name(role),
        Value::Blob(k.secret_sha256.to_vec()),
        Value::Int(k.created_at.0),
        Value::Bool(k.revoked),
        Value::TextOpt(k.name.clone()),
    ]
}

fn key_values(k: &KeyRecord) -> Vec<Value> {
    vec![
        id(k.correspondent.0),
        Value::Text(k.key.clone()),
        name(k.kind.as_str()),
        id(k.fingerprint),
        Value::Blob(ids_bytes(&k.journals)),
        Value::Int(k.created_at.0),
    ]
}

/// A journal status change as the event streams show it, read from the log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JournalEvent {
    pub seq: u64,
    pub ulid: u128,
    pub at: Timestamp,
    pub journal_id: JournalId,
    pub correspondent: CorrespondentId,
    pub entry_type: EntryType,
    pub status_from: Option<JournalStatus>,
    pub status_to: JournalStatus,
    /// For a change to `refused`: why.
    pub refused_for: Option<Code>,
    /// The journal's description and the idempotency key it was created under, which clients
    /// match events to their requests by.
    pub description: String,
    pub key: Option<KeyTag>,
}

/// Journal status changes after `after_seq`, oldest first, at most `limit`, as of the last commit
/// when the call starts. The log is read in windows of `limit` sequence numbers (sequence numbers
/// have no gaps), so a read costs its window, not the rest of the log, whatever index the backend
/// keeps on `seq`.
pub fn journal_events(db: &mut dyn SqlBackend, after_seq: u64, limit: usize) -> Result<Vec<JournalEvent>, StoreError> {
    let sql = "SELECT e.seq, e.at, e.journal_id, j.correspondent, j.entry_type, e.status_from, e.status_to,
                      CASE WHEN e.status_to = 'refused' THEN e.detail END, j.description, j.extra
               FROM events e JOIN journals j ON j.id = e.journal_id
               WHERE e.seq > $1 AND e.seq <= $2 AND e.journal_id IS NOT NULL AND e.status_to IS NOT NULL ORDER BY e.seq";
    let last = one_int(db, "SELECT last_seq FROM meta")? as u64;
    let mut out = Vec::new();
    let mut from = after_seq;
    while out.len() < limit && from < last {
        let to = from.saturating_add(limit.max(1) as u64).min(last);
        db.query(sql, &[Value::Int(from as i64), Value::Int(to as i64)], &mut |r| {
            let status = |text: Option<String>| text.map(|t| named(&t, JournalStatus::parse, "journal status")).transpose();
            let (seq, at) = (r.int(0)? as u64, Timestamp(r.int(1)?));
            out.push(JournalEvent {
                seq,
                ulid: event_ulid(at, seq),
                at,
                journal_id: JournalId(id_from(&r.blob_ref(2)?)?),
                correspondent: CorrespondentId(id_from(&r.blob_ref(3)?)?),
                entry_type: named(&r.text_ref(4)?, EntryType::parse, "entry type")?,
                status_from: status(r.text_opt(5)?)?,
                status_to: status(Some(r.text(6)?))?.expect("a status"),
                refused_for: match r.text_opt(7)? {
                    Some(detail) => serde_json::from_str::<serde_json::Value>(&detail)
                        .ok()
                        .and_then(|d| d["refused_for"].as_str().and_then(Code::parse)),
                    None => None,
                },
                description: r.text(8)?,
                key: journal_extra_from(r.text_opt(9)?.as_deref())?.and_then(|extra| extra.key),
            });
            Ok(())
        })?;
        from = to;
    }
    out.truncate(limit);
    Ok(out)
}

/// One logged event of a journal, for its timeline: what happened, when, and the audit detail.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HistoryEntry {
    pub seq: u64,
    pub at: Timestamp,
    pub kind: String,
    pub status_from: Option<String>,
    pub status_to: Option<String>,
    /// JSON text: who and why for manual changes, the request for four-eyes.
    pub detail: Option<String>,
    /// The balanced pair of postings the event made, if it moved anything.
    pub movement: Option<Movement>,
}

/// Every logged event of one journal, in order.
pub fn journal_history(db: &mut dyn SqlBackend, journal: JournalId) -> Result<Vec<HistoryEntry>, StoreError> {
    let sql = "SELECT seq, at, kind, status_from, status_to, detail, asset, units, from_book, to_book
               FROM events WHERE journal_id = $1 ORDER BY seq";
    let mut out = Vec::new();
    db.query(sql, &[id(journal.0)], &mut |r| {
        let movement = match (r.text_opt(6)?, r.int_opt(7)?) {
            (Some(asset), Some(units)) => {
                Some(Movement { asset: asset_from(&asset)?, units, from: book_from(&r.blob_ref(8)?)?, to: book_from(&r.blob_ref(9)?)? })
            }
            _ => None,
        };
        out.push(HistoryEntry {
            seq: r.int(0)? as u64,
            at: Timestamp(r.int(1)?),
            kind: r.text(2)?,
            status_from: r.text_opt(3)?,
            status_to: r.text_opt(4)?,
            detail: r.text_opt(5)?,
            movement,
        });
        Ok(())
    })?;
    Ok(out)
}

/// Reads the committed tables apart from the writer: what event streams replay from, and what
/// the ledger keeps out of memory (account profiles).
pub trait LogReader: Send {
    /// Runs `read` over the reader's own connection. A backend may run it again after a lost
    /// connection, so `read` starts from nothing each time.
    fn with_sql(&mut self, read: &mut dyn FnMut(&mut dyn SqlBackend) -> Result<(), StoreError>) -> Result<(), StoreError>;

    /// Journal events after `after_seq`, in order, at most `limit`.
    fn journal_events(&mut self, after_seq: u64, limit: usize) -> Result<Vec<JournalEvent>, StoreError> {
        let mut out = Vec::new();
        self.with_sql(&mut |db| {
            out = journal_events(db, after_seq, limit)?;
            Ok(())
        })?;
        Ok(out)
    }

    /// One journal as committed.
    fn journal(&mut self, id: JournalId) -> Result<Option<Journal>, StoreError> {
        let mut out = None;
        self.with_sql(&mut |db| {
            out = journal(db, id)?;
            Ok(())
        })?;
        Ok(out)
    }

    /// The idempotency keys of `correspondent` among `keys`, as committed (those not stored are
    /// left out).
    fn idempotency_keys(&mut self, correspondent: CorrespondentId, keys: &[&str]) -> Result<Vec<KeyRecord>, StoreError> {
        let mut out = Vec::new();
        self.with_sql(&mut |db| {
            out = idempotency_keys(db, correspondent, keys)?;
            Ok(())
        })?;
        Ok(out)
    }

    /// Journals as committed, newest first ([`journals`]).
    fn journals(&mut self, query: &JournalQuery, limit: usize) -> Result<Vec<Journal>, StoreError> {
        let mut out = Vec::new();
        self.with_sql(&mut |db| {
            out = journals(db, query, limit)?;
            Ok(())
        })?;
        Ok(out)
    }

    fn journal_history(&mut self, journal: JournalId) -> Result<Vec<HistoryEntry>, StoreError> {
        let mut out = Vec::new();
        self.with_sql(&mut |db| {
            out = journal_history(db, journal)?;
            Ok(())
        })?;
        Ok(out)
    }

    /// The whole log against the tables and the checkpoint ([`full_check`]).
    fn full_check(&mut self) -> Result<FullCheck, StoreError> {
        let mut check = FullCheck::default();
        self.with_sql(&mut |db| {
            check = full_check(db)?;
            Ok(())
        })?;
        Ok(check)
    }

    fn balances_against_postings(&mut self) -> Result<PostingCheck, StoreError> {
        let mut check = PostingCheck::default();
        self.with_sql(&mut |db| {
            check = balances_against_postings(db)?;
            Ok(())
        })?;
        Ok(check)
    }

    /// The opening data (KYC, as JSON text) of one account, or of every account of a
    /// correspondent (`None`: of all), for those that have one.
    fn account_profiles(&mut self, of: ProfilesOf) -> Result<Vec<(AccountId, String)>, StoreError> {
        let (condition, params) = match of {
            ProfilesOf::Account(a) => ("id = $1 AND", vec![id(a.0)]),
            ProfilesOf::Correspondent(c) => ("correspondent = $1 AND", vec![id(c.0)]),
            ProfilesOf::All => ("", Vec::new()),
        };
        let mut out = Vec::new();
        profiles_where(self, condition, &params, &mut out)?;
        Ok(out)
    }

    /// The opening data of these accounts (those that have any), read 500 ids a statement.
    fn profiles_of(&mut self, accounts: &[AccountId]) -> Result<Vec<(AccountId, String)>, StoreError> {
        let mut out = Vec::new();
        for chunk in accounts.chunks(500) {
            let marks: Vec<String> = (1..=chunk.len()).map(|i| format!("${i}")).collect();
            let params: Vec<Value> = chunk.iter().map(|a| id(a.0)).collect();
            profiles_where(self, &format!("id IN ({}) AND", marks.join(", ")), &params, &mut out)?;
        }
        Ok(out)
    }
}

/// Accounts' opening data where `condition` (a clause ending in `AND`, or nothing) holds.
fn profiles_where<R: LogReader + ?Sized>(
    reader: &mut R,
    condition: &str,
    params: &[Value],
    out: &mut Vec<(AccountId, String)>,
) -> Result<(), StoreError> {
    let sql = format!("SELECT id, profile FROM accounts WHERE {condition} profile IS NOT NULL AND profile <> ''");
    let kept = out.len();
    reader.with_sql(&mut |db| {
        out.truncate(kept);
        db.query(&sql, params, &mut |r| {
            out.push((AccountId(id_from(&r.blob_ref(0)?)?), r.text(1)?));
            Ok(())
        })
    })
}

/// What [`LogReader::balances_against_postings`] found.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PostingCheck {
    /// Balance rows checked.
    pub balances: u64,
    /// (book, asset, the balance, the sum of its postings) wherever they differ, at most 100.
    pub mismatches: Vec<(Book, Asset, i64, i128)>,
}

/// The balances table against the postings, in one statement (one snapshot): the reconciliation
/// an operator can also run by hand.
pub fn balances_against_postings(db: &mut dyn SqlBackend) -> Result<PostingCheck, StoreError> {
    let mut check = PostingCheck { balances: one_int(db, "SELECT count(*) FROM balances")? as u64, ..PostingCheck::default() };
    let sql = "SELECT coalesce(b.book, p.book), coalesce(b.asset, p.asset), coalesce(b.posted, 0), CAST(coalesce(p.total, 0) AS TEXT)
               FROM balances b FULL OUTER JOIN (
                   SELECT book, asset, sum(units) AS total FROM (
                       SELECT to_book AS book, asset, units FROM postings
                       UNION ALL SELECT from_book AS book, asset, -units AS units FROM postings) AS x
                   GROUP BY book, asset) AS p ON p.book = b.book AND p.asset = b.asset
               WHERE coalesce(b.posted, 0) <> coalesce(p.total, 0) LIMIT 100";
    db.query(sql, &[], &mut |r| {
        let total: i128 = r.text(3)?.parse().map_err(|_| StoreError::Corrupt("unreadable posting sum".into()))?;
        check.mismatches.push((book_from(&r.blob_ref(0)?)?, asset_from(&r.text_ref(1)?)?, r.int(2)?, total));
        Ok(())
    })?;
    Ok(check)
}

/// Whose profiles [`LogReader::account_profiles`] reads.
#[derive(Clone, Copy, Debug)]
pub enum ProfilesOf {
    Account(AccountId),
    Correspondent(CorrespondentId),
    All,
}

/// Loads and verifies a store; `None` when it has never been committed to.
/// Start-up reads the tables and the log after the checkpoint (`checkpoint_summary`), never
/// the whole log: that is [`full_check`]'s, on demand.
pub fn load(db: &mut dyn SqlBackend) -> Result<Option<Loaded>, StoreError> {
    let mut meta = None;
    db.query("SELECT last_seq, last_at, business_date FROM meta", &[], &mut |r| {
        meta = Some((r.int(0)?, r.int(1)?, r.int_opt(2)?));
        Ok(())
    })?;
    let (last_seq, last_at, Some(business_date)) = meta.ok_or_else(|| StoreError::Corrupt("no meta row".into()))? else { return Ok(None) };
    let mut parts = StateParts { business_date: Date(business_date as i32), events_applied: last_seq as u64, ..StateParts::default() };
    let mut max_id = 0u128;
    let mut read_id = |r: &dyn ColumnRead, i: usize| -> Result<u128, StoreError> {
        let id = id_from(&r.blob_ref(i)?)?;
        max_id = max_id.max(id);
        Ok(id)
    };
    load_all(db, &CORRESPONDENTS, &mut |r| {
        let c = Correspondent {
            id: CorrespondentId(read_id(r, 0)?),
            code: r.text(1)?,
            name: r.text(2)?,
            config: config_from(&r.text(3)?)?,
            created_at: Timestamp(r.int(4)?),
        };
        parts.correspondents.push(c);
        Ok(())
    })?;
    load_all(db, &ACCOUNTS, &mut |r| {
        parts.accounts.push(Account {
            id: AccountId(read_id(r, 0)?),
            correspondent: CorrespondentId(read_id(r, 1)?),
            kind: named(&r.text_ref(2)?, AccountKind::parse, "account kind")?,
            status: named(&r.text_ref(3)?, AccountStatus::parse, "account status")?,
            account_number: r.int(4)? as u64,
            currency: currency(&r.text_ref(5)?)?,
            blocks: blocks_from(r.int(6)?),
            limits: r.text_opt(7)?.as_deref().map(limits_from).transpose()?.map(Box::new),
            created_at: Timestamp(r.int(8)?),
        });
        Ok(())
    })?;
    load_all(db, &ASSETS, &mut |r| {
        let text = r.text(0)?;
        let Asset::Security(symbol) = asset_from(&text)? else { return Err(StoreError::Corrupt(format!("asset row {text}"))) };
        let info = AssetInfo {
            symbol,
            id: AssetId(read_id(r, 1)?),
            name: r.text(2)?,
            exchange: r.text(3)?,
            class: r.text(4)?,
            fractionable: r.boolean(5)?,
            price: r.int_opt(6)?,
        };
        parts.assets.push(info);
        Ok(())
    })?;
    // Only the journals that can still move on their own come into memory: those the
    // checkpoint knew as moving, and those the log touched after it, read by their ids. The
    // newest journal gives the next ordinal and the largest journal id.
    let from = Value::Int(one_int(db, "SELECT seq FROM checkpoint_meta")?);
    db.query(&live_journals_sql(), &[from], &mut |r| {
        parts.journals.push(journal_from(r, &mut read_id)?);
        Ok(())
    })?;
    db.query("SELECT id, ordinal FROM journals ORDER BY id DESC LIMIT 1", &[], &mut |r| {
        read_id(r, 0)?;
        parts.next_ordinal = r.int(1)? as u64 + 1;
        Ok(())
    })?;
    load_all(db, &BALANCES, &mut |r| {
        let cost_nanos = match r.text_opt(4)? {
            Some(c) => c.parse::<i128>().map_err(|_| StoreError::Corrupt(format!("unreadable cost {c}")))?,
            None => 0,
        };
        parts.balances.push((
            book_from(&r.blob_ref(0)?)?,
            asset_from(&r.text_ref(1)?)?,
            Balance { posted: r.int(2)?, held: r.int(3)?, cost_nanos },
        ));
        Ok(())
    })?;
    load_all(db, &TRANSFERS, &mut |r| {
        parts.transfers.push(Transfer {
            id: TransferId(read_id(r, 0)?),
            account: AccountId(read_id(r, 1)?),
            correspondent: CorrespondentId(read_id(r, 2)?),
            direction: named(&r.text_ref(3)?, TransferDirection::parse, "direction")?,
            kind: named(&r.text_ref(4)?, TransferKind::parse, "transfer kind")?,
            currency: currency(&r.text_ref(5)?)?,
            amount: r.int(6)?,
            status: named(&r.text_ref(7)?, TransferStatus::parse, "transfer status")?,
            created_at: Timestamp(r.int(8)?),
            updated_at: Timestamp(r.int(9)?),
        });
        Ok(())
    })?;
    load_all(db, &OVERDRAFTS, &mut |r| {
        parts.overdrafts.push((AccountId(read_id(r, 0)?), currency(&r.text_ref(1)?)?, r.int(2)?));
        Ok(())
    })?;
    // Only the keys of the last day (an index by age): older ones are read back when a
    // request names one (`idempotency_key`).
    let recent = Value::Int(last_at.saturating_sub(KEYS_LOADED_FOR_MICROS));
    db.query(&format!("SELECT {} FROM idempotency_keys WHERE created_at >= $1", KEYS.column_list()), &[recent], &mut |r| {
        read_id(r, 0)?;
        parts.keys.push(key_from(r)?);
        Ok(())
    })?;
    load_all(db, &DAILY, &mut |r| {
        parts.daily_used.push((AccountId(read_id(r, 0)?), limit_key_from(&r.text_ref(1)?)?, r.int(2)?));
        Ok(())
    })?;
    load_all(db, &API_KEYS, &mut |r| {
        let owner = match r.text(2)?.as_str() {
            "operator" => KeyOwner::Operator,
            _ => KeyOwner::Correspondent(CorrespondentId(id_from(&r.blob_ref(1)?)?)),
        };
        let secret: [u8; 32] = r.blob(3)?.try_into().map_err(|_| StoreError::Corrupt("unreadable key hash".into()))?;
        parts.api_keys.push(ApiKey {
            key_id: r.text(0)?,
            owner,
            secret_sha256: secret,
            created_at: Timestamp(r.int(4)?),
            revoked: r.boolean(5)?,
            name: r.text_opt(6)?,
        });
        Ok(())
    })?;
    load_all(db, &CONFIRMATIONS, &mut |r| {
        parts.confirmations.push(confirmation_from(id_from(&r.blob_ref(0)?)?, &r.text(1)?)?);
        Ok(())
    })?;
    load_all(db, &DONE_ALONE, &mut |r| {
        parts.done_alone.push((r.text(0)?, r.int(1)?));
        Ok(())
    })?;
    db.query("SELECT id, email FROM accounts WHERE email IS NOT NULL", &[], &mut |r| {
        parts.emails.push((AccountId(id_from(&r.blob_ref(0)?)?), r.text(1)?));
        Ok(())
    })?;
    let log = checkpoint_summary(db)?;
    if log.last_seq != last_seq as u64 {
        return Err(StoreError::Corrupt(format!("the log was summarized at event {} but the tables end at {last_seq}", log.last_seq)));
    }
    verify(&parts, &log)?;
    // A log that ran far past its checkpoint (a store from before checkpoints, a long run
    // ended before a commit moved it) hands the verified sums to the backend to write.
    let checkpoint = (log.last_seq - log.from_seq > CHECKPOINT_EVERY).then(|| Checkpoint {
        replaces: log.from_seq,
        seq: log.last_seq,
        journals: log.journals_created,
        sums: log.posting_sums.iter().map(|(&(book, asset), &units)| (book, asset, units)).collect(),
        live: parts.journals.iter().map(|j| j.id).collect(),
    });
    let state = State::restore(parts).map_err(StoreError::Corrupt)?;
    Ok(Some(Loaded { state, last_seq: last_seq as u64, last_at: Timestamp(last_at), max_id, checkpoint }))
}

/// Idempotency keys loaded at start-up: those created within a day of the log's end (the
/// default retention); the sequencer reads older ones back, and lets go of those past its own
/// retention.
pub const KEYS_LOADED_FOR_MICROS: i64 = 24 * 3_600 * 1_000_000;

fn key_from(r: &dyn ColumnRead) -> Result<KeyRecord, StoreError> {
    Ok(KeyRecord {
        correspondent: CorrespondentId(id_from(&r.blob_ref(0)?)?),
        key: r.text(1)?,
        kind: named(&r.text_ref(2)?, KeyKind::parse, "key kind")?,
        fingerprint: id_from(&r.blob_ref(3)?)?,
        journals: ids_from(&r.blob(4)?)?,
        created_at: Timestamp(r.int(5)?),
    })
}

/// The sizes of the key lists one statement asks for: a shorter list is padded (with its last
/// key again) to the next, so that a backend prepares a few statements, not one per length.
const KEY_LISTS: [usize; 4] = [1, 8, 64, 512];

/// The idempotency keys of `correspondent` among `keys`, as committed: one statement per 512.
pub fn idempotency_keys(db: &mut dyn SqlBackend, correspondent: CorrespondentId, keys: &[&str]) -> Result<Vec<KeyRecord>, StoreError> {
    let mut found = Vec::new();
    for chunk in keys.chunks(KEY_LISTS[KEY_LISTS.len() - 1]) {
        let size = KEY_LISTS.into_iter().find(|size| *size >= chunk.len()).unwrap_or(chunk.len());
        let list: Vec<String> = (2..size + 2).map(|i| format!("${i}")).collect();
        let sql = format!("SELECT {} FROM idempotency_keys WHERE correspondent = $1 AND key IN ({})", KEYS.column_list(), list.join(", "));
        let mut params = vec![id(correspondent.0)];
        params.extend((0..size).map(|i| Value::Text(chunk[i.min(chunk.len() - 1)].to_owned())));
        db.query(&sql, &params, &mut |r| {
            found.push(key_from(r)?);
            Ok(())
        })?;
    }
    Ok(found)
}

/// The journals that can still move without an operator.
pub const LIVE_JOURNALS: &str = "status IN ('queued', 'sent_to_clearing', 'pending')";

/// The journals that can still move, found without an index over every journal: those the
/// checkpoint at event `$1` held as moving (`checkpoint_live`) and those any later event names,
/// each read by its id, kept where it still moves.
fn live_journals_sql() -> String {
    format!(
        "SELECT {} FROM journals WHERE id IN (
             SELECT id FROM checkpoint_live
             UNION SELECT journal_id FROM events WHERE seq > $1 AND journal_id IS NOT NULL
         ) AND {LIVE_JOURNALS}",
        JOURNALS.column_list()
    )
}

/// One journal as committed.
pub fn journal(db: &mut dyn SqlBackend, journal: JournalId) -> Result<Option<Journal>, StoreError> {
    let sql = format!("SELECT {} FROM journals WHERE id = $1", JOURNALS.column_list());
    let mut found = None;
    db.query(&sql, &[id(journal.0)], &mut |r| {
        found = Some(journal_from(r, &mut |r, i| id_from(&r.blob_ref(i)?))?);
        Ok(())
    })?;
    Ok(found)
}

/// Which journals [`journals`] reads: every condition that is set must hold.
#[derive(Clone, Debug, Default)]
pub struct JournalQuery {
    pub correspondent: Option<CorrespondentId>,
    pub status: Option<JournalStatus>,
    pub entry_type: Option<EntryType>,
    pub from: Option<AccountId>,
    pub to: Option<AccountId>,
    /// Either side of the journal.
    pub account: Option<AccountId>,
    /// Created at or after, and before (microseconds).
    pub created_from: Option<Timestamp>,
    pub created_before: Option<Timestamp>,
    /// Only journals with a lower id (a page's cursor, newest first).
    pub below: Option<JournalId>,
    /// Booked on this business day.
    pub booked_on: Option<Date>,
    /// Last changed at or after, and before (microseconds).
    pub updated_from: Option<Timestamp>,
    pub updated_before: Option<Timestamp>,
    /// By when they last changed (booked journals only: their index), not newest id first.
    pub by_update: Option<Direction>,
    /// Whose description holds this text, in any case (ASCII letters).
    pub text: Option<String>,
    /// The journals committed since the index by account's last run, from the sequencer: an
    /// account's journals after that run are read from here rather than from the log's tail.
    pub recent: Option<crate::RecentJournals>,
}

/// An order of a read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    Ascending,
    Descending,
}

/// Journals as committed, newest first, at most `limit`, each read through an index: the
/// primary key walked backwards, the booked journals' by when they changed, or, for an
/// account's journals, the index by account ([`journals_of_account`]).
pub fn journals(db: &mut dyn SqlBackend, q: &JournalQuery, limit: usize) -> Result<Vec<Journal>, StoreError> {
    let (mut conditions, params) = journal_conditions(q);
    if q.by_update.is_none() {
        if let Some(account) = q.account.or(q.from).or(q.to) {
            return journals_of_account(db, q, account, (conditions, params), limit);
        }
    }
    if q.by_update.is_some() {
        conditions.push("booked_on IS NOT NULL".to_owned());
    }
    let filter = if conditions.is_empty() { String::new() } else { format!(" WHERE {}", conditions.join(" AND ")) };
    let order = match q.by_update {
        None => "id DESC",
        Some(Direction::Descending) => "updated_at DESC, id DESC",
        Some(Direction::Ascending) => "updated_at, id",
    };
    let sql = format!("SELECT {} FROM journals{filter} ORDER BY {order} LIMIT {}", JOURNALS.column_list(), limit);
    let mut out = Vec::new();
    db.query(&sql, &params, &mut |r| {
        out.push(journal_from(r, &mut |r, i| id_from(&r.blob_ref(i)?))?);
        Ok(())
    })?;
    Ok(out)
}

/// The query's conditions as SQL over `journals`, with their parameters (`$1`, `$2`, ...).
fn journal_conditions(q: &JournalQuery) -> (Vec<String>, Vec<Value>) {
    let mut conditions: Vec<String> = Vec::new();
    let mut params: Vec<Value> = Vec::new();
    let mut with = |template: &str, value: Value| {
        params.push(value);
        conditions.push(template.replace('?', &format!("${}", params.len())));
    };
    if let Some(c) = q.correspondent {
        with("correspondent = ?", id(c.0));
    }
    if let Some(status) = q.status {
        with("status = ?", Value::Static(status.as_str()));
    }
    if let Some(t) = q.entry_type {
        with("entry_type = ?", Value::Static(t.as_str()));
    }
    if let Some(a) = q.from {
        with("from_account = ?", id(a.0));
    }
    if let Some(a) = q.to {
        with("to_account = ?", id(a.0));
    }
    if let Some(a) = q.account {
        with("(from_account = ? OR to_account = ?)", id(a.0));
    }
    if let Some(t) = q.created_from {
        with("created_at >= ?", Value::Int(t.0));
    }
    if let Some(t) = q.created_before {
        with("created_at < ?", Value::Int(t.0));
    }
    if let Some(below) = q.below {
        with("id < ?", id(below.0));
    }
    if let Some(text) = &q.text {
        let escaped: String = text.chars().flat_map(|c| if matches!(c, '%' | '_' | '!') { vec!['!', c] } else { vec![c] }).collect();
        with("lower(description) LIKE lower(?) ESCAPE '!'", Value::Text(format!("%{escaped}%")));
    }
    if let Some(day) = q.booked_on {
        with("booked_on = ?", Value::Int(i64::from(day.0)));
    }
    if let Some(t) = q.updated_from {
        with("updated_at >= ?", Value::Int(t.0));
    }
    if let Some(t) = q.updated_before {
        with("updated_at < ?", Value::Int(t.0));
    }
    (conditions, params)
}

/// Ids of recent journals looked up together: a fixed number, so that one statement serves.
const RECENT_CHUNK: usize = 64;

/// An account's journals, newest first: first those after the index's last run (from memory
/// when the query carries [`JournalQuery::recent`], else from the primary key above the run's
/// highest id), then each run of the index newest first, until `limit` are found. Runs are read
/// after the recent ones, so a journal that moved from memory into a new run meanwhile is found
/// there (and taken once).
fn journals_of_account(
    db: &mut dyn SqlBackend,
    q: &JournalQuery,
    account: AccountId,
    (conditions, params): (Vec<String>, Vec<Value>),
    limit: usize,
) -> Result<Vec<Journal>, StoreError> {
    let mut out: Vec<Journal> = Vec::new();
    let mut seen = std::collections::HashSet::new();
    let filter = |extra: &str| {
        let mut all = conditions.clone();
        all.push(extra.to_owned());
        all.join(" AND ")
    };
    let columns = JOURNALS.column_list();
    let n = params.len();
    // Runs `sql` with the query's parameters and `more` after them; keeps each journal once.
    let mut read = |db: &mut dyn SqlBackend, sql: &str, more: Vec<Value>, out: &mut Vec<Journal>| {
        let all: Vec<Value> = params.iter().cloned().chain(more).collect();
        db.query(sql, &all, &mut |r| {
            let journal = journal_from(r, &mut |r, i| id_from(&r.blob_ref(i)?))?;
            if seen.insert(journal.id) {
                out.push(journal);
            }
            Ok(())
        })
    };
    // Ids newest first, looked up a chunk at a time with the query's conditions; a short chunk
    // repeats an id to fill the statement's list.
    let in_list: Vec<String> = (1..=RECENT_CHUNK).map(|i| format!("${}", n + i)).collect();
    let by_ids = format!("SELECT {columns} FROM journals WHERE {} ORDER BY id DESC", filter(&format!("id IN ({})", in_list.join(", "))));
    let listed = |ids: &[JournalId]| -> Vec<Value> { (0..RECENT_CHUNK).map(|i| id(ids.get(i).or(ids.first()).map_or(0, |j| j.0))).collect() };
    match &q.recent {
        Some(recent) => {
            let mut cursor = q.below;
            while out.len() < limit {
                let ids = recent.newest(account, cursor, RECENT_CHUNK);
                let Some(&oldest) = ids.last() else { break };
                cursor = Some(oldest);
                read(db, &by_ids, listed(&ids), &mut out)?;
            }
        }
        None => {
            if let (_, Some(high)) = last_run(db)? {
                let sql =
                    format!("SELECT {columns} FROM journals WHERE {} ORDER BY id DESC LIMIT {limit}", filter(&format!("id > ${}", n + 1)));
                read(db, &sql, vec![id(high)], &mut out)?;
            } else {
                // Nothing indexed yet: every journal is recent.
                let sql = format!("SELECT {columns} FROM journals WHERE {} ORDER BY id DESC LIMIT {limit}", conditions.join(" AND "));
                read(db, &sql, Vec::new(), &mut out)?;
                return Ok(out);
            }
        }
    }
    out.truncate(limit);
    if out.len() >= limit {
        return Ok(out);
    }
    let mut runs: Vec<(i64, u128)> = Vec::new();
    db.query("SELECT run, low FROM journal_runs ORDER BY run DESC", &[], &mut |r| {
        runs.push((r.int(0)?, id_from(&r.blob_ref(1)?)?));
        Ok(())
    })?;
    'runs: for (run, low) in runs {
        if q.below.is_some_and(|below| low >= below.0) {
            continue;
        }
        // The account's chunks in this run, newest first, one at a time, each below the last.
        let mut cursor = q.below;
        loop {
            let mut sql = "SELECT first, journals FROM account_chunks WHERE run = $1 AND account = $2".to_owned();
            let mut params = vec![Value::Int(run), id(account.0)];
            if let Some(below) = cursor {
                sql.push_str(" AND first < $3");
                params.push(id(below.0));
            }
            sql.push_str(" ORDER BY first DESC LIMIT 1");
            let mut chunk = None;
            db.query(&sql, &params, &mut |r| {
                chunk = Some((id_from(&r.blob_ref(0)?)?, ids_from(&r.blob_ref(1)?)?));
                Ok(())
            })?;
            let Some((first, ids)) = chunk else { continue 'runs };
            let newest: Vec<JournalId> = ids.into_iter().rev().filter(|j| cursor.is_none_or(|below| *j < below)).collect();
            for group in newest.chunks(RECENT_CHUNK) {
                read(db, &by_ids, listed(group), &mut out)?;
                if out.len() >= limit {
                    break 'runs;
                }
            }
            cursor = Some(JournalId(first));
        }
    }
    out.truncate(limit);
    Ok(out)
}

fn load_all(
    db: &mut dyn SqlBackend,
    table: &Table,
    each: &mut dyn FnMut(&dyn ColumnRead) -> Result<(), StoreError>,
) -> Result<(), StoreError> {
    db.query(&format!("SELECT {} FROM {}", table.column_list(), table.name), &[], each)
}

fn currency(text: &str) -> Result<Currency, StoreError> {
    Currency::parse(text).map_err(|_| StoreError::Corrupt(format!("unreadable currency {text}")))
}

fn journal_from(
    r: &dyn ColumnRead,
    read_id: &mut dyn FnMut(&dyn ColumnRead, usize) -> Result<u128, StoreError>,
) -> Result<Journal, StoreError> {
    Ok(Journal {
        id: JournalId(read_id(r, 0)?),
        correspondent: CorrespondentId(read_id(r, 1)?),
        entry_type: named(&r.text_ref(2)?, EntryType::parse, "entry type")?,
        from: AccountId(read_id(r, 3)?),
        to: AccountId(read_id(r, 4)?),
        status: named(&r.text_ref(5)?, JournalStatus::parse, "journal status")?,
        asset: asset_from(&r.text_ref(6)?)?,
        units: r.int(7)?,
        price: r.int_opt(8)?,
        description: r.text(9)?.into_boxed_str(),
        extra: journal_extra_from(r.text_opt(10)?.as_deref())?,
        flow: named(&r.text_ref(11)?, JnlcFlow::parse, "flow")?,
        hold: named(&r.text_ref(12)?, Hold::parse, "hold")?,
        limit_counted: r.int(13)?,
        created_at: Timestamp(r.int(14)?),
        updated_at: Timestamp(r.int(15)?),
        booked_on: r.int_opt(16)?.map(|d| Date(d as i32)),
        ordinal: r.int(17)? as u64,
    })
}

/// The first column of the first row of a query that answers one integer.
fn one_int(db: &mut dyn SqlBackend, sql: &str) -> Result<i64, StoreError> {
    let mut value = None;
    db.query(sql, &[], &mut |r| {
        value = Some(r.int(0)?);
        Ok(())
    })?;
    value.ok_or_else(|| StoreError::Corrupt(format!("no answer to {sql}")))
}

/// The log's summary from its checkpoint: the checkpoint's sums and count, and the log read
/// after it (at most about [`CHECKPOINT_EVERY`] events). The journals table is counted by its
/// newest journal's ordinal.
pub fn checkpoint_summary(db: &mut dyn SqlBackend) -> Result<LogSummary, StoreError> {
    let mut log = LogSummary { last_seq: one_int(db, "SELECT last_seq FROM meta")? as u64, ..LogSummary::default() };
    let mut journals_before = 0;
    db.query("SELECT seq, journals FROM checkpoint_meta", &[], &mut |r| {
        (log.from_seq, journals_before) = (r.int(0)? as u64, r.int(1)? as u64);
        Ok(())
    })?;
    let from = Value::Int(log.from_seq as i64);
    let mut sums: HashMap<(Book, Asset), i128> = HashMap::new();
    db.query("SELECT book, asset, units FROM checkpoint", &[], &mut |r| {
        sums.insert((book_from(&r.blob_ref(0)?)?, asset_from(&r.text_ref(1)?)?), i128::from(r.int(2)?));
        Ok(())
    })?;
    db.query("SELECT coalesce(max(seq), $1), count(*) FROM events WHERE seq > $1", std::slice::from_ref(&from), &mut |r| {
        (log.max_seq, log.events) = (r.int(0)? as u64, r.int(1)? as u64);
        Ok(())
    })?;
    db.query("SELECT count(*) FROM events WHERE seq > $1 AND kind = 'journal_created'", std::slice::from_ref(&from), &mut |r| {
        log.journals_created = journals_before + r.int(0)? as u64;
        Ok(())
    })?;
    db.query("SELECT ordinal FROM journals ORDER BY id DESC LIMIT 1", &[], &mut |r| {
        log.journal_rows = r.int(0)? as u64;
        Ok(())
    })?;
    db.query("SELECT asset, units, from_book, to_book FROM postings WHERE seq > $1", std::slice::from_ref(&from), &mut |r| {
        let (asset, units) = (asset_from(&r.text_ref(0)?)?, i128::from(r.int(1)?));
        *sums.entry((book_from(&r.blob_ref(2)?)?, asset)).or_default() -= units;
        *sums.entry((book_from(&r.blob_ref(3)?)?, asset)).or_default() += units;
        Ok(())
    })?;
    log.posting_sums = sums;
    Ok(log)
}

/// A checkpoint to write: the log's sums per book and asset, and its created journals, up to
/// event `seq`.
#[derive(Clone, Debug, Default)]
pub struct Checkpoint {
    /// The event of the checkpoint the store holds, which this one replaces.
    pub replaces: u64,
    pub seq: u64,
    pub journals: u64,
    pub sums: Vec<(Book, Asset, i128)>,
    /// The journals still moving at `seq`.
    pub live: Vec<JournalId>,
}

/// Writes a checkpoint in place of the one the store holds (inside the backend's transaction).
pub fn write_checkpoint(db: &mut dyn SqlBackend, checkpoint: &Checkpoint) -> Result<(), StoreError> {
    // First, and only where the stored checkpoint is still the one replaced: two processes
    // loading one store at once write one checkpoint, not a mix of two.
    let moved = db.execute(
        "UPDATE checkpoint_meta SET seq = $1, journals = $2 WHERE seq = $3",
        &[Value::Int(checkpoint.seq as i64), Value::Int(checkpoint.journals as i64), Value::Int(checkpoint.replaces as i64)],
    )?;
    if moved != 1 {
        return Err(StoreError::Backend(format!("the checkpoint at event {} was moved meanwhile", checkpoint.replaces)));
    }
    db.execute("DELETE FROM checkpoint", &[])?;
    let rows: Vec<Vec<Value>> = checkpoint
        .sums
        .iter()
        .filter(|(_, _, units)| *units != 0)
        .map(|&(b, a, units)| vec![book(b), asset(a), Value::Int(units as i64)])
        .collect();
    for chunk in rows.chunks(10_000) {
        db.write(&CHECKPOINT, chunk.to_vec())?;
    }
    db.execute("DELETE FROM checkpoint_live", &[])?;
    let live: Vec<Vec<Value>> = checkpoint.live.iter().map(|j| vec![id(j.0)]).collect();
    for chunk in live.chunks(10_000) {
        db.write(&CHECKPOINT_LIVE, chunk.to_vec())?;
    }
    Ok(())
}

/// What the whole log says, against every table that follows from it: the check start-up
/// leaves to the checkpoint, on demand (`cashier verify`, reconciliation, the console).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FullCheck {
    pub events: u64,
    pub journals: u64,
    pub balances: u64,
    /// The checkpoint's event, and its rows checked.
    pub checkpoint_seq: u64,
    pub checkpoint_rows: u64,
    /// Journals the index by account covers, each checked to be entered under both its sides.
    pub indexed: u64,
    /// What disagrees, at most 100; empty when everything reconciles.
    pub problems: Vec<String>,
}

/// Reads the whole log once and checks against it: no gap in the sequence, a journal row for
/// every created journal, every balance the sum of its postings, and the checkpoint the sum of
/// the postings up to its event with the journals created by then.
pub fn full_check(db: &mut dyn SqlBackend) -> Result<FullCheck, StoreError> {
    let mut check = FullCheck::default();
    let mut problems = Vec::new();
    let last_seq = one_int(db, "SELECT last_seq FROM meta")? as u64;
    let mut journals_at_checkpoint = 0;
    db.query("SELECT seq, journals FROM checkpoint_meta", &[], &mut |r| {
        (check.checkpoint_seq, journals_at_checkpoint) = (r.int(0)? as u64, r.int(1)? as u64);
        Ok(())
    })?;
    let mut log = LogSummary { last_seq, ..LogSummary::default() };
    let mut upto_checkpoint: HashMap<(Book, Asset), i128> = HashMap::new();
    let mut created_by_checkpoint = 0u64;
    let cp = check.checkpoint_seq;
    db.query("SELECT seq, kind, asset, units, from_book, to_book FROM events ORDER BY seq", &[], &mut |r| {
        let seq = r.int(0)? as u64;
        log.events += 1;
        log.max_seq = log.max_seq.max(seq);
        if r.text_ref(1)? == "journal_created" {
            log.journals_created += 1;
            created_by_checkpoint += u64::from(seq <= cp);
        }
        if let (Some(asset), Some(units)) = (r.text_opt(2)?, r.int_opt(3)?) {
            let (asset, units) = (asset_from(&asset)?, i128::from(units));
            let (from, to) = (book_from(&r.blob_ref(4)?)?, book_from(&r.blob_ref(5)?)?);
            for sums in [Some(&mut log.posting_sums), (seq <= cp).then_some(&mut upto_checkpoint)].into_iter().flatten() {
                *sums.entry((from, asset)).or_default() -= units;
                *sums.entry((to, asset)).or_default() += units;
            }
        }
        Ok(())
    })?;
    log.journal_rows = one_int(db, "SELECT count(*) FROM journals")? as u64;
    (check.events, check.journals) = (log.events, log.journal_rows);
    let mut parts = StateParts { events_applied: last_seq, ..StateParts::default() };
    db.query("SELECT book, asset, posted FROM balances", &[], &mut |r| {
        parts.balances.push((
            book_from(&r.blob_ref(0)?)?,
            asset_from(&r.text_ref(1)?)?,
            Balance { posted: r.int(2)?, ..Balance::default() },
        ));
        Ok(())
    })?;
    check.balances = parts.balances.len() as u64;
    if let Err(problem) = verify(&parts, &log) {
        problems.push(problem.to_string());
    }
    // Every balance against its postings, not only the first that disagrees.
    for (book, asset, balance) in &parts.balances {
        let posted = log.posting_sums.get(&(*book, *asset)).copied().unwrap_or(0);
        if i128::from(balance.posted) != posted && problems.len() < 100 {
            problems.push(format!("the balance of {book} in {asset} is {} but its postings sum to {posted}", balance.posted));
        }
    }
    if created_by_checkpoint != journals_at_checkpoint {
        problems.push(format!(
            "the checkpoint at event {cp} counts {journals_at_checkpoint} journals but the log had created {created_by_checkpoint}"
        ));
    }
    let mut seen = 0usize;
    db.query("SELECT book, asset, units FROM checkpoint", &[], &mut |r| {
        let (book, asset, units) = (book_from(&r.blob_ref(0)?)?, asset_from(&r.text_ref(1)?)?, i128::from(r.int(2)?));
        check.checkpoint_rows += 1;
        let logged = upto_checkpoint.get(&(book, asset)).copied().unwrap_or(0);
        if logged != units && problems.len() < 100 {
            problems.push(format!("the checkpoint at event {cp} holds {units} of {asset} for {book} but the log sums to {logged}"));
        }
        seen += usize::from(logged != 0);
        Ok(())
    })?;
    if upto_checkpoint.values().filter(|&&sum| sum != 0).count() > seen {
        problems.push(format!("the log up to event {cp} posts to a book the checkpoint does not hold"));
    }
    let moving = one_int(db, &format!("SELECT count(*) FROM journals WHERE {LIVE_JOURNALS}"))?;
    let mut found = 0i64;
    db.query(&live_journals_sql(), &[Value::Int(cp as i64)], &mut |_| {
        found += 1;
        Ok(())
    })?;
    if found != moving {
        problems.push(format!(
            "{moving} journals can still move but start-up finds {found} of them (the checkpoint's moving journals and the log after it)"
        ));
    }
    // The index by account: each journal up to its last run entered once under each side, in
    // the run whose range holds it, and nothing else entered. A run at a time.
    let mut runs: Vec<(i64, u128, u128, i64)> = Vec::new();
    db.query("SELECT run, low, high, journals FROM journal_runs ORDER BY run", &[], &mut |r| {
        runs.push((r.int(0)?, id_from(&r.blob_ref(1)?)?, id_from(&r.blob_ref(2)?)?, r.int(3)?));
        Ok(())
    })?;
    let mut after = 0u128;
    for (run, low, high, journals) in runs {
        if low <= after || high < low {
            problems.push(format!("run {run} of the index by account overlaps the run before it"));
        }
        // Each journal of the run's range, with how many of its two sides were found entered.
        let mut sides: HashMap<u128, (u128, u128, u8)> = HashMap::new();
        db.query("SELECT id, from_account, to_account FROM journals WHERE id > $1 AND id <= $2", &[id(after), id(high)], &mut |r| {
            sides.insert(id_from(&r.blob_ref(0)?)?, (id_from(&r.blob_ref(1)?)?, id_from(&r.blob_ref(2)?)?, 0));
            Ok(())
        })?;
        let mut strays = 0u64;
        db.query("SELECT account, first, journals FROM account_chunks WHERE run = $1", &[Value::Int(run)], &mut |r| {
            let account = id_from(&r.blob_ref(0)?)?;
            let ids = ids_from(&r.blob_ref(2)?)?;
            if ids.first().map(|j| j.0) != Some(id_from(&r.blob_ref(1)?)?) || ids.windows(2).any(|w| w[0] >= w[1]) {
                strays += 1;
            }
            for journal in ids {
                // Its `from` side, then its `to` side, each once.
                let side = match sides.get(&journal.0) {
                    Some((from, _, found)) if *from == account && found & 1 == 0 => 1,
                    Some((_, to, found)) if *to == account && found & 2 == 0 => 2,
                    _ => 0,
                };
                match sides.get_mut(&journal.0) {
                    Some((.., found)) if side != 0 => *found |= side,
                    _ => strays += 1,
                }
            }
            Ok(())
        })?;
        let unentered = sides.values().filter(|(.., found)| *found != 3).count();
        check.indexed += sides.len() as u64;
        if strays > 0 {
            problems.push(format!("{strays} entries of run {run} of the index by account name no journal of that account, or are out of order"));
        }
        if unentered > 0 || sides.len() as i64 != journals {
            problems.push(format!(
                "run {run} of the index by account covers {} journals ({journals} by its count), of which {unentered} are not entered once under each side",
                sides.len()
            ));
        }
        after = high;
    }
    check.problems = problems;
    Ok(check)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Record;

    fn batch(first: u64, events: u64) -> Batch {
        let event = Event { at: Timestamp(1), kind: EventKind::BusinessDayAdvanced { from: Date(1), to: Date(2) } };
        let records = (first..first + events).map(|seq| Record { seq, ulid: 0, event: event.clone(), journal: None }).collect();
        Batch { records, rows: Rows::default(), index_journals: false }
    }

    fn advances(batch: &Batch) -> Vec<Value> {
        batch_ops(batch)
            .ops
            .into_iter()
            .filter_map(|op| match op {
                Op::AdvanceCheckpoint(upto) => Some(Value::Int(upto as i64)),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn a_commit_that_crosses_a_checkpoint_boundary_moves_the_checkpoint_to_where_it_starts() {
        let every = CHECKPOINT_EVERY;
        assert!(advances(&batch(1, 10)).is_empty());
        assert!(advances(&batch(every - 10, 10)).is_empty(), "up to the boundary, not past it");
        let crossing = advances(&batch(every - 10, 11));
        assert_eq!(crossing, vec![Value::Int((every - 11) as i64)], "up to the event before the batch");
        assert_eq!(advances(&batch(3 * every + 5, 2 * every)), vec![Value::Int((3 * every + 4) as i64)], "once for a long batch");
    }
}
