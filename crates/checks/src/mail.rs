//! Mail checks (contract-web-mail.md, "Mail"): pure evaluators of what the SMTP, DNS and
//! HTTPS probes saw for the MX hosts of a domain.
//!
//! Order of use for one domain: [`requires_mx`] gives the `not_applicable` / `error`
//! finding of starttls, dane and mx_ipv6 when the domain has no usable MX set; otherwise
//! [`starttls`], [`dane::dane`], [`mx_ipv6`] from the per-MX probes (same order as
//! `mx_hosts`). `mta_sts` ([`mta_sts::mta_sts`]) follows its own record, MX or not. The
//! certificate of each MX is [`crate::web::certificate::certificate`] with the MX host name.

pub mod dane;
pub mod mta_sts;

use std::net::Ipv6Addr;

use uptake_model::{Finding, Status};

use crate::web::tls::TlsVersion;
use crate::Lookup;

/// The finding of starttls, dane and mx_ipv6 when the `mx` check says there is nothing to
/// probe: `None` for `mx` (evaluate), `not_applicable` for `none` / `null_mx`, `error` when
/// `mx` is `error`.
pub fn requires_mx(mx: &Finding) -> Option<Finding> {
    match mx.status {
        Status::Mx => None,
        Status::NullMx => Some(Finding::with_reason(Status::NotApplicable, "null MX")),
        Status::Error => Some(Finding::error(format!(
            "mx not measured: {}",
            mx.reason.as_deref().unwrap_or("error")
        ))),
        _ => Some(Finding::with_reason(Status::NotApplicable, "no MX")),
    }
}

/// The SMTP/STARTTLS outcome of one MX host (banner, EHLO, STARTTLS, handshake, QUIT).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Smtp {
    /// STARTTLS advertised, 220, TLS handshake completed.
    Tls {
        /// Negotiated version.
        version: TlsVersion,
        /// The chain the server presented, leaf first (DER).
        chain: Vec<Vec<u8>>,
    },
    /// STARTTLS not advertised in the EHLO reply, or a 4xx/5xx reply to STARTTLS.
    NoStarttls(String),
    /// STARTTLS accepted (220) but the TLS handshake ended in an alert / no common version.
    /// The contract names no status for this; uptake counts it as `no_starttls` (the MX
    /// offers no usable STARTTLS), keeping the reason.
    HandshakeFailed(String),
    /// Could not measure: no address, TCP 25 refused or silent, timeout, reset, bad banner.
    Error(String),
}

/// The `starttls` finding and its per-MX evidence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Starttls {
    /// all, some, none, not_applicable, error.
    pub finding: Finding,
    /// `mx_starttls`: per MX `starttls`, `no_starttls` or `error: <why>`.
    pub per_mx: Vec<String>,
    /// `mx_tls_versions`: per MX the negotiated version, or empty.
    pub versions: Vec<String>,
}

/// `starttls` from the per-MX outcomes (MX order): any MX `error` -> `error`; every MX
/// with TLS -> `all`; some -> `some`; none -> `none`; no MX -> `not_applicable`. The TLS
/// version does not change the status (it is evidence).
pub fn starttls(mx: &[Smtp]) -> Starttls {
    let per_mx = mx
        .iter()
        .map(|s| match s {
            Smtp::Tls { .. } => "starttls".to_string(),
            Smtp::NoStarttls(_) | Smtp::HandshakeFailed(_) => "no_starttls".to_string(),
            Smtp::Error(why) => format!("error: {why}"),
        })
        .collect();
    let versions = mx
        .iter()
        .map(|s| match s {
            Smtp::Tls { version, .. } => version.as_str().to_string(),
            _ => String::new(),
        })
        .collect();
    let with_tls = mx.iter().filter(|s| matches!(s, Smtp::Tls { .. })).count();
    let finding = if mx.is_empty() {
        Finding::with_reason(Status::NotApplicable, "no MX")
    } else if let Some(Smtp::Error(why)) = mx.iter().find(|s| matches!(s, Smtp::Error(_))) {
        Finding::error(why.clone())
    } else if with_tls == mx.len() {
        Finding::of(Status::All)
    } else if with_tls > 0 {
        Finding::with_reason(Status::Some, format!("{with_tls} of {} MX hosts", mx.len()))
    } else {
        Finding::of(Status::None)
    };
    Starttls {
        finding,
        per_mx,
        versions,
    }
}

