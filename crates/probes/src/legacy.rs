//! A hand-built ClientHello, one round trip: what rustls cannot ask. Used for TLS 1.0 / 1.1
//! acceptance (rustls speaks neither) and for the per-class cipher probes (a hello offering
//! only the suites of one NCSC-NL class). The server's first flight is parsed up to its
//! Certificate message: a ServerHello means "accepted" (its version and suite are kept, and
//! the chain when it follows in the clear, as it does up to TLS 1.2); an alert or a close
//! means "rejected"; anything else is a protocol error. No key exchange is done — the
//! connection is dropped after the first flight.

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::ProbeError;

/// Largest first flight read (ServerHello + Certificate + ...).
const MAX_FLIGHT: usize = 128 * 1024;

/// What the server answered to a raw hello.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HelloOutcome {
    /// A ServerHello.
    Accepted {
        /// The version it chose (wire value, 0x0301 TLS 1.0 ... 0x0303 TLS 1.2).
        version: u16,
        /// The suite it chose.
        suite: u16,
        /// The chain of its Certificate message, leaf first (empty when none followed).
        chain: Vec<Vec<u8>>,
    },
    /// An alert (its description) or a close before any ServerHello.
    Rejected(String),
}

/// The bytes of a ClientHello record: `version` as client_version (no supported_versions
/// extension, so TLS 1.3 cannot be chosen), `suites` plus the renegotiation SCSV, SNI
/// `sni`, the common groups and signature algorithms (SHA-1 included, as old servers need).
pub fn client_hello(version: u16, suites: &[u16], sni: &str) -> Vec<u8> {
    let mut ext = Vec::new();
    let mut push_ext = |ty: u16, body: &[u8]| {
        ext.extend_from_slice(&ty.to_be_bytes());
        ext.extend_from_slice(&(body.len() as u16).to_be_bytes());
        ext.extend_from_slice(body);
    };
    if !sni.is_empty() && sni.parse::<std::net::IpAddr>().is_err() {
        let name = sni.as_bytes();
        let mut b = Vec::new();
        b.extend_from_slice(&((name.len() + 3) as u16).to_be_bytes());
        b.push(0);
        b.extend_from_slice(&(name.len() as u16).to_be_bytes());
        b.extend_from_slice(name);
        push_ext(0x0000, &b);
    }
    let groups: [u16; 7] = [0x001D, 0x0017, 0x0018, 0x0019, 0x0100, 0x0101, 0x0102];
    let mut b = ((groups.len() * 2) as u16).to_be_bytes().to_vec();
    groups
        .iter()
        .for_each(|g| b.extend_from_slice(&g.to_be_bytes()));
    push_ext(0x000A, &b);
    push_ext(0x000B, &[1, 0]);
    let sigs: [u16; 14] = [
        0x0403, 0x0503, 0x0603, 0x0807, 0x0804, 0x0805, 0x0806, 0x0401, 0x0501, 0x0601, 0x0303,
        0x0301, 0x0203, 0x0201,
    ];
    let mut b = ((sigs.len() * 2) as u16).to_be_bytes().to_vec();
    sigs.iter()
        .for_each(|s| b.extend_from_slice(&s.to_be_bytes()));
    push_ext(0x000D, &b);
    push_ext(0x0017, &[]); // extended_master_secret
    let mut hello = Vec::new();
    hello.extend_from_slice(&version.to_be_bytes());
    let seed = crate::now_secs() as u64 ^ (suites.len() as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    for i in 0..32u64 {
        hello.push((seed.wrapping_mul(i + 1).rotate_left((i % 63) as u32) >> 11) as u8);
    }
    hello.push(0); // session id
    let mut s: Vec<u16> = suites.to_vec();
    s.push(0x00FF);
    hello.extend_from_slice(&((s.len() * 2) as u16).to_be_bytes());
    s.iter()
        .for_each(|c| hello.extend_from_slice(&c.to_be_bytes()));
    hello.extend_from_slice(&[1, 0]); // null compression
    hello.extend_from_slice(&(ext.len() as u16).to_be_bytes());
    hello.extend_from_slice(&ext);
    let mut hs = vec![1u8];
    hs.extend_from_slice(&(hello.len() as u32).to_be_bytes()[1..]);
    hs.extend_from_slice(&hello);
    let mut rec = vec![0x16, 0x03, 0x01];
    rec.extend_from_slice(&(hs.len() as u16).to_be_bytes());
    rec.extend_from_slice(&hs);
    rec
}

fn alert_name(code: u8) -> String {
    let name = match code {
        0 => "close_notify",
        10 => "unexpected_message",
        20 => "bad_record_mac",
        22 => "record_overflow",
        40 => "handshake_failure",
        42 => "bad_certificate",
        47 => "illegal_parameter",
        50 => "decode_error",
        51 => "decrypt_error",
        70 => "protocol_version",
        71 => "insufficient_security",
        80 => "internal_error",
        86 => "inappropriate_fallback",
        90 => "user_canceled",
        109 => "missing_extension",
        110 => "unsupported_extension",
        112 => "unrecognized_name",
        _ => return format!("alert {code}"),
    };
    format!("alert {name}")
}

/// Parses a first flight: records from `buf` (complete or not). Returns the outcome when
/// it is decided, `Ok(None)` when more bytes are needed.
pub fn parse_flight(buf: &[u8], closed: bool) -> Result<Option<HelloOutcome>, ProbeError> {
    let mut handshake = Vec::new();
    let mut pos = 0;
    while buf.len() >= pos + 5 {
        let (ty, major, len) = (
            buf[pos],
            buf[pos + 1],
            u16::from_be_bytes([buf[pos + 3], buf[pos + 4]]) as usize,
        );
        if major != 3 || len > 18432 || !matches!(ty, 0x14..=0x17) {
            return Err(ProbeError::TlsProtocol(format!(
                "not a TLS record (bytes {:02x} {:02x} {:02x})",
                buf[pos],
                buf[pos + 1],
                buf[pos + 2]
            )));
        }
        if buf.len() < pos + 5 + len {
            break;
        }
        let body = &buf[pos + 5..pos + 5 + len];
        match ty {
            0x15 if handshake.is_empty() => {
                let code = body.get(1).copied().unwrap_or(0);
                return Ok(Some(HelloOutcome::Rejected(alert_name(code))));
            }
            0x16 => handshake.extend_from_slice(body),
            _ => {}
        }
        pos += 5 + len;
    }
    // Handshake messages.
    let mut hello: Option<(u16, u16)> = None;
    let mut chain = Vec::new();
    let mut p = 0;
    while handshake.len() >= p + 4 {
        let mlen =
            u32::from_be_bytes([0, handshake[p + 1], handshake[p + 2], handshake[p + 3]]) as usize;
        if handshake.len() < p + 4 + mlen {
            break;
        }
        let m = &handshake[p + 4..p + 4 + mlen];
        match handshake[p] {
            2 => {
                if m.len() < 35 {
                    return Err(ProbeError::TlsProtocol("short ServerHello".into()));
                }
                let version = u16::from_be_bytes([m[0], m[1]]);
                let sid = m[34] as usize;
                let at = 35 + sid;
                if m.len() < at + 2 {
                    return Err(ProbeError::TlsProtocol("short ServerHello".into()));
                }
                hello = Some((version, u16::from_be_bytes([m[at], m[at + 1]])));
            }
            11 if hello.is_some() => {
                let mut q = 3;
                while m.len() >= q + 3 {
                    let clen = u32::from_be_bytes([0, m[q], m[q + 1], m[q + 2]]) as usize;
                    if m.len() < q + 3 + clen {
                        break;
                    }
                    chain.push(m[q + 3..q + 3 + clen].to_vec());
                    q += 3 + clen;
                }
                let (version, suite) = hello.unwrap_or_default();
                return Ok(Some(HelloOutcome::Accepted {
                    version,
                    suite,
                    chain,
                }));
            }
            // Anything after the ServerHello but a Certificate (ServerKeyExchange of an
            // anonymous suite, ServerHelloDone): the flight has no chain.
            _ if hello.is_some() => {
                let (version, suite) = hello.unwrap_or_default();
                return Ok(Some(HelloOutcome::Accepted {
                    version,
                    suite,
                    chain,
                }));
            }
            t => {
                return Err(ProbeError::TlsProtocol(format!(
                    "handshake message {t} before ServerHello"
                )))
            }
        }
        p += 4 + mlen;
    }
    if closed {
        return Ok(Some(match hello {
            Some((version, suite)) => HelloOutcome::Accepted {
                version,
                suite,
                chain,
            },
            None if buf.is_empty() => HelloOutcome::Rejected("closed without an answer".into()),
            None => return Err(ProbeError::TlsProtocol("truncated first flight".into())),
        }));
    }
    Ok(None)
}

/// Sends a raw hello over `stream` and reads the first flight within `limit`; the CPU time
/// of building the hello, the exchange and parsing the answer is added to `cpu`.
pub async fn raw_hello(
    mut stream: crate::Connection,
    version: u16,
    suites: &[u16],
    sni: &str,
    limit: std::time::Duration,
    cpu: &std::sync::Arc<crate::cpu::CpuMeter>,
) -> Result<HelloOutcome, ProbeError> {
    let exchange = async {
        let hello = client_hello(version, suites, sni);
        stream
            .write_all(&hello)
            .await
            .map_err(|e| ProbeError::io("raw ClientHello", &e))?;
        let mut buf = Vec::with_capacity(4096);
        let mut chunk = [0u8; 8192];
        loop {
            let n = match stream.read(&mut chunk).await {
                Ok(n) => n,
                // A reset right after the hello is how some stacks say no.
                Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset && buf.is_empty() => {
                    return Ok(HelloOutcome::Rejected("connection reset".into()))
                }
                Err(e) => return Err(ProbeError::io("raw ClientHello", &e)),
            };
            buf.extend_from_slice(&chunk[..n]);
            if let Some(outcome) = parse_flight(&buf, n == 0)? {
                return Ok(outcome);
            }
            if buf.len() > MAX_FLIGHT {
                return Err(ProbeError::TlsProtocol(
                    "first flight larger than 128 KiB".into(),
                ));
            }
        }
    };
    crate::within(limit, "raw ClientHello", cpu.timed(exchange)).await?
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hello_is_well_formed() {
        let h = client_hello(0x0301, &[0x002F, 0xC013], "example.nl");
        assert_eq!(&h[..3], &[0x16, 0x03, 0x01]);
        assert_eq!(u16::from_be_bytes([h[3], h[4]]) as usize, h.len() - 5);
        assert_eq!(h[5], 1);
        assert_eq!(&h[9..11], &[0x03, 0x01]);
        // suites: two + SCSV
        let at = 9 + 2 + 32 + 1;
        assert_eq!(u16::from_be_bytes([h[at], h[at + 1]]), 6);
        assert!(h.windows(10).any(|w| w == b"example.nl"));
    }

    #[test]
    fn parses_alert_and_garbage() {
        assert_eq!(
            parse_flight(&[0x15, 3, 3, 0, 2, 2, 70], false).unwrap(),
            Some(HelloOutcome::Rejected("alert protocol_version".into()))
        );
        assert!(parse_flight(b"HTTP/1.1 400 Bad Request\r\n", false).is_err());
        assert_eq!(parse_flight(&[0x16, 3, 3, 0], false).unwrap(), None);
        assert_eq!(
            parse_flight(&[], true).unwrap(),
            Some(HelloOutcome::Rejected("closed without an answer".into()))
        );
    }

    #[test]
    fn parses_server_hello_and_certificate() {
        let mut sh = vec![3, 1];
        sh.extend_from_slice(&[0; 32]);
        sh.push(0);
        sh.extend_from_slice(&[0x00, 0x2F, 0]);
        let cert = vec![0xAA; 5];
        let mut certs = Vec::new();
        certs.extend_from_slice(&(cert.len() as u32).to_be_bytes()[1..]);
        certs.extend_from_slice(&cert);
        let mut cm = (certs.len() as u32).to_be_bytes()[1..].to_vec();
        cm.extend_from_slice(&certs);
        let mut hs = vec![2];
        hs.extend_from_slice(&(sh.len() as u32).to_be_bytes()[1..]);
        hs.extend_from_slice(&sh);
        hs.push(11);
        hs.extend_from_slice(&(cm.len() as u32).to_be_bytes()[1..]);
        hs.extend_from_slice(&cm);
        let mut rec = vec![0x16, 3, 1];
        rec.extend_from_slice(&(hs.len() as u16).to_be_bytes());
        rec.extend_from_slice(&hs);
        assert_eq!(
            parse_flight(&rec, false).unwrap(),
            Some(HelloOutcome::Accepted {
                version: 0x0301,
                suite: 0x002F,
                chain: vec![cert]
            })
        );
        // Cut in the middle: more bytes needed, or an error once closed.
        assert_eq!(parse_flight(&rec[..20], false).unwrap(), None);
    }
}
