//! API keys, for operators: list them (never a secret), mint correspondent keys and named
//! operator keys, revoke any key. Minting and revoking are operator actions with a reason, in
//! the audit trail (`Command::Audited`). A revoked key answers 401 from its next request; its
//! open event streams end (`events`) and its console sessions with it (`console`).

use crate::admin::{operator, operator_action};
use crate::api::{list_of, schema, Access, Api, Op};
use crate::auth::Caller;
use crate::four_eyes::{self, Acted};
use crate::{ApiError, App};
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::response::Response;
use axum::Json;
use cashier_core::*;
use serde_json::{json, Value};
use std::sync::Arc;

pub fn routes(api: Api) -> Api {
    api.section("Operations", Access::Operator)
        .route(
            Op::get(
                "/admin/v1/keys",
                "listKeys",
                "Every API key, operators' and correspondents': who, created, last used, revoked; no secret.",
            )
            .json(list_of("KeyInfo")),
            list_keys,
        )
        .route(
            Op::post("/admin/v1/keys", "createOperatorKey", "Mints an operator key for a named person; the secret is shown once.")
                .body(schema("OperatorKeyRequest"))
                .json(schema("ApiKey"))
                .awaits(),
            create_operator_key,
        )
        .route(
            Op::post(
                "/admin/v1/correspondents/{correspondent_id}/keys",
                "createKey",
                "Mints an API key for a correspondent; the secret is shown once.",
            )
            .body(schema("KeyRequest"))
            .json(schema("ApiKey"))
            .awaits(),
            create_correspondent_key,
        )
        .route(
            Op::post(
                "/admin/v1/keys/{key_id}/revoke",
                "revokeKey",
                "Revokes a key at once: its next request answers 401, its streams close.",
            )
            .body(schema("Reasoned"))
            .json(schema("KeyInfo")),
            revoke_key,
        )
}

/// A key as operators see it.
pub(crate) fn render(app: &App, key: &ApiKey) -> Value {
    let (owner, correspondent) = match key.owner {
        KeyOwner::Operator => ("operator", Value::Null),
        KeyOwner::Correspondent(id) => ("correspondent", json!(id.to_string())),
    };
    let last_used = app.limits.last_used(&key.key_id).map(|seconds| Timestamp(seconds as i64 * 1_000_000).to_string());
    json!({"key_id": key.key_id, "owner": owner, "correspondent_id": correspondent, "name": key.name,
           "created_at": key.created_at.to_string(), "last_used_at": last_used, "revoked": key.revoked})
}

/// Every key, operators' first, then by creation.
pub(crate) fn list(app: &App) -> Vec<Value> {
    let mut keys: Vec<ApiKey> = app.sequencer.read(|state| state.api_keys().cloned().collect());
    keys.sort_by_key(|k| (k.owner != KeyOwner::Operator, k.created_at, k.key_id.clone()));
    keys.iter().map(|k| render(app, k)).collect()
}

async fn list_keys(State(app): State<Arc<App>>, caller: Caller) -> Result<Json<Value>, ApiError> {
    operator(&caller)?;
    Ok(Json(Value::Array(list(&app))))
}

/// Mints a key for `owner` named `name`, audited with `audit`: its id and its secret, shown once
/// (to the operator whose request carried it out, under four-eyes the second one).
pub(crate) async fn mint(app: &App, audit: Audit, owner: KeyOwner, name: Option<String>) -> Result<Acted<Value>, ApiError> {
    let prefix = if owner == KeyOwner::Operator { "OK" } else { "CK" };
    let (key_id, secret, hash) = crate::auth::mint(prefix);
    let issue = Command::IssueApiKey { key_id: key_id.clone(), name: name.clone(), owner, secret_sha256: hash };
    let acted = four_eyes::submit(app, audit, issue).await?;
    Ok(acted.map(|_| json!({"key_id": key_id, "secret": secret, "name": name})))
}

async fn create_operator_key(State(app): State<Arc<App>>, caller: Caller, body: Bytes) -> Result<Response, ApiError> {
    let (audit, fields) = operator_action(&caller, &body)?;
    let name = fields.string("name")?.map(str::to_owned);
    Ok(mint(&app, audit, KeyOwner::Operator, name).await?.answer())
}

async fn create_correspondent_key(
    State(app): State<Arc<App>>,
    caller: Caller,
    Path(correspondent_id): Path<String>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let (audit, fields) = operator_action(&caller, &body)?;
    let correspondent = CorrespondentId::parse(&correspondent_id)?;
    let name = fields.string("name")?.map(str::to_owned);
    Ok(mint(&app, audit, KeyOwner::Correspondent(correspondent), name).await?.answer())
}

/// Revokes `key_id`, audited with `audit`.
pub(crate) async fn revoke(app: &App, audit: Audit, key_id: String) -> Result<Value, ApiError> {
    // Revoking protects: four-eyes never holds it.
    let revoke = Command::RevokeApiKey { key_id: key_id.clone() };
    four_eyes::submit(app, audit, revoke).await?;
    let key = app.sequencer.api_key(&key_id).ok_or_else(|| ApiError::internal("a revoked key is missing"))?;
    Ok(render(app, &key))
}

async fn revoke_key(State(app): State<Arc<App>>, caller: Caller, Path(key_id): Path<String>, body: Bytes) -> Result<Json<Value>, ApiError> {
    let (audit, _) = operator_action(&caller, &body)?;
    Ok(Json(revoke(&app, audit, key_id).await?))
}
