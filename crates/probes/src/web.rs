//! What the prober learns about one web host on one address (shared per (address, SNI)),
//! one MX host (shared per host name), and one MTA-STS policy fetch.

use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicBool, Ordering};

use uptake_checks::mail::Smtp;
use uptake_checks::web::certificate::{certificate, CertificateEvidence};
use uptake_checks::web::tls::{cipher_class, suites_of, CipherClass, TlsVersion};
use uptake_checks::web::{Handshake, Port80};
use uptake_model::Finding;

use crate::cpu::CpuTimed;
use crate::http::{self, Url};
use crate::legacy::{raw_hello, HelloOutcome};
use crate::smtp::{self, StarttlsOutcome};
use crate::{ProbeError, Prober, Resolve, Stats};

/// The negotiated parameters of a handshake (the chain is evaluated, not kept).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Negotiated {
    /// Version.
    pub version: TlsVersion,
    /// Cipher suite code point.
    pub suite: u16,
    /// Key-exchange group code point.
    pub group: Option<u16>,
    /// ALPN protocol.
    pub alpn: Option<String>,
    /// A HelloRetryRequest was needed.
    pub hello_retry: bool,
}

/// The part of an HTTPS response the web checks read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Head {
    /// Status code.
    pub status: u16,
    /// Header fields, lower-case names, in order.
    pub headers: Vec<(String, String)>,
}

/// A fetched small document (security.txt, MTA-STS policy).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Document {
    /// Status code.
    pub status: u16,
    /// `Content-Type`.
    pub content_type: Option<String>,
    /// Body (capped).
    pub body: Vec<u8>,
}

/// Everything measured on port 443 and 80 of one (address, host name).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebHostProbe {
    /// The address connected to.
    pub address: IpAddr,
    /// The rustls handshake (TLS 1.2/1.3).
    pub rustls: Handshake,
    /// The legacy probe as a handshake (completed when TLS 1.0 or 1.1 was accepted); `None`
    /// when it was not run (443 refused or silent).
    pub legacy: Option<Handshake>,
    /// Parameters of the rustls handshake, or of the legacy ServerHello for a server that
    /// speaks only TLS 1.0/1.1.
    pub negotiated: Option<Negotiated>,
    /// TLS 1.0 / 1.1 accepted, or why the legacy probe could not tell.
    pub legacy_versions: Result<Vec<TlsVersion>, String>,
    /// Per-class raw hellos: accepted or not.
    pub cipher_probes: Vec<(CipherClass, Result<bool, String>)>,
    /// The certificate finding for the host name, and its evidence.
    pub certificate: Option<(Finding, CertificateEvidence)>,
    /// GET https://host/ (first response, not followed), or why not.
    pub https_response: Option<Result<Head, String>>,
    /// GET https://host/.well-known/security.txt (not followed), or why not.
    pub security_txt: Option<Result<Document, String>>,
    /// The first response of GET http://host/.
    pub port80: Port80,
    /// The redirect chain of http://host/: `<status> <location>` per hop, then the final
    /// status, or `error: <why>` where following stopped.
    pub redirect_chain: Vec<String>,
}

/// Every legacy-capable suite (TLS 1.2-and-earlier of every class), for the version probes.
fn all_legacy_suites() -> Vec<u16> {
    [
        CipherClass::Good,
        CipherClass::Sufficient,
        CipherClass::PhaseOut,
        CipherClass::Insufficient,
    ]
    .iter()
    .flat_map(|c| suites_of(*c).iter().copied())
    .filter(|s| *s >> 8 != 0x13)
    .collect()
}

/// One more try of a step that timed out, once per part of a host probe (its port 443 part,
/// its port 80 part, an MTA-STS fetch). Under load a handshake can wait in a busy server's
/// accept queue past the step timeout; a second try tells a slow moment from a silent host,
/// and a silent host costs one step more, not one per connection.
pub(crate) struct Retry(AtomicBool);

impl Retry {
    pub(crate) fn new() -> Retry {
        Retry(AtomicBool::new(true))
    }

