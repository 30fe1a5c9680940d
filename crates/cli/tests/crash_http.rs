//! Crash recovery under HTTP load: `cashier serve` is killed with SIGKILL at a random moment
//! while clients drive it over HTTP, then restarted on the same store, for several rounds and
//! both backends. Requests whose answer the kill swallowed are retried with their idempotency
//! key. After each restart the books are checked as the bank test checks them, and every
//! acknowledged request took effect exactly once.
//!
//! `CASHIER_CRASH_ROUNDS` (default 3) sets the rounds; RELIABILITY.md has the long run.

#[path = "../../server/tests/support/books.rs"]
mod books;
#[path = "support/load.rs"]
mod load;

use load::{Bank, Load, Seen};
use rand::Rng;
use std::sync::{Arc, Mutex};
use std::time::Duration;

async fn rounds(name: &str, database_url: Option<String>) {
    let rounds: usize = std::env::var("CASHIER_CRASH_ROUNDS").ok().and_then(|s| s.parse().ok()).unwrap_or(3);
    let dir = std::env::temp_dir().join(format!("cashier-crash-http-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let base = format!("http://127.0.0.1:{port}");
    let mut child = load::spawn(&dir, port, database_url.as_deref());
    load::wait_ready(&base, Duration::from_secs(60)).await;
    let bank = Bank::from_dir(&base, &dir);
    let shares_before = bank.books.positions(&bank.accounts()).await;
    let seen = Arc::new(Mutex::new(Seen::default()));
    let mut killed_after = Vec::new();
    for round in 0..rounds {
        let clients = Load::start(&bank, 8, round, &seen);
        let wait = Duration::from_millis(rand::rng().random_range(300..1_500));
        tokio::time::sleep(wait).await;
        child.kill();
        killed_after.push(wait.as_millis());
        clients.stop().await;
        child = load::spawn(&dir, port, database_url.as_deref());
        load::wait_ready(&base, Duration::from_secs(60)).await;
        load::settle_and_check(&bank, &seen, &shares_before, &format!("round {round}")).await;
    }
    child.kill();
    let seen = seen.lock().unwrap();
    eprintln!(
        "crash under HTTP load on {name}: {rounds} SIGKILLs (after {killed_after:?} ms), {} requests acknowledged ({} retried after a kill), {} journals, all present once",
        seen.acknowledged.len(),
        seen.retried,
        seen.acknowledged.values().map(Vec::len).sum::<usize>()
    );
    assert!(seen.acknowledged.len() > rounds, "the clients got work done");
    let _ = std::fs::remove_dir_all(&dir);
    let _ = std::fs::remove_file(dir.with_extension("log"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_survives_sigkill_under_http_load() {
    rounds("sqlite", None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_survives_sigkill_under_http_load() {
    let base = std::env::var("CASHIER_TEST_DATABASE_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());
    let schema = format!("cashier_crash_http_{}", std::process::id());
    let admin = base.clone();
    let sql = format!("DROP SCHEMA IF EXISTS {schema} CASCADE; CREATE SCHEMA {schema}");
    let prepared = std::process::Command::new("psql").args([admin.as_str(), "-qc", &sql]).output();
    match prepared {
        Ok(out) if out.status.success() => {}
        other => {
            assert!(std::env::var("CI").as_deref() != Ok("true"), "PostgreSQL is required under CI=true: {other:?}");
            return eprintln!("\n*** PostgreSQL crash test under HTTP load SKIPPED: {other:?} ***\n");
        }
    }
    let separator = if base.contains('?') { '&' } else { '?' };
    rounds("postgres", Some(format!("{base}{separator}options=-csearch_path%3D{schema}"))).await;
    let _ = std::process::Command::new("psql").args([admin.as_str(), "-qc", &format!("DROP SCHEMA {schema} CASCADE")]).output();
}
