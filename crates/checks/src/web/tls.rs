//! TLS vocabulary shared by the web and mail evaluators: protocol versions, cipher-suite
//! classes (NCSC-NL 2025, appendix B, as the contract lists them), IANA suite and group names,
//! and the three TLS checks `tls_version`, `tls_cipher` and `pq_kex`.
//!
//! The suite table covers every code point OpenSSL 3.0 can negotiate
//! (`openssl ciphers -V -stdname 'ALL:COMPLEMENTOFALL:@SECLEVEL=0'` on Debian 12, 155 suites)
//! plus the legacy IANA suites older stacks still accept (RC4, DES, 3DES, EXPORT, fixed ECDH,
//! SEED, IDEA), so that the raw per-class probes can offer everything a server might pick.

use uptake_model::{Finding, Status};

/// A TLS protocol version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum TlsVersion {
    /// TLS 1.0 (legacy probe only).
    Tls10,
    /// TLS 1.1 (legacy probe only).
    Tls11,
    /// TLS 1.2.
    Tls12,
    /// TLS 1.3.
    Tls13,
}

impl TlsVersion {
    /// The evidence word: `TLSv1.0`, `TLSv1.1`, `TLSv1.2`, `TLSv1.3`.
    pub const fn as_str(self) -> &'static str {
        match self {
            TlsVersion::Tls10 => "TLSv1.0",
            TlsVersion::Tls11 => "TLSv1.1",
            TlsVersion::Tls12 => "TLSv1.2",
            TlsVersion::Tls13 => "TLSv1.3",
        }
    }

    /// The version of a wire `ProtocolVersion` (0x0301 TLS 1.0 ... 0x0304 TLS 1.3); `None`
    /// for SSL 3.0 and unknown values.
    pub const fn from_wire(v: u16) -> Option<TlsVersion> {
        match v {
            0x0301 => Some(TlsVersion::Tls10),
            0x0302 => Some(TlsVersion::Tls11),
            0x0303 => Some(TlsVersion::Tls12),
            0x0304 => Some(TlsVersion::Tls13),
            _ => None,
        }
    }
}

/// NCSC-NL 2025 class of a cipher suite. Ordered from best to worst, so `max` is the worst.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum CipherClass {
    /// Good.
    Good,
    /// Sufficient.
    Sufficient,
    /// Phase out.
    PhaseOut,
    /// Insufficient (everything not listed in the other classes).
    Insufficient,
}

impl CipherClass {
    /// The status word of the class.
    pub const fn status(self) -> Status {
        match self {
            CipherClass::Good => Status::Good,
            CipherClass::Sufficient => Status::Sufficient,
            CipherClass::PhaseOut => Status::PhaseOut,
            CipherClass::Insufficient => Status::Insufficient,
        }
    }
}

/// Good: TLS 1.3 AES-GCM / ChaCha20 and TLS 1.2 ECDHE with AEAD.
const GOOD: &[u16] = &[
    0x1302, // TLS_AES_256_GCM_SHA384
    0x1303, // TLS_CHACHA20_POLY1305_SHA256
    0x1301, // TLS_AES_128_GCM_SHA256
    0xC02C, // TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384
    0xC030, // TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384
    0xCCA9, // TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256
    0xCCA8, // TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256
    0xC02B, // TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256
    0xC02F, // TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256
];

/// Sufficient: ECDHE with AES-CBC, DHE_RSA with AEAD or AES-CBC.
const SUFFICIENT: &[u16] = &[
    0xC024, // TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA384
    0xC028, // TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA384
    0xC023, // TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256
    0xC027, // TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256
    0xC00A, // TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA
    0xC014, // TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA
    0xC009, // TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA
    0xC013, // TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA
    0x009F, // TLS_DHE_RSA_WITH_AES_256_GCM_SHA384
    0xCCAA, // TLS_DHE_RSA_WITH_CHACHA20_POLY1305_SHA256
    0x009E, // TLS_DHE_RSA_WITH_AES_128_GCM_SHA256
    0x006B, // TLS_DHE_RSA_WITH_AES_256_CBC_SHA256
    0x0067, // TLS_DHE_RSA_WITH_AES_128_CBC_SHA256
    0x0039, // TLS_DHE_RSA_WITH_AES_256_CBC_SHA
    0x0033, // TLS_DHE_RSA_WITH_AES_128_CBC_SHA
];

/// Phase out: (EC)DHE with 3DES, RSA key exchange with AES or 3DES.
const PHASE_OUT: &[u16] = &[
    0xC008, // TLS_ECDHE_ECDSA_WITH_3DES_EDE_CBC_SHA
    0xC012, // TLS_ECDHE_RSA_WITH_3DES_EDE_CBC_SHA
    0x0016, // TLS_DHE_RSA_WITH_3DES_EDE_CBC_SHA
    0x009D, // TLS_RSA_WITH_AES_256_GCM_SHA384
    0x009C, // TLS_RSA_WITH_AES_128_GCM_SHA256
    0x003D, // TLS_RSA_WITH_AES_256_CBC_SHA256
    0x003C, // TLS_RSA_WITH_AES_128_CBC_SHA256
    0x0035, // TLS_RSA_WITH_AES_256_CBC_SHA
    0x002F, // TLS_RSA_WITH_AES_128_CBC_SHA
    0x000A, // TLS_RSA_WITH_3DES_EDE_CBC_SHA
];

