//! Web and mail hosting of the private internet: the servers (shared providers and own
//! hosts), what each domain deploys on them, and the truth of the web and mail checks.
//!
//! What a TLS server negotiates is a property of its address: nginx picks the protocol
//! versions and cipher list of an address before it sees the SNI name (measured: a second
//! SNI virtual host's `ssl_protocols` is ignored), and a hosting provider has one TLS setup
//! for all its customers. So versions and ciphers belong to a [`WebServer`]; certificates,
//! HSTS, redirects, security.txt, headers and the MTA-STS policy belong to the domain.
//!
//! The truth is derived here from these profiles and the testbed's own table of cipher
//! suites ([`SUITES`], classed by NCSC-NL 2025 appendix B as CHECKS.md states it), never by
//! calling uptake's evaluators.

use std::net::{Ipv4Addr, Ipv6Addr};

use uptake_model::Status;

use super::rng::Rng;
use crate::serve::PqFlavour;

/// TLS key of a certificate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeyType {
    /// RSA 2048 bits.
    Rsa2048,
    /// RSA 3072 bits.
    Rsa3072,
    /// ECDSA P-256.
    Ecdsa,
}

impl KeyType {
    /// Every key type (key pool order).
    pub const ALL: [KeyType; 3] = [KeyType::Rsa2048, KeyType::Rsa3072, KeyType::Ecdsa];

    /// File stem of the pool key.
    pub const fn stem(self) -> &'static str {
        match self {
            KeyType::Rsa2048 => "rsa2048",
            KeyType::Rsa3072 => "rsa3072",
            KeyType::Ecdsa => "ecdsa-p256",
        }
    }

    fn is_rsa(self) -> bool {
        self != KeyType::Ecdsa
    }
}

/// What is wrong (or not) with a certificate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CertKind {
    /// Issued by the testbed CA for the right names, valid now.
    Valid,
    /// Issued by the testbed CA, expired in 2020.
    Expired,
    /// Issued by the testbed CA for another name.
    WrongName,
    /// Self-signed.
    SelfSigned,
    /// Issued by a CA nobody trusts.
    Untrusted,
}

impl CertKind {
    /// The `certificate` status of a host presenting it.
    pub const fn status(self) -> Status {
        match self {
            CertKind::Valid => Status::Valid,
            CertKind::Expired => Status::Expired,
            CertKind::WrongName => Status::NameMismatch,
            CertKind::SelfSigned => Status::SelfSigned,
            CertKind::Untrusted => Status::Untrusted,
        }
    }
}

/// TLS protocol versions a server enables.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Versions {
    /// TLS 1.0 only.
    V10,
    /// TLS 1.0 to 1.2.
    V10To12,
    /// TLS 1.1 and 1.2.
    V11To12,
    /// TLS 1.2 only.
    V12,
    /// TLS 1.2 and 1.3.
    V12To13,
    /// TLS 1.3 only.
    V13,
    /// TLS 1.0 to 1.3.
    V10To13,
}

impl Versions {
    /// (lowest, highest) as minor numbers of TLS 1.x.
    pub const fn range(self) -> (u8, u8) {
        match self {
            Versions::V10 => (0, 0),
            Versions::V10To12 => (0, 2),
            Versions::V11To12 => (1, 2),
            Versions::V12 => (2, 2),
            Versions::V12To13 => (2, 3),
            Versions::V13 => (3, 3),
            Versions::V10To13 => (0, 3),
        }
    }

    /// nginx `ssl_protocols` value.
    pub fn nginx(self) -> String {
        let (lo, hi) = self.range();
        (lo..=hi)
            .map(|m| {
                if m == 0 {
                    "TLSv1".into()
                } else {
                    format!("TLSv1.{m}")
                }
            })
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// Some version below TLS 1.2 is enabled.
    pub const fn legacy(self) -> bool {
        self.range().0 < 2
    }
}

/// NCSC-NL 2025 class of a cipher suite (appendix B, as CHECKS.md cites it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Class {
    /// Good.
    Good,
    /// Sufficient.
    Sufficient,
    /// Phase out.
    PhaseOut,
    /// Insufficient.
    Insufficient,
}

