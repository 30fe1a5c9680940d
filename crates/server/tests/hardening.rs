//! Hostile input against a real server on both stores: what one caller sends never fails
//! another's request.

mod common;

use common::{read, PgSchema, TestApp};
use reqwest::Method;
use serde_json::{json, Value};

fn operator(app: &TestApp, method: Method, path: &str) -> reqwest::RequestBuilder {
    app.http.request(method, app.url(path)).basic_auth(app.id("operator_key"), Some(app.id("operator_secret")))
}

/// Every request that carries a NUL in one text field, with the field its refusal must name.
fn poisoned(app: &TestApp, queued: &str) -> Vec<(reqwest::RequestBuilder, &'static str)> {
    let (firm, customer) = (app.id("firm_account_id"), app.customer(0));
    let journal = |extra: Value| {
        let mut body = json!({"entry_type": "JNLC", "from_account": firm, "to_account": customer, "amount": "1"});
        body.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
        app.as_correspondent(Method::POST, "/v1/journals").json(&body)
    };
    let batch = json!({"entry_type": "JNLC", "from_account": firm, "entries": [
        {"to_account": customer, "amount": "1"}, {"to_account": app.customer(1), "amount": "1", "description": "x\u{0}"}]});
    let account = json!({
        "contact": {"email_address": "nul\u{0}@example.com"},
        "identity": {"given_name": "Nul", "family_name": "Byte"},
    });
    vec![
        (journal(json!({"description": "pay\u{0}day"})), "description"),
        (journal(json!({"transmitter_name": "A\u{0}B"})), "transmitter_name"),
        (journal(json!({"transmitter_address": "\u{0}"})), "transmitter_address"),
        (app.as_correspondent(Method::POST, "/v1/journals/batch").json(&batch), "entries[1].description"),
        (app.as_correspondent(Method::POST, "/v1/accounts").json(&account), "contact.email_address"),
        (operator(app, Method::POST, "/admin/v1/correspondents").json(&json!({"code": "NUL", "name": "N\u{0}L"})), "name"),
        (operator(app, Method::POST, &format!("/admin/v1/journals/{queued}/cancel")).json(&json!({"reason": "why\u{0}"})), "reason"),
    ]
}

