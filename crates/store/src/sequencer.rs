//! The sequencer: one thread owns the ledger state and writes through the store in batches.
//!
//! Callers submit commands on a bounded queue. The thread takes up to `batch_max` of them,
//! executes and applies each in order, commits all their events and rows in one transaction,
//! waits for the commit to be durable, then answers every caller and publishes the events. A
//! full queue answers `Busy` at once; memory never grows without bound. A failed commit stops
//! writes: every caller of that batch is told the store failed, the state is rebuilt from the
//! store, and only then are writes taken again. A commit the store refused for what it holds
//! (nothing of it written) is narrowed instead: its commands are committed again in smaller
//! groups until the one the store refuses is answered alone, and the others commit.

use crate::mint::{event_ulid, Clock, V7Ids};
use crate::recent::RecentJournals;
use crate::rows::Rows;
use crate::store::{Batch, Loaded, Record, Store, StoreError};
use cashier_core::{
    execute, Account, Command, Correspondent, CorrespondentId, Ctx, Date, EventKind, Journal, JournalId, Rejection, State, Timestamp, Transfer,
};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender, TryRecvError, TrySendError};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};
use tokio::sync::{broadcast, oneshot};

/// Bounds of the sequencer. Every bound is named and configurable.
#[derive(Clone, Debug)]
pub struct SequencerConfig {
    /// Commands waiting to be executed; one more is answered `Busy`.
    pub queue_capacity: usize,
    /// Commands executed and committed together at most.
    pub batch_max: usize,
    /// Committed batches kept for event subscribers that lag.
    pub subscriber_backlog: usize,
    /// How long to wait between attempts to reload from a failed store.
    pub recovery_backoff: Duration,
    /// Settled journals kept in memory after their commit, at most, for the actions that
    /// follow a journal closely (a reversal, a correction); older ones are read back from the
    /// store when a command names them. Only with a store that has a reader.
    pub journal_cache: usize,
    /// How long idempotency keys stay in memory after they were stored; a request with an
    /// older key is answered from the store's key table. Only with a store that has a reader.
    pub key_retention: Duration,
    /// Journals created between two runs of the store's index by account, at most; the ones
    /// after the last run are listed from memory ([`RecentJournals`]).
    pub index_every: usize,
}

impl Default for SequencerConfig {
    fn default() -> SequencerConfig {
        SequencerConfig {
            queue_capacity: 65_536,
            batch_max: 4_096,
            subscriber_backlog: 1_024,
            recovery_backoff: Duration::from_millis(200),
            journal_cache: 65_536,
            key_retention: KEY_RETENTION_DEFAULT,
            index_every: INDEX_EVERY_DEFAULT,
        }
    }
}

/// A run of the index by account every 65,536 journals: the run is one sequential write of
/// 131,072 entries, and what stays in memory meanwhile is a few MiB.
pub const INDEX_EVERY_DEFAULT: usize = 65_536;

/// Idempotency keys stay in memory for a day by default: a client retrying a request retries
/// within seconds or minutes, and a day covers a retry after an outage or a night's batch run.
/// Older keys are never forgotten: they are answered from the store.
pub const KEY_RETENTION_DEFAULT: Duration = Duration::from_secs(24 * 3_600);

/// How often, in the ledger's time, keys past their retention leave memory.
const KEY_SWEEP_MICROS: i64 = 60_000_000;

/// Why a submitted command has no outcome.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SubmitError {
    /// The queue is full: try again shortly.
    #[error("the ledger is busy")]
    Busy,
    /// The ledger refused the command; nothing changed.
    #[error("rejected: {0}")]
    Rejected(Rejection),
    /// The store failed while committing this command's batch: it may or may not have been
    /// applied. Retry with the same idempotency key.
    #[error("the store failed; the outcome is unknown")]
    StoreFailed,
    /// Writes are stopped (the store is failing, or the sequencer is shutting down).
    #[error("the ledger is not accepting writes")]
    Unavailable,
    /// The store refused what this command would write (alone, in a commit of its own), and
    /// rolled it back: nothing changed.
    #[error("the store refused this command's data; nothing changed")]
    Refused,
}

/// What a committed command did, as of right after it (later commands of the same batch may
/// have changed things further).
#[derive(Clone, Debug, Default)]
pub struct Outcome {
    /// The committed batch this command was part of, and where its records are in it.
    batch: Arc<Vec<Record>>,
    range: std::ops::Range<usize>,
    /// The journals it created or changed; for an idempotent replay, the journals of the key.
    pub journals: Vec<Journal>,
    pub transfers: Vec<Transfer>,
    pub accounts: Vec<Account>,
    pub correspondents: Vec<Correspondent>,
    pub business_date: Date,
}

impl Outcome {
    /// The events this command wrote, with their sequence numbers.
    pub fn records(&self) -> &[Record] {
        &self.batch[self.range.clone()]
    }
}

