//! The IP-to-ASN/country table: which network hosts an address, and in which country.
//!
//! Formats:
//! - iptoasn.com TSV (`ip2asn-v4.tsv`, `ip2asn-v6.tsv`, `ip2asn-combined.tsv`, plain or gzip):
//!   `range_start<TAB>range_end<TAB>AS_number<TAB>country_code<TAB>AS_description`, ranges
//!   sorted and disjoint within each address family. Rows with AS 0 (`Not routed`) are gaps.
//!   The country `None` means unknown. An unsorted or overlapping range is an error naming the
//!   line and the line it collides with.
//! - MaxMind DB (`.mmdb`, plain or gzip) through the maxminddb crate: an ASN database
//!   (GeoLite2-ASN, DB-IP ASN Lite: `autonomous_system_number`,
//!   `autonomous_system_organization`) and optionally a country database (GeoLite2-Country or
//!   -City, DB-IP Country Lite: `country.iso_code`). Both are verified when loaded, so a
//!   corrupt file fails then and not halfway through a scan.

use std::collections::HashMap;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use maxminddb::{geoip2, Reader};

use crate::input::{self, Lines};
use crate::lpm::RangeMap;
use crate::prefix::Key;
use crate::{LineProblem, RoutingError};

/// The hosting network of an address.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct HostingInfo {
    /// AS number (`None` when only a country database knows the address).
    pub asn: Option<u32>,
    /// The AS's name or organisation.
    pub as_name: Option<String>,
    /// ISO 3166 alpha-2 country code.
    pub country: Option<String>,
}

/// Ranges of one family while loading: checked for order, then indexed.
#[derive(Debug)]
struct Ranges<K> {
    rows: Vec<(K, K, u32)>,
    /// Last range seen (start, end, line), for the order check.
    last: Option<(K, K, usize)>,
}

impl<K> Default for Ranges<K> {
    fn default() -> Self {
        Ranges {
            rows: Vec::new(),
            last: None,
        }
    }
}

impl<K: Key> Ranges<K> {
    fn push(
        &mut self,
        start: K,
        end: K,
        line: usize,
        info: Option<u32>,
    ) -> Result<(), LineProblem> {
        if start > end {
            return Err(LineProblem::Reversed);
        }
        if let Some((ps, pe, pline)) = self.last {
            if start < ps {
                return Err(LineProblem::Unsorted { previous: pline });
            }
            if start <= pe {
                return Err(LineProblem::Overlap { previous: pline });
            }
        }
        self.last = Some((start, end, line));
        if let Some(info) = info {
            self.rows.push((start, end, info));
        }
        Ok(())
    }
}

/// An iptoasn.com range table.
#[derive(Debug)]
struct RangeTable {
    v4: RangeMap<u32>,
    v6: RangeMap<u128>,
    infos: Vec<HostingInfo>,
}

impl RangeTable {
    fn load(path: &Path) -> Result<RangeTable, RoutingError> {
        let mut lines = Lines::open(path)?;
        let mut v4 = Ranges::<u32>::default();
        let mut v6 = Ranges::<u128>::default();
        let mut infos: Vec<HostingInfo> = Vec::new();
        let mut ids: HashMap<HostingInfo, u32> = HashMap::new();
        let mut rows = 0usize;
        while let Some(line) = lines.next_line()? {
            let f: Vec<&str> = line.splitn(5, '\t').collect();
            let parsed = (|| {
                if f.len() < 4 {
                    return Err(LineProblem::Fields {
                        expected: "range_start<TAB>range_end<TAB>AS_number<TAB>country_code<TAB>AS_description",
                        text: line.to_string(),
                    });
                }
                let addr = |t: &str| {
                    t.trim()
                        .parse::<IpAddr>()
                        .map_err(|_| LineProblem::Address(t.to_string()))
                };
                let (start, end) = (addr(f[0])?, addr(f[1])?);
                let asn: u32 = f[2]
                    .trim()
                    .parse()
                    .map_err(|_| LineProblem::Asn(f[2].to_string()))?;
                let known = |t: &str| {
                    let t = t.trim();
                    (!t.is_empty() && t != "None" && t != "Not routed").then(|| t.to_string())
                };
                let info = (asn != 0).then(|| HostingInfo {
                    asn: Some(asn),
                    as_name: f.get(4).and_then(|t| known(t)),
                    country: known(f[3]),
                });
                Ok((start, end, info))
            })();
            let (start, end, info) = parsed.map_err(|p| lines.error(p))?;
            let id = info.map(|info| {
                let next = infos.len() as u32;
                *ids.entry(info.clone()).or_insert_with(|| {
                    infos.push(info);
                    next
                })
            });
            let n = lines.number;
            let pushed = match (start, end) {
                (IpAddr::V4(s), IpAddr::V4(e)) => v4.push(s.into(), e.into(), n, id),
                (IpAddr::V6(s), IpAddr::V6(e)) => v6.push(s.into(), e.into(), n, id),
                _ => Err(LineProblem::MixedFamily),
            };
            pushed.map_err(|p| lines.error(p))?;
            rows += 1;
        }
        if rows == 0 {
            return Err(RoutingError::Empty {
                path: path.to_path_buf(),
                what: "range",
            });
        }
        Ok(RangeTable {
            v4: RangeMap::from_sorted_ranges(v4.rows),
            v6: RangeMap::from_sorted_ranges(v6.rows),
            infos,
        })
    }

