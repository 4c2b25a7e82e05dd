//! The private internet's routing tables: `routing/vrps.csv` (rpki-client CSV),
//! `routing/prefix2as.txt` (CAIDA prefix2as) and `routing/ip2asn.tsv` (iptoasn.com TSV), and
//! the truth they imply for every target (`rpki_status`, `hosting_*` in truth.csv).
//!
//! Every address a target depends on (its web server, MX hosts and name servers, as
//! [`domain_addresses`] reads them from the profile) lies in a block: the /31 (IPv4) or /127
//! (IPv6) around it. Each block gets an RPKI outcome drawn from the seed (half valid, 30 %
//! not found, 10 % invalid by origin, a VRP of another AS or AS 0, 10 % invalid by length,
//! announced beyond maxLength); the blocks of one /24 (IPv4) or /48 (IPv6) belong to one
//! AS, whose country cycles through [`uptake_routing::synthetic::COUNTRIES`]. The files and
//! the per-domain truth come from `uptake_routing::synthetic`, which derives the truth from
//! these choices, never from the validator under test.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::Path;

use uptake_routing::synthetic::{self, Block, RouteProfile, World, COUNTRIES};
use uptake_routing::Prefix;

use super::profile::{zone_facts, Mx, Profile, Www};
use super::rng::Rng;
use super::world::MAIL_PROVIDERS;
use super::GenerateError;

/// The directory of the routing files inside a testbed.
pub const DIR: &str = "routing";

/// A target's addresses by role, in the order the scanner resolves them: web (A and AAAA of
/// the apex, then of www), mail (each MX host's, in preference order), name servers (each of
/// the zone's).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Addresses {
    /// Web addresses.
    pub web: Vec<IpAddr>,
    /// MX host addresses.
    pub mail: Vec<IpAddr>,
    /// Name server addresses.
    pub name_servers: Vec<IpAddr>,
}

fn push(v: &mut Vec<IpAddr>, a: IpAddr) {
    if !v.contains(&a) {
        v.push(a);
    }
}

/// The addresses target `i` publishes, from its profile (what its zone records say).
pub fn domain_addresses(profiles: &[Profile], i: usize) -> Addresses {
    let p = &profiles[i];
    let mut out = Addresses::default();
    let (v4, v6) = (IpAddr::V4(p.web_server.v4), IpAddr::V6(p.web_server.v6));
    push(&mut out.web, v4);
    if p.apex_aaaa {
        push(&mut out.web, v6);
    }
    let www_aaaa = match p.www {
        Www::Absent => false,
        Www::Own { aaaa } => aaaa,
        Www::Cname => p.apex_aaaa,
    };
    if www_aaaa {
        push(&mut out.web, v6);
    }
    match (&p.mx, &p.mail_server) {
        (Mx::Shared(m), _) => {
            let prov = MAIL_PROVIDERS[*m];
            for n in 0..2 {
                push(&mut out.mail, IpAddr::V4(prov.mx_v4(n)));
                if prov.mx_aaaa[n] {
                    push(&mut out.mail, IpAddr::V6(prov.mx_v6(n)));
                }
            }
        }
        (Mx::Own { aaaa }, Some(s)) => {
            push(&mut out.mail, IpAddr::V4(s.v4));
            if let (true, Some(v6)) = (aaaa, s.v6) {
                push(&mut out.mail, IpAddr::V6(v6));
            }
        }
        _ => {}
    }
    for a in zone_facts(profiles, i).ns_addresses {
        push(&mut out.name_servers, a);
    }
    out
}

/// The block around an address: its /31 or /127.
fn block_of(a: IpAddr) -> Prefix {
    Prefix::containing(a, if a.is_ipv4() { 31 } else { 127 })
}

/// The AS group of an address: its /24 or /48.
fn group_of(a: IpAddr) -> Prefix {
    Prefix::containing(a, if a.is_ipv4() { 24 } else { 48 })
}

/// The blocks covering every address of `profiles`, with their outcomes and hosting AS.
pub fn blocks(seed: u64, profiles: &[Profile]) -> Vec<Block> {
    let mut prefixes: BTreeMap<(IpAddr, u8), Prefix> = BTreeMap::new();
    for i in 0..profiles.len() {
        let a = domain_addresses(profiles, i);
        for ip in a.web.iter().chain(&a.mail).chain(&a.name_servers) {
            let b = block_of(*ip);
            prefixes.insert((b.addr(), b.length()), b);
        }
    }
    let mut groups: BTreeMap<(IpAddr, u8), usize> = BTreeMap::new();
    for b in prefixes.values() {
        let g = group_of(b.addr());
        let next = groups.len();
        groups.entry((g.addr(), g.length())).or_insert(next);
    }
    prefixes
        .values()
        .enumerate()
        .map(|(k, &prefix)| {
            let g = group_of(prefix.addr());
            let group = groups[&(g.addr(), g.length())];
            let profile = match Rng::new(seed ^ 0x5250_4b49, k as u64).below(20) {
                0..=9 => RouteProfile::Valid,
                10..=15 => RouteProfile::NotFound,
                16 | 17 => RouteProfile::InvalidOrigin,
                _ => RouteProfile::InvalidLength,
            };
            Block {
                prefix,
                profile,
                asn: 4_200_000_000 + group as u32,
                as_name: format!("TESTBED-AS-{group}"),
                country: COUNTRIES[group % COUNTRIES.len()].to_string(),
            }
        })
        .collect()
}

/// Writes the three files into `out/routing/` and returns the world that answers the truth.
pub fn write(out: &Path, seed: u64, profiles: &[Profile]) -> Result<World, GenerateError> {
    synthetic::world(&blocks(seed, profiles), &out.join(DIR)).map_err(|e| match e {
        synthetic::WorldError::Io { path, source } => GenerateError::Io { path, source },
        other => GenerateError::Options(format!("routing tables: {other}")),
    })
}

/// The truth columns of target `i`: `rpki_status`, `hosting_asn`, `hosting_as_name`,
/// `hosting_country`.
pub fn truth(world: &World, profiles: &[Profile], i: usize) -> [String; 4] {
    let a = domain_addresses(profiles, i);
    let (status, hosting) = world.domain(&uptake_routing::DomainAddresses {
        web: &a.web,
        mail: &a.mail,
        name_servers: &a.name_servers,
    });
    let h = hosting.unwrap_or(uptake_routing::HostingInfo {
        asn: None,
        as_name: None,
        country: None,
    });
    [
        status.as_str().to_string(),
        h.asn.map(|a| a.to_string()).unwrap_or_default(),
        h.as_name.unwrap_or_default(),
        h.country.unwrap_or_default(),
    ]
}
