//! Accounts, the trading account (cash and buying power), positions, and transfers.

use crate::auth::Caller;
use crate::body::Fields;
use crate::{ApiError, App};
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::routing::{delete, get};
use axum::{Json, Router};
use cashier_core::State as Ledger;
use cashier_core::*;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::Arc;

/// Transfers in one page, at most, whatever `limit` asks.
pub const TRANSFER_PAGE_MAX: usize = 100;

pub fn router() -> Router<Arc<App>> {
    Router::new()
        .route("/v1/accounts", get(list_accounts).post(create_account))
        .route("/v1/accounts/{account_id}", get(get_account))
        .route("/v1/trading/accounts/{account_id}/account", get(get_trade_account))
        .route("/v1/trading/accounts/{account_id}/positions", get(list_positions))
        .route("/v1/trading/accounts/{account_id}/positions/{symbol}", get(get_position))
        .route("/v1/accounts/{account_id}/transfers", get(list_transfers).post(create_transfer))
        .route("/v1/accounts/{account_id}/transfers/{transfer_id}", delete(delete_transfer))
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

async fn get_account(State(app): State<Arc<App>>, caller: Caller, Path(account_id): Path<String>) -> Result<Json<Value>, ApiError> {
    let id = AccountId::parse(&account_id)?;
    app.sequencer.read(|state| {
        let account = visible(state, &caller, id)?;
        let (cash, long) = equity_nanos(state, &account);
        Ok(Json(render_account(&account, &money(cash + long))))
    })
}

/// Newest first; `status` may repeat; `created_after` / `created_before` are dates or times.
async fn list_accounts(
    State(app): State<Arc<App>>,
    caller: Caller,
    Query(query): Query<Vec<(String, String)>>,
) -> Result<Json<Value>, ApiError> {
    let mut statuses = Vec::new();
    for (name, value) in query.iter().filter(|(n, _)| n == "status") {
        for text in value.split(',').filter(|t| !t.is_empty()) {
            statuses.push(AccountStatus::parse(text).ok_or_else(|| {
                ApiError::new(StatusCode::BAD_REQUEST, "invalid_status", format!("{name} {text:?} is not an account status"))
            })?);
        }
    }
    let ascending = query.iter().any(|(n, v)| n == "sort" && v == "asc");
    let scope = caller.actor().scope();
    let accounts = app.sequencer.read(|state| {
        let mut list: Vec<&Account> = state
            .accounts()
            .filter(|a| scope.is_none_or(|c| c == a.correspondent) && (statuses.is_empty() || statuses.contains(&a.status)))
            .collect();
        list.sort_by_key(|a| (a.created_at, a.account_number));
        if !ascending {
            list.reverse();
        }
        list.iter()
            .map(|a| {
                let (cash, long) = equity_nanos(state, a);
                render_account(a, &money(cash + long))
            })
            .collect::<Vec<_>>()
    });
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
    let profile = Fields::parse(&body)?.kyc_profile()?;
    let command = Command::open_account(caller.actor(), correspondent, AccountKind::Customer, profile);
    let outcome = app.sequencer.submit(command).await?;
    let account = outcome.accounts.first().ok_or_else(|| ApiError::internal("an opened account is missing from its outcome"))?;
    Ok(Json(render_account(account, "0.00")))
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
            "previous_close": null,
            "last_cash": null,
            "last_buying_power": null,
            "last_regt_buying_power": null,
            "last_long_market_value": null,
            "last_short_market_value": null,
            "last_initial_margin": null,
            "clearing_broker": null,
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
        "current_price": price.map(|x| decimal::format(x, money::PRICE_SCALE)),
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

fn render_transfer(t: &Transfer) -> Value {
    let amount = t.currency.format_amount(t.amount);
    json!({
        "id": t.id.to_string(),
        "relationship_id": null,
        "bank_id": null,
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
        "expires_at": null,
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
    let direction = match query.get("direction").map(String::as_str) {
        None | Some("") => None,
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
