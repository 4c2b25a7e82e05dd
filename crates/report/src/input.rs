//! Reading what `uptake aggregate` wrote: the long-form adoption table (adoption.parquet or
//! adoption.csv) and the metric definitions and scan provenance of adoption.json.
//!
//! The table's required columns are [`REQUIRED_COLUMNS`]; `date`, `available` and `error_rate`
//! are read when present (`available` defaults to true, `error_rate` to
//! errors / (applicable + errors), the aggregator's definition). Other columns are ignored.
//! Empty CSV fields and Parquet nulls are "no value" (a rate over no applicable domain, a
//! metric the scan could not measure).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fs::File;
use std::io::BufReader;
use std::path::{Path, PathBuf};

use arrow_array::cast::AsArray;
use arrow_array::types::{Float64Type, Int64Type};
use arrow_array::{Array, ArrayRef, RecordBatch};
use arrow_schema::DataType;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use serde::Deserialize;

use crate::ReportError;

/// Columns the adoption table must have.
pub const REQUIRED_COLUMNS: [&str; 10] = [
    "scan",
    "grouping",
    "group",
    "metric",
    "applicable",
    "adopted",
    "rate",
    "ci_low",
    "ci_high",
    "errors",
];

/// One line of the adoption table: one metric in one group of one scan.
#[derive(Debug, Clone, PartialEq)]
pub struct AdoptionRow {
    /// Scan id.
    pub scan: String,
    /// Grouping (`all`, `country`, `sector`, `country,sector`, ...).
    pub grouping: String,
    /// Group value (`all`, `NL`, `O`, `NL|O`, ...).
    pub group: String,
    /// Metric id.
    pub metric: String,
    /// False when the scan could not measure the metric (its counts are then absent).
    pub available: bool,
    /// Applicable domains (the denominator; errors excluded).
    pub applicable: Option<u64>,
    /// Adopted domains (the numerator).
    pub adopted: Option<u64>,
    /// adopted / applicable (absent when nothing is applicable).
    pub rate: Option<f64>,
    /// Wilson 95% lower bound.
    pub ci_low: Option<f64>,
    /// Wilson 95% upper bound.
    pub ci_high: Option<f64>,
    /// Domains that could not be measured.
    pub errors: Option<u64>,
    /// errors / (applicable + errors).
    pub error_rate: Option<f64>,
}

/// A metric as adoption.json declares it.
#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct MetricDef {
    /// Stable id, as in the table's `metric` column.
    pub id: String,
    /// Short title.
    pub title: String,
    /// The standard measured.
    #[serde(default)]
    pub standard: String,
    /// Specification and anchor of the criterion.
    #[serde(default)]
    pub spec: String,
    /// `check`, `strict` or `combined`.
    #[serde(default)]
    pub kind: String,
    /// The denominator condition, as text.
    pub applies_to: String,
    /// The numerator condition, as text.
    pub adopted_when: String,
    /// Notes on the definition.
    #[serde(default)]
    pub note: String,
}

/// A scan as adoption.json describes it.
#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct ScanDef {
    /// Scan id.
    pub id: String,
    /// Date of the scan (YYYY-MM-DD).
    #[serde(default)]
    pub date: String,
    /// Domains (rows) read.
    pub rows: u64,
    /// Part files read.
    #[serde(default)]
    pub files: Option<u64>,
    /// Dataset schema version.
    #[serde(default)]
    pub schema_version: Option<u32>,
    /// Metrics the scan could not measure, with the first missing column.
    #[serde(default)]
    pub unavailable: BTreeMap<String, String>,
}

/// The part of adoption.json the report uses (the rows are read from the table instead).
#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct Meta {
    /// Tool and version that wrote the aggregates (`uptake 0.1.0`).
    #[serde(default)]
    pub generated_by: String,
    /// Metric definitions, in report order.
    pub metrics: Vec<MetricDef>,
    /// Scans, oldest first.
    pub scans: Vec<ScanDef>,
    /// Each sector label of the lists and the sector group it was counted in.
    #[serde(default)]
    pub sector_labels: BTreeMap<String, String>,
}

/// Everything the report is drawn from.
#[derive(Debug, Clone, PartialEq)]
pub struct Aggregates {
    /// The table file that was read.
    pub table_path: PathBuf,
    /// Its rows, in file order.
    pub rows: Vec<AdoptionRow>,
    /// Definitions and provenance from adoption.json.
    pub meta: Meta,
}

