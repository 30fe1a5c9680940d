//! The console's API keys page: every key (never a secret), minting a named operator key (its
//! secret shown once, on the page that answers the form), and revoking any key, each with a
//! reason for the audit trail, through the same code as `/admin/v1/keys`.

use super::html::{csrf, esc, Page};
use super::Operator;
use crate::App;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use axum::Form;
use std::collections::HashMap;
use std::fmt::Write;
use std::sync::Arc;

pub(crate) async fn page(State(app): State<Arc<App>>, operator: Operator) -> Response {
    let mut body = String::from(
        r#"<p class="muted">Operator keys are for named people: the audit trail shows the name, and four-eyes takes two different names. Revoking a key ends its use at once.</p>
<table id="keys"><tr><th>Key</th><th>Owner</th><th>Name</th><th>Created</th><th>Last used</th><th>Status</th><th></th></tr>"#,
    );
    for key in crate::keys::list(&app) {
        let text = |name: &str| esc(key[name].as_str().unwrap_or("—"));
        let when = |name: &str| {
            key[name].as_str().and_then(|t| cashier_core::Timestamp::parse(t).ok()).map_or_else(|| "—".to_owned(), super::html::time)
        };
        let owner = match key["correspondent_id"].as_str() {
            Some(id) => format!("correspondent {}", esc(id)),
            None => "operator".to_owned(),
        };
        let revoked = key["revoked"].as_bool().unwrap_or(false);
        let action = if revoked {
            String::new()
        } else {
            format!(
                r#"<form class="inline" method="post" action="/console/keys/{id}/revoke">{csrf}<input name="reason" placeholder="Reason" aria-label="Reason" size="16" required><button class="danger">Revoke</button></form>"#,
                id = text("key_id"),
                csrf = csrf(&operator)
            )
        };
        let _ = write!(
            body,
            r#"<tr><td><code>{id}</code></td><td>{owner}</td><td>{name}</td><td>{created}</td><td>{used}</td><td>{status}</td><td>{action}</td></tr>"#,
            id = text("key_id"),
            name = text("name"),
            created = when("created_at"),
            used = when("last_used_at"),
            status = if revoked { r#"<span class="bad">revoked</span>"# } else { "active" },
        );
    }
    body.push_str("</table>");
    let _ = write!(
        body,
        r#"<h2>New operator key</h2><form class="box" method="post" action="/console/keys/mint" id="mint">{csrf}<p><label>Name <input name="name" size="30" required></label> <label>Reason <input name="reason" size="40" required></label> <button class="primary">Mint</button></p></form>"#,
        csrf = csrf(&operator)
    );
    Page::new(&app, &operator, "Keys", "API keys", body).into_response()
}

pub(crate) async fn mint(State(app): State<Arc<App>>, operator: Operator, Form(form): Form<HashMap<String, String>>) -> Response {
    if let Some(refused) = operator.refuse(&form) {
        return refused;
    }
    let audit = operator.audit_of(&app, &form);
    let name = form.get("name").map(|n| n.trim().to_owned());
    match crate::keys::mint(&app, audit, cashier_core::KeyOwner::Operator, name).await {
        Ok(crate::four_eyes::Acted::Awaiting(asked)) => {
            let text = format!("Recorded, awaiting a second operator (four-eyes): {}", asked.detail);
            operator.redirect(&app, false, text, "/console/keys")
        }
        Ok(crate::four_eyes::Acted::Done(minted)) => {
            let body = format!(
                r#"<p class="flash">Operator key <code id="minted-key">{key}</code> for {name}. Its secret is shown this once: <code id="minted-secret">{secret}</code></p><p><a href="/console/keys">Back to the keys</a></p>"#,
                key = esc(minted["key_id"].as_str().unwrap_or_default()),
                name = esc(minted["name"].as_str().unwrap_or_default()),
                secret = esc(minted["secret"].as_str().unwrap_or_default()),
            );
            Page::new(&app, &operator, "Keys", "New operator key", body).into_response()
        }
        Err(error) => operator.redirect(&app, true, format!("No key was minted: {}", error.message), "/console/keys"),
    }
}

pub(crate) async fn revoke(
    State(app): State<Arc<App>>,
    operator: Operator,
    Path(key_id): Path<String>,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    if let Some(refused) = operator.refuse(&form) {
        return refused;
    }
    let audit = operator.audit_of(&app, &form);
    match crate::keys::revoke(&app, audit, key_id.clone()).await {
        Ok(_) => operator.redirect(&app, false, format!("Key {key_id} is revoked."), "/console/keys"),
        Err(error) => operator.redirect(&app, true, format!("Key {key_id} was not revoked: {}", error.message), "/console/keys"),
    }
}
