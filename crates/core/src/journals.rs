//! Journals: creation (single, batch, reverse batch) and every step of their lifecycle.

use crate::command::{
    BatchEntry, Command, Fingerprint, JournalRequest, BATCH_ENTRIES_MAX, DESCRIPTION_CHARS_MAX, IDEMPOTENCY_KEY_LEN_MAX, TEXT_CHARS_MAX,
};
use crate::event::{Book, Event, EventKind, KeyRecord, Movement, StatusChange};
use crate::execute::{fits, insufficient, scoped_account, Ctx};
use crate::ids::{AccountId, CorrespondentId, Date, JournalId};
use crate::model::{Account, AccountKind, AccountStatus, Actor, Audit, EntryType, Hold, JnlcFlow, Journal, JournalExtra, KeyKind, KeyTag};
use crate::money::{value_cents_ceil, Asset, QTY_SCALE};
use crate::rejection::{Code, Rejection};
use crate::state::{LimitKey, State};
use crate::status::JournalStatus;
use rustc_hash::FxHashMap;

/// The sandbox fixture that holds a journal `queued` until the day's end, then rejects it.
pub const FIXTURE_REJECTED: &str = "/fixtures/status=rejected/fixtures/";
/// The sandbox fixture that holds a journal `pending` until an operator acts.
pub const FIXTURE_PENDING: &str = "/fixtures/status=pending/fixtures/";

pub(crate) fn execute(state: &State, command: &Command, ctx: &mut Ctx<'_>) -> Result<Vec<Event>, Rejection> {
    // Journals are created by correspondents only: an operator who could create one could move
    // money past four-eyes alone (raise a limit, then pay), so operators correct, approve,
    // reverse and delete, and never create.
    if let Command::CreateJournal { actor: Actor::Operator(_), .. }
    | Command::CreateBatch { actor: Actor::Operator(_), .. }
    | Command::CreateReverseBatch { actor: Actor::Operator(_), .. } = command
    {
        return Err(Code::CorrespondentOnly.into());
    }
    match command {
        Command::CreateJournal { actor, request, key } => create_single(state, actor, request, key.as_deref(), ctx),
        Command::CreateBatch { actor, entry_type, from, entries, key } => {
            create_batch(state, actor, *entry_type, Side::From(*from), entries, key.as_deref(), ctx)
        }
        Command::CreateReverseBatch { actor, entry_type, to, entries, key } => {
            create_batch(state, actor, *entry_type, Side::To(*to), entries, key.as_deref(), ctx)
        }
        Command::CancelJournal { actor, id, reason } => {
            let audit = Audit { actor: actor.clone(), reason: reason.clone() };
            // An operator says why; a correspondent cancelling its own journal need not.
            if matches!(actor, Actor::Operator(_)) {
                require_reason(&audit)?;
            }
            let journal = scoped_journal(state, actor, *id)?;
            transition(journal, JournalStatus::Canceled, Some(audit), ctx)
        }
        Command::ApproveJournal { id, audit } => {
            require_reason(audit)?;
            transition(find(state, *id)?, JournalStatus::Queued, Some(audit.clone()), ctx)
        }
        Command::RejectJournal { id, audit } => {
            require_reason(audit)?;
            transition(find(state, *id)?, JournalStatus::Rejected, Some(audit.clone()), ctx)
        }
        Command::SendToClearing { id } => {
            let journal = find(state, *id)?;
            if journal.status == JournalStatus::Queued && journal.hold == Hold::FixtureRejected {
                return Err(Code::JournalHeld.into());
            }
            transition(journal, JournalStatus::SentToClearing, None, ctx)
        }
        Command::BookJournal { id } => book(state, *id, ctx),
        Command::Clear { max } => clear(state, *max as usize, ctx),
        Command::CreateActivity { id } => {
            let journal = find(state, *id)?;
            if journal.flow != JnlcFlow::V2 || journal.status != JournalStatus::Executed {
                return Err(Code::InvalidTransition.into());
            }
            transition(journal, JournalStatus::ActivityCreated, None, ctx)
        }
        Command::ReverseJournal { id, audit } => unbook(state, *id, JournalStatus::Canceled, audit, ctx),
        Command::DeleteJournal { id, audit } => unbook(state, *id, JournalStatus::Deleted, audit, ctx),
        Command::CorrectJournal { id, units, audit } => correct(state, *id, *units, audit, ctx),
        other => unreachable!("not a journal command: {other:?}"),
    }
}

