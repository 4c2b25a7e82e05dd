//! `uptake aggregate` on a scan of the private internet: its rates equal the rates computed
//! from truth.csv, and DuckDB running the generated metrics.sql over the same Parquet files
//! gives the same counts for every metric and group.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use arrow_array::cast::AsArray;
use arrow_array::Array;

use uptake_aggregate::cond::Cond;
use uptake_aggregate::metrics::metrics;
use uptake_model::SECTORS;

use crate::harness::{csv_rows, in_testbed, python, run, testbed, testbed_scan, uptake};

/// (scan, grouping, group, metric).
pub(crate) type Key = (String, String, String, String);

/// adoption.csv as (scan, grouping, group, metric) -> (applicable, adopted, errors).
pub(crate) fn adoption_counts(path: &Path) -> BTreeMap<Key, (u64, u64, u64)> {
    csv_rows(path)
        .into_iter()
        .map(|r| {
            assert_eq!(r["available"], "true", "{r:?}");
            let n = |c: &str| r[c].parse::<u64>().unwrap_or_else(|_| panic!("{c}: {r:?}"));
            (
                (
                    r["scan"].clone(),
                    r["grouping"].clone(),
                    r["group"].clone(),
                    r["metric"].clone(),
                ),
                (n("applicable"), n("adopted"), n("errors")),
            )
        })
        .collect()
}

/// Runs the metrics.sql of `uptake aggregate --out stats` in DuckDB and asserts that it gives
/// the same (applicable, adopted, errors) as adoption.csv (`ours`) for every key.
pub(crate) fn assert_duckdb_agrees(stats: &Path, ours: &BTreeMap<Key, (u64, u64, u64)>) {
    let duck = stats.join("duckdb.csv");
    let py = format!(
        r#"
import duckdb, csv
sql = open("{sql}").read()
con = duckdb.connect()
statements = [s for s in sql.split(";\n") if any(l.strip() and not l.startswith("--") for l in s.splitlines())]
for s in statements[:-1]:
    con.execute(s)
res = con.execute(statements[-1])
cols = [d[0] for d in res.description]
with open("{out}", "w", newline="") as f:
    w = csv.writer(f)
    w.writerow(["scan", "grouping", "group", "metric", "applicable", "adopted", "errors", "available"])
    for row in res.fetchall():
        d = dict(zip(cols, row))
        for c in cols:
            if c.endswith("_applicable"):
                m = c[: -len("_applicable")]
                w.writerow([d["scan"], d["grouping"], d["grp"], m, d[c], d[m + "_adopted"], d[m + "_errors"], "true"])
"#,
        sql = stats.join("metrics.sql").display(),
        out = duck.display()
    );
    let out = run(python().args(["-c", &py]));
    assert!(out.status.success(), "duckdb could not run metrics.sql");
    let theirs = adoption_counts(&duck);
    assert_eq!(
        ours.len(),
        theirs.len(),
        "same (scan, grouping, group, metric) keys"
    );
    let diffs: Vec<String> = ours
        .iter()
        .filter(|(k, v)| theirs.get(*k) != Some(v))
        .map(|(k, v)| format!("{k:?}: uptake {v:?}, duckdb {:?}", theirs.get(k)))
        .collect();
    assert!(
        diffs.is_empty(),
        "uptake and DuckDB differ:\n{}",
        diffs.join("\n")
    );
}

