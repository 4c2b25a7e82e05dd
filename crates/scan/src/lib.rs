//! The scan engine: a target list in, one Parquet row of findings per domain out.
//!
//! Where it sits: the `uptake scan` and `uptake check` commands call it. It streams the
//! targets ([`targets`]) through a bounded channel (back-pressure: memory does not grow with
//! the list), keeps the ones of its shard ([`Shard`]) that are neither opted out
//! (`uptake-policy`) nor already committed (`--resume`), runs each domain's probe plan
//! ([`probe`]) with bounded concurrency and a time budget over the measurement DNS client
//! (`uptake-dns`, with its global rate cap and per-resolver in-flight cap), hands the answers
//! to the pure evaluators (`uptake-checks`), and streams rows to the Parquet writer
//! (`uptake-store`) on a thread of its own, which commits a part every `part_rows` rows or
//! `commit_interval`. A domain that cannot be measured is a row whose statuses are `error`
//! with a reason; it never stops the scan. A stop request ([`StopSignal`], Ctrl-C in the CLI)
//! drops the domains in flight and commits what is done.

pub mod connect;
pub mod dial;
pub mod probe;
pub mod resolve;
pub mod routing;
pub mod stats;
pub mod targets;

use std::io::IsTerminal;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, Notify, Semaphore};
use uptake_model::row::ScanRow;

pub use stats::{LiveStats, ScanSummary};
use targets::{Columns, Item, Target, TargetStream};

/// Which part of the targets one process scans: those whose registrable domain hashes to
/// `index` modulo `count`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    /// K, from 0.
    pub index: u32,
    /// N, at least 1.
    pub count: u32,
}

impl Default for Shard {
    fn default() -> Self {
        Shard { index: 0, count: 1 }
    }
}

impl std::str::FromStr for Shard {
    type Err = String;
    fn from_str(s: &str) -> Result<Shard, String> {
        let bad = || format!("'{s}' is not a shard: expected K/N with 0 <= K < N, e.g. 0/4");
        let (k, n) = s.split_once('/').ok_or_else(bad)?;
        let index: u32 = k.trim().parse().map_err(|_| bad())?;
        let count: u32 = n.trim().parse().map_err(|_| bad())?;
        if count == 0 || index >= count {
            return Err(bad());
        }
        Ok(Shard { index, count })
    }
}

impl std::fmt::Display for Shard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

impl Shard {
    /// The shard's name in part files: `KofN`.
    pub fn name(&self) -> String {
        format!("{}of{}", self.index, self.count)
    }

    /// Whether `domain` (normalised) belongs to this shard: FNV-1a 64 of its registrable
    /// domain (Public Suffix List; the name itself when it has none) modulo N equals K. All
    /// names under one registrable domain land in one shard.
    pub fn contains(&self, domain: &str) -> bool {
        if self.count == 1 {
            return true;
        }
        let key = psl::domain_str(domain).unwrap_or(domain);
        targets::name_hash(key) % u64::from(self.count) == u64::from(self.index)
    }
}

/// How to run a scan.
#[derive(Debug, Clone)]
pub struct ScanOptions {
    /// Target list.
    pub targets: PathBuf,
    /// Which input columns hold domain, country, sector, organisation.
    pub columns: Columns,
    /// Dataset directory.
    pub out: PathBuf,
    /// Validating resolvers.
    pub resolvers: Vec<SocketAddr>,
    /// Scan id (partition name).
    pub scan_id: String,
    /// Domains measured at once.
    pub concurrency: usize,
    /// DNS timeout per attempt.
    pub timeout: Duration,
    /// DNS attempts per query.
    pub attempts: u32,
    /// Global cap on DNS messages per second (None: uncapped).
    pub dns_rate: Option<u32>,
    /// DNS queries in flight per resolver (and per name server asked directly).
    pub dns_in_flight: usize,
    /// Total time for one domain (None: unbounded).
    pub domain_timeout: Option<Duration>,
    /// The part of the list to scan.
    pub shard: Shard,
    /// Continue a scan: skip the targets already committed by this shard.
    pub resume: bool,
    /// Address guard, opt-out list, connection limits, identity.
    pub policy: uptake_policy::Policy,
    /// Commit a part after this many rows.
    pub part_rows: usize,
    /// Commit a part at least this often while rows arrive.
    pub commit_interval: Duration,
    /// Show a progress bar (when stderr is a terminal).
    pub progress: bool,
    /// The connection stage (web and mail checks); `None` runs the DNS checks only.
    pub connect: Option<ConnectOptions>,
    /// Routing tables for `rpki` and the hosting columns ([`routing`]), loaded once per
    /// scan; `None` leaves those columns null.
    pub routing: Option<Arc<uptake_routing::RoutingTables>>,
}

