//! `execute`: decides what a command does to the state, as events, or refuses it.
//!
//! It never changes the state; `State::apply` does that with the events it returns. Time and new
//! ids come in through [`Ctx`], so the same state, command and context always give the same
//! answer.

use crate::command::Command;
use crate::event::{Book, Event, EventKind, Movement};
use crate::ids::{AccountId, CorrespondentId, Timestamp, TransferId};
use crate::journals;
use crate::model::{
    Account, AccountKind, AccountStatus, Actor, ApiKey, AssetInfo, Audit, Correspondent, CorrespondentConfig, KeyOwner, Limits, Transfer,
    TransferDirection,
};
use crate::money::{Asset, Currency, Symbol, QTY_SCALE};
use crate::rejection::{Code, Rejection};
use crate::state::State;
use crate::status::TransferStatus;

/// Where new ids come from: the service mints time-ordered UUIDs (v7), tests use a counter.
///
/// Contract: every id is greater than every id handed out before, across restarts too. The
/// state keeps journals in id order on the strength of it.
pub trait IdSource {
    fn next_id(&mut self) -> u128;
}

/// Ids 1, 2, 3... offset by a base: deterministic, for tests and simulations.
#[derive(Clone, Debug)]
pub struct SequentialIds {
    next: u128,
}

impl SequentialIds {
    pub fn starting_at(first: u128) -> SequentialIds {
        SequentialIds { next: first }
    }
}

impl IdSource for SequentialIds {
    fn next_id(&mut self) -> u128 {
        let id = self.next;
        self.next += 1;
        id
    }
}

/// What `execute` may know of the world: the time, and a source of fresh ids.
pub struct Ctx<'a> {
    pub now: Timestamp,
    pub ids: &'a mut dyn IdSource,
}

impl Ctx<'_> {
    pub(crate) fn event(&self, kind: EventKind) -> Event {
        Event { at: self.now, kind }
    }
}

/// Decides the events a command produces against `state`, or why it is refused.
///
/// A successful command that changes nothing (an idempotent replay, a status set to what it
/// already is) returns no events.
pub fn execute(state: &State, command: &Command, ctx: &mut Ctx<'_>) -> Result<Vec<Event>, Rejection> {
    crate::text::check(command)?;
    match command {
        Command::CreateCorrespondent { code, name, config } => create_correspondent(state, code, name, config, ctx),
        Command::ConfigureCorrespondent { id, config } => {
            check_config(config)?;
            state.correspondent(*id).ok_or(Code::CorrespondentNotFound)?;
            Ok(vec![ctx.event(EventKind::CorrespondentConfigured { id: *id, config: Box::new(config.clone()) })])
        }
        Command::OpenAccount { actor, correspondent, kind, status, currency, profile, email } => {
            open_account(state, actor, *correspondent, *kind, (*status, *currency), (profile, email.as_deref()), ctx)
        }
        Command::SetAccountStatus { actor, account, status } => {
            let current = scoped_account(state, actor, *account)?.status;
            Ok(if current == *status {
                vec![]
            } else {
                vec![ctx.event(EventKind::AccountStatusChanged { id: *account, from: current, to: *status })]
            })
        }
        Command::SetAccountBlocks { account, blocks } => {
            state.account(*account).ok_or(Code::AccountNotFound)?;
            Ok(vec![ctx.event(EventKind::AccountBlocksChanged { id: *account, blocks: *blocks })])
        }
        Command::SetAccountLimits { account, limits } => {
            if limits.as_ref().is_some_and(Limits::any_negative) {
                return Err(Code::LimitNegative.into());
            }
            state.account(*account).ok_or(Code::AccountNotFound)?;
            let limits = limits.clone().map(Box::new);
            Ok(vec![ctx.event(EventKind::AccountLimitsSet { id: *account, limits })])
        }
        Command::SetOverdraft { account, currency, units } => set_overdraft(state, *account, *currency, *units, ctx),
        Command::ListAsset { symbol, name, exchange, class, fractionable, price } => {
            let info = AssetInfo {
                id: crate::ids::AssetId(0),
                symbol: *symbol,
                name: name.clone(),
                exchange: exchange.clone(),
                class: class.clone(),
                fractionable: *fractionable,
                price: *price,
            };
            list_asset(state, info, ctx)
        }
        Command::DepositSecurities { account, symbol, qty, price } => deposit_securities(state, *account, *symbol, *qty, *price, ctx),
        Command::CreateTransfer { actor, account, direction, kind, currency, amount, complete_at_once } => {
            let transfer = Transfer {
                id: TransferId(0),
                account: *account,
                correspondent: CorrespondentId(0),
                direction: *direction,
                kind: *kind,
                currency: *currency,
                amount: *amount,
                status: TransferStatus::Queued,
                created_at: ctx.now,
                updated_at: ctx.now,
            };
            create_transfer(state, actor, transfer, *complete_at_once, ctx)
        }
        Command::CompleteTransfer { id } => change_transfer(state, None, *id, TransferStatus::Complete, ctx),
        Command::RejectTransfer { id } => change_transfer(state, None, *id, TransferStatus::Rejected, ctx),
        Command::ReturnTransfer { id } => change_transfer(state, None, *id, TransferStatus::Returned, ctx),
        Command::CancelTransfer { actor, account, id } => {
            change_transfer(state, Some((actor, *account)), *id, TransferStatus::Canceled, ctx)
        }
        Command::AdvanceBusinessDay { to } => journals::advance_business_day(state, *to, ctx),
        Command::ExpireIdempotencyKeys { created_before } => {
            let any = state.keys.values().any(|r| r.created_at < *created_before);
            Ok(if any { vec![ctx.event(EventKind::IdempotencyKeysExpired { created_before: *created_before })] } else { vec![] })
        }
        Command::IssueApiKey { key_id, name, owner, secret_sha256 } => {
            if !ApiKey::valid_id(key_id) {
                return Err(Code::KeyIdInvalid.into());
            }
            let named = name.as_deref().is_some_and(|n| !n.trim().is_empty() && valid_name(n));
            if (*owner == KeyOwner::Operator || name.is_some()) && !named {
                return Err(Rejection::field(Code::InvalidName, "name"));
            }
            if let KeyOwner::Correspondent(id) = owner {
                state.correspondent(*id).ok_or(Code::CorrespondentNotFound)?;
            }
            if state.api_key(key_id).is_some() {
                return Err(Code::AlreadyExists.into());
            }
            let name = name.as_deref().map(|n| n.trim().to_owned());
            let key =
                ApiKey { key_id: key_id.clone(), owner: *owner, name, secret_sha256: *secret_sha256, created_at: ctx.now, revoked: false };
            Ok(vec![ctx.event(EventKind::ApiKeyIssued(Box::new(key)))])
        }
        Command::RevokeApiKey { key_id } => {
            let key = state.api_key(key_id).ok_or(Code::ApiKeyNotFound)?;
            Ok(if key.revoked { vec![] } else { vec![ctx.event(EventKind::ApiKeyRevoked { key_id: key_id.clone() })] })
        }
        Command::Audited { audit, action } => audited(state, audit, action, ctx),
        Command::FourEyes { action, over } => crate::four_eyes::execute(state, action, *over, ctx),
        journal_command => journals::execute(state, journal_command, ctx),
    }
}

