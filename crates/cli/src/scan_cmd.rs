//! `uptake scan`, `uptake check` and `uptake schema`.

use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{bail, Context};
use clap::Args;
use uptake_model::row::ScanRow;
use uptake_model::{Check, Status};
use uptake_scan::{ScanOptions, Shard, StopSignal};

/// DNS and address options shared by `scan` and `check`.
#[derive(Args, Debug, Clone, Default)]
pub struct DnsArgs {
    /// Validating resolver(s), `ip`, `ip:port` or `[ipv6]:port`, comma-separated.
    /// Default: $UPTAKE_RESOLVER, else the nameservers of /etc/resolv.conf. The resolvers are
    /// always allowed, whatever address range they are in.
    #[arg(long, value_delimiter = ',', env = "UPTAKE_RESOLVER")]
    resolver: Vec<String>,
    /// Seconds to wait for a DNS answer before retrying (doubles on each retry) [default: 2].
    #[arg(long, value_name = "SECONDS")]
    dns_timeout: Option<f64>,
    /// Attempts per DNS query (retries go to the next resolver) [default: 3].
    #[arg(long, value_name = "N")]
    dns_attempts: Option<u32>,
    /// Special-purpose address ranges (RFC 6890: loopback, private, link-local,
    /// documentation, benchmarking, ...) the scan may connect to anyway, `CIDR,...`. By
    /// default no connection goes to them even when a domain's DNS points there. The private
    /// internet (`uptake testbed run`) sets $UPTAKE_ALLOW_ADDRESSES to its own ranges.
    #[arg(
        long,
        value_delimiter = ',',
        env = "UPTAKE_ALLOW_ADDRESSES",
        value_name = "CIDR"
    )]
    allow_addresses: Vec<String>,
    /// An address on the IPv6 Internet whose route tells whether this host can reach IPv6 at
    /// all (looked up, never contacted). Without a route every IPv6 reachability check
    /// (ns_ipv6, web_ipv6, mx_ipv6) is an `error`, not "unreachable". The private internet
    /// sets $UPTAKE_IPV6_PROBE to one of its own addresses [default: [2001:500:2f::f]:53,
    /// f.root-servers.net].
    #[arg(long, env = "UPTAKE_IPV6_PROBE", value_name = "ADDR")]
    ipv6_probe: Option<String>,
}

/// Routing tables for `rpki` and the hosting columns, shared by `scan` and `check`. Given
/// together; without them `rpki_status`, `rpki_addresses` and the `hosting_*` columns stay
/// null. See datasets/README.md for where to get them.
#[derive(Args, Debug, Clone, Default)]
pub struct RoutingArgs {
    /// Validated ROA payloads: rpki-client or Routinator output, CSV (`ASN,IP Prefix,Max
    /// Length,Trust Anchor`) or JSON (`{"roas": [...]}`), plain or gzip.
    #[arg(long, value_name = "FILE", env = "UPTAKE_VRPS")]
    vrps: Option<PathBuf>,
    /// Prefix-to-origin table: CAIDA RouteViews prefix2as (`prefix<TAB>length<TAB>AS`),
    /// plain or gzip.
    #[arg(long, value_name = "FILE", env = "UPTAKE_PREFIX_ORIGINS")]
    prefix_origins: Option<PathBuf>,
    /// IP-to-ASN/country table: an iptoasn.com TSV (`ip2asn-combined.tsv[.gz]`), or a
    /// MaxMind-format ASN database (a name ending in `.mmdb` or `.mmdb.gz`).
    #[arg(long, value_name = "FILE", env = "UPTAKE_IP_ASN")]
    ip_asn: Option<PathBuf>,
    /// MaxMind-format country database for the hosting country, with an `.mmdb` --ip-asn
    /// (an iptoasn TSV carries the country itself).
    #[arg(long, value_name = "FILE")]
    ip_country: Option<PathBuf>,
}