/// How to run the connection stage ([`connect`]).
#[derive(Debug, Clone)]
pub struct ConnectOptions {
    /// Which groups of connected checks run.
    pub checks: connect::ConnectedChecks,
    /// Trust anchors (PEM); `None` for the system's roots.
    pub ca_file: Option<PathBuf>,
    /// Probe limits and names (timeouts, caps, EHLO name, User-Agent).
    pub probe: uptake_probes::ProbeConfig,
}

impl ConnectOptions {
    /// The prober of a scan: trust store loaded once, connections through the policy's
    /// limiter, the policy's User-Agent and EHLO name.
    fn prober(&self, policy: &uptake_policy::Policy) -> Result<uptake_probes::Prober, ScanError> {
        let (trust, warnings) =
            uptake_probes::load_trust(self.ca_file.as_deref()).map_err(ScanError::Trust)?;
        for w in warnings {
            eprintln!("warning: trust store: {w}");
        }
        let mut cfg = self.probe.clone();
        cfg.user_agent = policy.identity.user_agent.clone();
        cfg.ehlo_name = policy.identity.ehlo_name.clone();
        Ok(uptake_probes::Prober::new(
            cfg,
            trust,
            Arc::new(dial::PolicyDialer::new(policy.connections.clone())),
        ))
    }
}

impl ScanOptions {
    /// Options with the defaults of `uptake scan` for a target list, dataset and resolvers.
    pub fn new(targets: PathBuf, out: PathBuf, resolvers: Vec<SocketAddr>, scan_id: &str) -> Self {
        ScanOptions {
            targets,
            columns: Columns::default(),
            out,
            resolvers,
            scan_id: scan_id.to_string(),
            concurrency: 500,
            timeout: Duration::from_secs(2),
            attempts: 3,
            dns_rate: None,
            dns_in_flight: 500,
            domain_timeout: Some(Duration::from_secs(60)),
            shard: Shard::default(),
            resume: false,
            policy: uptake_policy::Policy::default(),
            part_rows: 100_000,
            commit_interval: Duration::from_secs(30),
            progress: false,
            connect: None,
            routing: None,
        }
    }
}