/// An operator's action with its audit: refused without a reason; logged when it changed
/// something.
pub(crate) fn audited(state: &State, audit: &Audit, action: &Command, ctx: &mut Ctx<'_>) -> Result<Vec<Event>, Rejection> {
    journals::require_reason(audit)?;
    let (name, subject) = audit_subject(action).ok_or(Code::NotFourEyes)?;
    let mut events = execute(state, action, ctx)?;
    if !events.is_empty() {
        let act = crate::event::OperatorAct { action: name, subject, audit: audit.clone() };
        events.push(ctx.event(EventKind::OperatorActed(Box::new(act))));
    }
    Ok(events)
}

/// The audit trail's name of an operator action other than a journal's, and what it is about.
pub(crate) fn audit_subject(action: &Command) -> Option<(&'static str, String)> {
    Some(match action {
        Command::SetAccountStatus { account, .. } => ("account_status", account.to_string()),
        Command::SetAccountBlocks { account, .. } => ("account_blocks", account.to_string()),
        Command::SetAccountLimits { account, .. } => ("account_limits", account.to_string()),
        Command::SetOverdraft { account, .. } => ("overdraft", account.to_string()),
        Command::IssueApiKey { key_id, .. } => ("api_key_issued", key_id.clone()),
        Command::RevokeApiKey { key_id } => ("api_key_revoked", key_id.clone()),
        Command::CreateTransfer { account, .. } => ("transfer_created", account.to_string()),
        Command::CompleteTransfer { id } => ("transfer_completed", id.to_string()),
        Command::RejectTransfer { id } => ("transfer_rejected", id.to_string()),
        Command::ReturnTransfer { id } => ("transfer_returned", id.to_string()),
        Command::CancelTransfer { id, .. } => ("transfer_canceled", id.to_string()),
        Command::DepositSecurities { account, .. } => ("securities_deposited", account.to_string()),
        Command::ListAsset { symbol, .. } => ("asset_listed", symbol.as_str().to_owned()),
        _ => return None,
    })
}

