//! The scan engine: a target list in, one Parquet row of findings per domain out.
//!
//! Where it sits: the `uptake scan` and `uptake check` commands call it. It reads and
//! normalises the targets ([`targets`]), runs each domain's probe plan ([`probe`]) with bounded
//! concurrency over the measurement DNS client (`uptake-dns`), hands the answers to the pure
//! evaluators (`uptake-checks`), and streams rows to the Parquet writer (`uptake-store`). A
//! domain that cannot be measured is a row whose statuses are `error` with a reason; it never
//! stops the scan.

pub mod connect;
pub mod probe;
pub mod resolve;
pub mod targets;

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::Semaphore;
use uptake_model::row::ScanRow;
use uptake_model::{Check, Status};

/// How to run a scan.
#[derive(Debug, Clone)]
pub struct ScanOptions {
    /// Target list.
    pub targets: PathBuf,
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
    /// Show a progress bar (when stderr is a terminal).
    pub progress: bool,
    /// The connection stage (web and mail checks); `None` runs the DNS checks only.
    pub connect: Option<ConnectOptions>,
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
    /// The prober of a scan: trust store loaded once, direct TCP connections.
    fn prober(&self) -> Result<uptake_probes::Prober, ScanError> {
        let (trust, warnings) =
            uptake_probes::load_trust(self.ca_file.as_deref()).map_err(ScanError::Trust)?;
        for w in warnings {
            eprintln!("warning: trust store: {w}");
        }
        Ok(uptake_probes::Prober::new(
            self.probe.clone(),
            trust,
            Arc::new(uptake_probes::DirectDialer),
        ))
    }
}

/// What a scan did.
#[derive(Debug, Clone, Default)]
pub struct ScanSummary {
    /// Rows written.
    pub domains: u64,
    /// Input lines rejected.
    pub rejects: u64,
    /// Duplicates skipped.
    pub duplicates: u64,
    /// Wall time.
    pub elapsed: Duration,
    /// DNS queries sent.
    pub dns_queries: u64,
    /// The DNS client's counters (timeouts, retries, TCP fallbacks, cache hits).
    pub dns_stats: uptake_dns::Stats,
    /// The probes' counters (TLS handshakes, raw hellos, HTTP requests, SMTP sessions), when
    /// the connection stage ran.
    pub probe_stats: Option<uptake_probes::StatsSnapshot>,
    /// Per check: status counts.
    pub statuses: BTreeMap<&'static str, BTreeMap<Status, u64>>,
    /// Part files written.
    pub parts: Vec<PathBuf>,
    /// The rejects file, when there were rejects.
    pub rejects_file: Option<PathBuf>,
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
    /// The scan id already has committed rows.
    #[error("{0} already holds a scan with this id; choose another --scan-id")]
    ScanExists(PathBuf),
    /// The trust store (`--ca-file` or the system roots) cannot be loaded.
    #[error("trust store: {0}")]
    Trust(String),
    /// No resolver given or found.
    #[error(
        "no resolver: pass --resolver ADDR, set UPTAKE_RESOLVER, or configure /etc/resolv.conf"
    )]
    NoResolver,
}

fn dns_client(
    resolvers: &[SocketAddr],
    timeout: Duration,
    attempts: u32,
) -> Result<uptake_dns::Client, ScanError> {
    if resolvers.is_empty() {
        return Err(ScanError::NoResolver);
    }
    let config = uptake_dns::ClientConfig {
        resolvers: resolvers.to_vec(),
        timeout,
        attempts,
        ..Default::default()
    };
    Ok(uptake_dns::Client::new(config)?)
}

/// Measures one domain (for `uptake check`). The name is normalised first.
pub async fn check_domain(
    domain: &str,
    resolvers: &[SocketAddr],
    timeout: Duration,
    attempts: u32,
    connect: Option<&ConnectOptions>,
) -> Result<ScanRow, ScanError> {
    let client = dns_client(resolvers, timeout, attempts)?;
    let prober = connect.map(ConnectOptions::prober).transpose()?;
    let reach = resolve::ReachabilityCache::default();
    let ctx = probe::ProbeContext {
        client: &client,
        reach: &reach,
        scan_id: "check",
    };
    let target = match targets::normalise(domain) {
        Ok(d) => targets::Target {
            domain: d,
            input: domain.to_string(),
            country: None,
            sector: None,
            organisation: None,
            extra: vec![],
        },
        Err(reason) => {
            return Err(ScanError::Targets(targets::TargetError::Csv {
                path: domain.to_string(),
                reason,
            }));
        }
    };
    let mut row = probe::probe(&ctx, &target).await;
    if let (Some(prober), Some(c)) = (&prober, connect) {
        connect::run(&client, &reach, prober, c.checks, &mut row).await;
    }
    Ok(row)
}

fn write_rejects(dir: &Path, rejects: &[targets::Reject]) -> Result<Option<PathBuf>, ScanError> {
    if rejects.is_empty() {
        return Ok(None);
    }
    std::fs::create_dir_all(dir).map_err(|source| ScanError::Io {
        path: dir.to_path_buf(),
        source,
    })?;
    let path = dir.join("rejects.csv");
    let io = |e: csv::Error| ScanError::Io {
        path: path.clone(),
        source: std::io::Error::other(e),
    };
    let mut w = csv::Writer::from_path(&path).map_err(io)?;
    w.write_record(["line", "input", "reason"]).map_err(io)?;
    for r in rejects {
        w.write_record([
            r.line.to_string().as_str(),
            r.input.as_str(),
            r.reason.as_str(),
        ])
        .map_err(io)?;
    }
    w.flush().map_err(|source| ScanError::Io {
        path: path.clone(),
        source,
    })?;
    Ok(Some(path))
}

