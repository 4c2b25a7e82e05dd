//! The scan engine at scale (issue 5): shards, crash + resume, opt-outs, the special-address
//! guard, the DNS rate cap, the per-address connection rate cap, a full disk, an unwritable
//! output and a vanishing input, each against the private internet.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use uptake_model::Check;

use crate::harness::{csv_rows, python, run, testbed, uptake};

const BIN: &str = env!("CARGO_BIN_EXE_uptake");

/// Runs `sh -c script` inside the private internet of `tb`.
fn in_testbed(tb: &Path, script: &str) -> std::process::Output {
    run(uptake()
        .args(["testbed", "run"])
        .arg(tb)
        .args(["--", "sh", "-c", script]))
}

/// One row per domain of a scan (every committed part), as domain -> column -> value, the
/// status and reason columns and `dns_retries`, read by DuckDB. Panics if a domain has two
/// rows.
fn scan_rows(dataset: &Path, scan: &str) -> BTreeMap<String, HashMap<String, String>> {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("rows.csv");
    let mut cols = vec!["domain".to_string(), "dns_retries".to_string()];
    for c in Check::ALL {
        let s = c.status_column();
        cols.push(format!("coalesce(CAST({s} AS VARCHAR), '') AS {s}"));
        let r = format!("{}_reason", c.id());
        cols.push(format!("coalesce({r}, '') AS {r}"));
    }
    let py = format!(
        "import duckdb\nduckdb.connect().execute(\"\"\"COPY (SELECT {} FROM read_parquet('{}/scan={scan}/part-*.parquet') ORDER BY domain) TO '{}' (HEADER)\"\"\")",
        cols.join(", "),
        dataset.display(),
        csv.display()
    );
    let out = run(python().args(["-c", &py]));
    assert!(out.status.success(), "duckdb could not read scan {scan}");
    let mut rows = BTreeMap::new();
    for r in csv_rows(&csv) {
        let d = r["domain"].clone();
        assert!(
            rows.insert(d.clone(), r).is_none(),
            "{d} has two rows in scan {scan}"
        );
    }
    rows
}

/// The domains of targets.csv.
fn target_domains(tb: &Path) -> BTreeMap<String, HashMap<String, String>> {
    csv_rows(&tb.join("targets.csv"))
        .into_iter()
        .map(|r| (r["domain"].clone(), r))
        .collect()
}

/// Asserts two scans have the same domains and, for every domain measured without error in
/// both, the same statuses; errors (timeouts on a loaded machine) may differ on at most 2 %
/// of the domains.
fn assert_same_findings(
    a: &BTreeMap<String, HashMap<String, String>>,
    b: &BTreeMap<String, HashMap<String, String>>,
    what: &str,
) {
    let ka: Vec<&String> = a.keys().collect();
    let kb: Vec<&String> = b.keys().collect();
    assert_eq!(ka.len(), kb.len(), "{what}: row counts differ");
    assert!(ka == kb, "{what}: the domains differ");
    let mut with_error = 0;
    let mut mismatches = vec![];
    for (d, ra) in a {
        let rb = &b[d];
        let cols: Vec<String> = Check::ALL.iter().map(|c| c.status_column()).collect();
        if cols.iter().any(|c| ra[c] == "error" || rb[c] == "error") {
            with_error += 1;
            continue;
        }
        for c in &cols {
            if ra[c] != rb[c] {
                mismatches.push(format!("{d} {c}: {} vs {}", ra[c], rb[c]));
            }
        }
    }
    assert!(
        mismatches.is_empty(),
        "{what}: {} findings differ, e.g. {:?}",
        mismatches.len(),
        &mismatches[..mismatches.len().min(10)]
    );
    assert!(
        with_error * 50 <= a.len(),
        "{what}: {with_error} of {} domains have errors",
        a.len()
    );
}

