//! Zone file text for each target's profile: the records a real operator with that
//! deployment would publish.

use std::fmt::Write;

use super::profile::{Caa, Dmarc, Mx, Profile, Spf, Txt, Www};
use super::webmail::{KeyType, Policy, Tlsa, MTA_STS_SERVER};
use super::world::{MAIL_PROVIDERS, TOO_MANY_LOOKUPS};

/// A DKIM public key (Ed25519, 32 zero-free bytes): the check only looks for the node.
const DKIM_KEY: &str = "11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=";

/// The hex SHA-256 of each pool key's SubjectPublicKeyInfo, in [`KeyType::ALL`] order: the
/// data of `3 1 1` TLSA records.
pub type Spki = [String; 3];

/// The TLSA record data (`3 1 1 <hex>`) for a host with `key`, or a mismatching one.
pub fn tlsa_data(spki: &Spki, key: KeyType, matching: bool, owner: &str) -> String {
    if matching {
        let i = KeyType::ALL.iter().position(|k| *k == key).unwrap_or(0);
        format!("3 1 1 {}", spki[i])
    } else {
        // The SHA-256 of a key nobody has: the owner name hashed, as a stand-in.
        use sha2::{Digest, Sha256};
        let h: String = Sha256::digest(format!("no such key for {owner}"))
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        format!("3 1 1 {h}")
    }
}

/// Writes a TXT record, splitting text into 255-byte character-strings.
pub fn txt(out: &mut String, owner: &str, text: &str) {
    let _ = write!(out, "{} 3600 IN TXT", fqdn(owner));
    let bytes = text.as_bytes();
    for chunk in bytes.chunks(255) {
        let s = String::from_utf8_lossy(chunk)
            .replace('\\', "\\\\")
            .replace('"', "\\\"");
        let _ = write!(out, " \"{s}\"");
    }
    out.push('\n');
}

/// Absolute form of a name written without its trailing dot ("" is the root).
pub fn fqdn(name: &str) -> String {
    format!("{name}.")
}

fn rr(out: &mut String, owner: &str, rtype: &str, data: impl std::fmt::Display) {
    let _ = writeln!(out, "{} 3600 IN {rtype} {data}", fqdn(owner));
}

/// The SPF TXT texts of a profile.
pub fn spf_texts(spf: Spf) -> Vec<String> {
    match spf {
        Spf::None => vec![],
        Spf::Own(q) => vec![format!("v=spf1 ip4:198.51.100.0/24 a {q}all")],
        Spf::Include(m, q) => vec![format!(
            "v=spf1 include:{} {q}all",
            MAIL_PROVIDERS[m].spf_name()
        )],
        Spf::Redirect(m) => vec![format!("v=spf1 redirect={}", MAIL_PROVIDERS[m].spf_name())],
        Spf::TooManyLookups => vec![format!("v=spf1 include:{TOO_MANY_LOOKUPS} -all")],
        Spf::SyntaxError => vec!["v=spf1 ip4:198.51.100.300 -all".into()],
        Spf::TwoRecords => vec![
            "v=spf1 ip4:198.51.100.0/24 -all".into(),
            "v=spf1 ~all".into(),
        ],
    }
}

/// The `_dmarc` TXT texts of a profile.
pub fn dmarc_texts(d: Dmarc, domain: &str) -> Vec<String> {
    match d {
        Dmarc::Absent => vec![],
        Dmarc::Policy { p, sp, pct } => {
            let mut s = format!("v=DMARC1; p={p}");
            if let Some(sp) = sp {
                let _ = write!(s, "; sp={sp}");
            }
            if pct != 100 {
                let _ = write!(s, "; pct={pct}");
            }
            let _ = write!(s, "; rua=mailto:dmarc-reports@{domain}");
            vec![s]
        }
        Dmarc::BadPolicy => vec![format!(
            "v=DMARC1; p=block; rua=mailto:dmarc-reports@{domain}"
        )],
        Dmarc::TwoRecords => vec!["v=DMARC1; p=reject".into(), "v=DMARC1; p=none".into()],
    }
}

