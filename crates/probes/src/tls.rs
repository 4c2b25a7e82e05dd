//! TLS through rustls (aws-lc-rs provider, TLS 1.2 and 1.3) with a verifier that accepts every
//! certificate: the handshake completes whatever the server presents, and the chain is
//! evaluated afterwards by `uptake_checks::web::certificate` against the scan's trust store
//! (which answers *why* it fails, in the contract's precedence, where webpki stops at the first
//! problem). Handshake signatures are still verified (a server must hold the key it shows).
//! Session resumption is off so every handshake shows the server's full chain.
//!
//! The client offers the hybrid ML-KEM groups first ([`kx_groups`]): X25519MLKEM768 with a
//! key share (rustls sends an X25519 share beside it, so a classical server answers without a
//! HelloRetryRequest), SecP256r1MLKEM768 without one. The one handshake of a host thus gives
//! version, suite, certificate and the `pq_kex` group; [`TlsFacts::hello_retry`] says whether
//! the server asked for another key share.

use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, SignatureScheme};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_rustls::client::TlsStream;
use uptake_checks::web::tls::TlsVersion;

use crate::cpu::{CpuMeter, CpuTimed};
use crate::ProbeError;

/// What one completed handshake showed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFacts {
    /// Negotiated version.
    pub version: TlsVersion,
    /// Negotiated cipher suite (IANA code point).
    pub suite: u16,
    /// Key-exchange group (IANA code point), when there was one.
    pub group: Option<u16>,
    /// ALPN protocol, when negotiated.
    pub alpn: Option<String>,
    /// The chain presented, leaf first (DER).
    pub chain: Vec<Vec<u8>>,
    /// The server asked for another key share (HelloRetryRequest).
    pub hello_retry: bool,
}

/// Accepts any certificate; verifies handshake signatures with the provider's algorithms.
#[derive(Debug)]
struct AcceptAny(Arc<CryptoProvider>);

impl ServerCertVerifier for AcceptAny {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// The key-exchange groups the client offers, in its order of preference: the hybrids
/// X25519MLKEM768 (IANA 0x11EC, sent with a key share, and an x25519 share beside it) and
/// SecP256r1MLKEM768 (0x11EB, no share: a server that wants it asks with a
/// HelloRetryRequest), then the classical groups. A server that follows the client's order
/// (rustls) thus picks a hybrid whenever it has one.
pub fn kx_groups() -> Vec<&'static dyn rustls::crypto::SupportedKxGroup> {
    use rustls::crypto::aws_lc_rs::kx_group;
    vec![
        kx_group::X25519MLKEM768,
        kx_group::SECP256R1MLKEM768,
        kx_group::X25519,
        kx_group::SECP256R1,
        kx_group::SECP384R1,
    ]
}

/// The provider of every client configuration: aws-lc-rs with [`kx_groups`].
pub fn provider() -> CryptoProvider {
    CryptoProvider {
        kx_groups: kx_groups(),
        ..rustls::crypto::aws_lc_rs::default_provider()
    }
}

/// The client configurations of a prober.
pub struct Configs {
    /// HTTPS: ALPN `h2`, `http/1.1` (the negotiated protocol is evidence).
    pub https: Arc<ClientConfig>,
    /// HTTPS requests over HTTP/1.1 only (ALPN `http/1.1`).
    pub http1: Arc<ClientConfig>,
    /// SMTP after STARTTLS (no ALPN).
    pub smtp: Arc<ClientConfig>,
}

impl Configs {
    /// Builds the three configurations over [`provider`].
    pub fn new() -> Configs {
        let provider = Arc::new(provider());
        let make = |alpn: &[&[u8]]| {
            let mut c = ClientConfig::builder_with_provider(provider.clone())
                .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
                .expect("aws-lc-rs supports TLS 1.2 and 1.3")
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(AcceptAny(provider.clone())))
                .with_no_client_auth();
            c.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
            c.resumption = rustls::client::Resumption::disabled();
            c.enable_sni = true;
            Arc::new(c)
        };
        Configs {
            https: make(&[b"h2", b"http/1.1"]),
            http1: make(&[b"http/1.1"]),
            smtp: make(&[]),
        }
    }
}

impl Default for Configs {
    fn default() -> Self {
        Configs::new()
    }
}

/// Maps a handshake I/O error to a [`ProbeError`]: alerts and incompatibility are a definite
/// "no" ([`ProbeError::TlsRejected`]); malformed messages are [`ProbeError::TlsProtocol`];
/// the rest are I/O errors.
pub(crate) fn handshake_error(e: std::io::Error) -> ProbeError {
    let inner = e
        .get_ref()
        .and_then(|i| i.downcast_ref::<rustls::Error>())
        .cloned();
    match inner {
        Some(rustls::Error::AlertReceived(a)) => ProbeError::TlsRejected(format!("alert {a:?}")),
        Some(rustls::Error::PeerIncompatible(p)) => {
            ProbeError::TlsRejected(format!("incompatible: {p:?}"))
        }
        Some(rustls::Error::InvalidMessage(m)) => {
            ProbeError::TlsProtocol(format!("invalid message: {m:?}"))
        }
        Some(rustls::Error::InappropriateMessage { .. })
        | Some(rustls::Error::InappropriateHandshakeMessage { .. }) => {
            ProbeError::TlsProtocol("unexpected message".into())
        }
        Some(other) => ProbeError::TlsProtocol(other.to_string()),
        None if e.kind() == std::io::ErrorKind::UnexpectedEof => ProbeError::Io {
            step: "TLS handshake",
            msg: "connection closed during the handshake".into(),
        },
        None => ProbeError::io("TLS handshake", &e),
    }
}

/// Runs a rustls handshake over `stream` with SNI `sni`, within `limit`. The CPU time of the
/// handshake and of the returned stream's reads and writes is added to `cpu`.
pub async fn handshake<S>(
    config: Arc<ClientConfig>,
    stream: S,
    sni: &str,
    limit: std::time::Duration,
    cpu: &Arc<CpuMeter>,
) -> Result<(CpuTimed<TlsStream<S>>, TlsFacts), ProbeError>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let name = ServerName::try_from(sni.to_string())
        .map_err(|e| ProbeError::TlsProtocol(format!("bad server name {sni}: {e}")))?;
    let connector = tokio_rustls::TlsConnector::from(config);
    let tls = crate::within(
        limit,
        "TLS handshake",
        cpu.timed(connector.connect(name, stream)),
    )
    .await?
    .map_err(handshake_error)?;
    let facts = {
        let (_, conn) = tls.get_ref();
        let version = match conn.protocol_version() {
            Some(rustls::ProtocolVersion::TLSv1_3) => TlsVersion::Tls13,
            _ => TlsVersion::Tls12,
        };
        TlsFacts {
            version,
            suite: conn
                .negotiated_cipher_suite()
                .map(|s| u16::from(s.suite()))
                .unwrap_or(0),
            group: conn
                .negotiated_key_exchange_group()
                .map(|g| u16::from(g.name())),
            alpn: conn
                .alpn_protocol()
                .map(|p| String::from_utf8_lossy(p).into_owned()),
            chain: conn
                .peer_certificates()
                .unwrap_or_default()
                .iter()
                .map(|c| c.to_vec())
                .collect(),
            hello_retry: conn.handshake_kind()
                == Some(rustls::HandshakeKind::FullWithHelloRetryRequest),
        }
    };
    Ok((cpu.timed(tls), facts))
}
