//! Routing security and hosting: RPKI route origin validation (RFC 6811) of a domain's
//! addresses, and the network and country that host it.
//!
//! Where it sits: the tables are loaded once per scan from files the user supplies (a scanner
//! must not depend on live services for this): a VRP list ([`vrp`]), a prefix-to-origin
//! table ([`origin`]) and an IP-to-ASN/country table ([`hosting`]). After a domain's DNS and
//! connection stages have settled on its web, mail and name server addresses,
//! [`RoutingTables::assess`] looks each address up and returns the `rpki` finding, the
//! per-address detail and the hosting columns. Everything here is a pure in-memory lookup:
//! no network, no I/O after loading, so it adds microseconds to a domain.
//!
//! The per-domain statuses are the words of CHECKS.md (the wording differs: its
//! "some invalid / mixed" are CHECKS.md's `invalid` / `partial`):
//! `valid` (every address valid), `invalid` (any address invalid), `partial` (some valid, the
//! rest not_found), `not_found` (no VRP covers any). Beyond those: `not_applicable` when the
//! domain has no address, and `error` when no address has a route in the prefix-to-origin
//! table (nothing could be validated; never reported as not_found). An address without a
//! route next to routed ones is left out of the status and named in the reason.
//!
//! Each origin of a multi-origin prefix is its own route (RFC 6811 validates routes), so an
//! address announced by a valid and an invalid origin counts as invalid.

pub mod hosting;
mod input;
mod lpm;
pub mod origin;
pub mod prefix;
pub mod synthetic;
pub mod vrp;

use std::net::IpAddr;
use std::path::{Path, PathBuf};

use uptake_model::row::ScanRow;
use uptake_model::{Check, Finding, Status};

pub use hosting::{HostingInfo, HostingSource, HostingTable};
pub use origin::{Origin, OriginTable, Route};
pub use prefix::{Prefix, PrefixError};
pub use vrp::{InvalidReason, Validity, Vrp, VrpTable};

/// A table file could not be read.
#[derive(Debug, thiserror::Error)]
pub enum RoutingError {
    /// The file could not be opened or read.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// A line of a text table is malformed.
    #[error("{}:{line}: {problem}", path.display())]
    Line {
        /// The file.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
        /// What is wrong.
        problem: LineProblem,
    },
    /// A JSON VRP file is not JSON of the expected shape (serde names line and column).
    #[error("{}: {source}", path.display())]
    Json {
        /// The file.
        path: PathBuf,
        /// The cause, with line and column.
        source: serde_json::Error,
    },
    /// An entry of a JSON VRP file is malformed.
    #[error("{}: roas[{index}]: {problem}", path.display())]
    JsonEntry {
        /// The file.
        path: PathBuf,
        /// 0-based position in the `roas` array.
        index: usize,
        /// What is wrong.
        problem: LineProblem,
    },
    /// A MaxMind database could not be opened or failed verification.
    #[error("{}: {source}", path.display())]
    Mmdb {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: maxminddb::MaxMindDbError,
    },
    /// The file holds no entry (a truncated download would otherwise pass silently).
    #[error("{}: no {what} in the file", path.display())]
    Empty {
        /// The file.
        path: PathBuf,
        /// What was expected.
        what: &'static str,
    },
}

/// What is wrong with one line or entry.
#[derive(Debug, thiserror::Error)]
pub enum LineProblem {
    /// Wrong number of fields.
    #[error("expected {expected}, got '{text}'")]
    Fields {
        /// The expected layout.
        expected: &'static str,
        /// The line.
        text: String,
    },
    /// A CSV header without the expected columns.
    #[error("header lacks the columns ASN, IP Prefix, Max Length: '{0}'")]
    Header(String),
    /// Not an IP prefix.
    #[error("{0}")]
    Prefix(PrefixError),
    /// Not an AS number.
    #[error("bad AS number '{0}'")]
    Asn(String),
    /// Not a prefix length.
    #[error("bad max length '{0}'")]
    MaxLength(String),
    /// maxLength shorter than the prefix or longer than the family's bits.
    #[error(
        "max length {max_length} outside the prefix length and the family's bits for {prefix}"
    )]
    MaxLengthRange {
        /// The prefix.
        prefix: Prefix,
        /// The max length given.
        max_length: u8,
    },
    /// Not an IP address.
    #[error("bad address '{0}'")]
    Address(String),
    /// Range start after its end.
    #[error("range start after range end")]
    Reversed,
    /// Range start and end of different families.
    #[error("range start and end are of different address families")]
    MixedFamily,
    /// A range starts before the previous one.
    #[error("range not sorted: it starts before the range on line {previous}")]
    Unsorted {
        /// The previous range's line.
        previous: usize,
    },
    /// A range overlaps the previous one.
    #[error("range overlaps the range on line {previous}")]
    Overlap {
        /// The previous range's line.
        previous: usize,
    },
}

