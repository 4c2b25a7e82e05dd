//! `uptake testbed run DIR -- COMMAND`: bring a testbed's servers up in a private namespace,
//! run COMMAND there, and take everything down again.
//!
//! Two halves, two processes:
//!
//! * [`run`], in the user's process, checks what it can without starting anything (the
//!   manifest, the daemons, COMMAND) and re-executes the current binary as
//!   `unshare --user --map-root-user --net --pid --fork --kill-child [--map-auto] [--mount-proc]
//!   EXE testbed __inside DIR -- COMMAND...` (`--map-auto` when the testbed has nginx and
//!   Postfix, which switch to their own users: it maps uids and gids 1-65535 from
//!   /etc/subuid and /etc/subgid through newuidmap). The inner process is PID 1 of a fresh PID namespace, so when
//!   it ends the kernel kills every process left in the namespace: no server outlives a run,
//!   whatever happens. `unshare` dies with [`run`]'s thread (parent-death signal), and the inner
//!   process dies with `unshare` (`--kill-child`), so even SIGKILL of the outer process tears the
//!   namespace down.
//! * [`run_inside`], PID 1 inside the namespace, puts the manifest's addresses on `lo`, renders
//!   the config templates into a per-run state directory, starts the servers (each in its own
//!   process group, so Ctrl-C at the terminal reaches COMMAND but not the servers), waits until
//!   every server answers on every address (and, for NSD, every configured zone has loaded;
//!   nginx and Postfix: every listener is in LISTEN state in /proc/net/tcp{,6}), then runs
//!   COMMAND with `UPTAKE_RESOLVER`, `UPTAKE_TESTBED_DIR`, `UPTAKE_TESTBED_CA`,
//!   `UPTAKE_TESTBED_VRPS` / `_PREFIX_ORIGINS` / `_IP_ASN` (the routing tables),
//!   `UPTAKE_ALLOW_ADDRESSES` (the testbed's ranges, which the scanner's special-address
//!   guard refuses otherwise) and `UPTAKE_IPV6_PROBE` (one of its IPv6 addresses: the
//!   scanner's IPv6 route self-test) set, stops the servers and removes the state directory.
//!
//! Packets never leave the namespace: it has only `lo`.

use std::ffi::{OsStr, OsString};
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read as _, Seek as _, SeekFrom, Write as _};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, UdpSocket};
use std::os::unix::fs::PermissionsExt as _;
use std::os::unix::process::{CommandExt as _, ExitStatusExt as _};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::manifest::{
    Manifest, ManifestError, Server, ServerKind, DIR_PLACEHOLDER, RUN_PLACEHOLDER,
};
use crate::servers;

/// Environment variable that overrides the server startup timeout, in seconds.
pub const START_TIMEOUT_ENV: &str = "UPTAKE_TESTBED_START_TIMEOUT";
/// Default server startup timeout: a million-domain testbed takes a while to load.
pub const DEFAULT_START_TIMEOUT: Duration = Duration::from_secs(120);
/// Exported to COMMAND: `ip:port` of the testbed's validating resolver.
pub const RESOLVER_ENV: &str = "UPTAKE_RESOLVER";
/// Exported to COMMAND: the absolute testbed directory.
pub const DIR_ENV: &str = "UPTAKE_TESTBED_DIR";
/// Exported to COMMAND: the testbed's address ranges (its local routes and addresses),
/// comma-separated, which `uptake scan` reads as `--allow-addresses`: the testbed lives on
/// documentation and benchmarking addresses that the scanner refuses by default.
pub const ALLOW_ENV: &str = "UPTAKE_ALLOW_ADDRESSES";

/// Environment variable naming an address whose route tells the scanner it has IPv6 (one of
/// the testbed's own: the namespace has no route to the real Internet).
pub const IPV6_PROBE_ENV: &str = "UPTAKE_IPV6_PROBE";

/// The ranges the generator places everything in (documentation and benchmarking space),
/// including the addresses of deliberately dead hosts that exist only in DNS answers.
pub const TESTBED_RANGES: [&str; 3] = ["192.0.2.0/24", "198.18.0.0/15", "2001:db8::/32"];

fn in_testbed_range(a: &IpAddr) -> Option<&'static str> {
    match a {
        IpAddr::V4(v4) => {
            let x = u32::from(*v4);
            if x >> 8 == u32::from(Ipv4Addr::new(192, 0, 2, 0)) >> 8 {
                Some(TESTBED_RANGES[0])
            } else if x >> 17 == u32::from(Ipv4Addr::new(198, 18, 0, 0)) >> 17 {
                Some(TESTBED_RANGES[1])
            } else {
                None
            }
        }
        IpAddr::V6(v6) => {
            let x = u128::from(*v6);
            (x >> 96 == 0x2001_0db8).then_some(TESTBED_RANGES[2])
        }
    }
}

/// The value of [`ALLOW_ENV`] for a manifest: its local routes, the testbed range of each of
/// its addresses, and any address outside those ranges as itself.
pub fn allowed_addresses(manifest: &Manifest) -> String {
    let mut out: Vec<String> = manifest.local_routes.clone();
    for a in manifest
        .addresses
        .iter()
        .chain(manifest.servers.iter().flat_map(|s| s.addresses.iter()))
    {
        let entry = in_testbed_range(a).map_or_else(|| a.to_string(), str::to_string);
        if !out.contains(&entry) {
            out.push(entry);
        }
    }
    out.join(",")
}
/// Exported to COMMAND: the testbed CA certificate (PEM) that issued the web and mail hosts'
/// certificates (`uptake scan --ca-file "$UPTAKE_TESTBED_CA"`).
pub const CA_ENV: &str = "UPTAKE_TESTBED_CA";
/// Exported to COMMAND: the testbed's routing tables (`uptake scan --vrps
/// "$UPTAKE_TESTBED_VRPS" --prefix-origins "$UPTAKE_TESTBED_PREFIX_ORIGINS" --ip-asn
/// "$UPTAKE_TESTBED_IP_ASN"`). Not the scanner's own variables, so a scan in the testbed
/// measures rpki only when asked to.
pub const ROUTING_ENV: [&str; 3] = [
    "UPTAKE_TESTBED_VRPS",
    "UPTAKE_TESTBED_PREFIX_ORIGINS",
    "UPTAKE_TESTBED_IP_ASN",
];
/// Lines of a server's log shown when it fails to start.
const LOG_TAIL_LINES: usize = 30;
/// How long stopped servers get between SIGTERM and SIGKILL.
const STOP_GRACE: Duration = Duration::from_secs(2);

