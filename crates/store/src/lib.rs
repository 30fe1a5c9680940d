//! The store interface and the sequencer that writes through it.
//!
//! A [`Store`] keeps the event log and the queryable tables, and commits a [`Batch`] of both in
//! one durable transaction. The [`Sequencer`] owns the ledger state on one thread: it takes
//! commands off a bounded queue in batches, executes and applies them, commits the batch, and
//! only then answers the callers and publishes the events (group commit).
//!
//! **Invariant:** nothing is acknowledged before it is durable; a failed commit stops writes and
//! the state is rebuilt from the store (fail-stop).
//!
//! **Invariant:** this crate knows no SQL dialect and no transport; backends own their SQL, the
//! server owns HTTP.

pub mod codec;
pub mod conformance;
mod mint;
mod pool;
mod recent;
mod rows;
mod sequencer;
pub mod sql;
mod store;

pub use mint::{Clock, ManualClock, SystemClock, V7Ids};
pub use pool::CashPool;
pub use recent::RecentJournals;
pub use rows::Rows;
pub use sequencer::{Outcome, Replica, Sequencer, SequencerConfig, Stats, SubmitError, Subscription, KEY_RETENTION_DEFAULT};
pub use store::{off_runtime, verify, Batch, Loaded, LogSummary, Record, Store, StoreError};
