//! The one RocksDB database behind a node: column families for the Raft log,
//! Raft metadata (vote, committed, purged), the objects, and the state
//! machine's own metadata (last applied, membership, snapshot).

use std::path::Path;
use std::sync::Arc;

use rocksdb::{ColumnFamily, ColumnFamilyDescriptor, DB, Options};

/// Raft log entries, keyed by big-endian index so iteration is log order.
pub const CF_LOGS: &str = "logs";
/// Vote, committed and last-purged log ids.
pub const CF_RAFT_META: &str = "raft_meta";
/// Objects: `group/plural/namespace/name` -> revision (8 bytes BE) + JSON.
pub const CF_OBJECTS: &str = "objects";
/// Last applied log id, membership and the current snapshot.
pub const CF_SM_META: &str = "sm_meta";

/// Opens (or creates) the database with every column family.
pub fn open(dir: &Path) -> Result<Arc<DB>, rocksdb::Error> {
    let mut opts = Options::default();
    opts.create_if_missing(true);
    opts.create_missing_column_families(true);
    opts.increase_parallelism(2);
    let cfs = [CF_LOGS, CF_RAFT_META, CF_OBJECTS, CF_SM_META]
        .into_iter()
        .map(|name| ColumnFamilyDescriptor::new(name, Options::default()));
    Ok(Arc::new(DB::open_cf_descriptors(&opts, dir, cfs)?))
}

/// A column family handle; every one is created by [`open`].
pub fn cf<'a>(db: &'a DB, name: &str) -> &'a ColumnFamily {
    match db.cf_handle(name) {
        Some(cf) => cf,
        // `open` creates every family, so this is a programming error.
        None => {
            panic!("column family {name} missing: the database was not opened by store::db::open")
        }
    }
}

/// A log index as a key that sorts in log order.
pub fn index_key(index: u64) -> [u8; 8] {
    index.to_be_bytes()
}

/// The index in a log key.
pub fn key_index(key: &[u8]) -> Option<u64> {
    Some(u64::from_be_bytes(key.try_into().ok()?))
}
