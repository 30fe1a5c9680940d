//! The status machine as a table, and every lifecycle operation's effect on the books.

mod common;

use cashier_core::*;
use common::*;
use JournalStatus::*;

/// Builds a world with one $20 journal (firm to alice) brought to `status`.
fn journal_in(status: JournalStatus) -> (World, JournalId) {
    let config =
        CorrespondentConfig { jnlc_flow: if status == ActivityCreated { JnlcFlow::V2 } else { JnlcFlow::V1 }, ..Default::default() };
    let mut w = World::new(config);
    let amount = if status == Pending { dollars(60) } else { dollars(20) };
    let id = w.pay(w.alice, amount).unwrap();
    let l = &mut w.ledger;
    match status {
        Queued | Pending => {}
        SentToClearing => {
            l.ok(Command::SendToClearing { id });
        }
        Executed => {
            l.clear(id);
        }
        ActivityCreated => {
            l.ok(Command::CreateActivity { id });
        }
        Refused => {
            l.ok(Command::SendToClearing { id });
            let all = l.cash(w.firm);
            l.ok(Command::CreateTransfer {
                actor: w.actor.clone(),
                account: w.firm,
                direction: TransferDirection::Outgoing,
                kind: TransferKind::Wire,
                currency: Currency::USD,
                amount: all,
                complete_at_once: true,
            });
            l.ok(Command::BookJournal { id });
        }
        Rejected => {
            l.ok(Command::RejectJournal { id, audit: operator("bad") });
        }
        Canceled => {
            l.ok(Command::CancelJournal { actor: w.actor.clone(), id, reason: String::new() });
        }
        Deleted => {
            l.clear(id);
            l.ok(Command::DeleteJournal { id, audit: operator("entered twice") });
        }
        Correct => {
            l.clear(id);
            l.ok(Command::CorrectJournal { id, units: dollars(15), audit: operator("wrong amount") });
        }
    }
    assert_eq!(w.ledger.status(id), status);
    (w, id)
}

#[derive(Clone, Copy, Debug)]
enum Action {
    Cancel,
    Approve,
    Reject,
    Send,
    Book,
    Activity,
    Reverse,
    Delete,
    Correct,
}

fn command(action: Action, id: JournalId, actor: &Actor) -> Command {
    match action {
        Action::Cancel => Command::CancelJournal { actor: actor.clone(), id, reason: "customer asked".into() },
        Action::Approve => Command::ApproveJournal { id, audit: operator("known customer") },
        Action::Reject => Command::RejectJournal { id, audit: operator("customer asked") },
        Action::Send => Command::SendToClearing { id },
        Action::Book => Command::BookJournal { id },
        Action::Activity => Command::CreateActivity { id },
        Action::Reverse => Command::ReverseJournal { id, audit: operator("not permitted") },
        Action::Delete => Command::DeleteJournal { id, audit: operator("duplicate") },
        Action::Correct => Command::CorrectJournal { id, units: dollars(5), audit: operator("wrong amount") },
    }
}

#[test]
fn every_action_from_every_status() {
    use Action::*;
    // (action, the statuses it is legal from, the status it leads to)
    let table: &[(Action, &[JournalStatus], JournalStatus)] = &[
        (Cancel, &[Queued, Pending], Canceled),
        (Approve, &[Pending], Queued),
        (Reject, &[Queued, Pending, SentToClearing], Rejected),
        (Send, &[Queued], SentToClearing),
        (Book, &[SentToClearing], Executed),
        (Activity, &[Executed], ActivityCreated),
        (Reverse, &[Executed, ActivityCreated], JournalStatus::Canceled),
        (Delete, &[Executed, ActivityCreated], Deleted),
        (Correct, &[Executed, ActivityCreated], JournalStatus::Correct),
    ];
    for &(action, legal_from, leads_to) in table {
        for &from in JournalStatus::ALL {
            let (mut w, id) = journal_in(from);
            // `activity_created` needs the v2 flow; a v1 journal's `executed` refuses it.
            let legal = legal_from.contains(&from) && !(matches!(action, Activity) && from == Executed);
            let result = w.ledger.run(command(action, id, &w.actor.clone()));
            if legal {
                assert!(result.is_ok(), "{action:?} from {from}: {result:?}");
                assert_eq!(w.ledger.status(id), leads_to, "{action:?} from {from}");
                assert!(JournalStatus::is_legal(Some(from), leads_to));
            } else {
                assert_eq!(result.map_err(|r| r.code), Err(Code::InvalidTransition), "{action:?} from {from}");
            }
        }
    }
    // And from a v2 journal's `executed`, activity_created is legal.
    let mut w = World::new(CorrespondentConfig { jnlc_flow: JnlcFlow::V2, ..Default::default() });
    let id = w.pay(w.alice, 100).unwrap();
    assert_eq!(w.ledger.status(id), Executed);
    w.ledger.ok(Command::CreateActivity { id });
    assert_eq!(w.ledger.status(id), ActivityCreated);
}

