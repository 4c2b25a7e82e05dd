//! `uptake testbed serve-tls CONFIG`: the testbed's TLS servers that speak post-quantum hybrid
//! key exchange, which Debian 12's nginx and Postfix (OpenSSL 3.0) cannot.
//!
//! A small server on tokio-rustls with the aws-lc-rs provider, configured per address with
//! one of the [`PqFlavour`]s (which key-exchange groups, in which order of preference). It
//! serves HTTPS for web hosts (per SNI name: certificate, a fixed page, the profile's HSTS and
//! security headers on every response, security.txt, 404 otherwise; TLS 1.2 and 1.3 with
//! rustls's ECDHE AEAD suites) and SMTP with STARTTLS for mail hosts (banner, EHLO, STARTTLS,
//! QUIT; no mail is accepted). The runner starts it like nginx and Postfix, from a JSON config
//! the generator wrote ([`ServeConfig`]); port 80 of its web addresses stays with nginx.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use rustls::crypto::aws_lc_rs::kx_group;
use rustls::crypto::{CryptoProvider, SupportedKxGroup};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};

/// How long a client may take for each request line or handshake before it is dropped.
const IDLE: Duration = Duration::from_secs(30);
/// Longest request or command line read.
const MAX_LINE: usize = 8192;

/// Which key-exchange groups a server supports, in its order of preference. The server takes
/// the first of them that the client offers (server preference, as OpenSSL and most servers
/// do; rustls alone would follow the client's order, so [`Preferring`] picks the group from
/// the ClientHello) and asks for its key share with a HelloRetryRequest when the client sent
/// none.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PqFlavour {
    /// X25519MLKEM768, then x25519 and secp256r1 (as large CDNs deploy it): a client that
    /// offers the hybrid group gets it, classical clients still connect.
    HybridFirst,
    /// x25519 and secp256r1 before X25519MLKEM768: supports the hybrid group but prefers
    /// classical, so only a client that offers nothing classical gets the hybrid.
    PrefersClassical,
    /// SecP256r1MLKEM768, then secp256r1: a client that sent key shares for X25519MLKEM768
    /// and x25519 only is asked for a SecP256r1MLKEM768 share by a HelloRetryRequest.
    HelloRetry,
    /// X25519MLKEM768 only: clients without ML-KEM (OpenSSL 3.0) cannot connect at all, so
    /// the testbed does not draw it (its OpenSSL oracles could not check such a host); the
    /// probe tests use it.
    HybridOnly,
}

impl PqFlavour {
    /// The flavours the testbed generator draws from.
    pub const TESTBED: [PqFlavour; 3] = [
        PqFlavour::HybridFirst,
        PqFlavour::PrefersClassical,
        PqFlavour::HelloRetry,
    ];

    /// The server's groups, most preferred first.
    pub fn groups(self) -> Vec<&'static dyn SupportedKxGroup> {
        match self {
            PqFlavour::HybridFirst => vec![
                kx_group::X25519MLKEM768,
                kx_group::X25519,
                kx_group::SECP256R1,
            ],
            PqFlavour::PrefersClassical => vec![
                kx_group::X25519,
                kx_group::SECP256R1,
                kx_group::X25519MLKEM768,
            ],
            PqFlavour::HelloRetry => vec![kx_group::SECP256R1MLKEM768, kx_group::SECP256R1],
            PqFlavour::HybridOnly => vec![kx_group::X25519MLKEM768],
        }
    }

    /// Whether a client offering the hybrid groups beside classical ones ends with a hybrid
    /// group.
    pub const fn negotiates_hybrid(self) -> bool {
        !matches!(self, PqFlavour::PrefersClassical)
    }

    /// Short label for truth.csv evidence (`rustls-hybrid-first`).
    pub const fn label(self) -> &'static str {
        match self {
            PqFlavour::HybridFirst => "rustls-hybrid-first",
            PqFlavour::PrefersClassical => "rustls-prefers-classical",
            PqFlavour::HelloRetry => "rustls-hello-retry",
            PqFlavour::HybridOnly => "rustls-hybrid-only",
        }
    }
}

