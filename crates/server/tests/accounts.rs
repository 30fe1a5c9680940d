//! Accounts, the trading account, positions and transfers over HTTP: cash pooling end to end.

mod common;

use common::{read, TestApp};
use reqwest::Method;
use serde_json::{json, Value};

async fn clear(app: &TestApp) {
    let sequencer = app.running.as_ref().unwrap().app.sequencer.clone();
    cashier_server::clearing::step(&sequencer).await.unwrap();
    cashier_server::clearing::step(&sequencer).await.unwrap();
}

/// Today's UTC date.
fn today() -> cashier_core::Date {
    let seconds = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    cashier_core::Date((seconds / 86_400) as i32)
}

async fn get(app: &TestApp, path: &str) -> (u16, Value) {
    read(app.as_correspondent(Method::GET, path).send().await.unwrap()).await
}

#[tokio::test]
async fn cash_pooling_end_to_end() {
    let app = TestApp::spawn("pooling").await;
    let (firm, alice, bob) = (app.id("firm_account_id"), app.customer(0), app.customer(1));
    // A bulk wire funds the firm account.
    let wire = json!({"transfer_type": "wire", "bank_id": "b1", "amount": "5000", "direction": "INCOMING", "timing": "immediate"});
    let (status, transfer) =
        read(app.as_correspondent(Method::POST, &format!("/v1/accounts/{firm}/transfers")).json(&wire).send().await.unwrap()).await;
    assert_eq!(
        (status, transfer["status"].as_str(), transfer["amount"].as_str(), transfer["type"].as_str()),
        (200, Some("COMPLETE"), Some("5000"), Some("wire"))
    );
    let (_, account) = get(&app, &format!("/v1/trading/accounts/{firm}/account")).await;
    assert_eq!(account["cash"], "1005000.00");
    // A batch moves it to each customer; once cleared, each trading account shows the cash.
    let batch = json!({"entry_type": "JNLC", "from_account": firm, "entries": [{"to_account": alice, "amount": "20"}, {"to_account": bob, "amount": "30.25"}]});
    let (status, _) = read(app.as_correspondent(Method::POST, "/v1/journals/batch").json(&batch).send().await.unwrap()).await;
    assert_eq!(status, 200);
    clear(&app).await;
    for (customer, cash) in [(&alice, "20.00"), (&bob, "30.25")] {
        let (status, account) = get(&app, &format!("/v1/trading/accounts/{customer}/account")).await;
        assert_eq!(status, 200);
        assert_eq!(
            (account["cash"].as_str(), account["cash_transferable"].as_str(), account["cash_withdrawable"].as_str()),
            (Some(cash), Some(cash), Some(cash))
        );
        // Every key the Broker API documents, typed as it types them: strings where it has
        // strings (never null), "0" where nothing is owed, today's cash for the last close's.
        for field in [
            "previous_close",
            "last_cash",
            "clearing_broker",
            "last_long_market_value",
            "last_short_market_value",
            "last_initial_margin",
            "last_regt_buying_power",
            "last_buying_power",
            "intraday_adjustments",
            "pending_reg_taf_fees",
            "options_buying_power",
            "last_daytrading_buying_power",
            "last_options_buying_power",
        ] {
            assert!(account[field].is_string(), "{field} is a string: {account}");
        }
        for field in ["last_daytrade_count", "options_approved_level", "options_trading_level"] {
            assert!(account[field].is_i64(), "{field} is an integer: {account}");
        }
        assert!(account["admin_configurations"].is_object() && account["user_configurations"].is_object(), "{account}");
        assert_eq!((account["last_cash"].as_str(), account["pending_reg_taf_fees"].as_str()), (Some(cash), Some("0.00")));
        let close = account["previous_close"].as_str().unwrap();
        assert!(close.ends_with("T16:00:00-05:00") || close.ends_with("T16:00:00-04:00"), "{close}");
    }
    let (_, firm_account) = get(&app, &format!("/v1/trading/accounts/{firm}/account")).await;
    assert_eq!(firm_account["cash"], "1004949.75");
    // A withdrawal flows back: OUTGOING from a customer.
    let ach = json!({"transfer_type": "ach", "relationship_id": "r1", "amount": "5", "direction": "OUTGOING"});
    let (status, _) =
        read(app.as_correspondent(Method::POST, &format!("/v1/accounts/{alice}/transfers")).json(&ach).send().await.unwrap()).await;
    assert_eq!(status, 200);
    let (_, account) = get(&app, &format!("/v1/trading/accounts/{alice}/account")).await;
    assert_eq!(account["cash"], "15.00");
    // Transfers page by offset and end with an empty page.
    let (_, page) = get(&app, &format!("/v1/accounts/{firm}/transfers?offset=0&limit=1")).await;
    assert_eq!(page.as_array().unwrap().len(), 1);
    let (_, last) = get(&app, &format!("/v1/accounts/{firm}/transfers?offset=10")).await;
    assert_eq!(last, json!([]));
    // What does not apply is left out, as the Broker API does; additional_information is there.
    let (_, transfer) = get(&app, &format!("/v1/accounts/{firm}/transfers?limit=1")).await;
    let transfer = transfer[0].as_object().unwrap();
    for absent in ["bank_id", "relationship_id", "expires_at"] {
        assert!(!transfer.contains_key(absent), "{absent} left out: {transfer:?}");
    }
    assert!(transfer.contains_key("additional_information"), "{transfer:?}");
    // An empty filter is a mistake, named, never "no filter".
    let (status, error) = get(&app, &format!("/v1/accounts/{firm}/transfers?direction=")).await;
    assert_eq!((status, error["reason"].as_str()), (400, Some("empty_parameter")), "{error}");
    assert!(error["message"].as_str().unwrap().starts_with("direction: "), "{error}");
    // Bad transfers.
    let cases = [
        (json!({"transfer_type": "check", "amount": "1", "direction": "INCOMING"}), 400, "invalid_transfer_type"),
        (json!({"transfer_type": "ach", "amount": "1", "direction": "INCOMING", "additional_information": "x"}), 422, "wire_only_field"),
        (json!({"transfer_type": "ach", "amount": "0", "direction": "INCOMING"}), 400, "amount_not_positive"),
        (json!({"transfer_type": "ach", "amount": "1000", "direction": "OUTGOING"}), 403, "insufficient_funds"),
    ];
    for (body, status, reason) in cases {
        let (got, error) =
            read(app.as_correspondent(Method::POST, &format!("/v1/accounts/{alice}/transfers")).json(&body).send().await.unwrap()).await;
        assert_eq!((got, error["reason"].as_str()), (status, Some(reason)), "{body}");
    }
    app.stop().await;
}

