//! Fills a store with a large ledger, through the sequencer, for measuring how a server starts
//! on it and how much memory it holds: one correspondent, one funded firm account, `accounts`
//! customer accounts, and `journals` JNLC journals from the firm account to them. Then loads the
//! store again and reports how long that took.
//!
//! `cargo run --release -p cashier-store-bench --example fill -- DATA_DIR ACCOUNTS JOURNALS [--keep] [--database-url URL]`
//!
//! The data directory (and the PostgreSQL database, with `--database-url`) is emptied first,
//! unless `--keep` adds to what is there. The correspondent gets an API key and there is an
//! operator key, written to `DATA_DIR/sandbox.json` as the sandbox writes it, so that
//! `cashier serve --data-dir DATA_DIR` starts on the store and
//! `cashier bench --url ... --sandbox DATA_DIR/sandbox.json` drives it.

use cashier_core::*;
use cashier_server::sandbox::Sandbox;
use cashier_store::{CashPool, Sequencer, SequencerConfig, Store, SubmitError, SystemClock};
use cashier_store_postgres::PostgresStore;
use cashier_store_sqlite::SqliteStore;
use rand::Rng;
use std::path::PathBuf;
use std::time::Instant;

/// Commands in flight at once: well under the sequencer's queue.
const CHUNK: usize = 32_768;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let dir = PathBuf::from(args.get(1).expect("DATA_DIR ACCOUNTS JOURNALS [--keep] [--database-url URL]"));
    let accounts: usize = args.get(2).and_then(|n| n.parse().ok()).expect("ACCOUNTS");
    let journals: usize = args.get(3).and_then(|n| n.parse().ok()).expect("JOURNALS");
    let keep = args.iter().any(|a| a == "--keep");
    let database_url = args.iter().position(|a| a == "--database-url").and_then(|i| args.get(i + 1)).cloned();
    let open = || -> Box<dyn Store> {
        match &database_url {
            Some(url) => Box::new(PostgresStore::connect(url, None).expect("PostgreSQL answers")),
            None => Box::new(SqliteStore::open_in(&dir).expect("the store opens")),
        }
    };
    if !keep {
        let _ = std::fs::remove_dir_all(&dir);
        if let Some(url) = &database_url {
            let mut client = postgres::Client::connect(url, postgres::NoTls).expect("PostgreSQL answers");
            client.batch_execute("DROP SCHEMA public CASCADE; CREATE SCHEMA public").expect("the database is emptied");
        }
    }
    std::fs::create_dir_all(&dir).expect("the data directory");
    let sequencer = Sequencer::start(open(), SystemClock::default(), Date(20_000), SequencerConfig::default()).unwrap();
    let started = Instant::now();
    let code = format!("FILL{:04}", rand::rng().random_range(0..10_000));
    let pool = CashPool::open(&sequencer, &code, accounts.max(1), i64::MAX / 4).expect("sets up");
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
    let (api_key, api_secret) = issue(&sequencer, "CK", KeyOwner::Correspondent(correspondent));
    let (operator_key, operator_secret) = issue(&sequencer, "OK", KeyOwner::Operator);
    let sandbox = Sandbox {
        api_key,
        api_secret,
        operator_key,
        operator_secret,
        correspondent_id: correspondent.to_string(),
        correspondent_code: code,
        firm_account_id: firm.to_string(),
        customer_account_ids: customers.iter().take(2).map(ToString::to_string).collect(),
        business_date: sequencer.read(|s| s.business_date()).to_string(),
        assets: Vec::new(),
    };
    sandbox.write(&dir).expect("sandbox.json is written");
    sequencer.shutdown();
    drop(sequencer);
    let bytes = std::fs::metadata(dir.join(cashier_store_sqlite::FILE_NAME)).map(|m| m.len()).unwrap_or(0);
    println!("filled in {:.1} s: {} bytes", started.elapsed().as_secs_f64(), bytes);
    let loading = Instant::now();
    let loaded = open().load().unwrap().expect("a ledger");
    println!("loaded and verified in {:.1} s ({} events)", loading.elapsed().as_secs_f64(), loaded.last_seq);
}

/// A new API key for `owner`, minted as the server mints one: its id and its secret.
fn issue(sequencer: &Sequencer, prefix: &str, owner: KeyOwner) -> (String, String) {
    let (key_id, secret, secret_sha256) = cashier_server::auth::mint(prefix);
    sequencer
        .submit_blocking(Command::IssueApiKey { key_id: key_id.clone(), name: Some("fill".into()), owner, secret_sha256 })
        .expect("a key");
    (key_id, secret)
}

/// Submits a chunk of commands together and waits for every one to commit.
fn in_chunk(sequencer: &Sequencer, commands: impl Iterator<Item = Command>) -> Vec<cashier_store::Outcome> {
    let pending: Vec<_> = commands.map(|c| sequencer.try_submit(c).expect("room in the queue")).collect();
    pending.into_iter().map(|r| r.blocking_recv().unwrap_or(Err(SubmitError::Unavailable)).expect("commits")).collect()
}
