//! `/openapi.json` and the API docs page `/docs`, both made from the endpoints the router
//! serves ([`crate::api`]) and the schemas below.

use crate::api::{schema, uuid, Access, Api, Op, Reply};
use axum::http::header;
use axum::response::{Html, IntoResponse};
use axum::Json;
use cashier_core::{AccountStatus, JournalStatus, TransferStatus};
use serde_json::{json, Value};
use std::fmt::Write;
use std::sync::OnceLock;

pub fn routes(api: Api) -> Api {
    api.section("Documentation", Access::Public)
        .route(
            Op::get("/openapi.json", "getOpenApi", "This document: every endpoint, generated from the router.")
                .json(json!({"type": "object"})),
            get_document,
        )
        .route(Op::get("/docs", "getDocs", "The API's documentation as a page.").reply(Reply::Text("text/html")), get_docs)
}

/// The document of every route [`crate::routes`] serves, made once.
pub fn document() -> &'static Value {
    static DOCUMENT: OnceLock<Value> = OnceLock::new();
    DOCUMENT.get_or_init(|| crate::routes().document())
}

async fn get_document() -> Json<&'static Value> {
    Json(document())
}

async fn get_docs() -> impl IntoResponse {
    static PAGE: OnceLock<String> = OnceLock::new();
    let page = PAGE.get_or_init(|| docs_page(&crate::routes()));
    ([(header::CACHE_CONTROL, "no-cache")], Html(page.as_str()))
}

fn names<T: Copy>(all: &[T], name: impl Fn(T) -> &'static str) -> Value {
    Value::Array(all.iter().map(|&v| json!(name(v))).collect())
}

/// A decimal in a response: a string, never a float.
fn decimal() -> Value {
    json!({"type": "string", "pattern": "^-?[0-9]+(\\.[0-9]+)?$"})
}

fn nullable(mut schema: Value) -> Value {
    if let Some(t) = schema.get("type").cloned() {
        schema["type"] = json!([t, "null"]);
    }
    schema
}

/// A decimal in a request: a string (exact) or a JSON number (float noise rounded).
fn decimal_in() -> Value {
    json!({"oneOf": [{"type": "string", "pattern": "^[0-9]+(\\.[0-9]+)?$"}, {"type": "number", "exclusiveMinimum": 0}]})
}

fn text() -> Value {
    json!({"type": "string"})
}

fn time() -> Value {
    json!({"type": "string", "format": "date-time"})
}

fn object(required: &[&str], properties: Value) -> Value {
    json!({"type": "object", "required": required, "properties": properties})
}

/// An object whose every property is required, and nothing else: what the answer always holds.
fn every_key(properties: Value) -> Value {
    let required: Vec<&str> = properties.as_object().map(|p| p.keys().map(String::as_str).collect()).unwrap_or_default();
    json!({"type": "object", "required": required, "properties": properties, "additionalProperties": false})
}

/// `GET /v1/trading/accounts/{id}/account`, every key the Broker API documents, typed as it
/// types them.
fn trade_account() -> Value {
    let mut properties = serde_json::Map::new();
    for name in [
        "cash",
        "cash_withdrawable",
        "cash_transferable",
        "buying_power",
        "regt_buying_power",
        "daytrading_buying_power",
        "non_marginable_buying_power",
        "effective_buying_power",
        "options_buying_power",
        "accrued_fees",
        "pending_transfer_in",
        "pending_transfer_out",
        "portfolio_value",
        "equity",
        "last_equity",
        "long_market_value",
        "short_market_value",
        "initial_margin",
        "maintenance_margin",
        "last_maintenance_margin",
        "sma",
        "multiplier",
        "last_cash",
        "last_buying_power",
        "last_regt_buying_power",
        "last_daytrading_buying_power",
        "last_options_buying_power",
        "last_long_market_value",
        "last_short_market_value",
        "last_initial_margin",
        "intraday_adjustments",
        "pending_reg_taf_fees",
    ] {
        properties.insert(name.into(), decimal());
    }
    for name in
        ["trading_blocked", "transfers_blocked", "account_blocked", "pattern_day_trader", "shorting_enabled", "trade_suspended_by_user"]
    {
        properties.insert(name.into(), json!({"type": "boolean"}));
    }
    for name in ["daytrade_count", "last_daytrade_count", "options_approved_level", "options_trading_level"] {
        properties.insert(name.into(), json!({"type": "integer"}));
    }
    for (name, schema) in [
        ("id", uuid()),
        ("account_number", text()),
        ("status", {
            let statuses = names(AccountStatus::ALL, AccountStatus::as_str);
            json!({"type": "string", "enum": statuses})
        }),
        ("crypto_status", text()),
        ("currency", text()),
        ("balance_asof", json!({"type": "string", "format": "date"})),
        ("previous_close", time()),
        ("clearing_broker", text()),
        ("created_at", time()),
        (
            "kind",
            json!({"type": "string", "enum": ["customer", "firm"], "description": "Cashier's: a customer's account or a correspondent's firm account."}),
        ),
        ("admin_configurations", json!({"type": "object"})),
        ("user_configurations", json!({"type": "object"})),
    ] {
        properties.insert(name.into(), schema);
    }
    every_key(Value::Object(properties))
}

