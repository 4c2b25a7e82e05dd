//! Parquet dataset writer and reader: where scan results land on disk.
//!
//! Where it sits: the scan engine (`uptake-scan`) streams one [`ScanRow`] per target into a
//! [`DatasetWriter`], which buffers rows into Arrow record batches and writes them as Parquet
//! part files under `DATASET/scan=<scan_id>/part-<shard>-<seq>.parquet`. Analysts (pyarrow,
//! DuckDB) and the aggregator read those files back; [`read_rows`] and [`committed_domains`]
//! are the Rust side of that, the latter used by `--resume` to skip what is already on disk.
//!
//! The schema is not declared here: [`arrow_schema`] derives it from
//! [`uptake_model::row::COLUMNS`], and [`schema_markdown`] / [`schema_text`] print the same
//! definitions for docs/schema.md and `uptake schema`.
//!
//! Atomicity: a part is written to `.part-<shard>-<seq>.parquet.tmp`, fsynced after its footer
//! and renamed to its final name (then the directory is fsynced), so every `part-*.parquet`
//! file is complete. A crash loses at most the open part; the next [`DatasetWriter::create`]
//! for the same shard deletes the stale temporary file and continues with a new sequence
//! number.

use std::collections::{BTreeMap, HashSet};
use std::fmt::Write as _;
use std::fs::{self, File};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow_array::builder::{
    BooleanBuilder, Int32Builder, Int64Builder, ListBuilder, StringBuilder,
    TimestampMicrosecondBuilder,
};
use arrow_array::{Array, ArrayRef, DictionaryArray, RecordBatch, StringArray};
use arrow_schema::{ArrowError, DataType, Field, Schema, SchemaRef, TimeUnit};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::arrow::{ArrowWriter, ProjectionMask};
use parquet::basic::{Compression, ZstdLevel};
use parquet::errors::ParquetError;
use parquet::file::metadata::KeyValue;
use parquet::file::properties::{EnabledStatistics, WriterProperties};
use uptake_model::row::{Kind, ScanRow, Value, COLUMNS, EXTRA_AFTER};
use uptake_model::Status;

/// Version of the dataset schema, stored as `uptake.schema_version`.
pub const SCHEMA_VERSION: &str = "4";
/// Metadata key: version of the dataset schema.
pub const META_SCHEMA_VERSION: &str = "uptake.schema_version";
/// Metadata key: version of uptake that wrote the file.
pub const META_VERSION: &str = "uptake.version";
/// Metadata key: the scan id.
pub const META_SCAN_ID: &str = "uptake.scan_id";
/// Field metadata key holding a column's meaning.
pub const FIELD_DOC: &str = "doc";
/// Maximum rows per Parquet row group.
pub const ROW_GROUP_ROWS: usize = 128 * 1024;
/// Default bound on a row group's encoded size in memory. The Parquet writer keeps a row
/// group's pages and every column's dictionary in memory until the group ends; with wide rows
/// of record texts 128K rows took over 200 MB, so a group also ends here (32 MiB).
pub const ROW_GROUP_BYTES: usize = 32 * 1024 * 1024;
/// Zstd compression level of the part files.
pub const ZSTD_LEVEL: i32 = 1;

/// Errors of the dataset writer and reader. Each message is one line and names the path.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A file-system operation failed.
    #[error("cannot {op} {}: {source}", path.display())]
    Io {
        /// What was attempted (`create`, `rename`, ...).
        op: &'static str,
        /// The path it was attempted on.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The Parquet library failed to encode or decode a file.
    #[error("parquet error in {}: {}", path.display(), one_line(source))]
    Parquet {
        /// The part file.
        path: PathBuf,
        /// The cause.
        source: ParquetError,
    },
    /// Arrow failed to build or decode a record batch.
    #[error("arrow error in {}: {}", path.display(), one_line(source))]
    Arrow {
        /// The part file.
        path: PathBuf,
        /// The cause.
        source: ArrowError,
    },
    /// A scan id, shard or extra column name that cannot be used.
    #[error("invalid {what} '{value}' for dataset {}: {reason}", path.display())]
    InvalidName {
        /// `scan id`, `shard` or `extra column`.
        what: &'static str,
        /// The offending value.
        value: String,
        /// Why.
        reason: &'static str,
        /// The dataset directory.
        path: PathBuf,
    },
    /// A row does not fit the writer's schema.
    #[error("row for '{domain}' does not fit the schema of {}: {reason}", path.display())]
    RowMismatch {
        /// The row's domain.
        domain: String,
        /// Why.
        reason: String,
        /// The part being written.
        path: PathBuf,
    },
    /// The final name of a part already exists (two writers on the same shard?).
    #[error("part {} already exists; is another writer running on the same shard?", path.display())]
    PartExists {
        /// The part file.
        path: PathBuf,
    },
    /// A file read back does not have the expected columns.
    #[error("unexpected schema in {}: {reason}", path.display())]
    Schema {
        /// The part file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// An earlier error left the writer unusable; drop it and create a new one.
    #[error("writer for {} failed earlier and cannot continue", path.display())]
    Poisoned {
        /// The scan directory.
        path: PathBuf,
    },
}

fn one_line(e: &dyn std::fmt::Display) -> String {
    e.to_string()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

fn io_err<'a>(op: &'static str, path: &'a Path) -> impl FnOnce(std::io::Error) -> StoreError + 'a {
    move |source| StoreError::Io {
        op,
        path: path.to_path_buf(),
        source,
    }
}

fn pq_err(path: &Path) -> impl FnOnce(ParquetError) -> StoreError + '_ {
    move |source| StoreError::Parquet {
        path: path.to_path_buf(),
        source,
    }
}

fn arrow_err(path: &Path) -> impl FnOnce(ArrowError) -> StoreError + '_ {
    move |source| StoreError::Arrow {
        path: path.to_path_buf(),
        source,
    }
}

