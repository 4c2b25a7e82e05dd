//! The aggregation engine: reads the dataset's part files row group by row group (rayon over
//! every row group of every file), evaluates every metric on each record batch and counts
//! applicable / adopted / error rows per cell: (scan, country, sector) for the groupings
//! of country and sector only, and a counter set of its own for each grouping with a sparse
//! dimension (organisation, hosting country, hosting AS). The requested groupings are
//! roll-ups of those cells.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::fs::{self, File};
use std::path::{Path, PathBuf};
use std::str::FromStr;

use arrow_array::cast::AsArray;
use arrow_array::types::TimestampMicrosecondType;
use arrow_array::{Array, ArrayRef, RecordBatch, StringArray};
use std::sync::Arc;

use arrow_schema::{DataType, Field, Schema};
use parquet::arrow::arrow_reader::{
    ArrowReaderMetadata, ArrowReaderOptions, ParquetRecordBatchReaderBuilder,
};
use parquet::arrow::ProjectionMask;
use rayon::prelude::*;
use uptake_model::row::Kind;
use uptake_model::Status;
use uptake_store::{META_SCAN_ID, META_SCHEMA_VERSION, SCHEMA_VERSION};

use crate::cond::{status_code, Column, Columns, NULL_CODE};
use crate::groups;
use crate::metrics::{metrics, Metric};
use crate::stats::{two_proportion, wilson, Z95};
use crate::AggregateError;

/// A dimension to group by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Dim {
    /// Country (list, else ccTLD).
    Country,
    /// ISIC Rev.4 section of the sector label.
    Sector,
    /// Organisation from the list.
    Organisation,
    /// Country of the hosting network (`hosting_country`: the first web address's, else the
    /// first mail address's).
    HostingCountry,
    /// The hosting network (`hosting_asn` of that same address), as `AS<n>`.
    HostingAsn,
}

impl Dim {
    /// Every dimension, in the order of [`Dim::index`].
    pub const ALL: [Dim; 5] = [
        Dim::Country,
        Dim::Sector,
        Dim::Organisation,
        Dim::HostingCountry,
        Dim::HostingAsn,
    ];

    /// The dimension's name.
    pub fn as_str(self) -> &'static str {
        match self {
            Dim::Country => "country",
            Dim::Sector => "sector",
            Dim::Organisation => "organisation",
            Dim::HostingCountry => "hosting_country",
            Dim::HostingAsn => "hosting_asn",
        }
    }

    /// Position of the dimension's value in a cell key.
    fn index(self) -> usize {
        self as usize
    }

    /// Dimensions with many values (or few rows per value), counted in a counter set of their
    /// own rather than multiplied into the country x sector cells.
    fn sparse(self) -> bool {
        !matches!(self, Dim::Country | Dim::Sector)
    }
}

/// A grouping: the overall population (no dimensions) or a combination of dimensions.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Grouping(pub Vec<Dim>);

impl Grouping {
    /// The overall population.
    pub fn all() -> Grouping {
        Grouping(vec![])
    }
}

impl fmt::Display for Grouping {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            return f.write_str("all");
        }
        let names: Vec<_> = self.0.iter().map(|d| d.as_str()).collect();
        f.write_str(&names.join(","))
    }
}

impl FromStr for Grouping {
    type Err = AggregateError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s == "all" {
            return Ok(Grouping::all());
        }
        let mut dims = vec![];
        for part in s.split(',') {
            let d = match part.trim() {
                "country" => Dim::Country,
                "sector" => Dim::Sector,
                "organisation" | "organization" => Dim::Organisation,
                "hosting_country" => Dim::HostingCountry,
                "hosting_asn" => Dim::HostingAsn,
                other => {
                    return Err(AggregateError::Grouping(format!(
                        "unknown dimension '{other}' in '{s}' (country, sector, organisation, \
                         hosting_country, hosting_asn)"
                    )))
                }
            };
            if dims.contains(&d) {
                return Err(AggregateError::Grouping(format!("'{s}' repeats {part}")));
            }
            dims.push(d);
        }
        Ok(Grouping(dims))
    }
}

/// Separator of the dimension values in a group of several dimensions (`NL|O`).
pub const GROUP_SEP: &str = "|";

/// What to aggregate.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Scan ids to read (empty: every scan of the dataset).
    pub scans: Vec<String>,
    /// Groupings besides the overall population (which is always reported).
    pub groupings: Vec<Grouping>,
}

/// One scan as read.
#[derive(Debug, Clone, PartialEq)]
pub struct ScanInfo {
    /// Scan id (the `scan=<id>` partition).
    pub id: String,
    /// UTC date of the earliest `scanned_at` (YYYY-MM-DD).
    pub date: String,
    /// Rows read.
    pub rows: u64,
    /// Part files read.
    pub files: usize,
    /// `uptake.schema_version` of its files.
    pub schema_version: u32,
    /// Metrics unavailable in this scan, with the first missing column.
    pub unavailable: BTreeMap<String, String>,
}

/// One line of the long-form output.
#[derive(Debug, Clone, PartialEq)]
pub struct AdoptionRow {
    /// Scan id.
    pub scan: String,
    /// Scan date.
    pub date: String,
    /// Grouping name (`all`, `country`, `country,sector`, ...).
    pub grouping: String,
    /// Group value (`all`, `NL`, `NL|O`, ...).
    pub group: String,
    /// Metric id.
    pub metric: String,
    /// False when the scan lacks a column the metric reads; counts are then `None`.
    pub available: bool,
    /// Applicable rows (denominator).
    pub applicable: Option<u64>,
    /// Adopted rows (numerator).
    pub adopted: Option<u64>,
    /// Rows that could not be measured.
    pub errors: Option<u64>,
    /// adopted / applicable.
    pub rate: Option<f64>,
    /// Wilson 95% lower bound.
    pub ci_low: Option<f64>,
    /// Wilson 95% upper bound.
    pub ci_high: Option<f64>,
    /// errors / (applicable + errors).
    pub error_rate: Option<f64>,
}

/// The change of one metric in one group between two consecutive scans.
#[derive(Debug, Clone, PartialEq)]
pub struct ChangeRow {
    /// Earlier scan.
    pub from_scan: String,
    /// Later scan.
    pub to_scan: String,
    /// Grouping name.
    pub grouping: String,
    /// Group value.
    pub group: String,
    /// Metric id.
    pub metric: String,
    /// Rate in the earlier scan.
    pub rate_from: f64,
    /// Rate in the later scan.
    pub rate_to: f64,
    /// rate_to - rate_from.
    pub diff: f64,
    /// Pooled two-proportion z (`None` when both rates are 0 or both 1).
    pub z: Option<f64>,
    /// Two-sided p-value (`None` with `z`).
    pub p_value: Option<f64>,
}

