//! The operations API under `/admin/v1`, for operator keys only. Every manual action carries
//! the operator and a reason into the journal's audit trail (the event log).

use crate::api::{schema, Access, Api, Op};
use crate::auth::Caller;
use crate::body::{bad_request, Fields};
use crate::four_eyes::{self, Acted};
use crate::journals::render;
use crate::{ApiError, App};
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use cashier_core::*;
use serde_json::{json, Value};
use std::sync::Arc;

pub fn routes(api: Api) -> Api {
    api.section("Operations", Access::Operator)
        .route(
            Op::post(
                "/admin/v1/journals/{journal_id}/{action}",
                "actOnJournal",
                "Approves, rejects, cancels, reverses, deletes or corrects a journal, with a reason for the audit trail.",
            )
            .path_param("action", json!({"type": "string", "enum": ["approve", "reject", "cancel", "reverse", "delete", "correct"]}))
            .optional_body(schema("JournalAction"))
            .json(schema("JournalActionResult"))
            .awaits(),
            act_on_journal,
        )
        .route(
            Op::get("/admin/v1/correspondents", "listCorrespondents", "Every correspondent, by code.")
                .json(crate::api::list_of("Correspondent")),
            list_correspondents,
        )
        .route(
            Op::get(
                "/admin/v1/confirmations",
                "listConfirmations",
                "Four-eyes requests on accounts, transfers, keys and prices that wait for a second operator (journals show theirs on the journal).",
            )
            .json(crate::api::list_of("Confirmation")),
            list_confirmations,
        )
        .route(
            Op::get("/admin/v1/assets", "listAssets", "Every asset, by symbol, with its price.").json(crate::api::list_of("Asset")),
            list_assets,
        )
        .route(
            Op::post("/admin/v1/correspondents", "createCorrespondent", "Adds a correspondent (a broker building on Cashier).")
                .body(schema("CorrespondentRequest"))
                .json(schema("Correspondent")),
            create_correspondent,
        )
        .route(
            Op::post(
                "/admin/v1/correspondents/{correspondent_id}/firm_accounts",
                "createFirmAccount",
                "Opens a firm (sweep) account for a correspondent.",
            )
            .json(schema("FirmAccount")),
            create_firm_account,
        )
        .route(
            Op::put(
                "/admin/v1/accounts/{account_id}/{setting}",
                "putAccountSetting",
                "Sets an account's status, blocks, limits or overdraft.",
            )
            .path_param("setting", json!({"type": "string", "enum": ["status", "blocks", "limits", "overdraft"]}))
            .body(schema("AccountSetting"))
            .json(schema("AccountSettingResult"))
            .awaits(),
            put_account_setting,
        )
        .route(
            Op::post(
                "/admin/v1/accounts/{account_id}/wires",
                "recordFirmWire",
                "Records a wire received for a firm account (the bulk wire of cash pooling): its cash rises at once.",
            )
            .body(schema("WireRequest"))
            .json(schema("Transfer"))
            .awaits(),
            record_firm_wire,
        )
        .route(
            Op::put("/admin/v1/assets/{symbol}", "putAsset", "Lists an asset or updates it, price included.")
                .body(schema("AssetRequest"))
                .json(schema("Asset"))
                .awaits(),
            put_asset,
        )
        .route(
            Op::post("/admin/v1/business_day", "advanceBusinessDay", "Ends the business day and starts the next (or the given date).")
                .optional_body(schema("BusinessDayRequest"))
                .json(schema("BusinessDay")),
            advance_business_day,
        )
        .route(
            Op::get(
                "/admin/v1/reconciliation",
                "getReconciliation",
                "Books per asset, the ledger's invariants, and journals waiting in a non-final status.",
            )
            .json(schema("Reconciliation")),
            get_reconciliation,
        )
}

/// The operator behind a request; a correspondent's key is refused.
pub(crate) fn operator(caller: &Caller) -> Result<Audit, ApiError> {
    match caller.owner {
        KeyOwner::Operator => Ok(Audit { actor: caller.actor(), reason: String::new() }),
        KeyOwner::Correspondent(_) => Err(ApiError::from(Code::OperatorOnly)),
    }
}

