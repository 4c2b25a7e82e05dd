//! IP prefixes and the integer keys the lookup tables use (`u32` for IPv4, `u128` for IPv6).

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::str::FromStr;

/// An IP prefix in canonical form (no bits set after `len`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Prefix {
    addr: IpAddr,
    len: u8,
}

/// Why a prefix did not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PrefixError {
    /// Not `address/length`.
    #[error("'{0}' is not address/length")]
    Syntax(String),
    /// The length exceeds the family's bits.
    #[error("'{0}': length beyond the address family's bits")]
    Length(String),
    /// Bits set after the length (e.g. 192.0.2.1/24).
    #[error("'{0}': host bits set after the prefix length")]
    HostBits(String),
}

impl Prefix {
    /// A prefix; fails when `len` is too long or host bits are set.
    pub fn new(addr: IpAddr, len: u8) -> Result<Prefix, PrefixError> {
        let text = || format!("{addr}/{len}");
        let ok = match addr {
            IpAddr::V4(a) => len <= 32 && u32::from(a).first(len) == u32::from(a),
            IpAddr::V6(a) => len <= 128 && u128::from(a).first(len) == u128::from(a),
        };
        if len > max_len(addr) {
            return Err(PrefixError::Length(text()));
        }
        if !ok {
            return Err(PrefixError::HostBits(text()));
        }
        Ok(Prefix { addr, len })
    }

    /// The prefix of `len` bits that contains `addr` (host bits cleared).
    pub fn containing(addr: IpAddr, len: u8) -> Prefix {
        let len = len.min(max_len(addr));
        let addr = match addr {
            IpAddr::V4(a) => IpAddr::V4(Ipv4Addr::from(u32::from(a).first(len))),
            IpAddr::V6(a) => IpAddr::V6(Ipv6Addr::from(u128::from(a).first(len))),
        };
        Prefix { addr, len }
    }

    /// The network address.
    pub fn addr(&self) -> IpAddr {
        self.addr
    }

    /// The prefix length.
    pub fn length(&self) -> u8 {
        self.len
    }

    /// The last address of the prefix.
    pub fn last(&self) -> IpAddr {
        match self.addr {
            IpAddr::V4(a) => IpAddr::V4(Ipv4Addr::from(u32::from(a).last(self.len))),
            IpAddr::V6(a) => IpAddr::V6(Ipv6Addr::from(u128::from(a).last(self.len))),
        }
    }

    /// Whether `addr` lies in the prefix.
    pub fn contains(&self, addr: IpAddr) -> bool {
        match (self.addr, addr) {
            (IpAddr::V4(n), IpAddr::V4(a)) => u32::from(a).first(self.len) == u32::from(n),
            (IpAddr::V6(n), IpAddr::V6(a)) => u128::from(a).first(self.len) == u128::from(n),
            _ => false,
        }
    }

    /// Whether `other` lies entirely within this prefix (RFC 6811 "covers").
    pub fn covers(&self, other: &Prefix) -> bool {
        self.len <= other.len && self.contains(other.addr)
    }
}

fn max_len(addr: IpAddr) -> u8 {
    if addr.is_ipv4() {
        32
    } else {
        128
    }
}

impl fmt::Display for Prefix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.len)
    }
}

impl FromStr for Prefix {
    type Err = PrefixError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let syntax = || PrefixError::Syntax(s.to_string());
        let (a, l) = s.split_once('/').ok_or_else(syntax)?;
        let addr: IpAddr = a.parse().map_err(|_| syntax())?;
        let len: u8 = l.parse().map_err(|_| syntax())?;
        if len > max_len(addr) {
            return Err(PrefixError::Length(s.to_string()));
        }
        Prefix::new(addr, len).map_err(|_| PrefixError::HostBits(s.to_string()))
    }
}

/// An address as an integer key: IPv4 as `u32`, IPv6 as `u128`.
pub(crate) trait Key: Copy + Ord + Eq + std::hash::Hash + fmt::Debug + Send + Sync {
    /// The address with the bits after `len` cleared.
    fn first(self, len: u8) -> Self;
    /// The address with the bits after `len` set.
    fn last(self, len: u8) -> Self;
    /// The next address, `None` after the last one.
    fn next(self) -> Option<Self>;
    /// The top 16 bits (the bucket of the first-level index).
    fn top16(self) -> usize;
    /// The first address of a top-16-bit bucket.
    fn bucket_start(b: usize) -> Self;
    /// The key back as an address.
    fn to_ip(self) -> IpAddr;
}

macro_rules! key {
    ($t:ty, $bits:literal, $ip:ident) => {
        impl Key for $t {
            fn first(self, len: u8) -> Self {
                self & !(<$t>::MAX.checked_shr(u32::from(len)).unwrap_or(0))
            }
            fn last(self, len: u8) -> Self {
                self | <$t>::MAX.checked_shr(u32::from(len)).unwrap_or(0)
            }
            fn next(self) -> Option<Self> {
                self.checked_add(1)
            }
            fn top16(self) -> usize {
                (self >> ($bits - 16)) as usize
            }
            fn bucket_start(b: usize) -> Self {
                (b as $t) << ($bits - 16)
            }
            fn to_ip(self) -> IpAddr {
                IpAddr::$ip(self.into())
            }
        }
    };
}
key!(u32, 32, V4);
key!(u128, 128, V6);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_and_canonical_form() {
        let p: Prefix = "192.0.2.0/24".parse().unwrap();
        assert_eq!(p.to_string(), "192.0.2.0/24");
        assert_eq!(p.last().to_string(), "192.0.2.255");
        assert!(p.contains("192.0.2.77".parse().unwrap()));
        assert!(!p.contains("192.0.3.0".parse().unwrap()));
        assert!(!p.contains("2001:db8::1".parse().unwrap()));
        assert_eq!(
            "192.0.2.1/24".parse::<Prefix>(),
            Err(PrefixError::HostBits("192.0.2.1/24".into()))
        );
        assert_eq!(
            "192.0.2.0/33".parse::<Prefix>(),
            Err(PrefixError::Length("192.0.2.0/33".into()))
        );
        assert!(matches!(
            "192.0.2.0".parse::<Prefix>(),
            Err(PrefixError::Syntax(_))
        ));
        let all: Prefix = "::/0".parse().unwrap();
        assert_eq!(
            all.last().to_string(),
            "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"
        );
        let host: Prefix = "2001:db8::1/128".parse().unwrap();
        assert!(all.covers(&host) && !host.covers(&all));
        assert_eq!(
            Prefix::containing("198.51.100.77".parse().unwrap(), 25).to_string(),
            "198.51.100.0/25"
        );
    }
}