/// The three tables of a scan.
#[derive(Debug)]
pub struct RoutingTables {
    /// The VRPs.
    pub vrps: VrpTable,
    /// The prefix-to-origin table.
    pub routes: OriginTable,
    /// The IP-to-ASN/country table.
    pub hosting: HostingTable,
}

/// A domain's addresses, by role. An address in several roles is validated once.
#[derive(Debug, Clone, Copy, Default)]
pub struct DomainAddresses<'a> {
    /// Addresses of the web host (the apex, or www).
    pub web: &'a [IpAddr],
    /// Addresses of the MX hosts.
    pub mail: &'a [IpAddr],
    /// Addresses of the name servers.
    pub name_servers: &'a [IpAddr],
}

/// Address lookups of a domain that failed, by role: the reason of each (e.g.
/// `A of www.example.nl: timeout`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LookupFailures {
    /// Lookups of the web host's addresses.
    pub web: Vec<String>,
    /// Lookups of the MX set or the MX hosts' addresses.
    pub mail: Vec<String>,
    /// Lookups of the NS set or the name servers' addresses.
    pub name_servers: Vec<String>,
}

impl LookupFailures {
    /// No lookup failed.
    pub fn is_empty(&self) -> bool {
        self.web.is_empty() && self.mail.is_empty() && self.name_servers.is_empty()
    }
}

/// RFC 6811 outcome for one address: its route and the state of each origin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddressValidation<'a> {
    /// The address.
    pub address: IpAddr,
    /// The route carrying it, `None` when the prefix-to-origin table has none.
    pub route: Option<Route<'a>>,
    /// One state per origin of the route (same order as `route.origins`).
    pub states: Vec<Validity>,
}

impl AddressValidation<'_> {
    /// Detail lines: `192.0.2.1 192.0.2.0/24 AS64500 valid`, one per origin, or
    /// `192.0.2.1 no_route`.
    pub fn detail(&self) -> Vec<String> {
        match &self.route {
            None => vec![format!("{} no_route", self.address)],
            Some(r) => r
                .origins
                .iter()
                .zip(&self.states)
                .map(|(o, s)| format!("{} {} {o} {}", self.address, r.prefix, s.as_str()))
                .collect(),
        }
    }
}

/// What the routing tables say about one domain.
#[derive(Debug, Clone, PartialEq)]
pub struct RpkiAssessment {
    /// The `rpki` finding.
    pub finding: Finding,
    /// Per address and origin detail (`rpki_addresses`).
    pub addresses: Vec<String>,
    /// The hosting network of the first web address, else the first mail address.
    pub hosting: Option<HostingInfo>,
}

impl RpkiAssessment {
    /// Writes the finding, the detail and the hosting columns into a row.
    pub fn write_to(self, row: &mut ScanRow) {
        row.set_finding(Check::Rpki, self.finding);
        row.routing.rpki_addresses = self.addresses;
        let h = self.hosting;
        row.routing.hosting_asn = h.as_ref().and_then(|h| h.asn).map(i64::from);
        row.routing.hosting_as_name = h.as_ref().and_then(|h| h.as_name.clone());
        row.routing.hosting_country = h.and_then(|h| h.country);
    }
}

impl RoutingTables {
    /// Loads the three tables (the VRPs and the routes on two threads).
    pub fn load(
        vrps: &Path,
        prefix2as: &Path,
        hosting: &HostingSource,
    ) -> Result<RoutingTables, RoutingError> {
        let (vrps, routes, hosting) = std::thread::scope(|s| {
            let v = s.spawn(|| VrpTable::load(vrps));
            let h = HostingTable::load(hosting);
            let r = OriginTable::load(prefix2as);
            let v = v.join().unwrap_or_else(|e| std::panic::resume_unwind(e));
            (v, r, h)
        });
        Ok(RoutingTables {
            vrps: vrps?,
            routes: routes?,
            hosting: hosting?,
        })
    }