impl Class {
    /// The `tls_cipher` status word.
    pub const fn status(self) -> Status {
        match self {
            Class::Good => Status::Good,
            Class::Sufficient => Status::Sufficient,
            Class::PhaseOut => Status::PhaseOut,
            Class::Insufficient => Status::Insufficient,
        }
    }
}

/// Which certificate key a suite needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Auth {
    Rsa,
    Ecdsa,
}

/// The TLS 1.0-1.2 suites the testbed's servers are configured with: OpenSSL name, the key
/// it needs, the lowest TLS 1.x minor version it works with, and its class (NCSC-NL 2025:
/// ECDHE with AEAD good; ECDHE with CBC sufficient; RSA key exchange phase out; Camellia
/// insufficient). Debian 12's OpenSSL has no 3DES or RC4, so these are the choices left.
const SUITES: &[(&str, Auth, u8, Class)] = &[
    ("ECDHE-ECDSA-AES128-GCM-SHA256", Auth::Ecdsa, 2, Class::Good),
    ("ECDHE-RSA-AES128-GCM-SHA256", Auth::Rsa, 2, Class::Good),
    ("ECDHE-ECDSA-AES256-GCM-SHA384", Auth::Ecdsa, 2, Class::Good),
    ("ECDHE-RSA-AES256-GCM-SHA384", Auth::Rsa, 2, Class::Good),
    ("ECDHE-ECDSA-CHACHA20-POLY1305", Auth::Ecdsa, 2, Class::Good),
    ("ECDHE-RSA-CHACHA20-POLY1305", Auth::Rsa, 2, Class::Good),
    (
        "ECDHE-ECDSA-AES128-SHA256",
        Auth::Ecdsa,
        2,
        Class::Sufficient,
    ),
    ("ECDHE-RSA-AES128-SHA256", Auth::Rsa, 2, Class::Sufficient),
    ("ECDHE-ECDSA-AES128-SHA", Auth::Ecdsa, 0, Class::Sufficient),
    ("ECDHE-RSA-AES128-SHA", Auth::Rsa, 0, Class::Sufficient),
    ("AES128-GCM-SHA256", Auth::Rsa, 2, Class::PhaseOut),
    ("AES128-SHA", Auth::Rsa, 0, Class::PhaseOut),
    ("CAMELLIA128-SHA", Auth::Rsa, 0, Class::Insufficient),
    (
        "ECDHE-ECDSA-CAMELLIA128-SHA256",
        Auth::Ecdsa,
        2,
        Class::Insufficient,
    ),
];

/// A web server address: nginx on 80 and/or 443 with one TLS setup.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WebServer {
    /// IPv4 address.
    pub v4: Ipv4Addr,
    /// IPv6 address (published as AAAA of the domains that have one).
    pub v6: Ipv6Addr,
    /// nginx listens on the IPv6 address too (else nothing does: connections are refused).
    pub v6_listens: bool,
    /// Port 80 open.
    pub port80: bool,
    /// Port 443 open.
    pub port443: bool,
    /// TLS versions.
    pub versions: Versions,
    /// The worst class of suites configured (all suites of this class and better are).
    pub ciphers: Class,
    /// Port 443 is served by the testbed's rustls server with these key-exchange groups
    /// (TLS 1.2-1.3, good suites); `None`: by nginx (OpenSSL 3.0, classical groups only).
    pub pq: Option<PqFlavour>,
}

impl WebServer {
    /// nginx `ssl_ciphers` value: every suite of [`SUITES`] whose class is at most
    /// `self.ciphers`, with `@SECLEVEL=0` when TLS 1.0/1.1 or insufficient suites are on
    /// (OpenSSL 3 refuses them at the default level).
    pub fn nginx_ciphers(&self) -> String {
        let mut list: Vec<&str> = SUITES
            .iter()
            .filter(|s| s.3 <= self.ciphers)
            .map(|s| s.0)
            .collect();
        if self.versions.legacy() || self.ciphers == Class::Insufficient {
            list.push("@SECLEVEL=0");
        }
        list.join(":")
    }

