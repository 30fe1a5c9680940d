//! `GET /v1/accounts/activities` (and `/{activity_type}`): the non-trade activities journals
//! leave on the books, one per side of each booked journal, paged by `page_token`.

use crate::api::{list_of, uuid, Access, Api, Op};
use crate::auth::Caller;
use crate::body::{bad_request, instant};
use crate::{ApiError, App};
use axum::extract::{Path, Query, State};
use axum::Json;
use cashier_core::*;
use cashier_store::sql::{Direction, JournalQuery, LogReader};
use cashier_store::StoreError;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::Arc;

/// Activities in one page, at most (and by default).
pub const PAGE_SIZE_MAX: usize = 100;

pub fn routes(api: Api) -> Api {
    let paged = |op: Op| {
        op.query("account_id", uuid(), "Only this account's.")
            .query("date", json!({"type": "string", "format": "date"}), "Only this day's; not with after or until.")
            .query("after", json!({"type": "string"}), "On or after this date or RFC 3339 time.")
            .query("until", json!({"type": "string"}), "On or before this date or RFC 3339 time.")
            .query("direction", json!({"type": "string", "enum": ["asc", "desc"]}), "desc (newest first) by default.")
            .query("page_size", json!({"type": "integer", "minimum": 1}), "At most this many, 100 at most.")
            .query("page_token", json!({"type": "string"}), "The id of the last activity of the previous page.")
            .json(list_of("Activity"))
    };
    api.section("Activities", Access::Key)
        .route(
            paged(Op::get(
                "/v1/accounts/activities",
                "listActivities",
                "Journal activities (JNLC, JNLS), one per side of each booked journal.",
            ))
            .query("activity_types", json!({"type": "string"}), "Comma-separated: JNLC, JNLS."),
            list_activities,
        )
        .route(
            paged(Op::get("/v1/accounts/activities/{activity_type}", "listActivitiesOfType", "Activities of one type."))
                .path_param("activity_type", json!({"type": "string", "enum": ["JNLC", "JNLS"]})),
            list_activities_of_type,
        )
}

/// One side of a booked journal, as an activity.
struct Activity {
    /// `<yyyymmddhhmmssmmm>::<uuid>`, as the Broker API's: the time of the booking, and a uuid of the
    /// activity's own, made from the journal's id and the side (`activity_uuid`), so it is the
    /// same on every read. Unique, and in time order.
    id: String,
    account: AccountId,
    value: Value,
}

/// The activity status of a journal that reached the books.
fn status_of(j: &Journal) -> Option<&'static str> {
    match j.status {
        JournalStatus::Executed | JournalStatus::ActivityCreated => Some("executed"),
        JournalStatus::Correct => Some("correct"),
        JournalStatus::Canceled | JournalStatus::Deleted if j.booked_on.is_some() => Some("canceled"),
        _ => None,
    }
}

/// The millisecond an activity id's stamp names (its first 17 digits, `yyyymmddhhmmssmmm`).
fn stamp_of(token: &str) -> Result<Timestamp, ApiError> {
    let invalid = || bad_request("invalid_page_token", "page_token must be the id of an activity".into());
    let digits = token.get(..17).filter(|d| d.bytes().all(|b| b.is_ascii_digit())).ok_or_else(invalid)?;
    let text = format!(
        "{}-{}-{}T{}:{}:{}.{}Z",
        &digits[..4],
        &digits[4..6],
        &digits[6..8],
        &digits[8..10],
        &digits[10..12],
        &digits[12..14],
        &digits[14..17]
    );
    Timestamp::parse(&text).map_err(|_| invalid())
}

