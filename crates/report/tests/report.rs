//! The report against a hand-built adoption table: files, every number of every table equal to
//! the table's, chart labels equal to the tables', the page in headless Chromium.

use std::fmt::Write as _;
use std::fs;
use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::time::Instant;

use arrow_array::{ArrayRef, BooleanArray, Float64Array, Int64Array, RecordBatch, StringArray};
use uptake_report::{load, render, AdoptionRow, Options, ReportError};

#[path = "support/page.rs"]
mod page;
use page::{check_screenshot, check_shown_numbers, chromium, page_rows, unescape};

/// Wilson 95% interval, as the aggregator computes it.
fn wilson(adopted: u64, n: u64) -> (f64, f64) {
    let (x, n) = (adopted as f64, n as f64);
    let z = 1.959_963_984_540_054_f64;
    let p = x / n;
    let denom = 1.0 + z * z / n;
    let centre = (p + z * z / (2.0 * n)) / denom;
    let half = z * (p * (1.0 - p) / n + z * z / (4.0 * n * n)).sqrt() / denom;
    ((centre - half).max(0.0), (centre + half).min(1.0))
}

fn row(
    scan: &str,
    grouping: &str,
    group: &str,
    metric: &str,
    n: u64,
    adopted: u64,
    errors: u64,
) -> AdoptionRow {
    let (rate, ci_low, ci_high) = if n == 0 {
        (None, None, None)
    } else {
        let (lo, hi) = wilson(adopted, n);
        (Some(adopted as f64 / n as f64), Some(lo), Some(hi))
    };
    AdoptionRow {
        scan: scan.into(),
        grouping: grouping.into(),
        group: group.into(),
        metric: metric.into(),
        available: true,
        applicable: Some(n),
        adopted: Some(adopted),
        rate,
        ci_low,
        ci_high,
        errors: Some(errors),
        error_rate: (n + errors > 0).then(|| errors as f64 / (n + errors) as f64),
    }
}

fn unavailable(scan: &str, grouping: &str, group: &str, metric: &str) -> AdoptionRow {
    AdoptionRow {
        scan: scan.into(),
        grouping: grouping.into(),
        group: group.into(),
        metric: metric.into(),
        available: false,
        applicable: None,
        adopted: None,
        rate: None,
        ci_low: None,
        ci_high: None,
        errors: None,
        error_rate: None,
    }
}

const SCANS: [(&str, &str); 3] = [
    ("2026-01", "2026-01-12"),
    ("2026-04", "2026-04-09"),
    ("2026-07", "2026-07-14"),
];
const COUNTRIES: [&str; 4] = ["BE", "DE", "NL", "unknown"];
const SECTORS: [&str; 4] = ["K", "O", "P", "unmapped: a&b <c>"];

/// Three scans, two metrics (one not measured in the first scan), four countries, four
/// sectors; cells with n=0, adopted=0, adopted=n and n below 30.
fn fixture_rows() -> Vec<AdoptionRow> {
    let mut rows = vec![];
    for (s, (scan, _)) in SCANS.iter().enumerate() {
        for metric in ["dnssec", "starttls"] {
            if metric == "starttls" && s == 0 {
                for (g, v) in [("all", "all"), ("country", "NL"), ("sector", "O")] {
                    rows.push(unavailable(scan, g, v, metric));
                }
                continue;
            }
            let m = if metric == "dnssec" { 1 } else { 2 };
            let k = s as u64;
            rows.push(row(
                scan,
                "all",
                "all",
                metric,
                1000 + 37 * k,
                412 + 60 * k + m,
                17 + k,
            ));
            for (i, c) in COUNTRIES.iter().enumerate() {
                let i = i as u64;
                let n = 80 + 55 * i + 7 * k;
                let adopted = match (*c, metric) {
                    ("DE", "starttls") => n,
                    ("BE", "dnssec") => 0,
                    _ => (n * (3 + i + k)) / 11,
                };
                rows.push(row(scan, "country", c, metric, n, adopted, i + k));
            }
            for (j, sector) in SECTORS.iter().enumerate() {
                let j = j as u64;
                let n = if j == 3 { 12 } else { 150 + 40 * j };
                rows.push(row(
                    scan,
                    "sector",
                    sector,
                    metric,
                    n,
                    (n * (2 + j + m)) / 9,
                    j,
                ));
            }
            for (i, c) in COUNTRIES.iter().enumerate() {
                for (j, sector) in SECTORS.iter().enumerate() {
                    let (i, j) = (i as u64, j as u64);
                    if c == &"unknown" && j == 0 {
                        continue; // no domain in that cell: left blank
                    }
                    let n = match (i, j) {
                        (0, 1) => 0,
                        (1, 2) => 9,
                        _ => 20 + 13 * i + 11 * j + k,
                    };
                    let adopted = match (i, j) {
                        (2, 2) => n,
                        (3, 3) => 0,
                        _ => n * (1 + i + j) / 9,
                    };
                    rows.push(row(
                        scan,
                        "country,sector",
                        &format!("{c}|{sector}"),
                        metric,
                        n,
                        adopted.min(n),
                        j,
                    ));
                }
            }
            // Where the domains are hosted.
            for (i, c) in ["US", "NL", "IE"].iter().enumerate() {
                let n = 40 + 25 * i as u64 + k;
                rows.push(row(scan, "hosting_country", c, metric, n, n / 2, i as u64));
            }
            // An organisation grouping the report does not draw.
            rows.push(row(scan, "organisation", "Ministry of X", metric, 3, 1, 0));
        }
    }
    rows
}