/// The result of [`aggregate`].
#[derive(Debug, Clone, PartialEq)]
pub struct Aggregate {
    /// Scans in time order (date, then id).
    pub scans: Vec<ScanInfo>,
    /// The groupings reported (the overall population first).
    pub groupings: Vec<Grouping>,
    /// Every (scan, grouping, group, metric).
    pub rows: Vec<AdoptionRow>,
    /// Changes between consecutive scans.
    pub changes: Vec<ChangeRow>,
    /// Each sector label seen (as written in the list) and its group value.
    pub sector_labels: BTreeMap<String, String>,
}

// ---------------------------------------------------------------------------------------------
// Planning: scans, files, schemas
// ---------------------------------------------------------------------------------------------

struct FilePlan {
    path: PathBuf,
    meta: ArrowReaderMetadata,
}

struct ScanPlan {
    id: String,
    files: Vec<FilePlan>,
    version: u32,
    /// Per metric: available?
    available: Vec<bool>,
    unavailable: BTreeMap<String, String>,
}

fn io_err<'a>(
    op: &'static str,
    path: &'a Path,
) -> impl FnOnce(std::io::Error) -> AggregateError + 'a {
    move |source| AggregateError::Io {
        op,
        path: path.to_path_buf(),
        source,
    }
}

fn list_scans(dataset: &Path) -> Result<Vec<(String, PathBuf)>, AggregateError> {
    let mut scans = vec![];
    for entry in fs::read_dir(dataset).map_err(io_err("list", dataset))? {
        let entry = entry.map_err(io_err("list", dataset))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if let Some(id) = name.strip_prefix("scan=") {
            if entry.path().is_dir() {
                scans.push((id.to_string(), entry.path()));
            }
        }
    }
    scans.sort();
    Ok(scans)
}

fn part_files(dir: &Path) -> Result<Vec<PathBuf>, AggregateError> {
    let mut files = vec![];
    for entry in fs::read_dir(dir).map_err(io_err("list", dir))? {
        let entry = entry.map_err(io_err("list", dir))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if !name.starts_with('.') && !name.starts_with('_') && name.ends_with(".parquet") {
            files.push(entry.path());
        }
    }
    files.sort();
    Ok(files)
}

fn kind_fits(kind: Kind, dt: &DataType) -> bool {
    match kind {
        Kind::Status => match dt {
            DataType::Dictionary(_, v) => **v == DataType::Utf8,
            DataType::Utf8 => true,
            _ => false,
        },
        Kind::Str => *dt == DataType::Utf8,
        Kind::Int => *dt == DataType::Int64,
        Kind::Bool => *dt == DataType::Boolean,
        Kind::StrList => matches!(dt, DataType::List(f) if *f.data_type() == DataType::Utf8),
        Kind::IntList => matches!(dt, DataType::List(f) if *f.data_type() == DataType::Int64),
        Kind::Timestamp => matches!(dt, DataType::Timestamp(_, _)),
    }
}

fn check_column(
    schema: &Schema,
    path: &Path,
    name: &str,
    kind: Kind,
) -> Result<bool, AggregateError> {
    match schema.field_with_name(name) {
        Err(_) => Ok(false),
        Ok(f) if kind_fits(kind, f.data_type()) => Ok(true),
        Ok(f) => Err(AggregateError::ColumnType {
            path: path.to_path_buf(),
            column: name.to_string(),
            found: f.data_type().to_string(),
            expected: kind.type_name(),
        }),
    }
}

const CURRENT_VERSION: u32 = parse_version(SCHEMA_VERSION);

const fn parse_version(s: &str) -> u32 {
    let b = s.as_bytes();
    let mut i = 0;
    let mut v = 0u32;
    while i < b.len() {
        v = v * 10 + (b[i] - b'0') as u32;
        i += 1;
    }
    v
}

/// The context columns every file must have for these dimensions.
fn context_columns(dims: &[Dim]) -> Vec<(&'static str, Kind)> {
    let mut cols = vec![
        ("public_suffix", Kind::Str),
        ("country", Kind::Str),
        ("sector", Kind::Str),
        ("scanned_at", Kind::Timestamp),
    ];
    if dims.contains(&Dim::Organisation) {
        cols.push(("organisation", Kind::Str));
    }
    cols
}

/// The hosting columns read for these dimensions. A file may lack them (a schema older than
/// the routing columns): its rows are then in the `unknown` group.
fn hosting_columns(dims: &[Dim]) -> Vec<(&'static str, Kind)> {
    let mut cols = vec![];
    if dims.contains(&Dim::HostingCountry) {
        cols.push(("hosting_country", Kind::Str));
    }
    if dims.contains(&Dim::HostingAsn) {
        cols.push(("hosting_asn", Kind::Int));
    }
    cols
}

/// The reader metadata with the context columns read as dictionaries (Parquet keeps them
/// dictionary-encoded, so their group values are worked out once per entry).
fn dictionary_context(
    meta: ArrowReaderMetadata,
    path: &Path,
) -> Result<ArrowReaderMetadata, AggregateError> {
    let fields: Vec<Field> = meta
        .schema()
        .fields()
        .iter()
        .map(|f| {
            if DICTIONARY_COLUMNS.contains(&f.name().as_str()) {
                f.as_ref().clone().with_data_type(DataType::Dictionary(
                    Box::new(DataType::Int32),
                    Box::new(DataType::Utf8),
                ))
            } else {
                f.as_ref().clone()
            }
        })
        .collect();
    let schema = Arc::new(Schema::new_with_metadata(
        fields,
        meta.schema().metadata().clone(),
    ));
    ArrowReaderMetadata::try_new(
        meta.metadata().clone(),
        ArrowReaderOptions::new().with_schema(schema),
    )
    .map_err(|e| AggregateError::Parquet {
        path: path.to_path_buf(),
        reason: e.to_string(),
    })
}