/// The booked journals whose activities make the page after `cursor` (the millisecond of the
/// last activity seen), in `direction` of their last change: at least `size` of them past the
/// cursor's millisecond, and every one of each millisecond they reach, so that sorting their
/// activities by id (the millisecond, then a uuid) gives the page exactly. Three reads at
/// most, each through the index of booked journals (or an account's).
fn page_of_journals(
    tables: &mut dyn LogReader,
    base: JournalQuery,
    cursor: Option<Timestamp>,
    direction: Direction,
    size: usize,
) -> Result<Vec<Journal>, StoreError> {
    let within = |ms: Timestamp| JournalQuery {
        updated_from: Some(base.updated_from.map_or(ms, |t| Timestamp(t.0.max(ms.0)))),
        updated_before: Some(base.updated_before.map_or(Timestamp(ms.0 + 1_000), |t| Timestamp(t.0.min(ms.0 + 1_000)))),
        ..base.clone()
    };
    let mut journals = Vec::new();
    let mut rest = base.clone();
    if let Some(ms) = cursor {
        journals.extend(tables.journals(&within(ms), LIST_GROUP_MAX)?);
        match direction {
            Direction::Descending => rest.updated_before = Some(base.updated_before.map_or(ms, |t| Timestamp(t.0.min(ms.0)))),
            Direction::Ascending => {
                rest.updated_from = Some(base.updated_from.map_or(Timestamp(ms.0 + 1_000), |t| Timestamp(t.0.max(ms.0 + 1_000))))
            }
        }
    }
    let further = tables.journals(&rest, size)?;
    if let (true, Some(last)) = (further.len() == size, further.last()) {
        // The last millisecond reached may hold more than this read took.
        let ms = Timestamp(last.updated_at.0 - last.updated_at.0.rem_euclid(1_000));
        let group = tables.journals(&within(ms), LIST_GROUP_MAX)?;
        journals.extend(further.into_iter().filter(|j| group.iter().all(|g| g.id != j.id)));
        journals.extend(group);
    } else {
        journals.extend(further);
    }
    Ok(journals)
}

/// Journals changed within one millisecond read at most for a page's edge.
const LIST_GROUP_MAX: usize = 100_000;

fn stamp(t: Timestamp) -> String {
    let text = t.to_string(); // 2021-05-07T10:28:23.163857Z
    let digits: String = text.chars().filter(char::is_ascii_digit).collect();
    digits[..17].to_owned()
}

/// The uuid of one side of a journal's activity (`sign` 1 for the receiving account, -1 for the
/// source): the journal's id and the side mixed (splitmix64 on each half), as a version 8
/// (custom) UUID.
fn activity_uuid(journal: JournalId, sign: i64) -> String {
    let mix = |mut z: u64| {
        z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    };
    let id = journal.0 ^ if sign < 0 { u128::MAX } else { 0 };
    let (high, low) = (mix((id >> 64) as u64 ^ mix(id as u64)), mix(id as u64 ^ 0x5ca1_ab1e));
    let mut value = (u128::from(high) << 64) | u128::from(low);
    value = (value & !(0xf << 76)) | (0x8 << 76); // version 8
    value = (value & !(0x3 << 62)) | (0x2 << 62); // the RFC 9562 variant
    JournalId(value).to_string()
}

fn activities_of(j: &Journal) -> Vec<Activity> {
    let (Some(status), Some(date)) = (status_of(j), j.booked_on) else { return Vec::new() };
    let at = stamp(j.updated_at);
    [(j.to, 1, format!("{at}::{}", activity_uuid(j.id, 1))), (j.from, -1, format!("{at}::{}", activity_uuid(j.id, -1)))]
        .into_iter()
        .map(|(account, sign, id)| {
            let mut value = json!({
                "id": id,
                "account_id": account.to_string(),
                "activity_type": j.entry_type.as_str(),
                "date": date.to_string(),
                "description": format!("ID: {} - {}", j.id, j.description),
                "status": status,
            });
            let object = value.as_object_mut().expect("an object");
            match j.asset {
                Asset::Cash(currency) => {
                    object.insert("net_amount".into(), json!(currency.format_amount(sign * j.units)));
                }
                Asset::Security(symbol) => {
                    let price = j.price.unwrap_or(0);
                    object.insert(
                        "net_amount".into(),
                        json!(decimal::format_fixed(i128::from(sign) * money::cost_nanos(j.units, price), money::PRICE_SCALE, 2)),
                    );
                    object.insert("symbol".into(), json!(symbol.as_str()));
                    object.insert("qty".into(), json!(money::format_qty(sign * j.units)));
                    object.insert("price".into(), json!(decimal::format(price, money::PRICE_SCALE)));
                }
            }
            Activity { id, account, value }
        })
        .collect()
}

