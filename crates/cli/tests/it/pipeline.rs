//! `uptake validate` and `uptake run`: the example pipelines are valid, bad pipelines fail
//! before any scanning, and the demo pipeline runs end to end on the private internet into a
//! report whose numbers are the aggregate table's and which opens in headless Chromium; a
//! pipeline whose dataset is in an S3-compatible store (moto, on the testbed's loopback)
//! uploads its scans and reads earlier ones back.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Output;

use crate::harness::{run, testbed, uptake};

#[path = "../../../report/tests/support/page.rs"]
mod page;

/// The repository's pipelines/ directory.
fn pipelines_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../pipelines")
}

/// A copy of the repository layout under `root`: `root/repo/pipelines/<file>`; returns its path.
fn copy_pipeline(root: &Path, file: &str) -> PathBuf {
    let dir = root.join("repo/pipelines");
    fs::create_dir_all(&dir).unwrap();
    let to = dir.join(file);
    fs::copy(pipelines_dir().join(file), &to).unwrap();
    to
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn example_pipelines_are_valid() {
    let mut files: Vec<String> = fs::read_dir(pipelines_dir())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".toml"))
        .collect();
    files.sort();
    assert!(files.len() >= 3, "{files:?}");
    for file in files {
        let root = tempfile::tempdir().unwrap();
        let copy = copy_pipeline(root.path(), &file);
        // Each list the file names exists at its path relative to the file (a stub suffices:
        // validation reads lists only when scanning).
        let text = fs::read_to_string(&copy).unwrap();
        let value: toml::Value = toml::from_str(&text).unwrap();
        for list in value["lists"].as_array().unwrap() {
            let path = copy.parent().unwrap().join(list["path"].as_str().unwrap());
            fs::create_dir_all(path.parent().unwrap()).unwrap();
            fs::write(&path, "domain\nexample.nl\n").unwrap();
        }
        // So does each file of [scan] (validation checks that they exist).
        for key in ["ca_file", "vrps", "prefix_origins", "ip_asn", "ip_country"] {
            if let Some(file) = value.get("scan").and_then(|s| s.get(key)) {
                let path = copy.parent().unwrap().join(file.as_str().unwrap());
                fs::create_dir_all(path.parent().unwrap()).unwrap();
                fs::write(&path, "").unwrap();
            }
        }
        let o = run(uptake().arg("validate").arg(&copy));
        assert!(o.status.success(), "{file}: {}", stderr(&o));
        let out = String::from_utf8_lossy(&o.stdout);
        assert!(
            out.contains(": ok") && out.contains("checks:"),
            "{file}: {out}"
        );
    }
}

#[test]
fn bad_pipelines_fail_before_any_scanning() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path();
    fs::write(dir.join("list.csv"), "domain\nexample.nl\n").unwrap();
    let good = "name = \"t\"\n[[lists]]\npath = \"list.csv\"\n[output]\ndataset = \"data\"\n";
    let write = |text: &str| {
        let p = dir.join("p.toml");
        fs::write(&p, text).unwrap();
        p
    };
    let fails = |args: &[&str], text: &str, expect: &[&str]| {
        let p = write(text);
        for cmd in ["validate", "run"] {
            if cmd == "validate" && !args.is_empty() {
                continue; // --date is run's
            }
            let o = uptake()
                .arg(cmd)
                .arg(&p)
                .args(args)
                // An S3 endpoint where nothing listens (loopback, port 1).
                .env("AWS_ENDPOINT_URL", "http://127.0.0.1:1")
                .env("AWS_ALLOW_HTTP", "true")
                .env("AWS_ACCESS_KEY_ID", "x")
                .env("AWS_SECRET_ACCESS_KEY", "x")
                .env("AWS_REGION", "us-east-1")
                .output()
                .unwrap();
            let err = stderr(&o);
            assert_eq!(o.status.code(), Some(2), "{cmd} {text}: {err}");
            for e in expect {
                assert!(err.contains(e), "{cmd}: expected '{e}' in: {err}");
            }
            assert_eq!(err.lines().count(), err.trim_end().lines().count());
            assert!(
                !dir.join("data").join("scan=t-2026-11-28").exists(),
                "{cmd} scanned"
            );
        }
    };
    fails(
        &[],
        &good.replace("[output]", "[scan]\nconcurency = 5\n[output]"),
        &["line 5", "concurency"],
    );
    fails(
        &[],
        &good.replace("list.csv", "nope.csv"),
        &["lists[0].path", "nope.csv"],
    );
    fails(
        &[],
        &good.replace("\"data\"", "\"s3://bucket/prefix\""),
        &["s3://bucket/prefix", "listing the dataset prefix"],
    );
    fails(
        &["--date", "28-11-2026"],
        good,
        &["'28-11-2026' is not a calendar date in the form YYYY-MM-DD"],
    );
    // A good file passes validation and creates no scan.
    let o = run(uptake().arg("validate").arg(write(good)));
    assert!(o.status.success());
}

