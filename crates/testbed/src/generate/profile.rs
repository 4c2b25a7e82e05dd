//! What each target domain deploys (its profile), drawn from adoption rates, and the truth a
//! correct scanner must report for it.
//!
//! The truth is derived here from the profile alone — never by calling the scanner's
//! evaluators — so a test that compares the two proves something.

use serde::{Deserialize, Serialize};
use uptake_model::{Check, Status};

use super::rng::Rng;
use super::webmail::{self, MailServer, Tlsa, Web, WebHosting, WebServer, MAIL_PROVIDER_TLS};
use super::world::{Suffix, COUNTRIES, DNS_PROVIDERS, MAIL_PROVIDERS, SUFFIXES};
use crate::serve::PqFlavour;

/// DNSSEC deployment of a delegated zone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DnssecProfile {
    /// Signed, DS in the parent.
    Secure,
    /// Not signed, no DS.
    Unsigned,
    /// Signed, but the parent's DS is of a key the zone never publishes.
    Bogus,
    /// Signed with signatures that expired in 2020.
    Expired,
}

/// DNSKEY algorithm (and RSA size) of a signed zone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Algorithm {
    /// RSASHA1 (5), 2048 bits: deprecated by RFC 8624.
    RsaSha1,
    /// RSASHA256 (8), 2048 bits.
    RsaSha256,
    /// RSASHA256 (8), 1024 bits: too short.
    RsaSha256Short,
    /// ECDSAP256SHA256 (13).
    EcdsaP256,
    /// ED25519 (15).
    Ed25519,
}

impl Algorithm {
    /// Every algorithm (key pool order).
    pub const ALL: [Algorithm; 5] = [
        Algorithm::RsaSha1,
        Algorithm::RsaSha256,
        Algorithm::RsaSha256Short,
        Algorithm::EcdsaP256,
        Algorithm::Ed25519,
    ];

    /// IANA algorithm number.
    pub const fn number(self) -> u8 {
        match self {
            Algorithm::RsaSha1 => 5,
            Algorithm::RsaSha256 | Algorithm::RsaSha256Short => 8,
            Algorithm::EcdsaP256 => 13,
            Algorithm::Ed25519 => 15,
        }
    }

    /// `ldns-keygen` arguments for this algorithm.
    pub const fn keygen_args(self) -> &'static [&'static str] {
        match self {
            Algorithm::RsaSha1 => &["-a", "RSASHA1", "-b", "2048"],
            Algorithm::RsaSha256 => &["-a", "RSASHA256", "-b", "2048"],
            Algorithm::RsaSha256Short => &["-a", "RSASHA256", "-b", "1024"],
            Algorithm::EcdsaP256 => &["-a", "ECDSAP256SHA256"],
            Algorithm::Ed25519 => &["-a", "ED25519"],
        }
    }

    /// The status the `dnssec_algorithm` check must give (RFC 8624).
    pub const fn status(self) -> Status {
        match self {
            Algorithm::RsaSha1 | Algorithm::RsaSha256Short => Status::Deprecated,
            _ => Status::Modern,
        }
    }

    /// Short label for truth.csv.
    pub const fn label(self) -> &'static str {
        match self {
            Algorithm::RsaSha1 => "RSASHA1-2048",
            Algorithm::RsaSha256 => "RSASHA256-2048",
            Algorithm::RsaSha256Short => "RSASHA256-1024",
            Algorithm::EcdsaP256 => "ECDSAP256SHA256",
            Algorithm::Ed25519 => "ED25519",
        }
    }
}

/// Authenticated denial of existence of a signed zone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Denial {
    /// NSEC.
    Nsec,
    /// NSEC3 with this many extra iterations (no salt when 0).
    Nsec3(u16),
}

/// The web names of a target.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Www {
    /// No www name.
    Absent,
    /// `www` with its own A (and AAAA when the flag is set).
    Own {
        /// www has an AAAA.
        aaaa: bool,
    },
    /// `www` is a CNAME to the apex.
    Cname,
}

/// Mail exchangers of a target.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mx {
    /// No MX.
    None,
    /// `MX 0 .` (RFC 7505).
    Null,
    /// The two MX hosts of a mail provider.
    Shared(usize),
    /// `mail.<domain>`, with or without AAAA.
    Own {
        /// mail host has an AAAA.
        aaaa: bool,
    },
}

/// SPF deployment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Spf {
    /// No SPF record (sometimes an unrelated TXT).
    None,
    /// Own record ending in this qualifier ('-', '~', '?', '+').
    Own(char),
    /// `include:` of a mail provider, then this qualifier with `all`.
    Include(usize, char),
    /// `redirect=` to a mail provider.
    Redirect(usize),
    /// Includes a chain of more than 10 lookups.
    TooManyLookups,
    /// A syntax error (bad IPv4 literal).
    SyntaxError,
    /// Two `v=spf1` records.
    TwoRecords,
}

