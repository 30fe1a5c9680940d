//! Accounts, the trading account (cash and buying power), positions, and transfers.

use crate::api::{list_of, schema, Access, Api, Op};
use crate::auth::Caller;
use crate::body::{bad_request, instant, Fields};
use crate::{ApiError, App};
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::Json;
use cashier_core::State as Ledger;
use cashier_core::*;
use cashier_store::sql::ProfilesOf;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::Arc;

/// Transfers in one page, at most, whatever `limit` asks.
pub const TRANSFER_PAGE_MAX: usize = 100;

pub fn routes(api: Api) -> Api {
    api.section("Accounts", Access::Key)
        .route(
            Op::post("/v1/accounts", "createAccount", "Opens a customer account from its KYC data; the sandbox approves it at once.")
                .body(schema("AccountRequest"))
                .json(schema("Account")),
            create_account,
        )
        .route(
            Op::get("/v1/accounts", "listAccounts", "Accounts, newest first.")
                .query("query", json!({"type": "string"}), "Space-separated words, each in the account number, name, email or phone.")
                .query("created_after", json!({"type": "string"}), "Opened on or after this date or RFC 3339 time.")
                .query("created_before", json!({"type": "string"}), "Opened on or before this date or RFC 3339 time.")
                .query("status", json!({"type": "string"}), "Account statuses, comma-separated.")
                .query("sort", json!({"type": "string", "enum": ["asc", "desc"]}), "By creation; desc by default.")
                .query("entities", json!({"type": "string"}), "Parts of the opening data to include, comma-separated: contact, identity, disclosures, agreements, documents, trusted_contact.")
                .json(list_of("Account")),
            list_accounts,
        )
        .route(
            Op::get("/v1/accounts/{account_id}", "getAccount", "One account, with its KYC data.").json(schema("Account")),
            get_account,
        )
        .route(
            Op::get("/v1/trading/accounts/{account_id}/account", "getTradeAccount", "Cash, transferable and withdrawable cash, buying power, equity.")
                .json(schema("TradeAccount")),
            get_trade_account,
        )
        .route(
            Op::get("/v1/trading/accounts/{account_id}/positions", "listPositions", "The account's positions at their last prices.")
                .json(list_of("Position")),
            list_positions,
        )
        .route(
            Op::get("/v1/trading/accounts/{account_id}/positions/{symbol}", "getPosition", "One position, by symbol or asset id.")
                .json(schema("Position")),
            get_position,
        )
        .section("Transfers", Access::Key)
        .route(
            Op::post("/v1/accounts/{account_id}/transfers", "createTransfer", "Money in or out of an account by ACH or wire; the sandbox completes it at once.")
                .body(schema("TransferRequest"))
                .json(schema("Transfer")),
            create_transfer,
        )
        .route(
            Op::get("/v1/accounts/{account_id}/transfers", "listTransfers", "Transfers, oldest first, paged by offset; a page past the end is empty.")
                .query("direction", json!({"type": "string", "enum": ["INCOMING", "OUTGOING"]}), "Only one direction.")
                .query("offset", json!({"type": "integer", "minimum": 0}), "Transfers to skip.")
                .query("limit", json!({"type": "integer", "minimum": 0}), "At most this many, 100 at most.")
                .json(list_of("Transfer")),
            list_transfers,
        )
        .route(
            Op::delete("/v1/accounts/{account_id}/transfers/{transfer_id}", "deleteTransfer", "Cancels a transfer still waiting."),
            delete_transfer,
        )
}

/// The account, if the caller may see it; another correspondent's account does not exist.
fn visible(state: &Ledger, caller: &Caller, account: AccountId) -> Result<Account, ApiError> {
    let scope = caller.actor().scope();
    state.account(account).filter(|a| scope.is_none_or(|c| c == a.correspondent)).cloned().ok_or_else(|| Code::AccountNotFound.into())
}

fn money(units: i128) -> String {
    decimal::format_fixed(units, money::PRICE_SCALE, 2)
}

fn render_account(a: &Account, equity: &str) -> Value {
    json!({
        "id": a.id.to_string(),
        "account_number": a.account_number.to_string(),
        "status": a.status.as_str(),
        "crypto_status": "INACTIVE",
        "currency": a.currency.as_str(),
        "last_equity": equity,
        "created_at": a.created_at.to_string(),
        "account_type": "trading",
        "kind": a.kind.as_str(),
        "correspondent_id": a.correspondent.to_string(),
        "enabled_assets": ["us_equity"],
    })
}

