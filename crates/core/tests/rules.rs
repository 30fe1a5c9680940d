//! Every journal rule as a table: each row a request and its outcome.

mod common;

use cashier_core::*;
use common::*;

#[test]
fn direction_rules() {
    let mut w = World::standard();
    let corr = w.corr;
    let firm2 = w.ledger.account(corr, AccountKind::Firm);
    w.ledger.fund(firm2, dollars(100));
    w.ledger.fund(w.alice, dollars(100));
    let (firm, alice, bob, aapl) = (w.firm, w.alice, w.bob, w.aapl);
    let rows: Vec<(&str, JournalRequest, Result<(), Code>)> = vec![
        ("cash firm to customer", JournalRequest::cash(firm, alice, 10), Ok(())),
        ("cash customer to firm", JournalRequest::cash(alice, firm, 10), Ok(())),
        ("cash customer to customer", JournalRequest::cash(alice, bob, 10), Err(Code::CustomerToCustomer)),
        ("cash firm to firm", JournalRequest::cash(firm, firm2, 10), Err(Code::FirmToFirm)),
        ("shares firm to customer", JournalRequest::securities(firm, alice, aapl, 1), Ok(())),
        ("shares customer to firm", JournalRequest::securities(alice, firm, aapl, 1), Err(Code::SecuritiesDirection)),
        ("shares customer to customer", JournalRequest::securities(alice, bob, aapl, 1), Err(Code::CustomerToCustomer)),
        ("shares firm to firm", JournalRequest::securities(firm, firm2, aapl, 1), Err(Code::FirmToFirm)),
    ];
    for (name, request, want) in rows {
        let got = w.ledger.journal(w.actor.clone(), request).map(|_| ());
        assert_eq!(got, want, "{name}");
    }
}

#[test]
fn shape_rules() {
    let mut w = World::standard();
    let (firm, alice, aapl) = (w.firm, w.alice, w.aapl);
    let cash = JournalRequest::cash(firm, alice, 10);
    let shares_req = JournalRequest::securities(firm, alice, aapl, shares(1));
    let long = |n: usize| "x".repeat(n);
    let rows: Vec<(&str, JournalRequest, Result<(), Code>)> = vec![
        ("cash without amount", JournalRequest { amount: None, ..cash.clone() }, Err(Code::AmountRequired)),
        ("shares with amount", JournalRequest { amount: Some(10), ..shares_req.clone() }, Err(Code::AmountNotAllowed)),
        ("shares without symbol", JournalRequest { symbol: None, ..shares_req.clone() }, Err(Code::SymbolRequired)),
        ("shares without qty", JournalRequest { qty: None, ..shares_req.clone() }, Err(Code::QtyRequired)),
        ("cash with symbol", JournalRequest { symbol: Some(aapl), ..cash.clone() }, Err(Code::SymbolNotAllowed)),
        ("cash with qty", JournalRequest { qty: Some(1), ..cash.clone() }, Err(Code::SymbolNotAllowed)),
        ("zero amount", JournalRequest { amount: Some(0), ..cash.clone() }, Err(Code::AmountNotPositive)),
        ("negative amount", JournalRequest { amount: Some(-5), ..cash.clone() }, Err(Code::AmountNotPositive)),
        ("zero qty", JournalRequest { qty: Some(0), ..shares_req.clone() }, Err(Code::QtyNotPositive)),
        ("description at the limit", JournalRequest { description: long(1024), ..cash.clone() }, Ok(())),
        ("description too long", JournalRequest { description: long(1025), ..cash.clone() }, Err(Code::DescriptionTooLong)),
        (
            "transmitter field too long",
            JournalRequest { transmitter: Some(Box::new(Transmitter { name: Some(long(256)), ..Default::default() })), ..cash.clone() },
            Err(Code::TextTooLong),
        ),
        (
            "transmitter field at the limit",
            JournalRequest { transmitter: Some(Box::new(Transmitter { address: Some(long(255)), ..Default::default() })), ..cash.clone() },
            Ok(()),
        ),
        ("same account", JournalRequest { to: firm, ..cash.clone() }, Err(Code::SameAccount)),
        ("unknown from", JournalRequest { from: AccountId(999_999), ..cash.clone() }, Err(Code::AccountNotFound)),
        ("unknown to", JournalRequest { to: AccountId(999_999), ..cash.clone() }, Err(Code::AccountNotFound)),
        ("unknown symbol", JournalRequest { symbol: Some(Symbol::parse("ZZZZ").unwrap()), ..shares_req.clone() }, Err(Code::AssetNotFound)),
        ("fraction of a whole-share asset", JournalRequest::securities(firm, alice, w.brk, shares(1) / 2), Err(Code::NotFractionable)),
        ("whole share of a whole-share asset", JournalRequest::securities(firm, alice, w.brk, shares(1)), Ok(())),
    ];
    for (name, request, want) in rows {
        let got = w.ledger.journal(w.actor.clone(), request).map(|_| ());
        assert_eq!(got, want, "{name}");
    }
}

