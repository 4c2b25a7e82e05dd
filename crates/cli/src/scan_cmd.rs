//! `uptake scan`, `uptake check` and `uptake schema`.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{bail, Context};
use clap::Args;
use uptake_model::row::ScanRow;
use uptake_model::{Check, Status};

/// DNS options shared by `scan` and `check`.
#[derive(Args, Debug, Clone)]
pub struct DnsArgs {
    /// Validating resolver(s), `ip`, `ip:port` or `[ipv6]:port`, comma-separated.
    /// Default: $UPTAKE_RESOLVER, else the nameservers of /etc/resolv.conf.
    #[arg(long, value_delimiter = ',', env = "UPTAKE_RESOLVER")]
    resolver: Vec<String>,
    /// Seconds to wait for a DNS answer before retrying (doubles on each retry).
    #[arg(long, default_value_t = 2.0)]
    dns_timeout: f64,
    /// Attempts per DNS query (retries go to the next resolver).
    #[arg(long, default_value_t = 3)]
    dns_attempts: u32,
}

/// Which checks run.
#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
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
    /// Checks to run, comma-separated: dns, web, mail or all. The DNS checks always run.
    #[arg(long, value_delimiter = ',', default_value = "all")]
    checks: Vec<CheckGroup>,
    /// Trust anchors for the certificate checks (PEM file). Default: the system's roots
    /// (rustls-native-certs: /etc/ssl/certs, or SSL_CERT_FILE / SSL_CERT_DIR).
    #[arg(long)]
    ca_file: Option<PathBuf>,
    /// Name sent in SMTP EHLO (identify the scanner: a name with a contact page).
    #[arg(long, default_value = "uptake-scanner.invalid")]
    ehlo_name: String,
    /// Seconds each connection step may take (connect, TLS handshake, HTTP head, SMTP reply).
    #[arg(long, default_value_t = 5.0)]
    probe_timeout: f64,
    /// Seconds all connections to one web or mail host may take together.
    #[arg(long, default_value_t = 30.0)]
    host_deadline: f64,
}

impl ConnectArgs {
    fn options(&self) -> Option<uptake_scan::ConnectOptions> {
        let has = |g| self.checks.contains(&g) || self.checks.contains(&CheckGroup::All);
        let checks = uptake_scan::connect::ConnectedChecks {
            web: has(CheckGroup::Web),
            mail: has(CheckGroup::Mail),
        };
        (checks.web || checks.mail).then(|| uptake_scan::ConnectOptions {
            checks,
            ca_file: self.ca_file.clone(),
            probe: uptake_probes::ProbeConfig {
                step_timeout: Duration::from_secs_f64(self.probe_timeout.max(0.05)),
                host_deadline: Duration::from_secs_f64(self.host_deadline.max(0.1)),
                ehlo_name: self.ehlo_name.clone(),
                ..Default::default()
            },
        })
    }
}

/// `uptake scan` arguments.
#[derive(Args, Debug)]
pub struct ScanArgs {
    /// Target list: a CSV with a header holding a `domain` column (country, sector,
    /// organisation and other columns are carried into the output) or one name per line.
    #[arg(long)]
    targets: PathBuf,
    /// Dataset directory; the scan writes DATASET/scan=<id>/part-*.parquet.
    #[arg(long)]
    out: PathBuf,
    /// Scan id (the partition name). Default: the UTC start time, e.g. 20261128T101500Z.
    #[arg(long)]
    scan_id: Option<String>,
    /// Domains measured at the same time.
    #[arg(long, default_value_t = 500)]
    concurrency: usize,
    /// No progress bar (log lines every 10 s instead).
    #[arg(long)]
    quiet: bool,
    #[command(flatten)]
    dns: DnsArgs,
    #[command(flatten)]
    connect: ConnectArgs,
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

/// Runs `uptake scan`.
pub fn scan(args: ScanArgs) -> anyhow::Result<ExitCode> {
    let scan_id = args.scan_id.unwrap_or_else(default_scan_id);
    validate_scan_id(&scan_id)?;
    if args.concurrency == 0 {
        bail!("--concurrency must be at least 1");
    }
    let opts = uptake_scan::ScanOptions {
        targets: args.targets,
        out: args.out,
        resolvers: resolvers(&args.dns)?,
        scan_id,
        concurrency: args.concurrency,
        timeout: Duration::from_secs_f64(args.dns.dns_timeout.max(0.05)),
        attempts: args.dns.dns_attempts.max(1),
        progress: !args.quiet,
        connect: args.connect.options(),
    };
    let summary = runtime()?.block_on(uptake_scan::scan(&opts))?;
    let secs = summary.elapsed.as_secs_f64().max(1e-9);
    eprintln!(
        "scan {}: {} domains in {:.1}s ({:.0} domains/s, {} DNS queries, {:.0} queries/s); {} rejected, {} duplicates",
        opts.scan_id,
        summary.domains,
        secs,
        summary.domains as f64 / secs,
        summary.dns_queries,
        summary.dns_queries as f64 / secs,
        summary.rejects,
        summary.duplicates
    );
    let st = &summary.dns_stats;
    eprintln!(
        "  DNS: {} sent, {} timeouts, {} retries, {} TCP fallbacks, {} cache hits, {} mismatched responses dropped",
        st.sent, st.timeouts, st.retries, st.tcp_fallbacks, st.cache_hits, st.dropped_mismatched
    );
    if let Some(p) = &summary.probe_stats {
        eprintln!(
            "  probes: {} TLS handshakes ({:.0}/s), {} raw hellos, {} HTTP requests, {} SMTP sessions, {} TCP connects, {} shared results",
            p.tls_handshakes,
            p.tls_handshakes as f64 / secs,
            p.raw_hellos,
            p.http_requests,
            p.smtp_sessions,
            p.connects,
            p.shared_hits
        );
    }
    for (check, counts) in &summary.statuses {
        let line: Vec<String> = counts.iter().map(|(s, n)| format!("{s} {n}")).collect();
        eprintln!("  {check:<16} {}", line.join(", "));
    }
    if let Some(r) = &summary.rejects_file {
        eprintln!("rejected lines: {}", r.display());
    }
    eprintln!(
        "dataset: {}",
        opts.out.join(format!("scan={}", opts.scan_id)).display()
    );
    Ok(ExitCode::SUCCESS)
}

/// Runs `uptake check`.
pub fn check(args: CheckArgs) -> anyhow::Result<ExitCode> {
    let resolvers = resolvers(&args.dns)?;
    let timeout = Duration::from_secs_f64(args.dns.dns_timeout.max(0.05));
    let row = runtime()?.block_on(uptake_scan::check_domain(
        &args.domain,
        &resolvers,
        timeout,
        args.dns.dns_attempts.max(1),
        args.connect.options().as_ref(),
    ))?;
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