/// Reads `dir/adoption.parquet` (else `dir/adoption.csv`) and `dir/adoption.json`, and checks
/// that every metric and scan in the table is declared in the JSON.
pub fn load(dir: &Path) -> Result<Aggregates, ReportError> {
    let parquet = dir.join("adoption.parquet");
    let csv = dir.join("adoption.csv");
    let (table_path, rows) = if parquet.is_file() {
        let rows = read_parquet(&parquet)?;
        (parquet, rows)
    } else if csv.is_file() {
        let rows = read_csv(&csv)?;
        (csv, rows)
    } else {
        return Err(ReportError::NoTable {
            dir: dir.to_path_buf(),
        });
    };
    if rows.is_empty() {
        return Err(ReportError::EmptyTable { path: table_path });
    }
    let json = dir.join("adoption.json");
    let meta = read_meta(&json)?;
    let metrics: HashSet<&str> = meta.metrics.iter().map(|m| m.id.as_str()).collect();
    let scans: HashSet<&str> = meta.scans.iter().map(|s| s.id.as_str()).collect();
    for row in &rows {
        if !metrics.contains(row.metric.as_str()) {
            return Err(ReportError::Undeclared {
                path: json,
                what: "metric",
                id: row.metric.clone(),
            });
        }
        if !scans.contains(row.scan.as_str()) {
            return Err(ReportError::Undeclared {
                path: json,
                what: "scan",
                id: row.scan.clone(),
            });
        }
    }
    Ok(Aggregates {
        table_path,
        rows,
        meta,
    })
}

/// Reads adoption.json's metrics, scans and sector labels.
pub fn read_meta(path: &Path) -> Result<Meta, ReportError> {
    let file = File::open(path).map_err(|source| ReportError::Io {
        op: "open",
        path: path.to_path_buf(),
        source,
    })?;
    serde_json::from_reader(BufReader::new(file)).map_err(|e| ReportError::Json {
        path: path.to_path_buf(),
        reason: e.to_string(),
    })
}

fn error_rate(applicable: Option<u64>, errors: Option<u64>) -> Option<f64> {
    let (a, e) = (applicable?, errors?);
    (a + e > 0).then(|| e as f64 / (a + e) as f64)
}

/// Reads adoption.csv.
pub fn read_csv(path: &Path) -> Result<Vec<AdoptionRow>, ReportError> {
    let mut reader = csv::Reader::from_path(path).map_err(|e| ReportError::Csv {
        path: path.to_path_buf(),
        reason: e.to_string(),
    })?;
    let headers = reader
        .headers()
        .map_err(|e| ReportError::Csv {
            path: path.to_path_buf(),
            reason: e.to_string(),
        })?
        .clone();
    let index: HashMap<&str, usize> = headers.iter().enumerate().map(|(i, h)| (h, i)).collect();
    for column in REQUIRED_COLUMNS {
        if !index.contains_key(column) {
            return Err(ReportError::MissingColumn {
                path: path.to_path_buf(),
                column,
            });
        }
    }
    let mut rows = vec![];
    for (n, record) in reader.records().enumerate() {
        let line = n + 2;
        let record = record.map_err(|e| ReportError::Csv {
            path: path.to_path_buf(),
            reason: e.to_string(),
        })?;
        let field = |column: &str| -> Option<&str> {
            index
                .get(column)
                .and_then(|&i| record.get(i))
                .filter(|s| !s.is_empty())
        };
        let bad = |column: &'static str, value: &str| ReportError::BadValue {
            path: path.to_path_buf(),
            line,
            column,
            value: value.to_string(),
        };
        let text = |column: &'static str| field(column).unwrap_or("").to_string();
        let count = |column: &'static str| -> Result<Option<u64>, ReportError> {
            field(column)
                .map(|v| v.parse::<u64>().map_err(|_| bad(column, v)))
                .transpose()
        };
        let real = |column: &'static str| -> Result<Option<f64>, ReportError> {
            field(column)
                .map(|v| {
                    v.parse::<f64>()
                        .ok()
                        .filter(|x| x.is_finite())
                        .ok_or_else(|| bad(column, v))
                })
                .transpose()
        };
        let available = match field("available") {
            None | Some("true") => true,
            Some("false") => false,
            Some(v) => return Err(bad("available", v)),
        };
        let (applicable, errors) = (count("applicable")?, count("errors")?);
        let error_rate = if index.contains_key("error_rate") {
            real("error_rate")?
        } else {
            error_rate(applicable, errors)
        };
        rows.push(AdoptionRow {
            scan: text("scan"),
            grouping: text("grouping"),
            group: text("group"),
            metric: text("metric"),
            available,
            applicable,
            adopted: count("adopted")?,
            rate: real("rate")?,
            ci_low: real("ci_low")?,
            ci_high: real("ci_high")?,
            errors,
            error_rate,
        });
    }
    Ok(rows)
}

/// A column of one record batch, checked for its type.
struct Col<'a> {
    path: &'a Path,
    name: &'static str,
    array: Option<&'a ArrayRef>,
}

