//! The operations API: operator keys only; journal actions with an audit trail; correspondents,
//! keys, firm accounts, assets, the business day, reconciliation.

mod common;

use common::{read, TestApp};
use reqwest::Method;
use serde_json::json;

fn ops(app: &TestApp, method: Method, path: &str) -> reqwest::RequestBuilder {
    app.http.request(method, app.url(path)).basic_auth(app.id("operator_key"), Some(app.id("operator_secret")))
}

#[tokio::test]
async fn journal_actions_need_an_operator_and_follow_the_status_machine() {
    let app = TestApp::spawn("admin-journals").await;
    let held = app.pay("80", "").await;
    let (code, error) = read(
        app.as_correspondent(Method::POST, &format!("/admin/v1/journals/{held}/approve"))
            .json(&json!({"reason": "checked"}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!((code, error["reason"].as_str()), (403, Some("operator_only")));
    let (code, _) = read(
        ops(&app, Method::POST, &format!("/admin/v1/journals/{held}/approve")).json(&json!({"reason": "checked"})).send().await.unwrap(),
    )
    .await;
    assert_eq!((code, app.journal_status(&held).await.as_str()), (200, "queued"));
    app.clear().await;
    assert_eq!(app.journal_status(&held).await, "executed");
    let (code, error) =
        read(ops(&app, Method::POST, &format!("/admin/v1/journals/{held}/reverse")).json(&json!({})).send().await.unwrap()).await;
    assert_eq!((code, error["reason"].as_str()), (400, Some("reason_required")));
    let (code, body) = read(
        ops(&app, Method::POST, &format!("/admin/v1/journals/{held}/correct"))
            .json(&json!({"amount": "70", "reason": "typo"}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(code, 200, "{body}");
    let statuses: Vec<&str> = body["journals"].as_array().unwrap().iter().map(|j| j["status"].as_str().unwrap()).collect();
    assert_eq!(statuses, vec!["correct", "executed"], "the original is replaced by a new journal");
    let replacement = body["journals"][1]["id"].as_str().unwrap().to_owned();
    let (code, _) = read(
        ops(&app, Method::POST, &format!("/admin/v1/journals/{replacement}/reverse"))
            .json(&json!({"reason": "not permitted"}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!((code, app.journal_status(&replacement).await.as_str()), (200, "canceled"));
    let (_, account) =
        read(app.as_correspondent(Method::GET, &format!("/v1/trading/accounts/{}/account", app.customer(0))).send().await.unwrap()).await;
    assert_eq!(account["cash"], "0.00", "corrected, then reversed: nothing left with the customer");
    let (code, error) = read(
        ops(&app, Method::POST, &format!("/admin/v1/journals/{held}/approve")).json(&json!({"reason": "checked"})).send().await.unwrap(),
    )
    .await;
    assert_eq!((code, error["reason"].as_str()), (422, Some("invalid_transition")));
    let (code, _) = read(
        ops(&app, Method::POST, &format!("/admin/v1/journals/{held}/launch")).json(&json!({"reason": "checked"})).send().await.unwrap(),
    )
    .await;
    assert_eq!(code, 404);
    app.stop().await;
}

#[tokio::test]
async fn setup_business_days_and_reconciliation() {
    let app = TestApp::spawn("admin-setup").await;
    // A new correspondent with a key of its own and a firm account.
    let (code, c) = read(
        ops(&app, Method::POST, "/admin/v1/correspondents").json(&json!({"code": "NEWB", "name": "New Broker"})).send().await.unwrap(),
    )
    .await;
    assert_eq!(code, 200, "{c}");
    let id = c["id"].as_str().unwrap();
    let (_, key) = read(
        ops(&app, Method::POST, &format!("/admin/v1/correspondents/{id}/keys"))
            .json(&json!({"reason": "onboarding"}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    let (_, firm) =
        read(ops(&app, Method::POST, &format!("/admin/v1/correspondents/{id}/firm_accounts")).json(&json!({})).send().await.unwrap()).await;
    assert_eq!(firm["kind"], "firm");
    let (code, list) = read(
        app.http.get(app.url("/v1/accounts")).basic_auth(key["key_id"].as_str().unwrap(), key["secret"].as_str()).send().await.unwrap(),
    )
    .await;
    assert_eq!((code, list.as_array().map(Vec::len)), (200, Some(1)), "the new key sees its own firm account only");
    let (code, _) =
        read(ops(&app, Method::POST, "/admin/v1/correspondents").json(&json!({"code": "NEWB", "name": "Again"})).send().await.unwrap())
            .await;
    assert_eq!(code, 409);
    // Prices.
    let (code, asset) = read(
        ops(&app, Method::PUT, "/admin/v1/assets/AAPL").json(&json!({"price": "200.5", "reason": "close of day"})).send().await.unwrap(),
    )
    .await;
    assert_eq!((code, asset["price"].as_str()), (200, Some("200.5")));
    // End of day rejects a fixture-held journal.
    let fixture = app.pay("1", "reward /fixtures/status=rejected/fixtures/").await;
    let (_, report) = read(ops(&app, Method::GET, "/admin/v1/reconciliation").send().await.unwrap()).await;
    assert!(report["books"].as_array().unwrap().iter().all(|b| b["balanced"] == true), "{report}");
    assert_eq!(report["invariants"], "hold");
    let postings = &report["balances_against_postings"];
    assert_eq!(postings["balanced"], true, "{report}");
    assert!(postings["balances_checked"].as_u64().unwrap() >= 3, "{report}");
    let full = &report["full_check"];
    assert_eq!((full["reconciles"].as_bool(), full["problems"].as_array().map(Vec::len)), (Some(true), Some(0)), "{report}");
    assert!(full["events"].as_u64().unwrap() > 10 && full["journals"].as_u64().unwrap() >= 1, "{report}");
    assert!(report["waiting_journals"].as_array().unwrap().iter().any(|j| j["id"] == fixture.as_str()));
    let before = report["business_date"].as_str().unwrap().to_owned();
    let (code, day) = read(ops(&app, Method::POST, "/admin/v1/business_day").json(&json!({})).send().await.unwrap()).await;
    assert_eq!(code, 200);
    assert_ne!(day["business_date"].as_str().unwrap(), before);
    assert_eq!(app.journal_status(&fixture).await, "rejected");
    let (code, _) = read(ops(&app, Method::POST, "/admin/v1/business_day").json(&json!({"date": before})).send().await.unwrap()).await;
    assert_eq!(code, 422, "the business day only moves forward");
    // A balance changed behind the ledger's back shows up against its postings.
    let file = app.dir.0.join(cashier_store_sqlite::FILE_NAME);
    let db = rusqlite::Connection::open(file).unwrap();
    db.execute("UPDATE balances SET posted = posted + 1 WHERE (book, asset) IN (SELECT book, asset FROM balances LIMIT 1)", []).unwrap();
    let (_, report) = read(ops(&app, Method::GET, "/admin/v1/reconciliation").send().await.unwrap()).await;
    let postings = &report["balances_against_postings"];
    assert_eq!((&postings["balanced"], postings["mismatches"].as_array().unwrap().len()), (&json!(false), 1), "{report}");
    let m = &postings["mismatches"][0];
    let (balance, sum): (i128, i128) = (m["balance"].as_str().unwrap().parse().unwrap(), m["postings"].as_str().unwrap().parse().unwrap());
    assert_eq!(balance - sum, 1, "{m}");
    app.stop().await;
}

#[tokio::test]
async fn account_settings_change_what_journals_do() {
    let app = TestApp::spawn("admin-accounts").await;
    let (firm, alice) = (app.id("firm_account_id"), app.customer(0));
    let set = |account: &str, setting: &str, mut body: serde_json::Value| {
        body["reason"] = json!("customer asked");
        ops(&app, Method::PUT, &format!("/admin/v1/accounts/{account}/{setting}")).json(&body).send()
    };
    let journal = |amount: &str| {
        let body = json!({"entry_type": "JNLC", "from_account": firm, "to_account": alice, "amount": amount});
        app.as_correspondent(Method::POST, "/v1/journals").json(&body).send()
    };
    let (_, j) = read(journal("500").await.unwrap()).await;
    assert_eq!(j["status"], "pending", "over the default $50");
    assert_eq!(read(set(&alice, "limits", json!({"per_journal": "1000", "daily": null})).await.unwrap()).await.0, 200);
    let (_, j) = read(journal("500").await.unwrap()).await;
    assert_eq!(j["status"], "queued", "within the account's own limit");
    assert_eq!(read(set(&alice, "limits", json!({})).await.unwrap()).await.0, 200);
    let (_, j) = read(journal("500").await.unwrap()).await;
    assert_eq!(j["status"], "pending", "back to the correspondent's limits");
    assert_eq!(read(set(&alice, "blocks", json!({"transfers_blocked": true})).await.unwrap()).await.0, 200);
    let (code, error) = read(journal("1").await.unwrap()).await;
    assert_eq!((code, error["reason"].as_str()), (403, Some("transfers_blocked")));
    assert_eq!(read(set(&alice, "blocks", json!({})).await.unwrap()).await.0, 200);
    assert_eq!(read(set(&alice, "status", json!({"status": "ACCOUNT_CLOSED"})).await.unwrap()).await.0, 200);
    let (code, error) = read(journal("1").await.unwrap()).await;
    assert_eq!((code, error["reason"].as_str()), (403, Some("to_account_inactive")));
    let (code, error) = read(set(&alice, "overdraft", json!({"amount": "10"})).await.unwrap()).await;
    assert_eq!((code, error["reason"].as_str()), (403, Some("not_firm_account")));
    let (code, error) = read(set(&firm, "overdraft", json!({"amount": "-1"})).await.unwrap()).await;
    assert_eq!((code, error["reason"].as_str()), (400, Some("limit_negative")));
    assert_eq!(read(set(&firm, "overdraft", json!({"amount": "500"})).await.unwrap()).await.0, 200);
    let (code, error) = read(
        app.as_correspondent(Method::PUT, &format!("/admin/v1/accounts/{firm}/overdraft"))
            .json(&json!({"amount": "1"}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!((code, error["reason"].as_str()), (403, Some("operator_only")));
    app.stop().await;
}

#[tokio::test]
async fn outside_the_sandbox_the_business_day_follows_the_clock_and_the_calendar() {
    let dir = common::TempDir::new("admin-days");
    let holiday = cashier_core::Date::parse("2099-01-05").unwrap(); // a Monday
    let calendar = cashier_core::Calendar::new([holiday]);
    let config = cashier_server::Config { sandbox: false, calendar: calendar.clone(), ..common::config(&dir, None) };
    let running = cashier_server::start(config).await.unwrap();
    let sequencer = running.app.sequencer.clone();
    let first = sequencer.read(|s| s.business_date());
    assert!(calendar.is_business_day(first), "a new ledger starts on a business day: {first}");
    let roll = |today: &str| {
        let (sequencer, calendar) = (sequencer.clone(), calendar.clone());
        let today = cashier_core::Date::parse(today).unwrap();
        async move { cashier_server::days::roll(&sequencer, &calendar, today).await.unwrap().map(|d| d.to_string()) }
    };
    assert_eq!(roll("2000-01-01").await, None, "the clock behind the business date changes nothing");
    // Friday, then a Saturday's clock rolls to the Monday after, here a holiday, so Tuesday.
    assert_eq!(roll("2099-01-02").await.as_deref(), Some("2099-01-02"));
    assert_eq!(roll("2099-01-02").await, None, "once a day");
    assert_eq!(roll("2099-01-03").await.as_deref(), Some("2099-01-06"));
    assert_eq!(roll("2099-01-05").await, None, "the holiday is already past on the books");
    assert_eq!(roll("2099-01-07").await.as_deref(), Some("2099-01-07"));
    // Operators cannot move it by hand outside the sandbox.
    let key = std::fs::read_to_string(dir.0.join("operator-key.json")).unwrap();
    let key: serde_json::Value = serde_json::from_str(&key).unwrap();
    let response = reqwest::Client::new()
        .post(format!("http://{}/admin/v1/business_day", running.addr))
        .basic_auth(key["operator_key"].as_str().unwrap(), key["operator_secret"].as_str())
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    let (code, error) = read(response).await;
    assert_eq!((code, error["reason"].as_str()), (409, Some("sandbox_only")));
    running.stop().await.unwrap();
}

/// A journal settled long ago is the store's, not memory's: two reversals of it sent at once on
/// two connections are decided once (one reverses it, the other is refused), and the books are
/// exact. The sequencer keeps no settled journal here (`journal_cache` 0), and twenty other
/// journals follow the old one.
#[tokio::test]
async fn two_reversals_of_an_old_journal_at_once_are_decided_once() {
    let app = TestApp::spawn_with("admin-old-reversal", |config| cashier_server::Config { journal_cache: 0, ..config }).await;
    let old = app.pay("10", "long ago").await;
    app.clear().await;
    for i in 0..20 {
        app.pay("1", &format!("later {i}")).await;
    }
    app.clear().await;
    let sequencer = app.running.as_ref().unwrap().app.sequencer.clone();
    let id = cashier_core::JournalId::parse(&old).unwrap();
    assert!(sequencer.read(|s| s.journal(id).is_none()), "the old journal is not in the committed state's memory");
    let cash = |app: &TestApp| {
        let request = app.as_correspondent(Method::GET, &format!("/v1/trading/accounts/{}/account", app.customer(0)));
        async move { read(request.send().await.unwrap()).await.1["cash"].as_str().unwrap().to_owned() }
    };
    assert_eq!(cash(&app).await, "30.00");
    let reverse = || {
        // A client of its own: a connection of its own.
        let http = reqwest::Client::new();
        let request = http
            .post(app.url(&format!("/admin/v1/journals/{old}/reverse")))
            .basic_auth(app.id("operator_key"), Some(app.id("operator_secret")))
            .json(&json!({"reason": "sent twice"}));
        async move { read(request.send().await.unwrap()).await }
    };
    let (first, second) = tokio::join!(reverse(), reverse());
    let mut codes = [first.0, second.0];
    codes.sort();
    assert_eq!(codes, [200, 422], "one reversal happens, the other is refused: {first:?} {second:?}");
    let refused = if first.0 == 422 { &first.1 } else { &second.1 };
    assert_eq!(refused["reason"], "invalid_transition");
    assert_eq!(app.journal_status(&old).await, "canceled");
    assert_eq!(cash(&app).await, "20.00", "reversed once");
    let read_back = sequencer.stats().journals_read_back.load(std::sync::atomic::Ordering::SeqCst);
    assert!(read_back >= 1, "the sequencer read the journal back from the store");
    let (code, report) = read(
        app.http
            .get(app.url("/admin/v1/reconciliation"))
            .basic_auth(app.id("operator_key"), Some(app.id("operator_secret")))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(code, 200);
    assert_eq!(report["balances_against_postings"]["balanced"], true, "{report}");
    assert_eq!(report["invariants"], "hold", "{report}");
    app.stop().await;
}
