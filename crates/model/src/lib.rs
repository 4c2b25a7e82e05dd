//! The vocabulary every other uptake crate speaks.
//!
//! Where it sits: at the bottom of the dependency graph. The testbed generator writes ground
//! truth in these words, the evaluators in `uptake-checks` produce them, the store writes them
//! to Parquet and the aggregator counts them. Keeping the check ids and status words in one
//! place is what lets a scan be compared with a truth file by a plain join on `domain`.
//!
//! The words and their meaning follow `CHECKS.md` (internet.nl / NCSC-NL, BOD 18-01, RFCs).

pub mod row;
pub mod time;

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// One measured standard. Its `id()` is the column prefix in Parquet and truth.csv.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Check {
    /// DNSSEC validation state of the domain (RFC 4033-4035), from the resolver's AD bit.
    Dnssec,
    /// Strength of the DNSKEY algorithms (RFC 8624).
    DnssecAlgorithm,
    /// Name servers that answer over IPv6 (internet.nl).
    NsIpv6,
    /// Certification Authority Authorization records (RFC 8659).
    Caa,
    /// Mail exchangers (RFC 5321, null MX RFC 7505).
    Mx,
    /// Sender Policy Framework, evaluated for a foreign address (RFC 7208).
    Spf,
    /// Effective DMARC policy (RFC 7489).
    Dmarc,
    /// Existence of the `_domainkey` node (RFC 6376, RFC 8020).
    Dkim,
    /// SMTP TLS reporting record (RFC 8460).
    TlsRpt,
    /// The `_mta-sts` TXT record (RFC 8461).
    MtaStsRecord,
    /// STARTTLS on every MX (RFC 3207).
    Starttls,
    /// DANE TLSA records of the MX hosts, DNSSEC-secure and matching (RFC 7672).
    Dane,
    /// The MTA-STS policy (RFC 8461).
    MtaSts,
    /// MX hosts reachable over IPv6 (internet.nl).
    MxIpv6,
    /// Post-quantum hybrid key exchange on every MX's STARTTLS.
    MxPqKex,
    /// Web server reachable over IPv6 (internet.nl).
    WebIpv6,
    /// HTTPS on the web host (RFC 2818).
    Https,
    /// HTTP redirects to HTTPS on the same host (internet.nl, BOD 18-01).
    HttpsRedirect,
    /// TLS protocol versions of the web host (NCSC-NL 2025).
    TlsVersion,
    /// Negotiated cipher suite class (NCSC-NL 2025, appendix B).
    TlsCipher,
    /// The web host's certificate (RFC 5280, RFC 6125).
    Certificate,
    /// Post-quantum hybrid key exchange on the web host.
    PqKex,
    /// HTTP Strict Transport Security (RFC 6797).
    Hsts,
    /// security.txt (RFC 9116).
    SecurityTxt,
    /// Common security headers.
    SecurityHeaders,
    /// RPKI route origin validation of the domain's web, mail and name server addresses (RFC 6811).
    Rpki,
}

impl Check {
    /// Every check, in the column order of the output.
    pub const ALL: [Check; 26] = [
        Check::Dnssec,
        Check::DnssecAlgorithm,
        Check::NsIpv6,
        Check::Caa,
        Check::Mx,
        Check::Spf,
        Check::Dmarc,
        Check::Dkim,
        Check::TlsRpt,
        Check::MtaStsRecord,
        Check::Starttls,
        Check::Dane,
        Check::MtaSts,
        Check::MxIpv6,
        Check::MxPqKex,
        Check::WebIpv6,
        Check::Https,
        Check::HttpsRedirect,
        Check::TlsVersion,
        Check::TlsCipher,
        Check::Certificate,
        Check::PqKex,
        Check::Hsts,
        Check::SecurityTxt,
        Check::SecurityHeaders,
        Check::Rpki,
    ];