    /// Whether to try again after `e` (a timeout, and the retry not yet used); counts it.
    pub(crate) fn again(&self, e: &ProbeError, stats: &Stats) -> bool {
        let again =
            matches!(e, ProbeError::Timeout { .. }) && self.0.swap(false, Ordering::Relaxed);
        if again {
            Stats::inc(&stats.retries);
        }
        again
    }

    /// `attempt()`, and once more when it timed out and the retry was not yet used.
    pub(crate) async fn run<T, Fut>(
        &self,
        stats: &Stats,
        attempt: impl Fn() -> Fut,
    ) -> Result<T, ProbeError>
    where
        Fut: std::future::Future<Output = Result<T, ProbeError>>,
    {
        match attempt().await {
            Err(e) if self.again(&e, stats) => attempt().await,
            other => other,
        }
    }
}

/// The TLS client of an HTTPS request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Via {
    /// rustls (TLS 1.2 / 1.3).
    Rustls,
    /// OpenSSL at security level 0 (TLS 1.0 and up, every suite).
    OpenSsl,
}

/// A TLS connection of either client, for HTTP over it.
trait Stream: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send {}

impl<S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send> Stream for S {}

/// The path of security.txt (RFC 9116).
const SECURITY_TXT: &str = "/.well-known/security.txt";

/// GET `https://host/` and GET security.txt of a host.
type Pages = (Result<http::Response, ProbeError>, Result<Document, String>);

/// Where the port 443 part of a web host probe hands its GET `https://host/` response to the
/// port 80 part, which reaches that URL when http redirects to https on the same host.
type HomeSender = tokio::sync::watch::Sender<Option<http::Response>>;
type HomeReceiver = tokio::sync::watch::Receiver<Option<http::Response>>;

/// Hands a successful GET `https://host/` to the port 80 part (a failed one is not shared:
/// the redirect is then followed on its own connection, with its own retry).
fn share_home(tx: &HomeSender, home: &Result<http::Response, ProbeError>) {
    if let Ok(r) = home {
        tx.send_replace(Some(r.clone()));
    }
}

/// The port 443 part's GET `https://host/`, once it has one; `None` when that part ended
/// without one.
async fn shared_home(rx: &mut HomeReceiver) -> Option<http::Response> {
    rx.wait_for(Option::is_some)
        .await
        .ok()
        .and_then(|r| r.clone())
}

/// The head of a response, or why there is none.
fn head_of(r: Result<http::Response, ProbeError>) -> Result<Head, String> {
    r.map(|r| Head {
        status: r.status,
        headers: r.headers,
    })
    .map_err(|e| e.to_string())
}

fn handshake_of(e: &ProbeError) -> Handshake {
    match e {
        ProbeError::Refused => Handshake::Refused,
        ProbeError::TlsRejected(why) => Handshake::Failed(why.clone()),
        other => Handshake::Error(other.to_string()),
    }
}

impl Prober {
    /// The certificate finding for `host` from a `chain` the host presented, judged against
    /// the trust store at `now` (its CPU time counts as TLS work).
    fn certificate(
        &self,
        chain: &[Vec<u8>],
        host: &str,
        now: i64,
    ) -> (Finding, CertificateEvidence) {
        self.stats
            .tls_cpu
            .time(|| certificate(chain, host, &self.trust, now))
    }

    /// Measures the web host `host` at `address`, shared by every caller with the same pair.
    pub async fn web_host(
        &self,
        address: IpAddr,
        host: &str,
        resolver: &dyn Resolve,
    ) -> std::sync::Arc<WebHostProbe> {
        let key = (address, host.to_ascii_lowercase());
        let (v, hit) = self
            .web_hosts
            .get_or_run(key, || async {
                let deadline = self.cfg.host_deadline;
                let probe = match crate::deadline::within_active(
                    deadline,
                    self.web_host_uncached(address, host, resolver),
                )
                .await
                {
                    Some(p) => p,
                    None => {
                        let why = format!("web host probe exceeded {:.0}s", deadline.as_secs_f64());
                        WebHostProbe {
                            address,
                            rustls: Handshake::Error(why.clone()),
                            legacy: None,
                            negotiated: None,
                            legacy_versions: Err(why.clone()),
                            cipher_probes: vec![],
                            certificate: None,
                            https_response: Some(Err(why.clone())),
                            security_txt: Some(Err(why.clone())),
                            port80: Port80::Error(why.clone()),
                            redirect_chain: vec![format!("error: {why}")],
                        }
                    }
                };
                std::sync::Arc::new(probe)
            })
            .await;
        if hit {
            Stats::inc(&self.stats.shared_hits);
        }
        v
    }

