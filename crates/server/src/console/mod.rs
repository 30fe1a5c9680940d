//! The operations console: HTML pages under `/console` for the cashiering team, rendered on the
//! server. No JavaScript build: pages are plain links and forms; only the live event view runs
//! a few lines of inline script (`EventSource`).
//!
//! Sign-in takes an operator key and its secret. The session is a random token in a cookie
//! (`HttpOnly`, `Secure`, `SameSite=Strict`, path `/console`), kept in memory: a restart signs
//! everyone out, and a session ends after `Config::console_idle` without a request or when its
//! key is revoked. Every form carries the session's CSRF token, and every POST checks it; the
//! sign-in form carries a one-time token of its own, paired with a cookie. Errors appear in the
//! page, never as a trace.

mod html;
mod keys;
mod labels;
mod pages;
mod reference;
mod transfers;

use crate::auth::{constant_time_eq, sha256};
use crate::body::Fields;
use crate::App;
use axum::extract::{FromRequestParts, Path, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use cashier_core::{Actor, Audit, JournalId, KeyOwner};
use html::{esc, Page};
use rand::Rng;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A console session ends after this long without a request, by default.
pub const IDLE_DEFAULT: Duration = Duration::from_secs(30 * 60);
/// Journals waiting longer than this show as stuck on the reconciliation page, by default.
pub const STUCK_AFTER_DEFAULT: Duration = Duration::from_secs(15 * 60);

const SESSION_COOKIE: &str = "cashier_console";
const LOGIN_COOKIE: &str = "cashier_login";

/// Failed sign-ins one key id may have within `SIGN_IN_WINDOW`; more are refused until it passes.
const SIGN_IN_FAILURES_MAX: u32 = 5;
const SIGN_IN_WINDOW: Duration = Duration::from_secs(60);

/// Signed-in operators, by session token, and recent failed sign-ins, by key id.
#[derive(Default)]
pub struct Sessions {
    live: Mutex<HashMap<String, Session>>,
    failures: Mutex<HashMap<String, (u32, Instant)>>,
}

struct Session {
    key_id: String,
    csrf: String,
    seen: Instant,
    /// A message for the next page shown: (is it an error, the text).
    flash: Option<(bool, String)>,
}

impl Sessions {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Session>> {
        self.live.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn failures(&self) -> std::sync::MutexGuard<'_, HashMap<String, (u32, Instant)>> {
        self.failures.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Whether this key id has failed to sign in too often lately.
    fn throttled(&self, key_id: &str) -> bool {
        self.failures().get(key_id).is_some_and(|(count, since)| *count >= SIGN_IN_FAILURES_MAX && since.elapsed() < SIGN_IN_WINDOW)
    }

    fn failed(&self, key_id: &str) {
        let mut failures = self.failures();
        failures.retain(|_, (_, since)| since.elapsed() < SIGN_IN_WINDOW);
        let key: String = key_id.chars().take(64).collect();
        failures.entry(key).or_insert((0, Instant::now())).0 += 1;
    }

    fn flash(&self, token: &str, error: bool, text: String) {
        if let Some(session) = self.lock().get_mut(token) {
            session.flash = Some((error, text));
        }
    }
}

/// A random token: 32 bytes, hex.
fn token() -> String {
    let bytes: [u8; 32] = rand::rng().random();
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The value of one cookie of a request.
fn cookie<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(n, _)| *n == name)
        .map(|(_, value)| value)
}

fn set_cookie(name: &str, value: &str, path: &str, max_age: Option<Duration>) -> String {
    let age = max_age.map_or(String::new(), |a| format!("; Max-Age={}", a.as_secs()));
    format!("{name}={value}; Path={path}; HttpOnly; Secure; SameSite=Strict{age}")
}

/// Equal without telling, by its timing, where two tokens differ.
fn same(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.bytes().zip(b.bytes()).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The operator signed in to the console, from the session cookie. Without a live session the
/// request is sent to the sign-in page.
pub(crate) struct Operator {
    token: String,
    pub key_id: String,
    pub csrf: String,
    pub flash: Option<(bool, String)>,
}

impl Operator {
    /// The operator, by the name on their key, as the audit trail shows them.
    pub(crate) fn audit(&self, app: &App) -> Audit {
        let actor = app.sequencer.api_key(&self.key_id).map_or_else(|| Actor::Operator(self.key_id.clone()), |k| k.actor());
        Audit { actor, reason: String::new() }
    }

    /// The same, with the form's reason (the core refuses an empty one).
    pub(crate) fn audit_of(&self, app: &App, form: &HashMap<String, String>) -> Audit {
        Audit { reason: form.get("reason").map(|r| r.trim().to_owned()).unwrap_or_default(), ..self.audit(app) }
    }

    /// Checks a form's CSRF token against the session's: the page that refuses it, if it differs.
    pub(crate) fn refuse(&self, form: &HashMap<String, String>) -> Option<Response> {
        match form.get("csrf") {
            Some(sent) if same(sent, &self.csrf) => None,
            _ => Some(html::error_page(
                StatusCode::FORBIDDEN,
                "This form has expired or did not come from the console: go back, reload the page and try again.",
            )),
        }
    }

    /// Shows `text` on the next page and goes to `to`.
    pub(crate) fn redirect(&self, app: &App, error: bool, text: String, to: &str) -> Response {
        app.console.flash(&self.token, error, text);
        Redirect::to(to).into_response()
    }
}

impl FromRequestParts<Arc<App>> for Operator {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, app: &Arc<App>) -> Result<Operator, Response> {
        let to_login = || Redirect::to("/console/login").into_response();
        let token = cookie(&parts.headers, SESSION_COOKIE).ok_or_else(to_login)?.to_owned();
        let mut sessions = app.console.lock();
        let live = sessions.get(&token).is_some_and(|s| {
            s.seen.elapsed() < app.config.console_idle
                && app.sequencer.api_key(&s.key_id).is_some_and(|k| !k.revoked && k.owner == KeyOwner::Operator)
        });
        if !live {
            sessions.remove(&token);
            return Err(to_login());
        }
        let session = sessions.get_mut(&token).expect("a live session");
        session.seen = Instant::now();
        Ok(Operator { key_id: session.key_id.clone(), csrf: session.csrf.clone(), flash: session.flash.take(), token })
    }
}

pub fn routes(api: crate::api::Api) -> crate::api::Api {
    let pages = Router::new()
        .route("/console", get(|| async { Redirect::to("/console/pending") }))
        .route("/console/", get(|| async { Redirect::to("/console/pending") }))
        .route("/console/login", get(login_page).post(login))
        .route("/console/logout", post(logout))
        .route("/console/pending", get(pages::pending))
        .route("/console/journals", get(pages::journals))
        .route("/console/journals/{journal_id}", get(pages::journal))
        .route("/console/journals/{journal_id}/confirm/{action}", get(pages::confirm))
        .route("/console/journals/{journal_id}/act", post(act))
        .route("/console/accounts", get(pages::accounts))
        .route("/console/accounts/{account_id}", get(pages::account))
        .route("/console/events", get(pages::events))
        .route("/console/events/stream", get(event_stream))
        .route("/console/reconciliation", get(pages::reconciliation))
        .route("/console/keys", get(keys::page))
        .route("/console/correspondents", get(reference::correspondents))
        .route("/console/assets", get(reference::assets))
        .route("/console/transfers", get(transfers::page))
        .route("/console/transfers/{transfer_id}", post(transfers::settle))
        .route("/console/keys/mint", post(keys::mint))
        .route("/console/keys/{key_id}/revoke", post(keys::revoke))
        .route("/console/business_day", post(business_day));
    api.pages(pages)
}

async fn login_page(headers: HeaderMap, State(app): State<Arc<App>>) -> Response {
    if let Some(token) = cookie(&headers, SESSION_COOKIE) {
        if app.console.lock().contains_key(token) {
            return Redirect::to("/console/pending").into_response();
        }
    }
    login_form(StatusCode::OK, None)
}

/// The sign-in page with a fresh one-time token, paired with its cookie.
fn login_form(status: StatusCode, error: Option<&str>) -> Response {
    let nonce = token();
    let error = error.map_or(String::new(), |e| format!(r#"<p class="flash error" role="alert">{}</p>"#, esc(e)));
    let body = format!(
        r#"<main class="login"><h1>Cashier operations</h1>{error}
<form method="post" action="/console/login">
<input type="hidden" name="nonce" value="{nonce}">
<label>Operator key <input name="key_id" autocomplete="username" required autofocus></label>
<label>Secret <input name="secret" type="password" autocomplete="current-password" required></label>
<button type="submit">Sign in</button>
</form></main>"#
    );
    let mut response = (status, Page::bare("Sign in", body)).into_response();
    let cookie = set_cookie(LOGIN_COOKIE, &nonce, "/console/login", Some(Duration::from_secs(3_600)));
    response.headers_mut().insert(header::SET_COOKIE, cookie.parse().expect("a valid header"));
    response
}

async fn login(State(app): State<Arc<App>>, headers: HeaderMap, Form(form): Form<HashMap<String, String>>) -> Response {
    let field = |name: &str| form.get(name).map(|v| v.trim()).unwrap_or_default();
    let nonce_ok = cookie(&headers, LOGIN_COOKIE).is_some_and(|c| same(c, field("nonce")));
    if !nonce_ok {
        return login_form(StatusCode::FORBIDDEN, Some("The sign-in form expired: please sign in again."));
    }
    if app.console.throttled(field("key_id")) {
        let message = "Too many failed sign-ins with this key: wait a minute and try again.";
        return login_form(StatusCode::TOO_MANY_REQUESTS, Some(message));
    }
    let key = app.sequencer.api_key(field("key_id")).filter(|k| !k.revoked && k.owner == KeyOwner::Operator);
    let Some(key) = key.filter(|k| constant_time_eq(&sha256(field("secret")), &k.secret_sha256)) else {
        tracing::warn!(key_id = field("key_id"), "console sign-in refused");
        app.console.failed(field("key_id"));
        return login_form(StatusCode::UNAUTHORIZED, Some("That key and secret do not sign in an operator."));
    };
    app.console.failures().remove(&key.key_id);
    let session = token();
    let welcome = Some((false, format!("Signed in as {}.", key.key_id)));
    let mut sessions = app.console.lock();
    // Sessions left idle are dropped here, so that the map holds only live ones.
    sessions.retain(|_, s| s.seen.elapsed() < app.config.console_idle);
    sessions.insert(session.clone(), Session { key_id: key.key_id, csrf: token(), seen: Instant::now(), flash: welcome });
    drop(sessions);
    let mut response = Redirect::to("/console/pending").into_response();
    let headers = response.headers_mut();
    headers.append(header::SET_COOKIE, set_cookie(SESSION_COOKIE, &session, "/console", None).parse().expect("a valid header"));
    headers
        .append(header::SET_COOKIE, set_cookie(LOGIN_COOKIE, "", "/console/login", Some(Duration::ZERO)).parse().expect("a valid header"));
    response
}

async fn logout(State(app): State<Arc<App>>, operator: Operator, Form(form): Form<HashMap<String, String>>) -> Response {
    if let Some(refused) = operator.refuse(&form) {
        return refused;
    }
    app.console.lock().remove(&operator.token);
    let mut response = Redirect::to("/console/login").into_response();
    let expired = set_cookie(SESSION_COOKIE, "", "/console", Some(Duration::ZERO));
    response.headers_mut().insert(header::SET_COOKIE, expired.parse().expect("a valid header"));
    response
}

/// Where to go back to after a form: a console page, or the journal's.
fn back_to(form: &HashMap<String, String>, otherwise: String) -> String {
    let safe = |b: &&String| b.starts_with("/console/") && !b.contains("//") && b.bytes().all(|c| c.is_ascii_graphic() && c != b'\\');
    form.get("back").filter(safe).cloned().unwrap_or(otherwise)
}

/// Approve, reject, cancel, reverse, delete or correct a journal, from a form.
async fn act(
    State(app): State<Arc<App>>,
    operator: Operator,
    Path(journal_id): Path<String>,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    if let Some(refused) = operator.refuse(&form) {
        return refused;
    }
    let page = format!("/console/journals/{}", esc(&journal_id));
    let back = back_to(&form, page.clone());
    let Ok(id) = JournalId::parse(&journal_id) else {
        return operator.redirect(&app, true, "That is not a journal id.".into(), "/console/journals");
    };
    let action = form.get("action").cloned().unwrap_or_default();
    let mut fields = serde_json::Map::new();
    for name in ["reason", "amount", "qty"] {
        if let Some(value) = form.get(name).map(|v| v.trim()).filter(|v| !v.is_empty()) {
            fields.insert(name.into(), serde_json::Value::String(value.to_owned()));
        }
    }
    match crate::admin::act(&app, operator.audit(&app), id, &action, &Fields(fields)).await {
        Ok(done) => {
            let text = match (&done.awaiting, done.journals.as_slice()) {
                (Some(_), _) => format!("{action}: recorded; a second operator must confirm it (four-eyes)."),
                (None, [first, .., last]) if first.id != last.id => {
                    format!("{action}: done; journal {} is now {}, replaced by journal {}.", first.id, first.status, last.id)
                }
                (None, [journal, ..]) => format!("{action}: done; journal {} is now {}.", journal.id, journal.status),
                (None, []) => format!("{action}: nothing changed."),
            };
            operator.redirect(&app, false, text, &back)
        }
        Err(error) => operator.redirect(&app, true, format!("{action} refused: {}", error.message), &back),
    }
}

/// The live event view's stream: every journal's status changes, starting a little in the past.
async fn event_stream(State(app): State<Arc<App>>, operator: Operator) -> Response {
    let last = app.sequencer.stats().last_seq.load(std::sync::atomic::Ordering::SeqCst);
    match crate::events::console_stream(app.clone(), &operator.key_id, last.saturating_sub(pages::EVENTS_SHOWN)) {
        Ok(sse) => sse.into_response(),
        Err(error) => error.into_response(),
    }
}

/// Sandbox: ends the business day and starts the next (or the given date).
async fn business_day(State(app): State<Arc<App>>, operator: Operator, Form(form): Form<HashMap<String, String>>) -> Response {
    if let Some(refused) = operator.refuse(&form) {
        return refused;
    }
    let back = back_to(&form, "/console/reconciliation".into());
    match crate::admin::advance_day(&app, form.get("date").map(String::as_str)).await {
        Ok(outcome) => {
            let text = format!(
                "Business day {} started; {} journals changed at the turn of the day.",
                outcome.business_date,
                outcome.journals.len()
            );
            operator.redirect(&app, false, text, &back)
        }
        Err(error) => operator.redirect(&app, true, format!("The business day did not change: {}", error.message), &back),
    }
}
