//! `mta_sts` (RFC 8461): the policy at `https://mta-sts.<domain>/.well-known/mta-sts.txt`,
//! parsed (§3.2) and matched against the domain's MX hosts (§4.1).

use uptake_model::{Finding, Status};

use crate::web::HttpResponse;

/// Largest max_age allowed (§3.2: about one year).
pub const MAX_AGE_LIMIT: u32 = 31_557_600;

/// Largest policy body accepted (contract: 64 KiB).
pub const MAX_POLICY_BYTES: usize = 64 * 1024;

/// Policy mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// `enforce`.
    Enforce,
    /// `testing`.
    Testing,
    /// `none`.
    None,
}

/// A syntactically valid MTA-STS policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    /// The mode.
    pub mode: Mode,
    /// max_age in seconds (0..=31557600).
    pub max_age: u32,
    /// The mx patterns, lower case, in order (`mail.example.com`, `*.example.net`).
    pub mx: Vec<String>,
}

/// Parses a policy body (RFC 8461 §3.2).
///
/// Lines end in LF or CRLF. Each line is `key:` then optional spaces/tabs, the value, then
/// optional trailing spaces/tabs; no whitespace before the colon, keys and the values
/// `STSv1`, `enforce`, `testing`, `none` are case-sensitive (`%s` in the ABNF). `version:
/// STSv1` must be the first line (contract); `version`, `mode` and `max_age` exactly once;
/// `max_age` is 1 to 10 digits and at most 31557600; `mx` is `[*.]Domain` and at least one
/// is required for enforce and testing; other keys must be well-formed extension names
/// and are ignored. Deviation, documented: empty (or whitespace-only) lines are skipped,
/// as common parsers do, although the ABNF has no room for them.
pub fn parse_policy(body: &str) -> Result<Policy, String> {
    let mut lines = body
        .split('\n')
        .map(|l| l.strip_suffix('\r').unwrap_or(l))
        .filter(|l| !l.trim_matches([' ', '\t']).is_empty());
    let field = |line: Option<&str>| -> Result<Option<(String, String)>, String> {
        let Some(line) = line else { return Ok(None) };
        let (key, value) = line
            .split_once(':')
            .ok_or_else(|| format!("line without ':': '{line}'"))?;
        let valid_key = key.len() <= 32
            && key.starts_with(|c: char| c.is_ascii_alphanumeric())
            && key
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'));
        if !valid_key {
            return Err(format!("bad key '{key}'"));
        }
        let value = value.trim_matches([' ', '\t']);
        if value.is_empty() || value.chars().any(|c| c.is_control() && c != '\t') {
            return Err(format!("bad value for {key}"));
        }
        Ok(Some((key.to_string(), value.to_string())))
    };
    match field(lines.next())? {
        Some((k, v)) if k == "version" && v == "STSv1" => {}
        Some((k, v)) if k == "version" => return Err(format!("version '{v}'")),
        _ => return Err("first line is not 'version: STSv1'".into()),
    }
    let (mut mode, mut max_age, mut mx) = (None, None, Vec::new());
    while let Some((key, value)) = field(lines.next())? {
        match key.as_str() {
            "version" => return Err("duplicate version".into()),
            "mode" => {
                if mode.is_some() {
                    return Err("duplicate mode".into());
                }
                mode = Some(match value.as_str() {
                    "enforce" => Mode::Enforce,
                    "testing" => Mode::Testing,
                    "none" => Mode::None,
                    other => return Err(format!("mode '{other}'")),
                });
            }
            "max_age" => {
                if max_age.is_some() {
                    return Err("duplicate max_age".into());
                }
                let n = (value.len() <= 10 && value.bytes().all(|b| b.is_ascii_digit()))
                    .then(|| value.parse::<u64>().ok())
                    .flatten()
                    .filter(|n| *n <= u64::from(MAX_AGE_LIMIT))
                    .ok_or_else(|| format!("max_age '{value}' (0..=31557600)"))?;
                max_age = Some(n as u32);
            }
            "mx" => {
                if !is_mx_pattern(&value) {
                    return Err(format!("mx '{value}'"));
                }
                mx.push(value.to_ascii_lowercase());
            }
            _ => {}
        }
    }
    let mode = mode.ok_or("no mode")?;
    let max_age = max_age.ok_or("no max_age")?;
    if mode != Mode::None && mx.is_empty() {
        return Err("no mx".into());
    }
    Ok(Policy { mode, max_age, mx })
}

