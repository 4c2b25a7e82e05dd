//! Reading a rendered report as a reader would: the keyed table rows of index.html and their
//! cells, and the page in headless Chromium (console messages, a screenshot). Shared by the
//! report crate's tests and the `uptake run` end-to-end test (included with `#[path]`).

#![allow(dead_code)] // each including test binary uses its own subset

use std::collections::HashMap;
use std::path::Path;
use std::process::Command;

pub fn unescape(s: &str) -> String {
    s.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&amp;", "&")
}

/// The value of attribute `name` in a start tag.
pub fn attr(tag: &str, name: &str) -> Option<String> {
    let start = tag.find(&format!(" {name}=\""))? + name.len() + 3;
    let end = start + tag[start..].find('"')?;
    Some(unescape(&tag[start..end]))
}

/// A table row of the page: its key attributes and its `data-col` cells.
#[derive(Debug)]
pub struct PageRow {
    /// The table's `data-table` name.
    pub table: String,
    /// (scan, grouping, group, metric).
    pub key: (String, String, String, String),
    /// `data-col` -> shown text.
    pub cells: HashMap<String, String>,
}

/// Every keyed row of every table, in page order.
pub fn page_rows(html: &str) -> Vec<PageRow> {
    let mut out = vec![];
    for chunk in html.split("<table data-table=\"").skip(1) {
        let table = unescape(&chunk[..chunk.find('"').unwrap()]);
        let body = &chunk[..chunk.find("</table>").unwrap()];
        for tr in body.split("<tr ").skip(1) {
            let tag = &tr[..tr.find('>').unwrap()];
            let tag = format!(" {tag}");
            let Some(metric) = attr(&tag, "data-metric") else {
                continue;
            };
            let key = (
                attr(&tag, "data-scan").unwrap(),
                attr(&tag, "data-grouping").unwrap(),
                attr(&tag, "data-group").unwrap(),
                metric,
            );
            let mut cells = HashMap::new();
            for td in tr.split("<td data-col=\"").skip(1) {
                let col = td[..td.find('"').unwrap()].to_string();
                let value = &td[td.find('>').unwrap() + 1..td.find("</td>").unwrap()];
                cells.insert(col, unescape(value));
            }
            out.push(PageRow {
                table: table.clone(),
                key,
                cells,
            });
        }
    }
    out
}

/// A percentage cell shows the table's proportion to one decimal; a count cell, the count.
pub fn check_cell(what: &str, shown: &str, expected_pct: Option<f64>, expected_count: Option<u64>) {
    match (expected_pct, expected_count) {
        (Some(v), _) => {
            let x: f64 = shown
                .parse()
                .unwrap_or_else(|_| panic!("{what}: '{shown}' is not a number"));
            assert!(
                (x - v * 100.0).abs() <= 0.05 + 1e-9,
                "{what}: shows {shown}, table has {v}"
            );
            assert_eq!(
                shown.split('.').nth(1).map(str::len),
                Some(1),
                "{what}: one decimal: {shown}"
            );
        }
        (None, Some(n)) => assert_eq!(shown, n.to_string(), "{what}"),
        (None, None) => assert_eq!(shown, "–", "{what}: no value"),
    }
}

/// Runs headless Chromium on `page` with no network (a fresh network namespace) and returns
/// the console messages it logged; the screenshot goes to `shot`.
pub fn chromium(page: &Path, shot: &Path, width: u32) -> Vec<String> {
    let found = Command::new("chromium").arg("--version").output();
    assert!(
        found.map(|o| o.status.success()).unwrap_or(false),
        "chromium is not installed: run scripts/setup.sh (Debian package chromium)"
    );
    let out = Command::new("unshare")
        .args([
            "--user",
            "--map-root-user",
            "--net",
            "chromium",
            "--headless=new",
            "--disable-gpu",
            "--no-sandbox",
        ])
        .args([
            "--no-first-run",
            "--disable-extensions",
            "--enable-logging=stderr",
            "--v=0",
        ])
        .arg(format!(
            "--user-data-dir={}",
            shot.with_extension("profile").display()
        ))
        .arg(format!("--window-size={width},2000"))
        .arg(format!("--screenshot={}", shot.display()))
        .arg(format!("file://{}", page.display()))
        .output()
        .expect("run chromium");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "chromium failed: {stderr}");
    stderr
        .lines()
        .filter(|l| l.contains(":CONSOLE"))
        // Chromium's own pages (chrome://...) log about the machine, e.g. "Slow network is
        // detected" under load; only what the report's page does counts.
        .filter(|l| !l.contains("source: chrome://"))
        .map(str::to_string)
        .collect()
}

/// The PNG decodes and is not one flat colour.
pub fn check_screenshot(shot: &Path) {
    let img = image::open(shot)
        .unwrap_or_else(|e| panic!("{}: {e}", shot.display()))
        .to_rgb8();
    let first = *img.get_pixel(0, 0);
    let differing = img.pixels().filter(|p| **p != first).count();
    assert!(
        differing > 1000,
        "{} is blank ({differing} pixels differ)",
        shot.display()
    );
}

/// Every keyed row shown on the page has exactly the numbers of the adoption table's row with
/// the same key: rates to one decimal, counts exactly, "not measured" for unavailable rows.
pub fn check_shown_numbers(shown: &[PageRow], rows: &[uptake_report::AdoptionRow]) {
    let by_key: HashMap<_, _> = rows
        .iter()
        .map(|r| {
            (
                (
                    r.scan.clone(),
                    r.grouping.clone(),
                    r.group.clone(),
                    r.metric.clone(),
                ),
                r,
            )
        })
        .collect();
    for p in shown {
        let r = by_key
            .get(&p.key)
            .unwrap_or_else(|| panic!("{:?} is not in the table", p.key));
        let what = format!("{} {:?}", p.table, p.key);
        assert_eq!(p.cells.len(), 7, "{what}");
        if !r.available {
            assert_eq!(p.cells["rate"], "not measured", "{what}");
            continue;
        }
        check_cell(&format!("{what} rate"), &p.cells["rate"], r.rate, None);
        check_cell(
            &format!("{what} ci_low"),
            &p.cells["ci_low"],
            r.ci_low,
            None,
        );
        check_cell(
            &format!("{what} ci_high"),
            &p.cells["ci_high"],
            r.ci_high,
            None,
        );
        check_cell(
            &format!("{what} adopted"),
            &p.cells["adopted"],
            None,
            r.adopted,
        );
        check_cell(
            &format!("{what} applicable"),
            &p.cells["applicable"],
            None,
            r.applicable,
        );
        check_cell(
            &format!("{what} errors"),
            &p.cells["errors"],
            None,
            r.errors,
        );
        check_cell(
            &format!("{what} error_rate"),
            &p.cells["error_rate"],
            r.error_rate,
            None,
        );
    }
}
