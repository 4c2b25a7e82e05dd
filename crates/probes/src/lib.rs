//! The connections behind the web and mail checks: TLS (rustls, plus a raw one-round-trip
//! ClientHello for what rustls cannot speak), HTTP/1.1 over hyper, SMTP with STARTTLS, and
//! TCP reachability.
//!
//! Where it sits: the scan's connection stage (`uptake-scan`, module `connect`) asks the DNS,
//! then calls a [`Prober`] for what needs a connection and hands what it saw to the pure
//! evaluators of `uptake-checks`. Nothing here decides a status, with one exception: the
//! certificate of a handshake is evaluated right away ([`uptake_checks::web::certificate`])
//! so that the shared cache keeps a finding, not a chain.
//!
//! Rules every probe follows:
//! - every step (connect, handshake, each read) has a timeout, and every host probe has an
//!   overall deadline ([`ProbeConfig::host_deadline`]); bodies and replies are read up to a
//!   cap, so a hostile server costs bounded time and memory;
//! - failures are typed ([`ProbeError`]); a refused connection or a TLS alert is a definite
//!   answer, a timeout or garbage is "could not measure" ([`ProbeError::is_definite`]);
//! - connections go through a [`Dialer`], the one place a scan-wide address guard or
//!   per-destination limiter plugs in;
//! - the CPU time of the TLS client work (handshakes, TLS records, raw ClientHellos,
//!   certificate evaluation) is metered per prober ([`cpu::CpuMeter`], [`Stats::tls_cpu`]):
//!   the `tls` stage of a scan's CPU breakdown;
//! - work per (address, SNI) and per MX host is shared by every domain of a scan
//!   ([`cache::SingleFlight`]): a provider hosting many domains gets one STARTTLS probe per
//!   MX host, not one per domain. The shared results are bounded (least recently used
//!   dropped), so memory does not grow with the scan.
//!
//! Never sent: SMTP MAIL FROM / RCPT / DATA (the session ends with QUIT after the handshake);
//! HTTP requests other than GET of `/`, the redirect chain of `http://<host>/`,
//! `/.well-known/security.txt` and the MTA-STS policy.

pub mod cache;
pub mod cpu;
pub mod deadline;
pub mod http;
pub mod legacy;
pub mod openssl_tls;
pub mod smtp;
pub mod tls;
pub mod web;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpStream;
use uptake_checks::web::certificate::TrustStore;

pub use web::{MxProbe, PolicyResult, WebHostProbe};

/// Why a probe could not complete. `Clone` because results are shared through caches.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ProbeError {
    /// TCP connection refused (RST): a definite "nothing listens".
    #[error("connection refused")]
    Refused,
    /// A step took longer than its bound.
    #[error("{step} timed out after {secs:.1}s")]
    Timeout {
        /// The step (connect, TLS handshake, HTTP response, SMTP banner, ...).
        step: &'static str,
        /// The bound in seconds.
        secs: f64,
    },
    /// Network error other than refused (reset, unreachable, closed early).
    #[error("{step}: {msg}")]
    Io {
        /// The step.
        step: &'static str,
        /// The error.
        msg: String,
    },
    /// The TLS peer said no: an alert, no common version or cipher suite. A definite answer.
    #[error("TLS handshake failed: {0}")]
    TlsRejected(String),
    /// The peer does not speak TLS sensibly (garbage, malformed messages).
    #[error("TLS protocol error: {0}")]
    TlsProtocol(String),
    /// Malformed HTTP.
    #[error("HTTP: {0}")]
    Http(String),
    /// A body longer than its cap.
    #[error("body larger than {0} bytes")]
    BodyTooLarge(usize),
    /// More redirects than allowed.
    #[error("more than {0} redirects")]
    TooManyRedirects(usize),
    /// Malformed or unexpected SMTP.
    #[error("SMTP: {0}")]
    Smtp(String),
    /// The dialer refused the destination (address guard).
    #[error("address not allowed: {0}")]
    NotAllowed(String),
}

impl ProbeError {
    /// A definite answer from the peer (refused, TLS rejected) rather than "could not
    /// measure".
    pub fn is_definite(&self) -> bool {
        matches!(self, ProbeError::Refused | ProbeError::TlsRejected(_))
    }

    pub(crate) fn io(step: &'static str, e: &std::io::Error) -> ProbeError {
        if e.kind() == std::io::ErrorKind::ConnectionRefused {
            ProbeError::Refused
        } else {
            ProbeError::Io {
                step,
                msg: e.to_string(),
            }
        }
    }
}