/// Every TLS 1.2-and-earlier suite of the name table that is in none of the lists above, in
/// table order (the insufficient probe's offer). Built by the `insufficient_list_is_complete`
/// test's rule: keep in sync with [`SUITES`].
const INSUFFICIENT: &[u16] = &[
    0x0000, 0x0001, 0x0002, 0x0003, 0x0004, 0x0005, 0x0006, 0x0007, 0x0008, 0x0009, 0x000B, 0x000C,
    0x000D, 0x000E, 0x000F, 0x0010, 0x0011, 0x0012, 0x0013, 0x0014, 0x0015, 0x0017, 0x0018, 0x0019,
    0x001A, 0x001B, 0x002C, 0x002D, 0x002E, 0x0032, 0x0034, 0x0038, 0x003A, 0x003B, 0x0040, 0x0041,
    0x0044, 0x0045, 0x0046, 0x006A, 0x006C, 0x006D, 0x0084, 0x0087, 0x0088, 0x0089, 0x008A, 0x008B,
    0x008C, 0x008D, 0x0090, 0x0091, 0x0094, 0x0095, 0x0096, 0x0099, 0x009A, 0x009B, 0x00A2, 0x00A3,
    0x00A6, 0x00A7, 0x00A8, 0x00A9, 0x00AA, 0x00AB, 0x00AC, 0x00AD, 0x00AE, 0x00AF, 0x00B0, 0x00B1,
    0x00B2, 0x00B3, 0x00B4, 0x00B5, 0x00B6, 0x00B7, 0x00B8, 0x00B9, 0x00BA, 0x00BD, 0x00BE, 0x00BF,
    0x00C0, 0x00C3, 0x00C4, 0x00C5, 0xC001, 0xC002, 0xC003, 0xC004, 0xC005, 0xC006, 0xC007, 0xC00B,
    0xC00C, 0xC00D, 0xC00E, 0xC00F, 0xC010, 0xC011, 0xC015, 0xC016, 0xC017, 0xC018, 0xC019, 0xC01A,
    0xC01B, 0xC01C, 0xC01D, 0xC01E, 0xC01F, 0xC020, 0xC021, 0xC022, 0xC033, 0xC034, 0xC035, 0xC036,
    0xC037, 0xC038, 0xC039, 0xC03A, 0xC03B, 0xC050, 0xC051, 0xC052, 0xC053, 0xC056, 0xC057, 0xC05C,
    0xC05D, 0xC060, 0xC061, 0xC06A, 0xC06B, 0xC06C, 0xC06D, 0xC06E, 0xC06F, 0xC072, 0xC073, 0xC076,
    0xC077, 0xC094, 0xC095, 0xC096, 0xC097, 0xC098, 0xC099, 0xC09A, 0xC09B, 0xC09C, 0xC09D, 0xC09E,
    0xC09F, 0xC0A0, 0xC0A1, 0xC0A2, 0xC0A3, 0xC0A4, 0xC0A5, 0xC0A6, 0xC0A7, 0xC0A8, 0xC0A9, 0xC0AA,
    0xC0AB, 0xC0AC, 0xC0AD, 0xC0AE, 0xC0AF, 0xCCAB, 0xCCAC, 0xCCAD, 0xCCAE,
];

