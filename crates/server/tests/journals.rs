//! The journal writes over HTTP: authentication, every kind of bad input, limits, idempotency,
//! and cancellation, each answered in the Broker API's error envelope.

mod common;

use common::{read, TestApp};
use reqwest::Method;
use serde_json::{json, Value};

fn cash(from: &str, to: &str, amount: Value) -> Value {
    json!({"entry_type": "JNLC", "from_account": from, "to_account": to, "amount": amount})
}

#[tokio::test]
async fn credentials_are_required_and_checked() {
    let app = TestApp::spawn("auth").await;
    let body = cash(&app.id("firm_account_id"), &app.customer(0), json!("10"));
    let cases = [
        app.http.post(app.url("/v1/journals")).json(&body),
        app.http.post(app.url("/v1/journals")).basic_auth(app.id("api_key"), Some("wrong-secret")).json(&body),
        app.http.post(app.url("/v1/journals")).basic_auth("NOSUCHKEY123", Some(app.id("api_secret"))).json(&body),
        app.http.post(app.url("/v1/journals")).header("Authorization", "Bearer abc").json(&body),
        app.http.post(app.url("/v1/journals")).header("Authorization", "Basic !!!").json(&body),
    ];
    for request in cases {
        let (status, error) = read(request.send().await.unwrap()).await;
        assert_eq!((status, &error["code"]), (401, &json!(40110000)), "{error}");
    }
    app.stop().await;
}

#[tokio::test]
async fn cash_journals_are_created_held_and_canceled() {
    let app = TestApp::spawn("journals").await;
    let (firm, alice) = (app.id("firm_account_id"), app.customer(0));
    let post = |body: Value| app.as_correspondent(Method::POST, "/v1/journals").json(&body).send();
    // Within the limit: queued, with the wire shape clients parse.
    let (status, j) = read(post(cash(&firm, &alice, json!("25.50"))).await.unwrap()).await;
    assert_eq!(status, 200, "{j}");
    assert_eq!((j["status"].as_str(), j["net_amount"].as_str(), j["currency"].as_str()), (Some("queued"), Some("25.5"), Some("USD")));
    for field in ["symbol", "qty", "price", "settle_date", "system_date"] {
        assert!(j[field].is_null(), "{field} is null, not absent or empty: {j}");
    }
    assert_eq!((j["from_account"].as_str(), j["to_account"].as_str()), (Some(firm.as_str()), Some(alice.as_str())));
    // The SDK sends floats: 0.1 + 0.2 arrives as 0.30000000000000004 and means 0.30.
    let (_, j) = read(post(cash(&firm, &alice, serde_json::from_str("0.30000000000000004").unwrap())).await.unwrap()).await;
    assert_eq!(j["net_amount"], "0.3");
    // Over the $50 limit: pending, then canceled by DELETE; a second DELETE is refused.
    let (_, held) = read(post(cash(&firm, &alice, json!(60))).await.unwrap()).await;
    assert_eq!(held["status"], "pending");
    let path = format!("/v1/journals/{}", held["id"].as_str().unwrap());
    let (status, body) = read(app.as_correspondent(Method::DELETE, &path).send().await.unwrap()).await;
    assert_eq!((status, body), (204, Value::Null));
    let (status, error) = read(app.as_correspondent(Method::DELETE, &path).send().await.unwrap()).await;
    assert_eq!((status, error["reason"].as_str()), (422, Some("invalid_transition")));
    let (status, error) =
        read(app.as_correspondent(Method::DELETE, "/v1/journals/3f1c2a34-5b6d-4e7f-8a9b-0c1d2e3f4a5b").send().await.unwrap()).await;
    assert_eq!((status, error["code"].as_u64()), (404, Some(40410000)));
    app.stop().await;
}

