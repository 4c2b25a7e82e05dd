//! The connection stage: after a domain's DNS plan ([`crate::probe`]), the web and mail
//! checks that need connections. It asks the DNS for the addresses the checks call for (A and
//! AAAA of the apex, www, each MX and `mta-sts.<domain>`; TLSA of each MX), asks the shared
//! [`Prober`] for the connections (one probe per (address, SNI) and per MX host for the whole
//! scan), and hands what they saw to the pure evaluators of `uptake-checks`.
//!
//! Web host: the apex when it has an address (A or AAAA), else `www.<domain>`; neither ->
//! every web check `not_applicable`. The web host is probed at its first IPv4 address (else
//! its first IPv6 one); `web_ipv6` tries TCP 443, then 80, on each of its IPv6 addresses.
//! An MX is probed at its first IPv4 address (else IPv6); `mx_ipv6` tries TCP 25 on each IPv6
//! address. `pq_kex` (web) and `mx_pq_kex` (each MX) come from the same handshakes as the
//! version, suite and certificate: the probes' rustls client offers the hybrid ML-KEM groups.

use std::net::{IpAddr, Ipv6Addr, SocketAddr};

use uptake_checks::mail::dane::{MxDane, Tlsa};
use uptake_checks::mail::mta_sts::PolicyFetch;
use uptake_checks::mail::{MxKex, Smtp};
use uptake_checks::web::certificate::CertificateEvidence;
use uptake_checks::web::tls::{group_label, suite_name};
use uptake_checks::web::{Handshake, HttpResponse};
use uptake_checks::{self as checks, Lookup};
use uptake_dns::{RData, RecordType};
use uptake_model::row::ScanRow;
use uptake_model::{Finding, Status};
use uptake_probes::{PolicyResult, Prober, Resolve, TcpReach, WebHostProbe};

use crate::resolve::{classify, DomainDns};

/// Which groups of connected checks a scan runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ConnectedChecks {
    /// web_ipv6, https, https_redirect, tls_version, tls_cipher, certificate, pq_kex, hsts,
    /// security_txt, security_headers.
    pub web: bool,
    /// starttls, dane, mta_sts, mx_ipv6, mx_pq_kex.
    pub mail: bool,
}

/// Addresses through the scan's DNS (for redirect targets on other hosts).
struct DnsResolve<'d, 'a>(&'d DomainDns<'a>);

impl Resolve for DnsResolve<'_, '_> {
    fn addresses(&self, host: &str) -> futures::future::BoxFuture<'_, Result<Vec<IpAddr>, String>> {
        let host = host.to_string();
        Box::pin(async move {
            let (a, aaaa) = addresses(self.0, &host).await;
            match (a, aaaa) {
                (Lookup::Failed(e), _) | (_, Lookup::Failed(e)) => Err(e),
                (a, aaaa) => Ok(ips(&a, &aaaa)),
            }
        })
    }
}

pub(crate) async fn addresses(
    dns: &DomainDns<'_>,
    host: &str,
) -> (Lookup<std::net::Ipv4Addr>, Lookup<Ipv6Addr>) {
    futures::join!(dns.a(host), dns.aaaa(host))
}

/// IPv4 first, then IPv6.
pub(crate) fn ips(a: &Lookup<std::net::Ipv4Addr>, aaaa: &Lookup<Ipv6Addr>) -> Vec<IpAddr> {
    let v4 = a
        .records()
        .unwrap_or_default()
        .iter()
        .map(|a| IpAddr::V4(*a));
    let v6 = aaaa
        .records()
        .unwrap_or_default()
        .iter()
        .map(|a| IpAddr::V6(*a));
    v4.chain(v6).collect()
}

