//! The authorization matrix: every endpoint the router serves (read from the same list that
//! builds it) against no credentials, a wrong secret, another correspondent's key, the owning
//! correspondent's key and an operator's key. The right 401, 403 or 404 each time, and nothing
//! of one correspondent in any answer or event stream another receives.

mod common;

use common::{read, TestApp};
use reqwest::Method;
use serde_json::{json, Value};
use std::time::Duration;

/// Who calls.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Who {
    Nobody,
    WrongSecret,
    Other,
    Owner,
    Operator,
}

#[tokio::test]
async fn every_endpoint_answers_each_kind_of_caller_as_it_should() {
    let app = TestApp::spawn("authz").await;
    let (firm, alice) = (app.id("firm_account_id"), app.customer(0));
    // What the owner has: a journal and a transfer.
    let pay = json!({"entry_type": "JNLC", "from_account": firm, "to_account": alice, "amount": "1"});
    let (_, journal) = read(app.as_correspondent(Method::POST, "/v1/journals").json(&pay).send().await.unwrap()).await;
    let wire = json!({"transfer_type": "wire", "direction": "INCOMING", "amount": "10"});
    let (_, transfer) =
        read(app.as_correspondent(Method::POST, &format!("/v1/accounts/{firm}/transfers")).json(&wire).send().await.unwrap()).await;
    let journal_id = journal["id"].as_str().unwrap().to_owned();
    // Executed, so that the owner's reverse batch has cash to move back.
    let sequencer = app.running.as_ref().unwrap().app.sequencer.clone();
    for _ in 0..2 {
        cashier_server::clearing::step(&sequencer).await.unwrap();
    }
    let owned: Vec<String> =
        vec![firm.clone(), alice.clone(), app.customer(1), journal_id.clone(), transfer["id"].as_str().unwrap().to_owned()];
    let (other_key, other_secret) = app.other_correspondent().await;

    let ops = cashier_server::routes().ops().to_vec();
    let mut checked = 0;
    for who in [Who::Nobody, Who::WrongSecret, Who::Other, Who::Owner, Who::Operator] {
        for op in &ops {
            let mut path = op.path.to_owned();
            for name in op.path_params() {
                let value = match name {
                    "journal_id" => journal_id.clone(),
                    "account_id" => alice.clone(),
                    "transfer_id" => owned[4].clone(),
                    "correspondent_id" => app.id("correspondent_id"),
                    "symbol" => "AAPL".into(),
                    "activity_type" => "JNLC".into(),
                    "action" => "approve".into(),
                    "setting" => "status".into(),
                    "key_id" => app.id("api_key"),
                    other => panic!("no sample for path parameter {other} of {}", op.path),
                };
                path = path.replace(&format!("{{{name}}}"), &value);
            }
            // Streams replay from the start, so anything of the owner's would show at once.
            if op.path.contains("/events/") {
                path.push_str("?since_id=1");
            }
            let body = match op.id {
                "createJournal" => pay.clone(),
                "createBatchJournal" => {
                    json!({"entry_type": "JNLC", "from_account": firm, "entries": [{"to_account": alice, "amount": "1"}]})
                }
                "createReverseBatchJournal" => {
                    json!({"entry_type": "JNLC", "to_account": firm, "entries": [{"from_account": alice, "amount": "1"}]})
                }
                "createAccount" => {
                    json!({"contact": {"email_address": format!("{who:?}@example.com")}, "identity": {"given_name": "A", "family_name": "B"}})
                }
                "createTransfer" => wire.clone(),
                _ => json!({}),
            };
            let mut request = app.http.request(op.method.clone(), app.url(&path)).json(&body);
            request = match who {
                Who::Nobody => request,
                Who::WrongSecret => request.basic_auth(app.id("api_key"), Some("not-the-secret")),
                Who::Other => request.basic_auth(&other_key, Some(&other_secret)),
                Who::Owner => request.basic_auth(app.id("api_key"), Some(app.id("api_secret"))),
                Who::Operator => request.basic_auth(app.id("operator_key"), Some(app.id("operator_secret"))),
            };
            let mut response = request.send().await.unwrap();
            let status = response.status().as_u16();
            let is_stream = response.headers().get("content-type").is_some_and(|v| v.to_str().unwrap().starts_with("text/event-stream"));
            let text = if is_stream {
                let mut seen = Vec::new();
                while let Ok(Ok(Some(chunk))) = tokio::time::timeout(Duration::from_millis(300), response.chunk()).await {
                    seen.extend_from_slice(&chunk);
                }
                String::from_utf8_lossy(&seen).into_owned()
            } else {
                response.text().await.unwrap()
            };
            let what = format!("{who:?} {} {path} answered {status}: {text}", op.method);
            use cashier_server::api::Access;
            let names_owned = op.path_params().any(|p| ["journal_id", "account_id", "transfer_id"].contains(&p))
                || ["createJournal", "createBatchJournal", "createReverseBatchJournal"].contains(&op.id);
            let expected: &[u16] = match (op.access, who) {
                (Access::Public, _) => &[200],
                (_, Who::Nobody | Who::WrongSecret) => &[401],
                (Access::Operator, Who::Other | Who::Owner) => &[403],
                (Access::Key, Who::Other) if names_owned => &[404],
                (Access::Key, Who::Operator) if op.id == "createAccount" => &[403],
                // Journals are created by correspondents only.
                (Access::Key, Who::Operator) if ["createJournal", "createBatchJournal", "createReverseBatchJournal"].contains(&op.id) => {
                    &[403]
                }
                _ => &[],
            };
            if expected.is_empty() {
                assert!(![401, 403].contains(&status) && status < 500, "{what}");
            } else {
                assert!(expected.contains(&status), "{what}");
            }
            if status >= 400 {
                let error: Value = serde_json::from_str(&text).unwrap_or_else(|_| panic!("an error envelope: {what}"));
                assert!(error["code"].is_u64() && error["message"].is_string(), "{what}");
            }
            if matches!(who, Who::Other | Who::Nobody | Who::WrongSecret) && op.access != Access::Public {
                for id in &owned {
                    assert!(!text.contains(id.as_str()), "{what} shows the owner's {id}");
                }
            }
            checked += 1;
        }
    }
    assert_eq!(checked, ops.len() * 5);
    app.stop().await;
}

