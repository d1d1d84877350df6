//! A table of rows by stable index that remembers its recent changes, so each plugin
//! instance's resident copy (of nodes, or of placed pods) is brought up to date with only
//! what changed since the generation it holds.

use std::collections::{BTreeSet, VecDeque};

use crate::plugin::SyncedTable;

/// Changes remembered; an instance further behind gets the whole table.
const LOG_LIMIT: usize = 65_536;

/// Rows by index, indexes reused after removal, with a bounded change log.
pub struct Table<R> {
    rows: Vec<Option<R>>,
    free: Vec<u32>,
    live: usize,
    generation: u64,
    /// The generation of each change and the index it touched, oldest first.
    log: VecDeque<(u64, u32)>,
    /// The oldest generation the log reaches back from.
    floor: u64,
}

impl<R> Default for Table<R> {
    fn default() -> Self {
        Table {
            rows: Vec::new(),
            free: Vec::new(),
            live: 0,
            generation: 0,
            log: VecDeque::new(),
            floor: 0,
        }
    }
}

impl<R> Table<R> {
    /// A free index for a new row (the row is stored with [`Table::set`]).
    pub fn allocate(&mut self) -> u32 {
        match self.free.pop() {
            Some(index) => index,
            None => {
                self.rows.push(None);
                // More than u32::MAX rows cannot be addressed by the contract anyway.
                u32::try_from(self.rows.len() - 1).unwrap_or(u32::MAX)
            }
        }
    }

    /// Stores `row` at `index`.
    pub fn set(&mut self, index: u32, row: R) {
        let Some(slot) = self.rows.get_mut(index as usize) else {
            return;
        };
        if slot.is_none() {
            self.live += 1;
        }
        *slot = Some(row);
        self.changed(index);
    }

    /// Stores `row` at `index`, growing the table: for a table whose indexes are another
    /// table's (usage by node index), which never allocates its own.
    pub fn put(&mut self, index: u32, row: R) {
        let slot = index as usize;
        if self.rows.len() <= slot {
            self.rows.resize_with(slot + 1, || None);
        }
        self.set(index, row);
    }

    /// Changes the row at `index` in place (nothing when there is none).
    pub fn update(&mut self, index: u32, change: impl FnOnce(&mut R)) {
        let Some(Some(row)) = self.rows.get_mut(index as usize) else {
            return;
        };
        change(row);
        self.changed(index);
    }

    /// Removes the row at `index` and frees the index.
    pub fn remove(&mut self, index: u32) -> Option<R> {
        let row = self.rows.get_mut(index as usize)?.take()?;
        self.live -= 1;
        self.free.push(index);
        self.changed(index);
        Some(row)
    }

    /// The row at `index`.
    pub fn get(&self, index: u32) -> Option<&R> {
        self.rows.get(index as usize)?.as_ref()
    }

    /// How many rows there are.
    pub fn len(&self) -> usize {
        self.live
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.live == 0
    }

    fn changed(&mut self, index: u32) {
        self.generation += 1;
        self.log.push_back((self.generation, index));
        if self.log.len() > LOG_LIMIT
            && let Some((generation, _)) = self.log.pop_front()
        {
            self.floor = generation;
        }
    }
}

impl<R: Clone + Sync> SyncedTable<R> for Table<R> {
    fn generation(&self) -> u64 {
        self.generation
    }

    fn changes_since(&self, generation: u64) -> Option<(Vec<R>, Vec<u32>)> {
        if generation < self.floor || generation > self.generation {
            return None;
        }
        let start = self.log.partition_point(|&(g, _)| g <= generation);
        let touched: BTreeSet<u32> = self.log.range(start..).map(|&(_, i)| i).collect();
        let mut upserts = Vec::new();
        let mut removed = Vec::new();
        for index in touched {
            match self.get(index) {
                Some(row) => upserts.push(row.clone()),
                None => removed.push(index),
            }
        }
        Some((upserts, removed))
    }

    fn all(&self) -> Vec<R> {
        self.rows.iter().flatten().cloned().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn changes_since_a_generation_are_the_touched_rows() {
        let mut table = Table::default();
        let a = table.allocate();
        table.set(a, "a");
        let b = table.allocate();
        table.set(b, "b");
        let held = table.generation();
        table.set(a, "a2");
        table.remove(b);
        let (upserts, removed) = table.changes_since(held).expect("in the log");
        assert_eq!(upserts, vec!["a2"]);
        assert_eq!(removed, vec![b]);
        assert_eq!(
            table.changes_since(table.generation()),
            Some((vec![], vec![]))
        );
        assert_eq!(table.changes_since(table.generation() + 1), None);
        // A freed index is reused, and shows as an upsert.
        let c = table.allocate();
        assert_eq!(c, b);
        table.set(c, "c");
        let (upserts, removed) = table.changes_since(held).expect("in the log");
        assert_eq!((upserts.len(), removed.len()), (2, 0));
        assert_eq!(table.len(), 2);
        assert_eq!(table.all(), vec!["a2", "c"]);
    }
}
