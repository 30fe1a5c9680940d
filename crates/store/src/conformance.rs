//! The store conformance suite: one set of tests every backend must pass.
//!
//! A backend's test file implements [`Harness`] (a fresh store, the same store reopened, plain
//! SQL) and calls each test here. The tests drive a real [`Sequencer`] over the real store.

use crate::sql::JournalQuery;
use crate::{Batch, Loaded, ManualClock, Outcome, Record, Sequencer, SequencerConfig, Store, StoreError, SubmitError};
use cashier_core::*;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};

/// What a backend gives the suite.
pub trait Harness {
    type S: Store;
    /// A new, empty store.
    fn fresh(&mut self) -> Self::S;
    /// The store `fresh` made, opened again as after a restart.
    fn reopen(&mut self) -> Self::S;
    /// A new, empty store whose commits move its checkpoint every `events`.
    fn fresh_checkpointing(&mut self, events: u64) -> Self::S;
    /// Runs one SQL statement against the store; returns the first column of the first row,
    /// as an integer, when there is one.
    fn sql(&mut self, sql: &str) -> Option<i64>;
    /// Makes the store's own row writer refuse (a trigger raising a constraint error) every
    /// journal row whose description is `description`, as a backend refuses a value it cannot
    /// hold.
    fn refuse_description(&mut self, description: &str);
}

pub const DAY0: Date = Date(20_000);

fn start(store: impl Store, config: SequencerConfig) -> Sequencer {
    let clock = ManualClock::at(Timestamp(1_700_000_000_000_000));
    Sequencer::start(store, clock, DAY0, config).expect("the store loads")
}

/// How long a test waits for the sequencer's answer before it fails: a sequencer that cannot
/// recover (a reload the store keeps refusing) would otherwise leave the test waiting forever.
const ANSWER_WAIT: std::time::Duration = std::time::Duration::from_secs(60);

/// Submits `command` and waits for its durable outcome, at most `ANSWER_WAIT`.
fn answered(seq: &Sequencer, command: Command) -> Result<Outcome, SubmitError> {
    let mut receiver = seq.try_submit(command)?;
    let deadline = std::time::Instant::now() + ANSWER_WAIT;
    loop {
        match receiver.try_recv() {
            Ok(outcome) => return outcome,
            Err(tokio::sync::oneshot::error::TryRecvError::Closed) => return Err(SubmitError::Unavailable),
            Err(tokio::sync::oneshot::error::TryRecvError::Empty) => {
                assert!(std::time::Instant::now() < deadline, "no answer within {ANSWER_WAIT:?}: the sequencer is stuck");
                std::thread::sleep(std::time::Duration::from_millis(1));
            }
        }
    }
}

/// Drives commands and keeps every record it was answered with, to replay.
struct Driver {
    seq: Sequencer,
    records: Vec<Record>,
}

impl Driver {
    fn ok(&mut self, command: Command) -> Outcome {
        let shown = format!("{command:?}");
        let outcome = answered(&self.seq, command).unwrap_or_else(|e| panic!("{shown}: {e}"));
        self.records.extend(outcome.records().iter().cloned());
        outcome
    }

    fn expected_state(&self) -> State {
        let mut state = State::new(DAY0);
        for record in &self.records {
            state.apply(&record.event);
        }
        state
    }
}

fn same_ledger(a: &State, b: &State) -> bool {
    ledger_text(a) == ledger_text(b)
}

/// Builds a ledger that uses every kind of row, and returns the driver and a journal id.
fn scenario(driver: &mut Driver) -> JournalId {
    let ops = Actor::Operator("ops".into());
    let audit = |reason: &str| Audit { actor: Actor::Operator("ops".into()), reason: reason.into() };
    let corr = driver
        .ok(Command::CreateCorrespondent { code: "LPCA".into(), name: "LPCA".into(), config: CorrespondentConfig::default() })
        .correspondents[0]
        .id;
    let open = |kind| Command::open_account(Actor::Operator("ops".into()), corr, kind, "{\"contact\":{}}".into());
    let firm = driver.ok(open(AccountKind::Firm)).accounts[0].id;
    let alice = driver.ok(open(AccountKind::Customer)).accounts[0].id;
    let kyc = "{\"contact\":{\"email_address\":\"bob@example.com\"}}".to_owned();
    let bob = driver.ok(Command::open_customer(ops.clone(), corr, kyc, "bob@example.com")).accounts[0].id;
    let transfer = |account, direction, amount, at_once| Command::CreateTransfer {
        actor: ops.clone(),
        account,
        direction,
        kind: TransferKind::Wire,
        currency: Currency::USD,
        amount,
        complete_at_once: at_once,
    };
    driver.ok(transfer(firm, TransferDirection::Incoming, 1_000_000, true));
    let symbol = Symbol::parse("AAPL").unwrap();
    driver.ok(Command::ListAsset {
        symbol,
        name: "Apple".into(),
        exchange: "NASDAQ".into(),
        class: "us_equity".into(),
        fractionable: true,
        price: Some(100_000_000_000),
    });
    driver.ok(Command::DepositSecurities { account: firm, symbol, qty: 10_000_000_000, price: None });
    driver.ok(Command::SetOverdraft { account: firm, currency: Currency::USD, units: 5_000 });
    driver.ok(Command::IssueApiKey {
        key_id: "CKLPCA0001".into(),
        name: None,
        owner: KeyOwner::Correspondent(corr),
        secret_sha256: [1; 32],
    });
    driver.ok(Command::IssueApiKey {
        key_id: "OPS0000001".into(),
        name: Some("ops desk".into()),
        owner: KeyOwner::Operator,
        secret_sha256: [2; 32],
    });
    driver.ok(Command::RevokeApiKey { key_id: "OPS0000001".into() });
    let actor = Actor::Correspondent(corr);
    let create = |request, key: Option<&str>| Command::CreateJournal { actor: actor.clone(), request, key: key.map(str::to_owned) };
    let executed = driver.ok(create(JournalRequest::cash(firm, alice, 2_500), Some("k-1"))).journals[0].id;
    driver.ok(Command::SendToClearing { id: executed });
    driver.ok(Command::BookJournal { id: executed });
    let shares = driver.ok(create(JournalRequest::securities(firm, bob, symbol, 250_000_000), None)).journals[0].id;
    driver.ok(Command::SendToClearing { id: shares });
    driver.ok(Command::BookJournal { id: shares });
    driver.ok(Command::CorrectJournal { id: executed, units: 2_000, audit: audit("typo") });
    // A four-eyes request waiting for a second operator is kept too.
    driver.ok(Command::FourEyes { action: Box::new(Command::ReverseJournal { id: shares, audit: audit("asked") }), over: 0 });
    let held = driver.ok(create(JournalRequest::cash(firm, bob, 9_000), None)).journals[0].id;
    let batch: Vec<BatchEntry> = vec![BatchEntry::cash(alice, 100), BatchEntry::cash(bob, 200)];
    driver.ok(Command::CreateBatch {
        actor: actor.clone(),
        entry_type: EntryType::Cash,
        from: firm,
        entries: batch,
        key: Some("b-1".into()),
    });
    driver.ok(transfer(alice, TransferDirection::Outgoing, 500, false));
    driver.ok(Command::SetAccountBlocks { account: bob, blocks: Blocks { trading_blocked: true, ..Default::default() } });
    // Four-eyes on an account setting: one asked and granted (its row goes), what one operator
    // did alone yesterday (gone with the day) and today, and a request left waiting.
    let four_eyes = |action: Command, name: &str, over: i64| Command::FourEyes {
        action: Box::new(Command::Audited {
            audit: Audit { actor: Actor::Operator(name.into()), reason: "four-eyes".into() },
            action: Box::new(action),
        }),
        over,
    };
    let overdraft = |units| Command::SetOverdraft { account: firm, currency: Currency::USD, units };
    driver.ok(four_eyes(overdraft(6_000), "ops", 0));
    driver.ok(four_eyes(overdraft(6_000), "second", 0));
    driver.ok(four_eyes(transfer(firm, TransferDirection::Incoming, 100, true), "ops", 1_000));
    // Asked and never confirmed: it ends with the day.
    driver.ok(four_eyes(overdraft(9_000), "ops", 1_000));
    driver.ok(Command::AdvanceBusinessDay { to: DAY0.next() });
    driver.ok(four_eyes(transfer(firm, TransferDirection::Incoming, 200, true), "ops", 1_000));
    driver.ok(four_eyes(overdraft(7_000), "ops", 1_000));
    driver.ok(Command::RejectJournal { id: held, audit: audit("not today") }.clone()).journals.first().map(|j| j.id).unwrap_or(held)
}

