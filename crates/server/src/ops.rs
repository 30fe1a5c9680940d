//! For operators: health, readiness and Prometheus metrics.

use crate::api::{schema, Access, Api, Op, Reply};
use crate::{ApiError, App};
use axum::extract::{Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Json;
use cashier_core::JournalStatus;
use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

/// Counters of HTTP traffic, for `/metrics`.
#[derive(Debug, Default)]
pub struct HttpStats {
    /// Requests answered, by status class: 2xx, 3xx, 4xx, 5xx.
    pub by_class: [AtomicU64; 4],
    pub latency_us_total: AtomicU64,
}

/// Counts every request and its latency, and puts any bare error answer (axum's own, such as an
/// oversized body or a wrong method) into the error envelope.
pub async fn observe(State(app): State<Arc<App>>, mut request: Request, next: Next) -> Response {
    let started = Instant::now();
    // What the log line needs is copied only when that line is written.
    let logged = tracing::enabled!(target: "cashier::http", tracing::Level::INFO);
    let request_line = logged.then(|| (request.method().clone(), request.uri().path().to_owned()));
    let quota = crate::limits::QuotaSlot::default();
    request.extensions_mut().insert(quota.clone());
    let mut response = match unsupported_media(&request) {
        Some(refusal) => refusal.into_response(),
        None => next.run(request).await,
    };
    let status = response.status();
    let content_type = response.headers().get(header::CONTENT_TYPE).map_or(&b""[..], |v| v.as_bytes());
    let bare = !content_type.starts_with(b"application/json")
        && !content_type.starts_with(b"text/event-stream")
        && !content_type.starts_with(b"text/html");
    if status.as_u16() >= 400 && bare {
        let (reason, message) = match status {
            StatusCode::PAYLOAD_TOO_LARGE => ("body_too_large", format!("the body is larger than {} bytes", crate::BODY_BYTES_MAX)),
            StatusCode::METHOD_NOT_ALLOWED => ("method_not_allowed", "this endpoint does not take that method".to_owned()),
            _ => ("bad_request", status.canonical_reason().unwrap_or("bad request").to_owned()),
        };
        response = ApiError::new(status, reason, message).into_response();
    }
    if let Some(q) = quota.get() {
        let headers = response.headers_mut();
        for (name, value) in
            [("x-ratelimit-limit", u64::from(q.limit)), ("x-ratelimit-remaining", u64::from(q.remaining)), ("x-ratelimit-reset", q.reset)]
        {
            headers.insert(name, value.into());
        }
    }
    if let Some(class) = (status.as_u16() / 100).checked_sub(2).filter(|c| *c < 4) {
        app.http.by_class[usize::from(class)].fetch_add(1, Ordering::Relaxed);
    }
    let micros = started.elapsed().as_micros() as u64;
    app.http.latency_us_total.fetch_add(micros, Ordering::Relaxed);
    if let Some((method, path)) = request_line {
        tracing::info!(target: "cashier::http", %method, path, status = status.as_u16(), micros, "request");
    }
    response
}

/// A write to the API (`POST`, `PUT`, `PATCH` under `/v1`, `/v2` or `/admin`) whose
/// `Content-Type` is not `application/json`, body or not, is refused with a 415: a browser's
/// cross-site `<form>` (or a bodiless `fetch`) cannot send that type, so cached credentials
/// cannot be used to write. The console's forms carry CSRF tokens instead.
fn unsupported_media(request: &Request) -> Option<ApiError> {
    use axum::http::Method;
    let write = matches!(*request.method(), Method::POST | Method::PUT | Method::PATCH);
    let path = request.uri().path();
    let api = ["/v1/", "/v2/", "/v2beta1/", "/admin/"].iter().any(|prefix| path.starts_with(prefix));
    if !write || !api {
        return None;
    }
    let content_type = request.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    let media = content_type.split(';').next().unwrap_or("").trim();
    if media.eq_ignore_ascii_case("application/json") {
        return None;
    }
    let sent = if content_type.is_empty() { "none".to_owned() } else { format!("{content_type:?}") };
    let message = format!("a write's body must be sent as Content-Type: application/json (this one was {sent})");
    Some(ApiError::new(StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type", message))
}

pub fn routes(api: Api) -> Api {
    api.section("Health", Access::Public)
        .route(Op::get("/healthz", "getHealth", "The process is up.").json(schema("Health")), get_health)
        .route(
            Op::get("/readyz", "getReadiness", "The ledger takes writes; 503 while the store is failing.").json(schema("Health")),
            get_readiness,
        )
        .route(
            Op::get("/metrics", "getMetrics", "Prometheus metrics: requests, latency, sequencer batches, commits, queue depth.")
                .reply(Reply::Text("text/plain")),
            get_metrics,
        )
}

/// The process is up.
async fn get_health() -> Json<serde_json::Value> {
    Json(serde_json::json!({"status": "ok"}))
}

/// A commit, or a read the next command needs, that the store has not answered for this long
/// makes the server not ready: the database stopped answering (its primary hangs, or the network
/// to it does) without closing the connection, and writes stand still until it answers or fails.
pub const STORE_STALLED: std::time::Duration = std::time::Duration::from_secs(3);

/// The ledger takes writes: the store is committing.
async fn get_readiness(State(app): State<Arc<App>>) -> Result<Json<serde_json::Value>, ApiError> {
    if app.sequencer.stats().stopped.load(Ordering::SeqCst) {
        return Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            "the store is failing; writes are stopped while the ledger reloads",
        ));
    }
    if let Some(waited) = app.sequencer.stats().store_waiting().filter(|w| *w >= STORE_STALLED) {
        return Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            format!("the store has not answered the writer for {:.1} s; writes stand still until it does", waited.as_secs_f64()),
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
        (
            "cashier_store_refusals_total",
            "counter",
            "Commits the store refused for their content, each narrowed to the command at fault.",
            load(&s.store_refusals) as f64,
        ),
        (
            "cashier_sequencer_commands_refused_total",
            "counter",
            "Commands whose rows the store refused alone: answered 422 store_refused.",
            load(&s.commands_refused) as f64,
        ),
        ("cashier_sequencer_batch_size", "gauge", "Commands in the last committed batch.", load(&s.batch_size_last) as f64),
        ("cashier_sequencer_batch_size_max", "gauge", "Commands in the largest committed batch.", load(&s.batch_size_max) as f64),
        ("cashier_sequencer_queue_depth", "gauge", "Commands submitted and not yet taken off the queue.", load(&s.queue_depth) as f64),
        (
            "cashier_journals_resident",
            "gauge",
            "Journals in the sequencer's memory: those still moving, and recent settled ones.",
            load(&s.journals_resident) as f64,
        ),
        (
            "cashier_journals_read_back_total",
            "counter",
            "Settled journals read back from the store for a command that named them.",
            load(&s.journals_read_back) as f64,
        ),
        ("cashier_ledger_last_seq", "gauge", "The last committed event's sequence number.", load(&s.last_seq) as f64),
        ("cashier_ledger_writable", "gauge", "1 while the ledger takes writes.", if s.stopped.load(Ordering::SeqCst) { 0.0 } else { 1.0 }),
        (
            "cashier_store_waiting_seconds",
            "gauge",
            "How long the writer has waited for the store: a commit, or a read a command needs (0: it is not waiting).",
            s.store_waiting().map_or(0.0, |w| w.as_secs_f64()),
        ),
    ];
    let mut text = String::new();
    for (name, kind, help, value) in metrics {
        let _ = writeln!(text, "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}");
    }
    let _ = writeln!(
        text,
        "# HELP cashier_http_requests_total HTTP requests answered, by status class.\n# TYPE cashier_http_requests_total counter"
    );
    for (i, class) in ["2xx", "3xx", "4xx", "5xx"].iter().enumerate() {
        let _ = writeln!(text, "cashier_http_requests_total{{class=\"{class}\"}} {}", load(&app.http.by_class[i]));
    }
    let _ = writeln!(
        text,
        "# HELP cashier_journals_waiting Journals waiting in a status, as committed.\n# TYPE cashier_journals_waiting gauge"
    );
    let statuses = [JournalStatus::Pending, JournalStatus::Queued, JournalStatus::SentToClearing];
    let waiting = app.sequencer.read(|state| statuses.map(|status| state.waiting_count(status)));
    for (status, count) in statuses.iter().zip(waiting) {
        let _ = writeln!(text, "cashier_journals_waiting{{status=\"{}\"}} {count}", status.as_str());
    }
    let seconds = load(&app.http.latency_us_total) as f64 / 1e6;
    let _ = writeln!(text, "# HELP cashier_http_request_duration_seconds_sum Time spent answering requests, in seconds.");
    let _ = writeln!(text, "# TYPE cashier_http_request_duration_seconds_sum counter\ncashier_http_request_duration_seconds_sum {seconds}");
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], text)
}
