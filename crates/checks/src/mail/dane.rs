//! `dane` (RFC 7672, RFC 6698 / 7671): TLSA records at `_25._tcp.<mx host>`, DNSSEC-secure,
//! matched against the chain each MX presented after STARTTLS.

use sha2::{Digest, Sha256, Sha512};
use uptake_model::{Finding, Status};
use x509_parser::prelude::{FromDer, X509Certificate};

use super::Smtp;
use crate::Lookup;

/// A TLSA record (RFC 6698 §2.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tlsa {
    /// Certificate usage: 0 PKIX-TA, 1 PKIX-EE, 2 DANE-TA, 3 DANE-EE.
    pub usage: u8,
    /// Selector: 0 full certificate, 1 SubjectPublicKeyInfo.
    pub selector: u8,
    /// Matching type: 0 exact, 1 SHA-256, 2 SHA-512.
    pub matching: u8,
    /// Certificate association data.
    pub data: Vec<u8>,
}

impl Tlsa {
    /// Presentation form `3 1 1 <hex>`.
    pub fn presentation(&self) -> String {
        let hex: String = self.data.iter().map(|b| format!("{b:02x}")).collect();
        format!("{} {} {} {hex}", self.usage, self.selector, self.matching)
    }
}

/// Whether a usage 2 or 3 TLSA record matches the presented chain (`chain_der[0]` the
/// leaf): usage 3 (DANE-EE) is compared with the leaf, usage 2 (DANE-TA) with each
/// certificate after the leaf (an issuer in the presented chain). Selector 0 takes the whole
/// certificate DER, 1 its SubjectPublicKeyInfo DER; matching 0 compares the bytes, 1 their
/// SHA-256, 2 their SHA-512. Usages 0/1 (unusable for SMTP, RFC 7672 §3.1.3), unknown
/// selectors / matching types and unparseable certificates never match. As in the contract,
/// for usage 2 the chain from the matched issuer down to the leaf and the leaf's name are
/// not checked further.
pub fn matches(tlsa: &Tlsa, chain_der: &[Vec<u8>]) -> bool {
    let candidates = match tlsa.usage {
        3 => chain_der.get(..1).unwrap_or_default(),
        2 => chain_der.get(1..).unwrap_or_default(),
        _ => return false,
    };
    candidates.iter().any(|der| {
        let selected: Vec<u8> = match tlsa.selector {
            0 => der.clone(),
            1 => match X509Certificate::from_der(der) {
                Ok((_, c)) => c.public_key().raw.to_vec(),
                Err(_) => return false,
            },
            _ => return false,
        };
        match tlsa.matching {
            0 => selected == tlsa.data,
            1 => Sha256::digest(&selected).as_slice() == tlsa.data.as_slice(),
            2 => Sha512::digest(&selected).as_slice() == tlsa.data.as_slice(),
            _ => false,
        }
    })
}

/// What was measured for one MX host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MxDane<'a> {
    /// The MX host name.
    pub host: &'a str,
    /// The TLSA lookup at `_25._tcp.<host>` through the validating resolver.
    pub tlsa: &'a Lookup<Tlsa>,
    /// The answer (data, NODATA or NXDOMAIN) had the AD bit.
    pub secure: bool,
    /// The SMTP/STARTTLS outcome, whose chain the records are matched against.
    pub smtp: &'a Smtp,
}

/// The `dane` finding and its evidence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dane {
    /// valid, invalid, insecure, absent, not_applicable, error.
    pub finding: Finding,
    /// `dane_mx_secure`: every MX host's TLSA answer had AD; `None` when a lookup failed.
    pub mx_secure: Option<bool>,
    /// `dane_tlsa`: `<mx>: usage selector type data` for every record found.
    pub records: Vec<String>,
}

