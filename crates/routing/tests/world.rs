//! The synthetic world's files, loaded through `RoutingTables`, give exactly the truth the
//! world derived from its profiles: per address and per domain (status and hosting).

use std::net::IpAddr;

use uptake_model::row::ScanRow;
use uptake_model::{Check, Status};
use uptake_routing::synthetic::{self, RouteProfile, WorldError};
use uptake_routing::{
    DomainAddresses, HostingSource, LookupFailures, Prefix, RoutingTables, Validity,
};

fn blocks() -> Vec<Prefix> {
    let mut v: Vec<Prefix> = Vec::new();
    for i in 0..16u32 {
        v.push(format!("192.0.2.{}/28", i * 16).parse().unwrap());
    }
    for i in 0..40u32 {
        v.push(format!("198.18.{i}.0/24").parse().unwrap());
    }
    for i in 0..12u32 {
        v.push(format!("2001:db8:{i:x}::/48").parse().unwrap());
    }
    v
}

/// A small deterministic generator (SplitMix64).
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// A random address in one of the blocks, or now and then outside all of them.
fn address(rng: &mut Rng, prefixes: &[Prefix]) -> IpAddr {
    if rng.below(15) == 0 {
        return "203.0.113.9".parse().unwrap();
    }
    let p = prefixes[rng.below(prefixes.len())];
    match p.addr() {
        IpAddr::V4(a) => {
            let host = (rng.next() as u32) & (u32::MAX >> p.length());
            IpAddr::V4((u32::from(a) | host).into())
        }
        IpAddr::V6(a) => {
            let host =
                (u128::from(rng.next()) << 64 | u128::from(rng.next())) & (u128::MAX >> p.length());
            IpAddr::V6((u128::from(a) | host).into())
        }
    }
}

#[test]
fn tables_agree_with_the_truth() {
    let dir = tempfile::tempdir().unwrap();
    let prefixes = blocks();
    let plan = synthetic::assign(&prefixes);
    let world = synthetic::world(&plan, dir.path()).unwrap();
    let tables = RoutingTables::load(
        &world.vrps,
        &world.prefix2as,
        &HostingSource::Iptoasn(world.ip2asn.clone()),
    )
    .unwrap();

    let mut rng = Rng(7);
    let mut seen = std::collections::HashMap::new();
    for _ in 0..3000 {
        let mut pick = |max: usize| -> Vec<IpAddr> {
            (0..rng.below(max + 1))
                .map(|_| address(&mut rng, &prefixes))
                .collect()
        };
        let (web, mail, ns) = (pick(2), pick(2), pick(3));
        let a = DomainAddresses {
            web: &web,
            mail: &mail,
            name_servers: &ns,
        };
        let got = tables.assess(&a);
        let (status, hosting) = world.domain(&a);
        assert_eq!(got.finding.status, status, "{a:?}: {:?}", got);
        assert_eq!(got.hosting, hosting, "{a:?}");
        *seen.entry(status).or_insert(0) += 1;
        for addr in web.iter().chain(&mail).chain(&ns) {
            let v = tables.validate(*addr);
            match world.address(*addr) {
                None => assert!(v.route.is_none()),
                Some(t) => {
                    let route = v.route.unwrap();
                    assert_eq!(route.prefix, t.route, "{addr}");
                    assert_eq!(route.origins.len(), 1);
                    assert_eq!(route.origins[0].to_string(), format!("AS{}", t.origin));
                    assert_eq!(v.states, vec![t.validity], "{addr}");
                }
            }
        }
    }
    // Every domain status occurred.
    for s in [
        Status::Valid,
        Status::Invalid,
        Status::Partial,
        Status::NotFound,
        Status::NotApplicable,
        Status::Error,
    ] {
        assert!(seen.get(&s).copied().unwrap_or(0) > 10, "{s}: {seen:?}");
    }
}

