//! `dnssec` and `dnssec_algorithm` (RFC 4033-4035, RFC 8624).

use uptake_model::{Finding, Status};

use crate::Lookup;

/// RCODE and AD bit of a validating resolver's answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Answer {
    /// RCODE number (0 NOERROR, 2 SERVFAIL, 3 NXDOMAIN, 5 REFUSED ...).
    pub rcode: u16,
    /// AD bit.
    pub authentic_data: bool,
}

const NOERROR: u16 = 0;
const SERVFAIL: u16 = 2;
const NXDOMAIN: u16 = 3;

/// `dnssec` from the answer to the query at the domain (CD=0) and, when that was SERVFAIL,
/// the same query with CD=1: data with CD=1 means the data exists but does not validate.
pub fn status(
    first: &Result<Answer, String>,
    cd_retry: Option<&Result<Answer, String>>,
) -> Finding {
    match first {
        Err(reason) => Finding::error(reason.clone()),
        Ok(a) if a.rcode == NOERROR || a.rcode == NXDOMAIN => Finding::of(if a.authentic_data {
            Status::Secure
        } else {
            Status::Insecure
        }),
        Ok(a) if a.rcode == SERVFAIL => match cd_retry {
            Some(Ok(b)) if b.rcode == NOERROR || b.rcode == NXDOMAIN => Finding::with_reason(
                Status::Bogus,
                "SERVFAIL from the validating resolver, answered with CD=1",
            ),
            Some(Ok(b)) => Finding::error(format!("SERVFAIL, and rcode {} with CD=1", b.rcode)),
            Some(Err(reason)) => Finding::error(format!("SERVFAIL, and with CD=1: {reason}")),
            None => Finding::error("SERVFAIL"),
        },
        Ok(a) => Finding::error(format!("rcode {} from the resolver", a.rcode)),
    }
}

/// A DNSKEY, reduced to what the algorithm check needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Dnskey {
    /// Flags (256 zone key, 257 with SEP).
    pub flags: u16,
    /// Algorithm number.
    pub algorithm: u8,
    /// RSA modulus size in bits (RSA algorithms only).
    pub rsa_bits: Option<u32>,
}

fn is_rsa(alg: u8) -> bool {
    matches!(alg, 1 | 5 | 7 | 8 | 10)
}

/// `dnssec_algorithm` given the `dnssec` status and the zone's DNSKEY RRset.
pub fn algorithm(dnssec: Status, keys: &Lookup<Dnskey>) -> Finding {
    match dnssec {
        Status::Insecure => return Finding::of(Status::NotApplicable),
        Status::Secure | Status::Bogus => {}
        _ => return Finding::error("DNSSEC status could not be measured"),
    }
    let keys = match keys {
        Lookup::Failed(r) => return Finding::error(format!("DNSKEY: {r}")),
        Lookup::Data(k) => k,
        Lookup::NoData | Lookup::NxDomain => return Finding::error("no DNSKEY at the zone apex"),
    };
    let mut problems = Vec::new();
    for k in keys.iter().filter(|k| k.flags & 0x0100 != 0) {
        match k.algorithm {
            13..=16 => {}
            8 | 10 => match k.rsa_bits {
                Some(bits) if bits >= 2048 => {}
                Some(bits) => problems.push(format!(
                    "RSA key of {bits} bits (algorithm {})",
                    k.algorithm
                )),
                None => problems.push(format!("unreadable RSA key (algorithm {})", k.algorithm)),
            },
            1 | 3 | 5 | 6 | 7 | 12 => {
                problems.push(format!("deprecated algorithm {}", k.algorithm))
            }
            other => problems.push(format!("unknown algorithm {other}")),
        }
    }
    if keys.iter().all(|k| k.flags & 0x0100 == 0) {
        return Finding::error("no zone key in the DNSKEY RRset");
    }
    if problems.is_empty() {
        Finding::of(Status::Modern)
    } else {
        problems.sort();
        problems.dedup();
        Finding::with_reason(Status::Deprecated, problems.join("; "))
    }
}

/// Modulus size of an RSA public key in DNSKEY wire form (RFC 3110).
pub fn rsa_modulus_bits(algorithm: u8, key: &[u8]) -> Option<u32> {
    if !is_rsa(algorithm) {
        return None;
    }
    let (exp_len, rest) = match key.first()? {
        0 => {
            let len = u16::from_be_bytes([*key.get(1)?, *key.get(2)?]) as usize;
            (len, key.get(3..)?)
        }
        n => (*n as usize, key.get(1..)?),
    };
    let modulus = rest.get(exp_len..)?;
    let first = modulus.iter().position(|b| *b != 0)?;
    let significant = &modulus[first..];
    Some((significant.len() as u32 - 1) * 8 + (8 - significant[0].leading_zeros()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ans(rcode: u16, ad: bool) -> Result<Answer, String> {
        Ok(Answer {
            rcode,
            authentic_data: ad,
        })
    }

    #[test]
    fn statuses() {
        assert_eq!(status(&ans(0, true), None).status, Status::Secure);
        assert_eq!(status(&ans(3, true), None).status, Status::Secure);
        assert_eq!(status(&ans(0, false), None).status, Status::Insecure);
        assert_eq!(
            status(&ans(2, false), Some(&ans(0, false))).status,
            Status::Bogus
        );
        assert_eq!(
            status(&ans(2, false), Some(&ans(2, false))).status,
            Status::Error
        );
        assert_eq!(status(&ans(2, false), None).status, Status::Error);
        assert_eq!(status(&ans(5, false), None).status, Status::Error);
        assert_eq!(status(&Err("timeout".into()), None).status, Status::Error);
    }

    #[test]
    fn algorithms() {
        let k = |alg, bits| Dnskey {
            flags: 257,
            algorithm: alg,
            rsa_bits: bits,
        };
        assert_eq!(
            algorithm(Status::Insecure, &Lookup::NoData).status,
            Status::NotApplicable
        );
        assert_eq!(
            algorithm(Status::Secure, &Lookup::Data(vec![k(13, None)])).status,
            Status::Modern
        );
        assert_eq!(
            algorithm(Status::Secure, &Lookup::Data(vec![k(8, Some(2048))])).status,
            Status::Modern
        );
        assert_eq!(
            algorithm(Status::Secure, &Lookup::Data(vec![k(8, Some(1024))])).status,
            Status::Deprecated
        );
        assert_eq!(
            algorithm(Status::Bogus, &Lookup::Data(vec![k(5, Some(2048))])).status,
            Status::Deprecated
        );
        assert_eq!(
            algorithm(Status::Secure, &Lookup::Failed("x".into())).status,
            Status::Error
        );
        assert_eq!(
            algorithm(Status::Error, &Lookup::NoData).status,
            Status::Error
        );
    }

    #[test]
    fn rsa_bits() {
        let mut key = vec![3, 1, 0, 1];
        key.push(0x80);
        key.extend(std::iter::repeat_n(0u8, 255));
        assert_eq!(rsa_modulus_bits(8, &key), Some(2048));
        assert_eq!(rsa_modulus_bits(13, &key), None);
        assert_eq!(rsa_modulus_bits(8, &[]), None);
        assert_eq!(rsa_modulus_bits(8, &[0, 0]), None);
    }
}
