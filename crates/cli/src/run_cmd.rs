//! `uptake run` and `uptake validate`: a pipeline file's scan, aggregate and report stages.
//!
//! `run` drives the stages as child processes of this same binary (`uptake scan`, `uptake
//! aggregate`, `uptake report`), so each stage behaves exactly as when typed by hand and a
//! failing stage is named with its exit status. A run is identified by its scan id
//! `<name>-<date>`; what is done is recorded so that a rerun for the same date resumes or
//! does nothing:
//!
//! - `DATASET/scan=<id>/_SUCCESS` once every list is scanned (it travels with the dataset to
//!   an object store, and aggregation reads only scans that have it);
//! - `REPORTS/<date>/.list-<n>-scanned` per list, `REPORTS/<date>/.complete` once the report
//!   is written; `REPORTS/latest` points at the newest date's directory.

use std::ffi::OsString;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

use anyhow::{bail, Context};
use clap::Args;
use uptake_model::Check;
use uptake_pipeline::{DatasetLocation, Pipeline};
use uptake_remote::Remote;

/// `uptake validate` arguments.
#[derive(Args, Debug)]
pub struct ValidateArgs {
    /// The pipeline file (TOML), e.g. pipelines/us-gov.toml.
    pipeline: PathBuf,
}

/// `uptake run` arguments.
#[derive(Args, Debug)]
pub struct RunArgs {
    /// The pipeline file (TOML), e.g. pipelines/us-gov.toml.
    pipeline: PathBuf,
    /// The run's date, YYYY-MM-DD (default: today, UTC). It names the scan
    /// (`<name>-<date>`) and the report directory; rerunning a date resumes it or does nothing.
    #[arg(long)]
    date: Option<String>,
    /// No progress bars from the scan (log lines instead), for cron and CI logs.
    #[arg(long)]
    quiet: bool,
    /// Scan only shard K of N (`uptake scan --shard`) and stop: N such runs (e.g. a Kubernetes
    /// Indexed Job) scan every list once between them; a final run without --shard finds
    /// nothing left to scan, marks the scan complete, aggregates and reports.
    #[arg(long, value_name = "K/N")]
    shard: Option<String>,
}

/// `uptake validate`: the checks `run` makes before it starts, and a summary of the pipeline.
pub fn validate(args: ValidateArgs) -> anyhow::Result<ExitCode> {
    let pipeline = Pipeline::load(&args.pipeline)?;
    if let Some(remote) = open_remote(&pipeline)? {
        remote.check_reachable()?;
    }
    println!("{}: ok", args.pipeline.display());
    println!("  name:      {}", pipeline.name);
    for list in &pipeline.lists {
        println!("  list:      {}", list_label(list));
    }
    let checks: Vec<&str> = pipeline.checks.iter().map(|c| c.id()).collect();
    println!("  checks:    {}", checks.join(" "));
    println!("  dataset:   {}", dataset_label(&pipeline.dataset));
    println!(
        "  reports:   {}/<date>/report/index.html",
        pipeline.reports.display()
    );
    if !pipeline.aggregate.by.is_empty() {
        println!("  by:        {}", pipeline.aggregate.by.join("  "));
    }
    Ok(ExitCode::SUCCESS)
}

