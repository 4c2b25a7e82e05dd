//! `uptake testbed generate`: writes a private internet into a directory.
//!
//! Layout of the output directory:
//! - `targets.csv` (`domain,country,sector,organisation`) and `truth.csv` (`domain` plus one
//!   `<check>_status` column per check, then evidence columns): the contract with the scanner;
//!   byte-for-byte identical for a given seed and options.
//! - `rates.json`: the adoption rates the profiles were drawn from.
//! - `zones/`: zone files (`*.zone` as written, `*.signed` as served), `keys/`: DNSSEC keys.
//! - `servers/`: NSD, Unbound, nginx and Postfix config templates, root hints, the root trust
//!   anchor and the testbed CA (`servers/tls/ca.pem`).
//! - `certs/`: the web, MTA-STS and mail hosts' certificates; `keys/tls/`: their keys.
//! - `routing/`: `vrps.csv`, `prefix2as.txt`, `ip2asn.tsv` for the rpki check and the hosting
//!   columns ([`routing`]).
//! - `testbed.json`: the manifest, written last.

pub mod hosting;
mod keys;
pub mod pki;
pub mod profile;
mod records;
mod rng;
pub mod routing;
pub mod webmail;
pub mod world;

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::fs;
use std::io::{BufWriter, Write};
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use rayon::prelude::*;

use crate::manifest::{Manifest, Server, ServerKind, FORMAT};
use crate::servers;
use keys::{KeyPool, SignJob};
use profile::{Algorithm, Denial, DnssecProfile, Placement, Profile, Rates};
use records::{fqdn, record, txt};
use world::{
    DNS_PROVIDERS, MAIL_PROVIDERS, RESOLVER, ROOT_NS, SECOND_LEVEL, SLD_NS, SUFFIXES, TLDS, TLD_NS,
};

/// Options of `uptake testbed generate`.
#[derive(Debug, Clone)]
pub struct GenerateOptions {
    /// Number of target domains (> 0).
    pub domains: u64,
    /// Seed: the same seed and options give byte-identical targets.csv and truth.csv.
    pub seed: u64,
    /// Output directory.
    pub out: PathBuf,
    /// How many registrable domains get a zone of their own (the rest are records in their
    /// suffix's zone). Default: all up to 20,000.
    pub delegated: Option<u64>,
    /// Adoption rates; default [`Rates::default`].
    pub rates: Rates,
}

/// Default limit of delegated zones.
pub const DEFAULT_DELEGATED: u64 = 20_000;

