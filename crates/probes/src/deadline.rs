//! Host deadlines that do not count time spent waiting for the scan's politeness limits.
//!
//! A provider's address can host thousands of a scan's domains; with a few connections per
//! address at a few per second, a host probe may wait minutes for its turn. That wait is the
//! scan being polite, not the host being slow, so [`within_active`] extends the deadline by
//! the time a [`crate::Dialer`] spent in [`policy_wait`] while the probe ran.
//! Every network step keeps its own timeout (`--probe-timeout`), so a probe still ends.

use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::time::Instant;

tokio::task_local! {
    static POLICY_WAIT: Arc<Waits>;
}

/// The policy waits of one host probe: how many are under way, since when, and the time
/// covered by waits before (overlapping waits count once).
#[derive(Default)]
struct Waits(Mutex<WaitState>);

#[derive(Default)]
struct WaitState {
    under_way: u32,
    since: Option<Instant>,
    before: Duration,
}

impl Waits {
    fn state(&self) -> std::sync::MutexGuard<'_, WaitState> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn begin(&self) {
        let mut st = self.state();
        if st.under_way == 0 {
            st.since = Some(Instant::now());
        }
        st.under_way += 1;
    }

    fn end(&self) {
        let mut st = self.state();
        st.under_way = st.under_way.saturating_sub(1);
        if st.under_way == 0 {
            if let Some(since) = st.since.take() {
                st.before += since.elapsed();
            }
        }
    }

    /// Time spent waiting so far, the wait under way included.
    fn waited(&self) -> Duration {
        let st = self.state();
        st.before + st.since.map_or(Duration::ZERO, |s| s.elapsed())
    }
}

/// Ends a wait when dropped, so a cancelled wait ends too.
struct Waiting(Option<Arc<Waits>>);

impl Drop for Waiting {
    fn drop(&mut self) {
        if let Some(w) = &self.0 {
            w.end();
        }
    }
}

/// Runs `wait` (a [`crate::Dialer`] waiting for the scan's connection limits) as time that
/// does not count against the deadline of the host probe it belongs to, if any.
pub async fn policy_wait<F: Future>(wait: F) -> F::Output {
    let waits = POLICY_WAIT.try_with(Arc::clone).ok();
    if let Some(w) = &waits {
        w.begin();
    }
    let _waiting = Waiting(waits);
    wait.await
}

/// `fut`'s output, or `None` once it has been active (not waiting in [`policy_wait`]) for
/// longer than `limit`.
pub async fn within_active<F: Future>(limit: Duration, fut: F) -> Option<F::Output> {
    let waits = Arc::new(Waits::default());
    let fut = POLICY_WAIT.scope(waits.clone(), fut);
    tokio::pin!(fut);
    let start = Instant::now();
    let mut end = start + limit;
    loop {
        tokio::select! {
            out = &mut fut => return Some(out),
            _ = tokio::time::sleep_until(end) => {
                let now = Instant::now();
                let active = (now - start).saturating_sub(waits.waited());
                if active >= limit {
                    return None;
                }
                end = now + (limit - active);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn policy_waits_extend_the_deadline_and_nothing_else_does() {
        let limit = Duration::from_secs(10);
        let sleep = |s| tokio::time::sleep(Duration::from_secs(s));
        // 25 s, of which 20 s waiting for the limits: 5 s active, within 10 s.
        let polite = async {
            policy_wait(sleep(20)).await;
            sleep(5).await;
            7
        };
        assert_eq!(within_active(limit, polite).await, Some(7));
        // Two overlapping waits of 12 s count once; 3 + 3 s active.
        let overlapping = async {
            sleep(3).await;
            futures::join!(policy_wait(sleep(12)), policy_wait(sleep(6)));
            sleep(3).await;
            8
        };
        assert_eq!(within_active(limit, overlapping).await, Some(8));
        // 25 s, of which 10 s waiting: 15 s active, stopped when 10 s were active.
        let slow = async {
            policy_wait(sleep(10)).await;
            sleep(15).await;
            9
        };
        let started = Instant::now();
        assert_eq!(within_active(limit, slow).await, None);
        assert_eq!(started.elapsed(), Duration::from_secs(20));
        // Outside a host probe a wait is just a wait.
        assert_eq!(policy_wait(async { 1 }).await, 1);
    }
}
