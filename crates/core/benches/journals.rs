//! How many JNLC journals the core executes and applies per second on one core, with every
//! journal touching the same firm account (cash pooling). Run: `cargo bench -p cashier-core`.

use cashier_core::*;
use divan::counter::ItemsCount;
use divan::Bencher;

const CUSTOMERS: usize = 10_000;

struct Setup {
    state: State,
    ids: SequentialIds,
    now: Timestamp,
    firm: AccountId,
    customers: Vec<AccountId>,
    actor: Actor,
}

impl Setup {
    fn new(flow: JnlcFlow) -> Setup {
        let mut s = Setup {
            state: State::new(Date(20_000)),
            ids: SequentialIds::starting_at(1),
            now: Timestamp(1_700_000_000_000_000),
            firm: AccountId(0),
            customers: Vec::new(),
            actor: Actor::System,
        };
        let config = CorrespondentConfig { jnlc_flow: flow, limits: Limits::unlimited(), ..Default::default() };
        let events = s.run(&Command::CreateCorrespondent { code: "BNCH".into(), name: "Bench".into(), config });
        let EventKind::CorrespondentCreated(c) = &events[0].kind else { unreachable!() };
        let corr = c.id;
        s.actor = Actor::Correspondent(corr);
        s.firm = s.open(corr, AccountKind::Firm);
        s.customers = (0..CUSTOMERS).map(|_| s.open(corr, AccountKind::Customer)).collect();
        s.run(&Command::CreateTransfer {
            actor: Actor::System,
            account: s.firm,
            direction: TransferDirection::Incoming,
            kind: TransferKind::Wire,
            currency: Currency::USD,
            amount: i64::MAX / 2,
            complete_at_once: true,
        });
        s
    }

    fn open(&mut self, correspondent: CorrespondentId, kind: AccountKind) -> AccountId {
        let command = Command::OpenAccount {
            actor: Actor::System,
            correspondent,
            kind,
            status: AccountStatus::Active,
            currency: Currency::USD,
            profile: String::new(),
        };
        let events = self.run(&command);
        let EventKind::AccountOpened { account, .. } = &events[0].kind else { unreachable!() };
        account.id
    }

    fn run(&mut self, command: &Command) -> Vec<Event> {
        self.now.0 += 1;
        let mut ctx = Ctx { now: self.now, ids: &mut self.ids };
        let events = execute(&self.state, command, &mut ctx).expect("benchmark commands are valid");
        for event in &events {
            self.state.apply(event);
        }
        events
    }

    fn customer(&self, i: usize) -> AccountId {
        self.customers[i % CUSTOMERS]
    }
}

fn main() {
    divan::main();
}

/// JNLC v2: one command books the journal (`executed` at creation).
#[divan::bench(max_time = 2)]
fn single_booked_at_creation(bencher: Bencher) {
    let mut s = Setup::new(JnlcFlow::V2);
    let mut i = 0;
    bencher.counter(ItemsCount::new(1usize)).bench_local(|| {
        i += 1;
        let request = JournalRequest::cash(s.firm, s.customer(i), 100);
        s.run(&Command::CreateJournal { actor: s.actor.clone(), request, key: None })
    });
}

/// JNLC v1: create (`queued`), send to clearing, book (`executed`): three commands a journal.
#[divan::bench(max_time = 2)]
fn single_full_lifecycle(bencher: Bencher) {
    let mut s = Setup::new(JnlcFlow::V1);
    let mut i = 0;
    bencher.counter(ItemsCount::new(1usize)).bench_local(|| {
        i += 1;
        let request = JournalRequest::cash(s.firm, s.customer(i), 100);
        let events = s.run(&Command::CreateJournal { actor: s.actor.clone(), request, key: None });
        let EventKind::JournalCreated { journal, .. } = &events[0].kind else { unreachable!() };
        let id = journal.id;
        s.run(&Command::SendToClearing { id });
        s.run(&Command::BookJournal { id })
    });
}

/// A batch of N entries from the firm account, then every entry cleared and booked.
#[divan::bench(args = [10, 100, 1000], max_time = 2)]
fn batch_full_lifecycle(bencher: Bencher, entries: usize) {
    let mut s = Setup::new(JnlcFlow::V1);
    let mut i = 0;
    bencher.counter(ItemsCount::new(entries)).bench_local(|| {
        let batch: Vec<BatchEntry> = (0..entries).map(|k| BatchEntry::cash(s.customer(i + k), 100)).collect();
        i += entries;
        let events =
            s.run(&Command::CreateBatch { actor: s.actor.clone(), entry_type: EntryType::Cash, from: s.firm, entries: batch, key: None });
        for event in &events {
            if let EventKind::JournalCreated { journal, .. } = &event.kind {
                let id = journal.id;
                s.run(&Command::SendToClearing { id });
                s.run(&Command::BookJournal { id });
            }
        }
    });
}

/// Creation alone, as a batch: the cost of accepting entries.
#[divan::bench(args = [1000], max_time = 2)]
fn batch_created(bencher: Bencher, entries: usize) {
    let mut s = Setup::new(JnlcFlow::V1);
    let mut i = 0;
    bencher.counter(ItemsCount::new(entries)).bench_local(|| {
        let batch: Vec<BatchEntry> = (0..entries).map(|k| BatchEntry::cash(s.customer(i + k), 100)).collect();
        i += entries;
        s.run(&Command::CreateBatch { actor: s.actor.clone(), entry_type: EntryType::Cash, from: s.firm, entries: batch, key: None })
    });
}