#[test]
fn unknown_journals_and_missing_reasons() {
    let (mut w, id) = journal_in(Executed);
    let ghost = JournalId(424242);
    for action in [Action::Approve, Action::Reject, Action::Send, Action::Book, Action::Reverse, Action::Delete, Action::Correct] {
        assert_eq!(w.ledger.code(command(action, ghost, &w.actor.clone())), Code::JournalNotFound, "{action:?}");
    }
    for cmd in [
        Command::ReverseJournal { id, audit: operator(" ") },
        Command::DeleteJournal { id, audit: operator("") },
        Command::CorrectJournal { id, units: 1, audit: operator("") },
        Command::RejectJournal { id, audit: operator("") },
    ] {
        assert_eq!(w.ledger.code(cmd), Code::ReasonRequired);
    }
}

#[test]
fn reversal_and_deletion_undo_the_postings_and_keep_the_record() {
    for action in [Action::Reverse, Action::Delete] {
        let (mut w, id) = journal_in(Executed);
        let (firm_before, alice_before) = (w.ledger.cash(w.firm), w.ledger.cash(w.alice));
        w.ledger.ok(command(action, id, &w.actor.clone()));
        assert_eq!(w.ledger.cash(w.firm), firm_before + dollars(20));
        assert_eq!(w.ledger.cash(w.alice), alice_before - dollars(20));
        assert!(w.ledger.state.journal(id).is_some(), "nothing is physically removed");
    }
    // A customer who spent the money cannot be reversed below zero.
    let (mut w, id) = journal_in(Executed);
    w.ledger.ok(Command::CreateTransfer {
        actor: w.actor.clone(),
        account: w.alice,
        direction: TransferDirection::Outgoing,
        kind: TransferKind::Ach,
        currency: Currency::USD,
        amount: dollars(15),
        complete_at_once: true,
    });
    assert_eq!(w.ledger.code(command(Action::Reverse, id, &w.actor.clone())), Code::InsufficientFunds);
    assert_eq!(w.ledger.status(id), Executed);
}

#[test]
fn correction_replaces_a_journal_with_a_new_one_linked_both_ways() {
    let (mut w, id) = journal_in(Executed);
    let firm_before = w.ledger.cash(w.firm);
    assert_eq!(w.ledger.code(Command::CorrectJournal { id, units: dollars(20), audit: operator("same") }), Code::CorrectionUnchanged);
    assert_eq!(w.ledger.code(Command::CorrectJournal { id, units: 0, audit: operator("zero") }), Code::AmountNotPositive);
    let events = w.ledger.ok(Command::CorrectJournal { id, units: dollars(15), audit: operator("typo") });
    let new = created(&events)[0];
    let old = w.ledger.state.journal(id).unwrap().clone();
    let replacement = w.ledger.state.journal(new).unwrap().clone();
    assert_eq!((old.status, old.corrected_by()), (Correct, Some(new)));
    assert_eq!((replacement.status, replacement.corrects(), replacement.units), (Executed, Some(id), dollars(15)));
    assert_eq!(w.ledger.cash(w.alice), dollars(15));
    assert_eq!(w.ledger.cash(w.firm), firm_before + dollars(5));
    // A correction upward needs the sender to afford only the difference.
    let events = w.ledger.ok(Command::CorrectJournal { id: new, units: dollars(15) + firm_before + dollars(5), audit: operator("up") });
    assert_eq!(w.ledger.cash(w.firm), 0);
    let newest = created(&events)[0];
    assert_eq!(
        w.ledger.code(Command::CorrectJournal { id: newest, units: dollars(100_000), audit: operator("too far") }),
        Code::InsufficientFunds
    );
}

