//! `uptake testbed run` end to end: a hand-made mini testbed (one NSD serving a signed root
//! zone, one validating Unbound) run through the real binary in a real namespace.
//!
//! Each test makes its own testbed in a tempdir and points `TMPDIR` into it, so the servers'
//! command lines (their config lives in the run directory) name that tempdir: that is how the
//! tests find their own servers while other testbeds run on the same machine.

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use uptake_testbed::manifest::{Manifest, Server, ServerKind, FORMAT};
use uptake_testbed::servers::{nsd_config, unbound_config};

const UPTAKE: &str = env!("CARGO_BIN_EXE_uptake");

/// The root zone: the root server's own names and a few records to ask for.
const ROOT_ZONE: &str = "\
$TTL 3600
. IN SOA a.root-servers.net. hostmaster.example. 1 1800 900 604800 86400
. IN NS a.root-servers.net.
a.root-servers.net. IN A 192.0.2.1
a.root-servers.net. IN AAAA 2001:db8::1
example. IN TXT \"hello\"
example. IN A 192.0.2.80
";

fn find(program: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin", "/sbin"].map(PathBuf::from))
        .map(|d| d.join(program))
        .find(|p| p.is_file())
}

/// Fails the test, naming what is missing, where the daemons and tools are not installed
/// (`make test` installs them).
fn tools_present() -> bool {
    let missing: Vec<&str> = [
        "nsd",
        "unbound",
        "dig",
        "ldns-keygen",
        "ldns-signzone",
        "unshare",
        "ip",
    ]
    .into_iter()
    .filter(|p| find(p).is_none())
    .collect();
    assert!(
        missing.is_empty(),
        "not installed: {} (run `make test`, which installs them)",
        missing.join(", ")
    );
    true
}

/// A mini testbed in a tempdir: `tb/` holds the testbed, `tmp/` is the runs' TMPDIR.
struct Fixture {
    root: tempfile::TempDir,
}

