//! In-process servers on loopback for the probe tests: a rustls HTTPS server (rcgen
//! certificates), a plain HTTP server, an SMTP server with STARTTLS, a fake TLS 1.0 server
//! answering raw hellos, a real TLS 1.0-only HTTPS server (OpenSSL), a keep-alive HTTPS server
//! counting its handshakes, and hostile servers (silent, 1 byte per second, endless redirects,
//! 1 GB body, TLS garbage).

#![allow(dead_code, missing_docs)]

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use uptake_checks::web::certificate::TrustStore;

/// A test CA and leaves it issues.
pub struct Pki {
    pub root_der: Vec<u8>,
    root: Issuer<'static, KeyPair>,
}

impl Pki {
    pub fn new() -> Pki {
        let key = KeyPair::generate().unwrap();
        let mut p = CertificateParams::new(Vec::<String>::new()).unwrap();
        p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        p.distinguished_name
            .push(DnType::CommonName, "probe test CA");
        let root_der = p.self_signed(&key).unwrap().der().to_vec();
        Pki {
            root_der,
            root: Issuer::new(p, key),
        }
    }

    pub fn trust(&self) -> TrustStore {
        TrustStore::from_der(std::slice::from_ref(&self.root_der)).0
    }

    fn issue(&self, names: &[&str]) -> (rcgen::Certificate, KeyPair) {
        let key = KeyPair::generate().unwrap();
        let mut p = CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>())
            .unwrap();
        p.distinguished_name.push(DnType::CommonName, names[0]);
        (p.signed_by(&key, &self.root).unwrap(), key)
    }

    /// A leaf for `names`: (chain DER, key DER).
    pub fn leaf(&self, names: &[&str]) -> (Vec<Vec<u8>>, Vec<u8>) {
        let (cert, key) = self.issue(names);
        (vec![cert.der().to_vec()], key.serialize_der())
    }

    /// A rustls server config for `names` with the given versions and ALPN.
    pub fn server_config(
        &self,
        names: &[&str],
        versions: &[&'static rustls::SupportedProtocolVersion],
        alpn: &[&[u8]],
    ) -> Arc<rustls::ServerConfig> {
        let (chain, key) = self.leaf(names);
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut c = rustls::ServerConfig::builder_with_provider(provider)
            .with_protocol_versions(versions)
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(
                chain.into_iter().map(CertificateDer::from).collect(),
                PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key)),
            )
            .unwrap();
        c.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
        Arc::new(c)
    }

    /// A leaf for `names` as PEM: (certificate, PKCS#8 key).
    pub fn leaf_pem(&self, names: &[&str]) -> (String, String) {
        let (cert, key) = self.issue(names);
        (cert.pem(), key.serialize_pem())
    }
}

pub async fn listen() -> (TcpListener, SocketAddr) {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let a = l.local_addr().unwrap();
    (l, a)
}

/// Listens on a new loopback port and runs `serve` on every connection, each in a task of
/// its own.
async fn serve_each<F, Fut>(serve: F) -> SocketAddr
where
    F: Fn(TcpStream) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let (l, a) = listen().await;
    tokio::spawn(async move {
        while let Ok((tcp, _)) = l.accept().await {
            tokio::spawn(serve(tcp));
        }
    });
    a
}

/// Reads an HTTP request head; returns the request line.
async fn read_head<S: tokio::io::AsyncRead + Unpin>(s: &mut BufReader<S>) -> Option<String> {
    read_request(s).await.map(|(line, _)| line)
}

/// Reads an HTTP request head; returns the request line and whether it asked for
/// `Connection: close`.
async fn read_request<S: tokio::io::AsyncRead + Unpin>(
    s: &mut BufReader<S>,
) -> Option<(String, bool)> {
    let mut first = String::new();
    if s.read_line(&mut first).await.ok()? == 0 {
        return None;
    }
    let mut close = false;
    loop {
        let mut l = String::new();
        if s.read_line(&mut l).await.ok()? == 0 || l == "\r\n" || l == "\n" {
            break;
        }
        close |= l.to_ascii_lowercase().trim_end() == "connection: close";
    }
    Some((first.trim_end().to_string(), close))
}