#[test]
fn the_first_failing_rule_in_precedence_order_is_reported() {
    let mut w = World::standard();
    let (firm, alice, bob) = (w.firm, w.alice, w.bob);
    w.ledger.ok(Command::SetAccountBlocks { account: bob, blocks: Blocks { account_blocked: true, ..Default::default() } });
    let rows: Vec<(JournalRequest, Code)> = vec![
        // Shape beats existence: a zero amount to an unknown account.
        (JournalRequest { amount: Some(0), ..JournalRequest::cash(firm, AccountId(5), 1) }, Code::AmountNotPositive),
        // Existence beats direction: customer to an unknown account.
        (JournalRequest::cash(alice, AccountId(5), 1), Code::AccountNotFound),
        // Direction beats status: customer to a blocked customer.
        (JournalRequest::cash(alice, bob, 1), Code::CustomerToCustomer),
        // Status beats funds: firm to a blocked customer, more than the firm has.
        (JournalRequest::cash(firm, bob, dollars(1_000_000)), Code::AccountBlocked),
        // Funds: more than the firm has.
        (JournalRequest::cash(firm, alice, dollars(1_000_000)), Code::InsufficientFunds),
    ];
    for (request, want) in rows {
        assert_eq!(w.ledger.journal(w.actor.clone(), request.clone()), Err(want), "{request:?}");
    }
}

#[test]
fn account_status_rules() {
    for &status in AccountStatus::ALL {
        let mut w = World::standard();
        let (firm, alice) = (w.firm, w.alice);
        w.ledger.fund(alice, dollars(10));
        w.ledger.ok(Command::SetAccountStatus { actor: w.actor.clone(), account: alice, status });
        let into = w.ledger.journal(w.actor.clone(), JournalRequest::cash(firm, alice, 10));
        let out_of = w.ledger.journal(w.actor.clone(), JournalRequest::cash(alice, firm, 10));
        let want_into = if status == AccountStatus::Active { Ok(()) } else { Err(Code::ToAccountInactive) };
        let want_out =
            if matches!(status, AccountStatus::Active | AccountStatus::AccountClosed) { Ok(()) } else { Err(Code::FromAccountInactive) };
        assert_eq!(into.map(|_| ()), want_into, "into a {status} account");
        assert_eq!(out_of.map(|_| ()), want_out, "out of a {status} account");
    }
}

#[test]
fn blocks() {
    let rows = [
        (Blocks { account_blocked: true, ..Default::default() }, Err(Code::AccountBlocked)),
        (Blocks { transfers_blocked: true, ..Default::default() }, Err(Code::TransfersBlocked)),
        (Blocks { trading_blocked: true, ..Default::default() }, Ok(())),
    ];
    for (blocks, want) in rows {
        let mut w = World::standard();
        w.ledger.ok(Command::SetAccountBlocks { account: w.alice, blocks });
        assert_eq!(w.pay(w.alice, 10).map(|_| ()), want, "{blocks:?}");
        let transfer = w.ledger.run(Command::CreateTransfer {
            actor: w.actor.clone(),
            account: w.alice,
            direction: TransferDirection::Incoming,
            kind: TransferKind::Ach,
            currency: Currency::USD,
            amount: 100,
            complete_at_once: true,
        });
        assert_eq!(transfer.map(|_| ()).map_err(|r| r.code), want, "transfer with {blocks:?}");
    }
}

