//! Pure evaluators: evidence in, findings out.
//!
//! DNS checks live in [`caa`], [`dmarc`], [`dnssec`], [`records`] and here; the web checks
//! (HTTPS, TLS, certificate, HSTS, security.txt, headers) in [`web`]; the mail checks
//! (STARTTLS, DANE, MTA-STS, MX over IPv6) in [`mail`].
//!
//! Where it sits: between the scan engine (which asks the DNS and packages the answers as the
//! small evidence types below) and the output row. Nothing here does I/O, so every rule of
//! CHECKS.md is unit-tested without a network. A lookup that failed is [`Lookup::Failed`] and
//! becomes an `error` finding — never "absent" or "none".

pub mod caa;
pub mod dmarc;
pub mod dnssec;
pub mod mail;
pub mod records;
#[cfg(test)]
mod testpki;
pub mod web;

use uptake_model::{Finding, Status};

/// The outcome of one DNS lookup, reduced to what evaluators need.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lookup<T> {
    /// NOERROR with records of the asked type.
    Data(Vec<T>),
    /// NOERROR without records of the asked type.
    NoData,
    /// The name does not exist.
    NxDomain,
    /// No usable answer (timeout, SERVFAIL, REFUSED, malformed): the reason.
    Failed(String),
}

impl<T> Lookup<T> {
    /// The records, empty for NODATA / NXDOMAIN; None when the lookup failed.
    pub fn records(&self) -> Option<&[T]> {
        match self {
            Lookup::Data(v) => Some(v),
            Lookup::NoData | Lookup::NxDomain => Some(&[]),
            Lookup::Failed(_) => None,
        }
    }
}

/// `mx`: mx, null_mx (a single `0 .`), none.
pub fn mx(lookup: &Lookup<(u16, String)>) -> Finding {
    match lookup {
        Lookup::Failed(r) => Finding::error(r.clone()),
        Lookup::NoData | Lookup::NxDomain => Finding::of(Status::None),
        Lookup::Data(v) if v.is_empty() => Finding::of(Status::None),
        Lookup::Data(v) => {
            let null = |h: &str| h.is_empty() || h == ".";
            if v.iter().all(|(_, h)| null(h)) {
                if v.len() == 1 && v[0].0 == 0 {
                    Finding::of(Status::NullMx)
                } else {
                    Finding::with_reason(
                        Status::NullMx,
                        "null MX not in the RFC 7505 form (single '0 .')",
                    )
                }
            } else {
                Finding::of(Status::Mx)
            }
        }
    }
}

/// `dkim`: the `_domainkey` node exists unless the answer is NXDOMAIN (RFC 8020).
pub fn dkim(lookup: &Lookup<String>) -> Finding {
    match lookup {
        Lookup::Failed(r) => Finding::error(r.clone()),
        Lookup::NxDomain => Finding::of(Status::Absent),
        Lookup::Data(_) | Lookup::NoData => Finding::of(Status::Present),
    }
}

/// `spf`: the check_host() outcome mapped to a status; temperror is `error`.
pub fn spf(outcome: &uptake_spf::SpfOutcome) -> Finding {
    use uptake_spf::SpfResult as R;
    let status = match outcome.result {
        R::None => Status::None,
        R::Neutral => Status::Neutral,
        R::Pass => Status::Pass,
        R::Fail => Status::Fail,
        R::Softfail => Status::Softfail,
        R::PermError => Status::Permerror,
        R::TempError => {
            return Finding::error(
                outcome
                    .reason
                    .clone()
                    .unwrap_or_else(|| "DNS failure during SPF evaluation".into()),
            )
        }
    };
    Finding {
        status,
        reason: outcome.reason.clone(),
    }
}

/// Counts how many name servers answer over IPv6: reachable (>= 2), partial (1), none.
/// `hosts` holds, per name server, its AAAA lookup and whether any of its addresses answered.
pub fn ns_ipv6(hosts: &[(Lookup<std::net::Ipv6Addr>, bool)]) -> Finding {
    let answering = hosts.iter().filter(|(_, ok)| *ok).count();
    if answering >= 2 {
        return Finding::of(Status::Reachable);
    }
    if let Some((Lookup::Failed(r), _)) = hosts.iter().find(|(l, _)| matches!(l, Lookup::Failed(_)))
    {
        return Finding::error(format!("AAAA of a name server: {r}"));
    }
    if hosts.is_empty() {
        return Finding::error("no NS records for the zone");
    }
    Finding::of(if answering == 1 {
        Status::Partial
    } else {
        Status::None
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mx_statuses() {
        assert_eq!(
            mx(&Lookup::Data(vec![(0, ".".into())])).status,
            Status::NullMx
        );
        assert_eq!(
            mx(&Lookup::Data(vec![(10, "mx.example.net".into())])).status,
            Status::Mx
        );
        assert_eq!(mx(&Lookup::NoData).status, Status::None);
        assert_eq!(mx(&Lookup::NxDomain).status, Status::None);
        assert_eq!(mx(&Lookup::Failed("timeout".into())).status, Status::Error);
    }

    #[test]
    fn dkim_follows_rfc8020() {
        assert_eq!(dkim(&Lookup::NxDomain).status, Status::Absent);
        assert_eq!(dkim(&Lookup::NoData).status, Status::Present);
        assert_eq!(
            dkim(&Lookup::Failed("SERVFAIL".into())).status,
            Status::Error
        );
    }

    #[test]
    fn ns_ipv6_counts_answering_servers() {
        let ok = |b| (Lookup::Data(vec!["2001:db8::1".parse().unwrap()]), b);
        assert_eq!(ns_ipv6(&[ok(true), ok(true)]).status, Status::Reachable);
        assert_eq!(
            ns_ipv6(&[ok(true), (Lookup::NoData, false)]).status,
            Status::Partial
        );
        assert_eq!(
            ns_ipv6(&[ok(false), (Lookup::NoData, false)]).status,
            Status::None
        );
        assert_eq!(
            ns_ipv6(&[ok(true), (Lookup::Failed("t".into()), false)]).status,
            Status::Error
        );
        assert_eq!(ns_ipv6(&[]).status, Status::Error);
    }
}
