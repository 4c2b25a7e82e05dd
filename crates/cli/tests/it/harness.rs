//! Shared harness for the private internet: one generated testbed per test run, the
//! `uptake` binary, and truth.csv as rows.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

/// Domains in the shared testbed (the acceptance size).
pub const DOMAINS: u64 = 2000;
/// Seed of the shared testbed.
pub const SEED: u64 = 7;

/// The `uptake` binary under test.
pub fn uptake() -> Command {
    Command::new(env!("CARGO_BIN_EXE_uptake"))
}

/// Runs a command and returns its output, printing stderr on failure.
pub fn run(cmd: &mut Command) -> Output {
    let out = cmd.output().expect("spawn");
    if !out.status.success() {
        eprintln!(
            "command {cmd:?} failed: {}\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
    }
    out
}

/// The shell command of an `uptake scan` of `checks` (`all`, `web,mail`, ...) over `targets`
/// into the dataset `out` as scan `scan_id`, for a script run by [`in_testbed`]. It trusts the
/// testbed CA and lifts the per-address limits of a real scan (5 connections/s, 4 open): the
/// testbed's shared providers put hundreds of domains on one web or mail address. The
/// scan-wide cap (`--max-connections`, default 256) still keeps the handshakes outstanding at
/// the one nginx below what it answers within the probe timeout.
pub fn testbed_scan(checks: &str, targets: &Path, out: &Path, scan_id: &str) -> String {
    format!(
        "{bin} scan --quiet --checks {checks} --ca-file \"$UPTAKE_TESTBED_CA\" --connection-rate 1000 --connections-per-address 64 --scan-id {scan_id} --targets {t} --out {o}",
        bin = env!("CARGO_BIN_EXE_uptake"),
        t = targets.display(),
        o = out.display()
    )
}

/// Runs the shell `script` inside `uptake testbed run DIR` (it may use the variables the
/// runner exports, such as `$UPTAKE_TESTBED_CA` or `$UPTAKE_RESOLVER`).
pub fn in_testbed(dir: &Path, script: &str) -> Output {
    run(uptake()
        .args(["testbed", "run"])
        .arg(dir)
        .args(["--", "sh", "-c", script]))
}

static TESTBED: OnceLock<PathBuf> = OnceLock::new();

/// The shared 2,000-domain testbed, generated once per test process.
pub fn testbed() -> &'static Path {
    TESTBED.get_or_init(|| {
        // Under cargo's per-target scratch directory, replaced on every run, so runs do not
        // accumulate testbeds in /tmp.
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("testbed-{DOMAINS}-{SEED}"));
        let _ = std::fs::remove_dir_all(&dir);
        let out = run(uptake()
            .args([
                "testbed",
                "generate",
                "--domains",
                &DOMAINS.to_string(),
                "--seed",
                &SEED.to_string(),
                "--out",
            ])
            .arg(&dir));
        assert!(out.status.success(), "testbed generate failed");
        dir
    })
}

/// truth.csv (or any CSV) as a list of column -> value maps.
pub fn csv_rows(path: &Path) -> Vec<HashMap<String, String>> {
    let mut r = csv::Reader::from_path(path).expect("open csv");
    let headers = r.headers().expect("header").clone();
    r.records()
        .map(|rec| {
            let rec = rec.expect("csv record");
            headers
                .iter()
                .zip(rec.iter())
                .map(|(h, v)| (h.to_string(), v.to_string()))
                .collect()
        })
        .collect()
}

/// The Python with the test oracles (pyarrow, duckdb): `.venv/bin/python` of the workspace
/// (made by `make test`), else `python3` from PATH.
pub fn python() -> Command {
    let venv = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../.venv/bin/python");
    Command::new(if venv.exists() {
        venv
    } else {
        PathBuf::from("python3")
    })
}