/// `dane` of a domain's MX hosts (call only when `mx` is `mx`, see
/// [`super::requires_mx`]; an empty list is `not_applicable`).
///
/// In order: a failed TLSA lookup -> `error`; no MX has TLSA records -> `absent`; some MX
/// has records in an answer without AD -> `insecure`; otherwise every MX must have secure
/// records of which one usage 2/3 record [`matches()`] the chain it presented -> `valid`,
/// else `invalid` naming the MX hosts that lack TLSA, lack STARTTLS or mismatch. An MX whose
/// SMTP probe errored makes the check `error` unless another MX is already `invalid`.
pub fn dane(mx: &[MxDane]) -> Dane {
    let records: Vec<String> = mx
        .iter()
        .flat_map(|m| {
            m.tlsa
                .records()
                .unwrap_or_default()
                .iter()
                .map(move |t| format!("{}: {}", m.host, t.presentation()))
        })
        .collect();
    let failed = mx.iter().find_map(|m| match m.tlsa {
        Lookup::Failed(why) => Some(format!("TLSA of {}: {why}", m.host)),
        _ => None,
    });
    let mx_secure = failed.is_none().then(|| mx.iter().all(|m| m.secure));
    let done = |finding| Dane {
        finding,
        mx_secure,
        records: records.clone(),
    };
    if mx.is_empty() {
        return done(Finding::with_reason(Status::NotApplicable, "no MX"));
    }
    if let Some(why) = failed {
        return done(Finding::error(why));
    }
    let has = |m: &MxDane| !m.tlsa.records().unwrap_or_default().is_empty();
    if !mx.iter().any(has) {
        return done(Finding::of(Status::Absent));
    }
    if let Some(m) = mx.iter().find(|m| has(m) && !m.secure) {
        return done(Finding::with_reason(
            Status::Insecure,
            format!("TLSA of {} is not DNSSEC-secure", m.host),
        ));
    }
    let mut problems = Vec::new();
    let mut errors = Vec::new();
    for m in mx {
        let tlsa = m.tlsa.records().unwrap_or_default();
        if tlsa.is_empty() {
            problems.push(format!("{}: no TLSA", m.host));
            continue;
        }
        if !m.secure {
            problems.push(format!("{}: TLSA answer not secure", m.host));
            continue;
        }
        match m.smtp {
            Smtp::Tls { chain, .. } => {
                if !tlsa.iter().any(|t| matches(t, chain)) {
                    problems.push(format!("{}: no TLSA record matches", m.host));
                }
            }
            Smtp::NoStarttls(_) | Smtp::HandshakeFailed(_) => {
                problems.push(format!("{}: no STARTTLS", m.host))
            }
            Smtp::Error(why) => errors.push(format!("{}: {why}", m.host)),
        }
    }
    done(if !problems.is_empty() {
        Finding::with_reason(Status::Invalid, problems.join("; "))
    } else if !errors.is_empty() {
        Finding::error(errors.join("; "))
    } else {
        Finding::of(Status::Valid)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testpki::{Pki, DAY, NOW};
    use crate::web::tls::TlsVersion;

    fn spki(der: &[u8]) -> Vec<u8> {
        X509Certificate::from_der(der)
            .unwrap()
            .1
            .public_key()
            .raw
            .to_vec()
    }

    fn tlsa(usage: u8, selector: u8, matching: u8, data: Vec<u8>) -> Tlsa {
        Tlsa {
            usage,
            selector,
            matching,
            data,
        }
    }

    #[test]
    fn matching_rules() {
        let pki = Pki::new();
        let chain = pki.chain(&["mx.example.nl"], NOW - DAY, NOW + DAY);
        let (leaf, int) = (&chain[0], &chain[1]);
        let sha256 = |b: &[u8]| Sha256::digest(b).to_vec();
        let sha512 = |b: &[u8]| Sha512::digest(b).to_vec();
        // 3 1 1: SHA-256 of the leaf's SPKI (the common DANE-EE record).
        assert!(matches(&tlsa(3, 1, 1, sha256(&spki(leaf))), &chain));
        // 2 0 1: SHA-256 of the issuer certificate.
        assert!(matches(&tlsa(2, 0, 1, sha256(int)), &chain));
        assert!(matches(&tlsa(3, 0, 0, leaf.clone()), &chain));
        assert!(matches(&tlsa(3, 1, 2, sha512(&spki(leaf))), &chain));
        assert!(matches(&tlsa(2, 1, 2, sha512(&spki(int))), &chain));
        // Usage decides which certificate: 3 never matches the issuer, 2 never the leaf.
        assert!(!matches(&tlsa(3, 0, 1, sha256(int)), &chain));
        assert!(!matches(&tlsa(2, 1, 1, sha256(&spki(leaf))), &chain));
        // PKIX usages are not used for SMTP.
        assert!(!matches(&tlsa(1, 1, 1, sha256(&spki(leaf))), &chain));
        // Wrong matching type, selector, or data.
        assert!(!matches(&tlsa(3, 1, 2, sha256(&spki(leaf))), &chain));
        assert!(!matches(&tlsa(3, 0, 1, sha256(&spki(leaf))), &chain));
        assert!(!matches(&tlsa(3, 1, 3, sha256(&spki(leaf))), &chain));
        let other = pki.chain(&["mx.example.nl"], NOW - DAY, NOW + DAY);
        assert!(!matches(&tlsa(3, 1, 1, sha256(&spki(&other[0]))), &chain));
        assert!(!matches(&tlsa(3, 1, 1, vec![]), &[]));
        assert_eq!(tlsa(3, 1, 1, vec![0xab, 0x01]).presentation(), "3 1 1 ab01");
    }

    #[test]
    fn statuses() {
        let pki = Pki::new();
        let chain = pki.chain(&["mx1.example.nl"], NOW - DAY, NOW + DAY);
        let good = Lookup::Data(vec![tlsa(
            3,
            1,
            1,
            Sha256::digest(spki(&chain[0])).to_vec(),
        )]);
        let wrong = Lookup::Data(vec![tlsa(3, 1, 1, vec![0; 32])]);
        let tls = Smtp::Tls {
            version: TlsVersion::Tls13,
            chain: chain.clone(),
        };
        let plain = Smtp::NoStarttls("not advertised".into());
        let err = Smtp::Error("timeout".into());
        let nx = Lookup::NxDomain;
        let failed = Lookup::Failed("SERVFAIL".into());
        let m = |host, tlsa, secure, smtp| MxDane {
            host,
            tlsa,
            secure,
            smtp,
        };
        let status = |mx: &[MxDane]| dane(mx).finding.status;

        let d = dane(&[m("mx1", &good, true, &tls), m("mx2", &good, true, &tls)]);
        assert_eq!(d.finding, Finding::of(Status::Valid));
        assert_eq!(d.mx_secure, Some(true));
        assert_eq!(d.records.len(), 2);
        assert!(d.records[0].starts_with("mx1: 3 1 1 "));

        let d = dane(&[m("mx1", &good, true, &tls), m("mx2", &nx, true, &tls)]);
        assert_eq!(
            d.finding,
            Finding::with_reason(Status::Invalid, "mx2: no TLSA")
        );
        assert_eq!(status(&[m("mx1", &wrong, true, &tls)]), Status::Invalid);
        assert_eq!(status(&[m("mx1", &good, true, &plain)]), Status::Invalid);
        // An SMTP error is an error, unless another MX is already invalid.
        assert_eq!(status(&[m("mx1", &good, true, &err)]), Status::Error);
        assert_eq!(
            status(&[m("mx1", &good, true, &err), m("mx2", &wrong, true, &tls)]),
            Status::Invalid
        );
        // Insecure wins over invalid; absent when nobody has records.
        let d = dane(&[m("mx1", &good, false, &tls), m("mx2", &wrong, true, &tls)]);
        assert_eq!(d.finding.status, Status::Insecure);
        assert_eq!(d.mx_secure, Some(false));
        let d = dane(&[
            m("mx1", &nx, true, &tls),
            m("mx2", &Lookup::NoData, false, &tls),
        ]);
        assert_eq!(d.finding.status, Status::Absent);
        assert_eq!(d.mx_secure, Some(false));
        // Secure records, but the other MX has none and is insecure: invalid.
        assert_eq!(
            status(&[m("mx1", &good, true, &tls), m("mx2", &nx, false, &tls)]),
            Status::Invalid
        );
        let d = dane(&[m("mx1", &good, true, &tls), m("mx2", &failed, false, &tls)]);
        assert_eq!(d.finding.status, Status::Error);
        assert_eq!(d.mx_secure, None);
        assert_eq!(status(&[]), Status::NotApplicable);
    }
}
