//! Leases and fencing on a real PostgreSQL: one writer per shard, and a writer that lost its
//! lease commits nothing.

use cashier_core::{Command, CorrespondentConfig, Date};
use cashier_store::{off_runtime, Sequencer, SubmitError, SystemClock};
use cashier_store_postgres::{lease, Grant, PostgresStore};
use std::time::Duration;

fn url() -> String {
    std::env::var("CASHIER_TEST_DATABASE_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned())
}

fn schema() -> Option<String> {
    let schema = format!("cashier_lease_{}", std::process::id());
    let dropped = off_runtime(|| {
        postgres::Client::connect(&url(), postgres::NoTls)?.batch_execute(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"))
    });
    match dropped {
        Ok(()) => Some(schema),
        Err(e) if std::env::var("CI").as_deref() != Ok("true") => {
            eprintln!("\n*** PostgreSQL lease test SKIPPED: {e} ***\n");
            None
        }
        Err(e) => panic!("PostgreSQL is required under CI=true: {e}"),
    }
}

fn create(code: &str) -> Command {
    Command::CreateCorrespondent { code: code.into(), name: code.into(), config: CorrespondentConfig::default() }
}

#[test]
fn a_writer_that_lost_its_lease_commits_nothing() {
    let Some(schema) = schema() else { return };
    let ttl = Duration::from_secs(30);
    let connect = || PostgresStore::connect(&url(), Some(&schema)).expect("connects");
    let mut admin = connect();
    let grant = |store: &mut PostgresStore, owner: &str| lease::acquire(store.client(), 0, owner, ttl).expect("asks");

    let Grant::Held(first) = grant(&mut admin, "node-a/1") else { panic!("a free lease is granted") };
    assert_eq!(first.epoch, 1);
    match grant(&mut admin, "node-b/1") {
        Grant::Taken { owner, expires_in } => {
            assert_eq!(owner, "node-a/1");
            assert!(expires_in > Duration::from_secs(20) && expires_in <= ttl, "{expires_in:?}");
        }
        held => panic!("a held lease was granted again: {held:?}"),
    }
    let a = Sequencer::start(connect().fenced(first.clone()), SystemClock::default(), Date(20_000), Default::default()).unwrap();
    a.submit_blocking(create("AAA1")).expect("the holder commits");

    // The lease runs out (a frozen node, say) and another node takes it: the epoch moves on.
    admin.client().batch_execute("UPDATE cashier_leases SET expires_at = now() - interval '1 second'").unwrap();
    let Grant::Held(second) = grant(&mut admin, "node-b/1") else { panic!("an expired lease is granted") };
    assert_eq!(second.epoch, 2);
    assert!(!lease::renew(admin.client(), &first, ttl).unwrap(), "the old holder cannot renew a lease it lost");
    assert_eq!(a.submit_blocking(create("AAA2")).unwrap_err(), SubmitError::StoreFailed, "the old holder is fenced");

    let b = Sequencer::start(connect().fenced(second.clone()), SystemClock::default(), Date(20_000), Default::default()).unwrap();
    b.submit_blocking(create("BBB1")).expect("the new holder commits, continuing the log");
    // Nor does the old holder commit after it reloads: every attempt is refused.
    std::thread::sleep(Duration::from_millis(500));
    assert!(a.submit_blocking(create("AAA3")).is_err());

    // A lease that expired without a new holder fences its writer too.
    admin.client().batch_execute("UPDATE cashier_leases SET expires_at = now() - interval '1 second'").unwrap();
    assert_eq!(b.submit_blocking(create("BBB2")).unwrap_err(), SubmitError::StoreFailed, "an expired lease commits nothing");

    let codes: Vec<String> =
        admin.client().query("SELECT code FROM correspondents ORDER BY code", &[]).unwrap().iter().map(|r| r.get(0)).collect();
    assert_eq!(codes, ["AAA1", "BBB1"], "only commits under a held lease are in the store");
    let last: i64 = admin.client().query_one("SELECT last_seq FROM cashier_leases WHERE shard = 0", &[]).unwrap().get(0);
    let logged: i64 = admin.client().query_one("SELECT last_seq FROM meta", &[]).unwrap().get(0);
    assert_eq!(last, logged, "the lease row names the shard's last committed event");

    // A graceful stop hands the lease over at once.
    let Grant::Held(third) = grant(&mut admin, "node-b/2") else { panic!("expired") };
    lease::release(admin.client(), &third).unwrap();
    assert!(matches!(grant(&mut admin, "node-a/2"), Grant::Held(f) if f.epoch == 4), "a released lease is free at once");
    off_runtime(|| {
        a.shutdown();
        b.shutdown();
    });
    let _ = admin.client().batch_execute(&format!("DROP SCHEMA {schema} CASCADE"));
}