#[test]
fn securities_journals_move_positions_at_the_booked_price() {
    let mut w = World::standard();
    let (firm, alice, aapl) = (w.firm, w.alice, w.aapl);
    let id = w.ledger.journal(w.actor.clone(), JournalRequest::securities(firm, alice, aapl, shares(1) / 4)).unwrap();
    w.ledger.ok(Command::ListAsset {
        symbol: aapl,
        name: "Apple".into(),
        exchange: "NASDAQ".into(),
        class: "us_equity".into(),
        fractionable: true,
        price: Some(price_dollars(120)),
    });
    assert_eq!(w.ledger.clear(id), Executed);
    let journal = w.ledger.state.journal(id).unwrap();
    assert_eq!(journal.price, Some(price_dollars(120)), "priced at booking, not at creation");
    assert_eq!(journal.booked_on, Some(DAY0));
    assert_eq!(w.ledger.qty(alice, aapl), shares(1) / 4);
    assert_eq!(w.ledger.qty(firm, aapl), shares(100) - shares(1) / 4);
    let position = w.ledger.state.balance(Book::Account(alice), Asset::Security(aapl));
    assert_eq!(position.cost_nanos, 30_000_000_000, "0.25 share at $120 cost $30");
    let positions = w.ledger.state.positions(alice);
    assert_eq!(positions.len(), 1);
    assert_eq!((positions[0].symbol, positions[0].qty), (aapl, shares(1) / 4));
    assert_eq!(positions[0].avg_entry_price, price_dollars(120), "average entry price $120");
    // The firm's average cost is unchanged by giving shares away.
    assert_eq!(w.ledger.state.positions(firm)[0].avg_entry_price, price_dollars(100));
    // Reversal brings the shares back.
    w.ledger.ok(Command::ReverseJournal { id, audit: operator("not permitted") });
    assert_eq!(w.ledger.qty(alice, aapl), 0);
    assert_eq!(w.ledger.state.balance(Book::Account(alice), Asset::Security(aapl)).cost_nanos, 0);
}

#[test]
fn idempotency_keys() {
    let mut w = World::standard();
    let (firm, alice) = (w.firm, w.alice);
    let create = |actor: &Actor, amount, key: &str| Command::CreateJournal {
        actor: actor.clone(),
        request: JournalRequest::cash(firm, alice, amount),
        key: Some(key.into()),
    };
    let first = created(&w.ledger.ok(create(&w.actor, 100, "k-1")))[0];
    let cash_before = w.ledger.state.clone();
    // Same key, same request: the original result, nothing new.
    assert!(w.ledger.ok(create(&w.actor, 100, "k-1")).is_empty());
    assert_eq!(w.ledger.state, cash_before);
    assert_eq!(w.ledger.state.idempotency_key(w.corr, "k-1").unwrap().journals, vec![first]);
    // Same key, other request: refused.
    assert_eq!(w.ledger.code(create(&w.actor, 101, "k-1")), Code::IdempotencyKeyReused);
    // The replay answers even after the state moved on (the journal was canceled).
    w.ledger.ok(Command::CancelJournal { actor: w.actor.clone(), id: first, reason: String::new() });
    assert!(w.ledger.ok(create(&w.actor, 100, "k-1")).is_empty());
    // Keys are checked for shape; a batch cannot reuse a single journal's key.
    assert_eq!(w.ledger.code(create(&w.actor, 100, "")), Code::IdempotencyKeyInvalid);
    assert_eq!(w.ledger.code(create(&w.actor, 100, &"k".repeat(129))), Code::IdempotencyKeyInvalid);
    assert_eq!(w.ledger.code(create(&w.actor, 100, "has space")), Code::IdempotencyKeyInvalid);
    let batch = Command::CreateBatch {
        actor: w.actor.clone(),
        entry_type: EntryType::Cash,
        from: firm,
        entries: vec![BatchEntry::cash(alice, 100)],
        key: Some("k-1".into()),
    };
    assert_eq!(w.ledger.code(batch), Code::IdempotencyKeyReused);
    // Keys are per correspondent.
    let other = w.ledger.correspondent("OTHR", CorrespondentConfig::default());
    let other_firm = w.ledger.account(other, AccountKind::Firm);
    let other_customer = w.ledger.account(other, AccountKind::Customer);
    w.ledger.fund(other_firm, 1_000);
    let theirs = Command::CreateJournal {
        actor: Actor::Correspondent(other),
        request: JournalRequest::cash(other_firm, other_customer, 100),
        key: Some("k-1".into()),
    };
    assert_eq!(created(&w.ledger.ok(theirs)).len(), 1);
    // Keys expire.
    let now = w.ledger.now;
    w.ledger.ok(Command::ExpireIdempotencyKeys { created_before: Timestamp(now.0 + 1) });
    assert!(w.ledger.state.idempotency_key(w.corr, "k-1").is_none());
    assert_eq!(created(&w.ledger.ok(create(&w.actor, 101, "k-1"))).len(), 1);
}

