//! The ledger state and `apply`, the only code that changes it.

use crate::event::{Book, Event, EventKind, KeyRecord, Movement, StatusChange};
use crate::ids::{AccountId, CorrespondentId, Date, JournalId, Timestamp, TransferId};
use crate::model::{Account, AccountKind, ApiKey, AssetInfo, Confirmation, Correspondent, Hold, Journal, Limits, Transfer};
use crate::money::{cost_nanos, Asset, Currency, Symbol};
use crate::status::{JournalStatus, TransferStatus};
use rustc_hash::FxHashMap;
use std::collections::{BTreeMap, BTreeSet};

/// One book's holding of one asset.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Balance {
    /// The sum of every posting to this book in this asset.
    pub posted: i64,
    /// Reserved by outgoing transfers not yet complete.
    pub held: i64,
    /// Securities: what the shares held cost, in 1e-9 USD (average-cost method).
    pub cost_nanos: i128,
}

impl Balance {
    /// What may leave now: posted less held.
    pub fn available(&self) -> i64 {
        self.posted - self.held
    }
}

/// An account's cash in one currency, as the Broker API reports it. Cashier has no trading, so
/// nothing is unsettled: what is transferable by journal and withdrawable by transfer is the
/// cash less what pending withdrawals hold back.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CashView {
    pub cash: i64,
    pub transferable: i64,
    pub withdrawable: i64,
}

/// A position in one asset: quantity (1e-9 shares), cost basis (1e-9 USD) and the average
/// entry price that follows from them (1e-9 USD per share, rounded down).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Position {
    pub symbol: Symbol,
    pub qty: i64,
    pub cost_basis_nanos: i128,
    pub avg_entry_price: i64,
}

/// Which daily counter a journal counts against.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum LimitKey {
    Cash(Currency),
    SecuritiesUsd,
}

/// Everything a store keeps of a state, to rebuild it from: see [`State::restore`].
#[derive(Clone, Debug, Default)]
pub struct StateParts {
    pub business_date: Date,
    pub correspondents: Vec<Correspondent>,
    pub accounts: Vec<Account>,
    pub assets: Vec<AssetInfo>,
    pub balances: Vec<(Book, Asset, Balance)>,
    pub journals: Vec<Journal>,
    pub transfers: Vec<Transfer>,
    pub overdrafts: Vec<(AccountId, Currency, i64)>,
    pub keys: Vec<KeyRecord>,
    pub daily_used: Vec<(AccountId, LimitKey, i64)>,
    pub api_keys: Vec<ApiKey>,
    /// Customers' contact emails ([`crate::email_key`]).
    pub emails: Vec<(AccountId, String)>,
    /// Four-eyes requests waiting for a second operator (journals carry their own).
    pub confirmations: Vec<Confirmation>,
    /// Four-eyes: what each operator did alone today, in US cents.
    pub done_alone: Vec<(String, i64)>,
    pub events_applied: u64,
    /// The next journal's ordinal, when `journals` holds only some of them (a store keeps
    /// the others); 0 to take it from `journals`.
    pub next_ordinal: u64,
}

/// Everything the ledger knows. Changed only by [`State::apply`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct State {
    pub(crate) business_date: Date,
    pub(crate) correspondents: FxHashMap<CorrespondentId, Correspondent>,
    pub(crate) accounts: FxHashMap<AccountId, Account>,
    /// Per book, a short list of (asset, balance): accounts hold few assets.
    pub(crate) books: FxHashMap<Book, Vec<(Asset, Balance)>>,
    pub(crate) assets: FxHashMap<Symbol, AssetInfo>,
    /// The journals in memory: every one that can still move on its own (`waiting`), and
    /// whichever others were created, changed or [`State::admit`]ted and not yet
    /// [`State::evict`]ed. The rest of history is a store's: see "Resident journals" below.
    pub(crate) journals: FxHashMap<JournalId, Journal>,
    pub(crate) transfers: FxHashMap<TransferId, Transfer>,
    /// The journals in each status that still moves on its own, oldest (lowest id) first.
    pub(crate) waiting: [BTreeSet<JournalId>; 3],
    /// Today's use of daily limits, per customer account.
    pub(crate) daily_used: FxHashMap<(AccountId, LimitKey), i64>,
    pub(crate) overdrafts: FxHashMap<(AccountId, Currency), i64>,
    pub(crate) keys: FxHashMap<(CorrespondentId, String), KeyRecord>,
    pub(crate) api_keys: FxHashMap<String, ApiKey>,
    /// Customers by contact email, within each correspondent.
    pub(crate) emails: FxHashMap<(CorrespondentId, String), AccountId>,
    /// Four-eyes requests by fingerprint, and what each operator did alone today.
    pub(crate) confirmations: BTreeMap<u128, Confirmation>,
    pub(crate) done_alone: FxHashMap<String, i64>,
    pub(crate) next_ordinal: u64,
    pub(crate) next_account_number: u64,
    pub(crate) events_applied: u64,
}

