//! Longest-prefix match over a flattened range table.
//!
//! Design: the prefixes of a table are nested or disjoint, so they cut the address space into
//! at most `2n + 1` elementary ranges, each with a single most-specific covering prefix (or
//! none). The table stores only the sorted start of each range and the index of that prefix:
//! 8 bytes per range for IPv4, 20 for IPv6 (a binary trie needs a node per bit of every
//! prefix; a poptrie or DIR-24-8 needs large fixed arrays or a complex incremental build, and
//! our tables are built once per scan and never updated). A lookup is one read of a 65,536
//! entry first-level index on the top 16 address bits, then a binary search inside that bucket
//! (a few hundred ranges at most in a full table). Building is a sort and one stack sweep.
//!
//! The sweep also yields each prefix's nearest enclosing prefix (its parent), which the VRP
//! table uses to enumerate every VRP that covers a route: walk up from the most specific one.

use crate::prefix::Key;

/// No prefix.
pub(crate) const NONE: u32 = u32::MAX;

/// Ranges `[starts[i], starts[i + 1])` mapped to a prefix index or [`NONE`].
#[derive(Debug)]
pub(crate) struct RangeMap<K> {
    starts: Vec<K>,
    vals: Vec<u32>,
    /// `index[b]` = first range whose start lies in bucket `b` or later (65,537 entries).
    index: Vec<u32>,
}

/// The result of building a [`RangeMap`]: the map and, per prefix, its parent or [`NONE`].
pub(crate) struct Built<K> {
    pub map: RangeMap<K>,
    pub parents: Vec<u32>,
}

impl<K: Key> RangeMap<K> {
    /// Builds the map from distinct canonical prefixes `(network, length)`, the value of each
    /// being its position in `prefixes`.
    pub fn build(prefixes: &[(K, u8)]) -> Built<K> {
        let mut order: Vec<u32> = (0..prefixes.len() as u32).collect();
        // Less specific first among equal starts, so the stack holds the nesting.
        order.sort_unstable_by_key(|&i| prefixes[i as usize]);
        let mut parents = vec![NONE; prefixes.len()];
        let mut starts: Vec<K> = Vec::with_capacity(prefixes.len() * 2 + 1);
        let mut vals: Vec<u32> = Vec::with_capacity(prefixes.len() * 2 + 1);
        let mut emit = |start: K, val: u32| {
            if starts.last() == Some(&start) {
                starts.pop();
                vals.pop();
            }
            if vals.last() != Some(&val) {
                starts.push(start);
                vals.push(val);
            }
        };
        let zero = K::bucket_start(0);
        emit(zero, NONE);
        let mut stack: Vec<(K, u32)> = Vec::new();
        // Closes every open prefix that ends before `until` (all of them when `None`).
        let close = |stack: &mut Vec<(K, u32)>, until: Option<K>, emit: &mut dyn FnMut(K, u32)| {
            while let Some(&(end, _)) = stack.last() {
                if until.is_some_and(|u| end >= u) {
                    break;
                }
                stack.pop();
                if let Some(after) = end.next() {
                    emit(after, stack.last().map_or(NONE, |&(_, v)| v));
                }
            }
        };
        for &i in &order {
            let (net, len) = prefixes[i as usize];
            close(&mut stack, Some(net), &mut emit);
            parents[i as usize] = stack.last().map_or(NONE, |&(_, v)| v);
            emit(net, i);
            stack.push((net.last(len), i));
        }
        close(&mut stack, None, &mut emit);
        Built {
            map: RangeMap::indexed(starts, vals),
            parents,
        }
    }

    /// A map from sorted, disjoint, inclusive ranges `(start, end, value)`: the gaps map to
    /// [`NONE`]. The caller checks the order (the hosting table reports it with line numbers).
    pub fn from_sorted_ranges(ranges: impl IntoIterator<Item = (K, K, u32)>) -> RangeMap<K> {
        let zero = K::bucket_start(0);
        let mut starts = vec![zero];
        let mut vals = vec![NONE];
        for (start, end, val) in ranges {
            if *starts.last().unwrap_or(&zero) == start {
                starts.pop();
                vals.pop();
            }
            starts.push(start);
            vals.push(val);
            if let Some(after) = end.next() {
                starts.push(after);
                vals.push(NONE);
            }
        }
        RangeMap::indexed(starts, vals)
    }

    fn indexed(mut starts: Vec<K>, mut vals: Vec<u32>) -> RangeMap<K> {
        starts.shrink_to_fit();
        vals.shrink_to_fit();
        let mut index = Vec::with_capacity(65_537);
        let mut pos = 0usize;
        for b in 0..65_536 {
            let bs = K::bucket_start(b);
            while pos < starts.len() && starts[pos] < bs {
                pos += 1;
            }
            index.push(pos as u32);
        }
        index.push(starts.len() as u32);
        RangeMap {
            starts,
            vals,
            index,
        }
    }

    /// The most specific prefix containing `key`, or [`NONE`].
    #[inline]
    pub fn get(&self, key: K) -> u32 {
        let b = key.top16();
        let lo = self.index[b] as usize;
        let hi = self.index[b + 1] as usize;
        // starts[0] is the zero address, so some range always starts at or before `key`.
        let pos = lo + self.starts[lo..hi].partition_point(|&s| s <= key);
        self.vals[pos - 1]
    }

