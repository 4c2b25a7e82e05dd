//! Cross-check with sslyze (PyPI, in `.venv-sslyze`, made by scripts/setup.sh): which TLS
//! versions the testbed's web hosts accept, as sslyze sees them (its own OpenSSL builds, which
//! still speak TLS 1.0/1.1), against what `uptake scan --checks web` records: the highest
//! version rustls negotiated (`tls_max_version`) and the versions the legacy probe found
//! accepted (`tls_legacy_versions`), and the `tls_version` status derived from them.
//!
//! The sample: domains with HTTPS of every `tls_version` status truth.csv holds, on distinct
//! (web address, certificate key) pairs where possible (nginx fixes versions per address;
//! whether TLS 1.0/1.1 can be negotiated also depends on the key: a server whose legacy
//! suites are all RSA cannot do TLS 1.0 with an ECDSA certificate).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::Path;

use crate::harness::{csv_rows, in_testbed, testbed, testbed_scan};

/// Domains per `tls_version` status.
const PER_STATUS: usize = 8;

const VERSIONS: [(&str, &str); 4] = [
    ("tls_1_0_cipher_suites", "TLSv1.0"),
    ("tls_1_1_cipher_suites", "TLSv1.1"),
    ("tls_1_2_cipher_suites", "TLSv1.2"),
    ("tls_1_3_cipher_suites", "TLSv1.3"),
];