/// Why a testbed run could not start or finish. COMMAND failing is not an error: its exit code
/// is the run's result.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The directory is not a readable testbed.
    #[error(transparent)]
    Manifest(#[from] ManifestError),
    /// A program the runner needs is not installed.
    #[error("{programs} not found: install the Debian package{plural} {packages} (apt-get install {packages})", plural = if packages.contains(' ') { "s" } else { "" })]
    MissingPrograms {
        /// The missing programs, comma-separated.
        programs: String,
        /// The Debian packages that provide them, space-separated.
        packages: String,
    },
    /// No command was given.
    #[error("no command given: uptake testbed run DIR -- COMMAND [ARGS...]")]
    NoCommand,
    /// COMMAND is not in PATH or not executable.
    #[error("command not found: {0}")]
    CommandNotFound(String),
    /// The kernel or its settings do not allow an unprivileged user and network namespace.
    #[error("cannot create a user, network and PID namespace with unshare ({0}); check that unprivileged user namespaces are enabled (sysctl kernel.unprivileged_userns_clone=1, kernel.apparmor_restrict_unprivileged_userns=0)")]
    NoNamespace(String),
    /// `unshare --map-auto` failed: the web and mail servers need subordinate ids.
    #[error("cannot map subordinate user ids into the namespace with unshare --map-auto ({0}); nginx and Postfix switch to their own users: install the Debian package uidmap and give the user ranges in /etc/subuid and /etc/subgid (e.g. root:100000:65536), as scripts/setup.sh does")]
    NoSubordinateIds(String),
    /// `run_inside` was started outside the namespace `run` makes.
    #[error(
        "`uptake testbed __inside` must run as PID 1 of a new namespace; use `uptake testbed run`"
    )]
    NotInNamespace,
    /// A program could not be started.
    #[error("cannot start {program}: {reason}")]
    Spawn {
        /// The program.
        program: String,
        /// Why.
        reason: String,
    },
    /// Setting up the namespace's network failed.
    #[error("network setup in the namespace failed (ip -batch): {0}")]
    Network(String),
    /// Reading or writing a file failed.
    #[error("{path}: {reason}")]
    File {
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// `UPTAKE_TESTBED_START_TIMEOUT` is not a number of seconds.
    #[error("{START_TIMEOUT_ENV}={0:?} is not a number of seconds")]
    BadTimeout(String),
    /// A server exited while starting.
    #[error(
        "server {name} ({kind}) exited during startup ({status}); last lines of its log:\n{tail}"
    )]
    ServerExited {
        /// Server name from the manifest.
        name: String,
        /// Daemon.
        kind: &'static str,
        /// How it ended.
        status: String,
        /// The last lines of its log.
        tail: String,
    },
    /// A server did not answer in time.
    #[error("server {name} ({kind}) did not answer on {address} within {secs} s (set {START_TIMEOUT_ENV} to wait longer); last lines of its log:\n{tail}")]
    ServerTimeout {
        /// Server name from the manifest.
        name: String,
        /// Daemon.
        kind: &'static str,
        /// The address that stayed silent.
        address: IpAddr,
        /// The timeout, in seconds.
        secs: f64,
        /// The last lines of its log.
        tail: String,
    },
    /// NSD started but a zone it should serve did not load (NSD answers SERVFAIL for it).
    #[error("server {name} (nsd) did not load zone {zone} (it answers {}); last lines of its log:\n{tail}", rcode_name(*.rcode))]
    ZoneNotLoaded {
        /// Server name from the manifest.
        name: String,
        /// The zone.
        zone: String,
        /// NSD's answer to a SOA query for the zone.
        rcode: u8,
        /// The last lines of its log.
        tail: String,
    },
}

impl RunError {
    fn file(path: &Path, e: impl std::fmt::Display) -> RunError {
        RunError::File {
            path: path.to_path_buf(),
            reason: e.to_string(),
        }
    }
}

/// Runs COMMAND inside the private internet of the testbed in `dir` and returns its exit code
/// (128 + signal number if a signal killed it).
///
/// Call it from the main thread of a single-threaded process (before any async runtime): the
/// `unshare` child gets a parent-death signal tied to the calling thread. Checks the manifest,
/// the daemons (`nsd`, `unbound`, `nginx`, `postfix`, `ip`, `unshare`, `newuidmap`) and COMMAND before starting anything, then
/// re-executes the current binary in a new user, network and PID namespace (see the module
/// docs) and waits for it, ignoring SIGINT meanwhile: Ctrl-C ends COMMAND, and the run then
/// cleans up and returns its code.
pub fn run(dir: &Path, command: &[OsString]) -> Result<u8, RunError> {
    let manifest = Manifest::load(dir)?;
    let dir = fs::canonicalize(dir).map_err(|e| RunError::file(dir, e))?;
    let unshare = required_programs(&manifest, true)?
        .unshare
        .unwrap_or_else(|| PathBuf::from("unshare"));
    let users = needs_users(&manifest);
    check_command(command)?;
    start_timeout()?;
    let exe = std::env::current_exe().map_err(|e| RunError::Spawn {
        program: "uptake (current executable)".into(),
        reason: e.to_string(),
    })?;

    let mut cmd = Command::new(&unshare);
    cmd.args(namespace_args(&unshare, users)?)
        .arg("--")
        .arg(&exe)
        .args(["testbed", "__inside"])
        .arg(&dir)
        .arg("--")
        .args(command);
    sys::die_with_parent(&mut cmd);
    let mut child = cmd.spawn().map_err(|e| RunError::Spawn {
        program: unshare.display().to_string(),
        reason: e.to_string(),
    })?;
    // Ignore Ctrl-C only after the spawn, so the namespace's processes keep the default action.
    let _sigint = sys::SigintIgnored::new();
    let status = wait_retrying(&mut child).map_err(|e| RunError::Spawn {
        program: unshare.display().to_string(),
        reason: e.to_string(),
    })?;
    Ok(exit_code(status))
}

