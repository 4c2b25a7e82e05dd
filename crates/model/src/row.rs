//! The output row: one per target per scan, and the single definition of its columns.
//!
//! [`COLUMNS`] is the schema's source of truth: the Parquet writer builds its Arrow schema
//! from it, `uptake schema` prints it and docs/schema.md is generated from it. Each column is
//! declared once, together with the expression that reads it from a [`ScanRow`], so a column
//! cannot be documented without being written or written without being documented.

use crate::{Finding, Status};

/// The value kind of a column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// UTF-8 string, nullable.
    Str,
    /// A status word, dictionary-encoded.
    Status,
    /// 64-bit integer, nullable.
    Int,
    /// Boolean, nullable.
    Bool,
    /// List of strings.
    StrList,
    /// List of integers.
    IntList,
    /// Timestamp, microseconds since the Unix epoch, UTC.
    Timestamp,
}

impl Kind {
    /// Type name as shown in docs (Arrow / Parquet logical type).
    pub const fn type_name(self) -> &'static str {
        match self {
            Kind::Str => "string",
            Kind::Status => "string (dictionary)",
            Kind::Int => "int64",
            Kind::Bool => "bool",
            Kind::StrList => "list<string>",
            Kind::IntList => "list<int64>",
            Kind::Timestamp => "timestamp[us, UTC]",
        }
    }
}

/// One column of the output.
#[derive(Debug, Clone, Copy)]
pub struct ColumnDef {
    /// Column name.
    pub name: &'static str,
    /// Value kind.
    pub kind: Kind,
    /// What it means.
    pub doc: &'static str,
}

/// A borrowed cell value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value<'a> {
    /// String or null.
    Str(Option<&'a str>),
    /// A status word, or null when the check was not run in this scan.
    Status(Option<Status>),
    /// Integer or null.
    Int(Option<i64>),
    /// Boolean or null.
    Bool(Option<bool>),
    /// List of strings.
    StrList(&'a [String]),
    /// List of integers.
    IntList(&'a [i64]),
    /// Timestamp in microseconds.
    Timestamp(i64),
}

impl Value<'_> {
    /// The kind this value has.
    pub fn kind(&self) -> Kind {
        match self {
            Value::Str(_) => Kind::Str,
            Value::Status(_) => Kind::Status,
            Value::Int(_) => Kind::Int,
            Value::Bool(_) => Kind::Bool,
            Value::StrList(_) => Kind::StrList,
            Value::IntList(_) => Kind::IntList,
            Value::Timestamp(_) => Kind::Timestamp,
        }
    }
}

/// DNSSEC evidence.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DnssecEvidence {
    /// Extended DNS Error codes seen on the validation queries.
    pub ede: Vec<i64>,
    /// DNSKEY algorithm numbers of the zone.
    pub algorithms: Vec<i64>,
    /// Smallest RSA modulus in bits among the DNSKEYs, if any RSA key.
    pub rsa_min_bits: Option<i64>,
    /// Digest types of the DS records at the parent.
    pub ds_digests: Vec<i64>,
    /// `nsec` or `nsec3`.
    pub denial: Option<String>,
    /// NSEC3 iterations.
    pub nsec3_iterations: Option<i64>,
}

/// Evidence from the web probes (HTTPS, HTTP, HSTS, security.txt, headers) of the web host.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct WebEvidence {
    /// The host probed: the domain, or www.<domain> when the apex has no A or AAAA record.
    pub host: Option<String>,
    /// Addresses of the host that were connected to.
    pub addresses: Vec<String>,
    /// IPv6 addresses of the host and whether each answered: `addr` or `addr unreachable`.
    pub ipv6_addresses: Vec<String>,
    /// Highest TLS version negotiated (e.g. `TLSv1.3`).
    pub tls_max_version: Option<String>,
    /// Legacy versions the host accepts (`TLSv1.0`, `TLSv1.1`).
    pub tls_legacy_versions: Vec<String>,
    /// Negotiated cipher suite (IANA name).
    pub tls_cipher_suite: Option<String>,
    /// Negotiated key-exchange group (IANA name, else `0x....`).
    pub tls_group: Option<String>,
    /// Its IANA code point (e.g. 4588 = 0x11EC, X25519MLKEM768).
    pub tls_group_code: Option<i64>,
    /// The server answered the first ClientHello with a HelloRetryRequest.
    pub tls_hello_retry: Option<bool>,
    /// Negotiated ALPN protocol.
    pub tls_alpn: Option<String>,
    /// Leaf key, e.g. `RSA 2048`, `EC P-256`.
    pub certificate_key: Option<String>,
    /// Leaf signature algorithm, e.g. `sha256WithRSAEncryption`.
    pub certificate_signature: Option<String>,
    /// Leaf notAfter, RFC 3339 UTC.
    pub certificate_not_after: Option<String>,
    /// Leaf issuer distinguished name.
    pub certificate_issuer: Option<String>,
    /// Redirect chain of GET http://<host>/ (each hop's status and Location).
    pub http_redirect_chain: Vec<String>,
    /// The Strict-Transport-Security header as sent.
    pub hsts_header: Option<String>,
    /// HSTS max-age.
    pub hsts_max_age: Option<i64>,
    /// HSTS includeSubDomains.
    pub hsts_include_subdomains: Option<bool>,
    /// HSTS preload.
    pub hsts_preload: Option<bool>,
    /// security.txt Expires field.
    pub security_txt_expires: Option<String>,
    /// Security headers present on the HTTPS response (lower-case names).
    pub security_headers_present: Vec<String>,
}