    async fn web_host_uncached(
        &self,
        address: IpAddr,
        host: &str,
        resolver: &dyn Resolve,
    ) -> WebHostProbe {
        // The port 443 part's GET https://host/ also answers the port 80 part's redirect to
        // that very URL at this address, instead of a second handshake for the same request.
        let (home_tx, home_rx) = tokio::sync::watch::channel(None);
        let (tls_part, (port80, chain)) = futures::join!(
            self.https_part(address, host, home_tx),
            self.http_part(address, host, resolver, home_rx)
        );
        let (rustls, legacy, negotiated, legacy_versions, cipher_probes, certificate, resp, sec) =
            tls_part;
        WebHostProbe {
            address,
            rustls,
            legacy,
            negotiated,
            legacy_versions,
            cipher_probes,
            certificate,
            https_response: resp,
            security_txt: sec,
            port80,
            redirect_chain: chain,
        }
    }

    #[allow(clippy::type_complexity)]
    async fn https_part(
        &self,
        address: IpAddr,
        host: &str,
        home_tx: HomeSender,
    ) -> (
        Handshake,
        Option<Handshake>,
        Option<Negotiated>,
        Result<Vec<TlsVersion>, String>,
        Vec<(CipherClass, Result<bool, String>)>,
        Option<(Finding, CertificateEvidence)>,
        Option<Result<Head, String>>,
        Option<Result<Document, String>>,
    ) {
        let sa = SocketAddr::new(address, self.cfg.ports.https);
        let now = crate::now_secs();
        let mut negotiated = None;
        let mut certificate_ev = None;
        let mut https_response = None;
        let mut security_txt = None;
        let retry = Retry::new();
        let mut attempt = self.rustls_attempt(sa, host).await;
        if let Err((_, e)) = &attempt {
            if retry.again(e, &self.stats) {
                attempt = self.rustls_attempt(sa, host).await;
            }
        }
        let rustls = match attempt {
            Err((false, e)) => {
                let h = handshake_of(&e);
                let why = e.to_string();
                return (h, None, None, Err(why), vec![], None, None, None);
            }
            Err((true, e)) => handshake_of(&e),
            Ok((stream, facts)) => {
                certificate_ev = Some(self.certificate(&facts.chain, host, now));
                negotiated = Some(Negotiated {
                    version: facts.version,
                    suite: facts.suite,
                    group: facts.group,
                    alpn: facts.alpn.clone(),
                    hello_retry: facts.hello_retry,
                });
                // security.txt and GET / over this connection, unless it speaks HTTP/2.
                let (home, sec) = if facts.alpn.as_deref() == Some("h2") {
                    drop(stream);
                    self.pages(sa, host, Via::Rustls, &retry).await
                } else {
                    self.pages_on(stream, sa, host, Via::Rustls, &retry).await
                };
                share_home(&home_tx, &home);
                https_response = Some(head_of(home));
                security_txt = Some(sec);
                Handshake::Completed
            }
        };
        // TLS 1.0 / 1.1: a hello offering at most 1.1 (a 1.0-only server answers 1.0), then
        // one at 1.0 when 1.1 was accepted.
        let all = all_legacy_suites();
        let mut legacy_chain = Vec::new();
        let legacy_versions = match self.raw(sa, 0x0302, &all, host, &retry).await {
            Err(e) => Err(e.to_string()),
            Ok(HelloOutcome::Rejected(_)) => Ok(vec![]),
            Ok(HelloOutcome::Accepted {
                version,
                suite,
                chain,
            }) => {
                let mut v = vec![];
                if negotiated.is_none() {
                    negotiated = Some(Negotiated {
                        version: TlsVersion::from_wire(version).unwrap_or(TlsVersion::Tls10),
                        suite,
                        group: None,
                        alpn: None,
                        hello_retry: false,
                    });
                    legacy_chain = chain;
                }
                match version {
                    0x0301 => {
                        v.push(TlsVersion::Tls10);
                        Ok(v)
                    }
                    0x0302 => {
                        v.push(TlsVersion::Tls11);
                        match self.raw(sa, 0x0301, &all, host, &retry).await {
                            Ok(HelloOutcome::Accepted {
                                version: 0x0301, ..
                            }) => {
                                v.insert(0, TlsVersion::Tls10);
                                Ok(v)
                            }
                            Ok(_) => Ok(v),
                            Err(e) => Err(format!("TLS 1.0 hello: {e}")),
                        }
                    }
                    _ => Ok(v),
                }
            }
        };
        let legacy = match &legacy_versions {
            Ok(v) if !v.is_empty() => Some(Handshake::Completed),
            Ok(_) => Some(Handshake::Failed("no TLS 1.0/1.1".into())),
            Err(e) => Some(Handshake::Error(e.clone())),
        };
        if certificate_ev.is_none() && !legacy_chain.is_empty() {
            certificate_ev = Some(self.certificate(&legacy_chain, host, now));
        }
        // A host rustls cannot talk to but that speaks TLS 1.0/1.1: its pages over OpenSSL.
        if rustls != Handshake::Completed && legacy == Some(Handshake::Completed) {
            let (home, sec) = self.pages(sa, host, Via::OpenSsl, &retry).await;
            share_home(&home_tx, &home);
            https_response = Some(head_of(home));
            security_txt = Some(sec);
        }
        drop(home_tx);
        // Per-class cipher probes, worst class first, only classes worse than the
        // negotiated suite's; stop at the first accepted.
        let mut cipher_probes = Vec::new();
        if let (true, Some(n)) = (self.cfg.cipher_probes, &negotiated) {
            let floor = cipher_class(n.suite);
            for class in [
                CipherClass::Insufficient,
                CipherClass::PhaseOut,
                CipherClass::Sufficient,
            ] {
                if class <= floor {
                    break;
                }
                let outcome = match self.raw(sa, 0x0303, suites_of(class), host, &retry).await {
                    Ok(HelloOutcome::Accepted { suite, .. }) => {
                        Ok(suites_of(class).contains(&suite))
                    }
                    Ok(HelloOutcome::Rejected(_)) => Ok(false),
                    Err(e) => Err(e.to_string()),
                };
                let accepted = outcome == Ok(true);
                cipher_probes.push((class, outcome));
                if accepted {
                    break;
                }
            }
        }
        (
            rustls,
            legacy,
            negotiated,
            legacy_versions,
            cipher_probes,
            certificate_ev,
            https_response,
            security_txt,
        )
    }