// ---------------------------------------------------------------------------------------------
// Schema
// ---------------------------------------------------------------------------------------------

fn list_item(data_type: DataType) -> Arc<Field> {
    Arc::new(Field::new_list_field(data_type, false))
}

fn data_type(kind: Kind) -> DataType {
    match kind {
        Kind::Str => DataType::Utf8,
        Kind::Status => DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Utf8)),
        Kind::Int => DataType::Int64,
        Kind::Bool => DataType::Boolean,
        Kind::StrList => DataType::List(list_item(DataType::Utf8)),
        Kind::IntList => DataType::List(list_item(DataType::Int64)),
        Kind::Timestamp => DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
    }
}

fn nullable(kind: Kind) -> bool {
    matches!(kind, Kind::Str | Kind::Int | Kind::Bool | Kind::Status)
}

fn field(name: &str, kind: Kind, doc: &str) -> Field {
    Field::new(name, data_type(kind), nullable(kind)).with_metadata([(FIELD_DOC, doc)])
}

const EXTRA_DOC: &str = "Column of the input list, passed through unchanged.";

/// Index in [`COLUMNS`] of the column after which extra input columns are placed.
fn extra_after_index() -> usize {
    COLUMNS
        .iter()
        .position(|c| c.name == EXTRA_AFTER)
        .unwrap_or(COLUMNS.len() - 1)
}

/// The Arrow schema of a scan's part files: [`COLUMNS`] in order, with `extra_columns` (nullable
/// strings) right after [`EXTRA_AFTER`]. Each field carries its meaning as metadata `doc`.
pub fn arrow_schema(extra_columns: &[String]) -> SchemaRef {
    let after = extra_after_index();
    let mut fields = Vec::with_capacity(COLUMNS.len() + extra_columns.len());
    for (i, c) in COLUMNS.iter().enumerate() {
        fields.push(field(c.name, c.kind, c.doc));
        if i == after {
            fields.extend(
                extra_columns
                    .iter()
                    .map(|name| field(name, Kind::Str, EXTRA_DOC)),
            );
        }
    }
    Arc::new(Schema::new(fields))
}

// ---------------------------------------------------------------------------------------------
// Column builders
// ---------------------------------------------------------------------------------------------

/// The fixed dictionary of status columns: every status word, key = position in `Status::ALL`.
fn status_values() -> ArrayRef {
    Arc::new(StringArray::from_iter_values(
        Status::ALL.iter().map(|s| s.as_str()),
    ))
}

fn status_key(s: Status) -> i32 {
    // `Status::ALL` lists the variants in declaration order (a test checks it).
    s as i32
}

enum ColumnBuilder {
    Str(StringBuilder),
    Status(Int32Builder),
    Int(Int64Builder),
    Bool(BooleanBuilder),
    StrList(ListBuilder<StringBuilder>),
    IntList(ListBuilder<Int64Builder>),
    Timestamp(TimestampMicrosecondBuilder),
}

impl ColumnBuilder {
    fn new(kind: Kind, capacity: usize) -> Self {
        match kind {
            Kind::Str => ColumnBuilder::Str(StringBuilder::with_capacity(capacity, capacity * 16)),
            Kind::Status => ColumnBuilder::Status(Int32Builder::with_capacity(capacity)),
            Kind::Int => ColumnBuilder::Int(Int64Builder::with_capacity(capacity)),
            Kind::Bool => ColumnBuilder::Bool(BooleanBuilder::with_capacity(capacity)),
            Kind::StrList => ColumnBuilder::StrList(
                ListBuilder::with_capacity(StringBuilder::new(), capacity)
                    .with_field(list_item(DataType::Utf8)),
            ),
            Kind::IntList => ColumnBuilder::IntList(
                ListBuilder::with_capacity(Int64Builder::new(), capacity)
                    .with_field(list_item(DataType::Int64)),
            ),
            Kind::Timestamp => ColumnBuilder::Timestamp(
                TimestampMicrosecondBuilder::with_capacity(capacity).with_timezone("UTC"),
            ),
        }
    }

