//! The store conformance suite against a real PostgreSQL server.
//!
//! The server is `CASHIER_TEST_DATABASE_URL` (default: the local test database). Each test gets
//! a schema of its own. Where no server answers, the tests say so loudly and pass, except under
//! `CI=true`, where an unreachable PostgreSQL is a failure.

use cashier_store::conformance::Harness;
use cashier_store_postgres::PostgresStore;

const DEFAULT_URL: &str = "postgres://postgres@127.0.0.1:5432/test";

fn url() -> String {
    std::env::var("CASHIER_TEST_DATABASE_URL").unwrap_or_else(|_| DEFAULT_URL.to_owned())
}

struct Postgres {
    schema: String,
}

impl Postgres {
    /// A harness with a schema of its own, or `None` (loudly) when PostgreSQL is not reachable.
    fn new(name: &str) -> Option<Postgres> {
        let schema = format!("cashier_test_{name}_{}", std::process::id());
        let dropped = cashier_store::off_runtime(|| {
            let mut client = postgres::Client::connect(&url(), postgres::NoTls)?;
            client.batch_execute(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"))
        });
        match dropped {
            Ok(()) => Some(Postgres { schema }),
            Err(error) if std::env::var("CI").as_deref() != Ok("true") => {
                eprintln!("\n*** PostgreSQL tests SKIPPED: cannot connect to {} ({error}) ***\n", url());
                None
            }
            Err(error) => panic!("PostgreSQL is required under CI=true and is unreachable at {}: {error}", url()),
        }
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        cashier_store::off_runtime(|| {
            if let Ok(mut client) = postgres::Client::connect(&url(), postgres::NoTls) {
                let _ = client.batch_execute(&format!("DROP SCHEMA IF EXISTS {} CASCADE", self.schema));
            }
        });
    }
}

impl Harness for Postgres {
    type S = PostgresStore;

    fn fresh(&mut self) -> PostgresStore {
        let mut client = postgres::Client::connect(&url(), postgres::NoTls).expect("connects");
        client.batch_execute(&format!("DROP SCHEMA IF EXISTS {} CASCADE", self.schema)).expect("drops the schema");
        PostgresStore::connect(&url(), Some(&self.schema)).expect("connects")
    }

    fn reopen(&mut self) -> PostgresStore {
        PostgresStore::connect(&url(), Some(&self.schema)).expect("reconnects")
    }

    fn fresh_checkpointing(&mut self, events: u64) -> PostgresStore {
        self.fresh().checkpoint_every(events)
    }

    fn sql(&mut self, sql: &str) -> Option<i64> {
        let mut store = PostgresStore::connect(&url(), Some(&self.schema)).expect("connects");
        let rows = store.client().query(sql, &[]).expect("runs");
        rows.first().and_then(|row| if row.is_empty() { None } else { row.get::<_, Option<i64>>(0) })
    }

    fn refuse_description(&mut self, description: &str) {
        let mut store = PostgresStore::connect(&url(), Some(&self.schema)).expect("connects");
        store
            .client()
            .batch_execute(&format!(
                "CREATE FUNCTION refuse_marked() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN \
                   RAISE EXCEPTION 'refused by the test' USING ERRCODE = 'check_violation'; END $$; \
                 CREATE TRIGGER refuse_marked BEFORE INSERT ON journals FOR EACH ROW \
                   WHEN (NEW.description = '{description}') EXECUTE FUNCTION refuse_marked();"
            ))
            .expect("installs the trigger");
    }
}

cashier_store::conformance_tests!(Postgres::new);

/// The server opens its store and starts the sequencer from inside an async runtime, where a
/// blocking client may not run: both must work there.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn starts_and_commits_inside_an_async_runtime() {
    let Some(harness) = Postgres::new("async_runtime") else { return };
    let store = PostgresStore::connect(&url(), Some(&harness.schema)).expect("connects inside a runtime");
    let sequencer =
        cashier_store::Sequencer::start(store, cashier_store::SystemClock::default(), cashier_core::Date(20_000), Default::default())
            .expect("loads inside a runtime");
    let config = cashier_core::CorrespondentConfig::default();
    let outcome = sequencer.submit(cashier_core::Command::CreateCorrespondent { code: "ASYN".into(), name: "Async".into(), config }).await;
    assert_eq!(outcome.expect("commits").correspondents.len(), 1);
    cashier_store::off_runtime(|| sequencer.shutdown());
}

/// The event streams' and the console's reads of the log: windows over a BRIN-indexed `seq`,
/// histories by a `uuid` journal id.
#[test]
fn the_log_reads_back() {
    let Some(mut harness) = Postgres::new("log_reads") else { return };
    cashier_store::conformance::write_scenario(&mut harness);
    let mut store = PostgresStore::connect(&url(), Some(&harness.schema)).expect("connects");
    cashier_store::conformance::log_reads_back(&mut store);
}
