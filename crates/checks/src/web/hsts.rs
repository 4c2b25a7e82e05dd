//! `hsts` (RFC 6797): the Strict-Transport-Security header of the response to
//! GET `https://<web host>/` (first response, redirects not followed).

use uptake_model::{Finding, Status};

/// One year: the `max-age` from which HSTS is `strong`.
pub const STRONG_MAX_AGE: i64 = 31_536_000;

/// The `hsts` finding and its evidence (the `hsts_*` columns).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hsts {
    /// strong, weak, absent.
    pub finding: Finding,
    /// The header as sent (the first one when several were sent).
    pub header: Option<String>,
    /// max-age in seconds (saturating at `i64::MAX`); `None` when absent or invalid.
    pub max_age: Option<i64>,
    /// includeSubDomains present; `None` when the header is absent or invalid.
    pub include_subdomains: Option<bool>,
    /// preload present; `None` when the header is absent or invalid.
    pub preload: Option<bool>,
}

/// Evaluates the Strict-Transport-Security header fields of one HTTPS response, in the
/// order received (`values` empty when there was none).
///
/// Only the first field is processed (RFC 6797 §8.1). Syntax is RFC 6797 §6.1: directives
/// separated by `;` (empty ones allowed), names are tokens compared case-insensitively,
/// values a token or a quoted-string, optional whitespace around. The header is invalid when
/// the syntax does not parse, a directive appears twice (§6.1 "MUST appear only once"),
/// `max-age` is missing or not `1*DIGIT` (quoted allowed, §6.1.1), or `includeSubDomains`
/// has a value (as Chromium rejects it). Unknown directives, `preload` included, are
/// otherwise ignored. Valid with `max-age >= 31536000` -> `strong`, smaller (incl. 0) ->
/// `weak`; none or invalid -> `absent` (reason "invalid header: ..." for the latter).
pub fn hsts(values: &[&str]) -> Hsts {
    let Some(first) = values.first() else {
        return Hsts {
            finding: Finding::of(Status::Absent),
            header: None,
            max_age: None,
            include_subdomains: None,
            preload: None,
        };
    };
    match parse(first) {
        Ok((max_age, include_subdomains, preload)) => {
            let finding = if max_age >= STRONG_MAX_AGE {
                Finding::of(Status::Strong)
            } else {
                Finding::with_reason(Status::Weak, format!("max-age={max_age}"))
            };
            Hsts {
                finding,
                header: Some(first.to_string()),
                max_age: Some(max_age),
                include_subdomains: Some(include_subdomains),
                preload: Some(preload),
            }
        }
        Err(why) => Hsts {
            finding: Finding::with_reason(Status::Absent, format!("invalid header: {why}")),
            header: Some(first.to_string()),
            max_age: None,
            include_subdomains: None,
            preload: None,
        },
    }
}

fn is_tchar(c: u8) -> bool {
    c.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&c)
}

fn skip_ows(s: &[u8], i: &mut usize) {
    while *i < s.len() && (s[*i] == b' ' || s[*i] == b'\t') {
        *i += 1;
    }
}

fn token<'a>(s: &'a [u8], i: &mut usize) -> &'a [u8] {
    let start = *i;
    while *i < s.len() && is_tchar(s[*i]) {
        *i += 1;
    }
    &s[start..*i]
}

/// A quoted-string starting at `s[*i] == '"'`, unescaped.
fn quoted(s: &[u8], i: &mut usize) -> Result<Vec<u8>, String> {
    *i += 1;
    let mut out = Vec::new();
    while *i < s.len() {
        match s[*i] {
            b'"' => {
                *i += 1;
                return Ok(out);
            }
            b'\\' if *i + 1 < s.len() => {
                out.push(s[*i + 1]);
                *i += 2;
            }
            c => {
                out.push(c);
                *i += 1;
            }
        }
    }
    Err("unterminated quoted-string".into())
}

