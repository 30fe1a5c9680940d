//! The journal status event streams (SSE): `GET /v1/events/journals/status` (legacy: integer
//! ids) and `/v2/events/journals/status` (ULIDs; `/v2beta1` is an alias).
//!
//! With a since-cursor the stream replays the committed log, then follows live; without one it is
//! live only; reaching `until` ends it. It subscribes to committed batches before replaying and
//! skips what the replay already sent, so nothing falls between the two. Every event carries an
//! `id:` line, so `Last-Event-ID` resumes after it. A consumer that falls too far behind is told
//! so in a comment and disconnected, never silently skipped.

use crate::api::{uuid, Access, Api, Op, Reply};
use crate::auth::Caller;
use crate::body::instant;
use crate::{ApiError, App};
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::sse::{Event, KeepAlive, Sse};
use cashier_core::{CorrespondentId, EventKind, Journal, JournalId, KeyKind, Timestamp};
use cashier_store::sql::JournalEvent;
use serde_json::json;
use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::broadcast::error::RecvError;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;

/// Events read from the log per query while replaying.
pub const REPLAY_PAGE: usize = 1_000;
/// Events buffered for one consumer by default; a consumer that lets it fill falls behind the ledger.
pub const STREAM_BUFFER: usize = 1_024;
/// How long a lagging consumer's notice may wait for room before the stream just closes.
pub const LAG_NOTICE_WAIT: Duration = Duration::from_secs(1);
/// How often an idle stream says `:heartbeat`.
pub const HEARTBEAT: Duration = Duration::from_secs(15);

pub fn routes(api: Api) -> Api {
    let v1 = |state, caller, query, headers| stream(state, caller, query, headers, Version::V1);
    let v2 = |state, caller, query, headers| stream(state, caller, query, headers, Version::V2);
    let window = |op: Op, id: &'static str| {
        op.query("since", json!({"type": "string"}), "Replay from this date or RFC 3339 time, then follow.")
            .query("until", json!({"type": "string"}), "End the stream after this date or time (needs since).")
            .query("since_id", json!({"type": "string"}), id)
            .query("until_id", json!({"type": "string"}), "End the stream after this event id (needs since_id).")
            .query("id", uuid(), "Only this journal's events.")
            .header("Last-Event-ID", "Resume after this event.")
            .reply(Reply::Events)
    };
    api.section("Events", Access::Key)
        .route(
            window(
                Op::get(
                    "/v1/events/journals/status",
                    "streamJournalEventsV1",
                    "Journal status changes as server-sent events, with integer ids.",
                ),
                "Replay from this integer event id, then follow.",
            )
            .query("since_ulid", json!({"type": "string"}), "Replay from this ULID, then follow.")
            .query("until_ulid", json!({"type": "string"}), "End the stream after this ULID."),
            v1,
        )
        .route(
            window(
                Op::get(
                    "/v2/events/journals/status",
                    "streamJournalEvents",
                    "Journal status changes as server-sent events, with ULID ids.",
                ),
                "Replay from this ULID, then follow.",
            ),
            v2,
        )
        .route(
            window(
                Op::get("/v2beta1/events/journals/status", "streamJournalEventsBeta", "The same stream as /v2."),
                "Replay from this ULID, then follow.",
            ),
            v2,
        )
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Version {
    V1,
    V2,
}

/// Which events a stream sends: sequence numbers from `from_seq` on, up to `until_seq`, within
/// a time window, optionally of one journal.
#[derive(Clone, Debug, Default)]
struct Window {
    from_seq: Option<u64>,
    until_seq: Option<u64>,
    since: Option<Timestamp>,
    until: Option<Timestamp>,
    journal: Option<JournalId>,
}

impl Window {
    fn replays(&self) -> bool {
        self.from_seq.is_some() || self.since.is_some()
    }

    fn admits(&self, e: &JournalEvent, scope: Option<CorrespondentId>) -> bool {
        scope.is_none_or(|c| c == e.correspondent)
            && self.journal.is_none_or(|j| j == e.journal_id)
            && self.from_seq.is_none_or(|s| e.seq >= s)
            && self.since.is_none_or(|t| e.at >= t)
    }

    /// Past the end of the window: the stream closes.
    fn ended_by(&self, e: &JournalEvent) -> bool {
        self.until_seq.is_some_and(|u| e.seq > u) || self.until.is_some_and(|t| e.at > t)
    }
}

fn bad(reason: &'static str, message: &str) -> ApiError {
    ApiError::new(StatusCode::BAD_REQUEST, reason, message)
}

fn seq_of(version: Version, text: &str, name: &str) -> Result<u64, ApiError> {
    let parsed = match version {
        Version::V1 => text.parse::<u64>().ok(),
        Version::V2 => decode_ulid(text).map(|ulid| (ulid & ((1u128 << 80) - 1)) as u64),
    };
    parsed.ok_or_else(|| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "malformed_event_id",
            format!("{name} must be {}", if version == Version::V1 { "an integer event id" } else { "a ULID" }),
        )
    })
}