/// Cash plus positions at their prices, in 1e-9 USD.
fn equity_nanos(state: &Ledger, account: &Account) -> (i128, i128) {
    let cash = i128::from(state.cash(account.id, account.currency).cash) * 10_000_000;
    let long: i128 = state
        .positions(account.id)
        .iter()
        .map(|p| state.asset(p.symbol).and_then(|a| a.price).map_or(p.cost_basis_nanos, |price| money::cost_nanos(p.qty, price)))
        .sum();
    (cash, long)
}

/// The parts of an account's opening data (KYC) it is shown with.
const PROFILE_ENTITIES: [&str; 6] = ["contact", "identity", "disclosures", "agreements", "documents", "trusted_contact"];

/// Adds the chosen parts of an account's opening data; absent parts stay absent, never null.
fn with_profile(mut account: Value, profile: Option<&str>, entities: &[&str]) -> Value {
    if let Some(Ok(Value::Object(parts))) = profile.map(serde_json::from_str::<Value>) {
        for (name, part) in parts {
            if entities.contains(&name.as_str()) && (part.is_object() || part.is_array()) {
                account[name] = part;
            }
        }
    }
    account
}

/// With its opening data, read from the committed tables (the ledger does not keep it in memory).
async fn get_account(State(app): State<Arc<App>>, caller: Caller, Path(account_id): Path<String>) -> Result<Json<Value>, ApiError> {
    let id = AccountId::parse(&account_id)?;
    let rendered = app.sequencer.read(|state| {
        let account = visible(state, &caller, id)?;
        let (cash, long) = equity_nanos(state, &account);
        Ok::<_, ApiError>(render_account(&account, &money(cash + long)))
    })?;
    let profiles = app.read_tables(move |tables| tables.account_profiles(ProfilesOf::Account(id))).await?;
    Ok(Json(with_profile(rendered, profiles.first().map(|(_, p)| p.as_str()), &PROFILE_ENTITIES)))
}

/// Whether every token of a search is in the account's number, name, email or phone.
fn matches(account: &Account, profile: Option<&str>, tokens: &[String]) -> bool {
    if tokens.is_empty() {
        return true;
    }
    let mut haystack = account.account_number.to_string();
    if let Some(Ok(parts)) = profile.map(serde_json::from_str::<Value>) {
        for pointer in
            ["/contact/email_address", "/contact/phone_number", "/identity/given_name", "/identity/middle_name", "/identity/family_name"]
        {
            if let Some(text) = parts.pointer(pointer).and_then(Value::as_str) {
                haystack.push(' ');
                haystack.push_str(&text.to_lowercase());
            }
        }
    }
    tokens.iter().all(|t| haystack.contains(t.as_str()))
}

