//! The adoption metrics, declared once.
//!
//! Each [`Metric`] names the standard and specification it measures, the domains it applies
//! to (the denominator) and when a domain counts as adopted (the numerator), both as
//! [`Cond`]itions over the dataset's columns. The Rust aggregator, `metrics.sql`, `uptake
//! metrics` and docs/metrics.md are all generated from [`metrics`]; criteria follow CHECKS.md.
//!
//! How a row counts for a metric, in this order:
//! 1. a status column the metric reads is null (the check was not run in that scan): the row
//!    is left out entirely (neither applicable nor error);
//! 2. a status column the metric reads is `error`: the row is an error (reported beside the
//!    rate, never in its denominator);
//! 3. the denominator condition holds: the row is applicable, and adopted when the numerator
//!    condition holds too.

use std::fmt::Write as _;

use uptake_model::row::Kind;
use uptake_model::{Check, Status};

use crate::cond::{
    and, int, is_true, list_all_in, list_non_empty, or, status, str_in, str_prefix, Cmp, Cond,
};

/// What kind of criterion a metric is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tier {
    /// The "adopted when" of one check in CHECKS.md.
    Check,
    /// A stricter variant named in CHECKS.md or the coalition's brief.
    Strict,
    /// Several checks together.
    Combined,
}

impl Tier {
    /// Lower-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Tier::Check => "check",
            Tier::Strict => "strict",
            Tier::Combined => "combined",
        }
    }
}

/// One adoption metric.
#[derive(Debug, Clone)]
pub struct Metric {
    /// Stable id (snake_case), used in every output.
    pub id: &'static str,
    /// Short title for charts.
    pub title: &'static str,
    /// The standard.
    pub standard: &'static str,
    /// The specification and the anchor of the criterion.
    pub spec: &'static str,
    /// Check, strict variant or combination.
    pub tier: Tier,
    /// The domains the metric applies to (denominator).
    pub applies_to: Cond,
    /// When an applicable domain counts as adopted (numerator).
    pub adopted: Cond,
    /// Notes on the definition (what is and is not counted).
    pub note: &'static str,
}

impl Metric {
    /// Every column the metric reads, with its kind, status columns first.
    pub fn columns(&self) -> Vec<(String, Kind)> {
        let mut cols = vec![];
        self.applies_to.columns(&mut cols);
        self.adopted.columns(&mut cols);
        cols.sort_by_key(|(_, k)| *k != Kind::Status);
        cols
    }

    /// The status columns the metric reads (null or `error` in any of them sets a row aside).
    pub fn status_columns(&self) -> Vec<String> {
        self.columns()
            .into_iter()
            .filter(|(_, k)| *k == Kind::Status)
            .map(|(n, _)| n)
            .collect()
    }
}

/// TLS versions that count as modern for mail (per MX host, after STARTTLS).
const MODERN_TLS: &[&str] = &["TLSv1.2", "TLSv1.3"];
/// One year in seconds: the HSTS max-age of BOD 18-01 and hstspreload.org.
const ONE_YEAR: i64 = 31_536_000;

fn mail_domains() -> Cond {
    status(Check::Mx, &[Status::Mx])
}

fn web_domains() -> Cond {
    status(Check::Https, &[Status::Available, Status::Unavailable])
}

fn https_domains() -> Cond {
    status(Check::Https, &[Status::Available])
}