/// Live counters for metrics.
#[derive(Debug, Default)]
pub struct Stats {
    pub commands: AtomicU64,
    pub commits: AtomicU64,
    pub events: AtomicU64,
    pub commit_latency_us_total: AtomicU64,
    pub commit_latency_us_max: AtomicU64,
    pub batch_size_last: AtomicU64,
    pub batch_size_max: AtomicU64,
    pub queue_depth: AtomicU64,
    pub store_failures: AtomicU64,
    /// Commits the store refused for their content, and commands answered `Refused` alone.
    pub store_refusals: AtomicU64,
    pub commands_refused: AtomicU64,
    pub last_seq: AtomicU64,
    /// Settled journals read back from the store for a command that named them.
    pub journals_read_back: AtomicU64,
    /// Journals in the sequencer's memory, as of its last batch.
    pub journals_resident: AtomicU64,
    /// Idempotency keys past their retention read back from the store for a request.
    pub keys_read_back: AtomicU64,
    /// Writes are stopped while the store is failing.
    pub stopped: AtomicBool,
    /// When the commit being written began, on [`monotonic_micros`]'s clock (0: none is).
    pub commit_since_us: AtomicU64,
    /// When the sequencer thread began a read of the store a command needs (an idempotency key
    /// or a journal no longer in memory), on the same clock (0: none is).
    pub read_since_us: AtomicU64,
}

impl Stats {
    /// How long the writer has waited for the store, if it is waiting: for the commit being
    /// written, or for a read the next command needs, whichever began first. Either stands the
    /// writes still while the database does not answer.
    pub fn store_waiting(&self) -> Option<Duration> {
        let since = [&self.commit_since_us, &self.read_since_us].map(|at| at.load(Ordering::SeqCst));
        let since = since.into_iter().filter(|at| *at != 0).min()?;
        Some(Duration::from_micros(monotonic_micros().saturating_sub(since)))
    }

    /// `call`, with `since` saying from when the writer waits for the store.
    fn waiting_on<T>(since: &AtomicU64, call: impl FnOnce() -> T) -> T {
        since.store(monotonic_micros(), Ordering::SeqCst);
        let done = call();
        since.store(0, Ordering::SeqCst);
        done
    }
}

/// Microseconds on this process's monotonic clock, from 1.
fn monotonic_micros() -> u64 {
    static BASE: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();
    BASE.get_or_init(Instant::now).elapsed().as_micros() as u64 + 1
}

/// The ledger as committed: what reads of accounts, balances, keys and the journals still
/// moving see. The committer applies each batch's records to it after the batch is durable and
/// before answering its callers, so a read never shows what is not durable, a caller reads its
/// own writes, and reads never wait for the sequencer. It keeps no settled journal: those are
/// read from the store.
pub type Replica = Arc<std::sync::RwLock<State>>;

/// A stream of committed batches, in commit order.
pub type Subscription = broadcast::Receiver<Arc<Vec<Record>>>;

/// What the sequencer thread is sent: commands, or a wake-up after a refused commit (its
/// commands wait to be executed again, and no caller may have to send one more for that).
enum Inbound {
    Request(Request),
    Wake,
}

/// The sending side of the sequencer's queue, shared by callers and the committer; `None` once
/// shutting down, so that the queue closes.
type Inbox = Arc<Mutex<Option<SyncSender<Inbound>>>>;

struct Request {
    command: Command,
    reply: oneshot::Sender<Result<Outcome, SubmitError>>,
}

/// A handle to the sequencer. Dropping it stops the threads after the queued work.
pub struct Sequencer {
    /// The store held nothing when the sequencer started.
    started_empty: bool,
    sender: Inbox,
    stats: Arc<Stats>,
    publisher: broadcast::Sender<Arc<Vec<Record>>>,
    threads: Mutex<Vec<JoinHandle<()>>>,
    replica: Replica,
    recent: RecentJournals,
    /// Set by `shutdown`: a committer retrying a reload from a failing store gives up.
    closing: Arc<AtomicBool>,
}