    fn get(&self, addr: IpAddr) -> Option<&HostingInfo> {
        let id = match addr {
            IpAddr::V4(a) => self.v4.get(u32::from(a)),
            IpAddr::V6(a) => self.v6.get(u128::from(a)),
        };
        // NONE (a gap) is past the end of `infos`.
        self.infos.get(id as usize)
    }
}

/// Where the hosting table comes from.
#[derive(Debug, Clone)]
pub enum HostingSource {
    /// An iptoasn.com TSV file (IPv4, IPv6 or combined).
    Iptoasn(PathBuf),
    /// A MaxMind-format ASN database and optionally a country database.
    Mmdb {
        /// GeoLite2-ASN or DB-IP ASN Lite.
        asn: PathBuf,
        /// GeoLite2-Country / -City or DB-IP Country Lite.
        country: Option<PathBuf>,
    },
}

/// The loaded hosting table.
#[derive(Debug)]
pub struct HostingTable(Inner);

#[derive(Debug)]
enum Inner {
    Ranges(Box<RangeTable>),
    Mmdb {
        asn: Box<Reader<Vec<u8>>>,
        country: Option<Box<Reader<Vec<u8>>>>,
    },
}

fn open_mmdb(path: &Path) -> Result<Box<Reader<Vec<u8>>>, RoutingError> {
    let mmdb = |source| RoutingError::Mmdb {
        path: path.to_path_buf(),
        source,
    };
    let reader = Reader::from_source(input::read_all(path)?).map_err(mmdb)?;
    reader.verify().map_err(mmdb)?;
    Ok(Box::new(reader))
}

impl HostingTable {
    /// Loads the table.
    pub fn load(source: &HostingSource) -> Result<HostingTable, RoutingError> {
        Ok(match source {
            HostingSource::Iptoasn(path) => {
                HostingTable(Inner::Ranges(Box::new(RangeTable::load(path)?)))
            }
            HostingSource::Mmdb { asn, country } => HostingTable(Inner::Mmdb {
                asn: open_mmdb(asn)?,
                country: country.as_deref().map(open_mmdb).transpose()?,
            }),
        })
    }

    /// The hosting network of `addr`; `None` when the table does not know it.
    pub fn lookup(&self, addr: IpAddr) -> Option<HostingInfo> {
        match &self.0 {
            Inner::Ranges(t) => t.get(addr).cloned(),
            Inner::Mmdb { asn, country } => {
                // The databases were verified when loaded; a record of another shape (not an
                // ASN or country database) decodes to nothing.
                let (number, name) = asn
                    .lookup(addr)
                    .ok()
                    .and_then(|r| r.decode::<geoip2::Asn>().ok().flatten())
                    .map(|a| {
                        (
                            a.autonomous_system_number,
                            a.autonomous_system_organization.map(str::to_string),
                        )
                    })
                    .unwrap_or((None, None));
                let cc = country.as_ref().and_then(|c| {
                    let r = c.lookup(addr).ok()?;
                    let rec = r.decode::<geoip2::Country>().ok().flatten()?;
                    rec.country.iso_code.map(str::to_string)
                });
                (number.is_some() || cc.is_some()).then_some(HostingInfo {
                    asn: number,
                    as_name: name,
                    country: cc,
                })
            }
        }
    }
}