    /// Suites a client can negotiate with a host of this server presenting a `key` certificate.
    fn usable(
        &self,
        key: KeyType,
    ) -> impl Iterator<Item = &'static (&'static str, Auth, u8, Class)> + '_ {
        let (lo, hi) = self.versions.range();
        SUITES.iter().filter(move |s| {
            lo <= 2 && s.3 <= self.ciphers && (s.1 == Auth::Rsa) == key.is_rsa() && s.2 <= hi.min(2)
        })
    }

    /// `tls_version` of a host on this server with a `key` certificate (HTTPS available).
    pub fn tls_version(&self, key: KeyType) -> Status {
        let (lo, hi) = self.versions.range();
        let legacy_ok = lo < 2 && self.usable(key).any(|s| s.2 <= 1);
        if legacy_ok {
            Status::Insufficient
        } else if hi == 3 {
            Status::Good
        } else {
            Status::Sufficient
        }
    }

    /// `tls_cipher`: the worst class the host accepts (TLS 1.3 suites are all good).
    pub fn tls_cipher(&self, key: KeyType) -> Status {
        let worst = self.usable(key).map(|s| s.3).max().unwrap_or(Class::Good);
        worst.status()
    }
}

/// The shared web hosting providers (many domains on one address each).
pub const WEB_PROVIDERS: [WebServer; 6] = [
    WebServer {
        v4: Ipv4Addr::new(198, 18, 2, 10),
        v6: Ipv6Addr::new(0x2001, 0xdb8, 0x80, 0, 0, 0, 0, 0x10),
        v6_listens: true,
        port80: true,
        port443: true,
        versions: Versions::V12To13,
        ciphers: Class::Good,
        pq: None,
    },
    WebServer {
        v4: Ipv4Addr::new(198, 18, 2, 11),
        v6: Ipv6Addr::new(0x2001, 0xdb8, 0x80, 0, 0, 0, 0, 0x11),
        v6_listens: true,
        port80: true,
        port443: true,
        versions: Versions::V12To13,
        ciphers: Class::Sufficient,
        pq: None,
    },
    WebServer {
        v4: Ipv4Addr::new(198, 18, 2, 12),
        v6: Ipv6Addr::new(0x2001, 0xdb8, 0x80, 0, 0, 0, 0, 0x12),
        v6_listens: true,
        port80: true,
        port443: true,
        versions: Versions::V10To12,
        ciphers: Class::PhaseOut,
        pq: None,
    },
    WebServer {
        v4: Ipv4Addr::new(198, 18, 2, 13),
        v6: Ipv6Addr::new(0x2001, 0xdb8, 0x80, 0, 0, 0, 0, 0x13),
        v6_listens: false,
        port80: true,
        port443: true,
        versions: Versions::V12,
        ciphers: Class::Good,
        pq: None,
    },
    WebServer {
        v4: Ipv4Addr::new(198, 18, 2, 14),
        v6: Ipv6Addr::new(0x2001, 0xdb8, 0x80, 0, 0, 0, 0, 0x14),
        v6_listens: true,
        port80: true,
        port443: true,
        versions: Versions::V13,
        ciphers: Class::Good,
        pq: None,
    },
    WebServer {
        v4: Ipv4Addr::new(198, 18, 2, 15),
        v6: Ipv6Addr::new(0x2001, 0xdb8, 0x80, 0, 0, 0, 0, 0x15),
        v6_listens: true,
        port80: true,
        port443: true,
        versions: Versions::V10To13,
        ciphers: Class::Insufficient,
        pq: None,
    },
];

/// The address that serves every `mta-sts.<domain>` policy host (TLS 1.2-1.3, good suites).
pub const MTA_STS_SERVER: WebServer = WebServer {
    v4: Ipv4Addr::new(198, 18, 2, 100),
    v6: Ipv6Addr::new(0x2001, 0xdb8, 0x80, 0, 0, 0, 0, 0x100),
    v6_listens: false,
    port80: false,
    port443: true,
    versions: Versions::V12To13,
    ciphers: Class::Good,
    pq: None,
};

/// At most this many own web servers; later own-hosted domains share them, as a hosting
/// company's dedicated servers do (nginx holds a socket per address and port).
pub const OWN_SERVERS: usize = 2000;

/// At most this many domains get a web site of their own (a server block per port, a
/// certificate, an MTA-STS policy host): nginx keeps a TLS context per server block. Later
/// domains are parked at a shared provider, whose default site answers for them (see
/// [`parked`]).
pub const WEB_SITES: usize = 10_000;

