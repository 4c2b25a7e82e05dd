//! `certificate` (RFC 5280 path validation, RFC 6125 name matching) of the chain a TLS
//! server presented, for the web host (web checks) or an MX host (STARTTLS, mail).
//!
//! uptake validates the path itself instead of taking rustls/webpki's verdict: webpki stops
//! at the first problem it meets (an expired leaf is reported `Expired` before its issuer is
//! looked up), which cannot give the contract's precedence. Here each question is answered
//! separately and the first that fails wins, in the contract's order:
//!
//! 1. `self_signed` — the leaf's issuer equals its subject, its signature verifies with its
//!    own key, and it is not a trust anchor;
//! 2. `untrusted` — no path leaf -> presented intermediates (CA:TRUE, signatures verified)
//!    -> trust anchor (an anchor with the issuer's subject whose key verifies the signature,
//!    or the certificate being an anchor itself);
//! 3. `expired` — `now` outside notBefore..=notAfter of the leaf or of an intermediate on the
//!    path (trust anchors' own validity is not checked, as in webpki);
//! 4. `name_mismatch` — no subjectAltName dNSName matches the host (no CN fallback; a
//!    wildcard `*.` is only the whole leftmost label, matches exactly one label, and never
//!    directly under a TLD);
//! 5. else `valid`.
//!
//! Not checked (and not in the contract): revocation, key usage / EKU, name constraints,
//! path length constraints, weak keys or hashes (the evidence records key and signature).
//! Signatures supported (ring through x509-parser): RSA PKCS#1 SHA-1/256/384/512 (SHA-2 with
//! keys of 2048+ bits), RSA-PSS, ECDSA P-256/P-384, Ed25519; a signature that cannot be
//! verified does not link.

use uptake_model::{Finding, Status};
use x509_parser::prelude::{FromDer, GeneralName, X509Certificate};
use x509_parser::public_key::PublicKey;
use x509_parser::x509::SubjectPublicKeyInfo;

/// Longest path of presented intermediates followed.
const MAX_DEPTH: usize = 8;

/// The trust anchors (`--ca-file`, default the system roots), parsed once per scan.
#[derive(Debug, Clone, Default)]
pub struct TrustStore {
    anchors: Vec<Anchor>,
}

#[derive(Debug, Clone)]
struct Anchor {
    /// The anchor certificate (DER), re-parsed for its key when a name matches.
    der: Vec<u8>,
    /// Raw DER of its subject name.
    subject: Vec<u8>,
    /// Raw DER of its SubjectPublicKeyInfo.
    spki: Vec<u8>,
}

impl TrustStore {
    /// Builds the store from DER certificates (e.g. the PEM blocks of `--ca-file` or
    /// `/etc/ssl/certs/ca-certificates.crt`, decoded). Certificates that do not parse are
    /// skipped; the second value says which (index and error) so the caller can warn.
    pub fn from_der(certificates: &[Vec<u8>]) -> (TrustStore, Vec<String>) {
        let mut anchors = Vec::new();
        let mut skipped = Vec::new();
        for (i, der) in certificates.iter().enumerate() {
            match X509Certificate::from_der(der) {
                Ok((_, c)) => anchors.push(Anchor {
                    der: der.clone(),
                    subject: c.subject().as_raw().to_vec(),
                    spki: c.public_key().raw.to_vec(),
                }),
                Err(e) => skipped.push(format!("trust anchor {i}: {e}")),
            }
        }
        (TrustStore { anchors }, skipped)
    }

    /// The certificate is itself an anchor (same subject and key).
    fn contains(&self, c: &X509Certificate) -> bool {
        self.anchors
            .iter()
            .any(|a| a.subject == c.subject().as_raw() && a.spki == c.public_key().raw)
    }

    /// Some anchor issued `c` (subject equals `c`'s issuer, its key verifies the signature).
    fn issued(&self, c: &X509Certificate) -> bool {
        self.anchors
            .iter()
            .filter(|a| a.subject == c.issuer().as_raw())
            .any(|a| match X509Certificate::from_der(&a.der) {
                Ok((_, anchor)) => c.verify_signature(Some(anchor.public_key())).is_ok(),
                Err(_) => false,
            })
    }
}