#[tokio::test]
async fn a_share_reward_shows_as_a_position() {
    let app = TestApp::spawn("positions").await;
    let (firm, alice) = (app.id("firm_account_id"), app.customer(0));
    let reward = json!({"entry_type": "JNLS", "from_account": firm, "to_account": alice, "symbol": "AAPL", "qty": "0.25"});
    let (status, _) = read(app.as_correspondent(Method::POST, "/v1/journals").json(&reward).send().await.unwrap()).await;
    assert_eq!(status, 200);
    clear(&app).await;
    let (status, positions) = get(&app, &format!("/v1/trading/accounts/{alice}/positions")).await;
    assert_eq!(status, 200);
    let p = &positions[0];
    assert_eq!((p["symbol"].as_str(), p["qty"].as_str(), p["side"].as_str()), (Some("AAPL"), Some("0.25"), Some("long")));
    assert_eq!(
        (p["avg_entry_price"].as_str(), p["cost_basis"].as_str(), p["market_value"].as_str()),
        (Some("190"), Some("47.50"), Some("47.50"))
    );
    // The Broker API's every key: no intraday history is kept, so nothing changed today.
    assert_eq!((p["unrealized_plpc"].as_str(), p["change_today"].as_str()), (Some("0"), Some("0")), "{p}");
    assert_eq!((p["unrealized_intraday_pl"].as_str(), p["lastday_price"].as_str()), (Some("0.00"), Some("190")), "{p}");
    let (status, one) = get(&app, &format!("/v1/trading/accounts/{alice}/positions/AAPL")).await;
    assert_eq!((status, &one), (200, p));
    let (status, error) = get(&app, &format!("/v1/trading/accounts/{alice}/positions/TSLA")).await;
    assert_eq!((status, error["message"].as_str()), (404, Some("position does not exist")));
    let (_, account) = get(&app, &format!("/v1/trading/accounts/{alice}/account")).await;
    assert_eq!((account["long_market_value"].as_str(), account["equity"].as_str()), (Some("47.50"), Some("47.50")));
    app.stop().await;
}