/// Runs the selected connected checks for `row` (whose DNS stage is done).
pub async fn run(
    client: &uptake_dns::Client,
    reach: &crate::resolve::ReachabilityCache,
    guard: &uptake_policy::AddressGuard,
    prober: &Prober,
    which: ConnectedChecks,
    row: &mut ScanRow,
) {
    if !which.web && !which.mail {
        return;
    }
    // The DNS stage could not reach the domain: nothing to connect to is known.
    if row.dnssec.status == Status::Error {
        let why = format!(
            "DNS: {}",
            row.dnssec.reason.as_deref().unwrap_or("not measured")
        );
        set_errors(&mut row.connected, which, &why);
        return;
    }
    // No budget for these lookups: the probes have their own deadlines per host.
    let mut dns = DomainDns::new(client, reach, guard, None, &row.domain);
    dns.checking_disabled = row.dnssec.status == Status::Bogus;
    let dns = &dns;
    let domain = row.domain.clone();
    let (web, mail) = futures::join!(
        async {
            if which.web {
                Some(web(dns, prober, &domain).await)
            } else {
                None
            }
        },
        async {
            if which.mail {
                Some(mail(dns, prober, row).await)
            } else {
                None
            }
        }
    );
    if let Some(w) = web {
        w.apply(row);
    }
    if let Some(m) = mail {
        m.apply(row);
    }
    row.dns_queries += dns.queries();
}

fn set_errors(c: &mut uptake_model::row::ConnectedFindings, which: ConnectedChecks, why: &str) {
    let e = || Some(Finding::error(why));
    if which.web {
        for f in [
            &mut c.web_ipv6,
            &mut c.https,
            &mut c.https_redirect,
            &mut c.tls_version,
            &mut c.tls_cipher,
            &mut c.certificate,
            &mut c.pq_kex,
            &mut c.hsts,
            &mut c.security_txt,
            &mut c.security_headers,
        ] {
            *f = e();
        }
    }
    if which.mail {
        for f in [
            &mut c.starttls,
            &mut c.dane,
            &mut c.mta_sts,
            &mut c.mx_ipv6,
            &mut c.mx_pq_kex,
        ] {
            *f = e();
        }
    }
}

/// The web findings and evidence of one domain, applied to the row at the end.
struct Web {
    findings: uptake_model::row::ConnectedFindings,
    evidence: uptake_model::row::WebEvidence,
}

impl Web {
    fn apply(self, row: &mut ScanRow) {
        let (c, f) = (&mut row.connected, self.findings);
        c.web_ipv6 = f.web_ipv6;
        c.https = f.https;
        c.https_redirect = f.https_redirect;
        c.tls_version = f.tls_version;
        c.tls_cipher = f.tls_cipher;
        c.certificate = f.certificate;
        c.pq_kex = f.pq_kex;
        c.hsts = f.hsts;
        c.security_txt = f.security_txt;
        c.security_headers = f.security_headers;
        row.web = self.evidence;
    }
}

async fn web(dns: &DomainDns<'_>, prober: &Prober, domain: &str) -> Web {
    let mut findings = uptake_model::row::ConnectedFindings::default();
    let mut ev = uptake_model::row::WebEvidence::default();
    let www = format!("www.{domain}");
    let (apex, www_addrs) = futures::join!(addresses(dns, domain), addresses(dns, &www));
    let failed = [&apex.0, &www_addrs.0]
        .iter()
        .find_map(|l| match l {
            Lookup::Failed(e) => Some(e.clone()),
            _ => None,
        })
        .or_else(|| {
            [&apex.1, &www_addrs.1].iter().find_map(|l| match l {
                Lookup::Failed(e) => Some(e.clone()),
                _ => None,
            })
        });
    let apex_ips = ips(&apex.0, &apex.1);
    let (host, host_ips, host_aaaa) = if !apex_ips.is_empty() {
        (domain.to_string(), apex_ips, apex.1)
    } else if let Some(e) = failed {
        // The apex has no address as far as we know, and a lookup failed: cannot choose.
        let web_only = ConnectedChecks {
            web: true,
            mail: false,
        };
        set_errors(&mut findings, web_only, &format!("address lookup: {e}"));
        return Web {
            findings,
            evidence: ev,
        };
    } else {
        let www_ips = ips(&www_addrs.0, &www_addrs.1);
        if www_ips.is_empty() {
            checks::web::not_applicable_without_web_host(&mut findings);
            return Web {
                findings,
                evidence: ev,
            };
        }
        (www.clone(), www_ips, www_addrs.1)
    };
    ev.host = Some(host.clone());
    let address = host_ips[0];
    ev.addresses = vec![address.to_string()];
    let resolver = DnsResolve(dns);
    let web_ports = [prober.config().ports.https, prober.config().ports.http];
    let (probe, v6) = futures::join!(
        prober.web_host(address, &host, &resolver),
        ipv6_reach(prober, &host_aaaa, &web_ports)
    );
    match v6 {
        Ok(v6) => {
            let (f, v6_ev) = checks::web::web_ipv6(&v6);
            findings.web_ipv6 = Some(f);
            ev.ipv6_addresses = v6_ev;
        }
        Err(why) => findings.web_ipv6 = Some(Finding::error(format!("not measured: {why}"))),
    }
    evaluate_web(&probe, &host, &mut findings, &mut ev);
    Web {
        findings,
        evidence: ev,
    }
}