/// The part of [`run`] that executes as PID 1 inside the new namespace: sets up the network,
/// starts the servers, waits until they answer, runs COMMAND with `UPTAKE_RESOLVER` and
/// `UPTAKE_TESTBED_DIR` set, stops the servers and returns COMMAND's exit code. Every error path
/// stops the servers it started and removes the state directory.
pub fn run_inside(dir: &Path, command: &[OsString]) -> Result<u8, RunError> {
    if std::process::id() != 1 {
        return Err(RunError::NotInNamespace);
    }
    let manifest = Manifest::load(dir)?;
    let dir = fs::canonicalize(dir).map_err(|e| RunError::file(dir, e))?;
    let programs = required_programs(&manifest, false)?;
    let program = check_command(command)?;
    let timeout = start_timeout()?;

    setup_network(programs.ip.as_deref().unwrap_or(Path::new("ip")), &manifest)?;

    if let Some(warning) = fs::read_to_string(RMEM_MAX)
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .and_then(receive_buffer_warning)
    {
        eprintln!("uptake: testbed: {warning}");
    }

    let mut running = Running::new(make_state_dir()?);
    let deadline = Instant::now() + timeout;
    // Start everything in manifest order, then wait for each: the NSDs load their zones in
    // parallel, and Unbound does not need the authoritatives until COMMAND asks it something.
    sys::raise_nofile_limit();
    for server in &manifest.servers {
        running.start(&dir, server, &programs.daemon(server.kind))?;
    }
    for (i, server) in manifest.servers.iter().enumerate() {
        running.wait_ready(i, server, deadline, timeout)?;
    }

    let mut child = Command::new(program);
    child
        .arg0(&command[0])
        .args(&command[1..])
        .env(RESOLVER_ENV, &manifest.resolver)
        .env(ALLOW_ENV, allowed_addresses(&manifest))
        .env(DIR_ENV, &dir);
    if let Some(ca) = &manifest.ca {
        child.env(CA_ENV, dir.join(ca));
    }
    if let Some(r) = &manifest.routing {
        for (var, file) in ROUTING_ENV
            .iter()
            .zip([&r.vrps, &r.prefix_origins, &r.ip_asn])
        {
            child.env(var, dir.join(file));
        }
    }
    if let Some(v6) = manifest
        .servers
        .iter()
        .flat_map(|s| s.addresses.iter())
        .find(|a| a.is_ipv6())
    {
        child.env(IPV6_PROBE_ENV, format!("[{v6}]:53"));
    }
    let mut child = child.spawn().map_err(|e| RunError::Spawn {
        program: command[0].to_string_lossy().into_owned(),
        reason: e.to_string(),
    })?;
    let _sigint = sys::SigintIgnored::new();
    let status = wait_retrying(&mut child).map_err(|e| RunError::Spawn {
        program: command[0].to_string_lossy().into_owned(),
        reason: e.to_string(),
    })?;
    drop(running);
    Ok(exit_code(status))
}

/// COMMAND's exit code as a shell reports it.
fn exit_code(status: ExitStatus) -> u8 {
    match (status.code(), status.signal()) {
        (Some(code), _) => (code & 0xff) as u8,
        (None, Some(sig)) => (128 + sig).min(255) as u8,
        (None, None) => 255,
    }
}

fn wait_retrying(child: &mut Child) -> io::Result<ExitStatus> {
    loop {
        match child.wait() {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            other => return other,
        }
    }
}

/// Paths of the programs a run needs (`None` where this half does not need one).
struct Programs {
    unshare: Option<PathBuf>,
    ip: Option<PathBuf>,
    /// The daemons, by kind.
    daemons: Vec<(ServerKind, PathBuf)>,
}

impl Programs {
    fn daemon(&self, kind: ServerKind) -> PathBuf {
        self.daemons
            .iter()
            .find(|(k, _)| *k == kind)
            .map(|(_, p)| p.clone())
            .unwrap_or_else(|| PathBuf::from(kind.program()))
    }
}

/// The manifest runs nginx or Postfix: daemons that switch to their own users, which need
/// more than uid 0 mapped in the user namespace (`unshare --map-auto`).
fn needs_users(manifest: &Manifest) -> bool {
    manifest
        .servers
        .iter()
        .any(|s| matches!(s.kind, ServerKind::Nginx | ServerKind::Postfix))
}

/// Finds `ip`, the daemons the manifest uses and (outside) `unshare`; fails naming the Debian
/// packages of every missing one.
fn required_programs(manifest: &Manifest, outside: bool) -> Result<Programs, RunError> {
    let mut missing: Vec<(&str, &str)> = Vec::new();
    let mut find =
        |program: &'static str, package: &'static str, needed: bool| -> Option<PathBuf> {
            if !needed {
                return None;
            }
            let found = find_program(OsStr::new(program), true);
            if found.is_none() {
                missing.push((program, package));
            }
            found
        };
    let uses = |kind: ServerKind| manifest.servers.iter().any(|s| s.kind == kind);
    let mut daemons = Vec::new();
    for kind in [
        ServerKind::Nsd,
        ServerKind::Unbound,
        ServerKind::Nginx,
        ServerKind::Postfix,
    ] {
        if let Some(p) = find(kind.program(), kind.package(), uses(kind)) {
            daemons.push((kind, p));
        }
    }
    let users = needs_users(manifest) && outside;
    find("newuidmap", "uidmap", users);
    let mut programs = Programs {
        daemons,
        ip: find("ip", "iproute2", true),
        unshare: find("unshare", "util-linux", outside),
    };
    if uses(ServerKind::ServeTls) {
        // Served by this executable (`uptake testbed serve-tls`).
        match std::env::current_exe() {
            Ok(exe) => programs.daemons.push((ServerKind::ServeTls, exe)),
            Err(_) => missing.push(("uptake (current executable)", "uptake")),
        }
    }
    if missing.is_empty() {
        return Ok(programs);
    }
    let mut packages: Vec<&str> = missing.iter().map(|(_, p)| *p).collect();
    packages.dedup();
    Err(RunError::MissingPrograms {
        programs: missing
            .iter()
            .map(|(p, _)| *p)
            .collect::<Vec<_>>()
            .join(", "),
        packages: packages.join(" "),
    })
}

/// Resolves COMMAND's program like a shell would (PATH, or a path containing `/`).
fn check_command(command: &[OsString]) -> Result<PathBuf, RunError> {
    let first = command.first().ok_or(RunError::NoCommand)?;
    find_program(first, false)
        .ok_or_else(|| RunError::CommandNotFound(first.to_string_lossy().into_owned()))
}

/// Finds an executable: a name with `/` as is, else in PATH, and for daemons also in the sbin
/// directories an unprivileged user's PATH lacks on Debian.
fn find_program(name: &OsStr, sbin: bool) -> Option<PathBuf> {
    if name.is_empty() {
        return None;
    }
    if name.as_encoded_bytes().contains(&b'/') {
        let p = PathBuf::from(name);
        return is_executable(&p).then_some(p);
    }
    let path =
        std::env::var_os("PATH").unwrap_or_else(|| OsString::from("/usr/local/bin:/usr/bin:/bin"));
    let mut dirs: Vec<PathBuf> = std::env::split_paths(&path).collect();
    if sbin {
        dirs.extend(["/usr/local/sbin", "/usr/sbin", "/sbin"].map(PathBuf::from));
    }
    dirs.into_iter()
        .map(|d| {
            if d.as_os_str().is_empty() {
                PathBuf::from(".")
            } else {
                d
            }
        })
        .map(|d| d.join(name))
        .find(|p| is_executable(p))
}

