//! A steady loop for profiling and for BENCHMARKS.md:
//! `cargo run --release -p cashier-core --example throughput MODE [journals]`, where MODE is
//! `v2` (booked at creation), `v1` (create, send to clearing, book), `v1-create` (creation
//! only), `batch` (1,000-entry batches, each entry cleared and booked) or `batch-create`.
//! Prints journals executed and applied per second, every journal touching the same firm account.

use cashier_core::*;
use std::time::Instant;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let mode = args.get(1).map_or("v1", String::as_str);
    let total: usize = args.get(2).and_then(|n| n.parse().ok()).unwrap_or(2_000_000);
    let flow = if mode == "v2" { JnlcFlow::V2 } else { JnlcFlow::V1 };
    let mut ledger = InMemory::new(Date(20_000));
    let corr = ledger.correspondent("BNCH", CorrespondentConfig { jnlc_flow: flow, limits: Limits::unlimited(), ..Default::default() });
    let firm = ledger.account(corr, AccountKind::Firm);
    let customers: Vec<AccountId> = (0..10_000).map(|_| ledger.account(corr, AccountKind::Customer)).collect();
    let actor = Actor::Correspondent(corr);
    ledger.fund(firm, i64::MAX / 2);
    let mut run = |command: &Command| ledger.run(command).expect("valid");
    let started = Instant::now();
    let mut done = 0;
    while done < total {
        let events = if mode.starts_with("batch") {
            let entries = (0..1000).map(|k| BatchEntry::cash(customers[(done + k) % customers.len()], 100)).collect();
            run(&Command::CreateBatch { actor: actor.clone(), entry_type: EntryType::Cash, from: firm, entries, key: None })
        } else {
            let request = JournalRequest::cash(firm, customers[done % customers.len()], 100);
            run(&Command::CreateJournal { actor: actor.clone(), request, key: None })
        };
        let created: Vec<JournalId> = events.iter().filter_map(|e| e.journal_status().map(|(id, _, _)| id)).collect();
        if flow == JnlcFlow::V1 && !mode.ends_with("-create") {
            for &id in &created {
                run(&Command::SendToClearing { id });
                run(&Command::BookJournal { id });
            }
        }
        done += created.len();
    }
    let seconds = started.elapsed().as_secs_f64();
    println!("{mode}: {done} journals in {seconds:.2} s = {:.0} journals/s", done as f64 / seconds);
}
