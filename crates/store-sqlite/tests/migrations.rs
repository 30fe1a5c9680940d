//! A store written before a migration is carried through it: postings kept in their own table
//! move into the log's rows, and stay readable as the `postings` view.

use cashier_store_sqlite::SqliteStore;

#[test]
fn postings_move_into_the_log_with_their_values() {
    let dir = std::env::temp_dir().join(format!("cashier-migrations-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("old.db");
    {
        let old = rusqlite::Connection::open(&path).unwrap();
        for sql in [
            include_str!("../migrations/001_ledger.sql"),
            include_str!("../migrations/002_api_keys.sql"),
            include_str!("../migrations/003_account_emails.sql"),
        ] {
            old.execute_batch(sql).unwrap();
        }
        old.execute_batch(
            "PRAGMA user_version = 3;
             INSERT INTO events (seq, ulid, at, kind) VALUES (1, x'01', 10, 'transfer_created'), (2, x'02', 11, 'journal_created');
             INSERT INTO postings (seq, asset, units, from_book, to_book) VALUES (1, 'cash:USD', 250, x'aa', x'bb');",
        )
        .unwrap();
    }
    let store = SqliteStore::open(&path).expect("the old store opens and migrates");
    let db = store.connection();
    let kind: String = db.query_row("SELECT type FROM sqlite_master WHERE name = 'postings'", [], |r| r.get(0)).unwrap();
    assert_eq!(kind, "view");
    type Posting = (i64, String, i64, Vec<u8>, Vec<u8>);
    let rows: Vec<Posting> = db
        .prepare("SELECT seq, asset, units, from_book, to_book FROM postings")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(rows, vec![(1, "cash:USD".to_owned(), 250, vec![0xaa], vec![0xbb])]);
    let moveless: Option<i64> = db.query_row("SELECT units FROM events WHERE seq = 2", [], |r| r.get(0)).unwrap();
    assert_eq!(moveless, None, "an event that moved nothing has no posting");
    drop(store);
    let _ = std::fs::remove_dir_all(&dir);
}
