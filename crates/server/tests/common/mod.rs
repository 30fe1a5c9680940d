//! A real server on a free port over a fresh store in a temporary directory.
#![allow(dead_code)]

use cashier_server::{start, Config, Running};
use serde_json::Value;
use std::path::PathBuf;

pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(name: &str) -> TempDir {
        let dir = std::env::temp_dir().join(format!("cashier-server-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

pub fn config(dir: &TempDir, database_url: Option<String>) -> Config {
    Config { database_url, ..Config::new(dir.0.clone(), "127.0.0.1:0".parse().unwrap()) }
}

pub struct TestApp {
    pub running: Option<Running>,
    pub sandbox: Value,
    pub http: reqwest::Client,
    pub dir: TempDir,
}

impl TestApp {
    /// A sandboxed server on SQLite, without a clearing worker (tests step clearing).
    pub async fn spawn(name: &str) -> TestApp {
        TestApp::spawn_with(name, |config| config).await
    }

    /// The same, with the configuration changed by `tweak`.
    pub async fn spawn_with(name: &str, tweak: impl FnOnce(Config) -> Config) -> TestApp {
        let dir = TempDir::new(name);
        let running = start(tweak(config(&dir, None))).await.expect("starts");
        let sandbox = serde_json::from_str(&std::fs::read_to_string(dir.0.join("sandbox.json")).unwrap()).unwrap();
        TestApp { running: Some(running), sandbox, http: reqwest::Client::new(), dir }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.running.as_ref().unwrap().addr)
    }

    pub fn id(&self, field: &str) -> String {
        self.sandbox[field].as_str().unwrap_or_else(|| panic!("sandbox.json has no {field}")).to_owned()
    }

    pub fn customer(&self, i: usize) -> String {
        self.sandbox["customer_account_ids"][i].as_str().unwrap().to_owned()
    }

    /// A request with the sandbox correspondent's credentials.
    pub fn as_correspondent(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        self.http.request(method, self.url(path)).basic_auth(self.id("api_key"), Some(self.id("api_secret")))
    }

    /// A second correspondent with an API key of its own: its key and secret.
    pub async fn other_correspondent(&self) -> (String, String) {
        let sequencer = self.running.as_ref().unwrap().app.sequencer.clone();
        let command = cashier_core::Command::CreateCorrespondent { code: "OTHER".into(), name: "Other".into(), config: Default::default() };
        let other = sequencer.submit(command).await.unwrap().correspondents[0].id;
        let (key, secret, hash) = cashier_server::auth::mint("CK");
        let owner = cashier_core::KeyOwner::Correspondent(other);
        sequencer.submit(cashier_core::Command::IssueApiKey { key_id: key.clone(), name: None, owner, secret_sha256: hash }).await.unwrap();
        (key, secret)
    }

    /// A JNLC journal from the sandbox firm account to the first customer: its id.
    pub async fn pay(&self, amount: &str, description: &str) -> String {
        let body = serde_json::json!({"entry_type": "JNLC", "from_account": self.id("firm_account_id"), "to_account": self.customer(0), "amount": amount, "description": description});
        let (status, j) = read(self.as_correspondent(reqwest::Method::POST, "/v1/journals").json(&body).send().await.unwrap()).await;
        assert_eq!(status, 200, "{j}");
        j["id"].as_str().unwrap().to_owned()
    }

    pub async fn journal_status(&self, id: &str) -> String {
        let (_, j) = read(self.as_correspondent(reqwest::Method::GET, &format!("/v1/journals/{id}")).send().await.unwrap()).await;
        j["status"].as_str().unwrap().to_owned()
    }

    /// Two clearing steps: queued journals are sent to clearing, then booked.
    pub async fn clear(&self) {
        let sequencer = self.running.as_ref().unwrap().app.sequencer.clone();
        cashier_server::clearing::step(&sequencer).await.unwrap();
        cashier_server::clearing::step(&sequencer).await.unwrap();
    }

    pub async fn stop(mut self) {
        self.running.take().unwrap().stop().await.expect("stops");
    }
}

/// Status and JSON body (or `Null` for an empty body).
pub async fn read(response: reqwest::Response) -> (u16, Value) {
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    (status, if text.is_empty() { Value::Null } else { serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON: {text}")) })
}

/// A PostgreSQL schema of its own for one test, dropped when the guard goes: the URL that puts
/// a server in it, or `None` (loudly) where no PostgreSQL answers, except under `CI=true`.
pub struct PgSchema {
    base: String,
    pub schema: String,
    pub url: String,
}

impl PgSchema {
    pub fn new(name: &str) -> Option<PgSchema> {
        let base = std::env::var("CASHIER_TEST_DATABASE_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());
        let schema = format!("cashier_{name}_{}", std::process::id());
        let prepared = cashier_store::off_runtime(|| {
            let mut admin = postgres::Client::connect(&base, postgres::NoTls)?;
            admin.batch_execute(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE; CREATE SCHEMA {schema}"))
        });
        if let Err(e) = prepared {
            assert!(std::env::var("CI").as_deref() != Ok("true"), "PostgreSQL is required under CI=true: {e}");
            eprintln!("\n*** PostgreSQL test {name} SKIPPED: {e} ***\n");
            return None;
        }
        let separator = if base.contains('?') { '&' } else { '?' };
        let url = format!("{base}{separator}options=-csearch_path%3D{schema}");
        Some(PgSchema { base, schema, url })
    }

    /// Runs SQL in the schema.
    pub fn sql(&self, sql: &str) {
        let url = self.url.clone();
        let sql = sql.to_owned();
        cashier_store::off_runtime(move || postgres::Client::connect(&url, postgres::NoTls)?.batch_execute(&sql)).expect("runs");
    }
}

impl Drop for PgSchema {
    fn drop(&mut self) {
        let _ = cashier_store::off_runtime(|| {
            postgres::Client::connect(&self.base, postgres::NoTls)
                .and_then(|mut c| c.batch_execute(&format!("DROP SCHEMA IF EXISTS {} CASCADE", self.schema)))
        });
    }
}
