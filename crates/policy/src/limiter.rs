//! Connection limits: a rate and a concurrency cap per IP address, so that the many domains
//! of one shared host do not turn into a flood at that host, and a cap on the connections the
//! whole scan holds open, so that the scanner never has more handshakes outstanding than the
//! hosts (and its own CPU) answer within the probe timeout.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::guard::{AddressGuard, Refusal};

/// Limits per destination address.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LimiterConfig {
    /// New connections per second to one address (fractions allowed, e.g. 0.5).
    pub per_address_rate: f64,
    /// Connections open at once to one address.
    pub per_address_concurrency: usize,
    /// Connections open at once in the whole scan.
    pub total_concurrency: usize,
}

impl Default for LimiterConfig {
    fn default() -> Self {
        LimiterConfig {
            per_address_rate: 5.0,
            per_address_concurrency: 4,
            total_concurrency: 256,
        }
    }
}

/// Hands out permission to connect to an address: the [`AddressGuard`] first, then a slot
/// of the address's concurrency cap, then a slot of the scan-wide cap, then a token of the
/// address's rate (last, so that a host never sees more than its rate).
///
/// The probes call [`acquire`](Self::acquire) before each connection and hold the returned
/// [`ConnectionPermit`] until the connection is closed.
pub struct ConnectionLimiter {
    guard: Arc<AddressGuard>,
    config: LimiterConfig,
    rate: DefaultKeyedRateLimiter<IpAddr>,
    slots: Mutex<Slots>,
    total: Arc<Semaphore>,
}

struct Slots {
    map: HashMap<IpAddr, Arc<Semaphore>>,
    prune_at: usize,
}

const PRUNE_MIN: usize = 4096;

impl std::fmt::Debug for ConnectionLimiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConnectionLimiter")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

/// Permission to hold one connection to an address; dropping it frees the slot.
#[derive(Debug)]
pub struct ConnectionPermit {
    _slot: OwnedSemaphorePermit,
    _total: OwnedSemaphorePermit,
}

/// One connection every `1 / rate` seconds and no burst beyond one, so a host sees at most
/// `W × rate + 1` connections in any window of `W` seconds. Fractional rates keep their
/// value (2.5/s is one connection every 400 ms, not rounded to 2 or 3 per second); a rate that
/// is not a positive number is one per second.
fn quota(rate: f64) -> Quota {
    let rate = if rate.is_finite() && rate > 0.0 {
        rate
    } else {
        1.0
    };
    let interval = Duration::from_secs_f64(1.0 / rate).max(Duration::from_nanos(1));
    Quota::with_period(interval).expect("the interval is not zero")
}

impl ConnectionLimiter {
    /// A limiter that consults `guard`.
    pub fn new(guard: Arc<AddressGuard>, config: LimiterConfig) -> ConnectionLimiter {
        ConnectionLimiter {
            guard,
            rate: RateLimiter::keyed(quota(config.per_address_rate)),
            config,
            slots: Mutex::new(Slots {
                map: HashMap::new(),
                prune_at: PRUNE_MIN,
            }),
            total: Arc::new(Semaphore::new(config.total_concurrency.max(1))),
        }
    }

    /// The limits.
    pub fn config(&self) -> LimiterConfig {
        self.config
    }