/// Errors that stop a scan before or while it writes (per-domain failures never do).
#[derive(Debug, thiserror::Error)]
pub enum ScanError {
    /// The target list cannot be read.
    #[error(transparent)]
    Targets(#[from] targets::TargetError),
    /// The DNS client could not start.
    #[error("DNS client: {0}")]
    Dns(#[from] uptake_dns::DnsError),
    /// Writing the dataset failed.
    #[error(transparent)]
    Store(#[from] uptake_store::StoreError),
    /// Other I/O.
    #[error("{path}: {source}")]
    Io {
        /// The path.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// The scan id already has committed rows of this shard and `--resume` was not given.
    #[error("{dir} already holds {rows} rows of this scan (shard {shard}); pass --resume to continue it, or choose another --scan-id")]
    ScanExists {
        /// The scan directory.
        dir: PathBuf,
        /// Committed rows of the shard.
        rows: usize,
        /// The shard.
        shard: Shard,
    },
    /// The scan stopped part way; what was committed is intact.
    #[error("{cause}\n{committed} rows committed in {dir} before the failure are intact; once the cause is fixed, run the same command with --resume")]
    Aborted {
        /// What went wrong.
        cause: Box<ScanError>,
        /// Rows committed by this run.
        committed: u64,
        /// The scan directory.
        dir: PathBuf,
    },
    /// The trust store (`--ca-file` or the system roots) cannot be loaded.
    #[error("trust store: {0}")]
    Trust(String),
    /// No resolver given or found.
    #[error(
        "no resolver: pass --resolver ADDR, set UPTAKE_RESOLVER, or configure /etc/resolv.conf"
    )]
    NoResolver,
}

/// A request to stop a scan: the scan drops the domains in flight, commits what is done and
/// returns a summary with `interrupted` set. Cheap to clone.
#[derive(Debug, Clone, Default)]
pub struct StopSignal(Arc<(AtomicBool, Notify)>);

impl StopSignal {
    /// A signal not yet given.
    pub fn new() -> Self {
        Self::default()
    }

    /// Gives the signal.
    pub fn stop(&self) {
        self.0 .0.store(true, Ordering::SeqCst);
        self.0 .1.notify_waiters();
    }

    /// Whether the signal was given.
    pub fn is_stopped(&self) -> bool {
        self.0 .0.load(Ordering::SeqCst)
    }

    /// Waits for the signal.
    pub async fn stopped(&self) {
        loop {
            let notified = self.0 .1.notified();
            if self.is_stopped() {
                return;
            }
            notified.await;
        }
    }
}

fn dns_client(opts: &ScanOptions) -> Result<uptake_dns::Client, ScanError> {
    if opts.resolvers.is_empty() {
        return Err(ScanError::NoResolver);
    }
    let config = uptake_dns::ClientConfig {
        resolvers: opts.resolvers.to_vec(),
        timeout: opts.timeout,
        attempts: opts.attempts,
        max_queries_per_second: opts.dns_rate,
        max_in_flight_per_server: opts.dns_in_flight.clamp(1, 32_768),
        ..Default::default()
    };
    Ok(uptake_dns::Client::new(config)?)
}

/// Measures one domain (for `uptake check`). The name is normalised first.
pub async fn check_domain(domain: &str, opts: &ScanOptions) -> Result<ScanRow, ScanError> {
    let client = dns_client(opts)?;
    let prober = opts
        .connect
        .as_ref()
        .map(|c| c.prober(&opts.policy))
        .transpose()?;
    let reach = resolve::ReachabilityCache::default();
    let ctx = probe::ProbeContext {
        client: &client,
        reach: &reach,
        scan_id: "check",
        policy: &opts.policy,
        budget: opts.domain_timeout,
    };
    let target = match targets::normalise(domain) {
        Ok(d) => Target::bare(d, domain.to_string()),
        Err(reason) => {
            return Err(ScanError::Targets(targets::TargetError::Csv {
                path: domain.to_string(),
                reason,
            }));
        }
    };
    let started = Instant::now();
    let mut row = probe::probe(&ctx, &target).await;
    if let (Some(prober), Some(c)) = (&prober, &opts.connect) {
        connect::run(
            &client,
            &reach,
            &opts.policy.guard,
            prober,
            c.checks,
            &mut row,
        )
        .await;
    }
    if let Some(tables) = &opts.routing {
        routing::run(
            &client,
            &reach,
            &opts.policy.guard,
            tables,
            opts.domain_timeout,
            &mut row,
        )
        .await;
    }
    row.duration_ms = started.elapsed().as_millis() as i64;
    Ok(row)
}

/// A CSV side file (rejects, opt-outs), created on its first row.
struct SideFile {
    path: PathBuf,
    header: &'static [&'static str],
    writer: Option<csv::Writer<std::fs::File>>,
    rows: u64,
}

impl SideFile {
    fn new(path: PathBuf, header: &'static [&'static str]) -> Self {
        SideFile {
            path,
            header,
            writer: None,
            rows: 0,
        }
    }

    fn io(&self, e: impl Into<std::io::Error>) -> ScanError {
        ScanError::Io {
            path: self.path.clone(),
            source: e.into(),
        }
    }

    fn write(&mut self, record: &[&str]) -> Result<(), ScanError> {
        if self.writer.is_none() {
            let mut w = csv::Writer::from_path(&self.path).map_err(|e| self.io(e))?;
            w.write_record(self.header).map_err(|e| self.io(e))?;
            self.writer = Some(w);
        }
        self.rows += 1;
        let result = self.writer.as_mut().map(|w| w.write_record(record));
        match result {
            Some(Err(e)) => Err(self.io(e)),
            _ => Ok(()),
        }
    }

    fn finish(&mut self) -> Result<Option<PathBuf>, ScanError> {
        match self.writer.take() {
            None => Ok(None),
            Some(mut w) => {
                w.flush().map_err(|e| self.io(e))?;
                Ok(Some(self.path.clone()))
            }
        }
    }
}

/// What the target reader thread sends to the dispatcher.
enum Feed {
    Target(Target),
    Failed(ScanError),
}

