//! Load time and lookup rate of the routing tables at full size:
//! `cargo bench -p uptake-routing --bench routing [-- PREFIXES VRPS]` (or `benches/routing.sh`).
//!
//! Writes a synthetic routing table (default 1,000,000 prefixes, 80% IPv4 and 20% IPv6, as a
//! CAIDA prefix2as file), 500,000 VRPs (CSV and JSON) and an iptoasn TSV of 500,000 ranges into
//! a temporary directory, then reports the time to load them and single-thread lookups/s.

use std::collections::HashSet;
use std::fmt::Write as _;
use std::hint::black_box;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::Path;
use std::time::Instant;

use uptake_routing::{DomainAddresses, HostingSource, RoutingTables, VrpTable};

/// SplitMix64: deterministic and dependency-free.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn mask4(a: u32, len: u8) -> u32 {
    a & !(u32::MAX.checked_shr(u32::from(len)).unwrap_or(0))
}

fn mask6(a: u128, len: u8) -> u128 {
    a & !(u128::MAX.checked_shr(u32::from(len)).unwrap_or(0))
}

struct Synthetic {
    v4: Vec<(u32, u8)>,
    v6: Vec<(u128, u8)>,
}

/// A table shaped like the real one: IPv4 mostly /24 with /16-/23 aggregates under which some
/// /24s nest; IPv6 /32-/48 in 2000::/3.
fn routes(n: usize, rng: &mut Rng) -> Synthetic {
    let n4 = n * 4 / 5;
    let mut s4 = HashSet::with_capacity(n4);
    while s4.len() < n4 {
        let a = (1 + rng.below(222) as u32) << 24 | (rng.next() as u32 & 0x00ff_ffff);
        let len = if rng.below(10) == 0 {
            16 + rng.below(8) as u8
        } else {
            24
        };
        s4.insert((mask4(a, len), len));
    }
    let mut s6 = HashSet::with_capacity(n - n4);
    while s6.len() < n - n4 {
        let a = (0x2000u128 << 112) | (u128::from(rng.next()) << 48 & !(0xe000u128 << 112));
        let len = [32u8, 36, 40, 44, 48, 48, 48][rng.below(7) as usize];
        s6.insert((mask6(a, len), len));
    }
    let mut v4: Vec<_> = s4.into_iter().collect();
    let mut v6: Vec<_> = s6.into_iter().collect();
    v4.sort_unstable();
    v6.sort_unstable();
    Synthetic { v4, v6 }
}

fn write_files(dir: &Path, t: &Synthetic, vrps: usize, rng: &mut Rng) {
    let asn = |rng: &mut Rng| 1 + rng.below(400_000) as u32;
    let mut p2a = String::with_capacity(t.v4.len() * 24 + t.v6.len() * 40);
    let mut csv = String::from("ASN,IP Prefix,Max Length,Trust Anchor\n");
    let mut json = String::from("{\"roas\":[\n");
    let mut written = 0usize;
    let total = t.v4.len() + t.v6.len();
    let mut row = |p2a: &mut String, addr: IpAddr, len: u8, bits: u8, rng: &mut Rng| {
        let origin = asn(rng);
        let _ = writeln!(p2a, "{addr}\t{len}\t{origin}");
        // About half the routes have a VRP: the origin's (mostly) or another AS's.
        if written < vrps && rng.below(total as u64) < (vrps as u64) {
            let vrp_as = if rng.below(10) == 0 { asn(rng) } else { origin };
            let max = (len + rng.below(3) as u8).min(bits);
            let _ = writeln!(csv, "AS{vrp_as},{addr}/{len},{max},synthetic");
            let sep = if written == 0 { "" } else { ",\n" };
            let _ = write!(
                json,
                "{sep}{{\"asn\":\"AS{vrp_as}\",\"prefix\":\"{addr}/{len}\",\"maxLength\":{max},\"ta\":\"synthetic\"}}"
            );
            written += 1;
        }
    };
    for &(a, len) in &t.v4 {
        row(&mut p2a, IpAddr::V4(Ipv4Addr::from(a)), len, 32, rng);
    }
    for &(a, len) in &t.v6 {
        row(&mut p2a, IpAddr::V6(Ipv6Addr::from(a)), len, 128, rng);
    }
    json.push_str("\n]}\n");
    std::fs::write(dir.join("prefix2as.txt"), p2a).unwrap();
    std::fs::write(dir.join("vrps.csv"), csv).unwrap();
    std::fs::write(dir.join("vrps.json"), json).unwrap();
    // iptoasn: sorted disjoint ranges over the IPv4 space, 500,000 of them.
    let mut tsv = String::new();
    let n = 500_000u64;
    let step = (0xdfff_ffffu64 - 0x0100_0000) / n;
    for i in 0..n {
        let start = 0x0100_0000 + i * step;
        let end = start + step - 1 - rng.below(step / 2);
        let cc = ["NL", "DE", "US", "BR", "JP", "None"][rng.below(6) as usize];
        let _ = writeln!(
            tsv,
            "{}\t{}\t{}\t{cc}\tSYNTHETIC-AS{}",
            Ipv4Addr::from(start as u32),
            Ipv4Addr::from(end as u32),
            asn(rng),
            i % 70_000
        );
    }
    std::fs::write(dir.join("ip2asn.tsv"), tsv).unwrap();
    println!("  wrote {written} VRPs, {total} prefixes, {n} iptoasn ranges");
}