/// `uptake run`: scan every list, upload (object stores), aggregate, report.
pub fn run(args: RunArgs) -> anyhow::Result<ExitCode> {
    let pipeline = Pipeline::load(&args.pipeline)?;
    let date = match args.date {
        Some(d) => d,
        None => today(),
    };
    let scan_id = pipeline.scan_id(&date)?;
    let remote = open_remote(&pipeline)?;
    if let Some(remote) = &remote {
        remote.check_reachable()?;
    }
    let local = pipeline.dataset.local_dir().to_path_buf();
    let run_dir = pipeline.reports.join(&date);
    let report_dir = run_dir.join("report");
    fs::create_dir_all(&run_dir).with_context(|| format!("creating {}", run_dir.display()))?;
    let complete = run_dir.join(".complete");
    if complete.exists() && report_dir.join("index.html").is_file() {
        eprintln!("uptake run: {scan_id} is complete; nothing to do");
        println!("{}", report_dir.join("index.html").display());
        return Ok(ExitCode::SUCCESS);
    }

    // The staging area gets what the store has of this pipeline: earlier dates (trends) and
    // the parts other shards or machines committed to this date's scan (resumed, not redone).
    if let Some(remote) = &remote {
        let fetched = remote.download_missing(&local, &format!("scan={}-", pipeline.name))?;
        if fetched.copied > 0 {
            eprintln!(
                "uptake run: {}: {} file(s) fetched ({} bytes)",
                remote.url(),
                fetched.copied,
                fetched.bytes
            );
        }
    }

    // Stage 1: scan every list into the one scan id.
    let scan_dir = local.join(format!("scan={scan_id}"));
    let success = scan_dir.join("_SUCCESS");
    if success.exists() {
        eprintln!("uptake run: scan {scan_id} is complete; not scanned again");
    } else {
        for (n, list) in pipeline.lists.iter().enumerate() {
            let marker = run_dir.join(format!(".list-{n}-scanned"));
            if marker.exists() && args.shard.is_none() {
                continue;
            }
            // Shards of one scan run side by side: each resumes its own part of it.
            let resume = args.shard.is_some() || has_parts(&scan_dir)?;
            eprintln!(
                "uptake run: scan {scan_id}: list {}/{} {}{}",
                n + 1,
                pipeline.lists.len(),
                list.path.display(),
                if resume { " (resuming)" } else { "" }
            );
            let mut argv = scan_argv(&pipeline, list, &local, &scan_id, resume, args.quiet);
            if let Some(shard) = &args.shard {
                argv.extend(["--shard".into(), shard.into()]);
            }
            stage(
                &format!("scan of {}", list.path.display()),
                argv,
                &args.pipeline,
            )?;
            if args.shard.is_none() {
                fs::write(&marker, b"").with_context(|| format!("writing {}", marker.display()))?;
            }
        }
        if args.shard.is_none() {
            let lists: Vec<String> = pipeline.lists.iter().map(list_label).collect();
            let record = serde_json::json!({
                "pipeline": pipeline.name,
                "date": date,
                "uptake": env!("CARGO_PKG_VERSION"),
                "lists": lists,
            });
            fs::write(&success, format!("{record}\n"))
                .with_context(|| format!("writing {}", success.display()))?;
        }
    }
    // The object store holds the dataset: this scan's files go there (a shard sends its own).
    if let Some(remote) = &remote {
        let sent = remote.upload_dir(&local, &format!("scan={scan_id}"))?;
        eprintln!(
            "uptake run: {}: {} file(s) uploaded ({} bytes), {} already there",
            remote.url(),
            sent.copied,
            sent.bytes,
            sent.skipped
        );
    }
    if let Some(shard) = &args.shard {
        eprintln!(
            "uptake run: shard {shard} of {scan_id} scanned; when every shard is done, \
             `uptake run {} --date {date}` completes the run",
            args.pipeline.display()
        );
        return Ok(ExitCode::SUCCESS);
    }

    // Stage 3: aggregate this pipeline's complete scans up to this date (trends).
    let scans = complete_scans(&local, &pipeline.name, &date)?;
    let aggregates = run_dir.join("aggregates");
    let mut argv: Vec<OsString> = vec!["aggregate".into(), local.clone().into()];
    for scan in &scans {
        argv.extend(["--scan".into(), scan.into()]);
    }
    for by in &pipeline.aggregate.by {
        argv.extend(["--by".into(), by.into()]);
    }
    argv.extend(["--out".into(), aggregates.clone().into()]);
    eprintln!(
        "uptake run: aggregate {} scan(s): {}",
        scans.len(),
        scans.join(" ")
    );
    stage("aggregate", argv, &args.pipeline)?;

    // Stage 4: the report.
    let mut argv: Vec<OsString> = vec!["report".into(), aggregates.into()];
    argv.extend(["--out".into(), report_dir.clone().into()]);
    for list in &pipeline.lists {
        argv.extend(["--list".into(), list_label(list).into()]);
    }
    if let Some(min_n) = pipeline.report.min_n {
        argv.extend(["--min-n".into(), min_n.to_string().into()]);
    }
    if let Some(max) = pipeline.report.max_error_percent {
        argv.extend(["--max-error-percent".into(), max.to_string().into()]);
    }
    stage("report", argv, &args.pipeline)?;

    fs::write(&complete, b"").with_context(|| format!("writing {}", complete.display()))?;
    point_latest(&pipeline.reports, &date)?;
    let index = report_dir.join("index.html");
    eprintln!(
        "uptake run: {scan_id} done; the report is {}",
        index.display()
    );
    println!("{}", index.display());
    Ok(ExitCode::SUCCESS)
}

