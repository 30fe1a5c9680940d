//! Four-eyes that cannot be sidestepped: one operator alone, trying every sequence of calls that
//! could move money, moves no more than the threshold in a business day; a second operator
//! carries out what was asked; what waits survives a restart.

mod common;

use cashier_core::{Asset, Book, Command, State, TransferId};
use common::{read, TempDir, TestApp};
use reqwest::Method;
use serde_json::{json, Value};
use std::collections::BTreeMap;

/// $100, in cents.
const THRESHOLD: i64 = 10_000;

/// The sandbox's ledger served outside the sandbox (transfers wait for operations) with four-eyes
/// over $100.
async fn serve(dir: TempDir) -> TestApp {
    let config = cashier_server::Config { sandbox: false, four_eyes_over: Some(THRESHOLD), ..common::config(&dir, None) };
    let running = cashier_server::start(config).await.expect("starts");
    let sandbox: Value = serde_json::from_str(&std::fs::read_to_string(dir.0.join("sandbox.json")).unwrap()).unwrap();
    TestApp { running: Some(running), sandbox, http: reqwest::Client::new(), dir }
}

fn state<T>(app: &TestApp, f: impl Fn(&State) -> T) -> T {
    app.running.as_ref().unwrap().app.sequencer.read(f)
}

/// What every account holds: cash in cents, shares in 1e-9 units.
fn holdings(app: &TestApp) -> BTreeMap<(Book, Asset), i64> {
    state(app, |s| {
        let accounts = s.books().filter(|(book, _)| matches!(book, Book::Account(_)));
        accounts.flat_map(|(book, list)| list.iter().map(|(asset, balance)| ((*book, *asset), balance.posted))).collect()
    })
}

/// The assets' prices, to value shares with.
fn prices(app: &TestApp) -> BTreeMap<Asset, i64> {
    state(app, |s| s.assets().map(|a| (Asset::Security(a.symbol), a.price.unwrap_or(0))).collect())
}

/// How much moved between two snapshots, in US cents at `prices`: every account's gain, summed.
fn moved(before: &BTreeMap<(Book, Asset), i64>, after: &BTreeMap<(Book, Asset), i64>, prices: &BTreeMap<Asset, i64>) -> i64 {
    let cents = |asset: &Asset, units: i64| match asset {
        Asset::Cash(_) => units,
        Asset::Security(_) => cashier_core::money::value_cents_ceil(units, prices[asset]).unwrap(),
    };
    after.iter().map(|(k, &now)| cents(&k.1, (now - before.get(k).copied().unwrap_or(0)).max(0))).sum()
}

/// Everything an operator could loosen: limits, overdrafts, statuses, blocks, prices, keys.
fn settings(app: &TestApp) -> String {
    state(app, |s| {
        let mut accounts: Vec<String> = s.accounts().map(|a| format!("{:?} {:?} {:?} {:?}", a.id, a.status, a.blocks, a.limits)).collect();
        accounts.sort();
        let mut overdrafts: Vec<_> = s.overdrafts().collect();
        overdrafts.sort();
        let mut prices: Vec<_> = s.assets().map(|a| (a.symbol, a.price)).collect();
        prices.sort();
        let keys = s.api_keys().filter(|k| !k.revoked).count();
        format!("{accounts:?} {overdrafts:?} {prices:?} keys {keys}")
    })
}

type Key = (String, String);

