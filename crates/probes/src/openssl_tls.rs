//! A TLS client stream over OpenSSL (the `openssl` crate, security level 0) for the hosts
//! rustls cannot talk to: servers that speak only TLS 1.0 / 1.1, or only suites rustls lacks.
//! The HTTP requests of the web checks (GET `/`, `/.well-known/security.txt`, an https hop of
//! a redirect chain) then run over it through the same hyper code path as over rustls.
//!
//! The certificate is not judged here: the verifier is off (as with rustls' accept-all
//! verifier) and the chain the host presented is evaluated by the caller, from the raw legacy
//! ClientHello's first flight. OpenSSL 3 at its default security level refuses TLS 1.0/1.1
//! ("legacy sigalg disallowed") and SHA-1 / RSA < 2048 keys, so level 0 is required to see
//! what such a host serves (the cipher string `ALL:@SECLEVEL=0`).

use std::pin::Pin;
use std::sync::Arc;

use openssl::ssl::{SslConnector, SslMethod, SslVerifyMode, SslVersion};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_openssl::SslStream;

use crate::cpu::{CpuMeter, CpuTimed};
use crate::ProbeError;

/// A client context that offers every version from TLS 1.0 and every suite OpenSSL has.
pub struct Connector(SslConnector);

impl std::fmt::Debug for Connector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("openssl_tls::Connector")
    }
}

impl Connector {
    /// Builds the context (ALPN `http/1.1`, no session cache, no verification).
    pub fn new() -> Result<Connector, ProbeError> {
        let e = |e: openssl::error::ErrorStack| ProbeError::TlsProtocol(format!("OpenSSL: {e}"));
        let mut b = SslConnector::builder(SslMethod::tls_client()).map_err(e)?;
        b.set_security_level(0);
        b.set_cipher_list("ALL:@SECLEVEL=0").map_err(e)?;
        b.set_min_proto_version(Some(SslVersion::TLS1)).map_err(e)?;
        b.set_max_proto_version(None).map_err(e)?;
        b.set_verify(SslVerifyMode::NONE);
        b.set_alpn_protos(b"\x08http/1.1").map_err(e)?;
        b.set_session_cache_mode(openssl::ssl::SslSessionCacheMode::OFF);
        Ok(Connector(b.build()))
    }

    /// A handshake over `stream` with SNI `sni` (none for an address literal), within
    /// `limit`. Alerts are [`ProbeError::TlsRejected`], malformed answers
    /// [`ProbeError::TlsProtocol`]. The CPU time of the handshake and of the returned
    /// stream's reads and writes is added to `cpu`.
    pub async fn handshake<S>(
        &self,
        stream: S,
        sni: &str,
        limit: std::time::Duration,
        cpu: &Arc<CpuMeter>,
    ) -> Result<CpuTimed<SslStream<S>>, ProbeError>
    where
        S: AsyncRead + AsyncWrite + Unpin,
    {
        let mut cfg = self
            .0
            .configure()
            .map_err(|e| ProbeError::TlsProtocol(format!("OpenSSL: {e}")))?;
        cfg.set_verify_hostname(false);
        cfg.set_use_server_name_indication(sni.parse::<std::net::IpAddr>().is_err());
        let ssl = cfg
            .into_ssl(sni)
            .map_err(|e| ProbeError::TlsProtocol(format!("OpenSSL: {e}")))?;
        let mut tls = SslStream::new(ssl, stream)
            .map_err(|e| ProbeError::TlsProtocol(format!("OpenSSL: {e}")))?;
        crate::within(
            limit,
            "TLS handshake (OpenSSL)",
            cpu.timed(Pin::new(&mut tls).connect()),
        )
        .await?
        .map_err(classify)?;
        Ok(cpu.timed(tls))
    }
}

/// An OpenSSL handshake error as a [`ProbeError`]: an alert from the peer or no common
/// version / suite is a definite "no"; an I/O error is the network's; the rest (garbage) is a
/// protocol error.
fn classify(e: openssl::ssl::Error) -> ProbeError {
    if let Some(io) = e.io_error() {
        return ProbeError::io("TLS handshake (OpenSSL)", io);
    }
    let text = e
        .ssl_error()
        .map(|s| s.to_string())
        .unwrap_or_else(|| e.to_string());
    let rejected = e.ssl_error().is_some_and(|stack| {
        stack.errors().iter().any(|r| {
            r.reason().is_some_and(|why| {
                why.contains("alert")
                    || why.contains("no protocols available")
                    || why.contains("no ciphers available")
                    || why.contains("unsupported protocol")
            })
        })
    });
    if e.code() == openssl::ssl::ErrorCode::ZERO_RETURN
        || e.code() == openssl::ssl::ErrorCode::SYSCALL
    {
        return ProbeError::Io {
            step: "TLS handshake (OpenSSL)",
            msg: "connection closed during the handshake".into(),
        };
    }
    if rejected {
        ProbeError::TlsRejected(text)
    } else {
        ProbeError::TlsProtocol(text)
    }
}
