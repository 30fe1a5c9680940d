//! Loads and verifies a SQLite store (one `fill` made, say) and reports how long that took and
//! the peak resident memory: `cargo run --release -p cashier-store-bench --example load -- DATA_DIR`

use cashier_store::Store;
use std::time::Instant;

fn main() {
    let dir = std::path::PathBuf::from(std::env::args().nth(1).expect("DATA_DIR"));
    let started = Instant::now();
    let loaded = cashier_store_sqlite::SqliteStore::open_in(&dir).unwrap().load().unwrap().expect("a ledger");
    let peak = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with("VmHWM")).map(str::to_owned))
        .unwrap_or_default();
    println!("loaded and verified {} events in {:.1} s; {peak}", loaded.last_seq, started.elapsed().as_secs_f64());
}