#[test]
fn funds_are_checked_at_creation_and_again_at_booking() {
    let mut w = World::standard();
    let alice = w.alice;
    w.ledger.ok(Command::SetAccountLimits { account: alice, limits: Some(Limits::unlimited()) });
    // Everything the firm has: accepted, twice, because nothing is booked yet.
    let first = w.pay(alice, dollars(10_000)).unwrap();
    let second = w.pay(alice, dollars(10_000)).unwrap();
    assert_eq!(w.pay(alice, dollars(10_000) + 1), Err(Code::InsufficientFunds));
    assert_eq!(w.ledger.clear(first), JournalStatus::Executed);
    // The replay in close succession: it no longer fits, so it is refused and books nothing.
    assert_eq!(w.ledger.clear(second), JournalStatus::Refused);
    assert_eq!(w.ledger.cash(w.firm), 0);
    assert_eq!(w.ledger.cash(alice), dollars(10_000));
    // Shares likewise.
    let request = JournalRequest::securities(w.firm, alice, w.aapl, shares(101));
    assert_eq!(w.ledger.journal(w.actor.clone(), request), Err(Code::InsufficientQty));
}

#[test]
fn overdraft_lets_a_firm_account_go_below_zero_to_its_limit() {
    let mut w = World::standard();
    let (firm, alice) = (w.firm, w.alice);
    w.ledger.ok(Command::SetAccountLimits { account: alice, limits: Some(Limits::unlimited()) });
    assert_eq!(w.pay(alice, dollars(10_500)), Err(Code::InsufficientFunds));
    assert_eq!(w.ledger.code(Command::SetOverdraft { account: alice, currency: Currency::USD, units: 1 }), Code::NotFirmAccount);
    assert_eq!(w.ledger.code(Command::SetOverdraft { account: firm, currency: Currency::USD, units: -1 }), Code::LimitNegative);
    w.ledger.ok(Command::SetOverdraft { account: firm, currency: Currency::USD, units: dollars(500) });
    let id = w.pay(alice, dollars(10_500)).unwrap();
    assert_eq!(w.ledger.clear(id), JournalStatus::Executed);
    assert_eq!(w.ledger.cash(firm), -dollars(500));
    // The overdraft cannot be removed while it is in use.
    assert_eq!(w.ledger.code(Command::SetOverdraft { account: firm, currency: Currency::USD, units: 0 }), Code::InsufficientFunds);
}

#[test]
fn limits_hold_journals_into_customers_as_pending() {
    let mut w = World::standard();
    let (firm, alice, bob) = (w.firm, w.alice, w.bob);
    // Per journal: $50 passes, $50.01 waits.
    let at_limit = w.pay(alice, dollars(50)).unwrap();
    let over = w.pay(alice, dollars(50) + 1).unwrap();
    assert_eq!(w.ledger.status(at_limit), JournalStatus::Queued);
    assert_eq!(w.ledger.status(over), JournalStatus::Pending);
    assert_eq!(w.ledger.state.journal(over).unwrap().hold, Hold::OverLimit);
    // Daily: $1,000 a day per customer; the pending journal did not count.
    for _ in 0..19 {
        assert_eq!(w.paid_status(alice, dollars(50)), JournalStatus::Queued);
    }
    let twenty_first = w.pay(alice, 1).unwrap();
    assert_eq!(w.ledger.status(twenty_first), JournalStatus::Pending);
    // Another customer has a day of its own.
    assert_eq!(w.paid_status(bob, dollars(50)), JournalStatus::Queued);
    // Money coming back from a customer is not limited.
    w.ledger.fund(bob, dollars(5_000));
    let back = w.ledger.journal(w.actor.clone(), JournalRequest::cash(bob, firm, dollars(5_000))).unwrap();
    assert_eq!(w.ledger.status(back), JournalStatus::Queued);
    // Securities by value: 0.5 AAPL is $50, 0.51 is $51.
    let half = w.ledger.journal(w.actor.clone(), JournalRequest::securities(firm, bob, w.aapl, shares(1) / 2)).unwrap();
    let more = w.ledger.journal(w.actor.clone(), JournalRequest::securities(firm, bob, w.aapl, shares(51) / 100)).unwrap();
    assert_eq!(w.ledger.status(half), JournalStatus::Queued);
    assert_eq!(w.ledger.status(more), JournalStatus::Pending);
}

