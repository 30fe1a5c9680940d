//! The business day outside the sandbox: it follows the clock. When the UTC date passes the
//! business date, the ledger ends that day and starts the calendar's first business day on or
//! after the new date (a weekend's dates roll to Monday). In the sandbox, operators advance it.

use cashier_core::{Calendar, Command, Date, Timestamp};
use cashier_store::{Clock, Sequencer, SubmitError};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

/// How often the clock is looked at.
pub const ROLL_CHECK: Duration = Duration::from_secs(15);

/// One look at the clock: starts the next business day when `today` is past the business date.
/// Returns the day started, if any.
pub async fn roll(sequencer: &Sequencer, calendar: &Calendar, today: Date) -> Result<Option<Date>, SubmitError> {
    let current = sequencer.read(|s| s.business_date());
    if today <= current {
        return Ok(None);
    }
    let to = calendar.on_or_after(today);
    sequencer.submit(Command::AdvanceBusinessDay { to }).await?;
    Ok(Some(to))
}

/// Rolls the business day with `clock` until `stop` turns true.
pub fn spawn(
    sequencer: Arc<Sequencer>,
    calendar: Calendar,
    mut clock: impl Clock,
    mut stop: watch::Receiver<bool>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        while !*stop.borrow() {
            let today = date_of(clock.now());
            match roll(&sequencer, &calendar, today).await {
                Ok(Some(day)) => tracing::info!(%day, "business day started"),
                Ok(None) => {}
                Err(error) => tracing::warn!(%error, "the business day could not be rolled; retrying"),
            }
            tokio::select! {
                () = tokio::time::sleep(ROLL_CHECK) => {}
                _ = stop.changed() => {}
            }
        }
    })
}

/// The UTC date of an instant.
pub fn date_of(t: Timestamp) -> Date {
    Date(t.0.div_euclid(86_400_000_000) as i32)
}