#[tokio::test]
async fn a_key_over_its_rate_or_stream_limit_is_answered_429() {
    let app =
        TestApp::spawn_with("limits", |c| cashier_server::Config { rate_limit: 5, streams_per_key: 1, list_results_max: 3, ..c }).await;
    let mut statuses = Vec::new();
    for _ in 0..12 {
        let response = app.as_correspondent(Method::GET, "/v1/journals").send().await.unwrap();
        let header = |name: &str| response.headers().get(name).map(|v| v.to_str().unwrap().parse::<u64>().unwrap());
        assert_eq!(header("x-ratelimit-limit"), Some(5), "every authenticated answer carries the headers");
        assert!(header("x-ratelimit-reset").unwrap() > 1_700_000_000);
        let remaining = header("x-ratelimit-remaining").unwrap();
        let status = response.status().as_u16();
        if status == 429 {
            assert_eq!(remaining, 0);
            assert_eq!(read(response).await.1["reason"], "rate_limited");
        }
        statuses.push(status);
    }
    // Twelve requests span at most two one-second windows of five.
    assert!(statuses.iter().filter(|s| **s == 429).count() >= 2, "{statuses:?}");
    let limited = statuses.iter().position(|s| *s == 429).unwrap();
    assert!(limited >= 5 || statuses[..limited].iter().all(|s| *s == 200), "{statuses:?}");
    // The operator's allowance is its own.
    let ops = app.http.get(app.url("/admin/v1/reconciliation")).basic_auth(app.id("operator_key"), Some(app.id("operator_secret")));
    assert_eq!(ops.send().await.unwrap().status(), 200);
    // Unauthenticated requests count against nobody and carry no quota.
    let bad = app.http.get(app.url("/v1/journals")).basic_auth(app.id("api_key"), Some("wrong")).send().await.unwrap();
    assert_eq!((bad.status().as_u16(), bad.headers().get("x-ratelimit-limit")), (401, None));
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    let stream = app.as_correspondent(Method::GET, "/v2/events/journals/status").send().await.unwrap();
    assert_eq!(stream.status(), 200);
    let (status, error) = read(app.as_correspondent(Method::GET, "/v2/events/journals/status").send().await.unwrap()).await;
    assert_eq!((status, error["reason"].as_str()), (429, Some("too_many_streams")));
    drop(stream);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let again = app.as_correspondent(Method::GET, "/v2/events/journals/status").send().await.unwrap();
    assert_eq!(again.status(), 200, "a closed stream frees its place");
    drop(again);
    // A list larger than the most one answer holds asks for filters or a limit.
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    let (firm, alice) = (app.id("firm_account_id"), app.customer(0));
    let entries: Vec<serde_json::Value> = (0..4).map(|_| json!({"to_account": alice, "amount": "1"})).collect();
    let batch = json!({"entry_type": "JNLC", "from_account": firm, "entries": entries});
    assert_eq!(read(app.as_correspondent(Method::POST, "/v1/journals/batch").json(&batch).send().await.unwrap()).await.0, 200);
    let (status, error) = read(app.as_correspondent(Method::GET, "/v1/journals").send().await.unwrap()).await;
    assert_eq!((status, error["reason"].as_str()), (422, Some("too_many_results")), "{error}");
    let (status, page) = read(app.as_correspondent(Method::GET, "/v1/journals?limit=2").send().await.unwrap()).await;
    assert_eq!((status, page.as_array().map(Vec::len)), (200, Some(2)));
    // No parameter lifts the bound.
    let (status, error) = read(app.as_correspondent(Method::GET, "/v1/journals?limit=4").send().await.unwrap()).await;
    assert_eq!((status, error["reason"].as_str()), (400, Some("invalid_limit")), "{error}");
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    let kyc = json!({"contact": {"email_address": "fourth@example.com"}, "identity": {"given_name": "Four", "family_name": "Th"}});
    assert_eq!(read(app.as_correspondent(Method::POST, "/v1/accounts").json(&kyc).send().await.unwrap()).await.0, 200);
    let (status, error) = read(app.as_correspondent(Method::GET, "/v1/accounts").send().await.unwrap()).await;
    assert_eq!((status, error["reason"].as_str()), (422, Some("too_many_results")), "accounts are bounded too: {error}");
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    // A batch of more entries than the most a batch takes is refused whole.
    let entries: Vec<serde_json::Value> =
        (0..=cashier_core::BATCH_ENTRIES_MAX).map(|_| json!({"to_account": alice, "amount": "1"})).collect();
    let batch = json!({"entry_type": "JNLC", "from_account": firm, "entries": entries});
    let (status, error) = read(app.as_correspondent(Method::POST, "/v1/journals/batch").json(&batch).send().await.unwrap()).await;
    assert_eq!(status / 100, 4, "{error}");
    assert!(error["message"].as_str().unwrap().contains("5000") || error["reason"] == "batch_too_large", "{error}");
    let journals = app.running.as_ref().unwrap().app.sequencer.read(|state| state.journals().count());
    assert_eq!(journals, 4, "the refused batch left nothing");
    app.stop().await;
}
