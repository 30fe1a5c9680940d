//! Four-eyes: what one operator may do alone, and how a second operator confirms the rest.
//!
//! Every operator action is worth what it lets move, in US cents:
//! - a journal's approve, reverse, delete or correct: the journal's value (cash in its minor
//!   units, shares at the asset's price; a correction the larger of the old and new units);
//! - a wire recorded complete, a transfer completed or returned: its amount;
//! - a limit or an overdraft loosened: its new value (no limit: no bound);
//! - lifting a block, opening an account further (to `ACTIVE`, or to `ACCOUNT_CLOSED`, which
//!   may still send money out), lowering an asset's price or pricing an unpriced one (which
//!   makes shares count for less here), and minting a key (which acts for a correspondent, or
//!   is a second pair of eyes): no bound.
//!
//! Protective actions are worth nothing and never wait: rejecting or canceling a journal,
//! rejecting or canceling a transfer, closing or blocking an account, tightening a limit,
//! raising a price, revoking a key, listing a new asset. So is minting operator keys while the
//! ledger has never held two operators' names: four-eyes needs a second person, and the first
//! operator names them.
//!
//! One operator may do alone, in a business day, actions worth `over` in all. Past it an action
//! is recorded as a request; the same action asked by a different named operator carries it
//! out. Journals keep their request on the journal; every other action's request is a
//! [`Confirmation`], named by a fingerprint of the command without its asker.

use crate::command::{Command, Fingerprint};
use crate::event::{Event, EventKind};
use crate::execute::{audited, Ctx};
use crate::ids::JournalId;
use crate::model::{AccountStatus, ActionRequest, Actor, Audit, Confirmation, Journal, KeyKind, KeyOwner, Limits, OpsAction};
use crate::money::{value_cents_ceil, Asset};
use crate::rejection::{Code, Rejection};
use crate::state::State;

/// The worth of an action whose effect has no bound: more than any threshold.
pub const UNBOUNDED: i64 = i64::MAX;

pub(crate) fn execute(state: &State, action: &Command, over: i64, ctx: &mut Ctx<'_>) -> Result<Vec<Event>, Rejection> {
    match action {
        Command::Audited { audit, action } => other_action(state, audit, action, over, ctx),
        _ => journal_action(state, action, over, ctx),
    }
}

/// The operator's name, which four-eyes counts and compares.
fn operator(audit: &Audit) -> Result<&str, Code> {
    match &audit.actor {
        Actor::Operator(name) => Ok(name),
        _ => Err(Code::NotFourEyes),
    }
}

/// Whether `operator` may do an action worth `worth` alone today.
fn alone(state: &State, operator: &str, worth: i64, over: i64) -> bool {
    worth == 0 || state.done_alone_by(operator).saturating_add(worth) <= over
}

/// Carries out `events` done alone, counted against the operator's day when worth anything.
fn done_alone(mut events: Vec<Event>, operator: &str, worth: i64, ctx: &Ctx<'_>) -> Vec<Event> {
    if worth > 0 && !events.is_empty() {
        events.push(ctx.event(EventKind::DoneAlone { operator: operator.to_owned(), worth }));
    }
    events
}

/// The reason of a confirmed action: the confirmer's, with who asked and why.
fn confirmed_reason(confirmer: &Audit, asker: &Audit) -> String {
    format!("{} (four-eyes: asked by {}: {})", confirmer.reason, asker.actor, asker.reason)
}

// ----- Journal actions -----

/// What an operator's journal command asks for: the journal, the action, its units (`correct`)
/// and who asks, why.
fn ops_action(command: &Command) -> Option<(JournalId, OpsAction, Option<i64>, Audit)> {
    Some(match command {
        Command::ApproveJournal { id, audit } => (*id, OpsAction::Approve, None, audit.clone()),
        Command::RejectJournal { id, audit } => (*id, OpsAction::Reject, None, audit.clone()),
        Command::CancelJournal { actor: actor @ Actor::Operator(_), id, reason } => {
            (*id, OpsAction::Cancel, None, Audit { actor: actor.clone(), reason: reason.clone() })
        }
        Command::ReverseJournal { id, audit } => (*id, OpsAction::Reverse, None, audit.clone()),
        Command::DeleteJournal { id, audit } => (*id, OpsAction::Delete, None, audit.clone()),
        Command::CorrectJournal { id, units, audit } => (*id, OpsAction::Correct, Some(*units), audit.clone()),
        _ => return None,
    })
}

