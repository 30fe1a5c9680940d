//! The bank test, in the style of Jepsen's: many clients do random journals (JNLC and JNLS,
//! single, batch, reverse batch), cancels, approvals, reversals, corrections and transfers against
//! a real server for a bounded time, and some connections are cut mid-request and retried with
//! the same idempotency key. Afterwards:
//! - the books balance for every asset, and the stored balances equal their postings;
//! - no balance is below its floor;
//! - every journal's history (its events, replayed from the log) is a legal path that ends in
//!   its current status;
//! - every acknowledged request took effect exactly once;
//! - balances recomputed from the journals and transfers equal what the API reports.
//!
//! `CASHIER_BANK_SECONDS` (default 3) and `CASHIER_BANK_CLIENTS` (default 8) make it longer.

#[path = "support/books.rs"]
mod books;
mod common;

use common::{read, TestApp};
use rand::{Rng, SeedableRng};
use reqwest::Method;
use serde_json::{json, Value};
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::io::AsyncWriteExt;

/// What the clients saw, to check against afterwards.
#[derive(Default)]
struct Ledger {
    /// Per idempotency key: the journals its acknowledged request created.
    acknowledged: BTreeMap<String, Vec<String>>,
    /// Keys whose request was refused for good (a 4xx): nothing may exist for them.
    refused: Vec<String>,
    /// Journal id -> the key it was created under, for the corrections that copy it.
    key_of: HashMap<String, String>,
    /// Corrections made, per key of the corrected journal.
    corrections: HashMap<String, usize>,
    operations: BTreeMap<&'static str, u64>,
    cuts: u64,
}

struct Bank {
    app: TestApp,
    firm: String,
    customers: Vec<String>,
    ledger: Mutex<Ledger>,
}

impl Bank {
    fn correspondent(&self, method: Method, path: &str) -> reqwest::RequestBuilder {
        self.app.as_correspondent(method, path)
    }

    fn operator(&self, method: Method, path: &str) -> reqwest::RequestBuilder {
        self.app.http.request(method, self.app.url(path)).basic_auth(self.app.id("operator_key"), Some(self.app.id("operator_secret")))
    }

    fn count(&self, what: &'static str) {
        *self.ledger.lock().unwrap().operations.entry(what).or_default() += 1;
    }

    /// Sends a journal request under a fresh idempotency key, sometimes cutting a first attempt
    /// mid-request, and retries with the same key until it is answered.
    async fn create(&self, path: &str, mut body: Value, rng: &mut impl Rng) {
        let key = format!("bank-{:032x}", rng.random::<u128>());
        let tag = format!("bank {key}");
        match body.get_mut("entries") {
            Some(Value::Array(entries)) => entries.iter_mut().for_each(|e| e["description"] = json!(tag)),
            _ => body["description"] = json!(tag),
        }
        if rng.random_bool(0.1) {
            self.cut(path, &body, &key, rng.random_bool(0.5)).await;
            self.ledger.lock().unwrap().cuts += 1;
        }
        let (status, answer) = loop {
            let sent = self.correspondent(Method::POST, path).header("Idempotency-Key", &key).json(&body).send().await;
            match sent {
                Ok(response) if response.status() != 503 => break read(response).await,
                _ => tokio::time::sleep(Duration::from_millis(20)).await,
            }
        };
        let mut ledger = self.ledger.lock().unwrap();
        if status == 200 {
            let ids: Vec<String> = match &answer {
                Value::Array(list) => list.iter().map(|j| j["id"].as_str().unwrap().to_owned()).collect(),
                one => vec![one["id"].as_str().unwrap().to_owned()],
            };
            for id in &ids {
                ledger.key_of.insert(id.clone(), key.clone());
            }
            ledger.acknowledged.insert(key, ids);
        } else {
            assert!((400..500).contains(&status), "{path} {body}: {status} {answer}");
            ledger.refused.push(key);
        }
    }

    /// Writes the request on a connection of its own and closes it: after the whole request, or
    /// halfway through the body.
    async fn cut(&self, path: &str, body: &Value, key: &str, whole: bool) {
        let addr = self.app.running.as_ref().unwrap().addr;
        let Ok(mut tcp) = tokio::net::TcpStream::connect(addr).await else { return };
        let payload = body.to_string();
        let auth = base64_basic(&self.app.id("api_key"), &self.app.id("api_secret"));
        let head = format!(
            "POST {path} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Basic {auth}\r\nIdempotency-Key: {key}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
            payload.len()
        );
        let sent = if whole { payload.as_str() } else { &payload[..payload.len() / 2] };
        let _ = tcp.write_all(head.as_bytes()).await;
        let _ = tcp.write_all(sent.as_bytes()).await;
        drop(tcp);
    }