/// IANA names of the suites uptake knows (sorted by code point).
const SUITES: &[(u16, &str)] = &[
    (0x0000, "TLS_NULL_WITH_NULL_NULL"),
    (0x0001, "TLS_RSA_WITH_NULL_MD5"),
    (0x0002, "TLS_RSA_WITH_NULL_SHA"),
    (0x0003, "TLS_RSA_EXPORT_WITH_RC4_40_MD5"),
    (0x0004, "TLS_RSA_WITH_RC4_128_MD5"),
    (0x0005, "TLS_RSA_WITH_RC4_128_SHA"),
    (0x0006, "TLS_RSA_EXPORT_WITH_RC2_CBC_40_MD5"),
    (0x0007, "TLS_RSA_WITH_IDEA_CBC_SHA"),
    (0x0008, "TLS_RSA_EXPORT_WITH_DES40_CBC_SHA"),
    (0x0009, "TLS_RSA_WITH_DES_CBC_SHA"),
    (0x000A, "TLS_RSA_WITH_3DES_EDE_CBC_SHA"),
    (0x000B, "TLS_DH_DSS_EXPORT_WITH_DES40_CBC_SHA"),
    (0x000C, "TLS_DH_DSS_WITH_DES_CBC_SHA"),
    (0x000D, "TLS_DH_DSS_WITH_3DES_EDE_CBC_SHA"),
    (0x000E, "TLS_DH_RSA_EXPORT_WITH_DES40_CBC_SHA"),
    (0x000F, "TLS_DH_RSA_WITH_DES_CBC_SHA"),
    (0x0010, "TLS_DH_RSA_WITH_3DES_EDE_CBC_SHA"),
    (0x0011, "TLS_DHE_DSS_EXPORT_WITH_DES40_CBC_SHA"),
    (0x0012, "TLS_DHE_DSS_WITH_DES_CBC_SHA"),
    (0x0013, "TLS_DHE_DSS_WITH_3DES_EDE_CBC_SHA"),
    (0x0014, "TLS_DHE_RSA_EXPORT_WITH_DES40_CBC_SHA"),
    (0x0015, "TLS_DHE_RSA_WITH_DES_CBC_SHA"),
    (0x0016, "TLS_DHE_RSA_WITH_3DES_EDE_CBC_SHA"),
    (0x0017, "TLS_DH_anon_EXPORT_WITH_RC4_40_MD5"),
    (0x0018, "TLS_DH_anon_WITH_RC4_128_MD5"),
    (0x0019, "TLS_DH_anon_EXPORT_WITH_DES40_CBC_SHA"),
    (0x001A, "TLS_DH_anon_WITH_DES_CBC_SHA"),
    (0x001B, "TLS_DH_anon_WITH_3DES_EDE_CBC_SHA"),
    (0x002C, "TLS_PSK_WITH_NULL_SHA"),
    (0x002D, "TLS_DHE_PSK_WITH_NULL_SHA"),
    (0x002E, "TLS_RSA_PSK_WITH_NULL_SHA"),
    (0x002F, "TLS_RSA_WITH_AES_128_CBC_SHA"),
    (0x0032, "TLS_DHE_DSS_WITH_AES_128_CBC_SHA"),
    (0x0033, "TLS_DHE_RSA_WITH_AES_128_CBC_SHA"),
    (0x0034, "TLS_DH_anon_WITH_AES_128_CBC_SHA"),
    (0x0035, "TLS_RSA_WITH_AES_256_CBC_SHA"),
    (0x0038, "TLS_DHE_DSS_WITH_AES_256_CBC_SHA"),
    (0x0039, "TLS_DHE_RSA_WITH_AES_256_CBC_SHA"),
    (0x003A, "TLS_DH_anon_WITH_AES_256_CBC_SHA"),
    (0x003B, "TLS_RSA_WITH_NULL_SHA256"),
    (0x003C, "TLS_RSA_WITH_AES_128_CBC_SHA256"),
    (0x003D, "TLS_RSA_WITH_AES_256_CBC_SHA256"),
    (0x0040, "TLS_DHE_DSS_WITH_AES_128_CBC_SHA256"),
    (0x0041, "TLS_RSA_WITH_CAMELLIA_128_CBC_SHA"),
    (0x0044, "TLS_DHE_DSS_WITH_CAMELLIA_128_CBC_SHA"),
    (0x0045, "TLS_DHE_RSA_WITH_CAMELLIA_128_CBC_SHA"),
    (0x0046, "TLS_DH_anon_WITH_CAMELLIA_128_CBC_SHA"),
    (0x0067, "TLS_DHE_RSA_WITH_AES_128_CBC_SHA256"),
    (0x006A, "TLS_DHE_DSS_WITH_AES_256_CBC_SHA256"),
    (0x006B, "TLS_DHE_RSA_WITH_AES_256_CBC_SHA256"),
    (0x006C, "TLS_DH_anon_WITH_AES_128_CBC_SHA256"),
    (0x006D, "TLS_DH_anon_WITH_AES_256_CBC_SHA256"),
    (0x0084, "TLS_RSA_WITH_CAMELLIA_256_CBC_SHA"),
    (0x0087, "TLS_DHE_DSS_WITH_CAMELLIA_256_CBC_SHA"),
    (0x0088, "TLS_DHE_RSA_WITH_CAMELLIA_256_CBC_SHA"),
    (0x0089, "TLS_DH_anon_WITH_CAMELLIA_256_CBC_SHA"),
    (0x008A, "TLS_PSK_WITH_RC4_128_SHA"),
    (0x008B, "TLS_PSK_WITH_3DES_EDE_CBC_SHA"),
    (0x008C, "TLS_PSK_WITH_AES_128_CBC_SHA"),
    (0x008D, "TLS_PSK_WITH_AES_256_CBC_SHA"),
    (0x0090, "TLS_DHE_PSK_WITH_AES_128_CBC_SHA"),
    (0x0091, "TLS_DHE_PSK_WITH_AES_256_CBC_SHA"),
    (0x0094, "TLS_RSA_PSK_WITH_AES_128_CBC_SHA"),
    (0x0095, "TLS_RSA_PSK_WITH_AES_256_CBC_SHA"),
    (0x0096, "TLS_RSA_WITH_SEED_CBC_SHA"),
    (0x0099, "TLS_DHE_DSS_WITH_SEED_CBC_SHA"),
    (0x009A, "TLS_DHE_RSA_WITH_SEED_CBC_SHA"),
    (0x009B, "TLS_DH_anon_WITH_SEED_CBC_SHA"),
    (0x009C, "TLS_RSA_WITH_AES_128_GCM_SHA256"),
    (0x009D, "TLS_RSA_WITH_AES_256_GCM_SHA384"),
    (0x009E, "TLS_DHE_RSA_WITH_AES_128_GCM_SHA256"),
    (0x009F, "TLS_DHE_RSA_WITH_AES_256_GCM_SHA384"),
    (0x00A2, "TLS_DHE_DSS_WITH_AES_128_GCM_SHA256"),
    (0x00A3, "TLS_DHE_DSS_WITH_AES_256_GCM_SHA384"),
    (0x00A6, "TLS_DH_anon_WITH_AES_128_GCM_SHA256"),
    (0x00A7, "TLS_DH_anon_WITH_AES_256_GCM_SHA384"),
    (0x00A8, "TLS_PSK_WITH_AES_128_GCM_SHA256"),
    (0x00A9, "TLS_PSK_WITH_AES_256_GCM_SHA384"),
    (0x00AA, "TLS_DHE_PSK_WITH_AES_128_GCM_SHA256"),
    (0x00AB, "TLS_DHE_PSK_WITH_AES_256_GCM_SHA384"),
    (0x00AC, "TLS_RSA_PSK_WITH_AES_128_GCM_SHA256"),
    (0x00AD, "TLS_RSA_PSK_WITH_AES_256_GCM_SHA384"),
    (0x00AE, "TLS_PSK_WITH_AES_128_CBC_SHA256"),
    (0x00AF, "TLS_PSK_WITH_AES_256_CBC_SHA384"),
    (0x00B0, "TLS_PSK_WITH_NULL_SHA256"),
    (0x00B1, "TLS_PSK_WITH_NULL_SHA384"),
    (0x00B2, "TLS_DHE_PSK_WITH_AES_128_CBC_SHA256"),
    (0x00B3, "TLS_DHE_PSK_WITH_AES_256_CBC_SHA384"),
    (0x00B4, "TLS_DHE_PSK_WITH_NULL_SHA256"),
    (0x00B5, "TLS_DHE_PSK_WITH_NULL_SHA384"),
    (0x00B6, "TLS_RSA_PSK_WITH_AES_128_CBC_SHA256"),
    (0x00B7, "TLS_RSA_PSK_WITH_AES_256_CBC_SHA384"),
    (0x00B8, "TLS_RSA_PSK_WITH_NULL_SHA256"),
    (0x00B9, "TLS_RSA_PSK_WITH_NULL_SHA384"),
    (0x00BA, "TLS_RSA_WITH_CAMELLIA_128_CBC_SHA256"),
    (0x00BD, "TLS_DHE_DSS_WITH_CAMELLIA_128_CBC_SHA256"),
    (0x00BE, "TLS_DHE_RSA_WITH_CAMELLIA_128_CBC_SHA256"),
    (0x00BF, "TLS_DH_anon_WITH_CAMELLIA_128_CBC_SHA256"),
    (0x00C0, "TLS_RSA_WITH_CAMELLIA_256_CBC_SHA256"),
    (0x00C3, "TLS_DHE_DSS_WITH_CAMELLIA_256_CBC_SHA256"),
    (0x00C4, "TLS_DHE_RSA_WITH_CAMELLIA_256_CBC_SHA256"),
    (0x00C5, "TLS_DH_anon_WITH_CAMELLIA_256_CBC_SHA256"),
    (0x1301, "TLS_AES_128_GCM_SHA256"),
    (0x1302, "TLS_AES_256_GCM_SHA384"),
    (0x1303, "TLS_CHACHA20_POLY1305_SHA256"),
    (0x1304, "TLS_AES_128_CCM_SHA256"),
    (0x1305, "TLS_AES_128_CCM_8_SHA256"),
    (0xC001, "TLS_ECDH_ECDSA_WITH_NULL_SHA"),
    (0xC002, "TLS_ECDH_ECDSA_WITH_RC4_128_SHA"),
    (0xC003, "TLS_ECDH_ECDSA_WITH_3DES_EDE_CBC_SHA"),
    (0xC004, "TLS_ECDH_ECDSA_WITH_AES_128_CBC_SHA"),
    (0xC005, "TLS_ECDH_ECDSA_WITH_AES_256_CBC_SHA"),
    (0xC006, "TLS_ECDHE_ECDSA_WITH_NULL_SHA"),
    (0xC007, "TLS_ECDHE_ECDSA_WITH_RC4_128_SHA"),
    (0xC008, "TLS_ECDHE_ECDSA_WITH_3DES_EDE_CBC_SHA"),
    (0xC009, "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA"),
    (0xC00A, "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA"),
    (0xC00B, "TLS_ECDH_RSA_WITH_NULL_SHA"),
    (0xC00C, "TLS_ECDH_RSA_WITH_RC4_128_SHA"),
    (0xC00D, "TLS_ECDH_RSA_WITH_3DES_EDE_CBC_SHA"),
    (0xC00E, "TLS_ECDH_RSA_WITH_AES_128_CBC_SHA"),
    (0xC00F, "TLS_ECDH_RSA_WITH_AES_256_CBC_SHA"),
    (0xC010, "TLS_ECDHE_RSA_WITH_NULL_SHA"),
    (0xC011, "TLS_ECDHE_RSA_WITH_RC4_128_SHA"),
    (0xC012, "TLS_ECDHE_RSA_WITH_3DES_EDE_CBC_SHA"),
    (0xC013, "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA"),
    (0xC014, "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA"),
    (0xC015, "TLS_ECDH_anon_WITH_NULL_SHA"),
    (0xC016, "TLS_ECDH_anon_WITH_RC4_128_SHA"),
    (0xC017, "TLS_ECDH_anon_WITH_3DES_EDE_CBC_SHA"),
    (0xC018, "TLS_ECDH_anon_WITH_AES_128_CBC_SHA"),
    (0xC019, "TLS_ECDH_anon_WITH_AES_256_CBC_SHA"),
    (0xC01A, "TLS_SRP_SHA_WITH_3DES_EDE_CBC_SHA"),
    (0xC01B, "TLS_SRP_SHA_RSA_WITH_3DES_EDE_CBC_SHA"),
    (0xC01C, "TLS_SRP_SHA_DSS_WITH_3DES_EDE_CBC_SHA"),
    (0xC01D, "TLS_SRP_SHA_WITH_AES_128_CBC_SHA"),
    (0xC01E, "TLS_SRP_SHA_RSA_WITH_AES_128_CBC_SHA"),
    (0xC01F, "TLS_SRP_SHA_DSS_WITH_AES_128_CBC_SHA"),
    (0xC020, "TLS_SRP_SHA_WITH_AES_256_CBC_SHA"),
    (0xC021, "TLS_SRP_SHA_RSA_WITH_AES_256_CBC_SHA"),
    (0xC022, "TLS_SRP_SHA_DSS_WITH_AES_256_CBC_SHA"),
    (0xC023, "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256"),
    (0xC024, "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA384"),
    (0xC027, "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256"),
    (0xC028, "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA384"),
    (0xC02B, "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256"),
    (0xC02C, "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384"),
    (0xC02F, "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"),
    (0xC030, "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384"),
    (0xC033, "TLS_ECDHE_PSK_WITH_RC4_128_SHA"),
    (0xC034, "TLS_ECDHE_PSK_WITH_3DES_EDE_CBC_SHA"),
    (0xC035, "TLS_ECDHE_PSK_WITH_AES_128_CBC_SHA"),
    (0xC036, "TLS_ECDHE_PSK_WITH_AES_256_CBC_SHA"),
    (0xC037, "TLS_ECDHE_PSK_WITH_AES_128_CBC_SHA256"),
    (0xC038, "TLS_ECDHE_PSK_WITH_AES_256_CBC_SHA384"),
    (0xC039, "TLS_ECDHE_PSK_WITH_NULL_SHA"),
    (0xC03A, "TLS_ECDHE_PSK_WITH_NULL_SHA256"),
    (0xC03B, "TLS_ECDHE_PSK_WITH_NULL_SHA384"),
    (0xC050, "TLS_RSA_WITH_ARIA_128_GCM_SHA256"),
    (0xC051, "TLS_RSA_WITH_ARIA_256_GCM_SHA384"),
    (0xC052, "TLS_DHE_RSA_WITH_ARIA_128_GCM_SHA256"),
    (0xC053, "TLS_DHE_RSA_WITH_ARIA_256_GCM_SHA384"),
    (0xC056, "TLS_DHE_DSS_WITH_ARIA_128_GCM_SHA256"),
    (0xC057, "TLS_DHE_DSS_WITH_ARIA_256_GCM_SHA384"),
    (0xC05C, "TLS_ECDHE_ECDSA_WITH_ARIA_128_GCM_SHA256"),
    (0xC05D, "TLS_ECDHE_ECDSA_WITH_ARIA_256_GCM_SHA384"),
    (0xC060, "TLS_ECDHE_RSA_WITH_ARIA_128_GCM_SHA256"),
    (0xC061, "TLS_ECDHE_RSA_WITH_ARIA_256_GCM_SHA384"),
    (0xC06A, "TLS_PSK_WITH_ARIA_128_GCM_SHA256"),
    (0xC06B, "TLS_PSK_WITH_ARIA_256_GCM_SHA384"),
    (0xC06C, "TLS_DHE_PSK_WITH_ARIA_128_GCM_SHA256"),
    (0xC06D, "TLS_DHE_PSK_WITH_ARIA_256_GCM_SHA384"),
    (0xC06E, "TLS_RSA_PSK_WITH_ARIA_128_GCM_SHA256"),
    (0xC06F, "TLS_RSA_PSK_WITH_ARIA_256_GCM_SHA384"),
    (0xC072, "TLS_ECDHE_ECDSA_WITH_CAMELLIA_128_CBC_SHA256"),
    (0xC073, "TLS_ECDHE_ECDSA_WITH_CAMELLIA_256_CBC_SHA384"),
    (0xC076, "TLS_ECDHE_RSA_WITH_CAMELLIA_128_CBC_SHA256"),
    (0xC077, "TLS_ECDHE_RSA_WITH_CAMELLIA_256_CBC_SHA384"),
    (0xC094, "TLS_PSK_WITH_CAMELLIA_128_CBC_SHA256"),
    (0xC095, "TLS_PSK_WITH_CAMELLIA_256_CBC_SHA384"),
    (0xC096, "TLS_DHE_PSK_WITH_CAMELLIA_128_CBC_SHA256"),
    (0xC097, "TLS_DHE_PSK_WITH_CAMELLIA_256_CBC_SHA384"),
    (0xC098, "TLS_RSA_PSK_WITH_CAMELLIA_128_CBC_SHA256"),
    (0xC099, "TLS_RSA_PSK_WITH_CAMELLIA_256_CBC_SHA384"),
    (0xC09A, "TLS_ECDHE_PSK_WITH_CAMELLIA_128_CBC_SHA256"),
    (0xC09B, "TLS_ECDHE_PSK_WITH_CAMELLIA_256_CBC_SHA384"),
    (0xC09C, "TLS_RSA_WITH_AES_128_CCM"),
    (0xC09D, "TLS_RSA_WITH_AES_256_CCM"),
    (0xC09E, "TLS_DHE_RSA_WITH_AES_128_CCM"),
    (0xC09F, "TLS_DHE_RSA_WITH_AES_256_CCM"),
    (0xC0A0, "TLS_RSA_WITH_AES_128_CCM_8"),
    (0xC0A1, "TLS_RSA_WITH_AES_256_CCM_8"),
    (0xC0A2, "TLS_DHE_RSA_WITH_AES_128_CCM_8"),
    (0xC0A3, "TLS_DHE_RSA_WITH_AES_256_CCM_8"),
    (0xC0A4, "TLS_PSK_WITH_AES_128_CCM"),
    (0xC0A5, "TLS_PSK_WITH_AES_256_CCM"),
    (0xC0A6, "TLS_DHE_PSK_WITH_AES_128_CCM"),
    (0xC0A7, "TLS_DHE_PSK_WITH_AES_256_CCM"),
    (0xC0A8, "TLS_PSK_WITH_AES_128_CCM_8"),
    (0xC0A9, "TLS_PSK_WITH_AES_256_CCM_8"),
    (0xC0AA, "TLS_PSK_DHE_WITH_AES_128_CCM_8"),
    (0xC0AB, "TLS_PSK_DHE_WITH_AES_256_CCM_8"),
    (0xC0AC, "TLS_ECDHE_ECDSA_WITH_AES_128_CCM"),
    (0xC0AD, "TLS_ECDHE_ECDSA_WITH_AES_256_CCM"),
    (0xC0AE, "TLS_ECDHE_ECDSA_WITH_AES_128_CCM_8"),
    (0xC0AF, "TLS_ECDHE_ECDSA_WITH_AES_256_CCM_8"),
    (0xCCA8, "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256"),
    (0xCCA9, "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256"),
    (0xCCAA, "TLS_DHE_RSA_WITH_CHACHA20_POLY1305_SHA256"),
    (0xCCAB, "TLS_PSK_WITH_CHACHA20_POLY1305_SHA256"),
    (0xCCAC, "TLS_ECDHE_PSK_WITH_CHACHA20_POLY1305_SHA256"),
    (0xCCAD, "TLS_DHE_PSK_WITH_CHACHA20_POLY1305_SHA256"),
    (0xCCAE, "TLS_RSA_PSK_WITH_CHACHA20_POLY1305_SHA256"),
];

