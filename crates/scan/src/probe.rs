//! The probe plan for one domain: which DNS questions to ask, in which order, and how the
//! answers become a [`ScanRow`] through the pure evaluators of `uptake-checks`.

use std::net::{IpAddr, Ipv6Addr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use uptake_checks::caa::CaaRecord;
use uptake_checks::dnssec::{Answer, Dnskey};
use uptake_checks::{self as checks, Lookup};
use uptake_dns::{RData, RecordType, Response, ResponseCode};
use uptake_model::row::{DnssecEvidence, ScanRow};
use uptake_model::{Finding, Status, SPF_FOREIGN_ADDRESS};

use crate::resolve::{classify, name_text, nsec3_iterations, opaque, Denial, DomainDns, SpfDns};
use crate::targets::Target;

/// Scan-wide settings a probe needs.
pub struct ProbeContext<'a> {
    /// The DNS client.
    pub client: &'a uptake_dns::Client,
    /// Shared name-server reachability answers.
    pub reach: &'a crate::resolve::ReachabilityCache,
    /// Scan id written into rows.
    pub scan_id: &'a str,
    /// What may be contacted, how hard, and as whom.
    pub policy: &'a uptake_policy::Policy,
    /// Total time for one domain; unfinished lookups become `error` with a reason.
    pub budget: Option<std::time::Duration>,
}

/// Nanoseconds spent in the pure evaluators (all scans of the process), for the stage
/// breakdown of `--stats`.
pub static EVALUATOR_NANOS: AtomicU64 = AtomicU64::new(0);

/// Runs an evaluator, adding its time to [`EVALUATOR_NANOS`] (they do no I/O, so wall time
/// is CPU time).
fn eval<T>(f: impl FnOnce() -> T) -> T {
    let t0 = Instant::now();
    let r = f();
    EVALUATOR_NANOS.fetch_add(t0.elapsed().as_nanos() as u64, Ordering::Relaxed);
    r
}

/// The row of a domain whose probe overran its budget (the backstop of the per-lookup
/// deadline): every check `error` with the reason.
pub fn budget_row(ctx: &ProbeContext<'_>, target: &Target, budget: Duration) -> ScanRow {
    let mut row = ScanRow::failed(
        target.domain.clone(),
        target.input.clone(),
        ctx.scan_id.to_string(),
        now_micros() - budget.as_micros() as i64,
        "",
    );
    fill_context(&mut row, target);
    set_all_errors(
        &mut row,
        &format!(
            "domain time budget of {}s exceeded (--domain-timeout)",
            budget.as_secs_f64()
        ),
    );
    row
}

fn fill_context(row: &mut ScanRow, target: &Target) {
    let domain = target.domain.as_str();
    row.registrable_domain = psl::domain_str(domain).map(str::to_string);
    row.public_suffix = psl::suffix_str(domain).map(str::to_string);
    row.country = target.country.clone();
    row.sector = target.sector.clone();
    row.organisation = target.organisation.clone();
    row.extra = target.extra.clone();
    // The web and mail checks are not part of the DNS plan: null unless a later stage runs them.
    row.connected = Default::default();
}

fn now_micros() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_micros() as i64)
        .unwrap_or(0)
}

fn answer(r: &Response) -> Answer {
    Answer {
        rcode: u16::from(r.rcode),
        authentic_data: r.authentic_data,
    }
}

/// The zone apex from a response at `name`: the owner of the SOA in the answer or authority.
fn zone_apex(r: &Response) -> Option<String> {
    r.answers
        .iter()
        .chain(r.authorities.iter())
        .find(|rec| matches!(rec.data, RData::SOA(_)))
        .map(|rec| name_text(&rec.name))
}