/// The statuses indexed in [`State::waiting`].
const WAITING: [JournalStatus; 3] = [JournalStatus::Queued, JournalStatus::SentToClearing, JournalStatus::Pending];

fn waiting_slot(status: JournalStatus) -> Option<usize> {
    WAITING.iter().position(|&s| s == status)
}

/// First account number handed out.
const ACCOUNT_NUMBER_FIRST: u64 = 100_000_001;

impl State {
    pub fn new(business_date: Date) -> State {
        State {
            business_date,
            correspondents: FxHashMap::default(),
            accounts: FxHashMap::default(),
            books: FxHashMap::default(),
            assets: FxHashMap::default(),
            journals: FxHashMap::default(),
            transfers: FxHashMap::default(),
            waiting: Default::default(),
            daily_used: FxHashMap::default(),
            overdrafts: FxHashMap::default(),
            keys: FxHashMap::default(),
            api_keys: FxHashMap::default(),
            emails: FxHashMap::default(),
            confirmations: BTreeMap::new(),
            done_alone: FxHashMap::default(),
            next_ordinal: 1,
            next_account_number: ACCOUNT_NUMBER_FIRST,
            events_applied: 0,
        }
    }

    /// Rebuilds a state from what a store kept, and checks it: every invariant of
    /// [`State::check_invariants`], unique journal ids, and journals that name known accounts.
    pub fn restore(parts: StateParts) -> Result<State, String> {
        let mut state = State::new(parts.business_date);
        state.events_applied = parts.events_applied;
        state.correspondents = parts.correspondents.into_iter().map(|c| (c.id, c)).collect();
        for account in parts.accounts {
            state.next_account_number = state.next_account_number.max(account.account_number + 1);
            state.accounts.insert(account.id, account);
        }
        state.assets = parts.assets.into_iter().map(|a| (a.symbol, a)).collect();
        for (book, asset, balance) in parts.balances {
            state.books.entry(book).or_default().push((asset, balance));
        }
        state.next_ordinal = state.next_ordinal.max(parts.next_ordinal);
        for journal in parts.journals {
            if !state.accounts.contains_key(&journal.from) || !state.accounts.contains_key(&journal.to) {
                return Err(format!("journal {} names an unknown account", journal.id));
            }
            state.next_ordinal = state.next_ordinal.max(journal.ordinal + 1);
            if let Some(slot) = waiting_slot(journal.status) {
                state.waiting[slot].insert(journal.id);
            }
            if let Some(twice) = state.journals.insert(journal.id, journal) {
                return Err(format!("journal {} is stored twice", twice.id));
            }
        }
        state.transfers = parts.transfers.into_iter().map(|t| (t.id, t)).collect();
        state.overdrafts = parts.overdrafts.into_iter().map(|(a, c, units)| ((a, c), units)).collect();
        state.keys = parts.keys.into_iter().map(|k| ((k.correspondent, k.key.clone()), k)).collect();
        state.daily_used = parts.daily_used.into_iter().map(|(a, key, used)| ((a, key), used)).collect();
        state.api_keys = parts.api_keys.into_iter().map(|k| (k.key_id.clone(), k)).collect();
        state.confirmations = parts.confirmations.into_iter().map(|c| (c.fingerprint, c)).collect();
        state.done_alone = parts.done_alone.into_iter().collect();
        for (account, email) in parts.emails {
            let correspondent =
                state.accounts.get(&account).ok_or_else(|| format!("an email names unknown account {account}"))?.correspondent;
            if state.emails.insert((correspondent, email), account).is_some() {
                return Err(format!("account {account}'s email is another account's too"));
            }
        }
        state.check_invariants()?;
        Ok(state)
    }