/// What went wrong while generating.
#[derive(Debug, thiserror::Error)]
pub enum GenerateError {
    /// Bad options.
    #[error("{0}")]
    Options(String),
    /// A file could not be written or read.
    #[error("{path}: {source}")]
    Io {
        /// The path.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// An external tool failed.
    #[error("{tool}: {reason}")]
    Tool {
        /// The tool.
        tool: String,
        /// Its message.
        reason: String,
    },
}

impl GenerateError {
    fn io(path: &Path, source: std::io::Error) -> Self {
        GenerateError::Io {
            path: path.to_path_buf(),
            source,
        }
    }
}

/// A summary of what was generated.
#[derive(Debug, Clone)]
pub struct Summary {
    /// Target domains.
    pub domains: u64,
    /// Zones with their own delegation (targets and providers).
    pub delegated_zones: usize,
    /// Zones signed.
    pub signed_zones: usize,
}

fn write_file(path: &Path, text: &str) -> Result<(), GenerateError> {
    if let Some(dir) = path.parent() {
        fs::create_dir_all(dir).map_err(|e| GenerateError::io(dir, e))?;
    }
    fs::write(path, text).map_err(|e| GenerateError::io(path, e))
}

fn prepare_out(out: &Path) -> Result<(), GenerateError> {
    if out.exists() {
        let is_testbed = out.join(crate::manifest::MANIFEST_FILE).exists();
        let empty = fs::read_dir(out)
            .map_err(|e| GenerateError::io(out, e))?
            .next()
            .is_none();
        if !is_testbed && !empty {
            return Err(GenerateError::Options(format!(
                "{} exists and is neither empty nor a testbed; choose another --out",
                out.display()
            )));
        }
        let manifest = out.join(crate::manifest::MANIFEST_FILE);
        if manifest.exists() {
            fs::remove_file(&manifest).map_err(|e| GenerateError::io(&manifest, e))?;
        }
        for sub in ["zones", "keys", "servers", "certs", routing::DIR] {
            let p = out.join(sub);
            if p.exists() {
                fs::remove_dir_all(&p).map_err(|e| GenerateError::io(&p, e))?;
            }
        }
    }
    fs::create_dir_all(out).map_err(|e| GenerateError::io(out, e))?;
    let probe = out.join(".write-test");
    fs::write(&probe, b"").map_err(|e| GenerateError::io(out, e))?;
    let _ = fs::remove_file(probe);
    Ok(())
}

/// Draws every target's profile. Sequential, because subdomain targets refer to earlier ones.
pub fn draw_profiles(opts: &GenerateOptions) -> Vec<Profile> {
    let delegated = opts
        .delegated
        .unwrap_or(DEFAULT_DELEGATED.min(opts.domains));
    let mut profiles: Vec<Profile> = Vec::with_capacity(opts.domains as usize);
    let mut parents: Vec<usize> = Vec::new();
    let mut delegated_so_far = 0u64;
    for i in 0..opts.domains as usize {
        let mut rng = rng::Rng::new(opts.seed, i as u64);
        let delegate = delegated_so_far < delegated;
        let p = profile::draw(&opts.rates, &mut rng, i, &profiles, &parents, delegate);
        if let Placement::Delegated { .. } = p.placement {
            delegated_so_far += 1;
            parents.push(i);
        }
        profiles.push(p);
    }
    resolve_hosting(opts.seed, &mut profiles);
    profiles
}

/// Puts each target on its web server and own mail server (own servers are numbered in
/// target order; past [`webmail::OWN_SERVERS`] later targets share earlier ones) and decides
/// which TLSA records are published (none in bogus zones).
fn resolve_hosting(seed: u64, profiles: &mut [Profile]) {
    use profile::Mx;
    use webmail::{WebHosting, OWN_MAIL_SERVERS, OWN_SERVERS, WEB_PROVIDERS};
    let mut own_web = 0usize;
    let mut mail_servers: Vec<webmail::MailServer> = Vec::new();
    let mut own_mail = 0usize;
    for i in 0..profiles.len() {
        let p = &mut profiles[i];
        if i >= webmail::WEB_SITES {
            p.web = webmail::parked(i % WEB_PROVIDERS.len(), p.web.tlsa);
        }
        match p.web.hosting {
            WebHosting::Shared(k) => p.web_server = WEB_PROVIDERS[k],
            WebHosting::Own(_) => {
                let k = own_web % OWN_SERVERS;
                own_web += 1;
                p.web.hosting = WebHosting::Own(k);
                p.web_server = webmail::own_web_server(seed, k);
            }
        }
        if let Mx::Own { .. } = p.mx {
            let j = own_mail % OWN_MAIL_SERVERS;
            own_mail += 1;
            if j == mail_servers.len() {
                mail_servers.push(webmail::own_mail_server(
                    seed,
                    j,
                    &format!("mail.{}", p.domain),
                ));
            }
            p.mail_server = Some(mail_servers[j].clone());
        }
        let bogus = profile::zone_facts(profiles, i).dnssec == uptake_model::Status::Bogus;
        let p = &mut profiles[i];
        p.tlsa = match p.mx {
            Mx::Own { .. } if !bogus => p.web.tlsa,
            _ => webmail::Tlsa::None,
        };
    }
}

/// Generates a testbed into `opts.out`.
pub fn generate(opts: &GenerateOptions) -> Result<Summary, GenerateError> {
    if opts.domains == 0 {
        return Err(GenerateError::Options(
            "--domains must be at least 1".into(),
        ));
    }
    prepare_out(&opts.out)?;
    let out = opts.out.as_path();
    let profiles = draw_profiles(opts);
    let routing_world = routing::write(out, opts.seed, &profiles)?;
    write_lists(out, &profiles, &opts.rates, &routing_world)?;

    let pki = pki::Pki::create(out)?;
    let spki: records::Spki = webmail::KeyType::ALL.map(|k| pki.spki_sha256(k));
    let hosting = hosting::write(out, &profiles, &pki)?;

    let pool = KeyPool::generate(&out.join("keys/pool"))?;
    let mut jobs: Vec<SignJob> = Vec::new();
    // zone name -> (NSD server, served file relative to out)
    let mut served: Vec<(String, String, String)> = Vec::new();
    let mut ds_records: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut pick = 0u64;
    let mut sign_zone = |apex: &str,
                         input: PathBuf,
                         algorithm: Algorithm,
                         denial: Denial,
                         dnssec: DnssecProfile,
                         jobs: &mut Vec<SignJob>|
     -> Option<String> {
        pick += 1;
        if dnssec == DnssecProfile::Unsigned {
            return None;
        }
        let keys = pool.zone_keys(algorithm, pick.wrapping_mul(2_654_435_761));
        let ds = if dnssec == DnssecProfile::Bogus {
            pool.other_ksk(&keys).ds(apex)
        } else {
            keys.ksk.ds(apex)
        };
        let output = input.with_extension("signed");
        jobs.push(SignJob {
            apex: apex.to_string(),
            input,
            output,
            keys,
            denial,
            expired: dnssec == DnssecProfile::Expired,
        });
        Some(ds)
    };

    // Children of delegated targets (subdomain targets live in their parent's zone).
    let mut children: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
    for (i, p) in profiles.iter().enumerate() {
        if let Placement::Subdomain(parent) = p.placement {
            children.entry(parent).or_default().push(i);
        }
    }

    // Target zones, written in parallel.
    let delegated: Vec<usize> = profiles
        .iter()
        .enumerate()
        .filter(|(_, p)| matches!(p.placement, Placement::Delegated { .. }))
        .map(|(i, _)| i)
        .collect();
    delegated.par_iter().try_for_each(|&i| {
        let p = &profiles[i];
        let Placement::Delegated { provider, .. } = p.placement else {
            return Ok(());
        };
        let prov = DNS_PROVIDERS[provider];
        let mut text = String::with_capacity(2048);
        records::zone_head(&mut text, &p.domain, &[prov.ns_name(0), prov.ns_name(1)]);
        records::target_records(&mut text, p, &spki);
        for &c in children.get(&i).map(Vec::as_slice).unwrap_or(&[]) {
            records::target_records(&mut text, &profiles[c], &spki);
        }
        write_file(&out.join(domain_zone_path(i, &p.domain)), &text)
    })?;
    for &i in &delegated {
        let p = &profiles[i];
        let Placement::Delegated {
            provider,
            dnssec,
            algorithm,
            denial,
        } = p.placement
        else {
            continue;
        };
        let rel = domain_zone_path(i, &p.domain);
        let ds = sign_zone(
            &p.domain,
            out.join(&rel),
            algorithm,
            denial,
            dnssec,
            &mut jobs,
        );
        let served_rel = if ds.is_some() {
            rel.with_extension("signed")
        } else {
            rel
        };
        served.push((
            p.domain.clone(),
            format!("dnsprov{provider}"),
            served_rel.display().to_string(),
        ));
        if let Some(ds) = ds {
            ds_records.insert(p.domain.clone(), vec![ds]);
        }
    }

    // Mail provider zones, hosted by DNS provider 0.
    for m in MAIL_PROVIDERS {
        let zone = m.zone();
        let mut text = String::new();
        let host = DNS_PROVIDERS[0];
        records::zone_head(&mut text, &zone, &[host.ns_name(0), host.ns_name(1)]);
        let tlsa = webmail::MAIL_PROVIDER_TLS[m.index as usize].1;
        for n in 0..2 {
            record(&mut text, &m.mx_name(n), "A", m.mx_v4(n));
            if m.mx_aaaa[n] {
                record(&mut text, &m.mx_name(n), "AAAA", m.mx_v6(n));
            }
            if tlsa != webmail::Tlsa::None {
                let owner = format!("_25._tcp.{}", m.mx_name(n));
                let data = records::tlsa_data(
                    &spki,
                    webmail::provider_mx_key(m.index as usize),
                    tlsa == webmail::Tlsa::Match,
                    &owner,
                );
                record(&mut text, &owner, "TLSA", data);
            }
        }
        txt(
            &mut text,
            &m.spf_name(),
            &format!(
                "v=spf1 ip4:198.18.1.0/24 ip6:2001:db8:25::/48 {}all",
                m.spf_all
            ),
        );
        if m.index == 3 {
            let includes: String = (1..=11)
                .map(|k| format!(" include:s{k}._spf.{zone}"))
                .collect();
            txt(
                &mut text,
                world::TOO_MANY_LOOKUPS,
                &format!("v=spf1{includes} -all"),
            );
            for k in 1..=11 {
                txt(
                    &mut text,
                    &format!("s{k}._spf.{zone}"),
                    &format!("v=spf1 ip4:198.51.100.{k} -all"),
                );
            }
        }
        let rel = PathBuf::from(format!("zones/providers/{zone}.zone"));
        write_file(&out.join(&rel), &text)?;
        let ds = sign_zone(
            &zone,
            out.join(&rel),
            Algorithm::EcdsaP256,
            Denial::Nsec3(0),
            DnssecProfile::Secure,
            &mut jobs,
        );
        served.push((
            zone.clone(),
            "dnsprov0".into(),
            rel.with_extension("signed").display().to_string(),
        ));
        ds_records.insert(zone, ds.into_iter().collect());
    }

    // Suffix zones: TLDs and the second-level registry zones, streamed (large in scale mode).
    let suffix_zones: Vec<&str> = TLDS.iter().chain(SECOND_LEVEL.iter()).copied().collect();
    let mut writers: BTreeMap<&str, BufWriter<fs::File>> = BTreeMap::new();
    for z in &suffix_zones {
        let path = out.join(format!("zones/suffix/{z}.zone"));
        if let Some(dir) = path.parent() {
            fs::create_dir_all(dir).map_err(|e| GenerateError::io(dir, e))?;
        }
        let f = fs::File::create(&path).map_err(|e| GenerateError::io(&path, e))?;
        let mut w = BufWriter::with_capacity(1 << 20, f);
        let servers = if SECOND_LEVEL.contains(z) {
            SLD_NS
        } else {
            TLD_NS
        };
        let mut head = String::new();
        records::zone_head(
            &mut head,
            z,
            &servers.iter().map(|s| s.0.to_string()).collect::<Vec<_>>(),
        );
        w.write_all(head.as_bytes())
            .map_err(|e| GenerateError::io(&path, e))?;
        writers.insert(z, w);
    }
    let mut put = |zone: &str, text: &str| -> Result<(), GenerateError> {
        let w = writers
            .get_mut(zone)
            .ok_or_else(|| GenerateError::Options(format!("no suffix zone {zone}")))?;
        w.write_all(text.as_bytes())
            .map_err(|e| GenerateError::io(Path::new(zone), e))
    };
    // Infrastructure names live in `net`.
    let mut infra = String::new();
    record(&mut infra, ROOT_NS.0, "A", ROOT_NS.1[0]);
    record(&mut infra, ROOT_NS.0, "AAAA", ROOT_NS.1[1]);
    for (name, v4, v6) in TLD_NS.iter().chain(SLD_NS.iter()) {
        record(&mut infra, name, "A", v4);
        record(&mut infra, name, "AAAA", v6);
    }
    for prov in DNS_PROVIDERS {
        for n in 0..2 {
            record(&mut infra, &prov.ns_name(n), "A", prov.ns_v4(n));
            if let Some(v6) = prov.ns_v6(n) {
                record(&mut infra, &prov.ns_name(n), "AAAA", v6);
            }
        }
    }
    put("net", &infra)?;
    // Delegations of co.uk and gov.uk.
    let mut uk = String::new();
    for z in SECOND_LEVEL {
        for (name, _, _) in SLD_NS {
            record(&mut uk, z, "NS", fqdn(name));
        }
    }
    put("uk", &uk)?;
    // Mail provider delegations.
    let mut com = String::new();
    for m in MAIL_PROVIDERS {
        let zone = m.zone();
        for n in 0..2 {
            record(&mut com, &zone, "NS", fqdn(&DNS_PROVIDERS[0].ns_name(n)));
        }
        for ds in ds_records.get(&zone).into_iter().flatten() {
            record(&mut com, &zone, "DS", ds);
        }
    }
    put("com", &com)?;
    // Targets: delegations, or all records for flat ones.
    let mut buf = String::new();
    for p in &profiles {
        buf.clear();
        match p.placement {
            Placement::Delegated { provider, .. } => {
                for n in 0..2 {
                    record(
                        &mut buf,
                        &p.domain,
                        "NS",
                        fqdn(&DNS_PROVIDERS[provider].ns_name(n)),
                    );
                }
                for ds in ds_records.get(&p.domain).into_iter().flatten() {
                    record(&mut buf, &p.domain, "DS", ds);
                }
            }
            Placement::Flat => records::target_records(&mut buf, p, &spki),
            Placement::Subdomain(_) => continue,
        }
        put(SUFFIXES[p.suffix].name, &buf)?;
    }
    for (z, mut w) in writers {
        w.flush().map_err(|e| GenerateError::io(Path::new(z), e))?;
    }
    // Second-level zones are signed first so their DS can go into `uk`; all suffix zones are
    // signed with the suffix algorithm and NSEC3 without iterations (as most TLDs are).
    let mut suffix_ds: BTreeMap<String, String> = BTreeMap::new();
    for z in &suffix_zones {
        let rel = PathBuf::from(format!("zones/suffix/{z}.zone"));
        if let Some(ds) = sign_zone(
            z,
            out.join(&rel),
            profile::SUFFIX_ALGORITHM,
            Denial::Nsec3(0),
            DnssecProfile::Secure,
            &mut jobs,
        ) {
            suffix_ds.insert(z.to_string(), ds);
        }
        let server = if SECOND_LEVEL.contains(z) {
            "sld"
        } else {
            "tld"
        };
        served.push((
            z.to_string(),
            server.into(),
            rel.with_extension("signed").display().to_string(),
        ));
    }
    let mut uk_ds = String::new();
    for z in SECOND_LEVEL {
        record(&mut uk_ds, z, "DS", &suffix_ds[*z]);
    }
    append(&out.join("zones/suffix/uk.zone"), &uk_ds)?;

    // Root zone.
    let mut root = String::new();
    records::zone_head(&mut root, "", &[ROOT_NS.0.to_string()]);
    record(&mut root, ROOT_NS.0, "A", ROOT_NS.1[0]);
    record(&mut root, ROOT_NS.0, "AAAA", ROOT_NS.1[1]);
    for (name, v4, v6) in TLD_NS {
        record(&mut root, name, "A", v4);
        record(&mut root, name, "AAAA", v6);
    }
    for tld in TLDS {
        for (name, _, _) in TLD_NS {
            record(&mut root, tld, "NS", fqdn(name));
        }
        record(&mut root, tld, "DS", &suffix_ds[*tld]);
    }
    write_file(&out.join("zones/root.zone"), &root)?;
    let root_ds = sign_zone(
        "",
        out.join("zones/root.zone"),
        Algorithm::EcdsaP256,
        Denial::Nsec,
        DnssecProfile::Secure,
        &mut jobs,
    )
    .unwrap_or_default();
    served.push((".".into(), "root".into(), "zones/root.signed".into()));

    // Sign everything: large zones first so the long jobs overlap the many small ones.
    jobs.sort_by_key(|j| std::cmp::Reverse(fs::metadata(&j.input).map(|m| m.len()).unwrap_or(0)));
    let signed_zones = jobs.len();
    let key_root = out.join("keys/zones");
    jobs.par_iter().try_for_each(|job| {
        let dir = key_root.join(if job.apex.is_empty() {
            "root"
        } else {
            job.apex.as_str()
        });
        keys::sign(job, &dir)
    })?;

    // Server configs.
    let mut manifest_servers = Vec::new();
    let mut addresses: Vec<IpAddr> = Vec::new();
    let nsd = |name: &str,
               listen: Vec<IpAddr>,
               addresses: &mut Vec<IpAddr>|
     -> Result<Server, GenerateError> {
        let zones: Vec<(String, String)> = served
            .iter()
            .filter(|(_, s, _)| s == name)
            .map(|(z, _, f)| (z.clone(), f.clone()))
            .collect();
        let rel = PathBuf::from(format!("servers/nsd-{name}.conf"));
        write_file(&out.join(&rel), &servers::nsd_config(name, &listen, &zones))?;
        addresses.extend(listen.iter().copied());
        Ok(Server {
            name: name.to_string(),
            kind: ServerKind::Nsd,
            config: rel,
            addresses: listen,
            tcp: vec![],
        })
    };
    manifest_servers.push(nsd("root", ROOT_NS.1.to_vec(), &mut addresses)?);
    let pair = |s: [(&str, std::net::Ipv4Addr, std::net::Ipv6Addr); 2]| -> Vec<IpAddr> {
        s.iter()
            .flat_map(|(_, a, b)| [IpAddr::V4(*a), IpAddr::V6(*b)])
            .collect()
    };
    manifest_servers.push(nsd("tld", pair(TLD_NS), &mut addresses)?);
    manifest_servers.push(nsd("sld", pair(SLD_NS), &mut addresses)?);
    for prov in DNS_PROVIDERS {
        manifest_servers.push(nsd(
            &format!("dnsprov{}", prov.index),
            prov.listen_addresses(),
            &mut addresses,
        )?);
    }
    let mut hints = String::new();
    record(&mut hints, "", "NS", fqdn(ROOT_NS.0));
    record(&mut hints, ROOT_NS.0, "A", ROOT_NS.1[0]);
    record(&mut hints, ROOT_NS.0, "AAAA", ROOT_NS.1[1]);
    write_file(&out.join("servers/root.hints"), &hints)?;
    let mut anchor = String::new();
    record(&mut anchor, "", "DS", root_ds);
    write_file(&out.join("servers/root.ds"), &anchor)?;
    write_file(
        &out.join("servers/unbound.conf"),
        &servers::unbound_config(&RESOLVER, "servers/root.hints", "servers/root.ds"),
    )?;
    addresses.extend(RESOLVER);
    manifest_servers.push(Server {
        name: "resolver".into(),
        kind: ServerKind::Unbound,
        config: PathBuf::from("servers/unbound.conf"),
        addresses: RESOLVER.to_vec(),
        tcp: vec![],
    });
    addresses.extend(hosting.addresses.iter().copied());
    manifest_servers.extend(hosting.servers);

    let manifest = Manifest {
        format: FORMAT,
        seed: opts.seed,
        domains: opts.domains,
        addresses,
        local_routes: vec![],
        servers: manifest_servers,
        resolver: format!("{}:53", RESOLVER[0]),
        ca: Some(PathBuf::from(pki::CA_FILE)),
        routing: Some(crate::manifest::RoutingFiles::relative_to(
            out,
            &routing_world,
        )),
    };
    manifest.save(out).map_err(|e| GenerateError::io(out, e))?;
    Ok(Summary {
        domains: opts.domains,
        delegated_zones: delegated.len() + MAIL_PROVIDERS.len(),
        signed_zones,
    })
}

fn append(path: &Path, text: &str) -> Result<(), GenerateError> {
    let mut f = fs::OpenOptions::new()
        .append(true)
        .open(path)
        .map_err(|e| GenerateError::io(path, e))?;
    f.write_all(text.as_bytes())
        .map_err(|e| GenerateError::io(path, e))
}

fn domain_zone_path(i: usize, domain: &str) -> PathBuf {
    PathBuf::from(format!("zones/domains/{:04}/{domain}.zone", i / 1000))
}

fn write_lists(
    out: &Path,
    profiles: &[Profile],
    rates: &Rates,
    routing: &uptake_routing::synthetic::World,
) -> Result<(), GenerateError> {
    let csv_err = |path: &Path, e: csv::Error| GenerateError::io(path, std::io::Error::other(e));
    let targets = out.join("targets.csv");
    let mut w = csv::Writer::from_path(&targets).map_err(|e| csv_err(&targets, e))?;
    w.write_record(["domain", "country", "sector", "organisation"])
        .map_err(|e| csv_err(&targets, e))?;
    for p in profiles {
        w.write_record([
            p.listed_as.as_str(),
            p.country,
            p.sector,
            p.organisation.as_str(),
        ])
        .map_err(|e| csv_err(&targets, e))?;
    }
    w.flush().map_err(|e| GenerateError::io(&targets, e))?;

    let truth = out.join("truth.csv");
    let mut w = csv::Writer::from_path(&truth).map_err(|e| csv_err(&truth, e))?;
    w.write_record(profile::truth_header())
        .map_err(|e| csv_err(&truth, e))?;
    for i in 0..profiles.len() {
        w.write_record(profile::truth_row(profiles, i, routing))
            .map_err(|e| csv_err(&truth, e))?;
    }
    w.flush().map_err(|e| GenerateError::io(&truth, e))?;

    let mut text = serde_json::to_string_pretty(rates)
        .map_err(|e| GenerateError::io(out, std::io::Error::other(e)))?;
    let _ = writeln!(text);
    write_file(&out.join("rates.json"), &text)
}

#[cfg(test)]
mod tests {
    use super::*;
    use uptake_model::Check;