fn is_executable(path: &Path) -> bool {
    fs::metadata(path)
        .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        .unwrap_or(false)
}

/// The `unshare` options: `--mount-proc` only where the kernel lets this user mount a proc
/// (so `ps` inside shows the namespace), and a clear error where namespaces are unavailable.
fn namespace_args(unshare: &Path, users: bool) -> Result<Vec<&'static str>, RunError> {
    let mut base = vec![
        "--user",
        "--map-root-user",
        "--net",
        "--pid",
        "--fork",
        "--kill-child",
    ];
    if users {
        // uid/gid 1..65535 mapped from /etc/subuid and /etc/subgid (newuidmap), so nginx and
        // Postfix can switch to nobody / postfix as they do on a real host.
        base.push("--map-auto");
    }
    let probe = |extra: &[&str]| {
        Command::new(unshare)
            .args(&base)
            .args(extra)
            .arg("true")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .output()
    };
    let mut args = base.clone();
    match probe(&["--mount-proc"]) {
        Ok(out) if out.status.success() => {
            args.push("--mount-proc");
            return Ok(args);
        }
        _ => {}
    }
    match probe(&[]) {
        Ok(out) if out.status.success() => Ok(args),
        Ok(out) => {
            let msg = String::from_utf8_lossy(&out.stderr);
            let first = msg
                .lines()
                .next()
                .unwrap_or("unshare failed")
                .trim()
                .to_string();
            if users {
                return Err(RunError::NoSubordinateIds(first));
            }
            Err(RunError::NoNamespace(first))
        }
        Err(e) => Err(RunError::Spawn {
            program: unshare.display().to_string(),
            reason: e.to_string(),
        }),
    }
}

fn start_timeout() -> Result<Duration, RunError> {
    match std::env::var(START_TIMEOUT_ENV) {
        Ok(v) if !v.trim().is_empty() => v
            .trim()
            .parse::<f64>()
            .ok()
            .filter(|s| s.is_finite() && *s > 0.0)
            .map(Duration::from_secs_f64)
            .ok_or(RunError::BadTimeout(v)),
        _ => Ok(DEFAULT_START_TIMEOUT),
    }
}