impl RoutingArgs {
    /// Loads the tables when given (all of --vrps, --prefix-origins and --ip-asn, or none);
    /// a missing or malformed file fails here, before any domain is scanned.
    fn load(&self) -> anyhow::Result<Option<std::sync::Arc<uptake_routing::RoutingTables>>> {
        // A file that is not there is named first, whichever other flags are missing.
        for (flag, path) in [
            ("--vrps", &self.vrps),
            ("--prefix-origins", &self.prefix_origins),
            ("--ip-asn", &self.ip_asn),
            ("--ip-country", &self.ip_country),
        ] {
            if let Some(path) = path {
                std::fs::metadata(path).with_context(|| format!("{flag} {}", path.display()))?;
            }
        }
        let (vrps, routes, hosting) = match (&self.vrps, &self.prefix_origins, &self.ip_asn) {
            (None, None, None) => {
                if self.ip_country.is_some() {
                    bail!("--ip-country needs --vrps, --prefix-origins and --ip-asn");
                }
                return Ok(None);
            }
            (Some(v), Some(r), Some(h)) => (v, r, h),
            _ => bail!(
                "--vrps, --prefix-origins and --ip-asn go together (rpki needs the VRPs and the routes, the hosting columns the IP-to-ASN table): give all three or none"
            ),
        };
        let name = hosting.to_string_lossy().to_ascii_lowercase();
        let source = if name.ends_with(".mmdb") || name.ends_with(".mmdb.gz") {
            uptake_routing::HostingSource::Mmdb {
                asn: hosting.clone(),
                country: self.ip_country.clone(),
            }
        } else {
            if self.ip_country.is_some() {
                bail!("--ip-country goes with a MaxMind (.mmdb) --ip-asn; an iptoasn TSV has the country already");
            }
            uptake_routing::HostingSource::Iptoasn(hosting.clone())
        };
        let started = std::time::Instant::now();
        let tables = uptake_routing::RoutingTables::load(vrps, routes, &source)
            .context("cannot load the routing tables")?;
        tracing::info!(
            seconds = started.elapsed().as_secs_f64(),
            "routing tables loaded"
        );
        Ok(Some(std::sync::Arc::new(tables)))
    }
}

/// Which checks run.
#[derive(clap::ValueEnum, serde::Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum CheckGroup {
    /// The DNS checks only (always run: the others need their answers).
    Dns,
    /// The web checks: web_ipv6, https, https_redirect, tls_version, tls_cipher,
    /// certificate, hsts, security_txt, security_headers.
    Web,
    /// The mail checks: starttls, dane, mta_sts, mx_ipv6.
    Mail,
    /// Everything.
    All,
}

/// Connection options shared by `scan` and `check`.
#[derive(Args, Debug, Clone)]
pub struct ConnectArgs {
    /// Checks to run, comma-separated: dns, web, mail or all. The DNS checks always run
    /// [default: all].
    #[arg(long, value_delimiter = ',')]
    checks: Vec<CheckGroup>,
    /// Trust anchors for the certificate checks (PEM file). Default: the system's roots
    /// (rustls-native-certs: /etc/ssl/certs, or SSL_CERT_FILE / SSL_CERT_DIR).
    #[arg(long)]
    ca_file: Option<PathBuf>,
    /// Name sent in SMTP EHLO: identify the scanner with a name whose web site says what the
    /// scan is and how to opt out [default: uptake-scanner.invalid].
    #[arg(long)]
    ehlo_name: Option<String>,
    /// Seconds each connection step may take (TCP connect, TLS handshake, HTTP head, SMTP
    /// reply) [default: 5].
    #[arg(long, value_name = "SECONDS")]
    probe_timeout: Option<f64>,
    /// Seconds all connections to one web or mail host may take together [default: 30].
    /// Time spent waiting for the per-address and scan-wide connection limits does not count:
    /// a domain on a busy shared address waits its turn instead of becoming an error.
    #[arg(long, value_name = "SECONDS")]
    host_deadline: Option<f64>,
}

impl ConnectArgs {
    fn options(&self) -> anyhow::Result<Option<uptake_scan::ConnectOptions>> {
        let all = self.checks.is_empty() || self.checks.contains(&CheckGroup::All);
        let has = |g| all || self.checks.contains(&g);
        let checks = uptake_scan::connect::ConnectedChecks {
            web: has(CheckGroup::Web),
            mail: has(CheckGroup::Mail),
        };
        if !(checks.web || checks.mail) {
            return Ok(None);
        }
        Ok(Some(uptake_scan::ConnectOptions {
            checks,
            ca_file: self.ca_file.clone(),
            probe: uptake_probes::ProbeConfig {
                step_timeout: seconds("probe-timeout", self.probe_timeout.unwrap_or(5.0))?
                    .max(Duration::from_millis(50)),
                host_deadline: seconds("host-deadline", self.host_deadline.unwrap_or(30.0))?
                    .max(Duration::from_millis(100)),
                ..Default::default()
            },
        }))
    }

    /// The EHLO name of the scan's identity.
    fn ehlo_name(&self) -> String {
        self.ehlo_name
            .clone()
            .unwrap_or_else(|| uptake_policy::Identity::default().ehlo_name)
    }
}

