//! Validated ROA payloads (VRPs) and RFC 6811 route origin validation.
//!
//! Input: the CSV of rpki-client (`-c`) and Routinator (`--format csv`):
//! `ASN,IP Prefix,Max Length,Trust Anchor` (the `AS` before the number optional, further
//! columns such as rpki-client's `Expires` ignored; with a header the columns are found by
//! name, so Routinator's `csvext` works too), or their JSON:
//! `{"roas":[{"asn":"AS13335","prefix":"1.1.1.0/24","maxLength":24,"ta":"apnic"}]}` with the
//! AS number as a string or a number. Gzip is accepted. A file without any VRP is an error: a
//! truncated download would otherwise make every route `not_found`.

use std::net::IpAddr;
use std::path::Path;

use serde::Deserialize;

use crate::input::{self, Lines};
use crate::lpm::{RangeMap, NONE};
use crate::prefix::{Key, Prefix};
use crate::{LineProblem, Origin, RoutingError};

/// One VRP: `asn` may originate `prefix` and its more specifics up to `max_length`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Vrp {
    /// The authorised origin AS; AS 0 authorises nobody (RFC 6483, RFC 7607).
    pub asn: u32,
    /// The ROA prefix.
    pub prefix: Prefix,
    /// The longest prefix length the AS may announce.
    pub max_length: u8,
}

/// RFC 6811 validation state of one route (prefix, origin).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Validity {
    /// A covering VRP matches the origin AS and the prefix length.
    Valid,
    /// Covering VRPs exist and none matches.
    Invalid(InvalidReason),
    /// No VRP covers the route.
    NotFound,
}

/// Why a covered route matched no VRP (evidence for `rpki_reason`; RFC 6811 has one state).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum InvalidReason {
    /// A VRP for the origin covers the route, but the route is longer than its maxLength.
    TooSpecific,
    /// No covering VRP names the origin AS (including VRPs for AS 0).
    WrongOrigin,
    /// The origin is an AS_SET, which matches no VRP (RFC 6811 section 2).
    AsSet,
}

impl Validity {
    /// The per-address state word: `valid`, `invalid`, `not_found`.
    pub fn as_str(self) -> &'static str {
        match self {
            Validity::Valid => "valid",
            Validity::Invalid(_) => "invalid",
            Validity::NotFound => "not_found",
        }
    }
}

impl InvalidReason {
    /// A short explanation.
    pub fn as_str(self) -> &'static str {
        match self {
            InvalidReason::TooSpecific => "more specific than the VRP's maxLength",
            InvalidReason::WrongOrigin => "origin AS not authorised by any covering VRP",
            InvalidReason::AsSet => "origin is an AS_SET",
        }
    }
}

/// The VRPs of one address family, indexed for "every VRP covering this route".
#[derive(Debug)]
struct Family<K> {
    map: RangeMap<K>,
    /// Distinct VRP prefixes `(network, length)`.
    nets: Vec<(K, u8)>,
    /// Nearest enclosing VRP prefix of each, or NONE.
    parents: Vec<u32>,
    /// `entries[starts[i]..starts[i + 1]]` are the `(asn, max_length)` of prefix `i`.
    starts: Vec<u32>,
    entries: Vec<(u32, u8)>,
}

impl<K: Key> Family<K> {
    fn build(mut vrps: Vec<(K, u8, u32, u8)>) -> Family<K> {
        vrps.sort_unstable();
        vrps.dedup();
        let mut nets: Vec<(K, u8)> = Vec::new();
        let mut starts = Vec::new();
        let mut entries = Vec::with_capacity(vrps.len());
        for (net, len, asn, max) in vrps {
            if nets.last() != Some(&(net, len)) {
                nets.push((net, len));
                starts.push(entries.len() as u32);
            }
            entries.push((asn, max));
        }
        starts.push(entries.len() as u32);
        let built = RangeMap::build(&nets);
        Family {
            map: built.map,
            nets,
            parents: built.parents,
            starts,
            entries,
        }
    }

    /// RFC 6811 section 2 for the route `net/len` originated by `origin`.
    fn validate(&self, net: K, len: u8, origin: &Origin) -> Validity {
        // The most specific VRP prefix containing the route's first address; it and its
        // ancestors no longer than the route are exactly the VRPs covering the route.
        let mut i = self.map.get(net);
        let mut covered = false;
        let mut origin_seen = false;
        while i != NONE {
            let (_, vlen) = self.nets[i as usize];
            if vlen <= len {
                covered = true;
                let (a, b) = (self.starts[i as usize], self.starts[i as usize + 1]);
                for &(asn, max) in &self.entries[a as usize..b as usize] {
                    if let Origin::As(o) = origin {
                        // AS 0 never matches (RFC 6483 section 4, RFC 7607).
                        if asn == *o && asn != 0 {
                            if len <= max {
                                return Validity::Valid;
                            }
                            origin_seen = true;
                        }
                    }
                }
            }
            i = self.parents[i as usize];
        }
        match (covered, origin, origin_seen) {
            (false, _, _) => Validity::NotFound,
            (true, Origin::Set(_), _) => Validity::Invalid(InvalidReason::AsSet),
            (true, _, true) => Validity::Invalid(InvalidReason::TooSpecific),
            (true, _, false) => Validity::Invalid(InvalidReason::WrongOrigin),
        }
    }
}

/// Every VRP of a scan, IPv4 and IPv6.
#[derive(Debug)]
pub struct VrpTable {
    v4: Family<u32>,
    v6: Family<u128>,
    len: usize,
}