    /// Journals the test can act on now.
    async fn journals(&self) -> Vec<Value> {
        let (_, list) = read(self.operator(Method::GET, "/v1/journals?limit=200").send().await.unwrap()).await;
        list.as_array().cloned().unwrap_or_default()
    }

    async fn step(&self, rng: &mut impl Rng) {
        let customer = self.customers[rng.random_range(0..self.customers.len())].clone();
        let cents = |rng: &mut dyn rand::RngCore| format!("{}.{:02}", rng.random_range(0..80), rng.random_range(1..100));
        match rng.random_range(0..100) {
            0..=29 => {
                self.count("single JNLC out");
                let body = json!({"entry_type": "JNLC", "from_account": self.firm, "to_account": customer, "amount": cents(rng)});
                self.create("/v1/journals", body, rng).await;
            }
            30..=41 => {
                self.count("single JNLC back");
                let body = json!({"entry_type": "JNLC", "from_account": customer, "to_account": self.firm, "amount": cents(rng)});
                self.create("/v1/journals", body, rng).await;
            }
            42..=51 => {
                self.count("single JNLS");
                let shares = format!("0.{:03}", rng.random_range(1..300));
                let body =
                    json!({"entry_type": "JNLS", "from_account": self.firm, "to_account": customer, "symbol": "AAPL", "qty": shares});
                self.create("/v1/journals", body, rng).await;
            }
            52..=59 => {
                self.count("batch");
                let entries: Vec<Value> = (0..rng.random_range(1..6))
                    .map(|_| json!({"to_account": self.customers[rng.random_range(0..self.customers.len())], "amount": cents(rng)}))
                    .collect();
                self.create("/v1/journals/batch", json!({"entry_type": "JNLC", "from_account": self.firm, "entries": entries}), rng).await;
            }
            60..=65 => {
                self.count("reverse batch");
                let entries: Vec<Value> = (0..rng.random_range(1..4))
                    .map(|_| json!({"from_account": self.customers[rng.random_range(0..self.customers.len())], "amount": "0.50"}))
                    .collect();
                let body = json!({"entry_type": "JNLC", "to_account": self.firm, "entries": entries});
                self.create("/v1/journals/reverse_batch", body, rng).await;
            }
            66..=75 => {
                self.count("transfer");
                let direction = if rng.random_bool(0.6) { "INCOMING" } else { "OUTGOING" };
                let body = json!({"transfer_type": "ach", "direction": direction, "amount": cents(rng)});
                let (status, answer) =
                    read(self.correspondent(Method::POST, &format!("/v1/accounts/{customer}/transfers")).json(&body).send().await.unwrap())
                        .await;
                assert!(status == 200 || (400..500).contains(&status), "transfer: {status} {answer}");
            }
            _ => {
                // An action on a journal that exists: cancel, approve or reject, reverse, correct.
                let journals = self.journals().await;
                if journals.is_empty() {
                    return;
                }
                let j = &journals[rng.random_range(0..journals.len())];
                let id = j["id"].as_str().unwrap().to_owned();
                let (status, answer) = match rng.random_range(0..5) {
                    0 => {
                        self.count("cancel");
                        read(self.correspondent(Method::DELETE, &format!("/v1/journals/{id}")).send().await.unwrap()).await
                    }
                    1 | 2 => {
                        let action = ["approve", "reject", "reverse"][rng.random_range(0..3)];
                        self.count(action);
                        let path = format!("/admin/v1/journals/{id}/{action}");
                        read(self.operator(Method::POST, &path).json(&json!({"reason": "bank test"})).send().await.unwrap()).await
                    }
                    _ => {
                        self.count("correct");
                        let field = if j["entry_type"] == "JNLC" { ("amount", cents(rng)) } else { ("qty", "0.001".to_owned()) };
                        let body = json!({"reason": "bank test", field.0: field.1});
                        let response =
                            self.operator(Method::POST, &format!("/admin/v1/journals/{id}/correct")).json(&body).send().await.unwrap();
                        let (status, answer) = read(response).await;
                        if status == 200 {
                            let mut ledger = self.ledger.lock().unwrap();
                            if let Some(key) = ledger.key_of.get(&id).cloned() {
                                *ledger.corrections.entry(key.clone()).or_default() += 1;
                                // The replacement carries the key's description too, and may be
                                // corrected in turn.
                                for replacement in answer["journals"].as_array().unwrap().iter().filter(|r| r["id"] != id.as_str()) {
                                    ledger.key_of.insert(replacement["id"].as_str().unwrap().to_owned(), key.clone());
                                }
                            }
                        }
                        (status, answer)
                    }
                };
                assert!(status < 500, "{id}: {status} {answer}");
            }
        }
    }
}

