//! Property tests: random command sequences, checked against a simple model of the books.
//!
//! After every command: the core's own invariants (the harness), and that a rejected command
//! changed nothing. At the end of each sequence:
//! - every asset's balances sum to zero across all books;
//! - every balance equals the sum of its postings in the event log;
//! - every account's balance equals what the model computes from the records alone: booked
//!   journals, completed transfers and deposits;
//! - no account is below its floor;
//! - every journal's status history is a legal path;
//! - replaying the event log into an empty state rebuilds an identical state.
//!
//! And during the run, where the model can predict an outcome, it must match.

mod common;

use cashier_core::*;
use common::*;
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use std::collections::HashMap;

#[derive(Clone, Debug)]
enum Op {
    Fund {
        account: usize,
        amount: i64,
    },
    Withdraw {
        account: usize,
        amount: i64,
        at_once: bool,
    },
    CompleteTransfer {
        pick: usize,
    },
    CancelTransfer {
        pick: usize,
    },
    Cash {
        from: usize,
        to: usize,
        amount: i64,
        key: Option<u8>,
    },
    /// Firm to one of its own customers: the common case, valid but for funds and limits.
    Pay {
        customer: usize,
        amount: i64,
    },
    Shares {
        to: usize,
        qty: i64,
    },
    Batch {
        from: usize,
        entries: Vec<(usize, i64)>,
        key: Option<u8>,
    },
    ReverseBatch {
        to: usize,
        entries: Vec<(usize, i64)>,
    },
    Cancel {
        pick: usize,
    },
    Approve {
        pick: usize,
    },
    Reject {
        pick: usize,
    },
    Send {
        pick: usize,
    },
    Book {
        pick: usize,
    },
    Activity {
        pick: usize,
    },
    Reverse {
        pick: usize,
    },
    Delete {
        pick: usize,
    },
    Correct {
        pick: usize,
        amount: i64,
    },
    AdvanceDay,
    Block {
        account: usize,
        on: bool,
    },
    Close {
        account: usize,
    },
    Price {
        dollars: i64,
    },
    Overdraft {
        firm: usize,
        amount: i64,
    },
    ClearAll,
    ClearStep {
        max: u32,
    },
}

/// Accounts 0..2 are firms (one per correspondent), 2..8 customers, alternating correspondents.
const ACCOUNTS: usize = 8;

fn amount() -> impl Strategy<Value = i64> {
    prop_oneof![3 => 1i64..=5_000, 2 => 5_001i64..=200_000, 2 => 150_000i64..=200_000, 1 => Just(0), 1 => Just(-100)]
}

fn op() -> impl Strategy<Value = Op> {
    let a = 0..ACCOUNTS;
    let pick = 0usize..64;
    prop_oneof![
        1 => (a.clone(), amount()).prop_map(|(account, amount)| Op::Fund { account, amount }),
        3 => (0usize..3, amount(), any::<bool>()).prop_map(|(account, amount, at_once)| Op::Withdraw { account, amount, at_once }),
        1 => pick.clone().prop_map(|pick| Op::CompleteTransfer { pick }),
        1 => pick.clone().prop_map(|pick| Op::CancelTransfer { pick }),
        4 => (a.clone(), a.clone(), amount(), proptest::option::of(0u8..4)).prop_map(|(from, to, amount, key)| Op::Cash { from, to, amount, key }),
        4 => (2usize..ACCOUNTS, amount()).prop_map(|(customer, amount)| Op::Pay { customer, amount }),
        1 => (a.clone(), 1i64..2_000_000_000).prop_map(|(to, qty)| Op::Shares { to, qty }),
        1 => (0usize..2, proptest::collection::vec((a.clone(), amount()), 0..6), proptest::option::of(0u8..4)).prop_map(|(from, entries, key)| Op::Batch { from, entries, key }),
        1 => (0usize..2, proptest::collection::vec((a.clone(), amount()), 1..4)).prop_map(|(to, entries)| Op::ReverseBatch { to, entries }),
        1 => pick.clone().prop_map(|pick| Op::Cancel { pick }),
        1 => pick.clone().prop_map(|pick| Op::Approve { pick }),
        1 => pick.clone().prop_map(|pick| Op::Reject { pick }),
        3 => pick.clone().prop_map(|pick| Op::Send { pick }),
        3 => pick.clone().prop_map(|pick| Op::Book { pick }),
        2 => pick.clone().prop_map(|pick| Op::Activity { pick }),
        1 => pick.clone().prop_map(|pick| Op::Reverse { pick }),
        1 => pick.clone().prop_map(|pick| Op::Delete { pick }),
        1 => (pick.clone(), amount()).prop_map(|(pick, amount)| Op::Correct { pick, amount }),
        1 => Just(Op::AdvanceDay),
        1 => (a.clone(), any::<bool>()).prop_map(|(account, on)| Op::Block { account, on }),
        1 => a.clone().prop_map(|account| Op::Close { account }),
        1 => (1i64..500).prop_map(|dollars| Op::Price { dollars }),
        1 => (0usize..2, 0i64..50_000).prop_map(|(firm, amount)| Op::Overdraft { firm, amount }),
        1 => Just(Op::ClearAll),
        2 => (1u32..4).prop_map(|max| Op::ClearStep { max }),
    ]
}

