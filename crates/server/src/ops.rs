//! For operators: health, readiness and Prometheus metrics.

use crate::{ApiError, App};
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use std::fmt::Write;
use std::sync::atomic::Ordering;
use std::sync::Arc;

pub fn router() -> Router<Arc<App>> {
    Router::new().route("/healthz", get(get_health)).route("/readyz", get(get_readiness)).route("/metrics", get(get_metrics))
}

/// The process is up.
async fn get_health() -> Json<serde_json::Value> {
    Json(serde_json::json!({"status": "ok"}))
}

/// The ledger takes writes: the store is committing.
async fn get_readiness(State(app): State<Arc<App>>) -> Result<Json<serde_json::Value>, ApiError> {
    if app.sequencer.stats().stopped.load(Ordering::SeqCst) {
        return Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            "the store is failing; writes are stopped while the ledger reloads",
        ));
    }
    Ok(Json(serde_json::json!({"status": "ready", "last_seq": app.sequencer.stats().last_seq.load(Ordering::SeqCst)})))
}

/// Prometheus text exposition of the sequencer's counters.
async fn get_metrics(State(app): State<Arc<App>>) -> impl IntoResponse {
    let s = app.sequencer.stats();
    let load = |counter: &std::sync::atomic::AtomicU64| counter.load(Ordering::Relaxed);
    let commits = load(&s.commits);
    let metrics: &[(&str, &str, &str, f64)] = &[
        ("cashier_sequencer_commands_total", "counter", "Commands taken off the queue.", load(&s.commands) as f64),
        ("cashier_sequencer_events_total", "counter", "Events committed.", load(&s.events) as f64),
        ("cashier_store_commits_total", "counter", "Store transactions committed.", commits as f64),
        (
            "cashier_store_commit_latency_seconds_sum",
            "counter",
            "Time spent committing, in seconds.",
            load(&s.commit_latency_us_total) as f64 / 1e6,
        ),
        (
            "cashier_store_commit_latency_seconds_max",
            "gauge",
            "The slowest commit so far, in seconds.",
            load(&s.commit_latency_us_max) as f64 / 1e6,
        ),
        ("cashier_store_failures_total", "counter", "Commits that failed.", load(&s.store_failures) as f64),
        ("cashier_sequencer_batch_size", "gauge", "Commands in the last committed batch.", load(&s.batch_size_last) as f64),
        ("cashier_sequencer_batch_size_max", "gauge", "Commands in the largest committed batch.", load(&s.batch_size_max) as f64),
        ("cashier_sequencer_queue_depth", "gauge", "Commands submitted and not yet taken off the queue.", load(&s.queue_depth) as f64),
        ("cashier_ledger_last_seq", "gauge", "The last committed event's sequence number.", load(&s.last_seq) as f64),
        ("cashier_ledger_writable", "gauge", "1 while the ledger takes writes.", if s.stopped.load(Ordering::SeqCst) { 0.0 } else { 1.0 }),
    ];
    let mut text = String::new();
    for (name, kind, help, value) in metrics {
        let _ = writeln!(text, "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}");
    }
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], text)
}