impl Sequencer {
    /// Loads (and verifies) the state from `store`, or starts an empty ledger on `first_day`,
    /// then starts the sequencer and committer threads. Fails when the store does not reconcile.
    pub fn start(store: impl Store, clock: impl Clock, first_day: Date, config: SequencerConfig) -> Result<Sequencer, StoreError> {
        let (store, loaded, reader) = crate::store::off_runtime(move || {
            let mut store = store;
            let loaded = store.load();
            let reader = store.reader();
            (store, loaded, reader)
        });
        let (loaded, reader) = (loaded?, reader?);
        let started_empty = loaded.is_none();
        let loaded =
            loaded.unwrap_or(Loaded { state: State::new(first_day), last_seq: 0, last_at: Timestamp(0), max_id: 0, checkpoint: None });
        let (sender, receiver) = sync_channel(config.queue_capacity);
        let (publisher, _) = broadcast::channel(config.subscriber_backlog.max(1));
        let stats = Arc::new(Stats::default());
        stats.last_seq.store(loaded.last_seq, Ordering::SeqCst);
        let (jobs, job_receiver) = sync_channel(COMMITS_IN_FLIGHT);
        let (failures, failure_receiver) = std::sync::mpsc::channel();
        let replica: Replica = Arc::new(std::sync::RwLock::new(loaded.state.clone()));
        let closing = Arc::new(AtomicBool::new(false));
        let recent = RecentJournals::default();
        let inbox: Inbox = Arc::new(Mutex::new(Some(sender)));
        let mut committer = Committer {
            inbox: inbox.clone(),
            closing: closing.clone(),
            store: Box::new(store),
            stats: stats.clone(),
            publisher: publisher.clone(),
            failures,
            failed: false,
            redo: None,
            config: config.clone(),
            replica: replica.clone(),
            evicts: reader.is_some(),
            keys_swept_at: loaded.last_at,
            recent: recent.clone(),
        };
        let mut writer = Writer {
            clock: Box::new(clock),
            ids: V7Ids::after(loaded.max_id),
            state: loaded.state,
            last_seq: loaded.last_seq,
            last_at: loaded.last_at,
            jobs,
            failures: failure_receiver,
            stats: stats.clone(),
            batch_max: config.batch_max.max(1),
            read_failure: None,
            residency: Residency {
                reader,
                cache: config.journal_cache,
                key_retention: config.key_retention,
                keys_swept_at: loaded.last_at,
                ..Residency::default()
            },
        };
        let spawn = |name: &str, work: Box<dyn FnOnce() + Send>| {
            std::thread::Builder::new().name(name.into()).spawn(work).map_err(StoreError::backend)
        };
        let committing = spawn("cashier-commit", Box::new(move || committer.run(job_receiver)))?;
        let sequencing = spawn("cashier-sequencer", Box::new(move || writer.run(receiver)))?;
        Ok(Sequencer {
            started_empty,
            sender: inbox,
            stats,
            publisher,
            threads: Mutex::new(vec![sequencing, committing]),
            replica,
            recent,
            closing,
        })
    }

    /// Queues a command, or answers `Busy` at once when the queue is full.
    pub fn try_submit(&self, command: Command) -> Result<oneshot::Receiver<Result<Outcome, SubmitError>>, SubmitError> {
        let (reply, receiver) = oneshot::channel();
        let guard = self.sender.lock().expect("sender lock");
        let sender = guard.as_ref().ok_or(SubmitError::Unavailable)?;
        self.stats.queue_depth.fetch_add(1, Ordering::Relaxed);
        match sender.try_send(Inbound::Request(Request { command, reply })) {
            Ok(()) => Ok(receiver),
            Err(e) => {
                self.stats.queue_depth.fetch_sub(1, Ordering::Relaxed);
                Err(match e {
                    TrySendError::Full(_) => SubmitError::Busy,
                    TrySendError::Disconnected(_) => SubmitError::Unavailable,
                })
            }
        }
    }

    /// Submits and waits for the durable outcome.
    pub async fn submit(&self, command: Command) -> Result<Outcome, SubmitError> {
        let receiver = self.try_submit(command)?;
        receiver.await.unwrap_or(Err(SubmitError::Unavailable))
    }

    /// Submits and blocks this thread until the durable outcome (for tools and tests).
    pub fn submit_blocking(&self, command: Command) -> Result<Outcome, SubmitError> {
        let receiver = self.try_submit(command)?;
        receiver.blocking_recv().unwrap_or(Err(SubmitError::Unavailable))
    }

    /// Committed batches from now on. A subscriber that falls more than the backlog behind is
    /// told so (`RecvError::Lagged`), never silently skipped.
    pub fn subscribe(&self) -> Subscription {
        self.publisher.subscribe()
    }

    /// Reads the ledger as committed.
    pub fn read<T>(&self, reader: impl FnOnce(&State) -> T) -> T {
        reader(&self.replica.read().expect("replica lock"))
    }

    /// The journals committed since the store's last run of its index by account (none while
    /// the store has no reader: then every journal stays in memory).
    pub fn recent_journals(&self) -> RecentJournals {
        self.recent.clone()
    }

    /// An API key as committed, by its id.
    pub fn api_key(&self, key_id: &str) -> Option<cashier_core::ApiKey> {
        self.read(|state| state.api_key(key_id).cloned())
    }

    /// Whether the store held nothing when this sequencer started (a first start).
    pub fn started_empty(&self) -> bool {
        self.started_empty
    }

    pub fn stats(&self) -> &Arc<Stats> {
        &self.stats
    }

    /// Stops taking commands, finishes those queued, and waits for the threads.
    pub fn shutdown(&self) {
        self.closing.store(true, Ordering::SeqCst);
        self.sender.lock().expect("sender lock").take();
        for thread in self.threads.lock().expect("threads lock").drain(..) {
            let _ = thread.join();
        }
    }
}