#[tokio::test]
async fn bad_input_is_answered_with_what_to_fix() {
    let app = TestApp::spawn("bad-input").await;
    let (firm, alice, bob) = (app.id("firm_account_id"), app.customer(0), app.customer(1));
    let raw = |body: &'static str| {
        app.as_correspondent(Method::POST, "/v1/journals").header("content-type", "application/json").body(body).send()
    };
    for (body, reason) in [("{", "malformed_json"), ("[1]", "malformed_json"), ("", "malformed_json")] {
        let (status, error) = read(raw(body).await.unwrap()).await;
        assert_eq!((status, error["reason"].as_str()), (400, Some(reason)), "{body}");
    }
    let cases: Vec<(Value, u16, &str)> = vec![
        (json!({"entry_type": "JNLC", "to_account": alice, "amount": "1"}), 400, "missing_field"),
        (json!({"entry_type": "JNLX", "from_account": firm, "to_account": alice, "amount": "1"}), 400, "invalid_entry_type"),
        (json!({"entry_type": "JNLC", "from_account": 5, "to_account": alice, "amount": "1"}), 400, "wrong_type"),
        (cash("not-a-uuid", &alice, json!("1")), 400, "malformed_id"),
        (cash(&firm, &alice, json!("0")), 400, "amount_not_positive"),
        (cash(&firm, &alice, json!("-5")), 400, "amount_not_positive"),
        (cash(&firm, &alice, json!("1.005")), 422, "too_precise"),
        (cash(&firm, &alice, json!(1.005)), 422, "too_precise"),
        (cash(&firm, &alice, json!("1,5")), 400, "malformed_decimal"),
        (cash(&firm, &alice, json!(true)), 400, "wrong_type"),
        (cash(&firm, &alice, json!("99999999999999999999999")), 400, "amount_too_large"),
        (json!({"entry_type": "JNLC", "from_account": firm, "to_account": alice}), 400, "amount_required"),
        (
            json!({"entry_type": "JNLC", "from_account": firm, "to_account": alice, "amount": "1", "currency": "XYZ"}),
            400,
            "unsupported_currency",
        ),
        (json!({"entry_type": "JNLS", "from_account": firm, "to_account": alice, "symbol": "ZZZZ", "qty": "1"}), 422, "asset_not_found"),
        (
            json!({"entry_type": "JNLS", "from_account": firm, "to_account": alice, "symbol": "BRK.A", "qty": "0.5"}),
            422,
            "not_fractionable",
        ),
        (cash(&alice, &bob, json!("1")), 403, "customer_to_customer"),
        (cash(&firm, &alice, json!("2000000")), 403, "insufficient_funds"),
        (cash(&firm, "3f1c2a34-5b6d-4e7f-8a9b-0c1d2e3f4a5b", json!("1")), 404, "account_not_found"),
        (
            json!({"entry_type": "JNLC", "from_account": firm, "to_account": alice, "amount": "1", "description": "x".repeat(1025)}),
            400,
            "description_too_long",
        ),
    ];
    for (body, status, reason) in cases {
        let (got, error) = read(app.as_correspondent(Method::POST, "/v1/journals").json(&body).send().await.unwrap()).await;
        assert_eq!((got, error["reason"].as_str()), (status, Some(reason)), "{body}: {error}");
        assert_eq!(error["code"].as_u64(), Some(u64::from(status) * 100_000 + 10_000));
        assert!(!error["message"].as_str().unwrap_or("").is_empty());
    }
    app.stop().await;
}

#[tokio::test]
async fn idempotency_keys_replay_and_refuse() {
    let app = TestApp::spawn("idempotency").await;
    let body = cash(&app.id("firm_account_id"), &app.customer(0), json!("10"));
    let post =
        |body: &Value, key: &str| app.as_correspondent(Method::POST, "/v1/journals").header("Idempotency-Key", key).json(body).send();
    let (_, first) = read(post(&body, "order-1").await.unwrap()).await;
    let (status, again) = read(post(&body, "order-1").await.unwrap()).await;
    assert_eq!((status, &again["id"]), (200, &first["id"]), "the same key and body give the original journal");
    let other = cash(&app.id("firm_account_id"), &app.customer(0), json!("11"));
    let (status, error) = read(post(&other, "order-1").await.unwrap()).await;
    assert_eq!((status, error["reason"].as_str()), (422, Some("idempotency_key_reused")));
    let (_, fresh) = read(post(&body, "order-2").await.unwrap()).await;
    assert_ne!(fresh["id"], first["id"]);
    app.stop().await;
}

