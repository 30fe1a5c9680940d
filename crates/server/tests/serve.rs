//! A real server on a free port over a fresh store: the sandbox on a first start and not again,
//! health, readiness, metrics, the error envelope, and a graceful stop.

mod common;

use cashier_server::start;
use common::{config, TempDir};

async fn get(addr: std::net::SocketAddr, path: &str) -> (u16, String) {
    let response = reqwest::get(format!("http://{addr}{path}")).await.expect("the server answers");
    (response.status().as_u16(), response.text().await.unwrap())
}

fn metric(text: &str, name: &str) -> f64 {
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{name} ")))
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no {name} in {text}"))
}

async fn first_start_then_restart(dir: &TempDir, database_url: Option<String>) {
    let running = start(config(dir, database_url.clone())).await.expect("starts");
    let sandbox: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.0.join("sandbox.json")).expect("sandbox.json")).unwrap();
    assert_eq!(sandbox["correspondent_code"], "SANDBOX");
    assert_eq!(sandbox["customer_account_ids"].as_array().unwrap().len(), 2);
    assert!(cashier_core::AccountId::parse(sandbox["firm_account_id"].as_str().unwrap()).is_ok());
    assert_eq!(get(running.addr, "/healthz").await.0, 200);
    let (status, body) = get(running.addr, "/readyz").await;
    assert_eq!(status, 200, "{body}");
    let (status, metrics) = get(running.addr, "/metrics").await;
    assert_eq!(status, 200);
    let events = metric(&metrics, "cashier_ledger_last_seq");
    assert!(events > 10.0, "the sandbox was committed: {events} events");
    assert_eq!(metric(&metrics, "cashier_ledger_writable"), 1.0);
    let (status, body) = get(running.addr, "/v1/nothing-here").await;
    assert_eq!(status, 404);
    let error: serde_json::Value = serde_json::from_str(&body).expect("a JSON envelope");
    assert_eq!((error["code"].as_u64(), error["reason"].as_str()), (Some(40410000), Some("route_not_found")));
    // The tables reconcile, and opening data (kept out of memory) reads back, on either backend.
    let client = reqwest::Client::new();
    let as_key = |addr: std::net::SocketAddr, method, path: &str, key: &str, secret: &str| {
        client.request(method, format!("http://{addr}{path}")).basic_auth(sandbox[key].as_str().unwrap(), sandbox[secret].as_str())
    };
    let report: serde_json::Value =
        as_key(running.addr, reqwest::Method::GET, "/admin/v1/reconciliation", "operator_key", "operator_secret")
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
    assert_eq!(report["balances_against_postings"]["balanced"], true, "{report}");
    assert!(report["balances_against_postings"]["balances_checked"].as_u64().unwrap() >= 3, "{report}");
    let kyc = serde_json::json!({"contact": {"email_address": "grace@example.com"}, "identity": {"given_name": "Grace", "family_name": "Hopper"}});
    let post = |path: &'static str, body: serde_json::Value| {
        let request = as_key(running.addr, reqwest::Method::POST, path, "api_key", "api_secret").json(&body);
        async move { request.send().await.unwrap().json::<serde_json::Value>().await.unwrap() }
    };
    let opened = post("/v1/accounts", kyc.clone()).await;
    let path = format!("/v1/accounts/{}", opened["id"].as_str().unwrap());
    let shown: serde_json::Value =
        as_key(running.addr, reqwest::Method::GET, &path, "api_key", "api_secret").send().await.unwrap().json().await.unwrap();
    assert_eq!(shown["identity"]["family_name"], "Hopper", "{shown}");
    // An event stream replays the log through the same readers.
    let pay =
        serde_json::json!({"entry_type": "JNLC", "from_account": sandbox["firm_account_id"], "to_account": opened["id"], "amount": "1"});
    let journal = post("/v1/journals", pay).await;
    let mut stream =
        as_key(running.addr, reqwest::Method::GET, "/v1/events/journals/status?since_id=1", "api_key", "api_secret").send().await.unwrap();
    let chunk = tokio::time::timeout(std::time::Duration::from_secs(10), stream.chunk()).await.expect("replayed").unwrap().unwrap();
    let text = String::from_utf8_lossy(&chunk);
    assert!(text.contains(journal["id"].as_str().unwrap()), "{text}");
    drop(stream);
    let events = events + 2.0;
    running.stop().await.expect("stops gracefully");
    // A restart loads the same ledger and creates no second sandbox.
    let written = std::fs::read_to_string(dir.0.join("sandbox.json")).unwrap();
    let running = start(config(dir, database_url)).await.expect("restarts");
    let (_, metrics) = get(running.addr, "/metrics").await;
    assert_eq!(metric(&metrics, "cashier_ledger_last_seq"), events, "nothing new on a restart");
    assert_eq!(std::fs::read_to_string(dir.0.join("sandbox.json")).unwrap(), written);
    let again = as_key(running.addr, reqwest::Method::POST, "/v1/accounts", "api_key", "api_secret").json(&kyc).send().await.unwrap();
    assert_eq!(again.status(), 409, "the email index survives a restart");
    running.stop().await.expect("stops gracefully");
}

#[tokio::test]
async fn sqlite_first_start_and_restart() {
    let dir = TempDir::new("sqlite");
    first_start_then_restart(&dir, None).await;
    assert!(dir.0.join("cashier.db").exists(), "the SQLite store lives in the data directory");
}

#[tokio::test]
async fn postgres_first_start_and_restart() {
    let Some(pg) = common::PgSchema::new("serve") else { return };
    let dir = TempDir::new("postgres");
    first_start_then_restart(&dir, Some(pg.url.clone())).await;
    assert!(!dir.0.join("cashier.db").exists(), "no SQLite file when PostgreSQL is used");
}