fn base64_basic(key: &str, secret: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(format!("{key}:{secret}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn random_traffic_with_cut_connections_keeps_every_promise() {
    let seconds: f64 = std::env::var("CASHIER_BANK_SECONDS").ok().and_then(|s| s.parse().ok()).unwrap_or(3.0);
    let clients: usize = std::env::var("CASHIER_BANK_CLIENTS").ok().and_then(|s| s.parse().ok()).unwrap_or(8);
    // The checks read every journal in one list; a long run makes more than the default bound.
    let app = TestApp::spawn_with("bank", |c| cashier_server::Config {
        clearing_delay: Some(Duration::from_millis(5)),
        list_results_max: 10_000_000,
        ..c
    })
    .await;
    let firm = app.id("firm_account_id");
    let mut customers = vec![app.customer(0), app.customer(1)];
    for i in 0..6 {
        let kyc = json!({"contact": {"email_address": format!("bank{i}@example.com")}, "identity": {"given_name": "Bank", "family_name": format!("{i}")}});
        let (_, account) = read(app.as_correspondent(Method::POST, "/v1/accounts").json(&kyc).send().await.unwrap()).await;
        customers.push(account["id"].as_str().unwrap().to_owned());
    }
    let (_, before) = read(app.as_correspondent(Method::GET, "/v1/journals").send().await.unwrap()).await;
    assert_eq!(before, json!([]), "the sandbox starts with no journals");
    let accounts: Vec<String> = std::iter::once(firm.clone()).chain(customers.iter().cloned()).collect();
    let shares_before = books::Books::from_sandbox(&app.url(""), &app.sandbox).positions(&accounts).await;
    let bank = Arc::new(Bank { app, firm: firm.clone(), customers, ledger: Mutex::default() });
    let seed: u64 = std::env::var("CASHIER_BANK_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or_else(rand::random);
    let end = Instant::now() + Duration::from_secs_f64(seconds);
    let mut tasks = Vec::new();
    for client in 0..clients {
        let bank = bank.clone();
        tasks.push(tokio::spawn(async move {
            let mut rng = rand::rngs::StdRng::seed_from_u64(seed.wrapping_add(client as u64));
            while Instant::now() < end {
                bank.step(&mut rng).await;
            }
        }));
    }
    for task in tasks {
        task.await.expect("a client finished without a panic");
    }
    let books = books::Books::from_sandbox(&bank.app.url(""), &bank.app.sandbox);
    let verified = books.verify(&accounts, &shares_before).await;
    let (journals, events, transfers) = (&verified.journals, verified.events, verified.transfers);

    // Exactly once: each acknowledged key's journals exist once each (plus the corrections that
    // copied their description), each refused key left nothing.
    let ledger = std::mem::take(&mut *bank.ledger.lock().unwrap());
    let by_tag = books::by_description(journals);
    let ids: std::collections::HashSet<&str> = journals.iter().map(|j| j["id"].as_str().unwrap()).collect();
    for (key, created) in &ledger.acknowledged {
        let expected = created.len() + ledger.corrections.get(key).copied().unwrap_or(0);
        assert_eq!(by_tag.get(&format!("bank {key}")).copied().unwrap_or(0), expected, "key {key}");
        assert!(created.iter().all(|id| ids.contains(id.as_str())), "key {key}'s journals exist");
    }
    for key in &ledger.refused {
        assert_eq!(by_tag.get(&format!("bank {key}")), None, "refused key {key} left a journal");
    }
    println!(
        "bank: seed {seed}, {clients} clients for {seconds} s: {:?}; {} keys acknowledged, {} refused, {} connections cut, {} journals, {} transfers, {events} events replayed",
        ledger.operations,
        ledger.acknowledged.len(),
        ledger.refused.len(),
        ledger.cuts,
        journals.len(),
        transfers
    );
    Arc::try_unwrap(bank).ok().expect("clients are done").app.stop().await;
}
