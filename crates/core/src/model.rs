//! The records the ledger keeps: correspondents, accounts, assets, limits, journals, transfers.

use crate::ids::{AccountId, AssetId, CorrespondentId, Date, JournalId, Timestamp, TransferId};
use crate::money::{Asset, Currency, Symbol};
use crate::status::{named_enum, JournalStatus, TransferStatus};

named_enum!(
    /// Firm (sweep) accounts belong to the broker; customer accounts to its users.
    AccountKind { Firm = "firm", Customer = "customer", }
);

named_enum!(
    /// The Broker API's account statuses.
    AccountStatus {
        Inactive = "INACTIVE",
        PaperOnly = "PAPER_ONLY",
        Onboarding = "ONBOARDING",
        Submitted = "SUBMITTED",
        SubmissionFailed = "SUBMISSION_FAILED",
        ActionRequired = "ACTION_REQUIRED",
        AccountUpdated = "ACCOUNT_UPDATED",
        ApprovalPending = "APPROVAL_PENDING",
        Approved = "APPROVED",
        Rejected = "REJECTED",
        Active = "ACTIVE",
        AccountClosed = "ACCOUNT_CLOSED",
    }
);

named_enum!(
    /// `JNLC` moves cash, `JNLS` moves securities.
    EntryType { Cash = "JNLC", Security = "JNLS", }
);

named_enum!(
    /// How single cash journals of a correspondent flow. `v1`: created `queued`, cleared later.
    /// `v2`: booked at creation (`executed`), then `activity_created`.
    JnlcFlow { V1 = "v1", V2 = "v2", }
);

named_enum!(
    TransferDirection { Incoming = "INCOMING", Outgoing = "OUTGOING", }
);

named_enum!(
    TransferKind { Ach = "ach", Wire = "wire", }
);

named_enum!(
    /// Why a journal waits instead of flowing on.
    Hold {
        None = "none",
        /// Over a per-journal or daily limit: `pending` until approved (or the next day's start).
        OverLimit = "over_limit",
        /// Sandbox fixture `/fixtures/status=pending/fixtures/`: `pending` until an operator acts.
        FixturePending = "fixture_pending",
        /// Sandbox fixture `/fixtures/status=rejected/fixtures/`: `queued`, rejected at day's end.
        FixtureRejected = "fixture_rejected",
    }
);

/// Per-account restrictions, as the Broker API reports them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Blocks {
    pub account_blocked: bool,
    pub transfers_blocked: bool,
    pub trading_blocked: bool,
}

/// JNLC limits in one currency, in its minor units. `None` is no limit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CashLimit {
    pub currency: Currency,
    pub per_journal: Option<i64>,
    pub daily: Option<i64>,
}

/// Journal limits. They apply to journals that move money or shares *into* a customer account
/// (firm to customer): that is where a broker's exposure grows. A cash journal in a currency with
/// no [`CashLimit`] is held for approval.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Limits {
    pub cash: Vec<CashLimit>,
    /// JNLS limits by value at the asset's price, in US cents.
    pub securities_per_journal_cents: Option<i64>,
    pub securities_daily_cents: Option<i64>,
}

impl Default for Limits {
    /// The Broker API defaults: $50 a journal and $1,000 a day, for cash and securities alike.
    fn default() -> Limits {
        Limits {
            cash: vec![CashLimit { currency: Currency::USD, per_journal: Some(5_000), daily: Some(100_000) }],
            securities_per_journal_cents: Some(5_000),
            securities_daily_cents: Some(100_000),
        }
    }
}

impl Limits {
    /// No limits at all, for workloads such as benchmarks.
    pub fn unlimited() -> Limits {
        Limits {
            cash: Currency::SUPPORTED.iter().map(|&currency| CashLimit { currency, per_journal: None, daily: None }).collect(),
            securities_per_journal_cents: None,
            securities_daily_cents: None,
        }
    }

    pub fn cash_limit(&self, currency: Currency) -> Option<&CashLimit> {
        self.cash.iter().find(|l| l.currency == currency)
    }

    pub(crate) fn any_negative(&self) -> bool {
        let neg = |v: Option<i64>| v.is_some_and(|v| v < 0);
        self.cash.iter().any(|l| neg(l.per_journal) || neg(l.daily))
            || neg(self.securities_per_journal_cents)
            || neg(self.securities_daily_cents)
    }
}