    /// A rustls handshake (ALPN h2, http/1.1) on a new connection to `sa`; the error says
    /// whether the TCP connection was made (`true`: the handshake failed).
    async fn rustls_attempt(
        &self,
        sa: SocketAddr,
        host: &str,
    ) -> Result<
        (
            CpuTimed<tokio_rustls::client::TlsStream<crate::Connection>>,
            crate::tls::TlsFacts,
        ),
        (bool, ProbeError),
    > {
        let tcp = self.connect(sa).await.map_err(|e| (false, e))?;
        Stats::inc(&self.stats.tls_handshakes);
        crate::tls::handshake(
            self.tls.https.clone(),
            tcp,
            host,
            self.cfg.step_timeout,
            &self.stats.tls_cpu,
        )
        .await
        .map_err(|e| (true, e))
    }

    /// A raw hello on a new connection, tried again once (per `retry`) when it timed out.
    async fn raw(
        &self,
        sa: SocketAddr,
        version: u16,
        suites: &[u16],
        host: &str,
        retry: &Retry,
    ) -> Result<HelloOutcome, ProbeError> {
        retry
            .run(&self.stats, || self.raw_once(sa, version, suites, host))
            .await
    }

    async fn raw_once(
        &self,
        sa: SocketAddr,
        version: u16,
        suites: &[u16],
        host: &str,
    ) -> Result<HelloOutcome, ProbeError> {
        Stats::inc(&self.stats.raw_hellos);
        let tcp = self.connect(sa).await?;
        raw_hello(
            tcp,
            version,
            suites,
            host,
            self.cfg.step_timeout,
            &self.stats.tls_cpu,
        )
        .await
    }