// ----- Creation -----

/// The fixed account of a batch: the source of a batch, the destination of a reverse batch.
#[derive(Clone, Copy)]
enum Side {
    From(AccountId),
    To(AccountId),
}

/// A request that passed every check, with what it will become.
struct Draft {
    correspondent: CorrespondentId,
    asset: Asset,
    units: i64,
    status: JournalStatus,
    hold: Hold,
    limit_counted: i64,
}

/// What earlier entries of the same command have already claimed. A single journal has no
/// earlier entries and records nothing.
#[derive(Default)]
struct Claims {
    batch: bool,
    debits: FxHashMap<(Book, Asset), i64>,
    daily: FxHashMap<(AccountId, crate::state::LimitKey), i64>,
}

impl Claims {
    fn for_batch() -> Claims {
        Claims { batch: true, ..Claims::default() }
    }

    fn debit(&mut self, key: (Book, Asset), units: i64) {
        if self.batch {
            *self.debits.entry(key).or_default() += units;
        }
    }

    fn count(&mut self, key: (AccountId, crate::state::LimitKey), value: i64) {
        if self.batch {
            *self.daily.entry(key).or_default() += value;
        }
    }
}

fn create_single(
    state: &State,
    actor: &Actor,
    request: &JournalRequest,
    key: Option<&str>,
    ctx: &mut Ctx<'_>,
) -> Result<Vec<Event>, Rejection> {
    check_shape(request)?;
    check_key_text(key)?;
    let fingerprint = if key.is_some() { fingerprint_single(request) } else { 0 };
    let scope = actor.scope().or_else(|| state.account(request.from).map(|a| a.correspondent));
    if replayed(state, scope, key, KeyKind::Single, fingerprint)? {
        return Ok(vec![]);
    }
    let mut claims = Claims::default();
    let mut draft = check_request(state, actor, request, &mut claims)?;
    let correspondent = state.correspondent(draft.correspondent).expect("an account's correspondent exists");
    let v2 = request.entry_type == EntryType::Cash && correspondent.config.jnlc_flow == JnlcFlow::V2;
    let mut movement = None;
    if v2 && draft.status == JournalStatus::Queued {
        // JNLC v2: booked at creation; the funds check just passed is the booking check.
        draft.status = JournalStatus::Executed;
        movement =
            Some(Movement { asset: draft.asset, units: draft.units, from: Book::Account(request.from), to: Book::Account(request.to) });
    }
    let flow = if v2 { JnlcFlow::V2 } else { JnlcFlow::V1 };
    let tag = key.map(|k| KeyTag { key: k.to_owned(), kind: KeyKind::Single });
    let journal = new_journal(state, request, &draft, flow, tag, state.next_ordinal, movement.is_some(), ctx);
    let id = journal.id;
    let mut events = vec![ctx.event(EventKind::JournalCreated { journal: Box::new(journal), movement })];
    if let (Some(key), Some(correspondent)) = (key, scope) {
        events.push(key_event(correspondent, key, KeyKind::Single, fingerprint, vec![id], ctx));
    }
    Ok(events)
}

