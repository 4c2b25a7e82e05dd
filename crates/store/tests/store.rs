//! Integration tests of the dataset writer and reader: round trip, rolling, atomicity,
//! resume support and metadata.

use std::collections::HashSet;
use std::fs;
use std::path::{Path, PathBuf};

use arrow_array::cast::AsArray;
use arrow_array::types::{Int32Type, Int64Type, TimestampMicrosecondType};
use arrow_array::{Array, RecordBatch};
use arrow_schema::{DataType, TimeUnit};
use uptake_model::row::{ScanRow, COLUMNS};
use uptake_model::{Check, Finding, Status};
use uptake_store::{
    arrow_schema, committed_domains, read_key_value_metadata, read_rows, scan_dir, DatasetWriter,
    StoreError, WriterOptions,
};

const SCAN: &str = "s1";
const T0: i64 = 1_750_000_000_000_000;

fn extra() -> Vec<String> {
    vec!["rank".to_string(), "source list".to_string()]
}

/// A row whose content depends on `i`, with nulls, empty lists and varying statuses.
fn row(i: usize) -> ScanRow {
    let mut r = ScanRow::failed(
        format!("d{i}.example"),
        format!("D{i}.Example."),
        SCAN.to_string(),
        T0 + i as i64,
        "timeout",
    );
    r.extra = vec![
        if i.is_multiple_of(3) {
            None
        } else {
            Some(format!("{i}"))
        },
        Some("top".into()),
    ];
    if i.is_multiple_of(2) {
        r.registrable_domain = Some(format!("d{i}.example"));
        r.public_suffix = Some("example".into());
        r.country = Some("NL".into());
        r.dns_rcode = Some("NOERROR".into());
        r.dns_queries = i as i64;
        r.dnssec = Finding::of(Status::Secure);
        r.dnssec_evidence.ede = vec![];
        r.dnssec_evidence.algorithms = vec![13, 8];
        r.dnssec_evidence.rsa_min_bits = Some(2048);
        r.dnssec_evidence.denial = Some("nsec3".into());
        r.ns_hosts = vec!["ns1.example".into(), "ns2.example".into()];
        r.mx = Finding::of(Status::NullMx);
        r.spf = Finding::with_reason(Status::Permerror, "too many lookups");
        r.spf_dns_lookups = Some(11);
        r.dmarc_rua = vec!["mailto:a@b".into()];
        r.web_apex_aaaa = Some(true);
        r.web_www_exists = Some(false);
        // Checks not run in this scan: null statuses.
        r.connected = Default::default();
    }
    r
}

fn opts(batch_rows: usize, rows_per_part: usize) -> WriterOptions {
    WriterOptions {
        batch_rows,
        rows_per_part,
        key_value_metadata: vec![("uptake.config_hash".into(), "abc123".into())],
        ..WriterOptions::default()
    }
}

fn write(
    dataset: &Path,
    shard: &str,
    rows: impl IntoIterator<Item = ScanRow>,
    o: WriterOptions,
) -> Vec<PathBuf> {
    let mut w = DatasetWriter::create(dataset, SCAN, shard, extra(), o).unwrap();
    for r in rows {
        w.write(&r).unwrap();
    }
    w.finish().unwrap().parts
}

fn names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

fn total_rows(batches: &[RecordBatch]) -> usize {
    batches.iter().map(|b| b.num_rows()).sum()
}

/// Reads one cell back as text comparable with the model value.
fn cell(batch: &RecordBatch, col: &str, i: usize) -> String {
    let a = batch
        .column_by_name(col)
        .unwrap_or_else(|| panic!("no column {col}"));
    if a.is_null(i) {
        return "null".into();
    }
    match a.data_type() {
        DataType::Utf8 => a.as_string::<i32>().value(i).to_string(),
        DataType::Int64 => a.as_primitive::<Int64Type>().value(i).to_string(),
        DataType::Boolean => a.as_boolean().value(i).to_string(),
        DataType::Dictionary(_, _) => {
            let d = a.as_dictionary::<Int32Type>();
            let key = d.keys().value(i) as usize;
            d.values().as_string::<i32>().value(key).to_string()
        }
        DataType::Timestamp(TimeUnit::Microsecond, _) => a
            .as_primitive::<TimestampMicrosecondType>()
            .value(i)
            .to_string(),
        DataType::List(_) => {
            let l = a.as_list::<i32>();
            let v = l.value(i);
            let items: Vec<String> = match v.data_type() {
                DataType::Utf8 => v
                    .as_string::<i32>()
                    .iter()
                    .map(|s| s.unwrap().to_string())
                    .collect(),
                DataType::Int64 => v
                    .as_primitive::<Int64Type>()
                    .iter()
                    .map(|x| x.unwrap().to_string())
                    .collect(),
                t => panic!("list of {t}"),
            };
            format!("[{}]", items.join(","))
        }
        t => panic!("unexpected type {t}"),
    }
}

