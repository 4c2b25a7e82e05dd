//! `uptake`: the command-line front end over the uptake library crates.
//!
//! A thin layer: argument parsing, terminal output and exit codes live here; every piece of
//! measurement logic lives in a library crate (see docs/ARCHITECTURE.md).

mod aggregate_cmd;
mod report_cmd;
mod run_cmd;
mod scan_cmd;
mod testbed_cmd;

use std::process::ExitCode;

/// mimalloc rather than glibc malloc: a scan's memory stays near its live size (glibc's
/// per-thread arenas kept the fragments of every peak; benches/engine.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use clap::{Parser, Subcommand};

/// Measure how far the Internet's security standards are deployed.
///
/// Start with `uptake testbed generate` and `uptake testbed run` to get a private internet,
/// then `uptake scan` it.
#[derive(Parser)]
#[command(name = "uptake", version, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Scan a target list: measure every check for every domain and write one Parquet row per
    /// domain to DATASET/scan=<id>/.
    ///
    /// Example: uptake scan --targets targets.csv --out data --resolver 192.0.2.53
    Scan(Box<scan_cmd::ScanArgs>),
    /// Measure one domain and print the findings with their evidence.
    ///
    /// Example: uptake check example.nl --json
    Check(Box<scan_cmd::CheckArgs>),
    /// Print the columns of the Parquet output with their meaning.
    Schema {
        /// Print Markdown (docs/schema.md is this output).
        #[arg(long)]
        markdown: bool,
    },
    /// Adoption statistics of a dataset: every metric per scan and grouping, with Wilson 95%
    /// intervals and errors beside the rates.
    ///
    /// Example: uptake aggregate data --by country --by sector --by country,sector --out stats
    Aggregate(aggregate_cmd::AggregateArgs),
    /// List the adoption metrics with their definitions.
    Metrics(aggregate_cmd::MetricsArgs),
    /// Write the static HTML report (index.html, charts as SVG and PNG) from the output of
    /// `uptake aggregate`.
    ///
    /// Example: uptake report agg --out report
    Report(report_cmd::ReportArgs),
    /// Run a pipeline file: scan its lists, aggregate, write the report. Rerunning a date
    /// resumes it or does nothing.
    ///
    /// Example: uptake run pipelines/us-gov.toml --date 2026-11-28
    Run(run_cmd::RunArgs),
    /// Check a pipeline file without running it (syntax, unknown keys with their line, lists,
    /// checks, groupings, the output location).
    ///
    /// Example: uptake validate pipelines/us-gov.toml
    Validate(run_cmd::ValidateArgs),
    /// Generate and run the private internet (a test Internet with known ground truth).
    #[command(subcommand)]
    Testbed(testbed_cmd::TestbedCommand),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // Logs for diagnosis: RUST_LOG=uptake_scan=debug, RUST_LOG=info, ... (default: warnings).
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
    let result = match cli.command {
        Command::Testbed(cmd) => testbed_cmd::run(cmd),
        Command::Scan(args) => scan_cmd::scan(*args),
        Command::Check(args) => scan_cmd::check(*args),
        Command::Report(args) => report_cmd::run(args),
        Command::Run(args) => run_cmd::run(args),
        Command::Validate(args) => run_cmd::validate(args),
        Command::Schema { markdown } => Ok(scan_cmd::schema(markdown)),
        Command::Aggregate(args) => aggregate_cmd::run(args),
        Command::Metrics(args) => Ok(aggregate_cmd::list(args)),
    };
    match result {
        Ok(code) => code,
        Err(err) => {
            eprintln!("uptake: error: {err:#}");
            ExitCode::from(2)
        }
    }
}
