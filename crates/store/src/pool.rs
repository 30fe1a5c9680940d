//! A cash-pooling ledger in one call, for benchmarks and tests: a JNLC v2 correspondent with no
//! limits (every journal is booked by the command that creates it), one funded firm account and
//! its customers.

use crate::sequencer::{Sequencer, SubmitError};
use cashier_core::*;

/// Commands in flight at once while setting up: well under the sequencer's queue.
const CHUNK: usize = 32_768;

#[derive(Clone, Debug)]
pub struct CashPool {
    pub correspondent: CorrespondentId,
    pub firm: AccountId,
    /// In the order they were opened.
    pub customers: Vec<AccountId>,
}

impl CashPool {
    /// Sets one up through `sequencer`, blocking this thread (use `off_runtime` from async code).
    pub fn open(sequencer: &Sequencer, code: &str, customers: usize, funding: i64) -> Result<CashPool, SubmitError> {
        let config = CorrespondentConfig { jnlc_flow: JnlcFlow::V2, limits: Limits::unlimited(), ..Default::default() };
        let created = sequencer.submit_blocking(Command::CreateCorrespondent { code: code.into(), name: code.into(), config })?;
        let correspondent = created.correspondents[0].id;
        let ops = Actor::Operator("setup".into());
        let open = |kind| Command::open_account(ops.clone(), correspondent, kind, String::new());
        let firm = sequencer.submit_blocking(open(AccountKind::Firm))?.accounts[0].id;
        // Submitted a chunk at a time so that they commit in a few batches without filling the
        // queue, then collected in order.
        let mut opened = Vec::with_capacity(customers);
        while opened.len() < customers {
            let chunk = (customers - opened.len()).min(CHUNK);
            let pending = (0..chunk).map(|_| sequencer.try_submit(open(AccountKind::Customer))).collect::<Result<Vec<_>, _>>()?;
            for receiver in pending {
                opened.push(receiver.blocking_recv().unwrap_or(Err(SubmitError::Unavailable))?.accounts[0].id);
            }
        }
        let fund = Command::wire_in(ops, firm, funding);
        sequencer.submit_blocking(fund)?;
        Ok(CashPool { correspondent, firm, customers: opened })
    }

    /// Finds a pool an earlier run set up with `code`, in a loaded state.
    pub fn find(state: &State, code: &str) -> Option<CashPool> {
        let correspondent = state.correspondents().find(|c| c.code == code)?.id;
        let mut accounts: Vec<&Account> = state.accounts().filter(|a| a.correspondent == correspondent).collect();
        accounts.sort_by_key(|a| a.account_number);
        let firm = accounts.iter().find(|a| a.kind == AccountKind::Firm)?.id;
        let customers = accounts.iter().filter(|a| a.kind == AccountKind::Customer).map(|a| a.id).collect();
        Some(CashPool { correspondent, firm, customers })
    }
}
