//! The one list of endpoints. Each is registered here with its handler and its description
//! together, so the router and `/openapi.json` are built from the same calls and cannot
//! disagree.

use crate::App;
use axum::handler::Handler;
use axum::http::Method;
use axum::routing::{on, MethodFilter};
use axum::Router;
use serde_json::{json, Map, Value};
use std::sync::Arc;

/// Who may call an endpoint.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    /// Anyone: health, readiness, metrics, the API's own description.
    Public,
    /// A correspondent's key (confined to its own) or an operator's key (sees all).
    Key,
    /// An operator's key only.
    Operator,
}

/// What a successful call answers.
#[derive(Clone, Debug)]
pub enum Reply {
    /// `200` with this JSON schema.
    Json(Value),
    /// `204`, no body.
    NoContent,
    /// `200`, a `text/event-stream`.
    Events,
    /// `200`, a body of this media type.
    Text(&'static str),
}

/// One endpoint: a method and path, what it takes and what it answers.
#[derive(Clone, Debug)]
pub struct Op {
    pub method: Method,
    pub path: &'static str,
    pub id: &'static str,
    pub summary: &'static str,
    pub tag: &'static str,
    pub access: Access,
    /// Query parameters: name, schema, description.
    pub query: Vec<(&'static str, Value, &'static str)>,
    /// Path parameters whose schema is neither a UUID (`…_id`) nor a plain string: name, schema.
    pub path_schemas: Vec<(&'static str, Value)>,
    /// Headers the endpoint reads: name, description.
    pub headers: Vec<(&'static str, &'static str)>,
    /// The JSON body's schema, if it takes one, and whether it may be left out.
    pub body: Option<(Value, bool)>,
    pub reply: Reply,
    /// Four-eyes may hold it: `202` with what awaits a second operator.
    pub awaits: bool,
}

impl Op {
    fn new(method: Method, path: &'static str, id: &'static str, summary: &'static str) -> Op {
        Op {
            method,
            path,
            id,
            summary,
            tag: "",
            access: Access::Key,
            query: Vec::new(),
            path_schemas: Vec::new(),
            headers: Vec::new(),
            body: None,
            reply: Reply::NoContent,
            awaits: false,
        }
    }

    pub fn get(path: &'static str, id: &'static str, summary: &'static str) -> Op {
        Op::new(Method::GET, path, id, summary)
    }

    pub fn post(path: &'static str, id: &'static str, summary: &'static str) -> Op {
        Op::new(Method::POST, path, id, summary)
    }

    pub fn put(path: &'static str, id: &'static str, summary: &'static str) -> Op {
        Op::new(Method::PUT, path, id, summary)
    }

    pub fn delete(path: &'static str, id: &'static str, summary: &'static str) -> Op {
        Op::new(Method::DELETE, path, id, summary)
    }

    pub fn query(mut self, name: &'static str, schema: Value, description: &'static str) -> Op {
        self.query.push((name, schema, description));
        self
    }

    pub fn path_param(mut self, name: &'static str, schema: Value) -> Op {
        self.path_schemas.push((name, schema));
        self
    }

    pub fn header(mut self, name: &'static str, description: &'static str) -> Op {
        self.headers.push((name, description));
        self
    }

    pub fn body(mut self, schema: Value) -> Op {
        self.body = Some((schema, true));
        self
    }

    /// A body that may be empty.
    pub fn optional_body(mut self, schema: Value) -> Op {
        self.body = Some((schema, false));
        self
    }

    pub fn json(mut self, schema: Value) -> Op {
        self.reply = Reply::Json(schema);
        self
    }

    /// Four-eyes may hold it for a second operator: it may answer `202`.
    pub fn awaits(mut self) -> Op {
        self.awaits = true;
        self
    }

    pub fn reply(mut self, reply: Reply) -> Op {
        self.reply = reply;
        self
    }

    /// The names in `{braces}` of its path, in order.
    pub fn path_params(&self) -> impl Iterator<Item = &'static str> {
        self.path.split('/').filter_map(|segment| segment.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
    }
}

/// A reference to a named schema of the document.
pub fn schema(name: &str) -> Value {
    json!({"$ref": format!("#/components/schemas/{name}")})
}

/// A UUID string.
pub fn uuid() -> Value {
    json!({"type": "string", "format": "uuid"})
}

/// An array of a named schema.
pub fn list_of(name: &str) -> Value {
    json!({"type": "array", "items": schema(name)})
}

/// The router and the description of every route in it.
pub struct Api {
    router: Router<Arc<App>>,
    ops: Vec<Op>,
    tag: &'static str,
    access: Access,
}

impl Default for Api {
    fn default() -> Api {
        Api { router: Router::new(), ops: Vec::new(), tag: "", access: Access::Key }
    }
}

impl Api {
    /// The endpoints registered after this call carry this tag and access.
    pub fn section(mut self, tag: &'static str, access: Access) -> Api {
        self.tag = tag;
        self.access = access;
        self
    }

