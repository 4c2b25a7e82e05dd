//! Cross-check with checkdmarc (PyPI, in `.venv-checkdmarc`, made by scripts/setup.sh): SPF,
//! DMARC and MTA-STS of testbed domains as checkdmarc sees them, against what
//! `uptake scan --checks mail` records (`spf_status`, `dmarc_status`, `mta_sts_status`).
//!
//! checkdmarc runs inside the private internet: its DNS goes to the testbed's validating
//! resolver (`--nameserver`, from `$UPTAKE_RESOLVER`), and its MTA-STS policy download
//! (python-requests: the system's name resolution and CA bundle) gets a private
//! /etc/resolv.conf naming the same resolver (bind-mounted in a mount namespace of its own,
//! `unshare -m`) and `REQUESTS_CA_BUNDLE` = the testbed CA.
//!
//! How checkdmarc's answers map onto uptake's statuses:
//! - SPF: a valid record's `all` result (after redirect; none = neutral, RFC 7208 §4.7) is the
//!   result for a foreign address: fail / softfail / neutral / pass; "does not exist" is
//!   `none`; any other error is `permerror`.
//! - DMARC: a valid record's `p` (its `sp` when found at the organisational domain) is the
//!   policy; "does not exist" is `absent`; any other error is `invalid`.
//! - MTA-STS: a valid policy's mode; "does not exist" (no `_mta-sts` record) is `absent`; any
//!   other error (record, policy host, download, policy syntax) is `invalid`.
//!
//! Two disagreements, explained and asserted precisely:
//! - A policy whose `mx` patterns do not cover the domain's MX hosts: checkdmarc's MTA-STS
//!   result is valid (its mode), and it reports the gap as a warning of its MX check
//!   ("<host> is not included in the MTA-STS policy"); uptake (CHECKS.md: the patterns must
//!   match every MX, RFC 8461 §4.1) says `invalid`.
//! - Domains whose DNSSEC is bogus: checkdmarc asks the validating resolver without CD and
//!   gets SERVFAIL ("All nameservers failed to answer the query"); uptake asks again with
//!   CD=1 and measures what the domain publishes.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::Path;

use crate::harness::{csv_rows, in_testbed, testbed, testbed_scan};

/// Domains per status of each compared check.
const PER_STATUS: usize = 8;
/// Domains with bogus DNSSEC in the sample.
const BOGUS: usize = 3;

const SERVFAIL: &str = "All nameservers failed to answer the query";
const NOT_IN_POLICY: &str = "is not included in the MTA-STS policy";

fn spf_of(r: &serde_json::Value) -> String {
    if r["valid"] == true {
        return r["parsed"]["all"].as_str().unwrap_or("neutral").to_string();
    }
    let e = r["error"].as_str().unwrap_or_default();
    if e.contains("does not exist") {
        "none".into()
    } else {
        "permerror".into()
    }
}

fn dmarc_of(domain: &str, r: &serde_json::Value) -> String {
    if r["valid"] == true {
        let tags = &r["tags"];
        let own = r["location"].as_str() == Some(domain);
        let tag = if !own && tags.get("sp").is_some() {
            "sp"
        } else {
            "p"
        };
        return tags[tag]["value"].as_str().unwrap_or_default().to_string();
    }
    let e = r["error"].as_str().unwrap_or_default();
    if e.contains("does not exist") {
        "absent".into()
    } else {
        "invalid".into()
    }
}

fn mta_sts_of(r: &serde_json::Value) -> String {
    if r["valid"] == true {
        return r["policy"]["mode"].as_str().unwrap_or_default().to_string();
    }
    let e = r["error"].as_str().unwrap_or_default();
    if e.contains("does not exist") {
        "absent".into()
    } else {
        "invalid".into()
    }
}

