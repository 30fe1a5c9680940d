//! The store conformance suite against a real SQLite file.

use cashier_store::conformance::{self, Harness};
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

    fn sql(&mut self, sql: &str) -> Option<i64> {
        let store = SqliteStore::open_in(&self.dir).expect("opens");
        let mut stmt = store.connection().prepare(sql).expect("valid SQL");
        if stmt.column_count() == 0 {
            stmt.execute([]).expect("runs");
            return None;
        }
        stmt.query_row([], |r| r.get::<_, Option<i64>>(0)).expect("runs")
    }
}

macro_rules! conformance_tests {
    ($($name:ident),* $(,)?) => {
        $(
            #[test]
            fn $name() {
                conformance::$name(&mut Sqlite::new(stringify!($name)));
            }
        )*
    };
}

conformance_tests!(
    empty_store_starts_empty,
    committed_state_survives_restart,
    idempotency_survives_restart,
    rejections_write_nothing,
    tampering_is_refused_at_start,
    a_failed_commit_stops_and_recovers_from_the_store,
    a_full_queue_answers_busy,
);
