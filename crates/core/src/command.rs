//! Commands: what callers ask the ledger to do. The edge parses text into these; the core
//! checks every rule.

use crate::ids::{AccountId, CorrespondentId, Date, JournalId, Timestamp, TransferId};
use crate::model::{
    AccountKind, AccountStatus, Actor, Audit, Blocks, CorrespondentConfig, EntryType, KeyKind, KeyOwner, Limits, TransferDirection,
    TransferKind, Transmitter,
};
use crate::money::{Currency, Symbol};

/// Largest number of entries in one batch or reverse batch.
pub const BATCH_ENTRIES_MAX: usize = 5_000;
/// Longest journal description, in characters.
pub const DESCRIPTION_CHARS_MAX: usize = 1_024;
/// Longest travel-rule field, in characters.
pub const TEXT_CHARS_MAX: usize = 255;
/// Longest idempotency key, in bytes.
pub const IDEMPOTENCY_KEY_LEN_MAX: usize = 128;

/// A journal as a client asks for it. Fields are optional where the wire's are, so that the
/// core, not the edge, decides which combinations are legal.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct JournalRequest {
    pub entry_type: EntryType,
    pub from: AccountId,
    pub to: AccountId,
    /// JNLC: minor units of `currency`.
    pub amount: Option<i64>,
    pub currency: Currency,
    /// JNLS: the symbol and the qty in 1e-9 shares.
    pub symbol: Option<Symbol>,
    pub qty: Option<i64>,
    pub description: String,
    pub transmitter: Option<Box<Transmitter>>,
}

impl JournalRequest {
    /// A JNLC request with no description, for tests and tools.
    pub fn cash(from: AccountId, to: AccountId, amount: i64) -> JournalRequest {
        JournalRequest {
            entry_type: EntryType::Cash,
            from,
            to,
            amount: Some(amount),
            currency: Currency::USD,
            symbol: None,
            qty: None,
            description: String::new(),
            transmitter: None,
        }
    }

    /// A JNLS request with no description, for tests and tools.
    pub fn securities(from: AccountId, to: AccountId, symbol: Symbol, qty: i64) -> JournalRequest {
        JournalRequest {
            entry_type: EntryType::Security,
            from,
            to,
            amount: None,
            currency: Currency::USD,
            symbol: Some(symbol),
            qty: Some(qty),
            description: String::new(),
            transmitter: None,
        }
    }
}