/// One MX host's part in `mx_pq_kex`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MxKex<'a> {
    /// The SMTP/STARTTLS outcome.
    pub smtp: &'a Smtp,
    /// Key-exchange group of the STARTTLS handshake (when it completed and had one).
    pub group: Option<u16>,
}

/// The `mx_pq_kex` finding and its per-MX evidence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MxPqKex {
    /// all, some, none, not_applicable, error.
    pub finding: Finding,
    /// `mx_pq_kex`: per MX `pq_hybrid`, `classical`, `no_starttls` or `error: <why>`.
    pub per_mx: Vec<String>,
}

/// `mx_pq_kex` from the per-MX outcomes (MX order): each MX whose STARTTLS handshake
/// completed is `pq_hybrid` or `classical` as [`crate::web::tls::pq_kex`] says; an MX without
/// STARTTLS counts as not hybrid. Any MX `error` -> `error`; no MX -> `not_applicable`; no MX
/// completed STARTTLS -> `not_applicable` ("no TLS", as `pq_kex` without HTTPS); otherwise
/// hybrid on every MX -> `all`, on some -> `some`, on none -> `none`.
pub fn mx_pq_kex(mx: &[MxKex<'_>]) -> MxPqKex {
    let per: Vec<Option<Status>> = mx
        .iter()
        .map(|m| match m.smtp {
            Smtp::Tls { .. } => Some(crate::web::tls::pq_kex(m.group).status),
            _ => None,
        })
        .collect();
    let per_mx = mx
        .iter()
        .zip(&per)
        .map(|(m, s)| match (m.smtp, s) {
            (_, Some(s)) => s.as_str().to_string(),
            (Smtp::Error(why), None) => format!("error: {why}"),
            (_, None) => "no_starttls".to_string(),
        })
        .collect();
    let hybrid = per.iter().filter(|s| **s == Some(Status::PqHybrid)).count();
    let finding = if mx.is_empty() {
        Finding::with_reason(Status::NotApplicable, "no MX")
    } else if let Some(Smtp::Error(why)) = mx
        .iter()
        .map(|m| m.smtp)
        .find(|s| matches!(s, Smtp::Error(_)))
    {
        Finding::error(why.clone())
    } else if per.iter().all(Option::is_none) {
        Finding::with_reason(Status::NotApplicable, "no MX offers STARTTLS")
    } else if hybrid == mx.len() {
        Finding::of(Status::All)
    } else if hybrid > 0 {
        Finding::with_reason(Status::Some, format!("{hybrid} of {} MX hosts", mx.len()))
    } else {
        Finding::of(Status::None)
    };
    MxPqKex { finding, per_mx }
}

/// `mx_ipv6`: per MX host (MX order) its AAAA lookup, each address paired with whether it
/// accepted TCP 25 (connect, then close). Hosts with an accepting address: all -> `all`,
/// some -> `some`, zero (incl. no AAAA anywhere) -> `none`; a failed AAAA lookup ->
/// `error`; no MX -> `not_applicable`. Returns the finding and the count
/// (`mx_ipv6_reachable`, `None` on error).
pub fn mx_ipv6(mx: &[Lookup<(Ipv6Addr, bool)>]) -> (Finding, Option<i64>) {
    if mx.is_empty() {
        return (Finding::with_reason(Status::NotApplicable, "no MX"), None);
    }
    if let Some(Lookup::Failed(why)) = mx.iter().find(|l| matches!(l, Lookup::Failed(_))) {
        return (Finding::error(format!("AAAA of an MX: {why}")), None);
    }
    let reachable = mx
        .iter()
        .filter(|l| l.records().unwrap_or_default().iter().any(|(_, ok)| *ok))
        .count();
    let finding = if reachable == mx.len() {
        Finding::of(Status::All)
    } else if reachable > 0 {
        Finding::with_reason(
            Status::Some,
            format!("{reachable} of {} MX hosts", mx.len()),
        )
    } else {
        Finding::of(Status::None)
    };
    (finding, Some(reachable as i64))
}

#[cfg(test)]
mod pq_tests {
    use super::*;

    #[test]
    fn mx_pq_kex_counts_hybrid_hosts() {
        let tls = Smtp::Tls {
            version: TlsVersion::Tls13,
            chain: vec![],
        };
        let plain = Smtp::NoStarttls("no STARTTLS".into());
        let err = Smtp::Error("timeout".into());
        let kex = |smtp, group| MxKex { smtp, group };
        let h = kex(&tls, Some(0x11EC));
        let c = kex(&tls, Some(0x001D));
        let r = mx_pq_kex(&[h, h]);
        assert_eq!(r.finding.status, Status::All);
        assert_eq!(r.per_mx, vec!["pq_hybrid", "pq_hybrid"]);
        let r = mx_pq_kex(&[h, c]);
        assert_eq!(r.finding.status, Status::Some);
        assert_eq!(r.finding.reason.as_deref(), Some("1 of 2 MX hosts"));
        assert_eq!(r.per_mx, vec!["pq_hybrid", "classical"]);
        // An MX without STARTTLS is not hybrid.
        let r = mx_pq_kex(&[h, kex(&plain, None)]);
        assert_eq!(r.finding.status, Status::Some);
        assert_eq!(r.per_mx, vec!["pq_hybrid", "no_starttls"]);
        assert_eq!(mx_pq_kex(&[c]).finding.status, Status::None);
        assert_eq!(
            mx_pq_kex(&[kex(&plain, None)]).finding.status,
            Status::NotApplicable
        );
        assert_eq!(mx_pq_kex(&[]).finding.status, Status::NotApplicable);
        let r = mx_pq_kex(&[h, kex(&err, None)]);
        assert_eq!(r.finding.status, Status::Error);
        assert_eq!(r.per_mx[1], "error: timeout");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gate() {
        assert_eq!(requires_mx(&Finding::of(Status::Mx)), None);
        assert_eq!(
            requires_mx(&Finding::of(Status::NullMx)).unwrap().status,
            Status::NotApplicable
        );
        assert_eq!(
            requires_mx(&Finding::of(Status::None)).unwrap().status,
            Status::NotApplicable
        );
        assert_eq!(
            requires_mx(&Finding::error("t")).unwrap().status,
            Status::Error
        );
    }

    #[test]
    fn starttls_statuses() {
        let tls = Smtp::Tls {
            version: TlsVersion::Tls12,
            chain: vec![],
        };
        let no = Smtp::NoStarttls("not advertised".into());
        let alert = Smtp::HandshakeFailed("alert handshake_failure".into());
        let err = Smtp::Error("timeout".into());
        let s = starttls(&[tls.clone(), tls.clone()]);
        assert_eq!(s.finding, Finding::of(Status::All));
        assert_eq!(s.per_mx, vec!["starttls", "starttls"]);
        assert_eq!(s.versions, vec!["TLSv1.2", "TLSv1.2"]);
        let s = starttls(&[tls.clone(), no.clone()]);
        assert_eq!(s.finding.status, Status::Some);
        assert_eq!(s.versions, vec!["TLSv1.2", ""]);
        assert_eq!(
            starttls(&[no.clone(), alert.clone()]).finding.status,
            Status::None
        );
        let s = starttls(&[tls, err]);
        assert_eq!(s.finding.status, Status::Error);
        assert_eq!(s.per_mx[1], "error: timeout");
        assert_eq!(starttls(&[]).finding.status, Status::NotApplicable);
    }

    #[test]
    fn mx_ipv6_statuses() {
        let a: Ipv6Addr = "2001:db8::25".parse().unwrap();
        let up = Lookup::Data(vec![(a, false), (a, true)]);
        let down = Lookup::Data(vec![(a, false)]);
        assert_eq!(
            mx_ipv6(&[up.clone(), up.clone()]),
            (Finding::of(Status::All), Some(2))
        );
        let (f, n) = mx_ipv6(&[up.clone(), Lookup::NoData]);
        assert_eq!((f.status, n), (Status::Some, Some(1)));
        let (f, n) = mx_ipv6(&[down, Lookup::NxDomain]);
        assert_eq!((f.status, n), (Status::None, Some(0)));
        assert_eq!(
            mx_ipv6(&[up, Lookup::Failed("SERVFAIL".into())]).0.status,
            Status::Error
        );
        assert_eq!(mx_ipv6(&[]).0.status, Status::NotApplicable);
    }
}
