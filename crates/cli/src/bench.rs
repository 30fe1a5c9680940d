//! `cashier bench`: the load generator. It drives a running server over HTTP, or starts
//! `cashier serve` on a temporary store, with a configurable workload, and reports journals per
//! second, latency percentiles from an HDR histogram, and errors by code; it writes the results
//! as JSON and a chart (SVG) of throughput and latency over time.
//!
//! Latency is measured from when a request was due: in the open loop that is its scheduled
//! time, so a server that falls behind shows it (no coordinated omission).

use crate::wire;
use hdrhistogram::Histogram;
use rand::{Rng, SeedableRng};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[derive(clap::Args, Clone, Debug)]
pub struct BenchArgs {
    /// A running server (http://host:port); without it, bench starts `cashier serve` on a
    /// temporary store and stops it afterwards.
    #[arg(long)]
    pub url: Option<String>,
    /// The running server's sandbox.json (its keys and firm account); required with --url.
    #[arg(long)]
    pub sandbox: Option<PathBuf>,
    /// The started server uses PostgreSQL at this URL instead of SQLite.
    #[arg(long)]
    pub database_url: Option<String>,
    /// Concurrent clients (connections kept alive).
    #[arg(long, default_value_t = 64)]
    pub clients: usize,
    /// Seconds to run.
    #[arg(long, default_value_t = 10.0)]
    pub seconds: f64,
    /// Open loop at this many requests a second; without it, a closed loop (each client sends
    /// its next request when the last is answered).
    #[arg(long)]
    pub rate: Option<f64>,
    /// Journal entries per request: 1 posts single journals, more post batches.
    #[arg(long, default_value_t = 1)]
    pub batch: usize,
    /// Every write carries a new `Idempotency-Key`, as a careful client's do.
    #[arg(long)]
    pub keys: bool,
    /// Share of requests that move shares (JNLS) rather than cash (JNLC), from 0 to 1.
    #[arg(long, default_value_t = 0.0)]
    pub jnls_share: f64,
    /// Share of requests that read rather than write, from 0 to 1: a journal by id, an account's
    /// journals (`GET /v1/journals?to_account=`, 50 of them) or a trading account, in turn at
    /// random. Reads are measured apart from the journals written.
    #[arg(long, default_value_t = 0.0)]
    pub reads: f64,
    /// Share of cash requests that touch the hot firm account; the rest go to other firm accounts.
    #[arg(long, default_value_t = 1.0)]
    pub hot_share: f64,
    /// Customer accounts opened for the run.
    #[arg(long, default_value_t = 100)]
    pub customers: usize,
    /// Other (cold) firm accounts opened for the run.
    #[arg(long, default_value_t = 4)]
    pub cold_firms: usize,
    /// Where the JSON results and the SVG chart go.
    #[arg(long, default_value = "bench-results")]
    pub out: PathBuf,
    /// No progress bar (for scripts and CI).
    #[arg(long)]
    pub quiet: bool,
    /// The JNLC flow of the correspondent the run uses: v1 (the sandbox's: created queued, then
    /// the clearing worker executes it) or v2 (booked at creation; a correspondent on v2, with a
    /// firm account and a key of its own, is set up for the run).
    #[arg(long, default_value = "v1", value_parser = ["v1", "v2"])]
    pub flow: String,
    /// Compare, in one run: the disk's fsync latency, then this workload on Cashier over SQLite
    /// and over PostgreSQL (a fresh database beside --database-url's), then the row-locking
    /// baseline (pgbench with the hot-firm-account script) at the same client count; prints the
    /// ratios and writes them as JSON.
    #[arg(long, conflicts_with = "url")]
    pub compare: bool,
}

/// The PostgreSQL server `--compare` uses when no --database-url is given.
const COMPARE_DATABASE_URL: &str = "postgres://postgres@127.0.0.1:5432/test";

/// The accounts and keys a run uses.
struct Target {
    base: String,
    key: (String, String),
    hot_firm: String,
    cold_firms: Vec<String>,
    customers: Vec<String>,
    /// Journals made for the reads of a journal by id.
    journals: Vec<String>,
}

