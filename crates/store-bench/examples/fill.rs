//! Fills a SQLite store with a large ledger, through the sequencer, for measuring how a server
//! starts on it and how much memory it holds: one correspondent, one funded firm account,
//! `accounts` customer accounts, and `journals` JNLC journals from the firm account to them.
//! Then loads the store again and reports how long that took.
//!
//! `cargo run --release -p cashier-store-bench --example fill -- DATA_DIR ACCOUNTS JOURNALS`
//!
//! `cashier serve --data-dir DATA_DIR` then starts on it.

use cashier_core::*;
use cashier_store::{CashPool, Sequencer, SequencerConfig, Store, SubmitError, SystemClock};
use cashier_store_sqlite::SqliteStore;
use std::path::PathBuf;
use std::time::Instant;

/// Commands in flight at once: well under the sequencer's queue.
const CHUNK: usize = 32_768;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let dir = PathBuf::from(args.get(1).expect("DATA_DIR ACCOUNTS JOURNALS"));
    let accounts: usize = args.get(2).and_then(|n| n.parse().ok()).expect("ACCOUNTS");
    let journals: usize = args.get(3).and_then(|n| n.parse().ok()).expect("JOURNALS");
    let _ = std::fs::remove_dir_all(&dir);
    let store = SqliteStore::open_in(&dir).unwrap();
    let sequencer = Sequencer::start(store, SystemClock::default(), Date(20_000), SequencerConfig::default()).unwrap();
    let started = Instant::now();
    let pool = CashPool::open(&sequencer, "FILL", accounts, i64::MAX / 4).expect("sets up");
    let (correspondent, firm, customers) = (pool.correspondent, pool.firm, pool.customers);
    println!("{accounts} accounts in {:.1} s", started.elapsed().as_secs_f64());
    let actor = Actor::Correspondent(correspondent);
    let mut done = 0;
    while done < journals {
        let n = CHUNK.min(journals - done);
        let commands = (done..done + n).map(|i| Command::CreateJournal {
            actor: actor.clone(),
            request: JournalRequest::cash(firm, customers[i % customers.len()], 1),
            key: None,
        });
        in_chunk(&sequencer, commands);
        done += n;
        if done % 1_000_000 < CHUNK {
            println!("{done} journals, {:.1} s", started.elapsed().as_secs_f64());
        }
    }
    sequencer.shutdown();
    drop(sequencer);
    let bytes = std::fs::metadata(dir.join(cashier_store_sqlite::FILE_NAME)).map(|m| m.len()).unwrap_or(0);
    println!("filled in {:.1} s: {} bytes", started.elapsed().as_secs_f64(), bytes);
    let loading = Instant::now();
    let loaded = SqliteStore::open_in(&dir).unwrap().load().unwrap().expect("a ledger");
    println!("loaded and verified in {:.1} s ({} events)", loading.elapsed().as_secs_f64(), loaded.last_seq);
}

/// Submits a chunk of commands together and waits for every one to commit.
fn in_chunk(sequencer: &Sequencer, commands: impl Iterator<Item = Command>) -> Vec<cashier_store::Outcome> {
    let pending: Vec<_> = commands.map(|c| sequencer.try_submit(c).expect("room in the queue")).collect();
    pending.into_iter().map(|r| r.blocking_recv().unwrap_or(Err(SubmitError::Unavailable)).expect("commits")).collect()
}