fn create_batch(
    state: &State,
    actor: &Actor,
    entry_type: EntryType,
    side: Side,
    entries: &[BatchEntry],
    key: Option<&str>,
    ctx: &mut Ctx<'_>,
) -> Result<Vec<Event>, Rejection> {
    if entry_type != EntryType::Cash {
        return Err(Code::BatchEntryTypeUnsupported.into());
    }
    if entries.is_empty() {
        return Err(Code::BatchEmpty.into());
    }
    if entries.len() > BATCH_ENTRIES_MAX {
        return Err(Code::BatchTooLarge.into());
    }
    let requests: Vec<JournalRequest> = entries
        .iter()
        .map(|e| match side {
            Side::From(from) => e.request(entry_type, from, e.account),
            Side::To(to) => e.request(entry_type, e.account, to),
        })
        .collect();
    for (i, request) in requests.iter().enumerate() {
        check_shape(request).map_err(|code| Rejection::entry(code, i))?;
    }
    check_key_text(key)?;
    let kind = match side {
        Side::From(_) => KeyKind::Batch,
        Side::To(_) => KeyKind::ReverseBatch,
    };
    let fingerprint = if key.is_some() { fingerprint_batch(kind, side, entries) } else { 0 };
    let fixed = match side {
        Side::From(id) | Side::To(id) => id,
    };
    let scope = actor.scope().or_else(|| state.account(fixed).map(|a| a.correspondent));
    if replayed(state, scope, key, kind, fingerprint)? {
        return Ok(vec![]);
    }
    scoped_account(state, actor, fixed)?;
    let mut claims = Claims::for_batch();
    let mut drafts = Vec::with_capacity(requests.len());
    for (i, request) in requests.iter().enumerate() {
        drafts.push(check_request(state, actor, request, &mut claims).map_err(|r| Rejection::entry(r.code, i))?);
    }
    let mut events = Vec::with_capacity(requests.len() + 1);
    let mut ids = Vec::with_capacity(if key.is_some() { requests.len() } else { 0 });
    for (i, (request, draft)) in requests.iter().zip(&drafts).enumerate() {
        let tag = key.map(|k| KeyTag { key: k.to_owned(), kind });
        let journal = new_journal(state, request, draft, JnlcFlow::V1, tag, state.next_ordinal + i as u64, false, ctx);
        if key.is_some() {
            ids.push(journal.id);
        }
        events.push(ctx.event(EventKind::JournalCreated { journal: Box::new(journal), movement: None }));
    }
    if let (Some(key), Some(correspondent)) = (key, scope) {
        events.push(key_event(correspondent, key, kind, fingerprint, ids, ctx));
    }
    Ok(events)
}

/// The rules a request must meet on its own, before anything is looked up.
fn check_shape(r: &JournalRequest) -> Result<(), Code> {
    let cash = r.entry_type == EntryType::Cash;
    let checks = [
        (cash && r.amount.is_none(), Code::AmountRequired),
        (!cash && r.amount.is_some(), Code::AmountNotAllowed),
        (!cash && r.symbol.is_none(), Code::SymbolRequired),
        (!cash && r.qty.is_none(), Code::QtyRequired),
        (cash && (r.symbol.is_some() || r.qty.is_some()), Code::SymbolNotAllowed),
        (cash && r.amount.is_some_and(|a| a <= 0), Code::AmountNotPositive),
        (!cash && r.qty.is_some_and(|q| q <= 0), Code::QtyNotPositive),
        (r.description.chars().count() > DESCRIPTION_CHARS_MAX, Code::DescriptionTooLong),
        (r.transmitter.as_ref().is_some_and(|t| transmitter_too_long(t)), Code::TextTooLong),
        (r.from == r.to, Code::SameAccount),
    ];
    match checks.iter().find(|(failed, _)| *failed) {
        Some((_, code)) => Err(*code),
        None => Ok(()),
    }
}

fn transmitter_too_long(t: &crate::model::Transmitter) -> bool {
    [&t.name, &t.account_number, &t.address, &t.financial_institution]
        .iter()
        .any(|f| f.as_ref().is_some_and(|s| s.chars().count() > TEXT_CHARS_MAX))
}

fn check_key_text(key: Option<&str>) -> Result<(), Code> {
    match key {
        Some(k) if k.is_empty() || k.len() > IDEMPOTENCY_KEY_LEN_MAX || !k.bytes().all(|b| b.is_ascii_graphic()) => {
            Err(Code::IdempotencyKeyInvalid)
        }
        _ => Ok(()),
    }
}

/// True when this key already stands for this very request; a rejection when it stands for
/// another.
fn replayed(state: &State, scope: Option<CorrespondentId>, key: Option<&str>, kind: KeyKind, fingerprint: u128) -> Result<bool, Code> {
    let (Some(key), Some(correspondent)) = (key, scope) else { return Ok(false) };
    match state.idempotency_key(correspondent, key) {
        Some(record) if record.kind == kind && record.fingerprint == fingerprint => Ok(true),
        Some(_) => Err(Code::IdempotencyKeyReused),
        None => Ok(false),
    }
}

fn key_event(
    correspondent: CorrespondentId,
    key: &str,
    kind: KeyKind,
    fingerprint: u128,
    journals: Vec<JournalId>,
    ctx: &Ctx<'_>,
) -> Event {
    let record = KeyRecord { correspondent, key: key.to_owned(), kind, fingerprint, journals, created_at: ctx.now };
    ctx.event(EventKind::IdempotencyKeyStored(Box::new(record)))
}

