//! `POST /v1/journals` and `DELETE /v1/journals/{id}`: the Broker API's journal writes.

use crate::api::{list_of, schema, uuid, Access, Api, Op};
use crate::auth::Caller;
use crate::body::{bad_request, Fields};
use crate::{ApiError, App};
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use cashier_core::*;
use cashier_store::sql::JournalQuery;
use serde_json::{json, Value};
use std::sync::Arc;

pub fn routes(api: Api) -> Api {
    let idempotency = "A key of up to 255 characters: a retry with it answers the first result; another body with it answers 422.";
    api.section("Journals", Access::Key)
        .route(
            Op::post("/v1/journals", "createJournal", "Moves cash (JNLC) or shares (JNLS) between a firm account and a customer.")
                .header("Idempotency-Key", idempotency)
                .body(schema("JournalRequest"))
                .json(schema("Journal")),
            create_journal,
        )
        .route(
            Op::get(
                "/v1/journals",
                "listJournals",
                "Journals, newest first; more than 10,000 matches answer 422 unless limited (to 10,000 at most).",
            )
            .query("after", json!({"type": "string", "format": "date"}), "Created on or after this date.")
            .query("before", json!({"type": "string", "format": "date"}), "Created on or before this date.")
            .query("status", schema("JournalStatus"), "Only journals in this status.")
            .query("entry_type", json!({"type": "string", "enum": ["JNLC", "JNLS"]}), "Only cash or only securities.")
            .query("to_account", uuid(), "Only journals into this account.")
            .query("from_account", uuid(), "Only journals out of this account.")
            .query("limit", json!({"type": "integer", "minimum": 1}), "At most this many.")
            .json(list_of("Journal")),
            list_journals,
        )
        .route(
            Op::post("/v1/journals/batch", "createBatchJournal", "One firm account to many customers, all or nothing.")
                .header("Idempotency-Key", idempotency)
                .body(schema("BatchJournalRequest"))
                .json(list_of("Journal")),
            create_batch,
        )
        .route(
            Op::post("/v1/journals/reverse_batch", "createReverseBatchJournal", "Many customers to one firm account, all or nothing.")
                .header("Idempotency-Key", idempotency)
                .body(schema("ReverseBatchJournalRequest"))
                .json(list_of("Journal")),
            create_reverse_batch,
        )
        .route(Op::get("/v1/journals/{journal_id}", "getJournal", "One journal.").json(schema("Journal")), get_journal)
        .route(
            Op::delete("/v1/journals/{journal_id}", "deleteJournal", "Cancels a journal that has not reached the books."),
            delete_journal,
        )
}

async fn create_journal(State(app): State<Arc<App>>, caller: Caller, headers: HeaderMap, body: Bytes) -> Result<Response, ApiError> {
    let fields = Fields::parse(&body)?;
    let request = fields.journal_request()?;
    let key = idempotency_key(&headers)?;
    let outcome = app.sequencer.submit(Command::CreateJournal { actor: caller.actor(), request, key }).await?;
    let journal = outcome.journals.first().ok_or_else(|| ApiError::internal("a created journal is missing from its outcome"))?;
    Ok(Json(JournalView::of(journal)).into_response())
}

/// One firm account to many customers, all or nothing.
async fn create_batch(State(app): State<Arc<App>>, caller: Caller, headers: HeaderMap, body: Bytes) -> Result<Response, ApiError> {
    let fields = Fields::parse(&body)?;
    let (entry_type, entries) = fields.batch("to_account")?;
    let from = fields.account("from_account")?;
    let command = Command::CreateBatch { actor: caller.actor(), entry_type, from, entries, key: idempotency_key(&headers)? };
    rendered_journals(&app, command).await
}

/// Many customers to one firm account, all or nothing.
async fn create_reverse_batch(State(app): State<Arc<App>>, caller: Caller, headers: HeaderMap, body: Bytes) -> Result<Response, ApiError> {
    let fields = Fields::parse(&body)?;
    let (entry_type, entries) = fields.batch("from_account")?;
    let to = fields.account("to_account")?;
    let command = Command::CreateReverseBatch { actor: caller.actor(), entry_type, to, entries, key: idempotency_key(&headers)? };
    rendered_journals(&app, command).await
}