/// `uptake scan` arguments. Every option can also be set in a TOML file given with
/// `--config` (keys are the option names without `--`); the command line wins.
#[derive(Args, Debug)]
pub struct ScanArgs {
    /// Target list: CSV with a header (a `domain` or `Domain name` column; country, sector,
    /// organisation and other columns are carried into the output), a JSON array of objects
    /// (`domain` or a `domains` list; `alpha_two_code` or `country` as the country), Parquet,
    /// or one name per line; any of them gzip-compressed. Read as a stream.
    #[arg(long)]
    targets: Option<PathBuf>,
    /// Dataset directory; the scan writes DATASET/scan=<id>/part-<K>of<N>-<seq>.parquet.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Scan id (the partition name). Default: the UTC start time, e.g. 20261128T101500Z.
    /// Shards of one scan and a resumed scan need the same id.
    #[arg(long)]
    scan_id: Option<String>,
    /// TOML file with any of these options, e.g. `dns-rate = 500` or
    /// `allow-addresses = ["192.0.2.0/24"]`; options on the command line win.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Input column with the domain (default: domain, domains, "domain name").
    #[arg(long, value_name = "NAME")]
    domain_column: Option<String>,
    /// Input column with the country (default: country_code, alpha_two_code, country).
    #[arg(long, value_name = "NAME")]
    country_column: Option<String>,
    /// Input column with the sector (default: sector).
    #[arg(long, value_name = "NAME")]
    sector_column: Option<String>,
    /// Input column with the organisation (default: organisation, organization,
    /// "organization name", name).
    #[arg(long, value_name = "NAME")]
    organisation_column: Option<String>,
    /// Country (ISO 3166 alpha-2) of the targets whose list gives none.
    #[arg(long, value_name = "CC")]
    default_country: Option<String>,
    /// Sector of the targets whose list gives none (an ISIC Rev.4 section letter or a label).
    #[arg(long, value_name = "SECTOR")]
    default_sector: Option<String>,
    /// Scan only shard K of N: the targets whose registrable domain hashes (FNV-1a 64) to K
    /// modulo N. N processes with K = 0..N-1 and the same --scan-id and --out together scan
    /// every target exactly once (see docs/scaling.md).
    #[arg(long, value_name = "K/N")]
    shard: Option<String>,
    /// Continue a scan that stopped (crash, kill, Ctrl-C, full disk): targets already in
    /// committed parts of this shard are skipped. Without it, a scan id that already has rows
    /// is refused.
    #[arg(long)]
    resume: bool,
    /// Domains measured at the same time [default: 500].
    #[arg(long, value_name = "N")]
    concurrency: Option<usize>,
    /// Global cap on DNS messages per second (retries included) [default: no cap].
    #[arg(long, value_name = "QPS")]
    dns_rate: Option<u32>,
    /// DNS queries in flight at once per resolver (and per name server asked directly)
    /// [default: 500].
    #[arg(long, value_name = "N")]
    dns_in_flight: Option<usize>,
    /// Total seconds for one domain; lookups still unanswered then become `error` with the
    /// reason [default: 60; 0 = no limit].
    #[arg(long, value_name = "SECONDS")]
    domain_timeout: Option<f64>,
    /// Opt-out list: one domain (also covers its subdomains) or address prefix per line, `#`
    /// comments. Opted-out domains are never queried; they are listed in
    /// opted-out.csv in the scan directory instead of getting a row. Opted-out prefixes are
    /// never connected to.
    #[arg(long, value_name = "FILE")]
    opt_out: Option<PathBuf>,
    /// HTTP User-Agent of the web probes [default: uptake/VERSION (+contact URL)].
    #[arg(long)]
    user_agent: Option<String>,
    /// New connections per second to one address (web and mail probes) [default: 5].
    #[arg(long, value_name = "RATE")]
    connection_rate: Option<f64>,
    /// Connections open at once to one address (web and mail probes) [default: 4].
    #[arg(long, value_name = "N")]
    connections_per_address: Option<usize>,
    /// Connections open at once in the whole scan (web and mail probes): more handshakes
    /// outstanding than the hosts answer within --probe-timeout would time out while they
    /// wait in the hosts' accept queues [default: 256].
    #[arg(long, value_name = "N")]
    max_connections: Option<usize>,
    /// Commit a Parquet part after this many rows [default: 100000].
    #[arg(long, value_name = "ROWS")]
    part_rows: Option<usize>,
    /// Commit a Parquet part at least every this many seconds while rows arrive; a crash
    /// loses at most this much work [default: 30].
    #[arg(long, value_name = "SECONDS")]
    commit_interval: Option<f64>,
    /// Write a JSON summary here: counts by status, error kinds, DNS counters, the probes'
    /// counters, durations, retries, and CPU time by stage in total (`cpu_ms`) and per domain
    /// (`cpu_us_per_domain`): `targets` (reading the list), `evaluators`, `tls` (the web and
    /// mail probes' TLS client work: handshakes, TLS records, raw ClientHellos, certificate
    /// evaluation), `parquet` (writing), `dns_and_engine` (the rest: DNS client, engine,
    /// TCP, HTTP and SMTP), `total` (the process).
    #[arg(long, value_name = "FILE")]
    stats: Option<PathBuf>,
    /// No progress bar (log lines every 10 s instead).
    #[arg(long)]
    quiet: bool,
    #[command(flatten)]
    dns: DnsArgs,
    #[command(flatten)]
    connect: ConnectArgs,
    #[command(flatten)]
    routing: RoutingArgs,
}