/// An operator's action from the API: who (a correspondent's key is refused), and the body with
/// its `reason` taken out into the audit (the core refuses an empty one).
pub(crate) fn operator_action(caller: &Caller, body: &[u8]) -> Result<(Audit, Fields), ApiError> {
    let mut audit = operator(caller)?;
    let mut fields = Fields::parse(body)?;
    audit.reason = fields.string("reason")?.unwrap_or_default().trim().to_owned();
    fields.0.remove("reason");
    Ok((audit, fields))
}

pub(crate) fn fields_or_empty(body: &[u8]) -> Result<Fields, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Fields(serde_json::Map::new()));
    }
    Fields::parse(body)
}

/// `approve`, `reject`, `cancel`, `reverse`, `delete` or `correct` (with `amount` or `qty`).
async fn act_on_journal(
    State(app): State<Arc<App>>,
    caller: Caller,
    Path((journal_id, action)): Path<(String, String)>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let audit = operator(&caller)?;
    let id = JournalId::parse(&journal_id)?;
    let fields = fields_or_empty(&body)?;
    let done = act(&app, audit, id, &action, &fields).await?;
    Ok(match &done.awaiting {
        // Held for a second operator, as every four-eyes hold answers: 202.
        Some(request) => {
            (StatusCode::ACCEPTED, Json(json!({"journals": [], "awaiting_confirmation": render_request(request)}))).into_response()
        }
        None => Json(json!({"journals": done.journals.iter().map(render).collect::<Vec<_>>()})).into_response(),
    })
}

/// What an operator's action did: the journals it changed, or (four-eyes) the request it left
/// for a second operator.
pub(crate) struct ActionDone {
    pub journals: Vec<Journal>,
    pub awaiting: Option<ActionRequest>,
}

/// An operator's action on a journal, from the API or the console: `fields` has the `reason`
/// and, for `correct`, `amount` (JNLC) or `qty` (JNLS). Over `Config::four_eyes_over` it takes
/// a second operator.
pub(crate) async fn act(app: &App, mut audit: Audit, id: JournalId, action: &str, fields: &Fields) -> Result<ActionDone, ApiError> {
    audit.reason = fields.string("reason")?.unwrap_or_default().trim().to_owned();
    let action = OpsAction::parse(action).ok_or_else(|| {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "route_not_found",
            format!("no journal action {action:?}: approve, reject, cancel, reverse, delete or correct"),
        )
    })?;
    let command = match action {
        OpsAction::Approve => Command::ApproveJournal { id, audit },
        OpsAction::Reject => Command::RejectJournal { id, audit },
        OpsAction::Cancel => Command::CancelJournal { actor: audit.actor, id, reason: audit.reason },
        OpsAction::Reverse => Command::ReverseJournal { id, audit },
        OpsAction::Delete => Command::DeleteJournal { id, audit },
        OpsAction::Correct => {
            let journal = app.read_tables(move |r| r.journal(id)).await?;
            let asset = journal.map(|j| j.asset).ok_or(ApiError::from(Code::JournalNotFound))?;
            let units = match asset {
                Asset::Cash(c) => fields.decimal("amount", |s| c.parse_amount(s), |n| c.parse_amount_number(n))?,
                Asset::Security(_) => fields.decimal("qty", money::parse_qty, money::parse_qty_number)?,
            };
            let units = units.ok_or_else(|| bad_request("missing_field", "a correction needs amount (JNLC) or qty (JNLS)".into()))?;
            Command::CorrectJournal { id, units, audit }
        }
    };
    let outcome = app.sequencer.submit(four_eyes::guarded(app, command)).await?;
    let requested = outcome.records().iter().any(|r| matches!(r.event.kind, EventKind::ActionRequested { .. }));
    let awaiting = if requested { outcome.journals.first().and_then(|j| j.request().cloned()) } else { None };
    Ok(ActionDone { journals: if requested { vec![] } else { outcome.journals }, awaiting })
}

/// A four-eyes request as the API shows it.
pub(crate) fn render_request(r: &ActionRequest) -> Value {
    json!({"action": r.action.as_str(), "requested_by": r.audit.actor.to_string(), "reason": r.audit.reason, "requested_at": r.at.to_string(), "units": r.units})
}

/// A correspondent as operators see it.
pub(crate) fn render_correspondent(c: &Correspondent) -> Value {
    json!({"id": c.id.to_string(), "code": c.code, "name": c.name, "jnlc_flow": c.config.jnlc_flow.as_str(), "created_at": c.created_at.to_string()})
}

