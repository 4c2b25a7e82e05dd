//! `uptake report` as a command: a page from a small hand-written aggregate directory, and a
//! clear error for a table without a required column.

use std::fs;
use std::path::Path;

use crate::harness::{run, uptake};

const JSON: &str = r#"{
  "generated_by": "uptake 0.1.0",
  "metrics": [{"id": "dnssec", "title": "DNSSEC signed and validating", "standard": "DNSSEC",
               "spec": "RFC 4033-4035", "kind": "check", "applies_to": "every domain",
               "adopted_when": "dnssec_status in {secure}", "note": ""}],
  "scans": [{"id": "s1", "date": "2026-11-02", "rows": 130, "files": 1, "schema_version": 2,
             "unavailable": {}}],
  "rows": [], "changes": []
}"#;

fn aggregates(dir: &Path, header: &str, lines: &[&str]) {
    fs::create_dir_all(dir).unwrap();
    fs::write(dir.join("adoption.json"), JSON).unwrap();
    fs::write(
        dir.join("adoption.csv"),
        format!("{header}\n{}\n", lines.join("\n")),
    )
    .unwrap();
}

const HEADER: &str = "scan,date,grouping,group,metric,available,applicable,adopted,rate,ci_low,ci_high,errors,error_rate";

#[test]
fn report_writes_the_page_and_charts() {
    let dir = tempfile::tempdir().unwrap();
    let agg = dir.path().join("agg");
    aggregates(
        &agg,
        HEADER,
        &[
            "s1,2026-11-02,all,all,dnssec,true,125,50,0.4,0.31862,0.48708,5,0.038461538461538464",
            "s1,2026-11-02,country,NL,dnssec,true,125,50,0.4,0.31862,0.48708,5,0.038461538461538464",
        ],
    );
    let out = dir.path().join("report");
    let o = run(uptake()
        .arg("report")
        .arg(&agg)
        .arg("--out")
        .arg(&out)
        .args(["--list", "gov-nl.csv <2026-10-01>"]));
    assert!(o.status.success());
    let index = out.join("index.html");
    assert_eq!(
        String::from_utf8_lossy(&o.stdout).trim(),
        index.display().to_string()
    );
    let html = fs::read_to_string(&index).unwrap();
    assert!(
        html.contains("<td data-col=\"rate\">40.0</td>"),
        "rate to one decimal"
    );
    assert!(html.contains("<td data-col=\"error_rate\">3.8</td>"));
    assert!(
        html.contains("<li>gov-nl.csv &lt;2026-10-01&gt;</li>"),
        "lists in provenance"
    );
    for ext in ["svg", "png"] {
        assert!(out.join(format!("charts/dnssec-country.{ext}")).is_file());
    }
}

#[test]
fn report_names_a_missing_column() {
    let dir = tempfile::tempdir().unwrap();
    aggregates(
        dir.path(),
        "scan,grouping,group,metric,applicable,adopted,ci_low,ci_high,errors",
        &["s1,all,all,dnssec,125,50,0.31862,0.48708,5"],
    );
    let o = uptake()
        .arg("report")
        .arg(dir.path())
        .arg("--out")
        .arg(dir.path().join("report"))
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(
        stderr.contains("adoption.csv has no column rate"),
        "{stderr}"
    );
}