/// The test's own reading of a condition over one truth.csv row (strings; empty is null;
/// lists are space-separated), independent of the aggregator's vectorised evaluator.
fn holds(c: &Cond, row: &HashMap<String, String>) -> bool {
    let get = |col: &str| row.get(col).map(String::as_str).filter(|v| !v.is_empty());
    match c {
        Cond::True => true,
        Cond::Status { check, any_of } => {
            let v = get(&check.status_column()).expect("status present");
            any_of.iter().any(|s| s.as_str() == v)
        }
        Cond::Int { column, op, value } => get(column)
            .map(|v| op.holds(v.parse().expect("int"), *value))
            .unwrap_or(false),
        Cond::IsTrue { column } => get(column) == Some("true"),
        Cond::StrIn { column, values } => get(column).is_some_and(|v| values.contains(&v)),
        Cond::StrPrefix { column, prefixes } => {
            get(column).is_some_and(|v| prefixes.iter().any(|p| v.starts_with(p)))
        }
        Cond::ListAllIn { column, values } => {
            get(column).is_some_and(|v| v.split(' ').all(|item| values.contains(&item)))
        }
        Cond::ListNonEmpty { column } => get(column).is_some(),
        Cond::And(cs) => cs.iter().all(|c| holds(c, row)),
        Cond::Or(cs) => cs.iter().any(|c| holds(c, row)),
    }
}