    /// The checks answered from the DNS alone (the first stage of every domain's plan).
    pub const DNS: [Check; 10] = [
        Check::Dnssec,
        Check::DnssecAlgorithm,
        Check::NsIpv6,
        Check::Caa,
        Check::Mx,
        Check::Spf,
        Check::Dmarc,
        Check::Dkim,
        Check::TlsRpt,
        Check::MtaStsRecord,
    ];

    /// The checks that connect to the domain's web hosts (apex and www, ports 80 and 443).
    pub const WEB: [Check; 10] = [
        Check::WebIpv6,
        Check::Https,
        Check::HttpsRedirect,
        Check::TlsVersion,
        Check::TlsCipher,
        Check::Certificate,
        Check::PqKex,
        Check::Hsts,
        Check::SecurityTxt,
        Check::SecurityHeaders,
    ];

    /// The checks that connect to the domain's mail servers (port 25) or its MTA-STS host.
    pub const MAIL: [Check; 5] = [
        Check::Starttls,
        Check::Dane,
        Check::MtaSts,
        Check::MxIpv6,
        Check::MxPqKex,
    ];

    /// The checks answered from routing tables given to the scan.
    pub const ROUTING: [Check; 1] = [Check::Rpki];

    /// Expands check ids and the groups `dns`, `web`, `mail`, `routing` and `all` into checks
    /// in output order, each once. An empty list means `all`.
    pub fn expand<S: AsRef<str>>(words: &[S]) -> Result<Vec<Check>, UnknownWord> {
        if words.is_empty() {
            return Ok(Check::ALL.to_vec());
        }
        let mut chosen = Vec::new();
        for word in words {
            let group: &[Check] = match word.as_ref().trim() {
                "all" => &Check::ALL,
                "dns" => &Check::DNS,
                "web" => &Check::WEB,
                "mail" => &Check::MAIL,
                "routing" => &Check::ROUTING,
                id => &[id.parse::<Check>().map_err(|_| UnknownWord {
                    kind: "check or check group (dns, web, mail, routing, all)",
                    word: id.to_string(),
                })?],
            };
            chosen.extend_from_slice(group);
        }
        chosen.sort();
        chosen.dedup();
        Ok(chosen)
    }

    /// Whether the check runs after the DNS stage: it needs connections to web or mail servers,
    /// or (rpki) the addresses those stages settle on, looked up in routing tables.
    pub fn needs_connections(self) -> bool {
        !Check::DNS.contains(&self)
    }