#[test]
fn four_concurrent_shards_give_the_rows_of_one_scan() {
    let tb = testbed();
    let work = tempfile::tempdir().unwrap();
    let data = work.path().join("data");
    let t = tb.join("targets.csv");
    let script = format!(
        "set -e; {BIN} scan --quiet --checks dns --targets {t} --out {d} --scan-id whole --concurrency 200
         pids=''
         for k in 0 1 2 3; do {BIN} scan --quiet --checks dns --targets {t} --out {d} --scan-id sharded --shard $k/4 --concurrency 50 2> {w}/shard-$k.log & pids=\"$pids $!\"; done
         fail=0; for p in $pids; do wait $p || fail=1; done; exit $fail",
        t = t.display(),
        d = data.display(),
        w = work.path().display()
    );
    let out = in_testbed(tb, &script);
    assert!(out.status.success(), "scans failed");
    let whole = scan_rows(&data, "whole");
    let sharded = scan_rows(&data, "sharded");
    assert_eq!(whole.len(), target_domains(tb).len());
    assert_same_findings(&whole, &sharded, "4 shards vs one scan");
    // Each shard wrote its own parts, and no shard is empty.
    let names: HashSet<String> = std::fs::read_dir(data.join("scan=sharded"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    for k in 0..4 {
        assert!(
            names
                .iter()
                .any(|n| n.starts_with(&format!("part-{k}of4-"))),
            "shard {k} wrote no part: {names:?}"
        );
    }
}

fn random_millis(lo: u64, hi: u64) -> u64 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos() as u64;
    lo + nanos % (hi - lo)
}

#[test]
fn sigkill_then_resume_gives_every_target_once_with_the_same_findings() {
    let tb = testbed();
    let work = tempfile::tempdir().unwrap();
    let data = work.path().join("data");
    let t = tb.join("targets.csv");
    // At 2,000 queries/s the 27,000 queries of the crashed scan take about 14 s.
    let kill_after = random_millis(1_000, 9_000) as f64 / 1000.0;
    eprintln!("killing the scan after {kill_after:.2}s");
    let common = format!(
        "--quiet --checks dns --targets {} --out {} --concurrency 40 --commit-interval 0.2 --part-rows 150",
        t.display(),
        data.display()
    );
    let script = format!(
        "{BIN} scan {common} --scan-id whole || exit 1
         {BIN} scan {common} --scan-id crash --dns-rate 2000 & pid=$!
         sleep {kill_after}; kill -9 $pid; wait $pid; echo killed=$? >&2
         {BIN} scan {common} --scan-id crash && exit 9
         {BIN} scan {common} --scan-id crash --resume"
    );
    let out = in_testbed(tb, &script);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "resume failed: {stderr}");
    assert!(
        stderr.contains("killed=137"),
        "the scan was not killed: {stderr}"
    );
    assert!(
        stderr.contains("pass --resume"),
        "a second run without --resume was not refused: {stderr}"
    );
    let whole = scan_rows(&data, "whole");
    let resumed = scan_rows(&data, "crash");
    assert_eq!(whole.len(), target_domains(tb).len());
    assert_same_findings(&whole, &resumed, "killed + resumed vs uninterrupted");
}

/// A small testbed of this module's own whose resolver logs every query it receives.
fn logging_testbed() -> &'static Path {
    static TB: OnceLock<PathBuf> = OnceLock::new();
    TB.get_or_init(|| {
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("testbed-engine-300");
        let _ = std::fs::remove_dir_all(&dir);
        let out = run(uptake()
            .args([
                "testbed",
                "generate",
                "--domains",
                "300",
                "--seed",
                "11",
                "--out",
            ])
            .arg(&dir));
        assert!(out.status.success(), "testbed generate failed");
        let manifest: serde_json::Value =
            serde_json::from_slice(&std::fs::read(dir.join("testbed.json")).unwrap()).unwrap();
        let resolver = manifest["servers"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["kind"] == "unbound")
            .expect("an unbound server");
        let conf = dir.join(resolver["config"].as_str().unwrap());
        let text = std::fs::read_to_string(&conf).unwrap();
        assert!(text.contains("server:\n"));
        std::fs::write(
            &conf,
            text.replacen("server:\n", "server:\n    log-queries: yes\n", 1),
        )
        .unwrap();
        dir
    })
}

/// Shell that sets `$conf` to the running unbound's config, which the runner renders into
/// its state directory beside the servers' logs (nginx rewrites its command line, unbound
/// does not).
const FIND_RESOLVER_CONF: &str = "for p in /proc/[0-9]*; do if [ \"$(readlink $p/exe)\" = /usr/sbin/unbound ]; then conf=$(tr '\\0' '\\n' < $p/cmdline | tail -n 1); fi; done";

