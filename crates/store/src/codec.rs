//! How core values become column values and back, the same for every backend.
//!
//! Ids are 16 bytes big-endian (so byte order is id order); amounts are integers in their unit;
//! statuses and kinds are their wire names; assets are `cash:USD` or the bare symbol (symbols
//! cannot contain `:`); the few nested values (correspondent config, limits, a journal's rare
//! fields) are JSON text.

use crate::store::StoreError;
use cashier_core::*;
use serde_json::{json, Value};

pub fn id_bytes(id: u128) -> [u8; 16] {
    id.to_be_bytes()
}

pub fn id_from(bytes: &[u8]) -> Result<u128, StoreError> {
    let array: [u8; 16] = bytes.try_into().map_err(|_| corrupt(format!("an id of {} bytes", bytes.len())))?;
    Ok(u128::from_be_bytes(array))
}

const BANK: &[u8] = b"bank";
const CUSTODY: &[u8] = b"custody";

/// An account book is its id's 16 bytes; the contra books are `bank` and `custody`.
pub fn book_bytes(book: Book) -> Vec<u8> {
    match book {
        Book::Account(id) => id_bytes(id.0).to_vec(),
        Book::Bank => BANK.to_vec(),
        Book::Custody => CUSTODY.to_vec(),
    }
}

pub fn book_from(bytes: &[u8]) -> Result<Book, StoreError> {
    match bytes {
        BANK => Ok(Book::Bank),
        CUSTODY => Ok(Book::Custody),
        _ => Ok(Book::Account(AccountId(id_from(bytes)?))),
    }
}

/// `cash:XXX` for every supported currency, in `Currency::SUPPORTED` order, so that writing a
/// cash asset allocates nothing.
const CASH_TEXT: [&str; 17] = [
    "cash:USD", "cash:GBP", "cash:CHF", "cash:EUR", "cash:CAD", "cash:JPY", "cash:TRY", "cash:AUD", "cash:CZK", "cash:SEK", "cash:DKK",
    "cash:SGD", "cash:HKD", "cash:HUF", "cash:NZD", "cash:NOK", "cash:PLN",
];

/// The text of a cash asset, without allocating.
pub fn cash_text(currency: Currency) -> &'static str {
    let index = Currency::SUPPORTED.iter().position(|&c| c == currency).expect("every currency is supported");
    CASH_TEXT[index]
}

pub fn asset_text(asset: Asset) -> String {
    match asset {
        Asset::Cash(currency) => format!("cash:{currency}"),
        Asset::Security(symbol) => symbol.as_str().to_owned(),
    }
}

pub fn asset_from(text: &str) -> Result<Asset, StoreError> {
    match text.strip_prefix("cash:") {
        Some(code) => Currency::parse(code).map(Asset::Cash).map_err(|_| corrupt(format!("asset {text}"))),
        None => Symbol::parse(text).map(Asset::Security).map_err(|_| corrupt(format!("asset {text}"))),
    }
}

pub fn limit_key_text(key: LimitKey) -> String {
    match key {
        LimitKey::Cash(currency) => format!("cash:{currency}"),
        LimitKey::SecuritiesUsd => "securities_usd".to_owned(),
    }
}

pub fn limit_key_from(text: &str) -> Result<LimitKey, StoreError> {
    match text {
        "securities_usd" => Ok(LimitKey::SecuritiesUsd),
        _ => match asset_from(text)? {
            Asset::Cash(currency) => Ok(LimitKey::Cash(currency)),
            Asset::Security(_) => Err(corrupt(format!("limit key {text}"))),
        },
    }
}

/// Parses a stored enum by its wire name.
pub fn named<T>(text: &str, parse: fn(&str) -> Option<T>, what: &str) -> Result<T, StoreError> {
    parse(text).ok_or_else(|| corrupt(format!("{what} {text:?}")))
}

pub fn blocks_bits(b: Blocks) -> i64 {
    i64::from(b.account_blocked) | i64::from(b.transfers_blocked) << 1 | i64::from(b.trading_blocked) << 2
}