    /// Number of elementary ranges (for the benchmark's memory figure).
    pub fn ranges(&self) -> usize {
        self.starts.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Brute force: the longest prefix containing `key`.
    fn oracle(prefixes: &[(u32, u8)], key: u32) -> u32 {
        prefixes
            .iter()
            .enumerate()
            .filter(|(_, &(n, l))| key.first(l) == n)
            .max_by_key(|(_, &(_, l))| l)
            .map_or(NONE, |(i, _)| i as u32)
    }

    /// Brute force: the longest prefix strictly containing prefix `i`.
    fn parent_oracle(prefixes: &[(u32, u8)], i: usize) -> u32 {
        let (n, l) = prefixes[i];
        prefixes
            .iter()
            .enumerate()
            .filter(|(_, &(pn, pl))| pl < l && n.first(pl) == pn)
            .max_by_key(|(_, &(_, pl))| pl)
            .map_or(NONE, |(j, _)| j as u32)
    }

    fn dedup(raw: Vec<(u32, u8)>) -> Vec<(u32, u8)> {
        let mut seen = std::collections::HashSet::new();
        raw.into_iter()
            .map(|(a, l)| (a.first(l), l))
            .filter(|p| seen.insert(*p))
            .collect()
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(400))]
        #[test]
        fn ipv4_matches_brute_force(
            // Few distinct high bits so prefixes nest and overlap often.
            raw in prop::collection::vec((0u32..16, any::<u32>(), 0u8..=32), 0..60),
            probes in prop::collection::vec((0u32..16, any::<u32>()), 200),
        ) {
            let prefixes = dedup(raw.into_iter().map(|(h, a, l)| ((h << 28) | (a >> 4), l)).collect());
            let built = RangeMap::build(&prefixes);
            for (h, a) in probes {
                let key = (h << 28) | (a >> 4);
                prop_assert_eq!(built.map.get(key), oracle(&prefixes, key), "key {:#x}", key);
            }
            // Every prefix boundary, where off-by-one errors live.
            for &(n, l) in &prefixes {
                for key in [n, n.last(l), n.wrapping_sub(1), n.last(l).wrapping_add(1)] {
                    prop_assert_eq!(built.map.get(key), oracle(&prefixes, key), "key {:#x}", key);
                }
            }
            for i in 0..prefixes.len() {
                prop_assert_eq!(built.parents[i], parent_oracle(&prefixes, i));
            }
        }

        #[test]
        fn ipv6_matches_brute_force(
            raw in prop::collection::vec((0u128..4, any::<u128>(), 0u8..=128), 0..40),
            probes in prop::collection::vec((0u128..4, any::<u128>()), 100),
        ) {
            let mut seen = std::collections::HashSet::new();
            let prefixes: Vec<(u128, u8)> = raw
                .into_iter()
                .map(|(h, a, l)| (((h << 126) | (a >> 2)).first(l), l))
                .filter(|p| seen.insert(*p))
                .collect();
            let built = RangeMap::build(&prefixes);
            let oracle6 = |key: u128| prefixes
                .iter()
                .enumerate()
                .filter(|(_, &(n, l))| key.first(l) == n)
                .max_by_key(|(_, &(_, l))| l)
                .map_or(NONE, |(i, _)| i as u32);
            for (h, a) in probes {
                let key = (h << 126) | (a >> 2);
                prop_assert_eq!(built.map.get(key), oracle6(key));
            }
            for &(n, l) in &prefixes {
                for key in [n, n.last(l), n.wrapping_sub(1), n.last(l).wrapping_add(1)] {
                    prop_assert_eq!(built.map.get(key), oracle6(key));
                }
            }
        }
    }

    #[test]
    fn default_route_and_host_routes() {
        let prefixes = vec![(0u32, 0u8), (u32::MAX, 32), (0, 32), (0x8000_0000, 1)];
        let built = RangeMap::build(&prefixes);
        assert_eq!(built.map.get(0), 2);
        assert_eq!(built.map.get(1), 0);
        assert_eq!(built.map.get(0x7fff_ffff), 0);
        assert_eq!(built.map.get(0x8000_0000), 3);
        assert_eq!(built.map.get(u32::MAX - 1), 3);
        assert_eq!(built.map.get(u32::MAX), 1);
        assert_eq!(built.parents, vec![NONE, 3, 0, 0]);
        let ranges = RangeMap::from_sorted_ranges([(0u32, 9, 0), (10, 10, 1), (20, u32::MAX, 2)]);
        let got: Vec<u32> = [0, 9, 10, 11, 19, 20, u32::MAX]
            .iter()
            .map(|&k| ranges.get(k))
            .collect();
        assert_eq!(got, [0, 0, 1, NONE, NONE, 2, 2]);
        let empty = RangeMap::<u32>::build(&[]);
        assert_eq!(empty.map.get(12345), NONE);
        assert_eq!(empty.map.ranges(), 1);
    }
}
