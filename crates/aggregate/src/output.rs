//! The files `uptake aggregate` writes: adoption.csv / .parquet / .json, changes.csv and
//! metrics.sql.

use std::fmt::Write as _;
use std::fs::{self, File};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow_array::{ArrayRef, BooleanArray, Float64Array, Int64Array, RecordBatch, StringArray};
use arrow_schema::{DataType, Field, Schema};
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::WriterProperties;
use serde_json::{json, Value};

use crate::engine::{AdoptionRow, Aggregate, Options};
use crate::metrics::metrics;
use crate::sql::metrics_sql;
use crate::AggregateError;

/// Columns of adoption.csv and adoption.parquet, in order.
pub const ADOPTION_COLUMNS: [&str; 13] = [
    "scan",
    "date",
    "grouping",
    "group",
    "metric",
    "available",
    "applicable",
    "adopted",
    "rate",
    "ci_low",
    "ci_high",
    "errors",
    "error_rate",
];

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

fn opt<T: ToString>(v: Option<T>) -> String {
    v.map(|v| v.to_string()).unwrap_or_default()
}

/// adoption.csv as text.
pub fn adoption_csv(rows: &[AdoptionRow]) -> String {
    let mut out = ADOPTION_COLUMNS.join(",");
    out.push('\n');
    for r in rows {
        let _ = writeln!(
            out,
            "{},{},{},{},{},{},{},{},{},{},{},{},{}",
            csv_field(&r.scan),
            r.date,
            csv_field(&r.grouping),
            csv_field(&r.group),
            r.metric,
            r.available,
            opt(r.applicable),
            opt(r.adopted),
            opt(r.rate),
            opt(r.ci_low),
            opt(r.ci_high),
            opt(r.errors),
            opt(r.error_rate)
        );
    }
    out
}

fn changes_csv(agg: &Aggregate) -> String {
    let mut out =
        String::from("from_scan,to_scan,grouping,group,metric,rate_from,rate_to,diff,z,p_value\n");
    for c in &agg.changes {
        let _ = writeln!(
            out,
            "{},{},{},{},{},{},{},{},{},{}",
            csv_field(&c.from_scan),
            csv_field(&c.to_scan),
            csv_field(&c.grouping),
            csv_field(&c.group),
            c.metric,
            c.rate_from,
            c.rate_to,
            c.diff,
            opt(c.z),
            opt(c.p_value)
        );
    }
    out
}

fn adoption_batch(rows: &[AdoptionRow]) -> Result<RecordBatch, arrow_schema::ArrowError> {
    let s = |f: fn(&AdoptionRow) -> &str| -> ArrayRef {
        Arc::new(StringArray::from_iter_values(rows.iter().map(f)))
    };
    let i = |f: fn(&AdoptionRow) -> Option<u64>| -> ArrayRef {
        Arc::new(Int64Array::from_iter(
            rows.iter().map(|r| f(r).map(|v| v as i64)),
        ))
    };
    let x = |f: fn(&AdoptionRow) -> Option<f64>| -> ArrayRef {
        Arc::new(Float64Array::from_iter(rows.iter().map(f)))
    };
    let columns: Vec<ArrayRef> = vec![
        s(|r| &r.scan),
        s(|r| &r.date),
        s(|r| &r.grouping),
        s(|r| &r.group),
        s(|r| &r.metric),
        Arc::new(BooleanArray::from_iter(
            rows.iter().map(|r| Some(r.available)),
        )),
        i(|r| r.applicable),
        i(|r| r.adopted),
        x(|r| r.rate),
        x(|r| r.ci_low),
        x(|r| r.ci_high),
        i(|r| r.errors),
        x(|r| r.error_rate),
    ];
    let fields: Vec<Field> = ADOPTION_COLUMNS
        .iter()
        .zip(&columns)
        .map(|(name, c)| {
            let nullable = !matches!(c.data_type(), DataType::Utf8 | DataType::Boolean);
            Field::new(*name, c.data_type().clone(), nullable)
        })
        .collect();
    RecordBatch::try_new(Arc::new(Schema::new(fields)), columns)
}

