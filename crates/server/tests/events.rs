//! The journal event streams over a raw HTTP connection: replay, then live; resume; the end of
//! a window; isolation; bad cursors.

mod common;

use base64::Engine;
use common::{read, TestApp};
use reqwest::Method;
use serde_json::{json, Value};
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

/// An open event stream: reads `(id, data)` frames as they come.
struct Stream {
    lines: tokio::io::Lines<BufReader<TcpStream>>,
}

impl Stream {
    async fn open(app: &TestApp, path: &str, key: (&str, &str), last_event_id: Option<&str>) -> (u16, Stream) {
        let addr = app.running.as_ref().unwrap().addr;
        let mut tcp = TcpStream::connect(addr).await.unwrap();
        let auth = base64::engine::general_purpose::STANDARD.encode(format!("{}:{}", key.0, key.1));
        let resume = last_event_id.map(|id| format!("Last-Event-ID: {id}\r\n")).unwrap_or_default();
        let request =
            format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Basic {auth}\r\nAccept: text/event-stream\r\n{resume}\r\n");
        tcp.write_all(request.as_bytes()).await.unwrap();
        let mut lines = BufReader::new(tcp).lines();
        let status_line = lines.next_line().await.unwrap().unwrap();
        let status = status_line.split(' ').nth(1).unwrap().parse().unwrap();
        while let Some(line) = lines.next_line().await.unwrap() {
            if line.is_empty() {
                break;
            }
        }
        (status, Stream { lines })
    }

    /// The next event, or `None` when the stream ends or nothing comes for a while.
    async fn next(&mut self) -> Option<(String, Value)> {
        let (mut id, mut data) = (None, None);
        loop {
            let line = tokio::time::timeout(Duration::from_secs(5), self.lines.next_line()).await.ok()?.ok()??;
            if let Some(v) = line.strip_prefix("id:") {
                id = Some(v.trim().to_owned());
            } else if let Some(v) = line.strip_prefix("data:") {
                data = Some(serde_json::from_str(v.trim()).unwrap());
            } else if line.is_empty() {
                if let (Some(id), Some(data)) = (id.take(), data.take()) {
                    return Some((id, data));
                }
            }
            // chunk-size lines and comments are skipped
        }
    }
}

fn key(app: &TestApp) -> (String, String) {
    (app.id("api_key"), app.id("api_secret"))
}