pub fn blocks_from(bits: i64) -> Blocks {
    Blocks { account_blocked: bits & 1 != 0, transfers_blocked: bits & 2 != 0, trading_blocked: bits & 4 != 0 }
}

pub fn limits_json(limits: &Limits) -> String {
    let cash: Vec<Value> =
        limits.cash.iter().map(|l| json!({"currency": l.currency.as_str(), "per_journal": l.per_journal, "daily": l.daily})).collect();
    json!({"cash": cash, "securities_per_journal_cents": limits.securities_per_journal_cents, "securities_daily_cents": limits.securities_daily_cents}).to_string()
}

pub fn limits_from(text: &str) -> Result<Limits, StoreError> {
    let v: Value = serde_json::from_str(text).map_err(|e| corrupt(format!("limits: {e}")))?;
    limits_from_value(&v)
}

fn limits_from_value(v: &Value) -> Result<Limits, StoreError> {
    let opt = |v: &Value| v.as_i64();
    let mut cash = Vec::new();
    for l in v["cash"].as_array().ok_or_else(|| corrupt("limits without cash".into()))? {
        let currency = Currency::parse(l["currency"].as_str().unwrap_or("")).map_err(|_| corrupt("limit currency".into()))?;
        cash.push(CashLimit { currency, per_journal: opt(&l["per_journal"]), daily: opt(&l["daily"]) });
    }
    Ok(Limits {
        cash,
        securities_per_journal_cents: opt(&v["securities_per_journal_cents"]),
        securities_daily_cents: opt(&v["securities_daily_cents"]),
    })
}

pub fn config_json(c: &CorrespondentConfig) -> String {
    let limits: Value = serde_json::from_str(&limits_json(&c.limits)).expect("limits_json writes JSON");
    json!({"jnlc_flow": c.jnlc_flow.as_str(), "limits": limits, "release_pending_at_day_start": c.release_pending_at_day_start, "fixtures": c.fixtures})
        .to_string()
}

pub fn config_from(text: &str) -> Result<CorrespondentConfig, StoreError> {
    let v: Value = serde_json::from_str(text).map_err(|e| corrupt(format!("config: {e}")))?;
    Ok(CorrespondentConfig {
        jnlc_flow: named(v["jnlc_flow"].as_str().unwrap_or(""), JnlcFlow::parse, "jnlc flow")?,
        limits: limits_from_value(&v["limits"])?,
        release_pending_at_day_start: v["release_pending_at_day_start"].as_bool().unwrap_or(true),
        fixtures: v["fixtures"].as_bool().unwrap_or(false),
    })
}

/// A journal's rare fields as JSON, or `None` when it has none.
pub fn journal_extra_json(journal: &Journal) -> Option<String> {
    let extra = journal.extra.as_ref()?;
    let transmitter = extra.transmitter.as_ref().map(|t| {
        json!({"name": t.name, "account_number": t.account_number, "address": t.address,
               "financial_institution": t.financial_institution, "timestamp": t.timestamp.map(|ts| ts.0)})
    });
    let key = extra.key.as_ref().map(|k| json!({"key": k.key, "kind": k.kind.as_str()}));
    let id = |id: Option<JournalId>| id.map(|id| id.to_string());
    let request = extra.request.as_ref().map(request_json);
    Some(
        json!({"transmitter": transmitter, "key": key, "corrects": id(extra.corrects), "corrected_by": id(extra.corrected_by), "request": request,
               "refused_for": extra.refused_for.map(Code::as_str)})
        .to_string(),
    )
}

/// Who did something and why, as the event log and the journals table keep it.
pub fn audit_json(audit: &Audit) -> Value {
    let actor = match &audit.actor {
        Actor::Correspondent(id) => json!({"correspondent": id.to_string()}),
        Actor::Operator(name) => json!({"operator": name}),
        Actor::System => json!("system"),
    };
    json!({"actor": actor, "reason": audit.reason})
}

