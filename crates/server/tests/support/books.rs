//! Checks of a ledger through its HTTP API, shared by the bank test and the crash test under
//! HTTP load (`crates/cli/tests/crash_http.rs` includes this file): the books per asset, the
//! invariants and the stored balances against their postings; every journal's history a legal
//! path ending in its status; balances recomputed from the journals and transfers equal to what
//! the API reports, none below zero.
#![allow(dead_code)]

use cashier_core::{money, Currency, JournalStatus};
use serde_json::Value;
use std::collections::HashMap;
use std::time::{Duration, Instant};

pub fn usd(text: &str) -> i64 {
    Currency::USD.parse_amount(text).unwrap_or_else(|_| panic!("an amount: {text}"))
}

pub fn qty(text: &str) -> i64 {
    money::parse_qty(text).unwrap_or_else(|_| panic!("a quantity: {text}"))
}

/// A server's address and the keys to read it with.
pub struct Books {
    pub http: reqwest::Client,
    pub base: String,
    pub correspondent: (String, String),
    pub operator: (String, String),
}

/// What [`Books::verify`] read.
pub struct Verified {
    pub journals: Vec<Value>,
    pub events: usize,
    pub transfers: usize,
}

impl Books {
    pub fn from_sandbox(base: &str, sandbox: &Value) -> Books {
        let field = |name: &str| sandbox[name].as_str().unwrap().to_owned();
        Books {
            http: reqwest::Client::new(),
            base: base.to_owned(),
            correspondent: (field("api_key"), field("api_secret")),
            operator: (field("operator_key"), field("operator_secret")),
        }
    }

    /// `GET path` as the operator (`ops`) or the correspondent.
    pub async fn get(&self, path: &str, ops: bool) -> Value {
        let (key, secret) = if ops { &self.operator } else { &self.correspondent };
        let response = self.http.get(format!("{}{path}", self.base)).basic_auth(key, Some(secret)).send().await.unwrap();
        assert!(response.status().is_success(), "GET {path}: {}", response.status());
        response.json().await.unwrap()
    }

    /// Every account's positions: (account, symbol) to quantity.
    pub async fn positions(&self, accounts: &[String]) -> HashMap<(String, String), i64> {
        let mut out = HashMap::new();
        for account in accounts {
            for p in self.get(&format!("/v1/trading/accounts/{account}/positions"), false).await.as_array().unwrap() {
                out.insert((account.clone(), p["symbol"].as_str().unwrap().to_owned()), qty(p["qty"].as_str().unwrap()));
            }
        }
        out
    }