    /// Appends a value of the builder's kind (the caller checked the kinds).
    fn append(&mut self, value: &Value<'_>) {
        match (self, value) {
            (ColumnBuilder::Str(b), Value::Str(v)) => b.append_option(*v),
            (ColumnBuilder::Status(b), Value::Status(s)) => b.append_option(s.map(status_key)),
            (ColumnBuilder::Int(b), Value::Int(v)) => b.append_option(*v),
            (ColumnBuilder::Bool(b), Value::Bool(v)) => b.append_option(*v),
            (ColumnBuilder::StrList(b), Value::StrList(items)) => {
                for item in *items {
                    b.values().append_value(item);
                }
                b.append(true);
            }
            (ColumnBuilder::IntList(b), Value::IntList(items)) => {
                b.values().append_slice(items);
                b.append(true);
            }
            (ColumnBuilder::Timestamp(b), Value::Timestamp(t)) => b.append_value(*t),
            _ => debug_assert!(false, "value kind checked before append"),
        }
    }

    fn finish(&mut self, path: &Path) -> Result<ArrayRef, StoreError> {
        Ok(match self {
            ColumnBuilder::Str(b) => Arc::new(b.finish()),
            ColumnBuilder::Status(b) => {
                let keys = b.finish();
                Arc::new(DictionaryArray::try_new(keys, status_values()).map_err(arrow_err(path))?)
            }
            ColumnBuilder::Int(b) => Arc::new(b.finish()),
            ColumnBuilder::Bool(b) => Arc::new(b.finish()),
            ColumnBuilder::StrList(b) => Arc::new(b.finish()),
            ColumnBuilder::IntList(b) => Arc::new(b.finish()),
            ColumnBuilder::Timestamp(b) => Arc::new(b.finish()),
        })
    }
}

// ---------------------------------------------------------------------------------------------
// Writer
// ---------------------------------------------------------------------------------------------

/// Tuning and metadata of a [`DatasetWriter`].
#[derive(Debug, Clone)]
pub struct WriterOptions {
    /// Rows buffered before a record batch is encoded (default 8192).
    pub batch_rows: usize,
    /// Rows per part file before the writer rolls to a new part (default 1,000,000).
    pub rows_per_part: usize,
    /// Encoded bytes a row group may hold in memory before it is written out (default
    /// [`ROW_GROUP_BYTES`]); a row group also ends at [`ROW_GROUP_ROWS`] rows.
    pub row_group_bytes: usize,
    /// Extra file key-value metadata, e.g. `("uptake.config_hash", ...)`.
    pub key_value_metadata: Vec<(String, String)>,
}

impl Default for WriterOptions {
    fn default() -> Self {
        WriterOptions {
            batch_rows: 8192,
            rows_per_part: 1_000_000,
            row_group_bytes: ROW_GROUP_BYTES,
            key_value_metadata: vec![],
        }
    }
}

/// What a finished [`DatasetWriter`] committed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WriteSummary {
    /// The committed part files, in the order written.
    pub parts: Vec<PathBuf>,
    /// Rows in them.
    pub rows: u64,
}

struct OpenPart {
    tmp: PathBuf,
    path: PathBuf,
    writer: ArrowWriter<File>,
    rows: usize,
}

/// Writes one shard of one scan as Parquet parts in `DATASET/scan=<scan_id>/`.
///
/// One writer per (scan, shard) at a time. Rows are buffered and encoded every
/// `batch_rows`; a part is committed (renamed from its temporary name) every `rows_per_part`
/// rows and at [`finish`](Self::finish). Dropping the writer without `finish` leaves the open
/// part as a temporary file, which the next `create` for the shard deletes.
pub struct DatasetWriter {
    dir: PathBuf,
    shard: String,
    schema: SchemaRef,
    props: WriterProperties,
    batch_rows: usize,
    rows_per_part: usize,
    row_group_bytes: usize,
    extra_after: usize,
    n_extra: usize,
    builders: Vec<ColumnBuilder>,
    buffered: usize,
    next_seq: u64,
    open: Option<OpenPart>,
    parts: Vec<PathBuf>,
    rows: u64,
    poisoned: bool,
}

impl std::fmt::Debug for DatasetWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DatasetWriter")
            .field("dir", &self.dir)
            .field("shard", &self.shard)
            .field("next_seq", &self.next_seq)
            .field("buffered", &self.buffered)
            .field("rows", &self.rows)
            .field("parts", &self.parts)
            .finish_non_exhaustive()
    }
}

fn check_name(what: &'static str, value: &str, dataset: &Path) -> Result<(), StoreError> {
    let reason = if value.is_empty() {
        Some("empty")
    } else if value.starts_with('.') {
        Some("starts with '.'")
    } else if value
        .chars()
        .any(|c| c == '/' || c == '\\' || c.is_control())
    {
        Some("contains '/', '\\' or a control character")
    } else {
        None
    };
    match reason {
        Some(reason) => Err(StoreError::InvalidName {
            what,
            value: value.to_string(),
            reason,
            path: dataset.to_path_buf(),
        }),
        None => Ok(()),
    }
}

