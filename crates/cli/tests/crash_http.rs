//! Crash recovery under HTTP load: `cashier serve` is killed with SIGKILL at a random moment
//! while clients drive it over HTTP, then restarted on the same store, for several rounds and
//! both backends. Requests whose answer the kill swallowed are retried with their idempotency
//! key. After each restart the books are checked as the bank test checks them, and every
//! acknowledged request took effect exactly once.
//!
//! `CASHIER_CRASH_ROUNDS` (default 3) sets the rounds; RELIABILITY.md has the long run.

#[path = "../../server/tests/support/books.rs"]
mod books;

use rand::{Rng, SeedableRng};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::process::{Child, Command, Stdio};

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A server process, killed when dropped, so that a failing test leaves none behind.
struct Server(Child);

impl Server {
    fn kill(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}

fn spawn(dir: &std::path::Path, port: u16, database_url: Option<&str>) -> Server {
    let mut command = Command::new(env!("CARGO_BIN_EXE_cashier"));
    command.args(["serve", "--listen", &format!("127.0.0.1:{port}"), "--data-dir"]).arg(dir).env("RUST_LOG", "error").stdout(Stdio::null());
    // The checks read every journal in one list; a long run makes more than the default bound.
    command.args(["--list-results-max", "10000000"]);
    if let Some(url) = database_url {
        command.args(["--database-url", url]);
    }
    Server(command.spawn().expect("cashier serve starts"))
}

async fn wait_ready(base: &str) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !reqwest::get(format!("{base}/readyz")).await.is_ok_and(|r| r.status().is_success()) {
        assert!(Instant::now() < deadline, "the server did not come back");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// A request the clients sent: where, what, and under which key.
#[derive(Clone)]
struct Sent {
    key: String,
    path: &'static str,
    body: Value,
}

#[derive(Default)]
struct Seen {
    /// Per key, the journals its acknowledged request created.
    acknowledged: BTreeMap<String, Vec<String>>,
    /// Sent, with no answer: the kill came first.
    in_doubt: Vec<Sent>,
    /// Requests retried after a restart because the kill took their answer.
    retried: usize,
}

fn ids(answer: &Value) -> Vec<String> {
    match answer {
        Value::Array(list) => list.iter().map(|j| j["id"].as_str().unwrap().to_owned()).collect(),
        one => vec![one["id"].as_str().unwrap().to_owned()],
    }
}

async fn send(http: &reqwest::Client, base: &str, key: &(String, String), sent: &Sent) -> Result<(u16, Value), reqwest::Error> {
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

async fn rounds(name: &str, database_url: Option<String>) {
    let rounds: usize = std::env::var("CASHIER_CRASH_ROUNDS").ok().and_then(|s| s.parse().ok()).unwrap_or(3);
    let dir = std::env::temp_dir().join(format!("cashier-crash-http-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let base = format!("http://127.0.0.1:{port}");
    let mut child = spawn(&dir, port, database_url.as_deref());
    wait_ready(&base).await;
    let sandbox: Value = serde_json::from_str(&std::fs::read_to_string(dir.join("sandbox.json")).unwrap()).unwrap();
    let books = books::Books::from_sandbox(&base, &sandbox);
    let firm = sandbox["firm_account_id"].as_str().unwrap().to_owned();
    let customers: Vec<String> =
        sandbox["customer_account_ids"].as_array().unwrap().iter().map(|c| c.as_str().unwrap().to_owned()).collect();
    let accounts: Vec<String> = std::iter::once(firm.clone()).chain(customers.iter().cloned()).collect();
    let shares_before = books.positions(&accounts).await;
    let key = books.correspondent.clone();
    let seen = Arc::new(Mutex::new(Seen::default()));
    let mut killed_after = Vec::new();
    for round in 0..rounds {
        let stop = Arc::new(AtomicBool::new(false));
        let mut clients = Vec::new();
        for client in 0..8 {
            let (http, base, key, seen, stop) = (books.http.clone(), base.clone(), key.clone(), seen.clone(), stop.clone());
            let (firm, customers) = (firm.clone(), customers.clone());
            clients.push(tokio::spawn(async move {
                let mut rng = rand::rngs::StdRng::from_os_rng();
                let mut n = 0;
                while !stop.load(Ordering::SeqCst) {
                    n += 1;
                    let tag = format!("crash-{round}-{client}-{n}-{:016x}", rng.random::<u64>());
                    let amount = format!("0.{:02}", rng.random_range(1..100));
                    let customer = &customers[rng.random_range(0..customers.len())];
                    let sent = if rng.random_bool(0.7) {
                        let body = json!({"entry_type": "JNLC", "from_account": firm, "to_account": customer, "amount": amount, "description": tag});
                        Sent { key: tag, path: "/v1/journals", body }
                    } else {
                        let entries: Vec<Value> = customers.iter().map(|c| json!({"to_account": c, "amount": amount, "description": tag})).collect();
                        Sent { key: tag, path: "/v1/journals/batch", body: json!({"entry_type": "JNLC", "from_account": firm, "entries": entries}) }
                    };
                    match send(&http, &base, &key, &sent).await {
                        Ok((200, answer)) => {
                            seen.lock().unwrap().acknowledged.insert(sent.key.clone(), ids(&answer));
                        }
                        Ok((status, answer)) if (400..500).contains(&status) => panic!("{}: {status} {answer}", sent.path),
                        // No answer, or the server going down: the outcome is unknown.
                        _ => {
                            seen.lock().unwrap().in_doubt.push(sent);
                            tokio::time::sleep(Duration::from_millis(5)).await;
                        }
                    }
                }
            }));
        }
        let wait = Duration::from_millis(rand::rng().random_range(300..1_500));
        tokio::time::sleep(wait).await;
        child.kill();
        killed_after.push(wait.as_millis());
        stop.store(true, Ordering::SeqCst);
        for c in clients {
            c.await.expect("a client ended without a panic");
        }
        child = spawn(&dir, port, database_url.as_deref());
        wait_ready(&base).await;
        // Every request whose answer was lost is sent again under its key: it is answered
        // once, with the journals it made before the kill or makes now.
        let in_doubt = std::mem::take(&mut seen.lock().unwrap().in_doubt);
        seen.lock().unwrap().retried += in_doubt.len();
        for sent in in_doubt {
            let (status, answer) = send(&books.http, &base, &key, &sent).await.expect("the restarted server answers");
            assert_eq!(status, 200, "retry of {}: {answer}", sent.key);
            seen.lock().unwrap().acknowledged.insert(sent.key.clone(), ids(&answer));
        }
        let verified = books.verify(&accounts, &shares_before).await;
        let by_tag = books::by_description(&verified.journals);
        let seen = seen.lock().unwrap();
        for (key, created) in &seen.acknowledged {
            assert_eq!(by_tag.get(key).copied().unwrap_or(0), created.len(), "round {round}: key {key} took effect exactly once");
        }
        let acknowledged: usize = seen.acknowledged.values().map(Vec::len).sum();
        assert_eq!(verified.journals.len(), acknowledged, "round {round}: no journal that nobody acknowledged");
    }
    child.kill();
    let seen = seen.lock().unwrap();
    eprintln!(
        "crash under HTTP load on {name}: {rounds} SIGKILLs (after {killed_after:?} ms), {} requests acknowledged ({} retried after a kill), {} journals, all present once",
        seen.acknowledged.len(),
        seen.retried,
        seen.acknowledged.values().map(Vec::len).sum::<usize>()
    );
    assert!(seen.acknowledged.len() > rounds, "the clients got work done");
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_survives_sigkill_under_http_load() {
    rounds("sqlite", None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_survives_sigkill_under_http_load() {
    let base = std::env::var("CASHIER_TEST_DATABASE_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());
    let schema = format!("cashier_crash_http_{}", std::process::id());
    let admin = base.clone();
    let sql = format!("DROP SCHEMA IF EXISTS {schema} CASCADE; CREATE SCHEMA {schema}");
    let prepared = std::process::Command::new("psql").args([admin.as_str(), "-qc", &sql]).output();
    match prepared {
        Ok(out) if out.status.success() => {}
        other => {
            assert!(std::env::var("CI").as_deref() != Ok("true"), "PostgreSQL is required under CI=true: {other:?}");
            return eprintln!("\n*** PostgreSQL crash test under HTTP load SKIPPED: {other:?} ***\n");
        }
    }
    let separator = if base.contains('?') { '&' } else { '?' };
    rounds("postgres", Some(format!("{base}{separator}options=-csearch_path%3D{schema}"))).await;
    let _ = std::process::Command::new("psql").args([admin.as_str(), "-qc", &format!("DROP SCHEMA {schema} CASCADE")]).output();
}
