//! RFC 6811 route origin validation: the edge cases by hand, then a brute-force oracle.

use proptest::prelude::*;
use uptake_routing::{InvalidReason, Origin, Prefix, Validity, Vrp, VrpTable};

fn p(s: &str) -> Prefix {
    s.parse().unwrap()
}

fn vrp(asn: u32, prefix: &str, max_length: u8) -> Vrp {
    Vrp {
        asn,
        prefix: p(prefix),
        max_length,
    }
}

fn check(vrps: &[Vrp], route: &str, origin: u32) -> Validity {
    VrpTable::new(vrps).validate(&p(route), &Origin::As(origin))
}

const WRONG: Validity = Validity::Invalid(InvalidReason::WrongOrigin);
const LONG: Validity = Validity::Invalid(InvalidReason::TooSpecific);

#[test]
fn exact_match_and_max_length() {
    let v = [vrp(64500, "192.0.2.0/24", 24)];
    assert_eq!(check(&v, "192.0.2.0/24", 64500), Validity::Valid);
    // More specific than maxLength: invalid even for the right origin.
    assert_eq!(check(&v, "192.0.2.0/25", 64500), LONG);
    assert_eq!(check(&v, "192.0.2.128/25", 64501), WRONG);
    // maxLength allows up to /26 exactly.
    let v = [vrp(64500, "192.0.2.0/24", 26)];
    assert_eq!(check(&v, "192.0.2.64/26", 64500), Validity::Valid);
    assert_eq!(check(&v, "192.0.2.64/27", 64500), LONG);
    assert_eq!(check(&v, "192.0.2.0/32", 64500), LONG);
}

#[test]
fn not_found_when_nothing_covers() {
    let v = [
        vrp(64500, "192.0.2.0/24", 32),
        vrp(64500, "2001:db8::/32", 48),
    ];
    // A VRP more specific than the route does not cover it.
    assert_eq!(check(&v, "192.0.0.0/16", 64500), Validity::NotFound);
    // A sibling prefix.
    assert_eq!(check(&v, "192.0.3.0/24", 64500), Validity::NotFound);
    // The other address family.
    assert_eq!(check(&v, "::ffff:192.0.2.0/120", 64500), Validity::NotFound);
    assert_eq!(check(&[], "192.0.2.0/24", 64500), Validity::NotFound);
}

#[test]
fn several_covering_vrps() {
    let v = [
        vrp(64501, "198.51.100.0/24", 24),
        vrp(64500, "198.51.0.0/16", 24),
        vrp(64502, "198.0.0.0/8", 8),
    ];
    // The less specific VRP for the origin matches even though a more specific one exists.
    assert_eq!(check(&v, "198.51.100.0/24", 64500), Validity::Valid);
    assert_eq!(check(&v, "198.51.100.0/24", 64501), Validity::Valid);
    // Covered by three, matched by none: the /8's maxLength is exceeded, the others differ.
    assert_eq!(check(&v, "198.51.100.0/24", 64502), LONG);
    assert_eq!(check(&v, "198.51.100.0/24", 64503), WRONG);
    // Only the /8 and /16 cover a /20.
    assert_eq!(check(&v, "198.51.96.0/20", 64500), Validity::Valid);
    assert_eq!(check(&v, "198.51.96.0/20", 64501), WRONG);
    // Two VRPs on the same prefix.
    let v = [
        vrp(64500, "192.0.2.0/24", 24),
        vrp(64501, "192.0.2.0/24", 24),
    ];
    assert_eq!(check(&v, "192.0.2.0/24", 64501), Validity::Valid);
    assert_eq!(check(&v, "192.0.2.0/24", 64500), Validity::Valid);
}

#[test]
fn as0_never_matches() {
    // An AS0 VRP says "must not be routed": covered, never matched.
    let v = [vrp(0, "192.0.2.0/24", 32)];
    assert_eq!(check(&v, "192.0.2.0/24", 64500), WRONG);
    // A route with origin AS 0 does not match an AS0 VRP either (RFC 7607).
    assert_eq!(check(&v, "192.0.2.0/24", 0), WRONG);
    // AS0 beside a real authorisation: the real one still validates.
    let v = [vrp(0, "192.0.2.0/24", 32), vrp(64500, "192.0.2.0/24", 24)];
    assert_eq!(check(&v, "192.0.2.0/24", 64500), Validity::Valid);
    assert_eq!(check(&v, "192.0.2.0/25", 64500), LONG);
}

#[test]
fn as_set_origin_is_none() {
    let v = [vrp(64500, "192.0.2.0/24", 24)];
    let t = VrpTable::new(&v);
    let set = Origin::Set(vec![64500, 64501].into_boxed_slice());
    assert_eq!(
        t.validate(&p("192.0.2.0/24"), &set),
        Validity::Invalid(InvalidReason::AsSet)
    );
    assert_eq!(t.validate(&p("203.0.113.0/24"), &set), Validity::NotFound);
}

#[test]
fn ipv6_and_default_routes() {
    let v = [vrp(64500, "2001:db8::/32", 48), vrp(64501, "::/0", 0)];
    assert_eq!(check(&v, "2001:db8:1::/48", 64500), Validity::Valid);
    assert_eq!(check(&v, "2001:db8:1::/49", 64500), LONG);
    // ::/0 covers every IPv6 route; its maxLength 0 admits only ::/0 itself.
    assert_eq!(check(&v, "2001:db9::/32", 64501), LONG);
    assert_eq!(check(&v, "::/0", 64501), Validity::Valid);
    assert_eq!(check(&v, "192.0.2.0/24", 64501), Validity::NotFound);
}

/// RFC 6811 section 2 written out literally over the VRP list.
fn oracle(vrps: &[Vrp], route: &Prefix, origin: u32) -> &'static str {
    let covering: Vec<&Vrp> = vrps.iter().filter(|v| v.prefix.covers(route)).collect();
    if covering.is_empty() {
        "not_found"
    } else if covering
        .iter()
        .any(|v| v.asn != 0 && v.asn == origin && route.length() <= v.max_length)
    {
        "valid"
    } else {
        "invalid"
    }
}

fn prefix4(a: u32, len: u8) -> Prefix {
    Prefix::containing(std::net::Ipv4Addr::from(a).into(), len)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]
    #[test]
    fn matches_the_literal_rfc(
        // Addresses under 10.0.0.0/12 with short-ish lengths so VRPs nest and cover often.
        raw in prop::collection::vec((any::<u32>(), 8u8..=24, 0u8..=8, 0u32..4), 0..40),
        routes in prop::collection::vec((any::<u32>(), 8u8..=28, 0u32..4), 100),
    ) {
        let base = |a: u32| 0x0a00_0000 | (a >> 12);
        let vrps: Vec<Vrp> = raw
            .iter()
            .map(|&(a, len, extra, asn)| {
                let prefix = prefix4(base(a), len);
                Vrp { asn, prefix, max_length: (len + extra).min(32) }
            })
            .collect();
        let table = VrpTable::new(&vrps);
        for (a, len, origin) in routes {
            let route = prefix4(base(a), len);
            let got = table.validate(&route, &Origin::As(origin)).as_str();
            prop_assert_eq!(got, oracle(&vrps, &route, origin), "route {} AS{}", route, origin);
        }
    }
}
