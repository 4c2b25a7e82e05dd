//! Routing tables for a private internet, with their ground truth.
//!
//! The testbed generator gives the address blocks its servers live in and, per block, the
//! RPKI outcome and hosting network it wants ([`Block`], or [`assign`] to cycle through every
//! outcome); [`world`] writes a VRP CSV (rpki-client format), a CAIDA prefix2as table and an
//! iptoasn.com TSV that produce exactly those outcomes, and returns a [`World`] that answers
//! the truth per address and per domain. The truth comes from the profiles chosen here, never
//! from [`crate::RoutingTables`] (the code under test).
//!
//! Profiles and the table entries they produce, for a block `P/len` of AS `A`:
//! - [`RouteProfile::Valid`]: route `P/len` from `A`; VRP `A P/len max len`; every second
//!   valid block also has a VRP for another AS on the same prefix and every third a maxLength
//!   longer than the route (several covering VRPs, one matching);
//! - [`RouteProfile::InvalidOrigin`]: route `P/len` from `A`; a VRP for another AS (every
//!   second block: AS 0, which never matches);
//! - [`RouteProfile::InvalidLength`]: VRP `A P/len max len`, but `A` announces the two halves
//!   `P/len+1` (more specific than maxLength);
//! - [`RouteProfile::NotFound`]: route `P/len` from `A`, no VRP.

use std::fs;
use std::io::Write;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use uptake_model::Status;

use crate::hosting::HostingInfo;
use crate::prefix::Prefix;
use crate::vrp::{InvalidReason, Validity};
use crate::DomainAddresses;

/// The RPKI outcome a block's routes should have.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RouteProfile {
    /// The origin is authorised.
    Valid,
    /// Covered by a VRP of another AS.
    InvalidOrigin,
    /// Announced more specifically than the VRP's maxLength.
    InvalidLength,
    /// No VRP covers it.
    NotFound,
}

/// One address block of the private internet and what its routing should say.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Block {
    /// The block (disjoint from every other block).
    pub prefix: Prefix,
    /// RPKI outcome of its routes.
    pub profile: RouteProfile,
    /// The AS that originates and hosts it.
    pub asn: u32,
    /// That AS's name.
    pub as_name: String,
    /// The hosting country (ISO 3166 alpha-2).
    pub country: String,
}

/// The truth for one address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddressTruth {
    /// The announced prefix carrying the address.
    pub route: Prefix,
    /// Its origin AS.
    pub origin: u32,
    /// RFC 6811 state of that route.
    pub validity: Validity,
    /// The hosting network.
    pub hosting: HostingInfo,
}

/// The files written and the truth behind them.
#[derive(Debug)]
pub struct World {
    blocks: Vec<Block>,
    /// VRP CSV (`ASN,IP Prefix,Max Length,Trust Anchor`).
    pub vrps: PathBuf,
    /// CAIDA prefix2as table.
    pub prefix2as: PathBuf,
    /// iptoasn.com TSV.
    pub ip2asn: PathBuf,
}

/// The blocks cannot make a consistent world.
#[derive(Debug, thiserror::Error)]
pub enum WorldError {
    /// Two blocks overlap.
    #[error("blocks {0} and {1} overlap")]
    Overlap(Prefix, Prefix),
    /// A host-length block cannot be announced more specifically.
    #[error("block {0} is too long to announce its halves (invalid_length)")]
    TooLong(Prefix),
    /// Writing a file failed.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
}

/// The countries [`assign`] cycles through.
pub const COUNTRIES: [&str; 5] = ["NL", "DE", "US", "FR", "JP"];

/// Blocks for `prefixes` cycling through every profile, with private-use AS numbers
/// (4200000000 + i, RFC 6996), names `TESTBED-NET-<i>` and the [`COUNTRIES`] in turn.
pub fn assign(prefixes: &[Prefix]) -> Vec<Block> {
    const PROFILES: [RouteProfile; 4] = [
        RouteProfile::Valid,
        RouteProfile::InvalidOrigin,
        RouteProfile::InvalidLength,
        RouteProfile::NotFound,
    ];
    prefixes
        .iter()
        .enumerate()
        .map(|(i, &prefix)| Block {
            prefix,
            profile: PROFILES[i % PROFILES.len()],
            asn: 4_200_000_000 + i as u32,
            as_name: format!("TESTBED-NET-{i}"),
            country: COUNTRIES[i % COUNTRIES.len()].to_string(),
        })
        .collect()
}

/// Another AS than the block's, for covering VRPs that must not match.
fn other_as(asn: u32) -> u32 {
    asn ^ 0x8000
}

fn halves(p: &Prefix) -> Result<[Prefix; 2], WorldError> {
    let bits = if p.addr().is_ipv4() { 32 } else { 128 };
    if p.length() >= bits {
        return Err(WorldError::TooLong(*p));
    }
    let lo = Prefix::containing(p.addr(), p.length() + 1);
    let hi = Prefix::containing(p.last(), p.length() + 1);
    Ok([lo, hi])
}