/// Every metric, in output order.
pub fn metrics() -> Vec<Metric> {
    vec![
        // --- DNS ---
        Metric {
            id: "dnssec",
            title: "DNSSEC signed and validating",
            standard: "DNSSEC",
            spec: "RFC 4033-4035",
            tier: Tier::Check,
            applies_to: Cond::True,
            adopted: status(Check::Dnssec, &[Status::Secure]),
            note: "bogus counts as not adopted (published but broken)",
        },
        Metric {
            id: "dnssec_algorithm",
            title: "DNSSEC with modern algorithms and NSEC3 iterations 0",
            standard: "DNSSEC",
            spec: "RFC 8624, RFC 9276",
            tier: Tier::Check,
            applies_to: status(Check::Dnssec, &[Status::Secure]),
            adopted: and(vec![
                status(Check::DnssecAlgorithm, &[Status::Modern]),
                or(vec![
                    str_in("dnssec_denial", &["nsec"]),
                    int("dnssec_nsec3_iterations", Cmp::Eq, 0),
                ]),
            ]),
            note: "of the DNSSEC-secure domains; NSEC (no iterations) counts as iterations 0",
        },
        Metric {
            id: "ns_ipv6",
            title: "Name servers reachable over IPv6",
            standard: "IPv6",
            spec: "internet.nl",
            tier: Tier::Check,
            applies_to: Cond::True,
            adopted: status(Check::NsIpv6, &[Status::Reachable]),
            note: "at least two name servers answer over IPv6",
        },
        Metric {
            id: "caa",
            title: "CAA naming the allowed CAs",
            standard: "CAA",
            spec: "RFC 8659",
            tier: Tier::Check,
            applies_to: Cond::True,
            adopted: and(vec![
                status(Check::Caa, &[Status::Present]),
                list_non_empty("caa_issuers"),
            ]),
            note: "all records valid and an issue/issuewild tag naming a CA (a set whose only \
                   issue value is \";\" has no issuer and is not counted)",
        },
        // --- Mail ---
        Metric {
            id: "spf",
            title: "SPF that fails foreign senders",
            standard: "SPF",
            spec: "RFC 7208",
            tier: Tier::Check,
            applies_to: Cond::True,
            adopted: status(Check::Spf, &[Status::Fail, Status::Softfail]),
            note: "effective check_host() result for a foreign address is fail or softfail; \
                   every domain should publish SPF, also those that send no mail",
        },
        Metric {
            id: "dmarc",
            title: "DMARC quarantine or reject",
            standard: "DMARC",
            spec: "RFC 7489",
            tier: Tier::Check,
            applies_to: Cond::True,
            adopted: status(Check::Dmarc, &[Status::Quarantine, Status::Reject]),
            note: "effective policy, including the organisational domain's sp",
        },
        Metric {
            id: "dmarc_reject",
            title: "DMARC reject at pct=100",
            standard: "DMARC",
            spec: "RFC 7489; CHECKS.md strict variant",
            tier: Tier::Strict,
            applies_to: Cond::True,
            adopted: and(vec![
                status(Check::Dmarc, &[Status::Reject]),
                int("dmarc_pct", Cmp::Eq, 100),
            ]),
            note: "dmarc_pct is 100 when the record has no pct=",
        },
        Metric {
            id: "dkim",
            title: "DKIM keys published, or no mail sent",
            standard: "DKIM",
            spec: "RFC 6376, RFC 8020",
            tier: Tier::Check,
            applies_to: Cond::True,
            adopted: or(vec![
                status(Check::Dkim, &[Status::Present]),
                and(vec![
                    status(Check::Dmarc, &[Status::Reject]),
                    str_in("spf_record", &["v=spf1 -all"]),
                ]),
            ]),
            note: "the _domainkey node exists, or the domain declares it sends no mail (DMARC \
                   reject and exactly \"v=spf1 -all\")",
        },
        Metric {
            id: "starttls",
            title: "STARTTLS with TLS 1.2+ on every MX",
            standard: "STARTTLS",
            spec: "RFC 3207; NCSC-NL TLS guidelines 2025",
            tier: Tier::Check,
            applies_to: mail_domains(),
            adopted: and(vec![
                status(Check::Starttls, &[Status::All]),
                list_all_in("mx_tls_versions", MODERN_TLS),
            ]),
            note: "of the domains with MX (not null MX)",
        },
        Metric {
            id: "dane",
            title: "DANE on every MX",
            standard: "DANE",
            spec: "RFC 7672",
            tier: Tier::Check,
            applies_to: and(vec![mail_domains(), is_true("dane_mx_secure")]),
            adopted: status(Check::Dane, &[Status::Valid]),
            note: "of the domains whose MX hosts' TLSA names are all DNSSEC-secure",
        },
        Metric {
            id: "mta_sts_record",
            title: "MTA-STS record published",
            standard: "MTA-STS",
            spec: "RFC 8461",
            tier: Tier::Check,
            applies_to: mail_domains(),
            adopted: status(Check::MtaStsRecord, &[Status::Present]),
            note: "context for mta_sts: the _mta-sts TXT record alone",
        },
        Metric {
            id: "mta_sts",
            title: "MTA-STS enforced",
            standard: "MTA-STS",
            spec: "RFC 8461",
            tier: Tier::Check,
            applies_to: mail_domains(),
            adopted: status(Check::MtaSts, &[Status::Enforce]),
            note: "a valid policy in mode enforce",
        },
        Metric {
            id: "tls_rpt",
            title: "SMTP TLS reporting",
            standard: "TLS-RPT",
            spec: "RFC 8460",
            tier: Tier::Check,
            applies_to: mail_domains(),
            adopted: status(Check::TlsRpt, &[Status::Present]),
            note: "of the domains with MX",
        },
        Metric {
            id: "mx_ipv6",
            title: "Every MX reachable over IPv6",
            standard: "IPv6",
            spec: "internet.nl",
            tier: Tier::Check,
            applies_to: mail_domains(),
            adopted: status(Check::MxIpv6, &[Status::All]),
            note: "of the domains with MX",
        },
        Metric {
            id: "mx_pq_kex",
            title: "Post-quantum key exchange on every MX",
            standard: "TLS (SMTP STARTTLS)",
            spec: "draft-ietf-tls-ecdhe-mlkem, FIPS 203",
            tier: Tier::Check,
            applies_to: status(Check::MxPqKex, &[Status::All, Status::Some, Status::None]),
            adopted: status(Check::MxPqKex, &[Status::All]),
            note: "of the domains with an MX that completes STARTTLS",
        },
        Metric {
            id: "mail_anti_spoofing",
            title: "Mail protected against spoofing",
            standard: "SPF + DMARC",
            spec: "RFC 7208, RFC 7489",
            tier: Tier::Combined,
            applies_to: Cond::True,
            adopted: and(vec![
                status(Check::Spf, &[Status::Fail, Status::Softfail]),
                status(Check::Dmarc, &[Status::Quarantine, Status::Reject]),
            ]),
            note: "SPF fail/softfail and DMARC quarantine/reject",
        },
        // --- Web ---
        Metric {
            id: "web_ipv6",
            title: "Web server reachable over IPv6",
            standard: "IPv6",
            spec: "internet.nl",
            tier: Tier::Check,
            applies_to: status(
                Check::WebIpv6,
                &[Status::Reachable, Status::Unreachable, Status::None],
            ),
            adopted: status(Check::WebIpv6, &[Status::Reachable]),
            note: "of the domains with a web host",
        },
        Metric {
            id: "https",
            title: "HTTPS with a valid certificate",
            standard: "HTTPS",
            spec: "RFC 2818",
            tier: Tier::Check,
            applies_to: web_domains(),
            adopted: and(vec![
                https_domains(),
                status(Check::Certificate, &[Status::Valid]),
            ]),
            note: "of the domains with a web host",
        },
        Metric {
            id: "https_redirect",
            title: "HTTP redirects to HTTPS",
            standard: "HTTPS",
            spec: "internet.nl, BOD 18-01",
            tier: Tier::Check,
            applies_to: status(
                Check::HttpsRedirect,
                &[Status::Enforced, Status::NotEnforced, Status::NoHttp],
            ),
            adopted: status(Check::HttpsRedirect, &[Status::Enforced, Status::NoHttp]),
            note: "the first redirect goes to https on the same host, or port 80 is closed",
        },
        Metric {
            id: "tls_version",
            title: "TLS 1.2 or later only",
            standard: "TLS",
            spec: "NCSC-NL TLS guidelines 2025",
            tier: Tier::Check,
            applies_to: https_domains(),
            adopted: status(Check::TlsVersion, &[Status::Good, Status::Sufficient]),
            note: "of the domains with HTTPS; no TLS 1.0/1.1 accepted",
        },
        Metric {
            id: "tls_version_good",
            title: "TLS 1.3 offered, nothing below 1.2",
            standard: "TLS",
            spec: "NCSC-NL TLS guidelines 2025 (good)",
            tier: Tier::Strict,
            applies_to: https_domains(),
            adopted: status(Check::TlsVersion, &[Status::Good]),
            note: "of the domains with HTTPS",
        },
        Metric {
            id: "tls_cipher",
            title: "Good or sufficient cipher suite",
            standard: "TLS",
            spec: "NCSC-NL TLS guidelines 2025, appendix B",
            tier: Tier::Check,
            applies_to: https_domains(),
            adopted: status(Check::TlsCipher, &[Status::Good, Status::Sufficient]),
            note: "of the domains with HTTPS",
        },
        Metric {
            id: "certificate",
            title: "Valid certificate with a strong key",
            standard: "Web PKI",
            spec: "RFC 5280, RFC 6125",
            tier: Tier::Check,
            applies_to: https_domains(),
            adopted: and(vec![
                status(Check::Certificate, &[Status::Valid]),
                str_prefix(
                    "certificate_key",
                    &[
                        "EC ", "Ed25519", "Ed448", "RSA 2048", "RSA 3072", "RSA 4096", "RSA 8192",
                    ],
                ),
            ]),
            note: "valid (chain, name, expiry; the verifier rejects SHA-1 signatures) and an EC \
                   or EdDSA key or RSA of 2048, 3072, 4096 or 8192 bits",
        },
        Metric {
            id: "certificate_key_good",
            title: "Certificate key RSA >= 3072 or EC",
            standard: "Web PKI",
            spec: "NCSC-NL TLS guidelines 2025 (good)",
            tier: Tier::Strict,
            applies_to: https_domains(),
            adopted: and(vec![
                status(Check::Certificate, &[Status::Valid]),
                str_prefix(
                    "certificate_key",
                    &[
                        "EC ", "Ed25519", "Ed448", "RSA 3072", "RSA 4096", "RSA 8192",
                    ],
                ),
            ]),
            note: "of the domains with HTTPS",
        },
        Metric {
            id: "pq_kex",
            title: "Post-quantum key exchange",
            standard: "TLS",
            spec: "draft-ietf-tls-ecdhe-mlkem, FIPS 203",
            tier: Tier::Check,
            applies_to: https_domains(),
            adopted: status(Check::PqKex, &[Status::PqHybrid]),
            note: "of the domains with HTTPS: a hybrid ML-KEM group negotiated when offered",
        },
        Metric {
            id: "hsts",
            title: "HSTS for at least a year",
            standard: "HSTS",
            spec: "RFC 6797, BOD 18-01",
            tier: Tier::Check,
            applies_to: https_domains(),
            adopted: status(Check::Hsts, &[Status::Strong]),
            note: "max-age >= 31536000",
        },
        Metric {
            id: "hsts_preload_ready",
            title: "HSTS preload-ready",
            standard: "HSTS",
            spec: "RFC 6797; hstspreload.org submission requirements",
            tier: Tier::Strict,
            applies_to: https_domains(),
            adopted: and(vec![
                status(Check::Certificate, &[Status::Valid]),
                status(Check::HttpsRedirect, &[Status::Enforced, Status::NoHttp]),
                int("hsts_max_age", Cmp::Ge, ONE_YEAR),
                is_true("hsts_include_subdomains"),
                is_true("hsts_preload"),
            ]),
            note: "valid certificate, HTTP redirected (or closed), max-age >= 31536000, \
                   includeSubDomains and preload",
        },
        Metric {
            id: "security_txt",
            title: "Valid security.txt",
            standard: "security.txt",
            spec: "RFC 9116",
            tier: Tier::Check,
            applies_to: https_domains(),
            adopted: status(Check::SecurityTxt, &[Status::Valid]),
            note: "of the domains with HTTPS",
        },
        Metric {
            id: "security_headers",
            title: "All four security headers",
            standard: "HTTP security headers",
            spec: "common practice (OWASP)",
            tier: Tier::Check,
            applies_to: https_domains(),
            adopted: status(Check::SecurityHeaders, &[Status::All]),
            note: "CSP, X-Frame-Options, X-Content-Type-Options, Referrer-Policy",
        },
        Metric {
            id: "web_modern",
            title: "Web fully modern",
            standard: "HTTPS + TLS + HSTS",
            spec: "RFC 2818, RFC 6797, NCSC-NL TLS guidelines 2025, BOD 18-01",
            tier: Tier::Combined,
            applies_to: web_domains(),
            adopted: and(vec![
                https_domains(),
                status(Check::HttpsRedirect, &[Status::Enforced, Status::NoHttp]),
                status(Check::Certificate, &[Status::Valid]),
                status(Check::TlsVersion, &[Status::Good, Status::Sufficient]),
                status(Check::Hsts, &[Status::Strong]),
            ]),
            note: "HTTPS enforced, valid certificate, TLS 1.2+ only and HSTS >= 1 year, of the \
                   domains with a web host",
        },
        // --- Routing ---
        Metric {
            id: "rpki",
            title: "RPKI-valid routes for every address",
            standard: "RPKI",
            spec: "RFC 6811, RFC 6480",
            tier: Tier::Check,
            applies_to: status(
                Check::Rpki,
                &[
                    Status::Valid,
                    Status::Invalid,
                    Status::Partial,
                    Status::NotFound,
                ],
            ),
            adopted: status(Check::Rpki, &[Status::Valid]),
            note: "every web, mail and name server address covered by a VRP and valid; partial \
                   (some not found) and invalid count as not adopted; not_applicable (no address \
                   in the routing tables) is left out",
        },
    ]
}

