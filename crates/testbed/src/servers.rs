//! Config templates for the testbed's daemons (NSD 4.6 and Unbound 1.17, as in Debian 12).
//!
//! The generator writes these templates into the testbed directory; the runner
//! ([`crate::run`]) replaces [`DIR_PLACEHOLDER`] with the absolute testbed directory and
//! [`RUN_PLACEHOLDER`] with the per-run state directory before starting a daemon. Both daemons
//! run unprivileged inside the namespace (no chroot, no user switch, no remote control) and
//! log to stderr, which the runner stores in `RUN/<server name>.log`.
//!
//! Every option here was checked with `nsd-checkconf` / `unbound-checkconf` (see the tests).

use std::fmt::Write as _;
use std::net::IpAddr;

use crate::manifest::{DIR_PLACEHOLDER, RUN_PLACEHOLDER};

/// Renders an NSD config template for the server `name`, listening on `addresses` (port 53)
/// and serving `zones`: pairs of zone name (`"."`, `"nl"`, `"example.nl."`) and zone file path
/// relative to the testbed directory.
///
/// NSD runs in the foreground with an in-memory database (`database: ""`), keeps its zone
/// list, transfer state and pid file in the run directory, uses one server process, and has
/// response rate limiting switched off (Debian builds NSD with RRL on, 200 responses/s per
/// /24 by default, which a scan of a large testbed through one resolver would hit).
pub fn nsd_config(name: &str, addresses: &[IpAddr], zones: &[(String, String)]) -> String {
    let file = file_stem(name);
    let mut c = String::new();
    c.push_str("# NSD config template for the testbed server ");
    c.push_str(name);
    c.push_str(".\n# Rendered by `uptake testbed run`: ");
    let _ = writeln!(
        c,
        "{DIR_PLACEHOLDER} is the testbed directory, {RUN_PLACEHOLDER} the run directory."
    );
    c.push_str("server:\n");
    for a in addresses {
        let _ = writeln!(c, "    ip-address: {a}");
    }
    c.push_str("    port: 53\n");
    c.push_str("    server-count: 1\n");
    c.push_str("    database: \"\"\n");
    c.push_str("    username: \"\"\n");
    c.push_str("    chroot: \"\"\n");
    let _ = writeln!(
        c,
        "    zonelistfile: \"{RUN_PLACEHOLDER}/nsd-{file}.zonelist\""
    );
    let _ = writeln!(
        c,
        "    xfrdfile: \"{RUN_PLACEHOLDER}/nsd-{file}.xfrd.state\""
    );
    let _ = writeln!(c, "    xfrdir: \"{RUN_PLACEHOLDER}\"");
    let _ = writeln!(c, "    pidfile: \"{RUN_PLACEHOLDER}/nsd-{file}.pid\"");
    c.push_str("    identity: \"");
    c.push_str(&file);
    c.push_str("\"\n");
    c.push_str("    rrl-ratelimit: 0\n");
    c.push_str("    rrl-whitelist-ratelimit: 0\n");
    c.push_str("    tcp-count: 1000\n");
    c.push_str("remote-control:\n");
    c.push_str("    control-enable: no\n");
    for (zone, path) in zones {
        c.push_str("zone:\n");
        let _ = writeln!(c, "    name: \"{}\"", zone_name(zone));
        let _ = writeln!(
            c,
            "    zonefile: \"{DIR_PLACEHOLDER}/{}\"",
            path.trim_start_matches('/')
        );
    }
    c
}

