//! A sequencer under a stream of journals, killed with SIGKILL at random moments, several
//! rounds, for both backends. After each restart: every journal whose commit was acknowledged
//! before the kill is there with its status; the store loads (its tables reconcile with its log);
//! and every account's balance equals what the journals that reached the books put there, so
//! nothing unacknowledged is half-applied.

use cashier_core::*;
use cashier_store_crash::{find, open, AMOUNT, FUNDING};
use rand::{Rng, SeedableRng};
use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

const ROUNDS: usize = 5;

/// Runs the child until a random moment after it is ready, kills it, and returns the acks it
/// printed (complete lines only).
fn one_round(spec: &str, rng: &mut impl Rng) -> Vec<(JournalId, JournalStatus)> {
    let mut child = Command::new(env!("CARGO_BIN_EXE_crash-child"))
        .arg(spec)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("the child starts");
    let stdout = child.stdout.take().unwrap();
    let (lines_tx, lines) = mpsc::channel();
    let reader = std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if lines_tx.send(line).is_err() {
                break;
            }
        }
    });
    let started = Instant::now();
    loop {
        match lines.recv_timeout(Duration::from_secs(60)) {
            Ok(line) if line == "ready" => break,
            Ok(_) => {}
            Err(_) => panic!("the child never got ready ({:?})", started.elapsed()),
        }
    }
    std::thread::sleep(Duration::from_millis(rng.random_range(30..400)));
    child.kill().expect("SIGKILL");
    child.wait().unwrap();
    reader.join().unwrap();
    lines
        .try_iter()
        .filter_map(|line| {
            let mut words = line.split(' ');
            (words.next() == Some("ack")).then_some(())?;
            let id = JournalId::parse(words.next()?).ok()?;
            let status = JournalStatus::parse(words.next()?)?;
            Some((id, status))
        })
        .collect()
}

fn check(spec: &str, acked: &HashMap<JournalId, JournalStatus>) {
    let mut store = open(spec).unwrap();
    let loaded = store.load().expect("the store reconciles after the kill").expect("not empty");
    let state = &loaded.state;
    // Settled journals are the store's: read them as the sequencer reads one back.
    let mut reader = store.reader().expect("a reader opens").expect("the store has a reader");
    for (id, status) in acked {
        let journal = reader.journal(*id).expect("reads").unwrap_or_else(|| panic!("acknowledged journal {id} was lost"));
        assert_eq!(journal.status, *status, "journal {id}");
    }
    let all = cashier_store::sql::JournalQuery::default();
    let journals = reader.journals(&all, usize::MAX >> 1).expect("reads");
    let pool = find(spec).expect("the crash ledger is there");
    let (firm, customers) = (pool.firm, pool.customers);
    let mut paid: HashMap<AccountId, i64> = HashMap::new();
    for journal in journals.iter().filter(|j| j.status.is_booked()) {
        assert_eq!(journal.units, AMOUNT);
        *paid.entry(journal.to).or_default() += journal.units;
    }
    let cash = |account| state.balance(Book::Account(account), Asset::Cash(Currency::USD)).posted;
    for customer in &customers {
        assert_eq!(cash(*customer), paid.get(customer).copied().unwrap_or(0), "customer {customer}");
    }
    assert_eq!(cash(firm), FUNDING - paid.values().sum::<i64>(), "the firm account");
}

fn crash_rounds(spec: &str, seed: u64) {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let mut acked = HashMap::new();
    for round in 0..ROUNDS {
        let acks = one_round(spec, &mut rng);
        assert!(!acks.is_empty() || round > 0, "the first round acknowledged nothing");
        acked.extend(acks);
        check(spec, &acked);
    }
    assert!(acked.len() > 50, "only {} journals were acknowledged over {ROUNDS} rounds", acked.len());
    eprintln!("crash test on {spec}: {ROUNDS} kills survived, {} acknowledged journals all present", acked.len());
}

#[test]
fn sqlite_survives_sigkill() {
    let dir = std::env::temp_dir().join(format!("cashier-crash-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    crash_rounds(&format!("sqlite:{}", dir.display()), 7);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn postgres_survives_sigkill() {
    let url = std::env::var("CASHIER_TEST_DATABASE_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned());
    let mut admin = match postgres::Client::connect(&url, postgres::NoTls) {
        Ok(client) => client,
        Err(e) if std::env::var("CI").as_deref() != Ok("true") => return eprintln!("\n*** PostgreSQL crash test SKIPPED: {e} ***\n"),
        Err(e) => panic!("PostgreSQL is required under CI=true: {e}"),
    };
    let schema = format!("cashier_crash_{}", std::process::id());
    admin.batch_execute(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE")).unwrap();
    crash_rounds(&format!("postgres:{schema}@{url}"), 11);
    admin.batch_execute(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE")).unwrap();
}