/// `[*.]Domain` with RFC 5321 labels (letters, digits, inner hyphens, 1-63 octets).
fn is_mx_pattern(p: &str) -> bool {
    let domain = p.strip_prefix("*.").unwrap_or(p);
    domain.split('.').all(|l| {
        !l.is_empty()
            && l.len() <= 63
            && !l.starts_with('-')
            && !l.ends_with('-')
            && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
    })
}

/// An MX host matches a policy pattern (§4.1): equal (case-insensitive, a trailing dot of
/// the host ignored), or `*.example.nl` matching exactly one extra leftmost label.
fn mx_matches(pattern: &str, mx_host: &str) -> bool {
    let host = mx_host.trim_end_matches('.').to_ascii_lowercase();
    let pattern = pattern.to_ascii_lowercase();
    match pattern.strip_prefix("*.") {
        Some(parent) => host
            .split_once('.')
            .is_some_and(|(label, rest)| !label.is_empty() && rest == parent),
        None => host == pattern,
    }
}

/// What fetching the policy got.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PolicyFetch<'a> {
    /// A definite failure: no address for `mta-sts.<domain>` (NXDOMAIN / NODATA), 443
    /// refused, TLS alert -> `invalid` with this reason.
    Failed(String),
    /// Could not measure (timeout, reset, DNS failure) -> `error`.
    Error(String),
    /// An HTTP response over TLS, with the certificate finding for `mta-sts.<domain>`
    /// ([`crate::web::certificate::certificate`]).
    Fetched {
        /// The certificate's finding.
        certificate: &'a Finding,
        /// The response (redirects not followed).
        response: HttpResponse<'a>,
    },
}

/// The `mta_sts` finding and the parsed policy (for the `mta_sts_*` evidence columns; also
/// when the MX hosts do not match).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MtaSts {
    /// enforce, testing, none, invalid, absent.
    pub finding: Finding,
    /// The policy when it parsed.
    pub policy: Option<Policy>,
}