/// Limits and names used by every probe.
#[derive(Debug, Clone)]
pub struct ProbeConfig {
    /// Bound of each step: TCP connect, TLS handshake, one HTTP response head, one SMTP
    /// reply.
    pub step_timeout: Duration,
    /// Bound of the SMTP greeting (the 220 banner). Longer than a step: RFC 5321 §4.5.3.2.1
    /// asks clients to wait 5 minutes for it, servers delay it on purpose (Postfix
    /// postscreen's pregreet test sends "220-" and waits 6 s by default) or fork a process
    /// per connection first, and a greeting that comes late is still an answer.
    pub smtp_greeting_timeout: Duration,
    /// Bound of everything done for one host (all connections of a web host or an MX).
    pub host_deadline: Duration,
    /// EHLO name (identifies the scanner; a name with a contact page).
    pub ehlo_name: String,
    /// HTTP User-Agent.
    pub user_agent: String,
    /// Redirects followed for `http://<host>/` (the chain is evidence).
    pub max_redirects: usize,
    /// Largest security.txt body read (RFC 9116 files are small).
    pub security_txt_cap: usize,
    /// Largest MTA-STS policy read (RFC 8461 contract: 64 KiB).
    pub mta_sts_cap: usize,
    /// Run the per-class cipher probes (raw hellos offering one NCSC class each).
    pub cipher_probes: bool,
    /// Ports probed (443, 80, 25 in a scan; tests use ephemeral ones).
    pub ports: Ports,
}

/// The ports of the services probed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ports {
    /// HTTPS (443).
    pub https: u16,
    /// HTTP (80).
    pub http: u16,
    /// SMTP (25).
    pub smtp: u16,
}

impl Default for Ports {
    fn default() -> Self {
        Ports {
            https: 443,
            http: 80,
            smtp: 25,
        }
    }
}

impl Default for ProbeConfig {
    fn default() -> Self {
        ProbeConfig {
            step_timeout: Duration::from_secs(5),
            host_deadline: Duration::from_secs(30),
            smtp_greeting_timeout: Duration::from_secs(20),
            ehlo_name: "uptake-scanner.invalid".into(),
            user_agent: concat!(
                "uptake/",
                env!("CARGO_PKG_VERSION"),
                " (security standards adoption measurement)"
            )
            .into(),
            max_redirects: 10,
            security_txt_cap: 32 * 1024,
            mta_sts_cap: uptake_checks::mail::mta_sts::MAX_POLICY_BYTES,
            cipher_probes: true,
            ports: Ports::default(),
        }
    }
}

/// Opens TCP connections for the probes. The scan's dialer asks the address policy first
/// (special-purpose ranges, opt-outs) and waits for the destination's connection rate and
/// concurrency limits; tests use [`DirectDialer`].
pub trait Dialer: Send + Sync {
    /// Connects to `addr`. `connect_timeout` bounds the TCP handshake only: time spent
    /// waiting for the destination's limits is not a network failure, and a dialer that waits
    /// does so inside [`deadline::policy_wait`] so it does not count against the host
    /// deadline either.
    fn connect(
        &self,
        addr: SocketAddr,
        connect_timeout: Duration,
    ) -> futures::future::BoxFuture<'_, Result<Connection, ProbeError>>;
}

/// A TCP connection and whatever permission was needed to open it (held until the
/// connection is dropped, so a per-destination concurrency cap counts open connections).
pub struct Connection {
    stream: TcpStream,
    _permit: Option<Box<dyn Send + Sync>>,
}

impl std::fmt::Debug for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connection")
            .field("stream", &self.stream)
            .finish_non_exhaustive()
    }
}

impl Connection {
    /// A connection that needed no permission.
    pub fn new(stream: TcpStream) -> Connection {
        Connection {
            stream,
            _permit: None,
        }
    }

    /// The same connection, releasing `permit` when dropped.
    pub fn holding(self, permit: impl Send + Sync + 'static) -> Connection {
        Connection {
            stream: self.stream,
            _permit: Some(Box::new(permit)),
        }
    }

    /// Opens a TCP connection to `addr` within `limit` (`TCP_NODELAY` set).
    pub async fn open(addr: SocketAddr, limit: Duration) -> Result<Connection, ProbeError> {
        let stream = within(limit, "connect", TcpStream::connect(addr))
            .await?
            .map_err(|e| ProbeError::io("connect", &e))?;
        let _ = stream.set_nodelay(true);
        Ok(Connection::new(stream))
    }
}

impl tokio::io::AsyncRead for Connection {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.stream).poll_read(cx, buf)
    }
}

