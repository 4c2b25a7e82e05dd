//! RFC 7208 SPF parser and `check_host()` evaluator.
//!
//! This crate answers one question: given a client IP address, a sender
//! domain and a HELO name, what SPF result does the domain's policy give?
//! It contains the complete record grammar ([`parse_record`]) and the
//! evaluation algorithm ([`check_host`]) with its processing limits (10
//! DNS-querying terms, 10 MX / PTR names, 2 void lookups), macro expansion,
//! `include`/`redirect` recursion and `exp=` explanations.
//!
//! The crate does no DNS itself. All lookups go through the [`SpfDns`]
//! trait, so the same evaluator runs against:
//!
//! - the live DNS, through the adapter the scanner's `spf` check provides
//!   (see CHECKS.md, section Mail: the check evaluates the policy for a
//!   foreign test address and reports the result, the record and the lookup
//!   counts from [`SpfOutcome`]);
//! - an in-memory zone, in `tests/conformance.rs`, which runs the openspf
//!   RFC 7208 conformance suite.
//!
//! Records come from the Internet: parsing and evaluation never panic on
//! malformed input, and every failure is reported as a typed result.

mod eval;
mod macros;
mod record;

use std::fmt;
use std::future::Future;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

pub use eval::check_host;
pub use macros::{MacroString, MacroToken};
pub use record::{
    is_spf_record, parse_record, Directive, Mechanism, Modifier, ParseError, Qualifier, Record,
    SyntaxKind, Term,
};

/// The result of an SPF evaluation (RFC 7208 section 2.6).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SpfResult {
    /// No SPF record, or the domain is malformed or does not exist.
    None,
    /// The policy makes no assertion (`?` or no match).
    Neutral,
    /// The client is authorised.
    Pass,
    /// The client is not authorised.
    Fail,
    /// Probably not authorised (`~`).
    Softfail,
    /// A transient DNS error.
    TempError,
    /// The published record is broken or exceeds a processing limit.
    PermError,
}

impl SpfResult {
    /// The lowercase name used in `Received-SPF` and the suite:
    /// `none`, `neutral`, `pass`, `fail`, `softfail`, `temperror`,
    /// `permerror`.
    pub fn as_str(self) -> &'static str {
        match self {
            SpfResult::None => "none",
            SpfResult::Neutral => "neutral",
            SpfResult::Pass => "pass",
            SpfResult::Fail => "fail",
            SpfResult::Softfail => "softfail",
            SpfResult::TempError => "temperror",
            SpfResult::PermError => "permerror",
        }
    }
}

impl fmt::Display for SpfResult {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A failed DNS lookup. `Ok(vec![])` from [`SpfDns`] means NOERROR/NODATA.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DnsFailure {
    /// The name does not exist (RCODE 3).
    #[error("NXDOMAIN")]
    NxDomain,
    /// A timeout, SERVFAIL or other transient failure, with a description.
    #[error("temporary DNS failure: {0}")]
    Temporary(String),
}

/// The DNS lookups SPF evaluation needs.
///
/// Implementations may write the methods as `async fn`. The trait requires
/// the futures to be `Send` (and the resolver `Sync`) so that
/// [`check_host`] can run on a multi-threaded runtime.
pub trait SpfDns: Sync {
    /// TXT records of `name`: one `String` per record, its
    /// character-strings concatenated without separator.
    fn txt(&self, name: &str) -> impl Future<Output = Result<Vec<String>, DnsFailure>> + Send;
    /// A records of `name`.
    fn a(&self, name: &str) -> impl Future<Output = Result<Vec<Ipv4Addr>, DnsFailure>> + Send;
    /// AAAA records of `name`.
    fn aaaa(&self, name: &str) -> impl Future<Output = Result<Vec<Ipv6Addr>, DnsFailure>> + Send;
    /// MX records of `name`: (preference, exchange without trailing dot;
    /// empty for a null MX).
    fn mx(&self, name: &str)
        -> impl Future<Output = Result<Vec<(u16, String)>, DnsFailure>> + Send;
    /// PTR records for `ip` (the adapter builds the `in-addr.arpa` /
    /// `ip6.arpa` name); trailing dots are allowed.
    fn ptr(&self, ip: IpAddr) -> impl Future<Output = Result<Vec<String>, DnsFailure>> + Send;
}

/// The inputs of `check_host()` (RFC 7208 section 4.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SpfQuery<'a> {
    /// The SMTP client address. IPv4-mapped IPv6 addresses are treated as
    /// IPv4.
    pub ip: IpAddr,
    /// The domain whose policy is checked (the MAIL FROM domain, or the
    /// HELO name when MAIL FROM is empty), in ASCII (A-label) form; a
    /// malformed or single-label domain gives [`SpfResult::None`].
    pub domain: &'a str,
    /// The MAIL FROM address (`local@domain`); a missing local part becomes
    /// `postmaster`.
    pub sender: &'a str,
    /// The HELO/EHLO name.
    pub helo: &'a str,
}

/// The outcome of [`check_host`], with evidence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpfOutcome {
    /// The SPF result.
    pub result: SpfResult,
    /// The top-level SPF record text evaluated (`None` when none was found).
    pub record: Option<String>,
    /// DNS-querying terms evaluated (`include`, `a`, `mx`, `ptr`, `exists`,
    /// `redirect`), counted against the limit of 10.
    pub dns_lookups: u32,
    /// Lookups that returned NXDOMAIN or no answers, limit 2.
    pub void_lookups: u32,
    /// The expanded `exp=` explanation, for a `fail` whose record has one
    /// that could be retrieved.
    pub explanation: Option<String>,
    /// Why the result is `permerror` or `temperror`.
    pub reason: Option<String>,
}