    /// The check's id: `<id>_status` is its status column.
    pub const fn id(self) -> &'static str {
        match self {
            Check::Dnssec => "dnssec",
            Check::DnssecAlgorithm => "dnssec_algorithm",
            Check::NsIpv6 => "ns_ipv6",
            Check::Caa => "caa",
            Check::Mx => "mx",
            Check::Spf => "spf",
            Check::Dmarc => "dmarc",
            Check::Dkim => "dkim",
            Check::TlsRpt => "tls_rpt",
            Check::MtaStsRecord => "mta_sts_record",
            Check::Starttls => "starttls",
            Check::Dane => "dane",
            Check::MtaSts => "mta_sts",
            Check::MxIpv6 => "mx_ipv6",
            Check::MxPqKex => "mx_pq_kex",
            Check::WebIpv6 => "web_ipv6",
            Check::Https => "https",
            Check::HttpsRedirect => "https_redirect",
            Check::TlsVersion => "tls_version",
            Check::TlsCipher => "tls_cipher",
            Check::Certificate => "certificate",
            Check::PqKex => "pq_kex",
            Check::Hsts => "hsts",
            Check::SecurityTxt => "security_txt",
            Check::SecurityHeaders => "security_headers",
            Check::Rpki => "rpki",
        }
    }

    /// Name of the status column in Parquet and in truth.csv.
    pub fn status_column(self) -> String {
        format!("{}_status", self.id())
    }

    /// The specification the check measures against.
    pub const fn spec(self) -> &'static str {
        match self {
            Check::Dnssec => "RFC 4033-4035",
            Check::DnssecAlgorithm => "RFC 8624, RFC 9276",
            Check::NsIpv6 => "internet.nl",
            Check::Caa => "RFC 8659",
            Check::Mx => "RFC 5321, RFC 7505",
            Check::Spf => "RFC 7208",
            Check::Dmarc => "RFC 7489",
            Check::Dkim => "RFC 6376, RFC 8020",
            Check::TlsRpt => "RFC 8460",
            Check::MtaStsRecord => "RFC 8461",
            Check::Starttls => "RFC 3207",
            Check::Dane => "RFC 7672",
            Check::MtaSts => "RFC 8461",
            Check::MxIpv6 => "internet.nl",
            Check::MxPqKex => "draft-ietf-tls-ecdhe-mlkem, FIPS 203",
            Check::WebIpv6 => "internet.nl",
            Check::Https => "RFC 2818",
            Check::HttpsRedirect => "internet.nl, BOD 18-01",
            Check::TlsVersion => "NCSC-NL TLS guidelines 2025",
            Check::TlsCipher => "NCSC-NL TLS guidelines 2025, appendix B",
            Check::Certificate => "RFC 5280, RFC 6125",
            Check::PqKex => "draft-ietf-tls-ecdhe-mlkem, FIPS 203",
            Check::Hsts => "RFC 6797",
            Check::SecurityTxt => "RFC 9116",
            Check::SecurityHeaders => "common practice (OWASP)",
            Check::Rpki => "RFC 6811",
        }
    }

    /// The statuses this check can report besides `error`.
    pub const fn statuses(self) -> &'static [Status] {
        use Status::*;
        match self {
            Check::Dnssec => &[Secure, Insecure, Bogus],
            Check::DnssecAlgorithm => &[Modern, Deprecated, NotApplicable],
            Check::NsIpv6 => &[Reachable, Partial, None],
            Check::Caa => &[Present, Invalid, Absent],
            Check::Mx => &[Mx, NullMx, None],
            Check::Spf => &[Fail, Softfail, Neutral, Pass, None, Permerror],
            Check::Dmarc => &[Reject, Quarantine, None, Invalid, Absent],
            Check::Dkim => &[Present, Absent],
            Check::TlsRpt => &[Present, Invalid, Absent],
            Check::MtaStsRecord => &[Present, Invalid, Absent],
            Check::Starttls => &[All, Some, None, NotApplicable],
            Check::Dane => &[Valid, Invalid, Insecure, Absent, NotApplicable],
            Check::MtaSts => &[Enforce, Testing, None, Invalid, Absent],
            Check::MxIpv6 => &[All, Some, None, NotApplicable],
            Check::MxPqKex => &[All, Some, None, NotApplicable],
            Check::WebIpv6 => &[Reachable, Unreachable, None, NotApplicable],
            Check::Https => &[Available, Unavailable, NotApplicable],
            Check::HttpsRedirect => &[Enforced, NotEnforced, NoHttp, NotApplicable],
            Check::TlsVersion => &[Good, Sufficient, Insufficient, NotApplicable],
            Check::TlsCipher => &[Good, Sufficient, PhaseOut, Insufficient, NotApplicable],
            Check::Certificate => &[
                Valid,
                Expired,
                NameMismatch,
                Untrusted,
                SelfSigned,
                NotApplicable,
            ],
            Check::PqKex => &[PqHybrid, Classical, NotApplicable],
            Check::Hsts => &[Strong, Weak, Absent, NotApplicable],
            Check::SecurityTxt => &[Valid, Invalid, Absent, NotApplicable],
            Check::SecurityHeaders => &[All, Some, None, NotApplicable],
            Check::Rpki => &[Valid, Invalid, Partial, NotFound, NotApplicable],
        }
    }

    /// One sentence on what the check measures and how.
    pub const fn description(self) -> &'static str {
        match self {
            Check::Dnssec => "AD bit of the validating resolver on the SOA query at the domain; a SERVFAIL that a CD=1 re-query answers is bogus",
            Check::DnssecAlgorithm => "DNSKEY algorithms of the domain's zone: modern (ECDSA, EdDSA, RSA/SHA-2 >= 2048 bits) or deprecated (RSA/SHA-1, RSA < 2048, older)",
            Check::NsIpv6 => "name servers of the domain's zone with an AAAA record that answer a DNS query over IPv6: reachable (>= 2), partial (1), none",
            Check::Caa => "CAA RRset found at the domain or the nearest ancestor up to the registrable domain; invalid when a record is malformed or carries an unknown critical tag",
            Check::Mx => "MX RRset of the domain: mx, null_mx (RFC 7505 '0 .'), none",
            Check::Spf => "RFC 7208 check_host() for a foreign address (203.0.113.254): the effective result through include/redirect with lookup limits",
            Check::Dmarc => "effective DMARC policy: _dmarc.<domain>, else the organisational domain's record (its sp when present)",
            Check::Dkim => "TXT query for _domainkey.<domain>: NXDOMAIN means absent (RFC 8020), any other answer means the node exists",
            Check::TlsRpt => "_smtp._tls.<domain> TXT: one v=TLSRPTv1 record with rua= mailto: or https: URIs",
            Check::MtaStsRecord => "_mta-sts.<domain> TXT: one v=STSv1 record with a valid id",
            Check::Starttls => "each MX on port 25: EHLO, STARTTLS, TLS handshake, QUIT (no mail sent): all, some or none of the MX hosts offer it; not_applicable without MX",
            Check::Dane => "TLSA at _25._tcp.<mx>: valid when every MX has a DNSSEC-secure TLSA (usage 2/3) matching the presented certificate; insecure when the TLSA zone is unsigned",
            Check::MtaSts => "policy at https://mta-sts.<domain>/.well-known/mta-sts.txt (valid certificate, text/plain, RFC 8461 syntax, mx patterns cover every MX): its mode, or invalid",
            Check::MxIpv6 => "MX hosts with an AAAA record that accept TCP on port 25 over IPv6: all, some, none",
            Check::WebIpv6 => "AAAA of the apex (else www) answering on port 443 (or 80) over IPv6: reachable, unreachable (AAAA without answer), none (no AAAA)",
            Check::Https => "TLS handshake on port 443 of the web host (the apex, www when the apex has no A or AAAA record) with SNI; not_applicable when neither has an address",
            Check::HttpsRedirect => "GET http://<host>/: the first redirect goes to https:// on the same host (enforced), elsewhere or nowhere (not_enforced), or port 80 closed (no_http)",
            Check::TlsVersion => "good (TLS 1.3 offered, nothing below 1.2), sufficient (1.2 at most, nothing below), insufficient (1.0 or 1.1 accepted, or nothing >= 1.2)",
            Check::TlsCipher => "the negotiated cipher suite in the NCSC-NL classes good, sufficient, phase_out, insufficient",
            Check::Certificate => "chain to the trust store, name match, expiry: valid, expired, name_mismatch, untrusted, self_signed",
            Check::PqKex => "key-exchange group the web host negotiates when X25519MLKEM768 (with a key share) and SecP256r1MLKEM768 are offered beside classical groups, through a HelloRetryRequest or not: pq_hybrid (a hybrid ML-KEM group) or classical; not_applicable without HTTPS",
            Check::MxPqKex => "the same key-exchange offer in each MX's STARTTLS handshake: all, some or none of the MX hosts negotiate a hybrid ML-KEM group (an MX without STARTTLS counts as not hybrid); not_applicable without MX or when no MX completes STARTTLS",
            Check::Hsts => "Strict-Transport-Security of the HTTPS response: strong (max-age >= 31536000), weak, absent",
            Check::SecurityTxt => "https://<host>/.well-known/security.txt: 200, text/plain, Contact and Expires present, not expired",
            Check::SecurityHeaders => "Content-Security-Policy, X-Frame-Options, X-Content-Type-Options, Referrer-Policy on the HTTPS response: all, some, none",
            Check::Rpki => "origin AS and covering prefix of each web, mail and name server address (prefix-to-origin table) validated against the VRPs: valid (every address), invalid (any), partial (some valid, the rest not found), not_found",
        }
    }
}