    /// The route carrying `address` and the RFC 6811 state of each of its origins.
    pub fn validate(&self, address: IpAddr) -> AddressValidation<'_> {
        let route = self.routes.lookup(address);
        let states = route.map_or_else(Vec::new, |r| {
            r.origins
                .iter()
                .map(|o| self.vrps.validate(&r.prefix, o))
                .collect()
        });
        AddressValidation {
            address,
            route,
            states,
        }
    }

    /// The `rpki` finding, its detail and the hosting columns for a domain.
    ///
    /// Hosting is looked up for the first web address, else the first mail address (the
    /// columns describe where the domain's services live; name servers are often a DNS
    /// provider's and would skew "hosting country" aggregates).
    pub fn assess(&self, addresses: &DomainAddresses<'_>) -> RpkiAssessment {
        // A handful of addresses: a linear check dedupes faster than hashing.
        let mut all: Vec<IpAddr> = Vec::new();
        for a in [addresses.web, addresses.mail, addresses.name_servers].concat() {
            if !all.contains(&a) {
                all.push(a);
            }
        }
        let validations: Vec<AddressValidation<'_>> =
            all.iter().map(|&a| self.validate(a)).collect();
        let hosting = addresses
            .web
            .first()
            .or(addresses.mail.first())
            .and_then(|&a| self.hosting.lookup(a));
        RpkiAssessment {
            finding: summarise(&validations),
            addresses: validations.iter().flat_map(|v| v.detail()).collect(),
            hosting,
        }
    }
}

impl RoutingTables {
    /// [`RoutingTables::assess`] for a domain some of whose address lookups failed.
    ///
    /// The addresses found are validated and listed. An invalid one makes the domain
    /// `invalid` (that holds whatever the missing addresses say); otherwise the status is
    /// `error` naming the failed lookups, since `valid`, `partial` and `not_found` speak for
    /// every address. Hosting is kept only when its address is certain: the web lookups all
    /// succeeded (or, with no web address, the mail lookups did).
    pub fn assess_resolved(
        &self,
        addresses: &DomainAddresses<'_>,
        failures: &LookupFailures,
    ) -> RpkiAssessment {
        let mut a = self.assess(addresses);
        if failures.is_empty() {
            return a;
        }
        let failed: Vec<&str> = [&failures.web, &failures.mail, &failures.name_servers]
            .into_iter()
            .flatten()
            .map(String::as_str)
            .collect();
        let lookups = format!("address lookup failed: {}", failed.join("; "));
        a.finding = if a.finding.status == Status::Invalid {
            let known = a.finding.reason.take().unwrap_or_default();
            Finding::with_reason(Status::Invalid, format!("{known}; {lookups}"))
        } else {
            Finding::error(lookups)
        };
        let web_known = failures.web.is_empty();
        let mail_known = failures.mail.is_empty();
        if !web_known || (addresses.web.is_empty() && !mail_known) {
            a.hosting = None;
        }
        a
    }
}

/// The per-domain status from the per-address states (see the crate docs).
pub fn summarise(validations: &[AddressValidation<'_>]) -> Finding {
    if validations.is_empty() {
        return Finding::with_reason(Status::NotApplicable, "no web, mail or name server address");
    }
    let unrouted: Vec<String> = validations
        .iter()
        .filter(|v| v.route.is_none())
        .map(|v| v.address.to_string())
        .collect();
    let no_route = |prefix: &str| format!("{prefix}no route for {}", unrouted.join(", "));
    let states: Vec<Validity> = validations
        .iter()
        .flat_map(|v| v.states.iter().copied())
        .collect();
    if states.is_empty() {
        return Finding::error(no_route("prefix-to-origin table: "));
    }
    let mut notes: Vec<String> = Vec::new();
    for v in validations {
        let Some(r) = &v.route else { continue };
        for (o, s) in r.origins.iter().zip(&v.states) {
            if let Validity::Invalid(why) = s {
                notes.push(format!("{} {} {o}: {}", v.address, r.prefix, why.as_str()));
            }
        }
    }
    let status = if !notes.is_empty() {
        Status::Invalid
    } else if states.iter().all(|s| *s == Validity::Valid) {
        Status::Valid
    } else if states.contains(&Validity::Valid) {
        Status::Partial
    } else {
        Status::NotFound
    };
    if !unrouted.is_empty() {
        notes.push(no_route(""));
    }
    if notes.is_empty() {
        Finding::of(status)
    } else {
        Finding::with_reason(status, notes.join("; "))
    }
}