fn open_remote(pipeline: &Pipeline) -> anyhow::Result<Option<Remote>> {
    match &pipeline.dataset {
        DatasetLocation::Local(_) => Ok(None),
        DatasetLocation::ObjectStore { url, .. } => Ok(Some(Remote::open(url)?)),
    }
}

fn dataset_label(dataset: &DatasetLocation) -> String {
    match dataset {
        DatasetLocation::Local(dir) => dir.display().to_string(),
        DatasetLocation::ObjectStore { url, staging } => {
            format!("{url} (staged in {})", staging.display())
        }
    }
}

/// How a list is named in logs and in the report's provenance.
fn list_label(list: &uptake_pipeline::List) -> String {
    let name = list
        .path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| list.path.display().to_string());
    match &list.source {
        Some(source) => format!("{name}, {source}"),
        None => name,
    }
}

/// The `uptake scan` command line for one list of the pipeline.
fn scan_argv(
    pipeline: &Pipeline,
    list: &uptake_pipeline::List,
    local: &Path,
    scan_id: &str,
    resume: bool,
    quiet: bool,
) -> Vec<OsString> {
    let mut argv: Vec<OsString> = vec![
        "scan".into(),
        "--targets".into(),
        list.path.clone().into(),
        "--out".into(),
        local.into(),
        "--scan-id".into(),
        scan_id.into(),
    ];
    let mut flag = |name: &str, value: Option<OsString>| {
        if let Some(v) = value {
            argv.push(format!("--{name}").into());
            argv.push(v);
        }
    };
    let text = |s: &Option<String>| s.as_ref().map(OsString::from);
    let path = |p: &Option<PathBuf>| p.as_ref().map(OsString::from);
    let joined = |v: &[String]| (!v.is_empty()).then(|| OsString::from(v.join(",")));
    flag("domain-column", text(&list.domain_column));
    flag("country-column", text(&list.country_column));
    flag("sector-column", text(&list.sector_column));
    flag("organisation-column", text(&list.organisation_column));
    flag("default-country", text(&list.default_country));
    flag("default-sector", text(&list.default_sector));
    let scan = &pipeline.scan;
    flag("resolver", joined(&scan.resolvers));
    flag(
        "concurrency",
        scan.concurrency.map(|n| n.to_string().into()),
    );
    flag("dns-rate", scan.dns_rate.map(|n| n.to_string().into()));
    flag("opt-out", path(&scan.opt_out));
    flag("allow-addresses", joined(&scan.allow_addresses));
    flag("user-agent", text(&scan.user_agent));
    flag("ehlo-name", text(&scan.ehlo_name));
    flag("ca-file", path(&scan.ca_file));
    // rpki and the hosting columns run when the pipeline gives the routing tables and wants
    // the routing checks (the default `all` does).
    if Check::ROUTING.iter().any(|c| pipeline.checks.contains(c)) {
        flag("vrps", path(&scan.vrps));
        flag("prefix-origins", path(&scan.prefix_origins));
        flag("ip-asn", path(&scan.ip_asn));
    }
    flag(
        "connection-rate",
        scan.connection_rate.map(|r| r.to_string().into()),
    );
    flag(
        "connections-per-address",
        scan.connections_per_address.map(|n| n.to_string().into()),
    );
    flag(
        "max-connections",
        scan.max_connections.map(|n| n.to_string().into()),
    );
    // The scan runs checks by group (the DNS checks always): a group runs when the pipeline
    // names any of its checks.
    let wants = |group: &[Check]| group.iter().any(|c| pipeline.checks.contains(c));
    let groups: Vec<&str> = [("web", wants(&Check::WEB)), ("mail", wants(&Check::MAIL))]
        .into_iter()
        .filter_map(|(name, wanted)| wanted.then_some(name))
        .collect();
    if groups.len() < 2 {
        flag(
            "checks",
            Some(
                ["dns"]
                    .iter()
                    .chain(&groups)
                    .copied()
                    .collect::<Vec<_>>()
                    .join(",")
                    .into(),
            ),
        );
    }
    if resume {
        argv.push("--resume".into());
    }
    if quiet {
        argv.push("--quiet".into());
    }
    argv
}