fn opt<T: ToString>(v: Option<T>) -> String {
    v.map(|v| v.to_string()).unwrap_or_default()
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// adoption.csv as `uptake aggregate` writes it, plus an extra column the report must ignore.
fn write_csv(path: &Path, rows: &[AdoptionRow], columns: &[&str]) {
    let mut out = columns.join(",") + "\n";
    for r in rows {
        let date = SCANS.iter().find(|s| s.0 == r.scan).unwrap().1;
        let values: Vec<String> = columns
            .iter()
            .map(|c| match *c {
                "scan" => csv_field(&r.scan),
                "date" => date.to_string(),
                "grouping" => csv_field(&r.grouping),
                "group" => csv_field(&r.group),
                "metric" => r.metric.clone(),
                "available" => r.available.to_string(),
                "applicable" => opt(r.applicable),
                "adopted" => opt(r.adopted),
                "rate" => opt(r.rate),
                "ci_low" => opt(r.ci_low),
                "ci_high" => opt(r.ci_high),
                "errors" => opt(r.errors),
                "error_rate" => opt(r.error_rate),
                "comment" => "\"extra, \"\"ignored\"\"\"".to_string(),
                other => panic!("no column {other}"),
            })
            .collect();
        writeln!(out, "{}", values.join(",")).unwrap();
    }
    fs::write(path, out).unwrap();
}

const COLUMNS: [&str; 14] = [
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
    "comment",
];

fn write_parquet(path: &Path, rows: &[AdoptionRow]) {
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
    let batch = RecordBatch::try_from_iter(vec![
        ("scan", s(|r| &r.scan)),
        ("grouping", s(|r| &r.grouping)),
        ("group", s(|r| &r.group)),
        ("metric", s(|r| &r.metric)),
        (
            "available",
            Arc::new(BooleanArray::from_iter(
                rows.iter().map(|r| Some(r.available)),
            )) as ArrayRef,
        ),
        ("applicable", i(|r| r.applicable)),
        ("adopted", i(|r| r.adopted)),
        ("rate", x(|r| r.rate)),
        ("ci_low", x(|r| r.ci_low)),
        ("ci_high", x(|r| r.ci_high)),
        ("errors", i(|r| r.errors)),
        ("error_rate", x(|r| r.error_rate)),
    ])
    .unwrap();
    let mut w =
        parquet::arrow::ArrowWriter::try_new(fs::File::create(path).unwrap(), batch.schema(), None)
            .unwrap();
    w.write(&batch).unwrap();
    w.close().unwrap();
}

fn write_json(path: &Path, metrics: &[&str]) {
    let defs: Vec<serde_json::Value> = metrics
        .iter()
        .map(|id| match *id {
            "dnssec" => serde_json::json!({
                "id": "dnssec", "title": "DNSSEC signed and validating", "standard": "DNSSEC",
                "spec": "RFC 4033-4035", "kind": "check", "applies_to": "every domain",
                "adopted_when": "dnssec_status in {secure}", "note": "bogus counts as not adopted"}),
            "starttls" => serde_json::json!({
                "id": "starttls", "title": "STARTTLS with TLS 1.2+ on every MX", "standard": "STARTTLS",
                "spec": "RFC 3207", "kind": "check", "applies_to": "mx_status in {mx}",
                "adopted_when": "starttls_status in {all}", "note": ""}),
            other => serde_json::json!({
                "id": other, "title": format!("Metric {other}"), "standard": "X", "spec": "RFC 0",
                "kind": "check", "applies_to": "every domain", "adopted_when": "x", "note": ""}),
        })
        .collect();
    let json = serde_json::json!({
        "generated_by": "uptake 0.1.0",
        "metrics": defs,
        "scans": SCANS.iter().enumerate().map(|(i, (id, date))| serde_json::json!({
            "id": id, "date": date, "rows": 1200 + i, "files": 2, "schema_version": 2,
            "unavailable": if i == 0 { serde_json::json!({"starttls": "starttls_status"}) } else { serde_json::json!({}) },
        })).collect::<Vec<_>>(),
        "groupings": ["all", "country", "sector", "country,sector", "hosting_country", "organisation"],
        "sector_labels": {"Banking": "K", "Government": "O", "a&b <c>": "unmapped: a&b <c>"},
        "rows": [],
        "changes": [],
    });
    fs::write(path, serde_json::to_string_pretty(&json).unwrap()).unwrap();
}

fn fixture(dir: &Path) -> Vec<AdoptionRow> {
    let rows = fixture_rows();
    fs::create_dir_all(dir).unwrap();
    write_csv(&dir.join("adoption.csv"), &rows, &COLUMNS);
    write_json(&dir.join("adoption.json"), &["dnssec", "starttls"]);
    rows
}

/// With UPTAKE_REPORT_KEEP=DIR, a test's scratch directory (report, screenshots) is copied
/// into DIR for a look.
fn keep(from: &Path) {
    let Ok(to) = std::env::var("UPTAKE_REPORT_KEEP") else {
        return;
    };
    let status = Command::new("cp")
        .arg("-r")
        .arg(from)
        .arg(&to)
        .status()
        .unwrap();
    assert!(status.success());
}

#[test]
fn every_number_shown_equals_the_tables() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("agg");
    let rows = fixture(&input);
    let out = dir.path().join("report");
    let agg = load(&input).unwrap();
    assert_eq!(agg.rows, rows, "CSV round trip (extra column ignored)");
    let written = render(&agg, &out, &Options::default()).unwrap();
    assert_eq!(written.metrics, 2);

    // dnssec: country, sector, hosting country, heat map, trend; starttls the same (two scans
    // measured).
    let mut expected_files = vec![];
    for metric in ["dnssec", "starttls"] {
        for chart in [
            "country",
            "sector",
            "hosting_country",
            "country-sector",
            "trend",
        ] {
            for ext in ["svg", "png"] {
                expected_files.push(out.join(format!("charts/{metric}-{chart}.{ext}")));
            }
        }
    }
    let mut got = written.charts.clone();
    got.sort();
    expected_files.sort();
    assert_eq!(got, expected_files);
    for f in &expected_files {
        let bytes = fs::read(f).unwrap();
        if f.extension().unwrap() == "png" {
            assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n", "{}", f.display());
            let img = image::load_from_memory(&bytes).unwrap().to_rgb8();
            assert!(img.width() >= 1000, "PNG at twice the SVG size");
        } else {
            assert!(
                String::from_utf8(bytes).unwrap().starts_with("<svg "),
                "{}",
                f.display()
            );
        }
    }

    let html = fs::read_to_string(&written.index).unwrap();
    let outside = html.replace("http://www.w3.org/2000/svg", "");
    assert!(
        !outside.contains("http:") && !outside.contains("https:"),
        "nothing outside the page"
    );
    let shown = page_rows(&html);
    assert!(shown.len() > 80, "{} rows", shown.len());
    check_shown_numbers(&shown, &rows);

    // Completeness: every row the charts are about is in a table under its chart.
    let in_table = |table: &str, r: &AdoptionRow| {
        shown.iter().any(|p| {
            p.table == table
                && p.key
                    == (
                        r.scan.clone(),
                        r.grouping.clone(),
                        r.group.clone(),
                        r.metric.clone(),
                    )
        })
    };
    for r in &rows {
        let latest = r.scan == "2026-07";
        let table = match r.grouping.as_str() {
            "country" if latest => format!("{}-country", r.metric),
            "sector" if latest => format!("{}-sector", r.metric),
            "hosting_country" if latest => format!("{}-hosting_country", r.metric),
            "country,sector" if latest => format!("{}-country-sector", r.metric),
            "all" if r.available => format!("{}-trend", r.metric),
            "all" => "errors".to_string(),
            _ => continue,
        };
        assert!(in_table(&table, r), "{:?} missing from table {table}", r);
        if r.grouping == "all" {
            assert!(
                in_table("errors", r),
                "{:?} missing from the error rates",
                r
            );
        }
    }
    // The trend shows every scan measured, and the first scan's starttls as not measured.
    assert!(in_table(
        "starttls-trend",
        &rows
            .iter()
            .find(|r| r.scan == "2026-04"
                && r.metric == "starttls"
                && r.grouping == "country"
                && r.group == "NL")
            .unwrap()
            .clone()
    ));

    // Labels in each inline chart are numbers of the table under it.
    for figure in html.split("<figure id=\"").skip(1) {
        let id = &figure[..figure.find('"').unwrap()];
        let svg = &figure[..figure.find("</svg>").unwrap()];
        let table_rates: Vec<String> = shown
            .iter()
            .filter(|p| p.table == id)
            .flat_map(|p| [p.cells["rate"].clone(), p.cells["error_rate"].clone()])
            .collect();
        let applicable: Vec<String> = shown
            .iter()
            .filter(|p| p.table == id)
            .map(|p| p.cells["applicable"].clone())
            .collect();
        let mut checked = 0;
        for text in svg.split("<text ").skip(1) {
            let content =
                unescape(text[text.find('>').unwrap() + 1..text.find("</text>").unwrap()].trim());
            // Axis ticks are not data.
            if ["0 %", "20 %", "40 %", "50 %", "60 %", "80 %", "100 %"].contains(&content.as_str())
            {
                continue;
            }
            for word in content.split([' ', '(', ')', ',']) {
                if let Some(n) = word.strip_prefix("n=") {
                    assert!(
                        applicable.contains(&n.to_string()),
                        "{id}: label '{content}': n={n} not in the table"
                    );
                    checked += 1;
                } else if word.contains('.') && word.parse::<f64>().is_ok() {
                    assert!(
                        table_rates.contains(&word.to_string()),
                        "{id}: label '{content}': {word} not in the table"
                    );
                    checked += 1;
                }
            }
        }
        assert!(checked >= 3, "{id}: only {checked} numbers checked");
    }

    // Special cells are drawn as such.
    let heat = fs::read_to_string(out.join("charts/dnssec-country-sector.svg")).unwrap();
    assert!(
        heat.contains("n=0") && heat.contains("n=9"),
        "cells under min_n show n, not a rate"
    );
    let bars = fs::read_to_string(out.join("charts/dnssec-sector.svg")).unwrap();
    assert!(
        bars.contains("unmapped: a&amp;b &lt;c&gt;"),
        "labels are escaped"
    );
    assert!(
        html.contains("% of domains where mx_status in {mx}"),
        "denominator in the title"
    );
}