/// The web profile of a parked domain: provider `k`'s default site, which presents the
/// provider's own certificate (another name), sends no HSTS or security headers, has no
/// security.txt, answers plain HTTP on port 80, and hosts no MTA-STS policy.
pub fn parked(k: usize, tlsa: Tlsa) -> Web {
    Web {
        hosting: WebHosting::Shared(k),
        cert: CertKind::WrongName,
        key: PARKED_KEY,
        redirect: Redirect::None,
        hsts: Hsts::Absent,
        security_txt: SecurityTxt::Absent,
        headers: Headers::None,
        policy: Policy::NoHost,
        tlsa,
    }
}

/// Key of the providers' default-site certificates.
pub const PARKED_KEY: KeyType = KeyType::Rsa2048;

/// At most this many own mail servers (Postfix runs an `smtpd` service per address); later
/// domains with an own MX share them.
pub const OWN_MAIL_SERVERS: usize = 100;

/// Own web server `i` (< [`OWN_SERVERS`]), drawn from the seed.
pub fn own_web_server(seed: u64, i: usize) -> WebServer {
    let mut rng = Rng::new(seed ^ 0x5765_6253_6572_7665, i as u64);
    let versions = rng.weighted(&[
        (Versions::V10, 0.04),
        (Versions::V10To12, 0.12),
        (Versions::V11To12, 0.05),
        (Versions::V12, 0.22),
        (Versions::V12To13, 0.40),
        (Versions::V13, 0.10),
        (Versions::V10To13, 0.07),
    ]);
    let mut ciphers = rng.weighted(&[
        (Class::Good, 0.45),
        (Class::Sufficient, 0.25),
        (Class::PhaseOut, 0.18),
        (Class::Insufficient, 0.12),
    ]);
    if versions.legacy() && ciphers == Class::Good {
        // No good suite works below TLS 1.2: a legacy server has CBC suites.
        ciphers = Class::Sufficient;
    }
    let ports = rng.weighted(&[(0u8, 0.8), (1, 0.1), (2, 0.1)]);
    let mut server = WebServer {
        v4: Ipv4Addr::new(198, 18, 4 + (i / 250) as u8, 1 + (i % 250) as u8),
        v6: Ipv6Addr::new(0x2001, 0xdb8, 0x80, 1, 0, 0, 0, 1 + i as u16),
        v6_listens: rng.chance(0.8),
        port80: ports != 1,
        port443: ports != 2,
        versions,
        ciphers,
        pq: None,
    };
    if rng.chance(OWN_PQ_SHARE) {
        // The rustls server: TLS 1.2 and 1.3 with its ECDHE AEAD suites (all good).
        server.pq = Some(PqFlavour::TESTBED[rng.below(PqFlavour::TESTBED.len())]);
        server.versions = Versions::V12To13;
        server.ciphers = Class::Good;
        server.port443 = true;
    }
    server
}

/// Share of own web servers, and of own mail servers with STARTTLS, served by the rustls
/// server (one of the [`PqFlavour`]s, equally likely) instead of nginx / Postfix.
pub const OWN_PQ_SHARE: f64 = 0.3;

/// A mail server address: Postfix on port 25.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailServer {
    /// Host name (its certificate's name and EHLO greeting).
    pub host: String,
    /// IPv4 address.
    pub v4: Ipv4Addr,
    /// IPv6 address, when published.
    pub v6: Option<Ipv6Addr>,
    /// Postfix listens on the IPv6 address (else nothing does).
    pub v6_listens: bool,
    /// STARTTLS offered.
    pub starttls: bool,
    /// Key of its certificate.
    pub key: KeyType,
    /// Served by the testbed's rustls server with these key-exchange groups (STARTTLS, TLS
    /// 1.2-1.3); `None`: by Postfix (OpenSSL 3.0, classical groups only).
    pub pq: Option<PqFlavour>,
}

/// TLSA records of a mail provider's MX hosts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tlsa {
    /// None published.
    None,
    /// `3 1 1` of the MX host's key.
    Match,
    /// `3 1 1` of a key the host does not have.
    Mismatch,
}

/// Per mail provider (world::MAIL_PROVIDERS order): STARTTLS of mx1 and mx2, and their TLSA.
pub const MAIL_PROVIDER_TLS: [([bool; 2], Tlsa); 4] = [
    ([true, true], Tlsa::Match),
    ([true, true], Tlsa::None),
    ([false, false], Tlsa::None),
    ([true, false], Tlsa::Mismatch),
];