/// Renders an Unbound config template for the validating resolver: listens on `addresses`
/// (port 53), starts from the root hints file `root_hints` and validates with the root DS
/// record(s) in `trust_anchor_file` (both relative to the testbed directory).
///
/// Sized for about a million names (256 MB message cache, 512 MB RRset cache, 4096 outgoing
/// sockets and queries per thread, two threads). Unbound logs to stderr (`logfile: ""`,
/// `use-syslog: no`), which the runner captures. No `private-address` lines: they would strip
/// answers pointing into the testbed's documentation ranges.
pub fn unbound_config(addresses: &[IpAddr], root_hints: &str, trust_anchor_file: &str) -> String {
    // Unbound has no name here; its first address keeps the pid file unique per testbed.
    let id = addresses
        .first()
        .map(|a| file_stem(&a.to_string()))
        .unwrap_or_else(|| "resolver".to_string());
    let mut c = String::new();
    c.push_str("# Unbound config template for the testbed's validating resolver.\n# Rendered by `uptake testbed run`: ");
    let _ = writeln!(
        c,
        "{DIR_PLACEHOLDER} is the testbed directory, {RUN_PLACEHOLDER} the run directory."
    );
    c.push_str("server:\n");
    for a in addresses {
        let _ = writeln!(c, "    interface: {a}");
    }
    // Queries to the authoritatives leave from the resolver's own addresses. Without a bound
    // source address the kernel selects one for every new upstream socket by walking every
    // address of the namespace's interface — tens of thousands in a large testbed — which took
    // 41% of Unbound's CPU (perf: ipv6_get_saddr_eval under ip6_datagram_dst_update) on a
    // 10,000-domain scan. A real resolver host has a handful of addresses.
    for a in addresses {
        let _ = writeln!(c, "    outgoing-interface: {a}");
    }
    c.push_str("    port: 53\n");
    c.push_str("    do-ip4: yes\n");
    c.push_str("    do-ip6: yes\n");
    c.push_str("    do-udp: yes\n");
    c.push_str("    do-tcp: yes\n");
    c.push_str("    username: \"\"\n");
    c.push_str("    chroot: \"\"\n");
    let _ = writeln!(c, "    directory: \"{RUN_PLACEHOLDER}\"");
    let _ = writeln!(c, "    pidfile: \"{RUN_PLACEHOLDER}/unbound-{id}.pid\"");
    c.push_str("    logfile: \"\"\n");
    c.push_str("    use-syslog: no\n");
    c.push_str("    log-time-ascii: yes\n");
    c.push_str("    verbosity: 1\n");
    let _ = writeln!(
        c,
        "    root-hints: \"{DIR_PLACEHOLDER}/{}\"",
        root_hints.trim_start_matches('/')
    );
    let _ = writeln!(
        c,
        "    trust-anchor-file: \"{DIR_PLACEHOLDER}/{}\"",
        trust_anchor_file.trim_start_matches('/')
    );
    c.push_str("    module-config: \"validator iterator\"\n");
    // A measurement resolver: no QNAME minimisation (it costs an upstream exchange and a
    // validation per extra label; measured +19% domains/s on a 20,000-zone scan).
    c.push_str("    qname-minimisation: no\n");
    c.push_str("    do-not-query-localhost: no\n");
    c.push_str("    trust-anchor-signaling: no\n");
    c.push_str("    ede: yes\n");
    c.push_str("    val-log-level: 2\n");
    c.push_str("    access-control: 0.0.0.0/0 allow\n");
    c.push_str("    access-control: ::/0 allow\n");
    c.push_str("    num-threads: 2\n");
    c.push_str("    so-reuseport: yes\n");
    c.push_str("    msg-cache-size: 256m\n");
    c.push_str("    rrset-cache-size: 512m\n");
    c.push_str("    key-cache-size: 64m\n");
    c.push_str("    neg-cache-size: 16m\n");
    c.push_str("    outgoing-range: 4096\n");
    c.push_str("    num-queries-per-thread: 4096\n");
    c.push_str("    incoming-num-tcp: 100\n");
    // A scan's burst of queries must queue, not be dropped: with the kernel's default
    // 208 KiB receive buffer, Unbound's port 53 dropped 1,104 queries of a 2,000-domain
    // all-checks scan on a loaded machine, which became resolver timeouts in the results.
    // In a user namespace SO_RCVBUFFORCE is refused, and Unbound falls back to SO_RCVBUF,
    // which the kernel caps at `net.core.rmem_max` (scripts/setup.sh raises it to 4 MiB).
    // NSD's sockets did not drop.
    c.push_str("    so-rcvbuf: 8m\n");
    c.push_str("remote-control:\n");
    c.push_str("    control-enable: no\n");
    c
}

/// The zones an NSD config (template or rendered) serves, as written in its `zone:` clauses'
/// `name:` lines (`"."`, `"nl."`, ...). The runner asks NSD for each zone's SOA to know that the
/// zone loaded: NSD answers SERVFAIL for a configured zone whose file did not load.
pub fn nsd_zones(config: &str) -> Vec<String> {
    let mut zones = Vec::new();
    let mut in_zone = false;
    for line in config.lines() {
        let line = line.split('#').next().unwrap_or("").trim();
        if line.is_empty() {
            continue;
        }
        if line.ends_with(':') && !line.contains(' ') {
            in_zone = line == "zone:";
            continue;
        }
        if in_zone {
            if let Some(value) = line.strip_prefix("name:") {
                zones.push(value.trim().trim_matches('"').to_string());
            }
        }
    }
    zones
}

/// A zone name as NSD wants it: absolute, `.` for the root.
fn zone_name(zone: &str) -> String {
    let z = zone.trim().trim_end_matches('.');
    if z.is_empty() {
        ".".to_string()
    } else {
        format!("{z}.")
    }
}

