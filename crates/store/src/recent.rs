//! The journals committed since the store last indexed them by account, by account, in memory.
//!
//! The store's index of an account's journals is written in runs: a commit every
//! [`crate::SequencerConfig::index_every`] journals appends every journal created since the last
//! run, sorted by account, at the end of the index (so each run is a sequential write, where an
//! index kept row by row would write a random leaf page a journal). The journals after the last
//! run are here, at most about `index_every`, so that a list of an account's journals reads them
//! without scanning the log's tail.
//!
//! **Invariant:** a committed journal is here or in a run of the store's index (transiently
//! both): it is added after its commit and before its caller is answered, and the whole set is
//! dropped only after the commit that wrote the run holding it. A reader that takes what it
//! needs from here first and then reads the store's runs misses nothing; it drops duplicates.

use cashier_core::{AccountId, JournalId};
use rustc_hash::FxHashMap;
use std::sync::{Arc, RwLock};

/// A shared handle to the recent journals by account. Clones share the same set.
#[derive(Clone, Default)]
pub struct RecentJournals {
    inner: Arc<RwLock<Recent>>,
}

#[derive(Default)]
struct Recent {
    /// Each account's journal ids in the order they were committed (ids grow).
    by_account: FxHashMap<AccountId, Vec<JournalId>>,
    journals: usize,
}

impl std::fmt::Debug for RecentJournals {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "RecentJournals({} journals)", self.journals())
    }
}

impl RecentJournals {
    /// Notes committed journals (id, from, to), in the order of their ids, under one lock.
    pub fn add(&self, journals: impl IntoIterator<Item = (JournalId, AccountId, AccountId)>) {
        let mut recent = self.inner.write().expect("recent lock");
        for (id, from, to) in journals {
            recent.journals += 1;
            for account in [from, to] {
                recent.by_account.entry(account).or_default().push(id);
            }
        }
    }

    /// Forgets every journal: the store has indexed them all.
    pub fn clear(&self) {
        let mut recent = self.inner.write().expect("recent lock");
        recent.by_account = FxHashMap::default();
        recent.journals = 0;
    }

    pub fn journals(&self) -> usize {
        self.inner.read().expect("recent lock").journals
    }

    /// Up to `n` of `account`'s journals, newest first, each with an id below `below` when set.
    pub fn newest(&self, account: AccountId, below: Option<JournalId>, n: usize) -> Vec<JournalId> {
        let recent = self.inner.read().expect("recent lock");
        let Some(ids) = recent.by_account.get(&account) else { return Vec::new() };
        let end = below.map_or(ids.len(), |b| ids.partition_point(|id| *id < b));
        ids[..end].iter().rev().take(n).copied().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_accounts_recent_journals_come_newest_first_below_a_cursor() {
        let recent = RecentJournals::default();
        let (a, b, c) = (AccountId(1), AccountId(2), AccountId(3));
        recent.add((1..=5).map(|i| (JournalId(i), a, if i % 2 == 0 { b } else { c })));
        assert_eq!(recent.newest(a, None, 3), vec![JournalId(5), JournalId(4), JournalId(3)]);
        assert_eq!(recent.newest(a, Some(JournalId(3)), 10), vec![JournalId(2), JournalId(1)]);
        assert_eq!(recent.newest(b, None, 10), vec![JournalId(4), JournalId(2)]);
        assert_eq!(recent.newest(AccountId(9), None, 10), Vec::<JournalId>::new());
        assert_eq!(recent.journals(), 5);
        recent.clear();
        assert_eq!(recent.newest(a, None, 10), Vec::<JournalId>::new());
        assert_eq!(recent.journals(), 0);
    }
}