/// The `--config` file: the options of `uptake scan`, by their long names.
#[derive(serde::Deserialize, Debug, Default)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
struct ScanConfig {
    targets: Option<PathBuf>,
    out: Option<PathBuf>,
    scan_id: Option<String>,
    domain_column: Option<String>,
    country_column: Option<String>,
    sector_column: Option<String>,
    organisation_column: Option<String>,
    default_country: Option<String>,
    default_sector: Option<String>,
    shard: Option<String>,
    resume: Option<bool>,
    concurrency: Option<usize>,
    dns_rate: Option<u32>,
    dns_in_flight: Option<usize>,
    domain_timeout: Option<f64>,
    opt_out: Option<PathBuf>,
    user_agent: Option<String>,
    connection_rate: Option<f64>,
    connections_per_address: Option<usize>,
    max_connections: Option<usize>,
    part_rows: Option<usize>,
    commit_interval: Option<f64>,
    stats: Option<PathBuf>,
    quiet: Option<bool>,
    resolver: Option<Vec<String>>,
    dns_timeout: Option<f64>,
    dns_attempts: Option<u32>,
    allow_addresses: Option<Vec<String>>,
    ipv6_probe: Option<String>,
    checks: Option<Vec<CheckGroup>>,
    ca_file: Option<PathBuf>,
    ehlo_name: Option<String>,
    probe_timeout: Option<f64>,
    host_deadline: Option<f64>,
    vrps: Option<PathBuf>,
    prefix_origins: Option<PathBuf>,
    ip_asn: Option<PathBuf>,
    ip_country: Option<PathBuf>,
}

impl ScanArgs {
    /// Fills every option not given on the command line from the config file; paths in the
    /// file are relative to the file.
    fn merge_config(mut self) -> anyhow::Result<ScanArgs> {
        let Some(path) = self.config.clone() else {
            return Ok(self);
        };
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("cannot read --config {}", path.display()))?;
        let c: ScanConfig =
            toml::from_str(&text).with_context(|| format!("--config {}", path.display()))?;
        let base = path.parent().unwrap_or(Path::new("."));
        let rel = |p: Option<PathBuf>| p.map(|p| base.join(p));
        fn or<T>(a: &mut Option<T>, b: Option<T>) {
            if a.is_none() {
                *a = b;
            }
        }
        or(&mut self.targets, rel(c.targets));
        or(&mut self.out, rel(c.out));
        or(&mut self.scan_id, c.scan_id);
        or(&mut self.domain_column, c.domain_column);
        or(&mut self.country_column, c.country_column);
        or(&mut self.sector_column, c.sector_column);
        or(&mut self.organisation_column, c.organisation_column);
        or(&mut self.default_country, c.default_country);
        or(&mut self.default_sector, c.default_sector);
        or(&mut self.shard, c.shard);
        self.resume |= c.resume.unwrap_or(false);
        or(&mut self.concurrency, c.concurrency);
        or(&mut self.dns_rate, c.dns_rate);
        or(&mut self.dns_in_flight, c.dns_in_flight);
        or(&mut self.domain_timeout, c.domain_timeout);
        or(&mut self.opt_out, rel(c.opt_out));
        or(&mut self.user_agent, c.user_agent);
        or(&mut self.connection_rate, c.connection_rate);
        or(&mut self.connections_per_address, c.connections_per_address);
        or(&mut self.max_connections, c.max_connections);
        or(&mut self.part_rows, c.part_rows);
        or(&mut self.commit_interval, c.commit_interval);
        or(&mut self.stats, rel(c.stats));
        self.quiet |= c.quiet.unwrap_or(false);
        if self.dns.resolver.iter().all(|r| r.trim().is_empty()) {
            self.dns.resolver = c.resolver.unwrap_or_default();
        }
        or(&mut self.dns.dns_timeout, c.dns_timeout);
        or(&mut self.dns.dns_attempts, c.dns_attempts);
        if self.dns.allow_addresses.iter().all(|r| r.trim().is_empty()) {
            self.dns.allow_addresses = c.allow_addresses.unwrap_or_default();
        }
        or(&mut self.dns.ipv6_probe, c.ipv6_probe);
        if self.connect.checks.is_empty() {
            self.connect.checks = c.checks.unwrap_or_default();
        }
        or(&mut self.connect.ca_file, rel(c.ca_file));
        or(&mut self.connect.ehlo_name, c.ehlo_name);
        or(&mut self.connect.probe_timeout, c.probe_timeout);
        or(&mut self.connect.host_deadline, c.host_deadline);
        or(&mut self.routing.vrps, rel(c.vrps));
        or(&mut self.routing.prefix_origins, rel(c.prefix_origins));
        or(&mut self.routing.ip_asn, rel(c.ip_asn));
        or(&mut self.routing.ip_country, rel(c.ip_country));
        Ok(self)
    }
}