/// What the clients measured.
struct Tally {
    latency: Histogram<u64>,
    /// Reads: how many answered, and their latency.
    reads: u64,
    read_latency: Histogram<u64>,
    /// Per second of the run: journals done, and that second's latency histogram.
    timeline: Vec<(u64, Histogram<u64>)>,
    errors: BTreeMap<String, u64>,
    requests: u64,
    journals: u64,
}

impl Tally {
    fn new() -> Tally {
        Tally {
            latency: histogram(),
            reads: 0,
            read_latency: histogram(),
            timeline: Vec::new(),
            errors: BTreeMap::new(),
            requests: 0,
            journals: 0,
        }
    }

    fn record_read(&mut self, micros: u64, outcome: Result<(), String>) {
        match outcome {
            Ok(()) => {
                self.reads += 1;
                let _ = self.read_latency.record(micros.max(1));
            }
            Err(code) => *self.errors.entry(format!("read: {code}")).or_default() += 1,
        }
    }

    fn record(&mut self, second: usize, micros: u64, outcome: Result<u64, String>) {
        self.requests += 1;
        while self.timeline.len() <= second {
            self.timeline.push((0, histogram()));
        }
        match outcome {
            Ok(journals) => {
                let micros = micros.max(1);
                let _ = self.latency.record(micros);
                let _ = self.timeline[second].1.record(micros);
                self.timeline[second].0 += journals;
                self.journals += journals;
            }
            Err(code) => *self.errors.entry(code).or_default() += 1,
        }
    }
}

fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 120_000_000, 3).expect("valid histogram bounds")
}

pub async fn run(args: BenchArgs) -> Result<(), String> {
    if args.clients == 0 || args.batch == 0 || args.seconds <= 0.0 {
        return Err("--clients, --batch and --seconds must be positive".into());
    }
    if args.batch > 5_000 {
        return Err("--batch is at most 5000 entries".into());
    }
    if args.batch > 1 && args.jnls_share > 0.0 {
        return Err("batches move cash only (JNLC): use --jnls-share with --batch 1".into());
    }
    if args.flow == "v2" && args.jnls_share > 0.0 {
        return Err("--flow v2 sets up a correspondent whose firm holds cash only: leave out --jnls-share".into());
    }
    if args.compare {
        return compare(args).await;
    }
    run_once(&args, args.database_url.as_deref()).await.map(drop)
}

/// One run of the workload; returns its report, also written to `--out`.
async fn run_once(args: &BenchArgs, database_url: Option<&str>) -> Result<Value, String> {
    let mut server = None;
    let (base, sandbox) = match &args.url {
        Some(url) => {
            let path = args.sandbox.clone().ok_or("--url needs --sandbox (the server's sandbox.json)")?;
            (url.trim_end_matches('/').to_owned(), read_sandbox(&path)?)
        }
        None => {
            let started = Server::start(database_url).await?;
            let pair = (started.base.clone(), read_sandbox(&started.dir.join("sandbox.json"))?);
            server = Some(started);
            pair
        }
    };
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(args.clients + 8)
        .timeout(Duration::from_secs(60))
        .build()
        .map_err(|e| e.to_string())?;
    let target = Arc::new(prepare(&http, &base, &sandbox, args).await?);
    let started = Instant::now();
    let tally = drive(&target, args).await?;
    let elapsed = started.elapsed().as_secs_f64().min(args.seconds.max(0.001));
    let mut report = report(args, &tally, elapsed, server.as_ref().map_or("external", |s| s.store));
    let (backlog, drained) = drain(&http, &base).await;
    report["clearing"] = json!({
        "backlog_at_end": backlog,
        "drained_after_seconds": drained,
        // Accepted journals over the run plus the time clearing took to catch up.
        "sustained_journals_per_second": drained.map(|d| tally.journals as f64 / (elapsed + d)),
    });
    print_summary(&report);
    std::fs::create_dir_all(&args.out).map_err(|e| format!("cannot create {}: {e}", args.out.display()))?;
    let stamp = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let json_path = args.out.join(format!("bench-{stamp}.json"));
    let (svg_path, png_path) = (args.out.join(format!("bench-{stamp}.svg")), args.out.join(format!("bench-{stamp}.png")));
    std::fs::write(&json_path, serde_json::to_string_pretty(&report).unwrap_or_default()).map_err(|e| e.to_string())?;
    let svg = crate::chart::svg(&report);
    std::fs::write(&svg_path, &svg).map_err(|e| e.to_string())?;
    std::fs::write(&png_path, crate::chart::png(&svg)?).map_err(|e| e.to_string())?;
    println!("results: {}\nchart:   {} and {}", json_path.display(), svg_path.display(), png_path.display());
    if let Some(server) = server {
        server.stop();
    }
    Ok(report)
}