fn fingerprint_single(r: &JournalRequest) -> u128 {
    let mut f = Fingerprint::new(KeyKind::Single);
    f.str(r.entry_type.as_str());
    f.bytes(&r.from.0.to_le_bytes());
    f.bytes(&r.to.0.to_le_bytes());
    f.request_fields(r.amount, r.currency, r.symbol, r.qty, &r.description, r.transmitter.as_deref());
    f.finish()
}

fn fingerprint_batch(kind: KeyKind, side: Side, entries: &[BatchEntry]) -> u128 {
    let mut f = Fingerprint::new(kind);
    let (Side::From(fixed) | Side::To(fixed)) = side;
    f.bytes(&fixed.0.to_le_bytes());
    for e in entries {
        f.bytes(&e.account.0.to_le_bytes());
        f.request_fields(e.amount, e.currency, e.symbol, e.qty, &e.description, e.transmitter.as_deref());
    }
    f.finish()
}

/// Every rule after shape and idempotency, in precedence order: existence, direction, account
/// status, the asset, funds; then limits and fixtures decide the starting status.
fn check_request(state: &State, actor: &Actor, r: &JournalRequest, claims: &mut Claims) -> Result<Draft, Rejection> {
    let from = scoped_account(state, actor, r.from)?;
    let to = scoped_account(state, actor, r.to)?;
    if to.correspondent != from.correspondent {
        return Err(Code::AccountNotFound.into());
    }
    let (asset, units) = match (r.entry_type, r.symbol, r.qty) {
        (EntryType::Security, Some(symbol), Some(qty)) => {
            state.asset(symbol).ok_or(Code::AssetNotFound)?;
            (Asset::Security(symbol), qty)
        }
        _ => (Asset::Cash(r.currency), r.amount.expect("shape checked")),
    };
    check_direction(r.entry_type, from, to)?;
    check_accounts(from, to)?;
    let mut price = None;
    if let Asset::Security(symbol) = asset {
        let info = state.asset(symbol).expect("checked above");
        if !info.fractionable && units % 10i64.pow(QTY_SCALE) != 0 {
            return Err(Code::NotFractionable.into());
        }
        price = Some(info.price.ok_or(Code::PriceUnavailable)?);
    }
    let from_book = Book::Account(from.id);
    let already = claims.debits.get(&(from_book, asset)).copied().unwrap_or(0);
    if !fits(state, from_book, asset, units, already) {
        return Err(insufficient(asset).into());
    }
    if state.balance(Book::Account(to.id), asset).posted.checked_add(units).is_none() {
        return Err(Code::AmountTooLarge.into());
    }
    claims.debit((from_book, asset), units);
    let (status, hold, limit_counted) = starting_status(state, from, to, r, asset, units, price, claims);
    Ok(Draft { correspondent: from.correspondent, asset, units, status, hold, limit_counted })
}

fn check_direction(entry_type: EntryType, from: &Account, to: &Account) -> Result<(), Code> {
    match (from.kind, to.kind) {
        (AccountKind::Customer, AccountKind::Customer) => Err(Code::CustomerToCustomer),
        (AccountKind::Firm, AccountKind::Firm) => Err(Code::FirmToFirm),
        (AccountKind::Customer, AccountKind::Firm) if entry_type == EntryType::Security => Err(Code::SecuritiesDirection),
        _ => Ok(()),
    }
}

fn check_accounts(from: &Account, to: &Account) -> Result<(), Code> {
    if from.blocks.account_blocked || to.blocks.account_blocked {
        return Err(Code::AccountBlocked);
    }
    if from.blocks.transfers_blocked || to.blocks.transfers_blocked {
        return Err(Code::TransfersBlocked);
    }
    if !matches!(from.status, AccountStatus::Active | AccountStatus::AccountClosed) {
        return Err(Code::FromAccountInactive);
    }
    if to.status != AccountStatus::Active {
        return Err(Code::ToAccountInactive);
    }
    Ok(())
}

