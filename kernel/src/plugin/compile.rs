//! Compiling components, cached by content digest: in memory, and on disk under a
//! directory named for the wasmtime version and the engine's configuration, so a restart
//! (or a second host on the machine) loads machine code instead of compiling again.
//!
//! A cache file is `sha256(payload) || payload`; a file whose checksum does not match is
//! compiled again and rewritten, so a torn or corrupted file is never loaded.

use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError};

use sha2::{Digest as _, Sha256};
use wasmtime::Engine;
use wasmtime::component::Component;

use super::error::LoadError;

/// Compiled components kept in memory; beyond this many the oldest are dropped.
const MEMORY_ENTRIES: usize = 64;

/// The content digest of a module: `sha256:<hex>`.
pub fn digest(bytes: &[u8]) -> String {
    format!("sha256:{}", hex(&Sha256::digest(bytes)))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The compiled-component cache.
pub struct CompileCache {
    dir: Option<PathBuf>,
    /// By file key; a component belongs to the engine that made it, so lookups also
    /// match the engine (engines that differ only in stack limit share files on disk).
    memory: Mutex<Vec<(String, Component)>>,
}

impl CompileCache {
    /// A cache in memory, and on disk under `dir` when given.
    pub fn new(dir: Option<PathBuf>) -> CompileCache {
        CompileCache {
            dir,
            memory: Mutex::new(Vec::new()),
        }
    }

    /// The component for `bytes` (whose digest is `digest`) on `engine`.
    pub fn component(
        &self,
        engine: &Engine,
        digest: &str,
        bytes: &[u8],
    ) -> Result<Component, LoadError> {
        let engine_key = engine_key(engine);
        let key = format!("{engine_key}/{digest}");
        let mut memory = self.memory.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some((_, component)) = memory
            .iter()
            .find(|(k, c)| *k == key && Engine::same(c.engine(), engine))
        {
            return Ok(component.clone());
        }
        drop(memory);
        let file = self.dir.as_ref().map(|dir| {
            dir.join(&engine_key)
                .join(format!("{}.cwasm", digest.replace(':', "-")))
        });
        let component = match file.as_deref().and_then(|f| load_file(engine, f)) {
            Some(component) => component,
            None => {
                let component = Component::new(engine, bytes)
                    .map_err(|e| LoadError::Compile(format!("{e:#}")))?;
                if let Some(file) = &file
                    && let Err(e) = store_file(&component, file)
                {
                    tracing::warn!("cannot cache compiled plugin at {}: {e:#}", file.display());
                }
                component
            }
        };
        memory = self.memory.lock().unwrap_or_else(PoisonError::into_inner);
        if memory.len() >= MEMORY_ENTRIES {
            memory.remove(0);
        }
        memory.push((key, component.clone()));
        Ok(component)
    }
}

/// Names the engine's compatibility: the wasmtime version and everything in its
/// configuration that changes machine code.
fn engine_key(engine: &Engine) -> String {
    struct Sha(Sha256);
    impl Hasher for Sha {
        fn write(&mut self, bytes: &[u8]) {
            self.0.update(bytes);
        }
        fn finish(&self) -> u64 {
            0
        }
    }
    let mut hasher = Sha(Sha256::new());
    engine.precompile_compatibility_hash().hash(&mut hasher);
    let hash = hex(&hasher.0.finalize()[..12]);
    format!("wasmtime-{}-{hash}", wasmtime_version())
}

fn wasmtime_version() -> &'static str {
    // The crate's version is part of every serialized artifact's header as well; naming it
    // keeps artifacts of different versions in different directories.
    "48"
}

fn load_file(engine: &Engine, file: &Path) -> Option<Component> {
    let data = std::fs::read(file).ok()?;
    let (sum, payload) = data.split_at_checked(32)?;
    if Sha256::digest(payload).as_slice() != sum {
        tracing::warn!(
            "compiled plugin cache file {} is corrupt; compiling again",
            file.display()
        );
        return None;
    }
    // SAFETY: the payload is what `Component::serialize` wrote into the host's own cache
    // directory (inside its data directory, trusted as the store's files are), and its
    // checksum matches, so it is not torn or corrupted. wasmtime checks its header against
    // this engine's version and configuration and refuses a mismatch.
    #[allow(unsafe_code)]
    let component = unsafe { Component::deserialize(engine, payload) };
    component
        .map_err(|e| {
            tracing::info!(
                "compiled plugin cache file {} not usable: {e:#}",
                file.display()
            )
        })
        .ok()
}

fn store_file(component: &Component, file: &Path) -> anyhow::Result<()> {
    let payload = component.serialize()?;
    let dir = file
        .parent()
        .ok_or_else(|| anyhow::anyhow!("no parent directory"))?;
    std::fs::create_dir_all(dir)?;
    let mut data = Vec::with_capacity(32 + payload.len());
    data.extend_from_slice(&Sha256::digest(&payload));
    data.extend_from_slice(&payload);
    let tmp = file.with_extension(format!("tmp{}", std::process::id()));
    std::fs::write(&tmp, &data)?;
    std::fs::rename(&tmp, file)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digest_is_sha256_hex() {
        assert_eq!(
            digest(b"abc"),
            "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn engines_share_files_but_not_components() {
        use super::super::engine::{EngineKey, config};
        let engine = |stack_bytes, metered| {
            Engine::new(&config(EngineKey {
                stack_bytes,
                metered,
            }))
            .unwrap_or_else(|e| panic!("{e}"))
        };
        let (a, b) = (engine(512 << 10, true), engine(1 << 20, true));
        let key = engine_key(&a);
        assert!(key.starts_with("wasmtime-48-"), "{key}");
        assert_eq!(
            key,
            engine_key(&b),
            "the stack limit does not change machine code"
        );
        assert_ne!(
            key,
            engine_key(&engine(512 << 10, false)),
            "fuel metering does"
        );

        let cache = CompileCache::new(None);
        let empty = b"\0asm\x0d\0\x01\0";
        let from_a = cache
            .component(&a, &digest(empty), empty)
            .unwrap_or_else(|e| panic!("{e}"));
        let from_b = cache
            .component(&b, &digest(empty), empty)
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(Engine::same(from_a.engine(), &a) && Engine::same(from_b.engine(), &b));
    }
}