fn plan_scan(
    id: &str,
    dir: &Path,
    metrics: &[Metric],
    dims: &[Dim],
) -> Result<ScanPlan, AggregateError> {
    let paths = part_files(dir)?;
    if paths.is_empty() {
        return Err(AggregateError::EmptyScan {
            scan: id.to_string(),
            reason: "no part files".into(),
        });
    }
    let mut files = vec![];
    let mut version = None;
    let mut present: Option<Vec<Vec<bool>>> = None;
    for path in paths {
        let file = File::open(&path).map_err(io_err("open", &path))?;
        let meta = ArrowReaderMetadata::load(&file, Default::default()).map_err(|e| {
            AggregateError::NotParquet {
                path: path.clone(),
                reason: e.to_string(),
            }
        })?;
        let kv: HashMap<&str, &str> = meta
            .metadata()
            .file_metadata()
            .key_value_metadata()
            .into_iter()
            .flatten()
            .filter_map(|kv| Some((kv.key.as_str(), kv.value.as_deref()?)))
            .collect();
        let v = kv
            .get(META_SCHEMA_VERSION)
            .and_then(|v| v.parse::<u32>().ok())
            .filter(|v| (1..=CURRENT_VERSION).contains(v))
            .ok_or_else(|| AggregateError::SchemaVersion {
                path: path.clone(),
                found: kv.get(META_SCHEMA_VERSION).map(|s| s.to_string()),
            })?;
        match version {
            None => version = Some(v),
            Some(first) if first != v => {
                return Err(AggregateError::MixedVersions {
                    scan: id.to_string(),
                    first,
                    other: v,
                    path,
                })
            }
            Some(_) => {}
        }
        if kv.get(META_SCAN_ID).copied() != Some(id) {
            return Err(AggregateError::ScanIdMismatch {
                path,
                scan: id.to_string(),
                found: kv.get(META_SCAN_ID).map(|s| s.to_string()),
            });
        }
        let schema = meta.schema().clone();
        for (name, kind) in context_columns(dims) {
            if !check_column(&schema, &path, name, kind)? {
                return Err(AggregateError::MissingColumn {
                    path,
                    column: name.to_string(),
                    why: "a context column".into(),
                });
            }
        }
        for (name, kind) in hosting_columns(dims) {
            check_column(&schema, &path, name, kind)?;
        }
        let mut this = vec![];
        for m in metrics {
            let mut cols = vec![];
            for (name, kind) in m.columns() {
                let ok = check_column(&schema, &path, &name, kind)?;
                if !ok && v == CURRENT_VERSION {
                    return Err(AggregateError::MissingColumn {
                        path,
                        column: name,
                        why: format!("read by metric {} and part of schema version {v}", m.id),
                    });
                }
                cols.push(ok);
            }
            this.push(cols);
        }
        match &present {
            None => present = Some(this),
            Some(first) if *first != this => {
                return Err(AggregateError::InconsistentScan {
                    scan: id.to_string(),
                    path,
                })
            }
            Some(_) => {}
        }
        let meta = dictionary_context(meta, &path)?;
        files.push(FilePlan { path, meta });
    }
    let present = present.unwrap_or_default();
    let mut available = vec![];
    let mut unavailable = BTreeMap::new();
    for (m, cols) in metrics.iter().zip(&present) {
        let missing = m
            .columns()
            .into_iter()
            .zip(cols)
            .find(|(_, ok)| !**ok)
            .map(|((name, _), _)| name);
        available.push(missing.is_none());
        if let Some(col) = missing {
            unavailable.insert(m.id.to_string(), col);
        }
    }
    Ok(ScanPlan {
        id: id.to_string(),
        files,
        version: version.unwrap_or(CURRENT_VERSION),
        available,
        unavailable,
    })
}

// ---------------------------------------------------------------------------------------------
// Counting
// ---------------------------------------------------------------------------------------------

/// Counts of one metric in one cell: [not counted, applicable not adopted, adopted, error].
type Counts = [u64; 4];

#[derive(Default)]
struct Interner {
    ids: HashMap<String, u32>,
    names: Vec<String>,
}

impl Interner {
    fn id(&mut self, name: String) -> u32 {
        if let Some(&id) = self.ids.get(&name) {
            return id;
        }
        let id = self.names.len() as u32;
        self.names.push(name.clone());
        self.ids.insert(name, id);
        id
    }
}

/// Cells keyed by their group values (in [`Dim::ALL`] order; "" for a dimension the counter
/// set does not have).
type Cells = HashMap<[String; 5], Vec<Counts>>;

/// What one task (one row group) counted: per counter set, the cells.
#[derive(Default)]
struct Partial {
    rows: u64,
    min_time: Option<i64>,
    sets: Vec<Cells>,
    sector_labels: BTreeMap<String, String>,
}

impl Partial {
    fn merge(mut self, other: Partial) -> Partial {
        self.rows += other.rows;
        self.min_time = match (self.min_time, other.min_time) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        if self.sets.len() < other.sets.len() {
            self.sets.resize_with(other.sets.len(), Cells::default);
        }
        for (mine, theirs) in self.sets.iter_mut().zip(other.sets) {
            for (key, counts) in theirs {
                match mine.get_mut(&key) {
                    Some(acc) => {
                        for (a, b) in acc.iter_mut().zip(counts) {
                            for k in 0..4 {
                                a[k] += b[k];
                            }
                        }
                    }
                    None => {
                        mine.insert(key, counts);
                    }
                }
            }
        }
        self.sector_labels.extend(other.sector_labels);
        self
    }
}

/// Per-task state: the group values seen, with ids.
#[derive(Default)]
struct Keys {
    /// Per dimension (in [`Dim::ALL`] order), the group values seen.
    names: [Interner; 5],
    /// Sector labels as listed, with their group id.
    sector_labels: HashMap<String, u32>,
}

impl Keys {
    fn id(&mut self, dim: Dim, name: String) -> u32 {
        self.names[dim.index()].id(name)
    }
}

/// The counters of one counter set in one task: a cell per distinct key of the set's
/// dimensions (group ids in [`Dim::ALL`] order; 0 for a dimension not in the set).
///
/// Counter set 0 has country and sector and serves every grouping of those two only; each
/// grouping with a sparse dimension (organisation: often one per domain; hosting country and
/// AS) has its own set, so their values are never multiplied by countries and sectors they
/// are not grouped with.
struct CellSet {
    dims: Vec<Dim>,
    cells: HashMap<[u32; 5], usize>,
    /// Cell by country id and sector id (set 0).
    dense: Vec<Vec<usize>>,
    counts: Vec<Counts>,
    /// Cell of each row of the current batch.
    row_cells: Vec<usize>,
}

impl CellSet {
    fn new(dims: Vec<Dim>) -> CellSet {
        CellSet {
            dims,
            cells: HashMap::new(),
            dense: vec![],
            counts: vec![],
            row_cells: vec![],
        }
    }

    fn cell(&mut self, ids: [u32; 5], metrics: usize) -> usize {
        let next = self.cells.len();
        let mut key = [0u32; 5];
        for d in &self.dims {
            key[d.index()] = ids[d.index()];
        }
        let idx = if self.dims.iter().any(|d| d.sparse()) {
            *self.cells.entry(key).or_insert(next)
        } else {
            let (c, s) = (key[0] as usize, key[1] as usize);
            if self.dense.len() <= c {
                self.dense.resize(c + 1, vec![]);
            }
            if self.dense[c].len() <= s {
                self.dense[c].resize(s + 1, usize::MAX);
            }
            if self.dense[c][s] == usize::MAX {
                self.dense[c][s] = next;
                self.cells.insert(key, next);
            }
            self.dense[c][s]
        };
        if idx == next {
            self.counts.resize(self.counts.len() + metrics, [0; 4]);
        }
        idx
    }
}

/// Context columns read as dictionaries: group values are worked out once per dictionary entry.
const DICTIONARY_COLUMNS: [&str; 5] = [
    "country",
    "sector",
    "public_suffix",
    "organisation",
    "hosting_country",
];

/// One dictionary-encoded context column of a batch: per row the entry index (None for null),
/// and the entries.
struct DictColumn<'a> {
    keys: Vec<Option<usize>>,
    values: &'a StringArray,
}