#[tokio::test]
async fn the_clearing_worker_executes_queued_journals() {
    let app =
        TestApp::spawn_with("clearing", |config| cashier_server::Config { clearing_delay: Some(std::time::Duration::ZERO), ..config })
            .await;
    let mut events = app.running.as_ref().unwrap().app.sequencer.subscribe();
    let body = cash(&app.id("firm_account_id"), &app.customer(0), json!("12.34"));
    let (_, journal) = read(app.as_correspondent(Method::POST, "/v1/journals").json(&body).send().await.unwrap()).await;
    let id = cashier_core::JournalId::parse(journal["id"].as_str().unwrap()).unwrap();
    let mut seen = Vec::new();
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    while !seen.contains(&cashier_core::JournalStatus::Executed) {
        let batch = tokio::time::timeout_at(deadline, events.recv()).await.expect("executed within 10 s").unwrap();
        seen.extend(batch.iter().filter_map(|r| r.event.journal_status()).filter(|(j, _, _)| *j == id).map(|(_, _, to)| to));
    }
    use cashier_core::JournalStatus::{Executed, Queued, SentToClearing};
    assert_eq!(seen, vec![Queued, SentToClearing, Executed]);
    app.stop().await;
}

#[tokio::test]
async fn journals_are_read_back_filtered_and_isolated() {
    let app = TestApp::spawn("reads").await;
    let (firm, alice, bob) = (app.id("firm_account_id"), app.customer(0), app.customer(1));
    let post = |body: Value| app.as_correspondent(Method::POST, "/v1/journals").json(&body).send();
    let (_, first) = read(post(cash(&firm, &alice, json!("1"))).await.unwrap()).await;
    let (_, held) = read(post(cash(&firm, &bob, json!("75"))).await.unwrap()).await;
    let (_, shares) =
        read(post(json!({"entry_type": "JNLS", "from_account": firm, "to_account": alice, "symbol": "AAPL", "qty": "0.1"})).await.unwrap())
            .await;
    let list = |query: &str| app.as_correspondent(Method::GET, &format!("/v1/journals{query}")).send();
    let ids = |v: &Value| v.as_array().unwrap().iter().map(|j| j["id"].as_str().unwrap().to_owned()).collect::<Vec<_>>();
    let id = |v: &Value| v["id"].as_str().unwrap().to_owned();
    let (status, all) = read(list("").await.unwrap()).await;
    assert_eq!(status, 200);
    assert_eq!(ids(&all), vec![id(&shares), id(&held), id(&first)], "newest first");
    let today = all[0]["created_at"].as_str().unwrap()[..10].to_owned();
    let cases: Vec<(String, Vec<String>)> = vec![
        ("?status=pending".into(), vec![id(&held)]),
        ("?entry_type=JNLS".into(), vec![id(&shares)]),
        (format!("?to_account={bob}"), vec![id(&held)]),
        (format!("?from_account={firm}&limit=2"), vec![id(&shares), id(&held)]),
        (format!("?after={today}&before={today}"), vec![id(&shares), id(&held), id(&first)]),
        ("?after=2999-01-01".into(), vec![]),
        ("?before=2000-01-01&unknown=ignored".into(), vec![]),
    ];
    for (query, want) in cases {
        let (status, got) = read(list(&query).await.unwrap()).await;
        assert_eq!((status, ids(&got)), (200, want), "{query}");
    }
    for (query, reason) in [
        ("?after=2024-13-01", "malformed_date"),
        ("?status=done", "invalid_status"),
        ("?to_account=x", "malformed_id"),
        ("?limit=0", "invalid_limit"),
    ] {
        let (status, error) = read(list(query).await.unwrap()).await;
        assert_eq!((status, error["reason"].as_str()), (400, Some(reason)), "{query}");
    }
    let (status, one) = read(app.as_correspondent(Method::GET, &format!("/v1/journals/{}", id(&held))).send().await.unwrap()).await;
    assert_eq!((status, one), (200, held.clone()));
    // Another correspondent sees none of it: a 404 by id, an empty list.
    let (key, secret) = app.other_correspondent().await;
    let as_other = |path: String| app.http.get(app.url(&path)).basic_auth(&key, Some(&secret)).send();
    let (status, error) = read(as_other(format!("/v1/journals/{}", id(&held))).await.unwrap()).await;
    assert_eq!((status, error["reason"].as_str()), (404, Some("journal_not_found")));
    let (status, none) = read(as_other("/v1/journals".into()).await.unwrap()).await;
    assert_eq!((status, none), (200, json!([])));
    let (status, _) =
        read(app.http.delete(app.url(&format!("/v1/journals/{}", id(&held)))).basic_auth(&key, Some(&secret)).send().await.unwrap()).await;
    assert_eq!(status, 404, "nor can it cancel another's journal");
    app.stop().await;
}