/// Newest first; `status` may repeat; `created_after` / `created_before` are dates or times.
async fn list_accounts(
    State(app): State<Arc<App>>,
    caller: Caller,
    Query(query): Query<Vec<(String, String)>>,
) -> Result<Json<Value>, ApiError> {
    let named: HashMap<String, String> = query.iter().rev().map(|(n, v)| (n.clone(), v.clone())).collect();
    let param = |name: &str| crate::body::param(&named, name);
    let mut statuses = Vec::new();
    for (name, value) in query.iter().filter(|(n, _)| n == "status") {
        if value.trim().is_empty() {
            return Err(bad_request("empty_parameter", "status: the parameter is empty; leave it out or give it a value".into()));
        }
        for text in value.split(',').filter(|t| !t.is_empty()) {
            statuses.push(AccountStatus::parse(text).ok_or_else(|| {
                ApiError::new(StatusCode::BAD_REQUEST, "invalid_status", format!("{name} {text:?} is not an account status"))
            })?);
        }
    }
    let ascending = match param("sort")? {
        None | Some("desc") => false,
        Some("asc") => true,
        Some(other) => return Err(bad_request("invalid_sort", format!("sort must be asc or desc, not {other:?}"))),
    };
    let after = param("created_after")?.map(|t| instant("created_after", t, false)).transpose()?;
    let before = param("created_before")?.map(|t| instant("created_before", t, true)).transpose()?;
    let tokens: Vec<String> = param("query")?.unwrap_or_default().split_whitespace().map(str::to_lowercase).collect();
    let mut entities = Vec::new();
    for name in param("entities")?.unwrap_or_default().split(',').map(str::trim).filter(|n| !n.is_empty()) {
        match PROFILE_ENTITIES.iter().find(|e| **e == name) {
            Some(entity) => entities.push(*entity),
            // Cashier keeps no trading configurations; asking for them is not an error.
            None if name == "trading_configurations" => {}
            None => return Err(bad_request("invalid_entities", format!("entities are {}, not {name:?}", PROFILE_ENTITIES.join(", ")))),
        }
    }
    let scope = caller.actor().scope();
    let profiles: HashMap<AccountId, String> = if tokens.is_empty() && entities.is_empty() {
        HashMap::new()
    } else {
        let of = scope.map_or(ProfilesOf::All, ProfilesOf::Correspondent);
        app.read_tables(move |tables| tables.account_profiles(of)).await?.into_iter().collect()
    };
    let profile = |id: AccountId| profiles.get(&id).map(String::as_str);
    let max = app.config.list_results_max;
    let accounts = app.sequencer.read(|state| {
        let mut list: Vec<&Account> = state
            .accounts()
            .filter(|a| scope.is_none_or(|c| c == a.correspondent) && (statuses.is_empty() || statuses.contains(&a.status)))
            .filter(|a| after.is_none_or(|t| a.created_at >= t) && before.is_none_or(|t| a.created_at <= t))
            .filter(|a| matches(a, profile(a.id), &tokens))
            .collect();
        if list.len() > max {
            return None;
        }
        list.sort_by_key(|a| (a.created_at, a.account_number));
        if !ascending {
            list.reverse();
        }
        let rendered = list.iter().map(|a| {
            let (cash, long) = equity_nanos(state, a);
            with_profile(render_account(a, &money(cash + long)), profile(a.id), &entities)
        });
        Some(rendered.collect::<Vec<_>>())
    });
    let accounts =
        accounts.ok_or_else(|| crate::journals::too_many_results(max, "accounts", "status, created_after, created_before or query"))?;
    Ok(Json(Value::Array(accounts)))
}

/// Opens a customer account from the Broker API's KYC shape. The sandbox approves at once.
async fn create_account(State(app): State<Arc<App>>, caller: Caller, body: Bytes) -> Result<Json<Value>, ApiError> {
    let KeyOwner::Correspondent(correspondent) = caller.owner else {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "operator_only",
            "operators open firm accounts under /admin/v1; customer accounts belong to a correspondent's key",
        ));
    };
    let (profile, email) = Fields::parse(&body)?.kyc_profile()?;
    let command = Command::open_customer(caller.actor(), correspondent, profile.clone(), &email);
    let outcome = app.sequencer.submit(command).await?;
    let account = outcome.accounts.first().ok_or_else(|| ApiError::internal("an opened account is missing from its outcome"))?;
    Ok(Json(with_profile(render_account(account, "0.00"), Some(&profile), &PROFILE_ENTITIES)))
}