    /// GET over a new HTTPS connection (ALPN http/1.1) to `sa` with SNI and Host `host`, the
    /// TLS spoken by `via`; tried again once (per `retry`) when a step timed out.
    async fn https_get(
        &self,
        sa: SocketAddr,
        host: &str,
        path: &str,
        cap: Option<usize>,
        via: Via,
        retry: &Retry,
    ) -> Result<http::Response, ProbeError> {
        retry
            .run(&self.stats, || {
                self.https_get_once(sa, host, path, cap, via)
            })
            .await
    }

    async fn https_get_once(
        &self,
        sa: SocketAddr,
        host: &str,
        path: &str,
        cap: Option<usize>,
        via: Via,
    ) -> Result<http::Response, ProbeError> {
        let stream = self.https_connect(sa, host, via).await?;
        Stats::inc(&self.stats.http_requests);
        let (ua, step) = (&self.cfg.user_agent, self.cfg.step_timeout);
        http::get(stream, host, path, ua, cap, step).await
    }

    /// A new HTTPS connection (ALPN http/1.1) to `sa` with SNI `host`, the TLS spoken by `via`.
    async fn https_connect(
        &self,
        sa: SocketAddr,
        host: &str,
        via: Via,
    ) -> Result<Box<dyn Stream>, ProbeError> {
        let step = self.cfg.step_timeout;
        let openssl = match via {
            Via::Rustls => None,
            Via::OpenSsl => Some(self.openssl.as_ref().map_err(Clone::clone)?),
        };
        let tcp = self.connect(sa).await?;
        Stats::inc(&self.stats.tls_handshakes);
        Ok(match openssl {
            None => Box::new(
                crate::tls::handshake(self.tls.http1.clone(), tcp, host, step, &self.stats.tls_cpu)
                    .await?
                    .0,
            ),
            Some(connector) => Box::new(
                connector
                    .handshake(tcp, host, step, &self.stats.tls_cpu)
                    .await?,
            ),
        })
    }

    /// `https://host/.well-known/security.txt` (capped, not followed) and `https://host/`
    /// (the head only) at `sa` on a new connection, the TLS spoken by `via`; see
    /// [`Prober::pages_on`].
    async fn pages(&self, sa: SocketAddr, host: &str, via: Via, retry: &Retry) -> Pages {
        let stream = retry
            .run(&self.stats, || self.https_connect(sa, host, via))
            .await;
        match stream {
            Ok(stream) => self.pages_on(stream, sa, host, via, retry).await,
            Err(e) => {
                let why = e.to_string();
                (Err(e), Err(why))
            }
        }
    }