struct Run {
    ledger: Ledger,
    accounts: Vec<AccountId>,
    actors: Vec<Actor>,
    journals: Vec<JournalId>,
    transfers: Vec<TransferId>,
    aapl: Symbol,
}

impl Run {
    fn new() -> Run {
        let mut ledger = Ledger::new();
        let v1 = ledger.correspondent("VONE", CorrespondentConfig::default());
        let v2 = ledger.correspondent("VTWO", CorrespondentConfig { jnlc_flow: JnlcFlow::V2, ..Default::default() });
        let corrs = [v1, v2];
        let mut accounts = Vec::new();
        for i in 0..ACCOUNTS {
            let kind = if i < 2 { AccountKind::Firm } else { AccountKind::Customer };
            accounts.push(ledger.account(corrs[i % 2], kind));
        }
        let aapl = ledger.list("AAPL", true, Some(price_dollars(100)));
        for &firm in &accounts[..2] {
            ledger.fund(firm, dollars(2_000));
            ledger.ok(Command::DepositSecurities { account: firm, symbol: aapl, qty: shares(20), price: None });
        }
        let actors = corrs.iter().map(|&c| Actor::Correspondent(c)).collect();
        Run { ledger, accounts, actors, journals: Vec::new(), transfers: Vec::new(), aapl }
    }

    fn actor_of(&self, account: usize) -> Actor {
        self.actors[account % 2].clone()
    }

    fn journal(&self, pick: usize) -> JournalId {
        // Half the picks fall on the most recent journals, where the action usually is.
        let len = self.journals.len();
        match len {
            0 => JournalId(u128::MAX),
            _ if pick < 32 => self.journals[len - 1 - pick % len.min(4)],
            _ => self.journals[pick % len],
        }
    }

    fn command(&self, op: &Op) -> Command {
        let acct = |i: usize| self.accounts[i];
        let ops = || operator("property test");
        let transfer = |pick: usize| self.transfers.get(pick % self.transfers.len().max(1)).copied().unwrap_or(TransferId(u128::MAX));
        match op.clone() {
            Op::Fund { account, amount } => Command::CreateTransfer {
                actor: self.actor_of(account),
                account: acct(account),
                direction: TransferDirection::Incoming,
                kind: TransferKind::Wire,
                currency: Currency::USD,
                amount,
                complete_at_once: true,
            },
            Op::Withdraw { account, amount, at_once } => Command::CreateTransfer {
                actor: self.actor_of(account),
                account: acct(account),
                direction: TransferDirection::Outgoing,
                kind: TransferKind::Ach,
                currency: Currency::USD,
                amount,
                complete_at_once: at_once,
            },
            Op::CompleteTransfer { pick } => Command::CompleteTransfer { id: transfer(pick) },
            Op::CancelTransfer { pick } => {
                let id = transfer(pick);
                let account = self.ledger.state.transfer(id).map_or(AccountId(0), |t| t.account);
                Command::CancelTransfer { actor: Actor::Operator("ops".into()), account, id }
            }
            Op::Cash { from, to, amount, key } => Command::CreateJournal {
                actor: self.actor_of(from),
                request: JournalRequest::cash(acct(from), acct(to), amount),
                key: key.map(|k| format!("key-{k}")),
            },
            Op::Pay { customer, amount } => Command::CreateJournal {
                actor: self.actor_of(customer),
                request: JournalRequest::cash(acct(customer % 2), acct(customer), amount),
                key: None,
            },
            Op::Shares { to, qty } => Command::CreateJournal {
                actor: self.actor_of(to),
                request: JournalRequest::securities(acct(to % 2), acct(to), self.aapl, qty),
                key: None,
            },
            Op::Batch { from, entries, key } => Command::CreateBatch {
                actor: self.actor_of(from),
                entry_type: EntryType::Cash,
                from: acct(from),
                entries: entries.iter().map(|&(a, amt)| BatchEntry::cash(acct(a), amt)).collect(),
                key: key.map(|k| format!("key-{k}")),
            },
            Op::ReverseBatch { to, entries } => Command::CreateReverseBatch {
                actor: self.actor_of(to),
                entry_type: EntryType::Cash,
                to: acct(to),
                entries: entries.iter().map(|&(a, amt)| BatchEntry::cash(acct(a), amt)).collect(),
                key: None,
            },
            Op::Cancel { pick } => {
                Command::CancelJournal { actor: Actor::Operator("ops".into()), id: self.journal(pick), reason: "asked".into() }
            }
            Op::Approve { pick } => Command::ApproveJournal { id: self.journal(pick), audit: ops() },
            Op::Reject { pick } => Command::RejectJournal { id: self.journal(pick), audit: ops() },
            Op::Send { pick } => Command::SendToClearing { id: self.journal(pick) },
            Op::Book { pick } => Command::BookJournal { id: self.journal(pick) },
            Op::Activity { pick } => Command::CreateActivity { id: self.journal(pick) },
            Op::Reverse { pick } => Command::ReverseJournal { id: self.journal(pick), audit: ops() },
            Op::Delete { pick } => Command::DeleteJournal { id: self.journal(pick), audit: ops() },
            Op::Correct { pick, amount } => Command::CorrectJournal { id: self.journal(pick), units: amount, audit: ops() },
            Op::AdvanceDay => Command::AdvanceBusinessDay { to: self.ledger.state.business_date().next() },
            Op::Block { account, on } => {
                Command::SetAccountBlocks { account: acct(account), blocks: Blocks { transfers_blocked: on, ..Default::default() } }
            }
            Op::Close { account } => Command::SetAccountStatus {
                actor: Actor::Operator("ops".into()),
                account: acct(account),
                status: AccountStatus::AccountClosed,
            },
            Op::Price { dollars } => Command::ListAsset {
                symbol: self.aapl,
                name: "Apple".into(),
                exchange: "NASDAQ".into(),
                class: "us_equity".into(),
                fractionable: true,
                price: Some(price_dollars(dollars)),
            },
            Op::Overdraft { firm, amount } => Command::SetOverdraft { account: acct(firm), currency: Currency::USD, units: amount },
            Op::ClearStep { max } => Command::Clear { max },
            Op::ClearAll => unreachable!("handled by step"),
        }
    }