/// What a journal action lets move: nothing for reject and cancel (nothing moves); else the
/// journal's value, cash in its minor units, shares at the asset's price in US cents (the larger
/// of the journal's units and a correction's new units). Shares without a price have no bound.
fn journal_worth(state: &State, action: OpsAction, journal: &Journal, units: Option<i64>) -> i64 {
    if matches!(action, OpsAction::Reject | OpsAction::Cancel) {
        return 0;
    }
    let units = units.map_or(journal.units, |u| u.max(journal.units));
    shares_or_cash_worth(state, journal.asset, units, None)
}

/// `units` of `asset` in US cents: cash as it is, shares at the higher of `price` and the
/// asset's price; unpriced shares have no bound.
fn shares_or_cash_worth(state: &State, asset: Asset, units: i64, price: Option<i64>) -> i64 {
    match asset {
        Asset::Cash(_) => units,
        Asset::Security(symbol) => match price.max(state.asset(symbol).and_then(|a| a.price)) {
            Some(price) => value_cents_ceil(units, price).unwrap_or(UNBOUNDED),
            None => UNBOUNDED,
        },
    }
}

fn journal_action(state: &State, action: &Command, over: i64, ctx: &mut Ctx<'_>) -> Result<Vec<Event>, Rejection> {
    let (id, kind, units, audit) = ops_action(action).ok_or(Code::NotFourEyes)?;
    let journal = state.journal(id).ok_or(Code::JournalNotFound)?;
    let operator = operator(&audit)?;
    let worth = journal_worth(state, kind, journal, units);
    if alone(state, operator, worth, over) {
        return Ok(done_alone(crate::execute::execute(state, action, ctx)?, operator, worth, ctx));
    }
    match journal.request() {
        Some(asked) if asked.action == kind && asked.units == units && asked.audit.actor == audit.actor => {
            Err(Code::SecondOperatorRequired.into())
        }
        Some(asked) if asked.action == kind && asked.units == units => {
            crate::execute::execute(state, &with_reason(action, confirmed_reason(&audit, &asked.audit)), ctx)
        }
        _ => {
            // Only an action the journal allows now is recorded: try it, and keep nothing of it.
            crate::execute::execute(state, action, ctx)?;
            let request = ActionRequest { action: kind, units, audit, at: ctx.now };
            Ok(vec![ctx.event(EventKind::ActionRequested { id, request: Box::new(request) })])
        }
    }
}

/// The same operator journal command with another reason.
fn with_reason(command: &Command, text: String) -> Command {
    let mut command = command.clone();
    match &mut command {
        Command::ApproveJournal { audit, .. }
        | Command::RejectJournal { audit, .. }
        | Command::ReverseJournal { audit, .. }
        | Command::DeleteJournal { audit, .. }
        | Command::CorrectJournal { audit, .. } => audit.reason = text,
        Command::CancelJournal { reason, .. } => *reason = text,
        _ => {}
    }
    command
}

// ----- Every other operator action -----

fn other_action(state: &State, audit: &Audit, action: &Command, over: i64, ctx: &mut Ctx<'_>) -> Result<Vec<Event>, Rejection> {
    let operator = operator(audit)?;
    let worth = worth(state, action);
    if alone(state, operator, worth, over) {
        return Ok(done_alone(audited(state, audit, action, ctx)?, operator, worth, ctx));
    }
    let fingerprint = fingerprint(action);
    match state.confirmation(fingerprint) {
        Some(asked) if asked.audit.actor == audit.actor => Err(Code::SecondOperatorRequired.into()),
        Some(asked) => {
            let confirmer = Audit { actor: audit.actor.clone(), reason: confirmed_reason(audit, &asked.audit) };
            let mut events = audited(state, &confirmer, action, ctx)?;
            events.push(ctx.event(EventKind::ConfirmationGranted { fingerprint }));
            Ok(events)
        }
        None => {
            // Only an action the ledger allows now is recorded: try it, and keep nothing of it.
            audited(state, audit, action, ctx)?;
            let (name, subject) = crate::execute::audit_subject(action).ok_or(Code::NotFourEyes)?;
            let asked = Confirmation {
                fingerprint,
                action: name.to_owned(),
                subject,
                detail: describe(action),
                worth,
                audit: audit.clone(),
                at: ctx.now,
            };
            Ok(vec![ctx.event(EventKind::ConfirmationRequested(Box::new(asked)))])
        }
    }
}