#[tokio::test]
async fn batches_and_reverse_batches_are_all_or_nothing() {
    let app = TestApp::spawn("batches").await;
    let (firm, alice, bob) = (app.id("firm_account_id"), app.customer(0), app.customer(1));
    let batch = |entries: Value| json!({"entry_type": "JNLC", "from_account": firm, "entries": entries});
    let post = |path: &'static str, body: Value, key: &'static str| {
        app.as_correspondent(Method::POST, path).header("Idempotency-Key", key).json(&body).send()
    };
    let count =
        || async { read(app.as_correspondent(Method::GET, "/v1/journals").send().await.unwrap()).await.1.as_array().unwrap().len() };
    // One bad entry: the whole batch is refused, the entry named, nothing created.
    let bad = batch(json!([{"to_account": alice, "amount": "10"}, {"to_account": alice, "amount": "0"}]));
    let (status, error) = read(post("/v1/journals/batch", bad, "b-0").await.unwrap()).await;
    assert_eq!((status, error["reason"].as_str()), (400, Some("amount_not_positive")));
    assert!(error["message"].as_str().unwrap().contains("entry 1"), "{error}");
    let bad = batch(json!([{"to_account": "nope", "amount": "10"}]));
    let (status, error) = read(post("/v1/journals/batch", bad, "b-0").await.unwrap()).await;
    assert_eq!((status, error["reason"].as_str()), (400, Some("malformed_id")));
    assert!(error["message"].as_str().unwrap().contains("entries[0]"), "{error}");
    assert_eq!(count().await, 0);
    // A good batch, with amounts as strings and as floats, replayed by its key.
    let good = batch(json!([{"to_account": alice, "amount": "10.5"}, {"to_account": bob, "amount": 3.0}]));
    let (status, created) = read(post("/v1/journals/batch", good.clone(), "b-1").await.unwrap()).await;
    assert_eq!(status, 200, "{created}");
    let amounts: Vec<&str> = created.as_array().unwrap().iter().map(|j| j["net_amount"].as_str().unwrap()).collect();
    assert_eq!(amounts, vec!["10.5", "3"]);
    let (_, again) = read(post("/v1/journals/batch", good, "b-1").await.unwrap()).await;
    assert_eq!(again, created, "replayed, not created twice");
    assert_eq!(count().await, 2);
    // Clear them, then pull the cash back in one reverse batch.
    let sequencer = app.running.as_ref().unwrap().app.sequencer.clone();
    cashier_server::clearing::step(&sequencer).await.unwrap();
    cashier_server::clearing::step(&sequencer).await.unwrap();
    let reverse = json!({"entry_type": "JNLC", "to_account": firm, "entries": [{"from_account": alice, "amount": "10.5"}, {"from_account": bob, "amount": "3"}]});
    let (status, pulled) = read(post("/v1/journals/reverse_batch", reverse, "rb-1").await.unwrap()).await;
    assert_eq!((status, pulled.as_array().map(Vec::len)), (200, Some(2)), "{pulled}");
    let too_much = json!({"entry_type": "JNLC", "to_account": firm, "entries": [{"from_account": alice, "amount": "100"}]});
    let (status, error) = read(post("/v1/journals/reverse_batch", too_much, "rb-2").await.unwrap()).await;
    assert_eq!((status, error["reason"].as_str()), (403, Some("insufficient_funds")));
    app.stop().await;
}