/// The directory of one scan in a dataset: `DATASET/scan=<scan_id>`.
pub fn scan_dir(dataset: &Path, scan_id: &str) -> PathBuf {
    dataset.join(format!("scan={scan_id}"))
}

/// If `name` is `<prefix><digits><suffix>`, the number.
fn seq_of(name: &str, prefix: &str, suffix: &str) -> Option<u64> {
    let digits = name.strip_prefix(prefix)?.strip_suffix(suffix)?;
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// Whether a file name is a committed part (of any shard).
fn is_part_name(name: &str) -> bool {
    name.starts_with("part-") && name.ends_with(".parquet")
}

fn sync_dir(dir: &Path) -> Result<(), StoreError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io_err("fsync directory", dir))
}

impl DatasetWriter {
    /// Prepares `DATASET/scan=<scan_id>/` for writing parts of `shard` (e.g. `0of1`).
    ///
    /// Creates the directories, deletes this shard's temporary files left by a crash and
    /// continues the part numbering after the shard's committed parts. `extra_columns` are the
    /// input list's other columns, written after `scanned_at` from [`ScanRow::extra`].
    pub fn create(
        dataset: &Path,
        scan_id: &str,
        shard: &str,
        extra_columns: Vec<String>,
        options: WriterOptions,
    ) -> Result<DatasetWriter, StoreError> {
        check_name("scan id", scan_id, dataset)?;
        check_name("shard", shard, dataset)?;
        let mut seen: HashSet<&str> = COLUMNS.iter().map(|c| c.name).collect();
        for name in &extra_columns {
            let reason = if name.is_empty() {
                Some("empty")
            } else if !seen.insert(name) {
                Some("duplicates another column")
            } else {
                None
            };
            if let Some(reason) = reason {
                return Err(StoreError::InvalidName {
                    what: "extra column",
                    value: name.clone(),
                    reason,
                    path: dataset.to_path_buf(),
                });
            }
        }

        let dir = scan_dir(dataset, scan_id);
        fs::create_dir_all(&dir).map_err(io_err("create directory", &dir))?;

        let part_prefix = format!("part-{shard}-");
        let tmp_prefix = format!(".part-{shard}-");
        let mut next_seq = 0;
        let mut removed = false;
        for entry in fs::read_dir(&dir).map_err(io_err("list", &dir))? {
            let entry = entry.map_err(io_err("list", &dir))?;
            let name = entry.file_name();
            let Some(name) = name.to_str() else { continue };
            if let Some(seq) = seq_of(name, &part_prefix, ".parquet") {
                next_seq = next_seq.max(seq + 1);
            } else if seq_of(name, &tmp_prefix, ".parquet.tmp").is_some() {
                let path = entry.path();
                fs::remove_file(&path).map_err(io_err("remove stale", &path))?;
                removed = true;
            }
        }
        if removed {
            sync_dir(&dir)?;
        }

        let mut kv = vec![
            KeyValue::new(META_SCHEMA_VERSION.to_string(), SCHEMA_VERSION.to_string()),
            KeyValue::new(
                META_VERSION.to_string(),
                env!("CARGO_PKG_VERSION").to_string(),
            ),
            KeyValue::new(META_SCAN_ID.to_string(), scan_id.to_string()),
        ];
        kv.extend(
            options
                .key_value_metadata
                .iter()
                .map(|(k, v)| KeyValue::new(k.clone(), v.clone())),
        );
        let zstd = ZstdLevel::try_new(ZSTD_LEVEL).map_err(pq_err(&dir))?;
        let props = WriterProperties::builder()
            .set_compression(Compression::ZSTD(zstd))
            .set_dictionary_enabled(true)
            .set_statistics_enabled(EnabledStatistics::Page)
            .set_max_row_group_row_count(Some(ROW_GROUP_ROWS))
            .set_key_value_metadata(Some(kv))
            .build();

        let batch_rows = options.batch_rows.max(1);
        let schema = arrow_schema(&extra_columns);
        let builders = kinds(extra_columns.len())
            .into_iter()
            .map(|k| ColumnBuilder::new(k, batch_rows))
            .collect();
        Ok(DatasetWriter {
            dir,
            shard: shard.to_string(),
            schema,
            props,
            batch_rows,
            rows_per_part: options.rows_per_part.max(1),
            row_group_bytes: options.row_group_bytes.max(1),
            extra_after: extra_after_index(),
            n_extra: extra_columns.len(),
            builders,
            buffered: 0,
            next_seq,
            open: None,
            parts: vec![],
            rows: 0,
            poisoned: false,
        })
    }

    /// The scan directory the parts go to.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Rows accepted so far (committed or not).
    pub fn rows(&self) -> u64 {
        self.rows
    }