    /// Waits until a connection to `address` is allowed; refuses at once (without waiting) an
    /// address the guard refuses.
    pub async fn acquire(&self, address: IpAddr) -> Result<ConnectionPermit, Refusal> {
        self.guard.check(address)?;
        let slot = {
            let mut slots = self.slots.lock().unwrap_or_else(|e| e.into_inner());
            if slots.map.len() >= slots.prune_at {
                let max = self.config.per_address_concurrency.max(1);
                slots
                    .map
                    .retain(|_, s| Arc::strong_count(s) > 1 || s.available_permits() < max);
                slots.prune_at = (slots.map.len() * 2).max(PRUNE_MIN);
                self.rate.retain_recent();
            }
            slots
                .map
                .entry(address)
                .or_insert_with(|| {
                    Arc::new(Semaphore::new(self.config.per_address_concurrency.max(1)))
                })
                .clone()
        };
        let slot = slot
            .acquire_owned()
            .await
            .expect("the limiter never closes its semaphores");
        let total = self
            .total
            .clone()
            .acquire_owned()
            .await
            .expect("the limiter never closes its semaphores");
        self.rate.until_key_ready(&address).await;
        Ok(ConnectionPermit {
            _slot: slot,
            _total: total,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::num::NonZeroU32;
    use std::time::Instant;

    fn limiter(rate: f64, concurrency: usize) -> ConnectionLimiter {
        limiter_total(rate, concurrency, 1000)
    }

    fn limiter_total(rate: f64, concurrency: usize, total: usize) -> ConnectionLimiter {
        let guard = AddressGuard::new(&crate::parse_prefixes("192.0.2.0/24").unwrap(), &[]);
        ConnectionLimiter::new(
            Arc::new(guard),
            LimiterConfig {
                per_address_rate: rate,
                per_address_concurrency: concurrency,
                total_concurrency: total,
            },
        )
    }

    #[tokio::test]
    async fn caps_open_connections_of_the_whole_scan() {
        let l = limiter_total(1000.0, 4, 3);
        let addrs: Vec<IpAddr> = (1..=4)
            .map(|i| format!("192.0.2.{i}").parse().unwrap())
            .collect();
        let held: Vec<_> = acquire_all(&l, &addrs[..3]).await;
        // A fourth connection, to yet another address, waits for one of the three.
        let fourth = tokio::time::timeout(Duration::from_millis(50), l.acquire(addrs[3])).await;
        assert!(fourth.is_err(), "a fourth open connection was allowed");
        drop(held);
        let fourth = tokio::time::timeout(Duration::from_millis(500), l.acquire(addrs[3])).await;
        assert!(fourth.is_ok(), "scan-wide slot not freed");
    }

    async fn acquire_all(l: &ConnectionLimiter, addrs: &[IpAddr]) -> Vec<ConnectionPermit> {
        let mut out = Vec::new();
        for a in addrs {
            out.push(l.acquire(*a).await.unwrap());
        }
        out
    }

    #[tokio::test]
    async fn refuses_what_the_guard_refuses() {
        let l = limiter(100.0, 2);
        assert!(l.acquire("127.0.0.1".parse().unwrap()).await.is_err());
        assert!(l.acquire("192.0.2.1".parse().unwrap()).await.is_ok());
    }

    #[tokio::test]
    async fn caps_concurrency_per_address() {
        let l = limiter(1000.0, 2);
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        let p1 = l.acquire(a).await.unwrap();
        let _p2 = l.acquire(a).await.unwrap();
        // A third waits until one is released; another address does not.
        let third = tokio::time::timeout(Duration::from_millis(50), l.acquire(a)).await;
        assert!(
            third.is_err(),
            "third connection to one address was allowed"
        );
        assert!(l.acquire("192.0.2.2".parse().unwrap()).await.is_ok());
        drop(p1);
        let third = tokio::time::timeout(Duration::from_millis(500), l.acquire(a)).await;
        assert!(third.is_ok(), "slot not freed");
    }

    #[test]
    fn the_rate_is_one_connection_per_interval_without_rounding() {
        for (rate, interval_us) in [
            (0.5, 2_000_000),
            (1.0, 1_000_000),
            (2.5, 400_000),
            (4.0, 250_000),
            (1000.0, 1_000),
        ] {
            let q = quota(rate);
            assert_eq!(
                q.replenish_interval(),
                Duration::from_micros(interval_us),
                "rate {rate}"
            );
            assert_eq!(q.burst_size(), NonZeroU32::MIN, "rate {rate}");
        }
        assert_eq!(quota(f64::NAN).replenish_interval(), Duration::from_secs(1));
    }

    #[tokio::test]
    async fn caps_rate_per_address() {
        let l = limiter(20.0, 100);
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        let start = Instant::now();
        for _ in 0..11 {
            drop(l.acquire(a).await.unwrap());
        }
        // 11 connections at 20/s with no burst take at least 10 intervals of 50 ms.
        let took = start.elapsed();
        assert!(took >= Duration::from_millis(450), "took {took:?}");
        assert!(took < Duration::from_millis(1500), "took {took:?}");
    }
}
