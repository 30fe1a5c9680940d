//! The console's transfers page: queued transfers waiting for operations (complete or reject
//! each, with a reason) and completed ones (return), through the same code as
//! `/admin/v1/transfers`.

use super::html::{self, csrf, esc, Page};
use super::labels::Labels;
use super::Operator;
use crate::App;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use axum::Form;
use cashier_core::{Transfer, TransferId, TransferStatus};
use std::collections::HashMap;
use std::fmt::Write;
use std::sync::Arc;

pub(crate) async fn page(State(app): State<Arc<App>>, operator: Operator, Query(query): Query<HashMap<String, String>>) -> Response {
    let (only, filter) = super::pages::correspondent_filter(&app, &query);
    let codes = super::pages::codes(&app);
    let mut body = format!(
        r#"<p class="muted">Outside the sandbox a transfer waits queued until the bank settles it; an outgoing one holds its cash meanwhile. Record what the bank did, with a reason.</p>
<form class="filters" method="get" action="/console/transfers">{filter}<button class="primary" type="submit">Show</button></form>"#
    );
    for (status, actions, id) in
        [(TransferStatus::Queued, &["complete", "reject"][..], "queued"), (TransferStatus::Complete, &["return"][..], "complete")]
    {
        let transfers: Vec<Transfer> = match crate::transfers::list(&app, Some(status)) {
            Ok(list) => list.into_iter().filter(|t| only.is_none_or(|c| t.correspondent == c)).collect(),
            Err(error) => return super::html::error_page(error.status, &error.message),
        };
        let _ = write!(
            body,
            r#"<h2>{} ({})</h2><table id="transfers-{id}"><tr><th>Transfer</th><th>Correspondent</th><th>Account</th><th>Type</th><th>Direction</th><th class="num">Amount</th><th>Created</th><th></th></tr>"#,
            esc(status.as_str()),
            transfers.len()
        );
        let labels = Labels::of(&app, transfers.iter().map(|t| t.account)).await;
        for t in &transfers {
            let buttons: String = actions
                .iter()
                .map(|a| {
                    format!(
                        r#"<button class="{}" name="action" value="{a}">{a}</button>"#,
                        if *a == "complete" { "primary" } else { "danger" }
                    )
                })
                .collect();
            let _ = write!(
                body,
                r#"<tr data-transfer="{tid}"><td><code>{tid}</code></td><td>{code}</td><td>{account}</td><td>{kind}</td><td>{direction}</td><td class="num">{amount}</td><td>{created}</td>
<td><form class="inline" method="post" action="/console/transfers/{tid}">{csrf}<input name="reason" placeholder="Reason" aria-label="Reason" size="16" required>{buttons}</form></td></tr>"#,
                tid = t.id,
                code = esc(codes.get(&t.correspondent).map_or("", String::as_str)),
                account = labels.link(t.account),
                kind = t.kind.as_str(),
                direction = t.direction.as_str(),
                amount = esc(&t.currency.format_amount(t.amount)),
                created = html::time(t.created_at),
                csrf = csrf(&operator),
            );
        }
        body.push_str("</table>");
    }
    Page::new(&app, &operator, "Transfers", "Transfers", body).into_response()
}

pub(crate) async fn settle(
    State(app): State<Arc<App>>,
    operator: Operator,
    Path(transfer_id): Path<String>,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    if let Some(refused) = operator.refuse(&form) {
        return refused;
    }
    let Ok(id) = TransferId::parse(&transfer_id) else {
        return operator.redirect(&app, true, "That is not a transfer id.".into(), "/console/transfers");
    };
    let action = form.get("action").cloned().unwrap_or_default();
    let audit = operator.audit_of(&app, &form);
    match crate::transfers::settle(&app, audit, id, &action).await {
        Ok(crate::four_eyes::Acted::Awaiting(asked)) => {
            let text = format!("{action}: recorded, awaiting a second operator (four-eyes): {}", asked.detail);
            operator.redirect(&app, false, text, "/console/transfers")
        }
        Ok(crate::four_eyes::Acted::Done(t)) => {
            operator.redirect(&app, false, format!("{action}: transfer {} is now {}.", t.id, t.status.as_str()), "/console/transfers")
        }
        Err(error) => operator.redirect(&app, true, format!("{action} refused: {}", error.message), "/console/transfers"),
    }
}
