//! The private internet's routing tables: `routing/vrps.csv` (rpki-client CSV),
//! `routing/prefix2as.txt` (CAIDA prefix2as) and `routing/ip2asn.tsv` (iptoasn.com TSV), and
//! the truth they imply for every target (`rpki_status`, `hosting_*` in truth.csv).
//!
//! Every address a target depends on (its web server, MX hosts and name servers, as
//! [`domain_addresses`] reads them from the profile) lies in a block: the /31 (IPv4) or /127
//! (IPv6) around it. The shared networks (registries, DNS providers, mail providers, web
//! hosting providers) have fixed outcomes, valid or not found, and an AS each; the blocks of
//! own web and mail servers draw theirs from the seed (valid, not found, invalid by origin:
//! a VRP of another AS or AS 0, invalid by length: announced beyond maxLength) and belong to
//! the AS of their /27 (IPv4) or /120 (IPv6). So whole domains come out valid, not found,
//! partial and invalid. Hosting countries cycle through [`HOSTING_COUNTRIES`]. The files and
//! the per-domain truth come from `uptake_routing::synthetic`, which derives the truth from
//! these choices, never from the validator under test.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::Path;

use uptake_routing::synthetic::{self, Block, RouteProfile, World};
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

/// The hosting network of an own server's block: its /27 (IPv4) or /120 (IPv6), so a few
/// dozen servers share an AS.
fn group_of(a: IpAddr) -> Prefix {
    Prefix::containing(a, if a.is_ipv4() { 27 } else { 120 })
}

/// Countries the hosting networks are in, in turn: those of the targets (so some are hosted
/// at home and some abroad) and a few others.
pub const HOSTING_COUNTRIES: [&str; 8] = ["NL", "US", "DE", "IE", "SE", "FR", "GB", "JP"];

/// A shared network of the private internet: its blocks' outcome is fixed, because every
/// domain that uses it inherits it (were a DNS provider's route invalid, so would be every
/// zone it hosts).
struct Network {
    name: String,
    profile: RouteProfile,
    addresses: Vec<IpAddr>,
}

/// The shared networks: registries (valid), DNS providers and mail providers (alternately
/// valid and not found), the web hosting providers, whose addresses pair up in /31 blocks
/// (valid, not found, valid). A domain's outcome then comes from the combination of its
/// providers and, for own servers, from the draw in [`blocks`]: every outcome occurs for
/// whole domains (all valid, all not found, partial, invalid).
fn shared_networks() -> Vec<Network> {
    use super::webmail::WEB_PROVIDERS;
    use super::world::{DNS_PROVIDERS, ROOT_NS, SLD_NS, TLD_NS};
    let alternate = |k: usize| {
        if k.is_multiple_of(2) {
            RouteProfile::Valid
        } else {
            RouteProfile::NotFound
        }
    };
    let mut out = vec![Network {
        name: "TESTBED-REGISTRY".into(),
        profile: RouteProfile::Valid,
        addresses: ROOT_NS
            .1
            .into_iter()
            .chain(
                TLD_NS
                    .iter()
                    .chain(&SLD_NS)
                    .flat_map(|s| [IpAddr::V4(s.1), IpAddr::V6(s.2)]),
            )
            .collect(),
    }];
    for (k, p) in DNS_PROVIDERS.iter().enumerate() {
        out.push(Network {
            name: format!("TESTBED-DNS-{k}"),
            profile: alternate(k),
            addresses: (0..2)
                .flat_map(|n| {
                    std::iter::once(IpAddr::V4(p.ns_v4(n))).chain(p.ns_v6(n).map(IpAddr::V6))
                })
                .collect(),
        });
    }
    for (k, m) in MAIL_PROVIDERS.iter().enumerate() {
        out.push(Network {
            name: format!("TESTBED-MAIL-{k}"),
            profile: alternate(k),
            addresses: (0..2)
                .flat_map(|n| [IpAddr::V4(m.mx_v4(n)), IpAddr::V6(m.mx_v6(n))])
                .collect(),
        });
    }
    for (k, pair) in WEB_PROVIDERS.chunks(2).enumerate() {
        out.push(Network {
            name: format!("TESTBED-WEB-{k}"),
            profile: alternate(k),
            addresses: pair
                .iter()
                .flat_map(|w| [IpAddr::V4(w.v4), IpAddr::V6(w.v6)])
                .collect(),
        });
    }
    out
}

/// The blocks covering every address of `profiles`, with their outcomes and hosting AS:
/// the shared networks' blocks as [`shared_networks`] fixes them (AS 4200000000 + the
/// network's number), every other block (own web and mail servers) with an outcome drawn
/// from the seed (half valid, 30 % not found, 10 % invalid by origin, 10 % invalid by length)
/// and the AS of its /27 or /120 (AS 4200001000 + the group's number). Countries cycle
/// through [`HOSTING_COUNTRIES`] by network and by group.
pub fn blocks(seed: u64, profiles: &[Profile]) -> Vec<Block> {
    let mut fixed: BTreeMap<(IpAddr, u8), (usize, &Network)> = BTreeMap::new();
    let networks = shared_networks();
    for (n, net) in networks.iter().enumerate() {
        for a in &net.addresses {
            let b = block_of(*a);
            fixed.insert((b.addr(), b.length()), (n, net));
        }
    }
    let mut prefixes: BTreeMap<(IpAddr, u8), Prefix> = BTreeMap::new();
    for i in 0..profiles.len() {
        let a = domain_addresses(profiles, i);
        for ip in a.web.iter().chain(&a.mail).chain(&a.name_servers) {
            let b = block_of(*ip);
            prefixes.insert((b.addr(), b.length()), b);
        }
    }
    let mut groups: BTreeMap<(IpAddr, u8), usize> = BTreeMap::new();
    prefixes
        .iter()
        .enumerate()
        .map(|(k, (key, &prefix))| {
            if let Some(&(n, net)) = fixed.get(key) {
                return Block {
                    prefix,
                    profile: net.profile,
                    asn: 4_200_000_000 + n as u32,
                    as_name: net.name.clone(),
                    country: HOSTING_COUNTRIES[n % HOSTING_COUNTRIES.len()].to_string(),
                };
            }
            let g = group_of(prefix.addr());
            let next = groups.len();
            let group = *groups.entry((g.addr(), g.length())).or_insert(next);
            let profile = match Rng::new(seed ^ 0x5250_4b49, k as u64).below(20) {
                0..=9 => RouteProfile::Valid,
                10..=15 => RouteProfile::NotFound,
                16 | 17 => RouteProfile::InvalidOrigin,
                _ => RouteProfile::InvalidLength,
            };
            Block {
                prefix,
                profile,
                asn: 4_200_001_000 + group as u32,
                as_name: format!("TESTBED-HOST-{group}"),
                country: HOSTING_COUNTRIES[group % HOSTING_COUNTRIES.len()].to_string(),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shared_networks_have_disjoint_blocks() {
        let mut owner: BTreeMap<(IpAddr, u8), String> = BTreeMap::new();
        for net in shared_networks() {
            assert!(!net.addresses.is_empty(), "{}", net.name);
            for a in &net.addresses {
                let b = block_of(*a);
                if let Some(other) = owner.insert((b.addr(), b.length()), net.name.clone()) {
                    assert_eq!(other, net.name, "{b} is in two networks");
                }
            }
        }
    }
}
