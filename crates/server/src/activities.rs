//! `GET /v1/accounts/activities` (and `/{activity_type}`): the non-trade activities journals
//! leave on the books, one per side of each booked journal, paged by `page_token`.

use crate::api::{list_of, uuid, Access, Api, Op};
use crate::auth::Caller;
use crate::body::{bad_request, instant};
use crate::{ApiError, App};
use axum::extract::{Path, Query, State};
use axum::Json;
use cashier_core::*;
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
    at: Timestamp,
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
            Activity { id, at: j.updated_at, account, value }
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
    let scope = caller.actor().scope();
    let page = app.sequencer.read(|state| -> Result<Vec<Value>, ApiError> {
        if let Some(account) = account {
            state.account(account).filter(|a| scope.is_none_or(|c| c == a.correspondent)).ok_or(ApiError::from(Code::AccountNotFound))?;
        }
        let mut list: Vec<Activity> = state
            .journals()
            .filter(|j| scope.is_none_or(|c| c == j.correspondent) && types.contains(&j.entry_type))
            .flat_map(activities_of)
            .filter(|a| account.is_none_or(|id| id == a.account))
            .filter(|a| {
                date.is_none_or(|d| a.value["date"] == d.to_string()) && after.is_none_or(|t| a.at >= t) && until.is_none_or(|t| a.at <= t)
            })
            .collect();
        list.sort_by(|x, y| x.id.cmp(&y.id));
        if !ascending {
            list.reverse();
        }
        let start = match &token {
            Some(token) => list.iter().position(|a| &a.id == token).map_or(list.len(), |i| i + 1),
            None => 0,
        };
        Ok(list.into_iter().skip(start).take(page_size).map(|a| a.value).collect())
    })?;
    Ok(Json(Value::Array(page)))
}