/// A TLS acceptor that negotiates by a [`PqFlavour`]'s preference: one server config per
/// group of the flavour, each ClientHello handed to the config of the first preferred group
/// the client offers (TLS 1.2 and 1.3, rustls's ECDHE AEAD suites).
pub struct Preferring {
    configs: Vec<(rustls::NamedGroup, Arc<rustls::ServerConfig>)>,
}

impl Preferring {
    /// The configs of `flavour` with certificates from `certs` and the ALPN protocols `alpn`.
    pub fn new(
        flavour: PqFlavour,
        certs: Arc<dyn ResolvesServerCert>,
        alpn: &[&[u8]],
    ) -> Result<Preferring, ServeError> {
        let configs = flavour
            .groups()
            .into_iter()
            .map(|group| {
                let provider = Arc::new(CryptoProvider {
                    kx_groups: vec![group],
                    ..rustls::crypto::aws_lc_rs::default_provider()
                });
                let mut c = rustls::ServerConfig::builder_with_provider(provider)
                    .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
                    .map_err(|e| ServeError::Tls(e.to_string()))?
                    .with_no_client_auth()
                    .with_cert_resolver(certs.clone());
                c.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
                Ok((group.name(), Arc::new(c)))
            })
            .collect::<Result<_, ServeError>>()?;
        Ok(Preferring { configs })
    }

    /// Runs the handshake on `io` (within [`IDLE`]); `None` when it fails.
    pub async fn accept<IO>(&self, io: IO) -> Option<tokio_rustls::server::TlsStream<IO>>
    where
        IO: AsyncRead + AsyncWrite + Unpin,
    {
        let handshake = async {
            let start =
                tokio_rustls::LazyConfigAcceptor::new(rustls::server::Acceptor::default(), io)
                    .await
                    .ok()?;
            let offered = start
                .client_hello()
                .named_groups()
                .unwrap_or_default()
                .to_vec();
            let config = self
                .configs
                .iter()
                .find(|(g, _)| offered.contains(g))
                .unwrap_or(&self.configs[0])
                .1
                .clone();
            start.into_stream(config).await.ok()
        };
        tokio::time::timeout(IDLE, handshake).await.ok().flatten()
    }
}

/// One web site on a rustls web server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Site {
    /// SNI names it answers for.
    pub names: Vec<String>,
    /// Certificate chain (PEM file).
    pub cert: String,
    /// Private key (PEM file, PKCS#8).
    pub key: String,
    /// Body of `GET /` (200, text/html).
    pub body: String,
    /// Header fields sent on every response (HSTS, security headers).
    pub headers: Vec<(String, String)>,
    /// `/.well-known/security.txt`: (media type, body); 404 when absent.
    pub security_txt: Option<(String, String)>,
}

/// What a server does on its addresses.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Service {
    /// HTTPS, certificate chosen by SNI (an unknown name gets a handshake failure).
    Https {
        /// The sites.
        sites: Vec<Site>,
    },
    /// SMTP on port 25 with STARTTLS; one certificate for every SNI name.
    Smtp {
        /// Host name (banner, EHLO reply).
        host: String,
        /// Certificate chain (PEM file).
        cert: String,
        /// Private key (PEM file, PKCS#8).
        key: String,
    },
}

/// One server: addresses, flavour, service.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TlsServer {
    /// Where it listens.
    pub listen: Vec<SocketAddr>,
    /// Its key-exchange groups.
    pub flavour: PqFlavour,
    /// What it serves.
    pub service: Service,
}

/// The config file of `serve-tls` (JSON).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServeConfig {
    /// The servers.
    pub servers: Vec<TlsServer>,
}

/// Errors starting the servers.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// The config or a file it names cannot be read.
    #[error("{path}: {reason}")]
    File {
        /// The file.
        path: String,
        /// Why.
        reason: String,
    },
    /// rustls refused the configuration.
    #[error("TLS configuration: {0}")]
    Tls(String),
    /// A listener could not be bound.
    #[error("listen on {address}: {reason}")]
    Listen {
        /// The address.
        address: SocketAddr,
        /// Why.
        reason: String,
    },
}

fn file_error(path: &str, e: impl std::fmt::Display) -> ServeError {
    ServeError::File {
        path: path.to_string(),
        reason: e.to_string(),
    }
}

