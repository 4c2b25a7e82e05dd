//! Web checks (contract-web-mail.md, "Web"): pure evaluators of what the web probes saw.
//!
//! The probes connect, send and read; the functions here turn what they collected into
//! findings. Transport failures that the contract calls `error` (timeouts, resets after
//! connect, DNS failures) are passed in as an `Error` variant or `Err(reason)` and come back
//! as `error`; "refused" is a definite answer and has its own variant.
//!
//! Order of use for one domain: pick the web host (none -> [`not_applicable_without_web_host`]),
//! [`web_ipv6`], [`https`], [`https_redirect`]; then, for every check that needs HTTPS,
//! [`requires_https`] gives the `not_applicable` / `error` finding when HTTPS is not
//! available, else call [`tls::tls_version`], [`tls::tls_cipher`], [`certificate::certificate`],
//! [`tls::pq_kex`], [`hsts::hsts`], [`security_txt::security_txt`], [`security_headers`].

pub mod certificate;
pub mod hsts;
pub mod security_txt;
pub mod tls;

use std::net::Ipv6Addr;

use uptake_model::row::ConnectedFindings;
use uptake_model::{Finding, Status};

use crate::Lookup;

/// Sets the ten web checks to `not_applicable` ("no web host"): neither the domain nor
/// `www.<domain>` has an address (contract: web host). Mail findings are left untouched.
pub fn not_applicable_without_web_host(findings: &mut ConnectedFindings) {
    let na = || Some(Finding::with_reason(Status::NotApplicable, "no web host"));
    findings.web_ipv6 = na();
    findings.https = na();
    findings.https_redirect = na();
    findings.tls_version = na();
    findings.tls_cipher = na();
    findings.certificate = na();
    findings.pq_kex = na();
    findings.hsts = na();
    findings.security_txt = na();
    findings.security_headers = na();
}

/// The finding of a check that needs HTTPS (tls_version, tls_cipher, certificate, pq_kex,
/// hsts, security_txt, security_headers) when HTTPS is not available: `None` when `https`
/// is `available` (evaluate the check), `not_applicable` when it is `unavailable` or
/// `not_applicable`, `error` when `https` is `error`.
pub fn requires_https(https: &Finding) -> Option<Finding> {
    match https.status {
        Status::Available => None,
        Status::Error => Some(Finding::error(format!(
            "https not measured: {}",
            https.reason.as_deref().unwrap_or("error")
        ))),
        _ => Some(Finding::with_reason(Status::NotApplicable, "no HTTPS")),
    }
}

/// An HTTP response as the probe read it (status, `Content-Type`, body up to its cap).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HttpResponse<'a> {
    /// Status code.
    pub status: u16,
    /// The `Content-Type` header value, if sent.
    pub content_type: Option<&'a str>,
    /// The body (capped by the probe).
    pub body: &'a [u8],
}

/// The media type of a `Content-Type` value is `text/plain` (case-insensitive, parameters
/// such as `charset` allowed).
pub(crate) fn is_text_plain(content_type: Option<&str>) -> bool {
    content_type.is_some_and(|ct| {
        ct.split(';')
            .next()
            .unwrap_or_default()
            .trim()
            .eq_ignore_ascii_case("text/plain")
    })
}

/// Outcome of one TLS handshake attempt on port 443 of the web host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Handshake {
    /// The handshake completed (rustls), or a ServerHello arrived (legacy probe).
    Completed,
    /// TCP 443 refused (RST / ECONNREFUSED).
    Refused,
    /// The server answered with a TLS alert or no common version / suite: a definite no.
    Failed(String),
    /// Could not measure: timeout, reset after connect, DNS failure.
    Error(String),
}

