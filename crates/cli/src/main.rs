//! `cashier`: one binary whose roles are subcommands.

mod bench;
mod chart;
mod log;
mod ops;
mod wire;

use clap::{Parser, Subcommand};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser)]
#[command(name = "cashier", version, about = "A self-hosted cashiering service for brokerages")]
struct Cli {
    #[command(subcommand)]
    command: Role,
}

#[derive(Subcommand)]
enum Role {
    /// Runs the server: the ledger, its store, and the HTTP API.
    Serve {
        /// Where the SQLite store and sandbox.json live.
        #[arg(long, env = "CASHIER_DATA_DIR", default_value = "./cashier-data")]
        data_dir: PathBuf,
        /// The address to listen on.
        #[arg(long, env = "CASHIER_LISTEN", default_value = "127.0.0.1:8080")]
        listen: SocketAddr,
        /// Use PostgreSQL at this URL (postgres://...) instead of the SQLite file.
        #[arg(long, env = "CASHIER_DATABASE_URL")]
        database_url: Option<String>,
        /// Production mode: no sandbox is created on a first start.
        #[arg(long, env = "CASHIER_NO_SANDBOX")]
        no_sandbox: bool,
        /// Logs as JSON lines instead of text.
        #[arg(long, env = "CASHIER_LOG_JSON")]
        log_json: bool,
        /// What is logged: `info` (one line per request, the default), `warn` (trouble only),
        /// `debug`, or a filter such as `info,cashier::http=warn`. `RUST_LOG` is read when this
        /// is not given.
        #[arg(long, env = "CASHIER_LOG_LEVEL")]
        log_level: Option<String>,
        /// Milliseconds the clearing worker waits between steps; 0 clears as fast as it can.
        #[arg(long, env = "CASHIER_CLEARING_DELAY_MS", default_value_t = 0)]
        clearing_delay_ms: u64,
        /// Requests per second one API key may make; more answer 429.
        #[arg(long, env = "CASHIER_RATE_LIMIT", default_value_t = cashier_server::RATE_LIMIT_DEFAULT)]
        rate_limit: u32,
        /// Event streams one API key may have open at once.
        #[arg(long, env = "CASHIER_STREAMS_PER_KEY", default_value_t = cashier_server::STREAMS_PER_KEY_DEFAULT)]
        streams_per_key: usize,
        /// Holidays (YYYY-MM-DD, comma-separated): not business days, like weekends.
        #[arg(long, env = "CASHIER_HOLIDAYS", value_delimiter = ',', value_parser = parse_date)]
        holidays: Vec<cashier_core::Date>,
        /// Four-eyes: operator actions on journals worth more than this many US dollars take a
        /// second operator to confirm.
        #[arg(long, env = "CASHIER_FOUR_EYES_OVER", value_parser = parse_usd)]
        four_eyes_over: Option<i64>,
        /// On PostgreSQL, this server's name among those sharing the database (default: the
        /// host's name and the listening address).
        #[arg(long, env = "CASHIER_NODE_ID")]
        node_id: Option<String>,
        /// On PostgreSQL, seconds the writer's lease lasts without renewal: how long a standby
        /// waits for a writer that died without a word.
        #[arg(long, env = "CASHIER_LEASE_TTL", default_value_t = 10.0)]
        lease_ttl: f64,
        /// Items one list answer holds at most (a larger `limit` answers 400, more matches 422).
        #[arg(long, env = "CASHIER_LIST_RESULTS_MAX", default_value_t = cashier_server::LIST_RESULTS_MAX)]
        list_results_max: usize,
        /// Settled journals the sequencer keeps in memory after their commit, for the actions
        /// that follow one closely; older ones are read back from the store when named.
        #[arg(long, env = "CASHIER_JOURNAL_CACHE", default_value_t = cashier_server::JOURNAL_CACHE_DEFAULT)]
        journal_cache: usize,
        /// How long idempotency keys stay in memory (`24h`, `90m`, `7d`; one minute at least):
        /// a request with an older key is answered from the store's key table all the same.
        #[arg(long, env = "CASHIER_IDEMPOTENCY_RETENTION", default_value = "24h", value_parser = parse_retention)]
        idempotency_retention: std::time::Duration,
    },
    /// Checks a store's whole log against its tables and its checkpoint (start-up checks only
    /// the log after the checkpoint); exits non-zero, naming what disagrees, when they do not
    /// reconcile. Safe while a server runs on the store.
    Verify {
        /// Data directory of the embedded SQLite store.
        #[arg(long, env = "CASHIER_DATA_DIR", default_value = "./cashier-data")]
        data_dir: std::path::PathBuf,
        /// A PostgreSQL store instead of the embedded one.
        #[arg(long, env = "CASHIER_DATABASE_URL")]
        database_url: Option<String>,
    },
    /// Operates a running server: journals, accounts, firm funding, the business day.
    Ops(ops::OpsArgs),
    /// Drives a server with journals and reports throughput and latency (see BENCHMARKS.md).
    Bench(bench::BenchArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // The server logs what it does; the tools print their own results and log only trouble.
    let (log_json, level, given) = match &cli.command {
        Role::Serve { log_json, log_level, .. } => (*log_json, "info", log_level.clone()),
        Role::Bench(_) | Role::Ops(_) | Role::Verify { .. } => (false, "warn", None),
    };
    let filter = match given {
        Some(text) => match tracing_subscriber::EnvFilter::try_new(&text) {
            Ok(filter) => filter,
            Err(error) => {
                eprintln!("cashier: --log-level {text:?} is not a level or filter: {error}");
                return ExitCode::FAILURE;
            }
        },
        None => tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| level.into()),
    };
    // Lines are written by a thread of their own: a request's handler does not wait on stdout.
    let log = log::Background::to(std::io::stdout());
    if log_json {
        tracing_subscriber::fmt().json().with_env_filter(filter).with_writer(log.clone()).init();
    } else {
        // Colours only for a terminal: a log written to a file or a pipe stays plain text.
        let ansi = std::io::IsTerminal::is_terminal(&std::io::stdout());
        tracing_subscriber::fmt().with_env_filter(filter).with_target(false).with_ansi(ansi).with_writer(log.clone()).init();
    }
    // Threads named by role, so that a profile of the machine tells the server from its load.
    let threads = match cli.command {
        Role::Serve { .. } => "cashier-http",
        Role::Bench(_) => "cashier-bench",
        Role::Ops(_) | Role::Verify { .. } => "cashier-ops",
    };
    let runtime = tokio::runtime::Builder::new_multi_thread().thread_name(threads).enable_all().build().expect("a tokio runtime");
    let result = match cli.command {
        Role::Serve {
            data_dir,
            listen,
            database_url,
            no_sandbox,
            clearing_delay_ms,
            rate_limit,
            streams_per_key,
            holidays,
            four_eyes_over,
            node_id,
            lease_ttl,
            list_results_max,
            journal_cache,
            idempotency_retention,
            ..
        } => {
            let clearing_delay = Some(std::time::Duration::from_millis(clearing_delay_ms));
            let config = cashier_server::Config {
                database_url,
                sandbox: !no_sandbox,
                clearing_delay,
                rate_limit,
                streams_per_key,
                calendar: cashier_core::Calendar::new(holidays),
                four_eyes_over,
                node_id,
                lease_ttl: std::time::Duration::from_secs_f64(lease_ttl.max(1.0)),
                list_results_max: list_results_max.max(1),
                journal_cache,
                idempotency_retention,
                ..cashier_server::Config::new(data_dir, listen)
            };
            runtime.block_on(cashier_server::serve(config, shutdown_signal())).map_err(|e| e.to_string())
        }
        Role::Bench(args) => runtime.block_on(bench::run(args)),
        Role::Ops(args) => runtime.block_on(ops::run(args)),
        Role::Verify { data_dir, database_url } => verify(data_dir, database_url),
    };
    log.flush();
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("cashier: {error}");
            ExitCode::FAILURE
        }
    }
}