async fn rendered_journals(app: &App, command: Command) -> Result<Response, ApiError> {
    let outcome = app.sequencer.submit(command).await?;
    Ok(Json(outcome.journals.iter().map(JournalView::of).collect::<Vec<_>>()).into_response())
}

async fn delete_journal(State(app): State<Arc<App>>, caller: Caller, Path(journal_id): Path<String>) -> Result<StatusCode, ApiError> {
    let id = JournalId::parse(&journal_id)?;
    app.sequencer.submit(Command::CancelJournal { actor: caller.actor(), id, reason: String::new() }).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Items in one list answer, at most, whatever its parameters (by default: `Config`
/// `list_results_max`): more asks for filters, and a `limit` above it is refused. An answer's
/// memory is bounded by it, never by the ledger's size.
pub const LIST_RESULTS_MAX: usize = 10_000;

/// The refusal of a list with more matches than one answer holds.
pub(crate) fn too_many_results(max: usize, what: &str, narrow: &str) -> ApiError {
    let message = format!("more than {max} {what} match: narrow the search with {narrow}");
    ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "too_many_results", message)
}

async fn get_journal(State(app): State<Arc<App>>, caller: Caller, Path(journal_id): Path<String>) -> Result<Json<Value>, ApiError> {
    let id = JournalId::parse(&journal_id)?;
    let scope = caller.actor().scope();
    let journal = app.read_tables(move |tables| tables.journal(id)).await?;
    journal.filter(|j| scope.is_none_or(|c| c == j.correspondent)).map(|j| Json(render(&j))).ok_or_else(|| Code::JournalNotFound.into())
}

/// The filters of `GET /v1/journals`, parsed.
struct JournalFilter {
    after: Option<Date>,
    before: Option<Date>,
    status: Option<JournalStatus>,
    entry_type: Option<EntryType>,
    to: Option<AccountId>,
    from: Option<AccountId>,
    limit: Option<usize>,
}

impl JournalFilter {
    fn parse(query: &std::collections::HashMap<String, String>, max: usize) -> Result<JournalFilter, ApiError> {
        let param = |name: &str| crate::body::param(query, name);
        let date = |name: &str| param(name)?.map(Date::parse).transpose().map_err(|c| ApiError::from(c).with_field(name));
        let account = |name: &str| param(name)?.map(AccountId::parse).transpose().map_err(|c| ApiError::from(c).with_field(name));
        let status = param("status")?
            .map(|s| JournalStatus::parse(s).ok_or_else(|| bad_request("invalid_status", format!("status {s:?} is not a journal status"))))
            .transpose()?;
        let entry_type = param("entry_type")?
            .map(|s| {
                EntryType::parse(s).ok_or_else(|| bad_request("invalid_entry_type", format!("entry_type must be JNLC or JNLS, not {s:?}")))
            })
            .transpose()?;
        let limit = param("limit")?
            .map(|s| {
                s.parse::<usize>()
                    .ok()
                    .filter(|&n| n > 0 && n <= max)
                    .ok_or_else(|| bad_request("invalid_limit", format!("limit must be an integer from 1 to {max}, not {s:?}")))
            })
            .transpose()?;
        Ok(JournalFilter {
            after: date("after")?,
            before: date("before")?,
            status,
            entry_type,
            to: account("to_account")?,
            from: account("from_account")?,
            limit,
        })
    }

    /// The store's query for these filters, within a correspondent (`None`: all of them).
    fn query(&self, correspondent: Option<CorrespondentId>) -> JournalQuery {
        JournalQuery {
            correspondent,
            status: self.status,
            entry_type: self.entry_type,
            from: self.from,
            to: self.to,
            created_from: self.after.map(day_start),
            created_before: self.before.map(|d| day_start(Date(d.0 + 1))),
            ..JournalQuery::default()
        }
    }
}

/// Newest first; `after` and `before` are inclusive dates of creation.
async fn list_journals(
    State(app): State<Arc<App>>,
    caller: Caller,
    Query(query): Query<std::collections::HashMap<String, String>>,
) -> Result<Json<Value>, ApiError> {
    let max = app.config.list_results_max;
    let filter = JournalFilter::parse(&query, max)?;
    let scope = caller.actor().scope();
    let cap = filter.limit.unwrap_or(max + 1);
    let query = JournalQuery { recent: Some(app.sequencer.recent_journals()), ..filter.query(scope) };
    let journals: Vec<Value> = app.read_tables(move |tables| tables.journals(&query, cap)).await?.iter().map(render).collect();
    if filter.limit.is_none() && journals.len() > max {
        return Err(too_many_results(max, "journals", "after, before, status or an account, or set a limit"));
    }
    Ok(Json(Value::Array(journals)))
}

/// The first microsecond of a day (UTC).
pub(crate) fn day_start(day: Date) -> Timestamp {
    Timestamp(i64::from(day.0) * 86_400_000_000)
}

/// The `Idempotency-Key` header, if sent; its shape is checked by the core.
fn idempotency_key(headers: &HeaderMap) -> Result<Option<String>, ApiError> {
    match headers.get("idempotency-key") {
        None => Ok(None),
        Some(value) => value.to_str().map(|v| Some(v.to_owned())).map_err(|_| Code::IdempotencyKeyInvalid.into()),
    }
}

/// A journal as the Broker API shows it. Absent values are `null`, never `""`; the transmitter's
/// fields appear only when given.
pub(crate) fn render(j: &Journal) -> Value {
    serde_json::to_value(JournalView::of(j)).expect("a journal view serializes")
}

/// A journal's answer, serialized straight into the response: ids, dates and times are written
/// by their `Display`, with no text built for them first.
#[derive(serde::Serialize)]
pub(crate) struct JournalView<'a> {
    #[serde(serialize_with = "shown")]
    id: JournalId,
    entry_type: &'static str,
    #[serde(serialize_with = "shown")]
    from_account: AccountId,
    #[serde(serialize_with = "shown")]
    to_account: AccountId,
    status: &'static str,
    #[serde(serialize_with = "shown_or_null")]
    symbol: Option<Symbol>,
    qty: Option<String>,
    price: Option<String>,
    net_amount: Option<String>,
    #[serde(serialize_with = "shown_or_null")]
    settle_date: Option<Date>,
    #[serde(serialize_with = "shown_or_null")]
    system_date: Option<Date>,
    description: &'a str,
    #[serde(serialize_with = "shown")]
    currency: Currency,
    #[serde(serialize_with = "shown")]
    created_at: Timestamp,
    #[serde(skip_serializing_if = "Option::is_none")]
    transmitter_name: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    transmitter_account_number: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    transmitter_address: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    transmitter_financial_institution: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none", serialize_with = "shown_or_null")]
    transmitter_timestamp: Option<Timestamp>,
    /// A refused journal's reason (the Broker API's field), and Cashier's stable code for it.
    #[serde(skip_serializing_if = "Option::is_none")]
    error_message: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    refused_for: Option<&'static str>,
}

