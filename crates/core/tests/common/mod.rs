//! A ledger driven the way the sequencer drives it: execute, then apply, then check invariants.
#![allow(dead_code)]

use cashier_core::*;

pub const DAY0: Date = Date(20_000); // 2024-10-04, a Friday

pub struct Ledger {
    pub state: State,
    pub ids: SequentialIds,
    pub now: Timestamp,
    pub log: Vec<Event>,
}

pub fn dollars(d: i64) -> i64 {
    d * 100
}

pub fn shares(s: i64) -> i64 {
    s * 1_000_000_000
}

pub fn price_dollars(d: i64) -> i64 {
    d * 1_000_000_000
}

pub fn operator(reason: &str) -> Audit {
    Audit { actor: Actor::Operator("ops@example.com".into()), reason: reason.into() }
}

impl Ledger {
    pub fn new() -> Ledger {
        Ledger { state: State::new(DAY0), ids: SequentialIds::starting_at(1), now: Timestamp(1_700_000_000_000_000), log: Vec::new() }
    }

    /// Executes and applies; checks the invariants after every command that succeeds.
    pub fn run(&mut self, command: Command) -> Result<Vec<Event>, Rejection> {
        self.now.0 += 1_000;
        let before = self.state.clone();
        let mut ctx = Ctx { now: self.now, ids: &mut self.ids };
        let result = execute(&self.state, &command, &mut ctx);
        match &result {
            Ok(events) => {
                for event in events {
                    self.state.apply(event);
                }
                self.log.extend(events.iter().cloned());
                if let Err(broken) = self.state.check_invariants() {
                    panic!("invariant broken after {command:?}: {broken}");
                }
            }
            Err(_) => assert_eq!(self.state, before, "a rejected command changed the state"),
        }
        result
    }

    pub fn ok(&mut self, command: Command) -> Vec<Event> {
        let shown = format!("{command:?}");
        self.run(command).unwrap_or_else(|r| panic!("{shown} was rejected: {r:?}"))
    }

    pub fn code(&mut self, command: Command) -> Code {
        let shown = format!("{command:?}");
        match self.run(command) {
            Ok(events) => panic!("{shown} succeeded with {events:?}"),
            Err(r) => r.code,
        }
    }

    pub fn correspondent(&mut self, code: &str, config: CorrespondentConfig) -> CorrespondentId {
        let events = self.ok(Command::CreateCorrespondent { code: code.into(), name: format!("{code} Securities"), config });
        match &events[0].kind {
            EventKind::CorrespondentCreated(c) => c.id,
            other => panic!("unexpected {other:?}"),
        }
    }

    pub fn account(&mut self, correspondent: CorrespondentId, kind: AccountKind) -> AccountId {
        let command = Command::open_account(Actor::Operator("setup".into()), correspondent, kind, String::new());
        match &self.ok(command)[0].kind {
            EventKind::AccountOpened { account, .. } => account.id,
            other => panic!("unexpected {other:?}"),
        }
    }

    pub fn fund(&mut self, account: AccountId, amount: i64) {
        self.ok(Command::wire_in(Actor::Operator("setup".into()), account, amount));
    }

    pub fn list(&mut self, symbol: &str, fractionable: bool, price: Option<i64>) -> Symbol {
        let symbol = Symbol::parse(symbol).unwrap();
        self.ok(Command::ListAsset {
            symbol,
            name: format!("{symbol} Inc."),
            exchange: "NASDAQ".into(),
            class: "us_equity".into(),
            fractionable,
            price,
        });
        symbol
    }

    pub fn cash(&self, account: AccountId) -> i64 {
        self.state.balance(Book::Account(account), Asset::Cash(Currency::USD)).posted
    }

    pub fn qty(&self, account: AccountId, symbol: Symbol) -> i64 {
        self.state.balance(Book::Account(account), Asset::Security(symbol)).posted
    }

    pub fn status(&self, id: JournalId) -> JournalStatus {
        self.state.journal(id).expect("journal exists").status
    }

    /// Creates a journal and returns its id (the first journal the events create).
    pub fn journal(&mut self, actor: Actor, request: JournalRequest) -> Result<JournalId, Code> {
        let events = self.run(Command::CreateJournal { actor, request, key: None }).map_err(|r| r.code)?;
        Ok(created(&events)[0])
    }

    /// Moves a queued journal through clearing.
    pub fn clear(&mut self, id: JournalId) -> JournalStatus {
        self.ok(Command::SendToClearing { id });
        self.ok(Command::BookJournal { id });
        self.status(id)
    }
}

/// The ids of the journals some events create.
pub fn created(events: &[Event]) -> Vec<JournalId> {
    events
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::JournalCreated { journal, .. } => Some(journal.id),
            _ => None,
        })
        .collect()
}

/// A correspondent with a funded firm account, two active customers, and two assets: AAPL
/// (fractionable, $100) and BRK (whole shares only, $500), with 100 AAPL and 10 BRK in the firm.
pub struct World {
    pub ledger: Ledger,
    pub corr: CorrespondentId,
    pub actor: Actor,
    pub firm: AccountId,
    pub alice: AccountId,
    pub bob: AccountId,
    pub aapl: Symbol,
    pub brk: Symbol,
}

impl World {
    pub fn new(config: CorrespondentConfig) -> World {
        let mut ledger = Ledger::new();
        let corr = ledger.correspondent("LPCA", config);
        let firm = ledger.account(corr, AccountKind::Firm);
        let alice = ledger.account(corr, AccountKind::Customer);
        let bob = ledger.account(corr, AccountKind::Customer);
        ledger.fund(firm, dollars(10_000));
        let aapl = ledger.list("AAPL", true, Some(price_dollars(100)));
        let brk = ledger.list("BRK", false, Some(price_dollars(500)));
        ledger.ok(Command::DepositSecurities { account: firm, symbol: aapl, qty: shares(100), price: None });
        ledger.ok(Command::DepositSecurities { account: firm, symbol: brk, qty: shares(10), price: None });
        World { ledger, corr, actor: Actor::Correspondent(corr), firm, alice, bob, aapl, brk }
    }

    pub fn standard() -> World {
        World::new(CorrespondentConfig::default())
    }

    pub fn pay(&mut self, to: AccountId, amount: i64) -> Result<JournalId, Code> {
        let request = JournalRequest::cash(self.firm, to, amount);
        self.ledger.journal(self.actor.clone(), request)
    }

    /// Pays a customer from the firm and returns the journal's starting status.
    pub fn paid_status(&mut self, to: AccountId, amount: i64) -> JournalStatus {
        let id = self.pay(to, amount).expect("the payment is accepted");
        self.ledger.status(id)
    }
}