    fn step(&mut self, op: &Op) {
        if let Op::ClearAll = op {
            let queued: Vec<_> = self.ledger.state.waiting(JournalStatus::Queued).collect();
            for id in queued {
                let _ = self.ledger.run(Command::SendToClearing { id });
            }
            let sent: Vec<_> = self.ledger.state.waiting(JournalStatus::SentToClearing).collect();
            for id in sent {
                self.book_and_predict(id);
            }
            return;
        }
        if let Op::Book { pick } = op {
            let id = self.journal(*pick);
            if self.ledger.state.journal(id).is_some_and(|j| j.status == JournalStatus::SentToClearing) {
                self.book_and_predict(id);
                return;
            }
        }
        let command = self.command(op);
        let predicted_short = self.predict_insufficient(&command);
        let result = self.ledger.run(command);
        if predicted_short {
            assert!(result.is_err(), "the model predicted a refusal for {op:?}");
        }
        if let Ok(events) = result {
            self.journals.extend(created(&events));
            for event in &events {
                if let EventKind::TransferCreated(t) = &event.kind {
                    self.transfers.push(t.id);
                }
            }
        }
    }

    /// The model's own booking rule: it executes exactly when the source can afford it and both
    /// accounts can still take part.
    fn book_and_predict(&mut self, id: JournalId) {
        let state = &self.ledger.state;
        let journal = state.journal(id).unwrap().clone();
        let from = state.account(journal.from).unwrap();
        let to = state.account(journal.to).unwrap();
        let source = state.balance(Book::Account(journal.from), journal.asset);
        let floor = state.floor(Book::Account(journal.from), journal.asset).unwrap();
        let affordable = i128::from(source.posted) - i128::from(source.held) - i128::from(journal.units) >= i128::from(floor);
        let usable = !from.blocks.transfers_blocked && !to.blocks.transfers_blocked && to.status == AccountStatus::Active;
        self.ledger.ok(Command::BookJournal { id });
        let want = if affordable && usable { JournalStatus::Executed } else { JournalStatus::Refused };
        assert_eq!(self.ledger.status(id), want, "booking {journal:?}");
    }