/// `https` from the rustls attempt and the legacy (TLS 1.0/1.1) attempt; `legacy` is `None`
/// when the legacy probe was not run (rustls completed, or 443 was refused).
///
/// Either completed -> `available` (reason "TLS 1.0/1.1 only" when only the legacy one did);
/// otherwise any `Error` -> `error`; rustls refused -> `unavailable` ("port 443 refused");
/// otherwise (alerts, no common version) -> `unavailable` with the failures as reason.
pub fn https(rustls: &Handshake, legacy: Option<&Handshake>) -> Finding {
    if *rustls == Handshake::Completed {
        return Finding::of(Status::Available);
    }
    if legacy == Some(&Handshake::Completed) {
        return Finding::with_reason(Status::Available, "TLS 1.0/1.1 only");
    }
    for h in std::iter::once(rustls).chain(legacy) {
        if let Handshake::Error(e) = h {
            return Finding::error(e.clone());
        }
    }
    if *rustls == Handshake::Refused {
        return Finding::with_reason(Status::Unavailable, "port 443 refused");
    }
    let why: Vec<String> = std::iter::once(rustls)
        .chain(legacy)
        .filter_map(|h| match h {
            Handshake::Failed(e) => Some(e.clone()),
            Handshake::Refused => Some("refused".into()),
            _ => None,
        })
        .collect();
    Finding::with_reason(Status::Unavailable, why.join("; "))
}

/// What GET `http://<web host>/` on port 80 got first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Port80 {
    /// TCP 80 refused.
    Refused,
    /// Could not measure (timeout, reset, malformed response).
    Error(String),
    /// The first response: status code and `Location` header (if any), redirects not
    /// followed.
    Response {
        /// HTTP status code.
        status: u16,
        /// The `Location` header value as sent.
        location: Option<String>,
    },
}

/// `https_redirect`: port 80 refused -> `no_http`; a first response 301/302/303/307/308
/// whose `Location` is an absolute `https:` URL with host equal to `web_host`
/// (ASCII case-insensitive; port 443 or none; userinfo ignored) -> `enforced`; any other
/// response (200, relative Location, redirect to http or another host or port) ->
/// `not_enforced` with the reason.
pub fn https_redirect(port80: &Port80, web_host: &str) -> Finding {
    let (status, location) = match port80 {
        Port80::Refused => return Finding::of(Status::NoHttp),
        Port80::Error(e) => return Finding::error(e.clone()),
        Port80::Response { status, location } => (*status, location.as_deref()),
    };
    if !matches!(status, 301 | 302 | 303 | 307 | 308) {
        return Finding::with_reason(Status::NotEnforced, format!("status {status}"));
    }
    let Some(location) = location else {
        return Finding::with_reason(Status::NotEnforced, format!("{status} without Location"));
    };
    match https_host(location.trim()) {
        Ok(host) if host.eq_ignore_ascii_case(web_host) => Finding::of(Status::Enforced),
        Ok(host) => Finding::with_reason(
            Status::NotEnforced,
            format!("redirects to another host ({host})"),
        ),
        Err(why) => Finding::with_reason(Status::NotEnforced, why),
    }
}

/// The host of an absolute `https:` URL with port 443 or none, or why not.
fn https_host(url: &str) -> Result<&str, String> {
    let scheme_end = url
        .find(':')
        .filter(|&i| {
            let s = &url[..i];
            s.starts_with(|c: char| c.is_ascii_alphabetic())
                && s.chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
        })
        .ok_or_else(|| format!("relative Location '{url}' stays on http"))?;
    let scheme = &url[..scheme_end];
    if !scheme.eq_ignore_ascii_case("https") {
        return Err(format!("redirects to {}", scheme.to_ascii_lowercase()));
    }
    let rest = url[scheme_end + 1..]
        .strip_prefix("//")
        .ok_or_else(|| format!("Location '{url}' has no authority"))?;
    let authority = &rest[..rest.find(['/', '?', '#']).unwrap_or(rest.len())];
    let hostport = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let (host, port) = if let Some(v6) = hostport.strip_prefix('[') {
        let (h, after) = v6
            .split_once(']')
            .ok_or_else(|| format!("bad host in '{url}'"))?;
        (h, after.strip_prefix(':'))
    } else {
        match hostport.split_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (hostport, None),
        }
    };
    match port {
        None | Some("") | Some("443") => Ok(host),
        Some(p) => Err(format!("redirects to port {p}")),
    }
}

/// The four headers of `security_headers`, lower case, in evidence order.
pub const SECURITY_HEADERS: [&str; 4] = [
    "content-security-policy",
    "x-frame-options",
    "x-content-type-options",
    "referrer-policy",
];