/// DMARC deployment at the target's own `_dmarc` name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dmarc {
    /// No record (a subdomain then falls back to its organisational domain).
    Absent,
    /// A valid record.
    Policy {
        /// p=
        p: &'static str,
        /// sp=, when present.
        sp: Option<&'static str>,
        /// pct= (100 when not written).
        pct: u8,
    },
    /// `p=` with an unknown value.
    BadPolicy,
    /// Two `v=DMARC1` records.
    TwoRecords,
}

/// A record that is present, invalid or absent (TLS-RPT, MTA-STS TXT).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Txt {
    /// Not published.
    Absent,
    /// Published and valid.
    Present,
    /// Published but malformed (variant chooses how).
    Invalid(u8),
}

/// CAA deployment at the target's own name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Caa {
    /// No CAA at this name.
    Absent,
    /// `issue` and `iodef`.
    Issue,
    /// Only `iodef` (valid, but authorises nothing specific).
    IodefOnly,
    /// A critical record with an unknown tag.
    UnknownCritical,
}

/// Where a target lives in the DNS.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Placement {
    /// A registrable domain with its own zone at a DNS provider.
    Delegated {
        /// Index into DNS_PROVIDERS.
        provider: usize,
        /// Its DNSSEC deployment.
        dnssec: DnssecProfile,
        /// Signing algorithm (unused when unsigned).
        algorithm: Algorithm,
        /// Denial of existence (unused when unsigned).
        denial: Denial,
    },
    /// A registrable domain whose records sit in its suffix's zone (scale mode).
    Flat,
    /// A name inside the zone of an earlier, delegated target (index of that target).
    Subdomain(usize),
}

/// Everything the generator decided for one target.
#[derive(Debug, Clone)]
pub struct Profile {
    /// Domain as an A-label, without trailing dot.
    pub domain: String,
    /// Domain as written in targets.csv (U-label for IDNs).
    pub listed_as: String,
    /// Index into SUFFIXES.
    pub suffix: usize,
    /// ISO 3166 alpha-2.
    pub country: &'static str,
    /// Sector label.
    pub sector: &'static str,
    /// Organisation name.
    pub organisation: String,
    /// Where it lives.
    pub placement: Placement,
    /// Apex has an AAAA.
    pub apex_aaaa: bool,
    /// www name.
    pub www: Www,
    /// MX.
    pub mx: Mx,
    /// SPF.
    pub spf: Spf,
    /// DMARC.
    pub dmarc: Dmarc,
    /// `_domainkey` node exists.
    pub dkim: bool,
    /// CAA.
    pub caa: Caa,
    /// TLS-RPT TXT.
    pub tls_rpt: Txt,
    /// MTA-STS TXT.
    pub mta_sts: Txt,
    /// A number drawn per domain (0..200) that varies unrelated TXT records.
    pub web_host: u32,
    /// Web and mail hosting profile.
    pub web: Web,
    /// The web server apex and www point at (resolved by [`super::draw_profiles`]).
    pub web_server: WebServer,
    /// The own mail server of `Mx::Own` (resolved by [`super::draw_profiles`]).
    pub mail_server: Option<MailServer>,
    /// TLSA published for an own MX host (`Tlsa::None` in bogus zones, where a resolver
    /// would not return it; resolved by [`super::draw_profiles`]).
    pub tlsa: Tlsa,
}

/// Sector labels with their adoption factor and organisation words.
pub const SECTORS: &[(&str, f64, &[&str])] = &[
    (
        "public administration",
        1.3,
        &[
            "ministry",
            "municipality",
            "agency",
            "council",
            "tax-office",
        ],
    ),
    (
        "finance",
        1.25,
        &["bank", "insurance", "credit-union", "pension-fund"],
    ),
    (
        "health",
        0.85,
        &["hospital", "clinic", "health-authority", "pharmacy"],
    ),
    (
        "education",
        0.95,
        &["university", "college", "school", "academy"],
    ),
    (
        "telecom",
        1.1,
        &["telecom", "mobile", "networks", "broadband"],
    ),
    (
        "other",
        0.7,
        &["shop", "media", "logistics", "foods", "energy"],
    ),
];

const PLACES: &[&str] = &[
    "north",
    "riverside",
    "lakeview",
    "hill",
    "bay",
    "valley",
    "harbour",
    "green",
    "oak",
    "stone",
    "east",
    "west",
    "bridge",
    "forest",
    "meadow",
    "coast",
];