/// How a correspondent's journals behave.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CorrespondentConfig {
    pub jnlc_flow: JnlcFlow,
    pub limits: Limits,
    /// Over-limit journals still pending at a business day's start are released to `queued`.
    pub release_pending_at_day_start: bool,
    /// Sandbox fixtures in journal descriptions are honoured.
    pub fixtures: bool,
}

impl Default for CorrespondentConfig {
    fn default() -> CorrespondentConfig {
        CorrespondentConfig { jnlc_flow: JnlcFlow::V1, limits: Limits::default(), release_pending_at_day_start: true, fixtures: true }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Correspondent {
    pub id: CorrespondentId,
    /// A short code such as `LPCA`, unique.
    pub code: String,
    pub name: String,
    pub config: CorrespondentConfig,
    pub created_at: Timestamp,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Account {
    pub id: AccountId,
    pub correspondent: CorrespondentId,
    pub kind: AccountKind,
    pub status: AccountStatus,
    /// Assigned by the ledger in creation order, unique.
    pub account_number: u64,
    pub currency: Currency,
    pub blocks: Blocks,
    /// Replaces the correspondent's limits for this account when set. Boxed: few accounts have
    /// their own, and inline they would be half of every account's size.
    pub limits: Option<Box<Limits>>,
    pub created_at: Timestamp,
}

/// An email address as the ledger compares it: trimmed, in lower case.
pub fn email_key(email: &str) -> String {
    email.trim().to_lowercase()
}

/// An entry in the asset table. Prices are in 1e-9 USD.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AssetInfo {
    pub id: AssetId,
    pub symbol: Symbol,
    pub name: String,
    pub exchange: String,
    pub class: String,
    pub fractionable: bool,
    pub price: Option<i64>,
}

/// Travel-rule data carried by a cash journal. Strings of at most 255 characters.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Transmitter {
    pub name: Option<String>,
    pub account_number: Option<String>,
    pub address: Option<String>,
    pub financial_institution: Option<String>,
    pub timestamp: Option<Timestamp>,
}

named_enum!(
    /// Which endpoint an idempotency key was used with.
    KeyKind { Single = "single", Batch = "batch", ReverseBatch = "reverse_batch", }
);

/// The idempotency key a journal was created under, as the v2 event stream reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyTag {
    pub key: String,
    pub kind: KeyKind,
}

/// A journal: one movement of cash or shares between two accounts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Journal {
    pub id: JournalId,
    pub correspondent: CorrespondentId,
    pub entry_type: EntryType,
    pub from: AccountId,
    pub to: AccountId,
    pub status: JournalStatus,
    /// Cash in a currency (JNLC) or shares of a symbol (JNLS).
    pub asset: Asset,
    /// Minor units of cash, or 1e-9 shares.
    pub units: i64,
    /// JNLS: the price booked at, 1e-9 USD. Set when executed.
    pub price: Option<i64>,
    /// Boxed rather than a `String`: a journal's text never grows, and the capacity a `String`
    /// carries would cost every journal held in memory 8 bytes more.
    pub description: Box<str>,
    /// What few journals carry, kept out of line so that the rest stay small.
    pub extra: Option<Box<JournalExtra>>,
    pub flow: JnlcFlow,
    pub hold: Hold,
    /// What this journal counted against the customer's daily limit (0 when nothing).
    pub limit_counted: i64,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    /// The business date the journal was booked on: its settle date and system date.
    pub booked_on: Option<Date>,
    /// Creation order, ledger-wide.
    pub ordinal: u64,
}

/// The parts of a journal that most journals do not have.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct JournalExtra {
    pub transmitter: Option<Transmitter>,
    pub key: Option<KeyTag>,
    /// The journal this one corrects, and the journal that corrected this one.
    pub corrects: Option<JournalId>,
    pub corrected_by: Option<JournalId>,
    /// Four-eyes: an operator's action waiting for a second operator to confirm it.
    pub request: Option<ActionRequest>,
    /// Why the booking-time check refused it.
    pub refused_for: Option<crate::rejection::Code>,
}

named_enum!(
    /// What an operator can do to a journal by hand.
    OpsAction {
        Approve = "approve",
        Reject = "reject",
        Cancel = "cancel",
        Reverse = "reverse",
        Delete = "delete",
        Correct = "correct",
    }
);

/// Four-eyes: an action one operator asked for, carried out when a different operator asks for
/// the same (for `correct`, the same new `units`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ActionRequest {
    pub action: OpsAction,
    pub units: Option<i64>,
    pub audit: Audit,
    pub at: Timestamp,
}

