//! The fixed part of the private internet: root, TLD and registry servers, DNS hosting
//! providers, mail providers. Every address is from 192.0.2.0/24, 198.18.0.0/15 or
//! 2001:db8::/32, so nothing here can ever mean a real host.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// A top-level or registry-level zone that target domains are registered under.
#[derive(Debug, Clone, Copy)]
pub struct Suffix {
    /// The zone name without trailing dot, e.g. `co.uk`.
    pub name: &'static str,
    /// ISO 3166 alpha-2 country of the ccTLD, or None for generic TLDs.
    pub country: Option<&'static str>,
    /// True when the zone is served by the second-level registry servers (below `uk`).
    pub second_level: bool,
}

/// Suffixes under which targets are registered.
pub const SUFFIXES: &[Suffix] = &[
    Suffix {
        name: "nl",
        country: Some("NL"),
        second_level: false,
    },
    Suffix {
        name: "se",
        country: Some("SE"),
        second_level: false,
    },
    Suffix {
        name: "de",
        country: Some("DE"),
        second_level: false,
    },
    Suffix {
        name: "br",
        country: Some("BR"),
        second_level: false,
    },
    Suffix {
        name: "co.uk",
        country: Some("GB"),
        second_level: true,
    },
    Suffix {
        name: "gov.uk",
        country: Some("GB"),
        second_level: true,
    },
    Suffix {
        name: "gov",
        country: Some("US"),
        second_level: false,
    },
    Suffix {
        name: "com",
        country: None,
        second_level: false,
    },
    Suffix {
        name: "org",
        country: None,
        second_level: false,
    },
];

/// Countries of targets under generic TLDs, and the adoption factor of each country.
pub const COUNTRIES: &[(&str, f64)] = &[
    ("NL", 1.35),
    ("SE", 1.2),
    ("DE", 1.0),
    ("BR", 0.6),
    ("GB", 1.05),
    ("US", 0.9),
];

/// TLDs the TLD servers host (all signed); `uk` delegates `co.uk` and `gov.uk`.
pub const TLDS: &[&str] = &["com", "net", "org", "gov", "nl", "se", "de", "br", "uk"];

/// The second-level registry zones.
pub const SECOND_LEVEL: &[&str] = &["co.uk", "gov.uk"];

/// Root server.
pub const ROOT_NS: (&str, [IpAddr; 2]) = (
    "a.root-servers.net",
    [
        IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1)),
        IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1)),
    ],
);

/// TLD servers: (name, IPv4, IPv6).
pub const TLD_NS: [(&str, Ipv4Addr, Ipv6Addr); 2] = [
    (
        "ns1.tld-servers.net",
        Ipv4Addr::new(192, 0, 2, 2),
        Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 2),
    ),
    (
        "ns2.tld-servers.net",
        Ipv4Addr::new(192, 0, 2, 3),
        Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 3),
    ),
];

/// Second-level registry servers.
pub const SLD_NS: [(&str, Ipv4Addr, Ipv6Addr); 2] = [
    (
        "ns1.sld-servers.net",
        Ipv4Addr::new(192, 0, 2, 4),
        Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 4),
    ),
    (
        "ns2.sld-servers.net",
        Ipv4Addr::new(192, 0, 2, 5),
        Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 5),
    ),
];

/// The validating resolver's addresses.
pub const RESOLVER: [IpAddr; 2] = [
    IpAddr::V4(Ipv4Addr::new(192, 0, 2, 53)),
    IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 0x53)),
];

/// How a name server of a DNS provider is reachable over IPv6.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum V6 {
    /// AAAA published and the server listens there.
    Answers,
    /// No AAAA record.
    NoAaaa,
    /// AAAA published but nothing is at that address.
    Dead,
}

/// A DNS hosting provider: two name servers with an IPv6 arrangement.
#[derive(Debug, Clone, Copy)]
pub struct DnsProvider {
    /// Index, used in names and addresses.
    pub index: u8,
    /// IPv6 arrangement of ns1 and ns2.
    pub v6: [V6; 2],
}

/// The DNS hosting providers. Their IPv6 arrangement gives the `ns_ipv6` truth of every zone
/// they host.
pub const DNS_PROVIDERS: [DnsProvider; 6] = [
    DnsProvider {
        index: 0,
        v6: [V6::Answers, V6::Answers],
    },
    DnsProvider {
        index: 1,
        v6: [V6::Answers, V6::Answers],
    },
    DnsProvider {
        index: 2,
        v6: [V6::Answers, V6::NoAaaa],
    },
    DnsProvider {
        index: 3,
        v6: [V6::NoAaaa, V6::NoAaaa],
    },
    DnsProvider {
        index: 4,
        v6: [V6::Answers, V6::Dead],
    },
    DnsProvider {
        index: 5,
        v6: [V6::Dead, V6::NoAaaa],
    },
];