/// Leaf evidence (the `certificate_*` columns, and per MX for mail).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CertificateEvidence {
    /// Key type and size: `RSA 2048`, `EC P-256`, `Ed25519` (else the algorithm OID).
    pub key: Option<String>,
    /// Signature algorithm, OpenSSL's name (`sha256WithRSAEncryption`,
    /// `ecdsa-with-SHA256`, `ED25519`), else the OID.
    pub signature: Option<String>,
    /// notAfter, RFC 3339 UTC (`2027-01-31T12:00:00Z`).
    pub not_after: Option<String>,
    /// Issuer distinguished name (`CN=Testbed CA, O=uptake`).
    pub issuer: Option<String>,
}

/// Evaluates the chain a server presented (`chain_der[0]` the leaf, then what followed it in
/// the Certificate message) for `host` against `trust` at `now` (Unix seconds).
///
/// Empty chain -> `error` ("no certificate presented"); a leaf that does not parse ->
/// `untrusted` (no path can be built) with empty evidence. Otherwise the status follows the
/// module's precedence, with a reason for every status but `valid`.
pub fn certificate(
    chain_der: &[Vec<u8>],
    host: &str,
    trust: &TrustStore,
    now: i64,
) -> (Finding, CertificateEvidence) {
    let Some(leaf_der) = chain_der.first() else {
        return (
            Finding::error("no certificate presented"),
            CertificateEvidence::default(),
        );
    };
    let leaf = match X509Certificate::from_der(leaf_der) {
        Ok((_, c)) => c,
        Err(e) => {
            return (
                Finding::with_reason(Status::Untrusted, format!("leaf does not parse: {e}")),
                CertificateEvidence::default(),
            )
        }
    };
    let evidence = evidence(&leaf);
    let intermediates: Vec<X509Certificate> = chain_der[1..]
        .iter()
        .filter_map(|d| X509Certificate::from_der(d).ok().map(|(_, c)| c))
        .collect();
    let finding = if is_self_signed(&leaf) && !trust.contains(&leaf) {
        Finding::with_reason(Status::SelfSigned, "self-signed leaf, not a trust anchor")
    } else {
        match path(&leaf, &intermediates, trust, &mut Vec::new()) {
            None => Finding::with_reason(Status::Untrusted, "no chain to a trust anchor"),
            Some(path) => {
                let on_path = std::iter::once(&leaf).chain(path.iter().map(|&i| &intermediates[i]));
                if let Some(why) = on_path
                    .enumerate()
                    .find_map(|(i, c)| time_problem(c, now, i))
                {
                    Finding::with_reason(Status::Expired, why)
                } else if !names_match(&leaf, host) {
                    Finding::with_reason(
                        Status::NameMismatch,
                        format!("no subjectAltName matches {host}"),
                    )
                } else {
                    Finding::of(Status::Valid)
                }
            }
        }
    };
    (finding, evidence)
}

fn is_self_signed(c: &X509Certificate) -> bool {
    c.subject().as_raw() == c.issuer().as_raw() && c.verify_signature(None).is_ok()
}

/// Indexes into `pool` of a path from `c` to a trust anchor (empty when `c` is an anchor or
/// an anchor issued it); `used` holds the indexes already on the path.
fn path(
    c: &X509Certificate,
    pool: &[X509Certificate],
    trust: &TrustStore,
    used: &mut Vec<usize>,
) -> Option<Vec<usize>> {
    if trust.contains(c) || trust.issued(c) {
        return Some(used.clone());
    }
    if used.len() >= MAX_DEPTH {
        return None;
    }
    for (i, issuer) in pool.iter().enumerate() {
        if used.contains(&i)
            || issuer.subject().as_raw() != c.issuer().as_raw()
            || !issuer.is_ca()
            || c.verify_signature(Some(issuer.public_key())).is_err()
        {
            continue;
        }
        used.push(i);
        if let Some(p) = path(issuer, pool, trust, used) {
            return Some(p);
        }
        used.pop();
    }
    None
}