    /// Waits until clearing has moved every journal it will (only `pending` ones wait).
    pub async fn settle(&self) {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let report = self.get("/admin/v1/reconciliation", true).await;
            let moving = report["waiting_journals"].as_array().unwrap().iter().filter(|j| j["status"] != "pending").count();
            if moving == 0 {
                return;
            }
            assert!(Instant::now() < deadline, "clearing did not finish: {report}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Every check but exactly-once (which needs what the clients saw); `shares_before` is every
    /// position before the first journal.
    pub async fn verify(&self, accounts: &[String], shares_before: &HashMap<(String, String), i64>) -> Verified {
        self.settle().await;
        let report = self.get("/admin/v1/reconciliation", true).await;
        assert!(report["books"].as_array().unwrap().iter().all(|b| b["balanced"] == true), "{report}");
        assert_eq!(report["invariants"], "hold", "{report}");
        assert_eq!(report["balances_against_postings"]["balanced"], true, "{report}");
        let journals = self.get("/v1/journals", true).await.as_array().unwrap().clone();

        // Every journal's history is a legal path that ends where the journal is now. Nothing
        // moves any more, so the replay is whole once the stream goes quiet.
        let (key, secret) = &self.operator;
        let url = format!("{}/v1/events/journals/status?since_id=1", self.base);
        let mut stream = self.http.get(url).basic_auth(key, Some(secret)).send().await.unwrap();
        let mut bytes = Vec::new();
        while let Ok(Ok(Some(chunk))) = tokio::time::timeout(Duration::from_secs(2), stream.chunk()).await {
            bytes.extend_from_slice(&chunk);
        }
        drop(stream);
        let mut history: HashMap<String, Option<JournalStatus>> = HashMap::new();
        let mut events = 0;
        for line in String::from_utf8(bytes).unwrap().lines().filter_map(|l| l.strip_prefix("data:")) {
            let e: Value = serde_json::from_str(line.trim()).unwrap();
            let id = e["journal_id"].as_str().unwrap().to_owned();
            let from = JournalStatus::parse(e["status_from"].as_str().unwrap());
            let to = JournalStatus::parse(e["status_to"].as_str().unwrap()).expect("a status");
            let current = history.entry(id.clone()).or_default();
            assert_eq!(from, *current, "journal {id}: an event starts where the last one ended");
            assert!(JournalStatus::is_legal(from, to), "journal {id}: {from:?} -> {to:?} is not a legal step");
            *current = Some(to);
            events += 1;
        }
        for j in &journals {
            let status = JournalStatus::parse(j["status"].as_str().unwrap());
            assert_eq!(
                history.get(j["id"].as_str().unwrap()).copied().flatten(),
                status,
                "journal {}'s history ends in its status",
                j["id"]
            );
        }

        // Balances recomputed from the journals and transfers equal what the API reports, and
        // none is below its floor.
        let mut cash: HashMap<String, i64> = HashMap::new();
        let mut shares = shares_before.clone();
        for j in &journals {
            let status = JournalStatus::parse(j["status"].as_str().unwrap()).unwrap();
            if !matches!(status, JournalStatus::Executed | JournalStatus::ActivityCreated) {
                continue;
            }
            let (from, to) = (j["from_account"].as_str().unwrap().to_owned(), j["to_account"].as_str().unwrap().to_owned());
            if j["entry_type"] == "JNLC" {
                let amount = usd(j["net_amount"].as_str().unwrap());
                *cash.entry(from).or_default() -= amount;
                *cash.entry(to).or_default() += amount;
            } else {
                let (symbol, units) = (j["symbol"].as_str().unwrap().to_owned(), qty(j["qty"].as_str().unwrap()));
                *shares.entry((from, symbol.clone())).or_default() -= units;
                *shares.entry((to, symbol)).or_default() += units;
            }
        }
        let mut transfers = 0;
        for account in accounts {
            let mut offset = 0;
            loop {
                let page = self.get(&format!("/v1/accounts/{account}/transfers?offset={offset}&limit=100"), false).await;
                let items = page.as_array().unwrap();
                if items.is_empty() {
                    break;
                }
                for t in items {
                    transfers += 1;
                    if t["status"] == "COMPLETE" {
                        let amount = usd(t["amount"].as_str().unwrap());
                        *cash.entry(account.clone()).or_default() += if t["direction"] == "INCOMING" { amount } else { -amount };
                    }
                }
                offset += items.len();
            }
        }
        for account in accounts {
            let trade = self.get(&format!("/v1/trading/accounts/{account}/account"), false).await;
            let reported = usd(trade["cash"].as_str().unwrap());
            assert_eq!(reported, cash.get(account).copied().unwrap_or(0), "cash of {account}");
            assert!(reported >= 0, "{account} is below its floor: {reported}");
            let positions = self.get(&format!("/v1/trading/accounts/{account}/positions"), false).await;
            let reported: HashMap<String, i64> = positions
                .as_array()
                .unwrap()
                .iter()
                .map(|p| (p["symbol"].as_str().unwrap().to_owned(), qty(p["qty"].as_str().unwrap())))
                .collect();
            for ((holder, symbol), units) in &shares {
                if holder == account {
                    assert_eq!(reported.get(symbol).copied().unwrap_or(0), *units, "{symbol} held by {account}");
                    assert!(*units >= 0, "{account} holds {units} {symbol}");
                }
            }
        }
        Verified { journals, events, transfers }
    }
}

/// How many journals carry each description.
pub fn by_description(journals: &[Value]) -> HashMap<String, usize> {
    let mut counts = HashMap::new();
    for j in journals {
        *counts.entry(j["description"].as_str().unwrap().to_owned()).or_default() += 1;
    }
    counts
}