fn certified_key(
    provider: &CryptoProvider,
    cert: &str,
    key: &str,
) -> Result<Arc<CertifiedKey>, ServeError> {
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
        .map_err(|e| file_error(cert, e))?
        .collect::<Result<_, _>>()
        .map_err(|e| file_error(cert, e))?;
    let key_der = PrivateKeyDer::from_pem_file(key).map_err(|e| file_error(key, e))?;
    CertifiedKey::from_der(chain, key_der, provider)
        .map(Arc::new)
        .map_err(|e| ServeError::Tls(format!("{cert}: {e}")))
}

/// Certificates by SNI name, else the default (none: the handshake fails).
#[derive(Debug)]
struct BySni {
    names: HashMap<String, Arc<CertifiedKey>>,
    default: Option<Arc<CertifiedKey>>,
}

impl ResolvesServerCert for BySni {
    fn resolve(&self, hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        hello
            .server_name()
            .and_then(|n| self.names.get(&n.to_ascii_lowercase()))
            .or(self.default.as_ref())
            .cloned()
    }
}

/// Reads `config` and serves until killed.
pub fn serve(config: &Path) -> Result<(), ServeError> {
    let path = config.display().to_string();
    let text = std::fs::read_to_string(config).map_err(|e| file_error(&path, e))?;
    let cfg: ServeConfig = serde_json::from_str(&text).map_err(|e| file_error(&path, e))?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| file_error("tokio runtime", e))?;
    runtime.block_on(async move {
        for server in cfg.servers {
            spawn(server).await?;
        }
        std::future::pending::<()>().await;
        Ok(())
    })
}

/// Binds the server's listeners and spawns their accept loops on the current tokio runtime;
/// returns the bound addresses (a port 0 in the config becomes the port chosen).
pub async fn spawn(server: TlsServer) -> Result<Vec<SocketAddr>, ServeError> {
    let provider = rustls::crypto::aws_lc_rs::default_provider();
    match &server.service {
        Service::Https { sites } => {
            let mut certs = HashMap::new();
            let mut by_name = HashMap::new();
            for site in sites {
                let ck = certified_key(&provider, &site.cert, &site.key)?;
                let site = Arc::new(site.clone());
                for n in &site.names {
                    certs.insert(n.to_ascii_lowercase(), ck.clone());
                    by_name.insert(n.to_ascii_lowercase(), site.clone());
                }
            }
            let by_name = Arc::new(by_name);
            let certs = BySni {
                names: certs,
                default: None,
            };
            let tls = Arc::new(Preferring::new(
                server.flavour,
                Arc::new(certs),
                &[b"http/1.1"],
            )?);
            bind_all(&server.listen, move |tcp| {
                tokio::spawn(https_connection(tcp, tls.clone(), by_name.clone()));
            })
            .await
        }
        Service::Smtp { host, cert, key } => {
            let ck = certified_key(&provider, cert, key)?;
            // Like Postfix: one certificate, whatever name the client asks for (several
            // domains' MX names share a mail server).
            let certs = BySni {
                names: HashMap::new(),
                default: Some(ck),
            };
            let tls = Arc::new(Preferring::new(server.flavour, Arc::new(certs), &[])?);
            let host = Arc::new(host.clone());
            bind_all(&server.listen, move |tcp| {
                tokio::spawn(smtp_connection(tcp, tls.clone(), host.clone()));
            })
            .await
        }
    }
}

/// Binds every address (all before any accept loop starts, so a failure is reported at once).
async fn bind_all<F>(addresses: &[SocketAddr], on_accept: F) -> Result<Vec<SocketAddr>, ServeError>
where
    F: Fn(TcpStream) + Clone + Send + Sync + 'static,
{
    let mut listeners = Vec::new();
    for &address in addresses {
        let l = TcpListener::bind(address)
            .await
            .map_err(|e| ServeError::Listen {
                address,
                reason: e.to_string(),
            })?;
        listeners.push(l);
    }
    let mut bound = Vec::new();
    for l in listeners {
        bound.push(l.local_addr().map_err(|e| ServeError::Listen {
            address: bound.first().copied().unwrap_or(addresses[0]),
            reason: e.to_string(),
        })?);
        let on_accept = on_accept.clone();
        tokio::spawn(async move {
            loop {
                match l.accept().await {
                    Ok((tcp, _)) => on_accept(tcp),
                    // Out of descriptors and the like: wait, as nginx does.
                    Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
                }
            }
        });
    }
    Ok(bound)
}