#[test]
fn checkdmarc_agrees_on_spf_dmarc_and_mta_sts() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let checkdmarc = root.join(".venv-checkdmarc/bin/checkdmarc");
    let venv = root.join(".venv/bin/python");
    assert!(
        checkdmarc.exists() && venv.exists(),
        "run scripts/setup.sh first (it makes .venv and .venv-checkdmarc)"
    );
    let dir = testbed();
    let truth = csv_rows(&dir.join("truth.csv"));
    // Every status of spf, dmarc and mta_sts (and both DMARC sources), PER_STATUS domains
    // each, DNSSEC not bogus; then BOGUS bogus ones.
    let mut sample: BTreeSet<String> = BTreeSet::new();
    for col in [
        "spf_status",
        "dmarc_status",
        "mta_sts_status",
        "dmarc_source",
    ] {
        let mut per: BTreeMap<&str, usize> = BTreeMap::new();
        for row in truth.iter().filter(|r| r["dnssec_status"] != "bogus") {
            let n = per.entry(row[col].as_str()).or_default();
            if *n < PER_STATUS {
                *n += 1;
                sample.insert(row["domain"].clone());
            }
        }
    }
    let bogus: BTreeSet<String> = truth
        .iter()
        .filter(|r| r["dnssec_status"] == "bogus" && r["spf_status"] != "none")
        .take(BOGUS)
        .map(|r| r["domain"].clone())
        .collect();
    assert_eq!(bogus.len(), BOGUS, "truth.csv has too few bogus domains");
    sample.extend(bogus.iter().cloned());

    let work = tempfile::tempdir().expect("tempdir");
    let list = work.path().join("sample.txt");
    std::fs::write(
        &list,
        sample.iter().map(|d| format!("{d}\n")).collect::<String>(),
    )
    .expect("write sample");
    let data = work.path().join("data");
    let scanned = work.path().join("scanned.csv");
    let json = work.path().join("checkdmarc.json");
    let resolv = work.path().join("resolv.conf");
    let script = format!(
        r#"set -e
{scan}
{venv} -c "import duckdb; duckdb.sql(\"COPY (SELECT domain, spf_status, dmarc_status, mta_sts_status, coalesce(mta_sts_reason, '') AS mta_sts_reason, array_to_string(mx_hosts, ' ') AS mx_hosts FROM read_parquet('{data}/scan=x/*.parquet') ORDER BY domain) TO '{scanned}' (HEADER)\")"
case "$UPTAKE_RESOLVER" in *:53) ;; *) echo "resolver $UPTAKE_RESOLVER is not on port 53" >&2; exit 3;; esac
ns="${{UPTAKE_RESOLVER%:*}}"
echo "nameserver $ns" > {resolv}
REQUESTS_CA_BUNDLE="$UPTAKE_TESTBED_CA" unshare -m sh -c "mount --bind {resolv} /etc/resolv.conf && exec {checkdmarc} {list} -f json -n $ns -o {json}"
"#,
        scan = testbed_scan("mail", &list, &data, "x"),
        list = list.display(),
        data = data.display(),
        venv = venv.display(),
        scanned = scanned.display(),
        resolv = resolv.display(),
        checkdmarc = checkdmarc.display(),
        json = json.display(),
    );
    let out = in_testbed(dir, &script);
    assert!(out.status.success(), "scan or checkdmarc failed");

    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).expect("checkdmarc json"))
            .expect("checkdmarc json parses");
    let theirs: HashMap<String, &serde_json::Value> = report
        .as_array()
        .expect("a list of results")
        .iter()
        .map(|r| (r["domain"].as_str().expect("domain").to_string(), r))
        .collect();
    let rows = csv_rows(&scanned);
    assert_eq!(
        rows.len(),
        sample.len(),
        "one scanned row per sampled domain"
    );

    let mut disagreements = Vec::new();
    let mut covered: BTreeMap<&str, BTreeSet<String>> = BTreeMap::new();
    let (mut mx_gaps, mut servfails) = (0, 0);
    for row in &rows {
        let domain = row["domain"].as_str();
        let r = theirs
            .get(domain)
            .unwrap_or_else(|| panic!("checkdmarc has no result for {domain}"));
        if bogus.contains(domain) {
            // uptake measured (CD=1); checkdmarc's resolver said SERVFAIL to everything.
            for (check, col) in [
                ("spf", "spf_status"),
                ("dmarc", "dmarc_status"),
                ("mta_sts", "mta_sts_status"),
            ] {
                let err = r[check]["error"].as_str().unwrap_or_default();
                if !err.contains(SERVFAIL) || row[col] == "error" || row[col].is_empty() {
                    disagreements.push(format!(
                        "{domain} (bogus DNSSEC) {check}: uptake '{}', checkdmarc error '{err}'",
                        row[col]
                    ));
                }
            }
            servfails += 1;
            continue;
        }
        let spf = spf_of(&r["spf"]);
        let dmarc = dmarc_of(domain, &r["dmarc"]);
        let mut mta_sts = mta_sts_of(&r["mta_sts"]);
        // checkdmarc's MX check names every MX host the policy's patterns leave out.
        let left_out: BTreeSet<String> = r["mx"]["warnings"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|w| w.as_str()?.strip_suffix(NOT_IN_POLICY))
            .map(|h| h.trim().to_string())
            .collect();
        if r["mta_sts"]["valid"] == true && !left_out.is_empty() {
            let mx: BTreeSet<String> = row["mx_hosts"]
                .split_whitespace()
                .map(String::from)
                .collect();
            if !left_out.is_subset(&mx)
                || row["mta_sts_status"] != "invalid"
                || !row["mta_sts_reason"].starts_with("mx mismatch")
            {
                disagreements.push(format!(
                    "{domain} mta_sts: checkdmarc policy valid with MX {left_out:?} left out (MX {mx:?}), uptake '{}' ({})",
                    row["mta_sts_status"], row["mta_sts_reason"]
                ));
            }
            mta_sts = "invalid".into();
            mx_gaps += 1;
        }
        for (col, theirs) in [
            ("spf_status", spf),
            ("dmarc_status", dmarc),
            ("mta_sts_status", mta_sts),
        ] {
            covered.entry(col).or_default().insert(row[col].clone());
            if row[col] != theirs {
                disagreements.push(format!(
                    "{domain} {col}: uptake '{}', checkdmarc '{theirs}'",
                    row[col]
                ));
            }
        }
    }
    assert!(
        disagreements.is_empty(),
        "{} disagreements with checkdmarc:\n{}",
        disagreements.len(),
        disagreements.join("\n")
    );
    let words = |w: &[&str]| w.iter().map(|s| s.to_string()).collect::<BTreeSet<_>>();
    assert_eq!(
        covered["spf_status"],
        words(&["fail", "neutral", "none", "pass", "permerror", "softfail"]),
        "the sample covers every spf status"
    );
    assert_eq!(
        covered["dmarc_status"],
        words(&["absent", "invalid", "none", "quarantine", "reject"]),
        "the sample covers every dmarc status"
    );
    assert_eq!(
        covered["mta_sts_status"],
        words(&["absent", "enforce", "invalid", "none", "testing"]),
        "the sample covers every mta_sts status"
    );
    assert!(mx_gaps > 0, "the sample has no policy leaving an MX out");
    assert_eq!(servfails, BOGUS);
}