/// Measures every DNS check for one target.
pub async fn probe(ctx: &ProbeContext<'_>, target: &Target) -> ScanRow {
    let started = now_micros();
    let domain = target.domain.as_str();
    let mut row = ScanRow::failed(
        domain.to_string(),
        target.input.clone(),
        ctx.scan_id.to_string(),
        started,
        "",
    );
    fill_context(&mut row, target);
    let mut dns = DomainDns::new(ctx.client, ctx.reach, &ctx.policy.guard, ctx.budget, domain);

    // 1. The SOA query at the domain decides DNSSEC, the zone and whether the rest can run.
    let mut first = dns.raw(domain, RecordType::SOA, false).await;
    if matches!(&first, Ok(r) if r.rcode == ResponseCode::ServFail) {
        // A SERVFAIL can be transient (an overloaded resolver, an upstream timeout): ask once
        // more before the CD=1 query decides between bogus and failure.
        first = dns.raw(domain, RecordType::SOA, false).await;
    }
    let (response, dnssec) = match &first {
        Err(e) => {
            set_all_errors(&mut row, &format!("resolver: {e}"));
            row.dns_queries = dns.queries();
            row.dns_retries = dns.retries();
            return row;
        }
        Ok(r) if r.rcode == ResponseCode::ServFail => {
            let retry = dns.raw(domain, RecordType::SOA, true).await;
            let finding = eval(|| {
                checks::dnssec::status(
                    &Ok(answer(r)),
                    Some(&retry.as_ref().map(|r| answer(r)).map_err(Clone::clone)),
                )
            });
            row.dnssec_evidence.ede = r.ede.iter().map(|e| i64::from(e.code)).collect();
            match retry {
                Ok(r2) if finding.status == Status::Bogus => {
                    dns.checking_disabled = true;
                    (r2, finding)
                }
                _ => {
                    row.dns_rcode = Some(r.rcode.to_string());
                    let reason = finding.reason.clone().unwrap_or_else(|| "SERVFAIL".into());
                    set_all_errors(&mut row, &reason);
                    row.dns_queries = dns.queries();
                    row.dns_retries = dns.retries();
                    return row;
                }
            }
        }
        Ok(r) => (
            r.clone(),
            eval(|| checks::dnssec::status(&Ok(answer(r)), None)),
        ),
    };
    row.dns_rcode = Some(
        first
            .as_ref()
            .map(|r| r.rcode.to_string())
            .unwrap_or_default(),
    );
    if response.rcode == ResponseCode::NXDomain {
        set_all_errors(&mut row, "the domain does not exist (NXDOMAIN)");
        row.dns_queries = dns.queries();
        row.dns_retries = dns.retries();
        return row;
    }
    if response.rcode != ResponseCode::NoError {
        set_all_errors(&mut row, &format!("{} from the resolver", response.rcode));
        row.dns_queries = dns.queries();
        row.dns_retries = dns.retries();
        return row;
    }
    let zone = zone_apex(&response).unwrap_or_else(|| domain.to_string());
    row.zone = Some(zone.clone());
    row.dnssec = dnssec;
    dns.zone = Some(zone.clone());

    let dns = &dns;
    let (dkim_name, tls_rpt_name, mta_sts_name) = (
        format!("_domainkey.{domain}"),
        format!("_smtp._tls.{domain}"),
        format!("_mta-sts.{domain}"),
    );
    let (alg, ns, mx, spf, dmarc, dkim, caa, tls_rpt, mta_sts, web) = futures::join!(
        dnssec_details(dns, &zone, row.dnssec.status),
        ns_ipv6(dns, &zone),
        mail_hosts(dns, domain),
        spf(dns, domain),
        dmarc(dns, domain, row.registrable_domain.as_deref()),
        dns.txt(&dkim_name),
        caa(dns, domain, row.registrable_domain.as_deref()),
        dns.txt(&tls_rpt_name),
        dns.txt(&mta_sts_name),
        web(dns, domain),
    );
    (row.dnssec_algorithm, row.dnssec_evidence) = {
        let (f, mut ev) = alg;
        ev.ede = std::mem::take(&mut row.dnssec_evidence.ede);
        (f, ev)
    };
    (
        row.dnssec_evidence.denial,
        row.dnssec_evidence.nsec3_iterations,
    ) = match zone_denial(dns, &zone, row.dnssec.status).await {
        Some(Denial::Nsec) => (Some("nsec".into()), None),
        Some(Denial::Nsec3 { iterations }) => (Some("nsec3".into()), iterations.map(i64::from)),
        None => (None, None),
    };
    (
        row.ns_ipv6,
        row.ns_hosts,
        row.ns_ipv6_addresses,
        row.ns_ipv6_answering,
    ) = ns;
    (row.mx, row.mx_hosts, row.mx_hosts_with_aaaa) = mx;
    let (spf_finding, spf_outcome) = spf;
    row.spf = spf_finding;
    if let Some(o) = spf_outcome {
        row.spf_record = o.record;
        row.spf_dns_lookups = Some(i64::from(o.dns_lookups));
        row.spf_void_lookups = Some(i64::from(o.void_lookups));
    }
    row.dmarc = dmarc.finding;
    row.dmarc_record = dmarc.record;
    row.dmarc_source = dmarc.source.map(str::to_string);
    row.dmarc_pct = dmarc.pct;
    row.dmarc_rua = dmarc.rua;
    row.dkim = eval(|| checks::dkim(&dkim));
    row.caa = caa.finding;
    row.caa_found_at = caa.found_at;
    row.caa_records = caa.records;
    row.caa_issuers = caa.issuers;
    let t = eval(|| checks::records::tls_rpt(&tls_rpt));
    (row.tls_rpt, row.tls_rpt_record) = (t.finding, t.record);
    let m = eval(|| checks::records::mta_sts(&mta_sts));
    (row.mta_sts_record, row.mta_sts_txt) = (m.finding, m.record);
    (row.web_apex_aaaa, row.web_www_exists, row.web_www_aaaa) = web;
    row.dns_queries = dns.queries();
    row.dns_retries = dns.retries();
    row
}

