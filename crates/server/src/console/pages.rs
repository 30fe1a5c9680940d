//! The console's pages: what they read from the ledger and the log, and how they show it.

use super::html::{self, csrf, esc, journal_link, units, Page};
use super::labels::Labels;
use super::Operator;
use crate::App;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use cashier_core::*;
use cashier_store::sql::JournalQuery;
use std::collections::HashMap;
use std::fmt::Write;
use std::sync::Arc;

/// Rows a list shows at most.
const ROWS_MAX: usize = 200;
/// Events the live view starts with, from before it opened.
pub(crate) const EVENTS_SHOWN: u64 = 50;

type Params = Query<HashMap<String, String>>;

fn param<'q>(query: &'q HashMap<String, String>, name: &str) -> Option<&'q str> {
    query.get(name).map(|v| v.trim()).filter(|v| !v.is_empty())
}

/// The accounts on both sides of these journals, labelled.
async fn labels_of(app: &App, journals: &[Journal]) -> Labels {
    Labels::of(app, journals.iter().flat_map(|j| [j.from, j.to])).await
}

/// The rows of a journal table.
fn journal_rows(journals: &[Journal], labels: &Labels, codes: &HashMap<CorrespondentId, String>) -> String {
    let mut rows = String::new();
    for j in journals {
        let _ = write!(
            rows,
            r#"<tr><td>{link}</td><td>{created}</td><td>{code}</td><td>{kind}</td><td>{from}</td><td>{to}</td><td class="num">{amount}</td><td>{status}</td><td>{description}</td></tr>"#,
            link = journal_link(j),
            created = html::time(j.created_at),
            code = esc(codes.get(&j.correspondent).map_or("", String::as_str)),
            kind = j.entry_type.as_str(),
            from = labels.link(j.from),
            to = labels.link(j.to),
            amount = esc(&units(j.asset, j.units)),
            status = html::status(j.status),
            description = esc(&j.description),
        );
    }
    rows
}

const JOURNAL_HEAD: &str = "<tr><th>Journal</th><th>Created</th><th>Correspondent</th><th>Type</th><th>From</th><th>To</th><th>Amount</th><th>Status</th><th>Description</th></tr>";

/// Every correspondent's code, by id.
pub(crate) fn codes(app: &App) -> HashMap<CorrespondentId, String> {
    app.sequencer.read(|s| s.correspondents().map(|c| (c.id, c.code.clone())).collect())
}