    /// The parts a store keeps, in a deterministic order; `restore` turns them back.
    pub fn to_parts(&self) -> StateParts {
        let mut parts = StateParts {
            business_date: self.business_date,
            correspondents: self.correspondents.values().cloned().collect(),
            accounts: self.accounts.values().cloned().collect(),
            assets: self.assets.values().cloned().collect(),
            balances: self.books.iter().flat_map(|(book, list)| list.iter().map(|(a, b)| (*book, *a, *b))).collect(),
            journals: self.journals.values().cloned().collect(),
            transfers: self.transfers.values().cloned().collect(),
            overdrafts: self.overdrafts().collect(),
            keys: self.keys.values().cloned().collect(),
            daily_used: self.daily_usage().collect(),
            api_keys: self.api_keys.values().cloned().collect(),
            emails: self.emails.iter().map(|((_, email), account)| (*account, email.clone())).collect(),
            confirmations: self.confirmations.values().cloned().collect(),
            done_alone: self.done_alone().collect(),
            events_applied: self.events_applied,
            next_ordinal: self.next_ordinal,
        };
        parts.journals.sort_by_key(|j| j.id);
        parts.done_alone.sort();
        parts.emails.sort();
        parts.correspondents.sort_by_key(|c| c.id);
        parts.accounts.sort_by_key(|a| a.id);
        parts.assets.sort_by_key(|a| a.symbol);
        parts.balances.sort_by_key(|(book, asset, _)| (*book, *asset));
        parts.transfers.sort_by_key(|t| t.id);
        parts.overdrafts.sort_by_key(|(a, c, _)| (*a, *c));
        parts.keys.sort_by(|x, y| (x.correspondent, &x.key).cmp(&(y.correspondent, &y.key)));
        parts.daily_used.sort_by_key(|(a, key, _)| (*a, *key));
        parts.api_keys.sort_by(|x, y| x.key_id.cmp(&y.key_id));
        parts
    }

    // ----- Queries -----

    /// The correspondent's customer with this contact email ([`crate::email_key`]).
    pub fn account_by_email(&self, correspondent: CorrespondentId, email: &str) -> Option<AccountId> {
        self.emails.get(&(correspondent, email.to_owned())).copied()
    }

    pub fn business_date(&self) -> Date {
        self.business_date
    }

    pub fn events_applied(&self) -> u64 {
        self.events_applied
    }

    pub fn correspondent(&self, id: CorrespondentId) -> Option<&Correspondent> {
        self.correspondents.get(&id)
    }

    pub fn correspondents(&self) -> impl Iterator<Item = &Correspondent> {
        self.correspondents.values()
    }

    pub fn account(&self, id: AccountId) -> Option<&Account> {
        self.accounts.get(&id)
    }

    pub fn accounts(&self) -> impl Iterator<Item = &Account> {
        self.accounts.values()
    }

    pub fn asset(&self, symbol: Symbol) -> Option<&AssetInfo> {
        self.assets.get(&symbol)
    }

    pub fn assets(&self) -> impl Iterator<Item = &AssetInfo> {
        self.assets.values()
    }

    /// A journal, if it is in memory: every journal that can still move on its own is; a
    /// settled one may be only in the store (see [`State::evict`]).
    pub fn journal(&self, id: JournalId) -> Option<&Journal> {
        self.journals.get(&id)
    }

    /// The journals in memory, in no particular order.
    pub fn journals(&self) -> impl Iterator<Item = &Journal> {
        self.journals.values()
    }

    /// How many journals are in memory.
    pub fn resident_journals(&self) -> usize {
        self.journals.len()
    }

    /// The next journal's ordinal (one more than the number of journals ever created).
    pub fn next_ordinal(&self) -> u64 {
        self.next_ordinal
    }

    /// Brings a journal the store kept back into memory, so that a command can act on it. One
    /// already in memory stays as it is (memory is never older than the store).
    pub fn admit(&mut self, journal: Journal) {
        if self.journals.contains_key(&journal.id) {
            return;
        }
        if let Some(slot) = waiting_slot(journal.status) {
            self.waiting[slot].insert(journal.id);
        }
        self.journals.insert(journal.id, journal);
    }

    /// Lets a settled journal leave memory: its record is the store's from now on, and a
    /// command that names it must [`State::admit`] it first. A journal that can still move on
    /// its own stays (answers `false`).
    pub fn evict(&mut self, id: JournalId) -> bool {
        match self.journals.get(&id) {
            Some(j) if waiting_slot(j.status).is_none() => {
                self.journals.remove(&id);
                true
            }
            _ => false,
        }
    }

