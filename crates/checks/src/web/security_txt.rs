//! `security_txt` (RFC 9116): GET `https://<web host>/.well-known/security.txt`, no
//! redirects followed, body capped at 32 KiB by the probe. Only the required fields are
//! checked (contract): no signature check, no other field validated.

use uptake_model::{Finding, Status};

use super::HttpResponse;

/// The `security_txt` finding and the Expires field as written (the first one).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecurityTxt {
    /// valid, invalid (with why), absent.
    pub finding: Finding,
    /// The Expires value as written, when there is one.
    pub expires: Option<String>,
}

/// Evaluates the response at `now` (Unix seconds).
///
/// 404 / 410 -> `absent`; other non-200 -> `absent` with `status <code>` as reason; 200
/// with media type `text/plain` (parameters such as charset allowed), at least one
/// non-empty `Contact:` and exactly one `Expires:` that is an RFC 3339 date-time after
/// `now` -> `valid`; any other 200 -> `invalid` with the first problem as reason (media
/// type, Contact, number of Expires, unparseable Expires, expired). Field names are
/// case-insensitive, lines end in CRLF or LF, `#` starts a comment line. When the body is
/// an OpenPGP cleartext signed message (RFC 4880 §7), only the signed text is read
/// (dash-escaping undone, the armour headers and signature block skipped).
pub fn security_txt(response: &HttpResponse, now: i64) -> SecurityTxt {
    let absent = |reason: Option<String>| SecurityTxt {
        finding: Finding {
            status: Status::Absent,
            reason,
        },
        expires: None,
    };
    match response.status {
        200 => {}
        404 | 410 => return absent(None),
        other => return absent(Some(format!("status {other}"))),
    }
    let text = String::from_utf8_lossy(response.body);
    let mut contacts = 0;
    let mut expires: Vec<&str> = Vec::new();
    for line in signed_content(&text) {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        let value = value.trim();
        if name.eq_ignore_ascii_case("contact") && !value.is_empty() {
            contacts += 1;
        } else if name.eq_ignore_ascii_case("expires") {
            expires.push(value);
        }
    }
    let first_expires = expires.first().map(|s| s.to_string());
    let problem = if !super::is_text_plain(response.content_type) {
        Some(format!(
            "media type {}",
            response.content_type.unwrap_or("missing")
        ))
    } else if contacts == 0 {
        Some("no Contact".to_string())
    } else if expires.len() != 1 {
        Some(format!("{} Expires fields", expires.len()))
    } else {
        match parse_rfc3339(expires[0]) {
            None => Some(format!("Expires '{}' is not RFC 3339", expires[0])),
            Some(t) if t <= now => Some(format!("expired ({})", expires[0])),
            Some(_) => None,
        }
    };
    SecurityTxt {
        finding: match problem {
            None => Finding::of(Status::Valid),
            Some(why) => Finding::with_reason(Status::Invalid, why),
        },
        expires: first_expires,
    }
}

/// The lines of the message, or of the signed text of a cleartext-signed message.
fn signed_content(text: &str) -> Vec<&str> {
    let lines: Vec<&str> = text
        .split('\n')
        .map(|l| l.strip_suffix('\r').unwrap_or(l))
        .collect();
    let Some(start) = lines
        .iter()
        .position(|l| l.trim_end() == "-----BEGIN PGP SIGNED MESSAGE-----")
    else {
        return lines;
    };
    // Armour headers ("Hash: SHA256") up to the first empty line, then the signed text.
    let body = lines[start + 1..]
        .iter()
        .position(|l| l.trim().is_empty())
        .map_or(lines.len(), |i| start + 1 + i + 1);
    lines[body.min(lines.len())..]
        .iter()
        .take_while(|l| !l.starts_with("-----BEGIN PGP SIGNATURE-----"))
        .map(|l| l.strip_prefix("- ").unwrap_or(l))
        .collect()
}