/// The correspondent a list is filtered to (`?correspondent=CODE`), and the filter's form field.
pub(crate) fn correspondent_filter(app: &App, query: &HashMap<String, String>) -> (Option<CorrespondentId>, String) {
    let wanted = param(query, "correspondent");
    let mut list: Vec<(String, CorrespondentId)> = app.sequencer.read(|s| s.correspondents().map(|c| (c.code.clone(), c.id)).collect());
    list.sort();
    let mut options = String::from(r#"<option value="">every</option>"#);
    let mut chosen = None;
    for (code, id) in &list {
        let selected = if wanted == Some(code.as_str()) {
            chosen = Some(*id);
            " selected"
        } else {
            ""
        };
        let _ = write!(options, r#"<option{selected}>{}</option>"#, esc(code));
    }
    (chosen, format!(r#"<label>Correspondent <select name="correspondent">{options}</select></label>"#))
}

/// Pending journals, oldest first, each with approve and reject: the true count, 200 a page
/// (`?page=2`), of one correspondent or all (`?correspondent=CODE`).
pub(crate) async fn pending(State(app): State<Arc<App>>, operator: Operator, Query(query): Params) -> Response {
    let (only, filter) = correspondent_filter(&app, &query);
    let page = param(&query, "page").and_then(|p| p.parse::<usize>().ok()).filter(|&p| p > 0).unwrap_or(1);
    let (total, journals): (usize, Vec<Journal>) = app.sequencer.read(|s| {
        let mine = |j: &&Journal| only.is_none_or(|c| j.correspondent == c);
        let all = s.waiting(JournalStatus::Pending).filter_map(|id| s.journal(id));
        match only {
            None => (s.waiting_count(JournalStatus::Pending), all.skip((page - 1) * ROWS_MAX).take(ROWS_MAX).cloned().collect()),
            Some(_) => {
                let mut total = 0;
                let mut shown = Vec::new();
                for j in all.filter(mine) {
                    if total >= (page - 1) * ROWS_MAX && shown.len() < ROWS_MAX {
                        shown.push(j.clone());
                    }
                    total += 1;
                }
                (total, shown)
            }
        }
    });
    let labels = labels_of(&app, &journals).await;
    let codes = codes(&app);
    let pages = total.div_ceil(ROWS_MAX).max(1);
    let mut body = format!(
        r#"<form class="filters" method="get" action="/console/pending">{filter}<button class="primary" type="submit">Show</button></form>"#
    );
    if journals.is_empty() {
        body.push_str(r#"<p class="muted" id="empty">No journal is waiting for approval here.</p>"#);
    } else {
        let first = (page - 1) * ROWS_MAX + 1;
        let _ = write!(
            body,
            r#"<p class="muted" id="showing">{first} to {last} of {total}, oldest first. Journals held by a limit or a fixture; approving sends a journal on to clearing; every action needs a reason.</p>
<table id="pending"><tr><th>Journal</th><th>Created</th><th>Correspondent</th><th>From</th><th>To</th><th>Amount</th><th>Held by</th><th>Description</th><th>Decision</th></tr>"#,
            last = first + journals.len() - 1,
        );
        let back = esc(&format!(
            "/console/pending?page={page}{}",
            param(&query, "correspondent").map_or(String::new(), |c| format!("&correspondent={c}"))
        ));
        for j in &journals {
            let waiting = j.request().map_or(String::new(), |r| {
                format!(
                    r#"<div class="muted">{} asked by {}: confirm with the same action</div>"#,
                    r.action,
                    esc(&r.audit.actor.to_string())
                )
            });
            let _ = write!(
                body,
                r#"<tr data-journal="{id}"><td>{link}</td><td>{created}</td><td>{code}</td><td>{from}</td><td>{to}</td><td class="num">{amount}</td><td>{hold}</td><td>{description}</td>
<td><form class="inline" method="post" action="/console/journals/{id}/act">{csrf}<input type="hidden" name="back" value="{back}">
<input name="reason" placeholder="Reason" aria-label="Reason" size="18" required><button class="primary" name="action" value="approve">Approve</button><button class="danger" name="action" value="reject">Reject</button></form>{waiting}</td></tr>"#,
                id = j.id,
                link = journal_link(j),
                created = html::time(j.created_at),
                code = esc(codes.get(&j.correspondent).map_or("", String::as_str)),
                from = labels.link(j.from),
                to = labels.link(j.to),
                amount = esc(&units(j.asset, j.units)),
                hold = j.hold.as_str(),
                description = esc(&j.description),
                csrf = csrf(&operator),
            );
        }
        body.push_str("</table>");
    }
    if pages > 1 {
        let only = param(&query, "correspondent").map_or(String::new(), |c| format!("&amp;correspondent={}", esc(c)));
        body.push_str(r#"<p id="pages">"#);
        if page > 1 {
            let _ = write!(body, r#"<a rel="prev" href="/console/pending?page={}{only}">← Newer</a> &nbsp; "#, page - 1);
        }
        let _ = write!(body, "Page {page} of {pages}");
        if page < pages {
            let _ = write!(body, r#" &nbsp; <a rel="next" href="/console/pending?page={}{only}">Older →</a>"#, page + 1);
        }
        body.push_str("</p>");
    }
    let asked = crate::four_eyes::waiting(&app);
    if !asked.is_empty() {
        let _ = write!(
            body,
            r#"<h2>Awaiting a second operator</h2><p class="muted">Four-eyes requests on accounts, transfers, keys and prices: a differently named operator confirms one by making the same request.</p>
<table id="confirmations"><tr><th>Asked</th><th>By</th><th>What</th><th>Worth</th><th>Reason</th></tr>"#
        );
        for c in asked.iter().take(ROWS_MAX) {
            let worth = if c.worth == cashier_core::four_eyes::UNBOUNDED {
                "no bound".to_owned()
            } else {
                units(Asset::Cash(Currency::USD), c.worth)
            };
            let _ = write!(
                body,
                r#"<tr><td>{at}</td><td>{by}</td><td>{what}</td><td class="num">{worth}</td><td>{reason}</td></tr>"#,
                at = html::time(c.at),
                by = esc(&c.audit.actor.to_string()),
                what = esc(&c.detail),
                worth = esc(&worth),
                reason = esc(&c.audit.reason),
            );
        }
        body.push_str("</table>");
    }
    Page::new(&app, &operator, "Pending", &format!("Pending approval ({total})"), body).into_response()
}

/// Journal search: by status, type, account (either side), creation dates and text.
pub(crate) async fn journals(State(app): State<Arc<App>>, operator: Operator, Query(query): Params) -> Response {
    let status = param(&query, "status").and_then(JournalStatus::parse);
    let entry_type = param(&query, "entry_type").and_then(EntryType::parse);
    let account = param(&query, "account").map(AccountId::parse);
    let after = param(&query, "after").map(Date::parse);
    let before = param(&query, "before").map(Date::parse);
    let text = param(&query, "q").map(str::to_lowercase);
    let mut problems = Vec::new();
    if matches!(account, Some(Err(_))) {
        problems.push("account must be an account id");
    }
    if matches!(after, Some(Err(_))) || matches!(before, Some(Err(_))) {
        problems.push("dates must be YYYY-MM-DD");
    }
    let (account, after, before) = (account.and_then(Result::ok), after.and_then(Result::ok), before.and_then(Result::ok));
    let (only, correspondent) = correspondent_filter(&app, &query);
    let found: Vec<Journal> = if problems.is_empty() {
        let by_id = text.as_deref().and_then(|t| JournalId::parse(t).ok());
        let query = JournalQuery {
            correspondent: only,
            status,
            entry_type,
            account,
            created_from: after.map(crate::journals::day_start),
            created_before: before.map(|d| crate::journals::day_start(Date(d.0 + 1))),
            text: text.filter(|_| by_id.is_none()),
            recent: Some(app.sequencer.recent_journals()),
            ..JournalQuery::default()
        };
        let read = app
            .read_tables(move |r| match by_id {
                // A whole id is looked up; the other filters still apply to what it finds.
                Some(id) => Ok(r.journal(id)?.into_iter().collect::<Vec<_>>()),
                None => r.journals(&query, ROWS_MAX),
            })
            .await;
        match read {
            Ok(found) => found
                .into_iter()
                .filter(|j| {
                    status.is_none_or(|x| j.status == x)
                        && only.is_none_or(|c| j.correspondent == c)
                        && entry_type.is_none_or(|t| j.entry_type == t)
                        && account.is_none_or(|a| j.from == a || j.to == a)
                })
                .collect(),
            Err(error) => return html::error_page(error.status, &error.message),
        }
    } else {
        Vec::new()
    };
    let value = |name: &str| esc(param(&query, name).unwrap_or_default());
    let mut options = String::from(r#"<option value="">any</option>"#);
    for s in JournalStatus::ALL {
        let selected = if Some(*s) == status { " selected" } else { "" };
        let _ = write!(options, r#"<option{selected}>{s}</option>"#);
    }
    let mut types = String::from(r#"<option value="">any</option>"#);
    for t in [EntryType::Cash, EntryType::Security] {
        let selected = if Some(t) == entry_type { " selected" } else { "" };
        let _ = write!(types, r#"<option{selected}>{}</option>"#, t.as_str());
    }
    let mut body = format!(
        r#"<form class="filters" method="get" action="/console/journals" id="journal-search">
<label>Status <select name="status">{options}</select></label>
<label>Type <select name="entry_type">{types}</select></label>
{correspondent}
<label>Account <input name="account" value="{account}" size="36" placeholder="either side"></label>
<label>Created from <input name="after" value="{after}" placeholder="YYYY-MM-DD" size="10"></label>
<label>to <input name="before" value="{before}" placeholder="YYYY-MM-DD" size="10"></label>
<label>Text or id <input name="q" value="{q}" size="18"></label>
<button class="primary" type="submit">Search</button></form>"#,
        account = value("account"),
        after = value("after"),
        before = value("before"),
        q = value("q"),
    );
    if !problems.is_empty() {
        let _ = write!(body, r#"<p class="flash error" role="alert">{}.</p>"#, esc(&problems.join("; ")));
    }
    let shown =
        if found.len() == ROWS_MAX { format!("the newest {ROWS_MAX}; narrow the search for others") } else { found.len().to_string() };
    let rows = journal_rows(&found, &labels_of(&app, &found).await, &codes(&app));
    let _ = write!(body, r#"<p class="muted">Newest first: {shown}.</p><table id="results">{JOURNAL_HEAD}{rows}</table>"#);
    Page::new(&app, &operator, "Journals", "Journals", body).into_response()
}

/// What an operator may do to a journal in its status.
fn actions_for(j: &Journal) -> &'static [OpsAction] {
    match j.status {
        JournalStatus::Pending => &[OpsAction::Approve, OpsAction::Reject, OpsAction::Cancel],
        JournalStatus::Queued => &[OpsAction::Cancel],
        s if s.is_booked() => &[OpsAction::Reverse, OpsAction::Correct, OpsAction::Delete],
        _ => &[],
    }
}

/// One journal: its fields, its status timeline with who and why, its postings, and actions.
pub(crate) async fn journal(State(app): State<Arc<App>>, operator: Operator, Path(journal_id): Path<String>) -> Response {
    let Ok(id) = JournalId::parse(&journal_id) else {
        return not_found(&app, &operator, "That is not a journal id.");
    };
    let j = match app.read_tables(move |r| r.journal(id)).await {
        Ok(Some(j)) => j,
        Ok(None) => return not_found(&app, &operator, "No journal has this id."),
        Err(error) => return html::error_page(error.status, &error.message),
    };
    let history = match app.read_tables(move |r| r.journal_history(id)).await {
        Ok(history) => history,
        Err(error) => return html::error_page(error.status, &error.message),
    };
    // Every account the page names: the journal's two, and the books of its postings.
    let booked = history.iter().filter_map(|h| h.movement).flat_map(|m| [m.from, m.to]).filter_map(|b| match b {
        Book::Account(a) => Some(a),
        _ => None,
    });
    let labels = Labels::of(&app, [j.from, j.to].into_iter().chain(booked)).await;
    let mut body = String::new();
    let link = |label: &str, other: Option<JournalId>| {
        other.map_or(String::new(), |o| format!(r#"<dt>{label}</dt><dd><a class="id" href="/console/journals/{o}">{o}</a></dd>"#))
    };
    let _ = write!(
        body,
        r#"<dl id="journal"><dt>Status</dt><dd id="journal-status">{status}</dd><dt>Type</dt><dd>{kind}</dd><dt>Amount</dt><dd>{amount}</dd>
<dt>From</dt><dd>{from}</dd><dt>To</dt><dd>{to}</dd><dt>Description</dt><dd>{description}</dd><dt>Created</dt><dd>{created}</dd>
<dt>Updated</dt><dd>{updated}</dd><dt>Booked on</dt><dd>{booked}</dd><dt>Held by</dt><dd>{hold}</dd>{corrects}{corrected_by}</dl>"#,
        status = html::status(j.status),
        kind = j.entry_type.as_str(),
        amount = esc(&units(j.asset, j.units)),
        from = labels.link(j.from),
        to = labels.link(j.to),
        description = esc(&j.description),
        created = html::time(j.created_at),
        updated = html::time(j.updated_at),
        booked = j.booked_on.map_or("-".into(), |d| d.to_string()),
        hold = j.hold.as_str(),
        corrects = link("Corrects", j.corrects()),
        corrected_by = link("Corrected by", j.corrected_by()),
    );
    if let Some(r) = j.request() {
        let units_text = r.units.map_or(String::new(), |u| format!(" to {}", esc(&units(j.asset, u))));
        let _ = write!(
            body,
            r#"<p class="flash" id="four-eyes">Four-eyes: <strong>{action}</strong>{units_text} asked by {who} at {at} ({reason}). A different operator confirms it by taking the same action.</p>"#,
            action = r.action,
            who = esc(&r.audit.actor.to_string()),
            at = html::time(r.at),
            reason = esc(&r.audit.reason),
        );
    }
    let actions = actions_for(&j);
    if !actions.is_empty() {
        body.push_str(r#"<h2>Actions</h2><p id="actions">"#);
        for action in actions {
            let _ =
                write!(body, r#"<a href="/console/journals/{id}/confirm/{action}" data-action="{action}">{action}</a> &nbsp; "#, id = j.id);
        }
        body.push_str("</p>");
    }
    body.push_str(
        r#"<h2>Timeline</h2><table id="timeline"><tr><th>#</th><th>At</th><th>Event</th><th>Status</th><th>Who and why</th></tr>"#,
    );
    for h in &history {
        let change = match (&h.status_from, &h.status_to) {
            (Some(from), Some(to)) => format!("{} → {}", esc(from), esc(to)),
            (None, Some(to)) => esc(to),
            _ => String::new(),
        };
        let _ = write!(
            body,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{change}</td><td>{}</td></tr>",
            h.seq,
            html::time(h.at),
            esc(&h.kind),
            who_and_why(h.detail.as_deref())
        );
    }
    body.push_str("</table>");
    body.push_str(r#"<h2>Postings</h2><table id="postings"><tr><th>#</th><th>At</th><th>Book</th><th>Debit</th><th>Credit</th></tr>"#);
    let mut any = false;
    for h in &history {
        let Some(m) = h.movement else { continue };
        any = true;
        for (book, debit, credit) in [(m.from, units(m.asset, m.units), String::new()), (m.to, String::new(), units(m.asset, m.units))] {
            let book = match book {
                Book::Account(a) => labels.link(a),
                other => other.to_string(),
            };
            let _ = write!(
                body,
                r#"<tr><td>{}</td><td>{}</td><td>{book}</td><td class="num">{}</td><td class="num">{}</td></tr>"#,
                h.seq,
                html::time(h.at),
                esc(&debit),
                esc(&credit)
            );
        }
    }
    if !any {
        body.push_str(r#"<tr><td colspan="5" class="muted">Nothing booked: no postings.</td></tr>"#);
    }
    body.push_str("</table>");
    Page::new(&app, &operator, "Journals", &format!("Journal {}", j.id), body).into_response()
}

/// Who did it and why, from an event's audit detail.
fn who_and_why(detail: Option<&str>) -> String {
    let Some(v) = detail.and_then(|d| serde_json::from_str::<serde_json::Value>(d).ok()) else { return String::new() };
    if let Some(code) = v["refused_for"].as_str().and_then(cashier_core::Code::parse) {
        return format!("refused: {} ({})", esc(code.message()), code.as_str());
    }
    let audit = if v.get("audit").is_some() { &v["audit"] } else { &v };
    let actor = match &audit["actor"] {
        serde_json::Value::String(s) => s.clone(),
        a if a["operator"].is_string() => format!("operator {}", a["operator"].as_str().unwrap_or_default()),
        a if a["correspondent"].is_string() => format!("correspondent {}", a["correspondent"].as_str().unwrap_or_default()),
        _ => return String::new(),
    };
    let reason = audit["reason"].as_str().filter(|r| !r.is_empty()).map_or(String::new(), |r| format!(": {}", esc(r)));
    let asked = v["action"].as_str().map_or(String::new(), |a| format!("asks to {} — ", esc(a)));
    format!("{asked}{}{reason}", esc(&actor))
}

/// What each action does, in words, for its confirmation page.
fn explain(action: OpsAction, j: &Journal) -> String {
    let amount = esc(&units(j.asset, j.units));
    match action {
        OpsAction::Approve => format!("Approve: the journal of {amount} goes on to clearing."),
        OpsAction::Reject => format!("Reject: the journal of {amount} ends rejected; nothing moves."),
        OpsAction::Cancel => format!("Cancel: the journal of {amount} ends canceled; nothing moves."),
        OpsAction::Reverse => format!("Reverse: {amount} moves back from {} to {}; the journal ends canceled.", j.to, j.from),
        OpsAction::Delete => format!("Delete: the booking of {amount} is undone and the journal ends deleted."),
        OpsAction::Correct => format!(
            "Correct: the journal of {amount} is replaced by a new executed journal for the amount below; only the difference moves."
        ),
    }
}

/// Confirmation before an action, with the reason (and for a correction the new amount).
pub(crate) async fn confirm(
    State(app): State<Arc<App>>,
    operator: Operator,
    Path((journal_id, action)): Path<(String, String)>,
) -> Response {
    let (Ok(id), Some(action)) = (JournalId::parse(&journal_id), OpsAction::parse(&action)) else {
        return not_found(&app, &operator, "No such journal action.");
    };
    let j = match app.read_tables(move |r| r.journal(id)).await {
        Ok(Some(j)) => j,
        Ok(None) => return not_found(&app, &operator, "No journal has this id."),
        Err(error) => return html::error_page(error.status, &error.message),
    };
    let correction = match (action, j.asset) {
        (OpsAction::Correct, Asset::Cash(c)) => {
            format!(r#"<label>New amount ({c}) <input name="amount" required inputmode="decimal"></label>"#)
        }
        (OpsAction::Correct, Asset::Security(s)) => {
            format!(r#"<label>New qty ({s}) <input name="qty" required inputmode="decimal"></label>"#)
        }
        _ => String::new(),
    };
    let danger = if matches!(action, OpsAction::Approve) { "primary" } else { "danger" };
    let labels = Labels::of(&app, [j.from, j.to]).await;
    let body = format!(
        r#"<p>{explain}</p><p>Journal {link}: {status}, {amount}, from {from} to {to}.</p>
<form class="box" method="post" action="/console/journals/{id}/act" id="confirm">{csrf}<input type="hidden" name="action" value="{action}">
<p><label>Reason <input name="reason" size="50" required></label></p><p>{correction}</p>
<p><button class="{danger}" type="submit">Confirm {action}</button> <a href="/console/journals/{id}">Back</a></p></form>"#,
        explain = explain(action, &j),
        link = journal_link(&j),
        status = html::status(j.status),
        amount = esc(&units(j.asset, j.units)),
        from = labels.link(j.from),
        to = labels.link(j.to),
        id = j.id,
        csrf = csrf(&operator),
    );
    Page::new(&app, &operator, "Journals", &format!("Confirm: {action}"), body).into_response()
}

/// Accounts, newest first, found by number, id or email.
pub(crate) async fn accounts(State(app): State<Arc<App>>, operator: Operator, Query(query): Params) -> Response {
    let text = param(&query, "q").map(str::to_lowercase);
    let (only, correspondent) = correspondent_filter(&app, &query);
    let rows: Vec<(Account, String, i64)> = app.sequencer.read(|s| {
        let by_email: Vec<AccountId> =
            text.as_ref().map(|t| s.correspondents().filter_map(|c| s.account_by_email(c.id, t)).collect()).unwrap_or_default();
        let mut found: Vec<&Account> = s
            .accounts()
            .filter(|a| only.is_none_or(|c| a.correspondent == c))
            .filter(|a| {
                text.as_ref().is_none_or(|t| {
                    a.account_number.to_string().contains(t.as_str())
                        || a.id.to_string().starts_with(t.as_str())
                        || by_email.contains(&a.id)
                })
            })
            .collect();
        found.sort_by_key(|a| std::cmp::Reverse((a.created_at, a.account_number)));
        found
            .into_iter()
            .take(ROWS_MAX)
            .map(|a| {
                let code = s.correspondent(a.correspondent).map_or(String::new(), |c| c.code.clone());
                (a.clone(), code, s.cash(a.id, a.currency).cash)
            })
            .collect()
    });
    let labels = Labels::of(&app, rows.iter().map(|(a, _, _)| a.id)).await;
    let mut body = format!(
        r#"<form class="filters" method="get" action="/console/accounts"><label>Number, id or email <input name="q" value="{}" size="36"></label>{correspondent}<button class="primary" type="submit">Find</button></form>
<table id="accounts"><tr><th>Account</th><th>Correspondent</th><th>Opened</th><th>Status</th><th>Cash</th></tr>"#,
        esc(param(&query, "q").unwrap_or_default())
    );
    for (a, code, cash) in &rows {
        let _ = write!(
            body,
            r#"<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td class="num">{}</td></tr>"#,
            labels.link(a.id),
            esc(code),
            html::time(a.created_at),
            a.status.as_str(),
            esc(&units(Asset::Cash(a.currency), *cash))
        );
    }
    body.push_str("</table>");
    Page::new(&app, &operator, "Accounts", "Accounts", body).into_response()
}

/// One account: balances, positions, transfers and journal activity.
pub(crate) async fn account(State(app): State<Arc<App>>, operator: Operator, Path(account_id): Path<String>) -> Response {
    let Ok(id) = AccountId::parse(&account_id) else {
        return not_found(&app, &operator, "That is not an account id.");
    };
    type Seen = (Account, String, Vec<(Asset, Balance)>, Vec<(Position, Option<i64>)>, Vec<Transfer>, Vec<Journal>);
    let seen: Option<Seen> = app.sequencer.read(|s| {
        let a = s.account(id)?.clone();
        let code = s.correspondent(a.correspondent).map_or(String::new(), |c| c.code.clone());
        let holdings = s.holdings(Book::Account(id)).to_vec();
        let positions = s.positions(id).into_iter().map(|p| (p, s.asset(p.symbol).and_then(|x| x.price))).collect();
        let mut transfers: Vec<Transfer> = s.transfers().filter(|t| t.account == id).cloned().collect();
        transfers.sort_by_key(|t| std::cmp::Reverse(t.created_at));
        Some((a, code, holdings, positions, transfers, Vec::new()))
    });
    let Some((a, code, holdings, positions, transfers, _)) = seen else {
        return not_found(&app, &operator, "No account has this id.");
    };
    let of_account = JournalQuery { account: Some(id), recent: Some(app.sequencer.recent_journals()), ..JournalQuery::default() };
    let activity = match app.read_tables(move |r| r.journals(&of_account, ROWS_MAX)).await {
        Ok(activity) => activity,
        Err(error) => return html::error_page(error.status, &error.message),
    };
    let labels = Labels::of(&app, activity.iter().flat_map(|j| [j.from, j.to]).chain([a.id])).await;
    let (name, email) = labels.name_and_email(a.id);
    let mut body = format!(
        r#"<dl><dt>Account</dt><dd class="id">{}</dd><dt>Number</dt><dd>{}</dd><dt>Name</dt><dd id="account-name">{}</dd><dt>Email</dt><dd id="account-email">{}</dd><dt>Correspondent</dt><dd>{}</dd><dt>Kind</dt><dd>{}</dd><dt>Status</dt><dd>{}</dd><dt>Blocks</dt><dd>{}</dd><dt>Opened</dt><dd>{}</dd></dl>"#,
        a.id,
        a.account_number,
        esc(&name),
        esc(&email),
        esc(&code),
        a.kind.as_str(),
        a.status.as_str(),
        blocks(&a.blocks),
        html::time(a.created_at)
    );
    body.push_str(r#"<h2>Balances</h2><table id="balances"><tr><th>Asset</th><th>Posted</th><th>Held</th><th>Available</th></tr>"#);
    for (asset, b) in &holdings {
        let _ = write!(
            body,
            r#"<tr data-asset="{asset}"><td>{asset}</td><td class="num posted">{}</td><td class="num">{}</td><td class="num">{}</td></tr>"#,
            esc(&units(*asset, b.posted)),
            esc(&units(*asset, b.held)),
            esc(&units(*asset, b.available()))
        );
    }
    if holdings.is_empty() {
        body.push_str(r#"<tr><td colspan="4" class="muted">Nothing held.</td></tr>"#);
    }
    body.push_str("</table>");
    body.push_str(r#"<h2>Positions</h2><table id="positions"><tr><th>Symbol</th><th>Qty</th><th>Cost basis</th><th>Average entry</th><th>Market value</th></tr>"#);
    for (p, price) in &positions {
        let usd = |nanos: i128| format!("{} USD", decimal::format(i64::try_from(nanos).unwrap_or(i64::MAX), money::PRICE_SCALE));
        let market = price.map_or("no price".into(), |price| usd(money::cost_nanos(p.qty, price)));
        let _ = write!(
            body,
            r#"<tr><td>{}</td><td class="num">{}</td><td class="num">{}</td><td class="num">{}</td><td class="num">{}</td></tr>"#,
            p.symbol,
            money::format_qty(p.qty),
            usd(p.cost_basis_nanos),
            usd(i128::from(p.avg_entry_price)),
            market
        );
    }
    if positions.is_empty() {
        body.push_str(r#"<tr><td colspan="5" class="muted">No positions.</td></tr>"#);
    }
    body.push_str("</table>");
    if !transfers.is_empty() {
        body.push_str(r#"<h2>Transfers</h2><table id="transfers"><tr><th>Created</th><th>Direction</th><th>Kind</th><th>Amount</th><th>Status</th></tr>"#);
        for t in transfers.iter().take(ROWS_MAX) {
            let _ = write!(
                body,
                r#"<tr><td>{}</td><td>{}</td><td>{}</td><td class="num">{}</td><td>{}</td></tr>"#,
                html::time(t.created_at),
                t.direction.as_str(),
                t.kind.as_str(),
                esc(&units(Asset::Cash(t.currency), t.amount)),
                t.status.as_str()
            );
        }
        body.push_str("</table>");
    }
    let _ = write!(
        body,
        r#"<h2>Journal activity</h2><table id="activity">{JOURNAL_HEAD}{}</table>"#,
        journal_rows(&activity, &labels, &codes(&app))
    );
    let title = if name.is_empty() { format!("Account {}", a.account_number) } else { format!("Account {}: {name}", a.account_number) };
    Page::new(&app, &operator, "Accounts", &title, body).into_response()
}

fn blocks(b: &Blocks) -> String {
    let set: Vec<&str> = [(b.account_blocked, "account"), (b.transfers_blocked, "transfers"), (b.trading_blocked, "trading")]
        .iter()
        .filter(|(on, _)| *on)
        .map(|(_, name)| *name)
        .collect();
    if set.is_empty() {
        "none".into()
    } else {
        set.join(", ")
    }
}

/// The live event stream: journal status changes as they commit.
pub(crate) async fn events(State(app): State<Arc<App>>, operator: Operator) -> Response {
    let body = format!(
        r#"<p class="muted">Journal status changes as the ledger commits them, newest on top (the last {EVENTS_SHOWN} events of the log first). <span id="stream-state">Connecting…</span></p>
<table id="events"><thead><tr><th>At</th><th>Journal</th><th>Type</th><th>Change</th></tr></thead><tbody></tbody></table>
<script>
(function () {{
  var rows = document.querySelector('#events tbody'), state = document.getElementById('stream-state');
  var source = new EventSource('/console/events/stream');
  source.onopen = function () {{ state.textContent = 'Live.'; }};
  source.onerror = function () {{ state.textContent = 'Disconnected; reconnecting…'; }};
  source.onmessage = function (message) {{
    var e = JSON.parse(message.data), row = document.createElement('tr'), link = document.createElement('a');
    link.href = '/console/journals/' + e.journal_id; link.textContent = e.journal_id; link.className = 'id';
    var cells = [e.at, link, e.entry_type, (e.status_from ? e.status_from + ' → ' : '') + e.status_to];
    cells.forEach(function (c) {{ var td = document.createElement('td'); if (typeof c === 'string') td.textContent = c; else td.appendChild(c); row.appendChild(td); }});
    rows.insertBefore(row, rows.firstChild);
    while (rows.children.length > 500) rows.removeChild(rows.lastChild);
  }};
}})();
</script>"#
    );
    Page::new(&app, &operator, "Live events", "Live events", body).into_response()
}

/// Books per asset, the ledger's invariants, stored balances against their postings, and
/// journals waiting longer than the threshold (`older_than_minutes`, by default the config's).
pub(crate) async fn reconciliation(State(app): State<Arc<App>>, operator: Operator, Query(query): Params) -> Response {
    let minutes = param(&query, "older_than_minutes").and_then(|m| m.parse::<u64>().ok()).unwrap_or(app.config.stuck_after.as_secs() / 60);
    let check = match app.read_tables(|tables| tables.balances_against_postings()).await {
        Ok(check) => check,
        Err(error) => return html::error_page(error.status, &error.message),
    };
    let full = match app.read_tables(|tables| tables.full_check()).await {
        Ok(full) => full,
        Err(error) => return html::error_page(error.status, &error.message),
    };
    let now = Timestamp(std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_micros() as i64));
    // At most about 19 years back: far enough for any question, short of overflowing.
    let cutoff = Timestamp(now.0.saturating_sub(minutes.min(10_000_000) as i64 * 60_000_000));
    let (totals, invariants, stuck) = app.sequencer.read(|s| {
        let totals = crate::admin::books_per_asset(s);
        let stuck: Vec<Journal> = crate::admin::waiting_journals(s).filter(|j| j.updated_at <= cutoff).take(ROWS_MAX).cloned().collect();
        (totals, s.check_invariants(), stuck)
    });
    let mut body =
        String::from(r#"<h2>Books per asset</h2><table id="books"><tr><th>Asset</th><th>Sum of all balances</th><th></th></tr>"#);
    for (asset, total) in &totals {
        let verdict = if *total == 0 { r#"<span class="ok">balanced</span>"# } else { r#"<span class="bad">OUT OF BALANCE</span>"# };
        let _ = write!(body, r#"<tr><td>{asset}</td><td class="num">{total}</td><td>{verdict}</td></tr>"#);
    }
    body.push_str("</table>");
    let _ = write!(
        body,
        r#"<h2>Checks</h2><dl><dt>Invariants</dt><dd id="invariants">{}</dd><dt>Balances against postings</dt><dd id="postings-check">{}</dd></dl>"#,
        match &invariants {
            Ok(()) => r#"<span class="ok">hold</span>"#.to_owned(),
            Err(broken) => format!(r#"<span class="bad">{}</span>"#, esc(broken)),
        },
        if check.mismatches.is_empty() {
            format!(r#"<span class="ok">{} balances equal the sum of their postings</span>"#, check.balances)
        } else {
            let list: Vec<String> = check
                .mismatches
                .iter()
                .map(|(book, asset, posted, sum)| format!("{book} {asset}: balance {posted}, postings {sum}"))
                .collect();
            format!(r#"<span class="bad">{} of {} differ: {}</span>"#, check.mismatches.len(), check.balances, esc(&list.join("; ")))
        }
    );
    let _ = write!(
        body,
        r#"<dl><dt>The whole log</dt><dd id="full-check">{}</dd></dl>"#,
        if full.problems.is_empty() {
            format!(
                r#"<span class="ok">{} events, {} journals, {} balances, the checkpoint at event {} ({} rows) and the index by account ({} journals) reconcile</span>"#,
                full.events, full.journals, full.balances, full.checkpoint_seq, full.checkpoint_rows, full.indexed
            )
        } else {
            format!(r#"<span class="bad">{}</span>"#, esc(&full.problems.join("; ")))
        }
    );
    let _ = write!(
        body,
        r#"<h2>Stuck journals</h2><form class="filters" method="get" action="/console/reconciliation"><label>Waiting longer than (minutes) <input name="older_than_minutes" value="{minutes}" size="6"></label><button type="submit">Show</button></form>
<p class="muted">{} journal(s) in pending, queued or sent_to_clearing for longer than {minutes} minutes.</p><table id="stuck">{JOURNAL_HEAD}{}</table>"#,
        stuck.len(),
        journal_rows(&stuck, &labels_of(&app, &stuck).await, &codes(&app))
    );
    if app.config.sandbox {
        let next = app.config.calendar.after(app.sequencer.read(|s| s.business_date()));
        let _ = write!(
            body,
            r#"<h2>Business day (sandbox)</h2><form class="inline" method="post" action="/console/business_day" id="advance-day">{}<input type="hidden" name="back" value="/console/reconciliation">
<label>Start <input name="date" placeholder="{next}" size="10"></label><button class="primary" type="submit">End the day and start the next</button></form>
<p class="muted">Ending the day rejects fixture-held journals; starting the next resets daily limits and releases over-limit journals where configured. Weekends and holidays are skipped.</p>"#,
            csrf(&operator)
        );
    }
    Page::new(&app, &operator, "Reconciliation", "Reconciliation", body).into_response()
}

fn not_found(app: &App, operator: &Operator, message: &str) -> Response {
    let body = format!(r#"<p class="flash error" role="alert">{}</p>"#, esc(message));
    (StatusCode::NOT_FOUND, Page::new(app, operator, "", "Not found", body)).into_response()
}