/// Writes the suite's scenario into a fresh store and answers the ledger it committed, as text
/// to compare with a ledger loaded later (for a backend's own migration tests).
pub fn write_scenario(h: &mut impl Harness) -> String {
    let mut driver = Driver { seq: start(h.fresh(), SequencerConfig::default()), records: Vec::new() };
    scenario(&mut driver);
    let expected = driver.expected_state();
    driver.seq.shutdown();
    ledger_text(&expected)
}

/// The log reads back through a backend's [`crate::sql::LogReader`] over a store that holds the
/// suite's scenario: journal events page by windows without loss or repeat whatever the page
/// size, in order, and a journal's history starts with its creation and follows the log.
pub fn log_reads_back(reader: &mut dyn crate::sql::LogReader) {
    let all = reader.journal_events(0, 100_000).expect("reads the journal events");
    assert!(all.len() >= 10, "the scenario changed journals: {}", all.len());
    assert!(all.windows(2).all(|w| w[0].seq < w[1].seq), "in log order");
    for page in [1, 3, 7] {
        let (mut paged, mut after) = (Vec::new(), 0);
        loop {
            let events = reader.journal_events(after, page).expect("reads a page");
            assert!(events.len() <= page);
            after = events.last().map_or(after, |e| e.seq);
            let done = events.len() < page;
            paged.extend(events);
            if done {
                break;
            }
        }
        assert_eq!(paged, all, "pages of {page} read the same events");
    }
    let journal = all[0].journal_id;
    let history = reader.journal_history(journal).expect("reads a history");
    assert_eq!(history[0].kind, "journal_created");
    let expected: Vec<u64> = all.iter().filter(|e| e.journal_id == journal).map(|e| e.seq).collect();
    let seqs: Vec<u64> = history.iter().filter(|h| h.status_to.is_some()).map(|h| h.seq).collect();
    assert_eq!(seqs, expected, "the history holds the journal's status changes, in order");
    assert!(history.iter().any(|h| h.movement.is_some()), "and the postings it made");
}

/// A ledger as text: two ledgers are the same when their texts are. Only the journals that can
/// still move count: which settled ones a state keeps in memory is not part of the ledger
/// (they are the store's; see `settled_journals_are_the_stores`).
pub fn ledger_text(state: &State) -> String {
    let mut parts = state.to_parts();
    parts.journals.retain(|j| matches!(j.status, JournalStatus::Queued | JournalStatus::SentToClearing | JournalStatus::Pending));
    format!("{parts:?}")
}

/// Every journal of `expected` (a replay of the whole log keeps them all) is in the store as it
/// is there, read back one by one as the sequencer reads a journal that left memory.
fn settled_journals_are_the_stores(store: &mut impl Store, expected: &State) {
    let mut reader = store.reader().expect("a reader opens").expect("the backend has a reader");
    for journal in expected.journals() {
        assert_eq!(reader.journal(journal.id).expect("reads").as_ref(), Some(journal), "the store's journal {}", journal.id);
    }
}

/// An empty store loads as nothing, and a ledger started on it begins on the given day.
pub fn empty_store_starts_empty(h: &mut impl Harness) {
    let mut store = h.fresh();
    assert!(store.load().expect("an empty store loads").is_none());
    let mut driver = Driver { seq: start(store, SequencerConfig::default()), records: Vec::new() };
    let outcome =
        driver.ok(Command::CreateCorrespondent { code: "LPCA".into(), name: "LPCA".into(), config: CorrespondentConfig::default() });
    assert_eq!(outcome.business_date, DAY0);
    assert_eq!(outcome.records()[0].seq, 1);
}

/// What was committed comes back after a restart, identical to the live ledger, and the log
/// and tables reconcile in plain SQL.
pub fn committed_state_survives_restart(h: &mut impl Harness) {
    let mut driver = Driver { seq: start(h.fresh(), SequencerConfig::default()), records: Vec::new() };
    let journal = scenario(&mut driver);
    let expected = driver.expected_state();
    assert!(driver.seq.read(|replica| same_ledger(replica, &expected)), "reads see exactly what was committed");
    driver.seq.shutdown();
    let mut reopened = h.reopen();
    let loaded = reopened.load().expect("loads").expect("not empty");
    assert!(same_ledger(&loaded.state, &expected), "the reloaded ledger differs from the live one");
    assert!(expected.journals().any(|j| j.status.is_booked()), "the scenario books journals");
    assert!(loaded.state.journals().all(|j| !j.status.is_booked()), "settled journals stay in the store at start-up");
    settled_journals_are_the_stores(&mut reopened, &expected);
    assert_eq!(loaded.last_seq, driver.records.len() as u64);
    assert_eq!(loaded.state.business_date(), DAY0.next());
    assert_eq!(
        loaded.state.confirmations().map(|c| c.detail.as_str()).collect::<Vec<_>>().len(),
        1,
        "one request waits: yesterday's ended with the day"
    );
    assert_eq!(loaded.state.done_alone().collect::<Vec<_>>(), vec![("ops".to_owned(), 200)], "only today's lone action counts");
    assert_eq!(loaded.state.overdraft(loaded.state.accounts().find(|a| a.kind == AccountKind::Firm).unwrap().id, Currency::USD), 6_000);
    // Plain SQL: cash sums to zero over all books, and a journal's history is in the log.
    assert_eq!(h.sql("SELECT CAST(sum(posted) AS BIGINT) FROM balances WHERE asset = 'cash:USD'"), Some(0));
    assert_eq!(h.sql("SELECT count(*) FROM journals"), Some(expected.journals().count() as i64));
    let with_history = "SELECT count(*) FROM (SELECT journal_id FROM events WHERE journal_id IS NOT NULL
                        GROUP BY journal_id HAVING count(*) >= 3) AS h";
    assert!(h.sql(with_history).unwrap_or(0) >= 1, "journals' status histories are in the log");
    assert!(expected.journal(journal).is_some());
    // A second start continues the sequence where it stopped.
    let mut again = Driver { seq: start(h.reopen(), SequencerConfig::default()), records: Vec::new() };
    let outcome = again.ok(Command::AdvanceBusinessDay { to: DAY0.next().next() });
    assert_eq!(outcome.records()[0].seq, driver.records.len() as u64 + 1);
}