/// Brings `lo` up, adds every manifest address and local route, in one `ip -batch` process
/// (a large testbed has many addresses).
fn setup_network(ip: &Path, manifest: &Manifest) -> Result<(), RunError> {
    let mut script = String::from("link set lo up\n");
    let mut seen = std::collections::HashSet::new();
    for a in manifest
        .addresses
        .iter()
        .chain(manifest.servers.iter().flat_map(|s| s.addresses.iter()))
    {
        if !seen.insert(*a) || a.is_loopback() {
            continue;
        }
        match a {
            IpAddr::V4(a) => script.push_str(&format!("addr add {a}/32 dev lo\n")),
            IpAddr::V6(a) => script.push_str(&format!("addr add {a}/128 dev lo nodad\n")),
        }
    }
    for prefix in &manifest.local_routes {
        script.push_str(&format!("route add local {prefix} dev lo\n"));
    }
    let mut child = Command::new(ip)
        .args(["-batch", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| RunError::Spawn {
            program: ip.display().to_string(),
            reason: e.to_string(),
        })?;
    if let Some(mut stdin) = child.stdin.take() {
        // A write error shows up as ip's own failure below.
        let _ = stdin.write_all(script.as_bytes());
    }
    let out = child
        .wait_with_output()
        .map_err(|e| RunError::Network(e.to_string()))?;
    if out.status.success() {
        Ok(())
    } else {
        let msg = String::from_utf8_lossy(&out.stderr);
        Err(RunError::Network(
            msg.split_whitespace().collect::<Vec<_>>().join(" "),
        ))
    }
}

/// Prefix of state directory names under the temporary directory.
const STATE_PREFIX: &str = "uptake-testbed-";
/// Name of the lock file a live run holds in its state directory.
const LOCK_FILE: &str = "lock";

/// Creates a fresh state directory under the temporary directory (`TMPDIR`) and locks it.
/// Every run's is new, so runs of one testbed can overlap; PIDs cannot name it (every run is
/// PID 1). A run killed with SIGKILL cannot remove its directory; the next run removes such
/// leftovers: their lock is free once their process is gone.
fn make_state_dir() -> Result<(PathBuf, File), RunError> {
    let base = std::env::temp_dir();
    sweep_stale_state_dirs(&base);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let mut last = None;
    for attempt in 0..100u32 {
        let path = base.join(format!("{STATE_PREFIX}{nanos:x}-{attempt}"));
        match fs::create_dir(&path) {
            Ok(()) => {
                // Lock under a temporary name and rename, so a sweeper never sees an unlocked
                // `lock` of a live run.
                let tmp = path.join("lock.tmp");
                let lock = File::create(&tmp).map_err(|e| RunError::file(&tmp, e))?;
                if !sys::try_lock(&lock) {
                    return Err(RunError::file(&tmp, "cannot lock"));
                }
                fs::rename(&tmp, path.join(LOCK_FILE)).map_err(|e| RunError::file(&tmp, e))?;
                return Ok((path, lock));
            }
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => last = Some(e),
            Err(e) => return Err(RunError::file(&path, e)),
        }
    }
    Err(RunError::file(
        &base,
        last.map(|e| e.to_string()).unwrap_or_default(),
    ))
}

/// Removes state directories of runs that ended without cleaning up (their lock is free).
fn sweep_stale_state_dirs(base: &Path) {
    let Ok(entries) = fs::read_dir(base) else {
        return;
    };
    for entry in entries.flatten() {
        if !entry
            .file_name()
            .to_string_lossy()
            .starts_with(STATE_PREFIX)
        {
            continue;
        }
        let dir = entry.path();
        let Ok(lock) = File::open(dir.join(LOCK_FILE)) else {
            continue;
        };
        if sys::try_lock(&lock) {
            let _ = fs::remove_dir_all(&dir);
        }
    }
}

/// A started server.
struct Started {
    child: Child,
    log: PathBuf,
    /// Rendered config text (NSD: the zones to check).
    config: String,
}

/// The servers of this run and its state directory; dropping it stops the servers (SIGTERM,
/// then SIGKILL after [`STOP_GRACE`]) and removes the directory.
struct Running {
    state: PathBuf,
    /// Held while the run lives (see [`make_state_dir`]).
    _lock: File,
    servers: Vec<Started>,
}

impl Running {
    fn new((state, lock): (PathBuf, File)) -> Running {
        Running {
            state,
            _lock: lock,
            servers: Vec::new(),
        }
    }

    /// Renders the server's config into the state directory and starts the daemon in the
    /// foreground, in its own process group, logging to `STATE/<name>.log`.
    fn start(&mut self, dir: &Path, server: &Server, daemon: &Path) -> Result<(), RunError> {
        let stem: String = server
            .name
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        let template_path = dir.join(&server.config);
        let read = |path: &Path| -> Result<String, RunError> {
            fs::read_to_string(path)
                .map(|t| render(&t, dir, &self.state))
                .map_err(|e| RunError::file(path, e))
        };
        let write = |path: &Path, text: &str| -> Result<(), RunError> {
            fs::write(path, text).map_err(|e| RunError::file(path, e))
        };
        let log = self.state.join(format!("{stem}.log"));
        let mut cmd = Command::new(daemon);
        let config = match server.kind {
            ServerKind::Nsd | ServerKind::Unbound | ServerKind::Nginx | ServerKind::ServeTls => {
                let config = read(&template_path)?;
                let conf_path = self.state.join(format!("{stem}.conf"));
                write(&conf_path, &config)?;
                match server.kind {
                    // -e: the error log before the config's is read (not /var/log/nginx).
                    ServerKind::Nginx => cmd.arg("-e").arg(&log).arg("-c").arg(&conf_path),
                    ServerKind::ServeTls => cmd.args(["testbed", "serve-tls"]).arg(&conf_path),
                    _ => cmd.arg("-d").arg("-c").arg(&conf_path),
                };
                config
            }
            ServerKind::Postfix => {
                // A config directory, its queue and data directories in the run directory;
                // the data directory must belong to the postfix user (its master lock).
                let conf = self.state.join(&stem);
                for d in [
                    conf.clone(),
                    self.state.join("postfix-queue"),
                    self.state.join("postfix-data"),
                ] {
                    fs::create_dir_all(&d).map_err(|e| RunError::file(&d, e))?;
                }
                let mut all = String::new();
                for f in ["main.cf", "master.cf"] {
                    let text = read(&template_path.join(f))?;
                    write(&conf.join(f), &text)?;
                    all.push_str(&text);
                }
                let data = self.state.join("postfix-data");
                let out = Command::new("chown")
                    .arg("postfix:postfix")
                    .arg(&data)
                    .output()
                    .map_err(|e| RunError::Spawn {
                        program: "chown".into(),
                        reason: e.to_string(),
                    })?;
                if !out.status.success() {
                    return Err(RunError::file(
                        &data,
                        format!(
                            "chown postfix: {}",
                            String::from_utf8_lossy(&out.stderr).trim()
                        ),
                    ));
                }
                cmd.arg("-c").arg(&conf).arg("start-fg");
                all
            }
        };
        let out = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log)
            .map_err(|e| RunError::file(&log, e))?;
        let err = out.try_clone().map_err(|e| RunError::file(&log, e))?;
        let child = cmd
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .process_group(0)
            .spawn()
            .map_err(|e| RunError::Spawn {
                program: daemon.display().to_string(),
                reason: e.to_string(),
            })?;
        // Postfix logs to its own file (maillog_file); show that one when it fails.
        let log = if server.kind == ServerKind::Postfix {
            self.state.join("postfix.log")
        } else {
            log
        };
        self.servers.push(Started { child, log, config });
        Ok(())
    }

    /// Waits until server `i` answers a query on each of its addresses and, for NSD, until
    /// each zone in its config answers its SOA query without SERVFAIL.
    fn wait_ready(
        &mut self,
        i: usize,
        server: &Server,
        deadline: Instant,
        timeout: Duration,
    ) -> Result<(), RunError> {
        let started = &mut self.servers[i];
        let kind = server.kind.package();
        let mut progress = Progress::new(&server.name);
        let fail = |started: &mut Started, outcome: Outcome, address: IpAddr| -> RunError {
            let tail = log_tail(&started.log);
            match outcome {
                Outcome::Exited(status) => RunError::ServerExited {
                    name: server.name.clone(),
                    kind,
                    status: status.to_string(),
                    tail,
                },
                Outcome::TimedOut | Outcome::Answer(_) => RunError::ServerTimeout {
                    name: server.name.clone(),
                    kind,
                    address,
                    secs: timeout.as_secs_f64(),
                    tail,
                },
            }
        };
        if !server.kind.is_dns() {
            if let Err((outcome, endpoint)) =
                listening_until_all(&mut started.child, &server.tcp, deadline, &mut progress)
            {
                return Err(fail(started, outcome, endpoint.ip()));
            }
            if server.kind == ServerKind::Postfix {
                if let Err(endpoint) = greet_each(&server.tcp, deadline) {
                    return Err(fail(started, Outcome::TimedOut, endpoint.ip()));
                }
            }
            return Ok(());
        }
        for &address in &server.addresses {
            match query_until_answer(&mut started.child, address, ".", deadline, &mut progress) {
                Outcome::Answer(_) => {}
                other => return Err(fail(started, other, address)),
            }
        }
        if server.kind == ServerKind::Nsd {
            if let Some(&address) = server.addresses.first() {
                for zone in servers::nsd_zones(&started.config) {
                    match query_until_answer(
                        &mut started.child,
                        address,
                        &zone,
                        deadline,
                        &mut progress,
                    ) {
                        Outcome::Answer(0) => {}
                        Outcome::Answer(rcode) => {
                            return Err(RunError::ZoneNotLoaded {
                                name: server.name.clone(),
                                zone,
                                rcode,
                                tail: log_tail(&started.log),
                            })
                        }
                        other => return Err(fail(started, other, address)),
                    }
                }
            }
        }
        Ok(())
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        for s in &self.servers {
            sys::signal_group(s.child.id(), libc::SIGTERM);
        }
        let until = Instant::now() + STOP_GRACE;
        for s in &mut self.servers {
            while matches!(s.child.try_wait(), Ok(None)) && Instant::now() < until {
                std::thread::sleep(Duration::from_millis(20));
            }
            // The whole group: NSD's own children too.
            sys::signal_group(s.child.id(), libc::SIGKILL);
            let _ = s.child.kill();
            let _ = s.child.wait();
        }
        let _ = fs::remove_dir_all(&self.state);
    }
}