/// The account, if it exists and the actor may see it. Another correspondent's account does
/// not exist, as far as that correspondent can tell.
pub(crate) fn scoped_account<'s>(state: &'s State, actor: &Actor, id: AccountId) -> Result<&'s Account, Code> {
    match state.account(id) {
        Some(account) if actor.scope().is_none_or(|scope| scope == account.correspondent) => Ok(account),
        _ => Err(Code::AccountNotFound),
    }
}

/// Whether `units` may leave `book` in `asset` on top of `already` reserved in this command.
pub(crate) fn fits(state: &State, book: Book, asset: Asset, units: i64, already: i64) -> bool {
    let Some(floor) = state.floor(book, asset) else { return true };
    let available = i128::from(state.balance(book, asset).available());
    available - i128::from(already) - i128::from(units) >= i128::from(floor)
}

pub(crate) fn insufficient(asset: Asset) -> Code {
    match asset {
        Asset::Cash(_) => Code::InsufficientFunds,
        Asset::Security(_) => Code::InsufficientQty,
    }
}

fn valid_code(code: &str) -> bool {
    (2..=8).contains(&code.len()) && code.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
}

pub(crate) fn valid_name(name: &str) -> bool {
    let chars = name.chars().count();
    (1..=crate::command::TEXT_CHARS_MAX).contains(&chars)
}

fn check_config(config: &CorrespondentConfig) -> Result<(), Code> {
    if config.limits.any_negative() {
        return Err(Code::LimitNegative);
    }
    Ok(())
}

fn create_correspondent(
    state: &State,
    code: &str,
    name: &str,
    config: &CorrespondentConfig,
    ctx: &mut Ctx<'_>,
) -> Result<Vec<Event>, Rejection> {
    if !valid_code(code) || !valid_name(name) {
        return Err(Code::InvalidName.into());
    }
    check_config(config)?;
    if state.correspondents().any(|c| c.code == code) {
        return Err(Code::AlreadyExists.into());
    }
    let correspondent = Correspondent {
        id: CorrespondentId(ctx.ids.next_id()),
        code: code.to_owned(),
        name: name.to_owned(),
        config: config.clone(),
        created_at: ctx.now,
    };
    Ok(vec![ctx.event(EventKind::CorrespondentCreated(Box::new(correspondent)))])
}

fn open_account(
    state: &State,
    actor: &Actor,
    correspondent: CorrespondentId,
    kind: AccountKind,
    (status, currency): (AccountStatus, Currency),
    (profile, email): (&str, Option<&str>),
    ctx: &mut Ctx<'_>,
) -> Result<Vec<Event>, Rejection> {
    if actor.scope().is_some_and(|scope| scope != correspondent) || state.correspondent(correspondent).is_none() {
        return Err(Code::CorrespondentNotFound.into());
    }
    if kind == AccountKind::Firm && actor.scope().is_some() {
        return Err(Code::OperatorOnly.into());
    }
    if email.is_some_and(|e| state.account_by_email(correspondent, e).is_some()) {
        return Err(Code::EmailInUse.into());
    }
    let account = Account {
        id: AccountId(ctx.ids.next_id()),
        correspondent,
        kind,
        status,
        account_number: state.next_account_number,
        currency,
        blocks: Default::default(),
        limits: None,
        created_at: ctx.now,
    };
    Ok(vec![ctx.event(EventKind::AccountOpened {
        account: Box::new(account),
        profile: profile.to_owned(),
        email: email.map(str::to_owned),
    })])
}

fn set_overdraft(state: &State, account: AccountId, currency: Currency, units: i64, ctx: &mut Ctx<'_>) -> Result<Vec<Event>, Rejection> {
    if units < 0 {
        return Err(Code::LimitNegative.into());
    }
    let found = state.account(account).ok_or(Code::AccountNotFound)?;
    if found.kind != AccountKind::Firm {
        return Err(Code::NotFirmAccount.into());
    }
    if state.balance(Book::Account(account), Asset::Cash(currency)).available() < -units {
        return Err(Code::InsufficientFunds.into());
    }
    Ok(vec![ctx.event(EventKind::OverdraftSet { account, currency, units })])
}

fn list_asset(state: &State, mut info: AssetInfo, ctx: &mut Ctx<'_>) -> Result<Vec<Event>, Rejection> {
    if !valid_name(&info.name) || info.exchange.len() > crate::command::TEXT_CHARS_MAX || info.class.len() > crate::command::TEXT_CHARS_MAX
    {
        return Err(Code::InvalidName.into());
    }
    if info.price.is_some_and(|p| p <= 0) {
        return Err(Code::AmountNotPositive.into());
    }
    info.id = match state.asset(info.symbol) {
        Some(existing) => existing.id,
        None => crate::ids::AssetId(ctx.ids.next_id()),
    };
    Ok(vec![ctx.event(EventKind::AssetListed(Box::new(info)))])
}