#[test]
fn limits_are_configurable_per_account_and_per_currency() {
    let mut w = World::standard();
    let (firm, alice, bob) = (w.firm, w.alice, w.bob);
    let mut generous = Limits::default();
    generous.cash[0].per_journal = Some(dollars(5_000));
    w.ledger.ok(Command::SetAccountLimits { account: alice, limits: Some(generous) });
    assert_eq!(w.paid_status(alice, dollars(500)), JournalStatus::Queued);
    assert_eq!(w.paid_status(bob, dollars(500)), JournalStatus::Pending);
    let negative = Limits { securities_daily_cents: Some(-1), ..Limits::default() };
    assert_eq!(w.ledger.code(Command::SetAccountLimits { account: bob, limits: Some(negative) }), Code::LimitNegative);
    // A currency with no configured limit is held for approval.
    let eur = Currency::parse("EUR").unwrap();
    w.ledger.ok(Command::CreateTransfer {
        actor: w.actor.clone(),
        account: firm,
        direction: TransferDirection::Incoming,
        kind: TransferKind::Wire,
        currency: eur,
        amount: 10_000,
        complete_at_once: true,
    });
    let request = JournalRequest { currency: eur, ..JournalRequest::cash(firm, bob, 100) };
    let id = w.ledger.journal(w.actor.clone(), request).unwrap();
    assert_eq!(w.ledger.status(id), JournalStatus::Pending);
}

#[test]
fn business_days_reset_counters_and_release_over_limit_journals() {
    let mut w = World::standard();
    let alice = w.alice;
    for _ in 0..20 {
        w.pay(alice, dollars(50)).unwrap();
    }
    let held = w.pay(alice, dollars(50)).unwrap();
    let big = w.pay(alice, dollars(60)).unwrap();
    assert_eq!(w.ledger.status(held), JournalStatus::Pending);
    assert_eq!(w.ledger.code(Command::AdvanceBusinessDay { to: DAY0 }), Code::BusinessDateNotAfter);
    w.ledger.ok(Command::AdvanceBusinessDay { to: DAY0.next() });
    assert_eq!(w.ledger.state.business_date(), DAY0.next());
    assert_eq!(w.ledger.status(held), JournalStatus::Queued);
    assert_eq!(w.ledger.status(big), JournalStatus::Queued);
    assert_eq!(w.ledger.state.daily_used(alice, LimitKey::Cash(Currency::USD)), 0);
    assert_eq!(w.paid_status(alice, dollars(50)), JournalStatus::Queued);
    // Without release configured, over-limit journals wait for an operator.
    let config = CorrespondentConfig { release_pending_at_day_start: false, ..Default::default() };
    let mut w = World::new(config);
    let waiting = w.pay(w.alice, dollars(60)).unwrap();
    w.ledger.ok(Command::AdvanceBusinessDay { to: DAY0.next() });
    assert_eq!(w.ledger.status(waiting), JournalStatus::Pending);
}

#[test]
fn sandbox_fixtures() {
    let mut w = World::standard();
    let (firm, alice) = (w.firm, w.alice);
    let with = |description: &str| JournalRequest { description: format!("reward {description}"), ..JournalRequest::cash(firm, alice, 10) };
    let reject = w.ledger.journal(w.actor.clone(), with(FIXTURE_REJECTED)).unwrap();
    let pend = w.ledger.journal(w.actor.clone(), with(FIXTURE_PENDING)).unwrap();
    assert_eq!(w.ledger.status(reject), JournalStatus::Queued);
    assert_eq!(w.ledger.status(pend), JournalStatus::Pending);
    assert_eq!(w.ledger.code(Command::SendToClearing { id: reject }), Code::JournalHeld);
    w.ledger.ok(Command::AdvanceBusinessDay { to: DAY0.next() });
    assert_eq!(w.ledger.status(reject), JournalStatus::Rejected);
    assert_eq!(w.ledger.status(pend), JournalStatus::Pending, "pending forever, not released at day start");
    // Outside the sandbox the text is only a description.
    let mut w = World::new(CorrespondentConfig { fixtures: false, ..Default::default() });
    let plain = w
        .ledger
        .journal(w.actor.clone(), JournalRequest { description: FIXTURE_PENDING.into(), ..JournalRequest::cash(w.firm, w.alice, 10) })
        .unwrap();
    assert_eq!(w.ledger.status(plain), JournalStatus::Queued);
}