fn expected(r: &ScanRow) -> Vec<(String, String)> {
    use uptake_model::row::Value;
    let mut out: Vec<(String, String)> = COLUMNS
        .iter()
        .zip(r.values())
        .map(|(c, v)| {
            let text = match v {
                Value::Str(s) => s.map_or("null".into(), str::to_string),
                Value::Status(s) => s.map_or("null".into(), |s| s.as_str().to_string()),
                Value::Int(x) => x.map_or("null".into(), |x| x.to_string()),
                Value::Bool(b) => b.map_or("null".into(), |b| b.to_string()),
                Value::StrList(l) => format!("[{}]", l.join(",")),
                Value::IntList(l) => {
                    format!(
                        "[{}]",
                        l.iter()
                            .map(|x| x.to_string())
                            .collect::<Vec<_>>()
                            .join(",")
                    )
                }
                Value::Timestamp(t) => t.to_string(),
            };
            (c.name.to_string(), text)
        })
        .collect();
    for (name, v) in extra().into_iter().zip(&r.extra) {
        out.push((name, v.clone().unwrap_or_else(|| "null".into())));
    }
    out
}

#[test]
fn round_trip_values_and_types() {
    let tmp = tempfile::tempdir().unwrap();
    let mut rows: Vec<ScanRow> = (0..50).map(row).collect();
    // Every status word in some status column, with and without a reason.
    for (i, s) in Status::ALL.iter().enumerate() {
        let check = Check::ALL[i % Check::ALL.len()];
        let mut r = row(100 + i);
        let f = if i % 2 == 0 {
            Finding::of(*s)
        } else {
            Finding::with_reason(*s, format!("why {s}"))
        };
        r.set_finding(check, f);
        rows.push(r);
    }
    // Non-ASCII, empty strings and a null in every nullable kind.
    let mut odd = row(1);
    odd.organisation = Some("Gemeente ’s-Hertogenbosch | <b>".into());
    odd.sector = Some(String::new());
    odd.caa_records = vec![String::new(), "0 issue \"letsencrypt.org\"".into()];
    odd.extra = vec![None, None];
    rows.push(odd);

    let parts = write(tmp.path(), "0of1", rows.clone(), opts(7, 1_000_000));
    assert_eq!(parts.len(), 1);
    let batches = read_rows(&parts[0]).unwrap();
    assert_eq!(total_rows(&batches), rows.len());

    let schema = batches[0].schema();
    let expected_schema = arrow_schema(&extra());
    assert_eq!(
        schema.fields(),
        expected_schema.fields(),
        "schema read back"
    );
    assert_eq!(
        schema.field_with_name("scanned_at").unwrap().data_type(),
        &DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()))
    );
    assert_eq!(schema.field(9).name(), "rank", "extras follow scanned_at");

    let mut k = 0;
    for batch in &batches {
        for i in 0..batch.num_rows() {
            for (name, want) in expected(&rows[k]) {
                assert_eq!(cell(batch, &name, i), want, "row {k} column {name}");
            }
            k += 1;
        }
    }
    assert_eq!(k, rows.len());
}

