//! What every benchmark compares against: the disk's fsync latency, and the row-locking
//! baseline (`pgbench` with the hot-firm-account script). Shared by `cashier-store-bench` and
//! `cashier bench --compare`.

use hdrhistogram::Histogram;
use std::path::Path;
use std::time::{Duration, Instant};

/// Writes 4 KiB and fdatasyncs it, for a second: the disk's commit latency floor.
pub fn fsync_probe(dir: &Path) -> (u64, u64) {
    use std::os::unix::fs::FileExt;
    std::fs::create_dir_all(dir).unwrap();
    let path = dir.join("fsync-probe");
    let file = std::fs::OpenOptions::new().create(true).write(true).truncate(true).open(&path).unwrap();
    let mut h = Histogram::<u64>::new(3).unwrap();
    let block = vec![7u8; 4096];
    let started = Instant::now();
    let mut offset = 0;
    while started.elapsed() < Duration::from_secs(1) {
        let t = Instant::now();
        file.write_all_at(&block, offset).unwrap();
        file.sync_data().unwrap();
        h.record(t.elapsed().as_micros() as u64).unwrap();
        offset = (offset + 4096) % (1 << 20);
    }
    let _ = std::fs::remove_file(path);
    (h.value_at_quantile(0.5), h.value_at_quantile(0.99))
}

/// The row-locking ledger, `pgbench` against PostgreSQL at `url` for `seconds`: every
/// transaction updates the one firm row, a random one of `customers` customer rows, and inserts a
/// journal row. Clients beyond the server's connection limit are capped to it. Returns the
/// clients used and transactions per second.
pub fn pgbench(url: &str, dir: &Path, clients: usize, seconds: u64, customers: usize) -> Option<(usize, f64)> {
    let mut admin = postgres::Client::connect(url, postgres::NoTls).ok()?;
    let max: i64 = admin.query_one("SELECT current_setting('max_connections')::int8", &[]).ok()?.get(0);
    let clients = clients.min(max as usize - 10);
    admin
        .batch_execute(&format!(
            "SET client_min_messages = warning; DROP SCHEMA IF EXISTS rowlock CASCADE; CREATE SCHEMA rowlock;
             CREATE TABLE rowlock.accounts (id int8 PRIMARY KEY, balance int8 NOT NULL);
             INSERT INTO rowlock.accounts SELECT g, 0 FROM generate_series(0, {customers}) g;
             UPDATE rowlock.accounts SET balance = 1000000000000 WHERE id = 0;
             CREATE TABLE rowlock.journals (id bigserial PRIMARY KEY, from_id int8 NOT NULL, to_id int8 NOT NULL, amount int8 NOT NULL, created_at timestamptz NOT NULL);"
        ))
        .ok()?;
    let script = dir.join("rowlock.sql");
    std::fs::write(
        &script,
        format!(
            "\\set customer random(1, {customers})
BEGIN;
UPDATE rowlock.accounts SET balance = balance - 1 WHERE id = 0;
UPDATE rowlock.accounts SET balance = balance + 1 WHERE id = :customer;
INSERT INTO rowlock.journals (from_id, to_id, amount, created_at) VALUES (0, :customer, 1, now());
END;
"
        ),
    )
    .ok()?;
    let output = std::process::Command::new("pgbench")
        .args(["-n", "-f", &script.display().to_string(), "-c", &clients.to_string(), "-j", "2", "-T", &seconds.to_string(), url])
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&output.stdout);
    let tps = text.lines().find(|l| l.starts_with("tps = "))?.split_whitespace().nth(2)?.parse().ok()?;
    let _ = admin.batch_execute("SET client_min_messages = warning; DROP SCHEMA IF EXISTS rowlock CASCADE");
    Some((clients, tps))
}