fn md_cell(s: &str) -> String {
    s.replace('|', "\\|")
}

/// docs/metrics.md: every metric with its definition, and how rows are counted.
pub fn metrics_markdown() -> String {
    let mut md = String::from(
        "# uptake adoption metrics\n\n\
         Generated from the declarations in `crates/aggregate/src/metrics.rs` (also printed by \
         `uptake metrics`); a test keeps this file in step with the code. `uptake aggregate` \
         computes them in Rust and writes the same definitions as SQL (`metrics.sql`).\n\n\
         ## How a domain counts\n\n\
         For each metric and each row (one domain in one scan), in this order:\n\n\
         1. a status column the metric reads is null (the check was not run in that scan): the \
         row is left out (neither applicable nor an error);\n\
         2. a status column the metric reads is `error` (could not measure): the row is an \
         error; errors are reported beside the rate and never enter its denominator;\n\
         3. the row is *applicable* when the denominator condition holds, and *adopted* when \
         the numerator condition holds too.\n\n\
         Integer, boolean, string and list conditions are false on null values. \
         `rate = adopted / applicable`, with a Wilson 95% interval (z = 1.959964); \
         `error_rate = errors / (applicable + errors)`. A scan whose files lack a column a \
         metric reads (an older schema version) reports the metric as unavailable: \
         `available = false` and empty counts.\n\n\
         ## Groups\n\n\
         - `country`: the list's value with spaces trimmed, upper-cased when it has two \
         characters (ISO 3166 alpha-2), any other value kept verbatim as its own group; an \
         empty or missing value falls back to the country of the public suffix's ccTLD \
         (`datasets/cctld-countries.csv`, e.g. `gov.uk` -> GB); generic TLDs and a missing \
         public suffix give `unknown`.\n\
         - `sector`: the ISIC Rev.4 section (A-U) of the list's label (table in \
         `crates/aggregate/src/groups.rs`; a single letter A-U is the section itself); a label \
         not in the table is the group `unmapped: <label>`, never guessed; missing is \
         `unknown`. adoption.json lists every label seen with its group.\n\
         - `organisation`: the list's value; missing is `unknown`.\n\
         - `hosting_country` and `hosting_asn`: the scan's `hosting_country` and `hosting_asn` \
         columns, which describe one address per domain: the first web address (apex, else \
         www; IPv4 first), else the first mail address, looked up in the IP-to-ASN/country \
         table given to the scan (`--ip-asn`). The country is upper-cased, the network is \
         `AS<number>`; a null value (a scan without routing tables, an address the table does \
         not know, a file older than the columns) is `unknown`. Mail hosting has no dimension \
         of its own: a domain's web host decides its group.\n\
         - several dimensions (`--by country,sector`): the values joined by `|`, e.g. `NL|O`.\n\n\
         ## Metrics\n\n",
    );
    for m in metrics() {
        let _ = write!(
            md,
            "### `{}`: {}\n\n\
             - standard: {} ({})\n\
             - kind: {}\n\
             - applies to (denominator): `{}`\n\
             - adopted when (numerator): `{}`\n\
             - status columns (null sets the row aside, `error` makes it an error): {}\n\
             - note: {}\n\n",
            m.id,
            m.title,
            m.standard,
            m.spec,
            m.tier.as_str(),
            md_cell(&m.applies_to.to_string()),
            md_cell(&m.adopted.to_string()),
            m.status_columns()
                .iter()
                .map(|c| format!("`{c}`"))
                .collect::<Vec<_>>()
                .join(", "),
            m.note
        );
    }
    md
}