/// An idempotency key answers with the original journal after a restart too.
pub fn idempotency_survives_restart(h: &mut impl Harness) {
    let mut driver = Driver { seq: start(h.fresh(), SequencerConfig::default()), records: Vec::new() };
    scenario(&mut driver);
    let key_journals = driver.expected_state().idempotency_keys().find(|k| k.key == "k-1").unwrap().journals.clone();
    let corr = driver.expected_state().correspondents().next().unwrap().id;
    let firm = driver.expected_state().accounts().find(|a| a.kind == AccountKind::Firm).unwrap().id;
    let alice = driver.expected_state().journal(key_journals[0]).unwrap().to;
    driver.seq.shutdown();
    let mut again = Driver { seq: start(h.reopen(), SequencerConfig::default()), records: Vec::new() };
    let replay = again.ok(Command::CreateJournal {
        actor: Actor::Correspondent(corr),
        request: JournalRequest::cash(firm, alice, 2_500),
        key: Some("k-1".into()),
    });
    assert!(replay.records().is_empty(), "a replay writes nothing");
    assert_eq!(replay.journals.iter().map(|j| j.id).collect::<Vec<_>>(), key_journals);
    let conflict = answered(
        &again.seq,
        Command::CreateJournal {
            actor: Actor::Correspondent(corr),
            request: JournalRequest::cash(firm, alice, 2_501),
            key: Some("k-1".into()),
        },
    );
    assert!(matches!(conflict, Err(SubmitError::Rejected(r)) if r.code == Code::IdempotencyKeyReused));
}

/// A rejected command writes nothing.
pub fn rejections_write_nothing(h: &mut impl Harness) {
    let mut driver = Driver { seq: start(h.fresh(), SequencerConfig::default()), records: Vec::new() };
    scenario(&mut driver);
    let events = h.sql("SELECT count(*) FROM events");
    let result = answered(
        &driver.seq,
        Command::CreateCorrespondent { code: "LPCA".into(), name: "dup".into(), config: CorrespondentConfig::default() },
    );
    assert!(matches!(result, Err(SubmitError::Rejected(r)) if r.code == Code::AlreadyExists));
    assert_eq!(h.sql("SELECT count(*) FROM events"), events);
}

/// A correspondent with a firm account (a $1,000 overdraft to pay from) and one customer.
fn firm_and_customer(driver: &mut Driver) -> (CorrespondentId, AccountId, AccountId) {
    let ops = Actor::Operator("ops".into());
    let corr = driver
        .ok(Command::CreateCorrespondent { code: "LPCA".into(), name: "LPCA".into(), config: CorrespondentConfig::default() })
        .correspondents[0]
        .id;
    let open = |kind| Command::open_account(ops.clone(), corr, kind, "{}".into());
    let firm = driver.ok(open(AccountKind::Firm)).accounts[0].id;
    let alice = driver.ok(open(AccountKind::Customer)).accounts[0].id;
    driver.ok(Command::SetOverdraft { account: firm, currency: Currency::USD, units: 100_000 });
    (corr, firm, alice)
}

/// A settled journal leaves memory once committed (no cache here) and is read back from the
/// store when an operator acts on it, with the same outcome as in memory; two reversals of it
/// submitted at once are decided once, and the books stay exact. After a restart, too.
pub fn an_old_journal_is_read_back_and_decided_once(h: &mut impl Harness) {
    let config = SequencerConfig { journal_cache: 0, ..SequencerConfig::default() };
    let mut driver = Driver { seq: start(h.fresh(), config.clone()), records: Vec::new() };
    let ops = Actor::Operator("ops".into());
    let audit = || Audit { actor: ops.clone(), reason: "asked".into() };
    let (corr, firm, alice) = firm_and_customer(&mut driver);
    let actor = Actor::Correspondent(corr);
    let mut booked = Vec::new();
    for units in [1_000, 2_000, 3_000] {
        let key = Some(format!("k-{units}"));
        let id =
            driver.ok(Command::CreateJournal { actor: actor.clone(), request: JournalRequest::cash(firm, alice, units), key }).journals[0]
                .id;
        driver.ok(Command::SendToClearing { id });
        driver.ok(Command::BookJournal { id });
        booked.push(id);
    }
    // Later commands let the booked journals leave memory.
    for _ in 0..3 {
        driver.ok(Command::SetAccountBlocks { account: alice, blocks: Blocks::default() });
    }
    assert!(driver.seq.read(|s| s.journal(booked[0]).is_none()), "the committed state keeps no settled journal");
    let cash = |driver: &Driver, account| driver.seq.read(|s| s.balance(Book::Account(account), Asset::Cash(Currency::USD)).posted);
    assert_eq!(cash(&driver, alice), 6_000);
    // Two reversals of the same old journal at once: one reverses, the other finds it canceled.
    let first = driver.seq.try_submit(Command::ReverseJournal { id: booked[0], audit: audit() }).unwrap();
    let second = driver.seq.try_submit(Command::ReverseJournal { id: booked[0], audit: audit() }).unwrap();
    let answers = [first.blocking_recv().unwrap(), second.blocking_recv().unwrap()];
    let done: Vec<&Outcome> = answers.iter().filter_map(|a| a.as_ref().ok()).collect();
    assert_eq!(done.len(), 1, "exactly one reversal happens: {answers:?}");
    assert_eq!(done[0].journals[0].status, JournalStatus::Canceled);
    driver.records.extend(done[0].records().iter().cloned());
    assert!(
        matches!(&answers.iter().find(|a| a.is_err()).unwrap(), Err(SubmitError::Rejected(r)) if r.code == Code::InvalidTransition),
        "the other is refused: {answers:?}"
    );
    assert_eq!(cash(&driver, alice), 5_000);
    assert!(driver.seq.stats().journals_read_back.load(Ordering::SeqCst) >= 1, "the journal was read back from the store");
    // A correction of another old journal, and a replay of an old journal's key, as in memory.
    let corrected = driver.ok(Command::CorrectJournal { id: booked[1], units: 1_500, audit: audit() });
    assert_eq!(corrected.journals.iter().map(|j| j.status).collect::<Vec<_>>(), [JournalStatus::Correct, JournalStatus::Executed]);
    assert_eq!(corrected.journals[0].extra.as_ref().and_then(|e| e.corrected_by), Some(corrected.journals[1].id));
    assert_eq!(cash(&driver, alice), 4_500);
    let replay =
        Command::CreateJournal { actor: actor.clone(), request: JournalRequest::cash(firm, alice, 3_000), key: Some("k-3000".into()) };
    let replayed = answered(&driver.seq, replay.clone()).expect("a replay answers");
    assert!(replayed.records().is_empty(), "a replay writes nothing");
    assert_eq!(replayed.journals.iter().map(|j| j.id).collect::<Vec<_>>(), [booked[2]]);
    let expected = driver.expected_state();
    assert!(driver.seq.read(|replica| same_ledger(replica, &expected)));
    driver.seq.shutdown();
    // After a restart the same: the second reversal is still refused.
    let seq = start(h.reopen(), config);
    let again = answered(&seq, Command::ReverseJournal { id: booked[0], audit: audit() });
    assert!(matches!(again, Err(SubmitError::Rejected(r)) if r.code == Code::InvalidTransition));
    let reversed = answered(&seq, Command::ReverseJournal { id: booked[2], audit: audit() }).expect("reverses");
    assert_eq!(reversed.journals[0].status, JournalStatus::Canceled);
    assert_eq!(seq.read(|s| s.balance(Book::Account(alice), Asset::Cash(Currency::USD)).posted), 1_500);
    assert_eq!(seq.read(|s| s.check_invariants()), Ok(()));
    seq.shutdown();
    let mut store = h.reopen();
    let loaded = store.load().expect("loads").expect("not empty");
    assert_eq!(loaded.state.balance(Book::Account(alice), Asset::Cash(Currency::USD)).posted, 1_500);
}