/// Honest clients send journals while one client sends text with NUL characters in every text
/// field it can reach: each of those answers 400 `text_not_storable` naming its field and
/// changes nothing, and not one honest request fails.
async fn nul_text_never_fails_honest_requests(app: TestApp) {
    let queued = app.pay("1", "to be left alone").await;
    let honest: Vec<_> = (0..16)
        .map(|client| {
            let request = app.as_correspondent(Method::POST, "/v1/journals");
            let body = json!({"entry_type": "JNLC", "from_account": app.id("firm_account_id"), "to_account": app.customer(client % 2), "amount": "1.25"});
            tokio::spawn(async move {
                let mut failed = Vec::new();
                for _ in 0..20 {
                    let (status, answer) = read(request.try_clone().unwrap().json(&body).send().await.unwrap()).await;
                    if status != 200 {
                        failed.push((status, answer));
                    }
                }
                failed
            })
        })
        .collect();
    let hostile = async {
        for _ in 0..9 {
            for (request, field) in poisoned(&app, &queued) {
                let (status, error) = read(request.send().await.unwrap()).await;
                assert_eq!((status, error["reason"].as_str()), (400, Some("text_not_storable")), "{field}: {error}");
                let message = error["message"].as_str().unwrap();
                assert!(message.starts_with(&format!("{field}: ")), "the refusal names {field}: {message}");
            }
        }
    };
    hostile.await;
    let mut failures = Vec::new();
    for client in honest {
        failures.extend(client.await.unwrap());
    }
    assert!(failures.is_empty(), "honest requests failed: {failures:?}");
    assert_eq!(app.journal_status(&queued).await, "queued", "the refused cancel changed nothing");
    let (_, journals) = read(app.as_correspondent(Method::GET, "/v1/journals?limit=1000").send().await.unwrap()).await;
    assert_eq!(journals.as_array().unwrap().len(), 16 * 20 + 1, "only the honest journals exist");
    let metrics = app.http.get(app.url("/metrics")).send().await.unwrap().text().await.unwrap();
    assert!(metrics.contains("cashier_store_failures_total 0"), "no commit failed:\n{metrics}");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nul_text_never_fails_honest_requests_on_sqlite() {
    nul_text_never_fails_honest_requests(TestApp::spawn("nul-sqlite").await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nul_text_never_fails_honest_requests_on_postgres() {
    let Some(pg) = PgSchema::new("nul") else { return };
    let url = pg.url.clone();
    let app = TestApp::spawn_with("nul-postgres", |c| cashier_server::Config { database_url: Some(url), ..c }).await;
    nul_text_never_fails_honest_requests(app).await;
    drop(pg);
}

fn free_port() -> std::net::SocketAddr {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap()
}

/// Two servers on one PostgreSQL database: the second waits as a standby (its `/readyz` 503
/// says so and names the holder; writes answer 503 `standby`) while the first alone writes;
/// when the first stops, it hands its lease over and the second serves the same ledger.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_server_on_one_database_waits_as_a_standby() {
    let Some(pg) = PgSchema::new("standby") else { return };
    let url = pg.url.clone();
    let ttl = std::time::Duration::from_secs(3);
    let first = TestApp::spawn_with("standby-first", |c| cashier_server::Config {
        database_url: Some(url.clone()),
        node_id: Some("first".into()),
        lease_ttl: ttl,
        ..c
    })
    .await;
    let second_dir = common::TempDir::new("standby-second");
    let listen = free_port();
    let second_config = cashier_server::Config {
        database_url: Some(url.clone()),
        node_id: Some("second".into()),
        lease_ttl: ttl,
        ..cashier_server::Config::new(second_dir.0.clone(), listen)
    };
    let second = tokio::spawn(cashier_server::start(second_config));
    let standby_url = |path: &str| format!("http://{listen}{path}");
    let ready = loop {
        if let Ok(response) = first.http.get(standby_url("/readyz")).send().await {
            break read(response).await;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    };
    assert_eq!(ready.0, 503, "{}", ready.1);
    assert_eq!(ready.1["status"], "standby");
    assert!(ready.1["lease_holder"].as_str().unwrap().starts_with("first/"), "{}", ready.1);
    let body = json!({"entry_type": "JNLC", "from_account": first.id("firm_account_id"), "to_account": first.customer(0), "amount": "1"});
    let write = first.http.post(standby_url("/v1/journals")).basic_auth(first.id("api_key"), Some(first.id("api_secret"))).json(&body);
    let (status, error) = read(write.send().await.unwrap()).await;
    assert_eq!((status, error["reason"].as_str()), (503, Some("standby")), "{error}");
    // Meanwhile the first writes, every time: no second writer competes for the store.
    for _ in 0..20 {
        first.pay("1", "while a standby waits").await;
    }
    assert!(!second.is_finished(), "the standby waits while the lease is held");
    let sandbox = (first.id("api_key"), first.id("api_secret"));
    first.stop().await;
    let second = tokio::time::timeout(std::time::Duration::from_secs(60), second).await.expect("takes over").unwrap().expect("starts");
    let http = reqwest::Client::new();
    let (status, _) = read(http.get(format!("http://{}/readyz", second.addr)).send().await.unwrap()).await;
    assert_eq!(status, 200, "the standby took over");
    let journals = format!("http://{}/v1/journals?limit=100", second.addr);
    let (_, listed) = read(http.get(&journals).basic_auth(&sandbox.0, Some(&sandbox.1)).send().await.unwrap()).await;
    assert_eq!(listed.as_array().unwrap().len(), 20, "the same ledger: {listed}");
    let (status, _) = read(
        http.post(format!("http://{}/v1/journals", second.addr)).basic_auth(&sandbox.0, Some(&sandbox.1)).json(&body).send().await.unwrap(),
    )
    .await;
    assert_eq!(status, 200, "the new writer writes");
    second.stop().await.unwrap();
    drop(pg);
}

/// `cashier_server::serve` on a PostgreSQL schema, in this process, with the sandbox's key.
struct PgServer {
    listen: std::net::SocketAddr,
    http: reqwest::Client,
    key: (String, String),
    pay_body: Value,
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<Result<(), cashier_server::ServeError>>,
    _dir: common::TempDir,
}

impl PgServer {
    async fn start(pg: &PgSchema, name: &str, lease_ttl: std::time::Duration) -> PgServer {
        let dir = common::TempDir::new(name);
        let listen = free_port();
        let config = cashier_server::Config {
            database_url: Some(pg.url.clone()),
            node_id: Some(name.into()),
            lease_ttl,
            ..cashier_server::Config::new(dir.0.clone(), listen)
        };
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(cashier_server::serve(config, async move {
            let _ = stopped.await;
        }));
        let http = reqwest::Client::new();
        let mut server = PgServer { listen, http, key: Default::default(), pay_body: Value::Null, stop, task, _dir: dir };
        server.until_ready(60, "the server becomes ready").await;
        let sandbox: Value = serde_json::from_str(&std::fs::read_to_string(server._dir.0.join("sandbox.json")).unwrap()).unwrap();
        server.key = (sandbox["api_key"].as_str().unwrap().to_owned(), sandbox["api_secret"].as_str().unwrap().to_owned());
        server.pay_body = json!({"entry_type": "JNLC", "from_account": sandbox["firm_account_id"], "to_account": sandbox["customer_account_ids"][0], "amount": "1"});
        server
    }

    /// `/readyz`: its status and body, if it answered.
    async fn readyz(&self) -> Option<(u16, Value)> {
        Some(read(self.http.get(format!("http://{}/readyz", self.listen)).send().await.ok()?).await)
    }

    async fn until_ready(&self, seconds: u64, what: &str) {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(seconds);
        while self.readyz().await.map(|r| r.0) != Some(200) {
            assert!(std::time::Instant::now() < deadline, "{what}");
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    }

    /// `/readyz`'s answer once it is 503 and `matches`, within `seconds`.
    async fn until_not_ready(&self, seconds: u64, what: &str, matches: impl Fn(&Value) -> bool) -> Value {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(seconds);
        loop {
            assert!(std::time::Instant::now() < deadline, "{what}");
            if let Some((503, answer)) = self.readyz().await {
                if matches(&answer) {
                    return answer;
                }
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    }

    /// A journal of $1 from the firm account, with an idempotency key if given.
    fn pay(&self, key: Option<&str>) -> impl std::future::Future<Output = (u16, Value)> {
        let mut request = self.http.post(format!("http://{}/v1/journals", self.listen)).basic_auth(&self.key.0, Some(&self.key.1)).json(&self.pay_body);
        if let Some(key) = key {
            request = request.header("Idempotency-Key", key);
        }
        async move { read(request.send().await.unwrap()).await }
    }

    async fn journals(&self) -> usize {
        let answer = self.http.get(format!("http://{}/v1/journals", self.listen)).basic_auth(&self.key.0, Some(&self.key.1)).send().await.unwrap();
        read(answer).await.1.as_array().unwrap().len()
    }

    async fn stop(self) {
        let _ = self.stop.send(());
        self.task.await.unwrap().unwrap();
    }
}

/// A server whose lease is taken from it (here by SQL, as a node that came back from a long pause
/// would find) stops writing, drops the ledger's state, waits as a standby naming the new holder,
/// and once that lease runs out takes it back in the same process, at a higher epoch, with the
/// same ledger: no restart by hand.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_that_lost_its_lease_asks_for_it_again() {
    let Some(pg) = PgSchema::new("lease_again") else { return };
    let server = PgServer::start(&pg, "again", std::time::Duration::from_secs(2)).await;
    assert_eq!(server.pay(None).await.0, 200);
    let epoch = |pg: &PgSchema| {
        let url = pg.url.clone();
        cashier_store::off_runtime(move || postgres::Client::connect(&url, postgres::NoTls)?.query_one("SELECT epoch FROM cashier_leases", &[]))
            .unwrap()
            .get::<_, i64>(0)
    };
    let before = epoch(&pg);
    pg.sql("UPDATE cashier_leases SET owner = 'thief', epoch = epoch + 1, expires_at = now() + interval '4 seconds'");
    // Standby, naming the thief.
    server.until_not_ready(30, "the server notices it lost its lease", |answer| answer["lease_holder"] == "thief").await;
    let (status, refused) = server.pay(None).await;
    assert_eq!((status, refused["reason"].as_str()), (503, Some("standby")), "{refused}");
    server.until_ready(60, "the server takes its lease back once the thief's runs out").await;
    assert!(!server.task.is_finished(), "the same process serves again");
    assert_eq!(epoch(&pg), before + 2, "the thief's epoch, then the server's new one");
    assert_eq!(server.pay(None).await.0, 200, "it writes again");
    assert_eq!(server.journals().await, 2, "the same ledger");
    server.stop().await;
    drop(pg);
}

/// A database that stops answering without closing the connection (a frozen primary; here a
/// table locked by another session) stands the writes still: `/readyz` says so within seconds,
/// whether the writer waits on a commit or on a read the next command needs (an idempotency key
/// not in memory), and is ready again once the database answers, with nothing lost.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readyz_says_when_the_database_stops_answering() {
    let Some(pg) = PgSchema::new("stalled") else { return };
    let server = PgServer::start(&pg, "stalled", std::time::Duration::from_secs(10)).await;
    assert_eq!(server.pay(None).await.0, 200);
    // The table a keyed command reads first, then the one every commit writes.
    for (table, key) in [("idempotency_keys", Some("stalled-1")), ("meta", None)] {
        let (locked, unlock) = (std::sync::mpsc::channel::<()>(), std::sync::mpsc::channel::<()>());
        let url = pg.url.clone();
        let holder = std::thread::spawn(move || {
            let mut client = postgres::Client::connect(&url, postgres::NoTls).unwrap();
            client.batch_execute(&format!("BEGIN; LOCK TABLE {table} IN ACCESS EXCLUSIVE MODE")).unwrap();
            locked.0.send(()).unwrap();
            let _ = unlock.1.recv();
            client.batch_execute("ROLLBACK").unwrap();
        });
        locked.1.recv().unwrap();
        let waiting = tokio::spawn(server.pay(key));
        let answer = server
            .until_not_ready(20, &format!("not ready while {table} does not answer"), |answer| {
                answer["message"].as_str().is_some_and(|m| m.contains("has not answered the writer"))
            })
            .await;
        assert_eq!((answer["code"].as_u64(), answer["reason"].as_str()), (Some(50310000), Some("unavailable")), "{answer}");
        assert!(!waiting.is_finished(), "the write waits for the database");
        unlock.0.send(()).unwrap();
        holder.join().unwrap();
        assert_eq!(waiting.await.unwrap().0, 200, "the write goes through once {table} answers");
        server.until_ready(20, "ready again").await;
    }
    assert_eq!(server.journals().await, 3, "nothing lost, nothing doubled");
    server.stop().await;
    drop(pg);
}

/// A read of the store that a command needs and the store fails (here its key table is renamed
/// away; in a failover, the database is not there) stops the writes: that command answers 503
/// `unavailable` with nothing done, `/readyz` answers 503 while the ledger reloads, the writes
/// waiting meanwhile go through once the store answers, and the refused key's retry takes effect
/// once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_read_stops_the_writes_until_the_store_answers() {
    let Some(pg) = PgSchema::new("failed_read") else { return };
    let server = PgServer::start(&pg, "failed-read", std::time::Duration::from_secs(10)).await;
    assert_eq!(server.pay(None).await.0, 200);
    pg.sql("ALTER TABLE idempotency_keys RENAME TO idempotency_keys_away");
    let (status, refused) = server.pay(Some("read-1")).await;
    assert_eq!((status, refused["reason"].as_str()), (503, Some("unavailable")), "{refused}");
    server
        .until_not_ready(20, "not ready while the store fails", |answer| answer["message"].as_str().is_some_and(|m| m.contains("failing")))
        .await;
    let waiting = tokio::spawn(server.pay(None));
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    assert!(!waiting.is_finished(), "writes wait while the ledger reloads");
    pg.sql("ALTER TABLE idempotency_keys_away RENAME TO idempotency_keys");
    server.until_ready(30, "ready once the store answers").await;
    assert_eq!(waiting.await.unwrap().0, 200, "the write that waited goes through");
    let (first, again) = (server.pay(Some("read-1")).await, server.pay(Some("read-1")).await);
    assert_eq!((first.0, again.0), (200, 200));
    assert_eq!(first.1["id"], again.1["id"], "the retry answers the first result");
    assert_eq!(server.journals().await, 3, "nothing lost, nothing doubled");
    server.stop().await;
    drop(pg);
}

/// A body is read one way only: a key given twice is refused naming it, and a write that is not
/// `application/json` answers 415 (a cross-site form cannot post JSON with cached credentials).
#[tokio::test]
async fn input_is_unambiguous() {
    let app = TestApp::spawn("unambiguous").await;
    let (firm, customer) = (app.id("firm_account_id"), app.customer(0));
    let twice = format!(r#"{{"entry_type":"JNLC","from_account":"{firm}","to_account":"{customer}","amount":"1","amount":"40"}}"#);
    let post = |path: &str, body: String, content_type: Option<&str>| {
        let request = app.as_correspondent(Method::POST, path).body(body);
        match content_type {
            Some(t) => request.header("content-type", t),
            None => request,
        }
    };
    let (status, error) = read(post("/v1/journals", twice.clone(), Some("application/json")).send().await.unwrap()).await;
    assert_eq!((status, error["reason"].as_str()), (400, Some("duplicate_key")), "{error}");
    assert!(error["message"].as_str().unwrap().starts_with("amount: "), "{error}");
    let nested = format!(
        r#"{{"entry_type":"JNLC","from_account":"{firm}","entries":[{{"to_account":"{customer}","amount":"1","to_account":"{customer}"}}]}}"#
    );
    let (status, error) = read(post("/v1/journals/batch", nested, Some("application/json")).send().await.unwrap()).await;
    assert_eq!((status, error["reason"].as_str()), (400, Some("duplicate_key")), "a key twice at any depth: {error}");
    let once = format!(r#"{{"entry_type":"JNLC","from_account":"{firm}","to_account":"{customer}","amount":"1.5"}}"#);
    for refused in [Some("text/plain"), Some("application/x-www-form-urlencoded"), Some("multipart/form-data; boundary=x"), None] {
        let (status, error) = read(post("/v1/journals", once.clone(), refused).send().await.unwrap()).await;
        assert_eq!((status, error["reason"].as_str()), (415, Some("unsupported_media_type")), "{refused:?}: {error}");
    }
    let advance = operator(&app, Method::POST, "/admin/v1/business_day").header("content-type", "text/plain").body("");
    assert_eq!(read(advance.send().await.unwrap()).await.0, 415, "a bodiless write is JSON too");
    let (status, journal) = read(post("/v1/journals", once, Some("Application/JSON; charset=utf-8")).send().await.unwrap()).await;
    assert_eq!(status, 200, "{journal}");
    let (_, journals) = read(app.as_correspondent(Method::GET, "/v1/journals").send().await.unwrap()).await;
    let amounts: Vec<&str> = journals.as_array().unwrap().iter().map(|j| j["net_amount"].as_str().unwrap()).collect();
    assert_eq!(amounts, ["1.5"], "nothing else was booked");
    app.stop().await;
}

async fn commands_taken(app: &TestApp) -> u64 {
    let metrics = app.http.get(app.url("/metrics")).send().await.unwrap().text().await.unwrap();
    let line = metrics.lines().find(|l| l.starts_with("cashier_sequencer_commands_total ")).expect("the metric");
    line.split(' ').nth(1).unwrap().parse::<f64>().unwrap() as u64
}

async fn executed_soon(app: &TestApp, id: &str) {
    for _ in 0..200 {
        if app.journal_status(id).await == "executed" {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    panic!("journal {id} was not cleared");
}

/// The clearing worker runs no command while nothing waits, and wakes when a journal does.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_ledger_is_idle() {
    let app = TestApp::spawn_with("idle", |c| cashier_server::Config { clearing_delay: Some(std::time::Duration::ZERO), ..c }).await;
    let first = app.pay("2", "before the quiet").await;
    executed_soon(&app, &first).await;
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let before = commands_taken(&app).await;
    tokio::time::sleep(std::time::Duration::from_secs(1)).await;
    assert_eq!(commands_taken(&app).await, before, "an idle ledger ran commands");
    let second = app.pay("3", "after the quiet").await;
    executed_soon(&app, &second).await;
    app.stop().await;
}

/// Operators list keys (no secret), mint correspondent keys and named operator keys, and revoke
/// any key with immediate effect; every such action needs a reason and is in the audit trail;
/// four-eyes needs a differently named operator, not merely another key.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operators_manage_keys_with_reasons() {
    let app = TestApp::spawn_with("keys", |c| cashier_server::Config { four_eyes_over: Some(10_000), ..c }).await;
    let as_key = |method, path: &str, key: &(String, String)| app.http.request(method, app.url(path)).basic_auth(&key.0, Some(&key.1));
    let (status, listed) = read(operator(&app, Method::GET, "/admin/v1/keys").send().await.unwrap()).await;
    assert_eq!(status, 200, "{listed}");
    let text = listed.to_string();
    assert!(text.contains(&app.id("api_key")) && text.contains(&app.id("operator_key")), "{text}");
    assert!(!text.contains(&app.id("api_secret")) && !text.contains(&app.id("operator_secret")) && !text.contains("secret"), "{text}");
    let sandbox_operator = listed.as_array().unwrap().iter().find(|k| k["key_id"] == app.id("operator_key").as_str()).unwrap().clone();
    assert_eq!(sandbox_operator["name"], "sandbox operator");
    assert!(sandbox_operator["last_used_at"].is_string(), "the key just used has a last use: {sandbox_operator}");

    // Every operator action on a key or an account needs a reason.
    let mint = |body: Value| operator(&app, Method::POST, "/admin/v1/keys").json(&body);
    let (status, error) = read(mint(json!({"name": "Bea"})).send().await.unwrap()).await;
    assert_eq!((status, error["reason"].as_str()), (400, Some("reason_required")), "{error}");
    let (status, error) = read(mint(json!({"reason": "no name"})).send().await.unwrap()).await;
    assert_eq!((status, error["reason"].as_str()), (400, Some("invalid_name")), "an operator key is for a named person: {error}");
    let firm = app.id("firm_account_id");
    for (path, body) in [
        (format!("/admin/v1/accounts/{firm}/wires"), json!({"amount": "10"})),
        (format!("/admin/v1/accounts/{}/status", app.customer(1)), json!({"status": "ACCOUNT_CLOSED"})),
        (format!("/admin/v1/accounts/{}/blocks", app.customer(1)), json!({"account_blocked": true})),
    ] {
        let (status, error) = read(operator(&app, Method::POST.clone(), &path).json(&body).send().await.unwrap()).await;
        let (status, error) =
            if status == 405 { read(operator(&app, Method::PUT, &path).json(&body).send().await.unwrap()).await } else { (status, error) };
        assert_eq!((status, error["reason"].as_str()), (400, Some("reason_required")), "{path}: {error}");
    }

    let minted = |body: Value| async move {
        let (status, key) = read(mint(body).send().await.unwrap()).await;
        assert_eq!(status, 200, "{key}");
        (key["key_id"].as_str().unwrap().to_owned(), key["secret"].as_str().unwrap().to_owned())
    };
    // The first operator names the second alone; from then on every key takes two operators,
    // and the secret goes to the one whose request carried it out.
    let bea = minted(json!({"name": "Bea", "reason": "joined the desk"})).await;
    let second_laptop = json!({"name": "Bea", "reason": "a second laptop"});
    let (status, asked) = read(mint(second_laptop.clone()).send().await.unwrap()).await;
    assert_eq!((status, asked["awaiting_confirmation"]["action"].as_str()), (202, Some("api_key_issued")), "{asked}");
    let (status, key) = read(as_key(Method::POST, "/admin/v1/keys", &bea).json(&second_laptop).send().await.unwrap()).await;
    assert_eq!(status, 200, "Bea confirms: {key}");
    let bea_again = (key["key_id"].as_str().unwrap().to_owned(), key["secret"].as_str().unwrap().to_owned());
    let correspondent = app.id("correspondent_id");
    let path = format!("/admin/v1/correspondents/{correspondent}/keys");
    let rotation = json!({"reason": "rotation", "name": "backend"});
    let (status, asked) = read(operator(&app, Method::POST, &path).json(&rotation).send().await.unwrap()).await;
    assert_eq!(status, 202, "{asked}");
    let (status, key) = read(as_key(Method::POST, &path, &bea).json(&rotation).send().await.unwrap()).await;
    assert_eq!(status, 200, "{key}");
    let partner = (key["key_id"].as_str().unwrap().to_owned(), key["secret"].as_str().unwrap().to_owned());
    assert_eq!(read(as_key(Method::GET, "/v1/journals?limit=1", &partner).send().await.unwrap()).await.0, 200);

    // Four-eyes: a journal over the threshold needs a second operator by name.
    let (status, held) = read(
        app.as_correspondent(Method::POST, "/v1/journals")
            .json(&json!({"entry_type": "JNLC", "from_account": firm, "to_account": app.customer(0), "amount": "200"}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!((status, held["status"].as_str()), (200, Some("pending")), "{held}");
    let approve = format!("/admin/v1/journals/{}/approve", held["id"].as_str().unwrap());
    let (status, error) = read(as_key(Method::POST, &approve, &bea).json(&json!({})).send().await.unwrap()).await;
    assert_eq!((status, error["reason"].as_str()), (400, Some("reason_required")), "approving needs a reason: {error}");
    let (status, asked) = read(as_key(Method::POST, &approve, &bea).json(&json!({"reason": "known"})).send().await.unwrap()).await;
    assert_eq!(status, 202, "{asked}");
    assert_eq!(asked["awaiting_confirmation"]["requested_by"], "operator Bea", "{asked}");
    let (status, error) = read(as_key(Method::POST, &approve, &bea_again).json(&json!({"reason": "me again"})).send().await.unwrap()).await;
    assert_eq!((status, error["reason"].as_str()), (409, Some("second_operator_required")), "another key of Bea's: {error}");
    let (status, done) = read(operator(&app, Method::POST, &approve).json(&json!({"reason": "checked"})).send().await.unwrap()).await;
    assert_eq!((status, done["journals"][0]["status"].as_str()), (200, Some("queued")), "{done}");

    // Revocation: the next request answers 401, and the key's open event streams close.
    let mut stream = as_key(Method::GET, "/v2/events/journals/status", &partner).send().await.unwrap();
    assert_eq!(stream.status(), 200);
    let revoke = format!("/admin/v1/keys/{}/revoke", partner.0);
    let (status, error) = read(operator(&app, Method::POST, &revoke).json(&json!({})).send().await.unwrap()).await;
    assert_eq!((status, error["reason"].as_str()), (400, Some("reason_required")), "{error}");
    let (status, revoked) = read(operator(&app, Method::POST, &revoke).json(&json!({"reason": "leaked"})).send().await.unwrap()).await;
    assert_eq!((status, revoked["revoked"].as_bool()), (200, Some(true)), "{revoked}");
    assert_eq!(read(as_key(Method::GET, "/v1/journals?limit=1", &partner).send().await.unwrap()).await.0, 401);
    let ended = tokio::time::timeout(std::time::Duration::from_secs(10), async { while let Ok(Some(_)) = stream.chunk().await {} }).await;
    assert!(ended.is_ok(), "the revoked key's stream is still open");

    // The audit trail has who and why for each key minted and revoked.
    let trail = audit_trail(&app);
    for expected in
        [r#""action":"api_key_issued""#, r#""reason":"joined the desk""#, r#""action":"api_key_revoked""#, r#""reason":"leaked""#]
    {
        assert!(trail.contains(expected), "{expected} missing from the audit trail:\n{trail}");
    }
    assert!(trail.contains(r#""operator":"sandbox operator""#), "{trail}");
    app.stop().await;
}

/// Outside the sandbox a transfer waits queued (an outgoing one holding its cash) until
/// operations record what the bank did: reject (the hold released), complete (the money moves),
/// return (it moves back); each needs a reason and is audited.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operators_finish_transfers_outside_the_sandbox() {
    // A sandbox ledger, then the same store served outside the sandbox, where transfers wait.
    let dir = common::TempDir::new("transfers");
    let first = cashier_server::start(common::config(&dir, None)).await.expect("starts");
    first.stop().await.unwrap();
    let running = cashier_server::start(cashier_server::Config { sandbox: false, ..common::config(&dir, None) }).await.expect("restarts");
    let sandbox: Value = serde_json::from_str(&std::fs::read_to_string(dir.0.join("sandbox.json")).unwrap()).unwrap();
    let app = TestApp { running: Some(running), sandbox, http: reqwest::Client::new(), dir };
    let alice = app.customer(0);
    app.pay("40", "to withdraw").await;
    app.clear().await;
    let account = format!("/v1/trading/accounts/{alice}/account");
    let withdrawable =
        || async { read(app.as_correspondent(Method::GET, &account).send().await.unwrap()).await.1["cash_withdrawable"].clone() };
    assert_eq!(withdrawable().await, "40.00");
    let transfer = |direction: &str, amount: &str| {
        let body = json!({"transfer_type": "ach", "direction": direction, "amount": amount, "relationship_id": "00000000-0000-4000-8000-000000000000"});
        app.as_correspondent(Method::POST, &format!("/v1/accounts/{alice}/transfers")).json(&body).send()
    };
    let (status, out) = read(transfer("OUTGOING", "30").await.unwrap()).await;
    assert_eq!((status, out["status"].as_str()), (200, Some("QUEUED")), "{out}");
    assert_eq!(withdrawable().await, "10.00", "a queued withdrawal holds its cash");
    let (_, queued) = read(operator(&app, Method::GET, "/admin/v1/transfers?status=QUEUED").send().await.unwrap()).await;
    assert_eq!(queued.as_array().unwrap().len(), 1, "{queued}");
    let act = |id: &Value, action: &str, body: Value| {
        operator(&app, Method::POST, &format!("/admin/v1/transfers/{}/{action}", id.as_str().unwrap())).json(&body).send()
    };
    let (status, error) = read(act(&out["id"], "reject", json!({})).await.unwrap()).await;
    assert_eq!((status, error["reason"].as_str()), (400, Some("reason_required")), "{error}");
    let (status, rejected) = read(act(&out["id"], "reject", json!({"reason": "account closed at the bank"})).await.unwrap()).await;
    assert_eq!((status, rejected["status"].as_str()), (200, Some("REJECTED")), "{rejected}");
    assert_eq!(withdrawable().await, "40.00", "the hold is released");
    let (status, error) = read(act(&out["id"], "complete", json!({"reason": "late"})).await.unwrap()).await;
    assert_eq!((status, error["reason"].as_str()), (422, Some("invalid_transition")), "{error}");

    let (_, out) = read(transfer("OUTGOING", "25").await.unwrap()).await;
    let (status, done) = read(act(&out["id"], "complete", json!({"reason": "settled, bank ref 991"})).await.unwrap()).await;
    assert_eq!((status, done["status"].as_str()), (200, Some("COMPLETE")), "{done}");
    assert_eq!(withdrawable().await, "15.00");
    let (status, back) = read(act(&out["id"], "return", json!({"reason": "returned R01"})).await.unwrap()).await;
    assert_eq!((status, back["status"].as_str()), (200, Some("RETURNED")), "{back}");
    assert_eq!(withdrawable().await, "40.00", "the money came back");
    let (_, incoming) = read(transfer("INCOMING", "10").await.unwrap()).await;
    assert_eq!(incoming["status"], "QUEUED");
    assert_eq!(withdrawable().await, "40.00", "a deposit counts once the bank settles it");
    read(act(&incoming["id"], "complete", json!({"reason": "settled"})).await.unwrap()).await;
    assert_eq!(withdrawable().await, "50.00");

    let (_, report) = read(operator(&app, Method::GET, "/admin/v1/reconciliation").send().await.unwrap()).await;
    assert_eq!(report["invariants"], "hold", "{report}");
    let trail = audit_trail(&app);
    for expected in ["transfer_rejected", "account closed at the bank", "transfer_completed", "transfer_returned", "returned R01"] {
        assert!(trail.contains(expected), "{expected} missing from the audit trail:\n{trail}");
    }
    app.stop().await;
}

/// The operator actions the store's log holds, one `detail` a line, in order.
fn audit_trail(app: &TestApp) -> String {
    let db = rusqlite::Connection::open(app.dir.0.join("cashier.db")).unwrap();
    let mut query = db.prepare("SELECT detail FROM events WHERE kind = 'operator_action' ORDER BY seq").unwrap();
    let details: Vec<String> = query.query_map([], |r| r.get(0)).unwrap().map(Result::unwrap).collect();
    details.join("\n")
}