fn call(app: &TestApp, key: &Key, method: Method, path: &str, body: Value) -> reqwest::RequestBuilder {
    app.http.request(method, app.url(path)).basic_auth(&key.0, Some(&key.1)).json(&body)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_operator_alone_moves_no_more_than_the_threshold() {
    let dir = TempDir::new("four-eyes");
    cashier_server::start(common::config(&dir, None)).await.expect("starts").stop().await.unwrap();
    let app = serve(dir).await;
    let ann: Key = (app.id("operator_key"), app.id("operator_secret"));
    let (firm, alice, carl) = (app.id("firm_account_id"), app.customer(0), app.customer(1));

    // The first operator names the second alone: four-eyes needs a second person.
    let (status, bea) =
        read(call(&app, &ann, Method::POST, "/admin/v1/keys", json!({"name": "Bea", "reason": "joins"})).send().await.unwrap()).await;
    assert_eq!(status, 200, "{bea}");
    let bea: Key = (bea["key_id"].as_str().unwrap().into(), bea["secret"].as_str().unwrap().into());

    // What a correspondent did: a journal waiting for approval, one executed, an incoming
    // transfer waiting for the bank, and one the bank completed.
    let pending = app.pay("50000", "large").await;
    let executed = app.pay("1", "small").await;
    app.clear().await;
    assert_eq!(app.journal_status(&pending).await, "pending");
    let transfer = |amount: &str| {
        let body = json!({"transfer_type": "ach", "direction": "INCOMING", "amount": amount, "relationship_id": "00000000-0000-4000-8000-000000000000"});
        app.as_correspondent(Method::POST, &format!("/v1/accounts/{alice}/transfers")).json(&body).send()
    };
    let (_, waiting) = read(transfer("50000").await.unwrap()).await;
    let (_, completed) = read(transfer("40000").await.unwrap()).await;
    let sequencer = app.running.as_ref().unwrap().app.sequencer.clone();
    sequencer.submit(Command::CompleteTransfer { id: TransferId::parse(completed["id"].as_str().unwrap()).unwrap() }).await.unwrap();
    let (waiting, completed) = (waiting["id"].as_str().unwrap().to_owned(), completed["id"].as_str().unwrap().to_owned());

    let (before, at) = (holdings(&app), prices(&app));
    let account = |id: &str, setting: &str| format!("/admin/v1/accounts/{id}/{setting}");
    let reason = |body: Value| {
        let mut body = body;
        body["reason"] = json!("alone");
        body
    };
    // Every call one operator could make to move money, in order, with what it must answer:
    // 202 held for a second operator, or 200 where it protects or stays within the threshold.
    let attempts: Vec<(Method, String, Value, u16)> = vec![
        (Method::PUT, account(&alice, "limits"), json!({"per_journal": "100000", "daily": "100000"}), 202),
        (Method::PUT, account(&firm, "overdraft"), json!({"amount": "50000"}), 202),
        (Method::PUT, account(&carl, "blocks"), json!({"account_blocked": true}), 200),
        (Method::PUT, account(&carl, "blocks"), json!({"account_blocked": false}), 202),
        (Method::PUT, account(&carl, "status"), json!({"status": "ACCOUNT_CLOSED"}), 200),
        (Method::PUT, account(&carl, "status"), json!({"status": "ACTIVE"}), 202),
        (Method::POST, account(&firm, "wires"), json!({"amount": "50000"}), 202),
        // Split into pieces: what one operator does alone adds up over the day.
        (Method::POST, account(&firm, "wires"), json!({"amount": "60"}), 200),
        (Method::POST, account(&firm, "wires"), json!({"amount": "50"}), 202),
        (Method::POST, format!("/admin/v1/transfers/{waiting}/complete"), json!({}), 202),
        (Method::POST, format!("/admin/v1/transfers/{completed}/return"), json!({}), 202),
        (Method::PUT, "/admin/v1/assets/AAPL".into(), json!({"price": "0.01"}), 202),
        (Method::PUT, "/admin/v1/assets/AAPL".into(), json!({"price": "100000"}), 200),
        (Method::POST, format!("/admin/v1/correspondents/{}/keys", app.id("correspondent_id")), json!({"name": "mine"}), 202),
        (Method::POST, "/admin/v1/keys".into(), json!({"name": "Cy"}), 202),
        (Method::POST, format!("/admin/v1/journals/{pending}/approve"), json!({}), 202),
        (Method::POST, format!("/admin/v1/journals/{executed}/correct"), json!({"amount": "50000"}), 202),
    ];
    let asked_before = state(&app, |s| s.confirmations().count());
    for (method, path, body, expected) in &attempts {
        let (status, answer) = read(call(&app, &ann, method.clone(), path, reason(body.clone())).send().await.unwrap()).await;
        assert_eq!(status, *expected, "{method} {path} {body}: {answer}");
        if status == 202 {
            assert_eq!(answer["awaiting_confirmation"]["requested_by"], "operator sandbox operator", "{answer}");
        }
    }
    // Asking again, with another reason, is not a confirmation.
    let (status, error) = read(
        call(&app, &ann, Method::PUT, &account(&firm, "overdraft"), json!({"amount": "50000", "reason": "really"})).send().await.unwrap(),
    )
    .await;
    assert_eq!((status, error["reason"].as_str()), (409, Some("second_operator_required")), "{error}");
    // Nor may an operator key create a journal, after raising nothing.
    for (path, body) in [
        ("/v1/journals", json!({"entry_type": "JNLC", "from_account": firm, "to_account": alice, "amount": "50000"})),
        ("/v1/journals/batch", json!({"entry_type": "JNLC", "from_account": firm, "entries": [{"to_account": alice, "amount": "50000"}]})),
        (
            "/v1/journals/reverse_batch",
            json!({"entry_type": "JNLC", "to_account": firm, "entries": [{"from_account": alice, "amount": "1"}]}),
        ),
    ] {
        let (status, error) = read(call(&app, &ann, Method::POST, path, body).send().await.unwrap()).await;
        assert_eq!((status, error["reason"].as_str()), (403, Some("correspondent_only")), "{path}: {error}");
    }
    app.clear().await;
    let after = holdings(&app);
    assert_eq!(moved(&before, &after, &at), 6_000, "one operator alone moved only the $60 wire");
    assert!(moved(&before, &after, &at) <= THRESHOLD);
    assert_eq!(app.journal_status(&pending).await, "pending");
    assert_eq!(app.journal_status(&executed).await, "executed");
    let held = settings(&app);
    assert!(held.contains("account_blocked: true") && held.contains("AccountClosed"), "the protective changes were made: {held}");

    // What waits is listed, with who asked and what it is worth.
    let (_, listed) = read(call(&app, &ann, Method::GET, "/admin/v1/confirmations", Value::Null).send().await.unwrap()).await;
    let listed = listed.as_array().unwrap().clone();
    assert_eq!(listed.len(), asked_before + 11, "{listed:?}");
    let overdraft = listed.iter().find(|c| c["action"] == "overdraft").unwrap();
    assert_eq!((overdraft["worth"].as_str(), overdraft["subject"].as_str()), (Some("50000.00"), Some(firm.as_str())), "{overdraft}");
    assert!(listed.iter().any(|c| c["action"] == "api_key_issued" && c["worth"].is_null()), "a key has no bound: {listed:?}");

    // A restart keeps what waits and what the operator did alone today.
    let dir = {
        let mut app = app;
        app.running.take().unwrap().stop().await.unwrap();
        std::mem::replace(&mut app.dir, TempDir(std::path::PathBuf::new()))
    };
    let app = serve(dir).await;
    let (_, relisted) = read(call(&app, &ann, Method::GET, "/admin/v1/confirmations", Value::Null).send().await.unwrap()).await;
    assert_eq!(relisted.as_array().unwrap().len(), listed.len());
    let wire = |amount: &str, key: &Key| {
        call(&app, key, Method::POST, &account(&firm, "wires"), json!({"amount": amount, "reason": "wire"})).send()
    };
    assert_eq!(read(wire("41", &ann).await.unwrap()).await.0, 202, "$60 + $41 is past the threshold, restart or not");
    assert_eq!(read(wire("40", &ann).await.unwrap()).await.0, 200, "$60 + $40 is within it");
    assert_eq!(settings(&app), held, "nothing held changed across the restart");

    // A second operator carries out what was asked, and the audit trail says who asked.
    let overdraft = json!({"amount": "50000", "reason": "credit line signed"});
    let (status, done) = read(call(&app, &bea, Method::PUT, &account(&firm, "overdraft"), overdraft).send().await.unwrap()).await;
    assert_eq!(status, 200, "{done}");
    let firm_id = cashier_core::AccountId::parse(&firm).unwrap();
    assert_eq!(state(&app, |s| s.overdraft(firm_id, cashier_core::Currency::USD)), 5_000_000);
    let (_, left) = read(call(&app, &ann, Method::GET, "/admin/v1/confirmations", Value::Null).send().await.unwrap()).await;
    assert!(!left.as_array().unwrap().iter().any(|c| c["action"] == "overdraft"), "granted, it no longer waits: {left}");
    let db = rusqlite::Connection::open(app.dir.0.join("cashier.db")).unwrap();
    let trail: String = db
        .query_row(
            "SELECT detail FROM events WHERE kind = 'operator_action' AND detail LIKE '%overdraft%' ORDER BY seq DESC LIMIT 1",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert!(trail.contains(r#""operator":"Bea""#) && trail.contains("four-eyes: asked by operator sandbox operator: alone"), "{trail}");
    app.stop().await;
}
