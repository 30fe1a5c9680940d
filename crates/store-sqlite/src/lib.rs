//! The embedded default store: one SQLite file.
//!
//! WAL mode with `synchronous = FULL`: a commit returns once its WAL frames are on disk, so it
//! survives power loss, not only a process crash. Migrations run when the store opens. The log
//! (`events`, `postings`) and the tables are written in one transaction per batch.
//!
//! **Invariant:** this crate knows SQL for SQLite and nothing of HTTP or the sequencer's
//! threading; it converts values only through `cashier_store::codec`.

use cashier_core::*;
use cashier_store::codec::*;
use cashier_store::{verify, Batch, Loaded, LogSummary, Record, Rows, Store, StoreError};
use rusqlite::{params, Connection, Transaction};
use std::collections::HashMap;
use std::path::Path;

/// The file name of the store inside a data directory.
pub const FILE_NAME: &str = "cashier.db";

const MIGRATIONS: &[&str] = &[include_str!("../migrations/001_ledger.sql")];

pub struct SqliteStore {
    conn: Connection,
}

impl SqliteStore {
    /// Opens (creating if needed) the store file and brings its schema up to date.
    pub fn open(path: &Path) -> Result<SqliteStore, StoreError> {
        let conn = Connection::open(path).map_err(StoreError::backend)?;
        conn.execute_batch(
            "PRAGMA journal_mode = WAL;
             PRAGMA synchronous = FULL;
             PRAGMA foreign_keys = OFF;
             PRAGMA busy_timeout = 5000;
             PRAGMA wal_autocheckpoint = 10000;",
        )
        .map_err(StoreError::backend)?;
        let mut store = SqliteStore { conn };
        store.migrate()?;
        Ok(store)
    }

    /// Opens the store in a data directory.
    pub fn open_in(dir: &Path) -> Result<SqliteStore, StoreError> {
        std::fs::create_dir_all(dir).map_err(StoreError::backend)?;
        SqliteStore::open(&dir.join(FILE_NAME))
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
        load(&self.conn).map_err(map_load_error)
    }

    fn commit(&mut self, batch: &Batch) -> Result<(), StoreError> {
        let tx = self.conn.transaction().map_err(StoreError::backend)?;
        write_log(&tx, &batch.records).map_err(StoreError::backend)?;
        write_rows(&tx, &batch.rows).map_err(StoreError::backend)?;
        if let Some(last) = batch.records.last() {
            tx.execute("UPDATE meta SET last_seq = ?1, last_at = ?2", params![last.seq as i64, last.event.at.0])
                .map_err(StoreError::backend)?;
        }
        tx.commit().map_err(StoreError::backend)
    }
}

