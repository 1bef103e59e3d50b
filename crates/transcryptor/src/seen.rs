//! Ciphertexts already counted against a partner's daily quota.
//!
//! A node converts the same stored ciphertexts again whenever a later step fails (another
//! transcryptor or the coordinator unreachable); counting them each time would drain a partner's
//! quota during someone else's outage. A ciphertext is counted once per 24 hours per partner and
//! purpose. The key is a hash of the whole ciphertext under a per-process random key, so a
//! caller can neither learn nor aim collisions; keeping the same `B` with another `C` is another
//! ciphertext and counts again. Memory is bounded: past [`MAX_ENTRIES`] the oldest are
//! forgotten (and would count again).

use std::collections::hash_map::RandomState;
use std::collections::{HashMap, HashSet, VecDeque};
use std::hash::BuildHasher;
use std::sync::Mutex;

const WINDOW: i64 = 24 * 3600;
/// About 40 MB at most (a hash map entry and a queue entry, ~40 bytes each).
pub const MAX_ENTRIES: usize = 1_000_000;

#[derive(Debug, Default)]
struct Entries {
    at: HashMap<u64, i64>,
    order: VecDeque<(i64, u64)>,
}

#[derive(Debug)]
pub struct Seen {
    hasher: RandomState,
    entries: Mutex<Entries>,
}

impl Default for Seen {
    fn default() -> Self {
        Self {
            hasher: RandomState::new(),
            entries: Mutex::new(Entries::default()),
        }
    }
}

impl Seen {
    fn key(&self, partner: &str, purpose: &str, ciphertext: &[u8]) -> u64 {
        self.hasher.hash_one((partner, purpose, ciphertext))
    }

    /// Of `items` (purpose, ciphertext), those not counted for `partner` in the last 24 hours,
    /// each once; nothing is recorded (see [`Seen::record`]).
    pub fn fresh<'a>(
        &self,
        partner: &str,
        items: impl Iterator<Item = (&'a str, &'a [u8])>,
        now: i64,
    ) -> Vec<(&'a str, u64)> {
        let Ok(mut entries) = self.entries.lock() else {
            return items
                .map(|(purpose, c)| (purpose, self.key(partner, purpose, c)))
                .collect();
        };
        entries.prune(now);
        let mut in_batch = HashSet::new();
        items
            .map(|(purpose, c)| (purpose, self.key(partner, purpose, c)))
            .filter(|(_, key)| !entries.at.contains_key(key) && in_batch.insert(*key))
            .collect()
    }

    /// Records keys from [`Seen::fresh`] once their quota was taken.
    pub fn record(&self, keys: impl Iterator<Item = u64>, now: i64) {
        let Ok(mut entries) = self.entries.lock() else {
            return;
        };
        for key in keys {
            entries.at.insert(key, now);
            entries.order.push_back((now, key));
        }
        while entries.order.len() > MAX_ENTRIES {
            entries.pop_oldest();
        }
    }
}

impl Entries {
    fn prune(&mut self, now: i64) {
        while self
            .order
            .front()
            .is_some_and(|(at, _)| *at <= now - WINDOW)
        {
            self.pop_oldest();
        }
    }

    fn pop_oldest(&mut self) {
        if let Some((at, key)) = self.order.pop_front() {
            if self.at.get(&key) == Some(&at) {
                self.at.remove(&key);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_ciphertext_counts_once_a_day_per_partner_and_purpose() {
        let seen = Seen::default();
        let a: &[u8] = b"ciphertext a";
        let b: &[u8] = b"ciphertext b";
        let batch = [("p", a), ("p", a), ("p", b), ("q", a)];
        let fresh = seen.fresh("gemeente", batch.iter().copied(), 1000);
        assert_eq!(fresh.len(), 3, "a twice in one batch counts once");
        // Not recorded yet: a refused batch counts in full when tried again.
        assert_eq!(seen.fresh("gemeente", batch.iter().copied(), 1000).len(), 3);
        seen.record(fresh.iter().map(|(_, k)| *k), 1000);
        assert!(seen
            .fresh("gemeente", batch.iter().copied(), 2000)
            .is_empty());
        assert_eq!(seen.fresh("nla", batch.iter().copied(), 2000).len(), 3);
        // A day later it counts again.
        assert_eq!(
            seen.fresh("gemeente", batch.iter().copied(), 1000 + WINDOW)
                .len(),
            3
        );
    }
}