/// What decides whether a target of the list is scanned by this process.
struct Selector {
    shard: Shard,
    opt_out: Arc<uptake_policy::OptOut>,
    committed: std::collections::HashSet<u64>,
}

enum Selection<'a> {
    Scan,
    OtherShard,
    OptedOut(&'a str),
    Committed,
}

impl Selector {
    fn select(&self, t: &Target) -> Selection<'_> {
        if !self.shard.contains(&t.domain) {
            Selection::OtherShard
        } else if let Some(rule) = self.opt_out.domain_rule(&t.domain) {
            Selection::OptedOut(rule)
        } else if self.committed.contains(&targets::name_hash(&t.domain)) {
            Selection::Committed
        } else {
            Selection::Scan
        }
    }
}

/// Counts of the reader thread.
#[derive(Debug, Default, Clone)]
struct ReadCounts {
    rejects: u64,
    duplicates: u64,
    other_shard: u64,
    opted_out: u64,
    resumed: u64,
    rejects_file: Option<PathBuf>,
    opted_out_file: Option<PathBuf>,
    cpu: Duration,
}

fn side_name(base: &str, shard: Shard) -> String {
    if shard.count == 1 {
        format!("{base}.csv")
    } else {
        format!("{base}-{}.csv", shard.name())
    }
}

/// Reads the list, sorts each item, and feeds the targets to scan into `feed` (blocking when
/// it is full: back-pressure).
fn read_targets(
    stream: TargetStream,
    selector: Arc<Selector>,
    scan_dir: &Path,
    feed: mpsc::Sender<Feed>,
) -> ReadCounts {
    let mut counts = ReadCounts::default();
    let shard = selector.shard;
    let mut rejects = SideFile::new(
        scan_dir.join(side_name("rejects", shard)),
        &["line", "input", "reason"],
    );
    let mut opted = SideFile::new(
        scan_dir.join(side_name("opted-out", shard)),
        &["domain", "input_domain", "rule"],
    );
    let result = (|| -> Result<(), ScanError> {
        for item in stream {
            match item? {
                Item::Duplicate => counts.duplicates += 1,
                Item::Reject(r) => {
                    counts.rejects += 1;
                    rejects.write(&[&r.line.to_string(), &r.input, &r.reason])?;
                }
                Item::Target(t) => match selector.select(&t) {
                    Selection::OtherShard => counts.other_shard += 1,
                    Selection::Committed => counts.resumed += 1,
                    Selection::OptedOut(rule) => {
                        counts.opted_out += 1;
                        opted.write(&[&t.domain, &t.input, rule])?;
                    }
                    Selection::Scan => {
                        if feed.blocking_send(Feed::Target(t)).is_err() {
                            // The scan stopped; nothing more is wanted.
                            return Ok(());
                        }
                    }
                },
            }
        }
        Ok(())
    })();
    let finished = rejects
        .finish()
        .and_then(|r| Ok((r, opted.finish()?)))
        .map(|(r, o)| {
            counts.rejects_file = r;
            counts.opted_out_file = o;
        });
    if let Err(e) = result.and(finished) {
        let _ = feed.blocking_send(Feed::Failed(e));
    }
    counts.cpu = uptake_probes::cpu::thread_cpu();
    counts
}

/// Counts the targets this process will scan (for the progress bar's length and ETA).
fn count_targets(path: &Path, columns: &Columns, selector: &Selector) -> Option<u64> {
    let stream = TargetStream::open(path, columns).ok()?;
    let mut n = 0;
    for item in stream {
        if let Item::Target(t) = item.ok()? {
            n += u64::from(matches!(selector.select(&t), Selection::Scan));
        }
    }
    Some(n)
}