/// Evidence from the mail probes (SMTP STARTTLS per MX, DANE, MTA-STS policy).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MailEvidence {
    /// Per MX host (same order as `mx_hosts`): `starttls`, `no_starttls` or `error: <why>`.
    pub mx_starttls: Vec<String>,
    /// Per MX host: negotiated TLS version, or empty.
    pub mx_tls_versions: Vec<String>,
    /// Per MX host: certificate status word, or empty.
    pub mx_certificates: Vec<String>,
    /// Per MX host: leaf key type and size (`RSA 2048`, `EC P-256`), or empty.
    pub mx_certificate_keys: Vec<String>,
    /// Per MX host: leaf signature algorithm, or empty.
    pub mx_certificate_signatures: Vec<String>,
    /// Per MX host: `pq_hybrid`, `classical`, `no_starttls` or `error: <why>`.
    pub mx_pq_kex: Vec<String>,
    /// Per MX host: key-exchange group of the STARTTLS handshake (IANA name), or empty.
    pub mx_tls_groups: Vec<String>,
    /// Per MX host: `true` when the STARTTLS handshake needed a HelloRetryRequest, `false`
    /// when not, empty without a handshake.
    pub mx_tls_hello_retry: Vec<String>,
    /// MX hosts that accepted TCP port 25 over IPv6.
    pub mx_ipv6_reachable: Option<i64>,
    /// Every MX host's TLSA owner name is DNSSEC-secure.
    pub dane_mx_secure: Option<bool>,
    /// TLSA records found (`<mx>: usage selector type data`).
    pub dane_tlsa: Vec<String>,
    /// The MTA-STS policy text (capped at 64 KiB).
    pub mta_sts_policy: Option<String>,
    /// The policy's max_age.
    pub mta_sts_max_age: Option<i64>,
    /// The policy's mx patterns.
    pub mta_sts_policy_mx: Vec<String>,
}

/// Routing evidence: RPKI detail per address and the hosting network of the web (else mail)
/// host, from the routing tables given to the scan.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RoutingEvidence {
    /// Per address (web, then mail, then name servers; each once) and per origin:
    /// `<address> <prefix> AS<origin> <state>`, e.g. `192.0.2.1 192.0.2.0/24 AS64500 valid`.
    pub rpki_addresses: Vec<String>,
    /// AS number hosting the first web address (else the first mail address).
    pub hosting_asn: Option<i64>,
    /// That AS's name as the IP-to-ASN table gives it.
    pub hosting_as_name: Option<String>,
    /// Country of that address per the IP-to-ASN/country table (ISO 3166 alpha-2).
    pub hosting_country: Option<String>,
}

/// Everything measured for one target.
#[derive(Debug, Clone, PartialEq)]
pub struct ScanRow {
    /// Normalised domain (A-label, lower case, no trailing dot).
    pub domain: String,
    /// The name as the input list wrote it.
    pub input_domain: String,
    /// Registrable domain per the Public Suffix List.
    pub registrable_domain: Option<String>,
    /// Public suffix per the Public Suffix List.
    pub public_suffix: Option<String>,
    /// Country from the list.
    pub country: Option<String>,
    /// Sector from the list.
    pub sector: Option<String>,
    /// Organisation from the list.
    pub organisation: Option<String>,
    /// Other input columns, in the order of [`crate::row`]'s extra column names.
    pub extra: Vec<Option<String>>,
    /// Scan id.
    pub scan_id: String,
    /// When this domain's measurement started (µs since epoch, UTC).
    pub scanned_at: i64,
    /// RCODE of the first query at the domain (NOERROR, NXDOMAIN, SERVFAIL) or null on timeout.
    pub dns_rcode: Option<String>,
    /// Apex of the zone the domain's records are in.
    pub zone: Option<String>,
    /// DNS queries sent for this domain (excluding cache hits).
    pub dns_queries: i64,
    /// Resends of this domain's DNS queries after a timeout (included in `dns_queries`' sends).
    pub dns_retries: i64,
    /// Wall time of the domain's measurement, in milliseconds.
    pub duration_ms: i64,
    /// dnssec finding.
    pub dnssec: Finding,
    /// dnssec evidence.
    pub dnssec_evidence: DnssecEvidence,
    /// dnssec_algorithm finding.
    pub dnssec_algorithm: Finding,
    /// ns_ipv6 finding.
    pub ns_ipv6: Finding,
    /// NS host names.
    pub ns_hosts: Vec<String>,
    /// IPv6 addresses of the NS hosts.
    pub ns_ipv6_addresses: Vec<String>,
    /// NS hosts that answered over IPv6.
    pub ns_ipv6_answering: Option<i64>,
    /// caa finding.
    pub caa: Finding,
    /// Where the CAA RRset was found.
    pub caa_found_at: Option<String>,
    /// CAA records in presentation form.
    pub caa_records: Vec<String>,
    /// Issuers from `issue`/`issuewild`.
    pub caa_issuers: Vec<String>,
    /// mx finding.
    pub mx: Finding,
    /// MX host names (preference order).
    pub mx_hosts: Vec<String>,
    /// MX hosts with an AAAA record.
    pub mx_hosts_with_aaaa: Option<i64>,
    /// spf finding.
    pub spf: Finding,
    /// The SPF record.
    pub spf_record: Option<String>,
    /// DNS-mechanism lookups counted.
    pub spf_dns_lookups: Option<i64>,
    /// Void lookups counted.
    pub spf_void_lookups: Option<i64>,
    /// dmarc finding.
    pub dmarc: Finding,
    /// The DMARC record that applies.
    pub dmarc_record: Option<String>,
    /// `own` or `organisational`.
    pub dmarc_source: Option<String>,
    /// pct=.
    pub dmarc_pct: Option<i64>,
    /// rua= URIs.
    pub dmarc_rua: Vec<String>,
    /// dkim finding.
    pub dkim: Finding,
    /// tls_rpt finding.
    pub tls_rpt: Finding,
    /// The TLS-RPT record.
    pub tls_rpt_record: Option<String>,
    /// mta_sts_record finding.
    pub mta_sts_record: Finding,
    /// The MTA-STS TXT record.
    pub mta_sts_txt: Option<String>,
    /// Apex has AAAA.
    pub web_apex_aaaa: Option<bool>,
    /// www exists (any A/AAAA/CNAME).
    pub web_www_exists: Option<bool>,
    /// www has AAAA (after CNAMEs).
    pub web_www_aaaa: Option<bool>,
    /// Findings of the checks that need connections ([`crate::Check::needs_connections`]);
    /// `None` where the check was not run in this scan (a null status, not an error).
    pub connected: ConnectedFindings,
    /// Web evidence.
    pub web: WebEvidence,
    /// Mail evidence.
    pub mail: MailEvidence,
    /// Routing evidence (rpki detail, hosting network and country).
    pub routing: RoutingEvidence,
}