/// Why `c` (position `i` on the path, 0 the leaf) is not valid at `now`, if it is not.
fn time_problem(c: &X509Certificate, now: i64, i: usize) -> Option<String> {
    let which = if i == 0 { "leaf" } else { "intermediate" };
    let v = c.validity();
    if now > v.not_after.timestamp() {
        Some(format!(
            "{which} expired at {}",
            rfc3339(v.not_after.timestamp())
        ))
    } else if now < v.not_before.timestamp() {
        Some(format!(
            "{which} not valid before {}",
            rfc3339(v.not_before.timestamp())
        ))
    } else {
        None
    }
}

/// RFC 6125 §6.4 matching of `host` against the leaf's subjectAltName dNSNames.
fn names_match(leaf: &X509Certificate, host: &str) -> bool {
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    let Ok(Some(san)) = leaf.subject_alternative_name() else {
        return false;
    };
    san.value.general_names.iter().any(|n| match n {
        GeneralName::DNSName(name) => dns_name_matches(name, &host),
        _ => false,
    })
}

/// `presented` (a SAN dNSName, maybe `*.example.nl`) matches `host` (lower case, no dot at
/// the end).
pub(crate) fn dns_name_matches(presented: &str, host: &str) -> bool {
    let presented = presented.trim_end_matches('.').to_ascii_lowercase();
    match presented.strip_prefix("*.") {
        Some(rest) => {
            rest.contains('.')
                && host
                    .split_once('.')
                    .is_some_and(|(label, parent)| !label.is_empty() && parent == rest)
        }
        None => presented == host,
    }
}

fn evidence(leaf: &X509Certificate) -> CertificateEvidence {
    CertificateEvidence {
        key: Some(key_description(leaf.public_key())),
        signature: Some(signature_name(
            &leaf.signature_algorithm.algorithm.to_id_string(),
        )),
        not_after: Some(rfc3339(leaf.validity().not_after.timestamp())),
        issuer: Some(leaf.issuer().to_string()),
    }
}

/// `RSA 2048`, `EC P-256`, `Ed25519`, or the algorithm OID.
fn key_description(spki: &SubjectPublicKeyInfo) -> String {
    let alg = spki.algorithm.algorithm.to_id_string();
    match spki.parsed() {
        Ok(PublicKey::RSA(rsa)) => {
            let m = rsa.modulus;
            let bits = m.iter().position(|b| *b != 0).map_or(0, |first| {
                (m.len() - first - 1) * 8 + (8 - m[first].leading_zeros() as usize)
            });
            format!("RSA {bits}")
        }
        Ok(PublicKey::EC(_)) => {
            let curve = spki
                .algorithm
                .parameters
                .as_ref()
                .and_then(|p| p.as_oid().ok())
                .map(|o| o.to_id_string());
            match curve.as_deref() {
                Some("1.2.840.10045.3.1.7") => "EC P-256".into(),
                Some("1.3.132.0.34") => "EC P-384".into(),
                Some("1.3.132.0.35") => "EC P-521".into(),
                Some(other) => format!("EC {other}"),
                None => "EC".into(),
            }
        }
        _ => match alg.as_str() {
            oid if ml_dsa(oid).is_some() => signature_name(oid),
            "1.3.101.112" => "Ed25519".into(),
            "1.3.101.113" => "Ed448".into(),
            "1.2.840.10040.4.1" => "DSA".into(),
            _ => alg,
        },
    }
}

/// ML-DSA (FIPS 204) by its OID (NIST CSOR, the same for key and signature): `ML-DSA-65`.
fn ml_dsa(oid: &str) -> Option<&'static str> {
    match oid {
        "2.16.840.1.101.3.4.3.17" => Some("ML-DSA-44"),
        "2.16.840.1.101.3.4.3.18" => Some("ML-DSA-65"),
        "2.16.840.1.101.3.4.3.19" => Some("ML-DSA-87"),
        _ => None,
    }
}