/// An account's journals are listed newest first through the index by account: those after its
/// last run from the sequencer's memory (or from the log's tail, for a reader without it), then
/// its runs, with filters and a cursor across the seam; after a restart every journal is in a
/// run, each account's entered once under each side.
pub fn an_accounts_journals_are_listed_through_the_index(h: &mut impl Harness) {
    let config = SequencerConfig { journal_cache: 0, index_every: 5, ..SequencerConfig::default() };
    let mut driver = Driver { seq: start(h.fresh(), config.clone()), records: Vec::new() };
    let (corr, firm, alice) = firm_and_customer(&mut driver);
    let bob = driver.ok(Command::open_account(Actor::Operator("ops".into()), corr, AccountKind::Customer, "{}".into())).accounts[0].id;
    let actor = Actor::Correspondent(corr);
    let mut made: Vec<(JournalId, AccountId)> = Vec::new();
    for i in 0..23 {
        let to = if i % 3 == 0 { bob } else { alice };
        let id = driver
            .ok(Command::CreateJournal { actor: actor.clone(), request: JournalRequest::cash(firm, to, 100 + i), key: None })
            .journals[0]
            .id;
        if i % 2 == 0 {
            driver.ok(Command::SendToClearing { id });
        }
        made.push((id, to));
    }
    // One more while the last commit happened to write a run: some are left in memory.
    while driver.seq.recent_journals().journals() == 0 {
        let id = driver
            .ok(Command::CreateJournal { actor: actor.clone(), request: JournalRequest::cash(firm, alice, 7), key: None })
            .journals[0]
            .id;
        made.push((id, alice));
    }
    let newest_of = |account: AccountId| -> Vec<JournalId> {
        made.iter().rev().filter(|(_, to)| account == firm || *to == account).map(|(id, _)| *id).collect()
    };
    assert!(h.sql("SELECT count(*) FROM journal_runs").unwrap_or(0) >= 3, "the index was written in runs");
    let recent = driver.seq.recent_journals();
    assert!(recent.journals() > 0 && recent.journals() <= 6, "at most a run's worth in memory: {}", recent.journals());
    let mut reader = h.reopen().reader().expect("a reader").expect("a store with a reader");
    let ids = |found: Vec<Journal>| found.into_iter().map(|j| j.id).collect::<Vec<_>>();
    for from_memory in [true, false] {
        let base = JournalQuery { recent: from_memory.then(|| recent.clone()), ..JournalQuery::default() };
        for account in [alice, bob, firm] {
            let q = JournalQuery { account: Some(account), ..base.clone() };
            assert_eq!(ids(reader.journals(&q, 100).unwrap()), newest_of(account), "memory {from_memory}");
            // Pages of 4, each below the last one's oldest.
            let mut paged = Vec::new();
            loop {
                let page = ids(reader.journals(&JournalQuery { below: paged.last().copied(), ..q.clone() }, 4).unwrap());
                if page.is_empty() {
                    break;
                }
                paged.extend(page);
            }
            assert_eq!(paged, newest_of(account), "paged, memory {from_memory}");
        }
        let to_bob = JournalQuery { to: Some(bob), ..base.clone() };
        assert_eq!(ids(reader.journals(&to_bob, 100).unwrap()), newest_of(bob));
        let from_bob = JournalQuery { from: Some(bob), ..base.clone() };
        assert!(reader.journals(&from_bob, 100).unwrap().is_empty(), "bob paid nothing");
        let moving = JournalQuery { account: Some(alice), status: Some(JournalStatus::SentToClearing), ..base.clone() };
        let expected: Vec<JournalId> =
            made.iter().enumerate().rev().filter(|(i, (_, to))| i % 2 == 0 && *to == alice).map(|(_, (id, _))| *id).collect();
        assert_eq!(ids(reader.journals(&moving, 100).unwrap()), expected);
        assert_eq!(ids(reader.journals(&JournalQuery { account: Some(alice), ..base.clone() }, 3).unwrap()), newest_of(alice)[..3]);
    }
    driver.seq.shutdown();
    // A start indexes every journal: none is left to list from memory.
    let seq = start(h.reopen(), config);
    assert_eq!(seq.recent_journals().journals(), 0);
    let q = JournalQuery { account: Some(alice), recent: Some(seq.recent_journals()), ..JournalQuery::default() };
    assert_eq!(ids(reader.journals(&q, 100).unwrap()), newest_of(alice));
    seq.shutdown();
    assert!(h.sql("SELECT count(*) FROM account_chunks").unwrap_or(0) > h.sql("SELECT count(*) FROM journal_runs").unwrap_or(0) * 2, "runs span chunks");
    assert_eq!(h.sql("SELECT CAST(sum(journals) AS BIGINT) FROM journal_runs"), Some(made.len() as i64));
    let check = reader.full_check().expect("checks");
    assert!(check.problems.is_empty(), "{:?}", check.problems);
    assert_eq!(check.indexed, made.len() as u64);
    // An index that lost a chunk, or holds one under another account, is named by the full check.
    let (chunks, runs) = (h.sql("SELECT count(*) FROM account_chunks"), h.sql("SELECT count(*) FROM journal_runs"));
    h.sql("UPDATE account_chunks SET account = (SELECT id FROM correspondents LIMIT 1) WHERE run = 1 AND first = (SELECT low FROM journal_runs WHERE run = 1) AND account = (SELECT to_account FROM journals WHERE id = (SELECT low FROM journal_runs WHERE run = 1))");
    let check = reader.full_check().expect("checks");
    assert!(check.problems.iter().any(|p| p.contains("run 1 of the index by account")), "{:?}", check.problems);
    h.sql("DELETE FROM account_chunks WHERE run = 2 AND first = (SELECT low FROM journal_runs WHERE run = 2) AND account = (SELECT to_account FROM journals WHERE id = (SELECT low FROM journal_runs WHERE run = 2))");
    let check = reader.full_check().expect("checks");
    assert!(check.problems.iter().any(|p| p.contains("run 2 of the index by account")), "{:?}", check.problems);
    assert_eq!(h.sql("SELECT count(*) FROM account_chunks"), chunks.map(|c| c - 1));
    assert_eq!(h.sql("SELECT count(*) FROM journal_runs"), runs);
}