/// The key of mail provider `k`'s MX hosts.
pub const fn provider_mx_key(k: usize) -> KeyType {
    KeyType::ALL[k % 3]
}

/// Own mail server `j` (< [`OWN_MAIL_SERVERS`]) named `host`, drawn from the seed.
pub fn own_mail_server(seed: u64, j: usize, host: &str) -> MailServer {
    let mut rng = Rng::new(seed ^ 0x4d61_696c_5365_7276, j as u64);
    let mut server = MailServer {
        host: host.to_string(),
        v4: Ipv4Addr::new(198, 18, 12 + (j / 250) as u8, 1 + (j % 250) as u8),
        v6: Some(Ipv6Addr::new(0x2001, 0xdb8, 0x25, 1, 0, 0, 0, 1 + j as u16)),
        v6_listens: rng.chance(0.85),
        starttls: rng.chance(0.8),
        key: KeyType::ALL[rng.below(3)],
        pq: None,
    };
    if server.starttls && rng.chance(OWN_PQ_SHARE) {
        server.pq = Some(PqFlavour::TESTBED[rng.below(PqFlavour::TESTBED.len())]);
    }
    server
}

/// HTTP on port 80.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Redirect {
    /// 301 to `https://<same host><path>`.
    SameHost,
    /// 301 to `https://www.<domain>/` (another host than the apex).
    OtherHost,
    /// 200 over plain HTTP.
    None,
}

/// Strict-Transport-Security header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hsts {
    /// Not sent.
    Absent,
    /// `max-age=86400`.
    Day,
    /// `max-age=0`.
    Zero,
    /// `max-age=31536000`.
    Year,
    /// `max-age=31536000; includeSubDomains`.
    YearSubdomains,
    /// `max-age=63072000; includeSubDomains; preload`.
    Preload,
    /// `max-age=forever` (invalid: counts as absent).
    Invalid,
}

impl Hsts {
    /// The header value, when one is sent.
    pub const fn header(self) -> Option<&'static str> {
        match self {
            Hsts::Absent => None,
            Hsts::Day => Some("max-age=86400"),
            Hsts::Zero => Some("max-age=0"),
            Hsts::Year => Some("max-age=31536000"),
            Hsts::YearSubdomains => Some("max-age=31536000; includeSubDomains"),
            Hsts::Preload => Some("max-age=63072000; includeSubDomains; preload"),
            Hsts::Invalid => Some("max-age=forever"),
        }
    }

    /// The `hsts` status (RFC 6797: strong from one year).
    pub const fn status(self) -> Status {
        match self {
            Hsts::Absent | Hsts::Invalid => Status::Absent,
            Hsts::Day | Hsts::Zero => Status::Weak,
            Hsts::Year | Hsts::YearSubdomains | Hsts::Preload => Status::Strong,
        }
    }
}

/// `/.well-known/security.txt`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecurityTxt {
    /// text/plain, Contact and a future Expires.
    Valid,
    /// Expires in 2021.
    Expired,
    /// Served as text/html.
    WrongType,
    /// 404.
    Absent,
}

/// Security headers on the HTTPS response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Headers {
    /// All four.
    All,
    /// X-Frame-Options and Referrer-Policy only.
    Some,
    /// None.
    None,
}

/// The MTA-STS policy served at `mta-sts.<domain>` (only when the `_mta-sts` TXT is valid).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Policy {
    /// mode enforce, mx matching every MX.
    Enforce,
    /// mode testing, mx matching.
    Testing,
    /// mode none.
    NoneMode,
    /// mode enforce, mx naming another host.
    Mismatch,
    /// A syntax error (`mode: strict`).
    Malformed,
    /// No `mta-sts.<domain>` host at all.
    NoHost,
}

/// Where a domain's web site is hosted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WebHosting {
    /// On a shared provider (index into [`WEB_PROVIDERS`]).
    Shared(usize),
    /// On own server `i` (see [`own_web_server`]).
    Own(usize),
}