#[test]
fn rolls_parts_and_reads_directory() {
    let tmp = tempfile::tempdir().unwrap();
    let parts = write(tmp.path(), "0of2", (0..2500).map(row), opts(300, 1000));
    assert_eq!(parts.len(), 3);
    let dir = scan_dir(tmp.path(), SCAN);
    assert_eq!(
        names(&dir),
        [
            "part-0of2-00000.parquet",
            "part-0of2-00001.parquet",
            "part-0of2-00002.parquet"
        ]
    );
    let sizes: Vec<usize> = parts
        .iter()
        .map(|p| total_rows(&read_rows(p).unwrap()))
        .collect();
    assert_eq!(sizes, [1000, 1000, 500]);
    // The directory reads in part order; the whole dataset reads recursively.
    let all = read_rows(&dir).unwrap();
    assert_eq!(total_rows(&all), 2500);
    assert_eq!(cell(&all[0], "domain", 0), "d0.example");
    assert_eq!(total_rows(&read_rows(tmp.path()).unwrap()), 2500);

    // A second writer of the same shard continues the numbering; another shard has its own.
    let more = write(tmp.path(), "0of2", (2500..2600).map(row), opts(300, 1000));
    assert_eq!(more, [dir.join("part-0of2-00003.parquet")]);
    let other = write(
        tmp.path(),
        "1of2",
        (3000..3010).map(row),
        WriterOptions::default(),
    );
    assert_eq!(other, [dir.join("part-1of2-00000.parquet")]);

    let domains = committed_domains(tmp.path(), SCAN).unwrap();
    assert_eq!(domains.len(), 2610);
    assert!(domains.contains("d2599.example") && domains.contains("d3009.example"));
}

#[test]
fn row_groups_end_at_the_byte_bound_so_memory_does_not_grow_with_the_part() {
    let tmp = tempfile::tempdir().unwrap();
    let row_groups = |o: WriterOptions| {
        let parts = write(tmp.path(), "0of1", (0..4000).map(row), o);
        assert_eq!(parts.len(), 1);
        let file = fs::File::open(&parts[0]).unwrap();
        let reader = parquet::file::reader::SerializedFileReader::new(file).unwrap();
        let n = parquet::file::reader::FileReader::metadata(&reader).num_row_groups();
        fs::remove_dir_all(scan_dir(tmp.path(), SCAN)).unwrap();
        n
    };
    // By default 4,000 rows are far below both bounds: one row group.
    assert_eq!(row_groups(opts(500, 100_000)), 1);
    // With a 64 KiB bound the groups end every few batches of 500 rows; the rows are all there.
    let bounded = WriterOptions {
        row_group_bytes: 64 * 1024,
        ..opts(500, 100_000)
    };
    let n = row_groups(bounded.clone());
    assert!((2..=8).contains(&n), "{n} row groups");
    let parts = write(tmp.path(), "0of1", (0..4000).map(row), bounded);
    assert_eq!(total_rows(&read_rows(&parts[0]).unwrap()), 4000);
}

#[test]
fn exact_multiple_does_not_leave_empty_part() {
    let tmp = tempfile::tempdir().unwrap();
    let parts = write(tmp.path(), "0of1", (0..200).map(row), opts(50, 100));
    assert_eq!(parts.len(), 2);
    assert_eq!(names(&scan_dir(tmp.path(), SCAN)).len(), 2);
    // No rows: nothing committed.
    let w = DatasetWriter::create(
        tmp.path(),
        "empty",
        "0of1",
        vec![],
        WriterOptions::default(),
    )
    .unwrap();
    let summary = w.finish().unwrap();
    assert!(summary.parts.is_empty() && summary.rows == 0);
    assert!(read_rows(&scan_dir(tmp.path(), "empty"))
        .unwrap()
        .is_empty());
}