/// The NCSC-NL class of an IANA cipher-suite code point. Anything not listed as good,
/// sufficient or phase_out by the contract is insufficient, including unknown code points,
/// TLS_AES_128_CCM_SHA256 and the CAMELLIA / ARIA / CCM / DHE_DSS / PSK suites.
pub fn cipher_class(suite: u16) -> CipherClass {
    if GOOD.contains(&suite) {
        CipherClass::Good
    } else if SUFFICIENT.contains(&suite) {
        CipherClass::Sufficient
    } else if PHASE_OUT.contains(&suite) {
        CipherClass::PhaseOut
    } else {
        CipherClass::Insufficient
    }
}

/// The suites a raw ClientHello probing for `class` offers: every code point of the class
/// that OpenSSL 3.0 (or an older stack) can negotiate. Good includes the three TLS 1.3
/// suites; the other lists hold only TLS 1.2-and-earlier suites (TLS 1.3 suites cannot be
/// negotiated in a TLS 1.0-1.2 hello). The insufficient list has 177 entries.
pub fn suites_of(class: CipherClass) -> &'static [u16] {
    match class {
        CipherClass::Good => GOOD,
        CipherClass::Sufficient => SUFFICIENT,
        CipherClass::PhaseOut => PHASE_OUT,
        CipherClass::Insufficient => INSUFFICIENT,
    }
}