/// Shell that copies the resolver's log (in the runner's state directory) to `dest`.
fn copy_resolver_log(dest: &Path) -> String {
    format!(
        "{FIND_RESOLVER_CONF}\ncp \"${{conf%.conf}}.log\" {}",
        dest.display()
    )
}

/// Shell that copies nginx's error log (in the runner's state directory) to `dest`.
fn copy_nginx_log(dest: &Path) -> String {
    format!(
        "{FIND_RESOLVER_CONF}\ncp \"$(dirname \"$conf\")/nginx-error.log\" {}",
        dest.display()
    )
}

#[test]
fn opted_out_domains_and_prefixes_are_never_contacted() {
    let tb = logging_testbed();
    let work = tempfile::tempdir().unwrap();
    let data = work.path().join("data");
    let targets = target_domains(tb);
    let names: Vec<&String> = targets.keys().collect();
    let opted: Vec<&String> = names.iter().step_by(37).copied().collect();
    assert!(opted.len() >= 5);
    let mut list = String::from("# owners who asked not to be scanned\n");
    for d in &opted {
        list.push_str(&format!("{}\n", d.to_uppercase()));
    }
    // Every name server address over IPv6 of the testbed's providers.
    list.push_str("2001:db8::/32\n");
    let opt_out = work.path().join("opt-out.txt");
    std::fs::write(&opt_out, list).unwrap();
    let log = work.path().join("resolver.log");
    let script = format!(
        "{BIN} scan --quiet --checks dns --targets {} --out {} --scan-id o --opt-out {} || exit 1\n{}",
        tb.join("targets.csv").display(),
        data.display(),
        opt_out.display(),
        copy_resolver_log(&log)
    );
    let out = in_testbed(tb, &script);
    assert!(out.status.success(), "scan failed");
    let rows = scan_rows(&data, "o");
    assert_eq!(rows.len(), targets.len() - opted.len());
    let listed: HashSet<String> = csv_rows(&data.join("scan=o/opted-out.csv"))
        .into_iter()
        .map(|r| {
            assert!(!r["rule"].is_empty());
            r["domain"].clone()
        })
        .collect();
    let want: HashSet<String> = opted.iter().map(|d| d.to_string()).collect();
    assert_eq!(listed, want, "opted-out.csv");
    // The resolver never heard of them (queries are logged as `info: <client> <name>. <type> IN`).
    let log = std::fs::read_to_string(&log).expect("resolver log");
    let logged = log.lines().filter(|l| l.contains(" IN")).count();
    assert!(logged > 1000, "the resolver logged only {logged} queries");
    for d in &opted {
        let needle = format!("{d}.");
        let hit = log.lines().find(|l| {
            l.split_whitespace()
                .any(|w| w == needle || w.ends_with(&format!(".{needle}")))
        });
        assert!(
            hit.is_none(),
            "query for opted-out {d} reached the resolver: {hit:?}"
        );
    }
    // No name server in an opted-out prefix was asked: ns_ipv6 could not be measured there.
    let refused = rows
        .values()
        .filter(|r| r["ns_ipv6_reason"].contains("opted out"))
        .count();
    assert!(
        refused > 0,
        "no ns_ipv6 measurement met the opted-out prefix"
    );
    assert!(rows
        .values()
        .all(|r| r["ns_ipv6_status"] != "reachable" && r["ns_ipv6_status"] != "partial"));
}