fn audit_from(v: &Value) -> Result<Audit, StoreError> {
    let actor = match &v["actor"] {
        Value::String(s) if s == "system" => Actor::System,
        a if a["operator"].is_string() => Actor::Operator(a["operator"].as_str().unwrap_or_default().to_owned()),
        a => {
            let text = a["correspondent"].as_str().ok_or_else(|| corrupt(format!("an audit actor {a}")))?;
            Actor::Correspondent(CorrespondentId::parse(text).map_err(|_| corrupt(format!("correspondent id {text}")))?)
        }
    };
    Ok(Audit { actor, reason: v["reason"].as_str().unwrap_or_default().to_owned() })
}

fn request_json(r: &ActionRequest) -> Value {
    json!({"action": r.action.as_str(), "units": r.units, "audit": audit_json(&r.audit), "at": r.at.0})
}

fn request_from(v: &Value) -> Result<Option<ActionRequest>, StoreError> {
    if v.is_null() {
        return Ok(None);
    }
    Ok(Some(ActionRequest {
        action: named(v["action"].as_str().unwrap_or(""), OpsAction::parse, "operator action")?,
        units: v["units"].as_i64(),
        audit: audit_from(&v["audit"])?,
        at: Timestamp(v["at"].as_i64().unwrap_or_default()),
    }))
}

/// A four-eyes request as its row's body keeps it (the fingerprint is the row's key).
pub fn confirmation_json(c: &Confirmation) -> String {
    confirmation_value(c).to_string()
}

fn confirmation_value(c: &Confirmation) -> Value {
    json!({"action": c.action, "subject": c.subject, "detail": c.detail, "worth": c.worth, "audit": audit_json(&c.audit), "at": c.at.0})
}

pub fn confirmation_from(fingerprint: u128, text: &str) -> Result<Confirmation, StoreError> {
    let v: Value = serde_json::from_str(text).map_err(|e| corrupt(format!("four-eyes request: {e}")))?;
    let string = |name: &str| v[name].as_str().map(str::to_owned).ok_or_else(|| corrupt(format!("four-eyes request's {name}")));
    Ok(Confirmation {
        fingerprint,
        action: string("action")?,
        subject: string("subject")?,
        detail: string("detail")?,
        worth: v["worth"].as_i64().ok_or_else(|| corrupt("four-eyes request's worth".into()))?,
        audit: audit_from(&v["audit"])?,
        at: Timestamp(v["at"].as_i64().unwrap_or_default()),
    })
}

pub fn journal_extra_from(text: Option<&str>) -> Result<Option<Box<JournalExtra>>, StoreError> {
    let Some(text) = text else { return Ok(None) };
    let v: Value = serde_json::from_str(text).map_err(|e| corrupt(format!("journal extra: {e}")))?;
    let string = |v: &Value| v.as_str().map(str::to_owned);
    let transmitter = match &v["transmitter"] {
        Value::Null => None,
        t => Some(Transmitter {
            name: string(&t["name"]),
            account_number: string(&t["account_number"]),
            address: string(&t["address"]),
            financial_institution: string(&t["financial_institution"]),
            timestamp: t["timestamp"].as_i64().map(Timestamp),
        }),
    };
    let key = match &v["key"] {
        Value::Null => None,
        k => Some(KeyTag {
            key: string(&k["key"]).unwrap_or_default(),
            kind: named(k["kind"].as_str().unwrap_or(""), KeyKind::parse, "key kind")?,
        }),
    };
    let id = |v: &Value| -> Result<Option<JournalId>, StoreError> {
        v.as_str().map(|s| JournalId::parse(s).map_err(|_| corrupt(format!("journal id {s}")))).transpose()
    };
    Ok(Some(Box::new(JournalExtra {
        transmitter,
        key,
        corrects: id(&v["corrects"])?,
        corrected_by: id(&v["corrected_by"])?,
        request: request_from(&v["request"])?,
        refused_for: v["refused_for"].as_str().map(|c| Code::parse(c).ok_or_else(|| corrupt(format!("refusal reason {c}")))).transpose()?,
    })))
}

pub fn ids_bytes(ids: &[JournalId]) -> Vec<u8> {
    ids.iter().flat_map(|id| id_bytes(id.0)).collect()
}