/// The IANA name of a cipher suite (`TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256`), `None` when
/// the code point is not in uptake's table.
pub fn suite_name(suite: u16) -> Option<&'static str> {
    SUITES
        .binary_search_by_key(&suite, |(c, _)| *c)
        .ok()
        .map(|i| SUITES[i].1)
}

/// Named groups (IANA TLS Supported Groups) uptake names in evidence.
const GROUPS: &[(u16, &str)] = &[
    (0x0017, "secp256r1"),
    (0x0018, "secp384r1"),
    (0x0019, "secp521r1"),
    (0x001D, "x25519"),
    (0x001E, "x448"),
    (0x0100, "ffdhe2048"),
    (0x0101, "ffdhe3072"),
    (0x0102, "ffdhe4096"),
    (0x0103, "ffdhe6144"),
    (0x0104, "ffdhe8192"),
    (0x0200, "MLKEM512"),
    (0x0201, "MLKEM768"),
    (0x0202, "MLKEM1024"),
    (0x11EB, "SecP256r1MLKEM768"),
    (0x11EC, "X25519MLKEM768"),
    (0x11ED, "SecP384r1MLKEM1024"),
];

/// The hybrid ML-KEM groups (draft-ietf-tls-ecdhe-mlkem) that make `pq_kex` `pq_hybrid`.
pub const HYBRID_MLKEM_GROUPS: [u16; 3] = [0x11EB, 0x11EC, 0x11ED];