#[test]
fn correspondents_see_only_their_own() {
    let mut w = World::standard();
    let other = w.ledger.correspondent("OTHR", CorrespondentConfig::default());
    let other_firm = w.ledger.account(other, AccountKind::Firm);
    let other_customer = w.ledger.account(other, AccountKind::Customer);
    w.ledger.fund(other_firm, dollars(100));
    let mine = w.pay(w.alice, 10).unwrap();
    let theirs = w.ledger.journal(Actor::Correspondent(other), JournalRequest::cash(other_firm, other_customer, 10)).unwrap();
    // Their accounts do not exist for me, nor mine for them, nor a mix of the two.
    assert_eq!(w.ledger.journal(w.actor.clone(), JournalRequest::cash(other_firm, other_customer, 10)), Err(Code::AccountNotFound));
    assert_eq!(w.ledger.journal(w.actor.clone(), JournalRequest::cash(w.firm, other_customer, 10)), Err(Code::AccountNotFound));
    assert_eq!(
        w.ledger.journal(Actor::Operator("ops".into()), JournalRequest::cash(w.firm, other_customer, 10)),
        Err(Code::CorrespondentOnly),
        "operators never create journals"
    );
    let cancel = |actor: &Actor, id| Command::CancelJournal { actor: actor.clone(), id, reason: String::new() };
    assert_eq!(w.ledger.code(cancel(&w.actor, theirs)), Code::JournalNotFound);
    assert_eq!(w.ledger.code(cancel(&Actor::Correspondent(other), mine)), Code::JournalNotFound);
    w.ledger.ok(cancel(&w.actor, mine));
    // Correspondents open customer accounts for themselves only, and no firm accounts.
    let open = |actor: Actor, correspondent, kind| Command::OpenAccount {
        actor,
        correspondent,
        kind,
        status: AccountStatus::Active,
        currency: Currency::USD,
        profile: String::new(),
        email: None,
    };
    assert_eq!(w.ledger.code(open(w.actor.clone(), other, AccountKind::Customer)), Code::CorrespondentNotFound);
    assert_eq!(w.ledger.code(open(w.actor.clone(), w.corr, AccountKind::Firm)), Code::OperatorOnly);
    w.ledger.ok(open(w.actor.clone(), w.corr, AccountKind::Customer));
    // A contact email opens one account per correspondent, whatever its case and spacing.
    let customer = |actor: Actor, correspondent, email: &str| Command::open_customer(actor, correspondent, "{}".into(), email);
    w.ledger.ok(customer(w.actor.clone(), w.corr, "Ada@Example.com"));
    assert_eq!(w.ledger.code(customer(w.actor.clone(), w.corr, " ada@example.COM ")), Code::EmailInUse);
    w.ledger.ok(customer(Actor::Correspondent(other), other, "ada@example.com"));
    let restored = State::restore(w.ledger.state.to_parts()).unwrap();
    assert_eq!(restored, w.ledger.state, "emails survive a restore");
    assert!(restored.account_by_email(w.corr, "ada@example.com").is_some());
}