/// Replaces the placeholders of a config template.
fn render(template: &str, dir: &Path, state: &Path) -> String {
    template
        .replace(DIR_PLACEHOLDER, &dir.display().to_string())
        .replace(RUN_PLACEHOLDER, &state.display().to_string())
}

/// The last [`LOG_TAIL_LINES`] lines of a log file (read from its end: logs can be large).
fn log_tail(path: &Path) -> String {
    let mut text = String::new();
    if let Ok(mut f) = File::open(path) {
        let len = f.metadata().map(|m| m.len()).unwrap_or(0);
        let _ = f.seek(SeekFrom::Start(len.saturating_sub(64 * 1024)));
        let mut bytes = Vec::new();
        let _ = f.read_to_end(&mut bytes);
        text = String::from_utf8_lossy(&bytes).into_owned();
    }
    let lines: Vec<&str> = text.lines().collect();
    let tail = lines[lines.len().saturating_sub(LOG_TAIL_LINES)..].join("\n");
    if tail.trim().is_empty() {
        "(empty)".to_string()
    } else {
        tail
    }
}

/// The kernel's cap on a socket's receive buffer, which Unbound's `so-rcvbuf` is held to in a
/// user namespace (see `servers::unbound_config`).
const RMEM_MAX: &str = "/proc/sys/net/core/rmem_max";

/// The cap below which the testbed's resolver drops queries of a busy scan, in bytes.
const RESOLVER_RMEM_MAX: u64 = 4 << 20;

/// What to tell the user when `net.core.rmem_max` holds the resolver's receive buffer below
/// [`RESOLVER_RMEM_MAX`].
fn receive_buffer_warning(rmem_max: u64) -> Option<String> {
    (rmem_max < RESOLVER_RMEM_MAX).then(|| {
        format!(
            "net.core.rmem_max is {rmem_max} bytes: Unbound's receive buffer is capped there, and a busy scan may see dropped queries as timeouts; as root: sysctl -w net.core.rmem_max={RESOLVER_RMEM_MAX} (scripts/setup.sh does)"
        )
    })
}

/// Tells the user once when loading takes a while (a large testbed takes minutes).
struct Progress<'a> {
    name: &'a str,
    since: Instant,
    told: bool,
}

impl<'a> Progress<'a> {
    fn new(name: &'a str) -> Progress<'a> {
        Progress {
            name,
            since: Instant::now(),
            told: false,
        }
    }

    fn tick(&mut self) {
        if !self.told && self.since.elapsed() > Duration::from_secs(5) {
            self.told = true;
            eprintln!(
                "uptake: testbed: waiting for server {} to load its zones or open its ports...",
                self.name
            );
        }
    }
}

/// How waiting for an answer ended.
enum Outcome {
    /// A response arrived with this rcode.
    Answer(u8),
    /// The server process ended.
    Exited(ExitStatus),
    /// The deadline passed.
    TimedOut,
}

/// Sends a SOA query for `zone` (RD=0) to `address` port 53 until a response arrives, the
/// server exits or the deadline passes.
fn query_until_answer(
    child: &mut Child,
    address: IpAddr,
    zone: &str,
    deadline: Instant,
    progress: &mut Progress,
) -> Outcome {
    let bind: SocketAddr = match address {
        IpAddr::V4(_) => (Ipv4Addr::UNSPECIFIED, 0).into(),
        IpAddr::V6(_) => (Ipv6Addr::UNSPECIFIED, 0).into(),
    };
    let id = (SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0)
        & 0xffff) as u16;
    let query = soa_query(id, zone);
    let socket = UdpSocket::bind(bind).and_then(|s| {
        s.connect((address, 53))?;
        s.set_read_timeout(Some(Duration::from_millis(100)))?;
        Ok(s)
    });
    let mut last_send: Option<Instant> = None;
    let mut buf = [0u8; 4096];
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            return Outcome::Exited(status);
        }
        if Instant::now() >= deadline {
            return Outcome::TimedOut;
        }
        progress.tick();
        let Ok(socket) = &socket else {
            std::thread::sleep(Duration::from_millis(100));
            continue;
        };
        if last_send.is_none_or(|t| t.elapsed() >= Duration::from_millis(500)) {
            // ECONNREFUSED from an earlier send (nobody listening yet) surfaces here or in recv.
            let _ = socket.send(&query);
            last_send = Some(Instant::now());
        }
        match socket.recv(&mut buf) {
            Ok(n) => {
                if let Some(rcode) = response_rcode(&buf[..n], id) {
                    return Outcome::Answer(rcode);
                }
            }
            Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => {
                std::thread::sleep(Duration::from_millis(50))
            }
            Err(_) => {}
        }
    }
}