    /// GET of security.txt then of `/` on `stream`, an HTTPS connection to `sa` speaking
    /// HTTP/1.1: one connection for both when the server keeps it open (security.txt first:
    /// its body is read, which keep-alive needs; the home page's is not). What the connection
    /// could not carry, or what timed out, is asked on a new one.
    async fn pages_on<S>(
        &self,
        stream: S,
        sa: SocketAddr,
        host: &str,
        via: Via,
        retry: &Retry,
    ) -> Pages
    where
        S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
    {
        let cap = Some(self.cfg.security_txt_cap);
        let security_txt = http::Get {
            path: SECURITY_TXT,
            body_cap: cap,
        };
        let home = http::Get {
            path: "/",
            body_cap: None,
        };
        Stats::inc(&self.stats.http_requests);
        let (sec, home) = http::get_then(
            stream,
            host,
            &self.cfg.user_agent,
            self.cfg.step_timeout,
            security_txt,
            Some(home),
        )
        .await;
        let sec = match sec {
            Err(e) if retry.again(&e, &self.stats) => {
                self.https_get(sa, host, SECURITY_TXT, cap, via, retry)
                    .await
            }
            other => other,
        };
        let home = match home {
            Some(Err(e)) if retry.again(&e, &self.stats) => {
                self.https_get(sa, host, "/", None, via, retry).await
            }
            Some(answered) => {
                Stats::inc(&self.stats.http_requests);
                Stats::inc(&self.stats.reused_connections);
                answered
            }
            None => self.https_get(sa, host, "/", None, via, retry).await,
        };
        let sec = sec
            .map(|r| Document {
                status: r.status,
                content_type: r.header("content-type").map(str::to_string),
                body: r.body,
            })
            .map_err(|e| e.to_string());
        (home, sec)
    }

    /// GET of `url` at `address` (TLS for https: rustls, and OpenSSL when the host turned
    /// rustls down, as a TLS 1.0/1.1-only host does).
    /// A timed-out step is tried again once (per `retry`).
    async fn get_url(
        &self,
        address: IpAddr,
        url: &Url,
        retry: &Retry,
    ) -> Result<http::Response, ProbeError> {
        let sa = SocketAddr::new(address, url.port);
        if url.https {
            let (host, path) = (&url.host, &url.path);
            return match self
                .https_get(sa, host, path, None, Via::Rustls, retry)
                .await
            {
                Err(ProbeError::TlsRejected(_)) => {
                    self.https_get(sa, host, path, None, Via::OpenSsl, retry)
                        .await
                }
                other => other,
            };
        }
        retry.run(&self.stats, || self.http_get_once(sa, url)).await
    }

    /// GET of the http `url` at `sa`.
    async fn http_get_once(&self, sa: SocketAddr, url: &Url) -> Result<http::Response, ProbeError> {
        let tcp = self.connect(sa).await?;
        Stats::inc(&self.stats.http_requests);
        let host = if url.port == 80 {
            url.host.clone()
        } else {
            format!("{}:{}", url.host, url.port)
        };
        http::get(
            tcp,
            &host,
            &url.path,
            &self.cfg.user_agent,
            None,
            self.cfg.step_timeout,
        )
        .await
    }

    async fn http_part(
        &self,
        address: IpAddr,
        host: &str,
        resolver: &dyn Resolve,
        mut home_rx: HomeReceiver,
    ) -> (Port80, Vec<String>) {
        let start = Url {
            https: false,
            host: host.to_ascii_lowercase(),
            port: self.cfg.ports.http,
            path: "/".into(),
        };
        let mut chain = Vec::new();
        let retry = Retry::new();
        let first = match self.get_url(address, &start, &retry).await {
            Err(ProbeError::Refused) => return (Port80::Refused, chain),
            Err(e) => {
                chain.push(format!("error: {e}"));
                return (Port80::Error(e.to_string()), chain);
            }
            Ok(r) => r,
        };
        let port80 = Port80::Response {
            status: first.status,
            location: first.header("location").map(str::to_string),
        };
        let (mut url, mut resp) = (start, first);
        loop {
            let location = resp.header("location").map(str::to_string);
            let redirect = matches!(resp.status, 301 | 302 | 303 | 307 | 308);
            match (&location, redirect) {
                (Some(l), true) => chain.push(format!("{} {l}", resp.status)),
                _ => {
                    chain.push(resp.status.to_string());
                    break;
                }
            }
            if chain.len() > self.cfg.max_redirects {
                chain.push(format!(
                    "error: {}",
                    ProbeError::TooManyRedirects(self.cfg.max_redirects)
                ));
                break;
            }
            let next = match url.join(location.as_deref().unwrap_or_default()) {
                Ok(u) => u,
                Err(e) => {
                    chain.push(format!("error: bad Location: {e}"));
                    break;
                }
            };
            let addr = if next.host == host.to_ascii_lowercase() {
                Ok(address)
            } else if let Ok(ip) = next.host.parse::<IpAddr>() {
                Ok(ip)
            } else {
                match resolver.addresses(&next.host).await {
                    Ok(a) if !a.is_empty() => Ok(a[0]),
                    Ok(_) => Err(format!("no address for {}", next.host)),
                    Err(e) => Err(format!("{}: {e}", next.host)),
                }
            };
            let addr = match addr {
                Ok(a) => a,
                Err(e) => {
                    chain.push(format!("error: {e}"));
                    break;
                }
            };
            let is_home = next.https
                && next.port == self.cfg.ports.https
                && next.path == "/"
                && next.host == host.to_ascii_lowercase()
                && addr == address;
            let shared = if is_home {
                shared_home(&mut home_rx).await
            } else {
                None
            };
            let next_resp = match shared {
                Some(r) => {
                    Stats::inc(&self.stats.reused_connections);
                    Ok(r)
                }
                None => self.get_url(addr, &next, &retry).await,
            };
            match next_resp {
                Ok(r) => {
                    url = next;
                    resp = r;
                }
                Err(e) => {
                    chain.push(format!("error: {e}"));
                    break;
                }
            }
        }
        (port80, chain)
    }
}