    /// Buffers one row; encodes a batch every `batch_rows` rows and commits the part every
    /// `rows_per_part` rows.
    pub fn write(&mut self, row: &ScanRow) -> Result<(), StoreError> {
        if self.poisoned {
            return Err(StoreError::Poisoned {
                path: self.dir.clone(),
            });
        }
        let values = row.values();
        let mismatch = if row.extra.len() != self.n_extra {
            Some(format!(
                "{} extra values, expected {}",
                row.extra.len(),
                self.n_extra
            ))
        } else if values.len() != COLUMNS.len() {
            Some(format!(
                "{} values, expected {}",
                values.len(),
                COLUMNS.len()
            ))
        } else {
            COLUMNS
                .iter()
                .zip(&values)
                .find(|(c, v)| v.kind() != c.kind)
                .map(|(c, v)| format!("column {} is {:?}, value is {:?}", c.name, c.kind, v.kind()))
        };
        if let Some(reason) = mismatch {
            return Err(StoreError::RowMismatch {
                domain: row.domain.clone(),
                reason,
                path: self.dir.clone(),
            });
        }
        if self.open.is_none() {
            self.guard(Self::open_part)?;
        }

        for (i, value) in values.iter().enumerate() {
            let at = if i <= self.extra_after {
                i
            } else {
                i + self.n_extra
            };
            self.builders[at].append(value);
        }
        for (j, extra) in row.extra.iter().enumerate() {
            self.builders[self.extra_after + 1 + j].append(&Value::Str(extra.as_deref()));
        }
        self.buffered += 1;
        self.rows += 1;
        let part_rows = match &mut self.open {
            Some(open) => {
                open.rows += 1;
                open.rows
            }
            None => 0,
        };

        if self.buffered >= self.batch_rows {
            self.guard(Self::flush_batch)?;
        }
        if part_rows >= self.rows_per_part {
            self.guard(Self::commit_part)?;
        }
        Ok(())
    }

    /// Commits the open part now (encodes the buffered rows, fsyncs, renames); the next row
    /// opens a new part. Nothing happens when no part is open. The scan engine calls this on a
    /// timer so that a crash loses only the last few seconds of work.
    pub fn commit(&mut self) -> Result<(), StoreError> {
        if self.poisoned {
            return Err(StoreError::Poisoned {
                path: self.dir.clone(),
            });
        }
        if self.open.is_none() {
            return Ok(());
        }
        self.guard(Self::commit_part)
    }

    /// Rows in committed parts of this writer.
    pub fn committed_rows(&self) -> u64 {
        self.rows - self.open.as_ref().map_or(0, |o| o.rows as u64)
    }

    /// Encodes the buffered rows and commits the open part; returns what was committed by this
    /// writer. A writer that received no rows commits nothing.
    pub fn finish(mut self) -> Result<WriteSummary, StoreError> {
        if self.poisoned {
            return Err(StoreError::Poisoned {
                path: self.dir.clone(),
            });
        }
        if self.open.is_some() {
            self.flush_batch()?;
            self.commit_part()?;
        }
        Ok(WriteSummary {
            parts: self.parts,
            rows: self.rows,
        })
    }

    /// Runs a step that writes to disk; a failure poisons the writer.
    fn guard(&mut self, step: fn(&mut Self) -> Result<(), StoreError>) -> Result<(), StoreError> {
        let result = step(self);
        if result.is_err() {
            self.poisoned = true;
        }
        result
    }

    fn open_part(&mut self) -> Result<(), StoreError> {
        let seq = self.next_seq;
        self.next_seq += 1;
        let name = format!("part-{}-{seq:05}.parquet", self.shard);
        let path = self.dir.join(&name);
        let tmp = self.dir.join(format!(".{name}.tmp"));
        if path.exists() {
            return Err(StoreError::PartExists { path });
        }
        let file = File::options()
            .write(true)
            .create_new(true)
            .open(&tmp)
            .map_err(io_err("create", &tmp))?;
        let writer = ArrowWriter::try_new(file, self.schema.clone(), Some(self.props.clone()))
            .map_err(pq_err(&tmp))?;
        self.open = Some(OpenPart {
            tmp,
            path,
            writer,
            rows: 0,
        });
        Ok(())
    }

    fn flush_batch(&mut self) -> Result<(), StoreError> {
        if self.buffered == 0 {
            return Ok(());
        }
        let Some(open) = &mut self.open else {
            return Ok(());
        };
        let columns = self
            .builders
            .iter_mut()
            .map(|b| b.finish(&open.tmp))
            .collect::<Result<Vec<_>, _>>()?;
        self.buffered = 0;
        let batch =
            RecordBatch::try_new(self.schema.clone(), columns).map_err(arrow_err(&open.tmp))?;
        open.writer.write(&batch).map_err(pq_err(&open.tmp))?;
        if open.writer.in_progress_size() >= self.row_group_bytes {
            open.writer.flush().map_err(pq_err(&open.tmp))?;
        }
        Ok(())
    }

