//! Single-TXT-record checks: `tls_rpt` (RFC 8460) and `mta_sts_record` (RFC 8461).

use uptake_model::{Finding, Status};

use crate::Lookup;

/// A TXT-record check result: status and the record found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TxtResult {
    /// Status.
    pub finding: Finding,
    /// The record(s) with the version tag, joined by " | ".
    pub record: Option<String>,
}

fn single(
    lookup: &Lookup<String>,
    version: &str,
    validate: impl Fn(&str) -> Result<(), String>,
) -> TxtResult {
    let txt = match lookup {
        Lookup::Failed(r) => {
            return TxtResult {
                finding: Finding::error(r.clone()),
                record: None,
            }
        }
        other => other.records().unwrap_or_default(),
    };
    let matching: Vec<&String> = txt
        .iter()
        .filter(|t| {
            let t = t.trim_start();
            t.starts_with(version)
                && t[version.len()..]
                    .trim_start()
                    .chars()
                    .next()
                    .is_none_or(|c| c == ';')
        })
        .collect();
    let record = (!matching.is_empty()).then(|| {
        matching
            .iter()
            .map(|s| s.as_str())
            .collect::<Vec<_>>()
            .join(" | ")
    });
    let finding = match matching.as_slice() {
        [] => Finding::of(Status::Absent),
        [one] => match validate(one) {
            Ok(()) => Finding::of(Status::Present),
            Err(why) => Finding::with_reason(Status::Invalid, why),
        },
        many => Finding::with_reason(Status::Invalid, format!("{} records", many.len())),
    };
    TxtResult { finding, record }
}

fn fields(text: &str) -> impl Iterator<Item = (String, &str)> {
    text.split(';').skip(1).filter_map(|f| {
        let (k, v) = f.split_once('=')?;
        Some((k.trim().to_ascii_lowercase(), v.trim()))
    })
}

/// `tls_rpt`: one `v=TLSRPTv1` record with `rua=` of mailto: or https: URIs.
pub fn tls_rpt(lookup: &Lookup<String>) -> TxtResult {
    single(lookup, "v=TLSRPTv1", |text| {
        let rua = fields(text)
            .find(|(k, _)| k == "rua")
            .map(|(_, v)| v)
            .ok_or("no rua=")?;
        let uris: Vec<&str> = rua
            .split(',')
            .map(str::trim)
            .filter(|u| !u.is_empty())
            .collect();
        if uris.is_empty() {
            return Err("empty rua=".into());
        }
        for u in uris {
            let l = u.to_ascii_lowercase();
            if !(l.starts_with("mailto:") && l.len() > 7
                || l.starts_with("https://") && l.len() > 8)
            {
                return Err(format!("rua URI '{u}' is not mailto: or https:"));
            }
        }
        Ok(())
    })
}

/// `mta_sts_record`: one `v=STSv1` record with `id=` of 1 to 32 letters and digits.
pub fn mta_sts(lookup: &Lookup<String>) -> TxtResult {
    single(lookup, "v=STSv1", |text| {
        let id = fields(text)
            .find(|(k, _)| k == "id")
            .map(|(_, v)| v)
            .ok_or("no id=")?;
        if id.is_empty() || id.len() > 32 || !id.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Err(format!("id '{id}' is not 1-32 letters and digits"));
        }
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn txt(v: &[&str]) -> Lookup<String> {
        Lookup::Data(v.iter().map(|s| s.to_string()).collect())
    }

    #[test]
    fn tls_rpt_statuses() {
        assert_eq!(
            tls_rpt(&txt(&["v=TLSRPTv1; rua=mailto:r@a.nl"]))
                .finding
                .status,
            Status::Present
        );
        assert_eq!(
            tls_rpt(&txt(&["v=TLSRPTv1;rua=https://r.a.nl/x,mailto:r@a.nl"]))
                .finding
                .status,
            Status::Present
        );
        assert_eq!(
            tls_rpt(&txt(&["v=TLSRPTv1; rua=ftp://r.a.nl/"]))
                .finding
                .status,
            Status::Invalid
        );
        assert_eq!(
            tls_rpt(&txt(&["v=TLSRPTv1;"])).finding.status,
            Status::Invalid
        );
        assert_eq!(
            tls_rpt(&txt(&[
                "v=TLSRPTv1; rua=mailto:a@b",
                "v=TLSRPTv1; rua=mailto:c@d"
            ]))
            .finding
            .status,
            Status::Invalid
        );
        assert_eq!(
            tls_rpt(&txt(&["something else"])).finding.status,
            Status::Absent
        );
        assert_eq!(tls_rpt(&Lookup::NxDomain).finding.status, Status::Absent);
        assert_eq!(
            tls_rpt(&Lookup::Failed("timeout".into())).finding.status,
            Status::Error
        );
    }

    #[test]
    fn mta_sts_statuses() {
        assert_eq!(
            mta_sts(&txt(&["v=STSv1; id=20261128T01"])).finding.status,
            Status::Present
        );
        assert_eq!(
            mta_sts(&txt(&["v=STSv1; id=2026-11-28!"])).finding.status,
            Status::Invalid
        );
        assert_eq!(mta_sts(&txt(&["v=STSv1;"])).finding.status, Status::Invalid);
        assert_eq!(
            mta_sts(&txt(&["v=STSv10; id=1"])).finding.status,
            Status::Absent
        );
        assert_eq!(mta_sts(&Lookup::NoData).finding.status, Status::Absent);
    }
}
