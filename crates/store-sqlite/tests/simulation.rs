//! Deterministic simulation of the core and the sequencer over a real SQLite store, with
//! seeded faults: commits that fail before they are written, commits that fail after they are
//! durable (the caller cannot know which), restarts, and clock jumps across business days.
//! After every step the ledger's invariants hold and every acknowledged journal is there; after
//! every restart the reloaded ledger equals the one before it.
//!
//! One command at a time, so a seed decides every command and every fault: a failing seed
//! replays exactly with `CASHIER_SIM_SEED=<seed>`. `CASHIER_SIM_SEEDS` and `CASHIER_SIM_STEPS`
//! make it longer (defaults: 8 seeds of 300 steps).

use cashier_core::*;
use cashier_store::{Batch, Loaded, ManualClock, Sequencer, SequencerConfig, Store, StoreError, SubmitError};
use cashier_store_sqlite::SqliteStore;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::sync::{Arc, Mutex};
use std::time::Duration;

const DAY0: Date = Date(20_000);
const MICROS_PER_DAY: i64 = 86_400_000_000;

/// When the next commits fail, as the seed decides.
#[derive(Default)]
struct Faults {
    /// Chance that a commit fails before writing, and after it is durable.
    before: f64,
    after: f64,
    rng: Option<StdRng>,
    injected: u64,
}

struct Faulty {
    inner: SqliteStore,
    faults: Arc<Mutex<Faults>>,
}

impl Store for Faulty {
    fn load(&mut self) -> Result<Option<Loaded>, StoreError> {
        self.inner.load()
    }

    fn reader(&mut self) -> Result<Option<Box<dyn cashier_store::sql::LogReader>>, StoreError> {
        self.inner.reader()
    }

    fn commit(&mut self, batch: &Batch) -> Result<(), StoreError> {
        let roll = {
            let mut f = self.faults.lock().unwrap();
            let (before, after) = (f.before, f.after);
            let roll = f.rng.as_mut().map_or(1.0, |r| r.random::<f64>());
            let fault = if roll < before {
                1
            } else if roll < before + after {
                2
            } else {
                0
            };
            if fault > 0 {
                f.injected += 1;
            }
            fault
        };
        match roll {
            1 => Err(StoreError::Backend("injected: the commit failed before it was written".into())),
            2 => {
                self.inner.commit(batch)?;
                Err(StoreError::Backend("injected: the commit was durable, then the answer failed".into()))
            }
            _ => self.inner.commit(batch),
        }
    }
}

struct Sim {
    seed: u64,
    step: usize,
    rng: StdRng,
    dir: std::path::PathBuf,
    faults: Arc<Mutex<Faults>>,
    clock: ManualClock,
    seq: Sequencer,
    ops: Actor,
    actor: Actor,
    firm: AccountId,
    customers: Vec<AccountId>,
    aapl: Symbol,
    /// Every journal a command was answered with, in order.
    journals: Vec<JournalId>,
    /// Per idempotency key acknowledged: the journals it created.
    keys: Vec<(String, Vec<JournalId>)>,
    restarts: u64,
    day_jumps: u64,
}

fn config() -> SequencerConfig {
    // A small journal cache: settled journals leave memory and are read back under faults.
    SequencerConfig { recovery_backoff: Duration::from_millis(1), journal_cache: 8, index_every: 16, ..SequencerConfig::default() }
}

impl Sim {
    fn fail(&self, what: String) -> ! {
        panic!(
            "seed {} step {}: {what}\nreplay: CASHIER_SIM_SEED={} cargo test -p cashier-store-sqlite --test simulation",
            self.seed, self.step, self.seed
        )
    }

    fn open(dir: &std::path::Path, faults: &Arc<Mutex<Faults>>, clock: &ManualClock) -> Sequencer {
        // The checkpoint moves every 40 events: restarts load from it with journals moving.
        let inner = SqliteStore::open_in(dir).expect("the store opens").checkpoint_every(40);
        Sequencer::start(Faulty { inner, faults: faults.clone() }, clock.clone(), DAY0, config()).expect("the store loads")
    }