impl Drop for Sequencer {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// Batches executed and waiting for the committer, at most. The sequencer goes on executing
/// while a commit is being written; the committer then writes everything that waited in one
/// transaction, so a commit's size follows the load and no caller waits for more than two.
const COMMITS_IN_FLIGHT: usize = 64;

/// Records written in one transaction at most when waiting batches are merged.
const MERGED_RECORDS_MAX: usize = 65_536;

type Answer = Result<Outcome, SubmitError>;
/// A command executed, with the answer its caller gets once the batch is durable. The command
/// is kept until then: a commit the store refuses is executed again, narrowed.
type Pending = (Request, Answer);

/// Work for the committer thread.
enum Job {
    /// Write a batch; once durable, answer its callers and publish its events. An `alone`
    /// batch is written as it is, merged with no other, and its result reported there.
    Commit { batch: Box<Batch>, answers: Vec<Pending>, alone: Option<SyncSender<Result<(), StoreError>>> },
    /// Hand back the committed state after a failure: reloaded from the store, or, after a
    /// refusal (nothing written), the committed replica's, with the commands to execute again.
    Reload(std::sync::mpsc::Sender<Reloaded>),
}

struct Reloaded {
    loaded: Option<Loaded>,
    /// Commands of refused commits and of every batch executed after them, none written.
    redo: Vec<Request>,
}

/// The sequencer thread: owns the state, executes commands in batches.
struct Writer {
    clock: Box<dyn Clock>,
    ids: V7Ids,
    state: State,
    last_seq: u64,
    last_at: Timestamp,
    jobs: SyncSender<Job>,
    failures: Receiver<StoreError>,
    stats: Arc<Stats>,
    batch_max: usize,
    residency: Residency,
    /// A read of the store a command needed failed: the store is failing. Until the reload,
    /// every command answers `Unavailable` without being executed.
    read_failure: Option<StoreError>,
}

/// Which settled journals the sequencer's state keeps, and how it brings back the others.
///
/// A journal leaves memory only once its last change is committed, so the store's row is then
/// as new as memory was: reading it back gives the journal exactly as the state had it. Every
/// change to a journal happens in memory (a command that names one out of memory reads it back
/// first), on this one thread, so two actions on the same old journal are decided one after
/// the other, on the same record.
#[derive(Default)]
struct Residency {
    /// The store's reader; none keeps every journal in memory.
    reader: Option<Box<dyn crate::sql::LogReader>>,
    /// Settled journals kept after their commit, at most.
    cache: usize,
    /// Journals by the sequence number of their last change, oldest first (a journal changed
    /// again is here twice; only its newest entry counts).
    changed: std::collections::VecDeque<(JournalId, u64)>,
    last_change: std::collections::HashMap<JournalId, u64>,
    /// Idempotency keys older than this leave memory; when they last did.
    key_retention: Duration,
    keys_swept_at: Timestamp,
}

impl Residency {
    fn touched(&mut self, id: JournalId, seq: u64) {
        if self.reader.is_some() {
            self.changed.push_back((id, seq));
            self.last_change.insert(id, seq);
        }
    }

    /// Lets the oldest settled journals leave memory, beyond the cache and committed.
    fn evict(&mut self, state: &mut State, committed: u64) {
        while self.changed.len() > self.cache {
            let Some(&(id, seq)) = self.changed.front() else { break };
            if seq > committed {
                break;
            }
            self.changed.pop_front();
            if self.last_change.get(&id) == Some(&seq) {
                self.last_change.remove(&id);
                state.evict(id);
            }
        }
    }

    /// Lets idempotency keys past their retention leave memory, once a minute of ledger time.
    /// A key that old cannot be in flight: its batch was committed long ago.
    fn sweep_keys(&mut self, state: &mut State, now: Timestamp) {
        if self.reader.is_some() && now.0 - self.keys_swept_at.0 >= KEY_SWEEP_MICROS {
            self.keys_swept_at = now;
            state.evict_keys(Timestamp(now.0.saturating_sub(retention_micros(self.key_retention))));
        }
    }

    /// Brings back from the store, in one read per correspondent, the idempotency keys of
    /// `commands` that are not in memory. True when it did: each command's key is then in memory
    /// or new. False without a reader.
    fn admit_keys<'c>(&mut self, state: &mut State, commands: impl Iterator<Item = &'c Command>, stats: &Stats) -> Result<bool, StoreError> {
        let Some(reader) = self.reader.as_mut() else { return Ok(false) };
        let mut wanted: HashMap<CorrespondentId, Vec<&str>> = HashMap::new();
        for command in commands {
            if let Some((correspondent, key)) = key_of(state, command) {
                if state.idempotency_key(correspondent, key).is_none() {
                    wanted.entry(correspondent).or_default().push(key);
                }
            }
        }
        for (correspondent, keys) in wanted {
            let records = Stats::waiting_on(&stats.read_since_us, || reader.idempotency_keys(correspondent, &keys))?;
            stats.keys_read_back.fetch_add(records.len() as u64, Ordering::Relaxed);
            for record in records {
                state.admit_key(record);
            }
        }
        Ok(true)
    }