/// AAAA with, per address, whether any of `ports` accepts TCP.
/// TCP reachability of each IPv6 address on the first of `ports` that answers; `Err` when an
/// address could not be tried at all (the scan's policy refused it), so that the check is an
/// error and not "unreachable".
async fn ipv6_reach(
    prober: &Prober,
    aaaa: &Lookup<Ipv6Addr>,
    ports: &[u16],
) -> Result<Lookup<(Ipv6Addr, bool)>, String> {
    let addrs = match aaaa {
        Lookup::Failed(e) => return Ok(Lookup::Failed(e.clone())),
        Lookup::NoData => return Ok(Lookup::NoData),
        Lookup::NxDomain => return Ok(Lookup::NxDomain),
        Lookup::Data(addrs) => addrs,
    };
    let per_address = futures::future::join_all(addrs.iter().map(|a| async move {
        for port in ports {
            match prober
                .tcp_reach(SocketAddr::new(IpAddr::V6(*a), *port))
                .await
            {
                TcpReach::Open => return Ok((*a, true)),
                TcpReach::Closed => {}
                TcpReach::NotMeasured(why) => return Err(format!("{a}: {why}")),
            }
        }
        Ok((*a, false))
    }))
    .await;
    per_address
        .into_iter()
        .collect::<Result<Vec<_>, _>>()
        .map(Lookup::Data)
}