fn write_log(tx: &Transaction<'_>, records: &[Record]) -> rusqlite::Result<()> {
    let mut events = tx.prepare_cached(
        "INSERT INTO events (seq, ulid, at, kind, journal_id, status_from, status_to, detail) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    )?;
    let mut postings = tx.prepare_cached("INSERT INTO postings (seq, asset, units, from_book, to_book) VALUES (?1, ?2, ?3, ?4, ?5)")?;
    for record in records {
        let c = event_columns(&record.event);
        let ulid = id_bytes(record.ulid);
        events.execute(params![
            record.seq as i64,
            &ulid[..],
            record.event.at.0,
            c.kind,
            c.journal_id.as_ref().map(|b| &b[..]),
            c.status_from,
            c.status_to,
            c.detail
        ])?;
        if let Some(m) = record.event.movement() {
            postings.execute(params![record.seq as i64, asset_text(m.asset), m.units, book_bytes(m.from), book_bytes(m.to)])?;
        }
    }
    Ok(())
}

fn write_rows(tx: &Transaction<'_>, rows: &Rows) -> rusqlite::Result<()> {
    tx.execute("UPDATE meta SET business_date = ?1", params![rows.business_date.0])?;
    for c in &rows.correspondents {
        tx.prepare_cached("INSERT OR REPLACE INTO correspondents (id, code, name, config, created_at) VALUES (?1, ?2, ?3, ?4, ?5)")?
            .execute(params![&id_bytes(c.id.0)[..], c.code, c.name, config_json(&c.config), c.created_at.0])?;
    }
    for a in &rows.accounts {
        tx.prepare_cached(
            "INSERT INTO accounts (id, correspondent, kind, status, account_number, currency, blocks, limits, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)
             ON CONFLICT (id) DO UPDATE SET status = excluded.status, blocks = excluded.blocks, limits = excluded.limits",
        )?
        .execute(params![
            &id_bytes(a.id.0)[..],
            &id_bytes(a.correspondent.0)[..],
            a.kind.as_str(),
            a.status.as_str(),
            a.account_number as i64,
            a.currency.as_str(),
            blocks_bits(a.blocks),
            a.limits.as_ref().map(limits_json),
            a.created_at.0
        ])?;
    }
    for (id, profile) in &rows.profiles {
        tx.prepare_cached("UPDATE accounts SET profile = ?2 WHERE id = ?1")?.execute(params![&id_bytes(id.0)[..], profile])?;
    }
    for a in &rows.assets {
        tx.prepare_cached(
            "INSERT OR REPLACE INTO assets (symbol, id, name, exchange, class, fractionable, price) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        )?
        .execute(params![a.symbol.as_str(), &id_bytes(a.id.0)[..], a.name, a.exchange, a.class, a.fractionable, a.price])?;
    }
    let mut balance =
        tx.prepare_cached("INSERT OR REPLACE INTO balances (book, asset, posted, held, cost_nanos) VALUES (?1, ?2, ?3, ?4, ?5)")?;
    for (book, asset, b) in &rows.balances {
        let cost = (b.cost_nanos != 0).then(|| b.cost_nanos.to_string());
        balance.execute(params![book_bytes(*book), asset_text(*asset), b.posted, b.held, cost])?;
    }
    let mut journal = tx.prepare_cached(
        "INSERT OR REPLACE INTO journals (id, correspondent, entry_type, from_account, to_account, status, asset, units, price, description,
             extra, flow, hold, limit_counted, created_at, updated_at, booked_on, ordinal)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18)",
    )?;
    for j in &rows.journals {
        journal.execute(params![
            &id_bytes(j.id.0)[..],
            &id_bytes(j.correspondent.0)[..],
            j.entry_type.as_str(),
            &id_bytes(j.from.0)[..],
            &id_bytes(j.to.0)[..],
            j.status.as_str(),
            asset_text(j.asset),
            j.units,
            j.price,
            j.description,
            journal_extra_json(j),
            j.flow.as_str(),
            j.hold.as_str(),
            j.limit_counted,
            j.created_at.0,
            j.updated_at.0,
            j.booked_on.map(|d| d.0),
            j.ordinal as i64
        ])?;
    }
    for t in &rows.transfers {
        tx.prepare_cached(
            "INSERT OR REPLACE INTO transfers (id, account, correspondent, direction, kind, currency, amount, status, created_at, updated_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
        )?
        .execute(params![
            &id_bytes(t.id.0)[..],
            &id_bytes(t.account.0)[..],
            &id_bytes(t.correspondent.0)[..],
            t.direction.as_str(),
            t.kind.as_str(),
            t.currency.as_str(),
            t.amount,
            t.status.as_str(),
            t.created_at.0,
            t.updated_at.0
        ])?;
    }
    for (account, currency, units) in &rows.overdrafts {
        tx.prepare_cached("INSERT OR REPLACE INTO overdrafts (account, currency, units) VALUES (?1, ?2, ?3)")?.execute(params![
            &id_bytes(account.0)[..],
            currency.as_str(),
            units
        ])?;
    }
    if let Some(before) = rows.keys_expired_before {
        tx.execute("DELETE FROM idempotency_keys WHERE created_at < ?1", params![before.0])?;
    }
    for k in &rows.keys {
        tx.prepare_cached("INSERT OR REPLACE INTO idempotency_keys (correspondent, key, kind, fingerprint, journals, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)")?
            .execute(params![&id_bytes(k.correspondent.0)[..], k.key, k.kind.as_str(), &id_bytes(k.fingerprint)[..], ids_bytes(&k.journals), k.created_at.0])?;
    }
    if rows.daily_reset {
        tx.execute("DELETE FROM daily_usage", [])?;
    }
    let mut daily = tx.prepare_cached("INSERT OR REPLACE INTO daily_usage (account, limit_key, used) VALUES (?1, ?2, ?3)")?;
    for (account, key, used) in &rows.daily {
        daily.execute(params![&id_bytes(account.0)[..], limit_key_text(*key), used])?;
    }
    Ok(())
}

