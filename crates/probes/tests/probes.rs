//! The probes against in-process servers on loopback: what the TLS recorder sees, the
//! redirect chain, STARTTLS, sharing, and hostile hosts that must end as errors with a
//! reason within the time bound.

mod servers;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use servers::*;
use uptake_checks::mail::Smtp;
use uptake_checks::web::tls::TlsVersion;
use uptake_checks::web::{Handshake, Port80};
use uptake_model::Status;
use uptake_probes::cpu::CpuMeter;
use uptake_probes::{
    http, tls, Connection, DirectDialer, PolicyResult, ProbeConfig, Prober, Resolve,
};

const LOCAL: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

/// Every name is 127.0.0.1.
struct Loopback;
impl Resolve for Loopback {
    fn addresses(
        &self,
        _host: &str,
    ) -> futures::future::BoxFuture<'_, Result<Vec<IpAddr>, String>> {
        Box::pin(async { Ok(vec![LOCAL]) })
    }
}

fn config(https: SocketAddr, http: SocketAddr, smtp: SocketAddr) -> ProbeConfig {
    let mut c = ProbeConfig {
        step_timeout: Duration::from_secs(2),
        host_deadline: Duration::from_secs(8),
        smtp_greeting_timeout: Duration::from_secs(3),
        ehlo_name: "scanner.test".into(),
        ..Default::default()
    };
    c.ports.https = https.port();
    c.ports.http = http.port();
    c.ports.smtp = smtp.port();
    c
}

/// A port where nothing listens.
async fn closed_port() -> SocketAddr {
    let (l, a) = listen().await;
    drop(l);
    a
}

fn site(path: &str) -> String {
    match path {
        "/" => response(
            "200 OK",
            &[
                (
                    "strict-transport-security",
                    "max-age=31536000; includeSubDomains",
                ),
                ("x-frame-options", "DENY"),
                ("x-content-type-options", "nosniff"),
            ],
            "hello",
        ),
        "/.well-known/security.txt" => response(
            "200 OK",
            &[("content-type", "text/plain; charset=utf-8")],
            "Contact: mailto:security@web.test\nExpires: 2099-01-01T00:00:00Z\n",
        ),
        _ => response("404 Not Found", &[], ""),
    }
}

#[tokio::test]
async fn tls13_recorder_facts_headers_and_security_txt() {
    let pki = Pki::new();
    let cfg_tls = pki.server_config(&["web.test"], &[&rustls::version::TLS13], &[b"http/1.1"]);
    let https = https_server(cfg_tls, Arc::new(site)).await;
    let http = http_server(Arc::new(|_: &str| {
        response("301 Moved", &[("location", "https://web.test/")], "")
    }))
    .await;
    let prober = Prober::new(
        config(https, http, closed_port().await),
        pki.trust(),
        Arc::new(DirectDialer),
    );
    let p = prober.web_host(LOCAL, "web.test", &Loopback).await;
    assert_eq!(p.rustls, Handshake::Completed);
    assert!(
        prober.stats().tls_cpu > Duration::ZERO,
        "TLS work not metered"
    );
    let n = p.negotiated.clone().unwrap();
    assert_eq!(n.version, TlsVersion::Tls13);
    assert_eq!(n.suite >> 8, 0x13, "a TLS 1.3 suite: {:04x}", n.suite);
    assert_eq!(
        n.group,
        Some(0x001D),
        "x25519: the ring server has no ML-KEM and takes the client's X25519 share"
    );
    assert!(!n.hello_retry);
    assert_eq!(n.alpn.as_deref(), Some("http/1.1"));
    let (cert, ev) = p.certificate.clone().unwrap();
    assert_eq!(cert.status, Status::Valid, "{cert:?}");
    assert_eq!(ev.key.as_deref(), Some("EC P-256"));
    assert!(ev.not_after.is_some());
    // rustls-only server: no TLS 1.0/1.1, and nothing worse than the negotiated class.
    assert_eq!(p.legacy_versions, Ok(vec![]));
    assert!(p.cipher_probes.iter().all(|(_, r)| *r == Ok(false)));
    let head = p.https_response.clone().unwrap().unwrap();
    assert_eq!(head.status, 200);
    assert!(head
        .headers
        .iter()
        .any(|(n, v)| n == "strict-transport-security" && v.starts_with("max-age=31536000")));
    let sec = p.security_txt.clone().unwrap().unwrap();
    assert_eq!(sec.status, 200);
    assert!(String::from_utf8_lossy(&sec.body).contains("Contact:"));
    assert_eq!(
        p.port80,
        Port80::Response {
            status: 301,
            location: Some("https://web.test/".into())
        }
    );
    // The chain went on to https://web.test/ (port 443 from the URL, nothing there here).
    assert_eq!(p.redirect_chain[0], "301 https://web.test/");
    assert!(p.redirect_chain.len() == 2 && p.redirect_chain[1].starts_with("error: "));

    // The same (address, SNI) again comes from the cache; another name is a new probe, and
    // the same certificate does not match it.
    let before = prober.stats();
    let again = prober.web_host(LOCAL, "WEB.test", &Loopback).await;
    assert!(Arc::ptr_eq(&p, &again));
    assert_eq!(prober.stats().shared_hits, before.shared_hits + 1);
    assert_eq!(prober.stats().connects, before.connects);
    let other = prober.web_host(LOCAL, "other.test", &Loopback).await;
    assert_eq!(
        other.certificate.as_ref().unwrap().0.status,
        Status::NameMismatch
    );
}