/// A file-name-safe form of a server name or address.
fn file_stem(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{Ipv4Addr, Ipv6Addr};
    use std::process::Command;

    fn addrs() -> Vec<IpAddr> {
        vec![
            IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1)),
            IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1)),
        ]
    }

    fn render(t: &str, dir: &std::path::Path) -> String {
        t.replace(DIR_PLACEHOLDER, &dir.display().to_string())
            .replace(RUN_PLACEHOLDER, &dir.join("run").display().to_string())
    }

    #[test]
    fn nsd_template_has_the_required_options() {
        let zones = vec![
            (".".to_string(), "zones/root.signed".to_string()),
            ("nl".to_string(), "zones/nl.zone".to_string()),
        ];
        let c = nsd_config("root", &addrs(), &zones);
        for want in [
            "ip-address: 192.0.2.1\n",
            "ip-address: 2001:db8::1\n",
            "port: 53\n",
            "server-count: 1\n",
            "database: \"\"\n",
            "username: \"\"\n",
            "chroot: \"\"\n",
            "zonelistfile: \"@RUN_DIR@/nsd-root.zonelist\"",
            "xfrdir: \"@RUN_DIR@\"",
            "pidfile: \"@RUN_DIR@/nsd-root.pid\"",
            "control-enable: no",
            "rrl-ratelimit: 0",
            "name: \".\"\n    zonefile: \"@TESTBED_DIR@/zones/root.signed\"",
            "name: \"nl.\"\n    zonefile: \"@TESTBED_DIR@/zones/nl.zone\"",
        ] {
            assert!(c.contains(want), "missing {want:?} in\n{c}");
        }
        assert_eq!(nsd_zones(&c), vec![".", "nl."]);
    }

    #[test]
    fn unbound_template_has_the_required_options() {
        let c = unbound_config(&addrs(), "servers/root.hints", "servers/root.ds");
        for want in [
            "interface: 192.0.2.1\n",
            "interface: 2001:db8::1\n",
            "outgoing-interface: 192.0.2.1\n",
            "outgoing-interface: 2001:db8::1\n",
            "port: 53\n",
            "username: \"\"\n",
            "directory: \"@RUN_DIR@\"",
            "root-hints: \"@TESTBED_DIR@/servers/root.hints\"",
            "trust-anchor-file: \"@TESTBED_DIR@/servers/root.ds\"",
            "module-config: \"validator iterator\"",
            "do-not-query-localhost: no",
            "so-rcvbuf: 8m\n",
            "trust-anchor-signaling: no",
            "ede: yes",
            "val-log-level: 2",
            "so-reuseport: yes",
            "control-enable: no",
        ] {
            assert!(c.contains(want), "missing {want:?} in\n{c}");
        }
        assert!(!c.contains("private-address"));
    }

    #[test]
    fn zone_names_are_absolute() {
        assert_eq!(zone_name("."), ".");
        assert_eq!(zone_name(""), ".");
        assert_eq!(zone_name("nl"), "nl.");
        assert_eq!(zone_name("co.uk."), "co.uk.");
    }

    /// The rendered configs pass the daemons' own checkers (skipped where they are missing).
    #[test]
    fn rendered_configs_pass_the_checkers() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("zones")).unwrap();
        std::fs::create_dir_all(dir.path().join("run")).unwrap();
        std::fs::write(
            dir.path().join("zones/root.zone"),
            ". 3600 IN SOA a. b. 1 2 3 4 5\n",
        )
        .unwrap();
        std::fs::write(
            dir.path().join("root.hints"),
            ". 3600 IN NS a.\na. 3600 IN A 192.0.2.1\n",
        )
        .unwrap();
        std::fs::write(
            dir.path().join("root.ds"),
            ". IN DS 28928 13 2 9e75a3bd63f5d8d3bac86896ccdb4420b5734062783586baa75f4fe957d0ea82\n",
        )
        .unwrap();
        let nsd = render(
            &nsd_config("root", &addrs(), &[(".".into(), "zones/root.zone".into())]),
            dir.path(),
        );
        let unbound = render(
            &unbound_config(&addrs()[..1], "root.hints", "root.ds"),
            dir.path(),
        );
        std::fs::write(dir.path().join("nsd.conf"), nsd).unwrap();
        std::fs::write(dir.path().join("unbound.conf"), unbound).unwrap();
        for (checker, conf) in [
            ("nsd-checkconf", "nsd.conf"),
            ("unbound-checkconf", "unbound.conf"),
        ] {
            match Command::new(checker).arg(dir.path().join(conf)).output() {
                Ok(out) => assert!(
                    out.status.success(),
                    "{checker} rejected {conf}: {}{}",
                    String::from_utf8_lossy(&out.stdout),
                    String::from_utf8_lossy(&out.stderr)
                ),
                Err(e) => eprintln!("skipping {checker}: {e}"),
            }
        }
    }
}