impl DnsProvider {
    /// The provider's own zone, e.g. `dnsprov3.net`.
    pub fn zone(&self) -> String {
        format!("dnsprov{}.net", self.index)
    }

    /// Name of name server `n` (0 or 1).
    pub fn ns_name(&self, n: usize) -> String {
        format!("ns{}.dnsprov{}.net", n + 1, self.index)
    }

    /// IPv4 address of name server `n`.
    pub fn ns_v4(&self, n: usize) -> Ipv4Addr {
        Ipv4Addr::new(198, 18, 0, 10 + 2 * self.index + n as u8)
    }

    /// The published AAAA of name server `n`, if any.
    pub fn ns_v6(&self, n: usize) -> Option<Ipv6Addr> {
        let last = 0x10 + 2 * self.index as u16 + n as u16;
        match self.v6[n] {
            V6::Answers => Some(Ipv6Addr::new(0x2001, 0xdb8, 0x53, 0, 0, 0, 0, last)),
            V6::Dead => Some(Ipv6Addr::new(0x2001, 0xdb8, 0xdead, 0, 0, 0, 0, last)),
            V6::NoAaaa => None,
        }
    }

    /// Addresses the provider's server listens on.
    pub fn listen_addresses(&self) -> Vec<IpAddr> {
        let mut out = Vec::new();
        for n in 0..2 {
            out.push(IpAddr::V4(self.ns_v4(n)));
            if self.v6[n] == V6::Answers {
                out.extend(self.ns_v6(n).map(IpAddr::V6));
            }
        }
        out
    }

    /// How many of its name servers answer over IPv6.
    pub fn v6_answering(&self) -> usize {
        self.v6.iter().filter(|v| **v == V6::Answers).count()
    }
}

/// A mail provider: shared MX hosts and an SPF record customers include.
#[derive(Debug, Clone, Copy)]
pub struct MailProvider {
    /// Index, used in names and addresses.
    pub index: u8,
    /// Whether its two MX hosts have AAAA records.
    pub mx_aaaa: [bool; 2],
    /// The `all` qualifier of its SPF record: '-', '~' or '?'.
    pub spf_all: char,
}

/// The mail providers.
pub const MAIL_PROVIDERS: [MailProvider; 4] = [
    MailProvider {
        index: 0,
        mx_aaaa: [true, true],
        spf_all: '-',
    },
    MailProvider {
        index: 1,
        mx_aaaa: [true, false],
        spf_all: '-',
    },
    MailProvider {
        index: 2,
        mx_aaaa: [false, false],
        spf_all: '~',
    },
    MailProvider {
        index: 3,
        mx_aaaa: [true, true],
        spf_all: '?',
    },
];

impl MailProvider {
    /// The provider's zone, e.g. `mailprov2.com` (hosted by DNS provider 0).
    pub fn zone(&self) -> String {
        format!("mailprov{}.com", self.index)
    }

    /// MX host `n` (0 or 1).
    pub fn mx_name(&self, n: usize) -> String {
        format!("mx{}.mailprov{}.com", n + 1, self.index)
    }

    /// The SPF include target customers use.
    pub fn spf_name(&self) -> String {
        format!("_spf.mailprov{}.com", self.index)
    }

    /// IPv4 of MX host `n`.
    pub fn mx_v4(&self, n: usize) -> Ipv4Addr {
        Ipv4Addr::new(198, 18, 1, 10 + 2 * self.index + n as u8)
    }

    /// IPv6 of MX host `n`.
    pub fn mx_v6(&self, n: usize) -> Ipv6Addr {
        Ipv6Addr::new(
            0x2001,
            0xdb8,
            0x25,
            0,
            0,
            0,
            0,
            0x10 + 2 * self.index as u16 + n as u16,
        )
    }

    /// The `all` result a foreign address gets from its SPF record.
    pub fn spf_result(&self) -> &'static str {
        match self.spf_all {
            '-' => "fail",
            '~' => "softfail",
            _ => "neutral",
        }
    }
}

/// The zone that holds the SPF chain exceeding 10 lookups (hosted by DNS provider 0).
pub const TOO_MANY_LOOKUPS: &str = "toolong._spf.mailprov3.com";
