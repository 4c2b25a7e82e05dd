//! Test-only PKI: a root, an intermediate and leaves made with rcgen, for the certificate
//! and DANE tests.

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, PKCS_ED25519};

use crate::web::certificate::TrustStore;

/// One day in seconds.
pub const DAY: i64 = 86_400;
/// The tests' "now": 2026-11-28T12:00:00Z.
pub const NOW: i64 = 1_795_867_200;

/// A 2048-bit RSA key (ring cannot generate RSA keys), made with `openssl genpkey`.
const RSA_2048: &str = include_str!("testpki_rsa2048.pem");

fn at(unix: i64) -> time::OffsetDateTime {
    time::OffsetDateTime::from_unix_timestamp(unix).unwrap()
}

fn ca_params(cn: &str) -> CertificateParams {
    let mut p = CertificateParams::new(Vec::<String>::new()).unwrap();
    p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    p.distinguished_name.push(DnType::CommonName, cn);
    p.not_before = at(NOW - 3650 * DAY);
    p.not_after = at(NOW + 3650 * DAY);
    p
}

fn leaf_params(names: &[&str], not_before: i64, not_after: i64) -> CertificateParams {
    let mut p =
        CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>()).unwrap();
    p.distinguished_name.push(DnType::CommonName, names[0]);
    p.not_before = at(not_before);
    p.not_after = at(not_after);
    p
}

/// Root CA and intermediate CA (ECDSA P-256).
pub struct Pki {
    /// The root certificate (the trust anchor).
    pub root_der: Vec<u8>,
    root: Issuer<'static, KeyPair>,
    /// The intermediate certificate.
    pub intermediate_der: Vec<u8>,
    intermediate: Issuer<'static, KeyPair>,
}

impl Pki {
    /// A fresh root and intermediate.
    pub fn new() -> Pki {
        let root_key = KeyPair::generate().unwrap();
        let root_params = ca_params("uptake test root");
        let root_der = root_params.self_signed(&root_key).unwrap().der().to_vec();
        let root = Issuer::new(root_params, root_key);
        let int_key = KeyPair::generate().unwrap();
        let int_params = ca_params("uptake test intermediate");
        let intermediate_der = int_params
            .signed_by(&int_key, &root)
            .unwrap()
            .der()
            .to_vec();
        let intermediate = Issuer::new(int_params, int_key);
        Pki {
            root_der,
            root,
            intermediate_der,
            intermediate,
        }
    }

    /// The store holding only the root.
    pub fn trust(&self) -> TrustStore {
        TrustStore::from_der(std::slice::from_ref(&self.root_der)).0
    }

    /// `[leaf, intermediate]` for `names`, valid from `not_before` to `not_after`.
    pub fn chain(&self, names: &[&str], not_before: i64, not_after: i64) -> Vec<Vec<u8>> {
        let key = KeyPair::generate().unwrap();
        let leaf = leaf_params(names, not_before, not_after)
            .signed_by(&key, &self.intermediate)
            .unwrap();
        vec![leaf.der().to_vec(), self.intermediate_der.clone()]
    }

    /// A leaf issued directly by the root, valid around [`NOW`].
    pub fn leaf_from_root(&self, names: &[&str]) -> Vec<u8> {
        let key = KeyPair::generate().unwrap();
        leaf_params(names, NOW - DAY, NOW + DAY)
            .signed_by(&key, &self.root)
            .unwrap()
            .der()
            .to_vec()
    }
}

/// A self-signed ECDSA P-256 leaf.
pub fn self_signed(names: &[&str], not_before: i64, not_after: i64) -> Vec<u8> {
    let key = KeyPair::generate().unwrap();
    leaf_params(names, not_before, not_after)
        .self_signed(&key)
        .unwrap()
        .der()
        .to_vec()
}

/// A self-signed RSA 2048 / SHA-256 leaf.
pub fn rsa_self_signed(name: &str) -> Vec<u8> {
    let key = KeyPair::from_pem(RSA_2048).unwrap();
    leaf_params(&[name], NOW - DAY, NOW + DAY)
        .self_signed(&key)
        .unwrap()
        .der()
        .to_vec()
}

/// A self-signed Ed25519 leaf.
pub fn ed25519_self_signed(name: &str) -> Vec<u8> {
    let key = KeyPair::generate_for(&PKCS_ED25519).unwrap();
    leaf_params(&[name], NOW - DAY, NOW + DAY)
        .self_signed(&key)
        .unwrap()
        .der()
        .to_vec()
}