/// How the HTTP(S) test server answers a path.
pub type Handler = Arc<dyn Fn(&str) -> String + Send + Sync>;

async fn serve_http<S>(stream: S, handler: Handler)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    let mut s = BufReader::new(stream);
    if let Some(line) = read_head(&mut s).await {
        let path = line.split_whitespace().nth(1).unwrap_or("/").to_string();
        let resp = handler(&path);
        let _ = s.get_mut().write_all(resp.as_bytes()).await;
        let _ = s.get_mut().shutdown().await;
    }
}

/// An HTTPS server: every connection handshakes with `config` and gets `handler`'s answer.
pub async fn https_server(config: Arc<rustls::ServerConfig>, handler: Handler) -> SocketAddr {
    https_server_silent_first(config, handler, 0).await
}

/// An HTTPS server that keeps its first `silent` connections open without a byte (a server
/// too busy to answer for a moment), then serves like [`https_server`].
pub async fn https_server_silent_first(
    config: Arc<rustls::ServerConfig>,
    handler: Handler,
    silent: usize,
) -> SocketAddr {
    let (l, a) = listen().await;
    let acceptor = tokio_rustls::TlsAcceptor::from(config);
    tokio::spawn(async move {
        let mut held = Vec::new();
        loop {
            let Ok((tcp, _)) = l.accept().await else {
                return;
            };
            if held.len() < silent {
                held.push(tcp);
                continue;
            }
            let (acceptor, handler) = (acceptor.clone(), handler.clone());
            tokio::spawn(async move {
                if let Ok(tls) = acceptor.accept(tcp).await {
                    serve_http(tls, handler).await;
                }
            });
        }
    });
    a
}

/// An HTTPS server that keeps connections open between requests (HTTP/1.1 keep-alive: the
/// `connection: close` of `handler`'s answers is dropped, and a connection ends when the
/// client closes it or asks `Connection: close`). Counts the handshakes it completed and the
/// requests it answered.
pub async fn https_server_keep_alive(
    config: Arc<rustls::ServerConfig>,
    handler: Handler,
) -> (SocketAddr, Arc<AtomicU64>, Arc<AtomicU64>) {
    let acceptor = tokio_rustls::TlsAcceptor::from(config);
    let (handshakes, requests) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let counters = (handshakes.clone(), requests.clone());
    let a = serve_each(move |tcp| {
        let (acceptor, handler) = (acceptor.clone(), handler.clone());
        let (handshakes, requests) = counters.clone();
        async move {
            let Ok(tls) = acceptor.accept(tcp).await else {
                return;
            };
            handshakes.fetch_add(1, Ordering::SeqCst);
            let mut s = BufReader::new(tls);
            while let Some((line, close)) = read_request(&mut s).await {
                requests.fetch_add(1, Ordering::SeqCst);
                let path = line.split_whitespace().nth(1).unwrap_or("/").to_string();
                let resp = handler(&path).replacen("connection: close\r\n", "", 1);
                if s.get_mut().write_all(resp.as_bytes()).await.is_err() || close {
                    break;
                }
            }
            let _ = s.get_mut().shutdown().await;
        }
    })
    .await;
    (a, handshakes, requests)
}

/// A real HTTPS server that speaks only TLS 1.0 (OpenSSL at security level 0), with the
/// leaf `chain` and its PKCS#8 `key` (DER), answering with `handler`.
pub async fn tls10_https_server(chain: Vec<Vec<u8>>, key: Vec<u8>, handler: Handler) -> SocketAddr {
    use openssl::ssl::{SslAcceptor, SslMethod, SslVersion};
    let mut b = SslAcceptor::mozilla_intermediate(SslMethod::tls_server()).unwrap();
    b.set_security_level(0);
    b.set_cipher_list("ALL:@SECLEVEL=0").unwrap();
    b.set_min_proto_version(Some(SslVersion::TLS1)).unwrap();
    b.set_max_proto_version(Some(SslVersion::TLS1)).unwrap();
    b.set_certificate(&openssl::x509::X509::from_der(&chain[0]).unwrap())
        .unwrap();
    b.set_private_key(&openssl::pkey::PKey::private_key_from_der(&key).unwrap())
        .unwrap();
    let acceptor = Arc::new(b.build());
    serve_each(move |tcp| {
        let (acceptor, handler) = (acceptor.clone(), handler.clone());
        async move {
            let ssl = openssl::ssl::Ssl::new(acceptor.context()).unwrap();
            let mut tls = tokio_openssl::SslStream::new(ssl, tcp).unwrap();
            if std::pin::Pin::new(&mut tls).accept().await.is_ok() {
                serve_http(tls, handler).await;
            }
        }
    })
    .await
}