#[test]
fn batches_are_all_or_nothing() {
    let mut w = World::standard();
    let (firm, alice, bob) = (w.firm, w.alice, w.bob);
    let batch = |entries: Vec<BatchEntry>| Command::CreateBatch {
        actor: w.actor.clone(),
        entry_type: EntryType::Cash,
        from: firm,
        entries,
        key: None,
    };
    let events = w.ledger.ok(batch(vec![BatchEntry::cash(alice, dollars(10)), BatchEntry::cash(bob, dollars(60))]));
    let ids = created(&events);
    assert_eq!(ids.iter().map(|&id| w.ledger.status(id)).collect::<Vec<_>>(), vec![Queued, Pending]);
    let before = w.ledger.state.clone();
    let bad = w.ledger.run(batch(vec![BatchEntry::cash(AccountId(77), 1), BatchEntry::cash(bob, 0)])).unwrap_err();
    assert_eq!(bad, Rejection { code: Code::AmountNotPositive, entry: Some(1), field: None }, "the shape of every entry first");
    let bad = w.ledger.run(batch(vec![BatchEntry::cash(alice, 1), BatchEntry::cash(firm, 1)])).unwrap_err();
    assert_eq!(bad, Rejection { code: Code::SameAccount, entry: Some(1), field: None });
    let bad = w.ledger.run(batch(vec![BatchEntry::cash(alice, 1), BatchEntry::cash(AccountId(77), 1)])).unwrap_err();
    assert_eq!(bad, Rejection { code: Code::AccountNotFound, entry: Some(1), field: None });
    assert_eq!(w.ledger.state, before, "nothing created by a failed batch");
    // Funds are checked cumulatively across entries.
    let firm_cash = w.ledger.cash(firm);
    let bad = w.ledger.run(batch(vec![BatchEntry::cash(alice, firm_cash), BatchEntry::cash(bob, 1)])).unwrap_err();
    assert_eq!(bad, Rejection { code: Code::InsufficientFunds, entry: Some(1), field: None });
    // Daily limits too: 20 x $50 into one account, then the 21st waits.
    let events = w.ledger.ok(batch((0..21).map(|_| BatchEntry::cash(bob, dollars(50))).collect()));
    let statuses: Vec<_> = created(&events).iter().map(|&id| w.ledger.status(id)).collect();
    assert_eq!(statuses.iter().filter(|&&s| s == Queued).count(), 20);
    assert_eq!(statuses[20], Pending);
    // Bounds and entry type.
    assert_eq!(w.ledger.code(batch(vec![])), Code::BatchEmpty);
    assert_eq!(w.ledger.code(batch(vec![BatchEntry::cash(alice, 1); BATCH_ENTRIES_MAX + 1])), Code::BatchTooLarge);
    let jnls = Command::CreateBatch {
        actor: w.actor.clone(),
        entry_type: EntryType::Security,
        from: firm,
        entries: vec![BatchEntry::cash(alice, 1)],
        key: None,
    };
    assert_eq!(w.ledger.code(jnls), Code::BatchEntryTypeUnsupported);
}