/// Runs a scan to completion.
pub async fn scan(opts: &ScanOptions) -> Result<ScanSummary, ScanError> {
    let started = Instant::now();
    let list = targets::read(&opts.targets)?;
    let scan_dir = uptake_store::scan_dir(&opts.out, &opts.scan_id);
    if !uptake_store::committed_domains(&opts.out, &opts.scan_id)?.is_empty() {
        return Err(ScanError::ScanExists(scan_dir));
    }
    let rejects_file = write_rejects(&scan_dir, &list.rejects)?;
    let client = dns_client(&opts.resolvers, opts.timeout, opts.attempts)?;
    let prober = opts
        .connect
        .as_ref()
        .map(ConnectOptions::prober)
        .transpose()?;
    let stage = prober.map(|p| {
        Arc::new((
            p,
            opts.connect.as_ref().map(|c| c.checks).unwrap_or_default(),
        ))
    });
    let mut writer = uptake_store::DatasetWriter::create(
        &opts.out,
        &opts.scan_id,
        "0of1",
        list.extra_columns.clone(),
        uptake_store::WriterOptions {
            key_value_metadata: vec![("uptake.targets".into(), opts.targets.display().to_string())],
            ..Default::default()
        },
    )?;

    let total = list.targets.len() as u64;
    let bar = progress_bar(total, opts.progress);
    let reach = Arc::new(resolve::ReachabilityCache::default());
    let limit = Arc::new(Semaphore::new(opts.concurrency.max(1)));
    let (tx, mut rx) = tokio::sync::mpsc::channel::<ScanRow>(opts.concurrency.max(1) * 2);
    let scan_id: Arc<str> = Arc::from(opts.scan_id.as_str());
    let producer = {
        let client = client.clone();
        let reach = reach.clone();
        let limit = limit.clone();
        let scan_id = scan_id.clone();
        let stage = stage.clone();
        let targets = list.targets;
        tokio::spawn(async move {
            for target in targets {
                let Ok(permit) = limit.clone().acquire_owned().await else {
                    break;
                };
                let (client, reach, tx, scan_id, stage) = (
                    client.clone(),
                    reach.clone(),
                    tx.clone(),
                    scan_id.clone(),
                    stage.clone(),
                );
                tokio::spawn(async move {
                    let ctx = probe::ProbeContext {
                        client: &client,
                        reach: &reach,
                        scan_id: &scan_id,
                    };
                    let mut row = probe::probe(&ctx, &target).await;
                    if let Some(stage) = &stage {
                        let (prober, checks) = &**stage;
                        connect::run(&client, &reach, prober, *checks, &mut row).await;
                    }
                    drop(permit);
                    let _ = tx.send(row).await;
                });
            }
        })
    };

    let mut summary = ScanSummary {
        rejects: list.rejects.len() as u64,
        duplicates: list.duplicates,
        rejects_file,
        ..Default::default()
    };
    let mut last_log = Instant::now();
    let mut errors = 0u64;
    while let Some(row) = rx.recv().await {
        summary.domains += 1;
        summary.dns_queries += row.dns_queries as u64;
        let mut any_error = false;
        for check in Check::ALL {
            let Some(status) = row.finding(check).map(|f| f.status) else {
                continue;
            };
            any_error |= status == Status::Error;
            *summary
                .statuses
                .entry(check.id())
                .or_default()
                .entry(status)
                .or_default() += 1;
        }
        errors += u64::from(any_error);
        writer.write(&row)?;
        match &bar {
            Some(bar) => {
                bar.inc(1);
                bar.set_message(format!("{errors} with errors"));
            }
            None if last_log.elapsed() >= Duration::from_secs(10) => {
                last_log = Instant::now();
                let rate = summary.domains as f64 / started.elapsed().as_secs_f64().max(1e-9);
                eprintln!(
                    "scan {}: {}/{} domains, {:.0}/s, {} with errors",
                    opts.scan_id, summary.domains, total, rate, errors
                );
            }
            None => {}
        }
        if summary.domains == total {
            break;
        }
    }
    let _ = producer.await;
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    let written = writer.finish()?;
    summary.parts = written.parts;
    summary.elapsed = started.elapsed();
    summary.dns_stats = client.stats();
    summary.dns_queries = summary.dns_stats.sent;
    summary.probe_stats = stage.map(|s| s.0.stats());
    Ok(summary)
}

fn progress_bar(total: u64, wanted: bool) -> Option<indicatif::ProgressBar> {
    if !wanted || !std::io::stderr().is_terminal() {
        return None;
    }
    let bar = indicatif::ProgressBar::new(total);
    let style = indicatif::ProgressStyle::with_template(
        "{elapsed_precise} [{bar:30}] {pos}/{len} domains {per_sec} ETA {eta} {msg}",
    )
    .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
    .progress_chars("=> ");
    bar.set_style(style);
    Some(bar)
}