    /// Brings an idempotency key the store kept back into memory (one in memory stays).
    pub fn admit_key(&mut self, record: KeyRecord) {
        self.keys.entry((record.correspondent, record.key.clone())).or_insert(record);
    }

    /// Lets idempotency keys created before `created_before` leave memory: they stay in the
    /// store, which answers them from then on. Answers how many left.
    pub fn evict_keys(&mut self, created_before: Timestamp) -> usize {
        let before = self.keys.len();
        self.keys.retain(|_, r| r.created_at >= created_before);
        before - self.keys.len()
    }

    fn journal_mut(&mut self, id: JournalId) -> Option<&mut Journal> {
        self.journals.get_mut(&id)
    }

    pub fn transfer(&self, id: TransferId) -> Option<&Transfer> {
        self.transfers.get(&id)
    }

    pub fn transfers(&self) -> impl Iterator<Item = &Transfer> {
        self.transfers.values()
    }

    pub fn balance(&self, book: Book, asset: Asset) -> Balance {
        self.balance_entry(book, asset).unwrap_or_default()
    }

    /// The balance of a book in an asset, if the book has ever held it (a zero balance that was
    /// never touched has no entry).
    pub fn balance_entry(&self, book: Book, asset: Asset) -> Option<Balance> {
        self.books.get(&book).and_then(|list| list.iter().find(|(a, _)| *a == asset)).map(|(_, b)| *b)
    }

    /// An account's cash in a currency, with what is transferable and withdrawable.
    pub fn cash(&self, account: AccountId, currency: Currency) -> CashView {
        let balance = self.balance(Book::Account(account), Asset::Cash(currency));
        let free = balance.available().max(0);
        CashView { cash: balance.posted, transferable: free, withdrawable: free }
    }

    /// An account's positions with a non-zero quantity, by symbol.
    pub fn positions(&self, account: AccountId) -> Vec<Position> {
        let mut positions: Vec<Position> = self
            .holdings(Book::Account(account))
            .iter()
            .filter_map(|(asset, balance)| match asset {
                Asset::Security(symbol) if balance.posted != 0 => Some(Position {
                    symbol: *symbol,
                    qty: balance.posted,
                    cost_basis_nanos: balance.cost_nanos,
                    avg_entry_price: i64::try_from(balance.cost_nanos * 1_000_000_000 / i128::from(balance.posted)).unwrap_or(i64::MAX),
                }),
                _ => None,
            })
            .collect();
        positions.sort_by_key(|p| p.symbol);
        positions
    }

    /// Every (asset, balance) a book holds, in no particular order.
    pub fn holdings(&self, book: Book) -> &[(Asset, Balance)] {
        self.books.get(&book).map_or(&[], Vec::as_slice)
    }

    /// Every book with its holdings.
    pub fn books(&self) -> impl Iterator<Item = (&Book, &Vec<(Asset, Balance)>)> {
        self.books.iter()
    }

    /// The lowest `posted - held` a book may reach in an asset; `None` for contra books.
    pub fn floor(&self, book: Book, asset: Asset) -> Option<i64> {
        match (book, asset) {
            (Book::Account(id), Asset::Cash(currency)) => Some(-self.overdraft(id, currency)),
            (Book::Account(_), Asset::Security(_)) => Some(0),
            (Book::Bank | Book::Custody, _) => None,
        }
    }

    pub fn overdraft(&self, account: AccountId, currency: Currency) -> i64 {
        self.overdrafts.get(&(account, currency)).copied().unwrap_or(0)
    }

    /// How many journals wait in `status` (`queued`, `sent_to_clearing` or `pending`).
    pub fn waiting_count(&self, status: JournalStatus) -> usize {
        waiting_slot(status).map_or(0, |slot| self.waiting[slot].len())
    }