/// The IANA name of a named group (`X25519MLKEM768`, `x25519`, `secp256r1`), `None` when
/// unknown.
pub fn group_name(group: u16) -> Option<&'static str> {
    GROUPS.iter().find(|(g, _)| *g == group).map(|(_, n)| *n)
}

/// `tls_version` of a host where HTTPS is available.
///
/// - `negotiated`: the version rustls negotiated (its best, TLS 1.2 or 1.3), `None` when the
///   rustls handshake failed;
/// - `legacy`: the legacy versions (TLS 1.0 / 1.1) the legacy probe got a ServerHello for,
///   or `Err(reason)` when that probe could not measure (timeout, reset).
///
/// Any legacy version accepted -> `insufficient` (even with TLS 1.3); else 1.3 -> `good`,
/// 1.2 -> `sufficient`. Without any handshake the check is `not_applicable` (HTTPS
/// unavailable). A legacy-probe failure is `error` (whether 1.0/1.1 is accepted is unknown).
pub fn tls_version(
    negotiated: Option<TlsVersion>,
    legacy: &Result<Vec<TlsVersion>, String>,
) -> Finding {
    let legacy = match legacy {
        Err(why) => return Finding::error(format!("legacy TLS probe: {why}")),
        Ok(v) => v,
    };
    let mut old: Vec<TlsVersion> = legacy
        .iter()
        .copied()
        .filter(|v| *v < TlsVersion::Tls12)
        .collect();
    old.sort();
    old.dedup();
    if !old.is_empty() {
        let words: Vec<&str> = old.iter().map(|v| v.as_str()).collect();
        return Finding::with_reason(
            Status::Insufficient,
            format!("accepts {}", words.join(", ")),
        );
    }
    match negotiated {
        Some(TlsVersion::Tls13) => Finding::of(Status::Good),
        Some(TlsVersion::Tls12) => Finding::of(Status::Sufficient),
        Some(v) => {
            Finding::with_reason(Status::Insufficient, format!("best version {}", v.as_str()))
        }
        None => Finding::with_reason(Status::NotApplicable, "no TLS handshake completed"),
    }
}