/// The metrics for a terminal (`uptake metrics`).
pub fn metrics_text() -> String {
    let mut out = String::new();
    for m in metrics() {
        let _ = writeln!(out, "{} [{}] {}", m.id, m.tier.as_str(), m.title);
        let _ = writeln!(out, "  standard:   {} ({})", m.standard, m.spec);
        let _ = writeln!(out, "  applies to: {}", m.applies_to);
        let _ = writeln!(out, "  adopted:    {}", m.adopted);
        let _ = writeln!(out, "  note:       {}", m.note);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use uptake_model::row::COLUMNS;

    fn check_statuses(c: &Cond) {
        match c {
            Cond::Status { check, any_of } => {
                for s in any_of {
                    assert!(check.statuses().contains(s), "{check} has no status {s}");
                }
            }
            Cond::And(cs) | Cond::Or(cs) => cs.iter().for_each(check_statuses),
            _ => {}
        }
    }

    #[test]
    fn declarations_are_well_formed() {
        let ms = metrics();
        let mut ids: Vec<_> = ms.iter().map(|m| m.id).collect();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), ms.len(), "duplicate metric id");
        for m in &ms {
            for (name, kind) in m.columns() {
                let col = COLUMNS
                    .iter()
                    .find(|c| c.name == name)
                    .unwrap_or_else(|| panic!("{}: no column {name}", m.id));
                assert_eq!(col.kind, kind, "{}: {name}", m.id);
            }
            check_statuses(&m.applies_to);
            check_statuses(&m.adopted);
            assert!(!m.status_columns().is_empty(), "{} reads no status", m.id);
        }
    }

    /// Every check of CHECKS.md with an "adopted when" has a metric reading its status
    /// (mx is context only).
    #[test]
    fn every_check_has_a_metric() {
        let ms = metrics();
        for check in Check::ALL {
            if check == Check::Mx {
                continue;
            }
            let col = check.status_column();
            assert!(
                ms.iter()
                    .any(|m| m.adopted.to_string().contains(&format!("{col} in"))),
                "no metric for {check}"
            );
        }
    }

    /// docs/metrics.md is generated; regenerate with
    /// `UPTAKE_WRITE_METRICS_MD=1 cargo test -p uptake-aggregate metrics_md`.
    #[test]
    fn metrics_md_is_current() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/metrics.md");
        let expected = metrics_markdown();
        if std::env::var_os("UPTAKE_WRITE_METRICS_MD").is_some() {
            std::fs::write(&path, &expected).unwrap();
        }
        let actual = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            actual == expected,
            "docs/metrics.md is out of date; run UPTAKE_WRITE_METRICS_MD=1 cargo test -p uptake-aggregate metrics_md"
        );
    }
}
