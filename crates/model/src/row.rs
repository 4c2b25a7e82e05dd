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
    /// Status word.
    Status(Status),
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
        }
    }

    /// The finding of a check.
    pub fn finding(&self, check: crate::Check) -> &Finding {
        use crate::Check::*;
        match check {
            Dnssec => &self.dnssec,
            DnssecAlgorithm => &self.dnssec_algorithm,
            NsIpv6 => &self.ns_ipv6,
            Caa => &self.caa,
            Mx => &self.mx,
            Spf => &self.spf,
            Dmarc => &self.dmarc,
            Dkim => &self.dkim,
            TlsRpt => &self.tls_rpt,
            MtaStsRecord => &self.mta_sts_record,
        }
    }
}

fn s(v: &Option<String>) -> Value<'_> {
    Value::Str(v.as_deref())
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
    "dnssec_status": Status = |r| Value::Status(r.dnssec.status); "DNSSEC: secure (AD set), insecure (no AD), bogus (SERVFAIL that a CD=1 re-query answers), error."
    "dnssec_reason": Str = |r| Value::Str(r.dnssec.reason.as_deref()); "Why dnssec is error (or a note)."
    "dnssec_ede": IntList = |r| Value::IntList(&r.dnssec_evidence.ede); "Extended DNS Error codes (RFC 8914) the resolver returned."
    "dnssec_algorithm_status": Status = |r| Value::Status(r.dnssec_algorithm.status); "modern (ECDSA, EdDSA, RSA/SHA-2 >= 2048 bits), deprecated, not_applicable (unsigned), error."
    "dnssec_algorithm_reason": Str = |r| Value::Str(r.dnssec_algorithm.reason.as_deref()); "Why dnssec_algorithm is deprecated or error."
    "dnssec_algorithms": IntList = |r| Value::IntList(&r.dnssec_evidence.algorithms); "DNSKEY algorithm numbers of the zone."
    "dnssec_rsa_min_bits": Int = |r| Value::Int(r.dnssec_evidence.rsa_min_bits); "Smallest RSA key size among the DNSKEYs."
    "dnssec_ds_digests": IntList = |r| Value::IntList(&r.dnssec_evidence.ds_digests); "Digest types of the zone's DS records."
    "dnssec_denial": Str = |r| s(&r.dnssec_evidence.denial); "nsec or nsec3 (from NSEC3PARAM)."
    "dnssec_nsec3_iterations": Int = |r| Value::Int(r.dnssec_evidence.nsec3_iterations); "NSEC3 iterations (RFC 9276 recommends 0)."
    "ns_ipv6_status": Status = |r| Value::Status(r.ns_ipv6.status); "reachable (>= 2 name servers answer over IPv6), partial (1), none, error."
    "ns_ipv6_reason": Str = |r| Value::Str(r.ns_ipv6.reason.as_deref()); "Why ns_ipv6 is error."
    "ns_hosts": StrList = |r| Value::StrList(&r.ns_hosts); "Name servers of the zone."
    "ns_ipv6_addresses": StrList = |r| Value::StrList(&r.ns_ipv6_addresses); "Their IPv6 addresses."
    "ns_ipv6_answering": Int = |r| Value::Int(r.ns_ipv6_answering); "Name servers that answered a query over IPv6."
    "caa_status": Status = |r| Value::Status(r.caa.status); "present, invalid (malformed or unknown critical tag), absent, error."
    "caa_reason": Str = |r| Value::Str(r.caa.reason.as_deref()); "Why caa is invalid or error."
    "caa_found_at": Str = |r| s(&r.caa_found_at); "Name where the CAA RRset was found (the domain or an ancestor up to the registrable domain)."
    "caa_records": StrList = |r| Value::StrList(&r.caa_records); "CAA records (flags tag value)."
    "caa_issuers": StrList = |r| Value::StrList(&r.caa_issuers); "CAs named in issue / issuewild."
    "mx_status": Status = |r| Value::Status(r.mx.status); "mx, null_mx (RFC 7505), none, error."
    "mx_reason": Str = |r| Value::Str(r.mx.reason.as_deref()); "Why mx is error."
    "mx_hosts": StrList = |r| Value::StrList(&r.mx_hosts); "MX hosts in preference order."
    "mx_hosts_with_aaaa": Int = |r| Value::Int(r.mx_hosts_with_aaaa); "MX hosts with an AAAA record."
    "spf_status": Status = |r| Value::Status(r.spf.status); "check_host() result for 203.0.113.254: fail, softfail, neutral, pass, none, permerror; error on DNS failure (temperror)."
    "spf_reason": Str = |r| Value::Str(r.spf.reason.as_deref()); "Why permerror or error."
    "spf_record": Str = |r| s(&r.spf_record); "The domain's SPF record."
    "spf_dns_lookups": Int = |r| Value::Int(r.spf_dns_lookups); "DNS-mechanism lookups during evaluation (limit 10)."
    "spf_void_lookups": Int = |r| Value::Int(r.spf_void_lookups); "Void lookups during evaluation (limit 2)."
    "dmarc_status": Status = |r| Value::Status(r.dmarc.status); "Effective policy: reject, quarantine, none, invalid, absent, error."
    "dmarc_reason": Str = |r| Value::Str(r.dmarc.reason.as_deref()); "Why invalid or error."
    "dmarc_record": Str = |r| s(&r.dmarc_record); "The DMARC record that applies."
    "dmarc_source": Str = |r| s(&r.dmarc_source); "own (_dmarc.<domain>) or organisational (_dmarc.<registrable domain>, sp applies)."
    "dmarc_pct": Int = |r| Value::Int(r.dmarc_pct); "pct= (100 when absent)."
    "dmarc_rua": StrList = |r| Value::StrList(&r.dmarc_rua); "Aggregate report URIs."
    "dkim_status": Status = |r| Value::Status(r.dkim.status); "present (_domainkey node exists), absent (NXDOMAIN, RFC 8020), error."
    "dkim_reason": Str = |r| Value::Str(r.dkim.reason.as_deref()); "Why dkim is error."
    "tls_rpt_status": Status = |r| Value::Status(r.tls_rpt.status); "present, invalid, absent, error."
    "tls_rpt_reason": Str = |r| Value::Str(r.tls_rpt.reason.as_deref()); "Why invalid or error."
    "tls_rpt_record": Str = |r| s(&r.tls_rpt_record); "The _smtp._tls TXT record."
    "mta_sts_record_status": Status = |r| Value::Status(r.mta_sts_record.status); "present (v=STSv1 with a valid id), invalid, absent, error."
    "mta_sts_record_reason": Str = |r| Value::Str(r.mta_sts_record.reason.as_deref()); "Why invalid or error."
    "mta_sts_record": Str = |r| s(&r.mta_sts_txt); "The _mta-sts TXT record."
    "web_apex_aaaa": Bool = |r| Value::Bool(r.web_apex_aaaa); "The domain has an AAAA record."
    "web_www_exists": Bool = |r| Value::Bool(r.web_www_exists); "www.<domain> exists."
    "web_www_aaaa": Bool = |r| Value::Bool(r.web_www_aaaa); "www.<domain> has an AAAA record (after CNAMEs)."
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
