//! The addresses the node has handed out: one file per pod (`<uid>.json`: its address and
//! the pod CIDR it came from), written whole (temporary file, then rename), so a record that
//! exists is complete and survives the agent's restarts.

use std::collections::HashMap;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};

use ipnet::Ipv4Net;
use serde::{Deserialize, Serialize};

/// One pod's address.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    /// The pod's uid.
    pub uid: String,
    /// Its address.
    pub address: Ipv4Addr,
    /// The pod CIDR it came from (the prefix and gateway of the pod's interface).
    pub cidr: Ipv4Net,
}

/// The records, in memory and on disk.
pub struct Addresses {
    dir: PathBuf,
    held: HashMap<String, Record>,
}

impl Addresses {
    /// Reads the records under `dir` (made if missing); unreadable ones are removed.
    pub fn open(dir: &Path) -> Result<Addresses, String> {
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        let mut held = HashMap::new();
        let entries = std::fs::read_dir(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        for entry in entries.flatten() {
            let path = entry.path();
            let record = std::fs::read(&path)
                .ok()
                .and_then(|bytes| serde_json::from_slice::<Record>(&bytes).ok())
                .filter(|r| path.file_stem().and_then(|s| s.to_str()) == Some(r.uid.as_str()));
            match record {
                Some(record) => {
                    held.insert(record.uid.clone(), record);
                }
                None => {
                    tracing::warn!(path = %path.display(), "removing an unreadable address record");
                    let _ = std::fs::remove_file(&path);
                }
            }
        }
        Ok(Addresses {
            dir: dir.to_path_buf(),
            held,
        })
    }

    /// The record of pod `uid`.
    pub fn of(&self, uid: &str) -> Option<Record> {
        self.held.get(uid).cloned()
    }

    /// Every address held.
    pub fn in_use(&self) -> Vec<Ipv4Addr> {
        let mut addresses: Vec<Ipv4Addr> = self.held.values().map(|r| r.address).collect();
        addresses.sort();
        addresses
    }

    /// The pods holding one.
    pub fn uids(&self) -> Vec<String> {
        self.held.keys().cloned().collect()
    }

    /// Keeps `record`, on disk first.
    pub fn hold(&mut self, record: &Record) -> Result<(), String> {
        if record.uid.is_empty() || record.uid.contains(['/', '.']) {
            return Err(format!("pod uid {:?} cannot name a record", record.uid));
        }
        let path = self.path(&record.uid);
        let partial = path.with_extension("partial");
        let bytes = serde_json::to_vec(record).map_err(|e| e.to_string())?;
        std::fs::write(&partial, bytes)
            .and_then(|()| std::fs::rename(&partial, &path))
            .map_err(|e| format!("{}: {e}", path.display()))?;
        self.held.insert(record.uid.clone(), record.clone());
        Ok(())
    }

    /// Frees the address of pod `uid`.
    pub fn release(&mut self, uid: &str) {
        if self.held.remove(uid).is_some() {
            let path = self.path(uid);
            if let Err(e) = std::fs::remove_file(&path) {
                tracing::warn!(path = %path.display(), "cannot remove address record: {e}");
            }
        }
    }

    fn path(&self, uid: &str) -> PathBuf {
        self.dir.join(format!("{uid}.json"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(uid: &str, last: u8) -> Record {
        Record {
            uid: uid.into(),
            address: Ipv4Addr::new(10, 244, 0, last),
            cidr: "10.244.0.0/24".parse().unwrap_or_else(|e| panic!("{e}")),
        }
    }

    #[test]
    fn records_survive_a_reopen_and_released_ones_do_not() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let mut addresses = Addresses::open(dir.path()).unwrap_or_else(|e| panic!("{e}"));
        addresses
            .hold(&record("a", 2))
            .unwrap_or_else(|e| panic!("{e}"));
        addresses
            .hold(&record("b", 3))
            .unwrap_or_else(|e| panic!("{e}"));
        addresses.release("a");
        assert!(addresses.hold(&record("../x", 4)).is_err());
        std::fs::write(dir.path().join("junk.json"), "{").unwrap_or_else(|e| panic!("{e}"));
        let reopened = Addresses::open(dir.path()).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(reopened.of("b"), Some(record("b", 3)));
        assert_eq!(reopened.of("a"), None);
        assert_eq!(reopened.in_use(), vec![Ipv4Addr::new(10, 244, 0, 3)]);
        assert!(!dir.path().join("junk.json").exists());
    }
}