#[test]
fn special_addresses_are_refused_unless_allowed() {
    let tb = logging_testbed();
    let work = tempfile::tempdir().unwrap();
    let data = work.path().join("data");
    let t = tb.join("targets.csv");
    // The runner exports the testbed's ranges in UPTAKE_ALLOW_ADDRESSES; without them the
    // name servers (on documentation addresses) must not be asked over IPv6, and no web or
    // mail host may be connected to. The per-address limits are lifted: the testbed's shared
    // providers carry many domains on one address of this machine.
    let script = format!(
        "set -e
         env -u UPTAKE_ALLOW_ADDRESSES {BIN} scan --quiet --targets {t} --out {d} --scan-id refused --connection-rate 1000 --connections-per-address 64
         {BIN} scan --quiet --targets {t} --out {d} --scan-id allowed --connection-rate 1000 --connections-per-address 64",
        t = t.display(),
        d = data.display()
    );
    let out = in_testbed(tb, &script);
    assert!(out.status.success(), "scan failed");
    let refused = scan_rows(&data, "refused");
    let allowed = scan_rows(&data, "allowed");
    let special = |rows: &BTreeMap<String, HashMap<String, String>>| {
        rows.values()
            .filter(|r| r["ns_ipv6_reason"].contains("special-purpose address"))
            .count()
    };
    assert!(
        special(&refused) > 50,
        "only {} refusals",
        special(&refused)
    );
    assert_eq!(special(&allowed), 0);
    // Refused addresses were never contacted: nothing was measured as answering.
    assert!(refused
        .values()
        .all(|r| r["ns_ipv6_status"] == "none" || r["ns_ipv6_status"] == "error"));
    assert!(allowed.values().any(|r| r["ns_ipv6_status"] == "reachable"));
    // Web and mail: every domain with a web or mail host is an error that names the refusal,
    // never a finding (which would need a connection), and the allowed scan measured them.
    for check in ["https", "starttls"] {
        let (status, reason) = (format!("{check}_status"), format!("{check}_reason"));
        let measured = |r: &HashMap<String, String>| {
            !["", "error", "not_applicable"].contains(&r[&status].as_str())
        };
        assert_eq!(
            refused.values().filter(|r| measured(r)).count(),
            0,
            "{check}"
        );
        let named = refused
            .values()
            .filter(|r| r[&reason].contains("special-purpose address"))
            .count();
        let in_allowed = allowed.values().filter(|r| measured(r)).count();
        // When allowed, most of them are measured (a loaded machine times out a few).
        assert!(
            named > 50 && in_allowed * 10 >= named * 8,
            "{check}: {named} refusals named, {in_allowed} measured when allowed"
        );
    }
}

#[test]
fn dns_rate_cap_holds_at_the_resolver() {
    let tb = logging_testbed();
    let work = tempfile::tempdir().unwrap();
    let data = work.path().join("data");
    let log = work.path().join("resolver.log");
    let cap = 250u32;
    let script = format!(
        "{BIN} scan --quiet --checks dns --targets {} --out {} --scan-id r --dns-rate {cap} --stats {}/stats.json || exit 1\n{}",
        tb.join("targets.csv").display(),
        data.display(),
        work.path().display(),
        copy_resolver_log(&log)
    );
    let out = in_testbed(tb, &script);
    assert!(out.status.success(), "scan failed");
    // Queries per second of the resolver's clock (log-time-ascii: `Mon DD HH:MM:SS`).
    let log = std::fs::read_to_string(&log).unwrap();
    let mut per_second: BTreeMap<String, u32> = BTreeMap::new();
    for l in log
        .lines()
        .filter(|l| l.contains(" info: ") && l.ends_with(" IN"))
    {
        let stamp: String = l.split_whitespace().take(3).collect::<Vec<_>>().join(" ");
        *per_second.entry(stamp).or_default() += 1;
    }
    let counts: Vec<u32> = per_second.values().copied().collect();
    assert!(counts.len() >= 8, "scan too short to judge: {counts:?}");
    // Whole seconds only: drop the first and last.
    let inner = &counts[1..counts.len() - 1];
    let max = *inner.iter().max().unwrap();
    let mean = inner.iter().sum::<u32>() as f64 / inner.len() as f64;
    eprintln!("queries per second at the resolver: {inner:?}");
    assert!(
        f64::from(max) <= f64::from(cap) * 1.1,
        "a second saw {max} queries, cap {cap}"
    );
    assert!(
        mean >= f64::from(cap) * 0.9,
        "mean {mean:.0}/s is well under the cap {cap}: the cap, not the scan, should set the pace"
    );
}

