//! External transfers, for operations: outside the sandbox a transfer waits `QUEUED` (an outgoing
//! one holding its cash) until operations record what the bank did: `complete` (the money
//! moves), `reject` (nothing moves; the hold is released), or, for a completed one the bank sent
//! back, `return` (the money moves back). Each takes a reason and is audited
//! (`Command::Audited`), from the API, `cashier ops transfers` and the console.

use crate::accounts::render_transfer;
use crate::admin::{operator, operator_action};
use crate::api::{list_of, schema, Access, Api, Op};
use crate::auth::Caller;
use crate::body::bad_request;
use crate::four_eyes::{self, Acted};
use crate::{ApiError, App};
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::Json;
use cashier_core::*;
use serde_json::{json, Value};
use std::sync::Arc;

pub fn routes(api: Api) -> Api {
    api.section("Operations", Access::Operator)
        .route(
            Op::get("/admin/v1/transfers", "listAllTransfers", "Transfers of every account, oldest first, by status (all when absent).")
                .query("status", json!({"type": "string", "enum": names()}), "Only transfers in this status.")
                .json(list_of("Transfer")),
            list_transfers,
        )
        .route(
            Op::post(
                "/admin/v1/transfers/{transfer_id}/{action}",
                "settleTransfer",
                "Records what the bank did with a transfer: complete or reject a queued one, return a completed one.",
            )
            .path_param("action", json!({"type": "string", "enum": ["complete", "reject", "return"]}))
            .body(schema("Reasoned"))
            .json(schema("Transfer"))
            .awaits(),
            settle_transfer,
        )
}

fn names() -> Vec<&'static str> {
    TransferStatus::ALL.iter().map(|s| s.as_str()).collect()
}

/// Transfers in `status` (every one when `None`), oldest first, at most the list bound.
pub(crate) fn list(app: &App, status: Option<TransferStatus>) -> Result<Vec<Transfer>, ApiError> {
    let max = app.config.list_results_max;
    let mut list: Vec<Transfer> =
        app.sequencer.read(|s| s.transfers().filter(|t| status.is_none_or(|want| t.status == want)).take(max + 1).cloned().collect());
    if list.len() > max {
        return Err(crate::journals::too_many_results(max, "transfers", "status"));
    }
    list.sort_by_key(|t| (t.created_at, t.id));
    Ok(list)
}

async fn list_transfers(
    State(app): State<Arc<App>>,
    caller: Caller,
    Query(query): Query<std::collections::HashMap<String, String>>,
) -> Result<Json<Value>, ApiError> {
    operator(&caller)?;
    let status = match crate::body::param(&query, "status")? {
        None => None,
        Some(text) => Some(
            TransferStatus::parse(text)
                .ok_or_else(|| bad_request("invalid_status", format!("status must be one of {}, not {text:?}", names().join(", "))))?,
        ),
    };
    Ok(Json(Value::Array(list(&app, status)?.iter().map(render_transfer).collect())))
}

/// Carries out `action` (`complete`, `reject` or `return`) on a transfer, audited with `audit`,
/// or leaves it for a second operator (four-eyes).
pub(crate) async fn settle(app: &App, audit: Audit, id: TransferId, action: &str) -> Result<Acted<Transfer>, ApiError> {
    let command = match action {
        "complete" => Command::CompleteTransfer { id },
        "reject" => Command::RejectTransfer { id },
        "return" => Command::ReturnTransfer { id },
        other => {
            let message = format!("no transfer action {other:?}: complete, reject or return");
            return Err(ApiError::new(StatusCode::NOT_FOUND, "route_not_found", message));
        }
    };
    if let Acted::Awaiting(asked) = four_eyes::submit(app, audit, command).await? {
        return Ok(Acted::Awaiting(asked));
    }
    let transfer = app.sequencer.read(|s| s.transfer(id).cloned()).ok_or_else(|| ApiError::internal("a settled transfer is missing"))?;
    Ok(Acted::Done(transfer))
}

async fn settle_transfer(
    State(app): State<Arc<App>>,
    caller: Caller,
    Path((transfer_id, action)): Path<(String, String)>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let (audit, _) = operator_action(&caller, &body)?;
    let id = TransferId::parse(&transfer_id)?;
    Ok(settle(&app, audit, id, &action).await?.map(|t| render_transfer(&t)).answer())
}
