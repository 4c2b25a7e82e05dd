//! The files `uptake aggregate` writes: adoption.csv / .parquet / .json, changes.csv and
//! metrics.sql.

use std::fs::{self, File};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow_array::{ArrayRef, BooleanArray, Float64Array, Int64Array, RecordBatch, StringArray};
use arrow_schema::{DataType, Field, Schema};
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::WriterProperties;
use serde_json::{json, Value};

use crate::engine::{AdoptionRow, Aggregate, ChangeRow, Options};
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

/// Writes adoption.csv.
fn adoption_csv(rows: &[AdoptionRow], out: &mut impl Write) -> std::io::Result<()> {
    writeln!(out, "{}", ADOPTION_COLUMNS.join(","))?;
    for r in rows {
        writeln!(
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
        )?;
    }
    Ok(())
}

/// Writes changes.csv.
fn changes_csv(agg: &Aggregate, out: &mut impl Write) -> std::io::Result<()> {
    writeln!(
        out,
        "from_scan,to_scan,grouping,group,metric,rate_from,rate_to,diff,z,p_value"
    )?;
    for c in &agg.changes {
        writeln!(
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
        )?;
    }
    Ok(())
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

fn change_json(c: &ChangeRow) -> Value {
    json!({
        "from_scan": c.from_scan, "to_scan": c.to_scan, "grouping": c.grouping,
        "group": c.group, "metric": c.metric, "rate_from": c.rate_from,
        "rate_to": c.rate_to, "diff": c.diff, "z": c.z, "p_value": c.p_value,
    })
}

/// Writes `"key": [items]`, one item per line, without building the whole array in memory.
fn json_array<T>(
    out: &mut impl Write,
    key: &str,
    items: &[T],
    f: impl Fn(&T) -> Value,
) -> std::io::Result<()> {
    write!(out, "  {}: [", Value::from(key))?;
    for (i, item) in items.iter().enumerate() {
        out.write_all(if i == 0 { b"\n    " } else { b",\n    " })?;
        serde_json::to_writer(&mut *out, &f(item))?;
    }
    write!(out, "\n  ]")
}

/// Writes adoption.json: the metric definitions, the scans, the groupings, the sector labels,
/// every row and the changes (streamed: rows can be millions with `--by organisation`).
fn adoption_json(agg: &Aggregate, out: &mut impl Write) -> std::io::Result<()> {
    let head = json!({
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
    });
    writeln!(out, "{{")?;
    if let Value::Object(map) = head {
        for (key, value) in map {
            write!(out, "  {}: ", Value::from(key))?;
            serde_json::to_writer(&mut *out, &value)?;
            writeln!(out, ",")?;
        }
    }
    json_array(out, "rows", &agg.rows, row_json)?;
    writeln!(out, ",")?;
    json_array(out, "changes", &agg.changes, change_json)?;
    writeln!(out, "\n}}")
}

fn create(path: &Path) -> Result<BufWriter<File>, AggregateError> {
    File::create(path)
        .map(|f| BufWriter::with_capacity(1 << 20, f))
        .map_err(|source| AggregateError::Io {
            op: "create",
            path: path.to_path_buf(),
            source,
        })
}

/// Writes one output file with `f`.
fn write_with(
    path: &Path,
    f: impl FnOnce(&mut BufWriter<File>) -> std::io::Result<()>,
) -> Result<(), AggregateError> {
    let mut w = create(path)?;
    f(&mut w)
        .and_then(|()| w.flush())
        .map_err(|source| AggregateError::Io {
            op: "write",
            path: path.to_path_buf(),
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
    let written: Vec<PathBuf> = [
        "adoption.csv",
        "changes.csv",
        "adoption.json",
        "metrics.sql",
        "adoption.parquet",
    ]
    .iter()
    .map(|name| dir.join(name))
    .collect();
    write_with(&written[0], |w| adoption_csv(&agg.rows, w))?;
    write_with(&written[1], |w| changes_csv(agg, w))?;
    write_with(&written[2], |w| adoption_json(agg, w))?;
    write_with(&written[3], |w| {
        w.write_all(metrics_sql(dataset, &options.scans, &options.groupings).as_bytes())
    })?;
    let path = &written[4];
    let parquet_err = |e: &dyn std::fmt::Display| AggregateError::Parquet {
        path: path.clone(),
        reason: e.to_string(),
    };
    let batch = adoption_batch(&agg.rows).map_err(|e| parquet_err(&e))?;
    let props = WriterProperties::builder()
        .set_compression(Compression::ZSTD(ZstdLevel::default()))
        .build();
    let mut w = ArrowWriter::try_new(create(path)?, batch.schema(), Some(props))
        .map_err(|e| parquet_err(&e))?;
    w.write(&batch).map_err(|e| parquet_err(&e))?;
    w.close().map_err(|e| parquet_err(&e))?;
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

    #[test]
    fn json_is_valid_and_complete() {
        let row = AdoptionRow {
            scan: "s".into(),
            date: "2026-11-01".into(),
            grouping: "country".into(),
            group: "NL".into(),
            metric: "dnssec".into(),
            available: true,
            applicable: Some(4),
            adopted: Some(1),
            errors: Some(0),
            rate: Some(0.25),
            ci_low: Some(0.1),
            ci_high: Some(0.7),
            error_rate: Some(0.0),
        };
        let agg = Aggregate {
            scans: vec![],
            groupings: vec![crate::Grouping::all()],
            rows: vec![row.clone(), row],
            changes: vec![],
            sector_labels: [("Banking".to_string(), "K".to_string())].into(),
        };
        let mut out = vec![];
        adoption_json(&agg, &mut out).unwrap();
        let v: Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(v["rows"].as_array().unwrap().len(), 2);
        assert_eq!(v["rows"][1]["rate"], 0.25);
        assert_eq!(v["changes"], json!([]));
        assert_eq!(v["sector_labels"]["Banking"], "K");
        assert_eq!(v["metrics"].as_array().unwrap().len(), metrics().len());
    }
}