    /// Journals waiting in `status` (`queued`, `sent_to_clearing` or `pending`), oldest first.
    pub fn waiting(&self, status: JournalStatus) -> impl Iterator<Item = JournalId> + '_ {
        waiting_slot(status).into_iter().flat_map(move |slot| self.waiting[slot].iter().copied())
    }

    pub fn overdrafts(&self) -> impl Iterator<Item = (AccountId, Currency, i64)> + '_ {
        self.overdrafts.iter().map(|(&(a, c), &units)| (a, c, units))
    }

    pub fn idempotency_keys(&self) -> impl Iterator<Item = &KeyRecord> {
        self.keys.values()
    }

    /// Today's use of daily limits: (customer account, counter, used).
    pub fn daily_usage(&self) -> impl Iterator<Item = (AccountId, LimitKey, i64)> + '_ {
        self.daily_used.iter().map(|(&(a, key), &used)| (a, key, used))
    }

    pub fn api_key(&self, key_id: &str) -> Option<&ApiKey> {
        self.api_keys.get(key_id)
    }

    pub fn api_keys(&self) -> impl Iterator<Item = &ApiKey> {
        self.api_keys.values()
    }

    /// Four-eyes requests waiting for a second operator, oldest fingerprint first.
    pub fn confirmations(&self) -> impl Iterator<Item = &Confirmation> {
        self.confirmations.values()
    }

    pub fn confirmation(&self, fingerprint: u128) -> Option<&Confirmation> {
        self.confirmations.get(&fingerprint)
    }

    /// Four-eyes: what each operator did alone today, in US cents.
    pub fn done_alone(&self) -> impl Iterator<Item = (String, i64)> + '_ {
        self.done_alone.iter().map(|(name, &worth)| (name.clone(), worth))
    }

    pub fn done_alone_by(&self, operator: &str) -> i64 {
        self.done_alone.get(operator).copied().unwrap_or(0)
    }

    pub fn daily_used(&self, account: AccountId, key: LimitKey) -> i64 {
        self.daily_used.get(&(account, key)).copied().unwrap_or(0)
    }

    pub fn idempotency_key(&self, correspondent: CorrespondentId, key: &str) -> Option<&KeyRecord> {
        self.keys.get(&(correspondent, key.to_owned()))
    }

    /// The limits that apply to an account: its own, else its correspondent's.
    pub fn limits_for<'s>(&'s self, account: &'s Account) -> Option<&'s Limits> {
        account.limits.as_deref().or_else(|| self.correspondents.get(&account.correspondent).map(|c| &c.config.limits))
    }

    pub fn is_firm(&self, id: AccountId) -> bool {
        self.accounts.get(&id).is_some_and(|a| a.kind == AccountKind::Firm)
    }

    // ----- Apply -----

    /// Applies one event produced by `execute` on this state. Events are facts: applying them
    /// cannot fail. An event that does not fit the state is a programmer error and panics.
    pub fn apply(&mut self, event: &Event) {
        self.events_applied += 1;
        let at = event.at;
        match &event.kind {
            EventKind::CorrespondentCreated(c) => {
                self.correspondents.insert(c.id, (**c).clone());
            }
            EventKind::CorrespondentConfigured { id, config } => {
                self.correspondents.get_mut(id).expect("configured correspondent exists").config = (**config).clone();
            }
            EventKind::AccountOpened { account, email, .. } => {
                self.next_account_number = self.next_account_number.max(account.account_number + 1);
                self.accounts.insert(account.id, (**account).clone());
                if let Some(email) = email {
                    self.emails.insert((account.correspondent, email.clone()), account.id);
                }
            }
            EventKind::AccountStatusChanged { id, to, .. } => self.account_mut(*id).status = *to,
            EventKind::AccountBlocksChanged { id, blocks } => self.account_mut(*id).blocks = *blocks,
            EventKind::AccountLimitsSet { id, limits } => self.account_mut(*id).limits = limits.clone(),
            EventKind::OverdraftSet { account, currency, units } => {
                self.overdrafts.insert((*account, *currency), *units);
            }
            EventKind::AssetListed(info) => {
                self.assets.insert(info.symbol, (**info).clone());
            }
            EventKind::SecuritiesDeposited { movement, price, .. } => self.post(movement, Some(*price)),
            EventKind::TransferCreated(transfer) => self.apply_transfer_created(transfer),
            EventKind::TransferStatusChanged { id, from, to, movement } => self.apply_transfer_status(*id, (*from, *to), at, *movement),
            EventKind::JournalCreated { journal, movement } => self.apply_journal_created(journal, *movement, true),
            EventKind::JournalStatusChanged(change) => self.apply_status_change(change, at),
            EventKind::ActionRequested { id, request } => {
                if let Some(journal) = self.journal_mut(*id) {
                    journal.extra_mut().request = Some((**request).clone());
                }
            }
            EventKind::IdempotencyKeyStored(record) => {
                self.keys.insert((record.correspondent, record.key.clone()), (**record).clone());
            }
            EventKind::IdempotencyKeysExpired { created_before } => self.keys.retain(|_, r| r.created_at >= *created_before),
            EventKind::ApiKeyIssued(key) => {
                self.api_keys.insert(key.key_id.clone(), (**key).clone());
            }
            EventKind::ApiKeyRevoked { key_id } => {
                self.api_keys.get_mut(key_id).expect("event names a known key").revoked = true;
            }
            EventKind::OperatorActed(_) => {}
            EventKind::ConfirmationRequested(c) => {
                self.confirmations.insert(c.fingerprint, (**c).clone());
            }
            EventKind::ConfirmationGranted { fingerprint } => {
                self.confirmations.remove(fingerprint);
            }
            EventKind::DoneAlone { operator, worth } => {
                let done = self.done_alone.entry(operator.clone()).or_default();
                *done = done.saturating_add(*worth);
            }
            EventKind::BusinessDayAdvanced { to, .. } => {
                self.business_date = *to;
                self.daily_used.clear();
                self.done_alone.clear();
                // A four-eyes request waits for the day it was asked in: none is confirmed later
                // by someone who repeats the same call weeks on.
                self.confirmations.clear();
            }
        }
    }

    fn account_mut(&mut self, id: AccountId) -> &mut Account {
        self.accounts.get_mut(&id).expect("event names a known account")
    }

    fn balance_mut(&mut self, book: Book, asset: Asset) -> &mut Balance {
        let list = self.books.entry(book).or_default();
        let index = match list.iter().position(|(a, _)| *a == asset) {
            Some(i) => i,
            None => {
                list.push((asset, Balance::default()));
                list.len() - 1
            }
        };
        &mut list[index].1
    }

    /// Posts a movement. For shares, cost follows the average-cost method: the source gives up
    /// its average cost of the shares moved; the destination takes them at `price` when one is
    /// given (a booking), else at that same average cost.
    fn post(&mut self, movement: &Movement, price: Option<i64>) {
        let from = self.balance_mut(movement.from, movement.asset);
        let cost_out = match movement.asset {
            Asset::Security(_) if from.posted > 0 => from.cost_nanos * i128::from(movement.units) / i128::from(from.posted),
            _ => 0,
        };
        from.posted -= movement.units;
        from.cost_nanos -= cost_out;
        let to = self.balance_mut(movement.to, movement.asset);
        to.posted += movement.units;
        if let Asset::Security(_) = movement.asset {
            to.cost_nanos += price.map_or(cost_out, |p| cost_nanos(movement.units, p));
        }
    }

    fn apply_transfer_created(&mut self, transfer: &Transfer) {
        if transfer.direction == crate::model::TransferDirection::Outgoing {
            self.balance_mut(Book::Account(transfer.account), Asset::Cash(transfer.currency)).held += transfer.amount;
        }
        self.transfers.insert(transfer.id, transfer.clone());
    }

    fn apply_transfer_status(
        &mut self,
        id: TransferId,
        (from, to): (TransferStatus, TransferStatus),
        at: Timestamp,
        movement: Option<Movement>,
    ) {
        let transfer = self.transfers.get_mut(&id).expect("event names a known transfer");
        transfer.status = to;
        transfer.updated_at = at;
        let (account, currency, amount, direction) = (transfer.account, transfer.currency, transfer.amount, transfer.direction);
        // A queued outgoing transfer holds its cash; leaving the queue releases it.
        if direction == crate::model::TransferDirection::Outgoing && from == TransferStatus::Queued {
            self.balance_mut(Book::Account(account), Asset::Cash(currency)).held -= amount;
        }
        if let Some(m) = movement {
            self.post(&m, None);
        }
    }

    /// Applies an event as [`State::apply`] does, on a copy of the state that keeps no settled
    /// journal (a reader's copy of the committed state, whose settled journals are the store's):
    /// a journal created settled never enters its memory, and one that settles leaves it. The
    /// same as `apply` then [`State::evict`], without the journal put in and taken out again.
    pub fn apply_settled_out(&mut self, event: &Event) {
        match &event.kind {
            EventKind::JournalCreated { journal, movement } => {
                self.events_applied += 1;
                let keep = waiting_slot(journal.status).is_some();
                self.apply_journal_created(journal, *movement, keep);
            }
            EventKind::JournalStatusChanged(change) => {
                self.apply(event);
                self.evict(change.id);
            }
            _ => self.apply(event),
        }
    }

    fn apply_journal_created(&mut self, journal: &Journal, movement: Option<Movement>, keep: bool) {
        self.next_ordinal = self.next_ordinal.max(journal.ordinal + 1);
        if journal.limit_counted > 0 {
            let key = LimitKey::of(journal.asset);
            *self.daily_used.entry((journal.to, key)).or_default() += journal.limit_counted;
        }
        if let Some(m) = movement {
            self.post(&m, journal.price);
        }
        if let Some(corrected) = journal.corrects().and_then(|id| self.journal_mut(id)) {
            corrected.extra_mut().corrected_by = Some(journal.id);
        }
        if let Some(slot) = waiting_slot(journal.status) {
            self.waiting[slot].insert(journal.id);
        }
        if keep {
            let fresh = self.journals.insert(journal.id, journal.clone()).is_none();
            assert!(fresh, "journal ids are never reused: IdSource broke its contract");
        }
    }

    fn apply_status_change(&mut self, change: &StatusChange, at: Timestamp) {
        let Some(journal) = self.journals.get_mut(&change.id) else {
            // A settled journal out of memory (a reader's copy of the state keeps none): its
            // record is the store's, and what it moves carries its own price.
            debug_assert!(waiting_slot(change.from).is_none(), "a journal that can still move is in memory");
            if let Some(m) = change.movement {
                self.post(&m, if change.to.is_booked() { change.price } else { None });
            }
            return;
        };
        debug_assert_eq!(journal.status, change.from);
        journal.status = change.to;
        journal.updated_at = at;
        if let Some(extra) = journal.extra.as_mut() {
            // A request for a second operator is about the status it was made in.
            extra.request = None;
        }
        if change.to == JournalStatus::Queued {
            journal.hold = Hold::None;
        }
        if let Some(price) = change.price {
            journal.price = Some(price);
        }
        if change.booked_on.is_some() {
            journal.booked_on = change.booked_on;
        }
        if change.corrected_by.is_some() {
            journal.extra_mut().corrected_by = change.corrected_by;
        }
        if change.refused_for.is_some() {
            journal.extra_mut().refused_for = change.refused_for;
        }
        let price = journal.price;
        if let Some(slot) = waiting_slot(change.from) {
            self.waiting[slot].remove(&change.id);
        }
        if let Some(slot) = waiting_slot(change.to) {
            self.waiting[slot].insert(change.id);
        }
        if let Some(m) = change.movement {
            // A booking brings shares in at the booked price; an undoing takes back the cost
            // the receiver holds them at.
            let booking = change.to.is_booked();
            self.post(&m, if booking { price } else { None });
        }
    }

    // ----- Invariants -----

    /// Checks what must always hold: every asset's balances sum to zero across all books, no
    /// account book is below its floor, no hold is negative or larger than what it holds back,
    /// and the waiting indexes agree with the journals. Returns what disagrees.
    pub fn check_invariants(&self) -> Result<(), String> {
        let mut totals: FxHashMap<Asset, i128> = FxHashMap::default();
        for (book, list) in &self.books {
            for (asset, balance) in list {
                *totals.entry(*asset).or_default() += i128::from(balance.posted);
                if balance.held < 0 {
                    return Err(format!("{book} holds a negative amount of {asset}: {}", balance.held));
                }
                if let Some(floor) = self.floor(*book, *asset) {
                    if balance.available() < floor {
                        return Err(format!("{book} is below its floor in {asset}: {} < {floor}", balance.available()));
                    }
                }
            }
        }
        if let Some((asset, total)) = totals.iter().find(|(_, t)| **t != 0) {
            return Err(format!("postings in {asset} sum to {total}, not zero"));
        }
        for (slot, status) in WAITING.iter().enumerate() {
            let expected = self.journals.values().filter(|j| j.status == *status).count();
            if expected != self.waiting[slot].len() {
                return Err(format!("{} journals are {status} but {} are indexed", expected, self.waiting[slot].len()));
            }
        }
        Ok(())
    }
}

impl LimitKey {
    /// The counter a journal in `asset` counts against.
    pub fn of(asset: Asset) -> LimitKey {
        match asset {
            Asset::Cash(currency) => LimitKey::Cash(currency),
            Asset::Security(_) => LimitKey::SecuritiesUsd,
        }
    }
}
