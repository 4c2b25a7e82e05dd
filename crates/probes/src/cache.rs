//! A single-flight cache: the first caller for a key runs the work, concurrent callers wait
//! for its result, later callers get it from memory. A prober is made per scan; the cache
//! holds at most its capacity of keys and evicts the least recently used beyond that, so a
//! scan of millions of domains does not keep every host's probe (certificate chains, headers,
//! security.txt bodies) until it ends. An evicted key that is asked for again is probed again.

use std::collections::{HashMap, VecDeque};
use std::future::Future;
use std::hash::Hash;
use std::sync::{Arc, Mutex};

use tokio::sync::OnceCell;

/// Shared results per key, at most `capacity` keys.
pub struct SingleFlight<K, V> {
    capacity: usize,
    state: Mutex<State<K, V>>,
}

struct State<K, V> {
    /// The cell of each key and the tick of its last use.
    cells: HashMap<K, (Arc<OnceCell<V>>, u64)>,
    /// Keys with the tick at which they were queued, oldest first. A key used since it was
    /// queued goes to the back when it reaches the front (second chance), so the front is the
    /// least recently used.
    order: VecDeque<(K, u64)>,
    tick: u64,
}

impl<K: Eq + Hash + Clone, V: Clone> SingleFlight<K, V> {
    /// A cache of at most `capacity` keys (at least one).
    pub fn bounded(capacity: usize) -> Self {
        SingleFlight {
            capacity: capacity.max(1),
            state: Mutex::new(State {
                cells: HashMap::new(),
                order: VecDeque::new(),
                tick: 0,
            }),
        }
    }

    /// The value for `key`, running `work` only when no caller has before (or the key was
    /// evicted since). The flag is true when the value came from another caller's run.
    pub async fn get_or_run<F, Fut>(&self, key: K, work: F) -> (V, bool)
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = V>,
    {
        let cell = self.cell(key);
        let mut ran = false;
        let v = cell
            .get_or_init(|| {
                ran = true;
                work()
            })
            .await
            .clone();
        (v, !ran)
    }

    /// The key's cell, made (and the least recently used keys evicted) when it is new.
    fn cell(&self, key: K) -> Arc<OnceCell<V>> {
        let mut st = self.state.lock().unwrap_or_else(|e| e.into_inner());
        st.tick += 1;
        let tick = st.tick;
        if let Some((cell, used)) = st.cells.get_mut(&key) {
            *used = tick;
            return cell.clone();
        }
        while st.cells.len() >= self.capacity {
            let Some((old, queued)) = st.order.pop_front() else {
                break;
            };
            match st.cells.get(&old).map(|(_, used)| *used) {
                Some(used) if used > queued => st.order.push_back((old, used)),
                _ => {
                    // Callers already waiting on an evicted cell keep their Arc and its result.
                    st.cells.remove(&old);
                }
            }
        }
        let cell = Arc::new(OnceCell::new());
        st.cells.insert(key.clone(), (cell.clone(), tick));
        st.order.push_back((key, tick));
        cell
    }

    /// Keys held.
    pub fn len(&self) -> usize {
        self.state
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .cells
            .len()
    }

    /// No key held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[tokio::test]
    async fn concurrent_callers_share_one_run() {
        let cache: SingleFlight<&str, usize> = SingleFlight::bounded(16);
        let runs = AtomicUsize::new(0);
        let work = || async {
            runs.fetch_add(1, Ordering::SeqCst);
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            7
        };
        let results =
            futures::future::join_all((0..50).map(|_| cache.get_or_run("mx.example", work))).await;
        assert_eq!(runs.load(Ordering::SeqCst), 1);
        assert!(results.iter().all(|(v, _)| *v == 7));
        assert_eq!(results.iter().filter(|(_, hit)| !hit).count(), 1);
        let (v, hit) = cache.get_or_run("other", || async { 8 }).await;
        assert_eq!((v, hit), (8, false));
        assert_eq!(runs.load(Ordering::SeqCst), 1);
        assert_eq!(cache.len(), 2);
    }

    #[tokio::test]
    async fn holds_at_most_its_capacity_and_evicts_the_least_recently_used() {
        let cache: SingleFlight<u32, u32> = SingleFlight::bounded(3);
        for k in 0..3 {
            assert_eq!(
                cache.get_or_run(k, || async move { k * 10 }).await,
                (k * 10, false)
            );
        }
        // 0 is used again, so 1 is now the least recently used and goes first.
        assert_eq!(cache.get_or_run(0, || async { 99 }).await, (0, true));
        assert_eq!(cache.get_or_run(3, || async { 30 }).await, (30, false));
        assert_eq!(cache.len(), 3);
        assert_eq!(cache.get_or_run(0, || async { 99 }).await, (0, true));
        assert_eq!(cache.get_or_run(2, || async { 99 }).await, (20, true));
        // 1 was evicted: asked again, it is probed again.
        assert_eq!(cache.get_or_run(1, || async { 11 }).await, (11, false));
        assert_eq!(cache.len(), 3);
        // Many more keys than the capacity: the cache stays bounded.
        for k in 100..10_000 {
            cache.get_or_run(k, || async move { k }).await;
        }
        assert_eq!(cache.len(), 3);
    }
}
