//! A single-flight cache: the first caller for a key runs the work, concurrent callers wait
//! for its result, later callers get it from memory. Results live for the scan (a prober is
//! made per scan).

use std::collections::HashMap;
use std::future::Future;
use std::hash::Hash;
use std::sync::{Arc, Mutex};

use tokio::sync::OnceCell;

/// Shared results per key.
pub struct SingleFlight<K, V> {
    cells: Mutex<HashMap<K, Arc<OnceCell<V>>>>,
}

impl<K, V> Default for SingleFlight<K, V> {
    fn default() -> Self {
        SingleFlight {
            cells: Mutex::new(HashMap::new()),
        }
    }
}

impl<K: Eq + Hash + Clone, V: Clone> SingleFlight<K, V> {
    /// The value for `key`, running `work` only when no caller has before. The flag is true
    /// when the value came from another caller's run.
    pub async fn get_or_run<F, Fut>(&self, key: K, work: F) -> (V, bool)
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = V>,
    {
        let cell = {
            let mut cells = self.cells.lock().unwrap_or_else(|e| e.into_inner());
            cells.entry(key).or_default().clone()
        };
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

    /// Keys held.
    pub fn len(&self) -> usize {
        self.cells.lock().unwrap_or_else(|e| e.into_inner()).len()
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
        let cache: SingleFlight<&str, usize> = SingleFlight::default();
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
}
