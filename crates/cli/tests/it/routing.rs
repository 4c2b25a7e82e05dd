//! `rpki` and the hosting columns: a DNS-only scan of the private internet with its routing
//! tables (exported by `uptake testbed run`) equals truth.csv for every domain; bad routing
//! inputs stop the scan before any domain is queried, naming the file (and line).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::Path;

use crate::aggregate::{adoption_counts, assert_duckdb_agrees};
use crate::harness::{csv_rows, in_testbed, python, run, testbed, uptake};

/// Scan columns compared with the truth column of the same name.
const COLUMNS: [&str; 4] = [
    "rpki_status",
    "hosting_asn",
    "hosting_as_name",
    "hosting_country",
];

#[test]
fn testbed_scan_rpki_and_hosting_equal_truth() {
    let dir = testbed();
    let truth: HashMap<String, HashMap<String, String>> = csv_rows(&dir.join("truth.csv"))
        .into_iter()
        .map(|r| (r["domain"].clone(), r))
        .collect();
    // The testbed must hold every domain status in good numbers (at least 2 % of the domains
    // each) and many hosting networks and countries, or this proves little.
    let mut statuses: BTreeMap<&str, usize> = BTreeMap::new();
    for t in truth.values() {
        *statuses.entry(t["rpki_status"].as_str()).or_default() += 1;
    }
    for s in ["valid", "invalid", "partial", "not_found"] {
        assert!(
            statuses.get(s).copied().unwrap_or(0) * 50 >= truth.len(),
            "truth.csv rpki_status: {statuses:?}"
        );
    }
    let distinct = |c: &str| -> BTreeSet<&str> { truth.values().map(|t| t[c].as_str()).collect() };
    let countries = distinct("hosting_country");
    assert!(
        countries.len() >= 6 && !countries.contains(""),
        "hosting countries: {countries:?}"
    );
    let networks = distinct("hosting_asn");
    assert!(
        networks.len() >= 10 && !networks.contains(""),
        "hosting networks: {networks:?}"
    );

    let work = tempfile::tempdir().expect("tempdir");
    let data = work.path().join("data");
    let script = format!(
        r#"set -e; {bin} scan --quiet --checks dns --targets {t} --out {d} --scan-id r \
            --vrps "$UPTAKE_TESTBED_VRPS" --prefix-origins "$UPTAKE_TESTBED_PREFIX_ORIGINS" \
            --ip-asn "$UPTAKE_TESTBED_IP_ASN""#,
        bin = env!("CARGO_BIN_EXE_uptake"),
        t = dir.join("targets.csv").display(),
        d = data.display()
    );
    let out = in_testbed(dir, &script);
    assert!(out.status.success(), "scan failed");

    let csv = work.path().join("r.csv");
    let sql = format!(
        "COPY (SELECT domain, {}, coalesce(rpki_reason, '') AS rpki_reason, array_to_string(rpki_addresses, ';') AS rpki_addresses FROM read_parquet('{}/scan=r/*.parquet')) TO '{}' (HEADER)",
        COLUMNS
            .iter()
            .map(|c| format!("coalesce(CAST({c} AS VARCHAR), '') AS {c}"))
            .collect::<Vec<_>>()
            .join(", "),
        data.display(),
        csv.display()
    );
    let out = run(python().args([
        "-c",
        &format!("import duckdb; duckdb.sql(\"\"\"{sql}\"\"\")"),
    ]));
    assert!(out.status.success(), "duckdb could not read the dataset");
    let got = csv_rows(&csv);
    assert_eq!(got.len(), truth.len(), "one row per target");
    let mut mismatches = Vec::new();
    for row in &got {
        let t = &truth[&row["domain"]];
        for c in COLUMNS {
            if t[c] != row[c] {
                mismatches.push(format!(
                    "{} {c}: expected '{}', got '{}' ({} | {})",
                    row["domain"], t[c], row[c], row["rpki_reason"], row["rpki_addresses"]
                ));
            }
        }
        // The detail names a state per address; an invalid domain's reason says why.
        assert!(!row["rpki_addresses"].is_empty(), "{row:?}");
        if row["rpki_status"] == "invalid" {
            assert!(
                row["rpki_reason"].contains("maxLength")
                    || row["rpki_reason"].contains("not authorised"),
                "{row:?}"
            );
        }
    }
    assert!(
        mismatches.is_empty(),
        "{} mismatches; first ones:\n{}",
        mismatches.len(),
        mismatches[..mismatches.len().min(30)].join("\n")
    );
    // Both kinds of invalid occur.
    for why in ["maxLength", "not authorised"] {
        assert!(
            got.iter().any(|r| r["rpki_reason"].contains(why)),
            "no invalid domain for '{why}'"
        );
    }

    // Aggregates by hosting country and network: the rpki counts of every group equal those
    // from truth.csv, and DuckDB running the generated metrics.sql gives the same counts for
    // every metric and group.
    let stats = work.path().join("stats");
    let out = run(uptake()
        .arg("aggregate")
        .arg(&data)
        .args([
            "--by",
            "hosting_country",
            "--by",
            "hosting_asn",
            "--by",
            "country,hosting_country",
            "--out",
        ])
        .arg(&stats));
    assert!(out.status.success(), "aggregate failed");
    let ours = adoption_counts(&stats.join("adoption.csv"));
    assert_duckdb_agrees(&stats, &ours);
    let mut expected: BTreeMap<(String, String), (u64, u64, u64)> = BTreeMap::new();
    for t in truth.values() {
        let status = t["rpki_status"].as_str();
        let applicable = ["valid", "invalid", "partial", "not_found"].contains(&status);
        for key in [
            ("hosting_country", t["hosting_country"].clone()),
            ("hosting_asn", format!("AS{}", t["hosting_asn"])),
        ] {
            let e = expected.entry((key.0.to_string(), key.1)).or_default();
            e.0 += applicable as u64;
            e.1 += (status == "valid") as u64;
        }
    }
    let got: BTreeMap<(String, String), (u64, u64, u64)> = ours
        .iter()
        .filter(|(k, _)| k.1.starts_with("hosting_") && k.3 == "rpki")
        .map(|(k, v)| ((k.1.clone(), k.2.clone()), *v))
        .collect();
    assert_eq!(got, expected, "rpki by hosting group: uptake vs truth");
    assert!(
        ours.keys().any(|k| k.1 == "country,hosting_country"),
        "no country,hosting_country rows"
    );
}