fn set_all_errors(row: &mut ScanRow, reason: &str) {
    for f in [
        &mut row.dnssec,
        &mut row.dnssec_algorithm,
        &mut row.ns_ipv6,
        &mut row.caa,
        &mut row.mx,
        &mut row.spf,
        &mut row.dmarc,
        &mut row.dkim,
        &mut row.tls_rpt,
        &mut row.mta_sts_record,
    ] {
        *f = Finding::error(reason);
    }
}

async fn dnssec_details(
    dns: &DomainDns<'_>,
    zone: &str,
    status: Status,
) -> (Finding, DnssecEvidence) {
    let mut ev = DnssecEvidence::default();
    if status != Status::Secure && status != Status::Bogus {
        return (
            eval(|| checks::dnssec::algorithm(status, &Lookup::NoData)),
            ev,
        );
    }
    let (keys, ds) = futures::join!(
        dns.lookup(zone, RecordType::DNSKEY, |d| opaque(d, RecordType::DNSKEY)),
        dns.lookup(zone, RecordType::DS, |d| opaque(d, RecordType::DS)),
    );
    let keys: Lookup<Dnskey> = match keys {
        Lookup::Data(raw) => Lookup::Data(
            raw.iter()
                .filter(|k| k.len() >= 4)
                .map(|k| Dnskey {
                    flags: u16::from_be_bytes([k[0], k[1]]),
                    algorithm: k[3],
                    rsa_bits: checks::dnssec::rsa_modulus_bits(k[3], &k[4..]),
                })
                .collect(),
        ),
        Lookup::NoData => Lookup::NoData,
        Lookup::NxDomain => Lookup::NxDomain,
        Lookup::Failed(r) => Lookup::Failed(r),
    };
    if let Lookup::Data(k) = &keys {
        let mut algs: Vec<i64> = k.iter().map(|k| i64::from(k.algorithm)).collect();
        algs.sort_unstable();
        algs.dedup();
        ev.algorithms = algs;
        ev.rsa_min_bits = k.iter().filter_map(|k| k.rsa_bits).min().map(i64::from);
    }
    if let Lookup::Data(ds) = ds {
        let mut d: Vec<i64> = ds
            .iter()
            .filter(|d| d.len() >= 4)
            .map(|d| i64::from(d[3]))
            .collect();
        d.sort_unstable();
        d.dedup();
        ev.ds_digests = d;
    }
    (eval(|| checks::dnssec::algorithm(status, &keys)), ev)
}

