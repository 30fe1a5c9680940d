//! A store written before a migration is carried through it and loads as the same ledger.
//! Migration 005 narrows rows: ids become `uuid`, the stored ULID goes, the log's B-tree on `seq`
//! becomes a BRIN index.

use cashier_store::conformance::{ledger_text, write_scenario, Harness};
use cashier_store::Store;
use cashier_store_postgres::PostgresStore;
use postgres::{Client, NoTls};

const URL: &str = "postgres://postgres@127.0.0.1:5432/test";

fn url() -> String {
    std::env::var("CASHIER_TEST_DATABASE_URL").unwrap_or_else(|_| URL.to_owned())
}

/// The migrations before narrow rows, as a store of that time had them.
const BEFORE_005: &[&str] = &[
    include_str!("../migrations/001_ledger.sql"),
    include_str!("../migrations/002_api_keys.sql"),
    include_str!("../migrations/003_account_emails.sql"),
    include_str!("../migrations/004_postings_in_events.sql"),
];

const TABLES: &[&str] = &[
    "meta",
    "events",
    "correspondents",
    "accounts",
    "assets",
    "balances",
    "journals",
    "transfers",
    "overdrafts",
    "idempotency_keys",
    "api_keys",
    "daily_usage",
];

struct Schema(String);

impl Harness for Schema {
    type S = PostgresStore;
    fn fresh(&mut self) -> PostgresStore {
        drop_schema(&self.0);
        PostgresStore::connect(&url(), Some(&self.0)).expect("connects")
    }
    fn reopen(&mut self) -> PostgresStore {
        PostgresStore::connect(&url(), Some(&self.0)).expect("reconnects")
    }
    fn fresh_checkpointing(&mut self, events: u64) -> PostgresStore {
        self.fresh().checkpoint_every(events)
    }
    fn sql(&mut self, _: &str) -> Option<i64> {
        None
    }
    fn refuse_description(&mut self, _: &str) {
        unreachable!("the migration test writes the scenario only")
    }
}

fn drop_schema(schema: &str) {
    let mut client = Client::connect(&url(), NoTls).expect("connects");
    client.batch_execute(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE")).expect("drops");
}

/// Copies every row of `from` (today's schema) into `to` (the schema before 005), as the old
/// columns held them: ids as 16 raw bytes, and a ULID in every event row.
fn copy_back(client: &mut Client, from: &str, to: &str) {
    for table in TABLES {
        let columns = client
            .query(
                "SELECT column_name::text, (SELECT data_type::text FROM information_schema.columns n
                                     WHERE n.table_schema = $2 AND n.table_name = o.table_name AND n.column_name = o.column_name)
                 FROM information_schema.columns o WHERE o.table_schema = $1 AND o.table_name = $3 ORDER BY ordinal_position",
                &[&to, &from, table],
            )
            .expect("reads columns");
        let (names, values): (Vec<String>, Vec<String>) = columns
            .iter()
            .map(|row| {
                let (name, today): (String, Option<String>) = (row.get(0), row.get(1));
                let value = match (name.as_str(), today.as_deref()) {
                    ("ulid", _) => "int8send(seq) || int8send(seq)".to_owned(),
                    (_, Some("uuid")) => format!("decode(replace({name}::text, '-', ''), 'hex')"),
                    _ => name.clone(),
                };
                (name, value)
            })
            .unzip();
        client
            .batch_execute(&format!("INSERT INTO {to}.{table} ({}) SELECT {} FROM {from}.{table}", names.join(", "), values.join(", ")))
            .unwrap_or_else(|e| panic!("copies {table}: {e}"));
    }
}

#[test]
fn a_store_from_before_narrow_rows_migrates_and_loads_the_same_ledger() {
    let (today, old) = (format!("cashier_mig_today_{}", std::process::id()), format!("cashier_mig_old_{}", std::process::id()));
    let reachable = Client::connect(&url(), NoTls);
    if let Err(error) = reachable {
        assert_ne!(std::env::var("CI").as_deref(), Ok("true"), "PostgreSQL is required under CI=true: {error}");
        eprintln!("\n*** PostgreSQL tests SKIPPED: cannot connect to {} ({error}) ***\n", url());
        return;
    }
    write_scenario(&mut Schema(today.clone()));
    // Keys have names since migration 008; a store from before 005 has none.
    let mut current = PostgresStore::connect(&url(), Some(&today)).expect("connects");
    current.client().batch_execute("UPDATE api_keys SET name = NULL").unwrap();
    // Four-eyes requests and lone actions have tables since migration 009.
    current.client().batch_execute("DELETE FROM confirmations; DELETE FROM done_alone").unwrap();
    let expected = ledger_text(&current.load().expect("loads").expect("not empty").state);
    drop_schema(&old);
    let mut client = Client::connect(&url(), NoTls).expect("connects");
    client.batch_execute(&format!("CREATE SCHEMA {old}; SET search_path TO {old}")).unwrap();
    for (i, sql) in BEFORE_005.iter().enumerate() {
        client.batch_execute(sql).unwrap();
        client
            .batch_execute(&format!(
                "CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY); INSERT INTO schema_migrations VALUES ({})",
                i + 1
            ))
            .unwrap();
    }
    client.batch_execute("DELETE FROM meta").unwrap();
    copy_back(&mut client, &today, &old);
    let ulid_before: i64 = client.query_one("SELECT count(*) FROM events WHERE ulid IS NOT NULL", &[]).unwrap().get(0);
    assert!(ulid_before > 10, "the old store has a log to carry");

    let mut store = PostgresStore::connect(&url(), Some(&old)).expect("the old store opens and migrates");
    let loaded = store.load().expect("the migrated store loads and verifies").expect("not empty");
    assert_eq!(ledger_text(&loaded.state), expected, "the migrated store is the same ledger");
    let types: Vec<(String, String)> = client
        .query(
            "SELECT table_name::text || '.' || column_name::text, data_type::text FROM information_schema.columns
             WHERE table_schema = $1 AND column_name IN ('id', 'journal_id', 'ulid') AND table_name IN ('journals', 'events')
             ORDER BY 1",
            &[&old],
        )
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    assert_eq!(types, vec![("events.journal_id".to_owned(), "uuid".to_owned()), ("journals.id".to_owned(), "uuid".to_owned())]);
    let postings: i64 = client.query_one(&format!("SELECT count(*) FROM {old}.postings"), &[]).unwrap().get(0);
    assert!(postings > 0, "postings stay readable as a view");
    drop(store);
    drop_schema(&old);
    drop_schema(&today);
}