    /// A single cash journal for more than the source holds, all else valid, must be refused.
    fn predict_insufficient(&self, command: &Command) -> bool {
        let Command::CreateJournal { request, .. } = command else { return false };
        let Some(amount) = request.amount else { return false };
        let state = &self.ledger.state;
        let balance = state.balance(Book::Account(request.from), Asset::Cash(request.currency));
        let floor = state.floor(Book::Account(request.from), Asset::Cash(request.currency)).unwrap_or(i64::MIN);
        amount > 0 && i128::from(balance.available()) - i128::from(amount) < i128::from(floor)
    }

    fn check_end(&self) {
        let state = &self.ledger.state;
        // Replay rebuilds an identical state.
        let mut replayed = State::new(DAY0);
        for event in &self.ledger.log {
            replayed.apply(event);
        }
        assert_eq!(&replayed, state, "replaying the log rebuilt a different state");
        // Restoring from the parts a store keeps rebuilds it too.
        let restored = State::restore(state.to_parts()).expect("a live state restores");
        assert!(same_ledger(&restored, state), "restoring from parts rebuilt a different state");
        // Postings per (book, asset), from the log.
        let mut postings: HashMap<(Book, Asset), i64> = HashMap::new();
        for event in &self.ledger.log {
            if let Some(m) = event.movement() {
                for p in m.postings() {
                    *postings.entry((p.book, p.asset)).or_default() += p.units;
                }
            }
        }
        let mut totals: HashMap<Asset, i64> = HashMap::new();
        for (book, holdings) in state.books() {
            for (asset, balance) in holdings {
                assert_eq!(
                    balance.posted,
                    postings.get(&(*book, *asset)).copied().unwrap_or(0),
                    "{book} {asset}: balance against its postings"
                );
                *totals.entry(*asset).or_default() += balance.posted;
                if let Some(floor) = state.floor(*book, *asset) {
                    assert!(balance.available() >= floor, "{book} {asset} below its floor");
                }
            }
        }
        assert!(totals.values().all(|&t| t == 0), "postings do not sum to zero: {totals:?}");
        // The model: balances from the records alone.
        let mut model: HashMap<(AccountId, Asset), i64> = HashMap::new();
        for j in state.journals().filter(|j| j.status.is_booked()) {
            *model.entry((j.from, j.asset)).or_default() -= j.units;
            *model.entry((j.to, j.asset)).or_default() += j.units;
        }
        for t in state.transfers().filter(|t| t.status == TransferStatus::Complete) {
            let sign = if t.direction == TransferDirection::Incoming { 1 } else { -1 };
            *model.entry((t.account, Asset::Cash(t.currency))).or_default() += sign * t.amount;
        }
        for event in &self.ledger.log {
            if let EventKind::SecuritiesDeposited { account, movement, .. } = &event.kind {
                *model.entry((*account, movement.asset)).or_default() += movement.units;
            }
        }
        for &account in &self.accounts {
            for &(asset, balance) in state.holdings(Book::Account(account)) {
                assert_eq!(
                    balance.posted,
                    model.get(&(account, asset)).copied().unwrap_or(0),
                    "{account} {asset}: balance against the model"
                );
            }
        }
        // Every status history is a legal path.
        let mut last: HashMap<JournalId, JournalStatus> = HashMap::new();
        for (id, from, to) in self.ledger.log.iter().filter_map(Event::journal_status) {
            assert_eq!(last.get(&id).copied(), from, "journal {id}: event's from is its previous status");
            assert!(JournalStatus::is_legal(from, to), "journal {id}: {from:?} -> {to}");
            last.insert(id, to);
        }
        for j in state.journals() {
            assert_eq!(last.get(&j.id), Some(&j.status));
        }
    }
}

/// Equal as ledgers: the same parts. (Per-book holdings may list assets in another order.)
fn same_ledger(a: &State, b: &State) -> bool {
    let (pa, pb) = (a.to_parts(), b.to_parts());
    format!("{pa:?}") == format!("{pb:?}")
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn random_sequences_keep_the_books(ops in proptest::collection::vec(op(), 1..80)) {
        let mut run = Run::new();
        for op in &ops {
            run.step(op);
        }
        run.check_end();
    }
}

#[test]
fn a_long_sequence_reaches_every_status() {
    // Deterministic coverage check: the generator's operations do reach every status.
    let mut runner = proptest::test_runner::TestRunner::deterministic();
    let strategy = proptest::collection::vec(op(), 400);
    let mut seen = std::collections::HashSet::new();
    for _ in 0..20 {
        let ops = strategy.new_tree(&mut runner).unwrap().current();
        let mut run = Run::new();
        for op in &ops {
            run.step(op);
        }
        run.check_end();
        seen.extend(run.ledger.log.iter().filter_map(Event::journal_status).map(|(_, _, to)| to));
    }
    for &status in JournalStatus::ALL {
        assert!(seen.contains(&status), "no sequence reached {status}");
    }
}