/// A plain HTTP server.
pub async fn http_server(handler: Handler) -> SocketAddr {
    serve_each(move |tcp| serve_http(tcp, handler.clone())).await
}

pub fn response(status: &str, headers: &[(&str, &str)], body: &str) -> String {
    let mut r = format!("HTTP/1.1 {status}\r\ncontent-length: {}\r\n", body.len());
    for (n, v) in headers {
        r += &format!("{n}: {v}\r\n");
    }
    r + "connection: close\r\n\r\n" + body
}

/// An SMTP server: banner, EHLO (with STARTTLS when `tls` is given), STARTTLS, handshake,
/// then answers anything with 221 after QUIT. Records every command received.
pub async fn smtp_server(
    tls: Option<Arc<rustls::ServerConfig>>,
    commands: Arc<Mutex<Vec<String>>>,
) -> SocketAddr {
    let (l, a) = listen().await;
    tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = l.accept().await else {
                return;
            };
            let (tls, commands) = (tls.clone(), commands.clone());
            tokio::spawn(async move {
                let mut s = BufReader::new(tcp);
                let _ = s.get_mut().write_all(b"220 mx.test ESMTP test\r\n").await;
                loop {
                    let mut line = String::new();
                    if s.read_line(&mut line).await.unwrap_or(0) == 0 {
                        return;
                    }
                    let cmd = line.trim_end().to_string();
                    commands.lock().unwrap().push(cmd.clone());
                    let verb = cmd.split_whitespace().next().unwrap_or("").to_uppercase();
                    match verb.as_str() {
                        "EHLO" => {
                            let mut r = "250-mx.test\r\n250-PIPELINING\r\n".to_string();
                            if tls.is_some() {
                                r += "250-STARTTLS\r\n";
                            }
                            r += "250 8BITMIME\r\n";
                            let _ = s.get_mut().write_all(r.as_bytes()).await;
                        }
                        "STARTTLS" => {
                            let _ = s.get_mut().write_all(b"220 go ahead\r\n").await;
                            let acceptor = tokio_rustls::TlsAcceptor::from(tls.clone().unwrap());
                            let Ok(t) = acceptor.accept(s.into_inner()).await else {
                                return;
                            };
                            let mut t = BufReader::new(t);
                            let mut l2 = String::new();
                            if t.read_line(&mut l2).await.unwrap_or(0) > 0 {
                                commands.lock().unwrap().push(l2.trim_end().to_string());
                                let _ = t.get_mut().write_all(b"221 bye\r\n").await;
                            }
                            return;
                        }
                        "QUIT" => {
                            let _ = s.get_mut().write_all(b"221 bye\r\n").await;
                            return;
                        }
                        _ => {
                            let _ = s.get_mut().write_all(b"502 no\r\n").await;
                        }
                    }
                }
            });
        }
    });
    a
}

/// Accepts TCP and never sends a byte (keeps the connection open).
pub async fn silent_server() -> SocketAddr {
    let (l, a) = listen().await;
    tokio::spawn(async move {
        let mut held = Vec::new();
        loop {
            let Ok((tcp, _)) = l.accept().await else {
                return;
            };
            held.push(tcp);
        }
    });
    a
}