#[tokio::test]
async fn transport_errors_use_the_envelope_and_are_counted() {
    let app = TestApp::spawn("transport").await;
    let huge = format!("{{\"description\": \"{}\"}}", "x".repeat(cashier_server::BODY_BYTES_MAX + 1));
    let (status, error) = read(
        app.as_correspondent(Method::POST, "/v1/journals").header("content-type", "application/json").body(huge).send().await.unwrap(),
    )
    .await;
    assert_eq!((status, error["reason"].as_str(), error["code"].as_u64()), (413, Some("body_too_large"), Some(41310000)));
    let (status, error) = read(app.as_correspondent(Method::PUT, "/v1/journals").json(&json!({})).send().await.unwrap()).await;
    assert_eq!((status, error["reason"].as_str()), (405, Some("method_not_allowed")));
    let metrics = app.http.get(app.url("/metrics")).send().await.unwrap().text().await.unwrap();
    let four = metrics.lines().find_map(|l| l.strip_prefix("cashier_http_requests_total{class=\"4xx\"} ")).unwrap();
    assert!(four.parse::<u64>().unwrap() >= 2, "{metrics}");
    assert!(metrics.contains("cashier_http_request_duration_seconds_sum"));
    app.stop().await;
}

#[tokio::test]
async fn metrics_count_the_journals_waiting_in_each_status() {
    let app = TestApp::spawn("waiting-metrics").await;
    let waiting = |metrics: &str, status: &str| -> u64 {
        let prefix = format!("cashier_journals_waiting{{status=\"{status}\"}} ");
        metrics.lines().find_map(|l| l.strip_prefix(prefix.as_str())).expect("the gauge is there").parse().unwrap()
    };
    let metrics = || async { app.http.get(app.url("/metrics")).send().await.unwrap().text().await.unwrap() };
    app.pay("1", "").await;
    app.pay("2", "").await;
    app.pay("80", "").await; // over the sandbox's $50 limit: pending
    let before = metrics().await;
    assert_eq!((waiting(&before, "queued"), waiting(&before, "pending"), waiting(&before, "sent_to_clearing")), (2, 1, 0), "{before}");
    app.clear().await;
    let after = metrics().await;
    assert_eq!((waiting(&after, "queued"), waiting(&after, "pending"), waiting(&after, "sent_to_clearing")), (0, 1, 0), "{after}");
    app.stop().await;
}