/// The web findings from one web-host probe.
pub fn evaluate_web(
    probe: &WebHostProbe,
    host: &str,
    findings: &mut uptake_model::row::ConnectedFindings,
    ev: &mut uptake_model::row::WebEvidence,
) {
    let https = checks::web::https(&probe.rustls, probe.legacy.as_ref());
    findings.https_redirect = Some(checks::web::https_redirect(&probe.port80, host));
    ev.http_redirect_chain = probe.redirect_chain.clone();
    if let Some(n) = &probe.negotiated {
        ev.tls_max_version = Some(n.version.as_str().to_string());
        ev.tls_cipher_suite =
            Some(suite_name(n.suite).map_or_else(|| format!("0x{:04X}", n.suite), str::to_string));
        ev.tls_group = n.group.map(group_label);
        ev.tls_group_code = n.group.map(i64::from);
        ev.tls_hello_retry = Some(n.hello_retry);
        ev.tls_alpn = n.alpn.clone();
    }
    if let Ok(v) = &probe.legacy_versions {
        ev.tls_legacy_versions = v.iter().map(|v| v.as_str().to_string()).collect();
    }
    if let Some((_, c)) = &probe.certificate {
        ev.certificate_key = c.key.clone();
        ev.certificate_signature = c.signature.clone();
        ev.certificate_not_after = c.not_after.clone();
        ev.certificate_issuer = c.issuer.clone();
    }
    if let Some(gate) = checks::web::requires_https(&https) {
        findings.https = Some(https);
        for f in [
            &mut findings.tls_version,
            &mut findings.tls_cipher,
            &mut findings.certificate,
            &mut findings.pq_kex,
            &mut findings.hsts,
            &mut findings.security_txt,
            &mut findings.security_headers,
        ] {
            *f = Some(gate.clone());
        }
        return;
    }
    // HTTPS is available: a handshake completed (rustls, else the legacy probe's).
    findings.pq_kex = Some(match &probe.negotiated {
        Some(n) => checks::web::tls::pq_kex(n.group),
        None => Finding::error("no handshake parameters recorded"),
    });
    findings.https = Some(https);
    let rustls_version = match (&probe.rustls, &probe.negotiated) {
        (Handshake::Completed, Some(n)) => Some(n.version),
        _ => None,
    };
    findings.tls_version = Some(checks::web::tls::tls_version(
        rustls_version,
        &probe.legacy_versions,
    ));
    findings.tls_cipher = Some(checks::web::tls::tls_cipher(
        probe.negotiated.as_ref().map(|n| n.suite),
        &probe.cipher_probes,
    ));
    findings.certificate = Some(match &probe.certificate {
        Some((f, _)) => f.clone(),
        None => Finding::error("no certificate seen"),
    });
    // The pages are fetched whenever a handshake completed (over rustls, else over OpenSSL
    // for a TLS 1.0/1.1-only host); none fetched is a probe that stopped before them.
    let not_fetched = || Finding::error("HTTPS pages not fetched");
    match &probe.https_response {
        Some(Ok(head)) => {
            let hsts_values: Vec<&str> = head
                .headers
                .iter()
                .filter(|(n, _)| n == "strict-transport-security")
                .map(|(_, v)| v.as_str())
                .collect();
            let h = checks::web::hsts::hsts(&hsts_values);
            findings.hsts = Some(h.finding);
            ev.hsts_header = h.header;
            ev.hsts_max_age = h.max_age;
            ev.hsts_include_subdomains = h.include_subdomains;
            ev.hsts_preload = h.preload;
            let pairs: Vec<(&str, &str)> = head
                .headers
                .iter()
                .map(|(n, v)| (n.as_str(), v.as_str()))
                .collect();
            let (f, present) = checks::web::security_headers(&pairs);
            findings.security_headers = Some(f);
            ev.security_headers_present = present;
        }
        Some(Err(e)) => {
            findings.hsts = Some(Finding::error(format!("GET /: {e}")));
            findings.security_headers = Some(Finding::error(format!("GET /: {e}")));
        }
        None => {
            findings.hsts = Some(not_fetched());
            findings.security_headers = Some(not_fetched());
        }
    }
    findings.security_txt = Some(match &probe.security_txt {
        Some(Ok(doc)) => {
            let s = checks::web::security_txt::security_txt(
                &HttpResponse {
                    status: doc.status,
                    content_type: doc.content_type.as_deref(),
                    body: &doc.body,
                },
                now_secs(),
            );
            ev.security_txt_expires = s.expires;
            s.finding
        }
        Some(Err(e)) => Finding::error(format!("security.txt: {e}")),
        None => not_fetched(),
    });
}

fn now_secs() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// The mail findings and evidence of one domain.
struct Mail {
    starttls: Finding,
    dane: Finding,
    mx_ipv6: Finding,
    mx_pq_kex: Finding,
    mta_sts: Finding,
    evidence: uptake_model::row::MailEvidence,
}

impl Mail {
    fn apply(self, row: &mut ScanRow) {
        row.connected.starttls = Some(self.starttls);
        row.connected.dane = Some(self.dane);
        row.connected.mx_ipv6 = Some(self.mx_ipv6);
        row.connected.mx_pq_kex = Some(self.mx_pq_kex);
        row.connected.mta_sts = Some(self.mta_sts);
        row.mail = self.evidence;
    }
}

fn tlsa_of(d: &RData) -> Option<Tlsa> {
    match d {
        RData::TLSA(t) => Some(Tlsa {
            usage: u8::from(t.cert_usage),
            selector: u8::from(t.selector),
            matching: u8::from(t.matching),
            data: t.cert_data.clone(),
        }),
        _ => None,
    }
}