/// A copy of [`logging_testbed`] whose nginx logs the debug messages of its event loop
/// (`error_log ... debug_event`; Debian builds nginx `--with-debug`), among them one pair of
/// lines per accepted connection: `<pid>#<tid>: accept on <listen address>:<port>, ready: 0`,
/// then `<pid>#<tid>: *<n> accept: <client>:<port> fd:<fd>` (or `accept() not ready` when
/// the other worker took the connection).
fn connection_logging_testbed() -> &'static Path {
    static TB: OnceLock<PathBuf> = OnceLock::new();
    TB.get_or_init(|| {
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("testbed-engine-300-accepts");
        let _ = std::fs::remove_dir_all(&dir);
        let out = run(std::process::Command::new("cp")
            .arg("-r")
            .arg(logging_testbed())
            .arg(&dir));
        assert!(out.status.success(), "cannot copy the testbed");
        let conf = dir.join("servers/nginx.conf");
        let text = std::fs::read_to_string(&conf).unwrap();
        assert!(text.contains("nginx-error.log warn;"), "{text:.300}");
        std::fs::write(
            &conf,
            text.replacen("nginx-error.log warn;", "nginx-error.log debug_event;", 1),
        )
        .unwrap();
        dir
    })
}

/// New connections per address (the listening address, port dropped) per second of nginx's
/// clock, from the accept lines of its event debug log (see [`connection_logging_testbed`]):
/// each `*<n> accept:` is the connection accepted on the `accept on` address its worker
/// logged just before. Seconds without a connection between an address's first and last
/// are there with 0.
fn accepts_per_second(log: &str) -> BTreeMap<String, Vec<u32>> {
    // `2026/11/29 13:22:30 [debug] 153#153: message`
    let seconds = |date: &str, time: &str, first_date: &str| {
        let hms: Vec<i64> = time.split(':').map(|f| f.parse().unwrap()).collect();
        let day = if date == first_date { 0 } else { 86_400 };
        day + hms[0] * 3600 + hms[1] * 60 + hms[2]
    };
    let mut first_date = None;
    let mut listening: HashMap<&str, &str> = HashMap::new();
    let mut at: BTreeMap<String, BTreeMap<i64, u32>> = BTreeMap::new();
    for line in log.lines() {
        let mut f = line.splitn(5, ' ');
        let (Some(date), Some(time), Some("[debug]"), Some(worker), Some(msg)) =
            (f.next(), f.next(), f.next(), f.next(), f.next())
        else {
            continue;
        };
        if let Some(rest) = msg.strip_prefix("accept on ") {
            let listen = rest.split(',').next().unwrap();
            listening.insert(worker, listen.rsplit_once(':').unwrap().0);
        } else if msg.starts_with("accept() not ready") {
            // Another worker took the connection.
            listening.remove(worker);
        } else if msg.starts_with('*') && msg.contains(" accept: ") {
            let address = listening
                .remove(worker)
                .unwrap_or_else(|| panic!("accept without its listening address: {line}"));
            let first = *first_date.get_or_insert(date);
            *at.entry(address.to_string())
                .or_default()
                .entry(seconds(date, time, first))
                .or_default() += 1;
        }
    }
    at.into_iter()
        .map(|(address, per_second)| {
            let (lo, hi) = (
                *per_second.keys().next().unwrap(),
                *per_second.keys().last().unwrap(),
            );
            let counts = (lo..=hi)
                .map(|s| per_second.get(&s).copied().unwrap_or(0))
                .collect();
            (address, counts)
        })
        .collect()
}