/// Appends every record of target `p` (absolute owner names) to `out`.
pub fn target_records(out: &mut String, p: &Profile, spki: &Spki) {
    let d = p.domain.as_str();
    let web = &p.web_server;
    rr(out, d, "A", web.v4);
    if p.apex_aaaa {
        rr(out, d, "AAAA", web.v6);
    }
    match p.www {
        Www::Absent => {}
        Www::Own { aaaa } => {
            rr(out, &format!("www.{d}"), "A", web.v4);
            if aaaa {
                rr(out, &format!("www.{d}"), "AAAA", web.v6);
            }
        }
        Www::Cname => rr(out, &format!("www.{d}"), "CNAME", format!("{d}.")),
    }
    match p.mx {
        Mx::None => {}
        Mx::Null => rr(out, d, "MX", "0 ."),
        Mx::Shared(m) => {
            let prov = MAIL_PROVIDERS[m];
            rr(out, d, "MX", format!("10 {}.", prov.mx_name(0)));
            rr(out, d, "MX", format!("20 {}.", prov.mx_name(1)));
        }
        Mx::Own { aaaa } => {
            let host = format!("mail.{d}");
            rr(out, d, "MX", format!("10 {host}."));
            if let Some(server) = &p.mail_server {
                rr(out, &host, "A", server.v4);
                if let (true, Some(v6)) = (aaaa, server.v6) {
                    rr(out, &host, "AAAA", v6);
                }
                if p.tlsa != Tlsa::None {
                    let owner = format!("_25._tcp.{host}");
                    let data = tlsa_data(spki, server.key, p.tlsa == Tlsa::Match, &owner);
                    rr(out, &owner, "TLSA", data);
                }
            }
        }
    }
    if p.mta_sts == Txt::Present && p.web.policy != Policy::NoHost {
        rr(out, &format!("mta-sts.{d}"), "A", MTA_STS_SERVER.v4);
    }
    for text in spf_texts(p.spf) {
        txt(out, d, &text);
    }
    if p.spf == Spf::None && p.web_host.is_multiple_of(3) {
        txt(out, d, "site-verification=4f9d2c");
    }
    for text in dmarc_texts(p.dmarc, d) {
        txt(out, &format!("_dmarc.{d}"), &text);
    }
    if p.dkim {
        txt(
            out,
            &format!("sel1._domainkey.{d}"),
            &format!("v=DKIM1; k=ed25519; p={DKIM_KEY}"),
        );
    }
    match p.caa {
        Caa::Absent => {}
        Caa::Issue => {
            rr(out, d, "CAA", "0 issue \"ca.example.net\"");
            rr(out, d, "CAA", format!("0 iodef \"mailto:security@{d}\""));
        }
        Caa::IodefOnly => rr(out, d, "CAA", format!("0 iodef \"mailto:security@{d}\"")),
        Caa::UnknownCritical => {
            rr(out, d, "CAA", "0 issue \"ca.example.net\"");
            rr(out, d, "CAA", "128 tbs \"unknown\"");
        }
    }
    match p.tls_rpt {
        Txt::Absent => {}
        Txt::Present => txt(
            out,
            &format!("_smtp._tls.{d}"),
            &format!("v=TLSRPTv1; rua=mailto:tlsrpt@{d}"),
        ),
        Txt::Invalid(0) => txt(
            out,
            &format!("_smtp._tls.{d}"),
            "v=TLSRPTv1; rua=ftp://reports.example.net/",
        ),
        Txt::Invalid(_) => txt(out, &format!("_smtp._tls.{d}"), "v=TLSRPTv1;"),
    }
    match p.mta_sts {
        Txt::Absent => {}
        Txt::Present => txt(out, &format!("_mta-sts.{d}"), "v=STSv1; id=20261128T01"),
        Txt::Invalid(0) => txt(out, &format!("_mta-sts.{d}"), "v=STSv1; id=2026-11-28!"),
        Txt::Invalid(_) => txt(out, &format!("_mta-sts.{d}"), "v=STSv1;"),
    }
}

/// SOA and NS lines of a zone (`apex` "" is the root).
pub fn zone_head(out: &mut String, apex: &str, ns: &[String]) {
    let owner = fqdn(apex);
    let _ = writeln!(out, "$TTL 3600");
    let _ = writeln!(
        out,
        "{owner} 3600 IN SOA {} hostmaster.{} 2026112801 7200 3600 1209600 300",
        ns.first().map(|n| fqdn(n)).unwrap_or_else(|| ".".into()),
        if apex.is_empty() {
            "root-servers.net.".to_string()
        } else {
            owner.clone()
        },
    );
    for n in ns {
        let _ = writeln!(out, "{owner} 3600 IN NS {n}.");
    }
}

/// `rr` for callers outside this module.
pub fn record(out: &mut String, owner: &str, rtype: &str, data: impl std::fmt::Display) {
    rr(out, owner, rtype, data);
}