fn row_json(r: &AdoptionRow) -> Value {
    json!({
        "scan": r.scan, "date": r.date, "grouping": r.grouping, "group": r.group,
        "metric": r.metric, "available": r.available, "applicable": r.applicable,
        "adopted": r.adopted, "rate": r.rate, "ci_low": r.ci_low, "ci_high": r.ci_high,
        "errors": r.errors, "error_rate": r.error_rate,
    })
}

/// adoption.json: the metric definitions, the scans, every row and the changes.
pub fn adoption_json(agg: &Aggregate) -> Value {
    json!({
        "generated_by": format!("uptake {}", env!("CARGO_PKG_VERSION")),
        "metrics": metrics().iter().map(|m| json!({
            "id": m.id, "title": m.title, "standard": m.standard, "spec": m.spec,
            "kind": m.tier.as_str(), "applies_to": m.applies_to.to_string(),
            "adopted_when": m.adopted.to_string(), "note": m.note,
        })).collect::<Vec<_>>(),
        "scans": agg.scans.iter().map(|s| json!({
            "id": s.id, "date": s.date, "rows": s.rows, "files": s.files,
            "schema_version": s.schema_version, "unavailable": s.unavailable,
        })).collect::<Vec<_>>(),
        "groupings": agg.groupings.iter().map(|g| g.to_string()).collect::<Vec<_>>(),
        "sector_labels": agg.sector_labels,
        "rows": agg.rows.iter().map(row_json).collect::<Vec<_>>(),
        "changes": agg.changes.iter().map(|c| json!({
            "from_scan": c.from_scan, "to_scan": c.to_scan, "grouping": c.grouping,
            "group": c.group, "metric": c.metric, "rate_from": c.rate_from,
            "rate_to": c.rate_to, "diff": c.diff, "z": c.z, "p_value": c.p_value,
        })).collect::<Vec<_>>(),
    })
}

fn write(path: PathBuf, bytes: &[u8]) -> Result<(), AggregateError> {
    fs::write(&path, bytes).map_err(|source| AggregateError::Io {
        op: "write",
        path,
        source,
    })
}

/// Writes every output file into `dir` (created if needed) and returns their paths.
pub fn write_outputs(
    agg: &Aggregate,
    dataset: &Path,
    options: &Options,
    dir: &Path,
) -> Result<Vec<PathBuf>, AggregateError> {
    fs::create_dir_all(dir).map_err(|source| AggregateError::Io {
        op: "create",
        path: dir.to_path_buf(),
        source,
    })?;
    let mut written = vec![];
    let mut put = |name: &str, bytes: &[u8]| -> Result<(), AggregateError> {
        let path = dir.join(name);
        write(path.clone(), bytes)?;
        written.push(path);
        Ok(())
    };
    put("adoption.csv", adoption_csv(&agg.rows).as_bytes())?;
    put("changes.csv", changes_csv(agg).as_bytes())?;
    let json = serde_json::to_string_pretty(&adoption_json(agg)).expect("json values serialise");
    put("adoption.json", json.as_bytes())?;
    put(
        "metrics.sql",
        metrics_sql(dataset, &options.scans, &options.groupings).as_bytes(),
    )?;
    let path = dir.join("adoption.parquet");
    let parquet_err = |e: &dyn std::fmt::Display| AggregateError::Parquet {
        path: path.clone(),
        reason: e.to_string(),
    };
    let batch = adoption_batch(&agg.rows).map_err(|e| parquet_err(&e))?;
    let file = File::create(&path).map_err(|source| AggregateError::Io {
        op: "create",
        path: path.clone(),
        source,
    })?;
    let props = WriterProperties::builder()
        .set_compression(Compression::ZSTD(ZstdLevel::default()))
        .build();
    let mut w =
        ArrowWriter::try_new(file, batch.schema(), Some(props)).map_err(|e| parquet_err(&e))?;
    w.write(&batch).map_err(|e| parquet_err(&e))?;
    w.close().map_err(|e| parquet_err(&e))?;
    written.push(path);
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_quotes_only_when_needed() {
        assert_eq!(csv_field("NL|O"), "NL|O");
        assert_eq!(csv_field("unmapped: a, b"), "\"unmapped: a, b\"");
        assert_eq!(csv_field("say \"x\""), "\"say \"\"x\"\"\"");
    }
}