/// Fixtures first (sandbox), then limits on journals into a customer account.
#[allow(clippy::too_many_arguments)]
fn starting_status(
    state: &State,
    from: &Account,
    to: &Account,
    r: &JournalRequest,
    asset: Asset,
    units: i64,
    price: Option<i64>,
    claims: &mut Claims,
) -> (JournalStatus, Hold, i64) {
    let config = &state.correspondent(from.correspondent).expect("an account's correspondent exists").config;
    if config.fixtures && r.description.contains(FIXTURE_REJECTED) {
        return (JournalStatus::Queued, Hold::FixtureRejected, 0);
    }
    if config.fixtures && r.description.contains(FIXTURE_PENDING) {
        return (JournalStatus::Pending, Hold::FixturePending, 0);
    }
    if from.kind != AccountKind::Firm {
        return (JournalStatus::Queued, Hold::None, 0);
    }
    let limits = state.limits_for(to).expect("an account's correspondent exists");
    let (value, per_journal, daily) = match asset {
        Asset::Cash(currency) => match limits.cash_limit(currency) {
            Some(limit) => (Some(units), limit.per_journal, limit.daily),
            None => return (JournalStatus::Pending, Hold::OverLimit, 0),
        },
        Asset::Security(_) => {
            let value = price.and_then(|p| value_cents_ceil(units, p));
            (value, limits.securities_per_journal_cents, limits.securities_daily_cents)
        }
    };
    let Some(value) = value else { return (JournalStatus::Pending, Hold::OverLimit, 0) };
    if per_journal.is_some_and(|l| value > l) {
        return (JournalStatus::Pending, Hold::OverLimit, 0);
    }
    let Some(daily) = daily else {
        // No daily limit: nothing to count.
        return (JournalStatus::Queued, Hold::None, 0);
    };
    let key = (to.id, LimitKey::of(asset));
    let used = state.daily_used(to.id, key.1).saturating_add(claims.daily.get(&key).copied().unwrap_or(0));
    if used.saturating_add(value) > daily {
        return (JournalStatus::Pending, Hold::OverLimit, 0);
    }
    claims.count(key, value);
    (JournalStatus::Queued, Hold::None, value)
}

#[allow(clippy::too_many_arguments)]
fn new_journal(
    state: &State,
    r: &JournalRequest,
    draft: &Draft,
    flow: JnlcFlow,
    key: Option<KeyTag>,
    ordinal: u64,
    booked: bool,
    ctx: &mut Ctx<'_>,
) -> Journal {
    let booked_on = booked.then_some(state.business_date);
    let price = match draft.asset {
        Asset::Security(symbol) if booked => state.asset(symbol).and_then(|a| a.price),
        _ => None,
    };
    Journal {
        id: JournalId(ctx.ids.next_id()),
        correspondent: draft.correspondent,
        entry_type: r.entry_type,
        from: r.from,
        to: r.to,
        status: draft.status,
        asset: draft.asset,
        units: draft.units,
        price,
        description: r.description.as_str().into(),
        extra: (r.transmitter.is_some() || key.is_some())
            .then(|| Box::new(JournalExtra { transmitter: r.transmitter.as_deref().cloned(), key, ..Default::default() })),
        flow,
        hold: draft.hold,
        limit_counted: draft.limit_counted,
        created_at: ctx.now,
        updated_at: ctx.now,
        booked_on,
        ordinal,
    }
}

// ----- Lifecycle -----

fn find(state: &State, id: JournalId) -> Result<&Journal, Code> {
    state.journal(id).ok_or(Code::JournalNotFound)
}

fn scoped_journal<'s>(state: &'s State, actor: &Actor, id: JournalId) -> Result<&'s Journal, Code> {
    match state.journal(id) {
        Some(j) if actor.scope().is_none_or(|scope| scope == j.correspondent) => Ok(j),
        _ => Err(Code::JournalNotFound),
    }
}

pub(crate) fn require_reason(audit: &Audit) -> Result<(), Code> {
    if audit.reason.trim().is_empty() {
        return Err(Code::ReasonRequired);
    }
    if audit.reason.chars().count() > DESCRIPTION_CHARS_MAX {
        return Err(Code::DescriptionTooLong);
    }
    Ok(())
}

fn status_change(journal: &Journal, to: JournalStatus) -> StatusChange {
    StatusChange {
        id: journal.id,
        from: journal.status,
        to,
        movement: None,
        price: None,
        booked_on: None,
        corrected_by: None,
        audit: None,
        refused_for: None,
    }
}