/// Reads one line (CRLF or LF), at most [`MAX_LINE`] bytes, within [`IDLE`]; `None` at the
/// end of the stream, on a timeout or an over-long line.
async fn read_line<S: AsyncRead + Unpin>(s: &mut BufReader<S>) -> Option<String> {
    let mut buf = Vec::new();
    let read = tokio::time::timeout(IDLE, async {
        loop {
            let chunk = s.fill_buf().await.ok()?;
            if chunk.is_empty() {
                return None;
            }
            let (take, done) = match chunk.iter().position(|b| *b == b'\n') {
                Some(i) => (i + 1, true),
                None => (chunk.len(), false),
            };
            buf.extend_from_slice(&chunk[..take]);
            s.consume(take);
            if done {
                return Some(());
            }
            if buf.len() > MAX_LINE {
                return None;
            }
        }
    })
    .await;
    match read {
        Ok(Some(())) => Some(String::from_utf8_lossy(&buf).trim_end().to_string()),
        _ => None,
    }
}

/// One HTTPS connection: handshake, one request, the answer, close.
async fn https_connection(
    tcp: TcpStream,
    tls: Arc<Preferring>,
    sites: Arc<HashMap<String, Arc<Site>>>,
) {
    let Some(tls) = tls.accept(tcp).await else {
        return;
    };
    let site = tls
        .get_ref()
        .1
        .server_name()
        .and_then(|n| sites.get(&n.to_ascii_lowercase()).cloned());
    let mut s = BufReader::new(tls);
    let Some(request) = read_line(&mut s).await else {
        return;
    };
    // The rest of the head: up to the empty line.
    loop {
        match read_line(&mut s).await {
            Some(l) if !l.is_empty() => {}
            Some(_) => break,
            None => return,
        }
    }
    let path = request.split_whitespace().nth(1).unwrap_or("/");
    let answer = match site {
        Some(site) => respond(&site, path),
        None => http_response("421 Misdirected Request", &[], "text/plain", ""),
    };
    let s = s.get_mut();
    let _ = s.write_all(answer.as_bytes()).await;
    let _ = s.shutdown().await;
}

/// The response of `site` to `GET path`.
fn respond(site: &Site, path: &str) -> String {
    let path = path.split('?').next().unwrap_or(path);
    match (path, &site.security_txt) {
        ("/", _) => http_response("200 OK", &site.headers, "text/html", &site.body),
        ("/.well-known/security.txt", Some((media, body))) => {
            http_response("200 OK", &site.headers, media, body)
        }
        _ => http_response("404 Not Found", &site.headers, "text/html", "not found\n"),
    }
}

fn http_response(status: &str, headers: &[(String, String)], media: &str, body: &str) -> String {
    let mut r = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {media}\r\nContent-Length: {}\r\nConnection: close\r\n",
        body.len()
    );
    for (name, value) in headers {
        r.push_str(&format!("{name}: {value}\r\n"));
    }
    r.push_str("\r\n");
    r.push_str(body);
    r
}

/// The reply to one SMTP command, and whether to close the session after it (QUIT).
fn smtp_reply(host: &str, line: &str, tls: bool) -> (String, bool) {
    let verb = line
        .split_whitespace()
        .next()
        .unwrap_or("")
        .to_ascii_uppercase();
    match verb.as_str() {
        "EHLO" => {
            let starttls = if tls { "" } else { "250-STARTTLS\r\n" };
            (
                format!("250-{host}\r\n250-PIPELINING\r\n{starttls}250 8BITMIME\r\n"),
                false,
            )
        }
        "HELO" => (format!("250 {host}\r\n"), false),
        "NOOP" | "RSET" => ("250 2.0.0 Ok\r\n".into(), false),
        "QUIT" => ("221 2.0.0 Bye\r\n".into(), true),
        "STARTTLS" if tls => ("554 5.5.1 Error: TLS already active\r\n".into(), false),
        _ => ("502 5.5.2 Error: command not recognized\r\n".into(), false),
    }
}