    /// Domains past `WEB_SITES` are parked at a provider's default site; the truth says what
    /// that site does, whatever the domain's drawn web profile was.
    #[test]
    fn domains_past_the_site_limit_are_parked() {
        let opts = GenerateOptions {
            domains: webmail::WEB_SITES as u64 + 50,
            seed: 5,
            out: PathBuf::from("/nonexistent"),
            delegated: Some(100),
            rates: Rates::default(),
        };
        let profiles = draw_profiles(&opts);
        let col = |c: Check| {
            profile::WEB_MAIL_CHECKS
                .iter()
                .position(|x| *x == c)
                .unwrap()
        };
        let mut own = 0;
        for i in 0..profiles.len() {
            let t = profile::web_mail_truth(&profiles, i);
            if i >= webmail::WEB_SITES {
                assert!(matches!(
                    profiles[i].web.hosting,
                    webmail::WebHosting::Shared(_)
                ));
                assert_eq!(
                    t[col(Check::Certificate)],
                    uptake_model::Status::NameMismatch
                );
                assert_eq!(t[col(Check::Hsts)], uptake_model::Status::Absent);
                assert_eq!(
                    t[col(Check::HttpsRedirect)],
                    uptake_model::Status::NotEnforced
                );
            } else if matches!(profiles[i].web.hosting, webmail::WebHosting::Own(_)) {
                own += 1;
            }
        }
        assert!(own > 1000, "own-hosted sites: {own}");
        // Own servers are numbered in target order and never exceed the cap.
        assert!(profiles.iter().all(|p| match p.web.hosting {
            webmail::WebHosting::Own(k) => k < webmail::OWN_SERVERS,
            _ => true,
        }));
    }
}
