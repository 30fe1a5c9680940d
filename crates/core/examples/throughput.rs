//! A steady loop for profiling and for BENCHMARKS.md:
//! `cargo run --release -p cashier-core --example throughput MODE [journals]`, where MODE is
//! `v2` (booked at creation), `v1` (create, send to clearing, book), `v1-create` (creation
//! only), `batch` (1,000-entry batches, each entry cleared and booked) or `batch-create`.
//! Prints journals executed and applied per second, every journal touching the same firm account.

use cashier_core::*;
use std::time::Instant;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let mode = args.get(1).map_or("v1", String::as_str);
    let total: usize = args.get(2).and_then(|n| n.parse().ok()).unwrap_or(2_000_000);
    let flow = if mode == "v2" { JnlcFlow::V2 } else { JnlcFlow::V1 };
    let mut state = State::new(Date(20_000));
    let mut ids = SequentialIds::starting_at(1);
    let mut now = Timestamp(1_700_000_000_000_000);
    let mut run = |state: &mut State, command: &Command| -> Vec<Event> {
        now.0 += 1;
        let mut ctx = Ctx { now, ids: &mut ids };
        let events = execute(state, command, &mut ctx).expect("valid");
        for e in &events {
            state.apply(e);
        }
        events
    };
    let config = CorrespondentConfig { jnlc_flow: flow, limits: Limits::unlimited(), ..Default::default() };
    let EventKind::CorrespondentCreated(c) =
        &run(&mut state, &Command::CreateCorrespondent { code: "BNCH".into(), name: "Bench".into(), config })[0].kind
    else {
        unreachable!()
    };
    let corr = c.id;
    let mut open = |state: &mut State, kind| {
        let events = run(
            state,
            &Command::OpenAccount {
                actor: Actor::System,
                correspondent: corr,
                kind,
                status: AccountStatus::Active,
                currency: Currency::USD,
                profile: String::new(),
            },
        );
        let EventKind::AccountOpened { account, .. } = &events[0].kind else { unreachable!() };
        account.id
    };
    let firm = open(&mut state, AccountKind::Firm);
    let customers: Vec<AccountId> = (0..10_000).map(|_| open(&mut state, AccountKind::Customer)).collect();
    let actor = Actor::Correspondent(corr);
    let mut run = |state: &mut State, command: &Command| -> Vec<Event> {
        now.0 += 1;
        let mut ctx = Ctx { now, ids: &mut ids };
        let events = execute(state, command, &mut ctx).expect("valid");
        for e in &events {
            state.apply(e);
        }
        events
    };
    run(
        &mut state,
        &Command::CreateTransfer {
            actor: Actor::System,
            account: firm,
            direction: TransferDirection::Incoming,
            kind: TransferKind::Wire,
            currency: Currency::USD,
            amount: i64::MAX / 2,
            complete_at_once: true,
        },
    );
    let started = Instant::now();
    let mut done = 0;
    while done < total {
        let created: Vec<JournalId> = if mode.starts_with("batch") {
            let entries = (0..1000).map(|k| BatchEntry::cash(customers[(done + k) % customers.len()], 100)).collect();
            let events = run(
                &mut state,
                &Command::CreateBatch { actor: actor.clone(), entry_type: EntryType::Cash, from: firm, entries, key: None },
            );
            events.iter().filter_map(|e| e.journal_status().map(|(id, _, _)| id)).collect()
        } else {
            let request = JournalRequest::cash(firm, customers[done % customers.len()], 100);
            let events = run(&mut state, &Command::CreateJournal { actor: actor.clone(), request, key: None });
            events.iter().filter_map(|e| e.journal_status().map(|(id, _, _)| id)).collect()
        };
        for id in &created {
            if flow == JnlcFlow::V1 && !mode.ends_with("-create") {
                run(&mut state, &Command::SendToClearing { id: *id });
                run(&mut state, &Command::BookJournal { id: *id });
            }
        }
        done += created.len();
    }
    let seconds = started.elapsed().as_secs_f64();
    println!("{mode}: {done} journals in {seconds:.2} s = {:.0} journals/s", done as f64 / seconds);
}