#[test]
fn connection_rate_cap_holds_at_the_web_server() {
    let tb = connection_logging_testbed();
    let work = tempfile::tempdir().unwrap();
    let data = work.path().join("data");
    let log = work.path().join("nginx.log");
    let stats = work.path().join("stats.json");
    // Ten domains that one shared web provider serves on one address (apex and www): each
    // costs about eight connections there (rustls handshakes, GETs, raw ClientHellos for TLS
    // 1.0/1.1 and the cipher classes, port 80 and its redirects), about 80 in all, queued
    // together, so the address is saturated from the first connection to nearly the last.
    let truth = csv_rows(&tb.join("truth.csv"));
    let mut by_address: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for r in &truth {
        if r["web_hosting"].starts_with("shared") && r["https_status"] == "available" {
            by_address
                .entry(r["web_address"].as_str())
                .or_default()
                .push(r["domain"].as_str());
        }
    }
    let (address, domains) = by_address
        .iter()
        .max_by_key(|(_, d)| d.len())
        .expect("a shared web provider");
    assert!(domains.len() >= 10, "{address} serves only {domains:?}");
    let list = work.path().join("domains.txt");
    std::fs::write(&list, domains[..10].join("\n") + "\n").unwrap();
    let rate = 4u32;
    let script = format!(
        "{BIN} scan --quiet --checks web --targets {} --out {} --scan-id c --connection-rate {rate} --stats {} || exit 1\n{}",
        list.display(),
        data.display(),
        stats.display(),
        copy_nginx_log(&log)
    );
    let out = in_testbed(tb, &script);
    assert!(out.status.success(), "scan failed");
    let rows = scan_rows(&data, "c");
    assert_eq!(rows.len(), 10);
    assert!(
        rows.values().all(|r| r["https_status"] == "available"),
        "the web checks did not measure every domain: {rows:?}"
    );
    // The handshakes' CPU time reached --stats as a stage of its own.
    let stats: serde_json::Value = serde_json::from_slice(&std::fs::read(&stats).unwrap()).unwrap();
    assert!(
        stats["cpu_us_per_domain"]["tls"].as_f64().unwrap() > 0.0,
        "no TLS stage: {}",
        stats["cpu_us_per_domain"]
    );
    // nginx logs `accept on <address>` for every connection it accepts from the kernel's
    // queue, before it reads a byte: a raw ClientHello it turns down, a handshake closed
    // without a request and a port 80 request count alike, so these are all the TCP
    // connections the scanner made to the address (the cap is per address, every port).
    let log = std::fs::read_to_string(&log).expect("nginx log");
    let per_address = accepts_per_second(&log);
    let counts = per_address
        .get(*address)
        .unwrap_or_else(|| panic!("no connection to {address}: {per_address:?}"));
    eprintln!("connections per second at {address}: {counts:?}");
    // The busy period: the whole seconds after the first connection's and before the last's.
    assert!(
        counts.len() >= 12,
        "busy for too short to judge: {counts:?}"
    );
    let inner = &counts[1..counts.len() - 1];
    let cap = f64::from(rate);
    let mean = f64::from(inner.iter().sum::<u32>()) / inner.len() as f64;
    assert!(
        mean <= cap * 1.1,
        "{mean:.2} connections/s over {} s, cap {rate}/s",
        inner.len()
    );
    assert!(
        mean >= cap * 0.8,
        "{mean:.2} connections/s over {} s while the address was saturated: the cap {rate}/s should set the pace",
        inner.len()
    );
    // No burst evened out by a lull: the limiter spaces connections 1/R apart (no burst), so
    // any W seconds hold at most W × R + 1 of them. A single second cannot show 10 % (one
    // connection is 25 % of 4), five can: W × R × 1.1 = 22 leaves room for that one and a
    // late wake-up of the scanner.
    let window = 5;
    for w in inner.windows(window) {
        let n: u32 = w.iter().sum();
        assert!(
            f64::from(n) <= cap * window as f64 * 1.1,
            "{n} connections in {window} s, cap {rate}/s: {counts:?}"
        );
    }
}

/// The common options of the bad-output/bad-input scans: small parts committed often, so a
/// failure part way leaves some committed parts behind.
fn failing_scan_args(targets: &Path, out: &str) -> String {
    format!(
        "--quiet --checks dns --targets {} --out {out} --concurrency 40 --commit-interval 0.2 --part-rows 100",
        targets.display()
    )
}

