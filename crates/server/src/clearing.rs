//! The clearing worker: moves `queued -> sent_to_clearing -> executed` (or `refused`) through
//! the sequencer, one `Clear` step at a time. Each step works from the state it finds, so a
//! journal a crash left in `sent_to_clearing` is finished after the restart.
//!
//! An idle ledger is idle: a step that moved nothing waits, without polling, until a committed
//! batch puts a journal in `queued` or `sent_to_clearing` (or the subscription lagged, which
//! may have hidden one).

use cashier_core::{Command, JournalStatus};
use cashier_store::{Record, Sequencer, SubmitError};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

/// Journals moved per phase of one step, at most.
pub const CLEARING_BATCH_MAX: u32 = 1_000;
/// How long to wait before trying again when a step failed.
pub const CLEARING_RETRY: Duration = Duration::from_millis(20);

/// Runs one clearing step; returns how many journals changed status.
pub async fn step(sequencer: &Sequencer) -> Result<usize, SubmitError> {
    let outcome = sequencer.submit(Command::Clear { max: CLEARING_BATCH_MAX }).await?;
    Ok(outcome.records().len())
}

/// Clearing steps in flight at once. A step executes on the sequencer's state, which already
/// holds the steps before it, so steps in flight never take the same journal; several in flight
/// keep clearing from waiting on each commit (their commits merge).
pub const CLEARING_STEPS_IN_FLIGHT: usize = 4;

/// Steps until `stop` turns true, waiting `delay` after a step that moved something; with no
/// delay, `CLEARING_STEPS_IN_FLIGHT` steppers run side by side.
pub fn spawn(sequencer: Arc<Sequencer>, delay: Duration, stop: watch::Receiver<bool>) -> tokio::task::JoinHandle<()> {
    let steppers = if delay.is_zero() { CLEARING_STEPS_IN_FLIGHT } else { 1 };
    let running: Vec<_> = (0..steppers).map(|_| stepper(sequencer.clone(), delay, stop.clone())).collect();
    tokio::spawn(async move {
        for one in running {
            let _ = one.await;
        }
    })
}

/// Whether a committed batch gives clearing something to do.
fn brings_work(batch: &[Record]) -> bool {
    batch.iter().any(|record| {
        record.event.journal_status().is_some_and(|(_, _, to)| matches!(to, JournalStatus::Queued | JournalStatus::SentToClearing))
    })
}

fn stepper(sequencer: Arc<Sequencer>, delay: Duration, mut stop: watch::Receiver<bool>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        // Subscribed before the first step, so that no work committed meanwhile goes unseen.
        let mut committed = sequencer.subscribe();
        while !*stop.borrow() {
            let pause = match step(&sequencer).await {
                Ok(0) => {
                    // Nothing to move: sleep until a commit brings some.
                    loop {
                        tokio::select! {
                            batch = committed.recv() => match batch {
                                Ok(batch) if !brings_work(&batch) => continue,
                                Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
                                Ok(_) | Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => break,
                            },
                            _ = stop.changed() => return,
                        }
                    }
                    Duration::ZERO
                }
                Ok(_) => delay,
                Err(error) => {
                    tracing::warn!(%error, "clearing step failed; retrying");
                    CLEARING_RETRY
                }
            };
            if !pause.is_zero() {
                tokio::select! {
                    () = tokio::time::sleep(pause) => {}
                    _ = stop.changed() => {}
                }
            }
        }
    })
}