/// The writer thread: rows in, parts committed every `part_rows` rows or `interval`.
fn write_rows(
    mut writer: uptake_store::DatasetWriter,
    mut rows: mpsc::Receiver<ScanRow>,
    live: Arc<Mutex<LiveStats>>,
    part_rows: usize,
    interval: Duration,
    runtime: tokio::runtime::Handle,
) -> (Result<uptake_store::WriteSummary, ScanError>, u64, Duration) {
    let mut last_commit = Instant::now();
    let mut uncommitted = 0usize;
    let tick = interval.min(Duration::from_secs(1));
    let result = (|| -> Result<(), ScanError> {
        loop {
            let next = runtime.block_on(async { tokio::time::timeout(tick, rows.recv()).await });
            match next {
                Ok(Some(row)) => {
                    writer.write(&row)?;
                    live.lock().unwrap_or_else(|e| e.into_inner()).record(&row);
                    uncommitted += 1;
                }
                Ok(None) => return Ok(()),
                Err(_) => {}
            }
            if uncommitted > 0 && (uncommitted >= part_rows || last_commit.elapsed() >= interval) {
                writer.commit()?;
                tracing::debug!(rows = uncommitted, "part committed");
                uncommitted = 0;
                last_commit = Instant::now();
            }
        }
    })();
    let committed = writer.committed_rows();
    let result = match result {
        Ok(()) => writer.finish().map_err(ScanError::from),
        Err(e) => Err(e),
    };
    let committed = match &result {
        Ok(s) => s.rows,
        Err(_) => committed,
    };
    (result, committed, uptake_probes::cpu::thread_cpu())
}