#[test]
fn crash_leaves_only_tmp_and_next_writer_cleans_it() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = scan_dir(tmp.path(), SCAN);
    // A committed part from before, then a writer that "crashes" mid-part.
    write(tmp.path(), "0of1", (0..10).map(row), opts(4, 10));
    {
        let mut w =
            DatasetWriter::create(tmp.path(), SCAN, "0of1", extra(), opts(4, 1000)).unwrap();
        for i in 10..25 {
            w.write(&row(i)).unwrap();
        }
        drop(w);
    }
    // A tmp of another shard must survive the cleanup below.
    fs::write(dir.join(".part-1of2-00000.parquet.tmp"), b"x").unwrap();
    assert_eq!(
        names(&dir),
        [
            ".part-0of1-00001.parquet.tmp",
            ".part-1of2-00000.parquet.tmp",
            "part-0of1-00000.parquet"
        ]
    );
    // Readers ignore the tmp.
    assert_eq!(total_rows(&read_rows(&dir).unwrap()), 10);
    assert_eq!(committed_domains(tmp.path(), SCAN).unwrap().len(), 10);

    let mut w = DatasetWriter::create(tmp.path(), SCAN, "0of1", extra(), opts(4, 1000)).unwrap();
    assert_eq!(
        names(&dir),
        [".part-1of2-00000.parquet.tmp", "part-0of1-00000.parquet"]
    );
    for i in 10..25 {
        w.write(&row(i)).unwrap();
    }
    let summary = w.finish().unwrap();
    assert_eq!(summary.rows, 15);
    assert_eq!(summary.parts, [dir.join("part-0of1-00001.parquet")]);
    let domains = committed_domains(tmp.path(), SCAN).unwrap();
    let want: HashSet<String> = (0..25).map(|i| format!("d{i}.example")).collect();
    assert_eq!(domains, want);
}

#[test]
fn committed_domains_of_missing_scan_is_empty() {
    let tmp = tempfile::tempdir().unwrap();
    assert!(committed_domains(tmp.path(), "nope").unwrap().is_empty());
}

#[test]
fn metadata_keys_present() {
    let tmp = tempfile::tempdir().unwrap();
    let parts = write(tmp.path(), "0of1", (0..3).map(row), opts(8192, 1_000_000));
    let kv = read_key_value_metadata(&parts[0]).unwrap();
    assert_eq!(
        kv.get("uptake.schema_version").map(String::as_str),
        Some(uptake_store::SCHEMA_VERSION)
    );
    assert_eq!(
        kv.get("uptake.version").map(String::as_str),
        Some(env!("CARGO_PKG_VERSION"))
    );
    assert_eq!(kv.get("uptake.scan_id").map(String::as_str), Some(SCAN));
    assert_eq!(
        kv.get("uptake.config_hash").map(String::as_str),
        Some("abc123")
    );
    assert!(kv.contains_key("ARROW:schema"), "arrow schema embedded");
    // Field docs survive the round trip.
    let batches = read_rows(&parts[0]).unwrap();
    let schema = batches[0].schema();
    let f = schema.field_with_name("dmarc_status").unwrap();
    assert!(f
        .metadata()
        .get("doc")
        .is_some_and(|d| d.contains("reject")));
}

#[test]
fn rejects_bad_input_with_path_in_message() {
    let tmp = tempfile::tempdir().unwrap();
    let err = DatasetWriter::create(tmp.path(), "a/b", "0of1", vec![], WriterOptions::default())
        .unwrap_err();
    assert!(
        matches!(
            err,
            StoreError::InvalidName {
                what: "scan id",
                ..
            }
        ),
        "{err}"
    );
    let err = DatasetWriter::create(
        tmp.path(),
        SCAN,
        "0of1",
        vec!["domain".into()],
        WriterOptions::default(),
    )
    .unwrap_err();
    assert!(err.to_string().contains("duplicates"), "{err}");

    let mut w =
        DatasetWriter::create(tmp.path(), SCAN, "0of1", extra(), WriterOptions::default()).unwrap();
    let mut r = row(1);
    r.extra = vec![];
    let err = w.write(&r).unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains("d1.example") && msg.contains("scan=s1") && !msg.contains('\n'),
        "{msg}"
    );
    // The writer is still usable after a rejected row.
    w.write(&row(2)).unwrap();
    assert_eq!(w.finish().unwrap().rows, 1);

    let err = read_rows(&tmp.path().join("missing.parquet")).unwrap_err();
    assert!(err.to_string().contains("missing.parquet"), "{err}");
    let bad = tmp.path().join("bad.parquet");
    fs::write(&bad, b"not parquet").unwrap();
    let err = read_rows(&bad).unwrap_err();
    assert!(
        err.to_string().contains("bad.parquet") && !err.to_string().contains('\n'),
        "{err}"
    );
}