/// Adoption rates: base weights of each option; options that count as adopted are multiplied
/// by the country's and the sector's factor, so aggregates differ by country and sector.
/// Written to `DIR/rates.json`; `--rates FILE` reads a changed copy.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct Rates {
    /// Share of targets that are subdomains of another target's zone.
    pub subdomain: f64,
    /// Share of registrable domains written as IDNs (U-labels in targets.csv).
    pub idn: f64,
    /// dnssec: secure, unsigned, bogus, expired.
    pub dnssec: [f64; 4],
    /// algorithm: RSASHA1, RSASHA256, RSASHA256-1024, ECDSAP256, ED25519.
    pub algorithm: [f64; 5],
    /// denial: NSEC, NSEC3 with 0, 1, 10, 100 iterations.
    pub denial: [f64; 5],
    /// DNS provider choice (see world::DNS_PROVIDERS; 0 and 1 have full IPv6).
    pub dns_provider: [f64; 6],
    /// Apex AAAA.
    pub apex_aaaa: f64,
    /// www: absent, own, CNAME.
    pub www: [f64; 3],
    /// www AAAA when www has its own address.
    pub www_aaaa: f64,
    /// mx: none, null, shared, own.
    pub mx: [f64; 4],
    /// Own mail host has AAAA.
    pub own_mx_aaaa: f64,
    /// spf: none, -all, ~all, ?all, +all, include, redirect, too many lookups, syntax error, two records.
    pub spf: [f64; 10],
    /// dmarc: absent, reject, quarantine, none, bad policy, two records.
    pub dmarc: [f64; 6],
    /// dkim `_domainkey` present.
    pub dkim: f64,
    /// caa: absent, issue, iodef only, unknown critical.
    pub caa: [f64; 4],
    /// TLS-RPT: absent, present, invalid.
    pub tls_rpt: [f64; 3],
    /// MTA-STS TXT: absent, present, invalid.
    pub mta_sts: [f64; 3],
}

impl Default for Rates {
    fn default() -> Self {
        Rates {
            subdomain: 0.05,
            idn: 0.01,
            dnssec: [0.40, 0.48, 0.06, 0.06],
            algorithm: [0.12, 0.25, 0.08, 0.45, 0.10],
            denial: [0.4, 0.3, 0.1, 0.1, 0.1],
            dns_provider: [0.25, 0.2, 0.15, 0.25, 0.08, 0.07],
            apex_aaaa: 0.45,
            www: [0.1, 0.6, 0.3],
            www_aaaa: 0.45,
            mx: [0.10, 0.05, 0.6, 0.25],
            own_mx_aaaa: 0.4,
            spf: [0.15, 0.15, 0.15, 0.05, 0.02, 0.30, 0.08, 0.03, 0.03, 0.02],
            dmarc: [0.28, 0.25, 0.15, 0.25, 0.05, 0.02],
            dkim: 0.6,
            caa: [0.62, 0.25, 0.08, 0.05],
            tls_rpt: [0.75, 0.2, 0.05],
            mta_sts: [0.75, 0.2, 0.05],
        }
    }
}

/// Scales adopted options by `factor`: `good[i]` says whether option i counts as adopted.
fn tilt<T: Copy>(options: &[T], weights: &[f64], good: &[bool], factor: f64) -> Vec<(T, f64)> {
    options
        .iter()
        .zip(weights)
        .zip(good)
        .map(|((o, w), g)| (*o, if *g { w * factor } else { *w }))
        .collect()
}

fn prob(p: f64, factor: f64) -> f64 {
    (p * factor).clamp(0.0, 1.0)
}

