//! The store conformance suite against a real SQLite file.

use cashier_store::conformance::Harness;
use cashier_store_sqlite::SqliteStore;
use std::path::PathBuf;

struct Sqlite {
    dir: PathBuf,
}

impl Sqlite {
    fn new(name: &str) -> Sqlite {
        let dir = std::env::temp_dir().join(format!("cashier-sqlite-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        Sqlite { dir }
    }
}

impl Drop for Sqlite {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

impl Harness for Sqlite {
    type S = SqliteStore;

    fn fresh(&mut self) -> SqliteStore {
        let _ = std::fs::remove_dir_all(&self.dir);
        SqliteStore::open_in(&self.dir).expect("opens")
    }

    fn reopen(&mut self) -> SqliteStore {
        SqliteStore::open_in(&self.dir).expect("reopens")
    }

    fn fresh_checkpointing(&mut self, events: u64) -> SqliteStore {
        self.fresh().checkpoint_every(events)
    }

    fn sql(&mut self, sql: &str) -> Option<i64> {
        let store = SqliteStore::open_in(&self.dir).expect("opens");
        let mut stmt = store.connection().prepare(sql).expect("valid SQL");
        if stmt.column_count() == 0 {
            stmt.execute([]).expect("runs");
            return None;
        }
        stmt.query_row([], |r| r.get::<_, Option<i64>>(0)).expect("runs")
    }

    fn refuse_description(&mut self, description: &str) {
        self.sql(&format!(
            "CREATE TRIGGER refuse_marked BEFORE INSERT ON journals WHEN NEW.description = '{description}' \
             BEGIN SELECT RAISE(ABORT, 'refused by the test'); END"
        ));
    }
}

cashier_store::conformance_tests!(|name: &str| Some(Sqlite::new(name)));

/// The event streams' and the console's reads of the log, on the read-only connection they use.
#[test]
fn the_log_reads_back() {
    let mut harness = Sqlite::new("log_reads");
    cashier_store::conformance::write_scenario(&mut harness);
    let mut log = cashier_store_sqlite::SqliteLog::open_in(&harness.dir).expect("opens read-only");
    cashier_store::conformance::log_reads_back(&mut log);
}