fn window(version: Version, query: &HashMap<String, String>, headers: &HeaderMap) -> Result<Window, ApiError> {
    let param = |name: &str| crate::body::param(query, name);
    let (since_id_name, until_id_name) = ("since_id", "until_id");
    let mut w = Window {
        since: param("since")?.map(|t| instant("since", t, false)).transpose()?,
        until: param("until")?.map(|t| instant("until", t, true)).transpose()?,
        ..Window::default()
    };
    w.from_seq = param(since_id_name)?.map(|t| seq_of(version, t, since_id_name)).transpose()?;
    w.until_seq = param(until_id_name)?.map(|t| seq_of(version, t, until_id_name)).transpose()?;
    if version == Version::V1 {
        if let Some(t) = param("since_ulid")? {
            w.from_seq = Some(seq_of(Version::V2, t, "since_ulid")?);
        }
        if let Some(t) = param("until_ulid")? {
            w.until_seq = Some(seq_of(Version::V2, t, "until_ulid")?);
        }
    }
    if w.until.is_some() && w.since.is_none() {
        return Err(bad("until_without_since", "until needs since"));
    }
    if w.until_seq.is_some() && w.from_seq.is_none() {
        return Err(bad("until_without_since", "until_id needs since_id"));
    }
    if w.since.is_some() && w.from_seq.is_some() {
        return Err(bad("conflicting_cursors", "since and since_id cannot be used together"));
    }
    if let Some(last) = headers.get("last-event-id").and_then(|v| v.to_str().ok()).filter(|v| !v.is_empty()) {
        // Resume after the last event the client saw.
        w.from_seq = Some(seq_of(version, last, "Last-Event-ID")? + 1);
        w.since = None;
    }
    w.journal = param("id")?.map(|t| JournalId::parse(t).map_err(|_| bad("malformed_id", "id must be a journal id"))).transpose()?;
    Ok(w)
}

async fn stream(
    State(app): State<Arc<App>>,
    caller: Caller,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
    version: Version,
) -> Result<Sse<impl tokio_stream::Stream<Item = Result<Event, Infallible>>>, ApiError> {
    let window = window(version, &query, &headers)?;
    open(app, &caller.key_id, caller.actor().scope(), window, version)
}

/// The console's live view: every journal's status changes, as `/v2` sends them, from the
/// `from_seq`-th event of the log on, for an operator's key.
pub(crate) fn console_stream(
    app: Arc<App>,
    key_id: &str,
    from_seq: u64,
) -> Result<Sse<impl tokio_stream::Stream<Item = Result<Event, Infallible>>>, ApiError> {
    open(app, key_id, None, Window { from_seq: Some(from_seq), ..Window::default() }, Version::V2)
}

fn open(
    app: Arc<App>,
    key_id: &str,
    scope: Option<CorrespondentId>,
    window: Window,
    version: Version,
) -> Result<Sse<impl tokio_stream::Stream<Item = Result<Event, Infallible>>>, ApiError> {
    let open = app.limits.open_stream(key_id).ok_or_else(|| {
        let message = format!("this key has {} event streams open, the most it may; close one first", app.limits.streams_per_key());
        ApiError::new(StatusCode::TOO_MANY_REQUESTS, "too_many_streams", message)
    })?;
    let (sender, receiver) = mpsc::channel(app.config.event_buffer.max(1));
    // Subscribe before replaying, so that nothing committed meanwhile is missed.
    let live = app.sequencer.subscribe();
    let key_id = key_id.to_owned();
    tokio::spawn(async move {
        let _ = follow(app, &key_id, window, scope, version, live, sender).await;
        // The stream's place frees once it has ended.
        drop(open);
    });
    Ok(Sse::new(ReceiverStream::new(receiver)).keep_alive(KeepAlive::new().interval(HEARTBEAT).text("heartbeat")))
}

type Sender = mpsc::Sender<Result<Event, Infallible>>;

/// Replays, then follows live, until the window ends, the client goes, or it falls behind.
async fn follow(
    app: Arc<App>,
    key_id: &str,
    window: Window,
    scope: Option<CorrespondentId>,
    version: Version,
    mut live: cashier_store::Subscription,
    out: Sender,
) -> Result<(), ()> {
    let mut stopping = app.stopping.clone();
    let mut last_sent = 0u64;
    if window.replays() {
        let mut after = window.from_seq.map_or(0, |s| s.saturating_sub(1));
        loop {
            let page = app.read_tables(move |reader| reader.journal_events(after, REPLAY_PAGE)).await.map_err(drop)?;
            for event in &page {
                after = event.seq;
                if window.ended_by(event) {
                    return Ok(());
                }
                if window.admits(event, scope) {
                    send(&out, event, version).await?;
                }
                last_sent = event.seq;
            }
            if page.len() < REPLAY_PAGE {
                break;
            }
        }
    }
    loop {
        if *stopping.borrow() {
            return Ok(());
        }
        let received = tokio::select! {
            received = live.recv() => received,
            _ = stopping.changed() => return Ok(()),
            // The client went away: the stream's place frees now, not at the next event.
            () = out.closed() => return Ok(()),
        };
        let batch = match received {
            Ok(batch) => batch,
            Err(RecvError::Lagged(dropped)) => {
                // Told if there is room within a moment; disconnected either way.
                let notice = Event::default().comment(format!(" you are reading too slowly, dropped {dropped} messages"));
                let _ = tokio::time::timeout(LAG_NOTICE_WAIT, out.send(Ok(notice))).await;
                return Ok(());
            }
            Err(RecvError::Closed) => return Ok(()),
        };
        for record in batch.iter() {
            // A revoked key's streams end with the commit that revoked it.
            if matches!(&record.event.kind, EventKind::ApiKeyRevoked { key_id: revoked } if revoked == key_id) {
                return Ok(());
            }
            if record.seq <= last_sent {
                continue;
            }
            let Some(event) = journal_event(record, version) else { continue };
            if window.ended_by(&event) {
                return Ok(());
            }
            if window.admits(&event, scope) {
                send(&out, &event, version).await?;
            }
            last_sent = record.seq;
        }
    }
}