/// An asset as operators see it.
pub(crate) fn render_asset(a: &AssetInfo) -> Value {
    json!({"id": a.id.to_string(), "symbol": a.symbol.as_str(), "name": a.name, "exchange": a.exchange, "class": a.class,
           "fractionable": a.fractionable, "price": a.price.map(|p| decimal::format(p, money::PRICE_SCALE))})
}

async fn list_correspondents(State(app): State<Arc<App>>, caller: Caller) -> Result<Json<Value>, ApiError> {
    operator(&caller)?;
    let mut list: Vec<Correspondent> = app.sequencer.read(|s| s.correspondents().cloned().collect());
    list.sort_by(|x, y| x.code.cmp(&y.code));
    Ok(Json(Value::Array(list.iter().map(render_correspondent).collect())))
}

async fn list_confirmations(State(app): State<Arc<App>>, caller: Caller) -> Result<Json<Value>, ApiError> {
    operator(&caller)?;
    Ok(Json(Value::Array(four_eyes::waiting(&app).iter().map(four_eyes::render).collect())))
}

async fn list_assets(State(app): State<Arc<App>>, caller: Caller) -> Result<Json<Value>, ApiError> {
    operator(&caller)?;
    let mut list: Vec<AssetInfo> = app.sequencer.read(|s| s.assets().cloned().collect());
    list.sort_by_key(|a| a.symbol);
    Ok(Json(Value::Array(list.iter().map(render_asset).collect())))
}

async fn create_correspondent(State(app): State<Arc<App>>, caller: Caller, body: Bytes) -> Result<Json<Value>, ApiError> {
    operator(&caller)?;
    let fields = Fields::parse(&body)?;
    let (code, name) = (fields.required("code")?.to_owned(), fields.required("name")?.to_owned());
    let jnlc_flow = match fields.string("jnlc_flow")? {
        None | Some("v1") => JnlcFlow::V1,
        Some("v2") => JnlcFlow::V2,
        Some(other) => return Err(bad_request("invalid_flow", format!("jnlc_flow must be v1 or v2, not {other:?}"))),
    };
    let config = CorrespondentConfig { jnlc_flow, fixtures: app.config.sandbox, ..Default::default() };
    let outcome = app.sequencer.submit(Command::CreateCorrespondent { code, name, config }).await?;
    let c = outcome.correspondents.first().ok_or_else(|| ApiError::internal("a created correspondent is missing from its outcome"))?;
    Ok(Json(render_correspondent(c)))
}