/// Every HTTPS handshake costs the measured server a signature: a web host whose server keeps
/// connections open gets one, which carries security.txt and the home page, and the http
/// redirect to that same home page is answered by it. A server that closes after each
/// response gets a second connection for the home page.
#[tokio::test]
async fn one_handshake_carries_security_txt_home_page_and_redirect() {
    let pki = Pki::new();
    let cfg_tls = pki.server_config(&["web.test"], &[&rustls::version::TLS13], &[b"http/1.1"]);
    // http://web.test/ redirects to the home page on the HTTPS server at `https`.
    let redirecting_to = |https: SocketAddr| {
        let location = format!("https://web.test:{}/", https.port());
        http_server(Arc::new(move |_: &str| {
            response("301 Moved", &[("location", &location)], "")
        }))
    };
    let (https, handshakes, requests) =
        https_server_keep_alive(cfg_tls.clone(), Arc::new(site)).await;
    let prober = Prober::new(
        config(https, redirecting_to(https).await, closed_port().await),
        pki.trust(),
        Arc::new(DirectDialer),
    );
    let p = prober.web_host(LOCAL, "web.test", &Loopback).await;
    assert_eq!(p.https_response.clone().unwrap().unwrap().status, 200);
    let sec = p.security_txt.clone().unwrap().unwrap();
    assert!(String::from_utf8_lossy(&sec.body).contains("Contact:"));
    let home = format!("https://web.test:{}/", https.port());
    assert_eq!(p.redirect_chain, vec![format!("301 {home}"), "200".into()]);
    assert_eq!(handshakes.load(Ordering::SeqCst), 1, "one TLS handshake");
    assert_eq!(requests.load(Ordering::SeqCst), 2, "security.txt and /");
    assert_eq!(prober.stats().tls_handshakes, 1);
    assert_eq!(prober.stats().reused_connections, 2);

    // A server that closes after each response: the home page on a connection of its own.
    let closing = https_server(cfg_tls, Arc::new(site)).await;
    let prober = Prober::new(
        config(closing, redirecting_to(closing).await, closed_port().await),
        pki.trust(),
        Arc::new(DirectDialer),
    );
    let p = prober.web_host(LOCAL, "web.test", &Loopback).await;
    assert_eq!(p.https_response.clone().unwrap().unwrap().status, 200);
    assert_eq!(p.security_txt.clone().unwrap().unwrap().status, 200);
    assert_eq!(p.redirect_chain.last().map(String::as_str), Some("200"));
    assert_eq!(prober.stats().tls_handshakes, 2);
    assert_eq!(prober.stats().reused_connections, 1, "the redirect only");
}

