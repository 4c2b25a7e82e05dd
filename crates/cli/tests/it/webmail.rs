//! The private internet's web and mail hosts behave as truth.csv says, seen by tools that are
//! not uptake: `webmail_probe.py` asks dig, `openssl s_client` (versions, ciphers by NCSC
//! class, certificate verification against the testbed CA, SMTP STARTTLS), curl (redirects,
//! HSTS, headers, security.txt, the MTA-STS policy) and plain TCP connects (IPv6), inside
//! `uptake testbed run`, for a sample of the shared 2,000-domain testbed that holds every
//! status of every web/mail check truth.csv uses.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::Path;

use crate::harness::{csv_rows, run, testbed, uptake};

/// The web and mail status columns of truth.csv (without `_status`).
const CHECKS: [&str; 13] = [
    "starttls",
    "dane",
    "mta_sts",
    "mx_ipv6",
    "web_ipv6",
    "https",
    "https_redirect",
    "tls_version",
    "tls_cipher",
    "certificate",
    "hsts",
    "security_txt",
    "security_headers",
];

/// Domains per (check, status) in the sample, besides every 40th domain.
const PER_STATUS: usize = 3;

#[test]
fn web_and_mail_hosts_serve_their_truth() {
    let dir = testbed();
    let truth = csv_rows(&dir.join("truth.csv"));
    // The sample: a few domains of every (check, status), and every 40th domain.
    let mut picked: BTreeSet<usize> = (0..truth.len()).step_by(40).collect();
    let mut seen: BTreeMap<(&str, String), usize> = BTreeMap::new();
    for (i, row) in truth.iter().enumerate() {
        for c in CHECKS {
            let status = row[&format!("{c}_status")].clone();
            let n = seen.entry((c, status)).or_default();
            if *n < PER_STATUS {
                *n += 1;
                picked.insert(i);
            }
        }
    }
    // The testbed must vary every check, or this test would prove little.
    for c in CHECKS {
        let statuses: BTreeSet<&String> = seen.keys().filter(|k| k.0 == c).map(|k| &k.1).collect();
        assert!(statuses.len() >= 2, "{c}: truth.csv has only {statuses:?}");
    }
    for (c, min) in [
        ("certificate", 6),
        ("tls_version", 4),
        ("tls_cipher", 5),
        ("hsts", 4),
    ] {
        let n = seen.keys().filter(|k| k.0 == c).count();
        assert!(n >= min, "{c}: only {n} statuses in truth.csv: {seen:?}");
    }

    let work = tempfile::tempdir().expect("tempdir");
    let sample = work.path().join("sample.csv");
    let header = csv::Reader::from_path(dir.join("truth.csv"))
        .expect("truth")
        .headers()
        .expect("header")
        .clone();
    let mut w = csv::Writer::from_path(&sample).expect("sample.csv");
    w.write_record(&header).expect("write");
    for &i in &picked {
        w.write_record(header.iter().map(|h| truth[i][h].as_str()))
            .expect("write");
    }
    w.flush().expect("flush");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/it/webmail_probe.py");
    let venv = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../.venv/bin/python");
    let python = if venv.exists() {
        venv.into_os_string()
    } else {
        "python3".into()
    };
    let out_json = work.path().join("probe.json");
    let out = run(uptake()
        .args(["testbed", "run"])
        .arg(dir)
        .arg("--")
        .arg(python)
        .arg(&script)
        .arg(&sample)
        .arg(&out_json));
    assert!(out.status.success(), "probe run failed");
    let got: HashMap<String, HashMap<String, String>> =
        serde_json::from_str(&std::fs::read_to_string(&out_json).expect("probe.json"))
            .expect("probe.json parses");

    let mut disagreements = Vec::new();
    for &i in &picked {
        let row = &truth[i];
        let d = &row["domain"];
        let probed = got.get(d).unwrap_or_else(|| panic!("{d} not probed"));
        for c in CHECKS {
            let want = &row[&format!("{c}_status")];
            match probed.get(c) {
                Some(g) if g == want => {}
                other => disagreements.push(format!(
                    "{d} {c}: truth {want}, servers {other:?} (hosting {}, key {})",
                    row["web_hosting"], row["web_key"]
                )),
            }
        }
    }
    assert!(
        disagreements.is_empty(),
        "{} of {} sampled domains' web/mail hosts disagree with truth.csv:\n{}",
        disagreements.len(),
        picked.len(),
        disagreements.join("\n")
    );
}