/// An idempotency key past its retention leaves memory and is never forgotten: the same
/// request answers the same journal from the store's key table, writing nothing; another
/// request under it is refused; and after a restart the same.
pub fn an_old_key_is_answered_from_the_store(h: &mut impl Harness) {
    let clock = ManualClock::at(Timestamp(1_700_000_000_000_000));
    let config = SequencerConfig { key_retention: std::time::Duration::from_secs(3_600), ..SequencerConfig::default() };
    let seq = Sequencer::start(h.fresh(), clock.clone(), DAY0, config.clone()).expect("starts");
    let mut driver = Driver { seq, records: Vec::new() };
    let (corr, firm, alice) = firm_and_customer(&mut driver);
    let actor = Actor::Correspondent(corr);
    let create = |units, key: &str| Command::CreateJournal {
        actor: actor.clone(),
        request: JournalRequest::cash(firm, alice, units),
        key: Some(key.to_owned()),
    };
    let first = driver.ok(create(1_000, "old")).journals[0].id;
    // Two hours on, two commands later: the key is past its hour in memory.
    clock.advance(2 * 3_600_000_000);
    driver.ok(Command::SetAccountBlocks { account: alice, blocks: Blocks::default() });
    driver.ok(Command::SetAccountBlocks { account: alice, blocks: Blocks::default() });
    assert!(driver.seq.read(|s| s.idempotency_key(corr, "old").is_none()), "the key left memory");
    assert_eq!(h.sql("SELECT count(*) FROM idempotency_keys"), Some(1), "and stays in the store");
    let replay = answered(&driver.seq, create(1_000, "old")).expect("a replay answers");
    assert!(replay.records().is_empty(), "a replay writes nothing");
    assert_eq!(replay.journals.iter().map(|j| j.id).collect::<Vec<_>>(), [first]);
    assert!(driver.seq.stats().keys_read_back.load(Ordering::SeqCst) >= 1, "the key was read back from the store");
    let other = answered(&driver.seq, create(2_000, "old"));
    assert!(matches!(other, Err(SubmitError::Rejected(r)) if r.code == Code::IdempotencyKeyReused), "{other:?}");
    // Many keyed commands at once (the sequencer reads the keys missing from memory in one read
    // per correspondent, 512 keys a statement at most): the old key's replays among new keys,
    // each new one given twice. Each new key makes one journal; the old one makes none.
    let keys: Vec<String> = (0..300).map(|i| format!("many-{i}")).collect();
    let mut waiting = Vec::new();
    for key in &keys {
        for _ in 0..2 {
            waiting.push((key.clone(), driver.seq.try_submit(create(1, key)).expect("queued")));
        }
        waiting.push(("old".into(), driver.seq.try_submit(create(1_000, "old")).expect("queued")));
    }
    let mut made: std::collections::HashMap<String, Vec<JournalId>> = std::collections::HashMap::new();
    for (key, receiver) in waiting {
        let outcome = receiver.blocking_recv().expect("answered").expect("each answers");
        made.entry(key).or_default().extend(outcome.journals.iter().map(|j| j.id));
    }
    assert_eq!(made["old"].iter().collect::<std::collections::HashSet<_>>().into_iter().collect::<Vec<_>>(), [&first], "the old key replays");
    for key in &keys {
        assert!(made[key].len() == 2 && made[key][0] == made[key][1], "{key}: one journal, answered twice");
    }
    let mut reader = h.reopen().reader().expect("a reader").expect("a store with a reader");
    let mut asked: Vec<&str> = keys.iter().map(String::as_str).collect();
    asked.extend(["old", "never", "many-0"]);
    asked.extend(keys.iter().map(String::as_str));
    let found = reader.idempotency_keys(corr, &asked).expect("reads");
    let found: std::collections::HashSet<&str> = found.iter().map(|r| r.key.as_str()).collect();
    assert_eq!(found.len(), keys.len() + 1, "every stored key asked for, once, across statements");
    assert!(found.contains("old") && !found.contains("never"));
    drop(reader);
    let events = h.sql("SELECT count(*) FROM events");
    driver.seq.shutdown();
    let seq = Sequencer::start(h.reopen(), clock.clone(), DAY0, config).expect("starts again");
    let again = answered(&seq, create(1_000, "old")).expect("a replay answers");
    assert_eq!(again.journals.iter().map(|j| j.id).collect::<Vec<_>>(), [first]);
    assert!(matches!(answered(&seq, create(2_000, "old")), Err(SubmitError::Rejected(r)) if r.code == Code::IdempotencyKeyReused));
    seq.shutdown();
    assert_eq!(h.sql("SELECT count(*) FROM events"), events, "nothing was written by the replays");
}