impl fmt::Display for Check {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.id())
    }
}

/// Error returned when a word is not a known check or status.
#[derive(Debug, thiserror::Error)]
#[error("unknown {kind} '{word}'")]
pub struct UnknownWord {
    kind: &'static str,
    word: String,
}

impl FromStr for Check {
    type Err = UnknownWord;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Check::ALL
            .into_iter()
            .find(|c| c.id() == s)
            .ok_or_else(|| UnknownWord {
                kind: "check",
                word: s.to_string(),
            })
    }
}

macro_rules! statuses {
    ($($variant:ident => $word:literal : $doc:literal),* $(,)?) => {
        /// A status word from the closed vocabulary of CHECKS.md.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(rename_all = "snake_case")]
        pub enum Status {
            $(#[doc = $doc] $variant,)*
        }

        impl Status {
            /// Every status word.
            pub const ALL: &'static [Status] = &[$(Status::$variant,)*];

            /// The word as written in Parquet and truth.csv.
            pub const fn as_str(self) -> &'static str {
                match self { $(Status::$variant => $word,)* }
            }
        }
    };
}

statuses! {
    Error => "error": "Could not measure; the finding's reason says why. Never counted as not adopted.",
    NotApplicable => "not_applicable": "The check does not apply (e.g. algorithm of an unsigned zone).",
    Secure => "secure": "DNSSEC validates.",
    Insecure => "insecure": "No DNSSEC chain of trust.",
    Bogus => "bogus": "DNSSEC is published but does not validate.",
    Modern => "modern": "Only recommended algorithms.",
    Deprecated => "deprecated": "At least one deprecated algorithm or weak key.",
    Reachable => "reachable": "Two or more name servers answer over IPv6.",
    Partial => "partial": "Part of the set qualifies: one name server answers over IPv6 (ns_ipv6); some addresses RPKI-valid, the rest not found (rpki).",
    None => "none": "Nothing of the kind is published.",
    Present => "present": "The record is published and valid.",
    Invalid => "invalid": "A record is published but malformed; for rpki, a route origin is RPKI-invalid.",
    Absent => "absent": "No record is published.",
    Mx => "mx": "The domain has MX records.",
    NullMx => "null_mx": "The domain declares it accepts no mail (RFC 7505).",
    Fail => "fail": "SPF result fail (-all) for a foreign address.",
    Softfail => "softfail": "SPF result softfail (~all) for a foreign address.",
    Neutral => "neutral": "SPF result neutral (?all) for a foreign address.",
    Pass => "pass": "SPF result pass (+all) for a foreign address.",
    Permerror => "permerror": "The SPF record cannot be evaluated (syntax, limits, several records).",
    Reject => "reject": "DMARC policy reject.",
    Quarantine => "quarantine": "DMARC policy quarantine.",
    All => "all": "Every host (MX, header) qualifies.",
    Some => "some": "Some but not all hosts qualify.",
    Valid => "valid": "Validates (certificate, DANE match, security.txt, RPKI route origin).",
    NotFound => "not_found": "No VRP covers the route (RPKI, RFC 6811 NotFound).",
    Enforce => "enforce": "MTA-STS policy mode enforce.",
    Testing => "testing": "MTA-STS policy mode testing.",
    Unreachable => "unreachable": "An address is published but does not answer.",
    Available => "available": "The service answers (TLS handshake completes).",
    Unavailable => "unavailable": "The service does not answer or refuses.",
    Enforced => "enforced": "HTTP redirects to HTTPS on the same host.",
    NotEnforced => "not_enforced": "HTTP is served without a redirect to HTTPS on the same host.",
    NoHttp => "no_http": "Port 80 does not answer (only HTTPS is offered).",
    Good => "good": "NCSC-NL class good.",
    Sufficient => "sufficient": "NCSC-NL class sufficient.",
    Insufficient => "insufficient": "NCSC-NL class insufficient.",
    PhaseOut => "phase_out": "NCSC-NL class phase out.",
    Expired => "expired": "The certificate has expired.",
    NameMismatch => "name_mismatch": "The certificate does not cover the name.",
    Untrusted => "untrusted": "The certificate does not chain to a trusted root.",
    SelfSigned => "self_signed": "The certificate is self-signed.",
    PqHybrid => "pq_hybrid": "A post-quantum hybrid group was negotiated.",
    Classical => "classical": "A classical (EC)DHE group was negotiated.",
    Strong => "strong": "HSTS max-age of at least one year.",
    Weak => "weak": "HSTS max-age below one year (including 0).",
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Status {
    type Err = UnknownWord;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Status::ALL
            .iter()
            .copied()
            .find(|w| w.as_str() == s)
            .ok_or_else(|| UnknownWord {
                kind: "status",
                word: s.to_string(),
            })
    }
}

