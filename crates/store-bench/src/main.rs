//! Journals per second committed durably through the sequencer (no HTTP), on SQLite and on
//! PostgreSQL, with 1, 64 and 1,024 concurrent submitters, every journal touching the same firm
//! account; p50 and p99 latency from submission to durable acknowledgement; bytes per journal on
//! disk (what the run adds to the store, tables and indexes); the disk's fsync latency measured
//! first; and, in the same run, the row-locking baseline:
//! `pgbench` with a script that updates the firm row and a random customer row and inserts a
//! journal row per transaction, at the same client counts.
//!
//! `cargo run --release -p cashier-store-bench -- [--seconds N] [--submitters 1,64,1024] [--backends sqlite,postgres]`

use cashier_core::*;
use cashier_store::{CashPool, Sequencer, SequencerConfig, Store, SystemClock};
use hdrhistogram::Histogram;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

const CUSTOMERS: usize = 10_000;

struct Options {
    seconds: u64,
    submitters: Vec<usize>,
    backends: Vec<String>,
    url: String,
    dir: PathBuf,
}

fn options() -> Options {
    let mut o = Options {
        seconds: 10,
        submitters: vec![1, 64, 1024],
        backends: vec!["sqlite".into(), "postgres".into()],
        url: std::env::var("CASHIER_TEST_DATABASE_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into()),
        dir: std::env::temp_dir().join("cashier-store-bench"),
    };
    let args: Vec<String> = std::env::args().skip(1).collect();
    for pair in args.chunks(2) {
        let value = pair.get(1).cloned().unwrap_or_default();
        match pair[0].as_str() {
            "--seconds" => o.seconds = value.parse().expect("--seconds N"),
            "--submitters" => o.submitters = value.split(',').map(|s| s.parse().expect("--submitters 1,64")).collect(),
            "--backends" => o.backends = value.split(',').map(str::to_owned).collect(),
            "--url" => o.url = value,
            "--dir" => o.dir = PathBuf::from(value),
            other => panic!("unknown option {other}"),
        }
    }
    o
}

fn main() {
    let o = options();
    println!("# cashier store benchmark, {} s per run", o.seconds);
    let (p50, p99) = cashier_store_bench::fsync_probe(&o.dir);
    println!("fsync probe ({}): p50 {p50} us, p99 {p99} us", o.dir.display());
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    println!("\n| store | submitters | journals/s | p50 ms | p99 ms | commits | journals/commit | bytes/journal |");
    println!("|---|---|---|---|---|---|---|---|");
    let mut results = Vec::new();
    for backend in &o.backends {
        for &n in &o.submitters {
            let r = runtime.block_on(run(&o, backend, n));
            println!(
                "| {backend} | {n} | {:.0} | {:.2} | {:.2} | {} | {:.1} | {:.0} |",
                r.rate, r.p50_ms, r.p99_ms, r.commits, r.per_commit, r.bytes_per_journal
            );
            std::io::stdout().flush().unwrap();
            results.push((backend.clone(), n, r.rate));
        }
    }
    println!("\n| pgbench clients | transactions/s | sqlite / pgbench | postgres / pgbench |");
    println!("|---|---|---|---|");
    for &n in &o.submitters {
        let baseline = cashier_store_bench::pgbench(&o.url, &o.dir, n, o.seconds, CUSTOMERS);
        let ratio = |backend: &str| {
            let rate = results.iter().find(|(b, c, _)| b == backend && *c == n).map(|r| r.2);
            match (rate, baseline) {
                (Some(rate), Some((_, tps))) if tps > 0.0 => format!("{:.1}x", rate / tps),
                _ => "-".into(),
            }
        };
        match baseline {
            Some((clients, tps)) => println!("| {n} (ran {clients}) | {tps:.0} | {} | {} |", ratio("sqlite"), ratio("postgres")),
            None => println!("| {n} | failed | - | - |"),
        }
    }
}

struct RunResult {
    rate: f64,
    p50_ms: f64,
    p99_ms: f64,
    commits: u64,
    per_commit: f64,
    bytes_per_journal: f64,
}

fn open(o: &Options, backend: &str, n: usize) -> (Box<dyn Store>, String) {
    match backend {
        "sqlite" => {
            let dir = o.dir.join(format!("sqlite-{n}"));
            let _ = std::fs::remove_dir_all(&dir);
            (Box::new(cashier_store_sqlite::SqliteStore::open_in(&dir).unwrap()), dir.display().to_string())
        }
        "postgres" => {
            let schema = format!("cashier_bench_{n}");
            let mut admin = postgres::Client::connect(&o.url, postgres::NoTls).expect("PostgreSQL reachable");
            admin.batch_execute(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE")).unwrap();
            (Box::new(cashier_store_postgres::PostgresStore::connect(&o.url, Some(&schema)).unwrap()), schema)
        }
        other => panic!("unknown backend {other}"),
    }
}

async fn run(o: &Options, backend: &str, n: usize) -> RunResult {
    let (store, location) = cashier_store::off_runtime(|| open(o, backend, n));
    let sequencer = Arc::new(Sequencer::start(store, SystemClock::default(), Date(20_000), SequencerConfig::default()).unwrap());
    let pool = cashier_store::off_runtime(|| CashPool::open(&sequencer, "BNCH", CUSTOMERS, i64::MAX / 4)).expect("sets up");
    let (actor, firm, customers) = (Actor::Correspondent(pool.correspondent), pool.firm, Arc::new(pool.customers));
    let stop = Arc::new(AtomicBool::new(false));
    let done = Arc::new(AtomicU64::new(0));
    // Every customer holds cash before the run, as in a ledger that has been running: a
    // customer's first credit also makes its balance row, which is not a journal's cost.
    for chunk in customers.chunks(1_000) {
        let submits: Vec<_> = chunk
            .iter()
            .map(|&customer| {
                let (sequencer, actor) = (sequencer.clone(), actor.clone());
                let command = Command::CreateJournal { actor, request: JournalRequest::cash(firm, customer, 1), key: None };
                tokio::spawn(async move { sequencer.submit(command).await.map(drop) })
            })
            .collect();
        for submit in submits {
            submit.await.unwrap().expect("the warm-up journal commits");
        }
    }
    let commits_before = sequencer.stats().commits.load(Ordering::Relaxed);
    // What the run adds: the customers opened, funded and credited above are not its cost.
    let bytes_before = cashier_store::off_runtime(|| disk_bytes(o, backend, &location));
    let started = Instant::now();
    let tasks: Vec<_> = (0..n)
        .map(|t| {
            let (sequencer, stop, done, actor, customers) =
                (sequencer.clone(), stop.clone(), done.clone(), actor.clone(), customers.clone());
            tokio::spawn(async move {
                let mut h = Histogram::<u64>::new(3).unwrap();
                let mut i = t;
                while !stop.load(Ordering::Relaxed) {
                    let request = JournalRequest::cash(firm, customers[i % CUSTOMERS], 1);
                    let t0 = Instant::now();
                    match sequencer.submit(Command::CreateJournal { actor: actor.clone(), request, key: None }).await {
                        Ok(_) => {
                            h.record(t0.elapsed().as_micros() as u64).unwrap();
                            done.fetch_add(1, Ordering::Relaxed);
                        }
                        Err(cashier_store::SubmitError::Busy) => tokio::task::yield_now().await,
                        Err(e) => panic!("{e}"),
                    }
                    i += 7;
                }
                h
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_secs(o.seconds)).await;
    stop.store(true, Ordering::Relaxed);
    let mut h = Histogram::<u64>::new(3).unwrap();
    for task in tasks {
        h.add(task.await.unwrap()).unwrap();
    }
    let elapsed = started.elapsed().as_secs_f64();
    let journals = done.load(Ordering::Relaxed);
    let commits = sequencer.stats().commits.load(Ordering::Relaxed) - commits_before;
    sequencer.shutdown();
    let bytes = cashier_store::off_runtime(|| disk_bytes(o, backend, &location)).saturating_sub(bytes_before);
    RunResult {
        rate: journals as f64 / elapsed,
        p50_ms: h.value_at_quantile(0.5) as f64 / 1000.0,
        p99_ms: h.value_at_quantile(0.99) as f64 / 1000.0,
        commits,
        per_commit: journals as f64 / commits.max(1) as f64,
        bytes_per_journal: bytes as f64 / journals.max(1) as f64,
    }
}

/// The store's size on disk, all tables and indexes, after a checkpoint.
fn disk_bytes(o: &Options, backend: &str, location: &str) -> u64 {
    match backend {
        "sqlite" => {
            let store = cashier_store_sqlite::SqliteStore::open_in(Path::new(location)).unwrap();
            store.connection().execute_batch("PRAGMA wal_checkpoint(TRUNCATE)").unwrap();
            let pages: i64 = store.connection().query_row("PRAGMA page_count", [], |r| r.get(0)).unwrap();
            let size: i64 = store.connection().query_row("PRAGMA page_size", [], |r| r.get(0)).unwrap();
            (pages * size) as u64
        }
        _ => {
            let mut admin = postgres::Client::connect(&o.url, postgres::NoTls).unwrap();
            let sql =
                "SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0)::int8 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                       WHERE n.nspname = $1 AND c.relkind = 'r'";
            let bytes: i64 = admin.query_one(sql, &[&location]).unwrap().get(0);
            bytes as u64
        }
    }
}