/// `tls_cipher`: the worst class among the suites the server accepts.
///
/// - `negotiated`: the suite of the completed handshake (rustls, or the legacy probe for a
///   TLS 1.0/1.1-only server); `None` when no handshake completed (-> `not_applicable`);
/// - `probes`: one entry per raw per-class probe (normally sufficient, phase_out,
///   insufficient): `Ok(true)` when the server answered the hello offering only
///   [`suites_of`] that class with a ServerHello, `Ok(false)` on an alert / close, `Err`
///   when the probe could not measure.
///
/// A failed probe makes the check `error` only when its class is worse than the worst class
/// otherwise seen (its answer could have changed the result).
pub fn tls_cipher(
    negotiated: Option<u16>,
    probes: &[(CipherClass, Result<bool, String>)],
) -> Finding {
    let Some(suite) = negotiated else {
        return Finding::with_reason(Status::NotApplicable, "no TLS handshake completed");
    };
    let mut worst = cipher_class(suite);
    let mut why = format!(
        "negotiated {}",
        suite_name(suite).map_or_else(|| format!("0x{suite:04X}"), str::to_string)
    );
    for (class, outcome) in probes {
        if outcome == &Ok(true) && *class > worst {
            worst = *class;
            why = format!("accepts a {} suite", class.status());
        }
    }
    if let Some((class, Err(e))) = probes
        .iter()
        .find(|(class, outcome)| outcome.is_err() && *class > worst)
    {
        return Finding::error(format!("{} suites probe: {e}", class.status()));
    }
    Finding::with_reason(worst.status(), why)
}

/// `pq_kex` of one TLS endpoint (web host, or one MX) whose handshake completed, from the
/// key-exchange group it negotiated while the client offered X25519MLKEM768 (with a key
/// share) and SecP256r1MLKEM768 (without one) beside the classical groups. Reached through a
/// HelloRetryRequest or not, the group decides (the retry is evidence).
///
/// A hybrid ML-KEM group ([`HYBRID_MLKEM_GROUPS`]) -> `pq_hybrid`; any other group ->
/// `classical`; no group (a TLS 1.0/1.1-only server seen by the legacy probe, or TLS 1.2 with
/// RSA key exchange) -> `classical` ("no key-exchange group"): such a server negotiates no
/// hybrid group with any client.
pub fn pq_kex(negotiated_group: Option<u16>) -> Finding {
    match negotiated_group {
        Some(g) if HYBRID_MLKEM_GROUPS.contains(&g) => Finding::of(Status::PqHybrid),
        Some(g) => Finding::with_reason(Status::Classical, format!("group {}", group_label(g))),
        None => Finding::with_reason(Status::Classical, "no key-exchange group"),
    }
}

