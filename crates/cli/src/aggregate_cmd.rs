//! `uptake aggregate` and `uptake metrics`: adoption statistics over a dataset.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::Context;
use clap::Args;
use uptake_aggregate::metrics::{metrics_markdown, metrics_text};
use uptake_aggregate::output::write_outputs;
use uptake_aggregate::{aggregate, Grouping, Options};

/// Arguments of `uptake aggregate`.
#[derive(Args)]
pub struct AggregateArgs {
    /// The dataset directory (holding scan=<id>/part-*.parquet).
    dataset: PathBuf,
    /// Scan to include (repeatable); default: every scan of the dataset.
    #[arg(long = "scan", value_name = "ID")]
    scans: Vec<String>,
    /// Grouping besides the overall population (repeatable): country, sector, organisation,
    /// hosting_country, hosting_asn (of the web address, else the mail address), or any
    /// comma-separated combination (country,sector; country,hosting_country).
    #[arg(long = "by", value_name = "DIMS")]
    by: Vec<String>,
    /// Output directory: adoption.csv, adoption.parquet, adoption.json, changes.csv and
    /// metrics.sql.
    #[arg(long)]
    out: PathBuf,
    /// Worker threads (default: one per core).
    #[arg(long)]
    threads: Option<usize>,
    /// No summary on stderr.
    #[arg(long)]
    quiet: bool,
}

/// Arguments of `uptake metrics`.
#[derive(Args)]
pub struct MetricsArgs {
    /// Print Markdown (docs/metrics.md is this output).
    #[arg(long)]
    markdown: bool,
}

/// `uptake aggregate`.
pub fn run(args: AggregateArgs) -> anyhow::Result<ExitCode> {
    if let Some(n) = args.threads {
        rayon::ThreadPoolBuilder::new()
            .num_threads(n)
            .build_global()
            .context("cannot set up the worker threads")?;
    }
    let groupings = args
        .by
        .iter()
        .map(|g| g.parse::<Grouping>())
        .collect::<Result<Vec<_>, _>>()?;
    let options = Options {
        scans: args.scans,
        groupings,
    };
    let start = Instant::now();
    let agg = aggregate(&args.dataset, &options)?;
    let written = write_outputs(&agg, &args.dataset, &options, &args.out)?;
    if !args.quiet {
        let rows: u64 = agg.scans.iter().map(|s| s.rows).sum();
        eprintln!(
            "aggregated {rows} rows of {} scan(s) in {:.2}s",
            agg.scans.len(),
            start.elapsed().as_secs_f64()
        );
        for s in &agg.scans {
            eprintln!(
                "  scan {} ({}): {} rows, {} file(s), schema version {}",
                s.id, s.date, s.rows, s.files, s.schema_version
            );
            for (metric, column) in &s.unavailable {
                eprintln!("    {metric} unavailable: no column {column}");
            }
        }
        for path in written {
            eprintln!("  wrote {}", path.display());
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `uptake metrics`.
pub fn list(args: MetricsArgs) -> ExitCode {
    if args.markdown {
        print!("{}", metrics_markdown());
    } else {
        print!("{}", metrics_text());
    }
    ExitCode::SUCCESS
}