/// What a domain deploys on the web.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Web {
    /// Hosting.
    pub hosting: WebHosting,
    /// Certificate of apex and www.
    pub cert: CertKind,
    /// Its key.
    pub key: KeyType,
    /// Port 80 behaviour.
    pub redirect: Redirect,
    /// HSTS.
    pub hsts: Hsts,
    /// security.txt.
    pub security_txt: SecurityTxt,
    /// Security headers.
    pub headers: Headers,
    /// MTA-STS policy host.
    pub policy: Policy,
    /// TLSA of an own MX host.
    pub tlsa: Tlsa,
}

/// Draws a domain's web profile (own hosting index filled in later by the caller).
pub fn draw_web(rng: &mut Rng, factor: f64) -> Web {
    let good = |w: f64| w * factor;
    let hosting = if rng.chance(0.3) {
        WebHosting::Own(usize::MAX)
    } else {
        WebHosting::Shared(rng.below(WEB_PROVIDERS.len()))
    };
    let cert = rng.weighted(&[
        (CertKind::Valid, good(0.7)),
        (CertKind::Expired, 0.08),
        (CertKind::WrongName, 0.08),
        (CertKind::SelfSigned, 0.07),
        (CertKind::Untrusted, 0.07),
    ]);
    let key = KeyType::ALL[rng.below(3)];
    let redirect = rng.weighted(&[
        (Redirect::SameHost, good(0.6)),
        (Redirect::OtherHost, 0.15),
        (Redirect::None, 0.25),
    ]);
    let hsts = rng.weighted(&[
        (Hsts::Absent, 0.35),
        (Hsts::Day, 0.1),
        (Hsts::Zero, 0.05),
        (Hsts::Year, good(0.2)),
        (Hsts::YearSubdomains, good(0.15)),
        (Hsts::Preload, good(0.1)),
        (Hsts::Invalid, 0.05),
    ]);
    let security_txt = rng.weighted(&[
        (SecurityTxt::Valid, good(0.3)),
        (SecurityTxt::Expired, 0.1),
        (SecurityTxt::WrongType, 0.1),
        (SecurityTxt::Absent, 0.5),
    ]);
    let headers = rng.weighted(&[
        (Headers::All, good(0.3)),
        (Headers::Some, 0.4),
        (Headers::None, 0.3),
    ]);
    let policy = rng.weighted(&[
        (Policy::Enforce, good(0.35)),
        (Policy::Testing, 0.2),
        (Policy::NoneMode, 0.1),
        (Policy::Mismatch, 0.15),
        (Policy::Malformed, 0.1),
        (Policy::NoHost, 0.1),
    ]);
    let tlsa = rng.weighted(&[
        (Tlsa::None, 0.6),
        (Tlsa::Match, good(0.3)),
        (Tlsa::Mismatch, 0.1),
    ]);
    Web {
        hosting,
        cert,
        key,
        redirect,
        hsts,
        security_txt,
        headers,
        policy,
        tlsa,
    }
}

/// The security.txt body and media type of a profile (`None` when absent).
pub fn security_txt_body(s: SecurityTxt, domain: &str) -> Option<(&'static str, String)> {
    let body = |expires: &str| {
        format!("Contact: mailto:security@{domain}\nExpires: {expires}\nPreferred-Languages: en\n")
    };
    match s {
        SecurityTxt::Valid => Some(("text/plain", body("2099-12-31T23:59:59Z"))),
        SecurityTxt::Expired => Some(("text/plain", body("2021-01-01T00:00:00Z"))),
        SecurityTxt::WrongType => Some(("text/html", body("2099-12-31T23:59:59Z"))),
        SecurityTxt::Absent => None,
    }
}

/// The security headers a profile sends: (name, value).
pub fn header_fields(h: Headers) -> &'static [(&'static str, &'static str)] {
    match h {
        Headers::All => &[
            ("Content-Security-Policy", "default-src 'self'"),
            ("X-Frame-Options", "DENY"),
            ("X-Content-Type-Options", "nosniff"),
            ("Referrer-Policy", "no-referrer"),
        ],
        Headers::Some => &[
            ("X-Frame-Options", "SAMEORIGIN"),
            ("Referrer-Policy", "strict-origin"),
        ],
        Headers::None => &[],
    }
}