    /// Brings back from the store the idempotency key (unless `keys_admitted` already did) and
    /// the journals `command` acts on that are not in memory.
    fn admit(&mut self, state: &mut State, command: &Command, keys_admitted: bool, stats: &Stats) -> Result<(), StoreError> {
        let Some(reader) = self.reader.as_mut() else { return Ok(()) };
        if let Some((correspondent, key)) = key_of(state, command).filter(|_| !keys_admitted) {
            if state.idempotency_key(correspondent, key).is_none() {
                let records = Stats::waiting_on(&stats.read_since_us, || reader.idempotency_keys(correspondent, &[key]))?;
                stats.keys_read_back.fetch_add(records.len() as u64, Ordering::Relaxed);
                for record in records {
                    state.admit_key(record);
                }
            }
        }
        let mut named = Vec::new();
        journals_named(command, &mut named);
        named.extend(replayed_journals(state, command));
        for id in named {
            if state.journal(id).is_none() {
                if let Some(journal) = Stats::waiting_on(&stats.read_since_us, || reader.journal(id))? {
                    stats.journals_read_back.fetch_add(1, Ordering::Relaxed);
                    state.admit(journal);
                    self.changed.push_back((id, 0));
                    self.last_change.insert(id, 0);
                }
            }
        }
        Ok(())
    }

    /// After the state was replaced by the committed one: nothing in it is uncommitted.
    fn reset(&mut self) {
        self.changed.clear();
        self.last_change.clear();
    }
}

/// The journals a command acts on by id.
fn journals_named(command: &Command, out: &mut Vec<JournalId>) {
    match command {
        Command::CancelJournal { id, .. }
        | Command::ApproveJournal { id, .. }
        | Command::RejectJournal { id, .. }
        | Command::SendToClearing { id }
        | Command::BookJournal { id }
        | Command::CreateActivity { id }
        | Command::ReverseJournal { id, .. }
        | Command::DeleteJournal { id, .. }
        | Command::CorrectJournal { id, .. } => out.push(*id),
        Command::FourEyes { action, .. } | Command::Audited { action, .. } => journals_named(action, out),
        _ => {}
    }
}

/// The journal an event changes, if any.
fn journal_touched(event: &EventKind) -> Option<JournalId> {
    match event {
        EventKind::JournalCreated { journal, .. } => Some(journal.id),
        EventKind::JournalStatusChanged(change) => Some(change.id),
        EventKind::ActionRequested { id, .. } => Some(*id),
        _ => None,
    }
}

impl Writer {
    fn run(&mut self, receiver: Receiver<Inbound>) {
        while let Ok(first) = receiver.recv() {
            if !self.settle_failure() {
                return;
            }
            let mut requests = Vec::new();
            if let Inbound::Request(request) = first {
                requests.push(request);
            }
            while requests.len() < self.batch_max {
                match receiver.try_recv() {
                    Ok(Inbound::Request(request)) => requests.push(request),
                    Ok(Inbound::Wake) => {}
                    Err(TryRecvError::Empty | TryRecvError::Disconnected) => break,
                }
            }
            if requests.is_empty() {
                continue;
            }
            self.stats.queue_depth.fetch_sub(requests.len() as u64, Ordering::Relaxed);
            self.stats.commands.fetch_add(requests.len() as u64, Ordering::Relaxed);
            if self.process(requests).is_err() {
                return;
            }
            // A read the store failed: stop and reload now, not at the next request.
            if self.read_failure.is_some() && !self.settle_failure() {
                return;
            }
        }
    }

    /// After a failed commit, or a failed read of the store: reloads, and narrows what a refused
    /// commit left to redo. False when the committer has gone.
    fn settle_failure(&mut self) -> bool {
        let Some(cause) = self.read_failure.take().or_else(|| self.failures.try_recv().ok()) else { return true };
        let redo = self.recover(&cause);
        redo.is_empty() || self.narrow(redo).is_ok()
    }

    /// Executes a batch and hands it to the committer. Errs when the committer has gone.
    fn process(&mut self, requests: Vec<Request>) -> Result<(), ()> {
        self.hand_over(requests, None)
    }

    fn hand_over(&mut self, requests: Vec<Request>, alone: Option<SyncSender<Result<(), StoreError>>>) -> Result<(), ()> {
        self.residency.evict(&mut self.state, self.stats.last_seq.load(Ordering::SeqCst));
        self.residency.sweep_keys(&mut self.state, self.clock.now().max(self.last_at));
        self.stats.journals_resident.store(self.state.resident_journals() as u64, Ordering::Relaxed);
        let mut records = Vec::new();
        let mut answers: Vec<Pending> = Vec::with_capacity(requests.len());
        let keys_admitted = match self.residency.admit_keys(&mut self.state, requests.iter().map(|r| &r.command), &self.stats) {
            Ok(admitted) => admitted,
            Err(error) => {
                self.read_failed(error);
                false
            }
        };
        for request in requests {
            let answer = self.execute_one(&request.command, keys_admitted, &mut records);
            answers.push((request, answer));
        }
        let rows = if records.is_empty() { Rows::default() } else { Rows::collect(&self.state, &records) };
        self.jobs.send(Job::Commit { batch: Box::new(Batch { records, rows, index_journals: false }), answers, alone }).map_err(drop)
    }

