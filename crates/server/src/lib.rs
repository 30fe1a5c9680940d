//! Cashier over HTTP.
//!
//! [`serve`] opens the store (SQLite in the data directory, or PostgreSQL by URL), starts the
//! sequencer, bootstraps a sandbox on a first start, and serves until its shutdown future
//! resolves; then it stops taking requests, lets those in flight finish, and stops the
//! sequencer after its queued work.
//!
//! **Invariant:** the server holds no ledger rule: it parses, calls the core through the
//! sequencer, and renders. Every refusal comes from the core as a `Rejection`.

#![recursion_limit = "256"]

mod accounts;
mod activities;
mod admin;
pub mod api;
pub mod auth;
mod body;
pub mod clearing;
mod console;
pub mod days;
pub mod error;
pub mod events;
mod four_eyes;
mod journals;
mod keys;
pub mod lease;
pub mod limits;
mod openapi;
mod ops;
pub mod sandbox;
mod tables;
mod transfers;

use cashier_store::sql::LogReader;
use cashier_store::{off_runtime, Clock, Sequencer, SequencerConfig, Store, StoreError, SystemClock};
use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

pub use error::ApiError;
pub use journals::LIST_RESULTS_MAX;

/// How `cashier serve` runs.
#[derive(Clone, Debug)]
pub struct Config {
    /// Where the SQLite store and `sandbox.json` live.
    pub data_dir: PathBuf,
    pub listen: SocketAddr,
    /// `postgres://...` to use PostgreSQL instead of the SQLite file.
    pub database_url: Option<String>,
    /// Sandbox mode: a first start creates a sandbox correspondent with a funded firm account.
    pub sandbox: bool,
    /// The clearing worker's pause between steps that moved journals; `None` runs no worker
    /// (tests step clearing by hand), zero runs it as fast as it can.
    pub clearing_delay: Option<std::time::Duration>,
    /// Committed batches kept for event streams that fall behind; a stream further behind is
    /// told so and disconnected.
    pub event_backlog: usize,
    /// Settled journals the sequencer keeps in memory after their commit.
    pub journal_cache: usize,
    /// How long idempotency keys stay in memory; older ones are answered from the store.
    pub idempotency_retention: std::time::Duration,
    /// Events waiting to be written to one stream's connection.
    pub event_buffer: usize,
    /// Requests per second one API key may make; more answer 429.
    pub rate_limit: u32,
    /// Event streams one API key may have open at once; more answer 429.
    pub streams_per_key: usize,
    /// Journals one `GET /v1/journals` answers without a `limit`; more answer 422.
    pub list_results_max: usize,
    /// Business days: weekdays less these holidays.
    pub calendar: cashier_core::Calendar,
    /// Four-eyes: operator actions on journals worth more than this (minor units; shares at
    /// their price in US cents) take a second operator. `None`: one operator is enough.
    pub four_eyes_over: Option<i64>,
    /// Console sessions end after this long without a request.
    pub console_idle: std::time::Duration,
    /// The console's reconciliation page lists journals waiting longer than this.
    pub stuck_after: std::time::Duration,
    /// This server's name among those sharing a PostgreSQL database (its lease's owner, with its
    /// process id); by default the host's name and the listening address.
    pub node_id: Option<String>,
    /// On PostgreSQL: how long the writer's lease lasts without renewal (how long a standby
    /// waits for a writer that died without a word).
    pub lease_ttl: std::time::Duration,
}

/// Requests per second per key by default: far above what one client of the Broker API needs,
/// low enough that one key cannot starve the others.
pub const RATE_LIMIT_DEFAULT: u32 = 50_000;
/// Event streams per key by default.
pub const STREAMS_PER_KEY_DEFAULT: usize = 16;

impl Config {
    /// SQLite in `data_dir`, sandbox mode, no clearing worker, the default event stream limits.
    pub fn new(data_dir: PathBuf, listen: SocketAddr) -> Config {
        Config {
            data_dir,
            listen,
            database_url: None,
            sandbox: true,
            clearing_delay: None,
            event_backlog: SequencerConfig::default().subscriber_backlog,
            journal_cache: JOURNAL_CACHE_DEFAULT,
            idempotency_retention: cashier_store::KEY_RETENTION_DEFAULT,
            event_buffer: events::STREAM_BUFFER,
            rate_limit: RATE_LIMIT_DEFAULT,
            streams_per_key: STREAMS_PER_KEY_DEFAULT,
            list_results_max: journals::LIST_RESULTS_MAX,
            calendar: cashier_core::Calendar::default(),
            four_eyes_over: None,
            console_idle: console::IDLE_DEFAULT,
            stuck_after: console::STUCK_AFTER_DEFAULT,
            node_id: None,
            lease_ttl: lease::TTL_DEFAULT,
        }
    }

