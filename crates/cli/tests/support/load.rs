//! A bank's load on a real `cashier serve` over HTTP, for the fault tests (`crash_http.rs`,
//! `pg_ha.rs`): clients send journals and batches under idempotency keys, remember what was
//! acknowledged and what was left in doubt (no answer, or 503), and after the fault the doubtful
//! ones are sent again; then every acknowledged key took effect exactly once.
#![allow(dead_code)]

use crate::books;
use rand::{Rng, SeedableRng};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A server process, killed when dropped, so that a failing test leaves none behind.
pub struct Server(pub Child);

impl Server {
    pub fn kill(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}

/// `cashier serve` on `port` and `dir`, its log in `dir/../<dir name>.log`.
pub fn spawn(dir: &std::path::Path, port: u16, database_url: Option<&str>) -> Server {
    let mut command = Command::new(env!("CARGO_BIN_EXE_cashier"));
    command.args(["serve", "--listen", &format!("127.0.0.1:{port}"), "--data-dir"]).arg(dir).env("RUST_LOG", "error").stdout(Stdio::null());
    let log = dir.with_extension("log");
    if let Ok(file) = std::fs::OpenOptions::new().create(true).append(true).open(&log) {
        command.stderr(file);
    }
    // The checks read every journal in one list; a long run makes more than the default bound.
    command.args(["--list-results-max", "10000000"]);
    if let Some(url) = database_url {
        command.args(["--database-url", url]);
    }
    Server(command.spawn().expect("cashier serve starts"))
}

pub async fn wait_ready(base: &str, within: Duration) {
    let deadline = Instant::now() + within;
    while !reqwest::get(format!("{base}/readyz")).await.is_ok_and(|r| r.status().is_success()) {
        assert!(Instant::now() < deadline, "the server did not become ready within {within:?}");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// A request the clients sent: where, what, and under which key.
#[derive(Clone)]
pub struct Sent {
    pub key: String,
    pub path: &'static str,
    pub body: Value,
}

#[derive(Default)]
pub struct Seen {
    /// Per key, the journals its acknowledged request created.
    pub acknowledged: BTreeMap<String, Vec<String>>,
    /// Sent, with no answer or with 503: the outcome is unknown.
    pub in_doubt: Vec<Sent>,
    /// Requests sent again after a fault because it took their answer.
    pub retried: usize,
    /// When each acknowledgement arrived.
    pub acks: Vec<Instant>,
    /// Answers of 503 `outcome_unknown`: the commit failed and the outcome is settled by a retry.
    pub outcome_unknown: usize,
}

fn ids(answer: &Value) -> Vec<String> {
    match answer {
        Value::Array(list) => list.iter().map(|j| j["id"].as_str().unwrap().to_owned()).collect(),
        one => vec![one["id"].as_str().unwrap().to_owned()],
    }
}

pub async fn send(http: &reqwest::Client, base: &str, key: &(String, String), sent: &Sent) -> Result<(u16, Value), reqwest::Error> {
    let response = http
        .post(format!("{base}{}", sent.path))
        .basic_auth(&key.0, Some(&key.1))
        .header("Idempotency-Key", &sent.key)
        .json(&sent.body)
        .send()
        .await?;
    let status = response.status().as_u16();
    Ok((status, response.json().await?))
}

/// The sandbox's accounts and keys, read from `dir/sandbox.json`.
pub struct Bank {
    pub books: books::Books,
    pub firm: String,
    pub customers: Vec<String>,
    pub key: (String, String),
}

impl Bank {
    pub fn from_dir(base: &str, dir: &std::path::Path) -> Bank {
        let sandbox: Value = serde_json::from_str(&std::fs::read_to_string(dir.join("sandbox.json")).unwrap()).unwrap();
        let books = books::Books::from_sandbox(base, &sandbox);
        let firm = sandbox["firm_account_id"].as_str().unwrap().to_owned();
        let customers = sandbox["customer_account_ids"].as_array().unwrap().iter().map(|c| c.as_str().unwrap().to_owned()).collect();
        let key = books.correspondent.clone();
        Bank { books, firm, customers, key }
    }

    pub fn accounts(&self) -> Vec<String> {
        std::iter::once(self.firm.clone()).chain(self.customers.iter().cloned()).collect()
    }
}

/// Clients sending until stopped.
pub struct Load {
    stop: Arc<AtomicBool>,
    clients: Vec<tokio::task::JoinHandle<()>>,
}

impl Load {
    /// `clients` clients, each sending a journal (70%) or a batch to every customer, one at a
    /// time; a 4xx fails the test.
    pub fn start(bank: &Bank, clients: usize, round: usize, seen: &Arc<Mutex<Seen>>) -> Load {
        let stop = Arc::new(AtomicBool::new(false));
        let clients = (0..clients)
            .map(|client| {
                let (http, base, key, seen, stop) = (bank.books.http.clone(), bank.books.base.clone(), bank.key.clone(), seen.clone(), stop.clone());
                let (firm, customers) = (bank.firm.clone(), bank.customers.clone());
                tokio::spawn(async move {
                    let mut rng = rand::rngs::StdRng::from_os_rng();
                    let mut n = 0;
                    while !stop.load(Ordering::SeqCst) {
                        n += 1;
                        let tag = format!("load-{round}-{client}-{n}-{:016x}", rng.random::<u64>());
                        let amount = format!("0.{:02}", rng.random_range(1..100));
                        let customer = &customers[rng.random_range(0..customers.len())];
                        let sent = if rng.random_bool(0.7) {
                            let body = json!({"entry_type": "JNLC", "from_account": firm, "to_account": customer, "amount": amount, "description": tag});
                            Sent { key: tag, path: "/v1/journals", body }
                        } else {
                            let entries: Vec<Value> =
                                customers.iter().map(|c| json!({"to_account": c, "amount": amount, "description": tag})).collect();
                            Sent { key: tag, path: "/v1/journals/batch", body: json!({"entry_type": "JNLC", "from_account": firm, "entries": entries}) }
                        };
                        match send(&http, &base, &key, &sent).await {
                            Ok((200, answer)) => {
                                let mut seen = seen.lock().unwrap();
                                seen.acknowledged.insert(sent.key.clone(), ids(&answer));
                                seen.acks.push(Instant::now());
                            }
                            Ok((status, answer)) if (400..500).contains(&status) => panic!("{}: {status} {answer}", sent.path),
                            // No answer, or the server going down or not ready: unknown.
                            answer => {
                                {
                                    let mut seen = seen.lock().unwrap();
                                    if matches!(&answer, Ok((503, body)) if body["reason"] == "outcome_unknown") {
                                        seen.outcome_unknown += 1;
                                    }
                                    seen.in_doubt.push(sent);
                                }
                                tokio::time::sleep(Duration::from_millis(20)).await;
                            }
                        }
                    }
                })
            })
            .collect();
        Load { stop, clients }
    }

    pub async fn stop(self) {
        self.stop.store(true, Ordering::SeqCst);
        for c in self.clients {
            c.await.expect("a client ended without a panic");
        }
    }
}

/// Sends again every request whose answer was lost, under its key: each is answered once, with
/// the journals it made before the fault or makes now. Then the books are verified, and every
/// acknowledged key took effect exactly once, and no journal exists that nobody acknowledged.
pub async fn settle_and_check(bank: &Bank, seen: &Arc<Mutex<Seen>>, shares_before: &std::collections::HashMap<(String, String), i64>, what: &str) {
    let in_doubt = std::mem::take(&mut seen.lock().unwrap().in_doubt);
    seen.lock().unwrap().retried += in_doubt.len();
    for sent in in_doubt {
        let (status, answer) = send(&bank.books.http, &bank.books.base, &bank.key, &sent).await.expect("the server answers a retry");
        assert_eq!(status, 200, "{what}: retry of {}: {answer}", sent.key);
        seen.lock().unwrap().acknowledged.insert(sent.key.clone(), ids(&answer));
    }
    let verified = bank.books.verify(&bank.accounts(), shares_before).await;
    let by_tag = books::by_description(&verified.journals);
    let seen = seen.lock().unwrap();
    for (key, created) in &seen.acknowledged {
        assert_eq!(by_tag.get(key).copied().unwrap_or(0), created.len(), "{what}: key {key} took effect exactly once");
    }
    let acknowledged: usize = seen.acknowledged.values().map(Vec::len).sum();
    assert_eq!(verified.journals.len(), acknowledged, "{what}: no journal that nobody acknowledged");
}

/// The longest time between two acknowledgements at or after `from` (or from `from` to the
/// first): how long writes stood still.
pub fn longest_stall(seen: &Seen, from: Instant) -> Duration {
    let mut last = from;
    let mut longest = Duration::ZERO;
    let mut acks: Vec<Instant> = seen.acks.iter().copied().filter(|t| *t >= from).collect();
    acks.sort();
    for t in acks {
        longest = longest.max(t - last);
        last = t;
    }
    longest
}