async fn list_activities_of_type(
    state: State<Arc<App>>,
    caller: Caller,
    Path(activity_type): Path<String>,
    Query(mut query): Query<HashMap<String, String>>,
) -> Result<Json<Value>, ApiError> {
    query.insert("activity_types".into(), activity_type);
    list_activities(state, caller, Query(query)).await
}

async fn list_activities(
    State(app): State<Arc<App>>,
    caller: Caller,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Json<Value>, ApiError> {
    let param = |name: &str| crate::body::param(&query, name);
    let account = param("account_id")?.map(AccountId::parse).transpose().map_err(|c| ApiError::from(c).with_field("account_id"))?;
    let mut types = Vec::new();
    // Other activity types exist in the Broker API; Cashier has none of them to show.
    for name in param("activity_types")?.unwrap_or("JNLC,JNLS").split(',') {
        types.extend(EntryType::parse(name));
    }
    let date = param("date")?.map(Date::parse).transpose()?;
    let after = param("after")?.map(|t| instant("after", t, false)).transpose()?;
    let until = param("until")?.map(|t| instant("until", t, true)).transpose()?;
    if date.is_some() && (after.is_some() || until.is_some()) {
        return Err(bad_request("conflicting_dates", "date cannot be combined with after or until".into()));
    }
    let ascending = match param("direction")? {
        None | Some("desc") => false,
        Some("asc") => true,
        Some(other) => return Err(bad_request("invalid_direction", format!("direction must be asc or desc, not {other:?}"))),
    };
    let page_size = param("page_size")?
        .map(|s| {
            s.parse::<usize>()
                .ok()
                .filter(|&n| n > 0)
                .ok_or_else(|| bad_request("invalid_page_size", "page_size must be a positive integer".into()))
        })
        .transpose()?
        .unwrap_or(PAGE_SIZE_MAX)
        .min(PAGE_SIZE_MAX);
    let token = param("page_token")?.map(str::to_owned);
    let cursor = token.as_deref().map(stamp_of).transpose()?;
    let scope = caller.actor().scope();
    if let Some(account) = account {
        let known = app.sequencer.read(|state| state.account(account).is_some_and(|a| scope.is_none_or(|c| c == a.correspondent)));
        if !known {
            return Err(Code::AccountNotFound.into());
        }
    }
    let entry_type = match types.as_slice() {
        [only] => Some(*only),
        _ => None,
    };
    if types.is_empty() {
        return Ok(Json(Value::Array(Vec::new())));
    }
    let direction = if ascending { Direction::Ascending } else { Direction::Descending };
    let base = JournalQuery {
        correspondent: scope,
        account,
        entry_type,
        booked_on: date,
        updated_from: after,
        updated_before: until.map(|t| Timestamp(t.0 + 1)),
        by_update: Some(direction),
        ..JournalQuery::default()
    };
    let journals = app.read_tables(move |tables| page_of_journals(tables, base, cursor, direction, page_size)).await?;
    let mut list: Vec<Activity> = journals.iter().flat_map(activities_of).filter(|a| account.is_none_or(|id| id == a.account)).collect();
    list.sort_by(|x, y| x.id.cmp(&y.id));
    if !ascending {
        list.reverse();
    }
    let beyond = |a: &Activity| match &token {
        Some(token) if ascending => a.id.as_str() > token.as_str(),
        Some(token) => a.id.as_str() < token.as_str(),
        None => true,
    };
    let page: Vec<Value> = list.into_iter().filter(beyond).take(page_size).map(|a| a.value).collect();
    Ok(Json(Value::Array(page)))
}