    fn commit_part(&mut self) -> Result<(), StoreError> {
        self.flush_batch()?;
        let Some(open) = self.open.take() else {
            return Ok(());
        };
        // Writes the footer and flushes the buffer.
        let file = open.writer.into_inner().map_err(pq_err(&open.tmp))?;
        file.sync_all().map_err(io_err("fsync", &open.tmp))?;
        drop(file);
        if open.path.exists() {
            return Err(StoreError::PartExists { path: open.path });
        }
        fs::rename(&open.tmp, &open.path).map_err(io_err("rename", &open.tmp))?;
        sync_dir(&self.dir)?;
        self.parts.push(open.path);
        Ok(())
    }
}

/// Column kinds in schema order for `n_extra` extra columns.
fn kinds(n_extra: usize) -> Vec<Kind> {
    let after = extra_after_index();
    let mut kinds = Vec::with_capacity(COLUMNS.len() + n_extra);
    for (i, c) in COLUMNS.iter().enumerate() {
        kinds.push(c.kind);
        if i == after {
            kinds.extend(std::iter::repeat_n(Kind::Str, n_extra));
        }
    }
    kinds
}

// ---------------------------------------------------------------------------------------------
// Reader
// ---------------------------------------------------------------------------------------------

/// Committed part files under `dir`, recursively, sorted by path.
fn part_files(dir: &Path, out: &mut Vec<PathBuf>) -> Result<(), StoreError> {
    for entry in fs::read_dir(dir).map_err(io_err("list", dir))? {
        let entry = entry.map_err(io_err("list", dir))?;
        let path = entry.path();
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name.starts_with('.') || name.starts_with('_') {
            continue;
        }
        let file_type = entry.file_type().map_err(io_err("stat", &path))?;
        if file_type.is_dir() {
            part_files(&path, out)?;
        } else if name.ends_with(".parquet") {
            out.push(path);
        }
    }
    out.sort();
    Ok(())
}

fn read_file(path: &Path, columns: Option<&[&str]>) -> Result<Vec<RecordBatch>, StoreError> {
    let file = File::open(path).map_err(io_err("open", path))?;
    let mut builder = ParquetRecordBatchReaderBuilder::try_new(file).map_err(pq_err(path))?;
    if let Some(columns) = columns {
        let mut roots = Vec::with_capacity(columns.len());
        for name in columns {
            let idx = builder
                .schema()
                .index_of(name)
                .map_err(|_| StoreError::Schema {
                    path: path.to_path_buf(),
                    reason: format!("no column '{name}'"),
                })?;
            roots.push(idx);
        }
        let mask = ProjectionMask::roots(builder.parquet_schema(), roots);
        builder = builder.with_projection(mask);
    }
    let reader = builder.build().map_err(pq_err(path))?;
    reader.map(|b| b.map_err(arrow_err(path))).collect()
}

/// Reads a part file, or every committed part under a directory (a scan directory or a whole
/// dataset, recursively, in path order; temporary and hidden files are skipped).
pub fn read_rows(path: &Path) -> Result<Vec<RecordBatch>, StoreError> {
    let meta = fs::metadata(path).map_err(io_err("read", path))?;
    if !meta.is_dir() {
        return read_file(path, None);
    }
    let mut files = vec![];
    part_files(path, &mut files)?;
    let mut batches = vec![];
    for file in files {
        batches.extend(read_file(&file, None)?);
    }
    Ok(batches)
}

/// The `domain` of every row in the committed parts of a scan (all shards); empty when the
/// scan has no directory yet. Temporary files of an interrupted writer are not read.
pub fn committed_domains(dataset: &Path, scan_id: &str) -> Result<HashSet<String>, StoreError> {
    committed_domains_of(dataset, scan_id, None)
}

/// Like [`committed_domains`], limited to the parts of one shard (`part-<shard>-*.parquet`)
/// when `shard` is given.
pub fn committed_domains_of(
    dataset: &Path,
    scan_id: &str,
    shard: Option<&str>,
) -> Result<HashSet<String>, StoreError> {
    let dir = scan_dir(dataset, scan_id);
    let prefix = shard.map(|s| format!("part-{s}-"));
    let entries = match fs::read_dir(&dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(HashSet::new()),
        Err(e) => return Err(io_err("list", &dir)(e)),
    };
    let mut files = vec![];
    for entry in entries {
        let entry = entry.map_err(io_err("list", &dir))?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        if is_part_name(name) && prefix.as_deref().is_none_or(|p| name.starts_with(p)) {
            files.push(entry.path());
        }
    }
    files.sort();
    let mut domains = HashSet::new();
    for file in files {
        for batch in read_file(&file, Some(&["domain"]))? {
            let column = batch.column(0);
            let strings = column
                .as_any()
                .downcast_ref::<StringArray>()
                .ok_or_else(|| StoreError::Schema {
                    path: file.clone(),
                    reason: format!("column 'domain' is {}, expected Utf8", column.data_type()),
                })?;
            domains.extend(strings.iter().flatten().map(str::to_string));
        }
    }
    Ok(domains)
}