/// What one MX host showed on port 25.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MxProbe {
    /// The address used.
    pub address: Option<IpAddr>,
    /// The SMTP outcome (for `starttls` and `dane`).
    pub smtp: Smtp,
    /// The certificate finding for the MX host name, when TLS completed.
    pub certificate: Option<Finding>,
    /// The leaf's key and signature algorithm (crypto inventory), when TLS completed.
    pub certificate_evidence: Option<CertificateEvidence>,
    /// Parameters of the STARTTLS handshake.
    pub negotiated: Option<Negotiated>,
}

impl Prober {
    /// STARTTLS on MX `host` at the first of `addresses` (IPv4 first), shared per host name.
    pub async fn mx_host(&self, host: &str, addresses: &[IpAddr]) -> std::sync::Arc<MxProbe> {
        let key = host.to_ascii_lowercase();
        let mut addrs = addresses.to_vec();
        addrs.sort_by_key(|a| a.is_ipv6());
        let (v, hit) = self
            .mx_hosts
            .get_or_run(key, || async {
                let deadline = self.cfg.host_deadline;
                let probe =
                    crate::deadline::within_active(deadline, self.mx_uncached(host, &addrs))
                        .await
                        .unwrap_or_else(|| MxProbe {
                            address: addrs.first().copied(),
                            smtp: Smtp::Error(format!(
                                "SMTP probe exceeded {:.0}s",
                                deadline.as_secs_f64()
                            )),
                            certificate: None,
                            certificate_evidence: None,
                            negotiated: None,
                        });
                std::sync::Arc::new(probe)
            })
            .await;
        if hit {
            Stats::inc(&self.stats.shared_hits);
        }
        v
    }