async fn mail(dns: &DomainDns<'_>, prober: &Prober, row: &ScanRow) -> Mail {
    let mut ev = uptake_model::row::MailEvidence::default();
    let (mx_part, mta_sts) = futures::join!(
        async {
            if let Some(gate) = checks::mail::requires_mx(&row.mx) {
                let f = MxFindings {
                    starttls: gate.clone(),
                    dane: gate.clone(),
                    mx_ipv6: gate.clone(),
                    mx_pq_kex: gate,
                };
                return (f, None);
            }
            let (f, e) = mx_checks(dns, prober, &row.mx_hosts).await;
            (f, Some(e))
        },
        mta_sts(dns, prober, row)
    );
    let (mx_findings, mx_ev) = mx_part;
    if let Some(e) = mx_ev {
        ev = e;
    }
    let (mta_sts, policy) = mta_sts;
    if let Some(p) = policy {
        ev.mta_sts_policy = Some(p.0);
        ev.mta_sts_max_age = p.1;
        ev.mta_sts_policy_mx = p.2;
    }
    Mail {
        starttls: mx_findings.starttls,
        dane: mx_findings.dane,
        mx_ipv6: mx_findings.mx_ipv6,
        mx_pq_kex: mx_findings.mx_pq_kex,
        mta_sts,
        evidence: ev,
    }
}

/// The findings of the checks that connect to each MX.
struct MxFindings {
    starttls: Finding,
    dane: Finding,
    mx_ipv6: Finding,
    mx_pq_kex: Finding,
}

async fn mx_checks(
    dns: &DomainDns<'_>,
    prober: &Prober,
    hosts: &[String],
) -> (MxFindings, uptake_model::row::MailEvidence) {
    let mut ev = uptake_model::row::MailEvidence::default();
    let per_mx = futures::future::join_all(hosts.iter().map(|h| async move {
        let ((a, aaaa), tlsa) = futures::join!(addresses(dns, h), async {
            let name = format!("_25._tcp.{h}");
            match dns
                .raw(&name, RecordType::TLSA, dns.checking_disabled)
                .await
            {
                Err(e) => (Lookup::Failed(e), false),
                Ok(r) => (classify(&r, tlsa_of), r.authentic_data),
            }
        });
        let probe = match (&a, &aaaa) {
            (Lookup::Failed(e), _) | (_, Lookup::Failed(e)) if ips(&a, &aaaa).is_empty() => {
                std::sync::Arc::new(uptake_probes::MxProbe {
                    address: None,
                    smtp: Smtp::Error(format!("address of {h}: {e}")),
                    certificate: None,
                    certificate_evidence: None,
                    negotiated: None,
                })
            }
            _ => prober.mx_host(h, &ips(&a, &aaaa)).await,
        };
        let v6 = ipv6_reach(prober, &aaaa, &[prober.config().ports.smtp]).await;
        (probe, tlsa, v6)
    }))
    .await;
    let smtps: Vec<Smtp> = per_mx.iter().map(|(p, _, _)| p.smtp.clone()).collect();
    let s = checks::mail::starttls(&smtps);
    ev.mx_starttls = s.per_mx;
    ev.mx_tls_versions = s.versions;
    ev.mx_certificates = per_mx
        .iter()
        .map(|(p, _, _)| {
            p.certificate
                .as_ref()
                .map_or(String::new(), |c| c.status.as_str().to_string())
        })
        .collect();
    let cert_field = |get: fn(&CertificateEvidence) -> &Option<String>| -> Vec<String> {
        per_mx
            .iter()
            .map(|(p, _, _)| {
                p.certificate_evidence
                    .as_ref()
                    .and_then(|c| get(c).clone())
                    .unwrap_or_default()
            })
            .collect()
    };
    ev.mx_certificate_keys = cert_field(|c| &c.key);
    ev.mx_certificate_signatures = cert_field(|c| &c.signature);
    let kex: Vec<MxKex> = per_mx
        .iter()
        .map(|(p, _, _)| MxKex {
            smtp: &p.smtp,
            group: p.negotiated.as_ref().and_then(|n| n.group),
        })
        .collect();
    let pq = checks::mail::mx_pq_kex(&kex);
    ev.mx_pq_kex = pq.per_mx;
    ev.mx_tls_groups = per_mx
        .iter()
        .map(|(p, _, _)| {
            p.negotiated
                .as_ref()
                .and_then(|n| n.group)
                .map(group_label)
                .unwrap_or_default()
        })
        .collect();
    ev.mx_tls_hello_retry = per_mx
        .iter()
        .map(|(p, _, _)| {
            p.negotiated
                .as_ref()
                .map(|n| n.hello_retry.to_string())
                .unwrap_or_default()
        })
        .collect();
    let dane_in: Vec<MxDane> = hosts
        .iter()
        .zip(&per_mx)
        .map(|(h, (p, (tlsa, secure), _))| MxDane {
            host: h,
            tlsa,
            secure: *secure,
            smtp: &p.smtp,
        })
        .collect();
    let d = checks::mail::dane::dane(&dane_in);
    ev.dane_mx_secure = d.mx_secure;
    ev.dane_tlsa = d.records;
    let v6: Result<Vec<Lookup<(Ipv6Addr, bool)>>, String> =
        per_mx.into_iter().map(|(_, _, v)| v).collect();
    let mx_ipv6 = match v6 {
        Ok(v6) => {
            let (finding, reachable) = checks::mail::mx_ipv6(&v6);
            ev.mx_ipv6_reachable = reachable;
            finding
        }
        Err(why) => Finding::error(format!("not measured: {why}")),
    };
    let findings = MxFindings {
        starttls: s.finding,
        dane: d.finding,
        mx_ipv6,
        mx_pq_kex: pq.finding,
    };
    (findings, ev)
}