#[tokio::test]
async fn a_handshake_that_times_out_once_is_tried_again() {
    let pki = Pki::new();
    let cfg_tls = pki.server_config(&["busy.test"], &[&rustls::version::TLS13], &[]);
    // The first connection waits past the step timeout (a busy server's accept queue).
    let https = https_server_silent_first(cfg_tls, Arc::new(|p: &str| site(p)), 1).await;
    let closed = closed_port().await;
    let prober = Prober::new(
        config(https, closed, closed),
        pki.trust(),
        Arc::new(DirectDialer),
    );
    let p = prober.web_host(LOCAL, "busy.test", &Loopback).await;
    assert_eq!(p.rustls, Handshake::Completed);
    assert_eq!(p.https_response.clone().unwrap().unwrap().status, 200);
    assert_eq!(prober.stats().retries, 1);
    // Once per host part: a host silent on every connection costs one retry, not one per
    // connection (silent_host_is_an_error_in_time checks the time bound).
}

#[tokio::test]
async fn a_loopback_handshake_and_the_records_over_it_count_as_tls_cpu() {
    let pki = Pki::new();
    let cfg_tls = pki.server_config(&["web.test"], &[&rustls::version::TLS13], &[b"http/1.1"]);
    let https = https_server(cfg_tls, Arc::new(site)).await;
    let meter = Arc::new(CpuMeter::default());
    let step = Duration::from_secs(2);
    let tcp = Connection::open(https, step).await.unwrap();
    let (stream, facts) = tls::handshake(tls::Configs::new().http1, tcp, "web.test", step, &meter)
        .await
        .unwrap();
    assert_eq!(facts.version, TlsVersion::Tls13);
    let handshake = meter.total();
    assert!(handshake > Duration::ZERO, "the handshake was not metered");
    let r = http::get(stream, "web.test", "/", "test", Some(1024), step)
        .await
        .unwrap();
    assert_eq!(r.status, 200);
    assert!(
        meter.total() > handshake,
        "the request's TLS records were not metered"
    );
}

#[tokio::test]
async fn tls12_only_server_and_untrusted_certificate() {
    let pki = Pki::new();
    let stranger = Pki::new();
    let cfg_tls = pki.server_config(&["web.test"], &[&rustls::version::TLS12], &[]);
    let https = https_server(cfg_tls, Arc::new(site)).await;
    let closed = closed_port().await;
    let prober = Prober::new(
        config(https, closed, closed),
        stranger.trust(),
        Arc::new(DirectDialer),
    );
    let p = prober.web_host(LOCAL, "web.test", &Loopback).await;
    assert_eq!(p.rustls, Handshake::Completed);
    let n = p.negotiated.clone().unwrap();
    assert_eq!(n.version, TlsVersion::Tls12);
    assert_eq!(n.alpn, None);
    assert_eq!(p.certificate.clone().unwrap().0.status, Status::Untrusted);
    assert_eq!(p.port80, Port80::Refused);
}

#[tokio::test]
async fn tls10_only_server_is_seen_by_the_legacy_probe() {
    let pki = Pki::new();
    let (chain, _) = pki.leaf(&["old.test"]);
    let https = tls10_server(chain).await;
    let closed = closed_port().await;
    let prober = Prober::new(
        config(https, closed, closed),
        pki.trust(),
        Arc::new(DirectDialer),
    );
    let p = prober.web_host(LOCAL, "old.test", &Loopback).await;
    assert!(
        matches!(&p.rustls, Handshake::Failed(why) if why.contains("ProtocolVersion")),
        "{:?}",
        p.rustls
    );
    assert_eq!(p.legacy, Some(Handshake::Completed));
    assert_eq!(p.legacy_versions, Ok(vec![TlsVersion::Tls10]));
    assert_eq!(p.negotiated.as_ref().unwrap().version, TlsVersion::Tls10);
    // The chain came in the clear with the ServerHello.
    assert_eq!(p.certificate.as_ref().unwrap().0.status, Status::Valid);
    // The per-class probe offering insufficient suites got a ServerHello with one of them.
    assert!(p.cipher_probes.iter().any(|(_, r)| *r == Ok(true)));
    let f = uptake_checks::web::https(&p.rustls, p.legacy.as_ref());
    assert_eq!(f.status, Status::Available);
    assert_eq!(f.reason.as_deref(), Some("TLS 1.0/1.1 only"));
}