#[test]
fn reverse_batches_pull_cash_back_to_the_firm() {
    let mut w = World::standard();
    let (firm, alice, bob) = (w.firm, w.alice, w.bob);
    w.ledger.fund(alice, dollars(100));
    w.ledger.fund(bob, dollars(100));
    let reverse = |entries| Command::CreateReverseBatch {
        actor: w.actor.clone(),
        entry_type: EntryType::Cash,
        to: firm,
        entries,
        key: Some("rb-1".into()),
    };
    let bad = w.ledger.run(reverse(vec![BatchEntry::cash(alice, dollars(100)), BatchEntry::cash(bob, dollars(101))])).unwrap_err();
    assert_eq!(bad, Rejection { code: Code::InsufficientFunds, entry: Some(1), field: None });
    let events = w.ledger.ok(reverse(vec![BatchEntry::cash(alice, dollars(100)), BatchEntry::cash(bob, dollars(100))]));
    let ids = created(&events);
    assert!(w.ledger.ok(reverse(vec![BatchEntry::cash(alice, dollars(100)), BatchEntry::cash(bob, dollars(100))])).is_empty(), "replayed");
    for id in ids {
        assert_eq!(w.ledger.status(id), Queued, "money back to the firm is not limited");
        assert_eq!(w.ledger.clear(id), Executed);
    }
    assert_eq!((w.ledger.cash(alice), w.ledger.cash(bob)), (0, 0));
    assert_eq!(w.ledger.cash(firm), dollars(10_200));
    let customers_to_customer = Command::CreateReverseBatch {
        actor: w.actor.clone(),
        entry_type: EntryType::Cash,
        to: bob,
        entries: vec![BatchEntry::cash(alice, 1)],
        key: None,
    };
    assert_eq!(w.ledger.run(customers_to_customer).unwrap_err(), Rejection { code: Code::CustomerToCustomer, entry: Some(0), field: None });
}

#[test]
fn transfers_fund_and_drain_accounts_against_the_bank() {
    let mut w = World::standard();
    let (firm, alice) = (w.firm, w.alice);
    let transfer = |direction, amount, complete_at_once| Command::CreateTransfer {
        actor: w.actor.clone(),
        account: alice,
        direction,
        kind: TransferKind::Ach,
        currency: Currency::USD,
        amount,
        complete_at_once,
    };
    w.ledger.ok(transfer(TransferDirection::Incoming, dollars(100), true));
    assert_eq!(w.ledger.cash(alice), dollars(100));
    assert_eq!(w.ledger.state.balance(Book::Bank, Asset::Cash(Currency::USD)).posted, -dollars(10_100));
    assert_eq!(w.ledger.code(transfer(TransferDirection::Outgoing, dollars(100) + 1, false)), Code::InsufficientFunds);
    assert_eq!(w.ledger.code(transfer(TransferDirection::Incoming, 0, false)), Code::AmountNotPositive);
    // A queued withdrawal holds its amount back from journals and other withdrawals.
    let events = w.ledger.ok(transfer(TransferDirection::Outgoing, dollars(70), false));
    let EventKind::TransferCreated(t) = &events[0].kind else { panic!() };
    let tid = t.id;
    assert_eq!(w.ledger.state.balance(Book::Account(alice), Asset::Cash(Currency::USD)).available(), dollars(30));
    let view = w.ledger.state.cash(alice, Currency::USD);
    assert_eq!((view.cash, view.transferable, view.withdrawable), (dollars(100), dollars(30), dollars(30)));
    assert_eq!(w.ledger.code(transfer(TransferDirection::Outgoing, dollars(31), false)), Code::InsufficientFunds);
    let back = JournalRequest::cash(alice, firm, dollars(31));
    assert_eq!(w.ledger.journal(w.actor.clone(), back), Err(Code::InsufficientFunds));
    // Canceling releases the hold; completing posts it.
    w.ledger.ok(Command::CancelTransfer { actor: w.actor.clone(), account: alice, id: tid });
    assert_eq!(w.ledger.code(Command::CancelTransfer { actor: w.actor.clone(), account: alice, id: tid }), Code::InvalidTransition);
    assert_eq!(w.ledger.state.balance(Book::Account(alice), Asset::Cash(Currency::USD)).available(), dollars(100));
    let events = w.ledger.ok(transfer(TransferDirection::Outgoing, dollars(70), false));
    let EventKind::TransferCreated(t) = &events[0].kind else { panic!() };
    let tid = t.id;
    assert_eq!(w.ledger.code(Command::CancelTransfer { actor: w.actor.clone(), account: firm, id: tid }), Code::TransferNotFound);
    w.ledger.ok(Command::CompleteTransfer { id: tid });
    assert_eq!(w.ledger.state.transfer(tid).unwrap().status, TransferStatus::Complete);
    assert_eq!(w.ledger.cash(alice), dollars(30));
    assert_eq!(w.ledger.code(Command::CompleteTransfer { id: tid }), Code::InvalidTransition);
}