#[test]
fn sslyze_agrees_on_accepted_tls_versions() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let sslyze = root.join(".venv-sslyze/bin/python");
    let venv = root.join(".venv/bin/python");
    assert!(
        sslyze.exists() && venv.exists(),
        "run scripts/setup.sh first (it makes .venv and .venv-sslyze)"
    );
    let dir = testbed();
    let truth = csv_rows(&dir.join("truth.csv"));
    let mut per_status: BTreeMap<String, Vec<&HashMap<String, String>>> = BTreeMap::new();
    let mut pairs: BTreeSet<(String, String)> = BTreeSet::new();
    // Distinct (address, key) first, then fill up.
    for pass in 0..2 {
        for row in &truth {
            if row["https_status"] != "available" {
                continue;
            }
            let picked = per_status
                .entry(row["tls_version_status"].clone())
                .or_default();
            if picked.len() >= PER_STATUS || picked.iter().any(|r| r["domain"] == row["domain"]) {
                continue;
            }
            let pair = (row["web_address"].clone(), row["web_key"].clone());
            if pass == 0 && !pairs.insert(pair) {
                continue;
            }
            picked.push(row);
        }
    }
    for s in ["good", "sufficient", "insufficient"] {
        assert!(
            per_status.get(s).is_some_and(|v| v.len() == PER_STATUS),
            "truth.csv has too few HTTPS domains with tls_version {s}"
        );
    }
    let sample: Vec<&HashMap<String, String>> = per_status.values().flatten().copied().collect();

    let work = tempfile::tempdir().expect("tempdir");
    let list = work.path().join("sample.txt");
    std::fs::write(
        &list,
        sample
            .iter()
            .map(|r| format!("{}\n", r["domain"]))
            .collect::<String>(),
    )
    .expect("write sample");
    let data = work.path().join("data");
    let scanned = work.path().join("scanned.csv");
    let targets = work.path().join("sslyze-targets.txt");
    let json = work.path().join("sslyze.json");
    // Inside the namespace: uptake scans the sample; DuckDB exports what it saw; sslyze scans
    // each web host at the address uptake probed, with the host name as SNI.
    let script = format!(
        r#"set -e
{scan}
{venv} -c "import duckdb; duckdb.sql(\"COPY (SELECT domain, web_host, web_addresses[1] AS address, coalesce(tls_max_version, '') AS max, array_to_string(tls_legacy_versions, ' ') AS legacy, tls_version_status FROM read_parquet('{data}/scan=x/*.parquet') ORDER BY domain) TO '{scanned}' (HEADER)\")"
{venv} -c "import csv; print(''.join(f\"{{r['web_host']}}:443{{{{{{r['address']}}}}}}\n\" for r in csv.DictReader(open('{scanned}'))), end='')" > {targets}
{sslyze} -m sslyze --quiet --tlsv1 --tlsv1_1 --tlsv1_2 --tlsv1_3 --targets_in {targets} --json_out {json}
"#,
        scan = testbed_scan("web", &list, &data, "x"),
        data = data.display(),
        venv = venv.display(),
        sslyze = sslyze.display(),
        scanned = scanned.display(),
        targets = targets.display(),
        json = json.display(),
    );
    let out = in_testbed(dir, &script);
    assert!(out.status.success(), "scan or sslyze failed");

    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).expect("sslyze json"))
            .expect("sslyze json parses");
    // host -> versions sslyze saw accepted.
    let mut seen: HashMap<String, BTreeSet<&str>> = HashMap::new();
    for r in report["server_scan_results"].as_array().expect("results") {
        let host = r["server_location"]["hostname"]
            .as_str()
            .expect("hostname")
            .to_string();
        assert_eq!(
            r["scan_status"], "COMPLETED",
            "sslyze could not scan {host}: {r}"
        );
        let mut accepted = BTreeSet::new();
        for (key, name) in VERSIONS {
            let cmd = &r["scan_result"][key];
            assert_eq!(cmd["status"], "COMPLETED", "{host} {key}: {cmd}");
            if !cmd["result"]["accepted_cipher_suites"]
                .as_array()
                .expect("accepted suites")
                .is_empty()
            {
                accepted.insert(name);
            }
        }
        seen.insert(host, accepted);
    }

    let rows = csv_rows(&scanned);
    assert_eq!(
        rows.len(),
        sample.len(),
        "one scanned row per sampled domain"
    );
    let mut disagreements = Vec::new();
    let mut statuses: BTreeSet<String> = BTreeSet::new();
    for row in &rows {
        let host = &row["web_host"];
        let theirs = seen
            .get(host)
            .unwrap_or_else(|| panic!("sslyze has no result for {host}"));
        // What uptake says is accepted: 1.0/1.1 from the legacy probe, the rustls maximum,
        // and TLS 1.2 whenever rustls negotiated exactly 1.2. When rustls negotiated 1.3,
        // uptake does not ask whether 1.2 is accepted too (its tls_version criteria do not
        // need it), so TLS 1.2 is compared only for hosts whose maximum is 1.2.
        let mut ours: BTreeSet<&str> = row["legacy"].split_whitespace().collect();
        if !row["max"].is_empty() {
            ours.insert(row["max"].as_str());
        }
        let mut theirs_cmp = theirs.clone();
        if row["max"] == "TLSv1.3" {
            theirs_cmp.remove("TLSv1.2");
        }
        if ours != theirs_cmp {
            disagreements.push(format!(
                "{} ({host}): uptake {ours:?} (max {}, legacy [{}]), sslyze {theirs:?}",
                row["domain"], row["max"], row["legacy"]
            ));
        }
        // The status sslyze's versions imply (CHECKS.md, NCSC-NL 2025).
        let legacy = theirs.contains("TLSv1.0") || theirs.contains("TLSv1.1");
        let implied = if legacy || !(theirs.contains("TLSv1.2") || theirs.contains("TLSv1.3")) {
            "insufficient"
        } else if theirs.contains("TLSv1.3") {
            "good"
        } else {
            "sufficient"
        };
        statuses.insert(row["tls_version_status"].clone());
        if row["tls_version_status"] != implied {
            disagreements.push(format!(
                "{} ({host}): uptake tls_version {}, sslyze's versions {theirs:?} imply {implied}",
                row["domain"], row["tls_version_status"]
            ));
        }
    }
    assert_eq!(
        statuses,
        ["good", "insufficient", "sufficient"]
            .map(String::from)
            .into_iter()
            .collect(),
        "the sample covers every tls_version status of an HTTPS host"
    );
    assert!(
        disagreements.is_empty(),
        "{} disagreements with sslyze:\n{}",
        disagreements.len(),
        disagreements.join("\n")
    );
}