/// `cashier verify`: the full check, its figures on stdout, what disagrees on stderr.
fn verify(data_dir: PathBuf, database_url: Option<String>) -> Result<(), String> {
    if database_url.is_none() && !data_dir.join("cashier.db").exists() {
        return Err(format!("no store in {}: give --data-dir or --database-url", data_dir.display()));
    }
    let config =
        cashier_server::Config { database_url, ..cashier_server::Config::new(data_dir, "127.0.0.1:0".parse().expect("an address")) };
    let check = cashier_server::verify(&config).map_err(|e| e.to_string())?;
    println!(
        "{} events, {} journals, {} balances, the checkpoint at event {} ({} rows), {} journals indexed by account",
        check.events, check.journals, check.balances, check.checkpoint_seq, check.checkpoint_rows, check.indexed
    );
    if check.problems.is_empty() {
        println!("the whole log reconciles with the tables and the checkpoint");
        return Ok(());
    }
    for problem in &check.problems {
        eprintln!("cashier verify: {problem}");
    }
    Err(format!("{} problem(s): the store does not reconcile", check.problems.len()))
}

/// A retention such as `24h`, `90m`, `7d` or `3600s`, one minute at least.
fn parse_retention(text: &str) -> Result<std::time::Duration, String> {
    let text = text.trim();
    let unit = text.chars().last().filter(|c| c.is_ascii_alphabetic());
    let number = if unit.is_some() { &text[..text.len() - 1] } else { text };
    let count: u64 = number.parse().map_err(|_| format!("{text:?} is not a duration such as 24h, 90m or 7d"))?;
    let seconds = match unit {
        Some('s') | None => Some(count),
        Some('m') => count.checked_mul(60),
        Some('h') => count.checked_mul(3_600),
        Some('d') => count.checked_mul(86_400),
        _ => None,
    }
    .ok_or_else(|| format!("{text:?} is not a duration such as 24h, 90m or 7d"))?;
    if seconds < 60 {
        return Err(format!("{text:?} is shorter than a minute: a key must outlive every retry in flight"));
    }
    Ok(std::time::Duration::from_secs(seconds))
}

fn parse_date(text: &str) -> Result<cashier_core::Date, String> {
    cashier_core::Date::parse(text.trim()).map_err(|_| format!("{text:?} is not a YYYY-MM-DD date"))
}

fn parse_usd(text: &str) -> Result<i64, String> {
    cashier_core::Currency::USD.parse_amount(text.trim()).map_err(|_| format!("{text:?} is not an amount of US dollars such as 10000.00"))
}

/// Ctrl-C or SIGTERM.
async fn shutdown_signal() {
    let interrupt = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        () = interrupt => {}
        () = terminate => {}
    }
}
