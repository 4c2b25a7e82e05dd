//! The report: one static, self-contained `index.html` with charts and tables, and every chart
//! as SVG and PNG for slides.
//!
//! Where it sits: the last stage of the flow. `uptake aggregate` (crate `uptake-aggregate`)
//! writes adoption.csv / adoption.parquet (long form: scan, grouping, group, metric,
//! applicable, adopted, rate, ci_low, ci_high, errors, ...) and adoption.json (metric
//! definitions, scans); this crate reads those files ([`load`]), arranges the rows per metric
//! into charts (bars by country, by sector and by hosting country with Wilson intervals, a
//! country x sector heat map, trend lines over scans), draws them with plotters and writes the page ([`render`]).
//! `uptake report` in `uptake-cli` is the thin wrapper.
//!
//! The report computes no statistic of its own: every number it shows is a value of the
//! adoption table, formatted the same way in charts and tables ([`numbers`]), and every table
//! row names its aggregate row so the page can be checked against the table.

mod draw;
pub use draw::Caution;
mod input;
pub mod numbers;
mod page;
mod view;

use std::fs;
use std::path::{Path, PathBuf};

use rayon::prelude::*;

pub use input::{
    load, read_csv, read_meta, read_parquet, AdoptionRow, Aggregates, Meta, MetricDef, ScanDef,
    REQUIRED_COLUMNS,
};

/// Errors of the report. Each message is one line and names the file.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// A file-system operation failed.
    #[error("cannot {op} {}: {source}", path.display())]
    Io {
        /// What was attempted.
        op: &'static str,
        /// Where.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The directory has neither adoption.parquet nor adoption.csv.
    #[error("{} has neither adoption.parquet nor adoption.csv (write them with uptake aggregate)", dir.display())]
    NoTable {
        /// The directory.
        dir: PathBuf,
    },
    /// The adoption table has no rows.
    #[error("{} has no rows", path.display())]
    EmptyTable {
        /// The file.
        path: PathBuf,
    },
    /// A required column is missing from the adoption table.
    #[error("{} has no column {column} (the report needs {})", path.display(), REQUIRED_COLUMNS.join(", "))]
    MissingColumn {
        /// The file.
        path: PathBuf,
        /// The column.
        column: &'static str,
    },
    /// A Parquet column has another type than the aggregator writes.
    #[error("{}: column {column} is {found}, expected {expected}", path.display())]
    ColumnType {
        /// The file.
        path: PathBuf,
        /// The column.
        column: &'static str,
        /// Its type.
        found: String,
        /// The expected type.
        expected: &'static str,
    },
    /// A value that is not what its column holds.
    #[error("{} line {line}: column {column} holds '{value}'", path.display())]
    BadValue {
        /// The file.
        path: PathBuf,
        /// Line in a CSV file (0 for Parquet).
        line: usize,
        /// The column.
        column: &'static str,
        /// The value.
        value: String,
    },
    /// A CSV file that cannot be read.
    #[error("{}: {reason}", path.display())]
    Csv {
        /// The file.
        path: PathBuf,
        /// The parser's message.
        reason: String,
    },
    /// A Parquet file that cannot be read.
    #[error("{} is not a readable Parquet file: {reason}", path.display())]
    Parquet {
        /// The file.
        path: PathBuf,
        /// The decoder's message.
        reason: String,
    },
    /// adoption.json cannot be read.
    #[error("{}: {reason}", path.display())]
    Json {
        /// The file.
        path: PathBuf,
        /// The parser's message.
        reason: String,
    },
    /// The table names a metric or scan that adoption.json does not declare.
    #[error("the adoption table has {what} '{id}', which {} does not declare", path.display())]
    Undeclared {
        /// The JSON file.
        path: PathBuf,
        /// `metric` or `scan`.
        what: &'static str,
        /// The id.
        id: String,
    },
    /// Drawing a chart failed.
    #[error("cannot draw {file}: {reason}")]
    Chart {
        /// The chart's file.
        file: String,
        /// The backend's message.
        reason: String,
    },
}

/// How to draw.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    /// Groups with fewer applicable domains are drawn grey and labelled with n, not a rate.
    pub min_n: u64,
    /// Groups where more than this percentage of the domains could not be measured are drawn
    /// grey and their rate marked `*`.
    pub max_error_percent: u64,
    /// The target lists the scans used, with their dates, as the provenance section states
    /// them (the aggregates do not record them).
    pub lists: Vec<String>,
}

impl Options {
    /// When charts draw a rate grey.
    pub fn caution(&self) -> Caution {
        Caution {
            min_n: self.min_n,
            max_error_percent: self.max_error_percent,
        }
    }
}

impl Default for Options {
    fn default() -> Self {
        Options {
            min_n: 30,
            max_error_percent: 10,
            lists: vec![],
        }
    }
}

/// What [`render`] wrote.
#[derive(Debug, Clone, PartialEq)]
pub struct Written {
    /// The page.
    pub index: PathBuf,
    /// Every chart file (SVG and PNG).
    pub charts: Vec<PathBuf>,
    /// Metrics in the report.
    pub metrics: usize,
}

fn write(path: &Path, bytes: &[u8]) -> Result<(), ReportError> {
    fs::write(path, bytes).map_err(|source| ReportError::Io {
        op: "write",
        path: path.to_path_buf(),
        source,
    })
}

/// Draws the report into `out`: `index.html` and `charts/<metric>-<chart>.svg|png`.
pub fn render(agg: &Aggregates, out: &Path, options: &Options) -> Result<Written, ReportError> {
    let charts_dir = out.join("charts");
    fs::create_dir_all(&charts_dir).map_err(|source| ReportError::Io {
        op: "create",
        path: charts_dir.clone(),
        source,
    })?;
    let views = view::metric_views(agg);
    let drawn: Vec<Vec<(String, Vec<PathBuf>)>> = views
        .par_iter()
        .map(|v| {
            v.charts
                .par_iter()
                .map(|chart| {
                    let drawing = draw::layout(chart, options.caution())?;
                    let fail = |reason: String| ReportError::Chart {
                        file: chart.file.clone(),
                        reason,
                    };
                    let svg = drawing.svg().map_err(fail)?;
                    let svg_path = charts_dir.join(format!("{}.svg", chart.file));
                    write(&svg_path, svg.as_bytes())?;
                    let png_path = charts_dir.join(format!("{}.png", chart.file));
                    drawing.png(&png_path).map_err(fail)?;
                    Ok((
                        page::inline_svg(&svg, &chart.title),
                        vec![svg_path, png_path],
                    ))
                })
                .collect::<Result<Vec<_>, ReportError>>()
        })
        .collect::<Result<_, _>>()?;
    let mut svgs = vec![];
    let mut charts = vec![];
    for metric in drawn {
        let mut inline = vec![];
        for (svg, files) in metric {
            inline.push(svg);
            charts.extend(files);
        }
        svgs.push(inline);
    }
    let html = page::index_html(agg, &views, &svgs, options);
    let index = out.join("index.html");
    write(&index, html.as_bytes())?;
    Ok(Written {
        index,
        charts,
        metrics: views.len(),
    })
}