fn scan_with(dir: &Path, routing: &[(&str, &Path)]) -> (bool, String, bool) {
    let list = dir.join("list.txt");
    std::fs::write(&list, "example.nl\n").expect("write");
    let data = dir.join("data");
    let mut cmd = uptake();
    cmd.args([
        "scan",
        "--quiet",
        "--resolver",
        "127.0.0.1:9",
        "--scan-id",
        "x",
    ])
    .arg("--targets")
    .arg(&list)
    .arg("--out")
    .arg(&data);
    for (flag, path) in routing {
        cmd.arg(flag).arg(path);
    }
    let out = cmd
        .env_remove("UPTAKE_VRPS")
        .env_remove("UPTAKE_PREFIX_ORIGINS")
        .env_remove("UPTAKE_IP_ASN")
        .output()
        .expect("spawn");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
        data.join("scan=x").exists(),
    )
}

#[test]
fn bad_routing_inputs_fail_before_the_scan() {
    let work = tempfile::tempdir().expect("tempdir");
    let w = work.path();
    let vrps = w.join("vrps.csv");
    std::fs::write(
        &vrps,
        "ASN,IP Prefix,Max Length,Trust Anchor\nAS64500,192.0.2.0/24,24,ta\nAS64500,192.0.2.0/33,24,ta\n",
    )
    .unwrap();
    let routes = w.join("prefix2as.txt");
    std::fs::write(&routes, "192.0.2.0\t24\t64500\n").unwrap();
    let ranges = w.join("ip2asn.tsv");
    std::fs::write(
        &ranges,
        "192.0.2.0\t192.0.2.255\t64500\tNL\tEXAMPLE\n192.0.2.128\t192.0.2.200\t64501\tNL\tX\n",
    )
    .unwrap();
    let missing = w.join("nope.csv");

    let (ok, err, wrote) = scan_with(
        w,
        &[
            ("--vrps", &vrps),
            ("--prefix-origins", &routes),
            ("--ip-asn", &ranges),
        ],
    );
    assert!(!ok && !wrote, "{err}");
    assert!(err.contains(&format!("{}:3", vrps.display())), "{err}");

    let good_vrps = w.join("good.csv");
    std::fs::write(
        &good_vrps,
        "ASN,IP Prefix,Max Length,Trust Anchor\nAS64500,192.0.2.0/24,24,ta\n",
    )
    .unwrap();
    let (ok, err, wrote) = scan_with(
        w,
        &[
            ("--vrps", &good_vrps),
            ("--prefix-origins", &routes),
            ("--ip-asn", &ranges),
        ],
    );
    assert!(!ok && !wrote, "{err}");
    assert!(
        err.contains(&format!("{}:2", ranges.display())) && err.contains("overlaps"),
        "{err}"
    );

    // A range table out of order names the line that breaks the order.
    let unsorted = w.join("unsorted.tsv");
    std::fs::write(
        &unsorted,
        "192.0.2.128\t192.0.2.255\t64500\tNL\tEXAMPLE\n192.0.2.0\t192.0.2.127\t64501\tNL\tX\n",
    )
    .unwrap();
    let (ok, err, wrote) = scan_with(
        w,
        &[
            ("--vrps", &good_vrps),
            ("--prefix-origins", &routes),
            ("--ip-asn", &unsorted),
        ],
    );
    assert!(!ok && !wrote, "{err}");
    assert!(
        err.contains(&format!("{}:2", unsorted.display())) && err.contains("not sorted"),
        "{err}"
    );

    // A missing file is named with its flag, alone or with the others.
    let alone: [(&str, &Path); 1] = [("--vrps", &missing)];
    let with_others: [(&str, &Path); 3] = [
        ("--vrps", &good_vrps),
        ("--prefix-origins", &routes),
        ("--ip-asn", &missing),
    ];
    for given in [&alone[..], &with_others[..]] {
        let (ok, err, wrote) = scan_with(w, given);
        assert!(!ok && !wrote, "{err}");
        let flag = given.iter().find(|(_, p)| *p == missing).unwrap().0;
        assert!(
            err.contains(&format!("{flag} {}", missing.display())) && err.contains("No such file"),
            "{err}"
        );
        assert_eq!(err.trim().lines().count(), 1, "{err}");
    }

    let (ok, err, wrote) = scan_with(w, &[("--vrps", &good_vrps)]);
    assert!(!ok && !wrote, "{err}");
    assert!(err.contains("go together"), "{err}");

    // `uptake check` loads the same tables the same way, before its one domain.
    let out = uptake()
        .args(["check", "example.nl", "--resolver", "127.0.0.1:9"])
        .arg("--vrps")
        .arg(&vrps)
        .arg("--prefix-origins")
        .arg(&routes)
        .arg("--ip-asn")
        .arg(&ranges)
        .output()
        .expect("spawn");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{err}");
    assert!(err.contains(&format!("{}:3", vrps.display())), "{err}");
}