/// What an account, transfer, key or asset action lets move ([module docs](self)).
fn worth(state: &State, action: &Command) -> i64 {
    match action {
        Command::SetAccountStatus { account, status, .. } => {
            let openness = |s: AccountStatus| match s {
                AccountStatus::Active => 2,
                AccountStatus::AccountClosed => 1,
                _ => 0,
            };
            let current = state.account(*account).map_or(AccountStatus::Active, |a| a.status);
            if openness(*status) > openness(current) {
                UNBOUNDED
            } else {
                0
            }
        }
        Command::SetAccountBlocks { account, blocks } => {
            let Some(current) = state.account(*account).map(|a| a.blocks) else { return 0 };
            let lifted = (current.account_blocked && !blocks.account_blocked)
                || (current.transfers_blocked && !blocks.transfers_blocked)
                || (current.trading_blocked && !blocks.trading_blocked);
            if lifted {
                UNBOUNDED
            } else {
                0
            }
        }
        Command::SetAccountLimits { account, limits } => {
            let Some(found) = state.account(*account) else { return 0 };
            let correspondent = state.correspondent(found.correspondent).map(|c| &c.config.limits);
            let new = limits.as_ref().or(correspondent);
            loosened(state.limits_for(found), new)
        }
        Command::SetOverdraft { account, currency, units } => {
            if *units > state.overdraft(*account, *currency) {
                *units
            } else {
                0
            }
        }
        Command::CreateTransfer { amount, complete_at_once, .. } => {
            if *complete_at_once {
                *amount
            } else {
                0
            }
        }
        Command::CompleteTransfer { id } | Command::ReturnTransfer { id } => state.transfer(*id).map_or(0, |t| t.amount),
        Command::DepositSecurities { symbol, qty, price, .. } => shares_or_cash_worth(state, Asset::Security(*symbol), *qty, *price),
        Command::ListAsset { symbol, price, .. } => match state.asset(*symbol) {
            None => 0,
            Some(listed) => match (listed.price, price) {
                (Some(was), Some(now)) if now >= &was => 0,
                (_, None) => 0,
                _ => UNBOUNDED,
            },
        },
        Command::IssueApiKey { owner: KeyOwner::Operator, .. } if !two_operators_ever(state) => 0,
        Command::IssueApiKey { .. } => UNBOUNDED,
        Command::RejectTransfer { .. } | Command::CancelTransfer { .. } | Command::RevokeApiKey { .. } => 0,
        _ => UNBOUNDED,
    }
}

/// Whether the ledger has ever held operator keys of two different names, revoked ones too.
fn two_operators_ever(state: &State) -> bool {
    let mut names = state.api_keys().filter(|k| k.owner == KeyOwner::Operator).filter_map(|k| k.name.as_deref());
    let Some(first) = names.next() else { return false };
    names.any(|n| n != first)
}

