//! DNSSEC keys and signing with ldns: a small pool of key pairs per algorithm (generated once
//! per testbed with `ldns-keygen`, reused under each zone's owner name, which keeps a
//! 100,000-zone testbed fast), DS records computed here, signing with `ldns-signzone`.

use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use base64::Engine;
use sha2::{Digest, Sha256};

use super::profile::{Algorithm, Denial};
use super::GenerateError;

/// Key pairs per algorithm and role in the pool.
const POOL_SIZE: usize = 3;

/// One pool key: the ldns basename (without .key/.private) and its public key material.
#[derive(Debug, Clone)]
pub struct PoolKey {
    base: PathBuf,
    flags: u16,
    algorithm: u8,
    public_key: Vec<u8>,
    key_line_rdata: String,
}

/// The key pool of a testbed.
#[derive(Debug)]
pub struct KeyPool {
    /// (algorithm, is_ksk) -> keys
    keys: HashMap<(Algorithm, bool), Vec<PoolKey>>,
}

/// The keys a zone is signed with.
#[derive(Debug, Clone)]
pub struct ZoneKeys {
    /// Key-signing key.
    pub ksk: PoolKey,
    /// Zone-signing key.
    pub zsk: PoolKey,
}

fn run(cmd: &mut Command, what: &str) -> Result<String, GenerateError> {
    let out = cmd.output().map_err(|e| GenerateError::Tool {
        tool: what.to_string(),
        reason: if e.kind() == std::io::ErrorKind::NotFound {
            "not found: install the Debian package ldnsutils (apt-get install ldnsutils)".into()
        } else {
            e.to_string()
        },
    })?;
    if !out.status.success() {
        return Err(GenerateError::Tool {
            tool: what.to_string(),
            reason: String::from_utf8_lossy(&out.stderr).trim().to_string(),
        });
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

impl KeyPool {
    /// Generates the pool under `dir` with `ldns-keygen`.
    pub fn generate(dir: &Path) -> Result<KeyPool, GenerateError> {
        fs::create_dir_all(dir).map_err(|e| GenerateError::io(dir, e))?;
        let jobs: Vec<(Algorithm, bool, usize)> = Algorithm::ALL
            .iter()
            .flat_map(|a| {
                [true, false]
                    .into_iter()
                    .flat_map(move |k| (0..POOL_SIZE).map(move |i| (*a, k, i)))
            })
            .collect();
        use rayon::prelude::*;
        let made: Vec<Result<(Algorithm, bool, PoolKey), GenerateError>> = jobs
            .par_iter()
            .map(|(alg, ksk, i)| {
                let owner = format!("pool{i}.");
                let sub = dir.join(format!(
                    "{}-{}-{i}",
                    alg.label(),
                    if *ksk { "ksk" } else { "zsk" }
                ));
                fs::create_dir_all(&sub).map_err(|e| GenerateError::io(&sub, e))?;
                let mut cmd = Command::new("ldns-keygen");
                cmd.current_dir(&sub).args(alg.keygen_args());
                if *ksk {
                    cmd.arg("-k");
                }
                cmd.arg(&owner);
                let base = run(&mut cmd, "ldns-keygen")?.trim().to_string();
                let key = PoolKey::read(&sub.join(&base))?;
                Ok((*alg, *ksk, key))
            })
            .collect();
        let mut keys: HashMap<(Algorithm, bool), Vec<PoolKey>> = HashMap::new();
        for m in made {
            let (alg, ksk, key) = m?;
            keys.entry((alg, ksk)).or_default().push(key);
        }
        for v in keys.values_mut() {
            v.sort_by(|a, b| a.base.cmp(&b.base));
        }
        Ok(KeyPool { keys })
    }

    /// The keys for a zone: chosen from the pool by `pick` (a per-zone number).
    pub fn zone_keys(&self, algorithm: Algorithm, pick: u64) -> ZoneKeys {
        let ksks = &self.keys[&(algorithm, true)];
        let zsks = &self.keys[&(algorithm, false)];
        ZoneKeys {
            ksk: ksks[pick as usize % ksks.len()].clone(),
            zsk: zsks[(pick / 7) as usize % zsks.len()].clone(),
        }
    }

    /// A KSK of the same algorithm that `keys` does not use (for bogus DS records).
    pub fn other_ksk(&self, keys: &ZoneKeys) -> PoolKey {
        let alg = Algorithm::ALL
            .into_iter()
            .find(|a| a.number() == keys.ksk.algorithm)
            .unwrap_or(Algorithm::EcdsaP256);
        let ksks = &self.keys[&(alg, true)];
        ksks.iter()
            .find(|k| k.base != keys.ksk.base)
            .cloned()
            .unwrap_or_else(|| ksks[0].clone())
    }
}

impl PoolKey {
    fn read(base: &Path) -> Result<PoolKey, GenerateError> {
        let path = base.with_extension(format!(
            "{}.key",
            base.extension()
                .map(|e| e.to_string_lossy().into_owned())
                .unwrap_or_default()
        ));
        let text = fs::read_to_string(&path).map_err(|e| GenerateError::io(&path, e))?;
        let line = text
            .lines()
            .find(|l| l.contains("DNSKEY"))
            .unwrap_or_default();
        let rdata = line.split("DNSKEY").nth(1).unwrap_or_default();
        let rdata = rdata
            .split(';')
            .next()
            .unwrap_or_default()
            .trim()
            .to_string();
        let mut parts = rdata.split_whitespace();
        let bad = || GenerateError::Tool {
            tool: "ldns-keygen".into(),
            reason: format!("unexpected key file {}", path.display()),
        };
        let flags: u16 = parts.next().and_then(|s| s.parse().ok()).ok_or_else(bad)?;
        let _protocol = parts.next();
        let algorithm: u8 = parts.next().and_then(|s| s.parse().ok()).ok_or_else(bad)?;
        let b64: String = parts.collect();
        let public_key = base64::engine::general_purpose::STANDARD
            .decode(b64)
            .map_err(|_| bad())?;
        Ok(PoolKey {
            base: base.to_path_buf(),
            flags,
            algorithm,
            public_key,
            key_line_rdata: rdata,
        })
    }

    fn rdata(&self) -> Vec<u8> {
        let mut r = Vec::with_capacity(4 + self.public_key.len());
        r.extend_from_slice(&self.flags.to_be_bytes());
        r.push(3);
        r.push(self.algorithm);
        r.extend_from_slice(&self.public_key);
        r
    }

    /// RFC 4034 Appendix B key tag.
    pub fn key_tag(&self) -> u16 {
        let mut ac: u32 = 0;
        for (i, b) in self.rdata().iter().enumerate() {
            ac += if i & 1 == 1 {
                u32::from(*b)
            } else {
                u32::from(*b) << 8
            };
        }
        ac += (ac >> 16) & 0xFFFF;
        (ac & 0xFFFF) as u16
    }

    /// The SHA-256 DS record data for this key under `owner` (no trailing dot; "" = root).
    pub fn ds(&self, owner: &str) -> String {
        let mut h = Sha256::new();
        h.update(wire_name(owner));
        h.update(self.rdata());
        let digest: String = h.finalize().iter().map(|b| format!("{b:02x}")).collect();
        format!("{} {} 2 {}", self.key_tag(), self.algorithm, digest)
    }

    /// Writes this key as `K<owner>...` files in `dir` for ldns-signzone; returns the basename.
    fn install(&self, dir: &Path, owner: &str) -> Result<PathBuf, GenerateError> {
        let base = dir.join(format!(
            "K{owner}.+{:03}+{:05}",
            self.algorithm,
            self.key_tag()
        ));
        let key_path = PathBuf::from(format!("{}.key", base.display()));
        let priv_path = PathBuf::from(format!("{}.private", base.display()));
        let private_src = PathBuf::from(format!("{}.private", self.base.display()));
        fs::write(
            &key_path,
            format!("{owner}.\tIN\tDNSKEY\t{}\n", self.key_line_rdata),
        )
        .map_err(|e| GenerateError::io(&key_path, e))?;
        if !priv_path.exists() {
            fs::copy(&private_src, &priv_path).map_err(|e| GenerateError::io(&priv_path, e))?;
        }
        Ok(base)
    }
}

/// Owner name in canonical wire form (lower case).
fn wire_name(name: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(name.len() + 2);
    for label in name.split('.').filter(|l| !l.is_empty()) {
        out.push(label.len() as u8);
        out.extend(label.to_ascii_lowercase().bytes());
    }
    out.push(0);
    out
}

/// How to sign one zone.
#[derive(Debug, Clone)]
pub struct SignJob {
    /// Zone apex ("" = root).
    pub apex: String,
    /// Unsigned zone file.
    pub input: PathBuf,
    /// Signed zone file to write.
    pub output: PathBuf,
    /// Keys.
    pub keys: ZoneKeys,
    /// NSEC or NSEC3.
    pub denial: Denial,
    /// Sign with signatures that expired on 2020-01-01.
    pub expired: bool,
}

/// Signs one zone with ldns-signzone; key files go next to the output.
pub fn sign(job: &SignJob, key_dir: &Path) -> Result<(), GenerateError> {
    fs::create_dir_all(key_dir).map_err(|e| GenerateError::io(key_dir, e))?;
    let ksk = job.keys.ksk.install(key_dir, &job.apex)?;
    let zsk = job.keys.zsk.install(key_dir, &job.apex)?;
    let mut cmd = Command::new("ldns-signzone");
    if let Denial::Nsec3(iterations) = job.denial {
        cmd.args(["-n", "-t", &iterations.to_string()]);
        if iterations > 0 {
            cmd.args(["-s", "c0ffee"]);
        }
    }
    if job.expired {
        cmd.args(["-i", "20190101000000", "-e", "20200101000000"]);
    } else {
        // Valid for a year from a week ago, so a testbed generated today still validates in CI
        // next month and on a machine whose clock is slightly behind.
        cmd.args(["-i", &signature_time(-7), "-e", &signature_time(365)]);
    }
    cmd.arg("-o").arg(format!("{}.", job.apex));
    cmd.arg("-f")
        .arg(&job.output)
        .arg(&job.input)
        .arg(&ksk)
        .arg(&zsk);
    run(&mut cmd, "ldns-signzone").map(|_| ())
}

/// `YYYYMMDDhhmmss` of now plus `days` (UTC).
fn signature_time(days: i64) -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    let (y, m, d, hh, mm, ss) = uptake_model::time::utc_fields(now + days * 86_400);
    format!("{y:04}{m:02}{d:02}{hh:02}{mm:02}{ss:02}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_names() {
        assert_eq!(wire_name(""), vec![0]);
        assert_eq!(wire_name("Nl"), vec![2, b'n', b'l', 0]);
    }
}