    /// Submits until the answer is known: a store failure (outcome unknown) or a reload in
    /// progress is retried; commands that create journals carry an idempotency key, so a retry
    /// of one that was durable answers its journals instead of creating them again.
    fn submit(&mut self, command: Command) -> Result<cashier_store::Outcome, Rejection> {
        for _ in 0..10_000 {
            match self.seq.submit_blocking(command.clone()) {
                Ok(outcome) => {
                    self.journals.extend(outcome.journals.iter().map(|j| j.id));
                    return Ok(outcome);
                }
                Err(SubmitError::Rejected(rejection)) => return Err(rejection),
                Err(SubmitError::Refused) => self.fail(format!("{command:?}: the store refused a command's rows")),
                Err(SubmitError::StoreFailed | SubmitError::Unavailable | SubmitError::Busy) => {
                    std::thread::sleep(Duration::from_millis(1))
                }
            }
        }
        self.fail(format!("{command:?} was never answered"))
    }

    fn ok(&mut self, command: Command) -> cashier_store::Outcome {
        let shown = format!("{command:?}");
        self.submit(command).unwrap_or_else(|r| panic!("seed {}: setup command {shown} refused: {r}", self.seed))
    }

    fn start(seed: u64) -> Sim {
        let dir = std::env::temp_dir().join(format!("cashier-sim-{}-{seed}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let faults = Arc::new(Mutex::new(Faults::default()));
        let clock = ManualClock::at(Timestamp(i64::from(DAY0.0) * MICROS_PER_DAY + 9 * 3_600_000_000));
        let seq = Sim::open(&dir, &faults, &clock);
        let ops = Actor::Operator("sim".into());
        let mut sim = Sim {
            seed,
            step: 0,
            rng: StdRng::seed_from_u64(seed),
            dir,
            faults,
            clock,
            seq,
            ops: ops.clone(),
            actor: ops.clone(),
            firm: AccountId(0),
            customers: Vec::new(),
            aapl: Symbol::parse("AAPL").unwrap(),
            journals: Vec::new(),
            keys: Vec::new(),
            restarts: 0,
            day_jumps: 0,
        };
        let config = CorrespondentConfig { fixtures: true, ..CorrespondentConfig::default() };
        let corr = sim.ok(Command::CreateCorrespondent { code: "SIM".into(), name: "Sim".into(), config }).correspondents[0].id;
        sim.actor = Actor::Correspondent(corr);
        sim.firm = sim.ok(Command::open_account(ops.clone(), corr, AccountKind::Firm, String::new())).accounts[0].id;
        for _ in 0..4 {
            let customer = sim.ok(Command::open_account(ops.clone(), corr, AccountKind::Customer, String::new())).accounts[0].id;
            sim.customers.push(customer);
        }
        sim.ok(Command::wire_in(ops.clone(), sim.firm, 10_000_000));
        let symbol = sim.aapl;
        sim.ok(Command::ListAsset {
            symbol,
            name: "Apple".into(),
            exchange: "NASDAQ".into(),
            class: "us_equity".into(),
            fractionable: true,
            price: Some(190_000_000_000),
        });
        sim.ok(Command::DepositSecurities { account: sim.firm, symbol, qty: 1_000_000_000_000, price: None });
        // Faults start once the ledger is set up.
        let mut f = sim.faults.lock().unwrap();
        f.rng = Some(StdRng::seed_from_u64(seed ^ 0x5eed_fa17));
        (f.before, f.after) = (0.05, 0.05);
        drop(f);
        sim
    }

    fn customer(&mut self) -> AccountId {
        self.customers[self.rng.random_range(0..self.customers.len())]
    }

    fn known_journal(&mut self) -> Option<JournalId> {
        (!self.journals.is_empty()).then(|| self.journals[self.rng.random_range(0..self.journals.len())])
    }

    /// Creates journals under a fresh key; remembers what an acknowledged key created.
    fn create(&mut self, command: impl FnOnce(Option<String>) -> Command) {
        let key = format!("sim-{}-{}", self.seed, self.step);
        if let Ok(outcome) = self.submit(command(Some(key.clone()))) {
            self.keys.push((key, outcome.journals.iter().map(|j| j.id).collect()));
        }
    }

    fn step(&mut self) {
        self.clock.advance(self.rng.random_range(1..2_000_000));
        let actor = self.actor.clone();
        let audit = Audit { actor: self.ops.clone(), reason: "simulation".into() };
        match self.rng.random_range(0..100) {
            0..=24 => {
                let (to, units) = (self.customer(), self.rng.random_range(1..8_000));
                let request = JournalRequest::cash(self.firm, to, units);
                self.create(|key| Command::CreateJournal { actor, request, key });
            }
            25..=34 => {
                let (from, units) = (self.customer(), self.rng.random_range(1..3_000));
                let request = JournalRequest::cash(from, self.firm, units);
                self.create(|key| Command::CreateJournal { actor, request, key });
            }
            35..=42 => {
                let (to, qty) = (self.customer(), self.rng.random_range(1..500_000_000));
                let request = JournalRequest::securities(self.firm, to, self.aapl, qty);
                self.create(|key| Command::CreateJournal { actor, request, key });
            }
            43..=49 => {
                let entries: Vec<BatchEntry> =
                    (0..self.rng.random_range(1..5)).map(|_| BatchEntry::cash(self.customer(), self.rng.random_range(1..2_000))).collect();
                let from = self.firm;
                self.create(|key| Command::CreateBatch { actor, entry_type: EntryType::Cash, from, entries, key });
            }
            50..=69 => {
                let max = self.rng.random_range(1..20);
                let _ = self.submit(Command::Clear { max });
            }
            70..=84 => {
                if let Some(id) = self.known_journal() {
                    let command = match self.rng.random_range(0..5) {
                        0 => Command::ApproveJournal { id, audit },
                        1 => Command::RejectJournal { id, audit },
                        2 => Command::ReverseJournal { id, audit },
                        3 => Command::CancelJournal { actor, id, reason: String::new() },
                        _ => Command::CorrectJournal { id, units: self.rng.random_range(1..5_000), audit },
                    };
                    let _ = self.submit(command);
                }
            }
            85..=91 => {
                let (account, amount) = (self.customer(), self.rng.random_range(1..5_000));
                let direction = if self.rng.random_bool(0.5) { TransferDirection::Incoming } else { TransferDirection::Outgoing };
                let command = Command::CreateTransfer {
                    actor,
                    account,
                    direction,
                    kind: TransferKind::Ach,
                    currency: Currency::USD,
                    amount,
                    complete_at_once: self.rng.random_bool(0.7),
                };
                let _ = self.submit(command);
            }
            92..=95 => {
                // The clock jumps past midnight, and the business day follows.
                self.clock.advance(MICROS_PER_DAY);
                let to = self.seq.read(|s| s.business_date()).next();
                let _ = self.submit(Command::AdvanceBusinessDay { to });
                self.day_jumps += 1;
            }
            _ => self.restart(),
        }
    }

    /// Stops the sequencer and starts another over the same store: it must load what the
    /// first one held, exactly.
    fn restart(&mut self) {
        let before = self.seq.read(cashier_store::conformance::ledger_text);
        self.seq.shutdown();
        self.seq = Sim::open(&self.dir, &self.faults, &self.clock);
        let after = self.seq.read(cashier_store::conformance::ledger_text);
        if before != after {
            self.fail("the reloaded ledger differs from the one before the restart".into());
        }
        self.restarts += 1;
    }

    fn check(&self) {
        if let Err(broken) = self.seq.read(|s| s.check_invariants()) {
            self.fail(format!("an invariant broke: {broken}"));
        }
        // Settled journals are the store's: read as the sequencer reads one back.
        use cashier_store::sql::LogReader;
        let mut reader = cashier_store_sqlite::SqliteLog::open_in(&self.dir).expect("a reader opens");
        for (key, created) in &self.keys {
            for id in created {
                if reader.journal(*id).expect("reads").is_none() {
                    self.fail(format!("journal {id} of acknowledged key {key} is missing"));
                }
            }
        }
        // An account's journals through the index by account (its runs, and the recent ones from
        // memory or from the log's tail) are exactly those the whole table holds for it.
        // (Every fifth step: it reads every journal.)
        if self.step % 5 != 0 {
            return;
        }
        use cashier_store::sql::JournalQuery;
        let all = reader.journals(&JournalQuery::default(), usize::MAX >> 1).expect("reads");
        if let Some(last) = all.first() {
            for account in [last.from, last.to] {
                let truth: Vec<JournalId> = all.iter().filter(|j| j.from == account || j.to == account).map(|j| j.id).collect();
                for recent in [Some(self.seq.recent_journals()), None] {
                    let q = JournalQuery { account: Some(account), recent, ..JournalQuery::default() };
                    let listed: Vec<JournalId> = reader.journals(&q, usize::MAX >> 1).expect("reads").iter().map(|j| j.id).collect();
                    if listed != truth {
                        self.fail(format!("the journals of {account} through the index: {listed:?}, in the table: {truth:?}"));
                    }
                }
            }
        }
    }
}

fn run(seed: u64, steps: usize) -> (u64, u64, u64, usize) {
    let mut sim = Sim::start(seed);
    for step in 0..steps {
        sim.step = step;
        sim.step();
        sim.check();
    }
    // Whatever the faults did, the store holds exactly the ledger in memory.
    sim.restart();
    sim.check();
    sim.seq.shutdown();
    // The checkpoint moved under the faults, and the whole log reconciles with it.
    use cashier_store::sql::LogReader;
    let full = cashier_store_sqlite::SqliteLog::open_in(&sim.dir).expect("a reader opens").full_check().expect("runs");
    if !full.problems.is_empty() || (full.events > 80 && full.checkpoint_seq == 0) {
        sim.fail(format!("the full check: {full:?}"));
    }
    let _ = std::fs::remove_dir_all(&sim.dir);
    let injected = sim.faults.lock().unwrap().injected;
    (injected, sim.restarts, sim.day_jumps, sim.journals.len())
}

#[test]
fn seeded_faults_never_break_the_ledger() {
    let steps: usize = std::env::var("CASHIER_SIM_STEPS").ok().and_then(|s| s.parse().ok()).unwrap_or(300);
    let seeds: Vec<u64> = match std::env::var("CASHIER_SIM_SEED").ok().and_then(|s| s.parse().ok()) {
        Some(seed) => vec![seed],
        None => {
            let n: u64 = std::env::var("CASHIER_SIM_SEEDS").ok().and_then(|s| s.parse().ok()).unwrap_or(8);
            let base: u64 = rand::random();
            (0..n).map(|i| base.wrapping_add(i)).collect()
        }
    };
    let mut totals = (0, 0, 0, 0);
    for &seed in &seeds {
        let (faults, restarts, days, journals) = run(seed, steps);
        totals = (totals.0 + faults, totals.1 + restarts, totals.2 + days, totals.3 + journals);
    }
    eprintln!(
        "simulation: {} seeds x {steps} steps: {} commit faults injected, {} restarts, {} business days, {} journal answers",
        seeds.len(),
        totals.0,
        totals.1,
        totals.2,
        totals.3
    );
    assert!(totals.0 > 0 && totals.1 > 0 && totals.2 > 0, "every kind of fault happened");
}