async fn get_trade_account(State(app): State<Arc<App>>, caller: Caller, Path(account_id): Path<String>) -> Result<Json<Value>, ApiError> {
    let id = AccountId::parse(&account_id)?;
    app.sequencer.read(|state| {
        let a = visible(state, &caller, id)?;
        let view = state.cash(a.id, a.currency);
        let (cash, long) = equity_nanos(state, &a);
        let units = |minor: i64| money(i128::from(minor) * 10_000_000);
        let equity = money(cash + long);
        let held = state.balance(Book::Account(a.id), Asset::Cash(a.currency)).held;
        Ok(Json(json!({
            "id": a.id.to_string(),
            "account_number": a.account_number.to_string(),
            "status": a.status.as_str(),
            "crypto_status": "INACTIVE",
            "currency": a.currency.as_str(),
            "cash": units(view.cash),
            "cash_withdrawable": units(view.withdrawable),
            "cash_transferable": units(view.transferable),
            "buying_power": units(view.transferable),
            "regt_buying_power": units(view.transferable),
            "daytrading_buying_power": "0.00",
            "non_marginable_buying_power": units(view.transferable),
            "effective_buying_power": units(view.transferable),
            "accrued_fees": "0.00",
            "pending_transfer_in": "0.00",
            "pending_transfer_out": units(held),
            "portfolio_value": equity,
            "equity": equity,
            "last_equity": equity,
            "long_market_value": money(long),
            "short_market_value": "0.00",
            "initial_margin": "0.00",
            "maintenance_margin": "0.00",
            "last_maintenance_margin": "0.00",
            "sma": "0.00",
            "multiplier": "1",
            "balance_asof": state.business_date().to_string(),
            "previous_close": previous_close(&app.config.calendar, state.business_date()),
            "last_cash": units(view.cash),
            "last_buying_power": units(view.transferable),
            "last_regt_buying_power": units(view.transferable),
            "last_daytrading_buying_power": "0.00",
            "last_options_buying_power": "0.00",
            "last_long_market_value": money(long),
            "last_short_market_value": "0.00",
            "last_initial_margin": "0.00",
            "last_daytrade_count": 0,
            "options_buying_power": "0.00",
            "options_approved_level": 0,
            "options_trading_level": 0,
            "intraday_adjustments": "0.00",
            "pending_reg_taf_fees": "0.00",
            "clearing_broker": "SELF",
            "admin_configurations": {},
            "user_configurations": {},
            "trading_blocked": a.blocks.trading_blocked,
            "transfers_blocked": a.blocks.transfers_blocked,
            "account_blocked": a.blocks.account_blocked,
            "pattern_day_trader": false,
            "shorting_enabled": false,
            "trade_suspended_by_user": false,
            "daytrade_count": 0,
            "created_at": a.created_at.to_string(),
            "kind": a.kind.as_str(),
        })))
    })
}

/// `part / whole` as a decimal string to 1e-9 (rounded down), `"0"` for a zero whole: a
/// position's profit as a fraction of what it cost.
fn ratio(part: i128, whole: i128) -> String {
    if whole == 0 {
        return "0".into();
    }
    let scaled = part.saturating_mul(1_000_000_000) / whole;
    decimal::format(i64::try_from(scaled).unwrap_or(i64::MAX), 9)
}

/// The close before business day `today`: 16:00 New York time on the business day before, with
/// New York's offset then (US daylight saving time from the second Sunday of March to the first
/// Sunday of November).
fn previous_close(calendar: &Calendar, today: Date) -> String {
    let mut day = Date(today.0 - 1);
    while !calendar.is_business_day(day) {
        day = Date(day.0 - 1);
    }
    let (year, month, date) = day.ymd();
    // The n-th Sunday of a month: weekday() is 0 for Monday.
    let sunday = |month: u32, n: u32| {
        let first = Date::from_ymd(year, month, 1).expect("a real date");
        let to_sunday = (6 + 7 - first.weekday()) % 7;
        first.0 + to_sunday as i32 + 7 * (n as i32 - 1)
    };
    let summer = (sunday(3, 2)..sunday(11, 1)).contains(&day.0);
    let offset = if summer { "-04:00" } else { "-05:00" };
    format!("{year:04}-{month:02}-{date:02}T16:00:00{offset}")
}

fn render_position(state: &Ledger, account: AccountId, p: &Position) -> Value {
    let info = state.asset(p.symbol);
    let price = info.and_then(|i| i.price);
    let market = price.map_or(p.cost_basis_nanos, |price| money::cost_nanos(p.qty, price));
    json!({
        "asset_id": info.map(|i| i.id.to_string()),
        "symbol": p.symbol.as_str(),
        "exchange": info.map_or("", |i| i.exchange.as_str()),
        "asset_class": info.map_or("us_equity", |i| i.class.as_str()),
        "avg_entry_price": decimal::format(p.avg_entry_price, money::PRICE_SCALE),
        "qty": money::format_qty(p.qty),
        "qty_available": money::format_qty(p.qty),
        "side": "long",
        "market_value": money(market),
        "cost_basis": money(p.cost_basis_nanos),
        "unrealized_pl": money(market - p.cost_basis_nanos),
        "unrealized_plpc": ratio(market - p.cost_basis_nanos, p.cost_basis_nanos),
        // Cashier keeps one price an asset, not yesterday's: nothing changed intraday.
        "unrealized_intraday_pl": "0.00",
        "unrealized_intraday_plpc": "0",
        "current_price": price.map(|x| decimal::format(x, money::PRICE_SCALE)),
        "lastday_price": price.map(|x| decimal::format(x, money::PRICE_SCALE)),
        "change_today": "0",
        "account_id": account.to_string(),
    })
}