/// Starts an `smtpd` behind every Postfix listener before the command runs: connects to each
/// endpoint, reads the greeting and says QUIT, all at once. Postfix forks an `smtpd` for a
/// listener on its first connection, and a cold start of a few hundred of them (OpenSSL
/// initialisation each) on a busy 2-core machine took 13 s (measured: 204 listeners, median
/// greeting 12.4 s cold, 0.01 s warm), which a scan's SMTP probes saw as greeting timeouts.
/// A mail server in service has its processes running; `max_idle` in main.cf keeps them.
/// Returns the first endpoint that gave no greeting by `deadline`.
fn greet_each(endpoints: &[SocketAddr], deadline: Instant) -> Result<(), SocketAddr> {
    use std::io::{BufRead, Write};
    let greet = |e: SocketAddr| -> bool {
        let Some(left) = deadline.checked_duration_since(Instant::now()) else {
            return false;
        };
        let Ok(stream) = std::net::TcpStream::connect_timeout(&e, left) else {
            return false;
        };
        let left = deadline
            .checked_duration_since(Instant::now())
            .unwrap_or(Duration::from_millis(1));
        if stream.set_read_timeout(Some(left)).is_err() {
            return false;
        }
        let mut r = std::io::BufReader::new(&stream);
        // The greeting may span lines ("220-" continues, "220 " ends it).
        loop {
            let mut line = String::new();
            match r.read_line(&mut line) {
                Ok(n) if n > 0 && line.starts_with("220-") => continue,
                Ok(n) if n > 0 && line.starts_with("220") => break,
                _ => return false,
            }
        }
        let _ = (&stream).write_all(b"QUIT\r\n");
        true
    };
    let failed = std::thread::scope(|scope| {
        let handles: Vec<_> = endpoints
            .iter()
            .map(|&e| scope.spawn(move || (e, greet(e))))
            .collect();
        handles
            .into_iter()
            .filter_map(|h| h.join().ok())
            .find(|(_, ok)| !ok)
            .map(|(e, _)| e)
    });
    match failed {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

/// Waits until every endpoint has a listening TCP socket (read from `/proc/net/tcp` and
/// `tcp6` of the namespace, so no connection reaches a server before it listens everywhere;
/// Postfix's `smtpd`s are then started by [`greet_each`]), the server exits or the deadline
/// passes.
fn listening_until_all(
    child: &mut Child,
    endpoints: &[SocketAddr],
    deadline: Instant,
    progress: &mut Progress,
) -> Result<(), (Outcome, SocketAddr)> {
    loop {
        let listening = listening_sockets();
        let Some(&missing) = endpoints.iter().find(|e| !listening.contains(e)) else {
            return Ok(());
        };
        if let Ok(Some(status)) = child.try_wait() {
            return Err((Outcome::Exited(status), missing));
        }
        if Instant::now() >= deadline {
            return Err((Outcome::TimedOut, missing));
        }
        progress.tick();
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The local addresses of TCP sockets in LISTEN state.
fn listening_sockets() -> std::collections::HashSet<SocketAddr> {
    let mut out = std::collections::HashSet::new();
    for file in ["/proc/net/tcp", "/proc/net/tcp6"] {
        let Ok(text) = fs::read_to_string(file) else {
            continue;
        };
        out.extend(text.lines().skip(1).filter_map(parse_listen_line));
    }
    out
}

/// `sl local_address rem_address st ...` of /proc/net/tcp{,6}: the local address when st is
/// 0A (LISTEN). Addresses are hex 32-bit words in host (little-endian) order.
fn parse_listen_line(line: &str) -> Option<SocketAddr> {
    let mut fields = line.split_whitespace();
    let local = fields.nth(1)?;
    let state = fields.nth(1)?;
    if state != "0A" {
        return None;
    }
    let (addr, port) = local.split_once(':')?;
    let port = u16::from_str_radix(port, 16).ok()?;
    let word = |i: usize| -> Option<[u8; 4]> {
        let w = u32::from_str_radix(addr.get(i * 8..i * 8 + 8)?, 16).ok()?;
        Some(w.to_le_bytes())
    };
    let ip = match addr.len() {
        8 => IpAddr::V4(Ipv4Addr::from(word(0)?)),
        32 => {
            let mut b = [0u8; 16];
            for i in 0..4 {
                b[i * 4..i * 4 + 4].copy_from_slice(&word(i)?);
            }
            IpAddr::V6(Ipv6Addr::from(b))
        }
        _ => return None,
    };
    Some(SocketAddr::new(ip, port))
}

/// The mnemonic of a DNS rcode.
fn rcode_name(rcode: u8) -> String {
    match rcode {
        0 => "NOERROR".into(),
        1 => "FORMERR".into(),
        2 => "SERVFAIL".into(),
        3 => "NXDOMAIN".into(),
        4 => "NOTIMP".into(),
        5 => "REFUSED".into(),
        9 => "NOTAUTH".into(),
        n => format!("rcode {n}"),
    }
}

/// A DNS query for `zone` SOA IN, RD=0, no EDNS.
fn soa_query(id: u16, zone: &str) -> Vec<u8> {
    let mut q = Vec::with_capacity(32);
    q.extend_from_slice(&id.to_be_bytes());
    q.extend_from_slice(&[0, 0, 0, 1, 0, 0, 0, 0, 0, 0]);
    for label in zone.split('.').filter(|l| !l.is_empty()) {
        let bytes = &label.as_bytes()[..label.len().min(63)];
        q.push(bytes.len() as u8);
        q.extend_from_slice(bytes);
    }
    q.push(0);
    q.extend_from_slice(&[0, 6, 0, 1]);
    q
}

/// The rcode of a response to query `id`, or `None` if `msg` is not one.
fn response_rcode(msg: &[u8], id: u16) -> Option<u8> {
    (msg.len() >= 12 && msg[..2] == id.to_be_bytes() && msg[2] & 0x80 != 0).then(|| msg[3] & 0x0f)
}

/// The few system calls std has no safe wrapper for.
mod sys {
    use std::process::Command;

    /// Makes the child get SIGKILL when the calling thread exits, so that `unshare` (and with
    /// `--kill-child` the whole namespace) cannot outlive `uptake testbed run`, even after
    /// SIGKILL.
    #[allow(unsafe_code)]
    pub(super) fn die_with_parent(cmd: &mut Command) {
        use std::os::unix::process::CommandExt as _;
        let parent = std::process::id() as libc::pid_t;
        // SAFETY: the closure runs in the forked child before exec; it only calls the
        // async-signal-safe prctl(2) and getppid(2) and allocates nothing.
        unsafe {
            cmd.pre_exec(move || {
                if libc::prctl(
                    libc::PR_SET_PDEATHSIG,
                    libc::SIGKILL as libc::c_ulong,
                    0,
                    0,
                    0,
                ) != 0
                {
                    return Err(std::io::Error::last_os_error());
                }
                // The parent died before prctl: nobody would kill us later, so do not start.
                if libc::getppid() != parent {
                    return Err(std::io::Error::from_raw_os_error(libc::ESRCH));
                }
                Ok(())
            });
        }
    }

    /// Takes an exclusive `flock(2)` on `file` without waiting; false if another holds it.
    #[allow(unsafe_code)]
    pub(super) fn try_lock(file: &std::fs::File) -> bool {
        use std::os::fd::AsRawFd as _;
        // SAFETY: flock(2) on a file descriptor that `file` keeps open for the call.
        unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) == 0 }
    }

    /// Raises the soft limit of open files to the hard limit (nginx and Postfix hold a socket
    /// per listening address and port; inherited by the servers and COMMAND).
    #[allow(unsafe_code)]
    pub(super) fn raise_nofile_limit() {
        let mut lim = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: getrlimit/setrlimit write/read the struct we pass, which lives for the call.
        unsafe {
            if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) == 0 && lim.rlim_cur < lim.rlim_max {
                lim.rlim_cur = lim.rlim_max;
                libc::setrlimit(libc::RLIMIT_NOFILE, &lim);
            }
        }
    }

    /// Sends `sig` to the process group `pgid` (a server started with `process_group(0)`).
    #[allow(unsafe_code)]
    pub(super) fn signal_group(pgid: u32, sig: libc::c_int) {
        let Ok(pgid) = libc::pid_t::try_from(pgid) else {
            return;
        };
        if pgid <= 1 {
            return;
        }
        // SAFETY: kill(2) takes plain integers and has no memory-safety preconditions.
        unsafe {
            libc::kill(-pgid, sig);
        }
    }

    /// Ignores SIGINT while it lives and restores the previous disposition when dropped.
    pub(super) struct SigintIgnored(libc::sighandler_t);

    impl SigintIgnored {
        #[allow(unsafe_code)]
        pub(super) fn new() -> SigintIgnored {
            // SAFETY: SIG_IGN installs no handler code; signal(2) has no other preconditions.
            SigintIgnored(unsafe { libc::signal(libc::SIGINT, libc::SIG_IGN) })
        }
    }

    impl Drop for SigintIgnored {
        #[allow(unsafe_code)]
        fn drop(&mut self) {
            if self.0 != libc::SIG_ERR {
                // SAFETY: restores the disposition signal(2) returned earlier.
                unsafe {
                    libc::signal(libc::SIGINT, self.0);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn warns_when_the_resolver_receive_buffer_is_capped_low() {
        let w = receive_buffer_warning(212_992).expect("the kernel default is too small");
        assert!(w.contains("212992") && w.contains("sysctl -w net.core.rmem_max=4194304"));
        assert_eq!(receive_buffer_warning(4 << 20), None);
    }

    #[test]
    fn soa_query_encodes_names() {
        assert_eq!(
            soa_query(0x1234, "."),
            vec![0x12, 0x34, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 6, 0, 1]
        );
        let q = soa_query(1, "co.uk.");
        assert_eq!(&q[12..], &[2, b'c', b'o', 2, b'u', b'k', 0, 0, 6, 0, 1]);
        assert_eq!(soa_query(1, "nl")[12..], soa_query(1, "nl.")[12..]);
    }

    #[test]
    fn response_rcode_checks_id_and_qr() {
        let mut r = soa_query(7, ".");
        assert_eq!(response_rcode(&r, 7), None, "a query is not a response");
        r[2] |= 0x80;
        r[3] = 2;
        assert_eq!(response_rcode(&r, 7), Some(2));
        assert_eq!(response_rcode(&r, 8), None);
        assert_eq!(response_rcode(&r[..5], 7), None);
    }

    #[test]
    fn proc_net_tcp_lines_parse() {
        let v4 = "   0: 0A0212C6:0050 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1 1 0 100 0 0 10 0";
        assert_eq!(
            parse_listen_line(v4),
            Some("198.18.2.10:80".parse().unwrap())
        );
        let established = v4.replacen(" 0A ", " 01 ", 1);
        assert_eq!(parse_listen_line(&established), None);
        let v6 = "   0: B80D0120000080000000000010000000:01BB 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1 1 0 100 0 0 10 0";
        assert_eq!(
            parse_listen_line(v6),
            Some("[2001:db8:80::10]:443".parse().unwrap())
        );
    }

    #[test]
    fn exit_codes_follow_the_shell() {
        assert_eq!(exit_code(ExitStatus::from_raw(7 << 8)), 7);
        assert_eq!(exit_code(ExitStatus::from_raw(libc::SIGKILL)), 137);
        assert_eq!(exit_code(ExitStatus::from_raw(libc::SIGINT)), 130);
    }

    #[test]
    fn programs_are_found_in_path_and_sbin() {
        assert!(find_program(OsStr::new("sh"), false).is_some());
        assert!(find_program(OsStr::new("/bin/sh"), false).is_some());
        assert!(find_program(OsStr::new("no-such-command-uptake"), true).is_none());
        assert!(find_program(OsStr::new("./no-such-command-uptake"), false).is_none());
        assert!(find_program(OsStr::new(""), false).is_none());
    }

    #[test]
    fn missing_programs_name_their_packages() {
        let e = RunError::MissingPrograms {
            programs: "nsd".into(),
            packages: "nsd".into(),
        };
        assert_eq!(
            e.to_string(),
            "nsd not found: install the Debian package nsd (apt-get install nsd)"
        );
        let e = RunError::MissingPrograms {
            programs: "nsd, ip".into(),
            packages: "nsd iproute2".into(),
        };
        assert_eq!(
            e.to_string(),
            "nsd, ip not found: install the Debian packages nsd iproute2 (apt-get install nsd iproute2)"
        );
    }

    #[test]
    fn command_must_exist() {
        assert!(matches!(check_command(&[]), Err(RunError::NoCommand)));
        let e = check_command(&[OsString::from("no-such-command-uptake")]).unwrap_err();
        assert_eq!(e.to_string(), "command not found: no-such-command-uptake");
        assert!(check_command(&[OsString::from("sh"), OsString::from("-c")]).is_ok());
    }

    #[test]
    fn inside_refuses_to_run_outside_a_namespace() {
        // A test process is never PID 1: run_inside must not touch this machine's network.
        let e = run_inside(Path::new("/nonexistent"), &[OsString::from("true")]).unwrap_err();
        assert!(matches!(e, RunError::NotInNamespace));
    }

    #[test]
    fn log_tail_keeps_the_last_lines() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("x.log");
        let text: String = (0..100).map(|i| format!("line {i}\n")).collect();
        fs::write(&p, text).unwrap();
        let tail = log_tail(&p);
        assert_eq!(tail.lines().count(), LOG_TAIL_LINES);
        assert!(tail.ends_with("line 99"));
        assert_eq!(log_tail(&dir.path().join("missing")), "(empty)");
    }

    #[test]
    fn state_dirs_are_unique_and_stale_ones_are_swept() {
        let tmp = tempfile::tempdir().unwrap();
        let base = tmp.path();
        // A leftover of a killed run: its lock file is not held by anyone.
        let stale = base.join(format!("{STATE_PREFIX}dead-0"));
        fs::create_dir(&stale).unwrap();
        fs::write(stale.join(LOCK_FILE), "").unwrap();
        // A directory being created (no lock yet) and someone else's file stay.
        let young = base.join(format!("{STATE_PREFIX}young-0"));
        fs::create_dir(&young).unwrap();
        fs::write(base.join("other"), "").unwrap();
        // A live run holds its lock.
        let live = base.join(format!("{STATE_PREFIX}live-0"));
        fs::create_dir(&live).unwrap();
        let held = File::create(live.join(LOCK_FILE)).unwrap();
        assert!(sys::try_lock(&held));
        sweep_stale_state_dirs(base);
        assert!(!stale.exists());
        assert!(young.exists() && live.exists() && base.join("other").exists());

        let (a, _la) = make_state_dir().unwrap();
        let (b, _lb) = make_state_dir().unwrap();
        assert_ne!(a, b);
        assert!(a.join(LOCK_FILE).exists());
        fs::remove_dir_all(a).unwrap();
        fs::remove_dir_all(b).unwrap();
    }
}
