//! Adoption statistics from the scan dataset: per country, per sector, over time.
//!
//! Where it sits: after `uptake-store`. The scan writes one Parquet row per domain per scan;
//! this crate reads those files back (arrow, one rayon task per row group, only the columns the
//! metrics need) and turns them into adoption rates with Wilson 95% intervals, error counts
//! beside them, per scan and per grouping (country, ISIC sector, country x sector,
//! organisation), plus the change between consecutive scans with a two-proportion test. The
//! `uptake aggregate` and `uptake metrics` commands in `uptake-cli` are thin wrappers.
//!
//! - [`metrics`]: the metric declarations (the one place they are defined);
//! - [`cond`]: the condition language they are written in (Rust evaluator, SQL, text);
//! - [`groups`]: country and sector normalisation;
//! - [`engine`]: reading the dataset and counting;
//! - [`stats`]: Wilson intervals and the two-proportion z-test;
//! - [`sql`]: `metrics.sql`, the same metrics as one SQL query;
//! - [`output`]: the CSV, Parquet and JSON files.
//!
//! Bad input gives an [`AggregateError`] naming the file: a file that is not Parquet, files of
//! two schema versions in one scan, a missing or mistyped column, an unknown status word, an
//! empty scan. Scans of different schema versions may be aggregated together: a metric whose
//! columns an older scan lacks is reported as unavailable for that scan, never as zero.

pub mod cond;
pub mod engine;
pub mod groups;
pub mod metrics;
pub mod output;
pub mod sql;
pub mod stats;

use std::path::PathBuf;

pub use engine::{aggregate, AdoptionRow, Aggregate, ChangeRow, Dim, Grouping, Options, ScanInfo};

/// Errors of the aggregator. Each message is one line and names the file or scan.
#[derive(Debug, thiserror::Error)]
pub enum AggregateError {
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
    /// A `.parquet` file that Parquet cannot open.
    #[error("{} is not a readable Parquet file: {reason}", path.display())]
    NotParquet {
        /// The file.
        path: PathBuf,
        /// The decoder's message.
        reason: String,
    },
    /// Decoding or encoding a Parquet file failed.
    #[error("parquet error in {}: {reason}", path.display())]
    Parquet {
        /// The file.
        path: PathBuf,
        /// The cause.
        reason: String,
    },
    /// The file's `uptake.schema_version` is missing or not one this version reads.
    #[error("{} has uptake.schema_version {}; this uptake reads versions 1 to {}", path.display(), found.as_deref().unwrap_or("(none)"), uptake_store::SCHEMA_VERSION)]
    SchemaVersion {
        /// The file.
        path: PathBuf,
        /// The version found.
        found: Option<String>,
    },
    /// Part files of one scan have different schema versions.
    #[error("scan {scan} mixes schema versions {first} and {other} ({}); re-scan or split it", path.display())]
    MixedVersions {
        /// The scan.
        scan: String,
        /// Version of its first file.
        first: u32,
        /// The other version.
        other: u32,
        /// The file with the other version.
        path: PathBuf,
    },
    /// Part files of one scan differ in the columns the metrics read.
    #[error("scan {scan}: {} has other metric columns than the scan's first part file", path.display())]
    InconsistentScan {
        /// The scan.
        scan: String,
        /// The differing file.
        path: PathBuf,
    },
    /// A file's `uptake.scan_id` does not match its `scan=<id>` directory.
    #[error("{} is in scan={scan} but its uptake.scan_id is {}", path.display(), found.as_deref().unwrap_or("(none)"))]
    ScanIdMismatch {
        /// The file.
        path: PathBuf,
        /// The directory's scan id.
        scan: String,
        /// The metadata's scan id.
        found: Option<String>,
    },
    /// A required column is missing.
    #[error("{} has no column {column} ({why})", path.display())]
    MissingColumn {
        /// The file.
        path: PathBuf,
        /// The column.
        column: String,
        /// Why it is required.
        why: String,
    },
    /// A column has another type than the schema's.
    #[error("{}: column {column} is {found}, expected {expected}", path.display())]
    ColumnType {
        /// The file.
        path: PathBuf,
        /// The column.
        column: String,
        /// Its type.
        found: String,
        /// The schema's type.
        expected: &'static str,
    },
    /// A status column holds a word outside the vocabulary.
    #[error("{}: column {column} holds '{word}', which is not a status word", path.display())]
    UnknownStatus {
        /// The file.
        path: PathBuf,
        /// The column.
        column: String,
        /// The word.
        word: String,
    },
    /// The dataset has no scan directories.
    #[error("{} holds no scan=<id> directories", dataset.display())]
    NoScans {
        /// The dataset.
        dataset: PathBuf,
    },
    /// A requested scan does not exist.
    #[error("{} has no scan {scan} (scans: {})", dataset.display(), known.join(", "))]
    NoSuchScan {
        /// The dataset.
        dataset: PathBuf,
        /// The requested scan.
        scan: String,
        /// The scans that exist.
        known: Vec<String>,
    },
    /// A scan without rows: nothing to compute a rate from.
    #[error("scan {scan} is empty ({reason}); leave it out with --scan")]
    EmptyScan {
        /// The scan.
        scan: String,
        /// What is empty.
        reason: String,
    },
    /// A grouping that cannot be parsed.
    #[error("invalid grouping: {0}")]
    Grouping(String),
}
