//! How many JNLC journals the core executes and applies per second on one core, with every
//! journal touching the same firm account (cash pooling). Run: `cargo bench -p cashier-core`.

use cashier_core::*;
use divan::counter::ItemsCount;
use divan::Bencher;

const CUSTOMERS: usize = 10_000;

struct Setup {
    ledger: InMemory,
    firm: AccountId,
    customers: Vec<AccountId>,
    actor: Actor,
}

impl Setup {
    fn new(flow: JnlcFlow) -> Setup {
        let mut ledger = InMemory::new(Date(20_000));
        let corr = ledger.correspondent("BNCH", CorrespondentConfig { jnlc_flow: flow, limits: Limits::unlimited(), ..Default::default() });
        let firm = ledger.account(corr, AccountKind::Firm);
        let customers = (0..CUSTOMERS).map(|_| ledger.account(corr, AccountKind::Customer)).collect();
        let mut s = Setup { ledger, firm, customers, actor: Actor::Correspondent(corr) };
        s.ledger.fund(firm, i64::MAX / 2);
        s
    }

    fn run(&mut self, command: &Command) -> Vec<Event> {
        self.ledger.run(command).expect("benchmark commands are valid")
    }

    fn customer(&self, i: usize) -> AccountId {
        self.customers[i % CUSTOMERS]
    }

    /// Sends every journal the events created through clearing and booking.
    fn clear(&mut self, events: &[Event]) {
        for (id, _, _) in events.iter().filter_map(Event::journal_status) {
            self.run(&Command::SendToClearing { id });
            self.run(&Command::BookJournal { id });
        }
    }

    fn batch(&mut self, first: usize, entries: usize) -> Vec<Event> {
        let batch: Vec<BatchEntry> = (0..entries).map(|k| BatchEntry::cash(self.customer(first + k), 100)).collect();
        self.run(&Command::CreateBatch {
            actor: self.actor.clone(),
            entry_type: EntryType::Cash,
            from: self.firm,
            entries: batch,
            key: None,
        })
    }

    fn single(&mut self, i: usize) -> Vec<Event> {
        let request = JournalRequest::cash(self.firm, self.customer(i), 100);
        self.run(&Command::CreateJournal { actor: self.actor.clone(), request, key: None })
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
        s.single(i)
    });
}

/// JNLC v1: create (`queued`), send to clearing, book (`executed`): three commands a journal.
#[divan::bench(max_time = 2)]
fn single_full_lifecycle(bencher: Bencher) {
    let mut s = Setup::new(JnlcFlow::V1);
    let mut i = 0;
    bencher.counter(ItemsCount::new(1usize)).bench_local(|| {
        i += 1;
        let events = s.single(i);
        s.clear(&events);
    });
}

/// A batch of N entries from the firm account, then every entry cleared and booked.
#[divan::bench(args = [10, 100, 1000], max_time = 2)]
fn batch_full_lifecycle(bencher: Bencher, entries: usize) {
    let mut s = Setup::new(JnlcFlow::V1);
    let mut i = 0;
    bencher.counter(ItemsCount::new(entries)).bench_local(|| {
        let events = s.batch(i, entries);
        i += entries;
        s.clear(&events);
    });
}

/// Creation alone, as a batch: the cost of accepting entries.
#[divan::bench(args = [1000], max_time = 2)]
fn batch_created(bencher: Bencher, entries: usize) {
    let mut s = Setup::new(JnlcFlow::V1);
    let mut i = 0;
    bencher.counter(ItemsCount::new(entries)).bench_local(|| {
        let events = s.batch(i, entries);
        i += entries;
        events
    });
}
