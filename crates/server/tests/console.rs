//! The operations console over real HTTP: sign-in, sessions, CSRF, the pages, and the actions
//! (approve, reject, reverse, correct, four-eyes) with their audit trail.

mod common;

use common::{read, TestApp};
use reqwest::{redirect, Method, StatusCode};

/// A console user: its own session cookie, no redirects followed.
struct Desk<'a> {
    app: &'a TestApp,
    http: reqwest::Client,
    session: Option<String>,
}

fn between<'t>(text: &'t str, start: &str, end: &str) -> Option<&'t str> {
    let from = text.find(start)? + start.len();
    Some(&text[from..from + text[from..].find(end)?])
}

fn set_cookie(response: &reqwest::Response, name: &str) -> Option<String> {
    response
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|v| v.strip_prefix(&format!("{name}=")).map(|rest| rest.split(';').next().unwrap_or_default().to_owned()))
}

impl<'a> Desk<'a> {
    fn new(app: &'a TestApp) -> Desk<'a> {
        Desk { app, http: reqwest::Client::builder().redirect(redirect::Policy::none()).build().unwrap(), session: None }
    }

    /// Signs in with a key; returns the status and the page or redirect target.
    async fn sign_in(&mut self, key: &str, secret: &str) -> (StatusCode, String) {
        let form = self.http.get(self.app.url("/console/login")).send().await.unwrap();
        assert_eq!(form.status(), 200);
        let login_cookie = set_cookie(&form, "cashier_login").expect("a sign-in cookie");
        assert!(form.headers()["set-cookie"].to_str().unwrap().contains("HttpOnly; Secure; SameSite=Strict"));
        let page = form.text().await.unwrap();
        let nonce = between(&page, r#"name="nonce" value=""#, "\"").unwrap().to_owned();
        let response = self
            .http
            .post(self.app.url("/console/login"))
            .header("cookie", format!("cashier_login={login_cookie}"))
            .form(&[("nonce", nonce.as_str()), ("key_id", key), ("secret", secret)])
            .send()
            .await
            .unwrap();
        let status = response.status();
        if let Some(session) = set_cookie(&response, "cashier_console") {
            self.session = Some(session);
        }
        let location = response.headers().get("location").map(|l| l.to_str().unwrap().to_owned());
        (status, location.unwrap_or(response.text().await.unwrap()))
    }

    fn request(&self, method: Method, path: &str) -> reqwest::RequestBuilder {
        let request = self.http.request(method, self.app.url(path));
        match &self.session {
            Some(s) => request.header("cookie", format!("cashier_console={s}")),
            None => request,
        }
    }

    async fn page(&self, path: &str) -> (StatusCode, String) {
        let response = self.request(Method::GET, path).send().await.unwrap();
        let status = response.status();
        if status.is_redirection() {
            return (status, response.headers()["location"].to_str().unwrap().to_owned());
        }
        (status, response.text().await.unwrap())
    }

    async fn csrf(&self) -> String {
        let (_, page) = self.page("/console/pending").await;
        between(&page, r#"name="csrf" value=""#, "\"").expect("a CSRF token").to_owned()
    }

    /// Posts a form with the session's CSRF token; returns the status and where it leads.
    async fn post(&self, path: &str, fields: &[(&str, &str)]) -> (StatusCode, String) {
        let csrf = self.csrf().await;
        let mut form: Vec<(&str, &str)> = vec![("csrf", csrf.as_str())];
        form.extend_from_slice(fields);
        let response = self.request(Method::POST, path).form(&form).send().await.unwrap();
        let status = response.status();
        let location = response.headers().get("location").map(|l| l.to_str().unwrap().to_owned());
        (status, location.unwrap_or(response.text().await.unwrap()))
    }

    /// The message the next page shows.
    async fn flash(&self) -> String {
        let (_, page) = self.page("/console/pending").await;
        between(&page, r#"<p class="flash"#, "</p>").map(|f| f.split_once('>').unwrap().1.to_owned()).unwrap_or_default()
    }
}

async fn cash(app: &TestApp) -> String {
    let path = format!("/v1/trading/accounts/{}/account", app.customer(0));
    let (_, account) = read(app.as_correspondent(Method::GET, &path).send().await.unwrap()).await;
    account["cash"].as_str().unwrap().to_owned()
}

/// A second operator key.
async fn second_operator(app: &TestApp) -> (String, String) {
    let sequencer = app.running.as_ref().unwrap().app.sequencer.clone();
    let (key, secret, hash) = cashier_server::auth::mint("OK");
    let command = cashier_core::Command::IssueApiKey {
        key_id: key.clone(),
        name: Some("second operator".into()),
        owner: cashier_core::KeyOwner::Operator,
        secret_sha256: hash,
    };
    sequencer.submit(command).await.unwrap();
    (key, secret)
}

#[tokio::test]
async fn sign_in_sessions_and_csrf() {
    let app = TestApp::spawn("console-sessions").await;
    let mut desk = Desk::new(&app);
    assert_eq!(desk.page("/console/pending").await, (StatusCode::SEE_OTHER, "/console/login".into()), "signed out: to sign-in");
    let (status, page) = desk.sign_in(&app.id("operator_key"), "wrong secret").await;
    assert_eq!(status, 401);
    assert!(page.contains("do not sign in an operator"), "{page}");
    let (status, _) = desk.sign_in(&app.id("api_key"), &app.id("api_secret")).await;
    assert_eq!(status, 401, "a correspondent's key does not open the console");
    // Guessing is slowed down: after five failures in a minute, even the right secret waits.
    let (key, secret) = second_operator(&app).await;
    for _ in 0..5 {
        assert_eq!(desk.sign_in(&key, "guess").await.0, 401);
    }
    let (status, page) = desk.sign_in(&key, &secret).await;
    assert_eq!(status, 429);
    assert!(page.contains("Too many failed sign-ins"), "{page}");
    assert!(desk.session.is_none());
    // Without the sign-in form's cookie (a form posted from elsewhere) nothing happens.
    let forged = desk
        .http
        .post(app.url("/console/login"))
        .form(&[("nonce", "x"), ("key_id", app.id("operator_key").as_str()), ("secret", app.id("operator_secret").as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), 403);
    assert!(set_cookie(&forged, "cashier_console").is_none());
    assert!(desk.session.is_none());
    let (status, to) = desk.sign_in(&app.id("operator_key"), &app.id("operator_secret")).await;
    assert_eq!((status, to.as_str()), (StatusCode::SEE_OTHER, "/console/pending"));
    for path in ["/console/pending", "/console/journals", "/console/accounts", "/console/events", "/console/reconciliation"] {
        let (status, page) = desk.page(path).await;
        assert_eq!(status, 200, "{path}");
        assert!(page.contains("Sign out") && page.contains(&app.id("operator_key")), "{path}");
    }
    let (status, page) = desk.page(&format!("/console/accounts/{}", app.id("firm_account_id"))).await;
    assert_eq!(status, 200);
    assert!(page.contains("1,000,000.00 USD"), "{page}");
    let (status, page) = desk.page("/console/journals/not-an-id").await;
    assert_eq!(status, 404);
    assert!(page.contains("not a journal id") && !page.contains("panicked"));
    // A form without the session's CSRF token changes nothing.
    let journal = app.pay("80", "").await;
    let response = desk
        .request(Method::POST, &format!("/console/journals/{journal}/act"))
        .form(&[("action", "approve"), ("csrf", "0000")])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 403);
    assert_eq!(app.journal_status(&journal).await, "pending");
    // Another session's token does not do either.
    let mut other = Desk::new(&app);
    other.sign_in(&app.id("operator_key"), &app.id("operator_secret")).await;
    let theirs = other.csrf().await;
    let response = desk
        .request(Method::POST, &format!("/console/journals/{journal}/act"))
        .form(&[("action", "approve"), ("csrf", theirs.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 403);
    assert_eq!(app.journal_status(&journal).await, "pending");
    // Signing out ends the session; a revoked key ends the other.
    assert_eq!(desk.post("/console/logout", &[]).await, (StatusCode::SEE_OTHER, "/console/login".into()));
    assert_eq!(desk.page("/console/pending").await.0, StatusCode::SEE_OTHER);
    let sequencer = app.running.as_ref().unwrap().app.sequencer.clone();
    assert_eq!(other.page("/console/pending").await.0, 200);
    sequencer.submit(cashier_core::Command::RevokeApiKey { key_id: app.id("operator_key") }).await.unwrap();
    assert_eq!(other.page("/console/pending").await, (StatusCode::SEE_OTHER, "/console/login".into()));
    app.stop().await;
}

#[tokio::test]
async fn actions_from_the_console_with_four_eyes_and_their_audit_trail() {
    let app = TestApp::spawn_with("console-actions", |c| cashier_server::Config { four_eyes_over: Some(15_000), ..c }).await;
    let mut desk = Desk::new(&app);
    desk.sign_in(&app.id("operator_key"), &app.id("operator_secret")).await;
    // Approve from the pending queue ($60 and, below, its reversal: $120 of the $150 one
    // operator may move alone in a day).
    let small = app.pay("60", "").await;
    let (_, page) = desk.page("/console/pending").await;
    assert!(page.contains(&small), "the pending queue lists it");
    let (status, to) = desk
        .post(
            &format!("/console/journals/{small}/act"),
            &[("action", "approve"), ("reason", "known customer"), ("back", "/console/pending")],
        )
        .await;
    assert_eq!((status, to.as_str()), (StatusCode::SEE_OTHER, "/console/pending"));
    assert!(desk.flash().await.contains("is now queued"));
    assert_eq!(app.journal_status(&small).await, "queued");
    app.clear().await;
    assert_eq!(cash(&app).await, "60.00");
    // An action the status does not allow is refused in the page.
    desk.post(&format!("/console/journals/{small}/act"), &[("action", "approve"), ("reason", "once more")]).await;
    let flash = desk.flash().await;
    assert!(flash.contains("approve refused") && flash.contains("not in a status"), "{flash}");
    // Where a form leads back to is a console page, and nothing else.
    for back in ["https://elsewhere.example/", "//elsewhere.example/x", "/console/x\nSet-Cookie: a=b", "/console/\\elsewhere"] {
        let (status, to) = desk.post(&format!("/console/journals/{small}/act"), &[("action", "cancel"), ("back", back)]).await;
        assert_eq!((status, to), (StatusCode::SEE_OTHER, format!("/console/journals/{small}")), "{back:?}");
    }
    // Reverse needs a reason; with one, the money goes back.
    let (_, page) = desk.page(&format!("/console/journals/{small}/confirm/reverse")).await;
    assert!(page.contains("Confirm reverse"), "{page}");
    desk.post(&format!("/console/journals/{small}/act"), &[("action", "reverse")]).await;
    assert!(desk.flash().await.contains("needs a reason"));
    desk.post(&format!("/console/journals/{small}/act"), &[("action", "reverse"), ("reason", "sent twice")]).await;
    assert_eq!((app.journal_status(&small).await.as_str(), cash(&app).await.as_str()), ("canceled", "0.00"));
    let (_, page) = desk.page(&format!("/console/journals/{small}")).await;
    assert!(page.contains("executed → canceled") && page.contains("sent twice"), "the timeline shows who and why");
    // Over the four-eyes threshold: the first operator asks, the same one cannot confirm, a
    // second one does.
    let big = app.pay("200", "").await;
    desk.post(&format!("/console/journals/{big}/act"), &[("action", "approve"), ("reason", "known customer")]).await;
    assert!(desk.flash().await.contains("second operator must confirm"));
    assert_eq!(app.journal_status(&big).await, "pending");
    let (_, page) = desk.page(&format!("/console/journals/{big}")).await;
    assert!(page.contains(r#"id="four-eyes""#) && page.contains("known customer"));
    desk.post(&format!("/console/journals/{big}/act"), &[("action", "approve"), ("reason", "again")]).await;
    assert!(desk.flash().await.contains("different operator"));
    assert_eq!(app.journal_status(&big).await, "pending");
    let (key, secret) = second_operator(&app).await;
    let mut second = Desk::new(&app);
    second.sign_in(&key, &secret).await;
    second.post(&format!("/console/journals/{big}/act"), &[("action", "approve"), ("reason", "checked")]).await;
    assert!(second.flash().await.contains("is now queued"));
    app.clear().await;
    assert_eq!(cash(&app).await, "200.00");
    // A correction over the threshold, confirmed by the other operator: a new journal, linked.
    desk.post(&format!("/console/journals/{big}/act"), &[("action", "correct"), ("amount", "120"), ("reason", "fee")]).await;
    second.post(&format!("/console/journals/{big}/act"), &[("action", "correct"), ("amount", "120"), ("reason", "agreed")]).await;
    let flash = second.flash().await;
    assert!(flash.contains("replaced by journal"), "{flash}");
    assert_eq!((app.journal_status(&big).await.as_str(), cash(&app).await.as_str()), ("correct", "120.00"));
    let (_, page) = second.page(&format!("/console/journals/{big}")).await;
    assert!(page.contains("Corrected by") && page.contains("four-eyes: asked by operator"), "{page}");
    // Search finds it by status; the account page shows the balance.
    let (_, page) = desk.page("/console/journals?status=correct").await;
    assert!(page.contains(&big) && !page.contains(&small));
    let (_, page) = desk.page(&format!("/console/accounts/{}", app.customer(0))).await;
    assert!(between(&page, r#"<tr data-asset="USD">"#, "</tr>").is_some_and(|row| row.contains("120.00 USD")), "{page}");
    // Reconciliation holds; the sandbox day moves on from it.
    let (status, _) = desk.page("/console/reconciliation?older_than_minutes=18446744073709551615").await;
    assert_eq!(status, 200);
    let (_, page) = desk.page("/console/reconciliation?older_than_minutes=0").await;
    assert!(page.contains(r#"<dd id="invariants"><span class="ok">hold</span>"#), "{page}");
    assert!(page.contains(r#"<dd id="full-check"><span class="ok">"#) && page.contains("reconcile</span>"), "{page}");
    let before = app.running.as_ref().unwrap().app.sequencer.read(|s| s.business_date());
    desk.post("/console/business_day", &[]).await;
    let after = app.running.as_ref().unwrap().app.sequencer.read(|s| s.business_date());
    assert_eq!(after, cashier_core::Calendar::default().after(before), "the next weekday");
    desk.post("/console/business_day", &[("date", "2099-01-03")]).await;
    assert!(desk.flash().await.contains("weekend day or a holiday"));
    app.stop().await;
}

#[tokio::test]
async fn an_idle_session_ends() {
    let idle = std::time::Duration::from_millis(300);
    let app = TestApp::spawn_with("console-idle", |c| cashier_server::Config { console_idle: idle, ..c }).await;
    let mut desk = Desk::new(&app);
    desk.sign_in(&app.id("operator_key"), &app.id("operator_secret")).await;
    assert_eq!(desk.page("/console/pending").await.0, 200);
    tokio::time::sleep(idle / 2).await;
    assert_eq!(desk.page("/console/pending").await.0, 200, "each request keeps it alive");
    tokio::time::sleep(idle * 2).await;
    assert_eq!(desk.page("/console/pending").await, (StatusCode::SEE_OTHER, "/console/login".into()));
    app.stop().await;
}

/// A journal refused at booking says why, the same in the API, the event stream and the
/// console's timeline: insufficient cash, insufficient shares, or a blocked account.
#[tokio::test]
async fn refused_journals_say_why() {
    let app = TestApp::spawn("console-refused").await;
    refusals(&app).await;
    app.stop().await;
}

async fn refusals(app: &TestApp) {
    let (firm, alice, bob) = (app.id("firm_account_id"), app.customer(0), app.customer(1));
    let create = |body: serde_json::Value| async move {
        let (status, j) = read(app.as_correspondent(Method::POST, "/v1/journals").json(&body).send().await.unwrap()).await;
        assert_eq!(status, 200, "{j}");
        j["id"].as_str().unwrap().to_owned()
    };
    let operator =
        |method, path: &str| app.http.request(method, app.url(path)).basic_auth(app.id("operator_key"), Some(app.id("operator_secret")));
    let limits = serde_json::json!({"per_journal": "2000000", "daily": "5000000", "securities_per_journal": "100000000", "securities_daily": "500000000", "reason": "a large customer"});
    let raised = operator(Method::PUT, &format!("/admin/v1/accounts/{alice}/limits")).json(&limits);
    assert_eq!(read(raised.send().await.unwrap()).await.0, 200);
    // Two journals that each fit now but not both: the second is refused when booked.
    let cash = |to: &str| serde_json::json!({"entry_type": "JNLC", "from_account": firm, "to_account": to, "amount": "600000"});
    let (cash_ok, cash_refused) = (create(cash(&alice)).await, create(cash(&alice)).await);
    let path = format!("/v1/trading/accounts/{firm}/positions/AAPL");
    let (_, position) = read(app.as_correspondent(Method::GET, &path).send().await.unwrap()).await;
    assert!(position["qty"].is_string(), "{position}");
    let held: f64 = position["qty"].as_str().unwrap().parse().unwrap();
    let shares = serde_json::json!({"entry_type": "JNLS", "from_account": firm, "to_account": alice, "symbol": "AAPL", "qty": format!("{}", (held * 0.6).floor())});
    let (shares_ok, shares_refused) = (create(shares.clone()).await, create(shares).await);
    let blocked = create(serde_json::json!({"entry_type": "JNLC", "from_account": firm, "to_account": bob, "amount": "1"})).await;
    let block = operator(Method::PUT, &format!("/admin/v1/accounts/{bob}/blocks"))
        .json(&serde_json::json!({"account_blocked": true, "reason": "fraud review"}));
    assert_eq!(read(block.send().await.unwrap()).await.0, 200);
    app.clear().await;
    let expected = [
        (&cash_ok, None),
        (&cash_refused, Some("insufficient_funds")),
        (&shares_ok, None),
        (&shares_refused, Some("insufficient_qty")),
        (&blocked, Some("account_blocked")),
    ];
    for (id, why) in expected {
        let (_, j) = read(app.as_correspondent(Method::GET, &format!("/v1/journals/{id}")).send().await.unwrap()).await;
        assert_eq!(j["status"], if why.is_some() { "refused" } else { "executed" }, "{j}");
        assert_eq!(j["refused_for"].as_str(), why, "{j}");
        assert_eq!(j["error_message"].is_string(), why.is_some(), "the Broker API's error_message: {j}");
    }
    // The event stream, replayed: each refusal carries its reason.
    let refusals = expected.iter().filter(|(_, why)| why.is_some()).count();
    let (status, stream) = read_stream(app, "/v1/events/journals/status?since_id=1", refusals).await;
    assert_eq!(status, 200);
    for (id, why) in expected.iter().filter_map(|(id, why)| why.map(|w| (id, w))) {
        let event = stream
            .lines()
            .filter_map(|l| l.strip_prefix("data:"))
            .map(|d| serde_json::from_str::<serde_json::Value>(d.trim()).unwrap())
            .find(|e| e["journal_id"] == id.as_str() && e["status_to"] == "refused")
            .unwrap_or_else(|| panic!("no refused event for {id}: {stream}"));
        assert_eq!(event["reason"], why, "{event}");
    }
    let mut desk = Desk::new(app);
    assert_eq!(desk.sign_in(&app.id("operator_key"), &app.id("operator_secret")).await.0, StatusCode::SEE_OTHER);
    let (_, page) = desk.page(&format!("/console/journals/{shares_refused}")).await;
    assert!(page.contains("insufficient_qty"), "the timeline says why: {page}");
    let (_, page) = desk.page(&format!("/console/journals/{blocked}")).await;
    assert!(page.contains("account_blocked"), "the timeline says why: {page}");
}

/// An event stream, read until it has shown `refusals` refused journals (10 s at most).
async fn read_stream(app: &TestApp, path: &str, refusals: usize) -> (StatusCode, String) {
    let mut response = app.as_correspondent(Method::GET, path).send().await.unwrap();
    let status = response.status();
    let mut text = String::new();
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    while text.matches(r#""status_to":"refused""#).count() < refusals {
        match tokio::time::timeout_at(deadline, response.chunk()).await {
            Ok(Ok(Some(chunk))) => text.push_str(&String::from_utf8_lossy(&chunk)),
            _ => break,
        }
    }
    (status, text)
}

/// The keys page lists every key without a secret, mints a named operator key (its secret shown
/// once), and revokes a key with a reason: the revoked key answers 401 at once.
#[tokio::test]
async fn operators_manage_keys_in_the_console() {
    let app = TestApp::spawn("console-keys").await;
    let mut desk = Desk::new(&app);
    desk.sign_in(&app.id("operator_key"), &app.id("operator_secret")).await;
    let (status, page) = desk.page("/console/keys").await;
    assert_eq!(status, 200);
    assert!(page.contains(&app.id("api_key")) && page.contains("sandbox operator"), "{page}");
    assert!(!page.contains(&app.id("api_secret")) && !page.contains(&app.id("operator_secret")), "no secret on the page");
    let (status, minted) = desk.post("/console/keys/mint", &[("name", "Dee"), ("reason", "joined the desk")]).await;
    assert_eq!(status, 200, "{minted}");
    let secret = between(&minted, r#"<code id="minted-secret">"#, "</code>").expect("the secret, once").to_owned();
    let key = between(&minted, r#"<code id="minted-key">"#, "</code>").unwrap().to_owned();
    let (_, page) = desk.page("/console/keys").await;
    assert!(page.contains(&key) && page.contains("Dee") && !page.contains(&secret), "listed, its secret not shown again");
    // Without a reason nothing is revoked; with one the key stops working at once.
    let revoke = format!("/console/keys/{}/revoke", app.id("api_key"));
    desk.post(&revoke, &[("reason", " ")]).await;
    assert!(desk.flash().await.contains("was not revoked"));
    assert_eq!(read(app.as_correspondent(Method::GET, "/v1/journals?limit=1").send().await.unwrap()).await.0, 200);
    desk.post(&revoke, &[("reason", "leaked in a log")]).await;
    assert!(desk.flash().await.contains("is revoked"));
    assert_eq!(read(app.as_correspondent(Method::GET, "/v1/journals?limit=1").send().await.unwrap()).await.0, 401);
    app.stop().await;
}

/// Outside the sandbox, the transfers page lists what waits and completes it with a reason.
#[tokio::test]
async fn operators_finish_transfers_in_the_console() {
    let dir = common::TempDir::new("console-transfers");
    cashier_server::start(common::config(&dir, None)).await.expect("starts").stop().await.unwrap();
    let running = cashier_server::start(cashier_server::Config { sandbox: false, ..common::config(&dir, None) }).await.expect("restarts");
    let sandbox = serde_json::from_str(&std::fs::read_to_string(dir.0.join("sandbox.json")).unwrap()).unwrap();
    let app = TestApp { running: Some(running), sandbox, http: reqwest::Client::new(), dir };
    let alice = app.customer(0);
    let body = serde_json::json!({"transfer_type": "ach", "direction": "INCOMING", "amount": "12", "relationship_id": "00000000-0000-4000-8000-000000000000"});
    let (_, transfer) =
        read(app.as_correspondent(Method::POST, &format!("/v1/accounts/{alice}/transfers")).json(&body).send().await.unwrap()).await;
    let id = transfer["id"].as_str().unwrap().to_owned();
    let mut desk = Desk::new(&app);
    desk.sign_in(&app.id("operator_key"), &app.id("operator_secret")).await;
    let (_, page) = desk.page("/console/transfers").await;
    let queued = between(&page, r#"<table id="transfers-queued">"#, "</table>").expect("the queued table");
    assert!(queued.contains(&id), "{page}");
    // Each transfer names its correspondent, and the page filters by it.
    let code = app.id("correspondent_code");
    assert!(queued.contains(&format!("<td>{code}</td>")), "{queued}");
    app.other_correspondent().await;
    let (_, mine) = desk.page(&format!("/console/transfers?correspondent={code}")).await;
    assert!(mine.contains(&id), "{mine}");
    let (_, theirs) = desk.page("/console/transfers?correspondent=OTHER").await;
    assert!(!theirs.contains(&id), "{theirs}");
    let (_, accounts) = desk.page("/console/accounts?correspondent=OTHER").await;
    assert!(!accounts.contains(&alice), "the accounts list filters by correspondent too");
    let (_, accounts) = desk.page(&format!("/console/accounts?correspondent={code}")).await;
    assert!(accounts.contains(&alice), "{accounts}");
    desk.post(&format!("/console/transfers/{id}"), &[("action", "complete"), ("reason", "")]).await;
    assert!(desk.flash().await.contains("complete refused"), "a reason is required");
    desk.post(&format!("/console/transfers/{id}"), &[("action", "complete"), ("reason", "settled")]).await;
    assert!(desk.flash().await.contains("is now COMPLETE"));
    assert_eq!(cash(&app).await, "12.00");
    let (_, page) = desk.page("/console/transfers").await;
    assert!(between(&page, r#"<table id="transfers-complete">"#, "</table>").unwrap().contains(&id), "{page}");
    app.stop().await;
}
