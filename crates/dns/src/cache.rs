//! The cache behind `Client::query_shared`: single-flight plus a FIFO-bounded answer cache.

use std::collections::{HashMap, VecDeque};
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use tokio::sync::watch;

use crate::{DnsError, Query, Response, ResponseCode};

type Outcome = Result<Arc<Response>, DnsError>;

enum Slot {
    /// Answered; kept for the client's lifetime (or until evicted).
    Ready(Arc<Response>),
    /// An exchange is running; its result will be published here.
    Pending(watch::Receiver<Option<Outcome>>),
}

enum Step {
    Hit(Arc<Response>),
    Join(watch::Receiver<Option<Outcome>>),
    Lead(watch::Sender<Option<Outcome>>),
}

struct State {
    map: HashMap<Query, Slot>,
    /// Keys of the `Ready` slots in insertion order (one entry per `Ready` slot).
    order: VecDeque<Query>,
}

pub(crate) struct SharedCache {
    capacity: usize,
    state: Mutex<State>,
}

impl SharedCache {
    pub(crate) fn new(capacity: usize) -> Self {
        SharedCache {
            capacity,
            state: Mutex::new(State {
                map: HashMap::new(),
                order: VecDeque::new(),
            }),
        }
    }

    /// Returns the cached answer for `key`, or joins the exchange in flight for it, or runs `f`
    /// and shares its outcome with everyone who joined meanwhile.
    pub(crate) async fn get_or_run<F, Fut>(&self, key: Query, hits: &AtomicU64, f: F) -> Outcome
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Outcome>,
    {
        let mut f = Some(f);
        let mut counted = false;
        loop {
            // Decide under the lock, await outside it (keeps the future Send).
            let step = {
                let mut st = self.state.lock().unwrap();
                match st.map.get(&key) {
                    Some(Slot::Ready(r)) => Step::Hit(r.clone()),
                    Some(Slot::Pending(rx)) => Step::Join(rx.clone()),
                    None => {
                        let (tx, rx) = watch::channel(None);
                        st.map.insert(key.clone(), Slot::Pending(rx));
                        Step::Lead(tx)
                    }
                }
            };
            match step {
                Step::Hit(r) => {
                    if !counted {
                        hits.fetch_add(1, Ordering::Relaxed);
                    }
                    return Ok(r);
                }
                Step::Lead(tx) => {
                    let Some(f) = f.take() else {
                        // Unreachable: a caller leads at most once.
                        return Err(DnsError::InvalidQuery {
                            reason: "internal: single-flight led twice".into(),
                        });
                    };
                    let mut guard = LeaderGuard {
                        cache: self,
                        key: &key,
                        armed: true,
                    };
                    let outcome = f().await;
                    guard.finish(&outcome);
                    let _ = tx.send(Some(outcome.clone()));
                    return outcome;
                }
                Step::Join(mut rx) => {
                    if !counted {
                        hits.fetch_add(1, Ordering::Relaxed);
                        counted = true;
                    }
                    let outcome = match rx.wait_for(Option::is_some).await {
                        Ok(v) => v.clone(),
                        // The leader was cancelled; its guard removed the slot. Try again.
                        Err(_) => None,
                    };
                    if let Some(outcome) = outcome {
                        return outcome;
                    }
                }
            }
        }
    }

    fn publish(&self, key: &Query, outcome: &Outcome) {
        let mut st = self.state.lock().unwrap();
        let keep = self.capacity > 0
            && matches!(outcome, Ok(r) if matches!(r.rcode, ResponseCode::NoError | ResponseCode::NXDomain));
        match outcome {
            Ok(r) if keep => {
                while st.order.len() >= self.capacity {
                    match st.order.pop_front() {
                        Some(old) => {
                            st.map.remove(&old);
                        }
                        None => break,
                    }
                }
                st.map.insert(key.clone(), Slot::Ready(r.clone()));
                st.order.push_back(key.clone());
            }
            _ => {
                st.map.remove(key);
            }
        }
    }

    #[cfg(test)]
    fn ready_len(&self) -> usize {
        self.state.lock().unwrap().order.len()
    }
}

/// Removes the `Pending` slot if the leading future is dropped before it finishes, so that
/// waiters retry instead of waiting forever.
struct LeaderGuard<'a> {
    cache: &'a SharedCache,
    key: &'a Query,
    armed: bool,
}

impl LeaderGuard<'_> {
    fn finish(&mut self, outcome: &Outcome) {
        self.armed = false;
        self.cache.publish(self.key, outcome);
    }
}

impl Drop for LeaderGuard<'_> {
    fn drop(&mut self) {
        if self.armed {
            if let Ok(mut st) = self.cache.state.lock() {
                if matches!(st.map.get(self.key), Some(Slot::Pending(_))) {
                    st.map.remove(self.key);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Name, RecordType};
    use std::sync::atomic::AtomicU32;

    fn resp(rcode: ResponseCode) -> Arc<Response> {
        Arc::new(Response {
            rcode,
            authentic_data: false,
            authoritative: false,
            answers: vec![],
            authorities: vec![],
            additionals: vec![],
            ede: vec![],
            server: "127.0.0.1:53".parse().unwrap(),
            attempts: 1,
            via_tcp: false,
        })
    }

    fn key(n: &str) -> Query {
        Query::new(Name::from_ascii(n).unwrap(), RecordType::A)
    }

    #[tokio::test]
    async fn caches_noerror_and_nxdomain_only() {
        let c = SharedCache::new(10);
        let hits = AtomicU64::new(0);
        let runs = AtomicU32::new(0);
        for (name, rcode) in [
            ("a.", ResponseCode::NoError),
            ("b.", ResponseCode::NXDomain),
            ("c.", ResponseCode::ServFail),
        ] {
            for _ in 0..3 {
                let r = c
                    .get_or_run(key(name), &hits, || async {
                        runs.fetch_add(1, Ordering::Relaxed);
                        Ok(resp(rcode))
                    })
                    .await
                    .unwrap();
                assert_eq!(r.rcode, rcode);
            }
        }
        // a and b once each, c three times.
        assert_eq!(runs.load(Ordering::Relaxed), 5);
        assert_eq!(hits.load(Ordering::Relaxed), 4);
    }

    #[tokio::test]
    async fn capacity_bounds_entries() {
        let c = SharedCache::new(3);
        let hits = AtomicU64::new(0);
        for i in 0..10 {
            c.get_or_run(key(&format!("n{i}.")), &hits, || async {
                Ok(resp(ResponseCode::NoError))
            })
            .await
            .unwrap();
        }
        assert_eq!(c.ready_len(), 3);
        assert_eq!(c.state.lock().unwrap().map.len(), 3);
    }

    #[tokio::test]
    async fn cancelled_leader_hands_over() {
        let c = Arc::new(SharedCache::new(10));
        let hits = Arc::new(AtomicU64::new(0));
        let c2 = c.clone();
        let h2 = hits.clone();
        // The leader never finishes and is cancelled by a timeout.
        let leader = tokio::spawn(async move {
            tokio::time::timeout(
                std::time::Duration::from_millis(50),
                c2.get_or_run(key("x."), &h2, || async {
                    futures::future::pending::<Outcome>().await
                }),
            )
            .await
        });
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        let r = c
            .get_or_run(key("x."), &hits, || async {
                Ok(resp(ResponseCode::NoError))
            })
            .await
            .unwrap();
        assert_eq!(r.rcode, ResponseCode::NoError);
        assert!(leader.await.unwrap().is_err());
    }
}