/// Start-up checks the balances against the checkpoint and the log after it; the full check
/// reads the whole log. Which catches what: a balance edited, or the checkpoint edited, is
/// refused at start-up; a posting edited before the checkpoint, or a balance and the
/// checkpoint edited to agree, loads (start-up does not read that far back), and the full check
/// names it.
pub fn the_checkpoint_and_the_full_check_catch_tampering<H: Harness>(h: &mut H) {
    // Commits move the checkpoint every 8 events here, as they do every CHECKPOINT_EVERY.
    let mut driver = Driver { seq: start(h.fresh_checkpointing(8), SequencerConfig::default()), records: Vec::new() };
    scenario(&mut driver);
    let expected = driver.expected_state();
    driver.seq.shutdown();
    let last = h.sql("SELECT last_seq FROM meta").expect("a last event");
    let cp = h.sql("SELECT seq FROM checkpoint_meta").expect("a checkpoint");
    assert!(cp > last / 2 && cp < last, "the checkpoint follows the log: at {cp} of {last}");
    assert!(h.sql("SELECT count(*) FROM checkpoint").unwrap() > 0);
    // The journals still moving: the checkpoint's (each a moving journal), and start-up finds
    // every one.
    let moving = h.sql("SELECT count(*) FROM journals WHERE status IN ('queued', 'sent_to_clearing', 'pending')").unwrap();
    assert!(moving > 0, "the scenario leaves journals moving");
    let held = h.sql("SELECT count(*) FROM checkpoint_live").unwrap();
    assert!(held > 0, "the checkpoint holds journals still moving");
    // One settled since was changed after the checkpoint: start-up reads it by the later log.
    let stale = format!(
        "SELECT count(*) FROM checkpoint_live c JOIN journals j ON j.id = c.id
         WHERE j.status NOT IN ('queued', 'sent_to_clearing', 'pending')
           AND NOT EXISTS (SELECT 1 FROM events e WHERE e.journal_id = c.id AND e.seq > {cp})"
    );
    assert_eq!(h.sql(&stale), Some(0), "and only those moving at the checkpoint");
    let loaded = h.reopen().load().expect("loads").expect("not empty");
    assert_eq!(loaded.state.journals().count() as i64, moving, "start-up loads every moving journal");
    assert!(same_ledger(&loaded.state, &expected), "the ledger loaded from the checkpoint is the one committed");
    let full_check = |h: &mut H| {
        let mut store = h.reopen();
        store.reader().expect("opens").expect("a reader").full_check().expect("runs")
    };
    let clean = full_check(h);
    assert_eq!(clean.problems, Vec::<String>::new(), "an untouched store reconciles");
    assert_eq!((clean.checkpoint_seq, clean.events), (cp as u64, last as u64));
    assert!(h.reopen().load().expect("loads from the checkpoint").is_some());
    let loads = |h: &mut H| h.reopen().load().map(|_| ());
    // The checkpoint edited: refused at start-up.
    h.sql("UPDATE checkpoint SET units = units + 1 WHERE asset = 'cash:USD' AND units > 0");
    match loads(h) {
        Err(StoreError::Corrupt(message)) => assert!(message.contains("checkpoint"), "{message}"),
        other => panic!("an edited checkpoint loaded: {other:?}"),
    }
    assert!(full_check(h).problems.iter().any(|p| p.contains("checkpoint")));
    h.sql("UPDATE checkpoint SET units = units - 1 WHERE asset = 'cash:USD' AND units > 0");
    assert_eq!(full_check(h).problems, Vec::<String>::new(), "put back, it reconciles");
    // A cent moved between two books in the balances and the checkpoint alike (the sums stay
    // zero, no floor is crossed): start-up passes, and the full check names both.
    let richest = "(SELECT book FROM checkpoint WHERE asset = 'cash:USD' ORDER BY units DESC LIMIT 1)";
    let poorest = "(SELECT book FROM checkpoint WHERE asset = 'cash:USD' ORDER BY units LIMIT 1)";
    let shift = |h: &mut H, by: i64| {
        h.sql(&format!("UPDATE balances SET posted = posted + {by} WHERE asset = 'cash:USD' AND book = {richest}"));
        h.sql(&format!("UPDATE balances SET posted = posted - {by} WHERE asset = 'cash:USD' AND book = {poorest}"));
        h.sql(&format!("UPDATE checkpoint SET units = units - {by} WHERE asset = 'cash:USD' AND book = {poorest}"));
        h.sql(&format!("UPDATE checkpoint SET units = units + {by} WHERE asset = 'cash:USD' AND book = {richest}"));
    };
    shift(h, 1);
    assert!(loads(h).is_ok(), "a checkpoint and balances edited alike pass start-up");
    let found = full_check(h).problems;
    assert!(found.iter().any(|p| p.contains("balance of")) && found.iter().any(|p| p.contains("checkpoint")), "{found:?}");
    shift(h, -1);
    assert_eq!(full_check(h).problems, Vec::<String>::new(), "put back, it reconciles");
    // A moving journal dropped from the checkpoint: start-up would not hold it; the full check
    // says so.
    h.sql(&format!(
        "DELETE FROM checkpoint_live WHERE id = (
             SELECT c.id FROM checkpoint_live c JOIN journals j ON j.id = c.id
             WHERE j.status IN ('queued', 'sent_to_clearing', 'pending')
               AND NOT EXISTS (SELECT 1 FROM events e WHERE e.journal_id = c.id AND e.seq > {cp})
             ORDER BY c.id LIMIT 1)"
    ));
    assert_eq!(h.sql("SELECT count(*) FROM checkpoint_live"), Some(held - 1), "one moving journal only the checkpoint names");
    let found = full_check(h).problems;
    assert!(found.iter().any(|p| p.contains("can still move")), "{found:?}");
    // A posting before the checkpoint edited: start-up reads only after it; the full check sees.
    h.sql("UPDATE events SET units = units + 1 WHERE seq = (SELECT min(seq) FROM events WHERE units IS NOT NULL AND asset = 'cash:USD')");
    assert!(loads(h).is_ok(), "start-up does not read the log before the checkpoint");
    let found = full_check(h).problems;
    assert!(found.iter().any(|p| p.contains("postings sum")), "the full check names the balances the posting moved: {found:?}");
    // A posting after the checkpoint edited: refused at start-up.
    h.sql("UPDATE events SET units = units - 1 WHERE seq = (SELECT min(seq) FROM events WHERE units IS NOT NULL AND asset = 'cash:USD')");
    h.sql("UPDATE checkpoint_meta SET seq = 0, journals = 0");
    h.sql("DELETE FROM checkpoint");
    assert!(loads(h).is_ok(), "a checkpoint at 0 is the whole log");
    h.sql("UPDATE events SET units = units + 1 WHERE seq = (SELECT max(seq) FROM events WHERE units IS NOT NULL AND asset = 'cash:USD')");
    assert!(matches!(loads(h), Err(StoreError::Corrupt(m)) if m.contains("balance of")), "a posting after the checkpoint is read");
}

/// A store whose tables disagree with its log refuses to load, and says what disagrees.
pub fn tampering_is_refused_at_start(h: &mut impl Harness) {
    let mut driver = Driver { seq: start(h.fresh(), SequencerConfig::default()), records: Vec::new() };
    scenario(&mut driver);
    driver.seq.shutdown();
    h.sql("UPDATE balances SET posted = posted + 1 WHERE asset = 'cash:USD' AND posted > 0");
    match h.reopen().load() {
        Err(StoreError::Corrupt(message)) => {
            assert!(message.contains("balance of") && message.contains("USD"), "the message names what disagrees: {message}")
        }
        other => panic!("a tampered store loaded: {other:?}"),
    }
    let refused = Sequencer::start(h.reopen(), ManualClock::default(), DAY0, SequencerConfig::default());
    assert!(refused.is_err(), "the sequencer refuses to start on it");
}