pub fn ids_from(bytes: &[u8]) -> Result<Vec<JournalId>, StoreError> {
    bytes.chunks(16).map(|c| id_from(c).map(JournalId)).collect()
}

/// The log's columns for one event: its kind, the journal and statuses it concerns, and a
/// short JSON detail for anything else worth reading in SQL (audit trail, ids, amounts).
pub struct EventColumns {
    pub kind: &'static str,
    pub journal_id: Option<[u8; 16]>,
    pub status_from: Option<&'static str>,
    pub status_to: Option<&'static str>,
    pub detail: Option<String>,
}

pub fn event_columns(event: &Event) -> EventColumns {
    let mut c = EventColumns { kind: "", journal_id: None, status_from: None, status_to: None, detail: None };
    let audit = |a: &Option<Audit>| a.as_ref().map(|a| audit_json(a).to_string());
    match &event.kind {
        EventKind::CorrespondentCreated(x) => {
            (c.kind, c.detail) = ("correspondent_created", Some(json!({"id": x.id.to_string(), "code": x.code}).to_string()))
        }
        EventKind::CorrespondentConfigured { id, .. } => {
            (c.kind, c.detail) = ("correspondent_configured", Some(json!({"id": id.to_string()}).to_string()))
        }
        EventKind::AccountOpened { account, .. } => {
            (c.kind, c.detail) = ("account_opened", Some(json!({"id": account.id.to_string(), "kind": account.kind.as_str()}).to_string()))
        }
        EventKind::AccountStatusChanged { id, from, to } => {
            (c.kind, c.detail) =
                ("account_status_changed", Some(json!({"id": id.to_string(), "from": from.as_str(), "to": to.as_str()}).to_string()))
        }
        EventKind::AccountBlocksChanged { id, .. } => {
            (c.kind, c.detail) = ("account_blocks_changed", Some(json!({"id": id.to_string()}).to_string()))
        }
        EventKind::AccountLimitsSet { id, .. } => {
            (c.kind, c.detail) = ("account_limits_set", Some(json!({"id": id.to_string()}).to_string()))
        }
        EventKind::OverdraftSet { account, currency, units } => {
            (c.kind, c.detail) =
                ("overdraft_set", Some(json!({"account": account.to_string(), "currency": currency.as_str(), "units": units}).to_string()))
        }
        EventKind::AssetListed(a) => {
            (c.kind, c.detail) = ("asset_listed", Some(json!({"symbol": a.symbol.as_str(), "price": a.price}).to_string()))
        }
        EventKind::SecuritiesDeposited { account, movement, price } => {
            let d = json!({"account": account.to_string(), "asset": asset_text(movement.asset), "qty": movement.units, "price": price});
            (c.kind, c.detail) = ("securities_deposited", Some(d.to_string()))
        }
        EventKind::TransferCreated(t) => {
            let d =
                json!({"id": t.id.to_string(), "account": t.account.to_string(), "direction": t.direction.as_str(), "amount": t.amount});
            (c.kind, c.detail, c.status_to) = ("transfer_created", Some(d.to_string()), Some(t.status.as_str()))
        }
        EventKind::TransferStatusChanged { id, from, to, .. } => {
            (c.kind, c.detail, c.status_from, c.status_to) =
                ("transfer_status_changed", Some(json!({"id": id.to_string()}).to_string()), Some(from.as_str()), Some(to.as_str()))
        }
        EventKind::JournalCreated { journal, .. } => {
            (c.kind, c.journal_id, c.status_to) = ("journal_created", Some(id_bytes(journal.id.0)), Some(journal.status.as_str()))
        }
        EventKind::JournalStatusChanged(x) => {
            // The audit of a manual change, or why a booking was refused.
            let detail = match x.refused_for {
                Some(code) => Some(json!({"refused_for": code.as_str()}).to_string()),
                None => audit(&x.audit),
            };
            (c.kind, c.journal_id, c.status_from, c.status_to, c.detail) =
                ("journal_status_changed", Some(id_bytes(x.id.0)), Some(x.from.as_str()), Some(x.to.as_str()), detail)
        }
        EventKind::ActionRequested { id, request } => {
            (c.kind, c.journal_id, c.detail) = ("action_requested", Some(id_bytes(id.0)), Some(request_json(request).to_string()))
        }
        EventKind::IdempotencyKeyStored(k) => {
            (c.kind, c.detail) = ("idempotency_key_stored", Some(json!({"key": k.key, "kind": k.kind.as_str()}).to_string()))
        }
        EventKind::IdempotencyKeysExpired { created_before } => {
            (c.kind, c.detail) = ("idempotency_keys_expired", Some(json!({"created_before": created_before.0}).to_string()))
        }
        EventKind::BusinessDayAdvanced { from, to } => {
            (c.kind, c.detail) = ("business_day_advanced", Some(json!({"from": from.to_string(), "to": to.to_string()}).to_string()))
        }
        EventKind::ApiKeyIssued(key) => {
            let owner = match key.owner {
                KeyOwner::Correspondent(id) => json!({"correspondent": id.to_string()}),
                KeyOwner::Operator => json!("operator"),
            };
            (c.kind, c.detail) = ("api_key_issued", Some(json!({"key_id": key.key_id, "owner": owner}).to_string()))
        }
        EventKind::ApiKeyRevoked { key_id } => (c.kind, c.detail) = ("api_key_revoked", Some(json!({"key_id": key_id}).to_string())),
        EventKind::ConfirmationRequested(asked) => {
            let mut d = confirmation_value(asked);
            d["fingerprint"] = json!(format!("{:032x}", asked.fingerprint));
            (c.kind, c.detail) = ("confirmation_requested", Some(d.to_string()))
        }
        EventKind::ConfirmationGranted { fingerprint } => {
            (c.kind, c.detail) = ("confirmation_granted", Some(json!({"fingerprint": format!("{fingerprint:032x}")}).to_string()))
        }
        EventKind::DoneAlone { operator, worth } => {
            (c.kind, c.detail) = ("done_alone", Some(json!({"operator": operator, "worth": worth}).to_string()))
        }
        EventKind::OperatorActed(act) => {
            let d = json!({"action": act.action, "subject": act.subject, "audit": audit_json(&act.audit)});
            (c.kind, c.detail) = ("operator_action", Some(d.to_string()))
        }
    }
    c
}

