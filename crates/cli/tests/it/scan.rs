//! `uptake scan` over the private internet agrees with the generator's truth, domain by domain,
//! for every DNS, mail and web check, and its Parquet output opens in DuckDB and pyarrow.

use std::collections::HashMap;
use std::path::Path;

use uptake_model::Check;

use crate::harness::{csv_rows, in_testbed, python, run, testbed, testbed_scan, uptake};

/// Columns compared besides the statuses: (truth column, scan column).
const EVIDENCE: &[(&str, &str)] = &[
    ("mx_hosts_with_aaaa", "mx_hosts_with_aaaa"),
    ("apex_aaaa", "web_apex_aaaa"),
    ("www_aaaa", "web_www_aaaa"),
    ("caa_found_at", "caa_found_at"),
    ("dmarc_source", "dmarc_source"),
    ("zone", "zone"),
];

/// Evidence the scan splits over two columns, put back in truth.csv's form: the denial of
/// existence as `nsec` or `nsec3:<iterations>`.
const DERIVED: &[(&str, &str)] = &[(
    "dnssec_denial",
    "dnssec_denial || coalesce(':' || CAST(dnssec_nsec3_iterations AS VARCHAR), '')",
)];

/// Evidence truth.csv does not hold, compared between the two scans only: the records as
/// found. Resolvers rotate RRsets, so these show whether the scan writes them in an order of
/// its own.
const RECORDS: &[&str] = &[
    "caa_records",
    "caa_issuers",
    "dmarc_record",
    "spf_record",
    "tls_rpt_record",
    "mx_hosts",
    "ns_hosts",
];

fn export_sql(dataset: &Path, scan: &str, out: &Path) -> String {
    let mut cols: Vec<String> = vec!["domain".into()];
    cols.extend(Check::ALL.iter().flat_map(|c| {
        [c.status_column(), format!("{}_reason", c.id())]
            .map(|col| format!("coalesce(CAST({col} AS VARCHAR), '') AS {col}"))
    }));
    cols.extend(
        EVIDENCE
            .iter()
            .map(|(_, s)| format!("coalesce(CAST({s} AS VARCHAR), '') AS {s}")),
    );
    cols.extend(
        DERIVED
            .iter()
            .map(|(name, expr)| format!("coalesce({expr}, '') AS {name}")),
    );
    cols.extend(
        RECORDS
            .iter()
            .map(|c| format!("coalesce(CAST({c} AS VARCHAR), '') AS {c}")),
    );
    format!(
        "COPY (SELECT {} FROM read_parquet('{}/scan={scan}/*.parquet') ORDER BY domain) TO '{}' (HEADER)",
        cols.join(", "),
        dataset.display(),
        out.display()
    )
}

