//! The special-purpose address guard (RFC 6890 and the IANA special-purpose registries).

use std::collections::HashSet;
use std::net::IpAddr;

use ipnet::IpNet;

/// Special-purpose ranges the scanner does not connect to unless allowed: (prefix, name).
///
/// From the IANA IPv4 and IPv6 Special-Purpose Address Registries (RFC 6890 and its
/// updates), restricted to ranges that are not globally reachable, plus multicast and the
/// reserved 240/4. A DNS answer pointing into one of them is either a mistake or an attempt to
/// turn the scanner against the network it runs in.
pub const SPECIAL_PURPOSE: &[(&str, &str)] = &[
    ("0.0.0.0/8", "this network (RFC 791)"),
    ("10.0.0.0/8", "private use (RFC 1918)"),
    ("100.64.0.0/10", "shared address space (RFC 6598)"),
    ("127.0.0.0/8", "loopback (RFC 1122)"),
    ("169.254.0.0/16", "link-local (RFC 3927)"),
    ("172.16.0.0/12", "private use (RFC 1918)"),
    ("192.0.0.0/24", "IETF protocol assignments (RFC 6890)"),
    ("192.0.2.0/24", "documentation TEST-NET-1 (RFC 5737)"),
    ("192.88.99.0/24", "6to4 relay anycast (RFC 7526)"),
    ("192.168.0.0/16", "private use (RFC 1918)"),
    ("198.18.0.0/15", "benchmarking (RFC 2544)"),
    ("198.51.100.0/24", "documentation TEST-NET-2 (RFC 5737)"),
    ("203.0.113.0/24", "documentation TEST-NET-3 (RFC 5737)"),
    ("224.0.0.0/4", "multicast (RFC 5771)"),
    ("240.0.0.0/4", "reserved (RFC 1112)"),
    ("255.255.255.255/32", "limited broadcast (RFC 919)"),
    ("::/128", "unspecified address (RFC 4291)"),
    ("::1/128", "loopback (RFC 4291)"),
    ("::ffff:0:0/96", "IPv4-mapped (RFC 4291)"),
    (
        "64:ff9b:1::/48",
        "local-use IPv4/IPv6 translation (RFC 8215)",
    ),
    ("100::/64", "discard-only (RFC 6666)"),
    ("2001::/32", "Teredo (RFC 4380)"),
    ("2001:2::/48", "benchmarking (RFC 5180)"),
    ("2001:10::/28", "ORCHID, deprecated (RFC 4843)"),
    ("2001:db8::/32", "documentation (RFC 3849)"),
    ("2002::/16", "6to4 (RFC 3056)"),
    ("3fff::/20", "documentation (RFC 9637)"),
    ("5f00::/16", "segment routing SIDs (RFC 9602)"),
    ("fc00::/7", "unique local (RFC 4193)"),
    ("fe80::/10", "link-local unicast (RFC 4291)"),
    ("ff00::/8", "multicast (RFC 4291)"),
];

/// Why an address may not be contacted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// The address is in a special-purpose range and not allowed explicitly.
    #[error("{address} is a special-purpose address ({range}, {name}); not contacted (--allow-addresses lifts this)")]
    Special {
        /// The address.
        address: IpAddr,
        /// The range it is in.
        range: IpNet,
        /// What the range is for.
        name: &'static str,
    },
    /// The scanning host has no route to the IPv6 Internet, so an IPv6 address can be
    /// neither reached nor judged unreachable.
    #[error("{address}: this scanner has no IPv6 route ({reason}); IPv6 not measured")]
    NoIpv6Route {
        /// The address.
        address: IpAddr,
        /// What the route self-test said.
        reason: String,
    },
    /// The address is in a prefix of the opt-out list.
    #[error("{address} is opted out ({prefix} in the opt-out list); not contacted")]
    OptedOut {
        /// The address.
        address: IpAddr,
        /// The opt-out prefix it is in.
        prefix: IpNet,
    },
}

/// Decides which addresses a scan may connect to.
///
/// Order: an opted-out prefix always refuses; an explicitly allowed address (a configured
/// resolver, or inside `--allow-addresses`) passes; a special-purpose address refuses;
/// everything else passes.
#[derive(Debug, Clone)]
pub struct AddressGuard {
    special: Vec<(IpNet, &'static str)>,
    allowed: Vec<IpNet>,
    always: HashSet<IpAddr>,
    opted_out: Vec<IpNet>,
    no_ipv6_route: Option<String>,
}

impl Default for AddressGuard {
    fn default() -> Self {
        AddressGuard::new(&[], &[])
    }
}

impl AddressGuard {
    /// A guard with the special-purpose table, the `allowed` prefixes lifted, and `always`
    /// (the resolvers given explicitly) allowed whatever range they are in.
    pub fn new(allowed: &[IpNet], always: &[IpAddr]) -> AddressGuard {
        let special = SPECIAL_PURPOSE
            .iter()
            .filter_map(|(p, n)| p.parse::<IpNet>().ok().map(|p| (p, *n)))
            .collect();
        AddressGuard {
            special,
            allowed: allowed.to_vec(),
            always: always.iter().copied().collect(),
            opted_out: vec![],
            no_ipv6_route: None,
        }
    }

    /// Refuses every IPv6 address (but explicitly given resolvers) from now on: the scanning
    /// host has no IPv6 route, for `reason` (see [`ipv6_route`]).
    pub fn without_ipv6(&mut self, reason: String) {
        self.no_ipv6_route = Some(reason);
    }

    /// Adds opted-out prefixes (they win over everything).
    pub fn add_opted_out(&mut self, prefixes: impl IntoIterator<Item = IpNet>) {
        self.opted_out.extend(prefixes);
    }