/// `(max_age, include_subdomains, preload)` of a header value.
fn parse(header: &str) -> Result<(i64, bool, bool), String> {
    let s = header.as_bytes();
    let mut i = 0;
    let mut seen: Vec<String> = Vec::new();
    let (mut max_age, mut include_subdomains, mut preload) = (None, false, false);
    loop {
        skip_ows(s, &mut i);
        if i == s.len() {
            break;
        }
        if s[i] == b';' {
            i += 1;
            continue;
        }
        let name = token(s, &mut i).to_ascii_lowercase();
        if name.is_empty() {
            return Err(format!("unexpected '{}'", s[i] as char));
        }
        let name = String::from_utf8_lossy(&name).into_owned();
        skip_ows(s, &mut i);
        let mut value = None;
        if i < s.len() && s[i] == b'=' {
            i += 1;
            skip_ows(s, &mut i);
            let v = if i < s.len() && s[i] == b'"' {
                quoted(s, &mut i)?
            } else {
                token(s, &mut i).to_vec()
            };
            value = Some(v);
            skip_ows(s, &mut i);
        }
        if i < s.len() && s[i] != b';' {
            return Err(format!("unexpected '{}' after {name}", s[i] as char));
        }
        if seen.contains(&name) {
            return Err(format!("duplicate {name}"));
        }
        match name.as_str() {
            "max-age" => {
                let v = value.unwrap_or_default();
                if v.is_empty() || !v.iter().all(u8::is_ascii_digit) {
                    return Err(format!("max-age '{}'", String::from_utf8_lossy(&v)));
                }
                max_age = Some(v.iter().fold(0i64, |acc, d| {
                    acc.saturating_mul(10).saturating_add(i64::from(d - b'0'))
                }));
            }
            "includesubdomains" => {
                if value.is_some() {
                    return Err("includeSubDomains with a value".into());
                }
                include_subdomains = true;
            }
            "preload" => preload = true,
            _ => {}
        }
        seen.push(name);
    }
    let max_age = max_age.ok_or("no max-age")?;
    Ok((max_age, include_subdomains, preload))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(h: &str) -> Status {
        hsts(&[h]).finding.status
    }

    #[test]
    fn statuses() {
        assert_eq!(hsts(&[]).finding.status, Status::Absent);
        assert_eq!(hsts(&[]).header, None);
        assert_eq!(status("max-age=31536000"), Status::Strong);
        assert_eq!(status("max-age=31535999"), Status::Weak);
        assert_eq!(status("max-age=0"), Status::Weak);
        assert_eq!(
            status("max-age=63072000; includeSubDomains; preload"),
            Status::Strong
        );
    }

    #[test]
    fn rfc6797_examples_and_syntax() {
        // RFC 6797 §6.2 examples.
        let h = hsts(&["max-age=31536000"]);
        assert_eq!(h.max_age, Some(31_536_000));
        assert_eq!(h.include_subdomains, Some(false));
        let h = hsts(&["max-age=15768000 ; includeSubDomains"]);
        assert_eq!(h.finding.status, Status::Weak);
        assert_eq!(h.max_age, Some(15_768_000));
        assert_eq!(h.include_subdomains, Some(true));
        assert_eq!(h.preload, Some(false));
        // Quoted value, case-insensitive names, empty directives, whitespace.
        let h = hsts(&["  MAX-AGE = \"31536000\";;INCLUDESUBDOMAINS ;Preload"]);
        assert_eq!(h.finding.status, Status::Strong);
        assert_eq!(h.include_subdomains, Some(true));
        assert_eq!(h.preload, Some(true));
        // Unknown directives with quoted values containing ';' are skipped.
        assert_eq!(status("foo=\"a;b\"; max-age=31536000"), Status::Strong);
        // Huge max-age saturates instead of failing.
        assert_eq!(
            hsts(&["max-age=99999999999999999999999"]).max_age,
            Some(i64::MAX)
        );
    }

    #[test]
    fn invalid_headers_are_absent() {
        for h in [
            "",
            "includeSubDomains",
            "max-age=",
            "max-age=-1",
            "max-age=1e6",
            "max-age=abc",
            "max-age=31536000; max-age=31536000",
            "max-age=31536000; includeSubDomains; includesubdomains",
            "max-age=31536000; includeSubDomains=yes",
            "max-age=\"31536000",
            "max-age=31536000 x",
            "max-age 31536000",
        ] {
            let r = hsts(&[h]);
            assert_eq!(r.finding.status, Status::Absent, "{h:?}");
            assert!(
                r.finding
                    .reason
                    .as_deref()
                    .unwrap()
                    .starts_with("invalid header"),
                "{h:?}"
            );
            assert_eq!(r.header.as_deref(), Some(h));
            assert_eq!(r.max_age, None);
        }
    }

    #[test]
    fn only_the_first_field_counts() {
        assert_eq!(
            hsts(&["max-age=0", "max-age=31536000"]).finding.status,
            Status::Weak
        );
        assert_eq!(
            hsts(&["max-age=31536000", "garbage"]).finding.status,
            Status::Strong
        );
    }
}