async fn create_firm_account(
    State(app): State<Arc<App>>,
    caller: Caller,
    Path(correspondent_id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let audit = operator(&caller)?;
    let correspondent = CorrespondentId::parse(&correspondent_id)?;
    let command = Command::open_account(audit.actor, correspondent, AccountKind::Firm, String::new());
    let outcome = app.sequencer.submit(command).await?;
    let a = outcome.accounts.first().ok_or_else(|| ApiError::internal("an opened account is missing from its outcome"))?;
    Ok(Json(
        json!({"id": a.id.to_string(), "account_number": a.account_number.to_string(), "kind": a.kind.as_str(), "status": a.status.as_str()}),
    ))
}

/// `status` (`{"status": "ACCOUNT_CLOSED"}`), `blocks` (`{"account_blocked": .., "transfers_blocked":
/// .., "trading_blocked": ..}`), `limits` (`{"per_journal": "50", "daily": "1000"}` in USD, a
/// value null for none; `{}` removes the account's own limits) or `overdraft` (`{"amount": "500"}`).
async fn put_account_setting(
    State(app): State<Arc<App>>,
    caller: Caller,
    Path((account_id, setting)): Path<(String, String)>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let (audit, fields) = operator_action(&caller, &body)?;
    let account = AccountId::parse(&account_id)?;
    let usd = Currency::USD;
    let amount = |name: &str| fields.usd(name);
    let command = match setting.as_str() {
        "status" => {
            let text = fields.required("status")?;
            let status =
                AccountStatus::parse(text).ok_or_else(|| bad_request("invalid_status", format!("{text:?} is not an account status")))?;
            Command::SetAccountStatus { actor: audit.actor.clone(), account, status }
        }
        "blocks" => {
            let flag = |name: &str| -> Result<bool, ApiError> {
                match fields.present(name) {
                    None => Ok(false),
                    Some(Value::Bool(b)) => Ok(*b),
                    Some(_) => Err(bad_request("wrong_type", format!("{name} must be true or false"))),
                }
            };
            let blocks = Blocks {
                account_blocked: flag("account_blocked")?,
                transfers_blocked: flag("transfers_blocked")?,
                trading_blocked: flag("trading_blocked")?,
            };
            Command::SetAccountBlocks { account, blocks }
        }
        "limits" if fields.0.is_empty() => Command::SetAccountLimits { account, limits: None },
        "limits" => {
            let cash = CashLimit { currency: usd, per_journal: amount("per_journal")?, daily: amount("daily")? };
            let securities = |name: &str| amount(name);
            let limits = Limits {
                cash: vec![cash],
                securities_per_journal_cents: securities("securities_per_journal")?,
                securities_daily_cents: securities("securities_daily")?,
            };
            Command::SetAccountLimits { account, limits: Some(limits) }
        }
        "overdraft" => {
            let units = amount("amount")?.ok_or_else(|| bad_request("missing_field", "amount is required".into()))?;
            Command::SetOverdraft { account, currency: usd, units }
        }
        other => {
            return Err(ApiError::new(
                StatusCode::NOT_FOUND,
                "route_not_found",
                format!("no account setting {other:?}: status, blocks, limits or overdraft"),
            ))
        }
    };
    let acted = four_eyes::submit(&app, audit, command).await?;
    Ok(acted.map(|_| json!({"account_id": account.to_string(), "updated": setting})).answer())
}

/// A wire into a firm account, complete at once: `{"amount": "250000.00"}` in USD.
async fn record_firm_wire(
    State(app): State<Arc<App>>,
    caller: Caller,
    Path(account_id): Path<String>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let (audit, fields) = operator_action(&caller, &body)?;
    let account = AccountId::parse(&account_id)?;
    let amount = fields.usd("amount")?.ok_or_else(|| bad_request("missing_field", "amount is required".into()))?;
    if !app.sequencer.read(|s| s.is_firm(account)) {
        app.sequencer.read(|s| s.account(account).map(|_| ())).ok_or(ApiError::from(Code::AccountNotFound))?;
        return Err(Code::NotFirmAccount.into());
    }
    let wire = Command::wire_in(audit.actor.clone(), account, amount);
    let acted = match four_eyes::submit(&app, audit, wire).await? {
        Acted::Done(outcome) => {
            let transfer = outcome.transfers.first().ok_or_else(|| ApiError::internal("a recorded wire is missing from its outcome"))?;
            Acted::Done(crate::accounts::render_transfer(transfer))
        }
        Acted::Awaiting(asked) => Acted::Awaiting(asked),
    };
    Ok(acted.answer())
}

/// Adds an asset or updates it, price included, with a reason for the audit trail.
async fn put_asset(State(app): State<Arc<App>>, caller: Caller, Path(symbol): Path<String>, body: Bytes) -> Result<Response, ApiError> {
    let (audit, fields) = operator_action(&caller, &body)?;
    let symbol = Symbol::parse(&symbol)?;
    let price = fields.decimal(
        "price",
        |s| decimal::parse_strict(s, money::PRICE_SCALE),
        |n| decimal::parse_json_number(n, money::PRICE_SCALE, decimal::Tolerance::QTY),
    )?;
    let fractionable = match fields.present("fractionable") {
        None => true,
        Some(Value::Bool(b)) => *b,
        Some(_) => return Err(bad_request("wrong_type", "fractionable must be true or false".into())),
    };
    let command = Command::ListAsset {
        symbol,
        name: fields.string("name")?.unwrap_or(symbol.as_str()).to_owned(),
        exchange: fields.string("exchange")?.unwrap_or("NASDAQ").to_owned(),
        class: fields.string("class")?.unwrap_or("us_equity").to_owned(),
        fractionable,
        price,
    };
    if let Acted::Awaiting(asked) = four_eyes::submit(&app, audit, command).await? {
        return Ok(Acted::<Value>::Awaiting(asked).answer());
    }
    let info = app.sequencer.read(|s| s.asset(symbol).cloned()).ok_or_else(|| ApiError::internal("a listed asset is missing"))?;
    Ok(Json(render_asset(&info)).into_response())
}

/// Ends the business day and starts `date` (the calendar's next business day when absent).
/// Sandbox only: elsewhere the business day follows the clock.
async fn advance_business_day(State(app): State<Arc<App>>, caller: Caller, body: Bytes) -> Result<Json<Value>, ApiError> {
    operator(&caller)?;
    let fields = fields_or_empty(&body)?;
    let outcome = advance_day(&app, fields.string("date")?).await?;
    Ok(Json(json!({"business_date": outcome.business_date.to_string(), "journals_changed": outcome.journals.len()})))
}

/// Starts the business day `date` (the calendar's next when `None`), in the sandbox.
pub(crate) async fn advance_day(app: &App, date: Option<&str>) -> Result<cashier_store::Outcome, ApiError> {
    if !app.config.sandbox {
        let message = "outside the sandbox the business day follows the clock and the calendar; it cannot be advanced by hand";
        return Err(ApiError::new(StatusCode::CONFLICT, "sandbox_only", message));
    }
    let calendar = &app.config.calendar;
    let to = match date.map(str::trim).filter(|d| !d.is_empty()) {
        Some(text) => {
            let date = Date::parse(text).map_err(|c| ApiError::from(c).with_field("date"))?;
            if !calendar.is_business_day(date) {
                let message = format!("{date} is a weekend day or a holiday; the next business day after it is {}", calendar.after(date));
                return Err(ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "not_a_business_day", message));
            }
            date
        }
        None => calendar.after(app.sequencer.read(|s| s.business_date())),
    };
    Ok(app.sequencer.submit(Command::AdvanceBusinessDay { to }).await?)
}

