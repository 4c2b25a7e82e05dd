//! The routing stage: RPKI route origin validation and the hosting network of a domain.
//!
//! After the DNS plan ([`crate::probe`]) it resolves the addresses a domain depends on: A and
//! AAAA of the apex and of `www.<domain>` (web), of each MX host (mail) and of each name
//! server of the domain's zone, and hands them to the pure
//! [`uptake_routing::RoutingTables::assess_resolved`]. No connection is made: a DNS-only scan
//! measures `rpki` as well. A lookup that fails is named in the reason (`error` unless an
//! address found is invalid); a domain whose DNS stage failed is `error` with that reason.
//! Names outside the domain (MX and NS hosts) come from the scan's shared DNS cache, so
//! they cost a query once per scan.

use std::net::IpAddr;

use uptake_checks::Lookup;
use uptake_model::row::ScanRow;
use uptake_model::{Check, Finding, Status};
use uptake_routing::{DomainAddresses, LookupFailures, RoutingTables};

use crate::connect::{addresses, ips};
use crate::resolve::DomainDns;

/// The addresses of `hosts` (A then AAAA per host, in host order, each once) and the lookups
/// that failed.
async fn resolve_all(dns: &DomainDns<'_>, hosts: &[String]) -> (Vec<IpAddr>, Vec<String>) {
    let answers = futures::future::join_all(hosts.iter().map(|h| addresses(dns, h))).await;
    let mut out: Vec<IpAddr> = Vec::new();
    let mut failed = Vec::new();
    for (host, (a, aaaa)) in hosts.iter().zip(&answers) {
        if let Lookup::Failed(e) = a {
            failed.push(format!("A of {host}: {e}"));
        }
        if let Lookup::Failed(e) = aaaa {
            failed.push(format!("AAAA of {host}: {e}"));
        }
        for ip in ips(a, aaaa) {
            if !out.contains(&ip) {
                out.push(ip);
            }
        }
    }
    (out, failed)
}

/// Fills `rpki` and the hosting columns of `row` (whose DNS stage is done).
pub async fn run(
    client: &uptake_dns::Client,
    reach: &crate::resolve::ReachabilityCache,
    guard: &uptake_policy::AddressGuard,
    tables: &RoutingTables,
    budget: Option<std::time::Duration>,
    row: &mut ScanRow,
) {
    if row.dnssec.status == Status::Error {
        let why = format!(
            "DNS: {}",
            row.dnssec.reason.as_deref().unwrap_or("not measured")
        );
        row.set_finding(Check::Rpki, Finding::error(why));
        return;
    }
    let mut dns = DomainDns::new(client, reach, guard, budget, &row.domain);
    dns.checking_disabled = row.dnssec.status == Status::Bogus;
    let dns = &dns;
    let web_hosts = [row.domain.clone(), format!("www.{}", row.domain)];
    let mut failures = LookupFailures::default();
    // The MX and NS sets come from the DNS stage; when their lookup failed, the hosts are
    // unknown.
    if row.mx.status == Status::Error {
        failures.mail.push(format!(
            "MX of {}: {}",
            row.domain,
            row.mx.reason.as_deref().unwrap_or("failed")
        ));
    }
    // ns_ipv6 is `error` with no host only when the NS lookup itself failed (a host that did
    // not answer over IPv6 leaves the host list filled).
    if row.ns_hosts.is_empty() && row.ns_ipv6.status == Status::Error {
        failures.name_servers.push(
            row.ns_ipv6
                .reason
                .clone()
                .unwrap_or_else(|| "NS lookup failed".into()),
        );
    }
    let ((web, web_failed), (mail, mail_failed), (ns, ns_failed)) = futures::join!(
        resolve_all(dns, &web_hosts),
        resolve_all(dns, &row.mx_hosts),
        resolve_all(dns, &row.ns_hosts),
    );
    failures.web.extend(web_failed);
    failures.mail.extend(mail_failed);
    failures.name_servers.extend(ns_failed);
    let assessment = tables.assess_resolved(
        &DomainAddresses {
            web: &web,
            mail: &mail,
            name_servers: &ns,
        },
        &failures,
    );
    assessment.write_to(row);
    row.dns_queries += dns.queries();
}