/// The outcome of one check for one domain: a status and, for `error`, why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Finding {
    /// The status word.
    pub status: Status,
    /// Why the check could not measure (only for `error`), or a short note on the status.
    pub reason: Option<String>,
}

impl Finding {
    /// A finding with a status and no reason.
    pub fn of(status: Status) -> Self {
        Finding {
            status,
            reason: Option::None,
        }
    }

    /// A finding that could not be measured.
    pub fn error(reason: impl Into<String>) -> Self {
        Finding {
            status: Status::Error,
            reason: Some(reason.into()),
        }
    }

    /// A status with an explanatory note (e.g. why a record is invalid).
    pub fn with_reason(status: Status, reason: impl Into<String>) -> Self {
        Finding {
            status,
            reason: Some(reason.into()),
        }
    }
}

/// The foreign address SPF is evaluated for: TEST-NET-3, never authorised by a real record.
pub const SPF_FOREIGN_ADDRESS: std::net::Ipv4Addr = std::net::Ipv4Addr::new(203, 0, 113, 254);

/// Sector labels the generator uses and the aggregator normalises to ISIC Rev.4 sections.
pub const SECTORS: [(&str, &str); 6] = [
    ("public administration", "O"),
    ("finance", "K"),
    ("health", "Q"),
    ("education", "P"),
    ("telecom", "J"),
    ("other", "S"),
];