/// The MTA-STS policy body for `policy`, with `mx` the patterns that match the MX set.
pub fn policy_body(policy: Policy, mx: &[String]) -> Option<String> {
    let lines = |mode: &str, mx: &[String]| {
        let mut s = format!("version: STSv1\nmode: {mode}\n");
        for m in mx {
            s.push_str(&format!("mx: {m}\n"));
        }
        s.push_str("max_age: 604800\n");
        s
    };
    match policy {
        Policy::Enforce => Some(lines("enforce", mx)),
        Policy::Testing => Some(lines("testing", mx)),
        Policy::NoneMode => Some(lines("none", mx)),
        Policy::Mismatch => Some(lines("enforce", &["mx.elsewhere.example".to_string()])),
        Policy::Malformed => Some(lines("strict", mx)),
        Policy::NoHost => None,
    }
}

/// The `mta_sts` status of a present `_mta-sts` record with `policy` served.
pub const fn policy_status(policy: Policy) -> Status {
    match policy {
        Policy::Enforce => Status::Enforce,
        Policy::Testing => Status::Testing,
        Policy::NoneMode => Status::None,
        Policy::Mismatch | Policy::Malformed | Policy::NoHost => Status::Invalid,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn server(versions: Versions, ciphers: Class) -> WebServer {
        WebServer {
            versions,
            ciphers,
            ..WEB_PROVIDERS[0]
        }
    }

    #[test]
    fn tls_truth_follows_versions_and_keys() {
        use KeyType::*;
        assert_eq!(
            server(Versions::V12To13, Class::Good).tls_version(Ecdsa),
            Status::Good
        );
        assert_eq!(
            server(Versions::V12, Class::Good).tls_version(Rsa2048),
            Status::Sufficient
        );
        assert_eq!(
            server(Versions::V10, Class::Sufficient).tls_version(Ecdsa),
            Status::Insufficient
        );
        assert_eq!(
            server(Versions::V10To13, Class::PhaseOut).tls_version(Rsa3072),
            Status::Insufficient
        );
        // RSA key exchange needs an RSA key: an ECDSA host on a phase-out server is sufficient.
        assert_eq!(
            server(Versions::V12To13, Class::PhaseOut).tls_cipher(Ecdsa),
            Status::Sufficient
        );
        assert_eq!(
            server(Versions::V12To13, Class::PhaseOut).tls_cipher(Rsa2048),
            Status::PhaseOut
        );
        // Camellia-SHA256 for ECDSA needs TLS 1.2.
        assert_eq!(
            server(Versions::V10, Class::Insufficient).tls_cipher(Ecdsa),
            Status::Sufficient
        );
        assert_eq!(
            server(Versions::V10, Class::Insufficient).tls_cipher(Rsa2048),
            Status::Insufficient
        );
        assert_eq!(
            server(Versions::V12To13, Class::Insufficient).tls_cipher(Ecdsa),
            Status::Insufficient
        );
        // TLS 1.3 only: the configured 1.2 list does not matter.
        assert_eq!(
            server(Versions::V13, Class::Insufficient).tls_cipher(Rsa2048),
            Status::Good
        );
        assert_eq!(Versions::V10To12.nginx(), "TLSv1 TLSv1.1 TLSv1.2");
        assert!(server(Versions::V10, Class::Sufficient)
            .nginx_ciphers()
            .ends_with("@SECLEVEL=0"));
        assert!(!server(Versions::V12, Class::Good)
            .nginx_ciphers()
            .contains("SECLEVEL"));
    }

    #[test]
    fn own_servers_are_deterministic_and_never_legacy_good() {
        for i in 0..500 {
            let s = own_web_server(3, i);
            assert_eq!(s, own_web_server(3, i));
            assert!(s.port80 || s.port443);
            assert!(!(s.versions.legacy() && s.ciphers == Class::Good));
        }
    }

    #[test]
    fn policies() {
        let mx = vec!["mail.a.nl".to_string()];
        let b = policy_body(Policy::Enforce, &mx).unwrap();
        assert!(b.starts_with("version: STSv1\nmode: enforce\nmx: mail.a.nl\n"));
        assert!(policy_body(Policy::Malformed, &mx)
            .unwrap()
            .contains("mode: strict"));
        assert_eq!(policy_body(Policy::NoHost, &mx), None);
        assert_eq!(policy_status(Policy::NoneMode), Status::None);
    }
}