/// `security_headers` of the response to GET `https://<web host>/`: `headers` are all its
/// header fields `(name, value)` as received. A header counts as present when a field of
/// that name (case-insensitive) has a non-empty value; `x-content-type-options` only when
/// its first field's value is `nosniff` (case-insensitive, as the Fetch standard reads it).
/// All four -> `all`, one to three -> `some` (reason: the missing ones), none -> `none`.
/// Returns the finding and the present names (lower case, [`SECURITY_HEADERS`] order).
pub fn security_headers(headers: &[(&str, &str)]) -> (Finding, Vec<String>) {
    let present: Vec<String> = SECURITY_HEADERS
        .iter()
        .filter(|name| {
            let mut values = headers
                .iter()
                .filter(|(n, _)| n.trim().eq_ignore_ascii_case(name))
                .map(|(_, v)| v.trim());
            if **name == "x-content-type-options" {
                values
                    .next()
                    .is_some_and(|v| v.eq_ignore_ascii_case("nosniff"))
            } else {
                values.any(|v| !v.is_empty())
            }
        })
        .map(|n| n.to_string())
        .collect();
    let finding = match present.len() {
        4 => Finding::of(Status::All),
        0 => Finding::of(Status::None),
        _ => {
            let missing: Vec<&str> = SECURITY_HEADERS
                .iter()
                .copied()
                .filter(|n| !present.iter().any(|p| p == n))
                .collect();
            Finding::with_reason(Status::Some, format!("missing {}", missing.join(", ")))
        }
    };
    (finding, present)
}

