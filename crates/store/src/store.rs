//! What a backend must do: load the state (verified), and commit a batch durably.

use crate::rows::Rows;
use cashier_core::{Asset, Book, Event, State, StateParts, Timestamp};
use std::collections::HashMap;

/// One event in the log: its global sequence number and its ULID.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Record {
    pub seq: u64,
    pub ulid: u128,
    pub event: Event,
    /// For a journal's status change: the journal as the change left it, for subscribers
    /// (the committed state keeps no settled journal in memory to look it up in).
    pub journal: Option<std::sync::Arc<cashier_core::Journal>>,
}

/// What one commit writes: the events for the log, and the final values of every row they
/// touched, in one transaction.
#[derive(Debug, Default)]
pub struct Batch {
    pub records: Vec<Record>,
    pub rows: Rows,
    /// Whether this commit also indexes by account every journal created since the store's
    /// last run of that index ([`crate::RecentJournals`]).
    pub index_journals: bool,
}

/// A state rebuilt from a store, with where its log ends.
#[derive(Debug)]
pub struct Loaded {
    pub state: State,
    /// The last event's sequence number (0 for an empty store) and time.
    pub last_seq: u64,
    pub last_at: Timestamp,
    /// The largest id the store holds (journals, accounts, transfers, ...): new ids must exceed it.
    pub max_id: u128,
    /// A checkpoint the backend writes before it hands the state over, when the log ran far
    /// past the stored one.
    pub checkpoint: Option<crate::sql::Checkpoint>,
}

#[derive(Clone, Debug, thiserror::Error)]
pub enum StoreError {
    /// The backend failed (I/O, connection, constraint). Writes stop; recovery reloads.
    #[error("store failure: {0}")]
    Backend(String),
    /// The stored data contradicts itself. Cashier refuses to start on it.
    #[error("the store does not reconcile: {0}")]
    Corrupt(String),
    /// The backend refused what the batch holds (a value a column cannot take, a constraint)
    /// and rolled the transaction back: nothing of it was written. The sequencer narrows the
    /// refusal to the command that caused it and commits the others.
    #[error("the store refused the batch's content: {0}")]
    Refused(String),
    /// This writer no longer holds its shard's lease: the commit was rolled back, and another
    /// node writes the shard. It must stop writing and drop its state.
    #[error("fenced: {0}")]
    Fenced(String),
}

impl StoreError {
    pub fn backend(error: impl std::fmt::Display) -> StoreError {
        StoreError::Backend(error.to_string())
    }
}

/// A durable home for the ledger. Implementations are used from one thread at a time.
pub trait Store: Send + 'static {
    /// Rebuilds the state from the tables and checks it against the log (see [`verify`]). An
    /// empty store gives `None`. A store with a reader also indexes by account every journal its
    /// index lacks ([`crate::sql::index_journals`]), so that none is left to list from memory.
    fn load(&mut self) -> Result<Option<Loaded>, StoreError>;

    /// Writes the batch in one transaction and returns once the commit is durable.
    fn commit(&mut self, batch: &Batch) -> Result<(), StoreError>;

    /// A reader of the committed tables on a connection of its own, for the sequencer to bring
    /// back a settled journal that left memory. A store without one (`None`) keeps every
    /// journal in memory.
    fn reader(&mut self) -> Result<Option<Box<dyn crate::sql::LogReader>>, StoreError> {
        Ok(None)
    }
}

impl Store for Box<dyn Store> {
    fn load(&mut self) -> Result<Option<Loaded>, StoreError> {
        (**self).load()
    }

    fn reader(&mut self) -> Result<Option<Box<dyn crate::sql::LogReader>>, StoreError> {
        (**self).reader()
    }

    fn commit(&mut self, batch: &Batch) -> Result<(), StoreError> {
        (**self).commit(batch)
    }
}

/// Runs `work` on a plain thread of its own and waits for it. Blocking clients (the PostgreSQL
/// one) cannot run on an async runtime's thread, and stores are opened and first loaded from
/// wherever the caller happens to be.
pub fn off_runtime<T: Send>(work: impl FnOnce() -> T + Send) -> T {
    std::thread::scope(|scope| scope.spawn(work).join().unwrap_or_else(|panic| std::panic::resume_unwind(panic)))
}

/// What a store's log says, to check its tables against.
#[derive(Debug, Default)]
pub struct LogSummary {
    /// The sequence number the store recorded as its last commit.
    pub last_seq: u64,
    /// Where the summary's reading of the log starts: what came before is the checkpoint's
    /// (0: the whole log was read).
    pub from_seq: u64,
    /// The highest sequence number, and the number of events after `from_seq`.
    pub max_seq: u64,
    pub events: u64,
    /// How many journals the log says were created, and how many the journals table holds
    /// (its rows, or, at start-up, the newest journal's ordinal: ordinals have no gaps).
    pub journals_created: u64,
    pub journal_rows: u64,
    /// Per (book, asset), the sum of the postings in the log.
    pub posting_sums: HashMap<(Book, Asset), i128>,
}

/// Checks what a store holds against its log, before a state is rebuilt from it: the log has
/// no gaps, every journal row was created by the log, and every balance equals the sum of its
/// postings. Returns what disagrees. (`State::restore` then checks the state's own invariants.)
pub fn verify(parts: &StateParts, log: &LogSummary) -> Result<(), StoreError> {
    let corrupt = |message: String| Err(StoreError::Corrupt(message));
    if log.max_seq != log.last_seq {
        return corrupt(format!("the log ends at event {} but the last commit recorded {}", log.max_seq, log.last_seq));
    }
    if log.events != log.max_seq - log.from_seq.min(log.max_seq) {
        return corrupt(format!(
            "the log holds {} events numbered from {} up to {}: some are missing",
            log.events,
            log.from_seq + 1,
            log.max_seq
        ));
    }
    if log.journals_created != log.journal_rows {
        return corrupt(format!("the log created {} journals but the journals table holds {}", log.journals_created, log.journal_rows));
    }
    if parts.events_applied != log.from_seq + log.events {
        return corrupt(format!("the tables count {} events but the log holds {}", parts.events_applied, log.from_seq + log.events));
    }
    for (book, asset, balance) in &parts.balances {
        let posted = log.posting_sums.get(&(*book, *asset)).copied().unwrap_or(0);
        if i128::from(balance.posted) != posted {
            let checkpoint =
                if log.from_seq > 0 { format!(" (the checkpoint at event {} and those after it)", log.from_seq) } else { String::new() };
            return corrupt(format!("the balance of {book} in {asset} is {} but its postings{checkpoint} sum to {posted}", balance.posted));
        }
    }
    let nonzero_sums = log.posting_sums.values().filter(|&&sum| sum != 0).count();
    if nonzero_sums > parts.balances.len() {
        return corrupt("the log posts to a book that has no balance row".to_owned());
    }
    Ok(())
}