fn corrupt(what: String) -> StoreError {
    StoreError::Corrupt(format!("unreadable {what}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips() {
        for book in [Book::Bank, Book::Custody, Book::Account(AccountId(0x0123_4567_89ab_cdef_0123_4567_89ab_cdef))] {
            assert_eq!(book_from(&book_bytes(book)).unwrap(), book);
        }
        for asset in [Asset::Cash(Currency::USD), Asset::Security(Symbol::parse("BRK.B").unwrap())] {
            assert_eq!(asset_from(&asset_text(asset)).unwrap(), asset);
        }
        for &currency in Currency::SUPPORTED {
            assert_eq!(cash_text(currency), asset_text(Asset::Cash(currency)));
        }
        for key in [LimitKey::SecuritiesUsd, LimitKey::Cash(Currency::parse("EUR").unwrap())] {
            assert_eq!(limit_key_from(&limit_key_text(key)).unwrap(), key);
        }
        let config = CorrespondentConfig { jnlc_flow: JnlcFlow::V2, fixtures: false, ..Default::default() };
        assert_eq!(config_from(&config_json(&config)).unwrap(), config);
        assert_eq!(limits_from(&limits_json(&Limits::unlimited())).unwrap(), Limits::unlimited());
        let blocks = Blocks { account_blocked: false, transfers_blocked: true, trading_blocked: true };
        assert_eq!(blocks_from(blocks_bits(blocks)), blocks);
        let ids = vec![JournalId(1), JournalId(u128::MAX)];
        assert_eq!(ids_from(&ids_bytes(&ids)).unwrap(), ids);
        assert!(id_from(&[1, 2, 3]).is_err());
    }
}