impl<'a> DictColumn<'a> {
    fn of(batch: &'a RecordBatch, name: &str) -> DictColumn<'a> {
        Self::of_optional(batch, name).expect("planned context column")
    }

    /// The column, if the batch has it.
    fn of_optional(batch: &'a RecordBatch, name: &str) -> Option<DictColumn<'a>> {
        let array = batch.column_by_name(name)?;
        let dict = array
            .as_any_dictionary_opt()
            .expect("context columns are read as dictionaries");
        let values = dict.values().as_string_opt::<i32>().expect("utf8 values");
        let nulls = array.nulls();
        let keys = dict
            .normalized_keys()
            .into_iter()
            .enumerate()
            .map(|(i, k)| (!nulls.is_some_and(|n| n.is_null(i))).then_some(k))
            .collect();
        Some(DictColumn { keys, values })
    }

    /// Maps every entry once.
    fn map<T>(&self, mut f: impl FnMut(Option<&str>) -> T) -> Vec<T> {
        (0..self.values.len())
            .map(|i| f(self.values.is_valid(i).then(|| self.values.value(i))))
            .collect()
    }
}

/// Status codes of a status column (dictionary or plain strings).
fn status_codes(array: &ArrayRef, column: &str, path: &Path) -> Result<Vec<u8>, AggregateError> {
    let unknown = |word: &str| AggregateError::UnknownStatus {
        path: path.to_path_buf(),
        column: column.to_string(),
        word: word.to_string(),
    };
    let code_of = |word: &str| -> Result<u8, AggregateError> {
        word.parse::<Status>()
            .map(status_code)
            .map_err(|_| unknown(word))
    };
    if let Some(dict) = array.as_any_dictionary_opt() {
        let values = dict
            .values()
            .as_string_opt::<i32>()
            .expect("planned as dictionary of utf8");
        let mut lookup = Vec::with_capacity(values.len());
        for i in 0..values.len() {
            // Dictionary entries no row uses may be anything; only used keys are checked.
            lookup.push(if values.is_valid(i) {
                code_of(values.value(i)).ok()
            } else {
                None
            });
        }
        let keys = dict.normalized_keys();
        let nulls = array.nulls();
        let mut out = Vec::with_capacity(keys.len());
        for (i, k) in keys.into_iter().enumerate() {
            out.push(if nulls.is_some_and(|n| n.is_null(i)) {
                NULL_CODE
            } else {
                match lookup[k] {
                    Some(c) => c,
                    None => return Err(unknown(values.value(k))),
                }
            });
        }
        Ok(out)
    } else {
        let s = array.as_string_opt::<i32>().expect("planned as utf8");
        let mut memo: HashMap<&str, u8> = HashMap::new();
        let mut out = Vec::with_capacity(s.len());
        for i in 0..s.len() {
            if s.is_null(i) {
                out.push(NULL_CODE);
                continue;
            }
            let w = s.value(i);
            let c = match memo.get(w) {
                Some(&c) => c,
                None => {
                    let c = code_of(w)?;
                    memo.insert(w, c);
                    c
                }
            };
            out.push(c);
        }
        Ok(out)
    }
}

struct Task<'a> {
    plan: &'a ScanPlan,
    file: &'a FilePlan,
    row_group: usize,
}

fn run_task(
    task: &Task<'_>,
    metrics: &[Metric],
    sets: &[Vec<Dim>],
    projection: &[String],
) -> Result<Partial, AggregateError> {
    let uses = |dim: Dim| sets.iter().any(|d| d.contains(&dim));
    let path = &task.file.path;
    let file = File::open(path).map_err(io_err("open", path))?;
    let builder = ParquetRecordBatchReaderBuilder::new_with_metadata(file, task.file.meta.clone());
    let schema = builder.schema().clone();
    let roots: Vec<usize> = projection
        .iter()
        .filter_map(|c| schema.index_of(c).ok())
        .collect();
    let mask = ProjectionMask::roots(builder.parquet_schema(), roots);
    let reader = builder
        .with_projection(mask)
        .with_row_groups(vec![task.row_group])
        .with_batch_size(16 * 1024)
        .build()
        .map_err(|e| AggregateError::Parquet {
            path: path.clone(),
            reason: e.to_string(),
        })?;
    let nm = metrics.len();
    let mut keys = Keys::default();
    let mut cell_sets: Vec<CellSet> = sets.iter().map(|d| CellSet::new(d.clone())).collect();
    let mut rows = 0u64;
    let mut min_time: Option<i64> = None;
    let status_cols: Vec<Vec<String>> = metrics.iter().map(Metric::status_columns).collect();
    let error_code = status_code(Status::Error);
    for batch in reader {
        let batch = batch.map_err(|e| AggregateError::Parquet {
            path: path.clone(),
            reason: e.to_string(),
        })?;
        let n = batch.num_rows();
        rows += n as u64;
        let times = batch
            .column_by_name("scanned_at")
            .and_then(|c| c.as_primitive_opt::<TimestampMicrosecondType>());
        if let Some(t) = times {
            if let Some(m) = t.iter().flatten().min() {
                min_time = Some(min_time.map_or(m, |x| x.min(m)));
            }
        }
        // Cell of every row: group ids per dictionary entry, then per row.
        let country = DictColumn::of(&batch, "country");
        let suffix = DictColumn::of(&batch, "public_suffix");
        let sector = DictColumn::of(&batch, "sector");
        let listed_ids = country.map(|v| {
            v.filter(|c| !c.trim_matches(' ').is_empty())
                .map(|c| keys.id(Dim::Country, groups::country(Some(c), None)))
        });
        let suffix_ids = suffix.map(|v| keys.id(Dim::Country, groups::country(None, v)));
        let unknown_country = keys.id(Dim::Country, groups::country(None, None));
        let sector_ids = sector.map(|v| {
            let id = keys.id(Dim::Sector, groups::sector(v));
            if let Some(label) = v.filter(|l| !l.is_empty()) {
                keys.sector_labels.insert(label.to_string(), id);
            }
            id
        });
        let unknown_sector = keys.id(Dim::Sector, groups::sector(None));
        // The sparse dimensions' group id per row (0 when no counter set has the dimension).
        let mut sparse: [Vec<u32>; 3] = Default::default();
        if uses(Dim::Organisation) {
            let column = DictColumn::of(&batch, "organisation");
            let ids = column.map(|v| keys.id(Dim::Organisation, groups::organisation(v)));
            let unknown = keys.id(Dim::Organisation, groups::organisation(None));
            sparse[0] = column
                .keys
                .iter()
                .map(|k| k.map_or(unknown, |k| ids[k]))
                .collect();
        }
        if uses(Dim::HostingCountry) {
            let unknown = keys.id(Dim::HostingCountry, groups::hosting_country(None));
            sparse[1] = match DictColumn::of_optional(&batch, "hosting_country") {
                Some(column) => {
                    let ids =
                        column.map(|v| keys.id(Dim::HostingCountry, groups::hosting_country(v)));
                    column
                        .keys
                        .iter()
                        .map(|k| k.map_or(unknown, |k| ids[k]))
                        .collect()
                }
                None => vec![unknown; n],
            };
        }
        if uses(Dim::HostingAsn) {
            let column = batch
                .column_by_name("hosting_asn")
                .map(|a| a.as_primitive::<arrow_array::types::Int64Type>());
            let mut memo: HashMap<Option<i64>, u32> = HashMap::new();
            sparse[2] = (0..n)
                .map(|i| {
                    let v = column.filter(|c| c.is_valid(i)).map(|c| c.value(i));
                    *memo
                        .entry(v)
                        .or_insert_with(|| keys.id(Dim::HostingAsn, groups::hosting_asn(v)))
                })
                .collect();
        }
        for set in &mut cell_sets {
            set.row_cells.clear();
        }
        for i in 0..n {
            let c = country.keys[i]
                .and_then(|k| listed_ids[k])
                .or_else(|| suffix.keys[i].map(|k| suffix_ids[k]))
                .unwrap_or(unknown_country);
            let s = sector.keys[i].map_or(unknown_sector, |k| sector_ids[k]);
            let [o, hc, asn] = sparse
                .each_ref()
                .map(|ids| ids.get(i).copied().unwrap_or(0));
            for set in &mut cell_sets {
                let idx = set.cell([c, s, o, hc, asn], nm);
                set.row_cells.push(idx);
            }
        }
        // Decoded columns.
        let mut cols = Columns::default();
        for (name, array) in batch.schema().fields().iter().zip(batch.columns()) {
            let name = name.name();
            if DICTIONARY_COLUMNS.contains(&name.as_str()) || name == "scanned_at" {
                continue;
            }
            let column = match array.data_type() {
                DataType::Dictionary(_, _) => Column::Status(status_codes(array, name, path)?),
                DataType::Utf8 if name.ends_with("_status") => {
                    Column::Status(status_codes(array, name, path)?)
                }
                DataType::Utf8 => Column::Str(array.as_string::<i32>()),
                DataType::Int64 => Column::Int(array.as_primitive()),
                DataType::Boolean => Column::Bool(array.as_boolean()),
                DataType::List(_) => Column::List(array.as_list::<i32>()),
                other => unreachable!("planned column {name} of type {other}"),
            };
            cols.by_name.insert(name.clone(), column);
        }
        let mut class = vec![0u8; n];
        for (m, metric) in metrics.iter().enumerate() {
            if !task.plan.available[m] {
                continue;
            }
            let applies = metric.applies_to.eval(&cols, n);
            let adopted = metric.adopted.eval(&cols, n);
            for i in 0..n {
                class[i] = if applies[i] { 1 + adopted[i] as u8 } else { 0 };
            }
            // Error overrides, null overrides everything (check not run).
            for col in &status_cols[m] {
                for (c, &code) in class.iter_mut().zip(cols.status(col)) {
                    if code == error_code {
                        *c = 3;
                    }
                }
            }
            for col in &status_cols[m] {
                for (c, &code) in class.iter_mut().zip(cols.status(col)) {
                    if code == NULL_CODE {
                        *c = 0;
                    }
                }
            }
            for set in &mut cell_sets {
                for (&cell, &k) in set.row_cells.iter().zip(&class) {
                    set.counts[cell * nm + m][k as usize] += 1;
                }
            }
        }
    }
    let mut partial = Partial {
        rows,
        min_time,
        ..Partial::default()
    };
    for set in cell_sets {
        let mut cells = Cells::new();
        for (ids, idx) in &set.cells {
            let key = Dim::ALL.map(|dim| {
                if set.dims.contains(&dim) {
                    keys.names[dim.index()].names[ids[dim.index()] as usize].clone()
                } else {
                    String::new()
                }
            });
            cells.insert(key, set.counts[idx * nm..(idx + 1) * nm].to_vec());
        }
        partial.sets.push(cells);
    }
    for (label, id) in keys.sector_labels {
        partial.sector_labels.insert(
            label,
            keys.names[Dim::Sector.index()].names[id as usize].clone(),
        );
    }
    Ok(partial)
}

fn date_of(micros: i64) -> String {
    let (y, m, d, _, _, _) = uptake_model::time::utc_fields(micros.div_euclid(1_000_000));
    format!("{y:04}-{m:02}-{d:02}")
}

fn group_value(key: &[String; 5], grouping: &Grouping) -> String {
    if grouping.0.is_empty() {
        return "all".into();
    }
    let parts: Vec<&str> = grouping.0.iter().map(|d| key[d.index()].as_str()).collect();
    parts.join(GROUP_SEP)
}

fn ratio(a: u64, b: u64) -> Option<f64> {
    (b > 0).then(|| a as f64 / b as f64)
}

/// Reads `dataset` and computes every metric for every scan and grouping.
pub fn aggregate(dataset: &Path, options: &Options) -> Result<Aggregate, AggregateError> {
    let metrics = metrics();
    let all = list_scans(dataset)?;
    let selected: Vec<(String, PathBuf)> = if options.scans.is_empty() {
        all
    } else {
        let mut sel = vec![];
        for id in &options.scans {
            match all.iter().find(|(s, _)| s == id) {
                Some(found) if !sel.contains(found) => sel.push(found.clone()),
                Some(_) => {}
                None => {
                    return Err(AggregateError::NoSuchScan {
                        dataset: dataset.to_path_buf(),
                        scan: id.clone(),
                        known: all.iter().map(|(s, _)| s.clone()).collect(),
                    })
                }
            }
        }
        sel
    };
    if selected.is_empty() {
        return Err(AggregateError::NoScans {
            dataset: dataset.to_path_buf(),
        });
    }
    let mut groupings = vec![Grouping::all()];
    for g in &options.groupings {
        if !groupings.contains(g) {
            groupings.push(g.clone());
        }
    }
    let mut dims: Vec<Dim> = groupings.iter().flat_map(|g| g.0.iter().copied()).collect();
    dims.sort();
    dims.dedup();
    // Counter set 0 (country x sector) serves the groupings of those two only; each grouping
    // with a sparse dimension counts in a set of its own.
    let mut sets = vec![vec![Dim::Country, Dim::Sector]];
    let set_of: Vec<usize> = groupings
        .iter()
        .map(|g| {
            if g.0.iter().any(|d| d.sparse()) {
                sets.push(g.0.clone());
                sets.len() - 1
            } else {
                0
            }
        })
        .collect();
    let plans = selected
        .iter()
        .map(|(id, dir)| plan_scan(id, dir, &metrics, &dims))
        .collect::<Result<Vec<_>, _>>()?;

    let mut projection: Vec<String> = context_columns(&dims)
        .into_iter()
        .chain(hosting_columns(&dims))
        .map(|(n, _)| n.to_string())
        .collect();
    for m in &metrics {
        for (name, _) in m.columns() {
            if !projection.contains(&name) {
                projection.push(name);
            }
        }
    }
    let tasks: Vec<(usize, Task<'_>)> = plans
        .iter()
        .enumerate()
        .flat_map(|(s, plan)| {
            plan.files.iter().flat_map(move |file| {
                (0..file.meta.metadata().num_row_groups()).map(move |row_group| {
                    (
                        s,
                        Task {
                            plan,
                            file,
                            row_group,
                        },
                    )
                })
            })
        })
        .collect();
    // Each worker folds its tasks into one partial per scan; the workers' partials are then
    // merged, so memory holds a few partials, not one per row group.
    let empty = || -> Vec<Partial> { plans.iter().map(|_| Partial::default()).collect() };
    let per_scan: Vec<Partial> = tasks
        .par_iter()
        .try_fold(empty, |mut acc, (s, task)| {
            let p = run_task(task, &metrics, &sets, &projection)?;
            acc[*s] = std::mem::take(&mut acc[*s]).merge(p);
            Ok::<_, AggregateError>(acc)
        })
        .try_reduce(empty, |a, b| {
            Ok(a.into_iter().zip(b).map(|(x, y)| x.merge(y)).collect())
        })?;

    let mut scans = vec![];
    let mut sector_labels = BTreeMap::new();
    for (plan, partial) in plans.iter().zip(&per_scan) {
        if partial.rows == 0 {
            return Err(AggregateError::EmptyScan {
                scan: plan.id.clone(),
                reason: "its part files hold no rows".into(),
            });
        }
        sector_labels.extend(partial.sector_labels.clone());
        scans.push(ScanInfo {
            id: plan.id.clone(),
            date: partial.min_time.map(date_of).unwrap_or_default(),
            rows: partial.rows,
            files: plan.files.len(),
            schema_version: plan.version,
            unavailable: plan.unavailable.clone(),
        });
    }
    let mut order: Vec<usize> = (0..scans.len()).collect();
    order.sort_by(|&a, &b| (&scans[a].date, &scans[a].id).cmp(&(&scans[b].date, &scans[b].id)));

    // Roll the cells up into each grouping.
    let mut rows = vec![];
    let mut rolled: Vec<BTreeMap<(usize, String), Vec<Counts>>> = vec![];
    for &s in &order {
        let mut by_group: BTreeMap<(usize, String), Vec<Counts>> = BTreeMap::new();
        for (g, grouping) in groupings.iter().enumerate() {
            let Some(cells) = per_scan[s].sets.get(set_of[g]) else {
                continue;
            };
            for (key, counts) in cells {
                let acc = by_group
                    .entry((g, group_value(key, grouping)))
                    .or_insert_with(|| vec![[0; 4]; metrics.len()]);
                for (a, b) in acc.iter_mut().zip(counts) {
                    for k in 0..4 {
                        a[k] += b[k];
                    }
                }
            }
        }
        let info = &scans[s];
        for ((g, group), counts) in &by_group {
            for (m, metric) in metrics.iter().enumerate() {
                let c = counts[m];
                let (applicable, adopted, errors) = (c[1] + c[2], c[2], c[3]);
                let available = plans[s].available[m];
                let ci = wilson(adopted, applicable, Z95).filter(|_| available);
                rows.push(AdoptionRow {
                    scan: info.id.clone(),
                    date: info.date.clone(),
                    grouping: groupings[*g].to_string(),
                    group: group.clone(),
                    metric: metric.id.to_string(),
                    available,
                    applicable: available.then_some(applicable),
                    adopted: available.then_some(adopted),
                    errors: available.then_some(errors),
                    rate: ratio(adopted, applicable).filter(|_| available),
                    ci_low: ci.map(|c| c.0),
                    ci_high: ci.map(|c| c.1),
                    error_rate: ratio(errors, applicable + errors).filter(|_| available),
                });
            }
        }
        rolled.push(by_group);
    }

    // Changes between consecutive scans.
    let mut changes = vec![];
    for w in 0..rolled.len().saturating_sub(1) {
        let (a, b) = (order[w], order[w + 1]);
        for (key, before) in &rolled[w] {
            let Some(after) = rolled[w + 1].get(key) else {
                continue;
            };
            for (m, metric) in metrics.iter().enumerate() {
                if !plans[a].available[m] || !plans[b].available[m] {
                    continue;
                }
                let (x1, n1) = (before[m][2], before[m][1] + before[m][2]);
                let (x2, n2) = (after[m][2], after[m][1] + after[m][2]);
                let (Some(r1), Some(r2)) = (ratio(x1, n1), ratio(x2, n2)) else {
                    continue;
                };
                let test = two_proportion(x1, n1, x2, n2);
                changes.push(ChangeRow {
                    from_scan: scans[a].id.clone(),
                    to_scan: scans[b].id.clone(),
                    grouping: groupings[key.0].to_string(),
                    group: key.1.clone(),
                    metric: metric.id.to_string(),
                    rate_from: r1,
                    rate_to: r2,
                    diff: r2 - r1,
                    z: test.map(|t| t.z),
                    p_value: test.map(|t| t.p_value),
                });
            }
        }
    }
    let scans = order.iter().map(|&s| scans[s].clone()).collect();
    Ok(Aggregate {
        scans,
        groupings,
        rows,
        changes,
        sector_labels,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::RecordBatch;
    use parquet::file::metadata::KeyValue;
    use parquet::file::properties::WriterProperties;
    use uptake_model::row::ScanRow;
    use uptake_model::{Check, Finding};
    use uptake_store::{read_rows, DatasetWriter, WriterOptions};

    const DAY: i64 = 86_400_000_000;

    /// A row of a DNS-only scan: dnssec as given, every other DNS check `absent`/`none`.
    fn row(domain: &str, scan: &str, day: i64, country: Option<&str>, dnssec: Status) -> ScanRow {
        let mut r = ScanRow::failed(
            domain.into(),
            domain.into(),
            scan.into(),
            1_790_000_000_000_000 + day * DAY,
            "x",
        );
        for c in Check::DNS {
            r.set_finding(c, Finding::of(c.statuses()[c.statuses().len() - 1]));
        }
        r.set_finding(Check::Dnssec, Finding::of(dnssec));
        r.connected = Default::default();
        r.country = country.map(str::to_string);
        r.public_suffix = domain.split_once('.').map(|(_, s)| s.to_string());
        r.sector = Some("Banking".into());
        r
    }

    fn write_scan(dataset: &Path, scan: &str, rows: &[ScanRow]) {
        let mut w =
            DatasetWriter::create(dataset, scan, "0of1", vec![], WriterOptions::default()).unwrap();
        for r in rows {
            w.write(r).unwrap();
        }
        w.finish().unwrap();
    }

    /// Rewrites the scan's part as another file without `drop` columns and with the given
    /// schema version (a file as an older or broken writer would have made it).
    fn rewrite(dataset: &Path, scan: &str, out: &str, drop: &[&str], version: &str) {
        let dir = uptake_store::scan_dir(dataset, scan);
        let batches = read_rows(&dir).unwrap();
        let schema = batches[0].schema();
        let keep: Vec<usize> = (0..schema.fields().len())
            .filter(|&i| !drop.contains(&schema.field(i).name().as_str()))
            .collect();
        let props = WriterProperties::builder()
            .set_key_value_metadata(Some(vec![
                KeyValue::new(META_SCHEMA_VERSION.into(), version.to_string()),
                KeyValue::new(META_SCAN_ID.into(), scan.to_string()),
            ]))
            .build();
        let projected: Vec<RecordBatch> =
            batches.iter().map(|b| b.project(&keep).unwrap()).collect();
        let file = File::create(dir.join(out)).unwrap();
        let mut w =
            parquet::arrow::ArrowWriter::try_new(file, projected[0].schema(), Some(props)).unwrap();
        for b in &projected {
            w.write(b).unwrap();
        }
        w.close().unwrap();
    }

    fn find<'a>(
        agg: &'a Aggregate,
        scan: &str,
        grouping: &str,
        group: &str,
        metric: &str,
    ) -> &'a AdoptionRow {
        agg.rows
            .iter()
            .find(|r| {
                r.scan == scan && r.grouping == grouping && r.group == group && r.metric == metric
            })
            .unwrap_or_else(|| panic!("no row {scan} {grouping} {group} {metric}"))
    }

    fn options(scans: &[&str], by: &[&str]) -> Options {
        Options {
            scans: scans.iter().map(|s| s.to_string()).collect(),
            groupings: by.iter().map(|g| g.parse().unwrap()).collect(),
        }
    }

    #[test]
    fn counts_groups_errors_and_changes_over_time() {
        let tmp = tempfile::tempdir().unwrap();
        let data = tmp.path();
        // Scan "old" (day 0): 2 of 4 NL rows secure, 1 error; one .uk row without country.
        let mut old = vec![];
        for (i, s) in [
            Status::Secure,
            Status::Secure,
            Status::Insecure,
            Status::Bogus,
            Status::Error,
        ]
        .into_iter()
        .enumerate()
        {
            old.push(row(&format!("d{i}.nl"), "old", 0, Some("nl"), s));
        }
        old.push(row("x.gov.uk", "old", 0, None, Status::Secure));
        // Scan "new" (day 30): every NL row secure.
        let new: Vec<ScanRow> = (0..4)
            .map(|i| row(&format!("d{i}.nl"), "new", 30, Some("NL"), Status::Secure))
            .collect();
        write_scan(data, "new", &new);
        write_scan(data, "old", &old);
        let agg = aggregate(data, &options(&[], &["country", "country,sector"])).unwrap();
        assert_eq!(
            agg.scans
                .iter()
                .map(|s| (s.id.as_str(), s.rows))
                .collect::<Vec<_>>(),
            [("old", 6), ("new", 4)],
            "time order"
        );
        assert_eq!(agg.scans[0].date, "2026-09-21");
        let r = find(&agg, "old", "all", "all", "dnssec");
        assert_eq!(
            (r.applicable, r.adopted, r.errors),
            (Some(5), Some(3), Some(1))
        );
        assert_eq!(r.rate, Some(0.6));
        assert_eq!(r.error_rate, Some(1.0 / 6.0));
        let (lo, hi) = crate::stats::wilson(3, 5, Z95).unwrap();
        assert_eq!((r.ci_low, r.ci_high), (Some(lo), Some(hi)));
        let nl = find(&agg, "old", "country", "NL", "dnssec");
        assert_eq!(
            (nl.applicable, nl.adopted, nl.errors),
            (Some(4), Some(2), Some(1))
        );
        let gb = find(&agg, "old", "country,sector", "GB|K", "dnssec");
        assert_eq!((gb.applicable, gb.adopted), (Some(1), Some(1)));
        // Connected checks were not run (null): neither applicable nor error.
        let st = find(&agg, "old", "all", "all", "starttls");
        assert_eq!(
            (st.applicable, st.errors, st.rate),
            (Some(0), Some(0), None)
        );
        assert!(st.available);
        // The change of NL from 2/4 to 4/4.
        let c = agg
            .changes
            .iter()
            .find(|c| c.grouping == "country" && c.group == "NL" && c.metric == "dnssec")
            .unwrap();
        let t = two_proportion(2, 4, 4, 4).unwrap();
        assert_eq!((c.from_scan.as_str(), c.to_scan.as_str()), ("old", "new"));
        assert_eq!((c.diff, c.z, c.p_value), (0.5, Some(t.z), Some(t.p_value)));
        assert_eq!(agg.sector_labels["Banking"], "K");
        // --scan selects.
        let only = aggregate(data, &options(&["new"], &[])).unwrap();
        assert_eq!(only.scans.len(), 1);
        assert!(only.changes.is_empty());
        assert!(only.rows.iter().all(|r| r.grouping == "all"));
    }

    #[test]
    fn groups_by_hosting_country_and_network() {
        let tmp = tempfile::tempdir().unwrap();
        let data = tmp.path();
        let hosted = |domain: &str, country: &str, cc: Option<&str>, asn: Option<i64>, s| {
            let mut r = row(domain, "h", 0, Some(country), s);
            r.routing.hosting_country = cc.map(str::to_string);
            r.routing.hosting_asn = asn;
            r
        };
        write_scan(
            data,
            "h",
            &[
                hosted("a.nl", "NL", Some("NL"), Some(64500), Status::Secure),
                hosted("b.nl", "NL", Some("us"), Some(64501), Status::Insecure),
                hosted("c.nl", "NL", Some("US"), Some(64501), Status::Secure),
                hosted("d.de", "DE", Some("US"), Some(64501), Status::Error),
                hosted("e.de", "DE", None, None, Status::Secure),
            ],
        );
        let by = ["hosting_country", "hosting_asn", "country,hosting_country"];
        let agg = aggregate(data, &options(&[], &by)).unwrap();
        let counts = |grouping: &str, group: &str| {
            let r = find(&agg, "h", grouping, group, "dnssec");
            (r.applicable.unwrap(), r.adopted.unwrap(), r.errors.unwrap())
        };
        assert_eq!(counts("hosting_country", "US"), (2, 1, 1));
        assert_eq!(counts("hosting_country", "NL"), (1, 1, 0));
        assert_eq!(counts("hosting_country", "unknown"), (1, 1, 0));
        assert_eq!(counts("hosting_asn", "AS64501"), (2, 1, 1));
        assert_eq!(counts("hosting_asn", "AS64500"), (1, 1, 0));
        assert_eq!(counts("hosting_asn", "unknown"), (1, 1, 0));
        assert_eq!(counts("country,hosting_country", "NL|US"), (2, 1, 0));
        assert_eq!(counts("country,hosting_country", "DE|US"), (0, 0, 1));
        let groups = |grouping: &str| {
            let mut g: Vec<&str> = agg
                .rows
                .iter()
                .filter(|r| r.grouping == grouping && r.metric == "dnssec")
                .map(|r| r.group.as_str())
                .collect();
            g.sort();
            g
        };
        assert_eq!(
            groups("country,hosting_country"),
            ["DE|US", "DE|unknown", "NL|NL", "NL|US"]
        );
        assert_eq!(
            "hosting_country,sector"
                .parse::<Grouping>()
                .unwrap()
                .to_string(),
            "hosting_country,sector"
        );

        // A file older than the hosting columns: its rows are `unknown`.
        rewrite(
            data,
            "h",
            "part-old-00000.parquet",
            &["hosting_country", "hosting_asn"],
            "2",
        );
        let dir = uptake_store::scan_dir(data, "h");
        fs::remove_file(dir.join("part-0of1-00000.parquet")).unwrap();
        let agg = aggregate(data, &options(&[], &by)).unwrap();
        let r = find(&agg, "h", "hosting_country", "unknown", "dnssec");
        assert_eq!(
            (r.applicable, r.adopted, r.errors),
            (Some(4), Some(3), Some(1))
        );
        let r = find(&agg, "h", "hosting_asn", "unknown", "dnssec");
        assert_eq!(r.applicable, Some(4));
    }

    #[test]
    fn older_schema_makes_metrics_unavailable_not_zero() {
        let tmp = tempfile::tempdir().unwrap();
        let data = tmp.path();
        write_scan(
            data,
            "v1",
            &[row("a.nl", "v1", 0, Some("NL"), Status::Secure)],
        );
        write_scan(
            data,
            "v2",
            &[row("a.nl", "v2", 1, Some("NL"), Status::Secure)],
        );
        let dir = uptake_store::scan_dir(data, "v1");
        rewrite(
            data,
            "v1",
            "part-old-00000.parquet",
            &["starttls_status", "hsts_max_age"],
            "1",
        );
        fs::remove_file(dir.join("part-0of1-00000.parquet")).unwrap();
        let agg = aggregate(data, &Options::default()).unwrap();
        let v1 = &agg.scans[0];
        assert_eq!(v1.schema_version, 1);
        assert_eq!(v1.unavailable["starttls"], "starttls_status");
        assert_eq!(v1.unavailable["hsts_preload_ready"], "hsts_max_age");
        let r = find(&agg, "v1", "all", "all", "starttls");
        assert!(!r.available);
        assert_eq!((r.applicable, r.rate), (None, None));
        assert!(find(&agg, "v2", "all", "all", "starttls").available);
        assert_eq!(find(&agg, "v1", "all", "all", "dnssec").adopted, Some(1));
        assert!(!agg.changes.iter().any(|c| c.metric == "starttls"));
    }

    #[test]
    fn bad_input_is_a_clear_error() {
        let tmp = tempfile::tempdir().unwrap();
        let data = tmp.path();
        let one = [row("a.nl", "s", 0, Some("NL"), Status::Secure)];
        let err = |scan: &str| {
            aggregate(data, &options(&[scan], &[]))
                .unwrap_err()
                .to_string()
        };

        // Two schema versions in one scan.
        write_scan(
            data,
            "mixed",
            &one.clone().map(|mut r| {
                r.scan_id = "mixed".into();
                r
            }),
        );
        rewrite(data, "mixed", "part-z-00000.parquet", &[], "1");
        assert!(
            err("mixed").contains(&format!("mixes schema versions {SCHEMA_VERSION} and 1")),
            "{}",
            err("mixed")
        );

        // A column of the current schema missing.
        write_scan(
            data,
            "nocol",
            &one.clone().map(|mut r| {
                r.scan_id = "nocol".into();
                r
            }),
        );
        rewrite(
            data,
            "nocol",
            "part-z-00000.parquet",
            &["dmarc_status"],
            SCHEMA_VERSION,
        );
        let e = err("nocol");
        assert!(
            e.contains("has no column dmarc_status") && e.contains("part-z-00000"),
            "{e}"
        );

        // Not Parquet.
        write_scan(
            data,
            "junk",
            &one.clone().map(|mut r| {
                r.scan_id = "junk".into();
                r
            }),
        );
        fs::write(
            uptake_store::scan_dir(data, "junk").join("part-z.parquet"),
            "a,b\n1,2\n",
        )
        .unwrap();
        assert!(err("junk").contains("part-z.parquet is not a readable Parquet file"));

        // Empty scans, unknown scans, unsupported versions.
        fs::create_dir_all(uptake_store::scan_dir(data, "empty")).unwrap();
        assert!(err("empty").contains("scan empty is empty (no part files)"));
        let e = err("nope");
        assert!(
            e.contains("has no scan nope (scans: empty, junk, mixed, nocol)"),
            "{e}"
        );
        write_scan(
            data,
            "future",
            &one.clone().map(|mut r| {
                r.scan_id = "future".into();
                r
            }),
        );
        rewrite(data, "future", "part-z-00000.parquet", &[], "9");
        assert!(err("future").contains("has uptake.schema_version 9"));
        let empty = tempfile::tempdir().unwrap();
        assert!(aggregate(empty.path(), &Options::default())
            .unwrap_err()
            .to_string()
            .contains("holds no scan=<id> directories"));
    }

    #[test]
    fn unknown_status_word_is_an_error() {
        let tmp = tempfile::tempdir().unwrap();
        let data = tmp.path();
        write_scan(
            data,
            "s",
            &[row("a.nl", "s", 0, Some("NL"), Status::Secure)],
        );
        let dir = uptake_store::scan_dir(data, "s");
        let part = dir.join("part-0of1-00000.parquet");
        let batch = read_rows(&part).unwrap().remove(0);
        let idx = batch.schema().index_of("dnssec_status").unwrap();
        let mut columns = batch.columns().to_vec();
        columns[idx] = std::sync::Arc::new(StringArray::from(vec!["maybe"]));
        let mut fields: Vec<arrow_schema::Field> = batch
            .schema()
            .fields()
            .iter()
            .map(|f| f.as_ref().clone())
            .collect();
        fields[idx] = arrow_schema::Field::new("dnssec_status", DataType::Utf8, true);
        let batch =
            RecordBatch::try_new(std::sync::Arc::new(Schema::new(fields)), columns).unwrap();
        let props = WriterProperties::builder()
            .set_key_value_metadata(Some(vec![
                KeyValue::new(META_SCHEMA_VERSION.into(), SCHEMA_VERSION.to_string()),
                KeyValue::new(META_SCAN_ID.into(), "s".to_string()),
            ]))
            .build();
        let mut w = parquet::arrow::ArrowWriter::try_new(
            File::create(&part).unwrap(),
            batch.schema(),
            Some(props),
        )
        .unwrap();
        w.write(&batch).unwrap();
        w.close().unwrap();
        let e = aggregate(data, &Options::default())
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("column dnssec_status holds 'maybe', which is not a status word"),
            "{e}"
        );
    }

    #[test]
    fn groupings_parse() {
        assert_eq!("all".parse::<Grouping>().unwrap(), Grouping::all());
        let g: Grouping = "country,sector".parse().unwrap();
        assert_eq!(g.to_string(), "country,sector");
        assert!("country,country".parse::<Grouping>().is_err());
        assert!("region".parse::<Grouping>().is_err());
    }
}
