//! `cashier bench` as a process: it starts its own server, runs a mixed workload (cash and
//! shares, hot and cold firm accounts, batches), and writes its results and chart.

use std::process::Command;

/// Runs `cashier bench` with `workload` and answers its report, its chart and its output.
fn bench(name: &str, workload: &[&str]) -> (serde_json::Value, String, String) {
    let out = std::env::temp_dir().join(format!("cashier-bench-test-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&out);
    let run = Command::new(env!("CARGO_BIN_EXE_cashier"))
        .args(["bench", "--quiet", "--clients", "4", "--seconds", "1", "--customers", "5", "--cold-firms", "2"])
        .args(workload)
        .arg("--out")
        .arg(&out)
        .output()
        .expect("cashier bench runs");
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert!(run.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&run.stderr));
    assert!(stdout.contains("errors: none"), "{stdout}");
    let file = |ext: &str| {
        let entry = std::fs::read_dir(&out).unwrap().map(|e| e.unwrap().path()).find(|p| p.extension().is_some_and(|e| e == ext));
        std::fs::read_to_string(entry.unwrap_or_else(|| panic!("a .{ext} file in {}", out.display()))).unwrap()
    };
    let report: serde_json::Value = serde_json::from_str(&file("json")).unwrap();
    let chart = file("svg");
    // The PNG beside it, rendered from the same chart.
    let png = std::fs::read_dir(&out).unwrap().map(|e| e.unwrap().path()).find(|p| p.extension().is_some_and(|e| e == "png"));
    let png = std::fs::read(png.unwrap_or_else(|| panic!("a .png file in {}", out.display()))).unwrap();
    assert!(png.starts_with(b"\x89PNG\r\n\x1a\n") && png.len() > 10_000, "{} bytes", png.len());
    let _ = std::fs::remove_dir_all(&out);
    (report, chart, stdout.into_owned())
}

#[test]
fn bench_runs_batches_and_a_mixed_workload_and_writes_its_results() {
    let (report, chart, _) = bench("batches", &["--batch", "3", "--hot-share", "0.5"]);
    let journals = report["journals"].as_u64().unwrap();
    assert!(journals > 0 && journals % 3 == 0, "whole batches of three: {report}");
    assert_eq!(report["requests"].as_u64().unwrap() * 3, journals);
    let latency = &report["latency_ms"];
    assert!(latency["p50"].as_f64().unwrap() <= latency["p99"].as_f64().unwrap());
    assert!(latency["p99"].as_f64().unwrap() <= latency["max"].as_f64().unwrap());
    assert_eq!(report["workload"]["store"], "sqlite");
    let timeline_total: u64 = report["timeline"].as_array().unwrap().iter().map(|s| s["journals"].as_u64().unwrap()).sum();
    assert_eq!(timeline_total, journals, "the timeline accounts for every journal");
    assert!(chart.starts_with("<svg") && chart.contains("polyline"));
    // Attributable on its own: the workload, the date and the commit are printed on it.
    assert!(chart.contains("batch 3") && chart.contains("sqlite store") && chart.contains(" UTC · commit "), "{chart}");
    assert!(report["commit"].is_string() && report["date"].is_string(), "{report}");
    // Reads alone, and mixed with writes: counted apart from the journals written.
    let (reads, chart, stdout) = bench("reads", &["--reads", "1"]);
    assert_eq!(reads["journals"], 0, "{reads}");
    assert!(reads["reads"]["answered"].as_u64().unwrap() > 10 && reads["errors"].as_object().unwrap().is_empty(), "{reads}");
    assert!(stdout.contains("reads: ") && chart.contains("; reads "), "{stdout}");
    let (both, _, _) = bench("reads-and-writes", &["--reads", "0.5"]);
    assert!(both["journals"].as_u64().unwrap() > 0 && both["reads"]["answered"].as_u64().unwrap() > 0, "{both}");
    let (mixed, _, _) = bench("mixed", &["--jnls-share", "0.5", "--hot-share", "0.5", "--rate", "200"]);
    let requests = mixed["requests"].as_u64().unwrap();
    assert!((100..=201).contains(&requests), "the open loop keeps to its rate: {mixed}");
    assert_eq!((mixed["journals"].as_u64(), &mixed["workload"]["loop"]), (Some(requests), &serde_json::json!("open")));
    // On a correspondent of the v2 flow, set up for the run.
    let (v2, _, _) = bench("v2", &["--flow", "v2", "--hot-share", "0.5"]);
    assert_eq!(v2["workload"]["flow"], "v2");
    assert!(v2["journals"].as_u64().unwrap() > 0, "{v2}");
}

#[test]
fn compare_runs_both_stores_and_the_row_locking_baseline() {
    let url = std::env::var("CASHIER_TEST_DATABASE_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());
    if postgres::Client::connect(&url, postgres::NoTls).is_err() || Command::new("pgbench").arg("--version").output().is_err() {
        assert_ne!(std::env::var("CI").as_deref(), Ok("true"), "CI=true needs PostgreSQL and pgbench");
        eprintln!("*** PostgreSQL or pgbench unavailable: the --compare test is SKIPPED ***");
        return;
    }
    let out = std::env::temp_dir().join(format!("cashier-bench-test-compare-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&out);
    let run = Command::new(env!("CARGO_BIN_EXE_cashier"))
        .args(["bench", "--compare", "--quiet", "--clients", "4", "--seconds", "1", "--customers", "5", "--database-url", &url, "--out"])
        .arg(&out)
        .output()
        .expect("cashier bench runs");
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert!(run.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&run.stderr));
    assert!(
        stdout.contains("fsync probe") && stdout.contains("| Cashier, SQLite |") && stdout.contains("| Cashier, PostgreSQL |"),
        "{stdout}"
    );
    let path = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.file_name().unwrap().to_string_lossy().starts_with("compare-"))
        .unwrap();
    let comparison: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    assert_eq!(
        (comparison["sqlite"]["workload"]["store"].as_str(), comparison["postgres"]["workload"]["store"].as_str()),
        (Some("sqlite"), Some("postgres"))
    );
    assert!(comparison["sqlite"]["journals"].as_u64().unwrap() > 0 && comparison["postgres"]["journals"].as_u64().unwrap() > 0);
    let tps = comparison["pgbench"]["transactions_per_second"].as_f64().unwrap();
    let ratio = comparison["ratios"]["sqlite_to_pgbench"].as_f64().unwrap();
    // The ratio counts journals through clearing: at most the rate accepted, at most the rate
    // sustained.
    let through = comparison["through_clearing"]["sqlite"].as_f64().unwrap();
    assert!(tps > 0.0 && (ratio - through / tps).abs() < 1e-9);
    assert!(through > 0.0 && through <= comparison["sqlite"]["journals_per_second"].as_f64().unwrap());
    if let Some(sustained) = comparison["sqlite"]["clearing"]["sustained_journals_per_second"].as_f64() {
        assert!(through <= sustained);
    }
    assert!(comparison["fsync_us"]["p99"].as_u64().unwrap() >= comparison["fsync_us"]["p50"].as_u64().unwrap());
    // The run's own database is gone.
    let mut admin = postgres::Client::connect(&url, postgres::NoTls).unwrap();
    let left: i64 = admin.query_one("SELECT count(*) FROM pg_database WHERE datname LIKE 'cashier_bench_%'", &[]).unwrap().get(0);
    assert_eq!(left, 0);
    let _ = std::fs::remove_dir_all(&out);
}