/// Loading fails either in SQL (a backend error) or in what the rows say (corrupt).
enum LoadError {
    Sql(rusqlite::Error),
    Store(StoreError),
}

impl From<rusqlite::Error> for LoadError {
    fn from(e: rusqlite::Error) -> LoadError {
        LoadError::Sql(e)
    }
}

impl From<StoreError> for LoadError {
    fn from(e: StoreError) -> LoadError {
        LoadError::Store(e)
    }
}

fn map_load_error(e: LoadError) -> StoreError {
    match e {
        LoadError::Sql(e) => StoreError::backend(e),
        LoadError::Store(e) => e,
    }
}

fn load(conn: &Connection) -> Result<Option<Loaded>, LoadError> {
    let (last_seq, last_at, business_date): (i64, i64, Option<i32>) =
        conn.query_row("SELECT last_seq, last_at, business_date FROM meta", [], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
    let Some(business_date) = business_date else { return Ok(None) };
    let mut parts = StateParts { business_date: Date(business_date), events_applied: last_seq as u64, ..StateParts::default() };
    let mut max_id = 0u128;
    load_setup(conn, &mut parts, &mut max_id)?;
    load_journals(conn, &mut parts, &mut max_id)?;
    load_money(conn, &mut parts, &mut max_id)?;
    let log = log_summary(conn, last_seq as u64)?;
    verify(&parts, &log)?;
    let state = State::restore(parts).map_err(StoreError::Corrupt)?;
    Ok(Some(Loaded { state, last_seq: last_seq as u64, last_at: Timestamp(last_at), max_id }))
}

fn id_col(row: &rusqlite::Row<'_>, i: usize, max_id: &mut u128) -> Result<u128, LoadError> {
    let bytes: Vec<u8> = row.get(i)?;
    let id = id_from(&bytes)?;
    *max_id = (*max_id).max(id);
    Ok(id)
}

fn load_setup(conn: &Connection, parts: &mut StateParts, max_id: &mut u128) -> Result<(), LoadError> {
    let mut stmt = conn.prepare("SELECT id, code, name, config, created_at FROM correspondents")?;
    let mut rows = stmt.query([])?;
    while let Some(r) = rows.next()? {
        let config: String = r.get(3)?;
        parts.correspondents.push(Correspondent {
            id: CorrespondentId(id_col(r, 0, max_id)?),
            code: r.get(1)?,
            name: r.get(2)?,
            config: config_from(&config)?,
            created_at: Timestamp(r.get(4)?),
        });
    }
    let mut stmt =
        conn.prepare("SELECT id, correspondent, kind, status, account_number, currency, blocks, limits, created_at FROM accounts")?;
    let mut rows = stmt.query([])?;
    while let Some(r) = rows.next()? {
        let (kind, status, currency, limits): (String, String, String, Option<String>) = (r.get(2)?, r.get(3)?, r.get(5)?, r.get(7)?);
        parts.accounts.push(Account {
            id: AccountId(id_col(r, 0, max_id)?),
            correspondent: CorrespondentId(id_col(r, 1, max_id)?),
            kind: named(&kind, AccountKind::parse, "account kind")?,
            status: named(&status, AccountStatus::parse, "account status")?,
            account_number: r.get::<_, i64>(4)? as u64,
            currency: Currency::parse(&currency).map_err(|_| StoreError::Corrupt(format!("unreadable currency {currency}")))?,
            blocks: blocks_from(r.get(6)?),
            limits: limits.as_deref().map(limits_from).transpose()?,
            created_at: Timestamp(r.get(8)?),
        });
    }
    let mut stmt = conn.prepare("SELECT symbol, id, name, exchange, class, fractionable, price FROM assets")?;
    let mut rows = stmt.query([])?;
    while let Some(r) = rows.next()? {
        let symbol: String = r.get(0)?;
        let Asset::Security(symbol) = asset_from(&symbol)? else { return Err(StoreError::Corrupt(format!("asset row {symbol}")).into()) };
        parts.assets.push(AssetInfo {
            symbol,
            id: AssetId(id_col(r, 1, max_id)?),
            name: r.get(2)?,
            exchange: r.get(3)?,
            class: r.get(4)?,
            fractionable: r.get(5)?,
            price: r.get(6)?,
        });
    }
    Ok(())
}

fn load_journals(conn: &Connection, parts: &mut StateParts, max_id: &mut u128) -> Result<(), LoadError> {
    let mut stmt = conn.prepare(
        "SELECT id, correspondent, entry_type, from_account, to_account, status, asset, units, price, description, extra, flow, hold,
                limit_counted, created_at, updated_at, booked_on, ordinal FROM journals ORDER BY id",
    )?;
    let mut rows = stmt.query([])?;
    while let Some(r) = rows.next()? {
        let (entry_type, status, asset, flow, hold): (String, String, String, String, String) =
            (r.get(2)?, r.get(5)?, r.get(6)?, r.get(11)?, r.get(12)?);
        let extra: Option<String> = r.get(10)?;
        parts.journals.push(Journal {
            id: JournalId(id_col(r, 0, max_id)?),
            correspondent: CorrespondentId(id_col(r, 1, max_id)?),
            entry_type: named(&entry_type, EntryType::parse, "entry type")?,
            from: AccountId(id_col(r, 3, max_id)?),
            to: AccountId(id_col(r, 4, max_id)?),
            status: named(&status, JournalStatus::parse, "journal status")?,
            asset: asset_from(&asset)?,
            units: r.get(7)?,
            price: r.get(8)?,
            description: r.get(9)?,
            extra: journal_extra_from(extra.as_deref())?,
            flow: named(&flow, JnlcFlow::parse, "flow")?,
            hold: named(&hold, Hold::parse, "hold")?,
            limit_counted: r.get(13)?,
            created_at: Timestamp(r.get(14)?),
            updated_at: Timestamp(r.get(15)?),
            booked_on: r.get::<_, Option<i32>>(16)?.map(Date),
            ordinal: r.get::<_, i64>(17)? as u64,
        });
    }
    Ok(())
}

fn load_money(conn: &Connection, parts: &mut StateParts, max_id: &mut u128) -> Result<(), LoadError> {
    let mut stmt = conn.prepare("SELECT book, asset, posted, held, cost_nanos FROM balances")?;
    let mut rows = stmt.query([])?;
    while let Some(r) = rows.next()? {
        let (book, asset, cost): (Vec<u8>, String, Option<String>) = (r.get(0)?, r.get(1)?, r.get(4)?);
        let cost_nanos =
            cost.map(|c| c.parse::<i128>().map_err(|_| StoreError::Corrupt(format!("unreadable cost {c}")))).transpose()?.unwrap_or(0);
        parts.balances.push((book_from(&book)?, asset_from(&asset)?, Balance { posted: r.get(2)?, held: r.get(3)?, cost_nanos }));
    }
    let mut stmt = conn
        .prepare("SELECT id, account, correspondent, direction, kind, currency, amount, status, created_at, updated_at FROM transfers")?;
    let mut rows = stmt.query([])?;
    while let Some(r) = rows.next()? {
        let (direction, kind, currency, status): (String, String, String, String) = (r.get(3)?, r.get(4)?, r.get(5)?, r.get(7)?);
        parts.transfers.push(Transfer {
            id: TransferId(id_col(r, 0, max_id)?),
            account: AccountId(id_col(r, 1, max_id)?),
            correspondent: CorrespondentId(id_col(r, 2, max_id)?),
            direction: named(&direction, TransferDirection::parse, "direction")?,
            kind: named(&kind, TransferKind::parse, "transfer kind")?,
            currency: Currency::parse(&currency).map_err(|_| StoreError::Corrupt(format!("unreadable currency {currency}")))?,
            amount: r.get(6)?,
            status: named(&status, TransferStatus::parse, "transfer status")?,
            created_at: Timestamp(r.get(8)?),
            updated_at: Timestamp(r.get(9)?),
        });
    }
    let mut stmt = conn.prepare("SELECT account, currency, units FROM overdrafts")?;
    let mut rows = stmt.query([])?;
    while let Some(r) = rows.next()? {
        let currency: String = r.get(1)?;
        let currency = Currency::parse(&currency).map_err(|_| StoreError::Corrupt(format!("unreadable currency {currency}")))?;
        parts.overdrafts.push((AccountId(id_col(r, 0, max_id)?), currency, r.get(2)?));
    }
    let mut stmt = conn.prepare("SELECT correspondent, key, kind, fingerprint, journals, created_at FROM idempotency_keys")?;
    let mut rows = stmt.query([])?;
    while let Some(r) = rows.next()? {
        let (kind, fingerprint, journals): (String, Vec<u8>, Vec<u8>) = (r.get(2)?, r.get(3)?, r.get(4)?);
        parts.keys.push(KeyRecord {
            correspondent: CorrespondentId(id_col(r, 0, max_id)?),
            key: r.get(1)?,
            kind: named(&kind, KeyKind::parse, "key kind")?,
            fingerprint: id_from(&fingerprint)?,
            journals: ids_from(&journals)?,
            created_at: Timestamp(r.get(5)?),
        });
    }
    let mut stmt = conn.prepare("SELECT account, limit_key, used FROM daily_usage")?;
    let mut rows = stmt.query([])?;
    while let Some(r) = rows.next()? {
        let key: String = r.get(1)?;
        parts.daily_used.push((AccountId(id_col(r, 0, max_id)?), limit_key_from(&key)?, r.get(2)?));
    }
    Ok(())
}

fn log_summary(conn: &Connection, last_seq: u64) -> Result<LogSummary, LoadError> {
    let (max_seq, events): (Option<i64>, i64) =
        conn.query_row("SELECT max(seq), count(*) FROM events", [], |r| Ok((r.get(0)?, r.get(1)?)))?;
    let journals_created: i64 = conn.query_row("SELECT count(*) FROM events WHERE kind = 'journal_created'", [], |r| r.get(0))?;
    let journal_rows: i64 = conn.query_row("SELECT count(*) FROM journals", [], |r| r.get(0))?;
    let mut posting_sums: HashMap<(Book, Asset), i128> = HashMap::new();
    let mut stmt = conn.prepare(
        "SELECT book, asset, sum(units) FROM (
             SELECT to_book AS book, asset, units FROM postings
             UNION ALL SELECT from_book, asset, -units FROM postings)
         GROUP BY book, asset",
    )?;
    let mut rows = stmt.query([])?;
    while let Some(r) = rows.next()? {
        let (book, asset, sum): (Vec<u8>, String, i64) = (r.get(0)?, r.get(1)?, r.get(2)?);
        posting_sums.insert((book_from(&book)?, asset_from(&asset)?), i128::from(sum));
    }
    Ok(LogSummary {
        last_seq,
        max_seq: max_seq.unwrap_or(0) as u64,
        events: events as u64,
        journals_created: journals_created as u64,
        journal_rows: journal_rows as u64,
        posting_sums,
    })
}
