//! `dmarc` (RFC 7489): the policy that applies to mail from the domain.

use uptake_model::{Finding, Status};

use crate::Lookup;

/// The DMARC result and its evidence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DmarcResult {
    /// Status.
    pub finding: Finding,
    /// The record that applies.
    pub record: Option<String>,
    /// `own` or `organisational`.
    pub source: Option<&'static str>,
    /// pct= (100 when absent).
    pub pct: Option<i64>,
    /// rua= URIs.
    pub rua: Vec<String>,
}

fn dmarc_records(txt: &[String]) -> Vec<&String> {
    txt.iter()
        .filter(|t| {
            let t = t.trim_start();
            t.len() >= 8
                && t[..8].eq_ignore_ascii_case("v=DMARC1")
                && t[8..].trim_start().chars().next().is_none_or(|c| c == ';')
        })
        .collect()
}

/// Evaluates DMARC: the record at `_dmarc.<domain>` (`own`) and, when there is none and the
/// domain is not its own organisational domain, the record at `_dmarc.<organisational domain>`
/// (`organisational`, where `sp` applies).
pub fn evaluate(own: &Lookup<String>, organisational: Option<&Lookup<String>>) -> DmarcResult {
    let absent = |finding| DmarcResult {
        finding,
        record: None,
        source: None,
        pct: None,
        rua: vec![],
    };
    let own_records = match own.records() {
        None => return absent(Finding::error(format!("_dmarc TXT: {}", reason(own)))),
        Some(r) => dmarc_records(r),
    };
    if !own_records.is_empty() {
        return from_records(&own_records, "own", false);
    }
    let Some(org) = organisational else {
        return absent(Finding::of(Status::Absent));
    };
    match org.records() {
        None => absent(Finding::error(format!(
            "organisational _dmarc TXT: {}",
            reason(org)
        ))),
        Some(r) => {
            let recs = dmarc_records(r);
            if recs.is_empty() {
                absent(Finding::of(Status::Absent))
            } else {
                from_records(&recs, "organisational", true)
            }
        }
    }
}

fn reason<T>(l: &Lookup<T>) -> String {
    match l {
        Lookup::Failed(r) => r.clone(),
        _ => String::new(),
    }
}

fn from_records(records: &[&String], source: &'static str, subdomain: bool) -> DmarcResult {
    let record = Some(
        records
            .iter()
            .map(|s| s.as_str())
            .collect::<Vec<_>>()
            .join(" | "),
    );
    let invalid = |why: String| DmarcResult {
        finding: Finding::with_reason(Status::Invalid, why),
        record: record.clone(),
        source: Some(source),
        pct: None,
        rua: vec![],
    };
    if records.len() > 1 {
        return invalid(format!("{} DMARC records", records.len()));
    }
    let parsed = match parse(records[0]) {
        Ok(p) => p,
        Err(why) => return invalid(why),
    };
    let policy = if subdomain {
        parsed.sp.unwrap_or(parsed.p)
    } else {
        parsed.p
    };
    DmarcResult {
        finding: Finding::of(policy),
        record,
        source: Some(source),
        pct: Some(parsed.pct),
        rua: parsed.rua,
    }
}

/// A parsed DMARC record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DmarcRecord {
    /// p=
    pub p: Status,
    /// sp=
    pub sp: Option<Status>,
    /// pct=
    pub pct: i64,
    /// rua=
    pub rua: Vec<String>,
}

fn policy(v: &str) -> Option<Status> {
    match v.to_ascii_lowercase().as_str() {
        "none" => Some(Status::None),
        "quarantine" => Some(Status::Quarantine),
        "reject" => Some(Status::Reject),
        _ => None,
    }
}

/// Parses a DMARC record; the error says why it is invalid.
pub fn parse(text: &str) -> Result<DmarcRecord, String> {
    let mut tags = text.split(';').map(str::trim).filter(|t| !t.is_empty());
    match tags.next() {
        Some(v) if v.replace(' ', "").eq_ignore_ascii_case("v=DMARC1") => {}
        _ => return Err("does not start with v=DMARC1".into()),
    }
    let (mut p, mut sp, mut pct, mut rua) = (None, None, 100, Vec::new());
    for tag in tags {
        let Some((k, v)) = tag.split_once('=') else {
            return Err(format!("malformed tag '{tag}'"));
        };
        let (k, v) = (k.trim().to_ascii_lowercase(), v.trim());
        match k.as_str() {
            "p" => p = Some(policy(v).ok_or_else(|| format!("unknown p={v}"))?),
            "sp" => sp = Some(policy(v).ok_or_else(|| format!("unknown sp={v}"))?),
            "pct" => {
                pct = v
                    .parse::<i64>()
                    .ok()
                    .filter(|n| (0..=100).contains(n))
                    .ok_or_else(|| format!("bad pct={v}"))?
            }
            "rua" => {
                rua = v
                    .split(',')
                    .map(|u| u.trim().to_string())
                    .filter(|u| !u.is_empty())
                    .collect()
            }
            _ => {}
        }
    }
    let p = p.ok_or_else(|| "no p= tag".to_string())?;
    Ok(DmarcRecord { p, sp, pct, rua })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn txt(v: &[&str]) -> Lookup<String> {
        Lookup::Data(v.iter().map(|s| s.to_string()).collect())
    }

    #[test]
    fn own_record() {
        let r = evaluate(
            &txt(&["v=DMARC1; p=reject; pct=50; rua=mailto:a@b.nl"]),
            None,
        );
        assert_eq!(r.finding.status, Status::Reject);
        assert_eq!(r.pct, Some(50));
        assert_eq!(r.rua, vec!["mailto:a@b.nl"]);
        assert_eq!(r.source, Some("own"));
    }

    #[test]
    fn organisational_fallback_uses_sp() {
        let org = txt(&["v=DMARC1; p=reject; sp=none"]);
        let r = evaluate(&Lookup::NxDomain, Some(&org));
        assert_eq!(r.finding.status, Status::None);
        assert_eq!(r.source, Some("organisational"));
        let org = txt(&["v=DMARC1; p=quarantine"]);
        assert_eq!(
            evaluate(&Lookup::NoData, Some(&org)).finding.status,
            Status::Quarantine
        );
        assert_eq!(
            evaluate(&Lookup::NoData, Some(&Lookup::NxDomain))
                .finding
                .status,
            Status::Absent
        );
        assert_eq!(
            evaluate(&Lookup::NoData, Some(&Lookup::Failed("t".into())))
                .finding
                .status,
            Status::Error
        );
    }

    #[test]
    fn invalid_and_absent() {
        assert_eq!(
            evaluate(&txt(&["v=DMARC1; p=block"]), None).finding.status,
            Status::Invalid
        );
        assert_eq!(
            evaluate(&txt(&["v=DMARC1; rua=mailto:x@y"]), None)
                .finding
                .status,
            Status::Invalid
        );
        assert_eq!(
            evaluate(&txt(&["v=DMARC1; p=reject", "v=DMARC1; p=none"]), None)
                .finding
                .status,
            Status::Invalid
        );
        assert_eq!(
            evaluate(&txt(&["v=spf1 -all"]), None).finding.status,
            Status::Absent
        );
        assert_eq!(
            evaluate(&txt(&["v=DMARC10; p=reject"]), None)
                .finding
                .status,
            Status::Absent
        );
        assert_eq!(
            evaluate(&Lookup::Failed("SERVFAIL".into()), None)
                .finding
                .status,
            Status::Error
        );
    }
}