/// Findings of the web and mail checks; `None` when the check was not run.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ConnectedFindings {
    /// starttls.
    pub starttls: Option<Finding>,
    /// dane.
    pub dane: Option<Finding>,
    /// mta_sts.
    pub mta_sts: Option<Finding>,
    /// mx_ipv6.
    pub mx_ipv6: Option<Finding>,
    /// mx_pq_kex.
    pub mx_pq_kex: Option<Finding>,
    /// web_ipv6.
    pub web_ipv6: Option<Finding>,
    /// https.
    pub https: Option<Finding>,
    /// https_redirect.
    pub https_redirect: Option<Finding>,
    /// tls_version.
    pub tls_version: Option<Finding>,
    /// tls_cipher.
    pub tls_cipher: Option<Finding>,
    /// certificate.
    pub certificate: Option<Finding>,
    /// pq_kex.
    pub pq_kex: Option<Finding>,
    /// hsts.
    pub hsts: Option<Finding>,
    /// security_txt.
    pub security_txt: Option<Finding>,
    /// security_headers.
    pub security_headers: Option<Finding>,
    /// rpki.
    pub rpki: Option<Finding>,
}

impl ConnectedFindings {
    /// Every connected check in `error` for `reason`.
    pub fn all_error(reason: &str) -> Self {
        let f = || Some(Finding::error(reason));
        ConnectedFindings {
            starttls: f(),
            dane: f(),
            mta_sts: f(),
            mx_ipv6: f(),
            mx_pq_kex: f(),
            web_ipv6: f(),
            https: f(),
            https_redirect: f(),
            tls_version: f(),
            tls_cipher: f(),
            certificate: f(),
            pq_kex: f(),
            hsts: f(),
            security_txt: f(),
            security_headers: f(),
            rpki: f(),
        }
    }
}

impl ScanRow {
    /// A row with every check in `error` for `reason` (e.g. the domain could not be resolved).
    pub fn failed(
        domain: String,
        input_domain: String,
        scan_id: String,
        scanned_at: i64,
        reason: &str,
    ) -> ScanRow {
        let f = || Finding::error(reason);
        ScanRow {
            domain,
            input_domain,
            registrable_domain: None,
            public_suffix: None,
            country: None,
            sector: None,
            organisation: None,
            extra: vec![],
            scan_id,
            scanned_at,
            dns_rcode: None,
            zone: None,
            dns_queries: 0,
            dns_retries: 0,
            duration_ms: 0,
            dnssec: f(),
            dnssec_evidence: DnssecEvidence::default(),
            dnssec_algorithm: f(),
            ns_ipv6: f(),
            ns_hosts: vec![],
            ns_ipv6_addresses: vec![],
            ns_ipv6_answering: None,
            caa: f(),
            caa_found_at: None,
            caa_records: vec![],
            caa_issuers: vec![],
            mx: f(),
            mx_hosts: vec![],
            mx_hosts_with_aaaa: None,
            spf: f(),
            spf_record: None,
            spf_dns_lookups: None,
            spf_void_lookups: None,
            dmarc: f(),
            dmarc_record: None,
            dmarc_source: None,
            dmarc_pct: None,
            dmarc_rua: vec![],
            dkim: f(),
            tls_rpt: f(),
            tls_rpt_record: None,
            mta_sts_record: f(),
            mta_sts_txt: None,
            web_apex_aaaa: None,
            web_www_exists: None,
            web_www_aaaa: None,
            connected: ConnectedFindings::all_error(reason),
            web: WebEvidence::default(),
            mail: MailEvidence::default(),
            routing: RoutingEvidence::default(),
        }
    }