/// Runs a scan until the list is done or `stop` is given.
pub async fn scan(opts: &ScanOptions, stop: StopSignal) -> Result<ScanSummary, ScanError> {
    let started = Instant::now();
    let shard_name = opts.shard.name();
    let scan_dir = uptake_store::scan_dir(&opts.out, &opts.scan_id);
    let committed =
        uptake_store::committed_domains_of(&opts.out, &opts.scan_id, Some(&shard_name))?;
    if !committed.is_empty() && !opts.resume {
        return Err(ScanError::ScanExists {
            dir: scan_dir,
            rows: committed.len(),
            shard: opts.shard,
        });
    }
    let committed_before = committed.len() as u64;
    let selector = Arc::new(Selector {
        shard: opts.shard,
        opt_out: opts.policy.opt_out.clone(),
        committed: committed.iter().map(|d| targets::name_hash(d)).collect(),
    });
    drop(committed);
    let stream = TargetStream::open(&opts.targets, &opts.columns)?;
    let client = dns_client(opts)?;
    let prober = opts
        .connect
        .as_ref()
        .map(|c| c.prober(&opts.policy))
        .transpose()?;
    let stage = prober.map(|p| {
        Arc::new((
            p,
            opts.connect.as_ref().map(|c| c.checks).unwrap_or_default(),
        ))
    });
    let writer = uptake_store::DatasetWriter::create(
        &opts.out,
        &opts.scan_id,
        &shard_name,
        stream.extra_columns.clone(),
        uptake_store::WriterOptions {
            key_value_metadata: vec![
                ("uptake.targets".into(), opts.targets.display().to_string()),
                ("uptake.shard".into(), opts.shard.to_string()),
            ],
            ..Default::default()
        },
    )?;
    tracing::info!(scan_id = %opts.scan_id, shard = %opts.shard, format = ?stream.format, resumed = committed_before, "scan starting");

    let live = Arc::new(Mutex::new(LiveStats::default()));
    let total = Arc::new(AtomicU64::new(u64::MAX));
    {
        let (path, columns, selector, total) = (
            opts.targets.clone(),
            opts.columns.clone(),
            selector.clone(),
            total.clone(),
        );
        std::thread::Builder::new()
            .name("uptake-count".into())
            .spawn(move || {
                if let Some(n) = count_targets(&path, &columns, &selector) {
                    total.store(n, Ordering::Relaxed);
                }
            })
            .map_err(|source| ScanError::Io {
                path: opts.targets.clone(),
                source,
            })?;
    }

    let concurrency = opts.concurrency.max(1);
    let (feed_tx, mut feed_rx) = mpsc::channel::<Feed>(concurrency);
    let reader = {
        let dir = scan_dir.clone();
        let selector = selector.clone();
        std::thread::Builder::new()
            .name("uptake-targets".into())
            .spawn(move || read_targets(stream, selector, &dir, feed_tx))
            .map_err(|source| ScanError::Io {
                path: opts.targets.clone(),
                source,
            })?
    };
    let (rows_tx, rows_rx) = mpsc::channel::<ScanRow>(concurrency * 2);
    let halt = StopSignal::new();
    let writer_thread = {
        let (live, runtime, halt) = (
            live.clone(),
            tokio::runtime::Handle::current(),
            halt.clone(),
        );
        let (part_rows, interval) = (opts.part_rows.max(1), opts.commit_interval);
        std::thread::Builder::new()
            .name("uptake-writer".into())
            .spawn(move || {
                let r = write_rows(writer, rows_rx, live, part_rows, interval, runtime);
                if r.0.is_err() {
                    halt.stop();
                }
                r
            })
            .map_err(|source| ScanError::Io {
                path: scan_dir.clone(),
                source,
            })?
    };

    let limit = Arc::new(Semaphore::new(concurrency));
    let progress = Progress::new(
        opts,
        live.clone(),
        total.clone(),
        limit.clone(),
        concurrency,
    );
    let reach = Arc::new(resolve::ReachabilityCache::default());
    let scan_id: Arc<str> = Arc::from(opts.scan_id.as_str());
    let policy = Arc::new(opts.policy.clone());
    let mut tasks = tokio::task::JoinSet::new();
    let mut input_error = None;
    let mut interrupted = false;
    loop {
        while tasks.try_join_next().is_some() {}
        let permit = tokio::select! {
            biased;
            _ = stop.stopped() => { interrupted = true; break; }
            _ = halt.stopped() => break,
            p = limit.clone().acquire_owned() => p,
        };
        let Ok(permit) = permit else { break };
        let feed = tokio::select! {
            biased;
            _ = stop.stopped() => { interrupted = true; break; }
            _ = halt.stopped() => break,
            f = feed_rx.recv() => f,
        };
        let target = match feed {
            None => break,
            Some(Feed::Failed(e)) => {
                input_error = Some(e);
                break;
            }
            Some(Feed::Target(t)) => t,
        };
        let (client, reach, tx, scan_id, policy, stage, tables) = (
            client.clone(),
            reach.clone(),
            rows_tx.clone(),
            scan_id.clone(),
            policy.clone(),
            stage.clone(),
            opts.routing.clone(),
        );
        let budget = opts.domain_timeout;
        tasks.spawn(async move {
            let ctx = probe::ProbeContext {
                client: &client,
                reach: &reach,
                scan_id: &scan_id,
                policy: &policy,
                budget,
            };
            let t0 = Instant::now();
            // The stages' futures are large (every lookup of a domain joined); boxed, their
            // memory is freed when the stage ends rather than held by the task until its row
            // is handed over.
            let probe = Box::pin(probe::probe(&ctx, &target));
            // The budget is enforced inside the probe (each lookup); this is the backstop.
            let row = match budget {
                Some(b) => match tokio::time::timeout(b + Duration::from_secs(2), probe).await {
                    Ok(row) => row,
                    Err(_) => probe::budget_row(&ctx, &target, b),
                },
                None => probe.await,
            };
            let mut row = row;
            if let Some(stage) = &stage {
                let (prober, checks) = &**stage;
                Box::pin(connect::run(
                    &client,
                    &reach,
                    &policy.guard,
                    prober,
                    *checks,
                    &mut row,
                ))
                .await;
            }
            if let Some(tables) = &tables {
                routing::run(&client, &reach, &policy.guard, tables, budget, &mut row).await;
            }
            row.duration_ms = t0.elapsed().as_millis() as i64;
            // The permit is held until the writer has taken the row: a domain waiting for a
            // slow writer still counts against --concurrency, so domains in memory stay
            // bounded (released before the send, finished domains piled up behind the writer:
            // 340 MB at 300,000 fast-failing targets).
            let _ = tx.send(row).await;
            drop(permit);
        });
    }
    // Stop the reader (its sends fail from now on).
    drop(feed_rx);
    if interrupted || halt.is_stopped() {
        tasks.abort_all();
    } else {
        loop {
            tokio::select! {
                biased;
                _ = stop.stopped() => { interrupted = true; tasks.abort_all(); }
                _ = halt.stopped() => tasks.abort_all(),
                next = tasks.join_next() => if next.is_none() { break },
            }
        }
    }
    while tasks.join_next().await.is_some() {}
    drop(rows_tx);
    let (written, committed_now, writer_cpu) = tokio::task::spawn_blocking(move || {
        writer_thread
            .join()
            .unwrap_or_else(|_| (Err(io_panic("writer")), 0, Duration::ZERO))
    })
    .await
    .unwrap_or_else(|_| (Err(io_panic("writer")), 0, Duration::ZERO));
    let counts = tokio::task::spawn_blocking(move || reader.join().unwrap_or_default())
        .await
        .unwrap_or_default();
    progress.finish();

    let abort = |cause: ScanError| ScanError::Aborted {
        cause: Box::new(cause),
        committed: committed_now,
        dir: uptake_store::scan_dir(&opts.out, &opts.scan_id),
    };
    let written = written.map_err(abort)?;
    if let Some(e) = input_error {
        return Err(abort(e));
    }
    let live = live.lock().unwrap_or_else(|e| e.into_inner()).clone();
    let mut summary = ScanSummary::from_live(live);
    summary.shard = opts.shard;
    summary.interrupted = interrupted;
    summary.resumed = counts.resumed;
    summary.rejects = counts.rejects;
    summary.duplicates = counts.duplicates;
    summary.other_shard = counts.other_shard;
    summary.opted_out = counts.opted_out;
    summary.rejects_file = counts.rejects_file;
    summary.opted_out_file = counts.opted_out_file;
    summary.parts = written.parts;
    summary.elapsed = started.elapsed();
    summary.dns_stats = client.stats();
    summary.dns_queries = summary.dns_stats.sent;
    summary.probe_stats = stage.map(|s| s.0.stats());
    summary.cpu = stats::CpuByStage {
        total: uptake_probes::cpu::process_cpu(),
        targets: counts.cpu,
        parquet: writer_cpu,
        evaluators: Duration::from_nanos(probe::EVALUATOR_NANOS.load(Ordering::Relaxed)),
        tls: summary.probe_stats.map_or(Duration::ZERO, |p| p.tls_cpu),
    };
    tracing::info!(domains = summary.domains, interrupted, "scan finished");
    Ok(summary)
}