#[tokio::test]
async fn clearing_finishes_after_a_restart_and_the_v2_flow_books_at_creation() {
    let dir = common::TempDir::new("clearing-restart");
    let config = common::config(&dir, None);
    let running = cashier_server::start(config.clone()).await.unwrap();
    let sandbox: Value = serde_json::from_str(&std::fs::read_to_string(dir.0.join("sandbox.json")).unwrap()).unwrap();
    let text = |v: &Value| v.as_str().unwrap().to_owned();
    let http = reqwest::Client::new();
    let (key, secret) = (text(&sandbox["api_key"]), text(&sandbox["api_secret"]));
    let (op_key, op_secret) = (text(&sandbox["operator_key"]), text(&sandbox["operator_secret"]));
    let body = cash(&text(&sandbox["firm_account_id"]), &text(&sandbox["customer_account_ids"][0]), json!("12.34"));
    let url = |running: &cashier_server::Running, path: &str| format!("http://{}{path}", running.addr);
    let (_, journal) =
        read(http.post(url(&running, "/v1/journals")).basic_auth(&key, Some(&secret)).json(&body).send().await.unwrap()).await;
    let id = text(&journal["id"]);
    cashier_server::clearing::step(&running.app.sequencer).await.unwrap();
    let journal_id = cashier_core::JournalId::parse(&id).unwrap();
    let status = |running: &cashier_server::Running| {
        let app = running.app.clone();
        async move { app.read_tables(move |r| r.journal(journal_id)).await.unwrap().unwrap().status }
    };
    assert_eq!(status(&running).await, cashier_core::JournalStatus::SentToClearing);
    running.stop().await.unwrap();
    // After a restart the journal left in sent_to_clearing is finished by the next step.
    let running = cashier_server::start(config).await.unwrap();
    assert_eq!(status(&running).await, cashier_core::JournalStatus::SentToClearing);
    cashier_server::clearing::step(&running.app.sequencer).await.unwrap();
    assert_eq!(status(&running).await, cashier_core::JournalStatus::Executed);
    // A correspondent on the JNLC v2 flow: journals are booked at creation.
    let ops = |method: Method, path: &str| http.request(method, url(&running, path)).basic_auth(&op_key, Some(&op_secret));
    let (_, c) = read(
        ops(Method::POST, "/admin/v1/correspondents").json(&json!({"code": "VTWO", "name": "V2", "jnlc_flow": "v2"})).send().await.unwrap(),
    )
    .await;
    let c = text(&c["id"]);
    let (_, k) =
        read(ops(Method::POST, &format!("/admin/v1/correspondents/{c}/keys")).json(&json!({"reason": "onboarding"})).send().await.unwrap())
            .await;
    let (_, firm) =
        read(ops(Method::POST, &format!("/admin/v1/correspondents/{c}/firm_accounts")).json(&json!({})).send().await.unwrap()).await;
    let firm = text(&firm["id"]);
    let (code, _) = read(
        ops(Method::POST, &format!("/admin/v1/accounts/{firm}/wires"))
            .json(&json!({"amount": "100", "reason": "wire ref"}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(code, 200);
    let as_v2 =
        |method: Method, path: &str| http.request(method, url(&running, path)).basic_auth(text(&k["key_id"]), Some(text(&k["secret"])));
    let kyc = json!({"contact": {"email_address": "v2@example.com"}, "identity": {"given_name": "Vee", "family_name": "Two"}});
    let (_, customer) = read(as_v2(Method::POST, "/v1/accounts").json(&kyc).send().await.unwrap()).await;
    let (code, journal) =
        read(as_v2(Method::POST, "/v1/journals").json(&cash(&firm, &text(&customer["id"]), json!("10"))).send().await.unwrap()).await;
    assert_eq!((code, journal["status"].as_str()), (200, Some("executed")), "{journal}");
    running.stop().await.unwrap();
}

/// The answer's shape: transmitter fields only when given, cash fields null on a share journal,
/// and the created journal read back the same.
#[tokio::test]
async fn journal_answers_carry_their_transmitter_and_asset_fields() {
    let app = TestApp::spawn("journal-shape").await;
    let (firm, alice) = (app.id("firm_account_id"), app.customer(0));
    let mut body = cash(&firm, &alice, json!("12.34"));
    body["transmitter_name"] = json!("Jane \"JJ\" Doe");
    body["transmitter_timestamp"] = json!("2026-11-30T10:00:00Z");
    body["description"] = json!("line\nbreak");
    let (status, j) = read(app.as_correspondent(Method::POST, "/v1/journals").json(&body).send().await.unwrap()).await;
    assert_eq!(status, 200, "{j}");
    assert_eq!(j["transmitter_name"], "Jane \"JJ\" Doe");
    assert_eq!(j["description"], "line\nbreak");
    assert!(j["transmitter_timestamp"].as_str().unwrap().starts_with("2026-11-30T10:00:00"), "{j}");
    for absent in ["transmitter_address", "transmitter_account_number", "transmitter_financial_institution"] {
        assert!(j.get(absent).is_none(), "{absent} is left out when not given: {j}");
    }
    let path = format!("/v1/journals/{}", j["id"].as_str().unwrap());
    let (_, again) = read(app.as_correspondent(Method::GET, &path).send().await.unwrap()).await;
    assert_eq!(again["transmitter_name"], j["transmitter_name"]);
    assert_eq!(again["created_at"], j["created_at"]);
    let shares = json!({"entry_type": "JNLS", "from_account": firm, "to_account": alice, "symbol": "AAPL", "qty": "0.5"});
    let (status, s) = read(app.as_correspondent(Method::POST, "/v1/journals").json(&shares).send().await.unwrap()).await;
    assert_eq!(status, 200, "{s}");
    assert_eq!((s["symbol"].as_str(), s["qty"].as_str(), s["currency"].as_str()), (Some("AAPL"), Some("0.5"), Some("USD")));
    assert!(s["net_amount"].is_null() && s.get("transmitter_name").is_none(), "{s}");
    app.stop().await;
}