/// The largest new bound among the limits `new` loosens against `old`, or 0 when it loosens
/// none. A limit of `None` has no bound; a currency with no cash limit at all holds every
/// journal for approval, a bound of 0.
fn loosened(old: Option<&Limits>, new: Option<&Limits>) -> i64 {
    let (Some(old), Some(new)) = (old, new) else { return if new.is_none() && old.is_some() { UNBOUNDED } else { 0 } };
    let bound = |v: Option<i64>| v.unwrap_or(UNBOUNDED);
    let cash = |limits: &Limits, currency, per_journal: bool| match limits.cash_limit(currency) {
        None => 0,
        Some(l) => bound(if per_journal { l.per_journal } else { l.daily }),
    };
    let mut pairs = Vec::new();
    for currency in old.cash.iter().chain(&new.cash).map(|l| l.currency) {
        pairs.push((cash(old, currency, true), cash(new, currency, true)));
        pairs.push((cash(old, currency, false), cash(new, currency, false)));
    }
    pairs.push((bound(old.securities_per_journal_cents), bound(new.securities_per_journal_cents)));
    pairs.push((bound(old.securities_daily_cents), bound(new.securities_daily_cents)));
    pairs.into_iter().filter(|(was, now)| now > was).map(|(_, now)| now).max().unwrap_or(0)
}

/// A stable name for an action whoever asks for it: its command without the asker, and for a
/// new key without the id and secret that each asking mints afresh. It is the command's
/// `Debug` form, so a request left open across an upgrade may have to be asked again.
fn fingerprint(action: &Command) -> u128 {
    let mut canonical = action.clone();
    match &mut canonical {
        Command::SetAccountStatus { actor, .. } | Command::CreateTransfer { actor, .. } | Command::CancelTransfer { actor, .. } => {
            *actor = Actor::System;
        }
        Command::IssueApiKey { key_id, secret_sha256, .. } => {
            key_id.clear();
            *secret_sha256 = [0; 32];
        }
        _ => {}
    }
    let mut f = Fingerprint::new(KeyKind::Single);
    f.str("four-eyes");
    f.str(&format!("{canonical:?}"));
    f.finish()
}

/// What an action asks for, for the people who confirm it.
fn describe(action: &Command) -> String {
    let money = |units: i64| crate::decimal::format_fixed(i128::from(units), 2, 2);
    let opt = |v: Option<i64>| v.map_or_else(|| "none".to_owned(), money);
    match action {
        Command::SetAccountStatus { account, status, .. } => format!("account {account}: status to {}", status.as_str()),
        Command::SetAccountBlocks { account, blocks } => format!(
            "account {account}: blocks account {}, transfers {}, trading {}",
            blocks.account_blocked, blocks.transfers_blocked, blocks.trading_blocked
        ),
        Command::SetAccountLimits { account, limits: None } => format!("account {account}: its own limits removed"),
        Command::SetAccountLimits { account, limits: Some(l) } => {
            let cash: Vec<String> = l
                .cash
                .iter()
                .map(|c| format!("{} per journal {}, daily {}", c.currency.as_str(), opt(c.per_journal), opt(c.daily)))
                .collect();
            format!(
                "account {account}: limits {}; securities per journal {}, daily {} USD",
                cash.join("; "),
                opt(l.securities_per_journal_cents),
                opt(l.securities_daily_cents)
            )
        }
        Command::SetOverdraft { account, currency, units } => {
            format!("account {account}: overdraft {} {}", money(*units), currency.as_str())
        }
        Command::CreateTransfer { account, direction, amount, currency, .. } => {
            format!("account {account}: {} transfer of {} {}", direction.as_str(), money(*amount), currency.as_str())
        }
        Command::CompleteTransfer { id } => format!("transfer {id}: complete"),
        Command::ReturnTransfer { id } => format!("transfer {id}: return"),
        Command::DepositSecurities { account, symbol, qty, .. } => {
            format!("account {account}: deposit {} {}", crate::decimal::format(*qty, crate::money::QTY_SCALE), symbol.as_str())
        }
        Command::ListAsset { symbol, price, .. } => format!(
            "asset {}: price {}",
            symbol.as_str(),
            price.map_or_else(|| "none".to_owned(), |p| crate::decimal::format(p, crate::money::PRICE_SCALE))
        ),
        Command::IssueApiKey { owner: KeyOwner::Operator, name, .. } => {
            format!("a new operator key for {}", name.as_deref().unwrap_or("?"))
        }
        Command::IssueApiKey { owner: KeyOwner::Correspondent(id), name, .. } => {
            format!("a new key for correspondent {id} ({})", name.as_deref().unwrap_or("no label"))
        }
        other => format!("{other:?}"),
    }
}