fn io_panic(what: &str) -> ScanError {
    ScanError::Io {
        path: PathBuf::from(what),
        source: std::io::Error::other(format!("the {what} thread panicked")),
    }
}

/// The progress display: a bar on a terminal, a log line every 10 s otherwise.
struct Progress {
    task: Option<tokio::task::JoinHandle<()>>,
    bar: Option<indicatif::ProgressBar>,
}

impl Progress {
    fn new(
        opts: &ScanOptions,
        live: Arc<Mutex<LiveStats>>,
        total: Arc<AtomicU64>,
        limit: Arc<Semaphore>,
        concurrency: usize,
    ) -> Progress {
        let bar = (opts.progress && std::io::stderr().is_terminal()).then(|| {
            let bar = indicatif::ProgressBar::new(0);
            let style = indicatif::ProgressStyle::with_template(
                "{elapsed_precise} [{bar:30}] {pos}/{len} domains {per_sec} ETA {eta} {msg}",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
            .progress_chars("=> ");
            bar.set_style(style);
            bar
        });
        let label = format!("scan {} (shard {})", opts.scan_id, opts.shard);
        let started = Instant::now();
        let b = bar.clone();
        let task = tokio::spawn(async move {
            let mut last_log = Instant::now();
            loop {
                tokio::time::sleep(Duration::from_millis(250)).await;
                let (done, errors) = {
                    let l = live.lock().unwrap_or_else(|e| e.into_inner());
                    (l.domains, l.error_kinds_text())
                };
                let in_flight = concurrency - limit.available_permits();
                let total = total.load(Ordering::Relaxed);
                let msg = format!("| {in_flight} in flight | errors: {errors}");
                match &b {
                    Some(bar) => {
                        if total != u64::MAX {
                            bar.set_length(total);
                        }
                        bar.set_position(done);
                        bar.set_message(msg);
                    }
                    None if last_log.elapsed() >= Duration::from_secs(10) => {
                        last_log = Instant::now();
                        let secs = started.elapsed().as_secs_f64().max(1e-9);
                        let rate = done as f64 / secs;
                        let (of, eta) = if total == u64::MAX {
                            (String::new(), String::new())
                        } else {
                            let left = total.saturating_sub(done) as f64 / rate.max(1e-9);
                            (format!("/{total}"), format!(", ETA {left:.0}s"))
                        };
                        eprintln!("{label}: {done}{of} domains, {rate:.0}/s{eta} {msg}");
                    }
                    None => {}
                }
            }
        });
        Progress {
            task: Some(task),
            bar,
        }
    }

    fn finish(mut self) {
        if let Some(t) = self.task.take() {
            t.abort();
        }
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
    }
}