/// `uptake check` arguments.
#[derive(Args, Debug)]
pub struct CheckArgs {
    /// The domain to measure.
    domain: String,
    /// Print JSON instead of a table.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    dns: DnsArgs,
    #[command(flatten)]
    connect: ConnectArgs,
    #[command(flatten)]
    routing: RoutingArgs,
}

fn parse_resolver(s: &str) -> anyhow::Result<SocketAddr> {
    let s = s.trim();
    if let Ok(sa) = s.parse::<SocketAddr>() {
        return Ok(sa);
    }
    if let Ok(ip) = s
        .trim_start_matches('[')
        .trim_end_matches(']')
        .parse::<IpAddr>()
    {
        return Ok(SocketAddr::new(ip, 53));
    }
    bail!("'{s}' is not a resolver address (expected ip, ip:port or [ipv6]:port)")
}

fn resolvers(args: &DnsArgs) -> anyhow::Result<Vec<SocketAddr>> {
    let given: Vec<&String> = args
        .resolver
        .iter()
        .filter(|s| !s.trim().is_empty())
        .collect();
    if !given.is_empty() {
        return given.into_iter().map(|s| parse_resolver(s)).collect();
    }
    let conf = std::fs::read_to_string("/etc/resolv.conf").unwrap_or_default();
    let found: Vec<SocketAddr> = conf
        .lines()
        .filter_map(|l| l.trim().strip_prefix("nameserver"))
        .filter_map(|a| a.trim().parse::<IpAddr>().ok())
        .map(|ip| SocketAddr::new(ip, 53))
        .collect();
    if found.is_empty() {
        bail!(
            "no resolver: pass --resolver ADDR, set UPTAKE_RESOLVER, or configure /etc/resolv.conf"
        );
    }
    Ok(found)
}

fn default_scan_id() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    let (y, m, d, hh, mm, ss) = uptake_model::time::utc_fields(secs);
    format!("{y:04}{m:02}{d:02}T{hh:02}{mm:02}{ss:02}Z")
}

fn validate_scan_id(id: &str) -> anyhow::Result<()> {
    if id.is_empty()
        || id.len() > 100
        || !id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
        || id.starts_with('.')
    {
        bail!("--scan-id '{id}' must be 1-100 letters, digits, '-', '_' or '.' (it names a directory)");
    }
    Ok(())
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}

fn seconds(name: &str, v: f64) -> anyhow::Result<Duration> {
    if !v.is_finite() || v < 0.0 {
        bail!("--{name} must be a number of seconds >= 0, not {v}");
    }
    Ok(Duration::from_secs_f64(v))
}

/// The scan options shared by `scan` and `check`: resolvers and the address policy.
fn base_options(dns: &DnsArgs, scan_id: &str) -> anyhow::Result<ScanOptions> {
    let resolvers = resolvers(dns)?;
    let mut opts = ScanOptions::new(PathBuf::new(), PathBuf::new(), resolvers, scan_id);
    opts.timeout =
        seconds("dns-timeout", dns.dns_timeout.unwrap_or(2.0))?.max(Duration::from_millis(50));
    opts.attempts = dns.dns_attempts.unwrap_or(3).max(1);
    let allowed = uptake_policy::parse_prefixes(&dns.allow_addresses.join(","))
        .map_err(|e| anyhow::anyhow!("--allow-addresses: {e}"))?;
    let always: Vec<IpAddr> = opts.resolvers.iter().map(SocketAddr::ip).collect();
    let mut guard = uptake_policy::AddressGuard::new(&allowed, &always);
    let probe = dns.ipv6_probe.as_deref().unwrap_or("[2001:500:2f::f]:53");
    let probe = parse_resolver(probe).map_err(|e| anyhow::anyhow!("--ipv6-probe: {e}"))?;
    if let Err(why) = uptake_policy::ipv6_route(probe) {
        eprintln!("warning: {why}: IPv6 reachability (ns_ipv6, web_ipv6, mx_ipv6) will be `error`");
        guard.without_ipv6(why);
    }
    opts.policy = uptake_policy::Policy::new(
        guard,
        uptake_policy::OptOut::default(),
        uptake_policy::LimiterConfig::default(),
        uptake_policy::Identity::default(),
    );
    Ok(opts)
}