/// Addresses to look up: 80% inside announced prefixes, 20% anywhere.
fn probes(t: &Synthetic, n: usize, rng: &mut Rng) -> Vec<IpAddr> {
    (0..n)
        .map(|i| {
            if i % 5 == 4 {
                return if i % 2 == 0 {
                    IpAddr::V4(Ipv4Addr::from(rng.next() as u32))
                } else {
                    IpAddr::V6(Ipv6Addr::from(u128::from(rng.next()) << 64 | 1))
                };
            }
            if rng.below(5) == 0 {
                let (a, len) = t.v6[rng.below(t.v6.len() as u64) as usize];
                let host =
                    (u128::from(rng.next()) << 64 | u128::from(rng.next())) & (u128::MAX >> len);
                IpAddr::V6(Ipv6Addr::from(a | host))
            } else {
                let (a, len) = t.v4[rng.below(t.v4.len() as u64) as usize];
                IpAddr::V4(Ipv4Addr::from(a | (rng.next() as u32 & (u32::MAX >> len))))
            }
        })
        .collect()
}

fn rate(label: &str, n: usize, f: impl FnOnce() -> usize) {
    let t = Instant::now();
    let hits = f();
    let s = t.elapsed().as_secs_f64();
    println!(
        "  {label:<34} {:>6.2} M/s  ({n} in {:.3} s, {hits} found)",
        n as f64 / s / 1e6,
        s
    );
}

fn main() {
    // `cargo bench` passes `--bench`; the first two numeric arguments override the sizes.
    let nums: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.replace('_', "").parse().ok())
        .collect();
    let n_prefixes = nums.first().copied().unwrap_or(1_000_000);
    let n_vrps = nums.get(1).copied().unwrap_or(500_000);
    let dir = tempfile::tempdir().unwrap();
    let mut rng = Rng(2026);
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let load = load.split_whitespace().next().unwrap_or("?");
    println!(
        "routing tables: {n_prefixes} prefixes, {n_vrps} VRPs (load average {load} when started)"
    );
    let t = Instant::now();
    let table = routes(n_prefixes, &mut rng);
    write_files(dir.path(), &table, n_vrps, &mut rng);
    println!("  generated in {:.2} s", t.elapsed().as_secs_f64());

    let t = Instant::now();
    let tables = RoutingTables::load(
        &dir.path().join("vrps.csv"),
        &dir.path().join("prefix2as.txt"),
        &HostingSource::Iptoasn(dir.path().join("ip2asn.tsv")),
    )
    .unwrap();
    println!(
        "  load (VRP CSV + prefix2as + iptoasn): {:.2} s  ({} VRPs, {} prefixes, {} ranges in the LPM)",
        t.elapsed().as_secs_f64(),
        tables.vrps.len(),
        tables.routes.len(),
        tables.routes.ranges()
    );
    let t = Instant::now();
    let json = VrpTable::load(&dir.path().join("vrps.json")).unwrap();
    println!(
        "  load VRP JSON alone: {:.2} s  ({} VRPs)",
        t.elapsed().as_secs_f64(),
        json.len()
    );

    let n = 2_000_000;
    let addrs = probes(&table, n, &mut rng);
    rate("prefix-to-origin longest match", n, || {
        addrs
            .iter()
            .filter(|a| black_box(tables.routes.lookup(**a)).is_some())
            .count()
    });
    rate("route + RFC 6811 validation", n, || {
        addrs
            .iter()
            .filter(|a| {
                let v = black_box(tables.validate(**a));
                v.states.contains(&uptake_routing::Validity::Valid)
            })
            .count()
    });
    rate("hosting (iptoasn)", n, || {
        addrs
            .iter()
            .filter(|a| black_box(tables.hosting.lookup(**a)).is_some())
            .count()
    });
    let domains = n / 4;
    rate("assess a domain (4 addresses)", domains, || {
        addrs
            .chunks_exact(4)
            .filter(|c| {
                let a = DomainAddresses {
                    web: &c[..1],
                    mail: &c[1..2],
                    name_servers: &c[2..],
                };
                black_box(tables.assess(&a)).hosting.is_some()
            })
            .count()
    });
    if let Ok(status) = std::fs::read_to_string("/proc/self/status") {
        if let Some(l) = status.lines().find(|l| l.starts_with("VmHWM")) {
            let kb = l.split_whitespace().nth(1).unwrap_or("?");
            println!("  peak RSS (generation included): {kb} kB");
        }
    }
}
