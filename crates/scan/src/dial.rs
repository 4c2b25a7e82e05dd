//! The probes' dialer in a scan: every web and mail connection asks the scan's
//! [`uptake_policy::ConnectionLimiter`] first (address guard and opt-out prefixes, then the
//! destination's concurrency slot and rate token) and holds the permit while it is open.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use uptake_policy::ConnectionLimiter;
use uptake_probes::{Connection, Dialer, ProbeError};

/// A [`Dialer`] that connects only where and as often as the scan's policy allows.
#[derive(Debug, Clone)]
pub struct PolicyDialer {
    limiter: Arc<ConnectionLimiter>,
}

impl PolicyDialer {
    /// A dialer over the scan's limiter.
    pub fn new(limiter: Arc<ConnectionLimiter>) -> PolicyDialer {
        PolicyDialer { limiter }
    }
}

impl Dialer for PolicyDialer {
    fn connect(
        &self,
        addr: SocketAddr,
        connect_timeout: Duration,
    ) -> futures::future::BoxFuture<'_, Result<Connection, ProbeError>> {
        Box::pin(async move {
            // Waiting for the scan's limits does not count against the host's deadline.
            let permit = uptake_probes::deadline::policy_wait(self.limiter.acquire(addr.ip()))
                .await
                .map_err(|refusal| ProbeError::NotAllowed(refusal.to_string()))?;
            let opened = Connection::open(addr, connect_timeout).await?;
            Ok(opened.holding(permit))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use uptake_policy::{AddressGuard, LimiterConfig};

    #[tokio::test]
    async fn a_refused_address_is_never_connected_and_says_why() {
        let limiter = ConnectionLimiter::new(
            Arc::new(AddressGuard::new(&[], &[])),
            LimiterConfig::default(),
        );
        let dialer = PolicyDialer::new(Arc::new(limiter));
        let err = dialer
            .connect("127.0.0.1:9".parse().unwrap(), Duration::from_secs(1))
            .await
            .unwrap_err();
        match err {
            ProbeError::NotAllowed(why) => assert!(why.contains("special-purpose"), "{why}"),
            other => panic!("expected NotAllowed, got {other:?}"),
        }
    }

    #[tokio::test]
    async fn an_allowed_address_is_connected_and_the_permit_is_held() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let guard = AddressGuard::new(&["127.0.0.0/8".parse().unwrap()], &[]);
        let limiter = Arc::new(ConnectionLimiter::new(
            Arc::new(guard),
            LimiterConfig {
                per_address_rate: 1000.0,
                per_address_concurrency: 1,
                total_concurrency: 16,
            },
        ));
        let dialer = PolicyDialer::new(limiter.clone());
        let first = dialer
            .connect(addr, Duration::from_secs(1))
            .await
            .expect("allowed");
        // One slot per address: a second connection waits while the first is open.
        let second = tokio::time::timeout(
            Duration::from_millis(200),
            dialer.connect(addr, Duration::from_secs(1)),
        )
        .await;
        assert!(
            second.is_err(),
            "the slot was not held by the open connection"
        );
        drop(first);
        tokio::time::timeout(
            Duration::from_secs(2),
            dialer.connect(addr, Duration::from_secs(1)),
        )
        .await
        .expect("slot freed when the connection closed")
        .expect("allowed");
    }
}
