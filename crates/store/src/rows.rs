//! The rows a batch of events touched, at their final values.

use crate::store::Record;
use cashier_core::{
    Account, AccountId, Asset, AssetInfo, Balance, Book, Correspondent, CorrespondentId, Currency, Date, EventKind, Journal, JournalId,
    KeyRecord, LimitKey, State, Timestamp, Transfer, TransferId,
};
use std::collections::{BTreeSet, HashMap};
use std::hash::Hash;

/// Upserts (and a few deletions) for the queryable tables, derived from a batch's records and
/// the state after applying them.
#[derive(Debug, Default)]
pub struct Rows {
    pub business_date: Date,
    pub correspondents: Vec<Correspondent>,
    pub accounts: Vec<Account>,
    /// Opening data of newly opened accounts, as the edge gave it, and their contact emails.
    pub profiles: Vec<(AccountId, String, Option<String>)>,
    pub assets: Vec<AssetInfo>,
    pub balances: Vec<(Book, Asset, Balance)>,
    pub journals: Vec<Journal>,
    pub transfers: Vec<Transfer>,
    pub overdrafts: Vec<(AccountId, Currency, i64)>,
    pub keys: Vec<KeyRecord>,
    /// Delete idempotency keys created before this instant.
    pub keys_expired_before: Option<Timestamp>,
    /// Replace the whole daily-usage table (a business day started) rather than upsert.
    pub daily_reset: bool,
    pub daily: Vec<(AccountId, LimitKey, i64)>,
    pub api_keys: Vec<cashier_core::ApiKey>,
    /// Four-eyes requests by fingerprint: `None` when granted (the row is deleted); a new
    /// business day (`daily_reset`) deletes them all first.
    pub confirmations: Vec<(u128, Option<cashier_core::Confirmation>)>,
    /// What operators did alone today; replaced whole with `daily_reset`.
    pub done_alone: Vec<(String, i64)>,
}

impl Rows {
    /// Collects every row the records touched, as `state` now holds it.
    pub fn collect(state: &State, records: &[Record]) -> Rows {
        let mut t = Touched::default();
        for record in records {
            t.note(&record.event.kind);
        }
        let mut rows = Rows { business_date: state.business_date(), ..Rows::default() };
        rows.correspondents = t.correspondents.iter().filter_map(|&id| state.correspondent(id).cloned()).collect();
        rows.accounts = t.accounts.iter().filter_map(|&id| state.account(id).cloned()).collect();
        rows.profiles = t.profiles;
        rows.assets = t.assets.iter().filter_map(|s| state.asset(cashier_core::Symbol::parse(s).ok()?).cloned()).collect();
        // A transfer's hold changes its account's balance even when nothing moves.
        for transfer in t.transfers.iter().filter_map(|&id| state.transfer(id)) {
            t.balances.insert((Book::Account(transfer.account), Asset::Cash(transfer.currency)));
        }
        // Only balances the ledger holds: a book touched without a change (a transfer that holds
        // nothing) gets no row, as it has no entry in memory.
        rows.balances = t.balances.iter().filter_map(|&(book, asset)| Some((book, asset, state.balance_entry(book, asset)?))).collect();
        rows.journals = t.journals.iter().filter_map(|&id| state.journal(id).cloned()).collect();
        rows.transfers = t.transfers.iter().filter_map(|&id| state.transfer(id).cloned()).collect();
        rows.overdrafts = t.overdrafts.iter().map(|&(a, c)| (a, c, state.overdraft(a, c))).collect();
        rows.keys = t.keys.iter().filter_map(|(c, k)| state.idempotency_key(*c, k).cloned()).collect();
        rows.keys_expired_before = t.keys_expired_before;
        rows.api_keys = t.api_keys.iter().filter_map(|k| state.api_key(k).cloned()).collect();
        rows.confirmations = t.confirmations.iter().map(|&f| (f, state.confirmation(f).cloned())).collect();
        rows.done_alone = if t.daily_reset {
            state.done_alone().collect()
        } else {
            t.done_alone.iter().map(|name| (name.clone(), state.done_alone_by(name))).collect()
        };
        rows.daily_reset = t.daily_reset;
        rows.daily = if t.daily_reset {
            state.daily_usage().collect()
        } else {
            t.daily.iter().map(|&(a, key)| (a, key, state.daily_used(a, key))).collect()
        };
        rows
    }
}

impl Rows {
    /// Whether these rows delete rows (expired idempotency keys, a new business day's usage).
    /// Deletions run before every upsert of a transaction, so a batch that deletes can only
    /// start a merged commit, never join one.
    pub fn deletes(&self) -> bool {
        self.keys_expired_before.is_some() || self.daily_reset
    }

    /// Adds the rows of a batch executed after this one: where both hold a row, the later
    /// value wins, as if the two had been written one after the other.
    pub fn absorb(&mut self, later: Rows) {
        self.business_date = later.business_date;
        merge_by(&mut self.correspondents, later.correspondents, |c| c.id);
        merge_by(&mut self.accounts, later.accounts, |a| a.id);
        self.profiles.extend(later.profiles);
        merge_by(&mut self.assets, later.assets, |a| a.symbol);
        merge_by(&mut self.balances, later.balances, |&(book, asset, _)| (book, asset));
        merge_by(&mut self.journals, later.journals, |j| j.id);
        merge_by(&mut self.transfers, later.transfers, |t| t.id);
        merge_by(&mut self.overdrafts, later.overdrafts, |&(account, currency, _)| (account, currency));
        merge_by(&mut self.keys, later.keys, |k| (k.correspondent, k.key.clone()));
        merge_by(&mut self.daily, later.daily, |&(account, key, _)| (account, key));
        merge_by(&mut self.api_keys, later.api_keys, |k| k.key_id.clone());
        merge_by(&mut self.confirmations, later.confirmations, |&(f, _)| f);
        merge_by(&mut self.done_alone, later.done_alone, |(name, _)| name.clone());
    }
}

