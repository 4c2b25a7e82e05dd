//! Post-quantum key exchange over the private internet: a web and mail scan of the shared
//! testbed gives `pq_kex_status` and `mx_pq_kex_status` equal to truth.csv for every domain,
//! and the group and HelloRetryRequest evidence follow the server flavour that truth.csv names
//! (`web_tls_server`: nginx, or the rustls servers preferring hybrid, preferring classical,
//! or needing a HelloRetryRequest). The scanner itself knows nothing of the flavours.

use std::collections::{BTreeMap, HashMap};

use crate::harness::{csv_rows, in_testbed, python, run, testbed, testbed_scan};

#[test]
fn pq_kex_agrees_with_truth_for_every_domain() {
    let dir = testbed();
    let work = tempfile::tempdir().expect("tempdir");
    let data = work.path().join("data");
    // A generous step timeout, as the machine running the tests may be loaded.
    let script = format!(
        "{} --probe-timeout 20",
        testbed_scan("web,mail", &dir.join("targets.csv"), &data, "pq")
    );
    let out = in_testbed(dir, &script);
    assert!(out.status.success(), "scan failed");

    let csv = work.path().join("pq.csv");
    let cols = [
        "pq_kex_status",
        "pq_kex_reason",
        "tls_group",
        "tls_group_code",
        "tls_hello_retry",
        "mx_pq_kex_status",
        "mx_pq_kex_reason",
        "mx_pq_kex",
        "mx_tls_groups",
        "mx_tls_hello_retry",
        "mx_certificate_keys",
        "certificate_key",
    ];
    let select: Vec<String> = cols
        .iter()
        .map(|c| format!("coalesce(CAST({c} AS VARCHAR), '') AS {c}"))
        .collect();
    let sql = format!(
        "COPY (SELECT domain, {} FROM read_parquet('{}/scan=pq/*.parquet') ORDER BY domain) TO '{}' (HEADER)",
        select.join(", "),
        data.display(),
        csv.display()
    );
    let py = format!("import duckdb\nduckdb.connect().execute(\"\"\"{sql}\"\"\")\n");
    let out = run(python().args(["-c", &py]));
    assert!(out.status.success(), "duckdb export failed");

    let truth: HashMap<String, HashMap<String, String>> = csv_rows(&dir.join("truth.csv"))
        .into_iter()
        .map(|r| (r["domain"].clone(), r))
        .collect();
    let got = csv_rows(&csv);
    assert_eq!(got.len(), truth.len(), "one row per target");

    // The testbed must hold every status, or the comparison would prove little.
    let mut seen: BTreeMap<(&str, &str), usize> = BTreeMap::new();
    for t in truth.values() {
        for c in ["pq_kex_status", "mx_pq_kex_status"] {
            *seen.entry((c, t[c].as_str())).or_default() += 1;
        }
        *seen
            .entry(("web_tls_server", t["web_tls_server"].as_str()))
            .or_default() += 1;
    }
    for (c, s) in [
        ("pq_kex_status", "pq_hybrid"),
        ("pq_kex_status", "classical"),
        ("pq_kex_status", "not_applicable"),
        ("mx_pq_kex_status", "all"),
        ("mx_pq_kex_status", "none"),
        ("mx_pq_kex_status", "not_applicable"),
        ("web_tls_server", "stock"),
        ("web_tls_server", "rustls-hybrid-first"),
        ("web_tls_server", "rustls-prefers-classical"),
        ("web_tls_server", "rustls-hello-retry"),
    ] {
        assert!(
            seen.contains_key(&(c, s)),
            "truth.csv has no {c} {s}: {seen:?}"
        );
    }

    let mut mismatches = Vec::new();
    for row in &got {
        let d = &row["domain"];
        let t = &truth[d];
        for c in ["pq_kex_status", "mx_pq_kex_status"] {
            if row[c] != t[c] {
                let reason = &row[&c.replace("_status", "_reason")];
                mismatches.push(format!(
                    "{d} {c}: truth {}, scan {} ({reason}); web {}, mx {}",
                    t[c], row[c], t["web_tls_server"], t["mx_tls_servers"]
                ));
            }
        }
        // Evidence: the group and the HelloRetryRequest follow the web server's flavour.
        if t["https_status"] == "available" {
            let want = match t["web_tls_server"].as_str() {
                "rustls-hybrid-first" => Some(("X25519MLKEM768", "4588", "false")),
                "rustls-prefers-classical" => Some(("x25519", "29", "false")),
                "rustls-hello-retry" => Some(("SecP256r1MLKEM768", "4587", "true")),
                _ => None,
            };
            let have = (
                row["tls_group"].as_str(),
                row["tls_group_code"].as_str(),
                row["tls_hello_retry"].as_str(),
            );
            if let Some(want) = want {
                if have != want {
                    mismatches.push(format!("{d} web evidence: want {want:?}, got {have:?}"));
                }
            } else if have.2 != "false" {
                // nginx answers the X25519 share at once.
                mismatches.push(format!("{d} web evidence: nginx needed a retry: {have:?}"));
            }
        }
        // Per MX: one word per MX host, the group of each hybrid one a hybrid group.
        if t["mx_pq_kex_status"] == "all" {
            let words: Vec<&str> = row["mx_pq_kex"]
                .trim_matches(['[', ']'])
                .split(", ")
                .collect();
            if words.iter().any(|w| *w != "pq_hybrid") || !row["mx_tls_groups"].contains("MLKEM768")
            {
                mismatches.push(format!(
                    "{d} MX evidence: {} / {} / {}",
                    row["mx_pq_kex"], row["mx_tls_groups"], row["mx_tls_hello_retry"]
                ));
            }
        }
        if t["mx_tls_servers"] == "rustls-hello-retry"
            && !row["mx_tls_hello_retry"].contains("true")
        {
            mismatches.push(format!(
                "{d} MX HelloRetryRequest not recorded: {}",
                row["mx_tls_hello_retry"]
            ));
        }
        let keys = &row["mx_certificate_keys"];
        if t["mx_pq_kex_status"] != "not_applicable"
            && !(keys.contains("RSA") || keys.contains("EC"))
        {
            mismatches.push(format!("{d} MX certificate key not recorded"));
        }
    }
    assert!(
        mismatches.is_empty(),
        "{} mismatches; first ones:\n{}",
        mismatches.len(),
        mismatches
            .iter()
            .take(30)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
}