    /// After the store refused a commit's content: none of `redo` was written, and the state
    /// is the committed one again. Each group is executed and committed alone; a group the
    /// store refuses again is split in two, in order, until the command it refuses is answered
    /// `Refused` alone. Errs when the committer has gone.
    fn narrow(&mut self, redo: Vec<Request>) -> Result<(), ()> {
        let mut groups = vec![redo];
        while let Some(group) = groups.pop() {
            let (done, result) = sync_channel(1);
            self.hand_over(group, Some(done))?;
            match result.recv().map_err(drop)? {
                Ok(()) => {}
                Err(StoreError::Refused(cause)) => {
                    let mut group = self.recover(&StoreError::Refused(cause));
                    if group.len() == 1 {
                        self.stats.commands_refused.fetch_add(1, Ordering::Relaxed);
                        let request = group.pop().expect("one command");
                        let _ = request.reply.send(Err(SubmitError::Refused));
                    } else if !group.is_empty() {
                        let later = group.split_off(group.len() / 2);
                        groups.push(later);
                        groups.push(group);
                    }
                }
                Err(cause) => {
                    // The store itself is failing: fail-stop. Groups not tried were never
                    // executed: nothing of them happened.
                    for request in groups.drain(..).flatten() {
                        let _ = request.reply.send(Err(SubmitError::Unavailable));
                    }
                    let redo = self.recover(&cause);
                    debug_assert!(redo.is_empty(), "a failed store leaves nothing to narrow");
                }
            }
        }
        Ok(())
    }

    /// A read of the store failed: writes stop (`/readyz` says so) until the reload.
    fn read_failed(&mut self, error: StoreError) {
        eprintln!("cashier: reading the store for a command failed ({error}); writes stop until the ledger reloads");
        self.stats.stopped.store(true, Ordering::SeqCst);
        self.read_failure.get_or_insert(error);
    }

    fn execute_one(&mut self, command: &Command, keys_admitted: bool, records: &mut Vec<Record>) -> Answer {
        if self.read_failure.is_some() {
            // The store is failing: nothing is decided on what may not be all of it.
            return Err(SubmitError::Unavailable);
        }
        if let Err(error) = self.residency.admit(&mut self.state, command, keys_admitted, &self.stats) {
            // Nothing happened: what the command needs could not be read back to decide on it.
            self.read_failed(error);
            return Err(SubmitError::Unavailable);
        }
        let now = self.clock.now().max(self.last_at);
        self.last_at = now;
        let mut ctx = Ctx { now, ids: &mut self.ids };
        let events = execute(&self.state, command, &mut ctx).map_err(SubmitError::Rejected)?;
        let start = records.len();
        for event in events {
            self.state.apply(&event);
            self.last_seq += 1;
            if let Some(id) = journal_touched(&event.kind) {
                self.residency.touched(id, self.last_seq);
            }
            let journal = match &event.kind {
                EventKind::JournalStatusChanged(change) => self.state.journal(change.id).cloned().map(Arc::new),
                _ => None,
            };
            records.push(Record { seq: self.last_seq, ulid: event_ulid(event.at, self.last_seq), event, journal });
        }
        Ok(self.outcome(command, &records[start..], start..records.len()))
    }

    /// What the caller needs to answer: the objects the records touched, as they are now. The
    /// records themselves are attached once the batch is durable.
    fn outcome(&self, command: &Command, records: &[Record], range: std::ops::Range<usize>) -> Outcome {
        let mut outcome = Outcome { range, business_date: self.state.business_date(), ..Outcome::default() };
        let mut journal_ids: Vec<JournalId> = Vec::new();
        for record in records {
            match &record.event.kind {
                EventKind::JournalCreated { journal, .. } => journal_ids.push(journal.id),
                EventKind::JournalStatusChanged(change) if !journal_ids.contains(&change.id) => journal_ids.push(change.id),
                EventKind::ActionRequested { id, .. } => journal_ids.push(*id),
                EventKind::TransferCreated(t) => outcome.transfers.extend(self.state.transfer(t.id).cloned()),
                EventKind::TransferStatusChanged { id, .. } if outcome.transfers.iter().all(|t| t.id != *id) => {
                    outcome.transfers.extend(self.state.transfer(*id).cloned())
                }
                EventKind::AccountOpened { account, .. } => outcome.accounts.extend(self.state.account(account.id).cloned()),
                EventKind::CorrespondentCreated(c) => outcome.correspondents.extend(self.state.correspondent(c.id).cloned()),
                _ => {}
            }
        }
        if records.is_empty() {
            journal_ids = replayed_journals(&self.state, command);
        }
        outcome.journals = journal_ids.iter().filter_map(|&id| self.state.journal(id).cloned()).collect();
        outcome
    }

    /// Fail-stop: the in-memory state may hold what the store never committed, so it is thrown
    /// away and rebuilt from the store before any further write is taken. After a refusal, the
    /// committed state comes back with the commands to execute again.
    fn recover(&mut self, cause: &StoreError) -> Vec<Request> {
        match cause {
            StoreError::Refused(_) => eprintln!("cashier: the store refused a commit ({cause}); narrowing it to the command at fault"),
            _ => eprintln!("cashier: the store failed ({cause}); reloading the ledger from the store"),
        }
        let (reply, reloaded) = std::sync::mpsc::channel();
        if self.jobs.send(Job::Reload(reply)).is_err() {
            return Vec::new();
        }
        let Ok(Reloaded { loaded, redo }) = reloaded.recv() else { return Vec::new() };
        let loaded = loaded.unwrap_or(Loaded {
            state: State::new(self.state.business_date()),
            last_seq: 0,
            last_at: self.last_at,
            max_id: 0,
            checkpoint: None,
        });
        self.state = loaded.state;
        self.residency.reset();
        self.last_seq = loaded.last_seq;
        self.last_at = self.last_at.max(loaded.last_at);
        // Drain failures reported meanwhile: they belong to batches executed on the old state.
        while self.failures.try_recv().is_ok() {}
        redo
    }
}