/// Sends `data` one byte per second.
pub async fn trickle_server(data: &'static [u8]) -> SocketAddr {
    let (l, a) = listen().await;
    tokio::spawn(async move {
        loop {
            let Ok((mut tcp, _)) = l.accept().await else {
                return;
            };
            tokio::spawn(async move {
                for b in data {
                    if tcp.write_all(&[*b]).await.is_err() {
                        return;
                    }
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            });
        }
    });
    a
}

/// Sends pseudo-random bytes as soon as a connection opens.
pub async fn garbage_server() -> SocketAddr {
    let (l, a) = listen().await;
    tokio::spawn(async move {
        loop {
            let Ok((mut tcp, _)) = l.accept().await else {
                return;
            };
            tokio::spawn(async move {
                let mut x: u32 = 0x1234_5678;
                let junk: Vec<u8> = (0..4096)
                    .map(|_| {
                        x ^= x << 13;
                        x ^= x >> 17;
                        x ^= x << 5;
                        (x & 0xFF) as u8 | 0x80
                    })
                    .collect();
                let _ = tcp.write_all(&junk).await;
                let mut sink = [0u8; 1024];
                while tcp.read(&mut sink).await.unwrap_or(0) > 0 {}
            });
        }
    });
    a
}

/// What an SMTP server does after it said "220" to STARTTLS.
#[derive(Debug, Clone, Copy)]
pub enum AfterStarttls {
    /// Nothing: the connection stays open, silent.
    Silence,
    /// Pseudo-random bytes instead of a ServerHello.
    Garbage,
}

/// An SMTP server that offers STARTTLS and then, instead of a TLS handshake, does `after`.
pub async fn smtp_hostile_after_starttls(after: AfterStarttls) -> SocketAddr {
    let (l, a) = listen().await;
    tokio::spawn(async move {
        let mut held = Vec::new();
        loop {
            let Ok((tcp, _)) = l.accept().await else {
                return;
            };
            let mut s = BufReader::new(tcp);
            let _ = s.get_mut().write_all(b"220 mx.test ESMTP\r\n").await;
            loop {
                let mut line = String::new();
                if s.read_line(&mut line).await.unwrap_or(0) == 0 {
                    break;
                }
                let verb = line.split_whitespace().next().unwrap_or("").to_uppercase();
                if verb == "EHLO" {
                    let _ = s
                        .get_mut()
                        .write_all(b"250-mx.test\r\n250 STARTTLS\r\n")
                        .await;
                } else if verb == "STARTTLS" {
                    let _ = s.get_mut().write_all(b"220 go ahead\r\n").await;
                    if let AfterStarttls::Garbage = after {
                        let junk: Vec<u8> =
                            (0..4096u32).map(|i| (i * 37 % 251) as u8 | 0x80).collect();
                        let _ = s.get_mut().write_all(&junk).await;
                    }
                    held.push(s);
                    break;
                }
            }
        }
    });
    a
}

/// Answers any request over TLS (`config`) with a 1 GB body, streamed; counts the bytes it
/// managed to send.
pub async fn https_gigabyte_server(
    config: Arc<rustls::ServerConfig>,
    sent: Arc<std::sync::atomic::AtomicU64>,
) -> SocketAddr {
    let acceptor = tokio_rustls::TlsAcceptor::from(config);
    serve_each(move |tcp| {
        let (acceptor, sent) = (acceptor.clone(), sent.clone());
        async move {
            if let Ok(tls) = acceptor.accept(tcp).await {
                send_gigabyte(tls, &sent).await;
            }
        }
    })
    .await
}

/// Answers any request with a 1 GB body (streamed; counts the bytes it managed to send).
pub async fn gigabyte_server(sent: Arc<std::sync::atomic::AtomicU64>) -> SocketAddr {
    serve_each(move |tcp| {
        let sent = sent.clone();
        async move { send_gigabyte(tcp, &sent).await }
    })
    .await
}

/// Reads a request on `stream` and answers it with a 1 GB body, streamed, adding what it
/// managed to send to `sent`.
async fn send_gigabyte<S>(stream: S, sent: &AtomicU64)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    let mut s = BufReader::new(stream);
    if read_head(&mut s).await.is_none() {
        return;
    }
    let head = "HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: 1073741824\r\n\r\n";
    if s.get_mut().write_all(head.as_bytes()).await.is_err() {
        return;
    }
    let chunk = vec![b'a'; 64 * 1024];
    for _ in 0..(1 << 14) {
        if s.get_mut().write_all(&chunk).await.is_err() {
            return;
        }
        sent.fetch_add(chunk.len() as u64, Ordering::Relaxed);
    }
}