    /// Sets the finding of a check.
    pub fn set_finding(&mut self, check: crate::Check, finding: Finding) {
        use crate::Check::*;
        let c = &mut self.connected;
        match check {
            Dnssec => self.dnssec = finding,
            DnssecAlgorithm => self.dnssec_algorithm = finding,
            NsIpv6 => self.ns_ipv6 = finding,
            Caa => self.caa = finding,
            Mx => self.mx = finding,
            Spf => self.spf = finding,
            Dmarc => self.dmarc = finding,
            Dkim => self.dkim = finding,
            TlsRpt => self.tls_rpt = finding,
            MtaStsRecord => self.mta_sts_record = finding,
            Starttls => c.starttls = Some(finding),
            Dane => c.dane = Some(finding),
            MtaSts => c.mta_sts = Some(finding),
            MxIpv6 => c.mx_ipv6 = Some(finding),
            MxPqKex => c.mx_pq_kex = Some(finding),
            WebIpv6 => c.web_ipv6 = Some(finding),
            Https => c.https = Some(finding),
            HttpsRedirect => c.https_redirect = Some(finding),
            TlsVersion => c.tls_version = Some(finding),
            TlsCipher => c.tls_cipher = Some(finding),
            Certificate => c.certificate = Some(finding),
            PqKex => c.pq_kex = Some(finding),
            Hsts => c.hsts = Some(finding),
            SecurityTxt => c.security_txt = Some(finding),
            SecurityHeaders => c.security_headers = Some(finding),
            Rpki => c.rpki = Some(finding),
        }
    }

    /// The finding of a check; `None` when the check was not run in this scan.
    pub fn finding(&self, check: crate::Check) -> Option<&Finding> {
        use crate::Check::*;
        let c = &self.connected;
        match check {
            Dnssec => Some(&self.dnssec),
            DnssecAlgorithm => Some(&self.dnssec_algorithm),
            NsIpv6 => Some(&self.ns_ipv6),
            Caa => Some(&self.caa),
            Mx => Some(&self.mx),
            Spf => Some(&self.spf),
            Dmarc => Some(&self.dmarc),
            Dkim => Some(&self.dkim),
            TlsRpt => Some(&self.tls_rpt),
            MtaStsRecord => Some(&self.mta_sts_record),
            Starttls => c.starttls.as_ref(),
            Dane => c.dane.as_ref(),
            MtaSts => c.mta_sts.as_ref(),
            MxIpv6 => c.mx_ipv6.as_ref(),
            MxPqKex => c.mx_pq_kex.as_ref(),
            WebIpv6 => c.web_ipv6.as_ref(),
            Https => c.https.as_ref(),
            HttpsRedirect => c.https_redirect.as_ref(),
            TlsVersion => c.tls_version.as_ref(),
            TlsCipher => c.tls_cipher.as_ref(),
            Certificate => c.certificate.as_ref(),
            PqKex => c.pq_kex.as_ref(),
            Hsts => c.hsts.as_ref(),
            SecurityTxt => c.security_txt.as_ref(),
            SecurityHeaders => c.security_headers.as_ref(),
            Rpki => c.rpki.as_ref(),
        }
    }
}

fn s(v: &Option<String>) -> Value<'_> {
    Value::Str(v.as_deref())
}

fn status(f: &Finding) -> Value<'_> {
    Value::Status(Some(f.status))
}

fn opt_status(f: &Option<Finding>) -> Value<'_> {
    Value::Status(f.as_ref().map(|f| f.status))
}

fn opt_reason(f: &Option<Finding>) -> Value<'_> {
    Value::Str(f.as_ref().and_then(|f| f.reason.as_deref()))
}

macro_rules! columns {
    ($($name:literal : $kind:ident = |$r:ident| $get:expr ; $doc:literal)*) => {
        /// Every fixed column, in output order. Input columns other than domain, country,
        /// sector and organisation follow `scanned_at`, as strings under their own names.
        pub const COLUMNS: &[ColumnDef] = &[$(ColumnDef { name: $name, kind: Kind::$kind, doc: $doc },)*];

        impl ScanRow {
            /// The row's values in [`COLUMNS`] order.
            pub fn values(&self) -> Vec<Value<'_>> {
                vec![$({ let $r = self; $get },)*]
            }
        }
    };
}