/// Appends `later` to `rows`, replacing the rows of the same key in place.
fn merge_by<T, K: Eq + Hash>(rows: &mut Vec<T>, later: Vec<T>, key: impl Fn(&T) -> K) {
    if later.is_empty() {
        return;
    }
    if rows.is_empty() {
        *rows = later;
        return;
    }
    let mut at: HashMap<K, usize> = rows.iter().enumerate().map(|(i, row)| (key(row), i)).collect();
    for row in later {
        match at.get(&key(&row)) {
            Some(&i) => rows[i] = row,
            None => {
                at.insert(key(&row), rows.len());
                rows.push(row);
            }
        }
    }
}

/// What a batch touched, deduplicated and in a stable order.
#[derive(Default)]
struct Touched {
    correspondents: BTreeSet<CorrespondentId>,
    accounts: BTreeSet<AccountId>,
    profiles: Vec<(AccountId, String, Option<String>)>,
    assets: BTreeSet<String>,
    balances: BTreeSet<(Book, Asset)>,
    journals: BTreeSet<JournalId>,
    transfers: BTreeSet<TransferId>,
    overdrafts: BTreeSet<(AccountId, Currency)>,
    keys: BTreeSet<(CorrespondentId, String)>,
    keys_expired_before: Option<Timestamp>,
    daily_reset: bool,
    daily: BTreeSet<(AccountId, LimitKey)>,
    api_keys: BTreeSet<String>,
    confirmations: BTreeSet<u128>,
    done_alone: BTreeSet<String>,
}

impl Touched {
    fn note(&mut self, kind: &EventKind) {
        if let Some(m) = kind.movement() {
            self.balances.insert((m.from, m.asset));
            self.balances.insert((m.to, m.asset));
        }
        match kind {
            EventKind::CorrespondentCreated(c) => {
                self.correspondents.insert(c.id);
            }
            EventKind::CorrespondentConfigured { id, .. } => {
                self.correspondents.insert(*id);
            }
            EventKind::AccountOpened { account, profile, email } => {
                self.accounts.insert(account.id);
                self.profiles.push((account.id, profile.clone(), email.clone()));
            }
            EventKind::AccountStatusChanged { id, .. }
            | EventKind::AccountBlocksChanged { id, .. }
            | EventKind::AccountLimitsSet { id, .. } => {
                self.accounts.insert(*id);
            }
            EventKind::OverdraftSet { account, currency, .. } => {
                self.overdrafts.insert((*account, *currency));
            }
            EventKind::AssetListed(info) => {
                self.assets.insert(info.symbol.as_str().to_owned());
            }
            EventKind::SecuritiesDeposited { .. } | EventKind::OperatorActed(_) => {}
            EventKind::BusinessDayAdvanced { .. } => self.daily_reset = true,
            EventKind::TransferCreated(t) => {
                self.transfers.insert(t.id);
            }
            EventKind::TransferStatusChanged { id, .. } => {
                self.transfers.insert(*id);
            }
            EventKind::JournalCreated { journal, .. } => {
                self.journals.insert(journal.id);
                if let Some(original) = journal.corrects() {
                    self.journals.insert(original);
                }
                if journal.limit_counted > 0 {
                    self.daily.insert((journal.to, LimitKey::of(journal.asset)));
                }
            }
            EventKind::JournalStatusChanged(change) => {
                self.journals.insert(change.id);
            }
            EventKind::ActionRequested { id, .. } => {
                self.journals.insert(*id);
            }
            EventKind::IdempotencyKeyStored(record) => {
                self.keys.insert((record.correspondent, record.key.clone()));
            }
            EventKind::ApiKeyIssued(key) => {
                self.api_keys.insert(key.key_id.clone());
            }
            EventKind::ApiKeyRevoked { key_id } => {
                self.api_keys.insert(key_id.clone());
            }
            EventKind::ConfirmationRequested(c) => {
                self.confirmations.insert(c.fingerprint);
            }
            EventKind::ConfirmationGranted { fingerprint } => {
                self.confirmations.insert(*fingerprint);
            }
            EventKind::DoneAlone { operator, .. } => {
                self.done_alone.insert(operator.clone());
            }
            EventKind::IdempotencyKeysExpired { created_before } => {
                self.keys_expired_before = Some(*created_before);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merged_rows_keep_the_later_value_in_the_earlier_place() {
        let mut rows = vec![("firm", 1), ("alice", 5)];
        merge_by(&mut rows, vec![("bob", 7), ("firm", 3), ("bob", 8)], |&(book, _)| book);
        assert_eq!(rows, vec![("firm", 3), ("alice", 5), ("bob", 8)]);
        let mut empty: Vec<(&str, i32)> = Vec::new();
        merge_by(&mut empty, vec![("firm", 1)], |&(book, _)| book);
        assert_eq!(empty, vec![("firm", 1)]);
    }

    #[test]
    fn deletions_only_come_first_in_a_merged_commit() {
        let plain = Rows::default();
        let reset = Rows { daily_reset: true, ..Rows::default() };
        let expiry = Rows { keys_expired_before: Some(Timestamp(1)), ..Rows::default() };
        assert!(!plain.deletes(), "upserts only: joins a merged commit");
        assert!(reset.deletes(), "a new day's deletion only starts one");
        assert!(expiry.deletes());
    }
}