/// Writes `vrps.csv`, `prefix2as.txt` and `ip2asn.tsv` into `dir` for `blocks`.
pub fn world(blocks: &[Block], dir: &Path) -> Result<World, WorldError> {
    let mut sorted: Vec<Block> = blocks.to_vec();
    // IPv4 before IPv6 (IpAddr's order), then by address: the order iptoasn files have.
    sorted.sort_by_key(|b| (b.prefix.addr(), b.prefix.length()));
    for w in sorted.windows(2) {
        let (a, b) = (&w[0].prefix, &w[1].prefix);
        if a.covers(b) || b.covers(a) {
            return Err(WorldError::Overlap(*a, *b));
        }
    }
    let mut vrps = String::from("ASN,IP Prefix,Max Length,Trust Anchor\n");
    let mut routes = String::new();
    let mut ranges = String::new();
    let mut valid_seen = 0usize;
    let mut invalid_seen = 0usize;
    for b in &sorted {
        let (p, len, asn) = (b.prefix, b.prefix.length(), b.asn);
        let bits = if p.addr().is_ipv4() { 32 } else { 128 };
        let mut route = |p: Prefix| routes += &format!("{}\t{}\t{asn}\n", p.addr(), p.length());
        match b.profile {
            RouteProfile::Valid => {
                let max = if valid_seen % 3 == 2 {
                    (len + 2).min(bits)
                } else {
                    len
                };
                vrps += &format!("AS{asn},{p},{max},testbed\n");
                if valid_seen % 2 == 1 {
                    vrps += &format!("AS{},{p},{len},testbed\n", other_as(asn));
                }
                valid_seen += 1;
                route(p);
            }
            RouteProfile::InvalidOrigin => {
                let holder = if invalid_seen % 2 == 1 {
                    0
                } else {
                    other_as(asn)
                };
                vrps += &format!("AS{holder},{p},{len},testbed\n");
                invalid_seen += 1;
                route(p);
            }
            RouteProfile::InvalidLength => {
                vrps += &format!("AS{asn},{p},{len},testbed\n");
                for h in halves(&p)? {
                    route(h);
                }
            }
            RouteProfile::NotFound => route(p),
        }
        ranges += &format!(
            "{}\t{}\t{asn}\t{}\t{}\n",
            p.addr(),
            p.last(),
            b.country,
            b.as_name
        );
    }
    let write = |name: &str, text: &str| -> Result<PathBuf, WorldError> {
        let path = dir.join(name);
        let io = |source| WorldError::Io {
            path: path.clone(),
            source,
        };
        fs::create_dir_all(dir).map_err(io)?;
        fs::File::create(&path)
            .and_then(|mut f| f.write_all(text.as_bytes()))
            .map_err(io)?;
        Ok(path)
    };
    Ok(World {
        vrps: write("vrps.csv", &vrps)?,
        prefix2as: write("prefix2as.txt", &routes)?,
        ip2asn: write("ip2asn.tsv", &ranges)?,
        blocks: sorted,
    })
}

impl World {
    /// The truth for `addr`; `None` outside every block (no route, no hosting entry).
    pub fn address(&self, addr: IpAddr) -> Option<AddressTruth> {
        // Sorted and disjoint: the only candidate is the last block starting at or before addr.
        let pos = self.blocks.partition_point(|b| b.prefix.addr() <= addr);
        let b = self.blocks.get(pos.checked_sub(1)?)?;
        if !b.prefix.contains(addr) {
            return None;
        }
        let (route, validity) = match b.profile {
            RouteProfile::Valid => (b.prefix, Validity::Valid),
            RouteProfile::InvalidOrigin => {
                (b.prefix, Validity::Invalid(InvalidReason::WrongOrigin))
            }
            RouteProfile::InvalidLength => (
                Prefix::containing(addr, b.prefix.length() + 1),
                Validity::Invalid(InvalidReason::TooSpecific),
            ),
            RouteProfile::NotFound => (b.prefix, Validity::NotFound),
        };
        Some(AddressTruth {
            route,
            origin: b.asn,
            validity,
            hosting: HostingInfo {
                asn: Some(b.asn),
                as_name: Some(b.as_name.clone()),
                country: Some(b.country.clone()),
            },
        })
    }

    /// The expected `rpki_status` and hosting of a domain with these addresses, from the
    /// profiles: every address valid -> valid, any invalid -> invalid, valid and not found ->
    /// partial, only not found -> not_found; no address -> not_applicable; no address in any
    /// block -> error. Hosting: the block of the first web address, else the first mail one.
    pub fn domain(&self, addresses: &DomainAddresses<'_>) -> (Status, Option<HostingInfo>) {
        let all = [addresses.web, addresses.mail, addresses.name_servers].concat();
        let truths: Vec<AddressTruth> = all.iter().filter_map(|&a| self.address(a)).collect();
        let has = |v: fn(&Validity) -> bool| truths.iter().any(|t| v(&t.validity));
        let status = if all.is_empty() {
            Status::NotApplicable
        } else if truths.is_empty() {
            Status::Error
        } else if has(|v| matches!(v, Validity::Invalid(_))) {
            Status::Invalid
        } else if !has(|v| *v != Validity::Valid) {
            Status::Valid
        } else if has(|v| *v == Validity::Valid) {
            Status::Partial
        } else {
            Status::NotFound
        };
        let first = addresses.web.first().or(addresses.mail.first());
        let hosting = first.and_then(|&a| self.address(a)).map(|t| t.hosting);
        (status, hosting)
    }
}
