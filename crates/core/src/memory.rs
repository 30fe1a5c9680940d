//! An in-memory ledger for tests, tools and benchmarks: the state, sequential ids, and a clock
//! that advances one microsecond per command.

use crate::command::Command;
use crate::event::{Event, EventKind};
use crate::execute::{execute, Ctx, SequentialIds};
use crate::ids::{AccountId, CorrespondentId, Date, Timestamp};
use crate::model::{AccountKind, Actor, CorrespondentConfig};
use crate::rejection::Rejection;
use crate::state::State;

pub struct InMemory {
    pub state: State,
    pub ids: SequentialIds,
    pub now: Timestamp,
}

impl InMemory {
    pub fn new(business_date: Date) -> InMemory {
        InMemory { state: State::new(business_date), ids: SequentialIds::starting_at(1), now: Timestamp(1_700_000_000_000_000) }
    }

    /// Executes and applies one command.
    pub fn run(&mut self, command: &Command) -> Result<Vec<Event>, Rejection> {
        self.now.0 += 1;
        let mut ctx = Ctx { now: self.now, ids: &mut self.ids };
        let events = execute(&self.state, command, &mut ctx)?;
        for event in &events {
            self.state.apply(event);
        }
        Ok(events)
    }

    /// Creates a correspondent and returns its id. Panics if refused (a setup mistake).
    pub fn correspondent(&mut self, code: &str, config: CorrespondentConfig) -> CorrespondentId {
        let events =
            self.run(&Command::CreateCorrespondent { code: code.into(), name: code.into(), config }).expect("a valid correspondent");
        match &events[0].kind {
            EventKind::CorrespondentCreated(c) => c.id,
            other => unreachable!("{other:?}"),
        }
    }

    /// Credits an account with USD from the bank, by a wire completed at once.
    pub fn fund(&mut self, account: AccountId, amount: i64) {
        self.run(&Command::wire_in(Actor::System, account, amount)).expect("a valid funding transfer");
    }

    /// Opens an active USD account and returns its id. Panics if refused (a setup mistake).
    pub fn account(&mut self, correspondent: CorrespondentId, kind: AccountKind) -> AccountId {
        let command = Command::open_account(Actor::System, correspondent, kind, String::new());
        match &self.run(&command).expect("a valid account")[0].kind {
            EventKind::AccountOpened { account, .. } => account.id,
            other => unreachable!("{other:?}"),
        }
    }
}