    /// The node's name: `node_id`, or the host's name and the listening address.
    pub fn node(&self) -> String {
        self.node_id.clone().unwrap_or_else(|| {
            let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default();
            let host = host.trim();
            format!("{}@{}", if host.is_empty() { "cashier" } else { host }, self.listen)
        })
    }
}

/// Largest request body accepted, in bytes: room for a batch of the largest size.
pub const BODY_BYTES_MAX: usize = 2 * 1024 * 1024;

/// Opens a reader of the committed log, apart from the writer (event streams replay from it).
pub type LogOpener = Arc<dyn Fn() -> Result<Box<dyn LogReader>, StoreError> + Send + Sync>;

/// What every handler shares.
pub struct App {
    pub sequencer: Arc<Sequencer>,
    pub config: Config,
    /// Turns true when the server stops: long-lived responses (event streams) end on it.
    pub stopping: tokio::sync::watch::Receiver<bool>,
    pub http: ops::HttpStats,
    /// Reads of the committed tables, off the async threads.
    pub tables: tables::TableReaders,
    pub limits: Arc<limits::Limits>,
    /// Signed-in console users.
    pub console: console::Sessions,
}

impl App {
    /// Runs `read` over a reader of the committed tables, off the async threads.
    pub async fn read_tables<T: Send + 'static>(
        &self,
        read: impl FnOnce(&mut dyn LogReader) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, ApiError> {
        self.tables.read(read).await
    }
}

/// Settled journals kept in memory after their commit, by default.
pub const JOURNAL_CACHE_DEFAULT: usize = 65_536;

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("cannot listen on {0}: {1}")]
    Listen(SocketAddr, std::io::Error),
    #[error("sandbox bootstrap failed: {0}")]
    Sandbox(String),
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

/// A server started by [`start`], for tests and tools: its address, and how to stop it.
pub struct Running {
    pub addr: SocketAddr,
    pub app: Arc<App>,
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<Result<(), ServeError>>,
    lease: Option<Arc<lease::Keeper>>,
}

impl Running {
    /// Stops it gracefully and waits until the sequencer has stopped (then its lease, if it
    /// holds one, is released).
    pub async fn stop(self) -> Result<(), ServeError> {
        let Running { stop, task, lease, .. } = self;
        // The serving task holds the only other handle on the lease, and releases it once the
        // sequencer has stopped.
        drop(lease);
        let _ = stop.send(());
        task.await.map_err(|e| ServeError::Io(std::io::Error::other(e)))?
    }

    /// Resolves when the server lost its writer's lease (never on SQLite).
    pub async fn lease_lost(&self) -> String {
        match &self.lease {
            Some(keeper) => keeper.lost().await,
            None => std::future::pending().await,
        }
    }
}

/// Connections waiting to be accepted, at most: the platform's usual 128 drops the connections of
/// a few hundred clients starting at once, and each dropped one retries a second later.
const LISTEN_BACKLOG: u32 = 4096;

fn listen(address: SocketAddr) -> std::io::Result<tokio::net::TcpListener> {
    let socket = if address.is_ipv4() { tokio::net::TcpSocket::new_v4()? } else { tokio::net::TcpSocket::new_v6()? };
    socket.set_reuseaddr(true)?;
    socket.bind(address)?;
    socket.listen(LISTEN_BACKLOG)
}

/// Opens the store and the sequencer, bootstraps the sandbox, binds the listener, and serves in
/// a task of its own.
pub async fn start(config: Config) -> Result<Running, ServeError> {
    let listener = listen(config.listen).map_err(|e| ServeError::Listen(config.listen, e))?.into_std()?;
    start_on(config, listener, lease::Patience::FailFast).await
}