/// A status change that moves no balances, if the status machine allows it. Leaving a booked
/// status always moves balances (see `unbook`), except for the informational `activity_created`.
fn transition(journal: &Journal, to: JournalStatus, audit: Option<Audit>, ctx: &Ctx<'_>) -> Result<Vec<Event>, Rejection> {
    let moves_balances = journal.status.is_booked() && to != JournalStatus::ActivityCreated;
    if !JournalStatus::is_legal(Some(journal.status), to) || moves_balances {
        return Err(Code::InvalidTransition.into());
    }
    let mut change = status_change(journal, to);
    change.audit = audit;
    Ok(vec![ctx.event(EventKind::JournalStatusChanged(Box::new(change)))])
}

/// The booking-time check: `sent_to_clearing` becomes `executed`, or `refused` when the
/// journal no longer fits (funds gone, an account closed or blocked, no price).
fn book(state: &State, id: JournalId, ctx: &Ctx<'_>) -> Result<Vec<Event>, Rejection> {
    let journal = find(state, id)?;
    if journal.status != JournalStatus::SentToClearing {
        return Err(Code::InvalidTransition.into());
    }
    let change = booking(state, journal, &FxHashMap::default());
    Ok(vec![ctx.event(EventKind::JournalStatusChanged(Box::new(change)))])
}

/// One clearing step: books up to `max` journals waiting in `sent_to_clearing` (oldest first;
/// each check sees the bookings before it in the same step), then sends up to `max` queued
/// journals to clearing (those a fixture holds stay). Journals move one status per step, and a
/// step works from whatever state it finds, so it is safe to repeat and to run after a restart.
pub(crate) fn clear(state: &State, max: usize, ctx: &Ctx<'_>) -> Result<Vec<Event>, Rejection> {
    let mut events = Vec::new();
    let mut moved: FxHashMap<(Book, Asset), i64> = FxHashMap::default();
    for id in state.waiting(JournalStatus::SentToClearing).take(max) {
        let journal = state.journal(id).expect("indexed journals exist");
        let change = booking(state, journal, &moved);
        if let Some(m) = change.movement {
            *moved.entry((m.from, m.asset)).or_default() -= m.units;
            *moved.entry((m.to, m.asset)).or_default() += m.units;
        }
        events.push(ctx.event(EventKind::JournalStatusChanged(Box::new(change))));
    }
    let sendable = state.waiting(JournalStatus::Queued).filter(|&id| state.journal(id).is_some_and(|j| j.hold != Hold::FixtureRejected));
    for id in sendable.take(max) {
        let journal = state.journal(id).expect("indexed journals exist");
        events.push(ctx.event(EventKind::JournalStatusChanged(Box::new(status_change(journal, JournalStatus::SentToClearing)))));
    }
    Ok(events)
}

/// The booking-time check of a journal in `sent_to_clearing`, given what earlier bookings of the
/// same command moved: `executed` with its movement, or `refused`.
fn booking(state: &State, journal: &Journal, moved: &FxHashMap<(Book, Asset), i64>) -> StatusChange {
    let price = match journal.asset {
        Asset::Security(symbol) => state.asset(symbol).and_then(|a| a.price),
        Asset::Cash(_) => None,
    };
    let accounts = match (state.account(journal.from), state.account(journal.to)) {
        (Some(from), Some(to)) => check_accounts(from, to),
        _ => Err(Code::AccountNotFound),
    };
    let priced = matches!(journal.asset, Asset::Cash(_)) || price.is_some();
    let from = Book::Account(journal.from);
    let already = -moved.get(&(from, journal.asset)).copied().unwrap_or(0);
    let funded = fits(state, from, journal.asset, journal.units, already);
    let mut change = status_change(journal, JournalStatus::Refused);
    // Why, in the order the create-time checks report it.
    change.refused_for = match (accounts, priced, funded) {
        (Err(code), _, _) => Some(code),
        (Ok(()), false, _) => Some(Code::PriceUnavailable),
        (Ok(()), true, false) => Some(insufficient(journal.asset)),
        (Ok(()), true, true) => None,
    };
    if change.refused_for.is_none() {
        change.to = JournalStatus::Executed;
        change.movement = Some(Movement { asset: journal.asset, units: journal.units, from, to: Book::Account(journal.to) });
        change.price = price;
        change.booked_on = Some(state.business_date);
    }
    change
}