/// A committed record as a journal event, if it is one. The replica holds the journal: it is
/// applied before the batch is published.
fn journal_event(record: &cashier_store::Record, version: Version) -> Option<JournalEvent> {
    let (journal_id, status_from, status_to) = record.event.journal_status()?;
    let refused_for = match &record.event.kind {
        EventKind::JournalStatusChanged(change) => change.refused_for,
        _ => None,
    };
    // The description and the key only v2 events carry.
    let v2 = version == Version::V2;
    let fields = |j: &Journal| {
        let (description, key) = if v2 { (j.description.to_string(), j.key().cloned()) } else { (String::new(), None) };
        (j.correspondent, j.entry_type, description, key)
    };
    let (correspondent, entry_type, description, key) = match &record.event.kind {
        EventKind::JournalCreated { journal, .. } => fields(journal),
        _ => fields(record.journal.as_deref()?),
    };
    Some(JournalEvent {
        seq: record.seq,
        ulid: record.ulid,
        at: record.event.at,
        journal_id,
        correspondent,
        entry_type,
        status_from,
        status_to,
        refused_for,
        description,
        key,
    })
}

async fn send(out: &Sender, e: &JournalEvent, version: Version) -> Result<(), ()> {
    let from = e.status_from.map_or("", |s| s.as_str());
    let (id, mut data) = match version {
        Version::V1 => (
            e.seq.to_string(),
            json!({"at": e.at.to_string(), "entry_type": e.entry_type.as_str(), "event_id": e.seq, "event_ulid": encode_ulid(e.ulid),
                   "journal_id": e.journal_id.to_string(), "status_from": from, "status_to": e.status_to.as_str()}),
        ),
        Version::V2 => (
            encode_ulid(e.ulid),
            json!({"at": e.at.to_string(), "entry_type": e.entry_type.as_str(), "event_id": encode_ulid(e.ulid),
                   "journal_id": e.journal_id.to_string(), "status_from": from, "status_to": e.status_to.as_str()}),
        ),
    };
    if version == Version::V2 {
        // What clients match events to their requests by (v2 only, as the Broker API documents).
        data["description"] = json!(e.description);
        if let Some(key) = &e.key {
            let kind = match key.kind {
                KeyKind::Single => "single",
                KeyKind::Batch | KeyKind::ReverseBatch => "batch",
            };
            data["idempotency_key"] = json!(key.key);
            data["idempotency_key_type"] = json!(kind);
        }
    }
    if let Some(code) = e.refused_for {
        // Why the booking-time check refused it: Cashier's stable reason, and its sentence.
        data["reason"] = json!(code.as_str());
        data["error_message"] = json!(code.message());
        let batch = e.key.as_ref().is_some_and(|k| k.kind != KeyKind::Single);
        if version == Version::V2 && batch {
            data["batch_error_message"] = json!(code.message());
        }
    }
    out.send(Ok(Event::default().id(id).data(data.to_string()))).await.map_err(drop)
}

const CROCKFORD: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/// A ULID's 26-character Crockford base-32 text.
pub fn encode_ulid(value: u128) -> String {
    (0..26).rev().map(|i| CROCKFORD[((value >> (i * 5)) & 31) as usize] as char).collect()
}

pub fn decode_ulid(text: &str) -> Option<u128> {
    if text.len() != 26 {
        return None;
    }
    text.bytes().try_fold(0u128, |acc, b| {
        let digit = CROCKFORD.iter().position(|&c| c == b.to_ascii_uppercase())?;
        acc.checked_mul(32).map(|v| v | digit as u128)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ulids_round_trip() {
        for value in [0u128, 1, 0x0123_4567_89ab_cdef_0123_4567_89ab_cdef, u128::MAX] {
            let text = encode_ulid(value);
            assert_eq!(text.len(), 26);
            assert_eq!(decode_ulid(&text), Some(value));
        }
        assert_eq!(decode_ulid("01F535Y1FVY8WZHE763HCNS8SZ").map(encode_ulid).as_deref(), Some("01F535Y1FVY8WZHE763HCNS8SZ"));
        assert_eq!(decode_ulid("not a ulid"), None);
    }
}
