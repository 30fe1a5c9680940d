//! The writer's lease on a shared PostgreSQL: a server writes its shard only while it holds the
//! shard's lease (`cashier_store_postgres::lease`), and waits as a standby while another holds it.
//!
//! [`hold`] asks for the lease until it is granted; meanwhile the server's listener answers as a
//! standby: `/healthz` 200, `/readyz` 503 naming the holder, everything else 503 `standby`. The
//! [`Keeper`] then renews the lease every third of its time to live on a connection of its own,
//! reports its loss (taken, or not renewed in time by the server's own monotonic clock), and
//! releases it on a graceful stop so that a standby takes over at once. Every commit is fenced
//! by the store itself; the keeper is what makes a server that lost its lease stop.
//!
//! This is the first piece of the per-shard leases of several nodes: one shard, numbered 0.

use crate::error::ApiError;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use cashier_store::StoreError;
use cashier_store_postgres::lease::Session;
use cashier_store_postgres::{Fence, Grant};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The one shard of a single-writer ledger.
pub const SHARD: i32 = 0;
/// How long a lease lasts without renewal, by default: how long a standby waits for a writer that
/// died without a word.
pub const TTL_DEFAULT: Duration = Duration::from_secs(10);

/// How long a standby waits before asking again after the database did not answer.
pub const RETRY: Duration = Duration::from_millis(500);

/// What [`hold`] does when the database cannot be reached.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Patience {
    /// Fails: a server starting on a database it cannot reach says so at once.
    FailFast,
    /// Waits as a standby and asks again: a server that lost its lease while the database fails
    /// over serves again once the database does.
    Wait,
}

/// A standby's answers on the server's listener while it waits: what it last saw, the signal
/// that stops it, and its task.
type StandbyListener = (Arc<Mutex<Standby>>, tokio::sync::oneshot::Sender<()>, tokio::task::JoinHandle<()>);

/// Who holds the lease now, as a standby last saw it.
#[derive(Clone, Debug, Default)]
struct Standby {
    holder: String,
    expires_in: Duration,
    /// Why the database could not be asked, when it could not.
    unreachable: Option<String>,
}

/// Waits until the lease of the shard is granted to `owner`, answering on `listener` as a standby
/// meanwhile.
pub async fn hold(url: &str, owner: &str, ttl: Duration, listener: &std::net::TcpListener, patience: Patience) -> Result<Keeper, StoreError> {
    let mut client = match connect(url).await {
        Ok(client) => Some(client),
        Err(error) if patience == Patience::FailFast => return Err(error),
        Err(_) => None,
    };
    let mut standby: Option<StandbyListener> = None;
    let fence = loop {
        let asked = match client.take() {
            Some(session) => Ok(session),
            None => connect(url).await,
        };
        let (seen, wait) = match asked {
            Ok(session) => {
                let (returned, grant) = blocking(session, {
                    let owner = owner.to_owned();
                    move |c| c.acquire(SHARD, &owner, ttl)
                })
                .await;
                match grant {
                    Ok(Grant::Held(fence)) => {
                        client = Some(returned);
                        break fence;
                    }
                    Ok(Grant::Taken { owner: holder, expires_in }) => {
                        client = Some(returned);
                        let wait = expires_in.min(ttl / 3).max(Duration::from_millis(100));
                        (Standby { holder, expires_in, unreachable: None }, wait)
                    }
                    Err(error) => {
                        // The session goes, off the async threads (its client blocks): the next
                        // round connects anew.
                        let _ = tokio::task::spawn_blocking(move || drop(returned)).await;
                        if patience == Patience::FailFast {
                            return Err(error);
                        }
                        (Standby { unreachable: Some(error.to_string()), ..Standby::default() }, RETRY)
                    }
                }
            }
            Err(error) => (Standby { unreachable: Some(error.to_string()), ..Standby::default() }, RETRY),
        };
        if standby.is_none() {
            match &seen.unreachable {
                Some(why) => tracing::warn!(%why, "standby: the database cannot be reached; asking for the lease again shortly"),
                None => {
                    tracing::warn!(holder = %seen.holder, expires_in = ?seen.expires_in, "standby: another server holds the ledger's lease; waiting for it");
                    println!("cashier: standby: the ledger is written by {}; waiting for its lease", seen.holder);
                }
            }
            standby = Some(serve_standby(listener)?);
        }
        if let Some((status, _, _)) = &standby {
            *status.lock().expect("standby lock") = seen;
        }
        tokio::time::sleep(wait).await;
    };
    if let Some((_, stop, task)) = standby {
        let _ = stop.send(());
        let _ = task.await;
    }
    tracing::info!(owner, epoch = fence.epoch, "holding the ledger's lease");
    let client = client.expect("a granted lease came over a session");
    Ok(Keeper::start(client, url.to_owned(), fence, ttl))
}

async fn connect(url: &str) -> Result<Session, StoreError> {
    let url = url.to_owned();
    tokio::task::spawn_blocking(move || Session::connect(&url)).await.map_err(StoreError::backend)?
}