    /// Whether the scan may connect to `address`.
    pub fn check(&self, address: IpAddr) -> Result<(), Refusal> {
        let address = canonical(address);
        if let Some(prefix) = self.opted_out.iter().find(|p| p.contains(&address)) {
            return Err(Refusal::OptedOut {
                address,
                prefix: *prefix,
            });
        }
        if self.always.contains(&address) {
            return Ok(());
        }
        if let (IpAddr::V6(_), Some(reason)) = (address, &self.no_ipv6_route) {
            return Err(Refusal::NoIpv6Route {
                address,
                reason: reason.clone(),
            });
        }
        if self.allowed.iter().any(|p| p.contains(&address)) {
            return Ok(());
        }
        match self.special.iter().find(|(p, _)| p.contains(&address)) {
            Some((range, name)) => Err(Refusal::Special {
                address,
                range: *range,
                name,
            }),
            None => Ok(()),
        }
    }
}

/// Whether this host has a route to `probe` (an address on the IPv6 Internet): a UDP socket is
/// connected to it, which looks the route up and sends nothing. A scanner without IPv6
/// connectivity must not report every IPv6 address as unreachable.
pub fn ipv6_route(probe: std::net::SocketAddr) -> Result<(), String> {
    let socket = std::net::UdpSocket::bind("[::]:0").map_err(|e| format!("no IPv6 socket: {e}"))?;
    socket
        .connect(probe)
        .map_err(|e| format!("no route to {probe}: {e}"))
}

/// An IPv4-mapped IPv6 address is judged as the IPv4 address it carries.
fn canonical(address: IpAddr) -> IpAddr {
    match address {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4),
        v4 => v4,
    }
}

/// Parses `CIDR[,CIDR...]`; a bare address is a /32 or /128.
pub fn parse_prefixes(text: &str) -> Result<Vec<IpNet>, String> {
    text.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(parse_prefix)
        .collect()
}

pub(crate) fn parse_prefix(s: &str) -> Result<IpNet, String> {
    if let Ok(net) = s.parse::<IpNet>() {
        return Ok(net.trunc());
    }
    s.parse::<IpAddr>()
        .map(IpNet::from)
        .map_err(|_| format!("'{s}' is not an address or CIDR prefix"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn without_an_ipv6_route_every_ipv6_address_is_refused_but_the_resolvers() {
        let mut g = AddressGuard::new(&["2001:db8::/32".parse().unwrap()], &[ip("2001:db8::53")]);
        g.without_ipv6("no route to [2001:500:2f::f]:53".into());
        let err = g.check(ip("2001:db8::1")).unwrap_err();
        assert!(matches!(err, Refusal::NoIpv6Route { .. }), "{err:?}");
        assert!(err.to_string().contains("no IPv6 route"), "{err}");
        assert!(g.check(ip("2a00:1450::1")).is_err());
        assert!(g.check(ip("2001:db8::53")).is_ok());
        assert!(g.check(ip("8.8.8.8")).is_ok());
        // An IPv4-mapped address travels over IPv4.
        assert!(g.check(ip("::ffff:8.8.8.8")).is_ok());
    }

    #[test]
    fn special_ranges_are_refused_by_default() {
        let g = AddressGuard::default();
        for a in [
            "127.0.0.1",
            "10.1.2.3",
            "172.31.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "192.0.2.10",
            "198.19.255.1",
            "::1",
            "fe80::1",
            "fd00::1",
            "2001:db8::53",
            "::ffff:127.0.0.1",
            "224.0.0.1",
            "0.0.0.0",
        ] {
            assert!(g.check(ip(a)).is_err(), "{a} passed");
        }
        for a in ["9.9.9.9", "2620:fe::fe", "193.0.14.129", "172.32.0.1"] {
            assert_eq!(g.check(ip(a)), Ok(()), "{a} refused");
        }
        let Err(Refusal::Special { name, .. }) = g.check(ip("198.18.0.1")) else {
            panic!("benchmarking address passed");
        };
        assert!(name.contains("benchmarking"));
    }

    #[test]
    fn allowed_prefixes_and_resolvers_pass_but_opt_outs_win() {
        let allowed = parse_prefixes("192.0.2.0/24, 2001:db8::/32").unwrap();
        let mut g = AddressGuard::new(&allowed, &[ip("127.0.0.53")]);
        assert_eq!(g.check(ip("192.0.2.77")), Ok(()));
        assert_eq!(g.check(ip("2001:db8::1")), Ok(()));
        assert_eq!(g.check(ip("127.0.0.53")), Ok(()));
        assert!(g.check(ip("127.0.0.1")).is_err());
        assert!(g.check(ip("198.18.0.1")).is_err());
        g.add_opted_out(parse_prefixes("192.0.2.128/25,9.9.9.9").unwrap());
        assert!(matches!(
            g.check(ip("192.0.2.200")),
            Err(Refusal::OptedOut { .. })
        ));
        assert!(matches!(
            g.check(ip("9.9.9.9")),
            Err(Refusal::OptedOut { .. })
        ));
        assert_eq!(g.check(ip("192.0.2.1")), Ok(()));
    }

    #[test]
    fn prefixes_parse_or_say_why_not() {
        assert_eq!(
            parse_prefixes("10.0.0.1/8").unwrap(),
            vec!["10.0.0.0/8".parse::<IpNet>().unwrap()]
        );
        assert!(parse_prefixes("10.0.0.0/33").is_err());
        assert!(parse_prefixes("example.nl")
            .unwrap_err()
            .contains("example.nl"));
    }
}