/// A fake TLS 1.0-only server: answers every ClientHello with a TLS 1.0 ServerHello (the
/// first suite offered), a Certificate with `chain` and ServerHelloDone, then waits.
pub async fn tls10_server(chain: Vec<Vec<u8>>) -> SocketAddr {
    tls10_server_with(chain, Duration::from_secs(5), true).await
}

/// A TLS 1.0 server whose handshakes never complete: the raw hellos get the first flight of
/// [`tls10_server`] (so TLS 1.0 is seen accepted), a full client's hello (rustls',
/// OpenSSL's: TLS 1.3 suites first) gets no answer; each connection stays open for `hold`.
pub async fn tls10_server_holding(chain: Vec<Vec<u8>>, hold: Duration) -> SocketAddr {
    tls10_server_with(chain, hold, false).await
}

async fn tls10_server_with(chain: Vec<Vec<u8>>, hold: Duration, alert_tls13: bool) -> SocketAddr {
    let (l, a) = listen().await;
    tokio::spawn(async move {
        loop {
            let Ok((mut tcp, _)) = l.accept().await else {
                return;
            };
            let chain = chain.clone();
            tokio::spawn(async move {
                let mut buf = vec![0u8; 16384];
                let mut have = 0;
                // Read one record.
                loop {
                    let n = tcp.read(&mut buf[have..]).await.unwrap_or(0);
                    if n == 0 {
                        return;
                    }
                    have += n;
                    if have >= 5 && have >= 5 + u16::from_be_bytes([buf[3], buf[4]]) as usize {
                        break;
                    }
                }
                let hello = &buf[5..have];
                // client_version at 4..6, random 6..38, session id, suites
                let sid = hello[38] as usize;
                let at = 39 + sid;
                let first_suite = [hello[at + 2], hello[at + 3]];
                let client_version = u16::from_be_bytes([hello[4], hello[5]]);
                // rustls lists its TLS 1.3 suites first (so does OpenSSL); the raw hellos
                // never offer them.
                if client_version < 0x0301 || first_suite[0] == 0x13 {
                    if alert_tls13 {
                        // rustls (TLS 1.2+ only): a protocol_version alert.
                        let _ = tcp.write_all(&[0x15, 3, 1, 0, 2, 2, 70]).await;
                    } else {
                        // A handshake that never gets an answer.
                        let mut sink = [0u8; 256];
                        let _ = tokio::time::timeout(hold, async {
                            while tcp.read(&mut sink).await.unwrap_or(0) > 0 {}
                        })
                        .await;
                    }
                    return;
                }
                let mut sh = vec![3, 1];
                sh.extend_from_slice(&[7; 32]);
                sh.push(0);
                sh.extend_from_slice(&first_suite);
                sh.push(0);
                let mut certs = Vec::new();
                for c in &chain {
                    certs.extend_from_slice(&(c.len() as u32).to_be_bytes()[1..]);
                    certs.extend_from_slice(c);
                }
                let mut cm = (certs.len() as u32).to_be_bytes()[1..].to_vec();
                cm.extend_from_slice(&certs);
                let mut hs = vec![2];
                hs.extend_from_slice(&(sh.len() as u32).to_be_bytes()[1..]);
                hs.extend_from_slice(&sh);
                hs.push(11);
                hs.extend_from_slice(&(cm.len() as u32).to_be_bytes()[1..]);
                hs.extend_from_slice(&cm);
                hs.extend_from_slice(&[14, 0, 0, 0]);
                let mut rec = vec![0x16, 3, 1];
                rec.extend_from_slice(&(hs.len() as u16).to_be_bytes());
                rec.extend_from_slice(&hs);
                let _ = tcp.write_all(&rec).await;
                let mut sink = [0u8; 256];
                let _ = tokio::time::timeout(hold, async {
                    while tcp.read(&mut sink).await.unwrap_or(0) > 0 {}
                    tokio::time::sleep(hold).await;
                })
                .await;
            });
        }
    });
    a
}

/// Connects and drops: is something listening.
pub async fn is_open(a: SocketAddr) -> bool {
    TcpStream::connect(a).await.is_ok()
}
