//! The cell-key method (the Australian Bureau of Statistics' TableBuilder, the ONS's census
//! tables; `docs/monitor.md`), with primary suppression of small cells. Pure: no I/O.
//!
//! - Every record counted has a fixed, secret key, uniform in `0..2^32`; a cell's key is the
//!   sum of its records' keys (mod 2^32), so it is uniform too and depends only on the *set*
//!   of records in the cell, not on the query, the table, the caller or the time asked.
//! - A published count is the true count plus noise in `-bound..=bound`, drawn from a fixed
//!   symmetric distribution (weights `bound + 1 - |d|`, mean 0) by the cell key. Asking again,
//!   in another table, or by another purpose that counts the same records gives the same noise,
//!   so averaging repeated answers gains nothing; a different set of records gets an
//!   unrelated draw, so a difference of one record is lost in noise of up to `2 * bound`.
//! - A cell with fewer than `min` records, or (for a caller that contributes signals itself)
//!   fewer than `min` records that are not only the caller's, is suppressed: nothing about it
//!   is published but that it is small. A total is a cell of its own, perturbed independently,
//!   so the total less the published cells is the suppressed cells' sum only within
//!   `(published + 1) * bound`.

use std::collections::BTreeMap;

/// What is known of one cell while counting.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Cell {
    /// Records in the cell.
    pub records: u32,
    /// Records in the cell with a signal of a partner other than the caller.
    pub others: u32,
    /// The cell key: the sum of the records' keys, mod 2^32.
    pub key: u32,
}

impl Cell {
    /// Counts one record with key `key`; `other` when it holds a signal not of the caller.
    pub fn add(&mut self, key: u32, other: bool) {
        self.records = self.records.saturating_add(1);
        self.others = self.others.saturating_add(u32::from(other));
        self.key = self.key.wrapping_add(key);
    }
}

/// A cell as it is published.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Published {
    /// The true count plus noise within the bound.
    Perturbed(u32),
    /// Too small (for this caller) to publish.
    Suppressed,
}

/// How a cell is published under a minimum cell size `min` and noise bound `bound`.
pub fn publish(cell: &Cell, min: u32, bound: u32) -> Published {
    if cell.records < min || cell.others < min {
        return Published::Suppressed;
    }
    let noisy = i64::from(cell.records) + noise(cell.key, bound);
    Published::Perturbed(u32::try_from(noisy.max(0)).unwrap_or(u32::MAX))
}

/// The noise for cell key `key`: `d` in `-bound..=bound` with probability proportional to
/// `bound + 1 - |d|` (a discrete triangle: mean 0, variance `bound * (bound + 2) / 6`), found
/// by the key's position in the cumulative weights. Exact integer arithmetic: a uniform key
/// gives exactly these probabilities, up to the 2^32 grid.
pub fn noise(key: u32, bound: u32) -> i64 {
    let bound = i64::from(bound);
    let total = (bound + 1) * (bound + 1);
    // The key's place in 0..total, uniform when the key is.
    let position = (i64::from(key) * total) >> 32;
    let mut below = 0;
    for d in -bound..=bound {
        below += bound + 1 - d.abs();
        if position < below {
            return d;
        }
    }
    bound
}

/// Counts records into cells: `records` yields, per record, its key, whether it holds a signal
/// of a partner other than the caller, and the cells it is in (each counted once per record).
pub fn tabulate<K: Ord + Clone>(
    records: impl IntoIterator<Item = (u32, bool, Vec<K>)>,
) -> (BTreeMap<K, Cell>, Cell) {
    let mut cells: BTreeMap<K, Cell> = BTreeMap::new();
    let mut total = Cell::default();
    for (key, other, mut in_cells) in records {
        in_cells.sort();
        in_cells.dedup();
        if in_cells.is_empty() {
            continue;
        }
        total.add(key, other);
        for cell in in_cells {
            cells.entry(cell).or_default().add(key, other);
        }
    }
    (cells, total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn noise_stays_within_its_bound_and_is_symmetric_with_the_stated_weights() {
        for bound in 1..=5u32 {
            let mut seen: BTreeMap<i64, u64> = BTreeMap::new();
            // An even grid over the key space stands for a uniform key.
            let steps = 1u64 << 16;
            for i in 0..steps {
                let key = u32::try_from((i << 32) / steps).unwrap();
                *seen.entry(noise(key, bound)).or_default() += 1;
            }
            let b = i64::from(bound);
            assert_eq!(
                seen.keys().copied().collect::<Vec<_>>(),
                (-b..=b).collect::<Vec<_>>()
            );
            let total = u64::try_from((b + 1) * (b + 1)).unwrap();
            for (d, n) in &seen {
                let weight = u64::try_from(b + 1 - d.abs()).unwrap();
                let expected = steps * weight / total;
                assert!(
                    n.abs_diff(expected) <= 1,
                    "bound {bound}, noise {d}: {n} vs {expected}"
                );
            }
        }
    }

    #[test]
    fn the_same_records_get_the_same_noise_in_any_order_and_any_table() {
        let keys = [17u32, 4_000_000_000, 99, 123_456_789];
        let one = tabulate(keys.iter().map(|k| (*k, true, vec!["a"])));
        let other = tabulate(keys.iter().rev().map(|k| (*k, true, vec!["a", "b"])));
        assert_eq!(one.0["a"], other.0["a"]);
        assert_eq!(one.1, other.1);
        assert_eq!(other.0["a"], other.0["b"]);
    }

    #[test]
    fn a_cell_is_suppressed_below_the_minimum_also_when_only_the_caller_makes_it_large() {
        let mut cell = Cell::default();
        for k in 0..9u32 {
            cell.add(k.wrapping_mul(2_654_435_761), true);
        }
        assert_eq!(publish(&cell, 10, 2), Published::Suppressed);
        // The caller pads the cell with its own records: still suppressed for the caller.
        let mut padded = cell;
        for k in 0..5u32 {
            padded.add(k, false);
        }
        assert_eq!(padded.records, 14);
        assert_eq!(publish(&padded, 10, 2), Published::Suppressed);
        cell.add(7, true);
        match publish(&cell, 10, 2) {
            Published::Perturbed(n) => assert!((8..=12).contains(&n), "{n}"),
            Published::Suppressed => panic!("ten records of others are published"),
        }
    }
}