async fn list_positions(State(app): State<Arc<App>>, caller: Caller, Path(account_id): Path<String>) -> Result<Json<Value>, ApiError> {
    let id = AccountId::parse(&account_id)?;
    app.sequencer.read(|state| {
        visible(state, &caller, id)?;
        Ok(Json(Value::Array(state.positions(id).iter().map(|p| render_position(state, id, p)).collect())))
    })
}

/// By symbol or by asset id.
async fn get_position(
    State(app): State<Arc<App>>,
    caller: Caller,
    Path((account_id, wanted)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    let id = AccountId::parse(&account_id)?;
    app.sequencer.read(|state| {
        visible(state, &caller, id)?;
        let found = state
            .positions(id)
            .into_iter()
            .find(|p| p.symbol.as_str() == wanted || state.asset(p.symbol).is_some_and(|a| a.id.to_string() == wanted));
        found
            .map(|p| Json(render_position(state, id, &p)))
            .ok_or_else(|| ApiError::new(StatusCode::NOT_FOUND, "position_not_found", "position does not exist"))
    })
}

pub(crate) fn render_transfer(t: &Transfer) -> Value {
    let amount = t.currency.format_amount(t.amount);
    json!({
        "id": t.id.to_string(),
        "account_id": t.account.to_string(),
        "type": t.kind.as_str(),
        "status": t.status.as_str(),
        "reason": null,
        "amount": amount,
        "requested_amount": amount,
        "fee": "0",
        "fee_payment_method": "invoice",
        "direction": t.direction.as_str(),
        "currency": t.currency.as_str(),
        "created_at": t.created_at.to_string(),
        "updated_at": t.updated_at.to_string(),
        "additional_information": null,
    })
}

/// In sandbox mode a transfer completes at once; otherwise it waits `QUEUED` for operations.
async fn create_transfer(
    State(app): State<Arc<App>>,
    caller: Caller,
    Path(account_id): Path<String>,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let account = AccountId::parse(&account_id)?;
    let (kind, direction, amount) = Fields::parse(&body)?.transfer()?;
    let command = Command::CreateTransfer {
        actor: caller.actor(),
        account,
        direction,
        kind,
        currency: Currency::USD,
        amount,
        complete_at_once: app.config.sandbox,
    };
    let outcome = app.sequencer.submit(command).await?;
    let transfer = outcome.transfers.first().ok_or_else(|| ApiError::internal("a created transfer is missing from its outcome"))?;
    Ok(Json(render_transfer(transfer)))
}

/// Oldest first, paged by `offset` and `limit`; a page past the end is empty.
async fn list_transfers(
    State(app): State<Arc<App>>,
    caller: Caller,
    Path(account_id): Path<String>,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Json<Value>, ApiError> {
    let account = AccountId::parse(&account_id)?;
    let number = |name: &str, default: usize| -> Result<usize, ApiError> {
        query.get(name).map_or(Ok(default), |v| {
            v.parse().map_err(|_| ApiError::new(StatusCode::BAD_REQUEST, "invalid_paging", format!("{name} must be a whole number")))
        })
    };
    let (offset, limit) = (number("offset", 0)?, number("limit", TRANSFER_PAGE_MAX)?.min(TRANSFER_PAGE_MAX));
    let direction = match crate::body::param(&query, "direction")? {
        None => None,
        Some(d) => Some(
            TransferDirection::parse(d)
                .ok_or_else(|| ApiError::new(StatusCode::BAD_REQUEST, "invalid_direction", "direction must be INCOMING or OUTGOING"))?,
        ),
    };
    app.sequencer.read(|state| {
        visible(state, &caller, account)?;
        let mut list: Vec<&Transfer> =
            state.transfers().filter(|t| t.account == account && direction.is_none_or(|d| t.direction == d)).collect();
        list.sort_by_key(|t| (t.created_at, t.id));
        Ok(Json(Value::Array(list.iter().skip(offset).take(limit).map(|t| render_transfer(t)).collect())))
    })
}

async fn delete_transfer(
    State(app): State<Arc<App>>,
    caller: Caller,
    Path((account_id, transfer_id)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let account = AccountId::parse(&account_id)?;
    let id = TransferId::parse(&transfer_id)?;
    app.sequencer.submit(Command::CancelTransfer { actor: caller.actor(), account, id }).await?;
    Ok(StatusCode::NO_CONTENT)
}