impl<'a> Col<'a> {
    fn new(
        path: &'a Path,
        batch: &'a RecordBatch,
        name: &'static str,
        required: bool,
    ) -> Result<Col<'a>, ReportError> {
        let array = batch.column_by_name(name);
        if array.is_none() && required {
            return Err(ReportError::MissingColumn {
                path: path.to_path_buf(),
                column: name,
            });
        }
        Ok(Col { path, name, array })
    }

    fn type_error(&self, expected: &'static str) -> ReportError {
        ReportError::ColumnType {
            path: self.path.to_path_buf(),
            column: self.name,
            found: self
                .array
                .map(|a| a.data_type().to_string())
                .unwrap_or_default(),
            expected,
        }
    }

    fn strings(&self) -> Result<Vec<String>, ReportError> {
        let Some(a) = self.array else {
            return Ok(vec![]);
        };
        match a.data_type() {
            DataType::Utf8 => Ok(a
                .as_string::<i32>()
                .iter()
                .map(|v| v.unwrap_or("").to_string())
                .collect()),
            DataType::LargeUtf8 => Ok(a
                .as_string::<i64>()
                .iter()
                .map(|v| v.unwrap_or("").to_string())
                .collect()),
            _ => Err(self.type_error("Utf8")),
        }
    }

    fn counts(&self) -> Result<Vec<Option<u64>>, ReportError> {
        let Some(a) = self.array else {
            return Ok(vec![]);
        };
        if a.data_type() != &DataType::Int64 {
            return Err(self.type_error("Int64"));
        }
        a.as_primitive::<Int64Type>()
            .iter()
            .map(|v| match v {
                None => Ok(None),
                Some(x) => u64::try_from(x)
                    .map(Some)
                    .map_err(|_| ReportError::BadValue {
                        path: self.path.to_path_buf(),
                        line: 0,
                        column: self.name,
                        value: x.to_string(),
                    }),
            })
            .collect()
    }

    fn reals(&self) -> Result<Vec<Option<f64>>, ReportError> {
        let Some(a) = self.array else {
            return Ok(vec![]);
        };
        if a.data_type() != &DataType::Float64 {
            return Err(self.type_error("Float64"));
        }
        Ok(a.as_primitive::<Float64Type>().iter().collect())
    }

    fn flags(&self) -> Result<Vec<bool>, ReportError> {
        let Some(a) = self.array else {
            return Ok(vec![]);
        };
        if a.data_type() != &DataType::Boolean {
            return Err(self.type_error("Boolean"));
        }
        Ok(a.as_boolean().iter().map(|v| v.unwrap_or(true)).collect())
    }
}

/// Reads adoption.parquet.
pub fn read_parquet(path: &Path) -> Result<Vec<AdoptionRow>, ReportError> {
    let parquet_err = |e: &dyn std::fmt::Display| ReportError::Parquet {
        path: path.to_path_buf(),
        reason: e.to_string(),
    };
    let file = File::open(path).map_err(|source| ReportError::Io {
        op: "open",
        path: path.to_path_buf(),
        source,
    })?;
    let reader = ParquetRecordBatchReaderBuilder::try_new(file)
        .map_err(|e| parquet_err(&e))?
        .build()
        .map_err(|e| parquet_err(&e))?;
    let mut rows = vec![];
    for batch in reader {
        let batch = batch.map_err(|e| parquet_err(&e))?;
        let col = |name, required| Col::new(path, &batch, name, required);
        let scan = col("scan", true)?.strings()?;
        let grouping = col("grouping", true)?.strings()?;
        let group = col("group", true)?.strings()?;
        let metric = col("metric", true)?.strings()?;
        let applicable = col("applicable", true)?.counts()?;
        let adopted = col("adopted", true)?.counts()?;
        let rate = col("rate", true)?.reals()?;
        let ci_low = col("ci_low", true)?.reals()?;
        let ci_high = col("ci_high", true)?.reals()?;
        let errors = col("errors", true)?.counts()?;
        let available = col("available", false)?.flags()?;
        let error_rates = col("error_rate", false)?;
        let has_error_rate = error_rates.array.is_some();
        let error_rates = error_rates.reals()?;
        for i in 0..batch.num_rows() {
            rows.push(AdoptionRow {
                scan: scan[i].clone(),
                grouping: grouping[i].clone(),
                group: group[i].clone(),
                metric: metric[i].clone(),
                available: available.get(i).copied().unwrap_or(true),
                applicable: applicable[i],
                adopted: adopted[i],
                rate: rate[i],
                ci_low: ci_low[i],
                ci_high: ci_high[i],
                errors: errors[i],
                error_rate: if has_error_rate {
                    error_rates[i]
                } else {
                    error_rate(applicable[i], errors[i])
                },
            });
        }
    }
    Ok(rows)
}
