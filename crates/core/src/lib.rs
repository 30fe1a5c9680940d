//! Cashier's ledger core: pure, exact and fully deterministic.
//!
//! Accounts, balances, positions, journals, transfers, limits and the journal status machine.
//! [`execute`] turns a [`Command`] into [`Event`]s or a [`Rejection`] without changing anything;
//! [`State::apply`] applies events. Time and new ids arrive through [`Ctx`].
//!
//! **Invariant:** no I/O, no async, no clock, no randomness, no floating point. Money is integer
//! minor units, quantities and prices are integer 1e-9 units, and arithmetic is checked.

pub mod calendar;
pub mod command;
pub mod decimal;
pub mod event;
pub mod execute;
pub mod four_eyes;
pub mod ids;
mod journals;
pub mod memory;
pub mod model;
pub mod money;
pub mod rejection;
pub mod state;
pub mod status;
pub mod text;

pub use calendar::Calendar;
pub use command::{BatchEntry, Command, JournalRequest, BATCH_ENTRIES_MAX};
pub use event::KeyRecord;
pub use event::{Book, Event, EventKind, Movement, OperatorAct, Posting, StatusChange};
pub use execute::{execute, Ctx, IdSource, SequentialIds};
pub use ids::{AccountId, AssetId, CorrespondentId, Date, JournalId, Timestamp, TransferId};
pub use journals::{FIXTURE_PENDING, FIXTURE_REJECTED};
pub use memory::InMemory;
pub use model::*;
pub use money::{Asset, Currency, Symbol};
pub use rejection::{Class, Code, Rejection};
pub use state::{Balance, CashView, LimitKey, Position, State, StateParts};
pub use status::{JournalStatus, TransferStatus};
