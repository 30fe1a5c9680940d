//! Runs a sequencer on the given store and pays customers from the firm account from several
//! threads until it is killed. Prints `ready` once set up, then `ack <journal id> <status>` for
//! every journal whose commit was acknowledged, flushed at once.

use cashier_core::*;
use cashier_store::{CashPool, Sequencer, SequencerConfig, SystemClock};
use cashier_store_crash::{find, open, AMOUNT, CODE, CUSTOMERS, FUNDING};
use std::io::Write;
use std::sync::{Arc, Mutex};

const SUBMITTERS: usize = 8;

fn main() {
    let spec = std::env::args().nth(1).expect("usage: crash-child STORE");
    let store = open(&spec).expect("the store opens");
    let sequencer =
        Arc::new(Sequencer::start(store, SystemClock::default(), Date(20_000), SequencerConfig::default()).expect("the store loads"));
    let pool = find(&spec).unwrap_or_else(|| CashPool::open(&sequencer, CODE, CUSTOMERS, FUNDING).expect("sets up"));
    let (corr, firm, customers) = (pool.correspondent, pool.firm, pool.customers);
    let out = Arc::new(Mutex::new(std::io::stdout()));
    writeln!(out.lock().unwrap(), "ready").unwrap();
    let threads: Vec<_> = (0..SUBMITTERS)
        .map(|t| {
            let (sequencer, out, customers) = (sequencer.clone(), out.clone(), customers.clone());
            std::thread::spawn(move || {
                for i in 0.. {
                    let actor = Actor::Correspondent(corr);
                    let command = if i % 10 == 9 {
                        let entries = (0..5).map(|k| BatchEntry::cash(customers[(t + k) % CUSTOMERS], AMOUNT)).collect();
                        Command::CreateBatch { actor, entry_type: EntryType::Cash, from: firm, entries, key: None }
                    } else {
                        Command::CreateJournal {
                            actor,
                            request: JournalRequest::cash(firm, customers[(t + i) % CUSTOMERS], AMOUNT),
                            key: None,
                        }
                    };
                    if let Ok(outcome) = sequencer.submit_blocking(command) {
                        let mut out = out.lock().unwrap();
                        for journal in &outcome.journals {
                            writeln!(out, "ack {} {}", journal.id, journal.status).unwrap();
                        }
                        out.flush().unwrap();
                    }
                }
            })
        })
        .collect();
    for thread in threads {
        let _ = thread.join();
    }
}