/// Checks a scan that failed part way and was resumed once the cause was fixed. The script
/// left in `work`: `failed.rc` and `failed.err` (exit status and stderr of the failed run),
/// `after-failure/` (the dataset as the failed run left it) and `data/` (after `--resume`).
/// The failed run must exit non-zero with an error naming `cause` and telling how to resume;
/// the parts it committed must be readable by DuckDB and pyarrow, hold some but not all
/// targets, each once, and stay as they were through the resume; the resumed dataset must
/// hold every target exactly once.
fn assert_failed_then_resumed(
    tb: &Path,
    work: &Path,
    scan: &str,
    out: &std::process::Output,
    cause: &[&str],
) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "the script failed: {stderr}");
    let rc = std::fs::read_to_string(work.join("failed.rc")).expect("failed.rc");
    let err = std::fs::read_to_string(work.join("failed.err")).expect("failed.err");
    eprintln!("the failed scan (exit {}) said: {err}", rc.trim());
    assert_ne!(rc.trim(), "0", "the scan exited 0 after: {err}");
    for c in cause {
        assert!(err.contains(c), "the error does not say {c:?}: {err}");
    }
    assert!(
        err.contains("intact") && err.contains("--resume"),
        "the error does not say what was kept and how to continue: {err}"
    );
    // The list's names as the scan writes them (IDNs as A-labels).
    let targets: BTreeMap<String, ()> = target_domains(tb)
        .keys()
        .map(|d| (uptake_scan::targets::normalise(d).unwrap(), ()))
        .collect();
    let partial = scan_rows(&work.join("after-failure"), scan);
    assert!(
        !partial.is_empty() && partial.len() < targets.len(),
        "the failure was not part way: {} of {} rows committed",
        partial.len(),
        targets.len()
    );
    assert!(partial.keys().all(|d| targets.contains_key(d)));
    // pyarrow reads every committed part on its own (no half-written file has a part name).
    let py = format!(
        "import glob, pyarrow.parquet as pq\nfiles = sorted(glob.glob('{}/scan={scan}/part-*.parquet'))\nprint(len(files), sum(pq.read_table(f).num_rows for f in files))",
        work.join("after-failure").display()
    );
    let read = run(python().args(["-c", &py]));
    assert!(
        read.status.success(),
        "pyarrow could not read the committed parts"
    );
    let counts = String::from_utf8_lossy(&read.stdout);
    let mut counts = counts.split_whitespace();
    let (files, rows): (usize, usize) = (
        counts.next().unwrap().parse().unwrap(),
        counts.next().unwrap().parse().unwrap(),
    );
    assert!(
        files > 0 && rows == partial.len(),
        "pyarrow: {files} parts, {rows} rows"
    );
    let resumed = scan_rows(&work.join("data"), scan);
    assert!(
        resumed.keys().eq(targets.keys()),
        "after --resume: {} rows for {} targets",
        resumed.len(),
        targets.len()
    );
    for (d, row) in &partial {
        assert_eq!(&resumed[d], row, "{d}: its committed row changed");
    }
}

#[test]
fn a_full_disk_stops_the_scan_keeps_committed_parts_and_resume_finishes_it() {
    let tb = testbed();
    let work = tempfile::tempdir().unwrap();
    let w = work.path();
    let mnt = w.join("small");
    std::fs::create_dir(&mnt).unwrap();
    let args = failing_scan_args(&tb.join("targets.csv"), &format!("{}/data", mnt.display()));
    // A tmpfs of 256 KiB (about a third of the scan's parts) in a mount namespace of our own;
    // made larger once the scan failed, as an operator would free space.
    let script = format!(
        "exec unshare -m sh -c '
           mount -t tmpfs -o size=256k tmpfs {m} || exit 1
           {BIN} scan {args} --scan-id full 2> {w}/failed.err; echo $? > {w}/failed.rc
           cp -r {m}/data {w}/after-failure
           mount -o remount,size=64m {m} || exit 1
           {BIN} scan {args} --scan-id full --resume || exit 1
           cp -r {m}/data {w}/data'",
        m = mnt.display(),
        w = w.display()
    );
    let out = in_testbed(tb, &script);
    assert_failed_then_resumed(tb, w, "full", &out, &["No space left on device"]);
}

