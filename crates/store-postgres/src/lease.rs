//! Leases: one writer per shard on a shared PostgreSQL (design: "Several nodes").
//!
//! A lease is a row of `cashier_leases` (migration 007): `(shard, owner, epoch, expires_at,
//! last_seq)`. It is granted by one upsert, only when free or expired, and granting bumps the
//! epoch; every time is the database's (`now()`), never a node's. The owner renews it every
//! third of its time to live, and every commit of the shard checks it in the same statement
//! ([`Fence`], `PostgresStore::fenced`): a writer whose lease was taken, or has expired,
//! commits nothing. Advisory locks are not used: a dead session can hold one for minutes, and
//! they do not survive a failover of the database.

use postgres::Client;
use std::time::Duration;

use crate::backend;
use cashier_store::StoreError;

/// What a writer proves in every commit: the lease of `shard` is still `owner`'s, at `epoch`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fence {
    pub shard: i32,
    pub owner: String,
    pub epoch: i64,
}

/// The answer to asking for a lease.
#[derive(Clone, Debug, PartialEq)]
pub enum Grant {
    /// Ours, until the time to live passes without a renewal.
    Held(Fence),
    /// Another writer's, for this long at most unless it renews it.
    Taken { owner: String, expires_in: Duration },
}

/// Asks for the lease of `shard` for `ttl`: granted (the epoch bumped) when no row exists or
/// its lease has expired.
pub fn acquire(client: &mut Client, shard: i32, owner: &str, ttl: Duration) -> Result<Grant, StoreError> {
    let granted = client
        .query_opt(
            "INSERT INTO cashier_leases AS l (shard, owner, epoch, expires_at)
             VALUES ($1, $2, 1, now() + make_interval(secs => $3))
             ON CONFLICT (shard) DO UPDATE SET owner = EXCLUDED.owner, epoch = l.epoch + 1, expires_at = EXCLUDED.expires_at
             WHERE l.expires_at <= now()
             RETURNING epoch",
            &[&shard, &owner, &ttl.as_secs_f64()],
        )
        .map_err(backend)?;
    if let Some(row) = granted {
        return Ok(Grant::Held(Fence { shard, owner: owner.to_owned(), epoch: row.get(0) }));
    }
    let row = client
        .query_one(
            "SELECT owner, greatest(extract(epoch FROM expires_at - now()), 0)::float8 FROM cashier_leases WHERE shard = $1",
            &[&shard],
        )
        .map_err(backend)?;
    Ok(Grant::Taken { owner: row.get(0), expires_in: Duration::from_secs_f64(row.get(1)) })
}

/// Extends a held lease by `ttl` from now; `false` when it is no longer ours (taken, or
/// expired and granted to another).
pub fn renew(client: &mut Client, fence: &Fence, ttl: Duration) -> Result<bool, StoreError> {
    let renewed = client
        .execute(
            "UPDATE cashier_leases SET expires_at = now() + make_interval(secs => $4)
             WHERE shard = $1 AND owner = $2 AND epoch = $3 AND expires_at > now()",
            &[&fence.shard, &fence.owner, &fence.epoch, &ttl.as_secs_f64()],
        )
        .map_err(backend)?;
    Ok(renewed == 1)
}

/// Gives a held lease up at once (a graceful stop): the next writer need not wait for it.
pub fn release(client: &mut Client, fence: &Fence) -> Result<(), StoreError> {
    client
        .execute(
            "UPDATE cashier_leases SET expires_at = now() WHERE shard = $1 AND owner = $2 AND epoch = $3",
            &[&fence.shard, &fence.owner, &fence.epoch],
        )
        .map(drop)
        .map_err(backend)
}

/// The statement part that fences a commit: moves the lease row's `last_seq` to `$first`
/// where the lease is still `($first + 1, $first + 2, $first + 3)` = (shard, owner, epoch)
/// and unexpired. It changes one row, or none when the writer has lost the lease.
pub(crate) fn fence_sql(first: usize) -> String {
    let [seq, shard, owner, epoch] = [first, first + 1, first + 2, first + 3];
    format!(
        "UPDATE cashier_leases SET last_seq = ${seq} WHERE shard = ${shard} AND owner = ${owner} AND epoch = ${epoch} AND expires_at > now()"
    )
}

/// The refusal of a commit by a writer that no longer holds its shard's lease.
pub(crate) fn fenced(fence: &Fence) -> StoreError {
    StoreError::Fenced(format!(
        "the lease of shard {} is no longer {}'s at epoch {}: another node writes this shard",
        fence.shard, fence.owner, fence.epoch
    ))
}

/// A connection of its own for asking for, renewing and releasing leases: the writer's
/// connection is busy committing.
pub struct Session(Client);

impl Session {
    pub fn connect(url: &str) -> Result<Session, StoreError> {
        Client::connect(url, postgres::NoTls).map(Session).map_err(backend)
    }

    pub fn acquire(&mut self, shard: i32, owner: &str, ttl: Duration) -> Result<Grant, StoreError> {
        acquire(&mut self.0, shard, owner, ttl)
    }

    pub fn renew(&mut self, fence: &Fence, ttl: Duration) -> Result<bool, StoreError> {
        renew(&mut self.0, fence, ttl)
    }

    pub fn release(&mut self, fence: &Fence) -> Result<(), StoreError> {
        release(&mut self.0, fence)
    }
}