    /// Registers `handler` at the op's method and path, and the op in the description.
    pub fn route<H, T>(mut self, mut op: Op, handler: H) -> Api
    where
        H: Handler<T, Arc<App>>,
        T: 'static,
    {
        let filter = MethodFilter::try_from(op.method.clone()).expect("a method axum routes");
        self.router = self.router.route(op.path, on(filter, handler));
        op.tag = self.tag;
        op.access = self.access;
        self.ops.push(op);
        self
    }

    pub fn ops(&self) -> &[Op] {
        &self.ops
    }

    /// Adds routes that are not part of the API and not in its description: the console's pages.
    pub fn pages(mut self, router: Router<Arc<App>>) -> Api {
        self.router = self.router.merge(router);
        self
    }

    pub fn into_router(self) -> Router<Arc<App>> {
        self.router
    }

    /// The OpenAPI 3.1 document of every registered endpoint.
    pub fn document(&self) -> Value {
        let mut paths = Map::new();
        for op in &self.ops {
            let item = paths.entry(op.path).or_insert_with(|| json!({}));
            item[op.method.as_str().to_ascii_lowercase()] = operation(op);
        }
        json!({
            "openapi": "3.1.0",
            "info": {
                "title": "Cashier",
                "version": env!("CARGO_PKG_VERSION"),
                "description": "Journals, accounts, transfers and events in the Broker API dialect, and the operations API under /admin/v1. Errors answer {\"code\", \"message\", \"reason\"}.",
            },
            "servers": [{"url": "/"}],
            "paths": paths,
            "components": {
                "schemas": crate::openapi::schemas(),
                "securitySchemes": {"basicAuth": {"type": "http", "scheme": "basic", "description": "An API key id and its secret."}},
                "responses": {
                    "Error": {
                        "description": "The request was refused, in the error envelope.",
                        "content": {"application/json": {"schema": schema("Error")}},
                    },
                },
            },
        })
    }
}

fn operation(op: &Op) -> Value {
    let mut parameters: Vec<Value> = op
        .path_params()
        .map(|name| {
            // An `…_id` is a UUID unless the op says otherwise; any other name a string.
            let default = if name.ends_with("_id") { uuid() } else { json!({"type": "string"}) };
            let schema = op.path_schemas.iter().find(|(n, _)| *n == name).map_or(default, |(_, s)| s.clone());
            json!({"name": name, "in": "path", "required": true, "schema": schema})
        })
        .collect();
    for (name, schema, description) in &op.query {
        parameters.push(json!({"name": name, "in": "query", "required": false, "schema": schema, "description": description}));
    }
    for (name, description) in &op.headers {
        parameters.push(json!({"name": name, "in": "header", "required": false, "schema": {"type": "string"}, "description": description}));
    }
    let ok = match &op.reply {
        Reply::Json(schema) => json!({"200": {"description": "OK", "content": {"application/json": {"schema": schema}}}}),
        Reply::NoContent => json!({"204": {"description": "Done; no content."}}),
        Reply::Events => {
            json!({"200": {"description": "Server-sent events.", "content": {"text/event-stream": {"schema": {"type": "string"}}}}})
        }
        Reply::Text(media) => json!({"200": {"description": "OK", "content": {*media: {"schema": {"type": "string"}}}}}),
    };
    let mut responses = ok.as_object().cloned().unwrap_or_default();
    if op.awaits {
        let held = json!({"description": "Four-eyes: recorded, awaiting a second operator.", "content": {"application/json": {"schema": schema("Awaiting")}}});
        responses.insert("202".into(), held);
    }
    responses.insert("default".into(), json!({"$ref": "#/components/responses/Error"}));
    let mut value = json!({
        "operationId": op.id,
        "summary": op.summary,
        "tags": [op.tag],
        "parameters": parameters,
        "responses": responses,
    });
    if let Some((body, required)) = &op.body {
        value["requestBody"] = json!({"required": required, "content": {"application/json": {"schema": body}}});
    }
    value["security"] = match op.access {
        Access::Public => json!([]),
        Access::Key | Access::Operator => json!([{"basicAuth": []}]),
    };
    if op.access == Access::Operator {
        value["description"] = json!("For operator keys only; a correspondent's key answers 403.");
    }
    value
}