#[tokio::test]
async fn tls10_only_server_gets_its_pages_fetched_over_openssl() {
    let pki = Pki::new();
    let (chain, key) = pki.leaf(&["old.test"]);
    let https = tls10_https_server(chain, key, Arc::new(|p: &str| site(p))).await;
    // Port 80 redirects to the same (TLS 1.0-only) host over https.
    let location = format!("https://old.test:{}/", https.port());
    let loc = location.clone();
    let http = http_server(Arc::new(move |_: &str| {
        response("301 Moved", &[("location", &loc)], "")
    }))
    .await;
    let prober = Prober::new(
        config(https, http, http),
        pki.trust(),
        Arc::new(DirectDialer),
    );
    let p = prober.web_host(LOCAL, "old.test", &Loopback).await;
    assert!(matches!(&p.rustls, Handshake::Failed(_)), "{:?}", p.rustls);
    assert_eq!(p.legacy, Some(Handshake::Completed));
    assert_eq!(p.legacy_versions, Ok(vec![TlsVersion::Tls10]));
    assert_eq!(p.certificate.as_ref().unwrap().0.status, Status::Valid);
    // GET / and security.txt went over OpenSSL: the headers and the file are there.
    let head = p.https_response.clone().unwrap().unwrap();
    assert_eq!(head.status, 200);
    assert!(head
        .headers
        .iter()
        .any(|(n, v)| n == "strict-transport-security" && v.starts_with("max-age=31536000")));
    let sec = p.security_txt.clone().unwrap().unwrap();
    assert_eq!(sec.status, 200);
    assert!(String::from_utf8_lossy(&sec.body).contains("Contact: mailto:security@web.test"));
    // The https hop of the redirect chain: rustls turned down, then OpenSSL.
    assert_eq!(
        p.redirect_chain,
        vec![format!("301 {location}"), "200".to_string()]
    );
    // security.txt and GET / over OpenSSL (the server closes after each), and http://; the
    // https hop is the same request as that GET / and is answered by it.
    assert_eq!(prober.stats().http_requests, 3);
    assert_eq!(prober.stats().reused_connections, 1);
}