/// Runs `work` with the (blocking) client off the async threads, and hands the client back.
async fn blocking<T: Send + 'static>(mut client: Session, work: impl FnOnce(&mut Session) -> T + Send + 'static) -> (Session, T) {
    tokio::task::spawn_blocking(move || {
        let out = work(&mut client);
        (client, out)
    })
    .await
    .expect("the lease query does not panic")
}

fn serve_standby(listener: &std::net::TcpListener) -> Result<StandbyListener, StoreError> {
    let status = Arc::new(Mutex::new(Standby::default()));
    let listener = listener.try_clone().map_err(StoreError::backend)?;
    listener.set_nonblocking(true).map_err(StoreError::backend)?;
    let listener = tokio::net::TcpListener::from_std(listener).map_err(StoreError::backend)?;
    let shown = status.clone();
    let router = axum::Router::new()
        .route("/healthz", axum::routing::get(|| async { axum::Json(serde_json::json!({"status": "ok"})) }))
        .route(
            "/readyz",
            axum::routing::get(move || {
                let standby = shown.lock().expect("standby lock").clone();
                async move {
                    let body = match &standby.unreachable {
                        Some(why) => serde_json::json!({
                            "status": "standby",
                            "message": format!("standby: the database cannot be reached ({why}); this server writes again once it can"),
                            "shard": SHARD,
                            "database": "unreachable",
                        }),
                        None => serde_json::json!({
                        "status": "standby",
                        "message": format!("standby: the ledger is written by {}; this server takes over when its lease ends", standby.holder),
                        "shard": SHARD,
                        "lease_holder": standby.holder,
                        "lease_expires_in_ms": standby.expires_in.as_millis() as u64,
                        }),
                    };
                    (StatusCode::SERVICE_UNAVAILABLE, [(axum::http::header::RETRY_AFTER, "1")], axum::Json(body))
                }
            }),
        )
        .fallback(|| async {
            let message = "this server is a standby: another server holds the ledger's lease; retry shortly";
            ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "standby", message).into_response()
        });
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, router)
            .with_graceful_shutdown(async move {
                let _ = stopped.await;
            })
            .await;
    });
    Ok((status, stop, task))
}

/// Renews a held lease until stopped (then releases it) or lost (then reports it).
pub struct Keeper {
    fence: Fence,
    state: Arc<KeeperState>,
    thread: Option<std::thread::JoinHandle<()>>,
}

struct KeeperState {
    stop: AtomicBool,
    lost: tokio::sync::Notify,
    why: Mutex<Option<String>>,
}

impl Keeper {
    fn start(client: Session, url: String, fence: Fence, ttl: Duration) -> Keeper {
        let state = Arc::new(KeeperState { stop: AtomicBool::new(false), lost: tokio::sync::Notify::new(), why: Mutex::new(None) });
        let (shared, held) = (state.clone(), fence.clone());
        let thread = std::thread::Builder::new()
            .name("cashier-lease".into())
            .spawn(move || renew_until_stopped(client, &url, &held, ttl, &shared))
            .expect("spawns the lease thread");
        Keeper { fence, state, thread: Some(thread) }
    }

    /// What every commit must prove.
    pub fn fence(&self) -> Fence {
        self.fence.clone()
    }

    /// Resolves once the lease is lost, with why.
    pub async fn lost(&self) -> String {
        loop {
            let notified = self.state.lost.notified();
            if let Some(why) = self.state.why.lock().expect("lease lock").clone() {
                return why;
            }
            notified.await;
        }
    }

    /// Stops renewing and releases the lease (a graceful stop: a standby takes over at once).
    pub fn release(mut self) {
        self.state.stop.store(true, Ordering::SeqCst);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for Keeper {
    fn drop(&mut self) {
        self.state.stop.store(true, Ordering::SeqCst);
    }
}

fn renew_until_stopped(mut client: Session, url: &str, fence: &Fence, ttl: Duration, state: &KeeperState) {
    // Valid until: the start of the last renewal the database confirmed, plus the time to live,
    // on this server's own monotonic clock.
    let mut valid_until = Instant::now() + ttl;
    let lose = |why: String| {
        tracing::error!(%why, "lost the ledger's lease; this server stops writing");
        *state.why.lock().expect("lease lock") = Some(why);
        state.lost.notify_waiters();
    };
    let mut next = Instant::now() + ttl / 3;
    loop {
        while Instant::now() < next {
            if state.stop.load(Ordering::SeqCst) {
                if let Err(e) = client.release(fence) {
                    tracing::warn!(error = %e, "could not release the lease; it expires by itself");
                }
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let started = Instant::now();
        match client.renew(fence, ttl) {
            Ok(true) => {
                valid_until = started + ttl;
                next = started + ttl / 3;
            }
            // Expired on the database's clock (a renewal held up past the time to live, as by a
            // primary that froze) or taken by another server: either way no longer ours.
            Ok(false) => return lose(format!("the lease of shard {} expired on the database's clock or was taken by another server", fence.shard)),
            Err(e) => {
                tracing::warn!(error = %e, "renewing the lease failed; retrying");
                if let Ok(fresh) = Session::connect(url) {
                    client = fresh;
                }
                next = Instant::now() + Duration::from_millis(200);
            }
        }
        if Instant::now() >= valid_until {
            return lose(format!("the lease of shard {} could not be renewed before it expired", fence.shard));
        }
    }
}
