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

async fn pay(app: &TestApp, amount: &str) -> String {
    let body = json!({"entry_type": "JNLC", "from_account": app.id("firm_account_id"), "to_account": app.customer(0), "amount": amount});
    let (_, j) = read(app.as_correspondent(Method::POST, "/v1/journals").json(&body).send().await.unwrap()).await;
    j["id"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn replay_then_live_then_resume() {
    let app = TestApp::spawn("events").await;
    let (k, s) = key(&app);
    let first = pay(&app, "1").await;
    let second = pay(&app, "2").await;
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
    let (_, e2) = stream.next().await.unwrap();
    assert_eq!(e2["journal_id"], second.as_str());
    let third = pay(&app, "3").await;
    let (_, e3) = stream.next().await.expect("live events follow the replay");
    assert_eq!(e3["journal_id"], third.as_str());
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
    pay(&app, "1").await;
    let (status, mut theirs) = Stream::open(&app, "/v1/events/journals/status?since_id=1", (&k2, &s2), None).await;
    assert_eq!(status, 200);
    pay(&app, "2").await;
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