impl tokio::io::AsyncWrite for Connection {
    fn poll_write(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        std::pin::Pin::new(&mut self.stream).poll_write(cx, buf)
    }

    fn poll_flush(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}

/// Plain `TcpStream::connect`, no policy (tests and `uptake check` of loopback servers).
#[derive(Debug, Default, Clone, Copy)]
pub struct DirectDialer;

impl Dialer for DirectDialer {
    fn connect(
        &self,
        addr: SocketAddr,
        connect_timeout: Duration,
    ) -> futures::future::BoxFuture<'_, Result<Connection, ProbeError>> {
        Box::pin(Connection::open(addr, connect_timeout))
    }
}

/// Name-to-address lookups for redirect targets on other hosts (the scan implements it
/// over its DNS client).
pub trait Resolve: Send + Sync {
    /// The A and AAAA addresses of `host`, or why not.
    fn addresses(
        &self,
        host: &str,
    ) -> futures::future::BoxFuture<'_, Result<Vec<std::net::IpAddr>, String>>;
}

/// Counters of what the probes did (for the scan summary and benchmarks).
#[derive(Debug, Default)]
pub struct Stats {
    /// TCP connections attempted.
    pub connects: AtomicU64,
    /// rustls handshakes attempted.
    pub tls_handshakes: AtomicU64,
    /// Raw (legacy / cipher-class) ClientHellos sent.
    pub raw_hellos: AtomicU64,
    /// HTTP requests sent.
    pub http_requests: AtomicU64,
    /// SMTP sessions opened.
    pub smtp_sessions: AtomicU64,
    /// Web-host or MX probes answered from the shared cache.
    pub shared_hits: AtomicU64,
    /// HTTP requests that needed no connection of their own: sent on a connection kept
    /// alive, or (a redirect to `https://host/`) answered by the probe's own GET of it.
    pub reused_connections: AtomicU64,
    /// Steps tried again after a timeout.
    pub retries: AtomicU64,
    /// CPU time of the TLS client work: handshakes (rustls, OpenSSL), the TLS records of the
    /// requests over them, raw ClientHello exchanges, certificate evaluation.
    pub tls_cpu: Arc<cpu::CpuMeter>,
}

/// A snapshot of [`Stats`].
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct StatsSnapshot {
    /// TCP connections attempted.
    pub connects: u64,
    /// rustls handshakes attempted.
    pub tls_handshakes: u64,
    /// Raw ClientHellos sent.
    pub raw_hellos: u64,
    /// HTTP requests sent.
    pub http_requests: u64,
    /// SMTP sessions opened.
    pub smtp_sessions: u64,
    /// Probes answered from the shared cache.
    pub shared_hits: u64,
    /// HTTP requests that needed no connection of their own.
    pub reused_connections: u64,
    /// Steps tried again after a timeout.
    pub retries: u64,
    /// CPU time of the TLS client work (see [`Stats::tls_cpu`]).
    pub tls_cpu: Duration,
}