impl Fixture {
    fn new() -> Fixture {
        let root = tempfile::tempdir().unwrap();
        let tb = root.path().join("tb");
        for d in ["zones", "servers"] {
            std::fs::create_dir_all(tb.join(d)).unwrap();
        }
        std::fs::create_dir_all(root.path().join("tmp")).unwrap();
        let zones = tb.join("zones");
        std::fs::write(zones.join("root.zone"), ROOT_ZONE).unwrap();
        let keygen = |ksk: bool| {
            let mut c = Command::new("ldns-keygen");
            c.args(["-a", "ECDSAP256SHA256"]);
            if ksk {
                c.arg("-k");
            }
            let out = c.arg(".").current_dir(&zones).output().unwrap();
            assert!(
                out.status.success(),
                "ldns-keygen: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            String::from_utf8(out.stdout).unwrap().trim().to_string()
        };
        let (ksk, zsk) = (keygen(true), keygen(false));
        let out = Command::new("ldns-signzone")
            .args(["-o", ".", "root.zone", &ksk, &zsk])
            .current_dir(&zones)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "ldns-signzone: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        std::fs::copy(zones.join(format!("{ksk}.ds")), tb.join("servers/root.ds")).unwrap();
        std::fs::write(
            tb.join("servers/root.hints"),
            ". 3600 IN NS a.root-servers.net.\na.root-servers.net. 3600 IN A 192.0.2.1\n\
             a.root-servers.net. 3600 IN AAAA 2001:db8::1\n",
        )
        .unwrap();

        let root_addrs: Vec<IpAddr> =
            vec!["192.0.2.1".parse().unwrap(), "2001:db8::1".parse().unwrap()];
        let resolver: Vec<IpAddr> = vec!["192.0.2.53".parse().unwrap()];
        std::fs::write(
            tb.join("servers/nsd-root.conf"),
            nsd_config(
                "root",
                &root_addrs,
                &[(".".into(), "zones/root.zone.signed".into())],
            ),
        )
        .unwrap();
        std::fs::write(
            tb.join("servers/unbound.conf"),
            unbound_config(&resolver, "servers/root.hints", "servers/root.ds"),
        )
        .unwrap();
        let manifest = Manifest {
            format: FORMAT,
            seed: 0,
            domains: 1,
            addresses: root_addrs.iter().chain(&resolver).copied().collect(),
            local_routes: vec!["198.18.0.0/15".into()],
            servers: vec![
                Server {
                    name: "root".into(),
                    kind: ServerKind::Nsd,
                    config: "servers/nsd-root.conf".into(),
                    addresses: root_addrs,
                    tcp: vec![],
                },
                Server {
                    name: "resolver".into(),
                    kind: ServerKind::Unbound,
                    config: "servers/unbound.conf".into(),
                    addresses: resolver,
                    tcp: vec![],
                },
            ],
            resolver: "192.0.2.53:53".into(),
            ca: None,
            routing: None,
        };
        manifest.save(&tb).unwrap();
        Fixture { root }
    }

    fn dir(&self) -> PathBuf {
        self.root.path().join("tb")
    }

    /// `uptake testbed run TB -- ARGS...` with TMPDIR inside the fixture.
    fn command(&self, args: &[&str]) -> Command {
        let mut c = Command::new(UPTAKE);
        c.args(["testbed", "run"])
            .arg(self.dir())
            .arg("--")
            .args(args);
        c.env("TMPDIR", self.root.path().join("tmp"));
        c.stdin(Stdio::null());
        c
    }

    fn run(&self, args: &[&str]) -> Output {
        self.command(args).output().unwrap()
    }

    /// NSD and Unbound processes of this fixture still alive (their command line names it).
    fn servers_alive(&self) -> usize {
        let needle = self.root.path().to_string_lossy().into_owned();
        let Ok(entries) = std::fs::read_dir("/proc") else {
            return 0;
        };
        entries
            .flatten()
            .filter(|e| {
                e.file_name()
                    .to_string_lossy()
                    .bytes()
                    .all(|b| b.is_ascii_digit())
            })
            .filter_map(|e| std::fs::read(e.path().join("cmdline")).ok())
            .filter(|cmdline| {
                let args: Vec<String> = cmdline
                    .split(|b| *b == 0)
                    .map(|a| String::from_utf8_lossy(a).into_owned())
                    .collect();
                let daemon = args
                    .first()
                    .map(|a| {
                        Path::new(a)
                            .file_name()
                            .is_some_and(|n| n == "nsd" || n == "unbound")
                    })
                    .unwrap_or(false);
                daemon && args.iter().any(|a| a.contains(&needle))
            })
            .count()
    }

    /// Run directories left in this fixture's TMPDIR.
    fn state_dirs(&self) -> usize {
        std::fs::read_dir(self.root.path().join("tmp"))
            .unwrap()
            .count()
    }
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn assert_one_line_error(out: &Output, want: &str) {
    let err = text(&out.stderr);
    assert!(
        !out.status.success(),
        "expected failure, got {:?}; stderr: {err}",
        out.status
    );
    assert_eq!(err.trim_end().lines().count(), 1, "not one line: {err}");
    assert!(err.contains(want), "missing {want:?} in {err}");
}

#[test]
fn dig_through_the_resolver_validates() {
    if !tools_present() {
        return;
    }
    let f = Fixture::new();
    let out = f.run(&[
        "sh",
        "-c",
        "echo resolver=$UPTAKE_RESOLVER dir=$UPTAKE_TESTBED_DIR; dig @192.0.2.53 +dnssec example TXT; \
         dig @2001:db8::1 +norec example A +short",
    ]);
    let stdout = text(&out.stdout);
    assert!(
        out.status.success(),
        "{:?}\n{stdout}\n{}",
        out.status,
        text(&out.stderr)
    );
    assert!(stdout.contains("resolver=192.0.2.53:53"), "{stdout}");
    assert!(
        stdout.contains(&format!(
            "dir={}",
            f.dir().canonicalize().unwrap().display()
        )),
        "{stdout}"
    );
    assert!(stdout.contains("\"hello\""), "{stdout}");
    let flags = stdout
        .lines()
        .find(|l| l.starts_with(";; flags:"))
        .expect("dig printed flags");
    assert!(
        flags
            .split(';')
            .nth(2)
            .unwrap()
            .split_whitespace()
            .any(|f| f == "ad"),
        "no AD: {flags}"
    );
    assert!(
        stdout.contains("192.0.2.80"),
        "NSD answers on IPv6: {stdout}"
    );
    assert_eq!(f.servers_alive(), 0);
    assert_eq!(f.state_dirs(), 0, "the run directory is removed");
}

#[test]
fn exit_code_is_the_commands() {
    if !tools_present() {
        return;
    }
    let f = Fixture::new();
    let out = f.run(&["sh", "-c", "exit 7"]);
    assert_eq!(out.status.code(), Some(7), "stderr: {}", text(&out.stderr));
    let out = f.run(&["sh", "-c", "kill -TERM $$"]);
    assert_eq!(
        out.status.code(),
        Some(128 + 15),
        "killed by a signal: 128+signal"
    );
    assert_eq!(f.servers_alive(), 0);
}

#[test]
fn missing_command_fails_before_starting_anything() {
    if !tools_present() {
        return;
    }
    let f = Fixture::new();
    let out = f.run(&["no-such-command-uptake-test", "arg"]);
    assert_one_line_error(&out, "command not found: no-such-command-uptake-test");
    assert_eq!(f.servers_alive(), 0);
    assert_eq!(f.state_dirs(), 0);
}

#[test]
fn directory_without_manifest_is_not_a_testbed() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(UPTAKE)
        .args(["testbed", "run"])
        .arg(dir.path())
        .args(["--", "true"])
        .output()
        .unwrap();
    assert_one_line_error(&out, "is not a testbed");
}

#[test]
fn broken_zone_shows_the_nsd_log() {
    if !tools_present() {
        return;
    }
    let f = Fixture::new();
    std::fs::write(
        f.dir().join("zones/root.zone.signed"),
        ". IN SOA a. b. 1 2 3 4 5\n. IN FOO bar\n",
    )
    .unwrap();
    let out = f.run(&["true"]);
    let err = text(&out.stderr);
    assert!(!out.status.success());
    assert!(
        err.contains("server root (nsd) did not load zone . (it answers SERVFAIL)"),
        "{err}"
    );
    assert!(
        err.contains("unrecognized RR type 'FOO'"),
        "NSD's log is shown: {err}"
    );
    assert_eq!(f.servers_alive(), 0);
    assert_eq!(f.state_dirs(), 0);
}

#[test]
fn broken_unbound_config_shows_its_log() {
    if !tools_present() {
        return;
    }
    let f = Fixture::new();
    let conf = f.dir().join("servers/unbound.conf");
    let text_conf = std::fs::read_to_string(&conf).unwrap();
    std::fs::write(
        &conf,
        text_conf.replace("server:\n", "server:\n    no-such-option: yes\n"),
    )
    .unwrap();
    let out = f.run(&["true"]);
    let err = text(&out.stderr);
    assert!(!out.status.success());
    assert!(
        err.contains("server resolver (unbound) exited during startup"),
        "{err}"
    );
    assert!(
        err.contains("no-such-option"),
        "Unbound's log is shown: {err}"
    );
    assert_eq!(f.servers_alive(), 0);
}

#[test]
fn two_runs_of_one_testbed_at_once() {
    if !tools_present() {
        return;
    }
    let f = Fixture::new();
    let script = "dig @192.0.2.53 example TXT +short; sleep 2; dig @192.0.2.53 example A +short";
    let a = f
        .command(&["sh", "-c", script])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let b = f
        .command(&["sh", "-c", script])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    for out in [a.wait_with_output().unwrap(), b.wait_with_output().unwrap()] {
        let stdout = text(&out.stdout);
        assert!(
            out.status.success(),
            "{:?}: {}",
            out.status,
            text(&out.stderr)
        );
        assert!(
            stdout.contains("\"hello\"") && stdout.contains("192.0.2.80"),
            "{stdout}"
        );
    }
    assert_eq!(f.servers_alive(), 0);
    assert_eq!(f.state_dirs(), 0);
}

#[test]
fn sigkill_of_the_runner_takes_the_servers_down() {
    if !tools_present() {
        return;
    }
    let f = Fixture::new();
    let mut child = f
        .command(&["sleep", "60"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let start = Instant::now();
    while f.servers_alive() < 2 {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "servers did not start"
        );
        assert!(child.try_wait().unwrap().is_none(), "runner ended early");
        std::thread::sleep(Duration::from_millis(50));
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    let start = Instant::now();
    while f.servers_alive() > 0 {
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "servers outlived the run"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    // The killed run could not remove its directory; the next run sweeps it.
    assert_eq!(f.state_dirs(), 1);
    let out = f.run(&["true"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(f.state_dirs(), 0, "stale run directory swept");
}

/// The unprivileged path: as a plain user (nobody), with no sbin in PATH. Only where this test
/// runs as root (to switch users) and the binary is reachable for that user.
#[test]
fn runs_unprivileged() {
    if !tools_present() {
        return;
    }
    // SAFETY-free root check: /proc/self/status names the effective uid.
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let root = status
        .lines()
        .any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(2) == Some("0"));
    let setpriv = [
        "setpriv",
        "--reuid=65534",
        "--regid=65534",
        "--clear-groups",
    ];
    let reachable = Command::new(setpriv[0])
        .args(&setpriv[1..])
        .args(["test", "-x", UPTAKE])
        .status();
    if !root || !reachable.is_ok_and(|s| s.success()) {
        eprintln!("skipping: needs root to switch to nobody, and a binary nobody can run");
        return;
    }
    let f = Fixture::new();
    // Let nobody read the testbed and use the TMPDIR.
    for p in [f.root.path().to_path_buf(), f.root.path().join("tmp")] {
        Command::new("chmod").arg("0777").arg(&p).status().unwrap();
    }
    Command::new("chmod")
        .arg("-R")
        .arg("a+rX")
        .arg(f.dir())
        .status()
        .unwrap();
    let out = Command::new(setpriv[0])
        .args(&setpriv[1..])
        .args(["env", "PATH=/usr/bin:/bin"])
        .arg(format!("TMPDIR={}", f.root.path().join("tmp").display()))
        .arg(UPTAKE)
        .args(["testbed", "run"])
        .arg(f.dir())
        .args(["--", "dig", "@192.0.2.53", "+dnssec", "example", "TXT"])
        .output()
        .unwrap();
    let stdout = text(&out.stdout);
    assert!(
        out.status.success(),
        "{:?}: {}",
        out.status,
        text(&out.stderr)
    );
    assert!(stdout.contains("\"hello\""), "{stdout}");
    let flags = stdout
        .lines()
        .find(|l| l.starts_with(";; flags:"))
        .expect("dig printed flags");
    assert!(flags.contains(" ad"), "{flags}");
    assert_eq!(f.servers_alive(), 0);
}