/// Draws the profile of target `index`. `delegated_parents` holds the indices of earlier
/// delegated registrable targets (candidates for subdomain targets); `delegate` says whether a
/// new registrable domain gets its own zone.
pub fn draw(
    rates: &Rates,
    rng: &mut Rng,
    index: usize,
    earlier: &[Profile],
    delegated_parents: &[usize],
    delegate: bool,
) -> Profile {
    let subdomain_of = (!delegated_parents.is_empty() && rng.chance(rates.subdomain))
        .then(|| delegated_parents[rng.below(delegated_parents.len())]);

    let (country, sector, organisation, domain, listed_as, suffix, placement);
    if let Some(parent) = subdomain_of {
        let p = &earlier[parent];
        country = p.country;
        sector = p.sector;
        organisation = p.organisation.clone();
        let unit = ["portal", "mail", "research", "service", "news"][rng.below(5)];
        domain = format!("{unit}{index}.{}", p.domain);
        listed_as = format!("{unit}{index}.{}", p.listed_as);
        suffix = p.suffix;
        placement = Placement::Subdomain(parent);
    } else {
        let c = rng.below(COUNTRIES.len());
        country = COUNTRIES[c].0;
        let s = rng.below(SECTORS.len());
        sector = SECTORS[s].0;
        suffix = pick_suffix(rng, country, sector);
        let place = PLACES[rng.below(PLACES.len())];
        let words = SECTORS[s].2;
        let word = words[rng.below(words.len())];
        organisation = format!(
            "{} {} {index}",
            capitalise(place),
            capitalise(&word.replace('-', " "))
        );
        let sfx = SUFFIXES[suffix].name;
        let idn = matches!(sfx, "de" | "se" | "nl") && rng.chance(rates.idn);
        if idn {
            let unicode_word = match sfx {
                "de" => "bücher",
                "se" => "överheten",
                _ => "café",
            };
            listed_as = format!("{unicode_word}-{place}-{index}.{sfx}");
            domain = idna::domain_to_ascii(&listed_as).unwrap_or_else(|_| listed_as.clone());
        } else {
            domain = format!("{place}-{word}-{index}.{sfx}");
            listed_as = domain.clone();
        }
        placement = if delegate {
            let f = factor(country, sector);
            let dnssec = rng.weighted(&tilt(
                &[
                    DnssecProfile::Secure,
                    DnssecProfile::Unsigned,
                    DnssecProfile::Bogus,
                    DnssecProfile::Expired,
                ],
                &rates.dnssec,
                &[true, false, false, false],
                f,
            ));
            let algorithm = rng.weighted(&tilt(
                &Algorithm::ALL,
                &rates.algorithm,
                &[false, true, false, true, true],
                f,
            ));
            let mut denial = rng.weighted(&tilt(
                &[
                    Denial::Nsec,
                    Denial::Nsec3(0),
                    Denial::Nsec3(1),
                    Denial::Nsec3(10),
                    Denial::Nsec3(100),
                ],
                &rates.denial,
                &[true, true, false, false, false],
                1.0,
            ));
            if algorithm == Algorithm::RsaSha1 {
                // Algorithm 5 predates NSEC3 (RFC 5155 needs 7); such zones use NSEC.
                denial = Denial::Nsec;
            }
            let provider = rng.weighted(&tilt(
                &[0usize, 1, 2, 3, 4, 5],
                &rates.dns_provider,
                &[true, true, false, false, false, false],
                f,
            ));
            Placement::Delegated {
                provider,
                dnssec,
                algorithm,
                denial,
            }
        } else {
            Placement::Flat
        };
    }

    let f = factor(country, sector);
    let apex_aaaa = rng.chance(prob(rates.apex_aaaa, f));
    let www = match rng.weighted(&[(0, rates.www[0]), (1, rates.www[1]), (2, rates.www[2])]) {
        0 => Www::Absent,
        // www has an AAAA only where the apex has one: the web host's IPv6 is then the same
        // whichever of the two a scanner looks at.
        1 => Www::Own {
            aaaa: rng.chance(prob(rates.www_aaaa, f)) && apex_aaaa,
        },
        _ => Www::Cname,
    };
    let mx = match rng.weighted(&[
        (0, rates.mx[0]),
        (1, rates.mx[1]),
        (2, rates.mx[2]),
        (3, rates.mx[3]),
    ]) {
        0 => Mx::None,
        1 => Mx::Null,
        2 => Mx::Shared(rng.below(MAIL_PROVIDERS.len())),
        _ => Mx::Own {
            aaaa: rng.chance(prob(rates.own_mx_aaaa, f)),
        },
    };
    let spf_kind = rng.weighted(&tilt(
        &[0u8, 1, 2, 3, 4, 5, 6, 7, 8, 9],
        &rates.spf,
        &[
            false, true, true, false, false, true, true, false, false, false,
        ],
        f,
    ));
    let spf = match spf_kind {
        0 => Spf::None,
        1 => Spf::Own('-'),
        2 => Spf::Own('~'),
        3 => Spf::Own('?'),
        4 => Spf::Own('+'),
        5 => Spf::Include(
            rng.below(MAIL_PROVIDERS.len()),
            if rng.chance(0.6) { '-' } else { '~' },
        ),
        6 => Spf::Redirect(rng.below(MAIL_PROVIDERS.len())),
        7 => Spf::TooManyLookups,
        8 => Spf::SyntaxError,
        _ => Spf::TwoRecords,
    };
    let dmarc = match rng.weighted(&tilt(
        &[0u8, 1, 2, 3, 4, 5],
        &rates.dmarc,
        &[false, true, true, false, false, false],
        f,
    )) {
        0 => Dmarc::Absent,
        k @ 1..=3 => {
            let p = ["reject", "quarantine", "none"][k as usize - 1];
            let sp = match rng.below(6) {
                0 => Some("none"),
                1 => Some("reject"),
                2 => Some("quarantine"),
                _ => None,
            };
            let pct = if rng.chance(0.15) { 50 } else { 100 };
            Dmarc::Policy { p, sp, pct }
        }
        4 => Dmarc::BadPolicy,
        _ => Dmarc::TwoRecords,
    };
    let dkim = rng.chance(prob(rates.dkim, f));
    let caa = rng.weighted(&tilt(
        &[
            Caa::Absent,
            Caa::Issue,
            Caa::IodefOnly,
            Caa::UnknownCritical,
        ],
        &rates.caa,
        &[false, true, false, false],
        f,
    ));
    let three = |rng: &mut Rng, w: &[f64; 3]| match rng.weighted(&tilt(
        &[0u8, 1, 2],
        w,
        &[false, true, false],
        f,
    )) {
        0 => Txt::Absent,
        1 => Txt::Present,
        _ => Txt::Invalid(rng.below(2) as u8),
    };
    let tls_rpt = three(rng, &rates.tls_rpt);
    let mta_sts = three(rng, &rates.mta_sts);
    Profile {
        domain,
        listed_as,
        suffix,
        country,
        sector,
        organisation,
        placement,
        apex_aaaa,
        www,
        mx,
        spf,
        dmarc,
        dkim,
        caa,
        tls_rpt,
        mta_sts,
        web_host: rng.below(200) as u32,
        web: webmail::draw_web(rng, f),
        web_server: webmail::WEB_PROVIDERS[0],
        mail_server: None,
        tlsa: Tlsa::None,
    }
}