#[test]
fn aggregate_agrees_with_truth_and_with_duckdb() {
    let dir = testbed();
    let work = tempfile::tempdir().expect("tempdir");
    let data = work.path().join("data");
    // The DNS and mail checks (scan.rs proves every status of them equals the truth): the
    // mail metrics are compared with truth.csv and DuckDB too.
    let script = testbed_scan("dns,mail", &dir.join("targets.csv"), &data, "agg");
    let out = in_testbed(dir, &script);
    assert!(out.status.success(), "scan failed");
    let stats = work.path().join("stats");
    let out = run(uptake()
        .arg("aggregate")
        .arg(&data)
        .args([
            "--by",
            "country",
            "--by",
            "sector",
            "--by",
            "country,sector",
            "--by",
            "organisation",
            "--out",
        ])
        .arg(&stats));
    assert!(out.status.success(), "aggregate failed");
    for f in [
        "adoption.csv",
        "adoption.parquet",
        "adoption.json",
        "changes.csv",
        "metrics.sql",
    ] {
        assert!(stats.join(f).is_file(), "{f} missing");
    }
    let ours = adoption_counts(&stats.join("adoption.csv"));
    let n_metrics = metrics().len();
    assert_eq!(ours.len() % n_metrics, 0);

    // 1. DuckDB over the same files with the generated SQL: the same counts, every key.
    assert_duckdb_agrees(&stats, &ours);
    for grouping in ["all", "country", "sector", "country,sector", "organisation"] {
        assert!(ours.keys().any(|k| k.1 == grouping), "no {grouping} rows");
    }

    // 2. Rates from truth.csv for every metric whose inputs truth.csv has. A domain the scan
    // could not measure (an `error` status, e.g. a DNS timeout on a loaded machine) must be
    // counted as an error by uptake and left out of its denominator; every other domain
    // counts as truth says.
    let truth = csv_rows(&dir.join("truth.csv"));
    let header: Vec<String> = truth[0].keys().cloned().collect();
    let mut context: HashMap<String, (String, String)> = HashMap::new();
    let mut scan_errors: HashMap<String, Vec<String>> = HashMap::new();
    // Status columns the scan measured (not null in some row): the web checks, pq_kex and rpki
    // stay null in this scan.
    let mut measured: std::collections::HashSet<String> = std::collections::HashSet::new();
    for batch in uptake_store::read_rows(&data).expect("read scan") {
        let col = |name: &str| {
            batch
                .column_by_name(name)
                .unwrap()
                .as_any()
                .downcast_ref::<arrow_array::StringArray>()
                .unwrap()
                .clone()
        };
        let (d, c, s) = (col("domain"), col("country"), col("sector"));
        for i in 0..batch.num_rows() {
            context.insert(
                d.value(i).to_string(),
                (c.value(i).to_string(), s.value(i).to_string()),
            );
        }
        for (field, array) in batch.schema().fields().iter().zip(batch.columns()) {
            let Some(dict) = array.as_any_dictionary_opt() else {
                continue;
            };
            if array.null_count() < array.len() {
                measured.insert(field.name().clone());
            }
            let words = dict
                .values()
                .as_any()
                .downcast_ref::<arrow_array::StringArray>()
                .unwrap();
            for (i, k) in dict.normalized_keys().into_iter().enumerate() {
                if array.is_valid(i) && words.value(k) == "error" {
                    scan_errors
                        .entry(d.value(i).to_string())
                        .or_default()
                        .push(field.name().clone());
                }
            }
        }
    }
    let erred: usize = scan_errors.len();
    assert!(
        erred * 100 < truth.len(),
        "{erred} domains with errors in the scan: {scan_errors:?}"
    );
    let mut compared = vec![];
    for m in metrics() {
        let inputs = m.columns();
        if !inputs.iter().all(|(c, _)| header.contains(c))
            || !m.status_columns().iter().all(|c| measured.contains(c))
        {
            continue;
        }
        compared.push(m.id);
        let statuses = m.status_columns();
        let mut expected: BTreeMap<(String, String), (u64, u64, u64)> = BTreeMap::new();
        for row in &truth {
            let (country, label) = &context[&row["domain"]];
            let section = SECTORS
                .iter()
                .find(|(l, _)| l == label)
                .unwrap_or_else(|| panic!("testbed sector {label}"))
                .1;
            assert_eq!(country.len(), 2, "testbed lists give alpha-2 countries");
            let error = scan_errors
                .get(&row["domain"])
                .is_some_and(|cols| cols.iter().any(|c| statuses.contains(c)));
            let applicable = !error && holds(&m.applies_to, row);
            let adopted = applicable && holds(&m.adopted, row);
            for key in [
                ("all".to_string(), "all".to_string()),
                ("country".into(), country.clone()),
                ("sector".into(), section.to_string()),
                ("country,sector".into(), format!("{country}|{section}")),
            ] {
                let e = expected.entry(key).or_default();
                e.0 += applicable as u64;
                e.1 += adopted as u64;
                e.2 += error as u64;
            }
        }
        for ((grouping, group), counts) in expected {
            let key = ("agg".to_string(), grouping, group, m.id.to_string());
            let got = ours.get(&key).unwrap_or_else(|| panic!("no row {key:?}"));
            assert_eq!(
                *got, counts,
                "{key:?}: uptake (applicable, adopted, errors) vs truth"
            );
        }
    }
    // The DNS and mail metrics must be among them; a renamed truth column must not skip
    // them silently. (starttls and dane need per-MX evidence truth.csv does not hold:
    // mx_certificates, dane_mx_secure; scan.rs compares their statuses.)
    for id in [
        "dnssec",
        "ns_ipv6",
        "spf",
        "dmarc",
        "tls_rpt",
        "mta_sts_record",
        "mail_anti_spoofing",
        "mta_sts",
        "mx_ipv6",
    ] {
        assert!(
            compared.contains(&id),
            "{id} not compared with truth ({compared:?})"
        );
    }
}

#[test]
fn metrics_lists_every_metric() {
    let out = run(uptake().arg("metrics"));
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    for m in metrics() {
        assert!(text.contains(&format!("{} [", m.id)), "{}", m.id);
    }
    let out = run(uptake().args(["metrics", "--markdown"]));
    let md = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/metrics.md"),
    )
    .expect("docs/metrics.md");
    assert_eq!(String::from_utf8_lossy(&out.stdout), md);
}

#[test]
fn aggregate_bad_input_fails_with_one_clear_line() {
    let work = tempfile::tempdir().expect("tempdir");
    let data = work.path().join("data");
    let scan = data.join("scan=x");
    std::fs::create_dir_all(&scan).expect("mkdir");
    std::fs::write(scan.join("part-0of1-00000.parquet"), b"PAR1 but not really").expect("write");
    let out = uptake()
        .arg("aggregate")
        .arg(&data)
        .arg("--out")
        .arg(work.path().join("o"))
        .output()
        .expect("spawn");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("is not a readable Parquet file"), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    let out = uptake()
        .arg("aggregate")
        .arg(&data)
        .args(["--by", "continent", "--out"])
        .arg(work.path().join("o"))
        .output()
        .expect("spawn");
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown dimension 'continent'"));
}