/// The idempotency key sent with a request.
pub type IdempotencyKey = Option<String>;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Command {
    CreateCorrespondent {
        code: String,
        name: String,
        config: CorrespondentConfig,
    },
    ConfigureCorrespondent {
        id: CorrespondentId,
        config: CorrespondentConfig,
    },
    OpenAccount {
        actor: Actor,
        correspondent: CorrespondentId,
        kind: AccountKind,
        status: AccountStatus,
        currency: Currency,
        profile: String,
        /// The customer's contact email, unique within the correspondent ([`email_key`]).
        email: Option<String>,
    },
    SetAccountStatus {
        actor: Actor,
        account: AccountId,
        status: AccountStatus,
    },
    SetAccountBlocks {
        account: AccountId,
        blocks: Blocks,
    },
    SetAccountLimits {
        account: AccountId,
        limits: Option<Limits>,
    },
    /// How far below zero a firm account's cash may go, in minor units.
    SetOverdraft {
        account: AccountId,
        currency: Currency,
        units: i64,
    },
    /// Adds an asset to the table, or updates it (price included) when the symbol is known.
    ListAsset {
        symbol: Symbol,
        name: String,
        exchange: String,
        class: String,
        fractionable: bool,
        price: Option<i64>,
    },
    /// Shares delivered into a firm account from outside, at `price` (or the asset's price).
    DepositSecurities {
        account: AccountId,
        symbol: Symbol,
        qty: i64,
        price: Option<i64>,
    },
    CreateTransfer {
        actor: Actor,
        account: AccountId,
        direction: TransferDirection,
        kind: TransferKind,
        currency: Currency,
        amount: i64,
        complete_at_once: bool,
    },
    /// Operations: the bank settled a queued transfer (the money moves), refused it (`REJECTED`,
    /// an outgoing transfer's hold released), or sent a completed one back (`RETURNED`, the money
    /// moves back).
    CompleteTransfer {
        id: TransferId,
    },
    RejectTransfer {
        id: TransferId,
    },
    ReturnTransfer {
        id: TransferId,
    },
    CancelTransfer {
        actor: Actor,
        account: AccountId,
        id: TransferId,
    },
    CreateJournal {
        actor: Actor,
        request: JournalRequest,
        key: IdempotencyKey,
    },
    /// One firm account to many customers (JNLC only), all or nothing.
    CreateBatch {
        actor: Actor,
        entry_type: EntryType,
        from: AccountId,
        entries: Vec<BatchEntry>,
        key: IdempotencyKey,
    },
    /// Many customers to one firm account (JNLC only), all or nothing.
    CreateReverseBatch {
        actor: Actor,
        entry_type: EntryType,
        to: AccountId,
        entries: Vec<BatchEntry>,
        key: IdempotencyKey,
    },
    /// `DELETE /v1/journals/{id}` or an operator's cancel: `pending` or `queued` to `canceled`.
    CancelJournal {
        actor: Actor,
        id: JournalId,
        reason: String,
    },
    ApproveJournal {
        id: JournalId,
        audit: Audit,
    },
    RejectJournal {
        id: JournalId,
        audit: Audit,
    },
    SendToClearing {
        id: JournalId,
    },
    /// One step of clearing: books up to `max` journals in `sent_to_clearing`, then sends up
    /// to `max` queued journals to clearing.
    Clear {
        max: u32,
    },
    /// The booking-time balance check: `executed`, or `refused` when it no longer fits.
    BookJournal {
        id: JournalId,
    },
    /// JNLC v2: `executed -> activity_created`.
    CreateActivity {
        id: JournalId,
    },
    ReverseJournal {
        id: JournalId,
        audit: Audit,
    },
    DeleteJournal {
        id: JournalId,
        audit: Audit,
    },
    /// Replaces an executed journal by a new one for `units` (minor units or 1e-9 shares).
    CorrectJournal {
        id: JournalId,
        units: i64,
        audit: Audit,
    },
    /// Four-eyes: an operator's journal `action` (approve, reject, cancel, reverse, delete or
    /// correct) on a journal worth more than `over` (minor units; shares at their price in US
    /// cents) is only recorded as requested; the same action by a different operator carries it
    /// out. At or under `over` it is carried out at once.
    FourEyes {
        action: Box<Command>,
        over: i64,
    },
    /// An operator's action on an account, a key or a transfer (any command but the journal
    /// actions, which carry their own audit), with who did it and why: the reason is required,
    /// and the audit is logged after what the action did ([`EventKind::OperatorActed`]).
    ///
    /// [`EventKind::OperatorActed`]: crate::event::EventKind::OperatorActed
    Audited {
        audit: Audit,
        action: Box<Command>,
    },
    /// Ends the current business day (fixture rejections) and starts `to` (limits reset, releases).
    AdvanceBusinessDay {
        to: Date,
    },
    ExpireIdempotencyKeys {
        created_before: Timestamp,
    },
    /// A new key: an operator key needs the `name` of the person it is for (the audit trail
    /// shows it, and four-eyes takes two different names); a correspondent key's is a label.
    IssueApiKey {
        key_id: String,
        name: Option<String>,
        owner: KeyOwner,
        secret_sha256: [u8; 32],
    },
    RevokeApiKey {
        key_id: String,
    },
}

impl Command {
    /// Opens an active USD account: how accounts are opened in the sandbox, by the API (a
    /// customer with its KYC `profile`), by operations (a firm account), and in tests.
    pub fn open_account(actor: Actor, correspondent: CorrespondentId, kind: AccountKind, profile: String) -> Command {
        Command::OpenAccount { actor, correspondent, kind, status: AccountStatus::Active, currency: Currency::USD, profile, email: None }
    }

    /// Opens an active USD customer account with its KYC `profile` and contact `email`.
    pub fn open_customer(actor: Actor, correspondent: CorrespondentId, profile: String, email: &str) -> Command {
        let kind = AccountKind::Customer;
        Command::OpenAccount {
            actor,
            correspondent,
            kind,
            status: AccountStatus::Active,
            currency: Currency::USD,
            profile,
            email: Some(crate::email_key(email)),
        }
    }