/// Ctrl-C or SIGTERM once: stop and commit; twice: abort at once (exit 130).
fn watch_signals(rt: &tokio::runtime::Runtime, stop: StopSignal) {
    rt.spawn(async move {
        use tokio::signal::unix::{signal, SignalKind};
        let (Ok(mut int), Ok(mut term)) = (
            signal(SignalKind::interrupt()),
            signal(SignalKind::terminate()),
        ) else {
            return;
        };
        let mut seen = 0;
        loop {
            tokio::select! {
                _ = int.recv() => {}
                _ = term.recv() => {}
            }
            seen += 1;
            if seen == 1 {
                eprintln!("\nuptake: stopping: committing the domains done so far (Ctrl-C again aborts without committing)");
                stop.stop();
            } else {
                eprintln!("\nuptake: aborted; the parts committed before are intact (--resume continues)");
                std::process::exit(130);
            }
        }
    });
}

/// Runs `uptake scan`.
pub fn scan(args: ScanArgs) -> anyhow::Result<ExitCode> {
    let args = args.merge_config()?;
    let Some(targets) = args.targets.clone() else {
        bail!("--targets FILE is required (on the command line or in --config)");
    };
    let Some(out) = args.out.clone() else {
        bail!("--out DATASET is required (on the command line or in --config)");
    };
    let scan_id = args.scan_id.clone().unwrap_or_else(default_scan_id);
    validate_scan_id(&scan_id)?;
    let concurrency = args.concurrency.unwrap_or(500);
    if concurrency == 0 {
        bail!("--concurrency must be at least 1");
    }
    if args.dns_rate == Some(0) {
        bail!("--dns-rate must be at least 1 query per second");
    }
    let mut opts = base_options(&args.dns, &scan_id)?;
    opts.targets = targets;
    opts.out = out;
    opts.columns = uptake_scan::targets::Columns {
        domain: args.domain_column.clone(),
        country: args.country_column.clone(),
        sector: args.sector_column.clone(),
        organisation: args.organisation_column.clone(),
        default_country: args.default_country.clone(),
        default_sector: args.default_sector.clone(),
    };
    opts.connect = args.connect.options()?;
    opts.concurrency = concurrency;
    opts.dns_rate = args.dns_rate;
    opts.dns_in_flight = args.dns_in_flight.unwrap_or(500).clamp(1, 32_768);
    opts.domain_timeout = match seconds("domain-timeout", args.domain_timeout.unwrap_or(60.0))? {
        d if d.is_zero() => None,
        d => Some(d),
    };
    opts.shard = match &args.shard {
        Some(s) => s
            .parse::<Shard>()
            .map_err(|e| anyhow::anyhow!("--shard: {e}"))?,
        None => Shard::default(),
    };
    opts.resume = args.resume;
    opts.part_rows = args.part_rows.unwrap_or(100_000).max(1);
    opts.commit_interval = seconds("commit-interval", args.commit_interval.unwrap_or(30.0))?
        .max(Duration::from_millis(100));
    opts.progress = !args.quiet;
    let opt_out = match &args.opt_out {
        Some(p) => uptake_policy::OptOut::load(p, uptake_scan::targets::normalise)?,
        None => uptake_policy::OptOut::default(),
    };
    let mut identity = uptake_policy::Identity::default();
    if let Some(ua) = &args.user_agent {
        identity.user_agent = ua.clone();
    }
    identity.ehlo_name = args.connect.ehlo_name();
    let limits = uptake_policy::LimiterConfig {
        per_address_rate: args.connection_rate.unwrap_or(5.0),
        per_address_concurrency: args.connections_per_address.unwrap_or(4).max(1),
        total_concurrency: args.max_connections.unwrap_or(256).max(1),
    };
    if !(limits.per_address_rate.is_finite() && limits.per_address_rate > 0.0) {
        bail!("--connection-rate must be a positive number of connections per second");
    }
    opts.policy =
        uptake_policy::Policy::new((*opts.policy.guard).clone(), opt_out, limits, identity);
    opts.routing = args.routing.load()?;

    let rt = runtime()?;
    let stop = StopSignal::new();
    watch_signals(&rt, stop.clone());
    let summary = rt.block_on(uptake_scan::scan(&opts, stop))?;
    let secs = summary.elapsed.as_secs_f64().max(1e-9);
    eprintln!(
        "scan {}{}: {} domains in {:.1}s ({:.0} domains/s, {} DNS queries, {:.0} queries/s); {} rejected, {} duplicates",
        opts.scan_id,
        if opts.shard.count > 1 { format!(" shard {}", opts.shard) } else { String::new() },
        summary.domains,
        secs,
        summary.domains as f64 / secs,
        summary.dns_queries,
        summary.dns_queries as f64 / secs,
        summary.rejects,
        summary.duplicates
    );
    if summary.resumed + summary.opted_out + summary.other_shard > 0 {
        eprintln!(
            "  skipped: {} committed before (--resume), {} opted out, {} of other shards",
            summary.resumed, summary.opted_out, summary.other_shard
        );
    }
    let st = &summary.dns_stats;
    eprintln!(
        "  DNS: {} sent, {} timeouts, {} retries, {} TCP fallbacks, {} cache hits, {} mismatched responses dropped",
        st.sent, st.timeouts, st.retries, st.tcp_fallbacks, st.cache_hits, st.dropped_mismatched
    );
    if st.timeout_share() > RESOLVER_TIMEOUT_WARNING {
        eprintln!(
            "warning: {:.1}% of DNS messages timed out; {} domains have an error status. Unresponsive name servers cause some; a resolver that cannot keep up causes more (its receive buffer errors in `netstat -su` count the queries it dropped): then lower --dns-in-flight or --dns-rate, add resolvers with --resolver A,B, or give it a larger receive buffer (docs/scaling.md, \"The resolver\")",
            100.0 * st.timeout_share(),
            summary.with_errors
        );
    }
    if let Some(p) = &summary.probe_stats {
        eprintln!(
            "  probes: {} TLS handshakes ({:.0}/s), {} raw hellos, {} HTTP requests, {} SMTP sessions, {} TCP connects, {} shared results, {} requests without a new connection, {} retries after a timeout",
            p.tls_handshakes,
            p.tls_handshakes as f64 / secs,
            p.raw_hellos,
            p.http_requests,
            p.smtp_sessions,
            p.connects,
            p.shared_hits,
            p.reused_connections,
            p.retries
        );
    }
    for (check, counts) in &summary.statuses {
        let line: Vec<String> = counts.iter().map(|(s, n)| format!("{s} {n}")).collect();
        eprintln!("  {check:<16} {}", line.join(", "));
    }
    if let Some(r) = &summary.rejects_file {
        eprintln!("rejected lines: {}", r.display());
    }
    if let Some(r) = &summary.opted_out_file {
        eprintln!("opted-out targets: {}", r.display());
    }
    eprintln!(
        "dataset: {}",
        opts.out.join(format!("scan={}", opts.scan_id)).display()
    );
    if let Some(path) = &args.stats {
        let json = serde_json::to_string_pretty(&summary.to_json(&opts.scan_id))?;
        std::fs::write(path, json + "\n")
            .with_context(|| format!("cannot write --stats {}", path.display()))?;
    }
    if summary.interrupted {
        eprintln!(
            "interrupted: {} domains committed; run the same command with --resume to finish",
            summary.domains
        );
        return Ok(ExitCode::from(130));
    }
    Ok(ExitCode::SUCCESS)
}

