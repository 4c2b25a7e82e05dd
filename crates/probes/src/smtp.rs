//! SMTP on port 25 up to STARTTLS (RFC 5321, RFC 3207): banner, EHLO, STARTTLS, the TLS
//! handshake (the same rustls recorder as HTTPS), QUIT. Never MAIL FROM, RCPT or DATA.
//! Replies are read with a line cap (1,000 bytes, RFC 5321 §4.5.3.1.5 allows 512) and a line
//! count cap, each reply within the step timeout.

use std::sync::Arc;

use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader};

use crate::tls::TlsFacts;
use crate::ProbeError;

const MAX_LINE: usize = 1000;
const MAX_LINES: usize = 100;

/// A reply: code and text lines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    /// The three-digit code.
    pub code: u16,
    /// Text of each line (after the code and separator).
    pub lines: Vec<String>,
}

/// How an SMTP session that reached the STARTTLS decision ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StarttlsOutcome {
    /// STARTTLS accepted and the handshake completed.
    Tls(TlsFacts),
    /// STARTTLS not advertised, or refused with this reply.
    NoStarttls(String),
    /// STARTTLS accepted but the TLS handshake was rejected (alert, no common version).
    HandshakeFailed(String),
}

/// Reads one (possibly multi-line) reply.
pub async fn read_reply<R: AsyncRead + Unpin>(r: &mut BufReader<R>) -> Result<Reply, ProbeError> {
    let mut lines = Vec::new();
    loop {
        let mut line = Vec::new();
        let n = (&mut *r)
            .take(MAX_LINE as u64 + 1)
            .read_until(b'\n', &mut line)
            .await
            .map_err(|e| ProbeError::io("SMTP reply", &e))?;
        if n == 0 {
            return Err(ProbeError::Smtp("connection closed".into()));
        }
        if line.len() > MAX_LINE || !line.ends_with(b"\n") {
            return Err(ProbeError::Smtp(format!(
                "reply line longer than {MAX_LINE} bytes"
            )));
        }
        let text = String::from_utf8_lossy(&line);
        let text = text.trim_end_matches(['\r', '\n']);
        let code = text
            .get(..3)
            .and_then(|c| c.parse::<u16>().ok())
            .filter(|c| (200..600).contains(c))
            .ok_or_else(|| ProbeError::Smtp(format!("not a reply: {:.60}", text)))?;
        let sep = text.as_bytes().get(3).copied();
        lines.push(text.get(4..).unwrap_or("").to_string());
        match sep {
            Some(b'-') if lines.len() < MAX_LINES => continue,
            Some(b'-') => {
                return Err(ProbeError::Smtp(format!(
                    "more than {MAX_LINES} reply lines"
                )))
            }
            _ => return Ok(Reply { code, lines }),
        }
    }
}

async fn command<S: AsyncRead + AsyncWrite + Unpin>(
    r: &mut BufReader<S>,
    line: &str,
    step: std::time::Duration,
    what: &'static str,
) -> Result<Reply, ProbeError> {
    crate::within(step, what, async {
        r.get_mut()
            .write_all(format!("{line}\r\n").as_bytes())
            .await
            .map_err(|e| ProbeError::io(what, &e))?;
        read_reply(r).await
    })
    .await?
}

/// Runs the session over a connected `stream` to MX `host`: the greeting within `greeting`,
/// every later reply and the handshake within `step`; the CPU time of the TLS part is added
/// to `tls_cpu`.
pub async fn starttls(
    stream: crate::Connection,
    host: &str,
    ehlo_name: &str,
    tls: Arc<rustls::ClientConfig>,
    greeting: std::time::Duration,
    step: std::time::Duration,
    tls_cpu: &Arc<crate::cpu::CpuMeter>,
) -> Result<StarttlsOutcome, ProbeError> {
    let mut r = BufReader::new(stream);
    let banner = crate::within(greeting, "SMTP banner", read_reply(&mut r)).await??;
    if banner.code != 220 {
        return Err(ProbeError::Smtp(format!(
            "banner {} {}",
            banner.code,
            banner.lines.join(" ")
        )));
    }
    let ehlo = command(&mut r, &format!("EHLO {ehlo_name}"), step, "SMTP EHLO").await?;
    if ehlo.code != 250 {
        let _ = command(&mut r, "QUIT", step, "SMTP QUIT").await;
        return Err(ProbeError::Smtp(format!("EHLO answered {}", ehlo.code)));
    }
    let offered = ehlo.lines.iter().skip(1).any(|l| {
        l.split_whitespace()
            .next()
            .is_some_and(|k| k.eq_ignore_ascii_case("STARTTLS"))
    });
    if !offered {
        let _ = command(&mut r, "QUIT", step, "SMTP QUIT").await;
        return Ok(StarttlsOutcome::NoStarttls("STARTTLS not offered".into()));
    }
    let reply = command(&mut r, "STARTTLS", step, "SMTP STARTTLS").await?;
    if reply.code != 220 {
        let _ = command(&mut r, "QUIT", step, "SMTP QUIT").await;
        return Ok(StarttlsOutcome::NoStarttls(format!(
            "STARTTLS answered {}",
            reply.code
        )));
    }
    if !r.buffer().is_empty() {
        return Err(ProbeError::Smtp(
            "data after the STARTTLS reply (command injection)".into(),
        ));
    }
    let stream = r.into_inner();
    match crate::tls::handshake(tls, stream, host, step, tls_cpu).await {
        Ok((tls_stream, facts)) => {
            let mut r = BufReader::new(tls_stream);
            // Politeness: end the session; its answer does not matter.
            let _ = command(&mut r, "QUIT", step, "SMTP QUIT").await;
            let _ = r.get_mut().shutdown().await;
            Ok(StarttlsOutcome::Tls(facts))
        }
        Err(ProbeError::TlsRejected(why)) => Ok(StarttlsOutcome::HandshakeFailed(why)),
        Err(e) => Err(e),
    }
}