#[tokio::test]
async fn replay_then_live_then_resume() {
    let app = TestApp::spawn("events").await;
    let (k, s) = key(&app);
    let first = app.pay("1", "").await;
    let second = app.pay("2", "").await;
    let today = chrono_today();
    let (status, mut stream) = Stream::open(&app, &format!("/v2/events/journals/status?since={today}"), (&k, &s), None).await;
    assert_eq!(status, 200);
    let (id1, e1) = stream.next().await.expect("the first event is replayed");
    assert_eq!(
        (e1["journal_id"].as_str(), e1["status_from"].as_str(), e1["status_to"].as_str()),
        (Some(first.as_str()), Some(""), Some("queued"))
    );
    assert_eq!((e1["entry_type"].as_str(), e1["event_id"].as_str()), (Some("JNLC"), Some(id1.as_str())));
    assert_eq!(id1.len(), 26, "v2 ids are ULIDs");
    assert_eq!(e1["description"], "", "v2 events carry the journal's description");
    assert!(e1.get("idempotency_key").is_none(), "a journal made without a key has none: {e1}");
    let (_, e2) = stream.next().await.unwrap();
    assert_eq!(e2["journal_id"], second.as_str());
    let body = json!({"entry_type": "JNLC", "from_account": app.id("firm_account_id"), "to_account": app.customer(0), "amount": "3", "description": "third"});
    let keyed = app.as_correspondent(Method::POST, "/v1/journals").header("Idempotency-Key", "pay-3").json(&body);
    let (_, third) = read(keyed.send().await.unwrap()).await;
    let third = third["id"].as_str().unwrap().to_owned();
    let (_, e3) = stream.next().await.expect("live events follow the replay");
    assert_eq!(e3["journal_id"], third.as_str());
    assert_eq!(
        (e3["idempotency_key"].as_str(), e3["idempotency_key_type"].as_str(), e3["description"].as_str()),
        (Some("pay-3"), Some("single"), Some("third")),
        "clients match events to their requests by these: {e3}"
    );
    let batch = json!({"entry_type": "JNLC", "from_account": app.id("firm_account_id"), "entries": [{"to_account": app.customer(1), "amount": "4"}]});
    let keyed = app.as_correspondent(Method::POST, "/v1/journals/batch").header("Idempotency-Key", "batch-4").json(&batch);
    assert_eq!(read(keyed.send().await.unwrap()).await.0, 200);
    let (_, e4) = stream.next().await.unwrap();
    assert_eq!((e4["idempotency_key"].as_str(), e4["idempotency_key_type"].as_str()), (Some("batch-4"), Some("batch")), "{e4}");
    // v1: integer ids; Last-Event-ID resumes after the event named.
    let (_, mut v1) = Stream::open(&app, "/v1/events/journals/status?since_id=1", (&k, &s), None).await;
    let mut seen = Vec::new();
    while let Some((id, e)) = v1.next().await {
        assert_eq!(e["event_id"].as_u64(), id.parse().ok(), "v1 ids are integers");
        seen.push((id, e["journal_id"].as_str().unwrap().to_owned()));
        if seen.len() == 3 {
            break;
        }
    }
    assert_eq!(seen.iter().map(|(_, j)| j.clone()).collect::<Vec<_>>(), vec![first.clone(), second.clone(), third.clone()]);
    let (_, mut resumed) = Stream::open(&app, "/v1/events/journals/status", (&k, &s), Some(&seen[0].0)).await;
    let (_, next) = resumed.next().await.unwrap();
    assert_eq!(next["journal_id"], second.as_str(), "resumes right after the last event seen");
    // until_id ends the stream once passed.
    let until = &seen[1].0;
    let (_, mut bounded) = Stream::open(&app, &format!("/v1/events/journals/status?since_id=1&until_id={until}"), (&k, &s), None).await;
    let got: Vec<Value> = std::iter::from_fn(|| None).collect();
    let mut got = got;
    while let Some((_, e)) = bounded.next().await {
        got.push(e);
    }
    assert_eq!(got.len(), 2, "the stream closed after until_id");
    app.stop().await;
}

#[tokio::test]
async fn streams_are_private_and_cursors_checked() {
    let app = TestApp::spawn("events-private").await;
    let (k2, s2) = app.other_correspondent().await;
    app.pay("1", "").await;
    let (status, mut theirs) = Stream::open(&app, "/v1/events/journals/status?since_id=1", (&k2, &s2), None).await;
    assert_eq!(status, 200);
    app.pay("2", "").await;
    assert!(theirs.next().await.is_none(), "another correspondent's stream shows none of it");
    let (k, s) = key(&app);
    for query in ["?until=2026-01-01", "?until_id=5", "?since=2026-01-01&since_id=1", "?since_id=abc", "?since=yesterday"] {
        let (status, _) = Stream::open(&app, &format!("/v1/events/journals/status{query}"), (&k, &s), None).await;
        assert_eq!(status, 400, "{query}");
    }
    let (status, _) = Stream::open(&app, "/v2/events/journals/status?since_id=123", (&k, &s), None).await;
    assert_eq!(status, 400, "v2 ids are ULIDs");
    app.stop().await;
}

fn chrono_today() -> String {
    let days = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() / 86_400;
    cashier_core::Date(days as i32).to_string()
}

