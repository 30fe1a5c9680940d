//! The store's own cost, isolated: batches of v2 journals executed in-process, then committed
//! straight to the store with nothing else running. Only the commits are timed.
//! `cargo run --release -p cashier-store-bench --example commit_only -- [sqlite|postgres] [batch] [batches]`

use cashier_core::*;
use cashier_store::{Batch, Record, Rows, Store};
use std::time::{Duration, Instant};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let backend = args.get(1).map_or("sqlite", String::as_str);
    let batch_size: usize = args.get(2).and_then(|n| n.parse().ok()).unwrap_or(256);
    let batches: usize = args.get(3).and_then(|n| n.parse().ok()).unwrap_or(400);
    let mut store: Box<dyn Store> = match backend {
        "sqlite" => {
            let dir = std::env::temp_dir().join("cashier-commit-only");
            let _ = std::fs::remove_dir_all(&dir);
            Box::new(cashier_store_sqlite::SqliteStore::open_in(&dir).unwrap())
        }
        _ => {
            let url = std::env::var("CASHIER_TEST_DATABASE_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());
            let mut admin = postgres::Client::connect(&url, postgres::NoTls).unwrap();
            admin.batch_execute("DROP SCHEMA IF EXISTS cashier_commit_only CASCADE").unwrap();
            Box::new(cashier_store_postgres::PostgresStore::connect(&url, Some("cashier_commit_only")).unwrap())
        }
    };
    let mut ledger = InMemory::new(Date(20_000));
    let mut seq = 0u64;
    let mut run = |ledger: &mut InMemory, commands: Vec<Command>| -> Vec<Record> {
        let mut records = Vec::new();
        for command in commands {
            for event in ledger.run(&command).expect("valid") {
                seq += 1;
                records.push(Record { seq, ulid: u128::from(seq), event, journal: None });
            }
        }
        records
    };
    let config = CorrespondentConfig { jnlc_flow: JnlcFlow::V2, limits: Limits::unlimited(), ..Default::default() };
    let mut records = run(&mut ledger, vec![Command::CreateCorrespondent { code: "BNCH".into(), name: "Bench".into(), config }]);
    let EventKind::CorrespondentCreated(c) = &records[0].event.kind else { unreachable!() };
    let corr = c.id;
    let open = |kind| Command::open_account(Actor::System, corr, kind, String::new());
    records.extend(run(&mut ledger, (0..10_001).map(|i| open(if i == 0 { AccountKind::Firm } else { AccountKind::Customer })).collect()));
    let accounts: Vec<AccountId> = ledger.state.accounts().filter(|a| a.kind == AccountKind::Customer).map(|a| a.id).collect();
    let firm = ledger.state.accounts().find(|a| a.kind == AccountKind::Firm).unwrap().id;
    let fund = Command::CreateTransfer {
        actor: Actor::System,
        account: firm,
        direction: TransferDirection::Incoming,
        kind: TransferKind::Wire,
        currency: Currency::USD,
        amount: i64::MAX / 4,
        complete_at_once: true,
    };
    records.extend(run(&mut ledger, vec![fund]));
    let rows = Rows::collect(&ledger.state, &records);
    store.commit(&Batch { records, rows, index_journals: false }).unwrap();
    let mut committing = Duration::ZERO;
    let mut k = 0;
    for _ in 0..batches {
        let commands = (0..batch_size)
            .map(|_| {
                k += 7;
                Command::CreateJournal {
                    actor: Actor::Correspondent(corr),
                    request: JournalRequest::cash(firm, accounts[k % accounts.len()], 1),
                    key: None,
                }
            })
            .collect();
        let records = run(&mut ledger, commands);
        let rows = Rows::collect(&ledger.state, &records);
        let batch = Batch { records, rows, index_journals: false };
        let t = Instant::now();
        store.commit(&batch).unwrap();
        committing += t.elapsed();
    }
    let journals = batch_size * batches;
    println!(
        "{backend}: {journals} journals in batches of {batch_size}: {:.1} us per journal committing, {:.0} journals/s if commits were all",
        committing.as_micros() as f64 / journals as f64,
        journals as f64 / committing.as_secs_f64()
    );
}