/// A store that fails one commit: the callers of that batch hear so, the sequencer reloads from
/// the store, and carries on with nothing half-applied.
pub fn a_failed_commit_stops_and_recovers_from_the_store(h: &mut impl Harness) {
    let fail_at = Arc::new(AtomicU64::new(u64::MAX));
    let flaky = Flaky { inner: h.fresh(), commits: 0, fail_at: fail_at.clone() };
    let mut driver = Driver { seq: start(flaky, SequencerConfig::default()), records: Vec::new() };
    scenario(&mut driver);
    let corr = driver.expected_state().correspondents().next().unwrap().id;
    fail_at.store(0, Ordering::SeqCst); // the next commit fails
    let lost = answered(
        &driver.seq,
        Command::CreateCorrespondent { code: "LOST".into(), name: "Lost".into(), config: CorrespondentConfig::default() },
    );
    assert_eq!(lost.unwrap_err(), SubmitError::StoreFailed);
    // The ledger was rebuilt from the store: the lost correspondent is not there, and the code
    // can be used again.
    let retried =
        driver.ok(Command::CreateCorrespondent { code: "LOST".into(), name: "Lost".into(), config: CorrespondentConfig::default() });
    assert_ne!(retried.correspondents[0].id, corr);
    driver.seq.shutdown();
    let loaded = h.reopen().load().unwrap().unwrap();
    assert!(same_ledger(&loaded.state, &driver.expected_state()), "only acknowledged commands are in the store");
    assert!(driver.seq.stats().store_failures.load(Ordering::SeqCst) == 1);
}

/// Two ledgers writing one store: the second's commit does not continue the log where the
/// store's ends, so it is refused whole and nothing it sent is kept; the store stays one log.
pub fn a_second_writer_is_refused(h: &mut impl Harness) {
    let code = |c: &str| Command::CreateCorrespondent { code: c.into(), name: c.into(), config: CorrespondentConfig::default() };
    let mut first = Driver { seq: start(h.fresh(), SequencerConfig::default()), records: Vec::new() };
    first.ok(code("ONE1"));
    let second = start(h.reopen(), SequencerConfig::default());
    first.ok(code("TWO2"));
    assert_eq!(answered(&second, code("LATE")).unwrap_err(), SubmitError::StoreFailed, "the second writer is refused");
    first.seq.shutdown();
    second.shutdown();
    let loaded = h.reopen().load().expect("the store still verifies").expect("not empty");
    assert!(same_ledger(&loaded.state, &first.expected_state()), "only the first writer's commits are in the store");
    assert_eq!(h.sql("SELECT count(*) FROM correspondents WHERE code = 'LATE'"), Some(0));
}

/// A commit the store refuses for one command's rows is narrowed to that command: it alone is
/// answered `Refused`, every other command of the merged commit (and of the batches executed
/// after it) commits, and the store holds exactly what was acknowledged.
pub fn a_refused_command_fails_alone(h: &mut impl Harness) {
    let gate = Arc::new((Mutex::new(true), Condvar::new()));
    let commits = Arc::new(AtomicU64::new(0));
    let store = Gated { inner: h.fresh(), gate: gate.clone(), commits };
    h.refuse_description("refuse me");
    let mut driver = Driver { seq: start(store, SequencerConfig::default()), records: Vec::new() };
    let ops = Actor::Operator("ops".into());
    let corr = driver
        .ok(Command::CreateCorrespondent { code: "NRRW".into(), name: "Narrow".into(), config: CorrespondentConfig::default() })
        .correspondents[0]
        .id;
    let open = |kind| Command::open_account(ops.clone(), corr, kind, "{}".into());
    let firm = driver.ok(open(AccountKind::Firm)).accounts[0].id;
    let customers: Vec<AccountId> = (0..8).map(|_| driver.ok(open(AccountKind::Customer)).accounts[0].id).collect();
    driver.ok(Command::wire_in(ops.clone(), firm, 1_000_000));
    let journal = |i: usize, description: &str| Command::CreateJournal {
        actor: Actor::Correspondent(corr),
        request: JournalRequest { description: description.into(), ..JournalRequest::cash(firm, customers[i % 8], 100 + i as i64) },
        key: Some(format!("k-{i}")),
    };
    // The first commit waits at the gate; everything after it executes meanwhile and is then
    // written as one merged commit, which the store refuses for the one marked row.
    *gate.0.lock().unwrap() = false;
    let executed = driver.seq.stats().commands.load(Ordering::SeqCst);
    let held = driver.seq.try_submit(journal(0, "honest")).unwrap();
    while driver.seq.stats().commands.load(Ordering::SeqCst) < executed + 1 {
        std::thread::yield_now();
    }
    let mut honest = Vec::new();
    let mut refused = None;
    for i in 1..=40 {
        if i == 17 {
            refused = Some(driver.seq.try_submit(journal(99, "refuse me")).unwrap());
        }
        honest.push(driver.seq.try_submit(journal(i, "honest")).unwrap());
    }
    while driver.seq.stats().commands.load(Ordering::SeqCst) < executed + 42 {
        std::thread::yield_now();
    }
    std::thread::sleep(std::time::Duration::from_millis(100));
    {
        let (open, wake) = &*gate;
        *open.lock().unwrap() = true;
        wake.notify_all();
    }
    for receiver in std::iter::once(held).chain(honest) {
        let outcome = receiver.blocking_recv().expect("answered").expect("an honest command commits");
        assert_eq!(outcome.journals.len(), 1);
        driver.records.extend(outcome.records().iter().cloned());
    }
    let refused = refused.unwrap().blocking_recv().expect("answered");
    assert_eq!(refused.unwrap_err(), SubmitError::Refused, "the command whose rows the store refused fails alone");
    assert_eq!(driver.seq.stats().commands_refused.load(Ordering::SeqCst), 1);
    assert_eq!(driver.seq.stats().store_failures.load(Ordering::SeqCst), 0, "a refusal is not a store failure");
    // The ledger goes on, and the refused key was never used.
    driver.ok(journal(99, "honest now"));
    driver.records.sort_by_key(|r| r.seq);
    driver.seq.shutdown();
    let loaded = h.reopen().load().expect("the store verifies").expect("not empty");
    assert!(same_ledger(&loaded.state, &driver.expected_state()), "the store holds exactly what was acknowledged");
    assert_eq!(h.sql("SELECT count(*) FROM journals WHERE description = 'refuse me'"), Some(0));
    assert_eq!(h.sql("SELECT count(*) FROM journals"), Some(42));
}