#[tokio::test]
async fn accounts_open_from_kyc_and_stay_private() {
    let app = TestApp::spawn("accounts").await;
    let kyc = json!({
        "contact": {"email_address": "ada@example.com", "phone_number": "555-0100", "street_address": ["1 Main St"], "city": "Springfield", "state": "IL", "postal_code": "62701"},
        "identity": {"given_name": "Ada", "family_name": "Lovelace", "date_of_birth": "1990-12-10", "tax_id": "666-55-4321", "tax_id_type": "USA_SSN", "country_of_tax_residence": "USA", "funding_source": ["employment_income"]},
        "disclosures": {"is_control_person": false, "is_affiliated_exchange_or_finra": false, "is_politically_exposed": false, "immediate_family_exposed": false},
        "agreements": [{"agreement": "customer_agreement", "signed_at": "2026-11-01T00:00:00Z", "ip_address": "127.0.0.1"}]
    });
    let (status, account) = read(app.as_correspondent(Method::POST, "/v1/accounts").json(&kyc).send().await.unwrap()).await;
    assert_eq!((status, account["status"].as_str(), account["kind"].as_str()), (200, Some("ACTIVE"), Some("customer")), "{account}");
    let id = account["id"].as_str().unwrap().to_owned();
    assert_eq!(account["contact"], kyc["contact"], "the opening data comes back");
    let (status, again) = get(&app, &format!("/v1/accounts/{id}")).await;
    assert_eq!((status, &again["account_number"]), (200, &account["account_number"]));
    for part in ["contact", "identity", "disclosures", "agreements"] {
        assert_eq!(again[part], kyc[part], "{part} is kept and shown");
    }
    assert!(!again.as_object().unwrap().contains_key("trusted_contact"), "a part never given is absent, not null");
    // One account per contact email within a correspondent, whatever its case.
    let mut twin = kyc.clone();
    twin["contact"]["email_address"] = json!(" ADA@example.com");
    let (status, error) = read(app.as_correspondent(Method::POST, "/v1/accounts").json(&twin).send().await.unwrap()).await;
    assert_eq!((status, error["reason"].as_str(), error["code"].as_u64()), (409, Some("email_in_use"), Some(40910000)), "{error}");
    // Search by name, email or phone; filter by opening time; include parts of the opening data.
    let ids = |list: &Value| list.as_array().unwrap().iter().map(|a| a["id"].as_str().unwrap().to_owned()).collect::<Vec<_>>();
    for (query, expected) in [("lovelace", vec![id.clone()]), ("ADA%20555-0100", vec![id.clone()]), ("nobody", vec![])] {
        let (status, found) = get(&app, &format!("/v1/accounts?query={query}")).await;
        assert_eq!((status, ids(&found)), (200, expected), "query {query}");
    }
    let (_, listed) = get(&app, "/v1/accounts?entities=contact").await;
    assert_eq!((&listed[0]["contact"], listed[0].get("identity")), (&kyc["contact"], None));
    let (_, plain) = get(&app, "/v1/accounts").await;
    assert_eq!(plain[0].get("contact"), None, "the opening data only when asked for");
    let tomorrow = today().next().to_string();
    let (_, none) = get(&app, &format!("/v1/accounts?created_after={tomorrow}")).await;
    assert_eq!(none, json!([]));
    let (_, all_before) = get(&app, &format!("/v1/accounts?created_before={tomorrow}")).await;
    assert_eq!(all_before.as_array().unwrap().len(), 4);
    let (status, error) = get(&app, "/v1/accounts?entities=secrets").await;
    assert_eq!((status, error["reason"].as_str()), (400, Some("invalid_entities")));
    let (_, all) = get(&app, "/v1/accounts").await;
    assert_eq!(all.as_array().unwrap().len(), 4, "firm, two sandbox customers and the new one");
    assert_eq!(all[0]["id"], id, "newest first");
    let (_, active) = get(&app, "/v1/accounts?status=ACTIVE&status=ACCOUNT_CLOSED").await;
    assert_eq!(active.as_array().unwrap().len(), 4);
    for (body, reason) in [
        (json!({"identity": {"given_name": "A", "family_name": "B"}}), "missing_field"),
        (
            json!({"contact": {"email_address": "a@b.c"}, "identity": {"given_name": "A", "family_name": "B", "date_of_birth": "1990-13-01"}}),
            "malformed_date",
        ),
    ] {
        let (status, error) = read(app.as_correspondent(Method::POST, "/v1/accounts").json(&body).send().await.unwrap()).await;
        assert_eq!((status, error["reason"].as_str()), (400, Some(reason)), "{body}");
    }
    // Operators open firm accounts elsewhere; another correspondent sees nothing here.
    let ops = app.http.post(app.url("/v1/accounts")).basic_auth(app.id("operator_key"), Some(app.id("operator_secret"))).json(&kyc);
    assert_eq!(read(ops.send().await.unwrap()).await.0, 403);
    let (key, secret) = app.other_correspondent().await;
    for path in [
        format!("/v1/accounts/{id}"),
        format!("/v1/trading/accounts/{id}/account"),
        format!("/v1/trading/accounts/{id}/positions"),
        format!("/v1/accounts/{id}/transfers"),
    ] {
        let (status, error) = read(app.http.get(app.url(&path)).basic_auth(&key, Some(&secret)).send().await.unwrap()).await;
        assert_eq!((status, error["reason"].as_str()), (404, Some("account_not_found")), "{path}");
    }
    let (_, theirs) = read(app.http.get(app.url("/v1/accounts")).basic_auth(&key, Some(&secret)).send().await.unwrap()).await;
    assert_eq!(theirs, json!([]));
    let (_, found) = read(app.http.get(app.url("/v1/accounts?query=ada")).basic_auth(&key, Some(&secret)).send().await.unwrap()).await;
    assert_eq!(found, json!([]), "a search never reaches another correspondent's customers");
    let (status, _) = read(app.http.post(app.url("/v1/accounts")).basic_auth(&key, Some(&secret)).json(&kyc).send().await.unwrap()).await;
    assert_eq!(status, 200, "an email is unique within a correspondent, not across them");
    app.stop().await;
}