/// `mta_sts` of a domain: `record` is the `mta_sts_record` finding (absent -> `absent`,
/// invalid -> `invalid`, error -> `error`; `fetch` is only read when it is present),
/// `mx_hosts` the domain's MX host names (empty for no MX / null MX: the match is vacuous).
///
/// Fetched: certificate not `valid` -> `invalid` (`certificate <status>`), status not 200,
/// media type not text/plain, body over 64 KiB or not UTF-8 -> `invalid`; a syntax error
/// -> `invalid`; enforce / testing with an MX host that no pattern matches -> `invalid`
/// (`mx mismatch: <host>`); otherwise the mode.
pub fn mta_sts(record: &Finding, fetch: &PolicyFetch, mx_hosts: &[String]) -> MtaSts {
    let done = |finding| MtaSts {
        finding,
        policy: None,
    };
    let invalid = |why: String| done(Finding::with_reason(Status::Invalid, why));
    match record.status {
        Status::Present => {}
        Status::Absent => return done(Finding::of(Status::Absent)),
        Status::Invalid => {
            return invalid(format!(
                "_mta-sts record invalid: {}",
                record.reason.as_deref().unwrap_or("?")
            ))
        }
        _ => {
            return done(Finding::error(format!(
                "_mta-sts record: {}",
                record.reason.as_deref().unwrap_or("not measured")
            )))
        }
    }
    let (certificate, response) = match fetch {
        PolicyFetch::Failed(why) => return invalid(why.clone()),
        PolicyFetch::Error(why) => return done(Finding::error(why.clone())),
        PolicyFetch::Fetched {
            certificate,
            response,
        } => (certificate, response),
    };
    match certificate.status {
        Status::Valid => {}
        Status::Error => {
            return done(Finding::error(format!(
                "certificate: {}",
                certificate.reason.as_deref().unwrap_or("error")
            )))
        }
        other => return invalid(format!("certificate {other}")),
    }
    if response.status != 200 {
        return invalid(format!("status {}", response.status));
    }
    if !crate::web::is_text_plain(response.content_type) {
        return invalid(format!(
            "media type {}",
            response.content_type.unwrap_or("missing")
        ));
    }
    if response.body.len() > MAX_POLICY_BYTES {
        return invalid("policy larger than 64 KiB".into());
    }
    let Ok(body) = std::str::from_utf8(response.body) else {
        return invalid("policy is not UTF-8".into());
    };
    let policy = match parse_policy(body) {
        Ok(p) => p,
        Err(why) => return invalid(format!("policy: {why}")),
    };
    let status = match policy.mode {
        Mode::Enforce => Status::Enforce,
        Mode::Testing => Status::Testing,
        Mode::None => Status::None,
    };
    let unmatched = (policy.mode != Mode::None)
        .then(|| {
            mx_hosts
                .iter()
                .find(|h| !policy.mx.iter().any(|p| mx_matches(p, h)))
        })
        .flatten();
    let finding = match unmatched {
        Some(host) => Finding::with_reason(Status::Invalid, format!("mx mismatch: {host}")),
        None => Finding::of(status),
    };
    MtaSts {
        finding,
        policy: Some(policy),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 8461 §3.2's example policy.
    const RFC_EXAMPLE: &str = "version: STSv1\nmode: enforce\nmx: mail.example.com\n\
                               mx: *.example.net\nmx: backupmx.example.com\nmax_age: 604800\n";

    #[test]
    fn rfc_example_parses() {
        let p = parse_policy(RFC_EXAMPLE).unwrap();
        assert_eq!(p.mode, Mode::Enforce);
        assert_eq!(p.max_age, 604_800);
        assert_eq!(
            p.mx,
            vec!["mail.example.com", "*.example.net", "backupmx.example.com"]
        );
        // Same with CRLF, trailing whitespace, tabs after the colon, an unknown key.
        let crlf = "version: STSv1\r\nmode:\tenforce \r\nmx: mail.example.com\r\n\
                    max_age:604800\r\nx-note: anything goes here\r\n";
        assert_eq!(parse_policy(crlf).unwrap().max_age, 604_800);
        // mode none needs no mx.
        let none = parse_policy("version: STSv1\nmode: none\nmax_age: 0").unwrap();
        assert_eq!((none.mode, none.max_age), (Mode::None, 0));
        let max = "version: STSv1\nmode: testing\nmx: a.nl\nmax_age: 31557600\n";
        assert_eq!(parse_policy(max).unwrap().max_age, MAX_AGE_LIMIT);
    }

    #[test]
    fn syntax_errors() {
        for (body, why) in [
            ("", "first line"),
            (
                "mode: enforce\nversion: STSv1\nmx: a.nl\nmax_age: 1\n",
                "first line",
            ),
            (
                "version: STSv2\nmode: enforce\nmx: a.nl\nmax_age: 1\n",
                "version",
            ),
            (
                "version: stsv1\nmode: enforce\nmx: a.nl\nmax_age: 1\n",
                "version",
            ),
            (
                "version : STSv1\nmode: enforce\nmx: a.nl\nmax_age: 1\n",
                "bad key",
            ),
            (
                "version: STSv1\nmode: Enforce\nmx: a.nl\nmax_age: 1\n",
                "mode",
            ),
            (
                "version: STSv1\nmode: strict\nmx: a.nl\nmax_age: 1\n",
                "mode",
            ),
            (
                "version: STSv1\nmode: enforce\nmx: a.nl\nmax_age: 31557601\n",
                "max_age",
            ),
            (
                "version: STSv1\nmode: enforce\nmx: a.nl\nmax_age: 12345678901\n",
                "max_age",
            ),
            (
                "version: STSv1\nmode: enforce\nmx: a.nl\nmax_age: -1\n",
                "max_age",
            ),
            ("version: STSv1\nmode: enforce\nmx: a.nl\n", "no max_age"),
            ("version: STSv1\nmx: a.nl\nmax_age: 1\n", "no mode"),
            ("version: STSv1\nmode: enforce\nmax_age: 1\n", "no mx"),
            ("version: STSv1\nmode: testing\nmax_age: 1\n", "no mx"),
            (
                "version: STSv1\nmode: enforce\nmode: none\nmx: a.nl\nmax_age: 1\n",
                "duplicate mode",
            ),
            (
                "version: STSv1\nmode: enforce\nmx: a.nl\nmax_age: 1\nmax_age: 2\n",
                "duplicate max_age",
            ),
            (
                "version: STSv1\nversion: STSv1\nmode: none\nmax_age: 1\n",
                "duplicate version",
            ),
            (
                "version: STSv1\nmode: enforce\nmx: a..nl\nmax_age: 1\n",
                "mx",
            ),
            (
                "version: STSv1\nmode: enforce\nmx: *.*.nl\nmax_age: 1\n",
                "mx",
            ),
            (
                "version: STSv1\nmode: enforce\nmx: a.nl\nmax_age: 1\ngarbage\n",
                "without ':'",
            ),
            (
                "version: STSv1\nmode: enforce\nmx: a.nl\nmax_age: 1\n bad: key\n",
                "bad key",
            ),
            (
                "version: STSv1\nmode: enforce\nmx:\nmax_age: 1\n",
                "bad value",
            ),
        ] {
            let err = parse_policy(body).unwrap_err();
            assert!(err.contains(why), "{body:?}: {err}");
        }
    }

    #[test]
    fn mx_wildcards() {
        assert!(mx_matches("mail.example.com", "MAIL.example.com."));
        assert!(mx_matches("*.example.com", "a.example.com"));
        assert!(!mx_matches("*.example.com", "a.b.example.com"));
        assert!(!mx_matches("*.example.com", "example.com"));
        assert!(!mx_matches("mail.example.com", "mail2.example.com"));
    }

    fn fetched<'a>(cert: &'a Finding, ct: Option<&'a str>, body: &'a str) -> PolicyFetch<'a> {
        PolicyFetch::Fetched {
            certificate: cert,
            response: HttpResponse {
                status: 200,
                content_type: ct,
                body: body.as_bytes(),
            },
        }
    }

    #[test]
    fn statuses() {
        let present = Finding::of(Status::Present);
        let valid = Finding::of(Status::Valid);
        let plain = Some("text/plain; charset=utf-8");
        let mx = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let ok = fetched(&valid, plain, RFC_EXAMPLE);
        let hosts = mx(&["mail.example.com", "mx1.example.net"]);
        let r = mta_sts(&present, &ok, &hosts);
        assert_eq!(r.finding, Finding::of(Status::Enforce));
        assert_eq!(r.policy.unwrap().max_age, 604_800);
        let r = mta_sts(&present, &ok, &mx(&["a.mx1.example.net"]));
        assert_eq!(
            r.finding,
            Finding::with_reason(Status::Invalid, "mx mismatch: a.mx1.example.net")
        );
        assert!(r.policy.is_some());
        // No MX: vacuous match.
        assert_eq!(mta_sts(&present, &ok, &[]).finding.status, Status::Enforce);
        let testing = "version: STSv1\nmode: testing\nmx: mail.example.com\nmax_age: 86400\n";
        let f = fetched(&valid, plain, testing);
        assert_eq!(
            mta_sts(&present, &f, &hosts[..1]).finding.status,
            Status::Testing
        );
        let none = "version: STSv1\nmode: none\nmax_age: 86400\n";
        let f = fetched(&valid, plain, none);
        assert_eq!(mta_sts(&present, &f, &hosts).finding.status, Status::None);
        // Record states.
        assert_eq!(
            mta_sts(&Finding::of(Status::Absent), &ok, &hosts)
                .finding
                .status,
            Status::Absent
        );
        let bad = Finding::with_reason(Status::Invalid, "no id=");
        assert_eq!(mta_sts(&bad, &ok, &hosts).finding.status, Status::Invalid);
        assert_eq!(
            mta_sts(&Finding::error("t"), &ok, &hosts).finding.status,
            Status::Error
        );
        // Fetch failures.
        let refused = PolicyFetch::Failed("443 refused".into());
        assert_eq!(
            mta_sts(&present, &refused, &hosts).finding.status,
            Status::Invalid
        );
        let timeout = PolicyFetch::Error("timeout".into());
        assert_eq!(
            mta_sts(&present, &timeout, &hosts).finding.status,
            Status::Error
        );
        let expired = Finding::with_reason(Status::Expired, "leaf expired");
        let r = mta_sts(&present, &fetched(&expired, plain, RFC_EXAMPLE), &hosts);
        assert_eq!(
            r.finding,
            Finding::with_reason(Status::Invalid, "certificate expired")
        );
        let html = fetched(&valid, Some("text/html"), RFC_EXAMPLE);
        assert_eq!(
            mta_sts(&present, &html, &hosts).finding.status,
            Status::Invalid
        );
        let missing = fetched(&valid, None, RFC_EXAMPLE);
        assert_eq!(
            mta_sts(&present, &missing, &hosts).finding.status,
            Status::Invalid
        );
        let not_found = PolicyFetch::Fetched {
            certificate: &valid,
            response: HttpResponse {
                status: 404,
                content_type: plain,
                body: b"",
            },
        };
        let r = mta_sts(&present, &not_found, &hosts);
        assert_eq!(
            r.finding,
            Finding::with_reason(Status::Invalid, "status 404")
        );
        let big = "x".repeat(MAX_POLICY_BYTES + 1);
        let f = fetched(&valid, plain, &big);
        assert_eq!(
            mta_sts(&present, &f, &hosts).finding.status,
            Status::Invalid
        );
        let syntax = fetched(&valid, plain, "version: STSv1\nmode: enforce\n");
        assert_eq!(
            mta_sts(&present, &syntax, &hosts).finding.status,
            Status::Invalid
        );
    }
}