/// Reverses (`canceled`) or deletes (`deleted`) an executed journal: its movement is undone,
/// which the receiving account must still be able to afford.
fn unbook(state: &State, id: JournalId, to: JournalStatus, audit: &Audit, ctx: &Ctx<'_>) -> Result<Vec<Event>, Rejection> {
    require_reason(audit)?;
    let journal = find(state, id)?;
    if !journal.status.is_booked() || !JournalStatus::is_legal(Some(journal.status), to) {
        return Err(Code::InvalidTransition.into());
    }
    let movement = booked_movement(journal).reversed();
    if !fits(state, movement.from, movement.asset, movement.units, 0) {
        return Err(insufficient(movement.asset).into());
    }
    let mut change = status_change(journal, to);
    change.movement = Some(movement);
    change.audit = Some(audit.clone());
    Ok(vec![ctx.event(EventKind::JournalStatusChanged(Box::new(change)))])
}

fn booked_movement(journal: &Journal) -> Movement {
    Movement { asset: journal.asset, units: journal.units, from: Book::Account(journal.from), to: Book::Account(journal.to) }
}

/// Replaces an executed journal: the original becomes `correct` and is undone; a new journal
/// for `units`, linked both ways, is booked at once at the original's price. Only the net
/// change must fit.
fn correct(state: &State, id: JournalId, units: i64, audit: &Audit, ctx: &mut Ctx<'_>) -> Result<Vec<Event>, Rejection> {
    if units <= 0 {
        return Err(Code::AmountNotPositive.into());
    }
    require_reason(audit)?;
    let journal = find(state, id)?;
    if !journal.status.is_booked() {
        return Err(Code::InvalidTransition.into());
    }
    if units == journal.units {
        return Err(Code::CorrectionUnchanged.into());
    }
    let original = booked_movement(journal);
    // The net effect: the receiver gives back the difference, or the sender pays it.
    let (payer, difference) =
        if units < journal.units { (original.to, journal.units - units) } else { (original.from, units - journal.units) };
    if !fits(state, payer, original.asset, difference, 0) {
        return Err(insufficient(original.asset).into());
    }
    let replacement = Journal {
        id: JournalId(ctx.ids.next_id()),
        status: JournalStatus::Executed,
        units,
        hold: Hold::None,
        limit_counted: 0,
        extra: Some(Box::new(JournalExtra {
            transmitter: journal.transmitter().cloned(),
            key: None,
            corrects: Some(journal.id),
            corrected_by: None,
            request: None,
            refused_for: None,
        })),
        created_at: ctx.now,
        updated_at: ctx.now,
        booked_on: Some(state.business_date),
        ordinal: state.next_ordinal,
        ..journal.clone()
    };
    let mut change = status_change(journal, JournalStatus::Correct);
    change.movement = Some(original.reversed());
    change.corrected_by = Some(replacement.id);
    change.audit = Some(audit.clone());
    let movement = Some(Movement { units, ..original });
    Ok(vec![
        ctx.event(EventKind::JournalStatusChanged(Box::new(change))),
        ctx.event(EventKind::JournalCreated { journal: Box::new(replacement), movement }),
    ])
}

/// Ends the business day and starts `to`: fixture-held journals are rejected, daily counters
/// reset, and over-limit journals are released where their correspondent says so.
pub(crate) fn advance_business_day(state: &State, to: Date, ctx: &Ctx<'_>) -> Result<Vec<Event>, Rejection> {
    if to <= state.business_date {
        return Err(Code::BusinessDateNotAfter.into());
    }
    let system = |reason: &str| Some(Audit { actor: Actor::System, reason: reason.to_owned() });
    let mut events = Vec::new();
    for id in state.waiting(JournalStatus::Queued) {
        let journal = state.journal(id).expect("indexed journals exist");
        if journal.hold == Hold::FixtureRejected {
            let mut change = status_change(journal, JournalStatus::Rejected);
            change.audit = system("end of day: rejected by sandbox fixture");
            events.push(ctx.event(EventKind::JournalStatusChanged(Box::new(change))));
        }
    }
    events.push(ctx.event(EventKind::BusinessDayAdvanced { from: state.business_date, to }));
    for id in state.waiting(JournalStatus::Pending) {
        let journal = state.journal(id).expect("indexed journals exist");
        let release = state.correspondent(journal.correspondent).is_some_and(|c| c.config.release_pending_at_day_start);
        if journal.hold == Hold::OverLimit && release {
            let mut change = status_change(journal, JournalStatus::Queued);
            change.audit = system("start of day: over-limit journal released");
            events.push(ctx.event(EventKind::JournalStatusChanged(Box::new(change))));
        }
    }
    Ok(events)
}