/// [`start`] on a listener already bound: `cashier serve` keeps one across the restarts that
/// follow a lost lease, so that connections wait in its backlog rather than being refused.
async fn start_on(config: Config, listener: std::net::TcpListener, patience: lease::Patience) -> Result<Running, ServeError> {
    // One process a data directory, for as long as it runs (its store, its sandbox files).
    let lock = cashier_store_sqlite::DataDirLock::acquire(&config.data_dir)?;
    sandbox::tighten(&config.data_dir)?;
    // Opening it brings its schema up to date, the lease table's with it.
    let mut store = open_store(&config)?;
    // On PostgreSQL one server writes at a time: it holds the lease, and the others wait.
    let keeper = match &config.database_url {
        Some(url) => {
            let owner = format!("{}/{}", config.node(), std::process::id());
            let keeper = lease::hold(url, &owner, config.lease_ttl, &listener, patience).await?;
            store = store.fenced(keeper.fence());
            Some(Arc::new(keeper))
        }
        None => None,
    };
    let sequencer_config = SequencerConfig {
        subscriber_backlog: config.event_backlog,
        journal_cache: config.journal_cache,
        key_retention: config.idempotency_retention,
        ..SequencerConfig::default()
    };
    let first_day = config.calendar.on_or_after(days::date_of(SystemClock::default().now()));
    let sequencer = Arc::new(Sequencer::start(store.into_store(), SystemClock::default(), first_day, sequencer_config)?);
    if config.sandbox && sequencer.started_empty() {
        let sandbox = sandbox::bootstrap(&sequencer).await.map_err(|e| ServeError::Sandbox(e.to_string()))?;
        sandbox.write(&config.data_dir)?;
        sandbox.announce(&config.data_dir);
    } else if sequencer.started_empty() {
        sandbox::first_operator_key(&sequencer, &config.data_dir).await.map_err(|e| ServeError::Sandbox(e.to_string()))?;
    }
    let listener = tokio::net::TcpListener::from_std(listener)?;
    let addr = listener.local_addr()?;
    let log = log_opener(&config);
    let (stop_all, stopping) = tokio::sync::watch::channel(false);
    let limits = limits::Limits::new(config.rate_limit, config.streams_per_key);
    let app = Arc::new(App {
        sequencer,
        config,
        stopping: stopping.clone(),
        http: ops::HttpStats::default(),
        tables: tables::TableReaders::start(log),
        limits,
        console: console::Sessions::default(),
    });
    let router = routes()
        .into_router()
        .fallback(not_found)
        // A panic in a handler answers a 500 in the envelope, counted and logged like any other.
        .layer(tower_http::catch_panic::CatchPanicLayer::custom(answer_panic))
        .layer(axum::middleware::from_fn_with_state(app.clone(), ops::observe))
        .layer(axum::extract::DefaultBodyLimit::max(BODY_BYTES_MAX))
        .with_state(app.clone());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let clearing = app.config.clearing_delay.map(|delay| clearing::spawn(app.sequencer.clone(), delay, stopping.clone()));
    let day_roller =
        (!app.config.sandbox).then(|| days::spawn(app.sequencer.clone(), app.config.calendar.clone(), SystemClock::default(), stopping));
    let serving = app.clone();
    let held = keeper.clone();
    let task = tokio::spawn(async move {
        let result = axum::serve(listener, router).with_graceful_shutdown(async move {
            let _ = stopped.await;
            // Event streams end first, so that their connections can finish.
            let _ = stop_all.send(true);
        });
        result.await?;
        for worker in [clearing, day_roller].into_iter().flatten() {
            let _ = worker.await;
        }
        let sequencer = serving.sequencer.clone();
        tokio::task::spawn_blocking(move || sequencer.shutdown()).await.map_err(std::io::Error::other)?;
        if let Some(keeper) = held.and_then(Arc::into_inner) {
            tokio::task::spawn_blocking(move || keeper.release()).await.map_err(std::io::Error::other)?;
        }
        drop(lock);
        Ok(())
    });
    Ok(Running { addr, app, stop, task, lease: keeper })
}

/// Runs until `shutdown` resolves (Ctrl-C or SIGTERM in `cashier serve`). A server that loses
/// its lease (taken by another, or not renewed in time, as while the database fails over) drops
/// the ledger's state, waits as a standby until the lease is granted again, and serves again
/// from the store, in the same process and on the same listener.
pub async fn serve(config: Config, shutdown: impl Future<Output = ()>) -> Result<(), ServeError> {
    let listener = listen(config.listen).map_err(|e| ServeError::Listen(config.listen, e))?.into_std()?;
    let config = Config { listen: listener.local_addr()?, ..config };
    tokio::pin!(shutdown);
    let mut patience = lease::Patience::FailFast;
    loop {
        let started = tokio::select! {
            () = &mut shutdown => return Ok(()),
            started = start_on(config.clone(), listener.try_clone()?, patience) => started,
        };
        let running = match started {
            Ok(running) => running,
            // After a loss the database may still be failing over: try again.
            Err(error) if patience == lease::Patience::Wait => {
                eprintln!("cashier: starting again failed ({error}); retrying");
                tokio::time::sleep(lease::RETRY).await;
                continue;
            }
            Err(error) => return Err(error),
        };
        tracing::info!(addr = %running.addr, "cashier is listening");
        println!("cashier: listening on http://{}", running.addr);
        let lost = tokio::select! {
            () = &mut shutdown => None,
            why = running.lease_lost() => Some(why),
        };
        tracing::info!("shutting down");
        running.stop().await?;
        let Some(why) = lost else { return Ok(()) };
        running_again(&why);
        patience = lease::Patience::Wait;
    }
}