    async fn mx_uncached(&self, host: &str, addrs: &[IpAddr]) -> MxProbe {
        let Some(&address) = addrs.first() else {
            return MxProbe {
                address: None,
                smtp: Smtp::Error(format!("no address for {host}")),
                certificate: None,
                certificate_evidence: None,
                negotiated: None,
            };
        };
        let fail = |smtp| MxProbe {
            address: Some(address),
            smtp,
            certificate: None,
            certificate_evidence: None,
            negotiated: None,
        };
        let tcp = match self
            .connect(SocketAddr::new(address, self.cfg.ports.smtp))
            .await
        {
            Ok(t) => t,
            Err(ProbeError::Refused) => return fail(Smtp::Error("port 25 refused".into())),
            Err(e) => return fail(Smtp::Error(e.to_string())),
        };
        Stats::inc(&self.stats.smtp_sessions);
        Stats::inc(&self.stats.tls_handshakes);
        let cfg = &self.cfg;
        match smtp::starttls(
            tcp,
            host,
            &cfg.ehlo_name,
            self.tls.smtp.clone(),
            cfg.smtp_greeting_timeout,
            cfg.step_timeout,
            &self.stats.tls_cpu,
        )
        .await
        {
            Err(e) => fail(Smtp::Error(e.to_string())),
            Ok(StarttlsOutcome::NoStarttls(why)) => fail(Smtp::NoStarttls(why)),
            Ok(StarttlsOutcome::HandshakeFailed(why)) => fail(Smtp::HandshakeFailed(why)),
            Ok(StarttlsOutcome::Tls(facts)) => {
                let (finding, evidence) = self.certificate(&facts.chain, host, crate::now_secs());
                MxProbe {
                    address: Some(address),
                    certificate: Some(finding),
                    certificate_evidence: Some(evidence),
                    negotiated: Some(Negotiated {
                        version: facts.version,
                        suite: facts.suite,
                        group: facts.group,
                        alpn: None,
                        hello_retry: facts.hello_retry,
                    }),
                    smtp: Smtp::Tls {
                        version: facts.version,
                        chain: facts.chain,
                    },
                }
            }
        }
    }
}

/// The MTA-STS policy fetch of one domain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PolicyResult {
    /// A definite failure (no address, 443 refused, TLS alert).
    Failed(String),
    /// Could not measure.
    Error(String),
    /// A response over TLS.
    Fetched {
        /// Certificate finding for the policy host.
        certificate: Finding,
        /// The response.
        document: Document,
    },
}

impl Prober {
    /// GET `https://<policy_host>/.well-known/mta-sts.txt` at the first of `addresses`,
    /// redirects not followed (RFC 8461 §3.3), body capped one byte past the policy limit
    /// (so the evaluator sees "too large").
    pub async fn mta_sts_policy(&self, policy_host: &str, addresses: &[IpAddr]) -> PolicyResult {
        let mut addrs = addresses.to_vec();
        addrs.sort_by_key(|a| a.is_ipv6());
        let Some(&address) = addrs.first() else {
            return PolicyResult::Failed(format!("no address for {policy_host}"));
        };
        let once = || async {
            let sa = SocketAddr::new(address, self.cfg.ports.https);
            let tcp = self.connect(sa).await?;
            Stats::inc(&self.stats.tls_handshakes);
            let (stream, facts) = crate::tls::handshake(
                self.tls.http1.clone(),
                tcp,
                policy_host,
                self.cfg.step_timeout,
                &self.stats.tls_cpu,
            )
            .await?;
            let (cert, _) = self.certificate(&facts.chain, policy_host, crate::now_secs());
            Stats::inc(&self.stats.http_requests);
            let r = http::get(
                stream,
                policy_host,
                "/.well-known/mta-sts.txt",
                &self.cfg.user_agent,
                Some(self.cfg.mta_sts_cap + 1),
                self.cfg.step_timeout,
            )
            .await;
            Ok::<_, ProbeError>((cert, r))
        };
        // A step that timed out (handshake or response) is tried again once.
        let retry = Retry::new();
        let fut = async {
            match once().await {
                Err(e) if retry.again(&e, &self.stats) => once().await,
                Ok((_, Err(e))) if retry.again(&e, &self.stats) => once().await,
                other => other,
            }
        };
        match crate::deadline::within_active(self.cfg.host_deadline, fut).await {
            None => PolicyResult::Error("MTA-STS policy fetch timed out".into()),
            Some(Err(e)) if e.is_definite() => PolicyResult::Failed(e.to_string()),
            Some(Err(e)) => PolicyResult::Error(e.to_string()),
            Some(Ok((_, Err(ProbeError::BodyTooLarge(_))))) => {
                PolicyResult::Failed("policy larger than 64 KiB".into())
            }
            Some(Ok((_, Err(e)))) => PolicyResult::Error(e.to_string()),
            Some(Ok((certificate, Ok(r)))) => PolicyResult::Fetched {
                certificate,
                document: Document {
                    status: r.status,
                    content_type: r.header("content-type").map(str::to_string),
                    body: r.body,
                },
            },
        }
    }
}