columns! {
    "domain": Str = |r| Value::Str(Some(&r.domain)); "The target, normalised: lower case, IDNs as A-labels, no trailing dot."
    "input_domain": Str = |r| Value::Str(Some(&r.input_domain)); "The target as the input list wrote it."
    "registrable_domain": Str = |r| s(&r.registrable_domain); "Registrable domain (Public Suffix List, ICANN and private sections)."
    "public_suffix": Str = |r| s(&r.public_suffix); "Public suffix of the domain."
    "country": Str = |r| s(&r.country); "Country from the input list (ISO 3166 alpha-2 when the list gives one)."
    "sector": Str = |r| s(&r.sector); "Sector label from the input list."
    "organisation": Str = |r| s(&r.organisation); "Organisation from the input list."
    "scan_id": Str = |r| Value::Str(Some(&r.scan_id)); "Scan identifier (also the dataset partition scan=<id>)."
    "scanned_at": Timestamp = |r| Value::Timestamp(r.scanned_at); "When the domain's measurement started (UTC)."
    "dns_rcode": Str = |r| s(&r.dns_rcode); "RCODE of the SOA query at the domain (NOERROR, NXDOMAIN, SERVFAIL); null when no answer."
    "zone": Str = |r| s(&r.zone); "Apex of the DNS zone that holds the domain's records."
    "dns_queries": Int = |r| Value::Int(Some(r.dns_queries)); "DNS queries sent for this domain (cache hits excluded)."
    "dns_retries": Int = |r| Value::Int(Some(r.dns_retries)); "Resends of this domain's DNS queries after a lost answer (bounded by --dns-attempts per query; cache hits excluded)."
    "duration_ms": Int = |r| Value::Int(Some(r.duration_ms)); "Wall time of the domain's measurement in milliseconds (bounded by --domain-timeout)."
    "dnssec_status": Status = |r| status(&r.dnssec); "DNSSEC: secure (AD set), insecure (no AD), bogus (SERVFAIL that a CD=1 re-query answers), error."
    "dnssec_reason": Str = |r| Value::Str(r.dnssec.reason.as_deref()); "Why dnssec is error (or a note)."
    "dnssec_ede": IntList = |r| Value::IntList(&r.dnssec_evidence.ede); "Extended DNS Error codes (RFC 8914) the resolver returned."
    "dnssec_algorithm_status": Status = |r| status(&r.dnssec_algorithm); "modern (ECDSA, EdDSA, RSA/SHA-2 >= 2048 bits), deprecated, not_applicable (unsigned), error."
    "dnssec_algorithm_reason": Str = |r| Value::Str(r.dnssec_algorithm.reason.as_deref()); "Why dnssec_algorithm is deprecated or error."
    "dnssec_algorithms": IntList = |r| Value::IntList(&r.dnssec_evidence.algorithms); "DNSKEY algorithm numbers of the zone."
    "dnssec_rsa_min_bits": Int = |r| Value::Int(r.dnssec_evidence.rsa_min_bits); "Smallest RSA key size among the DNSKEYs."
    "dnssec_ds_digests": IntList = |r| Value::IntList(&r.dnssec_evidence.ds_digests); "Digest types of the zone's DS records."
    "dnssec_denial": Str = |r| s(&r.dnssec_evidence.denial); "nsec or nsec3 (from the NSEC/NSEC3 records of a negative answer, else NSEC3PARAM)."
    "dnssec_nsec3_iterations": Int = |r| Value::Int(r.dnssec_evidence.nsec3_iterations); "NSEC3 iterations (RFC 9276 recommends 0)."
    "ns_ipv6_status": Status = |r| status(&r.ns_ipv6); "reachable (>= 2 name servers answer over IPv6), partial (1), none, error."
    "ns_ipv6_reason": Str = |r| Value::Str(r.ns_ipv6.reason.as_deref()); "Why ns_ipv6 is error."
    "ns_hosts": StrList = |r| Value::StrList(&r.ns_hosts); "Name servers of the zone."
    "ns_ipv6_addresses": StrList = |r| Value::StrList(&r.ns_ipv6_addresses); "Their IPv6 addresses."
    "ns_ipv6_answering": Int = |r| Value::Int(r.ns_ipv6_answering); "Name servers that answered a query over IPv6."
    "caa_status": Status = |r| status(&r.caa); "present, invalid (malformed or unknown critical tag), absent, error."
    "caa_reason": Str = |r| Value::Str(r.caa.reason.as_deref()); "Why caa is invalid or error."
    "caa_found_at": Str = |r| s(&r.caa_found_at); "Name where the CAA RRset was found (the domain or an ancestor up to the registrable domain)."
    "caa_records": StrList = |r| Value::StrList(&r.caa_records); "CAA records (flags tag value)."
    "caa_issuers": StrList = |r| Value::StrList(&r.caa_issuers); "CAs named in issue / issuewild."
    "mx_status": Status = |r| status(&r.mx); "mx, null_mx (RFC 7505), none, error."
    "mx_reason": Str = |r| Value::Str(r.mx.reason.as_deref()); "Why mx is error."
    "mx_hosts": StrList = |r| Value::StrList(&r.mx_hosts); "MX hosts in preference order."
    "mx_hosts_with_aaaa": Int = |r| Value::Int(r.mx_hosts_with_aaaa); "MX hosts with an AAAA record."
    "spf_status": Status = |r| status(&r.spf); "check_host() result for 203.0.113.254: fail, softfail, neutral, pass, none, permerror; error on DNS failure (temperror)."
    "spf_reason": Str = |r| Value::Str(r.spf.reason.as_deref()); "Why permerror or error."
    "spf_record": Str = |r| s(&r.spf_record); "The domain's SPF record."
    "spf_dns_lookups": Int = |r| Value::Int(r.spf_dns_lookups); "DNS-mechanism lookups during evaluation (limit 10)."
    "spf_void_lookups": Int = |r| Value::Int(r.spf_void_lookups); "Void lookups during evaluation (limit 2)."
    "dmarc_status": Status = |r| status(&r.dmarc); "Effective policy: reject, quarantine, none, invalid, absent, error."
    "dmarc_reason": Str = |r| Value::Str(r.dmarc.reason.as_deref()); "Why invalid or error."
    "dmarc_record": Str = |r| s(&r.dmarc_record); "The DMARC record that applies."
    "dmarc_source": Str = |r| s(&r.dmarc_source); "own (_dmarc.<domain>) or organisational (_dmarc.<registrable domain>, sp applies)."
    "dmarc_pct": Int = |r| Value::Int(r.dmarc_pct); "pct= (100 when absent)."
    "dmarc_rua": StrList = |r| Value::StrList(&r.dmarc_rua); "Aggregate report URIs."
    "dkim_status": Status = |r| status(&r.dkim); "present (_domainkey node exists), absent (NXDOMAIN, RFC 8020), error."
    "dkim_reason": Str = |r| Value::Str(r.dkim.reason.as_deref()); "Why dkim is error."
    "tls_rpt_status": Status = |r| status(&r.tls_rpt); "present, invalid, absent, error."
    "tls_rpt_reason": Str = |r| Value::Str(r.tls_rpt.reason.as_deref()); "Why invalid or error."
    "tls_rpt_record": Str = |r| s(&r.tls_rpt_record); "The _smtp._tls TXT record."
    "mta_sts_record_status": Status = |r| status(&r.mta_sts_record); "present (v=STSv1 with a valid id), invalid, absent, error."
    "mta_sts_record_reason": Str = |r| Value::Str(r.mta_sts_record.reason.as_deref()); "Why invalid or error."
    "mta_sts_record": Str = |r| s(&r.mta_sts_txt); "The _mta-sts TXT record."
    "web_apex_aaaa": Bool = |r| Value::Bool(r.web_apex_aaaa); "The domain has an AAAA record."
    "web_www_exists": Bool = |r| Value::Bool(r.web_www_exists); "www.<domain> exists."
    "web_www_aaaa": Bool = |r| Value::Bool(r.web_www_aaaa); "www.<domain> has an AAAA record (after CNAMEs)."
    "starttls_status": Status = |r| opt_status(&r.connected.starttls); "all, some or none of the MX hosts offer STARTTLS; not_applicable (no MX or null MX); error; null when not run."
    "starttls_reason": Str = |r| opt_reason(&r.connected.starttls); "Why starttls is error (or a note)."
    "mx_starttls": StrList = |r| Value::StrList(&r.mail.mx_starttls); "Per MX host (order of mx_hosts): starttls, no_starttls or error: <why>."
    "mx_tls_versions": StrList = |r| Value::StrList(&r.mail.mx_tls_versions); "Per MX host: negotiated TLS version after STARTTLS."
    "mx_certificates": StrList = |r| Value::StrList(&r.mail.mx_certificates); "Per MX host: certificate status (valid, expired, name_mismatch, untrusted, self_signed)."
    "mx_certificate_keys": StrList = |r| Value::StrList(&r.mail.mx_certificate_keys); "Per MX host: leaf public key algorithm and size (RSA 2048, EC P-256, Ed25519, ML-DSA-65), empty without TLS."
    "mx_certificate_signatures": StrList = |r| Value::StrList(&r.mail.mx_certificate_signatures); "Per MX host: leaf signature algorithm (sha256WithRSAEncryption, ecdsa-with-SHA256, ED25519, ML-DSA-65), empty without TLS."
    "dane_status": Status = |r| opt_status(&r.connected.dane); "valid (every MX has a secure TLSA matching its certificate), invalid, insecure (TLSA in an unsigned zone), absent, not_applicable, error; null when not run."
    "dane_reason": Str = |r| opt_reason(&r.connected.dane); "Why dane is invalid or error."
    "dane_mx_secure": Bool = |r| Value::Bool(r.mail.dane_mx_secure); "Every MX host's _25._tcp TLSA owner is DNSSEC-secure (the DANE denominator)."
    "dane_tlsa": StrList = |r| Value::StrList(&r.mail.dane_tlsa); "TLSA records found (<mx>: usage selector type data)."
    "mta_sts_status": Status = |r| opt_status(&r.connected.mta_sts); "Policy mode enforce, testing, none; invalid (fetch, certificate, syntax or mx mismatch); absent (no _mta-sts record); error; null when not run."
    "mta_sts_reason": Str = |r| opt_reason(&r.connected.mta_sts); "Why mta_sts is invalid or error."
    "mta_sts_policy": Str = |r| s(&r.mail.mta_sts_policy); "The MTA-STS policy text (capped at 64 KiB)."
    "mta_sts_max_age": Int = |r| Value::Int(r.mail.mta_sts_max_age); "The policy's max_age."
    "mta_sts_policy_mx": StrList = |r| Value::StrList(&r.mail.mta_sts_policy_mx); "The policy's mx patterns."
    "mx_ipv6_status": Status = |r| opt_status(&r.connected.mx_ipv6); "all, some or none of the MX hosts accept TCP 25 over IPv6; not_applicable (no MX); error; null when not run."
    "mx_ipv6_reason": Str = |r| opt_reason(&r.connected.mx_ipv6); "Why mx_ipv6 is error."
    "mx_ipv6_reachable": Int = |r| Value::Int(r.mail.mx_ipv6_reachable); "MX hosts that accepted TCP 25 over IPv6."
    "mx_pq_kex_status": Status = |r| opt_status(&r.connected.mx_pq_kex); "all, some or none of the MX hosts negotiate a hybrid ML-KEM group (X25519MLKEM768, SecP256r1MLKEM768) in STARTTLS when the scanner offers them; an MX without STARTTLS counts as not hybrid; not_applicable (no MX, null MX, or no MX completes STARTTLS); error; null when not run."
    "mx_pq_kex_reason": Str = |r| opt_reason(&r.connected.mx_pq_kex); "Why mx_pq_kex is error (or a note)."
    "mx_pq_kex": StrList = |r| Value::StrList(&r.mail.mx_pq_kex); "Per MX host: pq_hybrid, classical, no_starttls or error: <why>."
    "mx_tls_groups": StrList = |r| Value::StrList(&r.mail.mx_tls_groups); "Per MX host: key-exchange group of the STARTTLS handshake (IANA name, e.g. X25519MLKEM768, x25519), empty without one."
    "mx_tls_hello_retry": StrList = |r| Value::StrList(&r.mail.mx_tls_hello_retry); "Per MX host: true when the STARTTLS handshake needed a HelloRetryRequest, false when not, empty without a handshake."
    "web_ipv6_status": Status = |r| opt_status(&r.connected.web_ipv6); "reachable (an AAAA answers on 443 or 80), unreachable (AAAA, no answer), none (no AAAA), not_applicable (no web host), error; null when not run."
    "web_ipv6_reason": Str = |r| opt_reason(&r.connected.web_ipv6); "Why web_ipv6 is error."
    "web_host": Str = |r| s(&r.web.host); "Web host probed: the domain, or www.<domain> when the apex has no A or AAAA record."
    "web_addresses": StrList = |r| Value::StrList(&r.web.addresses); "Addresses of the web host connected to."
    "web_ipv6_addresses": StrList = |r| Value::StrList(&r.web.ipv6_addresses); "IPv6 addresses of the web host (`unreachable` appended when silent)."
    "https_status": Status = |r| opt_status(&r.connected.https); "available (TLS handshake on 443 completes), unavailable, not_applicable (no address for the apex or www), error; null when not run."
    "https_reason": Str = |r| opt_reason(&r.connected.https); "Why https is unavailable or error."
    "tls_max_version": Str = |r| s(&r.web.tls_max_version); "Highest TLS version negotiated (TLSv1.3, TLSv1.2)."
    "tls_legacy_versions": StrList = |r| Value::StrList(&r.web.tls_legacy_versions); "Legacy TLS versions accepted (TLSv1.0, TLSv1.1)."
    "tls_cipher_suite": Str = |r| s(&r.web.tls_cipher_suite); "Negotiated cipher suite (IANA name)."
    "tls_group": Str = |r| s(&r.web.tls_group); "Negotiated key-exchange group (IANA name: X25519MLKEM768, SecP256r1MLKEM768, x25519, secp256r1, ...)."
    "tls_group_code": Int = |r| Value::Int(r.web.tls_group_code); "Its IANA code point (4588 = 0x11EC X25519MLKEM768, 4587 = 0x11EB SecP256r1MLKEM768, 29 = x25519)."
    "tls_hello_retry": Bool = |r| Value::Bool(r.web.tls_hello_retry); "The server answered the first ClientHello with a HelloRetryRequest (it wanted a key share the client had not sent)."
    "tls_alpn": Str = |r| s(&r.web.tls_alpn); "Negotiated ALPN protocol."
    "https_redirect_status": Status = |r| opt_status(&r.connected.https_redirect); "enforced (first redirect of http:// goes to https:// on the same host), not_enforced, no_http (port 80 closed), not_applicable (no web server), error; null when not run."
    "https_redirect_reason": Str = |r| opt_reason(&r.connected.https_redirect); "Why https_redirect is not_enforced or error."
    "http_redirect_chain": StrList = |r| Value::StrList(&r.web.http_redirect_chain); "Redirect chain of GET http://<host>/: each hop's status and Location."
    "tls_version_status": Status = |r| opt_status(&r.connected.tls_version); "good, sufficient, insufficient (NCSC-NL 2025), not_applicable (no HTTPS), error; null when not run."
    "tls_version_reason": Str = |r| opt_reason(&r.connected.tls_version); "Why tls_version is insufficient or error."
    "tls_cipher_status": Status = |r| opt_status(&r.connected.tls_cipher); "good, sufficient, phase_out, insufficient (NCSC-NL 2025 appendix B), not_applicable, error; null when not run."
    "tls_cipher_reason": Str = |r| opt_reason(&r.connected.tls_cipher); "Why tls_cipher is error (or a note)."
    "certificate_status": Status = |r| opt_status(&r.connected.certificate); "valid, expired, name_mismatch, untrusted, self_signed, not_applicable (no HTTPS), error; null when not run."
    "certificate_reason": Str = |r| opt_reason(&r.connected.certificate); "Why the certificate fails validation, or error."
    "certificate_key": Str = |r| s(&r.web.certificate_key); "Leaf public key algorithm and size (RSA 2048, EC P-256, Ed25519, ML-DSA-65)."
    "certificate_signature": Str = |r| s(&r.web.certificate_signature); "Leaf signature algorithm (sha256WithRSAEncryption, ecdsa-with-SHA256, ED25519, ML-DSA-65)."
    "certificate_not_after": Str = |r| s(&r.web.certificate_not_after); "Leaf notAfter (RFC 3339, UTC)."
    "certificate_issuer": Str = |r| s(&r.web.certificate_issuer); "Leaf issuer."
    "pq_kex_status": Status = |r| opt_status(&r.connected.pq_kex); "pq_hybrid (a hybrid ML-KEM group, X25519MLKEM768 or SecP256r1MLKEM768, negotiated when offered beside classical groups, with or without a HelloRetryRequest), classical (another group, or none: TLS 1.0/1.1-only hosts), not_applicable (no HTTPS), error; null when not run. Group in tls_group, tls_group_code, tls_hello_retry."
    "pq_kex_reason": Str = |r| opt_reason(&r.connected.pq_kex); "Why pq_kex is classical (the group) or error."
    "hsts_status": Status = |r| opt_status(&r.connected.hsts); "strong (max-age >= 31536000), weak, absent, not_applicable (no HTTPS), error; null when not run."
    "hsts_reason": Str = |r| opt_reason(&r.connected.hsts); "Why hsts is weak or error."
    "hsts_header": Str = |r| s(&r.web.hsts_header); "The Strict-Transport-Security header as sent."
    "hsts_max_age": Int = |r| Value::Int(r.web.hsts_max_age); "HSTS max-age in seconds."
    "hsts_include_subdomains": Bool = |r| Value::Bool(r.web.hsts_include_subdomains); "HSTS includeSubDomains."
    "hsts_preload": Bool = |r| Value::Bool(r.web.hsts_preload); "HSTS preload."
    "security_txt_status": Status = |r| opt_status(&r.connected.security_txt); "valid (RFC 9116: 200, text/plain, Contact and Expires, not expired), invalid, absent, not_applicable (no HTTPS), error; null when not run."
    "security_txt_reason": Str = |r| opt_reason(&r.connected.security_txt); "Why security_txt is invalid or error."
    "security_txt_expires": Str = |r| s(&r.web.security_txt_expires); "security.txt Expires field."
    "security_headers_status": Status = |r| opt_status(&r.connected.security_headers); "all, some or none of CSP, X-Frame-Options, X-Content-Type-Options, Referrer-Policy; not_applicable; error; null when not run."
    "security_headers_reason": Str = |r| opt_reason(&r.connected.security_headers); "Why security_headers is error."
    "security_headers_present": StrList = |r| Value::StrList(&r.web.security_headers_present); "Security headers present (lower-case names)."
    "rpki_status": Status = |r| opt_status(&r.connected.rpki); "RFC 6811 origin validation of the web, mail and name server addresses: valid (every address), invalid (any address), partial (some valid, the rest not_found), not_found (no VRP covers any), not_applicable (no address), error (no route for any address in the prefix-to-origin table, an address lookup failed, or the DNS stage failed); null when the scan had no routing tables (--vrps, --prefix-origins, --ip-asn)."
    "rpki_reason": Str = |r| opt_reason(&r.connected.rpki); "Why rpki is invalid or error, or which addresses had no route."
    "rpki_addresses": StrList = |r| Value::StrList(&r.routing.rpki_addresses); "Per address and origin: <address> <prefix> AS<origin> <valid|invalid|not_found>, or <address> no_route."
    "hosting_asn": Int = |r| Value::Int(r.routing.hosting_asn); "AS number of the first web address (apex, else www; IPv4 first), else of the first mail address, from the IP-to-ASN table; null without routing tables or when the table does not know the address."
    "hosting_as_name": Str = |r| s(&r.routing.hosting_as_name); "That AS's name, from the IP-to-ASN table."
    "hosting_country": Str = |r| s(&r.routing.hosting_country); "Country of that address (ISO 3166 alpha-2), from the IP-to-ASN/country table."
}

/// Index of the first column after which input extra columns are placed.
pub const EXTRA_AFTER: &str = "scanned_at";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_match_columns() {
        let row = ScanRow::failed("a.nl".into(), "A.nl".into(), "s".into(), 0, "x");
        let values = row.values();
        assert_eq!(values.len(), COLUMNS.len());
        for (v, c) in values.iter().zip(COLUMNS) {
            assert_eq!(v.kind(), c.kind, "column {}", c.name);
        }
        let mut names: Vec<_> = COLUMNS.iter().map(|c| c.name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), COLUMNS.len(), "duplicate column name");
        for check in crate::Check::ALL {
            assert!(COLUMNS
                .iter()
                .any(|c| c.name == check.status_column() && c.kind == Kind::Status));
        }
    }
}