/// The committer thread: owns the store, writes batches in order, answers once durable.
struct Committer {
    closing: Arc<AtomicBool>,
    /// To wake the sequencer thread after a refusal.
    inbox: Inbox,
    store: Box<dyn Store>,
    stats: Arc<Stats>,
    publisher: broadcast::Sender<Arc<Vec<Record>>>,
    failures: std::sync::mpsc::Sender<StoreError>,
    /// After a failed commit, every later batch fails too until the state is reloaded.
    failed: bool,
    /// After a refused commit (nothing written), the commands of it and of every later batch,
    /// to be executed again on the committed state.
    redo: Option<Vec<Request>>,
    config: SequencerConfig,
    replica: Replica,
    /// Settled journals leave the replica once applied (the store has a reader, and reads of
    /// journals go to the store).
    evicts: bool,
    /// When keys past their retention last left the replica, in the log's time.
    keys_swept_at: Timestamp,
    /// The journals committed since the store's last run of its index by account.
    recent: RecentJournals,
}

impl Committer {
    fn run(&mut self, jobs: Receiver<Job>) {
        let mut next = None;
        loop {
            let job = match next.take() {
                Some(job) => job,
                None => match jobs.recv() {
                    Ok(job) => job,
                    Err(_) => return,
                },
            };
            match job {
                Job::Commit { mut batch, mut answers, alone } => {
                    // Everything executed while the last commit was written goes in this one.
                    while alone.is_none() && batch.records.len() < MERGED_RECORDS_MAX {
                        match jobs.try_recv() {
                            Ok(Job::Commit { batch: later, answers: later_answers, alone: None }) if !later.rows.deletes() => {
                                merge(&mut batch, &mut answers, *later, later_answers);
                            }
                            Ok(other) => {
                                next = Some(other);
                                break;
                            }
                            Err(_) => break,
                        }
                    }
                    let result = self.commit(batch, answers);
                    if let Some(alone) = alone {
                        let _ = alone.send(result);
                    }
                }
                Job::Reload(reply) => match self.reload() {
                    Some(reloaded) => {
                        let _ = reply.send(reloaded);
                    }
                    // Shutting down with the store still failing: the committer goes, and with
                    // it the writer (its next hand-over fails) and every caller still waiting.
                    None => return,
                },
            }
        }
    }

    /// Writes a batch and answers its callers; what the store said of it.
    fn commit(&mut self, mut batch: Box<Batch>, answers: Vec<Pending>) -> Result<(), StoreError> {
        if self.failed {
            match &mut self.redo {
                Some(redo) => redo.extend(answers.into_iter().map(|(request, _)| request)),
                None => fail_all(answers),
            }
            return Err(StoreError::Backend("an earlier commit failed".into()));
        }
        if !batch.records.is_empty() {
            let started = Instant::now();
            batch.index_journals = self.evicts && self.recent.journals() >= self.config.index_every.max(1);
            let committed = Stats::waiting_on(&self.stats.commit_since_us, || self.store.commit(&batch));
            if let Err(error) = committed {
                self.stats.stopped.store(true, Ordering::SeqCst);
                self.failed = true;
                if let StoreError::Refused(_) = error {
                    // Nothing was written: the commands are executed again, narrowed.
                    self.stats.store_refusals.fetch_add(1, Ordering::Relaxed);
                    self.redo = Some(answers.into_iter().map(|(request, _)| request).collect());
                    let _ = self.failures.send(error.clone());
                    if let Some(sender) = self.inbox.lock().expect("inbox lock").as_ref() {
                        // Its commands wait to be executed again: wake the sequencer thread (a
                        // full queue wakes it anyway).
                        let _ = sender.try_send(Inbound::Wake);
                    }
                } else {
                    self.stats.store_failures.fetch_add(1, Ordering::Relaxed);
                    fail_all(answers);
                    let _ = self.failures.send(error.clone());
                }
                return Err(error);
            }
            self.note_commit(started, &batch.records, answers.len());
            let mut replica = self.replica.write().expect("replica lock");
            if self.evicts {
                // Settled journals never enter the replica: reads of journals go to the store.
                for record in &batch.records {
                    replica.apply_settled_out(&record.event);
                }
                if batch.index_journals {
                    self.recent.clear();
                } else {
                    self.recent.add(batch.records.iter().filter_map(|r| match &r.event.kind {
                        EventKind::JournalCreated { journal, .. } => Some((journal.id, journal.from, journal.to)),
                        _ => None,
                    }));
                }
                let at = batch.records.last().map_or(self.keys_swept_at, |r| r.event.at);
                if at.0 - self.keys_swept_at.0 >= KEY_SWEEP_MICROS {
                    self.keys_swept_at = at;
                    replica.evict_keys(Timestamp(at.0.saturating_sub(retention_micros(self.config.key_retention))));
                }
            } else {
                for record in &batch.records {
                    replica.apply(&record.event);
                }
            }
        }
        let shared = Arc::new(batch.records);
        for (request, answer) in answers {
            let _ = request.reply.send(answer.map(|outcome| Outcome { batch: shared.clone(), ..outcome }));
        }
        if !shared.is_empty() {
            let _ = self.publisher.send(shared);
        }
        Ok(())
    }