fn factor(country: &str, sector: &str) -> f64 {
    let c = COUNTRIES
        .iter()
        .find(|(c, _)| *c == country)
        .map_or(1.0, |(_, f)| *f);
    let s = SECTORS
        .iter()
        .find(|(s, _, _)| *s == sector)
        .map_or(1.0, |(_, f, _)| *f);
    c * s
}

fn pick_suffix(rng: &mut Rng, country: &str, sector: &str) -> usize {
    let find = |name: &str| {
        SUFFIXES
            .iter()
            .position(|s: &Suffix| s.name == name)
            .unwrap_or(0)
    };
    if rng.chance(0.25) {
        return find(if rng.chance(0.7) { "com" } else { "org" });
    }
    match (country, sector) {
        ("GB", "public administration") => find("gov.uk"),
        ("GB", _) => find("co.uk"),
        ("US", "public administration") => find("gov"),
        ("US", _) => find(if rng.chance(0.6) { "com" } else { "org" }),
        (c, _) => SUFFIXES
            .iter()
            .position(|s| s.country == Some(c))
            .unwrap_or(0),
    }
}

fn capitalise(s: &str) -> String {
    s.split(' ')
        .map(|w| {
            let mut c = w.chars();
            c.next()
                .map(|f| f.to_uppercase().collect::<String>() + c.as_str())
                .unwrap_or_default()
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// The zone facts that decide DNS-level truth for a target: its own for delegated targets,
/// its parent's for subdomains, the suffix zone's for flat ones.
pub struct ZoneFacts {
    /// The zone apex.
    pub apex: String,
    /// DNSSEC status as the resolver sees it.
    pub dnssec: Status,
    /// Algorithm status.
    pub algorithm: Status,
    /// Algorithm label, empty when unsigned.
    pub algorithm_label: &'static str,
    /// Denial label, e.g. `nsec3:10`.
    pub denial: String,
    /// Name servers of the zone.
    pub ns_hosts: Vec<String>,
    /// How many of them answer over IPv6.
    pub ns_v6_answering: usize,
    /// Addresses of the name servers (A and AAAA of each, in `ns_hosts` order).
    pub ns_addresses: Vec<std::net::IpAddr>,
}

/// Suffix zones are signed with this algorithm.
pub const SUFFIX_ALGORITHM: Algorithm = Algorithm::EcdsaP256;

/// Zone facts for target `i`.
pub fn zone_facts(profiles: &[Profile], i: usize) -> ZoneFacts {
    let p = &profiles[i];
    match p.placement {
        Placement::Subdomain(parent) => zone_facts(profiles, parent),
        Placement::Flat => {
            let sfx = SUFFIXES[p.suffix];
            let servers = if sfx.second_level {
                super::world::SLD_NS
            } else {
                super::world::TLD_NS
            };
            ZoneFacts {
                apex: sfx.name.to_string(),
                dnssec: Status::Secure,
                algorithm: SUFFIX_ALGORITHM.status(),
                algorithm_label: SUFFIX_ALGORITHM.label(),
                denial: "nsec3:0".into(),
                ns_hosts: servers.iter().map(|s| s.0.to_string()).collect(),
                ns_v6_answering: 2,
                ns_addresses: servers
                    .iter()
                    .flat_map(|s| [std::net::IpAddr::V4(s.1), std::net::IpAddr::V6(s.2)])
                    .collect(),
            }
        }
        Placement::Delegated {
            provider,
            dnssec,
            algorithm,
            denial,
        } => {
            let prov = DNS_PROVIDERS[provider];
            let signed = dnssec != DnssecProfile::Unsigned;
            ZoneFacts {
                apex: p.domain.clone(),
                dnssec: match dnssec {
                    DnssecProfile::Secure => Status::Secure,
                    DnssecProfile::Unsigned => Status::Insecure,
                    DnssecProfile::Bogus | DnssecProfile::Expired => Status::Bogus,
                },
                algorithm: if signed {
                    algorithm.status()
                } else {
                    Status::NotApplicable
                },
                algorithm_label: if signed { algorithm.label() } else { "" },
                denial: match (signed, denial) {
                    (false, _) => String::new(),
                    (true, Denial::Nsec) => "nsec".into(),
                    (true, Denial::Nsec3(n)) => format!("nsec3:{n}"),
                },
                ns_hosts: (0..2).map(|n| prov.ns_name(n)).collect(),
                ns_v6_answering: prov.v6_answering(),
                ns_addresses: (0..2)
                    .flat_map(|n| {
                        std::iter::once(std::net::IpAddr::V4(prov.ns_v4(n)))
                            .chain(prov.ns_v6(n).map(std::net::IpAddr::V6))
                    })
                    .collect(),
            }
        }
    }
}

/// The SPF result a foreign address gets.
pub fn spf_truth(spf: Spf) -> Status {
    match spf {
        Spf::None => Status::None,
        Spf::Own(q) | Spf::Include(_, q) => qualifier_status(q),
        Spf::Redirect(m) => qualifier_status(MAIL_PROVIDERS[m].spf_all),
        Spf::TooManyLookups | Spf::SyntaxError | Spf::TwoRecords => Status::Permerror,
    }
}

fn qualifier_status(q: char) -> Status {
    match q {
        '-' => Status::Fail,
        '~' => Status::Softfail,
        '?' => Status::Neutral,
        _ => Status::Pass,
    }
}

/// The effective DMARC status of target `i` (own record, else the organisational domain's,
/// with its `sp`).
pub fn dmarc_truth(profiles: &[Profile], i: usize) -> (Status, &'static str) {
    let own = |d: Dmarc, subdomain: bool| match d {
        Dmarc::Absent => None,
        Dmarc::Policy { p, sp, .. } => {
            let policy = if subdomain { sp.unwrap_or(p) } else { p };
            Some(policy.parse::<Status>().unwrap_or(Status::Invalid))
        }
        Dmarc::BadPolicy | Dmarc::TwoRecords => Some(Status::Invalid),
    };
    let p = &profiles[i];
    if let Some(s) = own(p.dmarc, false) {
        return (s, "own");
    }
    if let Placement::Subdomain(parent) = p.placement {
        if let Some(s) = own(profiles[parent].dmarc, true) {
            return (s, "organisational");
        }
    }
    (Status::Absent, "")
}

/// The CAA status of target `i` and where the relevant RRset was found.
pub fn caa_truth(profiles: &[Profile], i: usize) -> (Status, String) {
    let status = |c: Caa| match c {
        Caa::Absent => None,
        Caa::Issue | Caa::IodefOnly => Some(Status::Present),
        Caa::UnknownCritical => Some(Status::Invalid),
    };
    let p = &profiles[i];
    if let Some(s) = status(p.caa) {
        return (s, p.domain.clone());
    }
    if let Placement::Subdomain(parent) = p.placement {
        if let Some(s) = status(profiles[parent].caa) {
            return (s, profiles[parent].domain.clone());
        }
    }
    (Status::Absent, String::new())
}

/// Status of a present/invalid/absent TXT record.
pub fn txt_truth(t: Txt) -> Status {
    match t {
        Txt::Absent => Status::Absent,
        Txt::Present => Status::Present,
        Txt::Invalid(_) => Status::Invalid,
    }
}

/// Number of MX hosts and how many have an AAAA.
pub fn mx_hosts(mx: Mx, domain: &str) -> (Vec<String>, usize) {
    match mx {
        Mx::None | Mx::Null => (vec![], 0),
        Mx::Shared(m) => {
            let prov = MAIL_PROVIDERS[m];
            (
                (0..2).map(|n| prov.mx_name(n)).collect(),
                prov.mx_aaaa.iter().filter(|a| **a).count(),
            )
        }
        Mx::Own { aaaa } => (vec![format!("mail.{domain}")], usize::from(aaaa)),
    }
}

/// The truth columns of target `i`, in [`truth_header`] order.
pub fn truth_row(
    profiles: &[Profile],
    i: usize,
    routing: &uptake_routing::synthetic::World,
) -> Vec<String> {
    let p = &profiles[i];
    let zone = zone_facts(profiles, i);
    let ns_ipv6 = match zone.ns_v6_answering {
        0 => Status::None,
        1 => Status::Partial,
        _ => Status::Reachable,
    };
    let mx_status = match p.mx {
        Mx::None => Status::None,
        Mx::Null => Status::NullMx,
        _ => Status::Mx,
    };
    let (dmarc, dmarc_source) = dmarc_truth(profiles, i);
    let (caa, caa_found_at) = caa_truth(profiles, i);
    let (mx_names, mx_aaaa) = mx_hosts(p.mx, &p.domain);
    let www_aaaa = match p.www {
        Www::Absent => false,
        Www::Own { aaaa } => aaaa,
        Www::Cname => p.apex_aaaa,
    };
    let mut row = Vec::with_capacity(32);
    row.push(p.domain.clone());
    for check in Check::DNS {
        let s = match check {
            Check::Dnssec => zone.dnssec,
            Check::DnssecAlgorithm => zone.algorithm,
            Check::NsIpv6 => ns_ipv6,
            Check::Caa => caa,
            Check::Mx => mx_status,
            Check::Spf => spf_truth(p.spf),
            Check::Dmarc => dmarc,
            Check::Dkim => {
                if p.dkim {
                    Status::Present
                } else {
                    Status::Absent
                }
            }
            Check::TlsRpt => txt_truth(p.tls_rpt),
            Check::MtaStsRecord => txt_truth(p.mta_sts),
            other => unreachable!("{other} is not a DNS check"),
        };
        row.push(s.as_str().to_string());
    }
    row.push(zone.apex);
    row.push(zone.algorithm_label.to_string());
    row.push(zone.denial);
    row.push(zone.ns_hosts.join(" "));
    row.push(dmarc_source.to_string());
    row.push(caa_found_at);
    row.push(p.apex_aaaa.to_string());
    row.push((!matches!(p.www, Www::Absent)).to_string());
    row.push(www_aaaa.to_string());
    row.push(mx_names.join(" "));
    row.push(mx_aaaa.to_string());
    for s in web_mail_truth(profiles, i) {
        row.push(s.as_str().to_string());
    }
    row.push(web_hosting_label(p));
    row.push(p.web_server.v4.to_string());
    row.push(p.web_server.v6.to_string());
    row.push(p.web.key.stem().to_string());
    row.push(mx_addresses(p).join(" "));
    row.push(tls_server_label(p.web_server.pq).to_string());
    row.push(mx_tls_servers(p).join(" "));
    row.extend(super::routing::truth(routing, profiles, i));
    row
}

/// Which software terminates TLS: `stock` (nginx / Postfix on OpenSSL 3.0) or the rustls
/// flavour (`rustls-hybrid-first`, ...).
pub fn tls_server_label(pq: Option<PqFlavour>) -> &'static str {
    pq.map_or("stock", PqFlavour::label)
}

/// [`tls_server_label`] of target `p`'s MX hosts, in MX order.
pub fn mx_tls_servers(p: &Profile) -> Vec<&'static str> {
    match (&p.mx, &p.mail_server) {
        (Mx::Shared(_), _) => vec![tls_server_label(None); 2],
        (Mx::Own { .. }, Some(s)) => vec![tls_server_label(s.pq)],
        _ => vec![],
    }
}

/// IPv4 addresses of target `p`'s MX hosts, in MX order.
pub fn mx_addresses(p: &Profile) -> Vec<String> {
    match (&p.mx, &p.mail_server) {
        (Mx::Shared(m), _) => (0..2)
            .map(|n| MAIL_PROVIDERS[*m].mx_v4(n).to_string())
            .collect(),
        (Mx::Own { .. }, Some(s)) => vec![s.v4.to_string()],
        _ => vec![],
    }
}

/// The web and mail checks truth.csv carries, in [`Check::ALL`] order.
pub const WEB_MAIL_CHECKS: [Check; 15] = [
    Check::Starttls,
    Check::Dane,
    Check::MtaSts,
    Check::MxIpv6,
    Check::MxPqKex,
    Check::WebIpv6,
    Check::Https,
    Check::HttpsRedirect,
    Check::TlsVersion,
    Check::TlsCipher,
    Check::Certificate,
    Check::PqKex,
    Check::Hsts,
    Check::SecurityTxt,
    Check::SecurityHeaders,
];

/// The MTA-STS policy `mx` patterns that match target `p`'s MX set (for a domain without
/// MX, its would-be own host).
pub fn policy_mx(p: &Profile) -> Vec<String> {
    match p.mx {
        Mx::Shared(m) => vec![format!("*.{}", MAIL_PROVIDERS[m].zone())],
        _ => vec![format!("mail.{}", p.domain)],
    }
}

/// Statuses of [`WEB_MAIL_CHECKS`] for target `i`, from its profile and its servers'.
pub fn web_mail_truth(profiles: &[Profile], i: usize) -> Vec<Status> {
    let p = &profiles[i];
    let w = &p.web;
    let server = &p.web_server;
    let count = |n: usize, of: usize| match n {
        0 => Status::None,
        n if n == of => Status::All,
        _ => Status::Some,
    };
    // mx_pq_kex: Postfix (OpenSSL 3.0) negotiates no hybrid group; a rustls MX does unless its
    // flavour prefers classical. No MX with STARTTLS -> not_applicable.
    let mx_pq = |servers: &[(bool, Option<PqFlavour>)]| {
        let with_tls = servers.iter().filter(|(tls, _)| *tls).count();
        let hybrid = servers
            .iter()
            .filter(|(tls, pq)| *tls && pq.is_some_and(PqFlavour::negotiates_hybrid))
            .count();
        if with_tls == 0 {
            Status::NotApplicable
        } else {
            count(hybrid, servers.len())
        }
    };
    let (starttls, dane, mx_ipv6, mx_pq_kex) = match (&p.mx, &p.mail_server) {
        (Mx::Shared(m), _) => {
            let prov = MAIL_PROVIDERS[*m];
            let (tls, tlsa) = MAIL_PROVIDER_TLS[*m];
            let with_tls = tls.iter().filter(|t| **t).count();
            let dane = match tlsa {
                Tlsa::None => Status::Absent,
                Tlsa::Match if with_tls == 2 => Status::Valid,
                Tlsa::Match | Tlsa::Mismatch => Status::Invalid,
            };
            let v6 = prov.mx_aaaa.iter().filter(|a| **a).count();
            let pq = mx_pq(&[(tls[0], None), (tls[1], None)]);
            (count(with_tls, 2), dane, count(v6, 2), pq)
        }
        (Mx::Own { aaaa }, Some(s)) => {
            let dane = match (p.tlsa, zone_facts(profiles, i).dnssec) {
                (Tlsa::None, _) => Status::Absent,
                (_, Status::Secure) if p.tlsa == Tlsa::Match && s.starttls => Status::Valid,
                (_, Status::Secure) => Status::Invalid,
                _ => Status::Insecure,
            };
            (
                count(usize::from(s.starttls), 1),
                dane,
                count(usize::from(*aaaa && s.v6_listens), 1),
                mx_pq(&[(s.starttls, s.pq)]),
            )
        }
        _ => (
            Status::NotApplicable,
            Status::NotApplicable,
            Status::NotApplicable,
            Status::NotApplicable,
        ),
    };
    let mta_sts = match p.mta_sts {
        Txt::Absent => Status::Absent,
        Txt::Invalid(_) => Status::Invalid,
        // "mx patterns match every MX" holds vacuously without MX hosts: a policy naming
        // another host is then still in force.
        Txt::Present => match (w.policy, p.mx) {
            (webmail::Policy::Mismatch, Mx::None | Mx::Null) => Status::Enforce,
            (policy, _) => webmail::policy_status(policy),
        },
    };
    let web_ipv6 = match (p.apex_aaaa, server.v6_listens) {
        (false, _) => Status::None,
        (true, true) => Status::Reachable,
        (true, false) => Status::Unreachable,
    };
    let https = if server.port443 {
        Status::Available
    } else {
        Status::Unavailable
    };
    let redirect = match (server.port80, effective_redirect(p)) {
        (false, _) => Status::NoHttp,
        (true, webmail::Redirect::SameHost) => Status::Enforced,
        (true, _) => Status::NotEnforced,
    };
    let na = Status::NotApplicable;
    let on_https = |s: Status| if server.port443 { s } else { na };
    let security_txt = match w.security_txt {
        webmail::SecurityTxt::Valid => Status::Valid,
        webmail::SecurityTxt::Expired | webmail::SecurityTxt::WrongType => Status::Invalid,
        webmail::SecurityTxt::Absent => Status::Absent,
    };
    let headers = match w.headers {
        webmail::Headers::All => Status::All,
        webmail::Headers::Some => Status::Some,
        webmail::Headers::None => Status::None,
    };
    // pq_kex: nginx (OpenSSL 3.0, also its TLS 1.0/1.1-only hosts) negotiates no hybrid group.
    let pq_kex = match server.pq {
        Some(f) if f.negotiates_hybrid() => Status::PqHybrid,
        _ => Status::Classical,
    };
    vec![
        starttls,
        dane,
        mta_sts,
        mx_ipv6,
        mx_pq_kex,
        web_ipv6,
        https,
        redirect,
        on_https(server.tls_version(w.key)),
        on_https(server.tls_cipher(w.key)),
        on_https(w.cert.status()),
        on_https(pq_kex),
        on_https(w.hsts.status()),
        on_https(security_txt),
        on_https(headers),
    ]
}

/// Port 80's behaviour: a server without HTTPS serves plain HTTP instead of redirecting.
pub fn effective_redirect(p: &Profile) -> webmail::Redirect {
    if p.web_server.port443 {
        p.web.redirect
    } else {
        webmail::Redirect::None
    }
}

/// Which web server a target uses (for evidence): `shared-<k>` or `own-<i>`.
pub fn web_hosting_label(p: &Profile) -> String {
    match p.web.hosting {
        WebHosting::Shared(k) => format!("shared-{k}"),
        WebHosting::Own(i) => format!("own-{i}"),
    }
}

/// Header of truth.csv.
pub fn truth_header() -> Vec<String> {
    let mut h = vec!["domain".to_string()];
    h.extend(Check::DNS.iter().map(|c| c.status_column()));
    for extra in [
        "zone",
        "dnssec_algorithm",
        "dnssec_denial",
        "ns_hosts",
        "dmarc_source",
        "caa_found_at",
        "apex_aaaa",
        "www_exists",
        "www_aaaa",
        "mx_hosts",
        "mx_hosts_with_aaaa",
    ] {
        h.push(extra.to_string());
    }
    h.extend(WEB_MAIL_CHECKS.iter().map(|c| c.status_column()));
    for extra in [
        "web_hosting",
        "web_address",
        "web_address_v6",
        "web_key",
        "mx_addresses",
        "web_tls_server",
        "mx_tls_servers",
    ] {
        h.push(extra.to_string());
    }
    h.push(Check::Rpki.status_column());
    for extra in ["hosting_asn", "hosting_as_name", "hosting_country"] {
        h.push(extra.to_string());
    }
    h
}