/// The share of DNS messages timed out above which a scan warns that its resolver did not keep
/// up (docs/scaling.md, "The resolver").
const RESOLVER_TIMEOUT_WARNING: f64 = 0.01;

/// Runs `uptake check`.
pub fn check(args: CheckArgs) -> anyhow::Result<ExitCode> {
    let mut opts = base_options(&args.dns, "check")?;
    opts.connect = args.connect.options()?;
    opts.policy.identity.ehlo_name = args.connect.ehlo_name();
    opts.routing = args.routing.load()?;
    let row = runtime()?.block_on(uptake_scan::check_domain(&args.domain, &opts))?;
    if args.json {
        println!("{}", row_json(&row));
    } else {
        print!("{}", row_table(&row));
    }
    Ok(ExitCode::SUCCESS)
}

fn row_json(row: &ScanRow) -> String {
    use uptake_model::row::{Value, COLUMNS};
    let mut map = serde_json::Map::new();
    for (col, v) in COLUMNS.iter().zip(row.values()) {
        let j = match v {
            Value::Str(s) => s.map_or(serde_json::Value::Null, |s| s.into()),
            Value::Status(s) => s.map_or(serde_json::Value::Null, |s| s.as_str().into()),
            Value::Int(i) => i.map_or(serde_json::Value::Null, |i| i.into()),
            Value::Bool(b) => b.map_or(serde_json::Value::Null, |b| b.into()),
            Value::StrList(l) => l.to_vec().into(),
            Value::IntList(l) => l.to_vec().into(),
            Value::Timestamp(t) => t.into(),
        };
        map.insert(col.name.to_string(), j);
    }
    serde_json::to_string_pretty(&serde_json::Value::Object(map)).unwrap_or_default()
}