/// `web_ipv6` of the web host: `aaaa` is its AAAA lookup, each address paired with whether
/// it accepted TCP on 443 or 80 (a refused or silent address is `false`). No AAAA ->
/// `none`; one accepting -> `reachable`; AAAA but none accepting -> `unreachable`; a failed
/// lookup -> `error`. Returns the finding and the `web_ipv6_addresses` evidence (`addr`, or
/// `addr unreachable`).
pub fn web_ipv6(aaaa: &Lookup<(Ipv6Addr, bool)>) -> (Finding, Vec<String>) {
    let addrs = match aaaa.records() {
        None => {
            let why = match aaaa {
                Lookup::Failed(r) => r.clone(),
                _ => String::new(),
            };
            return (Finding::error(format!("AAAA: {why}")), vec![]);
        }
        Some(a) => a,
    };
    let evidence = addrs
        .iter()
        .map(|(a, ok)| {
            if *ok {
                a.to_string()
            } else {
                format!("{a} unreachable")
            }
        })
        .collect();
    let finding = if addrs.is_empty() {
        Finding::of(Status::None)
    } else if addrs.iter().any(|(_, ok)| *ok) {
        Finding::of(Status::Reachable)
    } else {
        Finding::with_reason(Status::Unreachable, "no AAAA address accepts TCP 443 or 80")
    };
    (finding, evidence)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gates() {
        let mut c = ConnectedFindings::default();
        not_applicable_without_web_host(&mut c);
        assert_eq!(c.hsts.unwrap().status, Status::NotApplicable);
        assert_eq!(c.https.unwrap().status, Status::NotApplicable);
        assert_eq!(c.web_ipv6.unwrap().status, Status::NotApplicable);
        assert_eq!(c.starttls, None);
        assert_eq!(requires_https(&Finding::of(Status::Available)), None);
        assert_eq!(
            requires_https(&Finding::of(Status::Unavailable))
                .unwrap()
                .status,
            Status::NotApplicable
        );
        assert_eq!(
            requires_https(&Finding::error("timeout")).unwrap().status,
            Status::Error
        );
    }

    #[test]
    fn https_statuses() {
        use Handshake::*;
        let alert = || Failed("alert protocol_version".into());
        assert_eq!(https(&Completed, None).status, Status::Available);
        let legacy_only = https(&alert(), Some(&Completed));
        assert_eq!(legacy_only.status, Status::Available);
        assert_eq!(legacy_only.reason.as_deref(), Some("TLS 1.0/1.1 only"));
        assert_eq!(https(&Refused, None).status, Status::Unavailable);
        assert_eq!(https(&alert(), Some(&alert())).status, Status::Unavailable);
        assert_eq!(https(&Error("timeout".into()), None).status, Status::Error);
        assert_eq!(
            https(&alert(), Some(&Error("reset".into()))).status,
            Status::Error
        );
    }

    fn redirect(status: u16, location: Option<&str>) -> Status {
        https_redirect(
            &Port80::Response {
                status,
                location: location.map(str::to_string),
            },
            "www.example.nl",
        )
        .status
    }

    #[test]
    fn https_redirect_statuses() {
        use Status as S;
        assert_eq!(https_redirect(&Port80::Refused, "a.nl").status, S::NoHttp);
        assert_eq!(
            https_redirect(&Port80::Error("t".into()), "a.nl").status,
            S::Error
        );
        for code in [301, 302, 303, 307, 308] {
            assert_eq!(redirect(code, Some("https://www.example.nl/")), S::Enforced);
        }
        assert_eq!(redirect(301, Some("HTTPS://WWW.Example.NL")), S::Enforced);
        assert_eq!(
            redirect(301, Some("https://www.example.nl:443/x?y")),
            S::Enforced
        );
        assert_eq!(
            redirect(301, Some("https://u:p@www.example.nl/")),
            S::Enforced
        );
        assert_eq!(
            redirect(301, Some(" https://www.example.nl/ ")),
            S::Enforced
        );
        assert_eq!(redirect(200, None), S::NotEnforced);
        assert_eq!(
            redirect(300, Some("https://www.example.nl/")),
            S::NotEnforced
        );
        assert_eq!(
            redirect(304, Some("https://www.example.nl/")),
            S::NotEnforced
        );
        assert_eq!(redirect(301, None), S::NotEnforced);
        assert_eq!(
            redirect(301, Some("http://www.example.nl/")),
            S::NotEnforced
        );
        assert_eq!(redirect(301, Some("/secure")), S::NotEnforced);
        assert_eq!(redirect(301, Some("//www.example.nl/")), S::NotEnforced);
        assert_eq!(redirect(301, Some("https://example.nl/")), S::NotEnforced);
        assert_eq!(
            redirect(301, Some("https://www.example.nl.evil.nl/")),
            S::NotEnforced
        );
        assert_eq!(
            redirect(301, Some("https://www.example.nl:8443/")),
            S::NotEnforced
        );
        assert_eq!(redirect(301, Some("https:www.example.nl")), S::NotEnforced);
    }

    #[test]
    fn security_headers_statuses() {
        let all = [
            ("Content-Security-Policy", "default-src 'self'"),
            ("X-Frame-Options", "DENY"),
            ("X-Content-Type-Options", "NoSniff"),
            ("Referrer-Policy", "no-referrer"),
        ];
        let (f, present) = security_headers(&all);
        assert_eq!(f.status, Status::All);
        assert_eq!(present, SECURITY_HEADERS.map(String::from).to_vec());
        let (f, present) = security_headers(&all[..2]);
        assert_eq!(f.status, Status::Some);
        assert_eq!(
            f.reason.as_deref(),
            Some("missing x-content-type-options, referrer-policy")
        );
        assert_eq!(present.len(), 2);
        let (f, present) = security_headers(&[("x-content-type-options", "sniff")]);
        assert_eq!(f.status, Status::None);
        assert!(present.is_empty());
        let (f, _) = security_headers(&[("referrer-policy", "  "), ("server", "nginx")]);
        assert_eq!(f.status, Status::None);
        assert_eq!(security_headers(&[]).0.status, Status::None);
    }

    #[test]
    fn web_ipv6_statuses() {
        let a: Ipv6Addr = "2001:db8::1".parse().unwrap();
        let b: Ipv6Addr = "2001:db8::2".parse().unwrap();
        let (f, ev) = web_ipv6(&Lookup::Data(vec![(a, false), (b, true)]));
        assert_eq!(f.status, Status::Reachable);
        assert_eq!(ev, vec!["2001:db8::1 unreachable", "2001:db8::2"]);
        assert_eq!(
            web_ipv6(&Lookup::Data(vec![(a, false)])).0.status,
            Status::Unreachable
        );
        assert_eq!(web_ipv6(&Lookup::NoData).0.status, Status::None);
        assert_eq!(web_ipv6(&Lookup::NxDomain).0.status, Status::None);
        assert_eq!(
            web_ipv6(&Lookup::Failed("SERVFAIL".into())).0.status,
            Status::Error
        );
    }
}