type PolicyEvidence = (String, Option<i64>, Vec<String>);

async fn mta_sts(
    dns: &DomainDns<'_>,
    prober: &Prober,
    row: &ScanRow,
) -> (Finding, Option<PolicyEvidence>) {
    if row.mta_sts_record.status != Status::Present {
        let r = checks::mail::mta_sts::mta_sts(
            &row.mta_sts_record,
            &PolicyFetch::Error(String::new()),
            &row.mx_hosts,
        );
        return (r.finding, None);
    }
    let host = format!("mta-sts.{}", row.domain);
    let (a, aaaa) = addresses(dns, &host).await;
    let result = match (&a, &aaaa) {
        (Lookup::Failed(e), _) | (_, Lookup::Failed(e)) if ips(&a, &aaaa).is_empty() => {
            PolicyResult::Error(format!("address of {host}: {e}"))
        }
        _ => prober.mta_sts_policy(&host, &ips(&a, &aaaa)).await,
    };
    let fetch = match &result {
        PolicyResult::Failed(w) => PolicyFetch::Failed(w.clone()),
        PolicyResult::Error(w) => PolicyFetch::Error(w.clone()),
        PolicyResult::Fetched {
            certificate,
            document,
        } => PolicyFetch::Fetched {
            certificate,
            response: HttpResponse {
                status: document.status,
                content_type: document.content_type.as_deref(),
                body: &document.body,
            },
        },
    };
    let r = checks::mail::mta_sts::mta_sts(&row.mta_sts_record, &fetch, &row.mx_hosts);
    let policy_text = match &result {
        PolicyResult::Fetched { document, .. } if document.status == 200 => Some(
            String::from_utf8_lossy(
                &document.body[..document
                    .body
                    .len()
                    .min(checks::mail::mta_sts::MAX_POLICY_BYTES)],
            )
            .into_owned(),
        ),
        _ => None,
    };
    let evidence = policy_text.map(|text| {
        (
            text,
            r.policy.as_ref().map(|p| i64::from(p.max_age)),
            r.policy.as_ref().map(|p| p.mx.clone()).unwrap_or_default(),
        )
    });
    (r.finding, evidence)
}
