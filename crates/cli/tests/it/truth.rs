//! The private internet serves what its truth says: every domain's DNSSEC state as Unbound
//! sees it and its records as the profile wrote them, checked with BIND's `dig` (an
//! implementation independent of ours).

use std::collections::HashMap;
use std::fmt::Write as _;

use crate::harness::{csv_rows, in_testbed, run, testbed, uptake};

/// One dig answer block.
#[derive(Debug)]
struct Block {
    status: String,
    ad: bool,
    question: String,
    answers: Vec<String>,
}

fn parse_blocks(text: &str) -> Vec<Block> {
    text.split(";; Got answer:")
        .skip(1)
        .map(|b| {
            let status = b
                .split("status: ")
                .nth(1)
                .and_then(|s| s.split(',').next())
                .unwrap_or("")
                .to_string();
            let flags = b
                .split(";; flags:")
                .nth(1)
                .and_then(|s| s.split(';').next())
                .unwrap_or("");
            let ad = flags.split_whitespace().any(|f| f == "ad");
            let question = b
                .split(";; QUESTION SECTION:\n;")
                .nth(1)
                .and_then(|s| s.lines().next())
                .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
                .unwrap_or_default();
            let answers = b
                .split(";; ANSWER SECTION:\n")
                .nth(1)
                .map(|s| {
                    s.lines()
                        .take_while(|l| !l.trim().is_empty())
                        .map(|l| {
                            format!(" {} ", l.split_whitespace().collect::<Vec<_>>().join(" "))
                        })
                        .collect()
                })
                .unwrap_or_default();
            Block {
                status,
                ad,
                question,
                answers,
            }
        })
        .collect()
}

struct Expect {
    domain: String,
    what: &'static str,
    check: Box<dyn Fn(&Block) -> bool>,
}

#[test]
fn testbed_serves_its_truth() {
    let dir = testbed();
    let truth = csv_rows(&dir.join("truth.csv"));
    assert_eq!(truth.len() as u64, crate::harness::DOMAINS);
    let mut batch = String::new();
    let mut expects: Vec<Expect> = Vec::new();
    let add = |batch: &mut String,
               expects: &mut Vec<Expect>,
               d: &str,
               name: String,
               rtype: &str,
               opts: &str,
               what: &'static str,
               check: Box<dyn Fn(&Block) -> bool>| {
        let _ = writeln!(batch, "@192.0.2.53 {name} {rtype} {opts}");
        expects.push(Expect {
            domain: d.to_string(),
            what,
            check,
        });
    };
    for row in &truth {
        let d = row["domain"].clone();
        let get = |k: &str| row[k].clone();
        let bogus = get("dnssec_status") == "bogus";
        let cd = if bogus { "+cd" } else { "" };
        match get("dnssec_status").as_str() {
            "secure" => add(
                &mut batch,
                &mut expects,
                &d,
                d.clone(),
                "SOA",
                "+dnssec",
                "secure: NOERROR with AD",
                Box::new(|b| b.status == "NOERROR" && b.ad),
            ),
            "insecure" => add(
                &mut batch,
                &mut expects,
                &d,
                d.clone(),
                "SOA",
                "+dnssec",
                "insecure: NOERROR without AD",
                Box::new(|b| b.status == "NOERROR" && !b.ad),
            ),
            _ => {
                add(
                    &mut batch,
                    &mut expects,
                    &d,
                    d.clone(),
                    "SOA",
                    "+dnssec",
                    "bogus: SERVFAIL",
                    Box::new(|b| b.status == "SERVFAIL"),
                );
                add(
                    &mut batch,
                    &mut expects,
                    &d,
                    d.clone(),
                    "SOA",
                    "+cd",
                    "bogus: data with CD=1",
                    Box::new(|b| b.status == "NOERROR"),
                );
            }
        }
        let mx_hosts: Vec<String> = get("mx_hosts")
            .split_whitespace()
            .map(|h| format!("{h}."))
            .collect();
        let mx_status = get("mx_status");
        add(
            &mut batch,
            &mut expects,
            &d,
            d.clone(),
            "MX",
            cd,
            "MX set",
            Box::new(move |b| {
                let mut got: Vec<String> = b
                    .answers
                    .iter()
                    .filter(|l| l.contains(" MX "))
                    .filter_map(|l| l.split_whitespace().last().map(str::to_string))
                    .collect();
                got.sort();
                let mut want = mx_hosts.clone();
                want.sort();
                match mx_status.as_str() {
                    "null_mx" => got == vec![".".to_string()],
                    _ => got == want,
                }
            }),
        );
        // Presence of a record: (query name, type, text in the answer, expected, what).
        let presence: [(String, &str, &'static str, bool, &'static str); 7] = [
            (
                d.clone(),
                "TXT",
                "v=spf1",
                get("spf_status") != "none",
                "SPF TXT presence",
            ),
            (
                format!("_dmarc.{d}"),
                "TXT",
                "v=DMARC1",
                get("dmarc_source") == "own",
                "own DMARC presence",
            ),
            (
                d.clone(),
                "CAA",
                " CAA ",
                get("caa_found_at") == d,
                "CAA at the domain",
            ),
            (
                d.clone(),
                "AAAA",
                " AAAA ",
                get("apex_aaaa") == "true",
                "apex AAAA",
            ),
            (
                format!("www.{d}"),
                "AAAA",
                " AAAA ",
                get("www_aaaa") == "true",
                "www AAAA",
            ),
            (
                format!("_smtp._tls.{d}"),
                "TXT",
                "v=TLSRPTv1",
                get("tls_rpt_status") != "absent",
                "TLS-RPT TXT presence",
            ),
            (
                format!("_mta-sts.{d}"),
                "TXT",
                "v=STSv1",
                get("mta_sts_record_status") != "absent",
                "MTA-STS TXT presence",
            ),
        ];
        for (name, rtype, needle, want, what) in presence {
            let check = move |b: &Block| b.answers.iter().any(|l| l.contains(needle)) == want;
            add(
                &mut batch,
                &mut expects,
                &d,
                name,
                rtype,
                cd,
                what,
                Box::new(check),
            );
        }
        let dkim = get("dkim_status") == "present";
        add(
            &mut batch,
            &mut expects,
            &d,
            format!("_domainkey.{d}"),
            "TXT",
            cd,
            "_domainkey NXDOMAIN iff absent",
            Box::new(move |b| b.status == if dkim { "NOERROR" } else { "NXDOMAIN" }),
        );
    }
    // Two dig processes over the two halves of the batch.
    let lines: Vec<&str> = batch.lines().collect();
    let half = lines.len() / 2;
    let work = tempfile::tempdir().expect("tempdir");
    std::fs::write(work.path().join("a"), lines[..half].join("\n") + "\n").expect("write");
    std::fs::write(work.path().join("b"), lines[half..].join("\n") + "\n").expect("write");
    let script = format!(
        "cd {} && dig +tries=2 +time=5 +noall +comments +question +answer -f a > a.out & cd {} && dig +tries=2 +time=5 +noall +comments +question +answer -f b > b.out; wait",
        work.path().display(),
        work.path().display()
    );
    let out = in_testbed(dir, &script);
    assert!(out.status.success());
    let mut blocks =
        parse_blocks(&std::fs::read_to_string(work.path().join("a.out")).expect("a.out"));
    blocks.extend(parse_blocks(
        &std::fs::read_to_string(work.path().join("b.out")).expect("b.out"),
    ));
    assert_eq!(
        blocks.len(),
        expects.len(),
        "dig answered {} of {} queries",
        blocks.len(),
        expects.len()
    );
    let mut failures: HashMap<&str, Vec<String>> = HashMap::new();
    for ((e, b), line) in expects.iter().zip(&blocks).zip(&lines) {
        let qname = line.split_whitespace().nth(1).unwrap_or_default();
        assert!(
            b.question.starts_with(&format!("{qname}.")),
            "answers out of order: {line} vs {}",
            b.question
        );
        if !(e.check)(b) {
            failures.entry(e.what).or_default().push(format!(
                "{} ({line}): {} ad={} {:?}",
                e.domain, b.status, b.ad, b.answers
            ));
        }
    }
    let report: Vec<String> = failures
        .iter()
        .map(|(what, v)| {
            format!(
                "{what}: {} failures, e.g.\n  {}",
                v.len(),
                v.iter().take(3).cloned().collect::<Vec<_>>().join("\n  ")
            )
        })
        .collect();
    assert!(
        failures.is_empty(),
        "testbed disagrees with its truth:\n{}",
        report.join("\n")
    );
}