/// Unix seconds of an RFC 3339 `date-time` (`2026-12-31T23:59:59Z`, `...T10:00:00.5+02:00`;
/// `T` and `Z` in either case), `None` when it does not match the grammar or a field is out
/// of range.
pub(crate) fn parse_rfc3339(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    let num = |r: std::ops::Range<usize>| -> Option<i64> {
        let d = b.get(r)?;
        d.iter()
            .all(u8::is_ascii_digit)
            .then(|| d.iter().fold(0, |a, c| a * 10 + i64::from(c - b'0')))
    };
    let sep = |i: usize, c: u8| b.get(i).is_some_and(|x| x.eq_ignore_ascii_case(&c));
    if !(sep(4, b'-') && sep(7, b'-') && sep(10, b'T') && sep(13, b':') && sep(16, b':')) {
        return None;
    }
    let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (h, mi, sec) = (num(11..13)?, num(14..16)?, num(17..19)?);
    let mut i = 19;
    if b.get(i) == Some(&b'.') {
        i += 1;
        let start = i;
        while b.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
        if i == start {
            return None;
        }
    }
    let offset = match b.get(i)? {
        b'Z' | b'z' if i + 1 == b.len() => 0,
        sign @ (b'+' | b'-') if i + 6 == b.len() && b[i + 3] == b':' => {
            let (oh, om) = (num(i + 1..i + 3)?, num(i + 4..i + 6)?);
            if oh > 23 || om > 59 {
                return None;
            }
            let o = oh * 3600 + om * 60;
            if *sign == b'+' {
                o
            } else {
                -o
            }
        }
        _ => return None,
    };
    let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    let days_in_month = [
        31,
        if leap { 29 } else { 28 },
        31,
        30,
        31,
        30,
        31,
        31,
        30,
        31,
        30,
        31,
    ];
    if !(1..=12).contains(&mo)
        || d < 1
        || d > days_in_month[(mo - 1) as usize]
        || h > 23
        || mi > 59
        || sec > 60
    {
        return None;
    }
    Some(days_from_civil(y, mo, d) * 86_400 + h * 3600 + mi * 60 + sec - offset)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm; the
/// inverse of `uptake_model::time::civil_from_days`).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testpki::NOW;

    fn eval(status: u16, content_type: Option<&str>, body: &str) -> SecurityTxt {
        security_txt(
            &HttpResponse {
                status,
                content_type,
                body: body.as_bytes(),
            },
            NOW,
        )
    }

    const PLAIN: Option<&str> = Some("text/plain");

    fn reason(r: &SecurityTxt) -> &str {
        r.finding.reason.as_deref().unwrap_or_default()
    }

    #[test]
    fn rfc9116_example_is_valid() {
        // RFC 9116 §2.5 style file with comments, CRLF line ends.
        let body = "# Our security address\r\nContact: mailto:security@example.com\r\n\
                    Contact: https://example.com/security-contact.html\r\n\
                    Expires: 2027-12-31T18:37:07.000Z\r\nPreferred-Languages: en, nl\r\n";
        let r = eval(200, Some("text/plain; charset=utf-8"), body);
        assert_eq!(r.finding, Finding::of(Status::Valid));
        assert_eq!(r.expires.as_deref(), Some("2027-12-31T18:37:07.000Z"));
        // LF, lower-case field names, offset time zone.
        let r = eval(
            200,
            Some("Text/Plain"),
            "contact: mailto:a@b.nl\nexpires: 2027-01-01t00:00:00+01:00\n",
        );
        assert_eq!(r.finding.status, Status::Valid);
    }

    #[test]
    fn invalid_files() {
        let ok = "Contact: mailto:a@b.nl\nExpires: 2027-01-01T00:00:00Z\n";
        let r = eval(200, Some("text/html"), ok);
        assert_eq!(
            (r.finding.status, reason(&r)),
            (Status::Invalid, "media type text/html")
        );
        assert_eq!(eval(200, None, ok).finding.status, Status::Invalid);
        let r = eval(
            200,
            PLAIN,
            "Expires: 2027-01-01T00:00:00Z\n# Contact: mailto:a@b.nl\n",
        );
        assert_eq!(
            (r.finding.status, reason(&r)),
            (Status::Invalid, "no Contact")
        );
        let r = eval(200, PLAIN, "Contact: mailto:a@b.nl\n");
        assert_eq!(
            (r.finding.status, reason(&r)),
            (Status::Invalid, "0 Expires fields")
        );
        let two = "Contact: mailto:a@b.nl\nExpires: 2027-01-01T00:00:00Z\nExpires: 2028-01-01T00:00:00Z\n";
        let r = eval(200, PLAIN, two);
        assert_eq!(
            (r.finding.status, reason(&r)),
            (Status::Invalid, "2 Expires fields")
        );
        let past = "Contact: mailto:a@b.nl\nExpires: 2026-11-28T11:59:59Z\n";
        let r = eval(200, PLAIN, past);
        assert_eq!(r.finding.status, Status::Invalid);
        assert!(reason(&r).starts_with("expired"));
        assert_eq!(r.expires.as_deref(), Some("2026-11-28T11:59:59Z"));
        for bad in [
            "2027-01-01",
            "2027-01-01 00:00:00Z",
            "Fri, 01 Jan 2027 00:00:00 GMT",
            "2027-02-29T00:00:00Z",
            "2027-01-01T24:00:00Z",
            "2027-01-01T00:00:00",
        ] {
            let body = format!("Contact: mailto:a@b.nl\nExpires: {bad}\n");
            let r = eval(200, PLAIN, &body);
            assert_eq!(r.finding.status, Status::Invalid, "{bad}");
            assert!(reason(&r).contains("not RFC 3339"), "{bad}");
        }
    }

    #[test]
    fn absent_statuses() {
        assert_eq!(eval(404, PLAIN, "").finding, Finding::of(Status::Absent));
        assert_eq!(eval(410, PLAIN, "").finding, Finding::of(Status::Absent));
        let r = eval(301, PLAIN, "");
        assert_eq!(
            (r.finding.status, reason(&r)),
            (Status::Absent, "status 301")
        );
        assert_eq!(eval(500, PLAIN, "").finding.status, Status::Absent);
    }

    #[test]
    fn pgp_signed_file() {
        let body = "-----BEGIN PGP SIGNED MESSAGE-----\r\nHash: SHA256\r\n\r\n\
                    Contact: mailto:security@example.com\r\n\
                    - Expires: 2027-12-31T18:37:07Z\r\n\
                    -----BEGIN PGP SIGNATURE-----\r\n\r\niQIzBAEBCAAdFiEE\r\nExpires: 2000-01-01T00:00:00Z\r\n\
                    -----END PGP SIGNATURE-----\r\n";
        let r = eval(200, PLAIN, body);
        assert_eq!(r.finding, Finding::of(Status::Valid));
        assert_eq!(r.expires.as_deref(), Some("2027-12-31T18:37:07Z"));
    }

    #[test]
    fn rfc3339() {
        assert_eq!(parse_rfc3339("2026-11-28T12:00:00Z"), Some(NOW));
        assert_eq!(parse_rfc3339("2026-11-28T14:00:00+02:00"), Some(NOW));
        assert_eq!(parse_rfc3339("2026-11-28T11:30:00.999-00:30"), Some(NOW));
        assert_eq!(parse_rfc3339("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(parse_rfc3339("2024-02-29T00:00:00Z"), Some(1_709_164_800));
        assert_eq!(parse_rfc3339("2026-13-01T00:00:00Z"), None);
        assert_eq!(parse_rfc3339("2026-11-28T12:00:00.Z"), None);
        assert_eq!(parse_rfc3339("2026-11-28T12:00:00+0200"), None);
        assert_eq!(parse_rfc3339("2026-11-28T12:00:00Zx"), None);
    }
}
