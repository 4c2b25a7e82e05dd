//! Responsible scanning: what the scanner may touch, how hard, and how it introduces itself.
//!
//! Where it sits: the scan engine (`uptake-scan`) builds one [`Policy`] per scan from the
//! command line and consults it before any packet leaves: [`OptOut::domain_rule`] before a
//! target is measured at all, [`AddressGuard::check`] before a connection to any address other
//! than the configured resolvers (name servers asked directly, and the web and mail hosts of
//! the connection probes), and [`ConnectionLimiter::acquire`] around each TCP/TLS connection so
//! that shared hosting is not hammered. [`Identity`] carries the HTTP User-Agent and SMTP EHLO
//! name with a contact URL.
//!
//! Pure logic and a little tokio; no I/O besides reading the opt-out file.

mod guard;
mod limiter;
mod optout;

pub use guard::{ipv6_route, parse_prefixes, AddressGuard, Refusal, SPECIAL_PURPOSE};
pub use limiter::{ConnectionLimiter, ConnectionPermit, LimiterConfig};
pub use optout::{OptOut, OptOutError};

use std::sync::Arc;

/// Where operators of scanned hosts learn what the scan is and how to opt out.
pub const DEFAULT_CONTACT_URL: &str = "https://example.invalid/uptake/scanning";

/// How the scanner introduces itself to the hosts it connects to.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Identity {
    /// HTTP `User-Agent` of the web probes.
    pub user_agent: String,
    /// Host name the mail probes send in `EHLO`.
    pub ehlo_name: String,
}

impl Default for Identity {
    fn default() -> Self {
        Identity {
            user_agent: format!(
                "uptake/{} (+{DEFAULT_CONTACT_URL})",
                env!("CARGO_PKG_VERSION")
            ),
            ehlo_name: "uptake-scanner.invalid".to_string(),
        }
    }
}

/// Everything a scan consults before it sends: guard, opt-outs, limiter, identity. Cheap to
/// share (`Arc` inside where it matters).
#[derive(Debug, Clone)]
pub struct Policy {
    /// Addresses the scan may connect to.
    pub guard: Arc<AddressGuard>,
    /// Domains (and prefixes, also inside the guard) whose owners asked not to be scanned.
    pub opt_out: Arc<OptOut>,
    /// Per-destination connection rate and concurrency.
    pub connections: Arc<ConnectionLimiter>,
    /// User-Agent and EHLO name.
    pub identity: Identity,
}

impl Default for Policy {
    fn default() -> Self {
        Policy::new(
            AddressGuard::default(),
            OptOut::default(),
            LimiterConfig::default(),
            Identity::default(),
        )
    }
}

impl Policy {
    /// Builds a policy; the opt-out list's prefixes are added to the guard.
    pub fn new(
        mut guard: AddressGuard,
        opt_out: OptOut,
        limits: LimiterConfig,
        identity: Identity,
    ) -> Policy {
        guard.add_opted_out(opt_out.prefixes().iter().copied());
        let guard = Arc::new(guard);
        Policy {
            connections: Arc::new(ConnectionLimiter::new(guard.clone(), limits)),
            guard,
            opt_out: Arc::new(opt_out),
            identity,
        }
    }
}