/// Files under `dir` with their sizes, sorted (to see that a rerun wrote nothing).
fn listing(dir: &Path) -> Vec<(PathBuf, u64)> {
    let mut out = vec![];
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in fs::read_dir(&d).unwrap() {
            let e = e.unwrap();
            let m = e.metadata().unwrap();
            if m.is_dir() {
                stack.push(e.path());
            } else {
                out.push((e.path(), m.len()));
            }
        }
    }
    out.sort();
    out
}

#[test]
fn demo_pipeline_runs_end_to_end_into_a_report() {
    let root = tempfile::tempdir().unwrap();
    let demo = copy_pipeline(root.path(), "demo.toml");
    // The layout of `make demo`: the testbed in out/demo/testbed beside pipelines/.
    let testbed_link = root.path().join("repo/out/demo/testbed");
    fs::create_dir_all(testbed_link.parent().unwrap()).unwrap();
    std::os::unix::fs::symlink(testbed(), &testbed_link).unwrap();
    let run_date = |date: &str| {
        run(uptake()
            .args(["testbed", "run"])
            .arg(&testbed_link)
            .arg("--")
            .arg(env!("CARGO_BIN_EXE_uptake"))
            .arg("run")
            .arg(&demo)
            .args(["--date", date, "--quiet"]))
    };

    let o = run_date("2026-11-28");
    assert!(o.status.success(), "{}", stderr(&o));
    let out = root.path().join("repo/out/demo");
    let index = out.join("reports/2026-11-28/report/index.html");
    let printed = String::from_utf8_lossy(&o.stdout).trim().to_string();
    assert_eq!(
        fs::canonicalize(&printed).unwrap(),
        fs::canonicalize(&index).unwrap(),
        "stdout is the report's path: {printed}"
    );
    assert!(out.join("dataset/scan=demo-2026-11-28/_SUCCESS").is_file());
    assert_eq!(
        fs::read_link(out.join("reports/latest")).unwrap(),
        Path::new("2026-11-28")
    );

    // Every number on the page is the aggregate table's.
    let agg = uptake_report::load(&out.join("reports/2026-11-28/aggregates")).unwrap();
    let html = fs::read_to_string(&index).unwrap();
    let shown = page::page_rows(&html);
    assert!(shown.len() > 100, "{} table rows shown", shown.len());
    page::check_shown_numbers(&shown, &agg.rows);
    let domains = crate::harness::csv_rows(&testbed().join("targets.csv")).len();
    let all_dnssec = agg
        .rows
        .iter()
        .find(|r| r.grouping == "all" && r.metric == "dnssec")
        .unwrap();
    assert_eq!(
        all_dnssec.applicable.unwrap() + all_dnssec.errors.unwrap(),
        domains as u64,
        "every domain of the list is in the overall dnssec row"
    );
    assert!(
        html.contains("targets.csv, uptake testbed generate --seed 1"),
        "list in provenance"
    );

    // The page opens in headless Chromium without console messages; a screenshot is taken.
    let shot = root.path().join("demo-report.png");
    let messages = page::chromium(&fs::canonicalize(&index).unwrap(), &shot, 1280);
    assert!(messages.is_empty(), "{messages:#?}");
    page::check_screenshot(&shot);

    // Rerunning the date does nothing and says so.
    let before = listing(&out.join("dataset"));
    let o = run_date("2026-11-28");
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("complete; nothing to do"),
        "{}",
        stderr(&o)
    );
    assert_eq!(listing(&out.join("dataset")), before);

    // A second date: two scans, a trend, and the change between them.
    let o = run_date("2026-12-05");
    assert!(o.status.success(), "{}", stderr(&o));
    let agg = uptake_report::load(&out.join("reports/2026-12-05/aggregates")).unwrap();
    let scans: std::collections::BTreeSet<&str> =
        agg.rows.iter().map(|r| r.scan.as_str()).collect();
    assert_eq!(
        scans.into_iter().collect::<Vec<_>>(),
        ["demo-2026-11-28", "demo-2026-12-05"]
    );
    assert_eq!(
        fs::read_link(out.join("reports/latest")).unwrap(),
        Path::new("2026-12-05")
    );
    let html = fs::read_to_string(out.join("reports/2026-12-05/report/index.html")).unwrap();
    assert!(html.contains("dnssec-trend"), "trend charts with two scans");
}