/// Reads a response to its end: the events' `(id, journal id)` and the comments.
async fn read_to_end(lines: &mut tokio::io::Lines<BufReader<TcpStream>>) -> (Vec<(u64, String)>, Vec<String>) {
    let (mut events, mut comments, mut id) = (Vec::new(), Vec::new(), None);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while let Some(line) = tokio::time::timeout_at(deadline, lines.next_line()).await.expect("the stream ends").unwrap() {
        if let Some(v) = line.strip_prefix("id:") {
            id = Some(v.trim().parse::<u64>().unwrap());
        } else if let Some(v) = line.strip_prefix("data:") {
            let data: Value = serde_json::from_str(v.trim()).unwrap();
            events.push((id.take().expect("an id before its data"), data["journal_id"].as_str().unwrap().to_owned()));
        } else if let Some(comment) = line.strip_prefix(':') {
            comments.push(comment.trim().to_owned());
        }
    }
    (events, comments)
}

#[tokio::test]
async fn a_consumer_that_falls_behind_is_told_and_disconnected_and_resumes_without_loss() {
    let app = TestApp::spawn_with("events-slow", |c| cashier_server::Config { event_backlog: 2, event_buffer: 1, ..c }).await;
    let (k, s) = key(&app);
    let addr = app.running.as_ref().unwrap().addr;
    // A consumer with a small receive buffer that reads nothing for now.
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    let mut tcp = socket.connect(addr).await.unwrap();
    let auth = base64::engine::general_purpose::STANDARD.encode(format!("{k}:{s}"));
    let request =
        format!("GET /v1/events/journals/status HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Basic {auth}\r\nConnection: close\r\n\r\n");
    tcp.write_all(request.as_bytes()).await.unwrap();
    let mut lines = BufReader::new(tcp).lines();
    assert!(lines.next_line().await.unwrap().unwrap().contains(" 200 "));
    while !lines.next_line().await.unwrap().unwrap().is_empty() {}
    // Far more is committed, in more batches, than the consumer's backlog holds.
    let (firm, customers) = (app.id("firm_account_id"), [app.customer(0), app.customer(1)]);
    let mut created = std::collections::BTreeSet::new();
    for _ in 0..3 {
        let entries: Vec<Value> = (0..2_000).map(|i| json!({"to_account": customers[i % 2], "amount": "0.01"})).collect();
        let body = json!({"entry_type": "JNLC", "from_account": firm, "entries": entries});
        let (status, journals) = read(app.as_correspondent(Method::POST, "/v1/journals/batch").json(&body).send().await.unwrap()).await;
        assert_eq!(status, 200, "{journals}");
        created.extend(journals.as_array().unwrap().iter().map(|j| j["id"].as_str().unwrap().to_owned()));
    }
    for _ in 0..5 {
        created.insert(app.pay("0.01", "").await);
    }
    // It is told it fell behind and the stream ends; what it got came in order, nothing skipped.
    let (received, comments) = read_to_end(&mut lines).await;
    assert!(comments.iter().any(|c| c.contains("reading too slowly")), "the consumer is told: {comments:?}");
    assert!(received.len() < created.len(), "it fell behind: {} of {}", received.len(), created.len());
    assert!(received.windows(2).all(|w| w[0].0 < w[1].0), "in order");
    // Resuming after the last event it saw brings the rest, from the log.
    let last = received.last().map_or(0, |(id, _)| *id);
    let (_, mut resumed) = Stream::open(&app, &format!("/v1/events/journals/status?since_id={}", last + 1), (&k, &s), None).await;
    let mut seen: std::collections::BTreeSet<String> = received.into_iter().map(|(_, j)| j).collect();
    while seen.len() < created.len() {
        let (_, e) = resumed.next().await.expect("the rest is replayed");
        assert!(seen.insert(e["journal_id"].as_str().unwrap().to_owned()), "no event twice");
    }
    assert_eq!(seen, created, "every journal's event arrived exactly once");
    app.stop().await;
}