#[test]
fn an_output_directory_made_unwritable_stops_the_scan_and_resume_finishes_it() {
    let tb = testbed();
    let work = tempfile::tempdir().unwrap();
    let w = work.path();
    let data = w.join("data");
    let args = failing_scan_args(&tb.join("targets.csv"), &data.display().to_string());
    // The testbed's shell is root in its user namespace, which permissions do not stop: the
    // scan runs without the capabilities that override them, as an ordinary user would.
    let script = format!(
        "setpriv --bounding-set -dac_override,-dac_read_search {BIN} scan {args} --scan-id ro --dns-rate 1500 2> {w}/failed.err & pid=$!
         sleep 2; chmod a-w {d}/scan=ro
         wait $pid; echo $? > {w}/failed.rc
         cp -r {d} {w}/after-failure
         chmod u+w {d}/scan=ro
         setpriv --bounding-set -dac_override,-dac_read_search {BIN} scan {args} --scan-id ro --resume",
        d = data.display(),
        w = w.display()
    );
    let out = in_testbed(tb, &script);
    assert_failed_then_resumed(tb, w, "ro", &out, &["Permission denied", "scan=ro"]);
}

#[test]
fn a_target_list_truncated_mid_scan_is_an_error_and_resume_finishes_it() {
    let tb = testbed();
    let work = tempfile::tempdir().unwrap();
    let w = work.path();
    let data = w.join("data");
    // A plain list padded with comment lines (about 1 MB), so the reader is still streaming
    // it when it is cut: a list being replaced by a download or a `>` redirect.
    let mut list = String::new();
    for d in target_domains(tb).keys() {
        list.push_str(&format!("{d}\n# {}\n", "-".repeat(500)));
    }
    let (path, orig) = (w.join("list.txt"), w.join("list.orig"));
    std::fs::write(&path, &list).unwrap();
    std::fs::write(&orig, &list).unwrap();
    let args = failing_scan_args(&path, &data.display().to_string());
    let script = format!(
        "{BIN} scan {args} --scan-id cut --dns-rate 1500 2> {w}/failed.err & pid=$!
         sleep 2; : > {p}
         wait $pid; echo $? > {w}/failed.rc
         cp -r {d} {w}/after-failure
         cp {o} {p}
         {BIN} scan {args} --scan-id cut --resume",
        d = data.display(),
        w = w.display(),
        p = path.display(),
        o = orig.display()
    );
    let out = in_testbed(tb, &script);
    assert_failed_then_resumed(
        tb,
        w,
        "cut",
        &out,
        &["list.txt", "changed while it was being read"],
    );
}

#[test]
fn without_an_ipv6_route_ipv6_reachability_is_an_error_not_unreachable() {
    let tb = logging_testbed();
    let work = tempfile::tempdir().unwrap();
    let data = work.path().join("data");
    // The namespace has no route to f.root-servers.net's address: as on a scanner without
    // IPv6. The testbed's own probe address (exported by the runner) has one.
    let script = format!(
        "set -e
         UPTAKE_IPV6_PROBE='[2001:500:2f::f]:53' {BIN} scan --quiet --targets {t} --out {d} --scan-id nov6 --connection-rate 1000 --connections-per-address 64 2> {w}/nov6.log
         {BIN} scan --quiet --targets {t} --out {d} --scan-id v6 --connection-rate 1000 --connections-per-address 64",
        t = tb.join("targets.csv").display(),
        d = data.display(),
        w = work.path().display()
    );
    let out = in_testbed(tb, &script);
    assert!(out.status.success(), "scan failed");
    let log = std::fs::read_to_string(work.path().join("nov6.log")).unwrap();
    assert!(log.contains("no route to [2001:500:2f::f]:53"), "{log}");
    let without = scan_rows(&data, "nov6");
    let with = scan_rows(&data, "v6");
    for check in ["ns_ipv6", "web_ipv6", "mx_ipv6"] {
        let (status, reason) = (format!("{check}_status"), format!("{check}_reason"));
        // Statuses that need an answer over IPv6 (or its absence) never appear without a route.
        let judged = |r: &HashMap<String, String>| {
            ["reachable", "partial", "unreachable", "all", "some"].contains(&r[&status].as_str())
        };
        assert_eq!(
            without.values().filter(|r| judged(r)).count(),
            0,
            "{check} judged without an IPv6 route"
        );
        let errors = without
            .values()
            .filter(|r| r[&status] == "error" && r[&reason].contains("no IPv6 route"))
            .count();
        let judged_with_route = with.values().filter(|r| judged(r)).count();
        assert!(
            errors > 20 && errors >= judged_with_route,
            "{check}: {errors} errors naming the missing route, {judged_with_route} judged with one"
        );
    }
}