impl VrpTable {
    /// Indexes the VRPs (duplicates are merged).
    pub fn new(vrps: &[Vrp]) -> VrpTable {
        let mut v4 = Vec::new();
        let mut v6 = Vec::new();
        for v in vrps {
            match v.prefix.addr() {
                IpAddr::V4(a) => v4.push((u32::from(a), v.prefix.length(), v.asn, v.max_length)),
                IpAddr::V6(a) => v6.push((u128::from(a), v.prefix.length(), v.asn, v.max_length)),
            }
        }
        let (v4, v6) = (Family::build(v4), Family::build(v6));
        let len = v4.entries.len() + v6.entries.len();
        VrpTable { v4, v6, len }
    }

    /// Reads a VRP file: rpki-client / Routinator CSV or JSON, plain or gzip.
    pub fn load(path: &Path) -> Result<VrpTable, RoutingError> {
        let vrps = parse_file(path)?;
        Ok(VrpTable::new(&vrps))
    }

    /// Distinct VRPs held.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the table holds no VRP.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// RFC 6811 validation state of the route `prefix` originated by `origin`.
    pub fn validate(&self, prefix: &Prefix, origin: &Origin) -> Validity {
        match prefix.addr() {
            IpAddr::V4(a) => self.v4.validate(u32::from(a), prefix.length(), origin),
            IpAddr::V6(a) => self.v6.validate(u128::from(a), prefix.length(), origin),
        }
    }
}

/// Parses a VRP file (CSV or JSON by its first character) into VRPs.
pub fn parse_file(path: &Path) -> Result<Vec<Vrp>, RoutingError> {
    let mut reader = input::open(path)?;
    let head = std::io::BufRead::fill_buf(&mut reader).map_err(|source| RoutingError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let json = head.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{');
    drop(reader);
    let vrps = if json {
        parse_json(path)?
    } else {
        parse_csv(path)?
    };
    if vrps.is_empty() {
        return Err(RoutingError::Empty {
            path: path.to_path_buf(),
            what: "VRP",
        });
    }
    Ok(vrps)
}

fn parse_asn(text: &str) -> Result<u32, LineProblem> {
    let t = text.trim();
    let digits = t
        .strip_prefix("AS")
        .or_else(|| t.strip_prefix("as"))
        .unwrap_or(t);
    digits
        .parse()
        .map_err(|_| LineProblem::Asn(text.to_string()))
}

fn vrp(asn: u32, prefix: &str, max: &str) -> Result<Vrp, LineProblem> {
    let prefix: Prefix = prefix.trim().parse().map_err(LineProblem::Prefix)?;
    let max_length: u8 = max
        .trim()
        .parse()
        .map_err(|_| LineProblem::MaxLength(max.to_string()))?;
    let bits = if prefix.addr().is_ipv4() { 32 } else { 128 };
    if max_length < prefix.length() || max_length > bits {
        return Err(LineProblem::MaxLengthRange { prefix, max_length });
    }
    Ok(Vrp {
        asn,
        prefix,
        max_length,
    })
}

fn parse_csv(path: &Path) -> Result<Vec<Vrp>, RoutingError> {
    let mut lines = Lines::open(path)?;
    let mut out = Vec::new();
    // Column positions of ASN, IP Prefix, Max Length: positional unless a header names them.
    let mut cols = [0usize, 1, 2];
    let mut first = true;
    while let Some(line) = lines.next_line()? {
        let fields: Vec<&str> = line.split(',').collect();
        if first {
            first = false;
            let names: Vec<String> = fields
                .iter()
                .map(|f| f.trim().to_ascii_lowercase())
                .collect();
            if names.iter().any(|n| n == "asn") {
                let find = |want: &str| names.iter().position(|n| n == want);
                match (find("asn"), find("ip prefix"), find("max length")) {
                    (Some(a), Some(p), Some(m)) => {
                        cols = [a, p, m];
                        continue;
                    }
                    _ => {
                        let problem = LineProblem::Header(line.to_string());
                        return Err(lines.error(problem));
                    }
                }
            }
        }
        let need = cols.iter().max().map_or(0, |m| m + 1);
        if fields.len() < need {
            let problem = LineProblem::Fields {
                expected: "ASN,IP Prefix,Max Length[,Trust Anchor]",
                text: line.to_string(),
            };
            return Err(lines.error(problem));
        }
        let parsed =
            parse_asn(fields[cols[0]]).and_then(|asn| vrp(asn, fields[cols[1]], fields[cols[2]]));
        match parsed {
            Ok(v) => out.push(v),
            Err(problem) => return Err(lines.error(problem)),
        }
    }
    Ok(out)
}

#[derive(Deserialize)]
struct JsonDoc {
    roas: Vec<JsonRoa>,
}

#[derive(Deserialize)]
struct JsonRoa {
    asn: JsonAsn,
    prefix: String,
    #[serde(rename = "maxLength")]
    max_length: serde_json::Value,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum JsonAsn {
    Number(u64),
    Text(String),
}

fn parse_json(path: &Path) -> Result<Vec<Vrp>, RoutingError> {
    let bytes = input::read_all(path)?;
    let doc: JsonDoc = serde_json::from_slice(&bytes).map_err(|source| RoutingError::Json {
        path: path.to_path_buf(),
        source,
    })?;
    doc.roas
        .iter()
        .enumerate()
        .map(|(index, roa)| {
            let asn = match &roa.asn {
                JsonAsn::Number(n) => {
                    u32::try_from(*n).map_err(|_| LineProblem::Asn(n.to_string()))
                }
                JsonAsn::Text(t) => parse_asn(t),
            };
            asn.and_then(|asn| vrp(asn, &roa.prefix, &roa.max_length.to_string()))
                .map_err(|problem| RoutingError::JsonEntry {
                    path: path.to_path_buf(),
                    index,
                    problem,
                })
        })
        .collect()
}