/// Every named schema of the document.
pub fn schemas() -> Value {
    let journal_statuses = names(JournalStatus::ALL, JournalStatus::as_str);
    let entry = |account: &str| {
        let mut props = json!({
            "amount": decimal_in(),
            "symbol": text(),
            "qty": decimal_in(),
            "currency": json!({"type": "string", "minLength": 3, "maxLength": 3}),
            "description": json!({"type": "string", "maxLength": 1024}),
            "transmitter_name": text(),
            "transmitter_account_number": text(),
            "transmitter_address": text(),
            "transmitter_financial_institution": text(),
            "transmitter_timestamp": time(),
        });
        props[account] = uuid();
        props
    };
    let entry_type = json!({"type": "string", "enum": ["JNLC", "JNLS"]});
    let mut journal_request = entry("to_account");
    journal_request["from_account"] = uuid();
    journal_request["entry_type"] = entry_type.clone();
    let batch = |account: &str, entries_account: &str| {
        object(
            &["entry_type", account, "entries"],
            json!({
                "entry_type": entry_type,
                account: uuid(),
                "entries": {"type": "array", "minItems": 1, "maxItems": cashier_core::BATCH_ENTRIES_MAX, "items": object(&[entries_account], entry(entries_account))},
            }),
        )
    };
    json!({
        "Error": object(&["code", "message"], json!({
            "code": {"type": "integer", "description": "The HTTP status times 100,000 plus 10,000."},
            "message": {"type": "string", "description": "What went wrong and what to fix."},
            "reason": {"type": "string", "description": "A stable snake_case code."},
        })),
        "JournalStatus": {"type": "string", "enum": journal_statuses},
        "Journal": object(
            &["id", "entry_type", "from_account", "to_account", "status", "symbol", "qty", "price", "net_amount", "settle_date", "system_date", "description", "currency", "created_at"],
            json!({
                "id": uuid(),
                "entry_type": entry_type,
                "from_account": uuid(),
                "to_account": uuid(),
                "status": schema("JournalStatus"),
                "symbol": nullable(text()),
                "qty": nullable(decimal()),
                "price": nullable(decimal()),
                "net_amount": nullable(decimal()),
                "settle_date": nullable(json!({"type": "string", "format": "date"})),
                "system_date": nullable(json!({"type": "string", "format": "date"})),
                "description": text(),
                "currency": text(),
                "created_at": time(),
                "transmitter_name": text(),
                "transmitter_account_number": text(),
                "transmitter_address": text(),
                "transmitter_financial_institution": text(),
                "transmitter_timestamp": time(),
                "error_message": {"type": "string", "description": "Why a refused journal was refused."},
                "refused_for": {"type": "string", "description": "Cashier's stable reason for a refusal (insufficient_funds, insufficient_qty, account_blocked, ...)."},
            }),
        ),
        "JournalRequest": object(&["entry_type", "from_account", "to_account"], journal_request),
        "BatchJournalRequest": batch("from_account", "to_account"),
        "ReverseBatchJournalRequest": batch("to_account", "from_account"),
        "AccountRequest": object(&["contact", "identity"], json!({
            "contact": object(&["email_address"], json!({"email_address": {"type": "string", "minLength": 1}, "phone_number": text(), "street_address": {"type": "array", "items": text()}, "city": text(), "state": text(), "postal_code": text()})),
            "identity": object(&["given_name", "family_name"], json!({"given_name": {"type": "string", "minLength": 1}, "family_name": {"type": "string", "minLength": 1}, "date_of_birth": {"type": "string", "format": "date"}})),
            "disclosures": {"type": "object"},
            "agreements": {"type": "array", "items": {"type": "object"}},
            "documents": {"type": "array", "items": {"type": "object"}},
            "trusted_contact": {"type": "object"},
        })),
        "Account": object(&["id", "account_number", "status", "currency", "last_equity", "created_at"], json!({
            "id": uuid(),
            "account_number": text(),
            "status": {"type": "string", "enum": names(AccountStatus::ALL, AccountStatus::as_str)},
            "crypto_status": text(),
            "currency": text(),
            "last_equity": decimal(),
            "created_at": time(),
            "account_type": text(),
            "kind": {"type": "string", "enum": ["firm", "customer"]},
            "correspondent_id": {"type": "string", "format": "uuid", "description": "Cashier's: the correspondent the account belongs to."},
            "enabled_assets": {"type": "array", "items": text()},
            "contact": {"type": "object"},
            "identity": {"type": "object"},
            "disclosures": {"type": "object"},
            "agreements": {"type": "array"},
            "documents": {"type": "array"},
            "trusted_contact": {"type": "object"},
        })),
        "TradeAccount": trade_account(),
        "Position": every_key(json!({
            "asset_id": nullable(uuid()),
            "symbol": text(),
            "exchange": text(),
            "asset_class": text(),
            "avg_entry_price": decimal(),
            "qty": decimal(),
            "qty_available": decimal(),
            "side": {"type": "string", "enum": ["long"]},
            "market_value": decimal(),
            "cost_basis": decimal(),
            "unrealized_pl": decimal(),
            "unrealized_plpc": decimal(),
            "unrealized_intraday_pl": decimal(),
            "unrealized_intraday_plpc": decimal(),
            "current_price": nullable(decimal()),
            "lastday_price": nullable(decimal()),
            "change_today": decimal(),
            "account_id": uuid(),
        })),
        "TransferRequest": object(&["transfer_type", "direction", "amount"], json!({
            "transfer_type": {"type": "string", "enum": ["ach", "wire"]},
            "direction": {"type": "string", "enum": ["INCOMING", "OUTGOING"]},
            "amount": decimal_in(),
            "relationship_id": text(),
            "bank_id": text(),
        })),
        "Transfer": every_key(json!({
            "id": uuid(),
            "account_id": uuid(),
            "type": {"type": "string", "enum": ["ach", "wire"]},
            "status": {"type": "string", "enum": names(TransferStatus::ALL, TransferStatus::as_str)},
            "reason": nullable(text()),
            "amount": decimal(),
            "requested_amount": decimal(),
            "fee": decimal(),
            "fee_payment_method": {"type": "string", "enum": ["user", "invoice"]},
            "direction": {"type": "string", "enum": ["INCOMING", "OUTGOING"]},
            "currency": text(),
            "created_at": time(),
            "updated_at": time(),
            "additional_information": nullable(text()),
        })),
        "Activity": object(&["id", "account_id", "activity_type", "date", "net_amount", "status"], json!({
            "id": text(),
            "account_id": uuid(),
            "activity_type": {"type": "string", "enum": ["JNLC", "JNLS"]},
            "date": {"type": "string", "format": "date"},
            "net_amount": decimal(),
            "description": text(),
            "status": text(),
            "symbol": text(),
            "qty": decimal(),
            "price": decimal(),
        })),
        "JournalAction": {"type": "object", "properties": {
            "reason": {"type": "string", "description": "Why, for the audit trail."},
            "amount": decimal_in(),
            "qty": decimal_in(),
        }},
        "JournalActionResult": object(&["journals"], json!({
            "journals": {"type": "array", "items": schema("Journal"), "description": "The journals the action changed; empty when it awaits a second operator."},
            "awaiting_confirmation": object(&["action", "requested_by", "reason", "requested_at"], json!({
                "action": text(), "requested_by": text(), "reason": text(), "requested_at": text(),
                "units": {"type": ["integer", "null"], "description": "For a correction: the new amount in minor units, or qty in 1e-9 shares."},
            })),
        })),
        "CorrespondentRequest": object(&["code", "name"], json!({"code": {"type": "string", "minLength": 1}, "name": {"type": "string", "minLength": 1}, "jnlc_flow": {"type": "string", "enum": ["v1", "v2"]}})),
        "Correspondent": every_key(json!({"id": uuid(), "code": text(), "name": text(), "jnlc_flow": {"type": "string", "enum": ["v1", "v2"]}, "created_at": time()})),
        "ApiKey": object(&["key_id", "secret"], json!({"key_id": text(), "secret": {"type": "string", "description": "Shown once."}, "name": nullable(text())})),
        "KeyInfo": object(&["key_id", "owner", "correspondent_id", "name", "created_at", "last_used_at", "revoked"], json!({
            "key_id": text(),
            "owner": {"type": "string", "enum": ["operator", "correspondent"]},
            "correspondent_id": nullable(uuid()),
            "name": nullable(text()),
            "created_at": time(),
            "last_used_at": nullable(json!({"type": "string", "format": "date-time", "description": "The last request made with it since this server started."})),
            "revoked": {"type": "boolean"},
        })),
        "Confirmation": object(&["action", "subject", "detail", "worth", "requested_by", "reason", "requested_at"], json!({
            "action": {"type": "string", "description": "The audit trail's name of the action: account_status, account_blocks, account_limits, overdraft, transfer_created, transfer_completed, transfer_returned, api_key_issued, asset_listed, ..."},
            "subject": {"type": "string", "description": "The id of the account, transfer, key or asset it is about."},
            "detail": {"type": "string", "description": "What was asked, for people."},
            "worth": nullable(json!({"type": "string", "description": "What it lets move, in USD; null where that has no bound."})),
            "requested_by": text(), "reason": text(), "requested_at": time(),
        })),
        "Awaiting": object(&["awaiting_confirmation"], json!({"awaiting_confirmation": schema("Confirmation")})),
        "Reasoned": object(&["reason"], json!({"reason": {"type": "string", "minLength": 1, "description": "Why, for the audit trail."}})),
        "OperatorKeyRequest": object(&["name", "reason"], json!({"name": {"type": "string", "minLength": 1, "maxLength": 255, "description": "The person the key is for: the audit trail shows it, and four-eyes takes two different names."}, "reason": {"type": "string", "minLength": 1}})),
        "KeyRequest": object(&["reason"], json!({"name": {"type": "string", "description": "A label."}, "reason": {"type": "string", "minLength": 1}})),
        "FirmAccount": object(&["id", "account_number", "kind", "status"], json!({"id": uuid(), "account_number": text(), "kind": text(), "status": text()})),
        "AccountSetting": {"type": "object", "description": "status: {status}; blocks: {account_blocked, transfers_blocked, trading_blocked}; limits: {per_journal, daily, securities_per_journal, securities_daily} in USD ({} removes them); overdraft: {amount}.", "properties": {
            "status": {"type": "string", "enum": names(AccountStatus::ALL, AccountStatus::as_str)},
            "account_blocked": {"type": "boolean"},
            "transfers_blocked": {"type": "boolean"},
            "trading_blocked": {"type": "boolean"},
            "per_journal": nullable(decimal_in()),
            "daily": nullable(decimal_in()),
            "securities_per_journal": nullable(decimal_in()),
            "securities_daily": nullable(decimal_in()),
            "amount": decimal_in(),
        }},
        "AccountSettingResult": object(&["account_id", "updated"], json!({"account_id": uuid(), "updated": text()})),
        "AssetRequest": {"type": "object", "required": ["reason"], "properties": {"name": text(), "exchange": text(), "class": text(), "fractionable": {"type": "boolean"}, "price": decimal_in(), "reason": {"type": "string", "minLength": 1, "description": "Why, for the audit trail."}}},
        "Asset": every_key(json!({"id": uuid(), "symbol": text(), "name": text(), "exchange": text(), "class": text(), "fractionable": {"type": "boolean"}, "price": nullable(decimal())})),
        "WireRequest": object(&["amount", "reason"], json!({"amount": decimal_in(), "reason": {"type": "string", "minLength": 1, "description": "Why (the wire's reference), for the audit trail."}})),
        "BusinessDayRequest": {"type": "object", "properties": {"date": {"type": "string", "format": "date", "description": "The business day to start (a weekday that is not a holiday); the calendar's next business day when absent. Sandbox only."}}},
        "BusinessDay": object(&["business_date", "journals_changed"], json!({"business_date": {"type": "string", "format": "date"}, "journals_changed": {"type": "integer"}})),
        "Reconciliation": object(&["business_date", "books", "invariants", "balances_against_postings", "waiting_journals"], json!({
            "balances_against_postings": object(&["balances_checked", "balanced", "mismatches"], json!({
                "balances_checked": {"type": "integer"},
                "balanced": {"type": "boolean"},
                "mismatches": {"type": "array", "items": object(&["book", "asset", "balance", "postings"], json!({"book": text(), "asset": text(), "balance": text(), "postings": text()}))},
            })),
            "business_date": {"type": "string", "format": "date"},
            "books": {"type": "array", "items": object(&["asset", "sum_of_balances", "balanced"], json!({"asset": text(), "sum_of_balances": text(), "balanced": {"type": "boolean"}}))},
            "invariants": text(),
            "waiting_journals": {"type": "array", "items": object(&["id", "status", "hold", "since"], json!({"id": uuid(), "status": text(), "hold": text(), "since": time()}))},
        })),
        "Health": object(&["status"], json!({"status": text(), "last_seq": {"type": "integer"}})),
    })
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// A schema in a line: a reference's name, an array of one, or a type.
fn describe(schema: &Value) -> String {
    if let Some(name) = schema.get("$ref").and_then(Value::as_str) {
        let name = name.rsplit('/').next().unwrap_or(name);
        return format!("<a href=\"#schema-{name}\">{name}</a>");
    }
    if let Some(items) = schema.get("items") {
        return format!("array of {}", describe(items));
    }
    match schema.get("type") {
        Some(Value::String(t)) => escape(t),
        Some(other) => escape(&other.to_string()),
        None => "any".into(),
    }
}

/// The docs page: every endpoint grouped by tag, then every schema, server-rendered.
fn docs_page(api: &Api) -> String {
    let mut html = String::from(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width\">\
         <title>Cashier API</title><style>body{font:15px/1.5 system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;color:#1d2430}\
         code,pre{font:13px ui-monospace,monospace}.op{border:1px solid #d8dde6;border-radius:6px;padding:.5rem 1rem;margin:.75rem 0}\
         .m{display:inline-block;min-width:4.5rem;font-weight:700}.GET{color:#1b6e3a}.POST{color:#1f4fa3}.PUT{color:#8a5a00}.DELETE{color:#a12b2b}\
         .who{float:right;color:#666;font-size:13px}pre{background:#f5f7fa;padding:.75rem;overflow:auto}</style></head><body>\
         <h1>Cashier API</h1><p>The Broker API dialect for journals, accounts, transfers, positions, activities and events, and the \
         operations API under <code>/admin/v1</code>. Authenticate with HTTP Basic: an API key id and its secret. Errors answer \
         <code>{\"code\", \"message\", \"reason\"}</code>. The machine-readable description is <a href=\"/openapi.json\">/openapi.json</a>.</p>",
    );
    let mut tags: Vec<&str> = Vec::new();
    for op in api.ops() {
        if !tags.contains(&op.tag) {
            tags.push(op.tag);
        }
    }
    let _ = write!(html, "<nav><ul>");
    for tag in &tags {
        let _ = write!(html, "<li><a href=\"#tag-{}\">{}</a></li>", escape(tag), escape(tag));
    }
    let _ = write!(html, "<li><a href=\"#schemas\">Schemas</a></li></ul></nav>");
    for tag in &tags {
        let _ = write!(html, "<h2 id=\"tag-{0}\">{0}</h2>", escape(tag));
        for op in api.ops().iter().filter(|op| op.tag == *tag) {
            let who = match op.access {
                Access::Public => "no key",
                Access::Key => "correspondent or operator key",
                Access::Operator => "operator key",
            };
            let _ = write!(
                html,
                "<div class=\"op\" id=\"{}\"><span class=\"who\">{who}</span><span class=\"m {}\">{}</span><code>{}</code><p>{}</p>",
                op.id,
                op.method,
                op.method,
                escape(op.path),
                escape(op.summary)
            );
            let mut params: Vec<String> = op.path_params().map(|p| format!("<code>{p}</code> (path)")).collect();
            params.extend(op.query.iter().map(|(name, _, description)| format!("<code>{name}</code>: {}", escape(description))));
            params.extend(op.headers.iter().map(|(name, description)| format!("<code>{name}</code> (header): {}", escape(description))));
            if !params.is_empty() {
                let _ = write!(html, "<p>Parameters:</p><ul><li>{}</li></ul>", params.join("</li><li>"));
            }
            if let Some((body, required)) = &op.body {
                let _ = write!(html, "<p>Body{}: {}</p>", if *required { "" } else { " (optional)" }, describe(body));
            }
            let reply = match &op.reply {
                Reply::Json(schema) => format!("200, {}", describe(schema)),
                Reply::NoContent => "204, no content".into(),
                Reply::Events => "200, <code>text/event-stream</code>".into(),
                Reply::Text(media) => format!("200, <code>{media}</code>"),
            };
            let _ = write!(html, "<p>Answers: {reply}; otherwise an <a href=\"#schema-Error\">Error</a>.</p></div>");
        }
    }
    let _ = write!(html, "<h2 id=\"schemas\">Schemas</h2>");
    if let Value::Object(all) = schemas() {
        for (name, schema) in all {
            let pretty = serde_json::to_string_pretty(&schema).unwrap_or_default();
            let _ = write!(html, "<h3 id=\"schema-{name}\">{name}</h3><pre>{}</pre>", escape(&pretty));
        }
    }
    html.push_str("</body></html>");
    html
}