fn row_table(row: &ScanRow) -> String {
    use uptake_model::row::{Value, COLUMNS};
    let mut out = format!(
        "{}  (zone {}, {} DNS queries)\n\n",
        row.domain,
        row.zone.as_deref().unwrap_or("?"),
        row.dns_queries
    );
    out += &format!("{:<16} {:<15} evidence\n", "check", "status");
    let values: Vec<(&str, Value<'_>)> = COLUMNS.iter().map(|c| c.name).zip(row.values()).collect();
    for check in Check::ALL {
        // A check this scan did not run has no line.
        let Some(f) = row.finding(check) else {
            continue;
        };
        let prefix = format!("{}_", check.id());
        let extra = extra_evidence(check);
        let mut evidence: Vec<String> = values
            .iter()
            .filter(|(n, _)| {
                (n.starts_with(&prefix) || extra.contains(n))
                    && !n.ends_with("_status")
                    && !n.ends_with("_reason")
                    && *n != "mta_sts_record"
                    // The per-MX STARTTLS / IPv6 columns belong to starttls and mx_ipv6.
                    && (check != Check::Mx || n.starts_with("mx_hosts"))
            })
            .filter(|(n, _)| !(check == Check::Dnssec && n.starts_with("dnssec_algorithm_")))
            .filter_map(|(n, v)| {
                let text = match v {
                    Value::Str(Some(s)) => s.to_string(),
                    Value::Int(Some(i)) => i.to_string(),
                    Value::Bool(Some(b)) => b.to_string(),
                    Value::StrList(l) if !l.is_empty() => l.join(" "),
                    Value::IntList(l) if !l.is_empty() => {
                        l.iter().map(i64::to_string).collect::<Vec<_>>().join(" ")
                    }
                    _ => return None,
                };
                Some(format!("{}={text}", n.strip_prefix(&prefix).unwrap_or(n)))
            })
            .collect();
        if let Some(r) = &f.reason {
            evidence.insert(0, format!("({r})"));
        }
        let mark = if f.status == Status::Error { "!" } else { " " };
        out += &format!(
            "{:<16}{mark}{:<15} {}\n",
            check.id(),
            f.status.as_str(),
            evidence.join("  ")
        );
    }
    let web = [
        ("apex AAAA", row.web_apex_aaaa),
        ("www exists", row.web_www_exists),
        ("www AAAA", row.web_www_aaaa),
    ];
    let web: Vec<String> = web
        .iter()
        .map(|(k, v)| format!("{k}={}", v.map_or("?".to_string(), |b| b.to_string())))
        .collect();
    out += &format!("{:<16} {:<15} {}\n", "web (DNS)", "", web.join("  "));
    out
}

/// Evidence columns of a connected check whose names do not start with the check's id.
fn extra_evidence(check: Check) -> &'static [&'static str] {
    match check {
        Check::WebIpv6 => &["web_host", "web_addresses"],
        Check::Rpki => &["hosting_asn", "hosting_as_name", "hosting_country"],
        Check::Https => &[
            "web_host",
            "tls_max_version",
            "tls_cipher_suite",
            "tls_group",
            "tls_alpn",
        ],
        Check::HttpsRedirect => &["http_redirect_chain"],
        Check::TlsVersion => &["tls_max_version", "tls_legacy_versions"],
        Check::Starttls => &["mx_starttls", "mx_tls_versions", "mx_certificates"],
        _ => &[],
    }
}

/// Runs `uptake schema`.
pub fn schema(markdown: bool) -> ExitCode {
    if markdown {
        print!("{}", uptake_store::schema_markdown(&[]));
    } else {
        print!("{}", uptake_store::schema_text());
    }
    ExitCode::SUCCESS
}
