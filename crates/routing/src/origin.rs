//! The prefix-to-origin table: which AS originates each announced prefix.
//!
//! Formats (detected per line, plain or gzip; `#` comments and blank lines skipped):
//! - CAIDA Routeviews prefix2as: `prefix<TAB>length<TAB>origins`, e.g. `192.0.2.0<TAB>24<TAB>64500`;
//! - a plain table, e.g. derived from an MRT RIB dump with `bgpdump -m`:
//!   `prefix/length origin`, e.g. `192.0.2.0/24 AS64500` (the `AS` is optional).
//!
//! Origins: CAIDA separates the origins of a multi-origin (MOAS) prefix with `_` and the
//! members of an AS_SET with `,` (`64500_64501,64502` is the origin 64500 and the set
//! {64501, 64502}). Each origin of a MOAS prefix is a separate route and is validated on its
//! own; an AS_SET origin is the RFC 6811 origin NONE, which no VRP matches. The same prefix on
//! several lines (the plain table's way of writing MOAS) merges its origins.

use std::fmt;
use std::net::IpAddr;
use std::path::Path;

use crate::input::Lines;
use crate::lpm::{RangeMap, NONE};
use crate::prefix::{Key, Prefix};
use crate::{LineProblem, RoutingError};

/// The origin of a route.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Origin {
    /// A single origin AS.
    As(u32),
    /// An AS_SET at the end of the path (matches no VRP).
    Set(Box<[u32]>),
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::As(a) => write!(f, "AS{a}"),
            Origin::Set(s) => {
                let members: Vec<String> = s.iter().map(u32::to_string).collect();
                write!(f, "AS{{{}}}", members.join(","))
            }
        }
    }
}

/// The announced route that carries an address: its prefix and origins.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Route<'a> {
    /// The most specific announced prefix containing the address.
    pub prefix: Prefix,
    /// Its origins (more than one for a MOAS prefix).
    pub origins: &'a [Origin],
}

#[derive(Debug)]
struct Family<K> {
    map: RangeMap<K>,
    nets: Vec<(K, u8)>,
    /// `origins[starts[i]..starts[i + 1]]` belong to prefix `i`.
    starts: Vec<u32>,
    origins: Vec<Origin>,
}

impl<K: Key> Family<K> {
    fn build(mut routes: Vec<(K, u8, Origin)>) -> Family<K> {
        routes.sort_unstable();
        routes.dedup();
        let mut nets = Vec::new();
        let mut starts = Vec::new();
        let mut origins = Vec::with_capacity(routes.len());
        for (net, len, origin) in routes {
            if nets.last() != Some(&(net, len)) {
                nets.push((net, len));
                starts.push(origins.len() as u32);
            }
            origins.push(origin);
        }
        starts.push(origins.len() as u32);
        Family {
            map: RangeMap::build(&nets).map,
            nets,
            starts,
            origins,
        }
    }

    fn lookup(&self, key: K) -> Option<(K, u8, &[Origin])> {
        let i = self.map.get(key);
        if i == NONE {
            return None;
        }
        let (net, len) = self.nets[i as usize];
        let (a, b) = (self.starts[i as usize], self.starts[i as usize + 1]);
        Some((net, len, &self.origins[a as usize..b as usize]))
    }
}

/// Every announced prefix and its origins, IPv4 and IPv6.
#[derive(Debug)]
pub struct OriginTable {
    v4: Family<u32>,
    v6: Family<u128>,
}

impl OriginTable {
    /// Indexes `(prefix, origin)` routes.
    pub fn new(routes: Vec<(Prefix, Origin)>) -> OriginTable {
        let mut v4 = Vec::new();
        let mut v6 = Vec::new();
        for (p, o) in routes {
            match p.addr() {
                IpAddr::V4(a) => v4.push((u32::from(a), p.length(), o)),
                IpAddr::V6(a) => v6.push((u128::from(a), p.length(), o)),
            }
        }
        OriginTable {
            v4: Family::build(v4),
            v6: Family::build(v6),
        }
    }

    /// Reads a CAIDA prefix2as or plain `prefix origin` file, plain or gzip.
    pub fn load(path: &Path) -> Result<OriginTable, RoutingError> {
        Ok(OriginTable::new(parse_file(path)?))
    }

    /// Distinct announced prefixes.
    pub fn len(&self) -> usize {
        self.v4.nets.len() + self.v6.nets.len()
    }

    /// Whether no prefix is announced.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The most specific announced prefix containing `addr`, with its origins.
    pub fn lookup(&self, addr: IpAddr) -> Option<Route<'_>> {
        let (net, len, origins) = match addr {
            IpAddr::V4(a) => {
                let (n, l, o) = self.v4.lookup(u32::from(a))?;
                (n.to_ip(), l, o)
            }
            IpAddr::V6(a) => {
                let (n, l, o) = self.v6.lookup(u128::from(a))?;
                (n.to_ip(), l, o)
            }
        };
        let prefix = Prefix::new(net, len).ok()?;
        Some(Route { prefix, origins })
    }

    /// Elementary ranges of the lookup structure (memory figure for the benchmark).
    pub fn ranges(&self) -> usize {
        self.v4.map.ranges() + self.v6.map.ranges()
    }
}

fn parse_origins(text: &str) -> Result<Vec<Origin>, LineProblem> {
    let bad = || LineProblem::Asn(text.to_string());
    let asn = |t: &str| -> Result<u32, LineProblem> {
        let t = t
            .strip_prefix("AS")
            .or_else(|| t.strip_prefix("as"))
            .unwrap_or(t);
        t.parse().map_err(|_| bad())
    };
    text.split('_')
        .map(|o| {
            if o.contains(',') {
                let members: Result<Vec<u32>, _> = o.split(',').map(asn).collect();
                Ok(Origin::Set(members?.into_boxed_slice()))
            } else {
                asn(o).map(Origin::As)
            }
        })
        .collect()
}

/// Parses a prefix-to-origin file into `(prefix, origin)` routes.
pub fn parse_file(path: &Path) -> Result<Vec<(Prefix, Origin)>, RoutingError> {
    let mut lines = Lines::open(path)?;
    let mut out = Vec::new();
    while let Some(line) = lines.next_line()? {
        let mut fields = line.split_whitespace();
        let parsed = match (fields.next(), fields.next(), fields.next(), fields.next()) {
            // CAIDA: address, length, origins.
            (Some(a), Some(l), Some(o), None) => format!("{a}/{l}")
                .parse::<Prefix>()
                .map_err(LineProblem::Prefix)
                .and_then(|p| Ok((p, parse_origins(o)?))),
            // Plain: prefix/length, origins.
            (Some(p), Some(o), None, None) => p
                .parse::<Prefix>()
                .map_err(LineProblem::Prefix)
                .and_then(|p| Ok((p, parse_origins(o)?))),
            _ => Err(LineProblem::Fields {
                expected: "prefix<TAB>length<TAB>origin (CAIDA) or prefix/length origin",
                text: line.to_string(),
            }),
        };
        match parsed {
            Ok((p, origins)) => out.extend(origins.into_iter().map(|o| (p, o))),
            Err(problem) => return Err(lines.error(problem)),
        }
    }
    if out.is_empty() {
        return Err(RoutingError::Empty {
            path: lines.path().to_path_buf(),
            what: "route",
        });
    }
    Ok(out)
}