    /// A USD wire into `account`, completed at once: how firm accounts are funded in the sandbox,
    /// in tools and in tests.
    pub fn wire_in(actor: Actor, account: AccountId, amount: i64) -> Command {
        Command::CreateTransfer {
            actor,
            account,
            direction: TransferDirection::Incoming,
            kind: TransferKind::Wire,
            currency: Currency::USD,
            amount,
            complete_at_once: true,
        }
    }
}

/// One entry of a batch: the account on the other side (the `to` of a batch, the `from` of a
/// reverse batch) and what moves.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct BatchEntry {
    pub account: AccountId,
    pub amount: Option<i64>,
    pub currency: Currency,
    pub symbol: Option<Symbol>,
    pub qty: Option<i64>,
    pub description: String,
    pub transmitter: Option<Box<Transmitter>>,
}

impl BatchEntry {
    pub fn cash(account: AccountId, amount: i64) -> BatchEntry {
        BatchEntry {
            account,
            amount: Some(amount),
            currency: Currency::USD,
            symbol: None,
            qty: None,
            description: String::new(),
            transmitter: None,
        }
    }

    pub(crate) fn request(&self, entry_type: EntryType, from: AccountId, to: AccountId) -> JournalRequest {
        JournalRequest {
            entry_type,
            from,
            to,
            amount: self.amount,
            currency: self.currency,
            symbol: self.symbol,
            qty: self.qty,
            description: self.description.clone(),
            transmitter: self.transmitter.clone(),
        }
    }
}

/// A stable fingerprint of a request, for idempotency: the same request always gives the same
/// value, across processes and versions. FNV-1a over a canonical encoding, twice with different
/// offsets, for 128 bits.
pub(crate) struct Fingerprint {
    low: u64,
    high: u64,
}

impl Fingerprint {
    const PRIME: u64 = 0x0000_0100_0000_01b3;

    pub(crate) fn new(kind: KeyKind) -> Fingerprint {
        let mut f = Fingerprint { low: 0xcbf2_9ce4_8422_2325, high: 0x6c62_272e_07bb_0142 };
        f.str(kind.as_str());
        f
    }

    fn byte(&mut self, b: u8) {
        self.low = (self.low ^ u64::from(b)).wrapping_mul(Self::PRIME);
        self.high = (self.high ^ u64::from(b.rotate_left(3))).wrapping_mul(Self::PRIME);
    }

    pub(crate) fn bytes(&mut self, bytes: &[u8]) {
        for &b in (bytes.len() as u64).to_le_bytes().iter().chain(bytes) {
            self.byte(b);
        }
    }

    pub(crate) fn str(&mut self, text: &str) {
        self.bytes(text.as_bytes());
    }

    pub(crate) fn opt_i64(&mut self, value: Option<i64>) {
        match value {
            None => self.byte(0),
            Some(v) => {
                self.byte(1);
                self.bytes(&v.to_le_bytes());
            }
        }
    }

    pub(crate) fn opt_str(&mut self, value: Option<&str>) {
        match value {
            None => self.byte(0),
            Some(v) => {
                self.byte(1);
                self.str(v);
            }
        }
    }

    pub(crate) fn request_fields(
        &mut self,
        amount: Option<i64>,
        currency: Currency,
        symbol: Option<Symbol>,
        qty: Option<i64>,
        description: &str,
        transmitter: Option<&Transmitter>,
    ) {
        self.opt_i64(amount);
        self.str(currency.as_str());
        self.opt_str(symbol.as_ref().map(Symbol::as_str));
        self.opt_i64(qty);
        self.str(description);
        match transmitter {
            None => self.byte(0),
            Some(t) => {
                self.byte(1);
                for field in [&t.name, &t.account_number, &t.address, &t.financial_institution] {
                    self.opt_str(field.as_deref());
                }
                self.opt_i64(t.timestamp.map(|ts| ts.0));
            }
        }
    }

    pub(crate) fn finish(&self) -> u128 {
        (u128::from(self.high) << 64) | u128::from(self.low)
    }
}