/// The books per asset (they must sum to zero), the ledger's invariants (balances against their
/// floors among them), every stored balance against the sum of its stored postings, and
/// journals waiting in a non-final status, oldest first.
async fn get_reconciliation(State(app): State<Arc<App>>, caller: Caller) -> Result<Json<Value>, ApiError> {
    operator(&caller)?;
    let check = app.read_tables(|tables| tables.balances_against_postings()).await?;
    let mismatches: Vec<Value> = check
        .mismatches
        .iter()
        .map(|(book, asset, posted, sum)| json!({"book": book.to_string(), "asset": asset.to_string(), "balance": posted.to_string(), "postings": sum.to_string()}))
        .collect();
    let postings = json!({"balances_checked": check.balances, "balanced": mismatches.is_empty(), "mismatches": mismatches});
    let full = app.read_tables(|tables| tables.full_check()).await?;
    let mut report = app.sequencer.read(|state| {
        let books: Vec<Value> = books_per_asset(state).iter().map(|(asset, total)| json!({"asset": asset.to_string(), "sum_of_balances": total.to_string(), "balanced": *total == 0})).collect();
        let waiting: Vec<Value> = waiting_journals(state)
            .map(|j| json!({"id": j.id.to_string(), "status": j.status.as_str(), "hold": j.hold.as_str(), "since": j.updated_at.to_string()}))
            .collect();
        json!({"business_date": state.business_date().to_string(), "books": books, "invariants": state.check_invariants().err().unwrap_or_else(|| "hold".into()), "waiting_journals": waiting})
    });
    report["balances_against_postings"] = postings;
    report["full_check"] = full_check_json(&full);
    Ok(Json(report))
}

/// The whole log against the tables and the checkpoint: what start-up leaves to the checkpoint.
pub(crate) fn full_check_json(check: &cashier_store::sql::FullCheck) -> Value {
    json!({
        "reconciles": check.problems.is_empty(),
        "events": check.events,
        "journals": check.journals,
        "balances": check.balances,
        "checkpoint_seq": check.checkpoint_seq,
        "checkpoint_rows": check.checkpoint_rows,
        "indexed_by_account": check.indexed,
        "problems": check.problems,
    })
}

/// The sum of every book's balance, per asset: zero for each asset when the books balance.
pub(crate) fn books_per_asset(state: &cashier_core::State) -> std::collections::BTreeMap<Asset, i128> {
    let mut totals = std::collections::BTreeMap::new();
    for (_, holdings) in state.books() {
        for (asset, balance) in holdings {
            *totals.entry(*asset).or_default() += i128::from(balance.posted);
        }
    }
    totals
}

/// Journals in a status that waits (pending, queued, sent to clearing), each oldest first.
pub(crate) fn waiting_journals(state: &cashier_core::State) -> impl Iterator<Item = &Journal> {
    [JournalStatus::Pending, JournalStatus::Queued, JournalStatus::SentToClearing]
        .into_iter()
        .flat_map(|status| state.waiting(status))
        .filter_map(|id| state.journal(id))
}