/// OpenSSL's short names of the common signature algorithms, ML-DSA by its FIPS 204 name,
/// else the OID.
fn signature_name(oid: &str) -> String {
    if let Some(name) = ml_dsa(oid) {
        return name.to_string();
    }
    match oid {
        "1.2.840.113549.1.1.4" => "md5WithRSAEncryption",
        "1.2.840.113549.1.1.5" => "sha1WithRSAEncryption",
        "1.2.840.113549.1.1.10" => "rsassaPss",
        "1.2.840.113549.1.1.11" => "sha256WithRSAEncryption",
        "1.2.840.113549.1.1.12" => "sha384WithRSAEncryption",
        "1.2.840.113549.1.1.13" => "sha512WithRSAEncryption",
        "1.2.840.10045.4.1" => "ecdsa-with-SHA1",
        "1.2.840.10045.4.3.2" => "ecdsa-with-SHA256",
        "1.2.840.10045.4.3.3" => "ecdsa-with-SHA384",
        "1.2.840.10045.4.3.4" => "ecdsa-with-SHA512",
        "1.3.101.112" => "ED25519",
        "1.3.101.113" => "ED448",
        other => other,
    }
    .to_string()
}

/// `YYYY-MM-DDTHH:MM:SSZ` of Unix seconds.
pub(crate) fn rfc3339(unix: i64) -> String {
    let (y, mo, d, h, mi, s) = uptake_model::time::utc_fields(unix);
    format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}Z")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testpki::{Pki, DAY, NOW};

    fn status(chain: &[Vec<u8>], host: &str, trust: &TrustStore) -> Status {
        certificate(chain, host, trust, NOW).0.status
    }

    #[test]
    fn valid_chain_and_evidence() {
        let pki = Pki::new();
        let chain = pki.chain(&["www.example.nl"], NOW - DAY, NOW + 90 * DAY);
        let (f, ev) = certificate(&chain, "www.example.nl", &pki.trust(), NOW);
        assert_eq!(f, Finding::of(Status::Valid));
        assert_eq!(ev.key.as_deref(), Some("EC P-256"));
        assert_eq!(ev.signature.as_deref(), Some("ecdsa-with-SHA256"));
        assert_eq!(ev.issuer.as_deref(), Some("CN=uptake test intermediate"));
        assert_eq!(ev.not_after, Some(rfc3339(NOW + 90 * DAY)));
        // Case and a trailing dot of the host do not matter.
        assert_eq!(
            status(&chain, "WWW.Example.NL.", &pki.trust()),
            Status::Valid
        );
    }

    #[test]
    fn precedence() {
        let pki = Pki::new();
        let trust = pki.trust();
        // Expired and for another name: expired comes first.
        let old = pki.chain(&["other.nl"], NOW - 100 * DAY, NOW - DAY);
        assert_eq!(status(&old, "www.example.nl", &trust), Status::Expired);
        // Not yet valid is expired too.
        let future = pki.chain(&["www.example.nl"], NOW + DAY, NOW + 100 * DAY);
        assert_eq!(status(&future, "www.example.nl", &trust), Status::Expired);
        // Chain without the intermediate: untrusted, even though expired.
        assert_eq!(
            status(&old[..1], "www.example.nl", &trust),
            Status::Untrusted
        );
        // Valid chain, wrong name.
        let good = pki.chain(&["www.example.nl"], NOW - DAY, NOW + DAY);
        assert_eq!(status(&good, "example.nl", &trust), Status::NameMismatch);
        // Another CA's chain is untrusted.
        let other = Pki::new();
        let foreign = other.chain(&["www.example.nl"], NOW - DAY, NOW + DAY);
        assert_eq!(
            status(&foreign, "www.example.nl", &trust),
            Status::Untrusted
        );
        // An empty store trusts nothing.
        assert_eq!(
            status(&good, "www.example.nl", &TrustStore::default()),
            Status::Untrusted
        );
        // Anchored directly at the root (leaf issued by a trust anchor).
        let direct = pki.leaf_from_root(&["www.example.nl"]);
        assert_eq!(status(&[direct], "www.example.nl", &trust), Status::Valid);
    }

    #[test]
    fn self_signed() {
        let pki = Pki::new();
        let ss = crate::testpki::self_signed(&["www.example.nl"], NOW - 10 * DAY, NOW - DAY);
        // Self-signed wins over expired.
        let (f, ev) = certificate(
            std::slice::from_ref(&ss),
            "www.example.nl",
            &pki.trust(),
            NOW,
        );
        assert_eq!(f.status, Status::SelfSigned);
        assert_eq!(ev.key.as_deref(), Some("EC P-256"));
        // ...unless it is a trust anchor: then the other rules apply.
        let (anchored, _) = TrustStore::from_der(std::slice::from_ref(&ss));
        assert_eq!(status(&[ss], "www.example.nl", &anchored), Status::Expired);
        // The root itself presented as a leaf is an anchor, so not self_signed.
        assert_eq!(
            status(std::slice::from_ref(&pki.root_der), "x.nl", &pki.trust()),
            Status::NameMismatch
        );
    }

    #[test]
    fn bad_input() {
        let trust = Pki::new().trust();
        assert_eq!(status(&[], "a.nl", &trust), Status::Error);
        assert_eq!(status(&[vec![1, 2, 3]], "a.nl", &trust), Status::Untrusted);
        let (_, skipped) = TrustStore::from_der(&[vec![0x30, 0x00]]);
        assert_eq!(skipped.len(), 1);
    }

    #[test]
    fn key_descriptions() {
        let rsa = crate::testpki::rsa_self_signed("rsa.example.nl");
        let (f, ev) = certificate(&[rsa], "rsa.example.nl", &TrustStore::default(), NOW);
        assert_eq!(f.status, Status::SelfSigned);
        assert_eq!(ev.key.as_deref(), Some("RSA 2048"));
        assert_eq!(ev.signature.as_deref(), Some("sha256WithRSAEncryption"));
        let ed = crate::testpki::ed25519_self_signed("ed.example.nl");
        let (f, ev) = certificate(&[ed], "ed.example.nl", &TrustStore::default(), NOW);
        assert_eq!(f.status, Status::SelfSigned);
        assert_eq!(ev.key.as_deref(), Some("Ed25519"));
        assert_eq!(ev.signature.as_deref(), Some("ED25519"));
    }

    #[test]
    fn ml_dsa_names() {
        assert_eq!(ml_dsa("2.16.840.1.101.3.4.3.18"), Some("ML-DSA-65"));
        assert_eq!(signature_name("2.16.840.1.101.3.4.3.17"), "ML-DSA-44");
        assert_eq!(signature_name("2.16.840.1.101.3.4.3.19"), "ML-DSA-87");
        assert_eq!(signature_name("1.2.840.10045.4.3.2"), "ecdsa-with-SHA256");
        assert_eq!(ml_dsa("1.3.101.112"), None);
    }

    #[test]
    fn wildcards() {
        assert!(dns_name_matches("*.example.nl", "www.example.nl"));
        assert!(dns_name_matches("*.Example.NL", "www.example.nl"));
        assert!(!dns_name_matches("*.example.nl", "a.b.example.nl"));
        assert!(!dns_name_matches("*.example.nl", "example.nl"));
        assert!(!dns_name_matches("*.nl", "example.nl"));
        assert!(!dns_name_matches("w*.example.nl", "www.example.nl"));
        assert!(dns_name_matches("www.example.nl.", "www.example.nl"));
        let pki = Pki::new();
        let chain = pki.chain(&["*.example.nl", "example.nl"], NOW - DAY, NOW + DAY);
        assert_eq!(
            status(&chain, "www.example.nl", &pki.trust()),
            Status::Valid
        );
        assert_eq!(status(&chain, "example.nl", &pki.trust()), Status::Valid);
        assert_eq!(
            status(&chain, "a.www.example.nl", &pki.trust()),
            Status::NameMismatch
        );
    }
}