/// The denial of existence of a signed (or bogus) zone, for the evidence. It is read from a
/// negative answer that the domain's other queries got anyway (names such as _mta-sts,
/// _smtp._tls and _dmarc are absent at most domains, and an absent type at the apex answers
/// NODATA): with the DO bit, the resolver returns the zone's NSEC or NSEC3 records, and an NSEC3
/// record carries the iterations that NSEC3PARAM would give. Only when none of the answers was
/// negative is NSEC3PARAM asked. Skipping it spares the validating resolver an upstream
/// exchange and a signature verification per signed domain (benches/scan.md, 2026-11-29).
async fn zone_denial(dns: &DomainDns<'_>, zone: &str, status: Status) -> Option<Denial> {
    if status != Status::Secure && status != Status::Bogus {
        return None;
    }
    if let Some(denial) = dns.denial_seen() {
        return Some(denial);
    }
    match dns
        .lookup(zone, RecordType::NSEC3PARAM, |d| {
            opaque(d, RecordType::NSEC3PARAM)
        })
        .await
    {
        Lookup::Data(p) => Some(Denial::Nsec3 {
            iterations: p.first().and_then(|p| nsec3_iterations(p)),
        }),
        Lookup::NoData | Lookup::NxDomain => Some(Denial::Nsec),
        Lookup::Failed(_) => None,
    }
}

type NsResult = (Finding, Vec<String>, Vec<String>, Option<i64>);

async fn ns_ipv6(dns: &DomainDns<'_>, zone: &str) -> NsResult {
    let hosts = match dns
        .lookup(zone, RecordType::NS, |d| match d {
            RData::NS(ns) => Some(name_text(&ns.0)),
            _ => None,
        })
        .await
    {
        Lookup::Failed(r) => {
            return (
                Finding::error(format!("NS of {zone}: {r}")),
                vec![],
                vec![],
                None,
            )
        }
        other => {
            let mut h = other.records().map(<[String]>::to_vec).unwrap_or_default();
            h.sort();
            h.dedup();
            h
        }
    };
    let per_host = futures::future::join_all(hosts.iter().map(|h| async move {
        let aaaa = dns.aaaa(h).await;
        let mut answered = false;
        let mut failure = None;
        for addr in aaaa.records().unwrap_or_default() {
            match dns.answers_at(IpAddr::V6(*addr), zone).await {
                Ok(true) => {
                    answered = true;
                    break;
                }
                Ok(false) => {}
                Err(e) => {
                    failure.get_or_insert(format!("name server {h}: {e}"));
                }
            }
        }
        ((aaaa, answered), failure.filter(|_| !answered))
    }))
    .await;
    // A host not asked (a refused address, a spent budget) leaves the status unknown.
    let failure = per_host.iter().find_map(|(_, f)| f.clone());
    let per_host: Vec<_> = per_host.into_iter().map(|(p, _)| p).collect();
    let addresses: Vec<String> = per_host
        .iter()
        .flat_map(|(l, _)| {
            l.records()
                .unwrap_or_default()
                .iter()
                .map(Ipv6Addr::to_string)
        })
        .collect();
    let finding = match failure {
        Some(reason) => Finding::error(reason),
        None => eval(|| checks::ns_ipv6(&per_host)),
    };
    let answering = per_host.iter().filter(|(_, ok)| *ok).count() as i64;
    (finding, hosts, addresses, Some(answering))
}

