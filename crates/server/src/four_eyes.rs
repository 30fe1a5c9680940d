//! Operators' actions through four-eyes: every account setting, wire, transfer settlement, key
//! and price an operator changes goes through [`submit`], which the core holds for a second
//! operator when it is worth more than the operator may do alone today
//! ([`cashier_core::four_eyes`]). A held action answers `202` with what awaits confirmation;
//! `GET /admin/v1/confirmations` (in `admin`) lists what waits.

use crate::{ApiError, App};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use cashier_core::*;
use cashier_store::Outcome;
use serde_json::{json, Value};

/// What an operator's action came to: carried out, or held for a second operator.
pub(crate) enum Acted<T> {
    Done(T),
    Awaiting(Confirmation),
}

impl<T> Acted<T> {
    pub(crate) fn map<U>(self, f: impl FnOnce(T) -> U) -> Acted<U> {
        match self {
            Acted::Done(t) => Acted::Done(f(t)),
            Acted::Awaiting(c) => Acted::Awaiting(c),
        }
    }
}

impl Acted<Value> {
    /// The answer: `200` with what was done, or `202` with what awaits a second operator.
    pub(crate) fn answer(self) -> Response {
        match self {
            Acted::Done(value) => Json(value).into_response(),
            Acted::Awaiting(asked) => (StatusCode::ACCEPTED, Json(json!({"awaiting_confirmation": render(&asked)}))).into_response(),
        }
    }
}

/// An operator's command as the server submits it: through four-eyes when the server has a
/// threshold (`--four-eyes-over`), as it is otherwise. Journal actions (`admin::act`) and every
/// other operator action (`submit`) come through here.
pub(crate) fn guarded(app: &App, command: Command) -> Command {
    match app.config.four_eyes_over {
        Some(over) => Command::FourEyes { action: Box::new(command), over },
        None => command,
    }
}

/// Submits an operator's `action`, with its audit, through four-eyes ([`guarded`]).
pub(crate) async fn submit(app: &App, audit: Audit, action: Command) -> Result<Acted<Outcome>, ApiError> {
    let command = guarded(app, Command::Audited { audit, action: Box::new(action) });
    let outcome = app.sequencer.submit(command).await?;
    let asked = outcome.records().iter().find_map(|r| match &r.event.kind {
        EventKind::ConfirmationRequested(asked) => Some((**asked).clone()),
        _ => None,
    });
    Ok(match asked {
        Some(asked) => Acted::Awaiting(asked),
        None => Acted::Done(outcome),
    })
}

/// A four-eyes request as the API shows it.
pub(crate) fn render(c: &Confirmation) -> Value {
    let worth = (c.worth != four_eyes::UNBOUNDED).then(|| decimal::format_fixed(i128::from(c.worth), 2, 2));
    json!({"action": c.action, "subject": c.subject, "detail": c.detail, "worth": worth,
           "requested_by": c.audit.actor.to_string(), "reason": c.audit.reason, "requested_at": c.at.to_string()})
}

/// What waits for a second operator, oldest first.
pub(crate) fn waiting(app: &App) -> Vec<Confirmation> {
    let mut list: Vec<Confirmation> = app.sequencer.read(|s| s.confirmations().cloned().collect());
    list.sort_by_key(|c| (c.at, c.fingerprint));
    list
}