#[tokio::test]
async fn starttls_session_sends_no_mail_and_is_shared() {
    let pki = Pki::new();
    let cfg_tls = pki.server_config(
        &["mx.test"],
        &[&rustls::version::TLS13, &rustls::version::TLS12],
        &[],
    );
    let commands = Arc::new(Mutex::new(Vec::new()));
    let smtp = smtp_server(Some(cfg_tls), commands.clone()).await;
    let closed = closed_port().await;
    let prober = Prober::new(
        config(closed, closed, smtp),
        pki.trust(),
        Arc::new(DirectDialer),
    );
    let results =
        futures::future::join_all((0..20).map(|_| prober.mx_host("mx.test", &[LOCAL]))).await;
    let p = &results[0];
    match &p.smtp {
        Smtp::Tls { version, chain } => {
            assert_eq!(*version, TlsVersion::Tls13);
            assert_eq!(chain.len(), 1);
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(p.certificate.as_ref().unwrap().status, Status::Valid);
    assert!(
        prober.stats().tls_cpu > Duration::ZERO,
        "STARTTLS not metered"
    );
    assert!(results.iter().all(|r| Arc::ptr_eq(r, p)));
    assert_eq!(
        prober.stats().smtp_sessions,
        1,
        "one session for 20 domains"
    );
    let seen = commands.lock().unwrap().clone();
    assert_eq!(seen, vec!["EHLO scanner.test", "STARTTLS", "QUIT"]);
}

#[tokio::test]
async fn smtp_without_starttls_and_refused() {
    let commands = Arc::new(Mutex::new(Vec::new()));
    let smtp = smtp_server(None, commands.clone()).await;
    let closed = closed_port().await;
    let pki = Pki::new();
    let prober = Prober::new(
        config(closed, closed, smtp),
        pki.trust(),
        Arc::new(DirectDialer),
    );
    let p = prober.mx_host("plain.test", &[LOCAL]).await;
    assert_eq!(p.smtp, Smtp::NoStarttls("STARTTLS not offered".into()));
    assert_eq!(
        commands.lock().unwrap().clone(),
        vec!["EHLO scanner.test", "QUIT"]
    );
    // A session without TLS costs no TLS time.
    assert_eq!(prober.stats().tls_cpu, Duration::ZERO);
    let prober = Prober::new(
        config(closed, closed, closed),
        pki.trust(),
        Arc::new(DirectDialer),
    );
    let p = prober.mx_host("closed.test", &[LOCAL]).await;
    assert_eq!(p.smtp, Smtp::Error("port 25 refused".into()));
    let p = prober.mx_host("noaddr.test", &[]).await;
    assert!(matches!(&p.smtp, Smtp::Error(w) if w.contains("no address")));
}

#[tokio::test]
async fn mta_sts_policy_fetch() {
    let pki = Pki::new();
    let cfg_tls = pki.server_config(&["mta-sts.mail.test"], &[&rustls::version::TLS13], &[]);
    let https = https_server(
        cfg_tls,
        Arc::new(|path: &str| {
            if path == "/.well-known/mta-sts.txt" {
                response(
                    "200 OK",
                    &[("content-type", "text/plain")],
                    "version: STSv1\nmode: enforce\nmx: mx.mail.test\nmax_age: 86400\n",
                )
            } else {
                response("404 Not Found", &[], "")
            }
        }),
    )
    .await;
    let closed = closed_port().await;
    let prober = Prober::new(
        config(https, closed, closed),
        pki.trust(),
        Arc::new(DirectDialer),
    );
    match prober.mta_sts_policy("mta-sts.mail.test", &[LOCAL]).await {
        PolicyResult::Fetched {
            certificate,
            document,
        } => {
            assert_eq!(certificate.status, Status::Valid);
            assert_eq!(document.status, 200);
            assert!(String::from_utf8_lossy(&document.body).contains("mode: enforce"));
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        prober.mta_sts_policy("mta-sts.none.test", &[]).await,
        PolicyResult::Failed(_)
    ));
    let prober = Prober::new(
        config(closed, closed, closed),
        pki.trust(),
        Arc::new(DirectDialer),
    );
    assert_eq!(
        prober.mta_sts_policy("mta-sts.mail.test", &[LOCAL]).await,
        PolicyResult::Failed("connection refused".into())
    );
}

// ---- hostile hosts: each ends as an error with a reason within the bound ----

fn assert_bounded(started: Instant, cfg: &ProbeConfig) {
    let took = started.elapsed();
    assert!(
        took <= cfg.host_deadline + Duration::from_secs(2),
        "took {took:?}, bound {:?}",
        cfg.host_deadline
    );
}

#[tokio::test]
async fn silent_host_is_an_error_in_time() {
    let silent = silent_server().await;
    let pki = Pki::new();
    let cfg = config(silent, silent, silent);
    let prober = Prober::new(cfg.clone(), pki.trust(), Arc::new(DirectDialer));
    let started = Instant::now();
    let (web, mx) = futures::join!(
        prober.web_host(LOCAL, "silent.test", &Loopback),
        prober.mx_host("silent.test", &[LOCAL])
    );
    assert_bounded(started, &cfg);
    assert!(
        matches!(&web.rustls, Handshake::Error(w) if w.contains("timed out")),
        "{:?}",
        web.rustls
    );
    assert!(matches!(&web.port80, Port80::Error(w) if w.contains("timed out")));
    assert!(web
        .legacy_versions
        .as_ref()
        .is_err_and(|w| w.contains("timed out")));
    let https = uptake_checks::web::https(&web.rustls, web.legacy.as_ref());
    assert_eq!(https.status, Status::Error);
    // One retry for port 443 (the handshake), one for port 80 (the response).
    assert_eq!(prober.stats().retries, 2);
    assert!(
        matches!(&mx.smtp, Smtp::Error(w) if w.contains("SMTP banner timed out")),
        "{:?}",
        mx.smtp
    );
}

#[tokio::test]
async fn one_byte_per_second_is_an_error_in_time() {
    let slow_http = trickle_server(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n").await;
    let slow_smtp = trickle_server(b"220 slow.test ESMTP\r\n").await;
    let slow_tls = trickle_server(&[0x16, 0x03, 0x03, 0x00, 0x40, 0x02, 0x00, 0x00, 0x3c]).await;
    let pki = Pki::new();
    let cfg = config(slow_tls, slow_http, slow_smtp);
    let prober = Prober::new(cfg.clone(), pki.trust(), Arc::new(DirectDialer));
    let started = Instant::now();
    let (web, mx) = futures::join!(
        prober.web_host(LOCAL, "slow.test", &Loopback),
        prober.mx_host("slow.test", &[LOCAL])
    );
    assert_bounded(started, &cfg);
    assert!(
        matches!(&web.port80, Port80::Error(w) if w.contains("timed out")),
        "{:?}",
        web.port80
    );
    assert!(
        matches!(&web.rustls, Handshake::Error(w) if w.contains("timed out")),
        "{:?}",
        web.rustls
    );
    assert!(
        matches!(&mx.smtp, Smtp::Error(w) if w.contains("timed out")),
        "{:?}",
        mx.smtp
    );
}

#[tokio::test]
async fn endless_redirects_stop_at_the_bound() {
    let hops = Arc::new(AtomicU64::new(0));
    let h = hops.clone();
    let http = http_server(Arc::new(move |path: &str| {
        h.fetch_add(1, Ordering::SeqCst);
        let n: u64 = path.trim_start_matches("/r").parse().unwrap_or(0);
        response("302 Found", &[("location", &format!("/r{}", n + 1))], "")
    }))
    .await;
    let closed = closed_port().await;
    let pki = Pki::new();
    let cfg = config(closed, http, closed);
    let prober = Prober::new(cfg.clone(), pki.trust(), Arc::new(DirectDialer));
    let started = Instant::now();
    let p = prober.web_host(LOCAL, "loop.test", &Loopback).await;
    assert_bounded(started, &cfg);
    assert_eq!(p.redirect_chain.len(), cfg.max_redirects + 2);
    assert_eq!(
        p.redirect_chain.last().unwrap(),
        &format!("error: more than {} redirects", cfg.max_redirects)
    );
    assert_eq!(hops.load(Ordering::SeqCst), cfg.max_redirects as u64 + 1);
    // The first hop stays the evidence of https_redirect.
    assert!(matches!(&p.port80, Port80::Response { status: 302, .. }));
}

#[tokio::test]
async fn gigabyte_body_is_cut_at_the_cap() {
    let sent = Arc::new(AtomicU64::new(0));
    let big = gigabyte_server(sent.clone()).await;
    let started = Instant::now();
    let tcp = tokio::net::TcpStream::connect(big).await.unwrap();
    let r = uptake_probes::http::get(
        tcp,
        "big.test",
        "/.well-known/security.txt",
        "test",
        Some(32 * 1024),
        Duration::from_secs(2),
    )
    .await;
    assert_eq!(r, Err(uptake_probes::ProbeError::BodyTooLarge(32 * 1024)));
    assert!(started.elapsed() < Duration::from_secs(3));
    tokio::time::sleep(Duration::from_millis(200)).await;
    // The server got stuck once the client stopped reading: far less than 1 GB moved.
    assert!(sent.load(Ordering::Relaxed) < 64 * 1024 * 1024);

    // Over the MTA-STS path the same body is an invalid policy ("too large"), not a hang.
    let pki = Pki::new();
    let cfg_tls = pki.server_config(&["mta-sts.big.test"], &[&rustls::version::TLS13], &[]);
    let https = https_server(
        cfg_tls,
        Arc::new(|_: &str| {
            let mut r = "HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\n\r\n".to_string();
            r.push_str(&"x".repeat(200 * 1024));
            r
        }),
    )
    .await;
    let closed = closed_port().await;
    let prober = Prober::new(
        config(https, closed, closed),
        pki.trust(),
        Arc::new(DirectDialer),
    );
    assert_eq!(
        prober.mta_sts_policy("mta-sts.big.test", &[LOCAL]).await,
        PolicyResult::Failed("policy larger than 64 KiB".into())
    );
}

#[tokio::test]
async fn tls_garbage_is_an_error() {
    let junk = garbage_server().await;
    let closed = closed_port().await;
    let pki = Pki::new();
    let cfg = config(junk, closed, closed);
    let prober = Prober::new(cfg.clone(), pki.trust(), Arc::new(DirectDialer));
    let started = Instant::now();
    let p = prober.web_host(LOCAL, "junk.test", &Loopback).await;
    assert_bounded(started, &cfg);
    assert!(
        matches!(&p.rustls, Handshake::Error(w) if w.contains("TLS protocol error")),
        "{:?}",
        p.rustls
    );
    assert!(p
        .legacy_versions
        .as_ref()
        .is_err_and(|w| w.contains("not a TLS record")));
    let https = uptake_checks::web::https(&p.rustls, p.legacy.as_ref());
    assert_eq!(https.status, Status::Error);
    assert!(https.reason.is_some());
}

#[tokio::test]
async fn gigabyte_security_txt_over_https_is_cut_at_the_cap() {
    let pki = Pki::new();
    let cfg_tls = pki.server_config(&["big.test"], &[&rustls::version::TLS13], &[]);
    let sent = Arc::new(AtomicU64::new(0));
    let https = https_gigabyte_server(cfg_tls, sent.clone()).await;
    let closed = closed_port().await;
    let cfg = config(https, closed, closed);
    let prober = Prober::new(cfg.clone(), pki.trust(), Arc::new(DirectDialer));
    let started = Instant::now();
    let p = prober.web_host(LOCAL, "big.test", &Loopback).await;
    assert_bounded(started, &cfg);
    // GET / reads the head only; security.txt stops at its cap.
    assert_eq!(p.https_response.clone().unwrap().unwrap().status, 200);
    assert_eq!(
        p.security_txt.clone().unwrap(),
        Err(format!("body larger than {} bytes", cfg.security_txt_cap))
    );
    tokio::time::sleep(Duration::from_millis(200)).await;
    // Two responses of 1 GB were offered; far less moved (the client stopped reading).
    assert!(sent.load(Ordering::Relaxed) < 64 * 1024 * 1024);
}

#[tokio::test]
async fn starttls_then_silence_or_garbage_is_an_error_in_time() {
    let pki = Pki::new();
    for (after, needle) in [
        (AfterStarttls::Silence, "timed out"),
        (AfterStarttls::Garbage, "TLS protocol error"),
    ] {
        let smtp = smtp_hostile_after_starttls(after).await;
        let closed = closed_port().await;
        let cfg = config(closed, closed, smtp);
        let prober = Prober::new(cfg.clone(), pki.trust(), Arc::new(DirectDialer));
        let started = Instant::now();
        let mx = prober.mx_host("hostile.test", &[LOCAL]).await;
        assert_bounded(started, &cfg);
        assert!(
            matches!(&mx.smtp, Smtp::Error(w) if w.contains(needle)),
            "{after:?}: {:?}",
            mx.smtp
        );
        let f = uptake_checks::mail::starttls(std::slice::from_ref(&mx.smtp));
        assert_eq!(f.finding.status, Status::Error, "{after:?}");
    }
}

#[tokio::test]
async fn tls10_host_whose_full_handshake_stalls_is_an_error_in_time() {
    let pki = Pki::new();
    let (chain, _) = pki.leaf(&["stall.test"]);
    // Answers the raw hellos (TLS 1.0 accepted), then never finishes a handshake.
    let https = tls10_server_holding(chain, Duration::from_secs(60)).await;
    let closed = closed_port().await;
    // Four steps time out (rustls, its retry, GET / and security.txt over OpenSSL): a host
    // deadline above that, so each shows its own reason.
    let cfg = ProbeConfig {
        host_deadline: Duration::from_secs(12),
        ..config(https, closed, closed)
    };
    let prober = Prober::new(cfg.clone(), pki.trust(), Arc::new(DirectDialer));
    let started = Instant::now();
    let p = prober.web_host(LOCAL, "stall.test", &Loopback).await;
    assert_bounded(started, &cfg);
    assert!(
        matches!(&p.rustls, Handshake::Error(w) if w.contains("timed out")),
        "{:?}",
        p.rustls
    );
    assert_eq!(p.legacy, Some(Handshake::Completed));
    for (what, r) in [
        ("GET /", p.https_response.clone().unwrap().map(|_| ())),
        ("security.txt", p.security_txt.clone().unwrap().map(|_| ())),
    ] {
        assert!(
            r.as_ref()
                .is_err_and(|w| w.contains("TLS handshake (OpenSSL) timed out")),
            "{what}: {r:?}"
        );
    }
}

/// The kinds of server the `pq_kex` check must tell apart, over HTTPS and over SMTP
/// STARTTLS, served by the testbed's rustls servers (`uptake testbed serve-tls`) on loopback
/// and judged by `uptake_checks::web::tls::pq_kex` on what the probe recorded.
#[tokio::test]
async fn pq_kex_hybrid_only_prefers_classical_and_hello_retry() {
    use uptake_checks::web::tls::pq_kex;
    use uptake_testbed::serve::{spawn, PqFlavour, Service, Site, TlsServer};
    let pki = Pki::new();
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, text: &str| {
        let p = dir.path().join(name);
        std::fs::write(&p, text).unwrap();
        p.display().to_string()
    };
    let (web_cert, web_key) = pki.leaf_pem(&["web.test"]);
    let (mx_cert, mx_key) = pki.leaf_pem(&["mx.test"]);
    let (web_cert, web_key) = (write("web.pem", &web_cert), write("web.key", &web_key));
    let (mx_cert, mx_key) = (write("mx.pem", &mx_cert), write("mx.key", &mx_key));
    let server = |flavour, service| TlsServer {
        listen: vec![SocketAddr::new(LOCAL, 0)],
        flavour,
        service,
    };
    let cases = [
        (PqFlavour::HybridOnly, 0x11EC, false, Status::PqHybrid),
        (PqFlavour::HybridFirst, 0x11EC, false, Status::PqHybrid),
        (
            PqFlavour::PrefersClassical,
            0x001D,
            false,
            Status::Classical,
        ),
        (PqFlavour::HelloRetry, 0x11EB, true, Status::PqHybrid),
    ];
    for (flavour, group, retry, status) in cases {
        let site = Site {
            names: vec!["web.test".into()],
            cert: web_cert.clone(),
            key: web_key.clone(),
            body: "web.test\n".into(),
            headers: vec![(
                "Strict-Transport-Security".into(),
                "max-age=31536000".into(),
            )],
            security_txt: Some(("text/plain".into(), "Contact: mailto:s@web.test\n".into())),
        };
        let https = spawn(server(flavour, Service::Https { sites: vec![site] }))
            .await
            .unwrap()[0];
        let smtp = spawn(server(
            flavour,
            Service::Smtp {
                host: "mx.test".into(),
                cert: mx_cert.clone(),
                key: mx_key.clone(),
            },
        ))
        .await
        .unwrap()[0];
        let prober = Prober::new(
            config(https, closed_port().await, smtp),
            pki.trust(),
            Arc::new(DirectDialer),
        );
        let web = prober.web_host(LOCAL, "web.test", &Loopback).await;
        assert_eq!(web.rustls, Handshake::Completed, "{flavour:?}");
        let n = web.negotiated.clone().unwrap();
        assert_eq!(n.version, TlsVersion::Tls13, "{flavour:?}");
        assert_eq!(n.group, Some(group), "{flavour:?}: web group");
        assert_eq!(n.hello_retry, retry, "{flavour:?}: web HelloRetryRequest");
        assert_eq!(pq_kex(n.group).status, status, "{flavour:?}: web");
        // The same handshake served the other web checks.
        assert_eq!(web.certificate.as_ref().unwrap().0.status, Status::Valid);
        let head = web.https_response.clone().unwrap().unwrap();
        assert_eq!(head.status, 200);
        assert!(head
            .headers
            .iter()
            .any(|(k, v)| k == "strict-transport-security" && v == "max-age=31536000"));
        assert_eq!(web.security_txt.clone().unwrap().unwrap().status, 200);
        assert_eq!(
            web.legacy_versions,
            Ok(vec![]),
            "{flavour:?}: no TLS 1.0/1.1"
        );
        let mx = prober.mx_host("mx.test", &[LOCAL]).await;
        let m = mx
            .negotiated
            .clone()
            .unwrap_or_else(|| panic!("{flavour:?}: {:?}", mx.smtp));
        assert_eq!(m.group, Some(group), "{flavour:?}: MX group");
        assert_eq!(m.hello_retry, retry, "{flavour:?}: MX HelloRetryRequest");
        assert_eq!(pq_kex(m.group).status, status, "{flavour:?}: MX");
        assert_eq!(mx.certificate.as_ref().unwrap().status, Status::Valid);
        // Another MX name on the same server gets the same certificate (as from Postfix).
        let other = prober.mx_host("mx2.test", &[LOCAL]).await;
        assert!(
            matches!(other.smtp, Smtp::Tls { .. }),
            "{flavour:?}: {:?}",
            other.smtp
        );
        assert_eq!(prober.stats().smtp_sessions, 2, "{flavour:?}");
    }
}
