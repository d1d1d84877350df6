//! [`Rows`]: a table the host syncs by index (nodes, placed pods), kept resident in the
//! plugin.

use super::PluginError;

/// A resident table of rows by index, as [`Scheduler::sync_nodes`](super::Scheduler::sync_nodes)
/// and [`Scheduler::sync_pods`](super::Scheduler::sync_pods) maintain it: upserts add or
/// replace the row at their index, removals leave a gap, and a lookup is one slice access.
///
/// `T` is what the plugin keeps of each record (a node's taints, a placed pod's parsed
/// affinity); [`Rows::sync`] builds it from the record.
#[derive(Debug, Clone)]
pub struct Rows<T> {
    /// What a row is, for error messages ("node", "placed pod").
    what: &'static str,
    rows: Vec<Option<T>>,
}

impl<T> Rows<T> {
    /// An empty table of `what`s (`"node"`, `"placed pod"`): the word names the index in
    /// [`Rows::get`]'s error.
    pub const fn new(what: &'static str) -> Rows<T> {
        Rows {
            what,
            rows: Vec::new(),
        }
    }

    /// Forgets the rows at `removed`, then keeps `make(record)` at `index(&record)` for each
    /// of `upserts`, replacing what was there. Indexes out of range are ignored for removal
    /// and grow the table for upserts.
    pub fn sync<R>(
        &mut self,
        upserts: Vec<R>,
        removed: Vec<u32>,
        index: impl Fn(&R) -> u32,
        mut make: impl FnMut(R) -> T,
    ) {
        for index in removed {
            if let Some(slot) = self.rows.get_mut(index as usize) {
                *slot = None;
            }
        }
        for record in upserts {
            let index = index(&record) as usize;
            if self.rows.len() <= index {
                self.rows.resize_with(index + 1, || None);
            }
            self.rows[index] = Some(make(record));
        }
    }

    /// The row at `index`; an index never synced (or removed since) is an error,
    /// "{what} index {index} was never synced".
    pub fn get(&self, index: u32) -> Result<&T, PluginError> {
        self.find(index).ok_or_else(|| self.unsynced(index))
    }

    /// The error for a lookup of `index`, kept out of line: formatting takes the index's
    /// address, which in WebAssembly would move it to the shadow stack in every caller's
    /// loop.
    #[cold]
    #[inline(never)]
    fn unsynced(&self, index: u32) -> PluginError {
        PluginError::new(format!("{} index {index} was never synced", self.what))
    }

    /// The row at `index`, if there is one.
    pub fn find(&self, index: u32) -> Option<&T> {
        self.rows.get(index as usize)?.as_ref()
    }

    /// Every row present, with its index, in index order.
    pub fn iter(&self) -> impl Iterator<Item = (u32, &T)> {
        // Indexes are u32, so the table never holds more than u32::MAX + 1 slots.
        (0u32..)
            .zip(&self.rows)
            .filter_map(|(index, row)| Some((index, row.as_ref()?)))
    }

    /// How many slots the table spans: one past the highest index it has held (rows and
    /// gaps alike). A `Vec` of this length can be indexed by any row's index.
    pub fn slots(&self) -> usize {
        self.rows.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table() -> Rows<String> {
        let mut rows = Rows::new("node");
        rows.sync(
            vec![(0, "a"), (3, "d")],
            Vec::new(),
            |&(index, _)| index,
            |(_, name)| name.to_string(),
        );
        rows
    }

    #[test]
    fn upserts_grow_and_replace() {
        let mut rows = table();
        assert_eq!(rows.slots(), 4);
        assert_eq!(rows.get(3).ok().map(String::as_str), Some("d"));
        rows.sync(vec![(3, "e")], Vec::new(), |r| r.0, |r| r.1.to_string());
        assert_eq!(rows.get(3).ok().map(String::as_str), Some("e"));
        let present: Vec<(u32, &str)> = rows.iter().map(|(i, r)| (i, r.as_str())).collect();
        assert_eq!(present, vec![(0, "a"), (3, "e")]);
    }

    #[test]
    fn gaps_and_removed_rows_are_errors() {
        let mut rows = table();
        let error = rows.get(1).expect_err("gap");
        assert_eq!(error.message, "node index 1 was never synced");
        assert!(rows.get(9).is_err() && rows.find(9).is_none());
        rows.sync(
            Vec::<(u32, &str)>::new(),
            vec![0, 42],
            |r| r.0,
            |r| r.1.to_string(),
        );
        assert!(rows.find(0).is_none());
        assert_eq!(rows.iter().count(), 1);
        assert_eq!(rows.slots(), 4);
    }

    #[test]
    fn removal_comes_before_upserts() {
        let mut rows: Rows<u32> = Rows::new("placed pod");
        rows.sync(vec![5u32], vec![5], |&i| i, |i| i * 10);
        assert_eq!(rows.get(5).ok(), Some(&50));
        rows.sync(Vec::new(), vec![5], |&i| i, |i| i);
        let error = rows.get(5).expect_err("removed");
        assert_eq!(error.message, "placed pod index 5 was never synced");
    }
}