/// The file key-value metadata of a part (including `ARROW:schema`).
pub fn read_key_value_metadata(path: &Path) -> Result<BTreeMap<String, String>, StoreError> {
    let file = File::open(path).map_err(io_err("open", path))?;
    let builder = ParquetRecordBatchReaderBuilder::try_new(file).map_err(pq_err(path))?;
    let kv = builder.metadata().file_metadata().key_value_metadata();
    Ok(kv
        .into_iter()
        .flatten()
        .map(|kv| (kv.key.clone(), kv.value.clone().unwrap_or_default()))
        .collect())
}

// ---------------------------------------------------------------------------------------------
// Schema documentation
// ---------------------------------------------------------------------------------------------

/// Escapes Markdown inline syntax (and table pipes) in plain text.
fn md_escape(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    for (i, &c) in chars.iter().enumerate() {
        let intraword = || {
            let alnum = |j: Option<usize>| {
                j.and_then(|j| chars.get(j))
                    .is_some_and(|c| c.is_alphanumeric())
            };
            alnum(i.checked_sub(1)) && alnum(Some(i + 1))
        };
        let special = match c {
            '\\' | '`' | '*' | '<' | '>' | '|' | '[' | ']' => true,
            '_' => !intraword(),
            _ => false,
        };
        if special {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// A column name as inline code in a table cell.
fn md_code(name: &str) -> String {
    if name.contains('`') {
        md_escape(name)
    } else {
        format!("`{}`", name.replace('|', "\\|"))
    }
}

/// The columns to document: (name, type, meaning) in schema order; with no extra columns a
/// placeholder row stands for them.
fn doc_rows(extra: &[String], placeholder: &str) -> Vec<(String, &'static str, String, bool)> {
    let after = extra_after_index();
    let mut rows = vec![];
    for (i, c) in COLUMNS.iter().enumerate() {
        rows.push((
            c.name.to_string(),
            c.kind.type_name(),
            c.doc.to_string(),
            false,
        ));
        if i == after {
            if extra.is_empty() {
                rows.push((
                    placeholder.to_string(),
                    Kind::Str.type_name(),
                    "Other columns of the input list (besides domain, country, sector and \
                     organisation), under their own names and in input order; null when empty."
                        .to_string(),
                    true,
                ));
            } else {
                for name in extra {
                    rows.push((
                        name.clone(),
                        Kind::Str.type_name(),
                        EXTRA_DOC.to_string(),
                        false,
                    ));
                }
            }
        }
    }
    rows
}

/// The dataset documentation as Markdown (docs/schema.md is `schema_markdown(&[])`):
/// the layout of a dataset and a table of every column with its type and meaning.
/// `extra_example` lists input columns to show in place of the generic placeholder row.
pub fn schema_markdown(extra_example: &[String]) -> String {
    let mut md = String::new();
    let _ = write!(
        md,
        "# uptake dataset schema\n\
         \n\
         Generated from the column definitions in `crates/model/src/row.rs` by \
         `uptake_store::schema_markdown` (also printed by `uptake schema`); a test keeps this \
         file in step with the code.\n\
         \n\
         ## Layout\n\
         \n\
         One row per target per scan, in Parquet files laid out as Hive-style partitions:\n\
         \n\
         ```text\n\
         DATASET/\n  scan=<scan_id>/\n    part-<shard>-<seq>.parquet\n\
         ```\n\
         \n\
         - `<shard>` is the shard that wrote the part (`0of1` for an unsharded scan) and `<seq>` \
         numbers that shard's parts (`00000`, `00001`, ...). A resumed scan adds parts with \
         new numbers.\n\
         - A part is written as `.part-<shard>-<seq>.parquet.tmp` and renamed when complete, so \
         every `part-*.parquet` file is whole. A crash loses at most the open part.\n\
         - Compression zstd (level {ZSTD_LEVEL}), dictionary encoding, page statistics, row \
         groups of at most {ROW_GROUP_ROWS} rows. The Arrow schema is stored in each file, so \
         pyarrow and DuckDB see status columns as dictionary strings and `scanned_at` as a UTC \
         timestamp.\n\
         - Each column's meaning is also stored as Arrow field metadata `{FIELD_DOC}`.\n\
         - File key-value metadata:\n  \
         - `{META_SCHEMA_VERSION}`: version of this schema (currently {SCHEMA_VERSION});\n  \
         - `{META_VERSION}`: version of uptake that wrote the file;\n  \
         - `{META_SCAN_ID}`: the scan id;\n  \
         - further `uptake.*` keys set by the scan, such as the hash of its configuration.\n\
         \n\
         Strings, integers and booleans are null when not measured or not applicable. Status, \
         timestamp and list columns are never null; an empty list means none. A status column \
         holds one word of the closed vocabulary of CHECKS.md; `error` means the check could not \
         measure, and the matching `_reason` column says why.\n\
         \n\
         Reading, for example: DuckDB `SELECT * FROM 'DATASET/scan=ID/part-*.parquet'`; \
         pyarrow `pyarrow.parquet.read_table('DATASET/scan=ID')`.\n\
         \n\
         ## Columns\n\
         \n\
         | column | type | meaning |\n\
         | --- | --- | --- |\n"
    );
    for (name, ty, doc, placeholder) in doc_rows(extra_example, "(input columns)") {
        let name = if placeholder {
            format!("*{}*", md_escape(&name))
        } else {
            md_code(&name)
        };
        let _ = writeln!(md, "| {name} | `{ty}` | {} |", md_escape(&doc));
    }
    md
}

/// The schema for a terminal (`uptake schema`): a short layout note, then one aligned line per
/// column with name, type and meaning.
pub fn schema_text() -> String {
    let rows = doc_rows(&[], "<input columns>");
    let name_w = rows
        .iter()
        .map(|r| r.0.len())
        .max()
        .unwrap_or(0)
        .max("column".len());
    let type_w = rows
        .iter()
        .map(|r| r.1.len())
        .max()
        .unwrap_or(0)
        .max("type".len());
    let mut out = String::new();
    let _ = writeln!(
        out,
        "uptake dataset schema {SCHEMA_VERSION}: one row per target per scan"
    );
    let _ = writeln!(
        out,
        "files: DATASET/scan=<scan_id>/part-<shard>-<seq>.parquet (zstd; metadata \
         {META_SCHEMA_VERSION}, {META_VERSION}, {META_SCAN_ID})"
    );
    let _ = writeln!(out);
    let _ = writeln!(out, "{:name_w$}  {:type_w$}  meaning", "column", "type");
    for (name, ty, doc, _) in rows {
        let _ = writeln!(out, "{name:name_w$}  {ty:type_w$}  {doc}");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_keys_index_status_all() {
        for (i, s) in Status::ALL.iter().enumerate() {
            assert_eq!(status_key(*s), i as i32, "{s}");
        }
    }

    #[test]
    fn schema_follows_columns() {
        let extra = vec!["rank".to_string(), "source".to_string()];
        let schema = arrow_schema(&extra);
        assert_eq!(schema.fields().len(), COLUMNS.len() + 2);
        let after = extra_after_index();
        assert_eq!(COLUMNS[after].name, EXTRA_AFTER);
        assert_eq!(schema.field(after + 1).name(), "rank");
        assert_eq!(schema.field(after + 2).name(), "source");
        assert_eq!(schema.field(after + 3).name(), COLUMNS[after + 1].name);
        for c in COLUMNS {
            let f = schema.field_with_name(c.name).unwrap();
            assert_eq!(f.metadata().get(FIELD_DOC).map(String::as_str), Some(c.doc));
        }
        assert_eq!(kinds(2).len(), schema.fields().len());
        let status = schema.field_with_name("dnssec_status").unwrap();
        assert_eq!(
            status.data_type(),
            &DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Utf8))
        );
    }

    #[test]
    fn part_names() {
        assert_eq!(
            seq_of("part-0of1-00012.parquet", "part-0of1-", ".parquet"),
            Some(12)
        );
        assert_eq!(
            seq_of("part-0of10-00012.parquet", "part-0of1-", ".parquet"),
            None
        );
        assert_eq!(
            seq_of("part-a-1-00012.parquet", "part-a-", ".parquet"),
            None
        );
        assert_eq!(
            seq_of(".part-0of1-3.parquet.tmp", ".part-0of1-", ".parquet.tmp"),
            Some(3)
        );
        assert!(is_part_name("part-x-1.parquet"));
        assert!(!is_part_name(".part-x-1.parquet.tmp"));
    }

    #[test]
    fn markdown_escapes() {
        assert_eq!(
            md_escape("www.<domain> | a_b _c"),
            "www.\\<domain\\> \\| a_b \\_c"
        );
        let md = schema_markdown(&["rank".to_string()]);
        assert!(md.contains("| `rank` | `string` |"));
        assert!(!md.contains("(input columns)"));
    }

    #[test]
    fn text_is_aligned() {
        let text = schema_text();
        let line = text
            .lines()
            .find(|l| l.starts_with("dnssec_status "))
            .unwrap();
        assert!(line.contains("string (dictionary)"));
        let header = text.lines().find(|l| l.starts_with("column")).unwrap();
        assert_eq!(header.find("type"), line.find("string (dictionary)"));
    }

    /// docs/schema.md is generated; regenerate with
    /// `UPTAKE_WRITE_SCHEMA_MD=1 cargo test -p uptake-store schema_md`.
    #[test]
    fn schema_md_is_current() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/schema.md");
        let expected = schema_markdown(&[]);
        if std::env::var_os("UPTAKE_WRITE_SCHEMA_MD").is_some() {
            fs::write(&path, &expected).unwrap();
        }
        let actual = fs::read_to_string(&path).unwrap_or_default();
        assert!(
            actual == expected,
            "docs/schema.md is out of date; run UPTAKE_WRITE_SCHEMA_MD=1 cargo test -p uptake-store schema_md"
        );
    }
}