/// The IANA name of a group, else its code point (`0x11EE`).
pub fn group_label(group: u16) -> String {
    group_name(group).map_or_else(|| format!("0x{group:04X}"), str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_code_points() {
        let cases = [
            (0x1301, CipherClass::Good),
            (0x1302, CipherClass::Good),
            (0x1303, CipherClass::Good),
            (0xC02F, CipherClass::Good),
            (0xCCA9, CipherClass::Good),
            (0xC027, CipherClass::Sufficient),
            (0xC013, CipherClass::Sufficient),
            (0x009E, CipherClass::Sufficient),
            (0xCCAA, CipherClass::Sufficient),
            (0x009C, CipherClass::PhaseOut),
            (0x000A, CipherClass::PhaseOut),
            (0xC012, CipherClass::PhaseOut),
            (0x0016, CipherClass::PhaseOut),
            (0x0005, CipherClass::Insufficient),
            (0x0004, CipherClass::Insufficient),
            (0x0001, CipherClass::Insufficient),
            (0x0009, CipherClass::Insufficient),
            (0x0034, CipherClass::Insufficient), // anon
            (0x00A2, CipherClass::Insufficient), // DHE_DSS
            (0x1304, CipherClass::Insufficient),
            (0xFFFF, CipherClass::Insufficient),
        ];
        for (suite, class) in cases {
            assert_eq!(cipher_class(suite), class, "0x{suite:04X}");
        }
        assert_eq!(
            suite_name(0xC02F),
            Some("TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256")
        );
        assert_eq!(suite_name(0x000A), Some("TLS_RSA_WITH_3DES_EDE_CBC_SHA"));
        assert_eq!(suite_name(0x1301), Some("TLS_AES_128_GCM_SHA256"));
        assert_eq!(suite_name(0xFFFF), None);
    }

    #[test]
    fn table_is_sorted_and_lists_are_named() {
        assert!(SUITES.windows(2).all(|w| w[0].0 < w[1].0));
        for class in [
            CipherClass::Good,
            CipherClass::Sufficient,
            CipherClass::PhaseOut,
            CipherClass::Insufficient,
        ] {
            for s in suites_of(class) {
                assert_eq!(cipher_class(*s), class, "0x{s:04X}");
                assert!(suite_name(*s).is_some(), "0x{s:04X} has no name");
            }
        }
    }

    #[test]
    fn insufficient_list_is_complete() {
        // Every named TLS <= 1.2 suite outside good/sufficient/phase_out is offered by the
        // insufficient probe (TLS 1.3 code points 0x13xx cannot be negotiated by it).
        let expected: Vec<u16> = SUITES
            .iter()
            .map(|(c, _)| *c)
            .filter(|c| c >> 8 != 0x13 && cipher_class(*c) == CipherClass::Insufficient)
            .collect();
        assert_eq!(INSUFFICIENT, expected.as_slice());
        // Every OpenSSL 3.0 suite (Debian 12, ALL:COMPLEMENTOFALL) is in the table.
        for s in [0x0034, 0x00C5, 0xC0AF, 0xCCAE, 0xC09B, 0x00B9] {
            assert!(suite_name(s).is_some());
        }
    }

    fn ok(v: &[TlsVersion]) -> Result<Vec<TlsVersion>, String> {
        Ok(v.to_vec())
    }

    #[test]
    fn tls_version_statuses() {
        use TlsVersion::*;
        assert_eq!(tls_version(Some(Tls13), &ok(&[])).status, Status::Good);
        assert_eq!(
            tls_version(Some(Tls12), &ok(&[])).status,
            Status::Sufficient
        );
        let f = tls_version(Some(Tls13), &ok(&[Tls11, Tls10]));
        assert_eq!(f.status, Status::Insufficient);
        assert_eq!(f.reason.as_deref(), Some("accepts TLSv1.0, TLSv1.1"));
        assert_eq!(
            tls_version(None, &ok(&[Tls10])).status,
            Status::Insufficient
        );
        assert_eq!(tls_version(None, &ok(&[])).status, Status::NotApplicable);
        assert_eq!(
            tls_version(Some(Tls13), &Err("timeout".into())).status,
            Status::Error
        );
        assert_eq!(TlsVersion::from_wire(0x0303), Some(Tls12));
        assert_eq!(TlsVersion::from_wire(0x0300), None);
    }

    #[test]
    fn tls_cipher_takes_the_worst_accepted_class() {
        use CipherClass::*;
        let none = [
            (Sufficient, Ok(false)),
            (PhaseOut, Ok(false)),
            (Insufficient, Ok(false)),
        ];
        assert_eq!(tls_cipher(Some(0x1301), &none).status, Status::Good);
        assert_eq!(tls_cipher(Some(0xC027), &none).status, Status::Sufficient);
        let phase = [
            (Sufficient, Ok(true)),
            (PhaseOut, Ok(true)),
            (Insufficient, Ok(false)),
        ];
        assert_eq!(tls_cipher(Some(0x1301), &phase).status, Status::PhaseOut);
        let rc4 = [(Insufficient, Ok(true))];
        assert_eq!(tls_cipher(Some(0xC02F), &rc4).status, Status::Insufficient);
        // The negotiated suite itself can be the worst.
        assert_eq!(tls_cipher(Some(0x0005), &none).status, Status::Insufficient);
        // A failed probe of a worse class is an error; of a better class it does not matter.
        let failed = [(PhaseOut, Err("timeout".to_string()))];
        assert_eq!(tls_cipher(Some(0x1301), &failed).status, Status::Error);
        let failed_but_known = [
            (Sufficient, Err("timeout".to_string())),
            (Insufficient, Ok(true)),
        ];
        assert_eq!(
            tls_cipher(Some(0x1301), &failed_but_known).status,
            Status::Insufficient
        );
        assert_eq!(tls_cipher(None, &none).status, Status::NotApplicable);
    }

    #[test]
    fn pq_kex_statuses() {
        assert_eq!(pq_kex(Some(0x11EC)).status, Status::PqHybrid);
        assert_eq!(pq_kex(Some(0x11EB)).status, Status::PqHybrid);
        assert_eq!(pq_kex(Some(0x11ED)).status, Status::PqHybrid);
        let c = pq_kex(Some(0x001D));
        assert_eq!(c.status, Status::Classical);
        assert_eq!(c.reason.as_deref(), Some("group x25519"));
        // Pure ML-KEM (not a hybrid) is not what the check counts.
        assert_eq!(pq_kex(Some(0x0201)).status, Status::Classical);
        let none = pq_kex(None);
        assert_eq!(none.status, Status::Classical);
        assert_eq!(none.reason.as_deref(), Some("no key-exchange group"));
        assert_eq!(group_name(0x11EC), Some("X25519MLKEM768"));
        assert_eq!(group_label(0x11EB), "SecP256r1MLKEM768");
        assert_eq!(group_label(0x7777), "0x7777");
    }
}