#[test]
fn correspondent_and_asset_setup_rules() {
    let mut w = World::standard();
    let config = CorrespondentConfig::default;
    let create = |code: &str, name: &str| Command::CreateCorrespondent { code: code.into(), name: name.into(), config: config() };
    assert_eq!(w.ledger.code(create("LPCA", "Again")), Code::AlreadyExists);
    assert_eq!(w.ledger.code(create("lp", "Lower")), Code::InvalidName);
    assert_eq!(w.ledger.code(create("ABCDEFGHI", "Long")), Code::InvalidName);
    assert_eq!(w.ledger.code(create("ABCD", "")), Code::InvalidName);
    let symbol = w.aapl;
    let list = |price| Command::ListAsset {
        symbol,
        name: "Apple".into(),
        exchange: "NASDAQ".into(),
        class: "us_equity".into(),
        fractionable: true,
        price,
    };
    assert_eq!(w.ledger.code(list(Some(0))), Code::AmountNotPositive);
    let id = w.ledger.state.asset(symbol).unwrap().id;
    w.ledger.ok(list(Some(price_dollars(120))));
    assert_eq!(w.ledger.state.asset(symbol).unwrap().id, id, "updating an asset keeps its id");
    assert_eq!(w.ledger.state.asset(symbol).unwrap().price, Some(price_dollars(120)));
    let deposit = |account, qty| Command::DepositSecurities { account, symbol, qty, price: None };
    assert_eq!(w.ledger.code(deposit(w.alice, shares(1))), Code::NotFirmAccount);
    assert_eq!(w.ledger.code(deposit(w.firm, 0)), Code::QtyNotPositive);
    let unpriced = w.ledger.list("NOPX", true, None);
    assert_eq!(
        w.ledger.code(Command::DepositSecurities { account: w.firm, symbol: unpriced, qty: 1, price: None }),
        Code::PriceUnavailable
    );
    w.ledger.ok(Command::DepositSecurities { account: w.firm, symbol: unpriced, qty: shares(3), price: Some(price_dollars(2)) });
    let request = JournalRequest::securities(w.firm, w.alice, unpriced, shares(1));
    assert_eq!(w.ledger.journal(w.actor.clone(), request), Err(Code::PriceUnavailable));
}

#[test]
fn api_keys() {
    let mut w = World::standard();
    let issue = |key_id: &str, owner| Command::IssueApiKey { key_id: key_id.into(), name: None, owner, secret_sha256: [7; 32] };
    let mine = KeyOwner::Correspondent(w.corr);
    w.ledger.ok(issue("CKTESTKEY0001", mine));
    let operator_key = |name: Option<&str>| Command::IssueApiKey {
        key_id: "OPSKEY0001".into(),
        name: name.map(str::to_owned),
        owner: KeyOwner::Operator,
        secret_sha256: [7; 32],
    };
    assert_eq!(w.ledger.code(operator_key(None)), Code::InvalidName, "an operator key is for a named person");
    assert_eq!(w.ledger.code(operator_key(Some("  "))), Code::InvalidName);
    w.ledger.ok(operator_key(Some("Ann")));
    assert_eq!(w.ledger.code(issue("CKTESTKEY0001", mine)), Code::AlreadyExists);
    assert_eq!(w.ledger.code(issue("short", mine)), Code::KeyIdInvalid);
    assert_eq!(w.ledger.code(issue("lowercase123", mine)), Code::KeyIdInvalid);
    assert_eq!(w.ledger.code(issue("CKOTHER00001", KeyOwner::Correspondent(CorrespondentId(5)))), Code::CorrespondentNotFound);
    let key = w.ledger.state.api_key("CKTESTKEY0001").unwrap();
    assert_eq!((key.owner, key.secret_sha256, key.revoked), (mine, [7; 32], false));
    w.ledger.ok(Command::RevokeApiKey { key_id: "CKTESTKEY0001".into() });
    assert!(w.ledger.state.api_key("CKTESTKEY0001").unwrap().revoked);
    assert!(w.ledger.ok(Command::RevokeApiKey { key_id: "CKTESTKEY0001".into() }).is_empty(), "revoking twice changes nothing");
    assert_eq!(w.ledger.code(Command::RevokeApiKey { key_id: "NOSUCHKEY1".into() }), Code::ApiKeyNotFound);
}

