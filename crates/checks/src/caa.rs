//! `caa` (RFC 8659): the CAA RRset that applies, found by climbing towards the registrable
//! domain.

use uptake_model::{Finding, Status};

use crate::Lookup;

/// A CAA record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaaRecord {
    /// Flags (128 = issuer critical).
    pub flags: u8,
    /// Tag, e.g. `issue`.
    pub tag: String,
    /// Value as text.
    pub value: String,
}

/// The CAA result and its evidence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaaResult {
    /// Status.
    pub finding: Finding,
    /// Where the RRset was found.
    pub found_at: Option<String>,
    /// Records as `flags tag "value"`.
    pub records: Vec<String>,
    /// Issuer domains from issue / issuewild.
    pub issuers: Vec<String>,
}

const KNOWN_TAGS: &[&str] = &[
    "issue",
    "issuewild",
    "iodef",
    "issuemail",
    "issuevmc",
    "contactemail",
    "contactphone",
];

/// Evaluates the climb: `(name, lookup)` pairs from the domain upwards, ending at the first
/// name with CAA records (or at the registrable domain).
pub fn evaluate(climb: &[(String, Lookup<CaaRecord>)]) -> CaaResult {
    let empty = |finding| CaaResult {
        finding,
        found_at: None,
        records: vec![],
        issuers: vec![],
    };
    for (name, lookup) in climb {
        let records = match lookup {
            Lookup::Failed(r) => return empty(Finding::error(format!("CAA at {name}: {r}"))),
            Lookup::Data(v) if !v.is_empty() => v,
            _ => continue,
        };
        let mut problems = Vec::new();
        let mut issuers = Vec::new();
        for r in records {
            let tag = r.tag.to_ascii_lowercase();
            if !KNOWN_TAGS.contains(&tag.as_str()) {
                if r.flags & 128 != 0 {
                    problems.push(format!("unknown critical tag '{}'", r.tag));
                }
                continue;
            }
            match tag.as_str() {
                "issue" | "issuewild" => match issuer(&r.value) {
                    Ok(Some(i)) => issuers.push(i),
                    Ok(None) => {}
                    Err(e) => problems.push(e),
                },
                "iodef" => {
                    let v = r.value.to_ascii_lowercase();
                    if !(v.starts_with("mailto:")
                        || v.starts_with("https://")
                        || v.starts_with("http://"))
                    {
                        problems.push(format!(
                            "iodef '{}' is not a mailto: or http(s): URL",
                            r.value
                        ));
                    }
                }
                _ => {}
            }
        }
        issuers.sort();
        issuers.dedup();
        let finding = if problems.is_empty() {
            Finding::of(Status::Present)
        } else {
            Finding::with_reason(Status::Invalid, problems.join("; "))
        };
        return CaaResult {
            finding,
            found_at: Some(name.clone()),
            records: records
                .iter()
                .map(|r| format!("{} {} \"{}\"", r.flags, r.tag, r.value))
                .collect(),
            issuers,
        };
    }
    empty(Finding::of(Status::Absent))
}

/// The issuer domain of an issue/issuewild value (None for ";", which forbids issuance).
fn issuer(value: &str) -> Result<Option<String>, String> {
    let domain = value.split(';').next().unwrap_or_default().trim();
    if domain.is_empty() {
        return Ok(None);
    }
    let valid = domain.split('.').all(|l| {
        !l.is_empty() && l.len() <= 63 && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
    });
    if valid {
        Ok(Some(domain.to_ascii_lowercase()))
    } else {
        Err(format!("issuer '{domain}' is not a domain name"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(flags: u8, tag: &str, value: &str) -> CaaRecord {
        CaaRecord {
            flags,
            tag: tag.into(),
            value: value.into(),
        }
    }

    #[test]
    fn climbing() {
        let climb = vec![
            ("www.a.nl".to_string(), Lookup::NoData),
            (
                "a.nl".to_string(),
                Lookup::Data(vec![rec(0, "issue", "ca.example.net; account=1")]),
            ),
        ];
        let r = evaluate(&climb);
        assert_eq!(r.finding.status, Status::Present);
        assert_eq!(r.found_at.as_deref(), Some("a.nl"));
        assert_eq!(r.issuers, vec!["ca.example.net"]);
    }

    #[test]
    fn invalid_and_absent_and_error() {
        let crit = vec![(
            "a.nl".to_string(),
            Lookup::Data(vec![
                rec(0, "issue", "ca.example.net"),
                rec(128, "tbs", "x"),
            ]),
        )];
        assert_eq!(evaluate(&crit).finding.status, Status::Invalid);
        let noncrit = vec![("a.nl".to_string(), Lookup::Data(vec![rec(0, "tbs", "x")]))];
        assert_eq!(evaluate(&noncrit).finding.status, Status::Present);
        let bad = vec![(
            "a.nl".to_string(),
            Lookup::Data(vec![rec(0, "issue", "not a domain!")]),
        )];
        assert_eq!(evaluate(&bad).finding.status, Status::Invalid);
        assert_eq!(
            evaluate(&[("a.nl".to_string(), Lookup::NxDomain)])
                .finding
                .status,
            Status::Absent
        );
        assert_eq!(
            evaluate(&[("a.nl".to_string(), Lookup::Failed("t".into()))])
                .finding
                .status,
            Status::Error
        );
        let forbid = vec![("a.nl".to_string(), Lookup::Data(vec![rec(0, "issue", ";")]))];
        assert_eq!(evaluate(&forbid).finding.status, Status::Present);
    }
}