#[test]
fn detail_reason_and_row() {
    let dir = tempfile::tempdir().unwrap();
    let prefixes: Vec<Prefix> = [
        "192.0.2.0/26",
        "192.0.2.64/26",
        "192.0.2.128/26",
        "192.0.2.192/26",
    ]
    .iter()
    .map(|p| p.parse().unwrap())
    .collect();
    let plan = synthetic::assign(&prefixes);
    assert_eq!(
        plan.iter().map(|b| b.profile).collect::<Vec<_>>(),
        [
            RouteProfile::Valid,
            RouteProfile::InvalidOrigin,
            RouteProfile::InvalidLength,
            RouteProfile::NotFound
        ]
    );
    let world = synthetic::world(&plan, dir.path()).unwrap();
    let t = RoutingTables::load(
        &world.vrps,
        &world.prefix2as,
        &HostingSource::Iptoasn(world.ip2asn.clone()),
    )
    .unwrap();
    let ips = |s: &[&str]| -> Vec<IpAddr> { s.iter().map(|a| a.parse().unwrap()).collect() };
    let (web, mail, ns) = (
        ips(&["192.0.2.1"]),
        ips(&["192.0.2.200", "192.0.2.1"]),
        ips(&["10.0.0.1"]),
    );
    let got = t.assess(&DomainAddresses {
        web: &web,
        mail: &mail,
        name_servers: &ns,
    });
    assert_eq!(got.finding.status, Status::Partial);
    assert_eq!(got.finding.reason.as_deref(), Some("no route for 10.0.0.1"));
    assert_eq!(
        got.addresses,
        [
            "192.0.2.1 192.0.2.0/26 AS4200000000 valid",
            "192.0.2.200 192.0.2.192/26 AS4200000003 not_found",
            "10.0.0.1 no_route",
        ]
    );
    let mut row = ScanRow::failed("a.nl".into(), "a.nl".into(), "s".into(), 0, "x");
    got.write_to(&mut row);
    assert_eq!(
        row.finding(Check::Rpki).map(|f| f.status),
        Some(Status::Partial)
    );
    assert_eq!(row.routing.hosting_asn, Some(4_200_000_000));
    assert_eq!(
        row.routing.hosting_as_name.as_deref(),
        Some("TESTBED-NET-0")
    );
    assert_eq!(row.routing.hosting_country.as_deref(), Some("NL"));
    assert_eq!(row.routing.rpki_addresses.len(), 3);

    let invalid = t.assess(&DomainAddresses {
        web: &ips(&["192.0.2.70", "192.0.2.130"]),
        ..Default::default()
    });
    assert_eq!(invalid.finding.status, Status::Invalid);
    assert_eq!(
        invalid.finding.reason.as_deref(),
        Some("192.0.2.70 192.0.2.64/26 AS4200000001: origin AS not authorised by any covering VRP; 192.0.2.130 192.0.2.128/27 AS4200000002: more specific than the VRP's maxLength")
    );
    assert_eq!(
        invalid.hosting.and_then(|h| h.country).as_deref(),
        Some("DE")
    );
    let none = t.assess(&DomainAddresses::default());
    assert_eq!(
        (none.finding.status, none.hosting),
        (Status::NotApplicable, None)
    );
    let unrouted = t.assess(&DomainAddresses {
        name_servers: &ips(&["10.0.0.1"]),
        ..Default::default()
    });
    assert_eq!(unrouted.finding.status, Status::Error);
    assert_eq!(
        t.validate("192.0.2.130".parse().unwrap()).states,
        [Validity::Invalid(
            uptake_routing::InvalidReason::TooSpecific
        )]
    );
}

/// Failed address lookups: an invalid address still decides the domain; otherwise `error`
/// naming the lookups; hosting only when its address is certain.
#[test]
fn failed_lookups_give_error_unless_invalid() {
    let dir = tempfile::tempdir().unwrap();
    let prefixes: Vec<Prefix> = ["192.0.2.0/26", "192.0.2.64/26"]
        .iter()
        .map(|p| p.parse().unwrap())
        .collect();
    let world = synthetic::world(&synthetic::assign(&prefixes), dir.path()).unwrap();
    let t = RoutingTables::load(
        &world.vrps,
        &world.prefix2as,
        &HostingSource::Iptoasn(world.ip2asn.clone()),
    )
    .unwrap();
    let ips = |s: &[&str]| -> Vec<IpAddr> { s.iter().map(|a| a.parse().unwrap()).collect() };
    let (valid, invalid) = (ips(&["192.0.2.1"]), ips(&["192.0.2.70"]));
    let ns_failed = LookupFailures {
        name_servers: vec!["NS of a.nl: timeout".into()],
        ..Default::default()
    };
    let a = DomainAddresses {
        web: &valid,
        ..Default::default()
    };
    assert_eq!(
        t.assess_resolved(&a, &LookupFailures::default()),
        t.assess(&a)
    );
    let got = t.assess_resolved(&a, &ns_failed);
    assert_eq!(got.finding.status, Status::Error);
    assert_eq!(
        got.finding.reason.as_deref(),
        Some("address lookup failed: NS of a.nl: timeout")
    );
    assert_eq!(got.addresses, ["192.0.2.1 192.0.2.0/26 AS4200000000 valid"]);
    assert_eq!(got.hosting.and_then(|h| h.asn), Some(4_200_000_000));
    let bad = DomainAddresses {
        web: &valid,
        mail: &invalid,
        ..Default::default()
    };
    let got = t.assess_resolved(&bad, &ns_failed);
    assert_eq!(got.finding.status, Status::Invalid);
    assert!(
        got.finding
            .reason
            .as_deref()
            .unwrap()
            .ends_with("; address lookup failed: NS of a.nl: timeout"),
        "{:?}",
        got.finding
    );
    let web_failed = LookupFailures {
        web: vec!["A of www.a.nl: SERVFAIL".into()],
        ..Default::default()
    };
    assert_eq!(t.assess_resolved(&bad, &web_failed).hosting, None);
    let mail_only = DomainAddresses {
        mail: &invalid,
        ..Default::default()
    };
    let mail_failed = LookupFailures {
        mail: vec!["AAAA of mx.a.nl: timeout".into()],
        ..Default::default()
    };
    assert_eq!(t.assess_resolved(&mail_only, &mail_failed).hosting, None);
    assert!(t.assess_resolved(&mail_only, &ns_failed).hosting.is_some());
}

#[test]
fn world_rejects_inconsistent_blocks() {
    let dir = tempfile::tempdir().unwrap();
    let p = |s: &str| -> Prefix { s.parse().unwrap() };
    let plan = synthetic::assign(&[p("192.0.2.0/24"), p("192.0.2.128/25")]);
    assert!(matches!(
        synthetic::world(&plan, dir.path()),
        Err(WorldError::Overlap(..))
    ));
    let plan = synthetic::assign(&[p("192.0.2.1/32"), p("192.0.2.2/32"), p("192.0.2.3/32")]);
    assert!(matches!(
        synthetic::world(&plan, dir.path()),
        Err(WorldError::TooLong(_))
    ));
}
