//! `uptake report`: the static HTML report over the output of `uptake aggregate`.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::Context;
use clap::Args;

/// `uptake report` arguments.
#[derive(Args, Debug)]
pub struct ReportArgs {
    /// Directory written by `uptake aggregate`: adoption.parquet (or adoption.csv) and
    /// adoption.json.
    aggregates: PathBuf,
    /// Where to write index.html and charts/*.svg, charts/*.png (created if needed).
    #[arg(long)]
    out: PathBuf,
    /// Groups with fewer applicable domains are drawn grey and labelled with n instead of a
    /// coloured rate.
    #[arg(long, default_value_t = uptake_report::Options::default().min_n)]
    min_n: u64,
    /// Groups where more than this percentage of the domains could not be measured (errors,
    /// left out of the rate) are drawn grey with the rate marked `*`.
    #[arg(long, value_name = "PERCENT", default_value_t = uptake_report::Options::default().max_error_percent)]
    max_error_percent: u64,
    /// A target list the scans used, with its date, for the provenance section (repeatable),
    /// e.g. --list "gov-nl.csv, Dutch central government, 2026-10-01".
    #[arg(long = "list", value_name = "TEXT")]
    lists: Vec<String>,
}

/// Runs `uptake report`.
pub fn run(args: ReportArgs) -> anyhow::Result<ExitCode> {
    let start = Instant::now();
    let agg = uptake_report::load(&args.aggregates)
        .with_context(|| format!("reading {}", args.aggregates.display()))?;
    let options = uptake_report::Options {
        min_n: args.min_n,
        max_error_percent: args.max_error_percent,
        lists: args.lists,
    };
    let written = uptake_report::render(&agg, &args.out, &options)
        .with_context(|| format!("writing the report to {}", args.out.display()))?;
    eprintln!(
        "report: {} metrics, {} chart files, {} rows read from {}, in {:.1} s",
        written.metrics,
        written.charts.len(),
        agg.rows.len(),
        agg.table_path.display(),
        start.elapsed().as_secs_f64()
    );
    println!("{}", written.index.display());
    Ok(ExitCode::SUCCESS)
}