/// moto's S3-compatible server and its Python (with boto3), from `.venv-s3` (made by
/// scripts/setup.sh, which `make test` runs).
fn s3_server() -> (PathBuf, PathBuf) {
    let bin = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../.venv-s3/bin");
    let server = bin.join("moto_server");
    assert!(
        server.exists(),
        "{} is missing: run scripts/setup.sh (make test does)",
        server.display()
    );
    (server, bin.join("python"))
}

#[test]
fn pipeline_with_an_s3_dataset_uploads_its_scans_and_reads_earlier_ones_back() {
    let (server, py) = s3_server();
    let root = tempfile::tempdir().unwrap();
    let dir = root.path();
    // A short list: this test is about the object store, not the checks.
    let targets = fs::read_to_string(testbed().join("targets.csv")).unwrap();
    let list: Vec<&str> = targets.lines().take(151).collect();
    fs::write(dir.join("list.csv"), list.join("\n") + "\n").unwrap();
    let pipeline = dir.join("p.toml");
    fs::write(
        &pipeline,
        "name = \"s3t\"\n[[lists]]\npath = \"list.csv\"\n[scan]\nchecks = [\"dns\"]\n\
         [output]\ndataset = \"s3://uptake-test/datasets/s3t\"\nreports = \"reports\"\n",
    )
    .unwrap();
    let keys = dir.join("keys.txt");
    let endpoint = "http://127.0.0.1:9000";
    let s3 = format!(
        "import boto3; s3 = boto3.client('s3', endpoint_url='{endpoint}', region_name='us-east-1', aws_access_key_id='t', aws_secret_access_key='t')"
    );
    // The server runs inside the private internet's namespace (its loopback is not the
    // host's), for the whole script: moto keeps its objects in memory.
    let script = format!(
        "set -e
         {server} -H 127.0.0.1 -p 9000 > {dir}/moto.log 2>&1 & moto=$!
         trap 'kill $moto' EXIT
         for i in $(seq 100); do {py} -c \"{s3}; s3.list_buckets()\" 2>/dev/null && break; sleep 0.2; done
         {py} -c \"{s3}; s3.create_bucket(Bucket='uptake-test')\"
         {bin} run {p} --date 2026-11-28 --quiet
         # Another machine (or a fresh container): only the store has the first scan.
         rm -rf {dir}/.uptake-staging
         {bin} run {p} --date 2026-12-05 --quiet
         {py} -c \"{s3}; print('\\n'.join(o['Key'] for o in s3.list_objects_v2(Bucket='uptake-test')['Contents']))\" > {keys}",
        server = server.display(),
        py = py.display(),
        dir = dir.display(),
        bin = env!("CARGO_BIN_EXE_uptake"),
        p = pipeline.display(),
        keys = keys.display(),
    );
    let o = run(uptake()
        .args(["testbed", "run"])
        .arg(testbed())
        .args(["--", "sh", "-c", &script])
        .env("AWS_ENDPOINT_URL", endpoint)
        .env("AWS_ALLOW_HTTP", "true")
        .env("AWS_ACCESS_KEY_ID", "t")
        .env("AWS_SECRET_ACCESS_KEY", "t")
        .env("AWS_REGION", "us-east-1"));
    assert!(
        o.status.success(),
        "{}\nmoto: {}",
        stderr(&o),
        fs::read_to_string(dir.join("moto.log")).unwrap_or_default()
    );
    let keys = fs::read_to_string(&keys).unwrap();
    for date in ["2026-11-28", "2026-12-05"] {
        let scan = format!("datasets/s3t/scan=s3t-{date}/");
        let files: Vec<&str> = keys.lines().filter(|k| k.starts_with(&scan)).collect();
        assert!(
            files.iter().any(|k| k.ends_with("/_SUCCESS")),
            "no _SUCCESS for {date} in the store: {keys}"
        );
        assert!(
            files.iter().any(|k| k.ends_with(".parquet")),
            "no part for {date} in the store: {keys}"
        );
    }
    // The second run read the first scan back from the store: its aggregates have both.
    let agg = uptake_report::load(&dir.join("reports/2026-12-05/aggregates")).unwrap();
    let scans: std::collections::BTreeSet<&str> =
        agg.rows.iter().map(|r| r.scan.as_str()).collect();
    assert_eq!(
        scans.into_iter().collect::<Vec<_>>(),
        ["s3t-2026-11-28", "s3t-2026-12-05"]
    );
    let all = agg
        .rows
        .iter()
        .find(|r| r.grouping == "all" && r.metric == "dnssec" && r.scan == "s3t-2026-11-28")
        .unwrap();
    assert_eq!(all.applicable.unwrap() + all.errors.unwrap(), 150);
}