#[test]
fn scan_agrees_with_truth_and_opens_in_duckdb_and_pyarrow() {
    let dir = testbed();
    let work = tempfile::tempdir().expect("tempdir");
    let data = work.path().join("data");
    // Every check, twice (the two scans must agree). A step that times out is tried once
    // more, so the comparison with truth is exact.
    let script = format!(
        "set -e; for id in first second; do {}; done",
        testbed_scan("all", &dir.join("targets.csv"), &data, "$id")
    );
    let started = std::time::Instant::now();
    let out = in_testbed(dir, &script);
    assert!(out.status.success(), "scan failed");
    eprintln!(
        "two scans (all checks) in {:.0}s\n{}",
        started.elapsed().as_secs_f64(),
        String::from_utf8_lossy(&out.stderr)
    );

    // Read back with DuckDB (an independent Parquet reader) and check the types with pyarrow.
    let first = work.path().join("first.csv");
    let second = work.path().join("second.csv");
    let py = format!(
        r#"
import duckdb, pyarrow.parquet as pq, glob, sys
con = duckdb.connect()
con.execute("""{}""")
con.execute("""{}""")
parts = glob.glob("{d}/scan=first/*.parquet")
assert parts, "no part files"
schema = pq.read_schema(parts[0])
assert str(schema.field("dnssec_status").type).startswith("dictionary"), schema.field("dnssec_status").type
assert str(schema.field("scanned_at").type) == "timestamp[us, tz=UTC]", schema.field("scanned_at").type
assert str(schema.field("mx_hosts").type) == "list<item: string>" or str(schema.field("mx_hosts").type).startswith("list<"), schema.field("mx_hosts").type
meta = pq.read_metadata(parts[0]).metadata
assert meta[b"uptake.scan_id"] == b"first", meta
n = con.execute("SELECT count(*) FROM read_parquet('{d}/scan=first/*.parquet')").fetchone()[0]
print("rows", n)
"#,
        export_sql(&data, "first", &first),
        export_sql(&data, "second", &second),
        d = data.display()
    );
    let out = run(python().args(["-c", &py]));
    assert!(
        out.status.success(),
        "duckdb/pyarrow could not read the dataset"
    );

    let truth: HashMap<String, HashMap<String, String>> = csv_rows(&dir.join("truth.csv"))
        .into_iter()
        .map(|r| (r["domain"].clone(), r))
        .collect();
    let got = csv_rows(&first);
    assert_eq!(got.len(), truth.len(), "one row per target");
    let mut mismatches: Vec<String> = Vec::new();
    let mut per_column: HashMap<String, usize> = HashMap::new();
    // Every DNS, mail and web check (pq_kex and mx_pq_kex included) is compared for every
    // domain: a null (check not run) or an `error` where the truth has a status is a
    // mismatch. rpki needs the routing tables (tests/it/routing.rs).
    let truth_header: Vec<String> = truth
        .values()
        .next()
        .expect("truth.csv has rows")
        .keys()
        .cloned()
        .collect();
    let compared: Vec<Check> = Check::DNS
        .into_iter()
        .chain(Check::MAIL)
        .chain(Check::WEB)
        .collect();
    assert_eq!(compared.len(), 25);
    for c in &compared {
        assert!(
            truth_header.contains(&c.status_column()),
            "truth.csv has no {}",
            c.status_column()
        );
    }
    for row in &got {
        let t = truth
            .get(&row["domain"])
            .unwrap_or_else(|| panic!("scanned {} is not in truth.csv", row["domain"]));
        let mut compare = |tcol: &str, scol: &str| {
            if t[tcol] != row[scol] {
                *per_column.entry(scol.to_string()).or_default() += 1;
                let reason = scol
                    .strip_suffix("_status")
                    .and_then(|id| row.get(&format!("{id}_reason")))
                    .filter(|r| !r.is_empty())
                    .map(|r| format!(" ({r})"))
                    .unwrap_or_default();
                mismatches.push(format!(
                    "{} {scol}: expected '{}', got '{}'{reason}",
                    row["domain"], t[tcol], row[scol]
                ));
            }
        };
        for c in &compared {
            let col = c.status_column();
            compare(&col, &col);
        }
        for (tcol, scol) in EVIDENCE {
            compare(tcol, scol);
        }
        for (col, _) in DERIVED {
            compare(col, col);
        }
    }
    assert!(
        mismatches.is_empty(),
        "{} mismatches ({per_column:?}); first ones:\n{}",
        mismatches.len(),
        mismatches
            .iter()
            .take(30)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
    // A second scan gives the same findings (statuses, reasons, evidence, the records as
    // found), row by row.
    let again = csv_rows(&second);
    assert_eq!(again.len(), got.len(), "second scan: one row per target");
    let mut differences = Vec::new();
    for (a, b) in got.iter().zip(&again) {
        let mut cols: Vec<&String> = a.keys().filter(|k| a[*k] != b[*k]).collect();
        cols.sort();
        for col in cols {
            differences.push(format!(
                "{} {col}: first '{}', second '{}'",
                a["domain"], a[col], b[col]
            ));
        }
    }
    assert!(
        differences.is_empty(),
        "a second scan of the same testbed gave other findings ({} differences):\n{}",
        differences.len(),
        differences
            .iter()
            .take(30)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
}

#[test]
fn unanswering_resolver_gives_errors_not_absent() {
    let work = tempfile::tempdir().expect("tempdir");
    let list = work.path().join("list.txt");
    std::fs::write(&list, "example.nl\nexample.se\n").expect("write");
    let data = work.path().join("data");
    // Nothing listens on 127.0.0.1:9 (discard over UDP): every query times out.
    let out = run(uptake()
        .args([
            "scan",
            "--quiet",
            "--resolver",
            "127.0.0.1:9",
            "--dns-timeout",
            "0.2",
            "--dns-attempts",
            "2",
            "--scan-id",
            "x",
            "--targets",
        ])
        .arg(&list)
        .arg("--out")
        .arg(&data));
    assert!(out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr
            .contains("warning: 100.0% of DNS messages timed out; 2 domains have an error status"),
        "no resolver warning in:\n{stderr}"
    );
    let csv = work.path().join("x.csv");
    let sql = format!(
        "COPY (SELECT domain, dnssec_status, spf_status, dmarc_status, dkim_status, caa_status, dmarc_reason FROM read_parquet('{}/scan=x/*.parquet')) TO '{}' (HEADER)",
        data.display(),
        csv.display()
    );
    let out = run(python().args([
        "-c",
        &format!("import duckdb; duckdb.sql(\"\"\"{sql}\"\"\")"),
    ]));
    assert!(out.status.success());
    let rows = csv_rows(&csv);
    assert_eq!(rows.len(), 2);
    for r in rows {
        for col in [
            "dnssec_status",
            "spf_status",
            "dmarc_status",
            "dkim_status",
            "caa_status",
        ] {
            assert_eq!(r[col], "error", "{col} of {}", r["domain"]);
        }
        assert!(
            r["dmarc_reason"].contains("timeout"),
            "reason: {}",
            r["dmarc_reason"]
        );
    }
}

#[test]
fn bad_target_lists() {
    let work = tempfile::tempdir().expect("tempdir");
    let scan = |name: &str, content: &[u8]| {
        let path = work.path().join(name);
        std::fs::write(&path, content).expect("write");
        uptake()
            .args([
                "scan",
                "--quiet",
                "--resolver",
                "127.0.0.1:9",
                "--dns-timeout",
                "0.05",
                "--dns-attempts",
                "1",
                "--scan-id",
                name,
                "--targets",
            ])
            .arg(&path)
            .arg("--out")
            .arg(work.path().join("data"))
            .output()
            .expect("spawn")
    };
    for (name, content, needle) in [
        ("empty", &b""[..], "is empty"),
        ("binary", &b"\x7fELF\x00\x01\x02\x03"[..], "not a text file"),
        (
            "nodomain",
            &b"name,country\nexample.nl,NL\n"[..],
            "no 'domain' column",
        ),
    ] {
        let out = scan(name, content);
        assert!(!out.status.success(), "{name} must fail");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(needle), "{name}: {err}");
        assert_eq!(
            err.trim().lines().count(),
            1,
            "{name}: one line expected: {err}"
        );
    }
    let long = "x".repeat(10_000);
    let label64 = "a".repeat(64);
    let text = format!("domain,country\n{long}.nl,NL\nhas space.nl,NL\nbad..nl,NL\n{label64}.nl,NL\nok.nl,NL\nOK.nl.,NL\n");
    let out = scan("mixed", text.as_bytes());
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let rejects = csv_rows(&work.path().join("data/scan=mixed/rejects.csv"));
    assert_eq!(rejects.len(), 4, "{rejects:?}");
    let reasons: Vec<&str> = rejects.iter().map(|r| r["reason"].as_str()).collect();
    assert!(
        reasons.iter().any(|r| r.contains("whitespace")),
        "{reasons:?}"
    );
    assert!(
        reasons.iter().any(|r| r.contains("empty label")),
        "{reasons:?}"
    );
    assert!(
        reasons.iter().any(|r| r.contains("exceeds 63")),
        "{reasons:?}"
    );
    assert!(
        reasons.iter().any(|r| r.contains("10003 characters")),
        "{reasons:?}"
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("1 domains") && err.contains("4 rejected") && err.contains("1 duplicates"),
        "{err}"
    );
}
