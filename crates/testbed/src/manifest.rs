//! `DIR/testbed.json`: what a generated testbed contains and how to run it.
//!
//! The generator writes it last (so a half-written directory is not a testbed); the runner
//! reads it to know which addresses to bring up and which servers to start. Server config
//! files are templates: the runner replaces [`DIR_PLACEHOLDER`] with the testbed directory
//! and [`RUN_PLACEHOLDER`] with the per-run state directory, so several runs of one testbed
//! can happen at once and the directory can be moved.

use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// Replaced by the absolute testbed directory in config templates.
pub const DIR_PLACEHOLDER: &str = "@TESTBED_DIR@";
/// Replaced by the per-run state directory (pid files, logs, sockets) in config templates.
pub const RUN_PLACEHOLDER: &str = "@RUN_DIR@";
/// File name of the manifest inside a testbed directory.
pub const MANIFEST_FILE: &str = "testbed.json";
/// Manifest format version this build reads and writes.
pub const FORMAT: u32 = 2;

/// Which daemon a server entry runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ServerKind {
    /// NSD, authoritative: `nsd -d -c CONFIG`.
    Nsd,
    /// Unbound, the validating resolver: `unbound -d -c CONFIG`.
    Unbound,
    /// nginx (nginx-light), the web hosts: `nginx -c CONFIG` (the config says `daemon off`).
    Nginx,
    /// Postfix, the mail hosts: `postfix -c DIR start-fg` (CONFIG is a directory with
    /// main.cf and master.cf).
    Postfix,
    /// The hybrid ML-KEM TLS servers (HTTPS and SMTP STARTTLS): `uptake testbed serve-tls
    /// CONFIG`, run by the uptake executable itself (see [`crate::serve`]).
    ServeTls,
}

impl ServerKind {
    /// The Debian package that provides the daemon.
    pub const fn package(self) -> &'static str {
        match self {
            ServerKind::Nsd => "nsd",
            ServerKind::Unbound => "unbound",
            ServerKind::Nginx => "nginx-light",
            ServerKind::Postfix => "postfix",
            ServerKind::ServeTls => "uptake",
        }
    }

    /// The program the runner starts.
    pub const fn program(self) -> &'static str {
        match self {
            ServerKind::Nsd => "nsd",
            ServerKind::Unbound => "unbound",
            ServerKind::Nginx => "nginx",
            ServerKind::Postfix => "postfix",
            ServerKind::ServeTls => "uptake",
        }
    }

    /// Whether it serves DNS (the runner then waits for DNS answers, else for TCP).
    pub const fn is_dns(self) -> bool {
        matches!(self, ServerKind::Nsd | ServerKind::Unbound)
    }
}

/// One server process of the testbed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Server {
    /// Short unique name, e.g. `root`, `tld`, `dnsprov-3`, `resolver`; names its log file.
    pub name: String,
    /// The daemon.
    pub kind: ServerKind,
    /// Config template, relative to the testbed directory.
    pub config: PathBuf,
    /// Addresses it listens on (DNS servers: port 53, UDP and TCP; the runner waits until
    /// each answers).
    pub addresses: Vec<IpAddr>,
    /// TCP endpoints the runner waits for (accepting a connection) before COMMAND starts:
    /// nginx's and Postfix's listeners. Empty for DNS servers.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tcp: Vec<SocketAddr>,
}

/// The manifest of a generated testbed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    /// Always [`FORMAT`].
    pub format: u32,
    /// Seed the generator ran with.
    pub seed: u64,
    /// Number of target domains.
    pub domains: u64,
    /// Every address to configure on the namespace's loopback (servers' and others').
    pub addresses: Vec<IpAddr>,
    /// Prefixes routed to loopback as a whole (`ip route add local PREFIX dev lo`).
    pub local_routes: Vec<String>,
    /// Servers, started in order (authoritatives before the resolver).
    pub servers: Vec<Server>,
    /// `ip:port` of the validating resolver, exported as `UPTAKE_RESOLVER`.
    pub resolver: String,
    /// The testbed CA certificate (PEM), relative to the directory; exported as
    /// `UPTAKE_TESTBED_CA`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca: Option<PathBuf>,
    /// The routing tables, relative to the directory; exported as `UPTAKE_TESTBED_VRPS`,
    /// `UPTAKE_TESTBED_PREFIX_ORIGINS`, `UPTAKE_TESTBED_IP_ASN`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub routing: Option<RoutingFiles>,
}

/// The routing tables of a testbed (paths relative to its directory).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoutingFiles {
    /// VRPs, rpki-client CSV (`uptake scan --vrps`).
    pub vrps: PathBuf,
    /// CAIDA prefix2as (`--prefix-origins`).
    pub prefix_origins: PathBuf,
    /// iptoasn.com TSV (`--ip-asn`).
    pub ip_asn: PathBuf,
}

impl RoutingFiles {
    /// The files of `world`, relative to the testbed directory `dir`.
    pub fn relative_to(dir: &Path, world: &uptake_routing::synthetic::World) -> RoutingFiles {
        let rel = |p: &Path| p.strip_prefix(dir).unwrap_or(p).to_path_buf();
        RoutingFiles {
            vrps: rel(&world.vrps),
            prefix_origins: rel(&world.prefix2as),
            ip_asn: rel(&world.ip2asn),
        }
    }
}

/// Errors reading a manifest.
#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    /// The directory holds no manifest.
    #[error(
        "{0} is not a testbed (no {MANIFEST_FILE}; create one with `uptake testbed generate`)"
    )]
    NotATestbed(PathBuf),
    /// The manifest cannot be read or parsed.
    #[error("cannot read {path}: {reason}")]
    Unreadable {
        /// The manifest path.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// Written by another format version.
    #[error(
        "{path} has format {found}, this uptake reads format {FORMAT}; regenerate the testbed"
    )]
    WrongFormat {
        /// The manifest path.
        path: PathBuf,
        /// Its format number.
        found: u32,
    },
}

impl Manifest {
    /// Reads and checks `DIR/testbed.json`.
    pub fn load(dir: &Path) -> Result<Manifest, ManifestError> {
        let path = dir.join(MANIFEST_FILE);
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(ManifestError::NotATestbed(dir.to_path_buf()))
            }
            Err(e) => {
                return Err(ManifestError::Unreadable {
                    path,
                    reason: e.to_string(),
                })
            }
        };
        let manifest: Manifest =
            serde_json::from_str(&text).map_err(|e| ManifestError::Unreadable {
                path: path.clone(),
                reason: e.to_string(),
            })?;
        if manifest.format != FORMAT {
            return Err(ManifestError::WrongFormat {
                path,
                found: manifest.format,
            });
        }
        Ok(manifest)
    }

    /// Writes `DIR/testbed.json`.
    pub fn save(&self, dir: &Path) -> std::io::Result<()> {
        let text = serde_json::to_string_pretty(self).map_err(std::io::Error::other)?;
        std::fs::write(dir.join(MANIFEST_FILE), text + "\n")
    }
}