fn deposit_securities(
    state: &State,
    account: AccountId,
    symbol: Symbol,
    qty: i64,
    price: Option<i64>,
    ctx: &mut Ctx<'_>,
) -> Result<Vec<Event>, Rejection> {
    if qty <= 0 || price.is_some_and(|p| p <= 0) {
        return Err(Code::QtyNotPositive.into());
    }
    let found = state.account(account).ok_or(Code::AccountNotFound)?;
    let asset = state.asset(symbol).ok_or(Code::AssetNotFound)?;
    if found.kind != AccountKind::Firm {
        return Err(Code::NotFirmAccount.into());
    }
    if !asset.fractionable && qty % 10i64.pow(QTY_SCALE) != 0 {
        return Err(Code::NotFractionable.into());
    }
    let price = price.or(asset.price).ok_or(Code::PriceUnavailable)?;
    let movement = Movement { asset: Asset::Security(symbol), units: qty, from: Book::Custody, to: Book::Account(account) };
    if state.balance(Book::Account(account), movement.asset).posted.checked_add(qty).is_none() {
        return Err(Code::AmountTooLarge.into());
    }
    Ok(vec![ctx.event(EventKind::SecuritiesDeposited { account, movement, price })])
}

fn create_transfer(
    state: &State,
    actor: &Actor,
    mut transfer: Transfer,
    complete_at_once: bool,
    ctx: &mut Ctx<'_>,
) -> Result<Vec<Event>, Rejection> {
    if transfer.amount <= 0 {
        return Err(Code::AmountNotPositive.into());
    }
    let account = scoped_account(state, actor, transfer.account)?;
    if account.blocks.account_blocked {
        return Err(Code::AccountBlocked.into());
    }
    if account.blocks.transfers_blocked {
        return Err(Code::TransfersBlocked.into());
    }
    let outgoing = transfer.direction == TransferDirection::Outgoing;
    let status_ok = account.status == AccountStatus::Active || (outgoing && account.status == AccountStatus::AccountClosed);
    if !status_ok {
        return Err(Code::AccountInactive.into());
    }
    let book = Book::Account(account.id);
    let asset = Asset::Cash(transfer.currency);
    // Money leaving by wire or ACH must be there: an overdraft does not fund a withdrawal.
    if outgoing && state.balance(book, asset).available() < transfer.amount {
        return Err(Code::InsufficientFunds.into());
    }
    if !outgoing && state.balance(book, asset).posted.checked_add(transfer.amount).is_none() {
        return Err(Code::AmountTooLarge.into());
    }
    transfer.id = TransferId(ctx.ids.next_id());
    transfer.correspondent = account.correspondent;
    let mut events = vec![ctx.event(EventKind::TransferCreated(Box::new(transfer.clone())))];
    if complete_at_once {
        events.push(ctx.event(transfer_completion(&transfer)));
    }
    Ok(events)
}

fn transfer_completion(transfer: &Transfer) -> EventKind {
    let account = Book::Account(transfer.account);
    let (from, to) = match transfer.direction {
        TransferDirection::Incoming => (Book::Bank, account),
        TransferDirection::Outgoing => (account, Book::Bank),
    };
    let movement = Movement { asset: Asset::Cash(transfer.currency), units: transfer.amount, from, to };
    EventKind::TransferStatusChanged { id: transfer.id, from: transfer.status, to: TransferStatus::Complete, movement: Some(movement) }
}

fn change_transfer(
    state: &State,
    owner: Option<(&Actor, AccountId)>,
    id: TransferId,
    to: TransferStatus,
    ctx: &mut Ctx<'_>,
) -> Result<Vec<Event>, Rejection> {
    let transfer = state.transfer(id).ok_or(Code::TransferNotFound)?;
    if let Some((actor, account)) = owner {
        let visible = transfer.account == account && actor.scope().is_none_or(|scope| scope == transfer.correspondent);
        if !visible {
            return Err(Code::TransferNotFound.into());
        }
    }
    if !TransferStatus::is_legal(Some(transfer.status), to) {
        return Err(Code::InvalidTransition.into());
    }
    let kind = match to {
        TransferStatus::Complete => transfer_completion(transfer),
        TransferStatus::Returned => {
            // The money goes back where it came from; an account must still be able to give it.
            let EventKind::TransferStatusChanged { movement: Some(done), .. } = transfer_completion(transfer) else {
                unreachable!("a completion moves money")
            };
            let back = done.reversed();
            if !fits(state, back.from, back.asset, back.units, 0) {
                return Err(Code::InsufficientFunds.into());
            }
            EventKind::TransferStatusChanged { id, from: transfer.status, to, movement: Some(back) }
        }
        _ => EventKind::TransferStatusChanged { id, from: transfer.status, to, movement: None },
    };
    Ok(vec![ctx.event(kind)])
}