#[test]
fn parquet_and_csv_give_the_same_rows() {
    let dir = tempfile::tempdir().unwrap();
    let rows = fixture(dir.path());
    let from_csv = load(dir.path()).unwrap();
    write_parquet(&dir.path().join("adoption.parquet"), &rows);
    let from_parquet = load(dir.path()).unwrap();
    assert!(from_parquet.table_path.ends_with("adoption.parquet"));
    assert_eq!(from_parquet.rows, from_csv.rows);
}

#[test]
fn bad_input_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let err = load(dir.path()).unwrap_err();
    assert!(matches!(err, ReportError::NoTable { .. }), "{err}");

    let rows = fixture(dir.path());
    let without: Vec<&str> = COLUMNS
        .iter()
        .copied()
        .filter(|c| *c != "ci_high")
        .collect();
    write_csv(&dir.path().join("adoption.csv"), &rows, &without);
    let err = load(dir.path()).unwrap_err();
    assert!(err.to_string().contains("has no column ci_high"), "{err}");

    // Optional columns may be absent: error_rate is then errors / (applicable + errors).
    let minimal: Vec<&str> = COLUMNS
        .iter()
        .copied()
        .filter(|c| !["error_rate", "available", "date", "comment"].contains(c))
        .collect();
    let measured: Vec<AdoptionRow> = rows.iter().filter(|r| r.available).cloned().collect();
    write_csv(&dir.path().join("adoption.csv"), &measured, &minimal);
    assert_eq!(load(dir.path()).unwrap().rows, measured);

    write_json(&dir.path().join("adoption.json"), &["dnssec"]);
    let err = load(dir.path()).unwrap_err();
    assert!(err.to_string().contains("metric 'starttls'"), "{err}");
}

