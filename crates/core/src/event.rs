//! Events: every change to the ledger, as data. `apply` replays them; the store logs them.

use crate::ids::{AccountId, CorrespondentId, Date, JournalId, Timestamp, TransferId};
use crate::model::{
    Account, AccountStatus, ActionRequest, ApiKey, AssetInfo, Audit, Blocks, Confirmation, Correspondent, CorrespondentConfig, Journal,
    KeyKind, Limits, Transfer,
};
use crate::money::{Asset, Currency};
use crate::status::{JournalStatus, TransferStatus};
use std::fmt;

/// A place balances are kept: an account, or one of the two contra books that stand for the
/// world outside (the bank for cash that comes and goes by wire or ACH, the custodian for shares
/// delivered into firm accounts). Contra books have no floor.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Book {
    Account(AccountId),
    Bank,
    Custody,
}

impl fmt::Display for Book {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Book::Account(id) => write!(f, "{id}"),
            Book::Bank => f.write_str("bank"),
            Book::Custody => f.write_str("custody"),
        }
    }
}

/// One side of a balance change: `units` of `asset` added to (or, negative, taken from) `book`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Posting {
    pub book: Book,
    pub asset: Asset,
    pub units: i64,
}

/// A balanced pair of postings: `units` of `asset` leave `from` and arrive at `to`. The only way
/// balances change, so every change sums to zero by construction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Movement {
    pub asset: Asset,
    pub units: i64,
    pub from: Book,
    pub to: Book,
}

impl Movement {
    pub fn postings(&self) -> [Posting; 2] {
        [
            Posting { book: self.from, asset: self.asset, units: -self.units },
            Posting { book: self.to, asset: self.asset, units: self.units },
        ]
    }

    /// The movement that undoes this one.
    pub fn reversed(&self) -> Movement {
        Movement { asset: self.asset, units: self.units, from: self.to, to: self.from }
    }
}

/// A change to the ledger at an instant.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Event {
    pub at: Timestamp,
    pub kind: EventKind,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EventKind {
    CorrespondentCreated(Box<Correspondent>),
    CorrespondentConfigured {
        id: CorrespondentId,
        config: Box<CorrespondentConfig>,
    },
    /// `profile` is the opening data (KYC) as the edge gave it; the ledger keeps it in the log
    /// only, not in memory.
    AccountOpened {
        account: Box<Account>,
        profile: String,
        /// The contact email ([`crate::email_key`]), unique within the correspondent.
        email: Option<String>,
    },
    AccountStatusChanged {
        id: AccountId,
        from: AccountStatus,
        to: AccountStatus,
    },
    AccountBlocksChanged {
        id: AccountId,
        blocks: Blocks,
    },
    AccountLimitsSet {
        id: AccountId,
        limits: Option<Box<Limits>>,
    },
    OverdraftSet {
        account: AccountId,
        currency: Currency,
        units: i64,
    },
    AssetListed(Box<AssetInfo>),
    /// Shares delivered from outside into a firm account, with the cost they came in at.
    SecuritiesDeposited {
        account: AccountId,
        movement: Movement,
        price: i64,
    },
    TransferCreated(Box<Transfer>),
    TransferStatusChanged {
        id: TransferId,
        from: TransferStatus,
        to: TransferStatus,
        movement: Option<Movement>,
    },
    /// A new journal; its status comes from `""`. `movement` is set when it is created booked.
    JournalCreated {
        journal: Box<Journal>,
        movement: Option<Movement>,
    },
    JournalStatusChanged(Box<StatusChange>),
    /// Four-eyes: an operator asked for an action that a second operator must confirm.
    ActionRequested {
        id: JournalId,
        request: Box<ActionRequest>,
    },
    IdempotencyKeyStored(Box<KeyRecord>),
    IdempotencyKeysExpired {
        created_before: Timestamp,
    },
    BusinessDayAdvanced {
        from: Date,
        to: Date,
    },
    ApiKeyIssued(Box<ApiKey>),
    ApiKeyRevoked {
        key_id: String,
    },
    /// Who did the operator action whose events precede this one in the same command, and why.
    /// It changes nothing itself.
    OperatorActed(Box<OperatorAct>),
    /// Four-eyes: an operator asked for an action on an account, a transfer, a key or a price
    /// that a second operator must confirm.
    ConfirmationRequested(Box<Confirmation>),
    /// Four-eyes: a second operator confirmed the request; the action's events precede this.
    ConfirmationGranted {
        fingerprint: u128,
    },
    /// Four-eyes: an operator did alone an action worth `worth` (US cents), counted against
    /// what one operator may do alone in a business day.
    DoneAlone {
        operator: String,
        worth: i64,
    },
}

/// An operator's action as the audit trail keeps it: what was done, to what, by whom, why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OperatorAct {
    /// `account_status`, `account_blocks`, `account_limits`, `overdraft`, `api_key_issued`,
    /// `api_key_revoked`, `transfer`, `transfer_completed`, ...
    pub action: &'static str,
    /// The id of the account, key or transfer it was about.
    pub subject: String,
    pub audit: Audit,
}

/// A journal's move from one status to another, with what it did to the books.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StatusChange {
    pub id: JournalId,
    pub from: JournalStatus,
    pub to: JournalStatus,
    /// Booking (to `executed`) or its undoing (from `executed` to `canceled`/`deleted`/`correct`).
    pub movement: Option<Movement>,
    /// JNLS: the price booked at. Set with a booking movement.
    pub price: Option<i64>,
    /// The business date a booking happened on.
    pub booked_on: Option<Date>,
    /// For `correct`: the new journal that replaces this one.
    pub corrected_by: Option<JournalId>,
    pub audit: Option<Audit>,
    /// For `refused`: why the booking-time check refused it (insufficient cash or shares, a
    /// blocked or inactive account, no price).
    pub refused_for: Option<crate::rejection::Code>,
}

/// A stored idempotency key: which request it was (by fingerprint) and what it created.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyRecord {
    pub correspondent: CorrespondentId,
    pub key: String,
    pub kind: KeyKind,
    pub fingerprint: u128,
    pub journals: Vec<JournalId>,
    pub created_at: Timestamp,
}

impl Event {
    /// The journal status change this event stands for, as the event stream shows it.
    pub fn journal_status(&self) -> Option<(JournalId, Option<JournalStatus>, JournalStatus)> {
        match &self.kind {
            EventKind::JournalCreated { journal, .. } => Some((journal.id, None, journal.status)),
            EventKind::JournalStatusChanged(c) => Some((c.id, Some(c.from), c.to)),
            _ => None,
        }
    }

    /// The movement of balances this event carries, if any.
    pub fn movement(&self) -> Option<Movement> {
        self.kind.movement()
    }
}

impl EventKind {
    /// The movement of balances this event carries, if any.
    pub fn movement(&self) -> Option<Movement> {
        match self {
            EventKind::SecuritiesDeposited { movement, .. } => Some(*movement),
            EventKind::TransferStatusChanged { movement, .. } => *movement,
            EventKind::JournalCreated { movement, .. } => *movement,
            EventKind::JournalStatusChanged(c) => c.movement,
            _ => None,
        }
    }
}