    fn note_commit(&self, started: Instant, records: &[Record], commands: usize) {
        let micros = started.elapsed().as_micros() as u64;
        self.stats.commits.fetch_add(1, Ordering::Relaxed);
        self.stats.events.fetch_add(records.len() as u64, Ordering::Relaxed);
        self.stats.commit_latency_us_total.fetch_add(micros, Ordering::Relaxed);
        self.stats.commit_latency_us_max.fetch_max(micros, Ordering::Relaxed);
        self.stats.batch_size_last.store(commands as u64, Ordering::Relaxed);
        self.stats.batch_size_max.fetch_max(commands as u64, Ordering::Relaxed);
        if let Some(last) = records.last() {
            self.stats.last_seq.store(last.seq, Ordering::SeqCst);
        }
    }

    /// The committed state after a failure, then writes are taken again; `None` when the
    /// sequencer is shutting down before the store answered. After a refusal nothing of the
    /// failed batches was written, so the committed replica is the store's state; otherwise the
    /// store is loaded until it answers.
    fn reload(&mut self) -> Option<Reloaded> {
        if let Some(redo) = self.redo.take() {
            self.failed = false;
            self.stats.stopped.store(false, Ordering::SeqCst);
            let state = self.replica.read().expect("replica lock").clone();
            let last_seq = self.stats.last_seq.load(Ordering::SeqCst);
            let loaded = Loaded { state, last_seq, last_at: Timestamp(0), max_id: 0, checkpoint: None };
            return Some(Reloaded { loaded: Some(loaded), redo });
        }
        loop {
            match self.store.load() {
                Ok(loaded) => {
                    // Loading indexed every journal by account.
                    self.recent.clear();
                    self.failed = false;
                    if let Some(l) = &loaded {
                        *self.replica.write().expect("replica lock") = l.state.clone();
                    }
                    self.stats.stopped.store(false, Ordering::SeqCst);
                    if let Some(l) = &loaded {
                        self.stats.last_seq.store(l.last_seq, Ordering::SeqCst);
                    }
                    return Some(Reloaded { loaded, redo: Vec::new() });
                }
                Err(error) if self.closing.load(Ordering::SeqCst) => {
                    eprintln!("cashier: reloading from the store failed ({error}); stopping");
                    return None;
                }
                Err(error) => {
                    eprintln!("cashier: reloading from the store failed ({error}); retrying");
                    std::thread::sleep(self.config.recovery_backoff);
                }
            }
        }
    }
}

/// Appends a batch executed later to one waiting for the committer: its records follow, its
/// rows win where both touched the same, and its callers' outcomes point into the merged log.
fn merge(batch: &mut Batch, answers: &mut Vec<Pending>, later: Batch, later_answers: Vec<Pending>) {
    let offset = batch.records.len();
    if !later.records.is_empty() {
        // A batch of rejections only has no rows (not even its business day).
        batch.records.extend(later.records);
        batch.rows.absorb(later.rows);
    }
    answers.extend(later_answers.into_iter().map(|(reply, answer)| {
        let answer = answer.map(|outcome| Outcome { range: outcome.range.start + offset..outcome.range.end + offset, ..outcome });
        (reply, answer)
    }));
}

/// Answers a batch that did not commit: its commands' outcomes are unknown to their callers;
/// rejections stay rejections (they changed nothing either way).
fn fail_all(answers: Vec<Pending>) {
    for (request, answer) in answers {
        let _ = request.reply.send(answer.and(Err(SubmitError::StoreFailed)));
    }
}

/// The idempotency key a create command carries, with the correspondent it belongs to.
fn key_of<'c>(state: &State, command: &'c Command) -> Option<(cashier_core::CorrespondentId, &'c str)> {
    let (actor, key, account) = match command {
        Command::CreateJournal { actor, key, request } => (actor, key, request.from),
        Command::CreateBatch { actor, key, from, .. } => (actor, key, *from),
        Command::CreateReverseBatch { actor, key, to, .. } => (actor, key, *to),
        _ => return None,
    };
    let scope = actor.scope().or_else(|| state.account(account).map(|a| a.correspondent))?;
    Some((scope, key.as_deref()?))
}

/// The journals an idempotency key stands for, when a create command was a replay.
fn replayed_journals(state: &State, command: &Command) -> Vec<JournalId> {
    key_of(state, command).and_then(|(c, key)| state.idempotency_key(c, key)).map(|r| r.journals.clone()).unwrap_or_default()
}

fn retention_micros(retention: Duration) -> i64 {
    i64::try_from(retention.as_micros()).unwrap_or(i64::MAX)
}