/// One SMTP session: banner, EHLO, STARTTLS, handshake, then commands over TLS until QUIT.
async fn smtp_connection(tcp: TcpStream, tls: Arc<Preferring>, host: Arc<String>) {
    let mut s = BufReader::new(tcp);
    if s.get_mut()
        .write_all(format!("220 {host} ESMTP\r\n").as_bytes())
        .await
        .is_err()
    {
        return;
    }
    loop {
        let Some(line) = read_line(&mut s).await else {
            return;
        };
        if line.eq_ignore_ascii_case("STARTTLS") {
            if s.get_mut()
                .write_all(b"220 2.0.0 Ready to start TLS\r\n")
                .await
                .is_err()
            {
                return;
            }
            break;
        }
        let (reply, close) = smtp_reply(&host, &line, false);
        if s.get_mut().write_all(reply.as_bytes()).await.is_err() || close {
            return;
        }
    }
    let Some(tls) = tls.accept(s.into_inner()).await else {
        return;
    };
    let mut s = BufReader::new(tls);
    while let Some(line) = read_line(&mut s).await {
        let (reply, close) = smtp_reply(&host, &line, true);
        if s.get_mut().write_all(reply.as_bytes()).await.is_err() || close {
            break;
        }
    }
    let _ = s.get_mut().shutdown().await;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn site() -> Site {
        Site {
            names: vec!["a.nl".into(), "www.a.nl".into()],
            cert: String::new(),
            key: String::new(),
            body: "a.nl\n".into(),
            headers: vec![(
                "Strict-Transport-Security".into(),
                "max-age=31536000".into(),
            )],
            security_txt: Some(("text/plain".into(), "Contact: mailto:s@a.nl\n".into())),
        }
    }

    #[test]
    fn responses_carry_the_headers_on_every_status() {
        let s = site();
        let root = respond(&s, "/");
        assert!(root.starts_with("HTTP/1.1 200 OK\r\n"));
        assert!(root.contains("Strict-Transport-Security: max-age=31536000\r\n"));
        assert!(root.ends_with("\r\n\r\na.nl\n"));
        let txt = respond(&s, "/.well-known/security.txt");
        assert!(txt.contains("Content-Type: text/plain\r\n"));
        let missing = respond(&s, "/nothing");
        assert!(missing.starts_with("HTTP/1.1 404 "));
        assert!(missing.contains("Strict-Transport-Security"));
        let none = Site {
            security_txt: None,
            ..site()
        };
        assert!(respond(&none, "/.well-known/security.txt").starts_with("HTTP/1.1 404 "));
    }

    #[test]
    fn smtp_offers_starttls_only_before_tls() {
        let (r, close) = smtp_reply("mx.a.nl", "EHLO scanner", false);
        assert!(r.contains("250-STARTTLS\r\n") && !close);
        let (r, _) = smtp_reply("mx.a.nl", "ehlo scanner", true);
        assert!(!r.contains("STARTTLS"));
        assert_eq!(
            smtp_reply("mx.a.nl", "QUIT", true),
            ("221 2.0.0 Bye\r\n".into(), true)
        );
        assert!(smtp_reply("mx.a.nl", "MAIL FROM:<a@b>", false)
            .0
            .starts_with("502"));
    }

    #[test]
    fn flavours_order_their_groups() {
        let first = |f: PqFlavour| u16::from(f.groups()[0].name());
        assert_eq!(first(PqFlavour::HybridFirst), 0x11EC);
        assert_eq!(first(PqFlavour::PrefersClassical), 0x001D);
        assert_eq!(first(PqFlavour::HelloRetry), 0x11EB);
        assert!(PqFlavour::PrefersClassical
            .groups()
            .iter()
            .any(|g| u16::from(g.name()) == 0x11EC));
        assert!(!PqFlavour::PrefersClassical.negotiates_hybrid());
        assert!(!PqFlavour::TESTBED.contains(&PqFlavour::HybridOnly));
    }
}
