//! The testbed's web PKI: a CA whose certificate `testbed run` exports as
//! `UPTAKE_TESTBED_CA`, a second CA nobody trusts, a small pool of server keys (RSA 2048,
//! RSA 3072, ECDSA P-256; `openssl genpkey` for RSA, which ring cannot generate) and the
//! leaf certificates of every web, MTA-STS and mail host (rcgen).

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use rcgen::{
    BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, PublicKeyData,
    PKCS_ECDSA_P256_SHA256,
};
use sha2::{Digest, Sha256};

use super::webmail::{CertKind, KeyType};
use super::GenerateError;

/// The trusted CA certificate, relative to the testbed directory.
pub const CA_FILE: &str = "servers/tls/ca.pem";

/// 2015-01-01, 2045-01-01: the CAs' validity.
const CA_FROM: i64 = 1_420_070_400;
const CA_UNTIL: i64 = 2_366_755_200;
/// 2025-01-01 to 2035-01-01: a valid leaf.
const VALID_FROM: i64 = 1_735_689_600;
const VALID_UNTIL: i64 = 2_051_222_400;
/// 2019-01-01 to 2020-01-01: an expired leaf.
const EXPIRED_FROM: i64 = 1_546_300_800;
const EXPIRED_UNTIL: i64 = 1_577_836_800;

fn at(unix: i64) -> time::OffsetDateTime {
    time::OffsetDateTime::from_unix_timestamp(unix).unwrap_or(time::OffsetDateTime::UNIX_EPOCH)
}

fn tool(what: &str, e: impl std::fmt::Display) -> GenerateError {
    GenerateError::Tool {
        tool: what.to_string(),
        reason: e.to_string(),
    }
}

/// The CAs and the key pool of a testbed.
pub struct Pki {
    trusted: Issuer<'static, KeyPair>,
    untrusted: Issuer<'static, KeyPair>,
    /// Pool keys in [`KeyType::ALL`] order: (PEM file relative to the testbed, key).
    keys: Vec<(PathBuf, KeyPair)>,
}

fn ca(cn: &str) -> Result<(CertificateParams, KeyPair), GenerateError> {
    let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).map_err(|e| tool("rcgen", e))?;
    let mut p = CertificateParams::new(Vec::<String>::new()).map_err(|e| tool("rcgen", e))?;
    p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    p.distinguished_name.push(DnType::CommonName, cn);
    p.distinguished_name
        .push(DnType::OrganizationName, "uptake testbed");
    p.not_before = at(CA_FROM);
    p.not_after = at(CA_UNTIL);
    Ok((p, key))
}

impl Pki {
    /// Makes the CAs and the key pool under `out` (writes [`CA_FILE`] and `keys/tls/*.pem`).
    pub fn create(out: &Path) -> Result<Pki, GenerateError> {
        let key_dir = out.join("keys/tls");
        fs::create_dir_all(&key_dir).map_err(|e| GenerateError::io(&key_dir, e))?;
        let mut keys = Vec::new();
        for k in KeyType::ALL {
            let rel = PathBuf::from(format!("keys/tls/{}.pem", k.stem()));
            let path = out.join(&rel);
            let pem = match k {
                KeyType::Ecdsa => KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256)
                    .map_err(|e| tool("rcgen", e))?
                    .serialize_pem(),
                KeyType::Rsa2048 | KeyType::Rsa3072 => {
                    let bits = if k == KeyType::Rsa2048 {
                        "2048"
                    } else {
                        "3072"
                    };
                    let o = Command::new("openssl")
                        .args(["genpkey", "-algorithm", "RSA", "-pkeyopt"])
                        .arg(format!("rsa_keygen_bits:{bits}"))
                        .output()
                        .map_err(|e| {
                            tool(
                                "openssl genpkey",
                                format!("{e} (install the Debian package openssl)"),
                            )
                        })?;
                    if !o.status.success() {
                        return Err(tool(
                            "openssl genpkey",
                            String::from_utf8_lossy(&o.stderr).trim(),
                        ));
                    }
                    String::from_utf8_lossy(&o.stdout).into_owned()
                }
            };
            fs::write(&path, &pem).map_err(|e| GenerateError::io(&path, e))?;
            let key = KeyPair::from_pem(&pem).map_err(|e| tool("rcgen (pool key)", e))?;
            keys.push((rel, key));
        }
        let (tp, tk) = ca("uptake testbed CA")?;
        let ca_pem = tp.self_signed(&tk).map_err(|e| tool("rcgen", e))?.pem();
        let ca_path = out.join(CA_FILE);
        if let Some(d) = ca_path.parent() {
            fs::create_dir_all(d).map_err(|e| GenerateError::io(d, e))?;
        }
        fs::write(&ca_path, ca_pem).map_err(|e| GenerateError::io(&ca_path, e))?;
        let (up, uk) = ca("untrusted CA")?;
        Ok(Pki {
            trusted: Issuer::new(tp, tk),
            untrusted: Issuer::new(up, uk),
            keys,
        })
    }

    /// The pool key file (relative to the testbed directory) of `key`.
    pub fn key_file(&self, key: KeyType) -> &Path {
        &self.keys[KeyType::ALL.iter().position(|k| *k == key).unwrap_or(0)].0
    }

    /// Hex SHA-256 of the SubjectPublicKeyInfo of `key`: the data of a `3 1 1` TLSA record.
    pub fn spki_sha256(&self, key: KeyType) -> String {
        let k = &self.keys[KeyType::ALL.iter().position(|x| *x == key).unwrap_or(0)].1;
        Sha256::digest(k.subject_public_key_info())
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }

    /// A leaf certificate (PEM) for `names` with `key`, made as `kind` says.
    pub fn leaf(
        &self,
        names: &[String],
        kind: CertKind,
        key: KeyType,
    ) -> Result<String, GenerateError> {
        let names: Vec<String> = if kind == CertKind::WrongName {
            vec!["wrong-name.example.net".to_string()]
        } else {
            names.to_vec()
        };
        let mut p = CertificateParams::new(names.clone()).map_err(|e| tool("rcgen", e))?;
        p.distinguished_name.push(
            DnType::CommonName,
            names.first().cloned().unwrap_or_default(),
        );
        let (from, until) = if kind == CertKind::Expired {
            (EXPIRED_FROM, EXPIRED_UNTIL)
        } else {
            (VALID_FROM, VALID_UNTIL)
        };
        p.not_before = at(from);
        p.not_after = at(until);
        let k = &self.keys[KeyType::ALL.iter().position(|x| *x == key).unwrap_or(0)].1;
        let cert = match kind {
            CertKind::SelfSigned => p.self_signed(k),
            CertKind::Untrusted => p.signed_by(k, &self.untrusted),
            _ => p.signed_by(k, &self.trusted),
        }
        .map_err(|e| tool("rcgen", e))?;
        Ok(cert.pem())
    }
}