async fn mail_hosts(dns: &DomainDns<'_>, domain: &str) -> (Finding, Vec<String>, Option<i64>) {
    let mx = dns.mx(domain).await;
    let finding = eval(|| checks::mx(&mx));
    let mut hosts: Vec<(u16, String)> = mx
        .records()
        .map(<[(u16, String)]>::to_vec)
        .unwrap_or_default();
    hosts.sort();
    let names: Vec<String> = hosts
        .into_iter()
        .map(|(_, h)| h)
        .filter(|h| !h.is_empty() && h != ".")
        .collect();
    if finding.status != Status::Mx {
        let count = (finding.status != Status::Error).then_some(0);
        return (finding, names, count);
    }
    let aaaa = futures::future::join_all(names.iter().map(|h| dns.aaaa(h))).await;
    let with_aaaa = aaaa
        .iter()
        .filter(|l| matches!(l, Lookup::Data(v) if !v.is_empty()))
        .count() as i64;
    let failed = aaaa.iter().any(|l| matches!(l, Lookup::Failed(_)));
    (finding, names, (!failed).then_some(with_aaaa))
}

async fn spf(dns: &DomainDns<'_>, domain: &str) -> (Finding, Option<uptake_spf::SpfOutcome>) {
    let sender = format!("postmaster@{domain}");
    let query = uptake_spf::SpfQuery {
        ip: IpAddr::V4(SPF_FOREIGN_ADDRESS),
        domain,
        sender: &sender,
        helo: domain,
    };
    let outcome = uptake_spf::check_host(&SpfDns(dns), &query).await;
    (eval(|| checks::spf(&outcome)), Some(outcome))
}

async fn dmarc(
    dns: &DomainDns<'_>,
    domain: &str,
    registrable: Option<&str>,
) -> checks::dmarc::DmarcResult {
    let own = dns.txt(&format!("_dmarc.{domain}")).await;
    // The evaluator uses the organisational record only when the domain has none of its own.
    let org = match registrable {
        Some(org) if org != domain && !matches!(own, Lookup::Failed(_)) => {
            Some(dns.txt(&format!("_dmarc.{org}")).await)
        }
        _ => None,
    };
    eval(|| checks::dmarc::evaluate(&own, org.as_ref()))
}

async fn caa(
    dns: &DomainDns<'_>,
    domain: &str,
    registrable: Option<&str>,
) -> checks::caa::CaaResult {
    let mut climb = Vec::new();
    let mut name = domain.to_string();
    loop {
        let lookup = dns
            .lookup(&name, RecordType::CAA, |d| match d {
                RData::CAA(c) => Some(CaaRecord {
                    flags: c.reserved_flags | if c.issuer_critical { 128 } else { 0 },
                    tag: c.tag.clone(),
                    value: String::from_utf8_lossy(&c.value).into_owned(),
                }),
                _ => None,
            })
            .await;
        let stop = matches!(&lookup, Lookup::Failed(_))
            || matches!(&lookup, Lookup::Data(v) if !v.is_empty());
        climb.push((name.clone(), lookup));
        let at_top = registrable.is_none_or(|r| name == r);
        if stop || at_top {
            break;
        }
        match name.split_once('.') {
            Some((_, parent)) => name = parent.to_string(),
            None => break,
        }
    }
    eval(|| checks::caa::evaluate(&climb))
}

async fn web(dns: &DomainDns<'_>, domain: &str) -> (Option<bool>, Option<bool>, Option<bool>) {
    let www = format!("www.{domain}");
    let (apex, www_aaaa) = futures::join!(
        dns.aaaa(domain),
        dns.raw(&www, RecordType::AAAA, dns.checking_disabled)
    );
    let apex = apex.records().map(|r| !r.is_empty());
    let (exists, has) = match www_aaaa {
        Ok(r) => match classify(&r, |d| matches!(d, RData::AAAA(_)).then_some(())) {
            Lookup::Data(_) => (Some(true), Some(true)),
            Lookup::NoData => (Some(true), Some(false)),
            Lookup::NxDomain => (Some(false), Some(false)),
            Lookup::Failed(_) => (None, None),
        },
        Err(_) => (None, None),
    };
    (apex, exists, has)
}