/// Batches that waited for the committer are written together, in one transaction: every
/// caller gets its own records back, a rejection stays a rejection, the rows of the later
/// batches win, and the store reloads as exactly the ledger the callers were told about.
pub fn waiting_batches_commit_together(h: &mut impl Harness) {
    let gate = Arc::new((Mutex::new(true), Condvar::new()));
    let commits = Arc::new(AtomicU64::new(0));
    let store = Gated { inner: h.fresh(), gate: gate.clone(), commits: commits.clone() };
    let seq = start(store, SequencerConfig { batch_max: 1, ..SequencerConfig::default() });
    let create = |code: &str| Command::CreateCorrespondent { code: code.into(), name: code.into(), config: CorrespondentConfig::default() };
    let opened = answered(&seq, create("C000")).unwrap();
    let mut records = opened.records().to_vec();
    let c000 = opened.correspondents[0].id;
    *gate.0.lock().unwrap() = false;
    commits.store(0, Ordering::SeqCst);
    // This batch holds the committer at the gate; the rest execute one by one meanwhile.
    let held = seq.try_submit(create("C100")).unwrap();
    let codes: Vec<String> = (1..=20).map(|i| format!("C{i:03}")).collect();
    let mut waiting: Vec<_> = codes.iter().map(|code| seq.try_submit(create(code)).unwrap()).collect();
    waiting.push(seq.try_submit(create("C001")).unwrap()); // taken by then: rejected
    let config = CorrespondentConfig { fixtures: false, ..CorrespondentConfig::default() };
    waiting.push(seq.try_submit(Command::ConfigureCorrespondent { id: c000, config }).unwrap()); // a row changed again
    while seq.stats().commands.load(Ordering::SeqCst) < 24 {
        std::thread::yield_now();
    }
    std::thread::sleep(std::time::Duration::from_millis(200));
    {
        let (open, wake) = &*gate;
        *open.lock().unwrap() = true;
        wake.notify_all();
    }
    records.extend(held.blocking_recv().unwrap().unwrap().records().iter().cloned());
    let answers: Vec<_> = waiting.into_iter().map(|w| w.blocking_recv().unwrap()).collect();
    for (answer, code) in answers.iter().zip(&codes) {
        let outcome = answer.as_ref().expect("a new code is taken");
        assert_eq!(outcome.correspondents.len(), 1);
        assert_eq!(&outcome.correspondents[0].code, code, "each caller gets its own outcome");
        assert!(matches!(&outcome.records()[0].event.kind, EventKind::CorrespondentCreated(c) if &c.code == code), "and its own records");
        records.extend(outcome.records().iter().cloned());
    }
    assert!(matches!(answers[20], Err(SubmitError::Rejected(_))), "a taken code is still refused");
    records.extend(answers[21].as_ref().expect("configures").records().iter().cloned());
    // The held batch may have taken the others before reaching the gate: one or two commits.
    assert!(commits.load(Ordering::SeqCst) <= 2, "the 22 batches that waited were written as one");
    seq.shutdown();
    records.sort_by_key(|r| r.seq);
    assert!(records.windows(2).all(|w| w[1].seq == w[0].seq + 1), "the log has no gap");
    let mut expected = State::new(DAY0);
    for record in &records {
        expected.apply(&record.event);
    }
    let loaded = h.reopen().load().expect("loads").expect("not empty");
    assert!(same_ledger(&loaded.state, &expected), "the merged commit is the ledger the callers were told about");
}

/// Batches between the sequencer and the committer, at most (the sequencer's `COMMITS_IN_FLIGHT`).
const COMMITS_IN_FLIGHT_MAX: usize = 64;

/// A full queue answers `Busy` at once instead of growing.
pub fn a_full_queue_answers_busy(h: &mut impl Harness) {
    let gate = Arc::new((Mutex::new(false), Condvar::new()));
    let store = Gated { inner: h.fresh(), gate: gate.clone(), commits: Arc::new(AtomicU64::new(0)) };
    let seq = start(store, SequencerConfig { queue_capacity: 4, batch_max: 1, ..SequencerConfig::default() });
    let command =
        |i: usize| Command::CreateCorrespondent { code: format!("C{i}"), name: "c".into(), config: CorrespondentConfig::default() };
    // The gate opens however the test ends: a sequencer stopping with its committer held at a
    // closed gate would wait for ever.
    struct Opens(Arc<(Mutex<bool>, Condvar)>);
    impl Drop for Opens {
        fn drop(&mut self) {
            let (open, wake) = &*self.0;
            *open.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = true;
            wake.notify_all();
        }
    }
    let opens = Opens(gate);
    let mut waiting = Vec::new();
    let mut busy = 0;
    // With the committer held, at most the queue, the batches waiting for the committer and the
    // ones the two threads hold are taken, however fast the sequencer drains the queue.
    let taken_max = 4 + COMMITS_IN_FLIGHT_MAX + 2;
    for i in 0..taken_max + 100 {
        match seq.try_submit(command(i)) {
            Ok(receiver) => waiting.push(receiver),
            Err(SubmitError::Busy) => busy += 1,
            Err(other) => panic!("{other}"),
        }
    }
    assert!(busy >= 100, "at most the queue plus the batches in flight are taken; {busy} were busy");
    drop(opens);
    for receiver in waiting {
        assert!(receiver.blocking_recv().unwrap().is_ok());
    }
}

/// A store wrapper that fails the commit numbered `fail_at` (counting from the moment it is set).
struct Flaky<S> {
    inner: S,
    commits: u64,
    fail_at: Arc<AtomicU64>,
}

impl<S: Store> Store for Flaky<S> {
    fn load(&mut self) -> Result<Option<Loaded>, StoreError> {
        self.inner.load()
    }

    fn reader(&mut self) -> Result<Option<Box<dyn crate::sql::LogReader>>, StoreError> {
        self.inner.reader()
    }

    fn commit(&mut self, batch: &Batch) -> Result<(), StoreError> {
        let fail_at = self.fail_at.load(Ordering::SeqCst);
        if fail_at != u64::MAX {
            if self.commits == fail_at {
                self.fail_at.store(u64::MAX, Ordering::SeqCst);
                self.commits = 0;
                return Err(StoreError::Backend("injected commit failure".into()));
            }
            self.commits += 1;
        }
        self.inner.commit(batch)
    }
}

/// A store wrapper whose commits wait until a gate opens.
struct Gated<S> {
    inner: S,
    gate: Arc<(Mutex<bool>, Condvar)>,
    commits: Arc<AtomicU64>,
}

impl<S: Store> Store for Gated<S> {
    fn load(&mut self) -> Result<Option<Loaded>, StoreError> {
        self.inner.load()
    }

    fn reader(&mut self) -> Result<Option<Box<dyn crate::sql::LogReader>>, StoreError> {
        self.inner.reader()
    }

    fn commit(&mut self, batch: &Batch) -> Result<(), StoreError> {
        let (open, wake) = &*self.gate;
        let mut guard = open.lock().unwrap();
        while !*guard {
            guard = wake.wait(guard).unwrap();
        }
        drop(guard);
        self.commits.fetch_add(1, Ordering::SeqCst);
        self.inner.commit(batch)
    }
}

/// Writes one `#[test]` per conformance test, each with a harness made by `$make(name)`.
#[macro_export]
macro_rules! conformance_tests {
    ($make:expr) => {
        $crate::conformance_tests!(@each $make;
            empty_store_starts_empty,
            committed_state_survives_restart,
            idempotency_survives_restart,
            rejections_write_nothing,
            tampering_is_refused_at_start,
            an_old_journal_is_read_back_and_decided_once,
            the_checkpoint_and_the_full_check_catch_tampering,
            an_old_key_is_answered_from_the_store,
            an_accounts_journals_are_listed_through_the_index,
            a_failed_commit_stops_and_recovers_from_the_store,
            a_second_writer_is_refused,
            a_refused_command_fails_alone,
            waiting_batches_commit_together,
            a_full_queue_answers_busy,
        );
    };
    (@each $make:expr; $($name:ident),* $(,)?) => {
        $(
            #[test]
            fn $name() {
                if let Some(mut harness) = ($make)(stringify!($name)) {
                    $crate::conformance::$name(&mut harness);
                }
            }
        )*
    };
}