/// How long `drain` waits for the clearing worker to catch up after a run.
const DRAIN_WAIT: Duration = Duration::from_secs(120);

/// Journals accepted but not yet through clearing (`queued` or `sent_to_clearing`) when the run
/// ended, and how long the server took to clear them: `None` when it did not within
/// `DRAIN_WAIT` (or its metrics could not be read). A run's rate counts journals accepted; this
/// says whether clearing kept up.
async fn drain(http: &reqwest::Client, base: &str) -> (Option<u64>, Option<f64>) {
    let started = Instant::now();
    let mut at_end = None;
    while started.elapsed() < DRAIN_WAIT {
        let Some(waiting) = clearing_backlog(http, base).await else { return (at_end, None) };
        at_end.get_or_insert(waiting);
        if waiting == 0 {
            return (at_end, Some(started.elapsed().as_secs_f64()));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    (at_end, None)
}

/// `queued` plus `sent_to_clearing`, from the server's `/metrics`.
async fn clearing_backlog(http: &reqwest::Client, base: &str) -> Option<u64> {
    let text = http.get(format!("{base}/metrics")).send().await.ok()?.text().await.ok()?;
    let count = |status: &str| {
        let prefix = format!("cashier_journals_waiting{{status=\"{status}\"}} ");
        text.lines().find_map(|line| line.strip_prefix(&prefix)?.trim().parse::<u64>().ok())
    };
    Some(count("queued")? + count("sent_to_clearing")?)
}

/// `--compare`: fsync probe, Cashier on SQLite, Cashier on PostgreSQL, the pgbench baseline.
async fn compare(args: BenchArgs) -> Result<(), String> {
    let url = args.database_url.clone().unwrap_or_else(|| COMPARE_DATABASE_URL.to_owned());
    let dir = std::env::temp_dir().join(format!("cashier-compare-{}", std::process::id()));
    let probe_dir = dir.clone();
    let (fsync_p50, fsync_p99) =
        tokio::task::spawn_blocking(move || cashier_store_bench::fsync_probe(&probe_dir)).await.map_err(|e| e.to_string())?;
    println!("fsync probe ({}): p50 {fsync_p50} us, p99 {fsync_p99} us", dir.display());
    println!("\n== Cashier on SQLite");
    let sqlite = run_once(&args, None).await?;
    println!("\n== Cashier on PostgreSQL");
    let fresh = FreshDatabase::create(&url).await?;
    let postgres = run_once(&args, Some(&fresh.url)).await;
    fresh.drop_it().await;
    let postgres = postgres?;
    println!("\n== The row-locking baseline: pgbench, {} clients", args.clients);
    let (clients, seconds, customers) = (args.clients, args.seconds.ceil().max(1.0) as u64, args.customers.max(1));
    let (baseline_url, baseline_dir) = (url.clone(), dir.clone());
    let baseline =
        tokio::task::spawn_blocking(move || cashier_store_bench::pgbench(&baseline_url, &baseline_dir, clients, seconds, customers))
            .await
            .map_err(|e| e.to_string())?;
    let _ = std::fs::remove_dir_all(&dir);
    let (baseline_clients, tps) = baseline.ok_or("pgbench failed: is it installed, and is PostgreSQL reachable?")?;
    // pgbench counts finished transactions, so Cashier's journals count once through clearing:
    // the sustained rate (journals accepted over the run and the time clearing took after it).
    let rate = |r: &Value| {
        let accepted = r["journals_per_second"].as_f64().unwrap_or(0.0);
        r["clearing"]["sustained_journals_per_second"].as_f64().map_or(accepted, |sustained| sustained.min(accepted))
    };
    let latency = |r: &Value, q: &str| r["latency_ms"][q].as_f64().unwrap_or(0.0);
    println!("\n| {} clients, {} | journals/s, through clearing | p50 ms | p99 ms | x pgbench |", args.clients, workload_name(&args));
    println!("|---|---|---|---|---|");
    for (name, r) in [("Cashier, SQLite", &sqlite), ("Cashier, PostgreSQL", &postgres)] {
        println!("| {name} | {:.0} | {:.2} | {:.2} | {:.1}x |", rate(r), latency(r, "p50"), latency(r, "p99"), rate(r) / tps);
    }
    println!("| pgbench, row locks ({baseline_clients} clients) | {tps:.0} | - | - | 1.0x |");
    let comparison = json!({
        "fsync_us": {"p50": fsync_p50, "p99": fsync_p99},
        "sqlite": sqlite,
        "postgres": postgres,
        "pgbench": {"clients": baseline_clients, "transactions_per_second": tps},
        "through_clearing": {"sqlite": rate(&sqlite), "postgres": rate(&postgres)},
        "ratios": {"sqlite_to_pgbench": rate(&sqlite) / tps, "postgres_to_pgbench": rate(&postgres) / tps},
    });
    let stamp = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let path = args.out.join(format!("compare-{stamp}.json"));
    std::fs::write(&path, serde_json::to_string_pretty(&comparison).unwrap_or_default()).map_err(|e| e.to_string())?;
    println!("comparison: {}", path.display());
    Ok(())
}

fn workload_name(args: &BenchArgs) -> String {
    let shape = if args.batch > 1 { format!("batches of {}", args.batch) } else { "single journals".into() };
    match args.rate {
        Some(rate) => format!("{shape}, open loop at {rate}/s"),
        None => format!("{shape}, closed loop"),
    }
}

/// A database of its own for one run on PostgreSQL, beside the one `url` names.
struct FreshDatabase {
    admin_url: String,
    name: String,
    url: String,
}

impl FreshDatabase {
    async fn create(admin_url: &str) -> Result<FreshDatabase, String> {
        let name = format!("cashier_bench_{}", std::process::id());
        let (base, query) = admin_url.split_once('?').map_or((admin_url, ""), |(b, q)| (b, q));
        let prefix = base.rsplit_once('/').map_or(base, |(p, _)| p);
        let url = if query.is_empty() { format!("{prefix}/{name}") } else { format!("{prefix}/{name}?{query}") };
        let fresh = FreshDatabase { admin_url: admin_url.to_owned(), name, url };
        fresh.admin(format!("DROP DATABASE IF EXISTS {0}; CREATE DATABASE {0}", fresh.name)).await?;
        Ok(fresh)
    }

    async fn admin(&self, sql: String) -> Result<(), String> {
        let url = self.admin_url.clone();
        tokio::task::spawn_blocking(move || {
            let mut client = postgres::Client::connect(&url, postgres::NoTls).map_err(|e| format!("PostgreSQL at {url}: {e}"))?;
            for statement in sql.split("; ") {
                client.batch_execute(statement).map_err(|e| e.to_string())?;
            }
            Ok(())
        })
        .await
        .map_err(|e| e.to_string())?
    }

    async fn drop_it(self) {
        if let Err(error) = self.admin(format!("DROP DATABASE IF EXISTS {}", self.name)).await {
            eprintln!("cashier bench: could not drop the database {}: {error}", self.name);
        }
    }
}

fn read_sandbox(path: &Path) -> Result<Value, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    serde_json::from_str(&text).map_err(|e| format!("{} is not JSON: {e}", path.display()))
}

/// A `cashier serve` child on a temporary store and a free port.
struct Server {
    child: std::process::Child,
    dir: PathBuf,
    base: String,
    store: &'static str,
}

impl Server {
    async fn start(database_url: Option<&str>) -> Result<Server, String> {
        let dir = std::env::temp_dir().join(format!("cashier-bench-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let port = std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map_err(|e| e.to_string())?.port();
        let exe = std::env::current_exe().map_err(|e| e.to_string())?;
        let mut command = std::process::Command::new(exe);
        command
            .arg("serve")
            .arg("--data-dir")
            .arg(&dir)
            .arg("--listen")
            .arg(format!("127.0.0.1:{port}"))
            .env("RUST_LOG", "warn")
            .stdout(std::process::Stdio::null());
        if let Some(url) = database_url {
            command.arg("--database-url").arg(url);
        }
        let child = command.spawn().map_err(|e| format!("cannot start cashier serve: {e}"))?;
        let server = Server {
            child,
            dir,
            base: format!("http://127.0.0.1:{port}"),
            store: if database_url.is_some() { "postgres" } else { "sqlite" },
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let ready = reqwest::get(format!("{}/readyz", server.base)).await.is_ok_and(|r| r.status().is_success());
            if ready && server.dir.join("sandbox.json").exists() {
                return Ok(server);
            }
            if Instant::now() > deadline {
                server.stop();
                return Err("the started server did not become ready within 30 s".into());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    fn stop(self) {
        drop(self);
    }
}

/// However the bench ends (an error in its setup included), the server it started stops: a
/// server left running would hold its caller's output open.
impl Drop for Server {
    fn drop(&mut self) {
        // SIGTERM for a graceful stop, then wait.
        let _ = std::process::Command::new("kill").arg("-TERM").arg(self.child.id().to_string()).status();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

async fn call(
    http: &reqwest::Client,
    method: reqwest::Method,
    url: String,
    key: (&str, &str),
    body: Option<Value>,
) -> Result<Value, String> {
    let write = method != reqwest::Method::GET;
    let mut request = http.request(method, url).basic_auth(key.0, Some(key.1));
    // Every write is JSON, a body or not: the server refuses any other (415).
    match body {
        Some(body) => request = request.json(&body),
        None if write => request = request.json(&serde_json::json!({})),
        None => {}
    }
    let response = request.send().await.map_err(|e| format!("transport: {e}"))?;
    let status = response.status();
    let body: Value = response.json().await.unwrap_or(Value::Null);
    if status.is_success() {
        Ok(body)
    } else {
        Err(format!("{} {}", status.as_u16(), body["reason"].as_str().unwrap_or("")))
    }
}

/// Opens the customers and cold firm accounts, and funds the firm accounts.
async fn prepare(http: &reqwest::Client, base: &str, sandbox: &Value, args: &BenchArgs) -> Result<Target, String> {
    let field = |name: &str| sandbox[name].as_str().map(str::to_owned).ok_or_else(|| format!("sandbox.json has no {name}"));
    let mut key = (field("api_key")?, field("api_secret")?);
    let operator = (field("operator_key")?, field("operator_secret")?);
    let mut correspondent = field("correspondent_id")?;
    let mut hot_firm = field("firm_account_id")?;
    let run = rand::rng().random::<u32>();
    let post = reqwest::Method::POST;
    let as_operator = (operator.0.as_str(), operator.1.as_str());
    if args.flow == "v2" {
        let body = json!({"code": format!("B2{:06}", run % 1_000_000), "name": "Bench on the v2 flow", "jnlc_flow": "v2"});
        let created = call(http, post.clone(), format!("{base}/admin/v1/correspondents"), as_operator, Some(body)).await?;
        correspondent = created["id"].as_str().ok_or("a correspondent without an id")?.to_owned();
        let minted = call(
            http,
            post.clone(),
            format!("{base}/admin/v1/correspondents/{correspondent}/keys"),
            as_operator,
            Some(json!({"reason": "cashier bench"})),
        )
        .await?;
        key = (minted["key_id"].as_str().unwrap_or_default().to_owned(), minted["secret"].as_str().unwrap_or_default().to_owned());
        let url = format!("{base}/admin/v1/correspondents/{correspondent}/firm_accounts");
        hot_firm = call(http, post.clone(), url, as_operator, None).await?["id"].as_str().ok_or("a firm account without an id")?.to_owned();
    }
    let mut cold_firms = Vec::new();
    for _ in 0..args.cold_firms {
        let url = format!("{base}/admin/v1/correspondents/{correspondent}/firm_accounts");
        let firm = call(http, post.clone(), url, as_operator, None).await?;
        cold_firms.push(firm["id"].as_str().ok_or("a firm account without an id")?.to_owned());
    }
    for firm in std::iter::once(&hot_firm).chain(&cold_firms) {
        let wire = json!({"amount": "10000000", "reason": "cashier bench"});
        call(http, post.clone(), format!("{base}/admin/v1/accounts/{firm}/wires"), as_operator, Some(wire)).await?;
    }
    let mut customers = Vec::with_capacity(args.customers);
    for first in (0..args.customers).step_by(64) {
        let mut opening = tokio::task::JoinSet::new();
        for i in first..(first + 64).min(args.customers) {
            let kyc = json!({"contact": {"email_address": format!("bench-{run}-{i}@example.com")}, "identity": {"given_name": "Bench", "family_name": format!("Customer {i}")}});
            let (http, url, key) = (http.clone(), format!("{base}/v1/accounts"), key.clone());
            opening.spawn(async move { call(&http, reqwest::Method::POST, url, (&key.0, &key.1), Some(kyc)).await });
        }
        while let Some(opened) = opening.join_next().await {
            let account = opened.map_err(|e| e.to_string())??;
            customers.push(account["id"].as_str().ok_or("an account without an id")?.to_owned());
        }
    }
    if customers.is_empty() {
        return Err("--customers must be at least 1".into());
    }
    // Journals for the reads of one by id, when the run reads.
    let mut journals = Vec::new();
    for i in 0..if args.reads > 0.0 { 64 } else { 0 } {
        let body = json!({"entry_type": "JNLC", "from_account": hot_firm, "to_account": customers[i % customers.len()], "amount": "0.01"});
        let made = call(http, post.clone(), format!("{base}/v1/journals"), (&key.0, &key.1), Some(body)).await?;
        journals.push(made["id"].as_str().ok_or("a journal without an id")?.to_owned());
    }
    Ok(Target { base: base.to_owned(), key, hot_firm, cold_firms, customers, journals })
}

/// A read of the workload: a journal by id, an account's journals, or a trading account.
fn next_read(target: &Target, rng: &mut impl Rng) -> String {
    let customer = &target.customers[rng.random_range(0..target.customers.len())];
    match rng.random_range(0..3) {
        0 if !target.journals.is_empty() => format!("/v1/journals/{}", target.journals[rng.random_range(0..target.journals.len())]),
        1 => format!("/v1/journals?to_account={customer}&limit=50"),
        _ => format!("/v1/trading/accounts/{customer}/account"),
    }
}

/// One request of the workload: its URL and JSON body, and how many journals it carries. The
/// body is written as text directly (ids and amounts need no escaping): the generator shares the
/// machine with the server, so it should cost as little as it can.
fn next_request(target: &Target, args: &BenchArgs, rng: &mut impl Rng) -> (&'static str, String, u64) {
    let securities = rng.random_bool(args.jnls_share.clamp(0.0, 1.0));
    // Shares come from the hot firm, which holds them; cash from the hot firm or a cold one.
    let firm = if securities || target.cold_firms.is_empty() || rng.random_bool(args.hot_share.clamp(0.0, 1.0)) {
        &target.hot_firm
    } else {
        &target.cold_firms[rng.random_range(0..target.cold_firms.len())]
    };
    let entry = |rng: &mut dyn rand::RngCore| {
        let customer = &target.customers[rng.random_range(0..target.customers.len())];
        if securities {
            format!(r#""to_account":"{customer}","symbol":"AAPL","qty":"0.001""#)
        } else {
            format!(r#""to_account":"{customer}","amount":"0.01""#)
        }
    };
    let entry_type = if securities { "JNLS" } else { "JNLC" };
    if args.batch == 1 {
        let body = format!(r#"{{"entry_type":"{entry_type}","from_account":"{firm}",{}}}"#, entry(rng));
        ("/v1/journals", body, 1)
    } else {
        let entries: Vec<String> = (0..args.batch).map(|_| format!("{{{}}}", entry(rng))).collect();
        let body = format!(r#"{{"entry_type":"{entry_type}","from_account":"{firm}","entries":[{}]}}"#, entries.join(","));
        ("/v1/journals/batch", body, args.batch as u64)
    }
}

/// Posts one request of the workload; the answer is parsed only when it is an error, for its
/// reason.
async fn fire(connection: &mut wire::Connection, path: &str, body: String, key: Option<&str>) -> Result<(), String> {
    let answer = connection.post_keyed(path, body.as_bytes(), key).await?;
    if (200..300).contains(&answer.status) {
        return Ok(());
    }
    let body: Value = serde_json::from_slice(&answer.error_body).unwrap_or(Value::Null);
    Err(format!("{} {}", answer.status, body["reason"].as_str().unwrap_or("")))
}

/// GETs one read of the workload; an error answer is parsed for its reason.
async fn read(connection: &mut wire::Connection, path: &str) -> Result<(), String> {
    let answer = connection.get(path).await?;
    if (200..300).contains(&answer.status) {
        return Ok(());
    }
    let body: Value = serde_json::from_slice(&answer.error_body).unwrap_or(Value::Null);
    Err(format!("{} {}", answer.status, body["reason"].as_str().unwrap_or("")))
}

/// Runs the workload for the run's duration and collects what the clients measured.
async fn drive(target: &Arc<Target>, args: &BenchArgs) -> Result<Tally, String> {
    let endpoint = wire::Endpoint::new(&target.base, (&target.key.0, &target.key.1))?;
    let tally = Arc::new(Mutex::new(Tally::new()));
    let start = Instant::now();
    let end = start + Duration::from_secs_f64(args.seconds);
    let progress = (!args.quiet).then(|| {
        let bar = indicatif::ProgressBar::new((args.seconds * 10.0) as u64);
        bar.set_style(
            indicatif::ProgressStyle::with_template("{spinner} [{elapsed_precise}] {bar:40} {msg}")
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        bar
    });
    // Open loop: a schedule of due times the clients take from; closed loop: none. The pacer is
    // a thread of its own sleeping to each due time: tokio's timers tick in whole milliseconds,
    // which would release requests in bursts up to a millisecond late and count that lateness
    // as the server's latency.
    let schedule = args.rate.map(|rate| {
        let (sender, receiver) = tokio::sync::mpsc::channel::<Instant>(1 << 16);
        let interval = Duration::from_secs_f64(1.0 / rate.max(0.001));
        std::thread::spawn(move || {
            let mut due = start;
            while due < end {
                if let Some(wait) = due.checked_duration_since(Instant::now()) {
                    std::thread::sleep(wait);
                }
                if sender.blocking_send(due).is_err() {
                    return;
                }
                due += interval;
            }
        });
        Arc::new(tokio::sync::Mutex::new(receiver))
    });
    let mut clients = Vec::new();
    for _ in 0..args.clients {
        let (target, args, tally, schedule) = (target.clone(), args.clone(), tally.clone(), schedule.clone());
        let mut connection = wire::Connection::new(endpoint.clone());
        clients.push(tokio::spawn(async move {
            let mut rng = rand::rngs::StdRng::from_os_rng();
            loop {
                let due = match &schedule {
                    Some(schedule) => match schedule.lock().await.recv().await {
                        Some(due) => due,
                        None => return,
                    },
                    None => Instant::now(),
                };
                if due >= end {
                    return;
                }
                if args.reads > 0.0 && rng.random_bool(args.reads.clamp(0.0, 1.0)) {
                    let path = next_read(&target, &mut rng);
                    let outcome = read(&mut connection, &path).await;
                    let micros = (Instant::now() - due).as_micros() as u64;
                    tally.lock().unwrap_or_else(std::sync::PoisonError::into_inner).record_read(micros, outcome);
                    continue;
                }
                let (path, body, journals) = next_request(&target, &args, &mut rng);
                let key = args.keys.then(|| format!("bench-{:032x}", rng.random::<u128>()));
                let outcome = fire(&mut connection, path, body, key.as_deref()).await.map(|()| journals);
                let done = Instant::now();
                let second = due.duration_since(start).as_secs() as usize;
                tally.lock().unwrap_or_else(std::sync::PoisonError::into_inner).record(second, (done - due).as_micros() as u64, outcome);
            }
        }));
    }
    if let Some(bar) = &progress {
        while Instant::now() < end {
            tokio::time::sleep(Duration::from_millis(100)).await;
            let (journals, errors) = {
                let t = tally.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
                (t.journals, t.errors.values().sum::<u64>())
            };
            let rate = journals as f64 / start.elapsed().as_secs_f64();
            bar.set_position((start.elapsed().as_secs_f64() * 10.0) as u64);
            bar.set_message(format!("{journals} journals, {rate:.0}/s, {errors} errors"));
        }
        bar.finish_and_clear();
    }
    for client in clients {
        let _ = client.await;
    }
    Ok(Arc::try_unwrap(tally).ok().map(|m| m.into_inner().unwrap_or_else(std::sync::PoisonError::into_inner)).unwrap_or_else(Tally::new))
}

fn ms(micros: u64) -> f64 {
    micros as f64 / 1000.0
}

/// The time now, to the microsecond.
fn now() -> cashier_core::Timestamp {
    let since = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    cashier_core::Timestamp(since.as_micros() as i64)
}

fn report(args: &BenchArgs, tally: &Tally, elapsed: f64, store: &str) -> Value {
    let h = &tally.latency;
    let timeline: Vec<Value> = tally
        .timeline
        .iter()
        .enumerate()
        .map(|(second, (journals, h))| {
            json!({"second": second, "journals": journals, "p50_ms": ms(h.value_at_quantile(0.5)), "p99_ms": ms(h.value_at_quantile(0.99))})
        })
        .collect();
    json!({
        "workload": {
            "store": store,
            "clients": args.clients,
            "seconds": args.seconds,
            "loop": if args.rate.is_some() { "open" } else { "closed" },
            "rate": args.rate,
            "batch": args.batch,
            "jnls_share": args.jnls_share,
            "reads": args.reads,
            "hot_share": args.hot_share,
            "customers": args.customers,
            "cold_firms": args.cold_firms,
            "flow": args.flow,
            "keys": args.keys,
        },
        "requests": tally.requests,
        "journals": tally.journals,
        "journals_per_second": tally.journals as f64 / elapsed,
        "latency_ms": {
            "p50": ms(h.value_at_quantile(0.5)),
            "p90": ms(h.value_at_quantile(0.9)),
            "p99": ms(h.value_at_quantile(0.99)),
            "p999": ms(h.value_at_quantile(0.999)),
            "max": ms(h.max()),
        },
        "errors": tally.errors,
        "reads": {
            "answered": tally.reads,
            "per_second": tally.reads as f64 / elapsed,
            "latency_ms": {
                "p50": ms(tally.read_latency.value_at_quantile(0.5)),
                "p99": ms(tally.read_latency.value_at_quantile(0.99)),
                "max": ms(tally.read_latency.max()),
            },
        },
        "timeline": timeline,
        // Who made the figures, and when: the chart prints both.
        "commit": env!("CASHIER_COMMIT"),
        "date": now().to_string(),
    })
}

fn print_summary(report: &Value) {
    let l = &report["latency_ms"];
    let f = |v: &Value| v.as_f64().unwrap_or(0.0);
    println!(
        "{} journals in {} requests: {:.0} journals/s\nlatency ms: p50 {:.2}  p90 {:.2}  p99 {:.2}  p99.9 {:.2}  max {:.2}",
        report["journals"],
        report["requests"],
        f(&report["journals_per_second"]),
        f(&l["p50"]),
        f(&l["p90"]),
        f(&l["p99"]),
        f(&l["p999"]),
        f(&l["max"])
    );
    let reads = &report["reads"];
    if reads["answered"].as_u64().unwrap_or(0) > 0 {
        let l = &reads["latency_ms"];
        println!(
            "reads: {} answered, {:.0}/s, latency ms: p50 {:.2}  p99 {:.2}  max {:.2}",
            reads["answered"],
            f(&reads["per_second"]),
            f(&l["p50"]),
            f(&l["p99"]),
            f(&l["max"])
        );
    }
    match report["errors"].as_object() {
        Some(errors) if !errors.is_empty() => {
            for (code, count) in errors {
                println!("errors: {count} x {code}");
            }
        }
        _ => println!("errors: none"),
    }
    let clearing = &report["clearing"];
    match (clearing["backlog_at_end"].as_u64(), clearing["drained_after_seconds"].as_f64()) {
        (Some(0), _) => println!("clearing: kept up"),
        (Some(backlog), Some(drained)) => println!(
            "clearing: {backlog} journals still to clear at the end, cleared {drained:.1} s later: {:.0} journals/s sustained",
            f(&clearing["sustained_journals_per_second"])
        ),
        (Some(backlog), None) => {
            println!("clearing: {backlog} journals still to clear at the end, not cleared within {} s", DRAIN_WAIT.as_secs())
        }
        (None, _) => println!("clearing: unknown (the server's /metrics could not be read)"),
    }
}