#[test]
fn four_eyes_takes_a_second_operator_over_the_threshold() {
    let mut w = World::new(CorrespondentConfig { limits: Limits::unlimited(), ..Default::default() });
    let (firm, alice) = (w.firm, w.alice);
    let by = |name: &str, reason: &str| Audit { actor: Actor::Operator(name.into()), reason: reason.into() };
    let four_eyes = |action: Command| Command::FourEyes { action: Box::new(action), over: dollars(100) };
    let small = w.pay(alice, dollars(100)).unwrap();
    let big = w.pay(alice, dollars(101)).unwrap();
    w.ledger.clear(small);
    w.ledger.clear(big);
    // At or under the threshold one operator is enough.
    w.ledger.ok(four_eyes(Command::ReverseJournal { id: small, audit: by("ann", "duplicate") }));
    assert_eq!(w.ledger.status(small), JournalStatus::Canceled);
    // Over it, the first asks, the same operator cannot confirm, a second one does.
    let events = w.ledger.ok(four_eyes(Command::ReverseJournal { id: big, audit: by("ann", "duplicate") }));
    assert!(matches!(&events[..], [Event { kind: EventKind::ActionRequested { .. }, .. }]), "{events:?}");
    assert_eq!(w.ledger.status(big), JournalStatus::Executed);
    let asked = w.ledger.state.journal(big).unwrap().request().cloned().unwrap();
    assert_eq!((asked.action, asked.audit.reason.as_str()), (OpsAction::Reverse, "duplicate"));
    assert_eq!(w.ledger.code(four_eyes(Command::ReverseJournal { id: big, audit: by("ann", "again") })), Code::SecondOperatorRequired);
    // A different action by the second operator is a new request, not a confirmation.
    w.ledger.ok(four_eyes(Command::CorrectJournal { id: big, units: dollars(200), audit: by("bob", "wrong amount") }));
    assert_eq!(w.ledger.status(big), JournalStatus::Executed);
    assert_eq!(w.ledger.state.journal(big).unwrap().request().unwrap().action, OpsAction::Correct);
    // The same correction with other units is yet another request; the same by another confirms.
    w.ledger.ok(four_eyes(Command::CorrectJournal { id: big, units: dollars(150), audit: by("ann", "wrong amount") }));
    assert_eq!(w.ledger.status(big), JournalStatus::Executed);
    let cash = w.ledger.cash(alice);
    let events = w.ledger.ok(four_eyes(Command::CorrectJournal { id: big, units: dollars(150), audit: by("bob", "agreed") }));
    assert_eq!(w.ledger.status(big), JournalStatus::Correct);
    assert_eq!(w.ledger.cash(alice), cash + dollars(49));
    assert!(w.ledger.state.journal(big).unwrap().request().is_none(), "carried out, the request is gone");
    let audit = events
        .iter()
        .find_map(|e| match &e.kind {
            EventKind::JournalStatusChanged(c) if c.id == big => c.audit.clone(),
            _ => None,
        })
        .unwrap();
    assert_eq!(audit.actor, Actor::Operator("bob".into()));
    assert!(audit.reason.contains("agreed") && audit.reason.contains("operator ann"), "{}", audit.reason);
    // An action the journal does not allow now is refused, not recorded.
    let done = w.pay(alice, dollars(500)).unwrap();
    w.ledger.clear(done);
    assert_eq!(w.ledger.code(four_eyes(Command::ApproveJournal { id: done, audit: by("ann", "again") })), Code::InvalidTransition);
    assert!(w.ledger.state.journal(done).unwrap().request().is_none());
    // Shares count at their price: 2 AAPL at $100 is $200, over the threshold.
    let shares_to_alice = w.ledger.journal(w.actor.clone(), JournalRequest::securities(firm, alice, w.aapl, shares(2))).unwrap();
    w.ledger.clear(shares_to_alice);
    w.ledger.ok(four_eyes(Command::DeleteJournal { id: shares_to_alice, audit: by("ann", "wrong customer") }));
    assert_eq!(w.ledger.status(shares_to_alice), JournalStatus::Executed);
    w.ledger.ok(four_eyes(Command::DeleteJournal { id: shares_to_alice, audit: by("bob", "confirmed") }));
    assert_eq!(w.ledger.status(shares_to_alice), JournalStatus::Deleted);
    // Only operator journal actions take four-eyes.
    assert_eq!(w.ledger.code(four_eyes(Command::AdvanceBusinessDay { to: DAY0.next() })), Code::NotFourEyes);
}