#[cfg(test)]
mod tests {
    #[test]
    fn check_groups_partition_all_in_output_order() {
        let mut grouped: Vec<Check> = [
            &Check::DNS[..],
            &Check::WEB[..],
            &Check::MAIL[..],
            &Check::ROUTING[..],
        ]
        .concat();
        assert_eq!(grouped.len(), Check::ALL.len());
        grouped.sort();
        assert_eq!(
            grouped,
            Check::ALL.to_vec(),
            "declaration order is output order"
        );
        assert_eq!(Check::expand::<&str>(&[]).unwrap(), Check::ALL.to_vec());
        assert_eq!(
            Check::expand(&["mail", "dns", "web", "routing", "dnssec"]).unwrap(),
            Check::ALL.to_vec()
        );
        assert_eq!(
            Check::expand(&["starttls", "mx", "starttls"]).unwrap(),
            [Check::Mx, Check::Starttls]
        );
        let err = Check::expand(&["dnsec"]).unwrap_err().to_string();
        assert!(err.contains("'dnsec'") && err.contains("routing"), "{err}");
    }

    use super::*;

    #[test]
    fn words_round_trip() {
        for s in Status::ALL {
            assert_eq!(s.as_str().parse::<Status>().unwrap(), *s);
        }
        for c in Check::ALL {
            assert_eq!(c.id().parse::<Check>().unwrap(), c);
            assert!(!c.statuses().contains(&Status::Error));
        }
        assert!("nope".parse::<Status>().is_err());
    }
}