impl<'a> JournalView<'a> {
    pub(crate) fn of(j: &'a Journal) -> JournalView<'a> {
        let (symbol, qty, price, net_amount, currency) = match j.asset {
            Asset::Cash(currency) => (None, None, None, Some(currency.format_amount(j.units)), currency),
            Asset::Security(symbol) => {
                let price = j.price.map(|p| decimal::format(p, money::PRICE_SCALE));
                (Some(symbol), Some(money::format_qty(j.units)), price, None, Currency::USD)
            }
        };
        let t = j.transmitter();
        JournalView {
            id: j.id,
            entry_type: j.entry_type.as_str(),
            from_account: j.from,
            to_account: j.to,
            status: j.status.as_str(),
            symbol,
            qty,
            price,
            net_amount,
            settle_date: j.booked_on,
            system_date: j.booked_on,
            description: &j.description,
            currency,
            created_at: j.created_at,
            transmitter_name: t.and_then(|t| t.name.as_deref()),
            transmitter_account_number: t.and_then(|t| t.account_number.as_deref()),
            transmitter_address: t.and_then(|t| t.address.as_deref()),
            transmitter_financial_institution: t.and_then(|t| t.financial_institution.as_deref()),
            transmitter_timestamp: t.and_then(|t| t.timestamp),
            error_message: j.refused_for().map(Code::message),
            refused_for: j.refused_for().map(Code::as_str),
        }
    }
}

fn shown<S: serde::Serializer>(value: &impl std::fmt::Display, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.collect_str(value)
}

fn shown_or_null<S: serde::Serializer>(value: &Option<impl std::fmt::Display>, serializer: S) -> Result<S::Ok, S::Error> {
    match value {
        Some(value) => serializer.collect_str(value),
        None => serializer.serialize_none(),
    }
}