/// Four-eyes on anything but a journal (an account setting, a wire, a transfer, a key, a
/// price): an action one operator asked for, carried out when a different operator asks for the
/// same. `fingerprint` names the action whatever its asker ([`crate::four_eyes`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Confirmation {
    pub fingerprint: u128,
    /// The audit trail's name of the action (`overdraft`, `transfer_completed`, ...).
    pub action: String,
    /// The id of the account, transfer, key owner or asset it is about.
    pub subject: String,
    /// What was asked, for people.
    pub detail: String,
    /// What it lets move, in US cents; `i64::MAX` where that has no bound.
    pub worth: i64,
    pub audit: Audit,
    pub at: Timestamp,
}

impl Journal {
    pub fn transmitter(&self) -> Option<&Transmitter> {
        self.extra.as_ref().and_then(|e| e.transmitter.as_ref())
    }

    pub fn key(&self) -> Option<&KeyTag> {
        self.extra.as_ref().and_then(|e| e.key.as_ref())
    }

    pub fn corrects(&self) -> Option<JournalId> {
        self.extra.as_ref().and_then(|e| e.corrects)
    }

    pub fn corrected_by(&self) -> Option<JournalId> {
        self.extra.as_ref().and_then(|e| e.corrected_by)
    }

    /// Four-eyes: the action waiting for a second operator, if any.
    pub fn request(&self) -> Option<&ActionRequest> {
        self.extra.as_ref().and_then(|e| e.request.as_ref())
    }

    /// Why the booking-time check refused it, for a `refused` journal.
    pub fn refused_for(&self) -> Option<crate::rejection::Code> {
        self.extra.as_ref().and_then(|e| e.refused_for)
    }

    pub(crate) fn extra_mut(&mut self) -> &mut JournalExtra {
        self.extra.get_or_insert_with(Default::default)
    }
}

/// An external transfer: a wire or ACH into or out of an account, against the bank.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Transfer {
    pub id: TransferId,
    pub account: AccountId,
    pub correspondent: CorrespondentId,
    pub direction: TransferDirection,
    pub kind: TransferKind,
    pub currency: Currency,
    pub amount: i64,
    pub status: TransferStatus,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// Who asked for a change, for the audit trail.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Actor {
    Correspondent(CorrespondentId),
    Operator(String),
    System,
}

impl Actor {
    /// The correspondent this actor is confined to, if any.
    pub fn scope(&self) -> Option<CorrespondentId> {
        match self {
            Actor::Correspondent(id) => Some(*id),
            Actor::Operator(_) | Actor::System => None,
        }
    }
}

impl std::fmt::Display for Actor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Actor::Correspondent(id) => write!(f, "correspondent {id}"),
            Actor::Operator(name) => write!(f, "operator {name}"),
            Actor::System => f.write_str("system"),
        }
    }
}

/// Whose an API key is: a correspondent's (it sees and moves only its own), or operations'.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum KeyOwner {
    Correspondent(CorrespondentId),
    Operator,
}

/// An API key. Only the SHA-256 of its secret is kept: secrets are long random strings minted by
/// Cashier, so a fast hash is enough and checking one costs microseconds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApiKey {
    /// The public half, sent as the Basic-auth user name: 8 to 64 characters `A-Z`, `0-9`.
    pub key_id: String,
    pub owner: KeyOwner,
    /// Whose key it is: for an operator key, the operator's name, which the audit trail shows.
    pub name: Option<String>,
    pub secret_sha256: [u8; 32],
    pub created_at: Timestamp,
    pub revoked: bool,
}

impl ApiKey {
    pub fn valid_id(key_id: &str) -> bool {
        (8..=64).contains(&key_id.len()) && key_id.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
    }

    /// The actor behind a request made with this key: its correspondent, or the operator by
    /// name (by key id for a key from before names).
    pub fn actor(&self) -> Actor {
        match self.owner {
            KeyOwner::Correspondent(id) => Actor::Correspondent(id),
            KeyOwner::Operator => Actor::Operator(self.name.clone().unwrap_or_else(|| self.key_id.clone())),
        }
    }
}

/// Who changed a journal's status by hand, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Audit {
    pub actor: Actor,
    pub reason: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every journal and every account is held in memory (twice for accounts: the sequencer's
    /// state and the committed replica), so their size is the ledger's memory: 10 M journals at
    /// 176 bytes are 1.76 GB. A field that grows them should be a decision, not an accident.
    #[test]
    fn journals_and_accounts_keep_their_size() {
        assert_eq!(std::mem::size_of::<Journal>(), 176, "Journal");
        assert_eq!(std::mem::size_of::<Account>(), 64, "Account");
    }
}