/// Runs one stage as `uptake <argv>`; its failure names the stage and how to go on.
fn stage(name: &str, argv: Vec<OsString>, pipeline_file: &Path) -> anyhow::Result<()> {
    let exe = std::env::current_exe().context("locating the uptake binary")?;
    // The stages' own results (e.g. the report's path) go to stderr with their logs; stdout
    // carries the run's one result, the report's path.
    let status = Command::new(&exe)
        .args(&argv)
        .stdout(std::io::stderr())
        .status()
        .with_context(|| format!("starting {}", exe.display()))?;
    if !status.success() {
        let how = status
            .code()
            .map(|c| format!("exit status {c}"))
            .unwrap_or_else(|| "a signal".to_string());
        bail!(
            "stage {name} failed ({how}); fix the cause and run `uptake run {}` again with the \
             same --date: finished stages are not repeated",
            pipeline_file.display()
        );
    }
    Ok(())
}

/// Whether a scan directory holds committed Parquet parts (a scan to resume).
fn has_parts(scan_dir: &Path) -> anyhow::Result<bool> {
    match fs::read_dir(scan_dir) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(e).with_context(|| format!("reading {}", scan_dir.display())),
        Ok(entries) => Ok(entries.filter_map(Result::ok).any(|e| {
            let name = e.file_name();
            let name = name.to_string_lossy();
            name.starts_with("part-") && name.ends_with(".parquet")
        })),
    }
}

/// The pipeline's scans (`scan=<name>-<YYYY-MM-DD>` with `_SUCCESS`) dated up to `date`,
/// oldest first: the scans of this run's aggregates and trend lines.
fn complete_scans(local: &Path, name: &str, date: &str) -> anyhow::Result<Vec<String>> {
    let prefix = format!("scan={name}-");
    let mut scans = Vec::new();
    for entry in fs::read_dir(local).with_context(|| format!("reading {}", local.display()))? {
        let entry = entry.with_context(|| format!("reading {}", local.display()))?;
        let dir_name = entry.file_name().to_string_lossy().into_owned();
        let Some(scan_date) = dir_name.strip_prefix(&prefix) else {
            continue;
        };
        if uptake_pipeline::check_date(scan_date).is_ok()
            && scan_date <= date
            && entry.path().join("_SUCCESS").is_file()
        {
            scans.push((scan_date.to_string(), format!("{name}-{scan_date}")));
        }
    }
    scans.sort();
    Ok(scans.into_iter().map(|(_, id)| id).collect())
}

/// `REPORTS/latest` -> the newest date's directory (a relative symlink, replaced atomically).
fn point_latest(reports: &Path, date: &str) -> anyhow::Result<()> {
    let latest = reports.join("latest");
    if let Ok(current) = fs::read_link(&latest) {
        if current.as_os_str() > std::ffi::OsStr::new(date) {
            return Ok(()); // a rerun of an older date leaves the newer one in place
        }
    }
    let temporary = reports.join(".latest.new");
    let _ = fs::remove_file(&temporary);
    std::os::unix::fs::symlink(date, &temporary)
        .with_context(|| format!("linking {}", temporary.display()))?;
    fs::rename(&temporary, &latest).with_context(|| format!("replacing {}", latest.display()))?;
    Ok(())
}

/// Today's date in UTC, YYYY-MM-DD.
fn today() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    let (y, m, d, ..) = uptake_model::time::utc_fields(secs);
    format!("{y:04}-{m:02}-{d:02}")
}