#[test]
fn four_eyes_weighs_other_operator_actions_by_what_they_let_move() {
    let mut w = World::new(CorrespondentConfig::default());
    let (firm, alice) = (w.firm, w.alice);
    let by = |name: &str| Audit { actor: Actor::Operator(name.into()), reason: "r".into() };
    let four_eyes = |name: &str, action: Command| Command::FourEyes {
        action: Box::new(Command::Audited { audit: by(name), action: Box::new(action) }),
        over: dollars(100),
    };
    let asked = |events: &[Event]| events.iter().any(|e| matches!(e.kind, EventKind::ConfirmationRequested(_)));
    let limits = |per_journal: i64, daily: Option<i64>| Limits {
        cash: vec![CashLimit { currency: Currency::USD, per_journal: Some(per_journal), daily }],
        ..Limits::default()
    };
    let set = |limits: Option<Limits>| Command::SetAccountLimits { account: alice, limits };
    // Tightening is done alone and counts for nothing.
    assert!(!asked(&w.ledger.ok(four_eyes("ann", set(Some(limits(dollars(10), Some(dollars(20)))))))));
    assert_eq!(w.ledger.state.done_alone_by("ann"), 0);
    // Removing the account's own, tighter limits falls back to the correspondent's ($1,000 a
    // day): loosened past the threshold. So is a limit removed outright.
    assert!(asked(&w.ledger.ok(four_eyes("ann", set(None)))));
    assert!(asked(&w.ledger.ok(four_eyes("ann", set(Some(limits(dollars(10), None)))))));
    // A small loosening is done alone, and counts its new value against the day.
    assert!(!asked(&w.ledger.ok(four_eyes("ann", set(Some(limits(dollars(10), Some(dollars(30)))))))));
    assert_eq!(w.ledger.state.done_alone_by("ann"), dollars(30));
    // What is asked is carried out by a different operator only, and then no longer waits.
    let overdraft = Command::SetOverdraft { account: firm, currency: Currency::USD, units: dollars(500) };
    assert!(asked(&w.ledger.ok(four_eyes("ann", overdraft.clone()))));
    assert_eq!(w.ledger.code(four_eyes("ann", overdraft.clone())), Code::SecondOperatorRequired);
    assert!(!asked(&w.ledger.ok(four_eyes("bob", overdraft))));
    assert_eq!(w.ledger.state.overdraft(firm, Currency::USD), dollars(500));
    assert_eq!(w.ledger.state.confirmations().count(), 2, "the two limit requests still wait");
    // Lowering an overdraft protects; the day's lone allowance ends with the day.
    let lower = Command::SetOverdraft { account: firm, currency: Currency::USD, units: 0 };
    assert!(!asked(&w.ledger.ok(four_eyes("ann", lower))));
    w.ledger.ok(Command::AdvanceBusinessDay { to: DAY0.next() });
    assert_eq!(w.ledger.state.done_alone_by("ann"), 0);
    assert_eq!(w.ledger.state.confirmations().count(), 0, "requests wait for the day they were asked in");
    // Only audited operator actions go through four-eyes.
    let wire = Command::wire_in(Actor::System, firm, dollars(1));
    let system = Command::FourEyes {
        action: Box::new(Command::Audited { audit: Audit { actor: Actor::System, reason: "r".into() }, action: Box::new(wire) }),
        over: 0,
    };
    assert_eq!(w.ledger.code(system), Code::NotFourEyes);
}

#[test]
fn four_eyes_counts_a_first_cash_limit_in_a_currency_as_loosening() {
    // A currency with no cash limit holds every journal for approval: giving it one loosens.
    let mut w = World::new(CorrespondentConfig::default());
    let alice = w.alice;
    let four_eyes = |action: Command| Command::FourEyes {
        action: Box::new(Command::Audited {
            audit: Audit { actor: Actor::Operator("ann".into()), reason: "r".into() },
            action: Box::new(action),
        }),
        over: dollars(100),
    };
    let mut limits = Limits::default();
    limits.cash.push(CashLimit {
        currency: Currency::parse("EUR").unwrap(),
        per_journal: Some(dollars(50_000)),
        daily: Some(dollars(50_000)),
    });
    let events = w.ledger.ok(four_eyes(Command::SetAccountLimits { account: alice, limits: Some(limits) }));
    assert!(events.iter().any(|e| matches!(e.kind, EventKind::ConfirmationRequested(_))), "{events:?}");
}