impl Stats {
    pub(crate) fn inc(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// The counters now.
    pub fn snapshot(&self) -> StatsSnapshot {
        let g = |c: &AtomicU64| c.load(Ordering::Relaxed);
        StatsSnapshot {
            connects: g(&self.connects),
            tls_handshakes: g(&self.tls_handshakes),
            raw_hellos: g(&self.raw_hellos),
            http_requests: g(&self.http_requests),
            smtp_sessions: g(&self.smtp_sessions),
            shared_hits: g(&self.shared_hits),
            reused_connections: g(&self.reused_connections),
            retries: g(&self.retries),
            tls_cpu: self.tls_cpu.total(),
        }
    }
}

/// Loads trust anchors: the PEM file given (`--ca-file`), else the system's roots through
/// rustls-native-certs (`/etc/ssl/certs` on Debian; `SSL_CERT_FILE` / `SSL_CERT_DIR`
/// override). Returns the store and warnings (certificates skipped).
pub fn load_trust(ca_file: Option<&std::path::Path>) -> Result<(TrustStore, Vec<String>), String> {
    use rustls_pki_types::pem::PemObject;
    use rustls_pki_types::CertificateDer;
    let (ders, mut warnings): (Vec<Vec<u8>>, Vec<String>) = match ca_file {
        Some(path) => {
            let mut ders = Vec::new();
            let iter = CertificateDer::pem_file_iter(path)
                .map_err(|e| format!("{}: {e}", path.display()))?;
            for c in iter {
                ders.push(c.map_err(|e| format!("{}: {e}", path.display()))?.to_vec());
            }
            if ders.is_empty() {
                return Err(format!("{}: no PEM certificate", path.display()));
            }
            (ders, vec![])
        }
        None => {
            let r = rustls_native_certs::load_native_certs();
            let warnings = r.errors.iter().map(|e| e.to_string()).collect();
            (r.certs.iter().map(|c| c.to_vec()).collect(), warnings)
        }
    };
    if ders.is_empty() {
        return Err("no trust anchors found (pass --ca-file)".into());
    }
    let (store, skipped) = TrustStore::from_der(&ders);
    warnings.extend(skipped);
    Ok((store, warnings))
}

/// Web host probes (per address and SNI) a prober keeps. Besides a scan's redirect targets
/// and `mta-sts.` hosts they are rarely shared, so this needs to cover only the hosts of the
/// domains in flight (a few per domain), not the scan.
const WEB_HOSTS_HELD: usize = 8_192;
/// MX host probes a prober keeps: a provider's MX hosts serve many domains across the scan,
/// the least recently used go first.
const MX_HOSTS_HELD: usize = 32_768;
/// TCP reachability results (per address and port) a prober keeps.
const TCP_REACH_HELD: usize = 32_768;

/// Runs the probes of a scan and shares their results across its domains; the shared results
/// are bounded (the least recently used are dropped and probed again if asked for).
pub struct Prober {
    pub(crate) cfg: ProbeConfig,
    pub(crate) trust: TrustStore,
    pub(crate) dialer: Arc<dyn Dialer>,
    pub(crate) tls: tls::Configs,
    /// OpenSSL at security level 0, for HTTP to hosts rustls cannot handshake with.
    pub(crate) openssl: Result<openssl_tls::Connector, ProbeError>,
    pub(crate) web_hosts: cache::SingleFlight<(std::net::IpAddr, String), Arc<WebHostProbe>>,
    pub(crate) mx_hosts: cache::SingleFlight<String, Arc<MxProbe>>,
    pub(crate) tcp: cache::SingleFlight<SocketAddr, TcpReach>,
    pub(crate) stats: Stats,
}

impl Prober {
    /// A prober with `trust` as the trust store and `dialer` for connections.
    pub fn new(cfg: ProbeConfig, trust: TrustStore, dialer: Arc<dyn Dialer>) -> Prober {
        Prober {
            cfg,
            trust,
            dialer,
            tls: tls::Configs::new(),
            openssl: openssl_tls::Connector::new(),
            web_hosts: cache::SingleFlight::bounded(WEB_HOSTS_HELD),
            mx_hosts: cache::SingleFlight::bounded(MX_HOSTS_HELD),
            tcp: cache::SingleFlight::bounded(TCP_REACH_HELD),
            stats: Stats::default(),
        }
    }

    /// The configuration.
    pub fn config(&self) -> &ProbeConfig {
        &self.cfg
    }

    /// The counters so far.
    pub fn stats(&self) -> StatsSnapshot {
        self.stats.snapshot()
    }

    /// Connects through the dialer (the TCP handshake within the step timeout).
    pub(crate) async fn connect(&self, addr: SocketAddr) -> Result<Connection, ProbeError> {
        Stats::inc(&self.stats.connects);
        self.dialer.connect(addr, self.cfg.step_timeout).await
    }

    /// Whether `addr` accepts a TCP connection (connect, then close), shared per address.
    pub async fn tcp_reach(&self, addr: SocketAddr) -> TcpReach {
        let (v, hit) = self
            .tcp
            .get_or_run(addr, || async move {
                match self.connect(addr).await {
                    Ok(_) => TcpReach::Open,
                    // The scan's policy forbade the connection: nothing was learned.
                    Err(ProbeError::NotAllowed(why)) => TcpReach::NotMeasured(why),
                    Err(_) => TcpReach::Closed,
                }
            })
            .await;
        if hit {
            Stats::inc(&self.stats.shared_hits);
        }
        v
    }
}

/// What a TCP connection attempt learned about an address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TcpReach {
    /// The handshake completed.
    Open,
    /// Refused, timed out or failed in the network: not reachable from here.
    Closed,
    /// No connection was attempted (the scan's policy refused the address): the reason.
    NotMeasured(String),
}

/// `fut` within `limit`, else [`ProbeError::Timeout`] naming `step`.
pub(crate) async fn within<T>(
    limit: Duration,
    step: &'static str,
    fut: impl std::future::Future<Output = T>,
) -> Result<T, ProbeError> {
    tokio::time::timeout(limit, fut)
        .await
        .map_err(|_| ProbeError::Timeout {
            step,
            secs: limit.as_secs_f64(),
        })
}

/// Unix seconds now.
pub(crate) fn now_secs() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}
