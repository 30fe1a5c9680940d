//! `/openapi.json` and `/docs`: made from the router, so every documented operation is served,
//! every reference resolves, and the page lists every operation.

mod common;

use common::{read, TestApp};
use serde_json::Value;
use std::collections::HashSet;

/// Every `$ref` in `value`.
fn refs(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            if let Some(Value::String(r)) = map.get("$ref") {
                out.push(r.clone());
            }
            map.values().for_each(|v| refs(v, out));
        }
        Value::Array(list) => list.iter().for_each(|v| refs(v, out)),
        _ => {}
    }
}

/// A value a path parameter can take that reaches the handler: the first of its enum, a UUID,
/// or a symbol.
fn sample(parameter: &Value) -> String {
    let schema = &parameter["schema"];
    if let Some(first) = schema["enum"].as_array().and_then(|e| e.first()) {
        return first.as_str().unwrap().to_owned();
    }
    if schema["format"] == "uuid" {
        return "6f3a8c8e-6c43-4d4b-9a43-2f3e2a6c1b7d".into();
    }
    "AAPL".into()
}

#[tokio::test]
async fn the_document_describes_every_route_and_every_route_answers() {
    let app = TestApp::spawn("openapi").await;
    let (status, doc) = read(app.http.get(app.url("/openapi.json")).send().await.unwrap()).await;
    assert_eq!(status, 200);
    assert_eq!(doc["openapi"], "3.1.0");

    let mut missing = Vec::new();
    let mut found = Vec::new();
    refs(&doc, &mut found);
    for r in &found {
        let pointer = r.strip_prefix('#').expect("a local reference");
        if doc.pointer(pointer).is_none() {
            missing.push(r.clone());
        }
    }
    assert!(missing.is_empty(), "references that resolve to nothing: {missing:?}");
    assert!(found.len() > 30, "schemas are referenced, not inlined: {}", found.len());

    let mut ids = HashSet::new();
    let mut operations = 0;
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            operations += 1;
            let id = op["operationId"].as_str().unwrap();
            assert!(ids.insert(id.to_owned()), "operationId {id} twice");
            assert!(op["responses"]["default"].is_object(), "{id} documents its errors");
            let mut concrete = path.clone();
            for p in op["parameters"].as_array().unwrap().iter().filter(|p| p["in"] == "path") {
                concrete = concrete.replace(&format!("{{{}}}", p["name"].as_str().unwrap()), &sample(p));
            }
            assert!(!concrete.contains('{'), "{id}: every path parameter is declared: {concrete}");
            let method = reqwest::Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
            // The operator's key reaches every endpoint; an SSE stream answers with its headers.
            let response = app
                .http
                .request(method.clone(), app.url(&concrete))
                .basic_auth(app.id("operator_key"), Some(app.id("operator_secret")))
                .header("content-type", "application/json")
                .body("{}")
                .send()
                .await
                .unwrap();
            let status = response.status().as_u16();
            assert_ne!(status, 405, "{method} {concrete} is routed");
            if response.headers().get("content-type").is_some_and(|v| v.to_str().unwrap().starts_with("application/json")) {
                let body: Value = response.json().await.unwrap();
                assert_ne!(body["reason"], "route_not_found", "{method} {concrete} is routed: {body}");
                if status >= 400 {
                    assert!(body["code"].is_u64() && body["message"].is_string(), "{method} {concrete}: an error envelope: {body}");
                }
            }
            assert!(status < 500, "{method} {concrete} answered {status}");
        }
    }
    assert!(operations >= 30, "{operations} operations");
    for must in
        ["createJournal", "createBatchJournal", "listJournals", "createAccount", "streamJournalEvents", "actOnJournal", "getOpenApi"]
    {
        assert!(ids.contains(must), "{must} is documented");
    }

    let page = app.http.get(app.url("/docs")).send().await.unwrap();
    assert_eq!(page.status(), 200);
    assert!(page.headers()["content-type"].to_str().unwrap().starts_with("text/html"));
    let html = page.text().await.unwrap();
    for id in &ids {
        assert!(html.contains(&format!("id=\"{id}\"")), "the docs page shows {id}");
    }
    app.stop().await;
}