#[test]
fn same_seed_same_lists() {
    let a = tempfile::tempdir().expect("tempdir");
    let b = tempfile::tempdir().expect("tempdir");
    for d in [a.path(), b.path()] {
        let out = run(uptake()
            .args([
                "testbed",
                "generate",
                "--domains",
                "300",
                "--seed",
                "42",
                "--out",
            ])
            .arg(d.join("tb")));
        assert!(out.status.success());
    }
    for f in ["targets.csv", "truth.csv"] {
        let x = std::fs::read(a.path().join("tb").join(f)).expect("read");
        let y = std::fs::read(b.path().join("tb").join(f)).expect("read");
        assert!(x == y, "{f} differs between two runs with the same seed");
    }
    let c = tempfile::tempdir().expect("tempdir");
    let out = run(uptake()
        .args([
            "testbed",
            "generate",
            "--domains",
            "300",
            "--seed",
            "43",
            "--out",
        ])
        .arg(c.path().join("tb")));
    assert!(out.status.success());
    assert_ne!(
        std::fs::read(a.path().join("tb/truth.csv")).expect("read"),
        std::fs::read(c.path().join("tb/truth.csv")).expect("read"),
        "another seed must give another testbed"
    );
}

#[test]
fn generate_rejects_bad_input() {
    let t = tempfile::tempdir().expect("tempdir");
    let one_line_error = |args: &[&str]| {
        let out = uptake().args(args).output().expect("spawn");
        assert!(!out.status.success(), "{args:?} should fail");
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(
            err.trim().lines().count(),
            1,
            "{args:?}: expected one line, got:\n{err}"
        );
        err.to_string()
    };
    let out = t.path().join("x").display().to_string();
    assert!(
        one_line_error(&["testbed", "generate", "--domains", "0", "--out", &out])
            .contains("--domains")
    );
    assert!(one_line_error(&[
        "testbed",
        "generate",
        "--domains",
        "5",
        "--out",
        "/proc/uptake-cannot-write"
    ])
    .contains("/proc"));
    std::fs::write(t.path().join("file"), "x").expect("write");
    let notempty = t.path().display().to_string();
    assert!(
        one_line_error(&["testbed", "generate", "--domains", "5", "--out", &notempty])
            .contains("neither empty nor a testbed")
    );
}