#[test]
fn opens_in_headless_chromium_without_console_messages() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("agg");
    fixture(&input);
    let out = dir.path().join("report");
    let written = render(&load(&input).unwrap(), &out, &Options::default()).unwrap();
    let page = fs::canonicalize(&written.index).unwrap();

    // The detector sees console output and blocked loads (else this test could not fail).
    let probe = dir.path().join("probe.html");
    let html = fs::read_to_string(&page).unwrap().replace(
        "</body>",
        "<img src=\"https://example.invalid/x.png\"><script>console.error('probe')</script></body>",
    );
    fs::write(&probe, html).unwrap();
    let messages = chromium(&probe, &dir.path().join("probe.png"), 1280);
    assert!(
        messages.iter().any(|m| m.contains("example.invalid")),
        "{messages:?}"
    );

    for (width, name) in [(375, "phone.png"), (1280, "laptop.png")] {
        let shot = dir.path().join(name);
        let messages = chromium(&page, &shot, width);
        assert!(messages.is_empty(), "console at {width} px: {messages:#?}");
        check_screenshot(&shot);
    }
    keep(dir.path());
}

#[test]
fn fifty_metrics_by_two_hundred_groups_render_in_seconds() {
    let dir = tempfile::tempdir().unwrap();
    let metrics: Vec<String> = (0..50).map(|m| format!("m{m:02}")).collect();
    let mut rows = vec![];
    for (s, (scan, _)) in SCANS.iter().enumerate().skip(1) {
        for (mi, metric) in metrics.iter().enumerate() {
            rows.push(row(
                scan,
                "all",
                "all",
                metric,
                100_000,
                40_000 + mi as u64 * 100 + s as u64,
                50,
            ));
            for c in 0..60u64 {
                rows.push(row(
                    scan,
                    "country",
                    &format!("C{c:02}"),
                    metric,
                    1000 + c,
                    (c * 13 + mi as u64) % 1000,
                    c % 5,
                ));
            }
            for (j, sector) in "ABCDEFGHIJKLMNOPQRSTU".chars().enumerate() {
                let j = j as u64;
                rows.push(row(
                    scan,
                    "sector",
                    &sector.to_string(),
                    metric,
                    500 + j,
                    7 * j,
                    1,
                ));
            }
            for c in 0..6u64 {
                for (j, sector) in "ABCDEFGHIJKLMNOPQRSTU".chars().enumerate() {
                    let n = 10 + 9 * j as u64 + c;
                    rows.push(row(
                        scan,
                        "country,sector",
                        &format!("C{c:02}|{sector}"),
                        metric,
                        n,
                        n / 3,
                        0,
                    ));
                }
            }
        }
    }
    write_csv(&dir.path().join("adoption.csv"), &rows, &COLUMNS);
    let ids: Vec<&str> = metrics.iter().map(String::as_str).collect();
    write_json(&dir.path().join("adoption.json"), &ids);
    let start = Instant::now();
    let agg = load(dir.path()).unwrap();
    let written = render(&agg, &dir.path().join("report"), &Options::default()).unwrap();
    let elapsed = start.elapsed();
    eprintln!(
        "{} rows, {} metrics, {} chart files in {elapsed:?}",
        agg.rows.len(),
        written.metrics,
        written.charts.len()
    );
    assert_eq!(written.charts.len(), 50 * 4 * 2);
    assert!(elapsed.as_secs() < 60, "{elapsed:?}");
}