fn running_again(why: &str) {
    tracing::warn!(%why, "the ledger's state is dropped; asking for the lease again");
    eprintln!("cashier: {why}; the ledger's state is dropped, and this server asks for the lease again");
}

/// For the `request` fuzz target (`fuzz/`): every request-body decoder of the API over the same
/// bytes. Not part of the API.
#[doc(hidden)]
pub fn fuzz_request_bodies(bytes: &[u8]) {
    let Ok(fields) = body::Fields::parse(bytes) else { return };
    let _ = fields.journal_request();
    let _ = fields.batch("to_account");
    let _ = fields.batch("from_account");
    let _ = fields.kyc_profile();
    let _ = fields.transfer();
}

/// Every endpoint, with its handler and its description.
pub fn routes() -> api::Api {
    let api = ops::routes(api::Api::default());
    let api = openapi::routes(api);
    let api = journals::routes(api);
    let api = accounts::routes(api);
    let api = activities::routes(api);
    let api = events::routes(api);
    let api = admin::routes(api);
    let api = keys::routes(api);
    let api = transfers::routes(api);
    console::routes(api)
}

/// What a request whose handler panicked is answered: the generic 500, the cause logged.
fn answer_panic(cause: Box<dyn std::any::Any + Send + 'static>) -> axum::response::Response {
    let text = cause.downcast_ref::<String>().map(String::as_str).or_else(|| cause.downcast_ref::<&str>().copied()).unwrap_or("a panic");
    axum::response::IntoResponse::into_response(ApiError::internal(format!("a handler panicked: {text}")))
}

/// Any path no route serves, in the error envelope.
async fn not_found(uri: axum::http::Uri) -> ApiError {
    ApiError::new(axum::http::StatusCode::NOT_FOUND, "route_not_found", format!("no such endpoint: {}", uri.path()))
}

/// The full check of a store: its whole log against its tables and its checkpoint, on a reader
/// of its own (the store may be in use by a server meanwhile).
pub fn verify(config: &Config) -> Result<cashier_store::sql::FullCheck, StoreError> {
    let open = log_opener(config);
    off_runtime(move || open()?.full_check())
}

fn log_opener(config: &Config) -> LogOpener {
    match &config.database_url {
        Some(url) => {
            let url = url.clone();
            Arc::new(move || Ok(Box::new(cashier_store_postgres::PostgresStore::connect(&url, None)?) as Box<dyn LogReader>))
        }
        None => {
            let dir = config.data_dir.clone();
            Arc::new(move || Ok(Box::new(cashier_store_sqlite::SqliteLog::open_in(&dir)?) as Box<dyn LogReader>))
        }
    }
}

/// The store a server writes: its SQLite file, or PostgreSQL (then fenced by its lease).
enum Opened {
    Sqlite(cashier_store_sqlite::SqliteStore),
    Postgres(cashier_store_postgres::PostgresStore),
}

impl Opened {
    fn fenced(self, fence: cashier_store_postgres::Fence) -> Opened {
        match self {
            Opened::Postgres(store) => Opened::Postgres(store.fenced(fence)),
            sqlite => sqlite,
        }
    }

    fn into_store(self) -> Box<dyn Store> {
        match self {
            Opened::Sqlite(store) => Box::new(store),
            Opened::Postgres(store) => Box::new(store),
        }
    }
}

fn open_store(config: &Config) -> Result<Opened, StoreError> {
    match &config.database_url {
        Some(url) => Ok(Opened::Postgres(cashier_store_postgres::PostgresStore::connect(url, None)?)),
        None => {
            let dir = config.data_dir.clone();
            off_runtime(move || Ok(Opened::Sqlite(cashier_store_sqlite::SqliteStore::open_in(&dir)?)))
        }
    }
}

#[cfg(test)]
mod tests {
    #[tokio::test]
    async fn a_panic_answers_the_generic_500_without_its_cause() {
        let response = super::answer_panic(Box::new("secret detail"));
        assert_eq!(response.status(), axum::http::StatusCode::INTERNAL_SERVER_ERROR);
        let body = axum::body::to_bytes(response.into_body(), 4096).await.unwrap();
        let error: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!((error["code"].as_u64(), error["reason"].as_str()), (Some(50010000), Some("internal_error")));
        assert!(!String::from_utf8_lossy(&body).contains("secret"), "a 5xx shows nothing internal");
    }
}