#[test]
fn jnlc_v2_books_single_cash_journals_at_creation_only() {
    let mut w = World::new(CorrespondentConfig { jnlc_flow: JnlcFlow::V2, ..Default::default() });
    let (firm, alice) = (w.firm, w.alice);
    let id = w.pay(alice, dollars(20)).unwrap();
    assert_eq!(w.ledger.status(id), Executed);
    assert_eq!(w.ledger.cash(alice), dollars(20));
    // Over the limit: still the v1 path.
    let held = w.pay(alice, dollars(60)).unwrap();
    assert_eq!(w.ledger.status(held), Pending);
    // Batches and securities always follow v1.
    let batch = Command::CreateBatch {
        actor: w.actor.clone(),
        entry_type: EntryType::Cash,
        from: firm,
        entries: vec![BatchEntry::cash(alice, 100)],
        key: None,
    };
    let ids = created(&w.ledger.ok(batch));
    assert_eq!(w.ledger.status(ids[0]), Queued);
    let shares_id = w.ledger.journal(w.actor.clone(), JournalRequest::securities(firm, alice, w.aapl, 1)).unwrap();
    assert_eq!(w.ledger.status(shares_id), Queued);
    assert_eq!(w.ledger.code(Command::CreateActivity { id: shares_id }), Code::InvalidTransition);
}

#[test]
fn every_status_change_is_an_event_with_its_from_and_to() {
    let (w, id) = journal_in(Correct);
    let history: Vec<(Option<JournalStatus>, JournalStatus)> =
        w.ledger.log.iter().filter_map(|e| e.journal_status()).filter(|(j, _, _)| *j == id).map(|(_, from, to)| (from, to)).collect();
    assert_eq!(history, vec![(None, Queued), (Some(Queued), SentToClearing), (Some(SentToClearing), Executed), (Some(Executed), Correct)]);
    let audit = w.ledger.log.iter().find_map(|e| match &e.kind {
        EventKind::JournalStatusChanged(c) if c.to == Correct => c.audit.clone(),
        _ => None,
    });
    assert_eq!(audit, Some(operator("wrong amount")));
}

#[test]
fn a_clearing_step_moves_each_journal_one_status() {
    let mut w = World::standard();
    let (firm, alice, bob) = (w.firm, w.alice, w.bob);
    let queued = w.pay(alice, dollars(10)).unwrap();
    let held = w.pay(bob, dollars(60)).unwrap();
    let fixture = w
        .ledger
        .journal(w.actor.clone(), JournalRequest { description: FIXTURE_REJECTED.into(), ..JournalRequest::cash(firm, bob, 100) })
        .unwrap();
    w.ledger.ok(Command::Clear { max: 100 });
    assert_eq!(w.ledger.status(queued), SentToClearing);
    assert_eq!((w.ledger.status(held), w.ledger.status(fixture)), (Pending, Queued), "held journals stay");
    w.ledger.ok(Command::Clear { max: 100 });
    assert_eq!(w.ledger.status(queued), Executed);
    assert_eq!(w.ledger.cash(alice), dollars(10));
    assert!(w.ledger.ok(Command::Clear { max: 100 }).is_empty(), "nothing left to move");
    // `max` bounds each phase.
    let ids: Vec<JournalId> = (0..5).map(|_| w.pay(alice, 1).unwrap()).collect();
    w.ledger.ok(Command::Clear { max: 2 });
    let sent = ids.iter().filter(|&&id| w.ledger.status(id) == SentToClearing).count();
    assert_eq!(sent, 2);
}

#[test]
fn bookings_in_one_step_see_each_other() {
    let mut w = World::standard();
    let (firm, alice, bob) = (w.firm, w.alice, w.bob);
    for account in [alice, bob] {
        w.ledger.ok(Command::SetAccountLimits { account, limits: Some(Limits::unlimited()) });
    }
    let all = w.ledger.cash(firm);
    // Each fits alone when created; together they do not.
    let first = w.pay(alice, all - dollars(1)).unwrap();
    let second = w.pay(bob, dollars(2)).unwrap();
    w.ledger.ok(Command::Clear { max: 10 });
    w.ledger.ok(Command::Clear { max: 10 });
    assert_eq!((w.ledger.status(first), w.ledger.status(second)), (Executed, Refused));
    assert_eq!(w.ledger.cash(firm), dollars(1));
}
